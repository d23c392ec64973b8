"""Abdi et al. (2019), Table 1: "each value is normalized based on the maximum of their column and
summed for each method" (their scores are one model per method; with several seeds we take each
method's mean first)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd


def normalized_sum(table: pd.DataFrame, metrics: Sequence[str], by: str = "method",
                   representation: str = "mean", aggregate: str = "mean") -> pd.DataFrame:
    """Per ``by`` group: each metric's ``aggregate`` over its models, divided by that metric's maximum
    over the groups, and the sum of those ratios (``normalized_sum``), sorted best first. Raw values
    are kept in the metric columns, ratios in ``<metric> (normalized)``."""
    rows = table[(table["status"] == "done") & (table["representation"] == representation)]
    scores = rows.groupby(by)[list(metrics)].agg(aggregate)
    maxima = scores.max(axis=0)
    normalized = scores.divide(maxima.where(maxima != 0))
    out = scores.copy()
    for metric in metrics:
        out[f"{metric} (normalized)"] = normalized[metric]
    out["normalized_sum"] = normalized.sum(axis=1, min_count=1)
    return out.sort_values("normalized_sum", ascending=False)
