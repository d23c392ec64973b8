"""Image grids and picture colours (pure numpy; float images in [0, 1]), shared by training
summaries (TensorBoard) and :mod:`tfdisent.visualize`.

They live under ``models`` because ``tfdisent.training`` sits before ``visualize`` in the layering
and draws the same pictures; nothing here imports TensorFlow.
"""

from __future__ import annotations

import numpy as np

ACTIVE_COLOUR = (1.0, 0.55, 0.0)  # orange frame around the images of active latents
INACTIVE_COLOUR = (0.75, 0.75, 0.75)


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


def to_rgb(images: np.ndarray) -> np.ndarray:
    """[N, H, W, 1 or 3] in [0, 1] -> float32 [N, H, W, 3] clipped to [0, 1]."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if images.shape[-1] == 1:
        return np.repeat(images, 3, axis=-1)
    if images.shape[-1] != 3:
        raise ValueError(f"images need 1 or 3 channels, got shape {images.shape}")
    return images


def framed(images: np.ndarray, colours: np.ndarray, border: int = 2) -> np.ndarray:
    """RGB images [N, H, W, 3] inside a ``border``-pixel frame of one colour each ([N, 3])."""
    images = to_rgb(images)
    num, height, width, _ = images.shape
    out = np.empty((num, height + 2 * border, width + 2 * border, 3), np.float32)
    out[:] = np.asarray(colours, np.float32).reshape(num, 1, 1, 3)
    out[:, border:border + height, border:border + width] = images
    return out


def traversal_grid(images: np.ndarray, num_rows: int, active, border: int = 2, pad: int = 1) -> np.ndarray:
    """Traversal images [rows * values, H, W, C] (row-major) as one RGB grid, active rows framed in orange.

    Row ``r`` of the grid shows latent ``r`` of the traversal (e.g. in :func:`kl_order`);
    ``active[r]`` says whether it is framed in :data:`ACTIVE_COLOUR`. The grid is
    ``rows * (H + 2 * border + pad) - pad`` by ``values * (W + 2 * border + pad) - pad`` pixels.
    """
    images = np.asarray(images)
    per_row = len(images) // num_rows
    if per_row * num_rows != len(images) or len(active) != num_rows:
        raise ValueError(f"{len(images)} images do not form {num_rows} rows with {len(active)} active flags")
    colours = np.where(np.repeat(np.asarray(active, bool), per_row)[:, None], ACTIVE_COLOUR, INACTIVE_COLOUR)
    return image_grid(framed(images, colours, border), num_rows, pad=pad)


def paired_grid(inputs: np.ndarray, reconstructions: np.ndarray, num_columns: int = 8, pad: int = 2) -> np.ndarray:
    """Each input beside its reconstruction (separated by a 1-pixel line), pairs tiled row-major; RGB."""
    inputs, reconstructions = to_rgb(inputs), to_rgb(reconstructions)
    separator = np.full(inputs.shape[:2] + (1, 3), 0.5, np.float32)
    pairs = np.concatenate([inputs, separator, reconstructions], axis=2)
    num_rows = int(np.ceil(len(pairs) / num_columns))
    return image_grid(pairs, num_rows, pad=pad)


def square_grid(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """Images tiled in ceil(sqrt(N)) columns; RGB."""
    images = to_rgb(images)
    num_columns = int(np.ceil(np.sqrt(len(images))))
    return image_grid(images, int(np.ceil(len(images) / num_columns)), pad=pad)
