"""History faults through the CLI: a corrupt database, an unusable or full data directory, kill -9.

Tests run as root in CI, so file permissions do not bind; the unusable directories are made real
another way: a path through a regular file, an immutable directory (`chattr +i`), and a tiny
tmpfs filled to the brim (`mount -t tmpfs -o size=...`).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import slouch_frames, upright_photo, write_clip

from posture.adapters.store import HistoryStore
from posture.cli import main
from posture.core.events import Verdict
from posture.testing import moving_photo_clip, sitting_side_dir

SITTING = sitting_side_dir()
GARBAGE = bytes(np.random.default_rng(7).integers(0, 256, 40_000, dtype=np.uint8))


def _need_root_tool(what: str) -> None:
    """Without root (a developer's laptop) these cannot be staged; in CI they must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must be able to {what} (run the tests as root)")
    pytest.skip(f"cannot {what} here (needs root)")


@pytest.fixture()
def still(tmp_path: Path) -> Path:
    """One real seated photo as an image source (`--source still.jpg`)."""
    path = tmp_path / "still.jpg"
    path.write_bytes(sorted(SITTING.glob("good*.jpg"))[0].read_bytes())
    return path


def _monitor(source: Path | str, db: Path, model: Path, *extra: str) -> int:
    return main(
        [
            "monitor",
            "--source",
            str(source),
            "--model",
            str(model),
            "--db",
            str(db),
            "--no-notify",
            "--no-control",
            "--fast",
            *extra,
        ]
    )


def _upright_clip(tmp_path: Path) -> Path:
    return write_clip(
        slouch_frames(upright_photo(), [("upright", 6)], fps=5.0), tmp_path / "upright.avi", 5.0
    )


@pytest.mark.parametrize("command", ["monitor", "report", "analyze", "calibrate", "doctor"])
def test_corrupt_database_is_moved_aside_and_the_user_told_where_once(
    tmp_path: Path,
    still: Path,
    model_path: Path,
    command: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "history.sqlite3"
    db.write_bytes(GARBAGE)
    model = ("--model", str(model_path))
    if command == "monitor":
        code = _monitor(still, db, model_path)
    elif command == "report":
        code = main(["report", "--db", str(db)])
    elif command == "analyze":
        code = main(["analyze", str(_upright_clip(tmp_path)), "--json", *model, "--db", str(db)])
    elif command == "calibrate":
        clip = _upright_clip(tmp_path)
        argv = ["calibrate", "--source", str(clip), "--no-glance", "--seconds", "5", *model]
        code = main([*argv, "--db", str(db)])
    else:
        code = main(["doctor", "--json", "--no-camera", *model, "--db", str(db)])
    out, err = capsys.readouterr()
    # the doctor's code also depends on a notification daemon, not on the history
    assert code == 0 or command == "doctor", out + err
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("history.sqlite3.corrupt-")]
    assert len(moved) == 1
    assert moved[0].read_bytes() == GARBAGE, "the old file is kept, byte for byte"
    if command == "doctor":  # the doctor says it in its history line
        (history,) = [c for c in json.loads(out) if c["name"] == "history"]
        assert history["status"] == "warn" and f"moved it to {moved[0]}" in history["detail"]
    else:
        assert f"moved it to {moved[0]}" in err
    assert (out + err).count("was corrupt") == 1, "said once, not once per layer"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert sessions == (1 if command in ("monitor", "analyze") else 0)
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_data_dir_through_a_file_is_a_clear_error_at_start(
    tmp_path: Path,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    t0 = time.monotonic()
    code = main(
        [
            "monitor",
            "--source",
            "7",
            "--model",
            str(model_path),
            "--no-notify",
            "--no-control",
            "--max-seconds",
            "30",
        ]
    )
    err = capfd.readouterr().err
    assert code == 1
    assert time.monotonic() - t0 < 10, "at start, before any camera wait"
    assert f"cannot create the history directory {blocker}/posture" in err
    assert "--db PATH" in err
    assert "cannot open camera" not in err


@pytest.fixture()
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "locked"
    d.mkdir()
    if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
        _need_root_tool("chattr +i a directory")
    try:
        yield d
    finally:
        subprocess.run(["chattr", "-i", str(d)], check=True)


def test_read_only_data_dir_is_a_clear_error_at_start(
    immutable_dir: Path, still: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _monitor(still, immutable_dir / "history.sqlite3", model_path)
    _, err = capsys.readouterr()
    assert code == 1
    assert f"the history directory {immutable_dir} is not writable" in err


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
            capture_output=True,
        ).returncode
        != 0
    ):
        _need_root_tool("mount a tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(disk: Path, leave_bytes: int) -> None:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "ab") as f:
        f.write(b"\0" * max(0, free - leave_bytes))


@pytest.mark.parametrize("existing", [False, True], ids=["new-db", "existing-db"])
def test_full_data_dir_is_a_clear_error_at_start_not_an_hour_later(
    tiny_disk: Path,
    still: Path,
    model_path: Path,
    existing: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tiny_disk / "history.sqlite3"
    if existing:  # a history that worked yesterday, on a disk that filled up since
        assert _monitor(still, db, model_path) == 0
        capsys.readouterr()
        before = db.read_bytes()
    _fill(tiny_disk, leave_bytes=64 * 1024)  # room for a few minutes of rows at most
    code = _monitor(still, db, model_path)
    _, err = capsys.readouterr()
    assert code == 1
    assert f"the disk holding the history directory {tiny_disk} is full" in err
    assert "KiB free" in err and "--db PATH" in err
    if existing:
        assert db.read_bytes() == before, "the existing history is untouched"


def test_kill_9_during_monitoring_loses_at_most_5_s_and_the_next_start_just_works(
    tmp_path: Path, model_path: Path, still: Path
) -> None:
    photo = cv2.imread(str(sorted(SITTING.glob("good*.jpg"))[0]))
    clip = tmp_path / "clip.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (160, 160))
    for f in moving_photo_clip(photo, n=5 * 60, size=(160, 160), seed=9):
        out.write(f)
    out.release()
    db = tmp_path / "history.sqlite3"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # real time pacing: the clip plays like a camera, so stored seconds track the wall clock
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posture",
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline and first is None:
            time.sleep(0.25)
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=5) as conn:
                        first = conn.execute("SELECT MIN(t_unix) FROM samples").fetchone()[0]
                except sqlite3.OperationalError:
                    pass  # not migrated yet
        assert first is not None, "the monitor never flushed a sample"
        time.sleep(8.3)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (last,) = conn.execute("SELECT MAX(t_unix) FROM samples").fetchone()
        (n,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
    # a row is dated by the start of its second; the newest second is still being filled
    lost_s = killed_at - (last + 1.0)
    assert lost_s <= 5.0 + 1.0, f"lost {lost_s:.1f} s (flush every 5 s, frames up to 1 s apart)"
    assert n >= 8
    # the next start repairs nothing by hand: no corrupt notice, a second session, a report
    assert _monitor(still, db, model_path) == 0
    assert main(["report", "--db", str(db)]) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]


def test_monitor_start_deletes_history_older_than_keep_days(
    tmp_path: Path, still: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "history.sqlite3"
    old = datetime.now(UTC) - timedelta(days=40)
    with HistoryStore.open(db) as store:  # a session as a monitor left it 40 days ago
        store.start_session(old, source="camera:0")
        store.record(Verdict(0.0, "good"), {"cva_deg": 55.0}, "side_left", old)
        store.end_session(old + timedelta(seconds=60))
    config = tmp_path / "config.toml"
    config.write_text("[store]\nkeep_days = 30\n", encoding="utf-8")
    assert _monitor(still, db, model_path, "--config", str(config)) == 0
    err = capsys.readouterr().err
    assert "deleted 1 session older than 30 days" in err
    with sqlite3.connect(db) as conn:
        sources = [r[0] for r in conn.execute("SELECT source FROM sessions")]
        oldest = conn.execute("SELECT MIN(t_unix) FROM samples").fetchone()[0]
    assert sources == [str(still)]  # only this run's session is left
    assert oldest >= (datetime.now(UTC) - timedelta(days=1)).timestamp()
    # the default keeps a year: a second start deletes nothing and says nothing
    assert _monitor(still, db, model_path) == 0
    assert "deleted" not in capsys.readouterr().err
