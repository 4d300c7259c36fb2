"""SQLite history: sessions, 1 s samples, episodes, alerts, breaks and calibrations.

Theory of operation
-------------------
* One file (default `platformdirs.user_data_dir("posture")/history.sqlite3`, `--db` overrides),
  WAL journal so a report can read while a monitor writes, file mode 0600 in a 0700 directory
  (the directory is only tightened when this module creates it or it is the default one).
* The schema has a version (`PRAGMA user_version`). `MIGRATIONS[k]` upgrades version k to k+1;
  a new file runs every migration from 0, so the migrations are exercised on every install.
  A file from a newer posture is refused; a corrupt file (not a database) is moved aside with a
  UTC timestamp suffix and a fresh one is created; `HistoryStore.notices` says where it went.
* `record()` takes every verdict (any frame rate) and keeps at most one row per wall-clock second.
  Each verdict holds its state until the next verdict (sample and hold, capped at `max_hold_s` so a
  stalled camera is not credited), and that time is split over the 1 s buckets it covers. So a
  row holds *seconds* per state and per active fault, and 5 fps and 1 fps give the same minutes.
* Writes are batched: rows go to disk when `flush_interval_s` of monotonic time (the verdicts'
  `t_s`, or `flush(now_s)`) has passed since the last flush. A kill -9 loses at most that much.
  Events (episodes, alerts, breaks) are rare and committed at once.
* Times are stored as UTC epoch seconds (`*_unix` columns). No image is ever stored.

Threading: one `HistoryStore` may be used from several threads (an internal lock serialises
calls); each process opens its own.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from posture import __version__
from posture.core.errors import HistoryInUse, StoreError
from posture.core.events import (
    FAULTS,
    STATES,
    AwayStarted,
    BreakDue,
    Escalation,
    Event,
    Nudge,
    Recovered,
    Returned,
    SlouchStarted,
    Verdict,
)
from posture.core.summary import (
    AlertRow,
    BreakRow,
    EpisodeRow,
    History,
    MinuteRows,
    alert_text,
)

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks of this kind
    fcntl = None  # type: ignore[assignment]

MONITOR_LOCK_SUFFIX = ".monitor-lock"
"""The history's side file a recording monitor holds locked."""


def monitor_lock_path(db: Path) -> Path:
    """Return the side file a monitor holds locked while it records into `db`."""
    return db.with_name(db.name + MONITOR_LOCK_SUFFIX)


def _lock_now(path: Path, *, create: bool) -> int | None:
    """Open `path` and take its exclusive lock without waiting.

    Returns the descriptor holding the lock (closing it releases the lock), or None when
    another process holds it; OSError when the file cannot be opened.
    """
    assert fcntl is not None
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)  # 0600 as the history
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def monitor_recording(db: Path) -> bool:
    """Whether a monitor holds `db`'s lock now (one started with --no-control has no socket).

    Always False without fcntl (Windows), where only the control socket tells.
    """
    path = monitor_lock_path(db)
    if fcntl is None or not path.exists():
        return False
    try:
        fd = _lock_now(path, create=False)
    except OSError:
        return False
    if fd is None:
        return True
    os.close(fd)  # the probe's own lock goes with it
    return False


DB_FILENAME = "history.sqlite3"
MIN_FREE_BYTES = 1 << 20
"""Free space needed to start recording: a day of 1 s rows is a few MB; refusing at start beats
failing at the first write an hour into a session."""
SCHEMA_VERSION = 2
METRIC_COLUMNS: tuple[str, ...] = (
    "cva_deg",
    "neck_angle_deg",
    "neck_flexion_deg",
    "shoulder_protraction",
    "head_roll_deg",
    "lean_in",
)
"""Metrics kept per second (per-second mean of the valid values, NULL when none was valid)."""
DEVIATION_COLUMNS: dict[str, str] = {
    "cva_deg": "dev_cva_deg",
    "neck_angle_deg": "dev_neck_angle_deg",
}
"""Deviations with their own column; every deviation is also kept in the `deviations` JSON."""

SessionKind = Literal["monitor", "analyze"]


def default_db_path() -> Path:
    """`<user data dir>/posture/history.sqlite3` (platformdirs; e.g. ~/.local/share on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("posture", appauthor=False)) / DB_FILENAME


def history_path(db: str | os.PathLike[str] | None, configured: str) -> Path | None:
    """Return the history a command uses: `--db`, else `[store] path`, else None.

    None is the default location, which `HistoryStore.open` makes owner-only.
    """
    if db:
        return Path(db).expanduser()
    return Path(configured).expanduser() if configured else None


def to_unix(wall_utc: datetime) -> float:
    """Epoch seconds of an aware datetime; naive datetimes are refused (their zone is a guess)."""
    if wall_utc.tzinfo is None or wall_utc.utcoffset() is None:
        raise StoreError(
            f"time {wall_utc.isoformat()} has no timezone; pass datetime.now(timezone.utc)"
        )
    return wall_utc.timestamp()


# ----------------------------------------------------------------------------------------------
# Schema and migrations
# ----------------------------------------------------------------------------------------------

_V1 = [
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        start_unix REAL NOT NULL,
        end_unix REAL,
        source TEXT,
        profile TEXT,
        model TEXT)""",
    """CREATE TABLE samples (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_unix INTEGER NOT NULL,
        state TEXT NOT NULL,
        faults TEXT NOT NULL DEFAULT '',
        cva_deg REAL,
        neck_angle_deg REAL,
        PRIMARY KEY (session_id, t_unix))""",
    """CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        start_unix REAL NOT NULL,
        end_unix REAL,
        faults TEXT NOT NULL,
        peak_deviation REAL,
        mean_deviation REAL)""",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        t_unix REAL NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL)""",
]
"""Version 1 (posture 0.0.x): one state and a comma list of faults per second, no breaks."""


def _fault_case(fault: str) -> str:
    return f"CASE WHEN instr(',' || faults || ',', ',{fault},') > 0 THEN 1.0 ELSE 0.0 END"


_SAMPLE_COLUMNS_V2 = (
    ["session_id", "t_unix", "state", "view"]
    + [f"{s}_s" for s in STATES]
    + [f"{f}_s" for f in FAULTS]
    + list(METRIC_COLUMNS)
    + list(DEVIATION_COLUMNS.values())
    + ["deviations"]
)

_V2 = [
    "ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'monitor' "
    "CHECK (kind IN ('monitor', 'analyze'))",
    "ALTER TABLE sessions ADD COLUMN app_version TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE samples_v2 (\n"
    "  session_id INTEGER NOT NULL REFERENCES sessions(id),\n"
    "  t_unix INTEGER NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  view TEXT NOT NULL DEFAULT '',\n"
    + "".join(f"  {s}_s REAL NOT NULL DEFAULT 0,\n" for s in STATES)
    + "".join(f"  {f}_s REAL NOT NULL DEFAULT 0,\n" for f in FAULTS)
    + "".join(f"  {c} REAL,\n" for c in METRIC_COLUMNS)
    + "".join(f"  {c} REAL,\n" for c in DEVIATION_COLUMNS.values())
    + "  deviations TEXT NOT NULL DEFAULT '{}',\n"
    "  PRIMARY KEY (session_id, t_unix)) WITHOUT ROWID",
    # A v1 row stood for one whole second in one state.
    "INSERT INTO samples_v2 (session_id, t_unix, state, "
    + ", ".join(f"{s}_s" for s in STATES)
    + ", "
    + ", ".join(f"{f}_s" for f in FAULTS)
    + ", cva_deg, neck_angle_deg) SELECT session_id, t_unix, state, "
    + ", ".join(f"CASE WHEN state = '{s}' THEN 1.0 ELSE 0.0 END" for s in STATES)
    + ", "
    + ", ".join(_fault_case(f) for f in FAULTS)
    + ", cva_deg, neck_angle_deg FROM samples",
    "DROP TABLE samples",
    "ALTER TABLE samples_v2 RENAME TO samples",
    "CREATE INDEX samples_t ON samples (t_unix)",
    "ALTER TABLE episodes ADD COLUMN metric TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX episodes_t ON episodes (start_unix)",
    "ALTER TABLE alerts ADD COLUMN fault TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE alerts ADD COLUMN channel TEXT NOT NULL DEFAULT ''",
    # NULL: not known (v1 did not record delivery).
    "ALTER TABLE alerts ADD COLUMN delivered INTEGER",
    "ALTER TABLE alerts ADD COLUMN recovery_s REAL",
    "CREATE INDEX alerts_t ON alerts (t_unix)",
    """CREATE TABLE breaks (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        start_unix REAL NOT NULL,
        end_unix REAL)""",
    "CREATE INDEX breaks_t ON breaks (start_unix)",
    """CREATE TABLE calibrations (
        id INTEGER PRIMARY KEY,
        t_unix REAL NOT NULL,
        profile TEXT NOT NULL DEFAULT '',
        view TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        baseline TEXT NOT NULL DEFAULT '{}',
        quality TEXT NOT NULL DEFAULT '{}')""",
]
"""Version 2: time-weighted seconds per state and fault, view, metrics and deviations per
second; session kind and app version; alert channel, delivery and recovery; breaks;
calibrations."""

MIGRATIONS: dict[int, list[str]] = {0: _V1, 1: _V2}
"""`MIGRATIONS[k]` turns schema version k into k+1."""


# ----------------------------------------------------------------------------------------------
# The 1 s aggregation
# ----------------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    """One wall-clock second being filled; totals are cumulative (rows are upserted)."""

    t_unix: int
    state_s: np.ndarray = field(default_factory=lambda: np.zeros(len(STATES)))
    fault_s: np.ndarray = field(default_factory=lambda: np.zeros(len(FAULTS)))
    metric_sum: dict[str, float] = field(default_factory=dict)
    metric_n: dict[str, int] = field(default_factory=dict)
    dev_sum: dict[str, float] = field(default_factory=dict)
    dev_n: dict[str, int] = field(default_factory=dict)
    view: str = ""
    last_state: str = "unknown"
    dirty: bool = True

    def add_values(self, metrics: Mapping[str, float], deviations: Mapping[str, float]) -> None:
        for src, tot, cnt in (
            (metrics, self.metric_sum, self.metric_n),
            (deviations, self.dev_sum, self.dev_n),
        ):
            for k, v in src.items():
                if v is None:
                    continue
                fv = float(v)
                if math.isfinite(fv):
                    tot[k] = tot.get(k, 0.0) + fv
                    cnt[k] = cnt.get(k, 0) + 1
        self.dirty = True

    def mean(self, which: Literal["metric", "dev"], key: str) -> float | None:
        tot, cnt = (
            (self.metric_sum, self.metric_n) if which == "metric" else (self.dev_sum, self.dev_n)
        )
        n = cnt.get(key, 0)
        return tot[key] / n if n else None

    def row(self, session_id: int) -> tuple[object, ...]:
        covered = self.state_s.sum()
        state = STATES[int(np.argmax(self.state_s))] if covered > 0 else self.last_state
        devs = {k: round(self.dev_sum[k] / self.dev_n[k], 4) for k in sorted(self.dev_n)}
        return (
            session_id,
            self.t_unix,
            state,
            self.view,
            *(float(x) for x in self.state_s),
            *(float(x) for x in self.fault_s),
            *(self.mean("metric", c) for c in METRIC_COLUMNS),
            *(self.mean("dev", c) for c in DEVIATION_COLUMNS),
            json.dumps(devs),
        )


@dataclass(frozen=True)
class _Held:
    """The previous verdict, held until the next one arrives."""

    t_s: float
    wall_unix: float
    state: str
    faults: tuple[str, ...]


# ----------------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------------


class HistoryStore:
    """The posture history database. Create with `HistoryStore.open(path)`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        notices: Sequence[str] = (),
        *,
        readonly: bool = False,
        flush_interval_s: float = 5.0,
        max_hold_s: float = 3.0,
    ) -> None:
        if flush_interval_s <= 0 or max_hold_s <= 0:
            raise ValueError(
                f"flush_interval_s ({flush_interval_s}) and max_hold_s ({max_hold_s}) must be > 0"
            )
        self._conn = conn
        self.path = path
        self.notices: tuple[str, ...] = tuple(notices)
        """Things the caller should tell the user (e.g. where a corrupt file was moved)."""
        self.readonly = readonly
        self.flush_interval_s = flush_interval_s
        self.max_hold_s = max_hold_s
        self._lock = threading.RLock()
        self._monitor_claim: int | None = None  # the descriptor holding the monitor lock
        self._session_id: int | None = None
        self._last_session_id: int | None = None
        self._buckets: dict[int, _Bucket] = {}
        self._held: _Held | None = None
        self._last_bucket_t = -(2**62)
        self._last_flush_s: float | None = None
        self._open_episode: int | None = None
        self._open_break: int | None = None
        self._pending_alerts: list[tuple[int, float]] = []  # (alert id, t_s) awaiting recovery
        self._pending_breaks: list[tuple[int, float]] = []  # break alerts awaiting the break
        self._wall_offset: float | None = None  # wall_unix - t_s at the last record/event

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        flush_interval_s: float = 5.0,
        max_hold_s: float = 3.0,
    ) -> HistoryStore:
        """Open (creating and migrating as needed) the history at `path` (default location if None).

        `readonly=True` never creates, migrates or moves anything: for reports on a file that
        may belong to someone else (or sit in a read-only directory: see `_connect_readonly`).
        Raises `StoreError` when the file cannot be used.
        """
        p = Path(path).expanduser() if path is not None else default_db_path()
        if readonly:
            ro_conn, ro_notices = _connect_readonly(p)
            return cls(ro_conn, p, ro_notices, readonly=True)
        notices: list[str] = []
        _prepare_dir(p.parent, tighten=path is None)
        _check_free_space(p.parent)
        _create_file(p)
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(p)
            _migrate(conn, p)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise StoreError(f"cannot open history database {p}: {exc}") from exc
            moved = _move_aside(p)
            msg = f"history database {p} was corrupt; moved it to {moved} and started a new one"
            # Not a warning: the caller prints `notices`, and a warning would say it twice.
            log.info(msg)
            notices.append(msg)
            _create_file(p)
            conn = _connect(p)
            _migrate(conn, p)
        return cls(conn, p, notices, flush_interval_s=flush_interval_s, max_hold_s=max_hold_s)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Flush what is buffered and close the connection (the session stays open)."""
        with self._lock:
            if self._conn is None:
                return
            if not self.readonly:
                self.flush()
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
            self._release_monitor_claim()

    def _claim_for_monitor(self) -> None:
        """Hold the history's monitor lock for as long as a monitor session records.

        Two monitors recording one history (the second started with --no-control, say) would
        count the same minutes twice in every report. The lock is an OS file lock, so a monitor
        that dies releases it with its process. Without fcntl (Windows) there is no such lock
        and the control socket alone keeps a second monitor out.
        """
        if fcntl is None or self._monitor_claim is not None:
            return
        try:
            fd = _lock_now(monitor_lock_path(self.path), create=True)
        except OSError as exc:
            log.debug("no monitor lock for %s: %s", self.path, exc)
            return
        if fd is None:
            raise HistoryInUse(
                f"another monitor is recording into {self.path}; stop it first (one started "
                "with --no-control has no control socket, so `posture status` cannot see it: "
                "stop its process), or give this one a history of its own with --db PATH"
            )
        self._monitor_claim = fd

    def _release_monitor_claim(self) -> None:
        if self._monitor_claim is not None:
            os.close(self._monitor_claim)  # closing the descriptor releases the lock
            self._monitor_claim = None

    @property
    def schema_version(self) -> int:
        """The file's `PRAGMA user_version`."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def session_id(self) -> int | None:
        """The session being recorded, if any."""
        return self._session_id

    @property
    def last_session_id(self) -> int | None:
        """The session started last by this store, also after it ended (to report on it)."""
        return self._last_session_id

    # -- writing ---------------------------------------------------------------------------

    def start_session(
        self,
        wall_utc: datetime,
        *,
        kind: SessionKind = "monitor",
        source: str = "",
        profile: str = "",
        model: str = "",
        app_version: str = __version__,
    ) -> int:
        """Begin a session; returns its id. Samples and events go to the latest session."""
        if kind not in ("monitor", "analyze"):
            raise StoreError(f"session kind must be 'monitor' or 'analyze', got {kind!r}")
        if kind == "monitor":
            self._claim_for_monitor()
        with self._lock, self._write():
            cur = self._conn.execute(
                "INSERT INTO sessions (start_unix, source, profile, model, kind, app_version) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (to_unix(wall_utc), source, profile, model, kind, app_version),
            )
            self._session_id = int(cur.lastrowid)  # type: ignore[arg-type]
            self._last_session_id = self._session_id
        self._buckets.clear()
        self._held = None
        self._last_flush_s = None
        return self._session_id

    def record(
        self, verdict: Verdict, metrics: Mapping[str, float], view: str, wall_utc: datetime
    ) -> None:
        """Add one verdict (any frame rate); flushes when `flush_interval_s` has passed."""
        sid = self._need_session()
        wall = to_unix(wall_utc)
        with self._lock:
            held = self._held
            # Buckets only move forward: a wall clock stepping back joins the current second.
            wall = max(wall, held.wall_unix) if held is not None else wall
            if held is not None:
                dt = verdict.t_s - held.t_s
                if dt < 0:
                    log.debug(
                        "verdict time went backwards (%.3f < %.3f); not credited",
                        verdict.t_s,
                        held.t_s,
                    )
                else:
                    self._credit(held, min(dt, self.max_hold_s))
            b = self._bucket(int(math.floor(wall)))
            b.add_values(metrics, verdict.deviations)
            b.view = view
            b.last_state = verdict.state
            # Fault time is slouching time: an episode suspended while nobody can be measured
            # (no person, a dark image) keeps its faults active but is not credited with them.
            faults = tuple(verdict.active_faults) if verdict.state == "slouching" else ()
            self._held = _Held(verdict.t_s, wall, verdict.state, faults)
            self._wall_offset = wall - verdict.t_s
            if self._last_flush_s is None:
                self._last_flush_s = verdict.t_s
            elif verdict.t_s - self._last_flush_s >= self.flush_interval_s:
                self._flush_rows(sid, verdict.t_s)

    def flush(self, now_s: float | None = None) -> bool:
        """Write buffered samples if due; returns whether anything was written.

        Due when `flush_interval_s` passed since the last flush, or always when `now_s` is None.
        """
        with self._lock:
            if self._session_id is None or self.readonly:
                return False
            if (
                now_s is not None
                and self._last_flush_s is not None
                and now_s - self._last_flush_s < self.flush_interval_s
            ):
                return False
            return self._flush_rows(self._session_id, now_s)

    def record_event(
        self,
        event: Event,
        wall_utc: datetime,
        *,
        text: str | None = None,
        channel: str = "",
        delivered: bool | None = None,
    ) -> int | None:
        """Store what a judge event means for the history; returns the row id it wrote, if any.

        SlouchStarted/Recovered open and close an episode (and give pending alerts their
        recovery time); Nudge/Escalation/BreakDue become alerts (same as `record_alert`);
        AwayStarted/Returned open and close a break. StateChanged needs nothing (samples hold
        the state). `wall_utc` is the wall time of `event.t_s`.
        """
        if isinstance(event, (Nudge, Escalation, BreakDue)):
            return self.record_alert(
                event, wall_utc, text=text, channel=channel, delivered=delivered
            )
        sid = self._need_session()
        wall = to_unix(wall_utc)
        with self._lock, self._write():
            self._wall_offset = wall - event.t_s
            if isinstance(event, SlouchStarted):
                self._open_episode = self._insert(
                    "INSERT INTO episodes (session_id, start_unix, faults) VALUES (?, ?, ?)",
                    (sid, wall - (event.t_s - event.start_s), ",".join(event.faults)),
                )
                return self._open_episode
            if isinstance(event, Recovered):
                start = wall - (event.t_s - event.start_s)
                end = wall - (event.t_s - event.end_s)
                vals = (
                    end,
                    ",".join(event.faults),
                    _num(event.peak_deviation),
                    _num(event.mean_deviation),
                    event.metric,
                )
                if self._open_episode is not None:
                    row = self._open_episode
                    self._conn.execute(
                        "UPDATE episodes SET end_unix = ?, faults = ?, peak_deviation = ?, "
                        "mean_deviation = ?, metric = ? WHERE id = ?",
                        (*vals, row),
                    )
                else:
                    row = self._insert(
                        "INSERT INTO episodes (end_unix, faults, peak_deviation, mean_deviation,"
                        " metric, session_id, start_unix) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (*vals, sid, start),
                    )
                self._open_episode = None
                # Leaving the desk, or stopping, is not recovering: no recovery time for those.
                recovered = self._pending_alerts if event.ended_by == "recovery" else []
                for alert_id, t_alert in recovered:
                    self._conn.execute(
                        "UPDATE alerts SET recovery_s = ? WHERE id = ?",
                        (max(0.0, event.end_s - t_alert), alert_id),
                    )
                self._pending_alerts.clear()
                return row
            if isinstance(event, AwayStarted):
                self._open_break = self._insert(
                    "INSERT INTO breaks (session_id, start_unix) VALUES (?, ?)",
                    (sid, wall - (event.t_s - event.since_s)),
                )
                for alert_id, t_alert in self._pending_breaks:
                    self._conn.execute(
                        "UPDATE alerts SET recovery_s = ? WHERE id = ?",
                        (max(0.0, event.since_s - t_alert), alert_id),
                    )
                self._pending_breaks.clear()
                return self._open_break
            if isinstance(event, Returned):
                open_break = self._open_break
                if open_break is not None:
                    self._conn.execute(
                        "UPDATE breaks SET end_unix = ? WHERE id = ?", (wall, open_break)
                    )
                else:
                    open_break = self._insert(
                        "INSERT INTO breaks (session_id, start_unix, end_unix) VALUES (?, ?, ?)",
                        (sid, wall - event.away_s, wall),
                    )
                self._open_break = None
                return open_break
        return None

    def record_alert(
        self,
        event: Nudge | Escalation | BreakDue,
        wall_utc: datetime,
        *,
        text: str | None = None,
        channel: str = "",
        delivered: bool | None = None,
    ) -> int:
        """Store an alert and return its id.

        Its recovery time is filled in when the episode ends (or, for a break alert, when the
        break begins).
        """
        sid = self._need_session()
        kind = {Nudge: "nudge", Escalation: "escalation", BreakDue: "break"}.get(type(event))
        if kind is None:
            raise StoreError(f"not an alert event: {type(event).__name__}")
        fault = getattr(event, "fault", "")
        with self._lock, self._write():
            alert_id = self._insert(
                "INSERT INTO alerts (session_id, t_unix, kind, fault, text, channel, delivered) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    to_unix(wall_utc),
                    kind,
                    fault,
                    text if text is not None else alert_text(event),
                    channel,
                    None if delivered is None else int(bool(delivered)),
                ),
            )
        (self._pending_breaks if kind == "break" else self._pending_alerts).append(
            (alert_id, event.t_s)
        )
        return alert_id

    def mark_delivered(self, alert_id: int, delivered: bool, channel: str = "") -> None:
        """Record how an alert went out once the notifier knows."""
        with self._lock, self._write():
            self._conn.execute(
                "UPDATE alerts SET delivered = ?, channel = COALESCE(NULLIF(?, ''), channel) "
                "WHERE id = ?",
                (int(delivered), channel, alert_id),
            )

    def record_calibration(
        self,
        wall_utc: datetime,
        baseline: Mapping[str, float],
        *,
        profile: str = "",
        view: str = "",
        model: str = "",
        quality: Mapping[str, object] | None = None,
    ) -> int:
        """Store a calibrated baseline (metric key -> neutral value) for reports to compare to."""
        with self._lock, self._write():
            return self._insert(
                "INSERT INTO calibrations (t_unix, profile, view, model, baseline, quality) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    to_unix(wall_utc),
                    profile,
                    view,
                    model,
                    json.dumps({k: _num(v) for k, v in baseline.items()}),
                    json.dumps(dict(quality or {}), default=str),
                ),
            )

    def end_session(self, wall_utc: datetime) -> None:
        """Credit the last verdict, flush, and close the session.

        The last verdict holds up to `wall_utc` (at most `max_hold_s`); an episode or break still
        open ends at `wall_utc`.
        """
        sid = self._need_session()
        end = to_unix(wall_utc)
        with self._lock:
            if self._held is not None:
                self._credit(self._held, min(max(0.0, end - self._held.wall_unix), self.max_hold_s))
                self._held = None
            self._flush_rows(sid, None)
            with self._write():
                self._conn.execute("UPDATE sessions SET end_unix = ? WHERE id = ?", (end, sid))
                # Whatever is still open ends with the session (the judge saw no more frames).
                if self._open_episode is not None:
                    self._conn.execute(
                        "UPDATE episodes SET end_unix = ? WHERE id = ?", (end, self._open_episode)
                    )
                if self._open_break is not None:
                    self._conn.execute(
                        "UPDATE breaks SET end_unix = ? WHERE id = ?", (end, self._open_break)
                    )
            self._open_episode = self._open_break = None
            self._pending_alerts.clear()
            self._pending_breaks.clear()
            self._session_id = None
            self._buckets.clear()
            self._release_monitor_claim()

    # -- reading ---------------------------------------------------------------------------

    def load_history(
        self,
        start_unix: float,
        end_unix: float,
        *,
        kinds: Sequence[str] = ("monitor",),
        session_id: int | None = None,
    ) -> History:
        """Everything stored in [start_unix, end_unix) for sessions of the given kinds.

        `session_id` narrows it to that one session: an analysed video's report must not take in
        other videos analysed at about the same time.
        """
        which = f"kind IN ({','.join('?' * len(kinds))})"
        params: tuple[object, ...] = tuple(kinds)
        if session_id is not None:
            which += " AND id = ?"
            params += (session_id,)
        sess = f"session_id IN (SELECT id FROM sessions WHERE {which})"
        sums = (
            ", ".join(f"SUM({s}_s)" for s in STATES)
            + ", "
            + ", ".join(f"SUM({f}_s)" for f in FAULTS)
        )
        with self._lock:
            rows = self._conn.execute(
                f"SELECT (t_unix / 60) * 60 AS m, {sums}, AVG(cva_deg), AVG(neck_angle_deg), "
                f"AVG(dev_cva_deg), AVG(dev_neck_angle_deg) FROM samples "
                f"WHERE t_unix >= ? AND t_unix < ? AND {sess} GROUP BY m ORDER BY m",
                (int(math.floor(start_unix)), int(math.ceil(end_unix)), *params),
            ).fetchall()
            ep = self._conn.execute(
                "SELECT start_unix, end_unix, faults, peak_deviation, mean_deviation, metric "
                f"FROM episodes WHERE start_unix >= ? AND start_unix < ? AND {sess} "
                "ORDER BY start_unix",
                (start_unix, end_unix, *params),
            ).fetchall()
            al = self._conn.execute(
                "SELECT t_unix, kind, text, fault, channel, delivered, recovery_s FROM alerts "
                f"WHERE t_unix >= ? AND t_unix < ? AND {sess} ORDER BY t_unix",
                (start_unix, end_unix, *params),
            ).fetchall()
            br = self._conn.execute(
                f"SELECT start_unix, end_unix FROM breaks WHERE start_unix >= ? AND "
                f"start_unix < ? AND {sess} ORDER BY start_unix",
                (start_unix, end_unix, *params),
            ).fetchall()
            # The baseline the period was judged against: the newest calibration, before the
            # period ends, of the profile its latest session used (not whichever profile was
            # calibrated last: a "home" calibration says nothing about "work" sessions).
            cal = self._conn.execute(
                "SELECT baseline FROM calibrations WHERE t_unix < ? AND profile = ("
                f"SELECT profile FROM sessions WHERE start_unix < ? "
                f"AND COALESCE(end_unix, start_unix) >= ? AND {which} "
                "ORDER BY start_unix DESC LIMIT 1) ORDER BY t_unix DESC LIMIT 1",
                (end_unix, end_unix, start_unix, *params),
            ).fetchone()
            n_sess = self._conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE start_unix < ? AND "
                f"COALESCE(end_unix, start_unix) >= ? AND {which}",
                (end_unix, start_unix, *params),
            ).fetchone()[0]
        ns, nf = len(STATES), len(FAULTS)
        if rows:
            a = np.array(rows, dtype=np.float64)  # NULL -> nan
            minutes = MinuteRows(
                t_unix=a[:, 0].astype(np.int64),
                state_s=a[:, 1 : 1 + ns],
                fault_s=a[:, 1 + ns : 1 + ns + nf],
                cva_deg=a[:, 1 + ns + nf],
                neck_angle_deg=a[:, 2 + ns + nf],
                dev_cva_deg=a[:, 3 + ns + nf],
                dev_neck_angle_deg=a[:, 4 + ns + nf],
            )
        else:
            minutes = MinuteRows.empty()
        baseline: dict[str, float] = {}
        if cal is not None:
            try:
                baseline = {k: float(v) for k, v in json.loads(cal[0]).items() if v is not None}
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("ignoring unreadable calibration baseline in %s: %s", self.path, exc)
        return History(
            minutes=minutes,
            episodes=tuple(
                EpisodeRow(
                    r[0],
                    r[1],
                    tuple(f for f in r[2].split(",") if f),
                    _nan(r[3]),
                    _nan(r[4]),
                    r[5] or "",
                )
                for r in ep
            ),
            alerts=tuple(
                AlertRow(
                    r[0],
                    r[1],
                    r[2] or "",
                    r[3] or "",
                    r[4] or "",
                    None if r[5] is None else bool(r[5]),
                    r[6],
                )
                for r in al
            ),
            breaks=tuple(BreakRow(r[0], r[1]) for r in br),
            baseline=baseline,
            sessions=int(n_sess),
        )

    def count_sessions(self, kind: SessionKind, start_unix: float, end_unix: float) -> int:
        """How many sessions of `kind` started in [start_unix, end_unix)."""
        with self._lock:
            (n,) = self._conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE kind = ? AND start_unix >= ? "
                "AND start_unix < ?",
                (kind, start_unix, end_unix),
            ).fetchone()
        return int(n)

    def time_range(self) -> tuple[float, float] | None:
        """First and last stored sample time (epoch s), or None when there are no samples."""
        with self._lock:
            lo, hi = self._conn.execute("SELECT MIN(t_unix), MAX(t_unix) FROM samples").fetchone()
        return None if lo is None else (float(lo), float(hi))

    def sample_rows(self, session_id: int | None = None) -> list[sqlite3.Row]:
        """Raw 1 s rows (for tests and debugging), oldest first."""
        with self._lock:
            self._conn.row_factory = sqlite3.Row
            try:
                if session_id is None:
                    return self._conn.execute("SELECT * FROM samples ORDER BY t_unix").fetchall()
                return self._conn.execute(
                    "SELECT * FROM samples WHERE session_id = ? ORDER BY t_unix", (session_id,)
                ).fetchall()
            finally:
                self._conn.row_factory = None

    def forget_before(self, cutoff_utc: datetime) -> int:
        """Delete the history older than `cutoff_utc` (`store.keep_days`); returns sessions gone.

        Rows go by their own time, so a session that straddles the cutoff keeps its newer part.
        Each profile's newest calibration stays whatever its age: reports compare against it. One
        transaction: a failure deletes nothing.
        """
        cut = to_unix(cutoff_utc)
        with self._lock, self._write():
            # By time alone, so the time indexes serve (a year of samples is millions of rows);
            # an ended session's rows all come before its end.
            for table, when in (
                ("samples", "t_unix"),
                ("alerts", "t_unix"),
                ("episodes", "COALESCE(end_unix, start_unix)"),
                ("breaks", "COALESCE(end_unix, start_unix)"),
            ):
                self._conn.execute(f"DELETE FROM {table} WHERE {when} < ?", (cut,))
            # A session some of whose rows are newer stays (one that never ended, after a crash,
            # has no end to go by): its rows must keep their session, for the reports.
            gone = self._conn.execute(
                "DELETE FROM sessions WHERE COALESCE(end_unix, start_unix) < ? AND id IS NOT ? "
                + "".join(
                    f"AND NOT EXISTS (SELECT 1 FROM {t} WHERE session_id = sessions.id) "
                    for t in ("samples", "episodes", "alerts", "breaks")
                ),
                (cut, self._session_id),
            ).rowcount
            self._conn.execute(
                "DELETE FROM calibrations WHERE t_unix < ? "
                "AND id NOT IN (SELECT MAX(id) FROM calibrations GROUP BY profile)",
                (cut,),
            )
        return int(gone)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run a read-only SELECT (for tests and ad-hoc inspection)."""
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- internals -------------------------------------------------------------------------

    def _need_session(self) -> int:
        if self.readonly:
            raise StoreError(f"history {self.path} was opened read-only; cannot record")
        if self._session_id is None:
            raise StoreError("no session is open: call start_session() before recording")
        return self._session_id

    def _bucket(self, t: int) -> _Bucket:
        t = max(t, self._last_bucket_t)
        b = self._buckets.get(t)
        if b is None:
            b = self._buckets[t] = _Bucket(t)
            self._last_bucket_t = t
        return b

    def _credit(self, held: _Held, dt: float) -> None:
        """Spread `dt` seconds of the held state over the 1 s buckets from `held.wall_unix`."""
        if dt <= 0:
            return
        si = STATES.index(held.state)
        fmask = np.array([f in held.faults for f in FAULTS], dtype=np.float64)
        t, end = held.wall_unix, held.wall_unix + dt
        while t < end - 1e-9:
            sec = int(math.floor(t))
            part = min(end, sec + 1.0) - t
            b = self._bucket(sec)
            b.state_s[si] += part
            b.fault_s += fmask * part
            b.dirty = True
            t += part

    def _flush_rows(self, sid: int, now_s: float | None) -> bool:
        # A second no verdict has been credited to yet (the newest one) waits for its time.
        dirty = [b for b in self._buckets.values() if b.dirty and b.state_s.sum() > 0]
        if dirty:
            cols = ", ".join(_SAMPLE_COLUMNS_V2)
            marks = ", ".join("?" * len(_SAMPLE_COLUMNS_V2))
            updates = ", ".join(f"{c} = excluded.{c}" for c in _SAMPLE_COLUMNS_V2[2:])
            with self._write():
                self._conn.executemany(
                    f"INSERT INTO samples ({cols}) VALUES ({marks}) "
                    f"ON CONFLICT (session_id, t_unix) DO UPDATE SET {updates}",
                    [b.row(sid) for b in dirty],
                )
            for b in dirty:
                b.dirty = False
        # Seconds that can no longer change (held interval <= max_hold_s) leave memory.
        keep_from = self._last_bucket_t - int(math.ceil(self.max_hold_s)) - 1
        for t in [t for t in self._buckets if t < keep_from]:
            del self._buckets[t]
        if now_s is not None:
            self._last_flush_s = now_s
        elif self._held is not None:
            self._last_flush_s = self._held.t_s
        return bool(dirty)

    def _insert(self, sql: str, params: Sequence[object]) -> int:
        return int(self._conn.execute(sql, tuple(params)).lastrowid)  # type: ignore[arg-type]

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction; a failure becomes a StoreError that names the file."""
        if self.readonly:
            raise StoreError(f"history {self.path} was opened read-only; cannot write")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot write history database {self.path}: {exc} (check free disk space and "
                "permissions, or pass --db PATH)"
            ) from exc


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _prepare_dir(d: Path, *, tighten: bool) -> None:
    created = not d.exists()
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        if created or tighten:
            os.chmod(d, 0o700)
    except OSError as exc:
        raise StoreError(
            f"cannot create the history directory {d}: {exc.strerror}; pass --db PATH to put "
            "the history somewhere writable"
        ) from exc
    if not os.access(d, os.W_OK | os.X_OK):
        raise StoreError(
            f"the history directory {d} is not writable; fix its permissions or pass --db PATH"
        )


def _check_free_space(d: Path) -> None:
    try:
        free = shutil.disk_usage(d).free
    except OSError as exc:
        log.debug("cannot tell the free space of %s: %s", d, exc)
        return
    if free < MIN_FREE_BYTES:
        raise StoreError(
            f"the disk holding the history directory {d} is full ({free // 1024} KiB free, "
            f"{MIN_FREE_BYTES // 1024} KiB needed to start recording); free some space or pass "
            "--db PATH on another disk"
        )


def _create_file(p: Path) -> None:
    """Create the file 0600 before SQLite does, so it never exists with looser permissions.

    SQLite gives its -wal and -shm files the database file's mode.
    """
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        if (p.stat().st_mode & 0o777) != 0o600 and p.stat().st_uid == os.getuid():
            os.chmod(p, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot open history database {p} for writing: {exc.strerror}; fix its "
            "permissions or pass --db PATH"
        ) from exc


def _connect(p: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(p, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("history %s: WAL journal unavailable (got %s); readers may wait", p, mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _open_readonly(p: Path, *, immutable: bool) -> tuple[sqlite3.Connection, int]:
    """Connect read-only and read the schema version (the first real read of the file)."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(
        f"{p.resolve().as_uri()}?{query}",
        uri=True,
        timeout=10.0,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn, int(conn.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        conn.close()
        raise


def _connect_readonly(p: Path) -> tuple[sqlite3.Connection, list[str]]:
    """Open `p` for reading only; returns the connection and notices for the user.

    Reading a WAL database needs its `-shm` index beside it, which SQLite creates on open; in a
    directory that is read-only to us that fails ("unable to open database file") although the
    file itself is readable. Then the file is opened `immutable`: no lock files at all. A writer
    needs that directory too, so normally nobody is writing the file; but a `-wal` journal left
    by a crash is not read that way, so a notice says what is left out.
    """
    if not p.exists():
        raise StoreError(f"no history database at {p}; run `posture monitor` first or pass --db")
    notices: list[str] = []
    try:
        try:
            conn, version = _open_readonly(p, immutable=False)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN" or not _readable_file(p):
                raise
            log.debug("history %s: %s; opening it immutable (its directory is read-only)", p, exc)
            conn, version = _open_readonly(p, immutable=True)
            wal = p.with_name(p.name + "-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                notices.append(
                    f"{wal} holds the last rows a monitor wrote, and its read-only directory "
                    "keeps them from being read: they are left out of this report (make the "
                    "directory writable and report again to include them)"
                )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read history database {p}: {exc}") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"history database {p} has schema version {version}, this posture reads "
            f"{SCHEMA_VERSION}; open it once without read-only (e.g. `posture report --db {p}` "
            "with write access) to migrate it"
        )
    return conn, notices


def _readable_file(p: Path) -> bool:
    """Tell whether `p` is a regular file this process can open for reading."""
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return False
    os.close(fd)
    return p.is_file()


def _migrate(conn: sqlite3.Connection, p: Path) -> None:
    """Bring the file to `SCHEMA_VERSION`, one transaction per step."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"history database {p} has schema version {version}, newer than this posture "
            f"understands ({SCHEMA_VERSION}); upgrade posture or pass --db for another file"
        )
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                break
            for stmt in MIGRATIONS[version]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("history %s: migrated schema %d -> %d", p, version, version + 1)
        version += 1
    # Touch a table so a file with a valid header but corrupt pages fails here, not later.
    conn.execute("SELECT COUNT(*) FROM sessions").fetchone()


def _move_aside(p: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = p.with_name(f"{p.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = p.with_name(f"{p.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        os.replace(p, target)
        for suffix in ("-wal", "-shm"):
            side = p.with_name(p.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(
            f"history database {p} is corrupt and could not be moved aside ({exc.strerror}); "
            "move or delete it by hand, or pass --db PATH"
        ) from exc
    return target
