"""Export of trained encoders/decoders as SavedModels in TensorFlow Serving's layout.

    <export_base>/<version>/saved_model.pb, variables/, assets.extra/

Signatures (all batch dimensions are dynamic):

* ``serving_default``: ``images`` float32 [None, H, W, C] in [0, 1] -> ``mean``, ``logvar`` [None, d]
* ``encode_uint8``: ``images`` uint8 [None, H, W, C] in [0, 255] -> ``mean``, ``logvar``
* ``decode``: ``z`` float32 [None, d] -> ``probs`` (E[x|z] in [0, 1]), ``logits``
* ``reconstruct``: ``images`` float32 -> ``reconstruction`` (decoded posterior mean), ``mean``, ``logvar``

``assets.extra/`` holds ``tfdisent_export.json`` (shapes, likelihood, training metadata) and
``tf_serving_warmup_requests`` (:mod:`tfdisent.export.warmup`), which ``tensorflow_model_server``
replays before serving the version.

The module tracks the raw ``tf.Variable`` behind every Keras 3 variable: the traced graphs
capture those, and without tracking them the SavedModel loads with ``tf.saved_model.load`` but
fails under the TF1 session loader that ``tensorflow_model_server`` and ``saved_model_cli run``
use ("Could not find variable ... uninitialized").
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Optional, Sequence

import tensorflow as tf

from tfdisent.export.layout import EXPORT_DIR, METADATA_FILE, latest_version  # noqa: F401 (public names)
from tfdisent.export.warmup import write_warmup_file
from tfdisent.models import distributions


class EncoderDecoderModule(tf.Module):
    """A tf.Module exposing the serving signatures of an encoder/decoder pair."""

    def __init__(self, encoder, decoder, observation_shape: Sequence[int], latent_dim: int,
                 likelihood: str = "bernoulli"):
        super().__init__(name="tfdisent_model")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.tf_variables = [v.value if hasattr(v, "value") else v for v in encoder.variables + decoder.variables]
        image_spec = [None] + list(observation_shape)
        self.encode = tf.function(self._encode, input_signature=[
            tf.TensorSpec(image_spec, tf.float32, name="images")])
        self.encode_uint8 = tf.function(self._encode_uint8, input_signature=[
            tf.TensorSpec(image_spec, tf.uint8, name="images")])
        self.decode = tf.function(self._decode, input_signature=[
            tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
        self.reconstruct = tf.function(self._reconstruct, input_signature=[
            tf.TensorSpec(image_spec, tf.float32, name="images")])

    def _encode(self, images):
        mean, logvar = self.encoder(images, training=False)
        return {"mean": tf.identity(mean, name="mean"), "logvar": tf.identity(logvar, name="logvar")}

    def _encode_uint8(self, images):
        return self._encode(tf.cast(images, tf.float32) / 255.0)

    def _decode(self, z):
        logits = self.decoder(z, training=False)
        return {"probs": distributions.mean_prediction(logits, self.likelihood), "logits": logits}

    def _reconstruct(self, images):
        codes = self._encode(images)
        return {"reconstruction": self._decode(codes["mean"])["probs"], **codes}

    def signatures(self):
        return {"serving_default": self.encode, "encode_uint8": self.encode_uint8,
                "decode": self.decode, "reconstruct": self.reconstruct}


def export_saved_model(encoder, decoder, export_base: str, observation_shape: Sequence[int], latent_dim: int,
                       likelihood: str = "bernoulli", version: Optional[int] = None,
                       metadata: Optional[dict] = None, extra_assets=None, warmup: bool = True,
                       model_name: str = "tfdisent") -> str:
    """Writes ``<export_base>/<version>/`` atomically and returns its path.

    ``version`` defaults to one above the latest. The SavedModel is written to a hidden
    temporary directory first and renamed into place, so a server watching ``export_base``
    never sees a half-written version. ``extra_assets`` is an optional callable receiving the
    temporary version directory, used to add further ``assets.extra`` files. ``warmup`` writes
    TF Serving's warmup file (one request per signature and batch size, see
    :mod:`tfdisent.export.warmup`); ``model_name`` is the name those requests carry.
    """
    if version is None:
        version = (latest_version(export_base) or 0) + 1
    if int(version) <= 0:
        raise ValueError(f"export version must be a positive integer, got {version}")
    os.makedirs(export_base, exist_ok=True)
    final = os.path.join(export_base, str(int(version)))
    tmp = os.path.join(export_base, f".tmp-{int(version)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    module = EncoderDecoderModule(encoder, decoder, observation_shape, latent_dim, likelihood)
    tf.saved_model.save(module, tmp, signatures=module.signatures())
    extra = os.path.join(tmp, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    info = {"observation_shape": list(observation_shape), "latent_dim": int(latent_dim),
            "likelihood": likelihood, "version": int(version)}
    info.update(metadata or {})
    with open(os.path.join(extra, METADATA_FILE), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
    if warmup:
        write_warmup_file(tmp, model_name=model_name)
    if extra_assets is not None:
        extra_assets(tmp)
    if os.path.exists(final):
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def export_model(model, export_base: str, observation_shape: Sequence[int], version: Optional[int] = None,
                 metadata: Optional[dict] = None, **kwargs) -> str:
    """Exports a trained objective (any :class:`~tfdisent.methods.GaussianVAE`)."""
    return export_saved_model(model.encoder, model.decoder, export_base, observation_shape,
                              model.encoder.latent_dim, model.likelihood, version, metadata, **kwargs)


def export_trainer(trainer) -> str:
    """Exports a :class:`~tfdisent.training.Trainer`'s model as ``<run_dir>/export/<step>/`` with the
    run's settings as metadata (what ``Trainer.export`` and ``tfdisent-train`` write)."""
    return export_model(trainer.model, os.path.join(trainer.run_dir, EXPORT_DIR), trainer.dataset.observation_shape,
                        version=trainer.step, metadata=trainer.export_metadata())
