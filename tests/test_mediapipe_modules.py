"""The pose backend imports only the mediapipe modules it uses (posture.adapters.mediapipe_modules).

Each check runs in a fresh interpreter: what is imported is process-wide state, and the test
process imported mediapipe long ago.
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

# Loads the model, finds the astronaut's landmarks, and reports what was imported; then imports
# mediapipe the usual way and reports its namespaces. `before` runs first.
_PROBE = """
import json, sys
import numpy as np
{before}
from skimage import data
from posture.adapters.pose import MediaPipePose
with MediaPipePose({model!r}, mode="image") as pose:
    frame = pose.detect(data.astronaut(), color="rgb")
tops = ("mediapipe", "matplotlib", "sounddevice")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in tops)
with open("/proc/self/maps") as f:
    audio_libs = sorted({{line.split("/")[-1].split(".so")[0] for line in f
                         if "libportaudio" in line or "libasound" in line}})
import mediapipe as mp
from mediapipe.tasks.python import vision
namespaces = {{  # dir(), as code exploring the package would
    name: [k for k in dir(sys.modules[name]) if not k.startswith("__")]
    for name in ("mediapipe", "mediapipe.tasks", "mediapipe.tasks.python", vision.__name__)
}}
print(json.dumps({{
    "loaded": loaded,
    "audio_libs": audio_libs,
    "landmarks": frame.image_xyz.tolist(),
    "namespaces": namespaces,
    "version": mp.__version__,
    "tasks_is": mp.tasks.__name__,
    "same_class": vision.PoseLandmarker is sys.modules[
        "mediapipe.tasks.python.vision.pose_landmarker"].PoseLandmarker,
    "image_works": mp.Image(mp.ImageFormat.SRGB, np.zeros((4, 4, 3), np.uint8)).width,
}}))
"""


def _probe(model: Path, before: str = "") -> dict:  # type: ignore[type-arg]
    code = textwrap.dedent(_PROBE).format(before=before, model=str(model))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[type-arg]
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
    for key in ("version", "tasks_is", "same_class", "image_works"):
        assert lean[key] == whole[key], key
    assert lean["tasks_is"] == "mediapipe.tasks.python" and lean["same_class"] is True


def test_an_unexpected_layout_falls_back_to_the_whole_import(model_path: Path) -> None:
    """A parent package that is not where it is expected (another mediapipe release): the
    ordinary import is used, and no half-made parent is left behind."""
    before = (
        "import posture.adapters.mediapipe_modules as mm\n"
        "mm.PARENTS = mm.PARENTS + ('mediapipe.tasks.python.vision.nowhere',)"
    )
    moved = _probe(model_path, before=before)
    assert "mediapipe.tasks.python.vision.hand_landmarker" in moved["loaded"]
    assert len(moved["landmarks"]) == 33
    assert moved["tasks_is"] == "mediapipe.tasks.python" and moved["same_class"] is True


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
