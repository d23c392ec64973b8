"""The documented dataset interface, and independent randomness per metric (issue 12)."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.evaluation import evaluate
from tfdisent.evaluation.representation import SampledRepresentation

SIZES = (3, 4, 5)


class MinimalData:
    """Exactly the four documented members; observations are the factors (as IdentityObservations)."""

    factor_sizes = SIZES
    observation_shape = (len(SIZES),)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(size, size=num) for size in self.factor_sizes], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, np.float32)


def linear_code(observations):
    """A fixed, deterministic, partly entangled code of the factor observations."""
    matrix = np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.1], [0.1, 0.0, 1.0]])
    x = np.asarray(observations, np.float64)
    return np.concatenate([x @ matrix, 0.1 * x[:, :1] * x[:, 1:2]], axis=1)  # full rank: finite TC


FAST = {
    "mig": {"num_train": 300},
    "sap": {"num_train": 300, "num_test": 100, "n_jobs": 1},
    "modularity_explicitness": {"num_train": 300, "num_test": 100},
    "beta_vae": {"num_train": 60, "num_eval": 30, "batch_size": 8},
    "factor_vae": {"num_train": 60, "num_eval": 30, "batch_size": 8, "num_variance_estimate": 200},
    "irs": {"num_train": 300},
    "unsupervised": {"num_train": 300},
    "mig_sup": {"num_train": 300},
    "dcimig": {"num_train": 300},
    "jemmig": {"num_train": 300},
    "infomec": {"num_train": 300},
    "mcc": {"num_train": 300, "num_test": 100},
    "dci_es": {"num_train": 300, "num_test": 100, "n_jobs": 1, "forest_depths": (1, 4)},
    "flatness": {"repeats": 4},
    "factored_components": {"repeats": 4, "num_samples": 8, "global_subset_size": 8},
}


@pytest.mark.parametrize("name", sorted(FAST))
def test_a_minimal_dataset_scores_like_the_full_one(name):
    """The derived sample/sample_observations draw exactly as GroundTruthData's, so the scores equal
    those on the library's IdentityObservations with the same seed."""
    minimal = metrics.compute(name, MinimalData(), linear_code, 5, **FAST[name])
    full = metrics.compute(name, IdentityObservations(SIZES), linear_code, 5, **FAST[name])
    assert minimal == full
    assert all(np.isfinite(value) for value in minimal.values() if isinstance(value, float))


def test_reference_name_factors_num_values_is_accepted_too():
    class ReferenceNames(MinimalData):
        factor_sizes = None

    data = ReferenceNames()
    del ReferenceNames.factor_sizes
    data.factors_num_values = list(SIZES)
    scores = metrics.compute("mig", data, linear_code, 5, num_train=300)
    assert scores == metrics.compute("mig", MinimalData(), linear_code, 5, num_train=300)


def test_an_incomplete_interface_names_what_is_missing():
    class NoRendering:
        factor_sizes = SIZES
        observation_shape = (3,)

        def sample_factors(self, num, random_state):
            return np.zeros((num, 3), np.int64)

    with pytest.raises(metrics.MetricError, match="sample_observations_from_factors missing"):
        metrics.compute("mig", NoRendering(), linear_code, 0)


def test_views_share_samples_through_a_cache():
    data, cache = MinimalData(), metrics.SampleCache()
    first = metrics.compute("mig", data, linear_code, 1, cache=cache, num_train=200)
    second = metrics.compute("mig", data, linear_code, 1, cache=cache, num_train=200)
    assert first == second and cache.hits == 1


# -- independent randomness per metric ------------------------------------------------------------

class FakeEncoder:
    def encode(self, observations):
        mean = linear_code(observations)
        return mean, np.full_like(mean, -1.0)


class Recorder:
    """A deterministic representation that remembers the first batch each metric encodes."""

    def __init__(self):
        self.first_batches = []

    def __call__(self, observations):
        self.first_batches.append(np.asarray(observations)[:16].copy())
        return linear_code(observations)


NAMES = ["sap", "unsupervised", "mig"]


def _run(names, representation_fn, representation="mean", share=False, seed=3):
    overrides = {name: FAST[name] for name in names}
    return evaluate.run_metrics(IdentityObservations(SIZES), names, seed, representation_fn=representation_fn,
                                overrides=overrides, progress=None, share_samples=share,
                                representation=representation)


def test_metric_seeds_are_derived_per_representation_and_metric():
    seed = evaluate.metric_seed(0, "mean", "mig")
    assert 0 <= seed < 2 ** 32 and seed == evaluate.metric_seed(0, "mean", "mig")
    others = {evaluate.metric_seed(0, "sampled", "mig"), evaluate.metric_seed(1, "mean", "mig"),
              evaluate.metric_seed(0, "mean", "dci")}
    assert seed not in others and len(others) == 3


@pytest.mark.parametrize("representation", ["mean", "sampled"])
def test_a_score_does_not_depend_on_the_metrics_before_it(representation):
    def make():
        return SampledRepresentation(FakeEncoder(), seed=99) if representation == "sampled" else linear_code

    alone = _run(["mig"], make(), representation)["mig"]
    after_others = _run(NAMES, make(), representation)["mig"]
    reordered = _run(["mig", "sap"], make(), representation)["mig"]
    for key in ("discrete_mig", "seed"):
        assert alone[key] == after_others[key] == reordered[key]
    assert alone["seed"] == evaluate.metric_seed(3, representation, "mig")


def test_sampled_noise_is_restarted_per_metric_even_with_shared_samples():
    def make():
        return SampledRepresentation(FakeEncoder(), seed=99)

    alone = _run(["mig"], make(), "sampled", share=True)["mig"]
    after = _run(["unsupervised", "mig"], make(), "sampled", share=True)["mig"]
    assert alone["discrete_mig"] == after["discrete_mig"] and after["shared_samples"]


def test_metrics_draw_different_samples_unless_shared():
    recorder = Recorder()
    results = _run(["mig", "unsupervised"], recorder)
    assert results["mig"]["seed"] != results["unsupervised"]["seed"]
    assert not results["unsupervised"]["shared_samples"]
    assert len(recorder.first_batches) == 2
    assert not np.array_equal(recorder.first_batches[0], recorder.first_batches[1])

    shared = Recorder()
    results = _run(["mig", "unsupervised"], shared, share=True)
    assert results["unsupervised"]["shared_samples"] and len(shared.first_batches) == 1
    assert results["mig"]["seed"] == results["unsupervised"]["seed"] == 3


MODERN = ("mig_sup", "dcimig", "jemmig", "infomec", "mcc", "dci_es", "flatness", "factored_components")


@pytest.mark.parametrize("name", MODERN)
def test_modern_metrics_are_registered_and_survive_collapsed_codes(name):
    """Issue 20's metrics: registered, and a fully collapsed or partly constant code gives finite scores."""
    assert name in metrics.metric_names() and metrics.default_settings(name)
    for representation in (lambda x: np.zeros((len(x), 4)),
                           lambda x: np.c_[linear_code(x), np.full(len(x), 3.0)]):
        scores = metrics.compute(name, MinimalData(), representation, 5, **FAST[name])
        numbers = [value for value in scores.values() if isinstance(value, float)]
        assert numbers and all(np.isfinite(numbers))
