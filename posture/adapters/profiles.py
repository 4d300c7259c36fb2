"""Calibration profiles on disk, and the shipped `calibration/` data (population norms, schema).

Named profiles (desk, laptop, standing...) live in `user_data_dir("posture")/profiles/NAME.json`:
the directory is mode 0700 and every file 0600 (a baseline of one's posture is personal). Writes
are atomic (temporary file in the same directory, fsync, `os.replace`), so a crash never leaves a
half-written profile. A corrupt or invalid file raises `ProfileError` naming the file and what is
wrong; the JSON model and its validation live in `posture.core.calibration`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from posture.core.calibration import Profile, default_profile
from posture.core.config import PROFILE_NAME_RULE, is_profile_name
from posture.core.errors import ProfileError

log = logging.getLogger(__name__)

PROFILE_SUFFIX = ".json"


def profiles_dir() -> Path:
    """Return the default profile directory, `user_data_dir("posture")/profiles`."""
    import platformdirs

    return Path(platformdirs.user_data_dir("posture")) / "profiles"


def validate_name(name: str) -> str:
    """Return `name` if it is a safe profile name, else raise ProfileError saying what is allowed.

    Letters, digits, "_", "-" and "." (not first), 1-64 characters: no path separators, no "..".
    """
    if not is_profile_name(name):
        raise ProfileError(f"invalid profile name {name!r}: use {PROFILE_NAME_RULE}")
    return name


def calibration_dir() -> Traversable:
    """Locate the shipped `calibration/` data: the source checkout first, else the installed copy.

    In a checkout it is `<repo>/calibration`; in a wheel, `posture/_resources/calibration`
    (force-included by the build, read through importlib.resources).
    """
    import posture

    checkout = Path(posture.__file__).resolve().parents[1] / "calibration"
    if (checkout / "default.json").is_file():
        return checkout
    installed = resources.files("posture") / "_resources" / "calibration"
    if installed.joinpath("default.json").is_file():
        return installed
    raise ProfileError(
        f"posture's calibration data is missing (looked in {checkout} and the installed package "
        "posture/_resources/calibration): reinstall posture"
    )


def load_norms() -> dict[str, Any]:
    """Read calibration/default.json (population norms)."""
    src = calibration_dir().joinpath("default.json")
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(
            f"{src}: cannot read the population norms ({exc}); reinstall posture"
        ) from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{src}: expected a JSON object; reinstall posture")
    return data


def load_default_profile(view: str) -> Profile:
    """Return the uncalibrated population profile for `view` (from calibration/default.json)."""
    return default_profile(load_norms(), view)


def load_schema() -> dict[str, Any]:
    """Read calibration/profile.schema.json (the JSON Schema of a profile file)."""
    data = json.loads(calibration_dir().joinpath("profile.schema.json").read_text("utf-8"))
    if not isinstance(data, dict):
        raise ProfileError("calibration/profile.schema.json is not an object; reinstall posture")
    return data


def current_metric_version() -> int:
    """Return the metric-definition version the installed geometry computes."""
    from posture.core.geometry import METRIC_VERSION

    return METRIC_VERSION


class ProfileStore:
    """Named profiles in one directory (default `profiles_dir()`): list, load, save, delete."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else profiles_dir()

    def path(self, name: str) -> Path:
        """Return the file of profile `name` (the name is validated)."""
        return self.root / f"{validate_name(name)}{PROFILE_SUFFIX}"

    def names(self) -> list[str]:
        """Return the stored profile names, sorted (files with invalid names are skipped)."""
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.glob(f"*{PROFILE_SUFFIX}"):
            stem = p.name[: -len(PROFILE_SUFFIX)]
            if is_profile_name(stem):
                out.append(stem)
        return sorted(out)

    def exists(self, name: str) -> bool:
        """Say whether profile `name` is stored."""
        return self.path(name).is_file()

    def load(self, name: str) -> Profile:
        """Read and validate profile `name`; ProfileError names the file and what is wrong."""
        path = self.path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none yet"
            raise ProfileError(
                f"no calibration profile {name!r} ({path}); stored profiles: {known}. "
                f"Fix: run `posture calibrate --profile {name}`"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{path}: cannot read the profile ({exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(
                f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                f"Fix: recalibrate with `posture calibrate --profile {name}`, or delete the file"
            ) from exc
        profile = Profile.from_dict(data, where=str(path))
        if profile.name != name:
            log.debug("profile file %s holds name %r; using the file name", path, profile.name)
        return profile

    def save(self, profile: Profile, name: str | None = None) -> Path:
        """Write `profile` as `name` (default: its own name) atomically, mode 0600; return path."""
        name = validate_name(name if name is not None else profile.name)
        path = self.path(name)
        self._ensure_dir()
        text = json.dumps(profile.to_dict(), indent=2, sort_keys=False, allow_nan=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.root)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        log.debug("saved profile %r to %s", name, path)
        return path

    def delete(self, name: str) -> None:
        """Remove profile `name`; ProfileError if there is none."""
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise ProfileError(f"no calibration profile {name!r} to delete ({path})") from None

    def _ensure_dir(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
        except OSError as exc:
            raise ProfileError(
                f"cannot create the profile directory {self.root} ({exc}); check its permissions"
            ) from exc
