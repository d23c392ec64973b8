"""Normalised Hoyer sparsity of the representations (Mathieu, Rainforth, Siddharth & Teh, ICML 2019,
"Disentangling Disentanglement in VAEs", sparsity experiment; Hoyer 2004).

With Z the codes (posterior means) [N, D], every dimension is first divided by its standard
deviation over the data, z'_nd = z_nd / std_n(z_.d), so that a dimension that collapsed to tiny
values cannot fake sparsity. Then, per point,

    Hoyer(z') = (sqrt(D) - ||z'||_1 / ||z'||_2) / (sqrt(D) - 1)       in [0, 1]

(1: one non-zero coordinate; 0: all coordinates of equal magnitude), and the score is the mean
over points. The codes are not centred (as the reference, iffsid/disentangling-disentanglement
``src/metrics.py``). Mathieu et al. evaluate it on the Fashion-MNIST test set.

Deviations from the reference (which divides by zero there):
* Constant dimensions (std 0) carry no information; they are left out, and D is the number of
  non-constant dimensions. With fewer than two of them the score is 0 (a collapsed
  representation must not read as sparse, which is the point of the normalisation).
* Points whose normalised code is exactly zero (ratio 0/0) are left out of the mean.

Numpy only (no TensorFlow), like every metric in this package.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from tfdisent.metrics import utils

NAME = "sparsity"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = False
DEFAULTS = {"num_points": 10000, "batch_size": 64}
SCORE_KEYS = ("hoyer_sparsity",)


def normalized_hoyer_sparsity(codes: np.ndarray) -> float:
    """Mean over points of the Hoyer sparsity of the std-normalised codes [N, D] (see module)."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be [num_points, num_dims], got shape {codes.shape}")
    std = codes.std(axis=0)
    active = std > 0
    num_dims = int(active.sum())
    if num_dims < 2:
        return 0.0
    normalized = codes[:, active] / std[active]
    l1 = np.abs(normalized).sum(axis=1)
    l2 = np.sqrt(np.square(normalized).sum(axis=1))
    nonzero = l2 > 0
    if not nonzero.any():
        return 0.0
    root = np.sqrt(num_dims)
    per_point = (root - l1[nonzero] / l2[nonzero]) / (root - 1.0)
    return float(np.mean(per_point))


def compute(dataset, representation_fn: Callable[[np.ndarray], np.ndarray], random_state, settings: dict,
            cache: Optional[utils.SampleCache] = None) -> dict:
    """``{"hoyer_sparsity": ...}`` of ``num_points`` i.i.d. observations, drawn in batches of
    ``batch_size`` (the registry's calling convention; ``settings`` holds :data:`DEFAULTS`)."""
    utils.check_positive_int(settings, "num_points", "batch_size")
    codes, _ = utils.generate_batch_factor_code(dataset, representation_fn, settings["num_points"],
                                                random_state, settings["batch_size"], cache)
    return {"hoyer_sparsity": normalized_hoyer_sparsity(codes)}


def compute_sparsity(dataset, representation_fn: Callable[[np.ndarray], np.ndarray],
                     random_state: np.random.RandomState, num_points: int = 10000, batch_size: int = 64,
                     cache: Optional[utils.SampleCache] = None) -> dict:
    """Normalised Hoyer sparsity of ``representation_fn`` (observations -> posterior means [B, D])
    on ``num_points`` observations of ``dataset``: ``{"hoyer_sparsity": float}``."""
    random_state = utils.check_random_state(random_state)
    return compute(dataset, representation_fn, random_state,
                   {"num_points": num_points, "batch_size": batch_size}, cache)
