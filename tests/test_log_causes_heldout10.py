"""Readings and a rule premise heldout10's misses showed wrong for a whole class of logs (docs/logs.md, issue 11):
a perplexity printed without its loss is the exp of that loss, so the loss is its log; the source line Python's
warnings print under a warning is code, no metric; and LR013's "the loss never fell" needs the record to show how
the run began. Each on lines written here with the toolkit's own format string (toolkit and version named beside),
with the look-alikes that must not move.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

import forensics
from forensics.readers.logs import parse_log_text


def _analyze(tmp_path: Path, name: str, text: str):
    """The report on ``text`` as a run's only log, and the rules that found evidence in it."""
    (tmp_path / name).mkdir()
    (tmp_path / name / "train.log").write_text(text, encoding="utf-8")
    rep = forensics.analyze(str(tmp_path / name))
    return rep, {e.rule for c in rep.candidates for e in c.evidence}


# ---------------------------------------------------------------- a perplexity printed without its loss


def _seq2seq_attn(ppls: list[float], lr: float = 1.0) -> str:
    # harvardnlp seq2seq-attn train.lua (2016): string.format('Epoch: %d, Batch: %d/%d, Batch size: %d, LR: %.4f, ')
    # .. string.format('PPL: %.2f, |Param|: %.2f, |GParam|: %.2f, ', math.exp(train_loss/train_nonzeros), ...)
    # .. string.format('Training: %d/%d/%d total/source/target tokens/sec', ...)
    fmt = (
        "Epoch: %d, Batch: %d/%d, Batch size: %d, LR: %.4f, PPL: %.2f, |Param|: %.2f, |GParam|: %.2f, "
        "Training: %d/%d/%d total/source/target tokens/sec\n"
    )
    return "".join(
        fmt % (1, 50 * (i + 1), 184, 64, lr, p, 473.2 + i, 150.0 / (i + 1), 7000, 2600, 4500)
        for i, p in enumerate(ppls)
    )


def test_a_perplexity_printed_without_a_loss_gives_its_log_as_the_loss_and_stays_beside_it():
    scalars = parse_log_text(_seq2seq_attn([350468.10, 376431.15, 114794.29]))[0]
    assert list(scalars["loss"].values) == pytest.approx([math.log(p) for p in (350468.10, 376431.15, 114794.29)])
    assert list(scalars["perplexity"].values) == [350468.10, 376431.15, 114794.29]


def test_a_first_perplexity_of_a_vocabulary_is_no_blown_up_loss_at_sgds_lr_of_1(tmp_path):
    # seq2seq-attn's demo: SGD at LR 1 (its default), a 40k-word vocabulary: the perplexity starts in the hundreds
    # of thousands (a loss of ~12.8 nats) and falls; no output was blown up
    rep, rules = _analyze(tmp_path, "s2s", _seq2seq_attn([350468.10, 376431.15, 114794.29, 40210.5, 9021.3]))
    assert not rep.diverged and rep.verdict.cause == "healthy" and "LR008" not in rules
    assert any("the log of 'perplexity'" in (s.note or "") for s in rep.sources)


def test_a_perplexity_that_went_non_finite_is_a_non_finite_loss(tmp_path):
    rep, _ = _analyze(tmp_path, "s2s_nan", _seq2seq_attn([900.0, 420.0, 210.0, math.inf, math.nan, math.nan]))
    assert rep.diverged and rep.first_nonfinite_step == 200


def _onmt_lua(ppl: str, n: int = 5) -> str:
    # OpenNMT-py 0.1 (2017) onmt/Trainer.py Statistics.output: "Epoch %2d, %5d/%5d; acc: %6.2f; ppl: %6.2f; "
    # "%3.0f src tok/s; %3.0f tgt tok/s; %6.0f s elapsed", its ppl math.exp(min(loss / n_words, 100))
    fmt = "Epoch %2d, %5d/%5d; acc: %6.2f; ppl: %s; %3.0f src tok/s; %3.0f tgt tok/s; %6.0f s elapsed\n"
    return "".join(fmt % (1, 50 * (i + 1), 21692, 0.4, ppl, 3324, 4592, 22 + 15 * i) for i in range(n))


def test_a_perplexity_at_its_print_cap_diverged_and_is_no_cross_entropys_clamp(tmp_path):
    # exp(100), OpenNMT-py's cap: its log, 100, is also PyTorch BCELoss's clamp, but here it is the print's cap
    rep, rules = _analyze(tmp_path, "onmt_cap", _onmt_lua(f"{math.exp(100.0):.2f}"))
    assert rep.diverged and "perplexity" in rep.verdict.summary
    assert "LR017" not in rules and "BCELoss" not in rep.verdict.summary


def test_a_loss_printed_beside_its_perplexity_is_read_as_printed():
    # OpenNMT-py 0.x prints the cross-entropy too ('xent: %6.2f'): that is the loss, the perplexity beside it
    line = (
        "Epoch  1,    50/37527; acc:  30.00; ppl: 500.00; xent:   6.21; 3438 src tok/s; 3517 tgt tok/s;      0 s "
        "elapsed\n"
    )
    scalars = parse_log_text(line)[0]
    assert list(scalars["loss"].values) == [6.21] and list(scalars["perplexity"].values) == [500.0]


# ---------------------------------------------------------------- the source line under a Python warning


def _warning(message: str, path: str, lineno: int, source: str) -> str:
    # the stdlib's own formatting: 'FILE:LINE: CATEGORY: MESSAGE' and the source line stripped under it, indented
    return warnings.formatwarning(message, UserWarning, path, lineno, line=source)


_TENSOR_0DIM = (
    "invalid index of a 0-dim tensor. This will be an error in PyTorch 0.5. "
    "Use tensor.item() to convert a 0-dim tensor to a Python number"
)


def _deeprecommender(rmses: list[float], epoch_rmse: float) -> str:
    # NVIDIA DeepRecommender run.py (PyTorch 0.4, 2018): print('Doing epoch {} of {}'), print('[%d, %5d] RMSE: %.7f'
    # % (epoch, i, sqrt(t_loss / t_loss_denom))) every summary_frequency steps and print('Total epoch {} finished in
    # {} seconds with TRAINING RMSE loss: {}'); under PyTorch 0.4 each 'loss.data[0]' raises a UserWarning
    out = ["Doing epoch 0 of 12\n", _warning(_TENSOR_0DIM, "run.py", 198, "      t_loss += loss.data[0]")]
    fmt = "[%d, %5d] RMSE: %.7f\n"
    out.append(fmt % (0, 0, rmses[0]))
    out.append(_warning(_TENSOR_0DIM, "run.py", 212, "      total_epoch_loss += loss.data[0]"))
    out += [fmt % (0, 1000 * i, r) for i, r in enumerate(rmses[1:], start=1)]
    out.append(f"Total epoch 0 finished in 1966.8 seconds with TRAINING RMSE loss: {epoch_rmse}\n")
    return "".join(out)


def test_a_warnings_source_line_is_no_metric():
    text = _deeprecommender([8.08, 7.9, 7.7], 7.8)
    assert "  t_loss += loss.data[0]\n" in text  # the stdlib's format, as the reader meets it
    scalars = parse_log_text(text)[0]
    assert "loss" not in scalars  # 'loss.data[0]' read as a loss of 0 at each warning, before
    assert list(scalars["rmse"].values) == [8.08, 7.9, 7.7] and list(scalars["loss_epoch"].values) == [7.8]


def test_a_nan_loss_behind_the_warnings_source_lines_is_read_and_the_run_diverged(tmp_path):
    rep, _ = _analyze(tmp_path, "dr", _deeprecommender([8.08, math.nan, math.nan, math.nan], math.nan))
    assert rep.diverged


@pytest.mark.parametrize(
    "text",
    [
        # an indented metrics line after an ordinary line: read as ever
        "Doing epoch 0 of 12\n  step 10 loss 2.0\n  step 20 loss 1.9\n  step 30 loss 1.8\n",
        # a metrics line right after a warning, not indented as the warning's source line is: read as ever
        _warning(_TENSOR_0DIM, "run.py", 198, "") + "step 10 loss 2.0\nstep 20 loss 1.9\nstep 30 loss 1.8\n",
    ],
)
def test_warning_look_alikes_keep_their_metrics(text):
    assert list(parse_log_text(text)[0]["loss"].values) == [2.0, 1.9, 1.8]


# ---------------------------------------------------------------- LR013 on a record that begins mid-run


def _keras_bar(start: int, losses: list[float], total: int = 1000) -> str:
    # Keras 2.x generic_utils.Progbar (verbose=1), one redraw kept per line: '%d/%d [' + bar + ']'
    # + ' - ETA: %d:%02d' + ' - %s: %.4f' per metric (the epoch's running mean)
    fmt = " %d/%d [%s] - ETA: 3:%02d - loss: %.4f - rpn_class_loss: 0.0102\n"
    rows = []
    for i, v in enumerate(losses):
        n = start + i
        done = int(30 * n / total)
        bar = "=" * (done - 1) + ">" + "." * (30 - done)
        rows.append(fmt % (n, total, bar, 57 - i, v))
    return "".join(rows)


def test_a_nan_after_a_paste_that_starts_late_in_the_run_is_not_an_lr_that_never_learned(tmp_path):
    # the paste keeps steps 803-808 of the epoch, a trained run's level, then the NaN at 829: whether the run
    # learned before 803 is out of sight, so "diverged before it learned anything" has no ground
    text = _keras_bar(803, [1.0229, 1.0221, 1.0218, 1.0209, 1.0203, 1.0193]) + _keras_bar(829, [math.nan] * 3)
    rep, rules = _analyze(tmp_path, "late", text)
    assert rep.diverged and "LR013" not in rules


def test_a_nan_early_in_a_record_that_starts_with_the_run_still_weighs_the_lr(tmp_path):
    # the same shape from the run's first steps: the record shows the loss never fell before the NaN
    text = _keras_bar(1, [2.31, 2.35, 2.4, 2.38, 2.42, 2.45]) + _keras_bar(27, [math.nan] * 3)
    rep, rules = _analyze(tmp_path, "early", text)
    assert rep.diverged and "LR013" in rules
