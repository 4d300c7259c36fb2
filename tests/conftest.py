"""Shared fixtures: an isolated home for every test, and one provisioned pose model per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and every XDG dir at tmp_path so no test touches the real home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        d = home / sub
        d.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(d))
    os.chmod(home / "run", 0o700)
    return home


def _provision(name: str, directory: Path):  # type: ignore[no-untyped-def]
    """Resolve a model into an empty cache, keeping pip away from the real home's cache."""
    from posture.adapters import models

    saved = os.environ.get("PIP_NO_CACHE_DIR")
    os.environ["PIP_NO_CACHE_DIR"] = "1"
    try:
        return models.resolve(name, directory=directory)
    finally:
        if saved is None:
            os.environ.pop("PIP_NO_CACHE_DIR", None)
        else:
            os.environ["PIP_NO_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def provisioned_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real full pose model, provisioned once per session from an empty cache.

    This goes the way a fresh machine without Google's host goes: no cached copy, no pinned
    official digest to download against, so the offline build from the PyPI wheel.
    """
    return _provision("full", tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def provisioned_lite(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real lite pose model, provisioned once per session from an empty cache.

    No official digest is pinned for it either, so it is the offline build: the detector from the
    PyPI wheel, the landmark model from MediaPipe's npm package `@mediapipe/pose`.
    """
    return _provision("lite", tmp_path_factory.mktemp("lite-cache"))


@pytest.fixture(scope="session")
def model_path(provisioned_model) -> Path:  # type: ignore[no-untyped-def]
    """Path of the provisioned real model."""
    return Path(provisioned_model.path)


@pytest.fixture(scope="session")
def image_pose(model_path: Path):  # type: ignore[no-untyped-def]
    """One IMAGE-mode pose backend shared by the session (model loads cost about a second)."""
    from posture.adapters.pose import MediaPipePose

    with MediaPipePose(model_path, mode="image") as pose:
        yield pose


# One notification server for the whole session: dbus-python keeps one connection per process,
# so a second dunst (on another bus) would never see plyer's notifications.
from dunst_harness import dunst  # noqa: E402, F401
