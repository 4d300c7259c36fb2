"""`posture monitor`, and `posture snooze|resume|status` for a running monitor."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from posture.adapters import control
from posture.commands import add_model_option
from posture.core.durations import format_duration_exact, parse_duration_s
from posture.core.errors import ControlError
from posture.core.messages import plural

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture monitor`, `snooze`, `resume`, `status`."""
    p = sub.add_parser("monitor", help="watch your posture and nudge you (runs until stopped)")
    p.add_argument("--source", help="camera index (0), video file, image folder or stream URL")
    p.add_argument("--profile", help="calibration profile name (default from config: desk)")
    add_model_option(p)
    p.add_argument("--db", type=Path, help="history database file (default: user data dir)")
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument("--preview", action="store_true", help="show an OpenCV window with the skeleton")
    p.add_argument("--no-notify", action="store_true", help="print alerts instead of notifying")
    p.add_argument(
        "--fast",
        action="store_true",
        help="play video files as fast as possible instead of in real time",
    )
    p.add_argument(
        "--max-seconds", type=_positive_seconds, help="stop after this many seconds (> 0)"
    )
    p.add_argument(
        "--no-control",
        action="store_true",
        help="do not open the control socket (snooze/resume/status)",
    )
    p.set_defaults(func=run)

    s = sub.add_parser("snooze", help="pause alerts of the running monitor (e.g. 30m, 1h)")
    s.add_argument("duration", help="30m, 1h, 1h30m, 90s or a number of minutes")
    s.set_defaults(func=_snooze)
    r = sub.add_parser("resume", help="lift a snooze of the running monitor")
    r.set_defaults(func=_resume)
    st = sub.add_parser("status", help="what the running monitor sees now")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)


def _positive_seconds(text: str) -> float:
    """Parse a number of seconds above 0 (an argparse type: a usage error otherwise, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a number of seconds above 0")
    return value


def run(args: argparse.Namespace) -> int:
    """Build the pipeline from settings and run it."""
    from posture.adapters.settings import load_settings, write_template_if_missing
    from posture.monitor_setup import build_monitor

    if args.config is None:
        created = write_template_if_missing()
        if created is not None:
            print(f"posture: wrote a commented settings file to {created}", file=sys.stderr)
    loaded = load_settings(args.config)
    monitor, cleanup = build_monitor(args, loaded)
    try:
        result = monitor.run()
    finally:
        cleanup()
    shares = ""
    if result.last_verdict is not None:
        shares = f", last state {result.last_verdict.state}"
    print(
        f"posture: monitored {result.seconds:.0f} s, {plural(result.analysed, 'frame')} "
        f"analysed, {plural(len(monitor.session.alerts), 'alert')}{shares}; "
        f"stopped by {result.stopped_by}",
        file=sys.stderr,
    )
    return 0


def _snooze(args: argparse.Namespace) -> int:
    try:
        seconds = parse_duration_s(args.duration)
    except ValueError as exc:
        raise ControlError(str(exc)) from exc
    reply = control.send({"cmd": "snooze", "seconds": seconds})
    released = reply.get("camera_released")  # None: the monitor has no source open yet
    note = ""
    if released is True:
        note = "; the camera is released meanwhile"
    elif released is False:
        note = " (the video keeps playing)"
    # the parsed duration, not the words given: a bare "30" means minutes, and says so
    print(f"alerts snoozed for {format_duration_exact(seconds)}{note}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    control.send({"cmd": "resume"})
    print("alerts resumed")
    return 0


def _status(args: argparse.Namespace) -> int:
    reply = control.send({"cmd": "status"})
    status = reply.get("status", {})
    if args.json:
        print(json.dumps(status))
    else:
        from posture.monitor import format_status

        print(format_status({"state": "?", "faults": [], **status}))
    return 0
