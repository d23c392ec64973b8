"""SAGE feature importances (Covert, Lundberg & Lee, NeurIPS 2020, "Understanding Global Feature
Contributions With Additive Importance Measures").

SAGE values are the Shapley values of the cooperative game ``v(S) = -E[loss(f_S(x), y)]`` whose
players are the input features: ``f_S`` is the model with the features outside ``S`` removed. This
module implements the paper's estimator as the DCI-ES reference uses it (its vendored ``sage``
package: ``MarginalImputer`` + ``PermutationEstimator``), as one small numpy function:

* **marginal imputation** (paper Sec. 4, "Removing features"): a feature outside ``S`` is replaced
  by its value in each of ``M`` background rows and the model's predictions are averaged over the
  ``M`` rows (``f_S(x) = 1/M sum_m f(x_S, b_m,not S)``, the product-of-marginals approximation of
  ``E[f(X) | X_S = x_S]``; exact for independent features);
* **permutation sampling** (paper Alg. 1): draw ``batch_size`` data rows (with replacement) and
  one random feature order per row; add the features one at a time and credit each with the loss
  decrease it causes (``loss(f_{S}) - loss(f_{S + i})``). Every row's credits sum to
  ``loss(f_empty) - loss(f)`` (telescoping), so the estimates satisfy the efficiency property
  exactly on the rows drawn;
* running means and variances (Welford) give each value's standard error ``std``; sampling stops
  when ``max(std) / (max(values) - min(values)) < thresh`` (the reference's convergence rule; it
  uses ``thresh=0.1`` for DCI-ES, the package's default is 0.025) or after ``max_permutations``.

Losses: ``"mse"`` (``y`` real, predictions ``[n]`` or ``[n, 1]``) and ``"cross_entropy"`` (``y``
integer class indices in ``0..C-1``, predictions class probabilities ``[n, C]``), or any
``callable(predictions, y) -> per-row losses``.

Known answers (tests/test_metrics_sage.py): for a linear model ``f(x) = beta . x`` with independent
features and the MSE loss, the SAGE value of feature i is ``beta_i^2 E[(x_i - m_i)^2]`` with ``m_i``
the background mean (= ``beta_i^2 Var(x_i)`` for a large background); a feature the model ignores
gets exactly 0; the values sum to ``loss(f_empty) - loss(f)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from tfdisent.metrics import utils

LOSSES = ("mse", "cross_entropy")
REFERENCE_THRESHOLD = 0.1  # the DCI-ES reference's ``sage_thresh``
REFERENCE_BACKGROUND = 32  # the DCI-ES reference's marginal samples (the first 32 test rows)
REFERENCE_BATCH_SIZE = 128


@dataclass(frozen=True)
class SageResult:
    """``values`` [L] SAGE values (loss units), ``std`` [L] their standard errors, the number of
    permutations sampled and whether the convergence rule was met (not just the budget spent)."""

    values: np.ndarray
    std: np.ndarray
    num_permutations: int
    converged: bool


def per_row_loss(name: Union[str, Callable]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The per-row loss function for ``name`` (``mse``, ``cross_entropy``) or ``name`` itself."""
    if callable(name):
        return name
    if name == "mse":
        def mse(predictions, y):
            predictions = np.asarray(predictions, np.float64)
            if predictions.ndim == 2 and predictions.shape[1] == 1:
                predictions = predictions[:, 0]
            return (predictions - y) ** 2
        return mse
    if name == "cross_entropy":
        def cross_entropy(probabilities, y):
            probabilities = np.asarray(probabilities, np.float64)
            # Clipped as the reference package clips, so a confident wrong class costs a finite loss.
            picked = probabilities[np.arange(len(y)), np.asarray(y, np.int64)]
            return -np.log(np.clip(picked, 1e-12, 1.0))
        return cross_entropy
    raise utils.MetricError(f"sage: unknown loss {name!r}; choose one of {', '.join(LOSSES)} or pass a function")


def marginal_predictions(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, present: np.ndarray,
                         background: np.ndarray) -> np.ndarray:
    """Predictions [n, ...] for rows ``x`` [n, L] with the features where ``present`` [n, L] is False
    replaced by each background row [M, L] in turn, averaged over the M background rows."""
    n, m = len(x), len(background)
    filled = np.where(present[:, None, :], x[:, None, :], background[None, :, :]).reshape(n * m, -1)
    predictions = np.asarray(predict(filled), np.float64)
    return predictions.reshape(n, m, *predictions.shape[1:]).mean(axis=1)


def sage_values(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                loss: Union[str, Callable] = "mse", background: Optional[np.ndarray] = None,
                batch_size: int = REFERENCE_BATCH_SIZE, thresh: float = REFERENCE_THRESHOLD,
                max_permutations: int = 100_000, random_state: Union[int, np.random.Generator] = 0) -> SageResult:
    """SAGE values of the features of ``x`` [N, L] for the model ``predict`` and targets ``y`` [N]
    (see the module docstring). ``background`` [M, L] defaults to the first
    ``REFERENCE_BACKGROUND`` rows of ``x`` (the reference's choice). Sampling proceeds in batches
    of ``batch_size`` permutations until the convergence rule holds or ``max_permutations`` have
    been used (at least one batch)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or len(x) == 0 or len(y) != len(x):
        raise utils.MetricError(f"sage: x {x.shape} must be [N, L] with N > 0 and y [N], got y {y.shape}")
    if not 0.0 < float(thresh) < 1.0 or int(batch_size) < 1 or int(max_permutations) < 1:
        raise utils.MetricError(f"sage: need 0 < thresh < 1, batch_size >= 1, max_permutations >= 1; got "
                                f"{thresh}, {batch_size}, {max_permutations}")
    background = x[:REFERENCE_BACKGROUND] if background is None else np.asarray(background, np.float64)
    if background.ndim != 2 or background.shape[1] != x.shape[1] or len(background) == 0:
        raise utils.MetricError(f"sage: background {background.shape} must be [M, {x.shape[1]}] with M > 0")
    loss_fn = per_row_loss(loss)
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    num_features = x.shape[1]
    count, mean, squares = 0, np.zeros(num_features), np.zeros(num_features)
    rows = np.arange(batch_size)
    converged = False
    while count < max_permutations:
        picked = rng.integers(0, len(x), size=batch_size)
        xb, yb = x[picked], y[picked]
        orders = np.argsort(rng.random((batch_size, num_features)), axis=1)  # one uniform permutation per row
        present = np.zeros((batch_size, num_features), dtype=bool)
        credits = np.zeros((batch_size, num_features))
        previous = loss_fn(marginal_predictions(predict, xb, present, background), yb)
        for step in range(num_features):
            present[rows, orders[:, step]] = True
            current = loss_fn(marginal_predictions(predict, xb, present, background), yb)
            credits[rows, orders[:, step]] = previous - current
            previous = current
        # Welford's update with a whole batch (Chan et al.'s parallel form).
        batch_mean = credits.mean(axis=0)
        batch_squares = ((credits - batch_mean) ** 2).sum(axis=0)
        total = count + batch_size
        delta = batch_mean - mean
        mean = mean + delta * batch_size / total
        squares = squares + batch_squares + delta ** 2 * count * batch_size / total
        count = total
        std = np.sqrt(squares / max(count - 1, 1) / count)
        gap = max(float(mean.max() - mean.min()), 1e-12)
        if count > 1 and float(std.max()) / gap < thresh:
            converged = True
            break
    return SageResult(values=mean, std=std, num_permutations=count, converged=converged)
