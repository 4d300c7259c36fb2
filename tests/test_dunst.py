"""Notifications proven against a real server: dunst on Xvfb with its own session bus."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dunst_harness import DunstSession, skip_or_fail

from posture.adapters.notify import (
    ChainNotifier,
    ConsoleNotifier,
    NotifySendNotifier,
    PlyerNotifier,
    build_notifier,
    icon_path,
)
from posture.core.events import BreakDue, Escalation, Nudge
from posture.core.messages import AlertComposer

TRICKY = [
    ('It\'s "fine"', "Kopf nach vorn – 9° ✓ 頭"),
    ("-starts with a dash", "--body too; $(echo no) `no` ${HOME} %s \\n \\\\ \\t"),
    ("back\\slash \\n title", "C:\\Users\\me\\new"),
    ("{'title': <'x'>}", "line one\nline two, 'single' and \"double\" quotes"),
]


def require_dbus_python() -> None:
    try:
        import dbus  # noqa: F401
    except ImportError:
        skip_or_fail(
            "plyer's D-Bus path needs dbus-python (in the test extra; "
            "scripts/ci_system_deps.sh installs what it builds with)"
        )


@pytest.fixture
def on_bus(dunst: DunstSession, monkeypatch: pytest.MonkeyPatch) -> DunstSession:  # noqa: F811
    """Point this process (plyer's dbus-python connection) at the test session's bus."""
    for key, value in dunst.env.items():
        monkeypatch.setenv(key, value)
    return dunst


@pytest.mark.parametrize("title,body", TRICKY)
def test_notify_send_backend_delivers_text_intact(
    on_bus: DunstSession, title: str, body: str
) -> None:
    mark = on_bus.mark()
    result = NotifySendNotifier(icon=icon_path("png")).notify(title, body)
    assert result.delivered, result.error
    assert result.channel == "notify-send"
    [seen] = on_bus.notifications(since=mark)
    assert (seen.summary, seen.body, seen.appname) == (title, body, "posture")
    assert seen.icon_path == str(icon_path("png"))


@pytest.mark.parametrize("title,body", TRICKY)
def test_plyer_backend_delivers_text_intact(on_bus: DunstSession, title: str, body: str) -> None:
    require_dbus_python()
    mark = on_bus.mark()
    result = PlyerNotifier(icon=icon_path("png")).notify(title, body)
    assert result.delivered, result.error
    assert result.channel == "plyer"
    [seen] = on_bus.notifications(since=mark)
    assert (seen.summary, seen.body, seen.appname) == (title, body, "posture")


def test_chain_reports_the_channel_that_delivered(on_bus: DunstSession) -> None:
    require_dbus_python()
    mark = on_bus.mark()
    result = build_notifier(["plyer", "notify-send"]).notify("Head forward", 'It\'s "fine"')
    assert (result.delivered, result.channel) == (True, "plyer")
    assert [n.summary for n in on_bus.notifications(since=mark)] == ["Head forward"]


def test_chain_falls_through_a_broken_backend_to_dunst(on_bus: DunstSession) -> None:
    mark = on_bus.mark()
    broken = NotifySendNotifier(executable="no-such-notify-send-program")
    chain = ChainNotifier([broken, NotifySendNotifier(), ConsoleNotifier()])
    result = chain.notify("Shoulders rounded for 3 min", "Doorway pec stretch")
    assert (result.delivered, result.channel) == (True, "notify-send")
    assert [n.body for n in on_bus.notifications(since=mark)] == ["Doorway pec stretch"]


def test_composed_alerts_arrive_with_their_exercises(on_bus: DunstSession) -> None:
    composer = AlertComposer()
    events = [
        Nudge(
            t_s=130.0,
            fault="forward_head",
            held_s=120.0,
            deviation=9.2,
            metric="cva_deg",
            unit="deg",
        ),
        Escalation(
            t_s=730.0,
            fault="forward_head",
            held_s=720.0,
            deviation=11.0,
            metric="cva_deg",
            unit="deg",
        ),
        BreakDue(t_s=2700.0, sitting_s=2700.0),
    ]
    alerts = [composer.compose(e) for e in events]
    mark = on_bus.mark()
    chain = build_notifier(["notify-send"])
    for alert in alerts:
        assert alert is not None
        assert chain.notify(alert.title, alert.body, urgency=alert.urgency).delivered
    seen = on_bus.notifications(since=mark, expect=3)
    assert [n.summary for n in seen] == [
        "Head forward for 2 min",
        "Still head forward after 12 min",
        "Time for a short break",
    ]
    assert seen[0].body.startswith("Neck 9° below your baseline.")
    assert "Chin tuck, 10 reps, hold 3-5 s each" in seen[0].body
    assert "Seated chest opener" in seen[1].body  # rotated: not the chin tuck again
    assert "You have been at the desk for 45 min" in seen[2].body


def test_a_child_process_reaches_the_same_server(dunst: DunstSession) -> None:  # noqa: F811
    """What the end-to-end monitor test relies on: a subprocess given `dunst.child_env()`."""
    mark = dunst.mark()
    code = (
        "from posture.adapters.notify import build_notifier; "
        "r = build_notifier(['notify-send']).notify('From a child', 'Kopf – 頭'); "
        "raise SystemExit(0 if r.delivered else 1)"
    )
    subprocess.run([sys.executable, "-c", code], env=dunst.child_env(), check=True, timeout=30)
    [seen] = dunst.notifications(since=mark)
    assert (seen.summary, seen.body) == ("From a child", "Kopf – 頭")
