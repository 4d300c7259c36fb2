"""The `--preview` window: the frame with the detected skeleton, the angles and the state in colour.

OpenCV's HighGUI needs a display; without one the preview turns itself off with one warning
instead of stopping the monitor. On Linux the display is checked before any window is opened:
OpenCV's Qt backend does not raise when it cannot reach X, it aborts the whole process. The
window lives on the monitor loop's thread (HighGUI is not thread-safe), and `waitKey(1)` keeps
it responsive; pressing `q` or Esc in it asks the monitor to stop.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from posture.adapters.opencv import opencv
from posture.core.landmarks import SKELETON_EDGES

log = logging.getLogger(__name__)

STATE_COLOURS_BGR = {
    "good": (80, 175, 76),
    "slouching": (40, 40, 220),
    "away": (160, 160, 160),
    "unknown": (0, 190, 255),
}
WINDOW = "posture preview"


CVA_LINE_BGR = (0, 215, 255)
"""The ear-shoulder line the CVA estimate is measured on (amber)."""


def draw_overlay(
    image: np.ndarray, analysis: Any, state: str, faults: tuple[str, ...]
) -> np.ndarray:
    """Return a copy of `image` with the skeleton, key angles and the state drawn on it (BGR).

    The text sits in a dark band along the bottom edge, where it never covers the head; in side
    view the ear-shoulder line the CVA estimate measures is drawn in amber.
    """
    cv2 = opencv()
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = out.shape[:2]
    colour = STATE_COLOURS_BGR.get(state, (255, 255, 255))
    pose = analysis.pose
    thick = max(1, round(min(w, h) / 240))
    if pose.person:
        pts = np.column_stack([pose.image_xyz[:, 0] * w, pose.image_xyz[:, 1] * h]).astype(int)
        seen = pose.visibility > 0.5
        for a, b in SKELETON_EDGES:
            if seen[a] and seen[b]:
                cv2.line(out, tuple(pts[a]), tuple(pts[b]), colour, 2 * thick, cv2.LINE_AA)
        if analysis.view.startswith("side") and not math.isnan(
            analysis.metrics.get("cva_deg", math.nan)
        ):
            near = (
                0
                if pose.image_xyz[7, 2] + pose.image_xyz[11, 2]
                < pose.image_xyz[8, 2] + pose.image_xyz[12, 2]
                else 1
            )
            ear, shoulder = (7, 11) if near == 0 else (8, 12)
            cv2.line(
                out, tuple(pts[shoulder]), tuple(pts[ear]), CVA_LINE_BGR, 2 * thick, cv2.LINE_AA
            )
        for i in np.flatnonzero(seen[:25]):
            cv2.circle(out, tuple(pts[i]), 2 + thick, (255, 255, 255), -1, cv2.LINE_AA)
    parts = [state + (f": {', '.join(f.replace('_', ' ') for f in faults)}" if faults else "")]
    for key, label in (("cva_deg", "CVA est"), ("neck_flexion_deg", "neck flexion")):
        v = analysis.metrics.get(key, math.nan)
        if not math.isnan(v):
            parts.append(f"{label} {v:.0f} deg")
    parts.append(analysis.view.replace("_", " "))
    scale = max(0.4, min(w, h) / 900)
    line_h = int(30 * scale) + 6
    band = out[h - line_h * 2 - 8 :, :]
    band[:] = (band * 0.35).astype(np.uint8)
    rows = [parts[0], "  ".join(parts[1:])]
    for row, text in enumerate(rows):
        y = h - line_h * (2 - row) + int(line_h * 0.55)
        cv2.putText(
            out,
            text,
            (10, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour if row == 0 else (255, 255, 255),
            max(1, thick),
            cv2.LINE_AA,
        )
    return out


def display_problem(env: dict[str, str] | None = None, platform: str | None = None) -> str:
    """Why no window can open here ("" when one can, as far as can be told without opening it).

    Linux and other X11 systems need `DISPLAY` (OpenCV's wheels talk X11 only; Wayland desktops
    provide XWayland's `DISPLAY`), and a local display `:N` needs its socket in /tmp/.X11-unix.
    """
    env = dict(os.environ) if env is None else env
    platform = platform or sys.platform
    if platform in ("darwin", "win32", "cygwin"):
        return ""
    display = env.get("DISPLAY", "")
    if not display:
        return "no DISPLAY set (no X11 or XWayland display)"
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if m and not os.path.exists(f"/tmp/.X11-unix/X{m.group(1)}"):
        return f"X display {display} is not running (no /tmp/.X11-unix/X{m.group(1)})"
    return ""


class PreviewWindow:
    """Shows each analysed frame; disables itself when no display is available."""

    def __init__(self, on_quit: Callable[[], None] | None = None) -> None:
        self.on_quit = on_quit
        self.shown = 0
        why = display_problem()
        self.enabled = not why
        if why:
            log.warning("preview window unavailable: %s; monitoring without it", why)

    def show(self, frame: Any, analysis: Any, verdict: Any) -> None:
        """Draw and display one frame (monitor observer signature)."""
        if not self.enabled:
            return
        cv2 = opencv()
        img = draw_overlay(
            frame.image,
            analysis,
            verdict.state,
            tuple(verdict.active_faults or verdict.instant_faults),
        )
        try:
            cv2.imshow(WINDOW, img)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:
            self.enabled = False
            log.warning(
                "preview window unavailable (no display?): %s", str(exc).strip().splitlines()[-1]
            )
            return
        self.shown += 1
        if key in (ord("q"), 27) and self.on_quit is not None:
            self.on_quit()

    def close(self) -> None:
        """Close the window if it was opened."""
        if self.shown:
            cv2 = opencv()
            try:
                cv2.destroyWindow(WINDOW)
                cv2.waitKey(1)
            except cv2.error:
                pass  # the window is already gone with its display: nothing to release
