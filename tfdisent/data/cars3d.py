"""Cars3D (Reed, Zhang, Zhang & Lee 2015, "Deep Visual Analogy-Making"), as used by
disentanglement_lib (Locatello et al. 2019).

The official archive http://www.scottreed.info/files/nips2015-analogy-data.tar.gz unpacks to a
``cars/`` folder of 183 ``*_mesh.mat`` files, one per car model. Each holds ``im`` uint8
[128, 128, 3, 24, 4] = (height, width, channel, azimuth, elevation). Factors: elevation 4, azimuth 24,
object 183 (object = index of the file in sorted order; disentanglement_lib used the unsorted
directory listing, so its object numbering is platform-dependent). Images are resized to 64x64 with
PIL's Lanczos filter (disentanglement_lib's ``thumbnail(ANTIALIAS)`` is the same operation for
square 128->64) and held in RAM as uint8 (216 MB).
"""

from __future__ import annotations

import glob
import os
from typing import Callable, Optional

import numpy as np

from tfdisent.data import file_utils
from tfdisent.data.ground_truth import GroundTruthData, factors_to_indices

FOLDER_NAME = "cars"
FILE_PATTERN = "*_mesh.mat"
OFFICIAL_FACTOR_SIZES = (4, 24, 183)
FACTOR_NAMES = ("elevation", "azimuth", "object")


class Cars3D(GroundTruthData):
    """Cars3D: 17,568 renders of 183 car models, 3 factors, 64x64x3.

    Args:
      data_dir: folder holding ``cars/`` (or the ``cars`` folder itself); defaults to
        ``$DISENTANGLEMENT_LIB_DATA``. TFDS has no cars3d builder.
      image_size: side of the resized square images.

    The grid is (elevation, azimuth, object) with sizes read from the files (the ``im`` shape and the
    number of files), so a reduced set of small files works (with a warning).
    """

    name = "cars3d"
    factor_names = FACTOR_NAMES

    def __init__(self, data_dir: Optional[str] = None, image_size: int = 64):
        self.image_size = int(image_size)
        self.observation_shape = (self.image_size, self.image_size, 3)
        self._tf_batch = None
        data_dir = file_utils.resolve_data_dir(data_dir)
        dirs = file_utils.candidate_dirs(data_dir, (FOLDER_NAME,))
        files = []
        for directory in reversed(dirs):  # data_dir/cars first, then data_dir itself
            files = sorted(glob.glob(os.path.join(directory, FILE_PATTERN)))
            if files:
                break
        if not files:
            raise file_utils.missing_file_error(
                self.name, [f"{FOLDER_NAME}/{FILE_PATTERN}"], dirs)
        self.files = tuple(files)
        self._images = self._load(files)
        elevations, azimuths = self._images.shape[:2]
        self.factor_sizes = (int(elevations), int(azimuths), len(files))
        self._images = self._images.reshape((-1,) + self.observation_shape)
        file_utils.warn_if_unofficial(self.name, self.factor_sizes, OFFICIAL_FACTOR_SIZES,
                                      os.path.dirname(files[0]))

    def _load(self, files) -> np.ndarray:
        """uint8 [elevation, azimuth, object, size, size, 3]: the grid order, object fastest."""
        images = None
        for index, path in enumerate(files):
            mesh = self._read_mesh(path)
            if images is None:
                azimuths, elevations = mesh.shape[3:]
                images = np.empty((elevations, azimuths, len(files)) + self.observation_shape,
                                  dtype=np.uint8)
                first_shape, first_path = mesh.shape, path
            elif mesh.shape != first_shape:
                raise file_utils.file_error(self.name, path, f"'im' has shape {mesh.shape}, but "
                                            f"{os.path.basename(first_path)} has {first_shape}")
            # (h, w, c, azimuth, elevation) -> (elevation, azimuth, h, w, c)
            views = np.transpose(mesh, (4, 3, 0, 1, 2)).reshape((-1,) + mesh.shape[:3])
            resized = file_utils.resize_uint8(views, self.image_size)
            images[:, :, index] = resized.reshape(images.shape[:2] + self.observation_shape)
        return images

    def _read_mesh(self, path: str) -> np.ndarray:
        import scipy.io  # pylint: disable=import-outside-toplevel

        try:
            contents = scipy.io.loadmat(path)
        except Exception as error:  # pylint: disable=broad-except  # scipy raises many kinds
            raise file_utils.file_error(self.name, path, f"is not a readable MATLAB file "
                                        f"({type(error).__name__}: {error})") from None
        if "im" not in contents:
            keys = sorted(k for k in contents if not k.startswith("__"))
            raise file_utils.file_error(self.name, path, f"has no variable 'im' (variables: "
                                        f"{', '.join(keys) or 'none'})")
        mesh = contents["im"]
        if mesh.ndim != 5 or mesh.shape[2] != 3 or mesh.dtype != np.uint8:
            raise file_utils.file_error(self.name, path, f"'im' must be uint8 [H, W, 3, azimuth, "
                                        f"elevation], got {mesh.dtype} {mesh.shape}")
        return mesh

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        factors = self.check_factors(factors)
        return file_utils.uint8_to_float(self._images[factors_to_indices(factors, self.factor_sizes)])

    def tf_batch_fn(self) -> Optional[Callable]:
        if self._tf_batch is None:
            self._tf_batch = file_utils.gather_batch_fn(self._images)
        return self._tf_batch

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tf_batch"] = None
        return state
