"""Separated Attribute Predictability (Kumar et al. 2018, "Variational Inference of Disentangled
Latent Concepts from Unlabeled Observations", Sec. 3).

Score matrix ``S[i, j]``: how well code dimension ``i`` alone predicts factor ``j``. For discrete
factors (the study setting) it is the test accuracy of a linear SVM (``LinearSVC(C=0.01,
class_weight="balanced")``) trained on that single dimension; for continuous factors it is the
squared correlation ``cov(z_i, v_j)^2 / (var z_i var v_j)``. SAP is the mean over factors of the
gap between the best and second-best dimension.

Reference: disentanglement_lib ``evaluation/metrics/sap_score.py`` (gin ``sap_score``), study
defaults num_train=10000, num_test=5000, batch_size=16, continuous_factors=False; key
``SAP_score``. Note that a 1-D linear classifier cannot separate many ordinal classes, so SAP
stays low for factors with many values even for a perfect code.

Deviations from the reference:
* ``LinearSVC`` uses today's defaults (``dual="auto"``) and a fixed ``random_state``; the
  num_codes x num_factors fits run in parallel processes (``n_jobs``), one code per task.
* A factor with one value in the training sample gets a constant classifier instead of an error;
  with a single code dimension the gap is the best score itself.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from tfdisent.metrics import utils

NAME = "sap"
REFERENCE_NAME = "sap_score"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "continuous_factors": False,
            "n_jobs": -1}
SCORE_KEYS = ("SAP_score",)


def _make_svc():
    return LinearSVC(C=0.01, class_weight="balanced", random_state=utils.ESTIMATOR_SEED)


def _code_predicts_factor(code_train, labels_train, code_test, labels_test) -> np.ndarray:
    """Test accuracies of one code dimension predicting each factor: [num_factors]."""
    scores = np.zeros(labels_train.shape[1])
    for j in range(labels_train.shape[1]):
        model = utils.fit_classifier(_make_svc, code_train[:, None], labels_train[:, j])
        scores[j] = utils.accuracy(model, code_test[:, None], labels_test[:, j])
    return scores


def _continuous_score_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            covariance = np.cov(codes[:, i], factors[:, j], ddof=1)
            if covariance[0, 0] > 1e-12 and covariance[1, 1] > 0:
                matrix[i, j] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
    return matrix


def sap_score_matrix(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                     factors_test: np.ndarray, continuous_factors: bool = False,
                     n_jobs: int = -1) -> np.ndarray:
    """Score matrix [num_codes, num_factors] (Kumar et al. Sec. 3)."""
    if continuous_factors:
        return _continuous_score_matrix(codes_train, factors_train)
    rows = utils.parallel_map(
        _code_predicts_factor,
        [(codes_train[:, i], factors_train, codes_test[:, i], factors_test)
         for i in range(codes_train.shape[1])], n_jobs)
    return np.stack(rows, axis=0)


def average_top_two_gap(score_matrix: np.ndarray) -> float:
    """Mean over factors of (best - second best) score across code dimensions."""
    ranked = np.sort(np.asarray(score_matrix, dtype=np.float64), axis=0)
    second = ranked[-2] if ranked.shape[0] > 1 else np.zeros(ranked.shape[1])
    return float(np.mean(ranked[-1] - second))


def sap_from_codes(codes_train, factors_train, codes_test, factors_test,
                   continuous_factors: bool = False, n_jobs: int = -1) -> dict:
    matrix = sap_score_matrix(codes_train, factors_train, codes_test, factors_test,
                              continuous_factors, n_jobs)
    return {"SAP_score": average_top_two_gap(matrix)}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size")
    codes_train, factors_train, codes_test, factors_test = utils.train_test_codes(
        dataset, representation_fn, random_state, settings, cache)
    return sap_from_codes(codes_train, factors_train, codes_test, factors_test,
                          bool(settings["continuous_factors"]), settings["n_jobs"])
