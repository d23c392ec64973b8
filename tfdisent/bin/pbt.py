r"""tfdisent-pbt: population-based training for disentanglement on Ray (Estermann et al. 2020).

    tfdisent-pbt --fitness=mig --output_dir=runs/pbt_s                     # PBT-S-VAE (50,000 labels)
    tfdisent-pbt --fitness=mig --num_labels=1000 --output_dir=runs/pbt_1k  # 1000-PBT-S-VAE
    tfdisent-pbt --fitness=udr --output_dir=runs/pbt_u                     # PBT-U-VAE (5 models/member)
    tfdisent-pbt --recursive --output_dir=runs/rpu                         # rPU-VAE (final fitness leaf_mig)

Members are beta-TCVAEs (any method with a strength: --method); labels never enter the training
loss, only the fitness. Outputs: DIR/population.csv (member, generation, score, learning_rate,
batch_size, beta, copied_from), DIR/best/ (the best model across all generations: export/<v>/,
lineage.json; `tfdisent-evaluate --model_dir=DIR/best`), DIR/plots/population.png, DIR/logs/pbt
(TensorBoard), DIR/summary.json, DIR/members/ (every member's checkpoint per generation: rerun the
same command to resume).
The console shows one line per member and generation, then the summary and next steps; --ray_verbose
brings back Ray's and Tune's own output.

Exit status: 0 done; 2 bad input (one line on stderr); 1 an unexpected failure.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, guarded, load_plugins, print_closing, quiet_tensorflow_logs,
    significant)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-pbt")

PROGRAM = "tfdisent-pbt"
_fail = failer(PROGRAM)
FLAGS = flags.FLAGS
define_plugins_flag()

flags.DEFINE_enum("fitness", None, ["mig", "udr", "leaf_mig", "mig_sup", "dcimig", "jemmig", "mcc"],
                  "mig: discrete MIG on a fixed labelled subset (PBT-S-VAE); udr: mean UDR of five lock-step "
                  "models per member (PBT-U-VAE); leaf_mig: MIG on rPU-VAE surrogate labels (set by --recursive); "
                  "mig_sup, dcimig, jemmig, mcc: that metric on the same labelled subset as mig.")
flags.DEFINE_string("output_dir", None, "Directory of the run (created; rerun the same command to resume).")
flags.DEFINE_integer("num_labels", 50000, "Labelled images of the mig fitness (fixed subset; 1000 = few-label).")
flags.DEFINE_integer("population", 24, "Members (after halving, with --double_initial_population).")
flags.DEFINE_integer("generations", 26, "Generation budget (0 = none: needs --convergence).")
flags.DEFINE_integer("generation_samples", 480000, "Training samples per generation (steps = samples / batch).")
flags.DEFINE_string("method", "beta_tcvae", "Objective of the members (its strength is searched as beta).")
flags.DEFINE_string("dataset", "dsprites", "Ground-truth dataset.")
flags.DEFINE_string("data_dir", None, "Folder with the dataset's files (procedural dSprites needs none).")
flags.DEFINE_string("ray_address", None, "Ray cluster address (default: a local Ray on this machine).")
flags.DEFINE_integer("seed", 0, "Seed of the initial draws, explore, members' weights and the fitness samples.")
flags.DEFINE_boolean("double_initial_population", False,
                     "Start with 2 x --population members and keep the best half after generation 1 (paper).")
flags.DEFINE_boolean("convergence", False, "Also stop when the best score changed < 0.005 over 6 generations.")
flags.DEFINE_integer("udr_points", 1000, "Points of the UDR fitness.")
flags.DEFINE_integer("leaf_points", 50000, "Points per level of the leaf_mig fitness.")
flags.DEFINE_integer("models_per_member", None, "Lock-step models per member (default 5 for udr, else 1).")
flags.DEFINE_integer("latent_dim", 10, "Latent dimensions.")
flags.DEFINE_string("architecture", "auto", "Encoder/decoder architecture (as tfdisent-train).")
flags.DEFINE_float("cpus_per_member", 1.0, "CPUs Ray reserves per member (members beyond the CPUs time-share).")
flags.DEFINE_integer("num_cpus", None, "CPUs of the local Ray (default: all).")
flags.DEFINE_integer("log_every", 50, "Steps per compiled training call and TensorBoard interval of members.")
# TrainConfig's PRECISIONS, spelled out: importing tfdisent.training here would load TensorFlow for --help.
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Compute precision of the members' networks (as tfdisent-train --precision).")
flags.DEFINE_boolean("recursive", False, "rPU-VAE: recursive PBT-U-VAE, then PBT-S-VAE with leaf_mig.")
flags.DEFINE_integer("leaf_runs", 3, "rPU-VAE leaf runs.")
flags.DEFINE_integer("max_depth", 3, "rPU-VAE levels per leaf run.")
flags.DEFINE_integer("label_points", None, "rPU-VAE: label a fixed sample of this many points per stage "
                     "(default: the whole stage's data, as the paper).")
flags.DEFINE_integer("final_generations", None, "rPU-VAE: generations of the final leaf_mig PBT (default --generations).")
flags.DEFINE_enum("backend", "trainer", ["trainer", "toy"], "Members: tfdisent Trainers, or a numpy toy (tests).")
flags.DEFINE_boolean("ray_verbose", False, "Also show Ray's and Tune's own console output (start-up notices, "
                     "experiment banner, trial tables, workers' logs); off: tfdisent's progress and summary only.")


def check_flags(argv) -> None:
    """Every check of the parsed flags that needs no data and no Ray (one-line error, exit 2); ``main``
    starts with it, tests/test_commands.py runs it on every documented command."""
    from tfdisent.pbt.explore import PBTConfigError
    check_plugins(PROGRAM, FLAGS.plugins)
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.output_dir:
        _fail("--output_dir is required")
    if not FLAGS.recursive and not FLAGS.fitness:
        _fail("--fitness is required (mig, udr or leaf_mig), or --recursive")
    if FLAGS.recursive and FLAGS.fitness not in (None, "leaf_mig"):
        _fail(f"--recursive runs udr then leaf_mig; --fitness={FLAGS.fitness} does not apply")
    if FLAGS.fitness == "leaf_mig" and not FLAGS.recursive:
        _fail("--fitness=leaf_mig needs rPU-VAE's surrogate labels: use --recursive")
    try:
        if FLAGS.generations < 0:
            raise PBTConfigError(f"--generations must be >= 0, got {FLAGS.generations}")
        _settings().validate()
    except PBTConfigError as error:
        _fail(str(error))


def _settings():
    from tfdisent.pbt.runner import PBTSettings
    return PBTSettings(
        fitness="udr" if FLAGS.recursive else FLAGS.fitness, output_dir=FLAGS.output_dir,
        population=FLAGS.population, generations=FLAGS.generations or None,
        generation_samples=FLAGS.generation_samples, num_labels=FLAGS.num_labels, method=FLAGS.method,
        dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, ray_address=FLAGS.ray_address, seed=FLAGS.seed,
        double_initial_population=FLAGS.double_initial_population, convergence=FLAGS.convergence,
        models_per_member=FLAGS.models_per_member, udr_points=FLAGS.udr_points, leaf_points=FLAGS.leaf_points,
        latent_dim=FLAGS.latent_dim, architecture=FLAGS.architecture, cpus_per_member=FLAGS.cpus_per_member,
        num_cpus=FLAGS.num_cpus, log_every=FLAGS.log_every, precision=FLAGS.precision, backend=FLAGS.backend,
        ray_verbose=FLAGS.ray_verbose,
        plugins=list(FLAGS.plugins))


def main(argv):
    check_flags(argv)                  # everything that needs no data, before loading it
    from tfdisent.data import DatasetError
    from tfdisent.pbt.explore import PBTConfigError
    from tfdisent.pbt.runner import run_pbt

    settings = _settings()
    try:
        dataset = None
        if FLAGS.backend == "trainer":
            from tfdisent.pbt import member
            dataset = member.load_data(settings.member_settings())
        if FLAGS.recursive:
            from tfdisent.pbt.rpu import RPUSettings, run_rpu
            rpu = RPUSettings(settings, leaf_runs=FLAGS.leaf_runs, max_depth=FLAGS.max_depth,
                              label_points=FLAGS.label_points, final_generations=FLAGS.final_generations)
            rpu.validate()
            settings.validate(dataset)
            report = run_rpu(rpu)
            summary = report.get("final", {})
        else:
            settings.validate(dataset)
            summary = run_pbt(settings, progress=lambda line: print(line, flush=True))
    except (PBTConfigError, DatasetError) as error:
        _fail(str(error))
    best = summary.get("best") or {}
    out = os.path.abspath(FLAGS.output_dir)
    from tfdisent.bin.next_steps import pbt_next_steps
    print_closing([f"{PROGRAM}: {summary.get('generations')} generations, {summary.get('members')} members, "
                   f"{summary.get('copies')} copies; best score {significant(best.get('score'))} "
                   f"(member {best.get('member')}, generation {best.get('generation')})",
                   f"  population table: {os.path.join(out, 'population.csv')}",
                   f"  best model:       {os.path.join(out, 'best')}"
                   + ("" if summary.get("export") else " (no SavedModel: the toy backend exports none)")],
                  pbt_next_steps(out, summary.get("export"), FLAGS.plugins))


def run():
    app.run(guarded(PROGRAM, main, "interrupted (rerun the same command to resume)"))


if __name__ == "__main__":
    run()
