"""Frame -> observation: image checks, pose, metrics, smoothing. Shared by every driver.

`FrameAnalyzer` turns one decoded frame into an `Analysis` (the PoseFrame, raw and smoothed
metrics, the view, an image issue) and the judge's `Observation`. The monitor, `posture analyze`
and `posture calibrate` all use it, so the same frames give the same numbers everywhere.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from posture.adapters.pose import PoseBackend
from posture.core import geometry, quality
from posture.core.filters import OneEuroParams, OneEuroState, one_euro_step
from posture.core.landmarks import EARS_AND_SHOULDERS, PoseFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything one frame told us."""

    t_s: float
    pose: PoseFrame
    person: bool
    view: str
    view_confidence: float
    raw: dict[str, float]
    """Unsmoothed metrics, NaN when invalid."""
    metrics: dict[str, float]
    """Smoothed metrics (streams) or raw (photos), NaN when invalid."""
    image_issue: str
    mean_luma: float
    in_frame: bool
    """Ears and shoulders inside the image: what calibration's framing gate needs."""

    def metrics_json(self) -> dict[str, float | None]:
        """Metrics with None for invalid, rounded for JSON."""
        return {k: (None if math.isnan(v) else round(v, 4)) for k, v in self.metrics.items()}


@dataclass
class FrameAnalyzer:
    """Stateful per-stream analysis (smoothing and freeze detection carry over between frames)."""

    pose: PoseBackend
    smooth: bool = True
    detect_freeze: bool = False
    filter_params: OneEuroParams = field(default_factory=OneEuroParams)
    _state: OneEuroState = field(init=False)
    _freeze: quality.FreezeDetector = field(init=False, default_factory=quality.FreezeDetector)

    def __post_init__(self) -> None:
        self._state = OneEuroState.initial(len(geometry.METRIC_KEYS))

    def reset(self) -> None:
        """Forget smoothing and freeze history (after a gap: camera reopened, resumed)."""
        self._state = OneEuroState.initial(len(geometry.METRIC_KEYS))
        self._freeze.reset()

    def analyze(self, image: np.ndarray, t_s: float) -> Analysis:
        """Analyse one frame, BGR (or gray) uint8; FrameError for a malformed one."""
        h, w = quality.check_frame(image)
        stats = quality.image_stats(image)
        frozen = self.detect_freeze and self._freeze.update(t_s, stats.thumb)
        issue = quality.image_issue(stats, frozen)
        if issue:
            # "can't see you": no pose run at all, never a slouch
            return self._empty(t_s, PoseFrame.empty(t_s, (w, h)), issue, stats.mean_luma)
        frame = self.pose.detect(image, t_s)
        return self.from_pose(frame, issue="", mean_luma=stats.mean_luma)

    def from_pose(
        self, frame: PoseFrame, *, issue: str = "", mean_luma: float = math.nan
    ) -> Analysis:
        """Metrics and smoothing for an already detected PoseFrame (replays use this directly)."""
        if frame.image_xyz is None:  # no person
            return self._empty(frame.t_s, frame, issue, mean_luma)
        m = geometry.frame_metrics(frame)
        x = m.table[:, 0]
        raw = dict(zip(geometry.METRIC_KEYS, x.tolist(), strict=True))
        smoothed = self._smooth(frame.t_s, x, raw) if self.smooth else dict(raw)
        xy = frame.image_xyz[EARS_AND_SHOULDERS, :2]
        in_frame = bool(((xy >= 0.0) & (xy <= 1.0)).all())
        return Analysis(
            t_s=frame.t_s,
            pose=frame,
            person=True,
            view=str(m.view[0]),
            view_confidence=float(m.view_confidence[0]),
            raw=raw,
            metrics=smoothed,
            image_issue=issue,
            mean_luma=mean_luma,
            in_frame=in_frame,
        )

    def _smooth(self, t_s: float, x: np.ndarray, raw: dict[str, float]) -> dict[str, float]:
        last = self._state.last_t_s
        if not math.isnan(last) and t_s <= last:
            return dict(raw)  # a source that repeats or steps back in time: pass through
        out, self._state = one_euro_step(self._state, x, t_s, self.filter_params)
        return dict(zip(geometry.METRIC_KEYS, out.tolist(), strict=True))

    def _empty(self, t_s: float, frame: PoseFrame, issue: str, mean_luma: float) -> Analysis:
        nan = {k: math.nan for k in geometry.METRIC_KEYS}
        return Analysis(
            t_s=t_s,
            pose=frame,
            person=False,
            view="none",
            view_confidence=0.0,
            raw=nan,
            metrics=dict(nan),
            image_issue=issue,
            mean_luma=mean_luma,
            in_frame=False,
        )
