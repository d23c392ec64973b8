"""Protocols in study files: the correlated study, training-grid keys, recorded settings, the table and the report."""

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from tfdisent.study import analysis, spec
from tfdisent.study.aggregate import protocol_columns
from tfdisent.study.report import write_report


@pytest.fixture(scope="module")
def correlated():
    return spec.load_study("correlated_cpu_small")


def test_the_correlated_study_validates_and_sweeps_the_strength(correlated):
    assert correlated.num_models == 7 * 4 * 2
    methods = {c.method for c in correlated.configs}
    assert methods == {"beta_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tcvae", "annealed_vae", "hfs_vae"}
    baseline, strong = correlated.model(0), correlated.model(7)
    assert baseline.config.label() == "beta_vae(correlation_strength=None)"
    assert baseline.train["correlated_factors"] == [] and baseline.train["correlation_strength"] is None
    assert strong.config.label() == "beta_vae(correlation_strength=0.1)"
    assert strong.train["correlated_factors"] == ["pos_x:pos_y"] and strong.train["correlation_strength"] == 0.1
    assert strong.hyperparameters == {"beta": 8}  # the strength is a training setting, not a hyperparameter
    chosen = spec.select_models(correlated, spec.parse_only(["correlation_strength=0.2", "method=hfs_vae"]))
    assert [m.train["correlation_strength"] for m in chosen] == [0.2, 0.2]


def test_the_strength_is_part_of_the_fingerprint(correlated):
    raw = json.load(open("flags/studies/correlated_cpu_small.json"))
    raw["configs"][0]["grid"]["correlation_strength"] = [None, 0.4, 0.2, 0.05]
    assert spec.study_from_dict(raw).fingerprint() != correlated.fingerprint()
    assert '"correlation_strength": 0.1' in json.dumps(correlated.to_dict())


def _raw(**changes):
    raw = json.load(open("flags/studies/correlated_cpu_small.json"))
    raw["configs"] = raw["configs"][:1]
    raw.update(changes)
    return raw


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw["train"].update(correlated_factors=["pos_x:colour"]), "'colour' .* is not a factor"),
    (lambda raw: raw["train"].update(correlation_strength=0.3), "both in train and swept"),
    (lambda raw: raw["configs"][0]["grid"].update(correlation_strength=[0.0]), "must be > 0"),
    (lambda raw: raw["train"].update(heldout_split="sideways"), "--heldout_split must be one of"),
])
def test_bad_protocol_settings_in_a_study(change, message):
    raw = _raw()
    change(raw)
    with pytest.raises(spec.StudyError, match=message):
        spec.validate_study(spec.study_from_dict(raw))


def test_a_heldout_study_scores_each_model_on_its_training_split():
    raw = _raw(evaluation={"metrics": ["heldout_r2"], "representations": ["mean"],
                           "settings": {"heldout_r2": {"split": "random"}}})
    raw["train"].pop("correlated_factors")
    raw["configs"][0]["grid"] = {"heldout_split": ["composition", "extrapolation"]}
    with pytest.raises(spec.StudyError, match="trains on the composition split but"):
        spec.validate_study(spec.study_from_dict(raw))
    raw["evaluation"]["settings"] = {"heldout_r2": {"readout": "linear"}}
    study = spec.study_from_dict(raw)
    spec.validate_study(study)
    assert spec.heldout_metric_settings(study.model(2).train) == {"split": "extrapolation", "train_fraction": 0.3,
                                                                  "split_seed": 0}
    assert spec.heldout_metric_settings({}) == {}


def test_protocol_columns_of_the_results_table():
    assert protocol_columns({"steps": 10}) == {}
    assert protocol_columns({"correlated_factors": ["pos_x:pos_y"], "correlation_strength": 0.2}) == {
        "correlated_factors": "pos_x:pos_y", "correlation_strength": 0.2}
    baseline = protocol_columns({"correlated_factors": [], "correlation_strength": None})
    assert baseline["correlated_factors"] is None and math.isinf(baseline["correlation_strength"])
    assert protocol_columns({"heldout_split": "random", "heldout_seed": 2}) == {"heldout_split": "random",
                                                                                "heldout_seed": 2}


def _correlation_table():
    rows, model_num = [], 0
    for method, slope in (("beta_vae", 0.5), ("hfs_vae", 0.1)):
        for strength in (math.inf, 0.4, 0.2, 0.1):
            for seed in (0, 1, 2):
                score = 0.6 - slope * (0.0 if math.isinf(strength) else 0.1 / strength) + 0.01 * seed
                rows.append({"source": "tfdisent", "model_num": model_num, "status": "done", "dataset": "dsprites",
                             "method": method, "config": f"{method}(correlation_strength={strength})", "seed": seed,
                             "representation": "mean", "correlated_factors": None if math.isinf(strength) else
                             "pos_x:pos_y", "correlation_strength": strength, "mig.discrete_mig": score,
                             "fos.fos": 1.0 + seed})
                model_num += 1
    return pd.DataFrame(rows)


def test_metric_vs_correlation_known_answer():
    curves = analysis.metric_vs_correlation(_correlation_table(), ["mig.discrete_mig", "fos.fos"])
    mig = curves[(curves["metric"] == "mig.discrete_mig") & (curves["method"] == "beta_vae")]
    assert mig["correlation_strength"].tolist() == [0.1, 0.2, 0.4, math.inf]
    assert (mig["n"] == 3).all()
    # Seeds add 0, 0.01, 0.02: mean offset 0.01, sample SD 0.01.
    np.testing.assert_allclose(mig["mean"], [0.6 - 0.5 + 0.01, 0.6 - 0.25 + 0.01, 0.6 - 0.125 + 0.01, 0.61])
    np.testing.assert_allclose(mig["sd"], 0.01)
    assert set(mig["correlated_factors"]) == {"pos_x:pos_y", ""}
    assert analysis.metric_vs_correlation(_correlation_table().drop(columns="correlation_strength"),
                                          ["mig.discrete_mig"]).empty


def _trend_table(cells, metric="mig.discrete_mig"):
    """A study table with one seed per (method, sigma): ``cells[method][j]`` at sigma (0.1, 0.2, 0.4, inf)[j]."""
    rows = []
    for method, values in cells.items():
        for strength, value in zip((0.1, 0.2, 0.4, math.inf), values):
            rows.append({"dataset": "dsprites", "method": method, "status": "done", "representation": "mean",
                         "correlated_factors": "pos_x:pos_y", "correlation_strength": strength, metric: value})
    return pd.DataFrame(rows)


def test_correlation_trend_known_answers():
    from scipy import stats
    # Every one of 7 methods gets worse with every step of correlation: Page's L is its maximum,
    # n * sum(j^2 for j = 1..4) = 7 * 30 = 210, and all 7 deltas are negative (exact Wilcoxon p = 2 / 2^7).
    falling = {f"m{i}": [0.1 + i / 100, 0.2 + i / 100, 0.3 + i / 100, 0.5 + i / 50] for i in range(7)}
    row = analysis.correlation_trend(_trend_table(falling), ["mig.discrete_mig"]).iloc[0]
    assert (row["n_methods"], row["n_models"], row["strengths"]) == (7, 28, 4)
    assert row["page_L"] == 210 and row["page_p"] < 1e-4
    assert row["methods_worse"] == 7 and row["wilcoxon_p"] == pytest.approx(2 / 2 ** 7)
    deltas = np.array([0.1 + i / 100 - (0.5 + i / 50) for i in range(7)])
    half = stats.t.ppf(0.975, 6) * deltas.std(ddof=1) / np.sqrt(7)
    assert row["delta_mean"] == pytest.approx(deltas.mean()) and row["delta_sd"] == pytest.approx(deltas.std(ddof=1))
    assert (row["delta_t_low"], row["delta_t_high"]) == pytest.approx((deltas.mean() - half, deltas.mean() + half))
    assert row["delta_boot_low"] <= deltas.mean() <= row["delta_boot_high"] < 0
    # A lower-is-better score (FoS) that rises with the correlation is "worse" the same way.
    rising = {m: [-v for v in values] for m, values in falling.items()}
    row = analysis.correlation_trend(_trend_table(rising, "fos.fos"), ["fos.fos"], {"fos.fos": -1}).iloc[0]
    assert row["direction"] == -1 and row["page_L"] == 210 and row["methods_worse"] == 7
    # No trend: each method's ranks are a cyclic shift (a Latin square), so every rank sum is equal and
    # L = sum(j) * n * mean rank = 10 * 4 * 2.5 = 100, Page's p about one half; the strongest-vs-baseline
    # changes cancel out.
    latin = {f"m{i}": list(np.roll([1.0, 2.0, 3.0, 4.0], i)) for i in range(4)}
    row = analysis.correlation_trend(_trend_table(latin), ["mig.discrete_mig"]).iloc[0]
    assert row["page_L"] == 100 and 0.3 < row["page_p"] < 0.7
    assert row["delta_mean"] == pytest.approx(0.0) and row["delta_t_low"] < 0 < row["delta_t_high"]
    # Too little design: NaN tests, not an error; a method lacking a strength is left out.
    two = _trend_table({"m0": [0.1, 0.2, 0.3, 0.4]})
    assert np.isnan(analysis.correlation_trend(two, ["mig.discrete_mig"]).iloc[0]["page_p"])
    partial = _trend_table(falling)
    partial = partial[~((partial["method"] == "m0") & (partial["correlation_strength"] == 0.2))]
    assert analysis.correlation_trend(partial, ["mig.discrete_mig"]).iloc[0]["n_methods"] == 6


def test_report_plots_the_metric_against_the_strength(tmp_path):
    index = write_report(_correlation_table(), str(tmp_path))
    text = open(index).read()
    assert "## Scores against the training correlation (Träuble et al. 2021)" in text
    assert os.path.exists(tmp_path / "correlation_dsprites.png") and os.path.exists(tmp_path / "correlation_dsprites.svg")
    table = pd.read_csv(tmp_path / "metric_vs_correlation.csv")
    assert set(table["metric"]) == {"mig.discrete_mig", "fos.fos"} and (table["n"] == 3).all()
    trend = pd.read_csv(tmp_path / "correlation_trend.csv")
    assert set(trend["metric"]) == {"mig.discrete_mig", "fos.fos"}
    assert trend.set_index("metric").loc["fos.fos", "direction"] == -1
    assert "### Does the score get worse as the correlation grows?" in text and "| Page p |" in text


def test_a_heldout_model_trains_on_its_split_and_is_scored_on_it(tmp_path):
    """One model through the study trial in-process: trained on the extrapolation split's train part,
    heldout_r2 scored on the same split, the protocol in the results table."""
    from tfdisent.study import aggregate, trial

    raw = json.load(open("flags/studies/cpu_small.json"))
    raw.update(name="heldout_tiny", seeds=[0])
    raw["train"].update(steps=2, log_every=2, checkpoint_every=2, latent_dim=4, eval_batches=1, batch_size=16)
    raw["configs"] = [{"method": "beta_vae", "fixed": {"beta": 1}, "grid": {"heldout_split": ["extrapolation"]}}]
    raw["evaluation"] = {"metrics": ["heldout_r2"], "representations": ["mean"], "seed": 0,
                         "settings": {"heldout_r2": {"num_train": 200, "num_test": 100, "readout": "linear"}}}
    study = spec.study_from_dict(raw)
    spec.validate_study(study)
    out = str(tmp_path / "out")
    evaluation = {"metrics": study.evaluation.metrics, "representations": study.evaluation.representations,
                  "settings": study.evaluation.settings, "seed": study.evaluation.seed}
    record = trial.run_model(out, study.model(0).to_dict(), evaluation,
                             {"name": study.name, "fingerprint": study.fingerprint()})
    assert record["status"] == "done", record.get("reason")
    results = json.load(open(os.path.join(trial.model_dir(out, 0), "results", "train_results.json")))
    assert results["training_data"] == "dsprites_extrapolation_train"
    report = json.load(open(os.path.join(trial.model_dir(out, 0), "results", "evaluation_mean.json")))
    assert report["metrics"]["heldout_r2"]["settings"]["split"] == "extrapolation"
    assert np.isfinite(report["metrics"]["heldout_r2"]["rsquared"])
    table = aggregate.build_table(out)
    assert table.loc[0, "heldout_split"] == "extrapolation" and table.loc[0, "config"] == \
        "beta_vae(heldout_split=extrapolation)"
