"""One model of a study: train (resumably) via the Trainer API, export, score, write its record.

Two halves, so that a study can free a trial's training resources (a GPU) while the model's metrics
run on CPUs (issue 18): :func:`train_model` trains and exports (the Ray Tune trial, with the training
resources), :func:`evaluate_model` scores the export and writes the record (a CPU-only Ray task the
driver submits when the trial has exported; :mod:`tfdisent.study.runner`). :func:`run_model` is both
in one call (``evaluation="trial"``, and the tests' in-process path). Each model lives in an ordinary
run directory ``<output_dir>/models/<model_num>/`` that every other binary accepts::

    models/<n>/config.json, checkpoints/, logs/, export/<step>/      the Trainer's run directory
    models/<n>/results/train_results.json                           the Trainer's results
    models/<n>/results/evaluation_<representation>.json             tfdisent-evaluate's report format
    models/<n>/results/study_record.json                            status done|failed (+ reason)
    models/<n>/logs/study/                                          TensorBoard HParams + metric scalars
    models/<n>/results/study_attempts.json                          every training attempt: node, pid, start step
    models/<n>/.study_lock                                          held while a process trains the model

A model whose record says ``done`` for the same study fingerprint is never retrained or re-scored; an
unfinished one resumes from its run directory's latest checkpoint; an evaluation report already on
disk is kept. A model that cannot train (non-finite loss, invalid setting) gets a ``failed`` record
with the reason and does not raise, so the study goes on; anything else (a killed worker) raises and
Ray's ``FailureConfig`` retries the trial, which then resumes from the checkpoint.

Only one process trains a model at a time: :class:`ModelLock` (``.study_lock``, the owner's host, pid
and start time) makes a second one wait for the first and then fail (so Ray retries it later) rather
than write alongside it, e.g. a rerun next to a trial orphaned by a killed driver. A lock whose owner
is gone (same host: the pid no longer runs that process; another host: not refreshed for
:data:`LOCK_STALE_SECONDS`) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import psutil

from tfdisent.errors import one_line
from tfdisent.files import write_json_atomic
from tfdisent.training.resources import configure_tensorflow, current_node

MODELS_DIR = "models"
RECORD_FILE = os.path.join("results", "study_record.json")
TRAIN_RESULTS_FILE = os.path.join("results", "train_results.json")
STATUS_DONE = "done"
STATUS_FAILED = "failed"
STATUS_TRAINED = "trained"  # train_model's state: exported, not yet scored (never a record's status)
ATTEMPTS_FILE = os.path.join("results", "study_attempts.json")
FAILURES_FILE = os.path.join("results", "study_failures.json")  # earlier failures of a model that was retried
LOCK_FILE = ".study_lock"
# A lock held from another host counts as abandoned when not refreshed for this long; holders refresh
# it at every logging interval, so this must exceed the longest interval (minutes at most at CPU scale).
LOCK_STALE_SECONDS = 600.0
LOCK_WAIT_SECONDS = 60.0

# report(metrics) -> None; called after every logging interval and at the end (Ray Tune's tune.report).
Reporter = Callable[[Dict[str, Any]], None]



def model_dir(output_dir: str, model_num: int) -> str:
    return os.path.join(output_dir, MODELS_DIR, str(int(model_num)))


def evaluation_file(output_dir: str, model_num: int, representation: str) -> str:
    from tfdisent.evaluation.evaluate import report_path
    return report_path(model_dir(output_dir, model_num), representation)


def _read_model_json(output_dir: str, model_num: int, name: str, default: Any) -> Any:
    """The JSON file ``name`` of the model's run directory, or ``default`` when missing or unreadable."""
    try:
        with open(os.path.join(model_dir(output_dir, model_num), name)) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return default


def _append_model_json(output_dir: str, model_num: int, name: str, entry: dict) -> None:
    """Appends ``entry`` to the model's JSON list ``name`` (written atomically; a missing file is empty)."""
    entries = list(_read_model_json(output_dir, model_num, name, []))
    write_json_atomic(os.path.join(model_dir(output_dir, model_num), name), entries + [entry])


def read_record(output_dir: str, model_num: int) -> Optional[dict]:
    """The model's study record, or None when it has none (or it is unreadable)."""
    return _read_model_json(output_dir, model_num, RECORD_FILE, None)


def is_finished(output_dir: str, model_num: int, fingerprint: str) -> bool:
    """True when the model is done or failed for this study (so it is not run again)."""
    record = read_record(output_dir, model_num)
    return bool(record) and record.get("fingerprint") == fingerprint and record.get("status") in (
        STATUS_DONE, STATUS_FAILED)


def clear_failure(output_dir: str, model_num: int, fingerprint: str) -> Optional[dict]:
    """Makes a model recorded as failed for this study pending again (``tfdisent-study run
    --retry_failed``, e.g. after the cause was fixed): its failure record moves to
    ``results/study_failures.json`` (kept, with every earlier one) and the next run trains it, resuming
    from its last checkpoint if it has one. Returns the cleared record, or None when the model has no
    failure of this study."""
    record = read_record(output_dir, model_num)
    if not record or record.get("fingerprint") != fingerprint or record.get("status") != STATUS_FAILED:
        return None
    _append_model_json(output_dir, model_num, FAILURES_FILE, record)
    os.remove(os.path.join(model_dir(output_dir, model_num), RECORD_FILE))
    return record


def train_config_dict(model: Dict[str, Any], output_dir: str, data_dir: Optional[str]) -> Dict[str, Any]:
    """TrainConfig keywords of one model (a :meth:`ModelSpec.to_dict` dict)."""
    values = dict(model["train"])
    values.update(method=model["method"], dataset=model["dataset"], seed=int(model["seed"]),
                  hyperparameters=dict(model["hyperparameters"]), data_dir=data_dir)
    if model.get("init_from") is not None:
        values["init_from"] = os.path.abspath(model_dir(output_dir, model["init_from"]))
    return values


def _write_record(output_dir: str, model_num: int, record: dict) -> None:
    write_json_atomic(os.path.join(model_dir(output_dir, model_num), RECORD_FILE), record)


def write_failure(output_dir: str, model: Dict[str, Any], study_info: Dict[str, str], reason: str,
                  wall_time_seconds: Optional[float] = None) -> dict:
    """Writes (and returns) the failure record of ``model``: the one format of a failed model,
    whether the trial itself caught the error or the driver saw Ray give up on it (no wall time)."""
    record = {"model_num": model["model_num"], "status": STATUS_FAILED, "reason": reason,
              "study": study_info["name"], "fingerprint": study_info["fingerprint"], "spec": model}
    if wall_time_seconds is not None:
        record["wall_time_seconds"] = round(wall_time_seconds, 3)
    _write_record(output_dir, model["model_num"], record)
    return record


def _fail(output_dir, model, study_info, reason, started, report) -> dict:
    record = write_failure(output_dir, model, study_info, reason, time.time() - started)
    if report:
        report({"model_num": model["model_num"], "done": 1, "failed": 1})
    return record


def _metric_overrides(evaluation: Dict[str, Any], cpus: float) -> Dict[str, dict]:
    """The study's metric settings, with sklearn's n_jobs set to the trial's CPU share unless given."""
    from tfdisent import metrics
    overrides = {name: dict(evaluation.get("settings", {}).get(name, {})) for name in evaluation["metrics"]}
    for name, settings in overrides.items():
        if "n_jobs" in metrics.default_settings(name) and "n_jobs" not in settings:
            settings["n_jobs"] = max(1, int(round(cpus)))
    return overrides


class ModelBusyError(RuntimeError):
    """Another live process trains this model (one line); raised after waiting for it, so that Ray
    retries the trial later instead of two processes writing one run directory."""


def _process_alive(pid: int, started: Optional[float]) -> bool:
    """Whether ``pid`` still runs the process that started at ``started`` (a reused pid does not count)."""
    try:
        process = psutil.Process(pid)
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False


class ModelLock:
    """``<run_dir>/.study_lock``: this process trains the model; released on exit (see the module doc).

    ``refresh()`` (called at every logging interval) keeps a lock seen from another host alive."""

    def __init__(self, run_dir: str, wait_seconds: float = LOCK_WAIT_SECONDS,
                 stale_seconds: float = LOCK_STALE_SECONDS):
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.wait_seconds, self.stale_seconds = wait_seconds, stale_seconds
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process(os.getpid()).create_time(),
                      "node": current_node()}

    def _holder(self) -> Optional[dict]:
        try:
            with open(self.path) as stream:
                holder = json.load(stream)
            holder["age"] = time.time() - os.stat(self.path).st_mtime
            return holder
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"age": 0.0}  # being written right now by its owner: not stale

    def _stale(self, holder: dict) -> bool:
        if holder.get("host") == self.owner["host"] and "pid" in holder:
            if int(holder["pid"]) == os.getpid():
                return True  # our own (e.g. an earlier attempt in this same worker process)
            return not _process_alive(int(holder["pid"]), holder.get("started"))
        return holder.get("age", 0.0) > self.stale_seconds

    def __enter__(self) -> "ModelLock":
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        deadline = time.time() + self.wait_seconds
        while True:
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue
                if self._stale(holder):
                    # Rename, then delete: of two processes breaking the same stale lock only one wins.
                    try:
                        os.replace(self.path, f"{self.path}.stale.{os.getpid()}")
                        os.remove(f"{self.path}.stale.{os.getpid()}")
                    except FileNotFoundError:
                        pass
                    continue
                if time.time() > deadline:
                    raise ModelBusyError(
                        f"{os.path.dirname(self.path)} is being trained by process {holder.get('pid')} on "
                        f"{holder.get('host')} (lock {self.path}); not training it twice") from None
                time.sleep(1.0)
                continue
            with os.fdopen(descriptor, "w") as stream:
                json.dump(self.owner, stream)
            return self

    def refresh(self) -> None:
        try:
            os.utime(self.path)
        except OSError:
            pass

    def __exit__(self, *exc_info) -> None:
        holder = self._holder()
        if holder and holder.get("pid") == self.owner["pid"] and holder.get("host") == self.owner["host"]:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


def read_attempts(output_dir: str, model_num: int) -> List[dict]:
    """The model's training attempts (node id, host, pid, start step, time), oldest first."""
    return list(_read_model_json(output_dir, model_num, ATTEMPTS_FILE, []))


def _record_attempt(output_dir: str, model_num: int, start_step: int) -> None:
    _append_model_json(output_dir, model_num, ATTEMPTS_FILE,
                       {"node": current_node(), "host": socket.gethostname(), "pid": os.getpid(),
                        "start_step": int(start_step), "time": round(time.time(), 3)})


def _train(config_values, run_dir, dataset, report, model_num, output_dir) -> dict:
    """Trains to ``steps`` through the Trainer API (resuming from the run directory's latest
    checkpoint), which then evaluates on held-out batches and exports; returns the content of
    ``results/train_results.json``. Holds the model's :class:`ModelLock` throughout and records
    the attempt (its node and the step it resumed from)."""
    from tfdisent.training import TrainConfig, Trainer, read_train_results

    with ModelLock(run_dir) as lock:
        # handle_signals=None: Ray runs function trainables off the main thread, where no handler can be set.
        trainer = Trainer(TrainConfig(**config_values), run_dir, dataset=dataset, handle_signals=None)
        _record_attempt(output_dir, model_num, trainer.restore_or_initialize())

        def interval(step: int, logs: Dict[str, float]):
            lock.refresh()
            if report:
                scalars = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
                report({"model_num": model_num, "step": int(step), "done": 0, **scalars})
            return None

        trainer.train(interval_callback=interval)
    return read_train_results(run_dir)


def trained_results(output_dir: str, model: Dict[str, Any]) -> Optional[dict]:
    """The model's train_results.json when its training finished (there for its steps, with an
    export), else None: a rerun then goes straight to the evaluation."""
    from tfdisent.training import read_train_results

    results = read_train_results(model_dir(output_dir, model["model_num"]))
    steps = int(model["train"].get("steps", 0) or 0)
    finished = bool(results) and int(results.get("step", -1)) >= steps and bool(results.get("export"))
    return results if finished else None


def is_trained(output_dir: str, model: Dict[str, Any]) -> bool:
    """True when the model's training finished (:func:`trained_results`)."""
    return trained_results(output_dir, model) is not None


def _write_hparams(run_dir: str, model: Dict[str, Any], scores: Dict[str, float]) -> None:
    """TensorBoard HParams of the model (method, dataset, seed, hyperparameters) with its scores, so
    ``tensorboard --logdir <output_dir>/models`` compares the study in the HParams dashboard."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    hparams = {"method": model["method"], "dataset": model["dataset"], "seed": int(model["seed"]),
               "config": model["config_label"]}
    for key, value in model["hyperparameters"].items():
        hparams[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    from tfdisent.study.spec import PROTOCOL_KEYS
    for key in PROTOCOL_KEYS:  # the training distribution (issue 20), when the study sets it
        if key in model.get("train", {}):
            value = model["train"][key]
            hparams[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs", "study"))
    with writer.as_default():
        hp.hparams(hparams, trial_id=str(model["model_num"]))
        for name, value in scores.items():
            tf.summary.scalar(name, value, step=0)
    writer.flush()
    writer.close()


def _evaluate(output_dir, model, evaluation, dataset, cpus) -> Dict[str, Any]:
    """Every requested metric on every representation; returns per-representation file, wall time
    and the flat scores (for HParams)."""
    from tfdisent.evaluation import evaluate, representation

    run_dir = model_dir(output_dir, model["model_num"])
    export_path = representation.resolve_saved_model_dir(run_dir)
    encoder = representation.load_gaussian_encoder(export_path, dataset.observation_shape)
    representation.check_representation_on_data(dataset, encoder, seed=evaluation.get("seed", 0))
    overrides = _metric_overrides(evaluation, cpus)
    if "heldout_r2" in overrides:  # scored on the split the model trained on (Schott et al. 2022)
        from tfdisent.study.spec import heldout_metric_settings
        overrides["heldout_r2"].update(heldout_metric_settings(model["train"]))
    seed = int(evaluation.get("seed", 0))
    out: Dict[str, Any] = {"export": export_path, "reports": {}, "scores": {}}
    for kind in evaluation["representations"]:
        path = evaluation_file(output_dir, model["model_num"], kind)
        report = None
        if os.path.exists(path):
            try:
                with open(path) as stream:
                    report = json.load(stream)
            except ValueError:
                report = None  # half-written by a killed process: recompute
        if report is None or sorted(report.get("metrics", {})) != sorted(evaluation["metrics"]):
            start = time.perf_counter()
            function = representation.make_representation_function(encoder, kind, seed)
            results = evaluate.run_metrics(dataset, evaluation["metrics"], seed, representation_fn=function,
                                           overrides=overrides, progress=None)
            report = evaluate.build_report(results, dataset_name=model["dataset"], seed=seed, representation=kind,
                                           model_dir=os.path.abspath(run_dir), model_path=export_path,
                                           total_wall_time=time.perf_counter() - start)
            write_json_atomic(path, report)
        out["reports"][kind] = os.path.relpath(path, run_dir)
        out.setdefault("wall_time_seconds", {})[kind] = report.get("total_wall_time_seconds")
        for name, entry in report["metrics"].items():
            for key, value in entry.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "wall_time_seconds":
                    out["scores"][f"{kind}/{name}.{key}"] = float(value)
    return out


def _final(output_dir: str, model_num: int, study_info: Dict[str, str]) -> Optional[dict]:
    existing = read_record(output_dir, model_num)
    if existing and existing.get("fingerprint") == study_info["fingerprint"] and existing.get("status") in (
            STATUS_DONE, STATUS_FAILED):
        return existing
    return None


def train_model(output_dir: str, model: Dict[str, Any], study_info: Dict[str, str],
                data_dir: Optional[str] = None, cpus: float = 1.0, gpus: float = 0.0,
                report: Optional[Reporter] = None) -> dict:
    """The training half of a model: trains (resuming) and exports, unless already done.

    Returns the model's final record when it has one (finished before, or training failed for a
    deterministic reason: recorded as ``failed``), else ``{"model_num", "status": STATUS_TRAINED,
    "train_wall_time_seconds", "node"}``: the export is ready for :func:`evaluate_model`. Reports
    ``{"exported": 1}`` last in that case. Raises only what a retry may cure."""
    configure_tensorflow(cpus, gpus)
    started = time.time()
    model_num = int(model["model_num"])
    existing = _final(output_dir, model_num, study_info)
    if existing:
        if report:
            report({"model_num": model_num, "done": 1, "failed": int(existing["status"] == STATUS_FAILED),
                    "skipped": 1})
        return existing
    from tfdisent.data import DatasetError, load_dataset
    from tfdisent.training import NonFiniteLossError, RunConfigError

    run_dir = model_dir(output_dir, model_num)
    train_results = trained_results(output_dir, model)  # set: a rerun after the driver died during the evaluation
    if train_results is None:
        try:
            kwargs = {"data_dir": data_dir} if data_dir else {}
            dataset = load_dataset(model["dataset"], **kwargs)
            config_values = train_config_dict(model, output_dir, data_dir)
            train_results = _train(config_values, run_dir, dataset, report, model_num, output_dir)
        except (NonFiniteLossError, RunConfigError, DatasetError, ValueError) as error:
            return _fail(output_dir, model, study_info, one_line(error), started, report)
    state = {"model_num": model_num, "status": STATUS_TRAINED, "node": current_node(),
             "train_wall_time_seconds": train_results.get("wall_time_seconds"),
             "wall_time_seconds": round(time.time() - started, 3)}
    if report:
        report({"model_num": model_num, "done": 0, "exported": 1, "step": int(train_results.get("step", 0)),
                "train_seconds": state["wall_time_seconds"]})
    return state


def evaluate_model(output_dir: str, model: Dict[str, Any], evaluation: Dict[str, Any],
                   study_info: Dict[str, str], data_dir: Optional[str] = None, cpus: float = 1.0,
                   train_wall_seconds: float = 0.0, alone: bool = False) -> dict:
    """The evaluation half of a trained model: every metric on every representation of its export
    (reports already on disk are kept), its TensorBoard HParams, and its final record; returns it.

    Needs CPUs only; ``alone`` (its own process, a Ray task) hides the node's GPUs from TensorFlow so a
    GPU stays wholly the training's. A model that already has a final record is returned as is; an export that cannot be scored (e.g. it encodes
    NaN) is recorded as ``failed``."""
    configure_tensorflow(cpus, 0.0, use_gpus=not alone)
    started = time.time()
    model_num = int(model["model_num"])
    existing = _final(output_dir, model_num, study_info)
    if existing:
        return existing
    from tfdisent.data import load_dataset
    from tfdisent.training import read_train_results

    run_dir = model_dir(output_dir, model_num)
    try:
        kwargs = {"data_dir": data_dir} if data_dir else {}
        evaluated = _evaluate(output_dir, model, evaluation, load_dataset(model["dataset"], **kwargs), cpus)
    except ValueError as error:  # RepresentationError: e.g. the export encodes NaN
        return _fail(output_dir, model, study_info, one_line(error), started - train_wall_seconds, None)
    train_results = read_train_results(run_dir)
    attempts = read_attempts(output_dir, model_num)
    record = {"model_num": model_num, "status": STATUS_DONE, "study": study_info["name"],
              "fingerprint": study_info["fingerprint"], "spec": model, "train_results": TRAIN_RESULTS_FILE,
              "export": evaluated["export"], "evaluations": evaluated["reports"],
              "evaluation_wall_time_seconds": evaluated.get("wall_time_seconds", {}),
              "train_wall_time_seconds": train_results.get("wall_time_seconds"),
              "wall_time_seconds": round(time.time() - started + train_wall_seconds, 3),
              "thread": "main" if threading.current_thread() is threading.main_thread() else "worker",
              "train_node": attempts[-1]["node"] if attempts else None, "evaluation_node": current_node(),
              "attempts": len(attempts)}
    try:
        _write_hparams(run_dir, model, evaluated["scores"])
    except Exception as error:  # noqa: BLE001 - a dashboard must not fail a finished model
        record["hparams_error"] = one_line(error)
    _write_record(output_dir, model_num, record)
    return record


def run_model(output_dir: str, model: Dict[str, Any], evaluation: Dict[str, Any], study_info: Dict[str, str],
              data_dir: Optional[str] = None, cpus: float = 1.0, gpus: float = 0.0,
              report: Optional[Reporter] = None) -> dict:
    """Trains, exports and scores one model (a :meth:`ModelSpec.to_dict` dict) in this process;
    returns its record (:func:`train_model` then :func:`evaluate_model`).

    ``study_info`` holds the study's ``name`` and ``fingerprint`` (recorded, and checked to skip
    finished models). Raises only for errors that a retry may cure (e.g. the process was killed).
    """
    state = train_model(output_dir, model, study_info, data_dir, cpus, gpus, report)
    if state.get("status") != STATUS_TRAINED:
        return state
    record = evaluate_model(output_dir, model, evaluation, study_info, data_dir, cpus,
                            float(state["wall_time_seconds"]))
    if report:
        from tfdisent.training import read_train_results

        step = read_train_results(model_dir(output_dir, model["model_num"])).get("step", 0)
        report({"model_num": int(model["model_num"]), "done": 1, "failed": int(record["status"] == STATUS_FAILED),
                "step": int(step)})
    return record
