"""The MediaPipe pose adapter on real photos, generated clips and bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from posture.adapters.pose import MediaPipePose, to_rgb
from posture.core.errors import FrameError
from posture.core.landmarks import Landmark as L


def test_astronaut_front_view_upright(image_pose: MediaPipePose) -> None:
    f = image_pose.detect(skimage.data.astronaut(), color="rgb")
    assert f.person
    assert f.image_xyz.shape == (33, 3) and f.world_xyz.shape == (33, 3)
    assert f.visibility.shape == (33,) and f.presence.shape == (33,)
    assert f.image_size == (512, 512)
    y = f.image_xyz[:, 1]
    x = f.image_xyz[:, 0]
    assert max(y[L.LEFT_EAR], y[L.RIGHT_EAR]) < min(y[L.LEFT_SHOULDER], y[L.RIGHT_SHOULDER])
    lo, hi = sorted((x[L.LEFT_SHOULDER], x[L.RIGHT_SHOULDER]))
    assert lo < x[L.NOSE] < hi


def test_camera_photo_grayscale_finds_person(image_pose: MediaPipePose) -> None:
    gray = skimage.data.camera()
    assert gray.ndim == 2
    assert image_pose.detect(gray).person


def test_colour_order_matters_and_is_honoured(image_pose: MediaPipePose) -> None:
    rgb = skimage.data.astronaut()
    a = image_pose.detect(rgb, color="rgb")
    b = image_pose.detect(np.ascontiguousarray(rgb[:, :, ::-1]), color="bgr")
    np.testing.assert_allclose(a.image_xyz[:13, :2], b.image_xyz[:13, :2], atol=1e-6)
    np.testing.assert_array_equal(to_rgb(rgb[:, :, ::-1].copy(), "bgr"), rgb)


def test_no_person_in_blank_frame(image_pose: MediaPipePose) -> None:
    f = image_pose.detect(np.full((480, 640, 3), 128, np.uint8))
    assert not f.person and f.image_xyz is None and f.image_size == (640, 480)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.zeros((1, 1, 3), np.uint8), "at least"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 2), np.uint8), "not an image"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_malformed_frames_are_refused(image_pose: MediaPipePose, frame: object, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        image_pose.detect(frame)  # type: ignore[arg-type]


def test_huge_frame_is_handled(image_pose: MediaPipePose) -> None:
    big = np.zeros((8000, 8000, 3), np.uint8)
    f = image_pose.detect(big)
    assert not f.person and f.image_size == (8000, 8000)


def test_video_mode_tracks_moving_clip(model_path: Path) -> None:
    from posture.testing import moving_photo_clip

    frames = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=60)
    with MediaPipePose(model_path, mode="video") as pose:
        found = [pose.detect(img, t_s=i / 15).person for i, img in enumerate(frames)]
        # timestamps that repeat or go back must not crash VIDEO mode
        assert pose.detect(frames[0], t_s=0.0).person
        assert pose.detect(frames[1], t_s=-5.0).person
    assert all(found)


def test_model_load_prints_nothing(model_path: Path) -> None:
    code = (
        "import skimage.data\n"
        "from posture.adapters import native_logs\n"
        "from posture.adapters.pose import MediaPipePose\n"
        "native_logs.set_verbose(False)\n"
        f"p = MediaPipePose({str(model_path)!r}, mode='video')\n"
        "img = skimage.data.astronaut()\n"
        "for i in range(3): p.detect(img, t_s=i*0.1, color='rgb')\n"
        "p.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
