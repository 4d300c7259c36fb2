"""Image statistics behind "can't see you": exact values, every channel layout, and the issues
they raise on dark, uniform and frozen frames."""

from __future__ import annotations

import numpy as np
import pytest

from posture.core import quality
from posture.testing import sensor_noise


@pytest.mark.parametrize("shape", [(480, 640, 3), (481, 643, 3), (100, 90, 4), (50, 70), (9, 9, 1)])
def test_image_stats_equal_the_plain_channel_mean_of_every_8th_pixel(
    shape: tuple[int, ...],
) -> None:
    image = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    sub = image[::8, ::8]
    expected = sub.mean(axis=2, dtype=np.float64) if sub.ndim == 3 else sub.astype(np.float64)
    stats = quality.image_stats(image)
    assert stats.thumb.dtype == np.float64
    np.testing.assert_array_equal(stats.thumb, expected)
    # the variance from sums, not np.std's passes: the same to well below a grey level
    assert stats.mean_luma == pytest.approx(float(expected.mean()), rel=1e-12)
    assert stats.std_luma == pytest.approx(float(expected.std()), rel=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_image_stats_do_not_change_the_frame(dtype: type) -> None:
    # float64 too, the thumbnail's own dtype: there a conversion may return a view of the
    # caller's pixels, which the in-place sums would then change
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3)).astype(dtype)
    before = image.copy()
    quality.image_stats(image)
    np.testing.assert_array_equal(image, before)


def test_dark_blank_frozen_and_usable_frames() -> None:
    rng = np.random.default_rng(2)
    live = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert quality.image_issue(quality.image_stats(np.zeros_like(live)), False) == "dark"
    grey = np.full_like(live, 128)
    assert quality.image_issue(quality.image_stats(grey), False) == "blank"
    stats = quality.image_stats(live)
    assert quality.image_issue(stats, False) == ""
    assert quality.image_issue(stats, True) == "frozen"
    freeze = quality.FreezeDetector()
    # identical since the second frame (0.5 s): frozen once that lasted 5 s
    assert not any(freeze.update(t * 0.5, stats.thumb) for t in range(11))
    assert freeze.update(5.5, stats.thumb)
    noisy = quality.image_stats(np.clip(live + rng.normal(0, 3, live.shape), 0, 255).astype("u1"))
    assert not freeze.update(6.0, noisy.thumb), "a live sensor's noise is not a freeze"


def test_sensor_noise_rounds_so_the_picture_keeps_its_brightness() -> None:
    # truncating with astype alone would darken a mid-grey frame by about half a grey level
    grey = np.full((120, 160, 3), 100, dtype=np.uint8)
    out = sensor_noise(grey, 4.0, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == grey.shape
    assert abs(float(out.mean()) - 100.0) < 0.05
    assert 3.5 < float(out.std()) < 4.5
    # clipped at black and white, not wrapped round (black would turn partly white)
    black = sensor_noise(np.zeros((100, 100), np.uint8), 4.0, np.random.default_rng(1))
    white = sensor_noise(np.full((100, 100), 255, np.uint8), 4.0, np.random.default_rng(1))
    assert black.max() < 30 and (black == 0).mean() > 0.4
    assert white.min() > 225 and (white == 255).mean() > 0.4
