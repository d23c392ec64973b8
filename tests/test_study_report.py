"""The study report on a small synthetic table (no TensorFlow): files, stated n, duplicates, intervals."""

import os

import numpy as np
import pandas as pd

from tfdisent.study import report


def _table(datasets=("dsprites",)):
    rs = np.random.RandomState(0)
    rows = []
    grid = [("beta_vae", "beta", 1.0), ("beta_vae", "beta", 8.0), ("beta_tcvae", "beta", 1.0),
            ("beta_tcvae", "beta", 10.0), ("annealed_vae", "c_max", 5.0), ("annealed_vae", "c_max", 100.0)]
    model_num = 0
    for dataset, (method, name, value) in ((d, g) for d in datasets for g in grid):
        for seed in range(3):
            x = rs.rand()
            for representation in ("mean", "sampled"):
                rows.append({"source": "tfdisent", "model_num": model_num, "status": "done", "dataset": dataset,
                             "method": method, "config": f"{method}({name}={value:g})", "seed": seed, "steps": 10,
                             "representation": representation, name: value, "mig.discrete_mig": x,
                             "dci.disentanglement": x + 0.1 * rs.rand(), "sap.SAP_score": rs.rand(),
                             "eval.elbo": -100 + rs.rand(),
                             "unsupervised.gaussian_total_correlation": rs.rand() * value,
                             "train.wall_time_seconds": 10.0})
            model_num += 1
    return pd.DataFrame(rows)


def test_report_states_n_intervals_and_duplicates(tmp_path):
    path = report.write_report(_table(), str(tmp_path), n_resamples=49, n_permutations=99)
    text = open(path).read()
    # beta_tcvae beta=1 duplicates beta_vae beta=1 seed by seed: 3 models counted once
    duplicates = pd.read_csv(tmp_path / "duplicates.csv")
    assert sorted(duplicates["model_num"]) == [6, 7, 8] and "Duplicate objectives counted once" in text
    assert "n = 15 models" in text and "95 %" in text
    intervals = pd.read_csv(tmp_path / "spearman_intervals_dsprites.csv")
    assert {"rho", "low", "high", "p", "models"} <= set(intervals.columns) and (intervals["models"] == 15).all()
    selection = pd.read_csv(tmp_path / "selection_probability.csv")
    assert len(selection) == 4 and {"low", "high", "chance", "settings", "seeds", "models"} <= set(selection.columns)
    assert selection["settings"].iloc[0] == 5 and selection["chance"].iloc[0] == (5 + 1) / 10
    variance = pd.read_csv(tmp_path / "variance_explained.csv")
    assert {"method p", "setting p", "method eta2"} <= set(variance.columns)
    tc = pd.read_csv(tmp_path / "tc_mean_vs_sampled.csv")
    assert {"mean sd", "sampled sd", "models"} <= set(tc.columns)
    for name in ("scores_dsprites.png", "tc_dsprites.png", "spearman_dsprites.png"):
        assert os.path.getsize(tmp_path / name) > 1000


def test_two_dataset_report_has_the_other_dataset_column_and_transfer(tmp_path):
    path = report.write_report(_table(("dsprites", "color_dsprites")), str(tmp_path), n_resamples=49,
                               n_permutations=99)
    text = open(path).read()
    assert "n = 30 models" in text and "Hyperparameter transfer" in text
    selection = pd.read_csv(tmp_path / "selection_probability.csv")
    other = selection[selection["data set"] == "random (other)"]
    assert len(other) == 2 and other["probability"].between(0, 1).all() and (selection["models"] == 30).all()
    transfer = pd.read_csv(tmp_path / "transfer_intervals.csv")
    assert set(transfer["metric"]) >= {"mig.discrete_mig", "dci.disentanglement"}
    assert (transfer["settings"] == 5).all() and transfer["p"].between(0, 1).all()
    assert (transfer["low"] <= transfer["high"]).all()


def test_two_dataset_study_has_no_duplicate_objective():
    from tfdisent.study import analysis, spec

    study = spec.load_study("flags/studies/cpu_two_datasets.json")
    models = study.models()
    assert {m.dataset for m in models} == {"dsprites", "color_dsprites"} and len({m.seed for m in models}) >= 5
    keys = [(m.dataset, m.seed, analysis.objective_key(m.method, m.hyperparameters)) for m in models]
    assert len(keys) == len(set(keys)) and ("vae",) not in {k[2] for k in keys}
    # cpu_small, by contrast, trains the VAE twice (beta_vae beta=1 and beta_tcvae beta=1)
    small = [analysis.objective_key(m.method, m.hyperparameters)
             for m in spec.load_study("flags/studies/cpu_small.json").models()]
    assert small.count(("vae",)) == 4
