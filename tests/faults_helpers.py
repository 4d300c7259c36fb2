"""Shared pieces of the fault-injection tests: a replaying pose backend, a monitor builder, and
a really read-only directory."""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posture.adapters.store import HistoryStore
from posture.app import LazyJudge, choose_profile
from posture.core.config import Settings
from posture.core.landmarks import PoseFrame
from posture.core.rate import AdaptiveRate, RateConfig
from posture.monitor import Monitor, StatusLine
from posture.pipeline import FrameAnalyzer
from posture.session import PostureSession
from posture.testing import FakeClock, RecordingNotifier, load_replay_trace


class ReplayPose:
    """A `PoseBackend` answering every image with one recorded frame of the real model's trace.

    `label` picks which part of the trace ("good" upright or "bad" head forward), so a scripted
    camera can show a slouching person without running the model.
    """

    def __init__(self, label: str = "bad") -> None:
        trace = load_replay_trace()
        idx = np.flatnonzero((trace.labels == label) & trace.person)
        self._trace = trace
        self._i = int(idx[len(idx) // 2])
        self.calls = 0

    def detect(self, image: np.ndarray, t_s: float = 0.0, color: str = "bgr") -> PoseFrame:
        """The recorded frame, stamped `t_s`."""
        self.calls += 1
        return self._trace.frame(self._i, t_s)

    def close(self) -> None:
        """Nothing held."""


def textured(t_s: float, *, seed: int = 0, moving: bool = True) -> np.ndarray:
    """A 96 x 96 picture with texture (not dark, not blank) that changes over time unless frozen."""
    rng = np.random.default_rng(seed + (int(t_s * 1000) if moving else 0))
    return rng.integers(40, 220, size=(96, 96, 3), dtype=np.uint8)


def build(
    source_factory: Callable[[], Any],
    *,
    clock: FakeClock,
    db: Path,
    pose: Any | None = None,
    notifier: Any | None = None,
    max_seconds: float | None = None,
    live: bool = True,
    realtime: bool = True,
) -> tuple[Monitor, HistoryStore, io.StringIO]:
    """A monitor like build_monitor's, on fakes: scripted source, replayed pose, fake clock."""
    settings = Settings()
    judge = LazyJudge(settings.judge, choose_profile(None, settings, required=False), None)
    store = HistoryStore.open(db)
    store.start_session(clock.now_utc(), kind="monitor", source="scripted")
    session = PostureSession(
        judge=judge,
        store=store,
        notifier=notifier or RecordingNotifier(),
        keep_events=True,  # type: ignore[arg-type]
    )
    status = io.StringIO()
    monitor = Monitor(
        source_factory=source_factory,
        analyzer=FrameAnalyzer(pose=pose or ReplayPose(), detect_freeze=live),
        session=session,
        clock=clock,
        rate=AdaptiveRate(RateConfig()),
        status=StatusLine(status, False),
        realtime=realtime,
        baseline_cva=math.nan,
        max_seconds=max_seconds,
    )
    return monitor, store, status


@contextlib.contextmanager
def read_only_dir(d: Path) -> Iterator[None]:
    """Make `d` really read-only: mode 0555, and as root (which ignores modes) `chattr +i`."""
    os.chmod(d, 0o555)
    locked = False
    try:
        if os.geteuid() == 0:
            if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
                if os.environ.get("CI") == "true":
                    pytest.fail("CI runs as root and must be able to `chattr +i` a directory")
                pytest.skip("running as root without `chattr +i`: no read-only directory here")
            locked = True
        with pytest.raises(OSError):
            (d / "probe").touch()
        yield
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(d)], check=True)
        os.chmod(d, 0o755)
