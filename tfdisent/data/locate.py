"""Locating the official files of the file-backed datasets (``--data_dir``, ``$DISENTANGLEMENT_LIB_DATA``)
and their decompressed caches, and the one-line errors that name the file, what is wrong with it
and where the right one comes from."""

from __future__ import annotations

import os
from typing import Dict, Iterable, Optional, Sequence

from absl import logging

from tfdisent.data.ground_truth import DatasetError


# Where each official file comes from; quoted in every error message.
OFFICIAL_URLS: Dict[str, str] = {
    "shapes3d": "https://github.com/deepmind/3d-shapes",
    "smallnorb": "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
    "cars3d": "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",
    "mpi3d": "https://github.com/rr-learning/disentanglement_dataset",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "celeba": "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
}

# disentanglement_lib reads its files from $DISENTANGLEMENT_LIB_DATA, so a machine set up for it
# works here unchanged.
DATA_DIR_ENV = "DISENTANGLEMENT_LIB_DATA"


def resolve_data_dir(data_dir: Optional[str]) -> Optional[str]:
    """``data_dir`` if given, else ``$DISENTANGLEMENT_LIB_DATA`` if set, else None."""
    if data_dir:
        return os.fspath(data_dir)
    return os.environ.get(DATA_DIR_ENV) or None


def candidate_dirs(data_dir: Optional[str], subdirs: Sequence[str] = (),
                   tfds_data_dir: Optional[str] = None) -> list:
    """Folders searched for an official file, in order.

    ``data_dir`` itself, then its disentanglement_lib sub-folder (e.g. ``3dshapes/``, ``small_norb/``),
    then TFDS's manual download folder ``<tfds_data_dir>/downloads/manual`` (where TFDS itself
    looks for files it cannot download, under the same official names).
    """
    dirs = []
    if data_dir:
        dirs.append(data_dir)
        dirs.extend(os.path.join(data_dir, sub) for sub in subdirs)
    if tfds_data_dir:
        dirs.append(os.path.join(os.fspath(tfds_data_dir), "downloads", "manual"))
    return dirs


def find_file(dirs: Iterable[str], names: Sequence[str]) -> Optional[str]:
    """First existing ``dir/name``; names are tried in order inside each folder."""
    for directory in dirs:
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return path
    return None


def missing_file_error(dataset: str, names: Sequence[str], dirs: Sequence[str]) -> DatasetError:
    where = ", ".join(dirs) if dirs else "(no data_dir given and $%s unset)" % DATA_DIR_ENV
    return DatasetError(f"{dataset}: file {names[0]} not found in {where}; "
                        f"download it from {official_url(dataset)}")


def file_error(dataset: str, path: str, problem: str) -> DatasetError:
    """The one-line error for a file that exists but is unusable."""
    return DatasetError(f"{dataset}: {path}: {problem}; get the official file from "
                        f"{official_url(dataset)}")


def official_url(dataset: str) -> str:
    """Where the official file of ``dataset`` comes from (every mpi3d variant shares one page)."""
    return OFFICIAL_URLS["mpi3d" if dataset.startswith("mpi3d") else dataset]


def warn_if_unofficial(dataset: str, factor_sizes: Sequence[int],
                       official_sizes: Sequence[int], source: str) -> None:
    if tuple(factor_sizes) != tuple(official_sizes):
        logging.warning("%s: %s holds a reduced factor grid %s, not the official %s; scores are "
                        "not comparable with published ones", dataset, source,
                        tuple(int(s) for s in factor_sizes), tuple(official_sizes))


def cache_path_for(cache_dir: Optional[str], data_path: str, stem: str) -> str:
    """Path of the decompressed ``.npy`` cache of ``data_path``.

    The folder is ``cache_dir`` if given, else ``$TFDISENT_CACHE_DIR`` (the project's cache folder,
    shared with the rendered dSprites), else the data file's own folder (where there is room for
    the data already). The name carries a digest of the source's absolute path, size and mtime, so
    caches of different or replaced files never collide in a shared folder.
    """
    import hashlib  # pylint: disable=import-outside-toplevel

    folder = os.fspath(cache_dir or os.environ.get("TFDISENT_CACHE_DIR")
                       or os.path.dirname(os.path.abspath(data_path)))
    status = os.stat(data_path)
    key = f"{os.path.abspath(data_path)}|{status.st_size}|{status.st_mtime_ns}".encode()
    return os.path.join(folder, f"{stem}.{hashlib.sha256(key).hexdigest()[:12]}.npy")


def writable_folder(path: str) -> bool:
    """Creates the folder of ``path`` if needed; whether files can be written there."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)
