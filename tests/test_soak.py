"""Endurance: hours of frames without leaking memory, descriptors or threads, and without drift.

Two soaks:

* 100,000 frames of a recorded landmark stream (`tests/data/replay_slouch.npz`: the real model's
  landmarks over a clip of one person upright, head forward, away, upright) through everything
  after the model: `FrameAnalyzer.from_pose`, the judge, alerts, a `RecordingNotifier` and a real
  `HistoryStore` on disk, timed by a `FakeClock` (about 7 hours of stream time at 4 fps);
* 3,000 small frames through the real pose model in VIDEO mode, then the same chain.

Resident memory may grow by less than 10 MB after warm-up, and open descriptors and threads must
not grow at all. The judge's verdicts in every pass over the trace equal those of a reference run
(a fresh pipeline over one pass), so nothing accumulates into the decisions either.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from posture.adapters.store import HistoryStore
from posture.app import LazyJudge, choose_profile
from posture.core.config import Settings
from posture.core.events import BreakDue, Escalation, Nudge, Recovered, SlouchStarted
from posture.pipeline import FrameAnalyzer
from posture.session import PostureSession
from posture.testing import (
    FakeClock,
    RecordingNotifier,
    load_replay_trace,
    moving_photo_clip,
    sitting_side_dir,
)

SITTING = sitting_side_dir()
SOAK_FRAMES = 100_000
MODEL_FRAMES = 3_000
MAX_GROWTH_MB = 10.0


def rss_mb() -> float:
    """Resident set size of this process, from /proc (what `top` shows as RES)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _pipeline(store: HistoryStore | None, notifier: Any) -> tuple[FrameAnalyzer, PostureSession]:
    settings = Settings()
    judge = LazyJudge(settings.judge, choose_profile(None, settings, required=False), None)
    # keep_events=False: as in the monitor, the session must not keep every event for hours
    session = PostureSession(judge=judge, store=store, notifier=notifier, keep_events=False)  # type: ignore[arg-type]
    return FrameAnalyzer(pose=None), session  # type: ignore[arg-type]


def _verdict_key(v: Any) -> tuple[Any, ...]:
    return (v.state, v.reason, tuple(v.active_faults), tuple(v.instant_faults))


def test_replay_soak_100k_frames(tmp_path: Path) -> None:
    trace = load_replay_trace()
    n = len(trace)
    # reference: a fresh pipeline, no store, over one pass
    ref_an, ref_session = _pipeline(None, None)
    ref_session.anchor(0.0, FakeClock().now_utc())
    reference = [_verdict_key(ref_session.step(ref_an.from_pose(f))[0]) for f in trace.frames()]
    assert {"good", "slouching"} <= {k[0] for k in reference}, "the trace shows both"

    clock = FakeClock()
    store = HistoryStore.open(tmp_path / "history.sqlite3")
    notifier = RecordingNotifier()
    analyzer, session = _pipeline(store, notifier)
    store.start_session(clock.now_utc(), kind="monitor", source="replay")
    session.anchor(0.0, clock.now_utc())
    counts = {SlouchStarted: 0, Recovered: 0, Nudge: 0, Escalation: 0, BreakDue: 0}
    mismatches: list[int] = []
    warmup = 5 * n
    base: tuple[float, int, int] | None = None
    t_start = time.perf_counter()
    last_t = 0.0
    for k, frame in enumerate(trace.frames(SOAK_FRAMES)):
        clock.set(frame.t_s)
        verdict, events = session.step(analyzer.from_pose(frame))
        if _verdict_key(verdict) != reference[k % n]:
            mismatches.append(k)
        for e in events:
            if type(e) in counts:
                counts[type(e)] += 1
        last_t = frame.t_s
        if k == warmup:
            gc.collect()
            base = (rss_mb(), open_fds(), os_threads())
    elapsed = time.perf_counter() - t_start
    session.close(last_t)
    gc.collect()
    assert base is not None
    growth = rss_mb() - base[0]
    print(
        f"\nreplay soak: {SOAK_FRAMES} frames in {elapsed:.1f} s "
        f"({SOAK_FRAMES / elapsed:.0f} fps), "
        f"{last_t / 3600:.1f} h of stream, RSS +{growth:.2f} MB, fds {base[1]}->{open_fds()}, "
        f"threads {base[2]}->{os_threads()}, {counts[Nudge]} nudges"
    )
    assert not mismatches, (
        f"{len(mismatches)} verdicts differ from the reference, first at {mismatches[:5]}"
    )
    assert growth < MAX_GROWTH_MB
    assert open_fds() <= base[1]
    assert os_threads() <= base[2]
    loops = SOAK_FRAMES // n
    assert loops <= counts[SlouchStarted] <= loops + 1
    assert abs(counts[Recovered] - counts[SlouchStarted]) <= 1
    assert counts[Nudge] >= loops // 4, "nudges keep coming for hours (cooldown permitting)"
    # everything that was decided is on disk: every alert, every episode, ~every second
    sent = len(notifier.sent)
    assert sent == counts[Nudge] + counts[Escalation] + counts[BreakDue]
    store_alerts = store.query("SELECT COUNT(*), SUM(delivered) FROM alerts")[0]
    assert store_alerts[0] == sent and store_alerts[1] == sent
    (episodes,) = store.query("SELECT COUNT(*) FROM episodes")[0]
    assert episodes == counts[SlouchStarted]
    (seconds,) = store.query("SELECT COUNT(*) FROM samples")[0]
    assert seconds >= 0.99 * last_t
    store.close()


def test_real_model_soak_3000_frames(tmp_path: Path, model_path: Path) -> None:
    from posture.adapters.pose import MediaPipePose

    photos = sorted(SITTING.glob("*.jpg"))
    if not photos:
        pytest.fail(f"sitting-side photos missing under {SITTING}")
    clip = moving_photo_clip(cv2.imread(str(photos[0])), n=150, size=(160, 160), seed=4)
    clock = FakeClock()
    store = HistoryStore.open(tmp_path / "history.sqlite3")
    notifier = RecordingNotifier()
    _, session = _pipeline(store, notifier)
    store.start_session(clock.now_utc(), kind="monitor", source="clip")
    session.anchor(0.0, clock.now_utc())
    persons = 0
    base: tuple[float, int, int] | None = None
    t_start = time.perf_counter()
    with MediaPipePose(model_path, mode="video") as pose:
        analyzer = FrameAnalyzer(pose=pose, detect_freeze=True)
        for k in range(MODEL_FRAMES):
            t_s = k / 5.0
            clock.set(t_s)
            a = analyzer.analyze(clip[k % len(clip)], t_s)
            session.step(a)
            persons += a.person
            if k == 300:
                gc.collect()
                base = (rss_mb(), open_fds(), os_threads())
        elapsed = time.perf_counter() - t_start
        gc.collect()
        assert base is not None
        growth = rss_mb() - base[0]
        fds, threads = open_fds(), os_threads()
    session.close(t_s)
    print(
        f"\nmodel soak: {MODEL_FRAMES} frames in {elapsed:.1f} s "
        f"({MODEL_FRAMES / elapsed:.0f} fps), "
        f"RSS +{growth:.2f} MB, fds {base[1]}->{fds}, threads {base[2]}->{threads}"
    )
    assert persons >= 0.95 * MODEL_FRAMES
    assert growth < MAX_GROWTH_MB
    assert fds <= base[1]
    assert threads <= base[2]
    (seconds,) = store.query("SELECT COUNT(*) FROM samples")[0]
    assert seconds >= 0.99 * MODEL_FRAMES / 5.0
    store.close()
