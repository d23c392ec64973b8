"""Weakly supervised VAEs on pairs of observations (Locatello et al. 2020, "Weakly-Supervised
Disentanglement Without Compromises", ICML; disentanglement_lib's ``methods/weak/weak_vae.py``).

The model sees pairs (x1, x2) known to share all but a few factors. Each pair's two posteriors are
aggregated on the latents it believes shared (Eq. 6 of the paper, the GroupVAE/ML-VAE averages):

    q~(z_j | x1) = q~(z_j | x2) = a(q(z_j | x1), q(z_j | x2))   for j shared,
    q~(z_j | x_i) = q(z_j | x_i)                                  otherwise,

and the loss is the beta-ELBO of both observations under the aggregated posteriors (Eq. 7):

    loss = 1/2 (rec(x1 | z1) + rec(x2 | z2)) + beta * 1/2 (KL(q~(z|x1) || p) + KL(q~(z|x2) || p)),
    z_i ~ q~(z | x_i).

Shared latents (Sec. 4.1, the "Ada" adaptive rule): per pair and latent dimension,

    delta_j = 2 KL(q(z_j|x1) || q(z_j|x2)) = s1/s2 + (m2 - m1)^2 / s2 - 1 + log s2 - log s1     (s = sigma^2),

and latent j is shared when delta_j < 1/2 (min_j delta_j + max_j delta_j): the two-bin histogram
threshold of the reference (dimensions in the upper bin keep their own posteriors). The ``_labels``
variants know which factors changed and share every latent j except those whose index is a changed
factor (latent j <-> factor j, as in the reference; needs latent_dim >= number of factors).

Averages ``a`` (Sec. 4.1):

* GVAE (Hosoya 2019): m = (m1 + m2) / 2, s = (s1 + s2) / 2.
* ML-VAE (Bouchacourt et al. 2018), the product of experts normalised to two observations:
  s = 2 s1 s2 / (s1 + s2), m = (m1 / s1 + m2 / s2) / 2 * s.
"""

from __future__ import annotations

from typing import Dict

import tensorflow as tf

from tfdisent.data import weak_pairs
from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.hyperparameters import Hyperparameter

AGGREGATIONS = ("gvae", "ml_vae")


def pair_divergence(mean1: tf.Tensor, logvar1: tf.Tensor, mean2: tf.Tensor, logvar2: tf.Tensor) -> tf.Tensor:
    """delta_j = 2 KL(N(m1, s1) || N(m2, s2)) per latent dimension: [B, d]."""
    return (tf.exp(logvar1 - logvar2) + tf.square(mean2 - mean1) * tf.exp(-logvar2) - 1.0
            + logvar2 - logvar1)


def adaptive_shared_mask(divergence: tf.Tensor) -> tf.Tensor:
    """True where a latent is shared: delta_j below the midpoint of the pair's smallest and largest delta.

    (When all deltas are equal nothing is shared: every dimension is in the upper bin.)
    """
    low = tf.reduce_min(divergence, axis=1, keepdims=True)
    high = tf.reduce_max(divergence, axis=1, keepdims=True)
    return divergence < 0.5 * (low + high)


def gvae_average(mean1, logvar1, mean2, logvar2):
    """GroupVAE average of two Gaussians: m = (m1 + m2) / 2, s = (s1 + s2) / 2. Returns (mean, logvar)."""
    variance = 0.5 * (tf.exp(logvar1) + tf.exp(logvar2))
    return 0.5 * (mean1 + mean2), tf.math.log(variance)


def ml_vae_average(mean1, logvar1, mean2, logvar2):
    """ML-VAE (product of experts) average: s = 2 s1 s2 / (s1 + s2), m = (m1/s1 + m2/s2) / 2 * s."""
    var1, var2 = tf.exp(logvar1), tf.exp(logvar2)
    variance = 2.0 * var1 * var2 / (var1 + var2)
    mean = 0.5 * (mean1 / var1 + mean2 / var2) * variance
    return mean, tf.math.log(variance)


def aggregate_posteriors(mean1, logvar1, mean2, logvar2, shared, aggregation: str):
    """The aggregated posteriors q~(z|x1), q~(z|x2) of Eq. 6: the average where ``shared``, own elsewhere."""
    average = {"gvae": gvae_average, "ml_vae": ml_vae_average}[aggregation]
    mean_avg, logvar_avg = average(mean1, logvar1, mean2, logvar2)
    return (tf.where(shared, mean_avg, mean1), tf.where(shared, logvar_avg, logvar1),
            tf.where(shared, mean_avg, mean2), tf.where(shared, logvar_avg, logvar2))


class WeakVAE(GaussianVAE):
    """Base of the four weakly supervised objectives; ``aggregation`` and ``use_labels`` pick one."""

    method_name = "weak_vae"
    strength = "beta"
    # Not explored by PBT: tfdisent.pbt is the unsupervised PBT of Estermann et al. (2020).
    pbt_explores = ()
    aggregation = "gvae"
    use_labels = False
    hyperparameters = (
        Hyperparameter("beta", 1.0, "weight of the KL of the aggregated posteriors", mutable=True),
        Hyperparameter("k", 1, "factors changed within a training pair; -1 draws k in [1, F-1] per pair",
                       int, lower_bound=-1),
        Hyperparameter("pair_dynamics", "exact", "pair sampling: exact (k distinct factors take new values) or "
                       "dlib (disentanglement_lib: coin flip between 1 and k changed, values may repeat)", str,
                       choices=weak_pairs.PAIR_DYNAMICS, lower_bound=None),
    )

    def __init__(self, encoder, decoder, *, beta: float = 1.0, k: int = 1, pair_dynamics: str = "exact",
                 **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        if k == 0 or k < -1:
            raise ValueError(f"k must be -1 (random) or at least 1, got {k}")
        if pair_dynamics not in weak_pairs.PAIR_DYNAMICS:
            raise ValueError(f"pair_dynamics must be one of {', '.join(weak_pairs.PAIR_DYNAMICS)}")
        self.beta = self.mutable_variable("beta", beta)
        self.k = int(k)
        self.pair_dynamics = pair_dynamics

    def adapt(self, dataset) -> None:
        """Refuses datasets and settings that cannot give the pairs (one-line DatasetError)."""
        weak_pairs.check_pair_settings(dataset, self.k, self.pair_dynamics)
        if self.use_labels and self.encoder.latent_dim < dataset.num_factors:
            raise ValueError(f"{self.method_name} ties latent j to factor j: --latent_dim must be at least the "
                             f"{dataset.num_factors} factors of {dataset.name}, got {self.encoder.latent_dim}")

    def training_dataset(self, dataset, batch_size: int, seed: int) -> tf.data.Dataset:
        """Batches of pairs ``(x1, x2, changed)`` (:func:`tfdisent.data.weak_pairs.pair_dataset`)."""
        return weak_pairs.pair_dataset(dataset, batch_size, seed, self.k, self.pair_dynamics)

    def regularizer(self, kl, mean, logvar, z):
        """beta * 1/2 (KL1 + KL2); ``kl`` is already the mean over both observations of each pair."""
        return {"regularizer": self.beta * self.kl_term(kl)}

    def shared_latents(self, mean1, logvar1, mean2, logvar2, changed) -> tf.Tensor:
        """Bool [B, d]: the latents whose posteriors are averaged."""
        if self.use_labels:
            latent_dim = mean1.shape[-1]
            changed = tf.cast(changed, tf.bool)
            pad = latent_dim - changed.shape[-1]
            changed = tf.pad(changed, [[0, 0], [0, pad]]) if pad else changed
            return tf.logical_not(changed)
        return adaptive_shared_mask(pair_divergence(mean1, logvar1, mean2, logvar2))

    def posterior_parameters(self, data, training: bool):
        """Eq. 6 on a batch of pairs ``(x1, x2, changed)``: x = [x1; x2] and the aggregated posteriors
        [q~(z|x1); q~(z|x2)], so the base class' means over the 2B observations are Eq. 7's
        1/2 (rec1 + rec2) and 1/2 (KL1 + KL2) of batch means."""
        x1, x2, changed = data
        batch = tf.shape(x1)[0]
        x = tf.concat([x1, x2], 0)
        # One encoder call for both halves; q(z|x) of each observation is unaffected by the other.
        mean, logvar = self.encode(x, training)
        mean1, mean2 = mean[:batch], mean[batch:]
        logvar1, logvar2 = logvar[:batch], logvar[batch:]
        shared = self.shared_latents(mean1, logvar1, mean2, logvar2, changed)
        m1, v1, m2, v2 = aggregate_posteriors(mean1, logvar1, mean2, logvar2, shared, self.aggregation)
        shared_count = tf.reduce_mean(tf.reduce_sum(tf.cast(shared, tf.float32), axis=1))
        return x, tf.concat([m1, m2], 0), tf.concat([v1, v2], 0), {"shared_latents": shared_count}

    def optimization_step(self, data) -> Dict[str, tf.Tensor]:
        """One Adam step on Eq. 7 for a batch of pairs; returns this batch's terms."""
        variables = self.vae_variables()
        with tf.GradientTape() as tape:
            terms = self.forward(tuple(data), training=True)
            scaled_loss = self.optimizer.scale_loss(terms["loss"])
        self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        return self.scalars(terms)

    def test_step(self, data):
        """The terms on a batch of pairs in inference mode, as running means (the base unpacks single
        observation batches)."""
        return self.track(self.scalars(self.forward(tuple(data), training=False)))


class AdaGVAE(WeakVAE):
    """Ada-GVAE: adaptive shared latents, GroupVAE average (Locatello et al. 2020, Eqs. 6-7)."""

    method_name = "ada_gvae"
    aggregation = "gvae"


class AdaMLVAE(WeakVAE):
    """Ada-ML-VAE: adaptive shared latents, ML-VAE (product of experts) average."""

    method_name = "ada_ml_vae"
    aggregation = "ml_vae"


class AdaGVAELabels(WeakVAE):
    """GVAE with the changed factors known (the paper's "GVAE" with labels of which factor changed)."""

    method_name = "ada_gvae_labels"
    aggregation = "gvae"
    use_labels = True


class AdaMLVAELabels(WeakVAE):
    """ML-VAE with the changed factors known."""

    method_name = "ada_ml_vae_labels"
    aggregation = "ml_vae"
    use_labels = True
