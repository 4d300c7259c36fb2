"""Settings: core validation, the TOML file, the template, and `posture config`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture.adapters.settings import (
    config_path,
    load_settings,
    parse_settings,
    render_effective,
    render_template,
    write_template_if_missing,
)
from posture.cli import main
from posture.core.config import JudgeConfig, MonitorConfig, NotifyConfig, Settings
from posture.core.errors import ConfigError
from posture.core.rate import RateConfig


def test_defaults_are_valid_and_grounded() -> None:
    s = Settings()
    assert s.judge.forward_head_cva_drop_deg == 5.0
    assert s.judge.persistence_s == 30.0 and s.judge.persistence_fraction == 0.8
    assert s.judge.cooldown_s == 300.0 and s.judge.escalate_after_s == 600.0
    assert s.judge.break_after_s == 2700.0 and s.judge.sitting_reset_away_s == 120.0
    assert (s.monitor.min_fps, s.monitor.max_fps, s.monitor.adaptive, s.monitor.source) == (
        0.5,  # idle: the 2 % CPU goal (docs/PERFORMANCE.md)
        2.5,  # as quick to judge as 5 fps on real clips, with half the looks (session 9)
        True,
        "0",
    )
    assert (RateConfig().min_fps, RateConfig().max_fps) == (s.monitor.min_fps, s.monitor.max_fps)
    assert s.notify.backends == ("plyer", "notify-send", "osascript", "windows-toast", "console")


@pytest.mark.parametrize(
    ("make", "field", "allowed"),
    [
        (lambda: JudgeConfig(cooldown_s=-1.0), "judge.cooldown_s", "from 0 to 86400"),
        (lambda: JudgeConfig(persistence_fraction=1.5), "persistence_fraction", "0.5 to 1"),
        (lambda: JudgeConfig(faults=("slumping",)), "judge.faults", "forward_head"),
        (lambda: JudgeConfig(break_reminders=1), "break_reminders", "true or false"),
        (lambda: MonitorConfig(min_fps=5.0, max_fps=2.0), "monitor.max_fps", "min_fps"),
        (lambda: NotifyConfig(backends=()), "notify.backends", "non-empty"),
        (lambda: JudgeConfig(cooldown_s=float("nan")), "cooldown_s", "number"),
    ],
)
def test_constructor_errors_name_field_value_and_range(
    make: Callable[[], object], field: str, allowed: str
) -> None:
    with pytest.raises(ValueError) as info:
        make()
    assert isinstance(info.value, ConfigError)
    assert field in str(info.value) and allowed in str(info.value)


def test_file_values_override_defaults_and_record_their_line(tmp_path: Path) -> None:
    text = '[judge]\ncooldown_s = 120\n\n[notify]\nbackends = ["console"]\n'
    s, sources = parse_settings(text, "cfg.toml")
    assert s.judge.cooldown_s == 120.0 and isinstance(s.judge.cooldown_s, float)
    assert s.notify.backends == ("console",)
    assert sources["judge.cooldown_s"] == "cfg.toml:2"
    assert sources["notify.backends"] == "cfg.toml:5"
    assert sources["judge.persistence_s"] == "default"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "[judge]\ncooldwn_s = 3\n",
            r"cfg\.toml:2: unknown key 'cooldwn_s' .*did you mean 'cooldown_s'",
        ),
        ("[judg]\ncooldown_s = 3\n", r"unknown table 'judg'; did you mean 'judge'"),
        ("[judge]\nmax_fps = 3\n", r"it belongs in \[monitor\]"),
        (
            "[judge]\ncooldown_s = -3\n",
            r"cfg\.toml:2: \[judge\] cooldown_s = -3.0 is not allowed; "
            r"allowed: a number from 0 to 86400",
        ),
        ("[monitor]\nmin_fps = 4\nmax_fps = 2\n", r"cfg\.toml:3: \[monitor\] max_fps = 2.0"),
        ("[judge\ncooldown_s = 3\n", r"cfg\.toml:1: invalid TOML"),
        ("x = 1\n", r"unknown top-level key 'x'"),
        ("judge = 3\n", r"'judge' must be a table"),
        ('[notify]\nbackends = ["growl"]\n', r"backends = \[\"growl\"\] is not allowed"),
        (
            '[monitor]\nadaptive = "yes"\n',
            r"adaptive = \"yes\" is not allowed; allowed: true or false",
        ),
        (
            "[judge]\nmax_hold_s = 0.1\n",
            r"max_hold_s = 0.1 is not allowed; allowed: a number >= 1 / monitor.min_fps",
        ),
        # an empty name passed, and `doctor` then said "run `posture calibrate --profile `"
        ('[monitor]\nprofile = ""\n', r"cfg\.toml:2: \[monitor\] profile = \"\" is not allowed; "),
        ('[monitor]\nprofile = "../x"\n', r"allowed: 1-64 letters, digits"),
    ],
)
def test_bad_config_messages(text: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_settings(text, "cfg.toml")


def test_template_is_written_once_and_every_line_uncommented_gives_defaults(
    isolated_home: Path,
) -> None:
    path = config_path()
    assert str(path).startswith(str(isolated_home))
    assert write_template_if_missing() == path
    assert write_template_if_missing() is None  # never overwrites
    text = path.read_text()
    assert parse_settings(text)[0] == Settings()
    assert "# cooldown_s = 300.0" in text and "least time between two nudges" in text
    uncommented = re.sub(r"^# (\w+ = )", r"\1", render_template(), flags=re.M)
    s, sources = parse_settings(uncommented, "t.toml")
    assert s == Settings()
    assert all(src.startswith("t.toml:") for src in sources.values())


def test_load_settings_without_a_file_is_all_defaults(isolated_home: Path) -> None:
    loaded = load_settings()
    assert not loaded.file_exists and loaded.settings == Settings()
    assert "does not exist" in render_effective(loaded)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_bytes(b"\xff\xfe[judge]")
    with pytest.raises(ConfigError, match=str(p)):
        load_settings(p)


def test_cli_config_path_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(config_path())
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("[judge]\ncooldown_s = 60\n")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("cooldown_s"))
    assert "60.0" in line and f"{config_path()}:2" in line
    assert re.search(r"^persistence_s = 30.0\s+# default$", out, re.M)
    config_path().write_text("[judge]\ncooldown_s = -5\n")
    assert main(["config", "show"]) == 2
    assert "cooldown_s = -5" in capsys.readouterr().err


def test_cli_config_init_writes_template() -> None:
    assert main(["config", "init"]) == 0
    assert load_settings().settings == Settings()
    before = config_path().read_text()
    assert main(["config", "init"]) == 0  # second run leaves the file alone
    assert config_path().read_text() == before


_VALUES = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.sampled_from(["console", "plyer", "x", "notify-send"])),
)
_KEYS = st.sampled_from(
    [
        "cooldown_s",
        "persistence_s",
        "faults",
        "min_fps",
        "max_fps",
        "backends",
        "adaptive",
        "keep_days",
        "source",
        "max_hold_s",
        "nope",
        "break_reminders",
        "min_luma",
    ]
)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["judge", "monitor", "notify", "store", "calibration", "other"]),
            _KEYS,
            _VALUES,
        ),
        max_size=6,
    )
)
def test_structured_config_either_parses_or_raises_config_error(
    entries: list[tuple[str, str, object]],
) -> None:
    by_table: dict[str, dict[str, object]] = {}
    for table, key, value in entries:
        by_table.setdefault(table, {})[key] = value
    text = "".join(
        f"[{t}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in kv.items())
        for t, kv in by_table.items()
    )
    try:
        s, _ = parse_settings(text)
    except ConfigError:
        return
    assert isinstance(s, Settings)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_either_parses_or_raises_config_error(text: str) -> None:
    try:
        parse_settings(text)
    except ConfigError:
        pass


def test_a_settings_file_named_with_config_must_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a mistyped --config used to run on the defaults (and the default history) without a word
    typo = tmp_path / "wrok.toml"
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(typo)
    for argv in (
        ["config", "show", "--config", str(typo)],
        ["report", "--config", str(typo)],
        ["forget", "--yes", "--config", str(typo)],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{typo}: no such settings file (given with --config)" in err
        assert f"posture config init --config {typo}" in err


def test_config_actions_take_config_like_every_other_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "work.toml"
    assert main(["config", "path", "--config", str(mine)]) == 0
    assert capsys.readouterr().out.strip() == str(mine)
    assert main(["config", "init", "--config", str(mine)]) == 0  # what the error above suggests
    assert capsys.readouterr().out.strip() == f"wrote {mine}"
    mine.write_text(mine.read_text().replace("# cooldown_s = ", "cooldown_s = 90.0 # was "))
    assert main(["config", "show", "--config", str(mine)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cooldown_s"))
    assert "90.0" in line and f"{mine}:" in line
    assert not config_path().exists()  # the default file was never touched
