"""Importing the few mediapipe modules we use, without the rest of the package.

Why: `import mediapipe` runs package `__init__`s that import every task the wheel ships. For us
that is `matplotlib.pyplot` (behind mediapipe's drawing helpers), the audio tasks with
`sounddevice` (which initialises PortAudio at import wherever it is installed) and a dozen vision
tasks we never run: about 1.2 s of CPU and 40-45 MB resident in every process, including a monitor
that stays up all day and uses one task.

How: before the first import, the four parent packages (`mediapipe` down to
`mediapipe.tasks.python.vision`) are put in `sys.modules` built from their real specs but not run,
so importing `mediapipe.tasks.python.vision.pose_landmarker` runs only that module and what it
imports itself. A parent completes itself on demand: the first attribute it lacks (say
`mediapipe.Image`), or `dir()`, runs its real `__init__` in place, so code that imports mediapipe
the usual way later in the same process still gets the whole package. When mediapipe is already
imported, or a parent is not where this expects it (another mediapipe layout), the ordinary
import is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from typing import Any

log = logging.getLogger(__name__)

PARENTS = (
    "mediapipe",
    "mediapipe.tasks",
    "mediapipe.tasks.python",
    "mediapipe.tasks.python.vision",
)
"""The packages whose `__init__` imports the whole tree (outermost first)."""

_COMPLETING_DUNDERS = frozenset({"__all__", "__version__"})
_pending: set[str] = set()
"""Parents in `sys.modules` whose `__init__` has not run yet."""


class _Deferred(types.ModuleType):
    """A package module whose `__init__` runs the first time an attribute it lacks is asked for."""

    def __getattr__(self, name: str) -> Any:
        # Only called for missing attributes. Probes for optional dunders (`__wrapped__`, ...)
        # must not pull in the whole package; `__all__` and `__version__` are the package's own.
        if self.__name__ not in _pending or (
            name.startswith("__") and name not in _COMPLETING_DUNDERS
        ):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        complete()
        return getattr(self, name)

    def __dir__(self) -> list[str]:
        complete()
        return sorted(vars(self))


def complete() -> None:
    """Run every deferred parent's real `__init__` now, innermost first.

    Innermost first, as an ordinary import finishes them: `mediapipe`'s own `__init__` rebinds
    `mediapipe.tasks` to `mediapipe.tasks.python`, which must come after the inner packages
    have imported their modules through the real `mediapipe.tasks`.
    """
    for name in reversed(PARENTS):
        module = sys.modules.get(name)
        if name not in _pending or module is None or module.__spec__ is None:
            continue
        loader = module.__spec__.loader
        if loader is None:
            continue  # (a deferred parent always has one: _defer_parents checked its spec)
        _pending.discard(name)
        try:
            loader.exec_module(module)
        except BaseException:
            _pending.add(name)  # as after a failed import: the next use tries again
            raise


def _defer_parents() -> bool:
    """Put the unrun parent packages in `sys.modules`; False when the ordinary import must do."""
    if PARENTS[0] in sys.modules:
        return False  # imported already (whole, or deferred by an earlier call)
    made: list[str] = []
    try:
        for name in PARENTS:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None or spec.submodule_search_locations is None:
                raise ImportError(f"{name} is not a package here")
            module = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set, not run
            module.__class__ = _Deferred
            sys.modules[name] = module
            made.append(name)
            _pending.add(name)
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)  # what a normal import binds
    except (ImportError, ValueError) as exc:
        for name in made:
            del sys.modules[name]
            _pending.discard(name)
        log.debug("importing mediapipe whole: %s", exc)
        return False
    return True


def load(name: str) -> types.ModuleType:
    """Import one mediapipe module (e.g. `mediapipe.tasks.python.vision.pose_landmarker`)."""
    _defer_parents()
    return importlib.import_module(name)
