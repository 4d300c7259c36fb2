"""Pose records as plain numpy arrays, and the landmark indices of the 33-point BlazePose topology.

A `PoseFrame` is what the pose adapter hands to the core: everything is an array, no MediaPipe
types leak past the adapter. `PoseBatch` stacks frames as `(N, 33, k)` arrays so every metric is
computed vectorised; the per-frame path uses the same functions on `N = 1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

N_LANDMARKS = 33


class Landmark(IntEnum):
    """BlazePose landmark indices. The model has no C7 or tragus: shoulders and ears stand in."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


EARS_AND_SHOULDERS = np.array(
    [Landmark.LEFT_EAR, Landmark.RIGHT_EAR, Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER]
)
"""The landmarks every CVA estimate and neck angle is made of (framing checks, agreement)."""

# Skeleton edges drawn by the preview window (upper body and arms: what a desk camera sees).
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (Landmark.LEFT_EAR, Landmark.LEFT_EYE),
    (Landmark.RIGHT_EAR, Landmark.RIGHT_EYE),
    (Landmark.LEFT_EYE, Landmark.NOSE),
    (Landmark.RIGHT_EYE, Landmark.NOSE),
    (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW),
    (Landmark.LEFT_ELBOW, Landmark.LEFT_WRIST),
    (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_ELBOW),
    (Landmark.RIGHT_ELBOW, Landmark.RIGHT_WRIST),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP),
    (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP),
    (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
)


@dataclass(frozen=True, slots=True)
class PoseFrame:
    """One frame's landmarks, or none when no person was found.

    image_xyz: (33, 3) normalised image coordinates as MediaPipe gives them (x by width, y by
    height, z relative depth in roughly x's scale, smaller = nearer the camera).
    visibility, presence: (33,) in [0, 1].
    world_xyz: (33, 3) metres, origin between the hips, y pointing down (MediaPipe's convention).
    image_size: (width, height) in pixels.
    t_s: the frame's time in seconds (monotonic for streams, 0 for photos).
    """

    t_s: float
    image_size: tuple[int, int]
    image_xyz: np.ndarray | None = None
    visibility: np.ndarray | None = None
    presence: np.ndarray | None = None
    world_xyz: np.ndarray | None = None

    @property
    def person(self) -> bool:
        """True when the pose model found a person in this frame."""
        return self.image_xyz is not None

    @classmethod
    def empty(cls, t_s: float, image_size: tuple[int, int]) -> PoseFrame:
        """Return a frame where no person was found."""
        return cls(t_s=t_s, image_size=image_size)


@dataclass(frozen=True, slots=True)
class PoseBatch:
    """N frames stacked for vectorised metrics; frames without a person hold NaN and zero scores.

    image_xyz, world_xyz: (N, 33, 3); visibility, presence: (N, 33); image_wh: (N, 2) pixels;
    t_s: (N,); person: (N,) bool.
    """

    t_s: np.ndarray
    image_wh: np.ndarray
    image_xyz: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world_xyz: np.ndarray
    person: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @classmethod
    def from_frames(cls, frames: list[PoseFrame] | tuple[PoseFrame, ...]) -> PoseBatch:
        """Stack frames; a frame without a person becomes NaN landmarks with zero scores."""
        n = len(frames)
        image_xyz = np.full((n, N_LANDMARKS, 3), np.nan)
        world_xyz = np.full((n, N_LANDMARKS, 3), np.nan)
        visibility = np.zeros((n, N_LANDMARKS))
        presence = np.zeros((n, N_LANDMARKS))
        person = np.zeros(n, dtype=bool)
        for i, f in enumerate(frames):  # stacking only; metrics never loop over frames
            if f.person:
                image_xyz[i] = f.image_xyz
                world_xyz[i] = f.world_xyz
                visibility[i] = f.visibility
                presence[i] = f.presence
                person[i] = True
        return cls(
            t_s=np.array([f.t_s for f in frames], dtype=float),
            image_wh=np.array([f.image_size for f in frames], dtype=float).reshape(n, 2),
            image_xyz=image_xyz,
            visibility=visibility,
            presence=presence,
            world_xyz=world_xyz,
            person=person,
        )
