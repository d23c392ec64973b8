"""DIP-VAE-I and -II (Kumar et al. 2018, Eqs. 6-7):

    loss = recon + KL + lambda_od * sum_{i!=j} Cov_ij^2 + lambda_d * sum_i (Cov_ii - 1)^2,

with Cov = Cov[mu(x)] (I) or Cov[mu(x)] + E[diag sigma^2(x)] (II), and lambda_d =
lambda_d_factor * lambda_od as in disentanglement_lib (its study: factor 10 for I, 1 for II).
"""

from __future__ import annotations

import dataclasses

from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.estimators import dip_covariance, dip_penalties
from tfdisent.methods.hyperparameters import Hyperparameter, defaults


class DIPVAE(GaussianVAE):
    method_name = "dip_vae"
    strength = "lambda_od"
    pbt_explores = ("lambda_od",)
    dip_type = "i"
    hyperparameters = (
        Hyperparameter("lambda_od", 10.0, "weight of the off-diagonal covariance penalty", mutable=True),
        Hyperparameter("lambda_d_factor", 10.0, "lambda_d = lambda_d_factor * lambda_od (10 for I, 1 for II)"),
    )

    def __init__(self, encoder, decoder, *, lambda_od: float = 10.0, lambda_d_factor: float | None = None,
                 **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if lambda_d_factor is None:
            lambda_d_factor = defaults(self.hyperparameters)["lambda_d_factor"]
        if lambda_od < 0 or lambda_d_factor < 0:
            raise ValueError("lambda_od and lambda_d_factor must be non-negative")
        self.lambda_od = self.mutable_variable("lambda_od", lambda_od)
        self.lambda_d_factor = float(lambda_d_factor)

    @property
    def lambda_d(self) -> float:
        return self.lambda_d_factor * self.lambda_od

    def regularizer(self, kl, mean, logvar, z):
        off_diagonal, diagonal = dip_penalties(dip_covariance(mean, logvar, self.dip_type))
        dip = self.lambda_od * off_diagonal + self.lambda_d * diagonal
        return {"regularizer": self.kl_term(kl) + dip, "dip_off_diagonal": off_diagonal,
                "dip_diagonal": diagonal}


class DIPVAEI(DIPVAE):
    method_name = "dip_vae_i"
    dip_type = "i"


class DIPVAEII(DIPVAE):
    method_name = "dip_vae_ii"
    dip_type = "ii"
    hyperparameters = (DIPVAE.hyperparameters[0],
                       dataclasses.replace(DIPVAE.hyperparameters[1], default=1.0))
