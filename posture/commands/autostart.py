"""`posture autostart enable|disable|status`: start the monitor at login, or stop doing so."""

from __future__ import annotations

import argparse

from posture.adapters import autostart


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture autostart ...`."""
    p = sub.add_parser(
        "autostart",
        help="start `posture monitor` when you log in",
        description="XDG autostart entry on Linux (or a systemd user unit with --systemd), a "
        "LaunchAgent on macOS, a Startup-folder .cmd on Windows. The entry runs this Python "
        "with `-m posture monitor`. On Linux only one kind is kept: enabling one removes the "
        "other.",
    )
    asub = p.add_subparsers(dest="autostart_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("enable", _enable, "write the autostart entry (again, if the command changed)"),
        ("disable", _disable, "remove the autostart entry (every kind there, unless --systemd)"),
        ("status", _status, "show whether the monitor starts at login"),
    ):
        a = asub.add_parser(name, help=text)
        a.add_argument(
            "--systemd",
            action="store_true",
            help="Linux: use a systemd user unit instead of an XDG autostart entry",
        )
        a.set_defaults(func=func)


def _method(args: argparse.Namespace) -> str | None:
    return "systemd" if args.systemd else None


def _enable(args: argparse.Namespace) -> int:
    for line in autostart.enable(_method(args)):
        print(line)
    return 0


def _disable(args: argparse.Namespace) -> int:
    for line in autostart.disable(_method(args)):
        print(line)
    return 0


def _status(args: argparse.Namespace) -> int:
    methods = ["systemd"] if args.systemd else None
    for s in autostart.status(methods):
        print(f"{s.method}: {s.state} ({s.path})" + (f" - {s.detail}" if s.detail else ""))
    return 0
