"""The time policy: seconds -> samples (half up), seconds -> frames (snapped), file format."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diarefine.core.time import (
    DECIMALS,
    SNAP,
    first_frame,
    format_time,
    frame_start,
    to_samples,
    to_seconds,
)

# ---------------------------------------------------------------- seconds <-> samples


@pytest.mark.parametrize(
    ("seconds", "sample_rate", "expected"),
    [
        (0.0, 16000, 0),
        (1.0, 16000, 16000),
        (0.5, 16000, 8000),
        # exact ties (binary-exact products) go up
        (0.25, 2, 1),       # 0.5 samples -> 1
        (0.75, 2, 2),       # 1.5 samples -> 2
        (1.25, 2, 3),       # 2.5 samples -> 3 (banker's rounding would give 2)
        (0.0625, 8, 1),     # 0.5 samples
        # half up means towards +inf for negative times too
        (-0.25, 2, 0),      # -0.5 samples -> 0
        (-0.75, 2, -1),     # -1.5 samples -> -1
        (-1.0, 2, -2),
        # just below / above a tie
        (0.2499, 2, 0),     # 0.4998 samples
        (0.2501, 2, 1),     # 0.5002 samples
        # 1.0005 s * 1000 Hz = 1000.5 samples (the product rounds to exactly 1000.5)
        (1.0005, 1000, 1001),
        (1.0, 44100, 44100),
        (0.01, 16000, 160),
    ],
)
def test_to_samples_rounds_half_up(seconds: float, sample_rate: int, expected: int) -> None:
    result = to_samples(seconds, sample_rate)
    assert result == expected
    assert type(result) is int


def test_to_seconds() -> None:
    assert to_seconds(16000, 16000) == 1.0
    assert to_seconds(8000, 16000) == 0.5
    assert to_seconds(0, 8000) == 0.0
    assert to_seconds(-4, 8) == -0.5
    assert to_seconds(1, 4) == 0.25


@given(
    n=st.integers(min_value=-10**7, max_value=10**7),
    sample_rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
)
def test_samples_seconds_round_trip(n: int, sample_rate: int) -> None:
    assert to_samples(to_seconds(n, sample_rate), sample_rate) == n


@given(
    n=st.integers(min_value=-10**6, max_value=10**6),
    sample_rate=st.sampled_from([1, 2, 8, 1024, 16384]),
)
def test_to_samples_exact_ties_go_up(n: int, sample_rate: int) -> None:
    # (n + 1/2) / sr is exactly representable for these power-of-two rates
    t = (n + 0.5) / sample_rate
    assert t * sample_rate == n + 0.5
    assert to_samples(t, sample_rate) == n + 1


@given(
    a=st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
    b=st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
)
def test_to_samples_monotonic_and_within_half_sample(a: float, b: float) -> None:
    sr = 16000
    lo, hi = min(a, b), max(a, b)
    assert to_samples(lo, sr) <= to_samples(hi, sr)
    # the result is a nearest sample: at most half a sample away (plus float slack)
    assert abs(to_samples(a, sr) - a * sr) <= 0.5 + 1e-6


# ---------------------------------------------------------------- seconds -> frames


def test_first_frame_snaps_binary_near_misses() -> None:
    # (the module docstring's example; in IEEE doubles 1.23 / 0.01 happens to be 123.0)
    assert int(first_frame(1.23, 0.01)) == 123
    # genuine near misses: the float quotient falls just below the integer
    assert 0.29 / 0.01 < 29  # 28.999999999999996
    assert int(first_frame(0.29, 0.01)) == 29
    assert 0.57 / 0.01 < 57  # 56.99999999999999
    assert int(first_frame(0.57, 0.01)) == 57
    # and just above: 0.07 / 0.01 = 7.000000000000001 must not become frame 8
    assert 0.07 / 0.01 > 7
    assert int(first_frame(0.07, 0.01)) == 7


@pytest.mark.parametrize(
    ("t", "step", "start", "expected"),
    [
        (0.0, 0.01, 0.0, 0),
        (0.005, 0.01, 0.0, 1),     # between frames 0 and 1 starts -> frame 1
        (0.01, 0.01, 0.0, 1),
        (0.0149, 0.01, 0.0, 2),
        (-0.001, 0.01, 0.0, 0),    # -0.1 frames -> frame 0
        (-0.011, 0.01, 0.0, -1),   # -1.1 frames -> frame -1
        (0.52, 0.01, 0.5, 2),      # offset grid: (0.52 - 0.5) / 0.01 = 2.0000000000000018
        (0.5, 0.01, 0.5, 0),
        (0.49, 0.01, 0.5, -1),
        (1.0, 0.016, 0.0, 63),     # 62.5 frames -> 63
        (1.0, 0.25, 0.0, 4),
        (1.1, 0.25, 0.0, 5),
    ],
)
def test_first_frame_hand_values(t: float, step: float, start: float, expected: int) -> None:
    assert int(first_frame(t, step, start)) == expected


def test_first_frame_snap_tolerance() -> None:
    step = 0.01
    # 3 frames + 5e-7 frames: within SNAP of 3 -> snapped to frame 3
    assert int(first_frame(0.03 + 0.5 * SNAP * step, step)) == 3
    # 3 frames + 2e-6 frames: beyond SNAP -> the next frame start is the first at/after t
    assert int(first_frame(0.03 + 2 * SNAP * step, step)) == 4
    # just below a frame start, by more than SNAP: still that frame
    assert int(first_frame(0.03 - 2 * SNAP * step, step)) == 3
    # by more than one frame: frame 3 starts at or after t
    assert int(first_frame(0.0299, step)) == 3


def test_first_frame_keeps_shape_and_dtype() -> None:
    t = np.array([[0.0, 0.011], [0.02, 1.23]])
    out = first_frame(t, 0.01)
    assert out.shape == (2, 2)
    assert out.dtype == np.int64
    assert out.tolist() == [[0, 2], [2, 123]]
    assert first_frame([], 0.01).shape == (0,)


@pytest.mark.parametrize("step", [0.01, 0.02, 0.016, 0.1])
def test_first_frame_on_grid_points_is_the_grid_index(step: float) -> None:
    k = np.arange(0, 200_001)
    # both ways of writing a grid time: k * step and k / (1 / step)
    assert np.array_equal(first_frame(k * step, step), k)
    assert np.array_equal(first_frame(frame_start(k, step), step), k)
    # times strictly inside frame k-1 .. k (0.4 frames past frame k-1) -> frame k
    assert np.array_equal(first_frame((k + 0.4) * step, step), k + 1)


def test_first_frame_grid_of_hundredths() -> None:
    # t = k / 100 (how a user writes 1.23 s); every such time is frame k of 10 ms
    k = np.arange(0, 100_001)
    assert np.array_equal(first_frame(k / 100, 0.01), k)
    assert np.array_equal(first_frame(np.array([float(f"{i / 100:.2f}") for i in range(3000)]),
                                      0.01), np.arange(3000))


def test_half_open_interval_covers_frames_brute_force() -> None:
    # [a, b) covers frames first_frame(a) .. first_frame(b) - 1: compare with the frames
    # whose (integer-grid) start lies in [a, b), on a 10 ms grid with a 5 ms offset.
    step, start = 0.01, 0.005
    for ka, kb in [(0, 0), (0, 1), (3, 17), (122, 124), (999, 1500)]:
        a, b = start + ka * step, start + kb * step
        frames = np.arange(first_frame(a, step, start), first_frame(b, step, start))
        assert frames.tolist() == list(range(ka, kb))


@settings(max_examples=300)
@given(
    t=st.floats(min_value=-100.0, max_value=1000.0, allow_nan=False),
    step=st.sampled_from([0.01, 0.02, 0.016, 0.0625]),
    start=st.sampled_from([0.0, 0.005, 1.5]),
)
def test_first_frame_is_the_first_start_at_or_after_t(t: float, step: float, start: float) -> None:
    i = int(first_frame(t, step, start))
    # frame i starts at/after t (up to the snap tolerance) ...
    assert float(frame_start(i, step, start)) >= t - 1.01 * SNAP * step
    # ... and frame i - 1 starts strictly before t
    assert float(frame_start(i - 1, step, start)) < t


def test_frame_start() -> None:
    assert float(frame_start(0, 0.01)) == 0.0
    assert float(frame_start(4, 0.25)) == 1.0
    assert float(frame_start(4, 0.25, start=0.5)) == 1.5
    out = frame_start(np.array([0, 1, 2]), 0.5, start=-1.0)
    assert out.dtype == np.float64
    assert out.tolist() == [-1.0, -0.5, 0.0]


# ---------------------------------------------------------------- file format


@pytest.mark.parametrize(
    ("t", "decimals", "expected"),
    [
        (0.0, 3, "0.000"),
        (1.0, 3, "1.000"),
        (1.5, 3, "1.500"),
        (12.3456, 3, "12.346"),
        (12.3454, 3, "12.345"),
        (1.23, 3, "1.230"),
        (0.0004, 3, "0.000"),
        (0.0006, 3, "0.001"),
        (3600.125, 3, "3600.125"),
        (-1.5, 3, "-1.500"),
        (-0.0006, 3, "-0.001"),
        (1.26, 1, "1.3"),
        (7.0, 0, "7"),
        # no negative zero
        (-0.0, 3, "0.000"),
        (-0.0004, 3, "0.000"),
        (-1e-12, 3, "0.000"),
        (-0.04, 1, "0.0"),
        (-0.4, 0, "0"),
    ],
)
def test_format_time(t: float, decimals: int, expected: str) -> None:
    assert format_time(t, decimals) == expected


def test_format_time_default_is_milliseconds() -> None:
    assert DECIMALS == 3
    assert format_time(2.0) == "2.000"
    assert format_time(-0.0) == "0.000"


@settings(max_examples=300)
@given(t=st.floats(min_value=-1e5, max_value=1e5, allow_nan=False))
def test_format_time_properties(t: float) -> None:
    text = format_time(t)
    assert re.fullmatch(r"-?\d+\.\d{3}", text)
    value = float(text)
    assert abs(value - t) <= 0.0005 + 1e-9
    if value == 0.0:
        assert text == "0.000"
    # sign preserved for anything that does not round to zero
    if value != 0.0:
        assert math.copysign(1.0, value) == math.copysign(1.0, t)
