"""Frame sources: a video file read at a low look rate gives exactly the frames it asks for."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from posture.adapters.camera import SEEK_MIN_GAP_FRAMES, VideoFileSource, open_source
from posture.core.errors import SourceError
from posture.testing import moving_photo_clip


@pytest.fixture(scope="module", params=[("mp4v", "mp4"), ("MJPG", "avi")])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    codec, ext = request.param
    frames = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=240, size=(320, 240))
    path = tmp_path_factory.mktemp("src") / f"clip.{ext}"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 30.0, (320, 240))
    for f in frames:
        out.write(f)
    out.release()
    return path


def _sequential(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            return frames
        frames.append(f)


@pytest.mark.parametrize("gap_s", [0.2, 1.0, 2.0, 3.3])
def test_skipping_returns_exactly_the_frames_asked_for(clip: Path, gap_s: float) -> None:
    seq = _sequential(clip)
    src = VideoFileSource(clip)
    got, t = [], 0.0
    while (frame := src.read(not_before_s=t)) is not None:
        assert frame.index == round(frame.t_s * 30)
        assert frame.t_s >= t - 1e-6
        np.testing.assert_array_equal(frame.image, seq[frame.index])
        got.append(frame.index)
        t = frame.t_s + gap_s
    src.close()
    assert got[0] == 0 and len(got) >= int(7.9 / gap_s)
    if gap_s * 30 > SEEK_MIN_GAP_FRAMES:
        assert got[1] == round(gap_s * 30)  # crossed by seeking


def test_open_source_names_what_it_could_not_open(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="neither a camera index"):
        open_source(str(tmp_path / "nope.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="bad.mp4"):
        open_source(str(bad))
