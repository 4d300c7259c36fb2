"""Adaptive analysis rate: look rarely while posture is steady and good, often when it changes.

Inference is nearly all of the monitor's cost, so the rate is the battery knob. The policy:
`max_fps` while anything is happening (a fault present in the last frame, an episode building or
running, the state not `good`, the key metric moving by more than `change_deg` between looks, or
the first `warmup_s` after start or after a change), then it relaxes to `min_fps` once posture has
been steady and good for `settle_s`. A fault that appears while sampling slowly is therefore seen
at most 1/min_fps late, well inside the 30 s persistence time, and from then on followed closely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateConfig:
    """Analysis rate bounds and when to switch between them."""

    min_fps: float = 1.0
    max_fps: float = 5.0
    adaptive: bool = True
    settle_s: float = 10.0
    change_deg: float = 2.0

    def __post_init__(self) -> None:
        if not (0.05 <= self.min_fps <= 60):
            raise ValueError(f"min_fps={self.min_fps} must be within 0.05..60")
        if not (self.min_fps <= self.max_fps <= 60):
            raise ValueError(f"max_fps={self.max_fps} must be within min_fps ({self.min_fps})..60")
        if self.settle_s < 0 or self.change_deg <= 0:
            raise ValueError("settle_s must be >= 0 and change_deg > 0")


class AdaptiveRate:
    """Decides the interval until the next analysed frame, from what the last one showed."""

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self._busy_until_s = -math.inf
        self._last_value = math.nan

    def next_interval_s(
        self, t_s: float, *, state: str, busy: bool, key_metric: float = math.nan
    ) -> float:
        """`busy`: a fault seen now or an episode building. `key_metric`: e.g. the CVA estimate."""
        c = self.config
        if not c.adaptive:
            return 1.0 / c.max_fps
        moved = (
            not math.isnan(key_metric)
            and not math.isnan(self._last_value)
            and abs(key_metric - self._last_value) > c.change_deg
        )
        if not math.isnan(key_metric):
            self._last_value = key_metric
        if busy or moved or state != "good":
            self._busy_until_s = t_s + c.settle_s
        fps = c.max_fps if t_s < self._busy_until_s else c.min_fps
        return 1.0 / fps

    def kick(self, t_s: float) -> None:
        """Sample fast for a while (after start, resume, or the camera coming back)."""
        self._busy_until_s = t_s + self.config.settle_s
        self._last_value = math.nan
