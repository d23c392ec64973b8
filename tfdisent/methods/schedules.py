"""Step-dependent schedules for objective weights."""

from __future__ import annotations

import tensorflow as tf


class CapacitySchedule:
    """Linearly increasing KL capacity C(t) = min(c_max, c_max * t / num_steps).

    Burgess et al. (2018), "Understanding disentangling in beta-VAE", Sec. 5: the KL term is
    replaced by gamma * |KL - C(t)| so that the encoding capacity grows during training.
    ``start`` delays the ramp (useful after a VAE warm start).
    """

    def __init__(self, c_max: float, num_steps: int, start: int = 0):
        if c_max < 0:
            raise ValueError(f"capacity c_max must be non-negative, got {c_max}")
        if num_steps <= 0:
            raise ValueError(f"capacity num_steps must be positive, got {num_steps}")
        self.c_max = float(c_max)
        self.num_steps = int(num_steps)
        self.start = int(start)

    def __call__(self, step) -> tf.Tensor:
        progress = (tf.cast(step, tf.float32) - self.start) / float(self.num_steps)
        return self.c_max * tf.clip_by_value(progress, 0.0, 1.0)

    def get_config(self) -> dict:
        return {"c_max": self.c_max, "num_steps": self.num_steps, "start": self.start}
