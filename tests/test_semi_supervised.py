"""Few-label supervision (Locatello et al. 2020b): labellers, labelled subset, supervised losses, schedules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdisent.data import DatasetError
from tfdisent.data.labels import (apply_labeller, check_label_settings, draw_labelled_subset,
                                  semi_supervised_dataset, split_sizes)
from tfdisent.methods import METHODS, S2DIPVAE, S2FactorVAE, S2VAE, resolve_hyperparameters
from tfdisent.methods.semi_supervised import cov_loss, embed_loss, gamma_at, l2_loss, xent_loss
from tfdisent.models import build_architecture

from factor_grid import FactorGrid


def _Grid(factor_sizes=(3, 10, 40)):
    return FactorGrid(factor_sizes)


def _model(cls, latent_dim=5, dataset=None, **kwargs):
    encoder, decoder = build_architecture("fc", (8, 8, 1), latent_dim)
    model = cls(encoder, decoder, dataset_size=1200, **kwargs)
    model.adapt(dataset or _Grid())
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.vae_variables())
    return model


# --- labellers -------------------------------------------------------------------------------------
FACTORS = np.stack(np.meshgrid(np.arange(3), np.arange(10), np.arange(40), indexing="ij"), -1).reshape(-1, 3)


def test_perfect_labeller_is_the_identity():
    labels, sizes, observed = apply_labeller(FACTORS, (3, 10, 40), "perfect", np.random.RandomState(0))
    np.testing.assert_array_equal(labels, FACTORS)
    assert sizes == (3, 10, 40) and observed == (0, 1, 2)


def test_bin_labeller_gives_five_even_bins():
    labels, sizes, _ = apply_labeller(FACTORS, (3, 10, 40), "bin", np.random.RandomState(0))
    assert sizes == (5, 5, 5)
    np.testing.assert_array_equal(np.unique(labels[:, 0]), [0, 1, 3])  # 3 values -> 0, 1, 3 (floor(5y/3))
    np.testing.assert_array_equal(labels[:, 1], FACTORS[:, 1] // 2)  # 10 values: pairs
    np.testing.assert_array_equal(np.bincount(labels[:, 2]), [240] * 5)  # 40 values: 8 per bin, 30 x 8 each


def test_noisy_labeller_resamples_ten_percent():
    factors = np.tile(FACTORS, (20, 1))
    labels, sizes, _ = apply_labeller(factors, (3, 10, 40), "noisy", np.random.RandomState(0))
    assert sizes == (3, 10, 40)
    wrong = (labels != factors).mean(axis=0)
    # P(wrong) = 0.1 (1 - 1/n).
    np.testing.assert_allclose(wrong, [0.1 * 2 / 3, 0.1 * 9 / 10, 0.1 * 39 / 40], atol=0.006)
    assert labels.min() >= 0 and (labels < np.array([3, 10, 40])).all()


def test_permuted_labeller_is_a_fixed_bijection_per_factor():
    labels, sizes, _ = apply_labeller(FACTORS, (3, 10, 40), "permuted", np.random.RandomState(0))
    for j, n in enumerate(sizes):
        mapping = {}
        for y, label in zip(FACTORS[:, j], labels[:, j]):
            assert mapping.setdefault(y, label) == label
        assert sorted(mapping.values()) == list(range(n))
    assert (labels != FACTORS).any()


def test_partial_labeller_observes_two_factors():
    labels, sizes, observed = apply_labeller(FACTORS, (3, 10, 40), "partial", np.random.RandomState(0))
    assert len(observed) == 2 and labels.shape == (len(FACTORS), 2)
    np.testing.assert_array_equal(labels, FACTORS[:, list(observed)])
    assert sizes == tuple((3, 10, 40)[j] for j in observed)


def test_labelled_subset_is_reproducible_and_split_ninety_ten():
    assert split_sizes(1000) == (900, 100) and split_sizes(15) == (14, 1)
    a = draw_labelled_subset(_Grid(), 50, "perfect", seed=3)
    b = draw_labelled_subset(_Grid(), 50, "perfect", seed=3)
    assert len(a.train_labels) == 45 and len(a.validation_labels) == 5
    np.testing.assert_array_equal(a.train_observations, b.train_observations)
    np.testing.assert_array_equal(a.validation_labels, a.validation_factors)
    # Observations match their labels (the grid encodes factors as pixels).
    np.testing.assert_allclose(a.train_observations[:, 0, 2, 0] * 39, a.train_labels[:, 2], atol=1e-4)


@pytest.mark.parametrize("num_labels, labeller, dataset, message", [
    (2000, "perfect", _Grid(), "more than the 1200 examples"),
    (10, "partial", _Grid((3, 10)), "partial labeller observes 2 factors and needs a dataset with more"),
    (100, "perfect", _Grid(()), "no ground-truth factors"),
    (100, "oracle", _Grid(), "unknown labeller"),
])
def test_bad_label_settings_are_one_clear_error(num_labels, labeller, dataset, message):
    with pytest.raises(DatasetError, match=message):
        check_label_settings(dataset, num_labels, labeller)


def test_bad_settings_reach_the_method_as_errors():
    with pytest.raises(ValueError, match="more than the 1200 examples"):
        _model(S2VAE, num_labels=5000)
    with pytest.raises(ValueError, match="labeller must be one of"):
        resolve_hyperparameters("s2_vae", {"labeller": "oracle"})
    with pytest.raises(ValueError, match="3 labels need --latent_dim >= 3"):
        _model(S2VAE, latent_dim=2)


def test_semi_supervised_batches_pair_unlabelled_and_labelled():
    subset = draw_labelled_subset(_Grid(), 40, "perfect", seed=0)
    stream = semi_supervised_dataset(_Grid(), subset, 8, seed=1)
    batch = next(iter(stream))
    again = next(iter(semi_supervised_dataset(_Grid(), subset, 8, seed=1)))
    assert batch["x"].shape == (8, 8, 8, 1) and batch["x_labelled"].shape == (8, 8, 8, 1)
    assert batch["y_labelled"].shape == (8, 3)
    np.testing.assert_array_equal(batch["y_labelled"], again["y_labelled"])
    # Every labelled example comes from the training split with its own label.
    pixels = batch["x_labelled"].numpy()[:, 0, 2, 0] * 39
    np.testing.assert_allclose(pixels, batch["y_labelled"].numpy()[:, 2], atol=1e-4)


# --- supervised losses, by hand ---------------------------------------------------------------------
R = np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]], np.float32)
Y = np.array([[1.0, 0.0], [3.0, 1.0], [2.0, 2.0]], np.float32)


def test_l2_loss():
    # b = 2: (1 - 1)^2 + (-2 - 0)^2 = 4; (4 - 3)^2 + (0 - 1)^2 = 2; (2 - 2)^2 + (2 - 2)^2 = 0 -> mean 2.
    assert float(l2_loss(R, Y, tf.constant(2.0))) == pytest.approx(2.0)


def test_xent_loss():
    sizes = (4, 2)
    targets = Y / np.array(sizes, np.float32)
    by_hand = -(targets * np.log(1 / (1 + np.exp(-R))) + (1 - targets) * np.log(1 - 1 / (1 + np.exp(-R))))
    assert float(xent_loss(R, Y, sizes)) == pytest.approx(by_hand.sum(axis=1).mean(), rel=1e-5)


def test_cov_loss():
    r, y = R - R.mean(0), Y - Y.mean(0)
    cross = r.T @ y / 3
    by_hand = cross[0, 1] ** 2 + cross[1, 0] ** 2
    assert float(cov_loss(R, Y)) == pytest.approx(by_hand, rel=1e-5)
    # Representation == labels up to scale: only the diagonal is non-zero if factors are uncorrelated.
    y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    assert float(cov_loss(3 * y, y)) == pytest.approx(0.0, abs=1e-7)


def test_embed_loss():
    labels = np.array([[1.0, 0.0], [3.0, 1.0], [2.0, 1.0]], np.float32)
    embeddings = [tf.constant([0.0, 1.0, 2.0, 3.0]), tf.constant([-1.0, 1.0])]
    sharpness = tf.constant([1.0, 2.0])
    total = 0.0
    for b in range(3):
        for j, (e, s) in enumerate(zip(embeddings, sharpness.numpy())):
            logits = -((R[b, j] - e.numpy()) * s) ** 2
            log_p = logits - np.log(np.exp(logits).sum())
            total -= log_p[int(labels[b, j])]
    assert float(embed_loss(R, labels, embeddings, sharpness)) == pytest.approx(total / 3, rel=1e-5)


def test_gamma_schedules():
    values = {s: [float(gamma_at(t, 4.0, s, 100)) for t in (0, 50, 100, 101, 500)]
              for s in ("fixed", "anneal", "fine_tune")}
    assert values["fixed"] == [4.0] * 5
    assert values["anneal"] == pytest.approx([0.0, 2.0, 4.0, 4.0, 4.0])
    assert values["fine_tune"] == pytest.approx([0.0, 0.0, 0.0, 4.0, 4.0])


# --- the objectives -----------------------------------------------------------------------------------
def test_loss_is_the_unsupervised_loss_plus_gamma_times_the_supervised_loss():
    model = _model(S2VAE, beta=2.0, gamma_sup=3.0, supervised_loss="l2")
    batch = next(iter(model.training_dataset(_Grid(), 16, seed=0)))
    terms = model.forward(batch, training=False)
    unsupervised = model.forward(batch["x"], training=False)
    mean, _ = model.encoder(batch["x_labelled"])
    supervised = l2_loss(mean[:, :3], batch["y_labelled"], tf.constant(1.0))
    assert float(terms["supervised_loss"]) == pytest.approx(float(supervised), rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(unsupervised["loss"]) + 3.0 * float(supervised), rel=1e-5)
    assert any(v is model.supervised_head.scale for v in model.vae_variables())


def test_learned_parameters_train_and_are_checkpointed():
    model = _model(S2FactorVAE, supervised_loss="embed", gamma_sup=10.0)
    assert "supervised_head" in model.checkpoint_objects()
    before = model.supervised_head.sharpness.numpy().copy()
    batch = next(iter(model.training_dataset(_Grid(), 16, seed=0)))
    logs = tf.function(model.train_step)(batch)
    assert "discriminator_loss" in logs and "supervised_loss" in logs
    assert not np.allclose(model.supervised_head.sharpness.numpy(), before)


def test_all_four_methods_registered_with_their_flags():
    assert {"s2_vae", "s2_beta_tcvae", "s2_factor_vae", "s2_dip_vae"} <= set(METHODS)
    resolved = resolve_hyperparameters("s2_dip_vae", {"dip_type": "ii", "gamma_schedule": "anneal"})
    assert resolved["gamma_threshold"] == 10000 and resolved["num_labels"] == 1000
    model = _model(S2DIPVAE, dip_type="ii", lambda_d_factor=1.0)
    assert model.dip_type == "ii"
    with pytest.raises(ValueError, match="has no hyperparameter gamma"):
        resolve_hyperparameters("s2_vae", {"gamma": 1.0})


# --- validation on the held-out labels ----------------------------------------------------------------
def test_validation_scores_on_held_out_labels(tmp_path):
    from tfdisent.evaluation.validation import validation_metrics_callback, validation_scores

    rs = np.random.RandomState(0)
    labels = np.stack([rs.randint(4, size=200), rs.randint(5, size=200)], axis=1)
    perfect = np.concatenate([labels + 0.01 * rs.randn(200, 2), rs.randn(200, 1)], axis=1)
    scores = validation_scores(perfect, labels)
    assert scores["mig/discrete_mig"] > 0.8  # 20-bin histograms of 200 noisy points: not exactly 1
    assert scores["dci/disentanglement"] > 0.8 and scores["sap/SAP_score"] > 0.1  # linear SVCs on one code: ~0.2 here
    mixed = validation_scores(np.stack([labels.sum(1), labels.sum(1), rs.randn(200)], 1), labels, ("mig",))
    assert mixed["mig/discrete_mig"] < 0.3
    with pytest.raises(ValueError, match="unknown validation metric"):
        validation_metrics_callback(("beta_vae",))

    model = _model(S2VAE, num_labels=60)
    writer = tf.summary.create_file_writer(str(tmp_path))
    scores = validation_metrics_callback(("mig",))(10, model, None, writer)
    assert set(scores) == {"mig/discrete_mig"} and 0.0 <= scores["mig/discrete_mig"] <= 1.0


def test_validation_callback_skips_unsupervised_models(tmp_path):
    from tfdisent.evaluation.validation import validation_metrics_callback
    from tfdisent.methods import BetaVAE

    encoder, decoder = build_architecture("fc", (8, 8, 1), 3)
    writer = tf.summary.create_file_writer(str(tmp_path))
    assert validation_metrics_callback()(1, BetaVAE(encoder, decoder), None, writer) == {}
