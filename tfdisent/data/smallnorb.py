"""smallNORB (LeCun, Huang & Bottou 2004, https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/) as used by
disentanglement_lib (Locatello et al. 2019).

Files: ``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (or the ``.mat.gz`` downloads), in
NORB's binary matrix format: little-endian int32 magic (0x1E3D4C55 = uint8, 0x1E3D4C54 = int32),
int32 ndim, max(3, ndim) int32 dims, then the data. ``dat`` is uint8 [N, 2, 96, 96] (a stereo pair),
``cat`` int32 [N] (category), ``info`` int32 [N, 4] (instance, elevation, azimuth 0,2,..,34,
lighting).

As in disentanglement_lib: both splits are concatenated (24,300 + 24,300 images), only the first
camera is used, images are resized 96->64 with PIL's Lanczos ("ANTIALIAS") filter and stored as
uint8 (199 MB), factors are category 5, elevation 9, azimuth 18 (raw value / 2), lighting 6, and the
object instance (10) is a nuisance factor drawn uniformly for every observation.
"""

from __future__ import annotations

import gzip
import os
from typing import Callable, Optional, Tuple

import numpy as np

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import DatasetError, GroundTruthData, factors_to_indices

SPLIT_PREFIXES = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing",
}
MAGIC_UINT8 = 0x1E3D4C55
MAGIC_INT32 = 0x1E3D4C54
OFFICIAL_FACTOR_SIZES = (5, 9, 18, 6)
OFFICIAL_INSTANCES = 10
FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
# Column order of the internal label table: the 4 factors with the nuisance instance at index 1.
_TABLE_COLUMNS = ("category", "instance", "elevation", "azimuth", "lighting")
_LATENT_COLUMNS = (0, 2, 3, 4)
_RESIZE_CHUNK = 512


class _NorbFile:
    """Sequential reader of one NORB binary matrix (plain or gzip), validating as it goes."""

    def __init__(self, path: str, dataset: str):
        self.path, self.dataset = path, dataset
        try:
            self._handle = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
        except OSError as error:
            raise self.error(f"cannot be opened ({error})") from None
        try:
            self._parse_header()
        except BaseException:
            self._handle.close()
            raise

    def _parse_header(self) -> None:
        try:
            header = self._read_exact(8, "header")
            magic, ndim = np.frombuffer(header, dtype="<i4")
            if magic not in (MAGIC_UINT8, MAGIC_INT32):
                raise self.error(f"bad magic number 0x{int(magic) & 0xFFFFFFFF:08X} (expected "
                                 f"0x{MAGIC_UINT8:08X} uint8 or 0x{MAGIC_INT32:08X} int32); "
                                 f"not a NORB binary matrix")
            if not 1 <= ndim <= 8:
                raise self.error(f"implausible number of dimensions {int(ndim)}")
            # Fewer than 3 dims still reserve 3 int32 slots for the shape.
            dims = np.frombuffer(self._read_exact(4 * max(3, int(ndim)), "header"), dtype="<i4")
        except (OSError, EOFError) as error:
            raise self.error(f"is unreadable ({error})") from None
        self.dtype = np.dtype(np.uint8) if magic == MAGIC_UINT8 else np.dtype("<i4")
        self.shape = tuple(int(d) for d in dims[:ndim])
        if min(self.shape) <= 0:
            raise self.error(f"has an invalid shape {self.shape}")

    def error(self, problem: str) -> DatasetError:
        return file_utils.file_error(self.dataset, self.path, problem)

    def _read_exact(self, num_bytes: int, what: str) -> bytes:
        try:
            data = self._handle.read(num_bytes)
        except (OSError, EOFError) as error:  # gzip: "Compressed file ended before ..."
            raise self.error(f"is truncated or corrupt while reading the {what} ({error})") from None
        if len(data) != num_bytes:
            raise self.error(f"is truncated: {what} needs {num_bytes} more bytes, got {len(data)}")
        return data

    def read_records(self, count: int) -> np.ndarray:
        """The next ``count`` records (slices along the first dimension)."""
        record_shape = self.shape[1:]
        num_bytes = count * int(np.prod(record_shape, dtype=np.int64)) * self.dtype.itemsize
        data = self._read_exact(num_bytes, "data")
        return np.frombuffer(data, dtype=self.dtype).reshape((count,) + record_shape)

    def read_all(self) -> np.ndarray:
        data = self.read_records(self.shape[0])
        self.check_end()
        return data

    def check_end(self) -> None:
        try:
            extra = self._handle.read(1)
        except (OSError, EOFError) as error:
            raise self.error(f"is corrupt after the data ({error})") from None
        if extra:
            raise self.error(f"has bytes beyond the {self.shape} matrix its header declares")

    def close(self) -> None:
        self._handle.close()


class SmallNORB(GroundTruthData):
    """smallNORB toys: 4 ground-truth factors, instance as nuisance, observations 64x64x1.

    Args:
      data_dir: folder holding the six official files (``.mat`` or ``.mat.gz``; also searched:
        ``data_dir/small_norb/``, disentanglement_lib's layout); defaults to
        ``$DISENTANGLEMENT_LIB_DATA``.
      tfds_data_dir: TFDS data dir with a prepared ``smallnorb`` (used when data_dir has no files;
        its manual folder ``downloads/manual/`` is searched for the official files too).
      split: "all" (both files, as disentanglement_lib), "train" or "test".
      image_size: side of the resized square images.
    """

    name = "smallnorb"
    factor_names = FACTOR_NAMES

    def __init__(self, data_dir: Optional[str] = None, tfds_data_dir: Optional[str] = None,
                 split: str = "all", image_size: int = 64):
        if split not in ("all", "train", "test"):
            raise DatasetError(f"{self.name}: split must be 'all', 'train' or 'test', got {split!r}")
        self.image_size = int(image_size)
        self.observation_shape = (self.image_size, self.image_size, 1)
        self._tf_batch = None
        splits = ("train", "test") if split == "all" else (split,)
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, ("small_norb", "smallnorb"), tfds_data_dir)
        found = {s: self._find_split_files(dirs, s) for s in splits}
        if all(all(paths.values()) for paths in found.values()):
            images, table = zip(*(self._read_split(found[s]) for s in splits))
            source = ", ".join(found[s]["dat"] for s in splits)
        elif tfds_data_dir:
            images, table = self._load_tfds(tfds_data_dir, splits)
            source = f"TFDS smallnorb in {tfds_data_dir}"
        else:
            missing = next(f"{SPLIT_PREFIXES[s]}-{kind}.mat" for s in splits
                           for kind, path in found[s].items() if path is None)
            raise file_utils.missing_file_error(self.name, [missing], dirs)
        self._images = np.concatenate(images)
        self._grid = file_utils.grid_from_labels(np.concatenate(table), self.name, source)
        sizes = self._grid.factor_sizes
        self.factor_sizes = tuple(sizes[i] for i in _LATENT_COLUMNS)
        self.num_instances = sizes[1]
        file_utils.warn_if_unofficial(self.name, self.factor_sizes, OFFICIAL_FACTOR_SIZES, source)

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _find_split_files(dirs, split: str) -> dict:
        prefix = SPLIT_PREFIXES[split]
        return {kind: file_utils.find_file(dirs, [f"{prefix}-{kind}.mat", f"{prefix}-{kind}.mat.gz"])
                for kind in ("dat", "cat", "info")}

    def _read_split(self, paths: dict) -> Tuple[np.ndarray, np.ndarray]:
        categories = self._read_matrix(paths["cat"], np.int32, 1)
        info = self._read_matrix(paths["info"], np.int32, 2)
        if info.shape != (len(categories), 4):
            raise file_utils.file_error(self.name, paths["info"],
                                        f"must be int32 [{len(categories)}, 4] to match "
                                        f"{os.path.basename(paths['cat'])}, got {info.shape}")
        images = self._read_images(paths["dat"], len(categories))
        azimuth = info[:, 2]
        # Official azimuths are 0, 2, ..., 34 (tens of degrees); their index is the value / 2.
        if not (azimuth % 2).any():
            azimuth = azimuth // 2
        table = np.stack([categories, info[:, 0], info[:, 1], azimuth, info[:, 3]], axis=1)
        return images, table.astype(np.int64)

    def _read_matrix(self, path: str, dtype, ndim: int) -> np.ndarray:
        matrix = _NorbFile(path, self.name)
        try:
            if matrix.dtype != np.dtype(dtype) or len(matrix.shape) != ndim:
                raise matrix.error(f"expected a {ndim}-d {np.dtype(dtype).name} matrix, header says "
                                   f"{len(matrix.shape)}-d {matrix.dtype.name} {matrix.shape}")
            return matrix.read_all().astype(np.int64)
        finally:
            matrix.close()

    def _read_images(self, path: str, count: int) -> np.ndarray:
        """First-camera images of a ``dat`` file, resized chunk by chunk so the 448 MB stereo pairs
        never sit in RAM at once."""
        matrix = _NorbFile(path, self.name)
        try:
            if (matrix.dtype != np.uint8 or len(matrix.shape) != 4 or matrix.shape[0] != count
                    or matrix.shape[1] != 2):
                raise matrix.error(f"expected uint8 [{count}, 2, H, W] stereo images, header says "
                                   f"{matrix.dtype.name} {matrix.shape}")
            out = np.empty((count,) + self.observation_shape, dtype=np.uint8)
            for start in range(0, count, _RESIZE_CHUNK):
                stop = min(count, start + _RESIZE_CHUNK)
                first_camera = matrix.read_records(stop - start)[:, 0, :, :, None]
                out[start:stop] = file_utils.resize_uint8(first_camera, self.image_size)
            matrix.check_end()
            return out
        finally:
            matrix.close()

    def _load_tfds(self, tfds_data_dir: str, splits) -> Tuple[list, list]:
        builder = file_utils.tfds_builder_if_prepared("smallnorb", tfds_data_dir, self.name)
        images, tables = [], []
        for split in splits:
            file_utils.tfds_split_names(builder, split)
            for batch in file_utils.iterate_tfds(builder, [split]):
                images.append(file_utils.resize_uint8(batch["image"], self.image_size))
                # TFDS already stores azimuth / 2.
                tables.append(np.stack([batch["label_category"], batch["instance"],
                                        batch["label_elevation"], batch["label_azimuth"],
                                        batch["label_lighting"]], axis=1).astype(np.int64))
        return images, tables

    # -- GroundTruthData -----------------------------------------------------------------------

    @property
    def num_examples(self) -> int:
        return int(len(self._images))

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """Images of the given factors, each with a uniformly drawn instance (the nuisance factor,
        drawn exactly as disentanglement_lib's SplitDiscreteStateSpace does)."""
        factors = self.check_factors(factors)
        table = np.zeros((len(factors), len(_TABLE_COLUMNS)), dtype=np.int64)
        table[:, list(_LATENT_COLUMNS)] = factors
        table[:, 1] = random_state.randint(self.num_instances, size=len(factors))
        rows = self._grid.rows(factors_to_indices(table, self._grid.factor_sizes))
        return file_utils.uint8_to_float(self._images[rows])

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph uniform sampling over all images (uniform factors and instance)."""
        if self._tf_batch is None:
            self._tf_batch = file_utils.gather_batch_fn(self._images)
        return self._tf_batch

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tf_batch"] = None
        return state
