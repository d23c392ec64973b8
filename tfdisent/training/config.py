"""The configuration of a training run, saved as ``config.json`` in its run directory."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Tuple

from tfdisent.data.correlated import check_strength
from tfdisent.files import write_json_atomic
from tfdisent.data.splits import SPLITS

CONFIG_FILE = "config.json"  # <run_dir>/config.json: TrainConfig.to_dict() with resolved values
RESULTS_FILE = "results/train_results.json"  # relative to the run directory

# Settings that may change when a run is resumed; everything else must match the saved run.
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "checkpoint_secs", "log_every", "image_every",
                               "jit_compile", "export", "eval_batches"})
# Training hyperparameters that may change between steps (population-based training mutates them);
# the method's own mutable ones (``Hyperparameter(mutable=True)``) may change too.
MUTABLE_SETTINGS = ("learning_rate", "batch_size")
# Keras dtype policies a run may train under (tfdisent.training.precision decides where each is allowed).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


class RunConfigError(ValueError):
    """The run directory holds an incompatible run, or a setting is invalid."""


def legacy_precision(mixed_precision: Optional[bool], precision: Optional[str]) -> Optional[str]:
    """The precision meant by the deprecated boolean ``mixed_precision`` (True: ``mixed_float16``) given
    alongside ``precision`` (None: not given); ``precision`` itself when the boolean is off. The one home of
    this rule (``TrainConfig`` and tfdisent-train's flags). Raises :class:`RunConfigError` on a contradiction."""
    if not mixed_precision:
        return precision
    if precision not in (None, "mixed_float16"):
        raise RunConfigError(f"--mixed_precision (deprecated: mixed_float16) contradicts --precision={precision}; "
                             f"give --precision only")
    return "mixed_float16"


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run (one field per ``tfdisent-train`` flag)."""

    method: str = "beta_tcvae"
    dataset: str = "dsprites"
    data_dir: Optional[str] = None
    architecture: str = "auto"  # auto: dlib_conv for images, the mlp for vector data
    likelihood: str = "bernoulli"
    latent_dim: int = 10
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-4
    seed: int = 0
    # Seed of the data order; None derives it from ``seed``. Trainers sharing it see the same batches
    # (several models trained in lock-step, e.g. the five beta-TCVAEs of a PBT-U-VAE member).
    data_seed: Optional[int] = None
    hyperparameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
    capacity_max: Optional[float] = None
    capacity_steps: int = 100000
    capacity_start: int = 0
    init_from: Optional[str] = None
    lr_plateau_patience: int = 0
    lr_plateau_factor: float = 0.5
    lr_plateau_min_lr: float = 1e-6
    jit_compile: str = "auto"
    # The Keras dtype policy of the networks while they are built (variables, optimizer state, losses and
    # estimators stay float32 under every policy); mixed_float16 adds loss scaling.
    precision: str = "float32"
    # Deprecated: ``mixed_precision=True`` (and an old config.json's ``"mixed_precision": true``) means
    # ``precision="mixed_float16"``. Not a field: config.json records ``precision`` only.
    mixed_precision: dataclasses.InitVar[Optional[bool]] = None
    checkpoint_every: int = 1000
    checkpoint_secs: float = 60.0
    log_every: int = 100
    image_every: int = 1000
    eval_batches: int = 1000  # held-out batches of the end-of-training evaluation (disentanglement_lib: 1000)
    export: bool = True
    # Training-distribution protocols (issue 20); metrics always evaluate on the full, uncorrelated grid.
    # Correlated factors (Träuble et al. 2021; tfdisent.data.correlated): pairs "A:B" and their sigma.
    correlated_factors: List[str] = dataclasses.field(default_factory=list)
    correlation_strength: Optional[float] = None
    # Held-out factor combinations (Schott et al. 2022; tfdisent.data.splits): train on the split's train part.
    heldout_split: Optional[str] = None
    heldout_train_fraction: float = 0.3
    heldout_seed: int = 0

    def __post_init__(self, mixed_precision: Optional[bool]) -> None:
        # The default float32 cannot be told from an explicit one here; tfdisent-train, which can, passes None.
        given = None if self.precision == "float32" else self.precision
        self.precision = legacy_precision(mixed_precision, given) or self.precision

    def validate(self) -> None:
        positive = {"latent_dim": self.latent_dim, "steps": self.steps, "batch_size": self.batch_size,
                    "learning_rate": self.learning_rate, "checkpoint_every": self.checkpoint_every,
                    "log_every": self.log_every, "capacity_steps": self.capacity_steps}
        for name, value in positive.items():
            if not value > 0:
                raise RunConfigError(f"--{name} must be positive, got {value}")
        if self.image_every < 0 or self.lr_plateau_patience < 0 or self.checkpoint_secs < 0 or self.eval_batches < 0:
            raise RunConfigError("--image_every, --lr_plateau_patience, --checkpoint_secs and --eval_batches "
                                 "must be >= 0")
        if self.batch_size < 2:
            raise RunConfigError(f"--batch_size must be at least 2, got {self.batch_size}")
        if not 0 < self.lr_plateau_factor < 1:
            raise RunConfigError(f"--lr_plateau_factor must be in (0, 1), got {self.lr_plateau_factor}")
        if self.capacity_max is not None and self.capacity_max < 0:
            raise RunConfigError(f"--capacity_max must be non-negative, got {self.capacity_max}")
        if self.jit_compile not in ("auto", "true", "false"):
            raise RunConfigError(f"--jit_compile must be auto, true or false, got {self.jit_compile!r}")
        if self.precision not in PRECISIONS:
            raise RunConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        self.validate_protocols()

    def validate_protocols(self) -> None:
        """Checks the correlated-factors and held-out-split settings (factor names are checked against the
        dataset when the Trainer builds the training distribution)."""
        if isinstance(self.correlated_factors, str) or not all(isinstance(p, str) for p in self.correlated_factors):
            raise RunConfigError(f"--correlated_factors must be a list of A:B pairs, got {self.correlated_factors!r}")
        if bool(self.correlated_factors) != (self.correlation_strength is not None):
            raise RunConfigError("--correlated_factors and --correlation_strength go together (pairs A:B and their "
                                 "sigma)")
        if self.correlation_strength is not None:
            try:
                check_strength(self.correlation_strength)
            except ValueError as error:
                raise RunConfigError(f"--correlation_strength: {error}") from None
        if self.heldout_split is not None:
            if self.heldout_split not in SPLITS:
                raise RunConfigError(f"--heldout_split must be one of {', '.join(SPLITS)}, got {self.heldout_split!r}")
            if self.correlated_factors:
                raise RunConfigError("--heldout_split and --correlated_factors cannot be combined")
        if not 0.0 < float(self.heldout_train_fraction) < 1.0:
            raise RunConfigError(f"--heldout_train_fraction must be in (0, 1), got {self.heldout_train_fraction}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        """Reads a saved config; keys that are not settings (e.g. the recorded ``seeds``) are ignored.
        A config.json written before ``precision`` existed carries ``mixed_precision`` instead."""
        names = {f.name for f in dataclasses.fields(cls)} | {"mixed_precision"}
        return cls(**{k: v for k, v in values.items() if k in names})

    def save(self, path: str, extra: Optional[Dict[str, Any]] = None) -> None:
        """Writes the settings (and ``extra`` records, e.g. the derived seeds) atomically as JSON."""
        write_json_atomic(path, {**self.to_dict(), **(extra or {})}, sort_keys=True, allow_nan=True)

    @classmethod
    def load(cls, path: str) -> "TrainConfig":
        try:
            with open(path) as f:
                return cls.from_dict(json.load(f))
        except (OSError, json.JSONDecodeError, TypeError) as e:
            raise RunConfigError(f"cannot read run config {path}: {e}") from e

    def check_resumable_from(self, saved: "TrainConfig", run_dir: str,
                             mutable_hyperparameters: Tuple[str, ...] = ()) -> None:
        """Raises RunConfigError when ``run_dir`` (holding ``saved``) cannot continue as ``self``.

        Both configs must hold resolved hyperparameters. Besides :data:`RESUMABLE_CHANGES`, the
        :data:`MUTABLE_SETTINGS` and the method's ``mutable_hyperparameters`` may differ: the run
        continues from its checkpoint with the new values (population-based training's explore).
        """
        if saved.method != self.method:
            raise RunConfigError(f"{run_dir} holds a {saved.method} run, not {self.method}; "
                                 f"choose another --output_dir")
        mine, theirs = self.to_dict(), saved.to_dict()
        for values in (mine, theirs):
            values.update({f"hyperparameters.{k}": v for k, v in values.pop("hyperparameters").items()
                           if k not in mutable_hyperparameters})
        allowed = RESUMABLE_CHANGES | set(MUTABLE_SETTINGS)
        changed = sorted(k for k in set(mine) | set(theirs)
                         if k not in allowed and mine.get(k) != theirs.get(k))
        if changed:
            diffs = ", ".join(f"{k}: {theirs.get(k)!r} -> {mine.get(k)!r}" for k in changed)
            raise RunConfigError(f"{run_dir} holds a run with other settings ({diffs}); "
                                 f"resume with the same settings or choose another --output_dir")
