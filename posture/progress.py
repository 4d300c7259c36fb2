"""Progress bars on stderr (rich), shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Any

from posture.adapters.models import Progress, ProgressFactory, null_progress


class _RichProgress(Progress):
    def __init__(self, description: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if total and total > 1000:
            columns.append(DownloadColumn())
        else:
            columns.append(TextColumn("{task.completed}/{task.total}"))
        columns.append(TimeRemainingColumn())
        self._p = RichProgress(*columns, console=Console(stderr=True), transient=True)
        self._task = self._p.add_task(description, total=total)
        self._p.start()

    def advance(self, n: int) -> None:
        self._p.advance(self._task, n)

    def close(self) -> None:
        self._p.stop()


def stderr_progress(enabled: bool | None = None) -> ProgressFactory:
    """Return a rich progress factory if stderr is a terminal (or `enabled`), else a silent one."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _RichProgress if enabled else null_progress
