"""The `posture` command line: argparse subcommands, `main(argv) -> int`; logging is set here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from posture import __version__
from posture.core.errors import PostureError

log = logging.getLogger(__name__)

# Each module in posture.commands registers its own subparsers; listed here in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "posture.commands.models",
    "posture.commands.monitor",
    "posture.commands.calibrate",
    "posture.commands.analyze",
    "posture.commands.report",
    "posture.commands.autostart",
    "posture.commands.doctor",
    "posture.commands.config",
    "posture.commands.forget",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the full parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="posture",
        description="Watches your desk posture through the webcam and nudges you kindly.",
    )
    parser.add_argument("--version", action="version", version=f"posture {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, and MediaPipe's and OpenCV's native log output (silenced by default)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def configure_logging(verbose: bool) -> None:
    """One place for logging: warnings by default, debug with --verbose; stderr only."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if verbose else "posture: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    from posture.adapters import native_logs

    native_logs.set_verbose(verbose)


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwinding like Ctrl-C.

    A subclass on purpose: CPython 3.11 remembers a bare KeyboardInterrupt that passed through
    an `exec` of source text (dataclasses build their methods that way, so a signal during an
    import does it), and a process started as `python -m posture` then ends by SIGINT whatever
    exit code we return (the `posture` console script is not affected).
    """


def _terminate_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so every command's `finally` closes its history and files.

    Both wait for a native call under way to end (`posture.interrupts`). The monitor installs
    its own handlers (a clean stop after the current frame) on top.
    """
    import signal
    import threading

    from posture import interrupts

    def on_term(signum: int, _frame: object) -> None:
        interrupts.interrupt(Terminated(), "SIGTERM")

    def on_int(signum: int, _frame: object) -> None:
        interrupts.interrupt(KeyboardInterrupt(), "SIGINT")

    interrupts.reset()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_int)


def _interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """Find the interrupt behind `exc`, if any.

    Python 3.11 wraps one raised during class creation (in a `__set_name__`) in a RuntimeError.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        cause = cause.__cause__
    return None


EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of our output went away (`posture ... | head`): 128 + SIGPIPE, what
a shell reports for a program SIGPIPE ended (`yes | head`), so scripts can tell it from an error."""


def _stdout_gone() -> int:
    """Quietly end a command whose reader closed the pipe (the standard recipe).

    Python ignores SIGPIPE, so the write raised BrokenPipeError; whatever is still buffered
    would raise again when the interpreter flushes stdout at exit ("Exception ignored ..."),
    so stdout is pointed at /dev/null first.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # no real stdout descriptor: nothing to flush
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    0 ok, 1 error, 2 usage, 3 another monitor is running, 130 Ctrl-C, 141 the reader of stdout
    went away, 143 SIGTERM.
    """
    try:  # a Ctrl-C while the command modules import (numpy, cv2) is an interruption too
        _terminate_as_interrupt()  # first: a signal during the imports below is remembered
        parser = build_parser()
        args = parser.parse_args(argv)
        configure_logging(args.verbose)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        code = int(args.func(args))
        if sys.stdout is not None:  # None under pythonw (a Windows autostart has no console)
            sys.stdout.flush()  # here, not at exit: a closed pipe is then seen below
        return code
    except BrokenPipeError:
        return _stdout_gone()
    except PostureError as exc:
        print(f"posture: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, RuntimeError) as exc:
        stop = _interruption(exc)
        if stop is None:
            raise
        if isinstance(stop, Terminated):  # 143 and 130, as shells report them
            print("posture: terminated", file=sys.stderr)
            return 143
        print("posture: interrupted", file=sys.stderr)
        return 130
    finally:
        from posture import interrupts

        interrupts.reset()  # a command run in-process after this one starts clean


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
