"""A job log's step axis beside a record of global steps.

A console log's steps are global steps when it reads them off a counter of global steps that never
goes back. Steps worked out from an epoch counter (epochs before x an epoch's length + the count
within the epoch) or a counter that went back (a job restarted, two loops printing into one file) may
not be: where a recording source (event files, a metrics store, trainer_state.json) saw a finite loss
at or after the log's non-finite step, the record's step is the run's. No step the report states is
ever below 0.

The folders hold the event files of sample_runs/torch_lr_schedule_spike (an LR jump at step 160,
the loss inf at step 178) and a train.log written in a toolkit's own print format, named at each.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import forensics
from forensics.readers.logs import parse_log_text, read_job_log
from forensics.records import Kind, Source, Status
from forensics.report.model import Report

SAMPLE = Path(__file__).resolve().parents[1] / "sample_runs" / "torch_lr_schedule_spike"

# eriklindernoren/PyTorch-YOLOv3 train.py (2018): print(_YOLOV3 % (epoch, opt.epochs, batch_i, len(dataloader),
# losses["x"], ..., losses["cls"], loss.item(), losses["recall"], losses["precision"])), epochs from 0
_YOLOV3 = (
    "[Epoch %d/%d, Batch %d/%d] [Losses: x %f, y %f, w %f, h %f, conf %f, cls %f, total %f, recall: %.5f, "
    "precision: %.5f]\n"
)
# pytorch/examples mnist/main.py: print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(epoch,
# batch_idx * len(data), len(train_loader.dataset), 100. * batch_idx / len(train_loader), loss.item())),
# epochs from 1
_MNIST = "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}\n"
# sample_runs/gen_torch.py, the loop that made torch_lr_schedule_spike: a global step counter
_SAMPLE_LOOP = "step {} | loss {:.4f} | lr {:.1e} | grad_norm {:.3g}\n"


def _yolov3(epoch: int, batch: int, total: float, batches: int = 9) -> str:
    term = total / 6 if math.isfinite(total) else total
    return _YOLOV3 % (epoch, 30, batch, batches, term, term, term, term, 0.75, term, total, 0.1, 0.2)


def _mnist(epoch: int, batch: int, loss: float, batches: int = 9) -> str:
    return _MNIST.format(epoch, batch * 64, batches * 64, 100.0 * batch / batches, loss)


def _loop(step: int, loss: float) -> str:
    return _SAMPLE_LOOP.format(step, loss, 0.05, 0.2)


def _run(tmp_path: Path, log: str | None, events: bool = True, name: str = "run") -> Path:
    run = tmp_path / name
    run.mkdir()
    if events:
        shutil.copytree(SAMPLE / "logs", run / "logs")
    if log is not None:
        (run / "train.log").write_text(log)
    return run


def _no_step_below_zero(report: Report) -> None:
    tl = report.timeline
    assert report.first_nonfinite_step is None or report.first_nonfinite_step >= 0
    for s in (tl.loss, tl.loss_all, tl.lr, tl.grad_norm, tl.val_loss, *tl.other_losses):
        if s is not None and len(s):
            assert int(s.steps.min()) >= 0, (s.tag, s.source, s.steps.min())
    for nf in (tl.first_nonfinite, *tl.nonfinite_by_role.values()):
        if nf is not None:
            assert nf.step >= 0 and (nf.last_finite_step is None or nf.last_finite_step >= 0), nf
    assert all(e.step is None or e.step >= 0 for _, e in tl.log_events)


@pytest.fixture(scope="module")
def events_alone(tmp_path_factory) -> Report:
    return forensics.analyze(_run(tmp_path_factory.mktemp("alone"), None))


# ---------------------------------------------------------------- the reader


def test_an_epoch_counter_started_again_from_0_counts_from_there():
    """Epochs from 1 (pytorch/examples' mnist loop), then a second loop's 0-based PyTorch-YOLOv3 lines: its
    epoch 0 counted from the first loop's base 1 was a step below 0 (batch 1 of epoch 0 at -8)."""
    text = "".join(_mnist(e, b, 2.3 - 0.1 * e) for e in range(1, 11) for b in (3, 6, 9))
    text += _yolov3(0, 1, math.nan)
    series, *_ = parse_log_text(text, "train.log")
    assert all(int(s.steps.min()) >= 0 for s in series.values())
    loss = series["loss"]
    assert np.isnan(loss.values[-1]) and int(loss.steps[-1]) == 1  # batch 1 of the epoch counted again from 0
    assert int(loss.segment[-1]) == 1  # the counter went back: a new segment, as a step counter's restart


def test_a_keras_progbar_under_a_loop_s_own_0_based_epoch_header_is_no_step_below_0():
    # a loop of its own prints f"Epoch {epoch}/{epochs}" from 0 over tf.keras.utils.Progbar's
    # "10/10 [==============================] - 0s 3ms/step - loss: 2.3000" (Keras 2.x Progbar)
    bar = "{n}/10 [==============================] - 0s 3ms/step - loss: {v:.4f}\n"
    text = "".join(f"Epoch {e}/3\n" + "".join(bar.format(n=n, v=1.0 / (e + n)) for n in (5, 10)) for e in range(3))
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].steps.tolist() == [5, 10, 15, 20, 25, 30]


def test_steps_worked_out_from_an_epoch_are_said_so_and_read_steps_are_not(tmp_path):
    src = Source(path="train.log", kind=Kind.JOB_LOG, size=0, status=Status.OK)
    worked = tmp_path / "worked.log"
    worked.write_text("".join(_yolov3(e, b, 9.0 - e) for e in range(3) for b in (3, 6, 9)))
    assert "loss" in read_job_log(worked, src).inferred_tags
    read = tmp_path / "read.log"
    read.write_text("".join(_loop(s, 0.05) for s in range(10, 100, 10)))
    assert read_job_log(read, src).inferred_tags == frozenset()


# ---------------------------------------------------------------- a log beside the event files


_RESTARTS = {
    # the brief's shape: a first loop's epochs from 1, then a second loop's 0-based lines ending in NaN
    "two_loops": "".join(_mnist(e, b, 2.3 - 0.1 * e) for e in range(1, 11) for b in (3, 6, 9))
    + _yolov3(0, 1, math.nan),
    # PyTorch-YOLOv3 started again in the same file: its epoch counter goes back to 0, then NaN
    "job_restarted": "".join(_yolov3(e, b, 9.0 - e) for e in range(5) for b in (3, 6, 9)) + _yolov3(0, 4, math.nan),
    # the sample loop's global counter starting again (a second run appended), NaN at its step 40
    "counter_restarted": "".join(_loop(s, 1.0 / s) for s in range(10, 160, 10))
    + "".join(_loop(s, 1.0 / s) for s in (10, 20, 30))
    + _loop(40, math.nan),
}


@pytest.mark.parametrize("shape", sorted(_RESTARTS))
def test_a_log_whose_steps_went_back_leaves_the_record_s_step(tmp_path, events_alone, shape):
    report = forensics.analyze(_run(tmp_path, _RESTARTS[shape]))
    _no_step_below_zero(report)
    nf = report.timeline.first_nonfinite
    assert (report.first_nonfinite_step, nf.last_finite_step) == (178, 177)
    assert nf.source.startswith("logs/events.out.tfevents")
    assert (report.verdict.cause, report.verdict.detail) == (events_alone.verdict.cause, events_alone.verdict.detail)
    assert report.verdict.confidence == pytest.approx(events_alone.verdict.confidence, abs=0.02)
    # the log's finding is still there, where it was seen, and the report says why it is not the step
    seen = [n for n, _ in report.timeline.nonfinite_set_aside]
    assert {n.source for n in seen} == {"train.log"} and math.isnan(seen[0].value)
    assert any(s.source == "train.log" and np.isnan(s.values).any() for s in report.timeline.other_losses)
    assert "where the recorded loss was still finite" in report.to_markdown()


def test_a_log_that_agrees_with_the_events_changes_nothing(tmp_path, events_alone):
    """The sample loop's own print at its global steps, inf at 178 as the events: the log's step stands."""
    text = "".join(_loop(s, 0.05) for s in range(10, 171, 10)) + _loop(178, math.inf)
    report = forensics.analyze(_run(tmp_path, text))
    assert report.first_nonfinite_step == 178 and not report.timeline.nonfinite_set_aside
    assert (report.verdict.cause, report.verdict.detail) == (events_alone.verdict.cause, events_alone.verdict.detail)


def test_a_log_with_consistent_epoch_based_steps_changes_nothing(tmp_path):
    """PyTorch-YOLOv3's epoch and batch (9 a epoch, from 0) worked out to step 178 = 19 x 9 + 7: worked out,
    but after the record's last finite point, so nothing contradicts it; alone it places the NaN there too."""
    text = "".join(_yolov3(e, b, 0.05) for e in range(19) for b in (3, 6, 9)) + _yolov3(19, 7, math.inf)
    beside = forensics.analyze(_run(tmp_path, text))
    assert beside.first_nonfinite_step == 178 and not beside.timeline.nonfinite_set_aside
    alone = forensics.analyze(_run(tmp_path, text, events=False, name="alone"))
    assert alone.first_nonfinite_step == 178 and alone.timeline.first_nonfinite.source == "train.log"


def test_a_log_earlier_than_the_events_at_read_steps_keeps_its_step(tmp_path):
    """A log that reads its steps off a global counter and never goes back may catch a NaN the event
    writer did not (another reduction of the loss, a writer that lost its last points): it stands."""
    text = "".join(_loop(s, 0.05) for s in range(10, 171, 10)) + _loop(175, math.nan)
    report = forensics.analyze(_run(tmp_path, text))
    assert report.first_nonfinite_step == 175 and report.timeline.first_nonfinite.source == "train.log"


def test_a_log_alone_with_a_restart_is_read_as_before(tmp_path):
    """No record to hold it against: the restarted counter's own step, in the history that led to it."""
    report = forensics.analyze(_run(tmp_path, _RESTARTS["counter_restarted"], events=False))
    nf = report.timeline.first_nonfinite
    assert (nf.step, nf.last_finite_step, nf.source) == (40, 30, "train.log")
    assert not report.timeline.nonfinite_set_aside


@pytest.mark.parametrize("shape", ["two_loops", "job_restarted"])
def test_a_log_alone_whose_epoch_counter_started_again_states_no_step_below_0(tmp_path, shape):
    report = forensics.analyze(_run(tmp_path, _RESTARTS[shape], events=False))
    _no_step_below_zero(report)
    assert report.diverged and report.timeline.first_nonfinite.source == "train.log"


def test_a_record_with_no_nonfinite_point_places_the_log_s_after_its_last_one(tmp_path):
    """Lightning's CSVLogger metrics.csv (columns: the logged keys, then 'epoch' and 'step') finite up to
    step 150, and a log whose counter went back printing NaN at its step 40: the NaN came after the last
    point the record kept, and is said so, not at 40 where the record was finite."""
    run = _run(tmp_path, _RESTARTS["counter_restarted"], events=False)
    rows = "".join(f"{1.0 / s:.4f},0,{s}\n" for s in range(10, 160, 10))
    (run / "metrics.csv").write_text("train_loss,epoch,step\n" + rows)
    report = forensics.analyze(run)
    _no_step_below_zero(report)
    nf = report.timeline.first_nonfinite
    assert nf.after_record and (nf.step, nf.last_finite_step) == (150, 150) and math.isnan(nf.value)
    assert "went non-finite after step 150" in report.verdict.summary
    assert [(n.step, n.source) for n, _ in report.timeline.nonfinite_set_aside] == [(40, "train.log")]
    # the report says so everywhere: step 150 is the record's last finite point, not a non-finite one
    md = report.to_markdown()
    assert "First non-finite `loss` after step 150, the last recorded point" in md
    assert "| 150 ← last recorded, non-finite after it |" in md and "← first non-finite" not in md


def test_a_nan_straight_from_a_steady_loss_placed_after_the_record_is_said_after_it(tmp_path):
    """The same with a loss that stays at its level (DATA005, a NaN straight from a normal loss): its message
    says the NaN came after the record's last point, not at it (where the record holds a finite loss)."""
    from forensics.rules.data_or_labels import sudden_nonfinite

    log = "".join(_loop(s, 2.0 - s / 1000) for s in range(10, 160, 10))
    run = _run(tmp_path, log + "".join(_loop(s, 2.0 - s / 1000) for s in (100, 110)) + _loop(120, math.nan), False)
    rows = "".join(f"{2.0 - s / 1000:.4f},0,{s}\n" for s in range(10, 210, 10))
    (run / "metrics.csv").write_text("train_loss,epoch,step\n" + rows)
    report = forensics.analyze(run)
    assert report.timeline.first_nonfinite.after_record and report.first_nonfinite_step == 200
    (finding,) = sudden_nonfinite(report.timeline)
    assert "straight to NaN after step 200, the last recorded point," in finding.message
