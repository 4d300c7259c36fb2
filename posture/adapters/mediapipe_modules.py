"""Importing the few mediapipe modules we use, without the rest of the package.

Why: `import mediapipe` runs package `__init__`s that import every task the wheel ships. For us
that is `matplotlib.pyplot` (behind mediapipe's drawing helpers), the audio tasks with
`sounddevice` (which initialises PortAudio at import wherever it is installed) and a dozen vision
tasks we never run: about 1.2 s of CPU and 30-45 MB resident in every process, including a monitor
that stays up all day and uses one task.

How: before the first import, the four parent packages (`mediapipe` down to
`mediapipe.tasks.python.vision`) are put in `sys.modules` built from their real specs but not run,
so importing `mediapipe.tasks.python.vision.pose_landmarker` runs only that module and what it
imports itself. A parent completes itself on demand: the first attribute it lacks (say
`mediapipe.Image`), or `dir()`, runs every pending parent's real `__init__`, innermost first as an
ordinary import finishes them, so code that imports mediapipe the usual way later in the same
process still gets the whole package. When mediapipe is already imported, or a parent is not where
this expects it, the ordinary import is used; when one of our leaf modules has moved (another
mediapipe release), `pose_api()` falls back to the public API, at the old cost.

Thread safety: loading and completing hold one re-entrant lock, so a thread that finds an
attribute missing while another completes the package waits for it instead of failing.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PARENTS = (
    "mediapipe",
    "mediapipe.tasks",
    "mediapipe.tasks.python",
    "mediapipe.tasks.python.vision",
)
"""The packages whose `__init__` imports the whole tree (outermost first)."""

_VISION = "mediapipe.tasks.python.vision"
POSE_MODULES = {
    "landmarker": f"{_VISION}.pose_landmarker",
    "base_options": "mediapipe.tasks.python.core.base_options",
    "running_mode": f"{_VISION}.core.vision_task_running_mode",
    "image": f"{_VISION}.core.image",
}
"""Where mediapipe 1.2 keeps what the pose task needs (the public API re-exports them)."""

_COMPLETING_DUNDERS = frozenset({"__all__", "__version__"})
_lock = threading.RLock()
_pending: list[types.ModuleType] = globals().get("_pending", [])  # kept across a reload
"""Deferred parents whose `__init__` has not run yet."""
_completer: int | None = None
"""The thread running `complete()`, while it runs."""


class _Deferred(types.ModuleType):
    """A package module whose `__init__` runs the first time an attribute it lacks is asked for.

    Back to a plain module once it has run, unless its parent rebinds its name (then it keeps
    serving its holders from the replacement).
    """

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes. Probes for optional dunders (`__wrapped__`, ...)
        # must not pull in the whole package; `__all__` and `__version__` are the package's own.
        if not (name.startswith("__") and name not in _COMPLETING_DUNDERS):
            busy = self in _pending or _completer is not None
            if busy and _completer != threading.get_ident() and _is_submodule(self, name):
                # `from pkg import sub` inside some module's import, or `pkg.sub`: import that
                # one submodule as the import system would (under its own locks, with their
                # deadlock detection), not pkg's whole __init__ from inside a child's import.
                return importlib.import_module(f"{self.__name__}.{name}")
            if self in _pending or _completer not in (None, threading.get_ident()):
                # Pending, or another thread is completing the package: wait for it. (A probe
                # from the completing thread itself, from inside an __init__, is simply a miss.)
                complete()
            try:  # never __getattr__ again: no recursion, whatever state we are in
                return types.ModuleType.__getattribute__(self, name)
            except AttributeError:
                pass
            # `mediapipe`'s own __init__ rebinds `mediapipe.tasks` to `mediapipe.tasks.python`:
            # whoever still holds the package it replaced (`mp.tasks` read before completion)
            # is served from the module now bound under that name, as after an ordinary import.
            parent, _, child = self.__name__.rpartition(".")
            rebound = getattr(sys.modules.get(parent), child, None) if parent else None
            if isinstance(rebound, types.ModuleType) and rebound is not self:
                return getattr(rebound, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        complete()
        return list(types.ModuleType.__dir__(self))


def _is_submodule(module: types.ModuleType, name: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module.__name__}.{name}") is not None
    except (ImportError, ValueError):
        return False


def complete() -> None:
    """Run every pending parent's real `__init__` now, innermost first.

    Innermost first, as an ordinary import finishes them: `mediapipe`'s own `__init__` rebinds
    `mediapipe.tasks` to `mediapipe.tasks.python`, which must come after the inner packages
    have imported their modules through the real `mediapipe.tasks`.
    """
    global _completer
    with _lock:
        if not _pending or _completer is not None:
            return  # nothing to run, or this thread is already running it (re-entered)
        _completer = threading.get_ident()
        done: list[types.ModuleType] = []
        try:
            while _pending:
                module = max(_pending, key=lambda m: m.__name__.count("."))
                spec = module.__spec__
                if spec is None or spec.loader is None:  # (cannot happen: made from a spec)
                    _pending.remove(module)
                    continue
                spec.loader.exec_module(module)  # on failure it stays pending: the next use retries
                _pending.remove(module)
                done.append(module)
        finally:
            _completer = None
        for module in done:
            # plain modules again, except one its parent no longer binds (`mediapipe.tasks`):
            # its holders keep being served from the replacement
            parent, _, child = module.__name__.rpartition(".")
            if not parent or getattr(sys.modules.get(parent), child, None) is module:
                module.__class__ = types.ModuleType


def _defer_parents() -> None:
    """Put the unrun parent packages in `sys.modules`, unless mediapipe is imported already.

    Under the import system's own lock on `mediapipe`, so that a plain `import mediapipe` in
    another thread either finishes first (and is seen here) or waits for the deferred parents.
    That lock manager is private to importlib: without it, this runs unguarded.
    """
    try:
        from importlib._bootstrap import (  # type: ignore[attr-defined]
            _ModuleLockManager as import_lock,
        )
    except ImportError:
        import_lock = None
    if import_lock is None:
        _defer_parents_unguarded()
        return
    with import_lock(PARENTS[0]):
        _defer_parents_unguarded()


def _defer_parents_unguarded() -> None:
    if PARENTS[0] in sys.modules:
        return  # imported already (whole, or deferred by an earlier call)
    if importlib.util.find_spec(PARENTS[0]) is None:
        return  # not installed: the import that follows says so
    made: list[types.ModuleType] = []
    try:
        for name in PARENTS:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None or spec.submodule_search_locations is None:
                raise ImportError(f"{name} is not a package here")
            module = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set, not run
            module.__class__ = _Deferred
            sys.modules[name] = module
            made.append(module)
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)  # what a normal import binds
    except (ImportError, ValueError) as exc:
        for module in made:
            del sys.modules[module.__name__]
        log.warning("importing all of mediapipe (%s)", exc)
        return
    _pending.extend(made)


def load(name: str) -> types.ModuleType:
    """Import one mediapipe module (e.g. `mediapipe.tasks.python.vision.pose_landmarker`)."""
    with _lock:
        _defer_parents()
        return importlib.import_module(name)


@dataclass(frozen=True)
class PoseApi:
    """The pose task's classes, however they were imported."""

    PoseLandmarker: Any
    PoseLandmarkerOptions: Any
    BaseOptions: Any
    RunningMode: Any
    Image: Any
    ImageFormat: Any


def pose_api() -> PoseApi:
    """Import the pose task lean; from the public API when its modules are elsewhere."""
    try:
        found = {key: load(name) for key, name in POSE_MODULES.items()}
        image = found["image"]
        return PoseApi(
            PoseLandmarker=found["landmarker"].PoseLandmarker,
            PoseLandmarkerOptions=found["landmarker"].PoseLandmarkerOptions,
            BaseOptions=found["base_options"].BaseOptions,
            RunningMode=found["running_mode"].VisionTaskRunningMode,
            Image=image.Image,
            ImageFormat=image.ImageFormat,
        )
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == PARENTS[0]:
            raise  # mediapipe is not installed at all
        log.warning("mediapipe's pose modules are not where expected (%s): importing it all", exc)
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return PoseApi(
        PoseLandmarker=vision.PoseLandmarker,
        PoseLandmarkerOptions=vision.PoseLandmarkerOptions,
        BaseOptions=BaseOptions,
        RunningMode=vision.RunningMode,
        Image=mp.Image,
        ImageFormat=mp.ImageFormat,
    )
