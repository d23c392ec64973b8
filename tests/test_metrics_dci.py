"""DCI: importance-matrix formulas by hand, known answers, backends and invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import dci
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (3, 4, 5)
FAST = {"num_train": 400, "num_test": 300, "n_jobs": 1}


def score(kind, **overrides):
    kwargs = {key: overrides.pop(key) for key in ("permutation", "signs", "constant_dims", "mixing")
              if key in overrides}
    return metrics.compute("dci", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(0), **{**FAST, **overrides})


def test_scores_of_importance_matrices_by_hand():
    identity = np.eye(3)
    assert dci.disentanglement(identity) == pytest.approx(1.0, abs=1e-6)
    assert dci.completeness(identity) == pytest.approx(1.0, abs=1e-6)
    assert dci.disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    assert dci.completeness(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-9)
    # One code explains every factor: not disentangled, but complete.
    one_code = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    assert dci.disentanglement(one_code) == pytest.approx(0.0, abs=1e-6)
    assert dci.completeness(one_code) == pytest.approx(1.0, abs=1e-6)
    # Noise codes without importance do not lower disentanglement (they carry no weight).
    assert dci.disentanglement(np.vstack([identity, np.zeros((2, 3))])) == pytest.approx(1.0, abs=1e-6)
    assert dci.disentanglement(np.zeros((3, 3))) == pytest.approx(0.0, abs=1e-9)
    assert dci.disentanglement(np.array([[0.4], [0.6]])) == 1.0  # single factor


def test_disentangled_top_rotated_low_but_informative_noise_chance():
    disentangled, rotated, noise = score("disentangled"), score("rotated"), score("noise")
    assert set(disentangled) == {"disentanglement", "completeness", "informativeness_train", "informativeness_test"}
    assert disentangled["disentanglement"] > 0.95 and disentangled["completeness"] > 0.95
    assert disentangled["informativeness_test"] > 0.98
    assert rotated["disentanglement"] < 0.4 and rotated["completeness"] < 0.4
    assert rotated["informativeness_test"] > 0.6
    chance = np.mean([1 / size for size in SIZES])
    assert noise["informativeness_test"] < chance + 0.1
    assert noise["disentanglement"] < 0.1


@pytest.mark.parametrize("kind", ["disentangled", "rotated", "noise"])
def test_exact_backend_equals_sklearn_backend_within_0_01(kind):
    exact = score(kind)  # the default backend
    reference = score(kind, backend="sklearn")
    assert set(exact) == set(reference)
    for key in reference:
        assert exact[key] == pytest.approx(reference[key], abs=0.01), key


def test_binary_and_single_class_factors_as_the_sklearn_backend():
    rs = np.random.RandomState(0)
    factors = np.stack([rs.randint(2, size=500), np.zeros(500, int), rs.randint(4, size=500)], axis=1)
    codes = np.concatenate([factors + 0.3 * rs.randn(500, 3), rs.randn(500, 2)], axis=1)
    exact = dci.importance_matrix_gbt(codes[:300], factors[:300], codes[300:], factors[300:], "exact", 1)
    reference = dci.importance_matrix_gbt(codes[:300], factors[:300], codes[300:], factors[300:], "sklearn", 1)
    # The single-class factor gets a constant classifier: no importance, perfect accuracy.
    np.testing.assert_array_equal(exact[0][:, 1], 0.0)
    assert exact[1][1] == exact[2][1] == 1.0
    for ours, theirs in zip(exact, reference):
        np.testing.assert_allclose(ours, theirs, atol=0.01)
    assert np.argmax(exact[0][:, 0]) == 0 and np.argmax(exact[0][:, 2]) == 2


def test_parallel_matches_sequential_and_unknown_backend_is_refused():
    assert score("mixed", mixing=0.4, n_jobs=2) == score("mixed", mixing=0.4)
    with pytest.raises(metrics.MetricError, match="backend"):
        score("mixed", backend="hist")


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.4)
    permuted = score("mixed", mixing=0.4, permutation=[4, 2, 0, 1, 3])
    flipped = score("mixed", mixing=0.4, signs=[-1, 1, -1, 1, -1])
    for key in base:
        assert permuted[key] == pytest.approx(base[key], abs=0.03), key
        assert flipped[key] == pytest.approx(base[key], abs=0.03), key


def test_constant_dimensions_and_constant_factor_do_not_crash():
    result = score("disentangled", constant_dims=2)
    assert all(np.isfinite(value) for value in result.values())
    assert result["disentanglement"] > 0.95
    codes = np.random.RandomState(0).randn(60, 3)
    factors = np.stack([np.zeros(60, int), np.arange(60) % 2], axis=1)
    result = dci.dci_from_codes(codes, factors, codes, factors, n_jobs=1)
    assert all(np.isfinite(value) for value in result.values())
