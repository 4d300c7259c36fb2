"""Is the screen locked? Best effort, so the monitor can release the camera while nobody works.

On Linux, systemd-logind keeps a `LockedHint` per session that GNOME, KDE, Cinnamon, xfce4 with
light-locker, swaylock and most other lockers set (it is the hint, not a guarantee: a locker that
does not tell logind leaves it "no"). `LogindLockProbe` asks
`loginctl show-session <id> -p LockedHint --value` with an argument list (no shell), for the
session in `$XDG_SESSION_ID`, else logind's `auto` (the caller's own session). One call costs a
few milliseconds; the monitor polls every few seconds.

macOS and Windows have no lock state a plain subprocess can read cheaply and reliably, so there
the probe reports "unknown" (None) and the monitor behaves as if the screen were unlocked. A probe
that fails (no logind in a container, loginctl missing, no session) says why once at INFO and
then stays quiet, returning None from then on.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 5.0
"""How often the monitor asks; a lock noticed 5 s late costs nothing."""


class LockProbe(Protocol):
    """Answers whether the user's screen is locked: True, False, or None when it cannot tell."""

    description: str

    def locked(self) -> bool | None:
        """Return the lock state now (None: unknown; the monitor then carries on as unlocked)."""
        ...


def parse_locked_hint(text: str) -> bool | None:
    """`yes`/`no` (`--value`) or `LockedHint=yes` lines from loginctl -> True/False; else None."""
    for line in text.splitlines():
        value = line.strip()
        if not value:
            continue
        key, sep, rest = value.partition("=")
        if sep:
            if key.strip() != "LockedHint":
                continue
            value = rest.strip()
        if value.lower() in ("yes", "true", "1"):
            return True
        if value.lower() in ("no", "false", "0"):
            return False
        return None
    return None


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=2.0,
        check=False,
        env={**os.environ, "LC_ALL": "C", "SYSTEMD_PAGER": ""},
    )


class LogindLockProbe:
    """`LockedHint` of the current logind session, through `loginctl` (Linux)."""

    def __init__(
        self,
        session_id: str | None = None,
        *,
        runner: Runner | None = None,
        executable: str = "loginctl",
    ) -> None:
        self.session_id = session_id or os.environ.get("XDG_SESSION_ID") or "auto"
        self.executable = executable
        self._runner = runner or _run
        self.disabled_reason = ""
        self.description = f"logind session {self.session_id}"

    def argv(self) -> list[str]:
        """Return the command run each poll (an argument list: no shell parses it)."""
        return [self.executable, "show-session", self.session_id, "-p", "LockedHint", "--value"]

    def locked(self) -> bool | None:
        """Return True/False from logind; None (and quiet from then on) when it cannot answer."""
        if self.disabled_reason:
            return None
        try:
            proc = self._runner(self.argv())
        except (OSError, subprocess.SubprocessError) as exc:
            self._disable(f"{self.executable} could not run: {exc}")
            return None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip().splitlines()
            self._disable(detail[-1] if detail else f"exit code {proc.returncode}")
            return None
        state = parse_locked_hint(proc.stdout)
        if state is None:
            self._disable(f"unexpected answer {proc.stdout.strip()[:80]!r}")
            return None
        return state

    def _disable(self, why: str) -> None:
        # Best effort: without logind the monitor just keeps the camera while the screen is locked.
        self.disabled_reason = why
        log.info("screen lock detection off (%s): %s", self.description, why)


class NoLockProbe:
    """Platforms without a supported lock signal: always unknown."""

    def __init__(self, why: str) -> None:
        self.description = f"no lock detection ({why})"

    def locked(self) -> bool | None:
        """Return None: unknown, always."""
        return None


def default_probe(platform: str | None = None) -> LockProbe:
    """Return the best probe for this platform (logind on Linux with loginctl, else none)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        if shutil.which("loginctl") is None:
            return NoLockProbe("loginctl not found")
        return LogindLockProbe()
    if platform == "darwin":
        return NoLockProbe("not supported on macOS yet")
    if platform.startswith("win"):
        return NoLockProbe("not supported on Windows yet")
    return NoLockProbe(f"not supported on {platform}")
