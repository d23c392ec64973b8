"""R² of a readout on held-out factor combinations (Schott et al. 2022, "Visual Representation Learning
Does Not Generalize Strongly Within the Same Domain", ICLR; Sec. 3-4; bethgelab/InDomainGeneralizationBenchmark
``evaluate_model``).

The factor grid is split (:mod:`tfdisent.data.splits`: random, composition, interpolation or
extrapolation); a regression from the representation to the factors is fit on samples of the split's
train part and scored on samples of its held-out part. As in the reference, every factor (categorical
shape too) is a regression target normalised to index/(K - 1), and

    R²_k = 1 - MSE_k / Var_k,   Var_k = (K_k + 1) / (12 (K_k - 1)),

the variance of the normalised factor over the **full grid** (0.25 for K = 2, 1/6 for K = 3), so
predicting the grid mean scores 0 and an out-of-distribution test part can score below 0. Keys:
``rsquared`` (mean over factors), ``mse``, ``rsquared_<factor>``, ``mse_<factor>``. The reference ranks
models on the extrapolation split (the default here) and uses the others for tuning.

Readout: the reference trains its models end to end; for a frozen representation the readout is
``mlp`` (scikit-learn's ``MLPRegressor``, two hidden layers of 100 ReLU units, Adam, early stopping on a
10% validation part of the train samples; the benchmark's readout width is not documented in the
reference file, so this size is ours, chosen for speed: 5,000 train points fit in seconds) or ``linear`` (least squares). Inputs are standardised with the
train samples' mean and SD. Factors with a single value (Var undefined) are left out.

To score a model trained on the same split, give the metric the training run's split settings
(``split``, ``train_fraction``, ``split_seed``); a study does this check for you.
"""

from __future__ import annotations

import warnings
from typing import Dict, Sequence

import numpy as np

from tfdisent.data.ground_truth import indices_to_factors
from tfdisent.data.splits import SPLITS, make_split
from tfdisent.metrics import utils

NAME = "heldout_r2"
REFERENCE_NAME = "rsquared"
NEEDS_FACTORS = True
DEFAULTS = {"split": "extrapolation", "train_fraction": 0.3, "split_seed": 0, "num_train": 5000, "num_test": 5000,
            "readout": "mlp", "batch_size": 64}
CHOICES = {"split": SPLITS, "readout": ("mlp", "linear")}
SCORE_KEYS = ("rsquared", "mse")
MLP_HIDDEN = (100, 100)  # our choice (module docstring); 256-256 took 2x longer for the same fit


def grid_variance(factor_sizes: Sequence[int]) -> np.ndarray:
    """Var of index/(K-1) for an index uniform over [0, K): (K + 1) / (12 (K - 1)); NaN for K = 1."""
    sizes = np.asarray(factor_sizes, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sizes > 1, (sizes + 1.0) / (12.0 * (sizes - 1.0)), np.nan)


def normalised_targets(factors: np.ndarray, factor_sizes: Sequence[int]) -> np.ndarray:
    """Factor indices scaled to [0, 1] per factor (index / (K - 1); 0 for K = 1)."""
    sizes = np.asarray(factor_sizes, np.float64)
    return np.asarray(factors, np.float64) / np.maximum(sizes - 1.0, 1.0)


def rsquared_scores(predictions: np.ndarray, factors: np.ndarray, factor_sizes: Sequence[int],
                    factor_names: Sequence[str]) -> Dict[str, float]:
    """The reference's keys from predictions [N, K] of the normalised targets and the true factors [N, K]."""
    targets = normalised_targets(factors, factor_sizes)
    mse = np.mean((np.asarray(predictions, np.float64) - targets) ** 2, axis=0)
    variance = grid_variance(factor_sizes)
    scored = np.isfinite(variance)
    if not scored.any():
        raise utils.MetricError("heldout_r2: every factor has a single value; nothing to regress")
    rsquared = 1.0 - mse / np.where(scored, variance, 1.0)
    scores: Dict[str, float] = {"rsquared": float(np.mean(rsquared[scored])), "mse": float(np.mean(mse[scored]))}
    for k, name in enumerate(factor_names):
        if scored[k]:
            scores[f"rsquared_{name}"] = float(rsquared[k])
            scores[f"mse_{name}"] = float(mse[k])
    return scores


def fit_readout(codes: np.ndarray, targets: np.ndarray, readout: str, seed: int):
    """A fitted function codes [N, d] -> predictions [N, K] (standardised inputs, see the module docstring)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if readout == "linear":
        model = LinearRegression()
    elif readout == "mlp":
        model = MLPRegressor(hidden_layer_sizes=MLP_HIDDEN, early_stopping=True, validation_fraction=0.1,
                             max_iter=200, random_state=seed)
    else:
        raise utils.MetricError(f"heldout_r2.readout must be mlp or linear, got {readout!r}")
    # One BLAS thread, as every metric fit (utils.fit_classifier): more only oversubscribes a shared machine.
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        return make_pipeline(StandardScaler(), model).fit(codes, targets)


def heldout_rsquared(train_codes: np.ndarray, train_factors: np.ndarray, test_codes: np.ndarray,
                     test_factors: np.ndarray, factor_sizes: Sequence[int], factor_names: Sequence[str],
                     readout: str = "mlp", seed: int = 0) -> Dict[str, float]:
    """Fits the readout on the train samples and scores R² (full-grid variance) on the test samples."""
    model = fit_readout(np.asarray(train_codes, np.float64), normalised_targets(train_factors, factor_sizes),
                        readout, seed)
    predictions = np.asarray(model.predict(np.asarray(test_codes, np.float64)), np.float64)
    return rsquared_scores(predictions.reshape(len(test_codes), -1), test_factors, factor_sizes, factor_names)


def _encode_indices(dataset, representation_fn, indices: np.ndarray, random_state, batch_size: int):
    factors = indices_to_factors(indices, dataset.factor_sizes)

    def batches():
        for start in range(0, len(factors), batch_size):
            yield dataset.sample_observations_from_factors(factors[start:start + batch_size], random_state)

    return utils.encode_batches(representation_fn, batches()), factors


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    del cache  # draws from the split's parts, not the i.i.d. samples other metrics share
    utils.check_positive_int(settings, "num_train", "num_test", "batch_size")
    utils.check_positive_int(settings, "split_seed", minimum=0)
    try:
        train, test = make_split(settings["split"], dataset.factor_sizes, settings["train_fraction"],
                                 settings["split_seed"])
    except ValueError as error:
        raise utils.MetricError(f"heldout_r2: {error}") from None
    # Uniform draws (with replacement, like every other metric's samples) from each part.
    train_draw = train[random_state.randint(len(train), size=settings["num_train"])]
    test_draw = test[random_state.randint(len(test), size=settings["num_test"])]
    train_codes, train_factors = _encode_indices(dataset, representation_fn, train_draw, random_state,
                                                 settings["batch_size"])
    test_codes, test_factors = _encode_indices(dataset, representation_fn, test_draw, random_state,
                                               settings["batch_size"])
    names = getattr(dataset, "factor_names", None) or [f"factor_{k}" for k in range(len(dataset.factor_sizes))]
    readout_seed = int(random_state.randint(2 ** 31 - 1))
    return heldout_rsquared(train_codes, train_factors, test_codes, test_factors, dataset.factor_sizes, names,
                            settings["readout"], readout_seed)
