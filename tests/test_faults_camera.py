"""Camera faults: no camera at start, a camera lost mid-session and back, black and frozen frames.

The monitor runs on a `ScriptedCamera` and a `FakeClock` (backoff sleeps advance the clock), with
the real model's recorded landmarks standing in for inference; the CLI test opens a camera index
that does not exist on this machine through OpenCV itself.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from posture.cli import main
from posture.testing import FakeClock, ScriptedCamera, noisy
from tests.faults_helpers import build, textured


def test_no_camera_at_start_is_said_once_retried_with_backoff_and_bounded_by_max_seconds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    cam = ScriptedCamera(clock, textured, fail_first_opens=10**9)
    monitor, store, status = build(
        cam.open, clock=clock, db=tmp_path / "h.sqlite3", max_seconds=120
    )
    with caplog.at_level(logging.WARNING):
        result = monitor.run()
    assert result.analysed == 0
    assert result.stopped_by == "time limit"
    assert clock.monotonic() == pytest.approx(120, abs=31), "gives up at --max-seconds, not never"
    gaps = np.diff(cam.open_attempts)
    assert list(gaps[:5]) == [1, 2, 4, 8, 16] and gaps.max() <= 30, "exponential backoff, capped"
    said = [r.getMessage() for r in caplog.records if "busy" in r.getMessage()]
    assert len(said) == 1, "the reason is said once per outage, not at every retry"
    assert "camera unavailable, retrying" in status.getvalue()
    assert cam.open_count == 0
    store.close()


def test_camera_lost_mid_session_is_reopened_with_backoff_and_monitoring_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    still = textured(0, moving=False)
    cam = ScriptedCamera(clock, lambda t: noisy(still, t), unplugged=[(60.0, 100.0)], end_s=240.0)
    monitor, store, _ = build(cam.open, clock=clock, db=tmp_path / "h.sqlite3")
    with caplog.at_level(logging.WARNING):
        result = monitor.run()
    assert result.camera_losses == 1
    assert result.stopped_by == "end of source"
    assert len(cam.opened) == 2 and cam.open_count == 0, "reopened once, released at the end"
    reopened = cam.opened[1]
    assert 100.0 <= reopened <= 100.0 + 32.0
    retries = [t for t in cam.open_attempts if 60.0 <= t < reopened]
    assert np.all(np.diff(retries) >= 1.0)
    assert max(cam.reads) >= 230.0, "frames are read again after the camera came back"
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "camera unavailable" in messages and "camera is back" in messages
    # the history covers before and after the outage; nothing recorded before it was lost
    wall0 = clock.now_utc().timestamp() - clock.monotonic()
    ts = [r[0] - wall0 for r in store.query("SELECT t_unix FROM samples ORDER BY t_unix")]
    assert min(ts) < 5 and max(ts) > 230
    assert not [t for t in ts if 62.0 < t < 99.0], "no time credited while the camera was gone"
    store.close()


@pytest.mark.parametrize("kind", ["black", "frozen"])
def test_black_or_frozen_frames_are_cant_see_you_and_never_a_slouch(
    tmp_path: Path, kind: str
) -> None:
    clock = FakeClock()
    still = textured(0, moving=False)
    image = (lambda t: np.zeros((96, 96, 3), np.uint8)) if kind == "black" else (lambda t: still)
    cam = ScriptedCamera(clock, image, end_s=300.0)
    # the pose backend would report a person slouching on every frame it is given
    monitor, store, status = build(cam.open, clock=clock, db=tmp_path / "h.sqlite3")
    result = monitor.run()
    assert result.analysed > 100
    assert result.last_verdict is not None and result.last_verdict.state == "unknown"
    assert not result.last_verdict.active_faults
    assert not [e for e in monitor.session.events if type(e).__name__ == "SlouchStarted"]
    assert not monitor.session.alerts
    assert "can't see you" in status.getvalue()
    (slouch_s,) = store.query("SELECT COALESCE(SUM(slouching_s), 0) FROM samples")[0]
    assert slouch_s == 0
    assert store.query("SELECT COUNT(*) FROM episodes")[0][0] == 0
    store.close()


def test_cli_camera_that_does_not_exist_names_the_device_and_the_likely_causes(
    tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    if Path("/dev/video7").exists():
        pytest.skip("this machine has a /dev/video7")
    code = main(
        [
            "monitor",
            "--source",
            "7",
            "--model",
            str(model_path),
            "--db",
            str(tmp_path / "h.sqlite3"),
            "--no-notify",
            "--no-control",
            "--max-seconds",
            "2",
        ]
    )
    err = capfd.readouterr().err
    assert code == 0
    assert "cannot open camera 7" in err
    for cause in ("may not exist", "in use by another program", "permission"):
        assert cause in err
    assert "stopped by time limit" in err
    assert err.count("cannot open camera 7") == 1, "said once, not at every retry"
    assert sys.exc_info() == (None, None, None)
