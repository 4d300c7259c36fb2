"""Vectorised posture metrics from pose landmarks: CVA estimate, neck angle, protraction, view.

Theory of operation
-------------------
Every function works on a whole `PoseBatch` (`(N, 33, 3)` arrays) with numpy broadcasting; the
per-frame path (`frame_metrics`) is the same code on `N = 1`. Nothing here loops over frames.

Two coordinate systems are used, each where it is most trustworthy:

* **Image pixels** (`x * width`, `y * height`, y down). In-plane angles (CVA estimate, head roll,
  shoulder tilt, the frontal ratios) are measured here, because the model's 2-D landmarks are far
  more precise than its depth. Working in pixels, not normalised units, makes every metric
  invariant to the image aspect ratio.
* **World metres** (MediaPipe's hip-centred frame, y down, smaller z = nearer the camera). Used for
  what needs depth: the body's sagittal plane (normal = the shoulder axis), the near side, and the
  view. The camera is assumed level, so world -y is "up".

The body's forward direction is `left x up` with `left = left shoulder - right shoulder` (a
right-handed frame), which is horizontal and perpendicular to the shoulder axis.

View
----
The body's yaw (0 = facing the camera, 90 = profile) is estimated from up to three cues and their
weighted mean classifies the view: `< 30` front, `> 60` side, otherwise three_quarter.
1. the shoulder axis direction in world landmarks, `atan2(|dz|, |dx|)`;
2. the same in image space with the model's relative depth (`z` is in x's scale);
3. apparent shoulder width relative to torso height, `arccos(ratio / 0.72)` (0.72 is the ratio of
   a frontal adult, measured on the scikit-image astronaut photo whose hips are at the frame
   edge, so approximate) - only when both hips are usable; it gets half the weight of the others.
Ear visibility asymmetry decides the near side only when the depth difference between sides is
below 1 cm: on real side photos the model reports ~1.0 visibility for both ears, so depth is the
primary near-side cue. `view_confidence` is 0.5 at a class boundary and 1.0 once the yaw is 10 deg
inside a class, then multiplied by the cues' agreement (1 - spread / 90, at least 0.5), so it
spans 0.25 to 1.0. The view is "none" (confidence 0, near side "") without a person or when the
shoulders are unusable. `side_right` means the person's right profile faces the camera (they look
towards image +x); `side_left` the mirror. `near_side` is reported for every view.

Hips are often out of frame at a desk. Only `shoulder_protraction` and `shoulder_angle_deg` need
one (invalid without); the view then drops its width/torso cue; nothing else uses hips.

Metric keys (NaN plus `valid = False` when the landmarks a metric needs are unusable)
-----------------------------------------------------------------------------------
* `cva_deg` - CVA estimate, side views only. Angle above the forward horizontal of the line from
  the near shoulder (C7 stand-in) to the near ear (tragus stand-in), in pixels; mirrored so that
  left and right profiles agree (invalid when the ear sits on the shoulder's pixel: no line).
  90 = ear straight above the shoulder; smaller = head further forward (forward head = CVA
  decreasing, as in the clinic). The shoulder landmark sits below and in front of C7, which
  steepens the line, so the estimate is not clinical CVA: compare it with a
  calibrated baseline or a threshold validated on landmarks (scripts/study_sitting_side.py: on 93
  seated side photos AUC 0.86 for good vs bad, r = 0.77 with the annotators' head-shoulder angle).
* `neck_angle_deg` - any view, world landmarks. Angle between the horizontal plane and the
  shoulder-midpoint -> ear-midpoint vector projected onto the sagittal plane; it continues past 90
  when the ear is behind the shoulders (measured from the forward horizontal, like the CVA).
  Uses the mean of the usable ears (the projection removes the lateral offset of a single ear).
* `neck_flexion_deg` = 90 - `neck_angle_deg` (ISO 11226: > 25 deg is not acceptable when held).
* `head_drop` - front/three_quarter. Signed distance of the ear midpoint above the shoulder line
  (perpendicular to that line, so a tilt does not change it) / shoulder width, pixels. Falls when
  the head drops forward.
* `face_scale` - front/three_quarter. Ear-to-ear distance / shoulder width, pixels; grows as the
  head comes towards the camera. Without both ears: eye-to-eye distance x 1.76 (the ear/eye span
  ratio of a frontal face, measured on the astronaut photo) so the series does not jump.
* `nose_drop` - front/three_quarter. Signed distance of the nose above the shoulder line /
  shoulder width, pixels.
* `shoulder_protraction` - needs a hip (hips are often out of frame at a desk: invalid then).
  Side views, pixels, near side: horizontal offset of the shoulder ahead of the hip -> ear line at
  the shoulder's height (ahead of the hip vertical when the ear is unusable) / shoulder-hip
  length. Front/three_quarter: the same construction in world metres with the shoulder, ear and
  hip midpoints placed in the sagittal plane (forward = towards the camera for a frontal body), so
  it reads the shoulders' depth relative to the ear and hip planes. Positive = shoulders forward
  (rounded); 0 = shoulder on the ear-hip line.
* `shoulder_angle_deg` - sagittal shoulder angle, same landmarks and frames as
  `shoulder_protraction`: the angle at the hip between the hip -> ear line (the vertical when the
  ear is unusable) and the hip -> shoulder line, positive when the shoulder is ahead.
* `head_roll_deg` - front/three_quarter. Right ear -> left ear line vs horizontal, pixels;
  positive when the left ear is higher (head tilted to the person's right).
* `shoulder_tilt_deg` - front/three_quarter. The same for the shoulders.
* `lean_in` - front/three_quarter. Apparent shoulder width / image width: grows as the user
  leans towards the screen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from posture.core.landmarks import Landmark, PoseBatch, PoseFrame

logger = logging.getLogger(__name__)

METRIC_VERSION: int = 1

METRIC_KEYS: tuple[str, ...] = (
    "cva_deg",
    "neck_angle_deg",
    "neck_flexion_deg",
    "head_drop",
    "face_scale",
    "nose_drop",
    "shoulder_protraction",
    "shoulder_angle_deg",
    "head_roll_deg",
    "shoulder_tilt_deg",
    "lean_in",
)

_ROW = {k: i for i, k in enumerate(METRIC_KEYS)}

VIEWS: tuple[str, ...] = ("side_left", "side_right", "front", "three_quarter", "none")

_VIEW_NAMES = np.array(VIEWS)
_SIDE_NAMES = np.array(["left", "right", ""])
FRONT_MAX_YAW_DEG = 30.0
SIDE_MIN_YAW_DEG = 60.0
_FRONTAL_WIDTH_TO_TORSO = 0.72
_EAR_TO_EYE_SPAN = 1.76
_NEAR_SIDE_MIN_DZ_M = 0.01
_CONFIDENCE_RAMP_DEG = 10.0
_MIN_SHOULDER_M = 0.02

_L = Landmark
_NEAR_LEFT = np.array([_L.LEFT_SHOULDER, _L.LEFT_EAR, _L.LEFT_HIP])
_NEAR_RIGHT = np.array([_L.RIGHT_SHOULDER, _L.RIGHT_EAR, _L.RIGHT_HIP])
_FWD_SIGN = np.array([1.0, 0.0, -1.0])


@dataclass(frozen=True)
class Metrics:
    """Metrics for N frames: values (NaN when invalid), validity flags, the view and near side.

    `table` and `usable` hold one row per metric in `METRIC_KEYS` order; `values` and `valid`
    name the same rows, built on first use (the per-frame path reads the table directly).
    """

    table: np.ndarray
    """(K, N) values, NaN when invalid."""
    usable: np.ndarray
    """(K, N) validity flags."""
    view: np.ndarray
    view_confidence: np.ndarray
    near_side: np.ndarray

    @cached_property
    def values(self) -> dict[str, np.ndarray]:
        """Each metric's (N,) values by key, NaN when invalid."""
        return dict(zip(METRIC_KEYS, self.table, strict=True))

    @cached_property
    def valid(self) -> dict[str, np.ndarray]:
        """Each metric's (N,) validity flags by key."""
        return dict(zip(METRIC_KEYS, self.usable, strict=True))

    def __len__(self) -> int:
        return int(self.view.shape[0])

    def row(self, i: int) -> dict[str, float | None]:
        """Frame i's metrics as plain floats, None where invalid (for storage and display)."""
        return {
            k: (float(self.values[k][i]) if bool(self.valid[k][i]) else None) for k in METRIC_KEYS
        }


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean length along the last axis (what np.linalg.norm computes, without its checks)."""
    out: np.ndarray = np.sqrt((v * v).sum(axis=-1))
    return out


def _clamp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """`np.clip` with the same values for arrays, at a third of its per-call cost on N = 1."""
    out: np.ndarray = np.minimum(np.maximum(x, lo), hi)
    return out


def _cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _mean_of_usable(a: np.ndarray, b: np.ndarray, ok_a: np.ndarray, ok_b: np.ndarray) -> np.ndarray:
    """Midpoint of two points, or the one usable point; NaN when neither (no nanmean warnings)."""
    ok_a, ok_b = ok_a[:, None], ok_b[:, None]
    out: np.ndarray = np.where(
        ok_a & ok_b, (a + b) / 2, np.where(ok_a, a, np.where(ok_b, b, np.nan))
    )
    return out


def _line_offset(
    s_f: np.ndarray,
    s_u: np.ndarray,
    e_f: np.ndarray,
    e_u: np.ndarray,
    h_f: np.ndarray,
    h_u: np.ndarray,
    ear_ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Shoulder offset ahead of the hip->ear line (or hip vertical) / torso, and the hip angle.

    Points are given in sagittal (forward, up) coordinates of any unit.
    """
    ear_f = np.where(ear_ok, e_f, h_f)  # without an ear the reference line is the hip vertical
    ear_u = np.where(ear_ok, e_u, h_u + 1.0)
    df, du = ear_f - h_f, ear_u - h_u
    line_f = h_f + df * (s_u - h_u) / du
    torso = np.hypot(s_f - h_f, s_u - h_u)
    protraction = (s_f - line_f) / torso
    angle = np.degrees(np.arctan2(s_f - h_f, s_u - h_u) - np.arctan2(df, du))
    angle = (angle + 180.0) % 360.0 - 180.0
    return protraction, angle


def compute_metrics(batch: PoseBatch, *, min_visibility: float = 0.5) -> Metrics:
    """Compute every metric for every frame of `batch`, vectorised.

    A landmark is usable when the frame has a person, its visibility and presence are at least
    `min_visibility` and its coordinates are finite. Never raises or warns on missing data.
    """
    with np.errstate(all="ignore"):
        return _compute(batch, float(min_visibility))


def frame_metrics(frame: PoseFrame, *, min_visibility: float = 0.5) -> Metrics:
    """Metrics for one frame: the batch path on N = 1."""
    return compute_metrics(PoseBatch.from_frames([frame]), min_visibility=min_visibility)


def _compute(batch: PoseBatch, thr: float) -> Metrics:
    n = len(batch)
    img = np.asarray(batch.image_xyz, dtype=float)
    wld = np.asarray(batch.world_xyz, dtype=float)
    wh = np.asarray(batch.image_wh, dtype=float).reshape(n, 2)
    person = np.asarray(batch.person, dtype=bool)
    ok = (
        person[:, None]
        & (np.asarray(batch.visibility) >= thr)
        & (np.asarray(batch.presence) >= thr)
        & np.isfinite(img).all(-1)
        & np.isfinite(wld).all(-1)
    )
    px = img[..., :2] * wh[:, None, :]  # (N, 33, 2) pixels, y down
    pz = img[..., 2] * wh[:, None, 0]  # relative depth in x pixels

    ls, rs, le, re = _L.LEFT_SHOULDER, _L.RIGHT_SHOULDER, _L.LEFT_EAR, _L.RIGHT_EAR
    lh, rh = _L.LEFT_HIP, _L.RIGHT_HIP
    sh_ok = ok[:, ls] & ok[:, rs]
    ears_ok = ok[:, le] & ok[:, re]
    any_ear = ok[:, le] | ok[:, re]
    hips_ok = ok[:, lh] & ok[:, rh]
    any_hip = ok[:, lh] | ok[:, rh]

    # --- body frame in world metres -------------------------------------------------------
    left_w = wld[:, ls] - wld[:, rs]
    shoulder_m = _norm(left_w)
    axis = left_w / shoulder_m[:, None]
    # forward = left x up = (left_z, 0, -left_x), normalised
    fwd = left_w[:, ::-1] * _FWD_SIGN / np.hypot(left_w[:, 0], left_w[:, 2])[:, None]

    # --- view -------------------------------------------------------------------------------
    yaw_world = np.degrees(np.arctan2(np.abs(left_w[:, 2]), np.abs(left_w[:, 0])))
    d_img = px[:, ls] - px[:, rs]
    sh_width_px = np.hypot(d_img[:, 0], d_img[:, 1])
    yaw_image = np.degrees(np.arctan2(np.abs(pz[:, ls] - pz[:, rs]), sh_width_px))
    mid_gap = ((px[:, ls] + px[:, rs]) - (px[:, lh] + px[:, rh])) / 2  # shoulder - hip midpoint
    torso_px = np.hypot(mid_gap[:, 0], mid_gap[:, 1])
    # No np.stack of the cues: the per-frame path (N = 1) pays numpy's per-call overhead for
    # every call made here.
    ratio = _clamp(sh_width_px / torso_px / _FRONTAL_WIDTH_TO_TORSO, 0.0, 1.0)
    yaw_ratio = np.degrees(np.arccos(ratio))
    ratio_ok = np.isfinite(yaw_ratio)
    w_ratio = np.where(hips_ok & ratio_ok, 0.5, 0.0)
    yaw = (yaw_world + yaw_image + w_ratio * np.where(ratio_ok, yaw_ratio, 0.0)) / (2.0 + w_ratio)
    third_cue = np.where(w_ratio > 0, yaw_ratio, yaw)
    spread = np.maximum(np.maximum(yaw_world, yaw_image), third_cue) - np.minimum(
        np.minimum(yaw_world, yaw_image), third_cue
    )
    # a collapsed shoulder axis (< 2 cm in 3-D) has no direction: no body frame, no view
    view_ok = sh_ok & np.isfinite(yaw) & (shoulder_m > _MIN_SHOULDER_M)

    # near side: the side whose shoulder + ear sit nearer the camera in world depth
    ear_z_l = np.where(ok[:, le], wld[:, le, 2], wld[:, ls, 2])
    ear_z_r = np.where(ok[:, re], wld[:, re, 2], wld[:, rs, 2])
    dz = (wld[:, ls, 2] + ear_z_l) - (wld[:, rs, 2] + ear_z_r)  # > 0: right side nearer
    vis = np.asarray(batch.visibility, dtype=float)
    dvis = vis[:, re] - vis[:, le]
    near_right = np.where(np.abs(dz) >= 2 * _NEAR_SIDE_MIN_DZ_M, dz > 0, dvis > 0)
    near_code = near_right.astype(np.int8)  # indices into _SIDE_NAMES and VIEWS
    near_side = _SIDE_NAMES[np.where(view_ok, near_code, 2)]

    is_side = view_ok & (yaw > SIDE_MIN_YAW_DEG)
    is_front = view_ok & (yaw < FRONT_MAX_YAW_DEG)
    view_code = np.where(is_front, 2, np.where(view_ok, 3, 4))  # indices into VIEWS
    view = _VIEW_NAMES[np.where(is_side, near_code, view_code)]
    # how far inside its class the yaw is: the distance to the nearer class boundary
    margin = np.minimum(np.abs(yaw - FRONT_MAX_YAW_DEG), np.abs(yaw - SIDE_MIN_YAW_DEG))
    conf = 0.5 + 0.5 * _clamp(margin / _CONFIDENCE_RAMP_DEG, 0.0, 1.0)
    conf = conf * _clamp(1.0 - spread / 90.0, 0.5, 1.0)
    view_confidence = np.where(view_ok, conf, 0.0)
    frontal = view_ok & ~is_side

    # one row per metric, finished together at the end (fewer numpy calls for N = 1)
    raw_values = np.empty((len(METRIC_KEYS), n))
    raw_values.fill(np.nan)  # half of np.full's cost, which infers a dtype from the NaN each call
    raw_usable = np.zeros((len(METRIC_KEYS), n), dtype=bool)

    def put(key: str, value: np.ndarray, usable: np.ndarray) -> None:
        row = _ROW[key]
        raw_values[row] = value
        raw_usable[row] = usable

    # --- neck angle (world, sagittal plane) ----------------------------------------------------
    sh_mid_w = (wld[:, ls] + wld[:, rs]) / 2
    ear_w = _mean_of_usable(wld[:, le], wld[:, re], ok[:, le], ok[:, re])
    v = ear_w - sh_mid_w
    v_s = v - (v * axis).sum(-1, keepdims=True) * axis
    up_c = 0.0 - v_s[:, 1]  # world y points down; 0.0 - keeps a level ear at +0, not -0 (-180 deg)
    horiz = np.hypot(v_s[:, 0], v_s[:, 2])
    neck = np.degrees(np.arctan2(up_c, np.where((v_s * fwd).sum(-1) < 0, -horiz, horiz)))
    neck_ok = view_ok & any_ear
    put("neck_angle_deg", neck, neck_ok)
    put("neck_flexion_deg", 90.0 - neck, neck_ok)

    # Side-only and front-only metrics are computed only when some frame needs them: one frame
    # (the live path) is either, and numpy's per-call overhead dominates at N = 1.
    # protraction and its angle come from the side or the frontal construction: each branch
    # writes its frames straight into the rows
    prot, ang = raw_values[_ROW["shoulder_protraction"]], raw_values[_ROW["shoulder_angle_deg"]]
    prot_ok = raw_usable[_ROW["shoulder_protraction"]]

    # --- CVA estimate and shoulder protraction, side views (pixels, near side) ----------------
    if is_side.any():
        near = np.where(near_right[:, None], _NEAR_RIGHT, _NEAR_LEFT)  # shoulder, ear, hip
        rows = np.arange(n)[:, None]
        near_px, near_ok = px[rows, near], ok[rows, near]
        # (forward, up) = (facing * x, -y); a right profile looks towards image +x
        fw = np.where(near_right[:, None], near_px[..., 0], -near_px[..., 0])
        up = -near_px[..., 1]
        s_ok, e_ok, h_ok = near_ok[:, 0], near_ok[:, 1], near_ok[:, 2]
        d_up, d_fw = up[:, 1] - up[:, 0], fw[:, 1] - fw[:, 0]
        cva = np.degrees(np.arctan2(d_up, d_fw))
        # an ear on the shoulder's pixel has no line to measure (atan2 would say 0 or 180 deg)
        put("cva_deg", cva, is_side & s_ok & e_ok & ((d_up != 0) | (d_fw != 0)))
        prot_side, ang_side = _line_offset(
            fw[:, 0], up[:, 0], fw[:, 1], up[:, 1], fw[:, 2], up[:, 2], e_ok
        )
        np.copyto(prot, prot_side, where=is_side)
        np.copyto(ang, ang_side, where=is_side)
        prot_ok |= is_side & s_ok & h_ok

    # --- frontal forward-head ratios, roll, tilt, lean-in (pixels); protraction (world) -------
    if frontal.any():
        ear_mid_px = (px[:, le] + px[:, re]) / 2

        # signed distance above the shoulder line: the line runs right -> left shoulder; in
        # y-down pixels a point above it has a negative cross product for a frontal body.
        def above_line(p: np.ndarray) -> np.ndarray:
            out: np.ndarray = -_cross2(d_img, p - px[:, rs]) / sh_width_px**2
            return out

        put("head_drop", above_line(ear_mid_px), frontal & ears_ok)
        eye_ok = ok[:, _L.LEFT_EYE] & ok[:, _L.RIGHT_EYE]
        ear_span = np.hypot(*(px[:, le] - px[:, re]).T)
        eye_span = np.hypot(*(px[:, _L.LEFT_EYE] - px[:, _L.RIGHT_EYE]).T) * _EAR_TO_EYE_SPAN
        put(
            "face_scale",
            np.where(ears_ok, ear_span, eye_span) / sh_width_px,
            frontal & (ears_ok | eye_ok),
        )
        put("nose_drop", above_line(px[:, _L.NOSE]), frontal & ok[:, _L.NOSE])

        # midpoints in world metres projected on (forward, up)
        hip_w = _mean_of_usable(wld[:, lh], wld[:, rh], ok[:, lh], ok[:, rh])

        def sag(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (p * fwd).sum(-1), -p[:, 1]

        prot_front, ang_front = _line_offset(*sag(sh_mid_w), *sag(ear_w), *sag(hip_w), any_ear)
        np.copyto(prot, prot_front, where=frontal)
        np.copyto(ang, ang_front, where=frontal)
        prot_ok |= frontal & sh_ok & any_hip

        d_ear = px[:, le] - px[:, re]
        roll = np.degrees(np.arctan2(-d_ear[:, 1], d_ear[:, 0]))
        put("head_roll_deg", roll, frontal & ears_ok & (ear_span > 0))
        put(
            "shoulder_tilt_deg",
            np.degrees(np.arctan2(-d_img[:, 1], d_img[:, 0])),
            frontal & sh_ok & (sh_width_px > 0),
        )
        put("lean_in", sh_width_px / wh[:, 0], frontal & sh_ok)

    raw_usable[_ROW["shoulder_angle_deg"]] = prot_ok

    usable = raw_usable & np.isfinite(raw_values)
    finished = np.where(usable, raw_values, np.nan)
    return Metrics(
        table=finished,
        usable=usable,
        view=view,
        view_confidence=view_confidence,
        near_side=near_side,
    )
