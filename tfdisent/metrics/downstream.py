"""Downstream classification and sample efficiency (Locatello et al. 2019, Sec. 4.4 / 5: "Are
disentangled representations useful for downstream tasks?").

For each training-set size ``n`` in ``num_train``: draw ``n`` fresh training and ``num_test``
fresh test points, fit one classifier per factor on the codes, and report train/test accuracies
(per factor, mean and min). Statistical efficiency, as in the paper, is the mean test accuracy
with ``n`` samples divided by the mean test accuracy with the largest ``n`` (100 vs 10,000 in
the paper).

Reference: disentanglement_lib ``evaluation/metrics/downstream_task.py`` with the two study
configs ``downstream_task_logistic_regression`` (``LogisticRegressionCV(Cs=10, cv=KFold(5))``)
and ``downstream_task_boosted_trees`` (``GradientBoostingClassifier()``); num_train=[10, 100,
1000, 10000], num_test=5000, batch_size=16; keys ``{n}:mean_train_accuracy``,
``{n}:mean_test_accuracy``, ``{n}:min_train_accuracy``, ``{n}:min_test_accuracy``,
``{n}:train_accuracy_factor_{i}``, ``{n}:test_accuracy_factor_{i}``.

Output keys: one metric runs both predictors, so each reference key is prefixed with the
reference config's predictor name: ``logistic_regression/{n}:mean_test_accuracy`` and
``boosted_trees/{n}:mean_test_accuracy`` (strip the prefix to compare with the reference). Added:
``{prefix}/{n}:sample_efficiency`` for every ``n`` below the largest.

Deviations from the reference:
* Both predictors share one set of draws. This is exactly what the reference computes: each of
  its two configs starts from the same seed and the fits do not consume the random state.
* ``LogisticRegressionCV`` uses today's scikit-learn defaults (lbfgs, multinomial) with
  ``scoring="accuracy"`` pinned (the 2019 default; scikit-learn 1.11 switches to log-loss).
* Trees are seeded; ``gbt_backend="exact"`` offers the fast exact booster (see ``dci``). Factors are
  fitted in parallel (``n_jobs``). One-class factors get a constant classifier.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from tfdisent.metrics import utils

NAME = "downstream"
REFERENCE_NAME = "downstream_task"
NEEDS_FACTORS = True
PREDICTORS = {"logistic_regression_cv": "logistic_regression",
              "gradient_boosting_classifier": "boosted_trees"}
DEFAULTS = {"num_train": (10, 100, 1000, 10000), "num_test": 5000, "batch_size": 16,
            "predictors": ("logistic_regression_cv", "gradient_boosting_classifier"),
            "gbt_backend": "sklearn", "n_jobs": -1}
CHOICES = {"predictors": tuple(PREDICTORS), "gbt_backend": utils.GBT_BACKENDS}
SCORE_KEYS = ()  # depends on the settings; see the module docstring


def _make_logistic_regression_cv():
    return LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5), scoring="accuracy")


def _fit_one_factor(predictor, gbt_backend, codes_train, labels_train, codes_test, labels_test):
    if predictor == "logistic_regression_cv":
        # KFold(5) needs at least 5 training points; with fewer the reference crashes too.
        make = _make_logistic_regression_cv
    else:
        make = lambda: utils.make_gradient_boosting(gbt_backend)  # noqa: E731
    model = utils.fit_classifier(make, codes_train, labels_train)
    return utils.accuracy(model, codes_train, labels_train), utils.accuracy(model, codes_test, labels_test)


def downstream_accuracies(codes_train, factors_train, codes_test, factors_test, predictor: str,
                          gbt_backend: str = "sklearn", n_jobs: int = -1):
    """Per-factor train and test accuracies [K], [K] of ``predictor``."""
    tasks = [(predictor, gbt_backend, codes_train, factors_train[:, j], codes_test, factors_test[:, j])
             for j in range(factors_train.shape[1])]
    results = utils.parallel_map(_fit_one_factor, tasks, n_jobs)
    return np.array([r[0] for r in results]), np.array([r[1] for r in results])


def accuracy_scores(prefix: str, train_size: int, train_accuracy: np.ndarray,
                    test_accuracy: np.ndarray) -> dict:
    """The reference's keys for one training-set size, prefixed with ``{prefix}/``."""
    head = f"{prefix}/{train_size}:"
    scores = {head + "mean_train_accuracy": float(np.mean(train_accuracy)),
              head + "mean_test_accuracy": float(np.mean(test_accuracy)),
              head + "min_train_accuracy": float(np.min(train_accuracy)),
              head + "min_test_accuracy": float(np.min(test_accuracy))}
    for i, (train, test) in enumerate(zip(train_accuracy, test_accuracy)):
        scores[head + f"train_accuracy_factor_{i}"] = float(train)
        scores[head + f"test_accuracy_factor_{i}"] = float(test)
    return scores


def downstream_from_codes(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                          factors_test: np.ndarray, predictor: str = "logistic_regression_cv",
                          gbt_backend: str = "sklearn", n_jobs: int = -1) -> dict:
    """Reference keys (prefixed) for one predictor and one training set of ``len(codes_train)``."""
    train_accuracy, test_accuracy = downstream_accuracies(codes_train, factors_train, codes_test, factors_test,
                                                          predictor, gbt_backend, n_jobs)
    return accuracy_scores(PREDICTORS[predictor], len(codes_train), train_accuracy, test_accuracy)


def sample_efficiency(prefix: str, mean_test_accuracy: dict) -> dict:
    """``{prefix}/{n}:sample_efficiency`` = mean test accuracy at n / at the largest n."""
    largest = max(mean_test_accuracy)
    reference = mean_test_accuracy[largest]
    return {f"{prefix}/{n}:sample_efficiency": (float(accuracy / reference) if reference > 0 else 0.0)
            for n, accuracy in mean_test_accuracy.items() if n != largest}


def _train_sizes(value) -> tuple:
    sizes = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not sizes or any(not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1
                        for n in sizes):
        raise utils.MetricError(f"downstream: num_train must be positive integers, got {value!r}")
    return tuple(int(n) for n in sizes)


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_test", "batch_size")
    train_sizes = _train_sizes(settings["num_train"])
    predictors = (settings["predictors"],) if isinstance(settings["predictors"], str) else tuple(settings["predictors"])
    unknown = [p for p in predictors if p not in PREDICTORS]
    if unknown or not predictors:
        raise utils.MetricError(f"downstream: unknown predictors {unknown}; choose from {sorted(PREDICTORS)}")
    if settings["gbt_backend"] not in utils.GBT_BACKENDS:
        raise utils.MetricError(f"downstream: unknown gbt_backend {settings['gbt_backend']!r}; "
                                f"choose one of {utils.GBT_BACKENDS}")
    if "logistic_regression_cv" in predictors and min(train_sizes) < 5:
        raise utils.MetricError("downstream: logistic_regression_cv uses 5-fold CV; num_train must be >= 5")

    scores: dict = {}
    mean_test = {predictor: {} for predictor in predictors}
    for train_size in train_sizes:
        codes_train, factors_train = utils.generate_batch_factor_code(
            dataset, representation_fn, train_size, random_state, settings["batch_size"], cache)
        codes_test, factors_test = utils.generate_batch_factor_code(
            dataset, representation_fn, settings["num_test"], random_state, settings["batch_size"], cache)
        for predictor in predictors:
            result = downstream_from_codes(codes_train, factors_train, codes_test, factors_test, predictor,
                                           settings["gbt_backend"], settings["n_jobs"])
            scores.update(result)
            mean_test[predictor][train_size] = result[f"{PREDICTORS[predictor]}/{train_size}:mean_test_accuracy"]
    if len(train_sizes) > 1:
        for predictor in predictors:
            scores.update(sample_efficiency(PREDICTORS[predictor], mean_test[predictor]))
    return scores
