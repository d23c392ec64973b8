"""Factorized-support score FoS (Roth, Ibrahim, Akata, Vincent, Bouchacourt 2023, "Disentanglement of
Correlated Factors via Hausdorff Factorized Support", ICLR; Sec. 3, Eq. 4-5).

For latents i, j and a chunk of n codes, the factorised support of the pair is every combination
(z_a,i, z_b,j) of the chunk's marginal values; the joint support is the chunk's own points. The
one-sided Hausdorff distance from the first to the second is

    d_ij = max_(a, b) min_c (z_a,i - z_c,i)^2 + (z_b,j - z_c,j)^2            (squared Euclidean),

which is 0 when every combination of seen values is itself seen (a factorised support) and grows as
the support concentrates on a correlated band. FoS = sum over pairs of d_ij, averaged over chunks;
>= 0, lower is better, not normalised for scale (scale-dependent by design, as in the reference).

Reference: facebookresearch/disentangling-correlated-factors ``dent/metrics/fos.py`` (chunks of 128 of the
unshuffled test set, all L(L-1)/2 pairs) and ``rand_fos.py`` (each chunk drawn at random with replacement).
Deviation: ``compute`` draws ``num_train`` i.i.d. points (the ``rand_fos`` variant; the ordered full-dataset
pass of ``fos`` makes each chunk a slice of the grid, which is not an i.i.d. estimate) and reports the mean
per pair next to the sum. Known answers (reference file §6.3, 1280 points, 10 chunks): independent
U[0,1]^2 0.023, duplicated latent 0.49 (theory 0.5), U[0,1]^2 rotated 45° 0.21 (theory 0.25), a constant
latent 0.
"""

from __future__ import annotations

import itertools
from typing import Optional, Sequence, Tuple

import numpy as np

from tfdisent.metrics import utils

NAME = "fos"
REFERENCE_NAME = "fos"
NEEDS_FACTORS = True  # draws from the factor grid (the score itself uses only the codes)
DEFAULTS = {"num_train": 2560, "batch_size": 128, "num_pairs": -1}
SCORE_KEYS = ("fos", "fos_per_pair", "num_pairs", "num_chunks")


def pair_support_distance(x: np.ndarray, y: np.ndarray) -> float:
    """d = max_(a,b) min_c (x_a - x_c)^2 + (y_b - y_c)^2 for one chunk's values of two latents [n].

    Evaluated as a min-plus product of the two squared-difference matrices ([n, n, n] values), so a chunk
    of 128 costs 2M additions per pair; in float32 (half the time of float64, the same value to ~1e-7).
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    dx = (x[:, None] - x[None, :]) ** 2  # [a, c]
    dy = (y[:, None] - y[None, :]) ** 2  # [b, c]
    nearest = np.min(dx[:, None, :] + dy[None, :, :], axis=2)  # [a, b]
    return float(nearest.max())


def all_pairs(num_latents: int) -> Tuple[Tuple[int, int], ...]:
    return tuple(itertools.combinations(range(num_latents), 2))


def factorized_support_distances(codes: np.ndarray, batch_size: int = 128,
                                 pairs: Optional[Sequence[Tuple[int, int]]] = None) -> np.ndarray:
    """d_ij per consecutive chunk of ``batch_size`` codes (the last chunk may be smaller): [chunks, pairs]."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or len(codes) < 1:
        raise ValueError(f"codes must be a non-empty [N, L] array, got shape {codes.shape}")
    pairs = all_pairs(codes.shape[1]) if pairs is None else tuple(pairs)
    chunks = [codes[start:start + batch_size] for start in range(0, len(codes), batch_size)]
    return np.array([[pair_support_distance(chunk[:, i], chunk[:, j]) for i, j in pairs] for chunk in chunks],
                    dtype=np.float64).reshape(len(chunks), len(pairs))


def fos_score(codes: np.ndarray, batch_size: int = 128,
              pairs: Optional[Sequence[Tuple[int, int]]] = None) -> dict:
    """FoS of codes [N, L]: the sum over latent pairs of d_ij, averaged over chunks (and the mean per pair)."""
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2, got {batch_size}")
    codes = np.asarray(codes, np.float64)
    pairs = all_pairs(codes.shape[1]) if pairs is None else tuple(pairs)
    if not pairs:  # one latent: its support is trivially factorised
        return {"fos": 0.0, "fos_per_pair": 0.0, "num_pairs": 0, "num_chunks": 0}
    distances = factorized_support_distances(codes, batch_size, pairs)
    return {"fos": float(distances.sum(axis=1).mean()), "fos_per_pair": float(distances.mean()),
            "num_pairs": len(pairs), "num_chunks": int(distances.shape[0])}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train")
    utils.check_positive_int(settings, "batch_size", minimum=2)
    if settings["num_pairs"] == 0 or settings["num_pairs"] < -1:
        raise utils.MetricError(f"fos.num_pairs must be -1 (all pairs) or positive, got {settings['num_pairs']}")
    codes, _ = utils.generate_batch_factor_code(dataset, representation_fn, settings["num_train"], random_state,
                                                settings["batch_size"], cache)
    pairs = all_pairs(codes.shape[1])
    if 0 < settings["num_pairs"] < len(pairs):
        chosen = np.sort(random_state.choice(len(pairs), settings["num_pairs"], replace=False))
        pairs = tuple(pairs[k] for k in chosen)
    return fos_score(codes, settings["batch_size"], pairs)
