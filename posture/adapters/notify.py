"""Desktop notifications: one `Notifier` protocol, several backends, and a chain that falls through.

Backends, by config name:

    plyer           plyer's notification facade (Windows balloon, Linux D-Bus via dbus-python)
    notify-send     libnotify's `notify-send` (Linux, BSD)
    osascript       AppleScript `display notification` (macOS)
    windows-toast   a Windows toast through Windows PowerShell 5.1 (WinRT)
    console         a line on stderr: the last resort, always delivers
    none            alone: notifications off

`ChainNotifier` tries its backends in order and returns the first `DeliveryResult` that says
delivered, naming the channel. A failing backend is logged with why and the next one is tried;
nothing here raises into the monitor loop, because a notification is best-effort.

Text safety: the title and body are only ever passed as separate arguments (argv, D-Bus method
arguments) or environment variables; they are never spliced into shell, AppleScript, PowerShell or
GVariant text. The body reaches the notification server verbatim; see `posture.core.messages` for
why our text avoids `<` and `&`.

Threading: `notify` blocks for at most the backend's `run_timeout_s` (a few seconds); call it from
the monitor loop or a worker thread, but not concurrently on one instance.

Why plyer is used only part of the way on Linux (read plyer 2.1's platforms/linux/notification.py):
- when a folder `/app` exists (plyer's Flatpak test) plyer calls the desktop portal with `gdbus`,
  building the GVariant argument by string concatenation: a quote in the text breaks the call, or
  injects into it, and the exit status is ignored. We never take that path; with dbus-python
  present we call plyer's D-Bus implementation directly instead, which passes proper arguments.
- without dbus-python plyer runs `notify-send TITLE BODY ...` with no `--` (a title starting with
  `-` is read as an option), with expire-time 0 (the alert would never go away on dunst, KDE,
  Xfce) and without checking the exit status (a failure reads as delivered). Our own notify-send
  backend does the same job properly, so the plyer backend declines and the chain moves on.
- with dbus-python plyer calls org.freedesktop.Notifications.Notify with real arguments and
  raises on failure: that path is used as is.
"""

from __future__ import annotations

import base64
import importlib
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

from posture.core.config import NOTIFY_BACKENDS
from posture.core.errors import ConfigError

log = logging.getLogger(__name__)

URGENCIES: tuple[str, ...] = ("low", "normal", "critical")
BACKEND_NAMES: tuple[str, ...] = NOTIFY_BACKENDS
"""Config names (the settings' list); "none" alone turns notifications off."""

PLATFORM_BACKENDS: dict[str, frozenset[str]] = {
    "darwin": frozenset({"plyer", "osascript", "console"}),
    "win32": frozenset({"plyer", "windows-toast", "console"}),
}
"""Backends that can work per platform; any other platform (Linux, BSD) takes the rest."""
_OTHER_PLATFORMS = frozenset({"plyer", "notify-send", "console"})
APP_NAME = "posture"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one notification: delivered or not, through which channel, and why not."""

    delivered: bool
    channel: str
    error: str = ""


@runtime_checkable
class Notifier(Protocol):
    """Shows a notification. Never raises for a delivery failure: it returns the reason."""

    name: str

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Show `title` and `body`; `urgency` is one of `URGENCIES`."""
        ...


class ConsoleStream(Protocol):
    """Where the console backend writes: a text file, or the monitor's `StatusLine.above`.

    The latter moves the monitor's status line out of the way (an alert glued onto it).
    """

    def write(self, text: str, /) -> int:
        """Write `text`; may raise UnicodeEncodeError, OSError or ValueError."""
        ...

    def flush(self) -> None:
        """Push the text out."""
        ...


class BackendUnavailable(Exception):
    """A backend cannot work here at all (wrong OS, missing program); not a delivery failure."""


def icon_path(kind: str = "png") -> Path | None:
    """Find the packaged app icon (`png` or `ico`) on disk; None if it is not a file."""
    path = Path(str(resources.files("posture") / "assets" / f"posture.{kind}"))
    return path if path.is_file() else None


def _check_urgency(urgency: str) -> None:
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {URGENCIES}, got {urgency!r}")


def _run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
    creationflags: int = 0,
) -> str:
    """Run a program without a shell; return "" on success, else why it failed."""
    try:
        proc = subprocess.run(
            list(argv),
            input=stdin_text,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout_s,
            env=None if env is None else dict(env),
            check=False,
            creationflags=creationflags,
        )
    except subprocess.TimeoutExpired:
        return f"{argv[0]} did not finish within {timeout_s:g} s"
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc}"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return f"{argv[0]} exited with status {proc.returncode}" + (
            f": {detail[-1]}" if detail else ""
        )
    return ""


def _session_bus_reachable() -> bool:
    """Tell whether a session bus is announced in the environment or at $XDG_RUNTIME_DIR/bus."""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and Path(runtime or "", "bus").exists()


class PlyerNotifier:
    """plyer's notification facade, on the paths where it passes text safely (see module doc)."""

    name = "plyer"

    def __init__(
        self, *, app_name: str = APP_NAME, icon: Path | None = None, timeout_s: int = 10
    ) -> None:
        self.app_name = app_name
        self.icon = icon
        self.timeout_s = timeout_s
        self._impl: object | None = None

    def _implementation(self) -> object:
        """Resolve plyer's implementation for this platform once; raise BackendUnavailable."""
        if self._impl is not None:
            return self._impl
        try:
            from plyer.utils import platform
        except ImportError as exc:
            raise BackendUnavailable(f"plyer is not installed ({exc})") from exc
        if platform == "linux":
            impl = self._linux_implementation()
        else:
            try:
                module = importlib.import_module(f"plyer.platforms.{platform}.notification")
                impl = module.instance()
            except (ImportError, OSError, AttributeError) as exc:
                # e.g. macOS without pyobjus: plyer's import fails; osascript takes over.
                raise BackendUnavailable(
                    f"plyer has no working notification backend on {platform}: {exc}"
                ) from exc
        self._impl = impl
        return impl

    @staticmethod
    def _linux_implementation() -> object:
        try:
            import dbus  # noqa: F401  (dbus-python: plyer's only safe Linux path)
        except ImportError as exc:
            raise BackendUnavailable(
                "plyer needs dbus-python on Linux (without it plyer would run notify-send or "
                "gdbus in ways that can mangle the alert text); install it with "
                "pip install 'posture-monitor[dbus]', or leave it: the notify-send backend "
                "delivers instead"
            ) from exc
        # Deliberately not plyer's instance(): it picks the portal path whenever /app exists,
        # and that path splices the text into a GVariant string (see module docstring).
        from plyer.platforms.linux.notification import NotifyDbus

        return NotifyDbus()

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Deliver through plyer; plyer has no urgency, so `urgency` is only validated."""
        _check_urgency(urgency)
        try:
            impl = self._implementation()
        except BackendUnavailable as exc:
            return DeliveryResult(False, self.name, str(exc))
        if sys.platform.startswith("linux") and not _session_bus_reachable():
            # dbus-python keeps one bus connection per process: without this check a connection
            # made earlier to some other bus would be reused silently.
            return DeliveryResult(
                False, self.name, "no D-Bus session bus (not in a desktop session)"
            )
        icon = self.icon
        if icon is not None and sys.platform == "win32":
            icon = icon_path("ico")  # plyer's Windows balloon wants an .ico
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                impl.notify(  # type: ignore[attr-defined]
                    title=title,
                    message=body,
                    app_name=self.app_name,
                    app_icon=str(icon) if icon else "",
                    timeout=self.timeout_s,
                )
        except Exception as exc:  # noqa: BLE001 - best-effort: plyer raises anything from NotImplementedError to DBusException; we log it and fall through
            return DeliveryResult(False, self.name, f"{type(exc).__name__}: {exc}")
        return DeliveryResult(True, self.name)


class NotifySendNotifier:
    """libnotify's `notify-send`, with `--` before the text and its exit status checked."""

    name = "notify-send"

    def __init__(
        self,
        *,
        app_name: str = APP_NAME,
        icon: Path | None = None,
        timeout_s: int = 10,
        executable: str = "notify-send",
        run_timeout_s: float = 5.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.app_name = app_name
        self.icon = icon
        self.timeout_s = timeout_s
        self.executable = executable
        self.run_timeout_s = run_timeout_s
        self.env = env

    def command(self, title: str, body: str, urgency: str = "normal") -> list[str]:
        """Build the argv: options first, then `--`, then the text as two plain arguments.

        notify-send runs the body (not the title) through g_strcompress, which reads C escapes
        (backslash-n becomes a newline, a lone backslash vanishes); doubling every backslash
        makes it hand the body over exactly as given.
        """
        argv = [
            self.executable,
            f"--app-name={self.app_name}",
            f"--urgency={urgency}",
            f"--expire-time={int(self.timeout_s * 1000)}",
        ]
        if self.icon is not None:
            argv.append(f"--icon={self.icon}")
        return [*argv, "--", title, body.replace("\\", "\\\\")]

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Run notify-send; its failure (no server, no program) comes back as the error."""
        _check_urgency(urgency)
        exe = shutil.which(self.executable)
        if exe is None:
            return DeliveryResult(
                False,
                self.name,
                f"{self.executable} not found on PATH (Debian/Ubuntu: apt install libnotify-bin)",
            )
        argv = self.command(title, body, urgency)
        argv[0] = exe
        error = _run(argv, timeout_s=self.run_timeout_s, env=self.env)
        return DeliveryResult(not error, self.name, error)


OSASCRIPT_PROGRAM = """on run argv
    display notification (item 2 of argv) with title (item 1 of argv)
end run
"""
"""Read from stdin; the text arrives as `argv` items, never as AppleScript source."""


class OsascriptNotifier:
    """macOS `display notification` through osascript, the text passed as run-handler arguments."""

    name = "osascript"

    def __init__(
        self,
        *,
        executable: str = "osascript",
        run_timeout_s: float = 10.0,
        platform: str = sys.platform,
    ) -> None:
        self.executable = executable
        self.run_timeout_s = run_timeout_s
        self.platform = platform

    def command(self, title: str, body: str) -> list[str]:
        """Build `osascript - TITLE BODY`.

        `-` reads the program from stdin and ends option parsing, so a title starting with `-`
        stays an argument.
        """
        return [self.executable, "-", title, body]

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Show the notification; macOS has no urgency levels, so it is only validated."""
        _check_urgency(urgency)
        if self.platform != "darwin":
            return DeliveryResult(False, self.name, "osascript notifications need macOS")
        exe = shutil.which(self.executable)
        if exe is None:
            return DeliveryResult(False, self.name, f"{self.executable} not found on PATH")
        argv = self.command(title, body)
        argv[0] = exe
        error = _run(argv, timeout_s=self.run_timeout_s, stdin_text=OSASCRIPT_PROGRAM)
        return DeliveryResult(not error, self.name, error)


POWERSHELL_APP_ID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"
"""Windows PowerShell's registered AppUserModelID: a toast needs a registered app to come from."""

TOAST_SCRIPT = """$ErrorActionPreference = 'Stop'
$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]
$null = [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime]
$kind = [Windows.UI.Notifications.ToastTemplateType]::ToastImageAndText02
$xml = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent($kind)
$texts = $xml.GetElementsByTagName('text')
$null = $texts.Item(0).AppendChild($xml.CreateTextNode([string]$env:POSTURE_TOAST_TITLE))
$null = $texts.Item(1).AppendChild($xml.CreateTextNode([string]$env:POSTURE_TOAST_BODY))
if ($env:POSTURE_TOAST_ICON) {
    $image = $xml.GetElementsByTagName('image').Item(0)
    $null = $image.SetAttribute('src', [string]$env:POSTURE_TOAST_ICON)
}
$toast = [Windows.UI.Notifications.ToastNotification]::new($xml)
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier([string]$env:POSTURE_TOAST_APP_ID).Show($toast)
"""  # noqa: E501 - PowerShell type literals do not wrap
"""A fixed script: the text reaches it only through environment variables and enters the toast
XML through CreateTextNode/SetAttribute, which escape it. The script never changes, so nothing
the user or the judge says can become PowerShell code."""


def windows_toast_command(
    title: str,
    body: str,
    *,
    icon_uri: str = "",
    executable: str = "powershell.exe",
    app_id: str = POWERSHELL_APP_ID,
) -> tuple[list[str], dict[str, str]]:
    """Build the argv and the extra environment for a toast; pure, so tested on any OS.

    `-EncodedCommand` takes the fixed script as base64 of UTF-16LE, which sidesteps Windows
    command-line quoting entirely; the text travels in POSTURE_TOAST_* variables.
    """
    encoded = base64.b64encode(TOAST_SCRIPT.encode("utf-16-le")).decode("ascii")
    argv = [
        executable,
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
        encoded,
    ]
    env = {
        "POSTURE_TOAST_TITLE": title,
        "POSTURE_TOAST_BODY": body,
        "POSTURE_TOAST_ICON": icon_uri,
        "POSTURE_TOAST_APP_ID": app_id,
    }
    return argv, env


class WindowsToastNotifier:
    """A Windows 10/11 toast via Windows PowerShell 5.1 (PowerShell 7 lacks the WinRT types)."""

    name = "windows-toast"

    def __init__(
        self,
        *,
        icon: Path | None = None,
        app_id: str = POWERSHELL_APP_ID,
        executable: str = "powershell.exe",
        run_timeout_s: float = 15.0,
        platform: str = sys.platform,
    ) -> None:
        self.icon = icon
        self.app_id = app_id
        self.executable = executable
        self.run_timeout_s = run_timeout_s
        self.platform = platform

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Show the toast; toasts have no urgency levels, so it is only validated."""
        _check_urgency(urgency)
        # Gate on the OS, not on PATH: WSL exposes powershell.exe but not our environment.
        if self.platform != "win32":
            return DeliveryResult(False, self.name, "Windows toasts need Windows")
        exe = shutil.which(self.executable)
        if exe is None:
            return DeliveryResult(False, self.name, f"{self.executable} not found on PATH")
        icon_uri = self.icon.resolve().as_uri() if self.icon is not None else ""
        argv, extra = windows_toast_command(
            title, body, icon_uri=icon_uri, executable=exe, app_id=self.app_id
        )
        error = _run(
            argv,
            timeout_s=self.run_timeout_s,
            env={**os.environ, **extra},
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        return DeliveryResult(not error, self.name, error)


class ConsoleNotifier:
    """One line on a stream (stderr by default, looked up at call time): always available."""

    name = "console"

    def __init__(self, stream: ConsoleStream | None = None) -> None:
        self.stream = stream

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Write `posture: TITLE - BODY`; unencodable characters are escaped, not fatal."""
        _check_urgency(urgency)
        stream = self.stream if self.stream is not None else sys.stderr
        if stream is None:  # pythonw.exe and some service managers have no stderr at all
            return DeliveryResult(False, self.name, "no console to write to")
        line = f"{APP_NAME}: {title} - {body}\n"
        try:
            try:
                stream.write(line)
            except UnicodeEncodeError:
                encoding = getattr(stream, "encoding", None) or "ascii"
                stream.write(line.encode(encoding, "backslashreplace").decode(encoding))
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stream
            return DeliveryResult(False, self.name, f"cannot write to the console: {exc}")
        return DeliveryResult(True, self.name)


class NullNotifier:
    """Notifications switched off (`backends = ["none"]`): accepts and shows nothing."""

    name = "none"

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Drop the notification; it counts as handled, since the user asked for silence."""
        _check_urgency(urgency)
        return DeliveryResult(True, self.name)


class ChainNotifier:
    """Tries backends in order until one delivers; logs every failure with its reason.

    A backend that failed before another desktop backend delivered is info (the nudge reached
    the desktop: a missing dbus-python, say, is no problem to warn about at every start); one
    that failed before only the console got it is a warning. Repeats of the same reason are
    debug; a notification no backend could deliver always warns.
    """

    name = "chain"

    def __init__(self, backends: Sequence[Notifier]) -> None:
        if not backends:
            raise ValueError("ChainNotifier needs at least one backend")
        self.backends = tuple(backends)
        self._reported: dict[str, str] = {}

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Return the first delivering backend's result, or a failure listing every reason."""
        _check_urgency(urgency)
        failed: list[tuple[str, str]] = []  # (backend, why)
        for backend in self.backends:
            try:
                result = backend.notify(title, body, urgency=urgency)
            except Exception as exc:  # noqa: BLE001 - best-effort: one broken backend must never stop monitoring; logged below and the next one tried
                result = DeliveryResult(False, backend.name, f"{type(exc).__name__}: {exc}")
            if result.delivered:
                self._log_failures(
                    failed, logging.WARNING if result.channel == "console" else logging.INFO
                )
                log.debug("notification delivered via %s", result.channel)
                return result
            failed.append((backend.name, result.error))
        self._log_failures(failed, logging.WARNING)
        reasons = "; ".join(f"{name}: {why}" for name, why in failed)
        log.warning("notification not delivered by any backend (%s)", reasons)
        return DeliveryResult(False, "", reasons)

    def _log_failures(self, failed: list[tuple[str, str]], level: int) -> None:
        """Log each backend's failure at `level` the first time, at debug when it repeats."""
        for name, why in failed:
            repeat = self._reported.get(name) == why
            self._reported[name] = why
            log.log(logging.DEBUG if repeat else level, "notifier %s failed: %s", name, why)


def default_backend_order(platform: str = sys.platform) -> tuple[str, ...]:
    """Order plyer first, then the native fallback for `platform`, then the console."""
    if platform == "darwin":
        return ("plyer", "osascript", "console")
    if platform == "win32":
        return ("plyer", "windows-toast", "console")
    return ("plyer", "notify-send", "console")


def make_backend(
    name: str,
    *,
    app_name: str = APP_NAME,
    icon: Path | None = None,
    timeout_s: int = 10,
    console_stream: ConsoleStream | None = None,
) -> Notifier:
    """One backend by its config name; raises ConfigError for an unknown name."""
    if name == "plyer":
        return PlyerNotifier(app_name=app_name, icon=icon, timeout_s=timeout_s)
    if name == "notify-send":
        return NotifySendNotifier(app_name=app_name, icon=icon, timeout_s=timeout_s)
    if name == "osascript":
        return OsascriptNotifier()
    if name == "windows-toast":
        return WindowsToastNotifier(icon=icon)
    if name == "console":
        return ConsoleNotifier(console_stream)
    if name == "none":
        return NullNotifier()
    raise ConfigError(
        f"unknown notification backend {name!r} in notify.backends; "
        f"choose from {', '.join(BACKEND_NAMES)}"
    )


def build_notifier(
    order: Sequence[str] | None = None,
    *,
    app_name: str = APP_NAME,
    icon: Path | None | bool = True,
    timeout_s: int = 10,
    console_stream: ConsoleStream | None = None,
    platform: str = sys.platform,
) -> ChainNotifier:
    """Build the monitor's chain from the configured backend order (None: platform default).

    Backends that cannot work on `platform` (osascript off macOS, notify-send on Windows...) are
    left out, so one config list serves every OS. The console is appended when missing, so an
    alert is never silently dropped; `["none"]` alone switches notifications off. `icon=True`
    uses the packaged icon, False or None none, a Path that file.
    """
    names = list(default_backend_order(platform) if order is None else order)
    unknown = [n for n in names if n not in BACKEND_NAMES]
    if unknown:
        make_backend(unknown[0])  # raises the ConfigError naming the allowed backends
    if len(set(names)) != len(names):
        raise ConfigError(f"notify.backends lists a backend twice: {names}")
    if "none" in names:
        if names != ["none"]:
            raise ConfigError(
                f"notify.backends: 'none' turns notifications off and must be alone, got {names}"
            )
        return ChainNotifier([NullNotifier()])
    usable = PLATFORM_BACKENDS.get(platform, _OTHER_PLATFORMS)
    skipped = [n for n in names if n not in usable]
    if skipped:
        log.debug("notification backends not available on %s, left out: %s", platform, skipped)
    names = [n for n in names if n in usable]
    if "console" not in names:
        names.append("console")
    chosen = icon_path("png") if icon is True else (icon or None)
    return ChainNotifier(
        [
            make_backend(
                n,
                app_name=app_name,
                icon=chosen,
                timeout_s=timeout_s,
                console_stream=console_stream,
            )
            for n in names
        ]
    )
