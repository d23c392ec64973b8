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


# -- Pictures for TensorBoard and tfdisent-visualize (pure numpy; float images in [0, 1]) ---------

# A latent whose average KL(q(z_i|x) || N(0, 1)) stays below this carries almost no information
# about x: its posterior has collapsed to the prior ("inactive" units, Burda et al. 2016, Sec. 5.2
# use the same idea with Var[E[z_i|x]]). Measured in nats per dimension. 0.5 rather than a value near
# zero: on dSprites, dimensions a beta-TCVAE leaves unused still sit at 0.15-0.3 nats after a few
# thousand steps, and their traversals show no change (rPU-VAE calls a latent active above 1 nat).
ACTIVE_KL_THRESHOLD = 0.5
ACTIVE_COLOUR = (1.0, 0.55, 0.0)  # orange frame around the images of active latents
INACTIVE_COLOUR = (0.75, 0.75, 0.75)


def kl_order(kl_per_dim) -> np.ndarray:
    """Latent indices by decreasing average KL: the informative dimensions first."""
    return np.argsort(-np.asarray(kl_per_dim, np.float64), kind="stable")


def active_latents(kl_per_dim, threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """Boolean mask of latents whose average KL is at least ``threshold`` nats."""
    return np.asarray(kl_per_dim, np.float64) >= threshold


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
