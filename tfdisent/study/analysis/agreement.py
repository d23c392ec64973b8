"""Metric agreement (Locatello et al. 2019, Sec. 5.2, Fig. 2 and 4: Spearman rank correlation between
the disentanglement metrics, and between them and the unsupervised scores, per dataset)."""

from __future__ import annotations

from typing import Dict, Sequence

import pandas as pd


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
