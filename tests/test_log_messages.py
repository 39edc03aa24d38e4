"""The catalogue of framework messages: every entry recognised from its own text.

The texts are those of the frameworks' sources (file named in each entry of
forensics/readers/logmessages.py). Most are GPU-only or need a framework that does not
install here (DeepSpeed, apex, fairseq, Megatron, JAX, Lua Torch), so each is filled in
with sample values and fed to the reader as a log line; the CPU ones are also covered by
real captured logs in tests/test_logs.py.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

import forensics
from forensics.readers.logmessages import CATALOGUE, match_messages
from forensics.readers.logs import EVENT_KINDS, parse_log_text

SAMPLE = {
    "label": "8000",
    "classes": "11",
    "name": "LogBackward0",
    "i": "0",
    "op": "Log",
    "primitive": "log",
    "nan|inf": "nan",
    "index": "5000",
    "size": "300",
    "batch": "4",
    "loss": "nan",
    "prev": "65536.0",
    "new": "32768.0",
    "scale": "64.0",
    "min": "0.0001",
    "rank": "0",
    "monitor": "val_loss",
    "current": "nan",
    "best": "0.512",
    "ms": "600060",
    "n": "2",
    "16bit|bfloat16": "16bit",
    "NaN|Inf": "NaN",
    "forward|backward": "forward",
    "shape": "torch.Size([8, 512])",
    "call": "ncclGroupEnd()",
    "reason": "unhandled cuda error",
    "address": "10.0.0.2",
    "port": "43512",
    "signal": "Killed",
    "Terminated|Interrupt|Hangup": "Terminated",
    "pids": "24817, 24818",
    "bus error|segmentation fault|floating-point exception": "bus error",
    "progname": "/opt/torch/install/bin/luajit",
    "file": "train.lua",
    "script": "./run.sh",
    "pid": "12345",
    "command": "python train.py",
}


def filled(text: str) -> str:
    return re.sub(r"\{([^{}]*)\}", lambda m: SAMPLE.get(m.group(1), "3"), text).replace("...", "x")


@pytest.mark.parametrize("msg", CATALOGUE, ids=lambda m: f"{m.family}-{m.framework}-{m.needle[:24]}")
def test_every_catalogued_message_is_recognised_from_its_own_text(msg):
    text = filled(msg.text).replace("\\n", "\n")  # a message printed over lines (a native crash's report)
    line = next(part for part in text.splitlines() if msg.needle in part)
    assert msg.family in EVENT_KINDS
    assert (msg.family, msg.match(line)) in match_messages(line), line
    _, events, *_ = parse_log_text(f"step 1 loss 2.0\n{text}\n")
    assert msg.family in [e.kind for e in events], line


def test_what_the_messages_name_is_kept():
    _, events, *_ = parse_log_text(
        "Received a label value of 8000 which is outside the valid range of [0, 11).  Label values: 3 8000\n"
        "FloatingPointError: invalid value (nan) encountered in log\n"
        "[deepspeed] fp16 dynamic loss scale overflow! Skipping step. Attempted loss scale: 65536.0,"
        " reducing to 32768.0\n"
        "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding.\n"
    )
    by_kind = {e.kind: e for e in events}
    assert (by_kind["label_out_of_range"].label, by_kind["label_out_of_range"].classes) == (8000, 11)
    assert by_kind["nonfinite_tensor"].op == "log" and by_kind["nonfinite_tensor"].framework == "jax"
    assert by_kind["loss_scale_overflow_transient"].values["loss_scale"] == 32768.0
    assert by_kind["loss_scale_minimum"].values["min_scale"] == 0.0001


def test_lua_torch_and_old_pytorch_close_the_assertion_with_a_quote():
    line = "/opt/luarocks/cunn/lib/THCUNN/ClassNLLCriterion.cu:52: Assertion `t >= 0 && t < n_classes' failed."
    assert [f for f, _ in match_messages(line)] == ["label_out_of_range"]


def test_skipped_steps_are_counted_as_one_transient_event():
    text = "".join(
        f"step {i} loss 2.0\n"
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768\n"
        for i in range(5)
    )
    _, events, *_ = parse_log_text(text)
    (ev,) = events
    assert ev.kind == "loss_scale_overflow_transient" and ev.values["count"] == 5


def test_a_trainers_statement_that_its_loss_is_nan_is_an_event():
    _, events, *_ = parse_log_text("step 1 loss 2.0\nstep 2 loss 1.9\nloss is nan, retrying with a lower lr\n")
    assert [e.kind for e in events] == ["nan_loss"]


def test_a_nan_that_is_not_a_message_is_not_an_event():
    # (a trainer's own 'loss is nan, retrying with a lower lr' is a statement that its loss went NaN: a message)
    _, events, *_ = parse_log_text("3 rows held nan, retrying with a lower lr\nno OOM here: boom\n")
    assert events == ()


# ---------------------------------------------------------------- healthy look-alikes stay healthy

TOOLKITS = Path(__file__).parent / "fixtures" / "logs" / "toolkits"


def _analyze_log(tmp_path, fixture: str, name: str):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(TOOLKITS / fixture, run / name)
    return forensics.analyze(str(run))


def test_isolated_loss_scale_skips_with_a_nan_grad_norm_are_a_working_scaler_not_a_divergence(tmp_path):
    report = _analyze_log(tmp_path, "fairseq_fp16_transient_skips.log", "train.log")
    assert report.diverged is False
    assert report.verdict.cause == "healthy"


def test_a_nan_grad_norm_on_every_line_after_the_loss_collapses_is_a_divergence(tmp_path):
    # HF dict lines without steps, in a log named the way nohup names it
    report = _analyze_log(tmp_path, "hf_loss_collapse_grad_nan.log", "nohup.out")
    assert report.diverged is True


def test_a_loss_spike_that_recovers_is_not_a_divergence(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = []
    for step in range(1, 301):
        loss = 2.0 + 5.0 * math.exp(-step / 50.0)
        lines.append(f"step {step} loss {loss * (8 if 150 <= step < 155 else 1):.4f} lr 0.001")
    (run / "log.txt").write_text("\n".join(lines) + "\n")
    report = forensics.analyze(str(run))
    assert report.diverged is False and report.verdict.cause == "healthy"


def test_the_reference_engines_stop_on_a_non_finite_loss_is_a_divergence(tmp_path):
    """torchvision's references and the DeiT/MAE/DETR engines print 'Loss is nan, stopping training'
    and exit: lines written here in the MetricLogger's format (value, then the running mean in
    parentheses), then that stop."""
    import forensics

    run = tmp_path / "run"
    run.mkdir()
    lines = [
        f"Epoch: [0]  [{i:>4}/5000]  eta: 1:02:03  lr: 0.000100  loss: {2.5 - i / 1000:.4f} ({2.6 - i / 1000:.4f})"
        "  time: 0.7000  data: 0.0100  max mem: 9000"
        for i in range(0, 200, 20)
    ]
    (run / "log.txt").write_text("\n".join([*lines, "Loss is nan, stopping training", ""]))
    report = forensics.analyze(str(run))
    assert report.diverged is True
    healthy = tmp_path / "healthy"
    healthy.mkdir()
    (healthy / "log.txt").write_text("\n".join([*lines, ""]))
    assert forensics.analyze(str(healthy)).diverged is False


def test_yolos_label_check_names_the_class_past_nc(tmp_path):
    """YOLOv3/YOLOv5 train.py checks the largest class id against nc before training; its
    assertion (written here as the traceback prints it, the source line echoed above it) is a
    label out of range, with the class and nc in the fix. The echoed source line alone is not."""
    import forensics

    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(
        "Traceback (most recent call last):\n"
        '  File "train.py", line 527, in <module>\n'
        "    train(hyp, opt, device, tb_writer)\n"
        '  File "train.py", line 188, in train\n'
        "    assert mlc < nc, 'Label class %g exceeds nc=%g in %s. Possible class labels are 0-%g'"
        " % (mlc, nc, opt.data, nc - 1)\n"
        "AssertionError: Label class 15 exceeds nc=2 in data/ships.yaml. Possible class labels are 0-1\n"
    )
    report = forensics.analyze(str(run))
    assert report.verdict.cause == "data_or_labels"
    assert report.verdict.detail == "labels_out_of_range"
    assert "15" in report.verdict.fix and "2" in report.verdict.fix
    from forensics.readers.logmessages import match_messages

    echoed = "    assert mlc < nc, 'Label class %g exceeds nc=%g in %s. Possible class labels are 0-%g' % (mlc, nc)"
    assert match_messages(echoed) == []


# NumPy's floating-point warnings as Python's warnings module shows them ('FILE:LINE: CATEGORY: MESSAGE' and the
# source line under it); the message is numpy's '%s encountered in %s' (ufunc name, 'reduce', 'scalar divide' in
# numpy >= 1.25, 'double_scalars' before it)
NUMPY_WARNINGS = [
    ("lib/bbox_transform.py:24: RuntimeWarning: invalid value encountered in log", "invalid value", "log"),
    ("train.py:88: RuntimeWarning: divide by zero encountered in log", "divide by zero", "log"),
    ("losses.py:12: RuntimeWarning: overflow encountered in exp", "overflow", "exp"),
    ("trainer.py:1119: RuntimeWarning: invalid value encountered in scalar divide", "invalid value", "scalar divide"),
    ("metrics.py:5: RuntimeWarning: invalid value encountered in double_scalars", "invalid value", "double_scalars"),
    ("numpy/core/_methods.py:29: RuntimeWarning: invalid value encountered in reduce", "invalid value", "reduce"),
    ("utils.py:3: RuntimeWarning: invalid value encountered in true_divide", "invalid value", "true_divide"),
]


@pytest.mark.parametrize(("line", "what", "op"), NUMPY_WARNINGS)
def test_numpys_floating_point_warning_names_the_operation(line, what, op):
    [(family, fields)] = match_messages(line)
    assert family == "numpy_fp_warning" and fields["what"] == what and fields["op"] == op


@pytest.mark.parametrize(
    "line",
    [
        "Warning: invalid value encountered in log",  # np.seterr(all='print') prints to stdout, no category
        "UserWarning: invalid value encountered in log",
        "A NaN was encountered in the loss",
        "RuntimeWarning: Mean of empty slice.",
    ],
)
def test_look_alikes_of_numpys_warning_are_not_it(line):
    assert not any(family == "numpy_fp_warning" for family, _ in match_messages(line))


LOSS_LINES = "".join(f"step {i} loss {2.0 - 0.01 * i:.3f}\n" for i in range(1, 40))


def test_numpys_warning_alone_is_no_divergence(tmp_path):
    import forensics

    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(
        LOSS_LINES[:200] + NUMPY_WARNINGS[0][0] + "\n  x = np.log(a / b)\n" + LOSS_LINES[200:]
    )
    rep = forensics.analyze(str(run))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert any(e.kind == "numpy_fp_warning" and e.op == "log" for _, e in rep.timeline.log_events)


def test_numpys_warning_beside_a_nan_loss_is_kept_and_the_nan_decides(tmp_path):
    import forensics

    run = tmp_path / "run"
    run.mkdir()
    text = LOSS_LINES + NUMPY_WARNINGS[3][0] + "\n" + "".join(f"step {i} loss nan\n" for i in range(40, 45))
    (run / "train.log").write_text(text)
    rep = forensics.analyze(str(run))
    assert rep.diverged
    assert rep.ending.ended == "unknown"  # a warning is not what a job dies of


# Keras 2's Progbar line ('{current}/{target} [{bar}] - ETA: {eta} - loss: {value:.4f}') and TensorFlow 1.x's glog
# warning from its CTC loss (tensorflow/core/util/ctc/ctc_loss_calculator.h: LOG(WARNING) << "No valid path found.")
def _progbar(i: int, loss: str) -> str:
    return f" {i}/17725 [===========>..................] - ETA: 43:19 - loss: {loss}"


CTC_WARNING = "2018-12-26 11:04:36.796989: W tensorflow/core/util/ctc/ctc_loss_calculator.cc:144] No valid path found."


def _ctc_run(tmp_path, lines: list[str]):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("\n".join(lines) + "\n")
    return forensics.analyze(str(run))


def test_ctcs_no_valid_path_beside_the_inf_loss_it_makes_is_the_data(tmp_path):
    lines = [_progbar(i, f"{30 - i / 100:.4f}") for i in range(1, 60)]
    lines[-1] += CTC_WARNING  # spliced into the bar, as a console shows it
    lines += [_progbar(i, "inf") for i in range(60, 70)]
    rep = _ctc_run(tmp_path, lines)
    assert rep.diverged and rep.verdict.cause == "data_or_labels"


def test_ctcs_occasional_no_valid_path_in_a_run_that_trains_is_healthy(tmp_path):
    lines = [_progbar(i, f"{30 - i / 100:.4f}") for i in range(1, 60)]
    lines.insert(20, CTC_WARNING)
    lines.insert(45, CTC_WARNING)
    rep = _ctc_run(tmp_path, lines)
    assert not rep.diverged and rep.verdict.cause == "healthy"


def test_ctcs_no_valid_path_alone_names_a_sample_its_frames_cannot_align(tmp_path):
    rep = _ctc_run(tmp_path, [CTC_WARNING])
    assert rep.verdict.cause == "data_or_labels" and not rep.diverged


@pytest.mark.parametrize(
    "line",
    [
        "No valid path found.",  # a path planner's print
        "[ROUTING] No valid path found.",
        "W planner/astar.cc:12] No valid path found.",
    ],
)
def test_look_alikes_of_ctcs_warning_are_not_it(line):
    _, events, *_ = parse_log_text(f"step 1 loss 2.0\n{line}\n")
    assert "ctc_no_valid_path" not in [e.kind for e in events]


def test_ctcs_empty_label_check_is_a_data_fault_the_job_dies_of(tmp_path):
    # TF 1.x's session error as it prints it: the op's InvalidArgument status, then the node that failed
    lines = [
        "step 1 loss 40.1",
        "step 2 loss 38.7",
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: Labels length is zero in batch 17",
        "\t [[Node: CTCLoss = CTCLoss[ctc_merge_repeated=true, preprocess_collapse_repeated=false]()]]",
    ]
    rep = _ctc_run(tmp_path, lines)
    assert not rep.diverged and rep.verdict.cause == "data_or_labels"
    assert rep.ending.ended == "crashed"


def test_autogluons_nan_guard_is_a_divergence(tmp_path):
    # autogluon's fastai callback, epoch 0: raise AssertionError(f"WARNING: NaN loss encountered in epoch {epoch}!")
    rep = _ctc_run(tmp_path, ["\tWARNING: NaN loss encountered in epoch 0!"])
    assert rep.diverged
    _, events, *_ = parse_log_text("NaN loss encountered in epoch 3, batch 7. Skipping batch.\n")
    assert "nan_loss" not in [e.kind for e in events]  # a project's own skip, not autogluon's stop


@pytest.mark.parametrize(
    "line",
    [
        "ValueError: autodetected range of [nan, nan] is not finite",  # numpy >= 1.13
        "ValueError: range parameter must be finite.",  # older numpy's histogram
    ],
)
def test_numpys_histogram_of_non_finite_values_is_a_divergence(tmp_path, line):
    rep = _ctc_run(tmp_path, ["step 1 loss 2.0", "step 2 loss 1.9", line])
    assert rep.diverged


def _traceback(frames: list[tuple[str, str, str]], line: str) -> list[str]:
    # CPython's traceback format: '  File "{path}", line {n}, in {function}' then the source line indented
    out = ["Traceback (most recent call last):"]
    for path, function, source in frames:
        out += [f'  File "{path}", line 10, in {function}', f"    {source}"]
    return [*out, line]


_NUMPY_FRAMES = [
    ("/opt/venv/lib/python3.11/site-packages/numpy/lib/_histograms_impl.py", "histogram", "bin_edges = ..."),
    ("/opt/venv/lib/python3.11/site-packages/numpy/lib/_histograms_impl.py", "_get_outer_edges", "raise ValueError("),
]


_SITE = "/opt/venv/lib/python3.11/site-packages"
# torch.utils.tensorboard's SummaryWriter.add_histogram calls summary.histogram, which calls np.histogram
_WRITER_FRAMES = [
    ("train.py", "<module>", "writer.add_histogram(name, param, step)"),
    (f"{_SITE}/torch/utils/tensorboard/writer.py", "add_histogram", "..."),
    (f"{_SITE}/torch/utils/tensorboard/summary.py", "histogram", "..."),
]
# matplotlib's hist (pyplot.hist -> Axes.hist -> np.histogram) of a data column
_PLOT_FRAMES = [
    ("prepare.py", "<module>", "plt.hist(df['age'])"),
    (f"{_SITE}/matplotlib/pyplot.py", "hist", "return gca().hist("),
    (f"{_SITE}/matplotlib/axes/_axes.py", "hist", "m, bins = np.histogram("),
]


@pytest.mark.parametrize(
    ("frames", "before", "diverged"),
    [
        (_WRITER_FRAMES, ["step 1 loss 2.0", "step 2 loss 1.9"], True),
        (_WRITER_FRAMES, ["Loading data"], True),  # a writer's histogram is of the run's tensors
        # a plot of a column holding NaN before any loss: the job died of it, which says nothing of the run
        (_PLOT_FRAMES, ["Loading data"], False),
        # drawn once the run has logged its loss, a histogram is of what it trains (its outputs, its weights)
        (_PLOT_FRAMES, ["step 1 loss 2.0", "step 2 loss 1.9"], True),
    ],
)
def test_numpys_histogram_is_a_divergence_where_it_is_of_the_run(tmp_path, frames, before, diverged):
    line = "ValueError: autodetected range of [nan, nan] is not finite"
    rep = _ctc_run(tmp_path, [*before, *_traceback(frames + _NUMPY_FRAMES, line)])
    assert rep.diverged is diverged and rep.ending.ended == "crashed"


def test_dl4js_line_search_scaling_back_a_non_finite_step_is_a_skipped_step():
    # deeplearning4j BackTrackLineSearch's log.warn("Value is infinite after jump. oldStep={}. score={}, score2={}...")
    line = (
        "o.d.o.s.BackTrackLineSearch - Value is infinite after jump. oldStep=1.0. score=NaN, score2=NaN. "
        "Scaling back step size..."
    )
    _, events, *_ = parse_log_text(f"{line}\n")
    assert [e.kind for e in events] == ["nonfinite_step_skipped"]


def test_numpys_log_of_a_negative_box_size_alone_names_the_data(tmp_path):
    # the warning and its source line as Python's warnings module prints them, with no loss logged after
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(NUMPY_WARNINGS[0][0] + "\n  targets_dh = np.log(gt_heights / ex_heights)\n")
    rep = forensics.analyze(str(run))
    assert rep.verdict.cause == "data_or_labels"
    # NumPy's other warnings alone name nothing
    other = tmp_path / "other"
    other.mkdir()
    (other / "train.log").write_text(NUMPY_WARNINGS[1][0] + "\n  x = np.log(p)\n")
    assert forensics.analyze(str(other)).verdict.cause != "data_or_labels"


def _caffe_iteration(it: int, loss: float, terms: dict[str, float], lr: float = 1e-4) -> list[str]:
    # Caffe's solver (solver.cpp: LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_, then
    # "    Train net output #" << i << ": " << name << " = " << value << " (* " << weight << " = " << v << " loss)")
    # and sgd_solver.cpp's "Iteration " << iter_ << ", lr = " << rate, each behind glog's prefix
    out = [f"I0305 09:12:{it % 60:02d}.104233  4122 solver.cpp:238] Iteration {it}, loss = {loss:g}"]
    for i, (name, v) in enumerate(terms.items()):
        prefix = f"I0305 09:12:{it % 60:02d}.104250  4122 solver.cpp:254]"
        out.append(f"{prefix}     Train net output #{i}: {name} = {v:g} (* 1 = {v:g} loss)")
    out.append(f"I0305 09:12:{it % 60:02d}.104262  4122 sgd_solver.cpp:138] Iteration {it}, lr = {lr:g}")
    return out


_FRCNN_TERMS = {"loss_bbox": 0.0512, "loss_cls": 0.9338, "rpn_cls_loss": 0.3107, "rpn_loss_bbox": 0.0215}
# Python's warnings module: "{file}:{line}: {category}: {message}" and the source line indented under it
_BOX_WARNING = [
    "/opt/py-faster-rcnn/tools/../lib/fast_rcnn/bbox_transform.py:27: RuntimeWarning: invalid value encountered in log",
    "  targets_dh = np.log(gt_heights / ex_heights)",
]


@pytest.mark.parametrize(
    ("lines", "diverged"),
    [
        # the record ends at the warning: the NaN target is the loss's, and the run went non-finite after it
        ([*_caffe_iteration(0, 1.2172, _FRCNN_TERMS), *_BOX_WARNING], True),
        (
            [*_caffe_iteration(0, 1.2172, _FRCNN_TERMS), *_caffe_iteration(20, 1.1054, _FRCNN_TERMS), *_BOX_WARNING],
            True,
        ),
        (_BOX_WARNING, True),  # a paste of the warning alone
        # a finite loss logged after it: the targets were dropped before the loss, the run went on
        (
            [*_BOX_WARNING, *_caffe_iteration(0, 1.2172, _FRCNN_TERMS), *_caffe_iteration(20, 1.1054, _FRCNN_TERMS)],
            False,
        ),
        (
            [*_caffe_iteration(0, 1.2172, _FRCNN_TERMS), *_BOX_WARNING, *_caffe_iteration(20, 1.1054, _FRCNN_TERMS)],
            False,
        ),
        # a box of zero width or height (a degenerate annotation, a box cropped to nothing): log(0), 'divide by zero'
        (
            [*_caffe_iteration(0, 1.2172, _FRCNN_TERMS), _BOX_WARNING[0].replace("invalid value", "divide by zero")],
            True,
        ),
        # NumPy's log of a negative value elsewhere (a metric, a data transform): no target of the loss
        (
            [
                *_caffe_iteration(0, 1.2172, _FRCNN_TERMS),
                "utils/eval.py:41: RuntimeWarning: invalid value encountered in log",
                "  ap = np.log(p)",
            ],
            False,
        ),
    ],
)
def test_numpys_log_of_a_negative_box_size_is_the_divergence_where_no_loss_follows(tmp_path, lines, diverged):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("\n".join(lines) + "\n")
    rep = forensics.analyze(str(run))
    assert rep.diverged is diverged
    if diverged:
        assert rep.verdict.cause == "data_or_labels"
        assert "box regression target" in rep.verdict.summary
        assert any(e.rule == "LOG001" for c in rep.candidates for e in c.evidence)


@pytest.mark.parametrize(
    ("line", "family"),
    [
        # dl4mt-tutorial nmt.py: print 'NaN detected'; Nematus: logging.warning('NaN detected') under
        # basicConfig's '%(levelname)s: %(message)s'; copies raise RuntimeError('Inf detected')
        ("NaN detected", "nan_loss"),
        ("WARNING: NaN detected", "nan_loss"),
        ("RuntimeError: Inf detected", "nan_loss"),
        # keithito/tacotron: log('Loss exploded to %.05f at step %d!' % (loss, step)); a finite value past its bound
        ("Loss exploded to nan at step 113796!", "nan_loss"),
        ("Loss exploded to 104.37250 at step 2210!", "nan_loss"),
        # SpeechBrain 0.5 Brain.check_gradients: logger.warn(...) under its '%(asctime)s - %(name)s - %(levelname)s'
        (
            "2022-06-21 20:40:24,602 - speechbrain.core - WARNING - Patience not yet exhausted, ignoring this batch.",
            "nonfinite_step_skipped",
        ),
        # look-alikes: fairseq's NanDetector names a tensor, Theano's MonitorMode example, prose and early stopping
        ("NaN detected in output of decoder.layers.0.fc1, shape: torch.Size([8, 512]), forward", "nonfinite_tensor"),
        ("*** NaN detected ***", None),
        ("No NaN detected", None),
        ("the training loss exploded to NaN at step 3 last time", None),
        ("Early stopping: patience not yet exhausted (2/5)", None),
        # XLM's logger (src/logger.py LogFormatter: level, date, time elapsed, message) and its trainer's
        # logger.warning("NaN detected")
        ("WARNING - 10/04/19 16:19:13 - 0:19:06 - NaN detected", "nan_loss"),
        ("INFO - 10/04/19 16:19:13 - 0:19:06 - Inf detected", "nan_loss"),
        # look-alikes: a sentence holding the words, a count of them
        ("WARNING - 10/04/19 16:19:13 - 0:19:06 - no NaN detected", None),
        ("WARNING - 10/04/19 16:19:13 - 0:19:06 - 3 NaN detected in the batch", None),
        ("WARNING - 0:19:06 - 3 NaN detected", None),
        ("WARNING - 10/04/19 16:19:13 - 3/4 NaN detected", None),
        ("WARNING - 0:19:06 - 3: NaN detected", None),
    ],
)
def test_theano_nmt_tacotron_and_speechbrain_guards_and_their_look_alikes(line, family):
    assert [f for f, _ in match_messages(line)] == ([family] if family else [])


def test_speechbrains_stop_past_its_patience_is_a_divergence(tmp_path):
    # SpeechBrain's logger line, then the ValueError's first line as CPython prints it
    rep = _ctc_run(
        tmp_path,
        [
            "step 1 loss 5.1",
            "step 2 loss 4.9",
            "2022-06-21 20:40:24,602 - speechbrain.core - ERROR - Exception:",
            "ValueError: Loss is not finite and patience is exhausted. To debug, wrap `fit()` with autograd's "
            "`detect_anomaly()`, e.g.",
        ],
    )
    assert rep.diverged
