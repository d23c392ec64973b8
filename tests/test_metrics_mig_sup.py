"""MIG-sup (Li et al. 2020, Ubisoft form): the reference notes' known answers (§2.4), normalisers,
presets and the dead-code policy."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import mig_sup
from tfdisent.metrics.synthetic import SyntheticRepresentation

from modern_codes import known_codes, uniform_factors

# modern_evaluation.md §2.4 (U[0, 1] factors, N = 10000, K = 3); inactive is NaN in the reference.
REFERENCE = {"identity": 0.9978, "rotated": 0.3335, "noise": 0.0003, "duplicated": 0.9979, "inactive": 0.9978}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_the_reference_table(name):
    factors = uniform_factors(10000, 3)
    scores = mig_sup.mig_sup_from_codes(known_codes(factors)[name], factors, continuous_factors=True)
    assert scores["mig_sup"] == pytest.approx(REFERENCE[name], abs=0.005)
    assert scores["num_active_codes"] == (3 if name == "inactive" else known_codes(factors)[name].shape[1])


def test_repo_default_noise_levels():
    """§2.4 at the repo default N = 20000, K = 8: codes (1 - λ) f + λ U."""
    rs = np.random.RandomState(0)
    factors = rs.rand(20000, 8)
    for lam, expected in ((0.0, 0.9988), (0.2, 0.538), (1.0, 0.0001)):
        codes = (1 - lam) * factors + lam * rs.rand(20000, 8)
        assert mig_sup.mig_sup_from_codes(codes, factors, continuous_factors=True)["mig_sup"] == pytest.approx(
            expected, abs=0.006)


def test_normalisers_by_hand():
    mi = np.array([[1.0, 0.2], [0.3, 0.3], [0.0, 0.0]])
    code_h, factor_h = np.array([2.0, 1.0, 0.0]), np.array([1.0, 0.5])
    by_code = mig_sup.normalized_mutual_information(mi, code_h, factor_h, "code_entropy")
    np.testing.assert_allclose(by_code, [[0.5, 0.1], [0.3, 0.3], [0.0, 0.0]])
    by_factor = mig_sup.normalized_mutual_information(mi, code_h, factor_h, "factor_entropy")
    np.testing.assert_allclose(mig_sup.gaps_over_factors(by_factor), [0.6, 0.3, 0.0])


def test_provlae_preset_prunes_low_variance_codes():
    factors = uniform_factors(5000, 3)
    codes = np.c_[factors, 0.01 * np.random.RandomState(3).rand(5000)]  # variance ~1e-5 < 1e-2
    ubisoft = mig_sup.mig_sup_from_codes(codes, factors, continuous_factors=True)
    provlae = mig_sup.mig_sup_from_codes(codes, factors, continuous_factors=True, **{
        k: v for k, v in mig_sup.PRESETS["provlae"].items()})
    assert ubisoft["num_active_codes"] == 4 and provlae["num_active_codes"] == 3
    assert provlae["mig_sup"] > ubisoft["mig_sup"] + 0.2


def test_registered_and_runs_on_a_dataset():
    sizes = (4, 5, 6)
    dataset = IdentityObservations(sizes)
    top = metrics.compute("mig_sup", dataset, SyntheticRepresentation(sizes, noise_dims=0), 0, num_train=2000)
    rotated = metrics.compute("mig_sup", dataset, SyntheticRepresentation(sizes, "rotated", noise_dims=0), 0,
                              num_train=2000)
    assert top["mig_sup"] > 0.9 > 0.5 > rotated["mig_sup"]
    collapsed = metrics.compute("mig_sup", dataset, lambda x: np.zeros((len(x), 3)), 0, num_train=200)
    assert collapsed == {"mig_sup": 0.0, "num_active_codes": 0}
    with pytest.raises(metrics.MetricError, match="not one of"):
        metrics.resolve_settings("mig_sup", normalizer="bits")
