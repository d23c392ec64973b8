"""BetaVAE score: reference-faithful draws, known answers and invariances."""

import numpy as np

from tfdisent import metrics
from tfdisent.data.synthetic import DummyData, IdentityObservations
from tfdisent.metrics import beta_vae
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)
FAST = {"num_train": 400, "num_eval": 200}


def score(kind, seed=0, **kwargs):
    return metrics.compute("beta_vae", IdentityObservations(SIZES), SyntheticRepresentation(SIZES, kind, **kwargs),
                           np.random.RandomState(seed), **FAST)


def reference_training_batch(dataset, representation_fn, batch_size, num_points, random_state):
    """disentanglement_lib's per-point loop (two encodings per point)."""
    features, labels = [], []
    for _ in range(num_points):
        index = random_state.randint(dataset.num_factors)
        first = dataset.sample_factors(batch_size, random_state)
        second = dataset.sample_factors(batch_size, random_state)
        second[:, index] = first[:, index]
        x1 = dataset.sample_observations_from_factors(first, random_state)
        x2 = dataset.sample_observations_from_factors(second, random_state)
        features.append(np.mean(np.abs(representation_fn(x1) - representation_fn(x2)), axis=0))
        labels.append(index)
    return np.array(features), np.array(labels)


def test_vectorized_pairs_match_the_reference_loop():
    dataset = DummyData(num_factors=3, factor_size=4, image_size=8)  # rendering consumes the state

    def code(x):
        return np.asarray(x)[:, :, :, 0].reshape(len(x), 4, -1).mean(axis=2)

    features, labels = beta_vae.sample_paired_features(dataset, code, 37, 8, np.random.RandomState(1))
    expected_features, expected_labels = reference_training_batch(dataset, code, 8, 37, np.random.RandomState(1))
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(features, expected_features, rtol=1e-12)


def test_score_function_on_separable_features():
    labels = np.arange(300) % 3
    features = np.eye(3)[labels] * -1.0 + 1.0 + np.random.RandomState(0).rand(300, 3) * 0.1
    result = beta_vae.beta_vae_score(features, labels, features, labels)
    assert result == {"train_accuracy": 1.0, "eval_accuracy": 1.0}


def test_disentangled_code_scores_top_rotation_lower_noise_chance():
    disentangled, rotated, noise = score("disentangled"), score("rotated"), score("noise")
    assert set(disentangled) == {"train_accuracy", "eval_accuracy"}
    assert disentangled["eval_accuracy"] >= 0.98
    assert rotated["eval_accuracy"] < disentangled["eval_accuracy"] - 0.15
    assert abs(noise["eval_accuracy"] - 1 / len(SIZES)) < 0.1


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.6)
    flipped = score("mixed", mixing=0.6, signs=[-1, 1, -1, 1, 1, -1])
    permuted = score("mixed", mixing=0.6, permutation=[3, 0, 5, 1, 4, 2])
    assert flipped == base  # |z1 - z2| does not see signs
    assert abs(permuted["eval_accuracy"] - base["eval_accuracy"]) <= 0.01


def test_single_factor_dataset_does_not_crash():
    result = metrics.compute("beta_vae", IdentityObservations((5,)), SyntheticRepresentation((5,)),
                             np.random.RandomState(0), num_train=20, num_eval=10)
    assert result == {"train_accuracy": 1.0, "eval_accuracy": 1.0}
