"""`posture analyze VIDEO`: the monitor's decisions on a generated clip, stored as a session."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import write_clip

from posture.cli import main
from posture.testing import moving_photo_clip, sitting_side_dir

SITTING = sitting_side_dir()
FPS = 5.0

pytestmark = pytest.mark.skipif(not SITTING.is_dir(), reason="sitting-side photos not found")


def _photo(label: str) -> np.ndarray:
    """Session 20241012: the same person at the same desk, clearly upright or head forward."""
    rows = list(csv.DictReader(open(SITTING / "labels.csv")))

    def clear(r: dict[str, str]) -> bool:
        angle = float(r["annotated_head_shoulder_angle_deg"])
        return angle > 70 if label == "good" else angle < 40

    name = next(
        r["file"] for r in rows if r["label"] == label and r["session"] == "20241012" and clear(r)
    )
    return cv2.imread(str(SITTING / name))


def _still_clip(path: Path, seconds: int, *, seed: int) -> Path:
    """A good sitter holding still (a little camera shake) for `seconds`, written to `path`."""
    frames = moving_photo_clip(_photo("good"), n=int(seconds * FPS), size=(240, 240), seed=seed)
    return write_clip(frames, path, FPS)


@pytest.fixture(scope="module")
def slouch_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    good, bad = _photo("good"), _photo("bad")
    frames = (
        moving_photo_clip(good, n=int(20 * FPS), size=(360, 360), seed=1)
        + moving_photo_clip(bad, n=int(45 * FPS), size=(360, 360), seed=2)
        + moving_photo_clip(good, n=int(25 * FPS), size=(360, 360), seed=3)
    )
    path = write_clip(frames, tmp_path_factory.mktemp("clips") / "slouch.avi", FPS)
    return path


def test_analyze_finds_the_episode_and_nudges_in_time(
    slouch_clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite3"
    code = main(
        [
            "analyze",
            str(slouch_clip),
            "--json",
            "--model",
            str(model_path),
            "--db",
            str(db),
            "--report",
            "html",
            "--out",
            str(tmp_path / "r.html"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    frames = doc["frames"]
    assert {"t", "person", "view", "metrics", "state", "faults"} <= set(frames[0])
    seen = [f for f in frames if f["person"]]
    assert sum(f["view"].startswith("side") for f in seen) >= 0.9 * len(seen)
    s = doc["summary"]
    assert s["seconds"] == pytest.approx(90.0, abs=0.5)
    assert set(s["share"]) == {"good", "slouching", "away", "unknown"}
    assert set(s["fault_minutes"]) == {
        "forward_head",
        "head_drop",
        "rounded_shoulders",
        "leaning_in",
        "head_tilt",
    }
    # exactly one episode: the head went forward at 20 s and came back at 65 s
    assert len(s["episodes"]) == 1, s["episodes"]
    ep = s["episodes"][0]
    assert "forward_head" in ep["faults"]
    assert 19.0 <= ep["start"] <= 22.0
    assert 65.0 <= ep["end"] <= 76.0  # recovery needs 8 of 10 s good
    nudges = [a for a in s["alerts"] if a["kind"] == "nudge"]
    assert len(nudges) == 1
    assert 30.0 <= nudges[0]["t"] - ep["start"] <= 45.0, "first nudge 30-45 s after the fault began"
    assert "Head forward" in nudges[0]["text"]
    # slouching from the moment the episode is confirmed until recovery; never before it began
    assert 0.2 <= s["share"]["slouching"] <= 0.6
    assert s["fault_minutes"]["forward_head"] > 0.3
    assert all(f["state"] != "slouching" for f in frames if f["t"] < 19.0)
    # the same decisions, stored as an `analyze` session
    with sqlite3.connect(db) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM sessions")]
        n_ep = conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
        n_alerts = conn.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'nudge'").fetchone()[0]
    assert kinds == ["analyze"] and n_ep == 1 and n_alerts == 1
    html = (tmp_path / "r.html").read_text()
    assert 'id="chart-timeline"' in html and "data:image/png;base64," in html


def test_a_video_that_ends_mid_slouch_keeps_the_episode_whole(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the episode is still running at the end of the file (as at Ctrl-C in the monitor): its
    # end, peak and mean deviation used to be lost, known only to the judge
    good, bad = _photo("good"), _photo("bad")
    frames = moving_photo_clip(good, n=int(10 * FPS), size=(360, 360), seed=1) + moving_photo_clip(
        bad, n=int(50 * FPS), size=(360, 360), seed=2
    )
    path = write_clip(frames, tmp_path / "ends_slouched.avi", FPS)
    db = tmp_path / "h.sqlite3"
    code = main(["analyze", str(path), "--json", "--model", str(model_path), "--db", str(db)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    (ep,) = doc["summary"]["episodes"]
    assert 9.0 <= ep["start"] <= 12.0 and 58.0 <= ep["end"] <= 60.0
    with sqlite3.connect(db) as conn:
        (start, end, metric, peak, mean) = conn.execute(
            "SELECT e.start_unix - s.start_unix, e.end_unix - s.start_unix, metric, "
            "peak_deviation, mean_deviation FROM episodes e JOIN sessions s ON s.id = e.session_id"
        ).fetchone()
        (recovery_s,) = conn.execute(
            "SELECT recovery_s FROM alerts WHERE kind = 'nudge'"
        ).fetchone()
    assert (start, end) == (
        pytest.approx(ep["start"], abs=0.01),
        pytest.approx(ep["end"], abs=0.01),
    )
    assert metric == "cva_deg" and peak >= mean > 0.0  # positive: worse than the norm
    assert recovery_s is None  # the video ended; the sitter never sat up
    # without a history the same frames give the same decisions (the episode ended at the
    # end of the file, not where the last faulty look stopped counting)
    argv = ["analyze", str(path), "--json", "--model", str(model_path), "--no-store"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["episodes"] == [ep]


def test_truncated_video_keeps_what_was_read(
    slouch_clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = slouch_clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])
    db = tmp_path / "h.sqlite3"
    code = main(["analyze", str(cut), "--json", "--model", str(model_path), "--db", str(db)])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0
    assert 10.0 <= doc["summary"]["seconds"] <= 40.0
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
        (end,) = conn.execute("SELECT end_unix FROM sessions").fetchone()
    assert n >= 10 and end is not None


def test_the_video_ends_at_its_end_not_at_the_last_look(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a still good sitter: after the first look's burst the rate is 0.5 fps, so the last look
    # falls up to 2 s before the end of the file
    path = _still_clip(tmp_path / "still.avi", 30, seed=4)
    db = tmp_path / "h.sqlite3"
    code = main(["analyze", str(path), "--json", "--model", str(model_path), "--db", str(db)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    last_look = doc["frames"][-1]["t"]
    assert last_look < 30.0 - 1.5 / FPS  # not the last frame: the case this is about
    assert doc["summary"]["seconds"] == pytest.approx(30.0, abs=1e-6)
    with sqlite3.connect(db) as conn:
        (start, end) = conn.execute("SELECT start_unix, end_unix FROM sessions").fetchone()
    assert end - start == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize("command", ["analyze", "monitor"])
def test_a_configured_hold_covers_the_stored_time_between_slow_looks(
    model_path: Path, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # looks 5 s apart need judge.max_hold_s 5; the store used to credit each look 3 s at most
    # (its own default), so 20 of these 60 s went missing from the history
    path = _still_clip(tmp_path / "still.avi", 60, seed=5)
    config = tmp_path / "config.toml"
    config.write_text("[monitor]\nmin_fps = 0.2\n\n[judge]\nmax_hold_s = 5.0\n", "utf-8")
    db = tmp_path / "h.sqlite3"
    common = ["--config", str(config), "--model", str(model_path), "--db", str(db)]
    if command == "analyze":
        code = main(["analyze", str(path), "--json", *common])
    else:
        code = main(
            ["monitor", "--source", str(path), *common, "--no-notify", "--no-control", "--fast"]
        )
    capsys.readouterr()
    assert code == 0
    with sqlite3.connect(db) as conn:
        (stored_s,) = conn.execute(
            "SELECT SUM(good_s + slouching_s + away_s + unknown_s) FROM samples"
        ).fetchone()
        (longest_gap_s,) = conn.execute(
            "SELECT MAX(t_unix - prev) FROM (SELECT t_unix, LAG(t_unix) OVER (ORDER BY t_unix) "
            "AS prev FROM samples WHERE cva_deg IS NOT NULL)"
        ).fetchone()
    assert longest_gap_s >= 4  # the slow looks this is about
    assert stored_s == pytest.approx(60.0, abs=0.05)


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 100])
def test_unreadable_video_is_a_clear_error(
    content: bytes, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    code = main(["analyze", str(bad), "--model", str(model_path), "--db", str(tmp_path / "h.db")])
    _, err = capsys.readouterr()
    assert code == 1
    assert "broken.mp4" in err


def _tile(html: str, key: str) -> str:
    """The value of one summary tile of the HTML report."""
    marker = f'<div class="k">{key}</div><div class="v">'
    assert marker in html, key
    return html.split(marker, 1)[1].split("</div>", 1)[0]


def test_the_html_report_covers_only_this_video(
    slouch_clip: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the report read every `analyze` session near this run's start, so a slouched video analysed
    # just before lent its episode and nudge to an upright one
    upright = _still_clip(tmp_path / "upright.avi", 15, seed=6)
    common = ["--model", str(model_path), "--db", str(tmp_path / "h.sqlite3")]
    assert main(["analyze", str(slouch_clip), *common]) == 0
    report = tmp_path / "up.html"
    code = main(["analyze", str(upright), *common, "--report", "html", "--out", str(report)])
    _, err = capsys.readouterr()
    assert code == 0, err
    html = report.read_text()
    assert _tile(html, "Slouch episodes") == "0"
    assert _tile(html, "Nudges / escalations") == "0 / 0"
    assert _tile(html, "Monitored") == "0 min"  # 15 s, not the 90 s of the other video


def test_a_fast_replay_is_kept_apart_from_the_day_s_monitoring(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `monitor --fast` dates a file by its own time from the start, so its rows run ahead of the
    # clock (a minute of video stored within seconds): it used to count in today's report, and
    # a real monitor started just after would overlap it
    path = _still_clip(tmp_path / "still.avi", 20, seed=6)
    db = tmp_path / "h.sqlite3"
    argv = ["--model", str(model_path), "--db", str(db), "--no-notify", "--no-control", "--fast"]
    assert main(["monitor", "--source", str(path), *argv]) == 0
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["empty"] is True
    assert (
        "1 analysed video in that time is kept apart: `posture analyze VIDEO --report html`"
        in (doc["message"])
    )
    with sqlite3.connect(db) as conn:
        kinds = conn.execute("SELECT kind FROM sessions").fetchall()
        total = "SELECT SUM(good_s + slouching_s + away_s + unknown_s) FROM samples"
        (stored_s,) = conn.execute(total).fetchone()
    assert kinds == [("analyze",)]  # as `posture analyze` keeps it: whole, but apart
    assert stored_s == pytest.approx(20.0, abs=0.5)
