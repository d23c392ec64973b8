"""MIG: formula by hand, known answers, degenerate inputs and invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import mig
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)


def score(kind, **kwargs):
    return metrics.compute("mig", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(0), num_train=3000)["discrete_mig"]


def test_gap_by_hand():
    mutual_information = np.array([[1.0, 0.0], [0.2, 0.5], [0.0, 0.1]])
    assert mig.mutual_information_gap(mutual_information, np.array([1.0, 2.0])) == pytest.approx((0.8 + 0.2) / 2)
    # A zero-entropy factor is left out instead of turning the score into NaN.
    assert mig.mutual_information_gap(mutual_information, np.array([1.0, 0.0])) == pytest.approx(0.8)
    assert mig.mutual_information_gap(np.array([[0.3, 0.6]]), np.array([0.6, 0.6])) == pytest.approx(0.75)


def test_disentangled_code_scores_top_rotation_low_noise_zero():
    assert score("disentangled") > 0.95
    assert score("rotated") < 0.15
    assert score("noise") < 0.03


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.5)
    assert score("mixed", mixing=0.5, permutation=[5, 4, 3, 2, 1, 0]) == pytest.approx(base, abs=1e-12)
    assert score("mixed", mixing=0.5, signs=[-1, -1, 1, -1, 1, -1]) == pytest.approx(base, abs=1e-3)


def test_constant_dimensions_are_harmless():
    result = score("disentangled", constant_dims=2)
    assert np.isfinite(result) and result > 0.95
