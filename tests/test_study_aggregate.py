"""The study table from fixture files: our records and disentanglement_lib's evaluation.json files."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from tfdisent.study import aggregate


def _write(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as stream:
        json.dump(payload, stream)


def _our_model(output_dir, model_num, method, hyper, seed, status="done"):
    run_dir = os.path.join(output_dir, "models", str(model_num))
    spec = {"model_num": model_num, "dataset": "dsprites", "method": method, "config_label": f"{method}(x)",
            "hyperparameters": hyper, "seed": seed, "train": {"steps": 300}}
    record = {"model_num": model_num, "status": status, "study": "s", "fingerprint": "f", "spec": spec}
    if status == "done":
        record["evaluations"] = {"mean": "results/evaluation_mean.json", "sampled": "results/evaluation_sampled.json"}
        # Trainer API layout: train/eval sections.
        _write(os.path.join(run_dir, "results", "train_results.json"),
               {"step": 300, "wall_time_seconds": 12.5, "xla": False, "dataset": "dsprites",
                "train": {"loss": 100.0, "reconstruction": 90.0, "kl": 10.0},
                "eval": {"loss": 101.0, "reconstruction": 91.0, "kl": 10.0, "kl_per_dim": [1.0, 2.0],
                         "active_latents": 2}})
        for kind, value in (("mean", 0.25), ("sampled", 0.125)):
            _write(os.path.join(run_dir, "results", f"evaluation_{kind}.json"),
                   {"representation": kind, "metrics": {
                       "mig": {"discrete_mig": value, "settings": {"num_train": 10}, "wall_time_seconds": 1.5},
                       "sap": {"error": "MetricError: boom", "settings": {}, "wall_time_seconds": 0.1},
                       "downstream": {"logistic_regression/100:mean_test_accuracy": 0.5, "wall_time_seconds": 2.0}}})
    else:
        record["reason"] = "NonFiniteLossError: non-finite loss"
    _write(os.path.join(run_dir, "results", "study_record.json"), record)


def test_our_records(tmp_path):
    _our_model(str(tmp_path), 0, "beta_vae", {"beta": 4}, 0)
    _our_model(str(tmp_path), 7, "factor_vae", {"gamma": 10}, 1, status="failed")
    table = aggregate.build_table(str(tmp_path))
    assert len(table) == 3  # two representations of model 0, one row for the failed model 7
    row = table[(table["model_num"] == 0) & (table["representation"] == "sampled")].iloc[0]
    assert row["mig.discrete_mig"] == 0.125 and row["beta"] == 4 and row["steps"] == 300
    assert row["train.reconstruction"] == 90.0 and row["eval.reconstruction"] == 91.0
    assert row["eval.active_latents"] == 2 and row["train.wall_time_seconds"] == 12.5
    assert row["mig.wall_time_seconds"] == 1.5 and row["sap.error"] == "MetricError: boom"
    assert row["downstream.logistic_regression/100:mean_test_accuracy"] == 0.5
    failed = table[table["model_num"] == 7].iloc[0]
    assert failed["status"] == "failed" and "non-finite" in failed["reason"] and np.isnan(failed["beta"])
    assert failed["gamma"] == 10
    paths = aggregate.write_table(table, str(tmp_path))
    loaded = pd.read_parquet(paths["parquet"])
    assert len(loaded) == 3 and loaded["mig.discrete_mig"].dtype == float
    assert len(pd.read_csv(paths["csv"])) == 3
    assert "mig.discrete_mig" in aggregate.metric_columns(loaded)


def _dlib_file(root, model_num, representation, metric_gin, results, extra_eval_config=None, method="beta_tc_vae",
               hyper=None):
    """One disentanglement_lib ``aggregate/evaluation.json`` with gin values stored as strings."""
    payload = {
        "train_config.dataset.name": "'dsprites_full'",
        "train_config.model.name": f"'{method}'",
        "train_config.model.random_seed": "3",
        "train_config.model.training_steps": "300000",
        "train_config.model.batch_size": "64",
        "train_config.encoder.encoder_fn": "@conv_encoder",
        "train_results.reconstruction_loss": 30.5, "train_results.kl_loss": 20.25, "train_results.elbo": -50.75,
        "train_results.elapsed_time": 7000.0,
        "postprocess_config.postprocess.postprocess_fn": f"@{representation}_representation",
        "evaluation_config.evaluation.evaluation_metric": f"@{metric_gin}",
        "evaluation_config.evaluation.random_seed": "0",
        "evaluation_results.elapsed_time": 12.0,
    }
    for key, value in (hyper or {"beta_tc_vae.beta": "6.0"}).items():
        payload[f"train_config.{key}"] = value
    payload.update(extra_eval_config or {})
    payload.update({f"evaluation_results.{k}": v for k, v in results.items()})
    path = os.path.join(root, "output", str(model_num), "metrics", representation, metric_gin, "results",
                        "aggregate", "evaluation.json")
    _write(path, payload)
    return path, payload


def test_disentanglement_lib_files(tmp_path):
    root = str(tmp_path)
    _dlib_file(root, 1353, "mean", "mig", {"discrete_mig": 0.3})
    _dlib_file(root, 1353, "mean", "dci", {"disentanglement": 0.4, "completeness": 0.5})
    _dlib_file(root, 1353, "sampled", "mig", {"discrete_mig": 0.2})
    _dlib_file(root, 1353, "mean", "downstream_task", {"100:mean_test_accuracy": 0.7},
               {"evaluation_config.predictor.predictor_fn": "@logistic_regression_cv"})
    _dlib_file(root, 600, "mean", "sap_score", {"SAP_score": 0.05}, method="dip_vae",
               hyper={"dip_vae.lambda_od": "1.0", "dip_vae.lambda_d_factor": "10.0", "dip_vae.dip_type": "'i'"})
    table = aggregate.build_table(None, [root])
    assert len(table) == 3
    row = table[(table["model_num"] == 1353) & (table["representation"] == "mean")].iloc[0]
    assert (row["source"], row["dataset"], row["method"], row["seed"]) == ("disentanglement_lib", "dsprites",
                                                                           "beta_tcvae", 3)
    assert row["beta"] == 6.0 and row["steps"] == 300000 and row["config"] == "beta_tcvae(beta=6)"
    assert row["mig.discrete_mig"] == 0.3 and row["dci.completeness"] == 0.5
    assert row["downstream.logistic_regression/100:mean_test_accuracy"] == 0.7
    assert row["eval.reconstruction"] == 30.5 and row["train.wall_time_seconds"] == 7000.0
    assert row["mig.wall_time_seconds"] == 12.0
    dip = table[table["model_num"] == 600].iloc[0]
    assert dip["method"] == "dip_vae_i" and dip["lambda_od"] == 1.0 and dip["sap.SAP_score"] == 0.05


def test_dlib_aggregated_json_and_mixed_table(tmp_path):
    _, first = _dlib_file(str(tmp_path / "a"), 0, "mean", "mig", {"discrete_mig": 0.1}, method="vae",
                          hyper={"vae.beta": "1.0"})
    _, second = _dlib_file(str(tmp_path / "a"), 0, "mean", "beta_vae_sklearn", {"eval_accuracy": 0.8}, method="vae",
                           hyper={"vae.beta": "1.0"})
    first["path"] = "output/0/metrics/mean/mig/results/aggregate/evaluation.json"
    second["path"] = "output/0/metrics/mean/beta_vae_sklearn/results/aggregate/evaluation.json"
    aggregated = tmp_path / "results.json"
    pd.DataFrame([first, second]).to_json(aggregated)  # what dlib_aggregate_results writes (orient="columns")
    _our_model(str(tmp_path / "ours"), 0, "beta_vae", {"beta": 1}, 0)
    table = aggregate.build_table(str(tmp_path / "ours"), [str(aggregated)])
    theirs = table[table["source"] == "disentanglement_lib"]
    assert len(theirs) == 1 and len(table) == 3
    assert theirs.iloc[0]["method"] == "beta_vae" and theirs.iloc[0]["beta"] == 1.0
    assert theirs.iloc[0]["mig.discrete_mig"] == 0.1 and theirs.iloc[0]["beta_vae.eval_accuracy"] == 0.8
    ours = table[(table["source"] == "tfdisent") & (table["representation"] == "mean")].iloc[0]
    assert ours["mig.discrete_mig"] == 0.25 and ours["beta"] == 1


@pytest.mark.parametrize("text, value", [("'beta_vae'", "beta_vae"), ("6.0", 6.0), ("10", 10), ("True", True),
                                         ("None", None), ("@mig", "@mig"), ("\"x\"", "x")])
def test_gin_values(text, value):
    assert aggregate.parse_gin_value(text) == value
