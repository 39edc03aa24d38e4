"""Issue #11, eleventh round: classes of heldout9's misses (docs/logs.md), each on lines built from the toolkit's own
format string (named in a comment), with look-alikes that must read as before.
"""

import math

import pytest

import forensics
from forensics.readers.logmetrics import main_loss_and_basis, scan_line
from forensics.readers.logs import parse_log_text


def _analyze(tmp_path, text, filename="train.log"):
    run = tmp_path / "run"
    run.mkdir()
    (run / filename).write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


# ---------------------------------------------------------------- CNTK


def _cntk1_line(first, last, loss, percent=None):
    # CNTK 1.x Source/SGDLib/SGD.cpp: "%s Epoch[%2d of %d]-Minibatch[%4d-%4d]: SamplesSeen = %d; TrainLossPerSample =
    # %11.8f; " then "EvalErr[%lu]PerSample = %.8f; " and "TotalTime = %.4fs; SamplesPerSecond = %.1f"; with a known
    # epoch size "Minibatch[%4d-%4d, %2.2f%%]"
    rng = f"{first:4d}-{last:4d}" + (f", {percent:2.2f}%" if percent is not None else "")
    return (
        f" Epoch[ 1 of 2]-Minibatch[{rng}]: SamplesSeen = 500; TrainLossPerSample = {loss:>11}; "
        "EvalErr[0]PerSample = 0.27600000; TotalTime = 2.7641s; SamplesPerSecond = 180.9"
    )


@pytest.mark.parametrize("percent", [None, 25.0])
def test_cntk_minibatch_range_is_stepped_at_its_end(percent):
    text = "\n".join(_cntk1_line(a, b, v, percent) for a, b, v in [(1, 500, "5.87155566"), (501, 1000, "2.10000000")])
    series, *_ = parse_log_text(text + "\n")
    assert list(series["loss"].steps) == [500, 1000]


@pytest.mark.parametrize(
    ("line", "counter"),
    [
        ("batch 10 -5 loss 2.0", ("batch", 10, None)),  # a negative number below the counter is no range's end
        ("iter 10 - loss 2.3", ("step", 10, None)),  # a dash before a name
        ("step 7/100 - loss 1.5", ("step", 7, 100)),  # a fraction is no range
        # after the counter's dash a time, a date or a count is no range's end: the range closes at its end
        ("Iter 5 - 12:30:01 - loss 0.5", ("step", 5, None)),
        ("iter 5 - 2023-01-01 loss 0.5", ("step", 5, None)),
        ("Step 100 - 150 samples, loss: 0.5", ("step", 100, None)),
        ("step 3 -15 loss 0.5", ("step", 3, None)),
        # CNTK 2.x cntk/logging/progress_print.py: " Minibatch[{:4d}-{:4d}]: loss = {:0.6f} * {:d}"; a range before ":"
        (" Minibatch[   1- 128]: loss = 2.302585 * 64", ("batch", 128, None)),
        ("Minibatch 501-1000: loss = 2.3", ("batch", 1000, None)),
    ],
)
def test_look_alikes_of_a_range_keep_their_counter(line, counter):
    assert scan_line(line).counters == [counter]


@pytest.mark.parametrize(
    "line",
    [
        # CNTK 1.x SGD.cpp: RuntimeError("The training criterion is not a number (NAN). Stop\n"), printed by the
        # console's handler after "EXCEPTION occurred: "
        "EXCEPTION occurred: The training criterion is not a number (NAN). Stop",
        # CNTK 2.x SGD.cpp (BrainScript): RuntimeError("The training criterion is not a number (NAN).")
        "EXCEPTION occurred: The training criterion is not a number (NAN).",
    ],
)
def test_cntk_nan_criterion_stop_is_a_nan_guard(line):
    _, events, *_ = parse_log_text(line + "\n")
    assert [(e.kind, e.framework) for e in events] == [("nan_loss", "cntk")]


def test_cntk_log_stopped_on_its_criterion_check_diverged_at_the_range_end(tmp_path):
    text = "\n".join(
        [
            _cntk1_line(1, 500, "5.87155566"),
            _cntk1_line(501, 1000, "1.#QNAN000"),
            "",
            "EXCEPTION occurred: The training criterion is not a number (NAN). Stop",
        ]
    )
    rep = _analyze(tmp_path, text + "\n")
    assert rep.diverged and rep.first_nonfinite_step == 1000


@pytest.mark.parametrize("line", ["criterion: nan", "The training criterion is a number", "training criterion = 2.3"])
def test_look_alikes_of_cntk_s_stop_are_no_guard(line):
    _, events, *_ = parse_log_text(line + "\n")
    assert not [e for e in events if e.kind == "nan_loss"]


# ---------------------------------------------------------------- ColossalAI's bar run into ZeRO's line


def _colossal_bar(n, loss, tail=""):
    # ColossalAI's Trainer (2022): tqdm(desc=f"[Epoch {epoch} / Train]"), set_postfix(loss=.., lr=.., throughput=..);
    # ZeRO's loss scaler prints "[deepscale] OVERFLOW! Rank {rank} Skipping step. Attempted loss scale: {prev},
    # reducing to {new}" onto the bar's line
    return f"[Epoch 0 / Train]:   0%|          | {n}/8614 [00:00<1:03:35,  2.26it/s, loss={loss}, lr=2.5e-05]{tail}"


def _overflow(prev):
    return f"[deepscale] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: {prev}, reducing to {prev / 2}"


def test_a_bracketed_bar_description_glued_to_the_scaler_s_line_reads_both(tmp_path):
    text = "\n".join(
        _colossal_bar(n, v, _overflow(2.0 ** (33 - n))) for n, v in [(1, "265.25"), (2, "nan"), (3, "nan")]
    )
    series, events, *_ = parse_log_text(text + "\n")
    assert series["loss"].values[0] == 265.25 and list(series["loss"].steps) == [1, 2, 3]
    assert math.isnan(series["loss"].values[-1])
    assert any(e.kind == "loss_scale_overflow_transient" for e in events)
    # a NaN loss printed while the scaler halves: the forward pass itself went NaN, which no scale causes
    assert _analyze(tmp_path, text + "\n").diverged


def test_bracketed_bars_that_are_no_training_loop_s_are_not_read():
    text = "[Epoch 0 / Test]:  50%|#####     | 4/8 [00:01<00:01,  2.6it/s, loss=2.31]\n"
    series, *_ = parse_log_text(text)
    assert "loss" not in series and "val_loss" not in series


def test_a_plain_train_bar_in_brackets_is_the_training_loop_s():
    series, *_ = parse_log_text("[Train]:  50%|#####     | 4/8 [00:01<00:01,  2.6it/s, loss=2.31]\n")
    assert series["loss"].values[-1] == 2.31


# ---------------------------------------------------------------- terms and their twins, totals per optimizer


def test_a_term_and_its_step_twin_are_summed_once():
    # second.pytorch's metrics: "cls_loss" (the running mean of its Scalar metric) beside "cls_loss_rt" (the step's)
    pairs = scan_line(
        "runtime.step=100, loss.cls_loss=0.5, loss.cls_loss_rt=0.4, loss.loc_loss=1.0, loss.loc_loss_rt=0.9"
    ).pairs
    found, basis = main_loss_and_basis(pairs)
    assert dict(found)["loss"] == pytest.approx(1.3) and "cls_loss_rt" in basis and "loss.cls_loss," not in basis


def test_an_rt_term_without_its_twin_is_a_term_of_its_own():
    found, _ = main_loss_and_basis(scan_line("step=100, cls_loss=0.5, loc_loss=1.0, loss_rt=0.3").pairs)
    assert dict(found)["loss"] == pytest.approx(1.8)


def _coqui_block(step, gen, total_0, disc):
    # Coqui TTS 0.2 Trainer, two optimizers (VITS): "\n --> STEP: {s}/{n} -- GLOBAL_STEP: {g}" then one
    # "     | > {key}: {value}  ({avg})" line per key, each optimizer's total renamed "loss_{idx}"
    rows = [
        ("loss_gen", gen),
        ("loss_kl", 2.52505),
        ("loss_mel", 16.64367),
        ("loss_0", total_0),
        ("grad_norm_0", 459.31244),
        ("loss_disc", disc),
        ("loss_1", disc),
        ("grad_norm_1", 115.94435),
        ("step_time", 1.022),
    ]
    head = f"   --> STEP: {step % 270}/270 -- GLOBAL_STEP: {step}"
    return "\n".join([head, *(f"     | > {k}: {v}  ({v})" for k, v in rows)])


def test_coqui_per_optimizer_totals_give_the_loss_not_a_sum_with_their_terms():
    text = _coqui_block(1061600, 2.4, 21.57, 3.2) + "\n\n" + _coqui_block(1061700, 2.44422, 20.48293, 3.21796) + "\n"
    series, *_ = parse_log_text(text, "trainer_0_log.txt")
    assert list(series["loss"].steps) == [1061600, 1061700]
    assert list(series["loss"].values) == [21.57, 20.48293]


def test_numbered_losses_alone_are_still_summed():
    # deep supervision's "loss_0 .. loss_2" with nothing else: no totals beside terms, read as before
    found, _ = main_loss_and_basis(scan_line("iter 10: loss_0=0.5, loss_1=0.25, loss_2=0.125").pairs)
    assert dict(found)["loss"] == pytest.approx(0.875)


@pytest.mark.parametrize(
    "line",
    [
        # the NaN check of Coqui TTS 0.2's Trainer, as its traceback ends
        "RuntimeError:  > Detected NaN loss - {'loss_gen': tensor(nan), 'loss_kl': tensor(2.5)}.",
        # lmnt-com's DiffWave / WaveGrad learner.py: raise RuntimeError(f'Detected NaN loss at step {self.step}.')
        "RuntimeError: Detected NaN loss at step 3120.",
    ],
)
def test_a_raised_nan_loss_check_is_a_guard(line):
    _, events, *_ = parse_log_text(line + "\n")
    assert [e.kind for e in events] == ["nan_loss"]


# ---------------------------------------------------------------- a step's header, its metrics on the lines under it


def test_olmo_step_header_gives_the_cross_entropy_as_the_loss_not_the_perplexity():
    # OLMo train.py: log_metrics_to_console(f"[step={step}/{max_steps}]", metrics) logs f"{prefix}\n" and one
    # f"    {name}={format_float(value)}" line per metric
    block = "[step={s}/739328]\n    train/CrossEntropyLoss={ce}\n    train/Perplexity={ppl}\n"
    block += "    optim/total_grad_norm=0.2\n"
    text = block.format(s=100, ce="3.112", ppl="22.47") + block.format(s=110, ce="2.956", ppl="19.22")
    series, *_ = parse_log_text(text)
    assert list(series["loss"].steps) == [100, 110] and list(series["loss"].values) == [3.112, 2.956]
    assert list(series["train/perplexity"].values) == [22.47, 19.22]


# ---------------------------------------------------------------- a dump of counter-less lines, one metric each


def _rllib_result(iteration, total, policy, vf):
    # Ray RLlib 0.8 pretty_print(result): yaml.safe_dump of the result dict, keys sorted, the learner's stats nested
    return (
        f"episode_len_mean: 200.0\nepisode_reward_mean: 21.5\nepisodes_this_iter: 4\nepisodes_total: {4 * iteration}\n"
        "info:\n  learner:\n    default_policy:\n      learner_stats:\n        cur_kl_coeff: 0.2\n"
        f"        cur_lr: 5.0e-05\n        entropy: 1.05\n        kl: 0.012\n        policy_loss: {policy}\n"
        f"        total_loss: {total}\n        vf_explained_var: 0.31\n        vf_loss: {vf}\n"
        f"  num_steps_sampled: {4000 * iteration}\n  num_steps_trained: {4000 * iteration}\n"
        f"iterations_since_restore: {iteration}\nnode_ip: 192.168.0.2\ntraining_iteration: {iteration}\n"
    )


def test_rllib_result_dump_gives_its_total_loss_once_per_result():
    series, *_ = parse_log_text(_rllib_result(1, 412.5, -0.031, 825.1) + _rllib_result(2, 380.25, -0.027, 760.6))
    assert list(series["loss"].values) == [412.5, 380.25]  # total_loss: not policy_loss, not vf_loss
    assert list(series["vf_loss"].values) == [825.1, 760.6] and list(series["policy_loss"].values) == [-0.031, -0.027]
    assert len(set(series["loss"].steps)) == 2


def test_olmo_metrics_pasted_without_their_header_are_one_step():
    # OLMo's f"    {name}={format_float(value)}" lines, the '[step=N/M]' header left out of the paste
    series, *_ = parse_log_text("    train/CrossEntropyLoss=2.956\n    train/Perplexity=19.22\n")
    assert list(series["loss"].steps) == list(series["train/perplexity"].steps)
    assert series["loss"].values[0] == 2.956  # the cross-entropy, never the perplexity (its exp)


@pytest.mark.parametrize(
    ("text", "losses"),
    [
        ("loss: 0.5\nloss: 0.4\nloss: 0.3\n", [0.5, 0.4, 0.3]),  # one metric printed again: a point each
        ("loss_cls: 0.3\nloss_box: 0.2\nloss_cls: 0.25\nloss_box: 0.1\n", [0.5, 0.35]),  # a name again: next record
        ("loss: 0.5\n\n\n\nloss: 0.4\n", [0.5, 0.4]),
    ],
)
def test_counter_less_lines_of_one_metric_each_are_records_until_a_name_repeats(text, losses):
    series, *_ = parse_log_text(text)
    assert list(series["loss"].values) == pytest.approx(losses)


def test_a_message_after_a_dump_is_placed_after_it():
    text = "loss: 0.5\nacc: 0.8\nloss: nan\nacc: 0.1\nNaN loss during training.\n"
    series, events, *_ = parse_log_text(text)
    assert list(series["loss"].steps) == [1, 2] and [(e.kind, e.step) for e in events] == [("nan_loss", 2)]


# ---------------------------------------------------------------- a classifier's loss by the rate printed beside it


def _cntk2_epoch(epoch, loss, metric):
    # CNTK 2.0 beta ProgressPrinter.epoch_summary(with_metric=True): "Finished Epoch [{}]: {}loss = {:0.6f} * {},
    # metric = {:0.1f}% * {} {:0.3f}s ({:5.1f} samples per second)" with tag "[Training] " (the metric times 100)
    return (
        f"Finished Epoch [{epoch}]: [Training] loss = {loss:0.6f} * 18014, metric = {metric:0.1f}% * 18014 "
        "6.094s (2956.1 samples per second)"
    )


def test_cntk_loss_past_a_classifier_s_bound_beside_its_error_rate_diverged(tmp_path):
    rep = _analyze(tmp_path, _cntk2_epoch(16, 2837788428.932164, 98.4) + "\n")
    assert rep.diverged and rep.verdict.cause != "numerical_instability"


@pytest.mark.parametrize(
    "text",
    [
        _cntk2_epoch(16, 0.412, 8.1),  # a classifier that trains
        _cntk2_epoch(16, 2837788428.932164, 12345.6),  # a metric past 100 %: a squared error, no rate
        "Finished Epoch [16]: [Training] loss = 2837788428.932164 * 18014 6.094s (2956.1 samples per second)",
        # Keras prints its accuracy as a fraction: a regression on raw targets compiled with metrics=['accuracy']
        "1000/1000 [==============================] - 0s 12us/step - loss: 2837788428.9322 - accuracy: 0.0000",
    ],
)
def test_a_large_loss_with_no_rate_in_percent_beside_it_keeps_the_any_loss_bound(tmp_path, text):
    assert not _analyze(tmp_path, text + "\n").diverged


def test_cntk_brainscript_errs_in_percent_marks_its_ce_a_classifier_s(tmp_path):
    # CNTK 2.x Source/SGDLib/Criterion.h EpochCriterion::LogCriterion: "%ls = " then the average ("%.8g"), or for a
    # plural node name (an error counter) 100 times it and "%%" ("%.3g"), then " * %d; ", after SGD.cpp's
    # " Epoch[%2d of %d]-Minibatch[%4d-%4d, %2.2f%%]: "
    text = " Epoch[ 1 of 3]-Minibatch[  11-  20, 2.50%]: ce = 312456789 * 2560; errs = 96.6% * 2560; \n"
    assert _analyze(tmp_path, text).diverged


# ---------------------------------------------------------------- NumPy's log of a negative box size


def _caffe_iteration(i, loss):
    # BVLC Caffe solver.cpp: LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_ (glog prefix)
    return f"I0201 18:00:{12 + i // 20:02d}.837128 22329 solver.cpp:238] Iteration {i}, loss = {loss}"


def _numpy_warning(where):
    # Python's warnings.formatwarning: "{filename}:{lineno}: {category}: {message}" then the source line; NumPy's
    # ufunc error handler's message "invalid value encountered in log"
    return f"/opt/frcnn/tools/../lib/{where}:24: RuntimeWarning: invalid value encountered in log\n" + (
        "  targets_dh = np.log(gt_heights / ex_heights)"
    )


def _frcnn_log(where, nan=True):
    lines = [_caffe_iteration(0, "5.07012"), _numpy_warning(where)]
    lines += [_caffe_iteration(i, "nan" if nan else f"{5.0 - i / 100:.5f}") for i in range(20, 200, 20)]
    return "\n".join(lines) + "\n"


def test_numpys_invalid_log_in_the_box_encoding_of_a_run_that_diverged_names_the_data(tmp_path):
    rep = _analyze(tmp_path, _frcnn_log("fast_rcnn/bbox_transform.py"))
    assert rep.diverged and rep.verdict.cause == "data_or_labels"
    assert any("x2 <= x1" in (e.fix or "") for c in rep.candidates for e in c.evidence)


@pytest.mark.parametrize(
    ("where", "nan"),
    [
        ("fast_rcnn/bbox_transform.py", False),  # the loss went on falling: a warning alone moves no verdict
        ("losses/focal.py", True),  # a log of a negative number elsewhere says nothing of which data
        ("utils/boxing_day.py", True),  # 'box' inside another word
    ],
)
def test_numpys_invalid_log_elsewhere_or_alone_names_no_data_fault(tmp_path, where, nan):
    rep = _analyze(tmp_path, _frcnn_log(where, nan))
    assert rep.diverged == nan
    assert not any(e.rule == "LOG001" for c in rep.candidates for e in c.evidence)


def test_coqui_block_then_its_trainer_s_nan_raise_diverged(tmp_path):
    # Coqui TTS 0.2's step block (above), then the traceback of its Trainer's NaN check raising
    # RuntimeError(f" > Detected NaN loss ..."): the guard, whatever follows its words (the stored copy of the thread
    # cuts inside them), read as any exception naming the loss and a NaN is
    text = (
        _coqui_block(1061700, 2.44422, 20.48293, 3.21796)
        + "\n\nTraceback (most recent call last):\n"
        + '  File "/opt/TTS/TTS/trainer.py", line 855, in fit\n    self._fit()\n'
        + "RuntimeError:  > Detected NaN loss - step 1061701.\n"
    )
    rep = _analyze(tmp_path, text, "trainer_0_log.txt")
    assert rep.diverged


def test_a_term_split_by_its_samples_beside_it_is_summed_once():
    # second.pytorch train.py: metrics["cls_pos_rt"], metrics["cls_neg_rt"] (the classification loss over the positive
    # and the negative anchors) beside the net's "cls_loss_rt" (their sum), flattened under "loss."
    line = (
        "runtime.step=100, loss.cls_loss=0.52, loss.cls_loss_rt=0.4, loss.loc_loss=1.1, loss.loc_loss_rt=0.9, "
        "loss.cls_pos_rt=0.1, loss.cls_neg_rt=0.3, loss.dir_rt=0.6, misc.lr=0.0003"
    )
    found, basis = main_loss_and_basis(scan_line(line).pairs)
    assert dict(found)["loss"] == pytest.approx(1.9) and "cls_pos_rt" not in basis


@pytest.mark.parametrize(
    ("line", "loss"),
    [
        # parts that do not add up to it: kept
        ("iter 5: cls_loss=0.4, cls_pos_loss=0.1, cls_neg_loss=0.2, box_loss=0.9", 1.6),
        ("iter 5: cls_a_loss=0.2, cls_b_loss=0.2, cls_loss=0.4, box_loss=1.0", 1.8),  # no split's word: terms
        ("iter 5: loss_cls=0.3, loss_box=0.2, loss_obj=0.5", 1.0),  # a sum by coincidence, named apart
    ],
)
def test_look_alikes_of_a_split_term_are_summed_as_before(line, loss):
    found, _ = main_loss_and_basis(scan_line(line).pairs)
    assert dict(found)["loss"] == pytest.approx(loss)


# ---------------------------------------------------------------- the line under a Python warning


def _keras_bar(current: int, target: int, loss: str) -> str:
    # Keras 2 Progbar.update: ('%' + str(numdigits) + 'd/%d [') % (current, target), the bar, '] - ETA: ...' and
    # ' - %s: %.4f' per metric
    digits = len(str(target))
    return f"{current:{digits}d}/{target} [==>...........................] - ETA: 1s - loss: {loss}"


@pytest.mark.parametrize("source", ["", "    return np.mean(x)"])
def test_a_progress_bar_right_under_a_python_warning_is_read(source):
    # warnings.formatwarning prints the warning's source line under it only when the source is at hand; a bar line
    # opening with its padded count is the job's own either way (a statement does not open with a number)
    import warnings

    warning = warnings.formatwarning("invalid value encountered in less", RuntimeWarning, "callbacks.py", 10, source)
    text = "".join(_keras_bar(i, 100, f"{2.0 - i / 100:.4f}") + "\n" for i in range(1, 5))
    series, *_ = parse_log_text(text + warning + _keras_bar(5, 100, "nan") + "\n")
    assert math.isnan(series["loss"].values[-1]) and len(series["loss"]) == 5
