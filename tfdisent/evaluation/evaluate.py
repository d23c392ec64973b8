"""Runs a list of metrics on one model (and UDR on several) and writes one JSON report.

Independent randomness per metric (default), as disentanglement_lib's reproduce pipeline
(``bin/dlib_reproduce`` draws one seed per (representation, metric) from ``RandomState(0)``): each
metric runs with ``RandomState(metric_seed(seed, representation, metric))``, where
:func:`metric_seed` is the first four bytes (little-endian) of SHA-256 of
``"<seed>/<representation>/<metric>"``. The seed of one metric therefore depends only on the run's
seed and its own name (not on which other metrics run, nor their order), and two metrics draw
different samples, so their estimation noise is independent. A representation with its own noise
(the ``sampled`` one) is re-seeded before every metric from ``metric_seed(seed, representation,
metric + "/noise")``, so its noise too does not depend on what ran before.

``share_samples=True`` is the speed option: every metric gets ``RandomState(seed)`` (the study
configs' ``evaluation.random_seed``) and one :class:`tfdisent.metrics.SampleCache`, so metrics that
start with the same i.i.d. draw (mig, dci, sap, modularity_explicitness, irs, unsupervised,
downstream) encode it once; the sampled representation's noise restarts from
``metric_seed(seed, representation, "shared/noise")`` before each metric. Scores are then
correlated across metrics through their common samples.

A failing metric is recorded (``"error"``) and the others still run. The report is written
atomically with :func:`tfdisent.files.write_json_atomic` (strict JSON: NaN becomes ``null``).

Report layout::

    {"model_path": ..., "model_dir": ..., "dataset": ..., "seed": 0, "representation": "mean",
     "share_samples": false,
     "metrics": {"mig": {"discrete_mig": 0.21, "settings": {...}, "wall_time_seconds": 3.1,
                         "seed": 1234567, "shared_samples": false},
                 "sap": {"error": "MetricError: ...", "settings": {...}, "wall_time_seconds": 0.1}},
     "failed_metrics": ["sap"], "total_wall_time_seconds": ...}
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from tfdisent import metrics
from tfdisent.errors import one_line
from tfdisent.files import write_json_atomic  # noqa: F401  (re-exported: callers' historic name)
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


RESULTS_DIR = "results"
# Keys of a metric's entry in the report that are not scores.
_NOT_SCORES = ("settings", "wall_time_seconds", "seed", "shared_samples", "error")


def report_path(run_dir: str, representation: str) -> str:
    """``<run_dir>/results/evaluation_<representation>.json``: where a run's evaluation report lives
    (the studies' per-model reports and tfdisent-evaluate's default --output_file)."""
    return os.path.join(run_dir, RESULTS_DIR, f"evaluation_{representation}.json")


def owning_run_dir(model_dir: str) -> str:
    """The run directory a ``--model_dir`` belongs to: the run of ``<run>/export/<version>`` or
    ``<run>/export``, else ``model_dir`` itself (a run, a SavedModel, a disentanglement_lib model)."""
    path = os.path.abspath(model_dir)
    parent, name = os.path.split(path)
    if name == "export":
        return parent
    if name.isdigit() and os.path.basename(parent) == "export":
        return os.path.dirname(parent)
    return path


def headline_scores(scores: dict, limit: int = 4) -> Dict[str, float]:
    """The first ``limit`` scalar scores of one metric's entry (what the console shows; the report
    keeps them all)."""
    found = {key: value for key, value in scores.items()
             if key not in _NOT_SCORES and isinstance(value, (int, float)) and not isinstance(value, bool)}
    return dict(list(found.items())[:limit])


def _summary(scores: dict, limit: int = 4) -> str:
    shown = [f"{key}={value:.4g}" for key, value in headline_scores(scores, limit).items()]
    if "model_scores" in scores:
        shown.append("model_scores=[" + ", ".join(f"{v:.3g}" for v in scores["model_scores"]) + "]")
    return ", ".join(shown)


def metric_seed(seed: int, representation: str, metric: str) -> int:
    """The seed of one (representation, metric) pair of a run seeded with ``seed``: the first four
    bytes (little-endian) of SHA-256 of ``"<seed>/<representation>/<metric>"``, in [0, 2**32).

    disentanglement_lib's ``dlib_reproduce`` gives each (representation, metric) its own seed too,
    drawn from ``RandomState(0)`` in the order of its sorted config files; a hash keeps each seed
    independent of which other metrics are evaluated (the reference's numbers are not reproduced).
    """
    digest = hashlib.sha256(f"{int(seed)}/{representation}/{metric}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def run_metrics(dataset, metric_names: Sequence[str], seed: int = 0,
                representation_fn: Optional[Callable] = None,
                udr_functions: Optional[Sequence[Callable]] = None,
                overrides: Optional[Dict[str, dict]] = None,
                progress: Optional[Callable[[str], None]] = print,
                share_samples: bool = False, representation: str = "mean") -> Dict[str, dict]:
    """Computes each metric; returns ``{name: scores + settings + seed + wall time (or error)}``.

    By default each metric samples from its own ``RandomState(metric_seed(seed, representation,
    name))``; ``share_samples=True`` gives every metric ``RandomState(seed)`` and one sample cache
    (faster, correlated). A ``representation_fn`` with a ``reseed(seed)`` method (the sampled
    representation) is re-seeded before each metric (see the module docstring).
    """
    overrides = overrides or {}
    progress = progress or (lambda message: None)
    cache = metrics.SampleCache() if share_samples else None
    results: Dict[str, dict] = {}
    total = len(metric_names)
    for index, name in enumerate(metric_names, 1):
        start = time.perf_counter()
        hits_before = cache.hits if cache is not None else 0
        entry: dict
        try:
            settings = metrics.resolve_settings(name, **overrides.get(name, {}))
        except MetricError as error:
            results[name] = {"error": one_line(error), "settings": overrides.get(name, {}),
                             "wall_time_seconds": 0.0}
            progress(f"[{index}/{total}] {name}: FAILED: {one_line(error)}")
            continue
        progress(f"[{index}/{total}] {name}: running ...")
        this_seed = int(seed) if share_samples else metric_seed(seed, representation, name)
        functions = list(udr_functions or ()) if metrics.is_multi_model(name) else [representation_fn]
        for function in functions:
            if hasattr(function, "reseed"):
                function.reseed(metric_seed(seed, representation, "shared/noise" if share_samples
                                            else f"{name}/noise"))
        try:
            function = udr_functions if metrics.is_multi_model(name) else representation_fn
            scores = metrics.compute(name, dataset, function, np.random.RandomState(this_seed), cache=cache,
                                     **overrides.get(name, {}))
            elapsed = time.perf_counter() - start
            entry = dict(scores)
            entry.update(settings=to_python(settings), wall_time_seconds=round(elapsed, 3), seed=this_seed,
                         shared_samples=bool(cache is not None and cache.hits > hits_before))
            progress(f"[{index}/{total}] {name}: done in {elapsed:.1f} s: {_summary(scores)}")
        except Exception as error:  # noqa: BLE001 - one failing metric must not stop the others
            elapsed = time.perf_counter() - start
            entry = {"error": one_line(error), "settings": to_python(settings),
                     "wall_time_seconds": round(elapsed, 3), "seed": this_seed}
            progress(f"[{index}/{total}] {name}: FAILED after {elapsed:.1f} s: {one_line(error)}")
        results[name] = entry
    return results


def build_report(results: Dict[str, dict], *, dataset_name: str, seed: int, representation: str,
                 model_dir: Optional[str] = None, model_path: Optional[str] = None,
                 udr_model_paths: Optional[Sequence[str]] = None,
                 total_wall_time: Optional[float] = None, share_samples: bool = False) -> dict:
    from tfdisent import __version__
    report = {"model_dir": model_dir, "model_path": model_path, "dataset": dataset_name,
              "seed": seed, "representation": representation, "share_samples": bool(share_samples),
              "metrics": results,
              "failed_metrics": [name for name, entry in results.items() if "error" in entry],
              "tfdisent_version": __version__}
    if udr_model_paths:
        report["udr_model_paths"] = list(udr_model_paths)
    if total_wall_time is not None:
        report["total_wall_time_seconds"] = round(total_wall_time, 3)
    return report


