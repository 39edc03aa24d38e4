"""Issue #11, eighteenth round: mechanisms behind heldout23's misses (docs/logs.md), on lines built from the writers'
own format strings (named in a comment), each with look-alikes that must read as before.
"""

import math

from forensics.readers.logmetrics import metric_name, scan_line
from forensics.readers.logs import parse_log_text
from tests.test_log_shapes_round16 import _analyze, _points

# ---------------------------------------------------------------- a stage in brackets heads the pairs after it


def _espnet2_results(epoch, train, valid):
    """ESPnet2's reporter (espnet2/train/reporter.py log_message, FunASR's copy too): f"{epoch}epoch results: " then
    ", ".join(f"[{key}] {stats}") per phase, each phase's stats "k=v, ..." (trainer.py logging.info)."""
    phases = [("train", train), ("valid", valid)]
    body = ", ".join(f"[{key}] " + ", ".join(f"{k}={v}" for k, v in stats.items()) for key, stats in phases)
    return f"2023-08-16 17:38:19,309 (trainer:334) INFO: {epoch}epoch results: {body}"


def test_each_phase_s_stats_after_its_bracketed_name_are_that_phase_s():
    line = _espnet2_results(
        1,
        {"iter_time": 6.271, "loss_att": 0.572, "acc": 0.875, "loss": 0.572, "optim0_lr0": 3.333e-09},
        {"loss_att": 0.008, "pre_loss_att": "nan", "acc": 1.0, "loss": 0.008},
    )
    pairs = dict(scan_line(line.split("INFO: ", 1)[1]).pairs)
    assert pairs["loss"] == 0.572 and pairs["loss_att"] == 0.572
    assert pairs["val_loss"] == 0.008 and pairs["val_loss_att"] == 0.008 and math.isnan(pairs["val_pre_loss_att"])


def test_an_evaluation_s_nan_stat_leaves_a_finite_training_loss_healthy(tmp_path):
    text = "\n".join(
        _espnet2_results(e, {"loss": 0.6 - 0.05 * e, "acc": 0.8}, {"loss": 0.5, "pre_loss_att": "nan"})
        for e in range(1, 5)
    )
    rep, _ = _analyze(tmp_path, "log.txt", text + "\n")
    assert not rep.diverged and rep.timeline.loss.tag.startswith("loss")


def test_a_stage_group_runs_to_the_next_stage():
    assert scan_line("[test] acc=0.91, [train] loss=0.30").pairs == [("test_accuracy", 0.91), ("loss", 0.3)]
    pairs = scan_line("Epoch 3: [valid] loss=nan [train] loss=0.5").pairs
    assert pairs[0][0] == "val_loss" and math.isnan(pairs[0][1]) and pairs[1] == ("loss", 0.5)
    # fields set apart by '|' stay in their group, whatever their order (a loguru prefix before the bracket too)
    for line in ("[val] Epoch 3 | lr 0.1 | loss nan", "2024 | INFO | fit:50 - [val] epoch 3 | lr 0.001 | loss nan"):
        assert scan_line(line).eval_context, line
    pairs = scan_line("Epoch 3 [train] loss nan | valid: acc 0.9").pairs
    assert pairs[0][0] == "loss" and math.isnan(pairs[0][1]) and pairs[1] == ("val_accuracy", 0.9)


def test_a_stage_s_counters_before_a_field_separator_leave_its_group_going_on(tmp_path):
    lines = []
    for e in range(1, 7):
        lines += [f"[train] Epoch {e} | loss {1 / e:.3f}", f"[val] Epoch {e} | loss {'nan' if e >= 3 else 0.9}"]
    rep, _ = _analyze(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert not rep.diverged
    assert scan_line("2024-01-01 | INFO | [val] epoch 3 | loss nan").eval_context


def test_what_a_group_s_line_says_of_its_objective_holds(tmp_path):
    # a print loop naming its objective 'Error' under a training bracket: the error is the loss, as on a bare line
    text = "".join(f"[train] Epoch: {e}, Error: {1 / e:.3f}\n" for e in range(1, 5)) + "[train] Epoch: 5, Error: nan\n"
    rep, _ = _analyze(tmp_path, "train.log", text)
    assert rep.diverged
    # beside an evaluation's accuracy, an 'Error' is no objective (it may be the accuracy's complement)
    assert not scan_line("Epoch: 3, Error: nan [val] acc 0.9").error_is_loss


def test_a_bracketed_name_that_is_no_stage_still_names_the_value_after_it():
    assert scan_line("[Loss] nan").pairs[0][0] == "loss"
    assert scan_line("Epoch 3 [train] loss=0.572 [valid] loss=0.008").pairs == [("loss", 0.572), ("val_loss", 0.008)]


def test_a_stage_word_before_a_name_of_no_alias_stages_it():
    assert metric_name(("valid", "loss_att")) == "val_loss_att"
    assert metric_name(("test", "cer")) == "test_cer"
    assert metric_name(("loss_att",)) == "loss_att"
    assert metric_name(("train", "loss_att")) == "loss_att"


# ---------------------------------------------------------------- improved-diffusion's key/value box


def _dumpkvs(kvs):
    """improved-diffusion / guided-diffusion logger.py HumanOutputFormat.writekvs: a border of dashes, one
    '| key | value |' row per key (keys sorted; every value with __float__, ints too, as '%-8.3g'), the border again."""
    rows = [(k, f"{float(v):<8.3g}") for k, v in sorted(kvs.items())]
    kw = max(len(k) for k, _ in rows)
    vw = max(len(v) for _, v in rows)
    border = "-" * (kw + vw + 7)
    return [border, *(f"| {k:<{kw}} | {v:<{vw}} |" for k, v in rows), border]


def _diffusion_log(records):
    lines = []
    for step, loss, lg in records:
        lines += _dumpkvs({"step": step, "samples": 2 * step + 2, "loss": loss, "mse": 0.9, "lg_loss_scale": lg})
    return "\n".join(lines) + "\n"


def test_each_box_is_a_record_of_its_own_whatever_its_rounded_step_prints():
    # '%-8.3g' prints steps 10000 to 10040 all as '1e+04': a box is placed by its order, each record a point
    series, *_ = parse_log_text(_diffusion_log([(s, 0.5 - s / 1e5, 19.0) for s in range(9800, 10700, 10)]))
    assert len(series["loss"]) == 90


def test_a_box_whose_opening_border_the_paste_cut_is_read(tmp_path):
    text = "\n".join(_dumpkvs({"step": 200, "loss": 5.99e4, "mse": 0.914, "lg_loss_scale": -0.821})[1:]) + "\n"
    series, *_ = parse_log_text(text)
    assert [v for _, v in _points(series, "loss")] == [5.99e4]
    rep, _ = _analyze(tmp_path, "log.txt", text)
    # a scale under 1 on a mean loss whose scale starts at 2**20: overflow after overflow
    assert rep.diverged and rep.verdict.detail == "fp16_overflow"
    # a floor read from the scale is no message the job died of
    assert rep.to_dict()["ended"] != "crashed"


def test_a_markdown_table_opening_the_file_opens_no_box():
    series, *_ = parse_log_text("| step | loss |\n|---|---|\n| 1 | 0.5 |\n| 2 | 0.4 |\n")
    assert [v for _, v in _points(series, "loss")] == [0.5, 0.4]


def test_a_healthy_log2_loss_scale_is_no_floor(tmp_path):
    rep, _ = _analyze(
        tmp_path, "log.txt", _diffusion_log([(s, 0.5 - s / 1e4, 18.0 + s / 1e3) for s in range(0, 900, 100)])
    )
    assert not rep.diverged
    series, *_ = parse_log_text(_diffusion_log([(0, 0.5, 18.0), (100, 0.4, 18.1)]))
    assert [round(v) for _, v in _points(series, "loss_scale")] == [2**18, round(2**18.1)]


def test_improved_diffusion_s_overflow_notes_below_a_scale_of_1_are_its_floor(tmp_path):
    # train_util.py optimize_fp16: logger.log(f"Found NaN, decreased lg_loss_scale to {self.lg_loss_scale}")
    lines = [f"step {i} loss {0.5 - i * 0.001:.3f}" for i in range(1, 20)]
    lines += ["Found NaN, decreased lg_loss_scale to 0.5", "Found NaN, decreased lg_loss_scale to -0.5"]
    rep, _ = _analyze(tmp_path, "log.txt", "\n".join(lines) + "\n")
    assert rep.diverged and rep.verdict.detail == "fp16_overflow"
    # one overflow high above the floor is a scaler doing its work
    one = [*lines[:19], "Found NaN, decreased lg_loss_scale to 19.0", "step 20 loss 0.48"]
    rep, _ = _analyze(tmp_path / "one", "log.txt", "\n".join(one) + "\n")
    assert not rep.diverged


# ---------------------------------------------------------------- DeepSpeed's attempted scale


def test_the_scale_deepspeed_attempted_is_not_the_scale_it_set():
    # deepspeed/runtime/fp16/loss_scaler.py: "[deepspeed] OVERFLOW! Rank {rank} Skipping step. Attempted loss scale:
    # {prev_scale}, reducing to {self.cur_scale}"
    line = "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768"
    assert not [t for t, _ in scan_line(line).pairs if t == "loss_scale"]
    assert scan_line("loss scale: 4, tried lr: 0.1").pairs == [("loss_scale", 4.0)]
    assert scan_line("Attempted to log loss: 0.52").pairs == [("loss", 0.52)]


def test_a_scale_reduced_to_0_is_a_floor_it_cannot_grow_back_from(tmp_path):
    rep, _ = _analyze(
        tmp_path, "train.log", "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 0\n"
    )
    assert rep.diverged and "cannot grow back" in rep.verdict.summary
    # one overflow from a working scale: a skipped step, the run goes on
    healthy = "".join(f"step {i} loss {2 - i / 100:.2f}\n" for i in range(1, 30))
    healthy += "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768\n"
    healthy += "".join(f"step {i} loss {2 - i / 100:.2f}\n" for i in range(30, 40))
    rep, _ = _analyze(tmp_path / "h", "train.log", healthy)
    assert not rep.diverged


# ---------------------------------------------------------------- a paste that numbered its lines


def _ultralytics_epoch(epoch, total, losses, gpu="17G"):
    """ultralytics engine/trainer.py: the header ('%11s' * (4 + n)) % ('Epoch', 'GPU_mem', *loss_names, 'Instances',
    'Size'), then the bar's description ('%11s' * 2 + '%11.4g' * (2 + n)) % (f'{epoch}/{total}', mem, *losses, ...)."""
    head = ("%11s" * 7) % ("Epoch", "GPU_mem", "box_loss", "cls_loss", "dfl_loss", "Instances", "Size")
    row = ("%11s" * 2 + "%11.4g" * 5) % (f"{epoch}/{total}", gpu, *losses, 2, 640)
    return [head, row + ": 100%|██████████| 278/278 [02:11<00:00,  2.11it/s]", ""]


def _numbered(lines, first):
    return "\n".join(f"{first + i:>4} {line}" for i, line in enumerate(lines)) + "\n"


def test_a_paste_that_numbered_its_lines_is_read_without_the_numbers(tmp_path):
    nan = float("nan")
    lines = []
    for e, losses in [(89, (1.76, 1.02, 0.96)), (90, (1.75, 1.01, 0.96)), (91, (nan,) * 3), (92, (nan,) * 3)]:
        lines += _ultralytics_epoch(e, 300, losses)
    rep, _ = _analyze(tmp_path, "output.txt", _numbered(lines, 510))
    assert rep.diverged
    # the same lines without the numbers read the same
    plain, _ = _analyze(tmp_path / "plain", "output.txt", "\n".join(lines) + "\n")
    assert rep.first_nonfinite_step == plain.first_nonfinite_step


def test_a_numbered_paste_is_taken_for_a_log_by_its_content(tmp_path):
    from forensics.readers.logs import looks_like_log

    lines = []
    for e in range(80, 92):
        lines += _ultralytics_epoch(e, 300, (1.7, 1.0, 0.9))
    path = tmp_path / "pasted.txt"
    path.write_text(_numbered(lines, 510), encoding="utf-8")
    assert looks_like_log(path)
    path.write_text(_numbered(lines, 510), encoding="utf-8-sig")  # saved by an editor that writes a BOM
    assert looks_like_log(path)


def test_numbers_leading_a_table_s_rows_or_a_loop_s_lines_stay_theirs():
    # an epoch table resumed at its third epoch: the leading number is the epoch, each line one more, no line blank
    table = "epoch train_loss valid_loss\n" + "".join(f"{e} {1 / e:.4f} {0.9 / e:.4f}\n" for e in range(3, 12))
    series, *_ = parse_log_text(table)
    assert [s for s, _ in _points(series, "loss")][:3] == [3, 4, 5]
    # a loop printing its step first: no blank line between, so no line numbers
    loop, *_ = parse_log_text("".join(f"{i} loss: {1 / i:.3f}\n" for i in range(1, 12)))
    assert _points(loop, "loss")[0][0] == 1 and _points(loop, "loss")[-1][0] == 11


# ---------------------------------------------------------------- a bar the terminal cut


def test_a_row_whose_bar_the_terminal_cut_is_read_by_its_cells():
    lines = []
    for e, losses in [(13, (1.822, 21.96, 0.5235)), (14, (4.284, 10.96, 1.131)), (15, (6.077, 7.64, 1.456))]:
        head, row, blank = _ultralytics_epoch(e, 30, losses, gpu="13.1G")
        lines += [head, row[: row.index("%|") + 3], blank]  # cut two characters into the bar
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [round(v, 3) for _, v in _points(series, "box_loss")] == [1.822, 4.284, 6.077]


def test_a_percent_and_a_pipe_before_a_value_are_no_cut_bar():
    text = "".join(f"Epoch {e} | Train Acc: 9{e}%| Loss: {1 / e:.3f}\n" for e in range(1, 6))
    text += "Epoch 6 | Train Acc: 95%| Loss: nan\n"
    series, *_ = parse_log_text(text)
    assert math.isnan(_points(series, "loss")[-1][1]) and len(series["loss"]) == 6


def test_an_ascii_bar_cut_early_is_a_cut_bar_too():
    lines = []
    for e in (1, 2, 3):
        head, row, _ = _ultralytics_epoch(e, 30, (1 / e, 2.0, 0.5))
        lines += [head, row[: row.index(":") + 1] + "   3%|3"]  # tqdm(ascii=True) at 3 %, cut there
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert len(series["box_loss"]) == 3


def test_a_percent_closing_a_table_s_cell_is_no_cut_bar():
    text = "| epoch | loss | acc |\n|---|---|---|\n" + "".join(f"| {e} | {1 / e:.3f} | 9{e}%|\n" for e in range(1, 5))
    text += "| 5 | nan | 95%|\n"
    series, *_ = parse_log_text(text)
    assert math.isnan(_points(series, "loss")[-1][1])


def test_a_whole_bar_is_still_read_as_a_bar():
    head, row, _ = _ultralytics_epoch(13, 30, (1.822, 21.96, 0.5235))
    series, *_ = parse_log_text(f"{head}\n{row}\n")
    assert [s for s, _ in _points(series, "box_loss")] == [13 * 278 - 278 + 278]


# ---------------------------------------------------------------- a value set in bold


def test_a_value_set_in_bold_in_a_pasted_dict_is_read():
    text = "{'loss': **4.7581**, 'grad_norm': 3.06, 'learning_rate': 9.9e-05, 'epoch': 0.1}\n"
    series, *_ = parse_log_text(text)
    assert _points(series, "loss")[0][1] == 4.7581


def test_a_power_in_a_source_line_is_no_bold_value():
    series, *_ = parse_log_text("    loss = (pred - y)**2**0.5\nstep 1 loss 0.5\n")
    assert [v for _, v in _points(series, "loss")] == [0.5]


# ---------------------------------------------------------------- a NaN gradient after a normal one


def test_a_nan_gradient_norm_after_a_normal_one_is_no_gradient_abnormal_from_initialisation(tmp_path):
    # NeMo Automodel's 'step {n} | loss {x:.4f} | grad_norm {g:8.4f}' lines, pasted from step 10
    text = "step 10 | loss 2.6030 | grad_norm  9.9375\nstep 11 | loss 2.3224 | grad_norm     nan\n"
    text += "step 12 | loss    nan | grad_norm     nan\n"
    rep, fired = _analyze(tmp_path, "log.txt", text)
    assert rep.diverged and "EXP006" not in fired


def test_an_inf_gradient_norm_after_a_normal_one_is_a_size_and_counts(tmp_path):
    text = "step 1 | loss 2.6030 | grad_norm 5.1\nstep 2 | loss 2.5224 | grad_norm inf\n"
    text += "step 3 | loss    nan | grad_norm     nan\n"
    _, fired = _analyze(tmp_path, "log.txt", text)
    assert "EXP006" in fired


def test_a_huge_first_gradient_norm_is_still_one(tmp_path):
    text = "step 1 | loss 2.6030 | grad_norm 3.1e+05\nstep 2 | loss 9.3224 | grad_norm 8.2e+07\n"
    text += "step 3 | loss    nan | grad_norm     nan\n"
    _, fired = _analyze(tmp_path, "log.txt", text)
    assert "EXP006" in fired


def test_a_floor_of_the_loss_scale_after_a_finite_loss_is_an_fp16_overflow_not_a_division(tmp_path):
    # DeepSpeed's scaler could not lower its scale twice (a floor), the loss finite and unsaturated before it: no NaN
    # was logged, so NUM008's reading of a NaN at an unsaturated loss does not apply; the floor names the overflow
    lines = [f"step {i} loss {0.5 - i * 0.001:.3f}" for i in range(1, 20)]
    lines += ["[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1, reducing to 1"] * 2
    rep, _ = _analyze(tmp_path, "train.log", "\n".join(lines) + "\n")
    assert rep.diverged and rep.verdict.detail == "fp16_overflow"
    assert "NUM008" not in {e.rule for c in rep.candidates for e in c.evidence}
    # a NaN logged at an unsaturated loss is still NUM008's
    nan = [*lines[:19], "step 20 loss nan", "step 21 loss nan"]
    rep, _ = _analyze(tmp_path / "nan", "train.log", "\n".join(nan) + "\n")
    assert "NUM008" in {e.rule for c in rep.candidates for e in c.evidence}
