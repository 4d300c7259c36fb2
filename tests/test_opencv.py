"""OpenCV's thread pool is limited once for the process (posture.adapters.opencv), and video
files are decoded on one thread.

Each check runs in a fresh interpreter: the limit is process-wide, and the test process has long
since called `opencv()`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.clips import write_clip

ROOT = Path(__file__).resolve().parents[1]


def _run_full(code: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _run(code: str) -> str:
    return _run_full(code).stdout.strip()


def test_reading_a_video_and_converting_a_frame_run_opencv_single_threaded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    clip = write_clip(frames, tmp_path / "c.mp4", 10.0)
    out = _run(
        f"""
        import cv2
        cv2.setNumThreads(4)  # whatever was set before, posture's first use limits the pool
        from posture.adapters.camera import VideoFileSource
        from posture.adapters.pose import to_rgb
        src = VideoFileSource({str(clip)!r})
        rgb = to_rgb(src.read().image)
        print(cv2.getNumThreads(), rgb.shape)
        """
    )
    threads, shape = out.split(" ", 1)
    assert threads == "1"
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


def test_video_files_are_decoded_without_ffmpegs_frame_threads(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(6)]
    # MPEG-4 Part 2: FFmpeg frame-threads it (MJPEG it does not)
    clip = write_clip(frames, tmp_path / "c.mp4", 10.0, fourcc="mp4v")
    out = _run(
        f"""
        import os
        import cv2
        from posture.adapters.camera import VideoFileSource

        def decoder_threads():
            names = []
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{{tid}}/comm") as f:
                    names.append(f.read().strip())
            return sum(n.startswith("av:") for n in names)

        plain = cv2.VideoCapture({str(clip)!r})
        plain.read()
        plain.read()
        default = decoder_threads()  # FFmpeg names its frame threads av:<codec>:df<n>
        plain.release()
        src = VideoFileSource({str(clip)!r})
        n = sum(src.read() is not None for _ in range(6))
        print(default, decoder_threads(), n)
        """
    )
    default, ours, n = out.split()
    if default == "0":  # e.g. one CPU, or an FFmpeg that does not name its threads
        pytest.skip("FFmpeg started no named frame threads here, so there is nothing to compare")
    assert ours == "0"
    assert n == "6"  # and every frame still decodes


def test_an_unreadable_video_fails_with_our_message_and_no_opencv_warning(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all " * 500)
    done = _run_full(
        f"""
        from posture.adapters.camera import VideoFileSource
        from posture.core.errors import SourceError
        try:
            VideoFileSource({str(bad)!r})
        except SourceError as exc:
            print(exc)
        """
    )
    assert "cannot open" in done.stdout and "broken.mp4" in done.stdout
    assert "WARN" not in done.stderr  # OpenCV's "can't be used to capture by name"


def test_opencv_log_is_silenced_unless_verbose_or_chosen_by_the_user() -> None:
    code = """
        import os, sys
        from posture.adapters import native_logs
        if sys.argv[1] == "verbose":
            native_logs.set_verbose(True)
        elif sys.argv[1] == "env":
            os.environ["OPENCV_LOG_LEVEL"] = "INFO"
        from posture.adapters.opencv import opencv
        print(opencv().utils.logging.getLogLevel())
    """
    levels = {}
    for how in ("default", "verbose", "env"):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), how],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        levels[how] = int(done.stdout.split()[-1])  # at INFO, OpenCV logs to stdout too
    import cv2

    assert levels["default"] == cv2.utils.logging.LOG_LEVEL_FATAL
    assert levels["verbose"] == cv2.utils.logging.LOG_LEVEL_WARNING  # OpenCV's own default
    assert levels["env"] == cv2.utils.logging.LOG_LEVEL_INFO


def test_a_missing_camera_prints_no_opencv_warnings(tmp_path: Path) -> None:
    """`posture doctor --source 99`: our own "cannot open camera 99", no `[ WARN ]` blocks."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "POSTURE_MODEL_DIR": str(tmp_path / "no-models"),
    }
    env.pop("OPENCV_LOG_LEVEL", None)
    argv = ["doctor", "--json", "--source", "99", "--db", str(tmp_path / "h.sqlite3")]
    quiet, verbose = (
        subprocess.run(
            [sys.executable, "-m", "posture", *flags, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        for flags in ((), ("-v",))
    )
    assert quiet.returncode == 1  # the camera (and the model) checks fail
    assert "cannot open camera 99" in quiet.stdout
    assert "[ WARN" not in quiet.stderr and "[ERROR" not in quiet.stderr, quiet.stderr
    assert "[ WARN" in verbose.stderr  # -v lets OpenCV speak again
