"""`posture analyze PATH...`: the pipeline on photos (IMAGE mode, independent) or a video."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from posture.adapters.camera import IMAGE_SUFFIXES, read_image
from posture.commands import add_model_option
from posture.core.errors import FrameError, SourceError, UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture analyze`."""
    p = sub.add_parser("analyze", help="analyse photos, a folder of photos, or a recorded video")
    p.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="image files, folders, or one video"
    )
    p.add_argument("--json", action="store_true", help="print the frames as JSON on stdout")
    add_model_option(p)
    p.add_argument(
        "--profile", help="calibration profile (default: from config, else population norms)"
    )
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument("--db", type=Path, help="history database for the video's session")
    p.add_argument("--no-store", action="store_true", help="do not store the video as a session")
    p.add_argument(
        "--every-frame",
        action="store_true",
        help="analyse every frame of a video (default: the monitor's adaptive rate)",
    )
    p.add_argument(
        "--report", choices=("html", "json"), help="also write a report of the video (videos only)"
    )
    p.add_argument("--out", type=Path, help="where --report goes (default: next to the video)")
    p.set_defaults(func=run)


def collect_images(paths: list[Path]) -> list[Path]:
    """Expand folders to their images (sorted); every named file must exist."""
    out: list[Path] = []
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path} does not exist")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SourceError(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(found)
        else:
            out.append(path)
    return out


def run(args: argparse.Namespace) -> int:
    """Analyse photos or a video; print JSON or a short summary."""
    # any file that is not an image is tried as a video (OpenCV reads .ts, .3gp, ... too)
    videos = [p for p in args.paths if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES]
    if videos:
        if len(args.paths) != 1:
            raise SourceError(
                "analyse one video at a time (photos and folders may be mixed freely)"
            )
        from posture.analyze_video import run_video

        return run_video(args, videos[0])
    video_only = _video_only_options(args)
    if video_only:
        # Photos are independent looks with no time between them: no session is stored, no rate
        # applies and no report covers them, so these options would be silently ignored.
        raise UsageError(
            f"{' and '.join(video_only)} {'applies' if len(video_only) == 1 else 'apply'} to a "
            f"video only, and {args.paths[0]} is taken "
            "for photos by its name (photos are independent looks: nothing is stored and every "
            "photo is analysed); for photos use --json, e.g. "
            "`posture analyze PHOTOS... --json > photos.json`"
        )
    return run_photos(args)


def _video_only_options(args: argparse.Namespace) -> list[str]:
    """List the options given that only a video's session uses, as typed on the command line."""
    given = {
        "--report": args.report is not None,
        "--out": args.out is not None,
        "--db": args.db is not None,
        "--no-store": bool(args.no_store),
        "--every-frame": bool(args.every_frame),
    }
    return [name for name, on in given.items() if on]


def run_photos(args: argparse.Namespace) -> int:
    """Independent photos: IMAGE mode; each photo's instant faults are its verdict."""
    from posture.adapters.settings import load_settings
    from posture.app import PhotoAnalyzer, calibrated_only_note, choose_profile, resolve_model
    from posture.progress import stderr_progress

    images = collect_images(args.paths)
    loaded = load_settings(args.config)
    settings = loaded.settings
    choice = choose_profile(args.profile, settings, required=bool(args.profile))
    model = resolve_model(args.model, loaded)
    if not choice.calibrated and (note := calibrated_only_note(loaded.sources)):
        print(f"posture: {note}", file=sys.stderr)
    frames: list[dict[str, Any]] = []
    failed = 0
    with PhotoAnalyzer(model, settings, choice) as analyzer:
        bar = stderr_progress()("analysing photos", len(images))
        try:
            for path in images:
                try:
                    frames.append({"path": str(path), **analyzer.analyze(read_image(path))})
                except (SourceError, FrameError) as exc:
                    where = "" if str(path) in str(exc) else f"{path}: "
                    print(f"posture: skipped {where}{exc}", file=sys.stderr)
                    frames.append({"path": str(path), "t": 0.0, "person": False, "error": str(exc)})
                    failed += 1
                bar.advance(1)
        finally:
            bar.close()
    source = str(args.paths[0]) if len(args.paths) == 1 else [str(p) for p in args.paths]
    if args.json:
        doc = {
            "source": source,
            "model": model.name,
            "profile": choice.name,
            "calibrated": choice.calibrated,
            "frames": frames,
        }
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        judged = (
            f"your profile {choice.name!r}"
            if choice.calibrated
            else "population norms (uncalibrated)"
        )
        print(f"Judged against {judged}:")
        for f in frames:
            print(_describe(f))
    return 1 if failed == len(images) else 0


def _describe(frame: dict[str, Any]) -> str:
    if "error" in frame:
        return f"{frame['path']}: error: {frame['error']}"
    if not frame["person"]:
        return f"{frame['path']}: no person found"
    parts = [frame["path"] + ":"]
    if "view" in frame:
        parts.append(f"view {frame['view']}")
    metrics = frame.get("metrics") or {}
    if metrics.get("cva_deg") is not None:
        parts.append(f"CVA estimate {metrics['cva_deg']:.1f} deg")
    if metrics.get("neck_flexion_deg") is not None:
        parts.append(f"neck flexion {metrics['neck_flexion_deg']:.1f} deg")
    if "faults" in frame:
        parts.append("faults: " + (", ".join(frame["faults"]) or "none"))
    return " ".join(parts)
