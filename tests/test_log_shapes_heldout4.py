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


def _baselines_box(kvs: dict[str, object]) -> str:
    """OpenAI baselines / stable-baselines 2.x logger.py HumanOutputFormat.writekvs: floats as
    '%-8.3g', a border of dashes (key width + value width + 7), then '| %s%s | %s%s |' per key,
    sorted, then the border again."""
    key2str = {k: ("%-8.3g" % (v,) if isinstance(v, float) else str(v)) for k, v in kvs.items()}  # noqa: UP031
    kw, vw = max(map(len, key2str)), max(map(len, key2str.values()))
    dashes = "-" * (kw + vw + 7)
    lines = [dashes]
    for key, val in sorted(key2str.items()):
        lines.append("| %s%s | %s%s |" % (key, " " * (kw - len(key)), val, " " * (vw - len(val))))  # noqa: UP031
    lines.append(dashes)
    return "\n".join(lines) + "\n"


def _ppo2_log(policy_losses: list[float]) -> str:
    return "".join(
        _baselines_box(
            {
                "approxkl": 6.6e-05,
                "ep_rewmean": float("nan"),  # no Monitor wrapper: the episode statistics are nan
                "nupdates": i,
                "policy_loss": loss,
                "total_timesteps": 128 * i,
                "value_loss": 63.7,
            }
        )
        for i, loss in enumerate(policy_losses, 1)
    )


def test_a_baselines_key_value_box_is_one_record_and_its_losses_are_read(tmp_path):
    losses = [0.01 - 0.0005 * i for i in range(10)] + [math.nan] * 6
    text = _ppo2_log(losses)
    series = parse_log_text(text)[0]
    assert "ep_rewmean" not in series or all(math.isnan(v) for v in series["ep_rewmean"].values)
    points = _loss(text)
    assert len(points) == len(losses)  # one point per box, not per row
    assert points[0][1] == pytest.approx(0.01)
    assert next(i for i, (_, v) in enumerate(points) if math.isnan(v)) == 10
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(text, encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is True


def test_a_box_whose_episode_statistics_are_nan_and_losses_finite_is_no_divergence(tmp_path):
    text = _ppo2_log([0.01 - 0.0005 * i for i in range(16)])
    assert all(math.isfinite(v) for _, v in _loss(text))
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(text, encoding="utf-8")
    assert forensics.analyze(str(run)).diverged is False


def test_stable_baselines3_groups_its_keys_under_a_prefix_row():
    # stable-baselines3 logger.py: "| train/ |  |" then the group's keys indented by four blanks
    box = (
        "------------------------------\n"
        "| rollout/           |       |\n"
        "|    ep_rew_mean     | nan   |\n"
        "| train/             |       |\n"
        "|    loss            | 0.52  |\n"
        "|    value_loss      | 3.1   |\n"
        "------------------------------\n"
    )
    assert _loss(box * 3) == [(1, 0.52), (2, 0.52), (3, 0.52)]


def test_a_rule_of_dashes_and_a_two_column_row_outside_a_box_read_as_before():
    text = "----------------\nstep 1 loss 2.0\nstep 2 loss 1.9\n----------------\n| note | nan |\nstep 3 loss 1.8\n"
    assert _loss(text) == [(1, 2.0), (2, 1.9), (3, 1.8)]
