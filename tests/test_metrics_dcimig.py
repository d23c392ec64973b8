"""DCIMIG (Sepliarskaia et al. 2019, Ubisoft form): formula by hand and the reference notes' known
answers (§2.4)."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import dcimig
from tfdisent.metrics.synthetic import SyntheticRepresentation

from modern_codes import known_codes, uniform_factors

REFERENCE = {"identity": 0.9978, "rotated": 0.3335, "noise": 0.0003, "duplicated": 0.9978, "inactive": 0.9978}


def test_formula_by_hand():
    # code 0 -> factor 0 gap 0.6; code 1 -> factor 0 gap 0.1 (smaller, ignored); code 2 -> factor 1 gap 0.5
    mi = np.array([[0.8, 0.2], [0.5, 0.4], [0.0, 0.5]])
    assert dcimig.dcimig_from_mutual_information(mi, np.array([1.0, 1.0])) == pytest.approx((0.6 + 0.5) / 2)
    assert dcimig.dcimig_from_mutual_information(mi, np.zeros(2)) == 0.0


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_the_reference_table(name):
    factors = uniform_factors(10000, 3)
    score = dcimig.dcimig_from_codes(known_codes(factors)[name], factors, continuous_factors=True)["dcimig"]
    assert score == pytest.approx(REFERENCE[name], abs=0.005)


def test_repo_default_noise_levels():
    rs = np.random.RandomState(0)
    factors = rs.rand(20000, 8)
    for lam, expected in ((0.0, 0.9988), (0.2, 0.520), (1.0, 0.0001)):
        codes = (1 - lam) * factors + lam * rs.rand(20000, 8)
        assert dcimig.dcimig_from_codes(codes, factors, continuous_factors=True)["dcimig"] == pytest.approx(
            expected, abs=0.006)


def test_registered_and_runs_on_a_dataset():
    sizes = (4, 5, 6)
    dataset = IdentityObservations(sizes)
    top = metrics.compute("dcimig", dataset, SyntheticRepresentation(sizes), 0, num_train=2000)["dcimig"]
    noise = metrics.compute("dcimig", dataset, SyntheticRepresentation(sizes, "noise"), 0, num_train=2000)["dcimig"]
    assert top > 0.95 and noise < 0.05
