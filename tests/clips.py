"""Generated test clips from one real photo: upright, the head moved forward and down, upright.

The photo is a real seated side view from the sitting-side set (labelled "good", head-shoulder
angle about 78 deg). `head_forward` makes the slouched version of the same photo: the region above
the shoulders is rotated forward about the base of the neck, enlarged and shifted forward and
down, and blended back with a feathered edge, which is what a head sliding towards a screen looks
like from the side. With the real model the CVA estimate drops from about 61 deg to about 40 deg
(checked in tests/test_monitor_e2e.py), well past the uncalibrated side limit.
The annotators' head and shoulder points (labels.csv) place the cut; no model is needed to build
a clip.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posture.testing import moving_photo_clip, sitting_side_dir

SITTING = sitting_side_dir()
UPRIGHT_PHOTO = "good_posture_20241012_172340_png.rf.c583c2f7309d94e907e8b5ea22f12105.jpg"
"""Clearly upright (annotated head-shoulder angle 77.6 deg), facing right, head well inside."""


@dataclass(frozen=True)
class SidePhoto:
    """A photo with the annotators' head and shoulder points (pixels)."""

    image: np.ndarray
    head_xy: tuple[float, float]
    shoulder_xy: tuple[float, float]


def have_photos() -> bool:
    """True when the sitting-side photos are available."""
    return (SITTING / UPRIGHT_PHOTO).is_file()


def upright_photo(size: int = 320) -> SidePhoto:
    """The upright photo, resized to `size` x `size`, with its annotated points scaled to match."""
    rows = {r["file"]: r for r in csv.DictReader(open(SITTING / "labels.csv", encoding="utf-8"))}
    row = rows[UPRIGHT_PHOTO]
    image = cv2.imread(str(SITTING / UPRIGHT_PHOTO))
    if image is None:
        raise FileNotFoundError(SITTING / UPRIGHT_PHOTO)
    h, w = image.shape[:2]
    sx, sy = size / w, size / h
    return SidePhoto(
        cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA),
        (float(row["head_x"]) * sx, float(row["head_y"]) * sy),
        (float(row["shoulder_x"]) * sx, float(row["shoulder_y"]) * sy),
    )


def head_forward(
    photo: SidePhoto, *, tilt_deg: float = 30.0, scale: float = 1.1, shift: float = 0.05
) -> np.ndarray:
    """The same photo with the head moved forward and down and enlarged (see the module doc).

    tilt_deg: forward rotation about the neck base; scale: head enlargement; shift: forward and
    downward shift as a fraction of the head-shoulder distance.
    """
    image = photo.image
    h, w = image.shape[:2]
    head, shoulder = np.array(photo.head_xy), np.array(photo.shoulder_xy)
    reach = float(np.linalg.norm(head - shoulder))
    facing = 1.0 if head[0] >= shoulder[0] - 5 else -1.0
    pivot = shoulder + (head - shoulder) * 0.25  # base of the neck, a little above the shoulder
    m = cv2.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), -facing * tilt_deg, scale)
    m[0, 2] += facing * shift * reach
    m[1, 2] += shift * reach
    warped = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((h, w), np.float32)
    x0, x1 = int(pivot[0] - 1.3 * reach), int(pivot[0] + 1.8 * reach)
    mask[: max(0, int(pivot[1])), max(0, x0) : min(w, x1)] = 1.0
    k = int(reach * 0.3) | 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)[..., None]
    return (mask * warped + (1.0 - mask) * image).astype(np.uint8)


def slouch_frames(
    photo: SidePhoto, segments: list[tuple[str, float]], *, fps: float, seed: int = 0
) -> list[np.ndarray]:
    """Frames for `segments` of ("upright" | "forward", seconds), each with a little movement."""
    pictures = {"upright": photo.image, "forward": head_forward(photo)}
    size = photo.image.shape[1], photo.image.shape[0]
    frames: list[np.ndarray] = []
    for i, (kind, seconds) in enumerate(segments):
        frames += moving_photo_clip(
            pictures[kind], n=int(round(seconds * fps)), size=size, seed=seed + i
        )
    return frames


def write_clip(frames: list[np.ndarray], path: Path, fps: float, fourcc: str = "MJPG") -> Path:
    """Write a clip and return `path`: MJPG by default (every OpenCV build decodes it), or e.g.
    "mp4v" for MPEG-4 Part 2, which FFmpeg decodes with frame threads."""
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not out.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for frame in frames:
        out.write(frame)
    out.release()
    return path
