"""Issue #11, tenth round: shapes of training logs read since heldout9's measurement (docs/logs.md).

Every line here is built from the toolkit's own format string (named in a comment), with look-alikes that
must read as before.
"""

import math

import pytest

from forensics.readers.logmetrics import counter_kind, metric_name, nonfinite_value, scan_line
from forensics.readers.logs import _num, looks_like_log, parse_log_text

# ---------------------------------------------------------------- a Windows C runtime's NaN and Inf


@pytest.mark.parametrize(
    ("text", "nan", "sign"),
    [
        ("1.#QNAN", True, 1),
        ("1.#QNAN000", True, 1),  # "%.8f": the precision's zeros follow
        ("-1.#IND", True, 1),  # 0/0's indeterminate NaN
        ("-1.#IND00", True, 1),
        ("1.#SNAN", True, 1),
        ("1.#INF", False, 1),
        ("1.#INF00", False, 1),
        ("-1.#INF", False, -1),
        ("-nan(ind)", True, 1),  # the Universal CRT (Visual Studio 2015 on)
        ("-inf", False, -1),
        ("inf", False, 1),
    ],
)
def test_every_spelling_of_a_windows_c_runtime_is_a_nonfinite_value(text, nan, sign):
    for value in (nonfinite_value(text), _num(text)):
        assert value is not None and math.isnan(value) == nan
        assert nan or value == sign * math.inf


@pytest.mark.parametrize("text", ["1.#", "1.#2", "1.#INFO", "1.#QNANs", "#INF", "1.5#IND", "12.#QNAN"])
def test_look_alikes_of_the_windows_spellings_are_no_value(text):
    assert nonfinite_value(text) is None and _num(text) is None


@pytest.mark.parametrize(
    ("line", "tag", "counter"),
    [
        # CNTK 1.x SGD progress line: " Epoch[%2d of %d]-Minibatch[%4d-%4d]: SamplesSeen = %d; TrainLossPerSample =
        # %.8f; EvalErr[0]PerSample = %.8f; ..." as MSVC's printf renders a NaN
        (
            " Epoch[ 1 of 1]-Minibatch[ 501-1000]: SamplesSeen = 500; TrainLossPerSample =  1.#QNAN000; "
            "EvalErr[0]PerSample = 0.48000000; TotalTime = 2.3504s; SamplesPerSecond = 212.7",
            "trainlosspersample",
            None,
        ),
        # Caffe's solver: LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_ (iostream on MSVC)
        ("I0321 10:00:00.000  1234 solver.cpp:228] Iteration 220, loss = 1.#QNAN", "loss", 220),
        ("I0321 10:00:00.000  1234 solver.cpp:228] Iteration 220, loss = -1.#IND", "loss", 220),
        ("I0321 10:00:00.000  1234 solver.cpp:228] Iteration 220, loss = 1.#INF", "loss", 220),
    ],
)
def test_a_windows_nonfinite_loss_is_read_where_the_line_prints_it(line, tag, counter):
    lm = scan_line(line)
    values = dict(lm.pairs)
    assert tag in values and not math.isfinite(values[tag])
    if counter is not None:
        assert any(n == counter for _, n, _ in lm.counters)


def test_darknet_on_windows_reads_its_avg_loss_nonfinite():
    # darknet detector.c: printf("%ld: %f, %f avg loss, %f rate, %lf seconds, %d images\n", ...) built with MSVC
    series, *_ = parse_log_text(
        "1: 496.0, 496.0 avg loss, 0.000000 rate, 3.1 seconds, 64 images\n"
        "2: -1.#IND00, -1.#IND00 avg loss, 0.000000 rate, 3.0 seconds, 128 images\n"
    )
    loss = series["loss"]
    assert list(loss.steps) == [1, 2] and loss.values[0] == 496.0 and math.isnan(loss.values[1])


def test_a_number_before_a_hash_is_still_the_number():
    # look-alikes: an issue number or a heading after a value keeps the value
    assert dict(scan_line("Iteration 100, loss = 1.5 #tag").pairs)["loss"] == 1.5
    assert dict(scan_line("loss: 2.# see below").pairs)["loss"] == 2.0


# ---------------------------------------------------------------- metric keys under a group's name


def _second_pytorch_line(step: int, value: str) -> str:
    # second.pytorch train.py: the nested metrics dict flattened with "." and printed ", ".join(f"{k}={v}")
    return (
        f"runtime.step={step}, runtime.steptime=0.1566, loss.cls_loss={value}, loss.cls_loss_rt={value}, "
        f"loss.loc_loss={value}, loss.loc_loss_rt={value}, loss.loc_elem=[{value}, {value}, {value}], "
        f"loss.cls_pos_rt={value}, loss.cls_neg_rt={value}, loss.dir_rt={value}, rpn_acc=0.9963, "
        "pr.prec@10=0.0, pr.rec@10=0.0, misc.num_vox=10896, misc.num_pos=92, misc.lr=0.0003174"
    )


def test_second_pytorch_grouped_keys_give_the_step_the_loss_and_the_lr():
    series, *_ = parse_log_text(_second_pytorch_line(50, "0.5") + "\n" + _second_pytorch_line(100, "nan") + "\n")
    assert list(series["loss"].steps) == [50, 100]
    assert math.isfinite(series["loss"].values[0]) and math.isnan(series["loss"].values[1])
    assert list(series["learning_rate"].values) == [0.0003174, 0.0003174]
    assert "loss.cls_loss" in series  # a term under the loss's group keeps its name


def test_a_one_line_paste_of_second_pytorch_is_sniffed_as_a_log(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text(_second_pytorch_line(1900, "nan") + "\n", encoding="utf-8")
    assert looks_like_log(path)


def test_olmo_grouped_keys_read_the_loss_and_the_grad_norm():
    # OLMo's trainer logs each metric on its own indented line, f"    {name}={value}", under a step's header
    series, *_ = parse_log_text(
        "    optim/total_grad_norm=0.2310\n    train/CrossEntropyLoss=3.012\n\n"
        "    optim/total_grad_norm=nan\n    train/CrossEntropyLoss=nan\n"
    )
    assert math.isnan(series["grad_norm"].values[-1]) and series["grad_norm"].values[0] == 0.231
    assert series["loss"].values[0] == 3.012 and math.isnan(series["loss"].values[-1])


@pytest.mark.parametrize(
    ("key", "metric", "counter"),
    [
        ("runtime.step", None, "step"),
        ("trainer/global_step", None, "global"),
        ("misc.lr", "learning_rate", None),
        ("optim/total_grad_norm", "grad_norm", None),
        ("optimizer.grad_norm", "grad_norm", None),
        ("train/loss", "loss", None),
        ("train/Perplexity", "train/perplexity", None),  # a stage is no bookkeeping group: read as before
        # look-alikes: a unit before a slash is a rate; a part of the model or a player names which one
        ("time/step", None, None),
        ("samples/step", None, None),
        ("encoder.grad_norm", "encoder.grad_norm", None),
        ("G/loss", "g/loss", None),
        ("runtime.steptime", None, None),
        ("misc.num_vox", None, None),
    ],
)
def test_a_key_under_a_bookkeeping_group_is_read_by_its_leaf(key, metric, counter):
    assert metric_name((key,)) == metric
    assert counter_kind((key,)) == counter
