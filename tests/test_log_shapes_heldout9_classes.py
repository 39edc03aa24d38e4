"""Issue #11, eleventh round: classes of log formats heldout9's measurement found unread (docs/logs.md).

Every line here is built from the toolkit's own format string (named in a comment), with look-alikes that
must read as before. The toolkits' own format strings are kept as they print ('%' and positional fields).
"""

# ruff: noqa: UP030, UP031, UP032

import math

import pytest

from forensics.readers.logmetrics import main_loss_and_basis, metric_name, nan_note_columns, scan_line
from forensics.readers.logs import parse_log_text


def _series(text: str, file_name: str | None = None) -> dict[str, list[tuple[int, float]]]:
    scalars = parse_log_text(text, file_name)[0]
    return {k: list(zip(v.steps.tolist(), v.values.tolist(), strict=True)) for k, v in scalars.items()}


# ---------------------------------------------------------------- whitespace tables under a '#' header

# DeePMD-kit 2.x (TensorFlow backend, deepmd/train/trainer.py print_header / print_on_training): the header is
# "# %5s" % "step", then "   %11s %11s" % (k + "_val", k + "_trn") per key of the loss's results (only
# "   %11s" % (k + "_trn") without validation data), then "   %8s\n" % "lr" and the note line; each row is
# "%7d" % step, "   %11.2e %11.2e" (or "   %11.2e") per key, "   %8.1e\n" % lr.
_KEYS = ("rmse", "rmse_e", "rmse_f")
_NOTE = "# If there is no available reference data, rmse_*_{val,trn} will print nan\n"


def _deepmd_header(valid: bool) -> str:
    head = "# %5s" % "step"
    for k in _KEYS:
        head += "   %11s %11s" % (k + "_val", k + "_trn") if valid else "   %11s" % (k + "_trn")
    return head + "   %8s\n" % "lr"


def _deepmd_row(step: int, trn: tuple[float, ...], val: tuple[float, ...] | None, lr: float) -> str:
    row = "%7d" % step
    for i in range(len(_KEYS)):
        row += "   %11.2e %11.2e" % (val[i], trn[i]) if val is not None else "   %11.2e" % trn[i]
    return row + "   %8.1e\n" % lr


def test_deepmd_lcurve_without_validation_reads_the_training_rmse_of_the_total_as_the_loss():
    rows = [(0, (27.7, 0.64, 0.87)), (100, (13.9, 0.22, 0.44)), (200, (5.81, 0.01, 0.18))]
    text = _deepmd_header(False) + _NOTE + "".join(_deepmd_row(s, t, None, 1e-3) for s, t in rows)
    got = _series(text, "lcurve.out")
    assert got["loss"] == [(0, 27.7), (100, 13.9), (200, 5.81)]
    assert got["rmse_e_trn"][0] == (0, 0.64) and got["learning_rate"][0] == (0, 1e-3)


def test_deepmd_lcurve_with_validation_keeps_the_training_column_as_the_loss():
    text = _deepmd_header(True) + _NOTE
    text += _deepmd_row(0, (5.82, 0.078, 0.18), (6.60, 0.079, 0.21), 5e-3)
    text += _deepmd_row(100, (0.667, 0.13, 0.021), (0.794, 0.098, 0.025), 5e-3)
    got = _series(text, "lcurve.out")
    assert got["loss"] == [(0, 5.82), (100, 0.667)]
    assert got["rmse_val"] == [(0, 6.6), (100, 0.794)]  # another stage's error: no training loss


def test_a_header_naming_validation_columns_the_rows_do_not_hold_is_read_by_name():
    # DeePMD-kit v3.0.0a1's PyTorch backend headed a run without validation data with the _val columns too, each row
    # holding the training values only (fixed since): the rows are the header's training columns, not its first ones
    text = _deepmd_header(True) + _NOTE
    text += _deepmd_row(0, (8.14, 0.2, 0.257), None, 1e-3) + _deepmd_row(1000, (0.323, 0.00184, 0.159), None, 3.2e-6)
    got = _series(text, "lcurve.out")
    assert got["loss"] == [(0, 8.14), (1000, 0.323)]
    assert got["rmse_f_trn"] == [(0, 0.257), (1000, 0.159)] and "rmse_val" not in got


def test_nan_in_a_column_the_note_says_prints_nan_without_reference_data_is_no_value():
    nan = math.nan
    rows = _deepmd_row(0, (5.8, nan, 0.18), (6.6, nan, 0.21), 1e-3)
    rows += _deepmd_row(100, (0.6, nan, 0.02), (0.7, nan, 0.03), 1e-3)
    with_note = _series(_deepmd_header(True) + _NOTE + rows, "lcurve.out")
    assert with_note["loss"] == [(0, 5.8), (100, 0.6)]
    assert "rmse_e_trn" not in with_note and "rmse_e_val" not in with_note  # no energy labels: nothing measured
    # without the note a NaN is a value as anywhere else
    without = _series(_deepmd_header(True) + rows, "lcurve.out")
    assert math.isnan(without["rmse_e_trn"][0][1])
    # the note's shell pattern: the per-target columns, never the total's
    header = ["#", "step", "rmse_val", "rmse_trn", "rmse_e_val", "rmse_e_trn", "lr"]
    assert nan_note_columns(_NOTE, header) == {"rmse_e_val", "rmse_e_trn"}
    assert nan_note_columns("# rmse_*_{val,trn} will print nan", header) == frozenset()  # no missing data named
    assert nan_note_columns("# step loss", header) == frozenset()


def test_a_commented_header_of_a_research_script_table_is_read():
    # print('# step loss acc') then print(f'{step} {loss:.4f} {acc:.3f}'): the '#' keeps np.loadtxt off the header
    got = _series("# step loss acc\n0 2.3026 0.100\n10 1.9000 0.310\n20 nan 0.100\n")
    assert got["loss"][:2] == [(0, 2.3026), (10, 1.9)] and math.isnan(got["loss"][2][1])
    assert _series("#step  loss\n0  2.30\n10  1.90\n")["loss"] == [(0, 2.3), (10, 1.9)]


def test_look_alikes_of_commented_tables_read_as_before():
    # an accuracy alone is never the loss, nor an unstaged regression error (an evaluation as often)
    assert "loss" not in _series("# step acc\n0 0.10\n10 0.31\n")
    assert "loss" not in dict(main_loss_and_basis(scan_line("epoch 3 mse=0.31, mae=0.22").pairs)[0])
    assert "loss" not in dict(main_loss_and_basis(scan_line("epoch 3 rmse=0.31, val_rmse=0.4").pairs)[0])
    # a table whose '#' column holds the row's index keeps it (the rows have as many fields as the header)
    assert _series("#  loss  acc\n1  0.50  0.90\n2  0.40  0.92\n")["loss"] == [(1, 0.5), (2, 0.4)]
    # a training-stage error is the loss only where nothing else is
    pairs = dict(main_loss_and_basis(scan_line("step 3 loss=0.5 rmse_trn=0.7").pairs)[0])
    assert pairs["loss"] == 0.5 and pairs["rmse_trn"] == 0.7


# ---------------------------------------------------------------- unnamed values after a counter


# pjreddie darknet, examples/detector.c (2018): printf("%ld: %f, %f avg, %f rate, %lf seconds, %d images\n",
# get_current_batch(net), loss, avg_loss, get_current_rate(net), what_time_is_it_now()-time, i*imgs)
def _darknet(i: int, loss: float, avg: float) -> str:
    return "%d: %f, %f avg, %f rate, %lf seconds, %d images\n" % (i, loss, avg, 0.001, 7.2, i * 64)


def test_darknet_reads_the_unnamed_value_before_its_avg_as_the_loss():
    got = _series(_darknet(1, 775.313843, 775.313843) + _darknet(2, 760.5, 773.8) + "3: -nan, -nan avg, 0.001 rate\n")
    assert got["loss"][:2] == [(1, 775.313843), (2, 760.5)] and math.isnan(got["loss"][2][1])
    # examples/classifier.c: "%ld, %.3f: %f, %f avg, %f rate, %lf seconds, %ld images\n" (iteration, epochs seen)
    lm = scan_line("%ld, %.3f: %f, %f avg, %f rate, %lf seconds, %ld images" % (120, 0.384, 6.9, 6.91, 0.1, 0.5, 7680))
    assert lm.pairs == [("loss", 6.9)] and lm.counters == [("step", 120, None)]


def test_alexeyab_darknet_keeps_reading_its_avg_loss():
    # AlexeyAB's fork: "\n %d: %f, %f avg loss, %f rate, %lf seconds, %d images, %f hours left\n"
    fmt = " %d: %f, %f avg loss, %f rate, %lf seconds, %d images, %f hours left"
    line = fmt % (9, 495.9, 496.7, 0.0, 6.0, 576, 17.9)
    assert scan_line(line).pairs == [("loss", 496.7)]


@pytest.mark.parametrize(
    "line",
    [
        "2019-01-02 10:11:12: 0.5, 0.4 avg, 3 rate",
        "epoch 3: 12 batches, 5 avg, 3 rate",
        "Region 82 Avg IOU: 0.37, Class: 0.52, Obj: 0.54, No Obj: 0.53, .5R: 0.16, .75R: 0.0,  count: 6",
        "1: 0.5 avg",  # one value-first name: no darknet line
    ],
)
def test_look_alikes_of_darknet_give_no_loss(line):
    assert not any(t == "loss" for t, _ in scan_line(line).pairs)


# AYLIEN gan-intro, gan.py (2016) and the 1-D GAN tutorials copied from it:
# print('{}: {}\t{}'.format(step, loss_d, loss_g)) every log_every steps
def _gan(step: int, d: float, g: float) -> str:
    return "{}: {}\t{}\n".format(step, d, g)


def test_rows_of_a_step_and_two_unnamed_values_are_read_by_position():
    text = "".join(_gan(s, d, g) for s, d, g in [(0, 1.39, 0.69), (10, 1.2, 0.8), (20, 1.1, 0.9), (30, 1.05, 0.95)])
    got = _series(text)
    assert got["loss"] == [(0, 1.39), (10, 1.2), (20, 1.1), (30, 1.05)]
    assert got["value_2"][0] == (0, 0.69)
    nan_run = _series(_gan(0, math.inf, math.nan) + "".join(_gan(s, math.nan, math.nan) for s in (10, 20, 30)))
    assert nan_run["loss"][0] == (0, math.inf) and math.isnan(nan_run["loss"][1][1])


@pytest.mark.parametrize(
    "text",
    [
        _gan(0, 1.39, 0.69) + _gan(10, 1.2, 0.8),  # two rows: no table yet
        _gan(20, 1.39, 0.69) + _gan(10, 1.2, 0.8) + _gan(30, 1.1, 0.9),  # the counter goes back: no curve
        "Accuracy per class:\n" + "".join(_gan(c, 0.95, 0.93) for c in range(1, 6)),  # rows under another metric
        # a confusion matrix's rows, printed by class index under its heading (found by the round's review)
        "Confusion matrix:\n" + "".join("%d: %.2f %.2f %.2f\n" % (c, 0.9, 0.05, 0.05) for c in range(4)),
        "Normalized confusion matrix\n" + "".join(_gan(c, 0.9, 0.1) for c in range(4)),
        "Per-class recall\n" + "".join(_gan(c, 0.9, 0.1) for c in range(4)),
        "".join("2019-01-0%d: %s %s\n" % (d, 0.5, 0.6) for d in range(1, 6)),  # dates
        "".join("12:3%d: 0.5 0.6\n" % m for m in range(5)),  # times
        "".join("10.0.0.%d:8080 0.5 0.6\n" % h for h in range(5)),  # addresses
        "".join("1.2.%d: 0.5 0.6\n" % v for v in range(5)),  # versions
        "".join("epoch %d: 12 batches\n" % e for e in range(5)),
        "".join("%d: 3 4\n" % s for s in range(5)),  # integers are counts, not values
    ],
)
def test_look_alikes_of_unnamed_rows_give_no_loss(text):
    assert "loss" not in _series(text)


def test_unnamed_rows_never_replace_a_named_loss():
    text = "step 1 loss 2.0\nstep 2 loss 1.9\nstep 3 loss 1.8\n" + "".join(_gan(s, 9.0, 9.0) for s in (10, 20, 30))
    got = _series(text)
    assert [v for _, v in got["loss"]] == [2.0, 1.9, 1.8] and "value_2" not in got


# ---------------------------------------------------------------- abbreviated keys and bracketed groups


# graph_nets' demo notebooks (graph_nets 1.x, shortest_path/sort): print("# {:05d}, T {:.1f}, Ltr {:.4f}, Lge {:.4f},
# Ctr {:.4f}, Str {:.4f}, Cge {:.4f}, Sge {:.4f}".format(iteration, elapsed, loss_tr, loss_ge, ...))
_GRAPH_NETS = "# {:05d}, T {:.1f}, Ltr {:.4f}, Lge {:.4f}, Ctr {:.4f}, Str {:.4f}, Cge {:.4f}, Sge {:.4f}\n"


def test_graph_nets_abbreviations_are_the_training_and_generalisation_losses():
    text = "".join(
        _GRAPH_NETS.format(i * 100, i * 3.0, 1.0 / (i + 1), 1.1 / (i + 1), 0.5, 0.1, 0.5, 0.1) for i in range(3)
    )
    got = _series(text)
    assert [v for _, v in got["loss"]] == [1.0, 0.5, 0.3333]
    assert [v for _, v in got["val_loss"]] == [1.1, 0.55, 0.3667]
    nan = _series(_GRAPH_NETS.format(22253, 14594.9, math.nan, math.nan, 0.53, 0.0, 0.54, 0.0))
    assert math.isnan(nan["loss"][0][1])


def test_look_alikes_of_the_abbreviations_name_nothing():
    assert metric_name(("ultra",)) is None and metric_name(("Ctr",)) is None and metric_name(("Lt",)) is None
    assert "loss" not in dict(scan_line("direction: ltr, width: 0.5").pairs)


# GracoNet train.py: logger.info("[Epoch %d/%d] [Batch %d/%d] [G - gan1: %.3f, gan2: %.3f, rec: %.3f, kld: %.4f]
# [D - real: %.3f, fake1: %.3f, fake2: %.3f]" % (...)) every 10 batches, of the terms' running means
_GRACO = (
    "[Epoch %d/%d] [Batch %d/%d] [G - gan1: %.3f, gan2: %.3f, rec: %.3f, kld: %.4f]"
    " [D - real: %.3f, fake1: %.3f, fake2: %.3f]"
)


def test_a_gans_bracketed_groups_are_its_players_terms():
    line = _GRACO % (11, 11, 3811, 3880, 6.830, 6.101, 0.151, 0.0976, 0.428, 0.016, 0.023)
    pairs, basis = main_loss_and_basis(scan_line(line).pairs)
    got = dict(pairs)
    assert got["loss"] == pytest.approx(6.830 + 6.101 + 0.151 + 0.0976)  # the generator's terms: the model's loss
    assert got["loss_d_fake1"] == 0.016 and "loss_d_fake1" not in (basis or "")
    # two records run together on one line: the loss is the first record's, not the sum of both
    glued = line + _GRACO % (11, 11, 3821, 3880, 6.840, 6.116, 0.151, 0.0988, 0.428, 0.016, 0.022)
    assert dict(main_loss_and_basis(scan_line(glued).pairs)[0])["loss"] == pytest.approx(13.1796)


@pytest.mark.parametrize(
    "line",
    [
        "[G - gan1: 6.830, rec: 0.151]",  # one player: no GAN's groups
        "[D - 3 items] [G - 2 items]",
        "[Epoch 1/5] [Batch 10/100] [D loss: 0.69] [G loss: 0.71]",  # PyTorch-GAN's named losses, read as before
    ],
)
def test_look_alikes_of_player_groups_read_as_before(line):
    pairs = scan_line(line).pairs
    assert not any(t.startswith(("loss_g_", "loss_d_")) for t, _ in pairs)


# DeepFaceLab mainscripts/Trainer.py: loss_string = "{0}[#{1:06d}][{2:04d}ms]".format(time_str, iter, ms) (or
# "[{2:.5s}s]" for a slow iteration), then loss_string += "[%.4f]" % loss_value for each of the model's losses
def test_deepfacelab_status_lines_read_the_sum_of_the_models_losses():
    line = "{0}[#{1:06d}][{2:04d}ms]".format("[12:01:02]", 123, 282) + "[%.4f]" % 0.4512 + "[%.4f]" % 0.3921
    slow = "{0}[#{1:06d}][{2:.5s}s]".format("[12:01:05]", 124, "12.345") + "[%.4f]" % 0.45 + "[%.4f]" % 0.39
    got = _series(line + "\n" + slow + "\n")
    assert got["loss"] == [(123, pytest.approx(0.8433)), (124, pytest.approx(0.84))]
    # the 2019 trainer printed the time bracket alone before the losses
    assert math.isnan(_series("[0282ms][nan][nan]\n")["loss"][0][1])


@pytest.mark.parametrize("line", ["[3][4][5]", "[0282ms]", "[12:01:02][INFO][0.5]", "[0282ms][nan][x]", "[12ms] [0.5]"])
def test_look_alikes_of_status_lines_give_no_loss(line):
    assert "loss" not in _series(line + "\n")


# CRNN_Chinese_Characters_Rec lib/core/function.py validate(): print('Test loss: {:.4f}, accuray: {:.4f}'.format(
# losses.avg, accuracy)) of the validation set; its training lines went to a logger the paste did not keep
def test_a_test_loss_is_the_evaluation_loss_where_the_log_prints_no_other():
    got = _series("Test loss: {:.4f}, accuray: {:.4f}\n".format(0.0086, 0.9872))
    assert got["val_loss"] == [(1, 0.0086)] and "loss" not in got  # the misspelt accuracy is never the loss
    both = _series("step 1 loss 2.0\nstep 2 loss 1.9\nstep 2 Test loss: 0.5, accuray: 0.9\n")
    assert "val_loss" not in both and "test_loss" in both
