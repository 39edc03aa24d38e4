"""A cross-entropy below zero (DATA010): targets outside [0, 1]. Lines written here in DETR's MetricLogger format
(engine.py's MetricLogger.log_every: '{header}  [{i}/{n}]  eta: {eta}  {meters}  time: {time}  data: {data}', each
meter '{name}: {median:.4f} ({global_avg:.4f})'), with the names that must keep a negative value from firing it."""

from __future__ import annotations

import pytest

import forensics
from forensics.rules.data_or_labels import NEGATIVE_CE_MARGIN, _names_cross_entropy


def _detr(terms: dict[str, list[float]]) -> str:
    n = len(next(iter(terms.values())))
    out = []
    for i in range(n):
        meters = "  ".join(f"{name}: {v[i]:.4f} ({v[i]:.4f})" for name, v in terms.items())
        out.append(f"Epoch: [0]  [{i * 10:>4}/7393]  eta: 1:02:03  lr: 0.000100  {meters}  time: 0.5000  data: 0.0100")
    return "\n".join(out) + "\n"


def _rules(tmp_path, text: str):
    (tmp_path / "log.txt").write_text(text, encoding="utf-8")
    rep = forensics.analyze(str(tmp_path))
    return rep, {e.rule for c in rep.candidates for e in c.evidence if e.weight > 0}


def _falling(start: float, step: float, n: int = 40) -> list[float]:
    return [start - step * i for i in range(n)]


def test_a_cross_entropy_term_running_below_zero_names_targets_out_of_range(tmp_path):
    # masks saved as 0..255: a BCE's value is -t log p - (1 - t) log(1 - p), unbounded below once t > 1
    text = _detr({"loss": _falling(2.0, 0.3), "loss_ce": _falling(0.7, 0.3), "loss_bbox": [0.3] * 40})
    rep, rules = _rules(tmp_path, text)
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")


@pytest.mark.parametrize(
    "name",
    [
        "loss_nll",  # a density's negative log-likelihood goes below zero by design (WaveGlow, flows)
        "loss_kl",
        "loss_dice_ce",  # a Dice + CE combination is a sum: 1 - Dice is not a cross-entropy
        "loss_g",  # a GAN generator's loss
        "loss_adv_bce",
        "loss_total",
    ],
)
def test_losses_that_may_be_negative_by_design_do_not_fire_it(tmp_path, name):
    text = _detr({"loss": _falling(2.0, 0.01), name: _falling(0.7, 0.3), "loss_bbox": [0.3] * 40})
    _, rules = _rules(tmp_path, text)
    assert "DATA010" not in rules


def test_a_cross_entropy_rounded_just_below_zero_is_not_it(tmp_path):
    ce = [0.5 / (i + 1) for i in range(39)] + [-NEGATIVE_CE_MARGIN / 10]
    _, rules = _rules(tmp_path, _detr({"loss": _falling(2.0, 0.01), "loss_ce": ce}))
    assert "DATA010" not in rules


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ("loss_ce", True),
        ("train/bce_loss", True),
        ("cross_entropy", True),
        ("softmax_loss", True),
        ("binary_crossentropy", True),
        ("loss", False),
        ("entropy", False),  # a policy's entropy (continuous actions: below zero by design)
        ("bce_dice_loss", False),
        ("d_loss_bce", False),
        ("nll_loss", False),
        ("space_loss", False),
    ],
)
def test_which_names_say_cross_entropy(tag, named):
    assert _names_cross_entropy(tag) is named
