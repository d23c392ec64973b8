"""Networks: shapes, parameter counts of the reference architectures, checkpoint tracking."""

import numpy as np
import pytest
import tensorflow as tf

from tfdisent.models import ARCHITECTURES, FactorDiscriminator, build_architecture


def _shape_for(name):
    return (2,) if name in ("mlp",) else (64, 64, 1)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architectures_map_shapes(name):
    shape = _shape_for(name)
    encoder, decoder = build_architecture(name, shape, 7)
    mean, logvar = encoder(np.zeros((3,) + shape, np.float32))
    assert mean.shape == (3, 7) and logvar.shape == (3, 7)
    out = decoder(np.zeros((3, 7), np.float32))
    assert out.shape[0] == 3 and out.shape[1:1 + len(shape) - 1] == shape[:-1]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_variable_is_saved_by_tf_train_checkpoint(name, tmp_path):
    """Keras 3 layers in Python lists escape tf.train.Checkpoint; every variable must round-trip."""
    shape = _shape_for(name)
    encoder, decoder = build_architecture(name, shape, 4)
    for v in encoder.variables + decoder.variables:
        v.assign(tf.fill(v.shape, 0.5))
    tf.train.Checkpoint(encoder=encoder, decoder=decoder).write(str(tmp_path / "ckpt"))
    fresh_encoder, fresh_decoder = build_architecture(name, shape, 4)
    tf.train.Checkpoint(encoder=fresh_encoder, decoder=fresh_decoder).restore(str(tmp_path / "ckpt"))
    for v in fresh_encoder.variables + fresh_decoder.variables:
        np.testing.assert_array_equal(v.numpy(), np.full(v.shape, 0.5, np.float32), err_msg=v.path)


def test_discriminator_variables_are_checkpointed(tmp_path):
    disc = FactorDiscriminator()
    disc(tf.zeros((1, 10)))
    assert len(disc.trainable_variables) == 14  # 6 hidden + output, kernel and bias each
    for v in disc.variables:
        v.assign(tf.fill(v.shape, 0.25))
    tf.train.Checkpoint(d=disc).write(str(tmp_path / "ckpt"))
    fresh = FactorDiscriminator()
    fresh(tf.zeros((1, 10)))
    tf.train.Checkpoint(d=fresh).restore(str(tmp_path / "ckpt"))
    assert all(np.all(v.numpy() == 0.25) for v in fresh.variables)


def test_reference_conv_architecture_layout():
    """dlib_conv uses 2x2 kernels in conv3/4 (disentanglement_lib's code), paper_conv 4x4 throughout."""
    dlib_encoder, decoder = build_architecture("dlib_conv", (64, 64, 1), 10)
    paper_encoder, _ = build_architecture("paper_conv", (64, 64, 1), 10)
    assert [dlib_encoder.conv3.kernel.shape[0], dlib_encoder.conv4.kernel.shape[0]] == [2, 2]
    assert [paper_encoder.conv3.kernel.shape[0], paper_encoder.conv4.kernel.shape[0]] == [4, 4]
    # Conv(32,32,64,64) + Dense(256) + two heads of 10; with 2x2 kernels in conv3/4.
    expected = (16 * 32 + 32) + (16 * 32 * 32 + 32) + (4 * 32 * 64 + 64) + (4 * 64 * 64 + 64) \
        + (1024 * 256 + 256) + 2 * (256 * 10 + 10)
    assert dlib_encoder.count_params() == expected
    assert decoder(np.zeros((1, 10), np.float32)).shape == (1, 64, 64, 1)
    with pytest.raises(ValueError, match="divisible by 16"):
        build_architecture("dlib_conv", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_architecture("nope", (64, 64, 1), 10)
