"""DCIMIG (Sepliarskaia, Kiseleva & de Rijke 2019, "How to Not Measure Disentanglement",
arXiv:1910.05587), as in the Ubisoft review (Zaidi et al. 2020, ``src/metrics/dcimig.py``).

With the unnormalised MI matrix ``M[j, k] = I(z_j; v_k)``:

1. each code ``j`` has the gap ``top1_k M[j, k] - top2_k M[j, k]``, credited to the factor
   ``argmax_k M[j, k]`` it is most informative about;
2. factor ``k`` scores ``D_k`` = the largest gap credited to it (0 if none);
3. ``DCIMIG = sum_k D_k / sum_k H(v_k)``, in [0, 1]; higher is better.

A factor copied into several codes is not penalised (each copy credits the same factor; the largest
counts). A constant code has zero MI everywhere, so it credits a gap of 0 and changes nothing (no
dead-code special case is needed, as in the reference).

Pre-processing: the review's (:func:`tfdisent.metrics.utils.discretize_codes_and_factors`; 10
equal-width bins per code; factors binned only if ``continuous_factors``). The score is a ratio of
MIs, so it is the same in nats (ours) as in bits (the reference). Our factors are integer labels, so
``continuous_factors`` defaults to False (the review's default is True, for U[0, 1] factors).
Key: ``dcimig``.
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "dcimig"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "batch_size": 16, "num_bins": 10, "continuous_factors": False}
SCORE_KEYS = ("dcimig",)


def dcimig_from_mutual_information(mutual_information: np.ndarray, factor_entropies: np.ndarray) -> float:
    """DCIMIG from ``M`` [L, K] (MI of code j and factor k) and the factor entropies [K]."""
    mutual_information = np.asarray(mutual_information, dtype=np.float64)
    total_entropy = float(np.sum(factor_entropies))
    if total_entropy <= 0:
        return 0.0
    num_codes, num_factors = mutual_information.shape
    ranked = np.sort(mutual_information, axis=1)[:, ::-1]
    gaps = ranked[:, 0] - (ranked[:, 1] if num_factors > 1 else 0.0)
    credited = np.argmax(mutual_information, axis=1)
    best_gap = np.zeros(num_factors)
    for code in range(num_codes):
        best_gap[credited[code]] = max(best_gap[credited[code]], gaps[code])
    return float(best_gap.sum() / total_entropy)


def dcimig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 10,
                      continuous_factors: bool = False) -> dict:
    """DCIMIG of codes [N, L] against factors [N, K]."""
    code_labels, factor_labels = utils.discretize_codes_and_factors(codes, factors, num_bins,
                                                                    continuous_factors)
    mutual_information = utils.mutual_information_matrix(code_labels, factor_labels)
    return {"dcimig": dcimig_from_mutual_information(mutual_information,
                                                     utils.discrete_entropy(factor_labels))}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size")
    utils.check_positive_int(settings, "num_bins", minimum=2)
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    return dcimig_from_codes(codes, factors, settings["num_bins"], settings["continuous_factors"])
