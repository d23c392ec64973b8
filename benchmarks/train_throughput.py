"""Training-step throughput of every method, XLA off and on, measured side by side in one run.

Prints images/s of the compiled training step (batch 64, dlib_conv, d=10, procedural dSprites)
for each method with ``jit_compile`` False and True, the XLA/graph ratio, the first-call
(trace/compile) time, and the time and memory to render and enumerate the whole dSprites set.

    python benchmarks/train_throughput.py                  # all methods, ~3-5 min on 2 CPU cores
    python benchmarks/train_throughput.py --methods=beta_tcvae,factor_vae --steps=50

The XLA and non-XLA runs of a method are interleaved round by round so machine load hits both
alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfdisent.data import load_dataset  # noqa: E402
from tfdisent.data.pipeline import training_dataset  # noqa: E402
from tfdisent.methods import METHODS  # noqa: E402
from tfdisent.training import TrainConfig, build_model  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def render_numbers(cache_dir: str) -> dict:
    """Cold render (empty cache), warm load, and enumerating all 737,280 images once."""
    start_rss = _rss_mb()
    t0 = time.perf_counter()
    dataset = load_dataset("dsprites", cache_dir=cache_dir)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset = load_dataset("dsprites", cache_dir=cache_dir)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    total = 0
    for start in range(0, dataset.num_examples, 16384):
        indices = np.arange(start, min(start + 16384, dataset.num_examples))
        total += int(dataset.binary_images(indices).sum() > 0)
    enumerate_all = time.perf_counter() - t0
    return {"cold": cold, "warm": warm, "enumerate": enumerate_all, "rss_delta": _rss_mb() - start_rss}


def make_step(method: str, jit: bool, batch_size: int, dataset):
    config = TrainConfig(method=method, batch_size=batch_size)
    model = build_model(config, dataset)
    step = tf.function(model.train_step, jit_compile=jit)
    iterator = iter(training_dataset(dataset, batch_size, seed=0))
    batch = next(iterator)
    t0 = time.perf_counter()
    step(batch)["loss"].numpy()
    first_call = time.perf_counter() - t0
    return step, batch, first_call


def time_steps(step, batch, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        logs = step(batch)
    logs["loss"].numpy()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(sorted(m for m in METHODS)))
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip_render", action="store_true")
    args = parser.parse_args()

    if not args.skip_render:
        import tempfile
        with tempfile.TemporaryDirectory() as cache_dir:
            numbers = render_numbers(cache_dir)
        print(f"dSprites: cold render {numbers['cold']:.2f} s, warm load {numbers['warm']:.3f} s, "
              f"all 737,280 images enumerated in {numbers['enumerate']:.2f} s, "
              f"RSS +{numbers['rss_delta']:.0f} MB")

    dataset = load_dataset("dsprites")
    devices = ", ".join(d.device_type for d in tf.config.list_physical_devices())
    print(f"devices: {devices}; batch {args.batch_size}; {args.rounds} rounds x {args.steps} steps, interleaved")
    print(f"{'method':<14}{'graph img/s':>13}{'XLA img/s':>12}{'XLA/graph':>11}{'trace s':>9}{'XLA compile s':>15}")
    for method in args.methods.split(","):
        step_graph, batch, first_graph = make_step(method, False, args.batch_size, dataset)
        step_xla, _, first_xla = make_step(method, True, args.batch_size, dataset)
        graph_rates, xla_rates = [], []
        for _ in range(args.rounds):
            graph_rates.append(time_steps(step_graph, batch, args.steps))
            xla_rates.append(time_steps(step_xla, batch, args.steps))
        graph = float(np.median(graph_rates)) * args.batch_size
        xla = float(np.median(xla_rates)) * args.batch_size
        print(f"{method:<14}{graph:>13.0f}{xla:>12.0f}{xla / graph:>11.2f}{first_graph:>9.1f}{first_xla:>15.1f}")


if __name__ == "__main__":
    main()
