"""`posture calibrate` end to end: real model, generated clips, quality gates, saved profiles."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from clips import have_photos, head_forward, upright_photo

from posture.cli import main
from posture.testing import moving_photo_clip, sitting_side_dir

SITTING = sitting_side_dir()


def write_clip(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


@pytest.fixture(scope="module")
def upright_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=40, size=(480, 360))
    return write_clip(frames, tmp_path_factory.mktemp("clips") / "upright.avi")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_calibrate_saves_private_profile_and_lists_it(
    upright_clip: Path, model_path: Path, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    code, _, err = run(
        capsys,
        "calibrate",
        "--source",
        str(upright_clip),
        "--profile",
        "desk",
        "--seconds",
        "3",
        "--model",
        str(model_path),
        "--no-glance",
    )
    assert code == 0, err
    assert "Saved profile 'desk'" in err
    path = isolated_home / ".local/share/posture/profiles/desk.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["view"] in ("front", "three_quarter")
    assert data["model"]["sha256"] and data["metric_version"] >= 1
    assert {"face_scale", "head_drop"} <= set(data["baseline"])
    code, out, _ = run(capsys, "calibrate", "--list", "--json")
    assert [p["name"] for p in json.loads(out)["profiles"]] == ["desk"]
    # the monitor's decisions on the same clip with that profile: upright, so good
    code, out, _ = run(
        capsys,
        "analyze",
        str(upright_clip),
        "--profile",
        "desk",
        "--json",
        "--model",
        str(model_path),
        "--no-store",
    )
    doc = json.loads(out)
    assert doc["summary"]["calibrated"] is True
    assert doc["summary"]["share"]["slouching"] == 0.0
    # the population norms stay reachable by name (someone else's clip), although desk exists
    code, out, _ = run(
        capsys,
        "analyze",
        str(upright_clip),
        "--profile",
        "default",
        "--json",
        "--no-store",
        "--model",
        str(model_path),
    )
    assert code == 0 and json.loads(out)["summary"]["calibrated"] is False
    code, out, _ = run(capsys, "calibrate", "--delete", "desk")
    assert code == 0 and not path.exists()


def test_dark_clip_is_refused_with_a_fix(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = [
        (f.astype(np.float32) * 0.04).astype(np.uint8)
        for f in moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=30, size=(320, 240))
    ]
    clip = write_clip(frames, tmp_path / "dark.avi")
    code, _, err = run(
        capsys,
        "calibrate",
        "--source",
        str(clip),
        "--seconds",
        "3",
        "--model",
        str(model_path),
        "--no-glance",
    )
    assert code == 1
    assert "dark" in err and "Fix:" in err
    assert not (Path.home() / ".local/share/posture/profiles/desk.json").exists()


def test_empty_source_says_no_person(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    frames = [
        np.clip(rng.normal(128, 30, (240, 320, 3)), 0, 255).astype(np.uint8) for _ in range(30)
    ]
    clip = write_clip(frames, tmp_path / "empty.avi")
    code, _, err = run(
        capsys,
        "calibrate",
        "--source",
        str(clip),
        "--seconds",
        "3",
        "--model",
        str(model_path),
        "--no-glance",
    )
    assert code == 1
    assert "no person" in err.lower() and "Fix:" in err


@pytest.mark.skipif(not SITTING.is_dir(), reason="sitting-side photos not found")
def test_moving_person_is_refused(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(csv.DictReader(open(SITTING / "labels.csv")))
    good = next(r["file"] for r in rows if r["label"] == "good" and r["session"] == "20241012")
    bad = next(r["file"] for r in rows if r["label"] == "bad" and r["session"] == "20241012")
    a, b = (cv2.imread(str(SITTING / f)) for f in (good, bad))
    frames = [a if (i // 3) % 2 else b for i in range(40)]  # sitting up and slumping, over and over
    clip = write_clip(frames, tmp_path / "moving.avi")
    code, _, err = run(
        capsys,
        "calibrate",
        "--source",
        str(clip),
        "--seconds",
        "3.5",
        "--model",
        str(model_path),
        "--no-glance",
    )
    assert code == 1
    assert "too much movement" in err and "Fix:" in err
    assert "for the whole 3.5 s" in err  # the duration sampled, not the default 10 s


def test_bad_profile_names_and_unknown_delete(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "calibrate", "--delete", "nope")
    assert code == 1 and "no profile named 'nope'" in err
    code, _, err = run(capsys, "calibrate", "--profile", "../evil", "--source", "/nonexistent.avi")
    assert code == 1 and "invalid profile name" in err


def _calibrate_with_glances(
    capsys: pytest.CaptureFixture[str], clip: Path, model_path: Path
) -> tuple[int, str, str]:
    """`posture calibrate` on a clip: 4 s neutral, then 4 s of glances, into profile 'side'."""
    return run(
        capsys,
        "calibrate",
        *("--source", str(clip), "--seconds", "4", "--glance", "--glance-seconds", "4"),
        *("--model", str(model_path), "--profile", "side"),
    )


@pytest.mark.skipif(not SITTING.is_dir(), reason="sitting-side photos not found")
def test_glance_step_from_a_file_learns_the_range(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    rows = list(csv.DictReader(open(SITTING / "labels.csv")))
    good = next(r["file"] for r in rows if r["label"] == "good" and r["session"] == "20241012")
    bad = next(r["file"] for r in rows if r["label"] == "bad" and r["session"] == "20241012")
    a, b = (cv2.imread(str(SITTING / f)) for f in (good, bad))
    neutral = moving_photo_clip(a, n=40, size=(480, 480), seed=3)
    glances = [b if (i // 5) % 2 else a for i in range(40)]  # glance down and back, twice a second
    clip = write_clip(
        neutral + [cv2.resize(g, (480, 480)) for g in glances], tmp_path / "glance.avi"
    )
    code, _, err = _calibrate_with_glances(capsys, clip, model_path)
    assert code == 0, err
    data = json.loads((isolated_home / ".local/share/posture/profiles/side.json").read_text())
    assert data["view"].startswith("side")
    assert data["glance"].get("cva_deg", 0) > 5.0, data["glance"]


def test_calibrating_on_lite_tells_the_monitor_command_with_lite(
    upright_clip: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A profile is tied to its model, so the advice after calibrating names the model too."""
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(provisioned_lite.path.parent))
    argv = ["calibrate", "--source", str(upright_clip), "--seconds", "3", "--no-glance"]
    code, _, err = run(capsys, *argv, "--profile", "lap", "--model", "lite")
    assert code == 0, err
    assert "Run `posture monitor --profile lap --model lite`" in err
    assert 'monitor.model = "lite"' in err
    data = json.loads((isolated_home / ".local/share/posture/profiles/lap.json").read_text())
    assert data["model"] == {"name": "pose_landmarker_lite", "sha256": provisioned_lite.sha256}
    # chosen in the config instead, the monitor picks it up on its own: no --model in the advice
    config = isolated_home / "config.toml"
    config.write_text('[monitor]\nmodel = "lite"\n', encoding="utf-8")
    code, _, err = run(capsys, *argv, "--profile", "lap2", "--config", str(config))
    assert code == 0, err
    assert "Run `posture monitor --profile lap2` (or" in err
    data = json.loads((isolated_home / ".local/share/posture/profiles/lap2.json").read_text())
    assert data["model"]["name"] == "pose_landmarker_lite"
    # a file given by a relative path is advised as an absolute one (autostart runs elsewhere)
    monkeypatch.chdir(provisioned_lite.path.parent)
    code, _, err = run(
        capsys, *argv, "--profile", "lap3", "--model", f"./{provisioned_lite.path.name}"
    )
    assert code == 0, err
    assert f"--model {provisioned_lite.path}`" in err
    assert f'monitor.model = "{provisioned_lite.path}"' in err


def photo_folder(folder: Path, n: int, *, forward: bool = False) -> Path:
    """`n` photos of one upright (or head-forward) sitter, moving a little from photo to photo."""
    folder.mkdir()
    photo = upright_photo(480)
    image = head_forward(photo) if forward else photo.image
    for i, f in enumerate(moving_photo_clip(image, n=n, size=(480, 480))):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), f)
    return folder


@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_a_folder_of_photos_calibrates_with_the_defaults(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    # images were spaced 1 s apart, so the default 10 s took 10 of them, fewer than the 15 a
    # baseline needs, and the message blamed the sitter ("only 10 valid frames of 10")
    folder = photo_folder(tmp_path / "photos", 24)
    argv = ["calibrate", "--source", str(folder), "--model", str(model_path), "--no-glance"]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "Baseline learned from 24 of 24 frames" in err
    data = json.loads((isolated_home / ".local/share/posture/profiles/desk.json").read_text())
    assert data["view"].startswith("side")
    assert "already past the population" not in err  # upright: nothing to warn about


@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_calibrating_in_a_slouch_is_kept_but_pointed_out(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    # a sitter who calibrates in their habitual forward head is never nudged for it: saved
    # without a word before
    folder = photo_folder(tmp_path / "photos", 24, forward=True)
    argv = ["calibrate", "--source", str(folder), "--model", str(model_path), "--no-glance"]
    code, _, err = run(capsys, *argv)
    assert code == 0, err  # their own baseline still rules: a physio may want it so
    data = json.loads((isolated_home / ".local/share/posture/profiles/desk.json").read_text())
    neutral = data["baseline"]["cva_deg"]["median"]
    assert neutral < 51.0
    assert f"Note: this neutral cva_deg of {neutral:.1f} is already past the population " in err
    assert "forward-head limit (51)" in err and "`posture calibrate --profile desk`" in err


@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_too_few_photos_says_so_not_that_they_were_invalid(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = photo_folder(tmp_path / "few", 8)
    argv = ["calibrate", "--source", str(folder), "--model", str(model_path), "--no-glance"]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "only 8 frames in all (all valid)" in err and "more images" in err
    assert "sit still" not in err


@pytest.mark.skipif(not SITTING.is_dir(), reason="sitting-side photos not found")
@pytest.mark.parametrize("then", ["still", "nothing"])
def test_a_failed_glance_step_keeps_the_neutral_baseline(
    tmp_path: Path,
    model_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    then: str,
) -> None:
    # the glance step is optional: when it fails, the neutral baseline learned before it is
    # saved (it was thrown away, exit 1), and the output says what failed and how to retry
    rows = list(csv.DictReader(open(SITTING / "labels.csv")))
    good = next(r["file"] for r in rows if r["label"] == "good" and r["session"] == "20241012")
    photo = cv2.imread(str(SITTING / good))
    frames = moving_photo_clip(photo, n=40 if then == "nothing" else 80, size=(480, 480), seed=3)
    clip = write_clip(frames, tmp_path / f"{then}.avi")
    code, _, err = _calibrate_with_glances(capsys, clip, model_path)
    assert code == 0, err
    reason = "no glance was seen" if then == "still" else "ended during the neutral step"
    assert "Glance step failed" in err and reason in err, err
    assert "Saved profile 'side'" in err and "without a glance range" in err
    assert f"posture calibrate --profile side --source {clip}" in err  # how to retry
    assert "--glance" in err.split("Glance step failed", 1)[1]
    data = json.loads((isolated_home / ".local/share/posture/profiles/side.json").read_text())
    assert data["view"].startswith("side") and not data.get("glance")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--json"], "--json applies to --list only"),
        (["--seconds", "2"], "--seconds 2 is out of range; allowed: a number from 3 to 120"),
        (["--seconds", "300"], "--seconds 300 is out of range; allowed: a number from 3 to 120"),
        (
            ["--glance-seconds", "90"],
            "--glance-seconds 90 is out of range; allowed: a number from 3 to 60",
        ),
        (["--no-glance", "--glance-seconds", "4"], "--glance-seconds sets the glance step"),
        (["--profile", "default"], "'default' names the population norms"),
    ],
)
def test_options_that_would_be_ignored_or_disagree_with_the_settings_are_refused(
    upright_clip: Path,
    model_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    argv: list[str],
    message: str,
) -> None:
    # --json without --list ran a calibration; --glance-seconds without --glance was ignored;
    # --seconds took 1-300 where the settings' duration_s takes 3-120
    base = ["calibrate", "--source", str(upright_clip), "--model", str(model_path)]
    code, _, err = run(capsys, *base, *argv)
    assert code == 2, err
    assert message in err
    assert not (isolated_home / ".local/share/posture/profiles").exists()


def test_glance_seconds_asks_for_the_glance_step_and_a_short_source_is_said(
    upright_clip: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the 40-frame clip at 10 fps holds 4 s: asked for 30, the output said "Sampling for 30 s"
    # and nothing more
    argv = ["calibrate", "--source", str(upright_clip), "--model", str(model_path)]
    code, _, err = run(capsys, *argv, "--seconds", "30", "--glance-seconds", "4")
    assert "The source ended after 4.0 s of the 30 s asked." in err
    assert "glance step" in err.lower()  # asked for by --glance-seconds (it fails: no time left)
    assert code == 0, err
