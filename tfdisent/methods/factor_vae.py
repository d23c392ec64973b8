"""FactorVAE (Kim & Mnih 2018, Eq. 2 and Alg. 2):

    loss_vae  = recon + KL + gamma * E_q(z)[ D_0(z) - D_1(z) ],
    loss_disc = -( 1/2 E_q(z)[log softmax(D(z))_0] + 1/2 E_perm[log softmax(D(perm(z)))_1] ),

where D_0 - D_1 is the discriminator's logit difference, a density-ratio estimate of the total
correlation log q(z) / prod_j q(z_j). perm(z) shuffles each latent across the batch. As in
disentanglement_lib the same minibatch feeds both updates (Kim & Mnih draw a second batch for
the permutation), and the discriminator has its own Adam(1e-4, beta1 0.5, beta2 0.9).

The discriminator update sees ``stop_gradient(z)`` and only updates discriminator variables;
the VAE update only updates encoder/decoder variables, so no gradient crosses between the two
players. Unlike the reference, one VAE step advances the step counter by one (not two).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.estimators import permute_dims
from tfdisent.methods.hyperparameters import Hyperparameter
from tfdisent.models.discriminator import FactorDiscriminator


class FactorVAE(GaussianVAE):
    method_name = "factor_vae"
    strength = "gamma"
    pbt_explores = ("gamma",)
    hyperparameters = (
        Hyperparameter("gamma", 40.0, "weight of the discriminator's total-correlation estimate", mutable=True),
        Hyperparameter("discriminator_learning_rate", 1e-4, "discriminator Adam learning rate"),
        Hyperparameter("discriminator_layers", 6, "hidden layers of the discriminator", int, lower_bound=1),
    )

    def __init__(self, encoder, decoder, *, gamma: float = 40.0, discriminator_learning_rate: float = 1e-4,
                 discriminator_layers: int = 6, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {gamma}")
        if discriminator_learning_rate <= 0:
            raise ValueError("discriminator_learning_rate must be positive")
        self.gamma = self.mutable_variable("gamma", gamma)
        self.discriminator_learning_rate = float(discriminator_learning_rate)
        self.discriminator_layers = int(discriminator_layers)
        self.discriminator = FactorDiscriminator(num_layers=self.discriminator_layers)
        self.discriminator(tf.zeros((1, encoder.latent_dim)))
        self.discriminator_optimizer = keras.optimizers.Adam(
            self.discriminator_learning_rate, beta_1=0.5, beta_2=0.9, epsilon=1e-8)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def regularizer(self, kl, mean, logvar, z):
        logits = self.discriminator(z, training=True)
        # float32 like every loss term (the discriminator may run in float16 under mixed precision).
        tc = tf.cast(tf.reduce_mean(logits[:, 0] - logits[:, 1]), tf.float32)
        return {"regularizer": self.kl_term(kl) + self.gamma * tc, "total_correlation": tc}

    def discriminator_loss(self, z: tf.Tensor) -> tf.Tensor:
        z = tf.stop_gradient(z)
        log_p_real = tf.nn.log_softmax(self.discriminator(z, training=True))
        log_p_perm = tf.nn.log_softmax(self.discriminator(permute_dims(z, self.step_seed(2)), training=True))
        return -(0.5 * tf.reduce_mean(log_p_real[:, 0]) + 0.5 * tf.reduce_mean(log_p_perm[:, 1]))

    def optimization_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        vae_variables = self.vae_variables()
        with tf.GradientTape() as tape:
            terms = self.forward(x, training=True)
            scaled_loss = self.optimizer.scale_loss(terms["loss"])
        disc_variables = self.discriminator.trainable_variables
        with tf.GradientTape() as disc_tape:
            disc_loss = self.discriminator_loss(terms["z"])
        # Both gradients are taken before either update: the two players move simultaneously.
        vae_gradients = tape.gradient(scaled_loss, vae_variables)
        disc_gradients = disc_tape.gradient(disc_loss, disc_variables)
        self.discriminator_optimizer.apply(disc_gradients, disc_variables)
        self.optimizer.apply(vae_gradients, vae_variables)
        logs = self.scalars(terms)
        logs["discriminator_loss"] = disc_loss
        return logs

    def checkpoint_objects(self):
        objects = super().checkpoint_objects()
        objects.update(discriminator=self.discriminator, discriminator_optimizer=self.discriminator_optimizer)
        return objects
