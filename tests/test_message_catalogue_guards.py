"""Guards that zero or skip a non-finite loss and go on, clip_grad_norm_'s non-finite norm, and a
non-finite validation loss beside a finite training loss (issue 11): each text as its toolkit prints it,
built from the format string in its source (toolkit and version named at each; the lines themselves are
read to their family with the rest of the catalogue in tests/test_message_catalogue.py), and the healthy
look-alike of each beside the divergence it must still be told from.

None of these toolkits is installed here except PyTorch, whose current release no longer prints the
clip_grad_norm_ warning (it was PyTorch 1.9-1.12's): so the lines are filled in from the format strings.
"""

from __future__ import annotations

import json

import forensics


def _analyze(tmp_path, text: str, name: str = "train.log"):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


def _died_after_losses(n: int, frame: str, source: str, exception: str) -> str:
    """n finite loss lines, then the traceback Python prints: one frame, its source line, the exception."""
    text = "".join(f"step {i} loss {3.0 - 0.02 * i:.3f}\n" for i in range(1, n + 1))
    return text + f"Traceback (most recent call last):\n  {frame}\n    {source}\n{exception}\n"


def _rules(rep) -> set[str]:
    return {e.rule for c in rep.candidates for e in c.evidence}


# ------------------------------------------------------------------ a guard that zeroes the loss and goes on


def _deepspeech(skips_from: int | None, only: int | None = None, n: int = 200) -> str:
    """deepspeech.pytorch 2019-2020 train.py: check_loss's warning and 'Skipping grad update' on a skipped step
    (whose loss then counts as 0), and its per-iteration line ('Epoch: [{0}][{1}/{2}]\\tTime {batch_time.val:.3f}
    ({batch_time.avg:.3f})\\tData {data_time.val:.3f} ({data_time.avg:.3f})\\tLoss {loss.val:.4f}
    ({loss.avg:.4f})\\t')."""
    lines, total = [], 0.0
    for i in range(1, n + 1):
        value = 80.0 * 0.99**i + 5.0
        if (skips_from is not None and i >= skips_from) or i == only:
            lines += ["WARNING: received a nan loss, setting loss value to 0", "Skipping grad update"]
            value = 0.0
        total += value
        lines.append(
            f"Epoch: [1][{i}/{n}]\tTime 0.512 (0.498)\tData 0.010 (0.011)\tLoss {value:.4f} ({total / i:.4f})\t"
        )
    return "\n".join(lines) + "\n"


def test_an_isolated_zeroed_step_is_a_guard_working(tmp_path):
    rep = _analyze(tmp_path, _deepspeech(None, only=120))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "LOG005" in _rules(rep)
    # the 0 it counted for the skipped step is no point of the loss: the curve has no dip to 0
    assert rep.first_nonfinite_step is None


def test_zeroed_steps_to_the_end_of_the_log_are_a_divergence(tmp_path):
    rep = _analyze(tmp_path, _deepspeech(120))
    assert rep.diverged
    # the guard's stand-in zeros are not read as a finite loss: the divergence is placed at the first skip
    assert rep.first_nonfinite_step is not None and 118 <= rep.first_nonfinite_step <= 120
    assert "LOG005" not in _rules(rep)


def test_deepspeech_s_later_raise_is_a_stop(tmp_path):
    text = _died_after_losses(
        29,
        'File "deepspeech_pytorch/model.py", line 160, in training_step',
        "raise Exception('WARNING: received a nan loss')",
        "Exception: WARNING: received a nan loss",
    )
    rep = _analyze(tmp_path, text)
    assert rep.diverged and json.loads(rep.to_json())["ended"] == "stopped"


# ------------------------------------------------------------------ clip_grad_norm_'s non-finite norm

CLIP_WARNING = (
    "train.py:409: FutureWarning: Non-finite norm encountered in torch.nn.utils.clip_grad_norm_; continuing anyway. "
    "Note that the default behavior will change in a future release to error out if a non-finite total norm is "
    "encountered. At that point, setting error_if_nonfinite=false will be required to retain the old behavior.\n"
    "  torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)  # clip gradients\n"
)


def _loop(n: int, warn_at: int, nan_from: int | None = None) -> str:
    lines = []
    for i in range(1, n + 1):
        value = "nan" if nan_from is not None and i >= nan_from else f"{3.0 * 0.98**i:.4f}"
        lines.append(f"step {i * 10} loss {value}\n")
        if i == warn_at:
            lines.append(CLIP_WARNING)
    return "".join(lines)


def test_the_clip_warning_in_a_run_that_trains_on_is_a_skipped_step(tmp_path):
    rep = _analyze(tmp_path, _loop(100, 40))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "LOG005" in _rules(rep)


def test_the_clip_warning_glued_to_a_yolov5_bar_keeps_the_bar_read(tmp_path):
    # YOLOv5 6.x/7.0 train.py: the tqdm row ('%11s' * 2 + '%11.4g' * 5 after the header) with the warning that
    # stderr wrote into it (AMP: the GradScaler then skips the step)
    header = "      Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size\n"
    rows = []
    for e in range(4):
        for k, (n, pct) in enumerate(((1, "  0%"), (50, " 50%"), (100, "100%"))):
            f = 0.95 ** (e * 3 + k)
            row = (
                f"{f'{e}/99':>11}{'16.9G':>11}{0.05 * f:>11.4g}{0.06 * f:>11.4g}{0.015 * f:>11.4g}{366:>11}{640:>11}: "
                f"{pct}|###       | {n}/100 [00:10<00:20,  1.66it/s]"
            )
            rows.append(row + (CLIP_WARNING if (e, k) == (1, 1) else "\n"))
    rep = _analyze(tmp_path, header + "".join(rows))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "LOG005" in _rules(rep)


def test_the_clip_warning_then_a_nan_loss_is_the_loss_s_divergence(tmp_path):
    rep = _analyze(tmp_path, _loop(60, 40, nan_from=41))
    assert rep.diverged and rep.first_nonfinite_step == 410


def test_the_clip_warning_alone_at_the_end_does_not_make_a_run_diverged(tmp_path):
    rep = _analyze(tmp_path, _loop(40, 40))
    assert not rep.diverged
    assert "LOG005" not in _rules(rep)  # nothing after it says the step was skipped


def test_the_clip_error_is_a_divergence_whatever_the_loss_says(tmp_path):
    text = _died_after_losses(
        39,
        'File "train.py", line 80, in <module>',
        "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True)",
        "RuntimeError: The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be "
        "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
        "`error_if_nonfinite=False`",
    )
    rep = _analyze(tmp_path, text)
    assert rep.diverged and rep.first_nonfinite_step == 39


# ------------------------------------------------------------------ a non-finite validation loss


def _keras(epochs: int, val_nan_from: int, train_nan_from: int | None = None) -> str:
    """tf.keras 2.x fit(verbose=1), the epoch's last progress line ('{n}/{n} [===...] - {t}s {ms}ms/step - loss:
    {v:.4f} - val_loss: {v:.4f}'; a NaN prints as 'nan')."""
    lines = []
    for e in range(1, epochs + 1):
        loss = 2.0 * 0.8**e
        train = "nan" if train_nan_from is not None and e >= train_nan_from else f"{loss:.4f}"
        val = "nan" if e >= val_nan_from else f"{1.1 * loss:.4f}"
        lines.append(f"Epoch {e}/{epochs}\n")
        lines.append(
            f"100/100 [==============================] - 3s 30ms/step - loss: {train} - accuracy: 0.8000 - "
            f"val_loss: {val} - val_accuracy: 0.7000\n"
        )
    return "".join(lines)


def test_a_nan_validation_loss_with_training_going_on_finite_is_the_evaluation_s_fault(tmp_path):
    rep = _analyze(tmp_path, _keras(10, 3))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "Only the validation loss went non-finite" in rep.verdict.summary
    assert "at step 300" in rep.verdict.summary  # where: the third epoch's end
    assert "OK004" in _rules(rep)


def test_a_nan_evaluation_dict_between_finite_training_dicts_is_no_divergence(tmp_path):
    # the HF Trainer's log lines (trainer.py self.log: a dict printed per logging step, and the eval dict
    # 'eval_loss' after each evaluation)
    lines = []
    for e in range(1, 6):
        for k in range(1, 5):
            lines.append(
                str({"loss": round(2.0 * 0.9 ** (e * 4 + k), 4), "learning_rate": 5e-05, "epoch": e - 1 + k / 4})
            )
        lines.append(
            "{'eval_loss': nan, 'eval_runtime': 1.2, 'eval_samples_per_second': 100.0, 'eval_steps_per_second': 12.5, "
            f"'epoch': {float(e)}}}"
        )
    rep = _analyze(tmp_path, "\n".join(lines) + "\n")
    assert not rep.diverged
    assert "Only the validation loss went non-finite" in rep.verdict.summary


def _plain(epochs: int, val_nan_from: int) -> list[str]:
    """A research loop's prints: print(f'Epoch {e} Iter {i}/{n} Train loss: {loss:.4f}') and, after each
    epoch's evaluation, print(f'Epoch {e} Validation loss: {val}')."""
    lines = []
    for e in range(1, epochs + 1):
        for i in range(1, 6):
            lines.append(f"Epoch {e} Iter {i * 100}/500 Train loss: {3 * 0.9 ** (e * 5 + i):.4f}")
        lines.append(f"Epoch {e} Validation loss: {'nan' if e >= val_nan_from else round(2 * 0.9**e, 4)}")
    return lines


def test_a_validation_loss_that_went_nan_after_finite_evaluations_at_the_record_s_end_is_a_divergence(tmp_path):
    # the same set evaluated finite for five epochs; the sixth evaluation is the record's last look at the weights
    rep = _analyze(tmp_path, "\n".join(_plain(8, 6)[:36]) + "\n")
    assert rep.diverged and rep.first_nonfinite_step == 3000
    assert rep.verdict.summary.startswith("Only the validation loss went non-finite")


def test_the_findings_on_a_divergence_read_from_the_validation_loss_say_which_loss_went_nan(tmp_path):
    rep = _analyze(tmp_path, "\n".join(_plain(8, 6)[:36]) + "\n")
    said = [e.message for c in rep.candidates for e in c.evidence if e.rule == "DATA006"]
    assert said and all("then the validation loss was NaN at step 3000" in m for m in said)
    assert all(m.startswith("The training loss was finite") for m in said)


def test_the_same_validation_nan_followed_by_finite_training_is_not(tmp_path):
    rep = _analyze(tmp_path, "\n".join(_plain(8, 6)) + "\n")
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "OK004" in _rules(rep)


def test_a_validation_nan_from_its_first_evaluation_with_nothing_after_is_stated_unsure(tmp_path):
    rep = _analyze(tmp_path, _keras(1, 1))
    assert not rep.diverged
    assert rep.verdict.confidence <= 0.5
    assert "Only the validation loss went non-finite" in rep.verdict.summary


def test_a_training_nan_is_the_divergence_whatever_the_validation_did(tmp_path):
    rep = _analyze(tmp_path, _keras(6, 4, train_nan_from=5))
    assert rep.diverged and rep.first_nonfinite_step == 500
    assert "OK004" not in _rules(rep)


# ------------------------------------------------------------------ a non-finite validation loss and restarts
# "after it" is in the order the log wrote the points: after a restart the steps start over, so a step number
# alone does not say which training loss came after the validation's non-finite point.


def test_a_validation_nan_before_a_restart_with_training_going_on_finite_is_no_divergence(tmp_path):
    # the first run trains on finite after its validation NaN (epochs 4-6), then the job restarts and trains finite:
    # the restart's shorter history is no evidence that nothing came after the NaN
    rep = _analyze(tmp_path, _keras(6, 4) + _keras(3, 99))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "after a restart" in rep.verdict.summary
    assert "OK004" in _rules(rep)


def test_a_validation_nan_after_finite_evaluations_at_the_end_of_a_restarted_run_is_a_divergence(tmp_path):
    # a long first run, then a restart whose last evaluation goes NaN after finite ones: the first run's later
    # steps are not 'after' it
    rep = _analyze(tmp_path, _keras(10, 99) + _keras(3, 3))
    assert rep.diverged and rep.first_nonfinite_step == 300
    assert rep.verdict.summary.startswith("Only the validation loss went non-finite")
    md = rep.to_markdown()
    assert "logging_nan_inf_filter" not in md  # the training loss was not masked: the validation loss shows it
    assert "the training loss finite at 300" in md


def test_restarts_the_two_losses_do_not_share_leave_the_order_unknown(tmp_path):
    # the first run's evaluation goes NaN after finite ones, then the job restarts and prints training losses only:
    # the two series cannot be lined up, so the record cannot say whether training went on after the NaN
    first = _plain(6, 6)
    restart = [line for line in _plain(2, 99) if "Validation" not in line]
    rep = _analyze(tmp_path, "\n".join(first + restart) + "\n")
    assert not rep.diverged
    assert rep.verdict.confidence <= 0.5
    assert "do not restart alike" in rep.verdict.summary
