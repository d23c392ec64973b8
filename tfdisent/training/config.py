"""The configuration of a training run, saved as ``config.json`` in its run directory."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, Optional

# Settings that may change when a run is resumed; everything else must match the saved run.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "checkpoint_secs", "log_every", "image_every",
                               "jit_compile", "export"})


class RunConfigError(ValueError):
    """The run directory holds an incompatible run, or a setting is invalid."""


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run (one field per ``tfdisent-train`` flag)."""

    method: str = "beta_tcvae"
    dataset: str = "dsprites"
    data_dir: Optional[str] = None
    architecture: str = "dlib_conv"
    likelihood: str = "bernoulli"
    latent_dim: int = 10
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-4
    seed: int = 0
    hyperparameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
    capacity_max: Optional[float] = None
    capacity_steps: int = 100000
    capacity_start: int = 0
    init_from: Optional[str] = None
    lr_plateau_patience: int = 0
    lr_plateau_factor: float = 0.5
    lr_plateau_min_lr: float = 1e-6
    jit_compile: str = "auto"
    mixed_precision: bool = False
    checkpoint_every: int = 1000
    checkpoint_secs: float = 60.0
    log_every: int = 100
    image_every: int = 1000
    export: bool = True

    def validate(self) -> None:
        positive = {"latent_dim": self.latent_dim, "steps": self.steps, "batch_size": self.batch_size,
                    "learning_rate": self.learning_rate, "checkpoint_every": self.checkpoint_every,
                    "log_every": self.log_every, "capacity_steps": self.capacity_steps}
        for name, value in positive.items():
            if not value > 0:
                raise RunConfigError(f"--{name} must be positive, got {value}")
        if self.image_every < 0 or self.lr_plateau_patience < 0 or self.checkpoint_secs < 0:
            raise RunConfigError("--image_every, --lr_plateau_patience and --checkpoint_secs must be >= 0")
        if not 0 < self.lr_plateau_factor < 1:
            raise RunConfigError(f"--lr_plateau_factor must be in (0, 1), got {self.lr_plateau_factor}")
        if self.capacity_max is not None and self.capacity_max < 0:
            raise RunConfigError(f"--capacity_max must be non-negative, got {self.capacity_max}")
        if self.jit_compile not in ("auto", "true", "false"):
            raise RunConfigError(f"--jit_compile must be auto, true or false, got {self.jit_compile!r}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def save(self, path: str) -> None:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "TrainConfig":
        try:
            with open(path) as f:
                return cls.from_dict(json.load(f))
        except (OSError, json.JSONDecodeError, TypeError) as e:
            raise RunConfigError(f"cannot read run config {path}: {e}") from e

    def check_resumable_from(self, saved: "TrainConfig", run_dir: str) -> None:
        """Raises RunConfigError when ``run_dir`` (holding ``saved``) cannot continue as ``self``."""
        if saved.method != self.method:
            raise RunConfigError(f"{run_dir} holds a {saved.method} run, not {self.method}; "
                                 f"choose another --output_dir")
        mine, theirs = self.to_dict(), saved.to_dict()
        changed = sorted(k for k in mine if k not in RESUMABLE_CHANGES and mine[k] != theirs.get(k))
        if changed:
            diffs = ", ".join(f"{k}: {theirs.get(k)!r} -> {mine[k]!r}" for k in changed)
            raise RunConfigError(f"{run_dir} holds a run with other settings ({diffs}); "
                                 f"resume with the same settings or choose another --output_dir")
