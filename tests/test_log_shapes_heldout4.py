"""Shapes the heldout4 real logs showed the extractor could not read (docs/logs.md), each on lines
written here by the toolkit's own code or format string (toolkit, version and source file named
beside; the pasted logs stay outside the repository), each with a look-alike that must not move.
"""

from __future__ import annotations

import io
import math

import pytest
from tqdm import tqdm

import forensics
from forensics.readers.logs import parse_log_text


def _sd_scripts_log(avr_losses: list[float], steps_per_epoch: int = 4) -> str:
    """kohya-ss sd-scripts (train_network.py, 2023-2025): a tqdm bar over max_train_steps with
    desc="steps", its postfix set_postfix(avr_loss=loss_recorder.moving_average) after each step,
    and accelerator.print(f"\\nepoch {epoch+1}/{num_train_epochs}") at each epoch's start; drawn
    here by tqdm itself."""
    out = io.StringIO()
    epochs = len(avr_losses) // steps_per_epoch
    bar = tqdm(range(len(avr_losses)), desc="steps", file=out, mininterval=0, miniters=1, ascii=False)
    for epoch in range(epochs):
        out.write(f"\nepoch {epoch + 1}/{epochs}\n")
        for i in range(steps_per_epoch):
            bar.update(1)
            bar.set_postfix(avr_loss=avr_losses[epoch * steps_per_epoch + i])
    bar.close()
    return out.getvalue()


def _loss(text: str) -> list[tuple[int, float]]:
    s = parse_log_text(text)[0]["loss"]
    return list(zip(s.steps.tolist(), s.values.tolist(), strict=True))


def test_sd_scripts_steps_bar_and_its_avr_loss_are_the_training_loss(tmp_path):
    losses = [0.2 - 0.01 * i for i in range(8)] + [math.nan] * 8
    points = _loss(_sd_scripts_log(losses))
    assert points[0][1] == pytest.approx(0.2)
    assert math.isnan(points[-1][1])
    first_nan = next(step for step, v in points if math.isnan(v))
    assert first_nan == 9  # the bar's counter: steps done
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(_sd_scripts_log(losses), encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is True


def test_sd_scripts_run_whose_avr_loss_stays_finite_is_healthy(tmp_path):
    losses = [0.2 - 0.005 * i for i in range(16)]
    assert all(math.isfinite(v) for _, v in _loss(_sd_scripts_log(losses)))
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(_sd_scripts_log(losses), encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is False


def test_a_bar_named_otherwise_than_the_training_loop_is_not_the_loss():
    # a data-preparation bar with a loss-like postfix (latents cached, a sampler's loss) is not the
    # training loop's bar: only its steps/train bar is read once a training bar set the total
    out = io.StringIO()
    main = tqdm(range(10), desc="steps", file=out, mininterval=0, miniters=1)
    for i in range(10):
        main.update(1)
        main.set_postfix(avr_loss=0.5 - 0.01 * i)
    other = tqdm(range(3), desc="caching latents", file=out, mininterval=0, miniters=1)
    for _ in range(3):
        other.update(1)
        other.set_postfix(loss=float("nan"))
    text = out.getvalue()
    assert all(math.isfinite(v) for _, v in _loss(text))


def _trainer_notebook_table(columns: list[str], rows: list[dict]) -> str:
    """transformers 4.x NotebookProgressCallback (utils/notebook.py): the notebook's progress table
    with a column per logged name, "No log" where a row lacks a value; pasted into a GitHub issue
    the HTML table becomes a markdown one, its header, a "-- | --" delimiter row, then the rows."""
    lines = [" | ".join(columns), " | ".join("--" for _ in columns)]
    for row in rows:
        lines.append(" | ".join(str(row.get(c, "No log")) for c in columns))
    return "\n".join(lines) + "\n"


TRL_COLUMNS = ["Step", "Training Loss", "reward", "kl", "entropy"]


def test_a_markdown_progress_table_is_columns_under_its_header(tmp_path):
    rows = [{"Step": s, "Training Loss": f"{0.9 - 0.02 * s:.6f}", "reward": 1.0, "kl": "nan"} for s in range(1, 12)]
    rows[0]["entropy"] = 0
    rows += [{"Step": s, "Training Loss": "nan", "reward": 0.0, "kl": "nan"} for s in range(12, 20)]
    text = _trainer_notebook_table(TRL_COLUMNS, rows)
    points = _loss(text)
    assert points[0] == (1, pytest.approx(0.88))
    assert next(step for step, v in points if math.isnan(v)) == 12
    assert len(points) == len(rows)  # "No log" cells skipped, not the rows
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(text, encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is True


def test_a_markdown_table_whose_loss_stays_finite_is_healthy_whatever_its_other_columns(tmp_path):
    # TRL's GRPO with beta=0 computes no KL: the kl column is nan while the loss is fine
    rows = [{"Step": s, "Training Loss": f"{-0.28 + 0.02 * s:.6f}", "reward": 6.0, "kl": "nan"} for s in range(1, 20)]
    text = _trainer_notebook_table(TRL_COLUMNS, rows)
    assert all(math.isfinite(v) for _, v in _loss(text))
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(text, encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is False


@pytest.mark.parametrize("line", ["-- | --", "|:---|---:|", "---|---|---"])
def test_a_delimiter_row_without_a_header_above_is_no_table(line):
    text = f"{line}\n1 | nan | 3\n2 | nan | 4\n"
    assert "loss" not in parse_log_text(text)[0]
