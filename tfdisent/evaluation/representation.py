"""Representation functions from exported models (SavedModel ``serving_default``).

A trained model is exported as a SavedModel whose ``serving_default`` signature maps
``images`` float32 ``[None, *observation_shape]`` in [0, 1] to ``mean`` and ``logvar``
``[None, d]``. This module finds the export (a training run directory resolves to its newest
``export/<integer version>/``), checks that the signature fits the dataset, and builds the
numpy functions the metrics consume:

* ``mean``: the posterior mean (what Locatello et al. 2019 report);
* ``sampled``: ``mean + exp(logvar / 2) * eps`` with ``eps`` from a seeded numpy RandomState
  (disentanglement_lib's ``sampled_representation``; TF randomness there, numpy here);
* ``(mean, logvar)`` pairs for UDR.

Encoding runs in large batches (``batch_size``, default 1024) through the concrete signature.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

REPRESENTATIONS = ("mean", "sampled")


class RepresentationError(ValueError):
    """The model path, its signature or its outputs do not fit; the message says which."""


def _is_saved_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt"))


def resolve_saved_model_dir(path: str) -> str:
    """The SavedModel directory for ``path``: itself if it is one, else the highest integer
    version under ``path/export/``. Raises RepresentationError otherwise (no TF import needed)."""
    if not path:
        raise RepresentationError("empty model path")
    if not os.path.exists(path):
        raise RepresentationError(f"model path {path!r} does not exist")
    if not os.path.isdir(path):
        raise RepresentationError(f"model path {path!r} is not a directory")
    if _is_saved_model_dir(path):
        return os.path.abspath(path)
    export_dir = os.path.join(path, "export")
    if os.path.isdir(export_dir):
        versions = sorted((int(name) for name in os.listdir(export_dir)
                           if re.fullmatch(r"\d+", name) and _is_saved_model_dir(os.path.join(export_dir, name))),
                          reverse=True)
        if versions:
            return os.path.abspath(os.path.join(export_dir, str(versions[0])))
        raise RepresentationError(f"{export_dir!r} holds no SavedModel version directory "
                                  "(expected export/<integer>/saved_model.pb)")
    raise RepresentationError(f"{path!r} is not a SavedModel (no saved_model.pb) nor a training run "
                              "directory with export/<version>/")


class GaussianEncoder:
    """The ``serving_default`` signature of an exported model, checked against a dataset.

    Attributes: ``path`` (the SavedModel directory), ``input_name``, ``latent_dim``.
    """

    def __init__(self, path: str, observation_shape: Optional[Sequence[int]] = None,
                 batch_size: int = 1024, signature_name: str = "serving_default"):
        import tensorflow as tf  # deferred: only the CLI/evaluation path needs TensorFlow

        self._tf = tf
        self.path = resolve_saved_model_dir(path)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise RepresentationError(f"encode batch size must be >= 1, got {batch_size}")
        try:
            self._loaded = tf.saved_model.load(self.path)
        except Exception as error:  # corrupt or incompatible files
            raise RepresentationError(f"cannot load SavedModel {self.path!r}: "
                                      f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
        signatures = getattr(self._loaded, "signatures", {})
        if signature_name not in signatures:
            raise RepresentationError(f"SavedModel {self.path!r} has no {signature_name!r} signature "
                                      f"(has: {', '.join(signatures) or 'none'})")
        self._signature = signatures[signature_name]
        self.input_name, input_spec = self._input_spec()
        self.latent_dim = self._check_outputs()
        self.observation_shape = tuple(input_spec.shape[1:])
        if observation_shape is not None:
            self._check_input_shape(input_spec, tuple(observation_shape))

    # -- signature checks --------------------------------------------------------------------
    def _input_spec(self):
        _, kwargs = self._signature.structured_input_signature
        if "images" in kwargs:
            name = "images"
        elif len(kwargs) == 1:
            name = next(iter(kwargs))
        else:
            raise RepresentationError(f"signature input must be 'images', got {sorted(kwargs)}")
        spec = kwargs[name]
        if spec.dtype != self._tf.float32:
            raise RepresentationError(f"signature input {name!r} must be float32, got {spec.dtype.name}")
        if spec.shape.rank is None or spec.shape.rank < 2:
            raise RepresentationError(f"signature input {name!r} must be batched [None, ...], got {spec.shape}")
        return name, spec

    def _check_outputs(self) -> Optional[int]:
        outputs = self._signature.structured_outputs
        missing = [key for key in ("mean", "logvar") if key not in outputs]
        if missing:
            raise RepresentationError(f"signature outputs must include 'mean' and 'logvar'; "
                                      f"got {sorted(outputs)}")
        dims = set()
        for key in ("mean", "logvar"):
            shape = outputs[key].shape
            if shape.rank != 2:
                raise RepresentationError(f"signature output {key!r} must be [None, d], got {shape}")
            dims.add(shape[1])
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise RepresentationError(f"signature outputs 'mean' and 'logvar' differ in size: {sorted(known)}")
        return known.pop() if known else None

    def _check_input_shape(self, spec, observation_shape: Tuple[int, ...]) -> None:
        model_shape = tuple(spec.shape[1:])
        fits = len(model_shape) == len(observation_shape) and all(
            m is None or m == o for m, o in zip(model_shape, observation_shape))
        if not fits:
            shown = "[None, " + ", ".join("None" if m is None else str(m) for m in model_shape) + "]"
            raise RepresentationError(
                f"model input {shown} does not fit the dataset's observations "
                f"[None, {', '.join(map(str, observation_shape))}]")

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, observations: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(mean, logvar)`` numpy arrays [N, d] of observations [N, ...], in batches."""
        observations = np.asarray(observations, dtype=np.float32)
        means, logvars = [], []
        for start in range(0, len(observations), self.batch_size):
            batch = self._tf.constant(observations[start:start + self.batch_size])
            outputs = self._signature(**{self.input_name: batch})
            means.append(outputs["mean"].numpy())
            logvars.append(outputs["logvar"].numpy())
        if not means:
            empty = np.zeros((0, self.latent_dim or 0), np.float32)
            return empty, empty
        mean, logvar = np.concatenate(means), np.concatenate(logvars)
        if mean.ndim != 2 or mean.shape != logvar.shape or mean.shape[0] != len(observations):
            raise RepresentationError(f"model returned mean {mean.shape} and logvar {logvar.shape} "
                                      f"for {len(observations)} observations")
        return mean, logvar


def load_gaussian_encoder(path: str, observation_shape: Optional[Sequence[int]] = None,
                          batch_size: int = 1024) -> GaussianEncoder:
    """Loads and checks a SavedModel (or a training run's latest export)."""
    return GaussianEncoder(path, observation_shape, batch_size)


def mean_representation(encoder: GaussianEncoder) -> Callable[[np.ndarray], np.ndarray]:
    def representation(observations: np.ndarray) -> np.ndarray:
        return encoder.encode(observations)[0]
    return representation


def sampled_representation(encoder: GaussianEncoder, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """``mean + exp(logvar / 2) * eps``, eps ~ N(0, 1) from ``RandomState(seed)`` (the noise
    stream is separate from the metric's sampling stream)."""
    noise = np.random.RandomState(seed)

    def representation(observations: np.ndarray) -> np.ndarray:
        mean, logvar = encoder.encode(observations)
        return mean + np.exp(logvar / 2.0) * noise.standard_normal(mean.shape).astype(mean.dtype)
    return representation


def gaussian_encoder_function(encoder: GaussianEncoder) -> Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """``observations -> (mean, logvar)``, the input UDR needs."""
    def representation(observations: np.ndarray):
        return encoder.encode(observations)
    return representation


def make_representation_function(encoder: GaussianEncoder, kind: str = "mean", seed: int = 0):
    if kind == "mean":
        return mean_representation(encoder)
    if kind == "sampled":
        return sampled_representation(encoder, seed)
    raise RepresentationError(f"unknown representation {kind!r}; choose one of {REPRESENTATIONS}")


def check_representation_on_data(dataset, encoder: GaussianEncoder, num_points: int = 32,
                                 seed: int = 0) -> None:
    """Encodes a few dataset observations (own RandomState, so metric draws are unaffected) and
    raises RepresentationError on wrong shapes or non-finite values."""
    observations = dataset.sample_observations(num_points, np.random.RandomState(seed + 7919))
    mean, logvar = encoder.encode(observations)
    for name, values in (("mean", mean), ("logvar", logvar)):
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).any(axis=1).sum())
            raise RepresentationError(f"model {encoder.path!r} returns NaN/inf {name} for {bad} of "
                                      f"{num_points} sample observations of the dataset")
