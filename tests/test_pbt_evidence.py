"""PBT evidence statistics on known answers (no TensorFlow, no Ray)."""

import numpy as np
import pytest

from tfdisent.pbt import evidence


def test_paired_comparison_known_differences():
    a = {"0": 0.5, "1": 0.6, "2": 0.7, "3": 0.8, "4": 0.9}
    b = {"0": 0.4, "1": 0.5, "2": 0.6, "3": 0.7, "4": 0.8, "9": 1.0}  # seed 9 has no partner: ignored
    result = evidence.paired_comparison(a, b, n_resamples=999)
    assert result["n"] == 5 and result["wins"] == 5 and result["seeds"] == ["0", "1", "2", "3", "4"]
    assert result["mean_difference"] == pytest.approx(0.1) and result["sd_difference"] == pytest.approx(0.0, abs=1e-12)
    assert result["low"] == pytest.approx(0.1) and result["high"] == pytest.approx(0.1)
    assert result["t_low"] == pytest.approx(0.1) and result["t_high"] == pytest.approx(0.1)  # (rounding spread only)
    same = evidence.paired_comparison({"0": 1.0, "1": 2.0}, {"0": 0.5, "1": 1.5})   # exactly equal differences
    assert np.isnan(same["t_low"]) and np.isnan(same["t_p"]) and same["low"] == same["high"] == 0.5
    # every sign positive: the exact two-sided sign-flip p is 2 / 2^5, the smallest attainable
    assert result["p"] == pytest.approx(2 / 32) and result["min_p"] == pytest.approx(2 / 32)


def test_paired_comparison_of_the_documented_pbt_numbers():
    # docs/pbt/evidence/results.json, MIG of PBT vs few-label selection per seed (issue 19: 1 win of 3)
    pbt = {"0": 0.04719983572794315, "1": 0.130755911329116, "2": 0.02241793608667607}
    selection = {"0": 0.04813009022407144, "1": 0.0340072383585367, "2": 0.04954231035895945}
    result = evidence.paired_comparison(pbt, selection, n_resamples=999)
    assert result["wins"] == 1 and result["n"] == 3
    d = np.array([pbt[s] - selection[s] for s in "012"])
    assert result["mean_difference"] == pytest.approx(d.mean()) and result["sd_difference"] == pytest.approx(
        np.std(d, ddof=1))
    # exact over the 8 sign flips: |mean| >= observed for the observed pattern and its mirror image only
    flips = np.array([[s0, s1, s2] for s0 in (1, -1) for s1 in (1, -1) for s2 in (1, -1)])
    exact = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    assert result["p"] == pytest.approx(exact) and result["low"] < 0 < result["high"]
    # paired t interval: mean +- t(0.975, 2) * sd / sqrt(3), t(0.975, 2) = 4.302653
    half = 4.302653 * np.std(d, ddof=1) / np.sqrt(3)
    assert result["t_low"] == pytest.approx(d.mean() - half, rel=1e-5)
    assert result["t_high"] == pytest.approx(d.mean() + half, rel=1e-5)
    t = d.mean() / (np.std(d, ddof=1) / np.sqrt(3))   # two-sided p of t with 2 degrees of freedom
    assert result["t_p"] == pytest.approx(1 - abs(t) / np.sqrt(2 + t * t), rel=1e-6)
    assert evidence.summarize(list(pbt.values()))["sd"] == pytest.approx(0.057, abs=0.001)  # ddof = 1, not 0.046


def test_brown_forsythe_known_spread():
    same = evidence.variance_comparison([1, 2, 3, 4, 5], [11, 12, 13, 14, 15])  # shifted copy: equal spread
    assert same["statistic"] == pytest.approx(0.0) and same["p"] == pytest.approx(1.0)
    different = evidence.variance_comparison([0, 0.01, -0.01, 0.02, -0.02, 0.0] * 3, [0, 5, -5, 10, -10, 0] * 3)
    assert different["p"] < 0.01 and different["sd_b"] > different["sd_a"]
    assert np.isnan(evidence.variance_comparison([1.0], [1.0, 2.0])["p"])


def _reproduce():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "pbt", "reproduce.py")
    spec = importlib.util.spec_from_file_location("pbt_reproduce", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, os.path.join(os.path.dirname(path), "evidence", "results.json")


def test_reproduce_plan_and_statistics_of_the_shipped_evidence():
    import argparse
    import json

    module, results_path = _reproduce()
    args = argparse.Namespace(population=4, generations=4, generation_samples=9600, seeds="0,1,2,3,4",
                              arms="pbt,random_search,fixed,selection")
    projection = module.plan(args)
    assert projection["budget_samples"] == 153_600 and projection["seeds"] == 5
    assert projection["total_seconds"] == pytest.approx(5 * projection["seconds_per_seed"])
    assert projection["pbt_seconds"] == pytest.approx(206.0)  # the measured run it is calibrated on (median)
    stats = module.statistics(json.load(open(results_path)), n_resamples=999)
    assert set(stats["summary"]) == {"pbt", "selection", "semi_supervised", "study_betas"}
    assert stats["summary"]["pbt"]["mig"]["sd"] == pytest.approx(0.057, abs=0.001)
    assert stats["comparisons"]["selection"]["mig"]["mean"]["wins"] == 1
