"""`posture report`: slouch reports from the history database (text, HTML, CSV, JSON)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import webbrowser
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posture.core.errors import ReportError
from posture.core.summary import Summary, day_bounds, summarize

log = logging.getLogger(__name__)

FORMATS = ("text", "html", "csv", "json")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DATE_FORMATS_HELP = (
    'YYYY-MM-DD (e.g. 2024-05-06), "today", "yesterday", a weekday name such as "monday" '
    '(the most recent one, today included), or "-N" for N days ago (e.g. -3)'
)


def parse_day(text: str, today: date) -> date:
    """Parse a user's date; raises ReportError listing the accepted formats."""
    t = text.strip().lower()
    if t == "today":
        return today
    if t == "yesterday":
        return today - timedelta(days=1)
    if t in _WEEKDAYS:
        return today - timedelta(days=(today.weekday() - _WEEKDAYS.index(t)) % 7)
    if re.fullmatch(r"-\d{1,4}", t):
        return today - timedelta(days=int(t[1:]))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            return date.fromisoformat(t)
        except ValueError as exc:
            raise ReportError(f"bad date {text!r}: {exc}. Accepted: {DATE_FORMATS_HELP}") from exc
    raise ReportError(f"bad date {text!r}. Accepted: {DATE_FORMATS_HELP}")


def local_tz(name: str | None = None) -> tuple[tzinfo, str]:
    """Pick the report zone: `name` (IANA, e.g. Europe/Paris), else $TZ, else the system's."""
    cand = name or os.environ.get("TZ", "").lstrip(":") or None
    if cand:
        try:
            return ZoneInfo(cand), cand
        except (ZoneInfoNotFoundError, ValueError) as exc:
            if name:
                raise ReportError(
                    f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC"
                ) from exc
    try:
        with open("/etc/localtime", "rb") as fh:
            tz = ZoneInfo.from_file(fh)
        link = os.path.realpath("/etc/localtime")
        label = link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "local time"
        return tz, label
    except OSError:
        fixed = datetime.now().astimezone().tzinfo
        return fixed, str(fixed)  # type: ignore[return-value]


@dataclass(frozen=True)
class Period:
    """Local days first..last inclusive."""

    first: date
    last: date


def resolve_period(args: argparse.Namespace, today: date) -> Period:
    """--day / --week / --from --to (default: today) -> Period."""
    if args.week:
        return Period(today - timedelta(days=6), today)
    if args.from_day or args.to_day:
        if not args.from_day:
            raise ReportError("--to needs --from (e.g. --from 2024-05-01 --to 2024-05-07)")
        first = parse_day(args.from_day, today)
        last = parse_day(args.to_day, today) if args.to_day else today
        if last < first:
            raise ReportError(f"--to {last} is before --from {first}; swap them")
        if (last - first).days > 366:
            raise ReportError("a report covers at most 367 days; choose a shorter period")
        return Period(first, last)
    d = parse_day(args.day, today) if args.day else today
    return Period(d, d)


def load_summary(db: Path, period: Period, tz: tzinfo) -> tuple[Summary | None, str, list[str]]:
    """Summary for the period (None when nothing is stored), a friendly message, notices."""
    from posture.adapters.store import HistoryStore

    if not db.exists():
        return (
            None,
            (
                f"No posture history yet (looked for {db}). Run `posture monitor` for a "
                "while, then ask again."
            ),
            [],
        )
    writable = os.access(db, os.W_OK) and os.access(db.parent, os.W_OK)
    with HistoryStore.open(db, readonly=not writable) as store:
        trend_first = min(period.first, period.last - timedelta(days=29))
        lo, hi = day_bounds(trend_first, period.last, tz)
        history = store.load_history(lo, hi)
        notices = list(store.notices)
        has_any = store.time_range() is not None
    summary = summarize(history, period.first, period.last, tz)
    if summary.empty:
        when = (
            f"on {period.first:%a %-d %b %Y}"
            if period.first == period.last
            else f"between {period.first:%-d %b} and {period.last:%-d %b %Y}"
        )
        msg = (
            f"Nothing was monitored {when}."
            if has_any
            else f"The history in {db} is empty so far. Run `posture monitor` for a while, then "
            "ask again."
        )
        return summary, msg, notices
    return summary, "", notices


def _label(p: Period) -> str:
    return p.first.isoformat() if p.first == p.last else f"{p.first}_to_{p.last}"


def _default_out(period: Period, fmt: str) -> Path:
    import platformdirs

    d = Path(platformdirs.user_data_dir("posture", appauthor=False)) / "reports"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"posture-report-{_label(period)}.{'txt' if fmt == 'text' else fmt}"


def run(args: argparse.Namespace, *, today: date | None = None) -> int:
    """Make the report; `today` is for tests (default: the local date now)."""
    from posture.adapters.store import default_db_path

    tz, tz_name = local_tz(args.tz)
    today = today or datetime.now(tz).date()
    period = resolve_period(args, today)
    db = Path(args.db).expanduser() if args.db else default_db_path()
    summary, message, notices = load_summary(db, period, tz)
    for n in notices:
        print(f"posture: {n}", file=sys.stderr)

    fmt = args.format
    out: Path | None = Path(args.out).expanduser() if args.out and args.out != "-" else None
    if summary is None or summary.empty:
        if fmt in ("text", "html"):
            print(message)
            return 0
        print(f"posture: {message}", file=sys.stderr)

    if fmt == "text" and out is None and not args.open:
        from posture.report_text import print_text

        print_text(summary, tz)  # type: ignore[arg-type]
        return 0

    content = _render(fmt, summary, tz, tz_name, message)  # type: ignore[arg-type]
    if out is None and (fmt == "html" and args.out != "-" or args.open):
        out = _default_out(period, fmt)
    if out is None:
        sys.stdout.write(content)
        return 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {out}: {exc.strerror}; choose another --out PATH"
        ) from exc
    print(f"Report written to {out}", file=sys.stderr)
    if args.open and not webbrowser.open(out.resolve().as_uri()):
        print(f"posture: could not open a browser; open {out} yourself", file=sys.stderr)
    return 0


def _render(fmt: str, summary: Summary, tz: tzinfo, tz_name: str, message: str) -> str:
    if fmt == "html":
        from posture.report_html import render_html

        return render_html(summary, tz, tz_name=tz_name)
    if fmt == "csv":
        from posture.report_data import render_csv

        return render_csv(summary, tz)
    if fmt == "json":
        from posture.report_data import render_json

        return render_json(summary, tz, message=message)
    from posture.report_text import render_text

    return render_text(summary, tz)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `posture report`."""
    p = subparsers.add_parser(
        "report",
        help="show or export your slouch report (text, HTML, CSV, JSON)",
        description=(
            "Summarise the posture history for a day, a week or a date range. "
            f"Dates: {DATE_FORMATS_HELP}. The score is good / (good + slouching) time."
        ),
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--day", metavar="DATE", help="one day (default: today)")
    when.add_argument("--week", action="store_true", help="the last 7 days, today included")
    when.add_argument("--from", dest="from_day", metavar="DATE", help="first day of a range")
    p.add_argument(
        "--to",
        dest="to_day",
        metavar="DATE",
        help="last day of a range (with --from; default today)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (terminal, default), html (one offline file), csv (per minute), "
        "json (all numbers); see docs/REPORTS.md",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="write to PATH ('-' for stdout); HTML goes to "
        "the posture data dir's reports/ folder when omitted",
    )
    p.add_argument("--open", action="store_true", help="open the written report (browser)")
    p.add_argument("--db", metavar="PATH", help="history database (default: the user data dir)")
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone for days and clock times, e.g. Europe/Berlin (default: the system's)",
    )
    p.set_defaults(func=run)
