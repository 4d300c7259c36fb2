"""Rebuild tests/data/history-v1.sqlite3: a schema-version-1 history as posture 0.0.x wrote it.

Run from the repository root: `.venv/bin/python tests/data/make_history_v1.py`. The file is kept
in git so the migration test exercises a real old file, not one made by today's code at test time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from posture.adapters.store import MIGRATIONS

OUT = Path(__file__).with_name("history-v1.sqlite3")
T0 = 1709542800  # 2024-03-04 09:00:00 UTC


def main() -> None:
    OUT.unlink(missing_ok=True)
    conn = sqlite3.connect(OUT)
    for stmt in MIGRATIONS[0]:
        conn.execute(stmt)
    conn.execute(
        "INSERT INTO sessions (id, start_unix, end_unix, source, profile, model) "
        "VALUES (1, ?, ?, 'camera:0', 'default', 'pose_landmarker_full')",
        (T0, T0 + 120),
    )
    rows = []
    for i in range(120):
        slouch = 60 <= i < 90  # 30 s slouching with forward head and head drop
        rows.append(
            (
                1,
                T0 + i,
                "slouching" if slouch else "good",
                "forward_head,head_drop" if slouch else "",
                44.0 if slouch else 52.0,
                40.0 if slouch else 35.0,
            )
        )
    conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.execute(
        "INSERT INTO episodes (session_id, start_unix, end_unix, faults, peak_deviation, "
        "mean_deviation) VALUES (1, ?, ?, 'forward_head,head_drop', 9.5, 8.0)",
        (T0 + 60, T0 + 90),
    )
    conn.execute(
        "INSERT INTO alerts (session_id, t_unix, kind, text) VALUES "
        "(1, ?, 'nudge', 'forward head for 1 min')",
        (T0 + 75,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    main()
