"""dSprites (procedural and official-file), its variants and the TFDS builder."""

import os
from unittest import mock

import numpy as np
import pytest

from tfdisent.data import dsprites as dsp
from tfdisent.data import dsprites_variants as variants
from tfdisent.data.ground_truth import DatasetError, factors_to_indices, indices_to_factors
from tfdisent.data.registry import load_dataset

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = pytest.mark.xdist_group("data_dsprites")

SMALL_GRID = (3, 2, 2, 4, 4)


@pytest.fixture(autouse=True)
def _never_cache_in_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDISENT_CACHE_DIR", str(tmp_path / "env_cache"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("dsprites_cache"))


@pytest.fixture(scope="module")
def dsprites(cache_dir):
    return dsp.DSprites(cache_dir=cache_dir)


def images_of(dataset, factors):
    return dataset.binary_images(factors_to_indices(np.array(factors), dsp.FACTOR_SIZES))


def centre_of_mass(image):
    rows, cols = np.nonzero(image)
    return rows.mean(), cols.mean()


def write_official_like(path, dataset, sizes=SMALL_GRID, keys=dsp.OFFICIAL_KEYS,
                        rows=None, images=None):
    """An npz in the official layout whose small grid samples the full procedural grid."""
    num = int(np.prod(sizes))
    factors = indices_to_factors(np.arange(num), sizes)
    full = np.stack([np.round(factors[:, i] * (dsp.FACTOR_SIZES[i] - 1) / max(sizes[i] - 1, 1))
                     for i in range(5)], axis=1).astype(np.int64)
    classes = np.concatenate([np.zeros((num, 1), np.int64), factors], axis=1)
    values = np.concatenate([np.ones((num, 1)), factors.astype(np.float64) / 10.0], axis=1)
    arrays = {"imgs": images_of(dataset, full) if images is None else images,
              "latents_classes": classes, "latents_values": values}
    if rows is not None:
        arrays = {"imgs": arrays["imgs"][rows], "latents_classes": classes[rows],
                  "latents_values": values[rows]}
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if k in keys})
    return arrays


# --- procedural dSprites: interface -------------------------------------------------------------

def test_interface(dsprites):
    assert dsprites.name == "dsprites"
    assert dsprites.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert dsprites.factor_sizes == (3, 6, 40, 32, 32)
    assert dsprites.num_examples == 737280
    assert dsprites.observation_shape == (64, 64, 1)
    factors, observations = dsprites.sample(50, np.random.RandomState(0))
    assert factors.shape == (50, 5) and factors.dtype == np.int64
    assert observations.shape == (50, 64, 64, 1) and observations.dtype == np.float32
    assert set(np.unique(observations)) <= {0.0, 1.0}
    assert (observations.sum(axis=(1, 2, 3)) > 0).all()
    assert dsprites.resident_bytes < 16 * 2 ** 20


def test_reproducible_with_random_state(dsprites):
    first = dsprites.sample(20, np.random.RandomState(7))
    second = dsprites.sample(20, np.random.RandomState(7))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_bad_factors_raise(dsprites):
    with pytest.raises(DatasetError, match="pos_x"):
        dsprites.sample_observations_from_factors(np.array([[0, 0, 0, 32, 0]]),
                                                  np.random.RandomState(0))
    with pytest.raises(DatasetError):
        dsprites.sample_observations_from_factors(np.zeros((2, 4), np.int64),
                                                  np.random.RandomState(0))


def test_crop_renderer_is_bit_identical_to_direct_rendering(dsprites):
    factors = dsprites.sample_factors(150, np.random.RandomState(1))
    extremes = np.array([[s, 5, 5, x, y] for s in range(3) for x in (0, 31) for y in (0, 31)])
    factors = np.concatenate([factors, extremes])
    images = images_of(dsprites, factors)
    for factor, image in zip(factors, images):
        np.testing.assert_array_equal(image, dsp.render_image_direct(factor))


def test_official_order_pos_y_fastest(dsprites):
    images = dsprites.binary_images(np.arange(3))
    np.testing.assert_array_equal(images[1], images_of(dsprites, [[0, 0, 0, 0, 1]])[0])
    np.testing.assert_array_equal(images[2], images_of(dsprites, [[0, 0, 0, 0, 2]])[0])
    last = dsprites.binary_images([737279])[0]
    np.testing.assert_array_equal(last, images_of(dsprites, [[2, 5, 39, 31, 31]])[0])


# --- procedural dSprites: each factor does exactly what it says -----------------------------------

def test_position_moves_centre_of_mass_by_one_pixel(dsprites):
    for shape, scale, angle in ((0, 2, 3), (1, 5, 11), (2, 4, 27)):
        along_x = images_of(dsprites, [[shape, scale, angle, x, 9] for x in range(32)])
        along_y = images_of(dsprites, [[shape, scale, angle, 9, y] for y in range(32)])
        x_centres = np.array([centre_of_mass(image) for image in along_x])
        y_centres = np.array([centre_of_mass(image) for image in along_y])
        np.testing.assert_allclose(np.diff(x_centres[:, 1]), 1.0)  # moves right
        np.testing.assert_allclose(np.diff(x_centres[:, 0]), 0.0)
        np.testing.assert_allclose(np.diff(y_centres[:, 0]), 1.0)  # moves down
        np.testing.assert_allclose(np.diff(y_centres[:, 1]), 0.0)
        assert len({int(image.sum()) for image in along_x}) == 1  # pure translation


def test_sprite_never_clipped_and_centred_range(dsprites):
    bank = dsp.render_patch_bank().reshape(720, dsp.PATCH_SIZE, dsp.PATCH_SIZE)
    areas = bank.sum(axis=(1, 2))
    head = indices_to_factors(np.arange(720), (3, 6, 40))
    for x, y in ((0, 0), (31, 31), (0, 31), (31, 0)):
        factors = np.concatenate([head, np.tile([[x, y]], (720, 1))], axis=1)
        np.testing.assert_array_equal(images_of(dsprites, factors).sum(axis=(1, 2)), areas)
    corner = images_of(dsprites, [[0, 5, 0, 0, 0], [0, 5, 0, 31, 31]])
    np.testing.assert_allclose(centre_of_mass(corner[0]), (16.0, 16.0))
    np.testing.assert_allclose(centre_of_mass(corner[1]), (47.0, 47.0))
    # Calibrated to the official images' mean pixel value (0.043).
    assert 0.040 < areas.mean() / 64 ** 2 < 0.046


def test_scale_increases_area(dsprites):
    for shape in range(3):
        for angle in (0, 7):
            areas = images_of(dsprites, [[shape, s, angle, 16, 16] for s in range(6)]).sum((1, 2))
            assert (np.diff(areas) > 0).all(), (shape, angle, areas)


def test_orientation_and_shape_change_the_image(dsprites):
    def image(*factors):
        return images_of(dsprites, [factors])[0]

    assert not np.array_equal(image(2, 5, 0, 16, 16), image(2, 5, 20, 16, 16))  # heart, 180 deg
    assert not np.array_equal(image(1, 5, 0, 16, 16), image(1, 5, 10, 16, 16))  # ellipse, 90 deg
    assert not np.array_equal(image(0, 5, 0, 16, 16), image(0, 5, 5, 16, 16))  # square, 45 deg
    np.testing.assert_array_equal(image(0, 5, 0, 16, 16), image(0, 5, 10, 16, 16))  # symmetry
    heart_up = image(2, 5, 0, 16, 16)
    assert heart_up[:33].sum() > heart_up[33:].sum()  # lobes on top at orientation 0
    shapes = [image(s, 4, 3, 16, 16) for s in range(3)]
    assert len({image.tobytes() for image in shapes}) == 3


# --- tf_batch_fn --------------------------------------------------------------------------------

def test_tf_batch_fn_matches_numpy(dsprites):
    import tensorflow as tf

    fn = dsprites.tf_batch_fn()
    values = np.array([-(2 ** 62) - 5, -1, 0, 1, 737279, 737280, 2 ** 62 + 12345], np.int64)
    batch = fn(tf.constant(values)).numpy()
    assert batch.shape == (7, 64, 64, 1) and batch.dtype == np.float32
    factors = indices_to_factors(np.mod(values, 737280), dsprites.factor_sizes)
    expected = dsprites.sample_observations_from_factors(factors, np.random.RandomState(0))
    np.testing.assert_array_equal(batch, expected)

    def pipeline():
        dataset = tf.data.Dataset.random(seed=3).batch(16).map(lambda v: (v, fn(v)))
        return [(v.numpy(), b.numpy()) for v, b in dataset.take(2)]

    first, second = pipeline(), pipeline()
    for (values, batch), (_, again) in zip(first, second):
        np.testing.assert_array_equal(batch, again)
        factors = indices_to_factors(np.mod(values, 737280), dsprites.factor_sizes)
        np.testing.assert_array_equal(
            batch, dsprites.sample_observations_from_factors(factors, np.random.RandomState(0)))


# --- nuisance factors ----------------------------------------------------------------------------

def test_latent_factor_indices_make_nuisance_factors(cache_dir):
    noshape = load_dataset("dsprites", cache_dir=cache_dir, latent_factor_indices=[1, 2, 3, 4])
    assert noshape.factor_names == ("scale", "orientation", "pos_x", "pos_y")
    assert noshape.factor_sizes == (6, 40, 32, 32)
    assert noshape.num_examples == 737280
    factors = np.tile([[5, 3, 10, 20]], (60, 1))
    images = noshape.sample_observations_from_factors(factors, np.random.RandomState(0))
    distinct = {image.tobytes() for image in images}
    assert len(distinct) == 3  # exactly the three shapes, everything else fixed
    rows = np.nonzero(images.sum(axis=(0, 2, 3)))[0]
    assert rows.min() >= 20 + 16 - 15 and rows.max() <= 20 + 16 + 15
    with pytest.raises(DatasetError, match="latent_factor_indices"):
        dsp.DSprites(cache_dir=cache_dir, latent_factor_indices=[1, 1])


# --- on-disk cache -------------------------------------------------------------------------------

def test_cache_is_written_reused_and_rebuilt_when_corrupt(tmp_path):
    cache = str(tmp_path / "cache")
    path = dsp.patch_bank_cache_path(cache)
    first = dsp.DSprites(cache_dir=cache)
    assert os.path.isfile(path) and dsp.RENDERER_VERSION in os.path.basename(path)
    assert not [name for name in os.listdir(cache) if name.startswith(".tmp")]
    with mock.patch.object(dsp, "render_patch_bank", side_effect=AssertionError("re-rendered")):
        second = dsp.DSprites(cache_dir=cache)  # warm: loads, never renders
    np.testing.assert_array_equal(first.binary_images(np.arange(0, 737280, 4099)),
                                  second.binary_images(np.arange(0, 737280, 4099)))
    for corruption in (b"not a numpy file", None):
        if corruption is None:  # right shape and dtype, wrong pixels
            np.save(path, np.zeros_like(dsp.render_patch_bank()))
        else:
            with open(path, "wb") as handle:
                handle.write(corruption)
        rebuilt = dsp.DSprites(cache_dir=cache)
        np.testing.assert_array_equal(rebuilt.binary_images([5000]), first.binary_images([5000]))
        np.testing.assert_array_equal(np.load(path), dsp.render_patch_bank())


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDISENT_CACHE_DIR", str(tmp_path / "from_env"))
    dsp.DSprites()
    assert os.path.isfile(dsp.patch_bank_cache_path(None))
    assert dsp.patch_bank_cache_path(None).startswith(str(tmp_path / "from_env"))


# --- official file -------------------------------------------------------------------------------

def test_official_layout_small_grid(tmp_path, dsprites):
    arrays = write_official_like(tmp_path / dsp.OFFICIAL_FILENAME, dsprites)
    with mock.patch.object(dsp.logging, "warning") as warning:
        official = dsp.DSprites(data_dir=str(tmp_path))
    assert warning.called and "3x2x2x4x4" in warning.call_args[0][2]
    assert official.factor_sizes == SMALL_GRID and official.num_examples == 192
    assert official.resident_bytes == 192 * 512
    np.testing.assert_allclose(official.factor_values[4], [0.0, 0.1, 0.2, 0.3])
    factors = official.sample_factors(40, np.random.RandomState(0))
    observations = official.sample_observations_from_factors(factors, np.random.RandomState(0))
    expected = arrays["imgs"][factors_to_indices(factors, SMALL_GRID)]
    np.testing.assert_array_equal(observations[..., 0], expected)

    import tensorflow as tf
    values = np.arange(-5, 400, 7, dtype=np.int64)
    batch = official.tf_batch_fn()(tf.constant(values)).numpy()
    np.testing.assert_array_equal(batch[..., 0], arrays["imgs"][np.mod(values, 192)])
    # The packed copy is shared with TF now; numpy sampling must still agree.
    np.testing.assert_array_equal(
        official.sample_observations_from_factors(factors, np.random.RandomState(0))[..., 0],
        expected)
    # First use inside tf.data (the TF tensor is then created mid-trace).
    fresh = dsp.DSprites(data_dir=str(tmp_path))
    (batch,) = tf.data.Dataset.from_tensors(values).map(fresh.tf_batch_fn())
    np.testing.assert_array_equal(batch.numpy()[..., 0], arrays["imgs"][np.mod(values, 192)])


def official_error(data_dir):
    with pytest.raises(DatasetError) as caught:
        dsp.DSprites(data_dir=str(data_dir))
    message = str(caught.value)
    assert dsp.OFFICIAL_FILENAME in message and dsp.OFFICIAL_URL in message
    assert "\n" not in message
    return message


def test_official_file_errors(tmp_path, dsprites):
    path = tmp_path / dsp.OFFICIAL_FILENAME
    assert "not found" in official_error(tmp_path)

    write_official_like(path, dsprites)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in official_error(tmp_path)
    path.write_bytes(b"garbage" * 100)
    assert "corrupt" in official_error(tmp_path)

    write_official_like(path, dsprites, keys=("imgs", "latents_values"))
    assert "latents_classes" in official_error(tmp_path)

    write_official_like(path, dsprites, rows=np.arange(191))
    assert "complete" in official_error(tmp_path)
    swapped = np.arange(192)
    swapped[[3, 4]] = swapped[[4, 3]]
    write_official_like(path, dsprites, rows=swapped)
    assert "complete" in official_error(tmp_path)

    write_official_like(path, dsprites, images=np.full((192, 64, 64), 255, np.uint8))
    assert "binary" in official_error(tmp_path)
    write_official_like(path, dsprites, images=np.zeros((192, 32, 32), np.uint8))
    assert "shape" in official_error(tmp_path)


# --- variants ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def all_variants(cache_dir):
    return {name: load_dataset(name, cache_dir=cache_dir)
            for name in ("color_dsprites", "noisy_dsprites", "scream_dsprites")}


def sample_with_masks(dataset, dsprites, num=40):
    factors = dataset.sample_factors(num, np.random.RandomState(5))
    observations = dataset.sample_observations_from_factors(factors, np.random.RandomState(6))
    masks = images_of(dsprites, factors)[..., None].astype(bool)
    assert observations.shape == (num, 64, 64, 3) and observations.dtype == np.float32
    assert dataset.observation_shape == observations.shape[1:]  # what models are built from
    assert observations.min() >= 0.0 and observations.max() <= 1.0
    assert dataset.factor_sizes == dsprites.factor_sizes
    return observations, np.broadcast_to(masks, observations.shape)


def test_color_dsprites(all_variants, dsprites):
    observations, masks = sample_with_masks(all_variants["color_dsprites"], dsprites)
    assert (observations[~masks] == 0).all()
    for image, mask in zip(observations, masks):
        colours = image[mask[..., 0]]
        assert (colours >= 0.5).all() and (colours <= 1.0).all()
        assert (colours == colours[0]).all()  # one colour per image
    assert len({tuple(image[mask[..., 0]][0]) for image, mask in zip(observations, masks)}) > 1


def test_noisy_dsprites(all_variants, dsprites):
    observations, masks = sample_with_masks(all_variants["noisy_dsprites"], dsprites)
    assert (observations[masks] == 1.0).all()
    background = observations[~masks]
    assert abs(background.mean() - 0.5) < 0.01 and background.std() > 0.25


def test_scream_dsprites_inverts_the_sprite(all_variants, dsprites):
    scream = all_variants["scream_dsprites"]
    assert scream.scream_source == "procedural"
    assert scream.scream.shape == (274, 350, 3)
    sample_with_masks(scream, dsprites)
    with mock.patch.object(scream, "scream", np.full((274, 350, 3), 0.2, np.float32)):
        observations, masks = sample_with_masks(scream, dsprites)
    for image, mask in zip(observations, masks):
        background = image[~mask[..., 0]]
        assert np.allclose(background, background[0])  # (0.2 + tint) / 2, one tint per image
        assert 0.1 <= background[0].min() and background[0].max() <= 0.6
        sprite = image[mask[..., 0]]
        np.testing.assert_allclose(sprite, np.broadcast_to(1.0 - background[0], sprite.shape),
                                   atol=1e-6)


def test_scream_image_from_data_dir(tmp_path, dsprites):
    from PIL import Image

    write_official_like(tmp_path / dsp.OFFICIAL_FILENAME, dsprites)
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (400, 500, 3), np.uint8)).save(
        tmp_path / "scream.jpg")
    with mock.patch.object(variants.logging, "info") as info:
        scream = variants.ScreamDSprites(data_dir=str(tmp_path))
    assert scream.scream.shape == (274, 342, 3)  # thumbnail((350, 274)) keeps the aspect ratio
    assert "scream.jpg" in str(info.call_args)
    assert scream.factor_sizes == SMALL_GRID
    observations = scream.sample_observations(8, np.random.RandomState(0))
    assert observations.shape == (8, 64, 64, 3)


def test_variant_tf_batch_fns(all_variants, dsprites):
    import tensorflow as tf

    values = tf.constant(np.random.RandomState(2).randint(-2 ** 62, 2 ** 62, 32, dtype=np.int64))
    masks = dsprites.tf_batch_fn()(values).numpy().astype(bool)
    masks = np.broadcast_to(masks, (32, 64, 64, 3))
    for name, dataset in all_variants.items():
        fn = dataset.tf_batch_fn()
        batch = fn(values).numpy()
        assert batch.shape == (32, 64, 64, 3) and batch.dtype == np.float32, name
        assert batch.shape[1:] == dataset.observation_shape, name
        assert batch.min() >= 0.0 and batch.max() <= 1.0, name
        np.testing.assert_array_equal(batch, fn(values).numpy())  # deterministic
        assert not np.array_equal(batch, fn(values + 1).numpy()), name
        if name == "color_dsprites":
            assert ((batch > 0) == masks).all()
            assert batch[masks].min() >= 0.5
        elif name == "noisy_dsprites":
            assert (batch[masks] == 1.0).all() and batch[~masks].std() > 0.25
        dataset_batches = tf.data.Dataset.random(seed=1).batch(8).map(fn).take(2)
        assert [b.shape for b in dataset_batches] == [(8, 64, 64, 3)] * 2


def test_tf_pipeline_iterator_is_checkpointable(tmp_path, dsprites, all_variants):
    import tensorflow as tf

    for dataset in (dsprites, all_variants["scream_dsprites"]):
        iterator = iter(tf.data.Dataset.random(seed=4).batch(4).map(dataset.tf_batch_fn()))
        next(iterator)
        checkpoint = tf.train.Checkpoint(iterator=iterator)
        path = checkpoint.save(str(tmp_path / dataset.name / "ckpt"))
        expected = next(iterator).numpy()
        checkpoint.restore(path)
        np.testing.assert_array_equal(next(iterator).numpy(), expected)


# --- TFDS builder --------------------------------------------------------------------------------

def test_tfds_tiny_build_and_load(tmp_path, dsprites):
    import tensorflow_datasets as tfds

    from tfdisent.data import tfds_builders

    data_dir = str(tmp_path / "tfds")
    tfds.builder("dsprites_procedural/tiny", data_dir=data_dir).download_and_prepare()
    examples = list(tfds.as_numpy(tfds.load("dsprites_procedural/tiny", split="train",
                                            data_dir=data_dir)))
    assert len(examples) == 384
    grid = tfds_builders.TINY_GRID
    seen = set()
    for example in examples:
        classes = [int(example[key]) for key in tfds_builders.LABEL_KEYS]
        seen.add(tuple(classes))
        assert example["image"].shape == (64, 64, 1) and example["image"].dtype == np.uint8
        full = [grid[i][c] for i, c in enumerate(classes)]
        np.testing.assert_array_equal(example["image"][..., 0], images_of(dsprites, [full])[0])
    assert len(seen) == 384
