"""Calibration: a neutral-posture baseline per metric, its quality gates, and the profile model.

Theory of operation
-------------------
The user sits in their normal good posture for a few seconds while the monitor records metrics.
`fit_baseline` keeps the *valid* frames (a person, head and shoulders inside the image, bright
enough, the dominant view) and summarises each metric by its median and MAD (raw median absolute
deviation, not scaled to a standard deviation). Medians ignore the odd bad frame; the MAD says how
still the person and the pose model were, and the judge uses it as the noise scale for ratio
metrics. Quality gates run first and raise `CalibrationError` with a plain message and a fix:
no frames, too dark, no person, head or shoulders out of frame, the view changed, too few valid
frames, too much movement.

An optional second step, `fit_glance`, records the user glancing at the keyboard and the bottom of
the screen. The 95th percentile of how far each head metric moved in the "worse" direction becomes
the profile's glance range; the judge widens its thresholds by it so a normal glance never counts
as a slouch. Glance ranges are capped so a slouched "glance" cannot switch detection off.

A `Profile` is the versioned, JSON-serialisable result. It records what it is valid for (view
family, pose model checksum, metric-definition version); `check_profile` refuses a profile that
does not match what the monitor sees with `ProfileMismatchError` saying why and to recalibrate.
Left and right profiles are one family: the CVA estimate is mirrored so both read the same.
`default_profile` builds the uncalibrated population profile from `calibration/default.json`.

Everything here is pure: arrays in, dataclasses out; the created time is passed in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from posture.core.config import CalibrationConfig
from posture.core.errors import CalibrationError, ProfileError, ProfileMismatchError

logger = logging.getLogger(__name__)

PROFILE_SCHEMA_VERSION = 1
"""Version of the profile JSON layout (not of the metric definitions)."""

Unit = Literal["deg", "ratio"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How to read a metric: which way is worse and in what unit.

    direction: +1 when larger is worse, -1 when smaller is worse, 0 when any departure from the
    baseline is worse (tilts); deviations are signed so that positive always means worse.
    """

    direction: int
    unit: Unit


METRIC_SPECS: dict[str, MetricSpec] = {
    "cva_deg": MetricSpec(-1, "deg"),  # smaller CVA = head further forward
    "neck_angle_deg": MetricSpec(-1, "deg"),
    "neck_flexion_deg": MetricSpec(+1, "deg"),
    "head_drop": MetricSpec(-1, "ratio"),  # ear height above the shoulder line; falls on a drop
    "face_scale": MetricSpec(+1, "ratio"),  # grows as the head comes towards the camera
    "nose_drop": MetricSpec(-1, "ratio"),  # nose height above the shoulder line
    "shoulder_protraction": MetricSpec(+1, "ratio"),
    "shoulder_angle_deg": MetricSpec(+1, "deg"),
    "head_roll_deg": MetricSpec(0, "deg"),
    "shoulder_tilt_deg": MetricSpec(0, "deg"),
    "lean_in": MetricSpec(+1, "ratio"),
}
"""Every metric `posture.core.geometry` produces, with its worse direction and unit."""

VIEW_FAMILIES: dict[str, str] = {
    "side_left": "side",
    "side_right": "side",
    "front": "front",
    "three_quarter": "three_quarter",
}
"""Views that share a profile. Left and right profiles are mirrored by the geometry, so one
calibration serves both; a front profile never serves a side view or the reverse."""

PRIMARY_METRICS: dict[str, tuple[str, ...]] = {
    "side": ("cva_deg",),
    "front": ("face_scale", "head_drop", "nose_drop"),
    "three_quarter": ("face_scale", "head_drop", "nose_drop"),
}
"""Per view family, the metrics a baseline cannot do without (the forward-head signals)."""

GLANCE_METRICS: tuple[str, ...] = (
    "cva_deg",
    "neck_angle_deg",
    "neck_flexion_deg",
    "head_drop",
    "nose_drop",
    "face_scale",
)
"""Metrics a glance at the keyboard moves; the glance step learns how far."""

GLANCE_QUANTILE = 0.95


def view_family(view: str) -> str:
    """Return the family of a view ("side", "front", "three_quarter"), "" for "none"."""
    return VIEW_FAMILIES.get(view, "")


@dataclass(frozen=True, slots=True)
class Baseline:
    """A metric's neutral value: median and raw MAD over `n` valid calibration frames."""

    median: float
    mad: float
    n: int = 0


@dataclass(frozen=True, slots=True)
class Profile:
    """A calibration profile: the baseline and what it is valid for.

    view: the calibrated view (its family is what must match later).
    source: where the frames came from (camera index, file) or "population-default".
    model_name, model_sha256: the pose model; None for the population default (model-agnostic).
    metric_version: `posture.core.geometry.METRIC_VERSION` when calibrated.
    glance: per metric, how far a normal glance moves it in the worse direction (>= 0).
    cva_offset_deg: this setup's CVA estimate minus clinical CVA, to report clinical-equivalent
        values (provisional population value in the default profile).
    limits: absolute population limits (default profile only): a metric worse than its limit is a
        fault regardless of baseline. Empty for calibrated profiles.
    created_utc: ISO 8601 UTC time, passed in by the shell.
    """

    name: str
    view: str
    source: str
    model_name: str | None
    model_sha256: str | None
    metric_version: int
    baseline: Mapping[str, Baseline]
    created_utc: str
    glance: Mapping[str, float] = field(default_factory=dict)
    cva_offset_deg: float = 0.0
    limits: Mapping[str, float] = field(default_factory=dict)
    n_frames: int = 0
    n_valid: int = 0
    schema_version: int = PROFILE_SCHEMA_VERSION

    @property
    def family(self) -> str:
        """The view family this profile serves."""
        return view_family(self.view)

    def serves(self, view: str) -> bool:
        """Whether frames seen in `view` can be judged against this profile.

        Same view family, or, for the population default, either frontal family: its frontal
        norms (tilt only) are the same for front and three-quarter views, while a person's own
        frontal baseline is not.
        """
        fam = view_family(view)
        if fam == self.family:
            return True
        frontal = ("front", "three_quarter")
        return not self.calibrated and fam in frontal and self.family in frontal

    @property
    def calibrated(self) -> bool:
        """True for a personal calibration, False for the population default."""
        return self.model_sha256 is not None

    def deviation(self, metric: str, value: float) -> float:
        """Signed distance from baseline, positive = worse; NaN when invalid or not calibrated."""
        base = self.baseline.get(metric)
        spec = METRIC_SPECS.get(metric)
        if base is None or spec is None or not math.isfinite(value):
            return math.nan
        d = value - base.median
        return abs(d) if spec.direction == 0 else spec.direction * d

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (see calibration/profile.schema.json)."""
        model = (
            None
            if self.model_name is None and self.model_sha256 is None
            else {"name": self.model_name, "sha256": self.model_sha256}
        )
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "view": self.view,
            "source": self.source,
            "model": model,
            "metric_version": self.metric_version,
            "created_utc": self.created_utc,
            "baseline": {
                k: {"median": b.median, "mad": b.mad, "n": b.n} for k, b in self.baseline.items()
            },
            "glance": dict(self.glance),
            "cva_offset_deg": self.cva_offset_deg,
            "limits": dict(self.limits),
            "frames": {"total": self.n_frames, "valid": self.n_valid},
        }

    @classmethod
    def from_dict(cls, data: object, where: str = "profile") -> Profile:
        """Parse and validate the JSON form; ProfileError names `where`, the field and the fix."""
        return _profile_from_dict(data, where)


def _bad(where: str, what: str) -> ProfileError:
    return ProfileError(
        f"{where}: {what}. Fix: recalibrate (posture calibrate) or delete the file."
    )


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _profile_from_dict(data: object, where: str) -> Profile:
    if not isinstance(data, dict):
        raise _bad(where, f"expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version")
    if version != PROFILE_SCHEMA_VERSION:
        raise ProfileMismatchError(
            f"{where}: profile format version {version!r}, this posture reads version "
            f"{PROFILE_SCHEMA_VERSION}",
            "recalibrate (posture calibrate)",
        )
    required = ("name", "view", "source", "metric_version", "created_utc", "baseline")
    missing = [k for k in required if k not in data]
    if missing:
        raise _bad(where, f"missing field(s) {', '.join(missing)}")
    known = set(required) | {
        "schema_version",
        "model",
        "glance",
        "cva_offset_deg",
        "limits",
        "frames",
    }
    extra = sorted(set(data) - known)
    if extra:
        raise _bad(where, f"unknown field(s) {', '.join(extra)}")
    for key in ("name", "source", "created_utc"):
        if not isinstance(data[key], str):
            raise _bad(where, f"field {key!r} must be a string, found {data[key]!r}")
    if data["view"] not in VIEW_FAMILIES:
        raise _bad(where, f"field 'view' is {data['view']!r}; allowed: {', '.join(VIEW_FAMILIES)}")
    mv = data["metric_version"]
    if not isinstance(mv, int) or isinstance(mv, bool) or mv < 1:
        raise _bad(where, f"field 'metric_version' must be a positive integer, found {mv!r}")
    model = data.get("model")
    model_name: str | None = None
    model_sha: str | None = None
    if model is not None:
        if not isinstance(model, dict) or set(model) != {"name", "sha256"}:
            raise _bad(where, 'field \'model\' must be null or {"name": ..., "sha256": ...}')
        model_name, model_sha = model["name"], model["sha256"]
        if not isinstance(model_name, str) or not (
            isinstance(model_sha, str)
            and len(model_sha) == 64
            and all(c in "0123456789abcdef" for c in model_sha)
        ):
            raise _bad(where, "model.name must be a string, model.sha256 64 lowercase hex digits")
    baseline = _parse_baseline(data["baseline"], where)
    glance = _parse_floats(data.get("glance", {}), where, "glance", nonneg=True)
    limits = _parse_floats(data.get("limits", {}), where, "limits", nonneg=False)
    offset = data.get("cva_offset_deg", 0.0)
    if not _num(offset) or not -90.0 <= float(offset) <= 90.0:
        raise _bad(
            where, f"field 'cva_offset_deg' must be a number from -90 to 90, found {offset!r}"
        )
    frames = data.get("frames", {"total": 0, "valid": 0})
    if (
        not isinstance(frames, dict)
        or set(frames) != {"total", "valid"}
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in frames.values()
        )
    ):
        raise _bad(where, 'field \'frames\' must be {"total": int >= 0, "valid": int >= 0}')
    return Profile(
        name=data["name"],
        view=data["view"],
        source=data["source"],
        model_name=model_name,
        model_sha256=model_sha,
        metric_version=mv,
        baseline=baseline,
        created_utc=data["created_utc"],
        glance=glance,
        cva_offset_deg=float(offset),
        limits=limits,
        n_frames=frames["total"],
        n_valid=frames["valid"],
    )


def _parse_baseline(raw: object, where: str) -> dict[str, Baseline]:
    if not isinstance(raw, dict):
        raise _bad(where, "field 'baseline' must be an object of metric -> {median, mad, n}")
    out: dict[str, Baseline] = {}
    for metric, b in raw.items():
        if metric not in METRIC_SPECS:
            raise _bad(where, f"baseline has unknown metric {metric!r}")
        if (
            not isinstance(b, dict)
            or not {"median", "mad"} <= set(b) <= {"median", "mad", "n"}
            or not _num(b["median"])
            or not _num(b["mad"])
            or b["mad"] < 0
            or not isinstance(b.get("n", 0), int)
        ):
            raise _bad(
                where,
                f"baseline.{metric} must be {{median: number, mad: number >= 0, n}}, found {b!r}",
            )
        out[metric] = Baseline(float(b["median"]), float(b["mad"]), int(b.get("n", 0)))
    return out


def _parse_floats(raw: object, where: str, name: str, *, nonneg: bool) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise _bad(where, f"field {name!r} must be an object of metric -> number")
    out: dict[str, float] = {}
    for metric, v in raw.items():
        if metric not in METRIC_SPECS:
            raise _bad(where, f"{name} has unknown metric {metric!r}")
        if not _num(v) or (nonneg and v < 0):
            kind = "non-negative number" if nonneg else "number"
            raise _bad(where, f"{name}.{metric} must be a {kind}")
        out[metric] = float(v)
    return out


def check_profile(
    profile: Profile,
    *,
    view: str,
    metric_version: int,
    model_sha256: str | None = None,
) -> None:
    """Refuse a profile that does not fit what the monitor sees (ProfileMismatchError).

    view: the view the monitor currently sees; only its family must match (side_left and
    side_right are one family). model_sha256: the loaded pose model; not checked when either side
    is None (the population default is model-agnostic).
    """
    fix = f"recalibrate: posture calibrate --profile {profile.name}"
    if profile.metric_version != metric_version:
        raise ProfileMismatchError(
            f"profile {profile.name!r} was made with metric version {profile.metric_version}, "
            f"this posture computes version {metric_version}",
            fix,
        )
    fam = view_family(view)
    if fam and fam != profile.family:
        raise ProfileMismatchError(
            f"profile {profile.name!r} was calibrated in {profile.family} view ({profile.view}), "
            f"the camera now sees {fam} view ({view})",
            f"{fix}, or move the camera back",
        )
    if (
        profile.model_sha256 is not None
        and model_sha256 is not None
        and profile.model_sha256 != model_sha256
    ):
        raise ProfileMismatchError(
            f"profile {profile.name!r} was made with pose model {profile.model_name} "
            f"({profile.model_sha256[:12]}...), the loaded model is {model_sha256[:12]}...",
            f"recalibrate with the model you use now (posture calibrate --profile {profile.name} "
            f"--model FILE|NAME), or run with {_model_hint(profile.model_name)}",
        )


def _model_hint(model_name: str | None) -> str:
    """How to load a profile's model again: by name when it is a known one, else its file."""
    if model_name and model_name.startswith("pose_landmarker_"):
        return f"--model {model_name}"
    return f"--model and the .task file it was made with ({model_name})"


@dataclass(frozen=True, slots=True)
class BaselineFit:
    """What `fit_baseline` learned: the dominant view and a baseline per usable metric."""

    view: str
    baseline: dict[str, Baseline]
    n_frames: int
    n_valid: int


FloatArray = npt.NDArray[np.float64]


def _as_arrays(
    metrics: Mapping[str, npt.ArrayLike],
    person: npt.ArrayLike,
    luma: npt.ArrayLike,
    in_frame: npt.ArrayLike,
    views: npt.ArrayLike,
) -> tuple[
    dict[str, FloatArray],
    npt.NDArray[np.bool_],
    FloatArray,
    npt.NDArray[np.bool_],
    npt.NDArray[np.str_],
]:
    p = np.asarray(person, dtype=bool).reshape(-1)
    n = p.shape[0]
    lu = np.asarray(luma, dtype=float).reshape(-1)
    fr = np.asarray(in_frame, dtype=bool).reshape(-1)
    vw = np.asarray(views, dtype=str).reshape(-1)
    ms = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in metrics.items()}
    for name, arr in [("luma", lu), ("in_frame", fr), ("views", vw), *ms.items()]:
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} frames, person has {n}")
    return ms, p, lu, fr, vw


def _gate_frames(
    ms: Mapping[str, FloatArray],
    p: npt.NDArray[np.bool_],
    lu: FloatArray,
    fr: npt.NDArray[np.bool_],
    vw: npt.NDArray[np.str_],
    cfg: CalibrationConfig,
    step: str,
    family: str | None = None,
) -> tuple[str, npt.NDArray[np.bool_]]:
    """Shared quality gates; returns the dominant view and the valid-frame mask."""
    n = p.shape[0]
    if n == 0:
        raise CalibrationError(
            f"{step}: the source gave no frames. Fix: check the camera works "
            "(posture analyze --source ...) and is not used by another program."
        )
    lit = np.isfinite(lu) & (lu >= cfg.min_luma)
    finite = np.isfinite(lu)
    median_luma = float(np.median(lu[finite])) if finite.any() else 0.0
    if median_luma < cfg.min_luma:
        raise CalibrationError(
            f"{step}: too dark (median brightness {median_luma:.0f} of 255, need "
            f"{cfg.min_luma:.0f}). Fix: turn on a light facing you, or open the camera shutter."
        )
    share = float(p.mean())
    if share < cfg.min_person_fraction:
        raise CalibrationError(
            f"{step}: no person in {100 * (1 - share):.0f}% of frames. Fix: sit in front of the "
            "camera so it sees your head and shoulders, then try again."
        )
    seen = p & lit
    in_share = float(fr[seen].mean()) if seen.any() else 0.0
    if in_share < cfg.min_in_frame_fraction:
        raise CalibrationError(
            f"{step}: your head or shoulders were outside the picture in "
            f"{100 * (1 - in_share):.0f}% of frames. Fix: move back or tilt the camera so your "
            "head and both shoulders are fully visible."
        )
    fams = np.array([view_family(str(v)) for v in vw[seen]], dtype=str)
    known = fams[fams != ""]
    if known.size == 0:
        raise CalibrationError(
            f"{step}: the view could not be told in any frame. Fix: face the camera squarely "
            "(front) or turn fully sideways (side), with shoulders visible."
        )
    names, counts = np.unique(known, return_counts=True)
    dominant = str(names[int(np.argmax(counts))]) if family is None else family
    agree = float(np.mean(fams == dominant))
    if agree < cfg.min_view_fraction:
        parts = ", ".join(
            f"{nm} {100 * c / fams.size:.0f}%" for nm, c in zip(names, counts, strict=True)
        )
        expected = "" if family is None else f" (the profile is {family} view)"
        raise CalibrationError(
            f"{step}: the view changed during calibration ({parts}){expected}. Fix: keep the "
            "camera still and keep facing the same way for the whole recording."
        )
    fam_all = np.array([view_family(str(v)) for v in vw], dtype=str)
    valid = p & fr & lit & (fam_all == dominant)
    in_fam = vw[valid]
    views_u, vcounts = np.unique(in_fam, return_counts=True)
    view = str(views_u[int(np.argmax(vcounts))]) if in_fam.size else dominant
    return view, valid


def fit_baseline(
    metrics: Mapping[str, npt.ArrayLike],
    *,
    person: npt.ArrayLike,
    luma: npt.ArrayLike,
    in_frame: npt.ArrayLike,
    views: npt.ArrayLike,
    config: CalibrationConfig | None = None,
    seconds: float | None = None,
) -> BaselineFit:
    """Robust per-metric baseline (median, MAD) over valid frames, after the quality gates.

    metrics: metric key -> (N,) values, NaN where invalid. person: (N,) a person was found.
    luma: (N,) mean frame brightness 0-255. in_frame: (N,) head and both shoulders inside the
    image. views: (N,) view strings. seconds: how long was sampled (default the configured
    `duration_s`), for the fixes to name. Raises CalibrationError with a message and fix.
    """
    cfg = config or CalibrationConfig()
    duration_s = cfg.duration_s if seconds is None else seconds
    ms, p, lu, fr, vw = _as_arrays(metrics, person, luma, in_frame, views)
    step = "calibration"
    view, valid = _gate_frames(ms, p, lu, fr, vw, cfg, step)
    family = view_family(view)
    primary = [m for m in PRIMARY_METRICS[family] if m in ms]
    usable = valid & (np.any([np.isfinite(ms[m]) for m in primary], axis=0) if primary else False)
    n_valid = int(np.count_nonzero(usable))
    n_frames = int(p.shape[0])
    if n_frames < cfg.min_valid_frames:
        # Not the sitter's fault: the source gave too few frames (a short file, few images).
        valid_part = "all valid" if n_valid == n_frames else f"{n_valid} valid"
        raise CalibrationError(
            f"{step}: only {n_frames} frame{'s' if n_frames != 1 else ''} in all "
            f"({valid_part}); a baseline needs {cfg.min_valid_frames} valid frames. Fix: sample "
            "for longer (--seconds), or give a longer video or a folder with more images."
        )
    if n_valid < cfg.min_valid_frames:
        raise CalibrationError(
            f"{step}: only {n_valid} valid frames of {n_frames} "
            f"(need {cfg.min_valid_frames}). Fix: sit still in view for the whole "
            f"{duration_s:g} s, with good light, and try again."
        )
    baseline: dict[str, Baseline] = {}
    for key, arr in ms.items():
        if key not in METRIC_SPECS:
            continue
        x = arr[valid & np.isfinite(arr)]
        if x.size < cfg.min_valid_frames:
            continue
        med = float(np.median(x))
        baseline[key] = Baseline(med, float(np.median(np.abs(x - med))), int(x.size))
    for key in primary:
        b = baseline.get(key)
        if b is None:
            continue
        limit = cfg.max_mad_deg if METRIC_SPECS[key].unit == "deg" else cfg.max_mad_ratio
        if b.mad > limit:
            unit = " deg" if METRIC_SPECS[key].unit == "deg" else ""
            raise CalibrationError(
                f"{step}: too much movement ({key} varied by +/-{b.mad:.3g}{unit}, allowed "
                f"{limit:g}{unit}). Fix: sit still in your normal good posture for the whole "
                f"{duration_s:g} s."
            )
    if not any(k in baseline for k in primary):
        raise CalibrationError(
            f"{step}: none of {', '.join(PRIMARY_METRICS[family])} could be measured. Fix: make "
            "sure your ear and shoulder nearest the camera are visible and well lit."
        )
    return BaselineFit(view, baseline, n_frames, n_valid)


def fit_glance(
    metrics: Mapping[str, npt.ArrayLike],
    profile: Profile,
    *,
    person: npt.ArrayLike,
    luma: npt.ArrayLike,
    in_frame: npt.ArrayLike,
    views: npt.ArrayLike,
    config: CalibrationConfig | None = None,
) -> dict[str, float]:
    """How far a normal glance moves each head metric in the worse direction (capped, >= 0).

    Record the user looking at the keyboard, then the bottom of the screen. Raises
    CalibrationError when the frames fail the gates or no glance was seen at all.
    """
    cfg = config or CalibrationConfig()
    ms, p, lu, fr, vw = _as_arrays(metrics, person, luma, in_frame, views)
    step = "glance step"
    _, valid = _gate_frames(ms, p, lu, fr, vw, cfg, step, family=profile.family)
    glance: dict[str, float] = {}
    seen_move = False
    for key in GLANCE_METRICS:
        base = profile.baseline.get(key)
        if base is None or key not in ms:
            continue
        x = ms[key][valid & np.isfinite(ms[key])]
        if x.size < max(3, cfg.min_valid_frames // 3):
            continue
        spec = METRIC_SPECS[key]
        dev = np.abs(x - base.median) if spec.direction == 0 else spec.direction * (x - base.median)
        extent = float(np.quantile(dev, GLANCE_QUANTILE))
        cap = cfg.glance_cap_deg if spec.unit == "deg" else cfg.glance_cap_ratio
        if extent > cap:
            logger.info("glance range of %s capped from %.3g to %.3g", key, extent, cap)
        glance[key] = min(max(extent, 0.0), cap)
        # A still person's 95th percentile sits near 2.4 MAD; a real glance moves well past 4.
        noise = 4.0 * max(base.mad, 0.5 if spec.unit == "deg" else 0.005)
        seen_move = seen_move or extent > noise
    if not glance:
        raise CalibrationError(
            f"{step}: too few valid frames to measure a glance. Fix: stay in view and keep the "
            "lights on while you glance down."
        )
    if not seen_move:
        raise CalibrationError(
            f"{step}: no glance was seen. Fix: look at your keyboard, then at the bottom of "
            "your screen, moving only your eyes and head as you normally do."
        )
    return glance


def make_profile(
    fit: BaselineFit,
    *,
    name: str,
    source: str,
    model_name: str,
    model_sha256: str,
    metric_version: int,
    created_utc: str,
    glance: Mapping[str, float] | None = None,
    cva_offset_deg: float = 0.0,
) -> Profile:
    """Assemble a calibrated profile from a baseline fit and what it is valid for."""
    return Profile(
        name=name,
        view=fit.view,
        source=source,
        model_name=model_name,
        model_sha256=model_sha256,
        metric_version=metric_version,
        baseline=dict(fit.baseline),
        created_utc=created_utc,
        glance=dict(glance or {}),
        cva_offset_deg=cva_offset_deg,
        n_frames=fit.n_frames,
        n_valid=fit.n_valid,
    )


def with_glance(profile: Profile, glance: Mapping[str, float]) -> Profile:
    """Return the profile with its glance range replaced."""
    return replace(profile, glance=dict(glance))


def default_profile(norms: Mapping[str, Any], view: str) -> Profile:
    """Build the uncalibrated population profile for `view` from calibration/default.json.

    Side views get absolute limits: the CVA estimate equivalent of the clinical cut-off
    (`cva_clinical_cutoff_deg + cva_estimate_minus_clinical_deg`) and ISO 11226's neck flexion
    limit plus the landmark model's measured bias (`neck_flexion_estimate_minus_iso_deg`). Front
    views have no population norm for the frontal ratios: only tilts are judged
    until the user calibrates.
    """
    family = view_family(view)
    if not family:
        raise ProfileError(f"no default profile for view {view!r}; allowed: {list(VIEW_FAMILIES)}")
    try:
        fam = norms["families"][family]
        where = "calibration/default.json"
        baseline = _parse_baseline(fam["baseline"], where)
        limits: dict[str, float] = {}
        offset = float(norms["cva_estimate_minus_clinical_deg"])
        if family == "side":
            limits["cva_deg"] = float(norms["cva_clinical_cutoff_deg"]) + offset
            limits["neck_flexion_deg"] = float(norms["neck_flexion_limit_deg"]) + float(
                norms.get("neck_flexion_estimate_minus_iso_deg", 0.0)
            )
        version = int(norms["metric_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(
            f"calibration/default.json is incomplete or malformed ({exc!r}); reinstall posture"
        ) from exc
    return Profile(
        name="default",
        view=view,
        source="population-default",
        model_name=None,
        model_sha256=None,
        metric_version=version,
        baseline=baseline,
        created_utc="",
        cva_offset_deg=offset,
        limits=limits,
    )


def past_population_limits(profile: Profile, population: Profile) -> dict[str, tuple[float, float]]:
    """Metrics whose calibrated neutral value already breaks the population limit.

    Returns metric -> (neutral median, limit). A person calibrating in their habitual slouch
    rather than sitting tall makes that slouch "neutral", and is never nudged for it: worth a
    word at calibration, though their own baseline still rules (a physio may want it so).
    """
    out: dict[str, tuple[float, float]] = {}
    for metric, limit in population.limits.items():
        base = profile.baseline.get(metric)
        direction = METRIC_SPECS[metric].direction
        if base is not None and direction != 0 and direction * (base.median - limit) > 0:
            out[metric] = (base.median, limit)
    return out
