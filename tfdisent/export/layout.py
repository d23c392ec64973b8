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


# -- disentanglement_lib's released models (TF1 Hub modules) ------------------------------------
# A model folder of disentanglement_lib (one released zip, or the output of its dlib_reproduce) holds
#     <model>/model/tfhub/{saved_model.pb, variables/, tfhub_module.pb}   (the TF1 Hub module)
#     <model>/model/results/gin/train.gin                                  (its training settings)
# The module's default graph (empty tag set) has the signatures ``gaussian_encoder`` (images ->
# mean, logvar), ``decoder`` (latent_vectors -> images, logits) and ``reconstructions``.
TF1_HUB_MODULE_FILE = "tfhub_module.pb"
TF1_HUB_SIGNATURES = ("gaussian_encoder", "decoder", "reconstructions")

# disentanglement_lib's dataset names -> ours (identical names are not listed).
DLIB_DATASET_NAMES = {"dsprites_full": "dsprites"}


def find_tf1_hub_module(path: str) -> Optional[str]:
    """The TF1 Hub module directory of ``path`` (the module itself, a ``tfhub`` folder's parent, or
    a disentanglement_lib model folder holding ``model/tfhub``); None if there is none."""
    if not path or not os.path.isdir(path):
        return None
    for candidate in (path, os.path.join(path, "tfhub"), os.path.join(path, "model", "tfhub")):
        if os.path.isfile(os.path.join(candidate, TF1_HUB_MODULE_FILE)) and is_saved_model_dir(candidate):
            return os.path.abspath(candidate)
    return None


def read_dlib_gin(hub_dir: str) -> dict:
    """``{binding: value}`` of the training gin config next to a disentanglement_lib module
    (``<model>/results/gin/train.gin``; values are the gin text, strings unquoted); {} if absent."""
    import re

    model_dir = os.path.dirname(os.path.abspath(hub_dir))
    for candidate in (os.path.join(model_dir, "results", "gin", "train.gin"),
                      os.path.join(model_dir, "model", "results", "gin", "train.gin")):
        if os.path.isfile(candidate):
            bindings = {}
            with open(candidate) as stream:
                for line in stream:
                    match = re.match(r"^\s*([\w./]+)\s*=\s*(.+?)\s*$", line)
                    if match:
                        bindings[match.group(1)] = match.group(2).strip("'\"")
            return bindings
    return {}


def dlib_dataset_name(hub_dir: str) -> Optional[str]:
    """Our name of the dataset a disentanglement_lib module was trained on (from its gin), or None."""
    name = read_dlib_gin(hub_dir).get("dataset.name")
    return DLIB_DATASET_NAMES.get(name, name) if name else None
