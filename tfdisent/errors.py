"""The one-line form of an exception that users see (``Type: first line of the message``).

Binaries, study trials, metric reports and loaders all show an error as one line, never a
traceback wall; this is the one function that does it. It sits at the bottom of the house (imports
nothing from tfdisent), so every layer may use it.
"""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(error: BaseException, with_type: bool = True) -> str:
    """``"ValueError: first non-blank line of the message"``.

    With ``with_type=False`` only the message's first line, for callers that wrap it in their own
    sentence (``cannot load SavedModel ...: <line>``). A blank message gives the type's name
    either way, so the result is never empty.
    """
    lines = [line.strip() for line in str(error).strip().splitlines()]
    text = lines[0] if lines else ""
    name = type(error).__name__
    if not text:
        return name
    return f"{name}: {text}" if with_type else text
