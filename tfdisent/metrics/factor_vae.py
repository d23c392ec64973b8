"""FactorVAE disentanglement score (Kim & Mnih 2018, "Disentangling by Factorising", Sec. 4).

Each code dimension is scaled by its global standard deviation (over ``num_variance_estimate``
random observations). One vote: fix a random factor ``k`` to a random value across a batch of
``batch_size`` observations, encode, and take the dimension with the smallest normalised
variance ``argmin_d Var_batch(z_d) / Var_global(z_d)``; the vote is ``(dimension, k)``. A
majority-vote classifier maps each dimension to the factor it most often wins for; the score is
the fraction of votes it gets right (train votes; eval votes with the train classifier).
Dimensions whose global std is below ``prune_threshold`` (collapsed to the prior) never vote.

Reference: disentanglement_lib ``evaluation/metrics/factor_vae.py`` (gin ``factor_vae_score``),
study defaults batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000,
``prune_dims.threshold=0.05``; keys ``train_accuracy``, ``eval_accuracy``, ``num_active_dims``.

Deviations from the reference:
* ``num_active_dims`` is the number of active (un-pruned) dimensions; the reference returns the
  length of the mask, i.e. the total number of dimensions.
* The reference takes the argmin inside the active subset and uses it as a column of the full
  vote matrix; we map it back to the true dimension. Accuracies are unchanged (columns are only
  relabelled), but the vote matrix now means what it says.
* Dimensions with zero global variance are never active, even with ``prune_threshold=0``
  (the reference would divide 0 by 0 there).
* Votes are computed vectorised over many batches; the random draws keep the reference's order.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from tfdisent.metrics import utils

NAME = "factor_vae"
REFERENCE_NAME = "factor_vae_score"
NEEDS_FACTORS = True
DEFAULTS = {"batch_size": 64, "num_train": 10000, "num_eval": 5000,
            "num_variance_estimate": 10000, "prune_threshold": 0.05}
SCORE_KEYS = ("train_accuracy", "eval_accuracy", "num_active_dims")


def active_dimensions(global_variances: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of dimensions that are not collapsed: ``std >= threshold`` and ``var > 0``."""
    global_variances = np.asarray(global_variances, dtype=np.float64)
    return (np.sqrt(global_variances) >= threshold) & (global_variances > 0)


def factor_vae_votes(local_variances: np.ndarray, fixed_factors: np.ndarray,
                     global_variances: np.ndarray, active: np.ndarray, num_factors: int) -> np.ndarray:
    """Vote matrix [num_factors, d] from per-batch variances [P, d] and fixed factors [P]."""
    active_indices = np.flatnonzero(active)
    ratios = local_variances[:, active_indices] / global_variances[active_indices]
    winners = active_indices[np.argmin(ratios, axis=1)]
    votes = np.zeros((num_factors, len(global_variances)), dtype=np.int64)
    np.add.at(votes, (np.asarray(fixed_factors, dtype=np.int64), winners), 1)
    return votes


def factor_vae_score(train_votes: np.ndarray, eval_votes: np.ndarray) -> dict:
    """Majority-vote classifier fitted on ``train_votes``; accuracy on both vote matrices."""
    classifier = np.argmax(train_votes, axis=0)  # factor predicted for each dimension
    columns = np.arange(train_votes.shape[1])

    def vote_accuracy(votes):
        total = votes.sum()
        return float(votes[classifier, columns].sum() / total) if total else 0.0

    return {"train_accuracy": vote_accuracy(train_votes), "eval_accuracy": vote_accuracy(eval_votes)}


def sample_votes(dataset, representation_fn, num_points: int, batch_size: int,
                 random_state: np.random.RandomState, global_variances: np.ndarray,
                 active: np.ndarray) -> np.ndarray:
    num_factors = utils.num_factors_of(dataset)
    fixed_factors = np.zeros(num_points, dtype=np.int64)

    def draws() -> Iterator[np.ndarray]:
        # Same draws, same order as the reference's _generate_training_sample.
        for point in range(num_points):
            factor = random_state.randint(num_factors)
            factors = dataset.sample_factors(batch_size, random_state)
            factors[:, factor] = factors[0, factor]
            fixed_factors[point] = factor
            yield dataset.sample_observations_from_factors(factors, random_state)

    codes = utils.encode_batches(representation_fn, draws())
    codes = codes.reshape(num_points, batch_size, codes.shape[-1])
    local_variances = np.var(codes, axis=1, ddof=1)
    return factor_vae_votes(local_variances, fixed_factors, global_variances, active, num_factors)


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "num_train", "num_eval")
    utils.check_positive_int(settings, "batch_size", "num_variance_estimate", minimum=2)
    observations = dataset.sample_observations(settings["num_variance_estimate"], random_state)
    codes = utils.encode_array(representation_fn, observations)
    del observations
    global_variances = np.var(codes, axis=0, ddof=1)
    active = active_dimensions(global_variances, settings["prune_threshold"])
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train_votes = sample_votes(dataset, representation_fn, settings["num_train"],
                               settings["batch_size"], random_state, global_variances, active)
    eval_votes = sample_votes(dataset, representation_fn, settings["num_eval"],
                              settings["batch_size"], random_state, global_variances, active)
    scores = factor_vae_score(train_votes, eval_votes)
    scores["num_active_dims"] = int(active.sum())
    return scores
