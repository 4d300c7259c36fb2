"""Video faults through `posture analyze`: a file corrupt in the middle, a wrong extension, zero
frames. What could be read is reported and kept as a stored session; what could not is named.

(A file cut short and a file that is not a video at all are in tests/test_analyze_video.py.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import pytest

from posture.cli import main
from posture.testing import moving_photo_clip, sitting_side_dir

SITTING = sitting_side_dir()
FPS = 5.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of a real seated photo, moving a little, MJPG in AVI (every frame a JPEG)."""
    photo = cv2.imread(str(sorted(SITTING.glob("good*.jpg"))[0]))
    path = tmp_path_factory.mktemp("clips") / "clip.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (160, 160))
    for f in moving_photo_clip(photo, n=int(40 * FPS), size=(160, 160), seed=5):
        out.write(f)
    out.release()
    return path


def _analyze(path: Path, db: Path, model: Path) -> int:
    return main(["analyze", str(path), "--json", "--model", str(model), "--db", str(db)])


def test_garbage_in_the_middle_keeps_what_was_read(
    clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(clip.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20_000] = bytes(range(256)) * (20_000 // 256) + bytes(20_000 % 256)
    bad = tmp_path / "damaged.avi"
    bad.write_bytes(bytes(data))
    db = tmp_path / "h.sqlite3"
    code = _analyze(bad, db, model_path)
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["frames_analysed"] >= 20, "the frames before the damage were analysed"
    with sqlite3.connect(db) as conn:
        (n_samples,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
        kind, end = conn.execute("SELECT kind, end_unix FROM sessions").fetchone()
    assert kind == "analyze" and end is not None, "the partial session is closed, not left open"
    assert n_samples >= 10


def test_video_named_as_an_image_is_named_and_refused(
    clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "clip.png"
    wrong.write_bytes(clip.read_bytes())
    code = main(["analyze", str(wrong), "--model", str(model_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert str(wrong) in err + out and "not an image" in err
    assert "Traceback" not in err
    # with an option only a video takes, the name is what misleads: it says so
    code = main(["analyze", str(wrong), "--model", str(model_path), "--db", str(tmp_path / "h.db")])
    assert code == 2
    assert f"{wrong} is taken for photos by its name" in capsys.readouterr().err


def test_video_with_an_unknown_extension_is_read_by_its_content(
    clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "clip.recording"
    odd.write_bytes(clip.read_bytes())
    code = main(["analyze", str(odd), "--json", "--model", str(model_path), "--no-store"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["summary"]["frames_analysed"] >= 5


def test_zero_frame_video_says_so_and_stores_no_samples(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.avi"
    out = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (160, 160))
    out.release()
    db = tmp_path / "h.sqlite3"
    code = _analyze(empty, db, model_path)
    _, err = capsys.readouterr()
    assert code == 1
    assert "empty.avi" in err
    assert "Traceback" not in err
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0
            ends = [r[0] for r in conn.execute("SELECT end_unix FROM sessions")]
            assert all(e is not None for e in ends), "even an empty session is ended"
