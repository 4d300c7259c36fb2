"""The PostureError tree. Every error says what went wrong, where, and how to fix it.

PostureError                    base; `exit_code` is what the CLI returns
├── UsageError                  options that do not fit together or the input (exit 2)
├── ConfigError                 bad settings: names the file, key, value and what is allowed
├── ProfileError                missing, corrupt or mismatched calibration profile
│   └── ProfileMismatchError    profile made for another view, model or metric version
├── CalibrationError            a calibration quality gate failed (message holds the fix)
├── ModelError                  the pose model is missing, corrupt or cannot be provisioned
├── SourceError                 a camera, video or image source cannot be opened or read
│   └── CameraUnavailable       transient: the camera is busy or gone (the monitor retries)
├── FrameError                  a frame is empty, malformed or of an unsupported shape
├── StoreError                  the history database cannot be opened or written
├── ReportError                 a report cannot be produced (unwritable output)
│   └── PeriodError             usage: a bad date, zone or period for a report (exit code 2)
└── ControlError                talking to a running monitor failed
    └── MonitorRunning          another monitor already runs here (exit code 3)
"""

from __future__ import annotations


class PostureError(Exception):
    """Base of every error this program raises on purpose."""

    exit_code: int = 1


class UsageError(PostureError):
    """Options argparse accepts that do not fit the input; exit 2, as argparse gives."""

    exit_code = 2


class ConfigError(PostureError, ValueError):
    """Invalid configuration; the message names the file, key, value and allowed range."""

    exit_code = 2


class ProfileError(PostureError):
    """A calibration profile is missing, unreadable or invalid."""


class ProfileMismatchError(ProfileError):
    """The profile was made for another view, model or metric version: recalibrate.

    `fix` is the way out on its own (the message ends with it), for tables that show it apart.
    """

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.fix = fix


class CalibrationError(PostureError):
    """A calibration quality gate failed; the message says what and how to fix it."""


class ModelError(PostureError):
    """The pose model is missing, corrupt, or every way to provision it failed."""


class SourceError(PostureError):
    """A frame source (camera, video, images) cannot be opened or read."""


class CameraUnavailable(SourceError):
    """The camera is busy or gone; transient in the monitor loop."""


class FrameError(PostureError, ValueError):
    """A frame is empty, malformed or has an unsupported shape or dtype."""


class StoreError(PostureError):
    """The history database cannot be opened, migrated or written."""


class HistoryInUse(StoreError):
    """Another monitor is recording into the same history (its time would count twice)."""

    exit_code = 3  # as MonitorRunning: another monitor runs; a restart cannot help


class ReportError(PostureError):
    """A report cannot be produced: bad period, bad format, unwritable output."""


class PeriodError(ReportError):
    """The report's dates, range or time zone are unusable: a usage error, as argparse's are."""

    exit_code = 2


class ControlError(PostureError):
    """No running monitor answered on the control socket, or it refused the request."""


class MonitorRunning(ControlError):
    """Another monitor already answers on the control socket: this one does not start.

    Its own exit code (3), so a supervisor can tell "already running" from a failure and not
    retry it: the systemd unit `posture autostart enable --systemd` writes lists it in
    `RestartPreventExitStatus=`.
    """

    exit_code = 3
