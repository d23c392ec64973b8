"""Runs a list of metrics on one model (and UDR on several) and writes one JSON report.

Each metric gets a fresh ``numpy.random.RandomState(seed)``, as every metric config of
disentanglement_lib's studies sets ``evaluation.random_seed``. Metrics that start with the same
i.i.d. draw therefore share it through one :class:`tfdisent.metrics.SampleCache` (encoded once).
A failing metric is recorded (``"error"``) and the others still run. The report is written
atomically (temporary file in the same directory + ``os.replace``).

Report layout::

    {"model_path": ..., "model_dir": ..., "dataset": ..., "seed": 0, "representation": "mean",
     "metrics": {"mig": {"discrete_mig": 0.21, "settings": {...}, "wall_time_seconds": 3.1,
                         "shared_samples": false},
                 "sap": {"error": "MetricError: ...", "settings": {...}, "wall_time_seconds": 0.1}},
     "failed_metrics": ["sap"], "total_wall_time_seconds": ...}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from tfdisent import metrics
from tfdisent.metrics.utils import MetricError, to_python

ALL = "all"


def expand_metric_names(spec, num_models: int = 1) -> List[str]:
    """Metric names from a comma list (or sequence); ``all`` = every single-model metric, plus
    ``udr`` when several models are given. Unknown names raise MetricError."""
    items = [item.strip() for item in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [item for item in items if item]
    if not items:
        raise MetricError("no metric given")
    names: List[str] = []
    for item in items:
        if item == ALL:
            expanded = [name for name in metrics.metric_names()
                        if not metrics.is_multi_model(name) or num_models > 1]
        elif item in metrics.metric_names():
            expanded = [item]
        else:
            raise MetricError(f"unknown metric {item!r}; known metrics: "
                              f"{', '.join(metrics.metric_names())}, or {ALL}")
        names.extend(name for name in expanded if name not in names)
    for name in names:
        if metrics.is_multi_model(name) and num_models < 2:
            raise MetricError(f"{name} compares several models trained with different seeds; "
                              "pass at least 2 model directories")
    return names


def parse_overrides(items: Iterable[str], metric_names: Sequence[str]) -> Dict[str, dict]:
    """``["dci.num_train=2000", "*.batch_size=32"]`` -> ``{"dci": {"num_train": 2000}, ...}``.

    ``*`` applies the setting to every metric in ``metric_names`` that has it (an error if none
    has). Values are parsed with the type of the setting's default; tuples are comma lists.
    """
    overrides: Dict[str, dict] = {name: {} for name in metric_names}
    for item in items or ():
        target, separator, text = item.partition("=")
        metric, dot, key = target.strip().rpartition(".")
        if not separator or not dot or not metric or not key:
            raise MetricError(f"bad metric override {item!r}; expected METRIC.SETTING=VALUE "
                              "(METRIC may be *)")
        if metric == "*":
            targets = [name for name in metric_names if key in metrics.default_settings(name)]
            if not targets:
                raise MetricError(f"override {item!r}: no selected metric has a setting {key!r}")
        else:
            if metric not in metrics.metric_names():
                raise MetricError(f"override {item!r}: unknown metric {metric!r}")
            if metric not in metric_names:
                raise MetricError(f"override {item!r}: metric {metric!r} is not selected by --metrics")
            targets = [metric]
        for name in targets:
            overrides[name][key] = metrics.parse_setting(name, key, text)
    for name, settings in overrides.items():
        metrics.resolve_settings(name, **settings)  # unknown names / wrong types fail now
    return {name: settings for name, settings in overrides.items() if settings}


def _summary(scores: dict, limit: int = 4) -> str:
    shown = [f"{key}={value:.4g}" for key, value in scores.items()
             if isinstance(value, (int, float)) and not isinstance(value, bool)][:limit]
    if "model_scores" in scores:
        shown.append("model_scores=[" + ", ".join(f"{v:.3g}" for v in scores["model_scores"]) + "]")
    return ", ".join(shown)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_metrics(dataset, metric_names: Sequence[str], seed: int = 0,
                representation_fn: Optional[Callable] = None,
                udr_functions: Optional[Sequence[Callable]] = None,
                overrides: Optional[Dict[str, dict]] = None,
                progress: Optional[Callable[[str], None]] = print) -> Dict[str, dict]:
    """Computes each metric; returns ``{name: scores + settings + wall time (or error)}``."""
    overrides = overrides or {}
    progress = progress or (lambda message: None)
    cache = metrics.SampleCache()
    results: Dict[str, dict] = {}
    total = len(metric_names)
    for index, name in enumerate(metric_names, 1):
        start = time.perf_counter()
        hits_before = cache.hits
        entry: dict
        try:
            settings = metrics.resolve_settings(name, **overrides.get(name, {}))
        except MetricError as error:
            results[name] = {"error": _one_line(error), "settings": overrides.get(name, {}),
                             "wall_time_seconds": 0.0}
            progress(f"[{index}/{total}] {name}: FAILED: {_one_line(error)}")
            continue
        progress(f"[{index}/{total}] {name}: running ...")
        try:
            function = udr_functions if metrics.is_multi_model(name) else representation_fn
            scores = metrics.compute(name, dataset, function, np.random.RandomState(seed), cache=cache,
                                     **overrides.get(name, {}))
            elapsed = time.perf_counter() - start
            entry = dict(scores)
            entry.update(settings=to_python(settings), wall_time_seconds=round(elapsed, 3),
                         shared_samples=cache.hits > hits_before)
            progress(f"[{index}/{total}] {name}: done in {elapsed:.1f} s: {_summary(scores)}")
        except Exception as error:  # noqa: BLE001 - one failing metric must not stop the others
            elapsed = time.perf_counter() - start
            entry = {"error": _one_line(error), "settings": to_python(settings),
                     "wall_time_seconds": round(elapsed, 3)}
            progress(f"[{index}/{total}] {name}: FAILED after {elapsed:.1f} s: {_one_line(error)}")
        results[name] = entry
    return results


def build_report(results: Dict[str, dict], *, dataset_name: str, seed: int, representation: str,
                 model_dir: Optional[str] = None, model_path: Optional[str] = None,
                 udr_model_paths: Optional[Sequence[str]] = None,
                 total_wall_time: Optional[float] = None) -> dict:
    from tfdisent import __version__
    report = {"model_dir": model_dir, "model_path": model_path, "dataset": dataset_name,
              "seed": seed, "representation": representation, "metrics": results,
              "failed_metrics": [name for name, entry in results.items() if "error" in entry],
              "tfdisent_version": __version__}
    if udr_model_paths:
        report["udr_model_paths"] = list(udr_model_paths)
    if total_wall_time is not None:
        report["total_wall_time_seconds"] = round(total_wall_time, 3)
    return report


def _json_safe(value):
    """numpy -> Python; NaN/inf -> None so the file is strict JSON."""
    value = to_python(value)
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: str, payload: dict) -> str:
    """Writes ``payload`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    text = json.dumps(_json_safe(payload), indent=2, sort_keys=False, allow_nan=False)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
