"""SPK002-SPK004, the early warnings from optimizer state and weights, on real PyTorch
trainings: tiny models trained here for a few dozen steps (well under a second each) whose
checkpoints torch.save writes, then read back by the readers, where each rule
must fire; and the sample runs where each must stay silent or fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.load import load_run
from forensics.rules import REGISTRY
from forensics.timeline import build_timeline

torch = pytest.importorskip("torch")


def _fires(run_dir: Path, rule: str) -> list:
    return REGISTRY[rule].check(build_timeline(load_run(run_dir)))


def _train(out: Path, *, eps: float = 1e-8, qk_lr: float | None = None, steps: int = 30, every: int = 10) -> None:
    """A one-block attention model on a fixed regression task; Adam with ``eps``; queries and
    keys in their own parameter group at ``qk_lr`` when given. Checkpoints every ``every``."""
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    head = torch.nn.Linear(8, 1)
    model = torch.nn.ModuleDict({"attn": attn, "head": head})
    x = torch.randn(64, 5, 8)
    y = x.sum(dim=(1, 2)).unsqueeze(1)
    if qk_lr is None:
        groups = [{"params": list(model.parameters())}]
    else:
        # in_proj holds q, k and v fused: the whole fused projection gets the LR
        qk = [attn.in_proj_weight, attn.in_proj_bias]
        rest = [p for p in model.parameters() if all(p is not q for q in qk)]
        groups = [{"params": rest}, {"params": qk, "lr": qk_lr}]
    opt = torch.optim.Adam(groups, lr=1e-3, eps=eps)
    out.mkdir(parents=True, exist_ok=True)
    for step in range(1, steps + 1):
        h, _ = attn(x, x, x)
        loss = torch.nn.functional.mse_loss(head(h.mean(1)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            torch.save(
                {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, out / f"ckpt_{step}.pt"
            )


def test_spk003_fires_where_adams_eps_swamps_the_second_moment(tmp_path):
    _train(tmp_path / "big_eps", eps=1.0)
    (f,) = _fires(tmp_path / "big_eps", "SPK003")
    assert "sits near eps (1)" in f.message and "attn" in f.message
    _train(tmp_path / "usual_eps", eps=1e-8)
    assert _fires(tmp_path / "usual_eps", "SPK003") == []


def test_spk004_fires_where_the_attention_projections_outgrow_the_model(tmp_path):
    _train(tmp_path / "hot_qk", qk_lr=0.03, steps=60, every=5)
    (f,) = _fires(tmp_path / "hot_qk", "SPK004")
    assert "attn" in f.message and "median layer" in f.message
    _train(tmp_path / "even", steps=60, every=5)
    assert _fires(tmp_path / "even", "SPK004") == []


@pytest.mark.parametrize(
    ("run", "rule", "fires"),
    [
        # Adam's step per unit of LR grew 3.6x as the raised LR blew the fp16 run up
        ("spikes_loop_fp16", "SPK002", True),
        # stable Adam runs: the step per unit of LR moves by tens of percent between saves
        ("spikes_loop_bf16", "SPK002", False),
        ("torch_healthy_pt", "SPK002", False),
        ("spikes_loop_fp16", "SPK003", False),
        ("torch_healthy_pt", "SPK003", False),
        # every layer blew up at once after the onset: no early outgrowth
        ("hf_trainer_lr_too_high", "SPK004", False),
        ("spikes_hf_trainer_bf16", "SPK004", False),
        ("torch_healthy", "SPK004", False),
    ],
)
def test_the_early_warnings_on_the_sample_runs(reports, run, rule, fires):
    assert bool(REGISTRY[rule].check(reports[run].timeline)) is fires
