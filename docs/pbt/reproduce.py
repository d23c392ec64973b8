"""CPU-scale evidence for Estermann et al. (2020)'s claim for PBT-S-VAE (Fig. 1/4, Table 1): a higher mean
MIG with a lower variance than its baselines at the same compute. Every arm of one seed spends the same
number of training samples, B = population x generations x generation_samples, and every arm that uses
labels uses the same ``--num_labels`` labelled images (drawn from the seed, exactly as PBT's ``mig``
fitness draws them):

* ``pbt``: PBT-S-VAE (:func:`tfdisent.pbt.runner.run_pbt`, fitness = discrete MIG on the labelled images;
  learning rate, batch size and beta searched); the best model across all generations is scored.
* ``random_search``: PBT's *same initial draws* (``PBTSettings.initial_population``, same member seeds),
  each trained for generations x generation_samples samples with exploit/explore off; the member with the
  best MIG on the same labelled images is scored. The ablation that attributes a gain to exploit/explore.
  (PBT may pick a member from an earlier generation; random search scores only each member's end.)
* ``fixed``: one beta-TCVAE with fixed hyperparameters (beta ``--fixed_beta``, Adam ``--fixed_learning_rate``)
  at the batch size PBT tends to choose (``--fixed_batch_size``; ``auto`` = the median batch size of this
  seed's PBT members in their last generation), trained on all B samples; no labels.
* ``selection``: few-label model selection (Locatello et al. 2019, Sec. 5.4): one beta-TCVAE per
  disentanglement_lib beta (1, 2, 4, 6, 8, 10; batch 64, Adam 1e-4) sharing B equally; the one with the best
  MIG on the same labelled images (:func:`tfdisent.pbt.baselines.select_by_few_labels`) is scored.
* ``semi_supervised`` (only with ``--arms=...,semi_supervised``): s2_beta_tcvae (beta 6) on the same labels,
  trained on all B samples.

Every scored model: MIG and DCI of the mean representation on held-out draws (seed 1234; MIG with
``--eval_num_train`` points, DCI with that many / half as many).

    python docs/pbt/reproduce.py plan --seeds=0,1,2,3,4                  # projected wall time, nothing run
    python docs/pbt/reproduce.py run --out=runs/pbt_evidence_v2 --seeds=0,1,2,3,4
    python docs/pbt/reproduce.py report --results=runs/pbt_evidence_v2/results.json

``run`` is resumable: OUT/results.json records every finished (arm, seed) as soon as it ends, and a rerun
skips them, so a later session adds seeds with ``run --seeds=5,6`` on the same --out (the settings must be
the same; a mismatch is a one-line error). A model interrupted half-way is retrained. ``report`` computes
the statistics (:mod:`tfdisent.pbt.evidence`: per-seed differences, paired t and bootstrap intervals, t-test
and sign-flip permutation test of the mean difference, Brown-Forsythe test of the spread) and writes results.md and
mig_dci.png next to the JSON; it also reads the first evidence run's format (docs/pbt/evidence/results.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List

import numpy as np

STUDY_BETAS = (1, 2, 4, 6, 8, 10)
SEMI_SUPERVISED_BETA = 6.0
ARMS = ("pbt", "random_search", "fixed", "selection", "semi_supervised")
DEFAULT_ARMS = "pbt,random_search,fixed,selection"
LABELS = {"pbt": "PBT-S-VAE", "random_search": "random search (PBT's draws, no exploit/explore)",
          "fixed": "beta-TCVAE, fixed hyperparameters, PBT's batch size",
          "selection": "few-label model selection (six study betas)",
          "semi_supervised": "semi-supervised s2_beta_tcvae", "study_betas": "beta-TCVAE, study betas (mean of six)"}
SHORT = {"pbt": "PBT", "random_search": "random search", "fixed": "fixed", "selection": "selection",
         "semi_supervised": "s2", "study_betas": "study betas"}
# Settings that define an evidence run: a resumed run must use the same values.
RUN_KEYS = ("population", "generations", "generation_samples", "num_labels", "eval_num_train", "fixed_beta",
            "fixed_learning_rate", "fixed_batch_size")

# Cost model for `plan`: seconds per training sample of each arm, wall time of training, export and scoring
# included (medians over seeds 0-4 of the issue-19 run on the 2-core AMD EPYC, docs/pbt/README.md section 1;
# short test runs shared the machine during seeds 0-2, so these are upper bounds):
PBT_SECONDS_PER_SAMPLE = 206 / 153_600            # PBT arm: Ray start, 4 x 4 member-generations, best export, scoring
RANDOM_SEARCH_SECONDS_PER_SAMPLE = 175 / 153_600  # depends on the draws' batch sizes (99-285 s over seeds 0-4)
FIXED_SECONDS_PER_SAMPLE = 201 / 153_600          # one beta-TCVAE at batch 16
BATCH64_SECONDS_PER_SAMPLE = 152 / 153_600        # the six batch-64 beta-TCVAEs of `selection`, their scoring included


def _encoder(model_dir: str, dataset):
    from tfdisent.evaluation.representation import load_gaussian_encoder

    return load_gaussian_encoder(model_dir, dataset.observation_shape)


def evaluate(model_dir: str, dataset, num_train: int) -> dict:
    """Held-out MIG and DCI (seed 1234) of a model's mean representation."""
    from tfdisent.evaluation import evaluate as evaluation
    from tfdisent.evaluation.representation import mean_representation

    results = evaluation.run_metrics(dataset, ["mig", "dci"], seed=1234,
                                     representation_fn=mean_representation(_encoder(model_dir, dataset)),
                                     overrides={"mig": {"num_train": num_train},
                                                "dci": {"num_train": num_train, "num_test": num_train // 2}},
                                     progress=None)
    return {"mig": results["mig"].get("discrete_mig"), "dci": results["dci"].get("disentanglement"),
            "errors": {k: v["error"] for k, v in results.items() if "error" in v}}


def budget(args) -> int:
    """B: training samples every arm of one seed spends."""
    return int(args.population) * int(args.generations) * int(args.generation_samples)


def plan(args) -> Dict[str, float]:
    """Projected seconds per arm and seed on this machine (the constants above) and the total."""
    b = budget(args)
    per_arm = {"pbt": PBT_SECONDS_PER_SAMPLE * b, "random_search": RANDOM_SEARCH_SECONDS_PER_SAMPLE * b,
               "fixed": FIXED_SECONDS_PER_SAMPLE * b, "selection": BATCH64_SECONDS_PER_SAMPLE * b,
               "semi_supervised": BATCH64_SECONDS_PER_SAMPLE * b}   # (not measured: one batch-64 model on all of B)
    arms = [a for a in args.arms.split(",") if a]
    seeds = _seeds(args.seeds)
    per_seed = sum(per_arm[a] for a in arms)
    return {"budget_samples": b, **{f"{a}_seconds": per_arm[a] for a in arms}, "seconds_per_seed": per_seed,
            "seeds": len(seeds), "total_seconds": per_seed * len(seeds)}


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


def _train(run_dir: str, **config) -> dict:
    """Trains one model (a finished run directory is reused); ``{"diverged": reason}`` if the loss became
    non-finite (the member then scores 0, as a diverged PBT member's fitness does)."""
    from tfdisent.training import TrainConfig, Trainer
    from tfdisent.training.trainer import NonFiniteLossError

    try:
        Trainer(TrainConfig(image_every=0, eval_batches=10, **config), run_dir).train()
    except NonFiniteLossError as error:
        return {"diverged": str(error).splitlines()[0]}
    return {}


def _last_generation_batch(run_dir: str) -> int:
    from tfdisent.pbt import records

    rows = records.read_population(os.path.join(run_dir, "population.csv"))
    last = max(int(r["generation"]) for r in rows)
    return int(np.median([int(float(r["batch_size"])) for r in rows if int(r["generation"]) == last]))


def run(args) -> None:
    from tfdisent.data import load_dataset
    from tfdisent.files import write_json_atomic
    from tfdisent.pbt import explore as explore_lib
    from tfdisent.pbt import records
    from tfdisent.pbt.baselines import select_by_few_labels
    from tfdisent.pbt.runner import PBTSettings, run_pbt

    arms = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        _fail(f"unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    if "fixed" in arms and args.fixed_batch_size == "auto" and "pbt" not in arms:
        _fail("--fixed_batch_size=auto reads the PBT run of each seed: add the pbt arm or give a number")
    out = os.path.abspath(args.out)
    path = os.path.join(out, "results.json")
    settings = {k: getattr(args, k) for k in RUN_KEYS}
    results = json.load(open(path)) if os.path.exists(path) else {"settings": settings, "arms": {}}
    if "arms" not in results:
        _fail(f"{path} is the first evidence run's format: give a new --out")
    changed = [k for k in RUN_KEYS if results["settings"].get(k) != settings[k]]
    if changed:
        previous = ", ".join(f"{k}={results['settings'].get(k)}" for k in changed)
        _fail(f"{path} was run with other settings ({previous}); resume with the same values or give a new --out")
    os.makedirs(out, exist_ok=True)
    dataset = load_dataset("dsprites")
    b = budget(args)

    def save():
        write_json_atomic(path, results, allow_nan=True)

    def record(arm: str, seed: int, entry: dict) -> None:
        results["arms"].setdefault(arm, {})[str(seed)] = entry
        save()
        print(arm, seed, {k: v for k, v in entry.items() if k in ("mig", "dci", "chosen", "training_samples")},
              flush=True)

    def pbt_settings(seed: int, run_dir: str) -> "PBTSettings":
        return PBTSettings(fitness="mig", output_dir=run_dir, population=args.population,
                           generations=args.generations, generation_samples=args.generation_samples,
                           num_labels=args.num_labels, seed=seed, num_cpus=args.num_cpus)

    for seed in _seeds(args.seeds):
        done = lambda arm: str(seed) in results["arms"].get(arm, {})  # noqa: E731
        if "pbt" in arms and not done("pbt"):
            run_dir = os.path.join(out, f"pbt_s{seed}")
            start = time.time()
            summary = run_pbt(pbt_settings(seed, run_dir))
            rows = records.read_population(os.path.join(run_dir, "population.csv"))
            samples = int(sum(int(float(r["steps"] or 0)) * int(r["batch_size"]) for r in rows))
            record("pbt", seed, {"wall_seconds": time.time() - start, "training_samples": samples,
                                 "fitness": summary["best"]["score"], "best": summary["best"],
                                 "last_generation_median_batch": _last_generation_batch(run_dir),
                                 **evaluate(os.path.join(run_dir, "best"), dataset, args.eval_num_train)})
        if "random_search" in arms and not done("random_search"):
            start, members = time.time(), {}
            draws = pbt_settings(seed, os.path.join(out, f"pbt_s{seed}")).initial_population()
            per_member = args.generations * args.generation_samples
            for member, draw in enumerate(draws):
                run_dir = os.path.join(out, f"random_s{seed}_m{member}")
                steps = max(1, per_member // int(draw["batch_size"]))
                outcome = _train(run_dir, method="beta_tcvae", steps=steps, batch_size=int(draw["batch_size"]),
                                 learning_rate=float(draw["learning_rate"]),
                                 seed=explore_lib.member_seed(seed, member, 0),
                                 hyperparameters={"beta": float(draw["beta"])})
                members[str(member)] = {**draw, "steps": steps, "training_samples": steps * int(draw["batch_size"]),
                                        "run_dir": run_dir, **outcome}
            candidates = {m: e["run_dir"] for m, e in members.items() if "diverged" not in e}
            if candidates:
                chosen, fitness = select_by_few_labels({m: _encoder(p, dataset).encode for m, p in candidates.items()},
                                                       dataset, num_labels=args.num_labels, seed=seed)
                scores = evaluate(candidates[chosen], dataset, args.eval_num_train)
            else:
                chosen, fitness, scores = None, {}, {"mig": 0.0, "dci": 0.0, "errors": {"all": "every member diverged"}}
            record("random_search", seed, {"wall_seconds": time.time() - start, "members": members, "chosen": chosen,
                                           "fitness": fitness, "training_samples": sum(
                                               e["training_samples"] for e in members.values()), **scores})
        if "fixed" in arms and not done("fixed"):
            batch = (results["arms"]["pbt"][str(seed)]["last_generation_median_batch"]
                     if args.fixed_batch_size == "auto" else int(args.fixed_batch_size))
            run_dir = os.path.join(out, f"fixed_s{seed}")
            steps = max(1, b // batch)
            start = time.time()
            outcome = _train(run_dir, method="beta_tcvae", steps=steps, batch_size=batch,
                             learning_rate=args.fixed_learning_rate, seed=seed,
                             hyperparameters={"beta": args.fixed_beta})
            scores = (evaluate(run_dir, dataset, args.eval_num_train) if not outcome
                      else {"mig": 0.0, "dci": 0.0, "errors": outcome})
            record("fixed", seed, {"wall_seconds": time.time() - start, "batch_size": batch, "steps": steps,
                                   "training_samples": steps * batch, "beta": args.fixed_beta, **outcome, **scores})
        if "selection" in arms and not done("selection"):
            start, candidates, models = time.time(), {}, {}
            steps = max(1, b // len(STUDY_BETAS) // 64)
            for beta in STUDY_BETAS:
                run_dir = os.path.join(out, f"selection_s{seed}_beta{beta}")
                outcome = _train(run_dir, method="beta_tcvae", steps=steps, batch_size=64, learning_rate=1e-4,
                                 seed=seed, hyperparameters={"beta": float(beta)})
                models[str(beta)] = {"steps": steps, **outcome}
                if not outcome:
                    candidates[str(beta)] = run_dir
            chosen, fitness = select_by_few_labels({k: _encoder(p, dataset).encode for k, p in candidates.items()},
                                                   dataset, num_labels=args.num_labels, seed=seed)
            record("selection", seed, {"wall_seconds": time.time() - start, "chosen": f"beta {chosen}",
                                       "fitness": fitness, "models": models,
                                       "training_samples": steps * 64 * len(STUDY_BETAS),
                                       **evaluate(candidates[chosen], dataset, args.eval_num_train)})
        if "semi_supervised" in arms and not done("semi_supervised"):
            run_dir = os.path.join(out, f"s2_s{seed}")
            steps = max(1, b // 64)
            start = time.time()
            outcome = _train(run_dir, method="s2_beta_tcvae", steps=steps, batch_size=64, learning_rate=1e-4, seed=seed,
                             hyperparameters={"beta": SEMI_SUPERVISED_BETA, "num_labels": args.num_labels})
            scores = (evaluate(run_dir, dataset, args.eval_num_train) if not outcome
                      else {"mig": 0.0, "dci": 0.0, "errors": outcome})
            record("semi_supervised", seed, {"wall_seconds": time.time() - start, "steps": steps,
                                             "training_samples": steps * 64, **outcome, **scores})
    write_report(results, out)


def arms_of(results: dict) -> Dict[str, Dict[str, dict]]:
    """``{arm: {seed: entry}}`` of either format. The first evidence run (keys pbt / baseline / selection /
    semi_supervised) becomes pbt, selection, semi_supervised and study_betas (the per-seed mean of its six
    beta-TCVAEs)."""
    if "arms" in results:
        return results["arms"]
    arms = {name: dict(results.get(name, {})) for name in ("pbt", "selection", "semi_supervised")}
    study: Dict[str, List[dict]] = {}
    for entry in results.get("baseline", {}).values():
        study.setdefault(str(entry["seed"]), []).append(entry)
    arms["study_betas"] = {seed: {"mig": float(np.mean([e["mig"] for e in entries])),
                                  "dci": float(np.mean([e["dci"] for e in entries])),
                                  "training_samples": sum(e["training_samples"] for e in entries)}
                           for seed, entries in study.items()}
    return {k: v for k, v in arms.items() if v}


def statistics(results: dict, reference: str = "pbt", n_resamples: int = 9999) -> dict:
    """Per arm: n, mean, sample SD; per other arm and score: the paired comparison with ``reference`` and the
    Brown-Forsythe test of the spread (:mod:`tfdisent.pbt.evidence`)."""
    from tfdisent.pbt import evidence

    arms = arms_of(results)
    out = {"summary": {}, "comparisons": {}}
    for arm, entries in arms.items():
        out["summary"][arm] = {score: evidence.summarize([e.get(score) for e in entries.values()])
                               for score in ("mig", "dci")}
        out["summary"][arm]["training_samples"] = float(np.mean([e["training_samples"] for e in entries.values()]))
    if reference in arms:
        for arm in arms:
            if arm == reference:
                continue
            out["comparisons"][arm] = {}
            for score in ("mig", "dci"):
                a = {s: e.get(score) for s, e in arms[reference].items()}
                b = {s: e.get(score) for s, e in arms[arm].items()}
                out["comparisons"][arm][score] = {
                    "mean": evidence.paired_comparison(a, b, n_resamples=n_resamples),
                    "spread": evidence.variance_comparison(list(a.values()), list(b.values()))}
    return out


def _f(value: float, digits: int = 3) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def write_report(results: dict, out: str) -> str:
    import matplotlib

    from tfdisent.files import write_json_atomic, write_text_atomic

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = arms_of(results)
    stats = statistics(results)
    lines = ["Arms (n = seeds; SD = sample standard deviation, ddof = 1):", "",
             "| arm | n | MIG mean | MIG SD | DCI mean | DCI SD | training samples per seed |",
             "|---|---|---|---|---|---|---|"]
    for arm, summary in stats["summary"].items():
        lines.append(f"| {LABELS.get(arm, arm)} | {summary['mig']['n']} | {_f(summary['mig']['mean'])} | "
                     f"{_f(summary['mig']['sd'])} | {_f(summary['dci']['mean'])} | {_f(summary['dci']['sd'])} | "
                     f"{summary['training_samples']:,.0f} |")
    lines += ["", "PBT minus each arm, seed by seed (mean difference with its 95 % paired t interval, the interval "
              "the README decides by, and a 95 % percentile bootstrap interval over seeds; t p: two-sided paired "
              "t-test; sign-flip p: two-sided sign-flip permutation test, exact for few seeds, smallest attainable "
              "= min p; spread: Brown-Forsythe test that PBT and the arm have the same spread):", "",
              "| arm | score | n | PBT wins | per-seed differences | mean difference [t interval] | bootstrap interval | "
              "t p | sign-flip p | min p | SD PBT / arm | Brown-Forsythe p |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for arm, scores in stats["comparisons"].items():
        for score, result in scores.items():
            mean, spread = result["mean"], result["spread"]
            lines.append(
                f"| {SHORT.get(arm, arm)} | {score.upper()} | {mean['n']} | {mean['wins']} of {mean['n']} | "
                + ", ".join(f"{d:+.3f}" for d in mean["differences"]) + " | "
                f"{_f(mean['mean_difference'])} [{_f(mean['t_low'])}, {_f(mean['t_high'])}] | "
                f"[{_f(mean['low'])}, {_f(mean['high'])}] | {_f(mean['t_p'])} | {_f(mean['p'])} | "
                f"{_f(mean['min_p'])} | {_f(spread['sd_a'])} / {_f(spread['sd_b'])} | {_f(spread['p'])} |")
    seeds = sorted({s for entries in arms.values() for s in entries}, key=int)
    lines += ["", "Per seed (MIG / DCI):", "", "| seed | " + " | ".join(SHORT.get(a, a) for a in arms) + " |",
              "|---|" + "---|" * len(arms)]
    for seed in seeds:
        cells = []
        for arm in arms:
            entry = arms[arm].get(seed)
            cells.append(f"{_f(entry.get('mig'))} / {_f(entry.get('dci'))}" if entry else "")
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    names = list(arms)
    for axis, score, title in zip(axes, ("mig", "dci"), ("MIG", "DCI disentanglement")):
        for seed in seeds:
            values = [arms[a].get(seed, {}).get(score, np.nan) for a in names]
            axis.plot(range(len(names)), [np.nan if v is None else v for v in values], "o-", alpha=0.7,
                      label=f"seed {seed}")
        axis.set_xticks(range(len(names)), [f"{SHORT.get(a, a)}\n(n={len(arms[a])})" for a in names], fontsize=9)
        axis.set_ylabel(f"{title} (held-out, unitless 0 to 1)", fontsize=10)
        axis.tick_params(axis="y", labelsize=9)
        axis.set_title(f"{title} per seed; lines join one seed's arms", fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=9)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "mig_dci.png"), dpi=110)
    plt.close(figure)
    write_json_atomic(os.path.join(out, "statistics.json"), stats, allow_nan=True)
    path = write_text_atomic(os.path.join(out, "results.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("plan", "run"):
        p = sub.add_parser(verb)
        p.add_argument("--out", default="runs/pbt_evidence_v2")
        p.add_argument("--seeds", default="0,1,2,3,4")
        p.add_argument("--arms", default=DEFAULT_ARMS, help=f"comma-separated subset of {', '.join(ARMS)}")
        p.add_argument("--population", type=int, default=4)
        p.add_argument("--generations", type=int, default=4)
        p.add_argument("--generation_samples", type=int, default=9600)
        p.add_argument("--num_labels", type=int, default=1000, help="labelled images for every arm that uses labels")
        p.add_argument("--eval_num_train", type=int, default=5000)
        p.add_argument("--fixed_beta", type=float, default=6.0)
        p.add_argument("--fixed_learning_rate", type=float, default=1e-4)
        p.add_argument("--fixed_batch_size", default="16",
                       help="an integer, or auto (median batch of this seed's last PBT generation); 16: the batch "
                            "PBT's members reached in the first evidence run (13-20)")
        p.add_argument("--num_cpus", type=int, default=2)
    report = sub.add_parser("report")
    report.add_argument("--results", required=True, help="a results.json of run (either format)")
    args = parser.parse_args()
    if args.verb == "report":
        if not os.path.exists(args.results):
            _fail(f"{args.results}: no such file")
        write_report(json.load(open(args.results)), os.path.dirname(os.path.abspath(args.results)))
        return
    if args.fixed_batch_size != "auto" and not args.fixed_batch_size.isdigit():
        _fail(f"--fixed_batch_size must be an integer or auto, got {args.fixed_batch_size!r}")
    if args.verb == "plan":
        projection = plan(args)
        for key, value in projection.items():
            print(f"{key}: {value:,.0f}" if isinstance(value, float) else f"{key}: {value}")
        print(f"projected: {projection['total_seconds'] / 3600:.1f} h on the 2-core machine for "
              f"{projection['seeds']} seed(s) (constants measured in the issue-19 run on an AMD EPYC; "
              "docs/pbt/README.md section 1)")
        return
    run(args)


if __name__ == "__main__":
    sys.exit(main())
