"""The file-backed datasets' shared helpers, by their former single-module names.

The helpers live in one module per concern; this module re-exports them so that
``from tfdisent.data import file_utils`` keeps working for the dataset modules and plugins:

* :mod:`tfdisent.data.locate`: locating official files and caches, one-line file errors;
* :mod:`tfdisent.data.label_grid`: label tables -> factor grid;
* :mod:`tfdisent.data.arrays`: lazy row reads, HDF5 -> ``.npy``, ``.npz`` members as memory maps;
* :mod:`tfdisent.data.image_ops`: uint8 -> float, resizing, centre crops, the tf.data gather;
* :mod:`tfdisent.data.tfds_reading`: prepared TensorFlow Datasets.

Every failure is a :class:`~tfdisent.data.ground_truth.DatasetError` whose one-line message names the
file, what is wrong with it and where the right file comes from.
"""

from tfdisent.data.arrays import (CompressedMemberError, extract_npz_member, h5_contiguous_memmap, h5_to_npy,
                                  memmap_npz_member, read_h5_rows, read_rows)
from tfdisent.data.image_ops import center_crop_box, gather_batch_fn, resize_uint8, uint8_to_float
from tfdisent.data.label_grid import LabelGrid, grid_from_labels
from tfdisent.data.locate import (DATA_DIR_ENV, OFFICIAL_URLS, cache_path_for, candidate_dirs, file_error,
                                  find_file, missing_file_error, official_url, resolve_data_dir,
                                  warn_if_unofficial, writable_folder)
from tfdisent.data.tfds_reading import iterate_tfds, tfds_builder_if_prepared, tfds_split_names

__all__ = ["CompressedMemberError", "extract_npz_member", "h5_contiguous_memmap", "h5_to_npy", "memmap_npz_member",
           "read_h5_rows", "read_rows", "center_crop_box", "gather_batch_fn", "resize_uint8", "uint8_to_float",
           "LabelGrid", "grid_from_labels", "DATA_DIR_ENV", "OFFICIAL_URLS", "cache_path_for", "candidate_dirs",
           "file_error", "find_file", "missing_file_error", "official_url", "resolve_data_dir",
           "warn_if_unofficial", "writable_folder", "iterate_tfds", "tfds_builder_if_prepared", "tfds_split_names"]
