"""Pure aggregation of stored history (and of one analysed video) into report numbers.

Theory of operation: the store keeps at most one sample per second, each holding how many seconds
of that second were spent in each state (time-weighted, so 5 fps and 1 fps streams give the same
minutes) and in each active fault. The store hands this module those seconds already summed per
minute (`MinuteRows`), plus episodes, alerts and breaks. Everything here is arithmetic over numpy
arrays: no I/O, no clock. Local time comes in as a `tzinfo` the caller chose, so reports are
reproducible in tests.

The posture score is the share of *measured upright time* that was good posture:

    score % = 100 * good_s / (good_s + slouching_s)

Time away from the desk and `unknown` time (person not measurable: wrong view, dark frame, hidden
landmarks) count neither for nor against you. `SCORE_DEFINITION` is printed next to the score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np

from posture.core.events import (
    FAULTS,
    STATES,
    BreakDue,
    Escalation,
    Event,
    Nudge,
    Recovered,
    SlouchStarted,
    Verdict,
)

SCORE_DEFINITION = "score = good time / (good + slouching time); away and unknown time are left out"
"""One line printed next to every score."""

MIN_BREAK_S = 60.0
"""An away period counts as a break taken when it lasted at least this long."""

_STATE_INDEX = {s: i for i, s in enumerate(STATES)}
_FAULT_INDEX = {f: i for i, f in enumerate(FAULTS)}


# --------------------------------------------------------------------------------------------
# Input rows (produced by the store; plain data so the core never imports sqlite3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinuteRows:
    """Per-minute sums of the 1 s samples; every array has one row per stored minute.

    t_unix: minute start, UTC seconds since the epoch (multiple of 60), ascending.
    state_s: (N, 4) seconds in each of `STATES`. fault_s: (N, 5) seconds with each of `FAULTS`
    active. The metric arrays are per-minute means, NaN when nothing valid was measured.
    """

    t_unix: np.ndarray
    state_s: np.ndarray
    fault_s: np.ndarray
    cva_deg: np.ndarray
    neck_angle_deg: np.ndarray
    dev_cva_deg: np.ndarray
    dev_neck_angle_deg: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.t_unix)
        if self.state_s.shape != (n, len(STATES)) or self.fault_s.shape != (n, len(FAULTS)):
            raise ValueError(
                f"MinuteRows: state_s must be ({n}, {len(STATES)}) and fault_s ({n}, "
                f"{len(FAULTS)}), got {self.state_s.shape} and {self.fault_s.shape}"
            )

    @classmethod
    def empty(cls) -> MinuteRows:
        """No rows."""
        z = np.zeros(0)
        return cls(
            np.zeros(0, dtype=np.int64),
            np.zeros((0, len(STATES))),
            np.zeros((0, len(FAULTS))),
            z,
            z,
            z,
            z,
        )

    def select(self, mask: np.ndarray) -> MinuteRows:
        """Return the rows where `mask` holds."""
        return MinuteRows(
            self.t_unix[mask],
            self.state_s[mask],
            self.fault_s[mask],
            self.cva_deg[mask],
            self.neck_angle_deg[mask],
            self.dev_cva_deg[mask],
            self.dev_neck_angle_deg[mask],
        )


@dataclass(frozen=True)
class EpisodeRow:
    """A slouch episode; `end_unix` is None while it is still running."""

    start_unix: float
    end_unix: float | None
    faults: tuple[str, ...]
    peak_deviation: float = math.nan
    mean_deviation: float = math.nan
    metric: str = ""


@dataclass(frozen=True)
class AlertRow:
    """An alert shown (or attempted).

    recovery_s: seconds from the alert until posture recovered (nudge/escalation) or the break
    began (break); None until known.
    """

    t_unix: float
    kind: str
    text: str = ""
    fault: str = ""
    channel: str = ""
    delivered: bool | None = None
    recovery_s: float | None = None


@dataclass(frozen=True)
class BreakRow:
    """Time away from the desk; `end_unix` is None while still away."""

    start_unix: float
    end_unix: float | None


@dataclass(frozen=True)
class History:
    """Everything a report needs for a span of time, as the store returns it."""

    minutes: MinuteRows
    episodes: tuple[EpisodeRow, ...] = ()
    alerts: tuple[AlertRow, ...] = ()
    breaks: tuple[BreakRow, ...] = ()
    baseline: dict[str, float] = field(default_factory=dict)
    """Calibrated values by metric key (e.g. cva_deg) of the latest session's profile, or empty."""
    sessions: int = 0


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayStats:
    """One local calendar day."""

    day: date
    monitored_s: float
    good_s: float
    slouching_s: float
    score_pct: float | None
    good_share: float | None
    """good / monitored time (all four states), None without monitored time."""


@dataclass(frozen=True)
class EpisodeStats:
    """Episode count and durations in seconds (0 without episodes)."""

    count: int
    longest_s: float
    median_s: float
    total_s: float


@dataclass(frozen=True)
class Summary:
    """Report numbers for the local days `first_day`..`last_day` (inclusive)."""

    first_day: date
    last_day: date
    start_unix: float
    end_unix: float
    monitored_s: float
    state_s: dict[str, float]
    share: dict[str, float]
    """Fraction (0..1) of monitored time per state; all 0 without monitored time."""
    score_pct: float | None
    fault_minutes: dict[str, float]
    episode_stats: EpisodeStats
    episodes: tuple[EpisodeRow, ...]
    alerts: tuple[AlertRow, ...]
    alert_counts: dict[str, int]
    median_recovery_s: float | None
    breaks: tuple[BreakRow, ...]
    breaks_taken: int
    series_t_unix: np.ndarray
    """Minute starts of the CVA/neck time series (only minutes with a measurement)."""
    series_cva_deg: np.ndarray
    series_neck_angle_deg: np.ndarray
    baseline: dict[str, float]
    heatmap_days: tuple[date, ...]
    heatmap_slouch_pct: np.ndarray
    """(days, 24): 100 * slouching / (good + slouching) per local hour, NaN when unmeasured."""
    heatmap_monitored_min: np.ndarray
    """(days, 24): monitored minutes per local hour."""
    daily: tuple[DayStats, ...]
    trend_7: tuple[DayStats, ...]
    trend_30: tuple[DayStats, ...]
    minutes: MinuteRows
    """The minute rows inside the period (for CSV export)."""
    score_definition: str = SCORE_DEFINITION

    @property
    def empty(self) -> bool:
        """True when nothing at all was monitored in the period."""
        return self.monitored_s <= 0.0


# --------------------------------------------------------------------------------------------
# Local time helpers (pure: the tz is an input)
# --------------------------------------------------------------------------------------------


def day_bounds(first_day: date, last_day: date, tz: tzinfo) -> tuple[float, float]:
    """UTC epoch seconds of local midnight starting `first_day` and ending `last_day`."""
    if last_day < first_day:
        raise ValueError(f"period ends ({last_day}) before it starts ({first_day})")
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz)
    end_day = last_day + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz)
    return start.timestamp(), end.timestamp()


def local_offsets_s(t_unix: np.ndarray, tz: tzinfo) -> np.ndarray:
    """UTC offset in seconds at each time; evaluated once per distinct quarter hour (DST-safe)."""
    t = np.asarray(t_unix, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0)
    q = np.floor(t / 900.0).astype(np.int64)
    uniq, inverse = np.unique(q, return_inverse=True)
    offs = np.array(
        [
            datetime.fromtimestamp(int(u) * 900, tz=UTC).astimezone(tz).utcoffset().total_seconds()  # type: ignore[union-attr]
            for u in uniq
        ]
    )
    return np.asarray(offs[inverse.reshape(-1)], dtype=np.float64)


def _local_day_and_hour(t_unix: np.ndarray, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """Local day number (days since 1970-01-01 local) and local hour for each time."""
    local = np.asarray(t_unix, dtype=np.float64) + local_offsets_s(t_unix, tz)
    day_no = np.floor(local / 86400.0).astype(np.int64)
    hour = np.floor((local - day_no * 86400.0) / 3600.0).astype(np.int64)
    return day_no, np.clip(hour, 0, 23)


_EPOCH_DAY = date(1970, 1, 1)


def _day_no(d: date) -> int:
    return (d - _EPOCH_DAY).days


def _score(good: float, slouch: float) -> float | None:
    total = good + slouch
    return None if total <= 0 else 100.0 * good / total


def daily_stats(
    minutes: MinuteRows, first_day: date, last_day: date, tz: tzinfo
) -> tuple[DayStats, ...]:
    """Per local day totals and score for every day of the span (days without data included)."""
    n_days = (last_day - first_day).days + 1
    if n_days <= 0:
        return ()
    day_no, _ = _local_day_and_hour(minutes.t_unix, tz)
    idx = day_no - _day_no(first_day)
    keep = (idx >= 0) & (idx < n_days)
    totals = np.zeros((n_days, len(STATES)))
    np.add.at(totals, idx[keep], minutes.state_s[keep])
    out = []
    for i in range(n_days):
        good, slouch = totals[i, _STATE_INDEX["good"]], totals[i, _STATE_INDEX["slouching"]]
        mon = float(totals[i].sum())
        out.append(
            DayStats(
                day=first_day + timedelta(days=i),
                monitored_s=mon,
                good_s=float(good),
                slouching_s=float(slouch),
                score_pct=_score(float(good), float(slouch)),
                good_share=None if mon <= 0 else float(good) / mon,
            )
        )
    return tuple(out)


def episode_stats(episodes: Sequence[EpisodeRow], until_unix: float) -> EpisodeStats:
    """Count, longest, median and total duration; a running episode counts up to `until_unix`."""
    if not episodes:
        return EpisodeStats(0, 0.0, 0.0, 0.0)
    d = np.array(
        [
            max(0.0, (e.end_unix if e.end_unix is not None else until_unix) - e.start_unix)
            for e in episodes
        ]
    )
    return EpisodeStats(len(d), float(d.max()), float(np.median(d)), float(d.sum()))


# --------------------------------------------------------------------------------------------
# The period summary
# --------------------------------------------------------------------------------------------


def summarize(
    history: History,
    first_day: date,
    last_day: date,
    tz: tzinfo,
    *,
    min_break_s: float = MIN_BREAK_S,
) -> Summary:
    """Report numbers for local days `first_day`..`last_day`; trends end on `last_day`.

    `history` may cover more than the period (up to 30 days before `last_day` for the trends);
    everything except the trends is restricted to the period.
    """
    start_unix, end_unix = day_bounds(first_day, last_day, tz)
    all_minutes = history.minutes
    in_period = (all_minutes.t_unix >= start_unix) & (all_minutes.t_unix < end_unix)
    m = all_minutes.select(in_period)

    state_tot = m.state_s.sum(axis=0) if len(m.t_unix) else np.zeros(len(STATES))
    fault_tot = m.fault_s.sum(axis=0) if len(m.t_unix) else np.zeros(len(FAULTS))
    monitored = float(state_tot.sum())
    state_s = {s: float(state_tot[i]) for i, s in enumerate(STATES)}
    share = {s: (state_s[s] / monitored if monitored > 0 else 0.0) for s in STATES}
    score = _score(state_s["good"], state_s["slouching"])
    fault_minutes = {f: float(fault_tot[i]) / 60.0 for i, f in enumerate(FAULTS)}

    episodes = tuple(
        sorted(
            (e for e in history.episodes if start_unix <= e.start_unix < end_unix),
            key=lambda e: e.start_unix,
        )
    )
    last_seen = float(m.t_unix[-1] + 60) if len(m.t_unix) else start_unix
    ep_stats = episode_stats(episodes, min(end_unix, last_seen))

    alerts = tuple(
        sorted(
            (a for a in history.alerts if start_unix <= a.t_unix < end_unix),
            key=lambda a: a.t_unix,
        )
    )
    alert_counts = {
        k: sum(1 for a in alerts if a.kind == k) for k in ("nudge", "escalation", "break")
    }
    recov = [a.recovery_s for a in alerts if a.kind != "break" and a.recovery_s is not None]
    median_recovery = float(np.median(recov)) if recov else None

    breaks = tuple(
        sorted(
            (b for b in history.breaks if start_unix <= b.start_unix < end_unix),
            key=lambda b: b.start_unix,
        )
    )
    breaks_taken = sum(
        1 for b in breaks if b.end_unix is not None and b.end_unix - b.start_unix >= min_break_s
    )

    measured = np.isfinite(m.cva_deg) | np.isfinite(m.neck_angle_deg)

    heat_days = tuple(first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1))
    slouch_pct, mon_min = _heatmap(m, first_day, len(heat_days), tz)

    daily = daily_stats(m, first_day, last_day, tz)
    trend_7 = daily_stats(all_minutes, last_day - timedelta(days=6), last_day, tz)
    trend_30 = daily_stats(all_minutes, last_day - timedelta(days=29), last_day, tz)

    return Summary(
        first_day=first_day,
        last_day=last_day,
        start_unix=start_unix,
        end_unix=end_unix,
        monitored_s=monitored,
        state_s=state_s,
        share=share,
        score_pct=score,
        fault_minutes=fault_minutes,
        episode_stats=ep_stats,
        episodes=episodes,
        alerts=alerts,
        alert_counts=alert_counts,
        median_recovery_s=median_recovery,
        breaks=breaks,
        breaks_taken=breaks_taken,
        series_t_unix=m.t_unix[measured],
        series_cva_deg=m.cva_deg[measured],
        series_neck_angle_deg=m.neck_angle_deg[measured],
        baseline=dict(history.baseline),
        heatmap_days=heat_days,
        heatmap_slouch_pct=slouch_pct,
        heatmap_monitored_min=mon_min,
        daily=daily,
        trend_7=trend_7,
        trend_30=trend_30,
        minutes=m,
    )


def _heatmap(
    m: MinuteRows, first_day: date, n_days: int, tz: tzinfo
) -> tuple[np.ndarray, np.ndarray]:
    """(days, 24) slouch % of measured upright time and monitored minutes, per local hour."""
    good = np.zeros((n_days, 24))
    slouch = np.zeros((n_days, 24))
    mon = np.zeros((n_days, 24))
    if len(m.t_unix):
        day_no, hour = _local_day_and_hour(m.t_unix, tz)
        d = day_no - _day_no(first_day)
        ok = (d >= 0) & (d < n_days)
        np.add.at(good, (d[ok], hour[ok]), m.state_s[ok, _STATE_INDEX["good"]])
        np.add.at(slouch, (d[ok], hour[ok]), m.state_s[ok, _STATE_INDEX["slouching"]])
        np.add.at(mon, (d[ok], hour[ok]), m.state_s[ok].sum(axis=1))
    upright = good + slouch
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(upright > 0, 100.0 * slouch / np.where(upright > 0, upright, 1.0), np.nan)
    return pct, mon / 60.0


# --------------------------------------------------------------------------------------------
# One analysed video (`posture analyze VIDEO --json`)
# --------------------------------------------------------------------------------------------


def hold_durations(t_s: np.ndarray, end_s: float | None = None) -> np.ndarray:
    """Seconds each observation stands for (sample and hold until the next one).

    The last observation holds until `end_s` when given, else for the median frame interval.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0)
    gaps = np.diff(t)
    if np.any(gaps < 0):
        raise ValueError("observation times must not go backwards")
    if end_s is not None:
        last = max(0.0, float(end_s) - float(t[-1]))
    else:
        last = float(np.median(gaps)) if gaps.size else 0.0
    return np.append(gaps, last)


def alert_text(event: Event) -> str:
    """Describe an alert event shortly and neutrally (for logs, JSON and the store)."""
    if isinstance(event, (Nudge, Escalation)):
        name = event.fault.replace("_", " ")
        dev = "" if math.isnan(event.deviation) else f", {event.deviation:.1f} {event.unit} off"
        firm = "still " if isinstance(event, Escalation) else ""
        return f"{firm}{name} for {event.held_s / 60.0:.1f} min{dev}"
    if isinstance(event, BreakDue):
        return f"time for a break: seated for {event.sitting_s / 60.0:.0f} min"
    return type(event).__name__


def video_summary(
    verdicts: Sequence[Verdict] | Sequence[tuple[float, Verdict]],
    events: Iterable[Event] = (),
    *,
    start_s: float | None = None,
    end_s: float | None = None,
) -> dict[str, object]:
    """Summarise one analysed video in the `posture analyze VIDEO --json` shape.

    Times are seconds from the start of the video.

    `verdicts` are `Verdict`s or `(t_s, Verdict)` pairs in time order. `start_s` is the video's
    first timestamp (default: the first verdict's), `end_s` its end (default: the last verdict
    held for one median frame interval). Shares are time-weighted, so frame rate does not matter.
    """
    pairs: list[tuple[float, Verdict]] = [
        it if isinstance(it, tuple) else (it.t_s, it) for it in verdicts
    ]
    t = np.array([p[0] for p in pairs], dtype=np.float64)
    t0 = float(start_s) if start_s is not None else (float(t[0]) if t.size else 0.0)
    dur = hold_durations(t, end_s)
    seconds = (
        float(end_s - t0) if end_s is not None else (float(t[-1] + dur[-1] - t0) if t.size else 0.0)
    )
    state_idx = np.array([_STATE_INDEX[p[1].state] for p in pairs], dtype=np.int64)
    state_s = (
        np.bincount(state_idx, weights=dur, minlength=len(STATES))
        if t.size
        else np.zeros(len(STATES))
    )
    # as in the history: fault time is slouching time, not a suspended episode's unknown time
    fault_mask = np.array(
        [[p[1].state == "slouching" and f in p[1].active_faults for f in FAULTS] for p in pairs],
        dtype=bool,
    ).reshape(-1, len(FAULTS))
    fault_s = (fault_mask * dur[:, None]).sum(axis=0)
    total = float(state_s.sum())

    episodes: list[dict[str, object]] = []
    open_ep: dict[str, object] | None = None
    alerts: list[dict[str, object]] = []
    for ev in events:
        if isinstance(ev, SlouchStarted):
            open_ep = {"start": round(ev.start_s - t0, 3), "end": None, "faults": list(ev.faults)}
            episodes.append(open_ep)
        elif isinstance(ev, Recovered):
            if open_ep is not None and open_ep["end"] is None:
                open_ep["end"] = round(ev.end_s - t0, 3)
                open_ep["start"] = round(ev.start_s - t0, 3)
                open_ep["faults"] = sorted(
                    set(open_ep["faults"]) | set(ev.faults),  # type: ignore[call-overload]
                    key=FAULTS.index,
                )
            else:
                episodes.append(
                    {
                        "start": round(ev.start_s - t0, 3),
                        "end": round(ev.end_s - t0, 3),
                        "faults": list(ev.faults),
                    }
                )
            open_ep = None
        elif isinstance(ev, (Nudge, Escalation, BreakDue)):
            kind = {Nudge: "nudge", Escalation: "escalation", BreakDue: "break"}[type(ev)]
            alerts.append({"t": round(ev.t_s - t0, 3), "kind": kind, "text": alert_text(ev)})
    for ep in episodes:
        if ep["end"] is None:
            ep["end"] = round(seconds, 3)

    return {
        "seconds": round(seconds, 3),
        "share": {
            s: (float(state_s[i]) / total if total > 0 else 0.0) for i, s in enumerate(STATES)
        },
        "fault_minutes": {f: float(fault_s[i]) / 60.0 for i, f in enumerate(FAULTS)},
        "episodes": episodes,
        "alerts": alerts,
    }
