"""The one composition root: source -> pose -> metrics -> judge -> notifier + store.

Drivers (`posture monitor`, `posture analyze`, `posture calibrate`) build their pipelines here so
that the same frames with the same profile and config give the same decisions everywhere.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from posture.adapters import models
from posture.adapters.pose import MediaPipePose
from posture.progress import stderr_progress

log = logging.getLogger(__name__)


def resolve_model(explicit: Path | None = None, name: str | None = None) -> models.ResolvedModel:
    """The verified model to load (provisioning it on first use, with a progress bar)."""
    return models.resolve(name, explicit=explicit, progress=stderr_progress())


def landmarks_json(frame: Any) -> list[list[float]] | None:
    """33 x [x, y, z, visibility] as MediaPipe normalises them; None without a person."""
    if not frame.person:
        return None
    arr = np.column_stack([frame.image_xyz, frame.visibility])
    return [[round(float(v), 5) for v in row] for row in arr]


class PhotoAnalyzer:
    """Independent photos: IMAGE mode, one model load for the whole batch."""

    def __init__(self, model: models.ResolvedModel) -> None:
        self.model = model
        self._pose = MediaPipePose(model.path, mode="image")

    def __enter__(self) -> PhotoAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pose.close()

    def analyze(self, image: np.ndarray) -> dict[str, Any]:
        """One photo's JSON record (`t`, `person`, `landmarks`)."""
        frame = self._pose.detect(image, 0.0)
        return {"t": 0.0, "person": frame.person, "landmarks": landmarks_json(frame)}
