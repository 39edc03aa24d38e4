"""A NaN "straight from a normal loss" holds only at the log's resolution: when the log printed its last finite
loss more than one update before the NaN (or prints no counter, or once an epoch), the verdict's summary says
that a climb under a step size too large or growing gradients would print the same. Lines written with
PaddleDetection 0.x's own logger format (ppdet/utils/stats.py via tools/train.py:
"iter: {}, lr: {:.6f}, 'loss_cls': '{:.6f}', ..., eta: {}, batch_cost: {:.5f} sec, ips: {:.5f} images/sec")."""

from __future__ import annotations

import forensics

SENTENCE = "would print the same"


def _paddledet(iters_losses: list[tuple[int, str]]) -> str:
    return "".join(
        f"2020-12-22 08:05:25,238-INFO: iter: {it}, lr: 0.019992, 'loss_cls': '{loss}', 'loss': '{loss}', "
        "eta: 10:52:43, batch_cost: 0.39655 sec, ips: 5.04344 images/sec\n"
        for it, loss in iters_losses
    )


def _analyze(tmp_path, text: str):
    (tmp_path / "train.log").write_text(text, encoding="utf-8")
    return forensics.analyze(str(tmp_path))


def test_a_nan_printed_500_updates_after_the_last_finite_loss_says_a_climb_may_be_unseen(tmp_path):
    finite = [(1240 + 20 * i, f"{1.26 - 0.01 * (i % 3):.6f}") for i in range(7)]
    report = _analyze(tmp_path, _paddledet([*finite, (1860, "nan"), (1880, "nan")]))
    assert report.diverged is True
    summary = report.verdict.summary
    assert "straight from a normal loss" in summary  # only the shape speaks: the lean is said with its limit
    assert "500 updates ran unlogged between step 1360 and step 1860" in summary
    assert SENTENCE in summary


def test_a_nan_printed_one_update_after_the_last_finite_loss_says_nothing_of_unseen_updates(tmp_path):
    finite = [(i, f"{1.26 - 0.01 * (i % 3):.6f}") for i in range(1, 40)]
    report = _analyze(tmp_path, _paddledet([*finite, (40, "nan"), (41, "nan")]))
    assert report.diverged is True
    assert "straight from a normal loss" in report.verdict.summary
    assert SENTENCE not in report.verdict.summary
