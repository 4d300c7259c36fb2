"""Pure report numbers on synthetic histories with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from posture.core.events import (
    FAULTS,
    STATES,
    BreakDue,
    Escalation,
    Nudge,
    Recovered,
    SlouchStarted,
    Verdict,
)
from posture.core.summary import (
    SCORE_DEFINITION,
    AlertRow,
    BreakRow,
    EpisodeRow,
    History,
    MinuteRows,
    day_bounds,
    summarize,
    video_summary,
)

UTC = UTC
DAY = date(2024, 5, 6)
T9 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC).timestamp()


def minutes(
    start_unix: float,
    states: list[str],
    faults: list[tuple[str, ...]] | None = None,
    cva: float = 50.0,
) -> MinuteRows:
    """One row per minute, each fully in one state (60 s)."""
    n = len(states)
    state_s = np.zeros((n, len(STATES)))
    state_s[np.arange(n), [STATES.index(s) for s in states]] = 60.0
    fault_s = np.zeros((n, len(FAULTS)))
    for i, fs in enumerate(faults or [()] * n):
        for f in fs:
            fault_s[i, FAULTS.index(f)] = 60.0
    t = (start_unix + 60 * np.arange(n)).astype(np.int64)
    full = np.full(n, cva)
    return MinuteRows(t, state_s, fault_s, full, full - 10, np.zeros(n), np.zeros(n))


def concat(*parts: MinuteRows) -> MinuteRows:
    return MinuteRows(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in (
                "t_unix",
                "state_s",
                "fault_s",
                "cva_deg",
                "neck_angle_deg",
                "dev_cva_deg",
                "dev_neck_angle_deg",
            )
        )
    )


def test_45_of_60_good_minutes_scores_75_percent() -> None:
    states = ["good"] * 45 + ["slouching"] * 15
    s = summarize(History(minutes(T9, states)), DAY, DAY, UTC)
    assert s.monitored_s == 3600
    assert s.score_pct == pytest.approx(75.0)
    assert s.share == {"good": 0.75, "slouching": 0.25, "away": 0.0, "unknown": 0.0}
    assert s.score_definition == SCORE_DEFINITION


def test_away_and_unknown_do_not_change_the_score() -> None:
    states = ["good"] * 45 + ["slouching"] * 15 + ["away"] * 30 + ["unknown"] * 10
    s = summarize(History(minutes(T9, states)), DAY, DAY, UTC)
    assert s.score_pct == pytest.approx(75.0)
    assert s.monitored_s == 100 * 60
    assert s.share["away"] == pytest.approx(0.3) and s.share["unknown"] == pytest.approx(0.1)


def test_empty_history_gives_empty_summary_without_score() -> None:
    s = summarize(History(MinuteRows.empty()), DAY, DAY, UTC)
    assert s.empty and s.score_pct is None and s.episode_stats.count == 0
    assert all(v == 0 for v in s.fault_minutes.values())


def test_minutes_per_fault() -> None:
    faults = [("forward_head",)] * 12 + [("forward_head", "head_drop")] * 3 + [("head_tilt",)] * 5
    states = ["slouching"] * 20 + ["good"] * 40
    s = summarize(History(minutes(T9, states, faults + [()] * 40)), DAY, DAY, UTC)
    assert s.fault_minutes == {
        "forward_head": 15.0,
        "head_drop": 3.0,
        "rounded_shoulders": 0.0,
        "leaning_in": 0.0,
        "head_tilt": 5.0,
    }


def test_episode_statistics_and_alert_recovery() -> None:
    eps = (
        EpisodeRow(T9 + 600, T9 + 660, ("forward_head",)),  # 1 min
        EpisodeRow(T9 + 1200, T9 + 1500, ("head_drop",)),  # 5 min
        EpisodeRow(T9 + 3000, T9 + 3120, ("forward_head",)),  # 2 min
        EpisodeRow(T9 - 86400, T9 - 86000, ("forward_head",)),  # the day before: excluded
    )
    alerts = (
        AlertRow(T9 + 640, "nudge", recovery_s=20.0),
        AlertRow(T9 + 1300, "nudge", recovery_s=200.0),
        AlertRow(T9 + 1400, "escalation", recovery_s=100.0),
        AlertRow(T9 + 2000, "break", recovery_s=5.0),
    )
    breaks = (BreakRow(T9 + 2005, T9 + 2400), BreakRow(T9 + 2500, T9 + 2530))
    s = summarize(History(minutes(T9, ["good"] * 60), eps, alerts, breaks), DAY, DAY, UTC)
    assert s.episode_stats.count == 3
    assert s.episode_stats.longest_s == 300.0
    assert s.episode_stats.median_s == 120.0
    assert s.alert_counts == {"nudge": 2, "escalation": 1, "break": 1}
    assert s.median_recovery_s == 100.0  # breaks' "recovery" (time to the break) not mixed in
    assert s.breaks_taken == 1  # the 30 s absence is not a break


def test_running_episode_counts_up_to_the_last_monitored_minute() -> None:
    eps = (EpisodeRow(T9 + 1800, None, ("forward_head",)),)
    s = summarize(History(minutes(T9, ["good"] * 60), eps), DAY, DAY, UTC)
    assert s.episode_stats.longest_s == 1800.0


def test_trend_over_several_days() -> None:
    parts = []
    # Day k (May 1..6): 60 monitored minutes of which 10*k good -> score 100*k/6.
    for k in range(1, 7):
        t = datetime(2024, 5, k, 10, 0, tzinfo=UTC).timestamp()
        parts.append(minutes(t, ["good"] * (10 * k) + ["slouching"] * (60 - 10 * k)))
    s = summarize(History(concat(*parts)), date(2024, 5, 1), date(2024, 5, 6), UTC)
    assert [round(d.score_pct or 0, 3) for d in s.daily] == [
        round(100 * k / 6, 3) for k in range(1, 7)
    ]
    assert len(s.trend_7) == 7 and s.trend_7[-1].day == date(2024, 5, 6)
    assert s.trend_7[0].score_pct is None and s.trend_7[0].monitored_s == 0  # Apr 30: no data
    assert len(s.trend_30) == 30 and s.trend_30[0].day == date(2024, 4, 7)
    assert s.score_pct == pytest.approx(100 * 210 / 360)
    # A one-day report still gets the trends of the days before it.
    one = summarize(History(concat(*parts)), date(2024, 5, 6), date(2024, 5, 6), UTC)
    assert one.monitored_s == 3600
    assert [d.score_pct for d in one.trend_7[-6:]] == [d.score_pct for d in s.daily]


def test_local_days_and_hour_heatmap_follow_the_time_zone() -> None:
    tz = ZoneInfo("America/New_York")  # UTC-4 in May
    # 02:30-03:29 UTC on May 7 is 22:30-23:29 on May 6 in New York.
    t = datetime(2024, 5, 7, 2, 30, tzinfo=UTC).timestamp()
    m = minutes(t, ["slouching"] * 30 + ["good"] * 30)
    s = summarize(History(m), DAY, DAY, tz)
    assert s.monitored_s == 3600
    assert np.isnan(s.heatmap_slouch_pct[0, :22]).all()
    assert s.heatmap_slouch_pct[0, 22] == 100.0  # 22:30-22:59 slouching
    assert s.heatmap_slouch_pct[0, 23] == 0.0
    assert s.heatmap_monitored_min[0, 22] == 30 and s.heatmap_monitored_min[0, 23] == 30
    assert summarize(History(m), date(2024, 5, 7), date(2024, 5, 7), UTC).monitored_s == 3600


def test_dst_day_is_23_hours() -> None:
    lo, hi = day_bounds(date(2024, 3, 31), date(2024, 3, 31), ZoneInfo("Europe/Berlin"))
    assert hi - lo == 23 * 3600


def _stream(fps: float, seconds: float) -> list[Verdict]:
    out = []
    for i in range(int(seconds * fps)):
        t = 100.0 + i / fps
        slouch = 20 <= t - 100 < 50
        out.append(
            Verdict(
                t,
                "slouching" if slouch else "good",
                active_faults=("forward_head",) if slouch else (),
            )
        )
    return out


def test_video_summary_is_frame_rate_independent_and_relative_to_start() -> None:
    events = [
        SlouchStarted(125.0, start_s=120.0, faults=("forward_head",)),
        Nudge(130.0, "forward_head", 10.0, 7.5, "cva_deg", "deg"),
        Escalation(140.0, "forward_head", 20.0, 8.0, "cva_deg", "deg"),
        Recovered(150.0, 120.0, 150.0, ("forward_head",), 9.0, 7.0, "cva_deg"),
        BreakDue(155.0, sitting_s=2700.0),
        SlouchStarted(158.0, start_s=157.0, faults=("head_drop",)),
    ]
    a = video_summary(_stream(5, 60), events, end_s=160.0)
    b = video_summary([(v.t_s, v) for v in _stream(1, 60)], events, end_s=160.0)
    assert a["seconds"] == b["seconds"] == 60.0
    assert a["share"] == pytest.approx({"good": 0.5, "slouching": 0.5, "away": 0, "unknown": 0})
    assert b["share"] == pytest.approx(a["share"])
    assert a["fault_minutes"]["forward_head"] == pytest.approx(0.5)
    assert set(a["fault_minutes"]) == set(FAULTS)
    assert a["episodes"] == [
        {"start": 20.0, "end": 50.0, "faults": ["forward_head"]},
        {"start": 57.0, "end": 60.0, "faults": ["head_drop"]},  # still running at the end
    ]
    assert [(x["t"], x["kind"]) for x in a["alerts"]] == [
        (30.0, "nudge"),
        (40.0, "escalation"),
        (55.0, "break"),
    ]
    assert all(isinstance(x["text"], str) and x["text"] for x in a["alerts"])


def test_video_summary_without_frames() -> None:
    out = video_summary([], [])
    assert out["seconds"] == 0.0 and out["episodes"] == [] and out["alerts"] == []
    assert out["share"] == {"good": 0.0, "slouching": 0.0, "away": 0.0, "unknown": 0.0}
