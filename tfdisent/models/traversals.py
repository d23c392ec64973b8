"""Latent traversal codes and the active-latent rule (numpy), shared by training summaries and visualize.

A traversal keeps a base code and sweeps one latent over a range of values (Higgins et al.
2017, Fig. 1; disentanglement_lib ``visualize_model``). Image grids and the colours of pictures live in
:mod:`tfdisent.models.images`.
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


# A latent whose average KL(q(z_i|x) || N(0, 1)) stays below this carries almost no information
# about x: its posterior has collapsed to the prior ("inactive" units, Burda et al. 2016, Sec. 5.2
# use the same idea with Var[E[z_i|x]]). Measured in nats per dimension. 0.5 rather than a value near
# zero: on dSprites, dimensions a beta-TCVAE leaves unused still sit at 0.15-0.3 nats after a few
# thousand steps, and their traversals show no change (rPU-VAE calls a latent active above 1 nat).
ACTIVE_KL_THRESHOLD = 0.5


def kl_order(kl_per_dim) -> np.ndarray:
    """Latent indices by decreasing average KL: the informative dimensions first."""
    return np.argsort(-np.asarray(kl_per_dim, np.float64), kind="stable")


def active_latents(kl_per_dim, threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """Boolean mask of latents whose average KL is at least ``threshold`` nats."""
    return np.asarray(kl_per_dim, np.float64) >= threshold
