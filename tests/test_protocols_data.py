"""Training-distribution protocols of issue 20: correlated factors (Träuble et al. 2021) and held-out
factor-combination splits (Schott et al. 2022)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfdisent.data import correlated, splits
from tfdisent.data.ground_truth import GroundTruthData, indices_to_factors
from tfdisent.data.subset import IndexedSubset
from tfdisent.data.synthetic import IdentityObservations

SIZES = (3, 4)


def _sets(train, test):
    return set(train.tolist()), set(test.tolist())


# --- splits: exact membership on a 3 x 4 grid (flat index = 4 * a + b) -----------------------------

def test_extrapolation_keeps_the_low_values_of_every_factor():
    # r = 0.25 ** (1/2) = 0.5: factor a keeps round(1.5) = 2 values {0, 1}, factor b round(2) = 2 {0, 1}.
    train, test = splits.extrapolation_split(SIZES, 0.25)
    assert _sets(train, test)[0] == {0, 1, 4, 5}
    assert set(test.tolist()) == set(range(12)) - {0, 1, 4, 5}


def test_interpolation_holds_out_intermediate_values():
    # a keeps 2 values spread over [0, 2] -> {0, 2}; b keeps 2 over [0, 3] -> {0, 3}.
    train, _ = splits.interpolation_split(SIZES, 0.25)
    assert set(train.tolist()) == {0, 3, 8, 11}
    # Only b acts: b keeps round(0.25 * 4) -> max(2, 1) = 2 values {0, 3}; a is untouched.
    train, _ = splits.interpolation_split(SIZES, 0.25, factors=[1])
    assert set(train.tolist()) == {0, 3, 4, 7, 8, 11}


def test_composition_holds_out_the_joint_corner_and_keeps_every_value():
    # F' = 2: 1 - p^2 = 0.25 -> p = sqrt(0.75); upper parts: a round(2.6) -> clipped to 2 {1, 2}, b round(3.46) = 3 {1, 2, 3}.
    assert splits.composition_upper_probability(2, 0.25) == pytest.approx(math.sqrt(0.75))
    train, test = splits.composition_split(SIZES, 0.25)
    assert set(test.tolist()) == {5, 6, 7, 9, 10, 11}
    factors = indices_to_factors(train, SIZES)
    for k, size in enumerate(SIZES):
        assert set(factors[:, k].tolist()) == set(range(size))  # every value seen in training


def test_random_split_is_seeded():
    train, test = splits.random_split(SIZES, 0.25, seed=3)
    assert len(train) == 3 and len(test) == 9
    again, _ = splits.random_split(SIZES, 0.25, seed=3)
    other, _ = splits.random_split(SIZES, 0.25, seed=4)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)


@pytest.mark.parametrize("kind", splits.SPLITS)
@pytest.mark.parametrize("sizes", [(3, 4), (3, 6, 40, 32, 32), (10, 10, 10, 8, 4, 15)])
def test_every_split_is_disjoint_covers_the_grid_and_fits_a_subset(kind, sizes):
    train, test = splits.make_split(kind, sizes, 0.3, seed=0)
    total = int(np.prod(sizes))
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.union1d(train, test), np.arange(total))
    if len(sizes) > 2:  # the reference's train/total ~ 0.3 (rounded to one decimal)
        assert round(len(train) / total, 1) == 0.3
    subset = IndexedSubset(IdentityObservations(sizes), train)
    assert subset.num_examples == len(train)
    assert subset.contains(subset.sample_factors(50, np.random.RandomState(0))).all()


def test_bad_split_arguments():
    with pytest.raises(ValueError, match="unknown split"):
        splits.make_split("diagonal", SIZES)
    with pytest.raises(ValueError, match="train_fraction"):
        splits.make_split("random", SIZES, 1.0)
    with pytest.raises(ValueError, match="at least 3 values"):
        splits.interpolation_split((2, 2))


# --- correlated factors -----------------------------------------------------------------------------

def test_parse_pairs_by_name_and_index():
    names = ("shape", "scale", "orientation")
    assert correlated.parse_pairs(["shape:scale", "2:0"], names) == ((0, 1), (2, 0))
    for bad, message in [("shape", "A:B"), ("shape:colour", "not a factor"), ("scale:scale", "two different"),
                         ("9:0", "not a factor")]:
        with pytest.raises(ValueError, match=message):
            correlated.parse_pairs([bad], names)
    with pytest.raises(ValueError, match="twice"):
        correlated.parse_pairs(["shape:scale", "scale:shape"], names)


def test_weights_follow_the_gaussian_of_the_scaled_difference():
    factors = np.array([[0, 0], [0, 3], [2, 3]])
    weights = correlated.correlation_weights(factors, (3, 4), [(0, 1)], 0.5)
    expected = np.exp(-np.array([0.0, 1.0, 0.0]) / (2 * 0.25))
    np.testing.assert_allclose(weights, expected)
    np.testing.assert_allclose(correlated.correlation_weights(factors, (3, 4), [(0, 1)], math.inf), 1.0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="> 0"):
            correlated.check_strength(bad)


@pytest.mark.parametrize("strength", [0.1, 0.2, 0.4, 0.7])
def test_empirical_correlation_matches_the_set_strength(strength):
    base = IdentityObservations((6, 10, 8))
    data = correlated.CorrelatedFactors(base, [(0, 1)], strength)
    factors = data.sample_factors(40000, np.random.RandomState(0))
    empirical = np.corrcoef(factors[:, 0], factors[:, 1])[0, 1]
    expected = correlated.pair_correlation(6, 10, strength)
    assert empirical == pytest.approx(expected, abs=0.02)
    assert abs(np.corrcoef(factors[:, 0], factors[:, 2])[0, 1]) < 0.03  # the third factor stays independent
    np.testing.assert_allclose(np.bincount(factors[:, 2], minlength=8) / 40000, 1 / 8, atol=0.01)


def test_strength_orders_the_correlation_and_infinity_is_uncorrelated():
    values = [correlated.pair_correlation(6, 10, s) for s in (0.05, 0.1, 0.2, 0.4, 0.7, 2.0)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[0] > 0.95 and values[-1] < 0.1
    assert correlated.pair_correlation(6, 10, math.inf) == pytest.approx(0.0, abs=1e-12)
    data = correlated.CorrelatedFactors(IdentityObservations((6, 10)), [(0, 1)], math.inf)
    factors = data.sample_factors(40000, np.random.RandomState(1))
    assert abs(np.corrcoef(factors.T)[0, 1]) < 0.02
    np.testing.assert_allclose(data.joint_probability, 1 / 60)


def test_observations_come_from_the_base_and_metrics_see_the_grid():
    base = IdentityObservations((3, 4))
    data = correlated.CorrelatedFactors(base, [(0, 1)], 0.2)
    factors, observations = data.sample(5, np.random.RandomState(0))
    np.testing.assert_array_equal(observations, factors.astype(np.float32))
    assert data.num_examples == base.num_examples and data.factor_sizes == base.factor_sizes


class _IndexData(GroundTruthData):
    """A grid whose in-graph sampler returns the flat index itself (the dSprites contract: value i -> index i mod N)."""

    name = "index"
    factor_sizes = (5, 8, 3)
    factor_names = ("a", "b", "c")
    observation_shape = (1,)
    latent_factor_indices = (0, 1, 2)

    def sample_observations_from_factors(self, factors, random_state):
        return np.ravel_multi_index(tuple(np.asarray(factors).T), self.factor_sizes)[:, None].astype(np.float32)

    def tf_batch_fn(self):
        total = int(np.prod(self.factor_sizes))
        return lambda values: tf.cast(tf.math.floormod(values, total), tf.float32)[:, None]


def test_in_graph_sampler_draws_the_same_distribution():
    data = correlated.CorrelatedFactors(_IndexData(), [(0, 2)], 0.3)
    batch = data.tf_batch_fn()
    values = tf.data.Dataset.random(seed=0).batch(500).take(40)
    indices = np.concatenate([batch(v).numpy()[:, 0] for v in values]).astype(np.int64)
    factors = indices_to_factors(indices, data.factor_sizes)
    expected = correlated.pair_correlation(5, 3, 0.3)
    assert np.corrcoef(factors[:, 0], factors[:, 2])[0, 1] == pytest.approx(expected, abs=0.03)
    assert abs(np.corrcoef(factors[:, 0], factors[:, 1])[0, 1]) < 0.04
    np.testing.assert_allclose(np.bincount(factors[:, 1], minlength=8) / len(factors), 1 / 8, atol=0.015)
    again = np.concatenate([batch(v).numpy()[:, 0] for v in values]).astype(np.int64)
    np.testing.assert_array_equal(indices, again)  # a deterministic function of the random values
