"""`posture doctor` in a temporary home: all good (with a real test notification), then every
check failing at once, each with a fix, and exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import have_photos, slouch_frames, upright_photo, write_clip
from dunst_harness import DunstSession

from posture.cli import main

pytestmark = pytest.mark.model


def _calibrate_upright(tmp_path: Path, profile: str, model: Path, *extra: str) -> Path:
    """Calibrate `profile` on a generated upright clip with `model` (a real, passing run)."""
    clip = write_clip(
        slouch_frames(upright_photo(), [("upright", 6)], fps=5.0), tmp_path / "upright.avi", 5.0
    )
    argv = ["calibrate", "--source", str(clip), "--profile", profile, "--no-glance"]
    assert main([*argv, "--seconds", "5", "--model", str(model), *extra]) == 0
    return clip


def _doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, dict]]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["doctor", "--json", *argv])
    out = capsys.readouterr().out
    return code, {c["name"]: c for c in json.loads(out)}


@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_all_good_with_a_test_notification(
    model_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dunst: DunstSession,  # noqa: F811
) -> None:
    clip = _calibrate_upright(tmp_path, "desk", model_path, "--db", str(tmp_path / "h.sqlite3"))
    for key, value in dunst.env.items():
        monkeypatch.setenv(key, value)
    # notify-send, a subprocess: plyer's dbus-python connection is a per-process singleton that
    # would stay tied to this module's dunst and miss the one other test modules start
    config = tmp_path / "config.toml"
    config.write_text('[notify]\nbackends = ["notify-send"]\n', encoding="utf-8")
    mark = dunst.mark()
    code, checks = _doctor(
        capsys,
        "--source",
        str(clip),
        "--model",
        str(model_path),
        "--db",
        str(tmp_path / "h.sqlite3"),
        "--notify-test",
        "--config",
        str(config),
    )
    assert code == 0, checks
    assert {n: c["status"] for n, c in checks.items()} == {
        "config": "ok",
        "model": "ok",
        "camera": "ok",
        "notifications": "ok",
        "history": "ok",
        "profile": "ok",
        "monitor": "ok",
        "screen lock": "ok",
    }
    assert "320 x 320" in checks["camera"]["detail"]
    assert "verified" in checks["model"]["detail"]
    assert "runs without its segmentation head (286 of 332 operators)" in checks["model"]["detail"]
    assert "'desk' (side_right view)" in checks["profile"]["detail"]
    [seen] = dunst.notifications(since=mark)
    assert seen.summary == "posture doctor" and "nudges will reach you" in seen.body
    assert checks["notifications"]["detail"] == "test notification delivered via notify-send"
    # without --notify-test it only asks the bus whether a server is there
    code, checks = _doctor(
        capsys, "--no-camera", "--model", str(model_path), "--db", str(tmp_path / "h.sqlite3")
    )
    assert code == 0 and "server is running" in checks["notifications"]["detail"]
    assert "camera" not in checks


def test_every_failure_has_a_fix_and_exit_code_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
) -> None:
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(tmp_path / "empty-model-cache"))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    config = tmp_path / "config.toml"
    config.write_text("[judge]\npersistence_s = 1\n", encoding="utf-8")  # below the 5 s minimum
    profiles = isolated_home / ".local/share/posture/profiles"
    profiles.mkdir(parents=True)
    (profiles / "desk.json").write_text("{not json", encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, checks = _doctor(
        capsys,
        "--config",
        str(config),
        "--source",
        str(tmp_path / "nope.mp4"),
        "--db",
        str(blocker / "h.sqlite3"),
    )
    assert code == 1
    for name in ("config", "model", "camera", "notifications", "history", "profile"):
        assert checks[name]["status"] == "fail", (name, checks[name])
        assert checks[name]["fix"], name
    assert "persistence_s" in checks["config"]["detail"]
    assert "posture models fetch" in checks["model"]["fix"]
    assert "nope.mp4" in checks["camera"]["detail"]
    assert "org.freedesktop.Notifications" in checks["notifications"]["detail"]
    assert "posture calibrate --profile desk" in checks["profile"]["fix"]
    assert checks["monitor"]["status"] == "ok"

    # the table says the same, with the fixes
    capsys.readouterr()
    assert (
        main(
            [
                "doctor",
                "--config",
                str(config),
                "--source",
                str(tmp_path / "nope.mp4"),
                "--db",
                str(blocker / "h.sqlite3"),
            ]
        )
        == 1
    )
    table = capsys.readouterr().out
    assert "posture doctor" in table and table.count("FAIL") == 6
    assert "posture models fetch" in table and "6 problems:" in table


def test_a_dark_camera_is_a_warning_not_a_failure(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.full((120, 160, 3), 5, np.uint8))
    code, checks = _doctor(
        capsys,
        "--source",
        str(folder),
        "--model",
        str(model_path),
        "--db",
        str(tmp_path / "h.sqlite3"),
    )
    assert checks["camera"]["status"] == "warn"
    assert "dark" in checks["camera"]["detail"] and "shutter" in checks["camera"]["fix"]
    assert checks["profile"]["status"] == "warn"  # not calibrated: works, with population norms
    assert code == (1 if checks["notifications"]["status"] == "fail" else 0)


def test_model_by_name_checks_that_model(
    tmp_path: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(tmp_path / "empty"))
    args = ("--no-camera", "--db", str(tmp_path / "h.sqlite3"), "--model", "lite")
    _, checks = _doctor(capsys, *args)
    assert checks["model"]["status"] == "fail"
    assert "no verified pose_landmarker_lite model" in checks["model"]["detail"]
    assert "posture models fetch lite" in checks["model"]["fix"]
    # heavy has neither a pinned download nor an offline recipe: the fix is to place it by hand
    _, checks = _doctor(capsys, *args[:-1], "heavy")
    assert checks["model"]["status"] == "fail"
    assert "models fetch" not in checks["model"]["fix"]
    assert "Place it by hand" in checks["model"]["fix"]
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(provisioned_lite.path.parent))
    _, checks = _doctor(capsys, *args)
    assert checks["model"]["status"] == "ok"
    assert "pose_landmarker_lite_offline.task verified" in checks["model"]["detail"]
    # the same from the config; a bad configured file is fixed in the config, not by fetching
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\nmodel = " lite "\n', encoding="utf-8")
    _, checks = _doctor(capsys, *args[:-2], "--config", str(config))
    assert "pose_landmarker_lite_offline.task verified" in checks["model"]["detail"]
    config.write_text(f'[monitor]\nmodel = "{tmp_path / "gone.task"}"\n', encoding="utf-8")
    _, checks = _doctor(capsys, *args[:-2], "--config", str(config))
    assert "gone.task does not exist (given with monitor.model" in checks["model"]["detail"]
    assert checks["model"]["fix"].startswith(f"correct monitor.model at {config}:2,")


def test_profile_from_another_model_gets_the_model_fix(
    tmp_path: Path,
    model_path: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
    isolated_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A profile calibrated on full, checked with --model lite: the fix is not plain recalibrate."""
    _calibrate_upright(tmp_path, "p1", model_path)
    _, checks = _doctor(
        capsys,
        "--no-camera",
        "--db",
        str(tmp_path / "h.sqlite3"),
        "--profile",
        "p1",
        "--model",
        str(provisioned_lite.path),
    )
    assert checks["profile"]["status"] == "fail"
    assert "was made with pose model pose_landmarker_full" in checks["profile"]["detail"]
    assert checks["profile"]["fix"].startswith("recalibrate with the model you use now")
    assert "--model pose_landmarker_full" in checks["profile"]["fix"]


def test_console_only_notifications_need_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # a user who chose backends = ["console"] was told "no notification server" (FAIL)
    from posture.adapters.settings import parse_settings
    from posture.commands.doctor import _check_notifier

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    settings, _ = parse_settings('[notify]\nbackends = ["console"]\n', "c.toml")
    check = _check_notifier(settings, send=False)
    assert (check.status, check.detail) == (
        "ok",
        "console only (notify.backends): nudges print here",
    )
    default = _check_notifier(parse_settings("", "c.toml")[0], send=False)
    assert default.status == "fail" and "org.freedesktop.Notifications" in default.detail
    # a desktop backend this OS lacks leaves the console, but the user asked for a desktop one
    mac_only, _ = parse_settings('[notify]\nbackends = ["osascript"]\n', "c.toml")
    assert _check_notifier(mac_only, send=False).status == "fail"


def test_a_missing_settings_file_gets_a_fix_that_can_be_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the fix said "edit FILE ... or delete it" for a file that does not exist
    from posture.commands.doctor import _check_config

    missing = tmp_path / "typo.toml"
    _, check = _check_config(missing)
    assert check.status == "fail" and "no such settings file" in check.detail
    assert (
        check.fix == f"check the path, or create it with `posture config init --config {missing}`"
    )
