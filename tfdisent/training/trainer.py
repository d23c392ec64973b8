"""The training loop: resumable, reproducible, logged to TensorBoard, drivable from Python.

Run directory layout::

    <run_dir>/config.json            every setting (TrainConfig, hyperparameters resolved) and the seeds
    <run_dir>/checkpoints/           tf.train.CheckpointManager: models, optimizers, step, mutable
                                     hyperparameters, data iterator, plateau state
    <run_dir>/logs/train/            TensorBoard events (scalars, images, HParams)
    <run_dir>/results/train_results.json   final training losses, held-out evaluation, wall time
    <run_dir>/export/<step>/         the SavedModel (when ``config.export``)

The optimisation steps run inside ``tf.function`` (one call covers a logging interval), with the
step itself optionally XLA-compiled. A checkpoint is written every ``checkpoint_every`` steps, at
least every ``checkpoint_secs`` seconds, on SIGTERM/SIGINT (main thread only) and at the end;
rerunning with the same run directory resumes from the latest one bit-for-bit (same batches, same
noise), also after ``kill -9``. A non-finite loss stops the run before anything is saved, so the
last good checkpoint stays intact.

Drivers (studies, population-based training) use the same object: :meth:`Trainer.train_steps`
advances a given number of steps, :meth:`Trainer.save`/:meth:`Trainer.restore` move complete
training states between directories, and :meth:`Trainer.set_hyperparameters` changes the learning
rate, the batch size and the method's mutable hyperparameters between steps. A Trainer has no
process-wide side effects, so several live in one process (e.g. models trained in lock-step on the
same batches: equal ``data_seed``, see :class:`~tfdisent.training.config.TrainConfig`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfdisent.data import GroundTruthData, load_dataset
from tfdisent.data.correlated import CorrelatedFactors, parse_pairs
from tfdisent.data.splits import make_split
from tfdisent.data.subset import IndexedSubset
from tfdisent.files import write_json_atomic
from tfdisent.methods import CapacitySchedule, GaussianVAE, get_method, resolve_hyperparameters
from tfdisent.methods.hyperparameters import mutable_names
from tfdisent.models import build_architecture, check_architecture
from tfdisent.models.traversals import active_latents
from tfdisent.training import summaries
from tfdisent.training.config import (CONFIG_FILE, MUTABLE_SETTINGS, RESULTS_FILE, RunConfigError,
                                      TrainConfig)
from tfdisent.training.precision import check_precision

CHECKPOINT_DIR = "checkpoints"
STANDALONE_CHECKPOINT = "ckpt"  # prefix of the checkpoint Trainer.save(path) writes into a directory
LOG_DIR = os.path.join("logs", "train")

# Called every ``eval_every`` steps with (step, model, dataset, writer): metric progress etc.
StepCallback = Callable[[int, GaussianVAE, GroundTruthData, tf.summary.SummaryWriter], Dict[str, float]]
# Called after every logging interval with (step, mean scalar logs); returning True stops training.
IntervalCallback = Callable[[int, Dict[str, float]], Optional[bool]]


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


def derive_seeds(seed: int, data_seed: Optional[int] = None) -> Dict[str, int]:
    """Independent seeds for weights, data order and objective noise, derived from ``--seed``
    (``data_seed``, when given, replaces the derived data seed)."""
    draws = np.random.RandomState(seed).randint(2 ** 31 - 1, size=3)
    seeds = {"model": int(draws[0]), "data": int(draws[1]), "objective": int(draws[2])}
    if data_seed is not None:
        seeds["data"] = int(data_seed) % (2 ** 31 - 1)
    return seeds


def data_stream_seed(data_seed: int, batch_size: int) -> int:
    """Seed of the batch stream of one batch size: a batch-size change starts a fresh stream rather
    than replaying the first batches, and a run is resumable from its config alone."""
    return int(np.random.RandomState([data_seed, batch_size]).randint(2 ** 31 - 1))


@contextlib.contextmanager
def seeded_initializers(seed: int) -> Iterator[None]:
    """Keras 3 draws each initializer's seed from Python's ``random`` when the layer is created; seed
    it for the duration of a model build and put the caller's state back (no process-wide effect,
    unlike ``keras.utils.set_random_seed``)."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def resolve_config(config: TrainConfig, dataset: GroundTruthData) -> TrainConfig:
    """A copy with ``auto`` settings and method hyperparameters resolved (what ``config.json`` records)."""
    try:
        architecture = check_architecture(config.architecture, dataset.observation_shape, config.likelihood)
        hyperparameters = resolve_hyperparameters(config.method, config.hyperparameters)
    except ValueError as e:
        raise RunConfigError(str(e)) from e
    return dataclasses.replace(config, architecture=architecture, hyperparameters=hyperparameters)


def training_distribution(config: TrainConfig, dataset: GroundTruthData) -> GroundTruthData:
    """The data training batches come from: ``dataset`` itself, its grid under correlated factors
    (Träuble et al. 2021, :class:`~tfdisent.data.correlated.CorrelatedFactors`) or the train part of a
    held-out split (Schott et al. 2022, :func:`~tfdisent.data.splits.make_split`). Wrapping the dataset
    here, below ``GaussianVAE.training_dataset``, gives every method (pairs, labels, plain batches) the
    same distribution. Raises ValueError for pairs or splits that do not fit the dataset."""
    if config.correlated_factors:
        pairs = parse_pairs(config.correlated_factors, dataset.factor_names)
        return CorrelatedFactors(dataset, pairs, config.correlation_strength)
    if config.heldout_split:
        train, _ = make_split(config.heldout_split, dataset.factor_sizes, config.heldout_train_fraction,
                              config.heldout_seed)
        return IndexedSubset(dataset, train, name=f"{dataset.name}_{config.heldout_split}_train")
    return dataset


def build_model(config: TrainConfig, dataset: GroundTruthData) -> GaussianVAE:
    """Builds and compiles the objective with its networks and optimizer(s), all variables created.

    ``config`` must be resolved (:func:`resolve_config`). Weights are a function of ``config.seed``.
    """
    seeds = derive_seeds(config.seed, config.data_seed)
    previous_policy = keras.mixed_precision.global_policy()
    # Layers take the policy when they are built (variables stay float32); the objective computes its
    # losses and estimators in float32. Set only while building: no process-wide effect.
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        with seeded_initializers(seeds["model"]):
            encoder, decoder = build_architecture(config.architecture, dataset.observation_shape,
                                                  config.latent_dim)
            capacity = None
            if config.capacity_max is not None:
                capacity = CapacitySchedule(config.capacity_max, config.capacity_steps, config.capacity_start)
            model = get_method(config.method)(
                encoder, decoder, likelihood=config.likelihood, dataset_size=dataset.num_examples,
                capacity=capacity, seed=seeds["objective"], **config.hyperparameters)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    model.adapt(dataset)
    # disentanglement_lib's VAE optimizer: Adam(lr, 0.9, 0.999, 1e-8).
    optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if config.precision == "mixed_float16":
        # float16's 5-bit exponent underflows small gradients; bfloat16 has float32's range and needs none.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer)
    model.optimizer.build(model.vae_variables())
    return model


def resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix from a run directory, a checkpoint directory (a run's rotating ones, or one
    written by :meth:`Trainer.save` with a path) or a prefix."""
    for directory in (os.path.join(path, CHECKPOINT_DIR), path):
        if os.path.isdir(directory):
            latest = tf.train.latest_checkpoint(directory)
            if latest:
                return latest
            standalone = os.path.join(directory, STANDALONE_CHECKPOINT)
            if tf.io.gfile.exists(standalone + ".index"):
                return standalone
    if tf.io.gfile.exists(path + ".index"):
        return path
    raise RunConfigError(f"no checkpoint found at {path} (expected a run directory, a checkpoint "
                         f"directory or a checkpoint prefix)")


def warm_start(model: GaussianVAE, path: str) -> str:
    """Initialises encoder and decoder from another run (e.g. a plain VAE; Abdi et al. 2019)."""
    prefix = resolve_checkpoint(path)
    try:
        status = tf.train.Checkpoint(encoder=model.encoder, decoder=model.decoder).restore(prefix)
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:  # unmatched objects, or variables of other shapes
        raise RunConfigError(f"--init_from {path}: its networks do not match this run's "
                             f"architecture/latent_dim ({e})") from e
    return prefix


def read_train_results(run_dir: str) -> dict:
    """``<run_dir>/results/train_results.json`` as a dict ({} when the run has not finished)."""
    path = os.path.join(run_dir, RESULTS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


class _PlateauState(tf.Module):
    """Checkpointable state of Keras' ReduceLROnPlateau (best loss, wait and cooldown counters)."""

    def __init__(self):
        super().__init__()
        self.best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.cooldown = tf.Variable(0, dtype=tf.int64, trainable=False)


class _DataState(tf.Module):
    """The batch size of the checkpointed data stream (it may change during training)."""

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = tf.Variable(batch_size, dtype=tf.int64, trainable=False)


class Trainer:
    """Trains one model in one run directory; see the module docstring for the layout.

    Everything is validated here, before anything is written: the run directory is created only
    by :meth:`restore_or_initialize` (or :meth:`train`), so a failed start leaves nothing behind.

    Args:
      config: the run's settings.
      run_dir: its directory; it may hold other files (e.g. a Ray trial's), but no other run.
      callbacks: called every ``eval_every`` steps (metric progress, see ``tfdisent.evaluation``).
      dataset: the training data (default: ``load_dataset(config.dataset)``).
      handle_signals: save and stop on SIGINT/SIGTERM. ``None``: only on the main thread, where
        Python allows handlers (Ray runs function trainables on other threads).
      exporter: writes the SavedModel, ``exporter(trainer) -> version directory``; default
        :func:`tfdisent.export.export_trainer`.
    """

    def __init__(self, config: TrainConfig, run_dir: str, callbacks: Optional[List[StepCallback]] = None,
                 eval_every: int = 0, dataset: Optional[GroundTruthData] = None,
                 handle_signals: Optional[bool] = None, exporter: Optional[Callable[["Trainer"], str]] = None):
        config.validate()
        if os.path.exists(run_dir) and not os.path.isdir(run_dir):
            raise RunConfigError(f"{run_dir} exists and is not a directory; choose another --output_dir")
        if dataset is None:
            kwargs = {"data_dir": config.data_dir} if config.data_dir else {}
            dataset = load_dataset(config.dataset, **kwargs)
        self.dataset = dataset  # what metrics and callbacks see: the full, uncorrelated grid
        self.training_data = training_distribution(config, dataset)
        self.config = resolve_config(config, dataset)
        check_precision(self.config.precision)
        self.run_dir = run_dir
        self.callbacks = list(callbacks or [])
        self.eval_every = eval_every
        self.exporter = exporter
        self._mutable_method = mutable_names(get_method(self.config.method).hyperparameters)
        self._saved_config = self._check_run_dir()
        self.model = build_model(self.config, self.training_data)
        self.jit = use_xla(self.config.jit_compile)
        self.seeds = derive_seeds(self.config.seed, self.config.data_seed)
        self.plateau = _PlateauState()
        self.data_state = _DataState(self.config.batch_size)
        self.plateau_callback = None
        if self.config.lr_plateau_patience:
            self.plateau_callback = keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=self.config.lr_plateau_factor, patience=self.config.lr_plateau_patience,
                min_lr=self.config.lr_plateau_min_lr, verbose=0)
            self.plateau_callback.set_model(self.model)
        self._make_data_stream(self.config.batch_size)
        self._warm_start_prefix = None
        if self.config.init_from and self._latest_own_checkpoint() is None:
            self._warm_start_prefix = warm_start(self.model, self.config.init_from)  # validates it too
        if handle_signals is None:
            handle_signals = threading.current_thread() is threading.main_thread()
        self.handle_signals = handle_signals
        self._stop_signal: Optional[int] = None
        self._writer = None
        self._image_batch = None
        self._last_save_time: Optional[float] = None
        self._initialized = False
        self._train_loop = self._make_train_loop()

    # --- set-up ---------------------------------------------------------------------------------
    def _check_run_dir(self) -> Optional[TrainConfig]:
        config_path = os.path.join(self.run_dir, CONFIG_FILE)
        if os.path.exists(config_path):
            saved = TrainConfig.load(config_path)
            self.config.check_resumable_from(saved, self.run_dir, self._mutable_method)
            return saved
        if os.path.isdir(os.path.join(self.run_dir, CHECKPOINT_DIR)):
            raise RunConfigError(f"{self.run_dir} holds checkpoints but no {CONFIG_FILE}; choose another "
                                 f"--output_dir")
        return None

    def _latest_own_checkpoint(self) -> Optional[str]:
        directory = os.path.join(self.run_dir, CHECKPOINT_DIR)
        return tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None

    def _make_data_stream(self, batch_size: int) -> None:
        """(Re)builds the batch iterator for ``batch_size`` and the checkpoint objects that hold it."""
        seed = data_stream_seed(self.seeds["data"], batch_size)
        self.iterator = iter(self.model.training_dataset(self.training_data, batch_size, seed))
        self.data_state.batch_size.assign(batch_size)
        self.checkpoint = tf.train.Checkpoint(data_iterator=self.iterator, plateau=self.plateau,
                                              data=self.data_state, **self.model.checkpoint_objects())
        self.manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(self.run_dir, CHECKPOINT_DIR),
                                                  max_to_keep=2)

    @property
    def step(self) -> int:
        return int(self.model.step.numpy())

    def _write_config(self) -> None:
        os.makedirs(self.run_dir, exist_ok=True)
        self.config.save(os.path.join(self.run_dir, CONFIG_FILE), extra={"seeds": self.seeds})

    def restore_or_initialize(self) -> int:
        """Creates the run directory, writes ``config.json`` and restores the latest checkpoint (or
        keeps the warm start / fresh initialisation). Returns the step. Idempotent."""
        if self._initialized:
            return self.step
        latest = self._latest_own_checkpoint()
        if latest:
            self._restore_prefix(latest, data=True)
            self._plateau_from_variables()
            # Values given anew (changed from the saved config) win over the checkpoint's.
            saved = self._saved_config
            changed = {name: value for name, value in self._mutable_config_values().items()
                       if saved is None or _mutable_value(saved, name) != value}
            if changed:
                self.set_hyperparameters(**changed)
            logging.info("resumed from %s at step %d", latest, self.step)
        elif self._warm_start_prefix:
            logging.info("warm start: encoder and decoder initialised from %s", self._warm_start_prefix)
        self._write_config()
        self._initialized = True
        return self.step

    # --- mutable hyperparameters ----------------------------------------------------------------
    def _mutable_config_values(self) -> Dict[str, float]:
        return {name: _mutable_value(self.config, name) for name in MUTABLE_SETTINGS + self._mutable_method}

    @property
    def hyperparameters(self) -> Dict[str, float]:
        """The current values of everything :meth:`set_hyperparameters` can change."""
        values = {"learning_rate": float(self.model.optimizer.learning_rate.numpy()),
                  "batch_size": int(self.data_state.batch_size.numpy())}
        values.update(self.model.mutable_hyperparameters())
        return values

    def set_hyperparameters(self, **values) -> None:
        """Changes ``learning_rate``, ``batch_size`` and the method's mutable hyperparameters.

        They take effect at the next step: the learning rate and the method's values are variables
        read by the compiled step (no rebuild, no retrace); a new batch size swaps the data stream
        (seeded by the data seed and the batch size) and traces the step once for the new shape
        (static shapes are kept: the ``mss`` estimator and XLA need them). The values are
        checkpointed and recorded in ``config.json``.
        """
        unknown = sorted(set(values) - set(MUTABLE_SETTINGS) - set(self._mutable_method))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} cannot change during training; mutable: "
                             f"{', '.join(MUTABLE_SETTINGS + self._mutable_method)}")
        updates = {}
        method_values = {k: v for k, v in values.items() if k in self._mutable_method}
        if method_values:
            self.model.set_mutable_hyperparameters(method_values)
            updates["hyperparameters"] = {**self.config.hyperparameters, **self.model.mutable_hyperparameters()}
        if "learning_rate" in values:
            learning_rate = float(values["learning_rate"])
            if not learning_rate > 0:
                raise ValueError(f"learning_rate must be positive, got {learning_rate}")
            self.model.optimizer.learning_rate.assign(learning_rate)
            updates["learning_rate"] = learning_rate
        if "batch_size" in values:
            batch_size = int(values["batch_size"])
            if batch_size != values["batch_size"] or batch_size < 2:
                raise ValueError(f"batch_size must be an integer >= 2, got {values['batch_size']}")
            if batch_size != int(self.data_state.batch_size.numpy()):
                self._make_data_stream(batch_size)
            updates["batch_size"] = batch_size
        self.config = dataclasses.replace(self.config, **updates)
        if self._initialized:
            self._write_config()

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

    def save(self, path: Optional[str] = None) -> str:
        """Saves the complete training state; returns the checkpoint prefix.

        ``path=None``: the run's own ``checkpoints/`` (rotating, what resuming reads). A directory:
        a standalone checkpoint written there (e.g. for a Ray Tune checkpoint), for :meth:`restore`.
        """
        self._plateau_to_variables()
        if path is None:
            self.restore_or_initialize()
            return self.manager.save(checkpoint_number=self.step)
        os.makedirs(path, exist_ok=True)
        return self.checkpoint.write(os.path.join(path, STANDALONE_CHECKPOINT))

    def restore(self, path: str, data: bool = True) -> None:
        """Restores a complete training state written by :meth:`save` (a directory, a run directory
        or a checkpoint prefix): weights, optimizer state, step, mutable hyperparameters and, with
        ``data=True``, the data stream's position and batch size. ``data=False`` keeps this
        trainer's own batches (population-based training copies a donor's model, not its data)."""
        self._restore_prefix(resolve_checkpoint(path), data)
        self._plateau_from_variables()
        self.config = dataclasses.replace(
            self.config, learning_rate=float(self.model.optimizer.learning_rate.numpy()),
            batch_size=int(self.data_state.batch_size.numpy()),
            hyperparameters={**self.config.hyperparameters, **self.model.mutable_hyperparameters()})
        if self._initialized:
            self._write_config()

    def _restore_prefix(self, prefix: str, data: bool) -> None:
        if data:
            saved_batch = int(tf.train.load_variable(prefix, "data/batch_size/.ATTRIBUTES/VARIABLE_VALUE"))
            if saved_batch != int(self.data_state.batch_size.numpy()):
                self._make_data_stream(saved_batch)
            # Every object of ours must get its values (a manager's checkpoint also holds its save counter).
            self.checkpoint.read(prefix).assert_existing_objects_matched()
        else:
            partial = tf.train.Checkpoint(plateau=self.plateau, **self.model.checkpoint_objects())
            partial.read(prefix).expect_partial().assert_existing_objects_matched()

    def _handle_signal(self, signum, frame):
        del frame
        self._stop_signal = signum

    @contextlib.contextmanager
    def _signals(self):
        if not self.handle_signals:
            yield
            return
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT),
                    signal.SIGTERM: signal.getsignal(signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, self._handle_signal)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # --- the loop ---------------------------------------------------------------------------------
    def _make_train_loop(self):
        """One compiled call runs a logging interval; ``train_step`` returns running means (the model's
        trackers, reset here per interval), so the last step's logs are the interval's means and a
        non-finite loss anywhere in the interval makes the mean loss non-finite."""
        step_fn = tf.function(self.model.train_step, jit_compile=self.jit)

        @tf.function
        def train_loop(iterator, num_steps):
            logs = step_fn(next(iterator))
            for _ in tf.range(num_steps - 1):
                logs = step_fn(next(iterator))
            return logs

        return train_loop

    def _reset_trackers(self) -> None:
        for tracker in self.model.metrics:
            tracker.reset_state()

    @property
    def writer(self) -> tf.summary.SummaryWriter:
        if self._writer is None:
            self.restore_or_initialize()
            self._writer = tf.summary.create_file_writer(os.path.join(self.run_dir, LOG_DIR))
            if self.step == 0:
                summaries.write_hparams(self._writer, self.config.to_dict(), self.model.get_hyperparameters())
        return self._writer

    def _run_interval(self, num_steps: int) -> Dict[str, np.ndarray]:
        self._reset_trackers()
        mean_logs = self._train_loop(self.iterator, tf.constant(num_steps, tf.int64))
        return self._checked_logs(mean_logs, self.step - num_steps, num_steps)

    def _checked_logs(self, mean_logs: Dict[str, tf.Tensor], start: int, num_steps: int) -> Dict[str, np.ndarray]:
        if not np.isfinite(float(mean_logs["loss"])):
            raise NonFiniteLossError(
                f"non-finite loss between steps {start} and {start + num_steps}; stopped without "
                f"saving, the last good checkpoint is {self.manager.latest_checkpoint or 'none'}. "
                f"Lower --learning_rate or the regularisation strength and rerun")
        return {k: v.numpy() for k, v in mean_logs.items()}

    def train_steps(self, num_steps: int, interval_callback: Optional[IntervalCallback] = None,
                    progress: Optional[summaries.Progress] = None) -> Dict[str, float]:
        """Runs ``num_steps`` more steps (logging intervals aligned to ``log_every``), with the usual
        TensorBoard logging, callbacks and checkpoints. Returns the mean scalar logs over these steps.

        Raises NonFiniteLossError (nothing saved) or Interrupted (saved) on a signal.
        """
        if num_steps <= 0:
            raise ValueError(f"num_steps must be positive, got {num_steps}")
        self._prepare_intervals()
        target = self.step + num_steps
        totals: Dict[str, float] = {}
        with self._signals():
            while self.step < target:
                interval = self.next_interval(target)
                logs = self._run_interval(interval)
                _accumulate(totals, logs, interval)
                self._after_interval(interval, logs, progress)
                if interval_callback is not None and interval_callback(self.step, _scalars(logs)):
                    break
        self.writer.flush()
        done = num_steps - (target - self.step)
        return {name: total / done for name, total in totals.items()}

    def next_interval(self, target: int) -> int:
        """Steps until the next logging boundary (multiples of ``log_every``) or ``target``."""
        step = self.step
        return min(self.config.log_every - step % self.config.log_every, target - step)

    def _prepare_intervals(self) -> None:
        self.writer  # noqa: B018 - creates the run directory and the event writer
        if self._image_batch is None and self.config.image_every:
            self._image_batch = self.dataset.sample_observations(8, np.random.RandomState(self.seeds["data"]))
        if self._last_save_time is None:
            self._last_save_time = time.time()

    def _after_interval(self, interval: int, logs: Dict[str, np.ndarray],
                        progress: Optional[summaries.Progress] = None) -> None:
        """Everything after a logging interval of ``interval`` steps: progress, plateau LR, TensorBoard,
        callbacks, checkpoints and a pending signal (saved, then Interrupted)."""
        config, writer, step = self.config, self.writer, self.step
        rates = progress.update(step, logs) if progress else {}
        self._maybe_reduce_lr(step, logs)
        summaries.write_scalars(writer, step, logs, float(self.model.optimizer.learning_rate), rates)
        if config.image_every and (step % config.image_every < interval or step == config.steps):
            summaries.write_images(writer, step, self.model, self._image_batch, logs["kl_per_dim"])
        if self.eval_every and self.callbacks and (step % self.eval_every < interval or step == config.steps):
            for callback in self.callbacks:
                callback(step, self.model, self.dataset, writer)
        if (step % config.checkpoint_every < interval
                or time.time() - self._last_save_time >= config.checkpoint_secs):
            self.save()
            self._last_save_time = time.time()
        if self._stop_signal is not None:
            self.save()
            raise Interrupted(self._stop_signal, step)

    def train(self, interval_callback: Optional[IntervalCallback] = None) -> Dict[str, object]:
        """Runs until ``config.steps``, then :meth:`finish`; returns the results.

        ``interval_callback(step, logs)`` is called after every logging interval; returning True
        stops early after saving a checkpoint (no :meth:`finish`; the results so far are returned).
        """
        start_step = self.restore_or_initialize()
        wall_start = time.time()
        progress = summaries.Progress(start_step, self.config.steps, self.config.batch_size)
        stopped = {"early": False}

        def on_interval(step, logs):
            self._last_logs = logs
            if interval_callback is not None and interval_callback(step, logs):
                stopped["early"] = True
                return True
            return None

        self._last_logs: Dict[str, float] = {}
        if self.step < self.config.steps:
            self.train_steps(self.config.steps - self.step, on_interval, progress)
        latest = self._latest_own_checkpoint()
        if latest is None or not latest.endswith(f"-{self.step}"):
            self.save()
        self._train_seconds = time.time() - wall_start
        if stopped["early"]:
            return {"step": self.step, "train": dict(self._last_logs), "stopped_early": True}
        return self.finish()

    def _maybe_reduce_lr(self, step: int, logs: Dict[str, np.ndarray]) -> None:
        if self.plateau_callback is not None:
            # One "epoch" of the callback is one logging interval.
            self.plateau_callback.on_epoch_end(step // self.config.log_every, {"loss": float(logs["loss"])})

    # --- after training ---------------------------------------------------------------------------
    def evaluate(self, num_batches: Optional[int] = None) -> Dict[str, object]:
        """Held-out evaluation of the current model in inference mode, as disentanglement_lib's
        ``eval_steps``: mean of every loss term over ``num_batches`` fresh batches (default
        ``config.eval_batches``), the per-dimension KL and the number of active latents."""
        num_batches = self.config.eval_batches if num_batches is None else int(num_batches)
        if num_batches <= 0:
            return {}
        batch_size = int(self.data_state.batch_size.numpy())
        # A stream of its own (never the training stream's position): an independent held-out sample.
        seed = data_stream_seed(self.seeds["data"] + 1, batch_size)
        batches = self.model.training_dataset(self.training_data, batch_size, seed).take(num_batches)
        test_step = tf.function(self.model.test_step)
        self._reset_trackers()
        logs = {}
        for batch in batches:
            logs = test_step(batch)  # running means over the batches so far
        means = {name: value.numpy() for name, value in logs.items()}
        self._reset_trackers()
        results: Dict[str, object] = {k: float(v) for k, v in means.items() if np.ndim(v) == 0}
        kl_per_dim = np.asarray(means.get("kl_per_dim", []), np.float64)
        results["kl_per_dim"] = [float(v) for v in kl_per_dim]
        results["active_latents"] = int(np.sum(active_latents(kl_per_dim)))
        results["num_examples"] = num_batches * batch_size
        return results

    def export(self) -> str:
        """Writes the SavedModel to ``<run_dir>/export/<step>/`` (TF Serving's layout); returns it."""
        self.restore_or_initialize()
        exporter = self.exporter
        if exporter is None:
            # The export layer sits above training; it is reached only here, at call time, so that a
            # Trainer used from Python exports like tfdisent-train does (TrainConfig.export).
            from tfdisent.export import export_trainer as exporter
        path = exporter(self)
        logging.info("exported SavedModel: %s", os.path.abspath(path))
        return path

    def export_metadata(self) -> Dict[str, object]:
        """What the export records about its run (assets.extra/tfdisent_export.json)."""
        return {"method": self.config.method, "dataset": self.config.dataset, "step": self.step,
                "architecture": self.config.architecture, "likelihood": self.config.likelihood,
                "latent_dim": self.config.latent_dim, "seed": self.config.seed, "seeds": dict(self.seeds),
                "precision": self.config.precision,
                "hyperparameters": self.model.get_hyperparameters(),
                "training": {k: v for k, v in self.config.to_dict().items()
                             if k in ("batch_size", "learning_rate", "steps", "capacity_max", "capacity_steps",
                                      "capacity_start", "init_from", "data_seed", "correlated_factors",
                                      "correlation_strength", "heldout_split", "heldout_train_fraction",
                                      "heldout_seed")}}

    def finish(self) -> Dict[str, object]:
        """End of training: held-out evaluation, the SavedModel (``config.export``) and
        ``results/train_results.json``; returns the results."""
        self.restore_or_initialize()
        results: Dict[str, object] = {
            "step": self.step, "wall_time_seconds": getattr(self, "_train_seconds", 0.0), "xla": self.jit,
            "dataset": self.dataset.name, "training_data": self.training_data.name,
            "train": dict(getattr(self, "_last_logs", {})),
            "hyperparameters": self.hyperparameters}
        evaluation_start = time.time()
        results["eval"] = self.evaluate()
        results["eval_wall_time_seconds"] = time.time() - evaluation_start
        results["export"] = self.export() if self.config.export else None
        path = os.path.join(self.run_dir, RESULTS_FILE)
        write_json_atomic(path, results, sort_keys=True, allow_nan=True)
        return results


class LockstepTrainers:
    """K models trained on the same batches, one compiled call per logging interval for all of them.

    The K trainers must share the dataset, batch size, ``log_every`` and ``data_seed`` (so that each
    one's own data stream would yield the same batches); they then share one iterator, which every
    trainer's checkpoint holds, so each run directory stays an ordinary, resumable run. One
    ``tf.function`` applies the K ``train_step`` s to each batch: the graph holds K independent
    models, which TensorFlow may run concurrently (and a GPU in one launch sequence) instead of K
    separate loops each reading its own copy of the batches. Used by population-based training's
    PBT-U-VAE (a member is five beta-TCVAEs whose UDR is its fitness).
    """

    def __init__(self, trainers: List[Trainer]):
        if len(trainers) < 2:
            raise ValueError("lock-step training needs at least two trainers")
        first = trainers[0]
        for other in trainers[1:]:
            same = (other.dataset is first.dataset, other.config.batch_size == first.config.batch_size,
                    other.config.log_every == first.config.log_every, other.seeds["data"] == first.seeds["data"],
                    _protocol(other.config) == _protocol(first.config))
            if not all(same):
                raise ValueError("lock-step trainers need the same dataset object, batch_size, log_every, "
                                 "data_seed and training distribution (correlated factors, held-out split)")
        self.trainers = list(trainers)
        for other in self.trainers[1:]:
            other.iterator = first.iterator
            other.checkpoint = tf.train.Checkpoint(data_iterator=first.iterator, plateau=other.plateau,
                                                   data=other.data_state, **other.model.checkpoint_objects())
            other.manager = tf.train.CheckpointManager(other.checkpoint, os.path.join(other.run_dir, CHECKPOINT_DIR),
                                                       max_to_keep=2)
        step_fns = [tf.function(t.model.train_step, jit_compile=t.jit) for t in self.trainers]

        @tf.function
        def train_loop(iterator, num_steps):
            batch = next(iterator)
            logs = [step_fn(batch) for step_fn in step_fns]
            for _ in tf.range(num_steps - 1):
                batch = next(iterator)
                logs = [step_fn(batch) for step_fn in step_fns]
            return logs

        self._train_loop = train_loop

    def restore_or_initialize(self) -> int:
        """Restores every trainer (they must be at the same step); returns the step."""
        steps = {t.restore_or_initialize() for t in self.trainers}
        if len(steps) != 1:
            raise RunConfigError(f"lock-step trainers are at different steps {sorted(steps)}")
        return steps.pop()

    def train_steps(self, num_steps: int) -> List[Dict[str, float]]:
        """Advances every model ``num_steps`` steps on the same batches; returns each one's mean logs."""
        if num_steps <= 0:
            raise ValueError(f"num_steps must be positive, got {num_steps}")
        self.restore_or_initialize()
        for trainer in self.trainers:
            trainer._prepare_intervals()
        first = self.trainers[0]
        target = first.step + num_steps
        totals: List[Dict[str, float]] = [{} for _ in self.trainers]
        while first.step < target:
            interval = first.next_interval(target)
            for trainer in self.trainers:
                trainer._reset_trackers()
            all_logs = self._train_loop(first.iterator, tf.constant(interval, tf.int64))
            for trainer, logs, total in zip(self.trainers, all_logs, totals):
                checked = trainer._checked_logs(logs, trainer.step - interval, interval)
                _accumulate(total, checked, interval)
                trainer._after_interval(interval, checked)
        return [{name: value / num_steps for name, value in total.items()} for total in totals]


def _protocol(config: TrainConfig) -> tuple:
    """The settings that shape the training distribution (``training_distribution``)."""
    return (tuple(config.correlated_factors), config.correlation_strength, config.heldout_split,
            config.heldout_train_fraction, config.heldout_seed)


def _accumulate(totals: Dict[str, float], logs: Dict[str, np.ndarray], steps: int) -> None:
    for name, value in logs.items():
        if np.ndim(value) == 0:
            totals[name] = totals.get(name, 0.0) + float(value) * steps


def _scalars(logs: Dict[str, np.ndarray]) -> Dict[str, float]:
    return {k: float(v) for k, v in logs.items() if np.ndim(v) == 0}


def _mutable_value(config: TrainConfig, name: str):
    return getattr(config, name) if name in MUTABLE_SETTINGS else config.hyperparameters.get(name)


def train(config: TrainConfig, run_dir: str, **kwargs) -> Dict[str, object]:
    """Convenience: build a :class:`Trainer` and run it."""
    return Trainer(dataclasses.replace(config), run_dir, **kwargs).train()
