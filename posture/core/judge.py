"""The posture judge: a pure state machine from observations to a verdict and events.

Theory of operation
-------------------
The judge never reads a clock and never does I/O. The shell feeds it one `Observation` per
analysed frame, carrying the frame's monotonic time `t_s`; `feed` returns a `Verdict` (what this
frame shows) and the `Event`s that happened at this frame. A `t_s` earlier than the last one raises
`ValueError` and leaves the judge unchanged (like h11, an illegal input never half-applies).

1. **Instant faults.** Every usable frame is compared with the profile, per fault, using the rule
   table `FAULT_RULES` for the profile's view family. A metric's deviation is signed so that
   positive is worse (`Profile.deviation`). Thresholds:

   - side view: forward head when the CVA estimate is >= `forward_head_cva_drop_deg` (5 deg,
     about the minimal detectable change of photographic CVA) below baseline; head drop when neck
     flexion rises >= `neck_flexion_rise_deg`;
   - frontal ratios (face_scale, head_drop, nose_drop, protraction, lean-in): more than
     `mad_k` x MAD of the calibration, the MAD floored at `mad_floor_ratio` (a very still
     calibration is not noise-free); forward head needs 2 of its 3 frontal signals to agree;
   - a learned glance range widens a threshold to `glance + mad_k x MAD` when that is larger, so
     glancing at the keyboard as far as during calibration never counts;
   - the population default profile carries absolute limits instead (CVA equivalent of the
     clinical 50 deg cut-off, ISO 11226's 25 deg neck flexion).

   A fault whose metrics are all invalid in a frame is *unknown* in that frame, not good.

2. **Persistence (per fault).** Each observation stands for the time until the next one, at most
   `max_hold_s` (longer gaps are unknown time), so irregular rates of 0.2-30 fps weigh frames by
   time, not count. A fault's *run* begins at its first faulty frame (onset) and is dropped after
   `(1 - persistence_fraction) x persistence_s` (6 s) without the fault, counted from when its
   last faulty frame stopped counting (the next frame, at most `max_hold_s` later), so the rate
   does not change the gap; a run also ends when its fault recovers or its episode ends. A fault
   becomes *active* at a faulty frame when its run is >= `persistence_s` old and the fault
   covered >= `persistence_fraction` of the last `persistence_s` (>= 24 of the last 30 s). So a
   continuous fault activates at 30 s (plus at most one frame interval), never earlier, and one
   good frame does not reset it. An active fault recovers when >= `recover_fraction` of the last
   `recover_window_s` was good (hysteresis: 8 of 10 s), or when it has been unmeasurable for
   `unknown_ends_episode_s`.

   *Deciding* (`Verdict.deciding_faults`, for the adaptive rate): a fault's first faulty frame
   opens its persistence window, deciding while the run lasts and for at most `persistence_s`
   (a slouch, or a glance?); an active fault's first good frame opens its recovery window,
   deciding for `recover_window_s` (straightening up, or a blip?). A window once opened is used
   up until the fault has shown the other way for `persistence_s`, so glances every few seconds
   or a fault that comes and goes are decided by one window, not one after another.

3. **Episodes.** An episode runs while any fault is active: `SlouchStarted` (dated from the first
   fault's onset) and `Recovered` (dated to where the last faulty frame stopped counting: the
   next frame, at most `max_hold_s` later, as the stored time shares have it; with the peak and
   mean deviation of the primary fault's main metric over its faulty frames since onset). The
   primary fault is the one that activated first.

4. **Overall state**, from the frame's signal through `TRANSITIONS` (below):

   - `clear` / `slouch`: a usable frame, without / with an episode running;
   - `unreliable`: a person is there but cannot be judged (landmarks unreliable, the view
     differs from the profile's family);
   - `unseen`: the camera image is dark, blank or frozen;
   - `absent`: no person, for less than `away_after_s`; `away`: for at least that long.

   `unknown` never counts as slouching, and it does not end an episode at once either: the
   episode is suspended (its faults neither persist nor recover on unknown time) and ends only
   after `unknown_ends_episode_s` without a usable frame, or without any frame at all (a camera
   released by a snooze or a screen lock, a laptop asleep: nobody watched that time). Becoming
   `away` ends the episode. `close()` ends one still running when monitoring stops.

5. **Alerts.** A `Nudge` when an episode is running, has not been nudged, the current frame shows
   the slouch, `cooldown_s` has passed since the last nudge and no snooze holds (a nudge held back
   by cooldown or snooze comes later if the slouch is still there). An `Escalation` once per
   episode, `escalate_after_s` after its nudge if still slouching. `BreakDue` after every
   `break_after_s` of presence; an absence (or a gap without observations) of
   `sitting_reset_away_s` resets the sitting timer. A break reminder and a posture alert (nudge
   or escalation) are at least `alert_gap_s` apart (a break falling due a second after a nudge
   was two pop-ups at once): the later one waits, and comes when the gap has passed if it is
   still due. A break waits at most `alert_gap_s` past its time (frequent nudges must not hold
   it back for ever); then it goes first and a nudge waits. Posture alerts among themselves are
   spaced by `cooldown_s` and `escalate_after_s`. `snooze(until_s)` holds every alert until
   then; `resume()` lifts it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from posture.core.calibration import METRIC_SPECS, Profile
from posture.core.config import JudgeConfig
from posture.core.events import (
    FAULTS,
    AwayStarted,
    BreakDue,
    EpisodeEnd,
    Escalation,
    Event,
    Nudge,
    Recovered,
    Returned,
    SlouchStarted,
    State,
    StateChanged,
    Verdict,
)

logger = logging.getLogger(__name__)

IMAGE_ISSUES: tuple[str, ...] = ("", "dark", "blank", "frozen")
"""Allowed `Observation.image_issue` values ("" = the image is fine)."""

Signal = Literal["clear", "slouch", "unreliable", "unseen", "absent", "away"]

_FROM_ANY: dict[Signal, State] = {
    "clear": "good",
    "slouch": "slouching",
    "unreliable": "unknown",
    "unseen": "unknown",
    "absent": "unknown",
    "away": "away",
}

TRANSITIONS: dict[tuple[State, Signal], State] = {
    **{("good", s): st for s, st in _FROM_ANY.items()},
    **{("slouching", s): st for s, st in _FROM_ANY.items()},
    **{("unknown", s): st for s, st in _FROM_ANY.items()},
    # Away stays away until a person is seen: a dark or frozen image proves no return.
    ("away", "clear"): "good",
    ("away", "slouch"): "slouching",
    ("away", "unreliable"): "unknown",
    ("away", "unseen"): "away",
    ("away", "absent"): "away",
    ("away", "away"): "away",
}
"""(state, frame signal) -> next state. The whole overall-state machine in one table."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One analysed frame as the judge sees it.

    t_s: monotonic seconds. person: a person was detected. view: the geometry's view string.
    metrics: metric key -> value, NaN where invalid. image_issue: "dark", "blank", "frozen" or ""
    when the image is fine.
    """

    t_s: float
    person: bool
    view: str
    metrics: Mapping[str, float]
    image_issue: str = ""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """How one fault is read from metrics in one view family.

    metrics: the signals; the first is the fault's main metric in alerts. threshold: the
    JudgeConfig field giving the threshold in the metric's unit, or "mad" for k x MAD.
    min_signals: how many signals must agree (and be measurable) for the fault to be judged.
    """

    fault: str
    metrics: tuple[str, ...]
    threshold: str
    min_signals: int = 1


_FRONTAL_RULES: tuple[FaultRule, ...] = (
    FaultRule("forward_head", ("face_scale", "head_drop", "nose_drop"), "mad", 2),
    FaultRule("head_drop", ("head_drop", "nose_drop"), "mad", 2),
    FaultRule("rounded_shoulders", ("shoulder_protraction",), "mad"),
    FaultRule("leaning_in", ("lean_in",), "mad"),
    FaultRule("head_tilt", ("head_roll_deg",), "head_tilt_deg"),
)

FAULT_RULES: dict[str, tuple[FaultRule, ...]] = {
    "side": (
        FaultRule("forward_head", ("cva_deg",), "forward_head_cva_drop_deg"),
        FaultRule("head_drop", ("neck_flexion_deg",), "neck_flexion_rise_deg"),
        FaultRule("rounded_shoulders", ("shoulder_protraction",), "mad"),
    ),
    "front": _FRONTAL_RULES,
    "three_quarter": _FRONTAL_RULES,
}
"""Per view family, the fault rules. Side views cannot see tilt or lean-in reliably."""


@dataclass(frozen=True, slots=True)
class _Check:
    """A precomputed per-metric test: fault when the deviation >= threshold (or past a limit)."""

    metric: str
    threshold: float
    limit: float | None = None
    direction: int = 0


class _Timeline:
    """Run-length record of one fault's status over recent time (True = fault, False = good)."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        self.runs: deque[list[float]] = deque()  # [start, end, status as 1.0/0.0]

    def add(self, start: float, end: float, status: bool) -> None:
        if end <= start:
            return
        code = 1.0 if status else 0.0
        if self.runs and self.runs[-1][2] == code and self.runs[-1][1] == start:
            self.runs[-1][1] = end
        else:
            self.runs.append([start, end, code])

    def time_in(self, status: bool, since: float) -> float:
        code = 1.0 if status else 0.0
        return sum(max(0.0, e - max(s, since)) for s, e, c in self.runs if c == code)

    def prune(self, before: float) -> None:
        while self.runs and self.runs[0][1] <= before:
            self.runs.popleft()


@dataclass(slots=True)
class _Episode:
    start_s: float
    primary: str
    faults: list[str]
    nudged_s: float | None = None
    escalated: bool = False
    dev_sum: float = 0.0
    dev_n: int = 0
    dev_peak: float = math.nan


@dataclass(slots=True)
class _FaultTrack:
    timeline: _Timeline = field(default_factory=_Timeline)
    status: bool | None = None  # status of the latest frame, held until the next one
    onset_s: float | None = None
    last_fault_s: float | None = None
    last_known_s: float | None = None
    # when the last faulty / good observation stopped counting: at the next observation, at
    # most max_hold_s later (what a gap in the fault is measured from, at any frame rate)
    fault_until_s: float | None = None
    good_until_s: float | None = None
    building_s: float | None = None  # opening of the persistence window that decides it
    recovery_s: float | None = None  # opening of the recovery window, once active
    active: bool = False
    active_order: int = 0
    run_sum: float = 0.0  # main-metric deviation over the run's faulty frames
    run_n: int = 0
    run_peak: float = math.nan


def _forget_run(tr: _FaultTrack) -> None:
    """End a fault's activity and its run: if it shows again, that is a new run, judged afresh."""
    tr.active = False
    tr.onset_s = None
    tr.run_sum, tr.run_n, tr.run_peak = 0.0, 0, math.nan


def _or_never(t_s: float | None) -> float:
    """Return the time, or -inf for one that never happened (so `now - it` is inf)."""
    return -math.inf if t_s is None else t_s


class Judge:
    """Feed observations in time order; get a verdict and the events each frame causes."""

    def __init__(self, config: JudgeConfig, profile: Profile) -> None:
        self.config = config
        self.profile = profile
        self._family = profile.family
        self._rules = tuple(
            r for r in FAULT_RULES.get(self._family, ()) if r.fault in config.faults
        )
        self._checks = {r.fault: tuple(self._check(r, m) for m in r.metrics) for r in self._rules}
        self._tracks = {r.fault: _FaultTrack() for r in self._rules}
        self._state: State = "unknown"
        self._last_t: float | None = None
        self._first_t: float | None = None
        self._last_seen_s: float | None = None
        self._last_usable_s: float | None = None
        self._sitting_since_s: float | None = None
        self._breaks_given = 0
        self._last_nudge_s: float | None = None
        self._last_posture_alert_s: float | None = None  # a nudge or an escalation
        self._last_break_s: float | None = None
        self._snoozed_until: float | None = None
        self._episode: _Episode | None = None
        self._activations = 0
        self._run_gap_s = (1.0 - config.persistence_fraction) * config.persistence_s
        self._keep_s = max(config.persistence_s, config.recover_window_s)

    # -- public -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current overall state ("unknown" before the first observation)."""
        return self._state

    def snooze(self, until_s: float) -> None:
        """Hold every alert (nudge, escalation, break) until `until_s`; detection goes on."""
        if not math.isfinite(until_s):
            raise ValueError(f"snooze until_s must be a finite time, got {until_s!r}")
        self._snoozed_until = until_s

    def resume(self) -> None:
        """Lift a snooze now."""
        self._snoozed_until = None

    def feed(self, obs: Observation) -> tuple[Verdict, list[Event]]:
        """Judge one observation. Raises ValueError (state unchanged) if time goes backwards."""
        t = obs.t_s
        if not math.isfinite(t):
            raise ValueError(f"observation time must be finite, got {t!r}")
        if self._last_t is not None and t < self._last_t:
            raise ValueError(
                f"observation time went backwards: {t} after {self._last_t} (times are monotonic)"
            )
        if obs.image_issue not in IMAGE_ISSUES:
            raise ValueError(
                f"image_issue {obs.image_issue!r} is not one of "
                f"{', '.join(map(repr, IMAGE_ISSUES))}"
            )
        cfg = self.config
        events: list[Event] = []
        prev_t = self._last_t
        if self._first_t is None:
            self._first_t = t
        self._last_t = t

        # Time since the previous frame belongs to the previous frame's status (held at most
        # max_hold_s); the rest of a long gap is unknown time.
        if prev_t is not None:
            end = min(t, prev_t + cfg.max_hold_s)
            for tr in self._tracks.values():
                if tr.status is not None:
                    tr.timeline.add(prev_t, end, tr.status)
                tr.timeline.prune(t - self._keep_s)
            # An episode ends after unknown_ends_episode_s without a usable frame: unusable
            # frames, or none at all (the camera released by a snooze or a screen lock, a laptop
            # asleep): nobody watched that time.
            last_usable = self._last_usable_s
            if (
                self._episode is not None
                and last_usable is not None
                and t - last_usable >= cfg.unknown_ends_episode_s
            ):
                self._hold_last_look(prev_t, t)
                self._end_episode(t, events, why="no usable frame")

        present = obs.person and not obs.image_issue
        signal: Signal
        reason = ""
        statuses: dict[str, bool | None] = dict.fromkeys(self._tracks)
        deviations: dict[str, float] = {}

        # Sitting timer, arrivals and departures.
        if present:
            gone_s = t - self._last_seen_s if self._last_seen_s is not None else math.inf
            if self._sitting_since_s is None or gone_s >= cfg.sitting_reset_away_s:
                self._sitting_since_s = t
                self._breaks_given = 0
            if self._state == "away" and self._last_seen_s is not None:
                events.append(Returned(t, away_s=gone_s))
            self._last_seen_s = t

        if obs.image_issue:
            signal, reason = "unseen", f"camera image is {obs.image_issue}"
        elif not obs.person:
            since = self._last_seen_s if self._last_seen_s is not None else self._first_t
            absent_s = t - since
            if absent_s >= cfg.away_after_s:
                signal, reason = "away", f"no person for {absent_s:.0f} s"
            else:
                signal, reason = "absent", "no person in view"
        elif not self.profile.serves(obs.view):
            signal = "unreliable"
            reason = (
                f"view differs from profile ({obs.view or 'unknown'} seen, profile is "
                f"{self.profile.view}): recalibrate for this view or move the camera back"
            )
        else:
            deviations = {
                k: self.profile.deviation(k, float(v))
                for k, v in obs.metrics.items()
                if k in self.profile.baseline
            }
            statuses = {r.fault: self._evaluate(r, obs.metrics) for r in self._rules}
            if not self._rules:
                signal = "unreliable"
                reason = (
                    f"none of the watched faults ({', '.join(self.config.faults)}) can be judged "
                    f"in {self._family} view: add one to judge.faults"
                )
            elif all(s is None for s in statuses.values()):
                signal, reason = "unreliable", "landmarks unreliable"
            else:
                signal = "clear"

        usable = signal == "clear"
        for fault, tr in self._tracks.items():
            s = statuses[fault]
            if tr.status is not None and prev_t is not None:
                until = min(t, prev_t + cfg.max_hold_s)
                if tr.status:
                    tr.fault_until_s = until
                else:
                    tr.good_until_s = until
            tr.status = s
            if s is not None:
                tr.last_known_s = t
            # The run is broken when the fault was gone too long: measured from when its last
            # faulty frame stopped counting, not from that frame, or two good looks at a slow
            # rate (2 s apart, each standing for 2 s) would be a 6 s gap where 4 s were good.
            if t - _or_never(tr.fault_until_s) > self._run_gap_s + 1e-9:
                tr.onset_s = None
            if s:
                tr.last_fault_s = t
                if tr.onset_s is None:
                    tr.onset_s = t
                    tr.run_sum, tr.run_n, tr.run_peak = 0.0, 0, math.nan
                d = self.profile.deviation(
                    self._checks[fault][0].metric,
                    float(obs.metrics.get(self._checks[fault][0].metric, math.nan)),
                )
                if math.isfinite(d):
                    tr.run_sum += d
                    tr.run_n += 1
                    tr.run_peak = d if math.isnan(tr.run_peak) else max(tr.run_peak, d)

        if usable:
            self._last_usable_s = t
            self._update_faults(t)
            self._open_windows(t)
        if signal == "away":
            self._end_episode(t, events, why="absence")
        if usable:
            self._track_episode(t, events, obs.metrics)
            if self._episode is not None:
                signal = "slouch"

        old = self._state
        new = TRANSITIONS[(old, signal)]
        if new != old:
            events.append(StateChanged(t, old=old, new=new, reason=reason))
            if new == "away":
                since = self._last_seen_s if self._last_seen_s is not None else self._first_t
                events.append(AwayStarted(t, since_s=since))
        self._state = new

        self._alerts(t, present, events, obs.metrics)
        verdict = Verdict(
            t_s=t,
            state=new,
            instant_faults=tuple(f for f in FAULTS if statuses.get(f)),
            active_faults=tuple(f for f in FAULTS if f in self._tracks and self._tracks[f].active),
            deciding_faults=tuple(
                f for f in FAULTS if f in self._tracks and self._deciding(self._tracks[f], t)
            )
            if usable
            else (),
            deviations=deviations,
            reason=reason,
        )
        return verdict, events

    # -- faults -----------------------------------------------------------------------------

    def _check(self, rule: FaultRule, metric: str) -> _Check:
        cfg, prof = self.config, self.profile
        spec = METRIC_SPECS[metric]
        if metric in prof.limits:
            return _Check(metric, 0.0, limit=prof.limits[metric], direction=spec.direction)
        base = prof.baseline.get(metric)
        if base is None:
            return _Check(metric, math.nan)
        floor = cfg.mad_floor_deg if spec.unit == "deg" else cfg.mad_floor_ratio
        noise = cfg.mad_k * max(base.mad, floor)
        thr = noise if rule.threshold == "mad" else float(getattr(cfg, rule.threshold))
        glance = prof.glance.get(metric, 0.0)
        if glance > 0.0:
            thr = max(thr, glance + noise)
        return _Check(metric, thr)

    def _evaluate(self, rule: FaultRule, metrics: Mapping[str, float]) -> bool | None:
        """True/False when at least `min_signals` signals are measurable, else None (unknown)."""
        known = hits = 0
        for chk in self._checks[rule.fault]:
            v = float(metrics.get(chk.metric, math.nan))
            if not math.isfinite(v):
                continue
            if chk.limit is not None:
                d = v - chk.limit
                bad = (abs(d) if chk.direction == 0 else chk.direction * d) > 0.0
            else:
                if math.isnan(chk.threshold):
                    continue
                bad = self.profile.deviation(chk.metric, v) >= chk.threshold
            known += 1
            hits += bad
        if known < rule.min_signals:
            return None
        return hits >= rule.min_signals

    def _update_faults(self, t: float) -> None:
        """Activate faults that persisted; recover active faults that stayed good (hysteresis)."""
        cfg = self.config
        for tr in self._tracks.values():
            if not tr.active:
                if (
                    tr.status
                    and tr.onset_s is not None
                    and t - tr.onset_s >= cfg.persistence_s
                    and tr.timeline.time_in(True, t - cfg.persistence_s)
                    >= cfg.persistence_fraction * cfg.persistence_s - 1e-9
                ):
                    tr.active = True
                    self._activations += 1
                    tr.active_order = self._activations
            elif tr.status is False:
                good = tr.timeline.time_in(False, t - cfg.recover_window_s)
                if good >= cfg.recover_fraction * cfg.recover_window_s - 1e-9:
                    _forget_run(tr)
            elif tr.last_known_s is not None and t - tr.last_known_s >= cfg.unknown_ends_episode_s:
                _forget_run(tr)

    def _open_windows(self, t: float) -> None:
        """Open, and use up, the windows that decide each fault (`Verdict.deciding_faults`).

        A fault's first faulty frame opens its persistence window (a slouch, or a glance?); an
        active fault's first good frame opens its recovery window (straightening up, or a
        blip?). A window, once opened, is used up until the fault has shown the other way for
        `persistence_s`: gone for that long, or back for that long (a stretch without usable
        frames counts). So glances every few seconds, or a fault that comes and goes, are
        decided by one window, not one after another.
        """
        hold = self.config.persistence_s
        for tr in self._tracks.values():
            if tr.active:
                tr.building_s = None
                if tr.recovery_s is not None and t - _or_never(tr.good_until_s) >= hold:
                    tr.recovery_s = None
                if tr.status is False and tr.recovery_s is None:
                    tr.recovery_s = t
            else:
                tr.recovery_s = None
                if tr.building_s is not None and t - _or_never(tr.fault_until_s) >= hold:
                    tr.building_s = None
                if tr.status and tr.building_s is None:
                    tr.building_s = t

    def _deciding(self, tr: _FaultTrack, t: float) -> bool:
        """Whether a window that decides the fault is open (see `_open_windows`).

        Whatever each frame inside it shows, so a caller that samples faster while deciding
        samples the whole window alike. A persistence window stops deciding early when the
        fault's run breaks (gone for 6 s: a glance, over), since that run can no longer start
        an episode.
        """
        cfg = self.config
        if tr.active:
            return tr.recovery_s is not None and t - tr.recovery_s < cfg.recover_window_s
        return (
            tr.building_s is not None
            and tr.onset_s is not None
            and t - tr.building_s < cfg.persistence_s
        )

    # -- episodes and alerts ----------------------------------------------------------------

    def _main_deviation(self, fault: str, metrics: Mapping[str, float]) -> tuple[str, float]:
        """Return the fault's first measurable metric and its deviation (NaN if none)."""
        checks = self._checks[fault]
        for chk in checks:
            d = self.profile.deviation(chk.metric, float(metrics.get(chk.metric, math.nan)))
            if math.isfinite(d):
                return chk.metric, d
        return checks[0].metric, math.nan

    def _track_episode(self, t: float, events: list[Event], metrics: Mapping[str, float]) -> None:
        active = [f for f in FAULTS if f in self._tracks and self._tracks[f].active]
        ep = self._episode
        if ep is None and active:
            primary = min(active, key=lambda f: self._tracks[f].active_order)
            onsets = [self._tracks[f].onset_s for f in active]
            start = (
                min(o for o in onsets if o is not None) if any(o is not None for o in onsets) else t
            )
            tr = self._tracks[primary]
            # The episode's statistics start with the primary fault's run, from its onset.
            ep = self._episode = _Episode(
                start_s=start,
                primary=primary,
                faults=list(active),
                dev_sum=tr.run_sum,
                dev_n=tr.run_n,
                dev_peak=tr.run_peak,
            )
            events.append(SlouchStarted(t, start_s=start, faults=tuple(active)))
            return
        if ep is not None:
            if not active:
                self._end_episode(t, events, why="recovery")
                return
            ep.faults.extend(f for f in active if f not in ep.faults)
            if self._tracks[ep.primary].status:  # statistics over the faulty frames only
                metric = self._checks[ep.primary][0].metric
                d = self.profile.deviation(metric, float(metrics.get(metric, math.nan)))
                if math.isfinite(d):
                    ep.dev_sum += d
                    ep.dev_n += 1
                    ep.dev_peak = d if math.isnan(ep.dev_peak) else max(ep.dev_peak, d)

    def close(self, t_s: float) -> list[Event]:
        """End an episode still running when monitoring stops at `t_s`; returns its `Recovered`.

        Its peak and mean deviation and its faults are known only here, so a monitor stopped
        mid-slouch (Ctrl-C, the end of a video) keeps them in the history. `t_s` is where
        watching ended, at or after the last observation.
        """
        if not math.isfinite(t_s) or (self._last_t is not None and t_s < self._last_t):
            raise ValueError(f"close at t_s={t_s!r}: before the last observation ({self._last_t})")
        events: list[Event] = []
        if self._episode is None:
            return events
        if self._last_t is not None:  # the last look holds until the stop, as in the store
            self._hold_last_look(self._last_t, t_s)
        self._end_episode(t_s, events, why="stop")
        return events

    def _hold_last_look(self, last_t: float, t_s: float) -> None:
        """Let a faulty look at `last_t` count until `t_s` (capped at `max_hold_s`)."""
        until = min(t_s, last_t + self.config.max_hold_s)
        for tr in self._tracks.values():
            if tr.status:
                tr.fault_until_s = until

    def _within_gap(self, t: float, last: float | None) -> bool:
        """Whether an alert at `last` was under `alert_gap_s` ago: what is due then waits."""
        return last is not None and t - last < self.config.alert_gap_s

    def _end_episode(self, t: float, events: list[Event], why: EpisodeEnd) -> None:
        for tr in self._tracks.values():
            if why != "recovery":  # away, no usable frame, stop: what follows is decided afresh
                _forget_run(tr)
                tr.building_s = None
        ep = self._episode
        if ep is None:
            return
        self._episode = None
        # Where the last faulty look stopped counting, as with the start (the first faulty
        # look, where the good one before it stopped counting): not up to 2 s early when slow.
        lasts = [
            x
            for f in ep.faults
            for x in (self._tracks[f].last_fault_s, self._tracks[f].fault_until_s)
            if x is not None
        ]
        end = max(lasts, default=t)
        logger.debug("episode %s-%s ended (%s)", ep.start_s, end, why)
        events.append(
            Recovered(
                t,
                start_s=ep.start_s,
                end_s=end,
                faults=tuple(f for f in FAULTS if f in ep.faults),
                peak_deviation=ep.dev_peak,
                mean_deviation=ep.dev_sum / ep.dev_n if ep.dev_n else math.nan,
                metric=self._checks[ep.primary][0].metric,
                ended_by=why,
            )
        )

    def _alerts(
        self, t: float, present: bool, events: list[Event], metrics: Mapping[str, float]
    ) -> None:
        cfg = self.config
        if self._snoozed_until is not None:
            if t < self._snoozed_until:
                return
            self._snoozed_until = None

        since = self._sitting_since_s
        break_due_s = math.inf  # when the next break reminder falls due
        if cfg.break_reminders and present and since is not None:
            break_due_s = since + cfg.break_after_s * (self._breaks_given + 1)
        # A break held back by posture alerts waits at most the gap: nudges more often than it
        # (a short cooldown_s) would hold it back for ever. Then it goes first, a nudge waits.
        break_overdue = t - break_due_s >= cfg.alert_gap_s and self._within_gap(
            t, self._last_posture_alert_s
        )
        ep = self._episode
        if (
            ep is not None
            and self._state == "slouching"
            and not self._within_gap(t, self._last_break_s)
            and not break_overdue
        ):
            metric, dev = self._main_deviation(ep.primary, metrics)
            if math.isnan(dev) and ep.dev_n:
                dev = ep.dev_sum / ep.dev_n
            unit = METRIC_SPECS[metric].unit
            held = t - ep.start_s
            if ep.nudged_s is None:
                if self._last_nudge_s is None or t - self._last_nudge_s >= cfg.cooldown_s:
                    ep.nudged_s = self._last_nudge_s = self._last_posture_alert_s = t
                    events.append(Nudge(t, ep.primary, held, dev, metric, unit))
            elif not ep.escalated and t - ep.nudged_s >= cfg.escalate_after_s:
                ep.escalated = True
                self._last_posture_alert_s = t
                events.append(Escalation(t, ep.primary, held, dev, metric, unit))
        if since is not None and t >= break_due_s:
            if self._within_gap(t, self._last_posture_alert_s) and not break_overdue:
                return
            sitting = t - since
            self._breaks_given = int(sitting // cfg.break_after_s)
            self._last_break_s = t
            events.append(BreakDue(t, sitting_s=sitting))
