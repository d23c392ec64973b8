"""SAGE (Covert et al. 2020) on known answers: a linear model with independent features, an ignored
feature, efficiency, a classifier, and bad input."""

import numpy as np
import pytest

from tfdisent.metrics import sage
from tfdisent.metrics.utils import MetricError

BETA = np.array([2.0, -1.0, 0.5, 0.0])


def linear_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 1.0, 3.0])
    y = x @ BETA + 0.1 * rng.normal(size=n)
    return x, y


def test_linear_model_values_are_the_explained_variances():
    x, y = linear_data()
    background = x[:256]
    result = sage.sage_values(lambda rows: rows @ BETA, x, y, "mse", background=background, thresh=0.05,
                              max_permutations=4096, random_state=1)
    # Marginal imputation puts the background mean m_i in place of x_i: the loss rises by
    # beta_i^2 E[(x_i - m_i)^2] whatever the order the feature is removed in.
    expected = BETA ** 2 * np.mean((x - background.mean(axis=0)) ** 2, axis=0)
    assert expected[0] == pytest.approx(4.0, rel=0.1) and expected[1] == pytest.approx(4.0, rel=0.1)
    assert result.converged and result.num_permutations <= 4096
    np.testing.assert_allclose(result.values, expected, atol=4 * result.std.max() + 1e-9, rtol=0.08)
    # The ignored feature contributes exactly nothing, with no spread.
    assert result.values[3] == 0.0 and result.std[3] == 0.0
    assert np.all(result.std[:3] > 0)


def test_efficiency_values_sum_to_the_loss_gap():
    x, y = linear_data(n=3000, seed=3)

    def predict(rows):  # non-linear, with an interaction, so the order of removal matters
        return rows[:, 0] * rows[:, 1] + np.sin(rows[:, 2])

    result = sage.sage_values(predict, x, y, "mse", batch_size=64, thresh=0.05, max_permutations=2048,
                              random_state=2)
    background = x[:sage.REFERENCE_BACKGROUND]
    loss = sage.per_row_loss("mse")
    empty = sage.marginal_predictions(predict, x, np.zeros_like(x, dtype=bool), background)
    gap = float(np.mean(loss(empty, y)) - np.mean(loss(predict(x), y)))
    # Each sampled row's credits sum to its own gap, so the sum matches the data's gap up to which
    # rows were drawn.
    assert float(result.values.sum()) == pytest.approx(gap, rel=0.1)
    assert result.values[3] == 0.0


def test_classifier_with_cross_entropy_ranks_the_informative_feature_first():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 1] > 0).astype(int)

    def probabilities(rows):
        p = 1.0 / (1.0 + np.exp(-4.0 * rows[:, 1] - 0.5 * rows[:, 2]))
        return np.stack([1.0 - p, p], axis=1)

    result = sage.sage_values(probabilities, x, y, "cross_entropy", random_state=0)
    assert result.values[0] == 0.0
    assert result.values[1] > 0.3 > abs(result.values[2])
    # Removing every feature leaves the background-averaged probability: close to ln 2 of loss.
    assert float(result.values.sum()) == pytest.approx(np.log(2) - 0.18, abs=0.12)


def test_budget_stops_sampling_and_is_reported():
    x, y = linear_data(n=500)
    result = sage.sage_values(lambda rows: rows @ BETA, x, y, batch_size=16, thresh=1e-6, max_permutations=32)
    assert not result.converged and result.num_permutations == 32


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": "hinge"}, "unknown loss"),
    ({"thresh": 1.5}, "thresh"),
    ({"background": np.zeros((4, 2))}, "background"),
])
def test_bad_input_is_one_line_error(kwargs, match):
    x, y = linear_data(n=50)
    with pytest.raises(MetricError, match=match):
        sage.sage_values(lambda rows: rows @ BETA, x, y, **kwargs)
    with pytest.raises(MetricError, match="must be"):
        sage.sage_values(lambda rows: rows @ BETA, x, y[:10])
