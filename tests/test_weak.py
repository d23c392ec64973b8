"""Weak supervision (Locatello et al. 2020): pair sampler, adaptive threshold, averages, the loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdisent.data import DatasetError
from tfdisent.data.weak_pairs import check_pair_settings, pair_dataset, sample_pair_factors
from tfdisent.methods import METHODS, AdaGVAE, AdaGVAELabels, AdaMLVAE, resolve_hyperparameters
from tfdisent.methods.weak import (adaptive_shared_mask, aggregate_posteriors, gvae_average, ml_vae_average,
                                   pair_divergence)
from tfdisent.models import build_architecture

from factor_grid import FactorGrid


def _Grid(factor_sizes=(3, 4, 5, 2)):
    return FactorGrid(factor_sizes)


def _model(cls, latent_dim=6, **kwargs):
    encoder, decoder = build_architecture("fc", (8, 8, 1), latent_dim)
    model = cls(encoder, decoder, dataset_size=120, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.vae_variables())
    return model


# --- pair sampler -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3])
def test_exact_dynamics_change_exactly_k_factors(k):
    f1, f2, changed = sample_pair_factors((3, 4, 5, 2), 500, k, np.random.RandomState(0))
    assert ((f1 != f2).sum(axis=1) == k).all()
    np.testing.assert_array_equal(changed, f1 != f2)
    assert (f2 < np.array([3, 4, 5, 2])).all() and (f2 >= 0).all()


def test_exact_dynamics_random_k_covers_one_to_f_minus_one():
    f1, f2, changed = sample_pair_factors((3, 4, 5, 2), 2000, -1, np.random.RandomState(1))
    counts = (f1 != f2).sum(axis=1)
    np.testing.assert_array_equal(changed, f1 != f2)
    assert set(counts) == {1, 2, 3}
    # Uniform over {1, 2, 3}.
    np.testing.assert_allclose(np.bincount(counts)[1:] / 2000, [1 / 3] * 3, atol=0.04)


def test_dlib_dynamics_coin_flip_and_last_index_label():
    f1, f2, changed = sample_pair_factors((30, 40, 50, 20), 4000, 3, np.random.RandomState(2), "dlib")
    assert (changed.sum(axis=1) == 1).all()  # one-hot: the last changed index
    counts = (f1 != f2).sum(axis=1)
    # Half the pairs resample 1 factor, half 3 (values may repeat, so a few change fewer).
    assert 0.45 < np.mean(counts <= 1) < 0.6 and 0.35 < np.mean(counts == 3) < 0.5
    assert counts.max() == 3
    # The labelled factor is among the resampled ones: wherever it differs, it is marked.
    assert ((f1 != f2)[~changed].sum()) < (f1 != f2).sum()


def test_pair_dataset_is_reproducible_and_renders_both_observations():
    grid = _Grid()
    first = next(iter(pair_dataset(grid, 16, seed=3, k=1)))
    again = next(iter(pair_dataset(grid, 16, seed=3, k=1)))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x1, x2, changed = (t.numpy() for t in first)
    assert x1.shape == (16, 8, 8, 1) and changed.shape == (16, 4)
    # The observation encodes the factors: exactly the changed pixel differs.
    np.testing.assert_array_equal(x1[:, 0, :4, 0] != x2[:, 0, :4, 0], changed.astype(bool))


@pytest.mark.parametrize("k, message", [(0, "k must be in"), (4, "k must be in \\[1, 3\\]"), (-2, "k must be in")])
def test_bad_k_is_one_clear_error(k, message):
    with pytest.raises(DatasetError, match=message):
        check_pair_settings(_Grid(), k)


def test_dataset_without_factors_is_refused():
    with pytest.raises(DatasetError, match="at least two ground-truth factors"):
        check_pair_settings(_Grid(factor_sizes=()), 1)
    with pytest.raises(DatasetError, match="at least two"):
        _model(AdaGVAE).adapt(_Grid(factor_sizes=(10,)))


def test_k_hyperparameter_validation():
    assert resolve_hyperparameters("ada_gvae", {"k": -1})["k"] == -1
    with pytest.raises(ValueError, match="k must be >= -1"):
        resolve_hyperparameters("ada_gvae", {"k": -3})
    with pytest.raises(ValueError, match="k must be in"):
        _model(AdaGVAE, k=5).adapt(_Grid())


def test_labels_variant_needs_a_latent_per_factor():
    with pytest.raises(ValueError, match="latent_dim must be at least the 4 factors"):
        _model(AdaGVAELabels, latent_dim=3).adapt(_Grid())


# --- threshold and averages -----------------------------------------------------------------------------
def test_pair_divergence_is_twice_the_kl():
    m1, v1, m2, v2 = 0.3, float(np.log(0.5)), -0.4, float(np.log(2.0))
    kl = 0.5 * (np.log(2.0 / 0.5) + (0.5 + (m1 - m2) ** 2) / 2.0 - 1.0)
    value = pair_divergence(tf.constant([[m1]]), tf.constant([[v1]]), tf.constant([[m2]]), tf.constant([[v2]]))
    assert float(value[0, 0]) == pytest.approx(2 * kl, rel=1e-5)


def test_adaptive_threshold_keeps_exactly_the_large_divergence_dimensions():
    # Pair 0: dims 1 and 4 moved far, the others barely. Pair 1: only dim 0 moved.
    mean1 = np.zeros((2, 5), np.float32)
    mean2 = np.array([[0.01, 3.0, -0.02, 0.0, 2.5], [4.0, 0.1, 0.0, 0.05, 0.0]], np.float32)
    logvar = np.zeros((2, 5), np.float32)
    divergence = pair_divergence(mean1, logvar, mean2, logvar).numpy()
    np.testing.assert_allclose(divergence, mean2 ** 2, rtol=1e-4, atol=1e-6)  # equal variances: delta = (m2 - m1)^2
    shared = adaptive_shared_mask(tf.constant(divergence)).numpy()
    np.testing.assert_array_equal(shared, [[True, False, True, True, False], [False, True, True, True, True]])
    # The threshold is the midpoint: a divergence just above it is kept, just below it is shared.
    shared = adaptive_shared_mask(tf.constant([[0.0, 0.49, 0.51, 1.0]])).numpy()
    np.testing.assert_array_equal(shared, [[True, True, False, False]])


def test_averages_equal_their_formulas():
    rs = np.random.RandomState(0)
    m1, m2 = rs.randn(4, 3).astype(np.float32), rs.randn(4, 3).astype(np.float32)
    v1, v2 = np.exp(rs.randn(4, 3)).astype(np.float32), np.exp(rs.randn(4, 3)).astype(np.float32)
    mean, logvar = gvae_average(m1, np.log(v1), m2, np.log(v2))
    np.testing.assert_allclose(mean, (m1 + m2) / 2, rtol=1e-5)
    np.testing.assert_allclose(np.exp(logvar), (v1 + v2) / 2, rtol=1e-5)
    mean, logvar = ml_vae_average(m1, np.log(v1), m2, np.log(v2))
    variance = 2 * v1 * v2 / (v1 + v2)
    np.testing.assert_allclose(np.exp(logvar), variance, rtol=1e-5)
    np.testing.assert_allclose(mean, 0.5 * (m1 / v1 + m2 / v2) * variance, rtol=1e-4, atol=1e-6)
    # The product of experts of two equal Gaussians is that Gaussian.
    mean, logvar = ml_vae_average(m1, np.log(v1), m1, np.log(v1))
    np.testing.assert_allclose(mean, m1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(logvar), v1, rtol=1e-5)


def test_aggregation_replaces_only_shared_latents():
    m1, m2 = np.array([[0.0, 1.0]], np.float32), np.array([[2.0, 5.0]], np.float32)
    v1, v2 = np.zeros((1, 2), np.float32), np.log(np.array([[3.0, 3.0]], np.float32))
    a1, l1, a2, l2 = aggregate_posteriors(m1, v1, m2, v2, tf.constant([[True, False]]), "gvae")
    np.testing.assert_allclose(a1, [[1.0, 1.0]])
    np.testing.assert_allclose(a2, [[1.0, 5.0]])
    np.testing.assert_allclose(np.exp(l1), [[2.0, 1.0]], rtol=1e-5)
    np.testing.assert_allclose(np.exp(l2), [[2.0, 3.0]], rtol=1e-5)


# --- the objective --------------------------------------------------------------------------------------
def test_loss_is_half_the_two_reconstructions_plus_beta_half_the_two_kls():
    model = _model(AdaMLVAE, beta=3.0)
    grid = _Grid()
    x1, x2, changed = next(iter(model.training_dataset(grid, 8, seed=0)))
    terms = model.forward((x1, x2, changed), training=False)
    batch = 8
    mean, logvar, z = terms["mean"], terms["logvar"], terms["z"]
    from tfdisent.models import distributions
    logits = model.decoder(z)
    rec = distributions.reconstruction_loss(tf.concat([x1, x2], 0), logits, "bernoulli").numpy()
    kl = distributions.kl_divergence_per_dim(mean, logvar).numpy().sum(axis=1)
    expected_rec = 0.5 * (rec[:batch].mean() + rec[batch:].mean())
    expected_kl = 0.5 * (kl[:batch].mean() + kl[batch:].mean())
    assert float(terms["reconstruction"]) == pytest.approx(expected_rec, rel=1e-5)
    assert float(terms["kl"]) == pytest.approx(expected_kl, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(expected_rec + 3.0 * expected_kl, rel=1e-5)
    # The shared latents carry the same posterior in both halves of each pair.
    same = np.isclose(mean[:batch], mean[batch:]) & np.isclose(logvar[:batch], logvar[batch:])
    assert same.sum(axis=1).mean() == pytest.approx(float(terms["shared_latents"]))


def test_labels_variant_keeps_the_changed_factor_latents_own():
    model = _model(AdaGVAELabels)
    x = tf.random.stateless_uniform((2, 8, 8, 1), (1, 2))
    x2 = tf.random.stateless_uniform((2, 8, 8, 1), (3, 4))
    changed = tf.constant([[0, 1, 0, 0], [0, 0, 0, 1]], tf.float32)
    terms = model.forward((x, x2, changed), training=False)
    mean = terms["mean"].numpy()
    same = np.isclose(mean[:2], mean[2:])
    # Latent j <-> factor j; latents 4, 5 (no factor) are shared.
    np.testing.assert_array_equal(same, [[1, 0, 1, 1, 1, 1], [1, 1, 1, 0, 1, 1]])


def test_train_step_decreases_the_loss_and_methods_are_registered():
    assert {"ada_gvae", "ada_ml_vae", "ada_gvae_labels", "ada_ml_vae_labels"} <= set(METHODS)
    model = _model(AdaGVAE, beta=1.0)
    batch = next(iter(model.training_dataset(_Grid(), 32, seed=0)))
    step = tf.function(model.train_step)
    first = float(step(batch)["loss"])
    for _ in range(30):
        last = float(step(batch)["loss"])
    assert last < first
    assert int(model.step) == 31


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_binary_refuses_bad_k_in_one_line(cli_refusals):
    # (Refusing a flag of another method, e.g. --k with beta_vae, is the binary's generic check, tested in
    # test_training.py; --helpfull lists --k, --pair_dynamics and the s2 flags.)
    # tfdisent-train --method=ada_gvae --k=5 --dataset=dsprites, run by tests/conftest.py.
    root, results = cli_refusals
    result = results["ada_gvae_k5"]
    assert result["code"] == 2
    assert "k must be in [1, 4]" in result["stderr"].strip().splitlines()[-1]
    assert not (root / "ada_gvae_k5" / "checkpoints").exists()


def test_weak_model_exports_like_any_other(tmp_path):
    from tfdisent.export import export_model

    model = _model(AdaMLVAE)
    path = export_model(model, str(tmp_path / "export"), (8, 8, 1), version=1)
    loaded = tf.saved_model.load(path)
    images = np.random.RandomState(0).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    out = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(out["mean"].numpy(), model.encoder(images)[0].numpy(), rtol=1e-5, atol=1e-5)
