"""Metric agreement (Locatello et al. 2019, Sec. 5.2, Fig. 2 and 4: Spearman rank correlation between
the disentanglement metrics, and between them and the unsupervised scores, per dataset), with the
uncertainty the paper's 12,600 models did not need: a bootstrap interval over models (seeds resampled
within settings) and a permutation p-value for each pair."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from tfdisent.study.analysis.uncertainty import CONFIDENCE, RESAMPLES, strata_of, stratified_bootstrap


def spearman_matrix(frame: pd.DataFrame, columns: Sequence[str], min_models: int = 3) -> pd.DataFrame:
    """Spearman rank correlation between ``columns`` over the rows of ``frame`` (pairwise complete;
    NaN where fewer than ``min_models`` rows have both values or a column is constant)."""
    data = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    return data.corr(method="spearman", min_periods=min_models)


def metric_agreement(table: pd.DataFrame, columns: Sequence[str], by: str = "dataset",
                     representation: str = "mean") -> Dict[str, pd.DataFrame]:
    """``{dataset: Spearman matrix}`` over finished models of ``representation`` (one row per model)."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    return {str(key): spearman_matrix(group, columns) for key, group in rows.groupby(by, sort=True)}


def _rank_correlation(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis`` (Pearson of the average ranks), vectorised for permutation_test."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=axis) / np.sqrt((rx ** 2).sum(axis=axis) * (ry ** 2).sum(axis=axis))


def rank_correlation_test(x: Sequence[float], y: Sequence[float], n_resamples: int = 9999,
                          seed: int = 0) -> float:
    """Two-sided permutation p-value of Spearman's rho (``scipy.stats.permutation_test``, pairings: the
    null is that ``x`` and ``y`` are exchangeable, i.e. unrelated). NaN with < 3 pairs or a constant column."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    result = stats.permutation_test((x, y), _rank_correlation, permutation_type="pairings", vectorized=True,
                                    n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed))
    return float(result.pvalue)


def agreement_intervals(table: pd.DataFrame, columns: Sequence[str], by: str = "dataset",
                        representation: str = "mean", strata: Sequence[str] = ("config",),
                        n_resamples: int = RESAMPLES, n_permutations: int = 9999, confidence: float = CONFIDENCE,
                        seed: int = 0) -> pd.DataFrame:
    """One row per (dataset, metric pair): Spearman's ``rho``, its percentile bootstrap interval
    ``[low, high]`` over models (seeds resampled within each setting, :func:`stratified_bootstrap`), the
    permutation p-value of rho = 0 (:func:`rank_correlation_test`) and ``models`` (pairwise complete n)."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    out = []
    for key, group in rows.groupby(by, sort=True):
        group = group.reset_index(drop=True)
        data = group[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        pairs = [(i, j) for i in range(len(columns)) for j in range(i + 1, len(columns))]

        def statistic(resampled, data=data, pairs=pairs):
            index = np.concatenate(list(resampled.values()))
            sample = data[index]
            values = []
            for i, j in pairs:
                keep = np.isfinite(sample[:, i]) & np.isfinite(sample[:, j])
                values.append(_rank_correlation(sample[keep, i], sample[keep, j]) if keep.sum() >= 3 else np.nan)
            return np.asarray(values, dtype=float)

        estimate, low, high = stratified_bootstrap(strata_of(group, strata), statistic, n_resamples, confidence, seed)
        for (i, j), rho, lo, hi in zip(pairs, estimate, low, high):
            keep = np.isfinite(data[:, i]) & np.isfinite(data[:, j])
            out.append({by: key, "a": columns[i], "b": columns[j], "rho": rho, "low": lo, "high": hi,
                        "p": rank_correlation_test(data[:, i], data[:, j], n_permutations, seed),
                        "models": int(keep.sum())})
    return pd.DataFrame(out, columns=[by, "a", "b", "rho", "low", "high", "p", "models"])
