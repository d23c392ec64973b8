"""What every tfdisent binary shares: the one-line error exit, quiet TensorFlow logs, numbers shown to
three or four significant digits, and the closing block (summary and next steps) printed after every log line."""

from __future__ import annotations

import atexit
import functools
import logging as std_logging
import os
import re
import sys
import threading
from typing import Callable, NoReturn, Optional, Sequence, Tuple

from absl import logging as absl_logging

from tfdisent.errors import one_line

# TensorFlow's C++ logs (absl/glog format: "I0000 00:00:1795.9 7614 cudart_stub.cc:31] ...") and the
# notice printed before absl logging starts. TF 2.21 ignores TF_CPP_MIN_LOG_LEVEL for the lines it
# writes before absl::InitializeLog (the CUDA probes, oneDNN notices), so they are filtered here.
_NATIVE_LOG_LINE = re.compile(rb"^([IWEF]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h|cpp):\d+\] |"
                              rb"WARNING: All log messages before absl::InitializeLog\(\) is called)")


def fail(program: str, message: str, code: int = 2) -> NoReturn:
    """Prints ``<program>: error: <message>`` to stderr and exits with ``code`` (no traceback)."""
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(code)


def failer(program: str) -> Callable[..., NoReturn]:
    """``fail`` bound to one program name: ``_fail = failer("tfdisent-train")``."""
    return functools.partial(fail, program)


def verbose_requested(argv: Sequence[str]) -> bool:
    """Whether absl's ``-v N``/``--verbosity=N`` (N >= 1) is on the command line (read before flags
    are parsed: the filter must be in place before TensorFlow is imported)."""
    for i, arg in enumerate(argv):
        value = None
        if arg.startswith("--verbosity=") or arg.startswith("-v="):
            value = arg.split("=", 1)[1]
        elif arg in ("-v", "--verbosity") and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            try:
                return int(value) >= 1
            except ValueError:
                return False
    return False


# The stderr relay of quiet_tensorflow_logs (one per process) and its drain marker: a line the relay
# recognises, so that a writer can wait until everything written to stderr before it has been relayed.
_RELAY: dict = {}
_DRAIN_MARK = b"\x00tfdisent-drain-stderr\n"

_LIBRARY_PATH = re.compile(r"[/\\\\](tensorflow|tf_keras|keras|tensorflow_datasets|tensorflow_probability)[/\\\\]")


def _drop_library_info(record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or not _LIBRARY_PATH.search(record.pathname or "")


def quiet_tensorflow_logs(argv: Sequence[str] = ()) -> None:
    """Keeps TensorFlow's own logging off the console unless ``-v 1`` (or more) is given.

    Sets TF's C++ and Python log levels and relays stderr through a filter that drops TensorFlow's
    C++ log lines; everything else (progress, warnings of ours, errors, tracebacks) passes. Call it
    at the top of a binary, before TensorFlow is imported.
    """
    if verbose_requested(argv or sys.argv[1:]) or _RELAY:
        return  # -v 1, or already installed (a second binary module imported in the same process)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    std_logging.getLogger("tensorflow").setLevel(std_logging.ERROR)
    # TF's Python modules log through absl ("Sharding callback duration", "unsupported characters ...
    # renamed", "Writing fingerprint"): drop their info lines, keep their warnings and ours.
    # (absl's own logger object: a plain logging.getLogger("absl") made first would lose its caller lookup.)
    absl_logging.get_absl_logger().addFilter(_drop_library_info)
    try:
        original = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    drained = threading.Event()

    def relay():
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                marked = line.endswith(_DRAIN_MARK)
                if marked:  # after a partial line (no newline) the mark ends that line: keep its text
                    line = line[:-len(_DRAIN_MARK)]
                if line and not _NATIVE_LOG_LINE.match(line):
                    os.write(original, line)
                if marked:
                    drained.set()

    _RELAY.update(drained=drained)
    thread = threading.Thread(target=relay, name="stderr-filter", daemon=True)
    thread.start()

    def restore():
        # Flush what Python buffered, give fd 2 back, and let the relay drain the pipe to its end.
        _RELAY.clear()
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)
        thread.join(timeout=5)

    atexit.register(restore)


def flush_logs(timeout: float = 5.0) -> None:
    """Returns once every line written to stderr so far has reached the console.

    Log lines go to stderr, which :func:`quiet_tensorflow_logs` relays through a thread; a ``print``
    to stdout right after a log line could otherwise overtake it on the terminal (the "exported
    SavedModel" line landing after tfdisent-train's next steps). A marker line sent through the same
    pipe comes out after everything before it.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    drained = _RELAY.get("drained")
    if drained is None:
        return
    drained.clear()
    try:
        os.write(2, _DRAIN_MARK)
    except OSError:
        return
    drained.wait(timeout)


def significant(value, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits (a score: 0.02487, 2768, 1.5e-05); integers, None,
    NaN and non-numbers as they are. The one number format of every binary's summary."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.{digits}g}"


def print_closing(summary: Sequence[str], next_steps: Sequence[Tuple[str, str]] = (),
                  stream: Optional[object] = None) -> None:
    """The last lines of a binary: its summary, then its next steps as ``label: command`` lines (the
    commands from :mod:`tfdisent.bin.next_steps`), after every log line written before."""
    from tfdisent.bin.next_steps import format_next_steps

    flush_logs()
    out = stream or sys.stdout
    for line in summary:
        print(line, file=out)
    if next_steps:
        print(format_next_steps(next_steps), file=out)
    out.flush()


def guarded(program: str, main: Callable[[list], None], interrupted: str = "interrupted") -> Callable[[list], None]:
    """``main`` for ``absl.app.run`` that turns an unexpected exception into one error line (exit 1) and
    Ctrl-C into ``<program>: <interrupted>`` (exit 130), never a traceback wall."""

    def guarded_main(argv):
        try:
            main(argv)
        except KeyboardInterrupt:
            print(f"{program}: {interrupted}", file=sys.stderr)
            sys.exit(130)
        except SystemExit:
            raise
        except Exception as error:  # noqa: BLE001 - one line, never a traceback wall
            fail(program, one_line(error), code=1)

    return guarded_main


# --- plugins ------------------------------------------------------------------------------------
PLUGINS_HELP = ("Plugin modules to import before anything else (comma-separated, e.g. my_pkg.tfdisent_plugin): "
                "their register_method/register_metric/register_dataset calls add methods, metrics and datasets "
                "usable like the built-ins. Installed packages declaring a 'tfdisent.plugins' entry point are "
                "imported without this flag.")


def _flagfile_lines(path: str, seen: set) -> list:
    """The arguments of an absl flagfile (one flag per line; # and // comments), nested ones expanded."""
    path = os.path.abspath(os.path.expanduser(path))
    if path in seen or not os.path.isfile(path):
        return []   # absl reports a missing flagfile itself
    seen.add(path)
    with open(path) as stream:
        lines = [line.strip() for line in stream]
    return [line for line in lines if line and not line.startswith(("#", "//"))]


def plugins_in_argv(argv: Sequence[str], _seen: set = None) -> list:
    """The modules named by ``--plugins`` on a command line, before absl parses it (flagfiles
    included; the last occurrence wins, as for any absl flag). Plugins must be imported before the
    flags are defined: their methods, datasets and hyperparameters become flag values."""
    seen = set() if _seen is None else _seen
    value = None
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        name, eq, text = arg.partition("=")
        if name in ("--plugins", "-plugins", "--flagfile", "-flagfile") and not eq and i + 1 < len(args):
            text, i = args[i + 1], i + 1
            eq = "="
        if name in ("--plugins", "-plugins") and eq:
            value = [item.strip() for item in text.split(",") if item.strip()]
        elif name in ("--flagfile", "-flagfile") and eq:
            nested = plugins_in_argv(_flagfile_lines(text, seen), seen)
            if nested is not None:
                value = nested
        i += 1
    return value if value is not None or _seen is not None else []


def load_plugins(program: str, argv: Sequence[str] = None) -> tuple:
    """Imports the installed entry-point plugins and those of ``--plugins`` (read from ``argv``, by
    default ``sys.argv``); a plugin that fails to import, takes a taken name or breaks its kind's
    contract is ``<program>: error: ...`` and exit 2, before anything is written."""
    from tfdisent.registry import RegistryError, import_plugins  # noqa: PLC0415

    names = plugins_in_argv((sys.argv if argv is None else argv)[1:])
    try:
        return import_plugins(names)
    except RegistryError as error:
        fail(program, str(error))


def define_plugins_flag() -> None:
    """``--plugins`` (documented in --help; its modules were imported by :func:`load_plugins`)."""
    from absl import flags  # noqa: PLC0415

    flags.DEFINE_list("plugins", [], PLUGINS_HELP)


def check_plugins(program: str, modules: Sequence[str]) -> tuple:
    """Imports ``modules`` (the parsed ``--plugins``) if :func:`load_plugins` has not; one-line exit 2."""
    from tfdisent.registry import RegistryError, import_plugins  # noqa: PLC0415

    try:
        return import_plugins(list(modules or ()))
    except RegistryError as error:
        fail(program, str(error))
