"""What the judge decides, as frozen dataclasses that carry everything their consumers need.

Data flows one way: observation -> judge -> events -> notifier and store. No consumer reads the
judge's state back; an event holds the fault, how long it was held and by how much it deviated.
Times are the observation's monotonic seconds (`t_s`); the shell maps them to wall-clock UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FAULTS: tuple[str, ...] = (
    "forward_head",
    "head_drop",
    "rounded_shoulders",
    "leaning_in",
    "head_tilt",
)
"""Posture faults, in the order reports list them."""

STATES: tuple[str, ...] = ("good", "slouching", "away", "unknown")
"""Overall states. `unknown` (unreliable landmarks, wrong view, dark or frozen frames) never counts
as slouching; `away` means no person for the configured time."""

State = Literal["good", "slouching", "away", "unknown"]

EpisodeEnd = Literal["recovery", "absence", "no usable frame", "stop"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's reading of one observation, before and after persistence.

    instant_faults: faults present in this frame against the profile (no persistence).
    active_faults: faults whose persistence window currently holds (an episode is running).
    deciding_faults: faults a window is deciding now (usable frames only): the persistence
    window from a fault's first faulty frame (a slouch or a glance?), or an active fault's
    recovery window from its first good frame (straightening up, or a blip?). A window, once
    opened, is used up until the fault has shown the other way for the persistence time.
    deviations: per metric, signed distance from baseline in the metric's unit (degrees or
    ratio), NaN when invalid; positive means "worse" for every metric.
    """

    t_s: float
    state: State
    instant_faults: tuple[str, ...] = ()
    active_faults: tuple[str, ...] = ()
    deciding_faults: tuple[str, ...] = ()
    deviations: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    """Why the state is `unknown` or `away` (e.g. "view differs from profile"), else empty."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base of everything the judge emits."""

    t_s: float


@dataclass(frozen=True, slots=True)
class StateChanged(Event):
    """The overall state moved (good/slouching/away/unknown)."""

    old: State
    new: State
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SlouchStarted(Event):
    """A slouch episode began: a fault held for the persistence time.

    `start_s` is when the fault first appeared (the episode is dated from there, not from when it
    was confirmed).
    """

    start_s: float
    faults: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Nudge(Event):
    """A gentle alert for a held fault. `deviation` is in the fault's main metric's unit."""

    fault: str
    held_s: float
    deviation: float
    metric: str
    unit: str


@dataclass(frozen=True, slots=True)
class Escalation(Event):
    """Still slouching long after the nudge (default 10 min): a firmer alert."""

    fault: str
    held_s: float
    deviation: float
    metric: str
    unit: str


@dataclass(frozen=True, slots=True)
class Recovered(Event):
    """A slouch episode ended. Carries the whole episode for the store and the reports.

    `ended_by` says how: "recovery" (the person sat up), "absence" (they left), "no usable
    frame" (nothing measurable for too long) or "stop" (monitoring ended first). Only a recovery
    is a recovery: the reports' "recovered after" time is not measured on the others.
    """

    start_s: float
    end_s: float
    faults: tuple[str, ...]
    peak_deviation: float
    mean_deviation: float
    metric: str
    ended_by: EpisodeEnd = "recovery"


@dataclass(frozen=True, slots=True)
class AwayStarted(Event):
    """No person for the configured away time; `since_s` is when they were last seen."""

    since_s: float


@dataclass(frozen=True, slots=True)
class Returned(Event):
    """The person is back after being away for `away_s` seconds."""

    away_s: float


@dataclass(frozen=True, slots=True)
class BreakDue(Event):
    """Continuous presence reached the break interval (default 45 min)."""

    sitting_s: float


AlertKind = Literal["nudge", "escalation", "break"]
