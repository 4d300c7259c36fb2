"""Silencing MediaPipe, absl, glog and LiteRT native log output.

Those libraries write straight to file descriptors 1 and 2 from C++ (a model load prints dozens
of lines), so Python's logging cannot catch them. We set their log-level environment variables
before mediapipe is imported and, while a model loads or runs its first frames, point fds 1 and 2
at /dev/null. `--verbose` turns all of that off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

log = logging.getLogger(__name__)

_verbose = False
_QUIET_ENV = {"GLOG_minloglevel": "3", "TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "3"}


def set_verbose(verbose: bool) -> None:
    """Set once by the CLI; verbose lets native output through."""
    global _verbose
    _verbose = verbose
    if not verbose:
        for key, value in _QUIET_ENV.items():
            os.environ.setdefault(key, value)


def is_verbose() -> bool:
    """Whether native output is let through."""
    return _verbose


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Point fds 1 and 2 at /dev/null for the duration, unless verbose.

    Python-level buffers are flushed first so our own output is never swallowed, and the root
    logger's handlers on stdout or stderr write to the real ones for the duration, so a warning
    logged inside (a model that cannot be pruned, a mediapipe import fallback) is still seen.
    Only used around model loading and warm-up, which run on the main thread before any status
    line is printed.
    """
    if _verbose:
        yield
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    rerouted = _reroute_log_handlers({1: saved[0], 2: saved[1]})
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        for handler, original, stream in rerouted:
            handler.setStream(original)
            with contextlib.suppress(OSError):
                stream.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _reroute_log_handlers(
    real: dict[int, int],
) -> list[tuple[logging.StreamHandler[Any], Any, TextIO]]:
    """Point the root logger's stream handlers on fd 1 or 2 at a copy of the real descriptor.

    Returns (handler, its stream, the stream given) for each, to put back afterwards.
    """
    rerouted: list[tuple[logging.StreamHandler[Any], Any, TextIO]] = []
    for handler in logging.getLogger().handlers:
        if not isinstance(handler, logging.StreamHandler):
            continue
        try:
            fd = handler.stream.fileno()
        except (AttributeError, OSError, ValueError):  # not backed by a descriptor: unaffected
            continue
        if fd in real:
            handler.flush()
            stream = os.fdopen(os.dup(real[fd]), "w", buffering=1, encoding="utf-8")
            rerouted.append((handler, handler.setStream(stream), stream))
    return rerouted
