"""End to end: tfdisent-train, then tfdisent-evaluate on its export with every metric, then udr."""

import json
import os
import subprocess
import sys

import pytest

FAST_METRICS = ["*.num_train=300", "*.num_test=200", "*.num_eval=200", "factor_vae.num_variance_estimate=500",
                "beta_vae.batch_size=16", "factor_vae.batch_size=16", "downstream.num_train=50,100",
                "udr.num_data_points=200", "sparsity.num_points=300"]


def _run(module, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    runs = []
    for seed in (0, 1):
        run = root / f"run{seed}"
        result = _run("tfdisent.bin.train", "--method=beta_tcvae", "--steps=30", "--batch_size=32",
                      "--log_every=10", "--image_every=0", "--eval_batches=2", f"--seed={seed}",
                      f"--output_dir={run}")
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(run)
    return runs


def test_train_then_evaluate_every_metric(two_runs, tmp_path):
    out = tmp_path / "results.json"
    result = _run("tfdisent.bin.evaluate", f"--model_dir={two_runs[0]}", "--metrics=all",
                  f"--output_file={out}", *[f"--metric_override={o}" for o in FAST_METRICS if "udr" not in o])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    expected = {"beta_vae": ["train_accuracy", "eval_accuracy"],
                "factor_vae": ["train_accuracy", "eval_accuracy", "num_active_dims"],
                "mig": ["discrete_mig"],
                "dci": ["disentanglement", "completeness", "informativeness_train", "informativeness_test"],
                "sap": ["SAP_score"],
                "modularity_explicitness": ["modularity_score", "explicitness_score_train", "explicitness_score_test"],
                "irs": ["IRS", "num_active_dims"],
                "unsupervised": ["gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                 "gaussian_wasserstein_correlation_norm", "mutual_info_score"]}
    text = json.dumps(report)
    for metric, keys in expected.items():
        assert metric in text, metric
        for key in keys:
            assert key in text, (metric, key)
    assert "dsprites" in text and str(two_runs[0]) in text


def test_udr_over_two_seeds(two_runs, tmp_path):
    out = tmp_path / "udr.json"
    result = _run("tfdisent.bin.evaluate", f"--model_dir={two_runs[0]},{two_runs[1]}", "--metrics=udr",
                  f"--output_file={out}", "--metric_override=udr.num_data_points=200")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model_scores" in out.read_text()
