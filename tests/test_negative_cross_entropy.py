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


# A loss of no telling name below zero, beside a classification score printed by the same trainer (DATA010's second
# reading). Keras 1/2's Progbar prints an epoch header 'Epoch e/E', then '%{n}d/%d [' + '=' * done + '>' + '.' * rest +
# ']', ' - ETA: %ds' while the epoch runs, and ' - %s: %.4f' per metric; milesial Pytorch-UNet's 2019 train.py
# prints '{0:.4f} --- loss: {1:.6f}'.format(i * batch_size / N_train, loss), 'Epoch finished ! Loss: {}' and
# 'Validation Dice Coeff: {}'.


def _keras_bar(metrics: dict[str, list[float]], target: int = 47226, batch: int = 32) -> str:
    n = len(next(iter(metrics.values())))
    out = ["Epoch 1/3"]
    for i in range(n):
        seen = (i + 1) * batch
        done = 30 * seen // target
        bar = "=" * max(done - 1, 0) + ">" + "." * (30 - done)
        info = "".join(f" - {name}: {v[i]:.4f}" for name, v in metrics.items())
        out.append(f"{seen:>{len(str(target))}d}/{target} [{bar}] - ETA: {2142 - i}s{info}")
    return "\n".join(out) + "\n"


def _unet(losses: list[float], dice: float, batch: int = 2, n_train: int = 38) -> str:
    out = ["Starting epoch 10/10."]
    out += [f"{i * batch / n_train:.4f} --- loss: {v:.6f}" for i, v in enumerate(losses)]
    out += [f"Epoch finished ! Loss: {sum(losses) / len(losses)}", f"Validation Dice Coeff: {dice}"]
    out.append("Checkpoint 10 saved !")
    return "\n".join(out) + "\n"


def test_a_loss_below_minus_one_beside_an_accuracy_is_a_classifier_fed_targets_out_of_range(tmp_path):
    # labels 0/1/2 into a sigmoid output trained with binary cross-entropy: a target of 2 gives the loss no floor
    text = _keras_bar({"loss": _falling(0.6, 0.25), "acc": [1.0] * 40})
    rep, rules = _rules(tmp_path, text)
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    # a loss driven without bound below zero diverged, though nothing went non-finite
    assert rep.diverged and rep.first_nonfinite_step is None
    assert "weights tell otherwise" not in rep.verdict.summary


def test_a_segmenter_loss_far_below_zero_beside_its_dice_is_masks_out_of_range(tmp_path):
    # masks saved as 0..255 into BCELoss: the per-batch loss runs to thousands below zero
    rep, rules = _rules(tmp_path, _unet([-1086.9 - 150.0 * i for i in range(19)], 1.97))
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    assert rep.diverged


def test_a_classifier_loss_that_stopped_below_zero_names_the_targets_but_did_not_diverge(tmp_path):
    # a sigmoid net fed masks of 0..4 sat at Keras's probability clip: the loss stood on one value epoch after epoch,
    # no longer driven down, so the targets are named and no divergence is claimed
    epochs = [-3.1, -4.2] + [-4.441] * 28
    lines = []
    for e, v in enumerate(epochs):
        lines.append(f"Epoch {e + 1}/30")
        lines.append(f"100/100 [==============================] - 449s - loss: {v:.4f} - acc: 0.3270")
    rep, rules = _rules(tmp_path, "\n".join(lines) + "\n")
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    assert not rep.diverged
    assert "weights tell otherwise" not in rep.verdict.summary


@pytest.mark.parametrize(
    "text",
    [
        # the loss is -Dice (Keras segmentation tutorials' dice_coef_loss): bounded by -1, printed beside its Dice
        _keras_bar({"loss": [-0.5 - 0.012 * i for i in range(40)], "dice_coef": [0.5 + 0.012 * i for i in range(40)]}),
        # Keras's cosine_proximity loss with an accuracy: -cos, at -1 at best
        _keras_bar({"loss": [-0.6 - 0.01 * i for i in range(40)], "acc": [0.9] * 40}),
        # a density's negative log-likelihood (WaveGlow, flows) far below zero, with no classification score
        _keras_bar({"loss": _falling(-10.0, 200.0)}),
        # a Gaussian NLL regression compiled with metrics=['accuracy']: its outputs never hit a continuous target
        _keras_bar({"loss": _falling(-0.5, 0.2), "acc": [0.0] * 40}),
        # a sum holding a term negative by design (a VAE's), beside the classifier head's accuracy
        _keras_bar({"loss": _falling(-1.5, 0.2), "vae_loss": _falling(-2.0, 0.2), "class_acc": [0.8] * 40}),
        # a Wasserstein GAN printed the Keras-GAN way: the discriminator's accuracy beside a generator's loss
        "".join(f"{e} [D loss: 0.3000, acc.: 50.00%] [G loss: {-5.0 - 0.1 * e:f}]\n" for e in range(40)),
        # GRPO (TRL): an accuracy reward is a reward, no classifier's score; the policy loss may be negative
        "".join(
            str({"loss": -1.5 - 0.01 * i, "grad_norm": 0.3, "rewards/accuracy_reward": 0.5, "epoch": 0.01 * i}) + "\n"
            for i in range(40)
        ),
    ],
    ids=[
        "minus_dice",
        "cosine_proximity",
        "density_nll",
        "regression_accuracy_0",
        "sum_with_negative_term",
        "wgan_keras_gan",
        "grpo_reward",
    ],
)
def test_negative_losses_that_are_no_classifier_out_of_range_do_not_fire_it(tmp_path, text):
    _, rules = _rules(tmp_path, text)
    assert "DATA010" not in rules
