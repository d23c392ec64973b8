"""rPU-VAE's dataset reduction (Estermann et al. 2020, Sec. 4.2 and Fig. 3; reference
``RPUVAEExplorer``): split the data at large gaps of each active latent's sorted values and keep
one interval (where the learned factors vary least).

Robust peak rule for one latent with sorted values ``v`` (n values, gaps ``g_i = v_(i+1) - v_(i)``):
  ``edge = floor((n-1)/15)`` gaps are trimmed at both ends for the statistics;
  ``med`` = median of the trimmed gaps; ``sd`` = std of the trimmed gaps below ``med + 4 std``
  (outlier-robust); peaks = local maxima of the trimmed gaps higher than ``med + 7 sd`` and at
  least ``floor((n-1)/50)`` apart (``scipy.signal.find_peaks``), shifted back by ``edge``.
A peak at gap ``p`` separates sorted positions ``<= p`` from ``> p``. The interval between peaks
``p_k < p_{k+1}`` is the sorted slice ``[p_k + 1, p_{k+1} + 1)``. (The reference slices
``[p_k, p_{k+1})``, which takes the last element before the left wall and drops the last element
of the cluster: the index quirk, fixed here.)
Our addition (the uniform guard): a peak must also exceed ``median / ln 2 * (ln(n-1) + 5)``,
the size the largest gap of n uniform values stays below with probability ~99 %; without it
the reference threshold splits a structureless latent a few times per thousand values.
Interval quality ``Q_k = min(g[p_k], g[p_{k+1}]) / mean(gaps inside the interval)``: sharp walls,
dense inside.

Choice of the interval (``branch`` = the leaf run's ``x_peak`` at the first split, else 0):
  * one active latent: 0 peaks -> no split; 1 peak -> the two halves, pick ``branch`` at the first
    split, later the half with the smaller mean gap; >= 2 peaks -> intervals between detected
    peaks only, ranked by Q, pick the ``branch``-th best;
  * several active latents: per latent the top min(5, #intervals) intervals by Q (with 2-3 peaks
    the data ends count as artificial walls of height 1); intersect one interval per latent over
    all combinations, keep intersections of > 5 points, sort by |size - median size| and pick the
    ``branch``-th. A latent without peaks does not constrain the intersection.

Pure numpy/scipy functions; indices are positions into the arrays given.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import List, Optional, Sequence

import numpy as np
import scipy.signal

TOP_INTERVALS = 5
MIN_INTERSECTION = 5
ARTIFICIAL_WALL = 1.0
UNIFORM_MARGIN = 5.0


@dataclasses.dataclass
class Interval:
    """Sorted positions ``[start, stop)`` of one latent's values, its quality and member indices."""

    start: int
    stop: int
    quality: float
    mean_gap: float
    indices: np.ndarray

    @property
    def size(self) -> int:
        return self.stop - self.start


def gap_peaks(values: np.ndarray) -> np.ndarray:
    """Gap indices (into ``diff(sort(values))``) of the large gaps by the robust peak rule."""
    sorted_values = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    gaps = np.diff(sorted_values)
    num_gaps = len(gaps)
    if num_gaps < 3:
        return np.zeros(0, np.int64)
    edge = num_gaps // 15
    distance = max(1, num_gaps // 50)
    trimmed = gaps[edge:num_gaps - edge]
    if len(trimmed) < 3:
        return np.zeros(0, np.int64)
    median = float(np.median(trimmed))
    inliers = trimmed[trimmed < median + 4.0 * float(np.std(trimmed))]
    spread = float(np.std(inliers)) if inliers.size else 0.0
    height = median + 7.0 * spread
    # Uniform guard (our addition): the gaps of n uniformly spread values are ~exponential with
    # mean median/ln 2, whose largest exceeds mean * (ln n + x) with probability ~e^-x. The
    # reference threshold (~7 means) is crossed a few times per thousand values of a uniform
    # latent; requiring also mean * (ln n + 5) keeps a structureless latent unsplit (< 1 %).
    height = max(height, median / np.log(2.0) * (np.log(num_gaps) + UNIFORM_MARGIN))
    # A perfectly regular latent has spread 0: only strictly larger gaps may be walls.
    peaks, _ = scipy.signal.find_peaks(np.concatenate([[-np.inf], trimmed, [-np.inf]]),
                                       height=np.nextafter(height, np.inf), distance=distance)
    return (peaks - 1 + edge).astype(np.int64)


def _interval(order: np.ndarray, gaps: np.ndarray, start: int, stop: int,
              left_wall: float, right_wall: float) -> Interval:
    inside = gaps[start:stop - 1]
    mean_gap = float(np.mean(inside)) if inside.size else float("inf")
    wall = min(left_wall, right_wall)
    quality = wall / mean_gap if inside.size and mean_gap > 0 else (float("inf") if inside.size else 0.0)
    return Interval(start, stop, quality, mean_gap, np.sort(order[start:stop]))


def latent_intervals(values: np.ndarray, artificial_ends: bool = False,
                     between_peaks_only: bool = False) -> List[Interval]:
    """The intervals one latent's peaks cut its sorted values into (quirk-free slices).

    ``between_peaks_only``: drop the two outer intervals (single latent with >= 2 peaks).
    ``artificial_ends``: the outer intervals get a wall of height 1 at the data end (otherwise
    an outer interval's quality uses its one real wall).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(values, kind="stable")
    gaps = np.diff(values[order])
    peaks = gap_peaks(values)
    n = len(values)
    if peaks.size == 0:
        return []
    intervals = []
    for left, right in zip(peaks[:-1], peaks[1:]):
        intervals.append(_interval(order, gaps, int(left) + 1, int(right) + 1, gaps[left], gaps[right]))
    if not between_peaks_only:
        end_wall = ARTIFICIAL_WALL if artificial_ends else np.inf
        first = _interval(order, gaps, 0, int(peaks[0]) + 1, end_wall, gaps[peaks[0]])
        last = _interval(order, gaps, int(peaks[-1]) + 1, n, gaps[peaks[-1]], end_wall)
        intervals = [first] + intervals + [last]
    return intervals


def choose_subset(labels: np.ndarray, branch: int = 0, first_split: bool = True) -> Optional[np.ndarray]:
    """Positions (sorted) of the rows of ``labels`` [N, a] (the active latents' values) to keep,
    or None when nothing can be split ("all variance explained")."""
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] == 0 or len(labels) < 2:
        return None
    pick = int(branch) if first_split else 0
    if labels.shape[1] == 1:
        values = labels[:, 0]
        peaks = gap_peaks(values)
        if peaks.size == 0:
            return None
        if peaks.size == 1:
            halves = latent_intervals(values)
            if first_split:
                return halves[pick % 2].indices
            return min(halves, key=lambda interval: interval.mean_gap).indices
        ranked = sorted(latent_intervals(values, between_peaks_only=True), key=lambda i: -i.quality)
        return ranked[pick % len(ranked)].indices
    candidates = []
    for column in range(labels.shape[1]):
        values = labels[:, column]
        num_peaks = gap_peaks(values).size
        if num_peaks == 0:
            continue
        intervals = latent_intervals(values, artificial_ends=2 <= num_peaks <= 3)
        ranked = sorted(intervals, key=lambda interval: -interval.quality)
        candidates.append([interval.indices for interval in ranked[:TOP_INTERVALS]])
    if not candidates:
        return None
    intersections = []
    for combination in itertools.product(*candidates):
        kept = combination[0]
        for indices in combination[1:]:
            kept = np.intersect1d(kept, indices, assume_unique=True)
        if kept.size > MIN_INTERSECTION:
            intersections.append(kept)
    if not intersections:
        return None
    median = float(np.median([kept.size for kept in intersections]))
    # Stable sort: among equal distances the earlier combination (better Q) comes first.
    intersections.sort(key=lambda kept: abs(kept.size - median))
    return intersections[pick % len(intersections)]
