"""NUM015 on real PyTorch trainings: a float32 classifier whose hand-written cross-entropy takes the
log of a softmax probability that rounds to 0 logs +Inf straight from a normal loss (a log of 0);
the same training whose loss is averaged over a batch standardised without an epsilon divides 0 by
0 and logs NaN, and the float32 weights say no float16 range was met. The checkpoints are real
safetensors files of the model's state; the console is the loop's own print."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from forensics import analyze
from forensics.rules import run_rules

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _train(run: Path, fault: str, steps: int = 60) -> Path:
    """A small float32 MLP on a separable 3-class task with a few labels flipped, plain SGD, a line
    and a checkpoint per step. ``log0``: -log(softmax(8 x logits)) with no epsilon, so
    a flipped label the net grows confident against rounds to probability 0. ``div0``: the inputs
    are standardised over the batch with no epsilon, and from step 30 a feature is constant over
    the batch (its std is 0)."""
    torch.manual_seed(0)
    n, d = 32, 6
    x = torch.randn(n, d)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    y[:3] = (y[:3] + 1) % 3  # flipped labels: the samples a confident model gets wrong
    model = torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    (run / "ckpt").mkdir(parents=True)
    lines = [f"model: mlp | optimizer: sgd lr=0.5 | fault: {fault}"]
    for step in range(1, steps + 1):
        xb = x.clone()
        if fault == "div0":
            if step >= 30:
                xb[:, 2] = 1.0
            xb = (xb - xb.mean(0)) / xb.std(0)
        logits = model(xb)
        if fault == "log0":
            p = torch.softmax(8.0 * logits, dim=1)
            loss = -torch.log(p.gather(1, y[:, None])).mean()
        else:
            loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lines.append(f"step {step} | loss {loss.item():.6g}")
        if math.isfinite(loss.item()):
            safetensors_torch.save_file(
                {k: v.detach().contiguous() for k, v in model.state_dict().items()},
                str(run / "ckpt" / f"step_{step:04d}.safetensors"),
            )
        if sum("nan" in s or "inf" in s for s in lines[1:]) >= 4:
            break
    (run / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run


def test_num015_names_a_log_of_zero_for_an_inf_loss_in_float32(tmp_path):
    tl = analyze(_train(tmp_path / "log0", "log0")).timeline
    nf = tl.first_nonfinite
    assert nf is not None and nf.value == math.inf and nf.last_finite_value is not None
    assert tl.weight_dtype == "float32"
    (e,) = [e for e in run_rules(tl) if e.rule == "NUM015"]
    assert (e.cause, e.detail, e.weight) == ("numerical_instability", "log_of_zero", 0.0)
    assert e.step == nf.step and "log of 0" in e.message


def test_num015_is_silent_on_a_division_of_zero_by_zero(tmp_path):
    tl = analyze(_train(tmp_path / "div0", "div0")).timeline
    nf = tl.first_nonfinite
    assert nf is not None and math.isnan(nf.value) and nf.step == 30
    assert not [e for e in run_rules(tl) if e.rule == "NUM015"]


def test_num015_is_silent_where_the_precision_is_not_stated(tmp_path):
    """The same +Inf with no checkpoint kept: nothing says the model was not float16, whose
    overflow gives Inf as well."""
    run = _train(tmp_path / "log0_console", "log0")
    for f in (run / "ckpt").iterdir():
        f.unlink()
    tl = analyze(run).timeline
    assert tl.weight_dtype is None and tl.first_nonfinite.value == math.inf
    assert not [e for e in run_rules(tl) if e.rule == "NUM015"]


def test_num015_is_silent_where_a_float16_loss_scaler_printed(tmp_path):
    """apex O1 keeps the weights in float32 (the checkpoints say so) and runs the forward pass in float16
    under its loss scaler, whose overflow lines are in the log: float16's 65504 is met there, so an Inf
    is no sign of a log of 0. The line is apex's own format (apex/amp/scaler.py update_scale)."""
    run = _train(tmp_path / "apex_o1", "log0")
    log = run / "train.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tl = analyze(run).timeline
    assert tl.weight_dtype == "float32" and tl.first_nonfinite.value == math.inf
    assert any(e.kind == "loss_scale_overflow_transient" for _, e in tl.log_events)
    assert not [e for e in run_rules(tl) if e.rule == "NUM015"]
