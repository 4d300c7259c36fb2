"""Terminal report: a few tidy rich tables (no colour when the output is not a terminal)."""

from __future__ import annotations

import io
from datetime import datetime, tzinfo

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from posture.core.events import FAULTS, STATES
from posture.core.summary import MIN_BREAK_S, DayStats, Summary

STATE_STYLE = {"good": "green", "slouching": "dark_orange", "away": "grey50", "unknown": "grey70"}


def period_label(s: Summary) -> str:
    """'Mon 6 May 2024' or 'Mon 6 May – Sun 12 May 2024'."""
    if s.first_day == s.last_day:
        return s.first_day.strftime("%a %-d %b %Y")
    return f"{s.first_day.strftime('%a %-d %b %Y')} – {s.last_day.strftime('%a %-d %b %Y')}"


def fmt_minutes(seconds: float) -> str:
    """'0 min', '42 min', '3 h 05 min'."""
    m = int(round(seconds / 60.0))
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def fmt_duration(seconds: float | None) -> str:
    """'45 s' below two minutes, else like `fmt_minutes`; '–' for None."""
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else fmt_minutes(seconds)


def fmt_score(score: float | None) -> str:
    """'75 %' or '–' when nothing upright was measured."""
    return "–" if score is None else f"{score:.0f} %"


def _bar(share: float | None, width: int = 20) -> str:
    if share is None:
        return ""
    n = int(round(max(0.0, min(1.0, share)) * width))
    return "█" * n + "·" * (width - n)


def _clock(t_unix: float | None, tz: tzinfo) -> str:
    return "…" if t_unix is None else datetime.fromtimestamp(t_unix, tz).strftime("%H:%M")


def build(s: Summary, tz: tzinfo) -> Group:
    """Build the report as rich renderables."""
    parts: list[object] = []
    title = Text(f"Posture report · {period_label(s)}", style="bold")
    parts.append(title)

    head = Table(box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
    head.add_column("what", style="bold")
    head.add_column("value")
    head.add_row("Score", Text(fmt_score(s.score_pct), style="bold"))
    head.add_row("", Text(s.score_definition, style="italic"))
    head.add_row("Monitored", fmt_minutes(s.monitored_s))
    for st in STATES:
        head.add_row(
            Text(st.capitalize(), style=STATE_STYLE[st]),
            f"{fmt_minutes(s.state_s[st]):>12}  {100 * s.share[st]:5.1f} %  {_bar(s.share[st])}",
        )
    parts.append(head)

    faults = Table(title="Minutes per fault", box=box.SIMPLE_HEAD, title_justify="left")
    faults.add_column("fault")
    faults.add_column("minutes", justify="right")
    for f in FAULTS:
        faults.add_row(f.replace("_", " "), f"{s.fault_minutes[f]:.1f}")
    parts.append(faults)

    ep = s.episode_stats
    ev = Table(
        title="Episodes, alerts and breaks",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_header=False,
    )
    ev.add_column("what")
    ev.add_column("value", justify="right")
    ev.add_row("slouch episodes", str(ep.count))
    ev.add_row("longest episode", fmt_minutes(ep.longest_s) if ep.count else "–")
    ev.add_row("median episode", fmt_minutes(ep.median_s) if ep.count else "–")
    ev.add_row(
        "nudges / escalations", f"{s.alert_counts['nudge']} / {s.alert_counts['escalation']}"
    )
    ev.add_row("median recovery after an alert", fmt_duration(s.median_recovery_s))
    ev.add_row("break reminders", str(s.alert_counts["break"]))
    ev.add_row(f"breaks taken (≥ {MIN_BREAK_S / 60:.0f} min away)", str(s.breaks_taken))
    parts.append(ev)

    if s.alerts:
        al = Table(title="Alerts", box=box.SIMPLE_HEAD, title_justify="left")
        for c in ("time", "kind", "text", "recovered after"):
            al.add_column(c)
        for a in s.alerts[:50]:
            al.add_row(
                datetime.fromtimestamp(a.t_unix, tz).strftime(
                    "%a %H:%M" if s.first_day != s.last_day else "%H:%M"
                ),
                a.kind,
                a.text,
                fmt_duration(a.recovery_s),
            )
        if len(s.alerts) > 50:
            al.caption = f"… and {len(s.alerts) - 50} more"
        parts.append(al)

    if s.first_day == s.last_day and s.episodes:
        et = Table(title="Longest episodes", box=box.SIMPLE_HEAD, title_justify="left")
        for c in ("from", "to", "minutes", "faults"):
            et.add_column(c)
        end_ref = (
            min(s.end_unix, float(s.minutes.t_unix[-1] + 60))
            if len(s.minutes.t_unix)
            else s.end_unix
        )
        longest = sorted(
            s.episodes,
            key=lambda e: (e.end_unix if e.end_unix is not None else end_ref) - e.start_unix,
            reverse=True,
        )[:5]
        for e in sorted(longest, key=lambda e: e.start_unix):
            dur = (e.end_unix if e.end_unix is not None else end_ref) - e.start_unix
            et.add_row(
                _clock(e.start_unix, tz),
                _clock(e.end_unix, tz),
                f"{dur / 60:.1f}",
                ", ".join(f.replace("_", " ") for f in e.faults),
            )
        parts.append(et)

    days = s.daily if s.first_day != s.last_day else s.trend_7
    parts.append(_days_table("Per day" if s.first_day != s.last_day else "Last 7 days", days))
    return Group(*parts)  # type: ignore[arg-type]


def _days_table(title: str, days: tuple[DayStats, ...]) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("day")
    t.add_column("monitored", justify="right")
    t.add_column("score", justify="right")
    t.add_column("")
    for d in days:
        t.add_row(
            d.day.strftime("%a %-d %b"),
            fmt_minutes(d.monitored_s),
            fmt_score(d.score_pct),
            _bar(None if d.score_pct is None else d.score_pct / 100.0),
        )
    return t


def render_text(s: Summary, tz: tzinfo, *, width: int = 100, color: bool = False) -> str:
    """Render the report as a string (ANSI colours only when `color`)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
    )
    console.print(build(s, tz))
    return buf.getvalue()


def print_text(s: Summary, tz: tzinfo, console: Console | None = None) -> None:
    """Print to the terminal, with colour when it is one."""
    (console or Console(highlight=False, emoji=False)).print(build(s, tz))
