"""`posture analyze VIDEO`: the monitor's decisions on a recorded video, as fast as it decodes.

The same `FrameAnalyzer`, judge, profile and settings as the live monitor, driven by the file's
own timestamps; the analysis rate follows the same adaptive policy, so what the monitor would
have seen is what gets judged (`--every-frame` analyses all frames instead). The session is stored
like a monitor session (kind `analyze`), and a truncated or corrupt file keeps what was read.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from posture.adapters.camera import VideoFileSource
from posture.adapters.pose import MediaPipePose
from posture.core.config import Settings
from posture.core.errors import FrameError
from posture.core.events import Verdict
from posture.core.messages import plural
from posture.core.rate import AdaptiveRate, RateConfig
from posture.pipeline import FrameAnalyzer
from posture.session import PostureSession

log = logging.getLogger(__name__)


def analyze_video(
    path: Path,
    settings: Settings,
    *,
    model_path: Path,
    model_sha256: str | None,
    model_name: str,
    profile_name: str | None = None,
    store: Any = None,
    every_frame: bool = False,
    progress: Any = None,
    wall_start: datetime | None = None,
) -> dict[str, Any]:
    """Run the pipeline over a video; returns the JSON document (`source`, `frames`, `summary`)."""
    from posture.app import LazyJudge, choose_profile, composer_for
    from posture.core.summary import video_summary

    choice = choose_profile(profile_name, settings, required=bool(profile_name))
    judge = LazyJudge(settings.judge, choice, model_sha256)
    source = VideoFileSource(path)
    session = PostureSession(judge=judge, store=store, composer=composer_for(choice))
    if store is not None:
        store.start_session(
            wall_start or datetime.now(UTC),
            kind="analyze",
            source=str(path),
            profile=choice.name,
            model=model_name,
        )
    rate = AdaptiveRate(
        RateConfig(
            min_fps=settings.monitor.min_fps,
            max_fps=settings.monitor.max_fps,
            adaptive=settings.monitor.adaptive,
        )
    )
    frames: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    bar = progress("analysing video", source.frame_count) if progress else None
    next_due: float | None = None
    try:
        with MediaPipePose(model_path, mode="video") as pose:
            analyzer = FrameAnalyzer(pose=pose, detect_freeze=False)
            while True:
                before = source.frames_read
                frame = source.read(not_before_s=None if every_frame else next_due)
                if bar is not None:
                    bar.advance(max(1, source.frames_read - before))
                if frame is None:
                    break
                if session.t0_s is None:
                    session.anchor(frame.t_s, wall_start or datetime.now(UTC))
                try:
                    a = analyzer.analyze(frame.image, frame.t_s)
                except FrameError as exc:  # one odd frame never ends the analysis
                    log.warning("%s: skipped frame %d: %s", path, frame.index, exc)
                    continue
                verdict, _ = session.step(a)
                verdicts.append(verdict)
                frames.append(
                    {
                        "t": round(frame.t_s, 3),
                        "person": a.person,
                        "view": a.view,
                        "metrics": a.metrics_json(),
                        "state": verdict.state,
                        "faults": list(verdict.instant_faults),
                    }
                )
                next_due = frame.t_s + rate.after(verdict, a.metrics)
    finally:
        if bar is not None:
            bar.close()
        source.close()
        # The video ends where it was read to, not at the last look: at the idle rate that can
        # be 1/min_fps earlier, and the last look stands for the rest.
        read_to_s = source.read_to_s
        # also on Ctrl-C / SIGTERM, for a file without a frame, and without a store (the judge
        # closes an episode still running)
        anchored = session.t0_s is not None
        session.close(read_to_s if anchored else None, wall=wall_start or datetime.now(UTC))
    end_s = read_to_s if frames else 0.0
    summary = video_summary(verdicts, session.events, start_s=0.0, end_s=end_s)
    summary["alerts"] = [
        {"t": round(a.t_s, 3), "kind": a.kind, "text": f"{a.title}: {a.body}"}
        for a in session.alerts
    ]
    summary["frames_read"] = source.frames_read
    summary["frames_analysed"] = len(frames)
    summary["profile"] = choice.name
    summary["calibrated"] = choice.calibrated
    if source.frame_count and source.frames_read < source.frame_count * 0.98:
        summary["truncated"] = True
        log.warning(
            "%s: read %d of %d frames; the rest is unreadable (truncated or corrupt). "
            "Keeping what was read.",
            path,
            source.frames_read,
            source.frame_count,
        )
    return {"source": str(path), "model": model_name, "frames": frames, "summary": summary}


def run_video(args: argparse.Namespace, path: Path) -> int:
    """Drive the CLI: settings, model, store, progress bar, output."""
    from posture.adapters.settings import load_settings
    from posture.app import calibrated_only_note, open_history, resolve_model
    from posture.progress import stderr_progress

    loaded = load_settings(args.config)
    settings = loaded.settings
    model = resolve_model(args.model, loaded)
    store = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if not args.no_store:
        store = open_history(args.db, settings)
    elif args.report == "html":
        tmp = tempfile.TemporaryDirectory(prefix="posture-analyze-")  # the HTML reads a store
        store = open_history(Path(tmp.name) / "history.sqlite3", settings)
    html = None
    try:
        wall_start = datetime.now(UTC)
        doc = analyze_video(
            path,
            settings,
            model_path=model.path,
            model_sha256=model.sha256,
            model_name=model.name,
            profile_name=args.profile,
            store=store,
            every_frame=args.every_frame,
            progress=stderr_progress(),
            wall_start=wall_start,
        )
        if args.report == "html" and store is not None and doc["frames"]:
            html = render_session_html(
                store, store.last_session_id, wall_start, doc["summary"]["seconds"]
            )
    finally:
        if store is not None:
            store.close()
        if tmp is not None:
            tmp.cleanup()
    if not doc["summary"]["calibrated"] and (note := calibrated_only_note(loaded.sources)):
        print(f"posture: {note}", file=sys.stderr)
    if not doc["frames"]:
        print(
            f"posture: {path}: no frames could be read (empty, truncated or not a video)",
            file=sys.stderr,
        )
    if args.report and doc["frames"]:
        out = args.out or path.with_suffix(f".posture.{args.report}")
        text = html if args.report == "html" else json.dumps(doc["summary"], indent=1)
        from posture.commands.report import write_report_file

        write_report_file(out, text or "")
        print(f"posture: report written to {out}", file=sys.stderr)
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(describe_summary(doc))
    return 0 if doc["frames"] else 1


def describe_summary(doc: dict[str, Any]) -> str:
    """Return a few human lines about an analysed video."""
    s = doc["summary"]
    share = s["share"]
    lines = [
        f"{doc['source']}: {s['seconds']:.0f} s, {plural(s['frames_analysed'], 'frame')} analysed"
        + (" (calibrated profile)" if s.get("calibrated") else " (uncalibrated: population norms)"),
        "time: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in share.items()),
    ]
    faults = {k: v for k, v in s["fault_minutes"].items() if v}
    if faults:
        lines.append(
            "fault minutes: "
            + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in faults.items())
        )
    lines.append(f"episodes: {len(s['episodes'])}, alerts: {len(s['alerts'])}")
    for a in s["alerts"]:
        lines.append(f"  {a['t']:7.1f} s  {a['kind']:<10} {a['text'].splitlines()[0]}")
    return "\n".join(lines)


def render_session_html(
    store: Any, session_id: int | None, wall_start: datetime, seconds: float
) -> str:
    """Return the full HTML report of this video's session, and of no other.

    Score, timeline, angles, faults, alerts and episodes, dated from when the analysis ran (the
    video has no wall clock of its own). Other videos analysed into the same history at about
    the same time (or the same video twice) overlap this window, so the session id selects.
    """
    from posture.commands.report import local_tz
    from posture.core.summary import summarize
    from posture.report_html import render_html

    tz, tz_name = local_tz(None)
    start = wall_start.timestamp()
    history = store.load_history(
        start - 1.0, start + seconds + 60.0, kinds=("analyze",), session_id=session_id
    )
    day = wall_start.astimezone(tz).date()
    last = (wall_start + timedelta(seconds=seconds)).astimezone(tz).date()
    return render_html(summarize(history, day, last, tz), tz, tz_name=tz_name)
