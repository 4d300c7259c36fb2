"""Every notification backend failing: monitoring goes on, each alert is still recorded and shown
on the console.

The chain always ends with the console: with every desktop backend broken (no notify-send on
PATH, plyer without a session bus) the alert is printed there and stored with channel
"console"; with the console gone too (a closed stream), it is stored with delivered = false and
still named in the log on stderr.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from posture.adapters.notify import build_notifier
from posture.testing import FakeClock, ScriptedCamera, noisy
from tests.faults_helpers import ReplayPose, build, textured


@pytest.mark.parametrize("console_works", [True, False], ids=["console-fallback", "nothing-works"])
def test_all_backends_failing_never_stops_monitoring_and_alerts_are_kept(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    console_works: bool,
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no notify-send, no osascript, nothing
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # plyer has no bus to talk to
    monkeypatch.delenv("DISPLAY", raising=False)
    console = io.StringIO()
    if not console_works:
        console.close()
    notifier = build_notifier(("plyer", "notify-send"), console_stream=console)
    clock = FakeClock()
    still = textured(0, moving=False)
    cam = ScriptedCamera(clock, lambda t: noisy(still, t), end_s=600.0)
    monitor, store, _ = build(
        cam.open, clock=clock, db=tmp_path / "h.sqlite3", pose=ReplayPose("bad"), notifier=notifier
    )
    with caplog.at_level(logging.WARNING):
        result = monitor.run()
    assert result.stopped_by == "end of source", "monitoring went on to the end"
    assert max(cam.reads) >= 590
    alerts = monitor.session.alerts
    assert alerts, "a person slouching for ten minutes gets nudged"
    rows = store.query("SELECT text, delivered, channel FROM alerts ORDER BY t_unix")
    assert len(rows) == len(alerts), "every alert is in the history"
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert "notify-send not found on PATH" in log_text, "the reason each backend failed is said"
    if console_works:
        assert all(r[1] == 1 and r[2] == "console" for r in rows)
        for a in alerts:
            assert a.title in console.getvalue()
    else:
        assert all(r[1] == 0 for r in rows), "stored as not delivered"
        for a in alerts:
            assert a.title in log_text, "every undelivered alert is still named on stderr"
    store.close()
