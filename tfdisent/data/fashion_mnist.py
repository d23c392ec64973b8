"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist), the
sparsity experiment of the Decomposition paper (Mathieu et al. 2019).

Files are in the IDX format: a big-endian magic of two zero bytes, a type byte (0x08 = uint8) and
the number of dimensions, then that many big-endian int32 sizes, then the data:
``train-images-idx3-ubyte`` uint8 [60000, 28, 28], ``train-labels-idx1-ubyte`` uint8 [60000]
(``t10k-*`` for the 10,000 test images), plain or ``.gz``.

The class label (10 classes) is the only factor. Classes are not a grid of unique images, so
``sample_observations_from_factors`` returns a random image of each requested class. Mathieu et al.
resize to 32x32 (torchvision's bilinear ``Resize``) and clamp pixels to [1e-6, 1 - 1e-6]:
``FashionMNIST(image_size=32, clamp=True)``.
"""

from __future__ import annotations

import gzip
import os
from typing import Callable, Optional, Tuple

import numpy as np

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import DatasetError, GroundTruthData

SPLIT_PREFIXES = {"train": "train", "test": "t10k"}
OFFICIAL_NUM_CLASSES = 10
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot")
CLAMP = (1e-6, 1.0 - 1e-6)
_IDX_UINT8 = 0x08


def read_idx(path: str, dataset: str, ndim: int) -> np.ndarray:
    """A uint8 IDX array with ``ndim`` dimensions, validated against its header and file length."""
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:  # gzip: "Compressed file ended before ..."
        raise file_utils.file_error(dataset, path, f"is unreadable or truncated ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise file_utils.file_error(dataset, path, "bad magic number; not an IDX file")
    if raw[2] != _IDX_UINT8 or raw[3] != ndim:
        raise file_utils.file_error(dataset, path, f"expected a {ndim}-d uint8 IDX array (magic "
                                    f"0x{0x800 + ndim:08X}), got magic 0x{raw[2] << 8 | raw[3]:08X}")
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise file_utils.file_error(dataset, path, "is truncated inside the header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header_end != expected:
        problem = "is truncated" if len(raw) - header_end < expected else "has trailing bytes"
        raise file_utils.file_error(dataset, path, f"{problem}: header declares {shape} = {expected} "
                                    f"bytes, the file has {len(raw) - header_end}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


class FashionMNIST(GroundTruthData):
    """Fashion-MNIST: one factor (the class), observations 28x28x1 (or resized).

    Args:
      data_dir: folder holding the IDX files (also searched: ``data_dir/fashion_mnist/``,
        ``data_dir/fashion-mnist/``); defaults to ``$DISENTANGLEMENT_LIB_DATA``.
      tfds_data_dir: TFDS data dir with a prepared ``fashion_mnist`` (used when data_dir has none).
      split: "train" (60,000), "test" (10,000) or "all".
      image_size: 28 (native) or e.g. 32 (bilinear resize, as Mathieu et al.).
      clamp: clamp pixels to [1e-6, 1 - 1e-6] (Mathieu et al., for their Laplace/Bernoulli terms).
    """

    name = "fashion_mnist"
    factor_names = ("class",)

    def __init__(self, data_dir: Optional[str] = None, tfds_data_dir: Optional[str] = None,
                 split: str = "train", image_size: int = 28, clamp: bool = False):
        if split not in ("all", "train", "test"):
            raise DatasetError(f"{self.name}: split must be 'all', 'train' or 'test', got {split!r}")
        self.image_size, self.clamp = int(image_size), bool(clamp)
        self.observation_shape = (self.image_size, self.image_size, 1)
        self._tf_batch = None
        splits = ("train", "test") if split == "all" else (split,)
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, ("fashion_mnist", "fashion-mnist"))
        found = {s: self._find_split_files(dirs, s) for s in splits}
        if all(all(paths.values()) for paths in found.values()):
            images, labels = zip(*(self._read_split(found[s]) for s in splits))
            source = ", ".join(found[s]["images"] for s in splits)
        elif tfds_data_dir:
            images, labels = self._load_tfds(tfds_data_dir, splits)
            source = f"TFDS fashion_mnist in {tfds_data_dir}"
        else:
            missing = next(os.path.basename(self._names(s, kind)[0]) for s in splits
                           for kind, path in found[s].items() if path is None)
            raise file_utils.missing_file_error(self.name, [missing], dirs)
        images, labels = np.concatenate(images), np.concatenate(labels)
        if self.image_size != images.shape[1]:
            images = file_utils.resize_uint8(images, self.image_size, resample="bilinear")
        self._images = images
        self.class_values, codes = np.unique(labels, return_inverse=True)
        self.labels = codes.reshape(-1).astype(np.int64)
        self.factor_sizes = (len(self.class_values),)
        if self.factor_sizes[0] != OFFICIAL_NUM_CLASSES:
            file_utils.warn_if_unofficial(self.name, self.factor_sizes, (OFFICIAL_NUM_CLASSES,),
                                          source)
        # Rows grouped by class, so one class's images are a contiguous slice of _class_order.
        self._class_order = np.argsort(self.labels, kind="stable")
        self._class_counts = np.bincount(self.labels, minlength=self.factor_sizes[0])
        self._class_starts = np.concatenate([[0], np.cumsum(self._class_counts)[:-1]])

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _names(split: str, kind: str) -> Tuple[str, str]:
        base = f"{SPLIT_PREFIXES[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
        return base, base + ".gz"

    def _find_split_files(self, dirs, split: str) -> dict:
        return {kind: file_utils.find_file(dirs, self._names(split, kind))
                for kind in ("images", "labels")}

    def _read_split(self, paths: dict) -> Tuple[np.ndarray, np.ndarray]:
        images = read_idx(paths["images"], self.name, 3)
        labels = read_idx(paths["labels"], self.name, 1)
        if len(labels) != len(images):
            raise file_utils.file_error(self.name, paths["labels"], f"has {len(labels)} labels for "
                                        f"{len(images)} images in {os.path.basename(paths['images'])}")
        return images[..., None], labels

    def _load_tfds(self, tfds_data_dir: str, splits) -> Tuple[list, list]:
        builder = file_utils.tfds_builder_if_prepared("fashion_mnist", tfds_data_dir, self.name)
        images, labels = [], []
        for split in splits:
            file_utils.tfds_split_names(builder, split)
            for batch in file_utils.iterate_tfds(builder, [split], batch_size=4096):
                images.append(batch["image"])
                labels.append(batch["label"])
        return images, labels

    # -- GroundTruthData -----------------------------------------------------------------------

    @property
    def num_examples(self) -> int:
        return int(len(self._images))

    def _to_float(self, images: np.ndarray) -> np.ndarray:
        images = file_utils.uint8_to_float(images)
        return np.clip(images, *CLAMP) if self.clamp else images

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """A uniformly drawn image of each requested class."""
        classes = self.check_factors(factors)[:, 0]
        offsets = random_state.randint(self._class_counts[classes]) if len(classes) else classes
        rows = self._class_order[self._class_starts[classes] + offsets]
        return self._to_float(self._images[rows])

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph uniform sampling over the images (so classes in their data proportions)."""
        if self._tf_batch is None:
            self._tf_batch = file_utils.gather_batch_fn(self._images, CLAMP if self.clamp else None)
        return self._tf_batch

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tf_batch"] = None
        return state
