"""Random-Fourier-feature probes: DCI-ES's ``rff`` probe family (Eastwood et al., ICLR 2023;
reference andreinicolicioiu/DCI-ES ``src/loss_capacity/probing.py`` ``RFFProbeIndividual``,
``configs/rff``), after Rahimi & Recht (NeurIPS 2007, "Random Features for Large-Scale Kernel
Machines").

A probe maps the (standardised) code ``z`` [L] to ``D`` fixed random features
``phi(z) = [cos(2 pi B z), sin(2 pi B z)]`` with ``B`` [D/2, L] drawn once from ``N(0, sigma^2)``
(``rff.layers.GaussianEncoding`` with ``encoded_size = D/2``: ``D`` features in all), and learns
only a linear head on them: one output for a continuous factor (MSE), one logit per class for a
categorical one (softmax cross-entropy). Capacity is ``D``; the features approximate a Gaussian
kernel of bandwidth ``1 / (2 pi sigma)``, so a larger ``D`` is a richer function class. The
reference's defaults: ``sigma = 0.08`` (``rff_sigma_gain``, scale 'const'), no hidden layer.

Training the head (the reference: AdamW, lr 2e-5, ``10 * 295488 // N`` epochs, the epoch with the
best validation score kept; 5% of the training split for validation). Here, on CPU, in numpy/scipy:

* continuous factors: the head's objective is convex (least squares), so it is solved exactly —
  ridge regression with the intercept unpenalised, the ridge strength chosen on a 5% validation
  split among 10 values (``RIDGE_GRID`` times the mean eigenvalue of the Gram matrix). The penalty
  stands in for the reference's early stopping (both keep the head from interpolating the training
  set once ``D`` nears the number of samples, where the unregularised least-squares head would
  blow up). One eigendecomposition (of the D x D or the n x n Gram matrix, whichever is smaller)
  serves every candidate strength;
* categorical factors: softmax regression by L-BFGS (scipy) from zero weights, at most
  ``max_iter`` iterations, with a weak L2 penalty (``SOFTMAX_L2``; the reference uses weight decay 0)
  only to keep the problem bounded on separable data; the iterate with the lowest validation
  cross-entropy is kept, as the reference keeps its best validation epoch.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from tfdisent.metrics import utils

REFERENCE_SIGMA = 0.08
# configs/rff: the grid reads ``16 ... 512, "1024 8192", 16384 ... 131072`` — a missing comma makes
# "1024 8192" one string; read here as the two values it was meant to be.
REFERENCE_FEATURES = (16, 32, 64, 128, 256, 512, 1024, 8192, 16384, 32768, 65536, 131072)
VALIDATION_FRACTION = 0.05
RIDGE_GRID = tuple(10.0 ** np.arange(-8, 2))
SOFTMAX_L2 = 1e-6


def draw_frequencies(num_features: int, input_dim: int, sigma: float, seed: int) -> np.ndarray:
    """``B`` [num_features // 2, input_dim] with entries ``N(0, sigma^2)``."""
    if num_features < 2 or num_features % 2:
        raise utils.MetricError(f"rff: the number of random features must be even and >= 2, got {num_features}")
    return np.random.default_rng(seed).normal(0.0, sigma, size=(num_features // 2, input_dim))


def fourier_features(x: np.ndarray, frequencies: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``[cos(2 pi x B^T), sin(2 pi x B^T)]`` [n, 2 * len(B)] in ``dtype``."""
    phases = (2.0 * np.pi) * (np.asarray(x, dtype) @ frequencies.T.astype(dtype))
    return np.concatenate([np.cos(phases), np.sin(phases)], axis=1)


class RFFProbe:
    """A random-Fourier-feature probe for one factor (see the module docstring).

    ``num_classes`` = 0: regression (``predict`` returns [n]); else classification over the labels
    ``0..num_classes-1`` (``predict_proba`` returns [n, num_classes], ``predict`` the argmax).
    """

    def __init__(self, num_features: int, input_dim: int, num_classes: int = 0, sigma: float = REFERENCE_SIGMA,
                 max_iter: int = 200, seed: int = utils.ESTIMATOR_SEED):
        self.frequencies = draw_frequencies(int(num_features), int(input_dim), float(sigma), seed)
        self.num_classes, self.max_iter, self.seed = int(num_classes), int(max_iter), seed
        self.weights: Optional[np.ndarray] = None  # [D] or [D, C]
        self.bias = None
        self.ridge_alpha: Optional[float] = None  # the chosen ridge strength (regression)

    @property
    def num_parameters(self) -> int:
        """Trainable parameters of the head (the random features are fixed)."""
        outputs = self.num_classes or 1
        return (len(self.frequencies) * 2 + 1) * outputs

    def fit(self, x: np.ndarray, y: np.ndarray) -> "RFFProbe":
        features = fourier_features(x, self.frequencies)
        order = np.random.default_rng(self.seed).permutation(len(features))
        num_validation = max(1, int(round(VALIDATION_FRACTION * len(features)))) if len(features) > 20 else 0
        validation, train = order[:num_validation], order[num_validation:]
        if self.num_classes:
            self._fit_softmax(features[train], y[train], features[validation], y[validation])
        else:
            self._fit_ridge(features[train], np.asarray(y, np.float64)[train], features[validation],
                            np.asarray(y, np.float64)[validation])
        return self

    def _fit_ridge(self, phi, y, phi_val, y_val) -> None:
        phi_mean, y_mean = phi.mean(axis=0), y.mean()
        centred, target = phi - phi_mean, y - y_mean
        primal = centred.shape[1] <= centred.shape[0]
        gram = centred.T @ centred if primal else centred @ centred.T
        eigenvalues, vectors = np.linalg.eigh(gram)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        scale = max(float(eigenvalues.mean()), 1e-12)
        # weights(alpha) = basis @ (projection / (eigenvalues + alpha)); validation predictions alike.
        if primal:
            basis, projection = vectors, vectors.T @ (centred.T @ target)
        else:
            basis, projection = centred.T @ vectors, vectors.T @ target
        best, best_error = None, np.inf
        for ratio in RIDGE_GRID:
            coefficients = projection / (eigenvalues + ratio * scale)
            if len(y_val):
                error = float(np.mean(((phi_val - phi_mean) @ (basis @ coefficients) - (y_val - y_mean)) ** 2))
            else:
                error = ratio  # no validation data: the weakest penalty
            if error < best_error:
                best, best_error, self.ridge_alpha = coefficients, error, ratio * scale
        self.weights = basis @ best
        self.bias = y_mean - float(phi_mean @ self.weights)

    def _fit_softmax(self, phi, y, phi_val, y_val) -> None:
        from scipy.optimize import minimize

        num_features, num_classes = phi.shape[1], self.num_classes
        onehot = np.eye(num_classes)[np.asarray(y, np.int64)]

        def unpack(theta):
            return theta[:-num_classes].reshape(num_features, num_classes), theta[-num_classes:]

        def log_probabilities(features, theta):
            weights, bias = unpack(theta)
            logits = features @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

        def objective(theta):
            log_p = log_probabilities(phi, theta)
            weights, _ = unpack(theta)
            loss = -float(np.mean(np.sum(onehot * log_p, axis=1))) + 0.5 * SOFTMAX_L2 * float(np.sum(weights ** 2))
            residual = (np.exp(log_p) - onehot) / len(phi)
            gradient = np.concatenate([(phi.T @ residual + SOFTMAX_L2 * weights).ravel(), residual.sum(axis=0)])
            return loss, gradient

        best = {"theta": np.zeros(num_features * num_classes + num_classes), "loss": np.inf}

        def keep_best(theta):
            if len(y_val):
                loss = -float(np.mean(log_probabilities(phi_val, theta)[np.arange(len(y_val)), y_val]))
                if loss < best["loss"]:
                    best.update(theta=np.array(theta), loss=loss)

        y_val = np.asarray(y_val, np.int64)
        keep_best(best["theta"])
        result = minimize(objective, best["theta"], jac=True, method="L-BFGS-B", callback=keep_best,
                          options={"maxiter": self.max_iter})
        theta = best["theta"] if len(y_val) else result.x
        self.weights, self.bias = unpack(theta)

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        # Predictions in float32: SAGE calls them on 32 x 128 imputed rows per step, and the
        # cos/sin and the product dominate its cost; the head is fitted in float64.
        features = fourier_features(x, self.frequencies, np.float32)
        return (features @ self.weights.astype(np.float32)).astype(np.float64) + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logits = self._outputs(x)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.num_classes:
            return np.argmax(self.predict_proba(x), axis=1)
        return self._outputs(x)
