"""Interventional Robustness Score (Suter et al. 2019, "Robustly Disentangled Causal Mechanisms:
Validating Deep Representations for Interventional Robustness", Sec. 4, Eq. 9-11; arXiv
1811.00007).

For code dimension ``l`` and factor ``i``: within each group of samples sharing a value ``k`` of
(discretised) factor ``i``, the ``diff_quantile`` quantile of ``|z_l - E[z_l | g_i = k]|``;
averaged over the values of ``i`` and divided by the code's maximal deviation
``max |z_l - E z_l|``. ``IRS_matrix = 1 - that``; each code is scored by its best factor, and
IRS is the average of those scores weighted by the codes' maximal deviations. Constant codes are
dropped first.

Reference: disentanglement_lib ``evaluation/metrics/irs.py`` (gin ``irs``; only in
``config/sample/irs/irs.gin``), num_train=10000, batch_size=16, diff_quantile=0.99, factors
discretised by the 20-bin histogram discretizer; keys ``IRS``, ``num_active_dims``.

Deviations from the reference:
* ``num_active_dims`` is the number of non-constant code dimensions; the reference returns the
  sum of the active codes' *values* (``np.sum(active_mus)``).
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "irs"
REFERENCE_NAME = "irs"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "batch_size": 16, "diff_quantile": 0.99, "num_bins": 20}
SCORE_KEYS = ("IRS", "num_active_dims")


def interventional_robustness(factors: np.ndarray, codes: np.ndarray,
                              diff_quantile: float = 0.99) -> dict:
    """IRS of codes [N, d] (all non-constant) with respect to discrete factors [N, K].

    Returns ``avg_score`` (the IRS), per-code ``disentanglement_scores``, ``irs_matrix``
    [d, K], ``parents`` (best factor per code) and ``max_deviations`` [d].
    """
    codes = np.asarray(codes, dtype=np.float64)
    max_deviations = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    cumulative = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(factors.shape[1]):
        values = np.unique(factors[:, i])
        for value in values:
            group = codes[factors[:, i] == value]
            deviations = np.abs(group - group.mean(axis=0))
            cumulative[:, i] += np.quantile(deviations, q=diff_quantile, axis=0)
        cumulative[:, i] /= len(values)
    safe_max = np.where(max_deviations > 0, max_deviations, 1.0)
    irs_matrix = 1.0 - cumulative / safe_max[:, None]
    scores = irs_matrix.max(axis=1)
    if max_deviations.sum() > 0:
        average = float(np.average(scores, weights=max_deviations))
    else:
        average = float(np.mean(scores))
    return {"avg_score": average, "disentanglement_scores": scores, "irs_matrix": irs_matrix,
            "parents": irs_matrix.argmax(axis=1), "max_deviations": max_deviations}


def irs_from_codes(codes: np.ndarray, factors: np.ndarray, diff_quantile: float = 0.99,
                   num_bins: int = 20) -> dict:
    discrete_factors = utils.histogram_discretize(factors, num_bins)
    active = np.var(codes, axis=0) > 0.0
    if not active.any():
        return {"IRS": 0.0, "num_active_dims": 0}
    result = interventional_robustness(discrete_factors, codes[:, active], diff_quantile)
    return {"IRS": result["avg_score"], "num_active_dims": int(active.sum())}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size", "num_bins")
    if not 0.0 <= float(settings["diff_quantile"]) <= 1.0:
        raise utils.MetricError(f"irs: diff_quantile must be in [0, 1], got {settings['diff_quantile']}")
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"],
        cache)
    return irs_from_codes(codes, factors, float(settings["diff_quantile"]), settings["num_bins"])
