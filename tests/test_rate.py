"""The adaptive analysis rate: fast while something happens, slow for a steady good sitter, and
not fooled by landmark noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posture.core.events import Verdict
from posture.core.rate import AdaptiveRate, RateConfig, key_metric

FAST = RateConfig().max_fps
"""The default `max_fps`: what the rate goes to while something is happening."""


def _run(values: list[float], *, state: str = "good", busy: bool = False) -> list[float]:
    """Feed one look per analysed frame at the rate's own pace; returns the fps used each time."""
    rate = AdaptiveRate(RateConfig(min_fps=1.0))
    t, fps = 0.0, []
    for v in values:
        dt = rate.next_interval_s(t, state=state, busy=busy, key_metric=v)
        fps.append(1.0 / dt)
        t += dt
    return fps


def test_steady_good_sitter_relaxes_to_min_fps_after_settle() -> None:
    fps = _run([60.0] * 80)
    assert fps[0] == 1.0  # nothing has happened yet: no start-up kick without kick()
    rate = AdaptiveRate(RateConfig(min_fps=1.0))
    rate.kick(0.0)
    t, seen = 0.0, []
    for _ in range(80):
        dt = rate.next_interval_s(t, state="good", busy=False, key_metric=60.0)
        seen.append((t, 1.0 / dt))
        t += dt
    assert all(f == FAST for t_s, f in seen if t_s < 10.0)
    assert all(f == 1.0 for t_s, f in seen if t_s >= 10.0)


def test_landmark_noise_does_not_keep_the_rate_high() -> None:
    # a still sitter: CVA estimate noise of 1.1 deg SD, independent between looks
    noise = np.random.default_rng(0).normal(60.0, 1.1, 300).tolist()
    fps = _run(noise)
    assert np.mean(np.array(fps) == 1.0) > 0.9


def test_a_real_change_of_posture_speeds_up_after_confirm_s() -> None:
    fps = _run([60.0] * 20 + [52.0] * 20)
    assert fps[20:22] == [1.0, 1.0]  # looks beyond the band may be noise...
    assert fps[22] == FAST  # ...until they have stayed there for confirm_s (2 s)


def test_noise_alternating_around_the_band_is_not_movement() -> None:
    assert set(_run([60.0] * 5 + [57.5, 62.5] * 20)) == {1.0}


def test_moving_while_an_episode_runs_is_left_to_the_judge() -> None:
    # a sitter shifting in and out of a slouch: 3 s up every 13 s. The first look up opens the
    # judge's recovery window (busy); once used, the episode's blips are not "moving"
    values = ([50.0] * 10 + [60.0] * 3) * 6
    assert set(_run(values, state="slouching")) == {1.0}
    assert FAST in _run(values, state="good")  # the same moves outside an episode are followed


@pytest.mark.parametrize("state", ["good", "slouching"])
def test_something_to_follow_keeps_max_fps(state: str) -> None:
    assert set(_run([60.0] * 30, state=state, busy=True)) == {FAST}


def _states(
    states: list[tuple[float, str]], *, busy: bool = False
) -> list[tuple[float, str, float]]:
    """Looks at the rate's own pace through (from_s, state) stretches: (t, state, fps) each."""
    rate = AdaptiveRate(RateConfig(min_fps=0.5))
    t, out = 0.0, []
    while t < states[-1][0] + 60.0:
        state = [s for start, s in states if start <= t][-1]
        dt = rate.next_interval_s(t, state=state, busy=busy, key_metric=60.0)
        out.append((t, state, 1.0 / dt))
        t += dt
    return out


def test_a_change_of_state_is_followed_fast_for_settle_s_then_slowly() -> None:
    looks = _states([(0.0, "good"), (100.0, "unknown"), (200.0, "good")])
    assert all(f == 0.5 for t, s, f in looks if t < 100.0)  # a steady sitter
    # a person the model cannot measure (or a dark image): fast while it is new...
    first_unknown = min(t for t, s, _ in looks if s == "unknown")
    assert first_unknown <= 102.0
    assert all(f == FAST for t, s, f in looks if first_unknown <= t < first_unknown + 10.0)
    # ...slow when it lasts, and fast again once the sitter is measurable
    assert all(f == 0.5 for t, s, f in looks if first_unknown + 10.0 <= t < 200.0)
    back = min(t for t, s, _ in looks if s == "good" and t >= 200.0)
    assert back <= 202.0
    assert all(f == FAST for t, s, f in looks if back <= t < back + 10.0)
    assert all(f == 0.5 for t, s, f in looks if t >= back + 10.0)


def test_an_empty_desk_is_watched_at_min_fps() -> None:
    looks = _states([(0.0, "good"), (20.0, "unknown"), (35.0, "away"), (600.0, "good")])
    away = [(t, f) for t, s, f in looks if s == "away"]
    assert away and {f for _, f in away} == {0.5}  # at once, not after settle_s
    assert len(away) == pytest.approx((600.0 - 35.0) * 0.5, abs=2)
    back = min(t for t, s, _ in looks if s == "good" and t >= 600.0)
    assert back - 600.0 <= 2.0  # the return is seen within 1 / min_fps...
    assert all(f == FAST for t, s, f in looks if back <= t < back + 10.0)  # ...and followed


def test_away_wins_over_a_stale_fault() -> None:
    # an episode's faults end with `away` (judge); the rate does not wait for them
    assert {f for _, s, f in _states([(0.0, "away")], busy=True)} == {0.5}


def test_missing_key_metric_is_not_movement() -> None:
    assert set(_run([math.nan, 60.0, math.nan] * 10)) == {1.0}


def test_not_adaptive_always_max_fps() -> None:
    rate = AdaptiveRate(RateConfig(adaptive=False))
    assert rate.next_interval_s(0.0, state="good", busy=False) == pytest.approx(1 / FAST)


@pytest.mark.parametrize(
    "kw",
    [{"confirm_s": -1.0}, {"reference_weight": 0.0}, {"reference_weight": 1.5}, {"min_fps": 0.0}],
)
def test_bad_config_raises(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateConfig(**kw)  # type: ignore[arg-type]


def test_default_idle_rate_survives_look_to_look_noise() -> None:
    """At the default 0.5 fps the smoothed CVA moves 2-3 deg between looks on a still sitter."""
    rng = np.random.default_rng(7)
    rate = AdaptiveRate(RateConfig())
    t, fps = 0.0, []
    for _ in range(400):
        value = 78.0 + rng.normal(0.0, 1.5)
        dt = rate.next_interval_s(t, state="good", busy=False, key_metric=value)
        fps.append(1.0 / dt)
        t += dt
    assert np.mean(np.array(fps) == 0.5) > 0.9


def test_default_rate_catches_a_real_change_within_three_looks() -> None:
    rate = AdaptiveRate(RateConfig())
    t = 0.0
    for _ in range(20):
        t += rate.next_interval_s(t, state="good", busy=False, key_metric=80.0)
    looks = 0
    while rate.next_interval_s(t, state="good", busy=False, key_metric=74.0) == 2.0 and looks < 9:
        t += 2.0
        looks += 1
    assert looks <= 2  # the third look beyond the band speeds up


def _idle_run(
    values: list[float], config: RateConfig | None = None
) -> tuple[list[float], AdaptiveRate]:
    rate = AdaptiveRate(config or RateConfig())
    t, fps = 0.0, []
    for v in values:
        dt = rate.next_interval_s(t, state="good", busy=False, key_metric=v)
        fps.append(1.0 / dt)
        t += dt
    return fps, rate


def test_a_noisy_tracker_widens_the_band_instead_of_kicking_the_rate_up() -> None:
    """3 deg SD between looks (measured on the bench's steady photo at 0.5 fps)."""
    looks = (78.0 + np.random.default_rng(11).normal(0.0, 3.0, 600)).tolist()
    fps, rate = _idle_run(looks)
    assert np.mean(np.array(fps[60:]) == 0.5) > 0.95
    assert 3.0 < rate.band_deg <= 6.0
    fixed, _ = _idle_run(looks, RateConfig(noise_band_k=1e-6))  # the old fixed 2 deg band
    assert np.mean(np.array(fixed[60:]) == 0.5) < 0.9, "the same noise kept a fixed band busy"


def test_quiet_sitter_keeps_a_narrow_band() -> None:
    rng = np.random.default_rng(12)
    _, rate = _idle_run((78.0 + rng.normal(0.0, 0.5, 300)).tolist())
    assert rate.band_deg == 2.0


def test_a_large_change_is_caught_even_through_heavy_noise() -> None:
    rng = np.random.default_rng(13)
    steady = (80.0 + rng.normal(0.0, 3.0, 100)).tolist()
    moved = (68.0 + rng.normal(0.0, 3.0, 20)).tolist()
    fps, _ = _idle_run(steady + moved)
    first_fast = next(i for i, f in enumerate(fps[100:]) if f == FAST)
    assert first_fast <= 5, "a 12 deg change shows within a few looks"


def test_a_slow_drift_does_not_widen_its_own_band() -> None:
    """1 deg of noise and 0.5 deg more forward every look (2 s): 30 deg over two minutes."""
    rng = np.random.default_rng(14)
    steady = (80.0 + rng.normal(0.0, 1.0, 100)).tolist()
    drift = (80.0 - 0.5 * np.arange(1, 61) + rng.normal(0.0, 1.0, 60)).tolist()
    fps, rate = _idle_run(steady + drift)
    assert FAST in fps[100:], "the drift counts as movement"
    assert rate.band_deg < 3.0


def test_looks_of_a_fast_burst_do_not_shrink_the_noise_estimate() -> None:
    rate = AdaptiveRate(RateConfig())
    rng = np.random.default_rng(15)
    t = 0.0
    for _ in range(100):
        t += rate.next_interval_s(t, state="good", busy=False, key_metric=80 + rng.normal(0, 3))
    before = rate.band_deg
    for _ in range(100):  # 5 fps looks of a smoothed, nearly constant metric
        rate.next_interval_s(t, state="good", busy=True, key_metric=80.0)
        t += 0.2
    assert rate.band_deg == before


@pytest.mark.parametrize(
    "kw",
    [
        {"noise_band_k": math.nan},
        {"noise_band_k": 0.0},
        {"max_change_deg": math.nan},
        {"max_change_deg": 1.0},
        {"noise_weight": 0.0},
    ],
)
def test_bad_noise_settings_raise(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        RateConfig(**kw)  # type: ignore[arg-type]


def test_a_slouch_that_goes_on_is_looked_at_slowly_once_its_episode_has_started() -> None:
    looks = _states([(0.0, "good"), (50.0, "slouching"), (400.0, "good")])
    start = min(t for t, s, _ in looks if s == "slouching")
    assert all(f == FAST for t, s, f in looks if start <= t < start + 10.0)  # the change
    assert all(f == 0.5 for t, s, f in looks if start + 10.0 <= t < 400.0)


def test_a_deciding_fault_is_followed_while_it_decides_and_no_longer() -> None:
    rate = AdaptiveRate(RateConfig(min_fps=0.5))
    fault = ("forward_head",)
    # a slouch going on: seen and active, but no window is deciding it
    going_on = Verdict(t_s=0.0, state="slouching", instant_faults=fault, active_faults=fault)
    assert rate.after(going_on, {"cva_deg": 45.0}) == 2.0
    # a window deciding it: fast whatever the look shows (here: nothing)...
    deciding = Verdict(t_s=2.0, state="slouching", active_faults=fault, deciding_faults=fault)
    assert rate.after(deciding, {"cva_deg": 45.0}) == pytest.approx(1 / FAST)
    # ...and slow at once when it closes: its length was the hold
    assert rate.after(Verdict(t_s=2.2, state="slouching"), {"cva_deg": 45.0}) == 2.0


def test_key_metric_is_the_cva_estimate_else_the_neck_angle() -> None:
    assert key_metric({"cva_deg": 52.0, "neck_angle_deg": 70.0}) == 52.0
    assert key_metric({"cva_deg": math.nan, "neck_angle_deg": 70.0}) == 70.0
    assert math.isnan(key_metric({"cva_deg": math.nan, "neck_angle_deg": math.nan}))
    assert math.isnan(key_metric({}))


def test_after_reads_the_verdict_and_the_metrics() -> None:
    rate = AdaptiveRate(RateConfig(min_fps=0.5))
    calm = Verdict(t_s=0.0, state="good")
    assert rate.after(calm, {"cva_deg": 60.0}) == 2.0
    fault = ("forward_head",)
    building = Verdict(t_s=2.0, state="good", instant_faults=fault, deciding_faults=fault)
    assert rate.after(building, {"cva_deg": 45.0}) == 1 / FAST
    assert rate.after(Verdict(t_s=2.2, state="good"), {"cva_deg": 60.0}) == 2.0
    # a change of state holds max_fps for settle_s
    assert rate.after(Verdict(t_s=4.2, state="unknown"), {}) == 1 / FAST
    assert rate.after(Verdict(t_s=14.1, state="unknown"), {}) == 1 / FAST
    assert rate.after(Verdict(t_s=14.3, state="unknown"), {}) == 2.0
