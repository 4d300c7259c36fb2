"""Builds a `Monitor` from settings and command-line arguments (the monitor's composition root)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from posture.adapters.camera import FrameSource, is_live_spec, open_source
from posture.adapters.control import ControlServer
from posture.adapters.notify import build_notifier
from posture.adapters.pose import MediaPipePose
from posture.adapters.screenlock import LockProbe
from posture.adapters.settings import LoadedSettings
from posture.adapters.store import HistoryStore
from posture.app import (
    LazyJudge,
    choose_profile,
    composer_for,
    open_history,
    resolve_model,
    uncalibrated_notice,
)
from posture.clock import Clock, SystemClock
from posture.core.errors import ControlError, MonitorRunning, StoreError
from posture.core.messages import plural
from posture.core.rate import AdaptiveRate, RateConfig
from posture.monitor import Monitor, StatusLine
from posture.pipeline import FrameAnalyzer
from posture.session import PostureSession

log = logging.getLogger(__name__)


def _forget_old_history(store: HistoryStore, now: datetime, keep_days: int) -> None:
    """Apply `store.keep_days` at start; a failure is said and monitoring goes on."""
    try:
        gone = store.forget_before(now - timedelta(days=keep_days))
    except StoreError as exc:
        log.warning("old history not deleted: %s", exc)
        return
    if gone:
        print(
            f"posture: deleted {plural(gone, 'session')} older than {plural(keep_days, 'day')} "
            "from the history "
            "([store] keep_days)",
            file=sys.stderr,
        )


def build_monitor(
    args: argparse.Namespace, loaded: LoadedSettings, *, clock: Clock | None = None
) -> tuple[Monitor, Callable[[], None]]:
    """Everything `posture monitor` runs; returns the monitor and a cleanup function.

    Fatal problems (no model, unusable history directory, bad profile) raise here, before any
    camera is opened, so they surface at start and not an hour later.
    """
    settings = loaded.settings
    clock = clock or SystemClock()
    cleanups: list[Callable[[], None]] = []

    def cleanup() -> None:
        for fn in reversed(cleanups):
            with contextlib.suppress(Exception):  # best effort: every resource gets its chance
                fn()

    try:
        model = resolve_model(args.model, loaded)
        choice = choose_profile(args.profile, settings, required=bool(args.profile))
        if not choice.calibrated:
            print(f"posture: {uncalibrated_notice(model.name, loaded.sources)}", file=sys.stderr)
        store = open_history(args.db, settings)
        cleanups.append(store.close)
        source_spec = args.source or settings.monitor.source
        if not is_live_spec(str(source_spec)):
            # A file or folder that cannot be opened is a usage error: say so before the model
            # loads and before a session is started (cameras instead retry with backoff).
            open_source(str(source_spec)).close()
        pose = MediaPipePose(model.path, mode="video")
        cleanups.append(pose.close)
        judge = LazyJudge(settings.judge, choice, model.sha256)
        status = StatusLine(sys.stderr, sys.stderr.isatty())
        # Alerts on the console and log messages go above the status line, not glued onto it.
        notifier = build_notifier(
            ("console",) if args.no_notify else settings.notify.backends,
            console_stream=status.above,
        )
        cleanups.append(_log_above(status))
        # keep_events=False: the monitor needs no event list, and hours of them would pile up
        session = PostureSession(
            judge=judge,
            store=store,
            notifier=notifier,
            keep_events=False,
            composer=composer_for(choice),
        )
        # before the session: a monitor refused because another runs leaves no trace in the
        # history (the store's own lock refuses one started with --no-control)
        control: ControlServer | None = None
        if not args.no_control:
            try:
                control = ControlServer()
                control.start()
                cleanups.append(control.close)
            except MonitorRunning:
                raise
            except ControlError as exc:
                log.warning("control channel unavailable: %s", exc)
                control = None
        live = is_live_spec(str(source_spec))
        # A file played faster than real time is dated by its own time from the start, so its
        # rows run ahead of the clock: keep it apart from the day's monitoring, as `analyze` is.
        replayed_fast = args.fast and not live
        store.start_session(
            clock.now_utc(),
            kind="analyze" if replayed_fast else "monitor",
            source=str(source_spec),
            profile=choice.name,
            model=model.name,
        )
        # after the check for another monitor: one that is refused deletes nothing
        _forget_old_history(store, clock.now_utc(), settings.store.keep_days)
        # A webcam captures at 30 fps by default; we look at most max_fps times a second, so ask
        # for less (twice the look rate, at least 10 fps): fewer frames for the grabber to drain.
        camera_fps = max(10.0, 2.0 * settings.monitor.max_fps)
        source_factory = _source_factory(str(source_spec), camera_fps)
        analyzer = FrameAnalyzer(pose=pose, detect_freeze=live)
        observers: list[Callable[..., None]] = []
        if args.preview:
            from posture.adapters.preview import PreviewWindow

            preview = PreviewWindow()
            cleanups.append(preview.close)
            observers.append(preview.show)
        rate = AdaptiveRate(
            RateConfig(
                min_fps=settings.monitor.min_fps,
                max_fps=settings.monitor.max_fps,
                adaptive=settings.monitor.adaptive,
            )
        )
        monitor = Monitor(
            source_factory=source_factory,
            analyzer=analyzer,
            observers=observers,
            session=session,
            clock=clock,
            rate=rate,
            status=status,
            control=control,
            realtime=not args.fast,
            baseline_cva=judge.baseline_cva,
            baseline_label="baseline" if choice.calibrated else "norm",
            max_seconds=args.max_seconds,
            lock_probe=_lock_probe() if live else None,
        )
        for obs in observers:
            owner = getattr(obs, "__self__", None)
            if owner is not None and hasattr(owner, "on_quit"):
                owner.on_quit = lambda: monitor.stop("preview window closed")
        restore = monitor.install_signal_handlers()
        cleanups.append(restore)
        return monitor, cleanup
    except BaseException:
        cleanup()
        raise


def _log_above(status: StatusLine) -> Callable[[], None]:
    """Point the log handlers that write to stderr at `status.above`; returns the undo."""
    moved = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is status.stream
    ]
    for handler in moved:
        handler.setStream(status.above)

    def restore() -> None:
        for handler in moved:
            handler.setStream(status.stream)

    return restore


def _lock_probe() -> LockProbe:
    from posture.adapters.screenlock import default_probe

    probe = default_probe()
    log.debug("screen lock detection: %s", probe.description)
    return probe


def _source_factory(spec: str, camera_fps: float | None = None) -> Callable[[], FrameSource]:
    return lambda: open_source(spec, camera_fps=camera_fps)
