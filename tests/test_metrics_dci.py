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


@pytest.mark.parametrize("num_classes", [2, 4])
def test_hist_booster_reproduces_sklearn_gbt_on_a_value_grid(num_classes):
    from sklearn.ensemble import GradientBoostingClassifier

    from tfdisent.metrics.boosting import HistogramGradientBoosting

    rs = np.random.RandomState(0)
    labels = rs.randint(num_classes, size=600)
    # Fewer than 255 distinct values per feature: the bins hold single values, as sklearn sees them.
    features = np.stack([labels + rs.randint(3, size=600), rs.randint(20, size=600),
                         2 * labels + rs.randint(5, size=600)], axis=1).astype(float)
    reference = GradientBoostingClassifier(random_state=0).fit(features, labels)
    fast = HistogramGradientBoosting().fit(features, labels)
    np.testing.assert_allclose(fast.feature_importances_, reference.feature_importances_, atol=2e-3)
    assert np.mean(fast.predict(features) == reference.predict(features)) > 0.99


def test_fast_backend_stays_close_and_parallel_matches_sequential():
    faithful = score("mixed", mixing=0.4)
    fast = score("mixed", mixing=0.4, backend="hist")
    for key in faithful:
        assert fast[key] == pytest.approx(faithful[key], abs=0.03), key
    assert score("mixed", mixing=0.4, n_jobs=2) == faithful
    with pytest.raises(metrics.MetricError, match="backend"):
        score("mixed", backend="xgboost")


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
