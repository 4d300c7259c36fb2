"""`posture config path|show|init`: where the settings file is, and the effective settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from posture.adapters import settings as settings_adapter


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `posture config` and its actions."""
    p = subparsers.add_parser(
        "config",
        help="show the settings file and the effective settings",
        description="Settings live in a TOML file; every key is optional.",
    )
    sub = p.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    sp = sub.add_parser("path", help="print the settings file path")
    sp.set_defaults(func=_path)
    ss = sub.add_parser(
        "show", help="print the effective settings, with where each value came from"
    )
    ss.set_defaults(func=_show)
    si = sub.add_parser("init", help="write the commented settings template if there is none")
    si.set_defaults(func=_init)
    for action in (sp, ss, si):  # as every other command takes it
        action.add_argument("--config", type=Path, help="settings file (default: user config dir)")


def _path(args: argparse.Namespace) -> int:
    print(args.config or settings_adapter.config_path())
    return 0


def _show(args: argparse.Namespace) -> int:
    print(settings_adapter.render_effective(settings_adapter.load_settings(args.config)))
    return 0


def _init(args: argparse.Namespace) -> int:
    path = args.config or settings_adapter.config_path()
    written = settings_adapter.write_template_if_missing(path)
    print(f"wrote {written}" if written else f"{path} already exists; left unchanged")
    return 0
