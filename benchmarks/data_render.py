"""Benchmarks the dSprites data path (Higgins et al. 2017 images, Locatello et al. 2019 feeding).

Prints: patch-bank render time (cold, empty cache) and load time (warm cache), the time to
enumerate all 737,280 images, resident memory (RSS), and images/s fed by ``tf_batch_fn`` in a
``Dataset.random(seed).batch(B).map(fn).prefetch`` pipeline for dsprites and each variant.
With ``--official`` it also writes an official-layout npz of the full grid (from the renderer,
so no download) and measures loading it bit-packed.

    python benchmarks/data_render.py                       # ~30 s
    python benchmarks/data_render.py --batches 300 --official
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import zipfile

import numpy as np

from tfdisent.data import dsprites as dsp


def rss_mb() -> float:
    """Current resident set size in MB (/proc), falling back to the peak (getrusage)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def enumerate_all(dataset: dsp.DSprites, chunk: int = 16384) -> float:
    """Materialises every image once (chunk by chunk) and returns the mean pixel value."""
    total = 0
    for start in range(0, dataset.num_examples, chunk):
        indices = np.arange(start, min(start + chunk, dataset.num_examples))
        total += int(dataset.binary_images(indices).sum(dtype=np.int64))
    return total / (dataset.num_examples * dsp.IMAGE_SIZE ** 2)


def feed_rate(dataset, batch_size: int, batches: int, warmup: int) -> float:
    import tensorflow as tf

    fn = dataset.tf_batch_fn()
    pipeline = (tf.data.Dataset.random(seed=0).batch(batch_size)
                .map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    iterator = iter(pipeline)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def write_official_like_file(path: str, dataset: dsp.DSprites, chunk: int = 16384) -> None:
    """The full grid in the official npz layout, streamed into the zip so 3 GB never sit in
    memory; fast deflate because only the loader is being measured."""
    num = dataset.num_examples
    factors = np.stack(np.unravel_index(np.arange(num), dsp.FACTOR_SIZES), axis=1)
    classes = np.concatenate([np.zeros((num, 1), np.int64), factors], axis=1)
    values = np.concatenate([np.ones((num, 1)), factors.astype(np.float64)], axis=1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in (("latents_classes", classes), ("latents_values", values)):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array)
        with archive.open("imgs.npy", "w", force_zip64=True) as member:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                      "fortran_order": False, "shape": (num, 64, 64)}
            np.lib.format.write_array_header_1_0(member, header)
            for start in range(0, num, chunk):
                member.write(dataset.binary_images(
                    np.arange(start, min(start + chunk, num))).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=200, help="timed batches per dataset")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--datasets", default="dsprites,color_dsprites,noisy_dsprites,"
                                                "scream_dsprites")
    parser.add_argument("--official", action="store_true",
                        help="also write and load a full official-layout npz (~1-2 min)")
    args = parser.parse_args()

    print(f"RSS at start: {rss_mb():.0f} MB")
    cache_dir = tempfile.mkdtemp(prefix="tfdisent_bench_")
    try:
        _, cold = timed(lambda: dsp.DSprites(cache_dir=cache_dir))
        dataset, warm = timed(lambda: dsp.DSprites(cache_dir=cache_dir))
        print(f"patch bank render + cache write (cold): {cold * 1e3:.0f} ms; "
              f"load from cache (warm): {warm * 1e3:.1f} ms; "
              f"resident images: {dataset.resident_bytes / 2 ** 20:.1f} MB")
        mean, seconds = timed(lambda: enumerate_all(dataset))
        print(f"enumerate all {dataset.num_examples:,} images: {seconds:.2f} s "
              f"({dataset.num_examples / seconds:,.0f} img/s), mean pixel {mean:.4f}")
        print(f"RSS after dsprites: {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)")

        from tfdisent.data.registry import load_dataset
        for name in args.datasets.split(","):
            feeder = load_dataset(name, cache_dir=cache_dir)
            rate = feed_rate(feeder, args.batch_size, args.batches, args.warmup)
            print(f"tf.data {name:16s}: {rate:10,.0f} img/s (batch {args.batch_size})")
        print(f"RSS after tf.data: {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)")

        if args.official:
            data_dir = os.path.join(cache_dir, "official")
            os.makedirs(data_dir)
            path = os.path.join(data_dir, dsp.OFFICIAL_FILENAME)
            _, seconds = timed(lambda: write_official_like_file(path, dataset))
            print(f"wrote official-layout npz ({os.path.getsize(path) / 2 ** 20:.0f} MB) "
                  f"in {seconds:.1f} s")
            before = rss_mb()
            official, seconds = timed(lambda: dsp.DSprites(data_dir=data_dir))
            print(f"load official npz bit-packed: {seconds:.1f} s, "
                  f"{official.resident_bytes / 2 ** 20:.0f} MB packed, RSS +{rss_mb() - before:.0f}"
                  f" MB (peak {peak_rss_mb():.0f} MB)")
            sample = np.random.RandomState(0).randint(0, official.num_examples, 2000)
            assert np.array_equal(official.binary_images(sample), dataset.binary_images(sample))
            rate = feed_rate(official, args.batch_size, args.batches, args.warmup)
            print(f"tf.data dsprites (official, packed): {rate:,.0f} img/s; "
                  f"RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)")
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
