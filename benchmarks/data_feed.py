"""Images/s each file-backed dataset feeds through ``tf.data``: the generic numpy path (a generator of
``sample_observations`` batches) versus the dataset's ``tf_batch_fn`` when it has one.

Files are generated in each official format with realistic image sizes but reduced grids, in a
temporary folder (about 0.5 GB, removed afterwards). Also measured: construction time (decoding and
resizing for the in-RAM datasets, extrapolated to the full set) and the one-time .npy extraction rates
for compressed MPI3D and badly chunked 3dshapes files.

    python benchmarks/data_feed.py [--seconds 2] [--batch_size 64] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfdisent.data import load_dataset  # noqa: E402


def grid(sizes):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


def render(codes, size, channels, rng):
    """Cheap stand-in renders: a factor-dependent background and a square, plus mild noise, so the
    files compress roughly like real renders."""
    codes = np.asarray(codes, dtype=np.int64)
    colour = (codes[:, :channels] * 53 + 20) % 256 if codes.shape[1] >= channels else \
        np.repeat(codes[:, :1] * 37 % 256, channels, axis=1)
    images = np.empty((len(codes), size, size, channels), dtype=np.uint8)
    images[:] = colour[:, None, None, :].astype(np.uint8)
    side = size // 3
    images[:, side:2 * side, side:2 * side] = 255 - images[:, :1, :1]
    images ^= rng.randint(0, 4, size=images.shape, dtype=np.uint8)
    return images


def write_shapes3d(path, sizes, rng, **layout):
    import h5py

    codes = grid(sizes)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("images", data=render(codes, 64, 3, rng), **layout)
        handle.create_dataset("labels", data=codes.astype(np.float64))


def write_norb_matrix(path, array, magic):
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    with open(path, "wb") as handle:
        handle.write(np.array([magic, array.ndim] + dims, dtype="<i4").tobytes())
        handle.write(array.astype(np.uint8 if magic == 0x1E3D4C55 else "<i4").tobytes())


def write_smallnorb(directory, rng):
    prefixes = {"training": "smallnorb-5x46789x9x18x6x2x96x96-training",
                "testing": "smallnorb-5x01235x9x18x6x2x96x96-testing"}
    total = 0
    for split, instances in (("training", (4, 6)), ("testing", (0, 1))):
        rows = np.array([(c, i, e, a, l) for c in range(5) for i in instances for e in range(3)
                         for a in range(0, 12, 2) for l in range(6)])
        images = render(rows, 96, 1, rng)[..., 0]
        prefix = os.path.join(directory, prefixes[split])
        write_norb_matrix(prefix + "-dat.mat", np.stack([images, images], axis=1), 0x1E3D4C55)
        write_norb_matrix(prefix + "-cat.mat", rows[:, 0], 0x1E3D4C54)
        write_norb_matrix(prefix + "-info.mat", rows[:, 1:], 0x1E3D4C54)
        total += len(rows)
    return total


def write_cars(directory, num_objects, rng):
    import scipy.io

    os.makedirs(directory, exist_ok=True)
    for obj in range(num_objects):
        views = grid((24, 4))
        codes = np.concatenate([views, np.full((96, 1), obj)], axis=1)
        im = render(codes, 128, 3, rng).reshape(24, 4, 128, 128, 3).transpose(2, 3, 4, 0, 1)
        scipy.io.savemat(os.path.join(directory, f"car_{obj:03d}_mesh.mat"), {"im": im},
                         do_compression=True)


def write_fashion_mnist(directory, rng, count=60000):
    labels = rng.randint(0, 10, size=count).astype(np.uint8)
    images = render(np.stack([labels] * 3, axis=1), 28, 1, rng)[..., 0]
    for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">i4").tobytes())
            handle.write(array.tobytes())


def write_celeba(directory, count, rng):
    from PIL import Image

    folder = os.path.join(directory, "img_align_celeba")
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        image = np.zeros((218, 178, 3), np.uint8)
        image[:] = rng.randint(0, 256, size=3)
        image[60:160, 40:140] = rng.randint(0, 256, size=3)
        image ^= rng.randint(0, 8, size=image.shape, dtype=np.uint8)
        Image.fromarray(image).save(os.path.join(folder, f"{i + 1:06d}.jpg"), quality=90)


# ------------------------------------------------------------------------------------------------

def feed_rate(dataset, seconds, warmup_batches=5):
    """Images/s drawn from a tf.data pipeline (after a few warm-up batches)."""
    iterator = iter(dataset)
    for _ in range(warmup_batches):
        next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += int(next(iterator).shape[0])
    return count / (time.perf_counter() - start)


def numpy_pipeline(data, batch_size, seed=0):
    import tensorflow as tf

    def batches():
        random_state = np.random.RandomState(seed)
        while True:
            yield data.sample_observations(batch_size, random_state)

    spec = tf.TensorSpec((batch_size,) + tuple(data.observation_shape), tf.float32)
    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def tf_batch_pipeline(data, batch_size, seed=0):
    import tensorflow as tf

    batch_fn = data.tf_batch_fn()
    if batch_fn is None:
        return None
    return (tf.data.Dataset.random(seed=seed).batch(batch_size, drop_remainder=True)
            .map(batch_fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per pipeline")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--workdir", default=None, help="where to write the files (default: tmp)")
    args = parser.parse_args(argv)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)  # the reduced-grid warnings are expected here
    import tensorflow as tf  # noqa: F401  (imported before timing)

    os.environ.pop("TFDISENT_CACHE_DIR", None)  # caches go next to the generated files

    rng = np.random.RandomState(0)
    root = tempfile.mkdtemp(prefix="tfdisent_feed_", dir=args.workdir)
    rows, notes = [], []
    try:
        def add(label, make, full_size=None):
            data, load_s = timed(make)
            count = data.num_examples
            numpy_rate = feed_rate(numpy_pipeline(data, args.batch_size), args.seconds)
            graph = tf_batch_pipeline(data, args.batch_size)
            graph_rate = feed_rate(graph, args.seconds) if graph is not None else None
            full = f"{load_s * full_size / count:.0f} s" if full_size else "-"
            rows.append((label, count, f"{load_s:.2f}", full, numpy_rate, graph_rate))
            print(f"  measured {label}", file=sys.stderr)

        # 3dshapes: 4x4x4x4x4x5 = 5120 images in three HDF5 layouts.
        sizes = (4, 4, 4, 4, 4, 5)
        for layout_name, layout in (("contiguous", {}),
                                    ("gzip 1 img/chunk", dict(chunks=(1, 64, 64, 3),
                                                              compression="gzip")),
                                    ("gzip auto chunks", dict(chunks=True, compression="gzip"))):
            folder = os.path.join(root, "shapes3d_" + layout_name.replace(" ", "_").replace("/", ""))
            os.makedirs(folder)
            write_shapes3d(os.path.join(folder, "3dshapes.h5"), sizes, rng, **layout)
            add(f"shapes3d ({layout_name})", lambda: load_dataset("shapes3d", data_dir=folder))
            if layout_name == "gzip auto chunks":
                data = load_dataset("shapes3d", data_dir=folder, extract=False)
                slow = feed_rate(numpy_pipeline(data, args.batch_size), args.seconds, 1)
                rows.append(("shapes3d (gzip auto, no cache)", data.num_examples, "-", "-", slow, None))
                for name in os.listdir(folder):
                    if name.startswith("3dshapes.images."):
                        os.remove(os.path.join(folder, name))
                _, extract_s = timed(lambda: load_dataset("shapes3d", data_dir=folder))
                notes.append(f"3dshapes one-time .npy copy of an auto-chunked gzip file: "
                             f"{5120 / extract_s:,.0f} images/s -> ~{480000 * extract_s / 5120:.0f} s "
                             f"for the full 480,000")

        norb_dir = os.path.join(root, "smallnorb")
        os.makedirs(norb_dir)
        write_smallnorb(norb_dir, rng)
        add("smallnorb (96->64 resize)", lambda: load_dataset("smallnorb", data_dir=norb_dir), 48600)

        cars_dir = os.path.join(root, "cars3d")
        write_cars(os.path.join(cars_dir, "cars"), 8, rng)
        add("cars3d (128->64 resize)", lambda: load_dataset("cars3d", data_dir=cars_dir), 17568)

        mpi_sizes = (2, 2, 2, 3, 3, 10, 10)
        mpi_dir = os.path.join(root, "mpi3d")
        os.makedirs(mpi_dir)
        images = render(grid(mpi_sizes), 64, 3, rng)
        np.savez(os.path.join(mpi_dir, "mpi3d_toy.npz"), images=images)
        np.savez_compressed(os.path.join(mpi_dir, "mpi3d_real.npz"), images=images)
        del images
        add("mpi3d_toy (npz mmap)",
            lambda: load_dataset("mpi3d_toy", data_dir=mpi_dir, factor_sizes=mpi_sizes))
        _, extract_s = timed(lambda: load_dataset("mpi3d_real", data_dir=mpi_dir,
                                                  factor_sizes=mpi_sizes))
        num = int(np.prod(mpi_sizes))
        megabytes = num * 64 * 64 * 3 / 1e6
        notes.append(f"mpi3d compressed .npz -> .npy extraction: {megabytes / extract_s:,.0f} MB/s "
                     f"({num / extract_s:,.0f} images/s) -> ~{1036800 * extract_s / num / 60:.0f} "
                     f"min for a full 12.7 GB file (zlib inflate, one pass)")
        add("mpi3d_real (npy cache mmap)",
            lambda: load_dataset("mpi3d_real", data_dir=mpi_dir, factor_sizes=mpi_sizes))

        fashion_dir = os.path.join(root, "fashion_mnist")
        os.makedirs(fashion_dir)
        write_fashion_mnist(fashion_dir, rng)
        add("fashion_mnist 28x28", lambda: load_dataset("fashion_mnist", data_dir=fashion_dir))
        add("fashion_mnist 32x32 clamp", lambda: load_dataset(
            "fashion_mnist", data_dir=fashion_dir, image_size=32, clamp=True), 60000)

        celeba_dir = os.path.join(root, "celeba")
        write_celeba(celeba_dir, 512, rng)
        add("celeba (jpeg folder)", lambda: load_dataset("celeba", data_dir=celeba_dir))

        add("pinwheel (procedural)", lambda: load_dataset("pinwheel"))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def rate(value):
        return "-" if value is None else f"{value:,.0f}"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nbatch {args.batch_size}, {args.seconds:g} s per pipeline, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} (numbers are lower bounds on a shared machine)\n")
    header = ("dataset / source", "examples", "load s", "full set", "numpy img/s", "tf_batch_fn img/s")
    widths = [32, 9, 7, 9, 12, 18]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(header, widths))))
    print("  ".join("-" * w for w in widths))
    for label, count, load_s, full, numpy_rate, graph_rate in rows:
        cells = (label, f"{count:,}", load_s, full, rate(numpy_rate), rate(graph_rate))
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))))
    print()
    for note in notes:
        print("* " + note)


if __name__ == "__main__":
    main()
