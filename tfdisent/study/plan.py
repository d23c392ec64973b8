"""``tfdisent-study plan``: how many models a (filtered) study has and what it costs.

CPU figures come from measurements on this project's 2-core CPU machine (``benchmarks/study_overhead.py``
and the ``cpu_small`` run of docs/study_cpu_small/; see BUILD_NOTES.md "Studies"): training images per second of one trial per
thread count, and metric wall time per 1,000 sampled points. GPU figures are *on paper*: an assumed
training speed (``GPU_IMAGES_PER_SECOND``, not measured here) and the same CPU-bound metric time
(the metrics are numpy/scikit-learn; only encoding would move to the GPU).
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Sequence

from tfdisent.study.spec import ModelSpec, Study
from tfdisent.training.precision import speed_factor

# Training images per second of one beta-VAE trainer on dSprites (dlib_conv, batch 64) by TF thread count.
# Measured with benchmarks/study_overhead.py --steps=300 on the quiet 2-core machine (2026-11-30): one trainer
# alone 544 img/s on 1 thread and 860 on 2; two 1-thread trainers side by side 667 each (1334 total, 1.55x one
# 2-thread trainer). 1 thread: the side-by-side figure rounded down, as a study runs two trials at once.
CPU_IMAGES_PER_SECOND = {1: 600.0, 2: 860.0}
# Training cost of a step relative to a beta-VAE step, from the cpu_small run (median training wall time per
# method; FactorVAE's 1000-unit discriminator and its second optimizer step). Methods not listed: 1.
# hfs_vae: benchmarks/train_throughput.py --methods=beta_vae,hfs_vae --rounds=3 --steps=60 (side by side, 2026-12-05,
# a loaded machine): 495 vs 217 img/s through Trainer.train_steps, i.e. its [B, B, B, 25] support distance costs 2.3x.
METHOD_COST: Dict[str, float] = {"factor_vae": 2.4, "hfs_vae": 2.3}
# Metric wall seconds per 1,000 points of num_train (+ num_eval/num_test/num_variance_estimate), one thread:
# measured in the cpu_small run of docs/study_cpu_small/ (its first model, mean representation, while the
# machine ran only the study: 2 trials on 2 cores). Rough: the costs are not linear in the points (fixed
# encoding, fitting and start-up costs), +-2x.
METRIC_SECONDS_PER_1000 = {"beta_vae": 45.0, "factor_vae": 4.6, "mig": 0.4, "dci": 3.2, "sap": 0.5,
                           "modularity_explicitness": 0.8, "irs": 1.0, "unsupervised": 0.3, "downstream": 13.0,
                           "sparsity": 0.5}
# On paper, not measured: dlib_conv at batch 64 on one V100-class GPU. (Cross-check, unverified: Locatello et
# al. report about 2.5 P100 GPU-years for ~12,800 models, i.e. ~1.7 h per 300k-step model with evaluation.)
GPU_IMAGES_PER_SECOND = 3000.0
SETUP_SECONDS_PER_MODEL = 45.0  # trial start, TensorFlow import, build and trace, export (cpu_small: 284 s per model
# = 166 s training + 74 s metrics + ~45 s the rest)


def _points(settings: Dict[str, Any]) -> float:
    total = 0.0
    for key in ("num_train", "num_eval", "num_test", "num_variance_estimate", "num_points"):
        value = settings.get(key)
        if isinstance(value, (list, tuple)):
            total += float(sum(value))
        elif isinstance(value, (int, float)):
            total += float(value)
    return total


def evaluation_seconds(study: Study) -> float:
    """Projected metric seconds per model (all representations)."""
    from tfdisent import metrics

    per_representation = 0.0
    for name in study.evaluation.metrics:
        settings = metrics.resolve_settings(name, **study.evaluation.settings.get(name, {}))
        per_representation += METRIC_SECONDS_PER_1000.get(name, 5.0) * _points(settings) / 1000.0
    return per_representation * len(study.evaluation.representations)


def plan(study: Study, models: Sequence[ModelSpec], cores: int = 2, cpus_per_trial: int = 1) -> Dict[str, Any]:
    """Counts and projected costs of ``models``."""
    by_dataset = collections.Counter(m.dataset for m in models)
    by_method = collections.Counter(m.method for m in models)
    by_precision = collections.Counter(m.train.get("precision", "float32") for m in models)
    images = sum(m.train.get("steps", 3000) * m.train.get("batch_size", 64) * METHOD_COST.get(m.method, 1.0)
                 for m in models)
    # The same in float32 time: a mixed_bfloat16 model trains speed_factor times faster (measured on an
    # AMX/AVX512-BF16 CPU, tfdisent.training.precision; CPUs without native bfloat16 refuse it).
    float32_images = sum(m.train.get("steps", 3000) * m.train.get("batch_size", 64) * METHOD_COST.get(m.method, 1.0)
                         / speed_factor(m.train.get("precision", "float32")) for m in models)
    threads = max(1, int(cpus_per_trial))
    trial_speed = CPU_IMAGES_PER_SECOND.get(threads, CPU_IMAGES_PER_SECOND[max(CPU_IMAGES_PER_SECOND)])
    concurrency = max(1, cores // threads)
    eval_seconds = evaluation_seconds(study) * len(models)
    setup_seconds = SETUP_SECONDS_PER_MODEL * len(models)
    trial_seconds = float32_images / trial_speed + eval_seconds + setup_seconds
    return {
        "models": len(models), "by_dataset": dict(by_dataset), "by_method": dict(by_method),
        "by_precision": dict(by_precision),
        "training_images": images,
        "cpu_trial_hours": trial_seconds / 3600.0,
        "cpu_core_hours": trial_seconds * threads / 3600.0,
        "cpu_wall_hours": trial_seconds / concurrency / 3600.0,
        "cores": cores, "cpus_per_trial": threads,
        "evaluation_hours": eval_seconds / 3600.0,
        "gpu_hours_on_paper": (images / GPU_IMAGES_PER_SECOND + setup_seconds) / 3600.0,
        "gpu_evaluation_cpu_hours": eval_seconds / 3600.0,
    }


def format_plan(study: Study, result: Dict[str, Any]) -> str:
    lines = [f"study {study.name}: {result['models']} model(s) of {study.num_models}",
             "  by dataset: " + ", ".join(f"{k} {v}" for k, v in result["by_dataset"].items()),
             "  by method:  " + ", ".join(f"{k} {v}" for k, v in result["by_method"].items()),
             "  precision:  " + ", ".join(f"{k} {v}" + (f" (CPU training {speed_factor(k):.2g}x float32's speed, "
                                                      "measured on an AMX CPU)" if speed_factor(k) != 1.0 else "")
                                          for k, v in result.get("by_precision", {}).items()),
             f"  CPU (measured speeds of this 2-core machine, {result['cpus_per_trial']} thread(s) per trial): "
             f"{result['cpu_core_hours']:.1f} core-hours, {result['cpu_wall_hours']:.1f} h wall on "
             f"{result['cores']} cores (of which evaluation {result['evaluation_hours']:.1f} trial-hours)",
             f"  GPU (on paper, assumed {GPU_IMAGES_PER_SECOND:.0f} img/s, not measured): "
             f"{result['gpu_hours_on_paper']:.1f} GPU-hours of training + {result['gpu_evaluation_cpu_hours']:.1f} "
             "CPU-hours of metrics (numpy/scikit-learn)"]
    return "\n".join(lines)
