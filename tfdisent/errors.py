"""The one-line form of an exception that users see (``Type: first line of the message``).

Binaries, study trials, metric reports and loaders all show an error as one line, never a
traceback wall; this is the one function that does it. It sits at the bottom of the house (imports
nothing from tfdisent), so every layer may use it.
"""

from __future__ import annotations

import re

__all__ = ["one_line"]

# terminal styling Keras puts around its messages (bold): not text
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# tf.function re-raises an error from traced code as "in user code:", the traced frames, then the original
# "Type: message"; the first line alone says nothing (a failed study trial once read only "ValueError: in user code:")
_TRACED_HEADER = "in user code:"
_INNER_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning)): ?(.*)$")
# Keras wraps a layer's error as "Exception encountered when calling X.call()." + the real reason on the next line
_KERAS_WRAPPER = re.compile(r"^Exception encountered when calling .*\.$")


def _traced_error(lines: list) -> tuple:
    """``(type name, message)`` of the original error inside a tf.function "in user code:" message, or
    ``(None, None)`` when none is found."""
    for index, line in enumerate(lines):
        match = _INNER_ERROR.match(line)   # never a frame line ('File "...", line N, in f')
        if not match:
            continue
        name, text = match.group(1).rsplit(".", 1)[-1], match.group(2).strip()
        following = [rest for rest in lines[index + 1:] if rest]
        if (not text or _KERAS_WRAPPER.match(text)) and following:
            text = f"{text} {following[0]}".strip()
        return name, text
    return None, None


def one_line(error: BaseException, with_type: bool = True) -> str:
    """``"ValueError: first non-blank line of the message"``.

    For an error re-raised by ``tf.function`` ("in user code:" and the traced frames) the original
    error's type and message are used instead (with a Keras layer's reason when Keras wrapped it as
    "Exception encountered when calling ..."). With ``with_type=False`` only the message, for callers
    that wrap it in their own sentence (``cannot load SavedModel ...: <line>``). A blank message gives
    the type's name either way, so the result is never empty.
    """
    lines = [_ANSI.sub("", line).strip() for line in str(error).strip().splitlines()]
    lines = [line for line in lines if line]
    name = type(error).__name__
    text = lines[0] if lines else ""
    if text.endswith(_TRACED_HEADER):
        inner_name, inner_text = _traced_error(lines[1:])
        if inner_text:
            name, text = inner_name, inner_text
    if not text:
        return name
    return f"{name}: {text}" if with_type else text
