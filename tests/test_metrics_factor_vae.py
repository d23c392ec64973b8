"""FactorVAE score: reference-faithful votes, known answers, pruning and invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import factor_vae
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)
FAST = {"num_train": 400, "num_eval": 200, "num_variance_estimate": 2000}


def score(kind, seed=0, **kwargs):
    return metrics.compute("factor_vae", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(seed), **FAST)


def reference_votes(dataset, representation_fn, batch_size, num_points, random_state, global_variances, active):
    """disentanglement_lib's loop, with the argmin mapped back to the full dimension index."""
    votes = np.zeros((dataset.num_factors, len(global_variances)), dtype=np.int64)
    for _ in range(num_points):
        index = random_state.randint(dataset.num_factors)
        factors = dataset.sample_factors(batch_size, random_state)
        factors[:, index] = factors[0, index]
        codes = representation_fn(dataset.sample_observations_from_factors(factors, random_state))
        local = np.var(codes, axis=0, ddof=1)
        winner = np.flatnonzero(active)[np.argmin(local[active] / global_variances[active])]
        votes[index, winner] += 1
    return votes


def test_vectorized_votes_match_the_reference_loop():
    dataset = IdentityObservations(SIZES)
    representation = SyntheticRepresentation(SIZES, "mixed", seed=2)
    global_variances = np.array([1.0, 1.1, 0.9, 1.0, 1.2, 0.8])
    active = np.array([True, True, False, True, True, True])
    votes = factor_vae.sample_votes(dataset, representation, 50, 16, np.random.RandomState(4), global_variances, active)
    representation = SyntheticRepresentation(SIZES, "mixed", seed=2)
    expected = reference_votes(dataset, representation, 16, 50, np.random.RandomState(4), global_variances, active)
    np.testing.assert_array_equal(votes, expected)
    assert votes[:, 2].sum() == 0


def test_majority_vote_accuracy_by_hand():
    train = np.array([[8, 0, 1], [2, 5, 0]])
    evaluation = np.array([[3, 1, 0], [1, 3, 2]])
    result = factor_vae.factor_vae_score(train, evaluation)
    assert result["train_accuracy"] == pytest.approx(14 / 16)  # 8 + 5 + 1
    assert result["eval_accuracy"] == pytest.approx(6 / 10)  # 3 + 3 + 0


def test_disentangled_code_scores_top_rotation_lower_noise_chance():
    disentangled, rotated, noise = score("disentangled"), score("rotated"), score("noise")
    assert disentangled == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 6}
    assert rotated["eval_accuracy"] < 0.85
    assert abs(noise["eval_accuracy"] - 1 / len(SIZES)) < 0.1


def test_collapsed_dimensions_are_pruned_and_counted():
    result = score("disentangled", constant_dims=3)
    assert result == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_dims": 6}
    # Zero variance is never active, even with threshold 0 (no 0/0).
    assert not factor_vae.active_dimensions(np.array([0.0, 1.0]), 0.0)[0]
    all_constant = metrics.compute("factor_vae", IdentityObservations(SIZES), lambda x: np.zeros((len(x), 3)),
                                   np.random.RandomState(0), **FAST)
    assert all_constant == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.6)
    assert score("mixed", mixing=0.6, signs=[-1, 1, -1, 1, 1, -1]) == base
    assert score("mixed", mixing=0.6, permutation=[3, 0, 5, 1, 4, 2]) == base
