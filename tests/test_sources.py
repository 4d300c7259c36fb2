"""Frame sources: a video file read at a low look rate gives exactly the frames it asks for."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from posture.adapters.camera import (
    SEEK_MIN_GAP_FRAMES,
    ImageFolderSource,
    VideoFileSource,
    open_source,
)
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
    assert src.read_to_s == 0.0
    while (frame := src.read(not_before_s=t)) is not None:
        assert src.read_to_s == pytest.approx(frame.t_s + 1 / 30)  # the frame's end
        assert frame.index == round(frame.t_s * 30)
        assert frame.t_s >= t - 1e-6
        np.testing.assert_array_equal(frame.image, seq[frame.index])
        got.append(frame.index)
        t = frame.t_s + gap_s
    src.close()
    # read to the end of the file, however long after the last frame returned
    assert src.read_to_s == pytest.approx(240 / 30)
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


def test_an_image_folder_is_read_to_the_end_of_each_image_passed(tmp_path: Path) -> None:
    """Each photo stands for `interval_s`; skipped and unreadable ones are passed all the same."""
    photo = skimage.data.astronaut()[::4, ::4, ::-1]
    for name in ("a.png", "b.png", "d.png"):
        cv2.imwrite(str(tmp_path / name), photo)
    (tmp_path / "c.png").write_bytes(b"not an image")
    src = ImageFolderSource.from_folder(tmp_path, interval_s=2.0)
    assert src.read_to_s == 0.0
    first = src.read()
    assert first is not None and first.t_s == 0.0 and src.read_to_s == 2.0
    after_gap = src.read(not_before_s=3.0)  # b.png skipped, c.png unreadable
    assert after_gap is not None and after_gap.path is not None
    assert after_gap.path.endswith("d.png") and after_gap.t_s == 6.0
    assert src.read_to_s == 8.0
    assert src.read() is None and src.read_to_s == 8.0
