"""`posture monitor` end to end: a generated clip from a real photo, a real notification server,
a real history database, and a real SIGTERM.

The clip is one upright side-view photo; in two stretches longer than the persistence time the
head is moved forward and down (tests/clips.py). The profile is calibrated with
`posture calibrate` on an upright clip of the same photo, then the monitor runs as a subprocess
with a temporary home, a short-threshold config and dunst (Xvfb + private session bus) as the
notification server. Exactly two nudges must arrive, in order, with their text intact, and the
history must hold the session, both episodes and both alerts as delivered.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from clips import have_photos, head_forward, slouch_frames, upright_photo, write_clip
from dunst_harness import DunstSession

from posture.cli import main

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found"),
]

FPS = 5.0
SEGMENTS = [("upright", 6), ("forward", 12), ("upright", 8), ("forward", 12), ("upright", 6)]
"""Two slouches of 12 s; persistence 5 s, recovery 3 s: two episodes, two nudges."""

CONFIG = """\
# short thresholds so a 44 s clip shows two whole episodes
[judge]
persistence_s = 5
recover_window_s = 3
cooldown_s = 0
break_reminders = false
"""


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The slouch clip and an upright clip (for calibration) of the same photo."""
    d = tmp_path_factory.mktemp("monitor-clips")
    photo = upright_photo()
    return {
        "slouch": write_clip(slouch_frames(photo, SEGMENTS, fps=FPS), d / "slouch.avi", FPS),
        "upright": write_clip(
            slouch_frames(photo, [("upright", 8)], fps=FPS, seed=7), d / "upright.avi", FPS
        ),
    }


def test_the_generated_slouch_really_is_one(image_pose) -> None:  # type: ignore[no-untyped-def]
    """The real model sees the edited head well forward, where the uncalibrated judge flags it."""
    from posture.app import ProfileChoice, judge_photo
    from posture.core.config import JudgeConfig
    from posture.pipeline import FrameAnalyzer

    photo = upright_photo()
    analyzer = FrameAnalyzer(pose=image_pose, smooth=False)
    upright = analyzer.analyze(photo.image, 0.0)
    forward = analyzer.analyze(head_forward(photo), 0.0)
    assert upright.view == forward.view == "side_right"
    drop = upright.metrics["cva_deg"] - forward.metrics["cva_deg"]
    assert drop >= 12.0, (upright.metrics["cva_deg"], forward.metrics["cva_deg"])
    default = ProfileChoice(None, "default", False)
    assert judge_photo(upright, JudgeConfig(), default, None).state == "good"
    bad = judge_photo(forward, JudgeConfig(), default, None)
    assert bad.state == "slouching" and "forward_head" in bad.instant_faults


@pytest.fixture
def calibrated(
    clips: dict[str, Path], model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A config file with short thresholds and a profile `test` calibrated on the upright clip."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    code = main(
        [
            "calibrate",
            "--source",
            str(clips["upright"]),
            "--profile",
            "test",
            "--no-glance",
            "--seconds",
            "6",
            "--config",
            str(config),
            "--model",
            str(model_path),
            "--db",
            str(tmp_path / "calib.sqlite3"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    return config


def _monitor_argv(clip: Path, config: Path, model: Path, db: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "posture",
        "monitor",
        "--source",
        str(clip),
        "--profile",
        "test",
        "--config",
        str(config),
        "--model",
        str(model),
        "--db",
        str(db),
        *extra,
    ]


def test_monitor_delivers_exactly_the_expected_alerts(
    clips: dict[str, Path],
    calibrated: Path,
    model_path: Path,
    tmp_path: Path,
    dunst: DunstSession,  # noqa: F811
) -> None:
    db = tmp_path / "history.sqlite3"
    mark = dunst.mark()
    proc = subprocess.run(
        _monitor_argv(clips["slouch"], calibrated, model_path, db, "--fast"),
        env=dunst.child_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 alerts" in proc.stderr and "stopped by end of source" in proc.stderr

    seen = dunst.notifications(since=mark, expect=2)
    assert [n.appname for n in seen] == ["posture", "posture"]
    assert len(seen) == 2, [n.summary for n in seen]
    first, second = seen
    for n in seen:
        assert n.summary.startswith("Head forward for "), n.summary
        assert "° below your baseline" in n.body, n.body  # non-ASCII intact
    # the exercise rotates: chin tuck first, the seated chest opener next (never the same twice)
    assert "Chin tuck, 10 reps, hold 3-5 s each" in first.body
    assert "Seated chest opener, hold 5 s, 5 times" in second.body

    with sqlite3.connect(db) as conn:
        sessions = conn.execute("SELECT kind, end_unix, profile FROM sessions").fetchall()
        episodes = conn.execute(
            "SELECT start_unix, end_unix, faults FROM episodes ORDER BY start_unix"
        ).fetchall()
        alerts = conn.execute(
            "SELECT kind, fault, text, delivered, channel, t_unix FROM alerts ORDER BY t_unix"
        ).fetchall()
        (samples,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
    # played with --fast: dated ahead of the clock, so kept apart from the day's monitoring
    assert len(sessions) == 1 and sessions[0][0] == "analyze" and sessions[0][1] is not None
    assert sessions[0][2] == "test"
    assert len(episodes) == 2 and all("forward_head" in e[2] for e in episodes)
    assert all(end is not None and end > start for start, end, _ in episodes)
    assert [a[0] for a in alerts] == ["nudge", "nudge"]
    assert [a[1] for a in alerts] == ["forward_head", "forward_head"]
    assert [a[3] for a in alerts] == [1, 1]
    assert all(a[4] in ("plyer", "notify-send") for a in alerts)
    # what was stored is what dunst showed, character for character
    assert [a[2] for a in alerts] == [f"{n.summary}: {n.body}" for n in seen]
    # each nudge inside its episode, 5-7 s after the head went forward (persistence 5 s)
    for (start, end, _), alert in zip(episodes, alerts, strict=True):
        assert start <= alert[5] <= end
        assert 4.5 <= alert[5] - start <= 8.0
    assert samples >= 40  # one row per second of the 44 s clip


def test_sigterm_mid_run_leaves_a_consistent_history(
    clips: dict[str, Path],
    calibrated: Path,
    model_path: Path,
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.sqlite3"
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    sock = runtime / "posture" / "control.sock"
    proc = subprocess.Popen(
        _monitor_argv(clips["slouch"], calibrated, model_path, db, "--no-notify"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        _wait_for(lambda: _samples(db) >= 3, timeout_s=60, what="samples flushed", proc=proc)
        assert sock.exists()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "stopped by SIGTERM" in err
    assert not sock.exists(), "control socket left behind"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        [(start, end)] = conn.execute("SELECT start_unix, end_unix FROM sessions").fetchall()
        (n, last) = conn.execute("SELECT COUNT(*), MAX(t_unix) FROM samples").fetchone()
        open_eps = conn.execute("SELECT COUNT(*) FROM episodes WHERE end_unix IS NULL").fetchone()
    assert end is not None and end > start
    assert n >= 4
    # real time: the run was stopped after a few seconds, well before the 44 s clip ended
    assert end - start < 30
    assert last <= end + 1
    assert open_eps[0] == 0


def _samples(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # schema not created yet


def _wait_for(cond, *, timeout_s: float, what: str, proc: subprocess.Popen[str]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(
                f"monitor exited early ({proc.returncode}): "
                f"{proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_clip_frames_differ_between_segments() -> None:
    """The generator really changes the picture in the forward segments (and only there)."""
    photo = upright_photo()
    frames = slouch_frames(photo, [("upright", 1), ("forward", 1)], fps=FPS)
    assert len(frames) == 10
    diff = np.abs(head_forward(photo).astype(int) - photo.image.astype(int)).mean(axis=2)
    hy = int(photo.head_xy[1])
    assert diff[: hy + 10].mean() > 10 * max(diff[-40:].mean(), 0.1)  # head moved, legs did not


def test_monitor_on_lite_by_name(
    clips: dict[str, Path],
    calibrated: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--model lite`: a profile calibrated on full is refused with the fix; uncalibrated, the
    monitor runs on lite and says the population norms were fitted on full."""
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(provisioned_lite.path.parent))
    argv = [
        "monitor",
        "--source",
        str(clips["upright"]),
        "--config",
        str(calibrated),
        "--model",
        "lite",
        "--db",
        str(tmp_path / "lite.sqlite3"),
        "--no-notify",
        "--fast",
    ]
    capsys.readouterr()
    assert main([*argv, "--profile", "test"]) != 0
    err = capsys.readouterr().err
    assert "was made with pose model pose_landmarker_full" in err
    assert "posture calibrate --profile test --model FILE|NAME" in err
    assert "or run with --model pose_landmarker_full" in err
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "fitted on pose_landmarker_full, not on pose_landmarker_lite" in err
    assert "`posture calibrate --model lite`" in err
    assert "stopped by end of source" in err
