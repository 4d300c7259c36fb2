"""The SQLite history: round trip, aggregation, batching, migration, corruption, two processes."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from posture.adapters.store import SCHEMA_VERSION, HistoryStore, default_db_path
from posture.core.errors import HistoryInUse, StoreError
from posture.core.events import (
    AwayStarted,
    BreakDue,
    Nudge,
    Recovered,
    Returned,
    SlouchStarted,
    Verdict,
)
from tests.faults_helpers import read_only_dir

DATA = Path(__file__).parent / "data"
T0 = datetime(2024, 5, 6, 9, 0, 0, tzinfo=UTC)


def feed(
    store: HistoryStore,
    fps: float,
    seconds: float,
    state_at,
    t_start: float = 0.0,
    faults_at=lambda t: (),
) -> None:
    """Record `seconds` of verdicts at `fps`, wall = T0 + t."""
    n = int(round(seconds * fps))
    for i in range(n):
        t = t_start + i / fps
        st = state_at(t)
        v = Verdict(t, st, active_faults=faults_at(t), deviations={"cva_deg": 2.0})
        store.record(
            v, {"cva_deg": 50.0, "neck_angle_deg": 40.0}, "side_left", T0 + timedelta(seconds=t)
        )


def first_30_good(t: float) -> str:
    return "good" if t < 30 else "slouching"


def test_default_location_and_permissions(isolated_home: Path) -> None:
    path = default_db_path()
    assert str(path).startswith(str(isolated_home))
    assert path.name == "history.sqlite3"
    with HistoryStore.open() as store:
        store.start_session(T0)
        feed(store, 1, 3, first_30_good)
        store.end_session(T0 + timedelta(seconds=3))
        assert store.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_round_trip_samples_events_and_alert_recovery(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    with HistoryStore.open(db) as store:
        store.record_calibration(
            T0 - timedelta(days=1),
            {"cva_deg": 52.0, "neck_angle_deg": 38.0},
            profile="default",
            view="side_left",
        )
        store.start_session(T0, source="camera:0", profile="default", model="full")
        feed(store, 5, 60, first_30_good, faults_at=lambda t: ("forward_head",) if t >= 30 else ())
        w = lambda t: T0 + timedelta(seconds=t)  # noqa: E731
        store.record_event(SlouchStarted(35.0, start_s=30.0, faults=("forward_head",)), w(35))
        nid = store.record_event(
            Nudge(40.0, "forward_head", 10.0, 8.0, "cva_deg", "deg"),
            w(40),
            channel="console",
            delivered=True,
        )
        store.record_event(
            Recovered(55.0, 30.0, 55.0, ("forward_head",), 9.5, 8.1, "cva_deg"), w(55)
        )
        bid = store.record_alert(
            BreakDue(56.0, sitting_s=2700.0), w(56), channel="plyer", delivered=False
        )
        store.record_event(AwayStarted(59.0, since_s=58.0), w(59))
        store.record_event(Returned(59.5, away_s=1.5), w(59.5))
        store.end_session(w(60))

    with HistoryStore.open(db, readonly=True) as ro:
        h = ro.load_history(T0.timestamp(), T0.timestamp() + 3600)
        sess = ro.query("SELECT kind, source, profile, model, app_version, end_unix FROM sessions")
        alerts = ro.query("SELECT id, kind, channel, delivered, recovery_s FROM alerts ORDER BY id")
    assert sess == [("monitor", "camera:0", "default", "full", "0.1.0", T0.timestamp() + 60)]
    assert h.sessions == 1
    # 60 s at 5 fps: 30 s good, 30 s slouching with forward head, to floating precision.
    np.testing.assert_allclose(h.minutes.state_s.sum(axis=0), [30, 30, 0, 0], atol=1e-3)
    np.testing.assert_allclose(h.minutes.fault_s.sum(axis=0), [30, 0, 0, 0, 0], atol=1e-3)
    np.testing.assert_allclose(h.minutes.cva_deg, [50.0])
    np.testing.assert_allclose(h.minutes.dev_cva_deg, [2.0])
    assert len(h.episodes) == 1
    ep = h.episodes[0]
    assert (ep.start_unix - T0.timestamp(), ep.end_unix - T0.timestamp()) == (30.0, 55.0)
    assert ep.faults == ("forward_head",) and ep.peak_deviation == 9.5 and ep.metric == "cva_deg"
    # Nudge at 40 s, recovered at 55 s -> 15 s; break alert at 56 s, break began at 58 s -> 2 s.
    assert alerts == [(nid, "nudge", "console", 1, 15.0), (bid, "break", "plyer", 0, 2.0)]
    assert "forward head" in h.alerts[0].text
    assert [(b.start_unix - T0.timestamp(), b.end_unix - T0.timestamp()) for b in h.breaks] == [
        (58.0, 59.5)
    ]
    assert h.baseline == {"cva_deg": 52.0, "neck_angle_deg": 38.0}


@pytest.mark.parametrize("ended_by", ["absence", "no usable frame", "stop"])
def test_an_episode_that_ends_without_a_recovery_gives_its_alert_no_recovery_time(
    tmp_path: Path, ended_by: str
) -> None:
    db = tmp_path / "h.sqlite3"
    w = lambda t: T0 + timedelta(seconds=t)  # noqa: E731
    with HistoryStore.open(db) as store:
        store.start_session(T0)
        store.record_event(SlouchStarted(35.0, start_s=5.0, faults=("forward_head",)), w(35))
        store.record_event(Nudge(35.0, "forward_head", 30.0, 8.0, "cva_deg", "deg"), w(35))
        ended = Recovered(70.0, 5.0, 52.0, ("forward_head",), 9.5, 8.1, "cva_deg", ended_by)
        store.record_event(ended, w(70))  # type: ignore[arg-type]
        store.end_session(w(80))
    with HistoryStore.open(db, readonly=True) as ro:
        (recovery_s,) = ro.query("SELECT recovery_s FROM alerts")[0]
        episode = ro.query("SELECT end_unix, peak_deviation FROM episodes")
    assert recovery_s is None  # they left, the screen went dark, or monitoring stopped
    assert episode == [(T0.timestamp() + 52.0, 9.5)]  # the episode itself is kept whole


def test_fault_time_is_credited_only_while_slouching(tmp_path: Path) -> None:
    # an episode suspended while nobody is seen keeps its fault active in the verdicts
    db = tmp_path / "h.sqlite3"
    with HistoryStore.open(db) as store:
        store.start_session(T0)
        feed(
            store,
            2,
            60,
            lambda t: "slouching" if t < 20 else "unknown",
            faults_at=lambda t: ("forward_head",),
        )
        store.end_session(T0 + timedelta(seconds=60))
    with HistoryStore.open(db, readonly=True) as ro:
        h = ro.load_history(T0.timestamp(), T0.timestamp() + 3600)
    np.testing.assert_allclose(h.minutes.state_s.sum(axis=0), [0, 20, 0, 40], atol=1e-3)
    np.testing.assert_allclose(h.minutes.fault_s.sum(axis=0), [20, 0, 0, 0, 0], atol=1e-3)


def test_forget_before_keeps_a_session_that_never_ended_while_rows_of_it_are_kept(
    tmp_path: Path,
) -> None:
    # a monitor killed (kill -9, power loss) leaves end_unix NULL: its start is all there is to
    # go by, but its newer rows stay, and with them the session (the foreign key refused the
    # whole deletion before, old history included)
    db = tmp_path / "h.sqlite3"
    with HistoryStore.open(db) as store:
        store.start_session(T0 - timedelta(days=400))
        feed(store, 1, 30, first_30_good, t_start=-400 * 86400.0)
        store.end_session(T0 - timedelta(days=400, seconds=-30))
        store.start_session(T0 - timedelta(seconds=60))  # never ended
        feed(store, 1, 120, first_30_good, t_start=-60.0)
        store.flush()
    with HistoryStore.open(db) as store:
        assert store.forget_before(T0) == 1  # the old one
        sessions = store.query("SELECT end_unix FROM sessions")
        samples = store.query("SELECT COUNT(*), MIN(t_unix) FROM samples")
    assert sessions == [(None,)]
    assert samples[0][1] == int(T0.timestamp()) and samples[0][0] >= 55


def test_forget_before_deletes_old_history_and_keeps_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    old, straddling = T0 - timedelta(days=400), T0 - timedelta(seconds=30)
    w = lambda t: T0 + timedelta(seconds=t)  # noqa: E731
    with HistoryStore.open(db) as store:
        store.record_calibration(old, {"cva_deg": 50.0}, profile="a")
        store.record_calibration(old + timedelta(days=1), {"cva_deg": 51.0}, profile="b")
        store.start_session(old)
        feed(store, 1, 60, first_30_good, t_start=-400 * 86400.0)
        store.record_event(Nudge(-400 * 86400.0 + 40, "forward_head", 30, 8, "cva_deg", "deg"), old)
        store.end_session(old + timedelta(seconds=60))
        store.start_session(straddling)  # 30 s before the cutoff, 30 s after it
        feed(store, 1, 60, first_30_good, t_start=-30.0)
        store.record_event(SlouchStarted(35.0, start_s=30.0, faults=("forward_head",)), w(35))
        store.end_session(w(30))
        assert store.forget_before(T0) == 1
        assert store.forget_before(T0) == 0  # nothing more to do
        sessions = store.query("SELECT start_unix FROM sessions")
        samples = store.query("SELECT MIN(t_unix), COUNT(*) FROM samples")
        left = [store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("alerts", "episodes")]
        calibrations = store.query("SELECT profile FROM calibrations")
    assert sessions == [(straddling.timestamp(),)]
    assert samples == [(int(T0.timestamp()), 30)]  # the straddling session's newer half
    assert left == [0, 1]
    # each profile's newest stays whatever its age: reports compare a profile's sessions with it
    assert calibrations == [("a",), ("b",)]


def test_the_baseline_is_that_of_the_profile_the_latest_session_used(tmp_path: Path) -> None:
    # a "home" calibration made after the "work" sessions says nothing about them; the report
    # used to show whichever profile had been calibrated last
    db = tmp_path / "h.sqlite3"
    hour = T0.timestamp(), T0.timestamp() + 3600
    with HistoryStore.open(db) as store:
        store.record_calibration(T0 - timedelta(days=2), {"cva_deg": 50.0}, profile="work")
        store.record_calibration(T0 - timedelta(days=1), {"cva_deg": 53.0}, profile="work")
        store.record_calibration(T0 - timedelta(hours=1), {"cva_deg": 60.0}, profile="home")
        store.record_calibration(T0 + timedelta(days=1), {"cva_deg": 55.0}, profile="work")
        store.start_session(T0, profile="work")
        feed(store, 1, 60, first_30_good)
        store.end_session(T0 + timedelta(seconds=60))
        assert store.load_history(*hour).baseline == {"cva_deg": 53.0}  # not later than the hour
        store.start_session(T0 + timedelta(minutes=5), profile="home")
        feed(store, 1, 60, first_30_good, t_start=300.0)
        store.end_session(T0 + timedelta(minutes=6))
        assert store.load_history(*hour).baseline == {"cva_deg": 60.0}  # the latest session's
        store.start_session(T0 + timedelta(minutes=10), profile="default")  # uncalibrated
        feed(store, 1, 60, first_30_good, t_start=600.0)
        store.end_session(T0 + timedelta(minutes=11))
        assert store.load_history(*hour).baseline == {}  # judged on population norms
        assert store.load_history(hour[1], hour[1] + 3600).baseline == {}  # no session there


@pytest.mark.parametrize("fps", [1.0, 5.0, 15.0])
def test_time_weighted_seconds_do_not_depend_on_frame_rate(tmp_path: Path, fps: float) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        store.start_session(T0)
        feed(store, fps, 120, lambda t: "good" if (t // 10) % 3 else "slouching")
        store.end_session(T0 + timedelta(seconds=120))
        rows = store.sample_rows()
        h = store.load_history(T0.timestamp(), T0.timestamp() + 600)
    assert len(rows) == 120  # at most one row per second, whatever the frame rate
    np.testing.assert_allclose(h.minutes.state_s.sum(axis=0), [80, 40, 0, 0], atol=1e-3)


def test_load_history_of_one_session_leaves_out_overlapping_ones(tmp_path: Path) -> None:
    # two videos analysed into the same minutes: a report of one must not take in the other
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        first = store.start_session(T0, kind="analyze")
        feed(store, 1, 30, lambda t: "slouching")
        store.end_session(T0 + timedelta(seconds=30))
        second = store.start_session(T0, kind="analyze")
        feed(store, 1, 15, lambda t: "good", t_start=10.0)
        store.end_session(T0 + timedelta(seconds=25))
        assert store.session_id is None and store.last_session_id == second != first
        lo, hi = T0.timestamp(), T0.timestamp() + 600
        both = store.load_history(lo, hi, kinds=("analyze",))
        one = store.load_history(lo, hi, kinds=("analyze",), session_id=second)
    assert both.sessions == 2 and one.sessions == 1
    np.testing.assert_allclose(one.minutes.state_s.sum(axis=0), [15, 0, 0, 0], atol=1e-3)
    assert both.minutes.state_s.sum(axis=0)[1] > 0


def test_stalled_stream_is_not_credited(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3", max_hold_s=2.0) as store:
        store.start_session(T0)
        feed(store, 1, 10, lambda t: "good")
        feed(store, 1, 10, lambda t: "good", t_start=100.0)  # 90 s without frames in between
        store.end_session(T0 + timedelta(seconds=110))
        total = store.query("SELECT SUM(good_s) FROM samples")[0][0]
    assert total == pytest.approx(9 + 2 + 9 + 1)  # the gap counts max_hold_s only


def test_writes_are_batched_every_flush_interval(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    store = HistoryStore.open(db, flush_interval_s=5.0)
    store.start_session(T0)

    def on_disk() -> int:
        with sqlite3.connect(db) as c:
            return int(c.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    feed(store, 5, 4.8, lambda t: "good")
    assert on_disk() == 0
    feed(store, 5, 1.0, lambda t: "good", t_start=4.8)  # t reaches 5.0 s: one flush
    assert on_disk() >= 4
    n = on_disk()
    assert store.flush(now_s=6.0) is False  # not due yet
    assert store.flush() is True  # forced: the seconds still held in memory go out
    assert on_disk() > n
    store.close()


def test_naive_datetime_is_refused(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        with pytest.raises(StoreError, match="timezone"):
            store.start_session(datetime(2024, 5, 6, 9, 0))


def test_recording_without_session_says_how_to_fix(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        with pytest.raises(StoreError, match="start_session"):
            store.record(Verdict(0.0, "good"), {}, "front", T0)


def test_migrates_schema_v1_file(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    shutil.copy(DATA / "history-v1.sqlite3", db)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    t0 = 1709542800.0
    with HistoryStore.open(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        h = store.load_history(t0, t0 + 3600)
        # 120 one-second v1 rows: 90 good, 30 slouching with forward head + head drop.
        np.testing.assert_allclose(h.minutes.state_s.sum(axis=0), [90, 30, 0, 0])
        np.testing.assert_allclose(h.minutes.fault_s.sum(axis=0), [30, 30, 0, 0, 0])
        np.testing.assert_allclose(h.minutes.cva_deg, [52.0, (30 * 44 + 30 * 52) / 60])
        assert h.episodes[0].faults == ("forward_head", "head_drop")
        assert h.alerts[0].delivered is None and h.alerts[0].recovery_s is None
        kind = store.query("SELECT kind, app_version FROM sessions")
        assert kind == [("monitor", "")]
        # New features work on the migrated file.
        store.start_session(T0)
        feed(store, 1, 5, lambda t: "good")
        store.record_event(AwayStarted(5.0, since_s=5.0), T0 + timedelta(seconds=5))
        store.end_session(T0 + timedelta(seconds=6))
        assert store.query("SELECT COUNT(*) FROM breaks") == [(1,)]


def test_corrupt_file_is_moved_aside_and_replaced(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    garbage = os.urandom(4096)
    db.write_bytes(garbage)
    with HistoryStore.open(db) as store:
        assert len(store.notices) == 1
        notice = store.notices[0]
        store.start_session(T0)
        feed(store, 1, 3, lambda t: "good")
        store.end_session(T0 + timedelta(seconds=3))
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("history.sqlite3.corrupt-")]
    assert len(moved) == 1 and moved[0].read_bytes() == garbage
    assert str(moved[0]) in notice
    with HistoryStore.open(db) as again:
        assert again.notices == ()
        assert again.query("SELECT COUNT(*) FROM samples") == [(3,)]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    HistoryStore.open(db).close()
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        HistoryStore.open(db)


def test_unusable_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="--db"):
        HistoryStore.open(blocker / "history.sqlite3")


def test_read_only_directory_is_a_store_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only_dir(ro), pytest.raises(StoreError, match="not writable"):
        HistoryStore.open(ro / "history.sqlite3")


WRITER = r"""
import sys, time
from datetime import datetime, timedelta, timezone
from posture.adapters.store import HistoryStore
from posture.core.events import Verdict
db, seconds, pause = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
t0 = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)
store = HistoryStore.open(db, flush_interval_s=5.0)
store.start_session(t0)
for i in range(int(seconds * 5)):
    t = i / 5
    store.record(Verdict(t, "good" if int(t) % 4 else "slouching"), {"cva_deg": 50.0}, "front",
                 t0 + timedelta(seconds=t))
    if i % 25 == 0 and pause > 0:
        time.sleep(pause)
print("recorded", flush=True)
if pause < 0:
    time.sleep(60)  # wait to be killed
store.end_session(t0 + timedelta(seconds=seconds))
store.close()
"""

READER = r"""
import sys, time, json
from posture.adapters.store import HistoryStore
db, until = sys.argv[1], float(sys.argv[2])
seen = []
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with HistoryStore.open(db, readonly=True) as s:
            h = s.load_history(0, 4e9)
            seen.append(float(h.minutes.state_s.sum()))
    except Exception as e:  # report, not hide: the test asserts there were none
        print(json.dumps({"error": repr(e)}), flush=True)
        sys.exit(1)
    if seen[-1] >= until:
        break
    time.sleep(0.01)
print(json.dumps({"seen": seen}), flush=True)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


def test_report_reads_while_monitor_writes_two_processes(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    HistoryStore.open(db).close()  # created (and migrated) before both start
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "300", "0.004"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), "299.9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    w_out, _ = writer.communicate(timeout=60)
    r_out, r_err = reader.communicate(timeout=60)
    assert writer.returncode == 0, w_out
    assert reader.returncode == 0, (r_out, r_err)
    seen = json.loads(r_out.strip().splitlines()[-1])["seen"]
    assert len(seen) >= 3, seen  # it read several times while the writer was busy
    assert any(0 < s < 299 for s in seen), seen  # ...and saw partial data mid-write
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))  # never went backwards
    assert seen[-1] == pytest.approx(300.0, abs=0.01)


def test_kill_9_loses_at_most_the_flush_interval(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "23", "-1"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert writer.stdout is not None
    line = writer.stdout.readline()
    assert line.strip() == "recorded"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    with HistoryStore.open(db, readonly=True) as s:
        stored = float(s.load_history(0, 4e9).minutes.state_s.sum())
    assert 23.0 - 5.0 <= stored <= 23.0
    assert not math.isnan(stored)


def test_many_reads_are_fast(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    with HistoryStore.open(db) as store:
        store.start_session(T0)
        feed(store, 1, 3600, lambda t: "good" if t % 600 < 450 else "slouching")
        store.end_session(T0 + timedelta(hours=1))
        tic = time.perf_counter()
        h = store.load_history(T0.timestamp(), T0.timestamp() + 86400)
        elapsed = time.perf_counter() - tic
    assert len(h.minutes.t_unix) == 60
    assert elapsed < 0.5


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl file locks on Windows")
def test_a_second_monitor_cannot_record_into_the_same_history(tmp_path: Path) -> None:
    # two monitors on one history (the second with --no-control) counted the same minutes twice
    db = tmp_path / "h.sqlite3"
    with HistoryStore.open(db) as first, HistoryStore.open(db) as second:
        first.start_session(T0)
        with pytest.raises(HistoryInUse, match=f"another monitor is recording into {db}") as e:
            second.start_session(T0)
        assert e.value.exit_code == 3
        second.start_session(T0, kind="analyze")  # a video analysed meanwhile is fine
        second.end_session(T0 + timedelta(seconds=1))
        first.end_session(T0 + timedelta(seconds=60))
        second.start_session(T0 + timedelta(seconds=61))  # released with the session
        second.end_session(T0 + timedelta(seconds=62))
        with HistoryStore.open(db) as third:
            first.start_session(T0 + timedelta(seconds=63))
            first.close()  # ...and with the store
            third.start_session(T0 + timedelta(seconds=64))
            third.end_session(T0 + timedelta(seconds=65))
    assert (tmp_path / "h.sqlite3.monitor-lock").exists()
