"""Structured priors p(z) of the Decomposition objective (Mathieu, Rainforth, Siddharth & Teh,
ICML 2019, "Disentangling Disentanglement in VAEs", experiments), as TFP distributions over R^D
(event shape [D]).

Every prior shares the reference code's variance parameterisation: a logit vector l (shape [D],
or [C, D] for a mixture) gives the prior scales

    sigma_p = sqrt(s * D * softmax(l)),                                    s = prior_variance_scale

so the prior variances always sum to s * D and l = 0 gives sigma_p = sqrt(s) in every dimension.
The means are fixed. The priors (``--prior``):

* ``isotropic``    N(0, s I): l = 0 (independence; with s = 1 the usual N(0, I)).
* ``anisotropic``  N(0, diag(sigma_p^2)) with l_d = log lambda_d, the squared singular values of a
                   flattened data sample (the reference's "pca" prior; see :func:`pca_logits`).
* ``mixture``      (1/4) sum_k N(mu_k, diag(sigma_p,k^2)), mu_k in {(0,-1), (0,1), (1,0), (-1,0)}
                   (clustering: the pinwheel experiment).
* ``sparse``       prod_d gamma N(z_d; 0, sigma_0^2) + (1 - gamma) N(z_d; 0, sigma_p,d^2), sigma_0 = 0.05
                   (sparsity; gamma is the weight of the spike).
* ``student_t``    prod_d StudentT(z_d; df, 0, sigma_p,d) (heavy-tailed independence prior; df = 9).

Optionally l is learned (``learnable=True``): it is then a trainable Keras variable of
:class:`DecompositionPrior`, which the objective adds to its optimised and checkpointed variables.
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

PRIORS = ("isotropic", "anisotropic", "mixture", "sparse", "student_t")
# The priors N(0, diag(sigma_p^2)) whose KL to a Gaussian posterior has a closed form.
GAUSSIAN_PRIORS = ("isotropic", "anisotropic")
SPIKE_SCALE = 0.05  # sigma_0 of the sparse prior's spike, hard-coded in the reference.
DEFAULT_STUDENT_DF = 9.0  # the reference's independence script.
MIXTURE_COMPONENTS = 4


def prior_scale(logits: tf.Tensor, variance_scale: float) -> tf.Tensor:
    """sigma_p = sqrt(s * D * softmax(l)) over the last axis (the reference's parameterisation)."""
    logits = tf.convert_to_tensor(logits)
    latent_dim = tf.cast(tf.shape(logits)[-1], logits.dtype)
    return tf.sqrt(variance_scale * latent_dim * tf.nn.softmax(logits, axis=-1))


def mixture_means(latent_dim: int) -> np.ndarray:
    """The 4 mixture means [4, D]: (0,-1), (0,1), (1,0), (-1,0) in the first two dimensions.

    The reference only defines the mixture for D = 2. For D > 2 the same four modes are placed in
    the plane of z_1, z_2 and every other coordinate has mean 0 (so the clusters are separated in
    two dimensions and the rest is a plain Gaussian); D = 1 has no such layout and is refused.
    """
    if latent_dim < 2:
        raise ValueError(f"the mixture prior needs latent_dim >= 2 (its 4 modes lie in the z_1, z_2 "
                         f"plane), got {latent_dim}")
    means = np.zeros((MIXTURE_COMPONENTS, latent_dim), np.float32)
    means[:, :2] = [(0.0, -1.0), (0.0, 1.0), (1.0, 0.0), (-1.0, 0.0)]
    return means


def gaussian_prior(scale: tf.Tensor) -> tfd.Distribution:
    """N(0, diag(scale^2)) with event shape [D]."""
    scale = tf.convert_to_tensor(scale)
    return tfd.Independent(tfd.Normal(loc=tf.zeros_like(scale), scale=scale), reinterpreted_batch_ndims=1,
                           name="gaussian_prior")


def mixture_prior(scale: tf.Tensor, means: np.ndarray, reparameterize: bool = False) -> tfd.Distribution:
    """Equal-weight mixture of N(means[k], diag(scale[k]^2)), k = 1..C; scale and means [C, D].

    log p(z) is the logsumexp over components of the full D-dimensional Gaussian log-density (the
    reference's per-dimension broadcasting quirk, App. A.8, is not reproduced).
    """
    scale = tf.convert_to_tensor(scale)
    means = tf.constant(means, dtype=scale.dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=tf.zeros([means.shape[0]], scale.dtype)),
        # Independent(Normal) rather than MultivariateNormalDiag: TFP's implicit reparameterisation
        # of mixtures needs components that factorise into univariate ones.
        components_distribution=tfd.Independent(tfd.Normal(loc=means, scale=scale), reinterpreted_batch_ndims=1),
        reparameterize=reparameterize, name="mixture_prior")


def sparse_prior(slab_scale: tf.Tensor, gamma: float, spike_scale: float = SPIKE_SCALE) -> tfd.Distribution:
    """prod_d [gamma N(z_d; 0, spike_scale^2) + (1 - gamma) N(z_d; 0, slab_scale_d^2)], event [D].

    A factorised two-component mixture per coordinate. Sampling draws the component of every
    coordinate from Categorical([gamma, 1 - gamma]), i.e. a Bernoulli(gamma) spike mask m, and
    returns m * sigma_0 eps + (1 - m) * sigma_p eps, as the reference. The samples are not
    reparameterised (they only enter D(q(z), p(z)) as data).
    """
    slab_scale = tf.convert_to_tensor(slab_scale)
    dtype = slab_scale.dtype
    scales = tf.stack([tf.fill(tf.shape(slab_scale), tf.cast(spike_scale, dtype)), slab_scale], axis=-1)
    weights = tf.stack([tf.cast(gamma, dtype), tf.cast(1.0 - gamma, dtype)])
    per_dim = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(probs=tf.broadcast_to(weights, tf.shape(scales))),
        components_distribution=tfd.Normal(loc=tf.zeros_like(scales), scale=scales))
    return tfd.Independent(per_dim, reinterpreted_batch_ndims=1, name="sparse_prior")


def student_t_prior(scale: tf.Tensor, df: float) -> tfd.Distribution:
    """prod_d StudentT(z_d; df, 0, scale_d), event [D]."""
    scale = tf.convert_to_tensor(scale)
    return tfd.Independent(tfd.StudentT(df=tf.cast(df, scale.dtype), loc=tf.zeros_like(scale), scale=scale),
                           reinterpreted_batch_ndims=1, name="student_t_prior")


def pca_logits(observations: np.ndarray, latent_dim: int, floor: float = 1e-6) -> np.ndarray:
    """l_d = log lambda_d for the ``anisotropic`` prior: lambda = the D largest squared singular
    values of the flattened (uncentred, as the reference) observations [N, ...], in decreasing order.

    Differences to the reference, which runs ``scipy.sparse.linalg.svds(k=20)`` on the FULL dataset:
    (1) we use a random sample of n observations (a few thousand): its Gram matrix X_n^T X_n
    estimates (n/N) X^T X, so its squared singular values estimate n/N times the full ones, and
    that common factor cancels in softmax(l); (2) we take the D largest values in decreasing
    order, whereas the reference takes the first D entries of svds' output, which is in ascending
    order (checked with scipy 1.17), i.e. the 20th..(21-D)th largest. When fewer than D
    singular values exist (e.g. 2-D observations) the missing ones repeat the smallest. Values are
    floored at ``floor`` x the largest, so a rank-deficient sample does not give log 0.
    """
    data = np.asarray(observations, np.float64).reshape(len(observations), -1)
    rank = min(data.shape)
    if latent_dim < rank - 1 and rank > 64:
        from scipy.sparse.linalg import svds  # pylint: disable=import-outside-toplevel
        singular = svds(data, k=latent_dim, random_state=0, return_singular_vectors=False)
    else:
        singular = np.linalg.svd(data, compute_uv=False)
    squared = np.sort(np.square(singular))[::-1][:latent_dim]
    if len(squared) < latent_dim:
        squared = np.concatenate([squared, np.full(latent_dim - len(squared), squared[-1])])
    squared = np.maximum(squared, floor * max(squared[0], np.finfo(np.float64).tiny))
    return np.log(squared).astype(np.float32)


class DecompositionPrior(keras.layers.Layer):
    """The prior p(z) of :class:`~tfdisent.methods.decomposition.Decomposition`: holds the variance
    logits l (a Keras variable, trainable when ``learnable``) and builds the TFP distribution.

    Args:
      kind: one of :data:`PRIORS`.
      latent_dim: D.
      variance_scale: s in sigma_p = sqrt(s * D * softmax(l)).
      learnable: learn l by gradient descent (the reference's --learn-prior-variance).
      sparse_gamma: weight of the spike of the ``sparse`` prior.
      spike_scale: sigma_0 of the spike.
      student_df: degrees of freedom of the ``student_t`` prior.
    """

    def __init__(self, kind: str, latent_dim: int, variance_scale: float = 1.0, learnable: bool = False,
                 sparse_gamma: float = 0.8, spike_scale: float = SPIKE_SCALE,
                 student_df: float = DEFAULT_STUDENT_DF, **kwargs):
        super().__init__(**kwargs)
        if kind not in PRIORS:
            raise ValueError(f"unknown prior {kind!r}; choose from {', '.join(PRIORS)}")
        if variance_scale <= 0:
            raise ValueError(f"prior_variance_scale must be positive, got {variance_scale}")
        if not 0.0 <= sparse_gamma < 1.0:
            raise ValueError(f"sparse_gamma must be in [0, 1), got {sparse_gamma}")
        if spike_scale <= 0 or student_df <= 0:
            raise ValueError("the spike scale and the Student-t degrees of freedom must be positive")
        self.kind = kind
        self.latent_dim = int(latent_dim)
        self.variance_scale = float(variance_scale)
        self.learnable = bool(learnable)
        self.sparse_gamma = float(sparse_gamma)
        self.spike_scale = float(spike_scale)
        self.student_df = float(student_df)
        self.means = mixture_means(self.latent_dim) if kind == "mixture" else None
        shape = (MIXTURE_COMPONENTS, self.latent_dim) if kind == "mixture" else (self.latent_dim,)
        self.logits = self.add_weight(shape=shape, initializer="zeros", trainable=self.learnable,
                                      name="variance_logits")
        self.built = True  # all state exists now (no input-dependent build step)

    @property
    def has_analytic_kl(self) -> bool:
        """Whether KL(N(mu, sigma^2) || p) has a closed form (the Gaussian priors)."""
        return self.kind in GAUSSIAN_PRIORS

    def set_logits(self, logits: np.ndarray) -> None:
        """Sets l, e.g. to :func:`pca_logits` of the data (``anisotropic``)."""
        self.logits.assign(np.broadcast_to(np.asarray(logits, np.float32), self.logits.shape))

    def scale(self) -> tf.Tensor:
        """sigma_p: [D] ([C, D] for the mixture)."""
        return prior_scale(self.logits, self.variance_scale)

    def distribution(self) -> tfd.Distribution:
        """p(z) with the current l, event shape [D]."""
        scale = self.scale()
        if self.kind in GAUSSIAN_PRIORS:
            return gaussian_prior(scale)
        if self.kind == "mixture":
            # Implicit reparameterisation only when l is learned (costlier, and otherwise unneeded).
            return mixture_prior(scale, self.means, reparameterize=self.learnable)
        if self.kind == "sparse":
            return sparse_prior(scale, self.sparse_gamma, self.spike_scale)
        return student_t_prior(scale, self.student_df)

    def modes(self) -> Optional[np.ndarray]:
        """The prior's modes [K, D] (mixture means; the origin otherwise), e.g. for plots."""
        if self.means is not None:
            return self.means.copy()
        return np.zeros((1, self.latent_dim), np.float32)

    def analytic_kl_per_dim(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        """KL(N(mu, exp(logvar)) || N(0, sigma_p^2)) per sample and dimension [B, D]:
        log sigma_p - logvar/2 + (exp(logvar) + mu^2) / (2 sigma_p^2) - 1/2."""
        if not self.has_analytic_kl:
            raise ValueError(f"the {self.kind} prior has no closed-form KL; use the Monte-Carlo estimate")
        log_prior_var = 2.0 * tf.math.log(self.scale())
        return 0.5 * (log_prior_var - logvar + (tf.exp(logvar) + tf.square(mean)) * tf.exp(-log_prior_var) - 1.0)

    def log_prob_per_dim(self, z: tf.Tensor, prior: Optional[tfd.Distribution] = None) -> Optional[tf.Tensor]:
        """log p_d(z_d) [B, D] for the factorised priors (None for the mixture). ``prior``: the
        already built :meth:`distribution`, if at hand."""
        if self.kind == "mixture":
            return None
        prior = self.distribution() if prior is None else prior
        return prior.distribution.log_prob(z)  # the Independent's per-coordinate distribution
