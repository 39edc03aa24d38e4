"""The job-log reader, on console output captured from the real frameworks.

Fixtures under tests/fixtures/logs/ are written by tests/fixtures/make_log_fixtures.py,
which runs each framework in a subprocess and keeps what it printed (ANSI codes,
carriage returns and backspaces included). GPU-only messages (CUDA asserts,
CUDA OOM, DeepSpeed/apex/fairseq loss scaling) cannot be produced on CPU: their
tests use the message text from the frameworks' source code, named at each test.

The reader records what a message names; what it means (cause, detail) is the rules'
table (forensics/rules/messages.py), checked here through ``meaning`` on what was read.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.errors import UnreadableSource
from forensics.readers import logs
from forensics.readers.logs import clean_segment, parse_log_text, read_job_log
from forensics.records import Kind, LogData, LogEvent, Source, Status, with_steps_from_epochs
from forensics.rules.messages import meaning

FIX = Path(__file__).parent / "fixtures" / "logs"


def read(name: str) -> LogData:
    path = FIX / name
    return read_job_log(path, Source(path=name, kind=Kind.JOB_LOG, size=path.stat().st_size))


def points(data: LogData, tag: str) -> list[tuple[int, float]]:
    s = data.scalars[tag]
    return list(zip(s.steps.tolist(), s.values.tolist(), strict=True))


def first_nonfinite(data: LogData, tag: str = "loss") -> int | None:
    s = data.scalars[tag]
    bad = np.flatnonzero(~np.isfinite(s.values))
    return int(s.steps[bad[0]]) if bad.size else None


def _means(ev: LogEvent) -> tuple[str | None, str | None]:
    m = meaning(ev)
    return (m.cause, m.detail) if m is not None else (None, None)


def events(data: LogData, kind: str) -> list:
    return [e for e in data.events if e.kind == kind]


# ---------------------------------------------------------------- Keras


def test_keras3_verbose1_progress_redraws_with_ansi_and_backspaces_give_global_steps():
    data = read("keras3_fit_verbose1_nan_terminate.log")
    loss = data.scalars["loss"]
    assert data.step_unit == "step"
    assert data.steps_per_epoch == 8
    # the first fit() call (4 steps) and the second (restarting at epoch 1) are two segments
    assert loss.segment.tolist() == [0, 0, 1, 1]
    assert loss.steps.tolist()[:2] == [1, 4]
    assert math.isclose(loss.values[1], 0.8592)  # read through \x1b[1m... and \b\b\b
    assert points(data, "val_loss")[0] == (4, pytest.approx(0.8069))


def test_keras_terminate_on_nan_printed_after_the_bar_is_found_and_placed_on_its_global_step():
    # Keras prints "Batch 4: Invalid loss" glued to the progress bar ("loss: 0.7605Batch 4: ...")
    data = read("keras3_fit_verbose1_nan_terminate.log")
    (ev,) = events(data, "nan_loss_terminated")
    assert ev.values["batch"] == 4
    assert ev.step == 5  # batch index 4 of epoch 1 is the 5th step
    # the epoch-end line says 8/8 but the epoch stopped at step 5: the NaN is placed there
    assert first_nonfinite(data) == 5
    assert not data.died_with_exception


def test_keras3_verbose2_epoch_end_lines_map_to_the_epochs_last_step():
    data = read("keras3_fit_verbose2_lr_spike.log")
    assert data.steps_per_epoch == 10
    assert data.scalars["loss"].steps.tolist() == [10, 20, 30, 40, 50, 60, 70, 80]
    assert first_nonfinite(data) == 50  # loss went NaN in epoch 5, after the LR jumped
    lr = points(data, "learning_rate")
    assert lr[3] == (40, pytest.approx(0.005)) and lr[4] == (50, pytest.approx(0.5))


def test_keras3_verbose2_terminate_on_nan_same_step_from_event_and_from_metrics():
    data = read("keras3_fit_verbose2_nan_terminate.log")
    (ev,) = events(data, "nan_loss_terminated")
    assert ev.step == 5 == first_nonfinite(data)


def test_tf_keras_2_progress_bar_and_terminate_on_nan():
    v1 = read("tfkeras_fit_verbose1_nan.log")
    v2 = read("tfkeras_fit_verbose2_nan.log")
    for data in (v1, v2):
        (ev,) = events(data, "nan_loss_terminated")
        assert ev.step == 7  # "Batch 6: Invalid loss" with 10 steps per epoch, epoch 1
        assert first_nonfinite(data) == 7
        assert "accuracy" in data.scalars  # "acc" normalised


def test_keras_terminate_on_nan_raise_error_is_claimed_by_the_runtime_error():
    data = read("keras3_terminate_on_nan_raise.log")
    assert data.died_with_exception
    (ev,) = data.events  # no separate generic "exception" event
    assert ev.kind == "nan_loss_terminated"
    assert ev.step == 6 and ev.values["exception"] == "RuntimeError"
    assert ev.traceback[-1].startswith("RuntimeError: NaN or Inf loss encountered at batch 5")
    assert points(data, "loss") == [(1, pytest.approx(0.3632))]  # the bar just before "Traceback"


def test_tf_label_value_8000_out_of_11_classes_is_one_event_with_values_and_traceback():
    data = read("keras3_label_8000_of_11.log")
    assert data.died_with_exception
    (ev,) = data.events  # printed by the rendezvous warning and in the exception: one event
    assert ev.kind == "label_out_of_range"
    assert _means(ev) == ("data_or_labels", "labels_out_of_range")
    assert ev.label == 8000 and ev.classes == 11
    assert ev.values["count"] == 3
    assert any("InvalidArgumentError" in line for line in ev.traceback)
    assert data.last_step == 1  # the last step the bar showed before the traceback


def test_tf_negative_label_is_negative_labels():
    (ev,) = read("keras3_label_negative.log").events
    assert _means(ev)[1] == "negative_labels" and ev.label == -1


# ---------------------------------------------------------------- TensorFlow


def test_tf_check_numerics_names_the_tensor():
    data = read("tf_check_numerics.log")
    (ev,) = data.events
    assert ev.kind == "nonfinite_tensor"
    assert ev.values["tensor"] == "input batch" and ev.values["what"] == "NaN"
    assert meaning(ev) is None  # a NaN in a named tensor does not say why by itself
    assert data.died_with_exception


def test_tf_enable_check_numerics_on_log_op_is_log_of_zero():
    data = read("tf_enable_check_numerics_log.log")
    (ev,) = data.events
    assert ev.op == "Log" and ev.values["what"] == "-Inf"
    assert _means(ev) == ("numerical_instability", "log_of_zero")
    assert ev.step == 3


def test_tf1_nan_tensor_hook_model_diverged():
    data = read("tf1_nan_tensor_hook.log")
    (ev,) = data.events
    assert ev.kind == "nan_loss" and meaning(ev) is None
    assert ev.traceback[-1].endswith("NanLossDuringTrainingError: NaN loss during training.")
    # LoggingTensorHook lines "INFO:tensorflow:loss = 0.0, step = 10 (0.000 sec)"
    assert points(data, "loss")[-1] == (10, 0.0)
    assert data.last_step == 10


def test_tf_resource_exhausted_is_oom_not_a_divergence():
    data = read("tf_oom.log")
    (ev,) = data.events
    assert ev.kind == "oom" and meaning(ev) is None
    assert data.died_with_exception


# ---------------------------------------------------------------- PyTorch


@pytest.mark.parametrize(
    ("name", "label", "detail"),
    [
        ("torch_target_8000_out_of_bounds.log", 8000, "labels_out_of_range"),
        ("torch_target_negative.log", -3, "negative_labels"),
    ],
)
def test_torch_target_out_of_bounds(name, label, detail):
    data = read(name)
    (ev,) = data.events
    assert ev.kind == "label_out_of_range" and _means(ev)[1] == detail and ev.label == label
    assert ev.traceback[-1] == f"IndexError: Target {label} is out of bounds."
    assert data.died_with_exception and data.last_step == 8  # "step 8 loss 2.5102 lr 0.1" was the last line


def test_torch_anomaly_log_backward_is_log_of_zero_with_the_forward_line():
    data = read("torch_anomaly_log.log")
    (ev,) = data.events
    assert ev.kind == "nonfinite_gradient"
    assert _means(ev) == ("numerical_instability", "log_of_zero")
    assert ev.op == "LogBackward0"
    assert any("torch.log(p)" in line for line in ev.values["forward_trace"])
    assert ev.step == data.last_step == 108  # "Step 108: loss=..." was printed last
    # the loss fell smoothly to the end: nothing non-finite was printed
    assert np.isfinite(data.scalars["loss"].values).all()


def test_torch_anomaly_div_backward_is_division_by_zero():
    (ev,) = read("torch_anomaly_div.log").events
    assert ev.op == "DivBackward0" and _means(ev)[1] == "division_by_zero"


def test_torch_anomaly_other_backward_is_numerical_instability_without_detail():
    (ev,) = read("torch_anomaly_softmax.log").events
    assert ev.op == "SoftmaxBackward0"
    assert _means(ev) == ("numerical_instability", None)


def test_torch_cpu_allocator_failure_is_oom():
    data = read("torch_cpu_oom.log")
    (ev,) = data.events
    assert ev.kind == "oom" and data.last_step == 2


def test_generic_exception_keeps_type_message_and_last_frames():
    data = read("torch_keyerror.log")
    (ev,) = data.events
    assert ev.kind == "exception" and meaning(ev) is None
    assert ev.values["type"] == "KeyError" and ev.values["message"] == "'x'"
    assert ev.traceback[-2] == 'loss = model(batch["x"]).pow(2).mean()'
    assert data.died_with_exception and data.last_step == 5 == ev.step


def test_cross_entropy_over_all_ignore_index_targets_prints_only_a_nan_loss():
    data = read("torch_ignore_index_all.log")
    assert data.events == ()
    assert first_nonfinite(data) == 2


def test_tqdm_postfix_redraws_with_interleaved_stderr_prints():
    data = read("torch_tqdm_interleaved.log")
    loss = data.scalars["loss"]
    # every redraw was read, each step once, in order: no spurious restart
    assert (np.diff(loss.steps) > 0).all()
    assert loss.steps[0] == 0 and loss.steps[-1] == 64
    # the "[iter N] loss ..." print lines (stdout) are kept apart from the bar (stderr)
    printed = points(data, "loss@print")
    assert printed[0] == (0, pytest.approx(8.723))
    assert [s for s, _ in printed] == list(range(0, 64, 8))
    # where both report a step, they agree on when the loss went non-finite
    bar_first = first_nonfinite(data)
    print_first = first_nonfinite(data, "loss@print")
    assert bar_first is not None and print_first is not None and bar_first <= print_first


def test_stdout_and_stderr_files_of_one_job_read_alone():
    err = read("torch_tqdm_interleaved.err")
    out = read("torch_tqdm_interleaved.out")
    assert first_nonfinite(err) == first_nonfinite(read("torch_tqdm_interleaved.log"))
    assert out.scalars["loss"].steps.tolist() == list(range(0, 64, 8))


# ---------------------------------------------------------------- Lightning, rich, Hugging Face


def test_lightning_tqdm_bar_steps_are_the_steps_lightning_logged():
    data = read("lightning_tqdm.log")
    loss = data.scalars["loss"]
    assert data.steps_per_epoch == 10
    assert (np.diff(loss.steps) > 0).all()  # the reset bar "Epoch 1: 0/10" does not rewind
    # the CSVLogger of the same run: the bar's values sit on the very steps Lightning logged them at
    with open(FIX / "lightning" / "metrics.csv") as f:
        logged = [(int(r["step"]), float(r["train_loss"])) for r in csv.DictReader(f) if r["train_loss"]]
    bar = dict(points(data, "loss"))
    for step, value in logged:
        if math.isfinite(value):
            assert bar[step] == pytest.approx(value, rel=5e-3), step
        else:
            assert not math.isfinite(bar[step]), step
    # "train_loss=inf.0" (Lightning formats floats with a trailing .0) is read as inf, one step early
    assert first_nonfinite(data) == 4 and math.isinf(bar[4])


def test_lightning_rich_progress_bar_with_ansi_and_metrics_on_a_continuation_line():
    data = read("lightning_rich.log")
    assert points(data, "loss")[0] == (3, pytest.approx(763.024))  # "4/10": batch 3's loss, as for tqdm
    assert (39, pytest.approx(15.942)) in points(data, "val_loss")
    assert data.steps_per_epoch == 10


def test_rich_console_log_with_forced_terminal_codes():
    data = read("rich_console_log.log")
    assert first_nonfinite(data) == 27
    assert points(data, "learning_rate")[0] == (5, 0.01)


def test_hugging_face_dict_lines_placed_on_steps_and_nan_grad_norm_kept():
    data = read("hf_trainer.log")
    # the bar total (30 steps) over the final epoch (3) gives 10 steps per epoch
    assert data.step_unit == "step" and data.steps_per_epoch == 10
    assert data.scalars["loss"].steps.tolist() == list(range(2, 31, 2))
    # logging_nan_inf_filter: the NaN loss is logged as a finite number...
    assert np.isfinite(data.scalars["loss"].values).all()
    # ...while the grad norm shows it
    assert first_nonfinite(data, "grad_norm") == 10
    assert points(data, "val_loss")[0][0] == 10


def test_hugging_face_lines_without_step_information_are_numbered_in_log_order():
    text = (
        "{'loss': '2.3', 'grad_norm': '1.5', 'learning_rate': '5e-05', 'epoch': '0.5'}\n"
        "{'loss': '2.1', 'grad_norm': 'nan', 'learning_rate': '5e-05', 'epoch': '1'}\n"
        "{'eval_loss': '2.2', 'eval_runtime': '0.1', 'epoch': '1'}\n"
    )
    scalars, events_, _, _ = parse_log_text(text)
    assert scalars["loss"].steps.tolist() == [1, 2]
    assert scalars["val_loss"].steps.tolist() == [2]
    assert "eval_runtime" not in scalars
    data = LogData(source=Source("x.log", Kind.JOB_LOG), scalars=scalars, events=events_, step_unit="log_index")
    renumbered = with_steps_from_epochs(data, 40)
    assert renumbered.step_unit == "step"
    assert renumbered.scalars["loss"].steps.tolist() == [20, 40]
    assert renumbered.scalars["grad_norm"].steps.tolist() == [20, 40]


def test_hugging_face_running_training_banner_gives_steps_per_epoch():
    text = (
        "  Num Epochs = 3\n  Total optimization steps = 300\n"
        "{'loss': 2.31, 'grad_norm': 15.2, 'learning_rate': 5e-05, 'epoch': 0.4}\n"
    )
    scalars, *_ = parse_log_text(text)
    assert scalars["loss"].steps.tolist() == [40]
    assert scalars["grad_norm"].values.tolist() == [15.2]


# ---------------------------------------------------------------- robustness


def test_truncated_last_line_keeps_everything_before_and_drops_a_cut_number():
    whole = (FIX / "torch_target_8000_out_of_bounds.log").read_text()
    head = whole.split("Traceback")[0]  # nine complete "step N loss X lr 0.1" lines
    cut = head + "step 9 loss 2.4"  # job killed while printing: "2.4" may be "2.4871"
    scalars, events_, died, _ = parse_log_text(cut)
    assert scalars["loss"].steps.tolist() == list(range(9))
    assert not died and events_ == ()


def test_truncated_traceback_still_says_the_job_died():
    text = 'step 1 loss 0.5\nstep 2 loss 0.4\nTraceback (most recent call last):\n  File "train.py", line 3'
    _, events_, died, last = parse_log_text(text)
    assert died and last == 2
    assert events_[0].kind == "exception"


def test_exception_caught_and_training_continued_is_not_a_death():
    text = (
        'step 1 loss 0.5\nTraceback (most recent call last):\n  File "x.py", line 1\n'
        "ValueError: bad batch, skipped\nstep 2 loss 0.4\n"
    )
    _, events_, died, last = parse_log_text(text)
    assert not died and last == 2
    assert [e.kind for e in events_] == ["exception"]


def test_rank_prefixed_traceback_of_torchrun():
    text = (
        "[rank0]: step 5 loss 1.0\n[rank0]: Traceback (most recent call last):\n"
        '[rank0]:   File "train.py", line 9, in <module>\n'
        "[rank0]: IndexError: Target 12 is out of bounds.\n"
    )
    _, events_, died, last = parse_log_text(text)
    (ev,) = events_
    assert ev.kind == "label_out_of_range" and ev.label == 12 and died and last == 5


def test_plain_print_formats_share_a_small_set_of_patterns():
    text = (
        "step 120 loss 3.2 lr 0.01\n"
        "Step 121: loss=3.1, lr=1e-2\n"
        "[iter 122] loss 3.0\n"
        "Iteration 123/1000, loss: nan, grad_norm: inf\n"
        "WARNING: loss is nan at step 124\n"
    )
    scalars, *_ = parse_log_text(text)
    loss = scalars["loss"]
    assert loss.steps.tolist() == [120, 121, 122, 123, 124]
    assert math.isnan(loss.values[3]) and math.isinf(scalars["grad_norm"].values[0])
    assert scalars["learning_rate"].values.tolist() == [0.01, 0.01]


def test_batch_counters_within_epochs_become_global_steps():
    # PyTorch's ImageNet example: 0-based epochs, "[batch/batches]" after the epoch
    imagenet = "Epoch: [0][4/100]\tLoss 2.6922e+00 (3.1857e+00)\nEpoch: [1][4/100]\tLoss nan (nan)\n"
    assert parse_log_text(imagenet)[0]["loss"].steps.tolist() == [4, 104]
    # 1-based epochs with a step counter that restarts every epoch...
    per_epoch = "Epoch 1 Step 140/150 Loss: 1.0\nEpoch 2 Step 0/150 Loss: 0.9\nEpoch 2 Step 20/150 Loss: nan\n"
    assert parse_log_text(per_epoch)[0]["loss"].steps.tolist() == [140, 150, 170]
    # ...and one that does not: the counter is already global
    global_ = "Epoch 1 Step 140/300 Loss: 1.0\nEpoch 2 Step 160/300 Loss: 0.9\n"
    assert parse_log_text(global_)[0]["loss"].steps.tolist() == [140, 160]


def test_per_epoch_lines_without_steps_are_epoch_unit():
    scalars, *_ = parse_log_text("Epoch 1: loss=0.9 val_loss=1.0\nEpoch 2: loss=nan val_loss=nan\n")
    assert scalars["loss"].steps.tolist() == [1, 2] and scalars["val_loss"].steps.tolist() == [1, 2]


def test_windows_line_endings_and_utf16_logs(tmp_path):
    text = "step 1 loss 0.5\r\nstep 2 loss nan\r\n"
    p = tmp_path / "ps.log"
    p.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    data = read_job_log(p, Source("ps.log", Kind.JOB_LOG))
    assert points(data, "loss")[0] == (1, 0.5) and math.isnan(points(data, "loss")[1][1])


def test_binary_file_named_like_a_log_is_unreadable(tmp_path):
    p = tmp_path / "model.out"
    p.write_bytes(np.arange(4096, dtype=np.int32).tobytes())  # raw binary ints
    with pytest.raises(UnreadableSource, match="binary"):
        read_job_log(p, Source("model.out", Kind.JOB_LOG))


def test_a_huge_line_is_cut_and_noted_with_bounded_memory(tmp_path):
    p = tmp_path / "big.log"
    with open(p, "wb") as f:
        f.write(b"step 1 loss 0.5\n")
        f.write(b"x" * (logs.READ_CHUNK_BYTES * 3) + b"\n")  # one 3 MiB line
        f.write(b"step 2 loss 0.25\n")
    data = read_job_log(p, Source("big.log", Kind.JOB_LOG))
    assert data.scalars["loss"].steps.tolist() == [1, 2]
    assert data.source.note and "cut" in data.source.note


def test_many_identical_overflow_lines_become_one_counted_event():
    # DeepSpeed deepspeed/runtime/fp16/loss_scaler.py (DynamicLossScaler.update_scale):
    #   f"[deepspeed] OVERFLOW! Rank {rank} Skipping step. Attempted loss scale: {cur}, reducing to {next}"
    lines = [
        f"[2024-09-15 00:13:28,307] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 "
        f"Skipping step. Attempted loss scale: {2**32 >> i}, reducing to {2**31 >> i}\nstep:{i}, loss:5.45"
        for i in range(12)
    ]
    _, events_, died, _ = parse_log_text("\n".join(lines) + "\n")
    (ev,) = events_
    assert ev.kind == "loss_scale_overflow_transient" and meaning(ev) is None
    assert ev.values["count"] == 12 and ev.values["last_loss_scale"] == 2**31 >> 11
    assert not died


def test_ansi_codes_without_escape_and_backspace_overwrites_are_cleaned():
    assert clean_segment("\x1b[1m4/4\x1b[0m \x1b[32m━━\x1b[0m") == "4/4 ━━"
    assert clean_segment("[1m4/4[0m loss: 1.0") == "4/4 loss: 1.0"
    assert clean_segment("abc\b\bXY") == "aXY"
    assert clean_segment("loss: 0.5\b\b\b\b") == "loss: 0.5"  # the cursor moved back, nothing erased


# ---------------------------------------------------------------- GPU-only messages (source text)


def test_cuda_device_side_assert_with_nll_assertion_lines():
    # aten/src/ATen/native/cuda/Loss.cu: CUDA_KERNEL_ASSERT(t >= 0 && t < n_classes) prints one line per thread;
    # c10/cuda/CUDAException.cpp: "CUDA error: device-side assert triggered\nCUDA kernel errors might be ..."
    assert_line = (
        "/opt/conda/conda-bld/pytorch_1678411187366/work/aten/src/ATen/native/cuda/Loss.cu:240: "
        "nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], thread: [{}] "
        "Assertion `t >= 0 && t < n_classes` failed."
    )
    text = (
        "step 10 loss 2.3\n"
        + "\n".join(assert_line.format(f"{i},0,0") for i in range(32))
        + '\nTraceback (most recent call last):\n  File "train.py", line 40, in <module>\n    loss.backward()\n'
        "RuntimeError: CUDA error: device-side assert triggered\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, "
        "so the stacktrace below might be incorrect.\n"
        "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
        "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
    )
    _, events_, died, last = parse_log_text(text)
    kinds = {e.kind: e for e in events_}
    assert kinds["label_out_of_range"].values["count"] == 32
    # the assertion checks both sides and prints no label: a -1 fails it as a label past the last class does,
    # so the message names the fault, not the side (other evidence, a data sample's labels, tells which)
    assert _means(kinds["label_out_of_range"]) == ("data_or_labels", None)
    assert kinds["cuda_device_assert"].values["certain"] is False
    assert "exception" not in kinds and died and last == 10


def test_cuda_out_of_memory_is_oom():
    # c10/cuda/CUDACachingAllocator.cpp:
    #   TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate ", ...)
    text = (
        'Traceback (most recent call last):\n  File "train.py", line 5\n'
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of "
        "79.15 GiB of which 3.12 MiB is free.\n"
    )
    (ev,) = parse_log_text(text)[1]
    assert ev.kind == "oom" and ev.values["exception"] == "torch.OutOfMemoryError"


def test_deepspeed_loss_scale_at_minimum_is_fp16_overflow():
    # deepspeed/runtime/fp16/loss_scaler.py (DynamicLossScaler.update_scale):
    #   raise Exception("Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.")
    text = (
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1\n"
        'Traceback (most recent call last):\n  File "train.py", line 5\n'
        "Exception: Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.\n"
    )
    events_ = parse_log_text(text)[1]
    assert [e.kind for e in events_] == ["loss_scale_overflow_transient", "loss_scale_minimum"]
    assert _means(events_[1]) == ("numerical_instability", "fp16_overflow")


def test_apex_and_fairseq_loss_scale_messages():
    # apex/amp/handle.py: "Gradient overflow.  Skipping step, loss scaler {} reducing loss scale to {}"
    # fairseq/optim/fp16_optimizer.py:
    #   FloatingPointError("Minimum loss scale reached ({}). Your loss is probably exploding. ...")
    text = (
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0\n"
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 16384.0\n"
        "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding. Try lowering "
        "the learning rate, using gradient clipping or increasing the batch size.\n"
    )
    events_ = parse_log_text(text)[1]
    assert events_[0].kind == "loss_scale_overflow_transient" and events_[0].values["count"] == 2
    assert events_[1].kind == "loss_scale_minimum" and events_[1].values["min_scale"] == 0.0001


def test_lightning_non_finite_loss_and_early_stopping_messages():
    # lightning/pytorch/loops/utilities.py: ValueError(f"The loss returned in `training_step` is {loss}.")
    # lightning/pytorch/callbacks/early_stopping.py: f"Monitored metric {monitor} = {current} is not finite."
    text = (
        "Monitored metric val_loss = nan is not finite. Previous best value was 0.512. Signaling Trainer to stop.\n"
        'Traceback (most recent call last):\n  File "x.py", line 1\n'
        "ValueError: The loss returned in `training_step` is nan.\n"
    )
    events_ = parse_log_text(text)[1]
    assert [e.kind for e in events_] == ["nan_loss", "nan_loss"]
    assert events_[0].values["metric"] == "val_loss"


def test_slurm_oom_kill_is_oom():
    # slurm's task/cgroup plugin, printed by slurmstepd into the job's output
    text = (
        "step 3 loss 0.1\nslurmstepd: error: Detected 1 oom_kill event in StepId=123.batch. "
        "Some of the step tasks have been OOM Killed.\n"
    )
    (ev,) = parse_log_text(text)[1]
    assert ev.kind == "oom" and ev.step == 3


# ---------------------------------------------------------------- fuzz


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400))
def test_parser_never_raises_on_arbitrary_text(text):
    scalars, *_ = parse_log_text(text)
    for s in scalars.values():
        assert s.steps.shape == s.values.shape == s.segment.shape


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "step 3 loss nan\n",
                "\r 5/10 [==>...] - ETA: 1s - loss: 0.5",
                "Epoch 2/3\n",
                "Traceback (most recent call last):\n",
                '  File "x.py", line 2\n',
                "RuntimeError: Function 'LogBackward0' returned nan values in its 0th output.\n",
                "{'loss': 'nan', 'epoch': '0.5'}\n",
                "\x1b[1m",
                "\b\b\b",
                "Epoch 0:  50%|█████     | 5/10 [00:00<00:00, v_num=0, train_loss=nan.0]\r",
            ]
        ),
        max_size=30,
    )
)
def test_parser_survives_any_mix_of_real_fragments(parts):
    parse_log_text("".join(parts))


# ---------------------------------------------------------------- the sample runs, when generated

_RUNS = Path(__file__).parent.parent / "sample_runs"


def _sample_logs() -> list[tuple[str, Path]]:
    import json

    manifest = _RUNS / "manifest.json"
    if not manifest.exists():
        return []
    runs = json.loads(manifest.read_text())["runs"]
    return [(name, log) for name in sorted(runs) for log in sorted((_RUNS / name).glob("slurm-*.out"))]


@pytest.mark.parametrize(("run", "log"), _sample_logs(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_sample_run_console_logs_agree_with_what_the_generator_recorded(run, log):
    import json

    facts = json.loads((_RUNS / "manifest.json").read_text())["runs"][run]
    data = read_job_log(log, Source(log.name, Kind.JOB_LOG, size=log.stat().st_size))
    assert data.source.status is Status.OK
    raised = facts.get("raised") or facts.get("crashed_with")
    last_log = log == sorted(log.parent.glob("slurm-*.out"))[-1]  # a resumed run's earlier logs end alive
    if raised and last_log:
        assert data.died_with_exception
        message = raised.split(":", 1)[-1].strip()[:40]
        assert any(message in e.message or any(message in t for t in e.traceback) for e in data.events)
    expected = facts.get("first_nonfinite_step")
    if expected is not None and facts.get("step_unit") == "step" and last_log:
        # the log may print less often than the run logged: the first non-finite value it shows
        # is at or after the true step, and the point it printed before that was still finite
        # (where the Trainer masks the NaN loss, the generator recorded the grad norm's step)
        tag = "grad_norm" if str(facts.get("first_nonfinite_is", "")).startswith("grad_norm") else "loss"
        s = data.scalars.get(tag)
        if s is not None and (~np.isfinite(s.values)).any():
            i = int(np.flatnonzero(~np.isfinite(s.values))[0])
            first, before = int(s.steps[i]), (int(s.steps[i - 1]) if i else -1)
            assert before < expected <= first, (before, expected, first)


def test_the_two_sided_cuda_assertion_names_the_fault_not_the_side(tmp_path):
    import forensics

    line = (
        "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], "
        "thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.\n"
    )
    text = "step 10 loss 2.31\nstep 20 loss 2.20\n" + line * 4
    text += "RuntimeError: CUDA error: device-side assert triggered\n"
    (tmp_path / "train.log").write_text(text, encoding="utf-8")
    rep = forensics.analyze(str(tmp_path))
    assert rep.verdict.cause == "data_or_labels"
    log001 = [e for c in rep.candidates for e in c.evidence if e.rule == "LOG001"]
    assert log001 and all(e.detail is None and e.weight >= 0.85 for e in log001)  # the fault named, decisively
    assert "negative label" in rep.verdict.summary and "n_classes" in rep.verdict.summary
