"""Sampling for the metrics: draws of (codes, factors) in disentanglement_lib's random-stream order,
batched encoding of those draws, and the :class:`SampleCache` that shares them between metrics.

Random-stream fidelity: every draw from the ``random_state`` happens in exactly the order of
disentanglement_lib (``dataset.sample(batch_size, rs)`` repeatedly, etc.), so the factors and
observations are bit-identical to the reference for the same seed. Only what follows the draws is
batched: observations of many draws are concatenated and encoded in one large call.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from tfdisent.metrics.checks import MetricError, check_codes

RepresentationFn = Callable[[np.ndarray], np.ndarray]

# Upper bounds of one encoding call: whichever is hit first. 256 MB of 64x64x1 float32 images is
# ~16k images; the SavedModel wrapper splits further into its own batches.
ENCODE_CHUNK_POINTS = 8192
ENCODE_CHUNK_BYTES = 256 * 2 ** 20



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


def train_test_codes(dataset, representation_fn, random_state, settings: dict, cache=None):
    """Independent train and test draws of ``(codes, factors)`` (``num_train``/``num_test`` points in
    batches of ``batch_size``), train first, as dci, sap and modularity_explicitness draw them."""
    codes_train, factors_train = generate_batch_factor_code(
        dataset, representation_fn, settings["num_train"], random_state, settings["batch_size"], cache)
    codes_test, factors_test = generate_batch_factor_code(
        dataset, representation_fn, settings["num_test"], random_state, settings["batch_size"], cache)
    return codes_train, factors_train, codes_test, factors_test
