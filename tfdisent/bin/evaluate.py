r"""tfdisent-evaluate: scores an exported model with disentanglement metrics, writes JSON.

    tfdisent-evaluate --model_dir=runs/btc --metrics=mig,dci,sap   # -> runs/btc/results/evaluation_mean.json
    tfdisent-evaluate --model_dir=runs/btc --dataset=dsprites --metrics=all --output_file=results.json
    tfdisent-evaluate --model_dir=runs/btc/export/3000 --metrics=mig,dci \
        --metric_override=dci.backend=sklearn --metric_override='*.num_train=2000' --output_file=r.json
    tfdisent-evaluate --model_dir=runs/s0,runs/s1,runs/s2 --metrics=udr --output_file=udr.json

--model_dir is a training run directory (its newest export/<version>/ is used), a SavedModel
directory whose serving_default signature maps `images` float32 [None,H,W,C] in [0,1] to `mean`
and `logvar` [None,d], or one of disentanglement_lib's released models (its TF1 Hub module
`model/tfhub/`, or the model folder holding it; the `gaussian_encoder` signature is used and the
dataset is read from `model/results/gin/train.gin`). Loading a model runs its graph: only load
models you trust. Metrics: beta_vae, factor_vae, mig, dci, sap, modularity_explicitness,
irs, unsupervised, downstream, fairness, udr (several --model_dir). Defaults are disentanglement_lib's
study settings; each metric gets its own seed derived from --seed (or, with --share_samples, every
metric starts from RandomState(--seed) and shares encoded samples).

The report goes to --output_file, by default <run>/results/evaluation_<representation>.json (the
run of --model_dir, or of the export directory given; for a bare SavedModel or a disentanglement_lib
model, that directory), next to the run's train_results.json; the scores are printed as a table.

Exit status: 0 all metrics computed; 1 some metric failed (the others are still written, the
failure is recorded in the JSON); 2 bad input (path, signature, dataset, metric, override).
"""

from __future__ import annotations

import os
import sys
import time

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, guarded, load_plugins, print_closing, quiet_tensorflow_logs,
    significant)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-evaluate")

from absl import app, flags  # noqa: E402


from tfdisent.data import dataset_names  # noqa: E402
from tfdisent.metrics import default_settings, metric_names  # noqa: E402

FLAGS = flags.FLAGS
define_plugins_flag()

flags.DEFINE_multi_string(
    "model_dir", None,
    "Model to evaluate: a training run directory (uses its newest export/<integer>/), a SavedModel "
    "directory with a serving_default signature (images -> mean, logvar), or a disentanglement_lib "
    "model (its model/tfhub TF1 Hub module or the folder holding it). Repeat the flag or give a "
    "comma list for udr, which compares several models; other metrics use the first one.")
flags.DEFINE_string("dataset", None,
                    f"Ground-truth dataset to sample observations and factors from, one of: "
                    f"{', '.join(dataset_names())}. Default: the dataset recorded in the export's "
                    "assets.extra/tfdisent_export.json.")
flags.DEFINE_string("data_dir", None, "Folder with the dataset's official files (procedural datasets need none).")
flags.DEFINE_string("metrics", "all",
                    "Comma list of metrics, or 'all' (every metric; udr only when several --model_dir "
                    f"are given), or 'help' (list them with their settings). Known: {', '.join(metric_names())}.")
flags.DEFINE_enum("representation", "mean", ["mean", "sampled"],
                  "Code fed to the metrics: the posterior mean, or a sample mean + exp(logvar/2)*eps "
                  "(eps from a numpy RandomState of its own, re-seeded for every metric).")
flags.DEFINE_integer("seed", 0, "Random seed of the run. Each metric samples from its own numpy RandomState "
                     "seeded with the first 4 bytes of SHA-256('<seed>/<representation>/<metric>') (one "
                     "seed per (representation, metric), as disentanglement_lib's reproduce pipeline; "
                     "recorded as the metric's 'seed' in the report). With --share_samples every metric "
                     "uses RandomState(seed).")
flags.DEFINE_bool("share_samples", False,
                  "Speed option: every metric starts from RandomState(--seed) and metrics that draw the same "
                  "i.i.d. samples (mig, dci, sap, modularity_explicitness, irs, unsupervised, downstream) "
                  "encode them once. Faster, but their estimation noise is then correlated, which inflates "
                  "agreement between metrics; off by default.")
flags.DEFINE_string("output_file", None, "JSON report to write (atomically): per metric its scores, the "
                    "settings used and its wall time, plus model path, dataset and seed. Default: "
                    "<run>/results/evaluation_<representation>.json in the (first) --model_dir's run directory.")
flags.DEFINE_multi_string(
    "metric_override", [],
    "Change a metric setting, METRIC.SETTING=VALUE (repeatable); METRIC may be * for every selected "
    "metric having that setting; tuples are comma lists. E.g. dci.num_train=2000, dci.backend=sklearn "
    "(fast trees), '*.num_train=1000', downstream.num_train=100,1000.")
flags.DEFINE_integer("encode_batch_size", 128, "Observations per model call when encoding (128 measured "
                     "fastest on CPU, see benchmarks/encode_speed.py; larger may suit a GPU).",
                     lower_bound=1)

PROGRAM = "tfdisent-evaluate"


_fail = failer(PROGRAM)


def _model_dirs() -> list:
    dirs = [part.strip() for value in (FLAGS.model_dir or []) for part in value.split(",") if part.strip()]
    if not dirs:
        _fail("--model_dir is required")
    return dirs


def _dataset_from_export(export_path: str):
    """The dataset recorded with the model: our export's metadata, or a disentanglement_lib
    module's training gin (``dataset.name``, mapped to our names)."""
    from tfdisent.export.layout import dlib_dataset_name, find_tf1_hub_module, read_metadata
    try:
        if find_tf1_hub_module(export_path) == export_path:
            return dlib_dataset_name(export_path)
        return read_metadata(export_path).get("dataset")
    except (OSError, ValueError):
        return None


def _progress(message: str) -> None:
    print(message, flush=True)


# A study model's record (tfdisent.study.trial.RECORD_FILE; not imported: it would load TensorFlow).
_STUDY_RECORD = "study_record.json"


def _output_file(model_dir: str) -> str:
    """--output_file, or the default report path in the model's run directory. A study's model keeps
    its own evaluation files (the study table reads them): there, --output_file is required."""
    from tfdisent.evaluation.evaluate import RESULTS_DIR, owning_run_dir, report_path
    if FLAGS.output_file:
        return FLAGS.output_file
    run_dir = owning_run_dir(model_dir)
    if os.path.exists(os.path.join(run_dir, RESULTS_DIR, _STUDY_RECORD)):
        _fail(f"{run_dir} is a model of a study, whose results/ holds the study's own evaluations; "
              "give --output_file")
    return report_path(run_dir, FLAGS.representation)



def check_flags(argv) -> list:
    """Every check of the parsed flags that needs no model and no data (one-line error, exit 2):
    plugins, arguments, --model_dir given, metric names and overrides. Returns the metric names. ``main``
    starts with it; tests/test_commands.py runs it on every documented command."""
    check_plugins("tfdisent-evaluate", FLAGS.plugins)
    from tfdisent.evaluation import evaluate
    from tfdisent.metrics import MetricError
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    model_dirs = _model_dirs()
    try:
        names = evaluate.expand_metric_names(FLAGS.metrics, len(model_dirs))
        evaluate.parse_overrides(FLAGS.metric_override, names)
    except MetricError as error:
        _fail(str(error))
    return names


def _score_table(report: dict) -> list:
    """The scores as a small table: metric, score, value (3-4 significant digits); failures named."""
    from tfdisent.evaluation.evaluate import headline_scores
    rows = []
    for name, entry in report["metrics"].items():
        if "error" in entry:
            rows.append((name, "FAILED", entry["error"]))
            continue
        shown = [(name, key, significant(value)) for key, value in headline_scores(entry).items()]
        if isinstance(entry.get("model_scores"), list):  # udr: one score per model
            shown.append((name, "model_scores", "[" + ", ".join(significant(v, 3) for v in entry["model_scores"]) + "]"))
        rows += shown or [(name, "-", "no scalar score")]
    widths = [max(len(str(row[i])) for row in rows + [("metric", "score", "")]) for i in range(2)]
    lines = [f"{'metric':<{widths[0]}}  {'score':<{widths[1]}}  value"]
    lines += [f"{m:<{widths[0]}}  {k:<{widths[1]}}  {v}" for m, k, v in rows]
    return lines


def main(argv):
    import logging as std_logging
    std_logging.getLogger("tensorflow").setLevel(std_logging.ERROR)
    if FLAGS.metrics == "help":
        check_plugins("tfdisent-evaluate", FLAGS.plugins)
        for name in metric_names():   # built-ins, then plugins
            settings = ", ".join(f"{k}={v!r}" for k, v in default_settings(name).items())
            print(f"{name}: {settings}")
        return
    names = check_flags(argv)

    from tfdisent.data import DatasetError, load_dataset
    from tfdisent.evaluation import evaluate
    from tfdisent.metrics import MetricError

    start = time.perf_counter()
    model_dirs = _model_dirs()
    output_file = _output_file(model_dirs[0])
    # Cheap checks first (no TensorFlow yet): metric names, overrides, model paths, dataset.
    try:
        overrides = evaluate.parse_overrides(FLAGS.metric_override, names)
    except MetricError as error:
        _fail(str(error))
    from tfdisent.evaluation.representation import RepresentationError, resolve_saved_model_dir
    try:
        export_paths = [resolve_saved_model_dir(path) for path in model_dirs]
    except RepresentationError as error:
        _fail(str(error))
    dataset_name = FLAGS.dataset or _dataset_from_export(export_paths[0])
    if not dataset_name:
        _fail("--dataset is required (the export records no dataset)")
    if dataset_name not in dataset_names():
        _fail(f"unknown dataset {dataset_name!r}; known datasets: {', '.join(dataset_names())}")
    try:
        kwargs = {"data_dir": FLAGS.data_dir} if FLAGS.data_dir else {}
        dataset = load_dataset(dataset_name, **kwargs)
    except (DatasetError, TypeError, OSError) as error:
        _fail(f"dataset {dataset_name}: {error}")

    from tfdisent.evaluation import representation
    needs_single = any(not _is_multi(name) for name in names)
    encoders = []
    try:
        for path in (export_paths if any(_is_multi(name) for name in names) else export_paths[:1]):
            encoder = representation.load_gaussian_encoder(path, dataset.observation_shape,
                                                           FLAGS.encode_batch_size)
            representation.check_representation_on_data(dataset, encoder, seed=FLAGS.seed)
            encoders.append(encoder)
    except (RepresentationError, DatasetError) as error:
        _fail(str(error))
    _progress(f"{PROGRAM}: {len(names)} metric(s) on {dataset_name} with {encoders[0].path} "
              f"({FLAGS.representation} representation, d={encoders[0].latent_dim}, seed {FLAGS.seed})")

    representation_fn = (representation.make_representation_function(encoders[0], FLAGS.representation, FLAGS.seed)
                         if needs_single else None)
    udr_functions = [representation.gaussian_encoder_function(encoder) for encoder in encoders]
    results = evaluate.run_metrics(dataset, names, FLAGS.seed, representation_fn=representation_fn,
                                   udr_functions=udr_functions, overrides=overrides, progress=_progress,
                                   share_samples=FLAGS.share_samples, representation=FLAGS.representation)
    report = evaluate.build_report(
        results, dataset_name=dataset_name, seed=FLAGS.seed, representation=FLAGS.representation,
        model_dir=os.path.abspath(model_dirs[0]), model_path=encoders[0].path,
        udr_model_paths=[encoder.path for encoder in encoders] if len(encoders) > 1 else None,
        total_wall_time=time.perf_counter() - start, share_samples=FLAGS.share_samples)
    try:
        path = evaluate.write_json_atomic(output_file, report)
    except OSError as error:
        _fail(f"cannot write {output_file}: {error}")
    failed = report["failed_metrics"]
    if failed:
        print(f"{PROGRAM}: {len(failed)} metric(s) failed: "
              + "; ".join(f"{name}: {results[name]['error']}" for name in failed), file=sys.stderr)
    print_closing(_score_table(report) + [f"{PROGRAM}: wrote {path}"])
    sys.exit(1 if failed else 0)


def _is_multi(name: str) -> bool:
    from tfdisent import metrics
    return metrics.is_multi_model(name)


def run():
    app.run(guarded(PROGRAM, main, "interrupted"))


if __name__ == "__main__":
    run()
