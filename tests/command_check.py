"""Runs tfdisent commands in one process, each through its binary's own flags, for tests/test_commands.py.

    python tests/command_check.py parse|run COMMANDS.json RESULTS.json

COMMANDS.json is a list of argv lists (``["tfdisent-evaluate", "--model_dir=...", ...]``). ``parse``:
absl parses the flags (types, enums, bounds, flagfiles) and the binary's ``check_flags`` runs every
check that needs no data, model or training. ``run``: the binary's ``main`` runs in full. RESULTS.json
gets one ``{"argv", "code", "error", "stdout", "stderr", "method"}`` per command (code 0: accepted /
succeeded; ``stdout``/``stderr``: what the command printed to ``sys.stdout``/``sys.stderr``, e.g. its one-line
error; ``method``: the accepted command's --method, if its binary has one).

Tests call :func:`run_in_one_process`: one subprocess (one TensorFlow import) for many commands, instead of
one per command. What needs a process of its own (exit codes of the console script, "fails before
TensorFlow is imported", signals, the whole console output) keeps its own subprocess test.

The binaries define their flags on absl's global FLAGS and share names (--seed, --output_dir...), so
one process holds one binary's flags at a time: its flags are deleted (``delattr(FLAGS, name)``, absl's
public API) before the next binary is imported. One process for every command imports TensorFlow once.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def console_scripts() -> dict:
    """``{program: module}`` of the absl binaries, from setup.cfg (a new binary is covered at once)."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    scripts = {}
    for line in parser["options.entry_points"]["console_scripts"].strip().splitlines():
        name, _, target = line.partition("=")
        scripts[name.strip()] = target.strip().split(":")[0]
    return scripts


def run_in_one_process(mode: str, commands: list, workdir, env: dict | None = None, timeout: float = 900):
    """This script on ``commands`` in one subprocess (this checkout first on PYTHONPATH, ``env`` added);
    returns ``(results, process)``: the per-command results and the finished process."""
    commands_file = os.path.join(str(workdir), f"{mode}_commands.json")
    results_file = os.path.join(str(workdir), f"{mode}_results.json")
    with open(commands_file, "w") as stream:
        json.dump(commands, stream)
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
                    TF_CPP_MIN_LOG_LEVEL="2")
    full_env.update(env or {})   # e.g. a PYTHONPATH that adds a plugin's folder
    process = subprocess.run([sys.executable, os.path.abspath(__file__), mode, commands_file, results_file],
                             cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)
    assert process.returncode == 0, process.stderr[-3000:]
    with open(results_file) as stream:
        return json.load(stream), process


def _run_one(module, argv, mode):
    from absl import flags

    FLAGS = flags.FLAGS
    FLAGS.unparse_flags()
    try:
        rest = FLAGS(list(argv))
    except flags.Error as error:
        return 1, f"flag parsing: {error}"
    try:
        if mode == "parse":
            module.check_flags(rest)
        else:
            module.main(rest)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return code, "" if code == 0 else f"exit {code}"
    except Exception:  # noqa: BLE001 - reported to the test, which shows it
        return 1, traceback.format_exc(limit=3)
    return 0, ""


def _run_captured(module, argv, mode):
    """:func:`_run_one`, with what the command prints to ``sys.stdout`` and ``sys.stderr`` (e.g. its
    one-line error) captured; both are passed on to the checker's own output too."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code, error = _run_one(module, argv, mode)
    sys.stdout.write(out.getvalue())
    sys.stderr.write(err.getvalue())
    return code, error, out.getvalue(), err.getvalue()


def main() -> None:
    mode, commands_path, results_path = sys.argv[1:4]
    with open(commands_path) as stream:
        commands = json.load(stream)
    scripts = console_scripts()
    from absl import flags

    results = []
    by_program = {}
    for argv in commands:
        by_program.setdefault(argv[0], []).append(argv)
    for program, group in by_program.items():
        module_name = scripts.get(program)
        if module_name is None or not module_name.startswith("tfdisent.bin."):
            results += [{"argv": argv, "code": 1, "error": f"{program} is not an absl binary of tfdisent"}
                        for argv in group]
            continue
        module = importlib.import_module(module_name)
        for argv in group:
            print(f"[command_check] {mode}: {' '.join(argv)}", file=sys.stderr, flush=True)
            code, error, stdout, stderr = _run_captured(module, argv, mode)
            # The method a command resolved to (e.g. through a --flagfile), for checks on what was parsed.
            method = flags.FLAGS["method"].value if code == 0 and "method" in flags.FLAGS else None
            results.append({"argv": argv, "code": code, "error": error, "stdout": stdout, "stderr": stderr,
                            "method": method})
        # Free the flag names for the next binary (its own, and the shared ones bin.common defines for it,
        # e.g. --plugins).
        shared = flags.FLAGS.get_flags_for_module("tfdisent.bin.common")
        for flag in flags.FLAGS.get_flags_for_module(module_name) + shared:
            if flag.name in flags.FLAGS:
                delattr(flags.FLAGS, flag.name)
        sys.modules.pop(module_name, None)
    with open(results_path, "w") as stream:
        json.dump(results, stream, indent=1)


if __name__ == "__main__":
    main()
