"""The composition helpers: the uncalibrated judge picks and keeps the right population norms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from clips import write_clip

from posture.app import (
    UNCALIBRATED_NOTICE,
    LazyJudge,
    ProfileChoice,
    calibrated_only_note,
    uncalibrated_notice,
)
from posture.core.config import Settings
from posture.core.geometry import METRIC_KEYS
from posture.core.judge import Observation


def _obs(t: float, view: str, **metrics: float) -> Observation:
    values = {k: math.nan for k in METRIC_KEYS}
    values.update(metrics)
    return Observation(t_s=t, person=True, view=view, metrics=values)


def test_uncalibrated_front_default_accepts_three_quarter_frames() -> None:
    cfg = Settings().judge
    judge = LazyJudge(cfg, ProfileChoice(None, "default", False), None)
    upright = {"head_roll_deg": 0.5, "shoulder_tilt_deg": 0.5, "neck_flexion_deg": 15.0}
    v, _ = judge.feed(_obs(0.0, "front", **upright))
    assert judge.profile.family == "front" and v.state == "good"
    for i in range(1, 20):
        v, _ = judge.feed(_obs(i * 0.5, "three_quarter", **upright))
        assert v.state == "good", v.reason


def test_uncalibrated_side_default_is_chosen_from_the_first_person() -> None:
    cfg = Settings().judge
    judge = LazyJudge(cfg, ProfileChoice(None, "default", False), None)
    v, _ = judge.feed(_obs(0.0, "side_left", cva_deg=40.0, neck_flexion_deg=20.0))
    assert judge.profile.family == "side"
    assert "forward_head" in v.instant_faults  # 40 deg is below the 51 deg population limit


class _FullDisk:
    """A history whose writes all fail, as on a full disk (implements what the session calls)."""

    session_id = 1

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def fail(*a: object, **k: object) -> None:
            from posture.core.errors import StoreError

            raise StoreError("database or disk is full")

        return fail


def test_a_failing_history_never_costs_the_alert(caplog) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from posture.core.config import JudgeConfig
    from posture.core.landmarks import PoseFrame
    from posture.pipeline import Analysis
    from posture.session import PostureSession
    from posture.testing import RecordingNotifier

    cfg = JudgeConfig(persistence_s=5, cooldown_s=0)
    notifier = RecordingNotifier()
    session = PostureSession(
        judge=LazyJudge(cfg, ProfileChoice(None, "default", False), None),  # type: ignore[arg-type]
        store=_FullDisk(),  # type: ignore[arg-type]
        notifier=notifier,
    )
    session.anchor(0.0, datetime(2026, 11, 24, tzinfo=UTC))
    forward = {k: math.nan for k in METRIC_KEYS} | {"cva_deg": 40.0, "neck_flexion_deg": 20.0}
    for i in range(40):
        t = i * 0.5
        a = Analysis(
            t_s=t,
            pose=PoseFrame.empty(t, (64, 64)),
            person=True,
            view="side_right",
            view_confidence=1.0,
            raw=forward,
            metrics=forward,
            image_issue="",
            mean_luma=120.0,
            in_frame=True,
        )
        session.step(a)
    assert notifier.sent, "the nudge went out although nothing could be stored"
    warnings = [r for r in caplog.records if "history not written" in r.getMessage()]
    assert len(warnings) == 1, "said once, not every frame"


def test_uncalibrated_notice_names_the_model_the_norms_were_fitted_on() -> None:
    assert uncalibrated_notice("pose_landmarker_full") == UNCALIBRATED_NOTICE
    lite = uncalibrated_notice("pose_landmarker_lite")
    assert lite.startswith(UNCALIBRATED_NOTICE)
    assert "fitted on pose_landmarker_full, not on pose_landmarker_lite: calibrate with it" in lite
    assert "(`posture calibrate --model lite`)" in lite
    # a file the manifest does not know: the command names a file
    assert "(`posture calibrate --model FILE`)" in uncalibrated_notice("my_model")


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "--source", "{clip}", "--no-notify"],
        ["calibrate", "--source", "{clip}"],
        ["analyze", "{clip}"],
        ["analyze", "{photo}"],
    ],
    ids=["monitor", "calibrate", "analyze-video", "analyze-photo"],
)
def test_a_bad_configured_model_names_its_file_and_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every driver points a bad `monitor.model` at the config line to fix, before any work."""
    import cv2

    from posture.cli import main

    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.zeros((48, 64, 3), np.uint8))
    clip = write_clip([np.zeros((48, 64, 3), np.uint8)] * 3, tmp_path / "c.avi", 10.0)
    config = tmp_path / "config.toml"
    config.write_text('# mine\n[monitor]\nprofile = "desk"\nmodel = "gone.task"\n', "utf-8")
    argv = [a.format(clip=clip, photo=photo) for a in command] + ["--config", str(config)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert f"gone.task does not exist (given with monitor.model at {config}:4;" in err
    assert "Traceback" not in err


def test_threshold_settings_an_uncalibrated_run_cannot_use_are_named() -> None:
    # the population norms judge the side view by absolute limits: a drop from "your baseline"
    # set in the file did nothing, without a word
    defaults = {"judge.forward_head_cva_drop_deg": "default", "judge.cooldown_s": "c.toml:3"}
    assert uncalibrated_notice("pose_landmarker_full", defaults) == UNCALIBRATED_NOTICE
    one = uncalibrated_notice(
        "pose_landmarker_full", {**defaults, "judge.forward_head_cva_drop_deg": "c.toml:2"}
    )
    assert one.startswith(UNCALIBRATED_NOTICE)
    assert "judge.forward_head_cva_drop_deg (c.toml:2) applies to a calibrated profile only" in one
    both = calibrated_only_note(
        {"judge.forward_head_cva_drop_deg": "c.toml:2", "judge.neck_flexion_rise_deg": "c.toml:4"}
    )
    assert "(c.toml:2) and judge.neck_flexion_rise_deg (c.toml:4) apply to" in both
    assert "population limits decide" in both and "posture calibrate" in both


def test_a_profile_saved_as_default_earlier_is_named_not_silently_skipped(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `default` now names the population norms; a profile saved under that name before was
    # skipped without a word
    from posture.adapters.profiles import ProfileStore, load_default_profile
    from posture.app import choose_profile

    store = ProfileStore()
    store.save(load_default_profile("side_right"), "default")
    with caplog.at_level("WARNING"):
        choice = choose_profile("default", Settings(), required=True)
    assert choice.profile is None and not choice.calibrated
    assert "a profile saved as 'default' is not used" in caplog.text
    assert f"mv {store.path('default')} {store.path('desk')}" in caplog.text
