"""The on-disk layout of exports, readable without importing TensorFlow.

    <run>/export/<version>/saved_model.pb, variables/, assets.extra/{tfdisent_export.json, tf_serving_warmup_requests}

TF Serving serves the highest integer version directory under a model's base path by default
(``--model_base_path=<run>/export``), so nothing else with an integer name may live there.
"""

from __future__ import annotations

import json
import os
from typing import Optional

EXPORT_DIR = "export"
METADATA_FILE = "tfdisent_export.json"
ASSETS_EXTRA = "assets.extra"


class ExportNotFoundError(ValueError):
    """No exported SavedModel where one was expected; the message names the path and the layout."""


def is_saved_model_dir(path: str) -> bool:
    """True if ``path`` holds a SavedModel (``saved_model.pb`` or ``saved_model.pbtxt``)."""
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt"))


def latest_version(export_base: str) -> Optional[int]:
    """Highest integer version directory under ``export_base`` (what TF Serving would serve)."""
    if not os.path.isdir(export_base):
        return None
    versions = [int(name) for name in os.listdir(export_base)
                if name.isdigit() and is_saved_model_dir(os.path.join(export_base, name))]
    return max(versions) if versions else None


def latest_export(run_dir_or_export_base: str) -> str:
    """Absolute path of the newest export version: ``<run>/export/<highest integer>/`` for a training
    run directory, ``<base>/<highest integer>/`` for an export base directory.

    The one place that finds a run's export (the evaluator, the visualizer and studies use it).
    Raises :class:`ExportNotFoundError` (a ValueError) with a one-line reason when there is none.
    """
    path = run_dir_or_export_base
    if not path:
        raise ExportNotFoundError("empty model path")
    if not os.path.exists(path):
        raise ExportNotFoundError(f"model path {path!r} does not exist")
    if not os.path.isdir(path):
        raise ExportNotFoundError(f"model path {path!r} is not a directory")
    run_export = os.path.join(path, EXPORT_DIR)
    export_base = run_export if os.path.isdir(run_export) else path
    version = latest_version(export_base)
    if version is None:
        if export_base == run_export:
            raise ExportNotFoundError(f"{run_export!r} holds no SavedModel version directory "
                                      f"(expected {EXPORT_DIR}/<integer>/saved_model.pb)")
        raise ExportNotFoundError(f"{path!r} is not a SavedModel (no saved_model.pb), nor a training run "
                                  f"directory with {EXPORT_DIR}/<version>/, nor an export base with "
                                  "<integer version>/ directories")
    return os.path.abspath(os.path.join(export_base, str(version)))


def read_metadata(version_dir: str) -> dict:
    """``assets.extra/tfdisent_export.json`` of a version (observation_shape, latent_dim, ...); {} if absent."""
    path = os.path.join(version_dir, ASSETS_EXTRA, METADATA_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
