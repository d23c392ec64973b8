r"""tfdisent-train: trains a disentangling VAE and exports its encoder as a SavedModel.

    tfdisent-train --method=beta_tcvae
    tfdisent-train --flagfile=flags/beta_tcvae.flags --output_dir=runs/btc --steps=300000

Rerunning with the same --output_dir resumes the run (flags given again override the saved
settings that may change, e.g. --steps). See --helpfull for every flag.
"""

from __future__ import annotations

import os
import sys
import time

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, load_plugins, print_closing, quiet_tensorflow_logs, significant)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-train")

from absl import app, flags, logging  # noqa: E402


from tfdisent.data import dataset_names  # noqa: E402
from tfdisent.methods import METHODS, SemiSupervised, method_names  # noqa: E402
from tfdisent.metrics import metric_names  # noqa: E402
from tfdisent.models import ARCHITECTURES  # noqa: E402
from tfdisent.models.distributions import LIKELIHOODS  # noqa: E402
from tfdisent.training.config import PRECISIONS, RunConfigError, legacy_precision  # noqa: E402

FLAGS = flags.FLAGS
define_plugins_flag()
_fail = failer("tfdisent-train")

flags.DEFINE_enum("method", "beta_tcvae", method_names(), "Objective to train.")
flags.DEFINE_enum("dataset", "dsprites", dataset_names(), "Ground-truth dataset (procedural dSprites by default).")
flags.DEFINE_string("data_dir", None, "Folder holding the dataset's official files (e.g. the dSprites .npz); "
                    "procedural datasets need none.")
flags.DEFINE_string("output_dir", None, "Run directory. Default: runs/<method>_<dataset>_<time>. An existing "
                    "run directory is resumed.")
flags.DEFINE_integer("steps", 3000, "Total number of training steps (a resumed run continues up to it).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Minibatch size.", lower_bound=2)
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate (beta1 0.9, beta2 0.999, eps 1e-8).",
                   lower_bound=0.0)
flags.DEFINE_integer("latent_dim", 10, "Number of latent dimensions d.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Random seed: weights, data order and sampling noise derive from it.")
flags.DEFINE_integer("data_seed", None, "Seed of the data order (default: derived from --seed). Runs sharing it "
                     "train on the same batches.")
flags.DEFINE_enum("architecture", "auto", ["auto"] + sorted(ARCHITECTURES),
                  "Networks: auto (dlib_conv for images, mlp for vector data such as pinwheel; mlp_normal under "
                  "the normal/laplace likelihoods), dlib_conv (disentanglement_lib's code, 2x2 kernels in conv "
                  "3-4), paper_conv (4x4 throughout), fc (1200-1200), mlp (one hidden layer of 100), mlp_normal, "
                  "dcgan (Mathieu et al. 2019).")
flags.DEFINE_enum("likelihood", "bernoulli", list(LIKELIHOODS),
                  "Decoder distribution p(x|z): bernoulli (logits; disentanglement_lib's default) or gaussian "
                  "(mean sigmoid(logits), the l2 loss); see tfdisent.models.distributions.")
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                  "XLA-compile the training step. auto: on GPU/TPU only (XLA is slower on CPU; see BUILD_NOTES.md).")

flags.DEFINE_enum("precision", "float32", list(PRECISIONS),
                  "Compute precision of the networks (variables, optimizer state, losses, estimators and exports "
                  "stay float32): float32; mixed_bfloat16 (1.15-2.4x faster, measured on a CPU with AMX/AVX512-BF16; refused on "
                  "CPUs without native bfloat16 unless a GPU/TPU is present; see README); mixed_float16 (loss "
                  "scaling, for GPUs; much slower on CPU).")
flags.DEFINE_boolean("mixed_precision", False, "Deprecated alias of --precision=mixed_float16 (old flagfiles).")

# Method hyperparameters: one flag per name declared by the objectives (tfdisent.methods), documented
# with the methods it applies to and their defaults. Unset flags take each method's default.
def _define_hyperparameter_flags():
    by_name = {}
    for method_name in method_names():
        for h in METHODS[method_name].hyperparameters:
            by_name.setdefault(h.name, []).append((method_name, h))
    for name, uses in sorted(by_name.items()):
        first = uses[0][1]
        # A plugin method's hyperparameter becomes a flag like the built-ins'; it must not clash.
        kinds = {h.kind for _, h in uses}
        if len(kinds) > 1:
            _fail(f"hyperparameter --{name} is declared with different types by "
                  f"{', '.join(f'{m} ({h.kind.__name__})' for m, h in uses)}")
        if name in FLAGS:
            _fail(f"method {uses[0][0]} declares hyperparameter {name!r}, which is already a tfdisent-train flag")
        doc = "; ".join(f"{m}: {h.help} (default {h.default})" for m, h in uses)
        if first.kind is str:
            choices = sorted({c for _, h in uses for c in (h.choices or ())})
            flags.DEFINE_enum(name, None, choices, doc)
        elif first.kind is int:
            flags.DEFINE_integer(name, None, doc, lower_bound=first.lower_bound, upper_bound=first.upper_bound)
        else:
            flags.DEFINE_float(name, None, doc, lower_bound=first.lower_bound, upper_bound=first.upper_bound)
    return tuple(sorted(by_name))


# Training schedule options (Burgess et al. 2018; Abdi et al. 2019), for every method.
flags.DEFINE_float("capacity_max", None, "Progressive capacity: replace KL by |KL - C(t)|, C growing linearly "
                   "to this value (nats). Off by default.", lower_bound=0.0)
flags.DEFINE_integer("capacity_steps", 100000, "Progressive capacity: steps for C to reach --capacity_max.",
                     lower_bound=1)
flags.DEFINE_integer("capacity_start", 0, "Progressive capacity: step at which C starts growing.", lower_bound=0)
flags.DEFINE_string("init_from", None, "Warm start: initialise encoder and decoder from this run directory or "
                    "checkpoint (e.g. a pre-trained plain VAE).")
flags.DEFINE_integer("lr_plateau_patience", 0, "Reduce the learning rate when the loss has not improved for this "
                     "many logging intervals (0: off).", lower_bound=0)
flags.DEFINE_float("lr_plateau_factor", 0.5, "Factor applied to the learning rate on a plateau.")
flags.DEFINE_float("lr_plateau_min_lr", 1e-6, "Lower bound of the learning rate on plateaus.", lower_bound=0.0)

flags.DEFINE_list("eval_metrics", [], "Metric progress during training: metrics (as in tfdisent-evaluate, e.g. "
                  "mig,dci) computed on the current encoder every --eval_every steps and logged to TensorBoard "
                  f"as metrics/<metric>/<score>. Known: {', '.join(metric_names())}.")
flags.DEFINE_integer("eval_every", 0, "Steps between metric evaluations (0: at every --checkpoint_every).",
                     lower_bound=0)
flags.DEFINE_multi_string("eval_metric_override", [], "Setting of a progress metric, METRIC.KEY=VALUE "
                          "(repeatable), e.g. dci.num_train=2000.")
flags.DEFINE_integer("eval_seed", 0, "Seed of the samples drawn by the progress metrics (the same every time).")

flags.DEFINE_integer("checkpoint_every", 1000, "Save a checkpoint every this many steps.", lower_bound=1)
flags.DEFINE_float("checkpoint_secs", 60.0, "Also save when this many seconds passed since the last save.",
                   lower_bound=0.0)
flags.DEFINE_integer("log_every", 100, "Console and TensorBoard scalars every this many steps.", lower_bound=1)
flags.DEFINE_integer("image_every", 1000, "TensorBoard reconstruction/traversal images every this many steps "
                     "(0: off).", lower_bound=0)
flags.DEFINE_integer("eval_batches", 1000, "Held-out batches of the end-of-training evaluation (losses, KL per "
                     "latent, active latents in results/train_results.json; disentanglement_lib: 1000).",
                     lower_bound=0)
flags.DEFINE_boolean("export", True, "Export the SavedModel to <output_dir>/export/<step>/ at the end.")

# Training-distribution protocols (issue 20); metrics always evaluate on the full, uncorrelated grid.
flags.DEFINE_list("correlated_factors", [], "Correlated factors during training (Träuble et al. 2021): pairs A:B "
                  "of factor names or indices, e.g. pos_x:pos_y or shape:scale,pos_x:pos_y; needs "
                  "--correlation_strength.")
flags.DEFINE_string("correlation_strength", None, "sigma of the correlated pairs: weight exp(-(c_A - c_B)^2 / "
                   "(2 sigma^2)) on factors scaled to [0, 1]; > 0, smaller is stronger (0.1 strong, 0.4 weak), inf "
                   "is uncorrelated.")
flags.DEFINE_string("heldout_split", None,
                    "random, composition, interpolation or extrapolation. Held-out factor combinations (Schott et al. 2022): train only on this split's train part of "
                    "the factor grid (score the held-out part with the heldout_r2 metric, same split settings).")
flags.DEFINE_float("heldout_train_fraction", 0.3, "Share of the factor grid in the split's train part "
                   "(the reference's 0.3).")
flags.DEFINE_integer("heldout_seed", 0, "Seed of the random split.")

# After every other flag, so a plugin hyperparameter that clashes with one is a one-line error.
_HYPERPARAMETER_FLAGS = _define_hyperparameter_flags()

_CONFIG_FLAGS = ("method", "dataset", "data_dir", "architecture", "likelihood", "latent_dim", "steps",
                 "batch_size", "learning_rate", "seed", "data_seed", "capacity_max", "capacity_steps",
                 "capacity_start", "init_from", "lr_plateau_patience", "lr_plateau_factor", "lr_plateau_min_lr",
                 "jit_compile", "precision", "checkpoint_every", "checkpoint_secs", "log_every", "image_every",
                 "eval_batches", "export", "correlated_factors", "correlation_strength", "heldout_split",
                 "heldout_train_fraction", "heldout_seed")

# Measured on the quiet 2-core CPU machine of BUILD_NOTES.md (2026-11-30, the default run: beta_tcvae,
# dlib_conv, batch 64, 3000 steps at 1077 img/s on average, warm-up included).
_MEASURED_IMAGES_PER_SECOND = 1000



def _hyperparameters(method: str) -> dict:
    allowed = {h.name for h in METHODS[method].hyperparameters}
    chosen = {}
    for name in _HYPERPARAMETER_FLAGS:
        if FLAGS[name].value is None:
            continue
        if name not in allowed:
            _fail(f"--{name} does not apply to --method={method} (its hyperparameters: "
                  f"{', '.join(sorted(allowed)) or 'none'})")
        chosen[name] = FLAGS[name].value
    return chosen


def _strength(text):
    """--correlation_strength as a float (inf allowed); a one-line error for anything else."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        _fail(f"--correlation_strength must be a number > 0 (or inf), got {text!r}")


def _precision_flag():
    """--precision, or mixed_float16 from the deprecated --mixed_precision; None when neither is given."""
    try:
        return legacy_precision(FLAGS["mixed_precision"].present and FLAGS.mixed_precision,
                                FLAGS.precision if FLAGS["precision"].present else None)
    except RunConfigError as error:
        _fail(str(error))


def _make_config(run_dir: str):
    from tfdisent.training import CONFIG_FILE, RunConfigError, TrainConfig

    precision = _precision_flag()
    saved_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(saved_path):
        # Resume: the saved settings, overridden only by flags given on this command line.
        # A different --method is refused by the Trainer's resumability check, like any other change.
        config = TrainConfig.load(saved_path)
        saved_method = config.method
        for name in _CONFIG_FLAGS:
            if FLAGS[name].present:
                setattr(config, name, FLAGS[name].value)
        if FLAGS["correlation_strength"].present:
            config.correlation_strength = _strength(FLAGS.correlation_strength)
        if precision is not None:
            config.precision = precision
        overrides = _hyperparameters(config.method)
        # Another method's saved hyperparameters do not carry over (the Trainer refuses the switch).
        saved = config.hyperparameters if config.method == saved_method else {}
        config.hyperparameters = {**saved, **overrides}
        return config
    values = {name: FLAGS[name].value for name in _CONFIG_FLAGS}
    values["correlation_strength"] = _strength(values["correlation_strength"])
    values["precision"] = precision or values["precision"]
    config = TrainConfig(hyperparameters=_hyperparameters(FLAGS.method), **values)
    try:
        config.validate_protocols()  # before anything is built: a one-line error for bad protocol flags
    except RunConfigError as error:
        _fail(str(error))
    return config


def _progress_callbacks() -> list:
    if not FLAGS.eval_metrics:
        if FLAGS.eval_metric_override:
            _fail("--eval_metric_override needs --eval_metrics")
        return []
    from tfdisent import metrics
    from tfdisent.evaluation.progress import metric_progress_callback

    overrides = {}
    for item in FLAGS.eval_metric_override:
        name_key, sep, value = item.partition("=")
        name, dot, key = name_key.partition(".")
        if not sep or not dot:
            _fail(f"--eval_metric_override expects METRIC.KEY=VALUE, got {item!r}")
        try:
            overrides.setdefault(name, {})[key] = metrics.parse_setting(name, key, value)
        except metrics.MetricError as e:
            _fail(str(e))
    try:
        return [metric_progress_callback(FLAGS.eval_metrics, FLAGS.eval_seed, overrides)]
    except metrics.MetricError as e:
        _fail(str(e))


def _protocol_summary(config, training_data) -> str:
    if config.correlated_factors:
        return (f"correlated factors {', '.join(config.correlated_factors)} at sigma={config.correlation_strength:g} "
                f"(Träuble et al. 2021)")
    return (f"the {config.heldout_split} split's train part, {training_data.num_examples} grid points "
            f"(Schott et al. 2022)")


def check_flags(argv) -> None:
    """Every check of the parsed flags that needs no data, run directory or training (one-line error,
    exit 2). ``main`` starts with it; tests/test_commands.py runs it on every documented command."""
    check_plugins("tfdisent-train", FLAGS.plugins)
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    _hyperparameters(FLAGS.method)
    _progress_callbacks()  # metric names and overrides (cheap: nothing is computed until training)


def main(argv):
    check_flags(argv)
    from tfdisent.data import DatasetError
    from tfdisent.training import Interrupted, NonFiniteLossError, RunConfigError, Trainer
    from tfdisent.training.precision import speed_factor

    run_dir = FLAGS.output_dir or os.path.join(
        "runs", f"{FLAGS.method}_{FLAGS.dataset}_{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        config = _make_config(run_dir)  # a corrupt saved config.json is a one-line error too
        callbacks = _progress_callbacks()
        if issubclass(METHODS[config.method], SemiSupervised):
            # Validation MIG/DCI/SAP on the method's held-out labels (Locatello et al. 2020b).
            from tfdisent.evaluation.validation import validation_metrics_callback
            callbacks.append(validation_metrics_callback())
        eval_every = FLAGS.eval_every or config.checkpoint_every
        trainer = Trainer(config, run_dir, callbacks=callbacks, eval_every=eval_every)
        config = trainer.config  # resolved: architecture, every hyperparameter
        logging.info("run directory: %s", os.path.abspath(run_dir))
        hyperparameters = ", ".join(f"{k}={v}" for k, v in config.hyperparameters.items())
        logging.info("%s (%s) on %s (%s, d=%d, batch %d, %d steps, XLA %s, %s)", config.method, hyperparameters or
                     "no hyperparameters", trainer.dataset.describe(), config.architecture, config.latent_dim,
                     config.batch_size, config.steps, trainer.jit, config.precision)
        if trainer.training_data is not trainer.dataset:
            logging.info("training distribution: %s (metrics evaluate on the full, uncorrelated grid)",
                         _protocol_summary(config, trainer.training_data))
        remaining = max(config.steps - trainer.step, 0) * config.batch_size
        seconds = remaining / _MEASURED_IMAGES_PER_SECOND / speed_factor(config.precision)
        expected = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(seconds, 1):.0f} s"
        logging.info("expect roughly %s of training on a quiet 2-core CPU (~%d img/s measured for the default "
                     "beta_tcvae; a busy machine is slower, a GPU far faster), then the held-out evaluation; "
                     "progress and ETA every --log_every=%d steps", expected, _MEASURED_IMAGES_PER_SECOND,
                     config.log_every)
        results = trainer.train()
    except (RunConfigError, DatasetError, ValueError) as e:
        _fail(str(e))
    except NonFiniteLossError as e:
        _fail(str(e), code=3)
    except Interrupted as e:
        print(f"tfdisent-train: {e}; rerun the same command to resume", file=sys.stderr)
        sys.exit(128 + e.signum)
    evaluation = results.get("eval") or results.get("train", {})
    summary = ", ".join(f"{k}={significant(evaluation[k])}" for k in ("loss", "reconstruction", "kl", "elbo")
                        if k in evaluation)
    active = evaluation.get("active_latents")
    from tfdisent.bin.next_steps import train_next_steps
    print_closing([f"done: step {results['step']}; held-out {summary}"
                   + (f"; {active} active latents" if active is not None else ""),
                   f"run directory: {os.path.abspath(run_dir)}"],
                  train_next_steps(run_dir, bool(results.get("export")), FLAGS.plugins))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
