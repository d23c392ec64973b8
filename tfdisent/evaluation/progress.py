"""Metric progress during training: evaluate the current encoder every N steps and log the scores.

The papers' "progression of metrics during training" (Abdi et al. 2019, disentanglement-pytorch):
the binary passes :func:`metric_progress_callback` to :class:`tfdisent.training.Trainer` as a step
callback, so training needs no import of the metrics. Every evaluation draws the same samples
(each metric a fresh ``RandomState(metric_seed(seed, "mean", name))``, the evaluator's per-metric seed),
so successive scores differ only by the model.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfdisent import metrics
from tfdisent.evaluation.evaluate import metric_seed
from tfdisent.evaluation.encoding import encode_in_batches, keras_encoder_function


def encoder_representation(encoder, batch_size: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """Posterior means of an in-process Keras encoder, in batches, as numpy [B, d]."""

    encode_fn = keras_encoder_function(encoder)

    def representation(observations: np.ndarray) -> np.ndarray:
        return encode_in_batches(encode_fn, observations, batch_size)[0].astype(np.float32, copy=False)

    return representation


def metric_progress_callback(metric_names: Sequence[str], seed: int = 0,
                             overrides: Optional[Dict[str, Dict[str, object]]] = None):
    """A Trainer step callback computing ``metric_names`` and writing ``metrics/<name>/<key>`` scalars.

    ``overrides`` maps a metric name to settings (e.g. ``{"dci": {"num_train": 2000}}``). Unknown
    names and settings raise MetricError at once, not at the first evaluation. A metric that fails
    on the current model (e.g. a representation with NaNs) is logged and skipped.
    """
    overrides = {name: dict(values) for name, values in (overrides or {}).items()}
    for name in metric_names:
        if metrics.is_multi_model(name):
            raise metrics.MetricError(f"{name} compares several models and cannot track one training run")
        metrics.resolve_settings(name, **overrides.get(name, {}))
    unknown = sorted(set(overrides) - set(metric_names))
    if unknown:
        raise metrics.MetricError(f"settings given for metrics that are not evaluated: {', '.join(unknown)}")

    def callback(step: int, model, dataset, writer) -> Dict[str, float]:
        representation = encoder_representation(model.encoder)
        scores: Dict[str, float] = {}
        for name in metric_names:
            start = time.time()
            try:
                result = metrics.compute(name, dataset, representation, np.random.RandomState(metric_seed(seed, "mean", name)),
                                         **overrides.get(name, {}))
            except metrics.MetricError as e:
                logging.warning("step %d: metric %s failed: %s", step, name, e)
                continue
            for key, value in result.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    scores[f"{name}/{key}"] = float(value)
            logging.info("step %d: %s in %.1f s: %s", step, name, time.time() - start,
                         ", ".join(f"{k}={v:.4g}" for k, v in result.items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)))
        with writer.as_default(step=step):
            for key, value in scores.items():
                tf.summary.scalar(f"metrics/{key}", value)
        writer.flush()
        return scores

    return callback
