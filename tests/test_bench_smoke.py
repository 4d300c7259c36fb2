"""`scripts/bench.py --quick` runs end to end with the real model and writes the documented JSON.

Correctness of the benchmark only: tiny runs on a shared machine say nothing about speed, so no
timing is asserted, only that every measurement is present, finite where it must be, and that
each goal carries its value, limit and verdict.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    """scripts/bench.py as a module (for its constants; the run itself is a subprocess)."""
    spec = importlib.util.spec_from_file_location("bench", REPO / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


STAGES = (
    "decode",
    "checks",
    "colour",
    "inference",
    "landmark_copy",
    "geometry_smoothing",
    "judge",
    "store",
    "other",
)
GOALS = (
    "cpu_ratio_vs_naive",
    "cva_agreement_median_abs_deg",
    "pipeline_overhead_share",
    "monitor_cpu_share_of_core",
    "camera_monitor_cpu_share_of_core",
    "away_monitor_cpu_share_of_core",
    "analyze_fps",
    "geometry_batch_us_per_frame",
    "memory_growth_mb",
)


def test_quick_bench_writes_every_measurement_and_goal(
    tmp_path: Path,
    model_path: Path,
    provisioned_lite,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "bench.py"),
            "--quick",
            "--model",
            str(model_path),
            "--lite-model",
            str(provisioned_lite.path),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())

    assert set(STAGES) <= set(doc["stage_ms"])
    assert all(v >= 0 and math.isfinite(v) for v in doc["stage_ms"].values())
    assert doc["stage_ms"]["inference"] > 0
    for key in (
        "ours_cpu_ms_per_frame",
        "naive_cpu_ms_per_frame",
        "analyze_fps",
        "analyze_every_frame_fps",
        "rss_start_mb",
        "rss_end_mb",
        "geometry_single_frame_us",
        "monitor_cpu_share_of_core",
    ):
        assert doc[key] > 0, key
    # the side-view clip gives a CVA estimate in both pipelines on the same frames
    assert doc["cva_frames_compared"] > 0
    assert math.isfinite(doc["cva_agreement_median_abs_deg"])
    # the key landmarks of the two pipelines sit within a few percent of the frame of each other
    assert 0 <= doc["landmark_agreement_median_px"] < 30
    assert 0 <= doc["landmark_naive_self_agreement_median_px"] < 30
    assert doc["cpu_ratio_vs_naive"] == doc["ours_cpu_ms_per_frame"] / doc["naive_cpu_ms_per_frame"]
    # one value per turn of the alternation; a quick run is a single turn, equal to the total
    turns = math.ceil(doc["frames"] / 50)
    assert len(doc["cpu_ratio_per_turn"]) == len(doc["pipeline_overhead_per_turn"]) == turns
    if turns == 1:
        assert abs(doc["cpu_ratio_per_turn"][0] - doc["cpu_ratio_vs_naive"]) < 1e-3
        assert abs(doc["pipeline_overhead_per_turn"][0] - doc["pipeline_overhead_share"]) < 1e-3
    assert doc["analyze_frames_read"] >= doc["analyze_frames_analysed"] >= 1
    assert doc["monitor_exit_code"] == 0
    assert "stopped by end of source" in doc["monitor_output_tail"][-1]
    assert doc["camera_monitor_exit_code"] == 0
    assert "decoded" in doc["camera_monitor_output_tail"][-1]
    # the empty desk: the monitor ran on it and saw nobody (away only after 15 s: a full run)
    assert doc["away_monitor_exit_code"] == 0 and doc["away_monitor_cpu_share_of_core"] > 0
    assert "no person" in doc["away_monitor_output_tail"][0], doc["away_monitor_output_tail"]
    # the slouched sitter (a labelled photo): its forward head is seen (an episode needs 30 s)
    if _bench().slouch_photo_path().is_file():  # the bench skips the slouch without it
        assert doc["slouch_monitor_exit_code"] == 0
        assert doc["slouch_monitor_cpu_share_of_core"] > 0
        tail = doc["slouch_monitor_output_tail"]
        assert "forward head" in tail[0], tail
        # the restless slouch: the same photo after the good one, the monitor ran through it
        assert doc["restless_monitor_exit_code"] == 0
        assert doc["restless_monitor_cpu_share_of_core"] > 0
        assert "decoded" in doc["restless_monitor_output_tail"][-1]

    # what dropping the segmentation head buys: both models on the same frames, same landmarks
    head = doc["segmentation_head"]
    assert head["lean_ms"] > 0 and head["stock_ms"] > 0
    assert math.isclose(head["lean_vs_stock"], head["lean_ms"] / head["stock_ms"], rel_tol=1e-9)
    assert head["ops_kept"] == 286 and head["ops_in_model"] == 332
    assert head["identical_share"] == 1.0

    # the lite comparison: our side on lite, the naive side on full, a real separate run
    lite = doc["lite"]
    assert 0 < lite["inference_ms"] and 0 < lite["inference_vs_full"]
    assert lite["naive_cpu_ms_per_frame"] > lite["inference_ms"]
    assert (
        lite["cpu_ratio_vs_naive"] == lite["ours_cpu_ms_per_frame"] / lite["naive_cpu_ms_per_frame"]
    )
    assert math.isfinite(lite["cva_agreement_median_abs_deg"])
    assert 0 <= lite["landmark_agreement_median_px"] < 30
    assert re.search(r"^lite\s+ours_cpu_ms_per_frame=", proc.stdout, re.M), proc.stdout

    assert set(doc["goals"]) == set(GOALS)
    for g in doc["goals"].values():
        assert isinstance(g["met"], bool)
        assert g["goal"].split()[0] in ("<=", "<", ">=")
    # the printed table ends with the goals, one line each
    assert all(name in proc.stdout for name in GOALS)
