"""One model of a study: train (resumably) via the Trainer API, export, score, write its record.

:func:`run_model` is the whole trial as a plain function (the Ray trainable in
:mod:`tfdisent.study.runner` wraps it, tests call it in-process). Each model lives in an ordinary run
directory ``<output_dir>/models/<model_num>/`` that every other binary accepts::

    models/<n>/config.json, checkpoints/, logs/, export/<step>/      the Trainer's run directory
    models/<n>/results/train_results.json                           the Trainer's results
    models/<n>/results/evaluation_<representation>.json             tfdisent-evaluate's report format
    models/<n>/results/study_record.json                            status done|failed (+ reason)
    models/<n>/logs/study/                                          TensorBoard HParams + metric scalars

A model whose record says ``done`` for the same study fingerprint is never retrained or re-scored; an
unfinished one resumes from its run directory's latest checkpoint; an evaluation report already on
disk is kept. A model that cannot train (non-finite loss, invalid setting) gets a ``failed`` record
with the reason and does not raise, so the study goes on; anything else (a killed worker) raises and
Ray's ``FailureConfig`` retries the trial, which then resumes from the checkpoint.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable, Dict, Optional

from tfdisent.errors import one_line
from tfdisent.files import write_json_atomic
from tfdisent.training.resources import configure_tensorflow

MODELS_DIR = "models"
RECORD_FILE = os.path.join("results", "study_record.json")
TRAIN_RESULTS_FILE = os.path.join("results", "train_results.json")
STATUS_DONE = "done"
STATUS_FAILED = "failed"

# report(metrics) -> None; called after every logging interval and at the end (Ray Tune's tune.report).
Reporter = Callable[[Dict[str, Any]], None]



def model_dir(output_dir: str, model_num: int) -> str:
    return os.path.join(output_dir, MODELS_DIR, str(int(model_num)))


def evaluation_file(output_dir: str, model_num: int, representation: str) -> str:
    from tfdisent.evaluation.evaluate import report_path
    return report_path(model_dir(output_dir, model_num), representation)


def read_record(output_dir: str, model_num: int) -> Optional[dict]:
    """The model's study record, or None when it has none (or it is unreadable)."""
    path = os.path.join(model_dir(output_dir, model_num), RECORD_FILE)
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def is_finished(output_dir: str, model_num: int, fingerprint: str) -> bool:
    """True when the model is done or failed for this study (so it is not run again)."""
    record = read_record(output_dir, model_num)
    return bool(record) and record.get("fingerprint") == fingerprint and record.get("status") in (
        STATUS_DONE, STATUS_FAILED)


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


def _train(config_values, run_dir, dataset, report, model_num) -> dict:
    """Trains to ``steps`` through the Trainer API (resuming from the run directory's latest
    checkpoint), which then evaluates on held-out batches and exports; returns the content of
    ``results/train_results.json``."""
    from tfdisent.training import TrainConfig, Trainer, read_train_results

    # handle_signals=None: Ray runs function trainables off the main thread, where no handler can be set.
    trainer = Trainer(TrainConfig(**config_values), run_dir, dataset=dataset, handle_signals=None)

    def interval(step: int, logs: Dict[str, float]):
        if report:
            scalars = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
            report({"model_num": model_num, "step": int(step), "done": 0, **scalars})
        return None

    trainer.train(interval_callback=interval)
    return read_train_results(run_dir)


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


def run_model(output_dir: str, model: Dict[str, Any], evaluation: Dict[str, Any], study_info: Dict[str, str],
              data_dir: Optional[str] = None, cpus: float = 1.0, gpus: float = 0.0,
              report: Optional[Reporter] = None) -> dict:
    """Trains, exports and scores one model (a :meth:`ModelSpec.to_dict` dict); returns its record.

    ``study_info`` holds the study's ``name`` and ``fingerprint`` (recorded, and checked to skip
    finished models). Raises only for errors that a retry may cure (e.g. the process was killed).
    """
    configure_tensorflow(cpus, gpus)
    started = time.time()
    model_num = int(model["model_num"])
    existing = read_record(output_dir, model_num)
    if existing and existing.get("fingerprint") == study_info["fingerprint"] and existing.get("status") in (
            STATUS_DONE, STATUS_FAILED):
        if report:
            report({"model_num": model_num, "done": 1, "failed": int(existing["status"] == STATUS_FAILED),
                    "skipped": 1})
        return existing
    run_dir = model_dir(output_dir, model_num)
    from tfdisent.data import DatasetError, load_dataset
    from tfdisent.training import NonFiniteLossError, RunConfigError

    try:
        kwargs = {"data_dir": data_dir} if data_dir else {}
        dataset = load_dataset(model["dataset"], **kwargs)
        config_values = train_config_dict(model, output_dir, data_dir)
        train_results = _train(config_values, run_dir, dataset, report, model_num)
    except (NonFiniteLossError, RunConfigError, DatasetError, ValueError) as error:
        return _fail(output_dir, model, study_info, one_line(error), started, report)
    try:
        evaluated = _evaluate(output_dir, model, evaluation, dataset, cpus)
    except ValueError as error:  # RepresentationError: e.g. the export encodes NaN
        return _fail(output_dir, model, study_info, one_line(error), started, report)
    record = {"model_num": model_num, "status": STATUS_DONE, "study": study_info["name"],
              "fingerprint": study_info["fingerprint"], "spec": model, "train_results": TRAIN_RESULTS_FILE,
              "export": evaluated["export"], "evaluations": evaluated["reports"],
              "evaluation_wall_time_seconds": evaluated.get("wall_time_seconds", {}),
              "train_wall_time_seconds": train_results.get("wall_time_seconds"),
              "wall_time_seconds": round(time.time() - started, 3),
              "thread": "main" if threading.current_thread() is threading.main_thread() else "worker"}
    try:
        _write_hparams(run_dir, model, evaluated["scores"])
    except Exception as error:  # noqa: BLE001 - a dashboard must not fail a finished model
        record["hparams_error"] = one_line(error)
    _write_record(output_dir, model_num, record)
    if report:
        report({"model_num": model_num, "done": 1, "failed": 0, "step": int(train_results.get("step", 0))})
    return record
