"""Divergences the heldout7 real logs showed the tool could not see (docs/logs.md), after that split was
measured once blind, each fixed for its mechanism: on lines written here from the toolkit's own format
string (toolkit, version and source file named beside each writer; the pasted logs stay outside the
repository), with the healthy look-alikes that must not move.
"""

from __future__ import annotations

import numpy as np
import pytest

import forensics
from forensics.readers.logmessages import match_messages
from forensics.timeline import (
    CLIMB_ABOVE_START,
    COLLAPSE_FROM,
    COLLAPSE_POINTS,
    PRINT_QUANTA,
    collapsed_from,
    print_hold,
    print_quantum,
)


def _analyze(tmp_path, text: str, name: str = "train.log"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return forensics.analyze(str(tmp_path))


def _rules(report) -> set[str]:
    return {e.rule for c in report.candidates for e in c.evidence}


# ---------------------------------------------------------------- a loss that collapses to exactly 0


def _hf_trainer_dicts(losses: list[float], lr0: float = 3.4e-7) -> str:
    """transformers 4.3x Trainer._maybe_log_save_evaluate: logs['loss'] = round(tr_loss / steps, 4),
    logs['learning_rate'] = the scheduler's LR, then Trainer.log adds logs['epoch'] = round(epoch, 2) and
    ProgressCallback.on_log writes str(logs). No step is printed (Qwen-VL's finetune.py, alpaca-lora...)."""
    return "".join(
        str({"loss": round(loss, 4), "learning_rate": lr0 * (i + 1), "epoch": round(0.004 * (i + 1), 2)}) + "\n"
        for i, loss in enumerate(losses)
    )


def test_an_lm_loss_falling_from_3_85_straight_to_exactly_0_collapsed(tmp_path):
    report = _analyze(tmp_path, _hf_trainer_dicts([3.8462, 0.0, 0.0, 0.0, 0.0]))
    assert report.diverged is True
    tl = report.timeline
    assert tl.exploded_verb == "collapsed" and tl.exploded_step == 2
    assert "NUM011" in _rules(report)
    assert "collapsed" in report.verdict.summary and "exploded" not in report.verdict.summary.split(".")[0]


def test_a_loss_converging_smoothly_to_its_print_s_last_decimal_is_no_collapse(tmp_path):
    # 0.5 -> 1e-4 -> 0.0 (a near-perfect fit rounded to 4 decimals): the zeros follow 0.0001, not a fall
    losses = [0.5 * 0.3**i for i in range(9)] + [0.0] * 5
    report = _analyze(tmp_path, _hf_trainer_dicts(losses))
    assert report.diverged is False
    assert "NUM011" not in _rules(report)


def test_a_loss_at_0_from_its_first_line_never_fell_there(tmp_path):
    # a GRPO loss is 0 at the first iteration by construction; an all-zero record says nothing of a fall
    report = _analyze(tmp_path, _hf_trainer_dicts([0.0] * 8))
    assert report.diverged is False


def test_one_zero_among_finite_values_is_one_batch():
    v = np.array([1.2, 0.9, 0.0, 0.8, 0.7])
    assert collapsed_from(v) is None
    # too few zeros at the end to be where the run stayed
    assert collapsed_from(np.array([1.2034, 0.9121, 0.8046] + [0.0] * (COLLAPSE_POINTS - 1))) is None
    assert collapsed_from(np.array([1.2034, 0.9121, 0.8046] + [0.0] * COLLAPSE_POINTS)) is not None
    # a fall from under COLLAPSE_FROM is a loss at its print's resolution
    assert collapsed_from(np.array([0.5, 0.2, COLLAPSE_FROM / 2] + [0.0] * 4)) is None
    # a loss that takes negative values passes through 0
    assert collapsed_from(np.array([0.5, -0.2, 0.3, 0.0, 0.0, 0.0, 0.0])) is None


def test_a_loss_frozen_on_one_value_above_its_best_is_a_dead_net_and_a_plateau_is_not():
    assert collapsed_from(np.array([2.3, 1.1, 0.6, 0.5, 4.7] + [2.3026] * 5)) is not None
    # a plateau at its best (a coarse print of a converged loss) is no freeze
    assert collapsed_from(np.array([2.3, 1.1, 0.6] + [0.52] * 8)) is None
    # on one value from the start: a loss at chance level throughout
    assert collapsed_from(np.array([2.3026] * 10)) is None


# ---------------------------------------------------------------- Megatron's line without its loss


def _megatron_line(iteration: int, loss: float | None, skipped: int = 0, nan: int = 0, scale: float = 1.0) -> str:
    """Megatron-LM's megatron/training.py training_log (2021-2023; Megatron-DeepSpeed and GPT-NeoX keep it):
    ' iteration {:8d}/{:8d} |', ' consumed samples: {:12d} |', ' elapsed time per iteration (ms): {:.1f} |',
    ' learning rate: {:.3E} |', ' global batch size: {:5d} |', then ' {key}: {avg:.6E} |' for each loss only
    `if avg > 0.0`, ' loss scale: {:.1f} |', ' grad norm: {:.3f} |', ' number of skipped iterations: {:3d} |',
    ' number of nan iterations: {:3d} |'. The average is over the iterations that advanced."""
    s = f" iteration {iteration:8d}/{1000:8d} |"
    s += f" consumed samples: {iteration * 12:12d} |"
    s += f" elapsed time per iteration (ms): {1979.2:.1f} |"
    s += f" learning rate: {4.2e-5:.3E} |"
    s += f" global batch size: {12:5d} |"
    avg = float("nan") if loss is None else loss
    if avg > 0.0:
        s += " {}: {:.6E} |".format("lm loss", avg)
    s += f" loss scale: {scale:.1f} |"
    s += f" grad norm: {1.2:.3f} |"
    s += f" number of skipped iterations: {skipped:3d} |"
    s += f" number of nan iterations: {nan:3d} |"
    return s + "\n"


def test_megatron_lines_with_their_loss_are_read_and_healthy(tmp_path):
    text = "".join(_megatron_line(10 * k, 6.0 - 0.2 * k) for k in range(1, 15))
    report = _analyze(tmp_path, text)
    assert report.diverged is False
    assert report.timeline.loss is not None and len(report.timeline.loss) == 14


def test_a_megatron_line_that_left_a_nan_loss_off_is_a_nan_at_its_iteration(tmp_path):
    # bf16 (no scaler, loss scale 1.0): nothing is skipped, a NaN loss goes into the sum, avg > 0.0 is False
    text = "".join(_megatron_line(10 * k, 6.0 - 0.2 * k) for k in range(1, 6))
    text += "".join(_megatron_line(10 * k, None) for k in range(6, 9))
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert report.first_nonfinite_step == 60


def test_the_one_line_of_a_paste_without_its_loss_is_enough(tmp_path):
    report = _analyze(tmp_path, _megatron_line(9, None))
    assert report.diverged is True


def test_an_interval_the_fp16_scaler_skipped_whole_is_no_nan(tmp_path):
    # the scaler overflowing at every step of the first interval: nothing advanced, the sums stay 0, the
    # loss is left off with no NaN counted; later intervals train
    text = _megatron_line(10, 0.0, skipped=10, scale=4096.0)
    text += "".join(
        _megatron_line(10 * k, 7.0 - 0.2 * k, skipped=1 if k == 4 else 0, scale=2048.0) for k in range(2, 12)
    )
    report = _analyze(tmp_path, text)
    assert report.diverged is False


def test_an_fp16_interval_left_without_its_loss_that_counted_nan_iterations_diverged(tmp_path):
    text = "".join(_megatron_line(10 * k, 7.0 - 0.2 * k, scale=2048.0) for k in range(1, 6))
    text += "".join(_megatron_line(10 * k, 0.0, skipped=10, nan=10, scale=1.0) for k in range(6, 9))
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert report.first_nonfinite_step == 60


# ---------------------------------------------------------------- a guard's stop in any words


@pytest.mark.parametrize(
    "line, name",
    [
        # ZoeDepth zoedepth/trainers/base_trainer.py: raise ValueError(f"{name} is NaN, Stopping training")
        ("ValueError: SILog is NaN, Stopping training", "SILog"),
        ("total loss is inf. Stop training.", "total loss"),
        ("[rank0] gen loss became NaN -- aborting training", "gen loss"),
    ],
)
def test_a_name_going_nan_then_stopping_training_is_a_nan_guard(line, name):
    found = match_messages(line)
    assert [f for f, _ in found] == ["nan_loss"]
    assert found[0][1]["name"] == name


@pytest.mark.parametrize(
    "line",
    [
        "Stop training if the loss is nan: True",  # a hyperparameter dump's words
        "Namespace(lr=0.001, stop_training_on_nan=True, nan_to_num=False)",
        "Epoch 3: val_loss is nan. Stopping training",  # an evaluation metric's early stop
        "Validation Loss is nan, stop training",
        "loss is 0.5123, stopping training early: target reached",
        # a condition describes the guard (a flag's help text, a config comment); it need never have fired
        "  --nan_guard           if loss is NaN, stop training",
        "terminate_on_nan: when the loss is inf, terminate training (default: True)",
    ],
)
def test_look_alikes_of_the_guard_are_not_it(line):
    assert "nan_loss" not in [f for f, _ in match_messages(line)]


def test_zoedepth_s_stop_after_its_training_lines_diverged(tmp_path):
    text = "".join(f"Epoch 1/5 Step {i}/400 loss: {2.1 - 0.01 * i:.4f}\n" for i in range(1, 20))
    text += "Traceback (most recent call last):\n"
    text += '  File "train_mono.py", line 170, in <module>\n'
    text += "ValueError: SILog is NaN, Stopping training\n"
    report = _analyze(tmp_path, text)
    assert report.diverged is True


def test_the_silog_loss_s_own_nan_print_is_a_nan_in_training(tmp_path):
    # AdaBins loss.py SILogLoss.forward (copied by ZoeDepth's zoedepth/trainers/loss.py): when
    # torch.isnan(loss), print("Nan SILog loss") then print("input:", input.shape), ... print("loss", ...)
    text = (
        "Nan SILog loss\ninput: torch.Size([651751])\ntarget: torch.Size([651751])\n"
        "G tensor(2284, device='cuda:0')\n"
        "Input min max tensor(nan, device='cuda:0', grad_fn=<MinBackward1>) tensor(nan, device='cuda:0', "
        "grad_fn=<MaxBackward1>)\n"
        "Target min max tensor(3.8516, device='cuda:0') tensor(226.5352, device='cuda:0')\n"
        "Dg tensor(True, device='cuda:0')\nloss tensor(True, device='cuda:0')\n"
    )
    report = _analyze(tmp_path, text)
    assert report.diverged is True


# ---------------------------------------------------------------- a loss that climbed above its start


def _keras2_fit_loop(losses: list[float]) -> str:
    """keras/examples/lstm_text_generation.py (Keras 2.0, 2017): `for iteration in range(1, 60):
    print(); print('-' * 50); print('Iteration', iteration); model.fit(X, y, batch_size=128, epochs=1)`;
    each fit prints 'Epoch 1/1' and Progbar's last line '%d/%d [%s] - %ds - loss: %.4f' (Keras 2.0's
    keras/utils/generic_utils.py): the epoch counter restarts at every fit of the same model."""
    out = ""
    for i, loss in enumerate(losses, 1):
        out += f"\n{'-' * 50}\nIteration {i}\nEpoch 1/1\n"
        out += f"200285/200285 [==============================] - 433s - loss: {loss:.4f}\n"
    return out


_LSTM_CLIMB = [2.04, 1.64, 1.55, 1.50, 1.47, 1.46, 1.44, 1.43, 1.42, 1.41, 1.40, 1.39, 1.38, 1.38, 1.37]
_LSTM_CLIMB += [1.37, 1.33, 1.70, 4.97, 7.83, 9.19, 8.66, 8.10, 7.83, 6.75, 9.09, 9.46, 11.34, 10.58, 9.18]


def test_a_loss_climbing_far_above_its_start_over_one_epoch_fits_diverged(tmp_path):
    report = _analyze(tmp_path, _keras2_fit_loop(_LSTM_CLIMB))
    tl = report.timeline
    assert len(tl.loss) == len(_LSTM_CLIMB)  # every fit a point: the restarting 'Epoch 1/1' is no restart
    assert np.all(np.diff(tl.loss.steps) > 0)
    assert report.diverged is True
    assert tl.exploded_step == tl.loss.steps[18]  # the fit after the last that stood near the start (1.70)


def test_a_spike_that_came_back_and_a_loss_at_chance_level_are_no_climb(tmp_path):
    spike = [*_LSTM_CLIMB[:18], 9.0, 4.0, 1.6, 1.4, 1.35, 1.33, 1.32, 1.31]
    chance = [4.17 + 0.01 * ((-1) ** i) for i in range(30)]  # ln(65) from the start: never learned
    for name, losses in (("spike", spike), ("chance", chance)):
        run = tmp_path / name
        run.mkdir()
        assert _analyze(run, _keras2_fit_loop(losses)).diverged is False, name


def test_a_short_record_that_fell_then_jumped_above_its_start_and_stayed(tmp_path):
    # an epoch-per-line log: 2.0 -> 0.4 -> 8.5 and it stays there (the stuck test judges the jump against a
    # lucky low point's median; the start says it is no training)
    losses = [2.0, 0.4, 8.5, 8.7, 8.4]
    text = "".join(f"Epoch {e}/20 - loss: {v:.4f}\n" for e, v in enumerate(losses, 1))
    report = _analyze(tmp_path, text)
    assert report.diverged is True
    assert min(losses[-3:]) >= CLIMB_ABOVE_START * losses[0]


# ---------------------------------------------------------------- healthy look-alikes of the shapes above


def test_the_print_s_last_digit_is_read_off_its_values():
    assert print_quantum(np.array([0.1234, 0.5, 2.0])) == pytest.approx(1e-4)
    assert print_quantum(np.array([2.3, 0.1, 0.0])) == pytest.approx(0.1)
    # a float32 value read from a binary record shows many decimals: a quantum far below any loss
    assert print_quantum(np.array([np.float32(0.1)], dtype=np.float64)) < 1e-6


def test_a_loss_printed_coarsely_steps_down_to_0_and_that_is_no_collapse():
    # '%.1f' of a converging loss: 0.2, 0.1, 0.0 is one digit at a time
    assert collapsed_from(np.array([2.3, 1.5, 0.9, 0.6, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0])) is None
    # a margin (hinge, triplet) loss at '%.2f' met on every triplet: 0.12 is 12 of its last digit
    assert collapsed_from(np.array([0.9, 0.6, 0.35, 0.2, 0.12, 0.0, 0.0, 0.0, 0.0])) is None
    # the same fall printed to 4 decimals stands PRINT_QUANTA digits and more above 0: a collapse
    assert collapsed_from(np.array([0.9134, 0.6021, 0.3517, 0.2046, 0.1213, 0.0, 0.0, 0.0, 0.0])) is not None
    assert PRINT_QUANTA * 1e-4 <= 0.1213


def test_a_coarse_print_repeating_its_value_after_a_stage_change_is_no_freeze():
    # '%.1f': a harder stage's loss moves within one digit, printed 0.7 again and again
    assert collapsed_from(np.array([1.2, 0.8, 0.5, 0.4, 0.3, 0.3] + [0.7] * 6)) is None
    # printed to 4 decimals, the same value six times is a loss that stopped moving
    assert collapsed_from(np.array([1.2034, 0.8121, 0.5032, 0.4011, 0.3046, 0.3012] + [0.7013] * 6)) is not None


def _gan_lines(g_losses: list[float], with_d: bool = True) -> str:
    """PyTorch-GAN's implementations (eriklindernoren/PyTorch-GAN, gan.py and its siblings): print('[Epoch %d/%d]
    [Batch %d/%d] [D loss: %f] [G loss: %f]' % ...) after each batch."""
    n = len(g_losses)
    if with_d:
        return "".join(
            f"[Epoch {i}/{n}] [Batch 937/938] [D loss: {0.69 - 0.3 * i / n:f}] [G loss: {g:f}]\n"
            for i, g in enumerate(g_losses)
        )
    return "".join(f"[Epoch {i}/{n}] [Batch 937/938] [loss: {g:f}]\n" for i, g in enumerate(g_losses))


_G_RISING = [0.72, 0.70, 0.69] + [0.7 + 0.15 * i for i in range(1, 25)] + [4.3, 4.4, 4.2, 4.35]


def test_a_gan_generator_s_loss_rising_as_its_discriminator_learns_is_no_climb(tmp_path):
    (tmp_path / "gan").mkdir()
    assert _analyze(tmp_path / "gan", _gan_lines(_G_RISING)).diverged is False
    # the same values as a model's only loss climbed far above its start and stayed there
    (tmp_path / "plain").mkdir()
    report = _analyze(tmp_path / "plain", _gan_lines(_G_RISING, with_d=False))
    assert report.diverged is True
    assert min(_G_RISING[-3:]) >= CLIMB_ABOVE_START * _G_RISING[0]


def test_a_running_total_restarted_each_epoch_climbs_again_and_again_and_is_no_climb(tmp_path):
    # `running_loss += loss.item()` printed undivided every 200 batches and reset at each epoch: each epoch
    # climbs from one batch's loss to ten times it and comes back
    text = ""
    for epoch in range(1, 4):
        total = 0.0
        for b in range(1, 11):
            total += 0.7 * 0.8 ** (epoch - 1)
            text += f"[{epoch}, {b * 200:5d}] loss: {total:.3f}\n"
    assert _analyze(tmp_path, text).diverged is False


def _stale_postfix_bar(samples: list[float], every: int) -> str:
    """A tqdm bar written to a file at every step (each redraw a line) whose postfix is set every `every`
    steps: `if step % every == 0: pbar.set_postfix(loss=loss.item())`, tqdm's ', loss=0.6213]' format."""
    out, step, total = "", 0, len(samples) * every
    for loss in samples:
        for _ in range(every):
            step += 1
            bar = f"{step * 100 // total:3d}%|#####     | {step}/{total}"
            out += f"Epoch 1: {bar} [00:10<00:10, 10.00it/s, loss={loss:.4f}]\n"
    return out


_NOISY_SAMPLES = [0.6213, 0.5521, 0.4843, 0.7112, 0.4109, 0.5237, 0.6631, 0.3921, 0.5832, 0.4711, 0.6023, 0.8517]


def test_a_bar_that_repeats_its_last_sample_to_the_end_is_no_frozen_loss(tmp_path):
    assert print_hold(np.array([0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3])) == 3
    assert print_hold(np.array([0.5, 0.4, 0.3, 0.3, 0.2])) == 1
    # not fire: each per-batch sample held 100 redraws, the last (a noisy 0.85, 2.2x the lowest) is no freeze
    report = _analyze(tmp_path, _stale_postfix_bar(_NOISY_SAMPLES, every=100))
    assert report.diverged is False
    # fires: a value held five holds and more to the end, as a fresh print's five points
    held = np.repeat(np.array(_NOISY_SAMPLES[:-1] + [2.3026] * 5), 100)
    assert collapsed_from(held) is not None
    assert collapsed_from(np.repeat(np.array(_NOISY_SAMPLES[:-1] + [2.3026] * 4), 100)) is None
