"""DATA001 at an LR of 0: a warmup's first steps move no weight, so a NaN there is a first forward
pass's, as at step 1, and weighs as one, no more: the forward pass itself can fail at LR 0 (a
float16 overflow, here from a real half-precision PyTorch model)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from forensics import analyze
from forensics.rules import run_rules
from forensics.rules.data_or_labels import FIRST_POINT_AFTER_UPDATES_WEIGHT, FIRST_STEP_WEIGHT

torch = pytest.importorskip("torch")


def _half_precision_run(tmp: Path, warmup: int) -> Path:
    """A float16 model whose first forward pass overflows (sums past 65504), trained with an LR held
    at 0 for ``warmup`` steps, its console kept from the third step (a print every few steps)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).half()
    x = (torch.randn(16, 64) * 40).half()
    y = torch.randint(0, 8, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    lines = []
    for step in range(1, 7):
        lr = 0.0 if step <= warmup else 1e-3 * step
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(x)
        loss = (torch.log(torch.exp(logits).sum(1)) - logits.gather(1, y[:, None]).squeeze(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= 3:
            lines.append(f"step {step} | loss {float(loss.item()):.5f} | lr {lr:.2e}")
    run = tmp / f"run_warmup{warmup}"
    run.mkdir()
    (run / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run


@pytest.mark.parametrize("warmup, weight", [(4, FIRST_STEP_WEIGHT), (0, FIRST_POINT_AFTER_UPDATES_WEIGHT)])
def test_a_first_point_at_lr_zero_weighs_as_a_first_step(tmp_path, warmup, weight):
    tl = analyze(_half_precision_run(tmp_path, warmup)).timeline
    nf = tl.first_nonfinite
    assert nf is not None and nf.step == 3 and nf.last_finite_step is None and math.isnan(nf.value)
    (e,) = [e for e in run_rules(tl) if e.rule == "DATA001"]
    assert (e.cause, e.weight) == ("data_or_labels", weight)
    if warmup:
        assert "with the LR at 0" in e.message and "a float16 overflow" in e.message
