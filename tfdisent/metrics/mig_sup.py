"""MIG-sup, the MIG "supplement" that rewards modularity (Li, Murkute, Gyawali & Wang, ICLR 2020,
"Progressive Learning and Disentanglement of Hierarchical Representations", Sec. 4, the metric
that complements MIG), in the form of the Ubisoft review (Zaidi et al. 2020, arXiv:2012.09276,
``src/metrics/mig_sup.py``).

MIG measures, per factor, the gap between its two most informative codes; MIG-sup measures, per
**code**, the gap between the two factors it is most informative about::

    MIG-sup = 1/|A| sum_{j in A} (top1_k n_kj - top2_k n_kj),   n_kj = I(v_k; z_j) / normaliser

with ``A`` the active codes. A code duplicated over a factor is not penalised (it is by MIG); a code
mixing two factors is.

Pre-processing (the review's §2.0, :func:`tfdisent.metrics.utils.discretize_codes_and_factors`):
codes in ``num_bins`` equal-width bins over their range; factors binned only when
``continuous_factors``; plug-in MI. Every output is a ratio of MIs, so it does not depend on the log
base (we compute in nats; the Ubisoft code uses bits).

Settings and the presets of the three references (:data:`PRESETS`, pass as overrides):

* ``ubisoft`` (default): 10 bins, ``normalizer="code_entropy"`` (pyitlib's
  ``information_mutual_normalised(norm_factor='Y')`` divides by H(z_j)), every code.
* ``provlae`` (the original ``metric_MIG.py``): ``normalizer="factor_entropy"`` (I / H(v_k), which
  is I / ln|v_k| for uniform factors), codes with variance > ``active_threshold=1e-2`` only. The
  original estimates MI by sampling q(z|x) over the full dataset (Chen et al.'s estimator); here it
  is the histogram plug-in estimate — a deviation.
* ``dlib``: 20 bins, ``normalizer="factor_entropy"``, every code (disentanglement_lib's MIG
  conventions).

Dead codes (policy, Sec. 7 of the reference notes): a constant code has H(z_j) = 0, so the Ubisoft
code returns NaN (0/0). Here codes whose variance is not above ``active_threshold`` (0: constant
codes) are left out of the mean and counted in ``num_active_codes``; with no active code the score
is 0. Normalised MIs are clamped at 0 (as proVLAE). Our datasets' factors are integer labels, so
``continuous_factors`` defaults to False (the review's default is True, for U[0, 1] factors).

Keys: ``mig_sup`` in [0, 1] (higher is better), ``num_active_codes``.
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics import utils

NAME = "mig_sup"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
# num_train / batch_size equal mig's, so a shared SampleCache reuses its draw.
DEFAULTS = {"num_train": 10000, "batch_size": 16, "num_bins": 10, "continuous_factors": False,
            "normalizer": "code_entropy", "active_threshold": 0.0}
NORMALIZERS = ("code_entropy", "factor_entropy")
CHOICES = {"normalizer": NORMALIZERS}
SCORE_KEYS = ("mig_sup", "num_active_codes")
PRESETS = {
    "ubisoft": {"num_bins": 10, "normalizer": "code_entropy", "active_threshold": 0.0},
    "provlae": {"num_bins": 10, "normalizer": "factor_entropy", "active_threshold": 1e-2},
    "dlib": {"num_bins": 20, "normalizer": "factor_entropy", "active_threshold": 0.0},
}


def normalized_mutual_information(mutual_information: np.ndarray, code_entropies: np.ndarray,
                                  factor_entropies: np.ndarray, normalizer: str) -> np.ndarray:
    """``I(v_k; z_j)`` [L, K] divided by ``H(z_j)`` or ``H(v_k)``, clamped at 0 (0 where the
    normaliser is 0: a constant code or factor carries no information)."""
    if normalizer not in NORMALIZERS:
        raise utils.MetricError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    mutual_information = np.asarray(mutual_information, dtype=np.float64)
    denominator = (np.asarray(code_entropies, np.float64)[:, None] if normalizer == "code_entropy"
                   else np.asarray(factor_entropies, np.float64)[None, :])
    denominator = np.broadcast_to(denominator, mutual_information.shape)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, np.maximum(mutual_information / safe, 0.0), 0.0)


def gaps_over_factors(normalized: np.ndarray) -> np.ndarray:
    """Per code (row of [L, K]): largest minus second-largest entry (the largest alone if K = 1)."""
    ranked = np.sort(normalized, axis=1)[:, ::-1]
    second = ranked[:, 1] if ranked.shape[1] > 1 else 0.0
    return ranked[:, 0] - second


def mig_sup_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 10,
                       continuous_factors: bool = False, normalizer: str = "code_entropy",
                       active_threshold: float = 0.0) -> dict:
    """MIG-sup of codes [N, L] against factors [N, K] (see the module docstring for the settings)."""
    codes = np.asarray(codes, dtype=np.float64)
    code_labels, factor_labels = utils.discretize_codes_and_factors(codes, factors, num_bins,
                                                                    continuous_factors)
    mutual_information = utils.mutual_information_matrix(code_labels, factor_labels)
    normalized = normalized_mutual_information(mutual_information, utils.discrete_entropy(code_labels),
                                               utils.discrete_entropy(factor_labels), normalizer)
    active = codes.var(axis=0) > active_threshold
    if not active.any():
        return {"mig_sup": 0.0, "num_active_codes": 0}
    return {"mig_sup": float(np.mean(gaps_over_factors(normalized)[active])),
            "num_active_codes": int(active.sum())}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "batch_size")
    utils.check_positive_int(settings, "num_bins", minimum=2)
    codes, factors = utils.generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    return mig_sup_from_codes(codes, factors, settings["num_bins"], settings["continuous_factors"],
                              settings["normalizer"], settings["active_threshold"])
