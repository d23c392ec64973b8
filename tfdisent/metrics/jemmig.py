"""JEMMIG, the Joint Entropy Minus Mutual Information Gap (Do & Tran, ICLR 2020, "Theory and
Evaluation Metrics for Learning Disentangled Representations", Sec. 4), in the form of the Ubisoft
review (Zaidi et al. 2020, ``src/metrics/jemmig.py``).

For factor ``v_k`` with ``z*`` its most informative code and ``z°`` the second::

    JEMMIG_k = H(v_k, z*) - I(v_k; z*) + I(v_k; z°)          (0 for a perfect, unique code)
    score    = 1 - mean_k JEMMIG_k / (H(v_k) + log(num_bins))

``H(v, z*) - I(v; z*)`` penalises a code that holds more than the factor (or too little of it) and
``I(v; z°)`` a factor spread over several codes, so duplicates are penalised (a copied factor's term
is 0.5). The paper reports the un-inverted value (lower is better); the review returns ``1 -``
normalised, in [0, 1], higher is better, and so do we. The joint entropy is ``H(v) + H(z) - I(v; z)``
(plug-in, exact for the discrete estimates). Ratios do not depend on the log base (nats here, bits in
the reference, whose ``log2(bins)`` is our ``ln(bins)``).

Pre-processing: the review's (:func:`tfdisent.metrics.utils.discretize_codes_and_factors`). Factors
with zero entropy in the sample are left out of the mean (their normaliser is only ``log(bins)``
and nothing can be learned about them). Deviation (dead codes): constant codes are not candidates
for ``z*`` / ``z°`` (the reference would pick one when no code informs about a factor, scoring
``ln(bins) / (H(v) + ln(bins))``, ~0.6, for a fully collapsed code); with no non-constant code the
score is 0. Our factors are integer labels, so ``continuous_factors``
defaults to False (the review's default is True). Keys: ``jemmig`` and ``jemmig_per_factor``.
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "jemmig"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
DEFAULTS = {"num_train": 10000, "batch_size": 16, "num_bins": 10, "continuous_factors": False}
SCORE_KEYS = ("jemmig", "jemmig_per_factor")


def jemmig_from_mutual_information(mutual_information: np.ndarray, code_entropies: np.ndarray,
                                   factor_entropies: np.ndarray, num_bins: int) -> dict:
    """JEMMIG from ``M`` [L, K] (MI of code j and factor k), code and factor entropies (same units),
    and the number of code bins."""
    mutual_information = np.asarray(mutual_information, dtype=np.float64)
    code_entropies = np.asarray(code_entropies, dtype=np.float64)
    factor_entropies = np.asarray(factor_entropies, dtype=np.float64)
    informative = factor_entropies > 0
    # Dead-code policy: constant codes (entropy 0) cannot be z* or z°. The reference lets them, so a
    # fully collapsed code would score ln(bins) / (H(v) + ln(bins)) (~0.6) for holding "no excess".
    mutual_information = mutual_information[code_entropies > 0]
    code_entropies = code_entropies[code_entropies > 0]
    if len(code_entropies) == 0:
        return {"jemmig": 0.0, "jemmig_per_factor": [0.0 if i else None for i in informative]}
    order = np.argsort(-mutual_information, axis=0, kind="stable")
    best, columns = order[0], np.arange(mutual_information.shape[1])
    top = mutual_information[best, columns]
    second = mutual_information[order[1], columns] if len(order) > 1 else np.zeros_like(top)
    joint = factor_entropies + code_entropies[best] - top
    per_factor = 1.0 - (joint - top + second) / (factor_entropies + np.log(num_bins))
    per_factor = np.where(informative, per_factor, np.nan)
    score = float(np.mean(per_factor[informative])) if informative.any() else 0.0
    return {"jemmig": score, "jemmig_per_factor": [None if np.isnan(v) else float(v) for v in per_factor]}


def jemmig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 10,
                      continuous_factors: bool = False) -> dict:
    """JEMMIG of codes [N, L] against factors [N, K]."""
    code_labels, factor_labels = utils.discretize_codes_and_factors(codes, factors, num_bins,
                                                                    continuous_factors)
    mutual_information = utils.mutual_information_matrix(code_labels, factor_labels)
    return jemmig_from_mutual_information(mutual_information, utils.discrete_entropy(code_labels),
                                          utils.discrete_entropy(factor_labels), num_bins)


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size")
    utils.check_positive_int(settings, "num_bins", minimum=2)
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    return jemmig_from_codes(codes, factors, settings["num_bins"], settings["continuous_factors"])
