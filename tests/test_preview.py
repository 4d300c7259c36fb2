"""The --preview window: the overlay draws the skeleton where the landmarks are, and the monitor
runs with a real window on a virtual display (Xvfb) without crashing; a screenshot proves it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from clips import have_photos, slouch_frames, upright_photo, write_clip
from dunst_harness import skip_or_fail

from posture.adapters.preview import STATE_COLOURS_BGR, draw_overlay
from posture.core.landmarks import Landmark
from posture.pipeline import FrameAnalyzer

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found"),
]

SCREENSHOT_DIR = Path(os.environ.get("POSTURE_TEST_ARTIFACTS", "/tmp"))


@pytest.fixture(scope="module")
def analysed(image_pose):  # type: ignore[no-untyped-def]
    photo = upright_photo()
    return photo.image, FrameAnalyzer(pose=image_pose, smooth=False).analyze(photo.image, 0.0)


def test_overlay_draws_the_skeleton_at_the_landmarks(analysed) -> None:  # type: ignore[no-untyped-def]
    image, a = analysed
    assert a.person
    out = draw_overlay(image, a, "slouching", ("forward_head",))
    assert out.shape == image.shape and out is not image
    assert np.array_equal(image, upright_photo().image), "the input frame is not drawn on"
    h, w = image.shape[:2]
    changed = np.any(out != image, axis=2)
    seen = a.pose.visibility > 0.5
    # every visible upper-body landmark got a dot or a bone on it
    for lm in (
        Landmark.NOSE,
        Landmark.LEFT_EAR,
        Landmark.RIGHT_EAR,
        Landmark.LEFT_SHOULDER,
        Landmark.RIGHT_SHOULDER,
    ):
        if not seen[lm]:
            continue
        x, y = (a.pose.image_xyz[lm, :2] * (w, h)).astype(int)
        assert changed[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].any(), lm.name
    # the bones are drawn in the state's colour: slouching red
    red = np.all(np.abs(out.astype(int) - STATE_COLOURS_BGR["slouching"]) <= 30, axis=2)
    assert red.sum() > 100
    # far from the person and the text, nothing changed (bottom right of the desk)
    assert not changed[:30, w - 30 :].any()  # the top right corner holds neither skeleton nor text
    # the same frame in a good state is green instead
    green = draw_overlay(image, a, "good", ())
    assert np.all(np.abs(green.astype(int) - STATE_COLOURS_BGR["good"]) <= 30, axis=2).sum() > 100


def test_overlay_without_a_person_only_writes_the_state(analysed) -> None:  # type: ignore[no-untyped-def]
    image, a = analysed
    empty = SimpleNamespace(pose=SimpleNamespace(person=False), metrics={}, view="none")
    out = draw_overlay(image, empty, "away", ())
    changed = np.any(out != image, axis=2)
    ys, _ = np.nonzero(changed)
    assert (
        changed.any() and ys.min() > image.shape[0] * 0.7
    )  # only the text band along the bottom, no skeleton
    gray = draw_overlay(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), a, "good", ())
    assert gray.ndim == 3


def test_preview_without_a_display_turns_itself_off(analysed, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    image, a = analysed
    # Qt aborts the whole process without a display, so try in a child process.
    code = (
        "import sys, numpy as np\n"
        "from types import SimpleNamespace as N\n"
        "from posture.adapters.preview import PreviewWindow\n"
        "w = PreviewWindow()\n"
        "img = np.zeros((64, 64, 3), np.uint8)\n"
        "a = N(pose=N(person=False), metrics={}, view='none')\n"
        "w.show(N(image=img), a, N(state='away', active_faults=(), instant_faults=()))\n"
        "print('enabled', w.enabled)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # Either OpenCV raises (preview turns off with a warning) or Qt refuses to start; the
    # monitor must never be taken down silently, so we only accept the graceful outcome.
    assert proc.returncode == 0 and "enabled False" in proc.stdout, (
        proc.returncode,
        proc.stderr[-800:],
    )
    assert "preview window unavailable: no DISPLAY set" in proc.stderr


@pytest.fixture
def xvfb(tmp_path: Path) -> Iterator[str]:
    """A virtual X display of our own; yields its DISPLAY."""
    missing = [p for p in ("Xvfb", "import") if shutil.which(p) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not found (apt: xvfb imagemagick)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    try:
        assert number, "Xvfb did not report a display"
        yield f":{number}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_monitor_preview_runs_under_xvfb(model_path: Path, tmp_path: Path, xvfb: str) -> None:
    clip = write_clip(
        slouch_frames(upright_photo(), [("upright", 14)], fps=5.0), tmp_path / "clip.avi", 5.0
    )
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posture",
            "monitor",
            "--source",
            str(clip),
            "--preview",
            "--no-notify",
            "--no-control",
            "--model",
            str(model_path),
            "--db",
            str(tmp_path / "h.sqlite3"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shots: list[np.ndarray] = []
    failed_grabs: list[str] = []
    try:
        # screenshots while it plays, until it ends: model loading takes a while on a busy
        # machine (a fixed 40 shots once all came before the window, on a loaded CI run)
        deadline = time.monotonic() + 120.0
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if proc.poll() is not None:
                break
            path = tmp_path / f"shot{i}.png"
            grab = subprocess.run(
                ["import", "-window", "root", str(path)],
                env=env,
                timeout=20,
                capture_output=True,
            )
            # A grab can fail when a window closes under it (the monitor ends with its clip,
            # X_GetImage then fails): that shot is skipped, the others still have to show it.
            if grab.returncode == 0:
                shots.append(cv2.imread(str(path)))
            else:
                failed_grabs.append(grab.stderr.decode(errors="replace")[-300:])
            time.sleep(0.5)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "preview window unavailable" not in err
    assert "stopped by end of source" in err
    assert len(shots) >= 5, f"too few screenshots: {len(shots)}, failures: {failed_grabs}"
    # the window is on screen: the frame is there, and on some shot the skeleton in green
    green = [
        np.all(np.abs(s.astype(int) - STATE_COLOURS_BGR["good"]) <= 25, axis=2).sum() for s in shots
    ]
    best = int(np.argmax(green))
    cv2.imwrite(str(SCREENSHOT_DIR / "posture-preview-xvfb.png"), shots[best])
    assert shots[best].std() > 20, "the screen is blank"
    assert green[best] > 100, green


@pytest.mark.parametrize(
    "env,platform,expect",
    [
        ({}, "linux", "no DISPLAY set"),
        ({"DISPLAY": ":987"}, "linux", "X display :987 is not running"),
        ({"DISPLAY": "remotehost:10.0"}, "linux", ""),  # over the network: cannot tell, try
        ({}, "darwin", ""),
        ({}, "win32", ""),
    ],
)
def test_display_problem(env: dict[str, str], platform: str, expect: str) -> None:
    from posture.adapters.preview import display_problem

    got = display_problem(env, platform)
    assert got.startswith(expect) if expect else got == ""
