"""An exported SavedModel (``serving_default`` and ``decode`` signatures) as numpy encode/decode.

Visualisations go through the export rather than the training checkpoint, so they need nothing
of the training code and show exactly the model that TF Serving would serve.
"""

from __future__ import annotations

import os
from typing import Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfdisent.evaluation.encoding import encode_in_batches
from tfdisent.evaluation.representation import load_model_dir
from tfdisent.export.layout import dlib_dataset_name, find_tf1_hub_module, read_dlib_gin, read_metadata


class ExportedModel:
    """``encode(images) -> (mean, logvar)`` and ``decode(z) -> probs`` over an export version directory,
    or over a disentanglement_lib TF1 Hub module (``gaussian_encoder`` and ``decoder`` signatures; the
    decoder's logits become probabilities through the activation of its training gin: sigmoid, or
    (tanh + 1) / 2 for ``tanh``). Loading a model runs its graph: only load models you trust."""

    def __init__(self, version_dir: str, batch_size: int = 256):
        self.version_dir = version_dir
        self.batch_size = int(batch_size)
        self.is_tf1_hub = find_tf1_hub_module(version_dir) == os.path.abspath(version_dir)
        names = ("gaussian_encoder", "decoder") if self.is_tf1_hub else ("serving_default", "decode")
        self._loaded = load_model_dir(version_dir)
        missing = [s for s in names if s not in self._loaded.signatures]
        if missing:
            raise ValueError(f"{version_dir} lacks the signature(s) {', '.join(missing)}; re-export it with "
                             "tfdisent.export.export_saved_model")
        self._encode = self._loaded.signatures[names[0]]
        self._decode = self._loaded.signatures[names[1]]
        image_spec = self._encode.structured_input_signature[1]["images"]
        if self.is_tf1_hub:
            z_spec = self._decode.structured_input_signature[1]["latent_vectors"]
            gin = read_dlib_gin(version_dir)
            self._activation = "tanh" if gin.get("reconstruction_loss.activation") == "tanh" else "logits"
            self.metadata = {"dataset": dlib_dataset_name(version_dir)}
        else:
            z_spec = self._decode.structured_input_signature[1]["z"]
            self.metadata = read_metadata(version_dir)
        self.observation_shape: Tuple[int, ...] = tuple(int(d) for d in image_spec.shape[1:])
        self.latent_dim = int(z_spec.shape[-1])

    def encode(self, observations: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Posterior parameters ``(mean, logvar)`` [N, d] of float observations in [0, 1]."""
        return encode_in_batches(lambda batch: self._encode(images=tf.constant(batch)), observations,
                                 self.batch_size)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """E[x|z] in [0, 1] for latent codes [N, d]."""
        outputs = []
        for start in range(0, len(codes), self.batch_size):
            batch = tf.constant(np.asarray(codes[start:start + self.batch_size], np.float32))
            if self.is_tf1_hub:
                logits = self._decode(latent_vectors=batch)["images"]
                probs = (tf.tanh(logits) + 1.0) / 2.0 if self._activation == "tanh" else tf.sigmoid(logits)
                outputs.append(probs.numpy())
            else:
                outputs.append(self._decode(z=batch)["probs"].numpy())
        return np.concatenate(outputs)

    @property
    def is_image_model(self) -> bool:
        return len(self.observation_shape) == 3 and self.observation_shape[-1] in (1, 3)


def check_dataset_fits(model: ExportedModel, observation_shape: Sequence[int], dataset_name: str) -> None:
    if tuple(observation_shape) != model.observation_shape:
        raise ValueError(f"dataset {dataset_name} has observations {tuple(observation_shape)} but the export at "
                         f"{model.version_dir} takes {model.observation_shape}; pass the run's dataset settings")
