"""Decomposition (Mathieu, Rainforth, Siddharth & Teh, ICML 2019, "Disentangling Disentanglement in
VAEs", their objective L_{alpha,beta}):

    L_{alpha,beta}(x) = E_q(z|x)[log p(x|z)] - beta * KL(q(z|x) || p(z)) - alpha * D(q(z), p(z))

    loss = recon + beta * KLhat + alpha * Dhat

beta controls the overlap of the encodings, alpha the match between the aggregate posterior
q(z) = E_x q(z|x) and a structured prior p(z) (:mod:`tfdisent.models.priors`: independence with an
isotropic/anisotropic Gaussian or a Student-t, clustering with a mixture, sparsity with a
spike-and-slab). As in the reference code (iffsid/disentangling-disentanglement):

* KLhat is the closed-form KL for a Gaussian prior, otherwise the one-sample Monte-Carlo estimate
  log q(z|x) - log p(z) at the SAME z that is decoded in the reconstruction term.
* Dhat (``divergence``), estimated on the minibatch:
  - ``mmd``: sum over the 6 inverse-multiquadratic bandwidths C = 2s, s in {0.1, 0.2, 0.5, 1, 2, 5},
    and over latent dimensions of the unbiased 1-D MMD^2 between B fresh prior samples and the B
    posterior samples z (:func:`dimwise_imq_mmd`). Matching each marginal is what a factorised
    (sparse) prior needs. Prior samples carry no gradient.
  - ``inclusive_kl``: KL(p(z) || q(z)) with q(z) the minibatch aggregate posterior
    (1/B) sum_n q(z|x_n), by B (reparameterised) prior samples (:func:`inclusive_kl`).

Scaling. The reference SUMS the objective over the minibatch and weighs Dhat, a per-batch scalar, by
alpha * B; our losses are AVERAGED over the batch (tfdisent's convention), so

    reference loss = B * (mean recon + beta * mean KLhat + alpha * Dhat) = B * (our loss)

and ``alpha`` here is the same number as the reference's --alpha (a per-datapoint weight). Adam is
invariant to the factor B, so the reference's learning rates carry over.

Logged: ``kl`` (KLhat, the KL to THIS prior, so ``elbo`` is the ELBO under p(z)),
``kl_standard_normal`` (the analytic KL to N(0, I) the other methods log), ``divergence`` (Dhat),
and ``kl_per_dim`` against p(z) for the factorised priors (against N(0, 1) for the mixture, whose
KL does not split over dimensions).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.hyperparameters import Hyperparameter
from tfdisent.models.distributions import gaussian_log_density
from tfdisent.models.priors import DEFAULT_STUDENT_DF, PRIORS, SPIKE_SCALE, DecompositionPrior, pca_logits

DIVERGENCES = ("mmd", "inclusive_kl")
# Bandwidths s of the reference's dimension-wise IMQ kernels k(a, b) = 2s / (2s + (a - b)^2).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def dimwise_imq_mmd(x: tf.Tensor, y: tf.Tensor, scales: Sequence[float] = IMQ_SCALES) -> tf.Tensor:
    """sum_s sum_d MMD_u^2(x_d, y_d) with the 1-D kernel k_s(a, b) = C_s / (C_s + (a - b)^2), C_s = 2 s.

    x [N, D] (prior samples) and y [M, D] (posterior samples). Per dimension and bandwidth:
    (1/(N(N-1))) sum_{i!=j} k(x_i, x_j) + (1/(M(M-1))) sum_{i!=j} k(y_i, y_j) - (2/(NM)) sum_{i,j} k(x_i, y_j)
    (the within-sample terms are U-statistics, as the reference; k(a, a) = 1 is taken off).
    """
    n = tf.cast(tf.shape(x)[0], x.dtype)
    m = tf.cast(tf.shape(y)[0], y.dtype)
    sq_xx = tf.square(x[:, None, :] - x[None, :, :])  # [N, N, D]
    sq_yy = tf.square(y[:, None, :] - y[None, :, :])  # [M, M, D]
    sq_xy = tf.square(x[:, None, :] - y[None, :, :])  # [N, M, D]
    total = tf.zeros([], x.dtype)
    for s in scales:  # a Python loop: one [B, B, D] kernel at a time keeps memory at B^2 D
        c = 2.0 * s
        xx = (tf.reduce_sum(c / (c + sq_xx), axis=[0, 1]) - n) / (n * (n - 1.0))
        yy = (tf.reduce_sum(c / (c + sq_yy), axis=[0, 1]) - m) / (m * (m - 1.0))
        xy = tf.reduce_mean(c / (c + sq_xy), axis=[0, 1])
        total += tf.reduce_sum(xx + yy - 2.0 * xy)
    return total


def inclusive_kl(prior_samples: tf.Tensor, log_prior: tf.Tensor, mean: tf.Tensor,
                 logvar: tf.Tensor) -> tf.Tensor:
    """KL(p(z) || q(z)) ~ (1/B') sum_i [log p(z'_i) - log (1/B) sum_n q(z'_i | x_n)],  z'_i ~ p(z).

    prior_samples [B', D] with their log p(z') [B']; q(z) is the minibatch aggregate posterior, the
    mixture of the B diagonal Gaussians N(mean_n, exp(logvar_n)) [B, D] (logsumexp for stability).
    """
    log_q_pairs = tf.reduce_sum(
        gaussian_log_density(prior_samples[:, None, :], mean[None, :, :], logvar[None, :, :]), axis=-1)  # [B', B]
    batch = tf.cast(tf.shape(mean)[0], mean.dtype)
    log_qz = tf.reduce_logsumexp(log_q_pairs, axis=1) - tf.math.log(batch)
    return tf.reduce_mean(log_prior - log_qz)


def monte_carlo_kl(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, prior) -> tf.Tensor:
    """Per-sample one-sample estimate of KL(q(z|x) || p(z)): log q(z|x) - log p(z) at z ~ q(z|x), [B]."""
    return tf.reduce_sum(gaussian_log_density(z, mean, logvar), axis=-1) - prior.log_prob(z)


class Decomposition(GaussianVAE):
    """The alpha-beta objective of Mathieu et al. (2019) with a structured prior; see the module."""

    method_name = "decomposition"
    hyperparameters = (
        Hyperparameter("beta", 1.0, "weight of KL(q(z|x) || p(z)), the overlap of the encodings"),
        Hyperparameter("alpha", 0.0, "weight of D(q(z), p(z)), the match of the aggregate posterior to the "
                       "structured prior (per datapoint, as the reference's --alpha)"),
        Hyperparameter("prior", "isotropic", "p(z): isotropic/anisotropic Gaussian or student_t (independence), "
                       "mixture (clustering), sparse (sparsity)", str, choices=PRIORS, lower_bound=None),
        Hyperparameter("divergence", "mmd", "estimator of D(q(z), p(z)): mmd (dimension-wise IMQ, for "
                       "sparsity) or inclusive_kl (KL(p || q), for clustering)", str, choices=DIVERGENCES,
                       lower_bound=None),
        Hyperparameter("prior_variance_scale", 1.0, "s: prior scales sqrt(s * D * softmax(l)); the prior "
                       "variances sum to s * D (reference --prior-variance-scale; 0.03 for pinwheel)"),
        Hyperparameter("learn_prior_variance", 0, "1: learn the prior's variance logits l", int, upper_bound=1),
        Hyperparameter("sparse_gamma", 0.8, "weight of the spike N(0, sigma_0^2) of the sparse prior "
                       "(0 gives N(0, s))", upper_bound=0.999),
        Hyperparameter("sparse_spike_scale", SPIKE_SCALE, "sigma_0, the spike's std of the sparse prior"),
        Hyperparameter("student_df", DEFAULT_STUDENT_DF, "degrees of freedom of the student_t prior"),
        Hyperparameter("prior_pca_samples", 4000, "observations sampled for the anisotropic prior's "
                       "singular values", int, lower_bound=1),
    )

    def __init__(self, encoder, decoder, *, beta: float = 1.0, alpha: float = 0.0, prior: str = "isotropic",
                 divergence: str = "mmd", prior_variance_scale: float = 1.0, learn_prior_variance: int = 0,
                 sparse_gamma: float = 0.8, sparse_spike_scale: float = SPIKE_SCALE,
                 student_df: float = DEFAULT_STUDENT_DF, prior_pca_samples: int = 4000,
                 latent_dim: Optional[int] = None, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if beta < 0 or alpha < 0:
            raise ValueError(f"beta and alpha must be non-negative, got beta={beta}, alpha={alpha}")
        if divergence not in DIVERGENCES:
            raise ValueError(f"unknown divergence {divergence!r}; choose from {', '.join(DIVERGENCES)}")
        if learn_prior_variance not in (0, 1, False, True):
            raise ValueError(f"learn_prior_variance must be 0 or 1, got {learn_prior_variance}")
        latent_dim = latent_dim if latent_dim is not None else getattr(encoder, "latent_dim", None)
        if latent_dim is None:
            raise ValueError("Decomposition needs the latent dimension: pass latent_dim= or use an encoder "
                             "with a latent_dim attribute")
        self.beta = float(beta)
        self.alpha = float(alpha)
        self.prior = prior
        self.divergence = divergence
        self.prior_variance_scale = float(prior_variance_scale)
        self.learn_prior_variance = int(learn_prior_variance)
        self.sparse_gamma = float(sparse_gamma)
        self.sparse_spike_scale = float(sparse_spike_scale)
        self.student_df = float(student_df)
        self.prior_pca_samples = int(prior_pca_samples)
        self.latent_prior = DecompositionPrior(
            prior, int(latent_dim), variance_scale=self.prior_variance_scale,
            learnable=bool(self.learn_prior_variance), sparse_gamma=self.sparse_gamma,
            spike_scale=self.sparse_spike_scale, student_df=self.student_df, name="prior")

    # --- data-dependent prior and bookkeeping ---------------------------------------------------
    def adapt(self, dataset) -> None:
        """``anisotropic``: l_d = log lambda_d from ``prior_pca_samples`` observations (see
        :func:`~tfdisent.models.priors.pca_logits` for how this differs from the reference)."""
        if self.prior == "anisotropic":
            observations = dataset.sample_observations(self.prior_pca_samples,
                                                       np.random.RandomState(self.seed))
            self.latent_prior.set_logits(pca_logits(observations, self.latent_prior.latent_dim))

    def vae_variables(self):
        return super().vae_variables() + list(self.latent_prior.trainable_variables)

    def checkpoint_objects(self) -> Dict[str, object]:
        return {**super().checkpoint_objects(), "prior": self.latent_prior}

    # --- the objective -------------------------------------------------------------------------
    def kl_estimate(self, prior, mean: tf.Tensor, logvar: tf.Tensor, z: tf.Tensor):
        """(KLhat averaged over the batch, per-dimension KLhat [D] or None for the mixture)."""
        if self.latent_prior.has_analytic_kl:
            kl_per_dim = tf.reduce_mean(self.latent_prior.analytic_kl_per_dim(mean, logvar), axis=0)
            return tf.reduce_sum(kl_per_dim), kl_per_dim
        # One-sample Monte Carlo at the decoded z (the reconstruction's sample): log q(z|x) - log p(z).
        kl = tf.reduce_mean(monte_carlo_kl(z, mean, logvar, prior))
        log_p_per_dim = self.latent_prior.log_prob_per_dim(z, prior)
        if log_p_per_dim is None:
            return kl, None
        return kl, tf.reduce_mean(gaussian_log_density(z, mean, logvar) - log_p_per_dim, axis=0)

    def divergence_estimate(self, prior, mean: tf.Tensor, logvar: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Dhat(q(z), p(z)) on the minibatch with B fresh prior samples (seeded by the step)."""
        prior_samples = prior.sample(tf.shape(z)[0], seed=self.step_seed(2))
        if self.divergence == "mmd":
            return dimwise_imq_mmd(tf.stop_gradient(prior_samples), z)
        # inclusive_kl: reparameterised prior samples where the prior allows it (they matter only
        # for a learned prior variance); the others are plain data.
        if prior.reparameterization_type != tfp.distributions.FULLY_REPARAMETERIZED:
            prior_samples = tf.stop_gradient(prior_samples)
        return inclusive_kl(prior_samples, prior.log_prob(prior_samples), mean, logvar)

    def regularizer(self, kl, mean, logvar, z):
        del kl  # the base class's KL is to N(0, I); this objective's KL is to p(z)
        prior = self.latent_prior.distribution()
        kl_prior, kl_per_dim = self.kl_estimate(prior, mean, logvar, z)
        divergence = self.divergence_estimate(prior, mean, logvar, z)
        # A term with weight 0 is still logged, but not differentiated.
        if self.beta == 0.0:
            kl_prior = tf.stop_gradient(kl_prior)
        if self.alpha == 0.0:
            divergence = tf.stop_gradient(divergence)
        terms = {"regularizer": self.beta * self.kl_term(kl_prior) + self.alpha * divergence,
                 "kl_prior": kl_prior, "divergence": divergence}
        if kl_per_dim is not None:
            terms["kl_prior_per_dim"] = tf.stop_gradient(kl_per_dim)
        return terms

    def forward(self, x: tf.Tensor, training: bool = True) -> Dict[str, tf.Tensor]:
        """:meth:`GaussianVAE.forward`, with ``kl``, ``elbo`` and ``kl_per_dim`` reported against
        this model's prior p(z) (the base class reports them against N(0, I))."""
        terms = super().forward(x, training=training)
        terms["kl_standard_normal"] = terms["kl"]
        terms["kl"] = terms.pop("kl_prior")
        terms["elbo"] = -(terms["reconstruction"] + terms["kl"])
        if "kl_prior_per_dim" in terms:
            terms["kl_per_dim"] = terms.pop("kl_prior_per_dim")
        return terms
