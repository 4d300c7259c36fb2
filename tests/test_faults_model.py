"""Model faults on the monitor's start path: a damaged model is refused before anything opens.

(`posture models verify/fetch` on a damaged cache, and `resolve()` itself, are covered in
tests/test_cli_models.py and tests/test_models.py.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from posture.adapters import models
from posture.cli import main


def _damaged(src: Path, dest: Path, damage: str) -> Path:
    data = bytearray(src.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) // 3]
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_monitor_refuses_a_damaged_explicit_model_before_opening_the_camera(
    model_path: Path, tmp_path: Path, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pose.task"
    if damage != "missing":
        _damaged(model_path, target, damage)
    t0 = time.monotonic()
    # camera 7 does not exist: were the camera opened first, this would sit in its backoff
    code = main(
        [
            "monitor",
            "--source",
            "7",
            "--model",
            str(target),
            "--db",
            str(tmp_path / "h.sqlite3"),
            "--no-notify",
            "--no-control",
            "--max-seconds",
            "30",
        ]
    )
    err = capfd.readouterr().err
    assert code == 1
    assert time.monotonic() - t0 < 10
    assert str(target) in err
    assert {"flip": "corrupt", "truncate": "truncated or corrupt", "missing": "does not exist"}[
        damage
    ] in err
    assert "cannot open camera" not in err, "the model is checked before any camera is touched"
    assert not (tmp_path / "h.sqlite3").exists(), "nor is a history session started"


def test_monitor_start_reprovisions_a_corrupt_cached_model(
    model_path: Path,
    provisioned_model: models.ResolvedModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    cached = _damaged(model_path, cache / model_path.name, "flip")
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(cache))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    still = tmp_path / "still.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(still), np.random.default_rng(0).integers(0, 255, (120, 120, 3), np.uint8))
    code = main(
        [
            "monitor",
            "--source",
            str(still),
            "--db",
            str(tmp_path / "h.sqlite3"),
            "--no-notify",
            "--no-control",
            "--fast",
        ]
    )
    err = capfd.readouterr().err
    assert code == 0, err
    assert models.sha256_file(cached) == provisioned_model.sha256, "rebuilt, verified, in place"
    assert "monitored" in err
