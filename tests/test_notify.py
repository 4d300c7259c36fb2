"""Notifier backends, the fall-through chain, and text safety (no desktop needed)."""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from posture.adapters.notify import (
    BACKEND_NAMES,
    TOAST_SCRIPT,
    ChainNotifier,
    ConsoleNotifier,
    DeliveryResult,
    Notifier,
    NotifySendNotifier,
    OsascriptNotifier,
    PlyerNotifier,
    WindowsToastNotifier,
    build_notifier,
    default_backend_order,
    icon_path,
    make_backend,
    windows_toast_command,
)
from posture.adapters.settings import parse_settings
from posture.core.config import Settings
from posture.core.errors import ConfigError
from posture.testing import RecordingNotifier

TITLE = '-It\'s "fine" $(rm -rf ~) `x` ${HOME} %s'
BODY = "Kopf nach vorn – 9° ✓ 頭; 'quoted' \"double\" \\n <b>&amp;"


class ExplodingNotifier:
    """A backend whose library raises something unexpected."""

    name = "exploding"

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        raise RuntimeError("library blew up")


def fake_program(tmp_path: Path, name: str, *, status: int = 0, stderr: str = "") -> Path:
    """A real executable that records its argv as JSON, then exits with `status`."""
    record = tmp_path / f"{name}.argv.json"
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(record)!r}, 'w', encoding='utf-8').write(json.dumps(sys.argv[1:]))\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({status})\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def test_every_backend_implements_the_protocol() -> None:
    for name in BACKEND_NAMES:
        assert isinstance(make_backend(name), Notifier)
    assert isinstance(RecordingNotifier(), Notifier)


def test_one_config_list_serves_every_platform() -> None:
    full = ["plyer", "notify-send", "osascript", "windows-toast", "console"]
    names = {
        p: [b.name for b in build_notifier(full, platform=p).backends]
        for p in ("linux", "darwin", "win32", "freebsd14")
    }
    assert names == {
        "linux": ["plyer", "notify-send", "console"],
        "darwin": ["plyer", "osascript", "console"],
        "win32": ["plyer", "windows-toast", "console"],
        "freebsd14": ["plyer", "notify-send", "console"],
    }


def test_none_switches_notifications_off() -> None:
    chain = build_notifier(["none"])
    assert [b.name for b in chain.backends] == ["none"]
    assert chain.notify("t", "b") == DeliveryResult(True, "none", "")
    with pytest.raises(ConfigError, match="'none' turns notifications off and must be alone"):
        build_notifier(["none", "console"])


def test_notify_send_passes_text_as_arguments_after_double_dash(tmp_path: Path) -> None:
    program = fake_program(tmp_path, "notify-send")
    notifier = NotifySendNotifier(executable=str(program), icon=icon_path("png"), timeout_s=7)
    result = notifier.notify(TITLE, BODY, urgency="critical")
    assert result == DeliveryResult(True, "notify-send", "")
    argv = json.loads((tmp_path / "notify-send.argv.json").read_text(encoding="utf-8"))
    assert argv[-3:] == ["--", TITLE, BODY.replace("\\", "\\\\")]
    assert "--urgency=critical" in argv and "--expire-time=7000" in argv
    assert f"--icon={icon_path('png')}" in argv and "--app-name=posture" in argv


def test_notify_send_failure_carries_the_exit_status_and_message(tmp_path: Path) -> None:
    program = fake_program(
        tmp_path, "notify-send", status=1, stderr="GDBus.Error: no notification server\n"
    )
    result = NotifySendNotifier(executable=str(program)).notify("t", "b")
    assert not result.delivered
    assert "exited with status 1" in result.error
    assert "no notification server" in result.error


def test_notify_send_missing_program_says_how_to_install() -> None:
    result = NotifySendNotifier(executable="no-such-notify-send").notify("t", "b")
    assert (result.delivered, result.channel) == (False, "notify-send")
    assert "not found on PATH" in result.error and "libnotify-bin" in result.error


def test_osascript_reads_program_from_stdin_and_text_from_argv(tmp_path: Path) -> None:
    notifier = OsascriptNotifier(executable="osascript", platform="darwin")
    assert notifier.command(TITLE, BODY) == ["osascript", "-", TITLE, BODY]
    program = fake_program(tmp_path, "osascript")
    assert (
        OsascriptNotifier(executable=str(program), platform="darwin").notify(TITLE, BODY).delivered
    )
    argv = json.loads((tmp_path / "osascript.argv.json").read_text(encoding="utf-8"))
    assert argv == ["-", TITLE, BODY]


def test_osascript_and_toast_decline_on_other_systems() -> None:
    mac = OsascriptNotifier(platform="linux").notify("t", "b")
    win = WindowsToastNotifier(platform="linux").notify("t", "b")
    assert (mac.delivered, mac.error) == (False, "osascript notifications need macOS")
    assert (win.delivered, win.error) == (False, "Windows toasts need Windows")


def test_windows_toast_never_splices_text_into_the_command() -> None:
    argv, env = windows_toast_command(
        TITLE, BODY, icon_uri="file:///C:/x/posture.png", executable="powershell.exe"
    )
    assert argv[:-1] == [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    ]
    script = base64.b64decode(argv[-1]).decode("utf-16-le")
    assert script == TOAST_SCRIPT  # the same fixed script whatever the text
    assert windows_toast_command("other", "text")[0] == argv
    assert env["POSTURE_TOAST_TITLE"] == TITLE and env["POSTURE_TOAST_BODY"] == BODY
    assert env["POSTURE_TOAST_ICON"] == "file:///C:/x/posture.png"
    for name in (
        "POSTURE_TOAST_TITLE",
        "POSTURE_TOAST_BODY",
        "POSTURE_TOAST_ICON",
        "POSTURE_TOAST_APP_ID",
    ):
        assert f"$env:{name}" in script
    assert "CreateTextNode" in script  # text enters the XML as a text node: escaped by the DOM


def test_console_writes_one_line_and_survives_an_ascii_stream() -> None:
    out = io.StringIO()
    assert ConsoleNotifier(out).notify("Head forward", BODY) == DeliveryResult(True, "console")
    assert out.getvalue() == f"posture: Head forward - {BODY}\n"
    raw = io.BytesIO()
    ascii_stream = io.TextIOWrapper(raw, encoding="ascii")
    assert ConsoleNotifier(ascii_stream).notify("Kopf", "頭 9°").delivered
    assert raw.getvalue() == b"posture: Kopf - \\u982d 9\\xb0\n"


def test_console_reports_a_closed_stream() -> None:
    out = io.StringIO()
    out.close()
    result = ConsoleNotifier(out).notify("t", "b")
    assert not result.delivered and "cannot write" in result.error


def test_chain_falls_through_and_names_the_channel(caplog: pytest.LogCaptureFixture) -> None:
    first = RecordingNotifier("first", fail_with="no server")
    second = RecordingNotifier("second")
    chain = ChainNotifier([ExplodingNotifier(), first, second, RecordingNotifier("third")])
    with caplog.at_level(logging.DEBUG, logger="posture.adapters.notify"):
        result = chain.notify("Head forward", "neck 9°", urgency="low")
    assert result == DeliveryResult(True, "second", "")
    assert first.sent == second.sent == [("Head forward", "neck 9°", "low")]
    # the nudge reached the desktop: the reasons are info, not a warning at every start (a
    # missing dbus-python warned each run although notify-send delivered)
    assert [
        (r.levelname, r.getMessage()) for r in caplog.records if "failed" in r.getMessage()
    ] == [
        ("INFO", "notifier exploding failed: RuntimeError: library blew up"),
        ("INFO", "notifier first failed: no server"),
    ]


def test_chain_warns_when_only_the_console_got_the_nudge(caplog: pytest.LogCaptureFixture) -> None:
    console = io.StringIO()
    chain = ChainNotifier(
        [RecordingNotifier("desktop", fail_with="no server"), ConsoleNotifier(console)]
    )
    with caplog.at_level(logging.DEBUG, logger="posture.adapters.notify"):
        assert chain.notify("t", "b").channel == "console"
    assert ("WARNING", "notifier desktop failed: no server") in [
        (r.levelname, r.getMessage()) for r in caplog.records
    ]


def test_chain_warns_once_per_reason_and_always_when_nothing_delivers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = ChainNotifier(
        [RecordingNotifier("a", fail_with="down"), RecordingNotifier("b", fail_with="gone")]
    )
    with caplog.at_level(logging.DEBUG, logger="posture.adapters.notify"):
        results = [chain.notify("t", "b") for _ in range(3)]
    assert all(r == DeliveryResult(False, "", "a: down; b: gone") for r in results)
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels.count(("WARNING", "notifier a failed: down")) == 1
    assert levels.count(("DEBUG", "notifier a failed: down")) == 2
    assert (
        levels.count(("WARNING", "notification not delivered by any backend (a: down; b: gone)"))
        == 3
    )


def test_urgency_is_validated() -> None:
    with pytest.raises(ValueError, match="urgency must be one of"):
        ChainNotifier([RecordingNotifier()]).notify("t", "b", urgency="urgent")


def test_build_notifier_from_config_order() -> None:
    chain = build_notifier(["notify-send", "plyer"], icon=False)
    assert [b.name for b in chain.backends] == ["notify-send", "plyer", "console"]
    assert chain.backends[0].icon is None  # type: ignore[attr-defined]
    default = build_notifier()
    assert [b.name for b in default.backends] == list(default_backend_order())
    assert [b.name for b in build_notifier(["notify-send"], platform="linux").backends] == [
        "notify-send",
        "console",
    ]
    assert default.backends[0].icon == icon_path("png")  # type: ignore[attr-defined]


def test_default_order_is_plyer_then_native_then_console() -> None:
    assert default_backend_order("linux") == ("plyer", "notify-send", "console")
    assert default_backend_order("darwin") == ("plyer", "osascript", "console")
    assert default_backend_order("win32") == ("plyer", "windows-toast", "console")


def test_the_settings_default_gives_each_platform_its_default_order() -> None:
    # the settings' default listed notify-send only, so Windows lost its toast (and macOS its
    # osascript), and "windows-toast" was refused in the settings file
    configured = Settings().notify.backends
    for platform in ("linux", "darwin", "win32", "freebsd14"):
        chain = build_notifier(configured, platform=platform)
        assert tuple(b.name for b in chain.backends) == default_backend_order(platform)
    parse_settings('[notify]\nbackends = ["windows-toast", "console"]\n', "c.toml")


@pytest.mark.parametrize(
    "order,match",
    [
        (["plyer", "growl"], "unknown notification backend 'growl'.*choose from plyer"),
        (["console", "console"], "lists a backend twice"),
    ],
)
def test_bad_backend_config_raises_config_error(order: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_notifier(order)


def test_icons_are_packaged() -> None:
    png, ico = icon_path("png"), icon_path("ico")
    assert png is not None and ico is not None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ico.read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert png.stat().st_size < 16_000 and ico.stat().st_size < 16_000


def test_plyer_uses_its_dbus_path_never_the_portal_one() -> None:
    pytest.importorskip("dbus", reason="plyer's D-Bus path needs dbus-python (test extra)")
    if sys.platform != "linux":
        pytest.skip("plyer's Linux paths only")
    impl = PlyerNotifier()._implementation()
    assert type(impl).__name__ == "NotifyDbus"


def test_plyer_declines_without_dbus_python() -> None:
    if sys.platform != "linux":
        pytest.skip("plyer's Linux paths only")
    # A child process where `import dbus` fails, as on an install without the dbus extra.
    code = (
        "import sys; sys.modules['dbus'] = None\n"
        "from posture.adapters.notify import PlyerNotifier\n"
        "r = PlyerNotifier().notify('t', 'b')\n"
        "print(r.delivered, r.channel); print(r.error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == "False plyer"
    assert "needs dbus-python" in out[1] and "notify-send" in out[1]
