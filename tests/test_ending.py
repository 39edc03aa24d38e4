"""How the job ended (the contract's ``ended`` and ``crash``): each ending where it must be
said and where it must not, on sample runs trained by the real frameworks, the metrics stores
written by MLflow and wandb, and logs written here in the frameworks' own wording."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import forensics

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"


def _ending(run: Path) -> tuple[str, dict | None]:
    d = json.loads(forensics.analyze(str(run)).to_json())
    return d["ended"], d["crash"]


def _log_run(tmp_path: Path, text: str, name: str = "train.log") -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_text(text, encoding="utf-8")
    return run


LOSS = "".join(f"step {i} loss {2.0 - 0.01 * i:.3f}\n" for i in range(1, 40))


def test_a_label_the_loss_refused_is_a_crash_with_that_meaning():
    ended, crash = _ending(SAMPLES / "torch_labels_out_of_range")
    assert ended == "crashed"
    assert crash["meaning"] == "labels_out_of_range" and "8000" in crash["exception"]
    assert crash["step"] == 40 and crash["source"].endswith(".out")


def test_terminate_on_nan_stopped_the_run_and_is_no_crash():
    assert _ending(SAMPLES / "keras_nan_in_inputs") == ("stopped", None)


def test_lightning_ran_to_max_epochs_even_with_a_nan_loss():
    # the loss went NaN, but the job itself ran to its end: "finished" says how the job ended,
    # "diverged" says what the loss did
    rep = forensics.analyze(str(SAMPLES / "logonly_lightning_lr_too_high"))
    assert rep.diverged and rep.ending.ended == "finished" and rep.ending.crash is None


def test_a_run_that_simply_stops_logging_ended_unknown():
    assert _ending(SAMPLES / "torch_healthy") == ("unknown", None)


def test_out_of_memory_without_a_traceback_is_a_crash_that_is_no_divergence(tmp_path):
    run = _log_run(tmp_path, LOSS + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n")
    rep = forensics.analyze(str(run))
    assert rep.verdict.cause == "healthy" and not rep.diverged
    assert rep.ending.ended == "crashed" and rep.ending.crash.meaning == "out_of_memory"


def test_a_collective_timeout_alone_is_healthy_and_crashed(tmp_path):
    line = (
        "[rank1]:[E1206 10:01:02.000000 77 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective "
        "operation timeout: WorkNCCL(SeqNum=12, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) "
        "ran for 600010 milliseconds before timing out.\n"
    )
    rep = forensics.analyze(str(_log_run(tmp_path, line)))
    # no loss curve, no checkpoint: the message is the only word, and it names no divergence
    assert rep.verdict.cause == "healthy" and "distributed failure" in rep.verdict.summary
    assert rep.ending.ended == "crashed" and rep.ending.crash.meaning == "nccl_timeout"


@pytest.mark.parametrize(
    ("tail", "ended"),
    [
        ("slurmstepd: error: *** JOB 4242 ON gpu17 CANCELLED AT 2026-12-01T03:00:00 DUE TO TIME LIMIT ***\n", "killed"),
        ("torch.distributed.elastic.multiprocessing.api.SignalException: Process 311 got signal: 15\n", "killed"),
        ("Epoch 12: early stopping\n", "stopped"),
        ("Epoch 00012: early stopping\n", "stopped"),
        ("\n\nTraining completed. Do not forget to share your model on huggingface.co/models =)\n\n", "finished"),
        ("`Trainer.fit` stopped: `max_steps=39` reached.\n", "finished"),
        ("saving checkpoint to ckpt/step_39.pt\n", "unknown"),
    ],
)
def test_what_the_last_messages_say_of_the_end(tmp_path, tail, ended):
    rep = forensics.analyze(str(_log_run(tmp_path, LOSS + tail)))
    assert rep.ending.ended == ended
    assert rep.ending.crash is None
    assert not rep.diverged  # none of these is a divergence


# Python's own traceback of a Ctrl+C (CPython prints the bare type name for an exception without a message)
CTRL_C = (
    "^CTraceback (most recent call last):\n"
    '  File "train.py", line 286, in <module>\n'
    "    loss.backward()\n"
    "KeyboardInterrupt\n"
)
# torchrun's agent on SIGTERM (torch/distributed/elastic/agent/server/api.py's warning, then the
# SignalException raised by multiprocessing/api.py's _terminate_process_handler); the agent logs through
# torch's logger format 'W<mmdd> <time> <pid> <file>:<line>] '
SIGNAL_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "torch/distributed/elastic/multiprocessing/api.py", line 85, in _terminate_process_handler\n'
    '    raise SignalException(f"Process {os.getpid()} got signal: {sigval}", sigval=sigval)\n'
    "torch.distributed.elastic.multiprocessing.api.SignalException: Process 91 got signal: 15\n"
)
TORCHRUN_SIGTERM = (
    "W1206 10:00:00.000000 91 torch/distributed/elastic/agent/server/api.py:725] Received 15 death signal, "
    "shutting down workers\n"
    "W1206 10:00:00.001000 91 torch/distributed/elastic/multiprocessing/api.py:908] Sending process 92 closing "
    "signal SIGTERM\n" + SIGNAL_TRACEBACK
)


@pytest.mark.parametrize(
    "tail",
    [
        CTRL_C,
        CTRL_C + "\npython train.py  1.00s user 0.10s system 99% cpu 1.200 total\n",  # the shell's `time` after it
        TORCHRUN_SIGTERM,
        TORCHRUN_SIGTERM
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + SIGNAL_TRACEBACK,
        # Python < 3.11 printed the signal enum by its name
        "WARNING:torch.distributed.elastic.agent.server.api:Received Signals.SIGTERM death signal, shutting down "
        "workers\n",
    ],
    ids=["ctrl_c", "ctrl_c_then_time", "torchrun_sigterm", "torchrun_chained", "torchrun_enum_name"],
)
def test_a_job_stopped_from_outside_was_killed_and_its_curve_decides(tmp_path, tail):
    rep = forensics.analyze(str(_log_run(tmp_path, LOSS + tail)))
    assert rep.ending.ended == "killed" and rep.ending.crash is None
    assert rep.verdict.cause == "healthy" and not rep.diverged


@pytest.mark.parametrize(
    "tail",
    [
        # another exception after a Ctrl+C: the job died of that one
        CTRL_C + "\nDuring handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "train.py", line 300, in <module>\n    save()\n'
        "OSError: [Errno 28] No space left on device\n",
        # an exception that only names an interrupt in its message, and a subclass-looking name
        'Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n    run()\n'
        "RuntimeError: KeyboardInterrupt handler failed\n",
        'Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n    run()\n'
        "MyKeyboardInterruptError: bad\n",
    ],
    ids=["ctrl_c_then_error", "message_names_it", "other_type"],
)
def test_look_alikes_of_a_stop_are_still_crashes(tmp_path, tail):
    rep = forensics.analyze(str(_log_run(tmp_path, LOSS + tail)))
    assert rep.ending.ended == "crashed"


def test_mlflow_closed_failed_is_a_crash_and_running_is_unknown(tmp_path):
    # the store the real MLflow wrote (tests/fixtures/make_store_fixtures.py): its newest run was
    # killed, so MLflow still says RUNNING, which tells nothing of how it ended
    run = tmp_path / "mlflow"
    shutil.copytree(ROOT / "tests" / "fixtures" / "stores" / "mlflow", run)
    assert _ending(run) == ("unknown", None)


def test_wandb_exit_code_says_the_job_failed(tmp_path):
    run = tmp_path / "wandb_run"
    shutil.copytree(ROOT / "tests" / "fixtures" / "stores" / "wandb_run", run)
    ended, crash = _ending(run)
    # the run's console (wandb's files/output.log) holds the traceback; the exit record says 1. What raised
    # is the fixture script's own NaN stop (train.py: raise FloatingPointError(f"loss is NaN at step {step}")),
    # read as a NaN guard in any words: the job failed, stopped by its guard, and the crash is kept
    assert ended == "stopped" and crash is not None and crash["exception"]
    assert crash["meaning"] == "nan_guard"
    assert crash["source"].startswith("wandb/")


def test_every_report_says_how_its_job_ended():
    for run in sorted(p for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        d = json.loads(forensics.analyze(str(run)).to_json())
        assert d["ended"] in ("finished", "crashed", "stopped", "killed", "unknown"), run.name
        # a crash is quoted only for a job that ended in an exception (a NaN guard's raise included)
        assert d["crash"] is None or d["ended"] in ("crashed", "stopped"), run.name
        assert d["ended"] != "crashed" or d["crash"] is not None, run.name


SLICE = ROOT / "tests" / "fixtures" / "corpus_slice"


def test_a_trainer_record_that_stops_before_its_planned_steps_says_so_and_claims_no_health():
    # a real Trainer run of the corpus that crashed at step 72 of 120: its last checkpoint is at
    # step 48, and its state says max_steps 120 with no end-of-training summary
    rep = forensics.analyze(str(SLICE / "s2_0245_hf_deep_mlp_crash"))
    assert rep.ending.ended == "unknown" and rep.ending.crash is None
    assert "stops at step 48 of the 120 planned" in rep.ending.how
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence <= 0.5
    assert "what came after is unknown" in rep.verdict.summary


def test_a_trainer_that_reached_its_planned_steps_finished():
    rep = forensics.analyze(str(SAMPLES / "hf_trainer_lr_too_high"))
    assert rep.ending.ended == "finished" and "planned 40 steps" in rep.ending.how


def test_a_trainer_summary_before_the_planned_steps_is_an_early_stop():
    # early stopping: train() returned at step 20 of 120 and logged its summary to TensorBoard
    rep = forensics.analyze(str(SLICE / "s0_0391_hf_transformer_early_stop"))
    assert rep.ending.ended == "stopped" and "step 20 of the 120 planned" in rep.ending.how
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence > 0.5


# ---------------------------------------------------------------- planned length: consoles and configs


def test_a_config_max_steps_the_record_reaches_is_a_finished_run():
    # a PyTorch loop whose train_config.json says max_steps 300 and whose events reach step 300
    rep = forensics.analyze(str(SAMPLES / "spikes_loop_bf16"))
    assert rep.ending.ended == "finished" and "planned 300 steps" in rep.ending.how
    assert "max_steps 300 in train_config.json" in rep.ending.how


def test_keras_epoch_headers_times_the_epoch_bar_give_the_planned_steps():
    # Keras prints 'Epoch i/12' and a 26-batch bar per epoch: 312 steps planned, all reached
    rep = forensics.analyze(str(SAMPLES / "keras_healthy"))
    assert rep.ending.ended == "finished" and "planned 312 steps" in rep.ending.how
    assert "'Epoch i/12' of 26-step epochs" in rep.ending.how


def test_the_trainer_console_total_and_summary_say_the_run_finished():
    # the Trainer's console only ('Total optimization steps = 160' and its train_runtime summary)
    rep = forensics.analyze(str(SLICE / "s3_0048_hf_transformer_nan_in_inputs"))
    end = rep.timeline.record_end
    assert end is not None and end.planned == 160 and end.summary and end.reached
    assert "'Total optimization steps = 160'" in end.origin and rep.ending.ended == "finished"


def test_a_healthy_curve_cut_before_the_config_max_steps_claims_no_healthy_finish(tmp_path):
    # the corpus's time-limit run without slurm's cancel line: a job killed without a word, its
    # record stopping at step 62 of the 120 its config.yaml plans
    run = tmp_path / "run"
    shutil.copytree(SLICE / "s0_0097_torch_lstm_time_limit", run)
    log = next(run.glob("slurm-*.out"))
    log.write_text("".join(ln for ln in log.read_text().splitlines(True) if "slurmstepd" not in ln))
    rep = forensics.analyze(str(run))
    assert rep.ending.ended == "unknown" and "stops at step 62 of the 120 planned" in rep.ending.how
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence <= 0.5
    assert "what came after is unknown" in rep.verdict.summary
    # with the cancel line the job's end is known (killed), and the curve's verdict keeps its confidence
    rep = forensics.analyze(str(SLICE / "s0_0097_torch_lstm_time_limit"))
    assert rep.ending.ended == "killed" and rep.verdict.confidence > 0.5


def test_a_keras_log_cut_after_its_fifth_epoch_of_twelve_stops_short(tmp_path):
    # the console of a job killed during epoch 6 is the first lines of the full one
    lines = (SAMPLES / "keras_healthy" / "slurm-4817430.out").read_text().splitlines(True)
    cut = next(i for i, ln in enumerate(lines) if ln.startswith("Epoch 6/12"))
    run = _log_run(tmp_path, "".join(lines[:cut]), "slurm-1.out")
    rep = forensics.analyze(str(run))
    assert rep.ending.ended == "unknown" and "stops at step 130 of the 312 planned" in rep.ending.how
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence <= 0.5


def test_a_last_point_within_one_logging_interval_of_the_plan_reached_it(tmp_path):
    # a loop logging every 5 steps of a 123-step plan prints its last loss at step 120; one that
    # counts from 0 and logs every 5 steps of 125 prints its last at step 120 too
    text = "".join(f"step {i} loss {2.0 - 0.01 * i:.3f}\n" for i in range(5, 121, 5))
    run = _log_run(tmp_path, text)
    for planned in (123, 125):
        (run / "config.json").write_text(json.dumps({"max_steps": planned, "lr": 0.001}))
        assert forensics.analyze(str(run)).ending.ended == "finished", planned
    # more than one interval short: the record stops before the plan
    (run / "config.json").write_text(json.dumps({"max_steps": 126, "lr": 0.001}))
    rep = forensics.analyze(str(run))
    assert rep.ending.ended == "unknown" and "stops at step 120 of the 126 planned" in rep.ending.how
    # a plan of -1 (the Trainer's 'set by epochs') plans nothing
    (run / "config.json").write_text(json.dumps({"max_steps": -1, "lr": 0.001}))
    assert "planned" not in forensics.analyze(str(run)).ending.how


def test_lightnings_rich_bar_gives_the_planned_steps_its_config_states(tmp_path):
    # Lightning's RichProgressBar prints 'Epoch 0/3' (max_epochs - 1) over 20-batch epochs: 80 steps,
    # what the run's config.yaml says (max_steps: 80); the log alone knows it, and the job stopped at 5
    run = tmp_path / "run"
    run.mkdir()
    src = SLICE / "s0_0172_lightning_deep_mlp_exploding_gradients"
    shutil.copy(next(src.glob("slurm-*.out")), run)
    end = forensics.analyze(str(run)).timeline.record_end
    assert end is not None and end.planned == 80 and "4 epochs of 20 steps" in end.origin and end.cut_short
    assert "max_steps: 80" in (src / "config.yaml").read_text()
    # the default tqdm bar says no number of epochs: no plan from it
    assert forensics.analyze(str(SAMPLES / "logonly_lightning_lr_too_high")).timeline.record_end is None
