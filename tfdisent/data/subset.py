"""A ground-truth dataset restricted to a subset of its factor grid (rPU-VAE's reduced datasets,
Estermann et al. 2020, Alg. 1: the next recursion trains only on the kept interval).

``IndexedSubset(base, indices)`` samples uniformly among the given flat grid indices (C order over
``base.factor_sizes``, :func:`factors_to_indices`); ``num_examples`` is the subset size, which is
the N that beta-TCVAE's minibatch-weighted estimator needs (the reference uses the current
dataset's size). Factors and observations come from the base dataset, so metrics and labels work
unchanged.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from tfdisent.data.ground_truth import (DatasetError, GroundTruthData, factors_to_indices,
                                        indices_to_factors)


class IndexedSubset(GroundTruthData):
    """``base`` restricted to the flat grid ``indices`` (sorted and deduplicated)."""

    def __init__(self, base: GroundTruthData, indices: Sequence[int], name: Optional[str] = None):
        if not base.factor_sizes:
            raise DatasetError(f"{base.name}: a subset needs a factor grid; this dataset has no factors")
        indices = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1))
        grid = int(np.prod(base.factor_sizes, dtype=np.int64))
        if indices.size == 0:
            raise DatasetError(f"{base.name}: an empty subset")
        if indices[0] < 0 or indices[-1] >= grid:
            raise DatasetError(f"{base.name}: subset index outside [0, {grid})")
        self.base = base
        self.indices = indices
        self.name = name or f"{base.name}_subset"
        self.factor_names = tuple(base.factor_names)
        self.factor_sizes = tuple(base.factor_sizes)
        self.observation_shape = tuple(base.observation_shape)

    @property
    def num_examples(self) -> int:
        return int(self.indices.size)

    def sample_indices(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.indices[random_state.randint(self.indices.size, size=num)]

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return indices_to_factors(self.sample_indices(num, random_state), self.factor_sizes)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return self.base.sample_observations_from_factors(factors, random_state)

    def contains(self, factors: np.ndarray) -> np.ndarray:
        """Boolean [num]: which factor rows lie in the subset."""
        return np.isin(factors_to_indices(factors, self.factor_sizes), self.indices)

    def tf_batch_fn(self) -> Optional[Callable]:
        """In-graph batches when the base maps value ``i`` to grid index ``i mod N`` (dSprites with
        all factors as ground truth, see ``DSprites.tf_batch_fn``); otherwise numpy sampling."""
        base_fn = self.base.tf_batch_fn()
        full_grid = getattr(self.base, "latent_factor_indices", None)
        if base_fn is None or full_grid is None or tuple(full_grid) != tuple(range(len(self.factor_sizes))):
            return None
        import tensorflow as tf  # noqa: PLC0415

        table = tf.constant(self.indices, tf.int64)
        size = tf.constant(self.indices.size, tf.int64)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            return base_fn(tf.gather(table, tf.math.floormod(values, size)))

        return batch
