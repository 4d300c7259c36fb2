"""Privacy and security: no image reaches the disk, private file modes, no listener, no shell,
and `posture forget` deletes what PRIVACY.md says is stored.

The end-to-end run uses a temporary HOME (conftest) and a temporary TMPDIR: `posture monitor` on
a clip (with its control socket), `posture analyze` on the clip, and `posture report`; then
every file written under HOME and TMPDIR is scanned for image signatures and for raw pixel
arrays of the clip's frame size.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from posture.cli import main
from posture.testing import moving_photo_clip, sitting_side_dir

REPO = Path(__file__).resolve().parents[1]
SITTING = sitting_side_dir()
W, H = 160, 120
MAGIC = {
    "JPEG": b"\xff\xd8\xff",
    "PNG": b"\x89PNG\r\n\x1a\n",
    "GIF": b"GIF8",
    "BMP": b"BM",
    "TIFF": b"II*\x00",
    "TIFF-BE": b"MM\x00*",
    "WEBP/AVI (RIFF)": b"RIFF",
    "MP4": b"ftyp",
    "NumPy": b"\x93NUMPY",
    "PGM/PPM": b"P5\n",
}


def _image_findings(path: Path) -> list[str]:
    data = path.read_bytes()
    found = [
        name
        for name, magic in MAGIC.items()
        if data.startswith(magic) or (name == "MP4" and data[4:8] == magic)
    ]
    found += [
        name
        for name, magic in (
            ("embedded JPEG", b"\xff\xd8\xff\xe0"),
            ("embedded PNG", b"\x89PNG\r\n\x1a\n"),
        )
        if magic in data[1:]
    ]
    if len(data) >= W * H:  # raw gray / BGR frames of the clip's size
        for n in (W * H, W * H * 3):
            if (
                len(data) % n == 0
                and len(data) // n <= 10_000
                and path.suffix not in (".sqlite3", ".html", ".json")
            ):
                found.append(f"{len(data)} bytes: a multiple of one raw {n}-byte frame")
    return found


def _written_files(*roots: Path) -> list[Path]:
    return [p for r in roots for p in r.rglob("*") if p.is_file() and not p.is_symlink()]


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    """The input clip lives outside HOME and TMPDIR, so it is not mistaken for program output."""
    photo = cv2.imread(str(sorted(SITTING.glob("good*.jpg"))[0]))
    path = tmp_path / "input" / "clip.avi"
    path.parent.mkdir()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (W, H))
    for f in moving_photo_clip(photo, n=60, size=(W, H), seed=3):
        out.write(f)
    out.release()
    return path


def _listening_inodes() -> dict[str, str]:
    """Socket inode -> local address of every listening TCP/UDP socket on this machine."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, st, inode = parts[1], parts[3], parts[9]
            # TCP LISTEN is 0A; an unconnected UDP socket (07 with no remote) also receives
            if (table.startswith("tcp") and st == "0A") or (
                table.startswith("udp") and parts[2].endswith(":0000")
            ):
                found[inode] = f"{table} {local}"
    return found


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            out.add(m.group(1))
    return out


def test_end_to_end_run_writes_no_image_and_keeps_files_private(
    clip: Path,
    model_path: Path,
    isolated_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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
            "--no-notify",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    listeners: dict[str, str] = {}
    sock_mode = None
    try:
        sock = isolated_home / "run" / "posture" / "control.sock"
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert sock.exists(), proc.stderr.read() if proc.poll() is not None else "no socket"
        sock_mode = stat.S_IMODE(sock.stat().st_mode)
        dir_mode = stat.S_IMODE(sock.parent.stat().st_mode)
        time.sleep(2.0)  # monitoring (real-time pacing of the 12 s clip)
        mine = _socket_inodes(proc.pid)
        listeners = {i: a for i, a in _listening_inodes().items() if i in mine}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not listeners, f"the monitor listens on the network: {listeners}"
    assert sock_mode == 0o600 and dir_mode == 0o700

    assert main(["analyze", str(clip), "--model", str(model_path), "--report", "html"]) == 0
    assert main(["report"]) == 0
    capsys.readouterr()

    written = _written_files(isolated_home, tmpdir)
    probe = tmpdir / "probe.bin"  # the scanner itself finds a frame when there is one
    probe.write_bytes(cv2.imencode(".jpg", cv2.imread(str(sorted(SITTING.glob("*.jpg"))[0])))[1])
    assert _image_findings(probe)
    probe.write_bytes(bytes(W * H * 3))
    assert _image_findings(probe)
    probe.unlink()
    assert any(p.name == "history.sqlite3" for p in written)
    problems = {str(p): f for p in written if (f := _image_findings(p))}
    # the HTML report asked for with --report holds charts as inline PNG: that is the user's
    # explicit request, and it is written next to the clip, not under HOME
    assert not problems, problems
    report = clip.with_suffix(".posture.html")
    assert report.is_file()

    data_dir = isolated_home / ".local" / "share" / "posture"
    for p in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p} has mode {oct(mode)}"


def test_profiles_are_owner_only(isolated_home: Path) -> None:
    from posture.adapters.profiles import ProfileStore, load_default_profile, profiles_dir

    path = ProfileStore().save(load_default_profile("side_right"), "desk")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(profiles_dir().stat().st_mode) == 0o700


def test_external_commands_never_go_through_a_shell() -> None:
    offenders = []
    for path in sorted((REPO / "posture").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"shell\s*=\s*True",
            r"\bos\.system\(",
            r"\bos\.popen\(",
            r"subprocess\.getoutput\(",
            r"subprocess\.getstatusoutput\(",
        ):
            for m in re.finditer(pattern, text):
                offenders.append(
                    f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}"
                )
    assert not offenders, offenders


def test_only_outbound_url_is_the_pinned_https_model_download() -> None:
    from posture.adapters import models

    for spec in models.load_manifest().models.values():
        assert spec.url.startswith("https://"), spec.url
    uses = [
        str(p.relative_to(REPO))
        for p in (REPO / "posture").rglob("*.py")
        if re.search(
            r"urllib\.request|http\.client|^import requests|socket\.AF_INET\b",
            p.read_text(encoding="utf-8"),
        )
    ]
    assert uses == ["posture/adapters/models.py"], uses


def _store_something(home: Path) -> list[Path]:
    from posture.adapters.profiles import ProfileStore, load_default_profile
    from posture.adapters.store import HistoryStore, default_db_path

    ProfileStore().save(load_default_profile("side_right"), "desk")
    with HistoryStore.open() as store:
        store.query("SELECT 1")
    corrupt = default_db_path().with_name("history.sqlite3.corrupt-20250101T000000Z")
    corrupt.write_bytes(b"old")
    return [default_db_path(), corrupt, default_db_path().parent / "profiles" / "desk.json"]


def test_forget_refuses_without_a_terminal_or_yes(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _store_something(isolated_home)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert main(["forget"]) == 2
    assert "run `posture forget --yes`" in capsys.readouterr().err
    assert all(p.exists() for p in files)


def test_forget_asks_and_deletes_history_profiles_and_only_with_flags_more(
    isolated_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from posture.adapters import models

    # never the developer's own model cache (`forget --models` below deletes it)
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(isolated_home / "model-cache"))
    files = _store_something(isolated_home)
    cache = models.cache_dir()
    cache.mkdir(parents=True)
    (cache / "pose_landmarker_full.task").write_bytes(b"model")

    class Tty:
        def __init__(self, answer: str) -> None:
            self.answer = answer

        def isatty(self) -> bool:
            return True

        def readline(self) -> str:
            return self.answer + "\n"

    monkeypatch.setattr(sys, "stdin", Tty("no"))
    assert main(["forget"]) == 1
    out = capsys.readouterr().out
    assert all(str(p) in out or str(p.parent) in out for p in files)
    assert "Nothing deleted" in out and all(p.exists() for p in files)

    monkeypatch.setattr(sys, "stdin", Tty("yes"))
    assert main(["forget"]) == 0
    assert not any(p.exists() for p in files)
    assert (cache / "pose_landmarker_full.task").exists(), "models stay unless --models"
    assert main(["forget", "--yes", "--models"]) == 0
    assert not cache.exists()
    assert main(["forget", "--yes"]) == 0
    assert "nothing stored" in capsys.readouterr().out


def test_forget_models_deletes_only_the_files_posture_wrote_in_the_cache(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # $POSTURE_MODEL_DIR can be any folder; what posture did not write there must survive
    cache = isolated_home / "my-models"
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(cache))
    cache.mkdir()
    ours = [
        cache / "pose_landmarker_full.task",
        cache / "pose_landmarker_lite_offline.task",
        cache / ".pose_landmarker_heavy.task.k3j2x9.part",  # an interrupted download
    ]
    for p in ours:
        p.write_bytes(b"model")
    theirs = [cache / "thesis.bin", cache / "custom.task", cache / "notes"]
    theirs[0].write_bytes(b"thesis")
    theirs[1].write_bytes(b"a model of their own")
    theirs[2].mkdir()
    (theirs[2] / "a.txt").write_text("keep")

    assert main(["forget", "--yes", "--models"]) == 0
    out = capsys.readouterr().out
    listed, left = out.split("Left alone")
    assert all(str(p) in listed for p in ours) and str(cache) + "/\n" not in listed
    assert all(str(p) in left for p in theirs)
    assert "Left 3 items posture did not write" in out
    assert not any(p.exists() for p in ours)
    assert theirs[0].read_bytes() == b"thesis" and theirs[1].exists()
    assert (theirs[2] / "a.txt").read_text() == "keep"

    # once only posture's files were there, the folder goes too
    shutil.rmtree(cache)
    cache.mkdir()
    ours[0].write_bytes(b"model")
    assert main(["forget", "--yes", "--models"]) == 0
    assert "Left alone" not in capsys.readouterr().out
    assert not cache.exists()


def test_forget_deletes_the_reports_written_to_the_data_dir(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from posture.adapters.store import HistoryStore
    from posture.core.events import Verdict

    day = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    with HistoryStore.open() as store:
        store.start_session(day)
        for i in range(120):
            store.record(
                Verdict(float(i), "good"),
                {"cva_deg": 52.0},
                "side_left",
                day + timedelta(seconds=i),
            )
        store.end_session(day + timedelta(seconds=120))
    for period in (["--day", "2024-05-06"], ["--from", "2024-05-05", "--to", "2024-05-06"]):
        # an HTML report without --out goes to the data dir
        assert main(["report", *period, "--tz", "UTC", "--format", "html"]) == 0
    folder = isolated_home / ".local" / "share" / "posture" / "reports"
    reports = sorted(folder.iterdir())
    assert [p.name for p in reports] == [
        "posture-report-2024-05-05_to_2024-05-06.html",
        "posture-report-2024-05-06.html",
    ]
    # owner-only, like the history they come from (they were written with the user's umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in reports)
    mine = folder / "my-notes.txt"
    mine.write_text("mine")
    capsys.readouterr()

    assert main(["forget", "--yes"]) == 0
    out = capsys.readouterr().out
    assert all(str(p) in out.split("Left alone")[0] for p in reports)
    assert not any(p.exists() for p in reports)
    assert mine.read_text() == "mine" and str(mine) in out.split("Left alone")[1]


def test_privacy_doc_lists_the_reports_folder() -> None:
    text = (REPO / "PRIVACY.md").read_text(encoding="utf-8")
    table = text.split("## What is stored")[1].split("\n\n")[1]
    assert "reports/" in table and "posture-report-" in table


def test_forget_refuses_while_a_monitor_runs(isolated_home: Path) -> None:
    from posture.adapters.control import ControlServer

    files = _store_something(isolated_home)
    server = ControlServer()
    server.start()
    try:
        assert main(["forget", "--yes"]) == 2
    finally:
        server.close()
    assert all(p.exists() for p in files)
    assert threading.active_count() >= 1


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl file locks on Windows")
def test_forget_refuses_while_a_monitor_without_control_records(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a monitor started with --no-control answers no socket: forget deleted the history under it,
    # lock file included, and the next monitor then recorded beside it
    from posture.adapters.store import HistoryStore, default_db_path

    files = _store_something(isolated_home)
    with HistoryStore.open() as recording:
        recording.start_session(datetime.now(UTC))
        assert main(["forget", "--yes"]) == 2
        assert f"a posture monitor is recording into {default_db_path()}" in capsys.readouterr().err
        assert all(p.exists() for p in files)
        recording.end_session(datetime.now(UTC))
    assert main(["forget", "--yes"]) == 0  # stopped: the lock is free, and goes with the rest
    assert not default_db_path().with_name("history.sqlite3.monitor-lock").exists()
