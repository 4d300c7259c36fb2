"""Alert text from judge events: what is wrong, the evidence, and one thing to do about it.

Every alert names the fault and the evidence ("Head forward for 2 min", "neck 9° below your
baseline") and suggests one exercise from `posture.core.exercises`, rotated so it never repeats
back to back. A break reminder suggests a short routine of three. The tone is kind; an escalation
is a little firmer, never scolding.

The text is plain Unicode without `<`, `>` or `&`: notification servers that support body markup
(dunst, GNOME, KDE) would read those as markup, and escaping them would show `&amp;` on servers
that do not. Pure: the rotation state lives in `AlertComposer`, advanced only by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from posture.core.events import AlertKind, BreakDue, Escalation, Event, Nudge
from posture.core.exercises import Exercise, break_routine, choose_exercise

FAULT_TITLES: dict[str, str] = {
    "forward_head": "Head forward",
    "head_drop": "Head dropped",
    "rounded_shoulders": "Shoulders rounded",
    "leaning_in": "Leaning in",
    "head_tilt": "Head tilted",
}
"""How each fault is named in an alert title."""

EVIDENCE: dict[str, str] = {
    "cva_deg": "neck {amount} below {reference}",
    "neck_angle_deg": "neck {amount} further forward than {reference}",
    "neck_flexion_deg": "head bent {amount} more than {reference}",
    "head_drop": "head {amount} lower than {reference}",
    "nose_drop": "head {amount} lower than {reference}",
    "face_scale": "face {amount} closer to the screen than {reference}",
    "lean_in": "leaning in {amount} more than {reference}",
    "shoulder_protraction": "shoulders {amount} further forward than {reference}",
    "shoulder_angle_deg": "shoulders rounded {amount} past {reference}",
    "head_roll_deg": "head tilted {amount} past {reference}",
    "shoulder_tilt_deg": "shoulders tilted {amount} past {reference}",
}
"""Evidence phrases per metric key; deviations are positive when worse, whatever the metric.
`{reference}` is what the deviation is measured from (YOUR_BASELINE or POPULATION_BASELINE)."""

URGENCY: dict[str, str] = {"nudge": "normal", "escalation": "normal", "break": "normal"}
"""Notification urgency per alert kind. "critical" would pin escalations on screen until
dismissed on most desktops, which is the nagging this tool avoids."""


@dataclass(frozen=True, slots=True)
class Alert:
    """A composed alert: what the notifier shows, and which exercises it suggested."""

    kind: AlertKind
    title: str
    body: str
    urgency: str
    exercises: tuple[str, ...]
    """Keys of the suggested exercises, in order (pass the last as `avoid` next time)."""


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 alert`, `0 alerts`, `2 alerts`: a count with its noun agreeing (`nouns` if not +s)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def format_duration(seconds: float) -> str:
    """`45 s`, `2 min`, `1 h 5 min`, `2 h`: rounded to the unit a person reads.

    Under a minute counts seconds; under an hour, whole minutes; beyond, hours and minutes.
    Negative durations read as `0 s`; NaN or infinity as `a while`.
    """
    if not math.isfinite(seconds):
        return "a while"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def format_amount(deviation: float, unit: str) -> str:
    """Format a deviation in its unit: `9°` for degrees, `12%` for ratios, else `0.3 cm`."""
    size = abs(deviation)
    if unit in ("deg", "°", "degrees"):
        return f"{size:.0f}°"
    if unit in ("ratio", "fraction"):
        return f"{size * 100:.0f}%"
    if unit == "%":
        return f"{size:.0f}%"
    return f"{size:.2g} {unit}".rstrip()


def fault_title(fault: str) -> str:
    """`Head forward` for `forward_head`; unknown faults are spelled out from their key."""
    return FAULT_TITLES.get(fault, fault.replace("_", " ").capitalize())


YOUR_BASELINE = "your baseline"
POPULATION_BASELINE = "a typical upright posture"
"""What deviations are measured from when the person has not calibrated (population norms)."""


def evidence(metric: str, deviation: float, unit: str, reference: str = YOUR_BASELINE) -> str:
    """Return `neck 9° below your baseline`, or "" when the deviation is not a finite number."""
    if not math.isfinite(deviation):
        return ""
    template = EVIDENCE.get(metric, metric.replace("_", " ") + " {amount} past {reference}")
    return template.format(amount=format_amount(deviation, unit), reference=reference)


def _suggest(exercise: Exercise) -> str:
    return f"{exercise.name}, {exercise.dose}: {exercise.how}"


def compose_nudge(
    event: Nudge | Escalation, *, rotation: int = 0, avoid: str = "", reference: str = YOUR_BASELINE
) -> Alert:
    """Compose the alert for a held fault; an `Escalation` reads firmer than a `Nudge`."""
    exercise = choose_exercise(event.fault, rotation, avoid=avoid)
    name = fault_title(event.fault)
    held = format_duration(event.held_s)
    seen = evidence(event.metric, event.deviation, event.unit, reference)
    if isinstance(event, Escalation):
        kind: AlertKind = "escalation"
        title = f"Still {name[0].lower()}{name[1:]} after {held}"
        lead = f"{seen[0].upper()}{seen[1:]}. " if seen else ""
        body = (
            f"{lead}Time to reset: sit back, lengthen the neck, and try this now. "
            f"{_suggest(exercise)}"
        )
    else:
        kind = "nudge"
        title = f"{name} for {held}"
        lead = f"{seen[0].upper()}{seen[1:]}. " if seen else ""
        body = f"{lead}When you have a moment, try this. {_suggest(exercise)}"
    return Alert(kind, title, body, URGENCY[kind], (exercise.key,))


def compose_break(event: BreakDue, *, rotation: int = 0, avoid: str = "") -> Alert:
    """Compose the break reminder: how long you have sat, and a routine of three exercises."""
    routine = break_routine(rotation, count=3, avoid=avoid)
    title = "Time for a short break"
    body = (
        f"You have been at the desk for {format_duration(event.sitting_s)}. Stand up, walk a "
        f"little, and try: " + "; ".join(e.line() for e in routine) + "."
    )
    return Alert("break", title, body, URGENCY["break"], tuple(e.key for e in routine))


def compose(
    event: Event, *, rotation: int = 0, avoid: str = "", reference: str = YOUR_BASELINE
) -> Alert | None:
    """Compose the alert for `event`; None for events that do not alert (Recovered, ...)."""
    if isinstance(event, Nudge | Escalation):
        return compose_nudge(event, rotation=rotation, avoid=avoid, reference=reference)
    if isinstance(event, BreakDue):
        return compose_break(event, rotation=rotation, avoid=avoid)
    return None


class AlertComposer:
    """Composes alerts and keeps the rotation: one counter per fault plus one for breaks.

    The state is explicit and advanced only by `compose`; the same sequence of events always
    yields the same sequence of alerts. Not thread-safe; the monitor loop owns one.
    """

    def __init__(self, reference: str = YOUR_BASELINE) -> None:
        self.reference = reference
        """What the evidence compares with: YOUR_BASELINE, or POPULATION_BASELINE uncalibrated."""
        self._rotations: dict[str, int] = {}
        self._last_exercise = ""

    def compose(self, event: Event) -> Alert | None:
        """Compose the alert for `event` (None if it does not alert); advance its rotation."""
        if isinstance(event, Nudge | Escalation):
            slot = event.fault
        elif isinstance(event, BreakDue):
            slot = "break"
        else:
            return None
        alert = compose(
            event,
            rotation=self._rotations.get(slot, 0),
            avoid=self._last_exercise,
            reference=self.reference,
        )
        if alert is not None:
            self._rotations[slot] = self._rotations.get(slot, 0) + 1
            self._last_exercise = alert.exercises[-1]
        return alert
