"""SAP: top-two gap by hand, continuous branch, known answers and invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import sap
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (2, 2, 3)  # a 1-D linear classifier separates few classes; SAP is low for many-valued factors


def score(kind, **kwargs):
    return metrics.compute("sap", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(0), num_train=1000, num_test=500, n_jobs=1)["SAP_score"]


def test_top_two_gap_by_hand():
    matrix = np.array([[0.9, 0.1], [0.2, 0.7], [0.3, 0.6]])
    assert sap.average_top_two_gap(matrix) == pytest.approx((0.6 + 0.1) / 2)
    assert sap.average_top_two_gap(np.array([[0.5, 0.25]])) == pytest.approx(0.375)


def test_continuous_branch_is_squared_correlation():
    rs = np.random.RandomState(0)
    factors = rs.randn(2000, 2)
    codes = np.stack([2 * factors[:, 0], factors[:, 1] + rs.randn(2000), np.zeros(2000)], axis=1)
    matrix = sap.sap_score_matrix(codes, factors, codes, factors, continuous_factors=True)
    assert matrix[0, 0] == pytest.approx(1.0)
    assert matrix[1, 1] == pytest.approx(0.5, abs=0.05)
    assert matrix[2].tolist() == [0.0, 0.0]  # constant code scores 0


def test_disentangled_code_scores_high_rotation_and_noise_low():
    disentangled = score("disentangled")
    assert disentangled > 0.4
    assert score("rotated") < disentangled - 0.25
    assert score("noise") < 0.05


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.3)
    assert score("mixed", mixing=0.3, permutation=[4, 3, 2, 1, 0]) == pytest.approx(base, abs=1e-9)
    assert score("mixed", mixing=0.3, signs=[-1, 1, -1, -1, 1]) == pytest.approx(base, abs=0.02)
