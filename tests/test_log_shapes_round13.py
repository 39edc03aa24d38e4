"""Issue #11, thirteenth round: classes of heldout11's unread losses (docs/logs.md), each on lines built from the
toolkit's own format string (named in a comment), with look-alikes that must read as before.
"""

import math

import pytest

from forensics.readers.logmetrics import hartree_energy, loss_statistics, main_loss_and_basis, metric_name, scan_line
from forensics.readers.logs import parse_log_text, read_job_log
from forensics.records import Kind, Source


def _read(text, filename="train.log", tmp_path=None):
    """The series read from ``text``, and the source note when the log is written out (tmp_path)."""
    series, *_ = parse_log_text(text, filename)
    if tmp_path is None:
        return series, ""
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    return series, read_job_log(path, Source(filename, Kind.JOB_LOG, size=path.stat().st_size)).source.note or ""


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


# ---------------------------------------------------------------- MXNet's EvalMetric names, one a line


def _speedometer(epoch, batch, speed, name, value):
    # MXNet 0.x's callback.Speedometer (python/mxnet/callback.py, 0.9-era) logs each metric of the batch on its own
    # line: logging.info('Epoch[%d] Batch [%d]\tSpeed: %.2f samples/sec\tTrain-%s=%f', epoch, count, speed, name, value)
    return f"Epoch[{epoch}] Batch [{batch}]\tSpeed: {speed:.2f} samples/sec\tTrain-{name}={value:f}"


def test_a_criterion_named_alone_on_mxnets_speedometer_line_is_the_loss():
    # the SSD example's MultiBoxMetric names Acc, ObjectAcc and SmoothL1: the smooth-L1 criterion is the loss
    lines = []
    for batch, loss in ((20, 23.4), (40, 22.9), (60, math.nan)):
        lines += [
            _speedometer(0, batch, 20.25, n, v) for n, v in (("Acc", 0.87), ("ObjectAcc", 0.6), ("SmoothL1", loss))
        ]
    got, _ = _read("\n".join(lines) + "\n")
    points = _points(got, "loss")
    assert [s for s, _ in points] == [20, 40, 60] and points[0][1] == 23.4 and math.isnan(points[-1][1])
    assert "train-acc" in got
    # alone on its lines too (no other metric beside it to hint at one)
    got, _ = _read("\n".join(_speedometer(0, b, 20.0, "SmoothL1", 2.0 - b / 100) for b in (20, 40, 60)) + "\n")
    assert [s for s, _ in _points(got, "loss")] == [20, 40, 60]


def test_mxnets_time_cost_is_no_loss():
    # MXNet's Module.fit (mxnet/module/base_module.py, 0.9 to 1.9): self.logger.info('Epoch[%d] Time cost=%.3f', ...)
    assert scan_line("Epoch[0] Time cost=585.188").pairs == []
    assert metric_name(("Time", "cost")) is None
    # a cost named by no time word is still the objective read as before
    assert main_loss_and_basis(scan_line("Epoch 3, cost = 0.52").pairs)[0] == [("loss", 0.52)]
    assert scan_line("train cost 3.2").pairs == [("cost", 3.2)]


def _epoch_end(epoch, name, value):
    # MXNet 0.x's Module.fit at an epoch's end: for name, val in eval_name_vals: self.logger.info('Epoch[%d]
    # Train-%s=%f', epoch, name, val); EvalMetric.get() gives NaN for a metric that has seen no batch since its reset
    return f"Epoch[{epoch}] Train-{name}={value:f}"


def test_an_epochs_empty_metric_after_the_speedometers_reset_is_no_nan_loss():
    lines = [_speedometer(0, b, 20.0, "SmoothL1", 2.0 - b / 100) for b in (20, 40, 60)]
    lines += [_epoch_end(0, "Acc", math.nan), _epoch_end(0, "SmoothL1", math.nan), "Epoch[0] Time cost=585.188"]
    lines += [_speedometer(1, b, 20.0, "SmoothL1", 1.0 - b / 100) for b in (20, 40)]
    got, _ = _read("\n".join(lines) + "\n")
    assert all(math.isfinite(v) for _, v in _points(got, "loss"))
    assert not any(math.isnan(v) for tag in got for v in got[tag].values.tolist())
    # with no Speedometer line before it the epoch's NaN is the run's, read as before
    got, _ = _read(_epoch_end(0, "SmoothL1", 2.0) + "\n" + _epoch_end(1, "SmoothL1", math.nan) + "\n")
    assert any(math.isnan(v) for tag in got for v in got[tag].values.tolist())
    # a batch's NaN on the Speedometer's own line is read
    got, _ = _read(_speedometer(0, 20, 20.0, "SmoothL1", 2.0) + "\n" + _speedometer(0, 40, 20.0, "SmoothL1", math.nan))
    assert math.isnan(_points(got, "loss")[-1][1])


@pytest.mark.parametrize(
    "line",
    [
        "Epoch[0] Batch [20]\tSpeed: 20.25 samples/sec\tTrain-Acc=0.87",  # an accuracy alone
        "Epoch[0] Validation-SmoothL1=19.23",  # an evaluation's criterion: never the training loss
        "focal length: 35.0",  # a criterion's word in another sense, no metric name
    ],
)
def test_criterion_look_alikes_give_no_training_loss(line):
    got, _ = _read(line + "\n" + line + "\n")
    assert "loss" not in got


# ---------------------------------------------------------------- a training perplexity under its stage's name


def test_sockeyes_train_perplexity_is_read_as_the_log_of_it(tmp_path):
    # Sockeye 2.x (sockeye/training.py, May 2020) logs each checkpoint's metrics by MXNet's EvalMetric convention:
    # logger.info('Checkpoint [%d]\t%s', checkpoint, '\t'.join('Train-%s=%f' % (name, value) ...))
    text = "".join(
        f"[2020-05-14:17:46:36:INFO:sockeye.training:fit] Checkpoint [{c}] Train-perplexity={p:f}\n"
        f"[2020-05-14:17:46:38:INFO:sockeye.training:fit] Checkpoint [{c}] Validation-perplexity={p - 1:f}\n"
        for c, p in ((1, 12.0), (2, 6.0), (3, 2.6))
    )
    got, note = _read(text, tmp_path=tmp_path)
    values = [v for _, v in _points(got, "loss")]
    assert values == pytest.approx([math.log(12.0), math.log(6.0), math.log(2.6)])
    assert "the log of 'train-perplexity'" in note
    # an evaluation's perplexity alone is no training loss
    assert main_loss_and_basis([("validation-perplexity", 1.35)])[0] == [("validation-perplexity", 1.35)]


# ---------------------------------------------------------------- a loss's statistics over the epoch


def _stats_line(stage, lo, avg, hi):
    # a warp-ctc OCR trainer (SeanNaren/warp-ctc's binding, 2018): print('%s loss (min, avg, max): (%.3f, %.3f, %.3f)'
    # % (stage, min, avg, max)) once an epoch, for the training and for the validation batches
    return f"{stage} loss (min, avg, max): ({lo:.3f}, {avg:.3f}, {hi:.3f})"


def test_the_mean_of_a_losss_printed_statistics_is_the_loss():
    text = "".join(
        f"Epochs:[{e}]/[25]\n{_stats_line('train', -0.2, a, 1152.6)}\n{_stats_line('validation', 0.1, v, 9.0)}\n"
        for e, a, v in ((1, 5.5, 4.0), (2, 3.2, 3.9), (3, math.nan, math.nan))
    )
    got, _ = _read(text)
    train = [v for _, v in _points(got, "loss")]
    assert train[:2] == [5.5, 3.2] and math.isnan(train[2])
    assert [v for _, v in _points(got, "val_loss")][:2] == [4.0, 3.9]
    # the statistics in another order, the mean named 'mean'
    assert loss_statistics("Loss (max, mean, min): [9.0, 2.5, 0.1]").pairs == [("loss", 2.5)]


@pytest.mark.parametrize(
    "line",
    [
        "train loss (min, max): (0.1, 9.0)",  # no mean among them
        "train loss (min, avg, max): (0.1, 2.5)",  # the names and the values do not pair up
        "box loss (min, avg, max): (0.1, 2.5, 9.0)",  # a term's statistics, not the loss's
        "loss (avg): 2.5",  # one statistic, printed as a name's qualifier: read by the line's reader
    ],
)
def test_loss_statistics_look_alikes_are_not_read_as_such(line):
    assert loss_statistics(line) is None


# ---------------------------------------------------------------- a VMC trainer's energy


def _ferminet(step, energy, variance, pmove):
    # FermiNet (google-deepmind/ferminet, ferminet/train.py, 2020-2024): logging.info('Step %05d: %03.4f E_h,
    # variance=%03.4f E_h^2, pmove=%0.2f', t, loss, variance, pmove), under absl's 'INFO:absl:' prefix
    return f"INFO:absl:Step {step:05d}: {energy:03.4f} E_h, variance={variance:03.4f} E_h^2, pmove={pmove:0.2f}"


def test_ferminets_energy_is_the_loss_at_its_step(tmp_path):
    text = "".join(
        _ferminet(s, e, v, 0.5) + "\n"
        for s, e, v in ((3453, -14.9193, 0.13), (3454, -14.9189, 0.04), (3455, math.nan, math.nan))
    )
    got, note = _read(text, tmp_path=tmp_path)
    points = _points(got, "loss")
    assert [s for s, _ in points] == [3453, 3454, 3455] and points[0][1] == -14.9193 and math.isnan(points[2][1])
    assert "energy in Hartree" in note
    # a fork's 'energy=' before the value reads the same
    assert hartree_energy("Step 00009: energy=-7.4801 E_h, variance=0.01 E_h^2").pairs == [("loss", -7.4801)]


@pytest.mark.parametrize(
    "line",
    [
        "Step 00010: variance=0.0626 E_h^2, pmove=0.52",  # no energy printed
        "kinetic=3.2 E_h, ewald=-1.0 E_h",  # energies of no step: terms, not the objective
        "Step 10: 5 E_hx",  # no unit
    ],
)
def test_hartree_look_alikes_are_no_energy(line):
    assert hartree_energy(line) is None
