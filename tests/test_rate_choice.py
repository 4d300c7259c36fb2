"""The default `max_fps` decides a borderline slouch as 5 fps does, with far fewer looks.

The whole pipeline (real model, analyser, judge, adaptive rate) on a clip of a real side photo
whose forward head sits 1.6 deg past the default threshold: the case where looking less often
would first cost judgement. This seed's movement is one where 1.5 fps started the episode 24 s
late (scripts/study_rate.py, docs/PERFORMANCE.md session 9).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from clips import have_photos

from posture.core.rate import RateConfig

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found"),
]

REPO = Path(__file__).resolve().parents[1]


def _load_study() -> ModuleType:
    spec = importlib.util.spec_from_file_location("study_rate", REPO / "scripts" / "study_rate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_the_default_rate_judges_a_borderline_slouch_as_5_fps_does(
    model_path: Path, tmp_path: Path
) -> None:
    study = _load_study()
    clip = study.make_clip(study.SCENARIOS["subtle"], tmp_path / "subtle.avi", 1, study.pictures())
    fast = study.judge_clip(clip, 5.0, model_path)
    default = study.judge_clip(clip, RateConfig().max_fps, model_path)

    # the head goes forward at 60 s and back at 180 s: one episode, nudged, recovered
    for outcome in (fast, default):
        kinds = [k for k, _ in outcome.events]
        assert kinds == ["started", "nudge", "recovered"], outcome.events
        assert 88.0 <= outcome.times("started")[0] <= 97.0  # 30 s persistence, one idle look
    for kind in ("started", "nudge", "recovered"):
        assert default.times(kind)[0] == pytest.approx(fast.times(kind)[0], abs=2.5), kind
    assert default.slouching_s == pytest.approx(fast.slouching_s, abs=3.0)
    assert default.looks <= 0.7 * fast.looks
