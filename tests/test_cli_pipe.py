"""`posture ... | head`: a reader that goes away early ends the command quietly with 141.

The pipe is real and its read end is closed before the command writes, so every write to stdout
fails with EPIPE, as it does when `head` has read enough and exited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clips import SITTING, UPRIGHT_PHOTO, have_photos

from posture.cli import EXIT_BROKEN_PIPE


def _run_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        return subprocess.run(
            [sys.executable, "-m", "posture", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    finally:
        os.close(write_end)


def test_output_into_a_closed_pipe_ends_quietly_with_141() -> None:
    proc = _run_into_a_closed_pipe("config", "show")
    assert proc.returncode == EXIT_BROKEN_PIPE == 141
    assert proc.stderr == ""  # no traceback, no "Exception ignored" at interpreter exit


@pytest.mark.model
@pytest.mark.skipif(not have_photos(), reason="sitting-side photos not found")
def test_analyze_json_into_a_closed_pipe(model_path: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(SITTING / UPRIGHT_PHOTO, photos / "upright.jpg")
    proc = _run_into_a_closed_pipe("analyze", "--json", "--model", str(model_path), str(photos))
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr
