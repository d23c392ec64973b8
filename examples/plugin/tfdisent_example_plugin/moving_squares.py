"""Moving squares: one white square on a black image, at a grid of positions and three sizes.

Factors: ``x`` and ``y`` (``positions`` centres each, evenly spaced so every square fits), ``size``
(side 4, 6 or 8 pixels at the default 32 x 32). Translation is a known hard case for VAEs: two
positions more than a side apart share no pixel, so the reconstruction loss gives no gradient
towards the right place and the latent order of positions must be learnt from overlap alone
(e.g. Burgess et al. 2018, Sec. 3; dSprites' position factors behave alike). Rendering is exact
and deterministic (no noise), so the dataset needs no files.
"""

from __future__ import annotations

import numpy as np

from tfdisent.data import DatasetError, GroundTruthData

SIZES = (4, 6, 8)


class MovingSquares(GroundTruthData):
    """Args: image_size (divisible by 16 for the convolutional networks), positions per axis."""

    name = "moving_squares"
    factor_names = ("x", "y", "size")

    def __init__(self, image_size: int = 32, positions: int = 10):
        if image_size < 2 * max(SIZES) or positions < 2:
            raise DatasetError(f"moving_squares: image_size must be >= {2 * max(SIZES)} and positions >= 2")
        self.image_size = int(image_size)
        self.factor_sizes = (int(positions), int(positions), len(SIZES))
        self.observation_shape = (self.image_size, self.image_size, 1)
        half = max(SIZES) / 2.0
        # Centres evenly spaced so that the largest square stays inside the image.
        self.centres = np.linspace(half, self.image_size - half, int(positions))

    def sample_observations_from_factors(self, factors, random_state):
        factors = self.check_factors(factors)
        side = np.asarray(SIZES, np.float64)[factors[:, 2]]
        left = np.round(self.centres[factors[:, 0]] - side / 2.0)[:, None]
        top = np.round(self.centres[factors[:, 1]] - side / 2.0)[:, None]
        pixels = np.arange(self.image_size)[None, :]
        columns = (pixels >= left) & (pixels < left + side[:, None])      # [N, W]
        rows = (pixels >= top) & (pixels < top + side[:, None])           # [N, H]
        images = rows[:, :, None] & columns[:, None, :]                   # [N, H, W]
        return images[..., None].astype(np.float32)
