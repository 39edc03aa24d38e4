"""A detector's box term going non-finite while its classification terms stay normal (DATA009), and the
faster-rcnn.pytorch records it is read from: lines written here with the toolkit's own format strings
(faster-rcnn.pytorch trainval_net.py: "[session %d][epoch %2d][iter %4d/%4d] loss: %.4f, lr: %.2e", then
"\\t\\t\\tfg/bg=(%d/%d), time cost: %f" and "\\t\\t\\trpn_cls: %.4f, rpn_box: %.4f, rcnn_cls: %.4f, rcnn_box %.4f";
mmdetection 2's TextLoggerHook), with the look-alikes that must not move."""

from __future__ import annotations

import forensics
from forensics.readers.logs import parse_log_text


def _faster_rcnn(records: list[tuple[int, float, tuple[float, float, float, float]]], lr: float = 1e-4) -> str:
    # the toolkit's own %-format strings, kept as it writes them
    out = []
    for it, loss, (rpn_cls, rpn_box, rcnn_cls, rcnn_box) in records:
        out.append("[session %d][epoch %2d][iter %4d/%4d] loss: %.4f, lr: %.2e" % (1, 1, it, 2892, loss, lr))  # noqa: UP031
        out.append("\t\t\tfg/bg=(%d/%d), time cost: %f" % (10, 118, 19.3246))  # noqa: UP031
        terms = "\t\t\trpn_cls: %.4f, rpn_box: %.4f, rcnn_cls: %.4f, rcnn_box %.4f"
        out.append(terms % (rpn_cls, rpn_box, rcnn_cls, rcnn_box))
    return "\n".join(out) + "\n"


def _series(text: str) -> dict[str, tuple[list[int], list[float]]]:
    series, *_ = parse_log_text(text, "train.log")
    return {tag: (list(map(int, s.steps)), list(map(float, s.values))) for tag, s in series.items()}


def _analyze(tmp_path, text: str):
    (tmp_path / "train.log").write_text(text, encoding="utf-8")
    return forensics.analyze(str(tmp_path))


def _rules(report) -> set[str]:
    return {e.rule for c in report.candidates for e in c.evidence if e.weight > 0}


NAN = float("nan")


def test_faster_rcnn_head_terms_are_the_terms_of_the_loss_printed_above_them():
    first = (0, 2.0858, (0.7161, 0.0311, 1.1516, 0.1871))
    text = _faster_rcnn([first, (100, 1.2041, (0.4902, 0.0281, 0.5591, 0.1267))])
    series = _series(text)
    assert series["loss"] == ([0, 100], [2.0858, 1.2041])
    for name in ("loss_rpn_cls", "loss_rpn_box", "loss_rcnn_cls", "loss_rcnn_box"):
        assert series[name][0] == [0, 100], name  # at the record's iteration, not in line order
    assert series["loss_rpn_box"][1] == [0.0311, 0.0281]


def test_a_validation_line_under_a_printed_loss_is_not_the_record_s_terms():
    text = "[session 1][epoch  1][iter  100/2892] loss: 1.2041, lr: 1.00e-04\nTest set: Average loss: 0.9100\n"
    series = _series(text)
    assert series["loss"] == ([100], [1.2041])
    assert 100 not in series.get("val_loss", ([], []))[0]


def test_the_rpn_box_term_going_nan_beside_normal_class_terms_names_the_data(tmp_path):
    text = _faster_rcnn(
        [
            (0, 2.0858, (0.7161, 0.0311, 1.1516, 0.1871)),
            (100, NAN, (0.6902, NAN, 0.2591, 0.0)),
            (200, NAN, (0.6851, NAN, 1.0205, 0.0)),
        ]
    )
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert "DATA009" in _rules(report)
    assert report.verdict.cause == "data_or_labels"
    assert "loss_rpn_box" in report.verdict.summary


def test_every_head_going_nan_together_is_not_read_as_the_box_targets(tmp_path):
    # an LR too high: the shared weights blow up and take every head with them
    every_head = (NAN, NAN, NAN, NAN)
    text = _faster_rcnn(
        [(0, 2.0858, (0.7161, 0.0311, 1.1516, 0.1871)), (100, NAN, every_head), (200, NAN, every_head)], lr=1e-2
    )
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert "DATA009" not in _rules(report)
    assert report.verdict.cause != "data_or_labels" or "box" not in report.verdict.summary


def test_the_class_term_nan_with_a_blown_up_box_term_is_not_read_as_the_box_targets(tmp_path):
    text = _faster_rcnn([(0, 2.0858, (0.7161, 0.0311, 1.1516, 0.1871)), (100, NAN, (NAN, 1310.0702, NAN, 0.0))])
    report = _analyze(tmp_path, text)
    assert "DATA009" not in _rules(report)


def _tf_faster_rcnn(records: list[tuple[int, float, tuple[float, float, float, float]]], lr: float) -> str:
    # tf-faster-rcnn / pytorch-faster-rcnn's train_val.py, its own format strings: 'iter: %d / %d, total loss: %.6f'
    # then ' >>> rpn_loss_cls: %.6f', ' >>> rpn_loss_box: %.6f', ' >>> loss_cls: %.6f', ' >>> loss_box: %.6f',
    # ' >>> lr: %f' (one print, newline-separated), then 'speed: {:.3f}s / iter'
    fmt = (
        "iter: %d / %d, total loss: %.6f\n >>> rpn_loss_cls: %.6f\n >>> rpn_loss_box: %.6f\n >>> loss_cls: %.6f\n"
        " >>> loss_box: %.6f\n >>> lr: %f"
    )
    out = []
    for it, loss, terms in records:
        out.append(fmt % (it, 70000, loss, *terms, lr))
        out.append("speed: {:.3f}s / iter".format(0.412))  # noqa: UP032
    return "\n".join(out) + "\n"


# a climb of the total before the NaN (LR002 reads it as an LR too high), the box term rising with it
_CLIMB = [
    (20, 0.873120, (0.052018, 0.754391, 0.051207, 0.015504)),
    (40, 1.192465, (0.080314, 0.961052, 0.108833, 0.042266)),
    (60, 2.436007, (0.914250, 1.287193, 0.172019, 0.062545)),
]


def test_the_box_term_alone_going_nan_outweighs_the_base_rate_of_a_nan(tmp_path):
    # BOX_TERM_NAN_WEIGHT: a finding that only tied the table's lean toward an operation for a NaN out of a
    # normal level would never name the data
    text = _tf_faster_rcnn([*_CLIMB, (80, NAN, (0.251903, NAN, 0.301877, 0.000000))], lr=0.001)
    report = _analyze(tmp_path, text)
    assert "DATA009" in _rules(report)
    assert report.verdict.cause == "data_or_labels"


def test_every_term_going_nan_after_the_same_climb_stays_off_the_data(tmp_path):
    text = _tf_faster_rcnn([*_CLIMB, (80, NAN, (NAN, NAN, NAN, NAN))], lr=0.001)
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert "DATA009" not in _rules(report)
    assert report.verdict.cause != "data_or_labels"
