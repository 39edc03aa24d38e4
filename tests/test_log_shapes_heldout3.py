"""Shapes the heldout3 real logs showed the extractor could not read (docs/logs.md), each on lines
written here with the toolkit's own format string (toolkit, version and source file named beside;
the pasted logs stay outside the repository), each with look-alikes that must not move.
"""

# ruff: noqa: UP031, UP032 (the toolkits' own %-format strings are kept as they wrote them)

from __future__ import annotations

import csv
import io
import math

import pytest

import forensics
from forensics.readers.logmetrics import nonfinite_value, postfix_letter_terms, scan_line
from forensics.readers.logs import parse_log_text


def _series(text: str, file_name: str | None = None) -> dict[str, list[tuple[int, float]]]:
    scalars = parse_log_text(text, file_name)[0]
    return {tag: list(zip(s.steps.tolist(), s.values.tolist(), strict=True)) for tag, s in scalars.items()}


def _analyze(tmp_path, name: str, text: str):
    run = tmp_path / name.replace(".", "_")
    run.mkdir(parents=True)
    (run / name).write_text(text)
    return forensics.analyze(str(run))


# ---------------------------------------------------------------- non-finite spellings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nan", math.nan),
        ("-nan", math.nan),
        ("NaN.", math.nan),  # the end of a sentence: deeptype's "loss is NaN."
        ("nanxxx", math.nan),  # PaddleOCR's '{:x<6f}' fill up to the width
        ("infxxx", math.inf),
        ("-infxx", -math.inf),
        ("-nan(ind)", math.nan),  # MSVC's printf
        ("nan(snan)", math.nan),
        ("Infinity", math.inf),
    ],
)
def test_non_finite_spellings(text, expected):
    got = nonfinite_value(text)
    assert got is not None and (math.isnan(got) if math.isnan(expected) else got == expected)


@pytest.mark.parametrize("word", ["info", "inference", "nanny", "nano", "infant", "infx1", "nanoseconds", "Nancy"])
def test_words_that_start_like_nan_or_inf_are_no_value(word):
    assert nonfinite_value(word) is None
    assert scan_line(f"loss {word} 2.5").pairs in ([], [("loss", 2.5)])


def test_paddleocr_prints_nan_with_its_fill():
    # PaddleOCR 2.1-2.6 ppocr/utils/stats.py TrainingStats.log: '{}: {:x<6f}'.format(k, v) for every
    # value, joined by ', ', after 'epoch: [{}/{}], global_step: {}, ' (tools/program.py)
    stats = {"lr": 0.000516, "CTCLoss": math.nan, "loss": math.nan, "avg_reader_cost": 0.00013}
    line = "epoch: [986/2000], global_step: 737800, " + ", ".join("{}: {:x<6f}".format(k, v) for k, v in stats.items())
    assert "loss: nanxxx" in line
    pairs = dict(scan_line(line).pairs)
    assert math.isnan(pairs["loss"]) and math.isnan(pairs["ctcloss"]) and pairs["learning_rate"] == 0.000516
    assert "avg_reader_cost" not in pairs  # a PaddlePaddle timing, no metric
    finite = ", ".join("{}: {:x<6f}".format(k, v) for k, v in {"lr": 0.001, "loss": 2.5}.items())
    assert dict(scan_line(finite).pairs) == {"learning_rate": 0.001, "loss": 2.5}


def test_a_sentence_saying_the_loss_is_nan_is_a_nan_loss_and_a_guards_own_words_are_not_a_point():
    # openai/deeptype learning/train_type.py prints "loss is NaN." and stops (its own check)
    assert math.isnan(dict(scan_line("loss is NaN.").pairs)["loss"])
    assert scan_line("Saved the model. Loss is low.").pairs == []
    # TF's estimator guard says "loss = NaN." too: that is the guard's event, not a loss point
    series, events, *_ = parse_log_text("step 10 loss 2.5\nERROR:tensorflow:Model diverged with loss = NaN.\n")
    assert series["loss"].values.tolist() == [2.5] and [e.kind for e in events] == ["nan_loss"]


# ---------------------------------------------------------------- values named after them


def test_darknet_values_named_after_them():
    # AlexeyAB/darknet src/detector.c train_detector: printf("\n %d: %f, %f avg loss, %f rate, %lf seconds,
    # %d images, %f hours left\n", iteration, loss, avg_loss, rate, time, images, hours); the older
    # builds (2018-2019) end at "%d images"
    fmt = "\n %d: %f, %f avg loss, %f rate, %lf seconds, %d images, %f hours left\n"
    older = "\n %d: %f, %f avg loss, %f rate, %lf seconds, %d images\n"
    text = (
        fmt % (100, 1.52, 1.61, 0.001, 3.2, 6400, 12.5)
        + "Region Avg IOU: 0.41, Class: 0.52, Obj: 0.33, No Obj: 0.004, Avg Recall: 0.31,  count: 8\n"
        + (older % (101, math.nan, math.nan, 0.001, 3.3, 6464)).replace("nan", "-nan")  # glibc: a NaN's sign
    )
    assert "-nan, -nan avg loss" in text
    loss = _series(text)["loss"]
    assert loss[0] == (100, 1.61) and loss[1][0] == 101 and math.isnan(loss[1][1])


def test_one_value_named_after_it_is_no_list():
    assert scan_line("Saved 3 checkpoints").pairs == []
    assert scan_line("Found 2 nan losses, skipping").pairs == []  # one item: no list
    assert scan_line("loss: 0.5 acc: 0.9").pairs == [("loss", 0.5), ("accuracy", 0.9)]


# ---------------------------------------------------------------- a stage word in mid-line


def test_train_and_valid_losses_under_one_name_on_one_line():
    # mravanelli/pytorch-kaldi run_exp.py (2019): res_file.write('ep=%s tr=%s loss=%s err=%s ' % (ep,
    # tr_data_lst, format(tr_loss, "0.3f"), format(tr_error, "0.3f"))), then 'valid=%s loss=%s err=%s '
    # per valid set, then 'lr_architecture%i=%s ' per architecture and 'time(s)=%i\n'
    def line(ep, tr_loss, va_loss):
        out = "ep=%s tr=%s loss=%s err=%s " % (ep, ["train_clean_100"], format(tr_loss, "0.3f"), format(0.21, "0.3f"))
        out += "valid=%s loss=%s err=%s " % ("dev_clean", format(va_loss, "0.3f"), format(0.2, "0.3f"))
        return out + "lr_architecture%i=%s " % (1, 6.25e-06) + "time(s)=%i\n" % 17255

    got = _series(line(22, 0.671, 0.693) + line(23, math.nan, math.nan))
    assert got["loss"][0] == (22, 0.671) and math.isnan(got["loss"][1][1])
    assert got["val_loss"][0] == (22, 0.693)
    # a stage word before every metric still makes the whole line the evaluation's (fairseq)
    valid = scan_line("| epoch 011 | valid on 'valid' subset | loss 8.871 | nll_loss 7.502 | num_updates 4100")
    assert valid.eval_context and dict(valid.pairs)["loss"] == 8.871


# ---------------------------------------------------------------- headerless files of a known layout


def _timm_summary(rows: list[tuple[int, float, float, float, float]], lr: float | None) -> str:
    # huggingface/pytorch-image-models timm/utils/summary.py update_summary (0.4-0.9): an OrderedDict of
    # epoch, 'train_' + train metrics, 'eval_' + eval metrics, then 'lr' when given, written by
    # csv.DictWriter; the header only with the first epoch's row (write_header=best_metric is None)
    out = io.StringIO()
    for epoch, train_loss, eval_loss, top1, top5 in rows:
        rowd = {"epoch": epoch, "train_loss": train_loss, "eval_loss": eval_loss, "eval_top1": top1}
        rowd["eval_top5"] = top5
        if lr is not None:
            rowd["lr"] = lr
        csv.DictWriter(out, fieldnames=rowd.keys()).writerow(rowd)
    return out.getvalue()


def test_timms_summary_csv_without_its_header(tmp_path):
    rows = [(200 + i, 4.40 - 0.01 * i, 4.13, 7.7, 24.4) for i in range(9)]
    text = _timm_summary([*rows, (209, math.nan, 4.16, 7.72, 24.0), (210, math.nan, math.nan, 1.0, 5.0)], None)
    got = _series(text, "summary.csv")
    assert got["loss"][0] == (200, 4.40) and math.isnan(got["loss"][-1][1]) and got["val_loss"][0][1] == 4.13
    assert _series(_timm_summary(rows, 0.0005), "summary.csv")["learning_rate"][0] == (200, 0.0005)
    rep = _analyze(tmp_path, "summary.csv", text)
    assert rep.diverged
    # the same rows under another name are a table of numbers, not a log
    assert "loss" not in _series(text, "numbers.csv")


def _yolov5_results_row(epoch: int, epochs: int, mloss: tuple[float, float, float, float]) -> str:
    # ultralytics/yolov5 v5.0 train.py: s = ('%10s' * 2 + '%10.4g' * 6) % ('%g/%g' % (epoch, epochs - 1),
    # mem, *mloss, targets.shape[0], imgs.shape[-1]); f.write(s + '%10.4g' * 7 % results + '\n') with
    # results = (P, R, mAP@.5, mAP@.5:.95, val box, val obj, val cls); results.txt has no header
    s = ("%10s" * 2 + "%10.4g" * 6) % ("%g/%g" % (epoch, epochs - 1), "0.489G", *mloss, 10, 640)
    return s + "%10.4g" * 7 % (0.5, 0.4, 0.45, 0.2, 0.05, 0.03, 0.01) + "\n"


def test_yolov5_results_txt_is_a_log_read_in_its_layout(tmp_path):
    healthy = "".join(_yolov5_results_row(e, 300, (0.08 - e * 1e-3, 0.05, 0.02, 0.15 - e * 1e-3)) for e in range(5))
    got = _series(healthy, "results.txt")
    assert [s for s, _ in got["loss"]] == [1, 2, 3, 4, 5] and got["loss"][0][1] == 0.15
    rep = _analyze(tmp_path, "results.txt", healthy)
    assert not rep.diverged and rep.verdict.cause != "inconclusive"
    nan = _yolov5_results_row(0, 300, (math.nan,) * 4)
    assert "nan" in nan
    assert _analyze(tmp_path / "nan", "results.txt", nan).diverged


def test_a_results_txt_that_is_not_yolos_is_not_taken_for_a_log(tmp_path):
    from forensics.discover import discover

    (tmp_path / "results.txt").write_text("accuracy 0.91 on the test set\nthe model is saved in out/\n")
    (tmp_path / "summary.csv").write_text("name,size\na,1\nb,2\n")
    assert not [f for f in discover(tmp_path).files if f.rel == "results.txt"]
    assert [f.kind.name for f in discover(tmp_path).files if f.rel == "summary.csv"] == ["DATA_SAMPLE"]


# ---------------------------------------------------------------- a GAN's letters in a bar's postfix


def test_a_gans_letter_terms_in_a_tqdm_postfix():
    # marcoppasini/musika train.py: tqdm bar over the batches, pbar.set_postfix({'DR': ..., 'DF': ...,
    # 'G': ..., 'GP': ..., 'LR': ..., 'TIME': ...}); tqdm prints the postfix after the rate
    bar = "Epoch 41/250: 100%|██████████| 9375/9375 [07:11<00:00, 21.73it/s, DR=713, DF={df}, G={g}, GP=2.16e+4, "
    bar += "LR=0.0001, TIME=0.0615]\n"
    healthy = _series(bar.format(df=0.41, g=1.9))
    assert healthy["loss"][0][1] == pytest.approx(1.9 + 2.16e4)  # the generator's terms, not the critic's
    assert math.isnan(_series(bar.format(df="nan", g="nan"))["loss"][0][1])
    # a plain postfix with a named loss is read as before; keys that name a time or ETA are no terms
    assert postfix_letter_terms("loss=0.5, ETA=3, TIME=0.1") == []
    assert _series("Epoch 0: 100%|█| 10/10 [00:01<00:00, 9.1it/s, loss=0.5, v_num=3]\n")["loss"] == [(9, 0.5)]


# ---------------------------------------------------------------- step, percent, time, value


def test_the_pytorch_tutorials_print_loops():
    # pytorch/tutorials intermediate_source/char_rnn_classification_tutorial.py:
    # print('%d %d%% (%s) %.4f %s / %s %s' % (iter, iter / n_iters * 100, timeSince(start), loss, line,
    # guess, correct)); seq2seq_translation_tutorial.py: print('%s (%d %d%%) %.4f' % (timeSince(start,
    # iter / n_iters), iter, iter / n_iters * 100, print_loss_avg)), timeSince giving '%s (- %s)'
    cls = "".join(
        "%d %d%% (%s) %.4f %s / %s %s\n" % (i, i / 100000 * 100, "0m 12s", loss, "Koza", "Polish", "✗ (Czech)")
        for i, loss in ((5000, 2.41), (10000, 2.58), (15000, math.nan))
    )
    got = _series(cls)["loss"]
    assert got[:2] == [(5000, 2.41), (10000, 2.58)] and math.isnan(got[2][1])
    s2s = "".join(
        "%s (%d %d%%) %.4f\n" % ("1m 37s (- 22m 42s)", i, i / 75000 * 100, loss)
        for i, loss in ((5000, 2.85), (10000, 2.31), (15000, 2.02))
    )
    assert _series(s2s)["loss"] == [(5000, 2.85), (10000, 2.31), (15000, 2.02)]
    # a percent and a value with no step before them are no curve
    assert _series("Downloading 45% (3.2 MB/s) 1.5\n" * 3) == {}


# ---------------------------------------------------------------- tracebacks and guards


def test_a_traceback_whose_line_breaks_were_lost_still_ends_in_its_exception(tmp_path):
    # OpenNMT/OpenNMT-tf 2.x opennmt/runner.py: "Step = %d ; steps/s = %.2f, source words/s = %d, target
    # words/s = %d ; Learning rate = %f ; Loss = %f"; opennmt/training.py raises
    # RuntimeError("Model diverged with loss = NaN."); the paste joined the frames on one line
    step = "I runner.py:276] Step = %d ; steps/s = %.2f, source words/s = %d, target words/s = %d ; "
    step += "Learning rate = %f ; Loss = %f\n"
    text = step % (297500, 4.57, 16758, 19073, 0.000187, 1.60274) + step % (297600, 4.72, 17585, 19955, 0.000187, 1.61)
    flat = (
        'Traceback (most recent call last):\n  File "main.py", line 356, in <module>    main()  File '
        '"opennmt/training.py", line 269, in _steps    raise RuntimeError("Model diverged with loss = NaN.")'
        "RuntimeError: Model diverged with loss = NaN.\n"
    )
    _, events, died, _ = parse_log_text(text + flat)
    assert died and [e.kind for e in events] == ["nan_loss"] and events[0].step == 297600
    rep = _analyze(tmp_path, "train.log", text + flat)
    assert rep.diverged
    # a frame whose code names an error, with the exception on its own line, is read as before
    _, events, *_ = parse_log_text(
        text + 'Traceback (most recent call last):\n  File "x.py", line 3, in f\n    raise ValueError("bad")\n'
        "ValueError: bad\n"
    )
    assert [(e.kind, e.values["type"]) for e in events] == [("exception", "ValueError")]


def test_guards_that_stop_a_run_and_guards_that_skip_a_step(tmp_path):
    # neuralhydrology neuralhydrology/training/basetrainer.py _train_epoch: LOGGER.warning(f"Loss is Nan;
    # ignoring step. (#{nan_count}/{self._allow_subsequent_nan_losses})"), then past the allowance
    # raise RuntimeError(f"Loss was NaN for {nan_count} times in a row. Stopped training.")
    epochs = "".join("# Epoch %d: avg loss: %.5f\n" % (e, 0.41 - 0.01 * e) for e in range(1, 6))
    skip = "Loss is Nan; ignoring step. (#%d/%d)\n" % (1, 2)
    stop = "RuntimeError: Loss was NaN for 3 times in a row. Stopped training.\n"
    later = "".join("# Epoch %d: avg loss: %.5f\n" % (e, 0.36 - 0.01 * e) for e in range(6, 9))
    assert not _analyze(tmp_path / "skip", "output.log", epochs + skip + later).diverged
    assert _analyze(tmp_path / "stop", "output.log", epochs + skip * 2 + stop).diverged


def test_espnets_skip_warnings_are_no_divergence():
    # espnet 0.x espnet/asr/asr_utils / chainer_backend asr.py: logging.warning('grad norm is nan. Do not
    # update model.'); nets/e2e_asr_attctc.py: logging.warning('loss (=%f) is not correct', loss_data)
    text = "".join(
        "2018-05-23 13:05:%02d,260 (e2e_asr_attctc:88) WARNING: loss (=%f) is not correct\n" % (i, 2.5e8 + i)
        for i in range(3)
    )
    text += "2018-05-23 13:05:13,682 (asr_chainer:132) WARNING: grad norm is nan. Do not update model.\n"
    series, events, *_ = parse_log_text(text)
    assert series == {} and {e.kind for e in events} == {"nonfinite_step_skipped"}
    assert sum(e.values.get("count", 1) for e in events) == 4


def test_lua_nngraphs_nan_check_stops_the_run():
    # torch/nngraph gmodule.lua (2015): error(... 'output is nan, during forward pass, aborting...'),
    # as luajit prints an uncaught error: "<luajit>: <file>:<line>: <message>"
    _, events, *_ = parse_log_text(
        "creating an LSTM with 2 layers\n/opt/torch/install/bin/luajit: .../share/lua/5.1/nngraph/gmodule.lua:265: "
        "output is nan, during forward pass, aborting...\nstack traceback:\n"
    )
    assert [e.kind for e in events] == ["nan_loss"]


# ---------------------------------------------------------------- Lua Torch's err


def test_lua_torchs_err_is_the_loss_where_the_line_prints_no_other():
    # facebookarchive/NAMAS summary/train.lua: print("err", err) (Lua's print puts a tab between);
    # facebook/fb.resnet.torch train.lua: (' | Epoch: [%d][%d/%d]    Time %.3f  Data %.3f  Err %1.4f  top1 %7.3f
    # top5 %7.3f'):format(epoch, n, trainSize, time, dataTime, loss, top1, top5): Err is the criterion's output
    assert math.isnan(_series("err\tnan\nerr\tnan\n")["loss"][0][1])
    line = " | Epoch: [%d][%d/%d]    Time %.3f  Data %.3f  Err %1.4f  top1 %7.3f  top5 %7.3f\n"
    got = _series(
        line % (1, 10, 5005, 0.52, 0.01, 6.9077, 99.9, 99.5) + line % (1, 20, 5005, 0.5, 0.01, 6.88, 99.8, 99.3)
    )
    assert got["loss"] == [(10, 6.9077), (20, 6.88)]
    # beside a loss, err is another metric (pytorch-kaldi's frame error rate), and stderr is none
    assert dict(scan_line("loss=0.671 err=0.214").pairs) == {"loss": 0.671, "err": 0.214}
    assert scan_line("stderr 2 lines").pairs == []


def test_a_curve_of_line_order_points_beats_a_lone_per_epoch_summary(tmp_path):
    # facebookarchive/NAMAS summary/nnlm.lua (2015): a NaN batch is skipped with print("NaN") and the
    # input table printed; the epoch ends with string.format("[EPOCH : %d LOSS: %f TOTAL: %d BATCHES: %d]",
    # epoch, epoch_loss / total, total, batch), where epoch_loss sums only the finite batches (0 when every
    # one was NaN); the per-batch print("err", err) is the user's own. The one summary point is no curve:
    # the three NaN batches placed by line order are the loss, and the run diverged.
    batch = "err\tnan\nNaN\n{\n  1 : CudaTensor - size: 64x291\n  2 : CudaTensor - size: 64x291\n}\n"
    summary = "[EPOCH : %d LOSS: %f TOTAL: %d BATCHES: %d]\n" % (20, 0.0, 850461, 13683)
    rep = _analyze(tmp_path, "train.log", batch * 3 + summary)
    assert rep.diverged
    assert rep.timeline.loss is not None and rep.timeline.loss.unit == "log_index"
    assert len(rep.timeline.loss) == 3
    # two summaries are a curve of their own, and a per-epoch curve still ranks above line order
    two = "[EPOCH : %d LOSS: %f TOTAL: %d BATCHES: %d]\n"
    rep = _analyze(
        tmp_path / "two",
        "train.log",
        "err\t4.2\nerr\t4.1\n" + two % (1, 4.3, 100, 2) + "err\t3.9\n" + "err\t3.8\n" + two % (2, 3.9, 100, 2),
    )
    assert rep.timeline.loss.unit == "epoch"


# ---------------------------------------------------------------- checks that raise on a non-finite tensor


def test_a_check_that_raised_on_a_non_finite_tensor_is_a_divergence(tmp_path):
    # jax/_src/interpreters/pxla.py & dispatch.py (jax_debug_nans): FloatingPointError(f"invalid value
    # ({nan|inf}) encountered in {name}"), here as a notebook's error record shows it (Keras 3 on JAX)
    record = (
        '{\n\t"name": "FloatingPointError",\n\t"message": "invalid value (nan) encountered in '
        "jit(compiled_train_step). Because jax_config.debug_nans.value and/or config.jax_debug_infs is set, the "
        'de-optimized function ... was called.",\n}\n'
    )
    rep = _analyze(tmp_path / "jax", "train.log", record)
    assert rep.diverged
    # numpy's warning on the same words, without the value in brackets, is no such check
    rep = _analyze(
        tmp_path / "np",
        "train.log",
        "step 1 loss 2.5\nstep 2 loss 2.4\nRuntimeWarning: invalid value encountered in log\nstep 3 loss 2.3\n",
    )
    assert not rep.diverged
