"""Encoder and decoder networks (Keras 3 subclassed models).

Encoders map observations to the parameters ``(mean, logvar)`` of a diagonal Gaussian
q(z|x); decoders map latents to the logits of p(x|z). Models return tensors, never
distributions, so they also work inside the Functional API and SavedModel signatures;
:mod:`tfdisent.models.distributions` turns the tensors into TFP distributions.

Architectures (Locatello et al. 2019, Table 1; disentanglement_lib ``architectures.py``):

* ``dlib_conv``: the convolutional encoder as disentanglement_lib's code builds it, whose third
  and fourth convolutions use 2x2 kernels, and its transposed-convolution decoder. Default,
  so scores are comparable with the 10,800 released models of that study.
* ``paper_conv``: the same with 4x4 kernels throughout, as the papers print it
  (Higgins et al. 2017; Locatello et al. 2019 Table 1).
* ``fc``: fully connected 1200-1200 encoder, 1200-1200-1200 (tanh) decoder.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import keras
import numpy as np


class ConvEncoder(keras.Model):
    """Conv(32,s2) -> Conv(32,s2) -> Conv(64,s2) -> Conv(64,s2) -> Dense(256) -> (mean, logvar)."""

    def __init__(self, latent_dim: int, kernel_sizes: Sequence[int] = (4, 4, 2, 2), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.kernel_sizes = tuple(kernel_sizes)
        self.convs = [keras.layers.Conv2D(filters, kernel, strides=2, padding="same",
                                          activation="relu", name=f"conv{i + 1}")
                      for i, (filters, kernel) in enumerate(zip((32, 32, 64, 64), self.kernel_sizes))]
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(256, activation="relu", name="hidden")
        # Two separate heads, as in the reference, rather than one split Dense.
        self.mean_head = keras.layers.Dense(latent_dim, name="means")
        self.logvar_head = keras.layers.Dense(latent_dim, name="log_var")

    def call(self, x, training=False):
        h = x
        for conv in self.convs:
            h = conv(h)
        h = self.hidden(self.flatten(h))
        return self.mean_head(h), self.logvar_head(h)


class DeconvDecoder(keras.Model):
    """Dense(256) -> Dense(1024) -> [4,4,64] -> DeConv(64,32,32,C; 4x4, s2) -> logits."""

    def __init__(self, output_shape: Tuple[int, int, int], **kwargs):
        super().__init__(**kwargs)
        height, width, channels = output_shape
        if height % 16 or width % 16:
            raise ValueError(f"conv decoders need image sides divisible by 16, got {output_shape}")
        self.output_image_shape = tuple(output_shape)
        self.start_shape = (height // 16, width // 16, 64)
        self.dense1 = keras.layers.Dense(256, activation="relu", name="dense1")
        self.dense2 = keras.layers.Dense(int(np.prod(self.start_shape)), activation="relu", name="dense2")
        self.reshape = keras.layers.Reshape(self.start_shape)
        self.deconvs = [keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                                                     activation=activation, name=f"deconv{i + 1}")
                        for i, (filters, activation) in enumerate(
                            ((64, "relu"), (32, "relu"), (32, "relu"), (channels, None)))]

    def call(self, z, training=False):
        h = self.reshape(self.dense2(self.dense1(z)))
        for deconv in self.deconvs:
            h = deconv(h)
        return h


class FCEncoder(keras.Model):
    """Flatten -> Dense(1200, relu) x2 -> (mean, logvar)."""

    def __init__(self, latent_dim: int, hidden_units: Sequence[int] = (1200, 1200), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.flatten = keras.layers.Flatten()
        self.hidden = [keras.layers.Dense(units, activation="relu", name=f"dense{i + 1}")
                       for i, units in enumerate(hidden_units)]
        self.mean_head = keras.layers.Dense(latent_dim, name="means")
        self.logvar_head = keras.layers.Dense(latent_dim, name="log_var")

    def call(self, x, training=False):
        h = self.flatten(x)
        for layer in self.hidden:
            h = layer(h)
        return self.mean_head(h), self.logvar_head(h)


class FCDecoder(keras.Model):
    """Dense(1200, tanh) x3 -> Dense(prod(shape)) -> logits reshaped to the observation shape."""

    def __init__(self, output_shape: Tuple[int, ...], hidden_units: Sequence[int] = (1200, 1200, 1200),
                 activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        self.output_image_shape = tuple(output_shape)
        self.hidden = [keras.layers.Dense(units, activation=activation, name=f"dense{i + 1}")
                       for i, units in enumerate(hidden_units)]
        self.out = keras.layers.Dense(int(np.prod(output_shape)), name="logits")
        self.reshape = keras.layers.Reshape(self.output_image_shape)

    def call(self, z, training=False):
        h = z
        for layer in self.hidden:
            h = layer(h)
        return self.reshape(self.out(h))


def _dlib_conv(observation_shape, latent_dim):
    return ConvEncoder(latent_dim, (4, 4, 2, 2), name="encoder"), DeconvDecoder(observation_shape, name="decoder")


def _paper_conv(observation_shape, latent_dim):
    return ConvEncoder(latent_dim, (4, 4, 4, 4), name="encoder"), DeconvDecoder(observation_shape, name="decoder")


def _fc(observation_shape, latent_dim):
    return FCEncoder(latent_dim, name="encoder"), FCDecoder(observation_shape, name="decoder")


def _mlp(observation_shape, latent_dim):
    # One hidden layer of 100 ReLU units: the pinwheel networks of Mathieu et al. (2019).
    return (FCEncoder(latent_dim, (100,), name="encoder"),
            FCDecoder(observation_shape, (100,), activation="relu", name="decoder"))


ARCHITECTURES: Dict[str, Callable] = {
    "dlib_conv": _dlib_conv,
    "paper_conv": _paper_conv,
    "fc": _fc,
    "mlp": _mlp,
}


def build_architecture(name: str, observation_shape: Sequence[int], latent_dim: int):
    """Returns built ``(encoder, decoder)`` for ``observation_shape`` and ``latent_dim``.

    Both are called once on a dummy batch: Keras 3 subclassed models only create their
    variables on the first call, and checkpoints must be restored into built models.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    if latent_dim <= 0:
        raise ValueError(f"latent_dim must be positive, got {latent_dim}")
    encoder, decoder = ARCHITECTURES[name](tuple(observation_shape), latent_dim)
    encoder(np.zeros((1,) + tuple(observation_shape), np.float32))
    decoder(np.zeros((1, latent_dim), np.float32))
    return encoder, decoder
