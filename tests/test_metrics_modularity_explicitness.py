"""Modularity and explicitness: formulas by hand, known answers, collapsed codes, invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import modularity_explicitness as me
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)


def score(kind, **kwargs):
    return metrics.compute("modularity_explicitness", IdentityObservations(SIZES),
                           SyntheticRepresentation(SIZES, kind, **kwargs), np.random.RandomState(0),
                           num_train=2000, num_test=1000, n_jobs=1)


def test_modularity_by_hand():
    assert me.modularity(np.eye(3)) == pytest.approx(1.0)
    assert me.modularity(np.ones((2, 3))) == pytest.approx(0.0)
    # Code with MI (2, 1, 0): delta = 1 / (4 * 2); an uninformative code scores 0.
    assert me.modularity(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])) == pytest.approx((1 - 1 / 8) / 2)
    assert me.modularity(np.array([[0.5], [0.0]])) == pytest.approx(0.5)  # single factor


def test_disentangled_top_rotated_less_modular_but_explicit_noise_chance():
    disentangled, rotated, noise = score("disentangled"), score("rotated"), score("noise")
    assert set(disentangled) == {"modularity_score", "explicitness_score_train", "explicitness_score_test"}
    assert disentangled["modularity_score"] > 0.85
    assert disentangled["explicitness_score_test"] > 0.99
    assert rotated["modularity_score"] < disentangled["modularity_score"] - 0.08
    assert rotated["explicitness_score_test"] > 0.99  # linear decodability survives a rotation
    assert abs(noise["explicitness_score_test"] - 0.5) < 0.05


def test_collapsed_codes_do_not_crash_or_nan():
    result = score("disentangled", constant_dims=2)
    assert all(np.isfinite(value) for value in result.values())
    assert result["explicitness_score_test"] > 0.99


def test_missing_test_class_and_constant_factor_are_handled():
    rs = np.random.RandomState(0)
    factors_train = np.stack([rs.randint(3, size=300), np.zeros(300, int)], axis=1)
    factors_test = np.stack([rs.randint(2, size=100), np.zeros(100, int)], axis=1)  # class 2 absent
    codes_train = factors_train[:, :1] + rs.randn(300, 1) * 0.1
    codes_test = factors_test[:, :1] + rs.randn(100, 1) * 0.1
    train, test = me.explicitness(codes_train, factors_train, codes_test, factors_test, n_jobs=1)
    assert train > 0.95 and test > 0.95


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.4)
    permuted = score("mixed", mixing=0.4, permutation=[5, 3, 1, 0, 2, 4])
    flipped = score("mixed", mixing=0.4, signs=[1, -1, -1, 1, -1, 1])
    for key in base:
        assert permuted[key] == pytest.approx(base[key], abs=1e-3), key
        assert flipped[key] == pytest.approx(base[key], abs=1e-3), key
