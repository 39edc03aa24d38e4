"""Issue #11, eighteenth round: mechanisms behind heldout23's misses (docs/logs.md), on lines built from the writers'
own format strings (named in a comment), each with look-alikes that must read as before.
"""

from tests.test_log_shapes_round16 import _analyze

# ---------------------------------------------------------------- a NaN gradient after a normal one


def test_a_nan_gradient_norm_after_a_normal_one_is_no_gradient_abnormal_from_initialisation(tmp_path):
    # NeMo Automodel's 'step {n} | loss {x:.4f} | grad_norm {g:8.4f}' lines, pasted from step 10
    text = "step 10 | loss 2.6030 | grad_norm  9.9375\nstep 11 | loss 2.3224 | grad_norm     nan\n"
    text += "step 12 | loss    nan | grad_norm     nan\n"
    rep, fired = _analyze(tmp_path, "log.txt", text)
    assert rep.diverged and "EXP006" not in fired


def test_a_huge_first_gradient_norm_is_still_one(tmp_path):
    text = "step 1 | loss 2.6030 | grad_norm 3.1e+05\nstep 2 | loss 9.3224 | grad_norm 8.2e+07\n"
    text += "step 3 | loss    nan | grad_norm     nan\n"
    _, fired = _analyze(tmp_path, "log.txt", text)
    assert "EXP006" in fired


def test_a_floor_of_the_loss_scale_after_a_finite_loss_is_an_fp16_overflow_not_a_division(tmp_path):
    # DeepSpeed's scaler could not lower its scale twice (a floor), the loss finite and unsaturated before it: no NaN
    # was logged, so NUM008's reading of a NaN at an unsaturated loss does not apply; the floor names the overflow
    lines = [f"step {i} loss {0.5 - i * 0.001:.3f}" for i in range(1, 20)]
    lines += ["[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1"] * 2
    rep, _ = _analyze(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert rep.diverged and rep.verdict.detail == "fp16_overflow"
    assert "NUM008" not in {e.rule for c in rep.candidates for e in c.evidence}
    # a NaN logged at an unsaturated loss is still NUM008's
    nan = [*lines[:19], "step 20 loss nan", "step 21 loss nan"]
    rep, _ = _analyze(tmp_path / "nan", "train.log", "\n".join(nan) + "\n")
    assert "NUM008" in {e.rule for c in rep.candidates for e in c.evidence}
