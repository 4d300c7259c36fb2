"""The monitor's status line on a real pseudo-terminal of a given width, and what it shares it with.

The bytes a terminal receives are replayed through a minimal terminal model (carriage return,
line feed, auto-wrap at the last column), so the tests check what a person would see: one row
for the status line however long it is, and alerts on rows of their own.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import struct
import termios
from collections.abc import Iterator
from typing import TextIO

import pytest

from posture.adapters.notify import ConsoleNotifier, build_notifier
from posture.monitor import StatusLine, fit, format_status

BUILDING = {
    "state": "good",
    "faults": ["forward_head", "rounded_shoulders", "leaning_in"],
    "building": True,
    "cva_deg": 46.2,
    "cva_change_deg": -15.4,
    "fps": 2.5,
}


class Pty:
    """A pseudo-terminal `columns` wide: `stream` is the program's side, `screen()` what shows."""

    def __init__(self, columns: int) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # raw output: the bytes as written, no \n -> \r\n
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.stream: TextIO = os.fdopen(slave, "w", encoding="utf-8")
        self.columns = columns
        self._raw = b""

    def screen(self) -> list[str]:
        """Rows as a terminal would show them (trailing blanks stripped, empty tail dropped)."""
        self.stream.flush()
        os.set_blocking(self.master, False)
        try:
            while chunk := os.read(self.master, 65536):
                self._raw += chunk
        except BlockingIOError:
            pass
        rows: list[list[str]] = [[]]
        col = 0
        for ch in self._raw.decode("utf-8"):
            if ch == "\r":
                col = 0
            elif ch == "\n":
                rows.append([])  # raw output: a line feed keeps the column
            else:
                if col == self.columns:  # auto-wrap, as xterm and tmux do
                    rows.append([])
                    col = 0
                row = rows[-1]
                row.extend(" " * (col + 1 - len(row)))
                row[col] = ch
                col += 1
        lines = ["".join(r).rstrip() for r in rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def close(self) -> None:
        self.stream.close()
        os.close(self.master)


@pytest.fixture
def pty80() -> Iterator[Pty]:
    term = Pty(80)
    yield term
    term.close()


def test_a_long_status_line_fits_an_80_column_terminal(pty80: Pty) -> None:
    text = format_status(BUILDING)
    assert len(text) > 80  # the case that wrapped and left a stale row at every look
    status = StatusLine(pty80.stream, tty=True)  # width asked from the terminal itself
    for _ in range(5):
        status.show(text, ("good",))
    screen = pty80.screen()
    assert len(screen) == 1
    assert len(screen[0]) == 79 and screen[0].endswith("\u2026")
    assert screen[0].startswith("posture: good | CVA est 46 deg (-15 vs baseline) | building:")


def test_a_shorter_line_blanks_what_the_longer_one_left(pty80: Pty) -> None:
    status = StatusLine(pty80.stream, tty=True)
    status.show(format_status(BUILDING), ("good",))
    status.show("posture: away | 0.5 fps", ("away",))
    assert pty80.screen() == ["posture: away | 0.5 fps"]


def test_the_width_is_asked_at_every_look() -> None:
    out = io.StringIO()
    columns = [100]
    status = StatusLine(out, tty=True, columns=lambda: columns[0])
    status.show("x" * 120, ())
    columns[0] = 40  # the window was made narrower
    status.show("y" * 120, ())
    drawn = out.getvalue().split("\r")
    assert drawn[1] == "x" * 98 + "\u2026"
    assert drawn[2] == "y" * 38 + "\u2026"


def test_fit_cuts_the_end_and_says_so() -> None:
    assert fit("posture: good", 40) == "posture: good"
    assert fit("posture: good | 2.5 fps", 16, "...") == "posture: good..."
    assert fit("abcdef", 2) == "a\u2026"
    assert fit("abcdef", 1) == "a"


def test_an_ascii_terminal_gets_three_dots() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    StatusLine(out, tty=True, columns=lambda: 20).show("a" * 40, ())
    assert raw.getvalue() == b"\r" + b"a" * 16 + b"..."


def test_a_console_alert_gets_its_own_row_and_the_status_line_comes_back(pty80: Pty) -> None:
    status = StatusLine(pty80.stream, tty=True)
    notifier = build_notifier(("console",), console_stream=status.above)
    status.show("posture: slouching | faults: forward head | 2.5 fps", ("slouching",))
    assert notifier.notify("Head forward for 30 s", "neck 9° below your baseline").delivered
    assert pty80.screen() == [
        "posture: Head forward for 30 s - neck 9° below your baseline",
        "posture: slouching | faults: forward head | 2.5 fps",
    ]
    status.show("posture: good | 2.5 fps", ("good",))
    status.end()
    assert pty80.screen()[1:] == ["posture: good | 2.5 fps"]


def test_off_a_terminal_alerts_and_status_lines_are_plain_lines() -> None:
    out = io.StringIO()
    status = StatusLine(out, tty=False)
    console = ConsoleNotifier(status.above)
    status.show("posture: slouching | 2.5 fps", ("slouching",))
    console.notify("Head forward", "sit back")
    status.show("posture: slouching | 2.4 fps", ("slouching",))  # same state: not repeated
    status.end()
    assert out.getvalue() == "posture: slouching | 2.5 fps\nposture: Head forward - sit back\n"
    assert "\r" not in out.getvalue()


def test_the_change_from_baseline_is_never_negative_zero() -> None:
    line = format_status({"state": "good", "faults": [], "cva_deg": 61.7, "cva_change_deg": -0.3})
    assert "(+0 vs baseline)" in line
    assert "(-2 vs baseline)" in format_status({**BUILDING, "cva_change_deg": -1.6})


def test_uncalibrated_the_change_is_against_the_norm() -> None:
    # the population median is nobody's baseline: "(-15 vs baseline)" read as the user's own
    line = format_status({**BUILDING, "cva_change_deg": -15.0, "cva_change_vs": "norm"})
    assert "(-15 vs norm)" in line


def test_log_messages_during_the_monitor_go_above_the_status_line(pty80: Pty) -> None:
    from posture.monitor_setup import _log_above

    handler = logging.StreamHandler(pty80.stream)
    handler.setFormatter(logging.Formatter("posture: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        status = StatusLine(pty80.stream, tty=True)
        restore = _log_above(status)
        status.show("posture: good | 2.5 fps", ("good",))
        logging.getLogger("posture.monitor").warning("camera unavailable: gone")
        restore()
        assert handler.stream is pty80.stream
    finally:
        root.removeHandler(handler)
    assert pty80.screen() == ["posture: camera unavailable: gone", "posture: good | 2.5 fps"]
