"""disent's flatness: the reference notes' known answers (§5.1) on hand-made traversals and on a
dataset."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import flatness, utils
from tfdisent.metrics.synthetic import random_rotation

T = np.linspace(0.0, 1.0, 10)


def traversal(columns, dims=8, repeats=4):
    z = np.zeros((repeats, len(T), dims))
    for column, values in columns.items():
        z[:, :, column] = values
    return z


@pytest.mark.parametrize("columns, expected", [
    ({0: T}, 1.0),
    ({0: T ** 3}, 1.0),                         # uneven spacing
    ({0: T, 1: T}, 1 / np.sqrt(2)),             # 45 degrees, or a duplicated code
    ({0: T, 1: T, 2: T}, 1 / np.sqrt(3)),       # equal spread over k = 3 dims
    ({}, 0.0),                                  # a factor the code ignores
])
def test_known_traversals(columns, expected):
    assert flatness.flatness_from_traversals([traversal(columns)])["ave_flatness"] == pytest.approx(expected)


def test_random_points_and_straightness_keys():
    scores = flatness.flatness_from_traversals([np.random.RandomState(0).randn(2000, 10, 8)])
    assert scores["ave_flatness"] == pytest.approx(0.077, abs=0.003)
    straight = flatness.flatness_from_traversals([traversal({0: T, 1: T})])
    assert straight["ave_flatness_l1"] == pytest.approx(1.0) and straight["ave_flatness_l2"] == pytest.approx(1.0)
    assert straight["ave_length_l2"] == pytest.approx(np.sqrt(2))


def test_traversals_hold_every_value_of_one_factor():
    sizes = (3, 5)
    codes, observations = utils.factor_traversals(IdentityObservations(sizes), lambda x: np.asarray(x, float), 1, 4,
                                                  np.random.RandomState(0), keep_observations=True)
    assert codes.shape == (4, 5, 2) and observations.shape == (4, 5, 2)
    np.testing.assert_array_equal(codes[:, :, 1], np.tile(np.arange(5), (4, 1)))
    assert (codes[:, :, 0] == codes[:, :1, 0]).all()


def test_on_a_dataset_axis_codes_beat_rotated_ones():
    sizes = (4, 6, 8)
    dataset = IdentityObservations(sizes)
    rotation = random_rotation(3, 1)
    axis = metrics.compute("flatness", dataset, lambda x: np.asarray(x, float), 0, repeats=8)
    rotated = metrics.compute("flatness", dataset, lambda x: np.asarray(x, float) @ rotation, 0, repeats=8)
    assert axis["ave_flatness"] == pytest.approx(1.0)
    assert rotated["ave_flatness"] < 0.95
    assert rotated["ave_flatness_l2"] == pytest.approx(1.0)  # still straight lines
