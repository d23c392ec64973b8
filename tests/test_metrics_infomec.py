"""InfoMEC (Hsu et al. 2023): the reference notes' known answers (§3.5), pruning of inactive
latents and the formulas by hand."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import infomec
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = np.array([4, 6, 10])


def data(n=4000, seed=0):
    rs = np.random.RandomState(seed)
    factors = np.stack([rs.randint(size, size=n) for size in SIZES], axis=1)
    latents = (factors - (SIZES - 1) / 2) / SIZES + 0.01 * rs.randn(n, 3)
    return factors, latents, rs


def test_identity_scores_one():
    factors, latents, _ = data()
    scores = infomec.infomec_from_codes(latents, factors)
    assert scores["infom"] > 0.98 and scores["infoc"] > 0.98 and scores["infoe"] > 0.98


def test_duplicates_keep_infom_and_halve_infoc_to_the_reference_value():
    factors, latents, _ = data()
    scores = infomec.infomec_from_codes(np.c_[latents, latents], factors)
    assert scores["infom"] > 0.98
    assert scores["infoc"] == pytest.approx(2 / 5, abs=0.01)  # (K - 1) / (2K - 1), K = 3


def test_linear_mixing_lowers_m_and_c_but_not_e():
    factors, latents, _ = data()
    mixed = latents @ np.array([[1.0, 0.5, 0.2], [-0.3, 1.0, 0.4], [0.1, -0.6, 1.0]])
    plain, scores = infomec.infomec_from_codes(latents, factors), infomec.infomec_from_codes(mixed, factors)
    assert scores["infom"] < plain["infom"] - 0.3 and scores["infoc"] < plain["infoc"] - 0.3
    assert scores["infoe"] == pytest.approx(plain["infoe"], abs=0.01)


def test_inactive_latents_are_pruned_and_change_nothing():
    factors, latents, _ = data()
    plain = infomec.infomec_from_codes(latents, factors)
    extra = infomec.infomec_from_codes(np.c_[latents, np.zeros(len(latents)), 1e-4 * latents[:, :1]], factors)
    assert extra["num_active_latents"] == 3
    for key in ("infom", "infoc"):
        assert extra[key] == pytest.approx(plain[key], abs=1e-12)
    assert extra["infoe"] == pytest.approx(plain["infoe"], abs=0.01)


def test_noise_has_no_information_and_infoe_near_zero():
    factors, _, rs = data()
    scores = infomec.infomec_from_codes(rs.randn(len(factors), 3), factors)
    assert scores["infoe"] < 0.01
    assert np.max(scores["nmi"]) < 0.01
    assert 0.0 <= scores["infom"] <= 1.0 and 0.0 <= scores["infoc"] <= 1.0


def test_scores_by_hand_and_zero_rows_count_as_uniform():
    nmi = np.array([[0.9, 0.1, 0.0], [0.0, 0.5, 0.0]])
    infom, infoc = infomec.info_m_and_c(nmi, np.array([True, True, True]))
    # columns (latents): max/sum = 1, 5/6 and 1/2 for the all-zero one (uniform); then (m - 1/K) / (1 - 1/K)
    assert infom == pytest.approx((np.mean([1.0, 0.5 / 0.6, 0.5]) - 0.5) / 0.5)
    assert infoc == pytest.approx((np.mean([0.9, 1.0]) - 1 / 3) / (2 / 3))
    assert infomec.info_m_and_c(np.zeros((2, 3)), np.ones(3, bool)) == (0.0, 0.0)


def test_discrete_latents_use_the_plug_in_estimate():
    factors, _, _ = data()
    scores = infomec.infomec_from_codes(factors * 2, factors, discrete_latents=True)
    # plug-in MI of independent discrete columns is biased slightly above 0, hence not exactly 1
    assert scores["infom"] == pytest.approx(1.0, abs=0.02) and scores["infoc"] == pytest.approx(1.0, abs=0.02)
    assert scores["infoe"] > 0.99


def test_registered_and_runs_on_a_dataset():
    sizes = (4, 5, 6)
    scores = metrics.compute("infomec", IdentityObservations(sizes), SyntheticRepresentation(sizes, noise_dims=0), 0,
                             num_train=2000)
    assert scores["infom"] > 0.9 and scores["infoc"] > 0.9 and scores["infoe"] > 0.9


def test_knn_estimator_equals_scikit_learns():
    from sklearn.feature_selection import mutual_info_classif

    from tfdisent.metrics import utils

    rs = np.random.RandomState(0)
    labels = rs.randint(7, size=3000)
    labels[0] = 99  # a single-member class is dropped, as scikit-learn does
    values = np.c_[labels + rs.randn(3000), rs.randn(3000), np.round(rs.randn(3000), 1), 0.1 * labels]
    expected = mutual_info_classif(values, labels, discrete_features=False, n_neighbors=10, random_state=0)
    # atol: with many tied values, rounding at the neighbour radius can move one count
    np.testing.assert_allclose(utils.knn_mutual_information(values, labels, 10, 0), expected, rtol=0, atol=1e-5)
