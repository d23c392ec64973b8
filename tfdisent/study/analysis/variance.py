"""How much of a metric's variance the method and its hyperparameter explain, against the random seed
(Locatello et al. 2019, Sec. 5.2: "the random seed and the hyperparameter matter more than the
method"). For a grouping g, the share explained is the correlation ratio
eta^2 = sum_g n_g (mean_g - mean)^2 / sum_i (x_i - mean)^2 (one-way ANOVA); what the setting
(method x hyperparameter) leaves unexplained is the within-setting (seed) variance."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def eta_squared(values: pd.Series, groups: pd.Series) -> float:
    """Fraction of the variance of ``values`` explained by ``groups`` (NaN when ``values`` is constant)."""
    data = pd.DataFrame({"x": pd.to_numeric(values, errors="coerce"), "g": groups}).dropna()
    if len(data) < 2:
        return float("nan")
    total = float(((data["x"] - data["x"].mean()) ** 2).sum())
    if total <= 0:
        return float("nan")
    means = data.groupby("g")["x"].transform("mean")
    between = float(((means - data["x"].mean()) ** 2).sum())
    return between / total


def variance_explained(table: pd.DataFrame, metrics: Sequence[str], by_dataset: bool = True,
                       representation: str = "mean") -> pd.DataFrame:
    """One row per (dataset, metric): ``method`` (eta^2 of the method), ``setting`` (eta^2 of
    method x hyperparameter) and ``seed`` = 1 - setting (variance among seeds of one setting)."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    groups = rows.groupby("dataset") if by_dataset else [("all", rows)]
    out = []
    for dataset, group in groups:
        for metric in metrics:
            method = eta_squared(group[metric], group["method"])
            setting = eta_squared(group[metric], group["config"])
            out.append({"dataset": dataset, "metric": metric, "method": method, "setting": setting,
                        "seed": 1.0 - setting if np.isfinite(setting) else float("nan"),
                        "models": int(group[metric].notna().sum())})
    return pd.DataFrame(out, columns=["dataset", "metric", "method", "setting", "seed", "models"])
