"""The pose backend imports only the mediapipe modules it uses (posture.adapters.mediapipe_modules).

Each check runs in a fresh interpreter: what is imported is process-wide state.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Loads the model, finds the astronaut's landmarks and reports what was imported; then uses
# mediapipe the usual ways, first touches first (`mp.tasks.vision...` before anything completes
# the package), and reports its namespaces. `before` runs first.
_PROBE = """
import json, os, sys
import numpy as np
{before}
from skimage import data
from posture.adapters.pose import MediaPipePose
with MediaPipePose({model!r}, mode="image") as pose:
    frame = pose.detect(data.astronaut(), color="rgb")
tops = ("mediapipe", "matplotlib", "sounddevice")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in tops)
audio_libs = []
if os.path.exists("/proc/self/maps"):
    with open("/proc/self/maps") as f:
        audio_libs = sorted({{line.split("/")[-1].split(".so")[0] for line in f
                             if "libportaudio" in line or "libasound" in line}})
import mediapipe as mp
first_touch = [
    mp.tasks.vision.PoseLandmarker.__qualname__,
    mp.tasks.BaseOptions.__qualname__,
    mp.Image.__qualname__,
]
from mediapipe.tasks.python import vision
namespaces = {{  # dir(), as code exploring the package would
    name: [k for k in dir(sys.modules[name]) if not k.startswith("__")]
    for name in ("mediapipe", "mediapipe.tasks", "mediapipe.tasks.python", vision.__name__)
}}
print(json.dumps({{
    "loaded": loaded,
    "audio_libs": audio_libs,
    "landmarks": frame.image_xyz.tolist(),
    "first_touch": first_touch,
    "namespaces": namespaces,
    "version": mp.__version__,
    "tasks_is": mp.tasks.__name__,
    "same_class": vision.PoseLandmarker is sys.modules[
        "mediapipe.tasks.python.vision.pose_landmarker"].PoseLandmarker,
}}))
"""


def _python(code: str, timeout: float = 180) -> str:
    """Run `code` (dedented) in a fresh interpreter; the last line it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _probe(model: Path, before: str = "") -> dict:  # type: ignore[type-arg]
    result: dict = json.loads(  # type: ignore[type-arg]
        _python(textwrap.dedent(_PROBE).format(before=before, model=str(model)))
    )
    return result


def test_the_pose_backend_leaves_the_rest_of_mediapipe_unimported(model_path: Path) -> None:
    lean = _probe(model_path)
    whole = _probe(model_path, before="import mediapipe  # the ordinary, whole import first")
    # what the lean load imported: no drawing (matplotlib), no audio tasks, no other vision task
    lean_loaded = lean["loaded"]
    assert not [m for m in lean_loaded if m.startswith(("matplotlib", "sounddevice"))]
    assert not [m for m in lean_loaded if m.startswith("mediapipe.tasks.python.audio")]
    assert "mediapipe.tasks.python.vision.hand_landmarker" not in lean_loaded
    assert "mediapipe.tasks.python.vision.pose_landmarker" in lean_loaded
    assert "mediapipe.tasks.python.vision.hand_landmarker" in whole["loaded"]
    # the same landmarks either way: the same task ran
    assert lean["landmarks"] == whole["landmarks"] and len(lean["landmarks"]) == 33
    # and mediapipe imported afterwards is the whole package, as if imported first
    assert lean["namespaces"] == whole["namespaces"]
    assert lean["first_touch"] == whole["first_touch"] == ["PoseLandmarker", "BaseOptions", "Image"]
    for key in ("version", "tasks_is", "same_class"):
        assert lean[key] == whole[key], key
    assert lean["tasks_is"] == "mediapipe.tasks.python" and lean["same_class"] is True


@pytest.mark.parametrize(
    "moved",
    [
        "mm.PARENTS = mm.PARENTS + ('mediapipe.tasks.python.vision.nowhere',)",
        "mm.POSE_MODULES['image'] = 'mediapipe.tasks.python.vision.core.nowhere'",
    ],
    ids=["a-parent", "a-pose-module"],
)
def test_an_unexpected_layout_falls_back_to_the_whole_import(moved: str, model_path: Path) -> None:
    """A package or module that is not where it is expected (another mediapipe release): the
    ordinary import or the public API is used, and no half-made parent is left behind."""
    reference = _probe(model_path, before="import mediapipe")
    result = _probe(model_path, before=f"import posture.adapters.mediapipe_modules as mm\n{moved}")
    assert "mediapipe.tasks.python.vision.hand_landmarker" in result["loaded"]
    assert result["landmarks"] == reference["landmarks"]
    assert result["namespaces"] == reference["namespaces"]
    assert result["tasks_is"] == "mediapipe.tasks.python" and result["same_class"] is True


def test_two_threads_completing_the_package_at_once() -> None:
    """A thread that finds an attribute missing while another completes the package waits for
    it, instead of failing half-way."""
    code = """
        import sys, threading
        sys.setswitchinterval(1e-6)
        from posture.adapters import mediapipe_modules as mm
        mm.load("mediapipe.tasks.python.vision.pose_landmarker")
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        errors, go = [], threading.Barrier(3)
        def use(get):
            go.wait()
            try:
                get()
            except Exception as exc:
                errors.append(repr(exc))
        gets = [lambda: mp.Image, lambda: vision.HandLandmarker, lambda: mp.tasks.BaseOptions]
        threads = [threading.Thread(target=use, args=(g,)) for g in gets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(errors)
        """
    for _ in range(3):
        assert _python(code) == "[]"


def test_the_pose_backend_never_starts_portaudio(model_path: Path) -> None:
    """Where PortAudio is installed (any desktop), `import mediapipe` loads it and ALSA through
    sounddevice; a webcam posture monitor must not touch the audio stack."""
    if ctypes.util.find_library("portaudio") is None:
        if os.environ.get("CI"):
            pytest.fail("libportaudio2 is missing: scripts/ci_system_deps.sh installs it on CI")
        pytest.skip("PortAudio is not installed here (apt-get install libportaudio2)")
    whole = _probe(model_path, before="import mediapipe  # the ordinary, whole import first")
    assert "sounddevice" in whole["loaded"] and "libportaudio" in whole["audio_libs"]
    lean = _probe(model_path)
    assert lean["audio_libs"] == [] and "sounddevice" not in lean["loaded"]


def _lean_then(code: str, *, timeout: float = 120) -> str:
    """Run `code` in a fresh interpreter after the pose backend's lean load; its last line."""
    prefix = "from posture.adapters import mediapipe_modules as mm\nmm.pose_api()\n"
    return _python(prefix + textwrap.dedent(code), timeout)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # a submodule imported the ordinary way, whose own imports reach into the pending parent
        (
            "import mediapipe.tasks.python.vision.drawing_styles as d\nprint(d.__name__)",
            "mediapipe.tasks.python.vision.drawing_styles",
        ),
        (
            "from mediapipe.tasks.python.vision import hand_landmarker as h\n"
            "print(h.HandLandmarker.__name__)",
            "HandLandmarker",
        ),
        # the package mediapipe's __init__ replaces, held before and used after completion
        (
            "from mediapipe import tasks\n"
            "print(tasks.BaseOptions.__name__, tasks.vision.__name__, tasks.audio.__name__)",
            "BaseOptions mediapipe.tasks.python.vision mediapipe.tasks.python.audio",
        ),
        (
            "from mediapipe.tasks.python.vision import *\nprint(PoseLandmarker.__name__)",
            "PoseLandmarker",
        ),
        (
            "from mediapipe.tasks.python import audio\nprint(audio.AudioClassifier.__name__)",
            "AudioClassifier",
        ),
    ],
    ids=["import-submodule", "from-import-submodule", "held-tasks", "star", "audio"],
)
def test_ordinary_mediapipe_use_after_the_lean_load(code: str, expected: str) -> None:
    assert _lean_then(code) == expected


def test_a_thread_importing_a_submodule_while_another_completes_does_not_deadlock() -> None:
    out = _lean_then(
        """
        import faulthandler, threading, time
        import mediapipe as mp
        def worker():  # inside drawing_utils' import (matplotlib) while the main thread completes
            import mediapipe.tasks.python.vision.drawing_utils
        t = threading.Thread(target=worker, daemon=True)
        t.start()
        time.sleep(0.05)
        faulthandler.dump_traceback_later(30, exit=True)
        mp.Image
        t.join()
        faulthandler.cancel_dump_traceback_later()
        print("no deadlock")
        """,
        timeout=90,
    )
    assert out == "no deadlock"


def test_a_plain_import_racing_the_lean_load_leaves_a_working_package() -> None:
    code = """
        import sys, threading
        from posture.adapters import mediapipe_modules as mm
        go, out = threading.Barrier(2), {}
        def lean():
            go.wait()
            mm.pose_api()
        def plain():
            go.wait()
            import mediapipe
        threads = [threading.Thread(target=lean), threading.Thread(target=plain)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        import mediapipe as mp
        print(mp.Image.__name__, mp.tasks.vision.PoseLandmarker.__name__, mp.tasks.__name__)
        """
    for _ in range(3):
        assert _python(code) == "Image PoseLandmarker mediapipe.tasks.python"
