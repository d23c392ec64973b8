"""Unsupervised scores of the code distribution (Locatello et al. 2019, Sec. 5 / Appendix:
"Gaussian total correlation", "Gaussian Wasserstein correlation", "mutual information").

With ``C`` the sample covariance of the codes (ddof=1):

* Gaussian total correlation: ``KL(N(0, C) || N(0, diag C)) = 0.5 (sum_i log C_ii - log det C)``.
* Gaussian Wasserstein correlation: squared 2-Wasserstein distance between the same two
  Gaussians, ``2 tr C - 2 tr (diag(C)^(1/2) C diag(C)^(1/2))^(1/2)``; ``_norm`` divides it by
  ``tr C``.
* ``mutual_info_score``: mean pairwise mutual information between distinct code dimensions
  (20-bin histogram discretisation), over all ``d^2 - d`` ordered pairs.

Reference: disentanglement_lib ``evaluation/metrics/unsupervised_metrics.py`` (gin
``unsupervised_metrics``), study defaults num_train=10000, batch_size=16, 20 bins; keys
``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``.

Deviations from the reference:
* Constant code dimensions are left out of the total correlation (they are independent of
  everything and contribute 0); the reference returns NaN (``log 0 - log det 0``).
* The matrix square root is taken through the eigenvalues of the symmetric matrix
  ``D^(1/2) C D^(1/2)`` (similar to the reference's ``C * diag(C)[:, None]``, so the trace is
  the same) — always real, no complex round-off from ``scipy.linalg.sqrtm``.
* A single code dimension gives ``mutual_info_score = 0`` (reference: 0/0); zero total variance
  gives ``_norm = 0``.
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "unsupervised"
REFERENCE_NAME = "unsupervised_metrics"
NEEDS_FACTORS = False
DEFAULTS = {"num_train": 10000, "batch_size": 16, "num_bins": 20}
SCORE_KEYS = ("gaussian_total_correlation", "gaussian_wasserstein_correlation",
              "gaussian_wasserstein_correlation_norm", "mutual_info_score")


def gaussian_total_correlation(covariance: np.ndarray) -> float:
    """Total correlation of N(0, C); dimensions with zero variance are ignored."""
    covariance = np.asarray(covariance, dtype=np.float64)
    active = np.diag(covariance) > 0
    if active.sum() < 2:
        return 0.0
    covariance = covariance[np.ix_(active, active)]
    sign, log_determinant = np.linalg.slogdet(covariance)
    if sign <= 0:  # singular beyond constant codes (e.g. duplicated dimensions): infinite TC
        return float("inf")
    return float(0.5 * (np.sum(np.log(np.diag(covariance))) - log_determinant))


def gaussian_wasserstein_correlation(covariance: np.ndarray) -> float:
    """Squared W2 distance between N(0, C) and N(0, diag C)."""
    covariance = np.asarray(covariance, dtype=np.float64)
    root_variances = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    symmetric = root_variances[:, None] * covariance * root_variances[None, :]
    eigenvalues = np.clip(np.linalg.eigvalsh(symmetric), 0.0, None)
    return float(2.0 * np.trace(covariance) - 2.0 * np.sum(np.sqrt(eigenvalues)))


def mean_pairwise_mutual_information(codes: np.ndarray, num_bins: int = 20) -> float:
    num_codes = codes.shape[1]
    if num_codes < 2:
        return 0.0
    discretized = utils.histogram_discretize(codes, num_bins)
    matrix = utils.mutual_information_matrix(discretized, discretized)
    np.fill_diagonal(matrix, 0.0)
    return float(matrix.sum() / (num_codes ** 2 - num_codes))


def unsupervised_from_codes(codes: np.ndarray, num_bins: int = 20) -> dict:
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    wasserstein = gaussian_wasserstein_correlation(covariance)
    total_variance = float(np.trace(covariance))
    return {"gaussian_total_correlation": gaussian_total_correlation(covariance),
            "gaussian_wasserstein_correlation": wasserstein,
            "gaussian_wasserstein_correlation_norm": wasserstein / total_variance if total_variance > 0 else 0.0,
            "mutual_info_score": mean_pairwise_mutual_information(codes, num_bins)}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size", "num_bins")
    if settings["num_train"] < 2:
        raise utils.MetricError("unsupervised: num_train must be >= 2 to estimate a covariance")
    codes, _ = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"],
        cache)
    return unsupervised_from_codes(codes, settings["num_bins"])
