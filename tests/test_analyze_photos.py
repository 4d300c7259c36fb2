"""`posture analyze PHOTO... --json`: real photos through the real model, stable JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import skimage.data

from posture.cli import main

METRIC_KEYS = {
    "cva_deg",
    "neck_angle_deg",
    "neck_flexion_deg",
    "head_drop",
    "face_scale",
    "nose_drop",
    "shoulder_protraction",
    "shoulder_angle_deg",
    "head_roll_deg",
    "shoulder_tilt_deg",
    "lean_in",
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(d / "a_astronaut.png"), skimage.data.astronaut()[:, :, ::-1])
    cv2.imwrite(str(d / "b_camera.jpg"), skimage.data.camera())
    cv2.imwrite(str(d / "c_empty.png"), (skimage.data.astronaut()[:40, :40] * 0 + 200))
    return d


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def test_folder_of_photos_json_shape(
    photos: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = _json(capsys, "analyze", str(photos), "--json", "--model", str(model_path))
    assert code == 0
    frames = doc["frames"]
    assert [Path(f["path"]).name for f in frames] == [
        "a_astronaut.png",
        "b_camera.jpg",
        "c_empty.png",
    ]
    astro, cam, empty = frames
    for f in (astro, cam):
        assert f["person"] is True and f["t"] == 0.0
        assert len(f["landmarks"]) == 33 and all(len(p) == 4 for p in f["landmarks"])
        assert set(f["metrics"]) == METRIC_KEYS
        assert f["state"] in ("good", "slouching", "unknown")
        assert isinstance(f["faults"], list)
    assert astro["view"] == "front"
    assert cam["view"] in ("side_left", "side_right", "three_quarter")
    # the man at the camcorder leans his head further forward than the upright astronaut
    assert cam["metrics"]["neck_flexion_deg"] > astro["metrics"]["neck_flexion_deg"] + 10
    assert astro["metrics"]["cva_deg"] is None  # the CVA estimate needs a side view
    assert empty["person"] is False and empty["landmarks"] is None and empty["state"] == "away"
    assert all(v is None for v in empty["metrics"].values())


def test_bad_inputs_are_reported_not_crashed(
    tmp_path: Path, photos: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _json(capsys, "analyze", str(tmp_path / "missing.png"), "--json")
    assert code == 1 and "missing.png does not exist" in err
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    code, doc, err = _json(
        capsys,
        "analyze",
        str(fake),
        str(photos / "a_astronaut.png"),
        "--json",
        "--model",
        str(model_path),
    )
    assert code == 0  # one good photo: the run succeeds and says what it skipped
    assert "notes.png is not an image" in err
    assert doc["frames"][0]["person"] is False and "error" in doc["frames"][0]
    assert doc["frames"][1]["person"] is True
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    code, _, err = _json(capsys, "analyze", str(empty_dir))
    assert code == 1 and "holds no images" in err


def test_huge_and_tiny_photos(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), skimage.data.astronaut()[:1, :1])
    code, doc, err = _json(capsys, "analyze", str(tiny), "--json", "--model", str(model_path))
    assert code == 1  # nothing analysable
    assert "tiny.png: frame is 1 x 1 px; at least 8 px per side is needed" in err
    assert doc["frames"][0]["error"]
    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), cv2.resize(skimage.data.astronaut()[:, :, ::-1], (8000, 8000)))
    code, doc, err = _json(capsys, "analyze", str(huge), "--json", "--model", str(model_path))
    assert code == 0 and doc["frames"][0]["person"] is True


def test_verbose_brings_native_logs_back(photos: Path, model_path: Path) -> None:
    base = [sys.executable, "-m", "posture"]
    args = ["analyze", str(photos / "a_astronaut.png"), "--json", "--model", str(model_path)]
    quiet = subprocess.run(base + args, capture_output=True, text=True, timeout=120)
    loud = subprocess.run(base + ["--verbose"] + args, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and loud.returncode == 0
    assert quiet.stderr == ""
    assert json.loads(quiet.stdout)["frames"][0]["person"] is True
    assert len(loud.stderr.splitlines()) > 5  # MediaPipe / LiteRT chatter is back


def test_model_by_name_lite(
    photos: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--model lite` finds the lite model in the cache; the astronaut is still a person."""
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(provisioned_lite.path.parent))
    code, doc, _ = _json(
        capsys, "analyze", str(photos / "a_astronaut.png"), "--json", "--model", "lite"
    )
    assert code == 0 and doc["model"] == "pose_landmarker_lite"
    (astro,) = doc["frames"]
    assert astro["person"] is True and len(astro["landmarks"]) == 33


def test_model_from_the_config(
    photos: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`monitor.model` picks the model for every command; `--model` overrides it; a bad value
    names the setting it came from."""
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(provisioned_lite.path.parent))
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\nmodel = "lite"\n', encoding="utf-8")
    photo = str(photos / "a_astronaut.png")
    code, doc, _ = _json(capsys, "analyze", photo, "--json", "--config", str(config))
    assert code == 0 and doc["model"] == "pose_landmarker_lite"
    code, doc, _ = _json(
        capsys, "analyze", photo, "--json", "--config", str(config), "--model", str(model_path)
    )
    assert code == 0 and doc["model"] == "pose_landmarker_full"
    config.write_text(f'[monitor]\nmodel = "{tmp_path / "nope.task"}"\n', encoding="utf-8")
    code, _, err = _json(capsys, "analyze", photo, "--json", "--config", str(config))
    assert code != 0
    # the error points at the line to fix
    assert f"nope.task does not exist (given with monitor.model at {config}:2;" in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--report", "html"],
        ["--report", "json", "--out", "r.json"],
        ["--db", "h.db"],
        ["--no-store"],
        ["--every-frame"],
    ],
)
def test_a_video_only_option_with_photos_is_a_usage_error(
    photos: Path,
    model_path: Path,
    tmp_path: Path,
    extra: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # photos are independent looks with no time between them: there is no session to report on,
    # and the run used to exit 0 without a report or a word
    # (and --db, --no-store and --every-frame were silently ignored: nothing is stored and every
    # photo is analysed)
    argv = ["analyze", str(photos), "--model", str(model_path), *extra]
    argv = [str(tmp_path / a) if a in ("r.json", "h.db") else a for a in argv]
    code, _, err = _json(capsys, *argv)
    assert code == 2
    assert f"{extra[0]} " in err and "to a video only" in err
    assert list(tmp_path.glob("*.*")) == [] and list(photos.glob("*.html")) == []


def test_an_uncalibrated_run_names_the_thresholds_it_cannot_use(
    photos: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[judge]\nforward_head_cva_drop_deg = 30\n", encoding="utf-8")
    photo = str(photos / "a_astronaut.png")
    argv = ["analyze", photo, "--json", "--model", str(model_path), "--config", str(config)]
    code, doc, err = _json(capsys, *argv)
    assert code == 0 and doc["calibrated"] is False
    assert f"judge.forward_head_cva_drop_deg ({config}:2) applies to a calibrated profile" in err


def test_the_text_output_says_what_the_photos_were_judged_against(
    photos: Path, model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # with a profile of your own the verdicts change a lot, and the text never said which
    photo = photos / "a_astronaut.png"
    assert main(["analyze", str(photo), "--model", str(model_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Judged against population norms (uncalibrated):"
    assert lines[1].startswith(f"{photo}: view ")
