"""IRS: formula by hand, known answers, active-dimension count and invariances."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import irs
from tfdisent.metrics.synthetic import SyntheticRepresentation

SIZES = (4, 5, 6, 8)


def score(kind, noise_scale=0.05, **kwargs):
    return metrics.compute("irs", IdentityObservations(SIZES),
                           SyntheticRepresentation(SIZES, kind, noise_scale=noise_scale, **kwargs),
                           np.random.RandomState(0), num_train=3000)


def test_robustness_by_hand():
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    # Code 0 copies factor 0 (robust to factor 1); code 1 is the sum of both.
    codes = np.stack([factors[:, 0], factors.sum(axis=1)], axis=1).astype(float)
    result = irs.interventional_robustness(factors, codes, diff_quantile=1.0)
    np.testing.assert_allclose(result["irs_matrix"][0], [1.0, 0.0])
    np.testing.assert_allclose(result["irs_matrix"][1], [0.5, 0.5])
    np.testing.assert_allclose(result["max_deviations"], [0.5, 1.0])
    assert result["avg_score"] == pytest.approx((0.5 * 1.0 + 1.0 * 0.5) / 1.5)
    assert result["parents"][0] == 0


def test_disentangled_top_rotated_lower_noise_low():
    disentangled, rotated, noise = score("disentangled"), score("rotated"), score("noise")
    assert disentangled["IRS"] > 0.9 and disentangled["num_active_dims"] == 6
    assert rotated["IRS"] < disentangled["IRS"] - 0.25
    assert noise["IRS"] < 0.4


def test_num_active_dims_counts_non_constant_codes():
    result = score("disentangled", constant_dims=3)
    assert result["num_active_dims"] == 6 and np.isfinite(result["IRS"])
    collapsed = metrics.compute("irs", IdentityObservations(SIZES), lambda x: np.ones((len(x), 2)),
                                np.random.RandomState(0), num_train=200)
    assert collapsed == {"IRS": 0.0, "num_active_dims": 0}


def test_invariant_to_permuting_and_flipping_dimensions():
    base = score("mixed", mixing=0.4)
    assert score("mixed", mixing=0.4, permutation=[2, 0, 1, 5, 4, 3])["IRS"] == pytest.approx(base["IRS"], abs=1e-9)
    assert score("mixed", mixing=0.4, signs=[-1, 1, 1, -1, -1, 1])["IRS"] == pytest.approx(base["IRS"], abs=1e-9)
