"""Unsupervised Disentanglement Ranking (Duan et al. 2020, "Unsupervised Model Selection for
Variational Disentangled Representation Learning", ICLR, Sec. 3; arXiv 1905.12614).

Input: several models trained with the same hyperparameters and different seeds; each
representation function returns the posterior ``(mean, logvar)`` of a batch. Idea: a
disentangled solution is unique up to permutation and sign, so two disentangled models relate
dimension-to-dimension, while entangled models relate through arbitrary mixtures.

1. The same ``num_data_points`` observations (drawn ``batch_size`` at a time) are encoded by every
   model; ``KL_m[d]`` = mean over the points of ``KL(q(z_d|x) || N(0, 1))``.
2. Each model's means are standardised; dimensions with ``KL <= kl_filter_threshold`` are zeroed
   and are inactive.
3. For every ordered pair (i, j), a similarity matrix ``R`` [d_i, d_j]: ``|coef|`` of a multi-output
   ``Lasso(alpha=0.1)`` regressing model j's code on model i's ("lasso"), or absolute Spearman
   correlations ("spearman"); restricted to the active dimensions (``filter_low_kl``).
4. ``UDR_ij = 0.5 (mean_b max_a R_ab^2 / sum_a R_ab + mean_a max_b R_ab^2 / sum_b R_ab)`` (the
   code form of Eq. 3 in disentanglement_lib; equals the paper's when ``d_i = d_j``).
5. Model score: the median of ``UDR_ji`` over the other models ``j`` (model i as regression target).

Reference: disentanglement_lib ``evaluation/udr/metrics/udr.py`` (gin ``udr_sklearn``, test
configs batch_size=10, num_data_points=1000, correlation_matrix lasso or spearman,
filter_low_kl=True, include_raw_correlations=True, kl_filter_threshold=0.01); keys
``model_scores``, ``pairwise_disentanglement_scores``, ``raw_correlations``.

Output keys: ``correlation_matrices`` lists the variants to compute (default both). The first
variant fills the reference keys; each further variant ``v`` adds ``model_scores_{v}``,
``pairwise_disentanglement_scores_{v}`` and ``raw_correlations_{v}``. Also ``num_active_dims``
(per model) and ``kl_per_dim``.

Deviations from the reference:
* The zeroing of low-KL dimensions uses ``kl_filter_threshold`` (the reference hard-codes 0.01,
  the same value by default).
* A pair where either model has no active dimension scores 0 (the reference crashes on an empty
  maximum; this follows the robust_disentanglement patch). Constant columns give Spearman 0, not
  NaN.
* ``num_data_points`` need not be a multiple of ``batch_size`` (the last draw is smaller); models
  may have different latent sizes (``raw_correlations`` is then ragged).
* All points are encoded by each model in one large call; the draws keep the reference's order.
"""

from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

import numpy as np
import scipy.stats
from sklearn.linear_model import Lasso

from tfdisent.metrics import utils
from tfdisent.metrics.utils import gaussian_kl_per_dimension

NAME = "udr"
REFERENCE_NAME = "udr_sklearn"
NEEDS_FACTORS = False
MULTI_MODEL = True
CORRELATIONS = ("lasso", "spearman")
DEFAULTS = {"batch_size": 10, "num_data_points": 1000, "correlation_matrices": CORRELATIONS,
            "filter_low_kl": True, "include_raw_correlations": True, "kl_filter_threshold": 0.01,
            "lasso_alpha": 0.1}
SCORE_KEYS = ("model_scores", "pairwise_disentanglement_scores")

GaussianEncoderFn = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def relative_strength_disentanglement(similarity: np.ndarray) -> float:
    """``0.5 (mean_cols max^2/sum + mean_rows max^2/sum)``; 0/0 terms count as 0; empty -> 0."""
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = np.nan_to_num(np.max(similarity, axis=0) ** 2 / np.sum(similarity, axis=0))
        rows = np.nan_to_num(np.max(similarity, axis=1) ** 2 / np.sum(similarity, axis=1))
    return float((np.mean(columns) + np.mean(rows)) / 2.0)


def lasso_correlation_matrix(source: np.ndarray, target: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """``|coef|`` [d_source, d_target] of a multi-output Lasso predicting target from source."""
    model = Lasso(alpha=alpha)
    model.fit(source, target)
    coefficients = np.atleast_2d(model.coef_)  # [d_target, d_source]
    return np.abs(coefficients).T


def spearman_correlation_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Absolute Spearman correlations [d_first, d_second]; constant columns give 0."""
    def ranks(values):
        ranked = scipy.stats.rankdata(values, axis=0)
        ranked = ranked - ranked.mean(axis=0)
        norms = np.sqrt(np.sum(ranked ** 2, axis=0))
        return ranked, norms

    first_ranks, first_norms = ranks(first)
    second_ranks, second_norms = ranks(second)
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = (first_ranks.T @ second_ranks) / np.outer(first_norms, second_norms)
    return np.abs(np.nan_to_num(correlation, nan=0.0, posinf=0.0, neginf=0.0))


def _standardize_and_mask(mean: np.ndarray, kl: np.ndarray, threshold: float):
    centred = mean - mean.mean(axis=0)
    std = centred.std(axis=0)
    standardized = centred / np.where(std > 0, std, 1.0)  # as StandardScaler: constant -> 0
    active = kl > threshold
    return standardized * active, active


def udr_from_representations(means: Sequence[np.ndarray], kls: Sequence[np.ndarray],
                             correlation_matrix: str = "lasso", filter_low_kl: bool = True,
                             kl_filter_threshold: float = 0.01, lasso_alpha: float = 0.1) -> dict:
    """UDR of M models from their means [N, d_m] on shared data and KL per dimension [d_m].

    Returns ``model_scores`` [M], ``pairwise_disentanglement_scores`` [M, M, 1] (entry [i, j]:
    model i regressed onto model j) and ``raw_correlations`` (M x M matrices [d_i, d_j]).
    """
    if correlation_matrix not in CORRELATIONS:
        raise utils.MetricError(f"udr: unknown correlation matrix {correlation_matrix!r}; "
                                f"choose from {CORRELATIONS}")
    num_models = len(means)
    prepared = [_standardize_and_mask(np.asarray(mean, dtype=np.float64), np.asarray(kl), kl_filter_threshold)
                for mean, kl in zip(means, kls)]
    pairwise = np.zeros((num_models, num_models, 1))
    raw: List[List[np.ndarray]] = [[np.zeros((len(kls[i]), len(kls[j]))) for j in range(num_models)]
                                   for i in range(num_models)]
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            codes_i, active_i = prepared[i]
            codes_j, active_j = prepared[j]
            if correlation_matrix == "lasso":
                similarity = lasso_correlation_matrix(codes_i, codes_j, lasso_alpha)
            else:
                similarity = spearman_correlation_matrix(codes_i, codes_j)
            raw[i][j] = similarity
            if filter_low_kl:
                similarity = similarity[active_i][:, active_j]
            pairwise[i, j, 0] = relative_strength_disentanglement(similarity)
    model_scores = [float(np.median(np.delete(pairwise[:, i, 0], i))) for i in range(num_models)]
    return {"model_scores": model_scores, "pairwise_disentanglement_scores": pairwise,
            "raw_correlations": raw}


def _check_encoder_output(output, points: int, model: int):
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise utils.MetricError(f"udr: representation function {model} must return (mean, logvar)")
    mean = utils.check_codes(output[0], points, f"udr model {model} mean")
    logvar = utils.check_codes(output[1], points, f"udr model {model} logvar")
    if mean.shape != logvar.shape:
        raise utils.MetricError(f"udr: model {model} mean {mean.shape} and logvar {logvar.shape} differ")
    return mean, logvar


def sample_gaussian_codes(dataset, representation_fns: Sequence[GaussianEncoderFn],
                          num_data_points: int, batch_size: int,
                          random_state: np.random.RandomState):
    """Means [N, d_m] and per-dimension KL [d_m] of every model on the same observations."""
    batches = []
    drawn = 0
    while drawn < num_data_points:
        count = min(batch_size, num_data_points - drawn)
        batches.append(np.asarray(dataset.sample_observations(count, random_state)))
        drawn += count
    observations = np.concatenate(batches, axis=0)
    del batches
    step = utils.encode_chunk_points(observations.shape[1:])
    means, kls = [], []
    for model, function in enumerate(representation_fns):
        mean_parts, logvar_parts = [], []
        for start in range(0, len(observations), step):
            chunk = observations[start:start + step]
            mean, logvar = _check_encoder_output(function(chunk), len(chunk), model)
            mean_parts.append(mean)
            logvar_parts.append(logvar)
        mean = np.concatenate(mean_parts)
        means.append(mean)
        kls.append(gaussian_kl_per_dimension(mean, np.concatenate(logvar_parts)))
    return means, kls


def compute(dataset, representation_fns, random_state, settings: dict, cache=None) -> dict:
    if callable(representation_fns) or len(representation_fns) < 2:
        raise utils.MetricError("udr: needs a list of at least 2 representation functions "
                                "(models with the same hyperparameters, different seeds)")
    if not all(callable(function) for function in representation_fns):
        raise utils.MetricError("udr: every entry of the representation list must be callable")
    utils.check_positive_int(settings, "batch_size", "num_data_points")
    variants = settings["correlation_matrices"]
    variants = (variants,) if isinstance(variants, str) else tuple(variants)
    if not variants or any(variant not in CORRELATIONS for variant in variants):
        raise utils.MetricError(f"udr: correlation_matrices must be drawn from {CORRELATIONS}, got {variants}")
    means, kls = sample_gaussian_codes(dataset, representation_fns, settings["num_data_points"],
                                       settings["batch_size"], random_state)
    scores: dict = {}
    for index, variant in enumerate(variants):
        result = udr_from_representations(means, kls, variant, bool(settings["filter_low_kl"]),
                                          float(settings["kl_filter_threshold"]),
                                          float(settings["lasso_alpha"]))
        suffix = "" if index == 0 else f"_{variant}"
        scores["model_scores" + suffix] = result["model_scores"]
        scores["pairwise_disentanglement_scores" + suffix] = result["pairwise_disentanglement_scores"].tolist()
        if settings["include_raw_correlations"]:
            scores["raw_correlations" + suffix] = [[matrix.tolist() for matrix in row]
                                                   for row in result["raw_correlations"]]
    scores["num_active_dims"] = [int(np.sum(kl > float(settings["kl_filter_threshold"]))) for kl in kls]
    scores["kl_per_dim"] = [kl.tolist() for kl in kls]
    return scores
