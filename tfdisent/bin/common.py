"""What every tfdisent binary shares: the one-line error exit."""

from __future__ import annotations

import functools
import sys
from typing import Callable, NoReturn


def fail(program: str, message: str, code: int = 2) -> NoReturn:
    """Prints ``<program>: error: <message>`` to stderr and exits with ``code`` (no traceback)."""
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(code)


def failer(program: str) -> Callable[..., NoReturn]:
    """``fail`` bound to one program name: ``_fail = failer("tfdisent-train")``."""
    return functools.partial(fail, program)
