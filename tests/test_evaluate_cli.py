"""tfdisent-evaluate end to end on tiny hand-built SavedModels: report layout, run-directory
resolution, UDR over several models, and every error path with its exit status."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from command_check import run_in_one_process

from tfdisent.evaluation import evaluate
from tfdisent.metrics import MetricError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "plugin")   # the example plugin (tests/test_plugins.py)
PLUGIN = "tfdisent_example_plugin"

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = [pytest.mark.xdist_group("evaluate_cli"), pytest.mark.heavy]

# Small settings so that all metrics run in seconds on the 10-factor dummy dataset.
FAST_OVERRIDES = ["*.num_train=200", "*.num_test=100", "*.n_jobs=1", "beta_vae.num_eval=50",
                  "factor_vae.num_eval=50", "factor_vae.num_variance_estimate=300",
                  "downstream.num_train=20", "downstream.num_test=50", "downstream.gbt_backend=exact",
                  "dci.backend=exact", "fairness.num_test_points_per_class=5",
                  "fairness.gbt_backend=exact", "flatness.repeats=8",
                  "factored_components.repeats=8", "heldout_r2.readout=linear"]


def _save_encoder(path, latent_dim=6, seed=0, nan=False, channels=1):
    """A fixed random projection of 8x8-average-pooled 64x64 images, as serving_default."""
    import tensorflow as tf

    class Encoder(tf.Module):
        def __init__(self):
            super().__init__()
            weights = np.random.RandomState(seed).randn(64 * channels, latent_dim).astype(np.float32)
            self.weights = tf.Variable(weights / 2.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 64, 64, channels], tf.float32, name="images")])
        def serve(self, images):
            pooled = tf.nn.avg_pool2d(images, 8, 8, "VALID")
            mean = tf.matmul(tf.reshape(pooled, [-1, 64 * channels]) - 0.5, self.weights) * 8.0
            if nan:
                mean = mean * np.float32(np.nan)
            return {"mean": mean, "logvar": tf.fill(tf.shape(mean), -2.0)}

    module = Encoder()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = tmp_path_factory.mktemp("models")
    run = root / "run"
    _save_encoder(run / "export" / "3", latent_dim=4, seed=1)
    _save_encoder(run / "export" / "12", latent_dim=6, seed=0)  # newest version: must be picked
    (run / "export" / "notes").mkdir()
    return {"run": str(run), "second": _save_encoder(root / "second", seed=7),
            "nan": _save_encoder(root / "nan", nan=True), "root": str(root)}


def run_cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-m", "tfdisent.bin.evaluate", *args], capture_output=True,
                            text=True, timeout=timeout, env=env)
    return result


def overrides(*items):
    return [f"--metric_override={item}" for item in items]


def test_all_metrics_on_the_latest_export_of_a_run(refused, models):
    root, results = refused
    result, output = results["all"], root / "all" / "results.json"
    assert result["code"] == 0, result["stderr"][-2000:]
    report = json.loads(output.read_text())
    assert report["model_path"] == os.path.join(models["run"], "export", "12")
    assert (report["dataset"], report["seed"], report["representation"]) == ("dummy", 3, "mean")
    assert report["failed_metrics"] == []
    expected_keys = {
        "beta_vae": {"train_accuracy", "eval_accuracy"},
        "factor_vae": {"train_accuracy", "eval_accuracy", "num_active_dims"},
        "mig": {"discrete_mig"},
        "dci": {"disentanglement", "completeness", "informativeness_train", "informativeness_test"},
        "sap": {"SAP_score"},
        "modularity_explicitness": {"modularity_score", "explicitness_score_train", "explicitness_score_test"},
        "irs": {"IRS", "num_active_dims"},
        "unsupervised": {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                         "gaussian_wasserstein_correlation_norm", "mutual_info_score"},
        "downstream": {"logistic_regression/20:mean_test_accuracy", "boosted_trees/20:mean_test_accuracy"},
        "fairness": {"mean_fairness:mean_pred:mean_sens", "max_fairness:max_pred:max_sens"},
    }
    assert set(expected_keys) <= set(report["metrics"]) and "udr" not in report["metrics"]  # udr: several models
    for name, keys in expected_keys.items():
        entry = report["metrics"][name]
        assert keys <= set(entry), name
        assert entry["wall_time_seconds"] >= 0 and "settings" in entry
        for key in keys:
            assert np.isfinite(entry[key]), (name, key)
    assert report["metrics"]["dci"]["settings"]["num_train"] == 200
    assert report["metrics"]["factor_vae"]["num_active_dims"] == 6
    # Independent randomness by default: own seed per metric, no shared encodings.
    assert report["share_samples"] is False and not report["metrics"]["sap"]["shared_samples"]
    assert len({entry["seed"] for entry in report["metrics"].values()}) == len(report["metrics"])
    total = len(report["metrics"])
    for index, name in enumerate(report["metrics"], 1):
        assert f"[{index}/{total}] {name}: done" in result["stdout"]
    assert os.listdir(output.parent) == ["results.json"]   # written atomically: no temporary file left


def _run_args(models, root, case):
    """tfdisent-evaluate's arguments for the runs below that go through the one process of ``refused``."""
    return {
        "all": [f"--model_dir={models['run']}", "--dataset=dummy", "--metrics=all", "--seed=3",
                f"--output_file={root / 'all' / 'results.json'}", *overrides(*FAST_OVERRIDES)],
        "udr": [f"--model_dir={models['run']},{models['second']}", f"--model_dir={models['run']}",
                "--dataset=dummy", "--metrics=udr,mig", "--representation=sampled", f"--output_file={root / 'udr.json'}",
                *overrides("udr.num_data_points=100", "mig.num_train=100")],
        "shared": [f"--model_dir={models['second']}", "--dataset=dummy", "--metrics=mig,sap", "--seed=4",
                   "--share_samples", f"--output_file={root / 'shared.json'}",
                   *overrides("mig.num_train=100", "sap.num_train=100", "sap.num_test=50")],
        "partial": [f"--model_dir={models['second']}", "--dataset=dummy", "--metrics=mig,sap",
                    f"--output_file={root / 'partial.json'}", *overrides("mig.num_train=100", "sap.num_test=0")],
    }[case]


RUNS = ("all", "udr", "shared", "partial")


def test_udr_over_several_models_and_sampled_representation(refused):
    root, results = refused
    assert results["udr"]["code"] == 0, results["udr"]
    report = json.loads((root / "udr.json").read_text())
    scores = report["metrics"]["udr"]
    assert len(scores["model_scores"]) == 3 and len(scores["model_scores_spearman"]) == 3
    # Models 0 and 2 are the same export: they agree better than models 0 and 1 do.
    for key in ("pairwise_disentanglement_scores", "pairwise_disentanglement_scores_spearman"):
        assert scores[key][0][2][0] > scores[key][0][1][0] + 0.1, key
    assert len(report["udr_model_paths"]) == 3 and report["representation"] == "sampled"
    assert "discrete_mig" in report["metrics"]["mig"]


def test_share_samples_flag_reuses_encodings(refused):
    root, results = refused
    assert results["shared"]["code"] == 0, results["shared"]
    report = json.loads((root / "shared.json").read_text())
    assert report["share_samples"] is True and report["metrics"]["sap"]["shared_samples"]  # mig's draw
    assert report["metrics"]["mig"]["seed"] == report["metrics"]["sap"]["seed"] == 4


def test_one_failing_metric_is_recorded_and_the_others_written(refused):
    root, results = refused
    result = results["partial"]
    assert result["code"] == 1 and result["error"] == "exit 1", result
    report = json.loads((root / "partial.json").read_text())
    assert "discrete_mig" in report["metrics"]["mig"]
    assert "num_test" in report["metrics"]["sap"]["error"]
    assert report["failed_metrics"] == ["sap"]
    assert "sap" in result["stderr"] and "Traceback" not in result["stderr"]


INPUT_ERRORS = {"not_saved_model": "not a SavedModel", "unknown_metric": "unknown metric 'nope'",
                "bad_override": "unknown setting", "udr_single_model": "at least 2 model",
                "study_model_default_output": "is a model of a study"}
MODEL_ERRORS = {"shape_mismatch": "does not fit the dataset", "nan_model": "NaN"}


def _error_args(models, root, case):
    """tfdisent-evaluate's arguments for an error case; the report would go to ``root/<case>.json``."""
    output = f"--output_file={root / (case + '.json')}"
    if case == "study_model_default_output":
        # Without --output_file the report goes to <run>/results/ (tests/test_commands.py), except in a
        # study's model, whose results/ the study owns.
        study_model = root / "study" / "models" / "0"
        os.makedirs(study_model / "results")
        (study_model / "results" / "study_record.json").write_text("{}")
        return [f"--model_dir={study_model}", "--dataset=dummy", "--metrics=mig"]
    return {
        "not_saved_model": [f"--model_dir={models['root']}", "--dataset=dummy", output],
        "unknown_metric": [f"--model_dir={models['second']}", "--dataset=dummy", "--metrics=mig,nope", output],
        "bad_override": [f"--model_dir={models['second']}", "--dataset=dummy", "--metrics=mig", output,
                         "--metric_override=mig.num_tests=5"],
        "udr_single_model": [f"--model_dir={models['second']}", "--dataset=dummy", "--metrics=udr", output],
        "shape_mismatch": [f"--model_dir={models['second']}", "--dataset=identity", "--metrics=mig", output],
        "nan_model": [f"--model_dir={models['nan']}", "--dataset=dummy", "--metrics=mig", output],
    }[case]


@pytest.fixture(scope="module")
def refused(models, tmp_path_factory):
    """Every INPUT_ERRORS and MODEL_ERRORS case and the RUNS through tfdisent-evaluate in ONE process
    (tests/command_check.py: one TensorFlow import); ``(root, {case: result})``. The real console script
    runs in test_input_error_of_the_console_script_is_its_only_line."""
    root = tmp_path_factory.mktemp("refused")
    commands = [["tfdisent-evaluate", *_error_args(models, root, case)] for case in (*INPUT_ERRORS, *MODEL_ERRORS)]
    commands += [["tfdisent-evaluate", *_run_args(models, root, case)] for case in RUNS]
    # Last, as it registers the example plugin's metrics in this process: --metrics=help with a plugin.
    commands.append(["tfdisent-evaluate", f"--plugins={PLUGIN}", "--metrics=help"])
    results, _ = run_in_one_process("run", commands, root, env={"PYTHONPATH": os.pathsep.join(
        filter(None, [ROOT, EXAMPLE, os.environ.get("PYTHONPATH")]))})
    return root, dict(zip((*INPUT_ERRORS, *MODEL_ERRORS, *RUNS, "plugin_help"), results))


def test_metrics_help_lists_plugin_metrics(refused):
    result = refused[1]["plugin_help"]
    assert result["code"] == 0, result
    lines = result["stdout"].strip().splitlines()
    assert lines[0].startswith("beta_vae: ") and lines[-1] == (
        "linear_probe_r2: num_train=10000, num_test=5000, batch_size=16, target='value'")


@pytest.mark.parametrize("case", sorted(INPUT_ERRORS))
def test_input_errors_before_loading_tensorflow(refused, case):
    root, results = refused
    result = results[case]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    assert INPUT_ERRORS[case] in result["stderr"]
    assert len(result["stderr"].strip().splitlines()) == 1
    assert not os.path.exists(root / (case + ".json"))


def test_input_error_of_the_console_script_is_its_only_line(models, tmp_path):
    """In the real console script's own process: exit 2 and the whole stderr one line (the other cases run
    in one process above)."""
    result = run_cli(*_error_args(models, tmp_path, "unknown_metric"))
    assert result.returncode == 2
    assert INPUT_ERRORS["unknown_metric"] in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "unknown_metric.json")


@pytest.mark.parametrize("case", sorted(MODEL_ERRORS))
def test_model_errors(refused, case):
    result = refused[1][case]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    assert MODEL_ERRORS[case] in result["stderr"] and "Traceback" not in result["stderr"]


def test_signature_checks_in_process(models, tmp_path):
    import tensorflow as tf

    from tfdisent.evaluation import representation

    class WrongOutputs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 64, 64, 1], tf.float32, name="images")])
        def serve(self, images):
            return {"z": tf.reduce_mean(images, axis=[1, 2])}

    module = WrongOutputs()
    tf.saved_model.save(module, str(tmp_path / "wrong"), signatures={"serving_default": module.serve})
    with pytest.raises(representation.RepresentationError, match="'mean' and 'logvar'"):
        representation.load_gaussian_encoder(str(tmp_path / "wrong"), (64, 64, 1))
    with pytest.raises(representation.RepresentationError, match="does not fit"):
        representation.load_gaussian_encoder(models["second"], (32, 32, 1))
    encoder = representation.load_gaussian_encoder(models["run"], (64, 64, 1), batch_size=7)
    assert encoder.path.endswith(os.path.join("export", "12")) and encoder.latent_dim == 6
    images = np.random.RandomState(0).rand(20, 64, 64, 1).astype(np.float32)
    mean, logvar = encoder.encode(images)
    assert mean.shape == (20, 6) and np.allclose(logvar, -2.0)
    np.testing.assert_allclose(representation.mean_representation(encoder)(images), mean)
    sampled = representation.sampled_representation(encoder, seed=1)(images)
    assert not np.allclose(sampled, mean) and np.abs(sampled - mean).max() < 2.0
    np.testing.assert_allclose(representation.sampled_representation(encoder, seed=1)(images), sampled)


def test_override_parsing_and_metric_expansion():
    assert "udr" not in evaluate.expand_metric_names("all", 1)
    assert "udr" in evaluate.expand_metric_names("all", 2) and "downstream" in evaluate.expand_metric_names("all", 1)
    assert evaluate.expand_metric_names("mig, dci,mig") == ["mig", "dci"]
    parsed = evaluate.parse_overrides(["*.num_train=500", "dci.backend=sklearn", "downstream.num_train=10,100"],
                                      ["mig", "dci", "downstream"])
    assert parsed == {"mig": {"num_train": 500}, "dci": {"num_train": 500, "backend": "sklearn"},
                      "downstream": {"num_train": (10, 100)}}
    for bad in ("dci.num_train", "num_train=3", "sap.num_train=1", "*.nothing=1", "dci.num_train=x",
                "dci.backend=hist"):   # hist was retired: a value outside the metric's CHOICES
        with pytest.raises(MetricError):
            evaluate.parse_overrides([bad], ["mig", "dci"])


def test_atomic_json_writer_sanitises_values(tmp_path):
    path = tmp_path / "deep" / "r.json"
    evaluate.write_json_atomic(str(path), {"a": np.float32(1.5), "b": float("nan"), "c": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": None, "c": [0, 1]}
