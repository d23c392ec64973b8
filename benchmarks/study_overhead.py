"""What Ray Tune costs a study, and how its throughput scales from 1 to 2 concurrent trials.

    python benchmarks/study_overhead.py [--steps=200] [--trials=6] [--reports=50] [--skip_ray] [--skip_scaling]
                                        [--placement] [--placement_models=4] [--placement_steps=300]

Part 1 (Ray overhead, local Ray with 2 CPUs): wall time per trial of ``--trials`` trivial trials (trial
start + one report + teardown, run 2 at a time), per ``tune.report`` without and with a checkpoint of
a real model's size (8.5 MB, a dlib_conv beta-VAE), against the training time of a model of
``--model_steps`` steps on one thread (measured in part 2).

Part 2 (scaling): dSprites beta-VAE, dlib_conv, batch 64, each trainer in its own process with its
TensorFlow pools sized as a trial does (:func:`tfdisent.training.resources.configure_tensorflow`):
one 1-thread trainer alone, one 2-thread trainer alone, then two 1-thread trainers at the same time;
images per second after a warm-up interval. The ratio "two 1-thread / one 2-thread" is what
``--cpus_per_trial=1`` vs ``2`` buys a study on this machine. Absolute numbers depend on the load
of the (shared) machine: compare the ratios.

Part 3 (``--placement``, issue 18): study throughput with two concurrent trials (local Ray, 2 CPUs,
1 CPU per trial) when each model is scored inside its trial (``evaluation_placement="trial"``, the
old path) and when the trial only trains and exports and a CPU-only Ray task scores it
(``"task"``): the same ``--placement_models`` models of ``--placement_steps`` steps with MIG and DCI,
both placements in one run, alternated (trial, task, trial, task with ``--placement_rounds=2``) so that
a change of the machine's load hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, os, sys, tempfile, time
sys.path.insert(0, {root!r})
from tfdisent.training.resources import configure_tensorflow
configure_tensorflow({threads})
from tfdisent.training import TrainConfig, Trainer
run_dir = tempfile.mkdtemp(prefix="study_bench_")
config = TrainConfig(method="beta_vae", dataset="dsprites", steps={warmup}, log_every=50, checkpoint_every=10**6,
                     checkpoint_secs=10**6, image_every=0, export=False)
trainer = Trainer(config, run_dir, handle_signals=False)
trainer.restore_or_initialize()
trainer.train_steps({warmup})
start = time.perf_counter()
trainer.train_steps({steps})
elapsed = time.perf_counter() - start
print(json.dumps({{"threads": {threads}, "steps": {steps}, "seconds": elapsed,
                   "images_per_second": {steps} * 64 / elapsed}}))
"""


def _child(threads: int, steps: int, warmup: int) -> subprocess.Popen:
    code = CHILD.format(root=ROOT, threads=threads, steps=steps, warmup=warmup)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"benchmark child failed: {err.strip().splitlines()[-1] if err.strip() else '?'}")
    return json.loads(out.strip().splitlines()[-1])


def scaling(steps: int, warmup: int) -> dict:
    one_thread = _result(_child(1, steps, warmup))
    two_threads = _result(_child(2, steps, warmup))
    pair = [_child(1, steps, warmup), _child(1, steps, warmup)]
    concurrent = [_result(p) for p in pair]
    total = sum(r["images_per_second"] for r in concurrent)
    return {"one_1thread_img_s": one_thread["images_per_second"], "one_2thread_img_s": two_threads["images_per_second"],
            "two_1thread_total_img_s": total,
            "ratio_two_1thread_vs_one_2thread": total / two_threads["images_per_second"],
            "ratio_2thread_vs_1thread_alone": two_threads["images_per_second"] / one_thread["images_per_second"]}


def _trivial(config):
    from ray import tune
    tune.report({"x": 1})


def _reporter(config):
    from ray import tune
    from ray.tune import Checkpoint
    directory = None
    if config["checkpoint_mb"]:
        directory = tempfile.mkdtemp(prefix="study_bench_ckpt_")
        with open(os.path.join(directory, "weights.bin"), "wb") as stream:
            stream.write(os.urandom(int(config["checkpoint_mb"] * 1024 * 1024)))
    start = time.perf_counter()
    for i in range(config["reports"]):
        checkpoint = Checkpoint.from_directory(directory) if directory else None
        tune.report({"i": i, "elapsed": time.perf_counter() - start}, checkpoint=checkpoint)


def ray_overhead(trials: int, reports: int) -> dict:
    import ray
    from ray import tune

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as tfdisent.study.runner starts a local Ray
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    init_seconds = time.perf_counter() - started
    storage = tempfile.mkdtemp(prefix="study_bench_ray_")
    try:
        def fit(trainable, space, name):
            tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=space,
                               run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0))
            start = time.perf_counter()
            grid = tuner.fit()
            return time.perf_counter() - start, grid

        trivial_seconds, _ = fit(_trivial, {"i": tune.grid_search(list(range(trials)))}, "trivial")
        plain_seconds, plain = fit(_reporter, {"reports": reports, "checkpoint_mb": 0}, "reports")
        ckpt_seconds, ckpt = fit(_reporter, {"reports": reports, "checkpoint_mb": 8.5}, "checkpoints")
        per_report = plain[0].metrics["elapsed"] / max(1, reports - 1)
        per_checkpoint = ckpt[0].metrics["elapsed"] / max(1, reports - 1)
    finally:
        ray.shutdown()
    return {"ray_init_seconds": init_seconds, "trials": trials,
            "seconds_per_trivial_trial_2_concurrent": trivial_seconds / trials * 2,
            "study_seconds_per_trivial_trial": trivial_seconds / trials,
            "seconds_per_report": per_report, "seconds_per_report_with_8.5MB_checkpoint": per_checkpoint}


def _placement_study(directory: str, models: int, steps: int):
    from tfdisent.study import spec

    raw = json.load(open(os.path.join(ROOT, "flags", "studies", "cpu_small.json")))
    raw.update(name="placement_bench", seeds=list(range(max(1, models // 2))))
    raw["train"].update(steps=steps, log_every=50, checkpoint_every=max(50, steps // 2), eval_batches=2)
    raw["configs"] = [{"method": "beta_vae", "grid": {"beta": [1, 4]}}]
    raw["evaluation"] = {"metrics": ["mig", "dci"], "representations": ["mean"], "seed": 0,
                         "settings": {"mig": {"num_train": 2000}, "dci": {"num_train": 2000, "num_test": 1000}}}
    path = os.path.join(directory, "placement_bench.json")
    with open(path, "w") as stream:
        json.dump(raw, stream)
    study = spec.load_study(path)
    return study, spec.select_models(study)[:models]


def placement(models: int, steps: int, rounds: int) -> dict:
    """Study wall time per model, evaluation in the trial vs in its own CPU-only task (part 3)."""
    import ray

    from tfdisent.study import runner
    from tfdisent.training.resources import init_ray

    init_ray(num_cpus=2)
    seconds = {"trial": [], "task": []}
    try:
        for _ in range(rounds):
            for where in ("trial", "task"):
                directory = tempfile.mkdtemp(prefix=f"study_bench_{where}_")
                study, selected = _placement_study(directory, models, steps)
                start = time.perf_counter()
                summary = runner.run_study(study, selected, os.path.join(directory, "out"),
                                           evaluation_placement=where, progress=lambda line: None)
                elapsed = time.perf_counter() - start
                if len(summary["done"]) != len(selected):
                    raise RuntimeError(f"placement {where}: {summary}")
                seconds[where].append(elapsed)
                print(f"  evaluation in the {where:5s}: {len(selected)} models in {elapsed:6.1f} s "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        ray.shutdown()
    trial, task = sum(seconds["trial"]), sum(seconds["task"])
    return {"models": models, "steps": steps, "rounds": rounds, "seconds": seconds,
            "models_per_hour_trial": 3600 * models * rounds / trial,
            "models_per_hour_task": 3600 * models * rounds / task, "speedup_task_vs_trial": trial / task}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per trainer")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps first (tracing)")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--model_steps", type=int, default=2000, help="model length the overhead is compared to")
    parser.add_argument("--skip_ray", action="store_true")
    parser.add_argument("--skip_scaling", action="store_true")
    parser.add_argument("--placement", action="store_true", help="part 3: evaluation in the trial vs a task")
    parser.add_argument("--placement_models", type=int, default=4)
    parser.add_argument("--placement_steps", type=int, default=300)
    parser.add_argument("--placement_rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start (shared machine)")
    result = {}
    if not args.skip_scaling:
        result["scaling"] = scale = scaling(args.steps, args.warmup)
        print(f"scaling (beta_vae, dsprites, batch 64, {args.steps} steps after {args.warmup} warm-up):")
        print(f"  one trainer, 1 thread:            {scale['one_1thread_img_s']:7.0f} img/s")
        print(f"  one trainer, 2 threads:           {scale['one_2thread_img_s']:7.0f} img/s "
              f"({scale['ratio_2thread_vs_1thread_alone']:.2f}x the 1-thread one)")
        print(f"  two 1-thread trainers together:   {scale['two_1thread_total_img_s']:7.0f} img/s total "
              f"({scale['ratio_two_1thread_vs_one_2thread']:.2f}x one 2-thread trainer)")
    if not args.skip_ray:
        result["ray"] = ray = ray_overhead(args.trials, args.reports)
        print(f"Ray Tune overhead (local, 2 CPUs): ray.init {ray['ray_init_seconds']:.1f} s; "
              f"{ray['study_seconds_per_trivial_trial']:.2f} s of study wall time per trivial trial "
              f"({ray['seconds_per_trivial_trial_2_concurrent']:.2f} s each, 2 at a time); "
              f"{ray['seconds_per_report'] * 1000:.0f} ms per report, "
              f"{ray['seconds_per_report_with_8.5MB_checkpoint'] * 1000:.0f} ms per report with an 8.5 MB checkpoint")
        if "scaling" in result:
            train_seconds = args.model_steps * 64 / result["scaling"]["one_1thread_img_s"]
            overhead = ray["seconds_per_trivial_trial_2_concurrent"] + 20 * ray["seconds_per_report"]
            print(f"  vs training a {args.model_steps}-step model on 1 thread ({train_seconds:.0f} s): trial start + "
                  f"20 reports = {overhead:.1f} s = {100 * overhead / train_seconds:.1f} % of it")
    if args.placement:
        print(f"study throughput, 2 concurrent trials ({args.placement_models} beta-VAE models of "
              f"{args.placement_steps} steps, MIG + DCI on the mean):", flush=True)
        result["placement"] = place = placement(args.placement_models, args.placement_steps, args.placement_rounds)
        print(f"  {place['models_per_hour_trial']:.1f} models/h with the evaluation in the trial, "
              f"{place['models_per_hour_task']:.1f} with it in a task: {place['speedup_task_vs_trial']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
