"""Downstream task: keys, known answers, sample efficiency and the fast tree backend."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import downstream
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (3, 4)
FAST = {"num_train": (20, 300), "num_test": 200, "n_jobs": 1}


def score(kind, **overrides):
    return metrics.compute("downstream", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind),
                           np.random.RandomState(0), **{**FAST, **overrides})


def test_keys_follow_the_reference_per_predictor():
    result = score("disentangled", num_train=(20,), predictors=("logistic_regression_cv",))
    expected = {f"logistic_regression/20:{key}" for key in
                ("mean_train_accuracy", "mean_test_accuracy", "min_train_accuracy", "min_test_accuracy",
                 "train_accuracy_factor_0", "test_accuracy_factor_0", "train_accuracy_factor_1",
                 "test_accuracy_factor_1")}
    assert set(result) == expected


def test_disentangled_code_is_easy_noise_is_chance_and_efficiency_is_reported():
    good, noise = score("disentangled"), score("noise")
    for prefix in ("logistic_regression", "boosted_trees"):
        assert good[f"{prefix}/300:mean_test_accuracy"] > 0.95
        chance = np.mean([1 / size for size in SIZES])
        assert noise[f"{prefix}/300:mean_test_accuracy"] < chance + 0.12
        efficiency = good[f"{prefix}/20:sample_efficiency"]
        assert efficiency == pytest.approx(good[f"{prefix}/20:mean_test_accuracy"]
                                           / good[f"{prefix}/300:mean_test_accuracy"])
    assert good["logistic_regression/300:min_test_accuracy"] <= good["logistic_regression/300:mean_test_accuracy"]


def test_rotation_keeps_linear_decodability():
    rotated = score("rotated", num_train=(300,), predictors=("logistic_regression_cv",))
    assert rotated["logistic_regression/300:mean_test_accuracy"] > 0.9


def test_fast_backend_and_bad_settings():
    fast = score("disentangled", num_train=(300,), predictors=("gradient_boosting_classifier",), gbt_backend="exact")
    assert fast["boosted_trees/300:mean_test_accuracy"] > 0.95
    with pytest.raises(metrics.MetricError, match="predictors"):
        score("disentangled", predictors=("svm",))
    with pytest.raises(metrics.MetricError, match=">= 5"):
        score("disentangled", num_train=(3,))


def test_sample_efficiency_by_hand():
    assert downstream.sample_efficiency("p", {10: 0.4, 100: 0.6, 1000: 0.8}) == {
        "p/10:sample_efficiency": pytest.approx(0.5), "p/100:sample_efficiency": pytest.approx(0.75)}
