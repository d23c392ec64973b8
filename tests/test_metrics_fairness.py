"""The fairness metric (Locatello et al. 2019, "On the Fairness of Disentangled Representations")."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import fairness

FAST = {"num_train": 300, "num_test_points_per_class": 20, "n_jobs": 1}


def test_defaults_are_the_fairness_study_config():
    assert "fairness" in metrics.metric_names()
    settings = metrics.default_settings("fairness")
    assert (settings["num_train"], settings["num_test_points_per_class"], settings["batch_size"]) == (10000, 100, 16)
    assert settings["gbt_backend"] == "sklearn"


def test_inter_group_fairness_known_counts():
    # Predictions independent of the sensitive class: fair.
    assert fairness.inter_group_fairness([[5, 5], [5, 5]]) == (0.0, 0.0)
    # Prediction = sensitive class: TV 1/2 for each class.
    assert fairness.inter_group_fairness([[10, 0], [0, 10]]) == pytest.approx((0.5, 0.5))
    # Pooled distribution (1/3, 2/3); per class TV 5/12, 1/12, 1/3 (equal weights).
    mean, worst = fairness.inter_group_fairness([[3, 1, 0], [1, 3, 4]])
    assert mean == pytest.approx((5 / 12 + 1 / 12 + 1 / 3) / 3)
    assert worst == pytest.approx(5 / 12)
    # Unequal class sizes weight the mean by the class counts: TVs 0.4 and 0.1 with weights 10, 40.
    mean, worst = fairness.inter_group_fairness([[10, 0], [0, 40]])
    assert worst == pytest.approx(0.8) and mean == pytest.approx((0.8 * 10 + 0.2 * 40) / 50)


def test_scores_dict_keys_and_summaries():
    matrix = np.array([[0.0, 1, 2], [3, 0, 5], [6, 7, 0]])
    scores = fairness.scores_dict(matrix, "m")
    assert len(scores) == 6 + 6 + 6 + 8
    assert scores["m:pred1:sens2"] == 5 and "m:pred1:sens1" not in scores
    assert scores["m:pred0:mean_sens"] == 1.5 and scores["m:pred2:max_sens"] == 7
    assert scores["m:sens0:mean_pred"] == 4.5 and scores["m:sens1:max_pred"] == 7
    assert scores["m:mean_pred:mean_sens"] == pytest.approx(4.0)      # rows 1.5, 4, 6.5
    assert scores["m:mean_pred:max_sens"] == pytest.approx((2 + 5 + 7) / 3)
    assert scores["m:max_pred:mean_sens"] == 6.5 and scores["m:max_pred:max_sens"] == 7
    assert scores["m:mean_sens:mean_pred"] == pytest.approx(4.0)      # columns 4.5, 4, 3.5
    assert scores["m:mean_sens:max_pred"] == pytest.approx((6 + 7 + 5) / 3)
    assert scores["m:max_sens:mean_pred"] == 4.5 and scores["m:max_sens:max_pred"] == 7


def test_unfairness_matrices_of_a_predictor_that_reads_the_sensitive_factor():
    # Target 0's predictor outputs the sensitive value; target 1's a constant.
    per_value = lambda c: np.full((4, 2), c, np.float64)  # noqa: E731 (codes with factor 1 set to c)
    codes = {(0, 1): [per_value(0), per_value(1)], (1, 0): [per_value(0), per_value(1)]}
    mean, worst = fairness.unfairness_matrices([lambda z: z[:, 1], lambda z: np.zeros(len(z))], codes, [2, 2])
    np.testing.assert_allclose(mean, [[0, 0.5], [0, 0]])
    np.testing.assert_allclose(worst, [[0, 0.5], [0, 0]])


def test_a_disentangled_code_is_perfectly_fair():
    dataset = IdentityObservations((3, 4, 2))
    scores = metrics.compute("fairness", dataset, lambda x: np.asarray(x, np.float64), 0, **FAST)
    assert set(fairness.SCORE_KEYS) <= set(scores)
    assert len(scores) == 2 * (6 + 6 + 6 + 8)
    assert all(value == 0.0 for value in scores.values())


def test_a_code_that_mixes_factors_is_unfair():
    # Factors (3 values, 2 values); the code is their sum, so predicting factor 0 depends on factor 1.
    # Codes 0 and 3 give target 0 and 2; codes 1 and 2 are ambiguous, each mapped to one of its two
    # possible values. Whatever that choice, the predictions for sensitive value 0 ({0, g1, g2} over
    # uniform f0) and value 1 ({g1, g2, 2}) are 1/3 apart in TV, i.e. each is 1/6 from the pooled one.
    dataset = IdentityObservations((3, 2))
    settings = dict(FAST, num_test_points_per_class=300)
    scores = metrics.compute("fairness", dataset, lambda x: np.asarray(x, np.float64).sum(1, keepdims=True),
                             0, **settings)
    assert scores["mean_fairness:pred0:sens1"] == pytest.approx(1 / 6, abs=0.05)
    assert scores["max_fairness:pred0:sens1"] == pytest.approx(1 / 6, abs=0.05)


class RecordingData:
    """Only the documented interface; records the order of the draws."""

    factor_sizes = (2, 3)
    observation_shape = (2,)

    def __init__(self):
        self.calls = []

    def sample_factors(self, num, random_state):
        self.calls.append(("factors", num))
        return np.stack([random_state.randint(s, size=num) for s in self.factor_sizes], 1)

    def sample_observations_from_factors(self, factors, random_state):
        self.calls.append(("render", tuple(np.unique(factors[:, 1])) if len(factors) == 5 else len(factors)))
        return np.asarray(factors, np.float32)


def test_draws_follow_the_reference_order():
    data = RecordingData()
    metrics.compute("fairness", data, lambda x: np.asarray(x), 0, num_train=32, num_test_points_per_class=5,
                    batch_size=16, n_jobs=1)
    training = [("factors", 16), ("render", 16)] * 2
    target0_sens1 = [("factors", 5)] + [("render", (c,)) for c in range(3)]
    assert data.calls[:4] == training
    assert data.calls[4:8] == target0_sens1
    assert data.calls[8][0] == "factors" and len(data.calls) == 4 + 4 + 3
