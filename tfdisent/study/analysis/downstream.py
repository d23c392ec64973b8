"""Downstream usefulness (Locatello et al. 2019, Sec. 5.4, Fig. 8): statistical efficiency = mean test
accuracy with few samples / with many (100 vs 10,000 in the paper), rank-correlated with the
disentanglement metrics per dataset ("no evidence that models with higher disentanglement scores
also lead to higher statistical efficiency")."""

from __future__ import annotations

import re
from typing import Dict, Optional, Sequence

import pandas as pd

from tfdisent.study.analysis.agreement import spearman_matrix

_ACCURACY = re.compile(r"^downstream\.(?P<predictor>[^/]+)/(?P<n>\d+):mean_test_accuracy$")


def efficiency_columns(table: pd.DataFrame, predictor: str = "logistic_regression", low: Optional[int] = None,
                       high: Optional[int] = None) -> pd.DataFrame:
    """A frame with ``efficiency`` = accuracy(low)/accuracy(high) (default: the two smallest/largest
    training sizes present; 100 and 10,000 when present, as the paper) and ``accuracy_high``."""
    sizes = sorted(int(m.group("n")) for c in table.columns if (m := _ACCURACY.match(c))
                   and m.group("predictor") == predictor)
    if len(sizes) < 2:
        return pd.DataFrame(index=table.index)
    low = low if low is not None else (100 if 100 in sizes and sizes[-1] > 100 else sizes[0])
    high = high if high is not None else sizes[-1]
    acc_low = table[f"downstream.{predictor}/{low}:mean_test_accuracy"]
    acc_high = table[f"downstream.{predictor}/{high}:mean_test_accuracy"]
    return pd.DataFrame({f"efficiency {low}/{high}": acc_low / acc_high, f"accuracy {high}": acc_high,
                         f"accuracy {low}": acc_low}, index=table.index)


def downstream_efficiency(table: pd.DataFrame, metrics: Sequence[str], predictor: str = "logistic_regression",
                          representation: str = "mean") -> Dict[str, pd.DataFrame]:
    """``{dataset: Spearman of metrics (rows) vs efficiency / accuracies (columns)}``; {} when no
    downstream scores are in the table."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    extra = efficiency_columns(rows, predictor)
    if extra.empty or extra.shape[1] == 0:
        return {}
    joined = pd.concat([rows[list(metrics) + ["dataset"]], extra], axis=1)
    out = {}
    for dataset, group in joined.groupby("dataset"):
        matrix = spearman_matrix(group, list(metrics) + list(extra.columns))
        out[str(dataset)] = matrix.loc[list(metrics), list(extra.columns)]
    return out
