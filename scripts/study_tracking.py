"""Tracking study: does VIDEO-mode tracking cost CVA accuracy against the IMAGE-mode baseline?

The monitor and the analyzer run PoseLandmarker in VIDEO mode: after the first frame the landmark
model's crop comes from the previous frame's landmarks, and the person detector does not run. The
naive baseline runs IMAGE mode (detector and landmark model on every frame). On a still photo the
two disagree per frame by more than the 1 deg the agreement goal asks, because the crops differ.
This script measures whether that disagreement matters, on the 96 labelled seated side photos
(posture.testing.sitting_side_dir()):

  * each photo is placed in a 640x480 frame by `posture.testing.place_photo` (as the generated
    clips place it, without motion) and repeated N times with independent Gaussian sensor noise
    (SD 3 grey levels);
  * IMAGE mode runs on every frame, VIDEO mode (a fresh landmarker per photo, 30 fps timestamps)
    on the same frames, and IMAGE mode again on a second noise realisation of each frame: how well
    the baseline agrees with itself on "the same frame" is the floor any agreement goal must
    respect;
  * both pipelines' per-photo median CVA estimates (and single frames) are scored against the
    labels (AUC, best-threshold and leave-one-session-out balanced accuracy, reusing
    study_sitting_side) and against the annotators' head-shoulder angle (Pearson r).

    .venv/bin/python scripts/study_tracking.py [--model PATH] [--frames 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent))
sys.path.insert(0, str(SCRIPTS))

import study_sitting_side as side  # noqa: E402

from posture.core.geometry import frame_metrics  # noqa: E402
from posture.core.landmarks import PoseFrame  # noqa: E402
from posture.testing import place_photo, sensor_noise  # noqa: E402

FRAME_SIZE = (640, 480)
NOISE_SD = 3.0
FPS = 30.0
DIFF_LIST_DEG = 5.0
Floats = NDArray[np.float64]


def noisy(base: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n` copies of `base` with independent per-pixel Gaussian noise, clipped to uint8."""
    return [sensor_noise(base, NOISE_SD, rng) for _ in range(n)]


def cva(frame: PoseFrame) -> float:
    """The frame's CVA estimate in degrees, NaN without a person or a valid estimate."""
    return float(frame_metrics(frame).values["cva_deg"][0])


def run(model: Path, files: list[str], n_frames: int, seed: int) -> dict[str, Floats]:
    """Per-frame CVA estimates, (photos, frames), for IMAGE, VIDEO and IMAGE on fresh noise."""
    import cv2

    from posture.adapters.pose import MediaPipePose

    out = {k: np.full((len(files), n_frames), np.nan) for k in ("image", "video", "image2")}
    with MediaPipePose(model, mode="image") as image_pose:
        for p, name in enumerate(files):
            bgr = cv2.imread(str(side.DATA / name))
            if bgr is None:
                raise SystemExit(f"cannot read {side.DATA / name}")
            rng = np.random.default_rng([seed, p])
            base = place_photo(bgr, FRAME_SIZE)
            frames, frames2 = noisy(base, n_frames, rng), noisy(base, n_frames, rng)
            with MediaPipePose(model, mode="video") as video_pose:
                for i, (f, f2) in enumerate(zip(frames, frames2, strict=True)):
                    out["image"][p, i] = cva(image_pose.detect(f))
                    out["image2"][p, i] = cva(image_pose.detect(f2))
                    out["video"][p, i] = cva(video_pose.detect(f, i / FPS))
            if (p + 1) % 12 == 0:
                print(f"  {p + 1}/{len(files)} photos", file=sys.stderr, flush=True)
    return out


def _abs_stats(a: Floats, b: Floats) -> tuple[float, float, int]:
    d = np.abs(a - b)
    d = d[np.isfinite(d)]
    if not d.size:
        return math.nan, math.nan, 0
    return float(np.median(d)), float(np.percentile(d, 90)), int(d.size)


def _nanmedian_rows(x: Floats) -> Floats:
    """Row medians ignoring NaN; NaN for an all-NaN row (without numpy's warning)."""
    out = np.full(x.shape[0], np.nan)
    ok = np.isfinite(x).any(1)
    out[ok] = np.nanmedian(x[ok], axis=1)
    return out


def _nanstd_rows(x: Floats) -> Floats:
    out = np.full(x.shape[0], np.nan)
    ok = np.isfinite(x).sum(1) >= 2
    out[ok] = np.nanstd(x[ok], axis=1, ddof=1)
    return out


def score(s: Floats, bad: NDArray[np.bool_], session: np.ndarray, ann: Floats) -> dict[str, float]:
    """Label agreement of one CVA score (bad if below): AUC, balanced accuracies, Pearson r."""
    t, acc = side.best_threshold(s, bad)
    return {
        "auc": side.auc(-s, bad),
        "threshold_deg": t,
        "bal_acc": acc,
        "loso_bal_acc": side.loso(s, bad, session),
        "pearson_r": float(np.corrcoef(s, ann)[0, 1]),
    }


BOOTSTRAP_ROUNDS = 2000


def bootstrap_auc_difference(
    a: Floats, b: Floats, bad: NDArray[np.bool_], seed: int = 0
) -> tuple[float, float]:
    """95 % interval of AUC(a) - AUC(b) over photos resampled with replacement (paired)."""
    rng = np.random.default_rng(seed)
    diffs = []
    n = a.size
    for _ in range(BOOTSTRAP_ROUNDS):
        i = rng.integers(0, n, n)
        if bad[i].all() or not bad[i].any():
            continue
        diffs.append(side.auc(-a[i], bad[i]) - side.auc(-b[i], bad[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def analyse(cvas: dict[str, Floats], rows: list[dict[str, str]]) -> dict[str, Any]:
    """Print the agreement and accuracy tables; return them as a JSON-ready dict."""
    img, vid, img2 = cvas["image"], cvas["video"], cvas["image2"]
    meta = side._meta(rows)
    bad, session, ann = meta["label"] == "bad", meta["session"], meta["annotated_deg"]
    med = {k: _nanmedian_rows(v) for k, v in cvas.items()}
    out: dict[str, Any] = {"photos": len(rows), "frames_per_photo": img.shape[1]}

    print(f"{len(rows)} photos x {img.shape[1]} frames (noise SD {NOISE_SD:g})")
    print(
        "frames without a CVA estimate: "
        + ", ".join(f"{k} {int((~np.isfinite(v)).sum())}" for k, v in cvas.items())
    )
    print(f"\n{'agreement (abs deg)':40s} {'median':>7s} {'p90':>7s} {'n':>6s}")
    pairs = {
        "per_frame_image_vs_video": (img, vid),
        "per_frame_image_vs_image2 (floor)": (img, img2),
        "frame0_image_vs_video": (img[:, :1], vid[:, :1]),
        "per_photo_median_image_vs_video": (med["image"], med["video"]),
        "per_photo_median_image_vs_image2": (med["image"], med["image2"]),
    }
    for name, (a, b) in pairs.items():
        m, p90, n = _abs_stats(a, b)
        print(f"{name:40s} {m:7.2f} {p90:7.2f} {n:6d}")
        key = name.split(" ")[0]
        out[f"{key}_median_abs_deg"], out[f"{key}_p90_abs_deg"], out[f"{key}_n"] = m, p90, n

    print(f"\n{'within-photo SD of a frame (deg)':40s} {'median':>7s} {'p90':>7s}")
    for k in ("image", "video", "image2"):
        sd = _nanstd_rows(cvas[k])
        sd = sd[np.isfinite(sd)]
        m, p90 = float(np.median(sd)), float(np.percentile(sd, 90))
        print(f"{k:40s} {m:7.2f} {p90:7.2f}")
        out[f"within_photo_sd_{k}_median_deg"], out[f"within_photo_sd_{k}_p90_deg"] = m, p90

    scores = {
        "image, per-photo median": med["image"],
        "video, per-photo median": med["video"],
        "image, frame 0": img[:, 0],
        "video, frame 0": vid[:, 0],
        "video, last frame": vid[:, -1],
    }
    use = np.logical_and.reduce([np.isfinite(s) for s in scores.values()])
    print(
        f"\naccuracy vs labels ({int(use.sum())} photos with an estimate from every score, "
        f"{int(bad[use].sum())} bad; bad if below threshold)"
    )
    print(f"{'score':28s} {'AUC':>6s} {'thr':>7s} {'bal.acc':>8s} {'LOSO':>6s} {'r(ann)':>7s}")
    acc: dict[str, dict[str, float]] = {}
    for name, s in scores.items():
        r = score(s[use], bad[use], session[use], ann[use])
        acc[name] = r
        print(
            f"{name:28s} {r['auc']:6.3f} {r['threshold_deg']:7.2f} {r['bal_acc']:8.3f} "
            f"{r['loso_bal_acc']:6.3f} {r['pearson_r']:7.3f}"
        )
    out["accuracy"] = acc
    out["accuracy_photos"] = int(use.sum())

    a, v = med["image"][use], med["video"][use]
    lo, hi = bootstrap_auc_difference(a, v, bad[use])
    lower = float(np.mean(v < a))
    gap = acc["image, per-photo median"]["auc"] - acc["video, per-photo median"]["auc"]
    print(
        f"\nAUC image - video, per-photo medians: {gap:+.3f}, paired bootstrap 95 % CI "
        f"[{lo:+.3f}, {hi:+.3f}] ({BOOTSTRAP_ROUNDS} resamples of photos)"
    )
    print(
        f"VIDEO reads lower than IMAGE on {lower:.0%} of photos (median signed "
        f"{float(np.median(v - a)):+.2f} deg)"
    )
    out["auc_difference_ci95"] = [lo, hi]
    out["video_lower_share"] = lower
    out["video_minus_image_median_deg"] = float(np.median(v - a))

    diff = np.abs(med["image"] - med["video"])
    big = np.flatnonzero(np.nan_to_num(diff, nan=np.inf) > DIFF_LIST_DEG)
    print(f"\nphotos whose median CVA differs by > {DIFF_LIST_DEG:g} deg (IMAGE vs VIDEO):")
    print(f"  {'file':44s} {'label':5s} {'ann':>6s} {'IMAGE':>6s} {'VIDEO':>6s} {'IMAGE2':>6s}")
    out["differing_photos"] = []
    for p in big:
        f = rows[p]["file"]
        print(
            f"  {f[:44]:44s} {meta['label'][p]:5s} {ann[p]:6.1f} {med['image'][p]:6.1f} "
            f"{med['video'][p]:6.1f} {med['image2'][p]:6.1f}"
        )
        out["differing_photos"].append(
            {
                "file": f,
                "label": str(meta["label"][p]),
                "annotated_deg": float(ann[p]),
                "image_median_deg": float(med["image"][p]),
                "video_median_deg": float(med["video"][p]),
                "image2_median_deg": float(med["image2"][p]),
            }
        )
    return out


def _json_floats(x: Floats) -> list[list[float | None]]:
    return [[None if not math.isfinite(v) else round(float(v), 3) for v in row] for row in x]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", type=Path, help="a .task model (default: models.resolve())")
    ap.add_argument("--frames", type=int, default=20, help="noisy frames per photo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write results (and per-frame CVAs) here")
    ap.add_argument(
        "--from-json", type=Path, help="re-analyse the per-frame CVAs a --json run saved"
    )
    args = ap.parse_args(argv)
    rows = side.read_labels()
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())["per_frame"]
        if saved["files"] != [r["file"] for r in rows]:
            ap.error(f"{args.from_json} was made from other photos than {side.DATA}")
        analyse({k: np.array(saved[k], dtype=float) for k in ("image", "video", "image2")}, rows)
        return 0
    if args.frames < 2:
        ap.error(f"--frames must be at least 2, got {args.frames}")
    model = args.model
    if model is None:
        from posture.adapters.models import resolve

        model = Path(resolve().path)
    files = [r["file"] for r in rows]
    cvas = run(model, files, args.frames, args.seed)
    out = analyse(cvas, rows)
    if args.json:
        out["model"] = str(model)
        out["seed"] = args.seed
        out["per_frame"] = {"files": files} | {k: _json_floats(v) for k, v in cvas.items()}
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
