"""Packages whose public names are imported on first use (PEP 562).

A package lists ``{name: module}`` and sets ``__getattr__ = lazy_attributes(__name__, exports)``:
``from tfdisent.training import TrainConfig`` then imports only ``tfdisent.training.config``, so a light
submodule (a run's config, a run-directory check, a REST client) does not pay the several-second
``import tensorflow`` of its heavy siblings. This module sits at the bottom of the house: it imports nothing
from tfdisent.
"""

from __future__ import annotations

import importlib
from typing import Callable, Mapping


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps each public name to the full name of the
    module that defines it; any other name raises AttributeError, as for every module."""

    def __getattr__(name: str) -> object:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
