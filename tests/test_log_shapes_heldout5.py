"""Shapes the heldout5 real logs showed the tool could not read (docs/logs.md), after that split was
measured once blind: each on lines written here from the toolkit's own format string (toolkit and
source file named beside; the pasted logs stay outside the repository), with a look-alike that must
not move.
"""

from __future__ import annotations

import forensics
from forensics.readers.logs import looks_like_log, parse_log_text
from tests.test_log_shapes_heldout4 import _baselines_box


def _diffusion_tail(lg_scales: list[float]) -> str:
    """openai guided-diffusion / improved-diffusion (2021): logger.dumpkvs() writes the baselines
    key/value box (logger.py HumanOutputFormat), and fp16_util.py's MixedPrecisionTrainer prints
    f"Found NaN, decreased lg_loss_scale to {self.lg_loss_scale}" for every step it skips."""
    nan = float("nan")
    box = _baselines_box(
        {"grad_norm": nan, "lg_loss_scale": lg_scales[0], "loss": nan, "mse": nan, "samples": 3.9e7, "step": 1.5e5}
    )
    return box + "".join(f"Found NaN, decreased lg_loss_scale to {lg}\n" for lg in lg_scales[1:])


def test_a_file_of_unknown_name_holding_one_key_value_box_is_a_log_by_its_content(tmp_path):
    # the box gives its record at its closing border, and its border and the rows naming no metric
    # word ("samples") must not be skipped by the sniff: every row of it printed a metric
    path = tmp_path / "log.txt"
    path.write_text(_diffusion_tail([-16199.354]) + "Saving model...\n", encoding="utf-8")
    assert looks_like_log(path)


def test_the_diffusion_scaler_running_away_after_a_nan_box_is_read_and_diverged(tmp_path):
    (tmp_path / "log.txt").write_text(_diffusion_tail([-16199.354 - i for i in range(6)]), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True
    assert not any("no training artifacts" in p for p in report.problems)


def test_a_table_of_words_between_rules_of_dashes_is_no_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(
        "------------------------\n| author   | someone   |\n| dataset  | imagenet  |\n------------------------\n"
        "Found the bug in the augmentation, see the thread.\n",
        encoding="utf-8",
    )
    assert not looks_like_log(path)


def test_the_scaler_s_lines_alone_are_a_working_scaler_not_a_divergence(tmp_path):
    # improved-diffusion's scaler halving a few times from 2**20 and training on: transient skips
    lines = "".join(f"Found NaN, decreased lg_loss_scale to {19.0 - i}\n" for i in range(2))
    box = "".join(_baselines_box({"loss": 0.05 - 0.001 * i, "lg_loss_scale": 18.0, "step": 100 * i}) for i in range(8))
    (tmp_path / "log.txt").write_text(lines + box, encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is False


def _pipe_engine_lines(losses: list[float], first_step: int = 1) -> str:
    """DeepSpeed's pipeline engine (runtime/pipe/engine.py, train_batch, steps_per_print=1):
    f'steps: {self.global_steps} loss: {self.agg_train_loss:0.4f} iter time (s): {iter_time:0.3f}
    samples/sec: {tput:0.3f}', with the engine's log_dist step line between them."""
    out = []
    for i, loss in enumerate(losses):
        step = first_step + i
        out.append(f"steps: {step} loss: {loss:0.4f} iter time (s): {3.181:0.3f} samples/sec: {0.314:0.3f}\n")
        out.append(f"[INFO] [logging.py:128:log_dist] [Rank 0] step={step + 1}, skipped=0, lr=[1e-06], mom=[0.0]\n")
    return "".join(out)


def test_deepspeed_s_pipeline_engine_lines_count_their_steps(tmp_path):
    losses = [0.9 - 0.02 * i for i in range(17)] + [float("nan")] * 5
    points = parse_log_text(_pipe_engine_lines(losses, first_step=1))[0]["loss"]
    assert list(points.steps[:3]) == [1, 2, 3]
    (tmp_path / "train.log").write_text(_pipe_engine_lines(losses), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True and report.first_nonfinite_step == 18


def test_a_plural_counter_alone_is_a_setting_not_a_step():
    # "steps: 1000" printed among the settings, then the loop's own counter: the setting moves nothing
    text = "total steps: 1000\nsteps: 1000\n" + "".join(f"step {i} loss {2.0 - 0.1 * i}\n" for i in range(1, 4))
    points = parse_log_text(text)[0]["loss"]
    assert list(points.steps) == [1, 2, 3]


# ---------------------------------------------------------------- the loss when no line prints one as "loss"


def _gluoncv_ssd_lines(terms: list[tuple[float, float]]) -> str:
    """GluonCV 0.3-0.8 scripts/detection/ssd/train_ssd.py on MXNet: two mx.metric.Loss meters named
    'CrossEntropy' and 'SmoothL1' (the two terms of SSDMultiBoxLoss, whose sum is what autograd.backward
    gets), printed by logger.info('[Epoch {}][Batch {}], Speed: {:.3f} samples/sec, {}={:.3f}, {}={:.3f}')
    under logging's default 'INFO:root:' prefix; no total is printed."""
    lines = ["INFO:root:Start training from [Epoch 0]\n"]
    for i, (ce, l1) in enumerate(terms):
        lines.append(
            "INFO:root:[Epoch {}][Batch {}], Speed: {:.3f} samples/sec, {}={:.3f}, {}={:.3f}\n".format(
                0, i, 24.21, "CrossEntropy", ce, "SmoothL1", l1
            )
        )
    return "".join(lines)


def _read(tmp_path, text: str, name: str = "train.log"):
    from forensics.readers.logs import read_job_log
    from forensics.records import Kind, Source

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_job_log(path, Source(name, Kind.JOB_LOG, size=path.stat().st_size))


def test_two_criteria_printed_without_a_total_sum_into_the_loss_and_the_note_says_so(tmp_path):
    nan = float("nan")
    data = _read(tmp_path, _gluoncv_ssd_lines([(19.147, 3.899), (2.9e33, nan), (1.9e33, nan)]))
    loss = data.scalars["loss"]
    assert loss.steps.tolist() == [0, 1, 2]
    assert abs(loss.values[0] - (19.147 + 3.899)) < 1e-6 and all(v != v for v in loss.values[1:])
    assert data.scalars["crossentropy"].values[0] == 19.147  # each term is kept under its own name
    assert "the sum of crossentropy, smoothl1 (no total printed)" in data.source.note


def test_the_ssd_sum_going_nan_after_a_finite_batch_is_a_divergence(tmp_path):
    nan = float("nan")
    (tmp_path / "train.log").write_text(_gluoncv_ssd_lines([(19.1, 3.9), (2.9e33, nan), (1.9e33, nan)]))
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True and report.first_nonfinite_step == 1


def test_one_criterion_alone_is_the_loss_and_metrics_that_are_not_criteria_are_never_summed():
    from forensics.readers.logmetrics import main_loss_and_basis, scan_line

    pairs, basis = main_loss_and_basis(scan_line("[Epoch 0][Batch 3], CrossEntropy=2.310, acc=0.12").pairs)
    assert dict(pairs)["loss"] == 2.31 and basis == "'crossentropy' (no 'loss' printed)"
    # a regression's error metrics are evaluations as often as losses: no sum is made of them
    assert "loss" not in dict(main_loss_and_basis(scan_line("epoch 3 mse=0.31, mae=0.22").pairs)[0])
    # a printed loss stays the loss, whatever criteria sit beside it
    pairs, basis = main_loss_and_basis(scan_line("loss=5.0, CrossEntropy=3.0, SmoothL1=2.0").pairs)
    assert dict(pairs)["loss"] == 5.0 and basis is None


def _rd_lines(points: list[tuple[int, float, float]]) -> str:
    """A CompressAI-based training script's own logger, as InterDigitalInc/CompressAI#148 shows it (the script
    is not public: the line is the shape its paste prints): the rate-distortion objective (bpp + lambda *
    255^2 * mse, CompressAI's RateDistortionLoss) as its running mean and its value this step, beside its
    parts, each 'avg_X: v | cur_X: v' between brackets."""
    out = []
    for step, avg, cur in points:
        out.append(
            f"01/02/2023 05:22:21 - Epoch [0/200], Step [{step}/4039]: [ avg_rd: {avg:.2f} | cur_rd: {cur:.2f} | "
            f"avg_mse: 0.01 | cur_mse: 0.01 | avg_aux: 5059.33 | cur_aux: 4696.83 | avg_bpp: 0.3884 | "
            f"cur_bpp: 0.3296 | avg_psnr: 21.63 | cur_psnr: 22.01 | iter_time: 1.15 s/it | time_left: 00:36:42]\n"
        )
    return "".join(out)


def test_a_rate_distortion_loss_is_the_loss_and_the_step_s_value_wins_over_its_running_mean(tmp_path):
    nan = float("nan")
    data = _read(tmp_path, _rd_lines([(1500, 14.47, 13.22), (1510, 14.43, 3.02), (1520, nan, nan)]))
    loss = data.scalars["loss"]
    assert loss.steps.tolist() == [1500, 1510, 1520]
    assert loss.values[:2].tolist() == [13.22, 3.02] and loss.values[2] != loss.values[2]
    assert data.scalars["avg_rd"].values[0] == 14.47
    assert "'cur_rd' (no 'loss' printed)" in data.source.note


def test_rd_is_read_as_a_word_not_as_letters_inside_other_names():
    from forensics.readers.logmetrics import metric_name

    assert metric_name(("avg_rd",)) == "avg_rd" and metric_name(("rate_distortion",)) is None
    assert metric_name(("forward",)) is None and metric_name(("word",)) is None and metric_name(("rd_time",)) is None


def _yolov3_2019(header: tuple[str, ...], rows: list[tuple[float, ...]]) -> str:
    """ultralytics/yolov3 train.py of early 2019: print(('%8s%12s' + '%10s' * n) % header) each epoch, then per
    batch ('%8s%12s' + '%10.3g' * n) % ('%g/%g' % (epoch, epochs - 1), '%g/%g' % (i, nb - 1), *running means of
    the loss terms, their total, nTargets, time); the total is the loss the batch optimises."""
    n = len(header) - 2
    out = [("%8s%12s" + "%10s" * n) % header + "\n"]
    for i, row in enumerate(rows):
        counters = ("%g/%g" % (0, 99), "%g/%g" % (i, 7328))  # noqa: UP031 (the script's own format)
        out.append(("%8s%12s" + "%10.3g" * n) % (*counters, *row) + "\n")
    return "".join(out)


def test_early_yolov3_s_columns_take_their_total_as_the_loss():
    header = ("Epoch", "Batch", "x", "y", "w", "h", "conf", "cls", "total", "nTargets", "time")
    series = parse_log_text(_yolov3_2019(header, [(1.41, 1.33, 6.3, 8.07, 734, 17.5, 769, 121, 4.19)]))[0]
    assert series["loss"].values.tolist() == [769] and series["conf_loss"].values.tolist() == [734]
    assert "ntargets" not in {k.lower() for k in series} and "time_loss" not in series
    # the later header of the same script ('xy', 'wh' merged): the same reading
    header = ("Epoch", "Batch", "xy", "wh", "conf", "cls", "total", "nTargets", "time")
    rows = [(2.1, 3.2, 11.0, 4.1, 20.4, 98, 0.61), (2.0, 3.1, 9.0, 4.0, 18.1, 95, 0.6)]
    series = parse_log_text(_yolov3_2019(header, rows))[0]
    assert series["loss"].values.tolist() == [20.4, 18.1] and series["loss"].steps.tolist() == [0, 1]


def test_a_total_column_beside_one_term_or_none_makes_no_header():
    from forensics.readers.logmetrics import header_columns

    assert header_columns("   Epoch     total   images") is None  # a count, not a total of loss terms
    assert header_columns("   Epoch     box     total   images") is None  # one term: no total of terms
    # timings before a total (a profiler's per-epoch table): no loss terms, so no total of them
    assert header_columns("Epoch   data_time   batch_time   total") is None


# ---------------------------------------------------------------- a bare counter and its value


def _waveglow_lines(losses: list[float], first: int) -> str:
    """NVIDIA WaveGlow train.py (2018-2020): print("{}:\\t{:.9f}".format(iteration, reduced_loss)) every step,
    and nothing else per step (the same line in NVIDIA's nv-wavenet and the forks of both)."""
    return "".join("{}:\t{:.9f}\n".format(first + i, loss) for i, loss in enumerate(losses))  # noqa: UP032


def test_a_counter_a_colon_and_one_value_are_the_loss_even_on_one_line_before_a_crash():
    # the paste kept the last line before the traceback: that line is the last point trained
    crash = 'Traceback (most recent call last):\n  File "train.py", line 138, in train\nRuntimeError: x\n'
    series, _, _, last = parse_log_text(_waveglow_lines([float("nan")], 21129) + crash)
    assert series["loss"].steps.tolist() == [21129] and last == 21129
    series = parse_log_text(_waveglow_lines([-5.1, -5.3, -5.2, -5.6], 1))[0]
    assert series["loss"].values.tolist() == [-5.1, -5.3, -5.2, -5.6]
    assert parse_log_text(_waveglow_lines([-5.1, -5.3], 1))[0]["loss"].values.tolist() == [-5.1, -5.3]


def test_one_bare_keyed_line_alone_is_no_series():
    # not fire: one "12:<tab>0.87" with nothing after it may be anything's twelfth entry (a class's AP, an ID's
    # count); one line is no curve unless the job died right after it
    assert "loss" not in parse_log_text(_waveglow_lines([0.87], 12))[0]
    assert "loss" not in parse_log_text("Results per class\n12:\t0.87\nDone.\n")[0]


def test_a_lone_bare_pair_without_its_colon_or_beside_a_named_loss_is_not_read():
    # "3 0.5" alone: two numbers say nothing of which counts (three such lines make a curve, as before)
    assert "loss" not in parse_log_text("3 0.5\nsaving checkpoint\n")[0]
    # a log that names its loss elsewhere: the bare lines are not it
    series = parse_log_text("21129:\t0.5\nstep 10 loss 2.3\nstep 20 loss 2.1\n")[0]
    assert series["loss"].values.tolist() == [2.3, 2.1]


def test_the_waveglow_nan_line_and_its_traceback_are_a_divergence(tmp_path):
    text = _waveglow_lines([-5.1, -5.0, float("nan")], 21127) + (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 138, in train\n'
        "    loss.backward()\n"
        "RuntimeError: Function 'SubBackward0' returned nan values in its 0th output.\n"
    )
    (tmp_path / "train.log").write_text(text, encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True and report.first_nonfinite_step == 21129


# ---------------------------------------------------------------- a guard's skipped steps, counted


def _espnet2_warnings(skips: int, stopped_at: int | None) -> str:
    """ESPnet2 0.9.9 espnet2/train/trainer.py: logging.warning(f"The grad norm is {grad_norm}. Skipping updating
    the model.") for each step whose clipped gradient norm is not finite, and at the end of an epoch in which no
    step was updated, logging.warning(f"The gradients at all steps are invalid in this epoch. " f"Something seems
    wrong. This training was stopped at {iepoch}epoch"), then the run breaks out of its epoch loop."""
    out = "(trainer:582) WARNING: The grad norm is nan. Skipping updating the model.\n" * skips
    if stopped_at is not None:
        out += (
            "(trainer:404) WARNING: The gradients at all steps are invalid in this epoch. Something seems wrong. "
            f"This training was stopped at {stopped_at}epoch\n"
        )
    return out


def test_espnet2_s_stop_after_an_epoch_of_skipped_steps_is_a_divergence(tmp_path):
    _, events, *_ = parse_log_text(_espnet2_warnings(3, stopped_at=2))
    kinds = {e.kind: e for e in events}
    assert set(kinds) == {"nonfinite_step_skipped", "nan_loss"} and kinds["nan_loss"].values["epoch"] == 2
    (tmp_path / "train.log").write_text(_espnet2_warnings(3, stopped_at=2), encoding="utf-8")
    assert forensics.analyze(str(tmp_path)).diverged is True


def test_espnet2_s_skip_warnings_alone_are_a_working_guard(tmp_path):
    # nothing to count them against (no loss logged): the guard threw steps away and the run went on
    (tmp_path / "train.log").write_text(_espnet2_warnings(4, stopped_at=None), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is not True


def _loop_with_skips(points: list[tuple[int, float]], skips_after: int, then: list[tuple[int, float]]) -> str:
    """A training loop's own NaN check (print(f"[Epoch {epoch} Step {step}] NaN loss, skipping step") on every
    step it drops, print(f"[Epoch {epoch} Step {step}] loss={loss:.4f}") every few steps)."""
    out = [f"[Epoch 0 Step {s}] loss={v:.4f}\n" for s, v in points]
    last = points[-1][0]
    out += [f"[Epoch 0 Step {last + 1 + i}] NaN loss, skipping step\n" for i in range(skips_after)]
    out += [f"[Epoch 0 Step {s}] loss={v:.4f}\n" for s, v in then]
    return "".join(out)


def test_skips_that_last_until_the_log_ends_are_counted_against_the_steps_trained(tmp_path):
    curve = [(10 * i, 2.0 - 0.01 * i) for i in range(1, 11)]  # a loss every 10 steps, up to step 100
    # 30 steps dropped after step 100 and no finite loss since: three prints were due, none came
    _, events, *_ = parse_log_text(_loop_with_skips(curve, 30, []))
    stop = [e for e in events if e.kind == "nan_loss"]
    assert len(stop) == 1 and stop[0].step == 100 and stop[0].values["skips"] == 30
    (tmp_path / "train.log").write_text(_loop_with_skips(curve, 30, []), encoding="utf-8")
    assert forensics.analyze(str(tmp_path)).diverged is True


def test_isolated_skips_or_fewer_than_the_print_interval_stay_a_working_guard(tmp_path):
    curve = [(10 * i, 2.0 - 0.01 * i) for i in range(1, 11)]
    # three skips, then the loss is finite again: the guard did its work
    text = _loop_with_skips(curve, 3, [(110, 1.89), (120, 1.88)])
    assert not [e for e in parse_log_text(text)[1] if e.kind == "nan_loss"]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "train.log").write_text(text, encoding="utf-8")
    assert forensics.analyze(str(tmp_path / "a")).diverged is False
    # a loss every 50 steps and 20 skips at the end: the next print was not due yet, nothing is known
    sparse = [(50 * i, 2.0 - 0.01 * i) for i in range(1, 6)]
    assert not [e for e in parse_log_text(_loop_with_skips(sparse, 20, []))[1] if e.kind == "nan_loss"]
    # nine in a row after per-step prints: fewer than PERSISTENT_SKIPS, a paste's tail proves nothing
    dense = [(i, 2.0 - 0.01 * i) for i in range(1, 30)]
    assert not [e for e in parse_log_text(_loop_with_skips(dense, 9, []))[1] if e.kind == "nan_loss"]


def test_chainer_s_main_loss_is_the_loss_not_a_term_summed_with_its_parts():
    # chainer's PrintReport (extensions/print_report.py), as ESPnet 1 prints it: each entry left-aligned in
    # max(10, len(entry)) characters and two blanks; 'main/' names the main optimizer's observer, so
    # 'main/loss' is the loss the model trains on and 'main/loss_ctc', 'main/loss_att' are its terms
    entries = ["epoch", "iteration", "main/loss", "main/loss_ctc", "main/loss_att", "elapsed_time"]
    widths = [max(10, len(e)) for e in entries]
    header = "  ".join(f"{e:<{w}}" for e, w in zip(entries, widths, strict=True)) + "\n"
    rows = "".join(
        "".join(f"{v:<{w}g}  " for v, w in zip(row, widths, strict=True)) + "\n"
        for row in ([0, 100, 150.2, 200.1, 128.7, 60.5], [0, 200, 141.9, 190.3, 121.2, 121.0])
    )
    series = parse_log_text(header + rows)[0]
    assert series["loss"].steps.tolist() == [100, 200] and series["loss"].values.tolist() == [150.2, 141.9]


# ---------------------------------------------------------------- a project's own NaN stop


def _lightning_bar(epoch: int, n: int, total: int, loss: str) -> str:
    """PyTorch Lightning 0.x's training bar (tqdm: '{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}
    [{elapsed}<{remaining}, {rate_fmt}{postfix}]', desc 'Epoch {e}', postfix loss, v_num and the logged metrics),
    as scae-pytorch (mlberkeley, 2020) shows it."""
    pct = 100 * n / total
    return (
        f"Epoch {epoch}: {pct:3.0f}%|████▌     | {n}/{total} [00:20<00:24, 10.32it/s, loss={loss}, v_num=sbr8, "
        "rec_log_likelihood=-1.48e+3, temp_l1=0.251, rec_mse=0.00765]"
    )


# scae-pytorch scae/models/pcae.py training_step: "if torch.isnan(loss): raise ValueError('loss is nan')", as a
# traceback prints its last frame (a paste that kept only that frame, without the exception line)
_SCAE_FRAME = "  File \"scae/models/pcae.py\", line 100, in training_step\n    raise ValueError('loss is nan')\n"


def test_a_frame_that_raises_a_nan_stop_is_that_stop_when_the_paste_ends_on_it(tmp_path):
    bars = [_lightning_bar(26, n, 469, "0.512") for n in (214, 215)] + [_lightning_bar(26, 216, 469, "inf")]
    text = "\r".join(bars)
    _, events, *_ = parse_log_text(text + "\n" + _SCAE_FRAME)
    assert [(e.kind, e.message) for e in events] == [("nan_loss", "ValueError: loss is nan")]
    # with its header and exception line, the stop is one event, read from the exception line
    full = "Traceback (most recent call last):\n" + _SCAE_FRAME + "ValueError: loss is nan\n"
    _, events, *_ = parse_log_text(text + "\n" + full)
    assert [e.kind for e in events if e.kind != "exception"] == ["nan_loss"]
    (tmp_path / "train.log").write_text(text + "\n" + _SCAE_FRAME, encoding="utf-8")
    assert forensics.analyze(str(tmp_path)).diverged is True


def test_a_raise_that_is_no_frame_s_or_names_no_value_is_no_stop():
    # a source listing (no frame line before it), an f-string whose value the traceback does not show,
    # and a frame raising another error: no NaN stop
    assert not parse_log_text("step 1 loss 2.0\n    raise ValueError('loss is nan')\n")[1]
    frame = '  File "train.py", line 12, in step\n'
    events = parse_log_text(frame + "    raise ValueError(f'loss is {loss}')\n")[1]
    assert not [e for e in events if e.kind == "nan_loss"]
    events = parse_log_text(frame + "    raise ValueError('batch size must be positive')\n")[1]
    assert not [e for e in events if e.kind == "nan_loss"]


# ---------------------------------------------------------------- counters glued before their name


def _espnet2_interval(epoch: int, start: int, end: int, loss: float) -> str:
    """ESPnet2 espnet2/train/reporter.py log_message (0.9 to 202x), through trainer.py's logging.info: the
    interval's means after f"{epoch}epoch:{key}:{start}-{end}batch: ", each f"{key}={value:.3f}" (or .3e)."""
    stats = {"iter_time": 1.512e-04, "forward_time": 0.142, "loss_ctc": loss * 1.1, "loss_att": loss * 0.95}
    stats |= {"acc": 0.314, "loss": loss, "backward_time": 0.254, "grad_norm": 43.966, "optim0_lr0": 4.004e-04}
    body = ", ".join(f"{k}={v:.3e}" if v < 1e-3 else f"{k}={v:.3f}" for k, v in stats.items())
    return f"[gpu01] 2023-03-01 10:00:00,000 (trainer:737) INFO: {epoch}epoch:train:{start}-{end}batch: {body}\n"


def test_espnet2_s_interval_lines_are_placed_at_the_last_batch_they_cover_epoch_after_epoch():
    text = "".join(_espnet2_interval(1, 1 + 1000 * i, 1000 * (i + 1), 250.0 - 50 * i) for i in range(3))
    text += "".join(_espnet2_interval(2, 1 + 1000 * i, 1000 * (i + 1), 100.0 - 10 * i) for i in range(2))
    loss = parse_log_text(text)[0]["loss"]
    # the batch counter restarts each epoch: epoch 2 comes after the 3000 batches of epoch 1
    assert loss.steps.tolist() == [1000, 2000, 3000, 4000, 5000]


def test_a_plural_or_a_word_that_only_ends_in_a_counter_s_name_is_no_glued_counter():
    from forensics.readers.logmetrics import scan_line

    for line in ("trained 3epochs, 100steps: loss=0.5", "mp3step loss=0.5", "resnet50 loss=0.5 2xbatch"):
        lm = scan_line(line)
        assert lm.epoch is None and lm.counters == [], line


def test_skips_after_a_restart_are_not_counted_against_the_interval_of_the_run_before(tmp_path):
    # a file that holds a run up to step 100, then a restart from step 10 whose guard drops 30 steps: the
    # print interval of the restarted run is unknown (one point of it), so nothing counts the skips against it
    curve = [(10 * i, 2.0 - 0.01 * i) for i in range(1, 11)]
    text = _loop_with_skips(curve, 0, []) + _loop_with_skips([(10, 2.1)], 30, [])
    assert not [e for e in parse_log_text(text)[1] if e.kind == "nan_loss"]
    # two points of the restarted run set its interval again: 30 skips past it are a stop, at its own interval
    text = _loop_with_skips(curve, 0, []) + _loop_with_skips([(10, 2.1), (20, 2.0)], 30, [])
    (stop,) = [e for e in parse_log_text(text)[1] if e.kind == "nan_loss"]
    assert stop.values["interval"] == 10 and stop.values["skips"] == 30
