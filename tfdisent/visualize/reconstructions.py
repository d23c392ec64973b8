"""Reconstructions beside their inputs, and samples from the prior (disentanglement_lib visualize_model)."""

from __future__ import annotations

import numpy as np

from tfdisent.models.images import paired_grid, square_grid
from tfdisent.visualize.image_io import to_uint8


def reconstruction_image(model, observations: np.ndarray, num_columns: int = 8) -> np.ndarray:
    """Each input next to the decoded posterior mean E[x | z = mu(x)], pairs in a grid; uint8 RGB."""
    mean, _ = model.encode(observations)
    return to_uint8(paired_grid(observations, model.decode(mean), num_columns))


def prior_samples_image(model, num: int, random_state: np.random.RandomState) -> np.ndarray:
    """E[x|z] for ``num`` codes z ~ N(0, I), in a square grid; uint8 RGB.

    Good samples need the aggregate posterior to match the prior; sharp reconstructions with
    poor samples show a "hole" between them (Rosca et al. 2018).
    """
    codes = random_state.standard_normal((num, model.latent_dim)).astype(np.float32)
    return to_uint8(square_grid(model.decode(codes)))
