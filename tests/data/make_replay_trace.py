"""Record `replay_slouch.npz`: the real pose model's landmark stream over a generated clip.

The clip is made from real side-view photos of one person at a desk (sitting-side, session
20241012): 20 s upright, 45 s head forward, 8 s empty (the chair left: blank frames), 25 s upright,
at 4 fps, each photo moved and scaled a little per frame (`moving_photo_clip`). Every frame goes
through `MediaPipePose` in VIDEO mode, as the monitor runs it, and the landmarks are stored as
float16 (plenty for normalised coordinates and metres; keeps the file under 300 KB).

    .venv/bin/python tests/data/make_replay_trace.py /path/to/pose_landmarker.task

Load it with `posture.testing.load_replay_trace()`.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from posture.adapters.pose import MediaPipePose
from posture.testing import moving_photo_clip, sitting_side_dir

HERE = Path(__file__).resolve().parent
SITTING = sitting_side_dir()
FPS = 4.0
SIZE = (360, 360)
SEGMENTS = (("good", 20.0), ("bad", 45.0), ("away", 8.0), ("good", 25.0))


def photo(label: str) -> np.ndarray:
    """The same person and desk, clearly upright (annotated > 70 deg) or clearly forward (< 40)."""
    rows = list(csv.DictReader(open(SITTING / "labels.csv")))

    def clear(r: dict[str, str]) -> bool:
        angle = float(r["annotated_head_shoulder_angle_deg"])
        return angle > 70 if label == "good" else angle < 40

    name = next(
        r["file"] for r in rows if r["label"] == label and r["session"] == "20241012" and clear(r)
    )
    return cv2.imread(str(SITTING / name))


def main(model: Path) -> None:
    """Record the trace next to this script."""
    frames: list[np.ndarray] = []
    labels: list[str] = []
    for seed, (label, seconds) in enumerate(SEGMENTS):
        n = int(seconds * FPS)
        if label == "away":
            frames += [np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)] * n
        else:
            frames += moving_photo_clip(photo(label), n=n, size=SIZE, seed=seed)
        labels += [label] * n
    n = len(frames)
    image_xyz = np.full((n, 33, 3), np.nan, np.float32)
    world_xyz = np.full((n, 33, 3), np.nan, np.float32)
    visibility = np.zeros((n, 33), np.float32)
    presence = np.zeros((n, 33), np.float32)
    person = np.zeros(n, bool)
    t_s = np.arange(n) / FPS
    with MediaPipePose(model, mode="video") as pose:
        for i, image in enumerate(frames):
            f = pose.detect(image, float(t_s[i]))
            if f.person:
                person[i] = True
                image_xyz[i], world_xyz[i] = f.image_xyz, f.world_xyz
                visibility[i], presence[i] = f.visibility, f.presence
    out = HERE / "replay_slouch.npz"
    np.savez_compressed(
        out,
        t_s=t_s.astype(np.float64),
        image_wh=np.array(SIZE, np.int32),
        person=person,
        image_xyz=image_xyz.astype(np.float16),
        world_xyz=world_xyz.astype(np.float16),
        visibility=visibility.astype(np.float16),
        presence=presence.astype(np.float16),
        label=np.array(labels),
    )
    print(f"{out}: {n} frames, {int(person.sum())} with a person, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
