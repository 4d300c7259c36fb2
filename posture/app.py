"""The one composition root: source -> pose -> metrics -> judge -> notifier + store.

Drivers (`posture monitor`, `posture analyze`, `posture calibrate`) build their pipelines here so
that the same frames with the same profile and config give the same decisions everywhere.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posture.adapters import models
from posture.adapters.pose import MediaPipePose
from posture.adapters.profiles import current_metric_version, load_default_profile
from posture.adapters.settings import DEFAULT_SOURCE, LoadedSettings
from posture.adapters.store import HistoryStore, history_path
from posture.core.calibration import Profile, check_profile, view_family
from posture.core.config import JudgeConfig, Settings
from posture.core.errors import ProfileError
from posture.core.events import Event, Verdict
from posture.core.judge import Judge, Observation
from posture.core.messages import POPULATION_BASELINE, YOUR_BASELINE, AlertComposer
from posture.pipeline import FrameAnalyzer
from posture.progress import stderr_progress

log = logging.getLogger(__name__)


def model_request(
    explicit: str | None, loaded: LoadedSettings | None, manifest: models.Manifest | None = None
) -> tuple[Path | None, str | None, str]:
    """Say which model was asked for: (file, model name, where it was given).

    `explicit` is the `--model` value, else `monitor.model` in `loaded` counts; each is a `.task`
    file or a model name such as `lite`, and neither means the default. Where it was given names
    the config line ("monitor.model at FILE:LINE"), so an error points at what to fix.
    """
    if explicit and explicit.strip():
        value, given = explicit.strip(), "--model"
    else:
        value = loaded.settings.monitor.model.strip() if loaded else ""
        at = loaded.sources.get("monitor.model", DEFAULT_SOURCE) if loaded else DEFAULT_SOURCE
        given = "monitor.model in the config" if at == DEFAULT_SOURCE else f"monitor.model at {at}"
    path, name = models.split_model_arg(value or None, manifest)
    return path, name, given


def resolve_model(
    explicit: str | None = None, loaded: LoadedSettings | None = None
) -> models.ResolvedModel:
    """Return the verified model to load (provisioning it on first use, with a progress bar)."""
    manifest = models.load_manifest()
    path, name, given = model_request(explicit, loaded, manifest)
    return models.resolve(
        name, explicit=path, manifest=manifest, progress=stderr_progress(), given=given
    )


def landmarks_json(frame: Any) -> list[list[float]] | None:
    """33 x [x, y, z, visibility] as MediaPipe normalises them; None without a person."""
    if not frame.person:
        return None
    arr = np.column_stack([frame.image_xyz, frame.visibility])
    return [[round(float(v), 5) for v in row] for row in arr]


class PhotoAnalyzer:
    """Independent photos: IMAGE mode, one model load for the whole batch.

    Each photo is judged on its own by a fresh judge (no persistence between photos): its
    instant faults are the verdict, and its state is `slouching` when it has any.
    """

    def __init__(
        self, model: models.ResolvedModel, settings: Settings, choice: ProfileChoice
    ) -> None:
        self.model = model
        self.settings = settings
        self.choice = choice
        self._pose = MediaPipePose(model.path, mode="image")
        # photos are independent: no smoothing, so one analyser serves them all
        self._analyzer = FrameAnalyzer(pose=self._pose, smooth=False)

    def __enter__(self) -> PhotoAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pose.close()

    def analyze(self, image: np.ndarray) -> dict[str, Any]:
        """Return one photo's JSON record (`t`, `person`, `landmarks`, `view`, `metrics`, ...)."""
        analysis = self._analyzer.analyze(image, 0.0)
        return photo_record(
            analysis, judge_photo(analysis, self.settings.judge, self.choice, self.model.sha256)
        )


def judge_photo(
    analysis: Any, config: JudgeConfig, choice: ProfileChoice, model_sha256: str | None
) -> Verdict:
    """Return the verdict on one independent photo: a fresh judge, one observation."""
    judge = LazyJudge(config, choice, model_sha256)
    verdict, _ = judge.feed(
        Observation(
            t_s=0.0,
            person=analysis.person,
            view=analysis.view,
            metrics=analysis.metrics,
            image_issue=analysis.image_issue,
        )
    )
    if not analysis.person:
        return Verdict(t_s=0.0, state="away", reason="no person in the photo")
    if verdict.instant_faults and verdict.state != "unknown":
        return Verdict(
            t_s=0.0,
            state="slouching",
            instant_faults=verdict.instant_faults,
            deviations=verdict.deviations,
        )
    return verdict


def photo_record(analysis: Any, verdict: Verdict) -> dict[str, Any]:
    """Return the JSON shape of one analysed photo."""
    return {
        "t": 0.0,
        "person": analysis.person,
        "landmarks": landmarks_json(analysis.pose),
        "view": analysis.view,
        "metrics": analysis.metrics_json(),
        "state": verdict.state,
        "faults": list(verdict.instant_faults),
    }


# -- shared construction for the drivers --------------------------------------------------------

UNCALIBRATED_NOTICE = (
    "running uncalibrated: judging against population norms (side view: the clinical 50 deg CVA "
    "cut-off mapped to our estimate, and ISO 11226's 25 deg neck flexion). For alerts that fit "
    "you, run `posture calibrate`."
)


CALIBRATED_ONLY_SETTINGS = ("judge.forward_head_cva_drop_deg", "judge.neck_flexion_rise_deg")
"""Drops from a person's own baseline: the population norms judge the side view by absolute
limits instead, so these settings do nothing until `posture calibrate`."""


def calibrated_only_note(sources: Mapping[str, str]) -> str:
    """Say which settings file values an uncalibrated run cannot use ("" when none is set)."""
    set_here = [
        f"{k} ({sources[k]})"
        for k in CALIBRATED_ONLY_SETTINGS
        if sources.get(k, "default") != "default"
    ]
    if not set_here:
        return ""
    return (
        f"{' and '.join(set_here)} {'applies' if len(set_here) == 1 else 'apply'} to a calibrated "
        "profile only (a drop from your own baseline); uncalibrated, the population limits "
        f"decide. Run `posture calibrate` to use {'it' if len(set_here) == 1 else 'them'}."
    )


def uncalibrated_notice(model_name: str, sources: Mapping[str, str] | None = None) -> str:
    """Return the start notice of an uncalibrated run.

    The norms were fitted on the default model (full: docs/CALIBRATION.md); with another model
    the notice says so. Threshold settings that only a calibrated profile uses are named.
    """
    manifest = models.load_manifest()
    notice = UNCALIBRATED_NOTICE
    if model_name != manifest.default:
        which = manifest.get(model_name).short if manifest.knows(model_name) else "FILE"
        notice += (
            f" The norms were fitted on {manifest.default}, not on {model_name}: calibrate with "
            f"it (`posture calibrate --model {which}`), or expect them to fit less well."
        )
    note = calibrated_only_note(sources or {})
    return f"{notice} {note}" if note else notice


def composer_for(choice: ProfileChoice) -> AlertComposer:
    """Alert texts compare with the person's baseline, or, uncalibrated, with population norms."""
    return AlertComposer(YOUR_BASELINE if choice.calibrated else POPULATION_BASELINE)


@dataclass
class ProfileChoice:
    """The profile a driver judges against, and whether it is the person's own."""

    profile: Profile | None
    """None: uncalibrated; the population default is chosen from the first view seen."""
    name: str
    calibrated: bool


POPULATION_PROFILE = "default"
"""The name of the population norms (what an uncalibrated session records): `--profile default`
judges with them even when a profile of your own exists, e.g. someone else's photos."""


def choose_profile(
    name: str | None, settings: Settings, *, required: bool = False
) -> ProfileChoice:
    """Return the named (or configured) profile; the population default when it does not exist.

    `required`: a name given explicitly on the command line must exist.
    """
    from posture.adapters.profiles import ProfileStore

    wanted = name or settings.monitor.profile
    store = ProfileStore()
    if wanted == POPULATION_PROFILE:  # asked for by name: the population norms, never a file
        if store.exists(POPULATION_PROFILE):  # saved before the name was kept for the norms
            log.warning(
                "a profile saved as %r is not used: that name means the population norms now; "
                "rename it to use it (e.g. `mv %s %s`)",
                POPULATION_PROFILE,
                store.path(POPULATION_PROFILE),
                store.path("desk"),
            )
        return ProfileChoice(None, POPULATION_PROFILE, False)
    if store.exists(wanted):
        return ProfileChoice(store.load(wanted), wanted, True)
    if required and name:
        known = ", ".join(store.names()) or "none yet"
        raise ProfileError(
            f"no calibration profile named {wanted!r} (saved profiles: {known}); "
            f"create it with `posture calibrate --profile {wanted}`, or use `--profile "
            f"{POPULATION_PROFILE}` for the population norms"
        )
    return ProfileChoice(None, POPULATION_PROFILE, False)


class LazyJudge:
    """A judge on the person's own profile or, uncalibrated, on the population default.

    Uncalibrated, the default's view family is that of the first frame that shows a person (side
    and front have different norms).

    Until a person is seen the side-view default stands in: frames without a person only count
    presence, so nothing is lost when it is replaced.
    """

    def __init__(
        self, config: JudgeConfig, choice: ProfileChoice, model_sha256: str | None
    ) -> None:
        self._config = config
        self._family_chosen = choice.profile is not None  # a person's own profile is fixed
        self._snoozed_until: float | None = None
        self.profile = choice.profile or load_default_profile("side_right")
        if choice.profile is not None:
            # Metric version and model are known now: refuse a stale profile at start, with the
            # reason and "recalibrate", rather than on some later frame.
            check_profile(
                self.profile,
                view="",
                metric_version=current_metric_version(),
                model_sha256=model_sha256,
            )
        self.judge = Judge(config, self.profile)

    def feed(self, obs: Observation) -> tuple[Verdict, list[Event]]:
        """Route to the judge, choosing the default profile's family on the first person.

        A profile that does not serve the view seen is not an error here: the judge reports
        those frames as unknown ("view differs from profile: recalibrate..."), so a person who
        walks in facing the camera never stops the monitor.
        """
        if not self._family_chosen and obs.person and view_family(obs.view):
            self._family_chosen = True
            if not self.profile.serves(obs.view):
                self.profile = load_default_profile(obs.view)
                self.judge = Judge(self._config, self.profile)
                if self._snoozed_until is not None:
                    self.judge.snooze(self._snoozed_until)
        return self.judge.feed(obs)

    def snooze(self, until_s: float) -> None:
        """Hold alerts until `until_s` (kept across a change of the default profile)."""
        self._snoozed_until = until_s
        self.judge.snooze(until_s)

    def resume(self) -> None:
        """Lift a snooze."""
        self._snoozed_until = None
        self.judge.resume()

    def close(self, t_s: float) -> list[Event]:
        """End a running episode where monitoring stopped (see `Judge.close`)."""
        return self.judge.close(t_s)

    @property
    def baseline_cva(self) -> float:
        """The baseline CVA estimate for the status line (NaN when the profile has none)."""
        b = self.profile.baseline.get("cva_deg")
        return float(b.median) if b is not None else float("nan")


def open_history(db: str | Path | None, settings: Settings) -> HistoryStore:
    """Open the history `--db` or `[store] path` names for writing, and say its notices once.

    Each verdict is credited for as long as the judge holds it (`judge.max_hold_s`), or slow
    looks would leave holes in the stored time.
    """
    store = HistoryStore.open(
        history_path(db, settings.store.path), max_hold_s=settings.judge.max_hold_s
    )
    for notice in store.notices:  # e.g. a corrupt file moved aside
        print(f"posture: {notice}", file=sys.stderr)
    return store
