"""Shapes the heldout8 real logs showed the tool reading wrong or not at all (docs/logs.md), after that split
was measured once blind: each class on lines written here from the toolkit's own format string (toolkit and
source file named beside; the pasted logs stay outside the repository), with look-alikes that must not move.
"""

# ruff: noqa: UP031, UP032 (the toolkits' own %-format strings are kept as they wrote them)

from __future__ import annotations

import math

import pytest

import forensics
from forensics.readers.logmetrics import headerless_row
from forensics.readers.logs import parse_log_text

NAN = float("nan")


# ---------------------------------------------------------------- a counter before the colon, or a rank


def _region_loss(seen: int, total: float) -> str:
    """pytorch-yolo2's region_loss.py (and its forks): print('%d: nGT %d, recall %d, proposals %d, loss: x %f,
    y %f, w %f, h %f, conf %f, cls %f, total %f' % (self.seen, ...)) on every batch; self.seen counts the
    images seen so far, so it grows by the batch size line by line."""
    x = total / 6
    fmt = "%d: nGT %d, recall %d, proposals %d, loss: x %f, y %f, w %f, h %f, conf %f, cls %f, total %f\n"
    return fmt % (seen, 3, 1, 12, x, x, x, x, x, x, total)


def test_a_number_before_each_line_that_grows_is_the_step_not_a_rank():
    # 64 images a batch, from 9,600 seen past 10,000 (four digits to five): one curve on the images seen
    seen = list(range(9600, 10432, 64))
    totals = [9.0 - 0.1 * i for i in range(len(seen) - 3)] + [NAN, NAN, NAN]
    series, *_ = parse_log_text("".join(_region_loss(s, t) for s, t in zip(seen, totals, strict=True)))
    assert not any("@rank" in tag for tag in series)
    loss = series["loss"]
    assert loss.steps.tolist() == seen
    assert math.isnan(loss.values[-3]) and loss.values[0] == 9.0
    assert "loss_x" in series and series["loss_x"].steps.tolist() == seen


def test_a_short_paste_of_two_growing_counters_is_read_the_same():
    series, *_ = parse_log_text(_region_loss(7731, 9.1) + _region_loss(7795, NAN))
    assert series["loss"].steps.tolist() == [7731, 7795]
    assert len(series) == len({tag for tag in series if "@" not in tag})


def test_a_launchers_ranks_that_come_back_stay_ranks():
    # srun --label: "0: " ... "1: " interleaved, each rank printing its own step and loss
    text = "".join(f"{r}: step {s} loss {2.0 - 0.1 * s + r / 10:.3f}\n" for s in range(1, 6) for r in (0, 1))
    series, *_ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert series["loss@rank1"].steps.tolist() == [1, 2, 3, 4, 5]


def test_ranks_printing_in_order_then_again_are_ranks():
    # every rank prints its start-up line in rank order, then its losses: the numbers come back
    text = "".join(f"{r}: initialised process group\n" for r in range(4))
    text += "".join(f"{r}: step {s} loss {1.5 - 0.1 * s:.3f}\n" for s in range(1, 4) for r in range(4))
    series, *_ = parse_log_text(text)
    assert {"loss", "loss@rank1", "loss@rank2", "loss@rank3"} <= set(series)


def test_one_rank_prefixed_line_stays_a_rank_and_a_counter_with_its_value_stays_darknets():
    series, *_ = parse_log_text("3: step 7 loss 0.5\n")
    assert series["loss"].steps.tolist() == [7]  # one rank's line: its own step, as before
    # darknet (AlexeyAB, src/detector.c): printf("\\n %d: %f, %f avg loss, %f rate, %lf seconds, %d images, ...")
    # with the blank lost in a paste: the number before another number is the iteration, never a lead
    text = "".join(f"{i}: {3.0 - 0.01 * i:.6f}, {3.1 - 0.01 * i:.6f} avg loss, 0.001000 rate, 2.5 seconds, 64 images\n"
                   for i in range(1, 6))  # fmt: skip
    series, *_ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- lines that carry only their epoch


def _epoch_print(epochs: list[list[float]], accuracy_every: int = 3) -> str:
    """A fine-tuning loop's print('epoch: ', epoch, 'loss: ', loss.item()) on every batch (two blanks: print's
    separator after the string's own), and print("Validation Accuracy: {}".format(acc)) every few batches."""
    out = ""
    for epoch, losses in enumerate(epochs):
        for i, loss in enumerate(losses):
            out += f"epoch:  {epoch} loss:  {loss!r}\n"
            if i % accuracy_every == 0:
                out += f"Validation Accuracy: {0.5 + 0.1 * epoch}\n"
    return out + "test Accuracy: 0.949\n"


def test_per_batch_lines_naming_only_their_epoch_are_per_iteration_records():
    epochs = [[0.69 - 0.05 * i for i in range(6)], [0.4, 0.35, NAN, 0.33, 0.31, 0.3]]
    series, *_ = parse_log_text(_epoch_print(epochs))
    assert "loss" in series and "loss_epoch" not in series
    loss = series["loss"]
    assert len(loss.steps) == 12
    # the NaN of one batch is its own point, in its place within its epoch (not hidden by the epoch's last line)
    assert math.isnan(loss.values[8]) and not math.isnan(loss.values[-1])
    assert list(loss.steps) == sorted(loss.steps)
    # the accuracy lines are numbered in the same order, between the batches they were printed after
    accuracy = series["val_accuracy"]
    assert set(accuracy.steps.tolist()).isdisjoint(loss.steps.tolist())


def test_the_report_says_the_records_were_numbered_in_order(tmp_path):
    (tmp_path / "nohup.out").write_text(_epoch_print([[0.69 - 0.05 * i for i in range(6)]] * 3))
    report = forensics.analyze(str(tmp_path))
    assert any("per-iteration records" in (s.note or "") for s in report.sources)
    assert report.diverged is False


def test_one_summary_line_per_epoch_stays_per_epoch():
    text = "".join(f"epoch: {e} loss: {1.0 - 0.1 * e:.4f}\n" for e in range(6))
    series, *_ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [1, 2, 3, 4, 5, 6]
    # a summary printed twice (console and file handler) is still one per epoch
    text = "".join(f"epoch: {e} loss: {1.0 - 0.1 * e:.4f}\n" * 3 for e in range(6))
    series, *_ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [1, 2, 3, 4, 5, 6]


def test_per_batch_epoch_lines_beside_a_step_counter_stay_epoch_level():
    # a tqdm bar gives the steps: line order cannot be put beside them, the epoch lines keep their epochs
    text = ""
    for e in range(2):
        for i in range(1, 5):
            text += f"{i * 25}%|##  | {i}/4 [00:01<00:02, 2.0it/s, loss={0.5 - 0.01 * i:.3f}]\n"
            text += f"epoch: {e} loss: {0.5 - 0.01 * i:.4f}\n"
    series, *_ = parse_log_text(text)
    assert "loss_epoch" in series and series["loss_epoch"].steps.tolist() == [1, 2]


# ---------------------------------------------------------------- a progress row with no header


def _yolov5_row(epoch: int, epochs: int, mem: float, mloss: list[float], i: int, n: int, total: bool = True) -> str:
    """ultralytics YOLOv5 train.py of 2020: s = ('%10s' * 2 + '%10.4g' * 6) % ('%g/%g' % (epoch, epochs - 1), mem,
    *mloss, targets.shape[0], imgs.shape[-1]) with mem = '%.3gG' % (memory / 1E9), set as the tqdm bar's
    description; YOLOv5 6.x prints '%10.4g' * 5, three terms and no total."""
    cols = [*mloss, sum(mloss)] if total else mloss
    fmt = "%10s" * 2 + "%10.4g" * (len(cols) + 2)
    s = fmt % ("%g/%g" % (epoch, epochs - 1), "%.3gG" % mem, *cols, 130, 800)
    bar = "#" * (10 * i // n) + " " * (10 - 10 * i // n)
    return f"{s}: {100 * i // n:3d}%|{bar}| {i}/{n} [00:15<00:02,  1.66it/s]"


def test_a_yolov5_bar_row_pasted_without_its_header_gives_its_loss():
    guard = "WARNING: non-finite loss, ending training  tensor([nan, nan, nan, nan], device='cuda:0')"
    terms = [0.03433, 0.01034, 0.01147]
    text = _yolov5_row(16, 1000, 7.38, terms, 22, 27) + "\n" + _yolov5_row(16, 1000, 7.38, terms, 23, 27) + guard
    series, events, *_ = parse_log_text(text + "\n")
    assert series["loss"].values.tolist() == [0.05614, 0.05614]  # the total column, not the sum with it
    assert any(e.kind == "nan_loss" for e in events)


def test_a_headerless_row_with_no_total_column_sums_its_terms():
    row = _yolov5_row(3, 300, 2.61, [0.05, 0.02, 0.01], 5, 10, total=False).split(":")[0]
    lm = headerless_row(row)
    assert lm is not None and lm.epoch == 3 and lm.pairs == [("loss", 0.08)]
    nan_row = _yolov5_row(3, 300, 2.61, [NAN, 0.02, 0.01], 5, 10, total=False).split(":")[0]
    assert math.isnan(headerless_row(nan_row).pairs[0][1])


def test_rows_that_are_no_detectors_row_are_not_read_so():
    assert headerless_row("3/10") is None
    assert headerless_row("1/3 1.2G 5 640") is None  # one number before the counts: no loss columns
    assert headerless_row("3/10 loss 0.5 acc 0.9 12 640") is None
    assert headerless_row("all 10 1.08e+04 0 0 0 0") is None  # the evaluation row under its Class header


# ---------------------------------------------------------------- a record printed over several lines


def _fpn_block(step: int, rpn_loc: float, rpn_cla: float, frc_loc: float, frc_cla: float) -> str:
    """DetectionTeamUCAS FPN_Tensorflow train.py: print(\"\"\" {}: step{}    image_name:{} |\\t
    rpn_loc_loss:{} |\\t rpn_cla_loss:{} |\\t rpn_total_loss:{} |
    fast_rcnn_loc_loss:{} |\\t fast_rcnn_cla_loss:{} |\\t fast_rcnn_total_loss:{} |
    total_loss:{} |\\t per_cost_time:{}s\"\"\".format(training_time, global_stepnp, str(img_name[0]), ...)),
    its continuation lines indented as the source is."""
    rpn, frc = rpn_loc + rpn_cla, frc_loc + frc_cla
    pad = " " * 30
    return (
        f" 2018-07-20 10:21:{step % 60:02d}: step{step}    image_name:b'2008_00{step:04d}.jpg' |\t\n"
        f"{pad}rpn_loc_loss:{rpn_loc} |\t rpn_cla_loss:{rpn_cla} |\t rpn_total_loss:{rpn} |\n"
        f"{pad}fast_rcnn_loc_loss:{frc_loc} |\t fast_rcnn_cla_loss:{frc_cla} |\t fast_rcnn_total_loss:{frc} |\n"
        f"{pad}total_loss:{rpn + frc} |\t per_cost_time:0.512s\n"
    )


def test_a_record_printed_over_four_lines_is_one_step_with_its_terms():
    text = "".join(_fpn_block(s, 0.13 - s / 1e4, 0.69, 0.22, 2.0) for s in range(10, 110, 10))
    text += _fpn_block(110, NAN, 0.693, 0.2157, 1.9871) + _fpn_block(120, NAN, 0.6929, NAN, 2.056)
    series, *_ = parse_log_text(text)
    steps = list(range(10, 130, 10))
    for tag in ("loss", "rpn_loc_loss", "rpn_cla_loss", "rpn_total_loss", "fast_rcnn_cla_loss"):
        assert series[tag].steps.tolist() == steps, tag
    loss = series["loss"]
    assert loss.values[0] == pytest.approx(0.13 - 10 / 1e4 + 0.69 + 0.22 + 2.0)  # total_loss, not a stage's total
    assert math.isnan(loss.values[-2])


def test_a_box_term_going_nan_beside_finite_class_terms_in_that_record_is_the_box_data(tmp_path):
    text = "".join(_fpn_block(s, 0.13 - s / 1e4, 0.69, 0.22, 2.0) for s in range(10, 110, 10))
    text += "".join(_fpn_block(s, NAN, 0.69, 0.22, 2.0) for s in range(110, 150, 10))
    (tmp_path / "train.log").write_text(text)
    report = forensics.analyze(str(tmp_path))
    assert report.diverged and report.first_nonfinite_step == 110
    assert report.verdict.cause == "data_or_labels"
    assert "DATA009" in {e.rule for c in report.candidates for e in c.evidence if e.weight > 0}


def test_lines_far_under_a_counter_line_or_of_another_shape_are_not_its_record():
    # a step line, then a metric line three lines further: not the record's (numbered in log order as before)
    text = "step100 checkpoint saved\n\nsome message\nanother message\nacc: 0.5\nacc: 0.6\n"
    series, *_ = parse_log_text(text)
    assert series["accuracy"].steps.tolist() == [1, 2]
    # a name and a number glued inside a word or a file name is no counter
    series, *_ = parse_log_text("saved model_step100.pth\nacc: 0.5\nacc: 0.6\n")
    assert series["accuracy"].steps.tolist() == [1, 2]


# ---------------------------------------------------------------- a counter named with its total's name


def _ner_line(epoch: int, step: int, total: int, loss: float) -> str:
    """A BiLSTM-CRF NER trainer (copied by many): print("Epoch {}, step/total_step: {}/{} {:.2f}% Loss:{:.4f}"
    .format(e, self.step, total_step, 100. * self.step / total_step, losses / self.print_step)), the step reset
    every epoch."""
    return "Epoch {}, step/total_step: {}/{} {:.2f}% Loss:{:.4f}\n".format(
        epoch, step, total, 100.0 * step / total, loss
    )


def test_a_counter_printed_over_the_name_of_its_total_is_the_step():
    text = "".join(_ner_line(e, s, 60, 6.0 / (s / 5) + e) for e in (1, 2, 3) for s in range(5, 65, 5))
    series, *_ = parse_log_text(text)
    assert "step/total_step" not in series  # no metric
    steps = series["loss"].steps.tolist()
    assert len(steps) == 36 and steps == sorted(steps)
    assert steps[-12:] == [2 * 60 + s for s in range(5, 65, 5)]  # per epoch once the counter fell back


def test_a_slash_between_a_counter_and_another_name_is_no_counter():
    from forensics.readers.logmetrics import counter_kind

    assert counter_kind(("global_step/max_steps",)) == "global"
    assert counter_kind(("iter/max_iter",)) == "step"
    assert counter_kind(("step/total_loss",)) is None
    assert counter_kind(("loss/total_loss",)) is None
    assert counter_kind(("step/epoch",)) is None
