"""Linear-probe R^2: how much of each ground-truth factor a *linear* readout of the code explains.

For factor k, ordinary least squares of the factor's value on the code (with intercept) is fitted on
``num_train`` i.i.d. points and scored on ``num_test`` others:

    R^2_k = 1 - sum_i (y_ik - yhat_ik)^2 / sum_i (y_ik - mean_train(y_k))^2,

(held-out R^2 against the training mean; 1 = perfectly linear readout, <= 0 = none). This is the
"linear probe" readout used, e.g., by Schott et al. (2022) and Eastwood et al. (2023, explicitness)
to ask whether factors are linearly decodable; it says nothing about how many code dimensions a
factor uses (see DCI, MIG for that). Scores: ``r2_per_factor`` (list), ``mean_r2``.

The metric follows tfdisent's metric protocol (``DEFAULTS``, ``CHOICES``, ``NEEDS_FACTORS``,
``MULTI_MODEL``, ``compute``) and draws its samples with tfdisent's own helper, like the built-ins.
"""

from __future__ import annotations

import numpy as np

from tfdisent.metrics.utils import generate_batch_factor_code

DEFAULTS = {"num_train": 10000, "num_test": 5000, "batch_size": 16, "target": "value"}
# "value": the factor's index on its grid; "standardized": the same, z-scored (R^2 is unchanged by an
# affine map of y, so both give the same score: the choice exists to show CHOICES being checked).
CHOICES = {"target": ("value", "standardized")}
NEEDS_FACTORS = True
MULTI_MODEL = False


def linear_probe_r2(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                    factors_test: np.ndarray) -> np.ndarray:
    """Held-out R^2 of an OLS fit (with intercept) of each factor column on the codes: [K]."""
    codes_train = np.asarray(codes_train, np.float64)
    codes_test = np.asarray(codes_test, np.float64)
    y_train = np.asarray(factors_train, np.float64)
    y_test = np.asarray(factors_test, np.float64)
    design_train = np.hstack([codes_train, np.ones((len(codes_train), 1))])
    design_test = np.hstack([codes_test, np.ones((len(codes_test), 1))])
    weights, *_ = np.linalg.lstsq(design_train, y_train, rcond=None)
    residual = ((y_test - design_test @ weights) ** 2).sum(axis=0)
    total = ((y_test - y_train.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - residual / total
    # A factor constant on the test set carries nothing to read out.
    return np.where(total > 0, r2, 0.0)


def compute(dataset, representation_fn, random_state, settings, cache=None) -> dict:
    """The protocol's entry point: draw, encode, probe (tfdisent validates ``settings`` first)."""
    codes_train, factors_train = generate_batch_factor_code(dataset, representation_fn, settings["num_train"],
                                                            random_state, settings["batch_size"], cache)
    codes_test, factors_test = generate_batch_factor_code(dataset, representation_fn, settings["num_test"],
                                                          random_state, settings["batch_size"], cache)
    if settings["target"] == "standardized":
        mean, std = factors_train.mean(axis=0), factors_train.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        factors_train, factors_test = (factors_train - mean) / std, (factors_test - mean) / std
    r2 = linear_probe_r2(codes_train, factors_train, codes_test, factors_test)
    return {"r2_per_factor": [float(v) for v in r2], "mean_r2": float(np.mean(r2)) if len(r2) else 0.0}
