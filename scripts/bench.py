"""Micro-benchmarks of the pure core, printed as a table (and written as JSON with --json PATH).

Geometry: microseconds per frame for `compute_metrics` over a 10,000-frame batch (goal <= 20 us)
and for a single frame (`frame_metrics`). The batch is built from the real model's landmarks on
the sitting-side photos (tests/data/sitting_side_landmarks.npz) tiled with small noise, so the
view mix and validity pattern are real.

Filter (`--filter`): the One Euro filter's jitter and lag on a synthetic 30 fps CVA stream whose
noise copies what the real model gives on a still side photo under sensor noise and 0.5 px
camera shake (AR(1), SD 1.1 deg, lag-1 correlation 0.75: see `measure_model_noise`, which
re-measures it with the model when `--model` is given).

    .venv/bin/python scripts/bench.py [--filter] [--model /tmp/venvtest/full.task] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from posture.core.filters import (  # noqa: E402
    OneEuroParams,
    OneEuroState,
    one_euro_filter_series,
    one_euro_step,
)
from posture.core.geometry import METRIC_KEYS, compute_metrics, frame_metrics  # noqa: E402
from posture.core.landmarks import PoseBatch, PoseFrame  # noqa: E402

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

    data = REPO.parent / "shared" / "data" / "sitting-side"
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
                im = np.clip(im + rng.normal(0, 4, im.shape), 0, 255).astype(np.uint8)
                out.append(pose.detect(im, t_s=i / FPS))
        cva = compute_metrics(PoseBatch.from_frames(out)).values["cva_deg"][10:]
        cva = cva[np.isfinite(cva)]
        d = cva - cva.mean()
        sds.append(float(np.std(cva)))
        rhos.append(float(np.sum(d[1:] * d[:-1]) / np.sum(d * d)))
    return float(np.sqrt(np.mean(np.square(sds)))), float(np.mean(rhos))


def _print_table(results: dict[str, object]) -> None:
    for key, val in results.items():
        if isinstance(val, dict):
            cells = "  ".join(f"{k}={v:.3g}" for k, v in val.items())
            print(f"{key:34s} {cells}")
        else:
            print(f"{key:34s} {val:.3g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="micro-benchmarks of the pure core")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--filter", action="store_true", help="also measure filter jitter and lag")
    ap.add_argument("--model", type=Path, help="re-measure the model's noise (with --filter)")
    args = ap.parse_args(argv)
    results: dict[str, object] = {}
    results.update(bench_geometry())
    results.update(bench_filter_step())
    if args.filter:
        results["filter"] = bench_filter(args.model)
    _print_table({k: v for k, v in results.items() if k != "filter"})
    if args.filter:
        print(
            "\nOne Euro on a 30 fps CVA stream (jitter SD at rest; time to 50 % / 90 % of a step)"
        )
        _print_table(results["filter"])  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
