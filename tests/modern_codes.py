"""Codes with known answers for the modern-metric tests (reference notes modern_evaluation.md §2.4,
§4): continuous U[0, 1] factors and the identity, a 45° rotation, noise, duplicated and inactive codes."""

import numpy as np

ROTATION_45 = np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0)


def uniform_factors(num_points, num_factors, seed=0):
    return np.random.RandomState(seed).rand(num_points, num_factors)


def known_codes(factors, seed=1):
    """name -> code [N, L] of the factors [N, K >= 3]."""
    noise = np.random.RandomState(seed).rand(*factors.shape)
    n = len(factors)
    return {
        "identity": factors.copy(),
        "rotated": np.c_[factors[:, :2] @ ROTATION_45, factors[:, 2:]],
        "noise": noise,
        "duplicated": np.c_[factors[:, :1], factors],
        "inactive": np.c_[factors, np.zeros(n)],
    }
