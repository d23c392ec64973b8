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
    for key, row in frame.iterrows():
        cells = ([cell(key)] if index else []) + [cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(column: str) -> str:
    return MAIN_SCORES.get(column, column.replace("unsupervised.", "").replace("gaussian_", ""))


def _config_order(rows: pd.DataFrame) -> List[str]:
    order = rows.sort_values(["model_num"]).drop_duplicates("config")["config"].tolist()
    return [c for c in order if isinstance(c, str)]


def write_report(table: pd.DataFrame, report_dir: str, title: str = "Study report",
                 command: Optional[str] = None) -> str:
    """Writes figures, CSV tables and ``index.md`` into ``report_dir``; returns the index path."""
    plt = _plt()
    os.makedirs(report_dir, exist_ok=True)
    lines: List[str] = [f"# {title}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    done = table[table["status"] == "done"]
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
    times = {c: done.drop_duplicates("model_num")[c].median() for c in ("train.wall_time_seconds",)
             if c in done}
    for c in [c for c in done.columns if c.endswith(".wall_time_seconds") and not c.startswith("train.")]:
        times[c] = done[c].median()
    if times:
        frame = pd.DataFrame({"median seconds": times})
        frame.index.name = "step"
        frame.to_csv(os.path.join(report_dir, "wall_times.csv"))
        lines += ["Median wall time per model (training) and per model x representation (each metric):", "",
                  markdown_table(frame, 1), ""]
    if not scores:
        lines += ["No disentanglement metric in the table: nothing to analyse.", ""]
        return _write_index(report_dir, lines)

    # --- metric agreement ------------------------------------------------------------------------
    lines += ["## Rank correlation between metrics (Spearman, mean representation)",
              "Locatello et al. (2019), Fig. 2: BetaVAE/FactorVAE agree, MIG/DCI agree, modularity is the outlier.", ""]
    agreement = analysis.metric_agreement(table, scores + unsupervised)
    for dataset, matrix in agreement.items():
        matrix.to_csv(os.path.join(report_dir, f"spearman_{dataset}.csv"))
        fig, ax = plt.subplots(figsize=(1 + 0.6 * len(matrix), 0.8 + 0.6 * len(matrix)))
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
        labels = [_label(c) for c in matrix.columns]
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"Spearman, {dataset}")
        fig.colorbar(image, ax=ax, shrink=0.7)
        lines += [f"![Spearman {dataset}]({_save(fig, report_dir, f'spearman_{dataset}')}) "
                  f"([CSV](spearman_{dataset}.csv))", ""]

    # --- violins --------------------------------------------------------------------------------
    lines += ["## Scores per method and hyperparameter (mean representation)",
              "Locatello et al. (2019), Fig. 3/5: the seed and the hyperparameter matter more than the method.", ""]
    mean_rows = done[done["representation"] == "mean"]
    for dataset, rows in mean_rows.groupby("dataset"):
        configs = _config_order(rows)
        columns = 2
        height = math.ceil(len(scores) / columns)
        fig, axes = plt.subplots(height, columns, figsize=(7 * columns, 2.8 * height), squeeze=False)
        for ax, column in zip(axes.flat, scores):
            data = [rows.loc[rows["config"] == c, column].dropna().to_numpy() for c in configs]
            positions = [i for i, d in enumerate(data) if len(d)]
            if positions:
                if all(len(data[i]) > 1 for i in positions):
                    ax.violinplot([data[i] for i in positions], positions=positions, showmedians=True)
                for i in positions:
                    ax.scatter(np.full(len(data[i]), i), data[i], s=8, color="k", zorder=3)
            ax.set_xticks(range(len(configs)), configs, rotation=70, ha="right", fontsize=6)
            ax.set_title(_label(column), fontsize=9)
        for ax in list(axes.flat)[len(scores):]:
            ax.axis("off")
        fig.suptitle(dataset)
        fig.tight_layout()
        lines += [f"![violins {dataset}]({_save(fig, report_dir, f'violins_{dataset}')})", ""]

    # --- TC of mean vs sampled ---------------------------------------------------------------------
    strengths = method_strengths(table["method"].dropna().unique()) if "method" in table else {}
    tc = analysis.tc_vs_strength(table, {method: hyper for method, (hyper, _) in strengths.items()})
    if len(tc):
        tc.to_csv(os.path.join(report_dir, "tc_mean_vs_sampled.csv"), index=False)
        lines += ["## Total correlation of the mean vs the sampled representation",
                  "Locatello et al. (2019), Fig. 1: with stronger regularisation the sampled representation's TC "
                  "falls while the mean representation's does not (each method's strength as its class declares it; "
                  "annealed_vae: a smaller c_max is stronger).", ""]
        methods = sorted(tc["method"].unique())
        for dataset, part in tc.groupby("dataset"):
            fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 2.8), squeeze=False)
            for ax, method in zip(axes.flat, methods):
                rows = part[part["method"] == method].sort_values("strength")
                ax.plot(rows["strength"], rows["mean"], "o-", label="mean")
                ax.plot(rows["strength"], rows["sampled"], "s--", label="sampled")
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(plt.NullFormatter())
                ax.set_title(method, fontsize=9)
                hyper, increases = strengths[method]
                ax.set_xlabel(hyper if increases else f"{hyper} (smaller = stronger)", fontsize=8)
            axes.flat[0].set_ylabel("Gaussian TC (median)")
            axes.flat[0].legend(fontsize=7)
            fig.suptitle(dataset)
            fig.tight_layout()
            lines += [f"![TC {dataset}]({_save(fig, report_dir, f'tc_{dataset}')}) ([CSV](tc_mean_vs_sampled.csv))",
                      ""]

    # --- variance explained ------------------------------------------------------------------------
    variance = analysis.variance_explained(table, scores)
    variance.to_csv(os.path.join(report_dir, "variance_explained.csv"), index=False)
    lines += ["## Variance explained by the method, the setting (method x hyperparameter) and the seed",
              "Share of each metric's variance (eta squared): `method`, `setting`; `seed` = 1 - setting.", "",
              markdown_table(variance.assign(metric=variance["metric"].map(_label)), index=False), ""]

    # --- model selection ------------------------------------------------------------------------------
    lines += ["## Model selection", ""]
    probability = analysis.selection_probability_table(table, scores)
    probability.to_csv(os.path.join(report_dir, "selection_probability.csv"))
    lines += ["Probability that the setting chosen by a metric on one seed beats a random other setting on another "
              "seed (Locatello et al. 2019, Table 2: 80.7 % same metric and data set, 59.3 % same metric, other data "
              "set, 62.6 % other metric, same data set, 54.9 % neither). Needs two seeds (and two datasets for the "
              "left column).", "", markdown_table(probability), ""]
    if unsupervised:
        chosen = analysis.unsupervised_selection(table, {c: UNSUPERVISED_SCORES[c] for c in unsupervised}, scores)
        chosen.to_csv(os.path.join(report_dir, "unsupervised_selection.csv"), index=False)
        shown = chosen.rename(columns={c: _label(c) for c in scores})
        lines += ["Unsupervised selection: probability that the model preferred by an unsupervised score (lower "
                  "reconstruction / TC, higher ELBO) has the higher metric, over all pairs of models (0.5 = chance).",
                  "", markdown_table(shown, index=False), ""]
    if done["dataset"].nunique() > 1:
        lines += ["Hyperparameter transfer: Spearman correlation between datasets of the per-setting medians.", ""]
        for column in scores:
            matrix = analysis.hyperparameter_transfer(table, column)
            matrix.to_csv(os.path.join(report_dir, f"transfer_{column}.csv"))
            lines += [f"{_label(column)}:", "", markdown_table(matrix), ""]

    # --- Abdi et al. --------------------------------------------------------------------------------------
    summed = analysis.normalized_sum(table, scores)
    summed.to_csv(os.path.join(report_dir, "normalized_sum.csv"))
    shown = summed[[c for c in summed.columns if not c.endswith("(normalized)")]].rename(
        columns={c: _label(c) for c in scores})
    lines += ["## Normalised sum of metrics (Abdi et al. 2019, Table 1)",
              "Each method's mean score divided by the best method's, summed over metrics.", "",
              markdown_table(shown), ""]

    # --- downstream ------------------------------------------------------------------------------------
    efficiency = analysis.downstream_efficiency(table, scores)
    if efficiency:
        lines += ["## Downstream sample efficiency vs disentanglement",
                  "Spearman correlation of each metric with the downstream statistical efficiency (accuracy with few "
                  "samples / with the most) and accuracies (logistic regression; Locatello et al. 2019, Fig. 8).", ""]
        for dataset, matrix in efficiency.items():
            matrix.to_csv(os.path.join(report_dir, f"downstream_{dataset}.csv"))
            lines += [f"{dataset}:", "", markdown_table(matrix.rename(index=_label)), ""]
    else:
        lines += ["## Downstream", "", "No downstream scores in the table.", ""]
    return _write_index(report_dir, lines)


def _write_index(report_dir: str, lines: Sequence[str]) -> str:
    path = os.path.join(report_dir, "index.md")
    with open(path + ".tmp", "w") as stream:
        stream.write("\n".join(lines).rstrip() + "\n")
    os.replace(path + ".tmp", path)
    return path


def columns_summary(table: pd.DataFrame) -> Dict[str, List[str]]:
    return {"metrics": metric_columns(table)}
