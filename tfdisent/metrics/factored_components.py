"""Factored components: linearity and distance agreement of factor traversals (Michlo,
nmichlo/disent ``disent/metrics/_factored_components.py``, ``metric_factored_components``; disent's
own metric, included so that numbers compare with disent's).

**Linearity.** For each factor (size > 1) and each of ``repeats`` traversals Z [n_f, d]
(:func:`tfdisent.metrics.utils.factor_traversals`): ``v`` = per-dimension unbiased variance and
``lambda`` = the PCA eigenvalues of Z's (unbiased) covariance; with ``score(u) = (max u / sum u -
1/d) / (1 - 1/d)``:

* ``linearity_axis_ratio`` = score(v) (1: the traversal moves along one code axis);
* ``linearity_linear_ratio`` = score(lambda) (1: along one direction, any direction);
* ``linearity_axis_alignment`` = axis_ratio / (linear_ratio + 1e-20);
* ``linearity_axis_ratio_ave`` = score(v averaged over the repeats).

Each is averaged over the repeats, then over factors with the **geometric mean** (float64), as
disent does.

**Distances.** Triplets (a, p, n) of points, drawn ``num_samples`` per repeat either along a
traversal (suffix ``_factor``; ground distance = the index gap) or among ``global_subset_size``
i.i.d. points (suffix ``_global``; ground distance = L1 between factor index vectors). Data distance
= mean squared difference of the observations; latent distance = L1 or L2 of the codes. For each pair
of distances X_Y in ``ground_data``, ``ground_latent_l1``, ``ground_latent_l2``, ``latent_data_l1``,
``latent_data_l2``: ``rsame_X_Y`` = the share of triplets whose order (is p or n closer to a?) agrees,
``rcorr_X_Y`` / ``lcorr_X_Y`` = Spearman / Pearson correlation of the pooled (a, p) and (a, n)
distances. Factor-wise values are aggregated like linearity (rsame by geometric mean, the
correlations by arithmetic mean — see the deviations).

Defaults: disent's ``fast`` preset (``repeats=128``; the full default is 1024), ``num_samples=64``,
``global_subset_size=32``.

Deviations from disent (reference notes §5.2):
* A factor the code ignores (zero variance along its traversals) gives 0/0 = NaN in disent; here
  its linearity scores are 0 (nothing of it is represented), so the geometric mean is 0.
* Correlations can be negative, which makes disent's geometric mean NaN; ``rcorr_*`` and
  ``lcorr_*`` use the arithmetic mean over factors. A correlation with a constant side is 0.
* Only the keys above are produced (disent's own key names use dots: ``linearity.axis_ratio.var`` is
  our ``linearity_axis_ratio``, ``distances.rsame_ground_latent.l1`` over factors is our
  ``rsame_ground_latent_l1_factor``). The triplet sampling details (distinct indices, how many per
  repeat) are ours; disent's sampler was not available to check them (**unverified**).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import scipy.stats

from tfdisent.metrics import utils

NAME = "factored_components"
REFERENCE_NAME = None  # disent, not disentanglement_lib
NEEDS_FACTORS = True
DEFAULTS = {"repeats": 128, "num_samples": 64, "global_subset_size": 32}
# pair name -> (first distance, second distance) of :func:`triplet_distances`
PAIR_DISTANCES = {"ground_data": ("ground", "data"), "ground_latent_l1": ("ground", "latent_l1"),
                  "ground_latent_l2": ("ground", "latent_l2"), "latent_data_l1": ("latent_l1", "data"),
                  "latent_data_l2": ("latent_l2", "data")}
PAIRS = tuple(PAIR_DISTANCES)
LINEARITY_KEYS = ("linearity_axis_ratio", "linearity_linear_ratio", "linearity_axis_alignment",
                  "linearity_axis_ratio_ave")
SCORE_KEYS = LINEARITY_KEYS + tuple(f"{stat}_{pair}_{mode}" for mode in ("factor", "global")
                                    for stat in ("rsame", "rcorr", "lcorr") for pair in PAIRS)


def peak_ratio(values: np.ndarray) -> np.ndarray:
    """``(max u / sum u - 1/d) / (1 - 1/d)`` over the last axis; 0 where ``sum u = 0``."""
    values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    dims = values.shape[-1]
    total = values.sum(axis=-1)
    share = np.where(total > 0, values.max(axis=-1) / np.where(total > 0, total, 1.0), 0.0)
    if dims == 1:
        return (total > 0).astype(np.float64)
    return np.where(total > 0, (share - 1.0 / dims) / (1.0 - 1.0 / dims), 0.0)


def factor_linearity(traversals: np.ndarray) -> Dict[str, float]:
    """The four linearity scores of one factor from its traversals [R, n_f, d]."""
    traversals = np.asarray(traversals, dtype=np.float64)
    variances = traversals.var(axis=1, ddof=1)  # [R, d]
    centred = traversals - traversals.mean(axis=1, keepdims=True)
    covariances = np.einsum("rni,rnj->rij", centred, centred) / (traversals.shape[1] - 1)
    eigenvalues = np.linalg.eigvalsh(covariances)  # [R, d]
    axis, linear = peak_ratio(variances), peak_ratio(eigenvalues)
    return {"linearity_axis_ratio": float(axis.mean()), "linearity_linear_ratio": float(linear.mean()),
            "linearity_axis_alignment": float(np.mean(axis / (linear + 1e-20))),
            "linearity_axis_ratio_ave": float(peak_ratio(variances.mean(axis=0)))}


def geometric_mean(values: Sequence[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    if (values <= 0).any():
        return 0.0
    return float(np.exp(np.mean(np.log(values))))


def _correlation(x: np.ndarray, y: np.ndarray, rank: bool) -> float:
    if rank:
        x, y = scipy.stats.rankdata(x), scipy.stats.rankdata(y)
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def distance_agreement(distances: Dict[str, np.ndarray]) -> Dict[str, float]:
    """rsame / rcorr / lcorr of every pair from distances of triplets: each entry is [T, 2] (the
    (a, p) and (a, n) distances) for ``ground``, ``data``, ``latent_l1``, ``latent_l2``."""
    scores = {}
    for pair in PAIRS:
        first, second = PAIR_DISTANCES[pair]
        a, b = distances[first], distances[second]
        same = np.sign(a[:, 0] - a[:, 1]) == np.sign(b[:, 0] - b[:, 1])
        scores[f"rsame_{pair}"] = float(np.mean(same))
        scores[f"rcorr_{pair}"] = _correlation(a.reshape(-1), b.reshape(-1), rank=True)
        scores[f"lcorr_{pair}"] = _correlation(a.reshape(-1), b.reshape(-1), rank=False)
    return scores


def triplet_distances(codes: np.ndarray, observations: np.ndarray, ground: np.ndarray,
                      triplets: np.ndarray) -> Dict[str, np.ndarray]:
    """Distances [T, 2] of (a, p) and (a, n) for index triplets [T, 3] into one set of points;
    ``ground`` [n, n] is the ground-truth distance between the points."""
    codes = np.asarray(codes, dtype=np.float64)
    observations = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
    a, others = triplets[:, :1], triplets[:, 1:]

    def pairwise(function):
        return function(a, others)

    return {
        "ground": pairwise(lambda i, j: ground[i, j]),
        "data": pairwise(lambda i, j: np.mean((observations[i] - observations[j]) ** 2, axis=-1)),
        "latent_l1": pairwise(lambda i, j: np.abs(codes[i] - codes[j]).sum(axis=-1)),
        "latent_l2": pairwise(lambda i, j: np.sqrt(((codes[i] - codes[j]) ** 2).sum(axis=-1))),
    }


def sample_triplets(num_points: int, num_samples: int, random_state: np.random.RandomState) -> np.ndarray:
    """``num_samples`` triplets of distinct indices below ``num_points`` (>= 3)."""
    return np.stack([random_state.choice(num_points, 3, replace=False) for _ in range(num_samples)])


def _pooled(parts: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "repeats", "num_samples")
    utils.check_positive_int(settings, "global_subset_size", minimum=3)
    repeats, num_samples = settings["repeats"], settings["num_samples"]
    linearity: List[Dict[str, float]] = []
    factor_scores: List[Dict[str, float]] = []
    for factor, size in enumerate(dataset.factor_sizes):
        size = int(size)
        if size < 2:
            continue
        codes, observations = utils.factor_traversals(dataset, representation_fn, factor, repeats, random_state,
                                                      keep_observations=size >= 3)
        linearity.append(factor_linearity(codes))
        if size >= 3:
            ground = np.abs(np.arange(size)[:, None] - np.arange(size)[None, :]).astype(np.float64)
            parts = [triplet_distances(codes[r], observations[r], ground,
                                       sample_triplets(size, num_samples, random_state)) for r in range(repeats)]
            factor_scores.append(distance_agreement(_pooled(parts)))
    if not linearity:
        raise utils.MetricError("factored_components: no factor has more than one value")
    scores = {key: geometric_mean([item[key] for item in linearity]) for key in LINEARITY_KEYS}
    if factor_scores:
        for key in factor_scores[0]:
            values = [item[key] for item in factor_scores]
            scores[f"{key}_factor"] = geometric_mean(values) if key.startswith("rsame") else float(np.mean(values))
    parts = []
    subset = settings["global_subset_size"]
    for _ in range(repeats):
        factors, observations = dataset.sample(subset, random_state)
        factors = np.asarray(factors, dtype=np.float64)
        codes = utils.encode_array(representation_fn, observations)
        ground = np.abs(factors[:, None, :] - factors[None, :, :]).sum(axis=-1)
        parts.append(triplet_distances(codes, observations, ground, sample_triplets(subset, num_samples,
                                                                                    random_state)))
    scores.update({f"{key}_global": value for key, value in distance_agreement(_pooled(parts)).items()})
    return scores
