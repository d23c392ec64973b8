"""rPU-VAE, the recursive PBT-U-VAE (Estermann, Marks & Yanik 2020, Algorithm 1 and Sec. 4.2).

1. x-run: PBT-U-VAE (UDR fitness, five lock-step beta-TCVAEs per member) on the full dataset.
2. Label: encode the current dataset with the best model; latents with mean KL > 1 are active and
   their means become surrogate labels.
3. Reduce: split each active latent's sorted values at large gaps (:mod:`splitting`) and keep one
   interval (leaf run r takes branch r-1 at the first split, later branch 0).
4. Recurse on the subset with a fresh population until nothing is active, nothing splits, the
   subset is tiny (< 10 points), the best score is below 0.1 or ``max_depth`` levels were labelled.
   One such path is a leaf run; ``leaf_runs`` are made.
5. Final: PBT-S-VAE on the full dataset with leaf-MIG over the surrogate labels (median over leaf
   runs) as fitness; its best model is the result.

Layout of ``DIR/rpu/`` (every stage can be inspected, and a rerun resumes where it stopped):
``x_run/`` and ``leaf_<r>/level_<t>/`` are PBT output directories (population.csv, best/...) with
``labels/indices.npy`` (flat grid indices of the labelled points), ``labels/labels.npy``
(surrogate labels [n, a]), ``labels/stage.json`` (active latents, KL, best score, the true
factor each label tracks when the dataset has factors) and ``subset.npy`` (the next stage's
data); ``leaf_manifest.json`` lists the chains; ``final/`` is the PBT-S-VAE run. ``DIR/best``
is the final model (as for every PBT run).

Deviation for CPU budgets: ``label_points`` labels a fixed random sample of each stage's data
instead of all of it (the paper encodes the whole dataset); the next stage then trains on the kept
part of that sample.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Dict, List, Optional

import numpy as np

from tfdisent.pbt import member as member_lib
from tfdisent.pbt import records, splitting, stopping
from tfdisent.pbt.explore import PBTConfigError
from tfdisent.pbt.runner import PBTSettings, run_pbt
from tfdisent.files import write_json_atomic

ACTIVE_KL = 1.0
MIN_SUBSET = 10
MANIFEST = "leaf_manifest.json"


@dataclasses.dataclass
class RPUSettings:
    """Settings of the recursion on top of the per-stage PBT settings (``pbt``)."""

    pbt: PBTSettings
    leaf_runs: int = 3
    max_depth: int = 3
    label_points: Optional[int] = None
    min_subset: int = MIN_SUBSET
    min_score: float = stopping.MIN_SCORE
    active_kl: float = ACTIVE_KL
    final_generations: Optional[int] = None

    def validate(self) -> None:
        if self.leaf_runs < 1 or self.max_depth < 1:
            raise PBTConfigError("--leaf_runs and --max_depth must be >= 1")
        if self.label_points is not None and self.label_points < self.min_subset:
            raise PBTConfigError(f"--label_points must be >= {self.min_subset}")


def _json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json_atomic(path, payload, allow_nan=True)


def factor_tracking(labels: np.ndarray, factors: np.ndarray, factor_names, num_bins: int = 20) -> List[dict]:
    """For each surrogate label, the true factor it shares most information with (normalised MI
    I(label; factor) / H(factor), labels discretised in 20 bins). Reporting only: labels never
    enter the algorithm."""
    from tfdisent.metrics import utils as metric_utils  # noqa: PLC0415

    discrete = metric_utils.histogram_discretize(np.asarray(labels, np.float64), num_bins)
    mutual_information = metric_utils.mutual_information_matrix(discrete, np.asarray(factors))
    entropy = metric_utils.discrete_entropy(np.asarray(factors))
    normalised = mutual_information / np.where(entropy > 0, entropy, np.inf)[None, :]
    tracking = []
    for row in normalised:
        best = int(np.argmax(row))
        tracking.append({"factor": str(factor_names[best]) if len(factor_names) else best,
                         "normalized_mi": float(row[best]),
                         "all": {str(name): float(value) for name, value in zip(factor_names, row)}})
    return tracking


def label_stage(stage_dir: str, indices: np.ndarray, settings: RPUSettings, seed: int) -> dict:
    """Encodes the stage's data (or a fixed sample) with its best model and saves the labels."""
    from tfdisent.data import indices_to_factors  # noqa: PLC0415
    from tfdisent.evaluation.representation import load_gaussian_encoder  # noqa: PLC0415

    out = os.path.join(stage_dir, "labels")
    done = os.path.join(out, "stage.json")
    if os.path.exists(done):
        with open(done) as stream:
            return json.load(stream)
    summary = records.read_population(os.path.join(stage_dir, records.POPULATION_FILE))
    best = records.best_row(summary)
    if best is None or not os.path.isdir(os.path.join(stage_dir, "best")):
        # Every member diverged in every generation (the paper's initial learning rates reach 1): there is
        # no model to label with. The leaf run ends here (see _end_reason) instead of the whole recursion.
        stage = {"points": int(len(indices)), "kl_per_dim": [], "active_latents": [], "best_score": float("nan"),
                 "tracks": [], "no_model": "no member reached a finite fitness"}
        os.makedirs(out, exist_ok=True)
        _json(done, stage)
        return stage
    base = member_lib.load_data({**settings.pbt.member_settings(), "subset_path": None})
    if settings.label_points is not None and settings.label_points < len(indices):
        keep = np.sort(member_lib.fixed_indices(settings.label_points, len(indices), seed))
        indices = indices[keep]
    encoder = load_gaussian_encoder(os.path.join(stage_dir, "best"), base.observation_shape)
    factors = indices_to_factors(indices, base.factor_sizes)
    mean, logvar = member_lib.encode_factors(encoder.encode, base, factors, seed + 1)
    from tfdisent.metrics.udr import gaussian_kl_per_dimension  # noqa: PLC0415

    kl = gaussian_kl_per_dimension(mean, logvar)
    active = np.flatnonzero(kl > settings.active_kl)
    labels = mean[:, active]
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "indices.npy"), indices)
    np.save(os.path.join(out, "labels.npy"), labels)
    stage = {"points": int(len(indices)), "kl_per_dim": kl.tolist(), "active_latents": active.tolist(),
             "best_score": float(best["score"]) if best else float("nan"),
             "tracks": factor_tracking(labels, factors, base.factor_names) if labels.size else []}
    _json(done, stage)
    return stage


def run_stage(settings: RPUSettings, stage_dir: str, subset: Optional[np.ndarray], fitness: str,
              generations: Optional[int], leaf_manifest: Optional[str] = None, seed_offset: int = 0) -> dict:
    """One PBT population (fresh weights and initial draws) on ``subset`` (None: full data)."""
    subset_path = None
    os.makedirs(stage_dir, exist_ok=True)
    if subset is not None:
        subset_path = os.path.join(stage_dir, "subset.npy")
        if not os.path.exists(subset_path):
            np.save(subset_path, subset)
    pbt = dataclasses.replace(settings.pbt, fitness=fitness, output_dir=stage_dir, subset_path=subset_path,
                              leaf_manifest=leaf_manifest, seed=settings.pbt.seed + seed_offset,
                              generations=generations, models_per_member=None)
    summary_path = os.path.join(stage_dir, "summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as stream:
            return json.load(stream)
    return run_pbt(pbt)


def write_leaf_manifest(path: str, chains: List[List[Dict[str, str]]]) -> None:
    """``{"leaf_runs": [[{"indices": rel path, "labels": rel path}, ...], ...]}`` (paths relative
    to the manifest), the input of the leaf-MIG fitness."""
    _json(path, {"leaf_runs": chains})


def run_rpu(settings: RPUSettings) -> dict:
    """Algorithm 1; returns a summary (stages, labels, final best) also written to rpu.json."""
    settings.validate()
    pbt = settings.pbt
    root = os.path.join(os.path.abspath(pbt.output_dir), "rpu")
    base = member_lib.load_data({**pbt.member_settings(), "subset_path": None})
    if not base.factor_sizes:
        raise PBTConfigError(f"rPU-VAE needs a dataset with a finite grid to index subsets; {pbt.dataset!r} has none")
    grid = int(np.prod(base.factor_sizes, dtype=np.int64))
    full = np.arange(grid, dtype=np.int64)
    report: Dict[str, object] = {"stages": []}
    x_dir = os.path.join(root, "x_run")
    x_summary = run_stage(settings, x_dir, None, "udr", pbt.generations)
    x_labels = label_stage(x_dir, full, settings, pbt.seed)
    report["stages"].append({"stage": "x_run", "dir": x_dir, **_brief(x_summary, x_labels)})
    chains: List[List[Dict[str, str]]] = []
    for leaf in range(1, settings.leaf_runs + 1):
        chain = [{"indices": os.path.relpath(os.path.join(x_dir, "labels", "indices.npy"), root),
                  "labels": os.path.relpath(os.path.join(x_dir, "labels", "labels.npy"), root)}]
        stage_dir, stage_labels, depth = x_dir, x_labels, 0
        while True:
            reason = _end_reason(stage_labels, settings, depth)
            if reason:
                break
            indices = np.load(os.path.join(stage_dir, "labels", "indices.npy"))
            labels = np.load(os.path.join(stage_dir, "labels", "labels.npy"))
            kept = splitting.choose_subset(labels, branch=leaf - 1, first_split=depth == 0)
            if kept is None:
                reason = "no split (all variance explained)"
                break
            subset = indices[kept]
            if len(subset) < settings.min_subset:
                reason = f"subset of {len(subset)} < {settings.min_subset} points"
                break
            depth += 1
            stage_dir = os.path.join(root, f"leaf_{leaf}", f"level_{depth}")
            summary = run_stage(settings, stage_dir, subset, "udr", pbt.generations,
                                seed_offset=1000 * leaf + depth)
            stage_labels = label_stage(stage_dir, subset, settings, pbt.seed + depth)
            report["stages"].append({"stage": f"leaf_{leaf}/level_{depth}", "dir": stage_dir, "subset": int(len(subset)),
                                     **_brief(summary, stage_labels)})
            if stage_labels["active_latents"]:
                chain.append({"indices": os.path.relpath(os.path.join(stage_dir, "labels", "indices.npy"), root),
                              "labels": os.path.relpath(os.path.join(stage_dir, "labels", "labels.npy"), root)})
        report["stages"].append({"stage": f"leaf_{leaf}", "end": reason, "levels": len(chain)})
        chains.append(chain)
    manifest = os.path.join(root, MANIFEST)
    write_leaf_manifest(manifest, chains)
    final_dir = os.path.join(root, "final")
    final = run_stage(settings, final_dir, None, "leaf_mig", settings.final_generations or pbt.generations,
                      leaf_manifest=manifest, seed_offset=99)
    best_dir = os.path.join(os.path.abspath(pbt.output_dir), "best")
    if os.path.isdir(os.path.join(final_dir, "best")):
        shutil.rmtree(best_dir, ignore_errors=True)
        shutil.copytree(os.path.join(final_dir, "best"), best_dir)
    shutil.copy(os.path.join(final_dir, records.POPULATION_FILE),
                os.path.join(os.path.abspath(pbt.output_dir), records.POPULATION_FILE))
    report["final"] = final
    _json(os.path.join(root, "rpu.json"), report)
    return report


def _brief(summary: dict, labels: dict) -> dict:
    return {"best_score": labels.get("best_score"), "active_latents": labels.get("active_latents"),
            "tracks": [t["factor"] for t in labels.get("tracks", [])],
            "tracks_mi": [round(t["normalized_mi"], 3) for t in labels.get("tracks", [])],
            "labelled_points": labels.get("points"), "generations": summary.get("generations")}


def _end_reason(stage_labels: dict, settings: RPUSettings, depth: int) -> Optional[str]:
    if stage_labels.get("no_model"):
        return stage_labels["no_model"]
    if not stage_labels["active_latents"]:
        return "no active latent"
    if stopping.below_threshold(float(stage_labels["best_score"]), settings.min_score):
        return f"best score {stage_labels['best_score']:.3f} < {settings.min_score}"
    if depth >= settings.max_depth:
        return f"max depth {settings.max_depth}"
    return None
