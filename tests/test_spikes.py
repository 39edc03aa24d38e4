"""The spike criteria of forensics/spikes.py one by one, at their edges, and the last good
checkpoint of SPK001 (the rule's fire/silent cases are in synthetic_rule_cases/SPK001.yml)."""

from __future__ import annotations

import numpy as np
import pytest

from forensics.rules.spikes import last_good_checkpoint
from forensics.spikes import (
    FOUNDRY_MIN_POINTS,
    MEGATRON_FACTOR,
    OLMO_SIGMAS,
    RECOVERY_SPREADS,
    ZCLIP_ALPHA,
    accelerating,
    ema,
    find_loss_spikes,
    zclip_flags,
)
from forensics.timeline import build_timeline
from tests.synthetic import run_from_case


def _alternating(n: int, lo: float = 0.8, hi: float = 1.2) -> np.ndarray:
    return np.where(np.arange(n) % 2 == 0, lo, hi).astype(np.float64)


def _spikes(v: np.ndarray, **kw):
    return find_loss_spikes(np.arange(v.size), v, **kw)


def test_olmo2_flags_one_point_past_seven_sigma_and_reports_start_peak_recovery():
    base = _alternating(200, 1.0, 1.1)  # mean 1.05, sigma 0.05
    v = np.concatenate([base, [1.05 + (OLMO_SIGMAS + 0.5) * 0.05], base])
    (s,) = _spikes(v)
    assert (s.start, s.peak, s.recovered, s.fatal) == (200, 200, 201, False)
    assert s.criteria == ("olmo2",)
    v[200] = 1.05 + (OLMO_SIGMAS - 0.5) * 0.05
    assert _spikes(v) == ()


def test_llm_foundry_needs_more_than_four_points_at_twice_the_mean():
    base = _alternating(200)
    five = np.concatenate([base, np.full(FOUNDRY_MIN_POINTS, 2.1), base])
    (s,) = _spikes(five)
    assert s.criteria == ("llm-foundry",)
    assert (s.start, s.recovered) == (200, 200 + FOUNDRY_MIN_POINTS)
    four = np.concatenate([base, np.full(FOUNDRY_MIN_POINTS - 1, 2.1), base])
    assert _spikes(four) == ()


def test_megatron_flags_ten_times_the_largest_loss_so_far():
    v = np.concatenate([np.geomspace(10.0, 1.0, 100), [MEGATRON_FACTOR * 10.0 * 1.01], np.ones(50)])
    (s,) = _spikes(v)
    assert "megatron" in s.criteria and s.peak == 100
    v[100] = MEGATRON_FACTOR * 10.0 * 0.99
    assert all("megatron" not in s.criteria for s in _spikes(v))


def test_a_spike_that_never_comes_down_is_fatal():
    v = np.concatenate([np.ones(100), np.geomspace(3.0, 1e4, 30), [np.nan]])
    (s,) = _spikes(v)
    assert s.fatal and s.recovered is None and s.start == 100 and s.peak == 129


@pytest.mark.parametrize("n", [1, 255, 1000, 256 * 1024 + 17], ids=["one", "under-a-block", "blocks", "row-groups"])
def test_ema_matches_the_recurrence(n):
    # row-groups: more blocks than one 2-D pass takes, and a partial block at the end
    x = np.random.default_rng(1).standard_normal(n)
    want = np.empty_like(x)
    e = x[0]
    for i, xi in enumerate(x.tolist()):
        e = ZCLIP_ALPHA * e + (1 - ZCLIP_ALPHA) * xi
        want[i] = e
    np.testing.assert_allclose(ema(x, ZCLIP_ALPHA), want, rtol=1e-10, atol=1e-12)


def test_zclip_grad_spike_leads_the_loss_spike():
    g = _alternating(300, 0.9, 1.1)
    g[197] = 5.0  # the gradient norm jumps 3 steps before the loss peaks
    assert zclip_flags(g)[197] and zclip_flags(g).sum() == 1
    v = _alternating(300, 1.0, 1.1)
    v[200] = 3.0
    (s,) = find_loss_spikes(np.arange(300), v, np.arange(300), g)
    assert s.grad_lead == 197


def test_spikes_coming_more_and_more_often():
    v = _alternating(4000, 1.0, 1.1)
    late = [2500, 3000, 3300, 3600, 3800]
    v[late] = 3.0
    spikes = _spikes(v)
    assert [s.peak for s in spikes] == late
    assert accelerating(spikes, 0, 3999)
    even = _alternating(4000, 1.0, 1.1)
    even[[500, 1300, 2100, 2900, 3700]] = 3.0
    assert not accelerating(_spikes(even), 0, 3999)


def test_a_million_steps_in_one_pass():
    rng = np.random.default_rng(0)
    n = 1_000_000
    v = 2.0 + 0.05 * rng.standard_normal(n)
    v[300_000:300_010] += 3.0
    spikes = _spikes(v)
    assert [s.start for s in spikes] == [300_000]
    assert spikes[0].recovered == 300_010


def test_last_good_checkpoint_is_before_the_fatal_spike_finite_and_not_inflated():
    case = {
        "loss": [{"n": 100, "value": 1.0}, {"n": 30, "from": 3.0, "to": 1000.0}, [float("nan")]],
        "lr": [{"n": 131, "value": 1e-3}],
        "checkpoints": [
            {"step": 40, "layers": {"dense": 1.0}},
            {"step": 80, "layers": {"dense": 5.0}},  # already inflated (5x the first)
            {"step": 120, "layers": {"dense": 1.2}},  # after the spike started at 100
        ],
    }
    tl = build_timeline(run_from_case(case))
    r = last_good_checkpoint(tl)
    assert r is not None and r.step == 40 and r.before == 100
    assert "skip the batches of steps 41..540" in r.advice and "cut the LR by 2× or more (it was 0.001" in r.advice
    case["checkpoints"][1]["layers"]["dense"] = 1.1
    assert last_good_checkpoint(build_timeline(run_from_case(case))).step == 80
    case["checkpoints"][1]["nan"] = {"dense": 2}
    assert last_good_checkpoint(build_timeline(run_from_case(case))).step == 40


def test_benign_spikes_leave_a_healthy_verdict_healthy():
    from forensics.diagnose import diagnose
    from forensics.rules import run_rules

    flat = {"n": 150, "value": 1.0}
    loss = [{"n": 200, "from": 3.0, "to": 1.0}, flat, {"n": 5, "value": 3.0}, flat, {"n": 5, "value": 3.0}, flat]
    tl = build_timeline(run_from_case({"loss": loss}))
    assert [s.fatal for s in tl.loss_spikes] == [False, False]
    evidence = run_rules(tl)
    assert any(e.rule == "SPK001" and e.weight == 0 for e in evidence)
    assert diagnose(tl, evidence).verdict.cause == "healthy"
    assert last_good_checkpoint(tl) is None


def test_masked_stand_ins_after_a_nan_grad_norm_are_no_recovery():
    """HF's logging_nan_inf_filter logs finite stand-ins (0 once every step is NaN) after
    the blow-up; the grad norm shows it. The spike that ran into it is fatal."""
    climb = {"n": 14, "from": 4.0, "to": 1e12}
    case = {
        "loss": [{"n": 40, "value": 4.0}, climb, {"n": 10, "value": 0.0}],
        "grad_norm": [{"n": 40, "value": 1.0}, {"n": 14, "from": 1.0, "to": 1e9}, {"n": 10, "value": float("nan")}],
    }
    tl = build_timeline(run_from_case(case))
    assert tl.first_nonfinite is not None and tl.first_nonfinite.role == "grad_norm"
    assert tl.loss_spikes and all(s.fatal and s.recovered is None for s in tl.loss_spikes)
    # the same curve with a real recovery (the grad norm stays finite) recovers
    case["loss"][2] = {"n": 10, "value": 4.0}
    case["grad_norm"][2] = {"n": 10, "value": 1.0}
    tl = build_timeline(run_from_case(case))
    assert tl.loss_spikes and not tl.loss_spikes[-1].fatal


def test_a_negative_level_recovers_within_its_spread():
    # a flow's negative log-likelihood near -5.4: no ratio to its level, its noise says when it is back
    base = _alternating(200, -5.5, -5.3)  # median -5.4, MAD 0.1
    spike = np.concatenate([base, [40490.0], [-4.0], base])
    (s,) = _spikes(spike)
    assert not s.fatal and s.recovered == 202
    bar = -5.4 + RECOVERY_SPREADS * 1.4826 * 0.1
    stays = np.concatenate([base, [40490.0], np.full(50, bar + 0.05)])
    (s,) = _spikes(stays)
    assert s.fatal and s.recovered is None
    stays[-1] = bar - 0.05
    assert _spikes(stays)[0].recovered == stays.size - 1


def test_the_baseline_is_the_level_before_a_climb_not_its_tail():
    v = np.concatenate([np.full(100, 2.0), np.geomspace(2.0, 1e6, 12), np.full(30, 3e4)])
    spikes = _spikes(v)
    assert spikes and spikes[-1].baseline == 2.0
    # 3e4 is under the mean of a window holding the climb, but nowhere near the level before it
    assert all(s.fatal for s in spikes)


def test_trailing_statistics_by_block_equal_the_whole_curve():
    from forensics import spikes as sp

    rng = np.random.default_rng(3)
    v = 5.0 + rng.standard_normal(3 * sp.TRAILING_BLOCK + 17)
    mean, sd = sp._trailing(v, 1000)
    i = np.arange(v.size)
    for k in [0, 19, 20, 999, 1000, sp.TRAILING_BLOCK - 1, sp.TRAILING_BLOCK, sp.TRAILING_BLOCK + 500, v.size - 1]:
        w = v[max(0, k - 1000) : k]
        if w.size < sp.MIN_HISTORY:
            assert np.isnan(mean[k])
            continue
        assert mean[k] == pytest.approx(w.mean(), rel=1e-9) and sd[k] == pytest.approx(w.std(), rel=1e-6), k
    assert i.size == mean.size
