"""tfdisent-study on bad input: one clear line on stderr, exit status 2, nothing written."""

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


# The commands below are conftest.STUDY_COMMANDS, run in the session's one refusal process (cli_refusals).
@pytest.mark.xdist_group("cli_refusals")
def test_unknown_method_in_study_file(cli_refusals):
    root, results = cli_refusals
    _one_error_line_in_process(results["study:unknown_method"], "unknown method 'beta_vea'")
    assert not (root / "study_out").exists()


@pytest.mark.xdist_group("cli_refusals")
def test_output_dir_holding_another_study(cli_refusals):
    root, results = cli_refusals
    _one_error_line_in_process(results["study:another_study"], "holds another study")
    assert sorted(os.listdir(root / "another")) == ["study.json"]


@pytest.mark.xdist_group("cli_refusals")
def test_unreachable_ray_address_and_plan(cli_refusals):
    root, results = cli_refusals
    _one_error_line_in_process(results["study:unreachable_ray"], "--ray_address 127.0.0.1:9")
    assert not (root / "unreachable").exists()
    # the evaluation-placement flags reach run_study (a wrong keyword would be a traceback, not this line)
    _one_error_line_in_process(results["study:unreachable_ray_trial_placement"], "--ray_address 127.0.0.1:9")
    assert not (root / "unreachable2").exists()
    _one_error_line_in_process(results["study:no_model"], "select no model")
    plan = results["study:plan"]
    assert plan["code"] == 0, plan
    assert "30 model(s) of 12600" in plan["stdout"] and "GPU (on paper" in plan["stdout"]
