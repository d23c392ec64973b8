"""disent's factored components: the reference notes' linearity answers (§5.2), the geometric mean,
and distance agreement on known codes."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import factored_components as fc
from tfdisent.metrics.synthetic import random_rotation

T = np.linspace(0.0, 1.0, 10)


def traversal(columns, dims):
    z = np.zeros((3, len(T), dims))
    for column in columns:
        z[:, :, column] = T
    return z


def test_linearity_reference_answers():
    axis = fc.factor_linearity(traversal([0], 10))
    assert axis["linearity_axis_ratio"] == pytest.approx(1.0) and axis["linearity_linear_ratio"] == pytest.approx(1.0)
    for dims, expected in ((2, 0.0), (10, 0.444)):
        diagonal = fc.factor_linearity(traversal([0, 1], dims))
        assert diagonal["linearity_axis_ratio"] == pytest.approx(expected, abs=1e-3)
        assert diagonal["linearity_linear_ratio"] == pytest.approx(1.0)
    ignored = fc.factor_linearity(traversal([], 4))  # disent: NaN; here 0
    assert ignored["linearity_axis_ratio"] == 0.0 and ignored["linearity_linear_ratio"] == 0.0


def test_geometric_mean_and_peak_ratio():
    assert fc.geometric_mean([0.25, 1.0]) == pytest.approx(0.5)
    assert fc.geometric_mean([0.5, 0.0]) == 0.0
    np.testing.assert_allclose(fc.peak_ratio(np.array([[1.0, 0, 0, 0], [1, 1, 1, 1]])), [1.0, 0.0])


def test_distance_agreement_by_hand():
    ground = np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 5.0]])
    distances = {"ground": ground, "data": ground * 2, "latent_l1": -ground, "latent_l2": ground + 1}
    scores = fc.distance_agreement(distances)
    assert scores["rsame_ground_data"] == 1.0 and scores["rcorr_ground_data"] == pytest.approx(1.0)
    assert scores["rsame_ground_latent_l1"] == 0.0 and scores["lcorr_ground_latent_l1"] == pytest.approx(-1.0)


def test_on_a_dataset():
    sizes = (4, 6, 8)
    dataset = IdentityObservations(sizes)
    settings = {"repeats": 8, "num_samples": 16, "global_subset_size": 16}
    axis = metrics.compute("factored_components", dataset, lambda x: np.asarray(x, float), 0, **settings)
    rotation = random_rotation(3, 1)
    rotated = metrics.compute("factored_components", dataset, lambda x: np.asarray(x, float) @ rotation, 0,
                              **settings)
    noise = metrics.compute("factored_components", dataset,
                            lambda x: np.random.RandomState(len(x)).randn(len(x), 3), 0, **settings)
    assert axis["linearity_axis_ratio"] == pytest.approx(1.0) and rotated["linearity_axis_ratio"] < 0.8
    assert rotated["linearity_linear_ratio"] == pytest.approx(1.0)
    # Observations are the factors, so ground, data and latent distances agree for the identity code.
    assert axis["rsame_ground_latent_l1_factor"] == pytest.approx(1.0)
    assert axis["rcorr_latent_data_l2_global"] > 0.9
    assert noise["rcorr_ground_latent_l2_global"] < 0.3
