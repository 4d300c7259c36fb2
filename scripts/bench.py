"""Performance of the whole pipeline against the goals of issue 6, as a table and JSON.

One run measures (all CPU figures are CPU-seconds of this process or the child, so they count
MediaPipe's native threads too; timings on a shared 2-core machine are noisy, so compare the
ratios measured within one run):

- per-stage latency, each stage timed on its calls inside the analyse loop: decode, image
  checks, colour conversion (no resizing: we feed full frames, see docs/PERFORMANCE.md),
  inference, landmark copy, geometry + smoothing, judge, store, and the rest as `other`;
- CPU-seconds per analysed frame for our pipeline (VIDEO-mode tracking) and for the naive
  baseline (IMAGE mode on every full frame, what dorso-linux does), their ratio, and how far the
  CVA estimates of the two agree on the same frames of a side-view clip;
- `posture analyze` throughput on a generated 640 x 480 clip of a real side photo (default
  settings, and every frame);
- the CPU share of one core of `posture monitor --source clip` (a steady good sitter played in
  real time, default settings, adaptive rate) as a subprocess, read from /proc; and of the same
  monitor on a webcam stand-in (`posture.testing.ReplayCamera`: the clip replayed in real time
  from JPEG frames, decoding only the analysed ones, as an MJPEG webcam is read);
- resident memory at start and after 10,000 frames through analyser, judge and store;
- geometry microseconds per frame, batch and single;
- `segmentation_head`: what dropping the landmark network's segmentation head buys
  (`posture.adapters.model_pruning`): VIDEO-mode inference per frame with and without it, taking
  turns on the same frames, and whether the landmarks stay bit-identical;
- `lite`: the pipeline comparison again with our side on the lite model (`--model lite`) and
  the naive baseline still on full: what the cheaper, less accurate model buys (not a goal).

    .venv/bin/python scripts/bench.py [--quick] [--json out.json] [--model PATH] [--filter]
                                      [--lite-model PATH | --no-lite]

`--quick` shrinks every run (a few seconds of model time; for the smoke test) and skips the lite
comparison unless `--lite-model` is given. The model is `--model` or
`posture.adapters.models.resolve()` (honours $POSTURE_MODEL_DIR); the lite model is
`--lite-model` or `resolve("lite")`, built offline from the registries if it is not cached.

Geometry: microseconds per frame for `compute_metrics` over a 10,000-frame batch (goal <= 20 us)
and for a single frame (`frame_metrics`). The batch is built from the real model's landmarks on
the sitting-side photos (tests/data/sitting_side_landmarks.npz) tiled with small noise, so the
view mix and validity pattern are real.

Filter (`--filter`): the One Euro filter's jitter and lag on a synthetic 30 fps CVA stream whose
noise copies what the real model gives on a still side photo under sensor noise and 0.5 px
camera shake (AR(1), SD 1.1 deg, lag-1 correlation 0.75: see `measure_model_noise`, which
re-measures it with the model when `--model` is given).

"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from posture.core.errors import ModelError  # noqa: E402
from posture.core.filters import (  # noqa: E402
    OneEuroParams,
    OneEuroState,
    one_euro_filter_series,
    one_euro_step,
)
from posture.core.geometry import METRIC_KEYS, compute_metrics, frame_metrics  # noqa: E402
from posture.core.landmarks import EARS_AND_SHOULDERS, PoseBatch, PoseFrame  # noqa: E402
from posture.testing import same_landmarks, sensor_noise, sitting_side_dir  # noqa: E402

CACHE = REPO / "tests" / "data" / "sitting_side_landmarks.npz"
FPS = 30.0
NOISE_SD_DEG = 1.1  # measured by measure_model_noise on 3 photos x 90 frames
NOISE_RHO = 0.75


def _real_batch(n: int, seed: int = 0) -> PoseBatch:
    z = np.load(CACHE)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, z["person"].shape[0], n)
    img = z["image_xyz"][idx].astype(float) + rng.normal(0, 0.002, (n, 33, 3))
    wld = z["world_xyz"][idx].astype(float) + rng.normal(0, 0.002, (n, 33, 3))
    return PoseBatch(
        t_s=np.arange(n) / FPS,
        image_wh=z["image_wh"][idx].astype(float),
        image_xyz=img,
        visibility=z["visibility"][idx].astype(float),
        presence=z["presence"][idx].astype(float),
        world_xyz=wld,
        person=z["person"][idx].astype(bool),
    )


def _best_of(fn: object, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def bench_geometry(n: int = 10_000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per frame of compute_metrics on an n-frame batch and on one frame."""
    batch = _real_batch(n)
    compute_metrics(batch)  # warm-up
    batch_s = _best_of(lambda: compute_metrics(batch), repeats)
    i = int(np.flatnonzero(batch.person)[0])
    frame = PoseFrame(
        t_s=0.0,
        image_size=(int(batch.image_wh[i, 0]), int(batch.image_wh[i, 1])),
        image_xyz=batch.image_xyz[i],
        visibility=batch.visibility[i],
        presence=batch.presence[i],
        world_xyz=batch.world_xyz[i],
    )
    k = 300
    single_s = _best_of(lambda: [frame_metrics(frame) for _ in range(k)], repeats) / k
    return {
        "geometry_batch_frames": float(n),
        "geometry_batch_us_per_frame": batch_s / n * 1e6,
        "geometry_single_frame_us": single_s * 1e6,
    }


def bench_filter_step(repeats: int = 5) -> dict[str, float]:
    """Microseconds per One Euro step over all metric keys."""
    k = len(METRIC_KEYS)
    x = np.random.default_rng(1).normal(50, 1, (300, k))

    def run() -> None:
        state = OneEuroState.initial(k)
        for i in range(x.shape[0]):
            _, state = one_euro_step(state, x[i], i / FPS)

    return {"filter_step_us": _best_of(run, repeats) / x.shape[0] * 1e6}


def _ar1(n: int, sd: float, rho: float, rng: np.random.Generator) -> np.ndarray:
    e = rng.normal(0, sd * np.sqrt(1 - rho**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0, sd)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + e[i]
    return out


def filter_response(
    params: OneEuroParams, *, sd: float = NOISE_SD_DEG, rho: float = NOISE_RHO, seed: int = 2
) -> dict[str, float]:
    """Jitter (SD at rest) and step lag of the filter on a noisy 30 fps stream.

    Jitter: SD of the output over 60 s of AR(1) noise around a constant. Lag: time for the mean
    of 200 noisy runs to reach 50 % and 90 % of a 10 deg step.
    """
    rng = np.random.default_rng(seed)
    n_rest = int(60 * FPS)
    t = np.arange(n_rest) / FPS
    rest = one_euro_filter_series(50 + _ar1(n_rest, sd, rho, rng), t, params)
    jitter = float(np.std(rest[int(5 * FPS) :]))
    runs, n = 200, int(8 * FPS)
    t = np.arange(n) / FPS
    step_at = int(3 * FPS)
    truth = np.where(np.arange(n) >= step_at, 40.0, 50.0)
    noise = np.stack([_ar1(n, sd, rho, rng) for _ in range(runs)], axis=1)
    out = one_euro_filter_series(truth[:, None] + noise, t, params).mean(axis=1)
    drop = 50.0 - out[step_at:]
    lag50 = float(np.argmax(drop >= 5.0) / FPS)
    lag90 = float(np.argmax(drop >= 9.0) / FPS)
    return {"jitter_sd_deg": jitter, "lag50_s": lag50, "lag90_s": lag90}


def bench_filter(model: Path | None = None) -> dict[str, object]:
    """Raw noise and the response of a few parameter sets (the default first)."""
    sd, rho = NOISE_SD_DEG, NOISE_RHO
    out: dict[str, object] = {}
    if model is not None:
        sd, rho = measure_model_noise(model)
        out["model_noise_sd_deg"], out["model_noise_rho"] = sd, rho
    sets = {
        "default": OneEuroParams(),
        "raw (no smoothing)": OneEuroParams(min_cutoff_hz=1e6),
        "min_cutoff 1.0, beta 0": OneEuroParams(min_cutoff_hz=1.0, beta=0.0),
        "min_cutoff 0.3, beta 0": OneEuroParams(min_cutoff_hz=0.3, beta=0.0),
        "min_cutoff 0.1, beta 0": OneEuroParams(min_cutoff_hz=0.1, beta=0.0),
        "min_cutoff 0.1, beta 0.02": OneEuroParams(min_cutoff_hz=0.1, beta=0.02),
        "min_cutoff 0.3, beta 0.02, d 1.0": OneEuroParams(
            min_cutoff_hz=0.3, beta=0.02, d_cutoff_hz=1.0
        ),
    }
    for name, p in sets.items():
        out[name] = filter_response(p, sd=sd, rho=rho)
    return out


def measure_model_noise(model: Path, photos: int = 3, frames: int = 90) -> tuple[float, float]:
    """CVA-estimate noise of the real model (VIDEO mode) on still side photos with sensor noise.

    Each photo is repeated `frames` times with Gaussian pixel noise (SD 4) and sub-pixel shake
    (SD 0.5 px); returns the pooled SD and lag-1 autocorrelation of the CVA estimate.
    """
    import csv

    import cv2

    from posture.adapters.pose import MediaPipePose

    data = SIDE_DATA
    with open(data / "labels.csv", newline="") as f:
        files = [r["file"] for r in csv.DictReader(f)]
    rng = np.random.default_rng(0)
    sds, rhos = [], []
    for name in files[5 :: len(files) // photos][:photos]:
        bgr = cv2.imread(str(data / name))
        h, w = bgr.shape[:2]
        out = []
        with MediaPipePose(model, mode="video") as pose:
            for i in range(frames):
                m = np.float32([[1, 0, rng.normal(0, 0.5)], [0, 1, rng.normal(0, 0.5)]])
                im = cv2.warpAffine(bgr, m, (w, h), borderMode=cv2.BORDER_REFLECT)
                im = sensor_noise(im, 4.0, rng)
                out.append(pose.detect(im, t_s=i / FPS))
        cva = compute_metrics(PoseBatch.from_frames(out)).values["cva_deg"][10:]
        cva = cva[np.isfinite(cva)]
        d = cva - cva.mean()
        sds.append(float(np.std(cva)))
        rhos.append(float(np.sum(d[1:] * d[:-1]) / np.sum(d * d)))
    return float(np.sqrt(np.mean(np.square(sds)))), float(np.mean(rhos))


# --- pipeline benchmarks -------------------------------------------------------------------------

SIDE_DATA = sitting_side_dir()
STEADY_PHOTO = "image_20241009_224659_jpg.rf.455cdd67f9795c08ba1be20a12d4cda4.jpg"
"""A 'good' side photo (CVA estimate about 84 deg): the steady good sitter."""
SLOUCH_PHOTO = "bad_posture_20241012_172107_png.rf.32fa87db9887c89def7ec63fecbb7968.jpg"
"""The first 'bad' side photo of the labels (annotated head-shoulder angle 38 deg, CVA estimate
about 33 deg): forward head throughout, and a head drop at the edge of its threshold."""

GOALS = {
    "cpu_ratio_vs_naive": ("<=", 0.6),
    "cva_agreement_median_abs_deg": ("<=", 1.0),
    "pipeline_overhead_share": ("<=", 0.10),
    "monitor_cpu_share_of_core": ("<=", 0.02),
    "camera_monitor_cpu_share_of_core": ("<=", 0.02),
    "away_monitor_cpu_share_of_core": ("<=", 0.02),
    "analyze_fps": (">=", 40.0),
    "geometry_batch_us_per_frame": ("<=", 20.0),
    "memory_growth_mb": ("<", 10.0),
}


def _rss_mb() -> float:
    """Resident set size of this process (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def _side_photo() -> np.ndarray:
    """The steady-sitter photo (BGR) from the sitting-side data, or scikit-image's astronaut."""
    import cv2

    path = SIDE_DATA / STEADY_PHOTO
    if not path.is_file() and (SIDE_DATA / "labels.csv").is_file():
        with open(SIDE_DATA / "labels.csv", newline="") as f:
            path = SIDE_DATA / next(r["file"] for r in csv.DictReader(f) if r["label"] == "good")
    image = cv2.imread(str(path)) if path.is_file() else None
    if image is None:  # no side data: a frontal photo still exercises every stage
        from skimage import data

        image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return image


def slouch_photo_path() -> Path:
    """Where the slouched sitter's photo is (the slouch monitor is skipped without it)."""
    return SIDE_DATA / SLOUCH_PHOTO


def _slouch_photo() -> np.ndarray | None:
    """The slouched sitter (BGR), or None without the sitting-side data."""
    import cv2

    path = slouch_photo_path()
    return cv2.imread(str(path)) if path.is_file() else None


def write_clip(path: Path, frames: list[np.ndarray] | Any, fps: float = 30.0) -> Path:
    """Write BGR frames as an MPEG-4 Part 2 file (what OpenCV can always encode)."""
    import cv2

    writer = None
    for f in frames:
        if writer is None:
            h, w = f.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        writer.write(f)
    if writer is not None:
        writer.release()
    return path


def steady_frames(photo: np.ndarray, n: int, seed: int = 3) -> Any:
    """A still sitter under a live sensor: the photo with per-pixel noise (SD 3) each frame."""
    from posture.testing import moving_photo_clip

    return _still_scene(moving_photo_clip(photo, 1)[0], n, seed)


def empty_desk_frames(n: int, seed: int = 3) -> Any:
    """A desk while its user is away: a real scene with nobody in it (scikit-image's cup of
    coffee on a table), filling a 640 x 480 frame, with the same sensor noise."""
    import cv2
    from skimage import data

    scene = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (640, 480))
    return _still_scene(scene, n, seed)


def restless_frames(
    good: np.ndarray, slouched: np.ndarray, *, lead_s: float, cycles: int, tail_s: float
) -> tuple[Any, float]:
    """A restless slouch and its length in seconds: `lead_s` sitting well, then `cycles` times
    10 s slouched and 2 s sitting up, then `tail_s` sitting well; each stretch as `steady_frames`
    makes it. The monitor keeps deciding here: the case the rate's `max_fps` costs most in
    (session 9)."""
    stretches = [(good, lead_s)] + [(slouched, 10.0), (good, 2.0)] * cycles + [(good, tail_s)]
    frames = (
        frame
        for i, (photo, seconds) in enumerate(stretches)
        for frame in steady_frames(photo, int(round(seconds * 30)), seed=3 + i)
    )
    return frames, sum(seconds for _, seconds in stretches)


def _still_scene(frame: np.ndarray, n: int, seed: int) -> Any:
    """`n` frames of one picture, each with one of 8 fixed noise patterns (cheap to make)."""
    base = frame.astype(np.int16)
    rng = np.random.default_rng(seed)
    noise = [rng.normal(0, 3, base.shape).astype(np.int16) for _ in range(8)]
    for i in range(n):
        yield np.clip(base + noise[(i * 5) % 8], 0, 255).astype(np.uint8)


def bench_decode(clip: Path) -> dict[str, float]:
    """CPU ms per frame of reading a file: grab + retrieve (analysed), grab only (skipped)."""
    import cv2

    out = {}
    for name, retrieve in (("decode_ms", True), ("grab_only_ms", False)):
        cap = cv2.VideoCapture(str(clip))
        n, c0 = 0, time.process_time()
        while cap.grab():
            if retrieve:
                cap.retrieve()
            n += 1
        out[name] = (time.process_time() - c0) / max(n, 1) * 1e3
        cap.release()
    return out


class _Timed:
    """Accumulates process CPU time (all threads) of calls to wrapped functions, by stage.

    Counts only while `on`: module functions shared with the naive baseline (`to_rgb`,
    `_to_frame`) are wrapped in place, and the baseline's calls must not land in our stages.
    A stage called inside another (the store inside the session's step) is counted in both;
    the caller subtracts.
    """

    def __init__(self) -> None:
        self.cpu_s: dict[str, float] = {}
        self.on = True

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            if not self.on:
                return fn(*a, **k)
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.cpu_s[stage] = self.cpu_s.get(stage, 0.0) + time.process_time() - c0

        return timed


def _session(store: Any) -> Any:
    from posture.app import LazyJudge, choose_profile
    from posture.core.config import Settings
    from posture.session import PostureSession

    settings = Settings()
    judge = LazyJudge(settings.judge, choose_profile(None, settings), None)
    return PostureSession(judge=judge, store=store)  # type: ignore[arg-type]


SELF_AGREEMENT_FRAMES = 100
"""Frames on which the naive baseline is compared with itself (plus invisible noise)."""
PIPELINE_CHUNK = 50
"""Frames per turn when ours and the naive baseline alternate."""


def _key_px(frame: Any) -> np.ndarray:
    """The key landmarks of one PoseFrame in pixels, (4, 2); NaN without a person."""
    if not frame.person:
        return np.full((len(EARS_AND_SHOULDERS), 2), np.nan)
    out: np.ndarray = frame.image_xyz[EARS_AND_SHOULDERS, :2] * np.asarray(frame.image_size, float)
    return out


def _px_apart(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Per frame, the mean distance in pixels between the same key landmarks of two runs."""
    n = min(len(a), len(b))
    if n == 0:
        return np.zeros(0)
    d = np.sqrt(((np.array(a[:n]) - np.array(b[:n])) ** 2).sum(-1)).mean(-1)
    out: np.ndarray = d[np.isfinite(d)]
    return out


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def _cva(frame: Any) -> float:
    """One PoseFrame's CVA estimate, NaN without a person or without a side view."""
    return float(frame_metrics(frame).values["cva_deg"][0])


def bench_pipeline(
    model: Path,
    clip: Path,
    n: int,
    tmp: Path,
    naive_model: Path | None = None,
    self_check: bool = True,
) -> dict[str, Any]:
    """Our pipeline and the naive baseline on every frame of `clip` (first n), taking turns.

    Ours, stage by stage: VideoFileSource -> FrameAnalyzer (quality, VIDEO-mode pose, geometry,
    One Euro) -> PostureSession (judge, store). Baseline: decode, BGR->RGB, IMAGE-mode pose,
    geometry, with OpenCV's default thread pool (ours limits it: posture.adapters.opencv).
    The baseline runs `naive_model` (default: `model`), so another model of ours is compared
    with the same naive pipeline; `self_check=False` skips the baseline's self-agreement rerun
    (NaN), which would repeat work a first run already did.
    """
    naive_model = naive_model or model
    import cv2

    from posture.adapters import pose as pose_mod
    from posture.adapters.camera import VideoFileSource
    from posture.adapters.opencv import OPENCV_THREADS
    from posture.adapters.store import HistoryStore
    from posture.core import quality
    from posture.pipeline import FrameAnalyzer

    t = _Timed()
    store = HistoryStore.open(tmp / "bench.sqlite3")
    store.start_session(datetime.now(UTC), kind="analyze", source=str(clip))
    for name in ("record", "record_event", "flush"):
        setattr(store, name, t.wrap("store", getattr(store, name)))
    session = _session(store)
    pose = pose_mod.MediaPipePose(model, mode="video")
    pose._run = t.wrap("inference", pose._run)  # type: ignore[method-assign]  # noqa: SLF001
    analyzer = FrameAnalyzer(pose=pose)
    source = VideoFileSource(clip)
    read = t.wrap("decode", source.read)
    analyze = analyzer.analyze  # its stages are timed below; the rest lands in `other`
    step = t.wrap("session_total", session.step)
    # The stages inside analyze, timed on their calls in this loop: after 20 ms of inference
    # the caches are cold, and the same calls in a tight loop of their own cost far less.
    analyzer.from_pose = t.wrap("geometry_smoothing", analyzer.from_pose)  # type: ignore[method-assign]
    # The product has no seam for timing these, so the script patches the real functions in
    # place for the loop (and `t.on` keeps the baseline's calls of them out of our stages).
    in_place = (
        (pose_mod, "to_rgb", "colour"),
        (pose_mod, "_to_frame", "landmark_copy"),
        (quality, "check_frame", "checks"),
        (quality, "image_stats", "checks"),
    )
    # Ours and the naive baseline (IMAGE mode on every full frame) take turns on chunks of
    # the clip, so a change in the machine's load during the run hits both alike.
    base_cva: list[float] = []
    ours_cva, k = [], 0
    ours_poses: list[Any] = []  # kept for the landmark agreement, measured after the loop
    base_poses: list[Any] = []
    base_images: list[np.ndarray] = []  # the first frames again, for the baseline's self-check
    ours_total = base_total = 0.0
    turn_ratio: list[float] = []  # per turn: how much the verdict moves with the load
    turn_overhead: list[float] = []
    with contextlib.ExitStack() as stack:
        for mod, name, stage in in_place:
            stack.enter_context(mock.patch.object(mod, name, t.wrap(stage, getattr(mod, name))))
        # the naive program runs the model file as it is, segmentation head and all
        p3 = pose_mod.MediaPipePose(naive_model, mode="image", lean=False)
        cap = cv2.VideoCapture(str(clip))
        while k < n:
            cv2.setNumThreads(OPENCV_THREADS)  # what posture.adapters.opencv sets for our process
            t.on = True
            c0 = time.process_time()
            inf0 = t.cpu_s.get("inference", 0.0)
            k0 = k
            while k < min(n, k0 + PIPELINE_CHUNK) and (frame := read()) is not None:
                if session.t0_s is None:
                    session.anchor(frame.t_s, datetime.now(UTC))
                a = analyze(frame.image, frame.t_s)
                step(a)
                ours_cva.append(a.raw["cva_deg"])
                ours_poses.append(a.pose)
                k += 1
            ours_turn = time.process_time() - c0
            inf_turn = t.cpu_s.get("inference", 0.0) - inf0
            ours_total += ours_turn
            cv2.setNumThreads(-1)  # a naive program runs OpenCV with its default thread pool
            t.on = False
            c0 = time.process_time()
            b0 = len(base_cva)
            for _ in range(k - k0):
                ok, bgr = cap.read()
                if not ok:
                    break
                if self_check and len(base_images) < SELF_AGREEMENT_FRAMES:
                    base_images.append(bgr)
                f = p3.detect(bgr)
                base_cva.append(_cva(f))
                base_poses.append(f)
            base_turn = time.process_time() - c0
            base_total += base_turn
            if k == k0:
                break
            if len(base_cva) > b0 and inf_turn > 0:
                turn_ratio.append(
                    round((ours_turn / (k - k0)) / (base_turn / (len(base_cva) - b0)), 3)
                )
                turn_overhead.append(round((ours_turn - inf_turn) / inf_turn, 3))
    cap.release()
    cv2.setNumThreads(OPENCV_THREADS)
    p3.close()
    store.close()
    source.close()
    retries = pose.retries
    pose.close()
    frames = k
    # the baseline against itself: IMAGE mode again on the same frames plus invisible sensor
    # noise (SD 1 grey level): how far apart two runs of the naive pipeline already are
    rng = np.random.default_rng(7)
    again = []
    again_px = []
    if base_images:
        with pose_mod.MediaPipePose(naive_model, mode="image", lean=False) as p4:
            for im in base_images:
                f4 = p4.detect(sensor_noise(im, 1.0, rng))
                again.append(_cva(f4))
                again_px.append(_key_px(f4))
    ours_px, base_px = [_key_px(f) for f in ours_poses], [_key_px(f) for f in base_poses]
    self_diff = np.abs(np.array(again) - np.array(base_cva[: len(again)]))
    self_diff = self_diff[np.isfinite(self_diff)]
    per = {k2: v / frames * 1e3 for k2, v in t.cpu_s.items()}
    stage_ms = {
        "decode": per["decode"],
        "checks": per.get("checks", 0.0),
        "colour": per.get("colour", 0.0),
        "inference": per["inference"],
        "landmark_copy": per.get("landmark_copy", 0.0),
        "geometry_smoothing": per.get("geometry_smoothing", 0.0),
        "judge": per["session_total"] - per.get("store", 0.0),
        "store": per.get("store", 0.0),
    }
    # the rest of ours: the loop, analyse's own lines, the timers themselves
    stage_ms["other"] = ours_total / frames * 1e3 - sum(stage_ms.values())
    ours_ms = ours_total / frames * 1e3
    base_ms = base_total / max(len(base_cva), 1) * 1e3
    a, b = np.array(ours_cva), np.array(base_cva[: len(ours_cva)])
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    return {
        "stage_ms": stage_ms,
        "frames": frames,
        "tracking_redetections": retries,
        "ours_cpu_ms_per_frame": ours_ms,
        "naive_cpu_ms_per_frame": base_ms,
        "cpu_ratio_vs_naive": ours_ms / base_ms,
        "cpu_ratio_per_turn": turn_ratio,
        "pipeline_overhead_per_turn": turn_overhead,
        "pipeline_overhead_share": (ours_ms - per["inference"]) / per["inference"],
        "pipeline_overhead_share_excl_decode": (ours_ms - per["inference"] - per["decode"])
        / per["inference"],
        "cva_frames_compared": int(both.sum()),
        "cva_agreement_median_abs_deg": _median(diff),
        "cva_agreement_p90_abs_deg": float(np.percentile(diff, 90)) if diff.size else math.nan,
        "cva_naive_self_agreement_median_abs_deg": _median(self_diff),
        "landmark_agreement_median_px": _median(_px_apart(ours_px, base_px)),
        "landmark_naive_self_agreement_median_px": _median(_px_apart(again_px, base_px)),
        "cva_mean_ours_deg": float(np.mean(a[both])) if diff.size else math.nan,
        "cva_mean_naive_deg": float(np.mean(b[both])) if diff.size else math.nan,
    }


def bench_segmentation_head(model: Path, clip: Path, n: int) -> dict[str, float]:
    """VIDEO-mode inference per frame with the segmentation head dropped and without, in turns.

    Both instances see the same decoded frames, 50 at a time, so a change of load hits both;
    `identical_share` is the share of frames whose landmarks are bit-identical (should be 1).
    """
    from posture.adapters.camera import VideoFileSource
    from posture.adapters.pose import MediaPipePose

    source = VideoFileSource(clip)
    frames = []
    while len(frames) < n and (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    cpu = {True: 0.0, False: 0.0}
    found: dict[bool, list[Any]] = {True: [], False: []}
    with (
        MediaPipePose(model, mode="video") as lean,
        MediaPipePose(model, mode="video", lean=False) as stock,
    ):
        pruned = lean.pruned_ops
        for c0 in range(0, len(frames), PIPELINE_CHUNK):
            for key, pose in ((True, lean), (False, stock)):
                t0 = time.process_time()
                for f in frames[c0 : c0 + PIPELINE_CHUNK]:
                    found[key].append(pose.detect(f.image, f.t_s))
                cpu[key] += time.process_time() - t0
    same = [same_landmarks(a, b) for a, b in zip(found[True], found[False], strict=True)]
    k = max(len(frames), 1)
    return {
        "lean_ms": cpu[True] / k * 1e3,
        "stock_ms": cpu[False] / k * 1e3,
        "lean_vs_stock": cpu[True] / max(cpu[False], 1e-9),
        "ops_kept": float(pruned[0] if pruned else math.nan),
        "ops_in_model": float(pruned[1] if pruned else math.nan),
        "identical_share": float(np.mean(same)) if same else math.nan,
    }


def bench_analyze(model: Path, clip: Path, tmp: Path) -> dict[str, float]:
    """`posture analyze VIDEO` (in process, with a history store): frames read per wall second
    at default settings, and with every frame analysed."""
    from posture.adapters.store import HistoryStore
    from posture.analyze_video import analyze_video
    from posture.core.config import Settings

    out = {}
    for name, every in (("analyze", False), ("analyze_every_frame", True)):
        store = HistoryStore.open(tmp / f"{name}.sqlite3")
        t0 = time.perf_counter()
        doc = analyze_video(
            clip,
            Settings(),
            model_path=model,
            model_sha256=None,
            model_name=model.stem,
            store=store,
            every_frame=every,
        )
        wall = time.perf_counter() - t0
        store.close()
        s = doc["summary"]
        out[f"{name}_fps"] = s["frames_read"] / wall
        out[f"{name}_frames_analysed"] = float(s["frames_analysed"])
    out["analyze_frames_read"] = float(s["frames_read"])
    return out


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a running process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _isolated_env(home: Path) -> dict[str, str]:
    """The environment of a child monitor: its own HOME and XDG dirs, this checkout importable."""
    env = dict(os.environ)
    for var, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["PYTHONPATH"] = str(REPO)
    return env


def start_monitor(model: Path, clip: Path, tmp: Path) -> subprocess.Popen[bytes]:
    """`posture monitor --source clip` in real time, default settings, isolated home."""
    env = _isolated_env(tmp / "home")
    cmd = [
        sys.executable,
        "-m",
        "posture",
        "monitor",
        "--source",
        str(clip),
        "--model",
        str(model),
        "--no-notify",
        "--no-control",
        "--db",
        str(tmp / "monitor.sqlite3"),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def start_camera_monitor(model: Path, clip: Path, tmp: Path) -> subprocess.Popen[bytes]:
    """The same monitor (default settings) on a webcam stand-in: `posture.testing.ReplayCamera`
    replays the clip in real time from JPEG-encoded frames and decodes only the analysed ones,
    as `CameraSource` does with an MJPEG webcam (a file source also decodes every skipped frame)."""
    env = _isolated_env(tmp / "home")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--camera-monitor-child",
        str(clip),
        "--model",
        str(model),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _camera_monitor_child(model: Path, clip: Path) -> int:
    """Run `posture monitor` as built by the CLI, with the webcam stand-in as its source."""
    from posture.adapters.settings import default_settings
    from posture.cli import build_parser, configure_logging
    from posture.monitor_setup import build_monitor
    from posture.testing import ReplayCamera

    configure_logging(False)
    args = build_parser().parse_args(
        [
            "monitor",
            "--source",
            "0",
            "--model",
            str(model),
            "--no-notify",
            "--no-control",
            "--db",
            str(Path(os.environ["HOME"]) / "monitor.sqlite3"),
        ]
    )
    camera = ReplayCamera.from_video(str(clip))
    monitor, cleanup = build_monitor(args, default_settings())
    monitor.source_factory = lambda: camera
    try:
        result = monitor.run()
    finally:
        cleanup()
    print(f"camera stand-in: {result.analysed} frames analysed, {camera.decoded} decoded")
    return 0


def sample_monitor(
    proc: subprocess.Popen[bytes], clip_s: float, settle_s: float, key: str = "monitor"
) -> tuple[threading.Thread, dict[str, float]]:
    """Read the child's CPU at `settle_s` after start (model loaded, first looks done) and
    again 1 s before the clip ends; run in a thread beside the other measurements."""
    t_start = time.perf_counter()
    out: dict[str, float] = {}

    def at(t: float) -> tuple[float, float] | None:
        while time.perf_counter() < t_start + t:
            if proc.poll() is not None:
                return None
            time.sleep(0.1)
        return _proc_cpu_s(proc.pid), time.perf_counter()

    def run() -> None:
        a = at(settle_s)
        b = at(clip_s - 1.0)
        if a is not None and b is not None:
            out[f"{key}_cpu_share_of_core"] = (b[0] - a[0]) / (b[1] - a[1])
            out[f"{key}_window_s"] = b[1] - a[1]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def finish_monitor(
    proc: subprocess.Popen[bytes],
    sampler: tuple[threading.Thread, dict[str, float]],
    key: str = "monitor",
) -> dict[str, Any]:
    """Wait for the monitor (the clip ends it) and return the sampled share and its last lines."""
    text = proc.communicate(timeout=180)[0].decode(errors="replace")
    thread, out = sampler
    thread.join()
    if f"{key}_cpu_share_of_core" not in out:
        raise RuntimeError(f"monitor ended before it could be sampled: {text[-2000:]}")
    return {
        **out,
        f"{key}_exit_code": float(proc.returncode),
        f"{key}_output_tail": text.strip().splitlines()[-2:],
    }


def run_camera_monitors(
    model: Path, scenes: dict[str, tuple[Path, float, float]], tmp: Path
) -> dict[str, Any]:
    """Webcam stand-ins side by side, one per scene: key -> (clip, its length, sample from)."""
    running = {}
    for key, (scene, length_s, from_s) in scenes.items():
        child = start_camera_monitor(model, scene, tmp / key)
        running[key] = (child, sample_monitor(child, length_s, from_s, key))
    out: dict[str, Any] = {}
    for key, (child, sampler) in running.items():
        out.update(finish_monitor(child, sampler, key))
    return out


def bench_memory(model: Path, frames: list[np.ndarray], n: int, tmp: Path) -> dict[str, float]:
    """RSS before and after n frames through FrameAnalyzer, judge and store (frames cycled)."""
    from posture.adapters.pose import MediaPipePose
    from posture.adapters.store import HistoryStore
    from posture.pipeline import FrameAnalyzer

    store = HistoryStore.open(tmp / "memory.sqlite3")
    store.start_session(datetime.now(UTC), kind="analyze", source="memory")
    session = _session(store)
    with MediaPipePose(model, mode="video") as pose:
        analyzer = FrameAnalyzer(pose=pose)
        session.anchor(0.0, datetime.now(UTC))
        warm = min(100, n)
        for i in range(warm):  # allocators and caches settle first
            session.step(analyzer.analyze(frames[i % len(frames)], i / 30.0))
        start = _rss_mb()
        c0 = time.process_time()
        for i in range(warm, warm + n):
            session.step(analyzer.analyze(frames[i % len(frames)], i / 30.0))
        cpu = time.process_time() - c0
        end = _rss_mb()
    session.close((warm + n) / 30.0)
    store.close()
    return {
        "rss_start_mb": start,
        "rss_end_mb": end,
        "memory_growth_mb": end - start,
        "memory_frames": float(n),
        "memory_loop_cpu_ms_per_frame": cpu / n * 1e3,
    }


def start_memory_child(model: Path, n: int, out: Path) -> subprocess.Popen[bytes]:
    """The memory loop in its own process, so it runs beside the other measurements (each
    process's CPU time is its own) and its RSS is not the parent's."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        str(n),
        "--model",
        str(model),
        "--json",
        str(out),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _memory_child(model: Path, n: int, out: Path) -> int:
    from posture.testing import moving_photo_clip

    frames = moving_photo_clip(_side_photo(), 300)
    with tempfile.TemporaryDirectory(prefix="posture-bench-mem-") as d:
        out.write_text(json.dumps(bench_memory(model, frames, n, Path(d))))
    return 0


LITE_KEYS = (
    "ours_cpu_ms_per_frame",
    "naive_cpu_ms_per_frame",
    "cpu_ratio_vs_naive",
    "pipeline_overhead_share",
    "pipeline_overhead_share_excl_decode",
    "cva_agreement_median_abs_deg",
    "landmark_agreement_median_px",
    "tracking_redetections",
)
"""What the lite model's run reports: our pipeline on lite against the naive one on full."""


def bench_lite(
    lite: Path, full: Path, clip: Path, n: int, tmp: Path, full_inference_ms: float
) -> dict[str, float]:
    """Our pipeline on the lite model, against the naive pipeline on the default (full) one.

    Not a goal: the default stays full for accuracy (docs/PERFORMANCE.md, session 5); this is
    what choosing `--model lite` buys.
    """
    (tmp / "lite").mkdir(exist_ok=True)
    run = bench_pipeline(lite, clip, n, tmp / "lite", naive_model=full, self_check=False)
    out = {k: float(run[k]) for k in LITE_KEYS}
    out["inference_ms"] = run["stage_ms"]["inference"]
    out["inference_vs_full"] = out["inference_ms"] / full_inference_ms
    return out


def run_pipeline_bench(model: Path, quick: bool, lite: Path | None = None) -> dict[str, Any]:
    """Every pipeline measurement. The memory loop and the monitor run as subprocesses beside
    the in-process measurements; every CPU figure is per process, so they do not mix.

    With `lite`, the pipeline comparison runs a second time with our side on that model."""
    from posture.testing import moving_photo_clip

    photo = _side_photo()
    n_clip = 60 if quick else 600
    n_pipe = 30 if quick else 200
    steady_s = 9.0 if quick else 75.0
    settle_s = 4.0 if quick else 20.0
    n_mem = 200 if quick else 10_000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="posture-bench-") as d:
        tmp = Path(d)
        mem = start_memory_child(model, n_mem, tmp / "memory.json")
        frames = moving_photo_clip(photo, n_clip)
        clip = write_clip(tmp / "moving.mp4", frames)
        steady = write_clip(tmp / "steady.mp4", steady_frames(photo, int(steady_s * 30)))
        proc = start_monitor(model, steady, tmp)
        sampler = sample_monitor(proc, steady_s, settle_s)
        out.update(bench_decode(clip))
        pipe = bench_pipeline(model, clip, n_pipe, tmp)
        pipe["stage_ms"]["decode_skipped_frame"] = out.pop("grab_only_ms")
        pipe["stage_ms"]["decode_file_read"] = out.pop("decode_ms")
        out.update(pipe)
        out["segmentation_head"] = bench_segmentation_head(model, clip, n_pipe)
        if lite is not None:
            out["lite"] = bench_lite(lite, model, clip, n_pipe, tmp, pipe["stage_ms"]["inference"])
        out.update(bench_analyze(model, clip, tmp))
        out.update(finish_monitor(proc, sampler))
        out["monitor_clip_s"] = steady_s
        # then the webcam stand-in (the monitor figure above ran beside the other stages): on the
        # steady sitter and on the desk with nobody at it side by side (both light), then alone
        # on a long slouch, sampled from 20 s after its episode started (at 30 s) to its end
        scenes = {
            "camera_monitor": (steady, steady_s, settle_s),
            "away_monitor": (
                write_clip(tmp / "away.mp4", empty_desk_frames(int(steady_s * 30))),
                steady_s,
                settle_s,
            ),
        }
        out.update(run_camera_monitors(model, scenes, tmp))
        slouched = _slouch_photo()
        if slouched is not None:
            slouch_s, slouch_settle_s = (9.0, 4.0) if quick else (110.0, 50.0)
            clip_s = write_clip(tmp / "slouch.mp4", steady_frames(slouched, int(slouch_s * 30)))
            scene = {"slouch_monitor": (clip_s, slouch_s, slouch_settle_s)}
            out.update(run_camera_monitors(model, scene, tmp))
            # then alone on a restless slouch, sampled from its first slouch to its end
            lead_s, cycles, tail_s = (4.0, 1, 0.0) if quick else (30.0, 7, 10.0)
            frames_r, length_r = restless_frames(
                photo, slouched, lead_s=lead_s, cycles=cycles, tail_s=tail_s
            )
            clip_r = write_clip(tmp / "restless.mp4", frames_r)
            scene = {"restless_monitor": (clip_r, length_r, lead_s)}
            out.update(run_camera_monitors(model, scene, tmp))
        err = mem.communicate()[1].decode(errors="replace")
        if mem.returncode != 0:
            raise RuntimeError(f"memory loop failed: {err[-2000:]}")
        out.update(json.loads((tmp / "memory.json").read_text()))
    return out


def judge_goals(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each goal with its measured value and whether it is met."""
    out = {}
    for key, (op, limit) in GOALS.items():
        v = results.get(key)
        if v is None:
            continue
        met = bool(v <= limit) if op == "<=" else bool(v < limit) if op == "<" else bool(v >= limit)
        out[key] = {"value": float(v), "goal": f"{op} {limit:g}", "met": met}
    return out


def _model_path(explicit: Path | None, name: str | None = None) -> Path:
    if explicit is not None:
        return explicit
    from posture.adapters.models import resolve

    return Path(resolve(name).path)


def _print_table(results: dict[str, object]) -> None:
    for key, val in results.items():
        if isinstance(val, dict):
            cells = "  ".join(f"{k}={v:.3g}" for k, v in val.items())
            print(f"{key:34s} {cells}")
        elif isinstance(val, list):
            print(f"{key:34s} " + " / ".join(map(str, val)))
        else:
            print(f"{key:34s} {val:.4g}")


def _print_goals(goals: dict[str, dict[str, Any]]) -> None:
    print("\ngoal                               measured   goal       met")
    for key, g in goals.items():
        print(f"{key:34s} {g['value']:<10.4g} {g['goal']:<10s} {'yes' if g['met'] else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="performance of the pipeline against the goals")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--quick", action="store_true", help="tiny runs (seconds): shape, not timing")
    ap.add_argument("--model", type=Path, help="a .task model (default: resolve())")
    ap.add_argument("--core-only", action="store_true", help="only the pure-core micro-benchmarks")
    lite_opts = ap.add_mutually_exclusive_group()
    lite_opts.add_argument(
        "--lite-model",
        type=Path,
        help="the lite .task to compare (default: provisioned for full runs, skipped with --quick)",
    )
    lite_opts.add_argument("--no-lite", action="store_true", help="skip the lite comparison")
    ap.add_argument("--filter", action="store_true", help="also measure filter jitter and lag")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--camera-monitor-child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.camera_monitor_child is not None:
        return _camera_monitor_child(_model_path(args.model), args.camera_monitor_child)
    if args.memory_child is not None:
        return _memory_child(_model_path(args.model), args.memory_child, args.json)
    results: dict[str, Any] = {}
    if args.quick:
        results.update(bench_geometry(n=2_000, repeats=2))
    else:
        results.update(bench_geometry())
    results.update(bench_filter_step())
    if not args.core_only:
        lite = None
        if not args.no_lite and (args.lite_model or not args.quick):
            try:
                lite = args.lite_model or _model_path(None, "lite")
            except ModelError as exc:  # no network for its offline build: measure the rest
                print(f"lite comparison skipped (use --lite-model PATH or --no-lite): {exc}")
        results.update(run_pipeline_bench(_model_path(args.model), args.quick, lite))
    if args.filter:
        results["filter"] = bench_filter(args.model)
    _print_table({k: v for k, v in results.items() if k != "filter"})
    if args.filter:
        print(
            "\nOne Euro on a 30 fps CVA stream (jitter SD at rest; time to 50 % / 90 % of a step)"
        )
        _print_table(results["filter"])
    results["goals"] = judge_goals(results)
    _print_goals(results["goals"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
