"""Writing a file so that readers see the old contents or the new ones, never a torn file.

Every writer goes through :func:`atomic_path`: the data go to a temporary file with a unique name
(``tempfile.mkstemp``) in the target's own directory (so the final ``os.replace`` is a rename
within one file system, which POSIX makes atomic), are flushed to disk with ``fsync`` and then
renamed over the target. Two processes writing the same file therefore never share a temporary
file (a fixed ``path + ".tmp"`` would let one rename the other's half-written data into place),
and the last rename wins with a complete file. A failed write removes its temporary file and
leaves the target as it was.

This module sits at the bottom of the house: it imports nothing from tfdisent, so every layer
(data ... bin) may use it. Text, bytes and JSON have their own function; writers that need a path
(``np.save``, ``DataFrame.to_parquet``, memory maps) use :func:`atomic_path` directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from typing import Any, Iterator

import numpy as np

__all__ = ["atomic_path", "write_text_atomic", "write_bytes_atomic", "write_json_atomic",
           "to_python", "json_safe"]


def _current_umask() -> int:
    # Linux reports it without changing it; elsewhere os.umask can only be read by setting it (once,
    # at import, so only a thread creating a file in that instant could see the temporary value).
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; a plain open() would have given 0666 minus the umask, and shared
# caches/results must stay readable by the group that reads them, so the rename keeps that mode.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ".tmp") -> Iterator[str]:
    """Yields a unique temporary path next to ``path``; on success renames it onto ``path``.

    The caller writes the temporary file by name (``suffix`` lets libraries that insist on an
    extension, e.g. ``np.save``, keep the name they are given). It is fsynced, given the mode a
    plain ``open`` would have given it, and moved into place with ``os.replace``. If the body
    raises, the temporary file is removed and ``path`` is untouched. Parent directories are
    created.
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                         suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_bytes_atomic(path: str, data: bytes) -> str:
    """Writes ``data`` to ``path`` atomically (see the module docstring); returns the absolute path."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(data)
    return os.path.abspath(path)


def write_text_atomic(path: str, text: str) -> str:
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns the absolute path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def to_python(value: Any) -> Any:
    """numpy scalars and arrays (also inside dicts, lists and tuples) -> plain Python values."""
    if isinstance(value, dict):
        return {key: to_python(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_python(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def json_safe(value: Any) -> Any:
    """:func:`to_python`, with string keys and NaN/inf -> ``None``, so the result is strict JSON."""
    value = to_python(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: str, payload: Any, *, sort_keys: bool = False,
                      allow_nan: bool = False) -> str:
    """Writes ``payload`` as indented JSON (newline-terminated) to ``path`` atomically.

    numpy values become Python values. With ``allow_nan=False`` (the default) NaN and infinities
    become ``null`` so the file is strict JSON any reader accepts; ``allow_nan=True`` writes them
    as Python's ``json`` does (``NaN``), for files only Python reads back as floats (training
    results and configs). Returns the absolute path.
    """
    value = to_python(payload) if allow_nan else json_safe(payload)
    text = json.dumps(value, indent=2, sort_keys=sort_keys, allow_nan=allow_nan)
    return write_text_atomic(path, text + "\n")
