"""Scores against the strength of the training correlation (Träuble et al. 2021, Sec. 4, Fig. 2-3:
disentanglement scores of the six methods fall as the correlation between two factors grows).

Pure function of a study table (:mod:`tfdisent.study.aggregate`) whose ``correlation_strength`` column
holds sigma (smaller is stronger; inf is the uncorrelated baseline)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

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
