"""File-backed datasets on tiny files written here in each official format (no network).

Images encode their own factor values in pixel intensities, so every test can check that
``sample_observations_from_factors`` returns exactly the requested factors' image.
"""

import gzip
import logging
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from tfdisent.data import DatasetError, factors_to_indices, load_dataset
from tfdisent.data import registry

RS = np.random.RandomState


# ------------------------------------------------------------------------------------------------
# Writers of the official formats

def encode_codes(codes, shape):
    """Images whose pixels (0, i, 0) hold factor i's index as 40*index + 7; the rest is zero."""
    codes = np.asarray(codes)
    images = np.zeros((len(codes),) + tuple(shape), dtype=np.uint8)
    images[:, 0, :codes.shape[1], 0] = 40 * codes + 7
    return images


def decode_codes(observations, num_factors):
    pixels = np.rint(np.asarray(observations)[:, 0, :num_factors, 0] * 255).astype(int)
    assert ((pixels - 7) % 40 == 0).all()
    return (pixels - 7) // 40


def grid(sizes):
    return np.stack(np.unravel_index(np.arange(np.prod(sizes)), sizes), axis=1)


SHAPES3D_SIZES = (2, 2, 2, 2, 2, 3)


def write_shapes3d(path, sizes=SHAPES3D_SIZES, order=None, keys=("images", "labels"), drop_rows=0,
                   **image_layout):
    import h5py

    codes = grid(sizes)
    values = [np.linspace(0.0, 0.9, 10)[:sizes[0]], np.linspace(0.0, 0.9, 10)[:sizes[1]],
              np.linspace(0.0, 0.9, 10)[:sizes[2]], np.linspace(0.75, 1.25, 8)[:sizes[3]],
              np.arange(4.0)[:sizes[4]], np.linspace(-30, 30, 15)[:sizes[5]]]
    labels = np.stack([values[i][codes[:, i]] for i in range(6)], axis=1)
    images = encode_codes(codes, (64, 64, 3))
    if order is not None:
        images, labels = images[order], labels[order]
    if drop_rows:
        images, labels = images[:-drop_rows], labels[:-drop_rows]
    with h5py.File(path, "w") as handle:
        handle.create_dataset(keys[0], data=images, **image_layout)
        handle.create_dataset(keys[1], data=labels)
    return path


NORB_UINT8, NORB_INT32 = 0x1E3D4C55, 0x1E3D4C54
NORB_PREFIX = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training",
               "test": "smallnorb-5x01235x9x18x6x2x96x96-testing"}
# Reduced grid: 2 categories, 2 elevations, 3 azimuths (raw 0, 2, 4), 2 lightings; instances 4, 6
# (train) and 0, 1 (test), ranks 2, 3 and 0, 1.
NORB_TABLE_SIZES = (2, 4, 2, 3, 2)
NORB_INSTANCES = {"train": (4, 6), "test": (0, 1)}


def write_norb_matrix(path, array, magic, compress=False):
    array = np.asarray(array)
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    payload = np.array([magic, array.ndim] + dims, dtype="<i4").tobytes()
    payload += array.astype(np.uint8 if magic == NORB_UINT8 else "<i4").tobytes()
    opener = gzip.open if compress else open
    with opener(path + (".gz" if compress else ""), "wb") as handle:
        handle.write(payload)


def norb_value(table):
    """Constant grey level of the first camera: encodes the (category, instance rank, elevation,
    azimuth index, lighting) cell."""
    return 2 * np.ravel_multi_index(tuple(np.asarray(table).T), NORB_TABLE_SIZES) + 10


def write_smallnorb_split(directory, split, compress=False, magic=NORB_UINT8, shuffle=True):
    rank = {4: 2, 6: 3, 0: 0, 1: 1}
    rows = [(c, inst, e, a, l) for c in range(2) for inst in NORB_INSTANCES[split]
            for e in range(2) for a in (0, 2, 4) for l in range(2)]
    rows = np.array(rows)
    if shuffle:
        rows = rows[RS(1).permutation(len(rows))]
    table = np.stack([rows[:, 0], [rank[i] for i in rows[:, 1]], rows[:, 2], rows[:, 3] // 2,
                      rows[:, 4]], axis=1)
    images = np.zeros((len(rows), 2, 96, 96), dtype=np.uint8)
    images[:, 0] = norb_value(table)[:, None, None]
    images[:, 1] = 255 - images[:, 0]  # the second camera must be ignored
    prefix = os.path.join(directory, NORB_PREFIX[split])
    write_norb_matrix(prefix + "-dat.mat", images, magic, compress)
    write_norb_matrix(prefix + "-cat.mat", rows[:, 0], NORB_INT32, compress)
    write_norb_matrix(prefix + "-info.mat", rows[:, 1:], NORB_INT32, compress)
    return rows


def write_idx(path, array, compress=False):
    array = np.asarray(array, dtype=np.uint8)
    payload = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    with (gzip.open if compress else open)(path, "wb") as handle:
        handle.write(payload + array.tobytes())


def write_fashion_mnist(directory, prefix="train", per_class=3, num_classes=10, compress_images=True):
    labels = np.repeat(np.arange(num_classes), per_class)
    images = np.full((len(labels), 28, 28), 100, dtype=np.uint8)
    images[:, 0, 0] = 20 * labels + np.tile(np.arange(per_class), num_classes)  # class in pixel
    images[:, 5:20, 5:20] = 200
    order = RS(3).permutation(len(labels))
    images_name = f"{prefix}-images-idx3-ubyte" + (".gz" if compress_images else "")
    write_idx(os.path.join(directory, images_name), images[order], compress_images)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"), labels[order])
    return images[order], labels[order]


def cars_view_colour(elevation, azimuth, obj):
    return np.stack([40 * np.asarray(elevation) + 10, 20 * np.asarray(azimuth) + 10,
                     50 * np.asarray(obj) + 10], axis=-1)


def write_cars(directory, names=("b_mesh.mat", "a_mesh.mat", "c_mesh.mat"), azimuths=4,
               elevations=2):
    import scipy.io

    os.makedirs(directory, exist_ok=True)
    for name in names:
        obj = sorted(names).index(name)
        im = np.zeros((128, 128, 3, azimuths, elevations), dtype=np.uint8)
        for a in range(azimuths):
            for e in range(elevations):
                im[:, :, :, a, e] = cars_view_colour(e, a, obj)
        scipy.io.savemat(os.path.join(directory, name), {"im": im}, do_compression=(obj == 0))


MPI3D_SIZES = (2, 1, 1, 1, 2, 3, 2)


def write_mpi3d(path, sizes=MPI3D_SIZES, compressed=False, key="images", extra=0):
    images = encode_codes(grid(sizes), (64, 64, 3))
    if extra:
        images = np.concatenate([images, images[:extra]])
    (np.savez_compressed if compressed else np.savez)(path, **{key: images})
    return images


def truncate(path, keep_fraction=0.5):
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(int(size * keep_fraction))


# ------------------------------------------------------------------------------------------------
# Registry

def test_registry_targets_match_classes():
    import importlib

    for name in ("shapes3d", "smallnorb", "cars3d", "mpi3d_toy", "mpi3d_realistic", "mpi3d_real",
                 "celeba", "fashion_mnist", "pinwheel"):
        module_name, class_name = registry._DATASETS[name].split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        assert cls.name == name


def test_missing_files_name_file_and_url(tmp_path):
    cases = {"shapes3d": ("3dshapes.h5", "github.com/deepmind/3d-shapes"),
             "smallnorb": ("smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat", "ylclab"),
             "cars3d": ("cars/*_mesh.mat", "nips2015-analogy-data.tar.gz"),
             "mpi3d_real": ("mpi3d_real.npz", "rr-learning/disentanglement_dataset"),
             "fashion_mnist": ("train-images-idx3-ubyte", "zalandoresearch/fashion-mnist"),
             "celeba": ("img_align_celeba", "CelebA")}
    for name, (file_name, url) in cases.items():
        with pytest.raises(DatasetError) as error:
            load_dataset(name, data_dir=str(tmp_path))
        message = str(error.value)
        assert file_name in message and url in message and str(tmp_path) in message
        assert "\n" not in message


# ------------------------------------------------------------------------------------------------
# Shapes3D

@pytest.mark.parametrize("shuffled", [False, True])
def test_shapes3d_returns_requested_factors(tmp_path, shuffled, caplog):
    order = RS(0).permutation(int(np.prod(SHAPES3D_SIZES))) if shuffled else None
    write_shapes3d(tmp_path / "3dshapes.h5", order=order)
    with caplog.at_level(logging.WARNING):
        data = load_dataset("shapes3d", data_dir=str(tmp_path))
    assert "reduced factor grid" in caplog.text
    assert data.factor_sizes == SHAPES3D_SIZES and data.observation_shape == (64, 64, 3)
    np.testing.assert_allclose(data.factor_values[3], np.linspace(0.75, 1.25, 8)[:2])
    factors = np.concatenate([grid(SHAPES3D_SIZES)[::-1], data.sample_factors(50, RS(1))])
    observations = data.sample_observations_from_factors(factors, RS(2))
    assert observations.dtype == np.float32 and observations.shape == (len(factors), 64, 64, 3)
    np.testing.assert_array_equal(np.rint(observations * 255), encode_codes(factors, (64, 64, 3)))
    assert data.tf_batch_fn() is None
    clone = pickle.loads(pickle.dumps(data))  # the HDF5 handle is reopened, not pickled
    np.testing.assert_array_equal(clone.sample_observations_from_factors(factors[:5], RS(0)),
                                  observations[:5])


def test_shapes3d_storage_follows_hdf5_layout(tmp_path, caplog):
    factors = RS(0).randint(0, 2, size=(40, 6))
    factors[:, 5] = RS(1).randint(0, 3, size=40)
    expected = encode_codes(factors, (64, 64, 3))

    def check(data, storage):
        assert data.storage == storage
        np.testing.assert_array_equal(
            np.rint(data.sample_observations_from_factors(factors, RS(0)) * 255), expected)
        clone = pickle.loads(pickle.dumps(data))
        np.testing.assert_array_equal(clone.sample_observations_from_factors(factors[:3], RS(0)),
                                      data.sample_observations_from_factors(factors[:3], RS(0)))

    write_shapes3d(tmp_path / "3dshapes.h5")  # contiguous
    check(load_dataset("shapes3d", data_dir=str(tmp_path)), "memmap")
    write_shapes3d(tmp_path / "3dshapes.h5", chunks=(1, 64, 64, 3), compression="gzip")
    check(load_dataset("shapes3d", data_dir=str(tmp_path)), "h5")
    write_shapes3d(tmp_path / "3dshapes.h5", chunks=(32, 8, 8, 1), compression="gzip")
    with caplog.at_level(logging.WARNING):
        check(load_dataset("shapes3d", data_dir=str(tmp_path), extract=False), "h5")
    assert "slow" in caplog.text
    cache = tmp_path / "cache"
    cache.mkdir()
    check(load_dataset("shapes3d", data_dir=str(tmp_path), cache_dir=str(cache)), "npy_cache")
    (cache_file,) = cache.glob("3dshapes.images.*.npy")
    mtime = cache_file.stat().st_mtime_ns
    check(load_dataset("shapes3d", data_dir=str(tmp_path), cache_dir=str(cache)), "npy_cache")
    assert cache_file.stat().st_mtime_ns == mtime and len(os.listdir(cache)) == 1
    # A different file gets its own cache, never the stale one.
    write_shapes3d(tmp_path / "3dshapes.h5", order=np.arange(96)[::-1], chunks=(32, 8, 8, 1),
                   compression="gzip")
    os.utime(tmp_path / "3dshapes.h5", ns=(mtime + 10**9, mtime + 10**9))
    check(load_dataset("shapes3d", data_dir=str(tmp_path), cache_dir=str(cache)), "npy_cache")
    assert len(list(cache.glob("3dshapes.images.*.npy"))) == 2
    assert not [p for p in os.listdir(cache) if "partial" in p]


def test_shapes3d_file_errors(tmp_path):
    def load():
        return load_dataset("shapes3d", data_dir=str(tmp_path))

    path = write_shapes3d(tmp_path / "3dshapes.h5", drop_rows=1)
    with pytest.raises(DatasetError, match="complete factor grid.*1 missing"):
        load()
    write_shapes3d(path, keys=("imgs", "labels"))
    with pytest.raises(DatasetError, match="no dataset 'images'"):
        load()
    write_shapes3d(path)
    truncate(path)
    with pytest.raises(DatasetError, match="not a readable HDF5 file.*truncated"):
        load()
    path.write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(DatasetError, match="3dshapes.h5: is not a readable HDF5"):
        load()


def test_shapes3d_found_in_dlib_and_tfds_manual_folders(tmp_path):
    (tmp_path / "3dshapes").mkdir()
    write_shapes3d(tmp_path / "3dshapes" / "3dshapes.h5")
    assert load_dataset("shapes3d", data_dir=str(tmp_path)).factor_sizes == SHAPES3D_SIZES
    manual = tmp_path / "tfds" / "downloads" / "manual"
    manual.mkdir(parents=True)
    write_shapes3d(manual / "3dshapes.h5")
    data = load_dataset("shapes3d", tfds_data_dir=str(tmp_path / "tfds"))
    assert data.factor_sizes == SHAPES3D_SIZES


# ------------------------------------------------------------------------------------------------
# smallNORB

def check_norb_sampling(data):
    assert data.factor_sizes == (2, 2, 3, 2) and data.num_instances == 4
    assert data.observation_shape == (64, 64, 1) and data.num_examples == 96
    factors = data.sample_factors(400, RS(0))
    observations = data.sample_observations_from_factors(factors, RS(1))
    assert observations.shape == (400, 64, 64, 1) and observations.dtype == np.float32
    # Lanczos resizing keeps a constant image constant: the grey level decodes to the table cell.
    levels = np.rint(observations * 255).astype(int)
    assert (levels == levels[:, :1, :1, :]).all()
    table = np.stack(np.unravel_index((levels[:, 0, 0, 0] - 10) // 2, NORB_TABLE_SIZES), axis=1)
    np.testing.assert_array_equal(table[:, [0, 2, 3, 4]], factors)
    # The instance is a nuisance drawn by the random state: all 4 appear, reproducibly.
    assert set(table[:, 1]) == {0, 1, 2, 3}
    np.testing.assert_array_equal(data.sample_observations_from_factors(factors, RS(1)), observations)


def test_smallnorb_plain_and_gz_files(tmp_path):
    write_smallnorb_split(str(tmp_path), "train")
    write_smallnorb_split(str(tmp_path), "test", compress=True)
    check_norb_sampling(load_dataset("smallnorb", data_dir=str(tmp_path)))
    train_only = load_dataset("smallnorb", data_dir=str(tmp_path), split="train")
    assert train_only.num_instances == 2 and train_only.num_examples == 48


def test_smallnorb_file_errors(tmp_path):
    def load():
        return load_dataset("smallnorb", data_dir=str(tmp_path))

    prefix = str(tmp_path / NORB_PREFIX["train"])
    write_smallnorb_split(str(tmp_path), "test")
    write_smallnorb_split(str(tmp_path), "train", magic=0x1E3D4C51)
    with pytest.raises(DatasetError, match="training-dat.mat: bad magic number 0x1E3D4C51"):
        load()
    rows = write_smallnorb_split(str(tmp_path), "train")
    truncate(prefix + "-dat.mat", 0.9)
    with pytest.raises(DatasetError, match="training-dat.mat: is truncated"):
        load()
    os.remove(prefix + "-dat.mat")
    write_smallnorb_split(str(tmp_path), "train", compress=True)
    for kind in ("cat", "info"):
        os.remove(f"{prefix}-{kind}.mat")  # only the .gz versions remain
    truncate(prefix + "-dat.mat.gz", 0.5)
    with pytest.raises(DatasetError, match="training-dat.mat.gz: is truncated"):
        load()
    write_smallnorb_split(str(tmp_path), "train", compress=True)
    info = rows[:, 1:].copy()
    info[0] = info[1]  # a duplicated cell, so another is missing
    write_norb_matrix(prefix + "-info.mat", info, NORB_INT32, compress=True)
    with pytest.raises(DatasetError, match="complete factor grid.*1 missing, 1 duplicated"):
        load()
    write_norb_matrix(prefix + "-info.mat", rows[:-1, 1:], NORB_INT32, compress=True)
    with pytest.raises(DatasetError, match=r"must be int32 \[48, 4\]"):
        load()


# ------------------------------------------------------------------------------------------------
# Cars3D

def test_cars3d_grid_and_sorted_object_order(tmp_path, caplog):
    write_cars(str(tmp_path / "cars"))
    with caplog.at_level(logging.WARNING):
        data = load_dataset("cars3d", data_dir=str(tmp_path))
    assert "reduced factor grid" in caplog.text
    assert data.factor_sizes == (2, 4, 3) and data.observation_shape == (64, 64, 3)
    assert [os.path.basename(f) for f in data.files] == ["a_mesh.mat", "b_mesh.mat", "c_mesh.mat"]
    factors = grid(data.factor_sizes)
    observations = data.sample_observations_from_factors(factors, RS(0))
    expected = cars_view_colour(factors[:, 0], factors[:, 1], factors[:, 2])
    np.testing.assert_array_equal(np.rint(observations * 255), np.broadcast_to(
        expected[:, None, None, :], observations.shape))


def test_cars3d_file_errors(tmp_path):
    import scipy.io

    def load():
        return load_dataset("cars3d", data_dir=str(tmp_path))

    cars = tmp_path / "cars"
    write_cars(str(cars))
    scipy.io.savemat(str(cars / "d_mesh.mat"), {"image": np.zeros((4, 4), np.uint8)})
    with pytest.raises(DatasetError, match="d_mesh.mat: has no variable 'im'"):
        load()
    write_cars(str(cars), names=("d_mesh.mat",), azimuths=3)
    with pytest.raises(DatasetError, match="d_mesh.mat: 'im' has shape"):
        load()
    os.remove(cars / "d_mesh.mat")
    truncate(str(cars / "b_mesh.mat"), 0.3)
    with pytest.raises(DatasetError, match="b_mesh.mat: is not a readable MATLAB file"):
        load()


# ------------------------------------------------------------------------------------------------
# MPI3D

def test_mpi3d_uncompressed_is_memory_mapped(tmp_path, caplog):
    images = write_mpi3d(tmp_path / "mpi3d_toy.npz")
    with caplog.at_level(logging.WARNING):
        data = load_dataset("mpi3d_toy", data_dir=str(tmp_path), factor_sizes=MPI3D_SIZES)
    assert "reduced factor grid" in caplog.text
    assert isinstance(data._images(), np.memmap)
    factors = data.sample_factors(60, RS(0))
    observations = data.sample_observations_from_factors(factors, RS(0))
    np.testing.assert_array_equal(decode_codes(observations, 7), factors)
    np.testing.assert_array_equal(np.rint(observations * 255),
                                  images[factors_to_indices(factors, MPI3D_SIZES)])
    clone = pickle.loads(pickle.dumps(data))
    assert len(pickle.dumps(data)) < 10_000  # the map is re-created, never pickled
    np.testing.assert_array_equal(clone.sample_observations_from_factors(factors, RS(0)), observations)


def test_mpi3d_compressed_extracts_once(tmp_path):
    write_mpi3d(tmp_path / "mpi3d_real.npz", compressed=True)
    with pytest.raises(DatasetError, match="mpi3d_real.npz: is compressed.*extract_compressed=True"):
        load_dataset("mpi3d_real", data_dir=str(tmp_path), factor_sizes=MPI3D_SIZES,
                     extract_compressed=False)
    cache = tmp_path / "cache"
    cache.mkdir()
    data = load_dataset("mpi3d_real", data_dir=str(tmp_path), factor_sizes=MPI3D_SIZES,
                        cache_dir=str(cache))
    (cache_file,) = cache.glob("mpi3d_real.images.*.npy")
    assert isinstance(data._images(), np.memmap)
    first_mtime = cache_file.stat().st_mtime_ns
    again = load_dataset("mpi3d_real", data_dir=str(tmp_path), factor_sizes=MPI3D_SIZES,
                         cache_dir=str(cache))
    assert cache_file.stat().st_mtime_ns == first_mtime
    factors = again.sample_factors(20, RS(0))
    np.testing.assert_array_equal(
        decode_codes(again.sample_observations_from_factors(factors, RS(0)), 7), factors)


def test_mpi3d_file_errors(tmp_path):
    path = tmp_path / "mpi3d_realistic.npz"

    def load(**kwargs):
        return load_dataset("mpi3d_realistic", data_dir=str(tmp_path), **kwargs)

    write_mpi3d(path)
    with pytest.raises(DatasetError, match="holds 24 images but the factor grid "
                                           "6x6x2x3x3x40x40 needs 1036800"):
        load()
    write_mpi3d(path, extra=1)
    with pytest.raises(DatasetError, match="holds 25 images"):
        load(factor_sizes=MPI3D_SIZES)
    write_mpi3d(path, key="imgs")
    with pytest.raises(DatasetError, match="has no array 'images' \\(arrays: imgs\\)"):
        load(factor_sizes=MPI3D_SIZES)
    write_mpi3d(path)
    truncate(str(path), 0.6)
    with pytest.raises(DatasetError, match="mpi3d_realistic.npz: is not a readable .npz"):
        load(factor_sizes=MPI3D_SIZES)
    with pytest.raises(DatasetError, match="factor_sizes must be 7"):
        load(factor_sizes=(2, 2))


# ------------------------------------------------------------------------------------------------
# Fashion-MNIST

def test_fashion_mnist_class_factor(tmp_path):
    images, labels = write_fashion_mnist(str(tmp_path))
    data = load_dataset("fashion_mnist", data_dir=str(tmp_path))
    assert data.factor_sizes == (10,) and data.num_examples == 30
    assert data.observation_shape == (28, 28, 1)
    factors = data.sample_factors(200, RS(0))
    observations = data.sample_observations_from_factors(factors, RS(1))
    assert observations.shape == (200, 28, 28, 1)
    np.testing.assert_array_equal(np.rint(observations[:, 0, 0, 0] * 255).astype(int) // 20,
                                  factors[:, 0])
    # Every image of a class gets drawn: all 3 copies per class appear.
    assert len(set(np.rint(observations[:, 0, 0, 0] * 255).astype(int))) == 30

    paper = load_dataset("fashion_mnist", data_dir=str(tmp_path), image_size=32, clamp=True)
    batch = paper.sample_observations(64, RS(0))
    assert batch.shape == (64, 32, 32, 1)
    assert batch.min() >= 1e-6 and batch.max() <= 1 - 1e-6


def test_fashion_mnist_file_errors(tmp_path):
    def load(**kwargs):
        return load_dataset("fashion_mnist", data_dir=str(tmp_path), **kwargs)

    write_fashion_mnist(str(tmp_path))
    labels_path = tmp_path / "train-labels-idx1-ubyte"
    write_idx(labels_path, np.zeros((30, 2)))
    with pytest.raises(DatasetError, match=r"labels-idx1-ubyte: expected a 1-d uint8 IDX array "
                                           r"\(magic 0x00000801\), got magic 0x00000802"):
        load()
    labels_path.write_bytes(b"\x08\x03\x00\x00" + bytes(40))
    with pytest.raises(DatasetError, match="bad magic number; not an IDX file"):
        load()
    write_idx(labels_path, np.zeros(29))
    with pytest.raises(DatasetError, match="has 29 labels for 30 images"):
        load()
    write_fashion_mnist(str(tmp_path))
    truncate(str(tmp_path / "train-images-idx3-ubyte.gz"), 0.5)
    with pytest.raises(DatasetError, match="images-idx3-ubyte.gz: is unreadable or truncated"):
        load()
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        load(split="test")


# ------------------------------------------------------------------------------------------------
# CelebA

def write_celeba_images(folder, count=5):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    colours = []
    for i in range(count):
        image = np.zeros((218, 178, 3), dtype=np.uint8)
        image[:] = (250, 0, 0)  # border outside the centre crop
        colour = (20 + 40 * i, 200 - 30 * i, 90)
        image[35:183, 15:163] = colour  # the centred 148x148 square
        Image.fromarray(image).save(os.path.join(folder, f"{i + 1:06d}.jpg"), quality=95)
        colours.append(colour)
    return np.array(colours)


def test_celeba_folder_zip_and_split(tmp_path):
    colours = write_celeba_images(str(tmp_path / "img_align_celeba"))
    data = load_dataset("celeba", data_dir=str(tmp_path))
    assert data.factor_sizes == () and data.num_factors == 0 and data.num_examples == 5
    assert data.sample_factors(7, RS(0)).shape == (7, 0)
    factors, observations = data.sample(40, RS(0))
    assert factors.shape == (40, 0) and observations.shape == (40, 64, 64, 3)
    np.testing.assert_array_equal(observations, data.sample_observations(40, RS(0)))
    # The crop removes the red border; each observation is one of the 5 colours.
    means = observations.reshape(40, -1, 3).mean(axis=1) * 255
    distance = np.abs(means[:, None, :] - colours[None]).max(axis=-1)
    assert (distance.min(axis=1) < 4).all()
    assert len(set(distance.argmin(axis=1))) == 5

    (tmp_path / "list_eval_partition.txt").write_text(
        "000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n000005.jpg 0\n")
    train = load_dataset("celeba", data_dir=str(tmp_path), split="train")
    assert train.image_names == ("000001.jpg", "000002.jpg", "000005.jpg")

    zipped = tmp_path / "zipped"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "img_align_celeba.zip", "w") as archive:
        for name in sorted(os.listdir(tmp_path / "img_align_celeba")):
            archive.write(tmp_path / "img_align_celeba" / name, f"img_align_celeba/{name}")
    from_zip = load_dataset("celeba", data_dir=str(zipped))
    assert from_zip.num_examples == 5 and from_zip.tf_batch_fn() is None
    np.testing.assert_array_equal(from_zip.images_at([0, 4]), data.images_at([0, 4]))


# ------------------------------------------------------------------------------------------------
# Pinwheel

def pinwheel_arm0_mean_and_norms():
    """E[x] of arm 0 and E|x|, by Gauss-Hermite quadrature of the generator's formula."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    u1 = 1 + 0.3 * nodes
    angle = 0.25 * np.exp(u1)
    mean = np.array([np.sum(weights * u1 * np.cos(angle)), -np.sum(weights * u1 * np.sin(angle))])
    u2 = 0.1 * nodes
    norm = np.sqrt(u1[:, None] ** 2 + u2[None, :] ** 2)
    return mean, np.sum(weights[:, None] * weights[None, :] * norm)


def test_pinwheel_reference_draws():
    from tfdisent.data.pinwheel import make_pinwheel

    train, train_labels = make_pinwheel(100, RS(0))
    test, test_labels = make_pinwheel(100, RS(1))
    assert train.shape == (400, 2) and train.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(train_labels), [100] * 4)
    np.testing.assert_array_equal(train_labels, test_labels)
    assert not np.allclose(train, test)
    np.testing.assert_array_equal(make_pinwheel(100, RS(0))[0], train)


def test_pinwheel_statistics_match_the_formula():
    from tfdisent.data.pinwheel import make_pinwheel

    points, labels = make_pinwheel(40000, RS(0))
    arm0_mean, mean_norm = pinwheel_arm0_mean_and_norms()
    for arm in range(4):
        theta = 2 * np.pi * arm / 4
        mean = points[labels == arm].astype(np.float64).mean(axis=0)
        # Arm k is arm 0 rotated clockwise by theta = 2 pi k / 4 (row vector times R(theta)).
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        np.testing.assert_allclose(mean, arm0_mean @ rotation, atol=0.01)
        np.testing.assert_allclose(np.arctan2(mean[1], mean[0]),
                                   np.angle(np.exp(1j * (np.arctan2(arm0_mean[1], arm0_mean[0])
                                                         - theta))), atol=0.02)
    norms = np.linalg.norm(points.astype(np.float64), axis=1)
    # The radial column has std 0.3 (std of |x| ~ 0.3; swapped stds would give ~0.1).
    np.testing.assert_allclose(norms.mean(), mean_norm, atol=0.005)
    assert 0.28 < norms.std() < 0.32


def test_pinwheel_dataset():
    data = load_dataset("pinwheel")
    assert data.factor_sizes == (4,) and data.observation_shape == (2,) and data.num_examples == 400
    factors = np.repeat(np.arange(4), 5000)[:, None]
    points = data.sample_observations_from_factors(factors, RS(0))
    assert points.dtype == np.float32 and points.shape == (20000, 2)
    assert points.min() < 0  # not image data in [0, 1]
    arm0_mean, _ = pinwheel_arm0_mean_and_norms()
    for arm in range(4):
        theta = 2 * np.pi * arm / 4
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        np.testing.assert_allclose(points[factors[:, 0] == arm].mean(axis=0), arm0_mean @ rotation,
                                   atol=0.03)
    np.testing.assert_array_equal(data.sample_observations_from_factors(factors[:9], RS(5)),
                                  data.sample_observations_from_factors(factors[:9], RS(5)))


# ------------------------------------------------------------------------------------------------
# tf.data fast paths (one test, so TensorFlow is imported once)

def test_tf_batch_fns(tmp_path):
    import tensorflow as tf

    write_smallnorb_split(str(tmp_path), "train")
    write_smallnorb_split(str(tmp_path), "test")
    write_cars(str(tmp_path / "cars"))
    write_fashion_mnist(str(tmp_path))
    write_celeba_images(str(tmp_path / "img_align_celeba"), count=3)
    write_mpi3d(tmp_path / "mpi3d_toy.npz")
    random_values = tf.constant(RS(0).randint(-2**62, 2**62, size=256, dtype=np.int64))

    norb = load_dataset("smallnorb", data_dir=str(tmp_path))
    batch = norb.tf_batch_fn()(random_values).numpy()
    assert batch.shape == (256, 64, 64, 1) and batch.dtype == np.float32
    cells = (np.rint(batch[:, 0, 0, 0] * 255).astype(int) - 10) // 2
    assert len(set(cells)) > 60 and set(cells) <= set(range(96))

    cars = load_dataset("cars3d", data_dir=str(tmp_path))
    batch = cars.tf_batch_fn()(random_values).numpy()
    all_colours = {tuple(c) for c in cars_view_colour(*grid((2, 4, 3)).T)}
    assert {tuple(c) for c in np.rint(batch[:, 0, 0] * 255).astype(int)} <= all_colours

    fashion = load_dataset("fashion_mnist", data_dir=str(tmp_path), image_size=32, clamp=True)
    batch = fashion.tf_batch_fn()(random_values).numpy()
    assert batch.shape == (256, 32, 32, 1) and batch.min() >= 1e-6 and batch.max() <= 1 - 1e-6

    pinwheel = load_dataset("pinwheel")
    many = tf.constant(RS(1).randint(0, 2**62, size=20000, dtype=np.int64))
    points = pinwheel.tf_batch_fn()(many).numpy()
    arms = many.numpy() % 4
    arm0_mean, mean_norm = pinwheel_arm0_mean_and_norms()
    np.testing.assert_allclose(np.linalg.norm(points, axis=1).mean(), mean_norm, atol=0.01)
    np.testing.assert_allclose(points[arms == 0].mean(axis=0), arm0_mean, atol=0.03)

    celeba = load_dataset("celeba", data_dir=str(tmp_path))
    values = tf.constant([0, 1, 2, 5], dtype=tf.int64)
    in_graph = celeba.tf_batch_fn()(values).numpy()
    assert in_graph.shape == (4, 64, 64, 3)
    # TF's JPEG decoder and lanczos3 differ from PIL's by a few grey levels, no more.
    assert np.abs(in_graph - celeba.images_at([0, 1, 2, 2])).max() < 12 / 255

    mpi3d = load_dataset("mpi3d_toy", data_dir=str(tmp_path), factor_sizes=MPI3D_SIZES)
    assert mpi3d.tf_batch_fn() is None


# ------------------------------------------------------------------------------------------------
# TFDS routes: a real TFDS preparation from the tiny files, with the download patched to local paths

@pytest.fixture
def tfds_offline(monkeypatch):
    """Prepares TFDS builders from local files: download/download_and_extract map each URL to the
    local file of the same base name (the name without .gz when extracting), or, for URLs without a
    usable name, the local file given for its key in ``by_key``."""
    tfds = pytest.importorskip("tensorflow_datasets")

    def prepare(name, data_dir, local_dir, extract=True, by_key=None):
        by_key = by_key or {}

        def resolve(urls, strip_gz):
            def one(url):
                base = os.path.basename(url.split("?")[0])
                base = base[:-3] if strip_gz and base.endswith(".gz") else base
                return os.path.join(local_dir, base)
            if isinstance(urls, dict):
                return {k: os.path.join(local_dir, by_key[k]) if k in by_key else one(v)
                        for k, v in urls.items()}
            return one(urls)

        monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract",
                            lambda self, urls: resolve(urls, extract))
        monkeypatch.setattr(tfds.download.DownloadManager, "download",
                            lambda self, urls: resolve(urls, False))
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare(download_dir=os.path.join(data_dir, "downloads"))
        return builder

    return prepare


def test_tfds_not_prepared_fails_fast(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    for name, tfds_name in (("smallnorb", "smallnorb"), ("fashion_mnist", "fashion_mnist"),
                            ("celeba", "celeb_a"), ("shapes3d", "shapes3d")):
        with pytest.raises(DatasetError, match=f"TFDS dataset '{tfds_name}' is not prepared"):
            load_dataset(name, data_dir=str(tmp_path / "none"), tfds_data_dir=str(tmp_path))


def test_tfds_smallnorb_and_fashion_mnist(tmp_path, tfds_offline, monkeypatch):
    files = tmp_path / "files"
    files.mkdir()
    write_smallnorb_split(str(files), "train")
    write_smallnorb_split(str(files), "test")
    tfds_dir = str(tmp_path / "tfds")
    tfds_offline("smallnorb", tfds_dir, str(files))
    check_norb_sampling(load_dataset("smallnorb", tfds_data_dir=tfds_dir))

    import tensorflow_datasets.image_classification.mnist as tfds_mnist

    write_fashion_mnist(str(files), compress_images=False)
    write_fashion_mnist(str(files), prefix="t10k", per_class=1, compress_images=False)
    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 30)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 10)
    tfds_offline("fashion_mnist", tfds_dir, str(files))
    data = load_dataset("fashion_mnist", tfds_data_dir=tfds_dir, split="all")
    assert data.factor_sizes == (10,) and data.num_examples == 40
    observations = data.sample_observations_from_factors(np.arange(10)[:, None], RS(0))
    np.testing.assert_array_equal(np.rint(observations[:, 0, 0, 0] * 255).astype(int) // 20,
                                  np.arange(10))


def test_tfds_celeb_a(tmp_path, tfds_offline):
    from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as tfds_celeb_a

    files = tmp_path / "files"
    colours = write_celeba_images(str(files / "img_align_celeba"), count=4)
    names = sorted(os.listdir(files / "img_align_celeba"))
    with zipfile.ZipFile(files / "img_align_celeba.zip", "w") as archive:
        for name in names:
            archive.write(files / "img_align_celeba" / name, f"img_align_celeba/{name}")
    shutil.rmtree(files / "img_align_celeba")

    def table(headings, value):
        rows = [f"{n} " + " ".join([value] * len(headings)) for n in names]
        return "\n".join([str(len(names)), " ".join(headings)] + rows) + "\n"

    (files / "list_eval_partition.txt").write_text(
        "".join(f"{n} {split}\n" for n, split in zip(names, (0, 0, 1, 2))))
    (files / "list_attr_celeba.txt").write_text(table(tfds_celeb_a.ATTR_HEADINGS, "-1"))
    (files / "list_landmarks_align_celeba.txt").write_text(
        table(tfds_celeb_a.LANDMARK_HEADINGS, "7"))
    (files / "identity_CelebA.txt").write_text("".join(f"{n} 1\n" for n in names))
    tfds_dir = str(tmp_path / "tfds")
    tfds_offline("celeb_a", tfds_dir, str(files), by_key={
        "img_align_celeba": "img_align_celeba.zip", "list_eval_partition": "list_eval_partition.txt",
        "list_attr_celeba": "list_attr_celeba.txt", "identity_celeba": "identity_CelebA.txt",
        "landmarks_celeba": "list_landmarks_align_celeba.txt"})

    data = load_dataset("celeba", tfds_data_dir=tfds_dir)
    assert data.num_examples == 4 and data.factor_sizes == ()
    observations = data.sample_observations(30, RS(0))
    means = observations.reshape(30, -1, 3).mean(axis=1) * 255
    distance = np.abs(means[:, None, :] - colours[None]).max(axis=-1)
    assert (distance.min(axis=1) < 4).all() and len(set(distance.argmin(axis=1))) == 4
    train = load_dataset("celeba", tfds_data_dir=tfds_dir, split="train")
    assert train.num_examples == 2 and train.tf_batch_fn() is not None
    assert load_dataset("celeba", tfds_data_dir=tfds_dir, max_images=3).num_examples == 3


def test_tfds_shapes3d_loads_into_memory(tmp_path, tfds_offline):
    files = tmp_path / "files"
    files.mkdir()
    write_shapes3d(files / "3dshapes.h5")
    tfds_dir = str(tmp_path / "tfds")
    tfds_offline("shapes3d", tfds_dir, str(files))
    data = load_dataset("shapes3d", tfds_data_dir=tfds_dir)
    assert data.storage == "memory" and data.factor_sizes == SHAPES3D_SIZES
    factors = grid(SHAPES3D_SIZES)
    np.testing.assert_array_equal(
        np.rint(data.sample_observations_from_factors(factors, RS(0)) * 255),
        encode_codes(factors, (64, 64, 3)))
    assert data.tf_batch_fn() is not None
