"""Classes of loss line the seen real-log splits left unread or misread (docs/logs.md, the heldout7 block):
each on lines written here from the toolkit's own format string (toolkit, version and source named beside; the
pasted logs stay outside the repository), with look-alikes that must not move (a time, a count, an accuracy, a
best-so-far summary never becomes the loss).
"""

from __future__ import annotations

import json
import logging
import math
import pprint

import numpy as np
import pytest

import forensics
from forensics.readers.logmetrics import main_loss_and_basis, scan_line
from forensics.readers.logs import parse_log_text

# ---------------------------------------------------------------- a loss called by another word


def _dl4j_score_lines(scores: list[float], every: int = 100) -> str:
    """Deeplearning4j 1.0.0-beta7 ScoreIterationListener.iterationDone: log.info("Score at iteration {} is {}",
    iteration, score) with Model.score() (the loss, regularisation included), through logback's default pattern
    'HH:mm:ss.SSS [thread] LEVEL logger - message'."""
    logger = "org.deeplearning4j.optimize.listeners.ScoreIterationListener"
    return "".join(
        f"06:{40 + k // 60:02d}:{k % 60:02d}.783 [main] INFO {logger} - Score at iteration {k * every} is {s!r}\n"
        for k, s in enumerate(scores)
    )


def test_deeplearning4j_s_score_at_each_iteration_is_its_loss():
    scores = [1.62, 1.39, 1.21, 1.11, 0.98, 0.91, 0.85]
    series, *_ = parse_log_text(_dl4j_score_lines(scores), "train.log")
    assert series["loss"].steps.tolist() == [0, 100, 200, 300, 400, 500, 600]
    assert series["loss"].values.tolist() == scores
    series, *_ = parse_log_text(_dl4j_score_lines([1.6, 1.4, float("nan")]), "train.log")
    assert math.isnan(series["loss"].values[-1])


def test_deeplearning4j_s_performance_listener_score_is_its_loss():
    # PerformanceListener.iterationDone (reportScore=true): "iteration {}; iteration time: {} ms; samples/sec:
    # {%.3f}; batches/sec: {%.3f}; score: {};" after "ETL: {} ms; "
    line = "ETL: 0 ms; iteration {}; iteration time: 35 ms; samples/sec: 914.286; batches/sec: 28.571; score: {};\n"
    text = "".join(line.format(i, s) for i, s in ((10, 0.69), (20, 0.61), (30, "NaN")))
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].steps.tolist() == [10, 20, 30] and math.isnan(series["loss"].values[-1])
    assert "samples/sec" not in series and "iteration time" not in series  # not fire: rates and times


@pytest.mark.parametrize(
    "line",
    [
        "Episode 10 step 500 score 200.0",  # a reinforcement-learning return: maximised, not a loss
        "step 500 score 0.81 acc 0.77",  # a score among other metrics
        "Epoch 3 validation score 0.8",  # an evaluation's
        "score: 0.93",  # no training counter
        # a bare score at a step in other words than Deeplearning4j's: a training F1 or BLEU, maximised
        "step 300 bleu score: 25.10",
        "Iteration 50, score: 0.8123",
        "global_step 100 score 0.4512",
    ],
)
def test_a_score_that_is_no_training_objective_is_not_the_loss(line):
    lm = scan_line(line)
    assert not lm.score_is_loss
    assert "loss" not in dict(main_loss_and_basis(lm.pairs, lm.score_is_loss)[0])


def test_a_training_time_called_cost_stays_no_loss():
    # GluonCV's '[Epoch {}] Training cost: {:.3f}, ObjLoss=...' (scripts/detection/yolo/train_yolo3.py): the cost
    # is the epoch's seconds; the terms beside it name what is optimised
    line = "[Epoch 3] Training cost: 412.318, ObjLoss=9.021, BoxCenterLoss=3.122, BoxScaleLoss=1.034, ClassLoss=2.51"
    found, basis = main_loss_and_basis(scan_line(line).pairs)
    assert dict(found)["loss"] == pytest.approx(9.021 + 3.122 + 1.034 + 2.51) and "cost" not in (basis or "")


# ---------------------------------------------------------------- the stage word glued between the counters


def _yolov3_tf2_lines(epochs: list[list[float]], stage: str = "train") -> str:
    """yolov3-tf2 (zzh8829, 2019-2021) train.py eager loop: logging.info("{}_train_{}, {}, {}".format(epoch, batch,
    total_loss.numpy(), list(map(lambda x: np.sum(x.numpy()), pred_loss)))), through absl's
    'I1109 23:32:43.466647 140022327723840 train.py:167] ' prefix; the batch counts from 0 in each epoch."""
    out = ""
    for epoch, losses in enumerate(epochs, 1):
        for batch, loss in enumerate(losses):
            terms = [np.float32(loss / 3)] * 3
            out += f"I1109 23:32:43.466647 140022327723840 train.py:167] {epoch}_{stage}_{batch}, {loss}, {terms}\n"
    return out


def test_yolov3_tf2_s_labelled_lines_give_the_total_loss_per_batch():
    series, *_ = parse_log_text(_yolov3_tf2_lines([[1312.8, 1340.9, 1286.7], [900.1, float("nan"), 850.2]]))
    loss = series["loss"]
    assert loss.steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert loss.values[0] == 1312.8 and math.isnan(loss.values[4])
    series, *_ = parse_log_text(_yolov3_tf2_lines([[1400.5, 1390.2]], stage="val"))
    assert series["val_loss"].values.tolist() == [1400.5, 1390.2] and "loss" not in series


@pytest.mark.parametrize("line", ["saved 3_train_100.pt, 0.5 MB", "image 12_train_4, 640x480", "v1_train_3, 0.52"])
def test_a_name_with_a_stage_between_numbers_is_no_label(line):
    assert not scan_line(line).pairs


# ---------------------------------------------------------------- a best-so-far value is a summary


@pytest.mark.parametrize(
    "text",
    [
        "best_validation_loss: inf\n",  # DeepSurv's history dict: the initial best, no non-finite loss
        "Epoch 3: best loss 0.4120\n",
        "new best val_loss: 0.52, saving model\n",
        "lowest loss so far: 0.12\n",
    ],
)
def test_a_best_so_far_value_is_not_the_loss(text):
    series, *_ = parse_log_text(text)
    assert "loss" not in series and "val_loss" not in series


def test_a_best_so_far_line_beside_the_curve_leaves_the_curve_alone():
    text = "step 10 loss 2.3\nstep 20 loss 2.1\nstep 20 best loss: 1.9\nstep 30 loss 2.0\n"
    series, *_ = parse_log_text(text)
    assert series["loss"].values.tolist() == [2.3, 2.1, 2.0]


# ---------------------------------------------------------------- a history printed as lists


def test_keras_history_printed_is_one_point_per_epoch():
    # print(history.history) after model.fit (Keras 2 and 3, tf.keras): a dict of lists of Python floats
    history = {"loss": [0.69, 0.52, 0.41, float("nan")], "accuracy": [0.5, 0.7, 0.8, 0.1], "val_loss": [0.7, 0.6]}
    series, *_ = parse_log_text(f"{history}\n")
    assert series["loss"].steps.tolist() == [1, 2, 3, 4] and math.isnan(series["loss"].values[-1])
    assert series["val_loss"].values.tolist() == [0.7, 0.6]
    assert series["accuracy"].values.tolist() == [0.5, 0.7, 0.8, 0.1]


def test_a_history_dict_pretty_printed_over_many_lines_is_read_whole():
    # DeepSurv (2016-2018) deep_surv.py train() returns a dict of per-epoch lists of numpy 0-d arrays (the
    # 'train' and 'valid' losses) and the best so far; the user's script pprints it. numpy's own repr, pprint's
    # own wrapping.
    nan = float("nan")
    history = {
        "best_params": None,
        "best_valid_ci": 0.5,
        "best_validation_loss": math.inf,
        "train": [np.array(v) for v in (28340558372.04, nan, nan, nan, nan, nan, nan, nan)],
        "train_ci": [0.5] * 8,
        "valid": [np.array(nan) for _ in range(8)],
    }
    text = pprint.pformat(history) + "\n"
    assert "array(nan),\n" in text  # one entry a line, as the paste shows
    series, *_ = parse_log_text(text)
    assert series["loss"].values[0] == pytest.approx(2.834e10, rel=1e-3) and math.isnan(series["loss"].values[1])
    assert len(series["loss"]) == 8 and len(series["val_loss"]) == 8


def test_a_history_after_the_epoch_lines_leaves_their_curve_as_read():
    # Keras's per-epoch lines, then print(history.history): the same values, the curve as the lines gave it
    losses = [1.5 * 0.93**e for e in range(1, 31)]
    lines = "".join(f"Epoch {e}/30 - loss: {v:.4f}\n" for e, v in enumerate(losses, 1))
    series, *_ = parse_log_text(lines + str({"loss": [round(v, 4) for v in losses]}) + "\n")
    assert len(series["loss"]) == 30 and series["loss"].values[-1] == pytest.approx(losses[-1], abs=1e-4)
    # not fire: a shorter list under the same name printed after the run (a setting's values in a config dump)
    # does not cut the curve to its length
    series, *_ = parse_log_text(lines + "config: {'loss': [10.0, 20.0, 30.0]}\n")
    assert len(series["loss"]) == 30 and series["loss"].values.max() < 2
    # fires: a history alone is read (as above)
    series, *_ = parse_log_text("{'loss': [10.0, 20.0, 30.0]}\n")
    assert series["loss"].values.tolist() == [10.0, 20.0, 30.0]


def test_a_list_on_a_step_line_is_that_step_s_values_not_a_history():
    # not fire: mmcv's 'lr: [0.01, 0.001]' (one LR per parameter group) and a step's per-output losses
    lm = scan_line("Epoch [3][100/200] lr: [0.01, 0.001], loss: 0.5")
    assert not lm.curves and ("loss", 0.5) in lm.pairs
    assert not scan_line("step 3 losses: [0.5, 0.3]").curves
    # a list opened and never closed by entries: the lines after it are read as they are
    series, *_ = parse_log_text("{'loss': [0.69,\n  0.5,\nSaving checkpoint\nstep 1 loss 2\nstep 2 loss 1.5\n")
    assert series["loss"].values.tolist() == [2.0, 1.5]


# ---------------------------------------------------------------- counters, JSON, one bare line


def test_a_count_per_epoch_is_no_epoch():
    # "steps per epoch: {}" printed among the settings before training (not fire: it sets no epoch counter)
    lm = scan_line("steps per epoch: 500")
    assert lm.epoch is None and not lm.counters
    text = "steps per epoch: 500\nEpoch 1 step 10 loss 2.3\nEpoch 1 step 20 loss 2.1\n"
    assert parse_log_text(text)[0]["loss"].steps.tolist() == [10, 20]
    lm = scan_line("Loss at step 100 : nan")  # a counter named after its metric still counts
    assert lm.counters == [("step", 100, None)]


def test_json_lines_nested_past_two_levels_are_read_by_leaf_and_stage():
    # json.dumps of a trainer's record with its metrics grouped under the stage and a 'metrics' object
    lines = [
        json.dumps({"step": 1, "train": {"metrics": {"loss": 2.3, "accuracy": 0.2}}}),
        json.dumps({"step": 2, "train": {"metrics": {"loss": 2.1}}, "eval": {"metrics": {"loss": 2.4}}}),
        json.dumps({"step": 3, "train": {"metrics": {"loss": float("nan")}}}),
    ]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert series["loss"].steps.tolist() == [1, 2, 3] and math.isnan(series["loss"].values[-1])
    assert series["val_loss"].values.tolist() == [2.4]
    # not fire: a config object printed as JSON holds no metrics past the depth read
    deep = json.dumps({"model": {"enc": {"layers": {"block": {"loss_weight": 1.0}}}}})
    assert not parse_log_text(deep + "\n")[0]


def test_a_value_in_brackets_after_its_sign_is_the_name_s():
    # "name (=value)": ESPnet 1's logging.warning('loss (=%f) is not correct', loss_data) pairs so
    assert scan_line("loss (=250000064.000000) is not correct").pairs == [("loss", 250000064.0)]
    # but that line is ESPnet's guard: the loss it names is one the trainer left out of its curve, no point
    text = "2018-05-23 13:05:04,260 (e2e_asr_attctc:88) WARNING: loss (=250000064.000000) is not correct\n"
    series, events, *_ = parse_log_text(text * 3)
    assert "loss" not in series and [e.kind for e in events] == ["nonfinite_step_skipped"]


# ---------------------------------------------------------------- a table goes on past another writer's line


def _chainer_rows(observations: list[dict]) -> list[str]:
    """Chainer v7 PrintReport: the header '  '.join of each entry padded to max(10, len(entry)), then each
    observation's cells '{:<%dg}  ' % width (training/extensions/print_report.py)."""
    entries = ["epoch", "iteration", "main/loss", "main/accuracy", "elapsed_time"]
    widths = [max(10, len(s)) for s in entries]
    rows = ["  ".join(f"{e:{w}}" for e, w in zip(entries, widths, strict=True))]
    rows += ["".join(f"{obs[e]:<{w}g}  " for e, w in zip(entries, widths, strict=True)) for obs in observations]
    return rows


def test_a_warning_printed_between_two_rows_of_a_fixed_width_table_does_not_end_it():
    obs = [
        {"epoch": 1, "iteration": 100, "main/loss": 2.3, "main/accuracy": 0.1, "elapsed_time": 10.5},
        {"epoch": 2, "iteration": 200, "main/loss": 1.9, "main/accuracy": 0.3, "elapsed_time": 21.0},
        {"epoch": 3, "iteration": 300, "main/loss": float("nan"), "main/accuracy": 0.1, "elapsed_time": 31.5},
    ]
    rows = _chainer_rows(obs)
    warning = "/usr/lib/python3/site-packages/chainer/functions/math/exponential.py:48: RuntimeWarning: overflow"
    series, *_ = parse_log_text("\n".join([*rows[:3], warning, rows[3]]) + "\n", "log")
    assert series["loss"].steps.tolist() == [100, 200, 300] and math.isnan(series["loss"].values[-1])
    # not fire: two such lines end it (what follows is another writer's output)
    series, *_ = parse_log_text("\n".join([*rows[:3], warning, warning, rows[3]]) + "\n", "log")
    assert series["loss"].steps.tolist() == [100, 200]


# ---------------------------------------------------------------- one bare line is no series


def test_one_bare_counter_and_value_is_read_only_before_a_crash(tmp_path):
    assert "loss" not in parse_log_text("12:\t2.345\n")[0]
    crash = 'Traceback (most recent call last):\n  File "train.py", line 138, in train\nRuntimeError: boom\n'
    series, *_ = parse_log_text("21129:\tnan\n" + crash)
    assert series["loss"].steps.tolist() == [21129]


# ---------------------------------------------------------------- a logger given a non-finite value


def test_tensorboardx_s_warning_on_a_nan_scalar_is_catalogued(tmp_path, caplog):
    from tensorboardX import SummaryWriter

    with caplog.at_level(logging.WARNING, logger="tensorboardX.x2num"):
        writer = SummaryWriter(str(tmp_path / "tb"))
        writer.add_scalar("loss", 2.3, 1)
        writer.add_scalar("loss", float("nan"), 2)
        writer.close()
    warnings = [f"WARNING:{r.name}:{r.getMessage()}" for r in caplog.records if "NaN" in r.getMessage()]
    assert warnings  # the real writer's own warning, in logging's default format
    text = "step 1 loss 2.3\n" + "\n".join(warnings) + "\nstep 2 loss 2.1\n"
    series, events, *_ = parse_log_text(text)
    logged = [e for e in events if e.kind == "nonfinite_logged"]
    assert logged and logged[0].framework == "tensorboardx"
    assert series["loss"].values.tolist() == [2.3, 2.1]  # the warning is no point of the curve


def test_a_logger_s_nan_warning_alone_names_no_cause(tmp_path):
    text = "".join(f"step {i} loss {2.0 - 0.1 * i:.2f}\n" for i in range(1, 12))
    text += "WARNING:tensorboardX.x2num:NaN or Inf found in input tensor.\n"
    (tmp_path / "train.log").write_text(text)
    report = forensics.analyze(str(tmp_path))
    assert report.verdict.cause in ("healthy", "inconclusive")


# ---------------------------------------------------------------- mixed precision stated by a config's name


def _mmengine_lines(losses: list[float], exp_name: str) -> str:
    """mmengine 0.7 (mmpretrain 1.0) LoggerHook.after_train_iter: 'Exp name: {runner.experiment_name}' (the
    config's stem and the run's timestamp) every interval_exp_name iterations, and LogProcessor's
    'Epoch(train) [{epoch}][{iter}/{len}]  lr: ... loss: {loss}' lines, through mmengine's MMFormatter."""
    out = ""
    for k, loss in enumerate(losses, 1):
        out += (
            f"2023/06/09 23:{k:02d}:22 - mmengine - INFO - Epoch(train) [165][{k * 100}/351]  lr: 2.3623e-03  "
            f"eta: 5 days, 22:27:01  time: 0.9934  data_time: 0.0023  memory: 48596  loss: {loss:.4f}\n"
        )
        out += f"2023/06/09 23:{k:02d}:40 - mmengine - INFO - Exp name: {exp_name}\n"
    return out


def test_an_openmmlab_config_named_amp_states_float16(tmp_path):
    text = _mmengine_lines([0.71, 0.69, float("nan")], "mae_vit-base-p16_8xb512-amp-coslr-300e_in1k_20230609_120904")
    _, events, *_ = parse_log_text(text, "20230609_120904.log")
    amp = [e for e in events if e.kind == "mixed_precision"]
    assert len(amp) == 1 and amp[0].values["dtype"] == "float16"  # one event for the repeated line
    (tmp_path / "20230609_120904.log").write_text(text)
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True


@pytest.mark.parametrize(
    "name",
    [
        "mae_vit-base-p16_8xb512-coslr-300e_in1k_20230609_120904",  # no precision in the name
        "lamp_rcnn_r50_fpn_1x_coco_20230609_120904",  # 'amp' inside a word
        "example_fp160_20230609_120904",
    ],
)
def test_a_config_name_without_an_amp_part_states_no_precision(name):
    _, events, *_ = parse_log_text(_mmengine_lines([0.71, 0.69], name), "20230609_120904.log")
    assert not [e for e in events if e.kind == "mixed_precision"]


def test_an_amp_optim_wrapper_in_the_printed_config_states_its_dtype():
    # mmengine's Runner prints 'Config:' and the config's text; AmpOptimWrapper's dtype is float16 unless set
    config = (
        "optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=0.0015), loss_scale='dynamic')"
    )
    _, events, *_ = parse_log_text(f"Config:\n{config}\n")
    assert [e.values["dtype"] for e in events if e.kind == "mixed_precision"] == ["float16"]
    bf16 = config.replace("loss_scale='dynamic'", "dtype='bfloat16'")
    _, events, *_ = parse_log_text(f"Config:\n{bf16}\n")
    assert [e.values["dtype"] for e in events if e.kind == "mixed_precision"] == ["bfloat16"]


# ---------------------------------------------------------------- a loss's terms listed by name after its heading


_PYTORCH_YOLOV3_FORMAT = (
    "[Epoch %d/%d, Batch %d/%d] [Losses: x %f, y %f, w %f, h %f, conf %f, cls %f, total %f, recall: %.5f, "
    "precision: %.5f]\n"
)


def _pytorch_yolov3_lines(totals: list[float]) -> str:
    """eriklindernoren/PyTorch-YOLOv3 train.py of 2018 prints _PYTORCH_YOLOV3_FORMAT % (epoch, epochs, batch_i,
    len(dataloader), losses["x"], ..., losses["cls"], loss.item(), losses["recall"], losses["precision"])."""
    out = []
    for k, total in enumerate(totals):
        x = y = w = h = cls = total / 6 if math.isfinite(total) else total
        values = (0, 30, 320 + k, 1313, x, y, w, h, 0.755184, cls, total, 0.1, 0.2)
        out.append(_PYTORCH_YOLOV3_FORMAT % values)  # the toolkit's own printf format
    return "".join(out)


def test_the_total_among_terms_listed_after_a_losses_heading_is_the_loss():
    totals = [9.1, 8.7, 8.2, float("nan"), float("nan")]
    series, *_ = parse_log_text(_pytorch_yolov3_lines(totals), "train.log")
    assert series["loss"].values[:3].tolist() == pytest.approx([9.1, 8.7, 8.2])
    assert np.isnan(series["loss"].values[3:]).all()
    assert series["loss_conf"].values.tolist() == [0.755184] * 5  # a term, not the loss
    assert series["recall"].values.tolist() == [0.1] * 5  # a metric after the terms keeps its own name


def test_pytorch_yolo2_s_region_loss_line_lists_its_terms_after_loss():
    # marvis/pytorch-yolo2 region_loss.py (2017): print('%d: nGT %d, recall %d, proposals %d, loss: x %f, y %f, w %f,
    # h %f, conf %f, cls %f, total %f' % (self.seen, nGT, nCorrect, nProposals, ...)), without its 'seen' prefix
    line = "nGT 46, recall 26, proposals 0, loss: x 2.349184, y 2.490905, w nan, h nan, conf nan, cls nan, total nan"
    pairs = dict(scan_line(line).pairs)
    assert math.isnan(pairs["loss"]) and pairs["loss_x"] == 2.349184


@pytest.mark.parametrize(
    "line",
    ["Loss: train 0.5, val 0.7", "loss: avg 0.4, cur 0.5", "Loss: mean 0.5", "loss: epoch 3 0.5"],
)
def test_a_reading_or_a_stage_after_a_loss_heading_is_no_term(line):
    # which reading or which stage of the loss, or a counter: none of them is a term of the loss
    assert not any(
        tag.startswith("loss_") and tag[5:] in ("train", "val", "avg", "cur", "mean")
        for tag, _ in scan_line(line).pairs
    )
