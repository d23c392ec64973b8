"""Cyclical KL annealing (Fu, Li, Liu, Gao, Celikyilmaz & Carin 2019, "Cyclical Annealing Schedule: A
Simple Approach to Mitigating KL Vanishing", NAACL, Eqs. 5-6):

    loss = rec + beta * beta_t * KL,
    beta_t = f(tau) if tau <= R else 1,   tau = mod(t - 1, ceil(T / M)) / (T / M),   f(tau) = tau / R,

over T = ``annealing_steps`` steps in M = ``cycles`` cycles: in each cycle the KL weight rises
linearly from 0 during the first fraction R = ``ratio`` and stays at its maximum for the rest, so the
decoder repeatedly learns from codes that carry information before the KL squeezes them (the paper's
remedy for posterior collapse). The schedule repeats with period ceil(T / M) after T steps.

Deviation (labelled): the paper anneals to a KL weight of 1; the maximum here is the method's
``beta`` (1 by default, the paper), so the schedule also applies to beta-VAE-style objectives and
``beta`` is the declared regularisation strength that studies sweep and PBT explores.

Only the ``regularizer`` hook of :class:`tfdisent.methods.GaussianVAE` is overridden.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfdisent.methods import GaussianVAE, Hyperparameter


def cyclical_weight(step, annealing_steps: int, cycles: int, ratio: float):
    """beta_t of Eq. 6 for 0-based steps ``step`` (t - 1 in the paper): min(tau / R, 1)."""
    period = math.ceil(annealing_steps / cycles)
    tau = tf.math.floormod(tf.cast(step, tf.float32), float(period)) / (annealing_steps / cycles)
    return tf.minimum(tau / ratio, 1.0)


class CyclicalBetaVAE(GaussianVAE):
    """VAE with the cyclical KL weight of Fu et al. (2019), peak ``beta``."""

    method_name = "cyclical_beta_vae"
    hyperparameters = (
        Hyperparameter("beta", 1.0, "peak KL weight of the cycles (1: Fu et al. 2019)", mutable=True),
        Hyperparameter("cycles", 4, "cycles M of the KL weight over annealing_steps", int, lower_bound=1),
        Hyperparameter("ratio", 0.5, "fraction R of each cycle in which the KL weight rises", lower_bound=0.01,
                       upper_bound=1.0),
        Hyperparameter("annealing_steps", 10000, "steps T spanned by the M cycles", int, lower_bound=1),
    )
    strength = "beta"            # larger beta: stronger regularisation
    pbt_explores = ("beta",)     # mutable, so PBT may change it between generations

    def __init__(self, encoder, decoder, *, beta: float = 1.0, cycles: int = 4, ratio: float = 0.5,
                 annealing_steps: int = 10000, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if cycles > annealing_steps:
            raise ValueError(f"cyclical_beta_vae: cycles ({cycles}) cannot exceed annealing_steps ({annealing_steps})")
        self.beta = self.mutable_variable("beta", beta)
        self.cycles = int(cycles)
        self.ratio = float(ratio)
        self.annealing_steps = int(annealing_steps)

    def regularizer(self, kl, mean, logvar, z):
        weight = cyclical_weight(self.step, self.annealing_steps, self.cycles, self.ratio)
        return {"regularizer": self.beta * weight * self.kl_term(kl), "kl_weight": weight}
