"""The judge on scripted timelines driven by a FakeClock: every transition and every alert rule."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture.core.calibration import Baseline, Profile
from posture.core.config import FieldError, JudgeConfig
from posture.core.events import (
    STATES,
    AwayStarted,
    BreakDue,
    Escalation,
    Event,
    Nudge,
    Recovered,
    Returned,
    SlouchStarted,
    StateChanged,
    Verdict,
)
from posture.core.judge import FAULT_RULES, TRANSITIONS, Judge, Observation
from posture.testing import FakeClock

SHA = "ab" * 32
SIDE_BASE = {
    "cva_deg": Baseline(60.0, 1.0, 100),
    "neck_flexion_deg": Baseline(15.0, 1.0, 100),
    "shoulder_protraction": Baseline(0.10, 0.01, 100),
}
GOOD = {"cva_deg": 60.0, "neck_flexion_deg": 15.0, "shoulder_protraction": 0.10}
FORWARD = {**GOOD, "cva_deg": 52.0}  # 8 deg below baseline: forward head


def side_profile(**kw: object) -> Profile:
    base: dict[str, object] = dict(
        name="desk",
        view="side_left",
        source="0",
        model_name="full",
        model_sha256=SHA,
        metric_version=1,
        baseline=SIDE_BASE,
        created_utc="2025-01-06T09:00:00Z",
    )
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


Step = tuple[float, Verdict, list[Event]]


class Script:
    """Feeds a judge segment by segment at a given frame interval, on a FakeClock."""

    def __init__(self, judge: Judge, clock: FakeClock | None = None) -> None:
        self.judge = judge
        self.clock = clock or FakeClock()
        self.steps: list[Step] = []

    def feed(
        self,
        metrics: Mapping[str, float],
        *,
        person: bool = True,
        view: str = "side_left",
        issue: str = "",
    ) -> Step:
        t = self.clock.monotonic()
        v, ev = self.judge.feed(Observation(t, person, view, dict(metrics), issue))
        self.steps.append((t, v, ev))
        return t, v, ev

    def run(
        self,
        seconds: float,
        metrics: Mapping[str, float],
        *,
        dt: float = 1.0,
        person: bool = True,
        view: str = "side_left",
        issue: str = "",
    ) -> None:
        """Feed frames every dt for `seconds` (frames at now, now+dt, ... < now+seconds)."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end - 1e-9:
            self.feed(metrics, person=person, view=view, issue=issue)
            self.clock.advance(dt)

    def events(self, kind: type | tuple[type, ...] = Event) -> list[Event]:
        return [e for _, _, evs in self.steps for e in evs if isinstance(e, kind)]

    @property
    def last(self) -> Verdict:
        return self.steps[-1][1]


def make(cfg: JudgeConfig | None = None, profile: Profile | None = None) -> Script:
    return Script(Judge(cfg or JudgeConfig(), profile or side_profile()))


# -- instant faults and the rule table ---------------------------------------------------------


def test_instant_fault_on_the_first_frame_before_persistence() -> None:
    s = make()
    _, v, _ = s.feed(FORWARD)
    assert v.instant_faults == ("forward_head",)
    assert v.active_faults == ()
    assert v.state == "good"
    assert v.deviations["cva_deg"] == pytest.approx(8.0)
    assert v.deviations["neck_flexion_deg"] == pytest.approx(0.0)


def test_cva_threshold_is_five_degrees_below_baseline() -> None:
    s = make()
    assert s.feed({**GOOD, "cva_deg": 55.5})[1].instant_faults == ()
    assert s.feed({**GOOD, "cva_deg": 55.0})[1].instant_faults == ("forward_head",)


def test_every_fault_has_a_rule_in_front_view() -> None:
    assert {r.fault for r in FAULT_RULES["front"]} == {
        "forward_head",
        "head_drop",
        "rounded_shoulders",
        "leaning_in",
        "head_tilt",
    }


def test_front_forward_head_needs_two_frontal_signals() -> None:
    base = {
        "face_scale": Baseline(0.5, 0.005),
        "head_drop": Baseline(0.8, 0.005),
        "nose_drop": Baseline(0.6, 0.005),
        "head_roll_deg": Baseline(0.0, 1.0),
    }
    prof = side_profile(view="front", baseline=base)
    good = {"face_scale": 0.5, "head_drop": 0.8, "nose_drop": 0.6, "head_roll_deg": 0.0}
    s = make(profile=prof)
    # floor 0.02 x k 3 = 0.06: face grows alone -> not enough
    assert s.feed({**good, "face_scale": 0.58}, view="front")[1].instant_faults == ()
    v = s.feed({**good, "face_scale": 0.58, "head_drop": 0.7}, view="front")[1]
    assert "forward_head" in v.instant_faults
    assert s.feed({**good, "head_roll_deg": -12.0}, view="front")[1].instant_faults == (
        "head_tilt",
    )


def test_mirrored_side_view_is_usable_with_a_left_profile() -> None:
    s = make()
    v = s.feed(FORWARD, view="side_right")[1]
    assert v.state == "good" and v.instant_faults == ("forward_head",)


def test_population_default_uses_absolute_limits() -> None:
    prof = side_profile(
        model_sha256=None,
        model_name=None,
        limits={"cva_deg": 60.0},
        baseline={"cva_deg": Baseline(64.0, 3.0)},
    )
    s = make(profile=prof)
    assert s.feed({"cva_deg": 61.0})[1].instant_faults == ()
    assert s.feed({"cva_deg": 59.0})[1].instant_faults == ("forward_head",)


# -- persistence and episodes -------------------------------------------------------------------


def test_29_s_forward_head_does_not_alert() -> None:
    s = make()
    s.run(10, GOOD)
    s.run(30, FORWARD)  # faulty frames at 10..39: the fault is held 29 s
    s.run(60, GOOD)
    assert s.events(SlouchStarted) == [] and s.events(Nudge) == []
    assert all(v.state == "good" for _, v, _ in s.steps)


def test_31_s_forward_head_alerts_between_30_and_45_s() -> None:
    s = make()
    s.run(10, GOOD)
    s.run(32, FORWARD)  # 10..41
    s.run(20, GOOD)
    (start,) = s.events(SlouchStarted)
    (nudge,) = s.events(Nudge)
    assert isinstance(start, SlouchStarted) and isinstance(nudge, Nudge)
    assert start.start_s == 10.0 and start.faults == ("forward_head",)
    assert 30.0 <= nudge.t_s - 10.0 <= 45.0
    assert nudge.fault == "forward_head" and nudge.metric == "cva_deg" and nudge.unit == "deg"
    assert nudge.deviation == pytest.approx(8.0) and nudge.held_s == pytest.approx(30.0)


@pytest.mark.parametrize("fps", [1.0, 2.0, 5.0, 15.0, 30.0])
def test_first_nudge_between_30_and_45_s_at_any_rate(fps: float) -> None:
    s = make()
    s.run(5, GOOD, dt=1 / fps)
    t0 = s.clock.monotonic()
    s.run(60, FORWARD, dt=1 / fps)
    (nudge,) = s.events(Nudge)
    assert 30.0 <= nudge.t_s - t0 <= 45.0


def test_irregular_frame_intervals_still_nudge_in_time() -> None:
    rng = random.Random(4)
    s = make()
    t0 = s.clock.monotonic()
    while s.clock.monotonic() < 60:
        s.feed(FORWARD)
        s.clock.advance(rng.uniform(0.033, 1.0))
    (nudge,) = s.events(Nudge)
    assert 30.0 <= nudge.t_s - t0 <= 45.0


def test_one_good_frame_does_not_reset_persistence() -> None:
    s = make()
    s.run(20, FORWARD)
    s.run(1, GOOD)
    s.run(15, FORWARD)
    (start,) = s.events(SlouchStarted)
    assert start.t_s == 30.0 and start.start_s == 0.0


def test_one_good_frame_inside_an_episode_does_not_end_it() -> None:
    s = make()
    s.run(40, FORWARD)
    s.run(1, GOOD)
    _, v, _ = s.steps[-1]
    assert v.instant_faults == ()  # the good frame itself shows no fault...
    assert v.active_faults == ("forward_head",) and v.state == "slouching"  # ...episode goes on
    s.run(10, FORWARD)
    assert s.events(Recovered) == []
    assert s.last.state == "slouching"
    assert len(s.events(SlouchStarted)) == 1


def test_recovery_needs_most_of_the_recover_window_good() -> None:
    s = make()
    s.run(40, FORWARD)  # 0..39
    s.run(7, GOOD)  # 40..46: 7 s good is not 8
    assert s.events(Recovered) == []
    s.run(3, GOOD)
    (rec,) = s.events(Recovered)
    assert isinstance(rec, Recovered)
    # from the first faulty look to where the last one (39) stopped counting: the next look
    assert rec.start_s == 0.0 and rec.end_s == 40.0 and rec.faults == ("forward_head",)
    assert rec.metric == "cva_deg" and rec.ended_by == "recovery"
    assert rec.peak_deviation == pytest.approx(8.0) and rec.mean_deviation == pytest.approx(8.0)
    assert s.last.state == "good"
    changes = [(e.old, e.new) for e in s.events(StateChanged)]  # type: ignore[attr-defined]
    assert ("good", "slouching") in changes and ("slouching", "good") in changes


def _deciding(s: Script, a: float, b: float) -> set[tuple[str, ...]]:
    return {v.deciding_faults for t, v, _ in s.steps if a <= t < b}


def test_a_fault_is_deciding_while_its_persistence_or_recovery_window_is_open() -> None:
    s = make()
    s.run(10, GOOD)
    s.run(45, FORWARD)  # 10..54: onset 10, active at 40
    assert _deciding(s, 0, 10) == {()}
    assert _deciding(s, 10, 40) == {("forward_head",)}  # a slouch or a glance: not yet known
    assert _deciding(s, 40, 55) == {()}  # the episode runs: nothing left to tell apart
    s.run(3, GOOD)  # 55..57: straightening up, or a blip: the recovery window opens at 55
    s.run(2, FORWARD)  # 58..59: a blip it was; the window stays open whatever a frame shows
    assert _deciding(s, 55, 60) == {("forward_head",)}
    s.run(31, FORWARD)  # 60..90: the window ends at 65; the fault shows for 30 s
    assert _deciding(s, 65, 91) == {()}
    s.run(20, GOOD)  # 91..110: a new window at 91; recovered at 99
    (rec,) = s.events(Recovered)
    assert rec.t_s == 99.0
    assert _deciding(s, 91, rec.t_s) == {("forward_head",)}
    assert _deciding(s, rec.t_s, 111) == {()}


def test_a_fault_that_comes_and_goes_in_an_episode_uses_up_one_recovery_window() -> None:
    s = make()
    s.run(40, FORWARD)  # active at 30
    for _ in range(20):  # good 2 s in 5: never recovers, never back for 30 s
        s.run(3, FORWARD)
        s.run(2, GOOD)
    assert s.events(Recovered) == [] and s.last.state == "slouching"
    first_good = 43.0
    assert _deciding(s, first_good, first_good + 10) == {("forward_head",)}
    assert _deciding(s, first_good + 10, 140) == {()}


def test_a_borderline_fault_is_decided_by_one_window() -> None:
    s = make()
    for _ in range(30):  # seen 3 s in 4 (75 %): never 80 % of 30 s, but never gone 6 s
        s.run(3, FORWARD)
        s.run(1, GOOD)
    assert s.events(SlouchStarted) == []
    seen = [(t, v.deciding_faults) for t, v, _ in s.steps if v.instant_faults]
    assert {d for t, d in seen if t < 30} == {("forward_head",)}
    assert {d for t, d in seen if t >= 30} == {()}


def test_glances_reopen_the_window_only_after_a_persistence_time_without_one() -> None:
    s = make()
    for _ in range(6):  # a 2 s glance every 20 s: 0, 20, ... 100
        s.run(2, FORWARD)
        s.run(18, GOOD)
    assert s.events(SlouchStarted) == []
    # the first glance opens a window, deciding until its run breaks (over 6 s after it, from 2 s)
    assert _deciding(s, 0, 9) == {("forward_head",)}
    assert _deciding(s, 9, 20) == {()}
    assert _deciding(s, 20, 29) == {("forward_head",)}  # the next glance falls inside it...
    assert _deciding(s, 29, 120) == {()}  # ...and the later ones before it was given back
    s.run(31, GOOD)  # 120..150: no glance for 30 s since the last one (at 101)
    s.run(2, FORWARD)  # 151: a glance decided afresh
    assert s.last.deciding_faults == ("forward_head",)


def test_unmeasurable_frames_decide_nothing_and_the_window_goes_on_after_them() -> None:
    s = make()
    s.run(5, FORWARD)  # 0..4: a window opens
    s.run(
        5, {"cva_deg": math.nan, "neck_flexion_deg": math.nan, "shoulder_protraction": math.nan}
    )  # 5..9
    assert _deciding(s, 0, 5) == {("forward_head",)}
    assert _deciding(s, 5, 10) == {()}  # nothing to decide from
    assert {v.state for t, v, _ in s.steps if t >= 5} == {"unknown"}
    s.run(1, FORWARD)  # 10: the run goes on (gone 5 s, not 6), and so does its window
    assert s.last.deciding_faults == ("forward_head",)


def test_a_window_opens_afresh_after_an_absence_or_an_episode() -> None:
    s = make()
    s.run(5, FORWARD)
    s.run(300, GOOD, person=False)  # five minutes away
    s.run(2, FORWARD)  # back, slouched: decided afresh, not by the window of 5 minutes ago
    assert s.last.deciding_faults == ("forward_head",)
    s.run(40, FORWARD)
    s.run(12, GOOD)  # recovered
    assert len(s.events(Recovered)) == 1
    s.run(1, FORWARD)  # the fault is back at once: a new slouch, or a glance?
    assert s.last.deciding_faults == ("forward_head",)


def test_a_run_breaks_after_more_than_6_s_without_its_fault_counted_from_its_last_hold() -> None:
    def start_after_gap(gap_s: float) -> float:
        s = make()
        s.run(20, FORWARD)  # 0..19
        s.clock.advance(gap_s - 1.0)  # no observation (camera reopening, a suspend) ...
        s.run(40, FORWARD)  # ... then the slouch goes on
        (start,) = s.events(SlouchStarted)
        return start.start_s

    # the last faulty look (19) stands for max_hold_s (3 s): 6 s more without it may pass
    assert start_after_gap(8.9) == 0.0
    assert start_after_gap(9.0) == 0.0  # exactly 6 s: not more
    assert start_after_gap(9.5) == pytest.approx(28.5)  # a new run


def test_a_fault_back_right_after_its_recovery_starts_a_new_run() -> None:
    s = make()
    s.run(60, FORWARD)  # active at 30
    s.run(4, GOOD)  # 60..63
    s.run(1, FORWARD)  # 64: a blip inside the recovery window
    s.run(5, GOOD)  # 65..69: 8 of the last 10 s good: recovered
    (rec,) = s.events(Recovered)
    s.run(45, FORWARD)  # back 5 s after the blip stopped counting: inside a run's 6 s gap
    first, second = s.events(SlouchStarted)
    assert second.start_s == 70.0 > rec.end_s  # a new run, not the old one from 0
    assert second.t_s == 100.0  # a full persistence time after it came back


def test_an_absence_gives_back_a_used_up_window() -> None:
    s = make()
    s.run(2, FORWARD)  # a glance at 0..1 opens a window
    s.run(20, GOOD, person=False)  # 2..21: away from 16 s
    s.run(15, FORWARD)  # back at 22, slouched: decided afresh for a whole window
    assert _deciding(s, 22, 37) == {("forward_head",)}


def test_a_slouch_sampled_slowly_is_not_broken_by_two_good_looks() -> None:
    # looks 2.02 s apart (the idle rate on a camera): two good looks are 4 s of good posture,
    # not the 6 s gap that breaks a run, though the faulty looks on either side are 6.06 s apart
    s = make()
    s.run(26, FORWARD, dt=2.02)  # 0 .. 24.24
    s.run(4, GOOD, dt=2.02)  # 26.26, 28.28
    s.run(40, FORWARD, dt=2.02)  # 30.3 ..
    (start,) = s.events(SlouchStarted)
    assert start.start_s == 0.0 and start.t_s == pytest.approx(30.3)


def test_a_fault_broken_by_a_gap_in_observations_starts_over() -> None:
    s = make()
    s.run(20, FORWARD)
    s.clock.advance(60)  # no frames at all (laptop asleep)
    t1 = s.clock.monotonic()
    s.run(40, FORWARD)
    (start,) = s.events(SlouchStarted)
    assert start.start_s == t1 and start.t_s - t1 >= 30.0


def test_glancing_inside_the_learned_glance_range_never_alerts() -> None:
    prof = side_profile(glance={"cva_deg": 8.0, "neck_flexion_deg": 12.0})
    s = make(profile=prof)
    glance = {**GOOD, "cva_deg": 60.0 - 10.5, "neck_flexion_deg": 15.0 + 14.5}
    for _ in range(10):  # long, repeated glances at the keyboard
        s.run(45, glance)
        s.run(5, GOOD)
    assert s.events((SlouchStarted, Nudge)) == []
    assert all(v.instant_faults == () for _, v, _ in s.steps)
    s.run(40, {**GOOD, "cva_deg": 48.5})  # beyond glance + 3 x MAD: a real slouch
    assert len(s.events(Nudge)) == 1


# -- alerts ----------------------------------------------------------------------------------


def test_cooldown_holds_the_second_nudge_back() -> None:
    s = make()
    s.run(40, FORWARD)  # nudge at 30
    s.run(20, GOOD)  # recovered
    s.run(400, FORWARD)  # second episode from 60, confirmed at 90
    starts = s.events(SlouchStarted)
    nudges = s.events(Nudge)
    assert len(starts) == 2 and starts[1].t_s == 90.0
    assert [n.t_s for n in nudges] == [30.0, 330.0]


def test_escalation_once_ten_minutes_after_the_nudge() -> None:
    s = make()
    s.run(1300, FORWARD)
    (nudge,) = s.events(Nudge)
    (esc,) = s.events(Escalation)
    assert isinstance(esc, Escalation)
    assert esc.t_s - nudge.t_s == 600.0 and esc.held_s == pytest.approx(630.0)


def test_snooze_holds_alerts_until_it_ends() -> None:
    s = make()
    s.judge.snooze(100.0)
    s.run(120, FORWARD)
    assert [n.t_s for n in s.events(Nudge)] == [100.0]
    assert s.events(SlouchStarted)[0].t_s == 30.0  # detection went on


def test_resume_lifts_the_snooze() -> None:
    s = make()
    s.judge.snooze(1000.0)
    s.run(50, FORWARD)
    assert s.events(Nudge) == []
    s.judge.resume()
    s.run(1, FORWARD)
    assert [n.t_s for n in s.events(Nudge)] == [50.0]


def test_break_reminder_after_45_minutes_of_presence() -> None:
    s = make()
    s.run(2699, GOOD)
    assert s.events(BreakDue) == []
    s.run(2, GOOD)
    (brk,) = s.events(BreakDue)
    assert isinstance(brk, BreakDue) and brk.sitting_s == 2700.0


def test_a_break_falling_due_just_after_a_nudge_waits_for_the_alert_gap() -> None:
    # the review's case: break_after_s 330 s, a slouch nudged at 331.5 s, so two pop-ups 1.5 s
    # apart; now whichever comes second waits alert_gap_s (120 s) after the first
    s = make(JudgeConfig(break_after_s=330.0))
    s.run(300, GOOD)
    s.run(200, FORWARD)  # slouch from 300 s: nudged at 330 s, the break due at 330 s too
    (nudge,) = s.events(Nudge)
    (brk,) = s.events(BreakDue)
    assert nudge.t_s == 330.0
    assert brk.t_s == 450.0  # still due, so given as soon as the gap has passed
    s2 = make(JudgeConfig(break_after_s=320.0))
    s2.run(300, GOOD)
    s2.run(200, FORWARD)
    (brk2,) = s2.events(BreakDue)
    (nudge2,) = s2.events(Nudge)
    assert (brk2.t_s, nudge2.t_s) == (320.0, 440.0)  # the nudge waits in turn
    s3 = make(JudgeConfig(break_after_s=330.0, alert_gap_s=0.0))
    s3.run(300, GOOD)
    s3.run(200, FORWARD)
    assert [e.t_s for e in s3.events((Nudge, BreakDue))] == [330.0, 330.0]  # the gap switched off


def test_frequent_nudges_cannot_hold_a_break_back_for_more_than_the_gap() -> None:
    # with cooldown_s 30 a nudge came within every 120 s, and no break reminder ever came
    s = make(JudgeConfig(break_after_s=600.0, cooldown_s=30.0))
    for _ in range(40):  # 40 min: 45 s slouched, 15 s upright
        s.run(45, FORWARD)
        s.run(15, GOOD)
    breaks = [e.t_s for e in s.events(BreakDue)]
    assert len(breaks) == 3  # due at 600, 1200, 1800 (2400 is the end)
    for i, t in enumerate(breaks, start=1):
        assert 600.0 * i <= t <= 600.0 * i + 120.0  # at most the gap late
    nudges = [e.t_s for e in s.events(Nudge)]
    assert len(nudges) > 20  # the short cooldown still works between nudges
    # and a nudge never comes within the gap after a break
    assert all(not 0 <= n - b < 120.0 for n in nudges for b in breaks)


def test_short_absence_keeps_and_long_absence_resets_the_sitting_timer() -> None:
    s = make()
    s.run(1500, GOOD)
    s.run(60, {}, person=False)  # 1 min away: timer keeps going
    s.run(1200, GOOD)
    (brk,) = s.events(BreakDue)
    assert brk.t_s == 2700.0
    s2 = make()
    s2.run(2400, GOOD)
    s2.run(130, {}, person=False)  # > 2 min away: timer restarts on return
    back = s2.clock.monotonic()
    s2.run(2701, GOOD)
    (brk2,) = s2.events(BreakDue)
    assert brk2.t_s == back + 2700.0


def test_away_after_no_person_ends_the_episode() -> None:
    s = make()
    s.run(40, FORWARD)  # episode
    s.run(20, {}, person=False)  # last seen at 39
    away = s.events(AwayStarted)
    assert len(away) == 1 and isinstance(away[0], AwayStarted)
    assert away[0].since_s == 39.0 and away[0].t_s == 54.0
    (rec,) = s.events(Recovered)
    assert rec.t_s == 54.0 and rec.end_s == 40.0  # the last faulty look held until the next
    assert rec.ended_by == "absence"  # leaving is not recovering
    assert s.last.state == "away" and "no person" in s.last.reason
    s.run(2, GOOD)
    (ret,) = s.events(Returned)
    assert isinstance(ret, Returned) and ret.away_s == 21.0
    assert s.last.state == "good"


def test_brief_absence_is_unknown_not_away() -> None:
    s = make()
    s.run(5, GOOD)
    s.run(5, {}, person=False)
    assert s.last.state == "unknown" and s.events(AwayStarted) == []


# -- unknown ---------------------------------------------------------------------------------


@pytest.mark.parametrize("issue", ["dark", "blank", "frozen"])
def test_bad_images_are_unknown_and_never_slouching(issue: str) -> None:
    s = make()
    for _ in range(60):  # faulty frames alternate with unusable ones: no persistence
        s.feed(FORWARD)
        s.clock.advance(1)
        s.feed(FORWARD, issue=issue)
        s.clock.advance(4)
    assert s.events(SlouchStarted) == []
    assert s.last.state == "unknown" and issue in s.last.reason


def test_unknown_suspends_an_episode_and_ends_it_only_after_a_while() -> None:
    s = make()
    s.run(40, FORWARD)
    s.run(30, FORWARD, issue="dark")  # 30 s unknown: suspended, not ended
    assert s.events(Recovered) == []
    assert all(v.state == "unknown" for _, v, _ in s.steps[-30:])
    s.run(5, FORWARD)
    assert s.last.state == "slouching" and len(s.events(SlouchStarted)) == 1
    s.run(61, GOOD, issue="frozen")  # a minute without a usable frame ends it
    (rec,) = s.events(Recovered)
    assert rec.end_s == 75.0  # the last faulty look (74) held until the next, unusable one
    assert rec.ended_by == "no usable frame"


@pytest.mark.parametrize(("stop_s", "end_s"), [(39.5, 39.5), (49.0, 42.0)])
def test_a_stop_mid_episode_closes_it_with_its_numbers(stop_s: float, end_s: float) -> None:
    s = make()
    s.run(20, FORWARD)  # 8 deg down
    s.run(20, {**FORWARD, "cva_deg": 50.0})  # 10 deg down; the last look at 39
    (rec,) = s.judge.close(stop_s)
    assert isinstance(rec, Recovered) and rec.ended_by == "stop" and rec.t_s == stop_s
    assert rec.start_s == 0.0 and rec.faults == ("forward_head",) and rec.metric == "cva_deg"
    assert rec.peak_deviation == pytest.approx(10.0)
    assert 8.0 < rec.mean_deviation < 10.0
    # the last faulty look holds until the stop, for at most max_hold_s (3 s)
    assert rec.end_s == pytest.approx(end_s)


@pytest.mark.parametrize("t_s", [30.0, math.nan, math.inf])
def test_closing_before_the_last_observation_or_at_no_time_raises(t_s: float) -> None:
    s = make()
    s.run(45, FORWARD)  # an episode, the last look at 44
    with pytest.raises(ValueError, match="before the last observation"):
        s.judge.close(t_s)
    (rec,) = s.judge.close(44.0)  # nothing half-applied
    assert rec.ended_by == "stop"


def test_a_long_gap_without_frames_ends_an_episode() -> None:
    # the camera released (snooze, screen lock) or the laptop asleep: nobody watched the gap,
    # so the episode does not run across it, as it would not across unusable frames
    s = make()
    s.run(45, FORWARD)  # episode; the last look at 44
    s.clock.advance(1800.0)
    s.run(20, FORWARD)
    (rec,) = s.events(Recovered)
    assert isinstance(rec, Recovered) and rec.ended_by == "no usable frame"
    assert rec.t_s == pytest.approx(1845.0) and rec.end_s == pytest.approx(47.0)  # 44 + its hold
    assert rec.start_s == 0.0
    s.run(40, FORWARD)  # still slouched after the gap: a new episode, dated after it
    starts = [e.start_s for e in s.events(SlouchStarted)]  # type: ignore[attr-defined]
    assert len(starts) == 2 and starts[1] >= 1845.0


def test_a_short_gap_does_not_end_an_episode() -> None:
    s = make()
    s.run(45, FORWARD)
    s.clock.advance(30.0)
    s.run(20, FORWARD)
    assert s.events(Recovered) == [] and s.last.state == "slouching"


def test_closing_without_an_episode_gives_nothing() -> None:
    s = make()
    s.run(20, FORWARD)  # a fault not yet held for 30 s is no episode
    assert s.judge.close(20.0) == []
    s.run(40, FORWARD)
    s.run(10, GOOD)  # recovered
    assert s.judge.close(70.0) == []


def test_view_different_from_profile_is_unknown() -> None:
    s = make()
    _, v, _ = s.feed(FORWARD, view="front")
    assert v.state == "unknown" and "view differs" in v.reason and v.instant_faults == ()


def test_unreliable_landmarks_are_unknown() -> None:
    s = make()
    _, v, _ = s.feed({"cva_deg": math.nan, "neck_flexion_deg": math.nan})
    assert v.state == "unknown" and v.reason == "landmarks unreliable"


def test_time_going_backwards_raises_and_leaves_state_unchanged() -> None:
    a, b = make(), make()
    for s in (a, b):
        s.run(20, FORWARD)
    with pytest.raises(ValueError, match="backwards"):
        a.judge.feed(Observation(5.0, True, "side_left", FORWARD))
    a.run(20, FORWARD)
    b.run(20, FORWARD)
    assert [e for _, _, ev in a.steps for e in ev] == [e for _, _, ev in b.steps for e in ev]
    assert a.last == b.last


def test_unknown_image_issue_is_refused() -> None:
    with pytest.raises(ValueError, match="image_issue"):
        make().judge.feed(Observation(0.0, True, "side_left", GOOD, "smudged"))


def test_transition_table_is_complete() -> None:
    signals = {s for _, s in TRANSITIONS}
    assert {(st_, sig) for st_ in STATES for sig in signals} == set(TRANSITIONS)
    assert TRANSITIONS[("away", "unseen")] == "away"


def test_disabled_faults_are_not_judged() -> None:
    s = make(JudgeConfig(faults=("head_drop",)))
    s.run(60, FORWARD)
    assert s.events(SlouchStarted) == [] and s.last.instant_faults == ()


def test_a_view_without_any_watched_fault_says_so() -> None:
    # head tilt is judged in front view only: a side profile watching only it judges nothing
    s = make(JudgeConfig(faults=("head_tilt",)))
    s.run(5, GOOD)
    assert s.last.state == "unknown"
    assert s.last.reason == (
        "none of the watched faults (head_tilt) can be judged in side view: add one to judge.faults"
    )


def test_watching_no_fault_at_all_is_a_config_error() -> None:
    with pytest.raises(FieldError, match=r"judge\.faults.*non-empty list of 'forward_head'"):
        JudgeConfig(faults=())


# -- property: never a nudge without an episode -------------------------------------------------

_SEGMENT = st.tuples(
    st.sampled_from(["good", "forward", "drop", "absent", "dark", "front", "nan"]),
    st.floats(0.5, 90.0),
    st.floats(0.03, 2.5),
    st.sampled_from([None, "snooze", "resume"]),
)
_METRICS = {
    "good": GOOD,
    "forward": FORWARD,
    "drop": {**GOOD, "neck_flexion_deg": 30.0},
    "absent": {},
    "dark": FORWARD,
    "front": FORWARD,
    "nan": {"cva_deg": math.nan},
}


def _segments(
    judge: Judge, clock: FakeClock, segs: Iterable[tuple[str, float, float, str | None]]
) -> list[Event]:
    out: list[Event] = []
    for kind, secs, dt, ctl in segs:
        if ctl == "snooze":
            judge.snooze(clock.monotonic() + secs / 2)
        elif ctl == "resume":
            judge.resume()
        end = clock.monotonic() + secs
        while clock.monotonic() < end:
            v, ev = judge.feed(
                Observation(
                    clock.monotonic(),
                    kind != "absent",
                    "front" if kind == "front" else "side_left",
                    _METRICS[kind],
                    "dark" if kind == "dark" else "",
                )
            )
            assert v.state in STATES
            out.extend(ev)
            clock.advance(dt)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(_SEGMENT, min_size=1, max_size=12))
def test_never_nudges_without_an_episode(segs: list[tuple[str, float, float, str | None]]) -> None:
    cfg = replace(JudgeConfig(), cooldown_s=20.0, escalate_after_s=60.0)
    events = _segments(Judge(cfg, side_profile()), FakeClock(), segs)
    in_episode = False
    last_t = -math.inf
    for e in events:
        assert e.t_s >= last_t
        last_t = e.t_s
        if isinstance(e, SlouchStarted):
            assert not in_episode
            in_episode = True
        elif isinstance(e, Recovered):
            assert in_episode and e.start_s <= e.end_s
            in_episode = False
        elif isinstance(e, Nudge | Escalation):
            assert in_episode
            assert e.t_s - e.held_s >= 0.0
