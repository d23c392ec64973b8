"""Uncertainty for the study analyses: a bootstrap over models that resamples seeds within settings, and
binomial intervals for selection rates. Thin wrappers around scipy's resampling (``scipy.stats.bootstrap``)
and exact tests (``scipy.stats.binomtest``), so every analysis draws its intervals the same way.

Why resample seeds *within* settings: the settings (method x hyperparameter) are the study's design, fixed
by its grid; only the seeds are random draws. A plain bootstrap over the models would also resample the
design (a setting could vanish from a resample). With each setting's seeds resampled independently
(``scipy.stats.bootstrap`` with one sample per setting and ``paired=False``) the design stays fixed.

Caveat, stated in every report that uses it: with 2 seeds per setting a resample of a setting is one of
{s0, s1}, {s0, s0}, {s1, s1}; the percentile interval is then crude (the bootstrap under-covers at tiny n).
"""

from __future__ import annotations

import warnings
from typing import Callable, Dict, Hashable, Sequence, Tuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 999


def stratified_bootstrap(strata: Dict[Hashable, np.ndarray],
                         statistic: Callable[[Dict[Hashable, np.ndarray]], np.ndarray], n_resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                         seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``statistic`` with each stratum's members resampled independently.

    ``strata`` maps a stratum (a setting) to the indices (rows) of its members (its models);
    ``statistic(resampled)`` gets the same mapping with resampled indices and returns a 1-D array of
    estimates. Strata with a single member are kept as they are (there is nothing to resample). Returns
    ``(estimate, low, high)`` arrays; an estimate whose bootstrap distribution is NaN or constant gets a
    NaN or degenerate interval rather than an error.
    """
    keys = list(strata)
    fixed = {k: np.asarray(strata[k]) for k in keys if len(strata[k]) < 2}
    varying = [k for k in keys if len(strata[k]) >= 2]
    estimate = np.atleast_1d(np.asarray(statistic({k: np.asarray(strata[k]) for k in keys}), dtype=float))
    if not varying:
        return estimate, np.full_like(estimate, np.nan), np.full_like(estimate, np.nan)

    def wrapped(*samples):
        mapping = dict(fixed)
        mapping.update({k: np.asarray(s, dtype=int) for k, s in zip(varying, samples)})
        return np.atleast_1d(np.asarray(statistic(mapping), dtype=float))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate (constant) bootstrap distributions are reported as such
        result = stats.bootstrap(tuple(np.asarray(strata[k], dtype=int) for k in varying), wrapped, paired=False,
                                 vectorized=False, n_resamples=n_resamples, confidence_level=confidence,
                                 method="percentile", rng=np.random.default_rng(seed))
        distribution = np.atleast_2d(result.bootstrap_distribution)
        # nan-aware percentiles: a resample where a correlation is undefined (a constant column) is skipped
        alpha = (1 - confidence) / 2
        low = np.nanquantile(distribution, alpha, axis=-1)
        high = np.nanquantile(distribution, 1 - alpha, axis=-1)
    return estimate, np.atleast_1d(low), np.atleast_1d(high)


def strata_of(frame, by: Sequence[str]) -> Dict[Hashable, np.ndarray]:
    """``{stratum key: positional row indices}`` of ``frame`` grouped by the ``by`` columns."""
    groups = frame.reset_index(drop=True).groupby(list(by), sort=True)
    return {key: np.asarray(index) for key, index in groups.indices.items()}


def binomial_interval(successes: float, trials: int, confidence: float = CONFIDENCE) -> Tuple[float, float]:
    """Clopper-Pearson interval of a proportion (``scipy.stats.binomtest(...).proportion_ci(method="exact")``);
    ``successes`` is rounded to an integer count. NaNs without trials."""
    if trials < 1:
        return float("nan"), float("nan")
    k = int(round(min(max(successes, 0), trials)))
    ci = stats.binomtest(k, trials).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof = 1) of the finite values; NaN with fewer than two."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    return float(np.std(data, ddof=1)) if len(data) > 1 else float("nan")
