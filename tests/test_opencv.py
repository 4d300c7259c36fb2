"""OpenCV's thread pool is limited once for the process (posture.adapters.opencv).

Each check runs in a fresh interpreter: the limit is process-wide, and the test process has long
since called `opencv()`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from tests.clips import write_clip

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_reading_a_video_and_converting_a_frame_run_opencv_single_threaded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    clip = write_clip(frames, tmp_path / "c.mp4", 10.0)
    out = _run(
        f"""
        import cv2
        from posture.adapters.camera import VideoFileSource
        from posture.adapters.pose import to_rgb
        src = VideoFileSource({str(clip)!r})
        rgb = to_rgb(src.read().image)
        print(cv2.getNumThreads(), rgb.shape)
        """
    )
    threads, shape = out.split(" ", 1)
    assert threads == "1"  # OpenCV's own default is one per core
    assert shape == "(48, 64, 3)"


def test_an_embedding_program_keeps_its_own_later_choice() -> None:
    out = _run(
        """
        from posture.adapters.opencv import opencv
        cv2 = opencv()
        first = cv2.getNumThreads()
        cv2.setNumThreads(3)
        print(first, opencv().getNumThreads())
        """
    )
    assert out == "1 3"
