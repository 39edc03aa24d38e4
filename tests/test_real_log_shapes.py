"""Shapes the real logs of the dev split (tests/fixtures/real_logs, docs/logs.md) taught the
extractor, each on lines written here in that toolkit's format (the thread that showed the shape
is named beside; the pasted logs themselves stay outside the repository), plus look-alikes that
must not move.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

import forensics
from forensics.readers.logmetrics import main_loss_of, metric_name, scan_line
from forensics.readers.logs import LOSS_SCALE_FLOOR, parse_log_text


def test_a_bracketed_name_names_the_value_after_it():
    # nv-tlabs/LION#9 (loguru trainer)
    lm = scan_line("[R0] | E3 iter[  9/ 12] | [Loss] nan | [exp] ./exp/run7/chair | [step]    45 | [time] 0.2m (~2h)")
    assert [t for t, _ in lm.pairs] == ["loss"] and math.isnan(lm.pairs[0][1])
    assert ("step", 45, None) in lm.counters
    # a bracket with a number in it is a counter as before: mmcv's "Epoch [1][50/2500]"
    assert scan_line("Epoch [1][50/2500]\tlr: 1.000e-02, loss: 1.6522").epoch == 1


def test_of_two_step_counters_on_a_line_the_larger_is_the_global_step():
    series, *_ = parse_log_text(
        "E5 iter[ 14/ 15] | [Loss] 5.1 | [step]    89 |\nE6 iter[ 14/ 15] | [Loss] nan | [step]   104 |\n"
    )
    assert series["loss"].steps.tolist() == [89, 104]


def test_a_metric_named_before_its_counter_takes_the_value_after_it():
    # nfmcclure/tensorflow_cookbook#129; the TF word2vec tutorial's "Average loss at step"
    lm = scan_line("Loss at step 100 : nan")
    assert lm.counters == [("step", 100, None)] and math.isnan(dict(lm.pairs)["loss"])
    assert dict(scan_line("Average loss at step  2000 :  4.3750").pairs) == {"loss": 4.375}
    assert scan_line("Saving at step 100 : 5").pairs == []  # no metric named before the counter


def test_a_stage_word_standing_alone_marks_an_evaluation_line():
    # facebookresearch/fairseq#1529 (fairseq 0.9) and #1895 (fairseq 0.10): train then valid lines
    train = scan_line("| epoch 011 | loss 4.512 | nll_loss 3.104 | ppl 8.6 | num_updates 4100 | loss_scale 0.000")
    valid = scan_line("| epoch 011 | valid on 'valid' subset | loss 8.871 | nll_loss 7.502 | num_updates 4100")
    newer = scan_line("2021-05-02 09:13:02 | INFO | valid | epoch 004 | valid on 'valid' subset | loss 9.02")
    assert not train.eval_context and valid.eval_context and newer.eval_context
    series, *_ = parse_log_text(
        "| epoch 028 | loss 3.976 | num_updates 9165\n"
        "| epoch 028 | valid on 'valid' subset | loss 9.329 | num_updates 9165\n"
    )
    assert series["loss"].values.tolist() == [3.976] and series["val_loss"].values.tolist() == [9.329]


def test_a_stage_word_before_a_metric_name_makes_it_that_stages_metric():
    # kwuking/TimeMixer#88 (Time-Series-Library print loop)
    pairs = scan_line("Epoch: 8, Steps: 569 | Train Loss: 0.1296 Vali Loss: 0.1201 Test Loss: 0.1446").pairs
    assert pairs == [("loss", 0.1296), ("val_loss", 0.1201), ("test_loss", 0.1446)]
    assert metric_name(("Minibatch", "Loss")) == "loss"


def test_a_source_file_and_line_is_not_a_metric():
    # zai-org/CogVideo#233: DeepSpeed's logger prints "[loss_scaler.py:183:update_scale]"
    assert scan_line("[2024-03-01 10:00:00,000] [INFO] [loss_scaler.py:183:update_scale] [deepspeed]").pairs == []
    assert metric_name(("loss_scaler.py",)) is None


def _run(tmp_path: Path, name: str, text: str, filename: str = "train.log"):
    run = tmp_path / name
    run.mkdir()
    (run / filename).write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


def _halvings(line: str, start: float, stop: float) -> str:
    out, scale = [], start
    while scale >= stop:
        out.append(line.format(scale=scale))
        scale /= 2
    return "\n".join(out) + "\n"


# fairseq's three ways of showing its fp16 scale driven to the bottom (the threads of
# facebookresearch/fairseq #1529, #1895 and #512): the epoch summary printing loss_scale 0.000,
# the newer logger printing loss_scale 0 beside "NOTE: overflow detected" notes, and the old
# "| WARNING: overflow detected" lines halving the scale to 2**-13.
FAIRSEQ_AT_FLOOR = {
    "summary_prints_zero": (
        "| epoch 011 | loss 4.512 | nll_loss 3.104 | ppl 8.6 | wps 201000 | ups 2 | num_updates 4100 | "
        "lr 0.0003 | gnorm 0.71 | clip 0.000 | oom 0.000 | loss_scale 0.000 | wall 2100 | train_wall 1900\n"
        "| epoch 011 | valid on 'valid' subset | loss 8.871 | nll_loss 7.502 | ppl 181.2 | num_updates 4100\n"
    ),
    "newer_logger": (
        "2021-05-02 09:12:40 | INFO | train | epoch 004 | loss 8.912 | nll_loss 8.01 | ppl 257.8 | "
        "num_updates 1210 | lr 0.00021 | gnorm 61.2 | loss_scale 0 | train_wall 3100 | wall 6400\n"
        "2021-05-02 09:13:02 | INFO | valid | epoch 004 | valid on 'valid' subset | loss 9.02 | num_updates 1210\n"
        "2021-05-02 09:14:10 | INFO | train_inner | epoch 005:      5 / 300 loss=8.87, nll_loss=7.93, "
        "num_updates=1215, lr=0.000212, gnorm=140.5, loss_scale=0, wall=6470\n"
        + _halvings(
            "2021-05-02 09:15:00 | INFO | fairseq.trainer | NOTE: overflow detected, setting loss scale to: {scale}",
            2.0**-11,
            2.0**-12,
        )
    ),
    "old_warnings": (
        "| epoch 019 | loss 6.102 | nll_loss 4.77 | ppl 27.3 | num_updates 8800 | lr 0.0006 | gnorm 0.41 | "
        "clip 0% | oom 0 | loss_scale 0.500 | wall 20100\n"
        + _halvings("| WARNING: overflow detected, setting loss scale to: {scale}", 0.25, 2.0**-13)
    ),
}


def test_a_loss_scale_at_its_floor_is_a_divergence(tmp_path):
    # the three fairseq threads: the scale printed as 0.000 / 0, or set to 1.2e-4 by overflow notes
    for name, text in FAIRSEQ_AT_FLOOR.items():
        rep = _run(tmp_path, name, text)
        assert rep.diverged and rep.verdict.cause == "numerical_instability", name
        assert rep.verdict.detail == "fp16_overflow", name


def test_a_scaler_that_cannot_lower_the_scale_is_at_its_floor():
    # huggingface/transformers#14531: DeepSpeed at its minimum scale of 1, overflowing step after step
    line = "[stage2.py:1628:step] [deepscale] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1\n"
    _, events, _, _ = parse_log_text(line * 3)
    assert [e.kind for e in events] == ["loss_scale_overflow_transient", "loss_scale_minimum"]
    # one overflow at the floor is one bad batch at a low scale, not a scaler that gave up
    _, events, _, _ = parse_log_text("step 1 loss 2.0\n" + line + "step 2 loss 1.9\n")
    assert [e.kind for e in events] == ["loss_scale_overflow_transient"]


# DeepSpeed's fused fp16 optimizer (deepspeed/runtime/fp16/fused_optimizer.py, 0.3 on): the
# scaler's two lines (the first a bare newline then the iteration), then the step's own line
def _deepspeed_fused_overflow(when: str, it: int, prev: float, new: float) -> str:
    return (
        f"[{when}] [INFO] [fused_optimizer.py:314:_update_scale] \n"
        f"Grad overflow on iteration {it}\n"
        f"[{when}] [INFO] [fused_optimizer.py:316:_update_scale] Reducing dynamic loss scale from {prev:g} to {new:g}\n"
        f"[{when}] [INFO] [logging.py:60:log_dist] [Rank 0] Overflow detected. Skipping step. Attempted loss "
        f"scale: {prev:g}, reducing to {new:g}\n"
    )


def test_deepspeed_fused_optimizer_overflows_are_counted_once_each(tmp_path):
    # deepspeedai/DeepSpeed#697 (heldout2): three lines per overflow, one overflow each
    text = "".join(
        _deepspeed_fused_overflow(f"2021-01-26 22:05:{10 + i:02d},100", i, 2.0 ** (16 - i), 2.0 ** (15 - i))
        + f"[2021-01-26 22:05:{10 + i:02d},200] [INFO] [timer.py:166:stop] 0/{10 * i}, SamplesPerSec=28.7\n"
        for i in range(4)
    )
    _, events, _, _ = parse_log_text(text)
    (ev,) = events
    assert ev.kind == "loss_scale_overflow_transient" and ev.values["count"] == 4
    assert ev.values["last_loss_scale"] == 2.0**12
    assert not _run(tmp_path, "ds_fused_skips", "step 1 loss 2.1\n" + text + "step 40 loss 1.8\n").diverged


def test_deepspeed_fused_optimizer_stuck_at_its_minimum_scale_is_at_its_floor(tmp_path):
    # deepspeedai/DeepSpeed#697 (heldout2): "Attempted loss scale: 1, reducing to 1" again and again
    text = "".join(_deepspeed_fused_overflow(f"2021-01-26 22:05:{30 + i},108", 8, 1, 1) for i in range(3))
    _, events, _, _ = parse_log_text(text)
    assert [e.kind for e in events] == ["loss_scale_overflow_transient", "loss_scale_minimum"]
    rep = _run(tmp_path, "ds_fused_floor", text)
    assert rep.diverged and rep.verdict.cause == "numerical_instability" and rep.verdict.detail == "fp16_overflow"


def test_scaler_skips_far_above_the_floor_stay_healthy(tmp_path):
    # zai-org/CogVideo#233 and huggingface/transformers#9996: the scaler's first steps
    _, events, _, _ = parse_log_text(
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, but hysteresis is 2. "
        "Reducing hysteresis to 1\n"
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768\n"
    )
    assert {e.kind for e in events} == {"loss_scale_overflow_transient"}
    # DeepSpeed's scaler at work: its logger's prefix, or glued after an HF tqdm bar
    deepspeed = "".join(
        f"[2024-03-01 10:00:{i:02d},000] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 "
        f"Skipping step. Attempted loss scale: {2**k}, reducing to {2 ** (k - 1)}\n"
        for i, k in enumerate(range(32, 26, -1))
    )
    tqdm = "".join(
        f"  1%|          | {i}/900 [00:{20 + 3 * i}<1:02:00,  3.40s/it][2021-06-01 12:00:{10 + i},000] [INFO] "
        f"[stage2.py:1357:step] [deepscale] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: "
        f"{2.0 ** (28 - i)}, reducing to {2.0 ** (27 - i)}\n"
        for i in range(5, 9)
    )
    for name, text in (("deepspeed", deepspeed), ("hf_tqdm_deepspeed", tqdm)):
        assert not _run(tmp_path, name, text).diverged, name
    assert 2.0**-12 < LOSS_SCALE_FLOOR < 0.1


def test_a_nan_guard_message_is_a_divergence_at_the_last_step_logged(tmp_path):
    # a real TF1 run stopped by NanTensorHook (tests/fixtures/make_log_fixtures.py): its last loss
    # line is finite, the guard's message says the loss then went NaN
    run = tmp_path / "guard"
    run.mkdir()
    shutil.copyfile(Path(__file__).parent / "fixtures" / "logs" / "tf1_nan_tensor_hook.log", run / "train.log")
    rep = forensics.analyze(str(run))
    assert rep.diverged and rep.first_nonfinite_step == 10
    # a print loop's healthy log (the Time-Series-Library's shape, kwuking/TimeMixer#88) stays healthy
    summary = "Epoch: 8, Steps: 569 | Train Loss: 0.1296 Vali Loss: 0.1201 Test Loss: 0.1446\n"
    healthy = "".join(
        f"\titers: {i}00, epoch: {e} | loss: {0.16 - 0.004 * e + 0.002 * (i % 3):.7f}\n"
        f"\tspeed: 1.1{i}s/iter; left time: 6900{i}.0s\n"
        for e in (7, 8)
        for i in range(1, 6)
    ) + (summary + "EarlyStopping counter: 1 out of 15\n")
    assert not _run(tmp_path, "print_loop_healthy", healthy).diverged


def test_a_nan_guard_with_no_step_before_it_is_still_a_divergence(tmp_path):
    # NVIDIA/DeepLearningExamples#78's shape: a paste that starts at TF's NanTensorHook message
    # and ends inside the traceback it raised. Cut here from the real TF1 run of the test above:
    # no step and no loss before the guard, no exception line after it.
    lines = (Path(__file__).parent / "fixtures" / "logs" / "tf1_nan_tensor_hook.log").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "Model diverged with loss = NaN" in line)
    rep = _run(tmp_path, "guard_cut", "\n".join(lines[start : start + 8]) + "\n")
    assert rep.diverged and rep.first_nonfinite_step is None
    assert rep.timeline.nonfinite_unplaced is not None
    assert "so when is unknown" in rep.verdict.summary
    # the traceback cut after the guard is the guard's, not a crash of unknown meaning
    assert rep.verdict.cause != "inconclusive" and "weak prior" in rep.verdict.summary
    md = rep.to_markdown()
    assert "diverged (step unknown)" in md.splitlines()[0]
    assert "**Ended:** stopped on `ERROR:tensorflow:Model diverged with loss = NaN.` — nan guard" in md


def test_a_nan_guard_with_no_step_is_placed_after_the_points_printed_before_it(tmp_path):
    # counter-less metric lines are numbered in log order; a guard that names no step sits after the
    # last of them printed before it, not after the last of the log (TF's NanTensorHook text)
    guard = "ERROR:tensorflow:Model diverged with loss = NaN.\n"
    rep = _run(tmp_path, "order", "loss: 2.0\nloss: 1.9\n" + guard + "loss: 1.8\n")
    assert rep.diverged and rep.first_nonfinite_step == 2
    assert rep.verdict.summary.startswith("The training loss went non-finite after step 2")
    # HF Trainer dict lines (no step either) place it the same way
    hf = "".join(f"{{'loss': {v}, 'learning_rate': 0.0001, 'epoch': {e}}}\n" for v, e in ((2.0, 0.1), (1.9, 0.2)))
    rep = _run(tmp_path, "hf", hf + guard + "{'loss': 1.8, 'learning_rate': 0.0001, 'epoch': 0.3}\n")
    assert rep.first_nonfinite_step == 2


def test_a_paste_cut_inside_a_traceback_after_a_finite_loss_is_called_what_the_curve_shows(tmp_path):
    # ultralytics/ultralytics#1654's shape: finite loss rows, then the paste ends inside the
    # traceback, before its exception line (the thread says out of memory). Here the mmcv 1.7
    # healthy toolkit log (tests/fixtures/make_toolkit_log_fixtures.py) with a cut traceback after it.
    log = (Path(__file__).parent / "fixtures" / "logs" / "toolkits" / "mmcv_text.log").read_text()
    frames = '  File "tools/train.py", line 187, in <module>\n    main()\n'
    rep = _run(tmp_path, "cut", log + "Traceback (most recent call last):\n" + frames)
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert 0 < rep.verdict.confidence <= 0.5
    assert "cut before its exception line" in rep.verdict.summary and "not in the log" in rep.verdict.summary
    # the same log ending on an exception of no known meaning stays inconclusive (the contract)
    whole = _run(tmp_path, "whole", log + "Traceback (most recent call last):\n" + frames + "KeyError: 'img'\n")
    assert whole.verdict.cause == "inconclusive" and "KeyError" in whole.verdict.summary


def test_bare_step_and_value_lines_are_the_loss_only_when_nothing_is_named():
    # prajdabre/yanmtt#7: print(step, loss) in a BART pre-training loop
    series, *_ = parse_log_text("5100 2.9151\n5110 2.8872\n5120 nan\n5130 nan\nSaving the model\n5140 nan\n")
    assert series["loss"].steps.tolist() == [5100, 5110, 5120, 5130, 5140]
    assert math.isnan(series["loss"].values[2])
    # a log that names its loss keeps it; stray number pairs and integer pairs are no curve
    series, *_ = parse_log_text("step 10 loss 2.5\n76960 2.735384\n76970 2.6265104\n76980 2.5\n")
    assert series["loss"].steps.tolist() == [10]
    series, *_ = parse_log_text("76960 2.73\n76970 2.62\n")
    assert "loss" not in series
    series, *_ = parse_log_text("10 20\n20 30\n30 40\n40 50\n")
    assert "loss" not in series


def test_a_loss_scale_is_never_the_loss():
    # deepspeedai/DeepSpeed#931: the scaler's line names no loss but its scale
    line = "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768"
    series, *_ = parse_log_text(f"{line}\n{line}\n")
    assert "loss" not in series
    assert dict(main_loss_of([("loss_cls", 0.3), ("loss_weight", 1.0)])) == {"loss": 0.3, "loss_weight": 1.0}


def test_apex_overflow_with_or_without_the_scalers_id():
    # apex/amp/handle.py: "... loss scaler {loss_id} reducing ..."; apex/amp/_process_optimizer.py
    # (fused optimizers): "... loss scaler reducing loss scale to {}"
    for line in (
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0",
        "Gradient overflow.  Skipping step, loss scaler reducing loss scale to 4096.0",
    ):
        _, events, *_ = parse_log_text(line + "\n")
        assert [e.kind for e in events] == ["loss_scale_overflow_transient"], line


def test_a_header_whose_names_hold_digits_is_still_a_header():
    # ultralytics/ultralytics#1654: "l1_loss" in the header, rows in the bar's description
    bar = "██████████"
    header = "      Epoch    GPU_mem  giou_loss   cls_loss    l1_loss  Instances       Size\n"
    series, *_ = parse_log_text(
        header + f"   128/3500      34.4G       1.64     0.3032     0.5341        219       2048: 100%|{bar}| 82/82 "
        "[00:53<00:00,  1.53it/s]\n"
        "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): 100%| 36/36\n"
        "                   all        491      14399     0.0357       0.26     0.0251    0.00567\n\n"
        + header
        + f"   129/3500      34.2G      1.697     0.2921     0.5755        134       2048:  80%|{bar[:8]}  | 66/82 "
        "[00:42<00:10,  1.55it/s]\n"
    )
    assert series["l1_loss"].values.tolist() == [0.5341, 0.5755]
    assert series["loss"].values.tolist() == pytest.approx([1.64 + 0.3032 + 0.5341, 1.697 + 0.2921 + 0.5755])
    # epoch 128 of 3500 ends at batch 82 of 82; epoch 129 is at 66 of 82 (1-based epochs)
    assert series["loss"].steps.tolist() == [127 * 82 + 82, 128 * 82 + 66]


def test_a_bare_scale_is_no_loss_scale_and_no_floor():
    # a diffusion trainer's "scale" (guidance, noise) near 0 says nothing of fp16 loss scaling
    series, events, *_ = parse_log_text("step 1 loss 0.20 scale 0.0\nstep 2 loss 0.19 scale 0.0\n")
    assert "loss_scale" not in series and not [e for e in events if e.kind == "loss_scale_minimum"]
    series, events, *_ = parse_log_text("step 1 loss 0.20 loss_scale 0.0\nstep 2 loss 0.19 loss_scale 0.0\n")
    assert [e.kind for e in events] == ["loss_scale_minimum"]


def test_one_letter_loss_terms_between_pipes_with_their_total_under_t():
    # dbolya/yolact#56 and #359 (heldout2): train.py's "[%3d] %7d ||", " %s: %.3f |" per term,
    # " T: %.3f || ETA: %s || timer: %.3f"
    series, *_ = parse_log_text(
        "[  0]     240 || B: 3.412 | C: 9.871 | M: 6.102 | S: 1.203 | T: 20.588 || ETA: 3 days, 1:02:03 || timer: 0.4\n"
        "[  0]     250 || B: 3.118 | C: 8.904 | M: 5.877 | S: 1.150 | T: 19.049 || ETA: 3 days, 1:01:40 || timer: 0.3\n"
        "[  1]    6170 || B: nan | C: 4.112 | M: 4.019 | S: 0.702 | T: nan || ETA: 2 days, 20:13:00 || timer: 0.410\n"
    )
    assert series["loss"].steps.tolist() == [240, 250, 6170]
    assert series["loss"].values[:2].tolist() == [20.588, 19.049] and math.isnan(series["loss"].values[2])
    assert series["loss_B"].values[0] == 3.412
    # letters that are no loss terms: no total under T, or a single letter beside it
    assert parse_log_text("| A: 1.0 | B: 2.0 | C: 3.0 |\n")[0] == {}
    assert "loss" not in parse_log_text("| X: 4 | T: 5 |\n")[0]


def test_a_loss_past_any_plausible_value_is_a_divergence_even_on_one_line(tmp_path):
    # open-mmlab/mmdetection#4383 (heldout2): mmcv's text log, one line, a classification term of 1e9
    mmdet = (
        "2021-01-03 10:02:15,629 - mmdet - INFO - Epoch [1][450/58633]\tlr: 1.796e-02, eta: 3 days, 18:20:01, "
        "time: 0.431, data_time: 0.005, memory: 4851, loss_rpn_cls: 2.1874, loss_rpn_bbox: 0.0052, "
        "loss_cls: 871402226.1093, acc: 82.6211, loss_bbox: 40218733.0187, loss: 911620961.3206, "
        "grad_norm: 401872233919.2190\n"
    )
    rep = _run(tmp_path, "mmdet", mmdet, "20210103_100000.log")
    assert rep.diverged and rep.timeline.exploded_step == 450
    assert "loss_cls" in rep.verdict.summary
    # OpenNMT-py 0.x prints exp(min(xent, 100)): a perplexity at its cap is past any vocabulary
    onmt = (
        "[2018-08-01 18:29:48,221 INFO] Step 50/100000; acc:   0.00; ppl: "
        f"{math.exp(100):.2f}; xent: 5012.77; lr: 2.00000; 4132/2064 tok/s;     52 sec\n"
    )
    assert len(f"{math.exp(100):.2f}") > 40  # every digit is printed
    rep = _run(tmp_path, "onmt", onmt)
    assert rep.diverged and rep.timeline.exploded_step == 50


def test_large_losses_a_task_can_have_stay_healthy(tmp_path):
    # a regression on raw targets (squared errors of prices) that falls, and a summed token loss
    raw = "".join(f"epoch {e} loss {4e10 * 0.8**e:.1f}\n" for e in range(1, 30))
    summed = "".join(f"step {s} nll_loss {3.2e6 * 0.99**s:.1f}\n" for s in range(10, 400, 10))
    for name, text in (("raw_targets", raw), ("summed_tokens", summed)):
        rep = _run(tmp_path, name, text)
        assert not rep.diverged and rep.verdict.cause == "healthy", name
    # a classification loss that passed the bound once and came back is a spike, not this rule's case
    spike = "".join(f"step {s} loss_cls {(2e8 if s == 200 else 1.5):.4f}\n" for s in range(10, 400, 10))
    from forensics.timeline import CLASS_LOSS_IMPLAUSIBLE

    assert CLASS_LOSS_IMPLAUSIBLE < 2e8
    rep = _run(tmp_path, "spike", spike)
    assert rep.timeline.exploded_how is None


def test_a_nan_while_a_warmup_still_raises_the_lr_points_at_the_lr(tmp_path):
    # YunYang1994/TensorFlow2.0-Examples#8 (heldout2): the YOLOv3 eager loop's "=> STEP" lines,
    # a linear warmup longer than the run, a loss term gone NaN as the LR kept rising
    def line(step: int, loss: float) -> str:
        return (
            f"=> STEP {step:4d}   lr: {step * 8e-7:.6f}   giou_loss: {loss / 4:4.2f}   conf_loss: {loss / 2:4.2f}   "
            f"prob_loss: {loss / 4:4.2f}   total_loss: {loss:4.2f}\n"
        )

    text = "".join(line(s, 30.0 * 0.999**s) for s in range(560, 640)) + line(640, math.nan)
    rep = _run(tmp_path, "warmup", text)
    assert rep.diverged and rep.verdict.cause == "learning_rate"
    assert any(e.rule == "LR010" for c in rep.candidates for e in c.evidence)
    # the same NaN at a constant LR is not the LR's: LR010 stays silent
    rep = _run(tmp_path, "flat", re.sub(r"lr: \S+", "lr: 0.000500", text))
    assert not any(e.rule == "LR010" for c in rep.candidates for e in c.evidence)


def test_a_nan_before_the_loss_fell_at_an_unstated_lr_points_at_the_lr(tmp_path):
    # ishtos/mpII-face-gaze#3 (heldout2): main.py's logging format '[%(asctime)s %(name)s %(levelname)s] -
    # %(message)s' and its train loop's 'Epoch {} Step {}/{} Loss {:.4f} ({:.4f}) AngleError {:.2f} ({:.2f})'
    # every 100 steps (value and running average); SGD at its default base_lr, the thread's fix a lower LR
    def line(step: int, loss: float, avg: float) -> str:
        return (
            f"[2019/06/24 16:19:{step // 100:02d} __main__ INFO] - Epoch 1 Step {step}/1500 Loss {loss:.4f} "
            f"({avg:.4f}) AngleError {loss / 2:.2f} ({avg / 2:.2f})\n"
        )

    head = "[2019/06/24 16:19:45 __main__ INFO] - Train 1\n"
    text = head + line(0, 48.9613, 48.9613) + "".join(line(s, math.nan, math.nan) for s in range(100, 1000, 100))
    rep = _run(tmp_path, "nan", text)
    assert rep.diverged and rep.verdict.cause == "learning_rate"
    assert any(e.rule == "LR013" for c in rep.candidates for e in c.evidence)
    # a header that states the LR (argparse's Namespace, print(args)): a normal one is not this rule's to blame
    args = "Namespace(base_lr=0.0001, batch_size=32, epochs=40, momentum=0.9, nesterov=True)\n"
    rep = _run(tmp_path, "stated", args + text)
    assert rep.timeline.lr_info.value == pytest.approx(1e-4)
    assert not any(e.rule == "LR013" for c in rep.candidates for e in c.evidence)
    # guillaumegenthial/sequence_tagging#47 (dev): logging's '%(asctime)s:%(levelname)s: %(message)s' with
    # 'train loss:{}' and no step: a bouncing loss then NaN, but nothing places it early in the run (a paste's
    # last lines look the same), so the rule stays silent
    lines = [1.10886, 1.53702, 0.866067, 1.32708, 1.20029] + [math.nan] * 5
    text_ = "".join(f"2018-03-23 15:{29 + 2 * i}:33,355:INFO: train loss:{v}\n" for i, v in enumerate(lines))
    rep = _run(tmp_path, "unplaced", text_)
    assert rep.diverged and rep.timeline.loss.unit == "log_index"
    assert not any(e.rule == "LR013" for c in rep.candidates for e in c.evidence)
    # a loss falling into the NaN was learning: the NaN struck out of a normal level (not this rule's)
    falling = head + "".join(line(s, 48.0 * 0.7 ** (s // 100), 40.0) for s in range(0, 500, 100))
    rep = _run(tmp_path, "falling", falling + "".join(line(s, math.nan, math.nan) for s in range(500, 1000, 100)))
    assert rep.diverged
    assert not any(e.rule == "LR013" for c in rep.candidates for e in c.evidence)


def test_a_loss_that_blew_up_and_stayed_finite_is_not_named_numerical_instability(tmp_path):
    # dbolya/yolact#56 (heldout2): the total in the 1e31s, never Inf or NaN; an overflow or a
    # singularity (log(0), x/0, fp16) would have made it non-finite
    text = "".join(
        f"[  0] {it:7d} || B: {b:.3f} | C: {c:.3f} | M: 4.102 | S: 0.911 | T: {b + c + 5.013:.3f} || ETA: 20:27:56 "
        "|| timer: 0.341\n"
        for it, b, c in ((7840, 3.1, 9.2), (7850, 4.4e12, 2.9e11), (7860, 2.0e31, 1.4e30))
    )
    rep = _run(tmp_path, "finite_blowup", text)
    assert rep.diverged and rep.timeline.first_nonfinite is None
    assert rep.verdict.cause not in ("numerical_instability", "healthy", "inconclusive")
    assert "not numerical instability" in rep.verdict.summary
    assert {c.cause: c.score for c in rep.candidates}["numerical_instability"] == 0.0


def test_detrs_check_of_its_predicted_boxes_failing_is_a_divergence(tmp_path):
    # facebookresearch/detr#285 (heldout2): the predicted boxes come out of a sigmoid, so the check
    # fails only on NaN; the traceback of a training step, as DETR's main.py dies with it
    frames = (
        "Traceback (most recent call last):\n"
        '  File "main.py", line 248, in <module>\n'
        '  File "/code/detr/models/matcher.py", line 74, in forward\n'
        "    cost_giou = -generalized_box_iou(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox))\n"
        '  File "/code/detr/util/box_ops.py", line 51, in generalized_box_iou\n'
    )
    text = (
        "Epoch: [0]  [ 100/7393]  eta: 1:05:11  lr: 0.002000  loss: 31.2201 (33.8410)  loss_ce: 2.0141 (2.1120)\n"
        + frames
        + "    assert (boxes1[:, 2:] >= boxes1[:, :2]).all()\nAssertionError\n"
    )
    rep = _run(tmp_path, "detr", text)
    assert rep.diverged and rep.verdict.cause not in ("healthy", "inconclusive")
    # the same check on the target boxes (the second argument) says the annotations are degenerate,
    # not that the model went NaN: no divergence is read from it
    rep = _run(
        tmp_path,
        "detr_targets",
        text.replace("assert (boxes1", "assert (boxes2").replace("boxes1[:, :2]", "boxes2[:, :2]"),
    )
    assert not rep.diverged


def test_a_log_that_says_it_trains_in_16bit_names_fp16_overflow_for_a_nan_without_a_climb(tmp_path):
    # IDEA-CCNL/Fengshenbang-LM#222 (heldout2; its paste starts after the header): Lightning's
    # precision line (Lightning 2, Fabric and 1.x wordings), then a loss NaN from the first batch
    rows = "".join(
        f"Epoch 0/1 | Batch {b}/15582 | Train Loss nan | Learning Rate {b * 2e-10:.1e}\n" for b in range(0, 400, 100)
    )
    for line in (
        "Using 16bit Automatic Mixed Precision (AMP)",
        "Using 16-bit Automatic Mixed Precision (AMP)",
        "Using native 16bit precision.",
    ):
        rep = _run(tmp_path, re.sub(r"\W+", "_", line), f"GPU available: True (cuda), used: True\n{line}\n{rows}")
        assert rep.timeline.weight_dtype == "float16", line
        assert (rep.verdict.cause, rep.verdict.detail) == ("numerical_instability", "fp16_overflow"), line
    # bfloat16 keeps float32's range; a healthy 16-bit run stays healthy
    rep = _run(tmp_path, "bf16", f"Using bfloat16 Automatic Mixed Precision (AMP)\n{rows}")
    assert rep.timeline.weight_dtype == "bfloat16" and rep.verdict.detail != "fp16_overflow"
    healthy = "".join(f"Epoch 0/1 | Batch {b}/15582 | Train Loss {3 * 0.999**b:.4f}\n" for b in range(0, 4000, 100))
    rep = _run(tmp_path, "amp_healthy", f"Using 16bit Automatic Mixed Precision (AMP)\n{healthy}")
    assert not rep.diverged and rep.verdict.cause == "healthy"
