"""The verdict on real training logs, by mechanism (docs/logs.md, issue 11): what a log shows that
tells the causes apart, each on lines written here in the toolkit's own format (the thread that
showed the case is named beside; the pasted logs themselves stay outside the repository), with
the look-alikes that must not move.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import forensics
from forensics.readers.logs import parse_log_text


def _run(tmp_path: Path, name: str, text: str, filename: str = "train.log"):
    run = tmp_path / name
    run.mkdir()
    (run / filename).write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


def _hf_dicts(losses: list[float]) -> str:
    # the HF Trainer's on-log print (TRL's DPOTrainer adds its reward keys), no step numbers
    return "".join(
        f"{{'loss': {v}, 'learning_rate': {6e-05 - i * 3e-07}, 'rewards/chosen': 3.87, 'rewards/rejected': -11.44, "
        f"'rewards/accuracies': 1.0, 'rewards/margins': 15.31, 'logps/rejected': -783.4, 'logps/chosen': -781.2, "
        f"'epoch': {0.01 * (i + 1):.2f}}}\n"
        for i, v in enumerate(losses)
    )


def test_a_loss_printed_as_zero_sets_no_scale_to_explode_from(tmp_path):
    # huggingface/trl#1236 (heldout4): a saturated DPO loss prints 0.0, then 0.0036, then 0.0
    rep = _run(tmp_path, "dpo", _hf_dicts([0.0, 0.0036, 0.0]))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    # the scale is the first non-zero value: a climb 1e4 above that still exploded
    rep = _run(tmp_path, "blown", _hf_dicts([0.0, 2.1, 1.9, 1.8, 4.0e5]))
    assert rep.diverged and rep.timeline.exploded_step is not None


def _ssd(losses: list[str]) -> str:
    # amdegroot/ssd.pytorch train.py: print('iter ' + repr(iteration) + ' || Loss: %.4f ||' % (loss.item()), end=' ')
    # after print('timer: %.4f sec.' % (t1 - t0))
    return "".join(f"timer: 0.0842 sec.\niter {10 * i} || Loss: {v} || " for i, v in enumerate(losses)) + "\n"


def test_a_loss_that_never_fell_below_its_first_value_before_it_blew_up_is_the_step_size(tmp_path):
    # amdegroot/ssd.pytorch#275 (heldout5): batch 1 at the default LR, 3.3 -> 3e10 -> nan by iteration 60
    rep = _run(tmp_path, "ssd", _ssd(["3.2635", "14.6995", "12.2860", "14.0080", "20.0848", "29821698048.0000", "nan"]))
    assert rep.diverged and rep.verdict.cause == "learning_rate"
    assert any(e.rule == "LR002" for c in rep.candidates for e in c.evidence)
    # a loss that learned first (below its first value) and then climbed late: not LR002's case
    rep = _run(tmp_path, "late", _ssd(["3.2635", "2.9", "2.6", "2.7", "2.9", "3.1", "29821698048.0000", "nan"]))
    assert rep.diverged and not any(e.rule == "LR002" for c in rep.candidates for e in c.evidence)


def _opennmt_tf(eval_loss: str, ppl: str, losses: list[float], lr: float) -> str:
    # OpenNMT-tf 2 (opennmt/training.py, opennmt/evaluation.py): "Evaluation result for step %d: %s" with
    # "%s = %f" joined by " ; " (perplexity = exp(loss)), then "Step = %d ; %s ; Learning rate = %f ; Loss = %f"
    lines = [
        "INFO:tensorflow:Saved checkpoint data/model_gpt/ckpt-435000",
        "INFO:tensorflow:Running evaluation for step 435000",
        f"INFO:tensorflow:Evaluation result for step 435000: loss = {eval_loss} ; perplexity = {ppl}",
    ]
    lines += [
        f"INFO:tensorflow:Step = {435100 + 100 * i} ; steps/s = 2.97, source words/s = 12176 ; "
        f"Learning rate = {lr - 3e-4 * i:f} ; Loss = {v:f}"
        for i, v in enumerate(losses)
    ]
    return "\n".join(lines) + "\n"


def test_a_perplexity_printed_as_inf_beside_a_finite_loss_overflowed_and_the_run_diverged(tmp_path):
    # OpenNMT/OpenNMT-tf#744 (heldout5): a GPT2Small LM at LR 1.2, losses of 1.5e5, its perplexity exp(loss) = inf
    huge = [185912.78, 158771.16, 138000.16, 159760.92, 159738.69, 169730.59]
    rep = _run(tmp_path, "gpt", _opennmt_tf("148890.718750", "inf", huge, 1.2025))
    assert rep.diverged and rep.timeline.exploded_step == 435000 and "perplexity inf" in rep.verdict.summary
    # the LR, logged only after that point but constant, is the one the run met: 120x the usual, the LR's doing
    assert rep.timeline.lr_info.value is not None and rep.verdict.cause == "learning_rate"
    # the same lines with a working model's perplexity: no divergence
    rep = _run(tmp_path, "ok", _opennmt_tf("3.184", "24.146", [3.21, 3.19, 3.2, 3.18, 3.17, 3.18], 0.00025))
    assert not rep.diverged and rep.verdict.cause == "healthy"


def test_a_perplexity_overflowed_in_float16_beside_a_plausible_loss_is_no_divergence(tmp_path):
    # a print loop that takes exp() of a float16 loss: past 11.09 nats it overflows 65504, so a
    # healthy LM at initialisation (ln 50257 = 10.8 nats, a little above in its first steps) prints inf
    lines = "".join(
        f"step {10 * i} | loss {v:.4f} | ppl {'inf' if v > 11.09 else f'{math.exp(v):.2f}'}\n"
        for i, v in enumerate([11.42, 11.31, 11.2, 11.12, 11.1, 11.15])
    )
    rep = _run(tmp_path, "fp16exp", lines)
    assert rep.timeline.loss is not None and not rep.diverged
    # the same inf beside a loss past any token's cross-entropy is an overflow of the model's outputs
    lines = "".join(f"step {10 * i} | loss {v:.4f} | ppl inf\n" for i, v in enumerate([1.48e5, 1.52e5, 1.49e5, 1.51e5]))
    rep = _run(tmp_path, "blown", lines)
    assert rep.diverged


def _gluoncv(pairs: list[tuple[str, str]]) -> str:
    # GluonCV scripts/detection/ssd/train_ssd.py:
    # '[Epoch {}][Batch {}], Speed: {:.3f} samples/sec, {}={:.3f}, {}={:.3f}'
    # with the two metrics' names (CrossEntropy, SmoothL1), no total printed
    return "".join(
        f"INFO:root:[Epoch 0][Batch {i}], Speed: 24.210 samples/sec, CrossEntropy={ce}, SmoothL1={l1}\n"
        for i, (ce, l1) in enumerate(pairs)
    )


def test_a_term_still_finite_but_blown_up_where_the_total_went_nan_is_no_sudden_nan(tmp_path):
    # dmlc/gluon-cv#142 (heldout5): after one batch the cross-entropy is 2.9e33 and the smooth L1 NaN
    huge = "2911234189311495764698741583380480.000"
    rep = _run(tmp_path, "ssd", _gluoncv([("19.147", "3.899"), (huge, "nan"), (huge, "nan")]))
    assert rep.diverged and rep.verdict.cause != "numerical_instability"
    assert "crossentropy stood at 2.91e+33" in rep.verdict.summary
    assert not any(e.rule == "DATA005" for c in rep.candidates for e in c.evidence)
    # the terms at a normal level where the total went NaN: a NaN from a normal level, as before
    rep = _run(tmp_path, "sudden", _gluoncv([("19.147", "3.899"), ("7.512", "2.310"), ("6.904", "nan")]))
    assert rep.diverged and "stood at" not in rep.verdict.summary
    assert any(e.rule == "DATA005" for c in rep.candidates for e in c.evidence)


_HF_ARGS = (
    "06/12/2024 10:01:02 - INFO - __main__ - Training/evaluation parameters TrainingArguments(\n_n_gpu=1,\n"
    "{precision}gradient_accumulation_steps=1,\nlearning_rate=2e-05,\nlogging_steps=10,\nlr_scheduler_type=linear,\n"
    "num_train_epochs=3,\nper_device_train_batch_size=16,\nwarmup_ratio=0.1,\n)\n"
)


def test_a_nan_before_any_update_in_a_float16_run_is_the_forward_pass_overflow_as_much_as_the_inputs(tmp_path):
    # the HF Trainer's example scripts log their TrainingArguments, then one dict per logging step; with
    # logging_nan_inf_filter a NaN loss is logged as 0.0 and the grad norm shows the NaN
    # (huggingface/sentence-transformers#2703, heldout5, is the one-line case of an mT5 in fp16)
    dicts = "".join(f"{{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 0.0, 'epoch': 0.0{i}}}\n" for i in (1, 2, 3))
    rep = _run(tmp_path, "fp16", _HF_ARGS.format(precision="fp16=True,\n") + dicts)
    data001 = [e for c in rep.candidates for e in c.evidence if e.rule == "DATA001"]
    assert rep.timeline.weight_dtype == "float16" and data001 and data001[0].weight <= 0.3
    assert rep.verdict.cause == "numerical_instability"
    # the same lines in float32: nothing was updated, so the inputs are what the finding names
    rep = _run(tmp_path, "fp32", _HF_ARGS.format(precision="") + dicts)
    data001 = [e for c in rep.candidates for e in c.evidence if e.rule == "DATA001"]
    assert rep.timeline.weight_dtype != "float16" and data001 and data001[0].weight == 0.8
    assert rep.verdict.cause == "data_or_labels"


def test_an_evaluation_result_line_feeds_the_validation_series_not_the_training_loss():
    # OpenNMT-tf 2's "Evaluation result for step %d: %s": its step counter carries the stage word
    series, *_ = parse_log_text(_opennmt_tf("3.184", "24.146", [3.21, 3.19, 3.2, 3.18], 0.00025))
    assert 435000 not in series["loss"].steps.tolist() and len(series["loss"]) == 4
    assert series["val_loss"].steps.tolist() == [435000] and series["val_loss"].values.tolist() == [3.184]
    # the same shape of line for the training stays the training loss
    series, *_ = parse_log_text(
        "".join(f"Training result for step {100 * i}: loss = {2 - 0.1 * i}\n" for i in range(4))
    )
    assert len(series["loss"]) == 4 and "val_loss" not in series


def test_a_log_with_only_an_evaluation_loss_reads_it_as_its_loss_and_says_so(tmp_path):
    # Flax examples/vae/train.py: print('eval epoch: {}, loss: {:.4f}, BCE: {:.4f}, KLD: {:.4f}'.format(...)),
    # the only metric line it prints
    lines = "".join(
        f"eval epoch: {e}, loss: {120 - 2 * e:.4f}, BCE: {95 - 2 * e:.4f}, KLD: 24.6818\n" for e in range(1, 11)
    )
    rep = _run(tmp_path, "vae", lines)
    assert rep.timeline.loss is not None and len(rep.timeline.loss) == 10 and not rep.diverged
    assert rep.timeline.loss.tag == "val_loss"


def _bmn(epochs: list[int], totals: list[str]) -> str:
    # JJBOY/BMN-Boundary-Matching-Network main.py train_BMN: print("BMN training loss(epoch %d): tem_loss: %.03f,
    # pem class_loss: %.03f, pem reg_loss: %.03f, total_loss: %.03f" % (epoch, ...)), printed once an epoch,
    # or (as pasted in its issue 22) after every batch with the same epoch
    return "".join(
        f"BMN training loss(epoch {e}): tem_loss: 1.184, pem class_loss: 0.458, pem reg_loss: 0.024, total_loss: {t}\n"
        for e, t in zip(epochs, totals, strict=True)
    )


def test_a_counter_that_never_advances_across_successive_records_falls_back_to_line_order(tmp_path):
    text = _bmn([0] * 5, ["1.883", "1.884", "1.871", "nan", "nan"])
    series, _, _, _ = parse_log_text(text)
    assert series["loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert series["loss"].values.tolist()[:3] == [1.883, 1.884, 1.871]
    rep = _run(tmp_path, "bmn", text)
    assert rep.diverged and json.loads(rep.to_json())["first_nonfinite"]["step"] == 4
    notes = [s["note"] for s in json.loads(rep.to_json())["sources"]]
    assert any("does not advance across its 5 metric lines" in (n or "") for n in notes)


def test_an_advancing_counter_or_one_record_printed_again_keeps_its_steps():
    # once an epoch, as the source prints it: per-epoch points
    series, *_ = parse_log_text(_bmn([0, 1, 2, 3], ["1.883", "1.2", "0.9", "0.8"]))
    assert series["loss"].steps.tolist() == [1, 2, 3, 4]
    # the same record printed three times (two handlers and the console): one point
    series, *_ = parse_log_text(_bmn([0, 0, 0], ["1.883"] * 3))
    assert series["loss"].values.tolist() == [1.883]


def test_a_nan_on_the_first_line_of_a_log_without_a_counter_is_no_first_step(tmp_path):
    # facebookarchive/NAMAS#21 (heldout3), erickrf/multiffn-nli#2 (heldout5): prints with no step counter, the
    # paste's first line already NaN; the lines are numbered in the order printed, so the first is not the run's
    # first step and DATA001 weighs it as a point after updates, not as the first forward pass
    from forensics.rules.data_or_labels import FIRST_POINT_AFTER_UPDATES_WEIGHT, FIRST_STEP_WEIGHT

    def data001(rep):
        return [e for c in rep.candidates for e in c.evidence if e.rule == "DATA001"]

    # a TF1 print loop: print('Average training batch loss: %f' % avg) (multiffn-nli's train.py)
    rep = _run(tmp_path, "paste", "".join("Average training batch loss: nan\n" for _ in range(4)))
    assert rep.timeline.loss.unit == "log_index"
    (e,) = data001(rep)
    assert e.weight == FIRST_POINT_AFTER_UPDATES_WEIGHT and "nothing was learned yet" not in e.message
    # with a counter that says step 1, it is the first forward pass
    rep = _run(tmp_path, "first", "".join(f"step {i} loss nan\n" for i in range(1, 5)))
    (e,) = data001(rep)
    assert e.weight == FIRST_STEP_WEIGHT
