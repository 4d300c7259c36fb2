"""One judge, many drivers: what happens to each analysed frame after the pipeline.

`PostureSession.step()` feeds the judge, composes alerts for its events, hands them to the
notifier (when there is one: `posture analyze` has none), and writes verdicts, events and alerts
to the store. The monitor and `posture analyze` both call it, so the same frames with the same
profile and config give the same decisions and the same history.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from posture.adapters.notify import Notifier
from posture.adapters.store import HistoryStore
from posture.core.errors import StoreError
from posture.core.events import BreakDue, Escalation, Event, Nudge, Verdict
from posture.core.judge import Observation
from posture.core.messages import Alert, AlertComposer
from posture.pipeline import Analysis

log = logging.getLogger(__name__)


class JudgePort(Protocol):
    """What a session needs of its judge: the core `Judge`, or the app's `LazyJudge` around it."""

    def feed(self, obs: Observation) -> tuple[Verdict, list[Event]]:
        """Judge one observation."""
        ...

    def snooze(self, until_s: float) -> None:
        """Hold alerts until stream time `until_s`."""
        ...

    def resume(self) -> None:
        """Lift a snooze."""
        ...

    def close(self, t_s: float) -> list[Event]:
        """End a running episode where monitoring stopped."""
        ...


@dataclass(frozen=True, slots=True)
class SentAlert:
    """An alert as it went out (or failed to)."""

    t_s: float
    kind: str
    title: str
    body: str
    delivered: bool
    channel: str


@dataclass
class PostureSession:
    """Judge + alerts + history for one stream. `wall_at(t_s)` dates each frame for the store."""

    judge: JudgePort
    store: HistoryStore | None = None
    notifier: Notifier | None = None
    composer: AlertComposer = field(default_factory=AlertComposer)
    alerts: list[SentAlert] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    keep_events: bool = True
    _last_store_error: str = ""
    t0_s: float | None = None
    wall0: datetime | None = None

    def wall_at(self, t_s: float) -> datetime:
        """Wall-clock UTC of a stream time (the session's first frame anchors it)."""
        if self.t0_s is None or self.wall0 is None:
            raise RuntimeError("session not anchored: call anchor() first")
        return self.wall0 + timedelta(seconds=t_s - self.t0_s)

    def anchor(self, t_s: float, wall: datetime) -> None:
        """Tie stream time `t_s` to wall time `wall` (first frame; again after a long gap)."""
        self.t0_s, self.wall0 = t_s, wall

    def observation(self, a: Analysis) -> Observation:
        """Return the judge's input for an analysed frame."""
        return Observation(
            t_s=a.t_s, person=a.person, view=a.view, metrics=a.metrics, image_issue=a.image_issue
        )

    def step(self, a: Analysis) -> tuple[Verdict, list[Event]]:
        """Judge one analysed frame and carry out what it decides."""
        verdict, events = self.judge.feed(self.observation(a))
        wall = self.wall_at(a.t_s)
        self._write(lambda st: st.record(verdict, a.metrics, a.view, wall))
        for event in events:
            self._handle(event)
        return verdict, events

    def _write(self, fn: Callable[[HistoryStore], object]) -> None:
        """Write to the history; a failing write is logged (once per message), never fatal.

        Decisions and alerts must not depend on the disk: a full disk or a locked database
        loses history rows, not the nudge the person needs now.
        """
        if self.store is None:
            return
        try:
            fn(self.store)
        except StoreError as exc:
            if str(exc) != self._last_store_error:
                log.warning("history not written: %s", exc)
                self._last_store_error = str(exc)

    def _handle(self, event: Event) -> None:
        if self.keep_events:
            self.events.append(event)
        wall = self.wall_at(event.t_s)
        alert = (
            self.composer.compose(event)
            if isinstance(event, Nudge | Escalation | BreakDue)
            else None
        )
        if alert is None:
            self._write(lambda st: st.record_event(event, wall))
            return
        delivered, channel = self._deliver(alert)
        self.alerts.append(
            SentAlert(event.t_s, alert.kind, alert.title, alert.body, delivered, channel)
        )
        self._write(
            lambda st: st.record_event(
                event,
                wall,
                text=f"{alert.title}: {alert.body}",
                channel=channel,
                delivered=delivered,
            )
        )

    def _deliver(self, alert: Alert) -> tuple[bool, str]:
        if self.notifier is None:
            return False, "none"
        try:
            result = self.notifier.notify(alert.title, alert.body, urgency=alert.urgency)
        except Exception as exc:  # noqa: BLE001 - best effort: an alert must never stop monitoring
            log.warning("could not show the alert %r: %s", alert.title, exc)
            return False, "error"
        if not result.delivered:
            log.warning("alert %r not delivered: %s", alert.title, result.error)
        return result.delivered, result.channel

    def close(self, t_s: float | None, *, wall: datetime | None = None) -> None:
        """End the stored session at stream time `t_s`, or at `wall` when no frame was judged.

        A monitor stopped before its first frame (no camera, SIGTERM at start) still gets an end.
        """
        if t_s is not None and self.t0_s is not None:
            # an episode still running keeps its numbers; without a store too (`analyze
            # --no-store` must decide what a stored run decides)
            for event in self.judge.close(t_s):
                self._handle(event)
            wall = self.wall_at(t_s)
        if wall is not None and self.store is not None and self.store.session_id is not None:
            end = wall
            self._write(lambda st: st.end_session(end))


def status_fields(
    verdict: Verdict, a: Analysis, baseline_cva: float, baseline_label: str = "baseline"
) -> dict[str, Any]:
    """Return what the status line and `posture status` show.

    `baseline_label` names what the CVA change is against: "norm" when uncalibrated (the
    population median is nobody's own baseline).
    """
    cva = a.metrics.get("cva_deg", math.nan)
    return {
        "state": verdict.state,
        "reason": verdict.reason,
        "faults": list(verdict.active_faults or verdict.instant_faults),
        # seen now but not yet held for the persistence time: no episode, no alert yet
        "building": bool(verdict.instant_faults) and not verdict.active_faults,
        "view": a.view,
        "cva_deg": None if math.isnan(cva) else round(cva, 1),
        "cva_change_deg": None
        if math.isnan(cva) or math.isnan(baseline_cva)
        else round(cva - baseline_cva, 1),
        "cva_change_vs": baseline_label,
    }
