r"""tfdisent-study: runs a study (methods x hyperparameters x seeds x datasets) on Ray, then tabulates
and analyses it as Locatello et al. (2019).

    tfdisent-study plan --study=unsupervised_study_v1 --only=dataset=dsprites --seeds=0-4
    tfdisent-study run --study=cpu_small --output_dir=studies/cpu_small --cpus_per_trial=1
    tfdisent-study run --study=unsupervised_study_v1 --output_dir=/nfs/s --only=method=beta_tcvae,dataset=dsprites \
        --seeds=0-4 --steps=20000 --metrics=mig,dci --metric_override=dci.num_train=2000 --ray_address=auto
    tfdisent-study aggregate --output_dir=studies/cpu_small --dlib_results=dlib_output/
    tfdisent-study analyze --output_dir=studies/cpu_small

--study is a study file (JSON; see tfdisent/study/spec.py and flags/studies/) or the name of one in
flags/studies/. `run` trains each selected model as one Ray Tune trial into
<output_dir>/models/<model_num>/ (an ordinary run directory), exports and scores it, then aggregates;
rerunning the same command resumes (finished models are skipped). `aggregate` writes
<output_dir>/results.parquet and results.csv; `analyze` writes <output_dir>/report/ (index.md).

The console shows tfdisent's progress (models done / failed / running, ETA), then the summary and next
steps; --ray_verbose brings back Ray's and Tune's own output.

Exit status: 0 success; 1 some models failed (recorded, the others finished); 2 bad input.
"""

from __future__ import annotations

import os
import sys

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, guarded, load_plugins, print_closing, quiet_tensorflow_logs)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-study")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
define_plugins_flag()
PROGRAM = "tfdisent-study"
VERBS = ("plan", "run", "aggregate", "analyze")

flags.DEFINE_string("study", None, "Study file (JSON) or the name of one in flags/studies/ (plan, run).")
flags.DEFINE_string("output_dir", None, "The study's directory: models/<model_num>/, study.json, results.*, "
                    "report/. On a Ray cluster, a path shared by every node (NFS).")
flags.DEFINE_multi_string("only", [], "Restrict to models matching KEY=VALUE[,KEY=VALUE...]; keys: dataset, "
                          "method, config, seed or any hyperparameter (repeat a key for OR, different keys AND). "
                          "Models that selected ones warm-start from are included.")
flags.DEFINE_string("seeds", None, "Restrict to these seeds: A-B, or a comma list (e.g. 0-4 or 0,3).")
flags.DEFINE_integer("steps", None, "Training steps of every model (overrides the study; entries' steps_factor, "
                     "e.g. FactorVAE's 0.5 in unsupervised_study_v1, still applies).", lower_bound=1)
flags.DEFINE_string("metrics", None, "Comma list of metrics to compute instead of the study's.")
flags.DEFINE_multi_string("metric_override", [], "METRIC.SETTING=VALUE (repeatable; METRIC may be *), e.g. "
                          "dci.num_train=2000, '*.num_train=1000'.")
flags.DEFINE_string("ray_address", None, "Ray cluster to run on: auto (the cluster this node belongs to) or "
                    "HOST:PORT. Default: start a local Ray on this machine.")
flags.DEFINE_float("cpus_per_trial", 1.0, "CPUs per trial; TensorFlow's thread pools are sized to it. 1 is "
                   "faster than 2 on a 2-core machine (two concurrent trials; benchmarks/study_overhead.py).",
                   lower_bound=0.01)
flags.DEFINE_float("gpus_per_trial", 0.0, "GPU fraction per trial (e.g. 0.25 runs four trials per GPU; memory "
                   "growth is enabled).", lower_bound=0.0)
flags.DEFINE_enum("evaluation_placement", "task", ["task", "trial"], "run: where a model's metrics run. task: the "
                  "trial trains and exports, then a Ray task with --eval_cpus CPUs and no GPU scores the export, so "
                  "the trial's GPU trains the next model meanwhile; trial: inside the training trial (the old path).")
flags.DEFINE_float("eval_cpus", None, "run: CPUs of each evaluation task (--evaluation_placement=task; default: "
                   "--cpus_per_trial).", lower_bound=0.01)
flags.DEFINE_integer("max_failures", 2, "Ray Tune retries of a crashed trial (it resumes from its checkpoint).",
                     lower_bound=0)
flags.DEFINE_boolean("retry_failed", False, "run: train again the models recorded as failed (e.g. after fixing "
                     "the cause); their failure records are kept in results/study_failures.json.")
flags.DEFINE_string("data_dir", None, "Folder with dataset files for datasets the study gives no data_dirs entry.")
flags.DEFINE_multi_string("dlib_results", [], "aggregate: disentanglement_lib result files to add: an "
                          "evaluation.json, the JSON of dlib_aggregate_results, or a folder searched for "
                          "**/aggregate/evaluation.json.")
flags.DEFINE_boolean("ray_verbose", False, "run: also show Ray's and Tune's own console output (start-up "
                     "notices, experiment banner, trial tables, workers' logs); off: tfdisent's progress only.")
flags.DEFINE_integer("cores", None, "plan: cores of the machine to project the wall time for (default: this one).",
                     lower_bound=1)

_fail = failer(PROGRAM)


def _imports():
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as error:
        _fail(f"{error.name or error} is missing: pip install 'ray[tune]' pandas pyarrow")


def _load_selection(need_models: bool = True):
    from tfdisent.study import spec
    if not FLAGS.study:
        _fail("--study is required")
    try:
        study = spec.load_study(FLAGS.study)
        # --plugins (imported already) join the study file's: every Ray trial imports them too.
        study.plugins = list(dict.fromkeys(list(study.plugins) + list(FLAGS.plugins)))
        study = spec.apply_overrides(study, steps=FLAGS.steps,
                                     metric_names=FLAGS.metrics.split(",") if FLAGS.metrics else None,
                                     metric_overrides=FLAGS.metric_override)
        spec.validate_study(study)
        seeds = spec.parse_seed_range(FLAGS.seeds) if FLAGS.seeds else None
        models = spec.select_models(study, spec.parse_only(FLAGS.only), seeds)
    except spec.StudyError as error:
        _fail(str(error))
    return study, models


def _plan():
    from tfdisent.study import plan
    study, models = _load_selection()
    cores = FLAGS.cores or os.cpu_count() or 1
    print(plan.format_plan(study, plan.plan(study, models, cores=cores,
                                             cpus_per_trial=max(1, int(round(FLAGS.cpus_per_trial))))))


def _require_output_dir() -> str:
    if not FLAGS.output_dir:
        _fail("--output_dir is required")
    return FLAGS.output_dir


def _aggregate(output_dir: str, quiet: bool = False):
    """Writes the study table; returns it and its summary line (printed with the next steps unless quiet)."""
    from tfdisent.study import aggregate
    from tfdisent.study.runner import read_study_file
    from tfdisent.study.spec import StudyError
    if not os.path.isdir(output_dir):
        _fail(f"--output_dir {output_dir} does not exist")
    try:
        if read_study_file(output_dir) is None and not FLAGS.dlib_results:
            _fail(f"{output_dir} holds no study (no study.json); give a study's --output_dir or --dlib_results")
    except StudyError as error:
        _fail(str(error))
    for path in FLAGS.dlib_results:
        if not os.path.exists(path):
            _fail(f"--dlib_results {path} does not exist")
    try:
        table = aggregate.build_table(output_dir, FLAGS.dlib_results)
    except ValueError as error:
        _fail(str(error))
    paths = aggregate.write_table(table, output_dir)
    line = (f"{PROGRAM}: {len(table)} row(s) ({table['model_num'].nunique() if len(table) else 0} model(s)) -> "
            f"{paths['parquet']}, {paths['csv']}")
    if not quiet:
        from tfdisent.bin.next_steps import study_next_steps
        print_closing([line], study_next_steps(output_dir, "aggregate", has_results=not table.empty))
    return table, line


def _analyze(output_dir: str):
    from tfdisent.study import aggregate, report
    from tfdisent.study.runner import read_study_file
    parquet = os.path.join(output_dir, "results.parquet")
    table = aggregate.load_table(output_dir) if os.path.exists(parquet) else _aggregate(output_dir, quiet=True)[0]
    if table.empty:
        _fail(f"{output_dir}: the study table is empty (no finished model yet)")
    saved = read_study_file(output_dir) or {}
    path = report.write_report(table, os.path.join(output_dir, "report"),
                               title=f"Study report: {saved.get('name', os.path.basename(output_dir.rstrip('/')))}")
    print_closing([f"{PROGRAM}: wrote {path}"])


def _run():
    from tfdisent.study import runner
    from tfdisent.study.spec import StudyError
    study, models = _load_selection()
    output_dir = _require_output_dir()
    try:
        summary = runner.run_study(study, models, output_dir, ray_address=FLAGS.ray_address,
                                   cpus_per_trial=FLAGS.cpus_per_trial, gpus_per_trial=FLAGS.gpus_per_trial,
                                   max_failures=FLAGS.max_failures, data_dir=FLAGS.data_dir,
                                   progress=lambda line: print(line, flush=True), ray_verbose=FLAGS.ray_verbose,
                                   evaluation_placement=FLAGS.evaluation_placement, eval_cpus=FLAGS.eval_cpus,
                                   retry_failed=FLAGS.retry_failed)
    except StudyError as error:
        _fail(str(error))
    _, table_line = _aggregate(output_dir, quiet=True)
    for model_num, reason in summary["failed"].items():
        print(f"{PROGRAM}: model {model_num} failed: {reason}", file=sys.stderr)
    if summary["missing"]:
        print(f"{PROGRAM}: rerun the same command to finish {len(summary['missing'])} model(s)", file=sys.stderr)
    from tfdisent.bin.next_steps import study_next_steps
    print_closing([f"{PROGRAM}: {len(summary['done'])} done, {len(summary['failed'])} failed, "
                   f"{len(summary['missing'])} unfinished", table_line],
                  study_next_steps(output_dir, "run", has_results=bool(summary["done"])))
    sys.exit(1 if summary["failed"] or summary["missing"] else 0)


def check_flags(argv) -> None:
    """Every check of the parsed flags that needs no Ray and no study directory (one-line error, exit 2):
    the verb, the study file and selection (plan, run), --output_dir given. ``main`` starts with it;
    tests/test_commands.py runs it on every documented command."""
    check_plugins("tfdisent-study", FLAGS.plugins)
    if len(argv) != 2 or argv[1] not in VERBS:
        _fail(f"expected one verb, {', '.join(VERBS)}; got {' '.join(argv[1:]) or 'none'} "
              f"(e.g. {PROGRAM} plan --study=cpu_small)")
    if argv[1] in ("plan", "run"):
        _load_selection()
    if argv[1] != "plan":
        _require_output_dir()


def main(argv):
    import logging as std_logging
    std_logging.getLogger("tensorflow").setLevel(std_logging.ERROR)
    check_flags(argv)
    _imports()
    verb = argv[1]
    if verb == "plan":
        _plan()
    elif verb == "run":
        _run()
    elif verb == "aggregate":
        _aggregate(_require_output_dir())
    else:
        _analyze(_require_output_dir())


def run():
    app.run(guarded(PROGRAM, main, "interrupted; rerun the same command to resume"))


if __name__ == "__main__":
    run()



