"""How much of a metric's variance the method and its hyperparameter explain, against the random seed
(Locatello et al. 2019, Sec. 5.2: "the random seed and the hyperparameter matter more than the method").

A grouping's raw share is the correlation ratio eta^2 = SS_between / SS_total (one-way ANOVA). eta^2 is
biased upwards: with k groups over n models, pure noise gives E[eta^2] = (k - 1)/(n - 1) (12 settings over
24 models: 0.48). The share reported is therefore Hays' omega^2 (Olejnik & Algina 2003, Eq. 1):

    omega^2 = (SS_between - (k - 1) MS_within) / (SS_total + MS_within),   MS_within = SS_within / (n - k),

clipped at 0 (a negative estimate means "no detectable share"), with a permutation p-value of the null
"the grouping has no effect" (``scipy.stats.permutation_test`` re-pairing values and labels; statistic
SS_between, which orders permutations as the F statistic does for a fixed design). The seed's share is
what the setting (method x hyperparameter) leaves: 1 - omega^2(setting); its evidence is the setting's
test (the null "the setting explains nothing" is "the seed explains everything").
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import stats


def _codes(groups) -> np.ndarray:
    return pd.factorize(pd.Series(groups), sort=True)[0]


def _between(values: np.ndarray, codes: np.ndarray, axis: int = -1) -> np.ndarray:
    """SS_between of ``values`` (along ``axis``) grouped by the integer ``codes`` (vectorised)."""
    values = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    k = int(codes.max()) + 1
    onehot = np.eye(k)[codes]                                  # n x k
    counts = onehot.sum(axis=0)
    sums = values @ onehot                                     # ... x k
    total = values.sum(axis=-1, keepdims=True)
    n = values.shape[-1]
    return (sums ** 2 / counts).sum(axis=-1) - (total[..., 0] ** 2) / n


def _clean(values, groups) -> Tuple[np.ndarray, np.ndarray]:
    data = pd.DataFrame({"x": pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce"),
                         "g": pd.Series(groups).reset_index(drop=True)}).dropna()
    return data["x"].to_numpy(dtype=float), _codes(data["g"])


def eta_squared(values: pd.Series, groups: pd.Series) -> float:
    """Fraction of the variance of ``values`` explained by ``groups`` (NaN when ``values`` is constant)."""
    x, codes = _clean(values, groups)
    if len(x) < 2:
        return float("nan")
    total = float(((x - x.mean()) ** 2).sum())
    return float(_between(x, codes)) / total if total > 0 else float("nan")


def omega_squared(values: pd.Series, groups: pd.Series) -> float:
    """Hays' omega^2 of a one-way design, clipped at 0 (see the module docstring). 1 when every group is
    constant and the groups differ; NaN when ``values`` is constant or every group has one member."""
    x, codes = _clean(values, groups)
    n, k = len(x), (int(codes.max()) + 1 if len(codes) else 0)
    if n < 2 or n <= k:
        return float("nan")
    total = float(((x - x.mean()) ** 2).sum())
    if total <= 0:
        return float("nan")
    between = float(_between(x, codes))
    within_ms = (total - between) / (n - k)
    return float(max(0.0, (between - (k - 1) * within_ms) / (total + within_ms)))


def variance_test(values: pd.Series, groups: pd.Series, n_resamples: int = 9999, seed: int = 0) -> float:
    """Permutation p-value of "``groups`` has no effect on ``values``" (one-sided: a larger SS_between
    than the observed is as extreme). NaN with a single group or constant values."""
    x, codes = _clean(values, groups)
    if len(x) < 3 or codes.max(initial=0) < 1 or np.ptp(x) == 0:
        return float("nan")
    result = stats.permutation_test((x,), lambda v, axis=-1: _between(v, codes, axis), permutation_type="pairings",
                                    vectorized=True, n_resamples=n_resamples, alternative="greater",
                                    rng=np.random.default_rng(seed))
    return float(result.pvalue)


def variance_explained(table: pd.DataFrame, metrics: Sequence[str], by_dataset: bool = True,
                       representation: str = "mean", n_resamples: int = 9999, seed: int = 0) -> pd.DataFrame:
    """One row per (dataset, metric): ``method`` and ``setting`` (omega^2, method x hyperparameter) with
    their permutation p-values (``method p``, ``setting p``), ``seed`` = 1 - setting (the share among seeds
    of one setting), the raw ``method eta2`` / ``setting eta2``, ``settings`` (k) and ``models`` (n)."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    groups = rows.groupby("dataset") if by_dataset else [("all", rows)]
    out = []
    for dataset, group in groups:
        for metric in metrics:
            present = group[pd.to_numeric(group[metric], errors="coerce").notna()]
            method = omega_squared(present[metric], present["method"])
            setting = omega_squared(present[metric], present["config"])
            out.append({"dataset": dataset, "metric": metric, "method": method,
                        "method p": variance_test(present[metric], present["method"], n_resamples, seed),
                        "setting": setting,
                        "setting p": variance_test(present[metric], present["config"], n_resamples, seed),
                        "seed": 1.0 - setting if np.isfinite(setting) else float("nan"),
                        "method eta2": eta_squared(present[metric], present["method"]),
                        "setting eta2": eta_squared(present[metric], present["config"]),
                        "settings": int(present["config"].nunique()), "models": int(len(present))})
    return pd.DataFrame(out, columns=["dataset", "metric", "method", "method p", "setting", "setting p", "seed",
                                      "method eta2", "setting eta2", "settings", "models"])
