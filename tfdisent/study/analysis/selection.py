"""Model selection (Locatello et al. 2019, Sec. 5.3, Fig. 6 and Table 2).

* :func:`selection_probability`: the paper's "probability of outperforming random model selection on a
  different random seed". Definition used here (our reading of Table 2's caption and Sec. 5.3; the
  released code has no function for it):

  1. a selection seed s is drawn; the hyperparameter setting with the best ``source_metric`` on
     ``source_dataset`` and seed s is chosen (argmax; a tie goes to the first setting in sorted order);
  2. a *different* seed s' is drawn, and a random model: a setting drawn uniformly from *all* settings,
     the chosen one included (random model selection can pick it too), on the same seed s';
  3. the chosen setting "outperforms" when its ``target_metric`` on ``target_dataset`` and seed s' is
     *better or equal* to the random model's (ties count as wins, so drawing the chosen setting itself is a
     win).

  The paper averages 10,000 random draws; here the expectation is computed exactly over every (s, s',
  random setting), i.e. the limit of infinitely many draws, with no Monte-Carlo noise. Consequence of the
  definition: a selection with no information (scores unrelated across seeds, k settings, no ties) scores
  (k + 1) / (2k), not 1/2 (:func:`chance_selection_probability`: 0.54 for 12 settings, 0.51 for 36).
* :func:`selection_probability_table`: the 2 x 2 table (same/random metric x same/random data set; a
  "random" metric or data set is a *different* one, each ordered pair weighted equally; the paper: 80.7 %
  same metric and data set, 59.3 % same metric / other data set, 62.6 % other metric / same data set,
  54.9 % neither), with a bootstrap interval per cell (seeds resampled within settings; a resample
  that repeats a model in two seed positions never compares that model with itself as "another seed").
* :func:`unsupervised_selection`: how often an unsupervised score (reconstruction, ELBO, the Gaussian
  TC of the sampled or mean representation, ...) picks the better of two random models of a dataset;
  :func:`unsupervised_selection_intervals` adds binomial intervals.
* :func:`hyperparameter_transfer`: Spearman correlation between datasets of the per-setting medians;
  :func:`hyperparameter_transfer_intervals` adds a bootstrap interval over settings and a permutation p.
"""

from __future__ import annotations

import itertools
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from tfdisent.study.analysis.agreement import rank_correlation_test, spearman_matrix
from tfdisent.study.analysis.uncertainty import (CONFIDENCE, RESAMPLES, binomial_interval, strata_of,
                                                 stratified_bootstrap)


def _done(table: pd.DataFrame, representation: str) -> pd.DataFrame:
    return table[(table["status"] == "done") & (table["representation"] == representation)]


def chance_selection_probability(settings: int) -> float:
    """The selection probability of an uninformative choice among ``settings`` settings under the
    better-or-equal rule with the chosen setting among the random draws: (k + 1) / (2k)."""
    return (settings + 1) / (2 * settings) if settings > 0 else float("nan")


def _probability(source: np.ndarray, target: np.ndarray, source_models: Optional[np.ndarray] = None,
                 target_models: Optional[np.ndarray] = None) -> float:
    """The expectation of steps 1-3 of the module docstring for two config x seed score grids (NaN =
    missing; the same config and seed positions in both), vectorised over (s, s', random setting).

    ``source_models``/``target_models`` (config x seed ids of the models behind each score; default: every
    position its own model) keep step 2 honest under a bootstrap that resamples seeds within settings: a
    resample can put one model in two seed positions, and the chosen setting's "other seed" must be another
    model, so an (s, s') pair whose chosen setting has the same model at both is left out. (The random
    setting is compared as drawn, as in any bootstrap: leaving out its repeated models too would shrink the
    random draw towards the chosen setting itself, a sure win.) Without resampling this is just s != s'."""
    seeds = source.shape[1]
    if seeds < 2:
        return float("nan")
    if source_models is None or target_models is None:
        source_models = target_models = np.broadcast_to(np.arange(seeds), source.shape)
    has_source = np.isfinite(source).any(axis=0)
    chosen = np.argmax(np.where(np.isfinite(source), source, -np.inf), axis=0)      # first best per seed s
    chosen_score = target[chosen, :]                                                  # [s, s'] chosen's score on s'
    valid = np.isfinite(target)                                                       # [c, s']
    with np.errstate(invalid="ignore"):
        better_or_equal = chosen_score[:, None, :] >= target[None, :, :]              # [s, c, s']
    counts = valid.sum(axis=0)                                                        # [s']
    wins = (better_or_equal & valid[None]).sum(axis=1) / np.maximum(counts, 1)[None]  # [s, s']
    chosen_models = np.take_along_axis(np.asarray(source_models), chosen[None, :], axis=0)[0]   # [s]
    chosen_reused = chosen_models[:, None] == np.asarray(target_models)[chosen, :]              # [s, s']
    use = (has_source[:, None] & np.isfinite(chosen_score) & (counts > 0)[None] & ~chosen_reused
           & ~np.eye(seeds, dtype=bool))
    return float(wins[use].mean()) if use.any() else float("nan")


def _selection_rows(table: pd.DataFrame, metrics: Sequence[str], representation: str) -> pd.DataFrame:
    rows = _done(table, representation)
    rows = rows.groupby(["dataset", "config", "seed"], as_index=False)[list(metrics)].mean(numeric_only=True)
    return rows.sort_values(["dataset", "config", "seed"]).reset_index(drop=True)


def _cells(rows: pd.DataFrame, metrics: Sequence[str], strata: Dict[tuple, np.ndarray],
           pairs: Sequence[tuple]) -> np.ndarray:
    """Selection probability per (source metric, target metric, source dataset, target dataset) in
    ``pairs`` for rows re-indexed by ``strata`` ({(dataset, config): row indices, in seed order}); the row
    indices identify the models (a resample may repeat one)."""
    datasets = sorted({d for d, _ in strata})
    configs = sorted({c for _, c in strata})
    seeds = max(len(v) for v in strata.values())
    values = rows[list(metrics)].to_numpy(dtype=float)
    cube = np.full((len(datasets), len(configs), seeds, len(metrics)), np.nan)
    models = np.full((len(datasets), len(configs), seeds), -1)
    for (dataset, config), index in strata.items():
        index = np.asarray(index, dtype=int)
        cube[datasets.index(dataset), configs.index(config), :len(index)] = values[index]
        models[datasets.index(dataset), configs.index(config), :len(index)] = index
    return np.array([_probability(cube[datasets.index(da), :, :, metrics.index(ma)],
                                  cube[datasets.index(db), :, :, metrics.index(mb)],
                                  models[datasets.index(da)], models[datasets.index(db)])
                     for ma, mb, da, db in pairs])


def selection_probability(table: pd.DataFrame, source_metric: str, target_metric: str, source_dataset: str,
                          target_dataset: str, representation: str = "mean") -> float:
    """P(the setting chosen by ``source_metric`` on ``source_dataset`` and one seed is better than or equal
    to a random setting under ``target_metric`` on ``target_dataset`` and another seed), as defined in
    the module docstring. NaN without two seeds."""
    metrics = list(dict.fromkeys([source_metric, target_metric]))
    rows = _selection_rows(table, metrics, representation)
    strata = strata_of(rows, ["dataset", "config"])
    return float(_cells(rows, metrics, strata, [(source_metric, target_metric, source_dataset, target_dataset)])[0])


def selection_probability_table(table: pd.DataFrame, metrics: Sequence[str], representation: str = "mean",
                                intervals: bool = False, n_resamples: int = RESAMPLES,
                                confidence: float = CONFIDENCE, seed: int = 0) -> pd.DataFrame:
    """The paper's 2 x 2 table: rows "Random metric"/"Same metric", columns "Random data set"/"Same
    data set"; each cell averages :func:`selection_probability` over the matching ordered (metric,
    dataset) pairs. With ``intervals=True``: a long table instead (one row per cell: ``probability``,
    bootstrap ``low``/``high`` with seeds resampled within settings, ``settings``, ``seeds``, ``models``,
    ``chance`` = :func:`chance_selection_probability`)."""
    metrics = list(metrics)
    rows = _selection_rows(table, metrics, representation)
    datasets = sorted(rows["dataset"].dropna().unique())
    pairs = [(ma, mb, da, db) for ma, mb in itertools.product(metrics, repeat=2)
             for da, db in itertools.product(datasets, repeat=2)]
    keys = [(ma == mb, da == db) for ma, mb, da, db in pairs]
    order = list(itertools.product((False, True), repeat=2))

    def statistic(resampled):
        values = _cells(rows, metrics, resampled, pairs)
        out = []
        for key in order:
            cell = [v for v, k in zip(values, keys) if k == key and np.isfinite(v)]
            out.append(float(np.mean(cell)) if cell else float("nan"))
        return np.asarray(out)

    strata = strata_of(rows, ["dataset", "config"]) if len(rows) else {}
    if not strata:
        estimate = low = high = np.full(4, np.nan)
    elif intervals:
        estimate, low, high = stratified_bootstrap(strata, statistic, n_resamples, confidence, seed)
    else:
        estimate, low, high = statistic(strata), np.full(4, np.nan), np.full(4, np.nan)
    if not intervals:
        out = pd.DataFrame(index=["Random metric", "Same metric"], columns=["Random data set", "Same data set"],
                           dtype=float)
        for (same_metric, same_dataset), value in zip(order, estimate):
            out.iloc[int(same_metric), int(same_dataset)] = value
        return out
    settings = int(rows.groupby("dataset")["config"].nunique().min()) if len(rows) else 0
    return pd.DataFrame([{"metric": "same" if m else "random (other)", "data set": "same" if d else "random (other)",
                          "probability": e, "low": lo, "high": hi, "chance": chance_selection_probability(settings),
                          "settings": settings, "seeds": int(rows.groupby(["dataset", "config"]).size().min()),
                          "models": len(rows)}
                         for (m, d), e, lo, hi in zip(order, estimate, low, high)])


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


def unsupervised_selection_intervals(table: pd.DataFrame, scores: Dict[str, int], metrics: Sequence[str],
                                     representation: str = "mean", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """:func:`unsupervised_selection` as a long table (dataset, score, metric, ``rate``) with a
    Clopper-Pearson interval (:func:`binomial_interval`) and ``models``.

    The rate is taken over all pairs of models, but those pairs share models and are not independent
    trials: a binomial over all n(n - 1)/2 pairs would be far too narrow. The interval is therefore the
    binomial interval of ``trials`` = floor(n / 2) independent pairs (the disjoint pairs the n models
    can form) at the observed rate: what a study with that many independent comparisons could claim."""
    wide = unsupervised_selection(table, scores, metrics, representation)
    rows = _done(table, representation)
    out = []
    for _, entry in wide.iterrows():
        part = rows[rows["dataset"] == entry["dataset"]]
        for metric in metrics:
            rate = float(entry[metric])
            models = int((pd.to_numeric(part[entry["score"]], errors="coerce").notna()
                          & pd.to_numeric(part[metric], errors="coerce").notna()).sum())
            trials = models // 2
            low, high = (binomial_interval(rate * trials, trials, confidence) if np.isfinite(rate)
                         else (float("nan"), float("nan")))
            out.append({"dataset": entry["dataset"], "score": entry["score"], "metric": metric, "rate": rate,
                        "low": low, "high": high, "trials": trials, "models": models})
    return pd.DataFrame(out, columns=["dataset", "score", "metric", "rate", "low", "high", "trials", "models"])


def _setting_medians(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-setting (config) median of ``metric``, one column per dataset."""
    return rows.pivot_table(index="config", columns="dataset", values=metric, aggfunc="median")


def hyperparameter_transfer(table: pd.DataFrame, metric: str, representation: str = "mean") -> pd.DataFrame:
    """Spearman correlation between datasets of the per-setting (method x hyperparameter) median of
    ``metric``: do good settings on one dataset stay good on another? (dataset x dataset)."""
    medians = _setting_medians(_done(table, representation), metric)
    return spearman_matrix(medians, list(medians.columns), min_models=3)


def hyperparameter_transfer_intervals(table: pd.DataFrame, metrics: Sequence[str], representation: str = "mean",
                                      n_resamples: int = RESAMPLES, n_permutations: int = 9999,
                                      confidence: float = CONFIDENCE, seed: int = 0) -> pd.DataFrame:
    """One row per (metric, pair of datasets): the :func:`hyperparameter_transfer` rho of the per-setting
    medians, a percentile bootstrap interval ``[low, high]`` with the *settings* resampled (paired across
    the two datasets: the question is whether a setting's rank carries over, so the settings are the
    sample here) and the two-sided permutation p of rho = 0 (:func:`rank_correlation_test`); ``settings``
    is the number of settings with a median on both datasets. The seeds' noise enters only through the
    medians, so with few seeds per setting the interval is, if anything, too narrow."""
    rows = _done(table, representation)
    out = []
    for metric in metrics:
        medians = _setting_medians(rows, metric)
        for a, b in itertools.combinations(sorted(medians.columns), 2):
            pair = medians[[a, b]].apply(pd.to_numeric, errors="coerce").dropna()
            x, y = pair[a].to_numpy(dtype=float), pair[b].to_numpy(dtype=float)

            def statistic(resampled, x=x, y=y):
                index = resampled["settings"]
                if np.ptp(x[index]) == 0 or np.ptp(y[index]) == 0:
                    return np.array([np.nan])
                return np.array([stats.spearmanr(x[index], y[index]).statistic])

            if len(pair) >= 3:
                estimate, low, high = stratified_bootstrap({"settings": np.arange(len(pair))}, statistic,
                                                           n_resamples, confidence, seed)
                rho, lo, hi = float(estimate[0]), float(low[0]), float(high[0])
            else:
                rho = lo = hi = float("nan")
            out.append({"metric": metric, "a": a, "b": b, "rho": rho, "low": lo, "high": hi,
                        "p": rank_correlation_test(x, y, n_permutations, seed), "settings": len(pair)})
    return pd.DataFrame(out, columns=["metric", "a", "b", "rho", "low", "high", "p", "settings"])
