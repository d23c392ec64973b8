"""Classifiers of the metrics: the fallback for one-class targets, quiet single-threaded fitting,
and the gradient-boosted-tree backends of DCI and the downstream task."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from tfdisent.metrics.checks import MetricError

# Seed of the scikit-learn estimators that take one (GBT, LinearSVC). disentanglement_lib leaves
# them unseeded; a fixed seed makes our scores reproducible without touching the sampling stream.
ESTIMATOR_SEED = 0

GBT_BACKENDS = ("exact", "sklearn")



class ConstantClassifier:
    """Stands in for a classifier when the training labels hold a single class (sklearn refuses
    to fit those; the only sensible prediction is that class)."""

    def __init__(self, label):
        self.classes_ = np.array([label])

    def predict(self, x):
        return np.full(len(x), self.classes_[0])

    def predict_proba(self, x):
        return np.ones((len(x), 1))


def fit_classifier(make_model: Callable[[], object], x: np.ndarray, y: np.ndarray):
    """Fits ``make_model()`` on (x, y) with convergence/future warnings silenced; a
    :class:`ConstantClassifier` when ``y`` has a single class."""
    classes = np.unique(y)
    if len(classes) < 2:
        return ConstantClassifier(classes[0])
    model = make_model()
    # One thread per fit: parallelism comes from fitting factors in separate processes, and
    # BLAS/OpenMP threads on top of those only oversubscribe the cores.
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        for category in (FutureWarning, UserWarning, ConvergenceWarning):
            warnings.simplefilter("ignore", category=category)
        model.fit(x, y)
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def make_gradient_boosting(backend: str = "exact"):
    """The gradient-boosted-tree classifier of DCI and the downstream task.

    * ``"exact"`` (DCI's default): :class:`tfdisent.metrics.gradient_boosting.ExactGradientBoosting`,
      scikit-learn's ``GradientBoostingClassifier()`` re-implemented on presorted features
      (numba): the same trees, importances and predictions for the same seed, >10x faster
      (``benchmarks/dci_speed.py``).
    * ``"sklearn"``: ``GradientBoostingClassifier()`` itself with library defaults (100 trees,
      learning rate 0.1, depth 3), as disentanglement_lib.
    Both are seeded with ``ESTIMATOR_SEED``. (The former approximate ``"hist"`` backend, numpy
    boosting on 255-level binned features, was retired: ``"exact"`` is faster and exact.)
    """
    if backend == "exact":
        from tfdisent.metrics.gradient_boosting import ExactGradientBoosting
        return ExactGradientBoosting(random_state=ESTIMATOR_SEED)
    if backend == "sklearn":
        from sklearn.ensemble import GradientBoostingClassifier
        return GradientBoostingClassifier(random_state=ESTIMATOR_SEED)
    raise MetricError(f"unknown gradient boosting backend {backend!r}; choose one of {GBT_BACKENDS}")


def gradient_boosting_importances(model, num_features: int) -> np.ndarray:
    """Per-feature importances of a fitted booster (mean decrease of the residuals' squared error,
    normalised); zeros for the constant classifier of a one-class target."""
    if isinstance(model, ConstantClassifier):
        return np.zeros(num_features)
    return np.abs(np.asarray(model.feature_importances_, dtype=np.float64))
