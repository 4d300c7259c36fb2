"""A real notification server for tests: Xvfb + a private session bus + dunst, read back as JSON.

dunst needs an X display and owns org.freedesktop.Notifications on a session bus, so the harness
starts `Xvfb -displayfd` (it picks a free display itself), then `dbus-run-session` running dunst
with an empty config (built-in defaults, markup on as on most desktops). The bus address is
printed by the session's shell before it execs dunst; the harness hands it out in `env`, so any
child process (notify-send, `posture monitor`) talks to this dunst and never to a real desktop.

Reading back: dunst's `history` lists only closed notifications, so `notifications()` first runs
`dunstctl close-all`. dunst 1.9 cannot clear its history; use `mark()` before sending and
`notifications(since=mark)` to see only the new ones.

Use the session-scoped `dunst` fixture (import it into a test module or conftest:
tests/conftest.py imports it once for the session). Off CI it skips, saying which program is
missing; with CI=true a missing program fails the test instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PROGRAMS = ("Xvfb", "dbus-run-session", "dbus-send", "dunst", "dunstctl")
INSTALL_HINT = "run scripts/ci_system_deps.sh (apt: dunst xvfb dbus dbus-x11 libnotify-bin)"

# The shell prints the session bus address, then becomes dunst; paths arrive as $1 and $2.
_SESSION_SCRIPT = 'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS"; exec dunst -config "$1" >"$2" 2>&1'


@dataclass(frozen=True, slots=True)
class SeenNotification:
    """One notification as dunst recorded it (the raw summary and body it received)."""

    id: int
    appname: str
    summary: str
    body: str
    icon_path: str


def missing_programs() -> list[str]:
    """The harness's programs that are not on PATH."""
    return [p for p in PROGRAMS if shutil.which(p) is None]


def skip_or_fail(reason: str) -> None:
    """Skip off CI; on CI (CI=true) a missing notification server is a failure, not a skip."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


class DunstSession:
    """Xvfb + session bus + dunst, started together and stopped together."""

    def __init__(self, workdir: Path, *, start_timeout_s: float = 15.0) -> None:
        self.workdir = workdir
        self.start_timeout_s = start_timeout_s
        self.display = ""
        self.bus_address = ""
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._session: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Variables that point a child process at this display and bus."""
        return {"DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.bus_address}

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) with this session's display and bus."""
        return {**(os.environ if base is None else base), **self.env}

    def start(self) -> DunstSession:
        """Start everything; raises RuntimeError with dunst's log if it does not come up."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The servers get a home of their own: nothing they do can touch the real one.
        runtime = self.workdir / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        server_env = {
            **os.environ,
            "HOME": str(self.workdir),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(self.workdir / ".config"),
        }
        read_fd, write_fd = os.pipe()
        self._xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=server_env,
            start_new_session=True,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{number}"

        config = self.workdir / "dunstrc"
        config.write_text("# empty: dunst's built-in defaults\n")
        self.log_path = self.workdir / "dunst.log"
        self._session = subprocess.Popen(
            [
                "dbus-run-session",
                "--",
                "sh",
                "-c",
                _SESSION_SCRIPT,
                "sh",
                str(config),
                str(self.log_path),
            ],
            env={**server_env, "DISPLAY": self.display},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        stdout = self._session.stdout
        self.bus_address = stdout.readline().decode().strip() if stdout is not None else ""
        if not self.bus_address:
            self.stop()
            raise RuntimeError("dbus-run-session did not print a bus address")
        deadline = time.monotonic() + self.start_timeout_s
        while not self._server_up():
            if time.monotonic() > deadline or self._session.poll() is not None:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                self.stop()
                raise RuntimeError(f"dunst did not take org.freedesktop.Notifications:\n{log}")
            time.sleep(0.05)
        return self

    def _server_up(self) -> bool:
        proc = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ],
            env=self.child_env(),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return proc.returncode == 0 and "boolean true" in proc.stdout

    def stop(self) -> None:
        """Stop dunst with its bus, then Xvfb (each by its own process group)."""
        for proc in (self._session, self._xvfb):
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass  # already gone between poll() and killpg()
        if self._session is not None and self._session.stdout is not None:
            self._session.stdout.close()

    def _dunstctl(self, *args: str) -> str:
        proc = subprocess.run(
            ["dunstctl", *args],
            env=self.child_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=10,
            check=True,
        )
        return proc.stdout

    def _history(self) -> list[SeenNotification]:
        data = json.loads(self._dunstctl("history"))
        return [
            SeenNotification(
                id=int(n["id"]["data"]),
                appname=n["appname"]["data"],
                summary=n["summary"]["data"],
                body=n["body"]["data"],
                icon_path=n["icon_path"]["data"],
            )
            for n in data["data"][0]
        ]

    def mark(self) -> int:
        """The highest notification id so far (shown or in history); pass it to `notifications`."""
        self._dunstctl("close-all")
        return max((n.id for n in self._history()), default=0)

    def notifications(
        self, since: int = 0, *, expect: int = 1, timeout_s: float = 5.0
    ) -> list[SeenNotification]:
        """Notifications with id > `since`, oldest first, waiting until `expect` have arrived.

        Closes all open notifications first, because dunst's history lists only closed ones.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self._dunstctl("close-all")
            seen = sorted((n for n in self._history() if n.id > since), key=lambda n: n.id)
            if len(seen) >= expect or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    def __enter__(self) -> DunstSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def dunst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DunstSession]:
    """One dunst for the whole test session; skips off CI (fails on CI) if programs are missing."""
    missing = missing_programs()
    if missing:
        skip_or_fail(f"no notification server: {', '.join(missing)} not found; {INSTALL_HINT}")
    with DunstSession(tmp_path_factory.mktemp("dunst")) as session:
        yield session
