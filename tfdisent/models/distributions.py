"""Posterior, prior and likelihood distributions (TensorFlow Probability) and their closed forms.

Conventions (disentanglement_lib, Locatello et al. 2019): losses are summed over pixels and
latent dimensions and averaged over the batch.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "gaussian", "normal", "laplace")
# ``normal`` and ``laplace`` (Mathieu et al. 2019) model unbounded data with an identity mean; see
# "Likelihoods with an identity mean" at the end of this module.
# The Gaussian likelihood has a fixed variance of 1/2 so that -log p(x|z) equals the squared error
# sum_pixels (x - sigmoid(logits))^2 of disentanglement_lib's ``l2_loss`` once the normalising
# constant 0.5*log(pi) per pixel is taken off.
_GAUSSIAN_SCALE = math.sqrt(0.5)
_GAUSSIAN_LOG_NORMALIZER = 0.5 * math.log(math.pi)


def posterior(mean: tf.Tensor, logvar: tf.Tensor) -> tfd.Distribution:
    """q(z|x) = N(mean, diag(exp(logvar)))."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * logvar))


def standard_normal_prior(latent_dim: int, dtype=tf.float32) -> tfd.Distribution:
    """p(z) = N(0, I)."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim], dtype))


def gaussian_log_density(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Elementwise log N(z; mean, exp(logvar)) (broadcasting), the building block of TC estimators."""
    return -0.5 * (tf.square(z - mean) * tf.exp(-logvar) + logvar + math.log(2.0 * math.pi))


def kl_divergence_per_dim(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per sample and dimension: 0.5 (mu^2 + s^2 - log s^2 - 1)."""
    return 0.5 * (tf.square(mean) + tf.exp(logvar) - logvar - 1.0)


def likelihood(logits: tf.Tensor, kind: str = "bernoulli") -> tfd.Distribution:
    """p(x|z) given decoder logits: Bernoulli(logits) or Gaussian(sigmoid(logits), 1/2), as one event."""
    logits = tf.convert_to_tensor(logits)
    event_ndims = logits.shape.rank - 1
    if kind == "bernoulli":
        base = tfd.Bernoulli(logits=logits, dtype=logits.dtype)
    elif kind == "gaussian":
        base = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.cast(_GAUSSIAN_SCALE, logits.dtype))
    elif kind in ("normal", "laplace"):
        return _identity_mean_likelihood(logits, kind)
    else:
        raise ValueError(f"unknown likelihood {kind!r}; choose from {LIKELIHOODS}")
    return tfd.Independent(base, reinterpreted_batch_ndims=event_ndims)


def reconstruction_loss(x: tf.Tensor, logits: tf.Tensor, kind: str = "bernoulli") -> tf.Tensor:
    """Per-sample reconstruction loss [B], equal to disentanglement_lib's ``bernoulli_loss`` /
    ``l2_loss``: the negative log-likelihood, minus the Gaussian normaliser for ``gaussian``.

    The Bernoulli log-probability of continuous targets in [0, 1] is the sigmoid cross-entropy,
    which is what the reference optimises for greyscale and colour images alike.
    """
    logits = tf.convert_to_tensor(logits)
    x = tf.cast(x, logits.dtype)
    if kind == "normal" and logits.shape[-1] is not None and x.shape[-1] is not None \
            and logits.shape[-1] != 2 * x.shape[-1]:
        # Without this check a decoder emitting C outputs would silently broadcast C/2 means over C.
        raise ValueError(f"the normal likelihood needs a decoder emitting 2 x the observation channels "
                         f"({2 * x.shape[-1]}; e.g. architecture mlp_normal), got {logits.shape[-1]}")
    nll = -likelihood(logits, kind).log_prob(x)
    if kind == "gaussian":
        num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), logits.dtype)
        nll -= _GAUSSIAN_LOG_NORMALIZER * num_pixels
    return nll


def mean_prediction(logits: tf.Tensor, kind: str = "bernoulli") -> tf.Tensor:
    """E[x|z]: sigmoid(logits) for bernoulli/gaussian (pixel intensities in [0, 1]); the mean half of
    the outputs for ``normal``; the outputs themselves for ``laplace``."""
    if kind == "normal":
        return _split_normal_outputs(logits)[0]
    if kind == "laplace":
        return tf.convert_to_tensor(logits)
    return tf.sigmoid(logits)  # bernoulli and gaussian put their mean at sigmoid(logits)


# --- Likelihoods with an identity mean (Mathieu et al. 2019, reference code) ---------------------
# ``normal``: N(x; mean, softplus(s)^2) with a learned per-point scale, the pinwheel likelihood. The
#   decoder emits twice the observation's last axis: [..., :C] is the mean, [..., C:] the
#   pre-softplus scale (architecture ``mlp_normal``). For data that is not in [0, 1].
# ``laplace``: Laplace(x; mean, 0.1) with the decoder output as the mean (no sigmoid), the
#   Fashion-MNIST likelihood of the sparsity experiment.
# Both losses are the full negative log-likelihood (normalisers included), so they can be negative.
_NORMAL_MIN_SCALE = 1e-6
LAPLACE_SCALE = 0.1


def _split_normal_outputs(logits: tf.Tensor):
    """(mean, scale) from a decoder output whose last axis holds the mean then the raw scale."""
    logits = tf.convert_to_tensor(logits)
    channels = logits.shape[-1]
    if channels is None or channels % 2:
        raise ValueError(f"the normal likelihood needs a decoder emitting 2 x the observation channels "
                         f"(mean and scale, e.g. architecture mlp_normal), got last axis {channels}")
    mean, raw_scale = tf.split(logits, 2, axis=-1)
    return mean, tf.nn.softplus(raw_scale) + _NORMAL_MIN_SCALE


def _identity_mean_likelihood(logits: tf.Tensor, kind: str) -> tfd.Distribution:
    logits = tf.convert_to_tensor(logits)
    event_ndims = logits.shape.rank - 1
    if kind == "normal":
        mean, scale = _split_normal_outputs(logits)
        base = tfd.Normal(loc=mean, scale=scale)
    else:
        base = tfd.Laplace(loc=logits, scale=tf.cast(LAPLACE_SCALE, logits.dtype))
    return tfd.Independent(base, reinterpreted_batch_ndims=event_ndims)
