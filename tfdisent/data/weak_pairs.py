"""Pairs of observations that differ in a few factors: the weak supervision of Locatello et al.
(2020), "Weakly-Supervised Disentanglement Without Compromises", Sec. 4.

A pair is drawn as: factors f ~ uniform over the grid, a copy f' of f, then k factor indices
resampled in f'; the pair is (x(f), x(f')) and, for the ``_labels`` methods, which factors changed.

Two dynamics (``pair_dynamics``):

* ``exact`` (ours, the default): exactly k distinct factors change, and each changed factor takes a
  *different* value (drawn uniformly among the other values), so "the pair differs in k factors" is
  literally true. ``k = -1`` draws k uniformly from [1, F - 1] for every pair. The changed mask marks
  all k changed factors.
* ``dlib`` (disentanglement_lib's ``simple_dynamics``): k_obs = k, or randint(1, F) when k = -1; then
  a coin flip between 1 and k_obs changed factors (``choice([1, k_obs])``: half of the pairs differ in
  one factor only); new values are drawn uniformly among *all* values, so they may equal the old ones;
  the label is the last changed index (the mask is one-hot there). google-research/disentanglement_lib#31
  questions this sampling; use it to reproduce the reference.

F counts the factors with at least two values (a one-valued factor cannot change). The stream is a
``tf.data`` pipeline over ``tf.data.Dataset.random`` (one seed per batch), so it is a deterministic
function of the seed and its iterator is checkpointable like :func:`tfdisent.data.pipeline.training_dataset`.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from tfdisent.data.ground_truth import DatasetError, GroundTruthData

PAIR_DYNAMICS = ("exact", "dlib")


def changeable_factors(factor_sizes) -> np.ndarray:
    """Indices of the factors with at least two values."""
    return np.flatnonzero(np.asarray(factor_sizes) > 1)


def check_pair_settings(dataset: GroundTruthData, k: int, dynamics: str = "exact") -> None:
    """Raises DatasetError (one line) when ``dataset`` cannot give pairs with ``k`` changed factors."""
    if dynamics not in PAIR_DYNAMICS:
        raise DatasetError(f"pair dynamics must be one of {', '.join(PAIR_DYNAMICS)}, got {dynamics!r}")
    num_changeable = len(changeable_factors(dataset.factor_sizes))
    if num_changeable < 2:
        raise DatasetError(f"{dataset.name} has {num_changeable} factor(s) of variation; weakly supervised pairs "
                           f"need a dataset with at least two ground-truth factors")
    if k != -1 and not 1 <= k <= num_changeable - 1:
        raise DatasetError(f"k must be in [1, {num_changeable - 1}] (the number of factors of {dataset.name} "
                           f"minus one) or -1 for a random k, got {k}")


def sample_pair_factors(factor_sizes, num: int, k: int, random_state: np.random.RandomState,
                        dynamics: str = "exact", first: Optional[np.ndarray] = None
                        ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num`` factor pairs and their changed masks.

    Returns int64 ``factors1``, ``factors2`` [num, F] and bool ``changed`` [num, F] (see the module
    docstring for what ``changed`` marks under each dynamics). ``first``: the first factors of the
    pairs when they come from the dataset's own sampler (e.g. correlated factors; Roth et al. 2023 weight
    the first observation of a pair); default uniform over the grid.
    """
    sizes = np.asarray(factor_sizes, dtype=np.int64)
    num_factors = len(sizes)
    candidates = changeable_factors(sizes)
    if first is None:
        factors1 = np.stack([random_state.randint(s, size=num) for s in sizes], axis=1).astype(np.int64)
    else:
        factors1 = np.asarray(first, dtype=np.int64).reshape(num, num_factors)
    factors2 = factors1.copy()
    changed = np.zeros((num, num_factors), dtype=bool)
    for i in range(num):
        if dynamics == "exact":
            k_i = random_state.randint(1, len(candidates)) if k == -1 else k
            chosen = random_state.choice(candidates, size=k_i, replace=False)
            for j in chosen:
                # A value different from the old one, uniform among the other size - 1 values.
                factors2[i, j] = (factors1[i, j] + 1 + random_state.randint(sizes[j] - 1)) % sizes[j]
            changed[i, chosen] = True
        else:  # dlib's simple_dynamics
            k_obs = random_state.randint(1, len(candidates)) if k == -1 else k
            k_i = random_state.choice([1, k_obs])
            chosen = random_state.choice(candidates, size=k_i, replace=False)
            for j in chosen:
                factors2[i, j] = random_state.randint(sizes[j])
            changed[i, chosen[-1]] = True
    return factors1, factors2, changed


def pair_dataset(dataset: GroundTruthData, batch_size: int, seed: int, k: int = 1,
                 dynamics: str = "exact") -> tf.data.Dataset:
    """An infinite stream of ``(x1, x2, changed)`` batches: float32 [B, *obs] twice and float32 [B, F].

    ``changed[b, j] = 1`` where factor j changed between the two observations of pair b.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    check_pair_settings(dataset, k, dynamics)
    shape = tuple(dataset.observation_shape)
    num_factors = dataset.num_factors

    def sample(batch_seed: np.ndarray):
        random_state = np.random.RandomState(int(batch_seed) % (2 ** 32))
        # The dataset's own sampler (uniform for a plain dataset: the same draws as the default).
        first = dataset.sample_factors(batch_size, random_state)
        factors1, factors2, changed = sample_pair_factors(dataset.factor_sizes, batch_size, k, random_state,
                                                          dynamics, first)
        x1 = dataset.sample_observations_from_factors(factors1, random_state).astype(np.float32)
        x2 = dataset.sample_observations_from_factors(factors2, random_state).astype(np.float32)
        return x1, x2, changed.astype(np.float32)

    def batch_fn(batch_seed):
        x1, x2, changed = tf.numpy_function(sample, [batch_seed], (tf.float32, tf.float32, tf.float32),
                                            stateful=False)
        x1.set_shape((batch_size,) + shape)
        x2.set_shape((batch_size,) + shape)
        changed.set_shape((batch_size, num_factors))
        return x1, x2, changed

    return (tf.data.Dataset.random(seed=seed)
            .map(batch_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
