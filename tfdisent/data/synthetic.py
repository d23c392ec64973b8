"""Small synthetic ground-truth datasets for tests and examples (disentanglement_lib's
``DummyData`` and ``IdentityObservationsData``)."""

from __future__ import annotations

import numpy as np

from tfdisent.data.ground_truth import GroundTruthData


class DummyData(GroundTruthData):
    """10 factors of 5 values each; observations are uniform noise unrelated to the factors."""

    name = "dummy"

    def __init__(self, num_factors: int = 10, factor_size: int = 5, image_size: int = 64):
        self.factor_sizes = (factor_size,) * num_factors
        self.factor_names = tuple(f"factor_{i}" for i in range(num_factors))
        self.observation_shape = (image_size, image_size, 1)

    def sample_observations_from_factors(self, factors, random_state):
        factors = self.check_factors(factors)
        return random_state.random_sample((len(factors),) + self.observation_shape).astype(np.float32)


class IdentityObservations(GroundTruthData):
    """Observations are the factor values themselves (a float vector), for metric tests."""

    name = "identity"

    def __init__(self, factor_sizes=(10,) * 10):
        self.factor_sizes = tuple(int(s) for s in factor_sizes)
        self.factor_names = tuple(f"factor_{i}" for i in range(len(self.factor_sizes)))
        self.observation_shape = (len(self.factor_sizes),)

    def sample_observations_from_factors(self, factors, random_state):
        return self.check_factors(factors).astype(np.float32)
