"""Geometry metrics on synthetic skeletons built from known angles, and on real photos."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import skimage.data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture.core.geometry import (
    METRIC_KEYS,
    METRIC_VERSION,
    Metrics,
    compute_metrics,
    frame_metrics,
)
from posture.core.landmarks import N_LANDMARKS, PoseBatch, PoseFrame
from posture.core.landmarks import Landmark as L

# Numpy must not warn anywhere in these tests (NaN handling is part of the contract).
pytestmark = pytest.mark.filterwarnings("error")

TOL_DEG = 0.1


@dataclass(frozen=True)
class Skeleton:
    """A body described in its own sagittal frame (forward, left, up), metres.

    yaw_deg: body rotation about the vertical; 0 faces the camera, +90 shows the right profile
    (looking towards image +x), -90 the left profile. neck_deg: elevation of shoulder-mid -> ear-mid
    above the forward horizontal. The camera is orthographic: pixel = centre + scale * world.
    """

    yaw_deg: float = 0.0
    neck_deg: float = 70.0
    neck_len: float = 0.22
    half_shoulder: float = 0.18
    half_ear: float = 0.075
    torso: float = 0.5
    shoulder_fwd: float = 0.0  # shoulder midpoint ahead of the hip vertical
    ear_extra_fwd: float = 0.0  # unused by the neck definition; for lateral tests
    head_roll_deg: float = 0.0
    shoulder_tilt_deg: float = 0.0
    scale_px_per_m: float = 600.0
    centre_px: tuple[float, float] = (320.0, 300.0)
    image_wh: tuple[int, int] = (640, 480)

    def body_points(self) -> np.ndarray:
        """(33, 3) landmarks in body coordinates (forward, left, up)."""
        p = np.zeros((N_LANDMARKS, 3))
        t = np.radians(self.shoulder_tilt_deg)
        sh_mid = np.array([self.shoulder_fwd, 0.0, 0.0])
        p[L.LEFT_SHOULDER] = sh_mid + self.half_shoulder * np.array([0, np.cos(t), np.sin(t)])
        p[L.RIGHT_SHOULDER] = sh_mid - self.half_shoulder * np.array([0, np.cos(t), np.sin(t)])
        th = np.radians(self.neck_deg)
        ear_mid = sh_mid + self.neck_len * np.array([np.cos(th), 0.0, np.sin(th)])
        r = np.radians(self.head_roll_deg)
        lateral = np.array([0.0, np.cos(r), np.sin(r)])
        p[L.LEFT_EAR] = ear_mid + self.half_ear * lateral
        p[L.RIGHT_EAR] = ear_mid - self.half_ear * lateral
        eye_mid = ear_mid + np.array([0.08, 0.0, 0.01])
        p[L.LEFT_EYE] = eye_mid + 0.03 * lateral
        p[L.RIGHT_EYE] = eye_mid - 0.03 * lateral
        for i in (L.LEFT_EYE_INNER, L.LEFT_EYE_OUTER):
            p[i] = p[L.LEFT_EYE]
        for i in (L.RIGHT_EYE_INNER, L.RIGHT_EYE_OUTER):
            p[i] = p[L.RIGHT_EYE]
        p[L.NOSE] = ear_mid + np.array([0.1, 0.0, -0.02])
        p[L.MOUTH_LEFT] = p[L.NOSE] + np.array([0.0, 0.02, -0.04])
        p[L.MOUTH_RIGHT] = p[L.NOSE] + np.array([0.0, -0.02, -0.04])
        p[L.LEFT_HIP] = np.array([0.0, 0.12, -self.torso])
        p[L.RIGHT_HIP] = np.array([0.0, -0.12, -self.torso])
        for i in range(L.LEFT_ELBOW, N_LANDMARKS):
            if i not in (L.LEFT_HIP, L.RIGHT_HIP):
                side = L.LEFT_HIP if i % 2 else L.RIGHT_HIP
                p[i] = p[side] + np.array([0.3, 0.0, -0.2 * (i - 12) / 20])
        return p

    def world(self) -> np.ndarray:
        """MediaPipe-like world metres: x right, y down, z away from the camera."""
        psi = np.radians(self.yaw_deg)
        fwd = np.array([np.sin(psi), 0.0, -np.cos(psi)])
        left = np.array([np.cos(psi), 0.0, np.sin(psi)])
        up = np.array([0.0, -1.0, 0.0])
        b = self.body_points()
        w = b[:, :1] * fwd + b[:, 1:2] * left + b[:, 2:3] * up
        return w - (w[L.LEFT_HIP] + w[L.RIGHT_HIP]) / 2

    def frame(self, t_s: float = 0.0) -> PoseFrame:
        w = self.world()
        wpx, hpx = self.image_wh
        px = np.array(self.centre_px) + self.scale_px_per_m * w[:, :2]
        img = np.column_stack([px[:, 0] / wpx, px[:, 1] / hpx, self.scale_px_per_m * w[:, 2] / wpx])
        return PoseFrame(
            t_s=t_s,
            image_size=self.image_wh,
            image_xyz=img,
            visibility=np.ones(N_LANDMARKS),
            presence=np.ones(N_LANDMARKS),
            world_xyz=w,
        )


def mirror(frame: PoseFrame) -> PoseFrame:
    """The frame of the horizontally mirrored image: x flips and left/right labels swap."""
    perm = np.arange(N_LANDMARKS)
    for name in L.__members__:
        if name.startswith("LEFT_"):
            a, b = L[name], L["RIGHT_" + name[5:]]
            perm[a], perm[b] = b, a
    img = frame.image_xyz[perm].copy()
    img[:, 0] = 1.0 - img[:, 0]
    wld = frame.world_xyz[perm].copy()
    wld[:, 0] = -wld[:, 0]
    return replace(
        frame,
        image_xyz=img,
        world_xyz=wld,
        visibility=frame.visibility[perm],
        presence=frame.presence[perm],
    )


def metrics_of(*frames: PoseFrame) -> Metrics:
    return compute_metrics(PoseBatch.from_frames(list(frames)))


def value(m: Metrics, key: str, i: int = 0) -> float:
    assert m.valid[key][i], f"{key} unexpectedly invalid"
    return float(m.values[key][i])


# --- constants and shapes -------------------------------------------------------------------


def test_public_constants() -> None:
    assert isinstance(METRIC_VERSION, int) and METRIC_VERSION >= 1
    assert METRIC_KEYS == (
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


def test_shapes_and_row() -> None:
    m = metrics_of(Skeleton(yaw_deg=90).frame(), Skeleton().frame(), PoseFrame.empty(0, (640, 480)))
    assert len(m) == 3
    for k in METRIC_KEYS:
        assert m.values[k].shape == (3,) and m.valid[k].dtype == bool
    assert list(m.view) == ["side_right", "front", "none"]
    assert list(m.near_side)[2] == ""
    row = m.row(0)
    assert set(row) == set(METRIC_KEYS)
    assert row["cva_deg"] == pytest.approx(70.0, abs=TOL_DEG)
    assert row["lean_in"] is None  # frontal metric, side view
    assert all(v is None for v in m.row(2).values())
    # the table and the named rows are the same numbers
    assert m.table.shape == m.usable.shape == (len(METRIC_KEYS), 3)
    for i, k in enumerate(METRIC_KEYS):
        np.testing.assert_array_equal(m.table[i], m.values[k])
        np.testing.assert_array_equal(m.usable[i], m.valid[k])
    assert m.values is m.values  # built once


@pytest.mark.parametrize(
    ("yaw_deg", "view", "confidence"),
    [
        (10, "front", 1.0),
        (25, "front", 0.75),
        (29, "front", 0.55),
        (31, "three_quarter", 0.55),
        (35, "three_quarter", 0.75),
        (45, "three_quarter", 1.0),
        (55, "three_quarter", 0.75),
        (59, "three_quarter", 0.55),
        (61, "side_right", 0.55),
        (65, "side_right", 0.75),
        (80, "side_right", 1.0),
    ],
)
def test_view_confidence_ramps_from_the_nearer_class_boundary(
    yaw_deg: float, view: str, confidence: float
) -> None:
    # cues agree on a clean skeleton: 0.5 at a boundary, +0.05 per degree inside, 1.0 from 10
    m = metrics_of(Skeleton(yaw_deg=yaw_deg).frame())
    assert m.view[0] == view
    assert m.view_confidence[0] == pytest.approx(confidence, abs=0.01)


# --- angles recovered from known skeletons -------------------------------------------------------


@pytest.mark.parametrize("neck_deg", [20.0, 45.0, 52.5, 70.0, 90.0, 105.0])
@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
def test_cva_recovered_on_both_profiles(neck_deg: float, yaw_deg: float) -> None:
    m = metrics_of(Skeleton(yaw_deg=yaw_deg, neck_deg=neck_deg).frame())
    assert m.view[0] == ("side_right" if yaw_deg > 0 else "side_left")
    assert m.near_side[0] == ("right" if yaw_deg > 0 else "left")
    assert value(m, "cva_deg") == pytest.approx(neck_deg, abs=TOL_DEG)


@pytest.mark.parametrize("yaw_deg", [0.0, 20.0, 45.0, -45.0, 75.0, 90.0, -90.0])
@pytest.mark.parametrize("neck_deg", [35.0, 65.0, 88.0, 110.0])
def test_neck_angle_recovered_in_any_view(yaw_deg: float, neck_deg: float) -> None:
    m = metrics_of(Skeleton(yaw_deg=yaw_deg, neck_deg=neck_deg).frame())
    assert value(m, "neck_angle_deg") == pytest.approx(neck_deg, abs=TOL_DEG)
    assert value(m, "neck_flexion_deg") == pytest.approx(90.0 - neck_deg, abs=TOL_DEG)


def test_neck_angle_ignores_a_lone_ear_and_lateral_offsets() -> None:
    f = Skeleton(yaw_deg=30.0, neck_deg=60.0).frame()
    vis = f.visibility.copy()
    vis[L.RIGHT_EAR] = 0.0
    m = metrics_of(replace(f, visibility=vis))
    assert value(m, "neck_angle_deg") == pytest.approx(60.0, abs=TOL_DEG)


@pytest.mark.parametrize("roll", [-15.0, 0.0, 7.5, 20.0])
@pytest.mark.parametrize("tilt", [-8.0, 0.0, 4.0])
def test_head_roll_and_shoulder_tilt_front(roll: float, tilt: float) -> None:
    m = metrics_of(Skeleton(head_roll_deg=roll, shoulder_tilt_deg=tilt).frame())
    assert m.view[0] == "front"
    assert value(m, "head_roll_deg") == pytest.approx(roll, abs=TOL_DEG)
    assert value(m, "shoulder_tilt_deg") == pytest.approx(tilt, abs=TOL_DEG)


@pytest.mark.parametrize("neck_deg", [50.0, 75.0, 90.0])
def test_frontal_ratios(neck_deg: float) -> None:
    s = Skeleton(neck_deg=neck_deg)
    m = metrics_of(s.frame())
    width = 2 * s.half_shoulder
    rise = s.neck_len * np.sin(np.radians(neck_deg))
    assert value(m, "head_drop") == pytest.approx(rise / width, abs=1e-9)
    assert value(m, "face_scale") == pytest.approx(2 * s.half_ear / width, abs=1e-9)
    assert value(m, "nose_drop") == pytest.approx((rise - 0.02) / width, abs=1e-9)
    assert value(m, "lean_in") == pytest.approx(width * s.scale_px_per_m / 640, abs=1e-9)


def test_head_drop_unchanged_by_shoulder_tilt() -> None:
    a = metrics_of(Skeleton(neck_deg=80).frame())
    b = metrics_of(Skeleton(neck_deg=80, shoulder_tilt_deg=10, head_roll_deg=10).frame())
    # tilting the shoulders and head together keeps the perpendicular gap up to the tilt's cosine
    assert value(b, "head_drop") == pytest.approx(value(a, "head_drop"), rel=0.02)


def test_face_scale_falls_back_to_eyes() -> None:
    f = Skeleton().frame()
    vis = f.visibility.copy()
    vis[L.LEFT_EAR] = 0.0
    m = metrics_of(replace(f, visibility=vis))
    # eye span 0.06 m x 1.76 in place of the 0.15 m ear span: same scale within 30 %
    assert value(m, "face_scale") == pytest.approx(0.06 * 1.76 / 0.36, rel=1e-9)
    assert not m.valid["head_drop"][0] and not m.valid["head_roll_deg"][0]


def _expected_protraction(s: Skeleton) -> tuple[float, float]:
    th = np.radians(s.neck_deg)
    ear_f = s.shoulder_fwd + s.neck_len * np.cos(th)
    ear_u = s.neck_len * np.sin(th)
    line_f = ear_f * s.torso / (ear_u + s.torso)
    prot = (s.shoulder_fwd - line_f) / np.hypot(s.shoulder_fwd, s.torso)
    ang = np.degrees(np.arctan2(s.shoulder_fwd, s.torso) - np.arctan2(ear_f, ear_u + s.torso))
    return float(prot), float(ang)


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0, 0.0, 15.0])
@pytest.mark.parametrize("fwd", [-0.05, 0.0, 0.04, 0.1])
def test_shoulder_protraction_and_angle(yaw_deg: float, fwd: float) -> None:
    s = Skeleton(yaw_deg=yaw_deg, shoulder_fwd=fwd, neck_deg=60)
    m = metrics_of(s.frame())
    prot, ang = _expected_protraction(s)
    assert value(m, "shoulder_protraction") == pytest.approx(prot, abs=1e-6)
    assert value(m, "shoulder_angle_deg") == pytest.approx(ang, abs=TOL_DEG)


def test_protraction_hip_vertical_fallback_and_no_hips() -> None:
    s = Skeleton(yaw_deg=90, shoulder_fwd=0.1)
    f = s.frame()
    vis = f.visibility.copy()
    vis[[L.LEFT_EAR, L.RIGHT_EAR]] = 0.0
    m = metrics_of(replace(f, visibility=vis))
    assert value(m, "shoulder_protraction") == pytest.approx(0.1 / np.hypot(0.1, 0.5), abs=1e-9)
    assert value(m, "shoulder_angle_deg") == pytest.approx(np.degrees(np.arctan2(0.1, 0.5)), 1e-6)
    assert not m.valid["cva_deg"][0]
    vis[[L.LEFT_HIP, L.RIGHT_HIP]] = 0.0  # at a desk the hips are often out of frame
    vis[[L.LEFT_EAR, L.RIGHT_EAR]] = 1.0
    m = metrics_of(replace(f, visibility=vis))
    assert not m.valid["shoulder_protraction"][0] and not m.valid["shoulder_angle_deg"][0]
    assert m.view[0] == "side_right"
    assert value(m, "cva_deg") == pytest.approx(70.0, abs=TOL_DEG)


# --- view --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaw_deg", "view"),
    [
        (0.0, "front"),
        (12.0, "front"),
        (-20.0, "front"),
        (40.0, "three_quarter"),
        (-45.0, "three_quarter"),
        (52.0, "three_quarter"),
        (70.0, "side_right"),
        (90.0, "side_right"),
        (-75.0, "side_left"),
        (-90.0, "side_left"),
    ],
)
def test_view_classification(yaw_deg: float, view: str) -> None:
    m = metrics_of(Skeleton(yaw_deg=yaw_deg).frame())
    assert m.view[0] == view
    assert 0.25 <= m.view_confidence[0] <= 1.0
    if view in ("front", "three_quarter"):
        assert not m.valid["cva_deg"][0]
    else:
        assert not m.valid["lean_in"][0]


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
def test_an_ear_on_the_shoulders_pixel_gives_no_cva(yaw_deg: float) -> None:
    # atan2 of a zero-length line says 0 or 180 deg depending on the sign of zero: neither is a
    # posture, and 0 would read as the worst forward head
    f = Skeleton(yaw_deg=yaw_deg).frame()
    img = f.image_xyz.copy()
    img[[L.LEFT_EAR, L.RIGHT_EAR], :2] = img[[L.LEFT_SHOULDER, L.RIGHT_SHOULDER], :2]
    m = metrics_of(replace(f, image_xyz=img))
    assert m.view[0].startswith("side_")
    assert not m.valid["cva_deg"][0] and np.isnan(m.values["cva_deg"][0])
    assert m.valid["neck_angle_deg"][0]  # world landmarks untouched


def test_an_ear_level_with_the_shoulders_and_behind_them_is_180_not_minus_180() -> None:
    # neck_angle_deg continues past 90 towards 180 as the ear goes behind; -180 would make
    # neck_flexion_deg 270 instead of -90
    f = Skeleton(yaw_deg=90.0, neck_deg=150.0).frame()
    w = f.world_xyz.copy()
    w[[L.LEFT_EAR, L.RIGHT_EAR], 1] = w[[L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 1].mean()
    m = metrics_of(replace(f, world_xyz=w))
    assert value(m, "neck_angle_deg") == 180.0
    assert value(m, "neck_flexion_deg") == -90.0


def test_view_without_hips_and_confidence_ordering() -> None:
    f = Skeleton(yaw_deg=85).frame()
    vis = f.visibility.copy()
    vis[[L.LEFT_HIP, L.RIGHT_HIP]] = 0.1
    assert metrics_of(replace(f, visibility=vis)).view[0] == "side_right"
    clear = metrics_of(Skeleton(yaw_deg=88).frame()).view_confidence[0]
    borderline = metrics_of(Skeleton(yaw_deg=62).frame()).view_confidence[0]
    assert clear > borderline


# --- invariances ---------------------------------------------------------------------------------


def _assert_same(a: Metrics, b: Metrics, keys: tuple[str, ...] = METRIC_KEYS) -> None:
    assert list(a.view) == list(b.view)
    for k in keys:
        assert np.array_equal(a.valid[k], b.valid[k]), k
        np.testing.assert_allclose(a.values[k], b.values[k], atol=1e-6, err_msg=k)


@pytest.mark.parametrize("yaw_deg", [0.0, 45.0, 90.0, -90.0])
def test_translation_scale_and_aspect_invariance(yaw_deg: float) -> None:
    base = Skeleton(yaw_deg=yaw_deg, neck_deg=58, shoulder_fwd=0.03, head_roll_deg=3)
    moved = replace(base, centre_px=(500.0, 650.0), scale_px_per_m=950.0, image_wh=(1280, 720))
    squeezed = replace(base, image_wh=(480, 640))
    a, b, c = (metrics_of(s.frame()) for s in (base, moved, squeezed))
    keys = tuple(k for k in METRIC_KEYS if k != "lean_in")  # lean_in is relative to the image
    _assert_same(a, b, keys)
    _assert_same(a, c, keys)


@pytest.mark.parametrize("neck_deg", [30.0, 55.0, 80.0, 100.0])
def test_left_profile_and_its_mirror_give_same_cva(neck_deg: float) -> None:
    left = Skeleton(yaw_deg=-90, neck_deg=neck_deg).frame()
    ml, mm = metrics_of(left), metrics_of(mirror(left))
    assert (ml.view[0], mm.view[0]) == ("side_left", "side_right")
    assert value(ml, "cva_deg") == pytest.approx(value(mm, "cva_deg"), abs=1e-9)
    assert value(ml, "cva_deg") == pytest.approx(neck_deg, abs=TOL_DEG)


skeletons = st.builds(
    Skeleton,
    yaw_deg=st.floats(-90, 90),
    neck_deg=st.floats(15, 120),
    neck_len=st.floats(0.12, 0.3),
    half_shoulder=st.floats(0.13, 0.25),
    half_ear=st.floats(0.05, 0.09),
    torso=st.floats(0.35, 0.65),
    shoulder_fwd=st.floats(-0.1, 0.15),
    head_roll_deg=st.floats(-25, 25),
    shoulder_tilt_deg=st.floats(-10, 10),
    scale_px_per_m=st.floats(200, 1500),
    centre_px=st.tuples(st.floats(100, 600), st.floats(100, 400)),
)
ratios = st.floats(0.3, 3.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=skeletons, shift=st.tuples(st.floats(-300, 300), st.floats(-300, 300)), k=ratios, a=ratios)
def test_property_invariant_to_translation_scale_aspect(
    s: Skeleton, shift: tuple[float, float], k: float, a: float
) -> None:
    moved = replace(
        s,
        centre_px=(s.centre_px[0] * k + shift[0], s.centre_px[1] * k + shift[1]),
        scale_px_per_m=s.scale_px_per_m * k,
        image_wh=(int(640 * a) + 1, 480),
    )
    keys = tuple(k for k in METRIC_KEYS if k != "lean_in")
    ma, mb = metrics_of(s.frame()), metrics_of(moved.frame())
    assert list(ma.view) == list(mb.view)
    for key in keys:
        assert ma.valid[key][0] == mb.valid[key][0]
        np.testing.assert_allclose(ma.values[key], mb.values[key], atol=1e-6, rtol=1e-6)


def _expected_neck(s: Skeleton) -> float:
    """The definition in body coordinates: project onto the plane normal to the shoulder axis."""
    t, th = np.radians(s.shoulder_tilt_deg), np.radians(s.neck_deg)
    n = np.array([0.0, np.cos(t), np.sin(t)])
    v = np.array([np.cos(th), 0.0, np.sin(th)])
    v = v - (v @ n) * n
    return float(np.degrees(np.arctan2(v[2], np.copysign(np.hypot(v[0], v[1]), v[0]))))


@settings(max_examples=60, deadline=None)
@given(s=skeletons)
def test_property_neck_angle_and_mirror(s: Skeleton) -> None:
    f = s.frame()
    m, mm = metrics_of(f), metrics_of(mirror(f))
    expected = _expected_neck(s)
    if s.shoulder_tilt_deg == 0:
        assert expected == pytest.approx(s.neck_deg, abs=1e-9)
    assert value(m, "neck_angle_deg") == pytest.approx(expected, abs=TOL_DEG)
    assert value(mm, "neck_angle_deg") == pytest.approx(expected, abs=TOL_DEG)
    assert m.valid["cva_deg"][0] == mm.valid["cva_deg"][0]
    if m.valid["cva_deg"][0]:
        assert value(m, "cva_deg") == pytest.approx(value(mm, "cva_deg"), abs=1e-9)
    if m.valid["head_roll_deg"][0]:
        assert value(mm, "head_roll_deg") == pytest.approx(-value(m, "head_roll_deg"), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    s=skeletons, yaw=st.sampled_from([(0, 20), (38, 52), (70, 90)]), sign=st.sampled_from([1, -1])
)
def test_property_view_from_yaw(s: Skeleton, yaw: tuple[int, int], sign: int) -> None:
    lo, hi = yaw
    for y in (lo, (lo + hi) / 2, hi):
        m = metrics_of(replace(s, yaw_deg=sign * y).frame())
        if hi <= 20:
            assert m.view[0] == "front"
        elif hi <= 52:
            assert m.view[0] == "three_quarter"
        else:
            assert m.view[0] == ("side_right" if sign > 0 else "side_left")
            assert m.near_side[0] == ("right" if sign > 0 else "left")


@settings(max_examples=40, deadline=None)
@given(s=skeletons, drop=st.lists(st.integers(0, N_LANDMARKS - 1), max_size=12))
def test_property_missing_landmarks_never_raise(s: Skeleton, drop: list[int]) -> None:
    f = s.frame()
    img = f.image_xyz.copy()
    img[drop[: len(drop) // 2]] = np.nan
    vis = f.visibility.copy()
    vis[drop[len(drop) // 2 :]] = 0.0
    m = metrics_of(replace(f, image_xyz=img, visibility=vis))
    for k in METRIC_KEYS:
        assert np.array_equal(m.valid[k], np.isfinite(m.values[k])), k


# --- unusable data ------------------------------------------------------------------------------


def test_no_person_all_invisible_all_nan_are_invalid_without_warnings() -> None:
    good = Skeleton(yaw_deg=90).frame()
    invisible = replace(good, visibility=np.zeros(N_LANDMARKS))
    nan = replace(good, image_xyz=np.full((33, 3), np.nan), world_xyz=np.full((33, 3), np.nan))
    zero = replace(good, image_xyz=np.zeros((33, 3)), world_xyz=np.zeros((33, 3)))
    m = metrics_of(PoseFrame.empty(1.0, (640, 480)), invisible, nan, zero, good)
    for k in METRIC_KEYS:
        assert not m.valid[k][:4].any(), k
        assert np.isnan(m.values[k][:4]).all(), k
    assert list(m.view[:3]) == ["none"] * 3
    assert list(m.view_confidence[:3]) == [0.0] * 3
    assert m.valid["cva_deg"][4]


def test_min_visibility_threshold() -> None:
    f = Skeleton(yaw_deg=90).frame()
    f = replace(f, visibility=np.full(N_LANDMARKS, 0.6))
    b = PoseBatch.from_frames([f])
    assert compute_metrics(b, min_visibility=0.5).valid["cva_deg"][0]
    assert not compute_metrics(b, min_visibility=0.7).valid["cva_deg"][0]


def test_empty_batch() -> None:
    m = compute_metrics(PoseBatch.from_frames([]))
    assert len(m) == 0 and all(m.values[k].shape == (0,) for k in METRIC_KEYS)


def test_frame_metrics_matches_batch() -> None:
    # every view in one batch: the per-frame path computes only its view's metrics
    poses = ((90, 50), (-90, 50), (0, 80), (45, 60))
    frames = [Skeleton(yaw_deg=y, neck_deg=n).frame() for y, n in poses]
    frames.append(PoseFrame.empty(0.0, (640, 480)))
    batch = metrics_of(*frames)
    assert {str(v) for v in batch.view} >= {"side_left", "side_right", "front", "none"}
    for i, f in enumerate(frames):
        one = frame_metrics(f)
        assert one.view[0] == batch.view[i]
        assert one.near_side[0] == batch.near_side[i]
        assert one.view_confidence[0] == batch.view_confidence[i]
        assert one.row(0) == batch.row(i)


# --- real photos through the real model ----------------------------------------------------------


@pytest.mark.model
def test_real_photos_view_and_neck(image_pose) -> None:  # type: ignore[no-untyped-def]
    astro = image_pose.detect(skimage.data.astronaut(), color="rgb")
    camera = image_pose.detect(skimage.data.camera())
    m = metrics_of(astro, camera)
    assert m.view[0] == "front"
    assert m.view[1] in ("side_left", "side_right", "three_quarter")
    assert value(m, "neck_flexion_deg", 1) > value(m, "neck_flexion_deg", 0) + 10
    assert abs(value(m, "head_roll_deg", 0)) < 20
    assert abs(value(m, "shoulder_tilt_deg", 0)) < 10
    assert 0.5 < value(m, "head_drop", 0) < 1.0
