"""The study report: figures (PNG and SVG, matplotlib's Agg backend), CSV tables and ``index.md``.

Everything is computed by :mod:`tfdisent.study.analysis` from the study table; this module only
draws and writes. Any subset of a table works (one dataset, one method, ...): sections that need what
the table lacks (two seeds, two datasets, downstream scores) say so instead of failing.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from tfdisent.files import write_text_atomic
from tfdisent.study import analysis
from tfdisent.study.aggregate import metric_columns

# The headline score of each metric (as the paper's figures use them), in the paper's order.
MAIN_SCORES = {
    "beta_vae.eval_accuracy": "BetaVAE",
    "factor_vae.eval_accuracy": "FactorVAE",
    "mig.discrete_mig": "MIG",
    "dci.disentanglement": "DCI",
    "modularity_explicitness.modularity_score": "Modularity",
    "sap.SAP_score": "SAP",
    "irs.IRS": "IRS",
}
# Unsupervised scores: column -> direction for model selection (+1: higher is better).
UNSUPERVISED_SCORES = {
    "eval.reconstruction": -1, "train.reconstruction": -1, "eval.elbo": +1, "train.elbo": +1,
    "unsupervised.gaussian_total_correlation": -1, "unsupervised.gaussian_wasserstein_correlation_norm": -1,
    "unsupervised.mutual_info_score": -1,
}
# Below this many models per group, figures show every model instead of a box or violin.
POINTS_BELOW = 10
FONT = 9  # the smallest font in a figure (ticks, legends)
SCORE_UNITS = "score (unitless, 0 to 1)"


def method_strengths(methods) -> Dict[str, Tuple[str, bool]]:
    """Method -> (hyperparameter, strength_increases) as each registered method class declares its
    regularisation strength (``GaussianVAE.strength``); methods without one, or unknown here, are left out."""
    from tfdisent.methods import METHODS_REGISTRY  # noqa: PLC0415 (imports the method classes)

    out = {}
    for method in sorted(set(methods)):
        if method in METHODS_REGISTRY:
            cls = METHODS_REGISTRY.get(method)
            if cls.strength:
                out[method] = (cls.strength, bool(cls.strength_increases))
    return out


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": FONT + 1, "axes.labelsize": FONT + 1, "xtick.labelsize": FONT,
                         "ytick.labelsize": FONT, "legend.fontsize": FONT, "axes.titlesize": FONT + 2})
    return plt


def _save(fig, report_dir: str, name: str) -> str:
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(report_dir, f"{name}.{ext}"), dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return f"{name}.png"


def markdown_table(frame: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A GitHub Markdown table (no dependency on tabulate)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if not math.isfinite(value) else f"{value:.{digits}f}"
        return str(value)

    headers = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for key, row in frame.astype(object).iterrows():  # object: an int column stays an int in a mixed row
        cells = ([cell(key)] if index else []) + [cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(column: str) -> str:
    return MAIN_SCORES.get(column, column.replace("unsupervised.", "").replace("gaussian_", ""))


def _config_order(rows: pd.DataFrame) -> List[str]:
    order = rows.sort_values(["model_num"]).drop_duplicates("config")["config"].tolist()
    return [c for c in order if isinstance(c, str)]


def _interval(value: float, low: float, high: float, digits: int = 2) -> str:
    """``0.61 [0.35, 0.80]`` (empty interval parts when undefined)."""
    if not np.isfinite(value):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _p(value: float) -> str:
    return "" if not np.isfinite(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def _strip(ax, data: Sequence[np.ndarray], labels: Sequence[str], xlabel: str) -> None:
    """Horizontal per-group plot: every model as a point, with a box only where a group has at least
    :data:`POINTS_BELOW` models (a 2-point violin or box suggests a distribution that is not there)."""
    positions = range(len(data))
    big = [i for i, d in enumerate(data) if len(d) >= POINTS_BELOW]
    if big:
        ax.boxplot([data[i] for i in big], positions=big, vert=False, widths=0.5, showfliers=False)
    rng = np.random.RandomState(0)
    for i, values in zip(positions, data):
        if len(values):
            ax.scatter(values, np.full(len(values), i) + rng.uniform(-0.12, 0.12, len(values)), s=22, color="k",
                       alpha=0.8, zorder=3)
            ax.plot([np.median(values)] * 2, [i - 0.3, i + 0.3], color="tab:red", lw=1.5, zorder=4)
    ax.set_yticks(list(positions), [f"{label} (n={len(d)})" for label, d in zip(labels, data)])
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def write_report(table: pd.DataFrame, report_dir: str, title: str = "Study report",
                 command: Optional[str] = None, n_resamples: int = 999, n_permutations: int = 9999,
                 seed: int = 0) -> str:
    """Writes figures, CSV tables and ``index.md`` into ``report_dir``; returns the index path.

    Models with an identical objective (:func:`tfdisent.study.analysis.deduplicate_objectives`) are
    counted once by every analysis; intervals are 95 % (bootstrap over seeds within settings with
    ``n_resamples`` resamples; permutation tests with ``n_permutations``), ``seed`` makes them reproducible."""
    plt = _plt()
    os.makedirs(report_dir, exist_ok=True)
    lines: List[str] = [f"# {title}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    scores = [c for c in MAIN_SCORES if c in table and table[c].notna().any()]
    unsupervised = [c for c in UNSUPERVISED_SCORES if c in table and table[c].notna().any()]

    # --- overview ------------------------------------------------------------------------------
    lines += ["## Models", ""]
    counts = table.drop_duplicates(["source", "model_num", "dataset", "config", "seed"]).groupby(
        ["source", "dataset", "method", "status"]).size().rename("models").reset_index()
    counts.to_csv(os.path.join(report_dir, "models.csv"), index=False)
    lines += [markdown_table(counts, index=False), ""]
    failed = table[table["status"] == "failed"].drop_duplicates("model_num")
    if len(failed):
        lines += ["Failed models:", ""] + [f"* model {int(r.model_num)} ({r.config}, seed {r.seed}): {r.reason}"
                                           for r in failed.itertuples()] + [""]
    all_done = table[table["status"] == "done"]
    times = {c: all_done.drop_duplicates("model_num")[c].median() for c in ("train.wall_time_seconds",)
             if c in all_done}
    for c in [c for c in all_done.columns if c.endswith(".wall_time_seconds") and not c.startswith("train.")]:
        times[c] = all_done[c].median()
    if times:
        frame = pd.DataFrame({"median seconds": times})
        frame.index.name = "step"
        frame.to_csv(os.path.join(report_dir, "wall_times.csv"))
        lines += [f"Median wall time per model (training) and per model x representation (each metric), over "
                  f"{all_done['model_num'].nunique()} finished models:", "", markdown_table(frame, 1), ""]

    original = table
    table, duplicates = analysis.deduplicate_objectives(table)
    duplicates.to_csv(os.path.join(report_dir, "duplicates.csv"), index=False)
    done = table[table["status"] == "done"]
    mean_rows = done[done["representation"] == "mean"]
    n_models = int(mean_rows["model_num"].nunique())
    n_settings = int(mean_rows.groupby("dataset")["config"].nunique().max()) if len(mean_rows) else 0
    seeds_per_setting = mean_rows.groupby(["dataset", "config"])["model_num"].nunique()
    if len(duplicates):
        lines += [f"**Duplicate objectives counted once.** {len(duplicates)} model(s) train exactly the objective of "
                  "another model with the same seed (e.g. beta_vae beta=1 = beta_tcvae beta=1 = the VAE) and are left "
                  "out of every analysis below; surviving models of one objective form one setting "
                  "([duplicates.csv](duplicates.csv)):", ""]
        lines += [f"* model {int(r.model_num)} ({r.config}, seed {r.seed}) = model {int(r.kept_model_num)} "
                  f"({r.kept_config}): objective `{r.objective}`" for r in duplicates.itertuples()] + [""]
    fewest = int(seeds_per_setting.min()) if len(seeds_per_setting) else 0
    most = int(seeds_per_setting.max()) if len(seeds_per_setting) else 0
    if most < 2:
        bootstrap_caveat = ("with one seed per setting there is nothing to resample: these intervals are not "
                            "computed, and the analyses across settings below are descriptive")
    else:
        bootstrap_caveat = (f"with {fewest}-{most} seeds per setting such an interval is crude and too narrow rather "
                            "than too wide")
    lines += [f"**Analysed: n = {n_models} models** (mean representation), {n_settings} settings per dataset, "
              f"{fewest}-{most} seeds per setting. Intervals are 95 %: "
              "percentile bootstrap over models with each setting's seeds resampled ("
              f"{n_resamples} resamples; {bootstrap_caveat}), Clopper-Pearson for rates; p-values are permutation "
              f"tests ({n_permutations} permutations). SD = sample standard deviation (ddof = 1).", ""]
    lines += _correlation_section(table, scores, report_dir)
    if not scores:
        lines += ["No disentanglement metric in the table: nothing to analyse.", ""]
        return _write_index(report_dir, lines)

    # --- metric agreement ------------------------------------------------------------------------
    lines += ["## Rank correlation between metrics (Spearman, mean representation)",
              "Locatello et al. (2019), Fig. 2: BetaVAE/FactorVAE agree, MIG/DCI agree, modularity is the outlier.", ""]
    agreement = analysis.metric_agreement(table, scores + unsupervised)
    intervals = analysis.agreement_intervals(table, scores + unsupervised, n_resamples=n_resamples,
                                             n_permutations=n_permutations, seed=seed)
    for dataset, matrix in agreement.items():
        matrix.to_csv(os.path.join(report_dir, f"spearman_{dataset}.csv"))
        part = intervals[intervals["dataset"] == dataset]
        part.to_csv(os.path.join(report_dir, f"spearman_intervals_{dataset}.csv"), index=False)
        n = int(part["models"].max()) if len(part) else 0
        size = 1.6 + 0.75 * len(matrix)
        fig, ax = plt.subplots(figsize=(size + 1.2, size))
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
        labels = [_label(c) for c in matrix.columns]
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            if np.isfinite(value) and i != j:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=FONT,
                        color="white" if abs(value) > 0.6 else "black")
        ax.set_title(f"Spearman rank correlation, {dataset} (n = {n} models)")
        fig.colorbar(image, ax=ax, shrink=0.7, label="Spearman's rho")
        shown = part.assign(pair=[f"{_label(a)} / {_label(b)}" for a, b in zip(part["a"], part["b"])],
                            **{"rho [95 % CI]": [_interval(r, lo, hi) for r, lo, hi in
                                                 zip(part["rho"], part["low"], part["high"])],
                               "p (rho = 0)": [_p(v) for v in part["p"]]})
        lines += [f"![Spearman {dataset}]({_save(fig, report_dir, f'spearman_{dataset}')}) "
                  f"([matrix CSV](spearman_{dataset}.csv), [intervals CSV](spearman_intervals_{dataset}.csv))", "",
                  f"{dataset}, n = {n} models. The interval holds the settings fixed and resamples only seeds; the "
                  "permutation test asks whether the two scores are associated at all across models. With few seeds "
                  "per setting (none to resample with one) they can disagree (a narrow interval beside a large p): state a correlation only "
                  "when the interval excludes 0 *and* p < 0.05.", "",
                  markdown_table(shown[["pair", "rho [95 % CI]", "p (rho = 0)", "models"]], index=False), ""]

    # --- scores per setting -------------------------------------------------------------------------
    lines += ["## Scores per method and hyperparameter (mean representation)",
              "Locatello et al. (2019), Fig. 3/5: the seed and the hyperparameter matter more than the method. Every "
              f"model is a point, the red bar the median; boxes only for settings with at least {POINTS_BELOW} models.",
              ""]
    for dataset, rows in mean_rows.groupby("dataset"):
        configs = _config_order(rows)
        columns = 2
        height = math.ceil(len(scores) / columns)
        fig, axes = plt.subplots(height, columns, figsize=(13, (0.32 * len(configs) + 1.3) * height), squeeze=False)
        for index, (ax, column) in enumerate(zip(axes.flat, scores)):
            data = [rows.loc[rows["config"] == c, column].dropna().to_numpy(dtype=float) for c in configs]
            _strip(ax, data, configs, f"{_label(column)} ({SCORE_UNITS})")
            if index % columns:
                ax.set_yticklabels([])
        for ax in list(axes.flat)[len(scores):]:
            ax.axis("off")
        fig.suptitle(f"{dataset}: score per setting (n = {rows['model_num'].nunique()} models)")
        fig.tight_layout()
        lines += [f"![scores {dataset}]({_save(fig, report_dir, f'scores_{dataset}')})", ""]

    # --- TC of mean vs sampled ---------------------------------------------------------------------
    # Per-method curves: a shared objective (the VAE at beta = 1) is each method's weak end, so it stays in
    # every curve it belongs to; nothing is pooled across methods here. Strengths as each method class declares.
    strengths = method_strengths(original["method"].dropna().unique()) if "method" in original else {}
    tc = analysis.tc_vs_strength(original, {method: hyper for method, (hyper, _) in strengths.items()})
    original_done = original[original["status"] == "done"]
    if len(tc):
        tc.to_csv(os.path.join(report_dir, "tc_mean_vs_sampled.csv"), index=False)
        lines += ["## Total correlation of the mean vs the sampled representation",
                  "Locatello et al. (2019), Fig. 1: with stronger regularisation the sampled representation's TC "
                  "falls while the mean representation's does not. Points are models, lines join medians; the x axis (each method's strength as its class declares it) "
                  "runs from weaker to stronger (annealed_vae: a smaller c_max is stronger, so its axis is reversed). "
                  "`mean sd` / `sampled sd` are sample SDs (ddof = 1) over the `models` of a setting. A duplicate "
                  "objective (beta = 1 of beta_vae and beta_tcvae) is the weak end of both curves here.", "",
                  markdown_table(tc, index=False), ""]
        methods = sorted(tc["method"].unique())
        column = analysis.tc.TC_COLUMN
        for dataset, part in tc.groupby("dataset"):
            columns = min(3, len(methods))
            height = math.ceil(len(methods) / columns)
            fig, axes = plt.subplots(height, columns, figsize=(4.2 * columns, 3.4 * height), squeeze=False)
            for ax, method in zip(axes.flat, methods):
                hyper = strengths[method][0]
                models = original_done[(original_done["dataset"] == dataset) & (original_done["method"] == method)]
                rows = part[part["method"] == method].sort_values("strength")
                for representation, marker, colour in (("mean", "o", "tab:blue"), ("sampled", "s", "tab:orange")):
                    points = models[models["representation"] == representation]
                    ax.scatter(points[hyper], points[column], marker=marker, color=colour, alpha=0.6, s=20)
                    ax.plot(rows["strength"], rows[representation], marker=marker, color=colour,
                            linestyle="-" if representation == "mean" else "--",
                            label=f"{representation} representation")
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(plt.NullFormatter())
                ax.set_xticks(sorted(rows["strength"].unique()), [f"{v:g}" for v in sorted(rows["strength"].unique())])
                smaller = not strengths[method][1]
                if smaller:
                    ax.invert_xaxis()
                ax.set_xlabel(f"{hyper} ({'smaller' if smaller else 'larger'} = stronger) \u2192")
                ax.set_title(f"{method} (n = {int(rows['models'].sum())} models)")
                ax.set_ylabel("Gaussian TC (nats)")
            for ax in list(axes.flat)[len(methods):]:
                ax.axis("off")
            axes.flat[0].legend()
            fig.suptitle(f"{dataset}: total correlation vs regularisation strength")
            fig.tight_layout()
            lines += [f"![TC {dataset}]({_save(fig, report_dir, f'tc_{dataset}')}) ([CSV](tc_mean_vs_sampled.csv))",
                      ""]

    # --- variance explained ------------------------------------------------------------------------
    variance = analysis.variance_explained(table, scores, n_resamples=n_permutations, seed=seed)
    variance.to_csv(os.path.join(report_dir, "variance_explained.csv"), index=False)
    shown = variance.assign(metric=variance["metric"].map(_label), **{
        "method p": [_p(v) for v in variance["method p"]], "setting p": [_p(v) for v in variance["setting p"]]})
    lines += ["## Variance explained by the method, the setting (method x hyperparameter) and the seed",
              "Bias-corrected share of each metric's variance (omega squared, clipped at 0) with a permutation p-value "
              "of \"no effect\"; `seed` = 1 - setting, the share left among the seeds of one setting. The raw eta "
              "squared is kept for comparison: with k settings over n models, chance alone gives eta squared "
              "(k - 1)/(n - 1) on average.", "", markdown_table(shown, index=False), ""]

    # --- model selection ------------------------------------------------------------------------------
    lines += ["## Model selection", ""]
    probability = analysis.selection_probability_table(table, scores, intervals=True, n_resamples=n_resamples,
                                                       seed=seed)
    probability.to_csv(os.path.join(report_dir, "selection_probability.csv"), index=False)
    shown = probability.assign(**{"probability [95 % CI]": [_interval(v, lo, hi) for v, lo, hi in zip(
        probability["probability"], probability["low"], probability["high"])]})
    lines += ["Probability that the setting chosen by a metric on one seed is better than or equal to a random "
              "setting (any setting, the chosen one included) on another seed (Locatello et al. 2019, Table 2: 80.7 % "
              "same metric and data set, 59.3 % same metric, other data set, 62.6 % other metric, same data set, "
              "54.9 % neither). Exact expectation over every selection seed, other seed and random setting (the paper "
              "averages 10,000 random draws). `chance` is what an uninformative choice scores under this rule, "
              "(k + 1)/(2k) for k settings. The other-data-set rows need two datasets.", "",
              markdown_table(shown[["metric", "data set", "probability [95 % CI]", "chance", "settings", "seeds",
                                    "models"]], index=False), ""]
    if unsupervised:
        chosen = analysis.unsupervised_selection_intervals(
            table, {c: UNSUPERVISED_SCORES[c] for c in unsupervised}, scores)
        chosen.to_csv(os.path.join(report_dir, "unsupervised_selection.csv"), index=False)
        wide = chosen.assign(cell=[_interval(r, lo, hi) for r, lo, hi in zip(chosen["rate"], chosen["low"],
                                                                            chosen["high"])])
        wide = wide.pivot_table(index=["dataset", "score"], columns="metric", values="cell", aggfunc="first")
        wide = wide[[c for c in scores if c in wide.columns]].rename(columns=_label).reset_index()
        trials = int(chosen["trials"].max()) if len(chosen) else 0
        lines += ["Unsupervised selection: probability that the model preferred by an unsupervised score (lower "
                  "reconstruction / TC, higher ELBO) has the higher metric, over all pairs of models (0.5 = chance). "
                  f"95 % Clopper-Pearson interval as for {trials} independent pairs (the disjoint pairs of "
                  f"{int(chosen['models'].max()) if len(chosen) else 0} models; pairs that share models are not "
                  "independent trials).", "", markdown_table(wide, index=False), ""]
    if done["dataset"].nunique() > 1:
        transfer = analysis.hyperparameter_transfer_intervals(table, scores, n_resamples=n_resamples,
                                                              n_permutations=n_permutations, seed=seed)
        transfer.to_csv(os.path.join(report_dir, "transfer_intervals.csv"), index=False)
        shown = transfer.assign(metric=transfer["metric"].map(_label), **{
            "rho [95 % CI]": [_interval(v, lo, hi) for v, lo, hi in zip(transfer["rho"], transfer["low"],
                                                                        transfer["high"])],
            "p (rho = 0)": [_p(v) for v in transfer["p"]]})
        lines += ["Hyperparameter transfer (Locatello et al. 2019, Sec. 5.3): Spearman correlation between datasets of "
                  "the per-setting (method x hyperparameter) medians: do settings that score well on one dataset score "
                  "well on the other? Interval: percentile bootstrap with the settings resampled; p: permutation "
                  "test of rho = 0 ([CSV](transfer_intervals.csv)).", "",
                  markdown_table(shown[["metric", "a", "b", "rho [95 % CI]", "p (rho = 0)", "settings"]],
                                 index=False), ""]

    # --- Abdi et al. --------------------------------------------------------------------------------------
    summed = analysis.normalized_sum(table, scores)
    summed["models"] = mean_rows.groupby("method")["model_num"].nunique().reindex(summed.index)
    summed.to_csv(os.path.join(report_dir, "normalized_sum.csv"))
    shown = summed[[c for c in summed.columns if not c.endswith("(normalized)")]].rename(
        columns={c: _label(c) for c in scores})
    lines += ["## Normalised sum of metrics (Abdi et al. 2019, Table 1)",
              "Each method's mean score divided by the best method's, summed over metrics; `models` = n per method. "
              "A ranking, not a test: compare it with the seed share above before reading anything into it.", "",
              markdown_table(shown), ""]

    # --- downstream ------------------------------------------------------------------------------------
    efficiency = analysis.downstream_efficiency(table, scores)
    if efficiency:
        extra = analysis.downstream.efficiency_columns(mean_rows)
        joined = pd.concat([mean_rows, extra], axis=1)
        spread = analysis.agreement_intervals(joined, scores + list(extra.columns), n_resamples=n_resamples,
                                              n_permutations=n_permutations, seed=seed)
        spread = spread[spread["a"].isin(scores) & spread["b"].isin(list(extra.columns))]
        spread.to_csv(os.path.join(report_dir, "downstream_intervals.csv"), index=False)
        lines += ["## Downstream sample efficiency vs disentanglement",
                  "Spearman correlation of each metric with the downstream statistical efficiency (accuracy with few "
                  "samples / with the most) and accuracies (logistic regression; Locatello et al. 2019, Fig. 8), with "
                  "95 % bootstrap intervals and permutation p-values.", ""]
        for dataset, matrix in efficiency.items():
            matrix.to_csv(os.path.join(report_dir, f"downstream_{dataset}.csv"))
            part = spread[spread["dataset"] == dataset]
            cells = part.assign(cell=[f"{_interval(r, lo, hi)}, p {_p(p)}" for r, lo, hi, p in zip(
                part["rho"], part["low"], part["high"], part["p"])])
            cells = cells.pivot_table(index="a", columns="b", values="cell", aggfunc="first").reindex(scores)
            cells.index = [_label(c) for c in cells.index]
            cells.index.name = "metric"
            n = int(part["models"].max()) if len(part) else 0
            lines += [f"{dataset}, n = {n} models ([CSV](downstream_{dataset}.csv), "
                      f"[intervals](downstream_intervals.csv)):", "", markdown_table(cells), ""]
    else:
        lines += ["## Downstream", "", "No downstream scores in the table.", ""]
    return _write_index(report_dir, lines)


# Scores of the training-distribution protocols (issue 20), shown next to MAIN_SCORES where present.
PROTOCOL_SCORES = {"fos.fos": "FoS (lower: more factorised support)", "heldout_r2.rsquared": "held-out R²"}


def _correlation_section(table: pd.DataFrame, scores: List[str], report_dir: str) -> List[str]:
    """Metric against the training correlation strength (Träuble et al. 2021), one panel per metric."""
    columns = scores + [c for c in PROTOCOL_SCORES if c in table and table[c].notna().any()]
    curves = analysis.metric_vs_correlation(table, columns)
    if curves.empty:
        return []
    plt = _plt()
    curves.to_csv(os.path.join(report_dir, "metric_vs_correlation.csv"), index=False)
    lines = ["## Scores against the training correlation (Träuble et al. 2021)",
             "Models trained with two factors correlated at strength sigma (weight exp(-(c_a - c_b)^2 / (2 sigma^2)) "
             "on factors scaled to [0, 1]; smaller sigma is stronger, the rightmost point is the uncorrelated "
             "baseline) and scored on the uncorrelated grid (mean representation). Points: mean over seeds, bars: "
             "sample SD (ddof=1), n models per point in the CSV and the legend.", ""]
    for dataset, part in curves.groupby("dataset"):
        metrics_here = [c for c in columns if c in set(part["metric"])]
        finite = part.loc[np.isfinite(part["correlation_strength"]), "correlation_strength"]
        baseline_x = float(finite.max()) * 2.5 if len(finite) else 1.0
        fig, axes = plt.subplots(1, len(metrics_here), figsize=(3.4 * len(metrics_here), 3.0), squeeze=False)
        for ax, metric in zip(axes.flat, metrics_here):
            for method, rows in part[part["metric"] == metric].groupby("method"):
                x = np.where(np.isfinite(rows["correlation_strength"]), rows["correlation_strength"], baseline_x)
                n = sorted(set(rows["n"]))
                ax.errorbar(x, rows["mean"], yerr=rows["sd"].fillna(0.0), marker="o", capsize=2,
                            label=f"{method} (n={'/'.join(map(str, n))})")
            ax.set_xscale("log")
            ticks = sorted(set(finite)) + ([baseline_x] if len(finite) else [])
            ax.set_xticks(ticks, [f"{t:g}" for t in sorted(set(finite))] + ["∞"], fontsize=7)
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.set_xlabel("correlation strength sigma (∞: uncorrelated)", fontsize=8)
            ax.set_ylabel(f"{_protocol_label(metric)} (mean ± SD)", fontsize=8)
            ax.set_title(_protocol_label(metric), fontsize=9)
        axes.flat[0].legend(fontsize=6)
        pairs = ";".join(sorted({p for p in part["correlated_factors"] if p}))
        fig.suptitle(f"{dataset}: correlated {pairs or 'factors'}")
        fig.tight_layout()
        lines += [f"![correlation {dataset}]({_save(fig, report_dir, f'correlation_{dataset}')}) "
                  "([CSV](metric_vs_correlation.csv))", ""]
    return lines + _correlation_trend_lines(table, columns, report_dir)


# Scores where lower is better, for the one-sided trend test (every other score: higher is better).
LOWER_IS_BETTER = {"fos.fos": -1}


def _correlation_trend_lines(table: pd.DataFrame, columns: List[str], report_dir: str) -> List[str]:
    """The test of "scores get worse as the correlation grows": Page's trend test over methods and the
    strongest-vs-uncorrelated change with its intervals (:func:`analysis.correlation_trend`)."""
    trend = analysis.correlation_trend(table, columns, LOWER_IS_BETTER)
    if trend.empty:
        return []
    trend.to_csv(os.path.join(report_dir, "correlation_trend.csv"), index=False)
    lines = ["### Does the score get worse as the correlation grows?",
             "Blocks are methods (each cell: the mean over its seeds at one sigma; methods missing a strength are "
             "left out) and the strengths are the ordered treatments. Page's L test is one-sided for the prediction "
             "'the stronger the correlation, the worse the score' (for FoS, worse is higher). Δ is the strongest "
             "correlation minus the uncorrelated baseline per method, in the score's units: mean, sample SD "
             "(ddof = 1), 95 % t and percentile-bootstrap intervals over methods, two-sided Wilcoxon p. A trend is "
             "resolved only when Page's p < 0.05 and the Δ intervals exclude 0; otherwise it is not resolved at "
             "this n. ([CSV](correlation_trend.csv))", "",
             "| dataset | score | methods (models) | Page p | Δ mean [95 % t] | Δ mean [95 % bootstrap] | Δ SD "
             "| Wilcoxon p | methods worse |", "|---|---|---|---|---|---|---|---|---|"]
    for _, row in trend.iterrows():
        lines.append(f"| {row['dataset']} | {_protocol_label(row['metric'])} | {row['n_methods']} ({row['n_models']}) "
                     f"| {_p(row['page_p'])} "
                     f"| {_interval(row['delta_mean'], row['delta_t_low'], row['delta_t_high'], 3)} "
                     f"| {_interval(row['delta_mean'], row['delta_boot_low'], row['delta_boot_high'], 3)} "
                     f"| {_interval(row['delta_sd'], np.nan, np.nan, 3)} | {_p(row['wilcoxon_p'])} "
                     f"| {row['methods_worse']} of {row['n_methods']} |")
    return lines + [""]


def _protocol_label(column: str) -> str:
    return PROTOCOL_SCORES.get(column, _label(column))


def _write_index(report_dir: str, lines: Sequence[str]) -> str:
    path = os.path.join(report_dir, "index.md")
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path
