"""Shapes the real logs of tests/fixtures/real_logs/dev taught the extractor, each on lines
quoted from those logs (their threads are named beside), plus look-alikes that must not move.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

import forensics
from forensics.readers.logmetrics import main_loss_of, metric_name, scan_line
from forensics.readers.logs import LOSS_SCALE_FLOOR, parse_log_text

DEV = Path(__file__).parent / "fixtures" / "real_logs" / "dev"


def test_a_bracketed_name_names_the_value_after_it():
    # nv-tlabs/LION#9 (loguru trainer)
    lm = scan_line("[R0] | E6 iter[ 14/ 15] | [Loss] nan | [exp] ./exp/0125/car | [step]   104 | [time] 0.4m (~5h)")
    assert [t for t, _ in lm.pairs] == ["loss"] and math.isnan(lm.pairs[0][1])
    assert ("step", 104, None) in lm.counters
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
    train = scan_line("| epoch 028 | loss 3.976 | nll_loss 2.204 | ppl 4.61 | num_updates 9165 | loss_scale 0.000")
    valid = scan_line("| epoch 028 | valid on 'valid' subset | loss 9.329 | nll_loss 8.088 | num_updates 9165")
    newer = scan_line("2020-03-23 11:38:31 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 9.393")
    assert not train.eval_context and valid.eval_context and newer.eval_context
    series, *_ = parse_log_text(
        "| epoch 028 | loss 3.976 | num_updates 9165\n"
        "| epoch 028 | valid on 'valid' subset | loss 9.329 | num_updates 9165\n"
    )
    assert series["loss"].values.tolist() == [3.976] and series["val_loss"].values.tolist() == [9.329]


def test_a_stage_word_before_a_metric_name_makes_it_that_stages_metric():
    # kwuking/TimeMixer#88 (Time-Series-Library print loop)
    pairs = scan_line("Epoch: 18, Steps: 569 | Train Loss: 0.1296439 Vali Loss: 0.1200742 Test Loss: 0.1446345").pairs
    assert pairs == [("loss", 0.1296439), ("val_loss", 0.1200742), ("test_loss", 0.1446345)]
    assert metric_name(("Minibatch", "Loss")) == "loss"


def test_a_source_file_and_line_is_not_a_metric():
    # zai-org/CogVideo#233: DeepSpeed's logger prints "[loss_scaler.py:183:update_scale]"
    assert scan_line("[2024-09-11 17:52:18,030] [INFO] [loss_scaler.py:183:update_scale] [deepspeed]").pairs == []
    assert metric_name(("loss_scaler.py",)) is None


def _run(tmp_path: Path, name: str, filename: str = "train.log"):
    run = tmp_path / name
    run.mkdir()
    shutil.copyfile(DEV / f"{name}.log", run / filename)
    return forensics.analyze(str(run))


def test_a_loss_scale_at_its_floor_is_a_divergence(tmp_path):
    # the three fairseq threads: the scale printed as 0.000 / 0, or set to 1.2e-4 by overflow notes
    for name in ("fairseq_1529_min_loss_scale", "fairseq_1895_backtranslation_overflow", "fairseq_512_overflow_to_min"):
        rep = _run(tmp_path, name)
        assert rep.diverged and rep.verdict.cause == "numerical_instability", name
        assert rep.verdict.detail == "fp16_overflow", name


def test_a_scaler_that_cannot_lower_the_scale_is_at_its_floor():
    # huggingface/transformers#14531: DeepSpeed at its minimum scale of 1
    _, events, _, _ = parse_log_text(
        "[INFO] [stage2.py:1628:step] [deepscale] OVERFLOW! Rank 0 Skipping step. "
        "Attempted loss scale: 1, reducing to 1\n"
    )
    assert [e.kind for e in events] == ["loss_scale_overflow_transient", "loss_scale_minimum"]


def test_scaler_skips_far_above_the_floor_stay_healthy(tmp_path):
    # zai-org/CogVideo#233 and huggingface/transformers#9996: the scaler's first steps
    _, events, _, _ = parse_log_text(
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, but hysteresis is 2. "
        "Reducing hysteresis to 1\n"
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768\n"
    )
    assert {e.kind for e in events} == {"loss_scale_overflow_transient"}
    for name in ("cogvideo_233_overflow_recovered", "transformers_9996_t5_deepspeed_success"):
        assert not _run(tmp_path, name).diverged, name
    assert 2.0**-12 < LOSS_SCALE_FLOOR < 0.1


def test_a_nan_guard_message_is_a_divergence_at_the_last_step_logged(tmp_path):
    # a real TF1 run stopped by NanTensorHook (tests/fixtures/make_log_fixtures.py): its last loss
    # line is finite, the guard's message says the loss then went NaN
    run = tmp_path / "guard"
    run.mkdir()
    shutil.copyfile(Path(__file__).parent / "fixtures" / "logs" / "tf1_nan_tensor_hook.log", run / "train.log")
    rep = forensics.analyze(str(run))
    assert rep.diverged and rep.first_nonfinite_step == 10
    assert not _run(tmp_path, "timemixer_88_healthy").diverged


def test_bare_step_and_value_lines_are_the_loss_only_when_nothing_is_named():
    # prajdabre/yanmtt#7: print(step, loss) in a BART pre-training loop
    series, *_ = parse_log_text("76960 2.735384\n76970 2.6265104\n76980 nan\n76990 nan\nSaving the model\n77000 nan\n")
    assert series["loss"].steps.tolist() == [76960, 76970, 76980, 76990, 77000]
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
    series, *_ = parse_log_text((DEV / "ultralytics_1654_oom_rows.log").read_text(encoding="utf-8"))
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
