"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings
With the F-Statistic Loss", Sec. 3).

* Modularity of code ``i`` (Eq. 2): with ``m_if`` the mutual information between code ``i``
  (20-bin histogram) and factor ``f``, ``theta_i = max_f m_if`` and template ``t_i`` keeping only
  that maximum, ``delta_i = sum_f (m_if - t_if)^2 / (theta_i^2 (K - 1))`` and the score is
  ``1 - delta_i`` (0 for a code with no information). Averaged over **all** codes, noise codes
  included.
* Explicitness: codes standardised with the training mean/std; per factor a logistic regression
  on all codes; macro ROC-AUC of its class probabilities against one-hot labels; averaged over
  factors (train and test).

Reference: disentanglement_lib ``evaluation/metrics/modularity_explicitness.py``, study defaults
num_train=10000, num_test=5000, batch_size=16, 20 bins; keys ``modularity_score``,
``explicitness_score_train``, ``explicitness_score_test``.

Deviations from the reference:
* A constant code dimension (std 0) is standardised to 0 instead of NaN, which crashed the
  reference's classifier.
* Macro AUC is taken over the classes that have both positives and negatives in the evaluated
  set and a column in the classifier (the reference crashes when a class is missing from the
  test sample); factors with a single training value are left out of the explicitness mean.
* ``LogisticRegression()`` uses today's defaults (lbfgs multinomial, max_iter=100; 2019:
  liblinear one-vs-rest); factors are fitted in parallel (``n_jobs``).
* With a single factor, modularity of an informative code is 1 (the reference divides by
  ``K - 1 = 0``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tfdisent.metrics import utils

NAME = "modularity_explicitness"
REFERENCE_NAME = "modularity_explicitness"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "num_bins": 20, "n_jobs": -1}
SCORE_KEYS = ("modularity_score", "explicitness_score_train", "explicitness_score_test")


def modularity(mutual_information: np.ndarray) -> float:
    """Mean modularity of the codes from the MI matrix [num_codes, num_factors] (Eq. 2)."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    max_squared = squared.max(axis=1)
    num_factors = squared.shape[1]
    scores = np.zeros(squared.shape[0])
    informative = max_squared > 0
    if num_factors == 1:
        scores[informative] = 1.0
    else:
        deviation = (squared.sum(axis=1) - max_squared)[informative] / (
            max_squared[informative] * (num_factors - 1.0))
        scores[informative] = 1.0 - deviation
    return float(np.mean(scores))


def standardize(train: np.ndarray, test: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Z-scores both sets with the training mean/std; constant codes map to 0."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def _macro_auc(model, codes: np.ndarray, labels: np.ndarray) -> Optional[float]:
    probabilities = model.predict_proba(codes)
    aucs = []
    for column, label in enumerate(model.classes_):
        positives = labels == label
        if positives.any() and not positives.all():
            aucs.append(roc_auc_score(positives, probabilities[:, column]))
    return float(np.mean(aucs)) if aucs else None


def explicitness_per_factor(codes_train: np.ndarray, labels_train: np.ndarray,
                            codes_test: np.ndarray, labels_test: np.ndarray
                            ) -> Tuple[Optional[float], Optional[float]]:
    """Train/test macro ROC-AUC of a logistic regression predicting one factor (None if the
    factor has a single value in the training sample)."""
    if len(np.unique(labels_train)) < 2:
        return None, None
    model = utils.fit_classifier(LogisticRegression, codes_train, labels_train)
    return _macro_auc(model, codes_train, labels_train), _macro_auc(model, codes_test, labels_test)


def explicitness(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                 factors_test: np.ndarray, n_jobs: int = -1) -> Tuple[float, float]:
    train_norm, test_norm = standardize(codes_train, codes_test)
    results = utils.parallel_map(
        explicitness_per_factor,
        [(train_norm, factors_train[:, j], test_norm, factors_test[:, j])
         for j in range(factors_train.shape[1])], n_jobs)

    def average(values):
        values = [value for value in values if value is not None]
        return float(np.mean(values)) if values else 0.0

    return average([train for train, _ in results]), average([test for _, test in results])


def modularity_explicitness_from_codes(codes_train, factors_train, codes_test, factors_test,
                                       num_bins: int = 20, n_jobs: int = -1) -> dict:
    mutual_information = utils.mutual_information_matrix(
        utils.histogram_discretize(codes_train, num_bins), factors_train)
    train_score, test_score = explicitness(codes_train, factors_train, codes_test, factors_test,
                                           n_jobs)
    return {"modularity_score": modularity(mutual_information),
            "explicitness_score_train": train_score,
            "explicitness_score_test": test_score}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size", "num_bins")
    codes_train, factors_train, codes_test, factors_test = utils.train_test_codes(
        dataset, representation_fn, random_state, settings, cache)
    return modularity_explicitness_from_codes(codes_train, factors_train, codes_test, factors_test,
                                              settings["num_bins"], settings["n_jobs"])
