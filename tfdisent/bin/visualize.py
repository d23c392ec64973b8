r"""tfdisent-visualize: pictures of a trained run and a TensorBoard Embedding Projector run.

    tfdisent-visualize --model_dir=runs/beta_tcvae_dsprites
    tensorboard --logdir runs/beta_tcvae_dsprites/logs     # Projector tab: colour by shape, scale, ...

Writes to --output_dir (default <model_dir>/visualizations): latent traversal grids per sample
(rows = latents sorted by average KL, active ones framed in orange), the five animated traversal
GIFs of disentanglement_lib (std_gaussian, fitted_gaussian, fixed_interval, conf_interval,
minmax_interval cycles), reconstructions beside their inputs, prior samples, and a bar chart of
the KL per latent. The projector run goes to <model_dir>/logs/projector: the encoder means of
--projector_points dataset samples, a metadata TSV with one column per ground-truth factor, and a
sprite of the inputs. The model is the run's exported SavedModel; the dataset is the run's.
"""

from __future__ import annotations

import os

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, load_plugins, print_closing, quiet_tensorflow_logs)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-visualize")

from absl import app, flags, logging  # noqa: E402


FLAGS = flags.FLAGS
define_plugins_flag()

flags.DEFINE_string("model_dir", None, "Run directory written by tfdisent-train (holds config.json and "
                    "export/<version>/), or a disentanglement_lib model (its model/tfhub TF1 Hub module or "
                    "the folder holding it). Loading a model runs its graph: only load models you trust.")
flags.DEFINE_string("dataset", None, "Dataset to draw, overriding the one recorded with the model (needed for a "
                    "disentanglement_lib module without results/gin/train.gin).")
flags.DEFINE_string("output_dir", None, "Where the pictures go. Default: <model_dir>/visualizations.")
flags.DEFINE_integer("num_samples", 5, "Dataset samples whose codes are traversed: one PNG grid and five GIFs "
                     "each.", lower_bound=1)
flags.DEFINE_integer("projector_points", 2000, "Points of the Embedding Projector run (0: no projector).",
                     lower_bound=0)
flags.DEFINE_boolean("gifs", True, "Write the animated traversals (--nogifs to skip them).")
flags.DEFINE_integer("seed", 0, "Seed of the dataset sample and of the prior samples.")
flags.DEFINE_string("data_dir", None, "Dataset files location, overriding the run's config.json (e.g. on another "
                    "machine).")
flags.DEFINE_integer("export_version", None, "Export version to draw. Default: the latest under <model_dir>/export.")
flags.DEFINE_integer("num_values", 11, "Columns of the traversal grids.", lower_bound=2)
flags.DEFINE_float("traversal_limit", 2.0, "Traversal grids sweep each latent over [-limit, limit].",
                   lower_bound=0.0)
flags.DEFINE_integer("num_frames", 20, "Frames per animated traversal.", lower_bound=2)
flags.DEFINE_float("fps", 10.0, "Frames per second of the GIFs.", lower_bound=0.1)
flags.DEFINE_float("active_kl_threshold", 0.5, "A latent is marked active when its average KL to the prior "
                   "is at least this many nats.", lower_bound=0.0)


_fail = failer("tfdisent-visualize")


def check_flags(argv) -> None:
    """The checks of the parsed flags that need no model (one-line error, exit 2; the model path is
    checked by ``locate_run``); ``main`` starts with them, tests/test_commands.py runs them on every
    documented command."""
    check_plugins("tfdisent-visualize", FLAGS.plugins)
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")


def main(argv):
    check_flags(argv)
    from tfdisent.visualize.run_dir import RunDirError, locate_run

    try:  # checked before the TensorFlow import so that a wrong path fails at once
        locate_run(FLAGS.model_dir, FLAGS.export_version)
    except RunDirError as error:
        _fail(str(error))
    import logging as std_logging

    from tfdisent.data import DatasetError
    from tfdisent.visualize.visualize_model import visualize_run
    std_logging.getLogger("tensorflow").setLevel(std_logging.WARNING)  # after the import, which resets it

    try:
        summary = visualize_run(FLAGS.model_dir, FLAGS.output_dir, FLAGS.num_samples, FLAGS.projector_points,
                                FLAGS.gifs, FLAGS.seed, FLAGS.data_dir, FLAGS.export_version, FLAGS.num_values,
                                FLAGS.traversal_limit, FLAGS.num_frames, FLAGS.fps, FLAGS.active_kl_threshold,
                                dataset_name=FLAGS.dataset)
    except (RunDirError, DatasetError, ValueError, OSError) as error:
        _fail(str(error))
    files = summary["files"]
    count = sum(len(v) if isinstance(v, list) else 1 for v in files.values())
    logging.info("wrote %d files in %.1f s", count, summary["seconds"])
    from tfdisent.bin.next_steps import visualize_next_steps
    print_closing([f"done: {count} files, {len(summary['active_latents'])}/{len(summary['kl_per_dimension'])} "
                   f"active latents -> {os.path.dirname(files['kl_chart'])}"],
                  visualize_next_steps(summary["run_dir"], "projector" in files))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
