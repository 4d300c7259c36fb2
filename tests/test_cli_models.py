"""`posture models fetch|list|verify|path` through the CLI, in an isolated cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from posture.adapters import models
from posture.cli import main


@pytest.fixture()
def cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provisioned_model: models.ResolvedModel
) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(provisioned_model.path, d / provisioned_model.path.name)
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(d))
    return d


def test_list_verify_path(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    full = next(m for m in doc["models"] if m["name"] == "full")
    assert full["default"] and full["offline_recipe"]
    assert full["cached"] == {"pose_landmarker_full_offline.task": "ok"}
    assert main(["models", "verify", "full"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["models", "path", "--no-fetch"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "pose_landmarker_full_offline.task")


def test_verify_flags_a_flipped_byte_and_fetch_repairs_it(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = cache / "pose_landmarker_full_offline.task"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    assert main(["models", "verify"]) == 1
    out = capsys.readouterr().out
    assert "corrupt" in out and "posture models fetch full --force" in out
    assert main(["models", "path", "--no-fetch"]) == 1
    err = capsys.readouterr().err
    assert "failed its checksum" in err
    # the way skipped here comes first, not only a download from a host that may be unreachable
    assert "Run `posture models fetch full` (it builds it offline), or:" in err
    assert main(["models", "fetch", "--offline"]) == 0  # rebuilt from the PyPI wheel
    assert "offline-build" in capsys.readouterr().out
    assert main(["models", "verify", "full"]) == 0


def test_verifying_a_model_without_a_pinned_checksum_says_so(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `models verify heavy` printed nothing and exited 0
    assert main(["models", "verify", "heavy"]) == 1
    assert capsys.readouterr().out.startswith("unpinned pose_landmarker_heavy: this release pins")
    assert main(["models", "verify"]) == 0  # all of them: heavy is listed, full is ok
    out = capsys.readouterr().out
    assert "unpinned pose_landmarker_heavy" in out and "ok       " in out


def test_unknown_model_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "fetch", "giant"]) == 1
    assert "unknown model 'giant'; known models: lite, full, heavy" in capsys.readouterr().err


def test_without_a_name_fetch_and_path_mean_the_configured_model(
    cache: Path,
    provisioned_lite: models.ResolvedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`monitor.model` is what the monitor loads, so it is what `fetch` and `path` provision and
    locate when no name is given (scripts/run's set-up calls `posture models fetch`)."""
    shutil.copy(provisioned_lite.path, cache / provisioned_lite.path.name)
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\nmodel = "lite"\n', encoding="utf-8")
    lite = str(cache / "pose_landmarker_lite_offline.task")
    assert main(["models", "path", "--no-fetch", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == lite
    assert main(["models", "fetch", "--offline", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"pose_landmarker_lite: {lite} (cache")
    # a name on the command line still wins
    assert main(["models", "path", "full", "--no-fetch", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "pose_landmarker_full_offline.task")
    # a file of one's own: located and checked, nothing fetched; --force cannot apply to it
    config.write_text(f'[monitor]\nmodel = "{lite}"\n', encoding="utf-8")
    assert main(["models", "path", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == lite
    assert main(["models", "fetch", "--config", str(config)]) == 0
    assert f"monitor.model at {config}:2 names {lite}: nothing to fetch" in capsys.readouterr().out
    assert main(["models", "fetch", "--force", "--config", str(config)]) == 1
    assert "names a file" in capsys.readouterr().err
    assert Path(lite).is_file()  # --force removed nothing
    # a file that is not there is reported against the config line
    config.write_text('[monitor]\nmodel = "gone.task"\n', encoding="utf-8")
    assert main(["models", "path", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"gone.task does not exist (given with monitor.model at {config}:2;" in err


def test_a_hand_downloaded_file_is_cached_as_the_model_it_is(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fetch --from-file` without a name goes by the file's digest, not by monitor.model."""
    src = tmp_path / "downloaded.task"
    shutil.move(cache / "pose_landmarker_full_offline.task", src)
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\nmodel = "lite"\n', encoding="utf-8")
    assert main(["models", "fetch", "--from-file", str(src), "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().endswith("pose_landmarker_full_offline.task")
    assert (cache / "pose_landmarker_full_offline.task").read_bytes() == src.read_bytes()
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"not a model")
    assert main(["models", "fetch", "--from-file", str(junk), "--config", str(config)]) == 1
    assert "junk.task" in capsys.readouterr().err
    # nor does a config that names a file of its own take the hand-downloaded file's place
    config.write_text(f'[monitor]\nmodel = "{src}"\n', encoding="utf-8")
    assert main(["models", "fetch", "--from-file", str(junk), "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "junk.task" in captured.err and "nothing to fetch" not in captured.out


def test_run_set_up_survives_a_config_it_cannot_serve(
    provisioned_model: models.ResolvedModel, tmp_path: Path
) -> None:
    """scripts/run's set-up provisions the configured model, but a config it cannot serve (a
    broken file, a model file that is gone) must not stop scripts/run, which may be given its
    own --config or --model: the monitor provisions on first use and reports its own problems."""
    root = Path(__file__).resolve().parents[1]
    home = tmp_path / "home"
    config = home / ".config" / "posture" / "config.toml"
    config.parent.mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "POSTURE_MODEL_DIR": str(provisioned_model.path.parent),
        "POSTURE_EXTRAS": "test",  # the extras this venv was installed with: no reinstall
    }

    def set_up() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", f"source {root}/scripts/_setup.sh && echo SET-UP-DONE"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    for text in ("[monitor\n", '[monitor]\nmodel = "/nowhere/gone.task"\n'):
        config.write_text(text, encoding="utf-8")
        done = set_up()
        assert done.returncode == 0, done.stderr[-2000:]
        assert "SET-UP-DONE" in done.stdout
        assert "set-up did not provision the configured model" in done.stderr
    # and the tests' own set-up still insists on its model
    env["POSTURE_SETUP_MODEL"] = "giant"
    done = set_up()
    assert done.returncode != 0 and "unknown model 'giant'" in done.stderr
