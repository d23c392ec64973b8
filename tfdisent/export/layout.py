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


def latest_version(export_base: str) -> Optional[int]:
    """Highest integer version directory under ``export_base`` (what TF Serving would serve)."""
    if not os.path.isdir(export_base):
        return None
    versions = [int(name) for name in os.listdir(export_base) if name.isdigit()
                and os.path.exists(os.path.join(export_base, name, "saved_model.pb"))]
    return max(versions) if versions else None


def read_metadata(version_dir: str) -> dict:
    """``assets.extra/tfdisent_export.json`` of a version (observation_shape, latent_dim, ...); {} if absent."""
    path = os.path.join(version_dir, ASSETS_EXTRA, METADATA_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
