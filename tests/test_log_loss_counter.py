"""A step printed between a loss's name and its value (docs/logs.md, 'a name, then its counter, then the value'):
NVIDIA's Tacotron 2 train.py and the trainers copied from it (Mellotron, many TTS repositories) print the iteration
right after the loss's name, then the loss. Lines are built from that script's own format strings; look-alikes, where
the integer after a loss's name is the loss or a count, read as before.
"""

import math

import pytest

import forensics
from forensics.readers.logmetrics import scan_line
from forensics.readers.logs import parse_log_text


def _train(iteration: int, loss: float, grad_norm: float, duration: float = 3.9) -> str:
    # NVIDIA/tacotron2 train.py: print("Train loss {} {:.6f} Grad Norm {:.6f} {:.2f}s/it".format(iteration,
    # reduced_loss, grad_norm, duration))
    return f"Train loss {iteration} {loss:.6f} Grad Norm {grad_norm:.6f} {duration:.2f}s/it"


def _validation(iteration: int, loss: float) -> str:
    # the same file's validate(): print("Validation loss {}: {:9f}  ".format(iteration, reduced_val_loss))
    return f"Validation loss {iteration}: {loss:9f}  "


def test_the_integer_after_a_loss_name_is_the_step_when_a_decimal_value_follows():
    lm = scan_line(_train(7, 5.797815, 6.959098))
    assert lm.pairs == [("loss", pytest.approx(5.797815)), ("grad_norm", pytest.approx(6.959098))]
    assert lm.counters == [("step", 7, None)]
    lm = scan_line(_validation(61000, 0.325403))
    assert lm.pairs == [("val_loss", pytest.approx(0.325403))] and lm.counters == [("step", 61000, None)]
    lm = scan_line(_validation(0, 37.06101))  # iteration 0: a step of 0, not a loss of 0
    assert lm.pairs == [("val_loss", pytest.approx(37.06101))] and lm.counters == [("step", 0, None)]


def test_a_non_finite_loss_after_the_step_is_still_the_loss():
    lm = scan_line(_train(120, math.nan, math.nan))
    assert lm.counters == [("step", 120, None)]
    assert [t for t, _ in lm.pairs] == ["loss", "grad_norm"] and math.isnan(lm.pairs[0][1])


@pytest.mark.parametrize(
    ("line", "loss"),
    [
        ("loss 0 acc 0.98", 0.0),  # a loss of exactly 0, a name after it
        ("loss: 2 acc: 0.5", 2.0),  # a loss printed as an integer after its separator
        ("loss: 2 0.5", 2.0),  # a separator before the integer: it is the value
        ("Epoch 3 loss 5 of 10", 5.0),  # 'N of M' after a name: a count, not a step then a value
        ("loss 3 terms", 3.0),  # a count of terms
        ("loss 3 4", 3.0),  # an integer after it: nothing says which is the step
        ("loss 0", 0.0),  # a zero alone
        ("step 5 loss 3 0.25", 3.0),  # the line printed its step already
    ],
)
def test_look_alikes_keep_the_integer_as_the_loss(line, loss):
    lm = scan_line(line)
    assert lm.pairs[0] == ("loss", loss)
    assert ("step", int(loss), None) not in lm.counters


def test_no_other_metric_takes_a_counter_so():
    lm = scan_line("Loss scale 65536 0.5")  # a loss scale's value, not a loss
    assert lm.pairs[0] == ("loss_scale", 65536.0) and not lm.counters
    assert scan_line("Grad Norm 3 0.5").pairs[0] == ("grad_norm", 3.0)


def _healthy_run() -> str:
    lines = ["FP16 Run: False", "Epoch: 0", _train(0, 48.220909, 13.48), _validation(0, 37.06101)]
    lines += [_train(i, 30.0 / (i + 1) + 0.3, 5.0) for i in range(1, 40)]
    lines += [_validation(40, 0.9), _train(40, 0.8, 1.0), _train(41, 0.7, 0.9)]
    return "\n".join(lines) + "\n"


def test_a_falling_run_reads_its_losses_at_their_iterations(tmp_path):
    series, *_ = parse_log_text(_healthy_run())
    assert series["loss"].steps.tolist() == list(range(42))
    assert series["loss"].values[0] == pytest.approx(48.220909) and series["loss"].values[-1] == pytest.approx(0.7)
    assert series["val_loss"].steps.tolist() == [0, 40]
    (tmp_path / "train.log").write_text(_healthy_run())
    assert not forensics.analyze(str(tmp_path)).diverged


def test_a_run_whose_loss_goes_nan_diverges_at_that_iteration(tmp_path):
    lines = [_train(i, 5.0 - i / 10, 4.0) for i in range(20)]
    lines += [_train(20, math.inf, math.nan), _train(21, math.nan, math.nan)]
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged and report.first_nonfinite_step == 20
