"""The shell's clock. The core never reads time; the shell passes monotonic seconds in.

Wall-clock UTC is used only to date what the store writes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds, UTC wall time and sleeping, injectable for tests (`FakeClock`)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def now_utc(self) -> datetime:
        """Timezone-aware UTC wall time."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait (a fake clock just advances)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def now_utc(self) -> datetime:
        """datetime.now(UTC)."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """time.sleep, ignoring non-positive values."""
        if seconds > 0:
            time.sleep(seconds)
