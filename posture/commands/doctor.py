"""`posture doctor`: is everything the monitor needs in place? A table with a fix for each failure.

Checks, in the order the monitor needs them: the settings file is valid; the pose model is
present, matches its pinned checksum and loads; the camera (or `--source`) opens and gives a
usable frame; a notification server is reachable (`--notify-test` sends a real test notification
and reports the backend that delivered it); the history database is writable; the profile is
valid for this posture and model. Also shown, never failing: whether a monitor is running and
whether screen-lock detection works here.

Each check is `ok`, `warn` (works, but not as well as it could) or `fail`; any `fail` makes the
exit code 1. Doctor never provisions or downloads a model and never writes history rows: it looks,
and says what to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from posture.commands import add_model_option
from posture.core.config import Settings
from posture.core.errors import PostureError
from posture.core.messages import plural

if TYPE_CHECKING:
    from posture.adapters.settings import LoadedSettings

log = logging.getLogger(__name__)

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture doctor`."""
    p = sub.add_parser("doctor", help="check camera, model, notifications, history and profile")
    p.add_argument("--source", help="camera index, video file or folder to test (default: config)")
    p.add_argument("--profile", help="profile to check (default from config: desk)")
    add_model_option(p)
    p.add_argument("--db", type=Path, help="history database file (default: user data dir)")
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument("--notify-test", action="store_true", help="send a real test notification")
    p.add_argument("--no-camera", action="store_true", help="skip the camera check")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every check, print the table (or JSON); 1 when anything failed."""
    checks = diagnose(args)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        print_table(checks)
    return 1 if any(c.status == "fail" for c in checks) else 0


def diagnose(args: argparse.Namespace) -> list[Check]:
    """All checks, each isolated: one failing never stops the others."""
    from posture.adapters.store import history_path

    loaded, config_check = _check_config(args.config)
    settings = loaded.settings
    checks = [config_check]
    model_sha: str | None = None

    def model() -> Check:
        nonlocal model_sha
        check, model_sha = _check_model(args.model, loaded)
        return check

    steps: list[Callable[[], Check]] = [model]
    if not args.no_camera:
        steps.append(lambda: _check_camera(args.source or settings.monitor.source))
    steps += [
        lambda: _check_notifier(settings, send=args.notify_test),
        lambda: _check_history(history_path(args.db, settings.store.path)),
        lambda: _check_profile(args.profile or settings.monitor.profile, model_sha),
        _check_monitor_running,
        _check_screen_lock,
    ]
    for step in steps:
        try:
            checks.append(step())
        except PostureError as exc:  # a check that could not finish is a failed check
            checks.append(Check(getattr(step, "__name__", "check"), "fail", str(exc)))
    return checks


# -- the checks -------------------------------------------------------------------------------


def _check_config(path: Path | None) -> tuple[LoadedSettings, Check]:
    """Load the settings with each key's source (defaults when the file is broken); check them."""
    from posture.adapters.settings import LoadedSettings, config_path, load_settings
    from posture.core.errors import ConfigError

    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        where = path or config_path()
        fix = (
            f"edit {where} (see `posture config show` for every setting), "
            "or delete it to start from the defaults"
            if where.exists()
            else f"check the path, or create it with `posture config init --config {where}`"
        )
        return LoadedSettings(Settings(), where, True, {}), Check("config", "fail", str(exc), fix)
    if not loaded.file_exists:
        return loaded, Check("config", "ok", f"defaults ({loaded.path} not created yet)")
    return loaded, Check("config", "ok", f"{loaded.path} is valid")


def _check_model(value: str | None, loaded: LoadedSettings) -> tuple[Check, str | None]:
    from posture.adapters import models
    from posture.adapters.pose import MediaPipePose
    from posture.app import model_request
    from posture.core.errors import ModelError

    refetch = "run `posture models fetch`"
    try:
        explicit, name, given = model_request(value, loaded)
        if given != "--model":  # a bad file in the config is mended there, not by fetching
            refetch = f"correct {given}"
        if explicit is not None:
            resolved = models.resolve(explicit=explicit, given=given)
            path, sha = resolved.path, resolved.sha256
        else:
            spec = models.load_manifest().get(name)
            refetch = models.fetch_hint(spec)
            found = models.verify_cached(spec)
            ok = [p for p, s in found if s == "ok"]
            if not ok:
                states = ", ".join(f"{p.name}: {s}" for p, s in found) or "nothing pinned"
                return Check(
                    "model",
                    "fail",
                    f"no verified {spec.name} model in {models.cache_dir()} ({states})",
                    refetch,
                ), None
            path = ok[0]
            sha = models.pinned_digests(spec)[path.name]
        pose = MediaPipePose(path, mode="image")  # it must also load, not just hash right
        pose.close()
    except ModelError as exc:
        fix = f"{refetch}, or pass a good file with --model"
        return Check("model", "fail", str(exc), fix), None
    except (RuntimeError, ValueError) as exc:  # MediaPipe's own refusal to load a graph
        return Check(
            "model", "fail", f"{path} does not load: {exc}", f"{refetch} to provision a fresh copy"
        ), None
    if pose.pruned_ops is not None:
        kept, total = pose.pruned_ops
        lean = f"; runs without its segmentation head ({kept} of {total} operators)"
    else:
        lean = f"; runs with its segmentation head ({pose.unpruned_reason})"
    detail = f"{path.name} verified (sha256 {sha[:12]}...) and loads{lean}"
    return Check("model", "ok", detail), sha


def _check_camera(spec: str) -> Check:
    from posture.adapters.camera import open_source
    from posture.core import quality
    from posture.core.errors import CameraUnavailable, SourceError

    try:
        source = open_source(spec)
    except (CameraUnavailable, SourceError) as exc:
        return Check("camera", "fail", str(exc), _camera_fix(spec))
    try:
        frame = source.read()
    except CameraUnavailable as exc:
        return Check("camera", "fail", f"{source.description} opened but {exc}", _camera_fix(spec))
    finally:
        source.close()
    if frame is None:
        return Check(
            "camera",
            "fail",
            f"{source.description} gave no frame",
            "check the file is a readable video or image folder",
        )
    h, w = frame.image.shape[:2]
    issue = quality.image_issue(quality.image_stats(frame.image), frozen=False)
    if issue:
        return Check(
            "camera",
            "warn",
            f"{source.description}: {w} x {h}, but the image is {issue}",
            "open the privacy shutter, uncover the lens or add light",
        )
    return Check("camera", "ok", f"{source.description}: {w} x {h} frame read")


def _camera_fix(spec: str) -> str:
    if spec.strip().isdigit():
        return (
            "close programs using the camera (video calls), try another index with "
            "--source 1, or (Linux) add yourself to the 'video' group"
        )
    return "check the path or URL given with --source or monitor.source"


def _check_notifier(settings: Settings, *, send: bool) -> Check:
    from posture.adapters.notify import build_notifier

    order = settings.notify.backends
    chain = build_notifier(order)
    names = [b.name for b in chain.backends]
    if names == ["none"]:
        return Check(
            "notifications",
            "warn",
            "switched off (notify.backends = ['none'])",
            "set notify.backends in the config to get nudges",
        )
    if list(order) == ["console"]:  # what was chosen, not what this OS left of the list
        # chosen on purpose: no desktop server is needed, and the console always works
        return Check("notifications", "ok", "console only (notify.backends): nudges print here")
    if send:
        result = chain.notify(
            "posture doctor", "Test notification: if you can read this, nudges will reach you."
        )
        if not result.delivered:
            return Check(
                "notifications", "fail", f"test not delivered: {result.error}", _notify_fix()
            )
        if result.channel == "console" and names != ["console"]:
            return Check(
                "notifications",
                "fail",
                f"no desktop backend worked ({', '.join(names[:-1])}); only the "
                "console got the test",
                _notify_fix(),
            )
        return Check("notifications", "ok", f"test notification delivered via {result.channel}")
    server = notification_server_running()
    if server is False:
        return Check(
            "notifications",
            "fail",
            "no notification server on the session bus (org.freedesktop.Notifications)",
            _notify_fix(),
        )
    detail = f"backends {', '.join(names)}"
    if server is None:
        return Check(
            "notifications",
            "warn",
            f"{detail}; could not check for a server here",
            "run `posture doctor --notify-test` to send a test notification",
        )
    return Check("notifications", "ok", f"{detail}; a notification server is running")


def _notify_fix() -> str:
    if sys.platform.startswith("linux"):
        return (
            "run inside your desktop session (DBUS_SESSION_BUS_ADDRESS set), with a "
            "notification daemon (GNOME/KDE built in, or dunst/mako); install libnotify-bin "
            "for notify-send"
        )
    if sys.platform == "darwin":
        return "allow notifications for your terminal in System Settings > Notifications"
    return "allow notifications for PowerShell in Settings > System > Notifications"


def notification_server_running() -> bool | None:
    """Linux: does org.freedesktop.Notifications have an owner on the session bus? None: unknown."""
    if not sys.platform.startswith("linux"):
        return None
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    exe = shutil.which("dbus-send")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [
                exe,
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("dbus-send failed: %s", exc)
        return None
    if proc.returncode != 0:
        return False
    return "boolean true" in proc.stdout


def _check_history(path: Path | None) -> Check:
    from posture.adapters.store import HistoryStore
    from posture.core.errors import StoreError

    try:
        store = HistoryStore.open(path)
    except (StoreError, OSError) as exc:
        return Check("history", "fail", str(exc), _history_fix(path))
    db = store.path
    try:
        schema = store.schema_version
        notices = store.notices  # e.g. a corrupt file moved aside: this line is where it is said
    finally:
        store.close()
    try:
        # Take the write lock and let go: proves writes work without adding a row.
        conn = sqlite3.connect(db, timeout=2.0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("history", "fail", f"{db} is not writable: {exc}", _history_fix(db))
    if notices:
        detail = f"{db} writable (schema {schema}); " + "; ".join(notices)
        return Check("history", "warn", detail, "nothing to do: the old file is kept where it says")
    return Check("history", "ok", f"{db} writable (schema {schema})")


def _history_fix(path: Path | None) -> str:
    where = f"{path.parent}" if path is not None else "the user data directory"
    return f"make {where} writable by you, or choose another file with --db or store.path"


def _check_profile(name: str, model_sha: str | None) -> Check:
    from posture.adapters.profiles import ProfileStore, current_metric_version
    from posture.core.calibration import check_profile
    from posture.core.errors import ProfileError, ProfileMismatchError

    store = ProfileStore()
    try:
        if not store.exists(name):
            return Check(
                "profile",
                "warn",
                f"no profile {name!r}: the monitor judges against population norms",
                f"run `posture calibrate --profile {name}` for alerts that fit you",
            )
        profile = store.load(name)
        check_profile(
            profile,
            view=profile.view,
            metric_version=current_metric_version(),
            model_sha256=model_sha,
        )
    except ProfileMismatchError as exc:  # its own fix names the model where that is the cause
        return Check("profile", "fail", str(exc), exc.fix)
    except ProfileError as exc:
        return Check("profile", "fail", str(exc), f"run `posture calibrate --profile {name}`")
    return Check("profile", "ok", f"{name!r} ({profile.view} view) is valid")


def _check_monitor_running() -> Check:
    from posture.adapters import control
    from posture.core.errors import ControlError

    try:
        reply = control.send({"cmd": "status"}, timeout_s=1.0)
    except ControlError:
        return Check("monitor", "ok", "not running (start it with `posture monitor`)")
    return Check("monitor", "ok", f"running: {reply.get('status', {}).get('state', '?')}")


def _check_screen_lock() -> Check:
    from posture.adapters.screenlock import default_probe

    probe = default_probe()
    state = probe.locked()
    if state is None:
        why = getattr(probe, "disabled_reason", "") or probe.description
        return Check(
            "screen lock",
            "ok",
            f"not detected here ({why}); the camera stays open "
            "while the screen is locked (snooze to release it)",
        )
    return Check("screen lock", "ok", f"detected via {probe.description} (locked: {state})")


# -- output -----------------------------------------------------------------------------------

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def print_table(checks: list[Check], file: Any = None) -> None:
    """Print the rich table: check, status, what was found, and the fix for anything not ok.

    Every text we did not write ourselves is escaped: rich reads `[...]` as markup, and paths,
    TOML tables (`[notify]`) and error messages are full of brackets.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = file or sys.stdout
    console = Console(file=out, width=None if out.isatty() else 140, highlight=False)
    table = Table(title="posture doctor", show_lines=False)
    for col in ("check", "status", "details", "fix"):
        table.add_column(col, overflow="fold")
    for c in checks:
        table.add_row(
            escape(c.name),
            f"[{_STYLE[c.status]}]{c.status.upper()}[/]",
            escape(c.detail),
            escape(c.fix) if c.status != "ok" else "",
        )
    console.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        problems = plural(len(failed), "problem")
        console.print(f"[bold red]{problems}:[/] {escape(', '.join(failed))}")
    else:
        console.print("[green]All good.[/]")
