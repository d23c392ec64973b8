"""Unsupervised scores: Gaussian formulas against direct computations, known answers, collapsed codes."""

import numpy as np
import pytest
import scipy.linalg

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import unsupervised
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)


def score(kind, **kwargs):
    return metrics.compute("unsupervised", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(0), num_train=3000)


def random_covariance(dim, seed=0):
    a = np.random.RandomState(seed).randn(dim, dim)
    return a @ a.T + 0.1 * np.eye(dim)


def test_total_correlation_is_the_kl_to_the_product_of_marginals():
    covariance = random_covariance(4)
    marginals = np.diag(np.diag(covariance))
    kl = 0.5 * (np.trace(np.linalg.inv(marginals) @ covariance) - 4
                + np.log(np.linalg.det(marginals) / np.linalg.det(covariance)))
    assert unsupervised.gaussian_total_correlation(covariance) == pytest.approx(kl)
    assert unsupervised.gaussian_total_correlation(np.diag([1.0, 2.0, 3.0])) == pytest.approx(0.0)


def test_wasserstein_correlation_matches_the_reference_sqrtm_form():
    covariance = random_covariance(5, seed=1)
    root = scipy.linalg.sqrtm(covariance * np.diag(covariance)[:, None])
    expected = 2 * np.trace(covariance) - 2 * np.trace(root).real
    assert unsupervised.gaussian_wasserstein_correlation(covariance) == pytest.approx(expected, rel=1e-8)
    assert unsupervised.gaussian_wasserstein_correlation(np.diag([1.0, 4.0])) == pytest.approx(0.0, abs=1e-12)


def test_independent_codes_score_zero_correlated_codes_positive():
    independent, mixed = score("disentangled"), score("mixed", mixing=0.5)
    assert set(independent) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    assert independent["gaussian_total_correlation"] < 0.02
    assert independent["gaussian_wasserstein_correlation_norm"] < 0.01
    assert mixed["gaussian_total_correlation"] > 1.0
    assert mixed["gaussian_wasserstein_correlation_norm"] > 0.1
    assert score("rotated")["mutual_info_score"] > independent["mutual_info_score"] + 0.02


def test_constant_codes_give_finite_scores():
    with_constant = score("mixed", mixing=0.5, constant_dims=2)
    without = score("mixed", mixing=0.5)
    assert all(np.isfinite(value) for value in with_constant.values())
    assert with_constant["gaussian_total_correlation"] == pytest.approx(without["gaussian_total_correlation"])
    single = unsupervised.unsupervised_from_codes(np.random.RandomState(0).randn(100, 1))
    assert single["mutual_info_score"] == 0.0 and single["gaussian_total_correlation"] == 0.0


def test_covariance_scores_invariant_to_permuting_and_flipping():
    base = score("mixed", mixing=0.5)
    for variant in (score("mixed", mixing=0.5, permutation=[5, 4, 0, 1, 2, 3]),
                    score("mixed", mixing=0.5, signs=[-1, 1, -1, 1, 1, -1])):
        for key in ("gaussian_total_correlation", "gaussian_wasserstein_correlation",
                    "gaussian_wasserstein_correlation_norm"):
            assert variant[key] == pytest.approx(base[key], rel=1e-9), key
        assert variant["mutual_info_score"] == pytest.approx(base["mutual_info_score"], abs=1e-3)
