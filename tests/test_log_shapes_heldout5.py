"""Shapes the heldout5 real logs showed the tool could not read (docs/logs.md), after that split was
measured once blind: each on lines written here from the toolkit's own format string (toolkit and
source file named beside; the pasted logs stay outside the repository), with a look-alike that must
not move.
"""

from __future__ import annotations

import forensics
from forensics.readers.logs import looks_like_log, parse_log_text
from tests.test_log_shapes_heldout4 import _baselines_box


def _diffusion_tail(lg_scales: list[float]) -> str:
    """openai guided-diffusion / improved-diffusion (2021): logger.dumpkvs() writes the baselines
    key/value box (logger.py HumanOutputFormat), and fp16_util.py's MixedPrecisionTrainer prints
    f"Found NaN, decreased lg_loss_scale to {self.lg_loss_scale}" for every step it skips."""
    nan = float("nan")
    box = _baselines_box(
        {"grad_norm": nan, "lg_loss_scale": lg_scales[0], "loss": nan, "mse": nan, "samples": 3.9e7, "step": 1.5e5}
    )
    return box + "".join(f"Found NaN, decreased lg_loss_scale to {lg}\n" for lg in lg_scales[1:])


def test_a_file_of_unknown_name_holding_one_key_value_box_is_a_log_by_its_content(tmp_path):
    # the box gives its record at its closing border, and its border and the rows naming no metric
    # word ("samples") must not be skipped by the sniff: every row of it printed a metric
    path = tmp_path / "log.txt"
    path.write_text(_diffusion_tail([-16199.354]) + "Saving model...\n", encoding="utf-8")
    assert looks_like_log(path)


def test_the_diffusion_scaler_running_away_after_a_nan_box_is_read_and_diverged(tmp_path):
    (tmp_path / "log.txt").write_text(_diffusion_tail([-16199.354 - i for i in range(6)]), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True
    assert not any("no training artifacts" in p for p in report.problems)


def test_a_table_of_words_between_rules_of_dashes_is_no_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(
        "------------------------\n| author   | someone   |\n| dataset  | imagenet  |\n------------------------\n"
        "Found the bug in the augmentation, see the thread.\n",
        encoding="utf-8",
    )
    assert not looks_like_log(path)


def test_the_scaler_s_lines_alone_are_a_working_scaler_not_a_divergence(tmp_path):
    # improved-diffusion's scaler halving a few times from 2**20 and training on: transient skips
    lines = "".join(f"Found NaN, decreased lg_loss_scale to {19.0 - i}\n" for i in range(2))
    box = "".join(_baselines_box({"loss": 0.05 - 0.001 * i, "lg_loss_scale": 18.0, "step": 100 * i}) for i in range(8))
    (tmp_path / "log.txt").write_text(lines + box, encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is False


def _pipe_engine_lines(losses: list[float], first_step: int = 1) -> str:
    """DeepSpeed's pipeline engine (runtime/pipe/engine.py, train_batch, steps_per_print=1):
    f'steps: {self.global_steps} loss: {self.agg_train_loss:0.4f} iter time (s): {iter_time:0.3f}
    samples/sec: {tput:0.3f}', with the engine's log_dist step line between them."""
    out = []
    for i, loss in enumerate(losses):
        step = first_step + i
        out.append(f"steps: {step} loss: {loss:0.4f} iter time (s): {3.181:0.3f} samples/sec: {0.314:0.3f}\n")
        out.append(f"[INFO] [logging.py:128:log_dist] [Rank 0] step={step + 1}, skipped=0, lr=[1e-06], mom=[0.0]\n")
    return "".join(out)


def test_deepspeed_s_pipeline_engine_lines_count_their_steps(tmp_path):
    losses = [0.9 - 0.02 * i for i in range(17)] + [float("nan")] * 5
    points = parse_log_text(_pipe_engine_lines(losses, first_step=1))[0]["loss"]
    assert list(points.steps[:3]) == [1, 2, 3]
    (tmp_path / "train.log").write_text(_pipe_engine_lines(losses), encoding="utf-8")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged is True and report.first_nonfinite_step == 18


def test_a_plural_counter_alone_is_a_setting_not_a_step():
    # "steps: 1000" printed among the settings, then the loop's own counter: the setting moves nothing
    text = "total steps: 1000\nsteps: 1000\n" + "".join(f"step {i} loss {2.0 - 0.1 * i}\n" for i in range(1, 4))
    points = parse_log_text(text)[0]["loss"]
    assert list(points.steps) == [1, 2, 3]
