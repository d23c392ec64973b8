"""Objectives: one class per method, registered under its ``--method`` name (:mod:`tfdisent.registry`).

Built-ins and plugins register the same way, lazily (a name costs nothing until it is used)::

    register_method("cyclical_beta_vae", "my_plugin.methods:CyclicalBetaVAE")
    register_method(CyclicalBetaVAE)          # or the class (also usable as a decorator)

A method is a :class:`GaussianVAE` subclass whose ``method_name`` is its registered name; it declares
its ``hyperparameters``, its regularisation ``strength`` (and ``strength_increases``) and the
hyperparameters population-based training may explore (``pbt_explores``), checked at registration.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional, Type, Union

from tfdisent.lazy import lazy_attributes
from tfdisent.methods.hyperparameters import Hyperparameter, resolve
from tfdisent.registry import RegistryError, describe_target, new_registry


def _check_method(name: str, cls: Any) -> None:
    """The method contract (one-line RegistryError naming the method and the member at fault)."""
    from tfdisent.methods.base import GaussianVAE  # noqa: PLC0415 (keeps registering a name cheap)

    where = f"method {name!r} ({describe_target(cls)})"
    if not inspect.isclass(cls) or not issubclass(cls, GaussianVAE):
        raise RegistryError(f"{where} is not a tfdisent.methods.GaussianVAE subclass")
    if cls.method_name != name:
        raise RegistryError(f"{where}: method_name is {cls.method_name!r}, not its registered name")
    hyperparameters = cls.hyperparameters
    if not isinstance(hyperparameters, tuple) or not all(isinstance(h, Hyperparameter) for h in hyperparameters):
        raise RegistryError(f"{where}: hyperparameters must be a tuple of tfdisent.methods.Hyperparameter")
    declared = {h.name: h for h in hyperparameters}
    if cls.strength is not None and cls.strength not in declared:
        raise RegistryError(f"{where}: strength {cls.strength!r} is not one of its hyperparameters "
                            f"({', '.join(declared) or 'none'})")
    if not isinstance(cls.strength_increases, bool):
        raise RegistryError(f"{where}: strength_increases must be True or False")
    for explored in cls.pbt_explores:
        if explored not in declared or not declared[explored].mutable:
            raise RegistryError(f"{where}: pbt_explores names {explored!r}, which is not a mutable hyperparameter")


METHODS_REGISTRY = new_registry("method", _check_method)


def register_method(name: Union[str, type], target: Union[str, type, None] = None):
    """Registers a method: ``register_method(cls)`` (under ``cls.method_name``; also a decorator), or
    ``register_method(name, "package.module:Class")`` (lazy) / ``register_method(name, cls)``.

    A name already taken, or a class that breaks the contract, is a one-line RegistryError."""
    if not isinstance(name, str):
        METHODS_REGISTRY.register(getattr(name, "method_name", None), name)
        return name
    if target is None:
        def decorator(cls):
            METHODS_REGISTRY.register(name, cls)
            return cls
        return decorator
    return METHODS_REGISTRY.register(name, target)


# The built-ins, lazily: "module:Class" under tfdisent.methods.
_BUILT_INS = {
    "vae": "beta_vae:VAE", "beta_vae": "beta_vae:BetaVAE", "annealed_vae": "annealed_vae:AnnealedVAE",
    "factor_vae": "factor_vae:FactorVAE", "beta_tcvae": "beta_tcvae:BetaTCVAE", "dip_vae_i": "dip_vae:DIPVAEI",
    "dip_vae_ii": "dip_vae:DIPVAEII", "info_vae": "info_vae:InfoVAE", "decomposition": "decomposition:Decomposition",
    "ada_gvae": "weak:AdaGVAE", "ada_ml_vae": "weak:AdaMLVAE", "ada_gvae_labels": "weak:AdaGVAELabels",
    "ada_ml_vae_labels": "weak:AdaMLVAELabels", "s2_vae": "semi_supervised:S2VAE",
    "s2_beta_tcvae": "semi_supervised:S2BetaTCVAE", "s2_factor_vae": "semi_supervised:S2FactorVAE",
    "s2_dip_vae": "semi_supervised:S2DIPVAE", "hfs_vae": "hfs:HFSVAE",
}
for _name, _target in _BUILT_INS.items():
    register_method(_name, f"tfdisent.methods.{_target}")

# name -> class (read-only mapping, plugins included; loads a class when it is read).
METHODS = METHODS_REGISTRY.view()


def method_names() -> list:
    """Every registered method name (built-ins and plugins), sorted."""
    return METHODS_REGISTRY.names()


def get_method(name: str) -> Type:
    """The class registered as ``name`` (ValueError naming the known methods otherwise)."""
    return METHODS_REGISTRY.get(name)


def resolve_hyperparameters(name: str, values: dict) -> dict:
    """The method's defaults overridden by ``values``, validated (ValueError names the culprit)."""
    return resolve(name, get_method(name).hyperparameters, values)


def pbt_hyperparameter(name: str) -> Optional[str]:
    """The hyperparameter population-based training searches for method ``name`` (the first it
    declares in ``pbt_explores``), or None when it declares none."""
    explored = get_method(name).pbt_explores
    return explored[0] if explored else None


# Classes are imported on first access (``from tfdisent.methods import BetaVAE``), not with the package.
_EXPORTS = {
    "GaussianVAE": "base", "TermMean": "base", "CapacitySchedule": "schedules", "AnnealedVAE": "annealed_vae",
    "BetaTCVAE": "beta_tcvae", "BetaVAE": "beta_vae", "VAE": "beta_vae", "Decomposition": "decomposition",
    "DIPVAEI": "dip_vae", "DIPVAEII": "dip_vae", "FactorVAE": "factor_vae", "InfoVAE": "info_vae",
    "AdaGVAE": "weak", "AdaGVAELabels": "weak", "AdaMLVAE": "weak", "AdaMLVAELabels": "weak", "WeakVAE": "weak",
    "S2BetaTCVAE": "semi_supervised", "S2DIPVAE": "semi_supervised", "S2FactorVAE": "semi_supervised",
    "S2VAE": "semi_supervised", "SemiSupervised": "semi_supervised",
}


__getattr__ = lazy_attributes(__name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()})


__all__ = sorted(_EXPORTS) + ["Hyperparameter", "METHODS", "METHODS_REGISTRY", "get_method", "method_names",
                              "pbt_hyperparameter", "register_method", "resolve_hyperparameters"]
