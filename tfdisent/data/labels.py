"""Few labels for semi-supervised disentanglement (Locatello et al. 2020, "Disentangling Factors of
Variation Using Few Labels", ICLR; disentanglement_lib's ``semi_supervised_utils.py``).

A labelled subset of ``num_labels`` observations is drawn reproducibly from the ground-truth
dataset (i.i.d. factor draws, as the reference's ``sample_supervised_data``), labelled by one of
the reference's labellers and split 90/10 into train/validation (``ceil(0.9 n)`` for training).

Labellers (what the model is told about the factors y of an observation):

* ``perfect``: y itself.
* ``bin``: every factor binned into 5 values, ``floor(y / (n / 5))`` capped at 4 (n = the factor's
  number of values; a factor with fewer than 5 values keeps distinct but spread-out labels, e.g. n = 3
  gives 0, 1, 3 as in the reference). The label sizes become 5.
* ``noisy``: each label is, with probability 0.1, replaced by a value drawn uniformly from its
  factor's values (which may be the true one, so ~0.1 (1 - 1/n) of the labels are wrong).
* ``permuted``: each factor's values relabelled by a fixed random permutation (drawn once per run).
* ``partial``: only 2 factors are observed, chosen at random once per run (needs at least 3 factors).

Training batches pair B unlabelled observations (the usual i.i.d. stream) with B labelled training
examples drawn uniformly with replacement from the labelled train split (the reference repeats and
zips the labelled set; drawing indices from ``tf.data.Dataset.random`` keeps the iterator checkpoint
small and the stream a deterministic function of the seed).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import numpy as np
import tensorflow as tf

from tfdisent.data import pipeline
from tfdisent.data.ground_truth import DatasetError, GroundTruthData

LABELLERS = ("perfect", "bin", "noisy", "permuted", "partial")
NUM_BINS = 5
NOISE_PROBABILITY = 0.1
PARTIAL_FACTORS = 2
TRAIN_FRACTION = 0.9


@dataclasses.dataclass
class LabelledSubset:
    """The labelled examples of a run: observations float32, labels int64 [n, L], L label columns."""

    train_observations: np.ndarray
    train_labels: np.ndarray
    validation_observations: np.ndarray
    validation_labels: np.ndarray
    validation_factors: np.ndarray  # the true factors of the validation examples
    label_sizes: Tuple[int, ...]  # number of values of each label column
    labelled_factors: Tuple[int, ...]  # the factor index of each label column


def check_label_settings(dataset: GroundTruthData, num_labels: int, labeller: str) -> None:
    """Raises DatasetError (one line) when ``dataset`` cannot give ``num_labels`` labels of ``labeller``."""
    if labeller not in LABELLERS:
        raise DatasetError(f"unknown labeller {labeller!r}; choose from {', '.join(LABELLERS)}")
    if dataset.num_factors == 0:
        raise DatasetError(f"{dataset.name} has no ground-truth factors; semi-supervised training needs labels")
    if num_labels < 2:
        raise DatasetError(f"num_labels must be at least 2 (90/10 train/validation split), got {num_labels}")
    if num_labels > dataset.num_examples:
        raise DatasetError(f"num_labels={num_labels} is more than the {dataset.num_examples} examples of "
                           f"{dataset.name}")
    if labeller == "partial" and dataset.num_factors <= PARTIAL_FACTORS:
        raise DatasetError(f"the partial labeller observes {PARTIAL_FACTORS} factors and needs a dataset with more; "
                           f"{dataset.name} has {dataset.num_factors}")


def split_sizes(num_labels: int) -> Tuple[int, int]:
    """(train, validation) sizes: ceil(0.9 n) and the rest."""
    train = int(math.ceil(TRAIN_FRACTION * num_labels))
    return train, num_labels - train


def apply_labeller(factors: np.ndarray, factor_sizes, labeller: str, random_state: np.random.RandomState
                   ) -> Tuple[np.ndarray, Tuple[int, ...], Tuple[int, ...]]:
    """Labels of ``factors`` [n, F] under ``labeller``.

    Returns (labels int64 [n, L], label sizes (L,), labelled factor indices (L,)). The random parts
    (noise, permutations, observed factors) come from ``random_state``.
    """
    factors = np.asarray(factors, dtype=np.int64)
    sizes = np.asarray(factor_sizes, dtype=np.int64)
    all_factors = tuple(range(len(sizes)))
    if labeller == "perfect":
        return factors.copy(), tuple(int(s) for s in sizes), all_factors
    if labeller == "bin":
        binned = np.floor(factors / (sizes / NUM_BINS)).astype(np.int64)
        return np.minimum(binned, NUM_BINS - 1), (NUM_BINS,) * len(sizes), all_factors
    if labeller == "noisy":
        resample = random_state.uniform(size=factors.shape) < NOISE_PROBABILITY
        random_values = np.stack([random_state.randint(s, size=len(factors)) for s in sizes], axis=1)
        return np.where(resample, random_values, factors), tuple(int(s) for s in sizes), all_factors
    if labeller == "permuted":
        permutations = [random_state.permutation(s) for s in sizes]
        labels = np.stack([permutations[j][factors[:, j]] for j in range(len(sizes))], axis=1)
        return labels.astype(np.int64), tuple(int(s) for s in sizes), all_factors
    if labeller == "partial":
        observed = tuple(int(j) for j in np.sort(random_state.choice(len(sizes), PARTIAL_FACTORS, replace=False)))
        return factors[:, list(observed)].copy(), tuple(int(sizes[j]) for j in observed), observed
    raise DatasetError(f"unknown labeller {labeller!r}; choose from {', '.join(LABELLERS)}")


def draw_labelled_subset(dataset: GroundTruthData, num_labels: int, labeller: str, seed: int) -> LabelledSubset:
    """The run's labelled subset: a deterministic function of (dataset, num_labels, labeller, seed)."""
    check_label_settings(dataset, num_labels, labeller)
    random_state = np.random.RandomState(seed % (2 ** 32))
    factors, observations = dataset.sample(num_labels, random_state)
    labels, label_sizes, labelled_factors = apply_labeller(factors, dataset.factor_sizes, labeller, random_state)
    train, _ = split_sizes(num_labels)
    return LabelledSubset(
        train_observations=np.asarray(observations[:train], np.float32), train_labels=labels[:train],
        validation_observations=np.asarray(observations[train:], np.float32), validation_labels=labels[train:],
        validation_factors=factors[train:], label_sizes=label_sizes, labelled_factors=labelled_factors)


def semi_supervised_dataset(dataset: GroundTruthData, subset: LabelledSubset, batch_size: int,
                            seed: int) -> tf.data.Dataset:
    """Infinite stream of ``{"x": [B, *obs], "x_labelled": [B, *obs], "y_labelled": float32 [B, L]}``."""
    unlabelled = pipeline.training_dataset(dataset, batch_size, seed)
    observations = tf.constant(subset.train_observations)
    labels = tf.constant(subset.train_labels.astype(np.float32))
    num_train = len(subset.train_observations)

    def labelled_batch(values):
        indices = tf.math.floormod(values, num_train)
        return tf.gather(observations, indices), tf.gather(labels, indices)

    # A different random stream from the unlabelled one (seed + 1).
    labelled = tf.data.Dataset.random(seed=seed + 1).batch(batch_size, drop_remainder=True).map(labelled_batch)
    return tf.data.Dataset.zip(unlabelled, labelled).map(
        lambda x, xy: {"x": x, "x_labelled": xy[0], "y_labelled": xy[1]}).prefetch(tf.data.AUTOTUNE)
