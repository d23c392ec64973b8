"""Overhead per PBT member-generation: the Tune-based runner (members restarted every generation)
against the driver over long-lived actors, side by side in one run (issue 18).

overhead per member-generation = (wall time of the run x concurrent members - sum of every row's
``wall_seconds`` (training + fitness + checkpoint)) / (members x generations)

The old runner is run from another checkout (``--old_checkout``, e.g. ``git worktree add
/tmp/pbt_old 84cd9d0``); both runs are subprocesses of this script with the same settings.

    python benchmarks/pbt_overhead.py --old_checkout=/tmp/pbt_old

Second part: a PBT-U-VAE member's K = 5 models trained fused (LockstepTrainers) against one after
another, the same steps, before and after a batch-size change (``--udr_steps``; ``--skip_runs``
runs only this part).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

SCRIPT = """
import sys
from tfdisent.pbt.runner import PBTSettings, run_pbt
run_pbt(PBTSettings(fitness="mig", output_dir=sys.argv[1], population=int(sys.argv[2]), generations=int(sys.argv[3]),
                    generation_samples=int(sys.argv[4]), num_labels=500, latent_dim=4, log_every=8, num_cpus=2,
                    cpus_per_member=1), progress=None)
"""


def run(checkout: str, out: str, args) -> float:
    env = {**os.environ, "PYTHONPATH": checkout}
    start = time.time()
    subprocess.run([sys.executable, "-c", SCRIPT, out, str(args.population), str(args.generations),
                    str(args.generation_samples)], check=True, env=env, cwd=checkout,
                   stdout=subprocess.DEVNULL)
    return time.time() - start


def overhead(out: str, wall: float, slots: int) -> tuple:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tfdisent.pbt import records

    rows = records.read_population(os.path.join(out, records.POPULATION_FILE))
    work = sum(float(r["wall_seconds"]) for r in rows)
    return (wall * slots - work) / len(rows), work / len(rows), len(rows)


def udr(args, cpu: str) -> None:
    """Seconds for ``udr_steps`` steps of a 5-model member, fused vs sequential, batch 64 then 128
    (the first interval of each batch size, which traces, is run before timing)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tfdisent.pbt import member

    settings = {"fitness": "udr", "method": "beta_tcvae", "dataset": "dsprites", "seed": 0, "generation_samples": 64,
                "models_per_member": 5, "latent_dim": 10, "log_every": 16, "backend": "trainer"}
    hyperparameters = {"learning_rate": 1e-4, "batch_size": 64, "beta": 4.0}
    root = tempfile.mkdtemp(prefix="pbt_udr_")
    members = {"fused": member.TrainerMember(settings, 0, os.path.join(root, "f"), hyperparameters),
               "sequential": member.TrainerMember(settings, 0, os.path.join(root, "s"), hyperparameters, fused=False)}
    for batch_size in (64, 128):
        seconds = {}
        for name, backend in members.items():
            backend.set_hyperparameters({**hyperparameters, "batch_size": batch_size})
            backend.train_generation(16)                  # warm-up: traces for this batch shape
            start = time.perf_counter()
            backend.train_generation(args.udr_steps)
            seconds[name] = time.perf_counter() - start
        print(f"PBT-U-VAE member (5 x beta-TCVAE, dSprites, batch {batch_size}, {args.udr_steps} steps, {cpu}): "
              f"sequential {seconds['sequential']:.2f} s, fused {seconds['fused']:.2f} s, "
              f"speed-up {seconds['sequential'] / seconds['fused']:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old_checkout", required=True, help="a checkout with the Tune-based runner")
    parser.add_argument("--population", type=int, default=2)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--generation_samples", type=int, default=2048)
    parser.add_argument("--more_generations", type=int, default=0,
                        help="also run this many generations; prints the marginal overhead per member-generation")
    parser.add_argument("--udr_steps", type=int, default=64)
    parser.add_argument("--skip_runs", action="store_true", help="only the fused-vs-sequential part")
    args = parser.parse_args()
    new_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True)
                .stdout.splitlines() if line.startswith("Model name")), "unknown CPU")
    slots = min(2, args.population)
    if args.udr_steps:
        udr(args, cpu)
    if args.skip_runs:
        return
    results = {}
    for label, checkout in (("tune runner (restart per generation)", args.old_checkout),
                            ("long-lived actors", new_checkout)):
        out = tempfile.mkdtemp(prefix="pbt_overhead_")
        wall = run(checkout, out, args)
        results[label] = overhead(out, wall, slots) + (wall,)
    print(f"CPU: {cpu}; {os.cpu_count()} cores; P={args.population}, {args.generations} generations of "
          f"{args.generation_samples} samples, {slots} members at a time (beta-TCVAE, dSprites, latent 4)")
    for label, (extra, work, rows, wall) in results.items():
        print(f"{label:40s} wall {wall:7.1f} s  work/member-generation {work:6.2f} s  "
              f"overhead/member-generation {extra:6.2f} s  ({rows} member-generations)")
    old, new = results.values()
    print(f"overhead ratio old/new: {old[0] / max(new[0], 1e-9):.1f}x (includes the one-time Ray start, member "
          "build and final export)")
    if args.more_generations:
        # The marginal cost of a generation boundary: the same run with more generations; the
        # one-time costs cancel in the difference.
        longer = argparse.Namespace(**{**vars(args), "generations": args.more_generations})
        for label, checkout in (("tune runner (restart per generation)", args.old_checkout),
                                ("long-lived actors", new_checkout)):
            out = tempfile.mkdtemp(prefix="pbt_overhead_")
            wall = run(checkout, out, longer)
            extra, work, rows = overhead(out, wall, slots)
            base_extra, _, base_rows, base_wall = results[label]
            marginal = (extra * rows - base_extra * base_rows) / (rows - base_rows)
            print(f"{label:40s} {args.more_generations} generations: wall {wall:7.1f} s; marginal overhead per "
                  f"member-generation {marginal:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
