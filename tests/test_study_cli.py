"""tfdisent-study on bad input: one clear line on stderr, exit status 2, nothing written."""

import json
import os
import re
import subprocess
import sys

import pytest
from command_check import run_in_one_process

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = pytest.mark.xdist_group("study_cli")


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


def _bad_study(directory):
    """cpu_small with an entry whose method is misspelled, as a study file in ``directory``."""
    raw = json.load(open("flags/studies/cpu_small.json"))
    raw["configs"].append({"method": "beta_vea", "grid": {"beta": [1]}})
    path = directory / "bad.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_console_script_refusal_is_one_line_with_exit_2(tmp_path):
    """The real console script's process: exit 2 and one error line (the other refusals, the unknown method
    among them, run in the one process below)."""
    out = tmp_path / "out"
    _one_error_line(_study(["run", f"--study={tmp_path / 'missing.json'}", f"--output_dir={out}"]), "missing.json")
    assert not out.exists()


def _one_error_line_in_process(result, expected):
    """:func:`_one_error_line` for a command run in the one process below (its own stderr only)."""
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    assert len(lines) == 1 and lines[0].startswith("tfdisent-study: error: "), result["stderr"]
    assert expected in lines[0]


@pytest.fixture(scope="module")
def study_commands(tmp_path_factory):
    """The commands below through tfdisent-study in ONE process (tests/command_check.py); the real console
    script's one error line and exit status are checked by test_console_script_refusal_is_one_line_with_exit_2."""
    root = tmp_path_factory.mktemp("study_cli")
    another = root / "another"
    another.mkdir()
    (another / "study.json").write_text(json.dumps({"name": "unsupervised_study_v1", "fingerprint": "0123"}))
    commands = {
        "unknown_method": ["run", f"--study={_bad_study(root)}", f"--output_dir={root / 'out'}"],
        "another_study": ["run", "--study=cpu_small", f"--output_dir={another}", "--seeds=0"],
        "unreachable_ray": ["run", "--study=cpu_small", f"--output_dir={root / 'unreachable'}",
                            "--ray_address=127.0.0.1:9"],
        "unreachable_ray_trial_placement": ["run", "--study=cpu_small", f"--output_dir={root / 'unreachable2'}",
                                            "--ray_address=127.0.0.1:9", "--evaluation_placement=trial",
                                            "--eval_cpus=0.5"],
        "no_model": ["plan", "--study=cpu_small", "--only=method=gan"],
        "plan": ["plan", "--study=unsupervised_study_v1", "--only=dataset=dsprites,method=beta_tcvae", "--seeds=0-4"],
    }
    results, _ = run_in_one_process("run", [["tfdisent-study", *argv] for argv in commands.values()], root)
    return root, dict(zip(commands, results))


def test_unknown_method_in_study_file(study_commands):
    root, results = study_commands
    _one_error_line_in_process(results["unknown_method"], "unknown method 'beta_vea'")
    assert not (root / "out").exists()


def test_output_dir_holding_another_study(study_commands):
    root, results = study_commands
    _one_error_line_in_process(results["another_study"], "holds another study")
    assert sorted(os.listdir(root / "another")) == ["study.json"]


def test_unreachable_ray_address_and_plan(study_commands):
    root, results = study_commands
    _one_error_line_in_process(results["unreachable_ray"], "--ray_address 127.0.0.1:9")
    assert not (root / "unreachable").exists()
    # the evaluation-placement flags reach run_study (a wrong keyword would be a traceback, not this line)
    _one_error_line_in_process(results["unreachable_ray_trial_placement"], "--ray_address 127.0.0.1:9")
    assert not (root / "unreachable2").exists()
    _one_error_line_in_process(results["no_model"], "select no model")
    plan = results["plan"]
    assert plan["code"] == 0, plan
    assert "30 model(s) of 12600" in plan["stdout"] and "GPU (on paper" in plan["stdout"]
