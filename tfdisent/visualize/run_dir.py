"""Finding a training run's settings and export, without importing TensorFlow.

``tfdisent-visualize`` checks its ``--model_dir`` with this module first, so a typo fails in a
fraction of a second with one clear line instead of after the ~10 s TensorFlow import.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from tfdisent.training.config import CONFIG_FILE
from tfdisent.export.layout import (EXPORT_DIR, ExportNotFoundError, dlib_dataset_name, find_tf1_hub_module,
                                    latest_export, read_metadata)

LOG_DIR = "logs"             # TensorBoard logdir of the run; logs/train is the training run
PROJECTOR_RUN = "projector"
VISUALIZATIONS_DIR = "visualizations"


class RunDirError(ValueError):
    """The run directory is missing, incomplete or invalid; the message says what to do."""


@dataclasses.dataclass
class RunInfo:
    run_dir: str
    config: dict
    version: int
    export_dir: str      # <run>/export/<version>
    metadata: dict       # assets.extra/tfdisent_export.json of that version

    @property
    def dataset(self) -> Optional[str]:
        return self.metadata.get("dataset") or self.config["dataset"]

    @property
    def data_dir(self) -> Optional[str]:
        return self.config.get("data_dir")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.run_dir, LOG_DIR)


def locate_run(model_dir: str, version: Optional[int] = None) -> RunInfo:
    """Reads ``<model_dir>/config.json`` and picks ``export/<version>`` (default: the latest).

    A disentanglement_lib model (its ``model/tfhub`` TF1 Hub module, or the folder holding it) is
    accepted too: version 0, ``export_dir`` the module, the dataset from its training gin (None when
    the gin is missing: the caller must then be told the dataset)."""
    if not model_dir:
        raise RunDirError("--model_dir is required (a directory written by tfdisent-train)")
    if not os.path.isdir(model_dir):
        raise RunDirError(f"run directory {model_dir} does not exist")
    hub_dir = find_tf1_hub_module(model_dir)
    if hub_dir is not None:  # a disentanglement_lib model: no config.json, settings in its gin
        dataset = dlib_dataset_name(hub_dir)
        return RunInfo(os.path.abspath(model_dir), {"dataset": dataset}, 0, hub_dir, {"dataset": dataset})
    config_path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(config_path):
        raise RunDirError(f"{model_dir} is not a tfdisent run directory: it has no {CONFIG_FILE}")
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (OSError, ValueError) as error:
        raise RunDirError(f"{config_path} is not valid JSON ({error})") from None
    if not isinstance(config, dict) or "dataset" not in config:
        raise RunDirError(f"{config_path} does not name a dataset; is it a tfdisent-train config?")
    export_base = os.path.join(model_dir, EXPORT_DIR)
    if version is None:
        try:
            version = int(os.path.basename(latest_export(export_base)))
        except ExportNotFoundError:
            raise RunDirError(f"{model_dir} has no exported SavedModel ({export_base}/<version>/saved_model.pb); "
                              "finish training (tfdisent-train exports at the end) or rerun it with --export") \
                from None
    export_dir = os.path.join(export_base, str(int(version)))
    if not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise RunDirError(f"no SavedModel at {export_dir}; versions present: {_versions(export_base)}")
    return RunInfo(os.path.abspath(model_dir), config, int(version), export_dir, read_metadata(export_dir))


def _versions(export_base: str) -> list:
    if not os.path.isdir(export_base):
        return []
    return sorted(int(v) for v in os.listdir(export_base) if v.isdigit())
