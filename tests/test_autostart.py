"""Autostart entries: real files in a temporary HOME on Linux, pure renderings for every format."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from posture.adapters import autostart
from posture.adapters.autostart import (
    desktop_entry,
    launch_agent_plist,
    launch_command,
    startup_cmd,
    systemd_unit,
)
from posture.cli import main
from posture.core.errors import ConfigError

TRICKY = [
    "it's",
    'a"b',
    "$HOME",
    "back\\slash",
    "100%",
    "~t",
    "`x`",
    "tab\there",
    "plain",
    "end\\",
    "%f",
    "semi;colon",
    "ü頭",
    "<&>",
]


def recorder(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A real executable that appends its argv (JSON, one call per line) to a file."""
    record = tmp_path / f"{name}.calls"
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'a', encoding='utf-8').write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, record


def test_launch_command_is_this_interpreter_running_the_monitor() -> None:
    argv = launch_command()
    assert argv[0] == sys.executable
    assert argv[1] == "-m" and argv[2] in ("posture", "posture.cli") and argv[3] == "monitor"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG autostart is the Linux default")
def test_xdg_enable_status_disable_in_a_temporary_home(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "posture.desktop"
    assert main(["autostart", "status"]) == 0
    assert f"xdg: disabled ({path})" in capsys.readouterr().out

    assert main(["autostart", "enable"]) == 0
    assert f"autostart (xdg) created: {path}" in capsys.readouterr().out
    text = path.read_text(encoding="utf-8")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line.startswith(f"Exec={sys.executable} -m posture")
    assert exec_line.endswith(" monitor")
    assert "Icon=" in text and "Type=Application" in text
    assert main(["autostart", "status"]) == 0
    assert f"xdg: enabled ({path})" in capsys.readouterr().out

    assert autostart.enable()[0].startswith("autostart (xdg) unchanged")
    [state] = autostart.status(["xdg"], argv=["/other/python", "-m", "posture", "monitor"])
    assert state.state == "stale" and "run enable again" in state.detail

    assert main(["autostart", "disable"]) == 0
    assert f"autostart (xdg) removed: {path}" in capsys.readouterr().out
    assert not path.exists()
    assert autostart.disable("xdg") == [f"autostart (xdg) was not enabled: no {path}"]


def test_a_file_posture_did_not_write_is_left_alone(isolated_home: Path) -> None:
    path = autostart.entry_path("xdg")
    path.parent.mkdir(parents=True)
    path.write_text("[Desktop Entry]\nExec=something-else\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="was not written by posture; move it away"):
        autostart.enable("xdg")
    with pytest.raises(ConfigError, match="was not written by posture"):
        autostart.disable("xdg")
    assert path.read_text(encoding="utf-8") == "[Desktop Entry]\nExec=something-else\n"


def test_systemd_unit_is_written_linked_and_reloaded(tmp_path: Path, isolated_home: Path) -> None:
    systemctl, calls = recorder(tmp_path, "systemctl")
    argv = ["/opt/py 3/bin/python", "-m", "posture", "monitor"]
    lines = autostart.enable("systemd", argv=argv, systemctl=str(systemctl))
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "posture.service"
    link = unit.parent / "graphical-session.target.wants" / "posture.service"
    assert lines[0] == f"autostart (systemd) created: {unit}"
    assert lines[-1] == "to start it now: systemctl --user start posture.service"
    assert link.is_symlink() and link.resolve() == unit.resolve()
    assert 'ExecStart="/opt/py 3/bin/python" "-m" "posture" "monitor"' in unit.read_text()
    assert [s.state for s in autostart.status(["systemd"], argv=argv)] == ["enabled"]

    lines = autostart.disable("systemd", systemctl=str(systemctl))
    assert lines[0] == f"autostart (systemd) removed: {unit}"
    assert not unit.exists() and not link.is_symlink()
    assert [json.loads(c) for c in calls.read_text().splitlines()] == [
        ["--user", "daemon-reload"],
        ["--user", "daemon-reload"],
    ]


ARGV = ["/opt/py/bin/python", "-m", "posture", "monitor"]


def test_enabling_one_linux_method_switches_from_the_other(
    tmp_path: Path, isolated_home: Path
) -> None:
    """Both would start a monitor at login; the second exits, and systemd retried it all day."""
    systemctl, _ = recorder(tmp_path, "systemctl")
    xdg, unit = autostart.entry_path("xdg"), autostart.entry_path("systemd")
    link = unit.parent / "graphical-session.target.wants" / "posture.service"
    autostart.enable("xdg", argv=ARGV)

    lines = autostart.enable("systemd", argv=ARGV, systemctl=str(systemctl))
    assert "switched from xdg: only one may start the monitor" in lines
    assert f"autostart (xdg) removed: {xdg}" in lines
    assert not xdg.exists() and unit.exists() and link.is_symlink()
    states = {s.method: s.state for s in autostart.status(argv=ARGV)}
    assert states == {"xdg": "disabled", "systemd": "enabled"}

    lines = autostart.enable("xdg", argv=ARGV, systemctl=str(systemctl))
    assert "switched from systemd: only one may start the monitor" in lines
    assert f"autostart (systemd) removed: {unit}" in lines
    assert xdg.exists() and not unit.exists() and not link.is_symlink()
    assert autostart.enable("xdg", argv=ARGV) == [
        f"autostart (xdg) unchanged: {xdg}",
        "runs: " + " ".join(ARGV),
    ]


def test_switching_leaves_a_file_posture_did_not_write_and_says_so(isolated_home: Path) -> None:
    unit = autostart.entry_path("systemd")
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/bin/posture monitor\n", encoding="utf-8")
    lines = autostart.enable("xdg", argv=ARGV)
    assert lines[-1] == (
        f"note: {unit} was not written by posture; if it starts the monitor too, remove it "
        "(two monitors cannot run at once)"
    )
    assert unit.read_text(encoding="utf-8") == "[Service]\nExecStart=/usr/bin/posture monitor\n"


@pytest.mark.skipif(sys.platform != "linux", reason="xdg and systemd are the Linux methods")
def test_disable_without_a_method_removes_every_kind_there(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # both enabled, as an older posture left them (enable switches now)
    systemctl, _ = recorder(tmp_path, "systemctl")
    autostart.enable("systemd", systemctl=str(systemctl))
    xdg, unit = autostart.entry_path("xdg"), autostart.entry_path("systemd")
    xdg.parent.mkdir(parents=True)
    xdg.write_text(autostart.render("xdg", launch_command()), encoding="utf-8")

    assert main(["autostart", "disable"]) == 0
    out = capsys.readouterr().out
    assert f"autostart (xdg) removed: {xdg}" in out
    assert f"autostart (systemd) removed: {unit}" in out
    assert not xdg.exists() and not unit.exists()
    assert main(["autostart", "disable"]) == 0
    assert capsys.readouterr().out == f"autostart was not enabled: no {xdg}, no {unit}\n"


def test_disable_without_a_method_removes_nothing_if_one_file_is_not_posture_s(
    isolated_home: Path,
) -> None:
    xdg, unit = autostart.entry_path("xdg"), autostart.entry_path("systemd")
    autostart.enable("systemd", argv=ARGV, systemctl=None)
    xdg.parent.mkdir(parents=True)
    xdg.write_text("[Desktop Entry]\nExec=something-else\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="was not written by posture; move it away"):
        autostart.disable(None, env=os.environ)
    assert xdg.exists() and unit.exists()


def test_systemd_without_systemctl_says_when_it_takes_effect(isolated_home: Path) -> None:
    lines = autostart.enable("systemd", systemctl="no-such-systemctl")
    assert lines[-1] == "systemctl not found; the unit takes effect at the next login"


@pytest.mark.skipif(shutil.which("gio") is None, reason="gio (libglib2.0-bin) not installed")
def test_desktop_exec_quoting_round_trips_through_glib(tmp_path: Path) -> None:
    """GLib's own desktop-file launcher parses our Exec line back into the exact argv."""
    folder = tmp_path / "we ird $dir 'q' ü"
    folder.mkdir()
    program, calls = recorder(folder, "prog")
    entry = tmp_path / "posture.desktop"
    entry.write_text(desktop_entry([str(program), *TRICKY]), encoding="utf-8")
    subprocess.run(["gio", "launch", str(entry)], check=True, timeout=30, capture_output=True)
    deadline = time.monotonic() + 10
    while not calls.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(calls.read_text(encoding="utf-8")) == TRICKY


def test_desktop_entry_quoting_by_the_spec() -> None:
    text = desktop_entry(["/usr/bin/python3", "-m", "posture", "monitor"], icon=Path("/i/p.png"))
    assert "Exec=/usr/bin/python3 -m posture monitor\n" in text
    assert "Icon=/i/p.png\n" in text
    assert (
        desktop_entry(["/a b/py", "$x", "c\\d", "5%"]).count(
            'Exec="/a b/py" "\\\\$x" "c\\\\\\\\d" 5%%\n'
        )
        == 1
    )
    with pytest.raises(ConfigError, match="line break"):
        desktop_entry(["/usr/bin/python3", "two\nlines"])


def test_systemd_unit_quoting() -> None:
    unit = systemd_unit(["/opt/my py/python", 'say "hi"', "100%", "$HOME", "a\\b"])
    assert 'ExecStart="/opt/my py/python" "say \\"hi\\"" "100%%" "$$HOME" "a\\\\b"\n' in unit
    assert "WantedBy=graphical-session.target" in unit and "Restart=on-failure" in unit
    # "another monitor is already running" exits 3: retrying every 30 s all session cannot help
    assert "\nRestartPreventExitStatus=3\n" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_our_unit(tmp_path: Path) -> None:
    program, _ = recorder(tmp_path, "prog")
    unit = tmp_path / "posture.service"
    unit.write_text(systemd_unit([str(program), *TRICKY]), encoding="utf-8")
    bad = tmp_path / "bad.service"
    bad.write_text(f'[Service]\nExecStart="{program}" "unbalanced\n', encoding="utf-8")
    ok = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    broken = subprocess.run(
        ["systemd-analyze", "verify", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode != 0  # the check does catch bad quoting


def test_launch_agent_plist_round_trips_any_text() -> None:
    argv = ["/Users/jü rgen/.venv/bin/python", "-m", "posture", "monitor", *TRICKY]
    text = launch_agent_plist(argv, log_path=Path("/Users/x/Library/Logs/posture.log"))
    spec = plistlib.loads(text.encode("utf-8"))
    assert spec["ProgramArguments"] == argv
    assert spec["Label"] == "io.github.posture-monitor"
    assert spec["RunAtLoad"] is True and spec["KeepAlive"] == {"SuccessfulExit": False}
    assert spec["StandardErrorPath"] == "/Users/x/Library/Logs/posture.log"
    assert "posture autostart enable" in spec["Comment"]


def test_startup_cmd_quotes_for_cmd_and_the_c_runtime() -> None:
    text = startup_cmd(
        ["C:\\Users\\Jürgen\\My Env\\python.exe", "-m", "posture", "monitor", "100% sure", "ends\\"]
    )
    assert text == (
        "@echo off\r\n"
        "rem Written by `posture autostart enable`; remove with `posture autostart disable`.\r\n"
        "chcp 65001 >nul\r\n"
        'start "posture" /min "C:\\Users\\Jürgen\\My Env\\python.exe" "-m" "posture" "monitor" '
        '"100%% sure" "ends\\\\"\r\n'
    )
    with pytest.raises(ConfigError, match="double quote"):
        startup_cmd(["C:\\py.exe", 'say "hi"'])


def test_entry_paths_per_platform() -> None:
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg", "APPDATA": "C:/Users/u/AppData/Roaming"}
    assert autostart.entry_path("xdg", env) == Path("/cfg/autostart/posture.desktop")
    assert autostart.entry_path("xdg", {"HOME": "/home/u"}) == Path(
        "/home/u/.config/autostart/posture.desktop"
    )
    assert autostart.entry_path("systemd", env) == Path("/cfg/systemd/user/posture.service")
    assert autostart.entry_path("launchagent", env) == Path(
        "/home/u/Library/LaunchAgents/io.github.posture-monitor.plist"
    )
    assert autostart.entry_path("startup-folder", env) == Path(
        "C:/Users/u/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/posture.cmd"
    )
    assert [autostart.default_method(p) for p in ("linux", "darwin", "win32", "freebsd14")] == [
        "xdg",
        "launchagent",
        "startup-folder",
        "xdg",
    ]
    with pytest.raises(ConfigError, match="unknown autostart method 'cron'"):
        autostart.entry_path("cron", env)


def test_launchagent_and_startup_files_written_under_the_given_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "APPDATA": str(tmp_path / "Roaming")}
    argv = ["/py", "-m", "posture", "monitor"]
    autostart.enable("launchagent", argv=argv, env=env)
    autostart.enable("startup-folder", argv=argv, env=env)
    plist = tmp_path / "Library" / "LaunchAgents" / "io.github.posture-monitor.plist"
    cmd = tmp_path / "Roaming/Microsoft/Windows/Start Menu/Programs/Startup/posture.cmd"
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == argv
    assert cmd.read_bytes().endswith(b'"posture" "monitor"\r\n')
    states = autostart.status(["launchagent", "startup-folder"], argv=argv, env=env)
    assert [s.state for s in states] == ["enabled", "enabled"]
