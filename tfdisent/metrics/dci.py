"""Disentanglement, Completeness and Informativeness (Eastwood & Williams 2018, "A Framework for
the Quantitative Evaluation of Disentangled Representations", Sec. 2).

One gradient-boosted-tree classifier per factor predicts the factor from all code dimensions; its
feature importances fill column ``j`` of the importance matrix ``R`` [num_codes, num_factors].

* Disentanglement of code ``i``: ``D_i = 1 - H_K(P_i.)`` with ``P_ij = R_ij / sum_k R_ik`` (Eq. 2),
  weighted by ``rho_i = sum_j R_ij / sum R`` (Eq. 3).
* Completeness of factor ``j``: ``C_j = 1 - H_D(P~_.j)`` with ``P~_ij = R_ij / sum_k R_kj`` (Eq. 4),
  weighted by ``sum_i R_ij / sum R`` (as disentanglement_lib; the paper averages uniformly).
* Informativeness: the classifiers' mean **accuracy** on train and test samples (the reference's
  variables say "err"/"loss" but hold accuracies).

Reference: disentanglement_lib ``evaluation/metrics/dci.py`` (gin ``dci``), study defaults
num_train=10000, num_test=5000, batch_size=16; ``GradientBoostingClassifier()``; keys
``disentanglement``, ``completeness``, ``informativeness_train``, ``informativeness_test``.

Speed: the trees dominate (scikit-learn's estimator: 4-6 min for 10,000 points of a
dSprites-like code on one core). ``backend="exact"`` (default) is
:class:`tfdisent.metrics.gradient_boosting.ExactGradientBoosting`, scikit-learn's
``GradientBoostingClassifier()`` re-implemented on presorted features (numba): the same trees,
importances and predictions for the same seed (up to rounding-level near-ties, see that module),
>10x faster (``benchmarks/dci_speed.py``). ``backend="sklearn"`` runs scikit-learn's estimator
itself. Factors are fitted in parallel processes (``n_jobs``, default all cores; one thread each).

Deviations from the reference:
* The trees are seeded (``random_state=0``); the reference leaves them unseeded.
* A factor with a single value in the training sample gets a constant classifier (importance 0,
  accuracy on the data it sees) instead of a scikit-learn error.
* With one factor (one code), disentanglement (completeness) of each code (factor) is 1 instead of
  the reference's 0/0 entropy base.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import scipy.stats

from tfdisent.metrics import utils

NAME = "dci"
REFERENCE_NAME = "dci"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "backend": "exact",
            "n_jobs": -1}
CHOICES = {"backend": utils.GBT_BACKENDS}
SCORE_KEYS = ("disentanglement", "completeness", "informativeness_train", "informativeness_test")


def _fit_one_factor(codes_train, labels_train, codes_test, labels_test, backend):
    model = utils.fit_classifier(lambda: utils.make_gradient_boosting(backend), codes_train,
                                 labels_train)
    return (utils.gradient_boosting_importances(model, codes_train.shape[1]),
            utils.accuracy(model, codes_train, labels_train),
            utils.accuracy(model, codes_test, labels_test))


def importance_matrix_gbt(codes_train: np.ndarray, factors_train: np.ndarray,
                          codes_test: np.ndarray, factors_test: np.ndarray,
                          backend: str = "exact", n_jobs: int = -1
                          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix [num_codes, num_factors] and per-factor train/test accuracies."""
    if backend not in utils.GBT_BACKENDS:
        raise utils.MetricError(f"dci: unknown backend {backend!r}; choose one of {utils.GBT_BACKENDS}")
    num_factors = factors_train.shape[1]
    # Largest problems first so that parallel workers finish together.
    order = sorted(range(num_factors), key=lambda j: -len(np.unique(factors_train[:, j])))
    tasks = [(codes_train, factors_train[:, j], codes_test, factors_test[:, j], backend)
             for j in order]
    results = utils.parallel_map(_fit_one_factor, tasks, n_jobs)
    importance = np.zeros((codes_train.shape[1], num_factors))
    train_accuracy = np.zeros(num_factors)
    test_accuracy = np.zeros(num_factors)
    for j, (importances, train, test) in zip(order, results):
        importance[:, j], train_accuracy[j], test_accuracy[j] = importances, train, test
    return importance, train_accuracy, test_accuracy


def _one_minus_entropy(distributions: np.ndarray, base: int) -> np.ndarray:
    """``1 - H_base`` of each column of nonnegative weights (normalised), as the reference."""
    if base < 2:
        return np.ones(distributions.shape[1])
    return 1.0 - scipy.stats.entropy(distributions + 1e-11, base=base)


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    return _one_minus_entropy(np.asarray(importance).T, importance.shape[1])


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean of the per-code disentanglement (Eastwood & Williams Eq. 2-3)."""
    per_code = disentanglement_per_code(importance)
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    code_weights = importance.sum(axis=1) / importance.sum()
    return float(np.sum(per_code * code_weights))


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    return _one_minus_entropy(np.asarray(importance), importance.shape[0])


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean of the per-factor completeness (Eastwood & Williams Eq. 4)."""
    per_factor = completeness_per_factor(importance)
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    factor_weights = importance.sum(axis=0) / importance.sum()
    return float(np.sum(per_factor * factor_weights))


def dci_from_codes(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, backend: str = "exact", n_jobs: int = -1) -> dict:
    importance, train_accuracy, test_accuracy = importance_matrix_gbt(
        codes_train, factors_train, codes_test, factors_test, backend, n_jobs)
    return {"disentanglement": disentanglement(importance),
            "completeness": completeness(importance),
            "informativeness_train": float(np.mean(train_accuracy)),
            "informativeness_test": float(np.mean(test_accuracy))}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size")
    codes_train, factors_train, codes_test, factors_test = utils.train_test_codes(
        dataset, representation_fn, random_state, settings, cache)
    return dci_from_codes(codes_train, factors_train, codes_test, factors_test,
                          settings["backend"], settings["n_jobs"])
