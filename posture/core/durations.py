"""Human durations: parsing `30m`, `1h30m`, `90s`, `45` (minutes), and echoing what was parsed.

Formatting for reading (rounded) lives in messages.
"""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|hr|m|min|s|sec)", re.IGNORECASE)


def parse_duration_s(text: str) -> float:
    """Seconds in `text`; a bare number means minutes. ValueError shows the accepted forms."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        seconds = float(t) * 60.0
    else:
        pos, seconds = 0, 0.0
        for m in _PART.finditer(t):
            if t[pos : m.start()].strip():
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
            pos = m.end()
        if pos == 0 or t[pos:].strip():
            raise ValueError(
                f"cannot read duration {text!r}; use forms like 30m, 1h, 1h30m, 90s or 45 (minutes)"
            )
    if not 0 < seconds <= 24 * 3600:
        raise ValueError(f"duration {text!r} must be more than 0 and at most 24 h")
    return seconds


def format_duration_exact(seconds: float) -> str:
    """`30 min`, `1 h 30 min`, `1 min 30 s`: a parsed duration echoed without rounding it away."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v} {unit}" for v, unit in ((hours, "h"), (minutes, "min"), (secs, "s")) if v]
    return " ".join(parts) or "0 s"
