"""The monitor loop: capture, analyse, judge, alert, record; for hours, without falling over.

Theory of operation
-------------------
One thread runs the loop; the camera's grabber and the control socket run beside it and talk to
it only through their queues and snapshots (see their modules). Each turn:

1. drain control requests (snooze releases a live camera until the snooze ends; resume reopens);
   every few seconds ask the lock probe: while the screen is locked a live camera is released
   as during a snooze, and no frame is judged (so no alert can come);
2. wait until the next analysis is due (the adaptive rate decides: 0.5 fps while nothing
   changes, a steady good sitter or an empty desk, up to 2.5 fps when something does); files
   are paced by their own timestamps, in real time by default or as fast as possible with
   `realtime=False`;
3. read the newest frame. A lost camera is transient: status "camera unavailable", said once,
   reopened with exponential backoff (1 s doubling to 30 s), never a crash. A missing model is
   fatal before the loop starts;
4. analyse (dark, blank and frozen frames become "can't see you" without running the model),
   judge, alert and record through `PostureSession`;
5. update the one-line status and the control socket's status snapshot.

Per-frame problems (a frame that fails to decode, an odd shape) are logged and skipped; they never
end the loop. SIGTERM and SIGINT set a stop flag; the loop ends its turn, flushes the history and
releases the camera.
"""

from __future__ import annotations

import io
import logging
import math
import os
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from posture import interrupts
from posture.adapters.camera import Frame, FrameSource
from posture.adapters.control import ControlServer
from posture.adapters.screenlock import POLL_INTERVAL_S, LockProbe
from posture.clock import Clock
from posture.core.durations import format_duration_exact
from posture.core.errors import CameraUnavailable, FrameError, SourceError
from posture.core.events import Verdict
from posture.core.rate import AdaptiveRate
from posture.pipeline import FrameAnalyzer
from posture.session import PostureSession, status_fields

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
SLEEP_SLICE_S = 0.25
"""Long waits (backoff, snooze) sleep in slices this long so a stop is honoured promptly."""


@dataclass
class MonitorResult:
    """What a finished run did (printed as the end-of-run summary)."""

    frames: int = 0
    analysed: int = 0
    seconds: float = 0.0
    camera_losses: int = 0
    screen_locks: int = 0
    skipped_frames: int = 0
    stopped_by: str = "end of source"
    last_verdict: Verdict | None = None


class StatusLine:
    """One line on a terminal, rewritten in place; on a pipe, only changes of state are logged.

    On a terminal the line is fitted to its width (a line that wrapped would leave a stale row
    at every look, since a carriage return only goes back to the start of the last row) and
    anything else written to the same terminal goes through `above`, which clears the line
    first and redraws it after, so an alert or a warning never gets glued onto it.
    """

    def __init__(
        self, stream: TextIO | None, tty: bool, columns: Callable[[], int] | None = None
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.columns = columns or self._stream_columns
        self.above = _AboveStatus(self)
        self._last_key: tuple[Any, ...] = ()
        self._text = ""  # the line as last given, redrawn after output written above it
        self._dots = _ellipsis_for(stream)  # the stream's encoding does not change
        self._width = 0  # characters of it now on screen (0: the row is clear)

    def show(self, text: str, key: tuple[Any, ...]) -> None:
        """Rewrite the line (terminal) or print it when `key` changed (pipe)."""
        if self.stream is None:
            return
        if self.tty:
            self._text = text
            self._draw()
        elif key != self._last_key:
            self.stream.write(text + "\n")
            self.stream.flush()
        self._last_key = key

    def clear(self) -> None:
        """Blank the line on a terminal and return to its start (before other output)."""
        if self.stream is not None and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0

    def end(self) -> None:
        """Leave the terminal on a fresh line."""
        if self.stream is not None and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
        self._text = ""

    def _draw(self) -> None:
        if self.stream is None:
            return
        # One column short of the width: a character in the last column makes some terminals
        # (the Windows console) wrap at once.
        room = max(1, self.columns() - 1)
        text = fit(self._text, room, self._dots)
        pad = max(0, min(self._width, room) - len(text))  # blank what a longer line left
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def _redraw(self) -> None:
        if self.stream is not None and self.tty and self._text and not self._width:
            self._draw()

    def _stream_columns(self) -> int:
        """Ask the terminal behind the stream for its width (stderr need not be stdout's)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns


def _ellipsis_for(stream: TextIO | None) -> str:
    """`…` where the stream can encode it, else `...`."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:  # a text buffer (io.StringIO): anything goes
        return "\u2026"
    try:
        "\u2026".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "..."
    return "\u2026"


class _AboveStatus(io.TextIOBase):
    """The status line's stream for other output: clears the line, writes, then redraws it.

    Hand it to whatever else writes to the terminal while the monitor runs (the console
    notifier, the log handler). Off a terminal it writes straight through.
    """

    def __init__(self, status: StatusLine) -> None:
        self._status = status

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The real stream's, so callers can escape what it cannot encode."""
        return getattr(self._status.stream, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        """Return True: writes go to the status line's stream."""
        return True

    def write(self, text: str) -> int:
        """Write `text` on a row of its own; the status line comes back after a full line."""
        stream = self._status.stream
        if stream is None:
            return len(text)
        self._status.clear()
        stream.write(text)
        if text.endswith("\n"):
            self._status._redraw()
        return len(text)

    def flush(self) -> None:
        """Flush the real stream."""
        if self._status.stream is not None:
            self._status.stream.flush()

    def fileno(self) -> int:
        """Return the real stream's descriptor (native_logs reroutes log handlers by it)."""
        if self._status.stream is None:
            raise OSError("no stream")
        return self._status.stream.fileno()

    def isatty(self) -> bool:
        """Whether the status line is on a terminal."""
        return self._status.tty


def fit(text: str, width: int, ellipsis: str = "\u2026") -> str:
    """`text` cut to `width` characters, ending in `ellipsis` when cut.

    The status line puts its most important parts first, so the end is what goes.
    """
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)].rstrip() + ellipsis


class Monitor:
    """The running monitor. Build it with `posture.commands.monitor` (or a test), then `run()`."""

    def __init__(
        self,
        *,
        source_factory: Callable[[], FrameSource],
        analyzer: FrameAnalyzer,
        session: PostureSession,
        clock: Clock,
        rate: AdaptiveRate,
        status: StatusLine,
        control: ControlServer | None = None,
        realtime: bool = True,
        baseline_cva: float = math.nan,
        baseline_label: str = "baseline",
        max_seconds: float | None = None,
        observers: list[Callable[[Frame, Any, Verdict], None]] | None = None,
        lock_probe: LockProbe | None = None,
        lock_poll_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.source_factory = source_factory
        self.analyzer = analyzer
        self.session = session
        self.clock = clock
        self.rate = rate
        self.status = status
        self.control = control
        self.realtime = realtime
        self.baseline_cva = baseline_cva
        self.baseline_label = baseline_label
        self.max_seconds = max_seconds
        self.observers = observers or []
        self.lock_probe = lock_probe
        self.lock_poll_s = lock_poll_s
        self.screen_locked = False
        self._next_lock_poll: float | None = None
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self.source: FrameSource | None = None
        self.snoozed_until: float | None = None  # monotonic seconds
        self._fps_times: list[float] = []

    # -- signals -------------------------------------------------------------------------

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT stop the loop cleanly; returns a function restoring the old handlers."""
        old = {}

        def handler(signum: int, _frame: object) -> None:
            self.stop(signal.Signals(signum).name)

        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, handler)
        # A signal during start-up unwinds as an exception, which a native library can clear
        # on its way (a lost Ctrl-C left the monitor running): the request itself stands.
        if interrupts.requested():
            self.stop(interrupts.requested())

        def restore() -> None:
            for sig, previous in old.items():
                signal.signal(sig, previous)

        return restore

    def stop(self, reason: str) -> None:
        """Ask the loop to end after the current turn."""
        self.stop_reason = reason
        self.stop_requested.set()

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> MonitorResult:
        """Run until the source ends, `max_seconds` pass, or a stop is requested."""
        result = MonitorResult()
        if (
            self.max_seconds is not None
        ):  # bounds the waits for a camera too (see _open_with_backoff)
            self._deadline = self.clock.monotonic() + self.max_seconds
        self.source = self._open_with_backoff(result)
        if self.source is None:
            result.stopped_by = self.stop_reason or "stopped"
            self._shutdown(result, -math.inf, self.clock.now_utc())
            return result
        live = self.source.live
        if self.control is not None:
            self.control.live = live
        start_mono = self.clock.monotonic()
        start_wall = self.clock.now_utc()
        next_due: float | None = None  # stream time of the next analysis
        file_t0: float | None = None
        last_t = -math.inf
        try:
            while not self.stop_requested.is_set():
                self._drain_control()
                if (
                    self.max_seconds is not None
                    and self.clock.monotonic() - start_mono >= self.max_seconds
                ):
                    result.stopped_by = "time limit"
                    break
                # the lock first: a snooze that ends while the screen is locked must not switch
                # the camera on until the next poll releases it again
                if self._locked(live, result) or self._snoozing(live):
                    self._reanchor = True  # the camera was released: date the next frame anew
                    continue
                if self.source is None:  # a reopen after snooze or lock gave up: a stop came
                    break
                if live and next_due is not None:
                    self.clock.sleep(next_due - self.clock.monotonic())
                    if self.control is not None and not self.control.requests.empty():
                        continue  # a snooze asked during the wait is applied before a look
                try:
                    frame = self.source.read(not_before_s=None if live else next_due)
                except CameraUnavailable as exc:
                    self._reanchor = True
                    self._camera_lost(exc, result)
                    if self.source is None:
                        break
                    next_due = None
                    continue
                except SourceError as exc:
                    log.warning("%s", exc)
                    result.stopped_by = f"source error: {exc}"
                    break
                if frame is None:
                    result.stopped_by = "end of source"
                    break
                self._watching = True
                result.frames += 1
                if not live:
                    if file_t0 is None:
                        file_t0 = frame.t_s
                    if self.realtime:
                        self.clock.sleep(
                            start_mono + (frame.t_s - file_t0) - self.clock.monotonic()
                        )
                t_s = frame.t_s
                if t_s <= last_t:
                    result.skipped_frames += 1
                    continue
                if self.session.t0_s is None:
                    self.session.anchor(t_s, start_wall)
                elif live and self._reanchor:
                    # After a pause (snooze, lock, lost camera, a suspended laptop) date frames
                    # from the wall clock again rather than carrying the old offset forward.
                    lag = max(0.0, self.clock.monotonic() - t_s)
                    self.session.anchor(t_s, self.clock.now_utc() - timedelta(seconds=lag))
                self._reanchor = False
                verdict = self._turn(frame, result)
                if verdict is None:
                    continue
                last_t = t_s
                next_due = t_s + self.rate.after(verdict, self._last_analysis.metrics)
        finally:
            self._shutdown(result, last_t, start_wall)
        if self.stop_requested.is_set():
            result.stopped_by = self.stop_reason or "stopped"
        return result

    _last_analysis: Any = None
    _deadline: float | None = None  # monotonic time when `max_seconds` runs out
    _reanchor = False  # the next live frame re-ties stream time to the wall clock
    _released_to: float | None = None  # stream time watching last stopped at a release
    _watching = False  # the open source has delivered a frame since it was opened (every
    # open clears it; read only while a source is open)

    def _turn(self, frame: Frame, result: MonitorResult) -> Verdict | None:
        try:
            analysis = self.analyzer.analyze(frame.image, frame.t_s)
        except FrameError as exc:
            result.skipped_frames += 1
            log.warning("skipped frame %d: %s", frame.index, exc)
            return None
        self._last_analysis = analysis
        # history write failures are PostureSession's to absorb: they never cost a frame here
        verdict, _events = self.session.step(analysis)
        result.analysed += 1
        result.last_verdict = verdict
        self._show(verdict, analysis)
        for observer in self.observers:
            observer(frame, analysis, verdict)
        return verdict

    def _fps(self) -> float:
        now = self.clock.monotonic()
        self._fps_times.append(now)
        self._fps_times = [t for t in self._fps_times if now - t <= 10.0]
        if len(self._fps_times) < 2:
            return 0.0
        span = self._fps_times[-1] - self._fps_times[0]
        return (len(self._fps_times) - 1) / span if span > 0 else 0.0

    def _show(self, verdict: Verdict, analysis: Any) -> None:
        fields = status_fields(verdict, analysis, self.baseline_cva, self.baseline_label)
        fields["fps"] = round(self._fps(), 1)
        if self.snoozed_until is not None:
            fields["snoozed_for_s"] = round(self.snoozed_until - self.clock.monotonic())
        if self.control is not None:
            self.control.publish(fields)
        self.status.show(format_status(fields), (fields["state"], tuple(fields["faults"])))

    def _snoozing(self, live: bool) -> bool:
        """While snoozed, a live camera is released and the loop idles; returns True to skip."""
        if self.snoozed_until is None:
            return False
        now = self.clock.monotonic()
        if now >= self.snoozed_until:
            self._resume()
            return False
        if not live:
            return False  # files keep playing; the judge holds the alerts
        self._release_source("snoozed")
        self.status.show(
            f"snoozed for {format_duration_exact(self.snoozed_until - now)}", ("snoozed",)
        )
        if self.control is not None:
            self.control.publish(
                {"state": "snoozed", "snoozed_for_s": round(self.snoozed_until - now)}
            )
        self._sleep(min(1.0, self.snoozed_until - now))
        return True

    def _locked(self, live: bool, result: MonitorResult) -> bool:
        """While the screen is locked a live camera is released and the loop idles; True to skip.

        The probe is asked every `lock_poll_s` (a subprocess on Linux: cheap, but not per frame).
        Files ignore the lock: they are not a person at a desk.
        """
        if self.lock_probe is None or not live:
            return False
        now = self.clock.monotonic()
        if self._next_lock_poll is None or now >= self._next_lock_poll:
            self._next_lock_poll = now + self.lock_poll_s
            locked = self.lock_probe.locked() is True
            if locked and not self.screen_locked:
                result.screen_locks += 1
                log.info("screen locked: camera released until it is unlocked")
            elif self.screen_locked and not locked:
                log.info("screen unlocked: watching again")
                if self.snoozed_until is None:
                    self._reopen_after_pause()
            self.screen_locked = locked
        if not self.screen_locked:
            return False
        self._release_source("screen locked")
        self.status.show("screen locked: camera released", ("screen locked",))
        if self.control is not None:
            self.control.publish({"state": "screen locked"})
        self._sleep(max(0.0, min(self.lock_poll_s, self._next_lock_poll - now)))
        return True

    def _release_source(self, why: str) -> None:
        if self.source is not None:
            if self._watching:  # not a source reopened a moment ago that saw nothing since
                self._released_to = self.source.read_to_s
            self.source.close()
            self.source = None
            log.info("camera released (%s)", why)

    def _reopen_after_pause(self) -> None:
        """Open the camera again after a snooze or a lock; forget smoothing across the gap."""
        if self.source is None:
            self.source = self._open_with_backoff(MonitorResult())
            self.analyzer.reset()
            self.rate.kick(self.clock.monotonic())

    def _sleep(self, seconds: float) -> None:
        """Sleep in slices, returning early when a stop is requested (SIGTERM during a backoff)."""
        end = self.clock.monotonic() + seconds
        while not self.stop_requested.is_set():
            left = end - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(min(left, SLEEP_SLICE_S))

    def _drain_control(self) -> None:
        if self.control is None:
            return
        while not self.control.requests.empty():
            req = self.control.requests.get_nowait()
            now = self.clock.monotonic()
            if req.cmd == "snooze":
                self.snoozed_until = now + req.seconds
                last = self._last_analysis.t_s if self._last_analysis is not None else 0.0
                self.session.judge.snooze(last + req.seconds)
                log.info("snoozed for %s", format_duration_exact(req.seconds))
            elif req.cmd == "resume":
                self._resume()
            # (the control server has already shown the snooze or its end to `posture status`)

    def _resume(self) -> None:
        self.snoozed_until = None
        self.session.judge.resume()
        if not self.screen_locked:
            self._reopen_after_pause()

    def _camera_lost(self, exc: CameraUnavailable, result: MonitorResult) -> None:
        result.camera_losses += 1
        log.warning("camera unavailable: %s; retrying with backoff", exc)
        self.status.show("camera unavailable, retrying", ("camera unavailable",))
        if self.control is not None:
            self.control.publish({"state": "camera unavailable", "reason": str(exc)})
        if self.source is not None:
            self.source.close()
        self.source = self._open_with_backoff(result, reopen=True)
        self.analyzer.reset()
        self.rate.kick(self.clock.monotonic())

    def _open_with_backoff(self, result: MonitorResult, reopen: bool = False) -> FrameSource | None:
        """Open the source, retrying camera errors with backoff until it works or a stop comes.

        Said once per outage, not every retry.
        """
        delay = BACKOFF_START_S
        said = reopen
        while not self.stop_requested.is_set():
            try:
                source = self.source_factory()
                self._watching = False  # until it delivers a frame
                if said:
                    log.warning("camera is back")
                return source
            except CameraUnavailable as exc:
                if not said:
                    log.warning(
                        "%s; retrying with backoff (up to %.0f s apart)", exc, BACKOFF_MAX_S
                    )
                    said = True
                self.status.show("camera unavailable, retrying", ("camera unavailable",))
                # --max-seconds holds while waiting for a camera too: a run with a time limit
                # (a script, a test) must end even when no camera ever comes.
                now = self.clock.monotonic()
                left = math.inf if self._deadline is None else self._deadline - now
                if left <= 0:
                    log.warning("no camera within the time limit; stopping")
                    self.stop("time limit")
                    break
                self._sleep(min(delay, left))
                delay = min(delay * 2, BACKOFF_MAX_S)
        return None

    def _shutdown(self, result: MonitorResult, last_t: float, start_wall: datetime) -> None:
        """Close the source and end the stored session where watching ended.

        That is where the source was read to (now, for a camera; the end of the file), not the
        last look, which at the idle rate can be 2 s earlier and stands for the time since. A
        camera released by a snooze or a lock was watched only up to its release; a lost one
        only up to the last look; one (re)opened that has delivered no frame since, not at all.
        `result.seconds` is the stored session's span: pauses inside it count, a pause it ends
        with does not.
        """
        self.status.end()
        end = last_t
        if self.source is not None:
            if self._watching:
                end = max(end, self.source.read_to_s)
            self.source.close()
            self.source = None
        if self._released_to is not None:
            end = max(end, self._released_to)
        if not math.isfinite(last_t):
            self.session.close(None, wall=self.clock.now_utc())
            return
        self.session.close(end)
        result.seconds = max(0.0, (self.session.wall_at(end) - start_wall).total_seconds())


def format_status(f: dict[str, Any]) -> str:
    """Return the one status line: state, CVA and its change, faults, snooze, fps.

    Most important first: a narrow terminal cuts the end off.
    """
    parts = [f"posture: {f['state']}"]
    if f.get("reason") and f["state"] in ("unknown", "away"):
        reason = f["reason"]
        if reason.startswith("camera image is"):  # shutter closed, camera frozen
            reason = f"can't see you: {reason}"
        parts[-1] += f" ({reason})"
    if f.get("cva_deg") is not None:
        change = f.get("cva_change_deg")
        parts.append(
            f"CVA est {f['cva_deg']:.0f} deg"
            # whole degrees first, so -0.3 reads +0 (a formatted float would say -0)
            + (
                f" ({round(change):+d} vs {f.get('cva_change_vs', 'baseline')})"
                if change is not None
                else ""
            )
        )
    if f.get("faults"):
        label = "building" if f.get("building") else "faults"
        parts.append(f"{label}: " + ", ".join(x.replace("_", " ") for x in f["faults"]))
    if f.get("snoozed_for_s"):
        parts.append(f"alerts snoozed {format_duration_exact(f['snoozed_for_s'])}")
    if f.get("fps"):
        parts.append(f"{f['fps']:.1f} fps")
    return " | ".join(parts)
