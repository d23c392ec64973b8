"""heldout_r2 (Schott et al. 2022), the FoS score and the HFS method (Roth et al. 2023) on known answers."""

import numpy as np
import pytest
import tensorflow as tf

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import fos, heldout_r2
from tfdisent.methods import METHODS, resolve_hyperparameters
from tfdisent.methods.hfs import HFSVAE, hausdorff_factorized_support
from tfdisent.training import TrainConfig, Trainer

SIZES = (3, 6, 8, 5)


# --- heldout_r2 -------------------------------------------------------------------------------------

def test_grid_variance_is_the_reference_value():
    np.testing.assert_allclose(heldout_r2.grid_variance([2, 3, 6, 40]), [0.25, 1 / 6, 0.116667, 0.087607], atol=1e-6)
    # It is the variance of index/(K-1) over the grid.
    values = np.arange(40) / 39
    assert heldout_r2.grid_variance([40])[0] == pytest.approx(values.var())


def test_rsquared_known_answers():
    sizes, names = (3, 6), ("a", "b")
    factors = np.array([[0, 0], [1, 5], [2, 3], [2, 1]])
    targets = heldout_r2.normalised_targets(factors, sizes)
    perfect = heldout_r2.rsquared_scores(targets, factors, sizes, names)
    assert perfect["rsquared"] == 1.0 and perfect["mse"] == 0.0 and perfect["rsquared_b"] == 1.0
    mean = heldout_r2.rsquared_scores(np.full((2, 2), 0.5), np.array([[0, 0], [2, 5]]), sizes, names)
    assert mean["mse_a"] == pytest.approx(0.25) and mean["rsquared_a"] == pytest.approx(1 - 0.25 / (1 / 6))
    assert heldout_r2.rsquared_scores(np.zeros_like(targets), factors, sizes, names)["rsquared"] < 0


def _identity(observations):
    """The factors themselves, scaled to [0, 1]: a perfectly explicit code."""
    return np.asarray(observations, np.float64) / (np.array(SIZES) - 1)


@pytest.mark.parametrize("split", ["random", "composition", "interpolation", "extrapolation"])
def test_identity_code_scores_one_on_every_split(split):
    scores = metrics.compute("heldout_r2", IdentityObservations(SIZES), _identity, 0, split=split,
                             readout="linear", num_train=600, num_test=300)
    assert scores["rsquared"] == pytest.approx(1.0, abs=1e-9)
    assert set(scores) == {"rsquared", "mse"} | {f"{k}_factor_{i}" for k in ("rsquared", "mse") for i in range(4)}


def test_noise_scores_at_most_zero():
    rng = np.random.RandomState(7)

    def noise(observations):
        return rng.normal(size=(len(observations), 6))

    random = metrics.compute("heldout_r2", IdentityObservations(SIZES), noise, 0, split="random", readout="linear",
                             num_train=3000, num_test=3000)
    assert random["rsquared"] <= 0.0
    extrapolation = metrics.compute("heldout_r2", IdentityObservations(SIZES), noise, 0, readout="linear",
                                    num_train=3000, num_test=3000)
    assert extrapolation["rsquared"] < -0.5  # the held-out part lies above everything seen: the mean is far off


def test_mlp_readout_extrapolates_worse_than_it_interpolates_a_nonlinear_code():
    def cubed(observations):
        return _identity(observations) ** 3

    common = dict(readout="mlp", num_train=800, num_test=300)
    inside = metrics.compute("heldout_r2", IdentityObservations(SIZES), cubed, 0, split="random", **common)
    outside = metrics.compute("heldout_r2", IdentityObservations(SIZES), cubed, 0, split="extrapolation", **common)
    assert inside["rsquared"] > 0.9 and outside["rsquared"] < inside["rsquared"]


def test_heldout_r2_settings_are_checked():
    with pytest.raises(metrics.MetricError, match="'diagonal' is not one of"):
        metrics.resolve_settings("heldout_r2", split="diagonal")
    with pytest.raises(metrics.MetricError, match="train_fraction"):
        metrics.compute("heldout_r2", IdentityObservations(SIZES), _identity, 0, train_fraction=1.5)


# --- FoS --------------------------------------------------------------------------------------------

def test_fos_known_answers():
    """The reference file's table (§6.3): 1280 points in 10 chunks of 128."""
    u = np.random.RandomState(0).rand(1280, 2)
    rotation = np.array([[1, -1], [1, 1]]) / np.sqrt(2)
    assert fos.fos_score(u)["fos"] == pytest.approx(0.023, abs=0.01)
    assert fos.fos_score(np.c_[u[:, 0], u[:, 0]])["fos"] == pytest.approx(0.49, abs=0.03)
    assert fos.fos_score(u @ rotation.T)["fos"] == pytest.approx(0.214, abs=0.03)
    assert fos.fos_score(np.c_[u[:, 0], np.zeros(1280)])["fos"] == 0.0
    grid = np.array([[a, b] for a in range(4) for b in range(4)], float)
    assert fos.fos_score(grid)["fos"] == 0.0  # a full grid: every combination is a point


def test_fos_sums_pairs_and_averages_chunks():
    codes = np.random.RandomState(1).rand(300, 3)
    scores = fos.fos_score(codes, batch_size=128)
    assert scores["num_pairs"] == 3 and scores["num_chunks"] == 3  # 128 + 128 + 44
    distances = fos.factorized_support_distances(codes, 128)
    assert scores["fos"] == pytest.approx(distances.sum(axis=1).mean())
    assert scores["fos_per_pair"] == pytest.approx(scores["fos"] / 3)


def test_fos_metric_through_compute():
    def duplicated(observations):
        x = np.asarray(observations, np.float64) / (np.array(SIZES) - 1)
        return np.c_[x, x[:, :1]]  # a fifth latent repeats the first

    scores = metrics.compute("fos", IdentityObservations(SIZES), duplicated, 0, num_train=256)
    assert scores["num_pairs"] == 10 and scores["num_chunks"] == 2
    chosen = metrics.compute("fos", IdentityObservations(SIZES), duplicated, 0, num_train=256, num_pairs=4)
    assert chosen["num_pairs"] == 4
    with pytest.raises(metrics.MetricError, match="num_pairs"):
        metrics.compute("fos", IdentityObservations(SIZES), duplicated, 0, num_pairs=0)


# --- the HFS method -----------------------------------------------------------------------------------

def test_hfs_distance_is_zero_on_a_factorised_support_and_positive_when_correlated():
    grid = tf.constant([[a, b] for a in range(3) for b in range(3)], tf.float32) / 2.0
    pair = tf.constant([[0, 1]])
    assert float(hausdorff_factorized_support(grid, pair)[0]) == 0.0
    line = tf.constant(np.repeat(np.arange(9)[:, None] / 8.0, 2, axis=1), tf.float32)  # z2 = z1 on [0, 1]
    # The corner (0, 1) is farthest from the diagonal: min_c c^2 + (1 - c)^2 = 0.5 at c = 1/2.
    assert float(hausdorff_factorized_support(line, pair)[0]) == pytest.approx(0.5)


def test_hfs_distance_matches_the_fos_metric():
    codes = np.random.RandomState(2).normal(size=(64, 4)).astype(np.float32)
    pairs = fos.all_pairs(4)
    tf_values = hausdorff_factorized_support(tf.constant(codes), tf.constant(pairs)).numpy()
    np.testing.assert_allclose(tf_values, fos.factorized_support_distances(codes, 64, pairs)[0], rtol=1e-5)


def test_hfs_method_is_registered_with_the_reference_defaults():
    assert METHODS["hfs_vae"] is HFSVAE
    assert resolve_hyperparameters("hfs_vae", {}) == {"beta": 1.0, "gamma": 1.0, "num_latent_pairs": 25}
    with pytest.raises(ValueError, match="num_latent_pairs must be >= 1"):
        resolve_hyperparameters("hfs_vae", {"num_latent_pairs": 0})


def test_hfs_method_trains_with_finite_terms_and_draws_its_pairs_per_step(tmp_path):
    config = TrainConfig(method="hfs_vae", dataset="identity", steps=4, batch_size=16, log_every=2, image_every=0,
                         checkpoint_every=4, checkpoint_secs=3600, eval_batches=1, export=False, latent_dim=6,
                         hyperparameters={"gamma": 10.0, "num_latent_pairs": 5})
    trainer = Trainer(config, str(tmp_path / "run"))
    results = trainer.train()
    for term in ("loss", "reconstruction", "kl", "regularizer", "hausdorff_support"):
        assert np.isfinite(results["train"][term]), term
    assert results["train"]["hausdorff_support"] > 0
    model = trainer.model
    first = model.latent_pairs(6).numpy()
    assert first.shape == (5, 2) and len({tuple(p) for p in first}) == 5
    assert (first[:, 0] < first[:, 1]).all()
    np.testing.assert_array_equal(first, model.latent_pairs(6).numpy())  # a function of (seed, step)
    assert model.latent_pairs(3).shape == (3, 2)  # fewer pairs than asked: all of them
