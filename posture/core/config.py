"""Frozen, validated settings. Units live in field names; every field carries its allowed range.

Each settings section is a frozen dataclass whose fields declare their default, allowed range (or
choices) and a one-line help text in `dataclasses.field(metadata=...)`. Constructors validate every
field and raise `FieldError` (a `ConfigError`) naming the field, the value and what is allowed, so a
bad value can never reach the judge. The TOML adapter (`posture.adapters.settings`) reads the same
metadata to validate files, to render `posture config show` and to write the commented template.

Defaults, and where they come from:

- forward head: the CVA estimate drops >= 5 deg below the calibrated baseline, about the minimal
  detectable change of photographic CVA measurement (so smaller drops are indistinguishable from
  measurement noise).
- neck flexion: ISO 11226 advises against sustained neck flexion above 25 deg; a rise of 10 deg
  above a typical seated neutral (about 15 deg) reaches that limit.
- persistence: a fault must hold for 30 s, as >= 80 % of the last 30 s, before an episode starts;
  brief good frames do not reset it (norfair-style hit counting, but in seconds, not frames).
- cooldown 5 min between nudges, escalation after 10 min still slouching, a break reminder after
  45 min of continuous presence, and an absence of 2 min resets the sitting timer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from posture.core.errors import ConfigError
from posture.core.events import FAULTS

_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PROFILE_NAME_RULE = (
    "1-64 letters, digits, '_', '-' or '.', starting with a letter or digit (no path "
    "separators), e.g. 'desk' or 'laptop'"
)


def is_profile_name(name: object) -> bool:
    """Whether `name` is a safe profile name: it becomes a file name, so no separators, no ..."""
    return isinstance(name, str) and bool(_PROFILE_NAME.fullmatch(name)) and ".." not in name


NOTIFY_BACKENDS: tuple[str, ...] = (
    "plyer",
    "notify-send",
    "osascript",
    "windows-toast",
    "console",
    "none",
)
"""Notifier backends the notify adapter knows, tried in the configured order."""


class FieldError(ConfigError):
    """One field holds a value outside what is allowed. Carries the parts for richer messages."""

    def __init__(self, section: str, name: str, value: object, allowed: str) -> None:
        self.section = section
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{section}.{name} = {value!r} is not allowed; allowed: {allowed}")


def _f(
    default: Any,
    help: str,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Make a dataclass field with its validation metadata (range or choices) and help text."""
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def describe_allowed(meta: dict[str, Any], kind: type) -> str:
    """Human text for what a field allows, e.g. "a number from 0 to 3600" or "one of a, b"."""
    choices = meta.get("choices")
    lo, hi = meta.get("lo"), meta.get("hi")
    if kind is bool:
        return "true or false"
    if kind is tuple:
        return f"a list of {', '.join(repr(c) for c in choices or ())}"
    if kind is str:
        return f"one of {', '.join(repr(c) for c in choices)}" if choices else "a string"
    noun = "an integer" if kind is int else "a number"
    if lo is not None and hi is not None:
        return f"{noun} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"{noun} >= {lo:g}"
    return noun


def field_kind(default: object) -> type:
    """Return a field's value kind from its default: bool, int, float, str or tuple (of str)."""
    for kind in (bool, int, float, str, tuple):
        if isinstance(default, kind):
            return kind
    raise TypeError(f"unsupported settings field default {default!r}")  # programming error


def field_default(f: Any) -> Any:
    """Return the default value of a dataclass field (resolving default factories)."""
    if callable(f.default_factory):
        return f.default_factory()
    return f.default


def _validate(obj: object, section: str) -> None:
    """Check every field of a settings dataclass against its metadata; raise FieldError."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        meta = dict(f.metadata)
        kind = field_kind(field_default(f))
        allowed = describe_allowed(meta, kind)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            try:
                ok = ok and math.isfinite(float(value))
            except OverflowError:  # an integer too large for a float
                ok = False
        elif kind is str:
            ok = isinstance(value, str) and (not meta["choices"] or value in meta["choices"])
        else:
            ok = (
                isinstance(value, tuple)
                and all(isinstance(v, str) for v in value)
                and (not meta["choices"] or all(v in meta["choices"] for v in value))
                and len(set(value)) == len(value)
            )
        if ok and kind in (int, float):
            ok = (meta["lo"] is None or value >= meta["lo"]) and (
                meta["hi"] is None or value <= meta["hi"]
            )
        if not ok:
            raise FieldError(section, f.name, value, allowed)


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    """How the judge turns per-frame faults into episodes and alerts ([judge] in the TOML)."""

    forward_head_cva_drop_deg: float = _f(
        5.0,
        "forward head when the CVA estimate drops this far below your calibrated baseline (side "
        "view; uncalibrated, the population limit decides)",
        1,
        30,
    )
    neck_flexion_rise_deg: float = _f(
        10.0,
        "head drop when neck flexion rises this far above your calibrated baseline (side view; "
        "uncalibrated, the population limit decides)",
        2,
        45,
    )
    head_tilt_deg: float = _f(10.0, "head tilt when head roll leaves baseline by this much", 2, 45)
    mad_k: float = _f(
        3.0, "ratio metrics (front view) fault beyond k x MAD of the calibration baseline", 1, 20
    )
    mad_floor_ratio: float = _f(
        0.02,
        "smallest MAD used for ratio metrics (a very still calibration is not noise-free)",
        0.0,
        1.0,
    )
    mad_floor_deg: float = _f(1.0, "smallest MAD used for angle metrics", 0.0, 20.0)
    persistence_s: float = _f(
        30.0, "a fault must hold this long before a slouch episode starts", 5, 3600
    )
    persistence_fraction: float = _f(
        0.8,
        "share of the last persistence_s the fault must be present (brief good frames ok)",
        0.5,
        1.0,
    )
    recover_window_s: float = _f(10.0, "window over which recovery is judged", 1, 600)
    recover_fraction: float = _f(
        0.8, "share of recover_window_s that must be good to end an episode", 0.5, 1.0
    )
    max_hold_s: float = _f(
        3.0, "longest time one observation stands for; longer gaps count as unknown", 0.05, 60
    )
    unknown_ends_episode_s: float = _f(
        60.0, "an episode ends after this long without a usable frame", 1, 3600
    )
    away_after_s: float = _f(15.0, "no person for this long means away", 1, 3600)
    sitting_reset_away_s: float = _f(
        120.0, "an absence this long resets the sitting (break) timer", 10, 86400
    )
    cooldown_s: float = _f(300.0, "least time between two nudges", 0, 86400)
    escalate_after_s: float = _f(
        600.0, "a firmer alert if still slouching this long after the nudge", 60, 86400
    )
    break_after_s: float = _f(
        2700.0, "break reminder after this much continuous presence", 60, 86400
    )
    break_reminders: bool = _f(True, "send break reminders at all")
    alert_gap_s: float = _f(
        120.0, "least time between a break reminder and a nudge or escalation", 0, 3600
    )
    faults: tuple[str, ...] = _f(FAULTS, "which faults are watched", choices=FAULTS)

    def __post_init__(self) -> None:
        _validate(self, "judge")
        if not self.faults:  # nothing to watch would judge every frame "unknown", silently
            raise FieldError(
                "judge", "faults", [], f"a non-empty list of {', '.join(repr(f) for f in FAULTS)}"
            )
        if self.sitting_reset_away_s < self.away_after_s:
            raise FieldError(
                "judge",
                "sitting_reset_away_s",
                self.sitting_reset_away_s,
                f"a number >= judge.away_after_s ({self.away_after_s:g})",
            )


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Camera and analysis rate ([monitor])."""

    source: str = _f("0", "camera index, video file or image folder")
    profile: str = _f("desk", "calibration profile used by `posture monitor`")
    model: str = _f(
        "",
        "pose model for monitor, calibrate, analyze and doctor: a name (full, lite) or a .task "
        "file (a relative path is taken from the current directory); empty means the default; "
        "--model overrides it",
    )
    min_fps: float = _f(
        0.5,
        "analysis rate while nothing changes: steady good posture, an empty desk (frames per "
        "second)",
        0.2,
        30,
    )
    max_fps: float = _f(2.5, "analysis rate cap (frames per second)", 0.2, 30)
    adaptive: bool = _f(
        True, "look at min_fps while nothing changes, up to max_fps when something does"
    )

    def __post_init__(self) -> None:
        _validate(self, "monitor")
        if not is_profile_name(self.profile):  # "" passed, and the fixes then named no profile
            raise FieldError("monitor", "profile", self.profile, PROFILE_NAME_RULE)
        if self.max_fps < self.min_fps:
            raise FieldError(
                "monitor",
                "max_fps",
                self.max_fps,
                f"a number >= monitor.min_fps ({self.min_fps:g})",
            )


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Desktop notifications ([notify])."""

    # One list for every OS: the notifier leaves out what cannot work on this one, so this is
    # plyer, then the native fallback (notify-send, osascript or a Windows toast), then console.
    backends: tuple[str, ...] = _f(
        ("plyer", "notify-send", "osascript", "windows-toast", "console"),
        "notifier backends, tried in order (those this OS lacks are skipped)",
        choices=NOTIFY_BACKENDS,
    )

    def __post_init__(self) -> None:
        _validate(self, "notify")
        if not self.backends:
            raise FieldError(
                "notify",
                "backends",
                list(self.backends),
                f"a non-empty list of {', '.join(repr(c) for c in NOTIFY_BACKENDS)}",
            )


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """History database ([store])."""

    path: str = _f("", "history database file; empty means the user data dir")
    keep_days: int = _f(
        365, "the monitor deletes history older than this many days when it starts", 1, 36500
    )

    def __post_init__(self) -> None:
        _validate(self, "store")


@dataclass(frozen=True, slots=True)
class CalibrationConfig:
    """Calibration capture and its quality gates ([calibration])."""

    duration_s: float = _f(10.0, "how long to sit still for the baseline", 3, 120)
    glance_duration_s: float = _f(8.0, "how long the optional glance step records", 3, 60)
    min_valid_frames: int = _f(15, "fewest usable frames for a baseline", 5, 10000)
    min_person_fraction: float = _f(0.8, "share of frames that must show a person", 0.1, 1.0)
    min_in_frame_fraction: float = _f(
        0.8, "share of person frames with head and shoulders inside the image", 0.1, 1.0
    )
    min_luma: float = _f(40.0, "darkest usable median frame brightness (0-255)", 0, 255)
    min_view_fraction: float = _f(
        0.9, "share of person frames that must agree on the view", 0.5, 1.0
    )
    max_mad_deg: float = _f(4.0, "most movement (MAD) allowed in angle metrics", 0.5, 45)
    max_mad_ratio: float = _f(0.06, "most movement (MAD) allowed in ratio metrics", 0.001, 1.0)
    glance_cap_deg: float = _f(20.0, "largest glance range kept for angle metrics", 1, 60)
    glance_cap_ratio: float = _f(0.3, "largest glance range kept for ratio metrics", 0.01, 2.0)

    def __post_init__(self) -> None:
        _validate(self, "calibration")


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings, one frozen section per TOML table."""

    judge: JudgeConfig = field(default_factory=JudgeConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)

    def __post_init__(self) -> None:
        # Each observation stands for at most judge.max_hold_s; slower analysis would leave
        # holes that persistence reads as unknown time, so no fault could ever persist.
        if self.judge.max_hold_s * self.monitor.min_fps < 1.0:
            raise FieldError(
                "judge",
                "max_hold_s",
                self.judge.max_hold_s,
                f"a number >= 1 / monitor.min_fps ({1.0 / self.monitor.min_fps:g} s)",
            )


SECTIONS: dict[str, type] = {
    "judge": JudgeConfig,
    "monitor": MonitorConfig,
    "notify": NotifyConfig,
    "store": StoreConfig,
    "calibration": CalibrationConfig,
}
"""TOML table name -> settings dataclass, in the order the template and `config show` use."""
