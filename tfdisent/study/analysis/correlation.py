"""Scores against the strength of the training correlation (Träuble et al. 2021, Sec. 4, Fig. 2-3:
disentanglement scores of the six methods fall as the correlation between two factors grows).

Pure functions of a study table (:mod:`tfdisent.study.aggregate`) whose ``correlation_strength`` column
holds sigma (smaller is stronger; inf is the uncorrelated baseline): :func:`metric_vs_correlation` (the
curves) and :func:`correlation_trend` (the test of the claim, with its uncertainty)."""

from __future__ import annotations

import warnings
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from tfdisent.study.analysis.uncertainty import CONFIDENCE, RESAMPLES, sample_sd

STRENGTH_COLUMN = "correlation_strength"
COLUMNS = ["dataset", "method", "correlated_factors", "correlation_strength", "metric", "n", "mean", "sd", "median"]


def metric_vs_correlation(table: pd.DataFrame, metrics: Sequence[str], representation: str = "mean") -> pd.DataFrame:
    """Per dataset, method, correlated pair(s), sigma and metric: n models, mean, sample SD (ddof=1; NaN for
    n = 1) and median of the metric over seeds (finished models of ``representation`` only). Rows are sorted
    by sigma, strongest first, the baseline (inf) last."""
    if STRENGTH_COLUMN not in table or table.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = table[(table["status"] == "done") & (table["representation"] == representation)].copy()
    rows["correlated_factors"] = rows.get("correlated_factors", pd.Series(index=rows.index, dtype=object))
    rows["correlated_factors"] = rows["correlated_factors"].fillna("")
    out = []
    for metric in metrics:
        if metric not in rows:
            continue
        scored = rows[rows[metric].notna() & rows[STRENGTH_COLUMN].notna()]
        for (dataset, method, strength), group in scored.groupby(["dataset", "method", STRENGTH_COLUMN]):
            values = group[metric].to_numpy(dtype=float)
            pairs = sorted({p for p in group["correlated_factors"] if p})
            out.append({"dataset": dataset, "method": method, "correlated_factors": ";".join(pairs),
                        "correlation_strength": float(strength), "metric": metric, "n": int(len(values)),
                        "mean": float(values.mean()),
                        "sd": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                        "median": float(np.median(values))})
    frame = pd.DataFrame(out, columns=COLUMNS)
    return frame.sort_values(["dataset", "metric", "method", "correlation_strength"]).reset_index(drop=True)


TREND_COLUMNS = ["dataset", "metric", "direction", "n_methods", "n_models", "strengths", "page_L", "page_p",
                 "delta_mean", "delta_sd", "delta_t_low", "delta_t_high", "delta_boot_low", "delta_boot_high",
                 "wilcoxon_p", "methods_worse"]


def correlation_trend(table: pd.DataFrame, metrics: Sequence[str], directions: Optional[Mapping[str, int]] = None,
                      representation: str = "mean", confidence: float = CONFIDENCE, n_resamples: int = RESAMPLES,
                      seed: int = 0) -> pd.DataFrame:
    """Does a score get worse as the training correlation gets stronger? One row per dataset and metric.

    Design: the methods are blocks and the strengths the ordered treatments; a cell is the mean over seeds of
    a method at one sigma (methods that lack a strength are left out). ``directions[metric]`` is +1 when higher
    is better (the default) and -1 when lower is (e.g. FoS).

    * ``page_L``, ``page_p``: Page's trend test (``scipy.stats.page_trend_test``; exact p for small designs) of
      the one-sided prediction "the stronger the correlation, the worse the score", ranks within each method.
    * ``delta_*``: the per-method change from the uncorrelated baseline to the strongest correlation, in the
      metric's own units and sign (negative: the score fell); mean, sample SD (ddof = 1), t interval and
      percentile bootstrap interval over methods (``scipy.stats.bootstrap``), two-sided Wilcoxon signed-rank p
      (``scipy.stats.wilcoxon``); ``methods_worse`` counts methods whose score got worse.

    With fewer than two methods or two strengths the tests are NaN; intervals need three methods."""
    directions = dict(directions or {})
    curves = metric_vs_correlation(table, metrics, representation=representation)
    out = []
    for (dataset, metric), part in curves.groupby(["dataset", "metric"], sort=True):
        grid = part.pivot_table(index="method", columns="correlation_strength", values="mean")
        grid = grid.dropna(axis=0, how="any")
        n_models = int(part[part["method"].isin(grid.index)]["n"].sum())
        # columns from the strongest correlation (smallest sigma) to the baseline (inf): predicted worst to best
        grid = grid[sorted(grid.columns)]
        direction = int(directions.get(metric, 1))
        row = {"dataset": dataset, "metric": metric, "direction": direction, "n_methods": int(len(grid)),
               "n_models": n_models, "strengths": int(grid.shape[1])}
        row.update(_trend_statistics(grid.to_numpy(dtype=float), direction, confidence, n_resamples, seed))
        out.append(row)
    return pd.DataFrame(out, columns=TREND_COLUMNS)


def _trend_statistics(cells: np.ndarray, direction: int, confidence: float, n_resamples: int, seed: int) -> dict:
    """Page's L and the strongest-vs-baseline change for a [methods, strengths] array, strongest first."""
    empty = {key: float("nan") for key in TREND_COLUMNS[6:]}
    if cells.shape[0] < 2 or cells.shape[1] < 2:
        return empty
    result = dict(empty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ties within a method: scipy ranks them as averages
        page = stats.page_trend_test(direction * cells)
    result.update(page_L=float(page.statistic), page_p=float(page.pvalue))
    delta = cells[:, 0] - cells[:, -1]
    result.update(delta_mean=float(delta.mean()), delta_sd=sample_sd(delta),
                  methods_worse=int(np.sum(direction * delta < 0)))
    if len(delta) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a constant delta: scipy warns; its interval is then degenerate
            t_interval = stats.ttest_1samp(delta, 0.0).confidence_interval(confidence)
        result.update(delta_t_low=float(t_interval.low), delta_t_high=float(t_interval.high))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a constant delta gives a degenerate (NaN) interval
            boot = stats.bootstrap((delta,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                                   method="percentile", rng=np.random.default_rng(seed))
            result.update(delta_boot_low=float(boot.confidence_interval.low),
                          delta_boot_high=float(boot.confidence_interval.high))
            if np.any(delta != 0):
                result.update(wilcoxon_p=float(stats.wilcoxon(delta).pvalue))
    return result
