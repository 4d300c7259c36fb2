"""`posture doctor`'s table shows text in square brackets as it is (rich would read it as markup).

Config errors name TOML tables (`[notify] backends = ...`) and paths may hold brackets; both
went missing from the table. No pose model is needed: the model check simply fails here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posture.cli import main
from posture.commands.doctor import Check, print_table


def _cells(table: str) -> dict[str, tuple[str, str]]:
    """Each check's details and fix, with the table's line folding undone."""
    rows: dict[str, list[list[str]]] = {}
    name = ""
    for line in table.splitlines():
        cols = line.split("\u2502")
        if len(cols) != 6:
            continue
        if cols[1].strip():
            name = cols[1].strip()
            rows[name] = [[], []]
        rows[name][0].append(cols[3].strip())
        rows[name][1].append(cols[4].strip())
    return {n: (" ".join(filter(None, d)), " ".join(filter(None, f))) for n, (d, f) in rows.items()}


def test_print_table_escapes_every_text_cell(capsys: pytest.CaptureFixture[str]) -> None:
    checks = [
        Check("config [x]", "fail", 'w.toml:2: [notify] backends = ["bogus"]', "see [notify]"),
        Check("camera", "ok", "video [bold]rec/a.avi: 320 x 320 frame read"),
    ]
    print_table(checks)
    out = capsys.readouterr().out
    cells = _cells(out)
    assert cells["config [x]"] == ('w.toml:2: [notify] backends = ["bogus"]', "see [notify]")
    assert cells["camera"][0] == "video [bold]rec/a.avi: 320 x 320 frame read"
    assert "1 problem" in out and "config [x]" in out.splitlines()[-1]


def test_doctor_shows_a_config_table_and_a_bracketed_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POSTURE_MODEL_DIR", str(tmp_path / "no-models"))
    Path("w.toml").write_text('[notify]\nbackends = ["bogus"]\n', encoding="utf-8")
    Path("[bold]rec").mkdir()
    writer = cv2.VideoWriter("[bold]rec/a.avi", cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(5):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    code = main(
        ["doctor", "--config", "w.toml", "--source", "[bold]rec/a.avi", "--db", "h.sqlite3"]
    )
    assert code == 1
    cells = _cells(capsys.readouterr().out)
    assert cells["config"][0].startswith('w.toml:2: [notify] backends = ["bogus"] is not')
    assert "[bold]rec/a.avi" in cells["camera"][0]
