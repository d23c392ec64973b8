"""Each objective's loss is its paper's equation; gradients flow where the papers say."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdisent.methods import (METHODS, AnnealedVAE, BetaTCVAE, BetaVAE, CapacitySchedule, DIPVAEI, DIPVAEII,
                              FactorVAE, InfoVAE, VAE, resolve_hyperparameters)
from tfdisent.methods.estimators import dip_covariance, dip_penalties, total_correlation
from tfdisent.models import build_architecture

RS = np.random.RandomState(0)
MEAN = RS.randn(32, 10).astype(np.float32)
LOGVAR = (0.3 * RS.randn(32, 10)).astype(np.float32)
Z = (MEAN + np.exp(LOGVAR / 2) * RS.randn(32, 10)).astype(np.float32)
KL = tf.constant(7.5)


def _model(cls, **kwargs):
    encoder, decoder = build_architecture("fc", (8, 8, 1), 10)
    model = cls(encoder, decoder, dataset_size=1000, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.vae_variables())
    return model


def test_vae_and_beta_vae():
    assert float(_model(VAE).regularizer(KL, MEAN, LOGVAR, Z)["regularizer"]) == pytest.approx(7.5)
    assert float(_model(BetaVAE, beta=4.0).regularizer(KL, MEAN, LOGVAR, Z)["regularizer"]) == pytest.approx(30.0)


def test_annealed_vae_uses_capacity_at_the_current_step():
    model = _model(AnnealedVAE, gamma=1000.0, c_max=25.0, iteration_threshold=100)
    assert float(model.regularizer(KL, MEAN, LOGVAR, Z)["regularizer"]) == pytest.approx(1000 * 7.5)
    model.optimizer.iterations.assign(40)
    assert float(model.regularizer(KL, MEAN, LOGVAR, Z)["regularizer"]) == pytest.approx(1000 * abs(7.5 - 10.0))


def test_capacity_wraps_the_kl_of_other_methods():
    model = _model(BetaVAE, beta=2.0, capacity=CapacitySchedule(10.0, 10))
    model.optimizer.iterations.assign(5)
    assert float(model.regularizer(KL, MEAN, LOGVAR, Z)["regularizer"]) == pytest.approx(2 * abs(7.5 - 5.0))


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_is_kl_plus_beta_minus_one_tc(estimator):
    terms = _model(BetaTCVAE, beta=6.0, tc_estimator=estimator).regularizer(KL, MEAN, LOGVAR, Z)
    tc = float(total_correlation(Z, MEAN, LOGVAR, 1000, estimator))
    optimised = "total_correlation" if estimator == "mss" else "total_correlation_mws"
    assert float(terms[optimised]) == pytest.approx(tc, rel=1e-5)
    assert float(terms["regularizer"]) == pytest.approx(7.5 + 5.0 * tc, rel=1e-5)
    # The plain name always shows the consistent (mss) estimate, whatever is optimised.
    mss = float(total_correlation(Z, MEAN, LOGVAR, 1000, "mss"))
    assert float(terms["total_correlation"]) == pytest.approx(mss, rel=1e-5)


@pytest.mark.parametrize("cls, dip_type, factor", [(DIPVAEI, "i", 10.0), (DIPVAEII, "ii", 1.0)])
def test_dip_vae_penalties(cls, dip_type, factor):
    model = _model(cls, lambda_od=2.0)
    assert float(model.lambda_d) == pytest.approx(2.0 * factor)  # study defaults: lambda_d = 10 (I) / 1 (II) x lambda_od
    terms = model.regularizer(KL, MEAN, LOGVAR, Z)
    off, diag = dip_penalties(dip_covariance(MEAN, LOGVAR, dip_type))
    assert float(terms["regularizer"]) == pytest.approx(7.5 + 2.0 * float(off) + 2.0 * factor * float(diag), rel=1e-5)


def test_info_vae_weights():
    terms = _model(InfoVAE, info_alpha=0.5, info_lambda=10.0).regularizer(KL, MEAN, LOGVAR, Z)
    assert float(terms["regularizer"]) == pytest.approx(0.5 * 7.5 + 9.5 * float(terms["mmd"]), rel=1e-5)
    with pytest.raises(ValueError):
        _model(InfoVAE, info_alpha=2.0)


def test_factor_vae_tc_is_the_discriminator_logit_difference():
    model = _model(FactorVAE, gamma=10.0)
    logits = model.discriminator(Z).numpy()
    terms = model.regularizer(KL, MEAN, LOGVAR, Z)
    tc = np.mean(logits[:, 0] - logits[:, 1])
    assert float(terms["total_correlation"]) == pytest.approx(tc, rel=1e-4, abs=1e-6)
    assert float(terms["regularizer"]) == pytest.approx(7.5 + 10.0 * tc, rel=1e-4)


def test_factor_vae_players_do_not_leak_gradients():
    model = _model(FactorVAE, gamma=10.0)
    x = tf.constant(RS.rand(16, 8, 8, 1).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        terms = model.forward(x)
        disc_loss = model.discriminator_loss(terms["z"])
    encoder_grads = tape.gradient(disc_loss, model.encoder.trainable_variables)
    assert all(g is None for g in encoder_grads), "discriminator loss must not reach the encoder"
    disc_grads = tape.gradient(disc_loss, model.discriminator.trainable_variables)
    assert all(g is not None for g in disc_grads)
    # One step: the VAE optimizer never touches discriminator variables and vice versa.
    before = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    model.discriminator_optimizer.learning_rate.assign(0.0)
    model.train_step(x)
    after = [v.numpy() for v in model.discriminator.trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert int(model.optimizer.iterations) == 1 and int(model.discriminator_optimizer.iterations) == 1


def test_train_step_decreases_loss_with_model_fit():
    """Each objective is a keras.Model: model.fit drives its train_step."""
    model = _model(BetaVAE, beta=1.0)
    data = (RS.rand(64, 8, 8, 1) > 0.5).astype(np.float32)
    history = model.fit(data, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_hyperparameters_are_validated():
    assert resolve_hyperparameters("beta_tcvae", {})["beta"] == 6.0
    with pytest.raises(ValueError, match="no hyperparameter gamma"):
        resolve_hyperparameters("beta_tcvae", {"gamma": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        resolve_hyperparameters("beta_vae", {"beta": -1.0})
    with pytest.raises(ValueError, match="one of"):
        resolve_hyperparameters("beta_tcvae", {"tc_estimator": "exact"})
    for name, cls in METHODS.items():
        assert cls.method_name == name
