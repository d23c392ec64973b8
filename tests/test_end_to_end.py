"""End to end: tfdisent-train, then tfdisent-evaluate on its export with every metric, then udr."""

import json

import pytest
from command_check import run_in_one_process

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = [pytest.mark.xdist_group("end_to_end"), pytest.mark.heavy]

# Small metric settings (what is checked is that every metric runs on a trained export and reports its keys),
# one process per metric (no joblib workers), the exact in-process gradient boosting.
FAST_METRICS = ["*.num_train=200", "*.num_test=100", "*.num_eval=100", "*.n_jobs=1",
                "factor_vae.num_variance_estimate=300", "beta_vae.batch_size=16", "factor_vae.batch_size=16",
                "downstream.num_train=50,100", "downstream.gbt_backend=exact", "dci.backend=exact",
                "udr.num_data_points=200", "sparsity.num_points=300", "fairness.num_test_points_per_class=5",
                "fairness.gbt_backend=exact", "flatness.repeats=8", "factored_components.repeats=8", "heldout_r2.readout=linear"]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """Two 6-step tfdisent-train runs (seeds 0 and 1), tfdisent-evaluate --metrics=all on the first and udr
    over both, all in ONE process (tests/command_check.py runs each binary's own main with its own flags:
    one TensorFlow import instead of four); ``(runs, reports, results)``."""
    root = tmp_path_factory.mktemp("e2e")
    runs = [root / f"run{seed}" for seed in (0, 1)]
    reports = {"all": root / "results.json", "udr": root / "udr.json"}
    commands = [["tfdisent-train", "--method=beta_tcvae", "--steps=6", "--batch_size=16", "--log_every=3",
                 "--image_every=0", "--eval_batches=1", f"--seed={seed}", f"--output_dir={run}"]
                for seed, run in enumerate(runs)]
    commands.append(["tfdisent-evaluate", f"--model_dir={runs[0]}", "--metrics=all", f"--output_file={reports['all']}",
                     *[f"--metric_override={o}" for o in FAST_METRICS if "udr" not in o]])
    commands.append(["tfdisent-evaluate", f"--model_dir={runs[0]},{runs[1]}", "--metrics=udr",
                     f"--output_file={reports['udr']}", "--metric_override=udr.num_data_points=200"])
    results, _ = run_in_one_process("run", commands, root)
    for result in results[:2]:
        assert result["code"] == 0, result
    return runs, reports, results


def test_train_then_evaluate_every_metric(e2e):
    two_runs, reports, results = e2e
    assert results[2]["code"] == 0, results[2]
    report = json.loads(reports["all"].read_text())
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


def test_udr_over_two_seeds(e2e):
    _, reports, results = e2e
    assert results[3]["code"] == 0, results[3]
    assert "model_scores" in reports["udr"].read_text()
