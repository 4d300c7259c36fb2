"""The TOML settings file -> validated `posture.core.config.Settings`, and where values came from.

The file lives at `user_config_dir("posture")/config.toml`; a commented template listing every
setting with its default and allowed range is written on first run (`write_template_if_missing`).
Every key is optional. Each error is a `ConfigError` naming the file (and line when known), the
key, the value and what is allowed; unknown keys and tables are rejected with a did-you-mean;
invalid TOML names the file and line. Validation itself lives in the core dataclasses; this module
maps TOML onto them and adds the file context.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posture.core.config import (
    SECTIONS,
    FieldError,
    Settings,
    describe_allowed,
    field_default,
    field_kind,
)
from posture.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"


def config_path() -> Path:
    """Return the settings file path, `user_config_dir("posture")/config.toml`."""
    import platformdirs

    return Path(platformdirs.user_config_dir("posture")) / "config.toml"


@dataclass(frozen=True)
class LoadedSettings:
    """Effective settings, the file they came from, and each key's source.

    sources: "judge.cooldown_s" -> "default" or "FILE:LINE".
    """

    settings: Settings
    path: Path
    file_exists: bool
    sources: dict[str, str]


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_LINE = re.compile(r"line (\d+)")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """Best-effort (table, key) -> 1-based line, for messages; tomllib does not report lines."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for i, line in enumerate(text.splitlines(), start=1):
        if m := _HEADER.match(line):
            table = m.group(1).strip()
        elif m := _KEY.match(line):
            out.setdefault((table, m.group(1)), i)
    return out


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def parse_settings(text: str, where: str = "config.toml") -> tuple[Settings, dict[str, str]]:
    """Parse TOML text into Settings and per-key sources; anything wrong raises ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE.search(str(exc))
        at = f"{where}:{m.group(1)}" if m else where
        raise ConfigError(f"{at}: invalid TOML: {exc}. Fix the syntax or delete the file") from exc
    lines = _key_lines(text)
    sources: dict[str, str] = {}
    built: dict[str, Any] = {}
    for table, value in data.items():
        if table not in SECTIONS:
            hint = _suggest(table, list(SECTIONS))
            kind = "table" if isinstance(value, dict) else "top-level key"
            raise ConfigError(
                f"{_where(where, lines.get(('', table)))}: unknown {kind} {table!r}{hint} "
                f"(known tables: {', '.join(f'[{s}]' for s in SECTIONS)})"
            )
        if not isinstance(value, dict):
            raise ConfigError(
                f"{_where(where, lines.get(('', table)))}: {table!r} must be a table "
                f"([{table}] followed by key = value lines), found {value!r}"
            )
        built[table] = _build_section(table, value, where, lines, sources)
    for table, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            sources.setdefault(f"{table}.{f.name}", DEFAULT_SOURCE)
    try:
        settings = Settings(**built)
    except FieldError as exc:
        key = f"{exc.section}.{exc.name}"
        at = sources.get(key, DEFAULT_SOURCE)
        at = where if at == DEFAULT_SOURCE else at
        raise ConfigError(
            f"{at}: [{exc.section}] {exc.name} = {_toml(exc.value)} is not allowed; "
            f"allowed: {exc.allowed}"
        ) from exc
    return settings, sources


def _build_section(
    table: str,
    raw: Mapping[str, Any],
    where: str,
    lines: dict[tuple[str, str], int],
    sources: dict[str, str],
) -> Any:
    cls = SECTIONS[table]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        at = _where(where, lines.get((table, key)))
        if key not in names:
            hint = _suggest(key, names)
            elsewhere = [
                t for t, c in SECTIONS.items() if key in {f.name for f in dataclasses.fields(c)}
            ]
            if not hint and elsewhere:
                hint = f"; it belongs in [{elsewhere[0]}]"
            raise ConfigError(
                f"{at}: unknown key {key!r} in [{table}]{hint} (known keys: {', '.join(names)})"
            )
        if isinstance(value, list):
            value = tuple(value)
        elif field_kind(field_default(fields[key])) is float and type(value) is int:
            try:
                value = float(value)
            except OverflowError:  # too large for a float: validation reports it
                pass
        kwargs[key] = value
        sources[f"{table}.{key}"] = at
    try:
        return cls(**kwargs)
    except FieldError as exc:
        at = sources.get(f"{table}.{exc.name}", where)
        raise ConfigError(
            f"{at}: [{table}] {exc.name} = {_toml(exc.value)} is not allowed; "
            f"allowed: {exc.allowed}"
        ) from exc


def default_settings() -> LoadedSettings:
    """Every setting at its default, from no file at all (the bench, scripted runs)."""
    settings, sources = parse_settings("", "defaults")
    return LoadedSettings(settings, Path("defaults"), False, sources)


def load_settings(path: Path | None = None) -> LoadedSettings:
    """Read the settings file: `path` (--config), else the default one.

    Only the default file may be missing (defaults then): a file named with --config that does
    not exist is a typo, and running on defaults instead would quietly use another history.
    """
    given = path is not None
    path = path if path is not None else config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if given:
            raise ConfigError(
                f"{path}: no such settings file (given with --config); check the path, or "
                f"create it with `posture config init --config {path}`"
            ) from None
        settings, sources = parse_settings("", str(path))
        return LoadedSettings(settings, path, False, sources)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc})") from exc
    settings, sources = parse_settings(text, str(path))
    log.debug("settings read from %s", path)
    return LoadedSettings(settings, path, True, sources)


def _toml(value: object) -> str:
    """Render a value as TOML (for the template, `config show` and messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def render_template() -> str:
    """Return the commented template: every table, every key commented out at its default."""
    out = [
        "# posture settings. Every key is optional: uncomment a line to change it.",
        "# `posture config show` prints the effective values and where each one came from.",
        "",
    ]
    for table, cls in SECTIONS.items():
        out.append(f"[{table}]")
        for f in dataclasses.fields(cls):
            default = field_default(f)
            allowed = describe_allowed(dict(f.metadata), field_kind(default))
            out.append(f"# {f.metadata['help']} ({allowed})")
            out.append(f"# {f.name} = {_toml(default)}")
        out.append("")
    return "\n".join(out)


def write_template_if_missing(path: Path | None = None) -> Path | None:
    """Write the commented template on first run; return its path, or None if a file exists."""
    path = path if path is not None else config_path()
    if path.exists():
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:
            fh.write(render_template())
    except FileExistsError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the settings template ({exc})") from exc
    log.info("wrote a settings template to %s", path)
    return path


def render_effective(loaded: LoadedSettings) -> str:
    """Return the effective settings as TOML, each line annotated with where its value came from."""
    state = "" if loaded.file_exists else " (does not exist: all defaults)"
    out = [f"# effective settings; file: {loaded.path}{state}", ""]
    for table in SECTIONS:
        section = getattr(loaded.settings, table)
        out.append(f"[{table}]")
        rows = [
            (f"{f.name} = {_toml(getattr(section, f.name))}", loaded.sources[f"{table}.{f.name}"])
            for f in dataclasses.fields(section)
        ]
        width = min(40, max(len(r[0]) for r in rows))
        out.extend(f"{r.ljust(width)}  # {src}" for r, src in rows)
        out.append("")
    return "\n".join(out)
