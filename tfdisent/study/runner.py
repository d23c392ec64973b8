"""Runs a study's models as Ray Tune trials (one model = one trial), resumably.

* Engine: ``tune.Tuner`` over ``tune.grid_search`` of model numbers with the function trainable
  :func:`_trainable` wrapped in ``tune.with_resources({"cpu": c, "gpu": g})``; no home-made pools or
  queues. Each trial sizes TensorFlow's thread pools to its CPU share (:func:`tfdisent.training.resources.configure_tensorflow`).
* Evaluation off the training slot (issue 18): a trial trains and exports, then ends, freeing its
  resources (a GPU) for the next trial; the driver's Tune callback submits the model's scoring as a
  Ray task with CPUs only (:class:`Evaluations`, ``ray.remote(...).options(num_cpus, num_gpus=0)``)
  and collects it while Tune goes on (``evaluation_placement="trial"`` keeps the old in-trial path).
* Faults: ``FailureConfig(max_failures)`` retries a crashed trial, which resumes from its run
  directory's checkpoint (the run directory under ``--output_dir`` *is* the checkpoint, so nothing is
  copied into Ray's storage). A killed driver: rerunning the same command skips every model whose
  ``study_record.json`` is final and resumes the others. We do not use ``Tuner.restore``: it cannot
  change the search space, and a rerun may legitimately select other models (``--only``, ``--seeds``).
* Warm starts: models whose ``init_from`` model is part of the run wait for it (two Tuner phases).
* Storage: ``RunConfig(storage_path=<output_dir>/ray_results)``; on a cluster ``--output_dir`` must be
  the same shared path (NFS) on every node (Ray >= 2.7 no longer syncs to the head node).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from tfdisent.files import write_json_atomic
from tfdisent.registry import plugin_paths
from tfdisent.study import trial
from tfdisent.study import trial as study_trial  # the callbacks' ``trial`` argument is Tune's Trial
from tfdisent.study.spec import ModelSpec, Study, StudyError
from tfdisent.training.precision import PrecisionError, check_precision
from tfdisent.training.resources import RayAddressError, init_ray, tune_verbosity

STUDY_FILE = "study.json"
RAY_DIR = "ray_results"

Progress = Callable[[str], None]
EVALUATION_PLACEMENTS = ("task", "trial")


# --- the output directory -------------------------------------------------------------------------
def read_study_file(output_dir: str) -> Optional[dict]:
    path = os.path.join(output_dir, STUDY_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise StudyError(f"{path} is unreadable ({error}); choose another --output_dir") from None


def check_output_dir(output_dir: str, study: Study) -> None:
    """Raises StudyError when ``output_dir`` is a file, or holds another study (or other files)."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise StudyError(f"--output_dir {output_dir} is a file, not a directory")
    saved = read_study_file(output_dir)
    if saved is not None:
        if saved.get("fingerprint") != study.fingerprint():
            raise StudyError(f"--output_dir {output_dir} holds another study ({saved.get('name')}, "
                             f"fingerprint {saved.get('fingerprint')}; this one is {study.name}, "
                             f"{study.fingerprint()}); choose another --output_dir")
    elif os.path.isdir(output_dir) and os.listdir(output_dir):
        raise StudyError(f"--output_dir {output_dir} is not empty and holds no {STUDY_FILE}; "
                         "choose an empty or new directory")


def write_study_file(output_dir: str, study: Study) -> None:
    payload = study.to_dict()
    payload.update(fingerprint=study.fingerprint(), study_file=study.path)
    write_json_atomic(os.path.join(output_dir, STUDY_FILE), payload)


# --- Ray --------------------------------------------------------------------------------------------
def connect_ray(address: Optional[str], verbose: bool = False) -> bool:
    """Connects to (or starts) Ray; returns True when this call started it (so we shut it down)."""
    try:
        return init_ray(address, verbose=verbose)
    except RayAddressError as error:
        raise StudyError(str(error)) from None


class Evaluations:
    """Scores trained models as Ray tasks with CPUs only, while the Tune trials train the next models.

    The driver submits one task per model when its trial has exported (:meth:`submit`, from
    :class:`ProgressCallback`) and collects them as they finish (:meth:`poll`) or at the end of a
    phase (``poll(None)``). A task that Ray could not run after ``max_retries`` (its worker or node
    died) becomes the model's failure record; a rerun of the study evaluates what is missing."""

    def __init__(self, payload: Dict[str, Any], cpus: float, max_retries: int):
        import ray

        self.payload = payload
        self.payload_ref = ray.put(payload)   # one copy in the object store, not one per task
        self.remote = ray.remote(_evaluation_task).options(num_cpus=cpus, num_gpus=0, max_retries=max_retries)
        self.pending: Dict[Any, int] = {}

    def submit(self, model_num: int, train_wall_seconds: float) -> None:
        self.pending[self.remote.remote(self.payload_ref, model_num, train_wall_seconds)] = model_num

    def poll(self, timeout: Optional[float] = 0) -> List[tuple]:
        """``[(model_num, record or None, error or None)]`` of the tasks finished within ``timeout``
        seconds (None: wait for all)."""
        import ray

        if not self.pending:
            return []
        refs = list(self.pending)
        done, _ = ray.wait(refs, num_returns=len(refs) if timeout is None else 1, timeout=timeout)
        if timeout is not None and done:  # everything else already finished too
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        finished = []
        for ref in done:
            model_num = self.pending.pop(ref)
            try:
                finished.append((model_num, ray.get(ref), None))
            except Exception as error:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...: a record
                text = str(error).strip().splitlines()
                reason = "evaluation errored: " + (text[-1] if text else type(error).__name__)
                record = trial.write_failure(self.payload["output_dir"], self.payload["models"][model_num],
                                             self.payload["study_info"], reason)
                finished.append((model_num, record, reason))
        return finished


class ProgressCallback:
    """Prints models done / running / failed and an ETA as trials report (a ``tune.Callback``); with
    ``evaluations`` it submits each trained model's evaluation task and counts a model when it is scored."""

    def __new__(cls, *args, **kwargs):
        from ray import tune

        class _Callback(tune.Callback):
            def __init__(self, total: int, already_done: int, output_dir: str, fingerprint: str,
                         concurrency: int, progress: Progress, evaluations: Optional[Evaluations] = None):
                self.total, self.done, self.failed = total, already_done, 0
                self.output_dir, self.fingerprint = output_dir, fingerprint
                self.concurrency, self.progress = max(1, concurrency), progress
                self.evaluations = evaluations
                self.running: Dict[str, int] = {}
                self.start = time.time()
                self.finished_here = 0

            def _line(self, message: str) -> None:
                elapsed = time.time() - self.start
                remaining = self.total - self.done - self.failed
                eta = "?"
                if self.finished_here:
                    eta = _duration(elapsed / self.finished_here * remaining)
                evaluating = f", {len(self.evaluations.pending)} evaluating" if self.evaluations else ""
                self.progress(f"[study] {self.done + self.failed}/{self.total} models finished "
                              f"({self.done} done, {self.failed} failed, {len(self.running)} running{evaluating}), "
                              f"elapsed {_duration(elapsed)}, ETA {eta}: {message}")

            def _finished(self, model_num: int, record: Optional[dict]) -> None:
                status = record.get("status", "?") if record else "no record"
                if status == "done":
                    self.done += 1
                else:
                    self.failed += 1
                self.finished_here += 1
                reason = f" ({record.get('reason')})" if record and record.get("reason") else ""
                self._line(f"model {model_num} {status}{reason}")

            def on_trial_start(self, iteration, trials, trial, **info):
                self.running[trial.trial_id] = trial.config["model_num"]
                self._line(f"model {trial.config['model_num']} started")

            def on_step_begin(self, iteration, trials, **info):
                self.collect(0)

            def collect(self, timeout: Optional[float]) -> None:
                """Counts the evaluations finished within ``timeout`` seconds (None: all of them)."""
                if self.evaluations is not None:
                    for model_num, record, _ in self.evaluations.poll(timeout):
                        self._finished(model_num, record)

            def on_trial_complete(self, iteration, trials, trial, **info):
                model_num = self.running.pop(trial.trial_id, trial.config["model_num"])
                record = trial_record(self.output_dir, model_num, self.fingerprint)
                if record is None and self.evaluations is not None:
                    model = self.evaluations.payload["models"][model_num]
                    if study_trial.is_trained(self.output_dir, model):
                        wall = float((trial.last_result or {}).get("train_seconds", 0.0) or 0.0)
                        self.evaluations.submit(model_num, wall)
                        self._line(f"model {model_num} trained, evaluating")
                        return
                self._finished(model_num, record)

            def on_trial_error(self, iteration, trials, trial, **info):
                model_num = self.running.pop(trial.trial_id, trial.config["model_num"])
                self.failed += 1
                self.finished_here += 1
                self._line(f"model {model_num} errored after retries")

        return _Callback(*args, **kwargs)


def trial_record(output_dir: str, model_num: int, fingerprint: str) -> Optional[dict]:
    record = trial.read_record(output_dir, model_num)
    return record if record and record.get("fingerprint") == fingerprint else None


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _trainable(config: Dict[str, Any], payload: Dict[str, Any]) -> None:
    """The Ray Tune function trainable: one model (``config["model_num"]``); with the evaluation
    placed in a task, it trains and exports only."""
    from ray import tune

    from tfdisent.registry import import_plugins

    # Before anything is built: the study's plugin methods, metrics and datasets, in this worker too.
    import_plugins(payload.get("plugins") or [], payload.get("plugin_paths") or [])
    model = payload["models"][config["model_num"]]
    data_dir = payload["data_dirs"].get(model["dataset"])
    if payload["evaluation_placement"] == "trial":
        trial.run_model(payload["output_dir"], model, payload["evaluation"], payload["study_info"],
                        data_dir=data_dir, cpus=payload["cpus"], gpus=payload["gpus"], report=tune.report)
        return
    trial.train_model(payload["output_dir"], model, payload["study_info"], data_dir=data_dir,
                      cpus=payload["cpus"], gpus=payload["gpus"], report=tune.report)


def _evaluation_task(payload: Dict[str, Any], model_num: int, train_wall_seconds: float) -> dict:
    """The Ray task that scores one trained model (CPU only): :func:`tfdisent.study.trial.evaluate_model`."""
    from tfdisent.registry import import_plugins

    import_plugins(payload.get("plugins") or [], payload.get("plugin_paths") or [])
    model = payload["models"][model_num]
    return trial.evaluate_model(payload["output_dir"], model, payload["evaluation"], payload["study_info"],
                                data_dir=payload["data_dirs"].get(model["dataset"]), cpus=payload["eval_cpus"],
                                train_wall_seconds=train_wall_seconds, alone=True)


# --- the run --------------------------------------------------------------------------------------
def _phases(models: Sequence[ModelSpec]) -> List[List[ModelSpec]]:
    numbers = {m.model_num for m in models}
    first = [m for m in models if m.init_from is None or m.init_from not in numbers]
    second = [m for m in models if m.init_from is not None and m.init_from in numbers]
    return [phase for phase in (first, second) if phase]


def run_study(study: Study, models: Sequence[ModelSpec], output_dir: str, ray_address: Optional[str] = None,
              cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, max_failures: int = 2,
              data_dir: Optional[str] = None, progress: Progress = print,
              ray_verbose: bool = False, evaluation_placement: str = "task",
              eval_cpus: Optional[float] = None, retry_failed: bool = False) -> Dict[str, Any]:
    """Trains, exports and scores ``models`` (a selection of ``study``) under ``output_dir``.

    ``evaluation_placement="task"`` (default): each Tune trial trains and exports with the training
    resources (``cpus_per_trial``, ``gpus_per_trial``) and ends; the driver then scores the export in
    a Ray task with ``eval_cpus`` CPUs (default ``cpus_per_trial``) and no GPU, so the trial's GPU
    trains the next model meanwhile. ``"trial"``: train and score inside the trial (the old path,
    kept for ``benchmarks/study_overhead.py``).

    A model recorded as failed is not run again unless ``retry_failed`` (its failure record is then
    kept in ``results/study_failures.json``, :func:`trial.clear_failure`).

    Checks everything before writing: the output directory (another study there is an error) and
    the Ray connection. Returns ``{"done": [...], "failed": {model_num: reason}, "skipped": [...]}``.
    Ray's and Tune's own console output is off unless ``ray_verbose``: ``progress`` gets ours.
    """
    output_dir = os.path.abspath(output_dir)
    if evaluation_placement not in EVALUATION_PLACEMENTS:
        raise StudyError(f"evaluation placement must be one of {', '.join(EVALUATION_PLACEMENTS)}, "
                         f"got {evaluation_placement!r}")
    eval_cpus = cpus_per_trial if eval_cpus is None else float(eval_cpus)
    if ray_address in (None, "local") and not gpus_per_trial:
        try:  # the trials run on this machine: refuse bfloat16 it cannot run natively, before any trial
            for precision in sorted({m.train.get("precision", "float32") for m in models}):
                check_precision(precision)
        except PrecisionError as error:
            raise StudyError(str(error)) from None
    check_output_dir(output_dir, study)
    started_ray = connect_ray(ray_address, ray_verbose)
    try:
        import ray
        from ray import tune

        os.makedirs(output_dir, exist_ok=True)
        write_study_file(output_dir, study)
        fingerprint = study.fingerprint()
        study_info = {"name": study.name, "fingerprint": fingerprint}
        data_dirs = dict(study.data_dirs)
        if data_dir:
            data_dirs = {name: data_dirs.get(name, data_dir) for name in study.datasets}
        if retry_failed:
            retried = [m.model_num for m in models if trial.clear_failure(output_dir, m.model_num, fingerprint)]
            if retried:
                progress(f"[study] retrying {len(retried)} failed model(s): {', '.join(map(str, retried))}")
        finished = [m.model_num for m in models if trial.is_finished(output_dir, m.model_num, fingerprint)]
        total = len(models)
        progress(f"[study] {study.name}: {total} model(s) selected, {len(finished)} already finished; "
                 f"{cpus_per_trial:g} CPU / {gpus_per_trial:g} GPU per trial; Ray resources "
                 f"{ray.cluster_resources().get('CPU', 0):g} CPU, {ray.cluster_resources().get('GPU', 0):g} GPU; "
                 f"output {output_dir}")
        done_before = len(finished)
        for phase_index, phase in enumerate(_phases(models)):
            pending = [m for m in phase if not trial.is_finished(output_dir, m.model_num, fingerprint)]
            if phase_index and pending:
                pending = _drop_failed_sources(study, pending, output_dir, fingerprint, study_info, progress)
            if not pending:
                continue
            payload = {"models": {m.model_num: m.to_dict() for m in pending}, "output_dir": output_dir,
                       "evaluation": {"metrics": list(study.evaluation.metrics),
                                      "representations": list(study.evaluation.representations),
                                      "settings": study.evaluation.settings, "seed": study.evaluation.seed},
                       "study_info": study_info, "data_dirs": data_dirs, "cpus": cpus_per_trial,
                       "gpus": gpus_per_trial, "plugins": list(study.plugins),
                       "plugin_paths": plugin_paths(study.plugins), "eval_cpus": eval_cpus,
                       "evaluation_placement": evaluation_placement}
            resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
            trainable = tune.with_resources(tune.with_parameters(_trainable, payload=payload), resources)
            concurrency = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus_per_trial, 1e-9)))
            evaluations = Evaluations(payload, eval_cpus, max_failures) if evaluation_placement == "task" else None
            callback = ProgressCallback(total, done_before, output_dir, fingerprint, concurrency, progress,
                                        evaluations)
            tuner = tune.Tuner(
                trainable,
                param_space={"model_num": tune.grid_search([m.model_num for m in pending])},
                tune_config=tune.TuneConfig(reuse_actors=False),
                run_config=tune.RunConfig(
                    name=f"{study.name}-{time.strftime('%Y%m%d-%H%M%S')}-phase{phase_index}",
                    storage_path=os.path.join(output_dir, RAY_DIR),
                    failure_config=tune.FailureConfig(max_failures=max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                    verbose=tune_verbosity(ray_verbose), callbacks=[callback]))
            grid = tuner.fit()
            callback.collect(None)    # the phase's last evaluations (a second phase warm-starts from them)
            for result in grid:
                if result.error is not None:
                    model_num = int(result.config["model_num"])
                    if trial_record(output_dir, model_num, fingerprint) is None:
                        text = str(result.error).strip().splitlines()
                        reason = f"trial errored after {max_failures} retries: " + (text[-1] if text else "")
                        trial.write_failure(output_dir, payload["models"][model_num], study_info, reason)
            done_before = sum(1 for m in models if trial.is_finished(output_dir, m.model_num, fingerprint))
        return summarize(output_dir, models, fingerprint)
    finally:
        if started_ray:
            import ray
            ray.shutdown()


def _drop_failed_sources(study, pending, output_dir, fingerprint, study_info, progress):
    keep = []
    for model in pending:
        source = trial_record(output_dir, model.init_from, fingerprint)
        if source and source.get("status") == trial.STATUS_DONE:
            keep.append(model)
        else:
            reason = f"warm-start source model {model.init_from} did not finish"
            trial.write_failure(output_dir, model.to_dict(), study_info, reason)
            progress(f"[study] model {model.model_num} failed: {reason}")
    return keep


def summarize(output_dir: str, models: Sequence[ModelSpec], fingerprint: str) -> Dict[str, Any]:
    done, failed, missing = [], {}, []
    for model in models:
        record = trial_record(output_dir, model.model_num, fingerprint)
        if record is None:
            missing.append(model.model_num)
        elif record.get("status") == trial.STATUS_DONE:
            done.append(model.model_num)
        else:
            failed[model.model_num] = record.get("reason", "")
    return {"done": done, "failed": failed, "missing": missing}
