"""Encoder means as a TensorBoard Embedding Projector run, coloured by ground-truth factors.

Layout (``<run>/logs/projector/``, next to the training run ``logs/train``)::

    embedding.ckpt-1.{index,data-*}, checkpoint   tf.train.Checkpoint holding the [N, d] means
    metadata.tsv                                  header + one row per point, one column per factor
    sprite.png                                    thumbnails of the inputs, row-major, <= 8192 x 8192
    projector_config.pbtxt                        ties them together (tensorboard.plugins.projector)
    events.out.tfevents.*                         one text summary

TensorBoard's projector only lists *run* directories, i.e. directories holding an events file
(or the logdir itself); the text summary makes this one a run. The projector reads a metadata TSV
with a header only when it has more than one column, so a single-factor dataset gets an extra
``index`` column. Paths in the config are relative, so the run directory can be moved or copied.
"""

from __future__ import annotations

import os
import shutil
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tfdisent.models.images import to_rgb
from tfdisent.visualize.image_io import save_png, to_uint8

SPRITE_MAX_PIXELS = 8192  # the projector's WebGL texture limit per side
EMBEDDING_NAME = "encoder_mean"
# tf.train.Checkpoint stores attribute ``x`` under this key; the config must use the key.
TENSOR_NAME = f"{EMBEDDING_NAME}/.ATTRIBUTES/VARIABLE_VALUE"
CHECKPOINT_PREFIX = "embedding.ckpt"
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"


def sprite_image(images: np.ndarray, max_pixels: int = SPRITE_MAX_PIXELS) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Square sprite sheet of ``images`` and the (width, height) of one thumbnail.

    Thumbnails keep the image size while ceil(sqrt(N)) of them fit into ``max_pixels``;
    beyond that they are downscaled (e.g. 64 px up to 16,384 points, 32 px up to 65,536).
    """
    from PIL import Image

    images = to_rgb(images)
    num, height, width, _ = images.shape
    side = int(np.ceil(np.sqrt(num)))
    scale = min(1.0, max_pixels / (side * max(height, width)))
    thumb_h, thumb_w = max(1, int(height * scale)), max(1, int(width * scale))
    pixels = to_uint8(images)
    if (thumb_h, thumb_w) != (height, width):
        pixels = np.stack([np.asarray(Image.fromarray(p).resize((thumb_w, thumb_h), Image.BILINEAR))
                           for p in pixels])
    sheet = np.zeros((side * thumb_h, side * thumb_w, 3), np.uint8)
    for index, thumb in enumerate(pixels):
        row, col = divmod(index, side)
        sheet[row * thumb_h:(row + 1) * thumb_h, col * thumb_w:(col + 1) * thumb_w] = thumb
    return sheet, (thumb_w, thumb_h)


def write_metadata_tsv(path: str, factors: np.ndarray, factor_names: Sequence[str]) -> Sequence[str]:
    """One row per point, one column per factor (integer factor index); returns the header columns."""
    factors = np.asarray(factors)
    columns = list(factor_names)
    if factors.ndim != 2 or factors.shape[1] != len(columns):
        raise ValueError(f"factors {factors.shape} do not match the factor names {columns}")
    if len(columns) == 1:  # a one-column TSV must not have a header; keep one by adding the index
        factors = np.concatenate([np.arange(len(factors))[:, None], factors], axis=1)
        columns = ["index"] + columns
    if len(columns) == 0:
        factors, columns = np.arange(len(factors))[:, None], ["index"]
    with open(path, "w") as f:
        if len(columns) > 1:
            f.write("\t".join(c.replace("\t", " ") for c in columns) + "\n")
        for row in factors:
            f.write("\t".join(str(int(v)) for v in row) + "\n")
    return columns


def write_projector(run_dir: str, embeddings: np.ndarray, factors: np.ndarray, factor_names: Sequence[str],
                    images: Optional[np.ndarray] = None, description: str = "") -> Dict[str, str]:
    """Writes a projector run for ``embeddings`` [N, d] into ``run_dir`` (replacing an older one).

    ``images`` [N, H, W, C] in [0, 1] become the sprite; non-image data gets no sprite.
    Returns the paths written.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2 or len(embeddings) == 0:
        raise ValueError(f"embeddings must be a non-empty [N, d] matrix, got {embeddings.shape}")
    if len(factors) != len(embeddings) or (images is not None and len(images) != len(embeddings)):
        raise ValueError("embeddings, factors and images need one row per point")
    # A stale checkpoint or events file would show old points next to the new ones.
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    paths = {}
    checkpoint = tf.train.Checkpoint(**{EMBEDDING_NAME: tf.Variable(embeddings, name=EMBEDDING_NAME)})
    paths["checkpoint"] = checkpoint.save(os.path.join(run_dir, CHECKPOINT_PREFIX))
    paths["metadata"] = os.path.join(run_dir, METADATA_FILE)
    write_metadata_tsv(paths["metadata"], factors, factor_names)

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = TENSOR_NAME
    embedding.metadata_path = METADATA_FILE
    if images is not None:
        sheet, (thumb_w, thumb_h) = sprite_image(images)
        paths["sprite"] = save_png(sheet, os.path.join(run_dir, SPRITE_FILE))
        embedding.sprite.image_path = SPRITE_FILE
        embedding.sprite.single_image_dim.extend([thumb_w, thumb_h])
    projector.visualize_embeddings(run_dir, config)
    paths["config"] = os.path.join(run_dir, "projector_config.pbtxt")

    writer = tf.summary.create_file_writer(run_dir)
    with writer.as_default():
        tf.summary.text("projector/about", description or
                        f"{len(embeddings)} encoder means (d={embeddings.shape[1]}); colour by "
                        f"{', '.join(factor_names) or 'index'} in the Projector tab.", step=0)
    writer.close()
    return paths
