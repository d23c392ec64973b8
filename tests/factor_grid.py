"""A tiny ground-truth dataset shared by the weak- and few-label-supervision tests."""

import numpy as np

from tfdisent.data import GroundTruthData


class FactorGrid(GroundTruthData):
    """A factor grid whose observation encodes its factors (8x8 image, pixel j = factor j / (size - 1))."""

    name = "grid"

    def __init__(self, factor_sizes):
        self.factor_sizes = tuple(factor_sizes)
        self.factor_names = tuple(f"f{i}" for i in range(len(factor_sizes)))
        self.observation_shape = (8, 8, 1)

    def sample_observations_from_factors(self, factors, random_state):
        images = np.zeros((len(factors), 8, 8, 1), np.float32)
        for j, size in enumerate(self.factor_sizes):
            images[:, 0, j, 0] = factors[:, j] / max(size - 1, 1)
        return images
