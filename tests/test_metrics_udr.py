"""UDR: the reference's relative-strength fixtures, KL filtering, and model ranking."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import udr
from tfdisent.metrics.synthetic import SyntheticGaussianEncoder, SyntheticRepresentation

SIZES = (4, 5, 6, 8)


def model(kind="disentangled", seed=0, **kwargs):
    return SyntheticGaussianEncoder(SyntheticRepresentation(SIZES, kind, noise_dims=0, seed=seed, **kwargs))


def compute(models, **overrides):
    return metrics.compute("udr", IdentityObservations(SIZES), models, np.random.RandomState(0),
                           **{"num_data_points": 500, **overrides})


def test_relative_strength_fixtures():
    assert udr.relative_strength_disentanglement(np.eye(3)) == pytest.approx(1.0)
    assert udr.relative_strength_disentanglement(
        np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])) == pytest.approx(2 / 3)
    assert udr.relative_strength_disentanglement(np.ones((3, 3))) == pytest.approx(1 / 3)
    assert udr.relative_strength_disentanglement(np.zeros((3, 3))) == 0.0
    assert udr.relative_strength_disentanglement(np.zeros((0, 3))) == 0.0  # no active dimension


def test_permuted_flipped_copy_scores_high_with_both_similarities():
    rs = np.random.RandomState(0)
    codes = rs.randn(1000, 5)
    copy = -codes[:, [3, 1, 4, 0, 2]]
    kl = np.ones(5)
    for correlation in ("lasso", "spearman"):
        result = udr.udr_from_representations([codes, copy], [kl, kl], correlation)
        assert 0.8 <= min(result["model_scores"]) <= 1.0, correlation


def test_low_kl_filter():
    # The reference's fixture: only dimension 0 carries the data, the rest is noise with KL 0.
    rs = np.random.RandomState(0)
    data = rs.random_sample((1000, 1))
    means = [np.concatenate([data, rs.random_sample((1000, 9))], axis=1) for _ in range(2)]
    kls = [np.eye(10)[0]] * 2
    for correlation in ("lasso", "spearman"):
        unfiltered = udr.udr_from_representations(means, kls, correlation, filter_low_kl=False)
        filtered = udr.udr_from_representations(means, kls, correlation, filter_low_kl=True)
        assert all(0.0 <= score <= 0.2 for score in unfiltered["model_scores"]), correlation
        assert all(0.8 <= score <= 1.0 for score in filtered["model_scores"]), correlation
    assert udr.gaussian_kl_per_dimension(np.zeros((4, 2)), np.zeros((4, 2))).tolist() == [0.0, 0.0]
    assert udr.gaussian_kl_per_dimension(np.ones((4, 1)), np.zeros((4, 1)))[0] == pytest.approx(0.5)


def test_similarity_matrices_match_the_reference_fixtures():
    rs = np.random.RandomState(0)
    first = rs.random_sample((1000, 3)) * 10.0
    second = first.copy()
    second[:, 1] = second[:, 0]
    expected = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(udr.spearman_correlation_matrix(first, first), np.eye(3), atol=0.1)
    np.testing.assert_allclose(udr.spearman_correlation_matrix(first, second), expected, atol=0.1)
    np.testing.assert_allclose(udr.lasso_correlation_matrix(first, first), np.eye(3), atol=0.2)
    np.testing.assert_allclose(udr.lasso_correlation_matrix(first, second), expected, atol=0.2)


def test_ranks_permuted_copies_above_unrelated_entangled_models():
    models = [model(), model(permutation=[2, 0, 3, 1], signs=[1, -1, 1, -1]), model(permutation=[3, 2, 1, 0]),
              model("rotated", seed=5), model("rotated", seed=9)]
    result = compute(models)
    lasso, spearman = result["model_scores"], result["model_scores_spearman"]
    for scores in (lasso, spearman):
        assert min(scores[:3]) > max(scores[3:]) + 0.1
    assert len(result["pairwise_disentanglement_scores"]) == 5
    assert np.asarray(result["raw_correlations"]).shape == (5, 5, 6, 6)
    assert result["num_active_dims"] == [4] * 5


def test_model_without_active_dimension_scores_zero_not_nan():
    collapsed = SyntheticGaussianEncoder(SyntheticRepresentation(SIZES, noise_dims=0), inactive_dims=2)
    dead = lambda x: (np.zeros((len(x), 6)), np.zeros((len(x), 6)))  # noqa: E731
    result = compute([collapsed, model(), dead], include_raw_correlations=False,
                     correlation_matrices=("spearman",))
    assert all(np.isfinite(result["model_scores"])) and result["model_scores"][2] == 0.0


def test_bad_inputs():
    with pytest.raises(metrics.MetricError, match="at least 2"):
        compute([model()])
    with pytest.raises(metrics.MetricError, match=r"\(mean, logvar\)"):
        compute([model(), SyntheticRepresentation(SIZES)])
