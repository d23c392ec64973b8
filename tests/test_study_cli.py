"""tfdisent-study on bad input: one clear line on stderr, exit status 2, nothing written."""

import json
import os
import re
import subprocess
import sys

import pytest


def _study(args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tfdisent.bin.study", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


# TensorFlow's C++ runtime logs a few lines at import before any Python logging setting applies
# (issue 9 quiets them in every binary); they are not ours.
_TF_NOISE = re.compile(r"^([IWE]\d{4} |WARNING: All log messages before absl::InitializeLog)")


def _one_error_line(process, expected):
    lines = [line for line in process.stderr.splitlines() if line.strip() and not _TF_NOISE.match(line)]
    assert process.returncode == 2, process.stderr
    assert len(lines) == 1 and lines[0].startswith("tfdisent-study: error: "), process.stderr
    assert expected in lines[0]


@pytest.fixture
def bad_study(tmp_path):
    raw = json.load(open("flags/studies/cpu_small.json"))
    raw["configs"].append({"method": "beta_vea", "grid": {"beta": [1]}})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_unknown_method_in_study_file(tmp_path, bad_study):
    out = tmp_path / "out"
    _one_error_line(_study(["run", f"--study={bad_study}", f"--output_dir={out}"]), "unknown method 'beta_vea'")
    assert not out.exists()


def test_output_dir_holding_another_study(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "study.json").write_text(json.dumps({"name": "unsupervised_study_v1", "fingerprint": "0123"}))
    before = sorted(os.listdir(out))
    _one_error_line(_study(["run", "--study=cpu_small", f"--output_dir={out}", "--seeds=0"]), "holds another study")
    assert sorted(os.listdir(out)) == before


def test_unreachable_ray_address_and_plan(tmp_path):
    out = tmp_path / "out"
    _one_error_line(_study(["run", "--study=cpu_small", f"--output_dir={out}", "--ray_address=127.0.0.1:9"]),
                    "--ray_address 127.0.0.1:9")
    assert not out.exists()
    _one_error_line(_study(["plan", "--study=cpu_small", "--only=method=gan"]), "select no model")
    plan = _study(["plan", "--study=unsupervised_study_v1", "--only=dataset=dsprites,method=beta_tcvae",
                   "--seeds=0-4"])
    assert plan.returncode == 0, plan.stderr
    assert "30 model(s) of 12600" in plan.stdout and "GPU (on paper" in plan.stdout
