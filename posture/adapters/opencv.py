"""OpenCV as a background process wants it: imported on first use, thread pool limited, quiet.

OpenCV spreads `cvtColor` and friends over a pool of worker threads sized to the machine. For one
640 x 480 frame at a time the pool costs more than it saves: in the analyse loop its worker thread
burnt 0.73-0.85 ms of CPU per frame waking up and spinning, and the BGR -> RGB conversion took
0.12-0.16 ms with the pool against 0.08-0.10 ms without (docs/PERFORMANCE.md). A monitor that runs
all day on a laptop wants the serial path, so every posture adapter that needs cv2 gets it from
`opencv()` (test helpers in posture.testing import cv2 directly: they are not the product).

The limit is process-wide (OpenCV has no other kind) and set on the first call, overriding any
earlier choice of an application that embeds posture; a `cv2.setNumThreads` after that first call
is kept.

OpenCV's own log is silenced on that first call too (fatal messages only), as MediaPipe's is
(posture.adapters.native_logs), unless `--verbose` or the user's `OPENCV_LOG_LEVEL` says
otherwise: a missing camera made each videoio backend print a `[ WARN ]` block at every reopen
attempt, where the monitor means to say "camera unavailable" once, in its own words.
"""

from __future__ import annotations

import os
from types import ModuleType

from posture.adapters import native_logs

OPENCV_THREADS = 1
"""Worker threads OpenCV may use for per-frame operations (1: the calling thread only)."""

_configured = False


def opencv() -> ModuleType:
    """Return cv2, its thread pool limited to `OPENCV_THREADS` on the first call."""
    global _configured
    import cv2

    if not _configured:
        cv2.setNumThreads(OPENCV_THREADS)
        if not native_logs.is_verbose() and "OPENCV_LOG_LEVEL" not in os.environ:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_FATAL)
        _configured = True
    return cv2
