"""An 'error' that is the training objective (logmetrics._error_is_loss), told apart from the error rates, metrics
and messages that share the word. Every line is written here from its writer's own format string (named beside it);
the pasted logs stay outside the repository."""

from __future__ import annotations

import math

import pytest

from forensics.readers.logmetrics import main_loss_and_basis, scan_line
from forensics.readers.logs import parse_log_text


def _loss_of(line: str) -> float | None:
    lm = scan_line(line)
    found, _ = main_loss_and_basis(lm.pairs, lm.score_is_loss, lm.error_is_loss)
    return dict(found).get("loss")


# ---------------------------------------------------------------- the objective, called an error


def test_matrix_factorisation_sgd_error_per_iteration_is_its_loss():
    # albertauyeung's matrix-factorization-in-python, MF.train: print("Iteration: %d ; error = %.4f" % (i+1, mse))
    # every 10 iterations; NumPy's overflow warnings (through warnings.showwarning, run from __main__) come first
    warn = "__main__:79: RuntimeWarning: overflow encountered in multiply\n"
    errors = [2.5, 1.25, float("nan"), float("nan")]
    text = warn + "".join(f"Iteration: {10 * (k + 1)} ; error = {e:.4f}\n" for k, e in enumerate(errors))
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].steps.tolist() == [10, 20, 30, 40]
    assert series["loss"].values[:2].tolist() == [2.5, 1.25]
    assert all(math.isnan(v) for v in series["loss"].values[2:])


def test_torch7_stochastic_gradient_current_error_is_its_loss():
    # torch/nn StochasticGradient.lua: print("# StochasticGradient: training"), then per pass over the data
    # print("# current error = " .. currentError) (the criterion's mean), and at maxIteration
    # "# StochasticGradient: you have reached the maximum number of iterations", "# training error = " .. currentError
    errors = [0.6249592341091, 0.54681050086858, 0.5012]
    text = "# StochasticGradient: training\n" + "".join(f"# current error = {e!r}\n" for e in errors)
    text += "# StochasticGradient: you have reached the maximum number of iterations\n# training error = 0.5012\n"
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].values.tolist() == errors
    # a paste that lost the '#' (read as a Markdown heading) reads the same
    series, *_ = parse_log_text(text.replace("# ", " "), "train.log")
    assert series["loss"].values.tolist() == errors


def test_shainet_epoch_error_is_its_loss():
    # SHAInet (Crystal), Network#train's log_summery: @logger.info("Epoch: #{e}, Total error: #{@total_error}, MSE:
    # #{@mean_error}") through Crystal's Logger ('I, [time #pid]  INFO -- : ...'), and the later network's Log line
    # 'Epoch: N, Error: x, MSE: y, Time: ts, GPU: n matrices, b bytes' under Crystal's Log formatter
    old = "".join(
        f"I, [2018-03-04 10:00:0{k}.000 +00:00 #4242]  INFO -- : Epoch: {k * 1000}, Total error: {e}, MSE: {e / 8}\n"
        for k, e in enumerate([0.51, 0.31, 0.12])
    )
    series, *_ = parse_log_text(old, "train.log")
    assert series["loss"].values.tolist() == [0.51, 0.31, 0.12]
    new = "".join(
        f"2025-11-16T23:31:39.{k:06d}Z   INFO - sha_inet.network: Epoch: {k * 1000}, Error: {e}, MSE: {e / 8}, "
        f"Time: 0.0{k}s, GPU: 0 matrices, 0 bytes\n"
        for k, e in enumerate([0.12508, 0.125059, 0.125059])
    )
    series, *_ = parse_log_text(new, "train.log")
    assert series["loss"].values.tolist() == [0.12508, 0.125059, 0.125059]
    assert "mse" in series  # kept as the metric it is


@pytest.mark.parametrize(
    "line, loss",
    [
        ("epoch 3, error 0.412", 0.412),  # a GloVe binding's print("epoch %d, error %.3f" % (epoch, err))
        ("Iteration: 7 ; error = nan", math.nan),
        ("iter 40 avg error: 1.5e+02", 150.0),
        ("epoch 2 error 0.5 val_error 0.6", 0.5),
    ],
)
def test_an_error_the_loop_prints_alone_is_the_loss(line, loss):
    got = _loss_of(line)
    assert got is not None and (got == loss or (math.isnan(got) and math.isnan(loss)))


# ---------------------------------------------------------------- look-alikes: rates, metrics, messages


@pytest.mark.parametrize(
    "line",
    [
        # a classification error beside its accuracy (1 - accuracy)
        "Epoch 3 error: 0.2300 accuracy: 0.7700",
        # the Theano tutorials' logistic_sgd.py / mlp.py: 'epoch %i, minibatch %i/%i, validation error %f %%'
        "epoch 4, minibatch 83/83, validation error 9.125000 %",
        "epoch 4, minibatch 83/83, test error of best model 9.375000 %",
        # a percent after the value, a top-k error, a classification error
        "Epoch 2 Train error: 12.3%",
        "epoch 1, top-1 error 23.51, top-5 error 7.12",
        "Iter 100 classification error: 0.2",
        # a regression metric named in full, and the word 'train' that names no reading
        "Epoch 1 mean absolute error 0.3",
        "epoch 2 train error = 0.12",
        # messages: an error code, a count, a number with no step and no reading
        "[12345.678] python[4242]: segfault at 0 ip 00007f3a sp 00007ffd error 4 in libc.so.6",
        "epoch 3 error: 3 files failed",
        "Error: 0.12",
    ],
)
def test_an_error_rate_metric_or_message_is_no_loss(line):
    assert _loss_of(line) is None


def test_cntk_err_beside_its_criterion_stays_a_metric():
    # CNTK's SGD epoch summary: 'Finished Epoch[%2d of %d]: [Training] ce = %.8f * %d; err = %.8f * %d; ...'
    line = "Finished Epoch[ 1 of 10]: [Training] ce = 2.30258509 * 60000; err = 0.80000000 * 60000; lr = 0.01"
    lm = scan_line(line)
    found, _ = main_loss_and_basis(lm.pairs, lm.score_is_loss, lm.error_is_loss)
    assert dict(found)["loss"] == pytest.approx(2.30258509)
    assert dict(found)["err"] == pytest.approx(0.8)


def test_a_mean_absolute_error_beside_the_loss_stays_a_metric():
    # a Keras-style custom print: 'Epoch %d loss %.4f mean absolute error %.4f'
    text = "".join(f"Epoch {k} loss {0.5 / k:.4f} mean absolute error {0.3 / k:.4f}\n" for k in range(1, 4))
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].values.tolist() == [0.5, 0.25, 0.1667]


def test_an_error_in_a_traceback_is_no_loss():
    text = (
        "Iteration: 10 ; error = 0.5000\n"
        "Traceback (most recent call last):\n"
        '  File "mf.py", line 80, in sgd\n'
        "    self.P[i, :] += self.alpha * (e * self.Q[j, :] - self.beta * self.P[i,:])\n"
        "RuntimeError: error 3\n"
    )
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].values.tolist() == [0.5]
