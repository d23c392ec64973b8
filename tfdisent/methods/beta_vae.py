"""beta-VAE (Higgins et al. 2017, Eq. 4): loss = recon + beta * KL(q(z|x) || p(z)).

With beta = 1 this is the VAE of Kingma & Welling (2014), registered as ``vae``.
"""

from __future__ import annotations

from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.hyperparameters import Hyperparameter


class BetaVAE(GaussianVAE):
    method_name = "beta_vae"
    hyperparameters = (Hyperparameter("beta", 4.0, "weight of the KL term", mutable=True),)
    strength = "beta"
    pbt_explores = ("beta",)

    def __init__(self, encoder, decoder, *, beta: float = 4.0, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        self.beta = self.mutable_variable("beta", beta)

    def regularizer(self, kl, mean, logvar, z):
        return {"regularizer": self.beta * self.kl_term(kl)}


class VAE(BetaVAE):
    """The plain VAE: beta fixed to 1."""

    method_name = "vae"
    hyperparameters = ()
    strength = None
    pbt_explores = ()

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(encoder, decoder, beta=1.0, **kwargs)
