"""Issue #11, nineteenth round: mechanisms behind heldout24's misses (docs/logs.md), on lines built from the writers'
own format strings (named in a comment), each with look-alikes that must read as before.
"""

import json

import pytest

from forensics import analyze
from forensics.discover import classify
from forensics.readers.logmessages import match_messages
from forensics.readers.logs import parse_log_text
from forensics.records import Kind
from forensics.rules.messages import detail_for_op
from tests.test_log_shapes_round16 import _analyze

# ---------------------------------------------------------------- PaddlePaddle's FLAGS_check_nan_inf


def _paddle_step(step, loss):
    # a PaddlePaddle trainer's print under mpirun's --tag-output prefix ('{date}[{job},{rank}]<stdout>:')
    return f"Mon Oct  9 16:22:00 2023[1,0]<stdout>:epoch:0   step:{step}    rank:0  loss: {loss:.6f} lr: 0.00000180"


# the four wordings of the check by version and device (nan_inf_utils_detail.cu / .cc, check_numerics_kernel.h,
# operator.cc), each naming the op
PADDLE_CHECKS = [
    (
        "Error: /paddle/paddle/fluid/framework/details/nan_inf_utils_detail.cu:105 Assertion `false` failed. "
        "===ERROR: in [op=divide] [tensor=] find nan or inf===",
        "divide",
    ),
    (
        "RuntimeError: (PreconditionNotMet) There are NAN or INF (num_nan=0, num_inf=4, num_zero=0) in "
        "[device=gpu:0, op=log, tensor=tmp_3, dtype=fp32].",
        "log",
    ),
    (
        "PreconditionNotMetError: There are `nan` or `inf` in tensor (elementwise_div_0.tmp_0) of operator "
        "(elementwise_div).",
        "elementwise_div",
    ),
    ("EnforceNotMet: Operator mul output Tensor fc_0.tmp_0 contains Inf", "mul"),
]


@pytest.mark.parametrize(("line", "op"), PADDLE_CHECKS)
def test_each_wording_of_paddle_s_nan_check_names_its_op(line, op):
    found = dict(match_messages(line))
    assert found["nonfinite_tensor"]["op"] == op and found["nonfinite_tensor"]["framework"] == "paddle"


def _thrust_fault(prefix=""):
    # libstdc++'s terminate handler on Thrust's error, the C++ exception's what() on the line after it
    return [
        f"{prefix}terminate called after throwing an instance of 'thrust::system::system_error'",
        f"{prefix}  what():  transform: failed to synchronize: cudaErrorLaunchFailure: unspecified launch failure",
    ]


def test_paddle_s_check_firing_is_a_divergence_named_by_its_op(tmp_path):
    text = "\n".join(
        [_paddle_step(s, 4.0 - 0.001 * s) for s in range(10, 19)]
        + [
            "Mon Oct  9 16:22:00 2023[1,0]<stdout>:numel:1 idx:0 value:nan",
            "Mon Oct  9 16:22:00 2023[1,0]<stdout>:In block 0, there has 1,0,0 nan,inf,num",
            "Mon Oct  9 16:22:00 2023[1,0]<stdout>:" + PADDLE_CHECKS[0][0],
            *_thrust_fault("Mon Oct  9 16:22:00 2023[1,0]<stdout>:"),
        ]
    )
    rep, _ = _analyze(tmp_path, "output.txt", text + "\n")
    assert rep.diverged
    assert (rep.verdict.cause, rep.verdict.detail) == ("numerical_instability", "division_by_zero")
    # the CUDA fault after the kernel's failed assertion is its echo: the job died of the check
    assert rep.ending.crash is not None and rep.ending.crash.meaning == "division_by_zero"


def test_a_cuda_fault_with_no_assertion_before_it_is_still_a_cuda_fault(tmp_path):
    text = "\n".join([_paddle_step(s, 4.0 - 0.001 * s) for s in range(10, 19)] + _thrust_fault())
    rep, _ = _analyze(tmp_path, "output.txt", text + "\n")
    assert not rep.diverged and rep.ending.crash is not None and rep.ending.crash.meaning == "cuda_fault"


@pytest.mark.parametrize(
    ("op", "detail"),
    [
        # the CamelCase names TensorFlow and PyTorch's backward functions use, as before
        ("Log", "log_of_zero"),
        ("LogBackward0", "log_of_zero"),
        ("RealDiv", "division_by_zero"),
        ("DivBackward0", "division_by_zero"),
        ("LogSoftmaxBackward0", None),
        ("LogSigmoid", None),
        ("Mul", None),
        # Paddle's and JAX's snake_case names of the same ops
        ("log", "log_of_zero"),
        ("divide", "division_by_zero"),
        ("elementwise_div", "division_by_zero"),
        ("divide_grad", "division_by_zero"),
        ("true_divide", "division_by_zero"),
        ("log_softmax", None),
        ("logical_and", None),
        # snake_case names are matched whole: JAX's 'logistic' is a sigmoid, 'logits' an output
        ("logistic", None),
        ("logits", None),
        ("log_prob", None),
        ("logsumexp", "log_of_zero"),  # the log of a sum of exps that all underflowed, as LogsumexpBackward's
        ("LogsumexpBackward0", "log_of_zero"),
        ("LogicalAnd", None),
        ("sqrt", None),
    ],
)
def test_the_op_names_a_log_or_a_division_in_either_case(op, detail):
    assert detail_for_op(op) == detail


def test_with_no_step_counter_only_a_fault_within_a_traceback_s_reach_is_an_assertion_s_echo(tmp_path):
    fault = "RuntimeError: CUDA error: an illegal memory access was encountered\n"
    epochs = "".join(f"Epoch {e}: train_loss={2.3 - 0.01 * e:.3f}\n" for e in range(2, 42))
    text = "Epoch 1: train_loss=2.3\nIndexError: index out of range in self\n" + epochs + fault
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert rep.ending.crash is not None and rep.ending.crash.meaning == "cuda_fault"


def test_a_label_assertion_before_an_illegal_memory_access_is_what_the_job_died_of(tmp_path):
    text = "".join(f"Epoch 1 step {s} loss {2.3 - 0.01 * s:.3f}\n" for s in range(1, 8)) + (
        "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], "
        "thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.\n"
        "RuntimeError: CUDA error: an illegal memory access was encountered\n"
    )
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert rep.ending.crash is not None and rep.ending.crash.meaning == "data_or_labels"


def test_a_cuda_fault_after_training_went_on_past_an_assertion_is_its_own(tmp_path):
    # an index error of a CPU lookup the job caught, then steps trained, then a CUDA fault: no echo of it
    text = (
        "Epoch 1 step 1 loss 2.300\n"
        "IndexError: index out of range in self\n"
        + "".join(f"Epoch 1 step {s} loss {2.3 - 0.01 * s:.3f}\n" for s in range(2, 42))
        + "RuntimeError: CUDA error: an illegal memory access was encountered\n"
    )
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert rep.ending.crash is not None and rep.ending.crash.meaning == "cuda_fault"


# ---------------------------------------------------------------- PaddleNLP's Trainer on Paddle's GradScaler


def _paddlenlp(step, loss, skipped=None):
    # paddlenlp/trainer/trainer.py: logger.warning(f"optimizer not run, scale_before: {before}, scale_after: {after}")
    # when scaler._cache_found_inf, then the step's log line ('loss: ..., learning_rate: ..., global_step: ...')
    lines = []
    if skipped is not None:
        before, after = skipped
        lines.append(
            f"[2023-11-28 14:31:29,583] [ WARNING] - optimizer not run, scale_before: {before}, scale_after: {after}"
        )
    lines.append(
        f"[2023-11-28 14:31:29,586] [    INFO] - loss: {loss:.8f}, learning_rate: 0.0, global_step: {step}, "
        "interval_runtime: 4.3468, interval_samples_per_second: 3.68, ppl: 8.1, epoch: 0.0025"
    )
    return lines


def test_paddlenlp_s_skipped_step_is_a_loss_scale_overflow_with_its_new_scale():
    found = dict(match_messages("[ WARNING] - optimizer not run, scale_before: 32768.0, scale_after: 16384.0"))
    assert found["loss_scale_overflow_transient"]["loss_scale"] == 16384.0
    assert found["loss_scale_overflow_transient"]["framework"] == "paddlenlp"


def test_paddlenlp_s_scale_halved_below_one_overflow_after_overflow_is_fp16_overflowing_for_good(tmp_path):
    lines = []
    scale = 4.0
    for step in range(14, 20):
        lines += _paddlenlp(step, 2.09 - 0.01 * step, (scale, scale / 2))
        scale /= 2
    rep, _ = _analyze(tmp_path, "paddle.log", "\n".join(lines) + "\n")
    assert rep.diverged and (rep.verdict.cause, rep.verdict.detail) == ("numerical_instability", "fp16_overflow")


def test_a_paddlenlp_skip_that_kept_its_scale_is_no_floor(tmp_path):
    # Paddle's scaler lowers the scale only on every decr_every_n_nan_or_inf-th overflow: a skip may keep it
    lines = []
    for step in range(1, 60):
        skipped = (32768.0, 32768.0) if step in (10, 40) else None
        lines += _paddlenlp(step, 2.5 - 0.02 * step, skipped)
    rep, _ = _analyze(tmp_path, "paddle.log", "\n".join(lines) + "\n")
    assert not rep.diverged and rep.verdict.cause == "healthy"


def test_paddlenlp_s_few_skips_at_a_high_scale_are_a_working_scaler(tmp_path):
    lines = []
    for step in range(1, 30):
        skipped = (65536.0 / 2 ** (step - 1), 65536.0 / 2**step) if step <= 3 else None
        lines += _paddlenlp(step, 2.5 - 0.02 * step, skipped)
    rep, _ = _analyze(tmp_path, "paddle.log", "\n".join(lines) + "\n")
    assert not rep.diverged and rep.verdict.cause == "healthy"


# ---------------------------------------------------------------- ESPnet2's CTC dropping the samples with a NaN grad


def _espnet2_batch(n, loss_ctc):
    # espnet2/train/reporter.py's per-interval line, FunASR's copy (build_trainer's logging.info)
    return (
        f"[host] 2023-11-24 08:25:19,871 (build_trainer:733) INFO: 1epoch:train:{n * 50 - 49}-{n * 50}batch:"
        f"{n * 50}num_updates: iter_time=0.069, forward_time=0.248, loss_ctc={loss_ctc:.3f}, loss_att=76.810, "
        f"acc=0.045, loss={loss_ctc * 0.3:.3f}, backward_time=0.2, optim_step_time=0.05, optim0_lr0=1.0e-05"
    )


# espnet2/asr/ctc.py with ignore_nan_grad: logging.warning(f"{B - size}/{B} samples got nan grad. These were ignored
# for CTC loss.")
_CTC_IGNORED = (
    "[host] 2023-11-24 08:26:08,148 (ctc:67) WARNING: 1/140 samples got nan grad. These were ignored for CTC loss."
)


def test_espnet2_s_ctc_dropping_a_sample_is_an_unalignable_sample():
    found = dict(match_messages(_CTC_IGNORED))
    assert found["ctc_no_valid_path"]["framework"] == "espnet2" and found["ctc_no_valid_path"]["samples"] == 1


def _evidence(rep):
    return [ev for c in rep.candidates for ev in c.evidence]


def test_a_sample_dropped_by_the_ctc_loss_in_a_run_that_goes_on_is_healthy(tmp_path):
    lines = [_espnet2_batch(n, 256.0 - 10 * n) for n in range(1, 4)] + [_CTC_IGNORED]
    lines += [_espnet2_batch(n, 256.0 - 10 * n) for n in range(4, 8)]
    rep, _ = _analyze(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert any(ev.rule == "LOG005" and "CTC" in ev.message for ev in _evidence(rep))


def test_the_samples_the_ctc_dropped_name_no_cause_beside_a_loss_that_goes_nan(tmp_path):
    # ESPnet2's CTC drops them before the loss: they never reach the update, so a NaN beside them is not theirs
    lines = [_espnet2_batch(n, 256.0 - 10 * n) for n in range(1, 4)] + [_CTC_IGNORED]
    lines += [_espnet2_batch(n, float("nan")) for n in range(4, 8)]
    rep, _ = _analyze(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert rep.diverged
    assert not [ev for ev in _evidence(rep) if "samples got nan grad" in ev.message and ev.weight > 0]


# ---------------------------------------------------------------- a project's own check raising on a non-finite tensor


@pytest.mark.parametrize(
    "line",
    [
        # kohya sd-scripts' train_util.cache_batch_latents: raise RuntimeError(f"NaN detected in latents: {path}")
        "RuntimeError: NaN detected in latents: train/aki/5_girl/img101.png",
        "AssertionError: Non-finite values in predicted vectors",
        "ValueError: The model produced NaN values in logits",
        "RuntimeError: found infinite values in weights",
        "FloatingPointError: NaN found in the attention scores",
    ],
)
def test_a_project_s_exception_saying_a_tensor_went_non_finite_is_a_non_finite_tensor(line):
    assert "nonfinite_tensor" in dict(match_messages(line)), line


@pytest.mark.parametrize(
    "line",
    [
        # a check of the input data: the data families' (scikit-learn's validation), not a tensor of the model's
        "ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
        "ValueError: NaN found in the dataset column 'price'",
        "ValueError: cannot convert float NaN to integer",
        "KeyError: nan",
        "ValueError: Inf is not supported",
        # a print with no exception's type: words anyone may print
        "NaN detected in latents: train/img101.png",
        "INFO checking for NaN detected in latents: none",
    ],
)
def test_other_exceptions_and_prints_naming_nan_are_no_non_finite_tensor(line):
    assert "nonfinite_tensor" not in dict(match_messages(line)), line


@pytest.mark.parametrize(
    "line",
    [
        # the input data named before or after the words: the data families' checks
        "ValueError: found nan in observations.",  # stable-baselines3's VecCheckNan
        "MissingDataError: exog contains inf or nans",  # statsmodels
        "ValueError: x contains NaN",
        "ValueError: Column 'age' has NaN values",
        "RuntimeError: NaN values in batch 3",
        # ... or a few words after them, up to the next preposition
        "ValueError: NaN found in training data",
        "ValueError: NaN values found in the training data",
        "ValueError: NaN detected in the validation data",
        "ValueError: NaN in the train dataset",
        "ValueError: Found NaN in training images",
    ],
)
def test_a_check_of_the_input_data_is_no_non_finite_model_tensor(line):
    assert "nonfinite_tensor" not in dict(match_messages(line)), line


@pytest.mark.parametrize(
    "line",
    [
        "AssertionError: Found NaN in the logits of the batch",  # the batch is where the logits were, not the subject
        "RuntimeError: NaN in attention scores of batch 4",
        "RuntimeError: Detected NaN in hidden states at layer 5",
    ],
)
def test_a_data_word_after_the_tensor_s_name_leaves_it_the_model_s(line):
    assert "nonfinite_tensor" in dict(match_messages(line)), line


def test_a_path_after_the_words_names_no_data():
    line = "RuntimeError: NaN detected in latents: /data/input/images/a.png"
    assert "nonfinite_tensor" in dict(match_messages(line))


def test_a_project_s_check_printed_and_outlived_by_finite_losses_is_no_divergence(tmp_path):
    # a job that catches its own check's exception, prints it and goes on: the losses after it decide
    text = "".join(f"step {s} loss {2.0 - 0.01 * s:.3f}\n" for s in range(1, 11))
    text += "RuntimeError: NaN detected in latents: batch_0011.png\n"
    text += "".join(f"step {s} loss {2.0 - 0.01 * s:.3f}\n" for s in range(11, 80))
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert not rep.diverged


def test_a_project_s_check_with_no_step_after_the_last_loss_is_a_divergence(tmp_path):
    text = "".join(f"Epoch {e}: train_loss={2.0 - 0.05 * e:.3f}\n" for e in range(1, 30))
    text += "AssertionError: found NaN in logits\n"
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert rep.diverged


def test_a_project_s_check_in_one_log_is_not_outlived_by_another_source_s_steps(tmp_path):
    # the check has no step of its own; the loss a metrics file wrote counts steps in its own unit
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("Loading\nRuntimeError: Detected NaN in hidden states at layer 5\n")
    (run / "metrics.csv").write_text("step,loss\n" + "".join(f"{s},{2.0 - 0.01 * s:.3f}\n" for s in range(1, 50)))
    assert analyze(run).diverged


def test_the_loss_or_the_gradients_going_non_finite_stay_the_loss_s_statement():
    for line in ("RuntimeError: Loss is NaN", "FloatingPointError: NaN encountered in gradients"):
        assert [f for f, _ in match_messages(line)] == ["nan_loss"], line


_SD_SCRIPTS_CUT = """caching latents.
  0%|          | 0/110 [00:02<?, ?it/s]
Traceback (most recent call last):
  File "sd-scripts/sdxl_train.py", line 185, in train
    train_dataset_group.cache_latents(vae, args.vae_batch_size, args.cache_latents_to_disk, True)
  File "sd-scripts/library/train_util.py", line 2008, in cache_batch_latents
    raise RuntimeError(f"NaN detected in latents: {info.absolute_path}")
"""


def test_an_f_string_raise_a_paste_stops_at_is_read_as_its_exception(tmp_path):
    _, events, *_ = parse_log_text(_SD_SCRIPTS_CUT)
    assert "nonfinite_tensor" in {e.kind for e in events}
    rep, _ = _analyze(tmp_path, "output.txt", _SD_SCRIPTS_CUT)
    assert rep.diverged


def test_an_f_string_s_field_is_no_value_of_the_message():
    text = _SD_SCRIPTS_CUT.replace('f"NaN detected in latents: {info.absolute_path}"', 'f"loss is {loss}"')
    _, events, *_ = parse_log_text(text)
    assert not {e.kind for e in events} & {"nan_loss", "nonfinite_tensor"}


# ---------------------------------------------------------------- the names toolkits give their logs


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("log_train_20230609-055428.txt", Kind.JOB_LOG),  # OpenPCDet: 'log_train_%s.txt' % time.strftime(...)
        ("log_rank0.txt", Kind.JOB_LOG),
        ("log-train-2023-05-01-12-00-00", Kind.JOB_LOG),  # icefall / k2: setup_logger(f"{exp_dir}/log/log-train")
        ("log-train-2023-05-01-12-00-00-1", Kind.JOB_LOG),  # ... and a rank after it
        # a bare log.txt is judged by its content (detectron2's is a log; notes and file lists go by the name too)
        ("log.txt", None),
        ("logs.txt", None),
        # another kind's extension after the name stays that kind's
        ("log-train.pt", Kind.PICKLE),
        ("log-train.csv", Kind.DATA_SAMPLE),
        ("log-train.png", None),
        ("log.json", Kind.METRICS_JSONL),  # mmcv's <time>.log.json renamed, confirmed by its lines
        ("train_log.json", Kind.METRICS_JSONL),
        # look-alikes: names holding 'log' inside a word, or another file's name
        ("login.txt", None),
        ("logits.txt", None),
        ("changelog.txt", None),
        ("catalog.json", None),
        ("dialog.json", None),
        ("logging.json", None),
        ("log-decode-2023-05-01", None),
        ("log_config.json", Kind.CONFIG),
        # train*.txt only when the name says log or output: darknet's train.txt and VOC's trainval.txt list images
        ("train_log.txt", Kind.JOB_LOG),
        ("trainer_0_log.txt", Kind.JOB_LOG),
        ("training_output.txt", Kind.JOB_LOG),
        ("train.txt", None),
        ("trainval.txt", None),
        ("train_list.txt", None),
    ],
)
def test_the_names_toolkits_give_their_logs(name, kind):
    assert classify(name) is kind


def test_an_mmcv_json_log_renamed_log_json_is_read(tmp_path):
    # mmcv's TextLoggerHook._dump_log: one json.dumps(log_dict) per line (NaN as the bare token Python writes)
    rows = [
        {"mode": "train", "epoch": 1, "iter": it, "lr": 0.001, "loss_cls": 1.2 - 0.01 * it, "loss": 2.0 - 0.01 * it}
        for it in (10, 20, 30, 40)
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    text += '{"mode": "train", "epoch": 1, "iter": 50, "lr": 0.001, "loss_cls": NaN, "loss": NaN}\n'
    rep, _ = _analyze(tmp_path, "log.json", text)
    assert rep.diverged and rep.first_nonfinite_step == 50


def test_a_json_document_named_log_json_is_no_metrics_log(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.json").write_text(json.dumps({"loss": [2.0, 1.5, float("nan")], "lr": 0.1}, indent=2))
    (run / "train.log").write_text("".join(f"step {s} loss {2.0 - 0.1 * s:.2f}\n" for s in range(1, 9)))
    rep = analyze(run)
    assert not rep.diverged and [s.path for s in rep.sources if s.kind is Kind.METRICS_JSONL] == []


def test_an_evaluation_only_log_under_a_log_s_name_is_read_and_holds_no_loss(tmp_path):
    # OpenPCDet's eval lines ('%(asctime)s  %(levelname)5s  %(message)s'), no training line
    text = (
        "".join(f"2023-06-09 05:58:03,049   INFO  recall_rcnn_0.{t}: 0.{800 - 100 * t}\n" for t in (3, 5, 7))
        + "2023-06-09 05:58:03,053   INFO  Average predicted number of objects(6019 samples): 200.000\n"
    )
    rep, _ = _analyze(tmp_path, "log_train_20230609-055428.txt", text)
    assert rep.verdict.cause == "inconclusive" and [s.path for s in rep.sources] == ["log_train_20230609-055428.txt"]


# ---------------------------------------------------------------- stable-baselines3's box, cut inside its first row


def _sb3_box(groups):
    """stable_baselines3/common/logger.py HumanOutputFormat.write: a border of dashes, a '| group/ | |' row per key
    group with its keys indented by four under it, values as '%-8.3g' (ints as they are), the border again."""
    rows = []
    for group, kvs in groups.items():
        rows.append((f"{group}/", ""))
        rows += [(f"    {k}", f"{v:<8.3g}" if isinstance(v, float) else str(v)) for k, v in sorted(kvs.items())]
    kw = max(len(k) for k, _ in rows)
    vw = max(len(v) for _, v in rows)
    border = "-" * (kw + vw + 7)
    return [border, *(f"| {k:<{kw}} | {v:<{vw}} |" for k, v in rows), border]


def _sb3_record(it, loss):
    return _sb3_box(
        {
            "rollout": {"ep_rew_mean": -90.7 + it},
            "time": {"iterations": it, "total_timesteps": 2048 * it},
            "train": {"approx_kl": 0.0628, "entropy_loss": -47.0, "learning_rate": 0.00025, "loss": loss},
        }
    )


def test_a_box_the_paste_cut_inside_its_first_row_is_read():
    box = _sb3_record(40, 1.04)
    text = "\n".join([box[1][2:], *box[2:]]) + "\n"  # the border and the first row's '| ' cut away
    series, *_ = parse_log_text(text)
    assert "loss" in series and "learning_rate" in series


def test_a_run_of_boxes_cut_at_the_start_reads_every_record(tmp_path):
    lines = []
    for it in range(40, 50):
        lines += _sb3_record(it, 1.04 - 0.01 * (it - 40))
    rep, _ = _analyze(tmp_path, "output.txt", "\n".join(lines[1:])[2:] + "\n")
    assert rep.timeline.loss is not None and len(rep.timeline.loss) == 10 and not rep.diverged


def test_a_markdown_table_after_a_first_line_that_looked_like_a_cut_box_is_read():
    text = "epochs | 10 |\n| batch_size | 32 |\n\n| epoch | loss |\n|---|---|\n" + "".join(
        f"| {e} | {v} |\n" for e, v in enumerate(("0.9", "0.8", "0.7", "nan"), 1)
    )
    series, *_ = parse_log_text(text)
    assert [str(v) for v in series["loss"].values] == ["0.9", "0.8", "0.7", "nan"]


def test_a_list_of_images_named_train_txt_is_no_log_and_a_console_log_so_named_is(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.txt").write_text("".join(f"data/images/{i:06d}.jpg\n" for i in range(200)))
    (run / "val.log").write_text("".join(f"Epoch {e} loss {2.0 - 0.1 * e:.2f}\n" for e in range(1, 9)))
    assert [s.path for s in analyze(run).sources] == ["val.log"]
    (run / "val.log").unlink()
    (run / "train.txt").write_text(
        "".join(f"Epoch {e} loss {2.0 - 0.1 * e:.2f}\n" for e in range(1, 9)) + "Epoch 9 loss nan\n"
    )
    rep = analyze(run)
    assert rep.diverged and [s.path for s in rep.sources] == ["train.txt"]


def test_notes_kept_as_log_txt_are_judged_by_their_content(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.txt").write_text("Changes\n- fixed a bug in loss computation\n- loss is nan when lr too high, fixed\n")
    (run / "train.log").write_text("".join(f"step {s} loss {2.0 - 0.1 * s:.2f}\n" for s in range(1, 9)))
    rep = analyze(run)
    assert not rep.diverged and [s.path for s in rep.sources] == ["train.log"]


@pytest.mark.parametrize(
    "first",
    [
        "step | loss |",  # a markdown table's header with its leading bar cut: no number, no group
        "Epoch 3 | loss 0.5 |",  # fields set apart by bars: no row of a box
    ],
)
def test_a_line_of_bars_opening_a_log_opens_no_box(first):
    text = first + "\n" + "".join(f"step {s} loss {1 - 0.1 * s:.2f}\n" for s in range(1, 6))
    series, *_ = parse_log_text(text)
    assert len(series["loss"]) >= 5
