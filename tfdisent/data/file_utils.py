"""Helpers shared by the file-backed datasets: locating official files, turning label tables into a
factor grid, lazy batched reads, image resizing, memory-mapping ``.npz`` members and reading
prepared TFDS datasets.

Every failure is a :class:`~tfdisent.data.ground_truth.DatasetError` whose one-line message names the
file, what is wrong with it and where the right file comes from.
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from tfdisent.data.ground_truth import DatasetError
from tfdisent.files import atomic_path

# Where each official file comes from; quoted in every error message.
OFFICIAL_URLS: Dict[str, str] = {
    "shapes3d": "https://github.com/deepmind/3d-shapes",
    "smallnorb": "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
    "cars3d": "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",
    "mpi3d": "https://github.com/rr-learning/disentanglement_dataset",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "celeba": "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
}

# disentanglement_lib reads its files from $DISENTANGLEMENT_LIB_DATA, so a machine set up for it
# works here unchanged.
DATA_DIR_ENV = "DISENTANGLEMENT_LIB_DATA"


def resolve_data_dir(data_dir: Optional[str]) -> Optional[str]:
    """``data_dir`` if given, else ``$DISENTANGLEMENT_LIB_DATA`` if set, else None."""
    if data_dir:
        return os.fspath(data_dir)
    return os.environ.get(DATA_DIR_ENV) or None


def candidate_dirs(data_dir: Optional[str], subdirs: Sequence[str] = (),
                   tfds_data_dir: Optional[str] = None) -> list:
    """Folders searched for an official file, in order.

    ``data_dir`` itself, then its disentanglement_lib sub-folder (e.g. ``3dshapes/``, ``small_norb/``),
    then TFDS's manual download folder ``<tfds_data_dir>/downloads/manual`` (where TFDS itself
    looks for files it cannot download, under the same official names).
    """
    dirs = []
    if data_dir:
        dirs.append(data_dir)
        dirs.extend(os.path.join(data_dir, sub) for sub in subdirs)
    if tfds_data_dir:
        dirs.append(os.path.join(os.fspath(tfds_data_dir), "downloads", "manual"))
    return dirs


def find_file(dirs: Iterable[str], names: Sequence[str]) -> Optional[str]:
    """First existing ``dir/name``; names are tried in order inside each folder."""
    for directory in dirs:
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return path
    return None


def missing_file_error(dataset: str, names: Sequence[str], dirs: Sequence[str]) -> DatasetError:
    where = ", ".join(dirs) if dirs else "(no data_dir given and $%s unset)" % DATA_DIR_ENV
    return DatasetError(f"{dataset}: file {names[0]} not found in {where}; "
                        f"download it from {OFFICIAL_URLS[_url_key(dataset)]}")


def file_error(dataset: str, path: str, problem: str) -> DatasetError:
    """The one-line error for a file that exists but is unusable."""
    return DatasetError(f"{dataset}: {path}: {problem}; get the official file from "
                        f"{OFFICIAL_URLS[_url_key(dataset)]}")


def _url_key(dataset: str) -> str:
    return "mpi3d" if dataset.startswith("mpi3d") else dataset


def warn_if_unofficial(dataset: str, factor_sizes: Sequence[int],
                       official_sizes: Sequence[int], source: str) -> None:
    if tuple(factor_sizes) != tuple(official_sizes):
        logging.warning("%s: %s holds a reduced factor grid %s, not the official %s; scores are "
                        "not comparable with published ones", dataset, source,
                        tuple(int(s) for s in factor_sizes), tuple(official_sizes))


@dataclass(frozen=True)
class LabelGrid:
    """A complete factor grid recovered from a per-row label table.

    ``factor_values[i]`` are the sorted distinct label values of factor i (a factor's index is the rank
    of its value), and ``grid_to_row[flat]`` is the file row holding the observation of grid cell
    ``flat`` (C order, last factor fastest). ``grid_to_row`` is None when the file is already in grid
    order, so the common case costs no lookup table.
    """

    factor_values: Tuple[np.ndarray, ...]
    factor_sizes: Tuple[int, ...]
    grid_to_row: Optional[np.ndarray]

    def rows(self, flat_indices: np.ndarray) -> np.ndarray:
        flat_indices = np.asarray(flat_indices, dtype=np.int64)
        return flat_indices if self.grid_to_row is None else self.grid_to_row[flat_indices]


def grid_from_labels(labels: np.ndarray, dataset: str, path: str) -> LabelGrid:
    """Derives the factor grid from a label table [rows, factors] and checks that it is complete:
    every combination of the distinct values of every column appears exactly once.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[0] == 0:
        raise file_error(dataset, path, f"labels must be a non-empty [rows, factors] table, "
                                        f"got shape {labels.shape}")
    values, codes = [], []
    for column in labels.T:
        distinct, code = np.unique(column, return_inverse=True)
        values.append(distinct)
        codes.append(code.reshape(-1))
    sizes = tuple(int(len(v)) for v in values)
    num_cells = int(np.prod(sizes, dtype=np.int64))
    flat = np.ravel_multi_index(tuple(codes), sizes).astype(np.int64)
    counts = np.bincount(flat, minlength=num_cells)
    if labels.shape[0] != num_cells or counts.max() != 1:
        missing = int((counts == 0).sum())
        duplicated = int((counts > 1).sum())
        raise file_error(dataset, path,
                         f"labels do not form a complete factor grid ({labels.shape[0]} rows for "
                         f"{'x'.join(map(str, sizes))}={num_cells} combinations; {missing} missing, "
                         f"{duplicated} duplicated)")
    if np.array_equal(flat, np.arange(num_cells)):
        return LabelGrid(tuple(values), sizes, None)
    grid_to_row = np.empty(num_cells, dtype=np.int64)
    grid_to_row[flat] = np.arange(num_cells, dtype=np.int64)
    return LabelGrid(tuple(values), sizes, grid_to_row)


def read_rows(array, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` for an h5py dataset or memory map, touching each stored row once.

    h5py accepts only increasing, duplicate-free index lists and reads a memory map fastest in file
    order, so the distinct rows are read sorted and the result is un-permuted afterwards.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if rows.size == 0:
        return np.empty((0,) + tuple(array.shape[1:]), dtype=array.dtype)
    distinct, inverse = np.unique(rows, return_inverse=True)
    block = np.asarray(array[distinct])
    return block[inverse.reshape(-1)]


def read_h5_rows(dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` for an h5py dataset, one ``read_direct`` per distinct row in file order.

    h5py's fancy indexing builds one selection from all rows, which on chunked datasets runs ~15x
    slower than row-by-row reads (790 vs 12,000 images/s measured for 64x64x3 rows).
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    distinct, inverse = np.unique(rows, return_inverse=True)
    block = np.empty((len(distinct),) + tuple(dataset.shape[1:]), dtype=dataset.dtype)
    for i, row in enumerate(distinct):
        dataset.read_direct(block, np.s_[row:row + 1], np.s_[i:i + 1])
    return block[inverse.reshape(-1)]


def h5_contiguous_memmap(dataset, path: str) -> Optional[np.ndarray]:
    """A read-only memory map of an uncompressed, contiguous h5py dataset (its bytes sit at one file
    offset), or None when the dataset is chunked or filtered."""
    if dataset.chunks is not None or dataset.compression is not None:
        return None
    offset = dataset.id.get_offset()
    if offset is None:  # contiguous but never written: no storage allocated
        return None
    return np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape)


def h5_to_npy(dataset, out_path: str, rows_per_read: int = 4096) -> None:
    """Copies an h5py dataset into a standalone .npy, reading slabs aligned to its chunks (so each
    compressed chunk is inflated once); written under a temporary name, then renamed."""
    step = rows_per_read
    if dataset.chunks is not None:
        step = max(1, rows_per_read // dataset.chunks[0]) * dataset.chunks[0]
    with atomic_path(out_path, suffix=".npy") as temporary:
        target = np.lib.format.open_memmap(temporary, mode="w+", dtype=dataset.dtype,
                                           shape=dataset.shape)
        for start in range(0, dataset.shape[0], step):
            stop = min(dataset.shape[0], start + step)
            dataset.read_direct(target, np.s_[start:stop], np.s_[start:stop])
        target.flush()
        del target


def cache_path_for(cache_dir: Optional[str], data_path: str, stem: str) -> str:
    """Path of the decompressed ``.npy`` cache of ``data_path``.

    The folder is ``cache_dir`` if given, else ``$TFDISENT_CACHE_DIR`` (the project's cache folder,
    shared with the rendered dSprites), else the data file's own folder (where there is room for
    the data already). The name carries a digest of the source's absolute path, size and mtime, so
    caches of different or replaced files never collide in a shared folder.
    """
    import hashlib  # pylint: disable=import-outside-toplevel

    folder = os.fspath(cache_dir or os.environ.get("TFDISENT_CACHE_DIR")
                       or os.path.dirname(os.path.abspath(data_path)))
    status = os.stat(data_path)
    key = f"{os.path.abspath(data_path)}|{status.st_size}|{status.st_mtime_ns}".encode()
    return os.path.join(folder, f"{stem}.{hashlib.sha256(key).hexdigest()[:12]}.npy")


def writable_folder(path: str) -> bool:
    """Creates the folder of ``path`` if needed; whether files can be written there."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def uint8_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1] (division by 255, as disentanglement_lib does)."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def resize_uint8(images: np.ndarray, size: int, crop: Optional[Tuple[int, int, int, int]] = None,
                 resample: str = "lanczos") -> np.ndarray:
    """Resizes uint8 images [n, h, w, c] (c = 1 or 3) to [n, size, size, c] with PIL, by default with
    the Lanczos filter (formerly called ANTIALIAS, which disentanglement_lib uses for smallNORB and
    Cars3D); ``resample="bilinear"`` is torchvision's default. ``crop`` = (left, upper, right, lower)
    is applied before resizing.
    """
    from PIL import Image  # pylint: disable=import-outside-toplevel

    resample = {"lanczos": Image.LANCZOS, "bilinear": Image.BILINEAR}[resample]
    images = np.asarray(images, dtype=np.uint8)
    channels = images.shape[-1]
    out = np.empty((len(images), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(images):
        pil = Image.fromarray(image[..., 0] if channels == 1 else image)
        if crop is not None:
            pil = pil.crop(crop)
        out[i] = np.asarray(pil.resize((size, size), resample)).reshape(size, size, channels)
    return out


def center_crop_box(height: int, width: int, crop: int) -> Tuple[int, int, int, int]:
    """PIL crop box of the centred ``crop``x``crop`` square (clipped to the image)."""
    crop = min(crop, height, width)
    top, left = (height - crop) // 2, (width - crop) // 2
    return left, top, left + crop, top + crop


# ------------------------------------------------------------------------------------------------
# .npz members as memory maps

class CompressedMemberError(DatasetError):
    """The .npz member is deflate-compressed, so its bytes cannot be memory-mapped."""


def _npz_member_info(path: str, member: str, dataset: str) -> Tuple[zipfile.ZipInfo, int]:
    """The zip entry of ``member`` (``images`` or ``images.npy``) and the file offset of its data."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            name = member if member in names else f"{member}.npy"
            if name not in names:
                raise file_error(dataset, path, f"has no array {member!r} (arrays: "
                                                f"{', '.join(n[:-4] for n in names) or 'none'})")
            info = archive.getinfo(name)
        with open(path, "rb") as handle:
            handle.seek(info.header_offset)
            local_header = handle.read(30)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise file_error(dataset, path, f"is not a readable .npz archive ({error})") from None
    if len(local_header) < 30 or local_header[:4] != b"PK\x03\x04":
        raise file_error(dataset, path, "is truncated or corrupt (bad zip local header)")
    # The local header's name/extra lengths may differ from the central directory's (zip64), so the
    # data offset must be computed from the local header itself.
    name_length, extra_length = struct.unpack("<HH", local_header[26:30])
    return info, info.header_offset + 30 + name_length + extra_length


def memmap_npz_member(path: str, member: str, dataset: str) -> np.ndarray:
    """Read-only memory map of an array stored *uncompressed* in an ``.npz`` (``np.savez``).

    ``np.load(mmap_mode=...)`` silently ignores mmap_mode for .npz files and reads the whole member
    into RAM; an uncompressed member is however a plain .npy byte stream at a fixed file offset, so
    we parse its header and map its data directly. Raises :class:`CompressedMemberError` for members
    written by ``np.savez_compressed``.
    """
    info, offset = _npz_member_info(path, member, dataset)
    if info.compress_type != zipfile.ZIP_STORED:
        raise CompressedMemberError(
            f"{dataset}: {path}: array {member!r} is compressed, it cannot be memory-mapped")
    file_size = os.path.getsize(path)
    with open(path, "rb") as handle:
        handle.seek(offset)
        try:
            version = np.lib.format.read_magic(handle)
            # Version 3.0 (utf-8 field names) only matters for structured dtypes, never for images.
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, OSError, EOFError) as error:
            raise file_error(dataset, path, f"member {member!r} is not a valid .npy ({error})") from None
        data_offset = handle.tell()
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if data_offset + expected > file_size or expected > info.file_size:
        raise file_error(dataset, path, f"is truncated: array {member!r} {shape} needs {expected} "
                                        f"bytes, the file has {file_size - data_offset} after "
                                        f"the header")
    return np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=tuple(shape),
                     order="F" if fortran_order else "C")


def extract_npz_member(path: str, member: str, out_path: str, dataset: str,
                       chunk_bytes: int = 64 << 20) -> None:
    """Streams a (compressed) .npz member into a standalone .npy file, chunk by chunk so RAM stays
    bounded; written to a temporary name and renamed, so an interrupted run leaves no half cache."""
    info, _ = _npz_member_info(path, member, dataset)
    try:
        with atomic_path(out_path) as temporary, zipfile.ZipFile(path) as archive, \
                archive.open(info) as source, open(temporary, "wb") as target:
            while True:
                chunk = source.read(chunk_bytes)
                if not chunk:
                    break
                target.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise file_error(dataset, path, f"could not be decompressed ({error})") from None


# ------------------------------------------------------------------------------------------------
# Prepared TFDS datasets

def tfds_builder_if_prepared(name: str, tfds_data_dir: str, dataset: str):
    """The TFDS builder of ``name`` under ``tfds_data_dir`` if its data is already prepared there.

    Never downloads: offline, a TFDS download retries for minutes before failing, so a missing
    preparation is reported at once instead.
    """
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    try:
        builder = tfds.builder(name, data_dir=os.fspath(tfds_data_dir))
        prepared = builder.is_prepared()
    except Exception as error:  # pylint: disable=broad-except  # tfds raises many kinds
        raise DatasetError(f"{dataset}: cannot open TFDS dataset {name!r} in {tfds_data_dir} "
                           f"({type(error).__name__}: {error})") from None
    if not prepared:
        raise DatasetError(
            f"{dataset}: TFDS dataset {name!r} is not prepared in {tfds_data_dir}; run "
            f"tfds.builder({name!r}, data_dir={os.fspath(tfds_data_dir)!r}).download_and_prepare() "
            f"on a machine with network access, or pass data_dir with the official files "
            f"({OFFICIAL_URLS[_url_key(dataset)]})")
    return builder


def tfds_split_names(builder, split: str) -> list:
    """Split names of a prepared builder for ``split`` ("all" = every split, in sorted order)."""
    available = sorted(builder.info.splits.keys())
    if split == "all":
        return available
    if split not in available:
        raise DatasetError(f"{builder.name}: TFDS split {split!r} not prepared "
                           f"(available: {', '.join(available)})")
    return [split]


def iterate_tfds(builder, splits: Sequence[str], batch_size: int = 256):
    """Yields numpy batches (dicts) of the given splits of a prepared builder, in stored order."""
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    for split in splits:
        dataset = builder.as_dataset(split=split, shuffle_files=False, batch_size=batch_size)
        yield from tfds.as_numpy(dataset)


# ------------------------------------------------------------------------------------------------
# tf.data fast path for in-memory images

def gather_batch_fn(images: np.ndarray, clip: Optional[Tuple[float, float]] = None) -> Callable:
    """A traceable ``tf_batch_fn`` for uint8 images held in RAM: random int64 values [B] -> float32
    [B, ...] images drawn uniformly (value mod N), assembled in the graph without the GIL, optionally
    clipped to ``clip`` = (low, high).

    The uint8 array becomes one constant tensor (TF copies it once; for a few hundred MB that is
    the price of a GIL-free gather).
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    table = tf.constant(np.ascontiguousarray(images))
    count = tf.constant(len(images), dtype=tf.int64)

    def batch_fn(random_values):
        indices = tf.math.floormod(tf.cast(random_values, tf.int64), count)
        batch = tf.cast(tf.gather(table, indices), tf.float32) / 255.0
        return batch if clip is None else tf.clip_by_value(batch, clip[0], clip[1])

    return batch_fn
