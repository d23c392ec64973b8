"""Training throughput as users run it: the Trainer's real loop, measured side by side in one run.

Each row times ``Trainer.train_steps`` (its tf.data pipeline, ``--log_every`` steps per compiled
call, the model's running-mean trackers, TensorBoard scalars) against the loop of the previous
release on the same model and the same batches (one compiled call summing each step's raw terms,
no trackers: ``previous``), with XLA off and, optionally, on. Rounds are interleaved so machine load
hits all variants alike; the medians are printed with the ratios.

    python benchmarks/train_throughput.py                                   # beta_tcvae, vae
    python benchmarks/train_throughput.py --methods=factor_vae --xla --rounds=5
    python benchmarks/train_throughput.py --lockstep=5                      # K models on the same batches
    python benchmarks/train_throughput.py --precisions=float32,mixed_bfloat16 --no_previous --methods=all

``--precisions`` adds the precision axis (``TrainConfig.precision``): the Trainer's loop under each
policy, same batches, rounds interleaved, with the ratio to float32. The CPU (``lscpu``'s model name and
its bfloat16 flags) and the load average before and after are printed: others may share the machine, so
the ratios, measured side by side, are the claim; the absolute numbers depend on the load.

``--lockstep=K`` compares K beta-TCVAEs trained on the same batches (PBT-U-VAE's members) three
ways, in images per second per model: K separate trainers run one after the other, K trainers
advanced alternately interval by interval (each with its own copy of the stream), and
``LockstepTrainers`` (one compiled call steps all K on one shared batch).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdisent.data import load_dataset  # noqa: E402
from tfdisent.methods import method_names  # noqa: E402
from tfdisent.training import LockstepTrainers, TrainConfig, Trainer  # noqa: E402
from tfdisent.training.precision import cpu_flags, native_bfloat16_flags, read_cpuinfo  # noqa: E402


def _config(method: str, batch_size: int, log_every: int, jit: bool, seed: int = 0, data_seed=None,
            precision: str = "float32") -> TrainConfig:
    return TrainConfig(method=method, batch_size=batch_size, log_every=log_every, steps=10 ** 9, image_every=0,
                       checkpoint_every=10 ** 9, checkpoint_secs=1e9, eval_batches=0, export=False,
                       jit_compile="true" if jit else "false", seed=seed, data_seed=data_seed,
                       precision=precision)


def cpu_description() -> str:
    """The CPU's model name, core count and native-bfloat16 flags (from /proc/cpuinfo)."""
    text = read_cpuinfo()
    names = [line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("model name")]
    bf16 = native_bfloat16_flags(cpu_flags(text))
    return (f"{names[0] if names else 'unknown CPU'} x{os.cpu_count()}; native bfloat16: "
            f"{', '.join(bf16) if bf16 else 'none'}")


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def previous_loop(trainer: Trainer):
    """The previous release's interval loop: raw per-step terms summed in the graph, no trackers."""
    step_fn = tf.function(trainer.model.optimization_step, jit_compile=trainer.jit)

    @tf.function
    def loop(iterator, num_steps):
        logs = step_fn(next(iterator))
        sums = dict(logs)
        for _ in tf.range(num_steps - 1):
            logs = step_fn(next(iterator))
            sums = {k: sums[k] + logs[k] for k in sums}
        return {k: v / tf.cast(num_steps, tf.float32) for k, v in sums.items()}

    def run(num_steps: int) -> None:
        for _ in range(num_steps // trainer.config.log_every):
            loop(trainer.iterator, tf.constant(trainer.config.log_every, tf.int64))["loss"].numpy()

    return run


def timed(function, num_steps: int) -> float:
    start = time.perf_counter()
    function(num_steps)
    return num_steps / (time.perf_counter() - start)


def loop_rows(args, dataset, workdir: str) -> None:
    precisions = args.precisions.split(",")
    print(f"{'method':<16}{'variant':<22}{'precision':<16}{'img/s':>9}{'vs previous':>13}{'vs float32':>12}")
    for method in args.methods.split(","):
        variants = {}  # (variant, precision) -> function
        for jit in ([False, True] if args.xla else [False]):
            suffix = " XLA" if jit else ""
            for precision in precisions:
                trainer = Trainer(_config(method, args.batch_size, args.log_every, jit, precision=precision),
                                  os.path.join(workdir, f"{method}-{jit}-{precision}"), dataset=dataset)
                variants[(f"Trainer.train_steps{suffix}", precision)] = trainer.train_steps
                if not args.no_previous:
                    variants[(f"previous loop{suffix}", precision)] = previous_loop(trainer)
        for function in variants.values():  # trace/compile outside the timing
            function(args.log_every)
        rates = {key: [] for key in variants}
        for _ in range(args.rounds):
            for key, function in variants.items():
                rates[key].append(timed(function, args.steps) * args.batch_size)
        medians = {key: float(np.median(values)) for key, values in rates.items()}
        for (name, precision), rate in medians.items():
            previous = medians.get(("previous loop" + (" XLA" if name.endswith("XLA") else ""), precision))
            float32 = medians.get((name, "float32"))
            vs_previous = f"{rate / previous:.2f}" if previous else "-"
            vs_float32 = f"{rate / float32:.2f}" if float32 else "-"
            print(f"{method:<16}{name:<22}{precision:<16}{rate:>9.0f}{vs_previous:>13}{vs_float32:>12}", flush=True)


def lockstep_rows(args, dataset, workdir: str) -> None:
    k = args.lockstep

    def trainers(tag: str):
        return [Trainer(_config("beta_tcvae", args.batch_size, args.log_every, False, seed=i, data_seed=7),
                        os.path.join(workdir, f"{tag}{i}"), dataset=dataset) for i in range(k)]

    separate, alternating, fused = trainers("sep"), trainers("alt"), LockstepTrainers(trainers("lock"))

    def run_separate(num_steps):
        for trainer in separate:
            trainer.train_steps(num_steps)

    def run_alternating(num_steps):
        for _ in range(num_steps // args.log_every):
            for trainer in alternating:
                trainer.train_steps(args.log_every)

    variants = {"separate, one after another": run_separate, "alternating intervals": run_alternating,
                "LockstepTrainers (fused)": fused.train_steps}
    for function in variants.values():
        function(args.log_every)
    rates = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, function in variants.items():
            start = time.perf_counter()
            function(args.steps)
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))  # per model
    medians = {name: float(np.median(values)) for name, values in rates.items()}
    base = medians["separate, one after another"]
    print(f"\nK = {k} beta_tcvae models on the same batches (batch {args.batch_size}, XLA off)")
    print(f"{'variant':<30}{'img/s per model':>17}{'vs separate':>13}")
    for name, rate in medians.items():
        print(f"{name:<30}{rate:>17.0f}{rate / base:>13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="beta_tcvae,vae", help="comma-separated, or all")
    parser.add_argument("--precisions", default="float32",
                        help="comma-separated TrainConfig.precision values timed side by side")
    parser.add_argument("--no_previous", action="store_true", help="skip the previous release's loop")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--log_every", type=int, default=20)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also time XLA-compiled steps")
    parser.add_argument("--lockstep", type=int, default=0, help="K: also compare K models in lock-step")
    args = parser.parse_args()
    if args.steps % args.log_every:
        parser.error("--steps must be a multiple of --log_every")
    if args.methods == "all":
        args.methods = ",".join(method_names())
    dataset = load_dataset("dsprites")
    devices = ", ".join(d.device_type for d in tf.config.list_physical_devices())
    print(f"CPU: {cpu_description()}; TF {tf.__version__}, {tf.config.threading.get_intra_op_parallelism_threads()}"
          f" intra-op threads (0: all cores); load average {load_average()} (1, 5, 15 min)")
    print(f"devices: {devices}; batch {args.batch_size}; {args.rounds} rounds x {args.steps} steps, "
          f"{args.log_every} per compiled call, interleaved; medians", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        if args.methods:
            loop_rows(args, dataset, workdir)
        if args.lockstep:
            lockstep_rows(args, dataset, workdir)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
