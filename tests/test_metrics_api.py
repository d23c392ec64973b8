"""tfdisent.metrics: registry, settings, input errors, sampling fidelity and sample sharing."""

import subprocess
import sys

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.ground_truth import GroundTruthData
from tfdisent.data.synthetic import DummyData, IdentityObservations
from tfdisent.metrics import utils
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (3, 4, 5)


class CountingRepresentation:
    """Wraps a representation function and counts the observations it encodes."""

    def __init__(self, function):
        self.function = function
        self.calls = 0
        self.points = 0

    def __call__(self, observations):
        self.calls += 1
        self.points += len(observations)
        return self.function(observations)


class NoFactors(GroundTruthData):
    name = "no_factors"
    factor_sizes = ()
    observation_shape = (2,)

    def sample_observations_from_factors(self, factors, random_state):
        return random_state.random_sample((len(factors), 2)).astype(np.float32)


def pooled_dummy_code(observations):
    """A deterministic code of DummyData images: 4 pooled pixel blocks."""
    x = np.asarray(observations)[:, :, :, 0]
    return x.reshape(len(x), 4, -1).mean(axis=2)


def test_metric_names_and_defaults_match_the_study_configs():
    assert {"beta_vae", "factor_vae", "mig", "dci", "sap", "modularity_explicitness", "irs", "unsupervised",
            "downstream", "udr"} <= set(metrics.metric_names())
    assert metrics.default_settings("beta_vae") == {"batch_size": 64, "num_train": 10000, "num_eval": 5000}
    fv = metrics.default_settings("factor_vae")
    assert (fv["num_variance_estimate"], fv["prune_threshold"], fv["batch_size"]) == (10000, 0.05, 64)
    assert metrics.default_settings("mig")["num_bins"] == 20
    dci = metrics.default_settings("dci")
    assert (dci["num_train"], dci["num_test"], dci["batch_size"], dci["backend"]) == (10000, 5000, 16, "exact")
    assert metrics.default_settings("sap")["continuous_factors"] is False
    assert metrics.default_settings("irs")["diff_quantile"] == 0.99
    assert metrics.default_settings("downstream")["num_train"] == (10, 100, 1000, 10000)
    udr = metrics.default_settings("udr")
    assert (udr["batch_size"], udr["num_data_points"], udr["kl_filter_threshold"]) == (10, 1000, 0.01)
    assert metrics.is_multi_model("udr") and not metrics.is_multi_model("mig")


def test_settings_are_validated_and_parsed():
    assert metrics.resolve_settings("dci", num_train=2000.0)["num_train"] == 2000
    with pytest.raises(metrics.MetricError, match="unknown setting"):
        metrics.resolve_settings("mig", num_tran=10)
    with pytest.raises(metrics.MetricError, match="expected a value like"):
        metrics.resolve_settings("mig", num_train="many")
    assert metrics.parse_setting("dci", "num_train", "2000") == 2000
    assert metrics.parse_setting("sap", "continuous_factors", "true") is True
    assert metrics.parse_setting("downstream", "num_train", "100,1000") == (100, 1000)
    assert metrics.parse_setting("udr", "correlation_matrices", "spearman") == ("spearman",)
    with pytest.raises(metrics.MetricError, match="cannot parse"):
        metrics.parse_setting("irs", "diff_quantile", "high")


def test_bad_inputs_raise_clear_metric_errors():
    dataset = IdentityObservations(SIZES)
    representation = SyntheticRepresentation(SIZES)
    with pytest.raises(metrics.MetricError, match="unknown metric"):
        metrics.compute("nope", dataset, representation, np.random.RandomState(0))
    with pytest.raises(metrics.MetricError, match="no ground-truth factors"):
        metrics.compute("mig", NoFactors(), lambda x: x, np.random.RandomState(0), num_train=50)
    with pytest.raises(metrics.MetricError, match="ground-truth interface"):
        metrics.compute("mig", object(), representation, np.random.RandomState(0))
    with pytest.raises(metrics.MetricError, match="RandomState"):
        metrics.compute("mig", dataset, representation, np.random.default_rng(0))

    def with_nans(observations):
        codes = representation(observations)
        codes[0, 1] = np.nan
        return codes

    with pytest.raises(metrics.MetricError, match="NaN"):
        metrics.compute("mig", dataset, with_nans, np.random.RandomState(0), num_train=100)
    with pytest.raises(metrics.MetricError, match=r"\[batch, dim\]"):
        metrics.compute("mig", dataset, lambda x: x[:, 0], np.random.RandomState(0), num_train=100)
    with pytest.raises(metrics.MetricError, match="num_train"):
        metrics.compute("mig", dataset, representation, np.random.RandomState(0), num_train=0)
    # Metrics that need no factors run on such a dataset, and an int seed is accepted.
    scores = metrics.compute("unsupervised", NoFactors(), lambda x: np.asarray(x, np.float64), 0, num_train=200)
    assert set(scores) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                           "gaussian_wasserstein_correlation_norm", "mutual_info_score"}


def reference_generate_batch_factor_code(dataset, representation_fn, num_points, random_state, batch_size):
    """disentanglement_lib's loop: one ``sample`` and one encoding per batch."""
    codes, factors = [], []
    drawn = 0
    while drawn < num_points:
        count = min(num_points - drawn, batch_size)
        batch_factors, observations = dataset.sample(count, random_state)
        factors.append(batch_factors)
        codes.append(representation_fn(observations))
        drawn += count
    return np.vstack(codes), np.vstack(factors)


def test_batched_sampling_draws_exactly_what_the_reference_draws():
    # DummyData consumes the random state while rendering, so any reordering would show.
    dataset = DummyData(num_factors=3, factor_size=4, image_size=8)
    counting = CountingRepresentation(pooled_dummy_code)
    codes, factors = utils.generate_batch_factor_code(dataset, counting, 101, np.random.RandomState(5), 16)
    expected_codes, expected_factors = reference_generate_batch_factor_code(
        dataset, pooled_dummy_code, 101, np.random.RandomState(5), 16)
    np.testing.assert_array_equal(factors, expected_factors)
    np.testing.assert_array_equal(codes, expected_codes)
    assert counting.calls == 1  # seven draws of 16 (the last of 5) encoded in one call


def test_histogram_discretizer_matches_the_reference_formula():
    values = np.random.RandomState(0).randn(500, 3)
    values[:, 2] = 1.5  # constant column
    labels = utils.histogram_discretize(values, 20)
    for column in range(3):
        expected = np.digitize(values[:, column], np.histogram(values[:, column], 20)[1][:-1])
        np.testing.assert_array_equal(labels[:, column], expected)
    assert labels[:, :2].min() == 1 and labels[:, :2].max() == 20
    assert len(np.unique(labels[:, 2])) == 1


def test_mutual_information_of_a_copy_is_its_entropy():
    labels = np.random.RandomState(0).randint(4, size=(4000, 2))
    matrix = utils.mutual_information_matrix(labels, labels)
    entropy = utils.discrete_entropy(labels)
    np.testing.assert_allclose(np.diag(matrix), entropy)
    np.testing.assert_allclose(entropy, np.log(4), atol=0.01)
    assert matrix[0, 1] < 0.01


def test_cache_shares_encodings_between_metrics_without_changing_results():
    dataset = IdentityObservations(SIZES)
    plain = {}
    for name in ("mig", "irs", "unsupervised"):
        plain[name] = metrics.compute(name, dataset, SyntheticRepresentation(SIZES, "mixed"),
                                      np.random.RandomState(3), num_train=400)
    cache = metrics.SampleCache()
    counting = CountingRepresentation(SyntheticRepresentation(SIZES, "mixed"))
    shared = {name: metrics.compute(name, dataset, counting, np.random.RandomState(3), cache=cache,
                                    num_train=400)
              for name in ("mig", "irs", "unsupervised")}
    assert shared == plain
    assert counting.points == 400 and cache.hits == 2
    # A hit leaves the random state exactly where drawing again would have left it.
    fresh, reused = np.random.RandomState(3), np.random.RandomState(3)
    utils.generate_batch_factor_code(dataset, counting, 400, fresh, 16)
    utils.generate_batch_factor_code(dataset, counting, 400, reused, 16, cache)
    assert fresh.randint(2 ** 31) == reused.randint(2 ** 31)
    # Different sizes or seeds are separate entries.
    utils.generate_batch_factor_code(dataset, counting, 400, np.random.RandomState(4), 16, cache)
    assert cache.misses >= 2 and len(cache) == 2


def test_metrics_package_does_not_import_tensorflow():
    code = ("import sys, tfdisent.metrics as m\n"
            "import importlib\n"
            "[importlib.import_module(m._MODULES[n]) for n in m.metric_names()]\n"
            "import tfdisent.metrics.synthetic, tfdisent.evaluation.evaluate\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


COLLAPSED_SETTINGS = {
    "beta_vae": {"num_train": 60, "num_eval": 30, "batch_size": 16},
    "factor_vae": {"num_train": 60, "num_eval": 30, "num_variance_estimate": 300},
    "mig": {"num_train": 300},
    "dci": {"num_train": 200, "num_test": 100, "n_jobs": 1},
    "sap": {"num_train": 200, "num_test": 100, "n_jobs": 1},
    "modularity_explicitness": {"num_train": 300, "num_test": 100, "n_jobs": 1},
    "irs": {"num_train": 300},
    "unsupervised": {"num_train": 300},
    "downstream": {"num_train": (20,), "num_test": 50, "n_jobs": 1, "predictors": ("logistic_regression_cv",)},
}


@pytest.mark.parametrize("name", sorted(COLLAPSED_SETTINGS))
def test_collapsed_dimensions_never_crash_or_give_nan(name):
    representation = SyntheticRepresentation(SIZES, "mixed", constant_dims=3)
    scores = metrics.compute(name, IdentityObservations(SIZES), representation, np.random.RandomState(0),
                             **COLLAPSED_SETTINGS[name])
    assert scores and all(np.isfinite(value) for value in scores.values())
    fully_collapsed = metrics.compute(name, IdentityObservations(SIZES), lambda x: np.zeros((len(x), 4)),
                                      np.random.RandomState(0), **COLLAPSED_SETTINGS[name])
    assert all(np.isfinite(value) for value in fully_collapsed.values())
