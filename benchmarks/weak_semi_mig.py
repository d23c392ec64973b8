r"""Measured comparison (not a test): weak / few-label supervision vs unsupervised, MIG on dSprites.

    python benchmarks/weak_semi_mig.py --suite=weak --steps=1500 --seeds=0,1
    python benchmarks/weak_semi_mig.py --suite=semi --steps=1500 --seeds=0,1

Every configuration trains with the same steps, batch size (64; a weak batch holds 64 *pairs*),
architecture and seeds, then its encoder means are scored with MIG (disentanglement_lib's study
settings: 10000 points, 20 bins) on the same samples (RandomState(0)). Prints a markdown table
(mean and per-seed values) and writes the raw numbers to --output (json).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SUITES = {
    "weak": [
        ("ada_gvae k=1 beta=1", "ada_gvae", {"beta": 1.0, "k": 1}),
        ("beta_vae beta=1", "beta_vae", {"beta": 1.0}),
        ("beta_vae beta=4", "beta_vae", {"beta": 4.0}),
    ],
    "semi": [
        ("s2_vae beta=4, 1000 perfect labels, xent", "s2_vae",
         {"beta": 4.0, "num_labels": 1000, "labeller": "perfect", "supervised_loss": "xent"}),
        ("s2_vae beta=4, 1000 perfect labels, xent, gamma_sup=16", "s2_vae",
         {"beta": 4.0, "num_labels": 1000, "labeller": "perfect", "supervised_loss": "xent", "gamma_sup": 16.0}),
    ],
    # The unsupervised baseline of "semi" is the identical beta_vae beta=4 configuration of "weak"
    # (same steps, batch, seeds): run it once, not twice, on this shared machine.
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="weak")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--output", default=None, help="json file for the raw numbers")
    parser.add_argument("--only", default=None, help="run only the configurations whose label contains this")
    args = parser.parse_args()

    from tfdisent import metrics
    from tfdisent.data import load_dataset
    from tfdisent.evaluation.progress import encoder_representation
    from tfdisent.training import TrainConfig, Trainer

    dataset = load_dataset("dsprites")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for label, method, hyperparameters in SUITES[args.suite]:
        if args.only and args.only not in label:
            continue
        scores, seconds = [], []
        for seed in seeds:
            run_dir = tempfile.mkdtemp(prefix=f"{method}_s{seed}_")
            config = TrainConfig(method=method, steps=args.steps, seed=seed, hyperparameters=dict(hyperparameters),
                                 log_every=100, image_every=0, checkpoint_every=args.steps, export=False)
            start = time.time()
            trainer = Trainer(config, run_dir, dataset=dataset)
            trainer.train()
            seconds.append(time.time() - start)
            result = metrics.compute("mig", dataset, encoder_representation(trainer.model.encoder),
                                     np.random.RandomState(0))
            scores.append(float(result["discrete_mig"]))
            print(f"{label} seed {seed}: MIG {scores[-1]:.4f} ({seconds[-1]:.0f} s)", flush=True)
        rows.append({"config": label, "method": method, "hyperparameters": hyperparameters, "seeds": seeds,
                     "mig": scores, "train_seconds": seconds})

    print(f"\n{args.suite}: dSprites (procedural), {args.steps} steps, batch 64, dlib_conv, d=10, seeds {seeds}\n")
    print("| configuration | MIG mean | MIG per seed | train s per run |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {np.mean(row['mig']):.4f} | {', '.join(f'{m:.4f}' for m in row['mig'])} "
              f"| {np.mean(row['train_seconds']):.0f} |")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"suite": args.suite, "steps": args.steps, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
