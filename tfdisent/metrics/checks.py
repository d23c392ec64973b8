"""Input checks shared by the metrics: the one error type (:class:`MetricError`), random states,
ground-truth datasets (and the :class:`GroundTruthView` of a minimal user object), codes and
positive settings."""

from __future__ import annotations

import weakref
from typing import Optional

import numpy as np


class MetricError(ValueError):
    """A metric cannot run on these inputs; the message says why (one line, user-facing)."""



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
