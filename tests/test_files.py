"""tfdisent.files: atomic writes that two writers of one file cannot tear."""

import json
import os
import stat
import threading

import numpy as np
import pytest

from tfdisent import files


def test_two_concurrent_writers_never_leave_a_torn_or_missing_file(tmp_path):
    path = str(tmp_path / "shared.json")
    # Large enough that a write takes several system calls, so a shared temporary file would tear.
    contents = {name: json.dumps({"writer": name, "payload": [name] * 50_000}) for name in ("a", "b")}
    files.write_text_atomic(path, contents["a"])
    errors, seen, stop = [], set(), threading.Event()

    def writer(name):
        try:
            for _ in range(30):
                files.write_text_atomic(path, contents[name])
        except BaseException as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)

    def reader():
        while not stop.is_set():
            with open(path) as stream:  # must always exist and hold one writer's whole text
                text = stream.read()
            if text not in contents.values():
                errors.append(AssertionError(f"torn file of {len(text)} characters"))
                return
            seen.add(json.loads(text)["writer"])

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert seen  # the reader really read while the writers ran
    with open(path) as stream:
        assert stream.read() in contents.values()
    assert os.listdir(tmp_path) == ["shared.json"]  # no temporary file left behind


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    files.write_text_atomic(str(path), "old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_path(str(path)) as temporary:
            with open(temporary, "w") as stream:
                stream.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_written_files_get_the_mode_open_would_give(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    path = files.write_bytes_atomic(str(tmp_path / "sub" / "data.bin"), b"\x00\x01")
    assert open(path, "rb").read() == b"\x00\x01"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask


def test_npy_through_atomic_path_keeps_its_name(tmp_path):
    path = str(tmp_path / "bank.npy")
    with files.atomic_path(path, suffix=".npy") as temporary:
        np.save(temporary, np.arange(5))
    np.testing.assert_array_equal(np.load(path), np.arange(5))
    assert os.listdir(tmp_path) == ["bank.npy"]


def test_json_is_strict_by_default_and_keeps_nan_when_asked(tmp_path):
    payload = {"a": np.float32(1.5), "b": float("nan"), "c": np.arange(2), 3: np.bool_(True)}
    strict = files.write_json_atomic(str(tmp_path / "strict.json"), payload)
    assert json.loads(open(strict).read()) == {"a": 1.5, "b": None, "c": [0, 1], "3": True}
    loose = files.write_json_atomic(str(tmp_path / "loose.json"), {"b": float("nan"), "a": 1},
                                    sort_keys=True, allow_nan=True)
    text = open(loose).read()
    assert text.index('"a"') < text.index('"b"') and "NaN" in text and text.endswith("\n")
