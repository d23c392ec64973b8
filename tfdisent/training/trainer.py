"""The training loop: resumable, reproducible, logged to TensorBoard.

Run directory layout::

    <run_dir>/config.json            every setting (TrainConfig)
    <run_dir>/checkpoints/           tf.train.CheckpointManager: models, optimizers, step,
                                     data iterator, plateau state
    <run_dir>/logs/train/            TensorBoard events (scalars, images, HParams)
    <run_dir>/results/train_results.json   final losses, wall time (written at the end)

The optimisation steps run inside ``tf.function`` (one call covers a logging interval), with
the step itself optionally XLA-compiled. A checkpoint is written every ``checkpoint_every``
steps, at least every ``checkpoint_secs`` seconds, on SIGTERM/SIGINT and at the end; rerunning
with the same run directory resumes from the latest one bit-for-bit (same batches, same noise),
also after ``kill -9``. A non-finite loss stops the run before anything is saved, so the last
good checkpoint stays intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from typing import Callable, Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfdisent.data import GroundTruthData, load_dataset
from tfdisent.methods import CapacitySchedule, GaussianVAE, get_method, resolve_hyperparameters
from tfdisent.models import build_architecture
from tfdisent.training import summaries
from tfdisent.training.config import RunConfigError, TrainConfig

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = os.path.join("logs", "train")

# Called every ``eval_every`` steps with (step, model, dataset, writer): metric progress etc.
StepCallback = Callable[[int, GaussianVAE, GroundTruthData, tf.summary.SummaryWriter], Dict[str, float]]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


class Interrupted(RuntimeError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by signal {signum} at step {step}; checkpoint saved")
        self.signum = signum
        self.step = step


def use_xla(setting: str) -> bool:
    """``auto`` compiles the step with XLA on GPU/TPU only: measured on CPU it is 2x slower
    (BUILD_NOTES.md, benchmarks/train_throughput.py)."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    return setting == "true"


def derive_seeds(seed: int) -> Dict[str, int]:
    """Independent seeds for weights, data order and objective noise, derived from ``--seed``."""
    draws = np.random.RandomState(seed).randint(2 ** 31 - 1, size=3)
    return {"model": int(draws[0]), "data": int(draws[1]), "objective": int(draws[2])}


def build_model(config: TrainConfig, dataset: GroundTruthData) -> GaussianVAE:
    """Builds and compiles the objective with its networks and optimizer(s), all variables created."""
    seeds = derive_seeds(config.seed)
    keras.utils.set_random_seed(seeds["model"])
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        # Layers take the policy when they are built; the objective computes its losses in float32.
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        encoder, decoder = build_architecture(config.architecture, dataset.observation_shape, config.latent_dim)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    capacity = None
    if config.capacity_max is not None:
        capacity = CapacitySchedule(config.capacity_max, config.capacity_steps, config.capacity_start)
    method = get_method(config.method)
    hyperparameters = resolve_hyperparameters(config.method, config.hyperparameters)
    model = method(encoder, decoder, likelihood=config.likelihood, dataset_size=dataset.num_examples,
                   capacity=capacity, seed=seeds["objective"], **hyperparameters)
    model.adapt(dataset)
    # disentanglement_lib's VAE optimizer: Adam(lr, 0.9, 0.999, 1e-8).
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if config.mixed_precision:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer)
    model.optimizer.build(model.vae_variables())
    return model


def resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix from a run directory, a checkpoint directory or a prefix."""
    for directory in (os.path.join(path, CHECKPOINT_DIR), path):
        if os.path.isdir(directory):
            latest = tf.train.latest_checkpoint(directory)
            if latest:
                return latest
    if tf.io.gfile.exists(path + ".index"):
        return path
    raise RunConfigError(f"no checkpoint found at {path} (expected a run directory, a checkpoint "
                         f"directory or a checkpoint prefix)")


def warm_start(model: GaussianVAE, path: str) -> str:
    """Initialises encoder and decoder from another run (e.g. a plain VAE; Abdi et al. 2019)."""
    prefix = resolve_checkpoint(path)
    status = tf.train.Checkpoint(encoder=model.encoder, decoder=model.decoder).restore(prefix)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as e:
        raise RunConfigError(f"--init_from {path}: its networks do not match this run's "
                             f"architecture/latent_dim ({e})") from e
    return prefix


class _PlateauState(tf.Module):
    """Checkpointable state of Keras' ReduceLROnPlateau (best loss, wait and cooldown counters)."""

    def __init__(self):
        super().__init__()
        self.best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.cooldown = tf.Variable(0, dtype=tf.int64, trainable=False)


class Trainer:
    """Trains one model in one run directory; see the module docstring for the layout."""

    def __init__(self, config: TrainConfig, run_dir: str, callbacks: Optional[List[StepCallback]] = None,
                 eval_every: int = 0, dataset: Optional[GroundTruthData] = None):
        config.validate()
        self.config = config
        self.run_dir = run_dir
        self.callbacks = list(callbacks or [])
        self.eval_every = eval_every
        self._check_run_dir()
        kwargs = {"data_dir": config.data_dir} if config.data_dir else {}
        self.dataset = dataset if dataset is not None else load_dataset(config.dataset, **kwargs)
        self.model = build_model(config, self.dataset)
        self.jit = use_xla(config.jit_compile)
        self.seeds = derive_seeds(config.seed)
        self.iterator = iter(self.model.training_dataset(self.dataset, config.batch_size, self.seeds["data"]))
        self.plateau = _PlateauState()
        self.plateau_callback = None
        if config.lr_plateau_patience:
            self.plateau_callback = keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=config.lr_plateau_factor, patience=config.lr_plateau_patience,
                min_lr=config.lr_plateau_min_lr, verbose=0)
            self.plateau_callback.set_model(self.model)
        self.checkpoint = tf.train.Checkpoint(data_iterator=self.iterator, plateau=self.plateau,
                                              **self.model.checkpoint_objects())
        self.manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(run_dir, CHECKPOINT_DIR),
                                                  max_to_keep=2)
        self._stop_signal: Optional[int] = None
        self._train_loop = self._make_train_loop()

    # --- set-up ---------------------------------------------------------------------------------
    def _check_run_dir(self) -> None:
        config_path = os.path.join(self.run_dir, CONFIG_FILE)
        if os.path.exists(config_path):
            self.config.check_resumable_from(TrainConfig.load(config_path), self.run_dir)
        elif os.path.isdir(self.run_dir) and os.listdir(self.run_dir):
            raise RunConfigError(f"{self.run_dir} is not empty and holds no {CONFIG_FILE}; "
                                 f"choose an empty or new --output_dir")

    @property
    def step(self) -> int:
        return int(self.model.step.numpy())

    def restore_or_initialize(self) -> int:
        """Restores the latest checkpoint, or warm-starts/initialises a new run. Returns the step."""
        os.makedirs(self.run_dir, exist_ok=True)
        self.config.save(os.path.join(self.run_dir, CONFIG_FILE))
        latest = self.manager.latest_checkpoint
        if latest:
            self.checkpoint.restore(latest).assert_consumed()
            self._plateau_from_variables()
            logging.info("resumed from %s at step %d", latest, self.step)
        elif self.config.init_from:
            prefix = warm_start(self.model, self.config.init_from)
            logging.info("warm start: encoder and decoder initialised from %s", prefix)
        return self.step

    def _make_train_loop(self):
        step_fn = tf.function(self.model.train_step, jit_compile=self.jit)

        @tf.function
        def train_loop(iterator, num_steps):
            logs = step_fn(next(iterator))
            sums = dict(logs)
            finite = tf.math.is_finite(logs["loss"])
            for _ in tf.range(num_steps - 1):
                logs = step_fn(next(iterator))
                sums = {k: sums[k] + logs[k] for k in sums}
                finite = tf.logical_and(finite, tf.math.is_finite(logs["loss"]))
            count = tf.cast(num_steps, tf.float32)
            return {k: v / count for k, v in sums.items()}, finite

        return train_loop

    # --- checkpoints and signals ------------------------------------------------------------------
    def _plateau_to_variables(self) -> None:
        if self.plateau_callback is not None:
            self.plateau.best.assign(float(self.plateau_callback.best))
            self.plateau.wait.assign(int(self.plateau_callback.wait))
            self.plateau.cooldown.assign(int(self.plateau_callback.cooldown_counter))

    def _plateau_from_variables(self) -> None:
        if self.plateau_callback is not None:
            self.plateau_callback.best = float(self.plateau.best.numpy())
            self.plateau_callback.wait = int(self.plateau.wait.numpy())
            self.plateau_callback.cooldown_counter = int(self.plateau.cooldown.numpy())

    def save(self) -> str:
        self._plateau_to_variables()
        return self.manager.save(checkpoint_number=self.step)

    def _handle_signal(self, signum, frame):
        del frame
        self._stop_signal = signum

    # --- the loop ---------------------------------------------------------------------------------
    def train(self) -> Dict[str, float]:
        """Runs until ``config.steps``; returns the last logged scalars."""
        start_step = self.restore_or_initialize()
        config = self.config
        writer = tf.summary.create_file_writer(os.path.join(self.run_dir, LOG_DIR))
        if start_step == 0:
            summaries.write_hparams(writer, config.to_dict(), self.model.get_hyperparameters())
        image_batch = self.dataset.sample_observations(8, np.random.RandomState(self.seeds["data"]))
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT),
                    signal.SIGTERM: signal.getsignal(signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, self._handle_signal)
        progress = summaries.Progress(start_step, config.steps, config.batch_size)
        last_save_time, logs = time.time(), {}
        wall_start = time.time()
        try:
            while self.step < config.steps:
                step = self.step
                num_steps = min(config.log_every - step % config.log_every, config.steps - step)
                mean_logs, finite = self._train_loop(self.iterator, tf.constant(num_steps, tf.int64))
                if not bool(finite):
                    raise NonFiniteLossError(
                        f"non-finite loss between steps {step} and {step + num_steps}; stopped without "
                        f"saving, the last good checkpoint is {self.manager.latest_checkpoint or 'none'}. "
                        f"Lower --learning_rate or the regularisation strength and rerun")
                step = self.step
                logs = {k: v.numpy() for k, v in mean_logs.items()}
                rates = progress.update(step, logs)
                self._maybe_reduce_lr(step, logs)
                summaries.write_scalars(writer, step, logs, float(self.model.optimizer.learning_rate), rates)
                if config.image_every and (step % config.image_every < num_steps or step == config.steps):
                    summaries.write_images(writer, step, self.model, image_batch, logs["kl_per_dim"])
                if self.eval_every and self.callbacks and (step % self.eval_every < num_steps
                                                           or step == config.steps):
                    for callback in self.callbacks:
                        callback(step, self.model, self.dataset, writer)
                if (step % config.checkpoint_every < num_steps
                        or time.time() - last_save_time >= config.checkpoint_secs):
                    self.save()
                    last_save_time = time.time()
                if self._stop_signal is not None:
                    self.save()
                    raise Interrupted(self._stop_signal, step)
            if self.manager.latest_checkpoint is None or not self.manager.latest_checkpoint.endswith(f"-{self.step}"):
                self.save()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            writer.flush()
        results = {k: float(v) for k, v in logs.items() if np.ndim(v) == 0}
        results.update(step=self.step, wall_time_seconds=time.time() - wall_start,
                       xla=self.jit, dataset=self.dataset.name)
        self._write_results(results)
        return results

    def _maybe_reduce_lr(self, step: int, logs: Dict[str, np.ndarray]) -> None:
        if self.plateau_callback is not None:
            # One "epoch" of the callback is one logging interval.
            self.plateau_callback.on_epoch_end(step // self.config.log_every, {"loss": float(logs["loss"])})

    def _write_results(self, results: Dict[str, object]) -> None:
        directory = os.path.join(self.run_dir, "results")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "train_results.json")
        with open(path + ".tmp", "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
        os.replace(path + ".tmp", path)


def train(config: TrainConfig, run_dir: str, **kwargs) -> Dict[str, float]:
    """Convenience: build a :class:`Trainer` and run it."""
    return Trainer(dataclasses.replace(config), run_dir, **kwargs).train()
