"""The monitor's local control channel: a Unix socket in the user runtime dir, owner-only.

Threading contract: the server thread never touches the judge. It turns each request into a
`ControlRequest` on a queue that the monitor loop drains between frames, and answers `status`
from a snapshot dict that the loop replaces (a single reference assignment, atomic in CPython).
Protocol: one JSON object per connection, one JSON reply: {"cmd": "snooze", "seconds": 1800},
{"cmd": "resume"}, {"cmd": "status"}. No network port is ever opened. Windows has no AF_UNIX in
Python's socket module, so there the channel is unavailable and the CLI says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posture.core.errors import ControlError, MonitorRunning

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A command for the monitor loop."""

    cmd: str
    seconds: float = 0.0


def socket_path() -> Path:
    """`$POSTURE_CONTROL_SOCKET`, else `<user runtime dir>/posture/control.sock`."""
    env = os.environ.get("POSTURE_CONTROL_SOCKET")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_runtime_dir("posture")) / "control.sock"


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


class ControlServer:
    """Accepts control requests for one running monitor."""

    def __init__(self, path: Path | None = None) -> None:
        if not hasattr(socket, "AF_UNIX"):
            raise ControlError("the control channel needs Unix sockets (not available on Windows)")
        self.path = path or socket_path()
        self.requests: queue.Queue[ControlRequest] = queue.Queue()
        self.status: dict[str, Any] = {"state": "starting"}
        self._status_lock = threading.Lock()
        self.live: bool | None = None
        """Whether the monitor watches a live camera (set once its source is open)."""
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Bind (refusing if another monitor answers there) and serve in a daemon thread."""
        _private_dir(self.path.parent)
        if self.path.exists():
            try:
                send({"cmd": "status"}, self.path, timeout_s=1.0)
            except ControlError:
                self.path.unlink()  # stale socket of a monitor that died
            else:
                raise MonitorRunning(
                    f"another monitor is already running (control socket {self.path}); "
                    "stop it first or use `posture status`"
                )
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
        sock.listen(4)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="posture-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None  # noqa: S101 - set by start()
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    reply = self._handle(_recv_json(conn))
                except (ControlError, OSError, ValueError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    def _handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        cmd = msg.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": self.status}
        # The loop takes a request between frames, up to a couple of seconds later: `status`
        # asked right after shows the snooze (or its end) at once, as the loop will.
        if cmd == "resume":
            with self._status_lock:
                self.requests.put(ControlRequest("resume"))
                rest = {k: v for k, v in self.status.items() if k != "snoozed_for_s"}
                # a released camera is reopened first: until its first look nothing to show
                self.status = {"state": "resuming"} if rest.get("state") == "snoozed" else rest
            return {"ok": True}
        if cmd == "snooze":
            seconds = msg.get("seconds")
            if not isinstance(seconds, int | float) or not 0 < seconds <= 86400:
                raise ControlError(f"snooze needs 0 < seconds <= 86400, got {seconds!r}")
            with self._status_lock:
                self.requests.put(ControlRequest("snooze", float(seconds)))
                rest = {k: v for k, v in self.status.items() if k != "snoozed_for_s"}
                self.status = {**rest, "snoozed_for_s": round(seconds)}
            return {"ok": True, "camera_released": self.live}
        raise ControlError(f"unknown command {cmd!r}; known: status, snooze, resume")

    def publish(self, status: dict[str, Any]) -> None:
        """Show the loop's latest status, unless a request it has not taken yet is pending.

        The loop builds its status from what it knew when it looked; a snooze or resume that
        arrived since has already been shown here, and would be undone until the next look.
        """
        with self._status_lock:
            if self.requests.empty():
                self.status = status

    def close(self) -> None:
        """Stop serving and remove the socket file."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _recv_json(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST_BYTES:
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
    try:
        msg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(f"malformed request: {exc}") from exc
    if not isinstance(msg, dict):
        raise ControlError("request must be a JSON object")
    return msg


def send(msg: dict[str, Any], path: Path | None = None, timeout_s: float = 3.0) -> dict[str, Any]:
    """Send one request to the running monitor; ControlError when none answers."""
    path = path or socket_path()
    if not hasattr(socket, "AF_UNIX"):
        raise ControlError("the control channel needs Unix sockets (not available on Windows)")
    if not path.exists():
        raise ControlError(f"no monitor is running (no control socket at {path})")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(msg).encode() + b"\n")
            reply = _recv_json(sock)
        except OSError as exc:
            raise ControlError(f"no monitor answered on {path}: {exc}") from exc
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "the monitor refused the request")))
    return reply
