"""dSprites: 2D shapes under five independent factors (Higgins et al. 2017, "beta-VAE").

The default dataset is rendered procedurally, so nothing is downloaded: three shapes (square,
ellipse, heart), 6 scales in linspace(0.5, 1, 6), 40 orientations in [0, 2*pi), 32 x and 32 y
positions, giving 737,280 binary 64x64 images in the official order (shape-major, pos_y fastest).
It is the ``dsprites_full`` / ``dsprites_noshape`` dataset of disentanglement_lib (Locatello et al.
2019) when ``latent_factor_indices`` is left out or set to ``[1, 2, 3, 4]``.

Rendering by cropping. A sprite's pixels depend only on (shape, scale, orientation) and on the
pixel offset from the sprite centre, and positions move the centre by whole pixels. So we render
one 95x95 patch per (shape, scale, orientation), 720 patches, 6.5 MB, with an exact per-pixel
implicit-shape test, and every image is the 64x64 window of its patch at an integer offset. This
is bit-identical to rendering each image directly (:func:`render_image_direct`, tested) and makes
the whole set enumerable in seconds without ever holding the 3 GB uint8 array. The patch bank is
cached on disk keyed by :data:`RENDERER_VERSION`.

Geometry, chosen to look like the official file: the sprite centre moves over the central half
of the frame in 1 px steps (centres 16.5 ... 47.5 px; the official README says the steps are the
smallest that keep every image distinct); the sprite size (square side 20.6 px at scale 1) is
calibrated so that the mean pixel value over the set is ~0.043, the published mean of the
official images. Known difference: the official orientations are linspace(0, 2*pi, 40) *with*
the endpoint, so orientation 39 duplicates orientation 0 (deepmind/dsprites-dataset#7); ours
exclude it.

The official file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` is used instead when
``data_dir`` is given. Its images are streamed out of the zip and bit-packed (377 MB instead of
3 GB); a smaller file with the same keys and a reduced but complete grid is accepted too.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from tfdisent.errors import one_line
from tfdisent.files import atomic_path
from tfdisent.data.ground_truth import DatasetError, GroundTruthData, factors_to_indices

# Bump whenever the pixels change, so stale caches are never reused.
RENDERER_VERSION = "dsprites-crop-v1"

OFFICIAL_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
OFFICIAL_URL = "https://github.com/deepmind/dsprites-dataset"
OFFICIAL_KEYS = ("imgs", "latents_classes", "latents_values")

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64

# Square side at scale 1, in pixels; see the module docstring for the calibration.
SPRITE_SIZE_PX = 20.6
# Continuous pixel coordinate of the sprite centre at position index 0 (pixel k spans [k, k+1)).
FIRST_CENTRE_PX = 16.5
NUM_POSITIONS = FACTOR_SIZES[3]
PATCH_SIZE = IMAGE_SIZE + NUM_POSITIONS - 1
# Patch pixel that holds the sprite centre: the window for position 0 starts at NUM_POSITIONS-1.
_PATCH_CENTRE = NUM_POSITIONS - 1 + int(FIRST_CENTRE_PX)

# Bounding box of the implicit heart (x^2+y^2-1)^3 - x^2 y^3 <= 0: x in +-1.1385, y in [-1, 1.236].
_HEART_WIDTH = 2.277
_HEART_CENTRE_Y = 0.118


def scale_values() -> np.ndarray:
    return np.linspace(0.5, 1.0, FACTOR_SIZES[1])


def orientation_values() -> np.ndarray:
    """Radians in [0, 2*pi), endpoint excluded (unlike the official file)."""
    return np.linspace(0.0, 2.0 * np.pi, FACTOR_SIZES[2], endpoint=False)


def position_values() -> np.ndarray:
    """Positions in [0, 1] as in the official ``latents_values``."""
    return np.linspace(0.0, 1.0, NUM_POSITIONS)


def _inside_sprite(shape: int, scale: float, angle: float, dx: np.ndarray,
                   dy: np.ndarray) -> np.ndarray:
    """Whether pixel centres at offsets (dx right, dy down, in px) from the sprite centre are
    covered by the sprite. The one place that defines the pixels: patches and direct renders
    both call it on identical float inputs, so they agree bit for bit."""
    size = SPRITE_SIZE_PX * scale
    up = -dy  # shapes are defined with y up, so orientation turns counter-clockwise on screen
    cos, sin = np.cos(angle), np.sin(angle)
    x = (cos * dx + sin * up) / size
    y = (-sin * dx + cos * up) / size
    if shape == 0:
        return np.maximum(np.abs(x), np.abs(y)) <= 0.5
    if shape == 1:  # 2:1 ellipse, as wide as the square
        return 4.0 * x * x + 16.0 * y * y <= 1.0
    if shape == 2:
        hx = x * _HEART_WIDTH
        hy = y * _HEART_WIDTH + _HEART_CENTRE_Y
        r = hx * hx + hy * hy - 1.0
        return r * r * r - hx * hx * hy * hy * hy <= 0.0
    raise ValueError(f"unknown shape index {shape}")


def render_patch_bank() -> np.ndarray:
    """All 720 sprite patches: uint8 [3, 6, 40, PATCH_SIZE, PATCH_SIZE] in {0, 1}."""
    offsets = np.arange(PATCH_SIZE, dtype=np.float64) - _PATCH_CENTRE
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    bank = np.zeros(FACTOR_SIZES[:3] + (PATCH_SIZE, PATCH_SIZE), dtype=np.uint8)
    for shape in range(FACTOR_SIZES[0]):
        for scale_index, scale in enumerate(scale_values()):
            for angle_index, angle in enumerate(orientation_values()):
                bank[shape, scale_index, angle_index] = _inside_sprite(shape, scale, angle, dx, dy)
    return bank


def render_image_direct(factors: Sequence[int]) -> np.ndarray:
    """One image rendered straight into the 64x64 frame (uint8 [64, 64]); the reference the
    crop renderer is tested against."""
    shape, scale_index, angle_index, pos_x, pos_y = (int(f) for f in factors)
    pixel_centres = np.arange(IMAGE_SIZE, dtype=np.float64) + 0.5
    dx = pixel_centres[None, :] - (FIRST_CENTRE_PX + pos_x)
    dy = pixel_centres[:, None] - (FIRST_CENTRE_PX + pos_y)
    dx, dy = np.broadcast_arrays(dx, dy)
    return _inside_sprite(shape, scale_values()[scale_index],
                          orientation_values()[angle_index], dx, dy).astype(np.uint8)


def resolve_cache_dir(cache_dir: Optional[str] = None) -> str:
    """``cache_dir``, else ``$TFDISENT_CACHE_DIR``, else ``~/.cache/tfdisent``."""
    return (cache_dir or os.environ.get("TFDISENT_CACHE_DIR")
            or os.path.join(os.path.expanduser("~"), ".cache", "tfdisent"))


def save_npy_atomically(path: str, array: np.ndarray) -> None:
    """Writes via a temp file in the same directory and os.replace, so a reader (or a concurrent
    writer) never sees a half-written cache file."""
    with atomic_path(path, suffix=".npy") as temporary:
        np.save(temporary, array)


def patch_bank_cache_path(cache_dir: Optional[str] = None) -> str:
    return os.path.join(resolve_cache_dir(cache_dir), f"{RENDERER_VERSION}_patches.npy")


def _bank_looks_valid(bank: np.ndarray) -> bool:
    if bank.shape != FACTOR_SIZES[:3] + (PATCH_SIZE, PATCH_SIZE) or bank.dtype != np.uint8:
        return False
    if bank.max(initial=0) > 1:
        return False
    # A file of the right shape can still hold wrong pixels (bit rot, an edited renderer that
    # forgot to bump the version); re-rendering a few patches is cheap and catches that.
    for shape, scale_index, angle_index in ((0, 0, 0), (1, 3, 7), (2, 5, 33)):
        offsets = np.arange(PATCH_SIZE, dtype=np.float64) - _PATCH_CENTRE
        dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
        expected = _inside_sprite(shape, scale_values()[scale_index],
                                  orientation_values()[angle_index], dx, dy)
        if not np.array_equal(bank[shape, scale_index, angle_index], expected):
            return False
    return True


def load_or_render_patch_bank(cache_dir: Optional[str] = None) -> np.ndarray:
    """The patch bank from the on-disk cache, rendering (and caching) it when missing or bad."""
    path = patch_bank_cache_path(cache_dir)
    if os.path.exists(path):
        try:
            bank = np.load(path, allow_pickle=False)
            if _bank_looks_valid(bank):
                return bank
            logging.warning("dsprites: cached patch bank %s is invalid; re-rendering", path)
        except (OSError, ValueError, EOFError) as error:
            logging.warning("dsprites: cannot read cached patch bank %s (%s); re-rendering",
                            path, error)
    bank = render_patch_bank()
    try:
        save_npy_atomically(path, bank)
    except OSError as error:  # a read-only cache dir costs a re-render next time, not a crash
        logging.warning("dsprites: cannot write cache %s (%s)", path, error)
    return bank


def _unpack_bits_tf(packed_rows):
    """uint8 [..., W/8] -> uint8 [..., W] in {0, 1}, most significant bit first (np.packbits)."""
    import tensorflow as tf  # noqa: PLC0415 (lazy: numpy users never pay for TF)

    bit_weights = tf.constant([128, 64, 32, 16, 8, 4, 2, 1], dtype=tf.uint8)
    bits = tf.bitwise.bitwise_and(packed_rows[..., None], bit_weights)
    bits = tf.cast(bits > 0, tf.uint8)
    return tf.reshape(bits, tf.concat([tf.shape(packed_rows)[:-1], [-1]], axis=0))


class _PatchBankImages:
    """Procedural images as windows of the patch bank (full official grid only)."""

    def __init__(self, bank: np.ndarray):
        self.bank = np.ascontiguousarray(bank.reshape((-1, PATCH_SIZE, PATCH_SIZE)))
        # A zero-copy [720, 32, 32, 64, 64] view of every window; indexing it copies whole
        # images, 36x faster than per-pixel fancy indexing (0.5 vs 20 us/img).
        self._windows = np.lib.stride_tricks.sliding_window_view(
            self.bank, (IMAGE_SIZE, IMAGE_SIZE), axis=(1, 2))
        self._tf_bank = None

    @property
    def nbytes(self) -> int:
        return self.bank.nbytes

    def images(self, indices: np.ndarray) -> np.ndarray:
        patch = indices // (NUM_POSITIONS * NUM_POSITIONS)
        pos_x = (indices // NUM_POSITIONS) % NUM_POSITIONS
        pos_y = indices % NUM_POSITIONS
        # The window starting NUM_POSITIONS-1-k pixels in puts the sprite centre k px further on.
        return self._windows[patch, NUM_POSITIONS - 1 - pos_y, NUM_POSITIONS - 1 - pos_x]

    def tf_images(self, indices):
        import tensorflow as tf  # noqa: PLC0415

        if self._tf_bank is None:
            with tf.init_scope():  # eager even mid-trace: captured by reference, not embedded
                self._tf_bank = tf.constant(self.bank)
        positions = NUM_POSITIONS * NUM_POSITIONS
        patches = tf.gather(self._tf_bank, indices // positions)
        window = tf.range(IMAGE_SIZE, dtype=tf.int64)
        rows = (NUM_POSITIONS - 1 - indices % NUM_POSITIONS)[:, None] + window
        cols = (NUM_POSITIONS - 1 - (indices // NUM_POSITIONS) % NUM_POSITIONS)[:, None] + window
        patches = tf.gather(patches, rows, axis=1, batch_dims=1)
        return tf.gather(patches, cols, axis=2, batch_dims=1)


class _DLPackExporter:
    """Lets ``np.from_dlpack`` take a zero-copy, read-only view of an eager CPU tensor."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __dlpack__(self, **unused_kwargs):
        import tensorflow as tf  # noqa: PLC0415

        return tf.experimental.dlpack.to_dlpack(self.tensor)

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


def _numpy_view_of(tensor, fallback: np.ndarray) -> np.ndarray:
    try:
        view = np.from_dlpack(_DLPackExporter(tensor))
    except (TypeError, ValueError, RuntimeError, BufferError, AttributeError) as error:
        logging.info("dsprites: no zero-copy view of the TF tensor (%s); keeping two copies",
                     error)
        return fallback
    return view if view.shape == fallback.shape and view.dtype == fallback.dtype else fallback


def _aligned_empty(shape: Tuple[int, ...], alignment: int = 64) -> np.ndarray:
    """uint8 array starting on an ``alignment``-byte boundary, which lets TF copy it once
    rather than twice in tf.constant."""
    size = int(np.prod(shape))
    buffer = np.empty(size + alignment, dtype=np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start:start + size].reshape(shape)


class _PackedImages:
    """Images of a file, bit-packed along each pixel row: 512 bytes per 64x64 image."""

    def __init__(self, packed: np.ndarray):
        self.packed = packed
        self._tf_packed = None

    @property
    def nbytes(self) -> int:
        return self.packed.nbytes

    def images(self, indices: np.ndarray) -> np.ndarray:
        return np.unpackbits(self.packed[indices], axis=-1)

    def tf_images(self, indices):
        import tensorflow as tf  # noqa: PLC0415

        if self._tf_packed is None:
            # Eager even mid-trace (init_scope), so functions capture it by reference instead of
            # embedding a 377 MB graph constant.
            with tf.init_scope():
                self._tf_packed = tf.constant(self.packed)
                # Then numpy reads TF's buffer and the original is freed: one 377 MB copy held
                # by this object. (The reverse, TF importing numpy's buffer by DLPack, is copied
                # again by tf.data; .numpy() always copies.)
                self.packed = _numpy_view_of(self._tf_packed, fallback=self.packed)
        return _unpack_bits_tf(tf.gather(self._tf_packed, indices))


def _file_error(path: str, problem: str) -> DatasetError:
    return DatasetError(f"{path}: {problem}; get the official {OFFICIAL_FILENAME} from "
                        f"{OFFICIAL_URL}")


def _read_npy_header(stream) -> Tuple[tuple, bool, np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f"unsupported .npy format version {version}")


def _stream_packed_images(path: str, num_images: int, chunk: int = 8192) -> np.ndarray:
    """Reads ``imgs.npy`` from the npz in chunks and bit-packs it, so the 3 GB uint8 array of the
    official file is never in memory at once."""
    with zipfile.ZipFile(path) as archive, archive.open("imgs.npy") as stream:
        shape, fortran_order, dtype = _read_npy_header(stream)
        if len(shape) != 3 or shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise _file_error(path, f"imgs has shape {shape}, expected [N, 64, 64]")
        if shape[0] != num_images:
            raise _file_error(path, f"imgs has {shape[0]} images but latents_classes has "
                                    f"{num_images} rows")
        if fortran_order or not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
            raise _file_error(path, f"imgs must be a C-order integer array, got {dtype}"
                                    f"{' (Fortran order)' if fortran_order else ''}")
        image_bytes = IMAGE_SIZE * IMAGE_SIZE * dtype.itemsize
        packed = _aligned_empty((num_images, IMAGE_SIZE, IMAGE_SIZE // 8))
        for start in range(0, num_images, chunk):
            count = min(chunk, num_images - start)
            buffer = stream.read(count * image_bytes)
            if len(buffer) != count * image_bytes:
                raise _file_error(path, f"imgs is truncated after {start} images")
            images = np.frombuffer(buffer, dtype=dtype).reshape(count, IMAGE_SIZE, IMAGE_SIZE)
            if images.max(initial=0) > 1 or images.min(initial=0) < 0:
                raise _file_error(path, "imgs must be binary (0/1 values)")
            packed[start:start + count] = np.packbits(images, axis=-1)
    return packed


def load_official_file(path: str):
    """Validates and loads an official-layout npz.

    Returns ``(images, factor_sizes, factor_values)`` where ``images`` serves uint8 [n, 64, 64]
    by flat grid index. Raises DatasetError with a one-line message for every problem.
    """
    if not os.path.isfile(path):
        raise _file_error(path, "file not found")
    if not zipfile.is_zipfile(path):
        raise _file_error(path, "not a valid npz (zip) archive, so truncated or corrupt")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in OFFICIAL_KEYS if key not in archive.files]
            if missing:
                raise _file_error(path, f"missing key(s) {', '.join(missing)} "
                                        f"(found {', '.join(archive.files) or 'none'})")
            classes = np.asarray(archive["latents_classes"])
            values = np.asarray(archive["latents_values"])
        if classes.ndim != 2 or classes.shape[1] != 6 or values.shape != classes.shape:
            raise _file_error(path, f"latents_classes/latents_values must both be [N, 6] "
                                    f"(colour + 5 factors), got {classes.shape} and {values.shape}")
        if not np.issubdtype(classes.dtype, np.integer) or classes.size == 0:
            raise _file_error(path, "latents_classes must be a non-empty integer array")
        if classes.min() < 0 or classes[:, 0].max() != 0:
            raise _file_error(path, "latents_classes has negative classes or more than one colour")
        factor_sizes = tuple(int(size) for size in classes[:, 1:].max(axis=0) + 1)
        num_images = int(np.prod(factor_sizes))
        expected = np.arange(num_images, dtype=np.int64)
        if (len(classes) != num_images
                or not np.array_equal(factors_to_indices(classes[:, 1:], factor_sizes), expected)):
            raise _file_error(path, f"latents_classes rows do not form the complete "
                                    f"{'x'.join(map(str, factor_sizes))} grid in order "
                                    f"(shape-major, pos_y fastest); found {len(classes)} rows")
        packed = _stream_packed_images(path, num_images)
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise _file_error(path, f"unreadable or truncated ({one_line(error)})") from error
    factor_values = tuple(values[_first_rows_of_classes(factor_sizes, i), i + 1]
                          for i in range(len(factor_sizes)))
    if factor_sizes != FACTOR_SIZES:
        logging.warning("dsprites: %s holds a %s grid, not the official %s", path,
                        "x".join(map(str, factor_sizes)), "x".join(map(str, FACTOR_SIZES)))
    return _PackedImages(packed), factor_sizes, factor_values


def _first_rows_of_classes(factor_sizes: Sequence[int], factor: int) -> np.ndarray:
    """Row index of the first image whose ``factor`` takes each class (others at class 0)."""
    stride = int(np.prod(factor_sizes[factor + 1:], dtype=np.int64))
    return np.arange(factor_sizes[factor], dtype=np.int64) * stride


class DSprites(GroundTruthData):
    """dSprites (Higgins et al. 2017) as a ground-truth dataset, as in Locatello et al. 2019.

    Args:
      data_dir: directory holding the official npz; None renders the images procedurally.
      cache_dir: where the procedural patch bank is cached (default ``$TFDISENT_CACHE_DIR`` or
        ``~/.cache/tfdisent``).
      latent_factor_indices: the factors exposed as ground truth (default all five); the others
        are nuisance, resampled uniformly per observation (disentanglement_lib's
        ``SplitDiscreteStateSpace``), e.g. ``[1, 2, 3, 4]`` for ``dsprites_noshape``.
    """

    name = "dsprites"

    def __init__(self, data_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                 latent_factor_indices: Optional[Sequence[int]] = None):
        if data_dir is None:
            self._images = _PatchBankImages(load_or_render_patch_bank(cache_dir))
            self.full_factor_sizes = FACTOR_SIZES
            self.factor_values = (np.arange(3, dtype=np.float64) + 1.0, scale_values(),
                                  orientation_values(), position_values(), position_values())
            self.source = "procedural"
        else:
            path = os.path.join(data_dir, OFFICIAL_FILENAME)
            self._images, self.full_factor_sizes, self.factor_values = load_official_file(path)
            self.source = path
        if latent_factor_indices is None:
            latent_factor_indices = range(len(FACTOR_NAMES))
        self.latent_factor_indices = tuple(int(i) for i in latent_factor_indices)
        if (not self.latent_factor_indices or len(set(self.latent_factor_indices))
                != len(self.latent_factor_indices)
                or not all(0 <= i < len(FACTOR_NAMES) for i in self.latent_factor_indices)):
            raise DatasetError(f"{self.name}: latent_factor_indices must be distinct indices in "
                               f"[0, {len(FACTOR_NAMES)}), got {list(latent_factor_indices)}")
        self.factor_sizes = tuple(self.full_factor_sizes[i] for i in self.latent_factor_indices)
        self.factor_names = tuple(FACTOR_NAMES[i] for i in self.latent_factor_indices)
        self.observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 1)

    @property
    def num_examples(self) -> int:
        """All images, including those that differ only in nuisance factors."""
        return int(np.prod(self.full_factor_sizes, dtype=np.int64))

    @property
    def resident_bytes(self) -> int:
        """Bytes held for the images (patch bank or packed file)."""
        return self._images.nbytes

    def binary_images(self, indices: np.ndarray) -> np.ndarray:
        """uint8 [n, 64, 64] in {0, 1} for flat indices into the full grid (official order)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_examples):
            raise DatasetError(f"{self.name}: image index out of [0, {self.num_examples})")
        return self._images.images(indices)

    def full_factors(self, factors: np.ndarray,
                     random_state: np.random.RandomState) -> np.ndarray:
        """Adds uniformly drawn nuisance factors: int64 [n, 5] over the full grid."""
        factors = self.check_factors(factors)
        if self.latent_factor_indices == tuple(range(len(FACTOR_NAMES))):
            return factors
        full = np.stack([random_state.randint(size, size=len(factors))
                         for size in self.full_factor_sizes], axis=1).astype(np.int64)
        full[:, list(self.latent_factor_indices)] = factors
        return full

    def binary_observations(self, factors: np.ndarray,
                            random_state: np.random.RandomState) -> np.ndarray:
        """float32 [n, 64, 64, 1] in {0, 1}; the sprite mask the variants colour in."""
        indices = factors_to_indices(self.full_factors(factors, random_state),
                                     self.full_factor_sizes)
        return self._images.images(indices)[..., None].astype(np.float32)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        return self.binary_observations(factors, random_state)

    def tf_binary_batch_fn(self) -> Callable:
        """TF function: int64 [B] random values -> (float32 [B, 64, 64, 1] sprite masks, int64 [B]
        flat indices), sampled uniformly over all images (index = value mod N)."""
        import tensorflow as tf  # noqa: PLC0415

        num_images = self.num_examples
        images = self._images

        def binary_batch(values):
            indices = tf.math.floormod(tf.cast(values, tf.int64), num_images)
            masks = images.tf_images(indices)
            masks = tf.ensure_shape(tf.cast(masks, tf.float32)[..., None],
                                    [None, IMAGE_SIZE, IMAGE_SIZE, 1])
            return masks, indices

        return binary_batch

    def tf_batch_fn(self) -> Optional[Callable]:
        """Batches assembled inside the graph: int64 [B] -> float32 [B, 64, 64, 1]. Image i of
        the batch is the one with flat index ``values[i] mod num_examples``, the same image
        :meth:`sample_observations_from_factors` gives for its factors."""
        import tensorflow as tf  # noqa: PLC0415

        binary_batch = self.tf_binary_batch_fn()

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def batch(values):
            return binary_batch(values)[0]

        return batch
