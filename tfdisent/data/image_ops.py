"""Image conversions of the file-backed datasets: uint8 -> float, resizing and centre crops, and the
tf.data fast path gathering in-memory uint8 images in the graph."""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np


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
