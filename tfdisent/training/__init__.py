"""The training loop, its configuration and its TensorBoard summaries.

Names are resolved lazily (PEP 562, as :mod:`tfdisent.export` does): ``tfdisent.training.config`` and
``tfdisent.training.resources`` are light, and a binary that refuses bad input after reading a run's
``config.json`` must not pay the several-second ``import tensorflow`` of ``tfdisent.training.trainer``.
"""

import importlib

_EXPORTS = {
    "CONFIG_FILE": "tfdisent.training.config",
    "RESULTS_FILE": "tfdisent.training.config",
    "RunConfigError": "tfdisent.training.config",
    "TrainConfig": "tfdisent.training.config",
    "CHECKPOINT_DIR": "tfdisent.training.trainer",
    "Interrupted": "tfdisent.training.trainer",
    "LockstepTrainers": "tfdisent.training.trainer",
    "NonFiniteLossError": "tfdisent.training.trainer",
    "Trainer": "tfdisent.training.trainer",
    "build_model": "tfdisent.training.trainer",
    "derive_seeds": "tfdisent.training.trainer",
    "read_train_results": "tfdisent.training.trainer",
    "resolve_checkpoint": "tfdisent.training.trainer",
    "resolve_config": "tfdisent.training.trainer",
    "train": "tfdisent.training.trainer",
    "use_xla": "tfdisent.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tfdisent.training' has no attribute {name!r}")


def __dir__():
    return __all__
