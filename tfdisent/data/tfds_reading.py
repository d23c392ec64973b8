"""Reading prepared TensorFlow Datasets (never downloading)."""

from __future__ import annotations

import os
from typing import Sequence

from tfdisent.data.ground_truth import DatasetError
from tfdisent.data.locate import official_url


# ------------------------------------------------------------------------------------------------
# Prepared TFDS datasets

def tfds_builder_if_prepared(name: str, tfds_data_dir: str, dataset: str):
    """The TFDS builder of ``name`` under ``tfds_data_dir`` if its data is already prepared there.

    Never downloads: offline, a TFDS download retries for minutes before failing, so a missing
    preparation is reported at once instead.
    """
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    try:
        builder = tfds.builder(name, data_dir=os.fspath(tfds_data_dir))
        prepared = builder.is_prepared()
    except Exception as error:  # pylint: disable=broad-except  # tfds raises many kinds
        raise DatasetError(f"{dataset}: cannot open TFDS dataset {name!r} in {tfds_data_dir} "
                           f"({type(error).__name__}: {error})") from None
    if not prepared:
        raise DatasetError(
            f"{dataset}: TFDS dataset {name!r} is not prepared in {tfds_data_dir}; run "
            f"tfds.builder({name!r}, data_dir={os.fspath(tfds_data_dir)!r}).download_and_prepare() "
            f"on a machine with network access, or pass data_dir with the official files "
            f"({official_url(dataset)})")
    return builder


def tfds_split_names(builder, split: str) -> list:
    """Split names of a prepared builder for ``split`` ("all" = every split, in sorted order)."""
    available = sorted(builder.info.splits.keys())
    if split == "all":
        return available
    if split not in available:
        raise DatasetError(f"{builder.name}: TFDS split {split!r} not prepared "
                           f"(available: {', '.join(available)})")
    return [split]


def iterate_tfds(builder, splits: Sequence[str], batch_size: int = 256):
    """Yields numpy batches (dicts) of the given splits of a prepared builder, in stored order."""
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    for split in splits:
        dataset = builder.as_dataset(split=split, shuffle_files=False, batch_size=batch_size)
        yield from tfds.as_numpy(dataset)
