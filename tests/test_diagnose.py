"""How evidence is weighed: thin evidence says inconclusive, missing sources lower the
confidence and are named. Built from real sample runs with parts removed, as a real
post-mortem often has only part of a run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import forensics
from forensics.combine import calibrated
from forensics.diagnose import (
    FIRST_POINT_MAX_CONFIDENCE,
    HEALTHY_MAX_CONFIDENCE,
    PRIOR_MAX_CONFIDENCE,
    STOPPED_SHORT_CHECKPOINTS_CONFIDENCE,
    Diagnosis,
    diagnose,
)
from forensics.rules import run_rules

SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"


def test_a_lone_nan_checkpoint_is_a_divergence_whose_cause_is_a_weak_prior(tmp_path):
    src = SAMPLES / "torch_bf16_lr_too_high" / "checkpoints" / "model_00030.safetensors"
    shutil.copy(src, tmp_path / "model_00030.safetensors")
    r = forensics.analyze(str(tmp_path / "model_00030.safetensors"))
    assert r.diverged
    assert any("no training-loss series" in n for n in r.not_checked)
    # nothing points to a cause: the verdict still names the likeliest one by the fitted base
    # rates, says it is a prior and not evidence, never states it as more likely than not,
    # and names the runner-up
    assert r.verdict.cause not in ("inconclusive", "healthy")
    assert "No source says anything about the cause" in r.verdict.summary
    assert "weak prior, not from evidence" in r.verdict.summary
    assert 0 < r.verdict.confidence <= PRIOR_MAX_CONFIDENCE
    assert r.candidates[0].cause == r.verdict.cause
    assert f"Runner-up: {r.candidates[1].cause.replace('_', ' ')}" in r.verdict.summary
    assert not r.candidates[0].evidence or all(e.weight <= 0 for e in r.candidates[0].evidence)


def test_missing_checkpoints_lower_confidence_and_are_named(tmp_path):
    full = forensics.analyze(str(SAMPLES / "torch_lr_schedule_spike"))
    partial = tmp_path / "run"
    shutil.copytree(SAMPLES / "torch_lr_schedule_spike", partial, ignore=shutil.ignore_patterns("checkpoints"))
    r = forensics.analyze(str(partial))
    assert (r.verdict.cause, r.verdict.detail) == (full.verdict.cause, full.verdict.detail)
    assert any(n.startswith("no readable checkpoints") for n in r.not_checked)
    assert not any(n.startswith("no readable checkpoints") for n in full.not_checked)
    assert r.verdict.confidence <= full.verdict.confidence


def test_the_event_files_alone_still_tell_when_it_diverged(tmp_path):
    partial = tmp_path / "run"
    shutil.copytree(SAMPLES / "keras_nan_in_inputs" / "tb", partial)
    r = forensics.analyze(str(partial))
    assert r.first_nonfinite_step == 87
    assert any("no data sample" in n for n in r.not_checked)


def test_an_unreadable_source_is_listed_and_the_rest_still_diagnosed(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "torch_lr_schedule_spike", run)
    ckpt = run / "checkpoints" / "step_000175.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # a half-copied checkpoint
    r = forensics.analyze(str(run))
    bad = [s for s in r.sources if s.path.endswith("step_000175.safetensors")]
    assert bad and bad[0].status.value == "unreadable" and bad[0].note
    assert (r.verdict.cause, r.verdict.detail) == ("learning_rate", "lr_schedule_spike")
    assert "step_000175.safetensors" in r.to_markdown()


CORPUS_SLICE = Path(__file__).resolve().parent / "fixtures" / "corpus_slice"


def test_a_data_sample_showing_inf_rows_names_them_though_the_loss_went_nan():
    # the loss of a batch with Inf rows is NaN (Inf - Inf): the rules that saw only the NaN
    # name no detail, so the sample's Inf rows (DATA002) decide it
    v = forensics.analyze(CORPUS_SLICE / "s0_0066_torch_mlp_inf_in_inputs").verdict
    assert (v.cause, v.detail, v.detail_basis) == ("data_or_labels", "inf_in_inputs", "evidence")


def test_a_sudden_nan_alone_names_the_input_detail_only_as_a_prior():
    # no data sample: NaN rows or Inf rows cannot be told from the NaN loss, and the report says so
    v = forensics.analyze(CORPUS_SLICE / "s0_0049_torch_mlp_nan_in_inputs").verdict
    assert v.cause == "data_or_labels"
    assert v.detail in ("nan_in_inputs", "inf_in_inputs") and v.detail_basis == "prior"
    assert "No finding names the detail" in v.summary


def test_a_loss_that_blew_up_before_its_first_inf_is_not_called_numerical():
    # the log shows 8.6e25 the point before the Inf: the blow-up reached the float limit; an
    # operation's singularity (log(0), x/0) strikes from a normal level
    v = forensics.analyze(CORPUS_SLICE / "s0_0007_torch_gru_lr_schedule_spike").verdict
    assert v.cause not in ("numerical_instability", "data_or_labels")
    assert "already blown up" in v.summary


def test_a_warmup_the_loss_kept_falling_under_is_not_named_for_the_nan_after_it():
    # the warmup ended at step 20 and the loss fell from 0.52 to 0.066 at the raised LR before the
    # NaN at step 40: the LR trained, so the verdict is not the LR's
    r = forensics.analyze(CORPUS_SLICE / "s1_0379_torch_mlp_log_of_zero")
    assert r.verdict.cause != "learning_rate"
    assert not any(e.rule == "LR001" for c in r.candidates for e in c.evidence)


RECURRING = Path(__file__).resolve().parent / "fixtures" / "recurring_nan"


def test_a_nan_that_comes_back_every_epoch_at_one_place_is_named_the_data():
    # a real PyTorch loop that skips non-finite steps, one NaN row of 96 fed in a fixed order:
    # NaN at steps 5, 17, 29 and 41, the weights finite throughout
    r = forensics.analyze(RECURRING / "fixed_order")
    assert r.verdict.cause == "data_or_labels" and r.verdict.confidence > 0.6
    assert "every 12 steps" in r.verdict.summary
    assert "data_or_labels" in {c.cause for c in r.candidates}


def test_a_setting_named_in_a_config_alone_is_the_verdict_over_the_base_rate(tmp_path):
    # a job that died before its first checkpoint and left only its config: a float16 model with
    # no loss scaler (NUM006) is the only thing said of the cause; the table's base rate for runs
    # with no loss series (data faults, on the corpus) is named beside it, never instead of it
    r = forensics.analyze(CORPUS_SLICE / "s9_0001_torch_mlp_fp16_overflow")
    assert (r.verdict.cause, r.verdict.detail) == ("numerical_instability", "fp16_overflow")
    assert 0 < r.verdict.confidence <= PRIOR_MAX_CONFIDENCE
    assert "data or labels is likelier in a run that kept no loss series" in r.verdict.summary
    assert "the verdict follows the setting named" in r.verdict.summary
    # the same config in float32 states nothing risky: no source says anything about the cause
    run = tmp_path / "run"
    run.mkdir()
    text = (CORPUS_SLICE / "s9_0001_torch_mlp_fp16_overflow" / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("precision: fp16", "precision: fp32"))
    assert forensics.analyze(run).verdict.cause == "inconclusive"


def test_finite_checkpoints_that_stop_before_the_planned_steps_state_healthy_as_one_ending_of_several():
    # one finite checkpoint at step 50 of the 120 its config planned, then nothing: the job ended
    # early (here a division by zero after that checkpoint), and nothing says why; a crash, a kill
    # or a NaN after the checkpoint are as open as a healthy stop, and the likeliest of them is named
    r = forensics.analyze(CORPUS_SLICE / "s3_0357_torch_rnn_division_by_zero")
    assert r.verdict.cause == "healthy" and r.verdict.confidence <= STOPPED_SHORT_CHECKPOINTS_CONFIDENCE
    assert "step 50 of the 120 planned (config.json)" in r.verdict.summary
    assert "Runner-up: " in r.verdict.summary
    # checkpoints every 20 steps up to the 160 planned: they reached the end, nothing is capped
    full = forensics.analyze(CORPUS_SLICE / "s1_0000_torch_cnn_fp16_skips")
    assert full.verdict.cause == "healthy" and "planned" not in full.verdict.summary
    assert full.verdict.confidence > r.verdict.confidence


FIRST_POINT_OPEN = "non-finite from its first logged point, so nothing logged before it tells"
SUDDEN_OPEN = "straight from a normal loss is what a batch holding NaN/Inf and an operation's singularity"


@pytest.mark.parametrize(
    "run",
    [
        # a deep plain net that blew up in its first updates, no checkpoint kept: NaN at the first point
        "s0_0172_lightning_deep_mlp_exploding_gradients",
    ],
)
def test_a_verdict_on_a_loss_non_finite_from_its_first_point_says_the_record_cannot_tell(run):
    v = forensics.analyze(CORPUS_SLICE / run).verdict
    assert FIRST_POINT_OPEN in v.summary and "a lean, not a finding" in v.summary
    assert v.confidence < 0.7


@pytest.mark.parametrize(
    "run",
    [
        "s0_0039_torch_mlp_nan_in_inputs",  # NaN rows, events only: named numerical on the table's lean
        "s0_0030_torch_mlp_division_by_zero",  # 0/0 in a batch std: named the data on the long finite stretch
        "s3_0277_torch_lstm_nan_in_inputs",  # NaN rows, a data sample that does not reach them
    ],
)
def test_a_verdict_on_a_sudden_nan_alone_says_a_batch_and_an_operation_leave_the_same_record(run):
    v = forensics.analyze(CORPUS_SLICE / run).verdict
    assert v.cause in ("data_or_labels", "numerical_instability")
    assert SUDDEN_OPEN in v.summary and v.confidence < 0.7


@pytest.mark.parametrize(
    "run",
    [
        "s0_0079_torch_rnn_exploding_gradients",  # first point NaN, but the checkpoint shows a plain RNN (EXP005)
        "s1_0040_torch_deep_mlp_exploding_gradients",  # a first gradient norm of 1e12 (EXP006)
        "s2_0107_torch_mlp_fp16_overflow",  # sudden Inf in float16 (NUM002)
        "s0_0066_torch_mlp_inf_in_inputs",  # the data sample holds the Inf rows (DATA002)
        "s2_0054_hf_mlp_lr_schedule_spike",  # the loss climbed after the LR rose (LR001): no sudden NaN
    ],
)
def test_a_verdict_a_finding_settles_does_not_say_the_record_leaves_it_open(run):
    v = forensics.analyze(CORPUS_SLICE / run).verdict
    assert FIRST_POINT_OPEN not in v.summary and SUDDEN_OPEN not in v.summary


CHECKPOINT_SUDDEN_OPEN = "turn NaN in every layer between two checkpoints are what a batch holding NaN/Inf"


@pytest.mark.parametrize(
    "run",
    [
        "torch_division_by_zero/checkpoints",  # 0/0 in a batch statistic (PyTorch): steady, then NaN everywhere
        "keras_log_of_zero/checkpoints",  # log(0) in a hand-written loss (Keras): the same checkpoints
        "keras_nan_in_inputs/ckpt",  # NaN rows (Keras): the same checkpoints again
    ],
)
def test_a_verdict_on_steady_checkpoints_turning_nan_says_a_batch_and_an_operation_leave_the_same_weights(run):
    v = forensics.analyze(SAMPLES / run).verdict
    assert v.cause in ("data_or_labels", "numerical_instability")
    assert CHECKPOINT_SUDDEN_OPEN in v.summary and "a lean, not a finding" in v.summary
    assert v.confidence < 0.7


def test_checkpoints_whose_nan_a_finding_explains_do_not_say_the_weights_leave_it_open():
    # Inf in float16 tensors beside steady checkpoints (NUM005): the dtype names the overflow
    v = forensics.analyze(SAMPLES / "torch_fp16_overflow/checkpoints").verdict
    assert v.cause == "numerical_instability" and CHECKPOINT_SUDDEN_OPEN not in v.summary


def test_a_schedule_that_raises_the_lr_explains_steady_checkpoints_turning_nan():
    # checkpoints only, steady up to step 100, NaN everywhere at 120; the config's multistep schedule
    # multiplies the LR by 57 at each milestone: the step size jumped between the two checkpoints
    r = forensics.analyze(CORPUS_SLICE / "s3_0397_torch_gru_lr_schedule_spike")
    assert (r.verdict.cause, r.verdict.detail) == ("learning_rate", "lr_schedule_spike")
    assert "multiplies the LR by 56.9 at each milestone" in r.verdict.summary


def test_a_config_alone_whose_setting_speaks_commits_weakly_and_one_that_says_nothing_stays_inconclusive(tmp_path):
    # a job that died before its first checkpoint leaves its config: a recurrent net with no clipping
    # says something about the cause even where healthy stays likelier by the base rates (a setting is
    # weak), so the verdict names it at a low confidence; `inconclusive` is for a run where no source
    # says anything about the cause (an MLP's config with a usual LR)
    from scripts.fit_combination import config_only

    gru = forensics.analyze(config_only(CORPUS_SLICE / "s0_0082_torch_gru_labels_out_of_range", tmp_path)).verdict
    assert gru.cause == "exploding_weights" and 0.0 < gru.confidence < 0.5
    assert "rests on what its settings state" in gru.summary and "no gradient clipping" in gru.summary
    mlp = forensics.analyze(config_only(CORPUS_SLICE / "s0_0066_torch_mlp_inf_in_inputs", tmp_path)).verdict
    assert mlp.cause == "inconclusive"
    # the summary says plainly what was read and why none of it speaks
    assert "Read: config.json (it states settings, none of which makes a cause likelier)." in mlp.summary
    assert "The only findings argue against a cause and name none (LR006 against learning rate)." in mlp.summary


def test_an_inconclusive_verdict_on_an_event_file_that_holds_no_scalar_says_so(tmp_path):
    # a job that opened its TensorBoard writer and died before its first scalar (tensorboardX's own file)
    from tensorboardX import SummaryWriter

    SummaryWriter(str(tmp_path / "logs")).close()
    v = forensics.analyze(tmp_path).verdict
    assert v.cause == "inconclusive"
    assert "Read: logs/events.out.tfevents." in v.summary and "(no training-loss series is in it)." in v.summary
    assert "A loss curve, a checkpoint or the job's console output would say more." in v.summary


def _diagnosis(run: Path) -> Diagnosis:
    tl = forensics.analyze(run).timeline
    return diagnose(tl, run_rules(tl))


def test_a_healthy_curve_no_source_says_how_its_job_ended_is_calibrated_apart_and_says_what_it_cannot_show(tmp_path):
    # a healthy LSTM whose job log printed 3 losses and stops with no word of the end: the job may
    # have died right after the last point, so its confidence goes through its own kind's scaling
    short = _diagnosis(CORPUS_SLICE / "s0_0337_torch_lstm_healthy")
    assert short.verdict.cause == "healthy" and short.confidence_kind == "healthy_end_unknown"
    assert "Only 3 points were logged" in short.verdict.summary
    assert "The job log stops with no word of how the job ended" in short.verdict.summary
    p = next(c.score for c in short.candidates if c.cause == "healthy")
    assert short.verdict.confidence == round(min(HEALTHY_MAX_CONFIDENCE, calibrated(p, "healthy_end_unknown")), 2)
    # the event files of a run killed by its time limit, its console and config removed: the kill is
    # unseen there (with the config, the record stops short of its plan: PARTIAL_RECORD_CONFIDENCE)
    run = tmp_path / "events_only"
    shutil.copytree(CORPUS_SLICE / "s0_0097_torch_lstm_time_limit", run)
    for f in [*run.glob("*.out"), run / "config.yaml"]:
        f.unlink()
    unseen = _diagnosis(run)
    assert unseen.verdict.cause == "healthy" and unseen.confidence_kind == "healthy_end_unknown"
    assert "No job log was read and no source says how the job ended" in unseen.verdict.summary
    assert "not whether the job then finished, was killed or died of an error" in unseen.verdict.summary
    # with its console, the kill is read: the ending is known, the healthy kind's, and nothing said unseen
    seen = _diagnosis(CORPUS_SLICE / "s0_0097_torch_lstm_time_limit")
    assert seen.verdict.cause == "healthy" and seen.confidence_kind == "healthy"
    assert "how the job ended" not in seen.verdict.summary


def test_finite_checkpoints_alone_say_they_cannot_show_how_the_job_ended_unless_a_stop_is_named():
    # checkpoints only (fp16 steps skipped by the scaler, then the run went on): no console was kept
    v = forensics.analyze(CORPUS_SLICE / "s1_0000_torch_cnn_fp16_skips").verdict
    assert v.cause == "healthy"
    assert "No job log was read and no source says how the job ended: the checkpoints show the weights up to " in (
        v.summary
    )
    # checkpoints that stop short of a config's plan say that instead, once
    short = forensics.analyze(CORPUS_SLICE / "s3_0357_torch_rnn_division_by_zero").verdict
    assert "the job stopped before its end" in short.summary and "how the job ended" not in short.summary


def test_a_cause_resting_on_a_loss_non_finite_from_its_first_point_alone_is_no_surer_than_one_of_three():
    # a deep plain net that blew up in its first updates, only its curve kept: NaN from the first
    # point, which a bad first batch and an operation's singularity leave alike
    dx = _diagnosis(CORPUS_SLICE / "s0_0172_lightning_deep_mlp_exploding_gradients")
    assert 0.0 < dx.verdict.confidence <= FIRST_POINT_MAX_CONFIDENCE and dx.confidence_kind is None


@pytest.mark.parametrize(
    ("run", "kind"),
    [
        # first point NaN too, but the checkpoint shows a plain RNN (EXP005): a finding, not the shape
        ("s0_0079_torch_rnn_exploding_gradients", "finding"),
        # a sudden NaN from a normal loss alone: the shape kind, calibrated (two causes leave it, not three)
        ("s0_0039_torch_mlp_nan_in_inputs", "shape"),
        ("s3_0277_torch_lstm_nan_in_inputs", "shape"),
        # a first gradient norm of 1e12 (EXP006)
        ("s1_0040_torch_deep_mlp_exploding_gradients", "finding"),
    ],
)
def test_a_cause_a_finding_or_a_sudden_nan_speaks_for_is_calibrated_by_its_kind_not_bounded(run, kind):
    dx = _diagnosis(CORPUS_SLICE / run)
    assert dx.confidence_kind == kind
    probability = next(c.score for c in dx.candidates if c.cause == dx.verdict.cause)
    assert dx.verdict.confidence == round(min(calibrated(probability, kind), 0.99), 2)
