"""Models whose resolved objective is identical, counted once.

disentanglement_lib's grids contain settings that are the same loss under another name: beta-VAE with
beta = 1 is the VAE (Higgins et al. 2017, Eq. 4), and beta-TCVAE with beta = 1 is too in
disentanglement_lib's formulation (VAE loss + (beta - 1) * TC; Chen et al. 2018, Eq. 4 with alpha = gamma = 1).
Counting both rows of one objective twice inflates every analysis (a "setting" with twice the seeds, a
seed effect that is really a duplicate). :func:`deduplicate_objectives` keeps one row per (dataset,
objective, seed, steps) and relabels the surviving rows of one objective with one setting name.

The reductions are a table here, read from each method's declared loss (tfdisent/methods/*.py
docstrings), rather than a hook on the method classes: the study layer works on result tables (which may
come from disentanglement_lib's JSON too), and the method classes are being reorganised (issue 17). A
method class that declares ``canonical_objective(hyperparameters) -> (method, hyperparameters)`` takes
precedence once the registry provides it (see :func:`objective_key`).
"""

from __future__ import annotations

from typing import Callable, Dict, Mapping, Tuple

import numpy as np
import pandas as pd

# method -> (hyperparameter, value at which the loss is the plain VAE's, the equation that says so)
REDUCES_TO_VAE: Dict[str, Tuple[str, float, str]] = {
    "beta_vae": ("beta", 1.0, "recon + beta KL (Higgins et al. 2017, Eq. 4)"),
    "beta_tcvae": ("beta", 1.0, "recon + KL + (beta - 1) TC (disentanglement_lib; Chen et al. 2018, Eq. 4)"),
    "dip_vae_i": ("lambda_od", 0.0, "recon + KL + lambda_od off-diag + lambda_d_factor lambda_od diag"),
    "dip_vae_ii": ("lambda_od", 0.0, "recon + KL + lambda_od off-diag + lambda_d_factor lambda_od diag"),
}
# Columns that describe the training distribution rather than the objective (issue 20's protocols: the
# aggregate's ``protocol_columns``). Two models with one objective but different training data are
# different experiments, so these are part of a model's identity next to dataset, seed and steps.
TRAINING_DISTRIBUTION_COLUMNS = ("correlated_factors", "correlation_strength", "heldout_split",
                                 "heldout_train_fraction", "heldout_seed")

# method -> the hyperparameters that are part of its objective (the table's columns that describe it)
OBJECTIVE_HYPERPARAMETERS: Dict[str, Tuple[str, ...]] = {
    "beta_vae": ("beta",), "beta_tcvae": ("beta",), "factor_vae": ("gamma",),
    "dip_vae_i": ("lambda_od", "lambda_d_factor"), "dip_vae_ii": ("lambda_od", "lambda_d_factor"),
    "annealed_vae": ("c_max", "gamma", "iteration_threshold"), "vae": (),
}


def objective_key(method: str, hyperparameters: Mapping[str, float],
                  canonical: Callable[[str, Mapping[str, float]], Tuple[str, Mapping[str, float]]] = None) -> tuple:
    """A hashable key equal for two (method, hyperparameters) exactly when their losses are identical
    (as far as :data:`REDUCES_TO_VAE` knows). ``canonical`` is an optional per-method declaration
    ``(method, hyperparameters) -> (method, hyperparameters)`` that wins over the table."""
    if canonical is not None:
        method, hyperparameters = canonical(method, hyperparameters)
    rule = REDUCES_TO_VAE.get(method)
    if rule is not None:
        name, value, _ = rule
        current = hyperparameters.get(name)
        if current is not None and np.isfinite(float(current)) and float(current) == value:
            return ("vae",)
    names = OBJECTIVE_HYPERPARAMETERS.get(method, tuple(sorted(hyperparameters)))
    values = []
    for name in names:
        value = hyperparameters.get(name)
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            continue  # a default the table does not record: the same default for every row of the method
        values.append((name, float(value)))
    return (method,) + tuple(values)


def deduplicate_objectives(table: pd.DataFrame) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """``(table without duplicate models, duplicates)``.

    Models with the same dataset, objective (:func:`objective_key`), seed and steps are the same
    experiment: only the one with the lowest ``model_num`` is kept (all its representations). Surviving
    models of one objective get the ``config`` (and ``method``) of that objective's first model, so a
    setting is one objective. ``duplicates`` lists each dropped model with the model it duplicates
    (columns: dataset, model_num, config, seed, kept_model_num, kept_config, objective)."""
    columns = ["dataset", "model_num", "config", "seed", "kept_model_num", "kept_config", "objective"]
    if table.empty or "method" not in table:
        return table, pd.DataFrame(columns=columns)
    models = table.drop_duplicates("model_num").copy()
    hyper_columns = sorted({n for names in OBJECTIVE_HYPERPARAMETERS.values() for n in names} & set(table.columns))
    keys = {}
    for row in models.itertuples(index=False):
        hyperparameters = {n: getattr(row, n) for n in hyper_columns if pd.notna(getattr(row, n))}
        keys[row.model_num] = objective_key(str(row.method), hyperparameters)
    models["objective_"] = models["model_num"].map(lambda m: "/".join(
        p if isinstance(p, str) else f"{p[0]}={p[1]:g}" for p in keys[m]))
    steps = models["steps"] if "steps" in models else pd.Series(0, index=models.index)
    models["steps_"] = steps.fillna(-1)
    # The training distribution joins the objective in a model's identity: the same loss on other data
    # is another experiment.
    for column in TRAINING_DISTRIBUTION_COLUMNS:
        if column in models:
            models["objective_"] += models[column].map(lambda v, c=column: "" if _missing(v) else f" @{c}={v}")
    models = models.sort_values("model_num")
    first_of_objective = {(d, o): (c, m) for d, o, c, m in models.drop_duplicates(["dataset", "objective_"])[
        ["dataset", "objective_", "config", "method"]].itertuples(index=False)}
    kept = models.drop_duplicates(["dataset", "objective_", "seed", "steps_"], keep="first")
    dropped = models[~models["model_num"].isin(kept["model_num"])]
    out = []
    for row in dropped.itertuples(index=False):
        match = kept[(kept["dataset"] == row.dataset) & (kept["objective_"] == row.objective_)
                     & (kept["seed"] == row.seed) & (kept["steps_"] == row.steps_)].iloc[0]
        out.append({"dataset": row.dataset, "model_num": row.model_num, "config": row.config, "seed": row.seed,
                    "kept_model_num": match["model_num"], "kept_config": match["config"],
                    "objective": row.objective_})
    result = table[table["model_num"].isin(kept["model_num"]) | table["model_num"].isna()].copy()
    relabel = {}
    for row in kept.itertuples(index=False):
        relabel[row.model_num] = first_of_objective[(row.dataset, row.objective_)]
    mask = result["model_num"].isin(list(relabel))
    result.loc[mask, "config"] = result.loc[mask, "model_num"].map(lambda m: relabel[m][0])
    result.loc[mask, "method"] = result.loc[mask, "model_num"].map(lambda m: relabel[m][1])
    return result, pd.DataFrame(out, columns=columns)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
