"""MPI3D (Gondal et al. 2019, "On the Transfer of Inductive Bias from Simulation to the Real World: a
New Disentanglement Dataset", https://github.com/rr-learning/disentanglement_dataset).

Each official file ``mpi3d_{toy,realistic,real}.npz`` holds one array ``images`` uint8
[1036800, 64, 64, 3] (12.7 GB) in factor-grid order, last factor fastest: object_color 6,
object_shape 6, object_size 2, camera_height 3, background_color 3, horizontal_axis 40,
vertical_axis 40. There are no labels, so the image count must equal the grid size.

Reading: ``np.load`` reads an .npz member wholly into RAM (``mmap_mode`` is ignored for .npz). A
member written by ``np.savez`` is stored uncompressed, i.e. a plain .npy byte stream inside the zip,
so it is memory-mapped in place. A member written by ``np.savez_compressed`` cannot be mapped; it is
extracted once to ``<cache_dir>/mpi3d_<variant>.images.<digest>.npy`` (cache_dir defaults to
``$TFDISENT_CACHE_DIR``, else the .npz's folder; the digest of the source's path, size and mtime
keeps caches of different files apart) (12.7 GB of disk, single pass of zlib
inflate, see benchmarks/data_feed.py for the measured rate) and that file is memory-mapped from then on.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
from absl import logging

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import DatasetError, GroundTruthData, factors_to_indices

OFFICIAL_FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")


class _MPI3D(GroundTruthData):
    """One MPI3D variant: 7 factors, 1,036,800 images 64x64x3, read through a memory map.

    Args:
      data_dir: folder holding ``mpi3d_<variant>.npz`` (also searched: ``data_dir/mpi3d_<variant>/``,
        disentanglement_lib's layout); defaults to ``$DISENTANGLEMENT_LIB_DATA``.
      factor_sizes: the grid the file holds; the official grid by default. The file has no labels,
        so a reduced file (e.g. for tests) must state its grid here.
      extract_compressed: for a compressed .npz, extract the images once to an .npy cache (True) or
        raise DatasetError (False).
      cache_dir: where that cache goes (default: ``$TFDISENT_CACHE_DIR``, else next to the .npz).
    """

    name = "mpi3d"
    factor_names = FACTOR_NAMES

    def __init__(self, data_dir: Optional[str] = None, factor_sizes: Optional[Sequence[int]] = None,
                 extract_compressed: bool = True, cache_dir: Optional[str] = None):
        self.file_name = f"{self.name}.npz"
        self.factor_sizes = tuple(int(s) for s in (factor_sizes or OFFICIAL_FACTOR_SIZES))
        if len(self.factor_sizes) != len(FACTOR_NAMES) or min(self.factor_sizes) < 1:
            raise DatasetError(f"{self.name}: factor_sizes must be {len(FACTOR_NAMES)} positive "
                               f"sizes, got {self.factor_sizes}")
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, (self.name, "mpi3d"))
        self.path = file_utils.find_file(dirs, [self.file_name])
        if self.path is None:
            raise file_utils.missing_file_error(self.name, [self.file_name], dirs)
        self._extract_compressed = extract_compressed
        self._cache_dir = cache_dir
        self._cache_path: Optional[str] = None
        self._mapped: Optional[np.ndarray] = None
        images = self._images()
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise file_utils.file_error(self.name, self.path, f"'images' must be uint8 [N, H, W, 3], "
                                        f"got {images.dtype} {images.shape}")
        expected = int(np.prod(self.factor_sizes, dtype=np.int64))
        if images.shape[0] != expected:
            raise file_utils.file_error(
                self.name, self.path,
                f"holds {images.shape[0]} images but the factor grid "
                f"{'x'.join(map(str, self.factor_sizes))} needs {expected} (the file has no labels, "
                f"so the count must match; pass factor_sizes for a reduced file)")
        self.observation_shape = tuple(int(s) for s in images.shape[1:])
        file_utils.warn_if_unofficial(self.name, self.factor_sizes, OFFICIAL_FACTOR_SIZES, self.path)

    def _images(self) -> np.ndarray:
        """The memory-mapped images (re-created lazily after unpickling; a map is never pickled)."""
        if self._mapped is None:
            if self._cache_path is not None:
                self._mapped = np.load(self._cache_path, mmap_mode="r")
            else:
                try:
                    self._mapped = file_utils.memmap_npz_member(self.path, "images", self.name)
                except file_utils.CompressedMemberError:
                    self._mapped = self._map_extracted_cache()
        return self._mapped

    def _map_extracted_cache(self) -> np.ndarray:
        cache_path = file_utils.cache_path_for(self._cache_dir, self.path, f"{self.name}.images")
        if not self._extract_compressed:
            raise file_utils.file_error(
                self.name, self.path, "is compressed (np.savez_compressed), so it cannot be "
                "memory-mapped; pass extract_compressed=True to extract it once to an .npy cache, "
                "or re-save it uncompressed with np.savez")
        if not os.path.isfile(cache_path):
            if not file_utils.writable_folder(cache_path):
                raise file_utils.file_error(
                    self.name, self.path, f"is compressed and the cache folder "
                    f"{os.path.dirname(cache_path)} is not writable; pass cache_dir= a writable "
                    f"folder with room for the images")
            logging.warning("%s: %s is compressed; extracting its images once to %s so they can be "
                            "memory-mapped (12.7 GB and a few minutes for the full set)",
                            self.name, self.path, cache_path)
            file_utils.extract_npz_member(self.path, "images", cache_path, self.name)
        try:
            mapped = np.load(cache_path, mmap_mode="r")
        except (ValueError, OSError) as error:
            raise DatasetError(f"{self.name}: cache {cache_path} is unreadable ({error}); delete "
                               f"it to extract {self.path} again") from None
        self._cache_path = cache_path
        return mapped

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_mapped"] = None
        return state

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        factors = self.check_factors(factors)
        rows = factors_to_indices(factors, self.factor_sizes)
        return file_utils.uint8_to_float(file_utils.read_rows(self._images(), rows))

    # tf_batch_fn stays None: there is no TF op for random reads from a file, and wrapping the memory
    # map in tf.numpy_function would hold the GIL exactly like the generic numpy path.


class MPI3DToy(_MPI3D):
    """MPI3D-toy: simplistic renders (``mpi3d_toy.npz``)."""

    name = "mpi3d_toy"


class MPI3DRealistic(_MPI3D):
    """MPI3D-realistic: realistic renders (``mpi3d_realistic.npz``)."""

    name = "mpi3d_realistic"


class MPI3DReal(_MPI3D):
    """MPI3D-real: photographs of the real robot platform (``mpi3d_real.npz``)."""

    name = "mpi3d_real"
