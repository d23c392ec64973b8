"""Latent traversals: annotated PNG grids and the five animated GIFs of disentanglement_lib.

A traversal decodes a base code (the posterior mean of one input) while one latent sweeps a range
(Higgins et al. 2017, Fig. 1/7). In a disentangled model each row changes one factor of variation.

* :func:`traversal_image`: rows are the latents sorted by average KL (most informative first),
  active latents framed in orange and labelled with their KL; columns are the values.
* :func:`animation_frames`: every latent moves at once, one per tile, through ``num_frames`` values
  in a ping-pong cycle starting at the base code. The five ranges are those of disentanglement_lib's
  ``visualize_model`` (Locatello et al. 2019):

  - ``std_gaussian_cycle``: quantiles of N(0, 1), the prior;
  - ``fitted_gaussian_cycle``: quantiles of N(m, s^2) fitted to the aggregate posterior of that
    latent, m = E[mu], s^2 = E[sigma^2] + Var[mu];
  - ``fixed_interval_cycle``: linearly through [-2, 2];
  - ``conf_interval_cycle``: linearly through m +- 2 s of the fitted Gaussian;
  - ``minmax_interval_cycle``: linearly between the smallest and largest posterior mean seen.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
from scipy import stats

from tfdisent.models.images import ACTIVE_COLOUR, INACTIVE_COLOUR, framed, image_grid, traversal_grid
from tfdisent.models.traversals import ACTIVE_KL_THRESHOLD, active_latents, kl_order, traversal_codes
from tfdisent.visualize.image_io import to_uint8

GIF_KINDS = ("std_gaussian_cycle", "fitted_gaussian_cycle", "fixed_interval_cycle", "conf_interval_cycle",
             "minmax_interval_cycle")
TRAVERSAL_LIMIT = 2.0
NUM_VALUES = 11
NUM_FRAMES = 20
FPS = 10
BORDER = 2
PAD = 1
LABEL_WIDTH = 56      # left strip: "z3" and "1.23 nats"
HEADER_HEIGHT = 14    # top strip: the traversed values
MARGIN = 4            # around animation frames
PROGRESS_HEIGHT = 3   # progress bar under animation frames


def traversal_values(limit: float = TRAVERSAL_LIMIT, num_values: int = NUM_VALUES) -> np.ndarray:
    return np.linspace(-limit, limit, num_values, dtype=np.float32)


def traversal_png_shape(observation_shape: Sequence[int], latent_dim: int,
                        num_values: int = NUM_VALUES) -> Tuple[int, int]:
    """(height, width) of :func:`traversal_image`: one row per latent, one column per value, plus labels."""
    height, width = observation_shape[:2]
    grid_h = latent_dim * (height + 2 * BORDER + PAD) - PAD
    grid_w = num_values * (width + 2 * BORDER + PAD) - PAD
    return grid_h + HEADER_HEIGHT, grid_w + LABEL_WIDTH


def _annotate(grid: np.ndarray, row_labels: Sequence[Tuple[str, str]], active: Sequence[bool],
              column_labels: Sequence[str]) -> np.ndarray:
    """Adds a white label strip left of ``grid`` (two lines per row) and a header of column labels."""
    from PIL import Image, ImageDraw, ImageFont

    grid = to_uint8(grid)
    height, width = grid.shape[:2]
    canvas = Image.new("RGB", (width + LABEL_WIDTH, height + HEADER_HEIGHT), "white")
    canvas.paste(Image.fromarray(grid), (LABEL_WIDTH, HEADER_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    row_height = (height + PAD) / len(row_labels)
    active_rgb = tuple(int(255 * c) for c in ACTIVE_COLOUR)
    for row, ((name, value), is_active) in enumerate(zip(row_labels, active)):
        top = HEADER_HEIGHT + row * row_height + row_height / 2 - 11
        colour = active_rgb if is_active else (110, 110, 110)
        draw.text((3, top), name, fill=colour, font=font)
        draw.text((3, top + 11), value, fill=colour, font=font)
    column_width = (width + PAD) / len(column_labels)
    for column, text in enumerate(column_labels):
        draw.text((LABEL_WIDTH + column * column_width + 2, 1), text, fill=(60, 60, 60), font=font)
    return np.asarray(canvas)


def traversal_image(model, base_code: np.ndarray, kl: np.ndarray, values: np.ndarray = None,
                    threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """Traversal grid of one base code, uint8 RGB of :func:`traversal_png_shape`.

    ``model`` is anything with ``decode(z) -> images in [0, 1]`` (e.g. :class:`ExportedModel`).
    """
    values = traversal_values() if values is None else np.asarray(values, np.float32)
    order = kl_order(kl)
    active = active_latents(kl, threshold)[order]
    images = model.decode(traversal_codes(base_code, order, values))
    grid = traversal_grid(images, len(order), active, border=BORDER, pad=PAD)
    labels = [(f"z{d}" + (" *" if a else ""), f"{kl[d]:.2f} nats") for d, a in zip(order, active)]
    return _annotate(grid, labels, active, [f"{v:+.1f}" for v in values])


# -- animations --------------------------------------------------------------------------------

def _ping_pong(start: float, num_frames: int) -> np.ndarray:
    """Positions in [0, 1] from ``start``, up to 1, down to 0 and back to ``start``: one period of a triangle wave."""
    phase = np.mod(np.linspace(start, start + 2.0, num_frames, endpoint=False), 2.0)
    return np.where(phase > 1.0, 2.0 - phase, phase)


def cycle_gaussian(start: float, num_frames: int, loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Values whose Gaussian CDF cycles uniformly through (0.001, 0.999), starting at ``start``."""
    probability = float(stats.norm.cdf(start, loc=loc, scale=scale))
    grid = np.clip(_ping_pong(probability, num_frames), 0.001, 0.999)
    return stats.norm.ppf(grid, loc=loc, scale=scale).astype(np.float32)


def cycle_interval(start: float, num_frames: int, low: float, high: float) -> np.ndarray:
    """Values cycling linearly through [low, high], starting at ``start`` (clipped into the interval)."""
    span = max(float(high) - float(low), 1e-6)
    position = float(np.clip((start - low) / span, 0.0, 1.0))
    return (low + _ping_pong(position, num_frames) * span).astype(np.float32)


def animation_codes(kind: str, base_code: np.ndarray, means: np.ndarray, logvars: np.ndarray,
                    num_frames: int = NUM_FRAMES) -> np.ndarray:
    """Codes [d, num_frames, d]: for latent j, the base code with z_j following the ``kind`` cycle."""
    if kind not in GIF_KINDS:
        raise ValueError(f"unknown animation {kind!r}; choose from {', '.join(GIF_KINDS)}")
    base_code = np.asarray(base_code, np.float32)
    dim = len(base_code)
    loc = means.mean(axis=0)
    scale = np.sqrt(np.exp(logvars).mean(axis=0) + means.var(axis=0))
    codes = np.repeat(np.repeat(base_code[None, None, :], num_frames, axis=1), dim, axis=0)
    for j in range(dim):
        if kind == "std_gaussian_cycle":
            path = cycle_gaussian(base_code[j], num_frames)
        elif kind == "fitted_gaussian_cycle":
            path = cycle_gaussian(base_code[j], num_frames, loc[j], scale[j])
        elif kind == "fixed_interval_cycle":
            path = cycle_interval(base_code[j], num_frames, -2.0, 2.0)
        elif kind == "conf_interval_cycle":
            path = cycle_interval(base_code[j], num_frames, loc[j] - 2.0 * scale[j], loc[j] + 2.0 * scale[j])
        else:
            path = cycle_interval(base_code[j], num_frames, means[:, j].min(), means[:, j].max())
        codes[j, :, j] = path
    return codes


def animation_frames(model, kind: str, base_code: np.ndarray, means: np.ndarray, logvars: np.ndarray,
                     kl: np.ndarray, num_frames: int = NUM_FRAMES,
                     threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """uint8 RGB frames [num_frames, H, W, 3]: all latents (tiles in KL order) moving at once.

    Each frame has a white margin and a progress bar at the bottom, so frames are never identical
    (see :func:`tfdisent.visualize.image_io.save_gif`).
    """
    order = kl_order(kl)
    active = active_latents(kl, threshold)[order]
    codes = animation_codes(kind, base_code, means, logvars, num_frames)[order]  # [d, F, d]
    dim = len(order)
    images = model.decode(codes.reshape(dim * num_frames, -1))
    images = images.reshape((dim, num_frames) + images.shape[1:])
    num_rows = int(np.ceil(dim / np.ceil(np.sqrt(dim))))
    colours = np.where(active[:, None], ACTIVE_COLOUR, INACTIVE_COLOUR)
    frames = []
    for t in range(num_frames):
        grid = image_grid(framed(images[:, t], colours, BORDER), num_rows, pad=PAD, pad_value=1.0)
        frame = np.ones((grid.shape[0] + 2 * MARGIN + PROGRESS_HEIGHT, grid.shape[1] + 2 * MARGIN, 3), np.float32)
        frame[MARGIN:MARGIN + grid.shape[0], MARGIN:MARGIN + grid.shape[1]] = grid
        filled = int(round((t + 1) / num_frames * grid.shape[1]))
        frame[-PROGRESS_HEIGHT - 1:-1, MARGIN:MARGIN + filled] = (0.3, 0.3, 0.3)
        frames.append(to_uint8(frame))
    return np.stack(frames)
