r"""tfdisent-encode: sends images to a TF Serving model server and writes their representations.

    # REST (default; no TensorFlow import, starts fast), PNG files -> CSV
    tfdisent-encode --server=localhost:8501 --inputs='imgs/*.png' --output=codes.csv
    # gRPC, a .npy batch -> .npy of encoder means
    tfdisent-encode --protocol=grpc --server=localhost:8500 --inputs=batch.npy --output=codes.npy
    # 500 dSprites samples with their ground-truth factors -> CSV
    tfdisent-encode --dataset=dsprites --num_images=500 --output=codes.csv

The server is ``tensorflow_model_server`` serving ``<run>/export`` (serving/README.md) or the local
double ``python -m tfdisent.serving_double``. uint8 pixels go to the ``encode_uint8``
signature, float images in [0, 1] to ``serving_default``.
"""

from __future__ import annotations

import os
import time

from tfdisent.bin.common import (  # noqa: E402
    check_plugins, define_plugins_flag, failer, load_plugins, quiet_tensorflow_logs)

quiet_tensorflow_logs()
# Plugins first: their methods, metrics and datasets are flag values below.
load_plugins("tfdisent-encode")

from absl import app, flags  # noqa: E402


FLAGS = flags.FLAGS
define_plugins_flag()

flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "Transport: TF Serving's REST JSON API or gRPC "
                  "PredictionService.")
flags.DEFINE_string("server", None, "host:port of the server. Default localhost:8501 (rest) or localhost:8500 (grpc).")
flags.DEFINE_enum("rest_format", "row", ["row", "columnar"], "REST request form: row ('instances') or columnar "
                  "('inputs').")
flags.DEFINE_string("model_name", "tfdisent", "Model name on the server (--model_name of tensorflow_model_server).")
flags.DEFINE_integer("model_version", None, "Version to address; default: the latest the server serves.")
flags.DEFINE_string("signature", None, "Signature to call. Default: encode_uint8 for uint8 pixels (image files, "
                    "uint8 .npy), serving_default for float images in [0, 1].")
flags.DEFINE_list("inputs", [], "Image files, .npy arrays, directories or glob patterns (comma separated).")
flags.DEFINE_string("dataset", None, "Encode samples of this ground-truth dataset instead of files; the CSV/NPZ "
                    "output then carries the factors.")
flags.DEFINE_integer("num_images", 100, "Dataset samples to encode (with --dataset).", lower_bound=1)
flags.DEFINE_string("data_dir", None, "Folder of the dataset's official files (with --dataset).")
flags.DEFINE_integer("seed", 0, "Seed of the dataset sample and of --representation=sampled.")
flags.DEFINE_string("output", None, "Where to write: .npy (representations [N, d]), .csv (source, z0.., factors) "
                    "or .npz (mean, logvar, representation, factors).")
flags.DEFINE_enum("representation", "mean", ["mean", "sampled"], "mean: encoder means (disentanglement_lib's "
                  "default); sampled: mean + exp(logvar/2) * N(0, 1).")
flags.DEFINE_integer("batch_size", 64, "Images per request.", lower_bound=1)
flags.DEFINE_float("timeout", 60.0, "Seconds to wait for each request.", lower_bound=0.1)


_fail = failer("tfdisent-encode")


def check_flags(argv) -> None:
    """The checks of the parsed flags that need no server and no files (one-line error, exit 2); ``main``
    starts with them and tests/test_commands.py runs them on every documented command."""
    check_plugins("tfdisent-encode", FLAGS.plugins)
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])} (give files with --inputs)")
    if not FLAGS.output:
        _fail("--output is required (.npy, .csv or .npz)")
    if bool(FLAGS.inputs) == bool(FLAGS.dataset):
        _fail("give exactly one of --inputs (files) or --dataset")


def main(argv):
    check_flags(argv)
    from tfdisent.data import DatasetError
    from tfdisent.export import client as serving_client
    from tfdisent.export.status import ServingError

    factors = factor_names = None
    try:
        if FLAGS.dataset:
            images, factors, factor_names, sources = serving_client.dataset_images(
                FLAGS.dataset, FLAGS.num_images, FLAGS.seed, FLAGS.data_dir)
        else:
            images, sources = serving_client.load_images(serving_client.expand_paths(FLAGS.inputs))
        client = serving_client.make_client(FLAGS.protocol, FLAGS.server, FLAGS.model_name, FLAGS.model_version,
                                            FLAGS.timeout)
        start = time.time()
        outputs = serving_client.encode(client, images, FLAGS.batch_size, FLAGS.signature, FLAGS.rest_format)
        elapsed = time.time() - start
        path = serving_client.write_representations(FLAGS.output, outputs, FLAGS.representation, sources, factors,
                                                    factor_names, FLAGS.seed)
    except ServingError as error:
        _fail(f"server refused the request ({error.code}): {error.message}", code=1)
    except (OSError, ValueError, DatasetError) as error:
        _fail(str(error))
    print(f"encoded {len(images)} images via {FLAGS.protocol} in {elapsed:.2f} s -> {os.path.abspath(path)} "
          f"({FLAGS.representation}, d={outputs['mean'].shape[1]})")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
