"""Discretisation and information measures of the metrics: the histogram discretizer, discrete and
k-NN mutual information, entropies, and the Gaussian KL per latent dimension."""

from __future__ import annotations

from typing import Tuple

import numpy as np
from sklearn import metrics as sk_metrics

from tfdisent.metrics.checks import MetricError
from tfdisent.metrics.classifiers import ESTIMATOR_SEED



def gaussian_kl_per_dimension(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Average over the rows of ``KL(N(mean, exp(logvar)) || N(0, 1))`` per dimension, in nats.

    Closed form ``0.5 (mu^2 + exp(logvar) - logvar - 1)`` (Kingma & Welling 2014, App. B), computed
    in float64; ``mean``/``logvar`` are [N, d], the result [d]. The one numpy home of this formula
    (UDR's KL filter and the KL pictures use it; the TensorFlow version used in training is
    :func:`tfdisent.models.distributions.kl_divergence_per_dim`).
    """
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    return (0.5 * (mean ** 2 + np.exp(logvar) - logvar - 1.0)).mean(axis=0)



def histogram_discretize(values: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per column, labels 1..num_bins of equal-width bins spanning the column's sample range.

    disentanglement_lib's ``histogram_discretizer``: ``np.digitize(x, np.histogram(x, n)[1][:-1])``
    (the maximum falls in bin ``num_bins``; a constant column gets a single label).
    ``values`` is [N, D]; returns int64 [N, D].
    """
    values = np.asarray(values)
    labels = np.zeros(values.shape, dtype=np.int64)
    for column in range(values.shape[1]):
        edges = np.histogram_bin_edges(values[:, column], num_bins)
        labels[:, column] = np.digitize(values[:, column], edges[:-1])
    return labels


def mutual_information_matrix(labels_a: np.ndarray, labels_b: np.ndarray) -> np.ndarray:
    """``m[i, j] = I(a_i; b_j)`` in nats between discrete columns: [N, A] x [N, B] -> [A, B].

    Uses ``sklearn.metrics.mutual_info_score`` (plug-in estimate), as the reference does; note
    that its values shift slightly between scikit-learn versions (disentanglement_lib#33).
    """
    matrix = np.zeros((labels_a.shape[1], labels_b.shape[1]))
    for i in range(labels_a.shape[1]):
        for j in range(labels_b.shape[1]):
            matrix[i, j] = sk_metrics.mutual_info_score(labels_b[:, j], labels_a[:, i])
    return matrix


def _count_within(sorted_values: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Number of ``sorted_values`` with ``|v - c| <= r`` for each centre, decided on the computed
    distance as a KD-tree does (``c + r`` can round onto a neighbour at distance just above r)."""
    size = len(sorted_values)
    high = np.searchsorted(sorted_values, centres + radii, side="right")
    low = np.searchsorted(sorted_values, centres - radii, side="left")
    while True:  # rounding moves the bounds by a few places at most
        drop_high = (high > 0) & (sorted_values[np.maximum(high - 1, 0)] - centres > radii)
        grow_high = (high < size) & (sorted_values[np.minimum(high, size - 1)] - centres <= radii)
        drop_low = (low < size) & (centres - sorted_values[np.minimum(low, size - 1)] > radii)
        grow_low = (low > 0) & (centres - sorted_values[np.maximum(low - 1, 0)] <= radii)
        if not (drop_high.any() or grow_high.any() or drop_low.any() or grow_low.any()):
            return high - low
        high = high - drop_high + grow_high
        low = low + drop_low - grow_low


def knn_mutual_information(values: np.ndarray, labels: np.ndarray, n_neighbors: int = 3,
                           random_state: int = ESTIMATOR_SEED) -> np.ndarray:
    """``I(x_j; y)`` in nats of each continuous column of ``values`` [N, L] with discrete ``labels``
    [N]: the kNN estimator of Ross (2014, "Mutual Information between Discrete and Continuous Data
    Sets", Eq. 2) exactly as ``sklearn.feature_selection.mutual_info_classif(values, labels,
    discrete_features=False, n_neighbors=n_neighbors, random_state=random_state)`` computes it —
    columns divided by their std, jitter ``1e-10 max(1, mean|x|) N(0, 1)`` from ``random_state``,
    ``k = min(n_neighbors, n_c - 1)`` within each class, points of single-member classes dropped,
    ``m_i`` = points within (just under) the k-th neighbour distance, estimate clipped at 0 — but with
    sorted 1-D searches instead of one ``NearestNeighbors`` fit per class and a KD-tree per column
    (InfoMEC calls it for every factor; equal to scikit-learn's values, up to rounding at the radius
    when many values are tied: <= 1e-5 nats in the tests)."""
    from scipy.special import digamma

    values = np.array(values, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    num_points = len(values)
    std = values.std(axis=0)
    values /= np.where(std > 0, std, 1.0)
    means = np.maximum(1.0, np.mean(np.abs(values), axis=0))
    values += 1e-10 * means * np.random.RandomState(random_state).standard_normal(values.shape)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    keep = counts[inverse] > 1
    result = np.zeros(values.shape[1])
    if not keep.any():
        return result
    point_counts = counts[inverse][keep]
    for column in range(values.shape[1]):
        x = values[:, column]
        radius = np.empty(num_points)
        k_all = np.empty(num_points)
        for label in np.flatnonzero(counts > 1):
            members = np.flatnonzero(inverse == label)
            k = min(n_neighbors, len(members) - 1)
            order = np.argsort(x[members], kind="stable")
            sorted_values = x[members][order]
            # Distances to the k neighbours on each side (inf past the ends); the k-th smallest of the
            # 2k is the k-th nearest neighbour in 1-D.
            padded = np.concatenate([np.full(k, -np.inf), sorted_values, np.full(k, np.inf)])
            offsets = np.arange(1, k + 1)
            centre = np.arange(k, k + len(members))
            left = sorted_values[:, None] - padded[centre[:, None] - offsets[None, :]]
            right = padded[centre[:, None] + offsets[None, :]] - sorted_values[:, None]
            kth = np.partition(np.concatenate([left, right], axis=1), k - 1, axis=1)[:, k - 1]
            radius[members[order]] = np.nextafter(kth, 0)
            k_all[members] = k
        x_kept, radius_kept = x[keep], radius[keep]
        sorted_all = np.sort(x_kept)
        within = _count_within(sorted_all, x_kept, radius_kept)
        estimate = (digamma(len(x_kept)) + np.mean(digamma(k_all[keep])) - np.mean(digamma(point_counts))
                    - np.mean(digamma(within)))
        result[column] = max(0.0, estimate)
    return result


def discrete_entropy(labels: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete column: [N, K] -> [K] (as ``I(y; y)``)."""
    return np.array([sk_metrics.mutual_info_score(labels[:, j], labels[:, j])
                     for j in range(labels.shape[1])])


def discretize_codes_and_factors(codes: np.ndarray, factors: np.ndarray, num_bins: int = 10,
                                 continuous_factors: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """The information metrics' common pre-processing (Zaidi et al. 2020, arXiv:2012.09276, the
    Ubisoft review's ``src/utils.py``): every code column is cut into ``num_bins`` equal-width bins
    over its sample range (min-max scaling then ``np.digitize`` on ``linspace(0, 1, bins + 1)[:-1]``
    is :func:`histogram_discretize`, up to rounding at a bin edge); factors are binned the same way
    only when ``continuous_factors`` (the reference's default, for U[0, 1] factors), else used as the
    integer labels they are. Returns ``(code_labels [N, L], factor_labels [N, K])``."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise MetricError(f"codes {codes.shape} and factors {factors.shape} must be [N, L] and [N, K] "
                          "with the same N")
    code_labels = histogram_discretize(codes, num_bins)
    factor_labels = (histogram_discretize(np.asarray(factors, np.float64), num_bins) if continuous_factors
                     else factors)
    return code_labels, factor_labels
