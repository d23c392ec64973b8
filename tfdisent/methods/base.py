"""The Gaussian VAE objective that every method extends.

    loss = E_x[ -E_q(z|x) log p(x|z) ] + regularizer(q)

with q(z|x) = N(mu(x), diag(sigma^2(x))) and p(z) = N(0, I) (Kingma & Welling 2014; the
disentanglement_lib ``BaseVAE`` split into reconstruction and a method-specific regularizer).
Subclasses override :meth:`regularizer` only, returning the total and its named terms, so each
method reads like its paper's equation. Losses are summed over pixels/latents and averaged over
the batch.

Every method may additionally use the progressive capacity increase of Burgess et al. (2018):
with a :class:`~tfdisent.methods.schedules.CapacitySchedule`, the KL term KL becomes |KL - C(t)|.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import keras
import tensorflow as tf

from tfdisent.data import pipeline
from tfdisent.models import distributions
from tfdisent.methods.hyperparameters import Hyperparameter, defaults
from tfdisent.methods.schedules import CapacitySchedule


class GaussianVAE(keras.Model):
    """Base class: a VAE with a diagonal Gaussian posterior and a standard normal prior.

    Args:
      encoder: model mapping x -> (mean, logvar).
      decoder: model mapping z -> logits of p(x|z).
      likelihood: ``bernoulli`` or ``gaussian`` (see :mod:`tfdisent.models.distributions`).
      dataset_size: N, needed by estimators of q(z) (beta-TCVAE).
      capacity: optional progressive-capacity schedule applied to the KL term.
      seed: base of the stateless per-step random seeds (sampling is reproducible and a resumed
        run draws the same noise as an uninterrupted one).
    """

    method_name = "gaussian_vae"
    # The objective's hyperparameters (constructor keyword arguments and ``tfdisent-train`` flags).
    hyperparameters: Tuple[Hyperparameter, ...] = ()

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, likelihood: str = "bernoulli",
                 dataset_size: int = 1, capacity: Optional[CapacitySchedule] = None, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        if likelihood not in distributions.LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose from {distributions.LIKELIHOODS}")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.dataset_size = int(dataset_size)
        self.capacity = capacity
        self.seed = int(seed) % (2 ** 31 - 1)

    def adapt(self, dataset) -> None:
        """Called once with the training dataset before the optimizer is built, for objectives whose
        parameters depend on the data (e.g. a prior fitted to its principal components). Default: no-op."""
        del dataset

    def training_dataset(self, dataset, batch_size: int, seed: int) -> tf.data.Dataset:
        """The infinite ``tf.data`` stream of training batches this objective's ``train_step`` takes.

        Default: i.i.d. observation batches (:func:`tfdisent.data.pipeline.training_dataset`).
        Objectives that learn from other data (pairs of observations, labelled subsets) override it;
        the result must be a deterministic function of ``seed`` whose iterator is checkpointable.
        """
        return pipeline.training_dataset(dataset, batch_size, seed)

    # --- pieces shared by all objectives --------------------------------------------------------
    @property
    def step(self) -> tf.Tensor:
        """Training step t: the number of VAE updates applied so far (checkpointed with the optimizer)."""
        return self.optimizer.iterations

    def step_seed(self, salt: int) -> tf.Tensor:
        """A stateless int32 [2] seed unique to (run seed, salt, step)."""
        return tf.stack([tf.constant((self.seed * 131 + salt) % (2 ** 31 - 1), tf.int32),
                         tf.cast(self.step % (2 ** 31 - 1), tf.int32)])

    def vae_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def call(self, x, training=False):
        """Mean reconstruction E[x | z = mu(x)], for inspection and Keras' ``predict``."""
        mean, _ = self.encoder(x, training=training)
        return distributions.mean_prediction(self.decoder(mean, training=training), self.likelihood)

    def kl_term(self, kl: tf.Tensor) -> tf.Tensor:
        """KL, or |KL - C(t)| under a capacity schedule (Burgess et al. 2018, Eq. 8)."""
        if self.capacity is None:
            return kl
        return tf.abs(kl - self.capacity(self.step))

    def regularizer(self, kl: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor,
                    z: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Returns ``{"regularizer": total, <named terms>...}``. ``kl`` is the batch-mean KL."""
        raise NotImplementedError

    def forward(self, x: tf.Tensor, training: bool = True) -> Dict[str, tf.Tensor]:
        """Encodes, samples z ~ q(z|x) with the step's seed, decodes and evaluates every loss term.

        Returns the scalar terms (``loss``, ``reconstruction``, ``kl``, ``elbo``, ``regularizer``,
        method terms, ``kl_per_dim`` [D]) and the tensors ``mean``, ``logvar``, ``z``.
        """
        # Distributions and losses are computed in float32 even when the networks run in
        # mixed_float16 (the log-densities and logsumexps of the estimators need the range).
        mean, logvar = (tf.cast(t, tf.float32) for t in self.encoder(x, training=training))
        z = distributions.posterior(mean, logvar).sample(seed=self.step_seed(0))
        logits = tf.cast(self.decoder(z, training=training), tf.float32)
        reconstruction = tf.reduce_mean(distributions.reconstruction_loss(x, logits, self.likelihood))
        kl_per_dim = tf.reduce_mean(distributions.kl_divergence_per_dim(mean, logvar), axis=0)
        kl = tf.reduce_sum(kl_per_dim)
        terms = dict(self.regularizer(kl, mean, logvar, z))
        terms.update(loss=reconstruction + terms["regularizer"], reconstruction=reconstruction, kl=kl,
                     elbo=-(reconstruction + kl), kl_per_dim=kl_per_dim)
        if self.capacity is not None:
            terms["capacity"] = self.capacity(self.step)
        terms.update(mean=mean, logvar=logvar, z=z)
        return terms

    @staticmethod
    def scalars(terms: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The loggable outputs of a step (drops the per-sample tensors)."""
        return {k: v for k, v in terms.items() if k not in ("mean", "logvar", "z")}

    def train_step(self, data):
        """One Adam step on the VAE loss (Keras ``train_step`` contract: returns the logs)."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        variables = self.vae_variables()
        with tf.GradientTape() as tape:
            terms = self.forward(x, training=True)
            # Identity unless the optimizer is a LossScaleOptimizer (mixed precision).
            scaled_loss = self.optimizer.scale_loss(terms["loss"])
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
        return self.scalars(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self.scalars(self.forward(x, training=False))

    def checkpoint_objects(self) -> Dict[str, object]:
        """Everything a resumable checkpoint must hold (models and optimizers, all built)."""
        return {"encoder": self.encoder, "decoder": self.decoder, "optimizer": self.optimizer}

    def get_hyperparameters(self) -> Dict[str, object]:
        """The objective's hyperparameters, for the run config and TensorBoard HParams."""
        params = {name: getattr(self, name) for name in defaults(self.hyperparameters)}
        if self.capacity is not None:
            params.update({f"capacity_{k}": v for k, v in self.capacity.get_config().items()})
        return params
