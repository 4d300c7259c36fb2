"""Machine-readable reports: a JSON document and a per-minute CSV.

Both are documented in docs/REPORTS.md; keep that file in step with `CSV_COLUMNS` and
`summary_to_dict`.

Times are local ISO 8601 with their UTC offset (the zone the report was made for); durations are
minutes unless a key ends in `_s` (seconds); shares are fractions 0..1; percentages end in `_pct`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, tzinfo
from typing import Any

import numpy as np

from posture import __version__
from posture.core.events import FAULTS, STATES
from posture.core.summary import MIN_BREAK_S, DayStats, Summary

CSV_COLUMNS: tuple[str, ...] = (
    "time_local",
    "date",
    "hour",
    "monitored_s",
    *(f"{s}_s" for s in STATES),
    *(f"{f}_s" for f in FAULTS),
    "cva_deg",
    "neck_angle_deg",
    "cva_dev_deg",
    "neck_angle_dev_deg",
)
"""One row per monitored minute, oldest first."""

JSON_FORMAT_VERSION = 1


def iso_local(t_unix: float | None, tz: tzinfo) -> str | None:
    """Local ISO 8601 time with offset, to the second; None stays None."""
    if t_unix is None:
        return None
    return datetime.fromtimestamp(float(t_unix), tz).isoformat(timespec="seconds")


def _r(v: float | None, nd: int = 2) -> float | None:
    """Round for output; NaN and None become None (JSON null)."""
    if v is None:
        return None
    f = float(v)
    return None if not math.isfinite(f) else round(f, nd)


def _day(d: DayStats) -> dict[str, Any]:
    return {
        "date": d.day.isoformat(),
        "monitored_minutes": _r(d.monitored_s / 60.0),
        "good_minutes": _r(d.good_s / 60.0),
        "slouching_minutes": _r(d.slouching_s / 60.0),
        "score_pct": _r(d.score_pct, 1),
        "good_share": _r(d.good_share, 4),
    }


def summary_to_dict(
    s: Summary, tz: tzinfo, *, tz_name: str | None = None, message: str = ""
) -> dict[str, Any]:
    """Build the JSON report document (see docs/REPORTS.md for every key).

    `tz_name` labels the zone (e.g. "Europe/Paris"): a zone read from /etc/localtime has no key,
    and its repr would name the file object instead.
    """
    now_end = (
        min(s.end_unix, float(s.minutes.t_unix[-1] + 60)) if len(s.minutes.t_unix) else (s.end_unix)
    )
    hourly = []
    days_idx, hours_idx = np.nonzero(s.heatmap_monitored_min > 0)
    for di, hi in zip(days_idx.tolist(), hours_idx.tolist(), strict=True):
        hourly.append(
            {
                "date": s.heatmap_days[di].isoformat(),
                "hour": hi,
                "monitored_minutes": _r(s.heatmap_monitored_min[di, hi]),
                "slouch_pct": _r(s.heatmap_slouch_pct[di, hi], 1),
            }
        )
    return {
        "format_version": JSON_FORMAT_VERSION,
        "generator": f"posture {__version__}",
        "empty": s.empty,
        "message": message,
        "period": {
            "first_day": s.first_day.isoformat(),
            "last_day": s.last_day.isoformat(),
            "timezone": tz_name or str(getattr(tz, "key", None) or tz),
            "start": iso_local(s.start_unix, tz),
            "end": iso_local(s.end_unix, tz),
        },
        "monitored_minutes": _r(s.monitored_s / 60.0),
        "score_pct": _r(s.score_pct, 1),
        "score_definition": s.score_definition,
        "share": {k: _r(v, 4) for k, v in s.share.items()},
        "state_minutes": {k: _r(v / 60.0) for k, v in s.state_s.items()},
        "fault_minutes": {k: _r(v) for k, v in s.fault_minutes.items()},
        "episodes": {
            "count": s.episode_stats.count,
            "longest_minutes": _r(s.episode_stats.longest_s / 60.0),
            "median_minutes": _r(s.episode_stats.median_s / 60.0),
            "total_minutes": _r(s.episode_stats.total_s / 60.0),
            "items": [
                {
                    "start": iso_local(e.start_unix, tz),
                    "end": iso_local(e.end_unix, tz),
                    "minutes": _r(
                        ((e.end_unix if e.end_unix is not None else now_end) - e.start_unix) / 60.0
                    ),
                    "ongoing": e.end_unix is None,
                    "faults": list(e.faults),
                    "metric": e.metric,
                    "peak_deviation": _r(e.peak_deviation),
                    "mean_deviation": _r(e.mean_deviation),
                }
                for e in s.episodes
            ],
        },
        "alerts": {
            "counts": dict(s.alert_counts),
            "median_recovery_s": _r(s.median_recovery_s, 1),
            "items": [
                {
                    "time": iso_local(a.t_unix, tz),
                    "kind": a.kind,
                    "fault": a.fault,
                    "text": a.text,
                    "channel": a.channel,
                    "delivered": a.delivered,
                    "recovery_s": _r(a.recovery_s, 1),
                }
                for a in s.alerts
            ],
        },
        "breaks": {
            "taken": s.breaks_taken,
            "min_break_minutes": MIN_BREAK_S / 60.0,
            "items": [
                {
                    "start": iso_local(b.start_unix, tz),
                    "end": iso_local(b.end_unix, tz),
                    "minutes": None
                    if b.end_unix is None
                    else _r((b.end_unix - b.start_unix) / 60.0),
                }
                for b in s.breaks
            ],
        },
        "baseline": {k: _r(v) for k, v in s.baseline.items()},
        "daily": [_day(d) for d in s.daily],
        "hourly": hourly,
        "trend_7": [_day(d) for d in s.trend_7],
        "trend_30": [_day(d) for d in s.trend_30],
    }


def render_json(s: Summary, tz: tzinfo, *, tz_name: str | None = None, message: str = "") -> str:
    """Render the JSON report as text (UTF-8, 2-space indent, trailing newline)."""
    doc = summary_to_dict(s, tz, tz_name=tz_name, message=message)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_csv(s: Summary, tz: tzinfo) -> str:
    """Per-minute CSV (header always present, even for an empty period)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    m = s.minutes
    for i in range(len(m.t_unix)):
        t = datetime.fromtimestamp(float(m.t_unix[i]), tz)
        w.writerow(
            [
                t.isoformat(timespec="seconds"),
                t.date().isoformat(),
                t.hour,
                _fmt(m.state_s[i].sum()),
                *(_fmt(x) for x in m.state_s[i]),
                *(_fmt(x) for x in m.fault_s[i]),
                _fmt(m.cva_deg[i]),
                _fmt(m.neck_angle_deg[i]),
                _fmt(m.dev_cva_deg[i]),
                _fmt(m.dev_neck_angle_deg[i]),
            ]
        )
    return buf.getvalue()


def _fmt(v: float) -> str:
    f = float(v)
    return "" if not math.isfinite(f) else f"{f:.2f}"
