"""The training loop, its configuration and its TensorBoard summaries."""

from tfdisent.training.config import RunConfigError, TrainConfig
from tfdisent.training.trainer import (CHECKPOINT_DIR, CONFIG_FILE, Interrupted, NonFiniteLossError, Trainer,
                                       build_model, resolve_checkpoint, train, use_xla)

__all__ = ["CHECKPOINT_DIR", "CONFIG_FILE", "Interrupted", "NonFiniteLossError", "RunConfigError",
           "TrainConfig", "Trainer", "build_model", "resolve_checkpoint", "train", "use_xla"]
