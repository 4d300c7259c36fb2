"""How fast must the monitor look while something is happening? `max_fps` against judgement.

The judge decides on time shares over 10-30 s windows, so looks 0.2 s apart may buy nothing. This
runs the whole pipeline (the real model, analyser, judge and adaptive rate, as `posture analyze`
drives them) over clips made from a real seated side photo, once per `max_fps`, and prints when
each episode started, was nudged and recovered, the time judged slouching, and the looks taken.
A rate is good enough when those agree with the fastest rate's within one look or two. A
summary per scenario then gives, against the first rate listed: looks per second, how many
fewer, and the largest difference of any event time and of the time judged slouching. Looks
fall on the clips' 10 fps frames, so 1.5 fps runs at about 1.43 (0.7 s apart).

Scenarios (10 fps clips, the photo moved a little per frame, each seed a different movement):
- `strong`: upright 60 s, head forward 120 s (CVA estimate about 16 deg down), upright 60 s;
- `subtle`: the same with a smaller forward head, 1.6 deg past the default threshold;
- `glances_then_slouch`: 2 s glances every 20 s for 100 s, then a 90 s slouch;
- `blips`: a slouch broken by 2 s of sitting up every 12 s, for 96 s.

    .venv/bin/python scripts/study_rate.py [--rates 5,2.5,1.5] [--seeds 3] [--json out.json]

Session 9's run (docs/PERFORMANCE.md) chose the default `max_fps` 2.5 from it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the end-to-end tests' generated clips

from clips import head_forward, upright_photo, write_clip  # type: ignore[import-not-found]  # noqa: E402

from posture.adapters.camera import VideoFileSource  # noqa: E402
from posture.adapters.pose import MediaPipePose  # noqa: E402
from posture.app import LazyJudge, ProfileChoice  # noqa: E402
from posture.core.config import JudgeConfig  # noqa: E402
from posture.core.events import Escalation, Nudge, Recovered, SlouchStarted  # noqa: E402
from posture.core.rate import AdaptiveRate, RateConfig  # noqa: E402
from posture.pipeline import FrameAnalyzer  # noqa: E402
from posture.session import PostureSession  # noqa: E402
from posture.testing import RecordingNotifier, moving_photo_clip  # noqa: E402

CLIP_FPS = 10.0
SIZE = 480


def _glances(n: int, period_s: float = 20.0, glance_s: float = 2.0) -> list[tuple[str, float]]:
    return [("upright", period_s - glance_s), ("forward", glance_s)] * n


SCENARIOS: dict[str, list[tuple[str, float]]] = {
    "strong": [("upright", 60), ("forward", 120), ("upright", 60)],
    "subtle": [("upright", 60), ("subtle", 120), ("upright", 60)],
    "glances_then_slouch": _glances(5) + [("upright", 10), ("forward", 90), ("upright", 40)],
    "blips": [("upright", 40.0), ("forward", 40.0)]
    + [("upright", 2.0), ("forward", 10.0)] * 8
    + [("upright", 40.0)],
}


def pictures(size: int = SIZE) -> dict[str, np.ndarray]:
    """The upright photo, its clear forward head, and a forward head near the threshold."""
    photo = upright_photo(size)
    return {
        "upright": photo.image,
        "forward": head_forward(photo),
        "subtle": head_forward(photo, tilt_deg=22.0, scale=1.07, shift=0.035),
    }


def make_clip(
    segments: list[tuple[str, float]], path: Path, seed: int, pics: dict[str, np.ndarray]
) -> Path:
    """Write the scenario's clip (MJPG, `CLIP_FPS`) and return its path."""
    frames: list[np.ndarray] = []
    size = pics["upright"].shape[1], pics["upright"].shape[0]
    for i, (kind, seconds) in enumerate(segments):
        n = int(round(seconds * CLIP_FPS))
        frames += moving_photo_clip(pics[kind], n=n, size=size, seed=seed * 100 + i)
    written: Path = write_clip(frames, path, CLIP_FPS)
    return written


@dataclass
class Outcome:
    """What one pass over a clip decided, and what it cost."""

    max_fps: float
    looks: int = 0
    seconds: float = 0.0
    slouching_s: float = 0.0
    events: list[tuple[str, float]] = field(default_factory=list)
    """(kind, stream time) of every episode start, nudge, escalation and recovery."""

    def times(self, kind: str) -> list[float]:
        """Stream times of the events of one kind."""
        return [t for k, t in self.events if k == kind]


_KINDS = {
    SlouchStarted: "started",
    Nudge: "nudge",
    Escalation: "escalation",
    Recovered: "recovered",
}


def judge_clip(
    path: Path, max_fps: float, model: Path, judge: JudgeConfig | None = None
) -> Outcome:
    """Analyse `path` at the adaptive rate capped at `max_fps`, uncalibrated (default profile)."""
    source = VideoFileSource(path)
    session = PostureSession(
        judge=LazyJudge(judge or JudgeConfig(), ProfileChoice(None, "default", False), None),
        notifier=RecordingNotifier(),
    )
    rate = AdaptiveRate(RateConfig(max_fps=max_fps))
    out = Outcome(max_fps)
    next_due: float | None = None
    held: tuple[float, str] | None = None  # the last look's time and state, held to the next
    with MediaPipePose(model, mode="video") as pose:
        analyzer = FrameAnalyzer(pose=pose)
        while (frame := source.read(not_before_s=next_due)) is not None:
            if session.t0_s is None:
                session.anchor(frame.t_s, datetime.now(UTC))
            analysis = analyzer.analyze(frame.image, frame.t_s)
            verdict, _ = session.step(analysis)
            if held is not None and held[1] == "slouching":
                out.slouching_s += frame.t_s - held[0]
            held = (frame.t_s, verdict.state)
            out.looks += 1
            next_due = frame.t_s + rate.after(verdict, analysis.metrics)
    source.close()
    out.seconds = source.read_to_s
    if held is not None and held[1] == "slouching":
        out.slouching_s += out.seconds - held[0]
    out.events = [(_KINDS[type(e)], e.t_s) for e in session.events if type(e) in _KINDS]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios at each rate and print (and optionally save) the outcomes."""
    from posture.adapters.models import resolve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="5,2.5,1.5", help="max_fps values, comma-separated")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--model", type=Path, default=None, help="a .task file (default: full)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    model = args.model or resolve("full").path
    rates = [float(r) for r in args.rates.split(",")]
    pics = pictures()
    rows = []
    with tempfile.TemporaryDirectory(prefix="posture-rate-") as tmp:
        for name in args.scenarios.split(","):
            for seed in range(args.seeds):
                clip = make_clip(SCENARIOS[name], Path(tmp) / f"{name}_{seed}.avi", seed, pics)
                for r in rates:
                    o = judge_clip(clip, r, model)
                    events = " ".join(f"{k[0].upper()}{t:.1f}" for k, t in o.events)
                    print(
                        f"{name:20s} seed {seed} max_fps {r:4.1f}: {o.looks:4d} looks "
                        f"({o.looks / o.seconds:4.2f}/s), slouching {o.slouching_s:6.1f} s, "
                        f"events {events}",
                        flush=True,
                    )
                    rows.append({"scenario": name, "seed": seed, **asdict(o)})
    print()
    for line in compare(rows, rates):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


def compare(rows: list[dict[str, Any]], rates: list[float]) -> list[str]:
    """Per scenario and rate, against the first rate on the same clips: looks per second, how
    many fewer, and the largest difference of an event time and of the time judged slouching
    (inf where the events differ in kind or number)."""
    by = {(r["scenario"], r["seed"], r["max_fps"]): r for r in rows}
    lines = []
    for name in dict.fromkeys(r["scenario"] for r in rows):
        seeds = sorted({r["seed"] for r in rows if r["scenario"] == name})
        for rate in rates:
            ref = [by[(name, s, rates[0])] for s in seeds]
            got = [by[(name, s, rate)] for s in seeds]
            looks = sum(g["looks"] for g in got) / sum(g["seconds"] for g in got)
            fewer = 1.0 - sum(g["looks"] for g in got) / sum(r["looks"] for r in ref)
            pairs = list(zip(ref, got, strict=True))
            event_d = max(_event_difference(r["events"], g["events"]) for r, g in pairs)
            slouch_d = max(abs(r["slouching_s"] - g["slouching_s"]) for r, g in pairs)
            lines.append(
                f"{name:20s} max_fps {rate:4.1f}: {looks:4.2f} looks/s ({fewer:4.0%} fewer), "
                f"events within {event_d:.1f} s, slouching within {slouch_d:.1f} s"
            )
    return lines


def _event_difference(a: list[Any], b: list[Any]) -> float:
    """The largest time difference of matching events; inf when they differ in kind."""
    if [k for k, _ in a] != [k for k, _ in b]:
        return math.inf
    return max((abs(x - y) for (_, x), (_, y) in zip(a, b, strict=True)), default=0.0)


if __name__ == "__main__":
    raise SystemExit(main())
