"""The Gaussian VAE objective that every method extends.

    loss = E_x[ -E_q(z|x) log p(x|z) ] + regularizer(q)

with q(z|x) = N(mu(x), diag(sigma^2(x))) and p(z) = N(0, I) (Kingma & Welling 2014; the
disentanglement_lib ``BaseVAE`` split into reconstruction and a method-specific regularizer).
Subclasses override :meth:`regularizer` only, returning the total and its named terms, so each
method reads like its paper's equation. Losses are summed over pixels/latents and averaged over
the batch.

:meth:`GaussianVAE.forward` is a fixed sequence of hooks, so a method that changes one step overrides
that step only:

    posterior_parameters(data) -> x, mean, logvar      (encode: the one float32 cast of q's parameters)
    sample(mean, logvar) -> z                          (z ~ q(z|x), the step's stateless seed)
    decode(z) -> logits                                (the one float32 cast of the decoder output)
    reconstruction_loss(x, logits), kl_per_dim(mean, logvar)
    regularizer(kl, mean, logvar, z)                   (the method's equation)
    auxiliary_loss(data)                               (extra weighted terms, e.g. supervision)

(weak supervision overrides ``posterior_parameters``, semi-supervision ``auxiliary_loss``, most
methods ``regularizer`` only).

Every method may additionally use the progressive capacity increase of Burgess et al. (2018):
with a :class:`~tfdisent.methods.schedules.CapacitySchedule`, the KL term KL becomes |KL - C(t)|.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import keras
import tensorflow as tf

from tfdisent.data import pipeline
from tfdisent.models import distributions
from tfdisent.methods.hyperparameters import Hyperparameter, defaults, mutable_names
from tfdisent.methods.schedules import CapacitySchedule


class TermMean(keras.metrics.Metric):
    """Running mean of a loss term of any fixed shape (scalars, or e.g. the KL of each latent)."""

    def __init__(self, name: str, shape=(), **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=shape, initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, value):
        self.total.assign_add(tf.cast(value, self.total.dtype))
        self.count.assign_add(1.0)

    def result(self):
        return self.total / tf.maximum(self.count, 1.0)


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
    # The hyperparameter that sets the regularisation strength (study reports plot against it) and its
    # direction: True when a larger value regularises more (beta), False when a smaller one does
    # (annealed_vae's capacity c_max). None: the method has no single strength.
    strength: Optional[str] = None
    strength_increases: bool = True
    # Mutable hyperparameters population-based training may explore (tfdisent.pbt drives the first with
    # its beta schedule, which grows a value to strengthen the regularisation). Empty: not for PBT.
    pbt_explores: Tuple[str, ...] = ()

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
        self._trackers: Dict[str, TermMean] = {}
        # Variables of the hyperparameters declared ``mutable`` (see :meth:`mutable_variable`).
        self.mutable_state = tf.Module(name="hyperparameters")

    def mutable_variable(self, name: str, value: float) -> tf.Variable:
        """A float32 variable holding hyperparameter ``name``: the compiled step reads it, so assigning
        it (:meth:`set_mutable_hyperparameters`) takes effect at the next step without retracing."""
        variable = tf.Variable(float(value), dtype=tf.float32, trainable=False, name=name)
        setattr(self.mutable_state, name, variable)
        return variable

    def mutable_hyperparameters(self) -> Dict[str, float]:
        """Current values of the hyperparameters declared ``mutable``."""
        return {name: float(getattr(self, name).numpy()) for name in mutable_names(self.hyperparameters)}

    def set_mutable_hyperparameters(self, values: Dict[str, float]) -> None:
        """Assigns new values (validated like constructor arguments) to mutable hyperparameters."""
        known = {h.name: h for h in self.hyperparameters if h.mutable}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{self.method_name}: {', '.join(unknown)} cannot change during training "
                             f"(mutable: {', '.join(sorted(known)) or 'none'})")
        for name, value in values.items():
            getattr(self, name).assign(float(known[name].validate(value, self.method_name)))

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

    # --- the forward pass, one hook per step (see the module docstring) ---------------------------
    def encode(self, x: tf.Tensor, training: bool) -> Tuple[tf.Tensor, tf.Tensor]:
        """(mean, logvar) of q(z|x), in float32.

        Distributions and losses are computed in float32 even when the networks run in mixed
        precision (the log-densities and logsumexps of the estimators need the range): this and
        :meth:`decode` are the only places the network outputs are cast.
        """
        return tuple(tf.cast(t, tf.float32) for t in self.encoder(x, training=training))

    def decode(self, z: tf.Tensor, training: bool) -> tf.Tensor:
        """Logits of p(x|z), in float32 (see :meth:`encode`)."""
        return tf.cast(self.decoder(z, training=training), tf.float32)

    def posterior_parameters(self, data, training: bool) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor, Dict[str, tf.Tensor]]:
        """The observations x the loss reconstructs, the parameters (mean, logvar) of the posterior z
        is drawn from, and extra terms to log. Default: ``data`` is the batch x (or a dict holding it
        under ``"x"``, as the labelled streams do) and the posterior is q(z|x)."""
        x = data["x"] if isinstance(data, dict) else data
        mean, logvar = self.encode(x, training)
        return x, mean, logvar, {}

    def sample(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        """z ~ N(mean, diag(exp(logvar))) with the step's stateless seed (reparameterised)."""
        return distributions.posterior(mean, logvar).sample(seed=self.step_seed(0))

    def reconstruction_loss(self, x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """Batch mean of -log p(x|z), summed over pixels."""
        return tf.reduce_mean(distributions.reconstruction_loss(x, logits, self.likelihood))

    def kl_per_dim(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        """Batch mean of KL(q(z_j|x) || N(0, 1)) per latent j: [D]."""
        return tf.reduce_mean(distributions.kl_divergence_per_dim(mean, logvar), axis=0)

    def auxiliary_loss(self, data, training: bool) -> Tuple[Optional[tf.Tensor], Dict[str, tf.Tensor]]:
        """An extra loss added to reconstruction + regularizer (None: none) and its terms to log."""
        del data, training
        return None, {}

    def forward(self, data, training: bool = True) -> Dict[str, tf.Tensor]:
        """Encodes, samples z ~ q(z|x) with the step's seed, decodes and evaluates every loss term.

        Returns the scalar terms (``loss``, ``reconstruction``, ``kl``, ``elbo``, ``regularizer``,
        method terms, ``kl_per_dim`` [D]) and the tensors ``mean``, ``logvar``, ``z``.
        """
        x, mean, logvar, extra = self.posterior_parameters(data, training)
        z = self.sample(mean, logvar)
        logits = self.decode(z, training)
        reconstruction = self.reconstruction_loss(x, logits)
        kl_per_dim = self.kl_per_dim(mean, logvar)
        kl = tf.reduce_sum(kl_per_dim)
        terms = dict(self.regularizer(kl, mean, logvar, z))
        terms.update(loss=reconstruction + terms["regularizer"], reconstruction=reconstruction, kl=kl,
                     elbo=-(reconstruction + kl), kl_per_dim=kl_per_dim, **extra)
        if self.capacity is not None:
            terms["capacity"] = self.capacity(self.step)
        terms.update(mean=mean, logvar=logvar, z=z)
        added, auxiliary = self.auxiliary_loss(data, training)
        if added is not None:
            terms["loss"] = terms["loss"] + added
        terms.update(auxiliary)
        return terms

    @staticmethod
    def scalars(terms: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The loggable outputs of a step (drops the per-sample tensors)."""
        return {k: v for k, v in terms.items() if k not in ("mean", "logvar", "z")}

    # --- Keras' step contract: running means of every term ------------------------------------------
    def track(self, logs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Adds one step's terms to their running means and returns the means so far.

        One :class:`TermMean` per term (vectors such as ``kl_per_dim`` too), created on first use;
        ``model.fit``/``model.evaluate`` reset them every epoch (they are the model's ``metrics``) and
        the Trainer every logging interval, so both report means, not the last batch.
        """
        results = {}
        for name, value in logs.items():
            tracker = self._trackers.get(name)
            if tracker is None:
                with tf.init_scope():  # variables are created outside the traced step
                    tracker = TermMean(name, shape=tuple(value.shape))
                self._trackers[name] = tracker
            tracker.update_state(value)
            results[name] = tracker.result()
        return results

    @property
    def metrics(self):
        return list(self._trackers.values())

    def train_step(self, data):
        """One optimisation step (:meth:`optimization_step`); returns the running means of its terms
        (Keras ``train_step`` contract)."""
        return self.track(self.optimization_step(data))

    def test_step(self, data):
        """The terms on a batch in inference mode, as running means (Keras ``test_step`` contract)."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self.track(self.scalars(self.forward(x, training=False)))

    def optimization_step(self, data) -> Dict[str, tf.Tensor]:
        """One Adam step on the VAE loss; returns this batch's terms."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        variables = self.vae_variables()
        with tf.GradientTape() as tape:
            terms = self.forward(x, training=True)
            # Identity unless the optimizer is a LossScaleOptimizer (mixed precision).
            scaled_loss = self.optimizer.scale_loss(terms["loss"])
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
        return self.scalars(terms)

    def checkpoint_objects(self) -> Dict[str, object]:
        """Everything a resumable checkpoint must hold (models and optimizers, all built)."""
        return {"encoder": self.encoder, "decoder": self.decoder, "optimizer": self.optimizer,
                "hyperparameters": self.mutable_state}

    def declared_hyperparameters(self) -> Dict[str, object]:
        """The values of the declared hyperparameters, as Python values (mutable ones read now)."""
        return {name: _plain(getattr(self, name)) for name in defaults(self.hyperparameters)}

    def get_hyperparameters(self) -> Dict[str, object]:
        """The objective's hyperparameters, for the run config and TensorBoard HParams."""
        params = self.declared_hyperparameters()
        if self.capacity is not None:
            params.update({f"capacity_{k}": v for k, v in self.capacity.get_config().items()})
        return params


def _plain(value):
    """A Python number for a hyperparameter held as a variable (mutable ones), else the value."""
    return float(value.numpy()) if isinstance(value, tf.Variable) else value
