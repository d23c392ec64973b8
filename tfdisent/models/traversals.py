"""Latent traversal codes and image grids (numpy), shared by training summaries and visualize.

A traversal keeps a base code and sweeps one latent over a range of values (Higgins et al.
2017, Fig. 1; disentanglement_lib ``visualize_model``).
"""

from __future__ import annotations

import numpy as np


def traversal_codes(base_code: np.ndarray, dims, values: np.ndarray) -> np.ndarray:
    """Codes [len(dims) * len(values), D]: row-major over (dimension, value)."""
    base_code = np.asarray(base_code, np.float32)
    codes = np.repeat(base_code[None, :], len(dims) * len(values), axis=0)
    for row, dim in enumerate(dims):
        codes[row * len(values):(row + 1) * len(values), dim] = values
    return codes


def image_grid(images: np.ndarray, num_rows: int, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tiles images [N, H, W, C] row-major into one [rows*(H+pad)-pad, cols*(W+pad)-pad, C] image."""
    images = np.asarray(images)
    num, height, width, channels = images.shape
    num_cols = int(np.ceil(num / num_rows))
    grid = np.full((num_rows * (height + pad) - pad, num_cols * (width + pad) - pad, channels),
                   pad_value, images.dtype)
    for index in range(num):
        row, col = divmod(index, num_cols)
        grid[row * (height + pad):row * (height + pad) + height,
             col * (width + pad):col * (width + pad) + width] = images[index]
    return grid
