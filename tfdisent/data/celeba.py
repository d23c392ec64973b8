"""CelebA (Liu, Luo, Wang & Tang 2015, "Deep Learning Face Attributes in the Wild"), aligned and
cropped faces, as an unlabelled image set.

CelebA has no ground-truth factor grid, so ``factor_sizes`` is empty: it serves training and the
unsupervised scores only; ``sample_factors`` returns [n, 0] and sampling observations picks random
images. The 178x218 aligned images are centre-cropped to ``crop_size`` (148 by default, the common
choice of VAE papers on 64x64 CelebA) and resized to 64x64x3 with PIL's Lanczos filter.

Sources, in order: ``data_dir/img_align_celeba/*.jpg`` (the unpacked official archive, read lazily,
one JPEG per observation), ``data_dir/img_align_celeba.zip`` (read lazily from the zip), or a prepared
TFDS ``celeb_a`` in ``tfds_data_dir`` (decoded once into RAM: 12 KB per image, 2.5 GB for all 202,599).
"""

from __future__ import annotations

import glob
import io
import os
import zipfile
from typing import Callable, Optional

import numpy as np
from absl import logging

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import DatasetError, GroundTruthData

FOLDER_NAME = "img_align_celeba"
ZIP_NAME = "img_align_celeba.zip"
PARTITION_FILE = "list_eval_partition.txt"
# list_eval_partition.txt codes and the TFDS split names.
SPLITS = {"train": (0, "train"), "validation": (1, "validation"), "test": (2, "test")}


class CelebA(GroundTruthData):
    """CelebA faces at 64x64x3, without factors.

    Args:
      data_dir: folder holding ``img_align_celeba/`` or ``img_align_celeba.zip`` (also searched:
        ``data_dir/celeba/``); defaults to ``$DISENTANGLEMENT_LIB_DATA``.
      tfds_data_dir: TFDS data dir with a prepared ``celeb_a`` (used when data_dir has no images).
      split: "all", "train", "validation" or "test" (local files need ``list_eval_partition.txt``
        next to the images for anything but "all").
      image_size, crop_size: output side and centre-crop side.
      max_images: keep only the first (sorted) images, e.g. to bound the TFDS route's RAM.
    """

    name = "celeba"
    factor_names = ()
    factor_sizes = ()

    def __init__(self, data_dir: Optional[str] = None, tfds_data_dir: Optional[str] = None,
                 split: str = "all", image_size: int = 64, crop_size: int = 148,
                 max_images: Optional[int] = None):
        if split != "all" and split not in SPLITS:
            raise DatasetError(f"{self.name}: split must be 'all' or one of {sorted(SPLITS)}, "
                               f"got {split!r}")
        self.image_size, self.crop_size = int(image_size), int(crop_size)
        self.observation_shape = (self.image_size, self.image_size, 3)
        self._folder: Optional[str] = None
        self._zip_path: Optional[str] = None
        self._zip: Optional[zipfile.ZipFile] = None
        self._zip_pid: Optional[int] = None
        self._memory_images: Optional[np.ndarray] = None
        self._tf_batch = None
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, ("celeba", "CelebA"))
        folder = next((os.path.join(d, FOLDER_NAME) for d in dirs
                       if os.path.isdir(os.path.join(d, FOLDER_NAME))), None)
        zip_path = file_utils.find_file(dirs, [ZIP_NAME])
        if folder is not None:
            self._folder = folder
            names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.jpg")))
            source = folder
        elif zip_path is not None:
            self._zip_path = zip_path
            names = sorted(n for n in self._open_zip().namelist() if n.lower().endswith(".jpg"))
            source = zip_path
        elif tfds_data_dir:
            self._memory_images = self._load_tfds(tfds_data_dir, split, max_images)
            names = [str(i) for i in range(len(self._memory_images))]
            source = f"TFDS celeb_a in {tfds_data_dir}"
        else:
            raise file_utils.missing_file_error(self.name, [FOLDER_NAME + "/*.jpg"], dirs)
        if self._memory_images is None:
            if split != "all":
                names = self._filter_split(names, split, os.path.dirname(source))
            if max_images is not None:
                names = names[:int(max_images)]
        if not names:
            raise DatasetError(f"{self.name}: {source} holds no images for split {split!r}; get "
                               f"CelebA from {file_utils.OFFICIAL_URLS['celeba']}")
        self.image_names = tuple(names)

    # -- sources -------------------------------------------------------------------------------

    def _open_zip(self) -> zipfile.ZipFile:
        """The zip, reopened per process (a file handle must not be shared across a fork)."""
        if self._zip is None or self._zip_pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self._zip_path)
            except (zipfile.BadZipFile, OSError) as error:
                raise file_utils.file_error(self.name, self._zip_path,
                                            f"is not a readable zip ({error})") from None
            self._zip_pid = os.getpid()
        return self._zip

    def _filter_split(self, names, split: str, directory: str) -> list:
        partition = file_utils.find_file([directory, os.path.dirname(directory)], [PARTITION_FILE])
        if partition is None:
            raise DatasetError(f"{self.name}: split {split!r} needs {PARTITION_FILE} next to "
                               f"{FOLDER_NAME} in {directory}; get it from "
                               f"{file_utils.OFFICIAL_URLS['celeba']}")
        code = SPLITS[split][0]
        with open(partition, encoding="utf-8") as handle:
            wanted = {parts[0] for parts in (line.split() for line in handle)
                      if len(parts) == 2 and parts[1] == str(code)}
        return [n for n in names if os.path.basename(n) in wanted]

    def _load_tfds(self, tfds_data_dir: str, split: str, max_images: Optional[int]) -> np.ndarray:
        builder = file_utils.tfds_builder_if_prepared("celeb_a", tfds_data_dir, self.name)
        splits = file_utils.tfds_split_names(builder, "all" if split == "all" else SPLITS[split][1])
        total = sum(builder.info.splits[s].num_examples for s in splits)
        count = total if max_images is None else min(total, int(max_images))
        logging.warning("celeba: decoding %d TFDS images into RAM (%.1f GB)", count,
                        count * np.prod(self.observation_shape) / 1e9)
        out = np.empty((count,) + self.observation_shape, dtype=np.uint8)
        filled = 0
        for batch in file_utils.iterate_tfds(builder, splits):
            images = batch["image"][:count - filled]
            height, width = images.shape[1:3]
            box = file_utils.center_crop_box(height, width, self.crop_size)
            out[filled:filled + len(images)] = file_utils.resize_uint8(images, self.image_size, crop=box)
            filled += len(images)
            if filled >= count:
                break
        return out[:filled]

    def _decode(self, name: str) -> np.ndarray:
        """One image as uint8 [size, size, 3] (centre crop, Lanczos resize)."""
        from PIL import Image  # pylint: disable=import-outside-toplevel

        if self._folder is not None:
            path, opener = os.path.join(self._folder, name), None
        else:
            path = f"{self._zip_path}:{name}"
            opener = lambda: io.BytesIO(self._open_zip().read(name))  # noqa: E731
        try:
            with Image.open(opener() if opener else path) as image:
                image = image.convert("RGB")
                box = file_utils.center_crop_box(image.height, image.width, self.crop_size)
                return np.asarray(image.crop(box).resize((self.image_size,) * 2, Image.LANCZOS))
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise file_utils.file_error(self.name, path, f"is not a readable image ({error})") from None

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_zip=None, _zip_pid=None, _tf_batch=None)
        return state

    # -- GroundTruthData -----------------------------------------------------------------------

    @property
    def num_examples(self) -> int:
        return len(self.image_names)

    def images_at(self, indices: np.ndarray) -> np.ndarray:
        """float32 images [n, 64, 64, 3] of the given image indices (into ``image_names``)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self._memory_images is not None:
            return file_utils.uint8_to_float(self._memory_images[indices])
        out = np.empty((len(indices),) + self.observation_shape, dtype=np.uint8)
        for i, index in enumerate(indices):
            out[i] = self._decode(self.image_names[index])
        return file_utils.uint8_to_float(out)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """``factors`` is [n, 0]: n images drawn uniformly with ``random_state``."""
        factors = self.check_factors(factors)
        return self.images_at(random_state.randint(self.num_examples, size=len(factors)))

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph batches: a gather for TFDS images held in RAM; for the image folder, read_file +
        decode_jpeg + crop + Lanczos resize in TF ops (no GIL; TF's lanczos3 differs from PIL's
        Lanczos by a few grey levels). None for the zip source."""
        if self._tf_batch is None:
            if self._memory_images is not None:
                self._tf_batch = file_utils.gather_batch_fn(self._memory_images)
            elif self._folder is not None:
                self._tf_batch = self._folder_batch_fn()
        return self._tf_batch

    def _folder_batch_fn(self) -> Callable:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        paths = tf.constant([os.path.join(self._folder, n) for n in self.image_names])
        count = tf.constant(len(self.image_names), dtype=tf.int64)
        crop, size = self.crop_size, self.image_size

        def load(path):
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            height, width = tf.shape(image)[0], tf.shape(image)[1]
            side = tf.minimum(tf.minimum(height, width), crop)
            image = tf.image.crop_to_bounding_box(image, (height - side) // 2, (width - side) // 2,
                                                  side, side)
            image = tf.image.resize(image, (size, size), method="lanczos3", antialias=True)
            return tf.clip_by_value(tf.round(image), 0.0, 255.0) / 255.0

        def batch_fn(random_values):
            batch_paths = tf.gather(paths, tf.math.floormod(tf.cast(random_values, tf.int64), count))
            return tf.map_fn(load, batch_paths, fn_output_signature=tf.float32)

        return batch_fn
