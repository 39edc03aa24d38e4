"""The timeline's numerical methods, checked against quantities known in closed form."""

import itertools
import math

import numpy as np
import pytest

from forensics.report.markdown import NONFINITE_MARK, sparkline
from forensics.timeline import (
    MAX_CURVE_POINTS,
    SPIKE_FACTOR,
    Series,
    _decimate,
    find_onset,
    find_spikes,
    role_of,
    running_median,
)


def test_onset_of_a_geometric_climb_recovers_its_growth_rate():
    steps = np.arange(200)
    # falls for 100 steps, then grows 1.05x per step
    loss = np.concatenate([np.linspace(2.0, 0.5, 100), 0.5 * 1.05 ** np.arange(1, 101)])
    o = find_onset(steps, loss)
    assert o is not None
    assert 95 <= o.step <= 102
    assert o.fold_per_step == pytest.approx(1.05, rel=0.02)


def test_no_onset_when_the_loss_falls_until_it_jumps():
    steps = np.arange(100)
    loss = np.exp(-steps / 20.0)
    assert find_onset(steps, loss) is None


def test_onset_ignores_single_spikes_in_a_falling_loss():
    steps = np.arange(300)
    loss = np.exp(-steps / 100.0)
    loss[[50, 120, 200]] *= 20  # isolated spikes
    assert find_onset(steps, loss) is None


def test_spikes_that_come_back_are_found():
    rng = np.random.default_rng(0)
    v = 1.0 + 0.05 * rng.standard_normal(300)
    v[[80, 190]] = 6.0
    assert find_spikes(v, np.arange(300)) == [80, 190]


def test_running_median_of_a_constant_is_the_constant():
    y = np.full(5000, 3.0)
    assert np.all(running_median(y, 11) == 3.0)


@pytest.mark.parametrize(
    ("tag", "run", "role"),
    [
        ("epoch_loss", "train", "loss"),
        ("batch_loss", "train", "loss"),
        ("train/loss", "", "loss"),
        ("Loss/train", "", "loss"),
        ("epoch_loss", "validation", "val_loss"),
        ("val_loss", "", "val_loss"),
        ("eval/loss", "", "val_loss"),
        ("train/lr", "", "lr"),
        ("learning_rate", "", "lr"),
        ("epoch_learning_rate", "train", "lr"),
        ("lr-Adam", "", "lr"),
        ("train/grad_norm", "", "grad_norm"),
        ("gradients/global_norm", "", "grad_norm"),
        ("loss_scale", "", None),
        ("accuracy", "", None),
    ],
)
def test_role_of_a_tag(tag, run, role):
    assert role_of(tag, run) == role


def test_sparkline_marks_non_finite_and_keeps_the_maximum():
    s = sparkline(np.array([1.0, 10.0, 100.0, math.nan]), width=4)
    assert s[0] == "▁" and s[2] == "█" and s[3] == NONFINITE_MARK
    assert len(sparkline(np.arange(1, 1000, dtype=float), width=48)) == 48


# ---------------------------------------------------------------- long curves, vectorised


def _long_noisy_curve(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(1, 4, n)).astype(np.int64)
    values = np.round(np.exp(rng.standard_normal(n)), 2)  # rounded: many ties inside a bucket
    values[rng.integers(0, n, n // 500)] *= 30  # spikes
    return steps, values


@pytest.mark.parametrize("n", [MAX_CURVE_POINTS + 1, 3 * MAX_CURVE_POINTS + 17, 250_000])
def test_bucket_medians_and_maxima_of_a_long_curve_equal_numpy_bucket_by_bucket(n: int) -> None:
    steps, values = _long_noisy_curve(n, n)
    for how, reduce in (("median", np.median), ("max", np.max)):
        got_steps, got = _decimate(steps, values, MAX_CURVE_POINTS, how)
        edges = np.linspace(0, n - 1, MAX_CURVE_POINTS + 1).astype(np.int64)
        want = np.array([reduce(values[a:b]) for a, b in itertools.pairwise(edges)])
        want[-1] = values[-1]  # the last point is kept exact
        assert np.array_equal(got_steps, steps[edges[1:]])
        assert np.array_equal(got, want), how


def test_spikes_of_a_long_curve_are_the_points_a_plain_trailing_median_loop_finds() -> None:
    steps, values = _long_noisy_curve(5_000, 3)
    w = max(5, values.size // 50)
    want = []
    for i in range(w, values.size - 1):
        base = float(np.median(values[i - w : i]))
        if base > 0 and values[i] > SPIKE_FACTOR * base and float(np.min(values[i + 1 : i + 1 + w])) < 1.5 * base:
            want.append(int(steps[i]))
    assert want  # the curve has spikes that came back
    assert find_spikes(values, steps) == want


def test_spikes_of_a_curve_decimated_to_its_limit_are_the_points_a_plain_trailing_median_loop_finds() -> None:
    # 20,000 decimated points, windows of 400: the trailing medians come from a kept sorted window
    steps, values = _long_noisy_curve(3 * MAX_CURVE_POINTS, 3)
    got = find_spikes(values, steps)
    steps, values = _decimate(steps, values, MAX_CURVE_POINTS, how="max")
    w = max(5, values.size // 50)
    want = []
    for i in np.flatnonzero(values[w:-1] > SPIKE_FACTOR * np.min(values)).tolist():
        i += w
        base = float(np.median(values[i - w : i]))
        if base > 0 and values[i] > SPIKE_FACTOR * base and float(np.min(values[i + 1 : i + 1 + w])) < 1.5 * base:
            want.append(int(steps[i]))
    assert want and got == want


def test_running_median_of_a_long_series_is_the_median_of_its_edge_padded_windows() -> None:
    y = np.round(np.random.default_rng(4).standard_normal(20_000), 2)
    for window in (401, 9):
        half = window // 2
        pad = np.pad(y, half, mode="edge")
        want = np.median(np.lib.stride_tricks.sliding_window_view(pad, window), axis=1)
        assert np.array_equal(running_median(y, window), want)


def test_a_series_in_step_order_is_its_own_arrays_and_one_out_of_order_is_sorted_stably() -> None:
    steps = np.arange(5)
    s = Series("lr", steps, np.arange(5.0), "step", "f", "lr", "run")
    assert s.in_step_order[0] is s.steps and s.in_step_order[1] is s.values
    restarted = Series("lr", np.array([0, 10, 20, 10, 30]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "step", "f", "lr", "r")
    got_steps, got_values = restarted.in_step_order
    assert got_steps.tolist() == [0, 10, 10, 20, 30] and got_values.tolist() == [1.0, 2.0, 4.0, 3.0, 5.0]


def test_logging_interval_ignores_repeated_steps_and_write_order() -> None:
    steps = np.array([0, 10, 10, 20, 30, 5, 15, 40], dtype=np.int64)  # a restart rewrote 5 and 15
    s = Series("loss", steps, np.ones(steps.size), "step", "f", "loss", "run")
    assert s.interval == float(np.median(np.diff(np.unique(steps))))
    every_step = Series("loss", np.arange(1000), np.ones(1000), "step", "f", "loss", "run")
    assert every_step.interval == 1.0


@pytest.mark.parametrize("n", [1, 6, 7, 50, 4096])
@pytest.mark.parametrize("window", [3, 4, 7, 81])
def test_running_median_of_a_short_series_clips_its_windows_at_the_edges(n: int, window: int) -> None:
    y = np.round(np.random.default_rng(n + window).standard_normal(n), 1)  # ties
    half = window // 2
    want = np.array([np.median(y[max(0, i - half) : i + half + 1]) for i in range(n)])
    assert np.array_equal(running_median(y, window), want)
