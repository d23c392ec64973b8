"""BetaVAE disentanglement score (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts
with a Constrained Variational Framework", Sec. 3 and Appendix A.4).

One training point: pick a factor ``k`` uniformly, draw two batches of ``batch_size`` factor
vectors that agree on factor ``k``, encode both and take the feature
``z_diff = mean_b |r(x1_b) - r(x2_b)|`` (Eq. in Sec. 3, averaged over L = batch_size pairs); the
label is ``k``. A linear classifier predicts ``k`` from ``z_diff``; the score is its accuracy.

Reference: disentanglement_lib ``evaluation/metrics/beta_vae.py`` (gin ``beta_vae_sklearn``),
study defaults batch_size=64, num_train=10000, num_eval=5000; keys ``train_accuracy``,
``eval_accuracy``.

Deviations from the reference:
* The classifier is ``LogisticRegression()`` with today's scikit-learn defaults (lbfgs,
  multinomial, max_iter=100); the 2019 default was liblinear one-vs-rest, so accuracies can
  differ by a little. Convergence warnings are silenced.
* Random draws are made in the reference's order (per point: ``randint``, two
  ``sample_factors``, two renderings), but all observations of many points are encoded in one
  call and the features are computed with one vectorised reduction.
* A dataset with a single factor yields a one-class problem, scored by a constant classifier
  (accuracy 1) instead of crashing in scikit-learn.
"""

from __future__ import annotations

from typing import Iterator, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression

from tfdisent.metrics import utils

NAME = "beta_vae"
REFERENCE_NAME = "beta_vae_sklearn"
NEEDS_FACTORS = True
DEFAULTS = {"batch_size": 64, "num_train": 10000, "num_eval": 5000}
SCORE_KEYS = ("train_accuracy", "eval_accuracy")


def paired_difference_features(codes_first: np.ndarray, codes_second: np.ndarray) -> np.ndarray:
    """``mean_b |z1_b - z2_b|`` for many points at once: [P, B, d] x [P, B, d] -> [P, d]."""
    return np.mean(np.abs(codes_first - codes_second), axis=1)


def beta_vae_score(train_features: np.ndarray, train_labels: np.ndarray,
                   eval_features: np.ndarray, eval_labels: np.ndarray) -> dict:
    """Accuracy of a logistic regression predicting the fixed factor from the features."""
    model = utils.fit_classifier(lambda: LogisticRegression(random_state=utils.ESTIMATOR_SEED),
                                 train_features, train_labels)
    return {"train_accuracy": utils.accuracy(model, train_features, train_labels),
            "eval_accuracy": utils.accuracy(model, eval_features, eval_labels)}


def sample_paired_features(dataset, representation_fn: utils.RepresentationFn, num_points: int,
                           batch_size: int, random_state: np.random.RandomState
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Draws ``num_points`` training points: features [num_points, d] and labels [num_points]."""
    num_factors = utils.num_factors_of(dataset)
    labels = np.zeros(num_points, dtype=np.int64)

    def draws() -> Iterator[np.ndarray]:
        # Same draws, same order as the reference's _generate_training_sample.
        for point in range(num_points):
            fixed_factor = random_state.randint(num_factors)
            factors_first = dataset.sample_factors(batch_size, random_state)
            factors_second = dataset.sample_factors(batch_size, random_state)
            factors_second[:, fixed_factor] = factors_first[:, fixed_factor]
            labels[point] = fixed_factor
            yield dataset.sample_observations_from_factors(factors_first, random_state)
            yield dataset.sample_observations_from_factors(factors_second, random_state)

    codes = utils.encode_batches(representation_fn, draws())
    codes = codes.reshape(num_points, 2, batch_size, codes.shape[-1])
    return paired_difference_features(codes[:, 0], codes[:, 1]), labels


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "batch_size", "num_train", "num_eval")
    train_features, train_labels = sample_paired_features(
        dataset, representation_fn, settings["num_train"], settings["batch_size"], random_state)
    # The reference fits the classifier before drawing the evaluation set; the fit does not
    # consume the random state, so drawing both first gives identical samples.
    eval_features, eval_labels = sample_paired_features(
        dataset, representation_fn, settings["num_eval"], settings["batch_size"], random_state)
    return beta_vae_score(train_features, train_labels, eval_features, eval_labels)
