"""Start `posture monitor` at login: XDG autostart, a systemd user unit, a LaunchAgent, or a .cmd.

Methods, by name:

    xdg            ~/.config/autostart/posture.desktop (Linux desktops; the default there)
    systemd        ~/.config/systemd/user/posture.service, wanted by graphical-session.target
    launchagent    ~/Library/LaunchAgents/io.github.posture-monitor.plist (macOS)
    startup-folder %APPDATA%/Microsoft/Windows/Start Menu/Programs/Startup/posture.cmd (Windows)

The command launched is this interpreter with `-m posture monitor` (so a venv keeps working
without being activated). Each format quotes arguments by its own rules, done by a pure function
per format (`desktop_entry`, `systemd_unit`, `launch_agent_plist`, `startup_cmd`) that the tests
check on any OS. Windows uses a plain .cmd file rather than a .lnk shortcut: a .lnk is a binary
format that needs COM (pywin32) or PowerShell to write, while a .cmd is text we can generate,
test and read back; `start /min` keeps its console window out of the way.

Only files under the user's own config directories are written; enabling twice is harmless.
On Linux, xdg and systemd are alternatives: both would start a monitor at login, and the second
would find the first running. Enabling one removes the other (saying so), and `disable` without
a method removes whichever is there.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from posture.core.errors import ConfigError, MonitorRunning

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("xdg", "systemd", "launchagent", "startup-folder")
LAUNCH_AGENT_LABEL = "io.github.posture-monitor"
SYSTEMD_UNIT = "posture.service"
SYSTEMD_TARGET = "graphical-session.target"
MARKER = "posture autostart enable"
"""Written into every file, so `disable` removes only what it made."""


def launch_command(python: str | None = None) -> list[str]:
    """Build `[python, "-m", "posture", "monitor"]` for this interpreter.

    Falls back to `-m posture.cli` while the package has no `__main__` module.
    """
    module = "posture" if importlib.util.find_spec("posture.__main__") else "posture.cli"
    return [python or sys.executable, "-m", module, "monitor"]


# --- pure formatters ----------------------------------------------------------------------------

_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _desktop_exec_arg(arg: str) -> str:
    """One Exec argument per the Desktop Entry spec, then the spec's string escaping."""
    if "\n" in arg or "\r" in arg:
        raise ConfigError(f"autostart: a command argument contains a line break: {arg!r}")
    if arg and not (_DESKTOP_RESERVED & set(arg)):
        quoted = arg
    else:
        # Inside double quotes, ", `, $ and \ take a backslash (Exec key rules)...
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # ...then every backslash is escaped again as a string value, and % is doubled (field codes).
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry(argv: Sequence[str], *, icon: Path | None = None) -> str:
    """Render an XDG autostart .desktop file that runs `argv` at login."""
    lines = [
        "[Desktop Entry]",
        f"# Written by `{MARKER}`; remove with `posture autostart disable`.",
        "Type=Application",
        "Name=Posture monitor",
        "Comment=Watches your desk posture through the webcam and nudges you kindly",
        "Exec=" + " ".join(_desktop_exec_arg(a) for a in argv),
        "Terminal=false",
        "NoDisplay=true",
        "X-GNOME-Autostart-enabled=true",
    ]
    if icon is not None:
        lines.insert(6, f"Icon={_desktop_string(str(icon))}")
    return "\n".join(lines) + "\n"


def _desktop_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _systemd_arg(arg: str) -> str:
    """Quote one ExecStart argument: backslash and `"` escaped, `%` and `$` doubled."""
    if "\n" in arg or "\r" in arg:
        raise ConfigError(f"autostart: a command argument contains a line break: {arg!r}")
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def systemd_unit(argv: Sequence[str]) -> str:
    """Render a systemd user service that runs `argv` with the graphical session."""
    return "\n".join(
        [
            f"# Written by `{MARKER}`; remove with `posture autostart disable --systemd`.",
            "[Unit]",
            "Description=Posture monitor (webcam posture nudges)",
            f"PartOf={SYSTEMD_TARGET}",
            f"After={SYSTEMD_TARGET}",
            "",
            "[Service]",
            "ExecStart=" + " ".join(_systemd_arg(a) for a in argv),
            "Restart=on-failure",
            "RestartSec=30",
            # exit 3: another monitor already runs (say, started by hand); retrying cannot help
            f"RestartPreventExitStatus={MonitorRunning.exit_code}",
            "",
            "[Install]",
            f"WantedBy={SYSTEMD_TARGET}",
            "",
        ]
    )


def launch_agent_plist(
    argv: Sequence[str], *, log_path: Path | None = None, label: str = LAUNCH_AGENT_LABEL
) -> str:
    """Render a macOS LaunchAgent property list; plistlib does the XML escaping."""
    spec: dict[str, object] = {
        "Label": label,
        "Comment": f"Written by `{MARKER}`; remove with `posture autostart disable`.",
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Interactive",
    }
    if log_path is not None:
        spec["StandardErrorPath"] = str(log_path)
    return plistlib.dumps(spec, sort_keys=False).decode("utf-8")


def _cmd_arg(arg: str) -> str:
    """Quote one argument for a .cmd line.

    Double-quoted; `%` doubled (batch files expand it even in quotes); backslashes before the
    closing quote doubled (the C runtime's argv rules).
    """
    if any(c in arg for c in '"\r\n'):
        raise ConfigError(
            f"autostart: a command argument contains a double quote or line break, which a .cmd "
            f"file cannot pass safely: {arg!r}"
        )
    trailing = len(arg) - len(arg.rstrip("\\"))
    return '"' + arg.replace("%", "%%") + "\\" * trailing + '"'


def startup_cmd(argv: Sequence[str]) -> str:
    """Render a Startup-folder .cmd that starts `argv` minimised and returns at once.

    The file is UTF-8 and switches the console code page to 65001 first, so a user folder with
    non-ASCII letters survives.
    """
    return "\r\n".join(
        [
            "@echo off",
            f"rem Written by `{MARKER}`; remove with `posture autostart disable`.",
            "chcp 65001 >nul",
            'start "posture" /min ' + " ".join(_cmd_arg(a) for a in argv),
            "",
        ]
    )


# --- where files go -----------------------------------------------------------------------------


def default_method(platform: str = sys.platform) -> str:
    """Pick xdg on Linux and other Unixes, launchagent on macOS, startup-folder on Windows."""
    if platform == "darwin":
        return "launchagent"
    if platform == "win32":
        return "startup-folder"
    return "xdg"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _xdg_config(env: Mapping[str, str]) -> Path:
    value = env.get("XDG_CONFIG_HOME", "")
    return Path(value) if os.path.isabs(value) else _home(env) / ".config"


def entry_path(method: str, env: Mapping[str, str] | None = None) -> Path:
    """Locate `method`'s file from the environment (HOME, XDG_CONFIG_HOME, APPDATA)."""
    env = os.environ if env is None else env
    if method == "xdg":
        return _xdg_config(env) / "autostart" / "posture.desktop"
    if method == "systemd":
        return _xdg_config(env) / "systemd" / "user" / SYSTEMD_UNIT
    if method == "launchagent":
        return _home(env) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    if method == "startup-folder":
        appdata = (
            Path(env["APPDATA"]) if env.get("APPDATA") else (_home(env) / "AppData" / "Roaming")
        )
        return (
            appdata
            / "Microsoft"
            / "Windows"
            / "Start Menu"
            / "Programs"
            / "Startup"
            / ("posture.cmd")
        )
    raise ConfigError(f"unknown autostart method {method!r}; choose from {', '.join(METHODS)}")


def render(method: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """Render the file `method` writes for `argv`."""
    env = os.environ if env is None else env
    if method == "xdg":
        from posture.adapters.notify import icon_path

        return desktop_entry(argv, icon=icon_path("png"))
    if method == "systemd":
        return systemd_unit(argv)
    if method == "launchagent":
        return launch_agent_plist(argv, log_path=_home(env) / "Library" / "Logs" / "posture.log")
    if method == "startup-folder":
        return startup_cmd(argv)
    raise ConfigError(f"unknown autostart method {method!r}; choose from {', '.join(METHODS)}")


# --- enable / disable / status ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutostartStatus:
    """One method's state: `enabled`, `stale` (written for another command) or `disabled`."""

    method: str
    path: Path
    state: str
    detail: str = ""


def _wants_link(env: Mapping[str, str]) -> Path:
    unit = entry_path("systemd", env)
    return unit.parent / f"{SYSTEMD_TARGET}.wants" / SYSTEMD_UNIT


def methods_here(platform: str = sys.platform) -> tuple[str, ...]:
    """Return the methods that apply to this OS: xdg and systemd on Linux, else just the one."""
    method = default_method(platform)
    return ("xdg", "systemd") if method == "xdg" else (method,)


def _rivals(method: str) -> tuple[str, ...]:
    """Return the methods that would start a second monitor beside `method` at login."""
    pair = ("xdg", "systemd")
    return tuple(m for m in pair if m != method) if method in pair else ()


def _present(method: str, env: Mapping[str, str]) -> bool:
    """Whether `method` has a file (or, for systemd, a link) that could start a monitor."""
    path = entry_path(method, env)
    link = _wants_link(env) if method == "systemd" else None
    return path.exists() or (link is not None and (link.is_symlink() or link.exists()))


def _ours(path: Path) -> bool:
    return MARKER in path.read_text(encoding="utf-8", errors="replace")


def _daemon_reload(systemctl: str | None) -> str:
    """Best-effort `systemctl --user daemon-reload`; returns a note for the user ("" if fine)."""
    exe = shutil.which(systemctl) if systemctl else None
    if exe is None:
        return "systemctl not found; the unit takes effect at the next login"
    try:
        proc = subprocess.run(
            [exe, "--user", "daemon-reload"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"systemctl --user daemon-reload failed ({exc}); it takes effect at the next login"
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return f"systemctl --user daemon-reload failed ({why}); it takes effect at the next login"
    return ""


def enable(
    method: str | None = None,
    *,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    systemctl: str | None = "systemctl",
) -> list[str]:
    """Write the autostart file for `method` (default: this OS's); returns lines for the user.

    For systemd the unit is linked into graphical-session.target.wants (what `systemctl --user
    enable` does), then systemd is asked to reload, best-effort. Then the other Linux method's
    entry, if posture wrote one, is removed: two would start two monitors. Raises ConfigError if
    a file is in the way that this command did not write.
    """
    env = os.environ if env is None else env
    method = method or default_method()
    argv = list(argv) if argv is not None else launch_command()
    path = entry_path(method, env)
    content = render(method, argv, env)
    _refuse_foreign(path)
    before = _read(path) if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8", newline="")
    verb = "unchanged" if before == content else ("updated" if before is not None else "created")
    lines = [f"autostart ({method}) {verb}: {path}", "runs: " + " ".join(argv)]
    if method == "systemd":
        link = _wants_link(env)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path)
        note = _daemon_reload(systemctl)
        lines.append(note or f"to start it now: systemctl --user start {SYSTEMD_UNIT}")
    elif method == "launchagent":
        lines.append(f"starts at the next login; to start it now: launchctl load {path}")
    log.info("autostart %s: %s", verb, path)
    for other in _rivals(method):
        other_path = entry_path(other, env)
        if other_path.exists() and not _ours(other_path):
            lines.append(
                f"note: {other_path} was not written by posture; if it starts the monitor too, "
                "remove it (two monitors cannot run at once)"
            )
        elif _present(other, env):
            lines.append(f"switched from {other}: only one may start the monitor")
            lines += disable(other, env=env, systemctl=systemctl)
    return lines


def _read(path: Path) -> str:
    """Read the file with its line endings as written (a .cmd keeps its CRLF)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def _refuse_foreign(path: Path) -> None:
    if path.exists() and not _ours(path):
        raise ConfigError(
            f"autostart: {path} exists and was not written by posture; move it away first"
        )


def disable(
    method: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    systemctl: str | None = "systemctl",
) -> list[str]:
    """Remove the autostart file for `method`; says so when there was nothing to remove.

    Without a method, every method of this OS that is there is removed (xdg and systemd on
    Linux), after checking that posture wrote each of them.
    """
    env = os.environ if env is None else env
    if method is None:
        found = [m for m in methods_here() if _present(m, env)]
        for m in found:
            if entry_path(m, env).exists():
                _refuse_foreign(entry_path(m, env))
        if not found:
            paths = ", no ".join(str(entry_path(m, env)) for m in methods_here())
            return [f"autostart was not enabled: no {paths}"]
        return [line for m in found for line in disable(m, env=env, systemctl=systemctl)]
    path = entry_path(method, env)
    lines: list[str] = []
    if method == "systemd":
        link = _wants_link(env)
        if link.is_symlink() or link.exists():
            link.unlink()
    if not path.exists():
        return [f"autostart ({method}) was not enabled: no {path}"]
    _refuse_foreign(path)
    path.unlink()
    lines.append(f"autostart ({method}) removed: {path}")
    if method == "systemd":
        note = _daemon_reload(systemctl)
        lines.append(note or f"a running monitor keeps going: systemctl --user stop {SYSTEMD_UNIT}")
    return lines


def status(
    methods: Sequence[str] | None = None,
    *,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[AutostartStatus]:
    """Report each method's state (default: the methods that apply to this OS)."""
    env = os.environ if env is None else env
    if methods is None:
        methods = methods_here()
    argv = list(argv) if argv is not None else launch_command()
    out = []
    for method in methods:
        path = entry_path(method, env)
        if not path.exists():
            out.append(AutostartStatus(method, path, "disabled"))
            continue
        current = _read(path)
        if current == render(method, argv, env):
            detail = ""
            if method == "systemd" and not _wants_link(env).exists():
                out.append(
                    AutostartStatus(
                        method,
                        path,
                        "stale",
                        f"unit not linked into {SYSTEMD_TARGET}.wants; run enable again",
                    )
                )
                continue
            out.append(AutostartStatus(method, path, "enabled", detail))
        else:
            out.append(
                AutostartStatus(
                    method,
                    path,
                    "stale",
                    "written for another command or version; run enable again",
                )
            )
    return out
