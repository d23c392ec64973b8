"""MCC (Khemakhem et al. 2020): the reference notes' known answers (§4), out-of-sample and weak
MCC, constant columns, and the random-encoder baseline."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import mcc
from tfdisent.metrics.synthetic import SyntheticRepresentation

from modern_codes import ROTATION_45


def sources(n=10000, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, 3))


def pearson(codes, factors):
    return mcc.mean_correlation_coefficient(codes, factors, "pearson")[0]


def test_reference_known_answers():
    s = sources()
    assert pearson(s, s) == pytest.approx(1.0)
    assert pearson(-3.0 * s[:, [2, 0, 1]] + 7.0, s) == pytest.approx(1.0)
    assert pearson(np.c_[s[:, :2] @ ROTATION_45, s[:, 2]], s) == pytest.approx(0.8048, abs=0.003)
    assert pearson(s[:, :2] @ ROTATION_45, s[:, :2]) == pytest.approx(0.7071, abs=0.003)
    assert pearson(s ** 3, s) == pytest.approx(0.9165, abs=0.005)
    assert mcc.mean_correlation_coefficient(s ** 3, s, "spearman")[0] == pytest.approx(1.0)
    assert pearson(s[:, [0, 0, 1]], s) == pytest.approx(0.670, abs=0.005)
    assert pearson(np.random.RandomState(5).uniform(-1, 1, (10000, 3)), s) < 0.03


def test_spearman_equals_scipy():
    import scipy.stats

    rs = np.random.RandomState(1)
    x, y = rs.randn(300, 2), rs.randint(4, size=(300, 3)).astype(float)
    expected = np.abs(scipy.stats.spearmanr(x, y).correlation[:2, 2:])
    np.testing.assert_allclose(mcc.absolute_correlations(x, y, "spearman"), expected, atol=1e-12)


def test_constant_columns_score_zero_instead_of_raising():
    s = sources(2000)
    codes = np.c_[s[:, :2], np.ones(2000)]
    assert pearson(codes, s) == pytest.approx(2 / 3, abs=1e-6)
    scores = mcc.mcc_from_codes(codes, s, codes, s)
    assert scores["mcc_weak"] == pytest.approx(2 / 3, abs=1e-3)


def test_weak_mcc_undoes_any_invertible_linear_mixing():
    s, test = sources(4000), sources(4000, seed=1)
    mixing = np.array([[1.0, 0.5, 0.2], [-0.3, 1.0, 0.4], [0.1, -0.6, 1.0]])
    scores = mcc.mcc_from_codes(s @ mixing, s, test @ mixing, test)
    assert scores["mcc_weak"] == pytest.approx(1.0, abs=1e-3)
    assert scores["mcc_weak_out_of_sample"] == pytest.approx(1.0, abs=1e-3)
    assert scores["mcc_pearson"] < 0.95


def test_compute_reports_the_random_encoder_baseline():
    sizes = (4, 5, 6)
    dataset = IdentityObservations(sizes)
    top = metrics.compute("mcc", dataset, SyntheticRepresentation(sizes), 0, num_train=2000, num_test=1000)
    assert top["mcc_pearson"] > 0.99 and top["mcc_pearson_out_of_sample"] > 0.99
    assert 0 < top["mcc_pearson_random_baseline"] < 0.1
    assert top["mcc_pearson_out_of_sample_random_baseline"] < top["mcc_pearson_random_baseline"] + 0.02
    noise = metrics.compute("mcc", dataset, SyntheticRepresentation(sizes, "noise"), 0, num_train=2000,
                            num_test=1000)
    assert noise["mcc_pearson"] == pytest.approx(noise["mcc_pearson_random_baseline"], abs=0.05)
