"""A loss spike the run never came back from (timeline.settled_after_spike): one catastrophic update, after which
the loss sits far worse than before it to the end of the record, never non-finite. Judged in spreads of the level
before it, not in ratios, so that a flow's negative log-likelihood is judged as a cross-entropy is. Lines written
here with each trainer's own format string (named beside), with the look-alikes that must stay healthy: a spike
that recovers or is still recovering, a new level entered without a spike (a switch of data), a warm restart
(the LR jumps with the loss), a noisy small-batch run, a GAN's generator and a reinforcement learner's loss.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import forensics
from forensics.timeline import (
    LEVEL_MIN_POINTS,
    SETTLED_ABOVE_LEVEL,
    SETTLED_POINTS,
    SHIFT_SPREADS,
    settled_after_spike,
)


def _run(tmp_path: Path, name: str, lines: list[str], filename: str = "train.log"):
    run = tmp_path / name
    run.mkdir()
    (run / filename).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return forensics.analyze(str(run))


def _noise(n: int, sd: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd, n)


# ---------------------------------------------------------------- NVIDIA WaveGlow's train.py


def _waveglow(values: np.ndarray, first: int = 120000) -> list[str]:
    # print("Epoch: {}".format(epoch)) once per epoch, then print("{}:\t{:.9f}".format(iteration, reduced_loss)),
    # the loss of the batch before its update: a flow's negative log-likelihood, below 0 once it has learned
    lines = ["Epoch: 40"]
    lines += [f"{first + i}:\t{v:.9f}" for i, v in enumerate(values)]
    return lines


def _waveglow_curve(after: np.ndarray, seed: int = 0) -> np.ndarray:
    before = -5.4 + _noise(40, 0.12, seed)
    return np.concatenate([before, [40490.179687500], after])


def test_a_flow_that_lost_what_it_learned_in_one_step_diverged(tmp_path):
    after = np.linspace(-3.5, -1.4, 6).tolist() + (-1.5 + _noise(8, 0.15, 1)).tolist()
    rep = _run(tmp_path, "waveglow", _waveglow(_waveglow_curve(np.array(after))))
    tl = rep.timeline
    assert tl.diverged and tl.first_nonfinite is None
    assert (tl.exploded_verb, tl.exploded_step) == ("jumped", 120040)
    assert "settled at" in (tl.exploded_how or "")


def test_a_flow_spike_that_came_back_is_healthy(tmp_path):
    after = -5.4 + _noise(14, 0.12, 2)
    rep = _run(tmp_path, "waveglow_back", _waveglow(_waveglow_curve(after)))
    assert not rep.timeline.diverged and rep.verdict.cause == "healthy"


def test_a_spike_still_coming_back_when_the_record_ends_is_healthy(tmp_path):
    # benign: the loss after it falls back towards its level, the record ends on the way, every point still above
    # the level's worst (so only the halves' fall, COMING_BACK_SHARE, tells it from a level it settled at)
    after = np.geomspace(4.0, 1.2, 14) - 5.6 + _noise(14, 0.05, 3)
    before = _waveglow_curve(after)[:40]
    assert after.min() > before.max()
    rep = _run(tmp_path, "waveglow_coming_back", _waveglow(_waveglow_curve(after)))
    assert not rep.timeline.diverged


def test_a_new_level_without_a_spike_is_no_loss_of_what_was_learned(tmp_path):
    # a switch of data (a harder set, a curriculum's next stage): the loss enters its new level at that level
    curve = np.concatenate([-5.4 + _noise(40, 0.12, 4), -3.0 + _noise(14, 0.12, 5)])
    rep = _run(tmp_path, "waveglow_new_data", _waveglow(curve))
    assert not rep.timeline.diverged


def test_too_few_points_after_the_spike_are_no_level():
    before = -5.4 + _noise(40, 0.12, 6)
    for k, fires in ((SETTLED_POINTS, True), (SETTLED_POINTS - 1, False)):
        v = np.concatenate([before, [40490.0], np.full(k, -1.5) + _noise(k, 0.1, 7)])
        assert (settled_after_spike(v) is not None) is fires, k


def test_the_shift_is_measured_in_spreads_of_the_level_before():
    # level 1.0 with a spread of ~0.1 (alternating 0.9 / 1.1, MAD 0.1): the level after a spike must stand
    # SHIFT_SPREADS spreads above it, whatever the sign of the loss (at 1.0 the level after is past twice the one
    # before too: SETTLED_ABOVE_LEVEL, tested below)
    base = np.where(np.arange(40) % 2 == 0, 0.9, 1.1)
    spread = 0.1 * 1.4826
    for offset in (0.0, -7.0):
        for shift, fires in ((SHIFT_SPREADS + 1, True), (SHIFT_SPREADS - 1, False)):
            after = 1.0 + shift * spread + np.where(np.arange(12) % 2 == 0, -0.01, 0.01)
            v = np.concatenate([base, [60.0], after]) + offset
            assert (settled_after_spike(v) is not None) is fires, (offset, shift)


def test_a_positive_level_must_also_settle_twice_as_high():
    # a quiet positive level (a converged loss printed to many digits) makes a shift of a few per cent many spreads:
    # a loss with a floor at zero has a ratio to its level, and only a level past SETTLED_ABOVE_LEVEL times it is a
    # loss of what was learned; a level at or below zero has none, and the spreads alone judge it
    quiet = np.where(np.arange(40) % 2 == 0, -0.01, 0.01)  # a spread of ~0.015 around the level
    wiggle = np.where(np.arange(12) % 2 == 0, -0.001, 0.001)
    for level, after, fires in (
        (1000.0, 1000.5, False),  # 34 spreads, 0.05 % up
        (1.0, 0.95 * SETTLED_ABOVE_LEVEL, False),  # 60 spreads, under twice the level
        (1.0, 1.05 * SETTLED_ABOVE_LEVEL, True),
        (-7.0, -6.5, True),  # below zero: the spreads alone (34 of them)
    ):
        v = np.concatenate([level + quiet, [level + 60.0], after + wiggle])
        assert (settled_after_spike(v) is not None) is fires, (level, after)


def test_a_converged_loss_a_few_per_cent_worse_after_a_spike_is_healthy(tmp_path):
    # mmcv's text logger, a detector converged at 0.0100 printed to four digits: one outlier batch, then 0.0112
    rng = np.random.default_rng(13)
    curve = np.concatenate([0.0100 + rng.normal(0.0, 5e-5, 60), [0.8], 0.0112 + rng.normal(0.0, 5e-5, 20)])
    rep = _run(tmp_path, "mmdet_quiet", _mmcv(curve, np.full(curve.size, 0.02)))
    assert not rep.timeline.diverged and rep.timeline.exploded_verb != "jumped"


def test_the_level_before_needs_its_points():
    after = np.full(12, 3.0)
    for k, fires in ((LEVEL_MIN_POINTS, True), (LEVEL_MIN_POINTS - 1, False)):
        v = np.concatenate([np.where(np.arange(k) % 2 == 0, 0.9, 1.1), [60.0], after])
        assert (settled_after_spike(v) is not None) is fires, k


def test_a_noisy_small_batch_run_with_an_outlier_is_healthy(tmp_path):
    rng = np.random.default_rng(8)
    curve = 2.0 * np.exp(rng.normal(0.0, 0.4, 200))  # a batch of a few samples: its loss varies by half
    curve[150] = 60.0
    curve[151:] *= 1.3  # a little worse after the outlier, well inside the run's noise
    rep = _run(tmp_path, "noisy", _waveglow(curve))
    assert not rep.timeline.diverged


def test_one_pass_over_a_million_points():
    rng = np.random.default_rng(9)
    v = 2.0 + rng.normal(0.0, 0.1, 1_000_000)
    v[::997] += 30.0  # benign spikes throughout, each back at once
    t0 = time.perf_counter()
    assert settled_after_spike(v) is None
    v[900_000] = 1e5
    v[900_001:] += 3.0
    assert settled_after_spike(v) is not None
    assert time.perf_counter() - t0 < 5.0


# ---------------------------------------------------------------- mmcv's TextLoggerHook (MMDetection 2.x)


def _mmcv(losses: np.ndarray, lrs: np.ndarray) -> list[str]:
    # f'Epoch [{epoch}][{iter}/{len(data_loader)}]\t' + f'lr: {lr:.3e}, eta: {eta}, time: {t:.3f}, data_time: ..,
    # memory: {mb}, ' + ', '.join(f'{name}: {val:.4f}') after the logger's '%(asctime)s - %(name)s - %(levelname)s'
    return [
        f"2022-12-20 10:{i // 60:02d}:{i % 60:02d},000 - mmdet - INFO - Epoch [1][{50 * (i + 1)}/5000]\t"
        f"lr: {lr:.3e}, eta: 1:00:00, time: 0.500, data_time: 0.010, memory: 2000, "
        f"loss_cls: {0.6 * v:.4f}, loss_bbox: {0.4 * v:.4f}, loss: {v:.4f}"
        for i, (v, lr) in enumerate(zip(losses, lrs, strict=True))
    ]


def _detector_curve() -> np.ndarray:
    return np.concatenate([0.8 + _noise(40, 0.03, 10), [95.0], 2.4 + _noise(12, 0.08, 11)])


def test_a_detector_that_settled_far_worse_after_a_spike_diverged(tmp_path):
    rep = _run(tmp_path, "mmdet", _mmcv(_detector_curve(), np.full(53, 0.02)))
    assert rep.timeline.exploded_verb == "jumped" and rep.timeline.exploded_step == 2050


def test_a_warm_restart_is_the_lrs_not_a_lost_level(tmp_path):
    # the same loss where the LR jumped back to its peak with it (SGDR): the level follows the LR
    lrs = np.concatenate([np.geomspace(0.02, 1e-4, 40), [0.02], np.geomspace(0.02, 0.015, 12)])
    rep = _run(tmp_path, "mmdet_restart", _mmcv(_detector_curve(), lrs))
    assert rep.timeline.exploded_verb != "jumped"


# ---------------------------------------------------------------- losses whose target moves


def test_a_gan_generators_new_level_is_no_divergence(tmp_path):
    # BasicSR's MessageLogger: f'[{name[:5]}..][epoch:{epoch:3d}, iter:{iter:8,d}, lr:({lrs})] '
    # + f'[eta: {eta}, time (data): {t:.3f} ({d:.3f})] ' + f'{k}: {v:.4e} ' for each loss
    g = _detector_curve()
    d = 0.5 + _noise(g.size, 0.02, 12)
    lines = [
        f"[train..][epoch:  1, iter:{1000 * (i + 1):8,d}, lr:(1.000e-04,)] [eta: 1 day, 0:00:00, time (data): "
        f"0.500 (0.010)] l_g_gan: {gv:.4e} l_d_real: {dv:.4e} l_d_fake: {dv:.4e} "
        for i, (gv, dv) in enumerate(zip(g, d, strict=True))
    ]
    rep = _run(tmp_path, "gan", lines)
    assert rep.timeline.exploded_verb != "jumped"


def test_a_reinforcement_learners_loss_moves_with_its_returns(tmp_path):
    # keras-rl's TrainIntervalLogger: '{} episodes - episode_reward: {:.3f} [{:.3f}, {:.3f}]' + ' - {}: {:.3f}'
    # for each metric; an outlier episode, then larger returns and a larger value loss
    loss = _detector_curve()
    lines = []
    for i, v in enumerate(loss):
        lines.append(f"Interval {i + 1} ({10000 * (i + 1)} steps performed)")
        lines.append(
            f"50 episodes - episode_reward: {-500.0 + 5 * i:.3f} [{-900.0:.3f}, {-100.0:.3f}] - loss: {v:.3f} "
            f"- mean_absolute_error: {0.3:.3f} - mean_q: {-10.0:.3f}"
        )
    rep = _run(tmp_path, "rl", lines)
    assert rep.timeline.exploded_verb != "jumped"
