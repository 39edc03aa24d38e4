"""Shapes the heldout7 real logs showed the tool could not read (docs/logs.md), after that split was
measured once blind: each on lines written here from the toolkit's own format string (toolkit and
source file named beside; the pasted logs stay outside the repository), with a look-alike that must
not move.
"""

from __future__ import annotations

import forensics
from forensics.readers.logs import looks_like_log


def _classification_logger(names: list[str], rows: list[list[float]]) -> str:
    """pytorch-classification's utils/logger.py Logger (copied into many research repos): set_names()
    writes each name then a tab, append() writes each number as '{0:.6f}' then a tab; a newline ends
    each. Its file is usually called log.txt, and its names are capitalised words."""
    out = "".join(f"{name}\t" for name in names) + "\n"
    for row in rows:
        out += "".join(f"{v:.6f}\t" for v in row) + "\n"
    return out


def _is_a_healthy_log(path):
    """The file is sniffed as a log whatever its name, and the run it is the only source of reads healthy."""
    assert looks_like_log(path)
    report = forensics.analyze(str(path.parent))
    assert not any("no training artifacts" in p for p in report.problems)
    assert report.diverged is False
    assert report.verdict.cause == "healthy"


def test_a_log_txt_of_capitalised_column_names_is_a_log_by_its_content(tmp_path):
    # the header names its metrics in capitals only ('Train Loss'): the sniff's words match any case
    rows = [[0.1, 1.9 - 0.1 * i, 0.5 + 0.01 * i, 50.0 + i] for i in range(12)]
    path = tmp_path / "log.txt"
    path.write_text(_classification_logger(["Learning Rate", "Train Loss", "Valid Loss", "Valid Acc."], rows))
    _is_a_healthy_log(path)


def test_the_same_logger_with_its_loss_going_nan_is_a_divergence(tmp_path):
    nan = float("nan")
    rows = [[0.1, 1.9 - 0.1 * i, 0.5] for i in range(8)] + [[0.1, nan, nan] for _ in range(3)]
    (tmp_path / "log.txt").write_text(_classification_logger(["Learning Rate", "Train Loss", "Valid Loss"], rows))
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True


def test_capitalised_prose_is_still_no_log(tmp_path):
    # naming a Loss and an Epoch in capitals in prose does not make a file a log: no metric is read
    path = tmp_path / "NOTES.txt"
    path.write_text(
        "Loss Functions\nThe Training Loop section explains each Epoch.\nSee the Learning Rate chapter.\n",
        encoding="utf-8",
    )
    assert not looks_like_log(path)


def _build_nanogpt_log(train: list[float], every: int = 5) -> str:
    """build-nanogpt's train_gpt2.py (Karpathy, 2024) appends to log/log.txt: f"{step} val {val:.4f}" and
    f"{step} hella {acc_norm:.4f}" at evaluation steps, f"{step} train {loss_accum.item():.6f}" every step."""
    out = ""
    for step, loss in enumerate(train):
        if step % every == 0:
            out += f"{step} val {loss + 0.01:.4f}\n{step} hella {0.24 + 0.001 * step:.4f}\n"
        out += f"{step} train {loss:.6f}\n"
    return out


def test_a_log_txt_of_step_stage_value_lines_is_read_as_that_stage_s_loss(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text(_build_nanogpt_log([10.9 - 0.05 * i for i in range(40)]))
    _is_a_healthy_log(path)


def test_the_same_lines_going_nan_are_a_divergence_at_their_step(tmp_path):
    nan = float("nan")
    (tmp_path / "log.txt").write_text(_build_nanogpt_log([10.9 - 0.05 * i for i in range(30)] + [nan] * 5))
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True
    assert report.first_nonfinite_step == 30


def test_a_stage_word_among_other_words_is_no_loss(tmp_path):
    # only the whole-line shape {step} {stage} {value} reads the stage as the loss: a count of batches, a
    # split's size or a stage beside another name stays what it was
    path = tmp_path / "notes.txt"
    path.write_text("".join(f"{i} train batches of 128\n3 train 0.5 acc\nsplit train 5000\n" for i in range(10)))
    assert not looks_like_log(path)
