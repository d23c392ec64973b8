"""Batched encoding: the one loop that runs any Gaussian encoder over many observations.

Every caller that turns observations into posterior parameters (the evaluator's SavedModel
encoder, metric progress during training, the exported-model pictures, the aggregate-posterior
plot) goes through :func:`encode_in_batches`, so batch size, dtype handling and output checks live
in one place. The encoder is any callable ``batch -> (mean, logvar)`` or ``batch -> {"mean": ...,
"logvar": ...}`` (a Keras encoder, a SavedModel signature, a plain numpy function); nothing here
imports TensorFlow.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Tuple

import numpy as np

# Measured (benchmarks/encode_speed.py, 2-core CPU, three runs): a dlib_conv encoder runs 1.4-1.8x faster
# in batches of 128 than of 1024 (activations of a large batch fall out of the caches); see BUILD_NOTES.
DEFAULT_BATCH_SIZE = 128


def _as_pair(outputs: Any) -> Tuple[np.ndarray, np.ndarray]:
    if isinstance(outputs, Mapping):
        missing = [key for key in ("mean", "logvar") if key not in outputs]
        if missing:
            raise ValueError(f"encoder outputs must include 'mean' and 'logvar'; got {sorted(outputs)}")
        mean, logvar = outputs["mean"], outputs["logvar"]
    else:
        mean, logvar = outputs[0], outputs[1]
    return np.asarray(mean), np.asarray(logvar)


def encode_in_batches(encode_fn: Callable[[np.ndarray], Any], observations: np.ndarray,
                      batch_size: int = DEFAULT_BATCH_SIZE,
                      dtype: Optional[np.dtype] = np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """``(mean, logvar)`` numpy arrays [N, d] of ``observations`` [N, ...], ``batch_size`` at a time.

    Args:
      encode_fn: batch -> ``(mean, logvar)`` or a mapping with keys ``mean`` and ``logvar``.
      observations: array-like [N, ...]; each slice is converted to ``dtype`` just before the call
        (``None`` passes the slice as is, e.g. uint8 for an encoder that takes raw pixels), so a
        large uint8 array is never copied to float32 as a whole.
      batch_size: observations per call (>= 1).
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"encode batch size must be >= 1, got {batch_size}")
    means, logvars = [], []
    count = len(observations)
    # An empty input still makes one call, so that the result has the encoder's latent size.
    for start in range(0, max(count, 1), batch_size):
        batch = observations[start:start + batch_size]
        batch = np.asarray(batch, dtype) if dtype is not None else np.asarray(batch)
        mean, logvar = _as_pair(encode_fn(batch))
        means.append(mean)
        logvars.append(logvar)
    mean = means[0] if len(means) == 1 else np.concatenate(means)
    logvar = logvars[0] if len(logvars) == 1 else np.concatenate(logvars)
    if mean.ndim != 2 or mean.shape != logvar.shape or mean.shape[0] != count:
        raise ValueError(f"encoder returned mean {mean.shape} and logvar {logvar.shape} for {count} observations")
    return mean, logvar


def keras_encoder_function(encoder) -> Callable[[np.ndarray], Tuple[Any, Any]]:
    """``batch -> (mean, logvar)`` of an in-process Keras encoder in inference mode."""
    def encode_fn(batch: np.ndarray):
        return encoder(batch, training=False)
    return encode_fn
