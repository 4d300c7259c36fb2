"""Adaptive analysis rate: look rarely while posture is steady and good, often when it changes.

Inference is nearly all of the monitor's cost, so the rate is the battery knob. The policy:
`max_fps` while anything is happening (a fault present in the last frame, an episode building or
running, the state not `good`, the key metric moving by more than `change_deg`, or the first
`settle_s` after start or after a change), then it relaxes to `min_fps` once posture has been
steady and good for `settle_s`. A fault that appears while sampling slowly is therefore seen at
most 1/min_fps late, well inside the 30 s persistence time, and from then on followed closely.

"Moving" is judged against a slowly updated reference, not the previous look, and only once
the key metric has stayed beyond `change_deg` from it for `confirm_s`: the landmark noise of a
still sitter (about 1 deg SD on the CVA estimate, independent between looks 1 s apart) exceeds
2 deg between two looks one time in five and kept the rate at `max_fps` most of the time, which
is where the monitor's idle CPU went (docs/PERFORMANCE.md). A real change of posture persists,
so it is caught `confirm_s` and `confirm_looks` later (three looks in a row beyond the band on
the same side: noise does that about once in 10,000 looks at 1 fps). At the 0.5 fps idle rate
the smoothed metric follows each look more closely (the filter's time constant is 1.6 s), so the
count of looks, not the time, is what keeps noise from kicking the rate up.

The band widens with the noise actually seen: `noise_band_k` times a running estimate of the
look-to-look scatter around the reference, between `change_deg` and `max_change_deg`. Some
sitters and cameras give the tracker 3 deg SD on a still person (the bench's steady photo does);
a fixed 2 deg band then mistook noise for movement about once a minute and paid for 10 s at
`max_fps` each time. Only looks inside the band update the estimate, so a real change never
widens its own band; truncated that way, the band settles near 2.3 true SDs. A fault is never
missed by this: faults set the rate to `max_fps` directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateConfig:
    """Analysis rate bounds and when to switch between them."""

    min_fps: float = 0.5
    max_fps: float = 5.0
    adaptive: bool = True
    settle_s: float = 10.0
    change_deg: float = 2.0
    confirm_s: float = 2.0
    """How long the key metric must stay beyond `change_deg` from the reference to count."""
    confirm_looks: int = 3
    """How many looks in a row must be beyond the band (at 0.5 fps, `confirm_s` alone is two)."""
    reference_weight: float = 0.3
    """How far each in-band look pulls the reference (exponential average weight)."""
    noise_band_k: float = 2.5
    """The band is at least this many noise SDs wide (noise estimated from the looks)."""
    max_change_deg: float = 6.0
    """The noise never widens the band beyond this: a change this large is always movement."""
    noise_weight: float = 0.1
    """Weight of each look in the running noise estimate (about a ten-look memory)."""

    def __post_init__(self) -> None:
        if not (0.05 <= self.min_fps <= 60):
            raise ValueError(f"min_fps={self.min_fps} must be within 0.05..60")
        if not (self.min_fps <= self.max_fps <= 60):
            raise ValueError(f"max_fps={self.max_fps} must be within min_fps ({self.min_fps})..60")
        if self.settle_s < 0 or self.change_deg <= 0:
            raise ValueError("settle_s must be >= 0 and change_deg > 0")
        if self.confirm_s < 0:
            raise ValueError(f"confirm_s={self.confirm_s} must be >= 0")
        if self.confirm_looks < 1:
            raise ValueError(f"confirm_looks={self.confirm_looks} must be >= 1")
        if not (0.0 < self.reference_weight <= 1.0):
            raise ValueError(f"reference_weight={self.reference_weight} must be within (0, 1]")
        if self.noise_band_k <= 0 or self.max_change_deg < self.change_deg:
            raise ValueError(
                f"noise_band_k={self.noise_band_k} must be > 0 and max_change_deg="
                f"{self.max_change_deg} at least change_deg={self.change_deg}"
            )
        if not (0.0 < self.noise_weight <= 1.0):
            raise ValueError(f"noise_weight={self.noise_weight} must be within (0, 1]")


class AdaptiveRate:
    """Decides the interval until the next analysed frame, from what the last one showed."""

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self._busy_until_s = -math.inf
        self._reference = math.nan
        self._outside_since_s = math.nan
        self._outside_sign = 0.0
        self._outside_looks = 0
        self._noise_var = (config.change_deg / config.noise_band_k) ** 2

    @property
    def band_deg(self) -> float:
        """How far the key metric may stray from the reference before it may count as moving."""
        c = self.config
        wide = c.noise_band_k * math.sqrt(self._noise_var)
        return min(max(c.change_deg, wide), c.max_change_deg)

    def _moved(self, t_s: float, value: float) -> bool:
        """Feed one look's key metric; True when it has left the reference band for good."""
        c = self.config
        if math.isnan(value):
            return False
        if math.isnan(self._reference):
            self._reference = value
            return False
        residual = value - self._reference
        if abs(residual) <= self.band_deg:
            # Only in-band looks feed the noise estimate, so a real change cannot widen the band
            # that is catching it. The estimate is truncated by the band, which lets the band
            # grow step by step to about 2.3 SD of the true noise (capped).
            self._noise_var += c.noise_weight * (residual * residual - self._noise_var)
            self._outside_since_s, self._outside_looks = math.nan, 0
            self._reference += c.reference_weight * residual
            return False
        sign = math.copysign(1.0, value - self._reference)
        if math.isnan(self._outside_since_s) or sign != self._outside_sign:
            self._outside_since_s, self._outside_sign, self._outside_looks = t_s, sign, 0
        self._outside_looks += 1
        if t_s - self._outside_since_s < c.confirm_s or self._outside_looks < c.confirm_looks:
            return False
        self._reference, self._outside_since_s = value, math.nan  # follow the new posture
        self._outside_looks = 0
        return True

    def next_interval_s(
        self, t_s: float, *, state: str, busy: bool, key_metric: float = math.nan
    ) -> float:
        """`busy`: a fault seen now or an episode building. `key_metric`: e.g. the CVA estimate."""
        c = self.config
        if not c.adaptive:
            return 1.0 / c.max_fps
        moved = self._moved(t_s, key_metric)
        if busy or moved or state != "good":
            self._busy_until_s = t_s + c.settle_s
        fps = c.max_fps if t_s < self._busy_until_s else c.min_fps
        return 1.0 / fps

    def kick(self, t_s: float) -> None:
        """Sample fast for a while (after start, resume, or the camera coming back)."""
        self._busy_until_s = t_s + self.config.settle_s
        self._reference = math.nan
        self._outside_since_s = math.nan
