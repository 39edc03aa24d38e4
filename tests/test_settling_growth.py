"""A climb that settles toward a level is learning, not a compounding growth (``context._settling``).

EXP001 (gradient norm) and EXP002 (weight histograms) read a sustained climb as exploding
gradients. Learning moves a tensor fastest early and slows as its gradients shrink: a bias
initialised at 0 rises toward its fitted value and stays there. Checked on a real PyTorch
training that logs weight histograms (trained here, a second or two on CPU) and on the real
exploding sample runs, whose climbs must still count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import forensics
from forensics.rules.context import SETTLING_MIN_POINTS, geometric_growth
from forensics.timeline import Series

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"

torch = pytest.importorskip("torch")
tensorboard = pytest.importorskip("torch.utils.tensorboard")


@pytest.fixture(scope="module")
def healthy_with_histograms(tmp_path_factory) -> Path:
    """A small MLP fitting a linear target with plain SGD at a modest LR, its biases initialised
    at 0 (PyTorch's own init for them is small and random; 0 is common, e.g. transformers'
    _init_weights), weight histograms and the loss written every 5 steps for 300 steps: a healthy
    run whose output bias climbs from 0.01 to 0.32 (1.3 decades, past EXP002's 10x) and levels off."""
    run = tmp_path_factory.mktemp("healthy_hist")
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = x @ torch.randn(8, 1) + 0.5
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    for m in net:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(net.parameters(), lr=0.002)
    writer = tensorboard.SummaryWriter(str(run / "logs"))
    for step in range(1, 301):
        idx = torch.randint(0, 512, (32,))
        loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 0:
            writer.add_scalar("train/loss", loss.item(), step)
            for name, p in net.named_parameters():
                writer.add_histogram(f"weights/{name}", p.detach(), step)
    writer.close()
    return run


def test_a_bias_rising_from_zero_and_settling_is_no_geometric_growth(healthy_with_histograms):
    rep = forensics.analyze(healthy_with_histograms)
    tl = rep.timeline
    assert not tl.diverged and rep.verdict.cause == "healthy"
    bias = next(h for h in tl.weight_histograms if h.tag.endswith("2.bias"))
    absmax = np.maximum(np.abs(bias.min), np.abs(bias.max))
    # the output bias rose from near 0 by more than a decade, most of it early: a climb by size alone
    positive = absmax[absmax > 0]
    assert positive[-1] / positive[0] > 10
    s = Series("hist", bias.steps, absmax, "step", bias.source, bias.tag, bias.run)
    assert geometric_growth(s) is None
    rules = {e.rule for c in rep.candidates for e in c.evidence if e.weight > 0}
    assert "EXP002" not in rules and "EXP001" not in rules


def test_a_compounding_climb_still_counts_on_the_real_exploding_runs():
    torch_run = forensics.analyze(SAMPLES / "torch_exploding_gradients")
    g = geometric_growth(torch_run.timeline.grad_norm, torch_run.timeline.divergence_step)
    assert g is not None and g.end > g.start
    tf_run = forensics.analyze(SAMPLES / "tf2_exploding_gradients")
    for rep, rule in ((torch_run, "EXP001"), (tf_run, "EXP002")):
        assert any(e.rule == rule and e.weight > 0 for c in rep.candidates for e in c.evidence), rule


def test_a_fall_is_no_growth_and_a_short_jump_is_judged_by_size_alone():
    steps = np.arange(1, 7)
    falling = Series("g", steps, np.array([1e19, 1e19, 1e18, 1e17, 1e16, 6e15]), "step", "s", "g", "r")
    assert geometric_growth(falling) is None
    # fewer points than SETTLING_MIN_POINTS: a jump then a smaller rise keeps its growth
    few = np.arange(1, SETTLING_MIN_POINTS)
    jump = np.r_[np.full(few.size - 3, 0.3), 13.6, 20.0, 45.0]
    g = geometric_growth(Series("g", few, jump, "step", "s", "g", "r"))
    assert g is not None and g.end == 45.0
