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
* ``mlp`` / ``mlp_normal``: one hidden layer of 100 (pinwheel, Mathieu et al. 2019); ``mlp_normal``'s
  decoder also emits the scale of the ``normal`` likelihood.
* ``dcgan``: the DCGAN-style Fashion-MNIST networks of Mathieu et al. (2019), with batch norm.

FLOAT32_HEADS: under a mixed Keras policy (``TrainConfig.precision``; Micikevicius et al. 2018, Kalamkar et
al. 2019 for bfloat16) the hidden layers compute in bfloat16/float16, but the encoder's mean and logvar heads
compute in float32 (tiny layers; bfloat16 keeps 8 significant bits, too coarse for the KL, the estimators
and the metrics) and the decoder's logits leave in float32. So every consumer of the networks (losses,
export signatures, evaluation, visualisation) sees float32 under every policy; variables are float32 always.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple

import keras
import numpy as np


def add_layers(model: keras.Model, prefix: str, layers: Sequence[keras.layers.Layer]) -> List[str]:
    """Sets each layer as its own attribute (``<prefix>1``, ``<prefix>2``...) and returns the names.

    Keras 3 layers kept in a Python list are tracked by Keras but are not dependencies that
    ``tf.train.Checkpoint`` saves (their variables only reach a checkpoint through an optimizer),
    so stacks are stored as named attributes instead.
    """
    names = []
    for index, layer in enumerate(layers):
        name = f"{prefix}{index + 1}"
        setattr(model, name, layer)
        names.append(name)
    return names


class ConvEncoder(keras.Model):
    """Conv(32,s2) -> Conv(32,s2) -> Conv(64,s2) -> Conv(64,s2) -> Dense(256) -> (mean, logvar)."""

    def __init__(self, latent_dim: int, kernel_sizes: Sequence[int] = (4, 4, 2, 2), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.kernel_sizes = tuple(kernel_sizes)
        self.conv_names = add_layers(self, "conv", [
            keras.layers.Conv2D(filters, kernel, strides=2, padding="same", activation="relu", name=f"conv{i + 1}")
            for i, (filters, kernel) in enumerate(zip((32, 32, 64, 64), self.kernel_sizes))])
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(256, activation="relu", name="hidden")
        # Two separate heads, as in the reference, rather than one split Dense. They compute in float32
        # under a mixed policy (FLOAT32_HEADS): what the losses and every metric read.
        self.mean_head = keras.layers.Dense(latent_dim, dtype="float32", name="means")
        self.logvar_head = keras.layers.Dense(latent_dim, dtype="float32", name="log_var")

    def call(self, x, training=False):
        h = x
        for name in self.conv_names:
            h = getattr(self, name)(h)
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
        self.deconv_names = add_layers(self, "deconv", [
            keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation=activation,
                                         name=f"deconv{i + 1}")
            for i, (filters, activation) in enumerate(((64, "relu"), (32, "relu"), (32, "relu"), (channels, None)))])

    def call(self, z, training=False):
        h = self.reshape(self.dense2(self.dense1(z)))
        for name in self.deconv_names:
            h = getattr(self, name)(h)
        return keras.ops.cast(h, "float32")  # logits in float32 under a mixed policy (FLOAT32_HEADS)


class FCEncoder(keras.Model):
    """Flatten -> Dense(1200, relu) x2 -> (mean, logvar)."""

    def __init__(self, latent_dim: int, hidden_units: Sequence[int] = (1200, 1200), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.flatten = keras.layers.Flatten()
        self.hidden_names = add_layers(self, "dense", [
            keras.layers.Dense(units, activation="relu", name=f"dense{i + 1}") for i, units in enumerate(hidden_units)])
        self.mean_head = keras.layers.Dense(latent_dim, dtype="float32", name="means")
        self.logvar_head = keras.layers.Dense(latent_dim, dtype="float32", name="log_var")

    def call(self, x, training=False):
        h = self.flatten(x)
        for name in self.hidden_names:
            h = getattr(self, name)(h)
        return self.mean_head(h), self.logvar_head(h)


class FCDecoder(keras.Model):
    """Dense(1200, tanh) x3 -> Dense(prod(shape)) -> logits reshaped to the observation shape."""

    def __init__(self, output_shape: Tuple[int, ...], hidden_units: Sequence[int] = (1200, 1200, 1200),
                 activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        self.output_image_shape = tuple(output_shape)
        self.hidden_names = add_layers(self, "dense", [
            keras.layers.Dense(units, activation=activation, name=f"dense{i + 1}")
            for i, units in enumerate(hidden_units)])
        self.out = keras.layers.Dense(int(np.prod(output_shape)), name="logits")
        self.reshape = keras.layers.Reshape(self.output_image_shape)

    def call(self, z, training=False):
        h = z
        for name in self.hidden_names:
            h = getattr(self, name)(h)
        return keras.ops.cast(self.reshape(self.out(h)), "float32")  # FLOAT32_HEADS


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
# Registered at the end of the module: ``mlp_normal`` and ``dcgan`` (Mathieu et al. 2019).


# Networks that convolve: they need images [H, W, C] whose sides halve four times.
CONVOLUTIONAL = ("dlib_conv", "paper_conv", "dcgan")
AUTO = "auto"


def default_architecture(observation_shape: Sequence[int], likelihood: str = "bernoulli") -> str:
    """``dlib_conv`` for images [H, W, C]; for vector data (e.g. pinwheel's 2-D points) the ``mlp``, or
    ``mlp_normal`` under the ``normal``/``laplace`` likelihoods whose decoder also emits a scale."""
    if len(observation_shape) == 3:
        return "dlib_conv"
    return "mlp_normal" if likelihood in ("normal", "laplace") else "mlp"


def check_architecture(name: str, observation_shape: Sequence[int], likelihood: str = "bernoulli") -> str:
    """Resolves ``auto`` and returns the architecture's name; ValueError when it cannot take the data."""
    shape = tuple(int(s) for s in observation_shape)
    if name == AUTO:
        return default_architecture(shape, likelihood)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {AUTO}, {', '.join(sorted(ARCHITECTURES))}")
    if name in CONVOLUTIONAL and (len(shape) != 3 or shape[0] % 16 or shape[1] % 16):
        raise ValueError(f"architecture {name} needs images [H, W, C] with H and W multiples of 16, but the data's "
                         f"observations have shape {shape}; use --architecture=mlp or fc for such data "
                         f"(or auto: {default_architecture(shape, likelihood)})")
    return name


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


# --- Networks of the Decomposition paper (Mathieu et al. 2019, reference code) -------------------

def _mlp_normal(observation_shape, latent_dim):
    """``mlp`` whose decoder emits twice the observation's last axis, the mean and the raw scale of
    the ``normal`` likelihood: the pinwheel networks with a learned per-point std."""
    output_shape = tuple(observation_shape[:-1]) + (2 * observation_shape[-1],)
    return (FCEncoder(latent_dim, (100,), name="encoder"),
            FCDecoder(output_shape, (100,), activation="relu", name="decoder"))


def _dcgan_init():
    # All conv weights ~ N(0, 0.02), biases 0, as the reference initialises its DCGAN networks.
    return keras.initializers.RandomNormal(stddev=0.02)


class DCGANEncoder(keras.Model):
    """Conv(f) LReLU -> Conv(2f) BN LReLU -> Conv(4f) BN LReLU (4x4, stride 2) -> two valid convs
    over the remaining ceil(H/8) x ceil(W/8) map -> (mean, logvar). f = 32 (the reference's fBase).

    The Fashion-MNIST encoder of Mathieu et al. (2019); its std head (softplus) is a logvar head
    here, like every tfdisent encoder.
    """

    def __init__(self, latent_dim: int, observation_shape: Sequence[int], filters: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        height, width = observation_shape[0], observation_shape[1]
        self.conv_names = add_layers(self, "conv", [
            keras.layers.Conv2D(filters * m, 4, strides=2, padding="same", kernel_initializer=_dcgan_init(),
                                name=f"conv{i + 1}") for i, m in enumerate((1, 2, 4))])
        # Batch norm after the 2nd and 3rd convolutions only.
        self.norm_names = [None] + add_layers(self, "bn", [
            keras.layers.BatchNormalization(name=f"bn{i + 1}") for i in range(2)])
        head = ((height + 7) // 8, (width + 7) // 8)
        self.mean_head = keras.layers.Conv2D(latent_dim, head, padding="valid",
                                             kernel_initializer=_dcgan_init(), dtype="float32", name="means")
        self.logvar_head = keras.layers.Conv2D(latent_dim, head, padding="valid",
                                               kernel_initializer=_dcgan_init(), dtype="float32", name="log_var")
        self.flatten = keras.layers.Flatten()

    def call(self, x, training=False):
        h = x
        for conv_name, norm_name in zip(self.conv_names, self.norm_names):
            h = getattr(self, conv_name)(h)
            if norm_name is not None:
                h = getattr(self, norm_name)(h, training=training)
            h = keras.ops.leaky_relu(h, negative_slope=0.2)
        return self.flatten(self.mean_head(h)), self.flatten(self.logvar_head(h))


class DCGANDecoder(keras.Model):
    """z -> ConvT(4f, ceil(H/8) x ceil(W/8), valid) BN ReLU -> ConvT(2f) BN ReLU -> ConvT(f) BN ReLU
    -> ConvT(C) (4x4, stride 2) -> centre crop to H x W. The output is the likelihood's mean (use
    ``laplace`` as the reference) or its logits.

    The Fashion-MNIST decoder of Mathieu et al. (2019) (32x32 -> no crop; 28x28 -> 32 cropped by 2).
    """

    def __init__(self, output_shape: Tuple[int, int, int], filters: int = 32, **kwargs):
        super().__init__(**kwargs)
        height, width, channels = output_shape
        self.output_image_shape = tuple(output_shape)
        start = ((height + 7) // 8, (width + 7) // 8)
        self.reshape = keras.layers.Reshape((1, 1, -1))
        self.deconv_names = add_layers(self, "deconv", [
            keras.layers.Conv2DTranspose(filters * 4, start, padding="valid", kernel_initializer=_dcgan_init(),
                                         name="deconv1")] + [
            keras.layers.Conv2DTranspose(n, 4, strides=2, padding="same", kernel_initializer=_dcgan_init(),
                                         name=f"deconv{i + 2}")
            for i, n in enumerate((filters * 2, filters, channels))])
        self.norm_names = add_layers(self, "bn", [keras.layers.BatchNormalization(name=f"bn{i + 1}")
                                                   for i in range(3)])
        extra_h, extra_w = 8 * start[0] - height, 8 * start[1] - width
        self.crop = keras.layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2),
                                             (extra_w // 2, extra_w - extra_w // 2)))

    def call(self, z, training=False):
        h = self.reshape(z)
        for deconv_name, norm_name in zip(self.deconv_names[:-1], self.norm_names):
            h = keras.ops.relu(getattr(self, norm_name)(getattr(self, deconv_name)(h), training=training))
        return keras.ops.cast(self.crop(getattr(self, self.deconv_names[-1])(h)), "float32")  # FLOAT32_HEADS


def _dcgan(observation_shape, latent_dim):
    if len(observation_shape) != 3:
        raise ValueError(f"dcgan needs image observations [H, W, C], got {tuple(observation_shape)}")
    return (DCGANEncoder(latent_dim, observation_shape, name="encoder"),
            DCGANDecoder(tuple(observation_shape), name="decoder"))


ARCHITECTURES["mlp_normal"] = _mlp_normal
ARCHITECTURES["dcgan"] = _dcgan
