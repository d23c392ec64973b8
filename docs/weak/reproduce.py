"""Weak supervision (Locatello et al. 2020, Ada-GVAE on pairs differing in k = 1 factor) against the unsupervised
beta-VAE, with the baseline matched in images seen, over >= 5 seeds, and per-seed differences with intervals.

An Ada-GVAE batch of B pairs holds 2B images, so a beta-VAE trained with the same batch size and steps sees half
the images (the first comparison in docs/weak/README.md). Arms, per seed (the same seed = the same initial
weights of the shared encoder/decoder and the same data order where the pipelines allow it):

* ``ada_gvae``: Ada-GVAE, beta 1, k = 1, batch B pairs (2B images), S steps;
* ``beta_vae_same_updates``: beta-VAE beta 1, batch 2B images, S steps: same images seen *and* same updates;
* ``beta_vae_same_batch``: beta-VAE beta 1, batch B, 2S steps: same images seen, twice the updates.

Each model's encoder means are scored with MIG (disentanglement_lib's study settings: 10,000 points, 20 bins)
on the same draws (RandomState(0)) for every model, as benchmarks/weak_semi_mig.py does.

    python docs/weak/reproduce.py plan --seeds=0-4
    python docs/weak/reproduce.py run --out=runs/weak_evidence --seeds=0-4
    python docs/weak/reproduce.py report --results=runs/weak_evidence/results.json

``run`` records each (arm, seed) in OUT/results.json as soon as it ends and skips finished ones on a rerun, so
later sessions add seeds (``--seeds=5-9``) to the same evidence; the settings must be the same (else a one-line
error). ``report`` writes results.md: per arm n, mean, sample SD (ddof = 1); Ada-GVAE minus each baseline seed by
seed with a bootstrap interval and a sign-flip permutation p (:mod:`tfdisent.pbt.evidence`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ARMS = ("ada_gvae", "beta_vae_same_updates", "beta_vae_same_batch")
RUN_KEYS = ("steps", "batch_size", "beta")
# plan: a 2-thread beta-VAE trainer on dSprites trains ~860 images/s on the quiet 2-core machine
# (tfdisent.study.plan.CPU_IMAGES_PER_SECOND, benchmarks/study_overhead.py); Ada-GVAE's per-image cost is taken
# to be the same (two encoder passes per pair, one decoder pass per image). MIG on 10,000 points + set-up: ~25 s.
IMAGES_PER_SECOND = 860.0
OVERHEAD_SECONDS = 25.0


def _seeds(text: str) -> List[int]:
    """``"0-4"``, ``"0,1,2"`` or ``"0-2,7"`` (tfdisent-study's --seeds syntax)."""
    from tfdisent.study.spec import StudyError, parse_seed_range

    try:
        return parse_seed_range(text)
    except StudyError as error:
        _fail(str(error))


def _fail(message: str) -> None:
    print(f"reproduce.py: {message}", file=sys.stderr)
    sys.exit(2)


def arm_config(arm: str, steps: int, batch_size: int, beta: float) -> Dict[str, object]:
    """TrainConfig keyword arguments of an arm; every arm sees steps x 2 x batch_size images."""
    if arm == "ada_gvae":
        return {"method": "ada_gvae", "steps": steps, "batch_size": batch_size,
                "hyperparameters": {"beta": beta, "k": 1}}
    if arm == "beta_vae_same_updates":
        return {"method": "beta_vae", "steps": steps, "batch_size": 2 * batch_size, "hyperparameters": {"beta": beta}}
    if arm == "beta_vae_same_batch":
        return {"method": "beta_vae", "steps": 2 * steps, "batch_size": batch_size, "hyperparameters": {"beta": beta}}
    raise ValueError(arm)


def plan(steps: int, batch_size: int, seeds: int) -> Dict[str, float]:
    images = steps * 2 * batch_size
    per_arm = images / IMAGES_PER_SECOND + OVERHEAD_SECONDS
    return {"images_per_model": images, "seconds_per_model": per_arm, "models": len(ARMS) * seeds,
            "total_seconds": per_arm * len(ARMS) * seeds}


def run(args) -> None:
    import numpy as np

    from tfdisent import metrics
    from tfdisent.data import load_dataset
    from tfdisent.evaluation.progress import encoder_representation
    from tfdisent.files import write_json_atomic
    from tfdisent.training import TrainConfig, Trainer

    out = os.path.abspath(args.out)
    path = os.path.join(out, "results.json")
    settings = {k: getattr(args, k) for k in RUN_KEYS}
    results = json.load(open(path)) if os.path.exists(path) else {"settings": settings, "arms": {}}
    changed = [k for k in RUN_KEYS if results["settings"].get(k) != settings[k]]
    if changed:
        _fail(f"{path} was run with other settings ({', '.join(changed)}); use the same values or a new --out")
    os.makedirs(out, exist_ok=True)
    dataset = load_dataset("dsprites")
    for seed in _seeds(args.seeds):
        for arm in ARMS:
            if str(seed) in results["arms"].get(arm, {}):
                continue
            config = arm_config(arm, args.steps, args.batch_size, args.beta)
            run_dir = os.path.join(out, f"{arm}_s{seed}")
            start = time.time()
            trainer = Trainer(TrainConfig(seed=seed, log_every=100, image_every=0, checkpoint_every=config["steps"],
                                          export=False, **config), run_dir, dataset=dataset)
            trainer.train()
            seconds = time.time() - start
            result = metrics.compute("mig", dataset, encoder_representation(trainer.model.encoder),
                                     np.random.RandomState(0))
            results["arms"].setdefault(arm, {})[str(seed)] = {
                "mig": float(result["discrete_mig"]), "train_seconds": seconds, "steps": config["steps"],
                "batch_size": config["batch_size"],
                "images_seen": config["steps"] * config["batch_size"] * (2 if arm == "ada_gvae" else 1)}
            write_json_atomic(path, results, allow_nan=True)
            print(arm, seed, results["arms"][arm][str(seed)], flush=True)
    write_report(results, out)


def _f(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.3f}"


def write_report(results: dict, out: str) -> str:
    from tfdisent.files import write_text_atomic
    from tfdisent.pbt import evidence

    arms = results["arms"]
    lines = ["| arm | n (seeds) | MIG mean | MIG SD (ddof = 1) | images seen per model |", "|---|---|---|---|---|"]
    for arm, entries in arms.items():
        summary = evidence.summarize([e["mig"] for e in entries.values()])
        images = sorted({e["images_seen"] for e in entries.values()})
        lines.append(f"| {arm} | {summary['n']} | {_f(summary['mean'])} | {_f(summary['sd'])} | "
                     f"{', '.join(f'{i:,}' for i in images)} |")
    lines += ["", "Ada-GVAE minus each baseline, seed by seed (mean difference with its 95 % paired t interval, the "
              "interval the README decides by, and a 95 % percentile bootstrap interval; t p: two-sided paired "
              "t-test; sign-flip p: two-sided sign-flip permutation test; min p = its smallest attainable value at "
              "this n):", "",
              "| baseline | n | Ada-GVAE wins | per-seed differences | mean difference [t interval] | "
              "bootstrap interval | t p | sign-flip p | min p |", "|---|---|---|---|---|---|---|---|---|"]
    for arm in arms:
        if arm == "ada_gvae" or "ada_gvae" not in arms:
            continue
        result = evidence.paired_comparison({s: e["mig"] for s, e in arms["ada_gvae"].items()},
                                            {s: e["mig"] for s, e in arms[arm].items()})
        lines.append(f"| {arm} | {result['n']} | {result['wins']} of {result['n']} | "
                     + ", ".join(f"{d:+.3f}" for d in result["differences"])
                     + f" | {_f(result['mean_difference'])} [{_f(result['t_low'])}, {_f(result['t_high'])}] | "
                       f"[{_f(result['low'])}, {_f(result['high'])}] | {_f(result['t_p'])} | {_f(result['p'])} | "
                       f"{_f(result['min_p'])} |")
    path = write_text_atomic(os.path.join(out, "results.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("plan", "run"):
        p = sub.add_parser(verb)
        p.add_argument("--out", default="runs/weak_evidence")
        p.add_argument("--seeds", default="0-4", help="A-B or a comma list; at least 5 seeds for the evidence")
        p.add_argument("--steps", type=int, default=1500, help="Ada-GVAE steps S")
        p.add_argument("--batch_size", type=int, default=64, help="Ada-GVAE pairs per batch B")
        p.add_argument("--beta", type=float, default=1.0)
    report = sub.add_parser("report")
    report.add_argument("--results", required=True)
    args = parser.parse_args()
    if args.verb == "report":
        if not os.path.exists(args.results):
            _fail(f"{args.results}: no such file")
        write_report(json.load(open(args.results)), os.path.dirname(os.path.abspath(args.results)))
        return
    seeds = _seeds(args.seeds)
    if args.steps < 1 or args.batch_size < 2:
        _fail("--steps must be >= 1 and --batch_size >= 2")
    if args.verb == "plan":
        projection = plan(args.steps, args.batch_size, len(seeds))
        for key, value in projection.items():
            print(f"{key}: {value:,.0f}")
        print(f"projected: {projection['total_seconds'] / 3600:.1f} h on the quiet 2-core machine "
              f"({len(seeds)} seeds x {len(ARMS)} arms)")
        return
    run(args)


if __name__ == "__main__":
    sys.exit(main())
