"""Console progress and TensorBoard summaries of a training run.

Summaries are written from Python between the compiled training calls: ``tf.summary`` ops
cannot live inside an XLA-compiled step.
"""

from __future__ import annotations

import datetime
import time
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from tfdisent.models import distributions
from tfdisent.models.images import paired_grid, square_grid, traversal_grid
from tfdisent.models.traversals import active_latents, kl_order, traversal_codes


class Progress:
    """Rate and ETA over the steps done in this process (excludes the first, tracing, interval)."""

    def __init__(self, start_step: int, total_steps: int, batch_size: int):
        self.start_step = start_step
        self.total_steps = total_steps
        self.batch_size = batch_size
        self._last_time = time.time()
        self._last_step = start_step
        self._rate: Optional[float] = None

    def update(self, step: int, logs: Dict[str, np.ndarray]) -> Dict[str, float]:
        now = time.time()
        interval_rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        # The first interval includes tracing/compilation: it only seeds the estimate.
        self._rate = interval_rate if self._rate is None else 0.7 * self._rate + 0.3 * interval_rate
        self._last_time, self._last_step = now, step
        remaining = (self.total_steps - step) / max(self._rate, 1e-9)
        eta = str(datetime.timedelta(seconds=int(remaining)))
        terms = " ".join(f"{k}={float(v):.4g}" for k, v in logs.items()
                         if np.ndim(v) == 0 and k in ("loss", "reconstruction", "kl", "total_correlation",
                                                      "mmd", "divergence", "capacity", "discriminator_loss"))
        logging.info("step %d/%d (%.0f%%) | %.1f steps/s, %.0f img/s | %s | ETA %s", step, self.total_steps,
                     100.0 * step / self.total_steps, self._rate, self._rate * self.batch_size, terms, eta)
        return {"steps_per_second": interval_rate, "images_per_second": interval_rate * self.batch_size}


def write_scalars(writer, step: int, logs: Dict[str, np.ndarray], learning_rate: float,
                  rates: Dict[str, float]) -> None:
    """Every loss term, the KL of each latent dimension, the learning rate and throughput."""
    with writer.as_default(step=step):
        for name, value in logs.items():
            if np.ndim(value) == 0:
                tf.summary.scalar(f"loss/{name}", float(value))
        for dim, value in enumerate(np.asarray(logs.get("kl_per_dim", []))):
            tf.summary.scalar(f"kl_per_dim/z{dim}", float(value))
        tf.summary.scalar("optimizer/learning_rate", learning_rate)
        for name, value in rates.items():
            tf.summary.scalar(f"perf/{name}", value)


def write_images(writer, step: int, model, images: np.ndarray, kl_per_dim: np.ndarray,
                 num_values: int = 9, limit: float = 2.0, num_prior_samples: int = 16) -> None:
    """Inputs above their reconstructions; traversals of every latent (rows sorted by KL, active
    latents framed); decoded samples of the prior."""
    if np.ndim(images) != 4:
        return  # non-image data (e.g. pinwheel): nothing to draw

    def decode(codes):
        return distributions.mean_prediction(model.decoder(codes, training=False), model.likelihood).numpy()

    mean, _ = model.encoder(images, training=False)
    mean = np.asarray(mean, np.float32)
    order = kl_order(kl_per_dim)
    codes = traversal_codes(mean[0], order, np.linspace(-limit, limit, num_values, dtype=np.float32))
    traversals = traversal_grid(decode(codes), len(order), active_latents(kl_per_dim)[order])
    prior = np.random.RandomState(step % (2 ** 32)).randn(num_prior_samples, mean.shape[1]).astype(np.float32)
    with writer.as_default(step=step):
        tf.summary.image("reconstructions", paired_grid(images, decode(mean))[None], max_outputs=1)
        tf.summary.image("traversals", traversals[None], max_outputs=1)
        tf.summary.image("prior_samples", square_grid(decode(prior))[None], max_outputs=1)


def write_hparams(writer, config: Dict[str, object], hyperparameters: Dict[str, object]) -> None:
    """The run's settings for TensorBoard's HParams dashboard."""
    from tensorboard.plugins.hparams import api as hp

    values = {}
    for key, value in list(config.items()) + list(hyperparameters.items()):
        if isinstance(value, (bool, int, float, str)):
            values[key] = value
    with writer.as_default():
        hp.hparams(values)
