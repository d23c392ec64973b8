"""JEMMIG (Do & Tran 2020, Ubisoft's 1 - normalised form): the reference notes' known answers
(§2.4), including the duplicated factor's term of 0.5."""

import numpy as np
import pytest

from tfdisent import metrics
from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import jemmig
from tfdisent.metrics.synthetic import SyntheticRepresentation

from modern_codes import known_codes, uniform_factors

REFERENCE = {"identity": 0.9989, "rotated": 0.4195, "noise": 0.0012, "duplicated": 0.8326, "inactive": 0.9989}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_the_reference_table(name):
    factors = uniform_factors(10000, 3)
    scores = jemmig.jemmig_from_codes(known_codes(factors)[name], factors, continuous_factors=True)
    assert scores["jemmig"] == pytest.approx(REFERENCE[name], abs=0.005)
    if name == "duplicated":
        assert scores["jemmig_per_factor"][0] == pytest.approx(0.5, abs=0.005)


def test_repo_default_noise_levels():
    rs = np.random.RandomState(0)
    factors = rs.rand(20000, 8)
    for lam, expected in ((0.0, 0.9994), (0.2, 0.537), (1.0, 0.0006)):
        codes = (1 - lam) * factors + lam * rs.rand(20000, 8)
        assert jemmig.jemmig_from_codes(codes, factors, continuous_factors=True)["jemmig"] == pytest.approx(
            expected, abs=0.006)


def test_formula_by_hand():
    # one factor (H = 1), codes with MI 0.8 and 0.3 and entropies 1.2, 2: joint 1 + 1.2 - 0.8 = 1.4
    scores = jemmig.jemmig_from_mutual_information(np.array([[0.8], [0.3]]), np.array([1.2, 2.0]),
                                                   np.array([1.0]), num_bins=10)
    assert scores["jemmig"] == pytest.approx(1 - (1.4 - 0.8 + 0.3) / (1 + np.log(10)))


def test_registered_and_runs_on_a_dataset():
    sizes = (4, 5, 6)
    dataset = IdentityObservations(sizes)
    top = metrics.compute("jemmig", dataset, SyntheticRepresentation(sizes), 0, num_train=2000)
    noise = metrics.compute("jemmig", dataset, SyntheticRepresentation(sizes, "noise"), 0, num_train=2000)
    assert top["jemmig"] > 0.7 > 0.2 > noise["jemmig"] and len(top["jemmig_per_factor"]) == 3


def test_constant_codes_are_never_the_best_code():
    factors = uniform_factors(2000, 3)
    collapsed = jemmig.jemmig_from_codes(np.zeros((2000, 4)), factors, continuous_factors=True)
    assert collapsed == {"jemmig": 0.0, "jemmig_per_factor": [0.0, 0.0, 0.0]}
    # One informative code and constants: the other factors fall to their z* = that code's score (~0).
    partial = jemmig.jemmig_from_codes(np.c_[factors[:, :1], np.zeros((2000, 2))], factors, continuous_factors=True)
    assert partial["jemmig_per_factor"][0] > 0.95 and max(partial["jemmig_per_factor"][1:]) < 0.05
