"""Issue #11, fourteenth round: shapes of heldout18's unread logs (docs/logs.md), on lines built from the toolkit's own
format string (named in a comment), with look-alikes that must read as before.
"""

import json
import math

import pytest

import forensics
from forensics.readers.logmetrics import yolo_2019_row
from forensics.readers.logs import parse_log_text


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


# ---------------------------------------------------------------- ultralytics YOLOv3's 2019 batch rows


def _yolo_2019_row(epoch, epochs, i, nb, terms, targets=116, t=0.273, results=None):
    """ultralytics/yolov3 train.py (early 2019) and its forks: ('%8s%12s' + '%10.3g' * 7) % ('%g/%g' % (epoch, epochs -
    1), '%g/%g' % (i, nb - 1), *mloss, len(targets), time.time() - t), mloss the running means of xy, wh, conf, cls and
    their total; results.txt appends '%11.3g' * 5 % (P, R, mAP, F1, test_loss) to the epoch's last row."""
    total = math.fsum(terms)
    s = ("%8s%12s" + "%10.3g" * 7) % (f"{epoch}/{epochs - 1}", f"{i}/{nb - 1}", *terms, total, targets, t)
    return s + ("%11.3g" * 5 % results if results else "")


def test_yolov3_2019_rows_give_the_total_at_the_epoch_and_batch_they_count():
    rows = [_yolo_2019_row(0, 273, i, 7329, [0.5 - 0.01 * i, 0.4, 3.0 - 0.1 * i, 1.2]) for i in range(10)]
    rows += [_yolo_2019_row(1, 273, i, 7329, [0.3, 0.35, 1.5, 0.9]) for i in range(3)]
    series, *_ = parse_log_text("\n".join(rows) + "\n")
    points = _points(series, "loss")
    assert [s for s, _ in points] == [*range(10), 7329, 7330, 7331]
    assert math.isclose(points[0][1], 0.5 + 0.4 + 3.0 + 1.2, rel_tol=1e-2)


def test_yolov3_2019_rows_gone_nan_are_a_divergence_at_their_batch(tmp_path):
    nan = float("nan")
    rows = [_yolo_2019_row(0, 273, i, 7329, [0.5, 0.4, 3.0 - 0.1 * i, 1.2]) for i in range(6)]
    rows += [_yolo_2019_row(0, 273, i, 7329, [nan] * 4) for i in range(6, 12)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.txt").write_text("\n".join(rows) + "\n")
    report = forensics.analyze(run)
    assert report.diverged is True
    assert report.first_nonfinite_step == 6


def test_a_yolov3_2019_results_txt_row_gives_the_test_loss_too():
    row = _yolo_2019_row(4, 273, 7328, 7329, [0.3, 0.35, 1.5, 0.9], results=(0.41, 0.52, 0.38, 0.45, 2.7))
    lm = yolo_2019_row(row)
    assert lm is not None
    assert lm.pairs[1] == ("val_loss", 2.7)


def test_two_counters_and_seven_numbers_that_hold_no_total_are_no_yolov3_row():
    # the fifth number is not the sum of the four before it: another table's row
    assert (
        yolo_2019_row("   0/272     18/7328      0.25      0.31      0.12      0.05      9.99       116     0.273")
        is None
    )
    # finite terms beside a non-finite total, or nothing but zeros, say nothing of which columns are the terms
    assert yolo_2019_row("   0/9     0/99      0.1      0.2      0.3      0.4      nan       5     6") is None
    assert yolo_2019_row("   0/9     0/99        0        0        0        0        0       5     6") is None
    # a counter past its total is no such row either
    assert (
        yolo_2019_row("   9/5     18/7328      0.25      0.31      0.12      0.05      0.73       116     0.273")
        is None
    )


def test_a_yolov3_2019_results_txt_is_read_one_epoch_a_row():
    rows = [
        _yolo_2019_row(
            e, 273, 7328, 7329, [0.3, 0.35, 1.5 - 0.1 * e, 0.9], results=(0.41, 0.52, 0.38, 0.45, 2.7 - 0.1 * e)
        )
        for e in range(5)
    ]
    series, *_ = parse_log_text("\n".join(rows) + "\n", "results.txt")
    assert [s for s, _ in _points(series, "loss")] == [7328 + 7329 * e for e in range(5)]
    assert [round(v, 3) for _, v in _points(series, "val_loss")] == [2.7, 2.6, 2.5, 2.4, 2.3]


# ---------------------------------------------------------------- tqdm bars copied out of a notebook


def test_yolov7_bar_rows_copied_out_of_colab_without_their_bar_are_read():
    # YOLOv7 train.py: s = ('%10s' * 2 + '%10.4g' * 6) % (f'{epoch}/{epochs - 1}', mem, *mloss, targets, img_size)
    # as the tqdm bar's description; Colab draws the bar as a widget, and its text keeps '96% 23/24 [00:48<00:02, ..]'
    header = ("%10s" * 8) % ("Epoch", "gpu_mem", "box", "obj", "cls", "total", "labels", "img_size")
    rows = [
        ("%10s" * 2 + "%10.4g" * 6) % ("0/54", "10.6G", 0.07 - 0.001 * n, 0.021, 0.0, 0.091 - 0.001 * n, 74, 640)
        + f": {100 * n // 24:3d}% {n}/24 [00:{2 * n:02d}<00:{48 - 2 * n:02d},  2.13s/it]"
        for n in range(1, 5)
    ]
    series, *_ = parse_log_text(header + "\n" + "\n".join(rows) + "\n")
    assert [s for s, _ in _points(series, "loss")] == [1, 2, 3, 4]


def test_a_lightning_bar_copied_out_of_a_notebook_gives_its_postfix_loss():
    lines = [
        f"Epoch 0:  {n}% {n * 10}/1000 [00:{n:02d}<01:40,  9.8it/s, loss={2.0 - 0.1 * n:.3f}, v_num=0]"
        for n in range(1, 6)
    ]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    # read as Lightning's bar: the postfix shown at batch n is batch n-1's (with v_num in it), as for the drawn bar
    assert [s for s, _ in _points(series, "loss")] == [9, 19, 29, 39, 49]


@pytest.mark.parametrize(
    "line",
    [
        "Progress: 50% 3/6 [done]",  # no tqdm times in the bracket
        "Accuracy on the test set: 96% 23/24 [of the classes]",
    ],
)
def test_a_percentage_and_a_count_with_no_tqdm_times_are_no_bar(line):
    from forensics.readers.logs import _tqdm_bars

    assert list(_tqdm_bars(line)) == []


# ---------------------------------------------------------------- a loss far below zero


def _chainer_report(points: list[tuple[int, float]]) -> str:
    """ESPnet 1's log file: chainer's LogReport writes its reports as one JSON list (json.dump, indent=4), a dict per
    report with 'main/loss' and its terms, the epoch, the iteration and the elapsed time."""
    reports = [
        {
            "main/loss_ctc": 2 * loss,
            "main/loss_att": 15.8,
            "main/acc": 0.96,
            "main/loss": loss,
            "epoch": it // 1000,
            "iteration": it,
            "elapsed_time": 28301.3,
        }
        for it, loss in points
    ]
    return json.dumps(reports, indent=4) + "\n"


def test_a_loss_past_minus_1e16_is_a_divergence_and_a_flows_negative_nll_is_not(tmp_path):
    for name, points, diverged in (
        # the two reports a paste kept, both past it (no finite point before them to climb from)
        ("pasted", [(122600, -1.1342744887950961e35), (234600, -1.1342744887950961e35)], True),
        ("flow", [(1000, -812.5), (2000, -1503.2), (3000, -2210.9), (4000, -2980.4)], False),
    ):
        run = tmp_path / name
        run.mkdir()
        (run / "log").write_text(_chainer_report(points))
        assert forensics.analyze(run).diverged is diverged, name
