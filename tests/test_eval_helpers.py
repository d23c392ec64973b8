"""One helper per job: latest export, batched encoding, Gaussian KL, image helpers (issue 9)."""

import os

import numpy as np
import pytest

from tfdisent.evaluation.encoding import encode_in_batches
from tfdisent.export import ExportNotFoundError, latest_export
from tfdisent.metrics.utils import gaussian_kl_per_dimension


def _fake_version(base, version, pbtxt=False):
    path = os.path.join(base, str(version))
    os.makedirs(path)
    open(os.path.join(path, "saved_model.pbtxt" if pbtxt else "saved_model.pb"), "w").close()
    return path


def test_latest_export_of_run_dir_and_export_base(tmp_path):
    run = tmp_path / "run"
    base = run / "export"
    _fake_version(str(base), 3)
    newest = _fake_version(str(base), 12, pbtxt=True)
    os.makedirs(base / "99")                 # no saved_model: not a version
    os.makedirs(base / "temp-17")            # not an integer
    assert latest_export(str(run)) == os.path.abspath(newest)
    assert latest_export(str(base)) == os.path.abspath(newest)


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "does not exist"),
    (lambda p: os.makedirs(p / "export"), "holds no SavedModel version"),
    (lambda p: os.makedirs(p), "is not a SavedModel"),
    (lambda p: p.write_text("x"), "is not a directory"),
])
def test_latest_export_errors_are_one_clear_line(tmp_path, setup, message):
    path = tmp_path / "m"
    setup(path)
    with pytest.raises(ExportNotFoundError, match=message) as info:
        latest_export(str(path))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_encode_in_batches_tuple_and_mapping_outputs():
    calls = []

    def encoder(batch):
        calls.append(batch.shape[0])
        assert batch.dtype == np.float32
        flat = batch.reshape(len(batch), -1)
        return flat[:, :2] * 2.0, flat[:, :2] - 1.0

    observations = np.arange(10 * 3, dtype=np.uint8).reshape(10, 3)
    mean, logvar = encode_in_batches(encoder, observations, batch_size=4)
    assert calls == [4, 4, 2]
    np.testing.assert_array_equal(mean, observations[:, :2].astype(np.float32) * 2)
    np.testing.assert_array_equal(logvar, observations[:, :2].astype(np.float32) - 1)
    as_dict = encode_in_batches(lambda b: {"mean": b[:, :2], "logvar": b[:, 1:]}, observations, 3)
    np.testing.assert_array_equal(as_dict[1], observations[:, 1:])
    raw = encode_in_batches(lambda b: (b.astype(np.int64)[:, :1], b.astype(np.int64)[:, :1]), observations,
                            5, dtype=None)
    assert raw[0].dtype == np.int64


def test_encode_in_batches_checks_shapes_and_batch_size():
    with pytest.raises(ValueError, match="for 4 observations"):
        encode_in_batches(lambda b: (b[:1], b[:1]), np.zeros((4, 2)), 4)
    with pytest.raises(ValueError, match=">= 1"):
        encode_in_batches(lambda b: (b, b), np.zeros((4, 2)), 0)


def test_numpy_and_tensorflow_kl_agree():
    from tfdisent.models.distributions import kl_divergence_per_dim
    from tfdisent.visualize.kl import kl_per_dimension

    rs = np.random.RandomState(0)
    mean, logvar = rs.normal(size=(50, 4)), rs.normal(size=(50, 4))
    expected = np.mean(kl_divergence_per_dim(mean.astype(np.float32), logvar.astype(np.float32)).numpy(), 0)
    np.testing.assert_allclose(gaussian_kl_per_dimension(mean, logvar), expected, rtol=1e-5)
    # KL(N(1, 1) || N(0, 1)) = 0.5; the picture API is the same function.
    assert gaussian_kl_per_dimension(np.ones((3, 1)), np.zeros((3, 1)))[0] == pytest.approx(0.5)
    assert kl_per_dimension is gaussian_kl_per_dimension


def test_add_layers_is_public():
    from tfdisent.models import architectures, discriminator
    assert discriminator.add_layers is architectures.add_layers
