"""The timeline's numerical methods, checked against quantities known in closed form."""

import math

import numpy as np
import pytest

from forensics.report.markdown import NONFINITE_MARK, sparkline
from forensics.timeline import find_onset, find_spikes, role_of, running_median


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
