"""The study analyses on small synthetic tables with known answers (no TensorFlow)."""

import numpy as np
import pandas as pd
import pytest

from tfdisent.study import analysis


def _table(score_fn, datasets=("dsprites", "cars3d"), seeds=(0, 1, 2), representations=("mean",)):
    """3 methods x 2 settings x seeds x datasets; score_fn(method, value, seed, dataset, rs) -> dict of columns."""
    rs = np.random.RandomState(0)
    rows, model_num = [], 0
    grid = {"beta_vae": ("beta", [1, 8]), "beta_tcvae": ("beta", [1, 10]), "factor_vae": ("gamma", [10, 100])}
    for dataset in datasets:
        for method, (name, values) in grid.items():
            for value in values:
                for seed in seeds:
                    scores = score_fn(method, value, seed, dataset, rs)
                    for representation in representations:
                        row = {"source": "tfdisent", "model_num": model_num, "status": "done", "dataset": dataset,
                               "method": method, "config": f"{method}({name}={value})", "seed": seed,
                               "representation": representation, name: value}
                        row.update(scores(representation) if callable(scores) else scores)
                        rows.append(row)
                    model_num += 1
    frame = pd.DataFrame(rows)
    frame.loc[len(frame)] = {"source": "tfdisent", "model_num": 999, "status": "failed", "dataset": datasets[0],
                             "method": "beta_vae", "config": "beta_vae(beta=1)", "seed": 9, "representation": None}
    return frame


def test_perfectly_correlated_metrics_give_spearman_one():
    def scores(method, value, seed, dataset, rs):
        x = rs.rand()
        return {"a": x, "b": np.exp(3 * x), "c": -x, "d": rs.rand()}
    result = analysis.metric_agreement(_table(scores), ["a", "b", "c", "d"])
    assert set(result) == {"cars3d", "dsprites"}
    for matrix in result.values():
        assert matrix.loc["a", "b"] == pytest.approx(1.0)
        assert matrix.loc["a", "c"] == pytest.approx(-1.0)
        assert abs(matrix.loc["a", "d"]) < 0.9


def test_setting_that_always_wins_is_selected_with_probability_one():
    def scores(method, value, seed, dataset, rs):
        best = method == "beta_tcvae" and value == 10
        return {"m1": 1.0 + rs.rand() if best else rs.rand() * 0.9, "m2": 5.0 if best else rs.rand()}
    table = _table(scores)
    assert analysis.selection_probability(table, "m1", "m1", "dsprites", "dsprites") == pytest.approx(1.0)
    assert analysis.selection_probability(table, "m1", "m2", "dsprites", "cars3d") == pytest.approx(1.0)
    grid = analysis.selection_probability_table(table, ["m1", "m2"])
    assert grid.shape == (2, 2) and np.allclose(grid.to_numpy(dtype=float), 1.0)


def test_selection_on_pure_noise_is_near_chance():
    table = _table(lambda *args: {"m": args[-1].rand()}, seeds=tuple(range(12)))
    assert 0.3 < analysis.selection_probability(table, "m", "m", "dsprites", "dsprites") < 0.7


def test_variance_fully_explained_by_method():
    levels = {"beta_vae": 0.1, "beta_tcvae": 0.5, "factor_vae": 0.9}
    table = _table(lambda method, *rest: {"m": levels[method]})
    result = analysis.variance_explained(table, ["m"])
    assert np.allclose(result["method"], 1.0) and np.allclose(result["setting"], 1.0)
    assert np.allclose(result["seed"], 0.0)
    noisy = analysis.variance_explained(_table(lambda *args: {"m": float(args[2])}), ["m"])  # seed only
    assert np.allclose(noisy["method"], 0.0) and np.allclose(noisy["seed"], 1.0)


def test_pairwise_and_unsupervised_selection():
    assert analysis.pairwise_selection_probability([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert analysis.pairwise_selection_probability([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(0.0)
    assert analysis.pairwise_selection_probability([1, 2], [5, 5]) == pytest.approx(0.5)

    def scores(method, value, seed, dataset, rs):
        x = rs.rand()
        return {"eval.reconstruction": -x, "metric": x}
    result = analysis.unsupervised_selection(_table(scores), {"eval.reconstruction": -1}, ["metric"])
    assert np.allclose(result["metric"], 1.0) and len(result) == 2


def test_hyperparameter_transfer():
    rank = {"beta_vae(beta=1)": 1, "beta_vae(beta=8)": 2, "beta_tcvae(beta=1)": 3, "beta_tcvae(beta=10)": 4,
            "factor_vae(gamma=10)": 5, "factor_vae(gamma=100)": 6}
    table = _table(lambda method, value, seed, dataset, rs: {
        "m": rank[f"{method}({'gamma' if method == 'factor_vae' else 'beta'}={value})"] * (1 if dataset == "dsprites"
                                                                                          else -1) + 0.01 * seed})
    matrix = analysis.hyperparameter_transfer(table, "m")
    assert matrix.loc["dsprites", "cars3d"] == pytest.approx(-1.0)
    assert matrix.loc["dsprites", "dsprites"] == pytest.approx(1.0)


def test_normalized_sum_is_abdi_table_1():
    # Abdi et al. (2019), Table 1, two rows and two metrics: normalised by the column maximum and summed.
    table = pd.DataFrame([
        {"status": "done", "representation": "mean", "method": "beta_tcvae", "dci": 0.392, "irs": 0.646},
        {"status": "done", "representation": "mean", "method": "dip_vae_ii", "dci": 0.359, "irs": 0.340},
        {"status": "done", "representation": "mean", "method": "dip_vae_ii", "dci": 0.359, "irs": 0.340},
        {"status": "done", "representation": "sampled", "method": "dip_vae_ii", "dci": 9.0, "irs": 9.0}])
    result = analysis.normalized_sum(table, ["dci", "irs"])
    assert list(result.index) == ["beta_tcvae", "dip_vae_ii"]
    assert result.loc["beta_tcvae", "normalized_sum"] == pytest.approx(2.0)
    assert result.loc["dip_vae_ii", "normalized_sum"] == pytest.approx(0.359 / 0.392 + 0.340 / 0.646)


def test_tc_of_mean_and_sampled_against_strength():
    def scores(method, value, seed, dataset, rs):
        return lambda representation: {"unsupervised.gaussian_total_correlation":
                                       value if representation == "mean" else 1.0 / value}
    table = _table(scores, representations=("mean", "sampled"))
    result = analysis.tc_vs_strength(table, {"beta_vae": "beta"})
    rows = result[result["dataset"] == "dsprites"].sort_values("strength")
    assert list(rows["strength"]) == [1.0, 8.0]
    assert list(rows["mean"]) == [1.0, 8.0] and list(rows["sampled"]) == [1.0, 0.125]


def test_downstream_efficiency_correlates_with_metrics():
    def scores(method, value, seed, dataset, rs):
        x = rs.rand()
        return {"mig.discrete_mig": x, "downstream.logistic_regression/10:mean_test_accuracy": 0.5 * x + 0.1,
                "downstream.logistic_regression/100:mean_test_accuracy": 0.5 * x + 0.2,
                "downstream.logistic_regression/1000:mean_test_accuracy": 0.9}
    result = analysis.downstream_efficiency(_table(scores), ["mig.discrete_mig"])
    assert result["dsprites"].loc["mig.discrete_mig", "efficiency 100/1000"] == pytest.approx(1.0)
    assert analysis.downstream_efficiency(_table(lambda *a: {"mig.discrete_mig": 1.0}), ["mig.discrete_mig"]) == {}
