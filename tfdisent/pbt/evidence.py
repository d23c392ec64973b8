"""Statistics for PBT's claims against its baselines (Estermann et al. 2020, Sec. 5: PBT-S-VAE reaches a
higher mean score with a lower variance than few-label model selection). Pure functions of per-seed
scores: numbers in, numbers out; used by ``docs/pbt/reproduce.py`` and tested on known answers.

Arms are compared seed by seed: seed s of every arm shares its data order, initial draws and labelled
images, so the evidence for "higher mean" is the *paired* per-seed difference:

* :func:`paired_comparison`: per-seed differences, their mean and sample SD (ddof = 1), the paired t
  interval of the mean difference (``scipy.stats.ttest_1samp``; the interval the documents decide by, as the
  percentile bootstrap is too narrow at a handful of seeds), a percentile bootstrap interval of the mean
  difference (``scipy.stats.bootstrap``) and a two-sided sign-flip
  permutation p-value (``scipy.stats.permutation_test`` with ``permutation_type="samples"``: under the
  null the two arms' labels are exchangeable within a seed). With n seeds there are only 2^n sign flips:
  the smallest attainable p is 2 / 2^n (0.25 at 3 seeds, 0.0625 at 5), reported as ``min_p``.
* :func:`variance_comparison`: the Brown-Forsythe test of equal spread (``scipy.stats.levene`` with
  ``center="median"``), with both sample SDs.
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, Mapping, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof = 1); NaN with fewer than two values."""
    data = np.asarray(values, dtype=float)
    return float(np.std(data, ddof=1)) if len(data) > 1 else float("nan")


def summarize(values: Sequence[float]) -> Dict[str, float]:
    """n, mean and sample SD (ddof = 1) of the finite values."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    return {"n": int(len(data)), "mean": float(data.mean()) if len(data) else float("nan"), "sd": sample_sd(data)}


def paired_comparison(a: Mapping[str, float], b: Mapping[str, float], n_resamples: int = 9999,
                      confidence: float = CONFIDENCE, seed: int = 0) -> Dict[str, object]:
    """Evidence that arm ``a`` scores higher than arm ``b`` (``{seed: score}`` each; only seeds both
    have count). Returns seeds, differences (a - b), n, mean_difference, sd_difference (ddof = 1), wins
    (seeds where a > b), t_low/t_high and t_p (paired t interval and two-sided t-test p; NaN below 2 seeds
    or when every difference is equal), low/high (percentile bootstrap interval of the mean difference; NaN
    below 2 seeds, the common value when every difference is equal), p (two-sided sign-flip permutation p)
    and min_p."""
    seeds = sorted((set(a) & set(b)), key=lambda s: (len(str(s)), str(s)))
    seeds = [s for s in seeds if a[s] is not None and b[s] is not None
             and math.isfinite(float(a[s])) and math.isfinite(float(b[s]))]
    x = np.asarray([float(a[s]) for s in seeds])
    y = np.asarray([float(b[s]) for s in seeds])
    d = x - y
    out: Dict[str, object] = {"seeds": [str(s) for s in seeds], "differences": d.tolist(), "n": int(len(d)),
                              "mean_difference": float(d.mean()) if len(d) else float("nan"),
                              "sd_difference": sample_sd(d), "wins": int((d > 0).sum()),
                              "t_low": float("nan"), "t_high": float("nan"), "t_p": float("nan"),
                              "low": float("nan"), "high": float("nan"), "p": float("nan"),
                              "min_p": float(min(1.0, 2.0 / 2 ** len(d))) if len(d) else float("nan")}
    if len(d) < 2:
        return out
    if np.ptp(d) > 0:
        t_test = stats.ttest_1samp(d, 0.0)
        t_interval = t_test.confidence_interval(confidence_level=confidence)
        out["t_low"], out["t_high"], out["t_p"] = float(t_interval.low), float(t_interval.high), float(t_test.pvalue)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interval = stats.bootstrap((d,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                                       method="percentile", rng=np.random.default_rng(seed)).confidence_interval
        out["low"], out["high"] = float(interval.low), float(interval.high)
    else:
        out["low"] = out["high"] = float(d[0])
    result = stats.permutation_test((x, y), lambda u, v, axis=-1: np.mean(u - v, axis=axis),
                                    permutation_type="samples", vectorized=True, n_resamples=n_resamples,
                                    alternative="two-sided", rng=np.random.default_rng(seed))
    out["p"] = float(result.pvalue)
    return out


def variance_comparison(a: Sequence[float], b: Sequence[float]) -> Dict[str, float]:
    """Brown-Forsythe test (Levene's test on deviations from the median) that ``a`` and ``b`` have the same
    spread: statistic, p, and each arm's n and sample SD. NaN p with fewer than 2 values in an arm."""
    x = np.asarray([v for v in a if v is not None and math.isfinite(float(v))], dtype=float)
    y = np.asarray([v for v in b if v is not None and math.isfinite(float(v))], dtype=float)
    out = {"n_a": int(len(x)), "n_b": int(len(y)), "sd_a": sample_sd(x), "sd_b": sample_sd(y),
           "statistic": float("nan"), "p": float("nan")}
    if len(x) >= 2 and len(y) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zero spread in both arms: scipy returns NaN
            result = stats.levene(x, y, center="median")
        out["statistic"], out["p"] = float(result.statistic), float(result.pvalue)
    return out
