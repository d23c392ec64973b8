"""The training loop, its configuration and its TensorBoard summaries."""

from tfdisent.training.config import CONFIG_FILE, RESULTS_FILE, RunConfigError, TrainConfig
from tfdisent.training.trainer import (CHECKPOINT_DIR, Interrupted, LockstepTrainers, NonFiniteLossError, Trainer,
                                       build_model, derive_seeds, read_train_results, resolve_checkpoint,
                                       resolve_config, train, use_xla)

__all__ = ["CHECKPOINT_DIR", "CONFIG_FILE", "Interrupted", "LockstepTrainers", "NonFiniteLossError", "RESULTS_FILE",
           "RunConfigError", "TrainConfig", "Trainer", "build_model", "derive_seeds", "read_train_results",
           "resolve_checkpoint", "resolve_config", "train", "use_xla"]
