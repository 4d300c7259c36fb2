"""`posture snooze | resume | status` against a running monitor, over the owner-only Unix socket.

A real `posture monitor` subprocess plays a generated clip in real time; the CLI talks to it the
way a user would. The control server's refusals and the socket's permissions are checked too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clips import have_photos, slouch_frames, upright_photo, write_clip

from posture.adapters import control
from posture.adapters.control import ControlServer
from posture.cli import main
from posture.core.errors import ControlError, MonitorRunning


def _status(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.model
@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_snooze_resume_status_against_a_running_monitor(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = write_clip(
        slouch_frames(upright_photo(256), [("upright", 40)], fps=5.0), tmp_path / "clip.avi", 5.0
    )
    sock = Path(os.environ["XDG_RUNTIME_DIR"]) / "posture" / "control.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posture",
            "monitor",
            "--source",
            str(clip),
            "--no-notify",
            "--model",
            str(model_path),
            "--db",
            str(tmp_path / "h.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 60
        state = "starting"
        while state in ("starting", "unknown") and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
            if sock.exists():
                try:
                    state = control.send({"cmd": "status"})["status"]["state"]
                except ControlError:
                    continue  # bound but not yet listening
        assert state == "good"

        # a second monitor (autostart twice, or one by hand) is refused with its own exit code,
        # which the systemd unit does not restart on
        second = ["monitor", "--source", str(clip), "--no-notify", "--model", str(model_path)]
        assert main([*second, "--db", str(tmp_path / "h2.sqlite3")]) == 3
        assert "another monitor is already running" in capsys.readouterr().err
        assert control.send({"cmd": "status"})["status"]["state"] == "good"  # the first goes on

        # owner-only: the socket 0600 inside a 0700 directory
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(sock.stat().st_mode)

        status = _status(capsys)
        assert status["state"] == "good" and status["view"] == "side_right"
        assert status["cva_deg"] > 50 and status.get("snoozed_for_s") is None

        assert main(["snooze", "30"]) == 0  # a bare number: minutes, and the echo says so
        # a video file is not a camera: nothing is released, the file plays on
        assert capsys.readouterr().out == "alerts snoozed for 30 min (the video keeps playing)\n"
        status = _status(capsys)  # at once, not after the loop's next frame
        assert 1790 <= status["snoozed_for_s"] <= 1800, status
        assert main(["status"]) == 0
        assert re.search(r"alerts snoozed (29|30) min", capsys.readouterr().out)

        assert main(["resume"]) == 0
        status = _status(capsys)
        assert status.get("snoozed_for_s") is None and status["state"] == "good"
        time.sleep(3.0)  # the loop has taken both requests: its own status agrees
        status = _status(capsys)
        assert status.get("snoozed_for_s") is None and status["state"] == "good"

        # nonsense is refused by the monitor with a reason, and nothing changes
        with pytest.raises(ControlError, match="seconds"):
            control.send({"cmd": "snooze", "seconds": -5})
        assert main(["snooze", "forever"]) == 1
        assert "cannot read duration" in capsys.readouterr().err
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert not sock.exists()


def test_status_without_a_monitor_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "no monitor is running" in err and "control.sock" in err


def test_server_refuses_bad_requests_and_a_second_monitor(tmp_path: Path) -> None:
    path = tmp_path / "rt" / "posture" / "control.sock"
    server = ControlServer(path)
    server.start()
    try:
        assert control.send({"cmd": "status"}, path)["status"] == {"state": "starting"}
        with pytest.raises(ControlError, match="unknown command 'reboot'"):
            control.send({"cmd": "reboot"}, path)
        with pytest.raises(ControlError, match="0 < seconds <= 86400"):
            control.send({"cmd": "snooze", "seconds": "1h"}, path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(path))
            s.sendall(b"not json\n")
            reply = json.loads(s.makefile().readline())
        assert reply["ok"] is False and "malformed" in reply["error"]
        assert server.requests.empty()
        # before the monitor has a source it cannot say; with a camera, the camera is released
        assert control.send({"cmd": "snooze", "seconds": 90}, path)["camera_released"] is None
        server.live = True
        assert control.send({"cmd": "snooze", "seconds": 90}, path)["camera_released"] is True
        server.status = {"state": "snoozed", "snoozed_for_s": 85}  # a camera released
        control.send({"cmd": "resume"}, path)
        # until the reopened camera's first look there is nothing to show, but no snooze either
        assert control.send({"cmd": "status"}, path)["status"] == {"state": "resuming"}
        assert server.requests.get_nowait().cmd == "snooze"
        got = [server.requests.get_nowait() for _ in range(2)]
        assert [(r.cmd, r.seconds) for r in got] == [("snooze", 90.0), ("resume", 0.0)]
        with pytest.raises(MonitorRunning, match="already running") as refused:
            ControlServer(path).start()
        assert refused.value.exit_code == 3  # the systemd unit's RestartPreventExitStatus
    finally:
        server.close()
    assert not path.exists()


def test_the_loop_cannot_undo_a_request_it_has_not_taken_yet(tmp_path: Path) -> None:
    # the loop builds its status from what it knew when it looked: published after a resume it
    # had not taken yet, it showed the snooze again until its next look (up to 2 s)
    path = tmp_path / "rt" / "posture" / "control.sock"
    server = ControlServer(path)
    server.start()
    try:
        server.publish({"state": "good", "snoozed_for_s": 150})
        control.send({"cmd": "resume"}, path)
        server.publish({"state": "good", "snoozed_for_s": 149})  # the loop, one look late
        assert control.send({"cmd": "status"}, path)["status"] == {"state": "good"}
        assert server.requests.get_nowait().cmd == "resume"  # the loop takes it...
        server.publish({"state": "good"})  # ...and then shows what it does
        assert control.send({"cmd": "status"}, path)["status"] == {"state": "good"}
        control.send({"cmd": "snooze", "seconds": 60}, path)
        server.publish({"state": "good"})
        assert control.send({"cmd": "status"}, path)["status"]["snoozed_for_s"] == 60
    finally:
        server.close()


def test_a_stale_socket_of_a_dead_monitor_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "posture" / "control.sock"
    path.parent.mkdir()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed monitor leaves
    server = ControlServer(path)
    server.start()
    try:
        assert control.send({"cmd": "status"}, path)["ok"] is True
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        server.close()
