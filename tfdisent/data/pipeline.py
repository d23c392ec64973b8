"""``tf.data`` input pipelines over ground-truth datasets.

Training batches are i.i.d. draws from the factor grid, as in disentanglement_lib's
``tf_data_set_from_ground_truth_data``. Randomness comes from ``tf.data.Dataset.random``, whose
state is part of the iterator checkpoint, so a resumed run sees exactly the batches it would
have seen without the interruption.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfdisent.data.ground_truth import GroundTruthData


def _numpy_batch_fn(dataset: GroundTruthData, batch_size: int):
    """Batch sampler through the dataset's numpy API; one int64 seed per batch."""

    def sample(seed: np.ndarray) -> np.ndarray:
        random_state = np.random.RandomState(int(seed) % (2 ** 32))
        return dataset.sample_observations(batch_size, random_state).astype(np.float32)

    def batch_fn(seed):
        images = tf.numpy_function(sample, [seed], tf.float32, stateful=False)
        images.set_shape((batch_size,) + tuple(dataset.observation_shape))
        return images

    return batch_fn


def training_dataset(dataset: GroundTruthData, batch_size: int, seed: int) -> tf.data.Dataset:
    """An infinite dataset of float32 batches [batch_size, *observation_shape].

    Uses the dataset's in-graph sampler (``tf_batch_fn``) when it has one, otherwise numpy
    sampling in ``tf.numpy_function``. Both are deterministic functions of ``seed``.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    values = tf.data.Dataset.random(seed=seed)
    fast = dataset.tf_batch_fn()
    if fast is not None:
        batches = values.batch(batch_size, drop_remainder=True).map(
            fast, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        batches = values.map(_numpy_batch_fn(dataset, batch_size),
                             num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)
