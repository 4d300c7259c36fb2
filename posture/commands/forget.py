"""`posture forget`: delete what posture stored about you (history, profiles; optionally more).

Lists exactly which files will go, asks for a typed "yes", and deletes them. `--yes` skips the
question for scripts; without a terminal and without `--yes` it refuses, so a pipe or a cron job
can never delete by accident. A running monitor holds the history open: stop it first.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from posture.core.errors import ControlError, PostureError

log = logging.getLogger(__name__)


class ForgetError(PostureError):
    """Refused: no confirmation possible, or a monitor is still running."""

    exit_code = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture forget`."""
    p = sub.add_parser(
        "forget",
        help="delete your posture history and calibration profiles (asks first)",
    )
    p.add_argument("--db", type=Path, help="history database file (default: as configured)")
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument("--models", action="store_true", help="also delete the downloaded pose models")
    p.add_argument("--settings", action="store_true", help="also delete the settings file")
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask (for scripts); required when there is no terminal",
    )
    p.set_defaults(func=run)


def targets(args: argparse.Namespace) -> list[Path]:
    """Every file or directory this invocation would delete, existing ones only."""
    from posture.adapters import models
    from posture.adapters.profiles import profiles_dir
    from posture.adapters.settings import config_path, load_settings
    from posture.adapters.store import default_db_path

    settings_file = args.config or config_path()
    db = args.db
    if db is None:
        # a --config that does not exist is an error, never the default history by mistake
        exists = args.config is not None or settings_file.is_file()
        configured = load_settings(args.config).settings.store.path if exists else ""
        db = Path(configured).expanduser() if configured else default_db_path()
    found: list[Path] = []
    # the database, its WAL side files, and any corrupt copies moved aside earlier
    found += [db.with_name(db.name + s) for s in ("", "-wal", "-shm")]
    if db.parent.is_dir():
        found += sorted(db.parent.glob(db.name + ".corrupt-*"))
    found.append(profiles_dir())
    if args.models:
        found.append(models.cache_dir())
    if args.settings:
        found.append(settings_file)
    seen: list[Path] = []
    for p in found:
        if (p.exists() or p.is_symlink()) and p not in seen:
            seen.append(p)
    return seen


def run(args: argparse.Namespace) -> int:
    """List, confirm, delete."""
    from posture.adapters import control

    try:
        control.send({"cmd": "status"}, timeout_s=1.0)
    except ControlError:
        pass  # no monitor answering: nothing holds the history open
    else:
        raise ForgetError("a posture monitor is running; stop it first, then run `posture forget`")
    paths = targets(args)
    if not paths:
        print("posture has nothing stored to forget.")
        return 0
    print("This deletes:")
    for p in paths:
        print(f"  {p}{'/' if p.is_dir() else ''}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ForgetError(
                "no terminal to confirm on; run `posture forget --yes` to delete without asking"
            )
        answer = input("Type yes to delete these for good: ").strip().lower()
        if answer not in ("yes", "y"):
            print("Nothing deleted.")
            return 1
    failed = []
    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError as exc:
            failed.append(f"{p}: {exc.strerror}")
    if failed:
        raise PostureError("could not delete:\n  " + "\n  ".join(failed))
    print(f"Deleted {len(paths)} item{'s' if len(paths) != 1 else ''}.")
    return 0
