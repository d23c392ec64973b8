"""Colour, noisy and scream dSprites (Locatello et al. 2019, Sec. 5; disentanglement_lib's
``color_dsprites``, ``noisy_dsprites`` and ``scream_dsprites``).

Each variant has the dSprites factor grid (Higgins et al. 2017) and 64x64x3 observations. The
random parts (colour, noise, background crop) are observation noise, not factors: they are drawn
from the ``RandomState`` in numpy and, in :meth:`tf_batch_fn`, from stateless TF ops seeded by the
batch's int64 values, so a batch is a pure function of its input and training never calls Python.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

import numpy as np
from absl import logging

from tfdisent.data.dsprites import IMAGE_SIZE, DSprites
from tfdisent.data.ground_truth import DatasetError

SCREAM_FILENAME = "scream.jpg"
# disentanglement_lib shrinks the painting with PIL's thumbnail((350, 274)): aspect ratio kept.
SCREAM_MAX_SIZE = (350, 274)


def _stateless_seeds(values, salt: int, num: int):
    """``num`` stateless seeds derived from every value of the batch and a per-variant salt."""
    import tensorflow as tf  # noqa: PLC0415

    # floormod first so the sum cannot overflow int64 for any batch under 2^32 examples.
    total = tf.reduce_sum(tf.math.floormod(tf.cast(values, tf.int64), 2 ** 31))
    seed = tf.stack([total, tf.constant(salt, tf.int64)])
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


class _RGBDSprites(DSprites):
    """dSprites' factor grid rendered into 64x64x3 observations; subclasses add the colour noise."""

    def __init__(self, data_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                 latent_factor_indices: Optional[Sequence[int]] = None):
        super().__init__(data_dir, cache_dir, latent_factor_indices)
        # DSprites' constructor declares its own 64x64x1; the encoder is built from this shape.
        self.observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 3)


class ColorDSprites(_RGBDSprites):
    """The sprite takes a random colour U(0.5, 1)^3 per image on a black background."""

    name = "color_dsprites"

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        masks = self.binary_observations(factors, random_state)
        colours = random_state.uniform(0.5, 1.0, size=(len(masks), 1, 1, 3))
        return (masks * colours).astype(np.float32)

    def tf_batch_fn(self) -> Optional[Callable]:
        import tensorflow as tf  # noqa: PLC0415

        binary_batch = self.tf_binary_batch_fn()

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            masks, _ = binary_batch(values)
            (seed,) = _stateless_seeds(values, salt=1, num=1)
            colours = tf.random.stateless_uniform(tf.stack([tf.shape(values)[0], 1, 1, 3]),
                                                  seed, minval=0.5, maxval=1.0)
            return masks * colours

        return batch


class NoisyDSprites(_RGBDSprites):
    """A white sprite over a U(0, 1)^3 noise background: ``min(sprite + noise, 1)``."""

    name = "noisy_dsprites"

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        masks = self.binary_observations(factors, random_state)
        noise = random_state.uniform(0.0, 1.0, size=(len(masks), IMAGE_SIZE, IMAGE_SIZE, 3))
        return np.minimum(masks + noise, 1.0).astype(np.float32)

    def tf_batch_fn(self) -> Optional[Callable]:
        import tensorflow as tf  # noqa: PLC0415

        binary_batch = self.tf_binary_batch_fn()

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            masks, _ = binary_batch(values)
            (seed,) = _stateless_seeds(values, salt=2, num=1)
            noise = tf.random.stateless_uniform(
                tf.stack([tf.shape(values)[0], IMAGE_SIZE, IMAGE_SIZE, 3]), seed)
            return tf.minimum(masks + noise, 1.0)

        return batch


def procedural_scream_texture(height: int = SCREAM_MAX_SIZE[1],
                              width: int = SCREAM_MAX_SIZE[0]) -> np.ndarray:
    """A deterministic stand-in for Munch's painting: wavy warm sky bands over swirling blue,
    with brush-scale noise. float32 [height, width, 3] in [0, 1]. Only its role matters (a
    structured, colourful background that is not a factor), not resemblance."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    y, x = y / height, x / width
    warp = 0.06 * np.sin(7.0 * np.pi * x + 4.0 * y) + 0.04 * np.sin(13.0 * np.pi * y + 3.0 * x)
    bands = 0.5 + 0.5 * np.sin(2.0 * np.pi * 6.0 * (y + warp))
    swirl = 0.5 + 0.5 * np.sin(9.0 * np.hypot(x - 0.35, y - 0.7) * np.pi + 5.0 * warp)
    sky = (np.array([0.93, 0.48, 0.16]) * bands[..., None]
           + np.array([0.78, 0.22, 0.12]) * (1.0 - bands[..., None]))
    water = (np.array([0.20, 0.32, 0.58]) * swirl[..., None]
             + np.array([0.08, 0.12, 0.28]) * (1.0 - swirl[..., None]))
    horizon = 0.45 + 0.08 * np.sin(3.0 * np.pi * x)
    sky_weight = 1.0 / (1.0 + np.exp((y - horizon) / 0.03))
    texture = sky * sky_weight[..., None] + water * (1.0 - sky_weight[..., None])
    strokes = np.random.RandomState(1893).uniform(-0.08, 0.08, size=(height, width, 1))
    return np.clip(texture + strokes, 0.0, 1.0).astype(np.float32)


def load_scream_image(path: str) -> np.ndarray:
    """The painting as float32 [H, W, 3] in [0, 1], shrunk as disentanglement_lib does."""
    from PIL import Image  # noqa: PLC0415

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail(SCREAM_MAX_SIZE)
            texture = np.asarray(image, dtype=np.float32) / 255.0
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the Scream image ({error})") from error
    if min(texture.shape[:2]) <= IMAGE_SIZE:
        raise DatasetError(f"{path}: the Scream image is {texture.shape[1]}x{texture.shape[0]} "
                           f"after thumbnailing; it must be larger than {IMAGE_SIZE}x{IMAGE_SIZE}")
    return texture


class ScreamDSprites(_RGBDSprites):
    """The sprite inverts a random 64x64 crop of The Scream (Munch), tinted per image:
    background ``(crop + U(0, 1)^3) / 2``, sprite pixels ``1 - background``.

    The painting comes from ``scream_path``, else ``<data_dir>/scream.jpg``; without either a
    procedural texture of the same size is used (logged).
    """

    name = "scream_dsprites"

    def __init__(self, data_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                 latent_factor_indices: Optional[Sequence[int]] = None,
                 scream_path: Optional[str] = None):
        super().__init__(data_dir, cache_dir, latent_factor_indices)
        if scream_path is None and data_dir is not None:
            candidate = os.path.join(data_dir, SCREAM_FILENAME)
            scream_path = candidate if os.path.isfile(candidate) else None
        if scream_path is not None:
            self.scream = load_scream_image(scream_path)
            self.scream_source = scream_path
            logging.info("scream_dsprites: using the Scream image %s", scream_path)
        else:
            self.scream = procedural_scream_texture()
            self.scream_source = "procedural"
            logging.info("scream_dsprites: no %s given; using a procedural texture",
                         SCREAM_FILENAME)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        masks = self.binary_observations(factors, random_state)
        num = len(masks)
        height, width = self.scream.shape[:2]
        # randint's exclusive bound mirrors disentanglement_lib: the last row/column is never a
        # crop origin.
        top = random_state.randint(0, height - IMAGE_SIZE, size=num)
        left = random_state.randint(0, width - IMAGE_SIZE, size=num)
        tints = random_state.uniform(0.0, 1.0, size=(num, 1, 1, 3))
        window = np.arange(IMAGE_SIZE)
        rows = (top[:, None] + window)[:, :, None]
        cols = (left[:, None] + window)[:, None, :]
        crops = self.scream[rows, cols]
        background = (crops + tints) / 2.0
        return np.where(masks > 0, 1.0 - background, background).astype(np.float32)

    def tf_batch_fn(self) -> Optional[Callable]:
        import tensorflow as tf  # noqa: PLC0415

        binary_batch = self.tf_binary_batch_fn()
        height, width = self.scream.shape[:2]
        # Flat [H*W, 3] so a batch of crops is one gather of 64x64 pixels, not of 64 full rows.
        scream_pixels = tf.constant(self.scream.reshape(height * width, 3))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            masks, _ = binary_batch(values)
            num = tf.shape(values)[0]
            top_seed, left_seed, tint_seed = _stateless_seeds(values, salt=3, num=3)
            top = tf.random.stateless_uniform([num], top_seed, 0, height - IMAGE_SIZE, tf.int64)
            left = tf.random.stateless_uniform([num], left_seed, 0, width - IMAGE_SIZE, tf.int64)
            window = tf.range(IMAGE_SIZE, dtype=tf.int64)
            rows = top[:, None, None] + window[None, :, None]
            cols = left[:, None, None] + window[None, None, :]
            crops = tf.gather(scream_pixels, rows * width + cols)  # [B, 64, 64, 3]
            tints = tf.random.stateless_uniform(tf.stack([num, 1, 1, 3]), tint_seed)
            background = (crops + tints) / 2.0
            return tf.where(masks > 0, 1.0 - background, background)

        return batch
