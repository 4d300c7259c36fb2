"""One Euro filter: maths against a scalar reference, NaN handling, time contract, smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture.core.errors import ConfigError
from posture.core.filters import (
    OneEuroParams,
    OneEuroState,
    one_euro_filter_series,
    one_euro_step,
)

pytestmark = pytest.mark.filterwarnings("error")


def reference_one_euro(
    xs: list[float], ts: list[float], mincut: float, beta: float, dcut: float
) -> list[float]:
    """Casiez et al.'s algorithm written out for one scalar signal, as in the paper."""

    def alpha(dt: float, fc: float) -> float:
        tau = 1.0 / (2 * math.pi * fc)
        return 1.0 / (1.0 + tau / dt)

    out: list[float] = []
    x_prev = dx_prev = t_prev = None
    for x, t in zip(xs, ts, strict=True):
        if x_prev is None:
            x_prev, dx_prev, t_prev = x, 0.0, t
            out.append(x)
            continue
        dt = t - t_prev
        dx = (x - x_prev) / dt
        a_d = alpha(dt, dcut)
        dx_hat = a_d * dx + (1 - a_d) * dx_prev
        a = alpha(dt, mincut + beta * abs(dx_hat))
        x_hat = a * x + (1 - a) * x_prev
        out.append(x_hat)
        x_prev, dx_prev, t_prev = x_hat, dx_hat, t
    return out


def test_matches_scalar_reference_on_uneven_times() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.01, 0.1, 200))
    x = np.sin(t) * 10 + rng.normal(0, 1, t.size)
    p = OneEuroParams(min_cutoff_hz=0.5, beta=0.1, d_cutoff_hz=1.0)
    ours = one_euro_filter_series(x, t, p)
    ref = reference_one_euro(list(x), list(t), 0.5, 0.1, 1.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_vectorised_over_metrics_with_per_metric_params() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(100) / 30
    x = rng.normal(0, 1, (100, 3)) + np.array([50.0, 0.5, -3.0])
    mincut = np.array([0.2, 1.0, 3.0])
    beta = np.array([0.0, 0.05, 0.5])
    out = one_euro_filter_series(x, t, OneEuroParams(min_cutoff_hz=mincut, beta=beta))
    for k in range(3):
        ref = reference_one_euro(list(x[:, k]), list(t), mincut[k], beta[k], 0.3)
        np.testing.assert_allclose(out[:, k], ref, rtol=1e-12)


def test_nan_passes_through_and_keeps_state() -> None:
    p = OneEuroParams()
    s = OneEuroState.initial(2)
    y, s = one_euro_step(s, np.array([10.0, 5.0]), 0.0, p)
    assert list(y) == [10.0, 5.0]
    y, s1 = one_euro_step(s, np.array([np.nan, 6.0]), 0.1, p)
    assert math.isnan(y[0]) and 5.0 < y[1] < 6.0
    assert s1.x_hat[0] == 10.0 and s1.t_s[0] == 0.0  # metric 0's state untouched
    # after the gap, metric 0 continues as if the NaN sample never happened (dt spans the gap)
    y_after_gap, _ = one_euro_step(s1, np.array([11.0, 6.0]), 0.2, p)
    y_direct, _ = one_euro_step(s, np.array([11.0, 6.0]), 0.2, p)
    assert y_after_gap[0] == y_direct[0]


def test_all_nan_from_the_start_then_first_value_passes_unchanged() -> None:
    s = OneEuroState.initial(3)
    for i in range(5):
        y, s = one_euro_step(s, np.full(3, np.nan), i * 0.1)
        assert np.isnan(y).all()
    y, s = one_euro_step(s, np.array([1.0, np.inf, 3.0]), 1.0)
    assert y[0] == 1.0 and math.isnan(y[1]) and y[2] == 3.0


def test_time_must_increase_and_bad_input_leaves_state() -> None:
    s = OneEuroState.initial(1)
    _, s = one_euro_step(s, np.array([1.0]), 1.0)
    for bad_t in (1.0, 0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="t_s"):
            one_euro_step(s, np.array([2.0]), bad_t)
    with pytest.raises(ValueError, match="2 values for a filter of 1"):
        one_euro_step(s, np.array([2.0, 3.0]), 2.0)
    assert s.last_t_s == 1.0 and s.x_hat[0] == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"min_cutoff_hz": 0.0}, {"min_cutoff_hz": -1.0}, {"d_cutoff_hz": math.nan}, {"beta": -0.1}],
)
def test_bad_params_raise_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="One Euro filter"):
        OneEuroParams(**kwargs)


def test_smooths_jitter_and_follows_a_step() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(900) / 30
    truth = np.where(t < 15, 50.0, 40.0)
    noisy = truth + rng.normal(0, 1.0, t.size)
    out = one_euro_filter_series(noisy, t, OneEuroParams())
    rest = slice(150, 440)
    assert np.std(out[rest]) < 0.5 * np.std(noisy[rest])
    assert abs(np.mean(out[600:]) - 40.0) < 0.3  # settled within 5 s of the step


@settings(max_examples=50, deadline=None)
@given(
    xs=st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3)), min_size=1, max_size=40),
    dts=st.lists(st.floats(1e-3, 5.0), min_size=40, max_size=40),
)
def test_property_output_bounded_and_nan_exactly_where_input_nan(
    xs: list[float | None], dts: list[float]
) -> None:
    x = np.array([np.nan if v is None else v for v in xs])
    t = np.cumsum(dts[: x.size])
    y = one_euro_filter_series(x, t, OneEuroParams(min_cutoff_hz=0.5, beta=0.1))
    assert np.array_equal(np.isnan(y), np.isnan(x))
    finite = x[np.isfinite(x)]
    if finite.size:
        assert np.all(y[np.isfinite(y)] >= finite.min() - 1e-9)
        assert np.all(y[np.isfinite(y)] <= finite.max() + 1e-9)
