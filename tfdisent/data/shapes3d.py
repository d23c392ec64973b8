"""3D Shapes (Burgess & Kim 2018, https://github.com/deepmind/3d-shapes), read lazily from the
official ``3dshapes.h5``.

The file holds ``images`` uint8 [480000, 64, 64, 3] and ``labels`` float64 [480000, 6] (the factor
*values*, e.g. scale 0.75..1.25, orientation -30..30). Factors, in the file's order with the last one
fastest: floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4, orientation 15.

The images are 5.9 GB, so they stay on disk. How they are read depends on the HDF5 layout:

* contiguous and uncompressed: memory-mapped directly at the dataset's file offset;
* chunked one image (or a few) per chunk: one h5py ``read_direct`` per image;
* chunked across images (e.g. h5py's automatic gzip chunking, which the 267 MB official download
  suggests): one random image would inflate several chunks each shared by hundreds of images (42
  images/s measured on such a file), so the images are copied once, sequentially (~10,000 images/s
  measured, under a minute for the full set), to an uncompressed ``.npy`` cache
  (5.9 GB of disk) that is memory-mapped from then on (``3dshapes.images.<digest>.npy``; the digest
  of the source's path, size and mtime keeps caches of different files apart).
"""

from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np
from absl import logging

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import DatasetError, GroundTruthData, factors_to_indices

FILE_NAME = "3dshapes.h5"
CACHE_STEM = "3dshapes.images"
OFFICIAL_FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
# Chunks holding at most this many whole images are cheap to read one image at a time.
_MAX_IMAGES_PER_CHUNK = 16


class Shapes3D(GroundTruthData):
    """3D Shapes: 480,000 renders of an object in a room, 6 factors, 64x64x3.

    Args:
      data_dir: folder holding ``3dshapes.h5`` (also searched: ``data_dir/3dshapes/``); defaults to
        ``$DISENTANGLEMENT_LIB_DATA``.
      tfds_data_dir: a TFDS data dir. Its manual folder ``downloads/manual/3dshapes.h5`` is used
        like ``data_dir``; failing that, a prepared TFDS ``shapes3d`` is loaded into RAM (5.9 GB for
        the full set, so prefer the .h5 file).
      extract: for a file chunked across images, copy the images once to an uncompressed .npy cache
        (None = when the layout needs it, True = always, False = never: read the slow way).
      cache_dir: where that cache goes (default: ``$TFDISENT_CACHE_DIR``, else next to the .h5).

    The factor grid is derived from the labels, so files with a reduced grid work (with a warning);
    labels that are not a complete grid raise DatasetError. ``storage`` tells how images are read:
    "memmap", "h5", "npy_cache" or "memory".
    """

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    observation_shape = (64, 64, 3)

    def __init__(self, data_dir: Optional[str] = None, tfds_data_dir: Optional[str] = None,
                 extract: Optional[bool] = None, cache_dir: Optional[str] = None):
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, ("3dshapes",), tfds_data_dir)
        path = file_utils.find_file(dirs, [FILE_NAME])
        self._path: Optional[str] = None
        self._h5 = None
        self._h5_pid: Optional[int] = None
        self._array: Optional[np.ndarray] = None  # memory map or in-RAM images, if not via h5py
        self._cache_path: Optional[str] = None
        self._tf_batch = None
        self.storage = ""
        if path is not None:
            labels = self._open_file(path, extract, cache_dir)
            source = path
        elif tfds_data_dir:
            labels = self._load_tfds(tfds_data_dir)
            source = f"TFDS shapes3d in {tfds_data_dir}"
        else:
            raise file_utils.missing_file_error(self.name, [FILE_NAME], dirs)
        self._grid = file_utils.grid_from_labels(labels, self.name, source)
        if len(self._grid.factor_sizes) != len(FACTOR_NAMES):
            raise file_utils.file_error(self.name, source, f"labels must have {len(FACTOR_NAMES)} "
                                        f"columns, got {len(self._grid.factor_sizes)}")
        self.factor_sizes = self._grid.factor_sizes
        file_utils.warn_if_unofficial(self.name, self.factor_sizes, OFFICIAL_FACTOR_SIZES, source)

    # -- file access ---------------------------------------------------------------------------

    def _open_file(self, path: str, extract: Optional[bool], cache_dir: Optional[str]) -> np.ndarray:
        self._path = path
        images = self._h5_images()
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise file_utils.file_error(self.name, path, f"dataset 'images' must be uint8 "
                                        f"[N, H, W, 3], got {images.dtype} {images.shape}")
        labels_ds = self._h5["labels"]
        if labels_ds.ndim != 2 or labels_ds.shape[0] != images.shape[0]:
            raise file_utils.file_error(self.name, path, f"dataset 'labels' must be [{images.shape[0]}, "
                                        f"{len(FACTOR_NAMES)}], got {labels_ds.shape}")
        try:
            labels = labels_ds[()]
        except OSError as error:
            raise file_utils.file_error(self.name, path, f"labels are unreadable ({error})") from None
        self.observation_shape = tuple(int(s) for s in images.shape[1:])
        self._choose_storage(images, extract, cache_dir)
        return labels

    def _choose_storage(self, images, extract: Optional[bool], cache_dir: Optional[str]) -> None:
        mapped = file_utils.h5_contiguous_memmap(images, self._path)
        if mapped is not None and not extract:
            self._array, self.storage = mapped, "memmap"
            return
        chunks = images.chunks
        per_image = (chunks is None or (tuple(chunks[1:]) == tuple(images.shape[1:])
                                        and chunks[0] <= _MAX_IMAGES_PER_CHUNK))
        if extract is False or (extract is None and per_image):
            self.storage = "h5"
            if not per_image:
                logging.warning("shapes3d: %s is chunked %s across images; random reads inflate "
                                "whole chunks and are slow (extract=True caches it as .npy)",
                                self._path, chunks)
            return
        cache_path = file_utils.cache_path_for(cache_dir, self._path, CACHE_STEM)
        if not os.path.isfile(cache_path):
            if not file_utils.writable_folder(cache_path):
                logging.warning("shapes3d: %s is chunked %s across images and %s is not writable "
                                "for a .npy cache; reading the slow way (pass cache_dir=)",
                                self._path, chunks, os.path.dirname(cache_path))
                self.storage = "h5"
                return
            logging.warning("shapes3d: %s is chunked %s across images; copying the images once to "
                            "%s for fast random access (5.9 GB for the full set)",
                            self._path, chunks, cache_path)
            try:
                file_utils.h5_to_npy(images, cache_path)
            except OSError as error:
                raise DatasetError(f"{self.name}: copying {self._path} to {cache_path} failed "
                                   f"({error})") from None
        try:
            cached = np.load(cache_path, mmap_mode="r")
        except (ValueError, OSError) as error:
            raise DatasetError(f"{self.name}: cache {cache_path} is unreadable ({error}); delete it "
                               f"to copy {self._path} again") from None
        if cached.shape != images.shape or cached.dtype != images.dtype:
            raise DatasetError(f"{self.name}: cache {cache_path} holds {cached.dtype} {cached.shape}, "
                               f"not the {images.shape} images of {self._path}; delete it")
        self._array, self.storage = cached, "npy_cache"
        self._cache_path = cache_path

    def _h5_images(self):
        """The h5py ``images`` dataset, (re)opened per process: an HDF5 handle must not cross a fork."""
        if self._h5 is None or self._h5_pid != os.getpid():
            import h5py  # pylint: disable=import-outside-toplevel

            try:
                self._h5 = h5py.File(self._path, "r")
            except OSError as error:  # h5py reports truncation ("truncated file: eof = ...") here
                raise file_utils.file_error(self.name, self._path,
                                            f"is not a readable HDF5 file ({error})") from None
            self._h5_pid = os.getpid()
            missing = [key for key in ("images", "labels") if key not in self._h5]
            if missing:
                raise file_utils.file_error(
                    self.name, self._path, f"has no dataset {missing[0]!r} "
                    f"(keys: {', '.join(sorted(self._h5.keys())) or 'none'})")
        return self._h5["images"]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_h5=None, _h5_pid=None, _tf_batch=None)
        if self.storage in ("memmap", "npy_cache"):
            state["_array"] = None  # re-mapped on first use; a pickled map would copy the data
        return state

    def _stored_images(self) -> np.ndarray:
        if self._array is None and self.storage == "memmap":
            self._array = file_utils.h5_contiguous_memmap(self._h5_images(), self._path)
        elif self._array is None and self.storage == "npy_cache":
            self._array = np.load(self._cache_path, mmap_mode="r")
        return self._array

    def _load_tfds(self, tfds_data_dir: str) -> np.ndarray:
        builder = file_utils.tfds_builder_if_prepared("shapes3d", tfds_data_dir, self.name)
        logging.warning("shapes3d: loading TFDS shapes3d into RAM (5.9 GB for the full set); put "
                        "3dshapes.h5 in data_dir to read it lazily instead")
        keys = [f"label_{n}" for n in FACTOR_NAMES]
        images, labels = [], []
        for batch in file_utils.iterate_tfds(builder, file_utils.tfds_split_names(builder, "all")):
            images.append(batch["image"])
            labels.append(np.stack([batch[k] for k in keys], axis=1))
        self._array, self.storage = np.concatenate(images), "memory"
        self.observation_shape = tuple(int(s) for s in self._array.shape[1:])
        return np.concatenate(labels)

    # -- GroundTruthData -----------------------------------------------------------------------

    @property
    def factor_values(self) -> tuple:
        """The label value of each factor index (e.g. the 8 scales 0.75..1.25), one array per factor."""
        return self._grid.factor_values

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        factors = self.check_factors(factors)
        rows = self._grid.rows(factors_to_indices(factors, self.factor_sizes))
        try:
            if self.storage == "h5":
                return file_utils.uint8_to_float(file_utils.read_h5_rows(self._h5_images(), rows))
            return file_utils.uint8_to_float(file_utils.read_rows(self._stored_images(), rows))
        except OSError as error:
            raise DatasetError(f"{self.name}: reading {self._path} failed ({error})") from None

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph gather when the images were loaded into RAM from TFDS; None for the file (a
        disk read inside the graph would hold the GIL just like the generic numpy path)."""
        if self.storage != "memory":
            return None
        if self._tf_batch is None:
            self._tf_batch = file_utils.gather_batch_fn(self._array)
        return self._tf_batch
