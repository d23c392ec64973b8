"""One tidy table of a study: one row per model x representation.

Columns (``pd.read_parquet("<output_dir>/results.parquet")``):

* ``source`` (``tfdisent`` or ``disentanglement_lib``), ``study``, ``model_num``, ``status``
  (``done``/``failed``), ``reason``, ``dataset``, ``method``, ``config`` (e.g. ``beta_vae(beta=4)``),
  ``seed``, ``steps``, ``representation`` (``mean``/``sampled``);
* one column per hyperparameter of the study (``beta``, ``gamma``, ``lambda_od``, ``c_max``, ...; NaN
  where a method has no such hyperparameter);
* ``train.<key>`` (the last logging interval's averages and ``train.wall_time_seconds``) and
  ``eval.<key>`` (the end-of-training held-out evaluation: reconstruction, kl, elbo, regularizer, ...);
* ``<metric>.<score key>`` with disentanglement_lib's score keys (``mig.discrete_mig``,
  ``dci.disentanglement``, ``beta_vae.eval_accuracy``, ``unsupervised.gaussian_total_correlation``,
  ``downstream.logistic_regression/100:mean_test_accuracy``, ...), ``<metric>.wall_time_seconds`` and
  ``<metric>.error`` for a metric that failed.

disentanglement_lib's own result files are read into the same columns: each
``.../<model_num>/metrics/<mean|sampled>/<metric>/results/aggregate/evaluation.json`` (one model x
representation x metric, keys ``train_config.*``, ``train_results.*``, ``postprocess_config.*``,
``evaluation_config.*``, ``evaluation_results.*``, gin values as strings such as ``"'beta_vae'"`` or
``"6.0"``; ``utils/results.py``), and the single JSON that its ``dlib_aggregate_results`` writes.
Their ``train_results`` come from its end-of-training evaluation on 1000 batches, so they fill the
``eval.*`` columns.
"""

from __future__ import annotations

import glob
import json
import os
import re
from typing import Any, Dict, Iterable, List, Optional

import numpy as np
import pandas as pd

from tfdisent.files import atomic_path
from tfdisent.study import trial

ID_COLUMNS = ["source", "study", "model_num", "status", "reason", "dataset", "method", "config", "seed", "steps",
              "representation"]

STRING_COLUMNS = ("source", "study", "status", "reason", "dataset", "method", "config", "representation", "run_dir",
                  "correlated_factors", "heldout_split")

# disentanglement_lib's gin names -> ours.
DLIB_DATASETS = {"dsprites_full": "dsprites", "dsprites_noshape": "dsprites_noshape"}
DLIB_METHODS = {"beta_tc_vae": "beta_tcvae", "vae": "beta_vae"}
DLIB_METRICS = {"beta_vae_sklearn": "beta_vae", "factor_vae_score": "factor_vae", "mig": "mig", "dci": "dci",
                "sap_score": "sap", "modularity_explicitness": "modularity_explicitness",
                "unsupervised_metrics": "unsupervised", "downstream_task": "downstream", "irs": "irs",
                "udr_sklearn": "udr", "fairness": "fairness"}
DLIB_PREDICTORS = {"logistic_regression_cv": "logistic_regression", "gradient_boosting_classifier": "boosted_trees"}
DLIB_TRAIN_RESULTS = {"reconstruction_loss": "eval.reconstruction", "kl_loss": "eval.kl", "elbo": "eval.elbo",
                      "regularizer": "eval.regularizer", "loss": "eval.loss",
                      "elapsed_time": "train.wall_time_seconds"}
# Gin scopes of the methods' hyperparameters in the reference's model configs.
DLIB_MODEL_SCOPES = ("vae", "beta_tc_vae", "factor_vae", "dip_vae", "annealed_vae")


# --- our records --------------------------------------------------------------------------------
def _scalars(values: Dict[str, Any], prefix: str) -> Dict[str, Any]:
    out = {}
    for key, value in (values or {}).items():
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, (int, float)) or value is None:
            out[f"{prefix}{key}"] = np.nan if value is None else value
    return out


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def _train_columns(results: Optional[dict]) -> Dict[str, Any]:
    """``train_results.json`` in the Trainer API layout (``train``/``eval`` sections) or the flat
    layout of earlier versions (last interval's scalars at the top level)."""
    if not results:
        return {}
    columns: Dict[str, Any] = {}
    if isinstance(results.get("train"), dict):
        columns.update(_scalars(results["train"], "train."))
    else:
        columns.update(_scalars({k: v for k, v in results.items()
                                 if k not in ("step", "wall_time_seconds", "xla", "eval_wall_time_seconds")},
                                "train."))
    if isinstance(results.get("eval"), dict):
        columns.update(_scalars(results["eval"], "eval."))
    if "wall_time_seconds" in results:
        columns["train.wall_time_seconds"] = results["wall_time_seconds"]
    if "eval_wall_time_seconds" in results:
        columns["eval.wall_time_seconds"] = results["eval_wall_time_seconds"]
    if "step" in results:
        columns["train.step"] = results["step"]
    return columns


def _metric_columns(report: dict) -> Dict[str, Any]:
    columns: Dict[str, Any] = {}
    for name, entry in (report.get("metrics") or {}).items():
        for key, value in entry.items():
            if key in ("settings", "shared_samples"):
                continue
            if key == "error":
                columns[f"{name}.error"] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                columns[f"{name}.{key}"] = float(value)
            elif value is None:
                columns[f"{name}.{key}"] = np.nan
    return columns


def protocol_columns(train: Dict[str, Any]) -> Dict[str, Any]:
    """The training-distribution settings a model was trained with (issue 20), as table columns:
    ``correlated_factors`` (comma-joined), ``correlation_strength`` (sigma; inf for a study's uncorrelated
    baseline, as sigma -> inf in Träuble et al.'s parameterisation), ``heldout_split`` and its settings."""
    columns: Dict[str, Any] = {}
    if "correlated_factors" in train or "correlation_strength" in train:
        strength = train.get("correlation_strength")
        factors = train.get("correlated_factors") or []
        columns["correlated_factors"] = ",".join(factors) if factors and strength is not None else None
        columns["correlation_strength"] = float("inf") if strength is None or not factors else float(strength)
    if train.get("heldout_split"):
        columns["heldout_split"] = train["heldout_split"]
        for key in ("heldout_train_fraction", "heldout_seed"):
            if key in train:
                columns[key] = train[key]
    return columns


def tfdisent_rows(output_dir: str) -> List[Dict[str, Any]]:
    """Rows of every model with a study record under ``output_dir/models/``."""
    rows = []
    for record_path in sorted(glob.glob(os.path.join(output_dir, trial.MODELS_DIR, "*", trial.RECORD_FILE))):
        record = _read_json(record_path)
        if not record:
            continue
        run_dir = os.path.dirname(os.path.dirname(record_path))
        spec = record.get("spec", {})
        base = {"source": "tfdisent", "study": record.get("study"), "model_num": int(record["model_num"]),
                "status": record.get("status"), "reason": record.get("reason"), "dataset": spec.get("dataset"),
                "method": spec.get("method"), "config": spec.get("config_label"), "seed": spec.get("seed"),
                "steps": spec.get("train", {}).get("steps"), "run_dir": os.path.abspath(run_dir)}
        base.update({key: value for key, value in spec.get("hyperparameters", {}).items()})
        base.update(protocol_columns(spec.get("train", {})))
        base.update(_train_columns(_read_json(os.path.join(run_dir, trial.TRAIN_RESULTS_FILE))))
        evaluations = record.get("evaluations") or {}
        if record.get("status") != trial.STATUS_DONE or not evaluations:
            rows.append(dict(base, representation=None))
            continue
        for kind, relative in evaluations.items():
            report = _read_json(os.path.join(run_dir, relative)) or {}
            row = dict(base, representation=kind)
            row.update(_metric_columns(report))
            rows.append(row)
    return rows


# --- disentanglement_lib's files ------------------------------------------------------------------
def parse_gin_value(text: Any) -> Any:
    """disentanglement_lib stores gin bindings as strings: ``"'beta_vae'"`` -> ``beta_vae``,
    ``"6.0"`` -> 6.0, ``"True"`` -> True, ``"@mig"`` -> ``@mig``, ``"None"`` -> None."""
    if not isinstance(text, str):
        return text
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if value in ("True", "False"):
        return value == "True"
    if value == "None":
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if re.fullmatch(r"[+-]?\d+", value) else number


def _dlib_row(flat: Dict[str, Any], path: Optional[str]) -> Dict[str, Any]:
    values = {key: parse_gin_value(value) for key, value in flat.items()}
    dataset = values.get("train_config.dataset.name")
    method = values.get("train_config.model.name")
    metric_gin = str(values.get("evaluation_config.evaluation.evaluation_metric", "")).lstrip("@")
    metric = DLIB_METRICS.get(metric_gin, metric_gin or "unknown_metric")
    postprocess = str(values.get("postprocess_config.postprocess.postprocess_fn", "")).lstrip("@")
    representation = postprocess.replace("_representation", "") or None
    model_num = values.get("model_num")
    source_path = path or values.get("path")
    if model_num is None and isinstance(source_path, str):
        match = re.search(r"(?:^|/)(\d+)/metrics/", source_path)
        model_num = int(match.group(1)) if match else None
    row: Dict[str, Any] = {
        "source": "disentanglement_lib", "study": values.get("study"), "model_num": model_num, "status": "done",
        "reason": None, "dataset": DLIB_DATASETS.get(dataset, dataset), "method": DLIB_METHODS.get(method, method),
        "seed": values.get("train_config.model.random_seed"), "steps": values.get("train_config.model.training_steps"),
        "representation": representation}
    hyper = {}
    for key, value in values.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "train_config" and parts[1] in DLIB_MODEL_SCOPES and parts[2] != "dip_type":
            hyper[parts[2]] = value
    row.update(hyper)
    if row["method"] == "dip_vae" and values.get("train_config.dip_vae.dip_type") in ("i", "ii"):
        row["method"] = f"dip_vae_{values['train_config.dip_vae.dip_type']}"
    row["config"] = (f"{row['method']}(" + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(hyper.items())) + ")"
                     if hyper else row["method"])
    for key, value in values.items():
        if key.startswith("train_results.") and key[len("train_results."):] in DLIB_TRAIN_RESULTS:
            row[DLIB_TRAIN_RESULTS[key[len("train_results."):]]] = value
    prefix = metric
    if metric == "downstream":
        predictor = next((str(v).lstrip("@") for k, v in values.items()
                          if k.startswith("evaluation_config.") and k.endswith("predictor_fn")), "")
        prefix = f"downstream.{DLIB_PREDICTORS.get(predictor, predictor or 'predictor')}/"
    else:
        prefix = f"{metric}."
    for key, value in values.items():
        if key.startswith("evaluation_results."):
            name = key[len("evaluation_results."):]
            column = f"{metric}.wall_time_seconds" if name == "elapsed_time" else f"{prefix}{name}"
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[column] = float(value)
    if source_path:
        row["run_dir"] = str(source_path)
    return row


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dlib_rows(paths: Iterable[str]) -> List[Dict[str, Any]]:
    """Rows (one per model x representation, metrics merged) from disentanglement_lib files: each
    path is an ``evaluation.json``, an aggregated results JSON, or a directory searched for
    ``**/aggregate/evaluation.json``."""
    partial: List[Dict[str, Any]] = []
    for path in paths:
        if os.path.isdir(path):
            files = sorted(glob.glob(os.path.join(path, "**", "aggregate", "evaluation.json"), recursive=True))
            for file in files:
                payload = _read_json(file)
                if payload:
                    partial.append(_dlib_row(payload, os.path.relpath(file, path)))
            continue
        payload = _read_json(path)
        if payload is None:
            raise ValueError(f"{path}: not a JSON file")
        if any(isinstance(value, dict) for value in payload.values()):
            # dlib_aggregate_results: a DataFrame saved with to_json (orient="columns").
            frame = pd.read_json(path, orient="columns")
            for _, series in frame.iterrows():
                partial.append(_dlib_row({k: v for k, v in series.items() if not _isnan(v)}, None))
        else:
            partial.append(_dlib_row(payload, path))
    merged: Dict[tuple, Dict[str, Any]] = {}
    for row in partial:
        key = (row.get("model_num"), row.get("dataset"), row.get("config"), row.get("seed"), row["representation"])
        merged.setdefault(key, {}).update(row)
    return list(merged.values())


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


# --- the table ----------------------------------------------------------------------------------
def build_table(output_dir: Optional[str] = None, dlib_paths: Iterable[str] = ()) -> pd.DataFrame:
    rows = tfdisent_rows(output_dir) if output_dir else []
    rows += dlib_rows(list(dlib_paths))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=ID_COLUMNS)
    for column in ID_COLUMNS:
        if column not in frame:
            frame[column] = None
    ordered = ID_COLUMNS + sorted(c for c in frame.columns if c not in ID_COLUMNS)
    frame = frame[ordered]
    return frame.sort_values(["source", "model_num", "representation"], na_position="last").reset_index(drop=True)


def write_table(frame: pd.DataFrame, output_dir: str) -> Dict[str, str]:
    """``results.parquet`` and ``results.csv`` in ``output_dir`` (written via temporary files)."""
    paths = {"parquet": os.path.join(output_dir, "results.parquet"), "csv": os.path.join(output_dir, "results.csv")}
    clean = frame.copy()
    for column in clean.columns:
        if clean[column].dtype == object:
            # Mixed columns (e.g. a hyperparameter that is a number for one method, a string for another)
            # would break Parquet: keep numbers numeric where every value is numeric, else strings.
            values = clean[column]
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.notna().sum() == values.notna().sum() and column not in STRING_COLUMNS:
                clean[column] = numeric
            else:
                clean[column] = values.map(lambda v: None if v is None or _isnan(v) else str(v))
    with atomic_path(paths["parquet"]) as temporary:
        clean.to_parquet(temporary, index=False)
    with atomic_path(paths["csv"]) as temporary:
        clean.to_csv(temporary, index=False)
    return paths


def load_table(output_dir: str) -> pd.DataFrame:
    return pd.read_parquet(os.path.join(output_dir, "results.parquet"))


def metric_columns(frame: pd.DataFrame) -> List[str]:
    """Score columns (``<metric>.<key>``), without wall times and errors."""
    skip_prefixes = ("train.", "eval.")
    return [c for c in frame.columns if "." in c and not c.startswith(skip_prefixes)
            and not c.endswith((".wall_time_seconds", ".error")) and pd.api.types.is_numeric_dtype(frame[c])]
