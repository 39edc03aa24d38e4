"""The generic metric extractor: any text log, by shape rather than by format.

The toolkit logs under tests/fixtures/logs/toolkits/ are printed with each toolkit's own
format string by tests/fixtures/make_toolkit_log_fixtures.py (toolkit, version and
source file in its manifest); the generator knows the true step of every line, so the
tests compare what the reader recovers with what was printed.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest

from forensics.readers import logmessages, logmetrics, logs
from forensics.readers.logmetrics import metric_name, scan_line
from forensics.readers.logs import MAX_SEGMENT_BYTES, parse_log_text, read_job_log
from forensics.records import Kind, Source

TOOLKITS = Path(__file__).parent / "fixtures" / "logs" / "toolkits"
MANIFEST = json.loads((TOOLKITS / "manifest.json").read_text())


def series(text: str) -> dict[str, list[tuple[int, float]]]:
    scalars = parse_log_text(text)[0]
    return {tag: list(zip(s.steps.tolist(), s.values.tolist(), strict=True)) for tag, s in scalars.items()}


def first_bad(steps: np.ndarray, values: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(steps[bad[0]]) if bad.size else None


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_toolkit_console_formats_give_the_steps_and_losses_they_printed(name):
    facts = MANIFEST[name]
    path = TOOLKITS / name
    data = read_job_log(path, Source(name, Kind.JOB_LOG, size=path.stat().st_size))
    loss = data.scalars["loss"]
    assert loss.steps.tolist() == facts["loss_steps"], facts["toolkit"]
    tag = "grad_norm" if name.startswith("hf_") else "loss"
    s = data.scalars[tag]
    assert first_bad(s.steps, s.values) == facts["first_nonfinite_step"]


def test_a_log_with_no_counter_is_numbered_in_line_order_and_says_so(tmp_path):
    p = tmp_path / "train.log"
    p.write_text("loss: 2.3\nloss: 2.1\nsome other line\nloss: nan\n")
    data = read_job_log(p, Source("train.log", Kind.JOB_LOG))
    assert data.scalars["loss"].steps.tolist() == [1, 2, 3]
    assert data.step_unit == "log_index"
    assert "numbered in the order the lines were printed" in (data.source.note or "")


def test_key_value_shapes_colon_equals_space_and_words_between():
    for line in ("step 7 loss: 2.5", "step=7 loss=2.5", "step 7 loss 2.5", "at step 7 the loss is 2.5"):
        assert series(line + "\n")["loss"] == [(7, 2.5)], line


def test_json_lines_and_nested_dicts_in_a_log():
    text = '{"step": 10, "loss": 2.3, "lr": 0.001}\n{"step": 20, "train": {"loss": "nan"}, "lr": 0.001}\n'
    got = series(text)
    assert got["loss"][0] == (10, 2.3) and got["loss"][1][0] == 20 and math.isnan(got["loss"][1][1])
    assert got["learning_rate"] == [(10, 0.001), (20, 0.001)]


def test_columns_under_a_header_tab_pipe_and_blank_separated():
    assert series("step\tloss\tlr\n100\t2.3\t0.1\n200\tnan\t0.1\n")["loss"][0] == (100, 2.3)
    got = series("| epoch | train_loss | val_loss |\n| 1 | 0.5 | 0.6 |\n| 2 | nan | nan |\n")
    assert got["val_loss"][0] == (1, 0.6) and math.isnan(got["loss"][1][1])
    got = series("iter   loss     grad_norm\n10     3.20     1.5\n20     3.10     inf\n")
    assert got["grad_norm"][1][0] == 20 and math.isinf(got["grad_norm"][1][1])


def test_main_loss_is_told_apart_from_its_components():
    # mmdet: loss is the sum of loss_cls, loss_bbox...; fairseq: loss next to nll_loss
    text = "Epoch [1][50/100]\tlr: 2.000e-02, loss_cls: 1.0000, loss_bbox: 0.5000, loss: 1.5000\n"
    got = series(text)
    assert got["loss"] == [(50, 1.5)] and got["loss_cls"] == [(50, 1.0)]
    # no "loss" printed: the total-like value stands in for it (OpenNMT's xent, Marian's cost)
    assert series("Step 50/1000; acc: 12.00; ppl: 500.00; xent: 6.21; lr: 1.00000\n")["loss"] == [(50, 6.21)]
    assert "loss" in series("Ep. 1 : Up. 500 : Sen. 12,345 : Cost 9.87 : Time 60.00s : gNorm 1.2 : L.r. 3.0e-04\n")
    # two terms and no total: the loss is their sum (what is optimised; a non-finite term makes
    # it non-finite), and each term keeps its own series
    got = series("step 1 kl_loss 0.5 recon_loss 2.0\n")
    assert got["loss"] == [(1, 2.5)] and got["kl_loss"] == [(1, 0.5)]


def test_counters_of_every_common_shape():
    cases = {
        # Marian: "Up." is the global update counter
        "[2021-01-01 00:00:00] Ep. 1 : Up. 500 : Sen. 12,345 : Cost 9.87654321 * 1,234,567 @ 3,456 after 1,234,567"
        " : Time 60.00s : 12345.67 words/s : gNorm 1.2345 : L.r. 3.0000e-04": 500,
        # DeiT / torchvision MetricLogger: "Epoch: [e]  [i/n]" with 0-based epochs
        "Epoch: [0]  [   0/100]  eta: 0:01:00  lr: 0.000100  loss: 7.0000 (7.0000)  time: 0.5  max mem: 1000\n"
        "Epoch: [2]  [  10/100]  eta: 0:01:00  lr: 0.000100  loss: 6.9000 (6.9100)  time: 0.5  max mem: 1000": 210,
        # mmengine: "Epoch(train)  [e][i/n]", 1-based epochs
        "01/01 00:00:00 - mmengine - INFO - Epoch(train)  [2][ 50/100]  base_lr: 2.0e-02 lr: 2.0e-02  eta: 1 day,"
        " 2:00:00  time: 0.5  data_time: 0.05  memory: 3000  grad_norm: 10.5  loss: 2.0  loss_cls: 1.0": 150,
        # mmengine iteration-based: global
        "01/01 00:00:00 - mmengine - INFO - Iter(train) [  100/80000]  lr: 1.0e-02  eta: 1 day  time: 0.5"
        "  loss: 2.0": 100,
        # insightface: "Global Step: N"
        "Training: 2021-01-01 00:00:00,000-Speed 1000.00 samples/sec   Loss 40.0000   LearningRate 0.1000   Epoch: 0"
        "   Global Step: 20   Fp16 Grad Scale: 65536   Required: 50 hours": 20,
        # TF1 tutorials
        "Iter 1280, Minibatch Loss= 1.5, Training Accuracy= 0.5": 1280,
        "2016-01-01 12:00:00.000: step 100, loss = 2.30 (1000.0 examples/sec; 0.128 sec/batch)": 100,
        # bare "n/total" at the start of a line
        "120/2000 loss 2.3": 120,
    }
    for line, step in cases.items():
        got = series(line + "\n")
        assert got["loss"][-1][0] == step, line


def test_running_averages_in_brackets_are_not_taken_for_values():
    got = series("Train: 0 [   0/300 (  0%)]  Loss: 7.00 (7.00)\nTrain: 3 [ 100/300 ( 33%)]  Loss: 5.58 (6.29)\n")
    assert got["loss"] == [(0, 7.0), (1000, 5.58)]


def test_aliases_for_learning_rate_grad_norm_and_loss_scale():
    assert metric_name(("LearningRate",)) == "learning_rate"
    assert metric_name(("L.r.",)) == "learning_rate"
    assert metric_name(("gNorm",)) == "grad_norm"
    assert metric_name(("Fp16", "Grad", "Scale")) == "loss_scale"
    assert metric_name(("Minibatch", "Loss")) == "loss"
    assert metric_name(("samples/sec", "Loss")) == "loss"
    assert metric_name(("data_time",)) is None and metric_name(("memory",)) is None


def test_ranks_in_one_log_are_kept_apart():
    text = "[rank0]: step 1 loss 2.0\n[rank1]: step 1 loss 2.1\n[rank0]: step 2 loss 1.9\n[rank1]: step 2 loss nan\n"
    got = series(text)
    assert got["loss"] == [(1, 2.0), (2, 1.9)]
    assert got["loss@rank1"][0] == (1, 2.1) and math.isnan(got["loss@rank1"][1][1])


def test_a_restart_in_the_same_file_is_a_new_segment():
    scalars = parse_log_text("step 10 loss 2.0\nstep 20 loss 1.9\nstep 10 loss 2.0\nstep 20 loss 1.8\n")[0]
    assert scalars["loss"].segment.tolist() == [0, 0, 1, 1]


def test_eval_lines_of_mmengine_are_validation_metrics():
    got = series("Epoch(val) [1][500/500]  loss: 0.9  coco/bbox_mAP: 0.3\n")
    assert "loss" not in got and "val_loss" in got


def test_fractional_epoch_is_a_value_and_not_a_counter():
    lm = scan_line("{'loss': 2.3, 'epoch': 0.4}")
    assert ("epoch", 0.4) in lm.pairs and lm.epoch is None


# ---------------------------------------------------------------- linear time (issue 17, item 1)

_FILLERS = (" ", "a", "0", "1.", ".", "-", ":", "=", "[", "|", "━", "'", "\t", ",", "%|", "1%|", "0/", "[0", "a.",
            "1e", "\x1b[", "[1;", "{'loss': ", "a:", "a=", "0 ", "0/0 ", "loss 1 (", "step ", "nan ", ": Tensor had",
            "{\"a\": ", "| loss |", "Epoch [1][", "step1 ", "1.5G ", "1.#", "-1.#IND0",
            "a.b=1, ", "[G - a: 1, ", "[1ms][1.5]", "0: 1.5\t", "no data a* ", "1, 1.5: 1.5, ",
            "output #1: a = 1 (* ", " >>> a: ", "Iteration 1, Testing net (#", "acc: 1 ", "metric = 1% ",
            "a.py:1: ", "[1-1", "a,1,", "1 [1.5, ", "batch: 1 1.5 ", "Obj(log[Pzx]) = 1 ",
            "objective function for 'output' for minibatches 1-1 is 1 + ", "epochs: 1%|", "l_d_a: 1 ",
            "Step 1: 1 E_h", "Step 1: ", "loss (min, avg, ", "loss (avg, max): (1, ", "a Time cost=1 ",
            "Train-SmoothL1=")  # fmt: skip
_PREFIXES = ("", "a", "loss: 1.0 step", "Epoch 1", "{'loss'", "1/2 ", "Traceback (most recent call last):",
             "Function 'a' returned nan values in its ", "Train: 0 [", "  Num Epochs = ",
             "Received a label value of 1", "indices[0,", "Attempted loss scale: 1", "Monitored metric ",
             "Gradient overflow.", "NCCL error in: ", "invalid value (nan) encountered in ", "7: ",
             "1/2 1.5G ", "Train net output #0: a = ")  # fmt: skip
_SUFFIXES = ("", "x", "it/s", "Error", "}")
# A regex that backtracks turns a 16 KiB line into seconds or hours (issue 17: 11-31 s for 1.2 KB);
# linear scanning costs well under a microsecond a byte. CPU time of this process is measured (not
# wall time, which other jobs on a shared machine inflate); the bounds leave a wide margin still.
MAX_US_PER_BYTE_PATTERN = 5.0
MAX_US_PER_BYTE_PARSER = 40.0


def _adversarial_lines(length: int, full: bool):
    """Prefix + filler repeated to ``length`` + suffix: every combination, or (default suite) one per filler."""
    for i, filler in enumerate(_FILLERS):
        combos = (
            [(p, s) for p in _PREFIXES for s in _SUFFIXES]
            if full
            else [(_PREFIXES[i % len(_PREFIXES)], _SUFFIXES[i % len(_SUFFIXES)])]
        )
        for pre, suf in combos:
            yield pre + filler * ((length - len(pre) - len(suf)) // len(filler)) + suf


def _patterns():
    """Every compiled pattern of the log reader's modules, the message catalogue's included."""
    for mod in (logs, logmetrics, logmessages):
        for name, value in vars(mod).items():
            if isinstance(value, re.Pattern):
                yield f"{mod.__name__}.{name}", value
    for msg in logmessages.CATALOGUE:
        if msg.pattern is not None:
            yield f"catalogue: {msg.text[:40]}", msg.pattern.compiled
        if msg.unless is not None:  # tried on every line the pattern matches
            yield f"catalogue (unless): {msg.text[:40]}", msg.unless.compiled


def _check_patterns(full: bool) -> None:
    worst = (0.0, "")
    lines = list(_adversarial_lines(MAX_SEGMENT_BYTES, full))
    for name, pattern in _patterns():
        start = time.process_time()
        for line in lines:
            subject = line.encode() if isinstance(pattern.pattern, bytes) else line
            for _ in pattern.finditer(subject):
                pass
            pattern.match(subject)
        per_byte = (time.process_time() - start) / (len(lines) * MAX_SEGMENT_BYTES) * 1e6
        worst = max(worst, (per_byte, name))
    assert worst[0] < MAX_US_PER_BYTE_PATTERN, worst


def _check_parser(full: bool) -> None:
    worst = (0.0, "")
    for line in _adversarial_lines(MAX_SEGMENT_BYTES, full):
        start = time.process_time()
        parse_log_text(line + "\n")
        per_byte = (time.process_time() - start) / len(line) * 1e6
        worst = max(worst, (per_byte, line[:40]))
    assert worst[0] < MAX_US_PER_BYTE_PARSER, worst


@pytest.mark.timeout(120)
def test_every_log_pattern_is_linear_on_adversarial_lines_up_to_the_segment_cap():
    _check_patterns(full=False)


@pytest.mark.timeout(120)
def test_the_whole_parser_is_linear_on_adversarial_lines_up_to_the_segment_cap():
    _check_parser(full=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_pattern_and_the_parser_on_every_adversarial_combination():
    """The full sweep: ``pytest -m slow tests/test_log_metrics.py`` (about 15 minutes on 2 cores)."""
    _check_patterns(full=True)
    _check_parser(full=True)


def test_a_line_read_only_up_to_the_token_cap_is_named_in_the_note(tmp_path):
    # a step and loss printed after more numbered fields than MAX_TOKENS is not read: the note says a line was cut
    # short, where otherwise the curve would just stop; ordinary lines say nothing
    p = tmp_path / "train.log"
    fields = "".join(f"{k}: " for k in range(1, logmetrics.MAX_TOKENS))
    p.write_text("step 1 loss: 2.3\nstep 2 loss: 2.1\n" + fields + "step 3 loss: nan\n")
    data = read_job_log(p, Source("train.log", Kind.JOB_LOG))
    assert f"1 line(s) held more than {logmetrics.MAX_TOKENS} words and numbers" in (data.source.note or "")
    q = tmp_path / "plain.log"
    q.write_text("step 1 loss: 2.3\nstep 2 loss: 2.1\n")
    assert "words and numbers" not in (read_job_log(q, Source("plain.log", Kind.JOB_LOG)).source.note or "")


def test_the_lines_from_the_issue_take_milliseconds():
    for line in ("a" + " " * 1200 + "it/s", "loss: 1.0 step" + " " * 16000):
        start = time.process_time()
        parse_log_text(line + "\n")
        assert time.process_time() - start < 0.5


# A multi-line record costs at most this much more per line when the log is 4x longer: linear reading gives about 1,
# a reading that looks back over the whole record on each line about 4 (the ratio of the times, about 16, over 4)
MAX_PER_LINE_GROWTH = 2.5


def _cpu_per_line(text: str, lines: int) -> float:
    start = time.process_time()
    parse_log_text(text)
    return (time.process_time() - start) / lines


@pytest.mark.timeout(120)
def test_a_record_printed_over_lines_of_distinct_names_is_read_in_linear_time():
    # counter-less lines of one metric each are one record until a name comes again, and each line is checked against
    # the names the record holds so far: without a bound a log of thousands of such lines, no name printed twice, was
    # quadratic (40,000 lines: 107 s against 5 s); MAX_RECORD_VALUES ends a record there
    def text(n: int) -> str:
        return "".join(f"metric_loss_{i}: 0.5\n" for i in range(n))

    _cpu_per_line(text(500), 500)  # warm the caches
    small, large = 4_000, 16_000
    assert _cpu_per_line(text(large), large) < MAX_PER_LINE_GROWTH * _cpu_per_line(text(small), small)


@pytest.mark.timeout(120)
def test_a_line_of_many_loss_terms_is_read_in_time_linear_in_its_terms():
    # the terms a line sums are checked for parts of another (second.pytorch's cls_pos_rt and cls_neg_rt beside
    # cls_loss_rt): a check of each term against every other made a line of 200 terms 50 times slower than at the
    # round's start (60 us a byte), past what the parser's linearity bound allows
    def text(n: int) -> str:
        return ", ".join(f"t{i}_pos_loss: 1.0" for i in range(n)) + "\n"

    _cpu_per_line(text(50) * 5, 5 * 50)
    small, large = 50, 200
    assert _cpu_per_line(text(large) * 10, 10 * large) < MAX_PER_LINE_GROWTH * _cpu_per_line(
        text(small) * 10, 10 * small
    )


# ---------------------------------------------------------------- every text file is a candidate log


def _kinds(root) -> dict[str, Kind]:
    from forensics.discover import discover

    return {f.rel: f.kind for f in discover(root).files}


def test_logs_named_the_way_toolkits_name_them_are_found_by_their_content(tmp_path):
    text = (TOOLKITS / "fairseq_simple.log").read_text()
    for name in ("log.txt", "log_rank0.txt", "nohup.out", "stdout", "train_output"):
        (tmp_path / name).write_text(text)
    (tmp_path / "metrics.jsonl").write_text('{"loss": 2.3, "lr": 0.1}\n{"loss": 2.1, "lr": 0.1}\n')  # no step field
    kinds = _kinds(tmp_path)
    assert all(kinds[n] is Kind.JOB_LOG for n in ("log.txt", "log_rank0.txt", "nohup.out", "stdout", "train_output"))
    assert kinds["metrics.jsonl"] is Kind.JOB_LOG


def test_text_that_is_not_a_log_is_not_taken_for_one(tmp_path):
    (tmp_path / "notes.txt").write_text("We tried a lower learning rate and the loss looked better.\n" * 50)
    (tmp_path / "train.py").write_text('for step in range(10):\n    print(f"step {step} loss: 2.3")\n' * 5)
    (tmp_path / "vocab.txt").write_text("\n".join(f"token{i} {i}" for i in range(1000)))
    (tmp_path / "image.dat").write_bytes(bytes(range(256)) * 100)
    assert _kinds(tmp_path) == {}


def test_a_log_of_one_metric_line_is_a_log_and_prose_that_names_a_loss_once_is_not(tmp_path):
    """A paste of the last iteration alone (one line, newline or not) is a log: every line of the
    file prints a metric and one is the loss. A short note with one metric-like line among prose
    is not, nor a one-line summary of scores."""
    line = "iter: 5100  loss: nan (nan)  loss_cls: 0.0 (0.0)  time: 1.12 (1.13)  lr: 0.000467  max mem: 9431"
    (tmp_path / "log.txt").write_text(line + "\n")
    (tmp_path / "last.txt").write_text(line)
    (tmp_path / "notes.txt").write_text("Run 3 stopped overnight.\n" + line + "\nWill retry with a lower LR.\n")
    (tmp_path / "scores.txt").write_text("accuracy: 0.91  lr: 0.001\n")  # a one-line summary names no loss
    kinds = _kinds(tmp_path)
    assert kinds == {"log.txt": Kind.JOB_LOG, "last.txt": Kind.JOB_LOG}


def test_a_log_file_named_on_the_command_line_is_judged_by_its_content(tmp_path):
    from forensics.discover import discover

    p = tmp_path / "run1.txt"
    p.write_text("Epoch 1, Iter 100, loss 2.3\nEpoch 1, Iter 200, loss 2.1\n")
    assert [f.kind for f in discover(p).files] == [Kind.JOB_LOG]


def test_sniffing_reads_only_the_head_of_a_big_file(tmp_path, monkeypatch):
    import forensics.readers.logs as logs_mod

    p = tmp_path / "big.txt"
    with open(p, "w") as f:
        f.write("x" * (logs_mod.SNIFF_BYTES + 10) + "\n")
        f.write("step 1 loss 2.0\nstep 2 loss 1.9\n")  # past the sniffed head
    assert not logs_mod.looks_like_log(p)


def test_dict_lines_of_projects_built_on_the_trainer_with_their_own_step():
    # ms-swift (swift/trainers/mixin.py logs 'global_step/max_steps'); LLaMA-Factory and axolotl print the
    # Trainer's own dicts, which carry no step (see hf_dict_no_steps.log)
    line = (
        "{'loss': 2.3, 'acc': 0.5, 'grad_norm': nan, 'learning_rate': 1e-4, 'memory(GiB)': 10, "
        "'train_speed(iter/s)': 0.5, 'epoch': 0.1, 'global_step/max_steps': '10/1000', 'percentage': '1%', "
        "'elapsed_time': '1m', 'remaining_time': '1h'}\n"
    )
    got = series(line)
    assert got["loss"] == [(10, 2.3)] and math.isnan(got["grad_norm"][0][1])
    assert "memory(gib)" not in got and "train_speed(iter/s)" not in got


def test_settings_printed_at_start_are_not_metrics():
    text = (
        'config: {"optimizer": "sgd", "base_lr": 0.05, "lr_gamma": 20.0, "lr_milestones": [160]}\n'
        "Namespace(batch_size=64, lr=0.1, epochs=10)\n"
        "step 1 loss 2.0 lr 0.05\n"
    )
    got = series(text)
    assert got["learning_rate"] == [(1, 0.05)] and "lr_gamma" not in got


def test_tensor_and_numpy_reprs_are_values():
    # detectron2's NaN guard prints its loss dict of tensors; numpy 2 prints np.float64(...)
    lm = scan_line(
        "loss_dict = {'loss_cls': tensor(nan, device='cuda:0', grad_fn=<NllLossBackward>), "
        "'loss_box_reg': tensor(0.3100, device='cuda:0'), 'loss_rpn_loc': tensor(-inf, device='cuda:0')}"
    )
    got = dict(lm.pairs)
    assert math.isnan(got["loss_cls"]) and got["loss_box_reg"] == 0.31 and got["loss_rpn_loc"] == -math.inf
    got = dict(scan_line("loss_dict = {'loss_cls': np.float64(nan), 'loss_box_reg': np.float64(0.25)}").pairs)
    assert math.isnan(got["loss_cls"]) and got["loss_box_reg"] == 0.25
    assert scan_line("tensor(0.5)").pairs == []  # a value with no name names nothing


def test_a_tuple_of_values_after_a_name_gives_the_name_its_first():
    # BasicSR 1.x: "lr:(1.000e-04,1.000e-04,)", one LR per optimizer
    lm = scan_line("[ESRGA..][epoch:  0, iter:   1,200, lr:(2.000e-04,1.000e-04,)] l_g_pix: 5.5e-02")
    assert dict(lm.pairs)["learning_rate"] == 2e-4 and ("step", 1200, None) in lm.counters
    # a value's running average in brackets is still skipped, and a bracket after a name with no
    # separator ("time (data): 0.5 (0.003)") is no tuple
    assert scan_line("loss: 6.9 (6.94) time (data): 0.512 (0.003)").pairs == [("loss", 6.9)]


def test_loss_terms_without_a_total_sum_to_the_loss_and_a_discriminator_is_left_out():
    pairs = logmetrics.main_loss_of(scan_line("l_g_pix: 1.0e-02 l_g_gan: 1.0e-01 l_d_real: 7.0e-01").pairs)
    assert dict(pairs)["loss"] == pytest.approx(0.11)  # the generator's terms, not the discriminator's
    assert dict(logmetrics.main_loss_of(scan_line("l_g_total: 1.5 l_g_pix: 0.5 l_d_total: 0.3").pairs))["loss"] == 1.5
    nan = dict(logmetrics.main_loss_of(scan_line("loss_cls: nan, loss_bbox: 0.3").pairs))["loss"]
    assert math.isnan(nan)  # a non-finite term makes the loss non-finite
    # look-alikes: a main loss printed is kept; a line with a validation loss is not summed; l1/l2
    # are no 'l_' loss terms of BasicSR's naming, but criteria (EDSR's '[L1: 5.96]', tests/test_log_formats_round15.py)
    assert dict(logmetrics.main_loss_of(scan_line("loss: 2.0, loss_cls: 1.5, loss_bbox: 0.5").pairs))["loss"] == 2.0
    assert "loss" not in dict(logmetrics.main_loss_of(scan_line("kd_loss 1 ce_loss 2 val_loss 3").pairs))
    assert not logmetrics._LOSS_TERM.fullmatch("l1") and metric_name(("l_pix",)) == "l_pix"
    s = read_job_log(TOOLKITS / "basicsr_1.log", Source("basicsr_1.log", Kind.JOB_LOG, size=1)).scalars
    assert s["learning_rate"].values.tolist()[0] == 1e-4
    first = {t: float(s[t].values[0]) for t in ("loss", "l_g_pix", "l_g_percep", "l_g_gan")}
    assert first["loss"] == pytest.approx(first["l_g_pix"] + first["l_g_percep"] + first["l_g_gan"])


def test_a_progress_header_of_epoch_and_memory_names_its_short_columns_as_loss_terms():
    # YOLOv5 up to 6.1 and YOLOv3 (2020): "Epoch gpu_mem box obj cls [total] labels img_size"
    assert logmetrics.header_columns("     Epoch   gpu_mem       box       obj       cls    labels  img_size") == [
        "Epoch",
        "gpu_mem",
        "box_loss",
        "obj_loss",
        "cls_loss",
        "labels",
        "img_size",
    ]
    assert logmetrics.header_columns("Epoch gpu_mem GIoU obj cls total targets img_size")[5] == "loss"
    # named columns stay as they are (the ultralytics 8 detection and classification headers), and
    # a header that does not open with the epoch and the memory is no progress header
    cls = "Epoch GPU_mem train_loss test_loss top1_acc top5_acc"
    assert logmetrics.header_columns(cls) == cls.split()
    assert logmetrics.header_columns("Epoch box obj cls labels") is None


def test_values_printed_with_a_guard_that_names_its_step_are_that_steps():
    # detectron2 0.1: "FloatingPointError: Loss became infinite or NaN at iteration=550!" then the loss dict
    facts = MANIFEST["detectron2_nan_guard.log"]
    s = read_job_log(TOOLKITS / "detectron2_nan_guard.log", Source("d2.log", Kind.JOB_LOG, size=1)).scalars
    assert s["loss_box_reg"].steps.tolist()[-1] == facts["first_nonfinite_step"] == 550
    assert s["loss_box_reg"].values.tolist()[-1] == 0.31
    assert math.isnan(float(s["loss"].values[-1]))
    # a counter-less metric line far from any such message is numbered in line order as before
    far = parse_log_text("FloatingPointError: Loss became infinite or NaN at iteration=5!\na\nb\nc\nloss: 2.0\n")[0]
    assert far["loss"].steps.tolist() == [1]


def test_the_metric_hint_is_the_case_free_word_test_it_replaced():
    """names_a_metric answers as the case-insensitive alternation of the hint words did, on
    lines with and without a metric's name, in any case, and on a long padded line."""
    from forensics.readers.logmetrics import _HINT_WORDS, names_a_metric

    alternation = re.compile("|".join(re.escape(w) for w in _HINT_WORDS), re.IGNORECASE)
    lines = [
        "Epoch 3 [120/500] LOSS: 0.234 Lr: 0.001",
        "iter 40 | Grad_Norm 3.2",
        "a" + " " * 1200 + "it/s",
        "Saving checkpoint to out/ckpt-40",
        "Train PPL 12.3 xent 2.5",
        "",
    ]
    for line in lines:
        assert names_a_metric(line) == bool(alternation.search(line)), line
    assert names_a_metric("step 1 LOSS 2.5") and not names_a_metric("Saving model")


@pytest.mark.parametrize(
    ("line", "pairs"),
    [
        ("Validation Dice Coeff: 0.9720964431762695", [("val_dice", 0.9720964431762695)]),
        ("INFO: Validation Dice Coeff: 0.5", [("val_dice", 0.5)]),  # the later train.py's logging.info
        ("Dice coefficient: 0.75", [("dice", 0.75)]),
        ("loss coef: 0.5", []),  # a setting of a loss, still no metric
    ],
)
def test_the_dice_coefficient_in_words_is_read(line, pairs):
    # milesial Pytorch-UNet prints 'Validation Dice Coeff: {}'.format(val_dice): its last word names no metric alone
    assert scan_line(line).pairs == pairs
