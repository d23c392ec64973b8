"""Writing pictures: float or uint8 RGB arrays to PNG, frame stacks to animated GIF (imageio)."""

from __future__ import annotations

import os

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] -> uint8 (uint8 input is returned unchanged)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(image: np.ndarray, path: str) -> str:
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pixels = to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    Image.fromarray(pixels).save(path)
    return path


def save_gif(frames: np.ndarray, path: str, fps: float = 10.0) -> str:
    """An endlessly looping GIF of ``frames`` [F, H, W, 3], as disentanglement_lib's ``save_animation``.

    Pillow merges consecutive identical frames when writing GIFs; the animations of
    :mod:`tfdisent.visualize.traversals` carry a progress bar so every frame differs and the file
    keeps exactly F frames.
    """
    import imageio.v3 as iio

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    iio.imwrite(path, to_uint8(frames), extension=".gif", duration=int(round(1000.0 / fps)), loop=0)
    return path
