"""Objectives: one class per method, registered under its ``--method`` name."""

from __future__ import annotations

from typing import Dict, Type

from tfdisent.methods.annealed_vae import AnnealedVAE
from tfdisent.methods.base import GaussianVAE
from tfdisent.methods.beta_tcvae import BetaTCVAE
from tfdisent.methods.beta_vae import VAE, BetaVAE
from tfdisent.methods.decomposition import Decomposition
from tfdisent.methods.dip_vae import DIPVAEI, DIPVAEII
from tfdisent.methods.factor_vae import FactorVAE
from tfdisent.methods.hfs import HFSVAE
from tfdisent.methods.hyperparameters import Hyperparameter, resolve
from tfdisent.methods.info_vae import InfoVAE
from tfdisent.methods.schedules import CapacitySchedule
from tfdisent.methods.semi_supervised import S2BetaTCVAE, S2DIPVAE, S2FactorVAE, S2VAE, SemiSupervised
from tfdisent.methods.weak import AdaGVAE, AdaGVAELabels, AdaMLVAE, AdaMLVAELabels, WeakVAE

METHODS: Dict[str, Type[GaussianVAE]] = {
    cls.method_name: cls
    for cls in (VAE, BetaVAE, AnnealedVAE, FactorVAE, BetaTCVAE, DIPVAEI, DIPVAEII, InfoVAE, Decomposition,
                AdaGVAE, AdaMLVAE, AdaGVAELabels, AdaMLVAELabels, S2VAE, S2BetaTCVAE, S2FactorVAE, S2DIPVAE,
                HFSVAE)
}


def method_names() -> list:
    return sorted(METHODS)


def get_method(name: str) -> Type[GaussianVAE]:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(method_names())}")
    return METHODS[name]


def resolve_hyperparameters(name: str, values: dict) -> dict:
    """The method's defaults overridden by ``values``, validated (ValueError names the culprit)."""
    return resolve(name, get_method(name).hyperparameters, values)


__all__ = ["AdaGVAE", "AdaGVAELabels", "AdaMLVAE", "AdaMLVAELabels", "WeakVAE", "S2BetaTCVAE", "S2DIPVAE", "S2FactorVAE", "S2VAE",
           "SemiSupervised", "Hyperparameter", "resolve_hyperparameters", "METHODS", "AnnealedVAE", "BetaTCVAE", "BetaVAE", "CapacitySchedule", "DIPVAEI", "DIPVAEII",
           "FactorVAE", "GaussianVAE", "InfoVAE", "VAE", "get_method", "method_names"]
