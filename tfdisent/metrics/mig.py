"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in
Variational Autoencoders", Sec. 5, Eq. 7).

``MIG = 1/K sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)`` where ``z_(1), z_(2)`` are the code
dimensions with the largest and second-largest mutual information with factor ``v_k``. As in
disentanglement_lib, codes are discretised with a 20-bin equal-width histogram per dimension,
factors are used as they are, and MI/entropy are plug-in estimates in nats.

Reference: disentanglement_lib ``evaluation/metrics/mig.py`` (gin ``mig``), study defaults
num_train=10000, batch_size=16, 20 bins; key ``discrete_mig``.

Deviations from the reference:
* Factors with zero entropy in the sample (a single value) are left out of the average (the
  reference divides 0 by 0 and returns NaN). With a single code dimension the gap is
  ``I(z_1; v_k) / H(v_k)`` (the reference indexes past the end).
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "mig"
REFERENCE_NAME = "mig"
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "batch_size": 16, "num_bins": 20}
SCORE_KEYS = ("discrete_mig",)


def mutual_information_gap(mutual_information: np.ndarray, factor_entropies: np.ndarray) -> float:
    """MIG from the MI matrix [num_codes, num_factors] and the factor entropies [num_factors]."""
    mutual_information = np.asarray(mutual_information, dtype=np.float64)
    ranked = np.sort(mutual_information, axis=0)[::-1]
    second = ranked[1] if ranked.shape[0] > 1 else np.zeros(ranked.shape[1])
    informative = np.asarray(factor_entropies) > 0
    if not informative.any():
        return 0.0
    gaps = (ranked[0] - second)[informative] / np.asarray(factor_entropies)[informative]
    return float(np.mean(gaps))


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict:
    """MIG of codes [N, d] with respect to discrete factors [N, K]."""
    discretized = utils.histogram_discretize(codes, num_bins)
    mutual_information = utils.mutual_information_matrix(discretized, factors)
    return {"discrete_mig": mutual_information_gap(mutual_information,
                                                   utils.discrete_entropy(factors))}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size", "num_bins")
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"],
        cache)
    return mig_from_codes(codes, factors, settings["num_bins"])
