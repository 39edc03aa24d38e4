"""Shapes the heldout6 real logs showed the tool could not read (docs/logs.md), after that split was
measured once blind, and the reader's earlier leftovers: each on lines written here from the format that
prints them (named beside; the pasted logs stay outside the repository), with a look-alike that must not move.
"""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pytest
from tqdm import tqdm

import forensics
from forensics.readers.logs import parse_log_text


def _tqdm_bar(n: int, total: int, postfix: str) -> str:
    """tqdm 4's default bar_format, '{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining},
    {rate_fmt}{postfix}]' with l_bar '{desc}: {percentage:3.0f}%|', as a diffusers/accelerate training
    script's ``progress_bar.set_postfix(**logs)`` leaves it, redrawn without a newline."""
    pct = round(100 * n / total)
    return f"Steps: {pct:3d}%|▏         | {n}/{total} [31:29<30:59:03,  1.38s/it, {postfix}]"


SKIP = "Warning: loss is NaN, skipping this step"  # a training script's own guard, printed per skipped step


def _skipping_run(losses: list[str]) -> str:
    lines = []
    for i, loss in enumerate(losses):
        # the script prints its guard right after tqdm redrew the bar, so the first warning shares its line
        lines.append(_tqdm_bar(1290 + i, 82400, f"loss={loss}, lr=1e-5") + SKIP)
        lines += [SKIP] * 4
    return "\n".join(lines) + "\n"


def test_a_bar_redrawn_before_a_guards_print_on_the_same_line_is_still_read():
    series, events, *_ = parse_log_text(_skipping_run(["nan"] * 12), "train.log")
    assert "loss" in series and len(series["loss"].values) == 12
    assert series["loss"].steps[0] == 1290
    assert {e.kind for e in events} == {"nonfinite_step_skipped"}


def test_a_guard_that_skips_until_the_log_ends_with_its_bar_showing_nan_is_a_divergence(tmp_path):
    (tmp_path / "train.log").write_text(_skipping_run(["0.0812", "0.0795"] + ["nan"] * 12), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True


def test_the_guards_print_alone_still_gives_no_logged_point():
    # look-alike: the guard's words on a line of their own are not a loss value
    series, events, *_ = parse_log_text(SKIP + "\n" + "Model diverged with loss = NaN.\n", "train.log")
    assert "loss" not in series
    assert events


# ---------------------------------------------------------------- losses heldout6 showed unread
# Each shape below is read by the general mechanism (a key's words, its stage, its value's wrapper),
# not by a pattern for the toolkit; each comes with lines that must not give a loss.


def _lua_chains_epoch(epoch: int, avg: str) -> str:
    """ChainsofReasoning (Lua Torch 7, model/optimizer/MyOptimizer.lua, 2017): its epoch summary,
    string.format('\\nIter: %d\\navg loss in epoch = %f\\ntotal elapsed = %f\\ntime per batch = %f', ...)
    then 'examples/sec = %f' (Lua's %f prints a NaN as 'nan', a division by a zero time as 'inf')."""
    return (
        f"\nIter: {epoch}\navg loss in epoch = {avg}\ntotal elapsed = 0.885171\ntime per batch = inf\n"
        "examples/sec = 0.000000\n"
    )


def test_a_phrase_for_the_loss_with_its_counter_named_but_not_numbered_is_the_loss():
    text = _lua_chains_epoch(1, "0.693147") + _lua_chains_epoch(2, "nan")
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values[:1]) == [0.693147] and len(series["loss"].values) == 2
    assert series["loss"].values[1] != series["loss"].values[1]  # the NaN
    # not fire: the time per batch (inf), the elapsed time and the rate are no loss
    assert set(series) == {"loss"}


def test_a_loss_named_in_words_around_its_counter():
    series, *_ = parse_log_text("loss of epoch 3 is 0.52\nloss of epoch 4 is 0.48\n", "train.log")
    assert list(series["loss"].values) == [0.52, 0.48]
    # not fire: a count phrased the same way is no metric, and names no loss
    series, *_ = parse_log_text("number of batches in epoch = 120\nnumber of batches in epoch = 121\n", "t.log")
    assert "loss" not in series


def _litgpt_line(iter_num: int, step: int, loss: float, val: str) -> str:
    """LitGPT 0.4 finetune (litgpt/finetune/lora.py fit()): fabric.print(f"Epoch {epoch + 1} | iter {iter}
    step {step} |" f" loss train: {loss:.3f}," f" val: {val_loss} |" f" iter time: {ms:.2f} ms"), where
    val_loss is 'n/a' until the first evaluation and then f"{val_loss:.3f}"."""
    return f"Epoch 1 | iter {iter_num} step {step} | loss train: {loss:.3f}, val: {val} | iter time: 45.73 ms\n"


def test_the_stage_named_after_the_key_is_read_and_the_bare_stage_after_it_too():
    text = "".join(_litgpt_line(i, i // 4, 3.7 - i / 100, "n/a") for i in range(1, 9))
    text += _litgpt_line(9, 2, 3.6, "3.812")
    series, *_ = parse_log_text(text, "train.log")
    assert len(series["loss"].values) == 9 and series["loss"].values[0] == 3.69
    assert list(series["val_loss"].values) == [3.812]
    # not fire: the iteration's time in ms and the counters are no metric
    assert set(series) == {"loss", "val_loss"}


def test_tensorboard_style_keys_with_the_stage_after_the_metric():
    series, *_ = parse_log_text("step 1 loss/train 0.9 loss/val 1.1\nstep 2 loss/train 0.8 loss/val 1.0\n", "t.log")
    assert list(series["loss"].values) == [0.9, 0.8] and list(series["val_loss"].values) == [1.1, 1.0]
    # not fire: a time per stage is no loss
    series, *_ = parse_log_text("step 1 time/train 0.9\nstep 2 time/train 0.8\n", "t.log")
    assert "loss" not in series


def test_a_printed_dict_of_torch_tensors_gives_the_sum_of_its_loss_terms():
    torch = pytest.importorskip("torch")
    w = torch.ones(1, requires_grad=True)
    # detectron2's guard (engine/train_loop.py _detect_anomaly) prints the loss dict as Python does:
    # "loss_dict = {}".format(loss_dict), each value a tensor with its device and grad_fn
    loss_dict = {"loss_cls": (w * float("nan")).sum() / 2, "loss_box_reg": (w * 1310.0702).sum() / 2}
    line = f"loss_dict = {loss_dict}\n"
    assert "tensor(nan" in line and "grad_fn=<DivBackward0>" in line
    series, *_ = parse_log_text(line, "train.log")
    assert math.isnan(series["loss"].values[-1])
    assert series["loss_box_reg"].values[-1] == pytest.approx(655.0351)
    # not fire: a dict of tensors that are counts and times holds no loss
    counts = {"num_fg": torch.tensor(12), "data_time": torch.tensor(0.51)}
    series, *_ = parse_log_text(f"stats = {counts}\nstats = {counts}\n", "train.log")
    assert "loss" not in series


def test_a_dict_of_numpy_0d_arrays_is_read_by_value():
    values = {"loss": np.array(0.52, dtype=np.float32), "accuracy": np.array(0.91, dtype=np.float32)}
    line = f"step 10 {values}\n"
    assert "array(0.52, dtype=float32)" in line  # numpy's own repr
    series, *_ = parse_log_text(line + line.replace("step 10", "step 20"), "train.log")
    assert list(series["loss"].values) == [pytest.approx(0.52)] * 2
    assert list(series["accuracy"].values) == [pytest.approx(0.91)] * 2
    # not fire: a shape printed after the word ("print('loss array', losses.shape)") is no repr of a value
    series, *_ = parse_log_text("loss array (32,)\nloss array (64,)\nlogits tensor (8, 3)\n", "train.log")
    assert "loss" not in series


def test_a_tensorflow_2_eager_tensor_printed_is_read_by_value():
    # a TF2 custom loop's print("step", step, "loss", loss): Python prints the EagerTensor's repr
    tf = pytest.importorskip("tensorflow")
    tf.random.set_seed(0)
    x = tf.random.normal((32, 4))
    y = tf.reduce_sum(x, axis=1, keepdims=True)
    layer = tf.keras.layers.Dense(1)
    opt = tf.keras.optimizers.SGD(0.05)
    lines = []
    for step in range(6):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables, strict=True))
        lines.append(" ".join(str(v) for v in ("step", step, "loss", loss)))
    lines.append(" ".join(str(v) for v in ("step", 6, "loss", loss * float("nan"))))
    assert lines[0].startswith("step 0 loss tf.Tensor(") and "shape=(), dtype=float32)" in lines[0]
    series, *_ = parse_log_text("\n".join(lines) + "\n", "train.log")
    got = series["loss"].values
    assert len(got) == 7 and math.isnan(got[-1]) and got[0] > got[5] > 0
    assert list(series["loss"].steps) == list(range(7))


def _cpm_record(step: int, stage_losses: list[str], total: str) -> str:
    """FashionAI keypoint CPM trainer (TF1 print loop): 'Step: {}/{} ----- Cur_lr: {:1.7f} ----- Time: {:.2f}
    sec.', then one 'S{i} loss: {:>7.2f}' per stage joined by ' | ' with '| Total loss: {:>7.2f}', then
    'Total loss : {}.' under it."""
    stages = " | ".join(f"S{i + 1} loss: {v:>7}" for i, v in enumerate(stage_losses))
    return (
        f"Step: {step}/800000 ----- Cur_lr: 0.4000000 ----- Time: 0.82 sec.\n"
        f"{stages} | Total loss: {total:>7}\nTotal loss : {total}.\n"
    )


def test_a_total_loss_beside_per_stage_loss_terms_is_the_loss_of_the_record_opened_by_its_counter():
    text = _cpm_record(681, ["3.10", "2.90", "2.80"], "8.80") + _cpm_record(682, ["nan", "nan", "25.47"], "nan")
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].steps) == [681, 682] and series["loss"].values[0] == 8.8
    assert math.isnan(series["loss"].values[1])
    assert list(series["s1_loss"].values[:1]) == [3.1]  # the stages are terms, not the loss
    # not fire: a stage's loss alone on a line is no second loss series, and a line far below the
    # record is not placed on its step
    text = _cpm_record(681, ["3.10"], "3.10") + "\n\n\n\nS1 loss: 9.99\n"
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [3.1]


def test_a_gans_two_players_named_by_a_letter_before_loss():
    # PyTorch-GAN's implementations print "[Epoch %d/%d] [Batch %d/%d] [D loss: %f] [G loss: %f]"
    text = "".join(f"[Epoch 0/200] [Batch {b}/938] [D loss: 0.69{b}] [G loss: 0.71{b}]\n" for b in range(3))
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [0.710, 0.711, 0.712]  # the generator's, not the discriminator's
    assert "d_loss" in series
    # not fire: a word that says which reading of the one loss it is names no term
    series, *_ = parse_log_text("step 1 avg loss 0.52 cur loss 0.40\nstep 2 avg loss 0.50 cur loss 0.38\n", "t.log")
    assert set(series) == {"loss"}


def _fastai1_table(rows: list[tuple[int, str, str, str]]) -> str:
    """fastai 1.0 (fastai/basic_train.py Recorder.on_train_begin, 2018): self.names = ['epoch', 'train loss',
    'valid loss'] + metric names, written as '  '.join(self.names); each epoch a row of the values. A paste
    often collapses the double blanks."""
    lines = ["epoch  train loss  valid loss  accuracy_thresh"]
    lines += [f"{e}  {t}  {v}  {a}" for e, t, v, a in rows]
    return "\n".join(lines) + "\n"


def test_two_word_column_names_of_a_table_header():
    for text in (_fastai1_table([(0, "0.350", "0.300", "0.91"), (1, "nan", "nan", "0.99")]),):
        for collapsed in (text, text.replace("  ", " ")):
            series, *_ = parse_log_text(collapsed, "train.log")
            assert list(series["loss"].values[:1]) == [0.35] and math.isnan(series["loss"].values[1])
            assert list(series["val_loss"].values[:1]) == [0.3]
            assert list(series["accuracy_thresh"].values) == [0.91, 0.99]  # not fire: a metric is no loss


def _tqdm_with_desc(desc: str, n: int, total: int, postfix: str = "") -> str:
    out = io.StringIO()
    bar = tqdm(total=total, file=out, mininterval=0, miniters=1, ascii=False, ncols=120)
    bar.set_description(desc, refresh=False)
    if postfix:
        bar.set_postfix_str(postfix, refresh=False)
    bar.update(n)
    bar.close()
    return out.getvalue()


def test_a_description_that_prints_the_metrics_is_read_as_the_bar_shows_them():
    # res-loglikelihood-regression (rlepose/trainer.py): train_loader.set_description('loss: {loss:.8f} |
    # acc: {acc:.4f}'.format(...)) on the tqdm bar over the training loader
    text = _tqdm_with_desc("loss: -8.48068483 | acc: 0.2207", 417, 586)
    series, *_ = parse_log_text(text + "\n", "train.log")
    assert series["loss"].values[-1] == -8.48068483 and series["accuracy"].values[-1] == 0.2207
    # not fire: a description of words only moves no series
    series, *_ = parse_log_text(_tqdm_with_desc("Training", 417, 586) + "\n", "train.log")
    assert not series


def test_a_bar_described_with_a_hash_is_the_training_bar():
    # neuralhydrology (training/basetrainer.py): pbar.set_description(f'# Epoch {epoch}') and
    # pbar.set_postfix_str(f"Loss: {loss.item():.4f}")
    text = _tqdm_with_desc("# Epoch 2", 10815, 15299, "Loss: 1.4837")
    series, *_ = parse_log_text(text + "\n", "train.log")
    assert series["loss"].values[-1] == 1.4837


# YOLOv7 train_aux.py (2022): print(('\n' + '%10s' * 8) % ('Epoch', 'gpu_mem', 'box', 'obj', 'cls', 'total',
# 'labels', 'img_size')), then the tqdm bar's description s = ('%10s' * 2 + '%10.4g' * 6) % (f'{epoch}/{epochs - 1}',
# mem, *mloss, targets.shape[0], imgs.shape[-1]); DDP's C++ logger prints "Reducer buckets have been rebuilt in
# this iteration." into the same terminal, right after the first bar redraw
_YOLO_HEADER = ("%10s" * 8) % ("Epoch", "gpu_mem", "box", "obj", "cls", "total", "labels", "img_size")


def _yolo_row(mem: str, box: str, obj: str, cls: str, total: str, n: int) -> str:
    desc = ("%10s" * 8) % ("0/299", mem, box, obj, cls, total, "540", "768")
    return f"{desc}:   0%|▎         | {n}/234 [00:04<18:28,  4.76s/it]"


def test_another_writers_message_inside_a_table_does_not_end_it():
    # WongKinYiu/yolov7#251 (heldout6): the message glued to the first row, then the row whose terms are NaN
    text = "\n".join(
        [
            _YOLO_HEADER,
            _yolo_row("18.5G", "0.1126", "2.552", "0.4747", "3.139", 1) + "Reducer buckets have been rebuilt in this "
            "iteration.",
            _yolo_row("18.7G", "nan", "2.028", "nan", "nan", 15),
        ]
    )
    series, *_ = parse_log_text(text + "\n")
    assert list(series["loss"].steps) == [1, 15] and str(series["loss"].values[-1]) == "nan"
    # the same message on a line of its own
    text = "\n".join([_YOLO_HEADER, _yolo_row("18.5G", "0.1126", "2.552", "0.4747", "3.139", 1),
                      "Reducer buckets have been rebuilt in this iteration.",
                      _yolo_row("18.7G", "0.1130", "2.501", "0.4702", "3.084", 15)])  # fmt: skip
    series, *_ = parse_log_text(text + "\n")
    assert list(series["loss"].steps) == [1, 15]


def test_a_sentence_is_no_table_header_and_a_line_with_numbers_still_ends_a_table():
    from forensics.readers.logmetrics import header_columns

    assert header_columns("Reducer buckets have been rebuilt in this iteration.") is None
    assert header_columns(_YOLO_HEADER) is not None
    # a table of epoch rows, then other output with numbers of another shape: the table ended there
    text = "epoch  loss  acc\n1  0.91  0.61\n2  0.72  0.70\nSaved checkpoint 2 to model_2.pt in 3.1 s\n7  8  9\n"
    series, *_ = parse_log_text(text)
    assert list(series["loss"].values) == [0.91, 0.72]


# ---------------------------------------------------------------- a catalogued message wrapped by a paste


def _mxnet_speedometer(batch: int, acc: float, loss: float) -> str:
    """MXNet 1.x's Speedometer callback (python/mxnet/callback.py): 'Epoch[%d] Batch [%d]\\tSpeed: %.2f
    samples/sec' then '\\t%s=%f' per metric, through the root logger."""
    return f"INFO:root:Epoch[0] Batch [{batch}]\tSpeed: 0.33 samples/sec\tTrain-RCNNAcc={acc:f}\tRCNNLogLoss={loss:f}\n"


def test_a_message_a_paste_wrapped_mid_word_is_read_from_the_two_lines():
    # MXNet's pooled storage manager dies through dmlc's LOG(FATAL) << "cudaMalloc failed: " <<
    # cudaGetErrorString(e); the code block wrapped the line inside "failed"
    what = "  what():  [10:44:35] src/storage/./pooled_storage_manager.h:107: cudaMalloc failed: out of memory"
    head = _mxnet_speedometer(2240, 0.79, 0.64) + "terminate called after throwing an instance of 'dmlc::Error'\n"
    for cut in (what.index("fail") + 4, what.index("out of")):  # mid-word, and at a blank the wrap ate
        text = head + what[:cut].rstrip() + "\n" + what[cut:].lstrip() + "\n"
        _, events, *_ = parse_log_text(text, "train.log")
        assert [e.kind for e in events] == ["oom"], cut
    # not fire: two lines that only together look like a message, each a record of its own, stay apart
    text = _mxnet_speedometer(2240, 0.79, 0.64) + "cudaMalloc\n" + "failed: out of memory? no: retried and went on\n"
    _, events, *_ = parse_log_text(text, "train.log")
    assert events == ()


def test_megatron_s_rerun_check_is_placed_at_the_iteration_it_names():
    # Megatron-LM's training_log record, then rerun_state_machine.validate_result's RuntimeError
    record = (
        " iteration     {i:>5}/  250000 | consumed samples:        43408 | elapsed time per iteration (ms): 4247.9 |"
        " learning rate: 2.999E-04 | global batch size:     8 | lm loss: {v} | loss scale: 1.0 | grad norm: 0.512 |"
        " number of skipped iterations:   0 | number of nan iterations:   0 |\n"
    )
    text = record.format(i=1200, v="2.301E+00") + record.format(i=1210, v="2.299E+00")
    text += (
        "RuntimeError: Rank 0, node gpu-a1, device 0, iteration 1234: Unexpected result nan (message='found NaN in "
        "local forward loss calculation')\n"
    )
    _, events, *_ = parse_log_text(text, "train.log")
    assert [(e.kind, e.step) for e in events] == [("nan_loss", 1234)]


# ---------------------------------------------------------------- values that are no loss


def test_a_cost_beside_loss_terms_is_a_time_not_the_loss():
    # GluonCV's detection scripts (scripts/detection/ssd/train_ssd.py): logger.info('[Epoch {}] Training cost:
    # {:.3f}, {}={:.3f}, {}={:.3f}'.format(epoch, (time.time()-tic), name1, loss1, name2, loss2))
    lines = [
        f"INFO:root:[Epoch {e}] Training cost: {1053.345 + e:.3f}, CrossEntropy=3.57, SmoothL1=1.52" for e in (0, 1)
    ]
    series, *_ = parse_log_text("\n".join(lines) + "\n", "train.log")
    assert list(series["loss"].values) == [pytest.approx(5.09)] * 2  # the terms' sum, not 1053 seconds
    # but a cost alone is a loss (TF1 tutorials: print("Epoch:", '%04d' % (epoch+1), "cost=", "{:.9f}".format(c)))
    series, *_ = parse_log_text("Epoch: 0001 cost= 0.693147182\nEpoch: 0002 cost= 0.512345678\n", "train.log")
    assert list(series["loss"].values) == [0.693147182, 0.512345678]


def test_a_value_in_a_unit_of_time_is_no_metric():
    text = "".join(f"step {i} loss {2 - i / 10:.2f} eval loss: 12.{i} sec\n" for i in range(3))
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [2.0, 1.9, 1.8] and "val_loss" not in series


def test_a_time_unit_s_word_that_names_the_next_value_leaves_the_loss_read():
    # "seconds: 12", "h 3": the word is the next pair's name (a separator or a value follows), not the loss's unit
    text = "".join(f"epoch {i} loss: {2 - i / 10:.2f} seconds: {12 + i} h {i}\n" for i in range(3))
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [2.0, 1.9, 1.8]
    # a unit followed by the next name's words or by a comma is still a unit: the value is a duration
    text = "".join(f"step {i} loss {2 - i / 10:.2f} eval loss: 12.{i} s, lr 0.1\n" for i in range(3))
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [2.0, 1.9, 1.8] and "val_loss" not in series


def _darknet_line(i: int, loss: str, avg: str) -> str:
    """darknet (AlexeyAB, src/detector.c train_detector): printf("\\n %d: %f, %f avg loss, %f rate, %lf seconds,
    %d images\\n", iteration, loss, avg_loss, rate, time, images) (the leading blank dropped by a paste)."""
    return f"{i}: {loss}, {avg} avg loss, 0.001000 rate, 3.200000 seconds, {i * 64} images\n"


def test_an_iteration_before_a_colon_is_no_launcher_s_rank_prefix():
    text = _darknet_line(10, "2.100000", "2.000000") + _darknet_line(11, "1.950000", "1.900000")
    text += _darknet_line(12, "-nan", "-nan")
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].steps) == [10, 11, 12] and list(series["loss"].values[:2]) == [2.0, 1.9]
    # not fire: a launcher's rank prefix before words is still a rank (pdsh/srun '1: ')
    series, *_ = parse_log_text("0: step 1 loss 2.0\n1: step 1 loss 2.1\n0: step 2 loss 1.9\n", "train.log")
    assert list(series["loss"].values) == [2.0, 1.9] and "loss@rank1" in series


def test_a_bar_postfix_with_only_a_qualified_loss_reads_it_as_the_loss():
    # NeMo's Lightning bar (nemo/collections/nlp/models/language_modeling/megatron_gpt_model.py logs
    # 'reduced_train_loss' with prog_bar=True), drawn here by tqdm itself
    out = io.StringIO()
    bar = tqdm(total=1000, desc="Epoch 0", file=out, mininterval=0, miniters=1, ncols=160)
    for i, loss in enumerate(["2.31", "2.2", "nan"], start=1):
        bar.set_postfix_str(f"reduced_train_loss={loss}, global_step={i}.0, consumed_samples={i * 8}.0", refresh=False)
        bar.update(1)
    bar.close()
    series, *_ = parse_log_text(out.getvalue() + "\n", "train.log")
    assert series["loss"].values[0] == 2.31 and math.isnan(series["loss"].values[-1])
    assert "consumed_samples" not in series  # not fire: a count


def _chainer_table(observations: list[dict]) -> str:
    """Chainer's PrintReport (chainer/training/extensions/print_report.py, v2-v7): the header '  '.join of each
    entry padded to max(10, len(entry)), then per observation '{:<%dg}  ' % w for an entry it holds and
    ' ' * (w + 2) for one it does not (the validation entries on iterations with no evaluation)."""
    entries = ["epoch", "iteration", "main/loss", "validation/main/loss", "main/accuracy", "elapsed_time"]
    widths = [max(10, len(s)) for s in entries]
    lines = ["  ".join(f"{e:{w}}" for e, w in zip(entries, widths, strict=True))]  # '{:%d}' % w, filled
    for obs in observations:
        lines.append(
            "".join(f"{obs[e]:<{w}g}  " if e in obs else " " * (w + 2) for e, w in zip(entries, widths, strict=True))
        )
    return "\n".join(lines) + "\n"


def test_a_fixed_width_table_with_blank_cells_is_read_by_position():
    rows = [
        {"epoch": 0, "iteration": 100, "main/loss": 2.3, "main/accuracy": 0.1, "elapsed_time": 10.5},
        {"epoch": 0, "iteration": 200, "main/loss": 2.1, "validation/main/loss": 2.2, "main/accuracy": 0.2,
         "elapsed_time": 21.0},
        {"epoch": 1, "iteration": 300, "main/loss": float("nan"), "main/accuracy": 0.1, "elapsed_time": 31.5},
    ]  # fmt: skip
    series, *_ = parse_log_text(_chainer_table(rows), "log.txt")
    assert list(series["loss"].steps) == [100, 200, 300] and math.isnan(series["loss"].values[-1])
    assert list(series["validation/main/loss"].values) == [2.2]
    assert "elapsed_time" not in series  # not fire: the time column


# ---------------------------------------------------------------- keys qualified in brackets, dicts of losses


def test_a_stage_in_brackets_after_the_key_is_that_stage():
    # a plain loop's print: f"Epoch {epoch + 1}/{EPOCHS} | " f"Loss (train): {train_loss:.5f} | "
    # f"Loss (val): {val_loss :.5f}"
    text = "".join(
        f"Epoch {e}/30 | Loss (train): {t:.5f} | Loss (val): {v:.5f}\n" for e, t, v in ((1, 2.0, 2.1), (2, 1.0, 1.2))
    )
    series, *_ = parse_log_text(text, "train.log")
    assert list(series["loss"].values) == [2.0, 1.0] and list(series["val_loss"].values) == [2.1, 1.2]
    # not fire: a unit in brackets says nothing of a stage, and a time stays no metric
    series, *_ = parse_log_text("step 1 Time (s): 0.52\nstep 2 Time (s): 0.51\n", "train.log")
    assert not series


def test_the_keys_of_a_dict_printed_under_a_loss_s_name_are_its_terms():
    # pix2pix / CycleGAN (models/base_model.py get_current_losses: an OrderedDict of 'G_GAN', 'G_L1', 'D_real',
    # 'D_fake' floats), printed by a training loop as print('losses:', {k: round(v, 4) for k, v in ...items()})
    rows = [{"G_GAN": 0.7, "G_L1": 12.3, "D_real": 0.6, "D_fake": 0.7}, {"G_GAN": float("nan"), "G_L1": 11.0}]
    text = "".join(f"step {i} losses: {row}\n" for i, row in enumerate(rows, start=1))
    series, *_ = parse_log_text(text, "train.log")
    assert series["loss"].values[0] == pytest.approx(13.0)  # the generator's terms, not the discriminator's
    assert math.isnan(series["loss"].values[1])
    # a 'total' key is the loss itself
    series, *_ = parse_log_text("step 1 losses: {'total': 2.1, 'cls': 1.3, 'reg': 0.8}\n", "train.log")
    assert list(series["loss"].values) == [2.1]
    # not fire: a dict of settings or of counts under another name holds no loss
    text = "step 1 config: {'total': 100, 'lr': 0.1}\nstep 2 counts: {'total': 120, 'fg': 12}\n"
    series, *_ = parse_log_text(text, "train.log")
    assert "loss" not in series


def test_a_description_naming_the_epoch_and_the_loss_is_read():
    # the common loop idiom pbar.set_description(f"Epoch {epoch} loss: {loss.item():.4f}") on a tqdm bar over
    # the loader, drawn by tqdm itself: the epoch does not make it a Lightning bar whose metrics are elsewhere
    out = io.StringIO()
    for epoch in range(2):
        bar = tqdm(total=20, file=out, mininterval=0, miniters=1, ncols=100)
        for i in range(20):
            loss = float("nan") if (epoch, i) == (1, 19) else 2.0 - epoch - i / 100
            bar.set_description(f"Epoch {epoch} loss: {loss:.4f}", refresh=False)
            bar.update(1)
        bar.close()
    series, *_ = parse_log_text(out.getvalue() + "\n", "train.log")
    assert len(series["loss"].values) == 40 and series["loss"].values[0] == 2.0
    assert math.isnan(series["loss"].values[-1])
    # not fire: Lightning's own 'Epoch 3' description holds no metric, its postfix does
    out = io.StringIO()
    bar = tqdm(total=10, desc="Epoch 3", file=out, mininterval=0, miniters=1, ncols=100)
    for i in range(10):
        bar.set_postfix_str(f"v_num=0, train_acc={0.5 + i / 100:.2f}", refresh=False)
        bar.update(1)
    bar.close()
    series, *_ = parse_log_text(out.getvalue() + "\n", "train.log")
    assert "loss" not in series and "accuracy" in series


def _pix2pix_line(epoch: int, iters: int, losses: dict[str, float]) -> str:
    """pytorch-CycleGAN-and-pix2pix (util/visualizer.py print_current_losses): '(epoch: %d, iters: %d, time:
    %.3f, data: %.3f) ' % (...), then '%s: %.3f ' % (k, v) per loss name of the model (loss_names)."""
    message = "(epoch: %d, iters: %d, time: %.3f, data: %.3f) " % (epoch, iters, 0.512, 0.003)  # noqa: UP031
    for k, v in losses.items():
        message += "%s: %.3f " % (k, v)  # noqa: UP031
    return message + "\n"


def test_a_gan_s_terms_named_by_their_player_are_its_loss_terms():
    pix2pix = ["G_GAN", "G_L1", "D_real", "D_fake"]  # models/pix2pix_model.py loss_names
    text = "".join(
        _pix2pix_line(1, it, dict(zip(pix2pix, (g, 12.3, 0.6, 0.7), strict=True)))
        for it, g in ((100, 0.7), (200, float("nan")))
    )
    series, *_ = parse_log_text(text, "loss_log.txt")
    assert series["loss"].values[0] == pytest.approx(13.0)  # the generator's terms, the discriminator's apart
    assert math.isnan(series["loss"].values[1]) and "loss_D_real" in series
    cyclegan = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]  # cycle_gan_model.py
    text = _pix2pix_line(1, 100, dict(zip(cyclegan, (0.25, 0.5, 1.2, 0.5, 0.3, 0.4, 1.1, 0.6), strict=True)))
    series, *_ = parse_log_text(text * 2, "loss_log.txt")
    assert series["loss"].values[0] == pytest.approx(4.3)  # G_A + G_B + cycle and identity terms
    # not fire: one player's keys alone, or the header's time and data, give no loss
    text = "".join(_pix2pix_line(1, it, {"G_score": 0.5, "other": 0.2}) for it in (100, 200))
    series, *_ = parse_log_text(text, "loss_log.txt")
    assert "loss" not in series


def _ipython_traceback(exc: Exception) -> str:
    """A traceback as IPython prints it in a notebook (its own formatter, no colours): the exception's type
    before 'Traceback (most recent call last)', which has no colon there, then the frames and the error."""
    from IPython.core.ultratb import VerboseTB

    def training_step():
        raise exc

    try:
        training_step()
    except type(exc):
        try:
            formatter = VerboseTB(theme_name="nocolor")  # IPython 9
        except TypeError:
            formatter = VerboseTB(color_scheme="NoColor")  # IPython 8
        return formatter.text(*sys.exc_info())
    raise AssertionError("no exception raised")


def test_a_notebook_s_traceback_is_a_traceback():
    pytest.importorskip("IPython")
    tb = _ipython_traceback(ValueError("operands could not be broadcast together with shapes (3,) (4,)"))
    assert "Traceback (most recent call last)\n" in tb  # no colon in IPython's header
    text = "step 1 loss 2.0\nstep 2 loss 1.9\n" + tb + "\n"
    _, events, died, _ = parse_log_text(text, "train.log")
    assert died and [e.kind for e in events] == ["exception"]
    assert events[0].values["type"] == "ValueError"
    # not fire: the words inside a sentence start no traceback
    _, events, died, _ = parse_log_text("step 1 loss 2.0\nthe Traceback (most recent call last) was long\n", "t.log")
    assert not died and events == ()
