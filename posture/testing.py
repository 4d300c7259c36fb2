"""Test and benchmark helpers: fakes for the shell's ports and generated clips from real photos."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from posture.adapters.notify import DeliveryResult


def moving_photo_clip(
    photo_bgr: np.ndarray, n: int, *, size: tuple[int, int] = (640, 480), seed: int = 0
) -> list[np.ndarray]:
    """`n` frames of a real photo, moved and scaled a little per frame (a person shifting in a chair)."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    out = []
    ph, pw = photo_bgr.shape[:2]
    base = min(w / pw, h / ph) * 0.9
    for i in range(n):
        s = base * (1.0 + 0.05 * np.sin(i / 9.0) + rng.normal(0, 0.003))
        dx = 12 * np.sin(i / 7.0) + rng.normal(0, 0.5)
        dy = 8 * np.cos(i / 11.0) + rng.normal(0, 0.5)
        m = np.array([[s, 0, (w - pw * s) / 2 + dx], [0, s, (h - ph * s) / 2 + dy]])
        out.append(cv2.warpAffine(photo_bgr, m, (w, h), borderValue=(40, 40, 40)))
    return out


class RecordingNotifier:
    """A `Notifier` that records every notification instead of showing it.

    `fail_with` set to a reason makes it fail (like a backend without a server), so chains and the
    monitor's error handling can be tested without a desktop.
    """

    def __init__(self, name: str = "recording", *, fail_with: str = "") -> None:
        self.name = name
        self.fail_with = fail_with
        self.sent: list[tuple[str, str, str]] = []
        """(title, body, urgency) of every call, delivered or not."""

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Record the call; deliver unless `fail_with` is set."""
        self.sent.append((title, body, urgency))
        if self.fail_with:
            return DeliveryResult(False, self.name, self.fail_with)
        return DeliveryResult(True, self.name)


class FakeClock:
    """A `posture.clock.Clock` driven by the test: time moves only when told, never backwards.

    `sleep` advances the clock instead of waiting, so loops run at full speed. Wall time is the
    start UTC time plus the monotonic seconds elapsed.
    """

    def __init__(self, start_s: float = 0.0, *, start_utc: datetime | None = None) -> None:
        if not math.isfinite(start_s):
            raise ValueError(f"FakeClock start_s must be finite, got {start_s!r}")
        self._t = float(start_s)
        self._t0 = self._t
        self._utc0 = start_utc or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        if self._utc0.tzinfo is None:
            raise ValueError("FakeClock start_utc must be timezone-aware (UTC)")
        self.sleeps: list[float] = []
        """Every `sleep` call's duration, for tests of pacing."""

    def monotonic(self) -> float:
        """Return the current fake time in seconds."""
        return self._t

    def now_utc(self) -> datetime:
        """Return the start UTC time plus the fake seconds elapsed."""
        return self._utc0 + timedelta(seconds=self._t - self._t0)

    def sleep(self, seconds: float) -> None:
        """Advance by `seconds` (non-positive values do nothing, like the system clock)."""
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (>= 0) and return the new time."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"FakeClock cannot go backwards or jump by {seconds!r} s")
        self._t += seconds
        return self._t

    def set(self, t_s: float) -> float:
        """Jump to `t_s`, which must not be earlier than now."""
        if not math.isfinite(t_s) or t_s < self._t:
            raise ValueError(f"FakeClock cannot go back from {self._t} to {t_s!r}")
        self._t = float(t_s)
        return self._t
