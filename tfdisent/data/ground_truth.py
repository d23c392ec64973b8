"""The ground-truth dataset interface shared by training and every metric.

A ground-truth dataset is a finite factor grid (``factor_sizes``) and a way to render the
observation of any factor vector. This mirrors disentanglement_lib's ``GroundTruthData``
(Locatello et al. 2019, Sec. 5) so that metrics written against it accept user datasets too.
"""

from __future__ import annotations

import abc
from typing import Callable, Optional, Sequence, Tuple

import numpy as np


class DatasetError(ValueError):
    """A dataset file or argument is missing, corrupt or does not fit; the message says which."""


def factors_to_indices(factors: np.ndarray, factor_sizes: Sequence[int]) -> np.ndarray:
    """Flat grid indices of factor vectors, last factor fastest (mixed radix, C order)."""
    factors = np.asarray(factors, dtype=np.int64)
    return np.ravel_multi_index(tuple(factors.T), tuple(factor_sizes)).astype(np.int64)


def indices_to_factors(indices: np.ndarray, factor_sizes: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`factors_to_indices`: int64 array [num, num_factors]."""
    return np.stack(np.unravel_index(np.asarray(indices, dtype=np.int64),
                                     tuple(factor_sizes)), axis=-1).astype(np.int64)


class GroundTruthData(abc.ABC):
    """Abstract ground-truth dataset.

    Subclasses set ``name``, ``factor_names``, ``factor_sizes`` and ``observation_shape`` and
    implement :meth:`sample_observations_from_factors`. Observations are float32 in [0, 1],
    NHWC for images (any shape for non-image data). All randomness goes through the
    ``numpy.random.RandomState`` passed in, so results are reproducible.
    """

    name: str = "ground_truth"
    factor_names: Tuple[str, ...] = ()
    factor_sizes: Tuple[int, ...] = ()
    observation_shape: Tuple[int, ...] = ()

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def factors_num_values(self) -> list:
        """disentanglement_lib's name for ``factor_sizes``."""
        return list(self.factor_sizes)

    @property
    def num_examples(self) -> int:
        """Size N of the dataset, used by estimators that need it (beta-TCVAE's MWS)."""
        return int(np.prod(self.factor_sizes, dtype=np.int64))

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Factor vectors drawn uniformly and independently from the grid: int64 [num, F]."""
        return np.stack([random_state.randint(size, size=num) for size in self.factor_sizes],
                        axis=1).astype(np.int64) if self.factor_sizes else np.zeros((num, 0), np.int64)

    @abc.abstractmethod
    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """Observations of the given factors: float32 [num, *observation_shape] in [0, 1]."""

    def sample(self, num: int, random_state: np.random.RandomState):
        """``(factors, observations)`` for ``num`` uniformly drawn factor vectors."""
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return self.sample(num, random_state)[1]

    def check_factors(self, factors: np.ndarray) -> np.ndarray:
        """Validates a factor array against the grid and returns it as int64 [num, F]."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise DatasetError(
                f"{self.name}: factors must have shape [num, {self.num_factors}], got {factors.shape}")
        if not np.issubdtype(factors.dtype, np.integer):
            raise DatasetError(f"{self.name}: factors must be integers, got {factors.dtype}")
        sizes = np.asarray(self.factor_sizes)
        if factors.size and ((factors < 0).any() or (factors >= sizes).any()):
            bad = np.argwhere((factors < 0) | (factors >= sizes))[0]
            raise DatasetError(
                f"{self.name}: factor {self.factor_names[bad[1]] if self.factor_names else bad[1]} "
                f"value {factors[bad[0], bad[1]]} is outside [0, {sizes[bad[1]]})")
        return factors.astype(np.int64)

    def tf_batch_fn(self) -> Optional[Callable]:
        """Optional fast path for ``tf.data``: a TF function mapping an int64 tensor [B] of random
        values to a float32 batch [B, *observation_shape] (sampled uniformly from the dataset).

        Return None (the default) and the input pipeline falls back to numpy sampling through
        :meth:`sample_observations`. In-memory datasets override this so training batches are
        assembled inside the TF graph without the Python GIL.
        """
        return None

    def describe(self) -> str:
        factors = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"{self.name}: {self.num_examples} examples, factors [{factors}], observations {self.observation_shape}"
