"""Training on correlated factors of variation (Träuble et al. 2021, "On Disentangled Representations
Learned from Correlated Data", ICML; Sec. 3 and App. A).

Each correlated pair of factors (i, j) with strength sigma reweights the factor grid by

    w_ij(v) = exp(-(c_i - c_j)^2 / (2 sigma^2)),   c_k = v_k / (K_k - 1)  (min-max scaled to [0, 1]),

and a factor vector is drawn with probability proportional to the product of its pairs' weights.
This is the parameterisation of Roth et al.'s reimplementation (facebookresearch/
disentangling-correlated-factors, ``datasets/utils.py``, correlation sampler ``traeuble``), which
equals Träuble's p(c1, c2) ∝ exp(-(c1 - alpha c2)^2 / (2 s^2)), alpha = c1_max / c2_max, on raw factor
values with s = sigma * c1_max. Smaller sigma is stronger; sigma = inf is the uncorrelated grid.

Only the factors named in a pair are reweighted: their joint distribution is tabulated once (the
product of their sizes) and every other factor stays uniform and independent, exactly the marginal of
the reweighted full grid. Observations come from the wrapped dataset, so only *training* sees the
correlation; metrics evaluate on the base dataset's uncorrelated grid (the reference builds its
evaluation loader without the correlation file).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from tfdisent.data.ground_truth import DatasetError, GroundTruthData, indices_to_factors

Pair = Tuple[int, int]

# Largest joint table of the correlated factors (entries): above it the pairs span too much of the grid.
_MAX_JOINT_SIZE = 1 << 24


def parse_pairs(specs: Sequence[str], factor_names: Sequence[str]) -> Tuple[Pair, ...]:
    """``["shape:scale", "3:4"]`` -> ((0, 1), (3, 4)): factors by name or index; ValueError names the culprit."""
    names = list(factor_names)
    pairs = []

    def factor(token: str, spec: str) -> int:
        token = token.strip()
        if token in names:
            return names.index(token)
        if token.isdigit() and int(token) < len(names):
            return int(token)
        raise ValueError(f"correlated factor {token!r} in {spec!r} is not a factor of the dataset "
                         f"(factors: {', '.join(names) or 'none'})")

    for spec in specs:
        first, colon, second = str(spec).partition(":")
        if not colon or not first.strip() or not second.strip():
            raise ValueError(f"a correlated pair is written A:B (factor names or indices), got {spec!r}")
        pair = (factor(first, spec), factor(second, spec))
        if pair[0] == pair[1]:
            raise ValueError(f"a correlated pair needs two different factors, got {spec!r}")
        if pair in pairs or pair[::-1] in pairs:
            raise ValueError(f"correlated pair {spec!r} is given twice")
        pairs.append(pair)
    return tuple(pairs)


def check_strength(strength: float) -> float:
    """sigma as a float; ValueError unless sigma > 0 (inf means uncorrelated)."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise ValueError(f"correlation strength must be a number, got {strength!r}") from None
    if not value > 0:  # also rejects NaN
        raise ValueError(f"correlation strength sigma must be > 0 (smaller is stronger; inf is uncorrelated), "
                         f"got {strength}")
    return value


def scaled_factors(factors: np.ndarray, factor_sizes: Sequence[int]) -> np.ndarray:
    """Factor values min-max scaled to [0, 1] per factor (a factor of size 1 scales to 0)."""
    sizes = np.asarray(factor_sizes, dtype=np.float64)
    return np.asarray(factors, dtype=np.float64) / np.maximum(sizes - 1.0, 1.0)


def correlation_weights(factors: np.ndarray, factor_sizes: Sequence[int], pairs: Sequence[Pair],
                        strength: float) -> np.ndarray:
    """Unnormalised probability of each factor row [N, F]: prod over pairs of exp(-(c_i - c_j)^2 / (2 sigma^2))."""
    strength = check_strength(strength)
    scaled = scaled_factors(factors, factor_sizes)
    log_weight = np.zeros(len(scaled))
    if math.isinf(strength):
        return np.ones(len(scaled))
    for i, j in pairs:
        log_weight -= (scaled[:, i] - scaled[:, j]) ** 2 / (2.0 * strength ** 2)
    return np.exp(log_weight)


def pair_correlation(size_i: int, size_j: int, strength: float) -> float:
    """Exact Pearson correlation of two factors of the given sizes under one correlated pair (all other
    factors independent): the number the empirical correlation of sampled factors converges to."""
    grid = indices_to_factors(np.arange(size_i * size_j), (size_i, size_j))
    weights = correlation_weights(grid, (size_i, size_j), [(0, 1)], strength)
    p = weights / weights.sum()
    x, y = grid[:, 0].astype(np.float64), grid[:, 1].astype(np.float64)
    mx, my = p @ x, p @ y
    cov = p @ ((x - mx) * (y - my))
    sx, sy = np.sqrt(p @ (x - mx) ** 2), np.sqrt(p @ (y - my) ** 2)
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else 0.0


class CorrelatedFactors(GroundTruthData):
    """``base`` with its training factors drawn under pairwise correlations (module docstring).

    Args:
      base: the ground-truth dataset (observations and the factor grid come from it).
      pairs: factor index pairs (see :func:`parse_pairs`), at least one.
      strength: sigma > 0 shared by all pairs; ``inf`` leaves the grid uncorrelated.
    """

    def __init__(self, base: GroundTruthData, pairs: Sequence[Pair], strength: float,
                 name: Optional[str] = None):
        if not base.factor_sizes:
            raise DatasetError(f"{base.name}: correlated factors need a factor grid; this dataset has no factors")
        if not pairs:
            raise ValueError("correlated factors need at least one pair")
        num_factors = len(base.factor_sizes)
        for pair in pairs:
            if len(pair) != 2 or not all(0 <= int(k) < num_factors for k in pair) or pair[0] == pair[1]:
                raise ValueError(f"{base.name}: correlated pair {pair} is not two different factors of "
                                 f"[0, {num_factors})")
        self.base = base
        self.pairs = tuple((int(i), int(j)) for i, j in pairs)
        self.strength = check_strength(strength)
        self.name = name or f"{base.name}_correlated"
        self.factor_names = tuple(base.factor_names)
        self.factor_sizes = tuple(base.factor_sizes)
        self.observation_shape = tuple(base.observation_shape)
        # The joint of the factors that appear in a pair, tabulated over their sub-grid (C order).
        self.correlated = tuple(sorted({k for pair in self.pairs for k in pair}))
        self.independent = tuple(k for k in range(num_factors) if k not in self.correlated)
        sub_sizes = tuple(self.factor_sizes[k] for k in self.correlated)
        table_size = int(np.prod(sub_sizes, dtype=np.int64))
        if table_size > _MAX_JOINT_SIZE:
            raise DatasetError(f"{base.name}: the correlated factors span {table_size} grid cells "
                               f"(at most {_MAX_JOINT_SIZE}); correlate fewer factors")
        sub_grid = indices_to_factors(np.arange(table_size), sub_sizes)
        full = np.zeros((table_size, num_factors), np.int64)
        full[:, list(self.correlated)] = sub_grid
        weights = correlation_weights(full, self.factor_sizes, self.pairs, self.strength)
        self.joint_probability = weights / weights.sum()  # over the correlated factors' sub-grid
        self._sub_grid = sub_grid
        self._cdf = np.cumsum(self.joint_probability)
        self._cdf[-1] = 1.0

    @property
    def num_examples(self) -> int:
        return self.base.num_examples

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Factor rows [num, F]: the correlated factors jointly from the reweighted table, the others uniform."""
        factors = np.zeros((num, len(self.factor_sizes)), np.int64)
        cells = np.searchsorted(self._cdf, random_state.random_sample(num), side="right")
        factors[:, list(self.correlated)] = self._sub_grid[np.minimum(cells, len(self._cdf) - 1)]
        for k in self.independent:
            factors[:, k] = random_state.randint(self.factor_sizes[k], size=num)
        return factors

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return self.base.sample_observations_from_factors(factors, random_state)

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph batches when the base maps value ``i`` to grid index ``i mod N`` over all its factors
        (dSprites, as :class:`~tfdisent.data.subset.IndexedSubset` requires); otherwise numpy sampling.

        The batch's random values seed stateless draws (a deterministic function of the values, so the
        stream stays a checkpointable function of the pipeline seed)."""
        base_fn = self.base.tf_batch_fn()
        full_grid = getattr(self.base, "latent_factor_indices", None)
        if base_fn is None or full_grid is None or tuple(full_grid) != tuple(range(len(self.factor_sizes))):
            return None
        import tensorflow as tf  # noqa: PLC0415

        cdf = tf.constant(self._cdf, tf.float64)
        sub_grid = tf.constant(self._sub_grid, tf.int64)
        strides = np.cumprod((self.factor_sizes[1:] + (1,))[::-1])[::-1].astype(np.int64)
        correlated_strides = tf.constant(strides[list(self.correlated)], tf.int64)
        independent_sizes = tf.constant([self.factor_sizes[k] for k in self.independent], tf.float64)
        independent_strides = tf.constant(strides[list(self.independent)], tf.int64)
        last = len(self._cdf) - 1

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            size = tf.shape(values)[0]
            seed = tf.stack([values[0], values[-1]])
            u = tf.random.stateless_uniform([size], seed=seed, dtype=tf.float64)
            cells = tf.minimum(tf.searchsorted(cdf, u, side="right", out_type=tf.int64), last)
            index = tf.reduce_sum(tf.gather(sub_grid, cells) * correlated_strides, axis=1)
            if self.independent:
                v = tf.random.stateless_uniform([size, len(self.independent)], seed=seed + 1, dtype=tf.float64)
                others = tf.cast(tf.floor(v * independent_sizes), tf.int64)
                index += tf.reduce_sum(others * independent_strides, axis=1)
            return base_fn(index)

        return batch
