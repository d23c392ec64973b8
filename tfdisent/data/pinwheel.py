"""Pinwheel: the procedural clustered 2-D data of the Decomposition paper's clustering experiment
(Mathieu et al. 2019, generator ``scripts/pinwheel.m`` after Adams 2008, called as
``pinwheel(0.1, 0.3, 4, 100, 0.25)``).

A point on arm k of K = 4 arms is

    u1 = 1 + 0.3 e1,  u2 = 0.1 e2,            e ~ N(0, I)
    a  = 2 pi k / K + 0.25 exp(u1)
    x  = [u1, u2] @ [[cos a, -sin a], [sin a, cos a]] = (u1 cos a + u2 sin a, -u1 sin a + u2 cos a)

i.e. (u1, u2) rotated clockwise by a: the farther out along the arm (large u1), the more it winds.
The MATLAB file calls its std arguments the other way round from the autograd Python
``make_pinwheel``; the numbers used here are MATLAB's: 0.3 on the radial column u1, 0.1 on the
tangential column u2. The MATLAB generator neither rescales nor shuffles the points.

Observations are float32 2-vectors and are NOT in [0, 1] (coordinates span roughly [-4, 4]); use a
Gaussian likelihood, not a Bernoulli one.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np

from tfdisent.data.ground_truth import GroundTruthData

NUM_ARMS = 4
RADIAL_STD = 0.3
TANGENTIAL_STD = 0.1
RATE = 0.25
NUM_PER_ARM = 100  # 400 points per draw; train and test are two independent draws.


def pinwheel_points(arms: np.ndarray, random_state: np.random.RandomState,
                    num_arms: int = NUM_ARMS, radial_std: float = RADIAL_STD,
                    tangential_std: float = TANGENTIAL_STD, rate: float = RATE) -> np.ndarray:
    """One fresh point on each requested arm: float32 [len(arms), 2]."""
    arms = np.asarray(arms, dtype=np.int64).reshape(-1)
    noise = random_state.randn(len(arms), 2)
    radial = 1.0 + radial_std * noise[:, 0]
    tangential = tangential_std * noise[:, 1]
    angle = 2.0 * np.pi * arms / num_arms + rate * np.exp(radial)
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([radial * cos + tangential * sin, -radial * sin + tangential * cos],
                    axis=1).astype(np.float32)


def make_pinwheel(num_per_arm: int, random_state: np.random.RandomState,
                  num_arms: int = NUM_ARMS, radial_std: float = RADIAL_STD,
                  tangential_std: float = TANGENTIAL_STD, rate: float = RATE
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """``(points float32 [num_arms*num_per_arm, 2], labels int64)``, arm-major like the MATLAB
    generator (all of arm 0, then arm 1, ...). The reference uses ``make_pinwheel(100, rs)`` twice,
    for train and test."""
    labels = np.repeat(np.arange(num_arms, dtype=np.int64), num_per_arm)
    points = pinwheel_points(labels, random_state, num_arms, radial_std, tangential_std, rate)
    return points, labels


class Pinwheel(GroundTruthData):
    """Pinwheel as a ground-truth dataset: one factor, the arm (4 values); observations (2,) float32,
    drawn fresh for every request (the data is procedural and unbounded).

    ``num_examples`` is the nominal training-set size 4 x ``num_per_arm`` = 400 of the reference,
    for estimators that need a dataset size N.
    """

    name = "pinwheel"
    factor_names = ("arm",)
    observation_shape = (2,)

    def __init__(self, num_arms: int = NUM_ARMS, radial_std: float = RADIAL_STD,
                 tangential_std: float = TANGENTIAL_STD, rate: float = RATE,
                 num_per_arm: int = NUM_PER_ARM):
        self.num_arms, self.rate = int(num_arms), float(rate)
        self.radial_std, self.tangential_std = float(radial_std), float(tangential_std)
        self.num_per_arm = int(num_per_arm)
        self.factor_sizes = (self.num_arms,)

    @property
    def num_examples(self) -> int:
        return self.num_arms * self.num_per_arm

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        arms = self.check_factors(factors)[:, 0]
        return pinwheel_points(arms, random_state, self.num_arms, self.radial_std,
                               self.tangential_std, self.rate)

    def make_split(self, random_state: np.random.RandomState) -> Tuple[np.ndarray, np.ndarray]:
        """One reference-sized draw ``(points, labels)``; call twice for train and test."""
        return make_pinwheel(self.num_per_arm, random_state, self.num_arms, self.radial_std,
                             self.tangential_std, self.rate)

    def tf_batch_fn(self) -> Optional[Callable]:
        """The generator in TF ops: arm = value mod K, noise from a stateless normal seeded by the
        batch's first and last random values (so each batch is a fresh, reproducible draw)."""
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        num_arms, rate = self.num_arms, self.rate
        stds = tf.constant([self.radial_std, self.tangential_std], dtype=tf.float32)

        def batch_fn(random_values):
            values = tf.cast(random_values, tf.int64)
            arms = tf.math.floormod(values, num_arms)
            seed = tf.stack([values[0], values[-1]])
            noise = tf.random.stateless_normal([tf.shape(values)[0], 2], seed=seed) * stds
            radial, tangential = 1.0 + noise[:, 0], noise[:, 1]
            angle = (2.0 * np.pi / num_arms) * tf.cast(arms, tf.float32) + rate * tf.exp(radial)
            cos, sin = tf.cos(angle), tf.sin(angle)
            return tf.stack([radial * cos + tangential * sin, -radial * sin + tangential * cos],
                            axis=1)

        return batch_fn
