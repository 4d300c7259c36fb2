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

from posture.commands import history_of
from posture.core.errors import PeriodError, ReportError
from posture.core.summary import History, MinuteRows, Summary, day_bounds, summarize

log = logging.getLogger(__name__)

FORMATS = ("text", "html", "csv", "json")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DATE_FORMATS_HELP = (
    'YYYY-MM-DD (e.g. 2024-05-06), "today", "yesterday", a weekday name such as "monday" '
    '(the most recent one, today included), or "-N" for N days ago (e.g. -3)'
)
FIRST_DAY = date(1970, 1, 1)
"""The earliest day a report covers: the history counts time from the Unix epoch."""
LAST_DAY = date.max - timedelta(days=1)
"""The latest: a period ends at the midnight after its last day, which must be a date too."""


def parse_day(text: str, today: date) -> date:
    """Parse a user's date; raises PeriodError listing the accepted formats."""
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
            raise PeriodError(f"bad date {text!r}: {exc}. Accepted: {DATE_FORMATS_HELP}") from exc
    raise PeriodError(f"bad date {text!r}. Accepted: {DATE_FORMATS_HELP}")


def local_tz(name: str | None = None) -> tuple[tzinfo, str]:
    """Pick the report zone: `name` (IANA, e.g. Europe/Paris), else $TZ, else the system's."""
    cand = name or os.environ.get("TZ", "").lstrip(":") or None
    if cand:
        try:
            return ZoneInfo(cand), cand
        except (ZoneInfoNotFoundError, ValueError) as exc:
            if name:
                raise PeriodError(
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


def _option_day(option: str, text: str, today: date) -> date:
    """Parse the date given to `option`, refusing days outside FIRST_DAY..LAST_DAY.

    Beyond them the date arithmetic of the period (its end midnight, the 30-day trend) overflows.
    """
    d = parse_day(text, today)
    if not FIRST_DAY <= d <= LAST_DAY:
        raise PeriodError(f"{option} {d} is out of range: reports cover {FIRST_DAY} to {LAST_DAY}")
    return d


def resolve_period(args: argparse.Namespace, today: date) -> Period:
    """--day / --week / --from --to (default: today) -> Period; PeriodError when unusable."""
    if args.week:
        return Period(today - timedelta(days=6), today)
    if args.from_day or args.to_day:
        if not args.from_day:
            raise PeriodError("--to needs --from (e.g. --from 2024-05-01 --to 2024-05-07)")
        first = _option_day("--from", args.from_day, today)
        if args.to_day:
            last = _option_day("--to", args.to_day, today)
            if last < first:
                raise PeriodError(f"--to {last} is before --from {first}; swap them")
        elif first > today:
            raise PeriodError(
                f"--from {first} is after today ({today}), where a range without --to ends; "
                "give an earlier --from, or --to as well"
            )
        else:
            last = today
        if (last - first).days > 366:
            raise PeriodError("a report covers at most 367 days; choose a shorter period")
        return Period(first, last)
    d = _option_day("--day", args.day, today) if args.day else today
    return Period(d, d)


def load_summary(db: Path, period: Period, tz: tzinfo) -> tuple[Summary, str, list[str]]:
    """Summary for the period, a friendly message when it is empty, notices.

    A missing database gives an empty summary (and never creates the file), so every format
    still renders a valid document.
    """
    from posture.adapters.store import HistoryStore
    from posture.core.messages import plural

    if not db.exists():
        return (
            summarize(History(MinuteRows.empty()), period.first, period.last, tz),
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
        analysed = store.count_sessions("analyze", *day_bounds(period.first, period.last, tz))
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
        if analysed:  # videos (analyze, monitor --fast) are kept out of the days' reports
            msg += (
                f" {plural(analysed, 'analysed video')} in that time "
                f"{'is' if analysed == 1 else 'are'} kept apart: "
                "`posture analyze VIDEO --report html` reports on one."
            )
        return summary, msg, notices
    return summary, "", notices


def _label(p: Period) -> str:
    return p.first.isoformat() if p.first == p.last else f"{p.first}_to_{p.last}"


REPORT_PREFIX = "posture-report-"
_SUFFIXES = {fmt: "txt" if fmt == "text" else fmt for fmt in FORMATS}


def reports_dir() -> Path:
    """Where a report goes without --out: `<user data dir>/posture/reports`."""
    import platformdirs

    return Path(platformdirs.user_data_dir("posture", appauthor=False)) / "reports"


def written_reports(directory: Path | None = None) -> list[Path]:
    """Return the reports posture wrote in `directory` (default: `reports_dir()`), for forget.

    Only names `_default_out` gives: they hold the history's numbers; anything else the user
    put there is not ours to delete.
    """
    directory = directory or reports_dir()
    if not directory.is_dir():
        return []
    return sorted(
        p
        for suffix in sorted(set(_SUFFIXES.values()))
        for p in directory.glob(f"{REPORT_PREFIX}*.{suffix}")
        if p.is_file()
    )


def _default_out(period: Period, fmt: str) -> Path:
    d = reports_dir()
    try:  # posture's own folder, owner-only like the history beside it
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)
    except OSError as exc:
        raise ReportError(
            f"cannot create the reports folder {d}: {exc.strerror}; choose --out PATH"
        ) from exc
    return d / f"{REPORT_PREFIX}{_label(period)}.{_SUFFIXES[fmt]}"


def write_report_file(out: Path, content: str) -> None:
    """Write a report, owner-only when it creates the file: it holds the history's numbers.

    An existing file keeps its mode (the user chose it).
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {out}: {exc.strerror}; choose another --out PATH"
        ) from exc


def run(args: argparse.Namespace, *, today: date | None = None) -> int:
    """Make the report; `today` is for tests (default: the local date now)."""
    tz, tz_name = local_tz(args.tz)
    today = today or datetime.now(tz).date()
    period = resolve_period(args, today)
    db = history_of(args)
    summary, message, notices = load_summary(db, period, tz)
    for n in notices:
        print(f"posture: {n}", file=sys.stderr)

    fmt = args.format
    out: Path | None = Path(args.out).expanduser() if args.out and args.out != "-" else None
    if summary.empty:
        if fmt in ("text", "html"):
            print(message)
            return 0
        print(f"posture: {message}", file=sys.stderr)

    if fmt == "text" and out is None and not args.open:
        from posture.report_text import print_text

        print_text(summary, tz)
        return 0

    content = _render(fmt, summary, tz, tz_name, message)
    if out is None and (fmt == "html" and args.out != "-" or args.open):
        out = _default_out(period, fmt)
    if out is None:
        sys.stdout.write(content)
        return 0
    write_report_file(out, content)
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

        return render_json(summary, tz, tz_name=tz_name, message=message)
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
    p.add_argument(
        "--db",
        metavar="PATH",
        help="history database (default: [store] path in the settings, else the user data dir)",
    )
    p.add_argument(
        "--config", type=Path, metavar="PATH", help="settings file (default: user config dir)"
    )
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone for days and clock times, e.g. Europe/Berlin (default: the system's)",
    )
    p.set_defaults(func=run)
