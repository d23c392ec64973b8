"""Representation functions from exported models (SavedModel ``serving_default``).

A trained model is exported as a SavedModel whose ``serving_default`` signature maps
``images`` float32 ``[None, *observation_shape]`` in [0, 1] to ``mean`` and ``logvar``
``[None, d]``. disentanglement_lib's released models (TF1 Hub modules, ``model/tfhub/``) are read
through their ``gaussian_encoder`` signature, which has the same inputs and outputs. This module finds the export (a training run directory resolves to its newest
``export/<integer version>/``), checks that the signature fits the dataset, and builds the
numpy functions the metrics consume:

* ``mean``: the posterior mean (what Locatello et al. 2019 report);
* ``sampled``: ``mean + exp(logvar / 2) * eps`` with ``eps`` from a seeded numpy RandomState
  (disentanglement_lib's ``sampled_representation``; TF randomness there, numpy here);
* ``(mean, logvar)`` pairs for UDR.

Encoding runs in batches (``batch_size``, default :data:`tfdisent.evaluation.encoding.DEFAULT_BATCH_SIZE`)
through the concrete signature.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from tfdisent.errors import one_line
from tfdisent.evaluation.encoding import DEFAULT_BATCH_SIZE, encode_in_batches
from tfdisent.export.layout import ExportNotFoundError, find_tf1_hub_module, is_saved_model_dir, latest_export

REPRESENTATIONS = ("mean", "sampled")


class RepresentationError(ValueError):
    """The model path, its signature or its outputs do not fit; the message says which."""


def load_model_dir(path: str):
    """``tf.saved_model.load`` of an export, or of a TF1 Hub module's default graph (empty tag set;
    TensorFlow 2 loads the TF1 format itself, no ``tensorflow_hub`` needed). Loading a model runs
    its graph: only load models you trust."""
    import tensorflow as tf

    if find_tf1_hub_module(path) == os.path.abspath(path):
        return tf.saved_model.load(path, tags=[])
    return tf.saved_model.load(path)


def resolve_saved_model_dir(path: str) -> str:
    """The SavedModel directory for ``path``: a disentanglement_lib TF1 Hub module found in it
    (:func:`tfdisent.export.layout.find_tf1_hub_module`), itself if it is a SavedModel, else its
    newest export (:func:`tfdisent.export.latest_export`). Raises RepresentationError otherwise
    (no TF import)."""
    hub_dir = find_tf1_hub_module(path)
    if hub_dir is not None:
        return hub_dir
    if path and os.path.isdir(path) and is_saved_model_dir(path):
        return os.path.abspath(path)
    try:
        return latest_export(path)
    except ExportNotFoundError as error:
        raise RepresentationError(str(error)) from None


class GaussianEncoder:
    """The ``serving_default`` signature of an exported model, checked against a dataset.

    Attributes: ``path`` (the SavedModel directory), ``input_name``, ``latent_dim``.
    """

    def __init__(self, path: str, observation_shape: Optional[Sequence[int]] = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, signature_name: str = "serving_default"):
        import tensorflow as tf  # deferred: only the CLI/evaluation path needs TensorFlow

        self._tf = tf
        self.path = resolve_saved_model_dir(path)
        self.is_tf1_hub = find_tf1_hub_module(self.path) == self.path
        if self.is_tf1_hub and signature_name == "serving_default":
            signature_name = "gaussian_encoder"  # disentanglement_lib's module
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise RepresentationError(f"encode batch size must be >= 1, got {batch_size}")
        try:
            self._loaded = load_model_dir(self.path)
        except Exception as error:  # corrupt or incompatible files
            raise RepresentationError(f"cannot load SavedModel {self.path!r}: "
                                      f"{one_line(error, with_type=False)}") from None
        signatures = getattr(self._loaded, "signatures", {})
        if signature_name not in signatures:
            raise RepresentationError(f"SavedModel {self.path!r} has no {signature_name!r} signature "
                                      f"(has: {', '.join(signatures) or 'none'})")
        self._signature = signatures[signature_name]
        # Raw pixels go through the export's uint8 signature when it has one (a quarter of the bytes
        # to copy into TensorFlow; the /255 happens in the graph).
        self._uint8_signature = signatures.get("encode_uint8") if signature_name == "serving_default" else None
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
        """``(mean, logvar)`` numpy arrays [N, d] of observations [N, ...], in batches.

        Float observations are in [0, 1]; uint8 observations are pixels in [0, 255] (encoded through
        the export's ``encode_uint8`` signature when present, else divided by 255 here).
        """
        if len(observations) == 0:
            empty = np.zeros((0, self.latent_dim or 0), np.float32)
            return empty, empty
        is_uint8 = getattr(observations, "dtype", None) == np.uint8
        try:
            if is_uint8 and self._uint8_signature is not None:
                return encode_in_batches(self._encode_uint8_batch, observations, self.batch_size, dtype=None)
            if is_uint8:
                return encode_in_batches(lambda batch: self._encode_batch(batch.astype(np.float32) / 255.0),
                                         observations, self.batch_size, dtype=None)
            return encode_in_batches(self._encode_batch, observations, self.batch_size)
        except ValueError as error:  # wrong output shapes
            raise RepresentationError(f"model {self.path!r}: {error}") from None

    def _encode_batch(self, batch: np.ndarray):
        outputs = self._signature(**{self.input_name: self._tf.constant(batch)})
        return outputs["mean"].numpy(), outputs["logvar"].numpy()

    def _encode_uint8_batch(self, batch: np.ndarray):
        outputs = self._uint8_signature(images=self._tf.constant(batch))
        return outputs["mean"].numpy(), outputs["logvar"].numpy()


def load_gaussian_encoder(path: str, observation_shape: Optional[Sequence[int]] = None,
                          batch_size: int = DEFAULT_BATCH_SIZE) -> GaussianEncoder:
    """Loads and checks a SavedModel (or a training run's latest export)."""
    return GaussianEncoder(path, observation_shape, batch_size)


def mean_representation(encoder: GaussianEncoder) -> Callable[[np.ndarray], np.ndarray]:
    def representation(observations: np.ndarray) -> np.ndarray:
        return encoder.encode(observations)[0]
    return representation


class SampledRepresentation:
    """``mean + exp(logvar / 2) * eps``, eps ~ N(0, 1) from its own ``RandomState`` (the noise
    stream is separate from the metric's sampling stream). ``reseed(seed)`` restarts the noise; the
    evaluator calls it before every metric so that a metric's noise does not depend on what ran
    before it (:func:`tfdisent.evaluation.evaluate.run_metrics`). The noise of consecutive calls
    continues one row-major stream, so how the observations are batched does not change it."""

    def __init__(self, encoder, seed: int = 0):
        self.encoder = encoder
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self._noise = np.random.RandomState(int(seed) % 2 ** 32)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        mean, logvar = self.encoder.encode(observations)
        return mean + np.exp(logvar / 2.0) * self._noise.standard_normal(mean.shape).astype(mean.dtype)


def sampled_representation(encoder: GaussianEncoder, seed: int = 0) -> SampledRepresentation:
    """The sampled representation of disentanglement_lib's postprocessing, noise from ``RandomState(seed)``."""
    return SampledRepresentation(encoder, seed)


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
