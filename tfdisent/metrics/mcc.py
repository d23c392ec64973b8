"""Mean correlation coefficient (MCC), the identifiability score of nonlinear ICA (Khemakhem,
Kingma, Monti & Hyvärinen, AISTATS 2020, "Variational Autoencoders and Nonlinear ICA: A Unifying
Framework", Sec. 6; Khemakhem, Monti, Kingma & Hyvärinen, NeurIPS 2020, ICE-BeeM, Sec. 5).

Reference: ilkhem/icebeem ``metrics/mcc.py`` (``mean_corr_coef``, ``..._out_of_sample``) and
``runners/real_data_runner.py`` (``compute_mcc``, strong and weak MCC):

1. ``C[j, k] = |corr(z_j, v_k)|`` between every code and every factor — Pearson, or Spearman
   (Pearson of the ranks, ties averaged, as ``scipy.stats.spearmanr``);
2. the one-to-one matching of codes to factors that maximises ``sum C`` (exact Hungarian
   algorithm, ``scipy.optimize.linear_sum_assignment``); ``min(L, K)`` pairs when ``L != K``;
3. **MCC = mean of the matched |corr|**, in [0, 1]; 1 for any permutation, sign flip and scaling
   of the factors (Spearman: any monotone map per code).

Variants, as the reference: **in-sample** (matching and score on the ``num_train`` draw) and
**out-of-sample** (matching learnt on the train draw, scored on the independent ``num_test``
draw); **weak MCC** (identifiability up to an affine map): ``sklearn.cross_decomposition.CCA``
with ``min(L, K)`` components fitted on the train draw (codes vs factors), then the Pearson MCC of
the canonical variates, in and out of sample.

Baseline: the same scores for a **random encoder** — independent standard-normal codes of the same
shape and sample sizes, drawn from the metric's random state after its samples — under
``<key>_random_baseline``. It is the chance level a reader compares against (in-sample it is
above 0 because the matching picks the largest of ``L x K`` chance correlations).

Deviations from the reference:
* The reference compares two models' codes (or codes and true sources); here the codes are compared
  with the ground-truth factor **indices** (ordinal), as its iVAE simulations do with sources.
* A constant code column has correlation 0 with everything (it carries no information) instead of
  the reference's ValueError (``np.corrcoef`` NaN rejected by ``linear_sum_assignment``); a factor
  constant in the sample is left out (it cannot be matched). Canonical correlation drops constant
  columns before fitting and counts them as correlation 0 among the ``min(L, K)`` pairs.
* The reference's weak MCC uses ``CCA(n_components=20)``; here ``min(L, K)`` (CCA allows no more).

Keys: ``mcc_pearson``, ``mcc_spearman``, ``mcc_weak`` and their ``_out_of_sample`` and
``_random_baseline`` variants (the main score is ``mcc_pearson``, the reference's default).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import scipy.optimize
import scipy.stats

from tfdisent.metrics import utils

NAME = "mcc"
REFERENCE_NAME = None  # not part of disentanglement_lib
NEEDS_FACTORS = True
# num_train / num_test / batch_size equal dci's, so a shared SampleCache reuses its draws.
DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "weak": True}
CORRELATIONS = ("pearson", "spearman")
SCORE_KEYS = ("mcc_pearson", "mcc_pearson_out_of_sample", "mcc_spearman", "mcc_spearman_out_of_sample",
              "mcc_weak", "mcc_weak_out_of_sample")


def _standardized(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Columns centred and scaled to unit (population) std; constant columns become 0."""
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(axis=0)
    std = centred.std(axis=0)
    varying = std > 1e-12 * np.maximum(np.abs(values).max(axis=0), 1.0)
    return np.where(varying, centred / np.where(varying, std, 1.0), 0.0), varying


def absolute_correlations(codes: np.ndarray, factors: np.ndarray, correlation: str = "pearson") -> np.ndarray:
    """``|corr(z_j, v_k)|`` [L, K]; 0 where either column is constant. Spearman = Pearson of the
    average ranks (``scipy.stats.rankdata``), which is ``scipy.stats.spearmanr``."""
    if correlation not in CORRELATIONS:
        raise utils.MetricError(f"correlation must be one of {CORRELATIONS}, got {correlation!r}")
    codes, factors = np.asarray(codes, np.float64), np.asarray(factors, np.float64)
    if correlation == "spearman":
        codes = scipy.stats.rankdata(codes, axis=0)
        factors = scipy.stats.rankdata(factors, axis=0)
    a, _ = _standardized(codes)
    b, _ = _standardized(factors)
    return np.clip(np.abs(a.T @ b) / len(a), 0.0, 1.0)


def match(correlations: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the assignment maximising the summed correlation (exact Hungarian)."""
    return scipy.optimize.linear_sum_assignment(correlations, maximize=True)


def mean_correlation_coefficient(codes: np.ndarray, factors: np.ndarray, correlation: str = "pearson",
                                 codes_test: Optional[np.ndarray] = None,
                                 factors_test: Optional[np.ndarray] = None) -> Tuple[float, Optional[float]]:
    """``(in-sample MCC, out-of-sample MCC or None)``: the matching is learnt on (codes, factors) and,
    when test arrays are given, scored on them too (icebeem ``mean_corr_coef_out_of_sample``)."""
    codes, factors = np.asarray(codes, np.float64), np.asarray(factors, np.float64)
    informative = factors.std(axis=0) > 0
    if not informative.any():
        return 0.0, (None if codes_test is None else 0.0)
    factors = factors[:, informative]
    rows, columns = match(absolute_correlations(codes, factors, correlation))
    in_sample = float(np.mean(absolute_correlations(codes, factors, correlation)[rows, columns]))
    if codes_test is None:
        return in_sample, None
    test = absolute_correlations(codes_test, np.asarray(factors_test, np.float64)[:, informative], correlation)
    return in_sample, float(np.mean(test[rows, columns]))


def weak_mcc(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
             factors_test: np.ndarray) -> Tuple[float, float]:
    """``(in, out)`` Pearson MCC of the canonical variates of a CCA fitted on the train draw (icebeem
    ``compute_mcc`` 'weak': identifiability up to an affine map)."""
    from sklearn.cross_decomposition import CCA

    codes, factors = np.asarray(codes, np.float64), np.asarray(factors, np.float64)
    keep_codes = codes.std(axis=0) > 0
    keep_factors = factors.std(axis=0) > 0
    components = int(min(keep_codes.sum(), keep_factors.sum()))
    if components == 0:
        return 0.0, 0.0
    cca = utils.fit_classifier(lambda: CCA(n_components=components, max_iter=1000),
                               codes[:, keep_codes], factors[:, keep_factors])
    train_u, train_v = cca.transform(codes[:, keep_codes], factors[:, keep_factors])
    test_u, test_v = cca.transform(np.asarray(codes_test, np.float64)[:, keep_codes],
                                   np.asarray(factors_test, np.float64)[:, keep_factors])
    inside, outside = mean_correlation_coefficient(train_u, train_v, "pearson", test_u, test_v)
    # Constant codes have no canonical variate: they count as correlation 0 among the min(L, K)
    # pairs the strong MCC matches, so a collapsed code cannot raise the weak score.
    share = components / min(codes.shape[1], int(keep_factors.sum()))
    return inside * share, outside * share


def mcc_from_codes(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, weak: bool = True) -> dict:
    """Strong (Pearson, Spearman) and weak MCC, in and out of sample (see the module docstring)."""
    scores = {}
    for correlation in CORRELATIONS:
        inside, outside = mean_correlation_coefficient(codes_train, factors_train, correlation,
                                                       codes_test, factors_test)
        scores[f"mcc_{correlation}"], scores[f"mcc_{correlation}_out_of_sample"] = inside, outside
    if weak:
        scores["mcc_weak"], scores["mcc_weak_out_of_sample"] = weak_mcc(codes_train, factors_train,
                                                                        codes_test, factors_test)
    return scores


def random_baseline(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                    factors_test: np.ndarray, random_state: np.random.RandomState, weak: bool = True) -> dict:
    """The scores of a random encoder: independent N(0, 1) codes shaped like ``codes_train`` and
    ``codes_test``, keys suffixed ``_random_baseline``."""
    noise_train = random_state.standard_normal(np.shape(codes_train))
    noise_test = random_state.standard_normal(np.shape(codes_test))
    scores = mcc_from_codes(noise_train, factors_train, noise_test, factors_test, weak)
    return {f"{key}_random_baseline": value for key, value in scores.items()}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size")
    codes_train, factors_train, codes_test, factors_test = utils.train_test_codes(
        dataset, representation_fn, random_state, settings, cache)
    scores = mcc_from_codes(codes_train, factors_train, codes_test, factors_test, settings["weak"])
    scores.update(random_baseline(codes_train, factors_train, codes_test, factors_test, random_state,
                                  settings["weak"]))
    return scores
