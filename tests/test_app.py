"""The composition helpers: the uncalibrated judge picks and keeps the right population norms."""

from __future__ import annotations

import math
from pathlib import Path

from posture.adapters.settings import load_settings
from posture.app import LazyJudge, ProfileChoice
from posture.core.geometry import METRIC_KEYS
from posture.core.judge import Observation


def _obs(t: float, view: str, **metrics: float) -> Observation:
    values = {k: math.nan for k in METRIC_KEYS}
    values.update(metrics)
    return Observation(t_s=t, person=True, view=view, metrics=values)


def test_uncalibrated_front_default_accepts_three_quarter_frames() -> None:
    cfg = load_settings(Path("/nonexistent.toml")).settings.judge
    judge = LazyJudge(cfg, ProfileChoice(None, "default", False), None)
    upright = {"head_roll_deg": 0.5, "shoulder_tilt_deg": 0.5, "neck_flexion_deg": 15.0}
    v, _ = judge.feed(_obs(0.0, "front", **upright))
    assert judge.profile.family == "front" and v.state == "good"
    for i in range(1, 20):
        v, _ = judge.feed(_obs(i * 0.5, "three_quarter", **upright))
        assert v.state == "good", v.reason


def test_uncalibrated_side_default_is_chosen_from_the_first_person() -> None:
    cfg = load_settings(Path("/nonexistent.toml")).settings.judge
    judge = LazyJudge(cfg, ProfileChoice(None, "default", False), None)
    v, _ = judge.feed(_obs(0.0, "side_left", cva_deg=40.0, neck_flexion_deg=20.0))
    assert judge.profile.family == "side"
    assert "forward_head" in v.instant_faults  # 40 deg is below the 51 deg population limit
