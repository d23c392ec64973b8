"""Encoder throughput of tfdisent-evaluate against the encoder's plain forward rate, side by side.

A random-init ``dlib_conv`` encoder (64x64x1, d = 10; throughput does not depend on the weights) is
exported with ``export_saved_model`` exactly as training does, then the same images are encoded by:

* ``forward``: the Keras encoder inside one ``tf.function`` on a batch already in TensorFlow (no
  numpy, no SavedModel): the rate the training benchmark's forward pass runs at;
* ``evaluator``: :class:`tfdisent.evaluation.representation.GaussianEncoder` (what
  ``tfdisent-evaluate`` uses), float32 numpy in, numpy out, at several ``--encode_batch_size``;
* ``evaluator uint8``: the same with uint8 pixels (the export's ``encode_uint8`` signature; a
  quarter of the bytes to copy);
* ``metric path``: ``tfdisent.metrics.utils.generate_batch_factor_code`` on procedural dSprites
  (sampling + rendering + encoding, as every metric runs it), in images/s.

Variants are interleaved over ``--rounds`` and the median is printed with its ratio to ``forward``.

    python benchmarks/encode_speed.py                 # 8192 images, 3 rounds
    python benchmarks/encode_speed.py --images=4096 --rounds=2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

# This checkout's tfdisent, not an installed copy (python puts benchmarks/ first on the path).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch_sizes", default="128,256,512,1024,4096")
    args = parser.parse_args()

    import tensorflow as tf

    from tfdisent.data import load_dataset
    from tfdisent.evaluation.representation import GaussianEncoder
    from tfdisent.export import export_saved_model
    from tfdisent.metrics import utils
    from tfdisent.models import build_architecture

    shape, latent_dim, count = (64, 64, 1), 10, args.images
    encoder, decoder = build_architecture("dlib_conv", shape, latent_dim)
    encoder(np.zeros((1,) + shape, np.float32))
    decoder(np.zeros((1, latent_dim), np.float32))
    export = export_saved_model(encoder, decoder, tempfile.mkdtemp(prefix="encode_speed_"), shape, latent_dim,
                                version=1, warmup=False)
    dataset = load_dataset("dsprites")
    images = dataset.sample_observations(count, np.random.RandomState(0)).astype(np.float32)
    pixels = np.round(images * 255).astype(np.uint8)

    forward = tf.function(lambda batch: encoder(batch, training=False))
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    evaluators = {size: GaussianEncoder(export, shape, batch_size=size) for size in batch_sizes}

    def forward_at(size):
        in_graph = tf.constant(images[:size])

        def run():
            for _ in range(count // size):
                forward(in_graph)
        return run

    variants = {"forward (Keras tf.function, batch 1024)": forward_at(1024),
                "forward (Keras tf.function, batch 256)": forward_at(256)}
    for size, evaluator in evaluators.items():
        variants[f"evaluator float32, batch {size}"] = (lambda e: lambda: e.encode(images))(evaluator)
    default = GaussianEncoder(export, shape)  # the evaluator's default batch size
    variants[f"evaluator uint8, batch {default.batch_size}"] = lambda: default.encode(pixels)
    representation = lambda x: default.encode(x)[0]  # noqa: E731
    variants[f"metric path (sample + render + encode, batch {default.batch_size})"] = lambda: utils.generate_batch_factor_code(
        dataset, representation, count, np.random.RandomState(1), 16)

    for function in variants.values():  # warm-up: traces, first allocations
        function()
    seconds = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, function in variants.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    rates = {name: count / float(np.median(values)) for name, values in seconds.items()}
    reference = rates["forward (Keras tf.function, batch 1024)"]
    width = max(len(name) for name in rates)
    import tfdisent
    print(f"\n{count} images 64x64x1, dlib_conv d=10, median of {args.rounds} interleaved rounds "
          f"(CPU: {os.cpu_count()} cores; tfdisent from {os.path.dirname(tfdisent.__file__)})")
    print(f"{'variant':<{width}}  {'img/s':>8}  vs forward")
    for name, rate in rates.items():
        print(f"{name:<{width}}  {rate:8.0f}  {rate / reference:6.2f}")


if __name__ == "__main__":
    main()
