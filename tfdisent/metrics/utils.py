"""Helpers shared by the metrics: sampling and batched encoding, the histogram discretizer,
discrete mutual information, classifier fallbacks, gradient-boosted-tree backends, and a cache
that shares i.i.d. (codes, factors) draws between metrics.

Conventions (differ from disentanglement_lib on purpose, for readability): codes are
``[num_points, num_codes]`` and factors ``[num_points, num_factors]`` — disentanglement_lib
transposes both. Only numpy/scipy/scikit-learn and ``tfdisent.data`` are imported here: the
metrics must work for any model, TensorFlow or not.

Random-stream fidelity: every draw from the ``random_state`` happens in exactly the order of
disentanglement_lib (``dataset.sample(batch_size, rs)`` repeatedly, etc.), so the factors and
observations are bit-identical to the reference for the same seed. Only what follows the draws is
batched: observations of many draws are concatenated and encoded in one large call.
"""

from __future__ import annotations

import hashlib
import struct
import warnings
import weakref
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from sklearn import metrics as sk_metrics

RepresentationFn = Callable[[np.ndarray], np.ndarray]

# Upper bounds of one encoding call: whichever is hit first. 256 MB of 64x64x1 float32 images is
# ~16k images; the SavedModel wrapper splits further into its own batches.
ENCODE_CHUNK_POINTS = 8192
ENCODE_CHUNK_BYTES = 256 * 2 ** 20

# Seed of the scikit-learn estimators that take one (GBT, LinearSVC). disentanglement_lib leaves
# them unseeded; a fixed seed makes our scores reproducible without touching the sampling stream.
ESTIMATOR_SEED = 0

GBT_BACKENDS = ("exact", "sklearn")


class MetricError(ValueError):
    """A metric cannot run on these inputs; the message says why (one line, user-facing)."""


# ----------------------------------------------------------------------------------------------
# Input checks


def check_random_state(random_state) -> np.random.RandomState:
    """The metrics consume a ``numpy.random.RandomState`` (an int seed is accepted as well)."""
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise MetricError(f"random_state must be a numpy.random.RandomState or an int seed, "
                      f"got {type(random_state).__name__}")


GROUND_TRUTH_INTERFACE = ("factor_sizes", "observation_shape", "sample_factors", "sample_observations_from_factors")


class GroundTruthView:
    """Completes an object that has only the documented ground-truth interface.

    The interface (disentanglement_lib's ``GroundTruthData``, Locatello et al. 2019) is
    ``factor_sizes`` (or the reference's name ``factors_num_values``), ``observation_shape``,
    ``sample_factors(num, random_state)`` and ``sample_observations_from_factors(factors,
    random_state)``. Everything else the metrics use is derived exactly as the reference's base
    class does, so the random stream is the same as for a full :class:`tfdisent.data.GroundTruthData`:
    ``sample(num, rs)`` draws factors then renders them; ``sample_observations(num, rs)`` is
    ``sample(num, rs)[1]``; ``num_factors = len(factor_sizes)``. Members the wrapped object does have
    are used as they are.
    """

    def __init__(self, dataset):
        self.wrapped = dataset

    def __getattr__(self, name):  # only called for names not defined on the view
        if name == "wrapped":  # not yet set (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    @property
    def factor_sizes(self):
        if hasattr(self.wrapped, "factor_sizes"):
            return tuple(self.wrapped.factor_sizes)
        return tuple(self.wrapped.factors_num_values)

    @property
    def factors_num_values(self) -> list:
        return list(self.factor_sizes)

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def name(self) -> str:
        return getattr(self.wrapped, "name", type(self.wrapped).__name__)

    def sample(self, num: int, random_state: np.random.RandomState):
        if hasattr(self.wrapped, "sample"):
            return self.wrapped.sample(num, random_state)
        factors = self.wrapped.sample_factors(num, random_state)
        return factors, self.wrapped.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState):
        if hasattr(self.wrapped, "sample_observations"):
            return self.wrapped.sample_observations(num, random_state)
        return self.sample(num, random_state)[1]


# One view per user object, so that a SampleCache (keyed by object identity) still shares draws
# between metrics computed on the same minimal dataset.
_VIEWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _has_sizes(dataset) -> bool:
    return hasattr(dataset, "factor_sizes") or hasattr(dataset, "factors_num_values")


def as_ground_truth(dataset, metric: str, needs_factors: bool = True):
    """``dataset`` itself if it has every member the metrics call, else a :class:`GroundTruthView`
    deriving the missing ones from the documented interface. Raises MetricError (naming the
    missing members) when even that interface is incomplete."""
    complete = all(hasattr(dataset, name) for name in ("sample", "sample_observations", "factor_sizes",
                                                       "observation_shape"))
    if not complete:
        required = ["observation_shape"]
        if needs_factors or not (hasattr(dataset, "sample") or hasattr(dataset, "sample_observations")):
            required += ["sample_factors", "sample_observations_from_factors"]
        missing = [name for name in required if not hasattr(dataset, name)]
        if needs_factors and not _has_sizes(dataset):
            missing.insert(0, "factor_sizes")
        if missing:
            raise MetricError(f"{metric}: dataset {type(dataset).__name__} lacks the ground-truth "
                              f"interface ({', '.join(missing)} missing; needed: "
                              f"{', '.join(GROUND_TRUTH_INTERFACE)})")
        try:
            view = _VIEWS.get(dataset)
            if view is None:
                view = _VIEWS[dataset] = GroundTruthView(dataset)
        except TypeError:  # not weak-referenceable: a fresh view (no sample sharing across calls)
            view = GroundTruthView(dataset)
        dataset = view
    check_dataset(dataset, metric, needs_factors)
    return dataset


def check_dataset(dataset, metric: str, needs_factors: bool = True) -> None:
    """Raises MetricError unless ``dataset`` has the ground-truth interface the metric uses
    (see :func:`as_ground_truth` to complete a minimal one first)."""
    required = ["sample", "sample_observations", "observation_shape"]
    if needs_factors:
        required += ["factor_sizes", "sample_factors", "sample_observations_from_factors"]
    missing = [attribute for attribute in required if not hasattr(dataset, attribute)]
    if missing:
        raise MetricError(f"{metric}: dataset {type(dataset).__name__} lacks the ground-truth "
                          f"interface ({', '.join(missing)} missing)")
    if needs_factors:
        sizes = tuple(dataset.factor_sizes)
        if not sizes:
            raise MetricError(f"{metric}: dataset {getattr(dataset, 'name', type(dataset).__name__)!r} "
                              "has no ground-truth factors; this metric needs them")
        if any(int(size) < 1 for size in sizes):
            raise MetricError(f"{metric}: dataset factor sizes must be positive, got {sizes}")


def num_factors_of(dataset) -> int:
    return len(tuple(dataset.factor_sizes))


def check_codes(codes, expected_points: Optional[int] = None, what: str = "representation") -> np.ndarray:
    """Validates one output of a representation function: finite numbers of shape [B, d]."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise MetricError(f"{what} must be a [batch, dim] array, got shape {codes.shape}")
    if expected_points is not None and codes.shape[0] != expected_points:
        raise MetricError(f"{what} returned {codes.shape[0]} rows for {expected_points} observations")
    if codes.shape[1] == 0:
        raise MetricError(f"{what} has zero dimensions")
    if not (np.issubdtype(codes.dtype, np.floating) or np.issubdtype(codes.dtype, np.integer)):
        raise MetricError(f"{what} must be numeric, got dtype {codes.dtype}")
    if np.issubdtype(codes.dtype, np.floating) and not np.isfinite(codes).all():
        bad_rows = int((~np.isfinite(codes)).any(axis=1).sum())
        raise MetricError(f"{what} contains NaN or infinite values in {bad_rows} of "
                          f"{codes.shape[0]} points")
    return codes


def check_positive_int(settings: dict, *names: str, minimum: int = 1) -> None:
    for name in names:
        value = settings[name]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise MetricError(f"setting {name} must be an integer >= {minimum}, got {value!r}")


# ----------------------------------------------------------------------------------------------
# Gaussian posteriors


def gaussian_kl_per_dimension(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Average over the rows of ``KL(N(mean, exp(logvar)) || N(0, 1))`` per dimension, in nats.

    Closed form ``0.5 (mu^2 + exp(logvar) - logvar - 1)`` (Kingma & Welling 2014, App. B), computed
    in float64; ``mean``/``logvar`` are [N, d], the result [d]. The one numpy home of this formula
    (UDR's KL filter and the KL pictures use it; the TensorFlow version used in training is
    :func:`tfdisent.models.distributions.kl_divergence_per_dim`).
    """
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    return (0.5 * (mean ** 2 + np.exp(logvar) - logvar - 1.0)).mean(axis=0)


# ----------------------------------------------------------------------------------------------
# Batched encoding


def encode_chunk_points(observation_shape: Sequence[int]) -> int:
    """Observations per encoding call for this observation shape (float32 bytes bound)."""
    bytes_per_point = 4 * int(np.prod(observation_shape, dtype=np.int64)) or 4
    return int(max(1, min(ENCODE_CHUNK_POINTS, ENCODE_CHUNK_BYTES // bytes_per_point)))


def encode_batches(representation_fn: RepresentationFn, observation_batches: Iterable[np.ndarray],
                   what: str = "representation") -> np.ndarray:
    """Encodes a stream of observation batches, concatenating them into large calls.

    ``observation_batches`` is usually a generator that performs the random draws as it is
    consumed; encoding never touches the random state, so batching does not change the stream.
    Returns the codes of all observations, in order: [total_points, d].
    """
    pending: List[np.ndarray] = []
    pending_points = 0
    chunk_points = None
    outputs: List[np.ndarray] = []

    def flush():
        nonlocal pending, pending_points
        if not pending:
            return
        observations = pending[0] if len(pending) == 1 else np.concatenate(pending, axis=0)
        outputs.append(check_codes(representation_fn(observations), len(observations), what))
        pending, pending_points = [], 0

    for batch in observation_batches:
        batch = np.asarray(batch)
        if chunk_points is None:
            chunk_points = encode_chunk_points(batch.shape[1:])
        pending.append(batch)
        pending_points += len(batch)
        if pending_points >= chunk_points:
            flush()
    flush()
    if not outputs:
        raise MetricError("no observations were drawn (number of points must be positive)")
    dims = {output.shape[1] for output in outputs}
    if len(dims) > 1:
        raise MetricError(f"{what} returned inconsistent dimensions {sorted(dims)}")
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=0)


def encode_array(representation_fn: RepresentationFn, observations: np.ndarray,
                 what: str = "representation") -> np.ndarray:
    """Encodes an array of observations in large chunks."""
    observations = np.asarray(observations)
    step = encode_chunk_points(observations.shape[1:])
    return encode_batches(representation_fn,
                          (observations[start:start + step] for start in range(0, len(observations), step)),
                          what)


# ----------------------------------------------------------------------------------------------
# Sample sharing


def _state_digest(random_state: np.random.RandomState) -> str:
    name, keys, position, has_gauss, cached_gaussian = random_state.get_state(legacy=True)
    digest = hashlib.sha1(name.encode())
    digest.update(np.ascontiguousarray(keys).tobytes())
    digest.update(struct.pack("<qqd", int(position), int(has_gauss), float(cached_gaussian)))
    return digest.hexdigest()


class SampleCache:
    """Shares the i.i.d. (codes, factors) draws of :func:`generate_batch_factor_code`.

    mig, dci, sap, modularity_explicitness, irs, unsupervised and downstream all start by drawing
    ``num_points`` i.i.d. samples in batches of ``batch_size`` from their random state. When two
    metrics draw with the same dataset, representation function, sizes **and the same random-state
    state** (e.g. each metric gets ``RandomState(seed)`` as in disentanglement_lib's study
    configs), the draws are identical, so the second metric reuses the first one's codes and its
    random state is fast-forwarded to where the first one's ended. Results are therefore exactly
    those of drawing again, without encoding again.

    Keyed by (dataset object, representation function object, num_points, batch_size, digest of
    the random state); holds references so object ids cannot be recycled.
    """

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._entries: dict = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(dataset, representation_fn, num_points, batch_size, random_state):
        return (id(dataset), id(representation_fn), int(num_points), int(batch_size),
                _state_digest(random_state))

    def lookup(self, dataset, representation_fn, num_points, batch_size, random_state):
        entry = self._entries.get(self._key(dataset, representation_fn, num_points, batch_size,
                                            random_state))
        if entry is None or entry[0] is not dataset or entry[1] is not representation_fn:
            self.misses += 1
            return None
        self.hits += 1
        _, _, codes, factors, end_state = entry
        random_state.set_state(end_state)
        return codes.copy(), factors.copy()

    def store(self, key, dataset, representation_fn, codes, factors, random_state) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (dataset, representation_fn, codes.copy(), factors.copy(),
                              random_state.get_state(legacy=True))

    def __len__(self) -> int:
        return len(self._entries)


def generate_batch_factor_code(dataset, representation_fn: RepresentationFn, num_points: int,
                               random_state: np.random.RandomState, batch_size: int,
                               cache: Optional[SampleCache] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Draws ``num_points`` i.i.d. (factors, observations) and encodes them.

    Same draws as disentanglement_lib's ``utils.generate_batch_factor_code``: ``dataset.sample``
    is called with ``batch_size`` points at a time (the last call gets the remainder). The
    observations of many calls are encoded together. Returns ``(codes [N, d], factors [N, K])``
    (not transposed, unlike the reference).
    """
    if num_points < 1 or batch_size < 1:
        raise MetricError(f"num_points and batch_size must be >= 1, got {num_points}, {batch_size}")
    key = None
    if cache is not None:
        hit = cache.lookup(dataset, representation_fn, num_points, batch_size, random_state)
        if hit is not None:
            return hit
        key = SampleCache._key(dataset, representation_fn, num_points, batch_size, random_state)

    factor_batches: List[np.ndarray] = []

    def draws() -> Iterator[np.ndarray]:
        drawn = 0
        while drawn < num_points:
            count = min(num_points - drawn, batch_size)
            factors, observations = dataset.sample(count, random_state)
            factor_batches.append(np.asarray(factors))
            yield observations
            drawn += count

    codes = encode_batches(representation_fn, draws())
    factors = np.concatenate(factor_batches, axis=0)
    if cache is not None:
        cache.store(key, dataset, representation_fn, codes, factors, random_state)
    return codes, factors


def factor_traversals(dataset, representation_fn: RepresentationFn, factor: int, repeats: int,
                      random_state: np.random.RandomState, keep_observations: bool = False):
    """``repeats`` traversals of one factor, encoded: ``(codes [R, n, d], observations [R, n, ...] or
    None)``, ``n`` = the factor's size.

    A traversal (disent's ``sample_random_factor_traversal``, Michlo's nmichlo/disent) holds every
    value of ``factor`` in order, the other factors fixed at one random draw. Per repeat the draws
    are ``sample_factors(1, rs)`` then ``sample_observations_from_factors`` of the n points, so the
    stream does not depend on how the encoding is batched; the observations of many traversals are
    encoded together.
    """
    size = int(tuple(dataset.factor_sizes)[factor])
    observations_kept: List[np.ndarray] = []

    def draws() -> Iterator[np.ndarray]:
        for _ in range(repeats):
            base = np.asarray(dataset.sample_factors(1, random_state))
            points = np.repeat(base, size, axis=0)
            points[:, factor] = np.arange(size)
            observations = np.asarray(dataset.sample_observations_from_factors(points, random_state))
            if keep_observations:
                observations_kept.append(observations)
            yield observations

    codes = encode_batches(representation_fn, draws(), "representation")
    codes = codes.reshape(repeats, size, codes.shape[1])
    return codes, (np.stack(observations_kept) if keep_observations else None)


# ----------------------------------------------------------------------------------------------
# Discretization and mutual information


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


# ----------------------------------------------------------------------------------------------
# Classifiers


class ConstantClassifier:
    """Stands in for a classifier when the training labels hold a single class (sklearn refuses
    to fit those; the only sensible prediction is that class)."""

    def __init__(self, label):
        self.classes_ = np.array([label])

    def predict(self, x):
        return np.full(len(x), self.classes_[0])

    def predict_proba(self, x):
        return np.ones((len(x), 1))


def fit_classifier(make_model: Callable[[], object], x: np.ndarray, y: np.ndarray):
    """Fits ``make_model()`` on (x, y) with convergence/future warnings silenced; a
    :class:`ConstantClassifier` when ``y`` has a single class."""
    classes = np.unique(y)
    if len(classes) < 2:
        return ConstantClassifier(classes[0])
    model = make_model()
    # One thread per fit: parallelism comes from fitting factors in separate processes, and
    # BLAS/OpenMP threads on top of those only oversubscribe the cores.
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        for category in (FutureWarning, UserWarning, ConvergenceWarning):
            warnings.simplefilter("ignore", category=category)
        model.fit(x, y)
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def make_gradient_boosting(backend: str = "exact"):
    """The gradient-boosted-tree classifier of DCI and the downstream task.

    * ``"exact"`` (DCI's default): :class:`tfdisent.metrics.gradient_boosting.ExactGradientBoosting`,
      scikit-learn's ``GradientBoostingClassifier()`` re-implemented on presorted features
      (numba): the same trees, importances and predictions for the same seed, >10x faster
      (``benchmarks/dci_speed.py``).
    * ``"sklearn"``: ``GradientBoostingClassifier()`` itself with library defaults (100 trees,
      learning rate 0.1, depth 3), as disentanglement_lib.
    Both are seeded with ``ESTIMATOR_SEED``. (The former approximate ``"hist"`` backend, numpy
    boosting on 255-level binned features, was retired: ``"exact"`` is faster and exact.)
    """
    if backend == "exact":
        from tfdisent.metrics.gradient_boosting import ExactGradientBoosting
        return ExactGradientBoosting(random_state=ESTIMATOR_SEED)
    if backend == "sklearn":
        from sklearn.ensemble import GradientBoostingClassifier
        return GradientBoostingClassifier(random_state=ESTIMATOR_SEED)
    raise MetricError(f"unknown gradient boosting backend {backend!r}; choose one of {GBT_BACKENDS}")


def gradient_boosting_importances(model, num_features: int) -> np.ndarray:
    """Per-feature importances of a fitted booster (mean decrease of the residuals' squared error,
    normalised); zeros for the constant classifier of a one-class target."""
    if isinstance(model, ConstantClassifier):
        return np.zeros(num_features)
    return np.abs(np.asarray(model.feature_importances_, dtype=np.float64))


def parallel_map(function: Callable, argument_tuples: Sequence[tuple], n_jobs: int) -> list:
    """``[function(*args) for args in argument_tuples]``, in worker processes when
    ``n_jobs != 1`` (joblib; ``-1`` = all cores). Results keep the input order."""
    argument_tuples = list(argument_tuples)
    if not argument_tuples:
        return []
    import joblib
    workers = min(len(argument_tuples), joblib.effective_n_jobs(n_jobs))
    if workers <= 1:
        return [function(*arguments) for arguments in argument_tuples]
    return joblib.Parallel(n_jobs=workers)(joblib.delayed(function)(*arguments)
                                           for arguments in argument_tuples)


def to_python(value):
    """numpy scalars/arrays -> JSON-friendly Python values."""
    if isinstance(value, dict):
        return {key: to_python(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_python(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def train_test_codes(dataset, representation_fn, random_state, settings: dict, cache=None):
    """Independent train and test draws of ``(codes, factors)`` (``num_train``/``num_test`` points in
    batches of ``batch_size``), train first, as dci, sap and modularity_explicitness draw them."""
    codes_train, factors_train = generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    codes_test, factors_test = generate_batch_factor_code(
        dataset, representation_fn, settings["num_test"], random_state, settings["batch_size"], cache)
    return codes_train, factors_train, codes_test, factors_test
