"""Model selection with few labels picks the disentangled candidate, on codes with a known answer."""

import numpy as np
import pytest

from factor_grid import FactorGrid
from tfdisent.pbt.baselines import select_by_few_labels


def _encoder(transform):
    """An encoder of FactorGrid images: the factors (pixel row 0) mapped by ``transform``."""
    def encode(observations):
        factors = observations[:, 0, :3, 0].astype(np.float64)
        means = transform(factors)
        return means, np.zeros_like(means)
    return encode


def test_selects_the_disentangled_code():
    dataset = FactorGrid((5, 6, 7))
    rotation = np.linalg.qr(np.random.RandomState(0).normal(size=(3, 3)))[0]
    candidates = {
        "noise": _encoder(lambda f: np.random.RandomState(1).normal(size=f.shape)),
        "rotated": _encoder(lambda f: f @ rotation),
        "disentangled": _encoder(lambda f: f[:, [2, 0, 1]] * [3.0, -1.0, 0.5]),
    }
    best, scores = select_by_few_labels(candidates, dataset, num_labels=200, seed=3)
    assert best == "disentangled"
    assert scores["disentangled"] > 0.9
    assert scores["noise"] < 0.1
    assert scores["noise"] < scores["rotated"] < scores["disentangled"]


def test_a_broken_candidate_scores_zero_and_no_candidates_is_an_error():
    dataset = FactorGrid((4, 4))
    constant = _encoder(lambda f: np.zeros((len(f), 2)))
    good = _encoder(lambda f: f[:, :2])
    best, scores = select_by_few_labels({"constant": constant, "good": good}, dataset, num_labels=100)
    assert best == "good" and scores["constant"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="no candidate"):
        select_by_few_labels({}, dataset)
