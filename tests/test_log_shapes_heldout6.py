"""Shapes the heldout6 real logs showed the tool could not read (docs/logs.md), after that split was
measured once blind: each on lines written here from the format that prints them (named beside; the
pasted logs stay outside the repository), with a look-alike that must not move.
"""

from __future__ import annotations

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
