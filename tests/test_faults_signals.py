"""SIGTERM and SIGINT at any point: during start-up (model load), while monitoring, while
analysing a video. The database stays consistent (integrity check, sessions closed where the
process could close them) and the camera is released."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from posture import interrupts
from posture.adapters.store import SCHEMA_VERSION, HistoryStore
from posture.testing import FakeClock, ScriptedCamera, moving_photo_clip, noisy, sitting_side_dir
from tests.faults_helpers import build, textured

SITTING = sitting_side_dir()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    photo = cv2.imread(str(sorted(SITTING.glob("good*.jpg"))[0]))
    path = tmp_path_factory.mktemp("clips") / "clip.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (160, 160))
    for f in moving_photo_clip(photo, n=5 * 120, size=(160, 160), seed=11):
        out.write(f)
    out.release()
    return path


_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}  # what a shell reports for each


def _consistent(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT kind, end_unix FROM sessions").fetchall()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_monitoring_releases_the_camera_and_closes_the_session(
    tmp_path: Path, sig: signal.Signals
) -> None:
    clock = FakeClock()
    still = textured(0, moving=False)
    cam = ScriptedCamera(clock, lambda t: noisy(still, t), end_s=3600.0)
    monitor, store, _ = build(cam.open, clock=clock, db=tmp_path / "h.sqlite3")
    restore = monitor.install_signal_handlers()
    monitor.observers.append(
        lambda frame, a, v: os.kill(os.getpid(), sig) if frame.t_s >= 120.0 else None
    )
    try:
        result = monitor.run()
    finally:
        restore()
    assert result.stopped_by == sig.name
    assert 120.0 <= clock.monotonic() < 125.0, "stopped at once, not at the end of the hour"
    assert cam.open_count == 0, "camera released"
    store.close()
    sessions = _consistent(tmp_path / "h.sqlite3")
    assert len(sessions) == 1 and sessions[0][1] is not None, "session closed"


def test_a_signal_cleared_on_its_way_during_start_up_still_stops_the_monitor(
    tmp_path: Path,
) -> None:
    # A Ctrl-C during start-up unwinds as KeyboardInterrupt; a native library that clears it
    # (seen once in 60 signals during `python -m posture monitor`'s imports) left the monitor
    # running the whole clip. The request is remembered, and the monitor honours it.
    clock = FakeClock()
    cam = ScriptedCamera(clock, lambda t: noisy(textured(0, moving=False), t), end_s=3600.0)
    interrupts.reset()
    with contextlib.suppress(KeyboardInterrupt):  # what PyErr_Clear in C code amounts to
        interrupts.interrupt(KeyboardInterrupt(), "SIGINT")
    monitor, store, _ = build(cam.open, clock=clock, db=tmp_path / "h.sqlite3")
    restore = monitor.install_signal_handlers()
    try:
        result = monitor.run()
    finally:
        restore()
        interrupts.reset()
        store.close()
    assert result.stopped_by == "SIGINT" and result.analysed == 0
    assert clock.monotonic() < 1.0


def _has_samples(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False  # not created or migrated yet


def _run_and_signal(
    argv: list[str], sig: signal.Signals, after_s: float, ready: Path | None = None
) -> tuple[int, str]:
    """Start `python -m posture ARGV`, wait until `ready` holds samples (if given), then signal."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if ready is not None:
            deadline = time.monotonic() + 60
            while not _has_samples(ready) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
        time.sleep(after_s)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("phase", ["start-up", "monitoring"])
def test_signal_to_the_monitor_process_leaves_a_consistent_database(
    clip: Path, model_path: Path, tmp_path: Path, sig: signal.Signals, phase: str
) -> None:
    db = tmp_path / "h.sqlite3"
    code, err = _run_and_signal(
        [
            "monitor",
            "--source",
            str(clip),
            "--model",
            str(model_path),
            "--db",
            str(db),
            "--no-notify",
            "--no-control",
        ],
        sig,
        after_s=0.3 if phase == "start-up" else 1.0,
        ready=None if phase == "start-up" else db,
    )
    assert "Traceback" not in err, err
    # Before the handlers are in place a signal kills the process outright (-sig).
    assert code in (0, _EXIT[sig], -sig), err
    if phase == "monitoring":
        assert code == 0 and f"stopped by {sig.name}" in err
        sessions = _consistent(db)
        assert sessions and all(end is not None for _, end in sessions)
    elif db.exists():
        # A signal can land after the file is made but before its schema is committed: an
        # empty database, valid as such; the next start must take it over with no repair.
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with HistoryStore.open(db) as store:
            assert store.schema_version == SCHEMA_VERSION
        _consistent(db)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_analyze_leaves_a_consistent_database(
    clip: Path, model_path: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    db = tmp_path / "h.sqlite3"
    code, err = _run_and_signal(
        ["analyze", str(clip), "--model", str(model_path), "--db", str(db)],
        sig,
        after_s=0.5,
        ready=db,
    )
    assert code == _EXIT[sig], err  # SIGTERM unwinds like Ctrl-C, with its own exit code
    assert "Traceback" not in err, err
    sessions = _consistent(db)
    assert len(sessions) == 1 and sessions[0][0] == "analyze"
    assert sessions[0][1] is not None, "the stored session is ended cleanly"
