"""`posture forget`: delete what posture stored about you (history, reports, profiles; more on ask).

Lists exactly which files will go, asks for a typed "yes", and deletes them. Only files posture
writes are deleted: a folder that may hold other files (the model cache can be any folder the
user names) loses posture's files, and goes itself only if that empties it; the rest is listed
as left alone. `--yes` skips the
question for scripts; without a terminal and without `--yes` it refuses, so a pipe or a cron job
can never delete by accident. A running monitor holds the history open: stop it first.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
from dataclasses import dataclass
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
        help="delete your posture history, reports and calibration profiles (asks first)",
    )
    p.add_argument("--db", type=Path, help="history database file (default: as configured)")
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument(
        "--models",
        action="store_true",
        help="also delete the pose models posture downloaded or built (other files stay)",
    )
    p.add_argument("--settings", action="store_true", help="also delete the settings file")
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask (for scripts); required when there is no terminal",
    )
    p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one `posture forget` deletes.

    `history` is the database it means (a monitor recording into it stops it). `delete` holds
    existing files (and the profiles folder, which is posture's alone). `tidy`
    holds folders that may also hold files posture did not write (the model cache can be any
    folder via $POSTURE_MODEL_DIR): only posture's files in them are in `delete`, and each goes
    itself only if that leaves it empty.
    """

    history: Path
    delete: list[Path]
    tidy: list[Path]

    def others(self) -> list[Path]:
        """Files in the `tidy` folders that are not posture's: they stay."""
        mine = set(self.delete)
        return [p for d in self.tidy if d.is_dir() for p in sorted(d.iterdir()) if p not in mine]


def plan(args: argparse.Namespace) -> Plan:
    """Every file this invocation would delete (existing ones only), and the folders to tidy."""
    from posture.adapters import models
    from posture.adapters.profiles import profiles_dir
    from posture.adapters.settings import config_path
    from posture.adapters.store import MONITOR_LOCK_SUFFIX
    from posture.commands import history_of
    from posture.commands.report import reports_dir, written_reports

    settings_file = args.config or config_path()
    db = history_of(args)
    found: list[Path] = []
    # the database, its WAL side files, and any corrupt copies moved aside earlier
    found += [db.with_name(db.name + s) for s in ("", "-wal", "-shm", MONITOR_LOCK_SUFFIX)]
    if db.parent.is_dir():
        found += sorted(db.parent.glob(db.name + ".corrupt-*"))
    found.append(profiles_dir())
    # reports written without --out hold the history's numbers: they go with it
    found += written_reports()
    tidy = [reports_dir()]
    if args.models:
        found += models.owned_files()
        tidy.append(models.cache_dir())
    if args.settings:
        found.append(settings_file)
    seen: list[Path] = []
    for p in found:
        if (p.exists() or p.is_symlink()) and p not in seen:
            seen.append(p)
    return Plan(history=db, delete=seen, tidy=tidy)


def run(args: argparse.Namespace) -> int:
    """List, confirm, delete."""
    from posture.adapters import control
    from posture.adapters.store import monitor_recording
    from posture.core.messages import plural

    try:
        control.send({"cmd": "status"}, timeout_s=1.0)
    except ControlError:
        pass  # no monitor answering: nothing holds the history open
    else:
        raise ForgetError("a posture monitor is running; stop it first, then run `posture forget`")
    todo = plan(args)
    paths = todo.delete
    if monitor_recording(todo.history):  # started with --no-control: no socket, but its lock
        raise ForgetError(
            f"a posture monitor is recording into {todo.history}; stop it first, then run "
            "`posture forget`"
        )
    if not paths:
        print("posture has nothing stored to forget.")
        return 0
    print("This deletes:")
    for p in paths:
        print(f"  {p}{'/' if p.is_dir() else ''}")
    others = todo.others()
    if others:
        print("Left alone (posture did not write them):")
        for p in others:
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
    for d in todo.tidy:
        with contextlib.suppress(OSError):  # not empty (the files left alone) or already gone
            d.rmdir()
    if failed:
        raise PostureError("could not delete:\n  " + "\n  ".join(failed))
    print(f"Deleted {plural(len(paths), 'item')}.")
    if others:
        n = len(others)
        print(f"Left {plural(n, 'item')} posture did not write, listed above.")
    return 0
