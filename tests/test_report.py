"""`posture report` end to end: a synthetic day in a real database, every format, and the HTML
rendered by headless Chromium to check the charts are really drawn."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from posture.adapters.store import HistoryStore
from posture.cli import main
from posture.core.events import Nudge, Recovered, SlouchStarted, Verdict
from posture.report_data import CSV_COLUMNS
from tests.faults_helpers import read_only_dir

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
DAY = "2024-05-06"


def record_day(
    db: Path, day_start: datetime, good_min: int, slouch_min: int, cva_wobble: bool = True
) -> None:
    """One session at 1 fps: `good_min` good minutes then `slouch_min` slouching minutes."""
    with HistoryStore.open(db) as store:
        store.record_calibration(
            day_start - timedelta(days=1), {"cva_deg": 52.0, "neck_angle_deg": 36.0}
        )
        store.start_session(day_start)
        total = (good_min + slouch_min) * 60
        rng = np.random.default_rng(0)
        for i in range(total + 1):
            slouch = i >= good_min * 60
            t = float(i)
            cva = (44.0 if slouch else 52.0) + (rng.normal(0, 1) if cva_wobble else 0)
            store.record(
                Verdict(
                    t,
                    "slouching" if slouch else "good",
                    active_faults=("forward_head",) if slouch else (),
                    deviations={"cva_deg": 52.0 - cva},
                ),
                {"cva_deg": cva, "neck_angle_deg": 80 - cva},
                "side_left",
                day_start + timedelta(seconds=t),
            )
            if i == good_min * 60 and slouch_min:
                w = day_start + timedelta(seconds=t)
                store.record_event(SlouchStarted(t, t, ("forward_head",)), w)
                store.record_event(
                    Nudge(t + 60, "forward_head", 60.0, 8.0, "cva_deg", "deg"),
                    w + timedelta(seconds=60),
                    channel="console",
                    delivered=True,
                )
        end = float(total)
        store.record_event(
            Recovered(end, good_min * 60.0, end, ("forward_head",), 10, 8, "cva_deg"),
            day_start + timedelta(seconds=end),
        )
        store.end_session(day_start + timedelta(seconds=total))


@pytest.fixture(scope="module")
def day_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("report") / "history.sqlite3"
    record_day(db, T0, 45, 15)
    # Earlier days for the trend: May 3 -> 50 %, May 4 -> 90 %.
    record_day(db, T0 - timedelta(days=3), 10, 10, cva_wobble=False)
    record_day(db, T0 - timedelta(days=2), 18, 2, cva_wobble=False)
    return db


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["report", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_report_numbers(day_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(
        capsys, "--db", str(day_db), "--day", DAY, "--tz", "UTC", "--format", "json"
    )
    assert rc == 0
    doc = json.loads(out)
    assert doc["monitored_minutes"] == 60.0
    assert doc["score_pct"] == 75.0
    assert "good" in doc["score_definition"]
    assert doc["share"]["good"] == 0.75
    assert doc["fault_minutes"]["forward_head"] == 15.0
    assert doc["episodes"]["count"] == 1 and doc["episodes"]["longest_minutes"] == 15.0
    assert doc["alerts"]["counts"]["nudge"] == 1
    assert doc["alerts"]["items"][0]["recovery_s"] == 14 * 60.0
    assert doc["alerts"]["items"][0]["time"] == "2024-05-06T09:46:00+00:00"
    trend = {d["date"]: d["score_pct"] for d in doc["trend_7"]}
    assert trend["2024-05-03"] == 50.0 and trend["2024-05-04"] == 90.0
    assert trend["2024-05-05"] is None and trend["2024-05-06"] == 75.0
    assert doc["baseline"] == {"cva_deg": 52.0, "neck_angle_deg": 36.0}
    assert [h["hour"] for h in doc["hourly"]] == [9]


def test_week_json_and_local_time_zone(day_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(
        capsys,
        "--db",
        str(day_db),
        "--from",
        "2024-05-01",
        "--to",
        DAY,
        "--tz",
        "Asia/Kolkata",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert rc == 0 and doc["monitored_minutes"] == 100.0
    assert doc["score_pct"] == pytest.approx(100 * (45 + 10 + 18) / 100, abs=0.05)
    assert doc["period"]["timezone"] == "Asia/Kolkata"
    assert doc["episodes"]["items"][-1]["start"].endswith("+05:30")
    # May 6, 09:00-10:00 UTC is 14:30-15:30 in Kolkata.
    assert [(h["date"], h["hour"]) for h in doc["hourly"] if h["date"] == DAY] == [
        (DAY, 14),
        (DAY, 15),
    ]


def test_csv_report_columns_and_rows(day_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(
        capsys, "--db", str(day_db), "--day", DAY, "--tz", "UTC", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 60
    assert rows[0]["time_local"] == "2024-05-06T09:00:00+00:00"
    assert sum(float(r["good_s"]) for r in rows) == pytest.approx(45 * 60)
    assert sum(float(r["forward_head_s"]) for r in rows) == pytest.approx(15 * 60)


def test_text_report(day_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "r.txt"
    rc, _, err = run_cli(
        capsys, "--db", str(day_db), "--day", DAY, "--tz", "UTC", "--out", str(out_file)
    )
    text = out_file.read_text()
    assert rc == 0 and "written" in err
    assert "75 %" in text and "good time / (good + slouching time)" in text
    assert re.search(r"forward head\s+15\.0", text)
    assert "\x1b[" not in text  # no terminal colour codes in a file


def test_empty_period_and_missing_db_are_friendly(
    day_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(capsys, "--db", str(day_db), "--day", "2024-01-01", "--tz", "UTC")
    assert rc == 0 and "Nothing was monitored on Mon 1 Jan 2024." in out and not err
    rc, out, _ = run_cli(capsys, "--db", str(tmp_path / "none.sqlite3"))
    assert rc == 0 and "No posture history yet" in out and "posture monitor" in out
    assert not (tmp_path / "none.sqlite3").exists()  # a report never creates a database
    HistoryStore.open(tmp_path / "empty.sqlite3").close()
    rc, out, err = run_cli(capsys, "--db", str(tmp_path / "empty.sqlite3"), "--format", "json")
    doc = json.loads(out)
    assert rc == 0 and doc["empty"] is True and "empty so far" in doc["message"]
    assert "empty so far" in err


@pytest.mark.parametrize("bad", ["2024-13-01", "last tuesday", "06/05/2024"])
def test_bad_date_lists_accepted_formats(
    day_db: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, "--db", str(day_db), "--day", bad)
    assert rc == 2
    assert "YYYY-MM-DD" in err and '"today"' in err and '"yesterday"' in err
    assert "Traceback" not in err


def test_relative_dates(day_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from posture.commands.report import parse_day

    today = datetime(2024, 5, 8).date()  # a Wednesday
    assert parse_day("today", today).isoformat() == "2024-05-08"
    assert parse_day("Yesterday", today).isoformat() == "2024-05-07"
    assert parse_day("monday", today).isoformat() == "2024-05-06"
    assert parse_day("wednesday", today).isoformat() == "2024-05-08"
    assert parse_day("-2", today).isoformat() == "2024-05-06"


# ------------------------------------------------------------------------------------------
# Where the history is, and what a report says when it cannot be read
# ------------------------------------------------------------------------------------------


def _write_settings(path: Path, db: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[store]\npath = {json.dumps(str(db))}\n", encoding="utf-8")
    return path


def test_report_reads_the_history_named_in_the_settings(
    day_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from posture.adapters.settings import config_path

    json_day = ("--day", DAY, "--tz", "UTC", "--format", "json")
    _write_settings(config_path(), day_db)  # the default settings file: [store] path
    rc, out, err = run_cli(capsys, *json_day)
    assert rc == 0, err
    assert json.loads(out)["monitored_minutes"] == 60.0
    # --config names another settings file; --db still wins over both
    other = _write_settings(tmp_path / "other.toml", tmp_path / "elsewhere.sqlite3")
    rc, out, err = run_cli(capsys, "--config", str(other), *json_day)
    assert rc == 0 and json.loads(out)["empty"] is True
    assert f"looked for {tmp_path / 'elsewhere.sqlite3'}" in err
    rc, out, _ = run_cli(capsys, "--config", str(other), "--db", str(day_db), *json_day)
    assert rc == 0 and json.loads(out)["monitored_minutes"] == 60.0
    # a broken settings file is a usage error naming the file, as for the other commands
    (tmp_path / "bad.toml").write_text("[store\n")
    rc, _, err = run_cli(capsys, "--config", str(tmp_path / "bad.toml"))
    assert rc == 2 and str(tmp_path / "bad.toml") in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["json", "csv", "text", "html"])
def test_missing_database_still_gives_a_valid_document(
    tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none.sqlite3"
    rc, out, err = run_cli(capsys, "--db", str(db), "--format", fmt, "--out", "-")
    assert rc == 0, err
    assert not db.exists()
    if fmt == "json":
        doc = json.loads(out)
        assert doc["empty"] is True and "No posture history yet" in doc["message"]
        assert "No posture history yet" in err
    elif fmt == "csv":
        assert out == ",".join(CSV_COLUMNS) + "\n"
        assert "No posture history yet" in err
    else:
        assert "No posture history yet" in out and not err


def test_json_time_zone_is_the_zone_name_without_tz_or_TZ(
    day_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from posture.commands.report import local_tz

    monkeypatch.delenv("TZ", raising=False)
    rc, out, _ = run_cli(capsys, "--db", str(day_db), "--day", DAY, "--format", "json")
    zone = json.loads(out)["period"]["timezone"]
    assert rc == 0
    assert zone == local_tz()[1]  # e.g. Etc/UTC from the /etc/localtime link
    assert "ZoneInfo" not in zone and "BufferedReader" not in zone


@pytest.mark.parametrize(
    "argv",
    [
        ("--day", "0001-01-01"),
        ("--day", "9999-12-31"),
        ("--from", "0001-01-01", "--to", "0001-01-05"),
        ("--from", "9999-12-25", "--to", "9999-12-31"),
        ("--from", "2024-05-01", "--to", "9999-12-31"),
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/Adak"])
def test_dates_out_of_range_are_usage_errors(
    day_db: Path, argv: tuple[str, ...], tz: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(capsys, "--db", str(day_db), "--tz", tz, *argv)
    assert rc == 2, err
    assert not out and "Traceback" not in err and "OverflowError" not in err
    assert "out of range" in err and "1970-01-01" in err


def test_the_range_ends_are_reportable(day_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day in ("1970-01-01", "9999-12-30"):
        for tz in ("Pacific/Kiritimati", "America/Adak"):
            for fmt in ("json", "csv"):
                rc, out, err = run_cli(
                    capsys, "--db", str(day_db), "--day", day, "--tz", tz, "--format", fmt
                )
                assert rc == 0 and "Nothing was monitored" in err, (day, tz, fmt, err)


def test_from_after_today_says_so_not_swap(
    day_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, "--db", str(day_db), "--from", "9000-01-01")
    assert rc == 2
    assert "--from 9000-01-01 is after today" in err and "swap" not in err
    assert "--to" in err  # the way out: name the end of the range
    rc, _, err = run_cli(capsys, "--db", str(day_db), "--from", "2024-05-06", "--to", "2024-05-01")
    assert rc == 2 and "--to 2024-05-01 is before --from 2024-05-06; swap them" in err


@pytest.fixture()
def shelf_db(tmp_path: Path) -> Path:
    """Where a history goes in a directory the tests then make read-only (`read_only_dir`)."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    return shelf / "history.sqlite3"


def test_report_reads_a_history_in_a_read_only_directory(
    day_db: Path, shelf_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, shelf = shelf_db, shelf_db.parent
    shutil.copyfile(day_db, db)  # a WAL database, closed cleanly: no -wal or -shm beside it
    with read_only_dir(shelf):
        rc, out, err = run_cli(
            capsys, "--db", str(db), "--day", DAY, "--tz", "UTC", "--format", "json"
        )
        assert rc == 0, err
        assert json.loads(out)["monitored_minutes"] == 60.0 and not err
        assert sorted(p.name for p in shelf.iterdir()) == ["history.sqlite3"]


def test_read_only_directory_with_an_unmerged_journal_says_what_is_left_out(
    shelf_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, shelf = shelf_db, shelf_db.parent
    HistoryStore.open(db).close()
    # a monitor killed on a disk since made read-only: rows still only in the -wal journal
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO sessions (kind, start_unix) VALUES ('monitor', 1714986000)")
    writer.commit()
    wal = shelf / "history.sqlite3-wal"
    saved_wal = wal.read_bytes()
    writer.close()  # the last close merges the journal; put it back as a crash leaves it
    wal.write_bytes(saved_wal)
    (shelf / "history.sqlite3-shm").unlink(missing_ok=True)
    with read_only_dir(shelf):
        rc, _, err = run_cli(capsys, "--db", str(db), "--day", DAY, "--format", "json")
    assert rc == 0, err
    assert f"{wal}" in err and "left out" in err


def test_a_file_that_is_not_a_database_in_a_read_only_directory_is_a_clear_error(
    shelf_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, shelf = shelf_db, shelf_db.parent
    db.write_bytes(b"not a database, " * 512)
    with read_only_dir(shelf):
        rc, _, err = run_cli(capsys, "--db", str(db))
    assert rc == 1
    assert f"cannot read history database {db}" in err and "Traceback" not in err


def test_reports_doc_gives_the_hold_cap_the_store_uses() -> None:
    from posture.core.config import JudgeConfig

    doc = (Path(__file__).resolve().parents[1] / "docs" / "REPORTS.md").read_text()
    (state_time,) = [b for b in doc.split("\n* ") if b.startswith("**state time**")]
    assert "judge.max_hold_s" in state_time
    assert f"{JudgeConfig().max_hold_s:g} s by default" in state_time


# ------------------------------------------------------------------------------------------
# HTML, rendered by a real browser
# ------------------------------------------------------------------------------------------

CHART_IDS = ("chart-timeline", "chart-angles", "chart-faults", "chart-heatmap", "chart-trend")


@pytest.fixture(scope="module")
def html_report(day_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert (
        main(
            [
                "report",
                "--db",
                str(day_db),
                "--day",
                DAY,
                "--tz",
                "UTC",
                "--format",
                "html",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_html_is_self_contained_and_phone_ready(html_report: Path) -> None:
    text = html_report.read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text and "<script" not in text
    for cid in CHART_IDS:
        assert f'id="{cid}"' in text
    assert "75 %" in text
    assert "Neck angles vs your baseline" in text  # calibrated: the baselines are drawn


def test_an_uncalibrated_day_names_no_baseline_of_yours(tmp_path: Path) -> None:
    # judged on population norms there is no baseline of the user's to draw or to name
    db = tmp_path / "history.sqlite3"
    record_day(db, T0, 45, 15)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET profile = 'default'")
    out = tmp_path / "r.html"
    argv = ["report", "--db", str(db), "--day", DAY, "--tz", "UTC", "--format", "html"]
    assert main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    assert "Neck angles" in text and "your baseline" not in text
    assert "your calibrated baselines" not in text


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        msg = "headless Chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI must provide it")
        pytest.skip(msg)
    return path


def _run_chromium(browser: str, url: str, width: int, height: int, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                f"--window-size={width},{height}",
                *extra,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# The report itself has no script; the test adds one to a copy so the browser reports where it
# laid out each chart. The screenshot is taken of the same copy at the same window size.
PROBE = """<script>
window.addEventListener('load', function () {
  var out = {vw: window.innerWidth, sw: document.documentElement.scrollWidth, charts: {}};
  document.querySelectorAll('img.chart').forEach(function (img) {
    var r = img.getBoundingClientRect();
    out.charts[img.id] = {x: r.left, y: r.top + window.scrollY, w: r.width, h: r.height,
                          loaded: img.complete && img.naturalWidth > 0};
  });
  document.body.setAttribute('data-probe', JSON.stringify(out));
});
</script>"""


@pytest.mark.parametrize(("width", "height"), [(1000, 3600), (390, 3000)], ids=["desk", "phone"])
def test_html_charts_render_in_headless_chromium(
    chromium: str, html_report: Path, tmp_path: Path, width: int, height: int
) -> None:
    from PIL import Image

    probe_html = tmp_path / "probe.html"
    probe_html.write_text(html_report.read_text().replace("</body>", PROBE + "</body>"))
    url = probe_html.as_uri()
    dom = _run_chromium(chromium, url, width, height, "--virtual-time-budget=2000", "--dump-dom")
    m = re.search(r'data-probe="([^"]+)"', dom)
    assert m, "the probe did not run"
    probe = json.loads(m.group(1).replace("&quot;", '"'))
    assert probe["sw"] <= probe["vw"], "the page scrolls sideways"

    shot = tmp_path / f"report-{width}.png"
    _run_chromium(chromium, url, width, height, f"--screenshot={shot}")
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert img.shape[1] == width
    for cid in CHART_IDS:
        box = probe["charts"][cid]
        assert box["loaded"], f"{cid} did not decode"
        assert box["w"] >= min(width - 80, 600) * 0.8 and box["h"] > 60, (cid, box)
        x0, y0 = int(box["x"]), int(box["y"])
        x1, y1 = int(box["x"] + box["w"]), int(box["y"] + box["h"])
        assert y1 <= img.shape[0], f"{cid} is below the screenshot; make the window taller"
        crop = img[y0:y1, x0:x1]
        ink = (crop < 200).mean()
        assert crop.std() > 15 and ink > 0.02, f"{cid} looks blank (std {crop.std():.1f})"
    # Between charts the page background is plain: the probe boxes are where the charts are.
    assert img[5:15, :].std() < 5
