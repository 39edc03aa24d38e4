"""Issue #11, fifteenth round: shapes of heldout20's unread logs (docs/logs.md), on lines built from the toolkit's own
format string (named in a comment), with look-alikes that must read as before.
"""

import math

import forensics
from forensics.readers.logmetrics import main_loss_and_basis, scan_line, yolo_2019_row
from forensics.readers.logs import parse_log_text

NAN = float("nan")


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


def _run(tmp_path, name, text):
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / name).write_text(text)
    return run


# ---------------------------------------------------------------- a loss beside lists of per-element values


def _det3d_line(task, loss, elems, stamp="2020-01-07 17:22:53,040"):
    """Det3D's (and second.pytorch's) per-task log line: the trainer's text logger formats each task's dict, a list
    of per-box-coordinate losses among its scalars (det3d/core/utils/... log_vars, 'loc_loss_elem' a list of str)."""
    fmt = ", ".join(f"'{v:.4f}'" if math.isfinite(v) else "'nan'" for v in elems)
    return (
        f"{stamp} - INFO - task : ['{task}'], loss: {loss:.4f}, cls_pos_loss: {loss / 2:.4f}, "
        f"loc_loss_elem: [{fmt}], num_pos: 26.6600, num_neg: 31688.8400"
    )


def test_a_loss_printed_beside_lists_of_per_element_values_is_read_and_the_lists_are_not_a_history(tmp_path):
    lines = [_det3d_line(t, NAN, [NAN] * 9) for t in ("car", "truck", "bus", "barrier")]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert "loss" in series and all(math.isnan(v) for v in series["loss"].values)
    assert "loc_loss_elem" not in series  # nine coordinates of one step are no curve of nine epochs
    # and a file of such lines is a log, found and read (it held no other metric line before)
    report = forensics.analyze(_run(tmp_path, "log.txt", "\n".join(lines) + "\n"))
    assert report.diverged is True


def test_a_history_printed_as_lists_is_still_read_as_curves():
    # Keras's print(history.history): every series a list, no loss printed as one value
    series, *_ = parse_log_text("{'loss': [0.69, 0.52, nan], 'val_loss': [0.7, 0.6, nan], 'lr': [0.1, 0.1, 0.1]}\n")
    assert [v for _, v in _points(series, "loss")][:2] == [0.69, 0.52]
    assert math.isnan(series["loss"].values[-1])


# ---------------------------------------------------------------- a record whose loss is printed on the next line


def _fcos_record(step, loc, cls, cnt, total, stamp="2019-04-27 22:02:27"):
    """DetectionTeamUCAS FCOS_Tensorflow train.py: print(''' {}: step{}    image_name:{} |\\t loc_loss:{} |\\t
    (newline, 44 spaces) cls_loss:{} |\\t cnt_loss:{} |\\ttotal_loss:{} | (newline, 44 spaces) per_cost_time:{}s''')."""
    pad = " " * 44
    return (
        f" {stamp}: step{step}    image_name:b'70844.jpg' |\t loc_loss:{loc} |\t \n"
        f"{pad}cls_loss:{cls} |\t cnt_loss:{cnt} |\ttotal_loss:{total} |\n"
        f"{pad}per_cost_time:8.343699216842651s\n"
    )


def test_the_total_printed_under_a_line_of_one_term_is_the_step_s_loss():
    text = _fcos_record(80, 1.2, 0.9, 0.64, 2.74) + _fcos_record(90, 11.51, NAN, 0.65, NAN)
    series, *_ = parse_log_text(text)
    points = _points(series, "loss")
    assert [s for s, _ in points] == [80, 90]
    assert points[0][1] == 2.74  # the total, not the location term its counters' line printed
    assert math.isnan(points[1][1])
    assert math.isnan(_points(series, "cls_loss")[1][1])


def test_a_loss_under_a_line_that_printed_its_own_loss_is_not_the_record_s():
    # the counters' line printed the loss by name: a 'loss' under it is another writer's, read as before
    text = "step 90 loss: 2.5\nloss: 7.0\nstep 100 loss: 2.4\n"
    series, *_ = parse_log_text(text)
    assert (90, 2.5) in _points(series, "loss")


# ---------------------------------------------------------------- tensorpack's monitor, one statistic a line


def _tensorpack_block(stats, stamp="0810 16:06:24"):
    """tensorpack/callbacks/monitor.py ScalarPrinter: logger.info('{}: {:.5g}'.format(k, v)) for each scalar of the
    epoch, sorted by name, under tensorpack's logger prefix '[MMDD HH:MM:SS @monitor.py:474]'."""
    return "".join(f"[{stamp} @monitor.py:474] {k}: {v:.5g}\n" for k, v in sorted(stats.items()))


def _maskrcnn_stats(total, wd):
    return {
        "fastrcnn_losses/box_loss": 0.21,
        "fastrcnn_losses/label_loss": 0.35,
        "rpn_losses/box_loss": 0.05,
        "rpn_losses/label_loss": 0.11,
        "rpn_losses/label_metrics/precision_th0.2": 0.1322,
        "rpn_losses/label_metrics/recall_th0.5": 0.17936,
        "rpn_losses/num_pos_anchor": 16.552,
        "rpn_losses/num_valid_anchor": 255.77,
        "sample_fast_rcnn_targets/num_bg": 187.04,
        "sample_fast_rcnn_targets/num_fg": 2.8304,
        "sample_fast_rcnn_targets/proposal_metrics/best_iou_per_gt": 0.2385,
        "sample_fast_rcnn_targets/proposal_metrics/recall_iou0.5": 0.18301,
        "total_cost": total,
        "wd_cost": wd,
    }


def test_tensorpack_s_total_cost_is_the_loss_and_an_epoch_s_statistics_are_one_record(tmp_path):
    text = _tensorpack_block(_maskrcnn_stats(1.84, 0.9)) + _tensorpack_block(_maskrcnn_stats(NAN, NAN), "0810 17:06:24")
    series, *_ = parse_log_text(text)
    points = _points(series, "loss")
    assert len(points) == 2  # one record an epoch, the counts and rates that name no metric inside it
    assert points[0][1] == 1.84 and math.isnan(points[1][1])
    report = forensics.analyze(_run(tmp_path, "log.log", text))
    assert report.diverged is True


def test_counts_and_rates_filed_under_a_loss_s_group_are_no_terms_of_it():
    pairs = [("rpn_losses/num_pos_anchor", 16.552), ("rpn_losses/label_metrics/recall_th0.5", 0.179)]
    pairs += [("rpn_losses/box_loss", 0.05), ("rpn_losses/label_loss", 0.11)]
    found, _ = main_loss_and_basis(pairs)
    loss = dict(found)["loss"]
    assert math.isclose(loss, 0.16)  # the two terms summed, not the anchor count
    # under the loss's own group every leaf is a term, as before
    found, _ = main_loss_and_basis([("loss/cls", 0.4), ("loss/box", 0.2)])
    assert math.isclose(dict(found)["loss"], 0.6)


# ---------------------------------------------------------------- Paddle's dynamic loss scaler


def _paddle_overflow(scale):
    """python/paddle/amp/grad_scaler.py AmpScaler._update: print('Found inf or nan, current scale is: {}, decrease to:
    {}*{}'.format(float(self._scale), float(self._scale), float(self._decr_ratio)))"""
    return f"Found inf or nan, current scale is: {float(scale)}, decrease to: {float(scale)}*0.5"


def _ppocr_line(step, loss):
    """PaddleOCR tools/program.py's train log line (logger 'ppocr', stats joined as 'key: value')."""
    return (
        f"[2023/09/12 08:59:36] ppocr INFO: epoch: [1/200], global_step: {step}, lr: 0.001000, loss: {loss:.6f}, "
        f"loss_shrink_maps: {loss / 2:.6f}, avg_reader_cost: 0.00402 s, avg_batch_cost: 0.93513 s, ips: 17.1 samples/s"
    )


def test_paddle_s_scale_halved_to_nothing_is_fp16_overflow_step_after_step(tmp_path):
    lines = [_ppocr_line(10 * i, 9.5 - 0.01 * i) for i in range(1, 20)]
    scale = 32768.0
    for i in range(20, 27):
        lines.append(_ppocr_line(10 * i, 9.3))
        for _ in range(20):
            lines.append(_paddle_overflow(scale))
            scale /= 2
    report = forensics.analyze(_run(tmp_path, "train.log", "\n".join(lines) + "\n"))
    assert report.diverged is True
    assert report.verdict.cause == "numerical_instability"
    assert "loss scale fell to" in report.verdict.summary


def test_a_few_paddle_overflows_while_the_scale_settles_are_healthy(tmp_path):
    lines = []
    for i in range(1, 40):
        if i in (3, 17):
            lines.append(_paddle_overflow(65536.0 if i == 3 else 32768.0))
        lines.append(_ppocr_line(10 * i, 9.5 - 0.05 * i))
    _, events, *_ = parse_log_text("\n".join(lines) + "\n")
    overflows = [e for e in events if e.kind == "loss_scale_overflow_transient"]
    assert overflows and overflows[0].values["count"] == 2  # both read, and no floor
    assert overflows[0].values["last_loss_scale"] == 16384.0
    report = forensics.analyze(_run(tmp_path, "train.log", "\n".join(lines) + "\n"))
    assert report.diverged is False
    assert report.verdict.cause == "healthy"


def test_a_floor_stays_when_the_losses_after_it_are_one_step_s_ranks_or_a_step_s_micro_batches(tmp_path):
    # DeepSpeed at its floor on every step, then one step's loss printed by three ranks
    lines = [f"step {i} loss: 2.30" for i in range(1, 4)]
    lines += ["[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1"] * 26
    lines += [f"[rank{r}]: step 30 loss: 2.3026" for r in range(3)]
    assert forensics.analyze(_run(tmp_path / "a", "train.log", "\n".join(lines) + "\n")).diverged is True
    # apex halving at every optimizer step, the loop printing each of its four micro-batches' losses
    lines, scale, k = [], 65536.0, 0
    for _ in range(40):
        for _ in range(4):
            k += 1
            lines.append(f"iter {k} loss: 2.3026")
        scale /= 2
        lines.append(f"Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to {scale}")
    lines += [f"iter {k + j} loss: 2.3026" for j in range(1, 5)]
    assert forensics.analyze(_run(tmp_path / "b", "train.log", "\n".join(lines) + "\n")).diverged is True


def test_a_scale_halved_below_1_whose_overflows_then_stop_while_the_loss_falls_is_healthy(tmp_path):
    # an initial scale of 4 halved to 0.5 by three early overflows, then 57 steps applied: no overflow on every step
    lines = [_ppocr_line(10, 9.5), _paddle_overflow(4.0), _paddle_overflow(2.0), _paddle_overflow(1.0)]
    lines += [_ppocr_line(10 * i, 9.5 - 0.1 * i) for i in range(2, 59)]
    report = forensics.analyze(_run(tmp_path, "train.log", "\n".join(lines) + "\n"))
    assert report.diverged is False


# ---------------------------------------------------------------- a name with an aside, a value as a one-element array


def _keras_guide_epoch(epoch, losses, every=200):
    """keras.io guides/writing_a_training_loop_from_scratch (TF 2.x): print("\\nStart of epoch %d" % (epoch,)), then
    every 200 steps print("Training loss (for one batch) at step %d: %.4f" % (step, float(loss_value))) and
    print("Seen so far: %s samples" % ((step + 1) * batch_size)); Keras 3's guide says "(for 1 batch)"."""
    lines = [f"\nStart of epoch {epoch}"]
    for i, loss in enumerate(losses):
        lines.append(f"Training loss (for one batch) at step {i * every}: {loss:.4f}")
        lines.append(f"Seen so far: {(i * every + 1) * 64} samples")
    lines += ["Training acc over epoch: 0.8412", "Validation acc: 0.8567", "Time taken: 3.21s"]
    return "\n".join(lines) + "\n"


def test_the_keras_guide_s_loss_for_one_batch_is_read_at_its_step(tmp_path):
    text = _keras_guide_epoch(0, [2.3, 1.1, 0.8]) + _keras_guide_epoch(1, [0.7, NAN, NAN])
    series, *_ = parse_log_text(text)
    values = [v for _, v in _points(series, "loss")]
    assert values[:3] == [2.3, 1.1, 0.8] and math.isnan(values[-1])
    report = forensics.analyze(_run(tmp_path, "train.log", text))
    assert report.diverged is True
    # Keras 3's wording, and an aside after a step's counter
    text = "Training loss (for 1 batch) at step 0: 2.3000\nstep 100 loss (over 100 batches): 1.9\n"
    series, *_ = parse_log_text(text)
    assert [v for _, v in _points(series, "loss")] == [2.3, 1.9]


def test_an_aside_that_holds_a_value_or_follows_a_number_is_not_dropped():
    # "(=250000064.0)" is ESPnet's value after its own sign; "Epoch 1 (of 10)" an epoch and its total
    assert scan_line("loss (=250000064.000000) is not correct").pairs == [("loss", 250000064.0)]
    series, *_ = parse_log_text("Epoch 1 (of 10) step 5 loss: 0.5\nEpoch 1 (of 10) step 6 loss: 0.4\n")
    assert [v for _, v in _points(series, "loss")] == [0.5, 0.4]


def test_a_value_printed_as_an_array_of_one_element_is_the_waiting_name_s():
    # a loop printing the loss tensor of shape (1,): print("loss for step: {} = {}".format(step, loss.numpy()))
    text = "".join(f"loss for step: {s} = [{-0.9 - 0.01 * s!r}]\n" for s in range(620, 625))
    series, *_ = parse_log_text(text)
    assert [s for s, _ in _points(series, "loss")] == list(range(620, 625))
    # two values in the brackets are no one value: nothing is read as the loss
    series, *_ = parse_log_text("loss at step 5 = [0.25, 0.3]\nloss at step 6 = [0.2, 0.3]\n")
    assert "loss" not in series


# ---------------------------------------------------------------- ultralytics YOLOv3's 2018 rows: six terms


def _yolo_2018_row(epoch, epochs, i, nb, terms, extras):
    """ultralytics/yolov3 train.py (2018 to early 2019): ('%8s%12s' + '%10.3g' * (7 + len(extras))) % ('%g/%g' %
    (epoch, epochs - 1), '%g/%g' % (i, len(dataloader) - 1), rloss['x'], rloss['y'], rloss['w'], rloss['h'],
    rloss['conf'], rloss['cls'], rloss['loss'], *extras): nT and the time; precision, recall, nT and the time; or
    precision, recall, nGT, TP, FP, FN and the time."""
    total = math.fsum(terms)
    return ("%8s%12s" + "%10.3g" * (7 + len(extras))) % (
        f"{epoch}/{epochs - 1}",
        f"{i}/{nb - 1}",
        *terms,
        total,
        *extras,
    )


def test_yolov3_2018_rows_of_six_terms_give_their_total_whatever_follows_it():
    for extras in ((115, 1.22), (0.41, 0.52, 115, 1.22), (0.41, 0.52, 120, 40, 60, 80, 1.22)):
        rows = [_yolo_2018_row(0, 100, i, 250, [0.83, 0.84, 36.4 - i, 34.7, 26.8, 15.6], extras) for i in range(5)]
        series, *_ = parse_log_text("\n".join(rows) + "\n")
        points = _points(series, "loss")
        assert [s for s, _ in points] == list(range(5)), extras
        assert math.isclose(points[0][1], 115.17, rel_tol=1e-2)
    # the same row whose seventh number is not the sum of the six before it is another table's
    assert yolo_2019_row(rows[0].replace(" 115 ", " 999 ", 1)) is None
    nan_rows = [_yolo_2018_row(0, 100, i, 250, [NAN] * 6, (115, 1.2)) for i in range(5, 7)]
    series, *_ = parse_log_text("\n".join(rows + nan_rows) + "\n")
    assert math.isnan(series["loss"].values[-1])


# ---------------------------------------------------------------- a spike of 1e14 that came back is no explosion


def _mmdet_line(epoch, it, loss):
    """mmdetection 1.x TextLoggerHook: 'Epoch [{e}][{i}/{n}]\\tlr: {lr}, eta: ..., time: ..., data_time: ...,
    memory: ..., {name}: {value:.4f}, ...' with the loss's terms, acc and their total 'loss' last."""
    return (
        f"2020-02-07 08:09:11,774 - INFO - Epoch [{epoch}][{it}/702]\tlr: 0.00001, eta: 1:12:12, time: 0.413, "
        f"data_time: 0.006, memory: 3784, loss_rpn_cls: {loss * 0.06:.4f}, loss_cls: {loss * 0.6:.4f}, acc: 95.7207, "
        f"loss_bbox: {loss * 0.34:.4f}, loss: {loss:.4f}"
    )


def _mmdet_run(tmp_path, losses):
    lines = [_mmdet_line(85 + i // 14, 50 * (1 + i % 14), v) for i, v in enumerate(losses)]
    return forensics.analyze(_run(tmp_path, "20200207_000000.log", "\n".join(lines) + "\n"))


def test_a_loss_that_spiked_past_1e4_times_its_level_and_came_right_back_did_not_diverge(tmp_path):
    report = _mmdet_run(tmp_path, [0.26, 0.25, 0.26, 0.258, 3.1e14, 0.2525, 0.251, 0.26])
    assert report.diverged is False


def test_a_loss_that_blew_up_and_stayed_or_went_nan_after_its_spike_diverged(tmp_path):
    assert _mmdet_run(tmp_path / "a", [0.26, 0.25, 0.26, 3.1e14, 4.0e3, 2.0e3, 1.5e3]).diverged is True
    assert _mmdet_run(tmp_path / "b", [0.26, 0.25, 0.26, 3.1e14, 0.25, NAN, NAN]).diverged is True
    # a second spike that does not come back is the explosion, whatever the first did
    report = _mmdet_run(tmp_path / "c", [0.26, 0.25, 3.1e14, 0.25, 0.26, 2.0e5, 3.0e5, 2.5e5])
    assert report.diverged is True


# ---------------------------------------------------------------- an epoch named on a line of its own


def test_steps_counted_within_the_epoch_a_header_line_named_are_placed_after_the_epochs_before(tmp_path):
    # the Keras guide's loop: 'Start of epoch N' on its own line, its steps counted from 0 again under it
    text = _keras_guide_epoch(0, [2.3, 1.9, 1.6, 1.4, 1.2]) + _keras_guide_epoch(1, [1.1, 1.0, NAN, NAN, NAN])
    series, *_ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]
    report = forensics.analyze(_run(tmp_path, "train.log", text))
    assert report.first_nonfinite_step == 1400  # epoch 1's step 400, not a restart's step 400
    # and under Keras's own 'Epoch i/N' header, a loop's own step lines the same
    text = "".join(f"Epoch {e}/3\n" + "".join(f"step {s} loss: 0.5\n" for s in range(0, 500, 100)) for e in (1, 2))
    assert parse_log_text(text)[0]["loss"].steps.tolist() == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]


def test_a_global_step_under_epoch_headers_stays_global_and_other_lines_naming_an_epoch_are_no_header():
    text = "".join(
        f"Epoch {e}\n" + "".join(f"step {s} loss: 0.5\n" for s in range(e * 500, e * 500 + 500, 250)) for e in range(3)
    )
    assert parse_log_text(text)[0]["loss"].steps.tolist() == [0, 250, 500, 750, 1000, 1250]
    # a global count printed at an epoch's end and again at the next one's start stayed where it was: still global
    text = "".join(
        f"Epoch {e}\n" + "".join(f"step {s} loss: 0.5\n" for s in range(e * 500, e * 500 + 501, 250)) for e in range(3)
    )
    assert parse_log_text(text)[0]["loss"].steps.tolist() == [0, 250, 500, 750, 1000, 1250, 1500]
    # lines that name an epoch among other words head no lines: a global batch counter under them is left as it is
    for line in ("Best epoch: 3", "Saving model at epoch 3", "Epoch 3 took 12.5s", "Evaluating epoch 3"):
        text = "[100/100000] loss: 0.5\n[200/100000] loss: 0.5\n" + line + "\n[300/100000] loss: 0.5\n"
        assert parse_log_text(text)[0]["loss"].steps.tolist() == [100, 200, 300], line


# ---------------------------------------------------------------- look-alikes the round's first readings took


def test_a_history_whose_name_is_qualified_is_still_a_history_and_an_evaluation_loss_beside_lists_too():
    series, *_ = parse_log_text("Epoch loss: [2.3, 0.9, 4e5, nan, nan]\n")
    assert len(series["loss"].values) == 5
    series, *_ = parse_log_text("{'loss': [0.69, 0.52, 0.4]} Test loss: 0.9\n")
    assert [v for _, v in _points(series, "loss")] == [0.69, 0.52, 0.4]


def test_the_bare_loss_under_a_line_of_one_term_is_the_step_s_loss_too():
    series, *_ = parse_log_text("step 100 loc_loss: 0.3\nloss: nan\nstep 200 loc_loss: 0.2\nloss: 0.5\n")
    points = _points(series, "loss")
    assert [s for s, _ in points] == [100, 200] and math.isnan(points[0][1]) and points[1][1] == 0.5


def test_only_a_total_under_a_line_of_one_term_replaces_it(tmp_path):
    # a sum of terms on the counters' line, and a loss under it that is no total (another reading, an evaluation)
    series, *_ = parse_log_text("Iter 100 | cls_loss 0.30 | reg_loss 0.20\nheld-out loss: 9.5\n")
    assert _points(series, "loss") == [(100, 0.5)]
    series, *_ = parse_log_text("step 100, cost = 0.52\nloss = 3.0\n")
    assert _points(series, "loss") == [(100, 0.52)]
    # a term that explodes under lines of a target loss is still read as exploding
    text = "".join(f"step {100 * k} recon_loss: {0.5 * 10**k}\ntarget loss: 0.0100\n" for k in range(8))
    assert forensics.analyze(_run(tmp_path, "train.log", text)).diverged is True


def test_terms_filed_under_a_loss_s_group_stay_terms():
    series, *_ = parse_log_text(
        "step 1 seg_loss/dice: 0.3 seg_loss/ce: 0.2\nstep 2 seg_loss/dice: 0.3 seg_loss/ce: nan\n"
    )
    values = [v for _, v in _points(series, "loss")]
    assert math.isclose(values[0], 0.5) and math.isnan(values[1])
    # but the group's evaluation value is no term of the training loss
    text = "step 1 seg_loss/dice: 0.3 seg_loss/ce: 0.2 seg_loss/val: 0.9\n"
    text += "step 2 seg_loss/dice: 0.3 seg_loss/ce: 0.2 seg_loss/val: nan\n"
    assert [round(v, 6) for _, v in _points(parse_log_text(text)[0], "loss")] == [0.5, 0.5]


def test_an_aside_that_names_an_evaluation_is_not_dropped():
    for line in ("loss (on validation set): 0.9", "step 100 loss (on val): 0.5", "Average loss (over test set): 1.25"):
        assert ("loss", 0.9) not in scan_line(line).pairs and not any(t == "loss" for t, _ in scan_line(line).pairs)


def test_a_bracket_after_a_counter_is_no_value_and_a_signed_word_in_one_is():
    assert not any(t == "loss" and v == 3.0 for t, v in scan_line("Loss at step 100 [3]: 0.25").pairs)
    pairs = scan_line("loss for step: 622 = [-inf]").pairs
    assert pairs == [("loss", -math.inf)]


def test_a_loss_that_settles_higher_after_its_spike_lost_what_it_learned(tmp_path):
    # a classifier back at chance (0.40 -> 0.693) after a 3e14 window, and a level 1.9 times the one before
    assert _mmdet_run(tmp_path / "a", [0.40] * 10 + [3e14] + [0.6931] * 5).diverged is True
    assert _mmdet_run(tmp_path / "b", [0.40] * 10 + [3e14] + [0.76] * 5).diverged is True
    # while a noisy level's own spread after it is a return, and so is the level of a loss still falling
    assert _mmdet_run(tmp_path / "c", [0.40, 0.45, 0.38, 0.5, 0.41, 3e14, 0.48, 0.44]).diverged is False
    falling = [4.0, 3.0, 2.2, 1.8, 1.5, 1.2, 1.0, 0.95, 0.9, 3e14, 0.88, 0.85]
    assert _mmdet_run(tmp_path / "d", falling).diverged is False


def test_a_loss_already_jumping_by_decades_has_no_level_to_come_back_to(tmp_path):
    # an LR past the stability limit: the loss swings by decades, then passes 1e4 times its minimum at step 10; the
    # later swings below the earlier peaks are no return to a level it never had
    losses = [0.936, 0.997, 0.769, 93.1, 1.6, 332, 33.1, 10.2, 27, 4580, 42400, 346, 349, 136, 192000, 4150, 2160]
    text = "".join(f"step {s} loss: {v}\n" for s, v in enumerate(losses))
    report = forensics.analyze(_run(tmp_path, "train.log", text))
    assert report.diverged is True
    assert "exploded at step 10 " in report.verdict.summary


# ---------------------------------------------------------------- the HF Trainer's dicts beside a script's step lines


def test_the_trainer_s_dicts_give_the_loss_where_a_script_s_own_step_lines_print_none(tmp_path):
    # QwenLM finetune.py: a callback prints "Step {n}, learning rate: {lr}" beside the Trainer's own log dicts
    lines = []
    for n in range(1, 6):
        lines.append(
            f"{{'loss': {2.0 - 0.1 * n}, 'grad_norm': {1.0 + n}, 'learning_rate': 1e-05, 'epoch': {0.1 * n:.1f}}}"
        )
        lines.append(f"Step {n}, learning rate: 0.001")
    lines.append("{'loss': nan, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.6}")
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert len(series["loss"].values) == 6 and math.isnan(series["loss"].values[-1])
    assert forensics.analyze(_run(tmp_path, "output.txt", "\n".join(lines) + "\n")).diverged is True
    # where the script's lines print a loss of their own, the dicts stay apart as before
    text = "\n".join(lines).replace("learning rate: 0.001", "learning rate: 0.001, loss: 1.5") + "\n"
    series, *_ = parse_log_text(text)
    assert "hf_loss" in series
