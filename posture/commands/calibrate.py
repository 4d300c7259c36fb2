"""`posture calibrate`: learn the person's neutral posture (and, optionally, their glance range).

Step 1 samples frames while the person sits in their best neutral posture and holds still; the
core fits a robust baseline (median and MAD per metric) after its quality gates (no person, out of
frame, too dark, view changed, too few valid frames, too much movement), each failing with a plain
message and a fix. Step 2 (optional) records a normal glance at the keyboard and the bottom of the
screen, so that a glance never counts as a slouch. The profile is saved owner-only in the user
data dir; the calibration is also noted in the history.

File sources (videos, image folders) work too: step 1 reads the first `--seconds` of the file,
step 2 the following `--glance-seconds`. An image folder counts each image as one sample, taken
SAMPLE_FPS a second: the default 10 s uses its first 100 images, or all of a smaller folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from posture.commands import add_model_option
from posture.core.errors import CalibrationError, ProfileError, SourceError, UsageError

log = logging.getLogger(__name__)

SAMPLE_FPS = 10.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture calibrate`."""
    p = sub.add_parser("calibrate", help="learn your neutral posture (and glance range)")
    p.add_argument("--profile", default=None, help="profile name (default from config: desk)")
    p.add_argument("--source", help="camera index (0), video file, image folder or stream URL")
    p.add_argument("--seconds", type=float, default=None, help="how long to sample (default 10)")
    p.add_argument(
        "--preview", action="store_true", help="show the detected skeleton while sampling"
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--glance",
        dest="glance",
        action="store_true",
        default=None,
        help="also learn how far your head moves on a normal glance down",
    )
    g.add_argument("--no-glance", dest="glance", action="store_false")
    p.add_argument(
        "--glance-seconds", type=float, default=None, help="glance step length (default 8)"
    )
    add_model_option(p)
    p.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    p.add_argument("--db", type=Path, help="history database (the calibration is noted there)")
    p.add_argument(
        "--no-countdown", action="store_true", help="start sampling at once (live cameras)"
    )
    p.add_argument("--list", action="store_true", help="list saved profiles and exit")
    p.add_argument("--delete", metavar="NAME", help="delete a saved profile and exit")
    p.add_argument("--json", action="store_true", help="with --list: print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to list / delete / calibrate."""
    from posture.adapters.profiles import ProfileStore

    if args.json and not args.list:
        raise UsageError("--json applies to --list only (calibrate --list --json)")
    store = ProfileStore()
    if args.list:
        return _list(store, args.json)
    if args.delete:
        if not store.exists(args.delete):
            raise ProfileError(
                f"no profile named {args.delete!r}; saved: {', '.join(store.names()) or 'none'}"
            )
        store.delete(args.delete)
        print(f"deleted profile {args.delete!r}")
        return 0
    return calibrate(args, store)


def _list(store: Any, as_json: bool) -> int:
    import json

    rows = []
    for name in store.names():
        try:
            p = store.load(name)
            rows.append(
                {
                    "name": name,
                    "view": p.view,
                    "created_utc": p.created_utc,
                    "model": p.model_name,
                    "source": p.source,
                    "glance": bool(p.glance),
                }
            )
        except ProfileError as exc:
            rows.append({"name": name, "error": str(exc)})
    if as_json:
        print(json.dumps({"dir": str(store.root), "profiles": rows}, indent=1))
        return 0
    if not rows:
        print(f"no saved profiles yet (in {store.root}); create one with `posture calibrate`")
        return 0
    print(f"profiles in {store.root}:")
    for r in rows:
        if "error" in r:
            print(f"  {r['name']:<12} unreadable: {r['error']}")
        else:
            glance = ", glance range" if r["glance"] else ""
            print(f"  {r['name']:<12} {r['view']:<13} {r['created_utc']}  {r['source']}{glance}")
    return 0


@dataclass
class Samples:
    """What a sampling step collected, as the arrays the core's fitting functions take."""

    metrics: dict[str, list[float]] = field(default_factory=dict)
    person: list[bool] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    in_frame: list[bool] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def span_s(self) -> float:
        """Source time from the first sample to one sample interval past the last."""
        return self.times[-1] - self.times[0] + 1.0 / SAMPLE_FPS if self.times else 0.0

    def add(self, a: Any) -> None:
        """Append one Analysis."""
        self.times.append(a.t_s)
        for k, v in a.raw.items():
            self.metrics.setdefault(k, []).append(v)
        self.person.append(a.person)
        self.luma.append(a.mean_luma)
        self.in_frame.append(a.in_frame)
        self.views.append(a.view)

    def arrays(self) -> dict[str, Any]:
        """Keyword arguments for fit_baseline / fit_glance."""
        return {
            "metrics": {k: np.asarray(v, dtype=float) for k, v in self.metrics.items()},
            "person": np.asarray(self.person, dtype=bool),
            "luma": np.asarray(self.luma, dtype=float),
            "in_frame": np.asarray(self.in_frame, dtype=bool),
            "views": np.asarray(self.views, dtype=object),
        }


def sample(
    source: Any,
    analyzer: Any,
    seconds: float,
    *,
    preview: Any = None,
    say: Any = print,
    t_start: float | None = None,
) -> tuple[Samples, float | None]:
    """Collect up to SAMPLE_FPS frames per second for `seconds` of source time.

    Returns the samples and the source time where sampling stopped (files continue from there).
    """
    out = Samples()
    next_due = t_start
    t0: float | None = None
    last_shown = -1
    while True:
        frame = source.read(not_before_s=next_due)
        if frame is None:
            break
        if t0 is None:
            t0 = frame.t_s
        if frame.t_s - t0 >= seconds:
            return out, frame.t_s
        a = analyzer.analyze(frame.image, frame.t_s)
        out.add(a)
        left = int(seconds - (frame.t_s - t0))
        if left != last_shown and sys.stderr.isatty():
            say(f"\r  holding... {left:2d} s left ", end="")
            last_shown = left
        if preview is not None:
            state = "good" if a.person else "unknown"
            preview.show(
                frame, a, SimpleNamespace(state=state, active_faults=(), instant_faults=())
            )
        next_due = frame.t_s + 1.0 / SAMPLE_FPS
    return out, None


def calibrate(args: argparse.Namespace, store: Any) -> int:
    """Run the guided calibration."""
    from posture.adapters.camera import open_source
    from posture.adapters.pose import MediaPipePose
    from posture.adapters.profiles import current_metric_version, validate_name
    from posture.adapters.settings import load_settings
    from posture.app import POPULATION_PROFILE, resolve_model
    from posture.core.calibration import fit_baseline, fit_glance, make_profile, with_glance
    from posture.core.config import FieldError
    from posture.pipeline import FrameAnalyzer

    loaded = load_settings(args.config)
    settings = loaded.settings
    cfg = settings.calibration
    name = validate_name(args.profile or settings.monitor.profile)
    if name == POPULATION_PROFILE:
        raise UsageError(
            f"{name!r} names the population norms (`--profile {name}` judges with them); "
            "calibrate under another name, e.g. `--profile desk`"
        )
    # The flags stand for calibration.duration_s and glance_duration_s: the settings' own
    # validation gives them the same ranges.
    flags = {"duration_s": "--seconds", "glance_duration_s": "--glance-seconds"}
    try:
        cfg = dataclasses.replace(
            cfg,
            duration_s=cfg.duration_s if args.seconds is None else args.seconds,
            glance_duration_s=cfg.glance_duration_s
            if args.glance_seconds is None
            else args.glance_seconds,
        )
    except FieldError as exc:  # only the two fields replaced here can be wrong
        raise UsageError(
            f"{flags[exc.name]} {exc.value:g} is out of range; allowed: {exc.allowed}"
        ) from None
    seconds, glance_s = cfg.duration_s, cfg.glance_duration_s
    if args.glance_seconds is not None and args.glance is False:
        raise UsageError("--glance-seconds sets the glance step's length: drop --no-glance")
    spec = str(args.source or settings.monitor.source)
    model = resolve_model(args.model, loaded)
    err = sys.stderr

    def say(text: str, end: str = "\n") -> None:
        print(text, end=end, file=err, flush=True)

    # Photos have no clock: each image is one sample at the sampling rate, so --seconds 10 takes
    # up to 100 images, and a folder of fewer is used whole (at 1 s apart, 10 s took only 10,
    # too few for any baseline).
    source = open_source(spec, interval_s=1.0 / SAMPLE_FPS)
    interactive = source.live and sys.stdin.isatty()
    # --glance-seconds asks for the glance step as --glance does
    want_glance = (
        args.glance if args.glance is not None else (interactive or args.glance_seconds is not None)
    )
    preview = None
    if args.preview:
        from posture.adapters.preview import PreviewWindow

        preview = PreviewWindow()
    try:
        with MediaPipePose(model.path, mode="video") as pose:
            analyzer = FrameAnalyzer(pose=pose, smooth=False, detect_freeze=source.live)
            say(f"Calibrating profile {name!r} from {source.description}.")
            say("Sit in your best neutral posture: back against the chair, shoulders relaxed,")
            say("eyes on the middle of your screen. Then hold still.")
            if source.live and not args.no_countdown:
                for n in (3, 2, 1):
                    say(f"  starting in {n}...")
                    time.sleep(1.0)
            say(f"Sampling for {seconds:g} s...")
            base, stop_t = sample(source, analyzer, seconds, preview=preview, say=say)
            say("")
            if stop_t is None and base.span_s < seconds - 1.0 / SAMPLE_FPS:
                say(f"The source ended after {base.span_s:.1f} s of the {seconds:g} s asked.")
            fit = fit_baseline(**base.arrays(), config=cfg, seconds=seconds)
            created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            profile = make_profile(
                fit,
                name=name,
                source=spec,
                model_name=model.name,
                model_sha256=model.sha256,
                metric_version=current_metric_version(),
                created_utc=created,
            )
            say(f"Baseline learned from {fit.n_valid} of {fit.n_frames} frames ({fit.view} view).")
            glance_failed: CalibrationError | SourceError | None = None
            if want_glance:
                try:
                    if source.live:
                        say("Now look at your keyboard, then at the bottom of your screen, as you")
                        say("normally would (head and eyes), and back. Keep going until it says")
                        say("done.")
                        if interactive:
                            say("Press Enter when ready...", end="")
                            sys.stdin.readline()
                    elif stop_t is None:
                        raise CalibrationError(
                            f"glance step: {spec} ended during the neutral step, leaving nothing "
                            "for glances. Fix: give a longer clip or more images (neutral "
                            "first, then glances), or use --no-glance."
                        )
                    say(f"Recording glances for {glance_s:g} s...")
                    glances, _ = sample(
                        source, analyzer, glance_s, preview=preview, say=say, t_start=stop_t
                    )
                    say("")
                    profile = with_glance(
                        profile, fit_glance(**glances.arrays(), profile=profile, config=cfg)
                    )
                    learned = ", ".join(f"{k} {v:.3g}" for k, v in profile.glance.items())
                    say(f"Glance range learned: {learned}.")
                except (CalibrationError, SourceError) as exc:
                    # The glance step is optional and the neutral baseline stands on its own:
                    # keep it, and say below what failed and how to retry.
                    glance_failed = exc
    finally:
        source.close()
        if preview is not None:
            preview.close()
    path = store.save(profile)
    _note_in_history(args, settings, profile, fit)
    say(f"Saved profile {name!r} to {path}.")
    for key in ("cva_deg", "neck_flexion_deg", "head_drop", "face_scale"):
        b = profile.baseline.get(key)
        if b is not None:
            say(f"  {key:<18} {b.median:8.3g}  (+/- {b.mad:.2g})")
    _warn_past_population_limits(profile, say)
    if glance_failed is not None:
        reason = str(glance_failed).removeprefix("glance step: ")
        say(f"Glance step failed: {reason}")
        say(
            "The neutral baseline is saved without a glance range, so a glance down may count "
            f"towards a slouch. To retry (both steps run again): `{_retry_command(args, name)}`."
        )
    if args.model:  # the monitor must load the same model, or it refuses the profile
        # a file as an absolute path: autostart does not run in this directory
        chosen = str(model.path.resolve()) if model.origin == "explicit" else str(args.model)
        say(
            f"Run `posture monitor --profile {name} --model {shlex.quote(chosen)}` (or set "
            f'monitor.profile = "{name}" and monitor.model = {json.dumps(chosen)}).'
        )
    else:
        say(f'Run `posture monitor --profile {name}` (or set monitor.profile = "{name}").')
    return 0


_LIMIT_NAMES = {"cva_deg": "forward-head", "neck_flexion_deg": "head-drop"}


def _warn_past_population_limits(profile: Any, say: Callable[..., None]) -> None:
    """Say when the "neutral" posture already breaks a population limit (a habitual slouch)."""
    from posture.adapters.profiles import load_default_profile
    from posture.core.calibration import past_population_limits, view_family

    if view_family(profile.view) != "side":
        return  # only side views have population limits
    past = past_population_limits(profile, load_default_profile(profile.view))
    for metric, (neutral, limit) in past.items():
        say(
            f"Note: this neutral {metric} of {neutral:.1f} is already past the population "
            f"{_LIMIT_NAMES.get(metric, metric)} limit ({limit:g}), so the monitor will not nudge "
            "you for that posture. If you calibrated in your usual posture rather than sitting "
            f"tall, calibrate again sitting upright: `posture calibrate --profile {profile.name}`."
        )


def _retry_command(args: argparse.Namespace, name: str) -> str:
    """Return this calibrate command line with the glance step, for the user to copy."""
    argv = ["posture", "calibrate", "--profile", name]
    for flag, value in (
        ("--source", args.source),
        ("--seconds", args.seconds),
        ("--model", args.model),
        ("--config", args.config),
        ("--db", args.db),
    ):
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    argv.append("--glance")
    if args.glance_seconds is not None:
        argv += ["--glance-seconds", f"{args.glance_seconds:g}"]
    return shlex.join(argv)


def _note_in_history(args: argparse.Namespace, settings: Any, profile: Any, fit: Any) -> None:
    """Best effort: a calibration row in the history (reports draw baselines from it)."""
    from posture.app import open_history
    from posture.core.errors import StoreError

    try:
        with open_history(args.db, settings) as store:
            store.record_calibration(
                datetime.now(UTC),
                {k: b.median for k, b in profile.baseline.items()},
                profile=profile.name,
                view=profile.view,
                model=profile.model_name or "",
                quality={"frames": fit.n_frames, "valid": fit.n_valid},
            )
    except (StoreError, SourceError) as exc:
        # The profile is saved; the history note is only for reports, so say so and go on.
        log.warning("calibration saved, but not noted in the history: %s", exc)
