"""CPU-scale reproduction of Estermann et al. (2020), Fig. 1/4 claim for PBT-S-VAE: PBT with MIG
fitness against the same compute spent on independent beta-TCVAE runs with the study's betas.

    python docs/pbt/reproduce.py --out=runs/pbt_evidence --seeds=0,1,2 --population=4 \
        --generations=4 --generation_samples=9600 --num_labels=2000 --eval_num_train=5000

Per seed s:

* PBT-S-VAE: one PBT run (population P, G generations of S samples; fitness = discrete MIG on a fixed
  subset of --num_labels labelled images).
* beta-TCVAE, study betas: one independent beta-TCVAE per study beta (disentanglement_lib: 1, 2, 4,
  6, 8, 10; batch 64, lr 1e-4) sharing the PBT run's training samples equally (same compute).
* Model selection (the paper's baseline, :func:`tfdisent.pbt.baselines.select_by_few_labels`): of
  those six models, the one with the best discrete MIG on 1000 fixed labelled images (drawn from
  seed 10000 + s, not the evaluation draw), scored as the few-label ``mig`` fitness scores members.
* Semi-supervised, 1000 labels (Locatello et al. 2020): one s2_beta_tcvae (beta 6, gamma_sup 4, 1000
  labels, the xent loss) trained as long as one baseline model, i.e. 1/6 of the compute.

Every final model (PBT: the best model across all generations) is scored with MIG and DCI (reduced
sample sizes, --eval_num_train) on held-out draws (seed 1234). Writes OUT/results.json,
OUT/results.md and OUT/mig_dci.png; rerun the same command to continue where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

STUDY_BETAS = (1, 2, 4, 6, 8, 10)


SEMI_SUPERVISED_BETA = 6.0


def _encoder(model_dir: str, dataset):
    from tfdisent.evaluation.representation import load_gaussian_encoder

    return load_gaussian_encoder(model_dir, dataset.observation_shape)


def _representation(model_dir: str, dataset):
    from tfdisent.evaluation.representation import mean_representation

    return mean_representation(_encoder(model_dir, dataset))


def evaluate(model_dir: str, dataset, num_train: int) -> dict:
    """Held-out MIG and DCI (seed 1234) of a model's mean representation."""
    from tfdisent.evaluation import evaluate as evaluation

    results = evaluation.run_metrics(dataset, ["mig", "dci"], seed=1234,
                                     representation_fn=_representation(model_dir, dataset),
                                     overrides={"mig": {"num_train": num_train},
                                                "dci": {"num_train": num_train, "num_test": num_train // 2}},
                                     progress=None)
    return {"mig": results["mig"].get("discrete_mig"), "dci": results["dci"].get("disentanglement"),
            "errors": {k: v["error"] for k, v in results.items() if "error" in v}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="runs/pbt_evidence")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--generation_samples", type=int, default=3200)
    parser.add_argument("--num_labels", type=int, default=2000)
    parser.add_argument("--eval_num_train", type=int, default=5000)
    parser.add_argument("--num_cpus", type=int, default=2)
    parser.add_argument("--skip_baseline", action="store_true")
    parser.add_argument("--skip_semi_supervised", action="store_true")
    args = parser.parse_args()

    from tfdisent.data import load_dataset
    from tfdisent.pbt import records
    from tfdisent.pbt.baselines import FEW_LABELS, select_by_few_labels
    from tfdisent.pbt.runner import PBTSettings, run_pbt
    from tfdisent.training import TrainConfig, Trainer

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    dataset = load_dataset("dsprites")
    seeds = [int(s) for s in args.seeds.split(",")]
    path = os.path.join(out, "results.json")
    results = json.load(open(path)) if os.path.exists(path) else {"settings": vars(args), "pbt": {}, "baseline": {}}

    def save():
        with open(path, "w") as stream:
            json.dump(results, stream, indent=2, default=float)

    for seed in seeds:
        key = str(seed)
        run_dir = os.path.join(out, f"pbt_s{seed}")
        if key not in results["pbt"]:
            start = time.time()
            summary = run_pbt(PBTSettings(fitness="mig", output_dir=run_dir, population=args.population,
                                          generations=args.generations, generation_samples=args.generation_samples,
                                          num_labels=args.num_labels, seed=seed, num_cpus=args.num_cpus))
            rows = records.read_population(os.path.join(run_dir, "population.csv"))
            samples = int(sum(int(float(r["steps"] or 0)) * int(r["batch_size"]) for r in rows))
            scores = evaluate(os.path.join(run_dir, "best"), dataset, args.eval_num_train)
            results["pbt"][key] = {"wall_seconds": time.time() - start, "training_samples": samples,
                                   "fitness": summary["best"]["score"], "best": summary["best"], **scores}
            save()
            print("pbt", seed, results["pbt"][key], flush=True)
        if args.skip_baseline:
            continue
        budget = results["pbt"][key]["training_samples"]
        for beta in STUDY_BETAS:
            name = f"{seed}_beta{beta}"
            if name in results["baseline"]:
                continue
            run = os.path.join(out, f"baseline_s{seed}_beta{beta}")
            steps = max(1, budget // len(STUDY_BETAS) // 64)
            start = time.time()
            trainer = Trainer(TrainConfig(method="beta_tcvae", steps=steps, batch_size=64, learning_rate=1e-4,
                                          seed=seed, hyperparameters={"beta": float(beta)}, image_every=0,
                                          eval_batches=10), run)
            trainer.train()
            scores = evaluate(run, dataset, args.eval_num_train)
            results["baseline"][name] = {"seed": seed, "beta": beta, "steps": steps, "training_samples": steps * 64,
                                         "wall_seconds": time.time() - start, **scores}
            save()
            print("baseline", name, results["baseline"][name], flush=True)
        candidates = {f"{seed}_beta{beta}": os.path.join(out, f"baseline_s{seed}_beta{beta}") for beta in STUDY_BETAS}
        best, few_label_migs = select_by_few_labels(
            {name: _encoder(path, dataset).encode for name, path in candidates.items()}, dataset,
            num_labels=FEW_LABELS, seed=10_000 + seed)
        results.setdefault("selection", {})[key] = {
            **results["baseline"][best], "chosen": best, "few_label_migs": few_label_migs,
            "training_samples": sum(results["baseline"][name]["training_samples"] for name in candidates)}
        save()
        if args.skip_semi_supervised or key in results.setdefault("semi_supervised", {}):
            continue
        run = os.path.join(out, f"s2_s{seed}")
        steps = candidates[0]["steps"]
        start = time.time()
        trainer = Trainer(TrainConfig(method="s2_beta_tcvae", steps=steps, batch_size=64, learning_rate=1e-4,
                                      seed=seed, hyperparameters={"beta": SEMI_SUPERVISED_BETA,
                                                                  "num_labels": FEW_LABELS},
                                      image_every=0, eval_batches=10), run)
        trainer.train()
        results["semi_supervised"][key] = {"seed": seed, "steps": steps, "training_samples": steps * 64,
                                           "wall_seconds": time.time() - start, **evaluate(run, dataset,
                                                                                          args.eval_num_train)}
        save()
        print("semi-supervised", key, results["semi_supervised"][key], flush=True)
    write_report(results, out)


def write_report(results: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {"PBT-S-VAE (MIG)": list(results["pbt"].values()),
              "beta-TCVAE, study betas (all six)": list(results["baseline"].values()),
              "model selection: best of the six by MIG on 1000 labels": list(results.get("selection", {}).values()),
              "semi-supervised s2_beta_tcvae, 1000 labels": list(results.get("semi_supervised", {}).values())}
    short = ["PBT-S-VAE", "beta-TCVAE", "selection", "s2 (1000)"]
    lines = ["| method | models | MIG mean | MIG std | DCI mean | DCI std | training samples per model |",
             "|---|---|---|---|---|---|---|"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, (name, entries) in enumerate(groups.items()):
        mig = np.array([e["mig"] for e in entries if e.get("mig") is not None], float)
        dci = np.array([e["dci"] for e in entries if e.get("dci") is not None], float)
        samples = np.array([e["training_samples"] for e in entries], float)
        if not len(mig):
            continue
        lines.append(f"| {name} | {len(mig)} | {mig.mean():.3f} | {mig.std():.3f} | {dci.mean():.3f} | {dci.std():.3f} "
                     f"| {samples.mean():.0f} |")
        for axis, values in zip(axes, (mig, dci)):
            axis.scatter(np.full(len(values), index) + np.random.RandomState(0).uniform(-0.1, 0.1, len(values)), values)
            axis.errorbar([index + 0.25], [values.mean()], [values.std()], fmt="o", color="black")
    for axis, title in zip(axes, ("MIG", "DCI disentanglement")):
        axis.set_xticks(range(len(short)))
        axis.set_xticklabels(short)
        axis.set_title(title)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "mig_dci.png"), dpi=90)
    per_beta = ["", "| beta | seeds | MIG | DCI |", "|---|---|---|---|"]
    for beta in STUDY_BETAS:
        entries = [e for e in results["baseline"].values() if e["beta"] == beta]
        if entries:
            per_beta.append(f"| {beta} | {len(entries)} | {np.mean([e['mig'] for e in entries]):.3f} | "
                            f"{np.mean([e['dci'] for e in entries]):.3f} |")
    per_seed = ["", "| seed | PBT-S-VAE MIG / DCI | beta-TCVAE mean MIG / DCI (best beta by MIG) | selection: chosen beta, "
                "MIG / DCI | s2 MIG / DCI |", "|---|---|---|---|---|"]
    for key in sorted(results["pbt"], key=int):
        pbt, semi = results["pbt"][key], results.get("semi_supervised", {}).get(key)
        own = [e for e in results["baseline"].values() if str(e["seed"]) == key]
        chosen = results.get("selection", {}).get(key)
        if not own:
            continue
        best = max(own, key=lambda e: e["mig"])
        per_seed.append(
            f"| {key} | {pbt['mig']:.3f} / {pbt['dci']:.3f} | {np.mean([e['mig'] for e in own]):.3f} / "
            f"{np.mean([e['dci'] for e in own]):.3f} (beta {best['beta']}: {best['mig']:.3f}) | "
            + (f"beta {chosen['beta']}, {chosen['mig']:.3f} / {chosen['dci']:.3f} | " if chosen else "| ")
            + (f"{semi['mig']:.3f} / {semi['dci']:.3f} |" if semi else "|"))
    with open(os.path.join(out, "results.md"), "w") as stream:
        stream.write("\n".join(lines + per_seed + per_beta) + "\n")
    print("\n".join(lines + per_seed + per_beta))


if __name__ == "__main__":
    sys.exit(main())
