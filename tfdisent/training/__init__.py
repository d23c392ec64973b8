"""The training loop, its configuration and its TensorBoard summaries.

Names are resolved lazily (PEP 562, :mod:`tfdisent.lazy`): ``tfdisent.training.config`` and
``tfdisent.training.resources`` are light, and a binary that refuses bad input after reading a run's
``config.json`` must not pay the several-second ``import tensorflow`` of ``tfdisent.training.trainer``.
"""

from tfdisent.lazy import lazy_attributes

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
__getattr__ = lazy_attributes(__name__, _EXPORTS)
