"""Interruptions (Ctrl-C, SIGTERM) held back while a native call is under way.

Why: the CLI's signal handlers unwind by raising (`KeyboardInterrupt`, `Terminated`) at whatever
Python line is running. Inside MediaPipe's Python layer that can leave a half-built object whose
`__del__` then prints a traceback on the way out ("Exception ignored in Image.__del__": its
`__init__` was cut short before it set the pointer `__del__` reads), or a native result that is
never released. The pose adapter marks each call `held()`; an interruption that arrives meanwhile
is raised when the call ends, at most one inference (tens of milliseconds) later.

Only the main thread holds: Python runs signal handlers there, and a call on another thread
must not delay them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_depth = 0
_pending: BaseException | None = None
_requested = ""


def interrupt(exc: BaseException, reason: str = "") -> None:
    """Raise `exc` now, or when the held call under way ends (for signal handlers).

    `reason` (e.g. "SIGINT") is remembered: a native library that clears the exception (seen
    about once in 60 signals during start-up) must not make the request vanish.
    """
    global _pending, _requested
    _requested = reason or type(exc).__name__
    if _depth:
        if _pending is None:
            _pending = exc
        return
    raise exc


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold interruptions for the length of the block (re-entrant; main thread only)."""
    global _depth, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None:
            exc, _pending = _pending, None
            raise exc


def requested() -> str:
    """Return the interruption asked for since `reset()` ("" if none), unwound or not."""
    return _requested


def reset() -> None:
    """Forget an earlier request (a new command starts; tests run many in one process)."""
    global _requested
    _requested = ""
