"""Does mixed bfloat16 learn as well as float32? Paired runs, held-out ELBO, MIG and DCI, with intervals.

    nice -n 5 python docs/precision/run.py --steps=300 --seeds=0,1,2,3,4    # train + score what is missing
    python docs/precision/run.py --analyze_only                              # tables from the results

For each seed s, method m (``beta_tcvae``: the default job of ``tfdisent-train``, dSprites, every
default but ``--steps``; and ``factor_vae``, its FactorVAE counterpart) and precision p (``float32``,
``mixed_bfloat16``), one run ``tfdisent-train --method=m --seed=s --precision=p --steps=STEPS
--eval_batches=EVAL_BATCHES`` is trained in-process (the same Trainer), then its exported SavedModel is
scored as ``tfdisent-evaluate`` does (mean representation) with MIG and DCI at reduced sample sizes
(num_train 1000, DCI num_test 500; evaluation seed 0). The two precisions of one (m, s) start from the
same weights and see the same batches, so their per-seed differences are paired.

Each run writes ``docs/precision/results/<m>_<p>_steps<STEPS>_s<s>.json``; a run whose file exists is
skipped, so later sessions add seeds (``--seeds=5,6,7``) or longer runs (``--steps``) by rerunning.
The run directories (checkpoints, exports) go to ``--work_dir`` (not in the repository).

The analysis (``results.md``, ``results.csv``) gives, per method, metric and step count, the mean and
sample SD (ddof=1) of each precision and the paired differences (bfloat16 - float32) with a 95% t
interval (``scipy.stats.ttest_rel``) and a 95% percentile bootstrap interval (``scipy.stats.bootstrap``,
10,000 resamples, seed 0), and what the interval says.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import platform
import sys
import time
from typing import Dict, List, Sequence

import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
METHODS = ("beta_tcvae", "factor_vae")
PRECISIONS = ("float32", "mixed_bfloat16")
# Reported quantities: (results key, label, higher is better).
QUANTITIES = (("elbo", "held-out ELBO (nats)"), ("mig", "MIG (discrete)"),
              ("dci_disentanglement", "DCI disentanglement"), ("dci_completeness", "DCI completeness"),
              ("dci_informativeness_test", "DCI informativeness (test)"))
METRIC_OVERRIDES = {"mig": {"num_train": 1000}, "dci": {"num_train": 1000, "num_test": 500}}


def result_path(method: str, precision: str, steps: int, seed: int) -> str:
    return os.path.join(RESULTS_DIR, f"{method}_{precision}_steps{steps}_s{seed}.json")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def train_and_score(method: str, precision: str, steps: int, seed: int, eval_batches: int, work_dir: str) -> dict:
    """One run as tfdisent-train would do it, then MIG and DCI as tfdisent-evaluate would."""
    from tfdisent.data import load_dataset
    from tfdisent.evaluation import evaluate, representation
    from tfdisent.training import TrainConfig, Trainer

    run_dir = os.path.join(work_dir, f"{method}_{precision}_steps{steps}_s{seed}")
    config = TrainConfig(method=method, precision=precision, steps=steps, seed=seed, eval_batches=eval_batches,
                         image_every=0)
    start = time.time()
    trainer = Trainer(config, run_dir)
    results = trainer.train()
    train_seconds = time.time() - start
    dataset = load_dataset(config.dataset)
    encoder = representation.load_gaussian_encoder(results["export"], dataset.observation_shape)
    scores = evaluate.run_metrics(dataset, ["mig", "dci"], seed=0,
                                  representation_fn=representation.make_representation_function(encoder, "mean"),
                                  overrides=METRIC_OVERRIDES, progress=None)
    for name, entry in scores.items():
        if "error" in entry:
            raise RuntimeError(f"{name} failed on {run_dir}: {entry['error']}")
    return {"method": method, "precision": precision, "steps": steps, "seed": seed, "eval_batches": eval_batches,
            "elbo": results["eval"]["elbo"], "reconstruction": results["eval"]["reconstruction"],
            "kl": results["eval"]["kl"], "active_latents": results["eval"]["active_latents"],
            "mig": scores["mig"]["discrete_mig"],
            **{f"dci_{k}": scores["dci"][k] for k in ("disentanglement", "completeness", "informativeness_test")},
            "metric_settings": METRIC_OVERRIDES, "train_and_eval_seconds": round(train_seconds, 1),
            "metric_seconds": round(time.time() - start - train_seconds, 1), "cpu": cpu_name(),
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def paired_summary(float32: Sequence[float], bfloat16: Sequence[float], confidence: float = 0.95) -> Dict[str, float]:
    """Means, sample SDs (ddof=1) and the paired difference bfloat16 - float32 with a t interval
    (``ttest_rel``) and a percentile bootstrap interval of the mean difference. Needs n >= 2 pairs."""
    a, b = np.asarray(float32, np.float64), np.asarray(bfloat16, np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need at least 2 paired values, got {a.size} and {b.size}")
    diff = b - a
    t_interval = stats.ttest_rel(b, a).confidence_interval(confidence)
    boot = stats.bootstrap((diff,), np.mean, confidence_level=confidence, n_resamples=10000, method="percentile",
                           random_state=np.random.default_rng(0)).confidence_interval
    return {"n": int(a.size), "float32_mean": float(a.mean()), "float32_sd": float(a.std(ddof=1)),
            "bfloat16_mean": float(b.mean()), "bfloat16_sd": float(b.std(ddof=1)),
            "diff_mean": float(diff.mean()), "diff_sd": float(diff.std(ddof=1)),
            "t_low": float(t_interval.low), "t_high": float(t_interval.high),
            "boot_low": float(boot.low), "boot_high": float(boot.high)}


def verdict(summary: Dict[str, float]) -> str:
    """What the two 95% intervals of the paired difference say (resolved only when both agree)."""
    if summary["t_low"] > 0 and summary["boot_low"] > 0:
        return "bfloat16 higher"
    if summary["t_high"] < 0 and summary["boot_high"] < 0:
        return "bfloat16 lower"
    return "not resolved at this n (an interval includes 0)"


def load_results() -> List[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(RESULTS_DIR, "*.json"))):
        with open(path) as f:
            rows.append(json.load(f))
    return rows


def analyze(rows: List[dict]) -> str:
    """Writes results.csv and results.md next to this script; returns the markdown."""
    table = []
    for steps in sorted({r["steps"] for r in rows}):
        for method in METHODS:
            runs = {(r["precision"], r["seed"]): r for r in rows if r["method"] == method and r["steps"] == steps}
            seeds = sorted(s for p, s in runs if p == PRECISIONS[0] and (PRECISIONS[1], s) in runs)
            if len(seeds) < 2:
                continue
            for key, label in QUANTITIES:
                summary = paired_summary([runs[(PRECISIONS[0], s)][key] for s in seeds],
                                         [runs[(PRECISIONS[1], s)][key] for s in seeds])
                table.append({"method": method, "steps": steps, "quantity": label, "seeds": seeds, **summary,
                              "verdict": verdict(summary)})
    with open(os.path.join(HERE, "results.csv"), "w", newline="") as f:
        fields = ["method", "steps", "quantity", "n", "float32_mean", "float32_sd", "bfloat16_mean", "bfloat16_sd",
                  "diff_mean", "diff_sd", "t_low", "t_high", "boot_low", "boot_high", "verdict"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table)
    cpus = sorted({r.get("cpu", "?") for r in rows})
    lines = ["# float32 vs mixed_bfloat16: paired runs (generated by docs/precision/run.py)", "",
             f"CPU: {'; '.join(cpus)}. Mean (sample SD, ddof=1) over n seeds; difference = bfloat16 - float32 "
             f"per seed (same initial weights and batches), 95% t interval (paired t) and 95% percentile "
             f"bootstrap interval of its mean. MIG and DCI at num_train 1000 (DCI num_test 500).", "",
             "| method | steps | quantity | n | float32 | mixed_bfloat16 | diff (bf16 - f32) | 95% t interval "
             "| 95% bootstrap | verdict |", "|---|---:|---|---:|---:|---:|---:|---|---|---|"]
    for row in table:
        lines.append(f"| {row['method']} | {row['steps']} | {row['quantity']} | {row['n']} "
                     f"| {row['float32_mean']:.4g} ({row['float32_sd']:.2g}) "
                     f"| {row['bfloat16_mean']:.4g} ({row['bfloat16_sd']:.2g}) | {row['diff_mean']:+.3g} "
                     f"| [{row['t_low']:+.3g}, {row['t_high']:+.3g}] "
                     f"| [{row['boot_low']:+.3g}, {row['boot_high']:+.3g}] "
                     f"| {row['verdict']} |")
    timing = {}
    for r in rows:
        timing.setdefault((r["method"], r["precision"], r["steps"]), []).append(r["train_and_eval_seconds"])
    lines += ["", "Wall time of training + held-out evaluation + export per run (median, s; a loaded shared "
              "machine, so only indicative; the speed claim is benchmarks/train_throughput.py's):", ""]
    lines += [f"* {m}, {p}, {s} steps: {np.median(v):.0f} s (n={len(v)})" for (m, p, s), v in sorted(timing.items())]
    markdown = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(markdown)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval_batches", type=int, default=50)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--work_dir", default=os.path.join("runs", "precision"))
    parser.add_argument("--analyze_only", action="store_true")
    args = parser.parse_args()
    if not args.analyze_only:
        os.makedirs(RESULTS_DIR, exist_ok=True)
        seeds = [int(s) for s in args.seeds.split(",")]
        # Seed-major order: an interrupted experiment still leaves complete pairs behind.
        for seed in seeds:
            for method in args.methods.split(","):
                for precision in PRECISIONS:
                    path = result_path(method, precision, args.steps, seed)
                    if os.path.exists(path):
                        continue
                    row = train_and_score(method, precision, args.steps, seed, args.eval_batches, args.work_dir)
                    with open(path + ".tmp", "w") as f:
                        json.dump(row, f, indent=2, sort_keys=True)
                    os.replace(path + ".tmp", path)
                    print(f"{method} {precision} seed {seed}: ELBO {row['elbo']:.2f}, MIG {row['mig']:.3f}, "
                          f"DCI {row['dci_disentanglement']:.3f}, {row['train_and_eval_seconds']:.0f} s train + "
                          f"{row['metric_seconds']:.0f} s metrics", flush=True)
    print(analyze(load_results()))


if __name__ == "__main__":
    sys.exit(main())
