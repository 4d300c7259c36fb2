"""Adaptive analysis rate: look rarely while nothing changes, often when something does.

Inference is nearly all of the monitor's cost, so the rate is the battery knob. The policy:
`max_fps` while something is happening, else `min_fps`. Happening means:

- a fault the judge is deciding (`Verdict.deciding_faults`): within the persistence window its
  first sighting opened while its run lasts (a slouch, or a glance?), or an active fault within
  the recovery window its first good look opened (straightening up, or a blip?). The whole
  window is sampled at `max_fps`, whatever each look shows: the judge weighs each look by the
  time until the next, so a rate that went fast after faulty looks and slow after good ones
  would tip its time shares. When the window closes the rate drops at once;
- for `settle_s` after the key metric moved out of its band (outside an episode: see below), a
  change of state, or a `kick` (a resume, the camera coming back).

A fault that appears while sampling slowly is seen at most 1/min_fps late, well inside the 30 s
persistence time. A state that merely lasts is not something happening. A slouch that goes on after
its episode started is looked at every 1/min_fps: its escalation comes at most that late, and the
first look that shows the sitter straightening up opens the recovery window. Glances that keep
coming, or a borderline fault that comes and goes, are decided by the first window (a window is
given back only once the fault has shown the other way for the persistence time) and looked at
slowly after it. Moving does not count while an episode runs (`slouching`): what the judge must
decide there, straightening up or a blip, it decides in its recovery window, and once a blip has
used that window the recovery is judged at `min_fps` on purpose. Until session 10 a sitter who kept
shifting while slouched (2 s up every 12 s) confirmed each shift as a move and held `max_fps`
throughout; leaving it to the judge takes 40 % fewer looks on such clips, with the same episodes
within 1.6 s (scripts/study_rate.py, docs/PERFORMANCE.md). `away` (nobody seen for
`judge.away_after_s`) is sampled at `min_fps` at once: there is nobody to follow, and a return is
seen within 1/min_fps and changes the state. `unknown` (a person the model cannot measure, a dark
or frozen image) is followed fast for `settle_s` after it begins, as any change is, and slowly if
it lasts. Before session 8 every state but `good`, and every fault seen, held `max_fps`: an empty
desk cost 12.7 % of a core and a long slouch 12.3 % on the bench's webcam stand-in, against about
1 % for a steady good sitter (docs/PERFORMANCE.md), for the hours a day people spend away from
their desks or, the very people this is for, slouched.

"Moving" is judged against a slowly updated reference, not the previous look, and only once
the key metric has stayed outside the band around it for `confirm_s` and `confirm_looks` looks
on the same side. Two looks of a still sitter differ by more than 2 deg one time in five (about
1 deg SD of landmark noise on the CVA estimate), which used to keep the rate at `max_fps` most of
the time (docs/PERFORMANCE.md). A real change of posture persists, so it is caught `confirm_s`
and `confirm_looks` later. At the 0.5 fps idle rate the smoothed metric follows each look closely
(the filter's time constant is 1.6 s), so the count of looks, not the time, is what keeps noise
from kicking the rate up.

The band widens with the noise actually seen: `noise_band_k` times a running estimate of the
look-to-look noise, between `change_deg` and `max_change_deg`. Some sitters and cameras give the
tracker 3 deg SD on a still person (the bench's steady photo does); a fixed 2 deg band then
mistook noise for movement about once a minute and paid for 10 s at `max_fps` each time. The
noise is estimated from the difference between successive looks (half its square is the noise
variance), which a slow drift of posture barely changes, so a drift cannot widen the band that
should catch it; only looks inside the band and at least `NOISE_MIN_GAP_S` after the previous one
count, so a sudden change does not widen it either, and the filter-smoothed looks of a fast burst
do not shrink it. A fault is never missed by any of this: a deciding fault sets `max_fps`.

`max_fps` is 2.5, not the 5 it was until session 9: the judge weighs time shares over 10-30 s
windows, and landmark noise on a still sitter changes over seconds, not between looks 0.2 s
apart, so the extra looks bought nothing. On clips of a real photo through the whole pipeline
(a slouch, a slouch 1.6 deg past its threshold, glances then a slouch, a slouch with blips;
three seeds each) every episode started, was nudged and recovered within 2 s of where it did at
5 fps, with 44 % fewer looks on average (9-59 %); at 1.5 fps one borderline slouch started 24 s
late (scripts/study_rate.py, docs/PERFORMANCE.md session 9).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from posture.core.events import Verdict

NOISE_MIN_GAP_S = 1.0
"""Looks closer together than this are smoothed into each other by the One Euro filter (time
constant 1.6 s) and would understate the noise, so they do not update the estimate."""


@dataclass(frozen=True, slots=True)
class RateConfig:
    """Analysis rate bounds and when to switch between them."""

    min_fps: float = 0.5
    max_fps: float = 2.5
    adaptive: bool = True
    settle_s: float = 10.0
    change_deg: float = 2.0
    """The narrowest band around the reference (degrees); noise can widen it."""
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
        if not (self.noise_band_k > 0):  # written so that NaN fails too
            raise ValueError(f"noise_band_k={self.noise_band_k} must be > 0")
        if not (self.max_change_deg >= self.change_deg):
            raise ValueError(
                f"max_change_deg={self.max_change_deg} must be at least "
                f"change_deg={self.change_deg}"
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
        self._last_value = math.nan
        self._last_t_s = math.nan
        self._last_state: str | None = None

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
        last_value, last_t_s = self._last_value, self._last_t_s
        self._last_value, self._last_t_s = value, t_s
        if math.isnan(self._reference):
            self._reference = value
            return False
        residual = value - self._reference
        if abs(residual) <= self.band_deg:
            if not math.isnan(last_value) and t_s - last_t_s >= NOISE_MIN_GAP_S:
                step = min(abs(value - last_value), c.max_change_deg)
                self._noise_var += c.noise_weight * (step * step / 2.0 - self._noise_var)
            self._outside_since_s, self._outside_looks = math.nan, 0
            self._reference += c.reference_weight * residual
            return False
        sign = math.copysign(1.0, residual)
        if math.isnan(self._outside_since_s) or sign != self._outside_sign:
            self._outside_since_s, self._outside_sign, self._outside_looks = t_s, sign, 0
        self._outside_looks += 1
        if t_s - self._outside_since_s < c.confirm_s or self._outside_looks < c.confirm_looks:
            return False
        self._reference, self._outside_since_s = value, math.nan  # follow the new posture
        self._outside_looks = 0
        return True

    def after(self, verdict: Verdict, metrics: Mapping[str, float]) -> float:
        """Return the interval until the next look (what the monitor and `posture analyze` call).

        `verdict` is the judge's on the last look, `metrics` that look's smoothed metrics.
        """
        return self.next_interval_s(
            verdict.t_s,
            state=verdict.state,
            busy=bool(verdict.deciding_faults),
            key_metric=key_metric(metrics),
        )

    def next_interval_s(
        self, t_s: float, *, state: str, busy: bool, key_metric: float = math.nan
    ) -> float:
        """Return the interval after a look in `state`.

        `busy`: a window of the judge's is deciding a fault (max_fps for this look only; the
        window's own length is the hold). `key_metric`: see `key_metric()`.
        """
        c = self.config
        if not c.adaptive:
            return 1.0 / c.max_fps
        moved = self._moved(t_s, key_metric)
        changed = self._last_state is not None and state != self._last_state
        self._last_state = state
        if state == "away":
            self._busy_until_s = -math.inf  # nobody to follow: a return changes the state
            busy = False
        elif (moved and state != "slouching") or changed:
            self._busy_until_s = t_s + c.settle_s
        fps = c.max_fps if busy or t_s < self._busy_until_s else c.min_fps
        return 1.0 / fps

    def kick(self, t_s: float) -> None:
        """Sample fast for a while (after a resume, or the camera coming back).

        The noise estimate is kept: it belongs to the camera and the sitter, not to the gap.
        """
        self._busy_until_s = t_s + self.config.settle_s
        self._reference = math.nan
        self._outside_since_s = math.nan
        self._last_value = math.nan


def key_metric(metrics: Mapping[str, float]) -> float:
    """Return the metric whose movement counts as a change of posture.

    The CVA estimate in side views, else the neck angle (frontal views); NaN when neither is valid.
    """
    v = metrics.get("cva_deg", math.nan)
    return v if not math.isnan(v) else metrics.get("neck_angle_deg", math.nan)
