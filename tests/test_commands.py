"""Every command README.md shows and every next step the binaries print works as written (issue 23).

* README, --help and flagfiles: every line of README's ```bash blocks and every example in a binary's
  docstring (its --help) is either a tfdisent command, parsed by its binary's own flags and ``check_flags``
  (tests/command_check.py, one process), or skipped for a stated reason; every flagfile under flags/ is
  parsed the same way by tfdisent-train (in the same process) and names its own method.
* Next steps: the commands tfdisent-train prints (read from its real output), and those of
  tfdisent-study and tfdisent-pbt (from the functions those binaries print), are run on a tiny model,
  shortened only by extra metric settings; a ``tensorboard --logdir`` step must name a folder with event
  files.
"""

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from command_check import run_in_one_process

from tfdisent.bin import next_steps
from tfdisent.bin.common import significant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "flags", "**", "*.flags"), recursive=True))

# First word of a README command that is not a tfdisent binary -> why it is not run here.
SKIPPED = {
    "pip": "installs packages (the environment is already installed)",
    "python": "the test suite itself",
    "tensorboard": "TensorBoard's own CLI, not a tfdisent binary (its --logdir is a run's folder)",
    "docker": "needs Docker and the TF Serving image",
    "ray": "Ray's cluster CLI (starts daemons)",
}


def readme_commands(text: str):
    """``(checked, skipped)``: tfdisent argv lists from README's ```bash blocks, and ``(line, reason)``
    for each other command. Comments and blank lines are dropped, ``\\`` continuations joined, ``&&``
    chains split."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
             for line in block.replace("\\\n", " ").splitlines()]
    return _classify(lines)


def help_commands(path: str):
    """The example commands of a binary's docstring (its --help text): indented lines that start with a
    program name, continuations joined; ``(checked, skipped)`` as :func:`readme_commands`."""
    import ast

    doc = ast.get_docstring(ast.parse(open(path).read()), clean=False) or ""
    lines = [line for line in doc.replace("\\\n", " ").splitlines()
             if line.startswith("    ") and re.match(r"\s+(tfdisent-\S+|tensorboard) ", line)]
    return _classify(lines)


def _classify(lines):
    checked, skipped = [], []
    for line in lines:
        tokens = shlex.split(line, comments=True)
        while tokens:
            part, tokens = (tokens[:tokens.index("&&")], tokens[tokens.index("&&") + 1:]) if "&&" in tokens \
                else (tokens, [])
            if not part:
                continue
            if part[0].startswith("tfdisent-"):
                checked.append(part)
            elif part[0] in SKIPPED:
                skipped.append((" ".join(part), SKIPPED[part[0]]))
            else:
                raise AssertionError(f"command {' '.join(part)!r}: neither a tfdisent binary nor skipped for a "
                                     "reason (add it to SKIPPED)")
    return checked, skipped


def run_checker(mode, commands, tmp_path, timeout=900):
    """tests/command_check.py in one subprocess; returns its per-command results."""
    return run_in_one_process(mode, commands, tmp_path, timeout=timeout)


def _assert_all_ok(results, process):
    failures = [(" ".join(r["argv"]), r["error"]) for r in results if r["code"] != 0]
    assert not failures, f"{failures}\n{process.stderr[-3000:]}"


def _has_events(logdir):
    return bool(glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"), recursive=True))


def _split(steps):
    """tfdisent argv lists to run, and the logdirs of tensorboard steps."""
    commands, logdirs = [], []
    for command in steps:
        argv = shlex.split(command)
        if argv[0] == "tensorboard":
            assert argv[1] == "--logdir" and len(argv) == 3, command
            logdirs.append(argv[2])
        else:
            assert argv[0] in ("tfdisent-evaluate", "tfdisent-visualize", "tfdisent-study"), command
            commands.append(argv)
    return commands, logdirs


# Shortenings of a next step (the command stays as printed; these only shrink the work).
SHORTER = {"tfdisent-evaluate": ["--metric_override=*.num_train=200", "--metric_override=*.num_test=100",
                                 "--metric_override=dci.backend=exact"],
           "tfdisent-visualize": ["--projector_points=50", "--nogifs", "--num_samples=1"]}


# --- pure parts ----------------------------------------------------------------------------------------
def test_significant_digits():
    assert significant(0.024867368228946956) == "0.02487"
    assert significant(2768.123) == "2768"
    assert significant(-2159.9) == "-2160"
    assert significant(1.5e-05) == "1.5e-05"
    assert significant(0.33715111799986536, 3) == "0.337"
    assert significant(12) == "12" and significant(None) == "None" and significant("n/a") == "n/a"
    assert significant(float("nan")) == "nan"


def test_next_steps_offer_only_what_exists():
    run = os.path.join("runs", "x")
    trained = [c for _, c in next_steps.train_next_steps(run, exported=True)]
    assert trained == [f"tfdisent-evaluate --model_dir={os.path.abspath(run)} --metrics=mig,dci,sap",
                       f"tfdisent-visualize --model_dir={os.path.abspath(run)}",
                       f"tensorboard --logdir {os.path.abspath(os.path.join(run, 'logs'))}"]
    assert [label for label, _ in next_steps.train_next_steps(run, exported=False)] == ["tensorboard"]
    assert [label for label, _ in next_steps.pbt_next_steps("p", export=None)] == ["tensorboard"]
    assert "--model_dir=" + os.path.abspath(os.path.join("p", "best")) in \
        next_steps.pbt_next_steps("p", export="p/best/export/1")[0][1]
    assert next_steps.study_next_steps("s", "run", has_results=False)[0][0] == "tensorboard"
    assert next_steps.study_next_steps("s", "analyze") == []
    # Paths with spaces stay one argument when copied into a shell.
    spaced = next_steps.train_next_steps("my runs/a", exported=True)[0][1]
    assert shlex.split(spaced)[1] == "--model_dir=" + os.path.abspath("my runs/a")
    # What a binary prints can be read back: label, then exactly the command.
    steps = next_steps.pbt_next_steps("p", export="e")
    printed = "summary line\n" + next_steps.format_next_steps(steps)
    assert next_steps.commands_in(printed) == [c for _, c in steps]


def test_default_report_path_and_headline_scores():
    from tfdisent.evaluation.evaluate import headline_scores, owning_run_dir, report_path

    run = os.path.abspath(os.path.join("runs", "btc"))
    for given in ("runs/btc", "runs/btc/", "runs/btc/export", "runs/btc/export/3000"):
        assert owning_run_dir(given) == run, given
    assert owning_run_dir("models/1350/tfhub") == os.path.abspath("models/1350/tfhub")
    assert report_path(run, "sampled") == os.path.join(run, "results", "evaluation_sampled.json")
    entry = {"disentanglement": 0.5, "completeness": 0.25, "informativeness_train": 1.0, "informativeness_test": 0.9,
             "extra": 3.0, "settings": {"num_train": 10}, "wall_time_seconds": 2.0, "seed": 7, "shared_samples": False}
    assert headline_scores(entry) == {"disentanglement": 0.5, "completeness": 0.25, "informativeness_train": 1.0,
                                      "informativeness_test": 0.9}
    assert headline_scores({"discrete_mig": 0.1, "seed": 3}) == {"discrete_mig": 0.1}


_LOG_THEN_CLOSE = """
from tfdisent.bin import common
common.quiet_tensorflow_logs([])
from absl import logging
logging.set_verbosity(logging.INFO)
logging.use_absl_handler()
for i in range(300):
    logging.info("log line %d", i)
common.print_closing(["summary"], [("next", "tfdisent-study analyze --output_dir=x")])
"""


def test_closing_block_comes_after_every_log_line():
    # Log lines reach the console through the stderr relay thread; without flush_logs' barrier the
    # closing block printed right after 300 log lines landed before the last of them (measured here).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
               PYTHONUNBUFFERED="1")
    process = subprocess.run([sys.executable, "-c", _LOG_THEN_CLOSE], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=120)
    assert process.returncode == 0, process.stdout[-2000:]
    lines = process.stdout.splitlines()
    assert lines[-3:] == ["summary", "next steps:", "  next:  tfdisent-study analyze --output_dir=x"], lines[-6:]
    assert sum("log line" in line for line in lines) == 300


def test_readme_extraction():
    checked, skipped = readme_commands(open(os.path.join(ROOT, "README.md")).read())
    programs = {argv[0] for argv in checked}
    assert {"tfdisent-train", "tfdisent-evaluate", "tfdisent-visualize", "tfdisent-study", "tfdisent-pbt"} <= programs
    assert len(checked) >= 20, checked
    assert all(reason for _, reason in skipped)
    assert any(line.startswith("pip install") for line, _ in skipped)
    # The extraction itself: continuation, chain, comment, unknown program.
    text = "```bash\npip install -e . && tfdisent-train --method=vae  # note\ntfdisent-evaluate \\\n  --model_dir=r\n```\n"
    assert readme_commands(text) == ([["tfdisent-train", "--method=vae"], ["tfdisent-evaluate", "--model_dir=r"]],
                                     [("pip install -e .", SKIPPED["pip"])])
    with pytest.raises(AssertionError, match="neither a tfdisent binary"):
        readme_commands("```bash\nmake all\n```\n")


# --- README: one process parses every command ----------------------------------------------------------
@pytest.mark.heavy
def test_every_readme_command_passes_its_binarys_flag_checks(tmp_path):
    checked, _ = readme_commands(open(os.path.join(ROOT, "README.md")).read())
    # Controls: commands each binary must refuse, so that a checker accepting everything fails here.
    refused = [["tfdisent-train", "--method=factor_vae", "--beta=4"],
               ["tfdisent-train", "--steps=0"],
               ["tfdisent-evaluate", "--model_dir=runs/x", "--metrics=mig,nope"],
               ["tfdisent-visualize", "--model_dir=runs/x", "extra"],
               ["tfdisent-study", "aggregate"],
               ["tfdisent-study", "plan", "--study=cpu_small", "--only=method=gan"],
               ["tfdisent-pbt", "--output_dir=runs/p", "--fitness=mig", "--population=1"],
               ["tfdisent-encode", "--output=c.csv"]]
    # The examples of every binary's --help (its module docstring) too.
    examples = [argv for path in sorted(glob.glob(os.path.join(ROOT, "tfdisent", "bin", "*.py")))
                for argv in help_commands(path)[0]]
    assert {argv[0] for argv in examples} >= {"tfdisent-train", "tfdisent-evaluate", "tfdisent-study", "tfdisent-pbt",
                                               "tfdisent-visualize", "tfdisent-encode"}
    checked += examples
    flagfiles = [["tfdisent-train", f"--flagfile={path}"] for path in FLAGFILES]
    results, process = run_checker("parse", checked + flagfiles + refused, tmp_path)
    by_argv = {tuple(r["argv"]): r for r in results}
    _assert_all_ok([by_argv[tuple(argv)] for argv in checked + flagfiles], process)
    wrongly_accepted = [argv for argv in refused if by_argv[tuple(argv)]["code"] == 0]
    assert not wrongly_accepted
    # Every flagfile names its own method (shared.flags holds settings only).
    for path, argv in zip(FLAGFILES, flagfiles):
        if not path.endswith("shared.flags"):
            assert os.path.basename(path).startswith(by_argv[tuple(argv)]["method"]), path


def test_there_is_a_flagfile_per_core_method():
    names = {os.path.basename(p)[:-len(".flags")] for p in FLAGFILES}
    assert {"vae", "beta_vae", "annealed_vae", "factor_vae", "beta_tcvae", "dip_vae_i", "dip_vae_ii",
            "info_vae"} <= names


# --- next steps, run on a tiny model -------------------------------------------------------------------
def _closing_block(output):
    """The lines from the summary ("done: ...") to the end."""
    lines = output.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("done: "))
    return lines[start:]


@pytest.mark.slow
def test_train_ends_with_next_steps_that_run(tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
               PYTHONUNBUFFERED="1")
    # stdout and stderr into one pipe, unbuffered: the order of lines is the order a terminal shows.
    process = subprocess.run([sys.executable, "-m", "tfdisent.bin.train", "--method=beta_tcvae", "--steps=4",
                              "--batch_size=16", "--log_every=2", "--eval_batches=1", "--image_every=2",
                              "--latent_dim=4", f"--output_dir={run}"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert process.returncode == 0, process.stdout[-3000:]
    closing = _closing_block(process.stdout)
    # Nothing logged after the summary: the closing block is the summary, the run directory, next steps.
    assert closing[1] == f"run directory: {run}" and closing[2] == "next steps:", closing
    assert all(line.startswith("  ") for line in closing[3:]), closing
    assert any("exported SavedModel" in line for line in process.stdout.splitlines()[:-len(closing)])
    printed = next_steps.commands_in(process.stdout)
    assert printed == [c for _, c in next_steps.train_next_steps(str(run), exported=True)]

    commands, logdirs = _split(printed)
    assert all(_has_events(d) for d in logdirs), logdirs
    # The PBT steps on the same model as a population's best/ (what tfdisent-pbt exports there).
    pbt_dir = tmp_path / "pbt"
    shutil.copytree(run, pbt_dir / "best")
    pbt_commands, _ = _split(c for _, c in next_steps.pbt_next_steps(str(pbt_dir), export="exported"))
    runs = [argv + SHORTER.get(argv[0], []) for argv in commands + pbt_commands]
    results, checker = run_checker("run", runs, tmp_path)
    _assert_all_ok(results, checker)
    # tfdisent-evaluate without --output_file: the documented default, a report of the three metrics.
    for directory in (run, pbt_dir / "best"):
        report = json.loads((directory / "results" / "evaluation_mean.json").read_text())
        assert sorted(report["metrics"]) == ["dci", "mig", "sap"] and not report["failed_metrics"]
    assert (run / "visualizations").is_dir()
    assert re.search(r"^mig\s+discrete_mig\s+\d", checker.stdout, flags=re.M), checker.stdout[-2000:]


@pytest.mark.slow
def test_study_next_steps_run(tmp_path):
    from tfdisent.study import runner, spec, trial

    raw = json.load(open(os.path.join(ROOT, "flags", "studies", "cpu_small.json")))
    raw.update(name="tiny", seeds=[0])
    raw["train"].update(steps=4, log_every=2, checkpoint_every=2, latent_dim=4, eval_batches=1, batch_size=16)
    raw["configs"] = [{"method": "beta_vae", "grid": {"beta": [1, 4]}}]
    raw["evaluation"] = {"metrics": ["mig"], "representations": ["mean"], "seed": 0,
                         "settings": {"mig": {"num_train": 100}}}
    (tmp_path / "tiny.json").write_text(json.dumps(raw))
    study = spec.load_study(str(tmp_path / "tiny.json"))
    out = str(tmp_path / "study")
    info = {"name": study.name, "fingerprint": study.fingerprint()}
    evaluation = {"metrics": study.evaluation.metrics, "representations": study.evaluation.representations,
                  "settings": study.evaluation.settings, "seed": study.evaluation.seed}
    os.makedirs(out)
    runner.write_study_file(out, study)
    for model in spec.select_models(study):     # the trials' own code path, without Ray
        assert trial.run_model(out, model.to_dict(), evaluation, info)["status"] == "done"
    commands, logdirs = _split(c for _, c in next_steps.study_next_steps(out, "run"))
    assert commands == [["tfdisent-study", "analyze", f"--output_dir={out}"]]
    assert all(_has_events(d) for d in logdirs), logdirs
    results, checker = run_checker("run", commands, tmp_path)
    _assert_all_ok(results, checker)
    assert os.path.isfile(os.path.join(out, "report", "index.md"))


# --- Ray's console chatter -----------------------------------------------------------------------------
RAY_CHATTER = ("View detailed results here", "To visualize your results with TensorBoard",
               "Token authentication is enabled", "Configuration for experiment", "Consider boosting PBT")


def test_tune_verbosity(monkeypatch):
    from tfdisent.training.resources import tune_verbosity

    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)
    assert tune_verbosity(True) is None and "RAY_AIR_NEW_OUTPUT" not in os.environ   # Ray's defaults
    assert tune_verbosity(False) == 0 and os.environ["RAY_AIR_NEW_OUTPUT"] == "0"   # the silent engine


@pytest.mark.slow
def test_pbt_console_is_ours_and_ends_with_runnable_next_steps(tmp_path):
    out = tmp_path / "pbt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
               PYTHONUNBUFFERED="1")
    env.pop("RAY_AIR_NEW_OUTPUT", None)
    process = subprocess.run([sys.executable, "-m", "tfdisent.bin.pbt", "--fitness=mig", "--backend=toy",
                              "--population=4", "--generations=2", "--generation_samples=64", "--num_cpus=2",
                              f"--output_dir={out}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=900)
    assert process.returncode == 0, process.stdout[-3000:]
    lines = process.stdout.rstrip("\n").splitlines()
    assert not [line for line in lines if any(text in line for text in RAY_CHATTER)], process.stdout
    # Ours: one line per member and generation, the summary, the next steps, and nothing else.
    assert sum(line.startswith("[pbt] generation ") for line in lines) == 8, process.stdout
    summary = next(i for i, line in enumerate(lines) if line.startswith("tfdisent-pbt: 2 generations"))
    assert all(line.startswith("[pbt] ") for line in lines[:summary]), process.stdout
    best = re.search(r"best score (\S+) ", lines[summary]).group(1)
    assert len(re.sub(r"[^0-9]", "", best.split("e")[0]).lstrip("0")) <= 4, lines[summary]
    printed = next_steps.commands_in(process.stdout)
    assert printed == [c for _, c in next_steps.pbt_next_steps(str(out), export=None)]   # toy: no export
    assert lines[-1].endswith(printed[-1])
    commands, logdirs = _split(printed)
    assert not commands and all(_has_events(d) for d in logdirs), logdirs
