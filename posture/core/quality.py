"""Is the camera showing anything usable? Dark, blank (uniform) and frozen frames, in pure numpy.

A closed privacy shutter gives black frames; a crashed driver repeats the last frame forever.
Neither may ever count as slouching: they make the judge's state `unknown` ("can't see you").
Statistics come from a coarse subsample of the frame (every 8th pixel), which costs microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DARK_MEAN_LUMA = 18.0
"""Mean luma (0-255) below which a frame is too dark to judge."""
BLANK_STD_LUMA = 4.0
"""Luma standard deviation below which a frame is uniform (shutter, lens cap, covered camera)."""
FROZEN_MAX_DIFF = 0.5
"""Mean absolute difference (0-255) of the subsample below which two frames count as identical.
Real sensors add a few levels of noise per pixel, so a live image never gets this low."""
FROZEN_AFTER_S = 5.0
"""Identical frames for this long mean the camera froze."""


@dataclass(frozen=True, slots=True)
class ImageStats:
    """Coarse statistics of one frame."""

    mean_luma: float
    std_luma: float
    thumb: np.ndarray
    """Subsampled luma, float32, for freeze detection."""


def image_stats(image: np.ndarray, step: int = 8) -> ImageStats:
    """Luma statistics of a BGR, RGB or gray uint8 frame (channel order barely matters here)."""
    sub = image[::step, ::step]
    luma = sub.mean(axis=2, dtype=np.float32) if sub.ndim == 3 else sub.astype(np.float32)
    return ImageStats(float(luma.mean()), float(luma.std()), luma)


@dataclass
class FreezeDetector:
    """Flags a stream whose frames stopped changing for `frozen_after_s` seconds."""

    frozen_after_s: float = FROZEN_AFTER_S
    max_diff: float = FROZEN_MAX_DIFF
    _last: np.ndarray | None = field(default=None, repr=False)
    _same_since_s: float | None = None

    def update(self, t_s: float, thumb: np.ndarray) -> bool:
        """Feed one frame's thumbnail; True while the stream is frozen."""
        last, self._last = self._last, thumb
        if last is None or last.shape != thumb.shape:
            self._same_since_s = None
            return False
        if float(np.abs(thumb - last).mean()) > self.max_diff:
            self._same_since_s = None
            return False
        if self._same_since_s is None:
            self._same_since_s = t_s
        return t_s - self._same_since_s >= self.frozen_after_s

    def reset(self) -> None:
        """Forget history (after the camera was reopened)."""
        self._last = None
        self._same_since_s = None


def image_issue(stats: ImageStats, frozen: bool) -> str:
    """`dark`, `blank`, `frozen` or "" for a usable frame; what the judge's Observation expects."""
    if stats.mean_luma < DARK_MEAN_LUMA:
        return "dark"
    if stats.std_luma < BLANK_STD_LUMA:
        return "blank"
    if frozen:
        return "frozen"
    return ""
