"""Held-out factor combinations: train/test splits of a factor grid (Schott et al. 2022, "Visual
Representation Learning Does Not Generalize Strongly Within the Same Domain", ICLR; Fig. 1 and
Sec. 3; bethgelab/InDomainGeneralizationBenchmark).

Every split is a pair of disjoint sorted arrays of flat grid indices (C order over ``factor_sizes``,
:func:`~tfdisent.data.ground_truth.factors_to_indices`) that together cover the grid, for
:class:`~tfdisent.data.subset.IndexedSubset`. The reference ships fixed splits whose train part is
~30% of the grid (its tests check test/total ≈ 0.7 for random, interpolation and extrapolation); its
exact held-out values per dataset are not documented, so here each split is a deterministic rule with
the train fraction as a parameter (default 0.3). Let F' be the number of factors the rule acts on
(``factors``, default every factor with more than one value; interpolation needs three) and
r = train_fraction ** (1 / F') the share of values kept per factor:

* ``random``: ``round((1 - train_fraction) * N)`` grid points drawn at random (``seed``) are test.
* ``extrapolation``: factor k keeps its lowest ``n_k = max(1, round(r K_k))`` values; a point is
  train when every factor is in its kept range, test when any factor exceeds it (Schott et al.'s
  "any point where a factor exceeds a threshold").
* ``interpolation``: factor k keeps ``n_k = max(2, round(r K_k))`` values spread evenly over its range,
  both ends included (``round(linspace(0, K_k - 1, n_k))``); a point is test when any factor takes a
  held-out intermediate value.
* ``composition``: every value of every factor is seen in training, some combinations are not. Each
  factor's range is cut into a lower part and an upper part (its top ``u_k = round(p K_k)`` values,
  1 <= u_k <= K_k - 1); a point is test when two or more factors are in their upper parts (for
  F' = 2: the joint corner of Schott et al.'s Fig. 1). p solves P(at most one factor upper) =
  train_fraction for independent factors, (1-p)^F' + F' p (1-p)^(F'-1) = train_fraction.

``round`` is round-half-up. All functions are pure (numpy in, numpy out).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np


SPLITS = ("random", "composition", "interpolation", "extrapolation")
DEFAULT_TRAIN_FRACTION = 0.3  # the reference's train/total


def _round(x: float) -> int:
    return int(np.floor(x + 0.5))


def _check(factor_sizes: Sequence[int], train_fraction: float) -> Tuple[int, ...]:
    sizes = tuple(int(s) for s in factor_sizes)
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"a split needs a factor grid of positive sizes, got {list(factor_sizes)}")
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    return sizes


def _acting_factors(sizes: Tuple[int, ...], factors: Optional[Sequence[int]], minimum: int) -> Tuple[int, ...]:
    if factors is None:
        chosen = tuple(k for k, s in enumerate(sizes) if s >= minimum)
    else:
        chosen = tuple(sorted({int(k) for k in factors}))
        bad = [k for k in chosen if not 0 <= k < len(sizes) or sizes[k] < minimum]
        if bad:
            raise ValueError(f"split factors {bad} are not factors with at least {minimum} values "
                             f"(sizes {list(sizes)})")
    if not chosen:
        raise ValueError(f"no factor has at least {minimum} values to split on (sizes {list(sizes)})")
    return chosen


def _from_mask(test_mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    indices = np.arange(test_mask.size, dtype=np.int64)
    train, test = indices[~test_mask], indices[test_mask]
    if train.size == 0 or test.size == 0:
        raise ValueError("the split leaves an empty train or test part; change train_fraction")
    return train, test


def _along(sizes: Tuple[int, ...], k: int, values: np.ndarray) -> np.ndarray:
    """``values`` (one per value of factor ``k``) shaped to broadcast over the factor grid's axis ``k``: masks
    are built on the [size_0, ..., size_F-1] grid, whose C-order ravel is the flat index order, without
    listing every grid point's factors (5^10 points for a 10-factor dataset)."""
    shape = [1] * len(sizes)
    shape[k] = sizes[k]
    return np.asarray(values).reshape(shape)


def random_split(factor_sizes: Sequence[int], train_fraction: float = DEFAULT_TRAIN_FRACTION,
                 seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test) flat indices: a seeded random ``1 - train_fraction`` of the grid is test."""
    sizes = _check(factor_sizes, train_fraction)
    total = int(np.prod(sizes, dtype=np.int64))
    num_test = _round((1.0 - train_fraction) * total)
    mask = np.zeros(total, bool)
    mask[np.random.RandomState(seed).permutation(total)[:num_test]] = True
    return _from_mask(mask)


def extrapolation_split(factor_sizes: Sequence[int], train_fraction: float = DEFAULT_TRAIN_FRACTION,
                        factors: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test): train keeps each acting factor's lowest values; test is any factor above them."""
    sizes = _check(factor_sizes, train_fraction)
    acting = _acting_factors(sizes, factors, 2)
    rate = train_fraction ** (1.0 / len(acting))
    test = np.zeros(sizes, bool)
    for k in acting:
        kept = min(max(1, _round(rate * sizes[k])), sizes[k] - 1)
        test |= _along(sizes, k, np.arange(sizes[k]) >= kept)
    return _from_mask(test.ravel())


def interpolation_split(factor_sizes: Sequence[int], train_fraction: float = DEFAULT_TRAIN_FRACTION,
                        factors: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test): each acting factor keeps evenly spaced values (both ends); test is any other value."""
    sizes = _check(factor_sizes, train_fraction)
    acting = _acting_factors(sizes, factors, 3)
    rate = train_fraction ** (1.0 / len(acting))
    test = np.zeros(sizes, bool)
    for k in acting:
        count = min(max(2, _round(rate * sizes[k])), sizes[k] - 1)
        kept = np.unique(np.floor(np.linspace(0, sizes[k] - 1, count) + 0.5).astype(np.int64))
        test |= _along(sizes, k, ~np.isin(np.arange(sizes[k]), kept))
    return _from_mask(test.ravel())


def composition_upper_probability(num_factors: int, train_fraction: float) -> float:
    """p with (1-p)^F + F p (1-p)^(F-1) = train_fraction (bisection; the left side falls from 1 to 0)."""
    low, high = 0.0, 1.0
    for _ in range(100):
        p = 0.5 * (low + high)
        at_most_one = (1 - p) ** num_factors + num_factors * p * (1 - p) ** (num_factors - 1)
        low, high = (p, high) if at_most_one > train_fraction else (low, p)
    return 0.5 * (low + high)


def composition_split(factor_sizes: Sequence[int], train_fraction: float = DEFAULT_TRAIN_FRACTION,
                      factors: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test): test where two or more acting factors lie in their upper parts."""
    sizes = _check(factor_sizes, train_fraction)
    acting = _acting_factors(sizes, factors, 2)
    if len(acting) < 2:
        raise ValueError("a composition split needs at least two factors with two or more values")
    p = composition_upper_probability(len(acting), train_fraction)
    upper_count = np.zeros(sizes, np.int16)
    for k in acting:
        upper = min(max(1, _round(p * sizes[k])), sizes[k] - 1)
        upper_count += _along(sizes, k, np.arange(sizes[k]) >= sizes[k] - upper).astype(np.int16)
    return _from_mask(upper_count.ravel() >= 2)


def make_split(kind: str, factor_sizes: Sequence[int], train_fraction: float = DEFAULT_TRAIN_FRACTION,
               seed: int = 0, factors: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test) flat indices of split ``kind`` (one of :data:`SPLITS`); ``seed`` is used by random only."""
    if kind == "random":
        if factors is not None:
            raise ValueError("the random split holds out grid points, not factors")
        return random_split(factor_sizes, train_fraction, seed)
    if kind == "extrapolation":
        return extrapolation_split(factor_sizes, train_fraction, factors)
    if kind == "interpolation":
        return interpolation_split(factor_sizes, train_fraction, factors)
    if kind == "composition":
        return composition_split(factor_sizes, train_fraction, factors)
    raise ValueError(f"unknown split {kind!r}; choose from {', '.join(SPLITS)}")
