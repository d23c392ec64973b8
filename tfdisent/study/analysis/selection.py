"""Model selection (Locatello et al. 2019, Sec. 5.3, Fig. 6 and Table 2).

* :func:`selection_probability`: choose the hyperparameter setting that scores best with metric A on
  dataset D_a and seed s, then compare it, with metric B on dataset D_b and another seed s', against a
  random other setting: the probability that the chosen one wins (ties count one half). Averaged over
  every ordered pair of distinct seeds. The paper's table averages this over (A = B or not) x
  (D_a = D_b or not): :func:`selection_probability_table` (their values: 80.7 % same metric and data
  set, 59.3 % same metric / other data set, 62.6 % other metric / same data set, 54.9 % neither).
* :func:`unsupervised_selection`: how often an unsupervised score (reconstruction, ELBO, the Gaussian
  TC of the sampled or mean representation, ...) picks the better of two random models of a dataset.
* :func:`hyperparameter_transfer`: Spearman correlation between datasets of the per-setting medians.
"""

from __future__ import annotations

import itertools
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd

from tfdisent.study.analysis.agreement import spearman_matrix


def _done(table: pd.DataFrame, representation: str) -> pd.DataFrame:
    return table[(table["status"] == "done") & (table["representation"] == representation)]


def _grid(rows: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """config x seed scores of one dataset (mean over duplicates)."""
    part = rows[rows["dataset"] == dataset]
    return part.pivot_table(index="config", columns="seed", values=metric, aggfunc="mean")


def _beats(chosen: float, others: np.ndarray) -> Optional[float]:
    others = others[np.isfinite(others)]
    if not np.isfinite(chosen) or not len(others):
        return None
    return float(np.mean((chosen > others) + 0.5 * (chosen == others)))


def selection_probability(table: pd.DataFrame, source_metric: str, target_metric: str, source_dataset: str,
                          target_dataset: str, representation: str = "mean") -> float:
    """P(the setting chosen by ``source_metric`` on ``source_dataset`` beats a random other setting
    under ``target_metric`` on ``target_dataset``, on a different seed). NaN without two seeds."""
    rows = _done(table, representation)
    source = _grid(rows, source_dataset, source_metric)
    target = _grid(rows, target_dataset, target_metric)
    wins = []
    for seed, seed_target in itertools.permutations(sorted(set(source.columns) | set(target.columns)), 2):
        if seed not in source.columns or seed_target not in target.columns:
            continue
        column = source[seed].dropna()
        if column.empty:
            continue
        chosen = column.idxmax()
        scores = target[seed_target]
        if chosen not in scores.index:
            continue
        win = _beats(scores[chosen], scores.drop(index=chosen).to_numpy(dtype=float))
        if win is not None:
            wins.append(win)
    return float(np.mean(wins)) if wins else float("nan")


def selection_probability_table(table: pd.DataFrame, metrics: Sequence[str],
                                representation: str = "mean") -> pd.DataFrame:
    """The paper's 2 x 2 table: rows "Random metric"/"Same metric", columns "Random data set"/"Same
    data set"; each cell averages :func:`selection_probability` over the matching (metric, dataset) pairs."""
    datasets = sorted(_done(table, representation)["dataset"].dropna().unique())
    cells: Dict[tuple, list] = {}
    for source_metric, target_metric in itertools.product(metrics, repeat=2):
        for source_dataset, target_dataset in itertools.product(datasets, repeat=2):
            value = selection_probability(table, source_metric, target_metric, source_dataset, target_dataset,
                                          representation)
            if np.isfinite(value):
                key = (source_metric == target_metric, source_dataset == target_dataset)
                cells.setdefault(key, []).append(value)
    out = pd.DataFrame(index=["Random metric", "Same metric"], columns=["Random data set", "Same data set"],
                       dtype=float)
    for same_metric, same_dataset in itertools.product((False, True), repeat=2):
        values = cells.get((same_metric, same_dataset), [])
        out.iloc[int(same_metric), int(same_dataset)] = float(np.mean(values)) if values else float("nan")
    return out


def pairwise_selection_probability(score: Sequence[float], metric: Sequence[float]) -> float:
    """Over all pairs of models whose ``score`` differs: the fraction where the higher-``score`` model
    has the higher ``metric`` (ties in the metric count one half). 1 = the score ranks as the metric,
    0.5 = no better than chance."""
    s = np.asarray(score, dtype=float)
    m = np.asarray(metric, dtype=float)
    keep = np.isfinite(s) & np.isfinite(m)
    s, m = s[keep], m[keep]
    ds = np.sign(s[:, None] - s[None, :])
    dm = np.sign(m[:, None] - m[None, :])
    upper = np.triu(np.ones_like(ds, dtype=bool), 1) & (ds != 0)
    if not upper.any():
        return float("nan")
    agree = (ds == dm) + 0.5 * (dm == 0)
    return float(agree[upper].mean())


def unsupervised_selection(table: pd.DataFrame, scores: Dict[str, int], metrics: Sequence[str],
                           representation: str = "mean") -> pd.DataFrame:
    """One row per (dataset, unsupervised score), one column per metric: the
    :func:`pairwise_selection_probability`. ``scores`` maps a column to +1 (higher is better, e.g.
    ``eval.elbo``) or -1 (lower is better, e.g. ``eval.reconstruction``)."""
    rows = _done(table, representation)
    out = []
    for dataset, group in rows.groupby("dataset"):
        for column, direction in scores.items():
            if column not in group:
                continue
            entry = {"dataset": dataset, "score": column}
            for metric in metrics:
                entry[metric] = pairwise_selection_probability(direction * pd.to_numeric(group[column]),
                                                               group[metric])
            out.append(entry)
    return pd.DataFrame(out, columns=["dataset", "score"] + list(metrics))


def hyperparameter_transfer(table: pd.DataFrame, metric: str, representation: str = "mean") -> pd.DataFrame:
    """Spearman correlation between datasets of the per-setting (method x hyperparameter) median of
    ``metric``: do good settings on one dataset stay good on another? (dataset x dataset)."""
    rows = _done(table, representation)
    medians = rows.pivot_table(index="config", columns="dataset", values=metric, aggfunc="median")
    return spearman_matrix(medians, list(medians.columns), min_models=3)
