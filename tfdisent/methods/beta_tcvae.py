"""beta-TCVAE (Chen et al. 2018, Eq. 4 with alpha = gamma = 1):

    loss = recon + KL(q(z|x) || p(z)) + (beta - 1) * TC(q(z)),

the form of disentanglement_lib: since KL = MI + TC + dimension-wise KL, this weights TC by
beta and the other two terms by 1. TC is estimated on the minibatch (``mws`` or ``mss``).

What the logged TC means: ``mws`` weights every posterior by 1/(B N), weights that sum to 1/N,
so in the regime where posteriors overlap (e.g. at initialisation, q(z|x) ~ N(0, I)) it reads
TC + (D - 1) log N instead of ~0; disentanglement_lib drops (D - 1) log(B N) and reads
TC - (D - 1) log B (the "negative TC" users report). Gradients are the same either way. ``mss``
uses importance weights that sum to one and is consistent in both regimes. So the logs show the
``mss`` value under the plain name ``total_correlation`` (the one whose scale means something) and,
when ``mws`` is optimised, the optimised value with its offset as ``total_correlation_mws``. With a batch of 64 and tight posteriors its per-dimension marginals rest on few
overlapping samples, so it is noisy and can read slightly negative (-2.5 nats after 3000 steps on
dSprites): read its trend, not single values.
"""

from __future__ import annotations

import tensorflow as tf

from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.estimators import TC_ESTIMATORS, total_correlations
from tfdisent.methods.hyperparameters import Hyperparameter


class BetaTCVAE(GaussianVAE):
    method_name = "beta_tcvae"
    strength = "beta"
    pbt_explores = ("beta",)
    hyperparameters = (
        Hyperparameter("beta", 6.0, "weight of the total correlation (the loss adds (beta - 1) TC)",
                       mutable=True),
        Hyperparameter("tc_estimator", "mws", "minibatch weighted (mws) or stratified (mss) sampling", str,
                       choices=TC_ESTIMATORS, lower_bound=None),
    )

    def __init__(self, encoder, decoder, *, beta: float = 6.0, tc_estimator: str = "mws", **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        if tc_estimator not in TC_ESTIMATORS:
            raise ValueError(f"unknown tc_estimator {tc_estimator!r}; choose from {TC_ESTIMATORS}")
        self.beta = self.mutable_variable("beta", beta)
        self.tc_estimator = tc_estimator

    def regularizer(self, kl, mean, logvar, z):
        log_mss = self.tc_estimator == "mws" and z.shape[0] is not None and self.dataset_size >= z.shape[0] > 1
        estimates = total_correlations(z, mean, logvar, self.dataset_size,
                                       (self.tc_estimator, "mss") if log_mss else (self.tc_estimator,))
        tc = estimates[self.tc_estimator]
        terms = {"regularizer": self.kl_term(kl) + (self.beta - 1.0) * tc}
        if self.tc_estimator == "mss":
            terms["total_correlation"] = tc
        else:
            # The optimised mws value carries an offset between (D-1) log N and (D-1) log(BN) (module
            # docstring): logged under its own name; the plain name shows the consistent mss estimate.
            terms["total_correlation_mws"] = tc
            if log_mss:
                terms["total_correlation"] = tf.stop_gradient(estimates["mss"])
        return terms
