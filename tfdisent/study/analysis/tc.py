"""Total correlation of the mean vs the sampled representation against the regularisation strength
(Locatello et al. 2019, Sec. 5.1, Fig. 1: the mean representation's TC rises with the strength while
the sampled one's falls; TC is the Gaussian total correlation of the unsupervised scores)."""

from __future__ import annotations

import pandas as pd

from tfdisent.study.analysis.uncertainty import sample_sd

TC_COLUMN = "unsupervised.gaussian_total_correlation"


def tc_vs_strength(table: pd.DataFrame, strength: dict, column: str = TC_COLUMN) -> pd.DataFrame:
    """Median ``column`` per dataset, method, strength value and representation. ``strength`` maps a
    method to the hyperparameter that sets its regularisation strength (e.g. ``{"beta_vae": "beta"}``).
    Columns: dataset, method, hyperparameter, strength, mean, sampled (medians), ``mean sd`` /
    ``sampled sd`` (sample SDs over the models, ddof = 1) and models (n)."""
    rows = table[(table["status"] == "done") & table[column].notna()] if column in table else table.iloc[:0]
    out = []
    for method, hyper in strength.items():
        part = rows[(rows["method"] == method)]
        if part.empty or hyper not in part:
            continue
        for (dataset, value), group in part.groupby(["dataset", hyper]):
            medians = group.groupby("representation")[column].median()
            spread = group.groupby("representation")[column].agg(sample_sd)
            out.append({"dataset": dataset, "method": method, "hyperparameter": hyper, "strength": float(value),
                        "mean": medians.get("mean", float("nan")), "sampled": medians.get("sampled", float("nan")),
                        "mean sd": spread.get("mean", float("nan")), "sampled sd": spread.get("sampled", float("nan")),
                        "models": int(group["model_num"].nunique())})
    return pd.DataFrame(out, columns=["dataset", "method", "hyperparameter", "strength", "mean", "sampled", "mean sd",
                                      "sampled sd", "models"])
