"""Sitting-side study: how well does the side-view CVA estimate separate good from bad posture?

Runs the real pose model over /work/shared/data/sitting-side (96 labelled seated side photos,
Roboflow "sitting posture" by ikornproject, CC BY 4.0), computes posture.core.geometry metrics and
reports, as a table on stdout:
  * AUC of good vs bad for the CVA estimate and other single metrics (bad = positive class);
  * Pearson correlation of the CVA estimate with the annotators' head-shoulder angle;
  * the best single-threshold balanced accuracy (in-sample, and leave-one-session-out so the
    optimism of tuning on 96 photos of few people is visible);
  * two-metric OR rules (CVA estimate with neck flexion, or with the ear's forward offset);
  * a linear map from the annotators' angle to the estimate, used to translate the clinical
    50 deg CVA cut-off to the landmark estimate.

Model outputs are cached (landmarks only, float32, compressed) to
tests/data/sitting_side_landmarks.npz so tests can pin an AUC floor without rerunning the
model; `--from-cache` re-analyses the cache.

    .venv/bin/python scripts/study_sitting_side.py [--model /tmp/venvtest/full.task] [--from-cache]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from posture.core.geometry import compute_metrics  # noqa: E402
from posture.core.landmarks import PoseBatch, PoseFrame  # noqa: E402
from posture.testing import sitting_side_dir  # noqa: E402

DATA = sitting_side_dir()
CACHE = REPO / "tests" / "data" / "sitting_side_landmarks.npz"
DEFAULT_MODEL: Path | None = None  # None: the verified cached model (posture models path)
CLINICAL_CVA_CUTOFF_DEG = 50.0
# Rounded from the best OR rule on this set; the neck-flexion cut sits near ISO 11226's 25 deg
# "not acceptable when held" plus the model's forward bias of the world head.
RECOMMENDED_CVA_BELOW_DEG = 51.0
RECOMMENDED_NECK_FLEXION_ABOVE_DEG = 32.5


def read_labels(data_dir: Path = DATA) -> list[dict[str, str]]:
    with open(data_dir / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def detect_photos(paths: list[Path], model_path: Path) -> list[PoseFrame]:
    """Run the real model (IMAGE mode) over photos through the project's pose adapter."""
    import cv2

    from posture.adapters.pose import MediaPipePose

    frames = []
    with MediaPipePose(model_path, mode="image") as pose:
        for p in paths:
            bgr = cv2.imread(str(p))
            if bgr is None:
                raise SystemExit(f"cannot read {p}")
            frames.append(pose.detect(bgr, t_s=0.0))
    return frames


def save_cache(batch: PoseBatch, rows: list[dict[str, str]], path: Path = CACHE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        image_xyz=batch.image_xyz.astype(np.float32),
        world_xyz=batch.world_xyz.astype(np.float32),
        visibility=batch.visibility.astype(np.float32),
        presence=batch.presence.astype(np.float32),
        image_wh=batch.image_wh.astype(np.float32),
        person=batch.person,
        photo=np.array([r["file"] for r in rows]),
        label=np.array([r["label"] for r in rows]),
        session=np.array([r["session"] for r in rows]),
        annotated_deg=np.array([float(r["annotated_head_shoulder_angle_deg"]) for r in rows]),
    )


def load_cache(path: Path = CACHE) -> tuple[PoseBatch, dict[str, np.ndarray]]:
    z = np.load(path)
    n = z["person"].shape[0]
    batch = PoseBatch(
        t_s=np.zeros(n),
        image_wh=z["image_wh"].astype(float),
        image_xyz=z["image_xyz"].astype(float),
        visibility=z["visibility"].astype(float),
        presence=z["presence"].astype(float),
        world_xyz=z["world_xyz"].astype(float),
        person=z["person"].astype(bool),
    )
    meta = {k: z[k] for k in ("photo", "label", "session", "annotated_deg")}
    return batch, meta


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC: P(score of a positive > score of a negative), ties counted half."""
    pos, neg = score[positive], score[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def balanced_accuracy(pred_bad: np.ndarray, bad: np.ndarray) -> float:
    return float(0.5 * (pred_bad[bad].mean() + (~pred_bad[~bad]).mean()))


def best_threshold(score: np.ndarray, bad: np.ndarray) -> tuple[float, float]:
    """Threshold t maximising balanced accuracy of `bad if score < t` (midpoints of sorted data)."""
    s = np.unique(score)
    cands = np.concatenate([[s[0] - 1], (s[1:] + s[:-1]) / 2, [s[-1] + 1]])
    accs = np.array([balanced_accuracy(score < t, bad) for t in cands])
    i = int(np.argmax(accs))
    return float(cands[i]), float(accs[i])


def best_or_rule(a: np.ndarray, b: np.ndarray, bad: np.ndarray) -> tuple[float, float, float]:
    """Thresholds (ta, tb) maximising balanced accuracy of `bad if a < ta or b < tb`."""
    best = (-1.0, 0.0, 0.0)
    sa, sb = np.unique(a), np.unique(b)
    ca = np.concatenate([[sa[0] - 1], (sa[1:] + sa[:-1]) / 2])
    cb = np.concatenate([[sb[0] - 1], (sb[1:] + sb[:-1]) / 2])
    pa = a[None, :] < ca[:, None]  # (A, n)
    pb = b[None, :] < cb[:, None]  # (B, n)
    pred = pa[:, None, :] | pb[None, :, :]  # (A, B, n)
    tpr = pred[..., bad].mean(-1)
    tnr = (~pred[..., ~bad]).mean(-1)
    acc = 0.5 * (tpr + tnr)
    i, j = np.unravel_index(int(np.argmax(acc)), acc.shape)
    best = (float(acc[i, j]), float(ca[i]), float(cb[j]))
    return best


def loso(score: np.ndarray, bad: np.ndarray, session: np.ndarray) -> float:
    """Leave-one-session-out balanced accuracy of the single-threshold rule (pooled predictions)."""
    pred = np.zeros_like(bad)
    for s in np.unique(session):
        held = session == s
        t, _ = best_threshold(score[~held], bad[~held])
        pred[held] = score[held] < t
    return balanced_accuracy(pred, bad)


def loso_or(a: np.ndarray, b: np.ndarray, bad: np.ndarray, session: np.ndarray) -> float:
    pred = np.zeros_like(bad)
    for s in np.unique(session):
        held = session == s
        _, ta, tb = best_or_rule(a[~held], b[~held], bad[~held])
        pred[held] = (a[held] < ta) | (b[held] < tb)
    return balanced_accuracy(pred, bad)


def analyse(batch: PoseBatch, meta: dict[str, np.ndarray]) -> dict[str, float]:
    m = compute_metrics(batch)
    bad_all = meta["label"] == "bad"
    ann_all = meta["annotated_deg"]
    cva = m.values["cva_deg"]
    use = m.valid["cva_deg"] & m.valid["neck_angle_deg"]
    bad, ann, session = bad_all[use], ann_all[use], meta["session"][use]
    c = cva[use]
    neck = m.values["neck_angle_deg"][use]  # lower = more flexion, same sense as CVA
    out: dict[str, float] = {
        "photos": float(len(bad_all)),
        "person_found": float(batch.person.sum()),
        "side_view": float(np.isin(m.view, ("side_left", "side_right")).sum()),
        "analysed": float(use.sum()),
        "bad": float(bad.sum()),
    }
    rows: list[tuple[str, np.ndarray]] = [
        ("cva_deg (estimate)", c),
        ("neck_angle_deg (world)", neck),
        ("mean(cva_deg, neck_angle_deg)", (c + neck) / 2),
        ("annotators' angle", ann),
    ]
    print(f"{'score (bad if below)':32s} {'AUC':>6s} {'thr':>8s} {'bal.acc':>8s} {'LOSO':>6s}")
    for name, s in rows:
        a = auc(-s, bad)
        t, acc = best_threshold(s, bad)
        lo = loso(s, bad, session)
        print(f"{name:32s} {a:6.3f} {t:8.2f} {acc:8.3f} {lo:6.3f}")
        key = name.split(" ")[0].split("(")[0].strip("'") or "mean"
        out[f"{key}_auc"], out[f"{key}_threshold"] = a, t
        out[f"{key}_bal_acc"], out[f"{key}_loso_bal_acc"] = acc, lo
    r = float(np.corrcoef(c, ann)[0, 1])
    out["cva_vs_annotated_pearson_r"] = r
    print(f"\nPearson r (CVA estimate vs annotators' angle): {r:.3f}")

    acc, ta, tb = best_or_rule(c, neck, bad)
    lo = loso_or(c, neck, bad, session)
    print(
        f"OR rule: bad if cva_deg < {ta:.1f} or neck_angle_deg < {tb:.1f} "
        f"(neck_flexion_deg > {90 - tb:.1f}): bal.acc {acc:.3f}, LOSO {lo:.3f}"
    )
    out.update(or_bal_acc=acc, or_cva_threshold=ta, or_neck_angle_threshold=tb, or_loso=lo)

    slope, intercept = np.polyfit(ann, c, 1)
    mapped = slope * CLINICAL_CVA_CUTOFF_DEG + intercept
    resid = float(np.std(c - (slope * ann + intercept)))
    print(
        f"\nestimate = {slope:.3f} * annotated + {intercept:.2f} (residual SD {resid:.1f} deg); "
        f"clinical {CLINICAL_CVA_CUTOFF_DEG:.0f} deg -> estimate {mapped:.1f} deg"
    )
    t_ann, _ = best_threshold(ann, bad)
    print(
        f"annotators' best threshold {t_ann:.1f} deg -> estimate "
        f"{slope * t_ann + intercept:.1f} deg"
    )
    out.update(map_slope=float(slope), map_intercept=float(intercept), map_resid_sd=resid)
    out["clinical_50_as_estimate_deg"] = float(mapped)
    rule = (c < RECOMMENDED_CVA_BELOW_DEG) | (90.0 - neck > RECOMMENDED_NECK_FLEXION_ABOVE_DEG)
    rec = balanced_accuracy(rule, bad)
    out["recommended_bal_acc"] = rec
    print(
        f"\nrecommended default (side view, uncalibrated): bad if cva_deg < "
        f"{RECOMMENDED_CVA_BELOW_DEG:.1f} or neck_flexion_deg > "
        f"{RECOMMENDED_NECK_FLEXION_ABOVE_DEG:.1f}: balanced accuracy {rec:.3f} "
        f"(sensitivity {rule[bad].mean():.3f}, specificity {(~rule[~bad]).mean():.3f})"
    )
    print("\nper session (n, bad, median CVA estimate good / bad):")
    for s in np.unique(session):
        h = session == s
        g = np.median(c[h & ~bad]) if (h & ~bad).any() else np.nan
        b = np.median(c[h & bad]) if (h & bad).any() else np.nan
        print(f"  {s}: {h.sum():3d} {int((h & bad).sum()):3d}   {g:6.1f} / {b:6.1f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--from-cache", action="store_true", help="analyse the cached landmarks")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite the cache")
    args = ap.parse_args(argv)
    rows = read_labels()
    if args.from_cache:
        batch, meta = load_cache()
    else:
        model = args.model
        if model is None:
            from posture.adapters.models import resolve

            model = resolve().path
        frames = detect_photos([DATA / r["file"] for r in rows], model)
        batch = PoseBatch.from_frames(frames)
        if not args.no_write:
            save_cache(batch, rows)
            print(f"cached landmarks to {CACHE} ({CACHE.stat().st_size / 1024:.0f} KB)")
        batch, meta = load_cache() if not args.no_write else (batch, _meta(rows))
    analyse(batch, meta)
    return 0


def _meta(rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    return {
        "photo": np.array([r["file"] for r in rows]),
        "label": np.array([r["label"] for r in rows]),
        "session": np.array([r["session"] for r in rows]),
        "annotated_deg": np.array([float(r["annotated_head_shoulder_angle_deg"]) for r in rows]),
    }


if __name__ == "__main__":
    raise SystemExit(main())
