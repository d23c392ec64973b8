"""Flatness of factor traversals (Michlo, nmichlo/disent ``disent/metrics/_flatness.py``,
``metric_flatness``; no paper — disent's own metric, included so that numbers compare with disent's).

Each factor f with more than one value is traversed ``repeats`` times (every value of f in order,
the other factors fixed at a random draw; :func:`tfdisent.metrics.utils.factor_traversals`) and
encoded. For one traversal Z [n_f, d]:

* ``width_p`` = the diameter of the point set in the p-norm (largest pairwise distance);
* ``delta_i = ||z_{i+1} - z_i||_p`` cyclically (the last point back to the first, for cyclic
  factors); the largest delta is dropped (for a non-cyclic factor, the wrap-around) and the rest
  averaged: ``ave_delta_p``.

Width and delta are averaged over the repeats; ``length_p = (n_f - 1) ave_delta_p``. A factor's
flatness is ``width_2 / length_1`` (1 for a straight, axis-aligned traversal however unevenly spaced;
``1/sqrt(k)`` for a straight line spread equally over k dimensions; 0 for a factor the code ignores:
its length is 0) and ``flatness_p = width_p / length_p`` (straightness only). Every key is the mean
over factors.

Keys (disent's ``flatness.*`` without the prefix): ``ave_flatness``, ``ave_flatness_l1``,
``ave_flatness_l2``, ``ave_width_l1``, ``ave_width_l2``, ``ave_length_l1``, ``ave_length_l2``.

Defaults: disent's ``fast`` preset (``repeats=128``; the full default is 1024: pass
``repeats=1024``). Expected values do not depend on ``repeats``, only their sampling noise does.
Deviation: none in the formulas; disent encodes in batches of 64 (no effect on the result).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tfdisent.metrics import utils

NAME = "flatness"
REFERENCE_NAME = None  # disent, not disentanglement_lib
NEEDS_FACTORS = True
DEFAULTS = {"repeats": 128}
SCORE_KEYS = ("ave_flatness", "ave_flatness_l1", "ave_flatness_l2", "ave_width_l1", "ave_width_l2",
              "ave_length_l1", "ave_length_l2")
_NORMS = {"l1": 1, "l2": 2}


def _widths_and_deltas(traversals: np.ndarray, order: int):
    """Per repeat: diameter [R] and mean of the cyclic step lengths without the largest [R]."""
    traversals = np.asarray(traversals, dtype=np.float64)
    widths = np.empty(len(traversals))
    for r, points in enumerate(traversals):
        pairwise = np.linalg.norm(points[:, None, :] - points[None, :, :], ord=order, axis=-1)
        widths[r] = pairwise.max()
    steps = np.linalg.norm(np.roll(traversals, -1, axis=1) - traversals, ord=order, axis=-1)
    n = traversals.shape[1]
    deltas = (steps.sum(axis=1) - steps.max(axis=1)) / (n - 1)
    return widths, deltas


def factor_flatness(traversals: np.ndarray) -> dict:
    """Width, length and flatness of one factor from its traversals [R, n_f, d] (n_f > 1)."""
    traversals = np.asarray(traversals, dtype=np.float64)
    n = traversals.shape[1]
    result = {}
    for name, order in _NORMS.items():
        widths, deltas = _widths_and_deltas(traversals, order)
        result[f"width_{name}"] = float(widths.mean())
        result[f"length_{name}"] = float((n - 1) * deltas.mean())

    def ratio(width, length):
        return width / length if length > 0 else 0.0

    result["flatness"] = ratio(result["width_l2"], result["length_l1"])
    result["flatness_l1"] = ratio(result["width_l1"], result["length_l1"])
    result["flatness_l2"] = ratio(result["width_l2"], result["length_l2"])
    return result


def flatness_from_traversals(traversals: Sequence[np.ndarray]) -> dict:
    """disent's flatness keys from one array of traversals [R, n_f, d] per factor (factors with a
    single value are skipped)."""
    per_factor = [factor_flatness(t) for t in traversals if np.shape(t)[1] > 1]
    if not per_factor:
        raise utils.MetricError("flatness: no factor has more than one value")
    return {f"ave_{key}": float(np.mean([item[key] for item in per_factor]))
            for key in ("flatness", "flatness_l1", "flatness_l2", "width_l1", "width_l2", "length_l1",
                        "length_l2")}


def compute(dataset, representation_fn, random_state, settings: dict, cache=None) -> dict:
    utils.check_positive_int(settings, "repeats")
    traversals = []
    for factor, size in enumerate(dataset.factor_sizes):
        if int(size) > 1:
            traversals.append(utils.factor_traversals(dataset, representation_fn, factor, settings["repeats"],
                                                      random_state)[0])
    return flatness_from_traversals(traversals)
