"""Known-answer tests of the estimators and closed forms behind the objectives."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdisent.methods.estimators import (covariance, dip_covariance, dip_penalties, mmd, permute_dims,
                                         total_correlation)
from tfdisent.methods.schedules import CapacitySchedule
from tfdisent.models import distributions

tfd = tfp.distributions


def _gaussian_tc(cov):
    return 0.5 * (np.log(np.diag(cov)).sum() - np.linalg.slogdet(cov)[1])


def _aggregate_posterior_sample(rs, mean_cov, batch):
    """Posterior means ~ N(0, mean_cov), unit posterior variance: q(z) = N(0, mean_cov + I)."""
    dim = len(mean_cov)
    mean = rs.multivariate_normal(np.zeros(dim), mean_cov, size=batch).astype(np.float32)
    logvar = np.zeros_like(mean)
    z = (mean + rs.randn(batch, dim)).astype(np.float32)
    return z, mean, logvar


def test_kl_per_dim_matches_tfp_closed_form():
    rs = np.random.RandomState(0)
    mean = rs.randn(5, 4).astype(np.float32)
    logvar = rs.randn(5, 4).astype(np.float32)
    ours = tf.reduce_sum(distributions.kl_divergence_per_dim(mean, logvar), axis=1)
    reference = tfd.kl_divergence(distributions.posterior(mean, logvar), distributions.standard_normal_prior(4))
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)
    # And by hand for one entry: 0.5 (mu^2 + s^2 - log s^2 - 1).
    expected = 0.5 * (mean[0, 0] ** 2 + math.exp(logvar[0, 0]) - logvar[0, 0] - 1)
    assert distributions.kl_divergence_per_dim(mean, logvar).numpy()[0, 0] == pytest.approx(expected, rel=1e-5)


def test_gaussian_log_density_matches_tfp():
    z, mean, logvar = np.float32(0.3), np.float32(-0.2), np.float32(0.7)
    expected = tfd.Normal(mean, math.exp(0.5 * logvar)).log_prob(z).numpy()
    assert distributions.gaussian_log_density(z, mean, logvar).numpy() == pytest.approx(expected, rel=1e-5)


def test_reconstruction_losses_match_disentanglement_lib():
    rs = np.random.RandomState(1)
    x = rs.rand(3, 8, 8, 1).astype(np.float32)
    logits = rs.randn(3, 8, 8, 1).astype(np.float32)
    bernoulli = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), [1, 2, 3])
    np.testing.assert_allclose(distributions.reconstruction_loss(x, logits, "bernoulli"), bernoulli, rtol=1e-5)
    l2 = np.sum((x - 1 / (1 + np.exp(-logits))) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(distributions.reconstruction_loss(x, logits, "gaussian"), l2, rtol=1e-4)


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_stratified_tc_matches_gaussian_total_correlation(rho):
    rs = np.random.RandomState(2)
    mean_cov = 4.0 * np.array([[1, rho, 0], [rho, 1, 0], [0, 0, 1]])
    z, mean, logvar = _aggregate_posterior_sample(rs, mean_cov, 1000)
    estimate = float(total_correlation(z, mean, logvar, dataset_size=10 ** 5, estimator="mss"))
    assert estimate == pytest.approx(_gaussian_tc(mean_cov + np.eye(3)), abs=0.05)


def test_weighted_tc_offset_and_difference():
    """mws = batch-mixture TC + (D - 1) log N when posteriors overlap; the offset cancels in differences."""
    rs = np.random.RandomState(3)
    n = 10 ** 5
    independent = _aggregate_posterior_sample(rs, 4.0 * np.eye(3), 1000)
    correlated_cov = 4.0 * np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]])
    correlated = _aggregate_posterior_sample(rs, correlated_cov, 1000)
    tc_independent = float(total_correlation(*independent, dataset_size=n, estimator="mws"))
    tc_correlated = float(total_correlation(*correlated, dataset_size=n, estimator="mws"))
    assert tc_independent == pytest.approx(2 * math.log(n), abs=0.05)
    assert tc_correlated - tc_independent == pytest.approx(_gaussian_tc(correlated_cov + np.eye(3)), abs=0.06)
    assert tc_correlated - tc_independent > 0.25


def test_weighted_tc_is_disentanglement_lib_plus_constant():
    rs = np.random.RandomState(4)
    batch, dim, n = 16, 4, 737280
    mean = rs.randn(batch, dim).astype(np.float32)
    logvar = rs.randn(batch, dim).astype(np.float32) * 0.3
    z = (mean + np.exp(logvar / 2) * rs.randn(batch, dim)).astype(np.float32)
    # disentanglement_lib's form, written out in numpy with scipy's logsumexp.
    from scipy.special import logsumexp
    log_density = -0.5 * ((z[:, None] - mean[None]) ** 2 * np.exp(-logvar[None]) + logvar[None] + np.log(2 * np.pi))
    dlib = np.mean(logsumexp(log_density.sum(2), axis=1) - logsumexp(log_density, axis=1).sum(1))
    ours = float(total_correlation(z, mean, logvar, n, "mws"))
    assert ours == pytest.approx(dlib + (dim - 1) * math.log(batch * n), rel=1e-5)


def test_tc_is_stable_for_tight_posteriors():
    """logsumexp: no overflow/underflow to inf or NaN with tiny variances."""
    rs = np.random.RandomState(5)
    mean = rs.randn(64, 10).astype(np.float32) * 10
    logvar = np.full((64, 10), -20.0, np.float32)
    for estimator in ("mws", "mss"):
        assert np.isfinite(float(total_correlation(mean, mean, logvar, 737280, estimator)))


def test_dip_penalties_zero_for_identity_covariance():
    rs = np.random.RandomState(6)
    x = rs.randn(500, 4)
    x -= x.mean(0)
    whitened = (x @ np.linalg.inv(np.linalg.cholesky(np.cov(x.T, bias=True))).T).astype(np.float32)
    np.testing.assert_allclose(covariance(whitened), np.eye(4), atol=1e-4)
    off, diag = dip_penalties(covariance(whitened))
    assert float(off) == pytest.approx(0, abs=1e-6) and float(diag) == pytest.approx(0, abs=1e-6)


def test_dip_ii_covariance_hand_computed():
    """Cov_q(z) = Cov[mu] + E[diag exp(logvar)] on a 3x3 case computed by hand (the peers' trap)."""
    mean = np.array([[1, 0, 2], [3, 2, 2], [2, 1, 5], [2, 1, 3]], np.float32)
    logvar = np.log(np.array([[1, 2, 1], [1, 2, 3], [3, 2, 1], [3, 2, 3]], np.float32))
    centered = mean - mean.mean(0)
    cov_mu = centered.T @ centered / 4  # biased, as the reference
    expected_ii = cov_mu + np.diag([2.0, 2.0, 2.0])
    np.testing.assert_allclose(dip_covariance(mean, logvar, "i"), cov_mu, rtol=1e-5)
    np.testing.assert_allclose(dip_covariance(mean, logvar, "ii"), expected_ii, rtol=1e-5)
    off, diag = dip_penalties(tf.constant(expected_ii, tf.float32))
    assert float(off) == pytest.approx(2 * (expected_ii[0, 1] ** 2 + expected_ii[0, 2] ** 2 + expected_ii[1, 2] ** 2),
                                       rel=1e-5)
    assert float(diag) == pytest.approx(np.sum((np.diag(expected_ii) - 1) ** 2), rel=1e-5)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_zero_for_matching_and_positive_for_different(kernel):
    rs = np.random.RandomState(7)
    p1, p2 = rs.randn(400, 5).astype(np.float32), rs.randn(400, 5).astype(np.float32)
    shifted = (rs.randn(400, 5) + 1.0).astype(np.float32)
    far = (rs.randn(400, 5) + 3.0).astype(np.float32)
    same = float(mmd(p1, p2, kernel))
    assert abs(same) < 0.01
    assert float(mmd(p1, shifted, kernel)) > 10 * max(abs(same), 1e-3)
    assert float(mmd(p1, far, kernel)) > float(mmd(p1, shifted, kernel))


def test_capacity_schedule_values():
    schedule = CapacitySchedule(c_max=25.0, num_steps=100000)
    for step, expected in [(0, 0.0), (50000, 12.5), (100000, 25.0), (250000, 25.0)]:
        assert float(schedule(step)) == pytest.approx(expected)
    delayed = CapacitySchedule(c_max=10.0, num_steps=100, start=50)
    assert [float(delayed(s)) for s in (0, 50, 100, 150, 200)] == pytest.approx([0, 0, 5, 10, 10])
    with pytest.raises(ValueError):
        CapacitySchedule(-1.0, 10)


def test_permute_dims_keeps_marginals_and_breaks_dependence():
    rs = np.random.RandomState(8)
    base = rs.randn(2000, 1)
    z = np.concatenate([base, base + 0.01 * rs.randn(2000, 1), rs.randn(2000, 1)], axis=1).astype(np.float32)
    permuted = permute_dims(z, tf.constant([1, 2], tf.int32)).numpy()
    np.testing.assert_array_equal(np.sort(permuted, axis=0), np.sort(z, axis=0))
    assert abs(np.corrcoef(permuted[:, 0], permuted[:, 1])[0, 1]) < 0.1
    assert np.corrcoef(z[:, 0], z[:, 1])[0, 1] > 0.99
    again = permute_dims(z, tf.constant([1, 2], tf.int32)).numpy()
    np.testing.assert_array_equal(permuted, again)  # stateless: reproducible
