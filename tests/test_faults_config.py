"""Bad settings and profiles through `posture monitor`: the message names the file, the key, the
value and what is allowed, and nothing starts (no camera, no history session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posture.cli import main


def _monitor(model: Path, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "monitor",
            "--source",
            "7",
            "--model",
            str(model),
            "--db",
            str(tmp_path / "h.sqlite3"),
            "--no-control",
            "--max-seconds",
            "30",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[judge]\npersistence_s = "long"\n',
            ':2: [judge] persistence_s = "long" is not allowed; allowed: a number from 5 to 3600',
        ),
        (
            "[judge]\npersistence_s = -3\n",
            ":2: [judge] persistence_s = -3.0 is not allowed; allowed: ",
        ),
        (
            "[judge]\npersistance_s = 30\n",
            "unknown key 'persistance_s' in [judge]; did you mean 'persistence_s'?",
        ),
        ("[colour]\nx = 1\n", "unknown table 'colour' (known tables: [judge], [monitor]"),
        ("[judge\n", ":1: invalid TOML: "),
        ("[monitor]\nmax_fps = true\n", "[monitor] max_fps = true is not allowed; allowed: "),
        ("[judge]\nfaults = []\n", "[judge] faults = [] is not allowed; allowed: a non-empty list"),
    ],
)
def test_bad_settings_file_exits_2_naming_file_key_value_and_range(
    text: str, expected: str, tmp_path: Path, model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    code = _monitor(model_path, tmp_path, "--config", str(cfg))
    err = capfd.readouterr().err
    assert code == 2
    assert f"posture: error: {cfg}" in err
    assert expected in err
    assert "cannot open camera" not in err and "Traceback" not in err
    assert not (tmp_path / "h.sqlite3").exists()


def _default_profile_doc() -> dict:
    from posture.adapters.profiles import ProfileStore, load_default_profile

    path = ProfileStore().save(load_default_profile("side_right"), "good")
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: '{"version": 1, ', "not valid JSON (line 1, column "),
        (
            lambda d: {**d, "view": "sideways"},
            "field 'view' is 'sideways'; allowed: side_left, side_right, front, three_quarter",
        ),
        (
            lambda d: {**d, "baseline": {**d["baseline"], "cva_deg": "abc"}},
            "baseline.cva_deg must be {median: number, mad: number >= 0, n}",
        ),
        (lambda d: {**d, "colour": 1}, "unknown field(s) colour"),
    ],
)
def test_bad_profile_is_refused_naming_the_file_and_the_field(
    mutate,
    expected: str,
    isolated_home: Path,
    tmp_path: Path,
    model_path: Path,  # type: ignore[no-untyped-def]
    capfd: pytest.CaptureFixture[str],
) -> None:
    from posture.adapters.profiles import profiles_dir

    doc = mutate(_default_profile_doc())
    path = profiles_dir() / "desk.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code = _monitor(model_path, tmp_path, "--profile", "desk")
    err = capfd.readouterr().err
    assert code == 1
    assert f"posture: error: {path}: {expected}" in err
    assert "posture calibrate" in err
    assert "cannot open camera" not in err


@pytest.mark.parametrize("value", ["-5", "0", "nan", "soon"])
def test_max_seconds_must_be_a_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["monitor", "--source", "0", "--max-seconds", value])
    assert exc.value.code == 2
    assert "--max-seconds" in capsys.readouterr().err
