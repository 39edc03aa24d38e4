"""Divergence a log shows without a NaN (docs/logs.md, issue 11): a loss pinned at a framework's clamp
of a saturated cross-entropy (LR017), a short record that jumped far above its best and stayed, and a
loss scaler halving below 1 overflow after overflow. Each on lines written here with the toolkit's own
format string (toolkit and version named beside), with the healthy look-alikes that must not move.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import forensics
from forensics.clamps import CLAMP_ROUNDING, CLAMP_TOLERANCE, CLAMPS, PINNED_POINTS, clamp_of, pinned_from


def _run(tmp_path: Path, name: str, text: str, filename: str = "train.log"):
    run = tmp_path / name
    run.mkdir()
    (run / filename).write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


def _rules(rep) -> set[str]:
    return {e.rule for c in rep.candidates for e in c.evidence}


# ---------------------------------------------------------------- the clamps themselves


def test_the_clamps_are_the_frameworks_constants():
    values = {round(c.value, 4) for c in CLAMPS}
    # Caffe: log(std::max(prob, Dtype(FLT_MIN))) in softmax_loss_layer.cpp; kLOG_THRESHOLD = 1e-20
    assert round(-math.log(np.finfo(np.float32).tiny), 4) == 87.3365 and 87.3365 in values
    assert 46.0517 in values
    # Keras 3 (computed with keras 3.15 here): categorical 16.1181, binary 16.1181 / 15.9424;
    # tf_keras 2.21: binary 15.4249 / 15.3332
    assert {16.1181, 15.9424, 15.4249, 15.3332} <= values
    assert 100.0 in values and 27.631 in values
    # distinct from each other beyond the tolerance: a value is at one clamp or none
    ordered = sorted(c.value for c in CLAMPS)
    assert all(b - a > 2 * max(CLAMP_TOLERANCE * b, CLAMP_ROUNDING) for a, b in itertools.pairwise(ordered))


def test_pytorch_bce_loss_prints_its_clamp():
    torch = pytest.importorskip("torch")
    # a sigmoid saturated on the wrong side: BCELoss clamps log(0) at -100
    got = torch.nn.functional.binary_cross_entropy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert clamp_of(float(got)) is not None and float(got) == 100.0


def test_pinned_needs_the_record_to_end_at_the_clamp():
    assert pinned_from(np.array([11.23, 87.3365, 87.3365, 87.3365])) == (1, clamp_of(87.3365))
    assert pinned_from(np.array([87.3363, 87.3365])) is not None  # a display average a hair below
    assert pinned_from(np.array([2.3, 87.3365, 2.1, 2.0])) is None  # passed through it and came back
    assert PINNED_POINTS == 2 and pinned_from(np.array([2.3, 87.3365])) is None  # one point is no level
    assert pinned_from(np.array([16.1181, 87.3365])) is None  # two clamps are no one level
    assert clamp_of(87.2) is None and clamp_of(16.0) is None and clamp_of(-87.3365) is None


def test_a_two_decimal_print_of_every_clamp_is_at_it():
    # '{:.2f}' of each constant: tf.keras 2's binary clamps print 15.42 and 15.33, 3.2e-4 and 2.1e-4 off
    for c in CLAMPS:
        assert clamp_of(round(c.value, 2)) is c, c.what
    assert clamp_of(15.38) is None and clamp_of(16.11) is None  # between clamps, or a unit off: none


def test_a_loss_that_stood_above_the_clamp_is_no_loss_under_it():
    # the clamp is the most a saturated element prints: a mean that was higher is another loss
    assert pinned_from(np.array([40.2, 20.5, 16.1190, 16.1183, 16.1182])) is None
    assert pinned_from(np.array([900.0, 230.0, 100.01, 100.0])) is None
    # a Keras 3 binary loss may stand between its two clamps before it pins at the negative target's
    assert pinned_from(np.array([0.69, 16.0, 15.9424, 15.9424])) == (2, clamp_of(15.9424))
    # a hair above within the tolerance is still the clamp (a display rounding)
    assert pinned_from(np.array([2.3, 87.3366, 87.3365, 87.3365])) is not None


# ---------------------------------------------------------------- Caffe at FLT_MIN


def _caffe(losses: list[float], lr: float = 0.01, start: int = 0, every: int = 100) -> str:
    # BVLC Caffe 1.0 solver.cpp Step(): LOG_IF(INFO, Caffe::root_solver()) << "Iteration " << iter_ << " ("
    #   << per_s << " iter/s, " << lapse << "s/" << param_.display() << " iters), loss = " << smoothed_loss_;
    # then "    Train net output #0: loss = x (* 1 = x loss)"; sgd_solver.cpp: "Iteration " << iter << ", lr = " << rate
    out = []
    for i, v in enumerate(losses):
        it = start + i * every
        out.append(
            f"I1112 02:26:{i % 60:02d}.957139 172471 solver.cpp:218] Iteration {it} (3.06368 iter/s, 32.6405s/100 "
            f"iters), loss = {v:g}\n"
            f"I1112 02:26:{i % 60:02d}.957200 172471 solver.cpp:237]     Train net output #0: loss = {v:g} "
            f"(* 1 = {v:g} loss)\n"
            f"I1112 02:26:{i % 60:02d}.957279 172471 sgd_solver.cpp:105] Iteration {it}, lr = {lr:g}\n"
        )
    return "".join(out)


def test_caffe_softmax_loss_pinned_at_flt_min_diverged(tmp_path):
    # BVLC/caffe#6047 (heldout6): GoogleNet at base_lr 0.01, 11.23 at iteration 0, then 87.3365
    rep = _run(tmp_path, "caffe", _caffe([11.2306, 87.3365, 87.3365, 87.3365]))
    assert rep.diverged and rep.timeline.exploded_step == 100
    assert "87.3365" in (rep.timeline.exploded_how or "")
    assert "LR017" in _rules(rep) and rep.verdict.cause == "learning_rate"


def test_caffe_loss_at_the_clamp_from_a_paste_mid_run_diverged(tmp_path):
    # razorx89/caffe-wrn-generator#1 (heldout6): every line of the paste at 87.336x, LR 0.1
    rep = _run(tmp_path, "wrn", _caffe([87.3363, 87.3363, 87.3363, 87.3363], lr=0.1, start=1170, every=390))
    assert rep.diverged and "LR017" in _rules(rep)


def test_caffe_healthy_and_look_alikes_stay_healthy(tmp_path):
    # a falling loss
    rep = _run(tmp_path, "ok", _caffe([6.9, 5.1, 4.2, 3.6, 3.1, 2.8]))
    assert not rep.diverged and "LR017" not in _rules(rep)
    # one print at the clamp that the loss came back from: a spike, not a saturated net
    rep = _run(tmp_path, "spike", _caffe([6.9, 5.1, 87.3365, 4.0, 3.6, 3.1, 2.8]))
    assert "LR017" not in _rules(rep)
    assert rep.timeline.exploded_step is None
    # a loss at chance level, ln(1000) for ImageNet, from the start: a run that does not learn, not a clamp
    rep = _run(tmp_path, "chance", _caffe([6.9078, 6.9077, 6.9078, 6.9076, 6.9078]))
    assert not rep.diverged and "LR017" not in _rules(rep)


def test_a_loss_at_the_clamp_from_the_first_forward_pass_is_not_the_step_size(tmp_path):
    rep = _run(tmp_path, "init", _caffe([87.3365, 87.3365, 87.3365]))
    assert "LR017" not in _rules(rep)  # no update had run: the inputs or the initial weights did it


# ---------------------------------------------------------------- Keras and PyTorch clamps


def _keras2(losses: list[float]) -> str:
    # Keras 2.3 Progbar (keras/utils/generic_utils.py): '%d/%d [%s] - %ds %dus/step' then ' - %s: %.4f'
    out = []
    for e, v in enumerate(losses, 1):
        out.append(f"Epoch {e}/{len(losses)}\n60000/60000 [==============================] - 3s 52us/step - loss: ")
        out.append(f"{v:.4f} - accuracy: {0.1 if v > 10 else 0.9:.4f}\n")
    return "".join(out)


def test_keras_categorical_cross_entropy_pinned_at_its_epsilon_diverged(tmp_path):
    rep = _run(tmp_path, "keras", _keras2([0.4512, 0.2103, 16.1181, 16.1181, 16.1181]))
    assert rep.diverged and "LR017" in _rules(rep)
    assert "1e-7" in (rep.timeline.exploded_how or "")


def test_tf_keras_2_binary_clamp_printed_to_two_decimals_diverged(tmp_path):
    # a custom loop's print(f"step {step} loss {loss:.2f}") over tf.keras 2's binary cross-entropy, every
    # element saturated on a positive target: -ln(2e-7) = 15.4249 prints 15.42 (3.2e-4 off)
    lines = "".join(
        f"step {s} loss {v:.2f}\n"
        for s, v in zip(range(100, 800, 100), [0.69, 0.52, 0.41, *[15.4249] * 4], strict=True)
    )
    rep = _run(tmp_path, "tfk2", lines)
    assert rep.diverged and "LR017" in _rules(rep) and rep.timeline.exploded_step == 400


def test_keras_loss_converging_from_above_to_a_clamp_s_level_is_healthy(tmp_path):
    # a regression loss in its own units (an MSE falling from 46 to 16.12) ends at a level within the
    # tolerance of -ln(1e-7): it came from above the clamp, so no cross-entropy clipped at 1e-7 printed it
    losses = [16.118 + 30 * math.exp(-e / 3) for e in range(1, 31)]
    rep = _run(tmp_path, "kreg", _keras2([round(v, 4) for v in losses]))
    assert not rep.diverged and "LR017" not in _rules(rep)
    assert rep.timeline.exploded_step is None


def test_keras_binary_cross_entropy_on_negative_targets_pinned(tmp_path):
    rep = _run(tmp_path, "kbin", _keras2([0.6931, 0.5012, 15.9424, 15.9424]))
    assert rep.diverged and "LR017" in _rules(rep)


def test_pytorch_bce_loss_pinned_at_100_diverged(tmp_path):
    # a plain loop's print(f"epoch {epoch} loss {loss.item():.4f}") over nn.BCELoss
    text = "".join(f"epoch {e} loss {v:.4f}\n" for e, v in enumerate([0.6931, 0.4210, 0.3102, 100.0, 100.0, 100.0]))
    rep = _run(tmp_path, "bce", text)
    assert rep.diverged and "LR017" in _rules(rep)
    # a loss of 100 that keeps moving is no clamp
    text = "".join(f"epoch {e} loss {v:.4f}\n" for e, v in enumerate([140.0, 120.3, 100.0, 93.1, 85.2, 80.9]))
    rep = _run(tmp_path, "mse", text)
    assert not rep.diverged and "LR017" not in _rules(rep)


# ---------------------------------------------------------------- a short record that jumped and stayed


def _keras01(losses: list[float]) -> str:
    # Keras 0.1 (March 2015) Sequential.fit: print('Epoch', e) counted from 0, then the Progbar line
    # '%d/%d [%s] - %ds - loss: %.4f' with trailing blanks where a longer line was overwritten
    return "".join(
        f"Epoch {e}\n61878/61878 [==============================] - 5s - loss: {v:.4f}     \n"
        for e, v in enumerate(losses)
    )


def test_a_short_record_that_jumped_far_above_its_best_and_stayed_diverged(tmp_path):
    # keras-team/keras#21 (heldout6): 1.18 falling to 0.74 over ten epochs, then 13.4 and 26.6 to the end
    falling = [1.1788, 1.0403, 0.9919, 0.9397, 0.8915, 0.8484, 0.8145, 0.7909, 0.7627, 0.7407]
    rep = _run(tmp_path, "k01", _keras01([*falling, 13.3614, 26.6396, 26.6453, 26.6462, 26.6461]))
    assert rep.diverged and rep.timeline.exploded_step is not None


def test_short_record_look_alikes_stay_healthy(tmp_path):
    falling = [1.1788, 1.0403, 0.9919, 0.9397, 0.8915, 0.8484, 0.8145]
    # a spike that recovered
    rep = _run(tmp_path, "spike", _keras01([*falling, 13.3614, 0.8003, 0.7901, 0.7853]))
    assert not rep.diverged
    # a noisy short record whose one lucky low point is no level the loss left
    rep = _run(tmp_path, "noisy", _keras01([0.52, 0.05, 0.61, 0.55, 0.70, 0.58]))
    assert not rep.diverged
    # a loss at chance level for 9 classes from the start, flat: does not learn, did not diverge
    rep = _run(tmp_path, "chance", _keras01([2.1972, 2.1969, 2.1971, 2.1972, 2.1970, 2.1972]))
    assert not rep.diverged


# ---------------------------------------------------------------- the loss scaler halving past 1


def _apex(scales: list[float]) -> str:
    # apex/amp/scaler.py (apex 0.1, 2019-2023): maybe_print(("Gradient overflow.  Skipping step, loss scaler " +
    #   "{} reducing loss scale to {}").format(loss_id, self._loss_scale))
    return "".join(f"Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to {s!r}\n" for s in scales)


def test_apex_scale_halved_below_one_on_every_step_diverged(tmp_path):
    # NVIDIA/apex#834 (heldout6): 65536 halved at every step down to 0.5
    rep = _run(tmp_path, "apex", _apex([2.0**k for k in range(15, -2, -1)]))
    assert rep.diverged
    assert rep.verdict.cause == "numerical_instability"


def test_apex_isolated_halvings_are_a_working_scaler(tmp_path):
    losses = "".join(f"Epoch 0 step {i} loss {2.0 - 0.01 * i:.4f}\n" for i in range(0, 40, 10))
    after = "".join(f"Epoch 0 step {i} loss {1.6 - 0.01 * i:.4f}\n" for i in range(40, 80, 10))
    rep = _run(tmp_path, "ok", losses + _apex([32768.0, 16384.0, 8192.0]) + after)
    assert not rep.diverged and rep.verdict.cause == "healthy"
    # halvings that stay at a scale of 1 or more are a scaler finding its level (apex 493's 256 -> 2)
    rep = _run(tmp_path, "low", losses + _apex([256.0, 128.0, 64.0, 32.0, 16.0, 8.0, 4.0, 2.0]) + after)
    assert not rep.diverged


def test_fairseq_scale_below_one_is_no_floor(tmp_path):
    # fairseq sums its loss over the batch's tokens, so its scale settles lower: its own floor (1e-4) judges it
    text = "".join(
        f"NOTE: overflow detected, setting loss scale to: {s!r}\n"
        f"| epoch 001:    {100 * i} / 4000 loss=7.{90 - i}, nll_loss=6.1, ppl=68.6, wps=4100, ups=1, wpb=3100\n"
        for i, s in enumerate([2.0, 1.0, 0.5, 0.25])
    )
    rep = _run(tmp_path, "fairseq", text)
    assert not rep.diverged


# ---------------------------------------------------------------- a perplexity that climbed back and stayed


def _onmt(ppls: list[float]) -> str:
    # OpenNMT-py 0.x onmt/Trainer.py Statistics.output: ("Epoch %2d, %5d/%5d; acc: %6.2f; ppl: %6.2f; xent: %6.2f; "
    #   "%3.0f src tok/s; %3.0f tgt tok/s; %6.0f s elapsed") % (epoch, batch, n_batches, ...)
    # the format string kept as OpenNMT-py wrote it
    fmt = "Epoch %2d, %5d/%5d; acc: %6.2f; ppl: %6.2f; xent: %6.2f; %3.0f src tok/s; %3.0f tgt tok/s; %6.0f s elapsed\n"
    return "".join(fmt % (1, 50 * (i + 1), 37527, 30.0, p, math.log(p), 3438, 3517, 10 * i) for i, p in enumerate(ppls))


_LEARNED = [30000.0, 4000.0, 800.0, 200.0, 90.0, 60.0, 52.0, 50.0, 48.0]


def test_a_perplexity_that_climbed_far_above_its_best_and_stayed_diverged(tmp_path):
    # OpenNMT-py#709 (heldout6, whose paste starts at the climbed level): the perplexity from ~50 to 42885, the
    # loss it is the exp of from 3.9 to 10.7 nats, too small a factor for the loss's own tests
    rep = _run(tmp_path, "onmt", _onmt([*_LEARNED, 400.0, 5000.0, 12792.57, 35173.75, 42885.19, 24048.64, 26476.23]))
    assert rep.diverged and "nats" in (rep.timeline.exploded_how or "")


def test_perplexity_look_alikes_stay_healthy(tmp_path):
    # a perplexity that falls
    assert not _run(tmp_path, "falls", _onmt([*_LEARNED, 47.0, 45.0, 44.0, 43.0])).diverged
    # a spike it came back from
    assert not _run(tmp_path, "spike", _onmt([*_LEARNED, 5000.0, 60.0, 50.0, 47.0])).diverged
    # at the vocabulary's size from the start: a model that does not learn, not one that diverged
    assert not _run(tmp_path, "chance", _onmt([42000.0, 43000.0, 41000.0, 42500.0, 42885.0, 41999.0])).diverged
    # a noisy stretch without the level it came from: no best far below its end
    noisy = [12792.57, 35173.75, 42885.19, 24048.64, 26476.23, 9686.04, 3770.76, 2268.05, 2482.59, 2981.62]
    assert not _run(tmp_path, "noisy", _onmt([*noisy, 16091.52, 20872.71])).diverged


def _deepspeed(pairs: list[tuple[float, float]]) -> str:
    # DeepSpeed 0.9 zero/stage_1_and_2.py step(): logger.info(f"[deepspeed] OVERFLOW! Rank {dist.get_rank()} Skipping
    # step. Attempted loss scale: {prev_scale}, reducing to {self.loss_scale}") under its logger's prefix
    return "".join(
        f"[2023-06-12 18:08:{i:02d},410] [INFO] [stage_1_and_2.py:1830:step] [deepspeed] OVERFLOW! Rank 0 Skipping "
        f"step. Attempted loss scale: {a}, reducing to {b}\n"
        for i, (a, b) in enumerate(pairs)
    )


def test_deepspeed_scale_halved_below_one_with_a_lower_min_diverged(tmp_path):
    # min_loss_scale set under its default of 1: the scaler keeps halving past 1, overflow after overflow
    scales = [2.0**k for k in range(16, -4, -1)]
    rep = _run(tmp_path, "ds", _deepspeed(list(itertools.pairwise(scales))))
    assert rep.diverged


def test_deepspeed_overflows_at_the_start_then_training_is_a_working_scaler(tmp_path):
    # the first steps halve from 2^16 while the scale finds its level, then the loss prints go on
    losses = "".join(
        f"steps: {i} loss: {2.1 - 0.01 * i:.4f} iter time (s): 0.913 samples/sec: 35.0\n" for i in range(4, 40)
    )
    rep = _run(tmp_path, "ok", _deepspeed([(65536.0, 32768.0), (32768.0, 16384.0), (16384.0, 8192.0)]) + losses)
    assert not rep.diverged and rep.verdict.cause == "healthy"


def test_one_overflow_from_a_scale_that_started_at_1_is_no_floor(tmp_path):
    # DeepSpeed's fp16 "initial_scale_power": 0 with min_loss_scale under 1: the scale starts at 2^0, so a
    # single overflow sets it to 0.5 (overflow after overflow is what a scale under 1 means, not one of them)
    losses = "".join(
        f"steps: {i} loss: {2.1 - 0.01 * i:.4f} iter time (s): 0.913 samples/sec: 35.0\n" for i in range(4, 40)
    )
    rep = _run(tmp_path, "p0", _deepspeed([(1.0, 0.5)]) + losses)
    assert not rep.diverged
    # halved below 1 again: overflowing with the loss scaled down, step after step
    rep = _run(tmp_path, "p0b", _deepspeed([(1.0, 0.5), (0.5, 0.25), (0.25, 0.125)]))
    assert rep.diverged


def _keras2_metric(losses: list[float], metric: str) -> str:
    # tf.keras 2.x Progbar: 'N/N [====] - 0s 2ms/step - loss: %.4f - {metric}: %.4f' (a model compiled with
    # loss='mape' and metrics=['mape'] names it mean_absolute_percentage_error)
    return "".join(
        f"Epoch {e}/{len(losses)}\n100/100 [==============================] - 0s 2ms/step - loss: {v:.4f} - "
        f"{metric}: {v:.4f}\n"
        for e, v in enumerate(losses, 1)
    )


def test_a_percentage_error_at_100_is_no_bce_clamp(tmp_path):
    # a MAPE that reached 100: the net predicts 0 for every sample (|y - 0| / |y| = 1), BCELoss's 100 by chance
    losses = [310.2, 180.4, 120.9, 100.0, 100.0, 100.0]
    rep = _run(tmp_path, "mape", _keras2_metric(losses, "mean_absolute_percentage_error"))
    assert "LR017" not in _rules(rep)
    assert rep.timeline.exploded_verb != "saturated"
    # the same values beside a metric that is no percentage: BCELoss's clamp
    rep = _run(tmp_path, "bce", _keras2_metric([0.6931, 0.4210, 0.3102, 100.0, 100.0, 100.0], "accuracy"))
    assert "LR017" in _rules(rep) and rep.timeline.exploded_verb == "saturated"
