"""The trainer_state.json reader, on a state written by a real Hugging Face Trainer.

tests/fixtures/logs/hf_trainer/trainer_state.json comes from
tests/fixtures/make_log_fixtures.py (scenario hf_trainer): a tiny classifier
trained for 30 steps with one NaN feature in the data, under the Trainer's
default logging_nan_inf_filter=True.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from forensics.errors import UnreadableSource
from forensics.readers.logs import read_job_log
from forensics.readers.trainer_state import read_trainer_state
from forensics.records import Kind, Source, Status, with_steps_from_epochs

REAL = Path(__file__).parent / "fixtures" / "logs" / "hf_trainer" / "trainer_state.json"


def read(path: Path):
    return read_trainer_state(path, Source(path=path.name, kind=Kind.TRAINER_STATE))


def test_nan_grad_norm_is_kept_while_the_filtered_loss_stays_finite():
    state = read(REAL)
    loss, gn = state.scalars["loss"], state.scalars["grad_norm"]
    assert loss.steps.tolist() == list(range(2, 31, 2)) == gn.steps.tolist()
    # logging_nan_inf_filter replaced the NaN losses by finite numbers...
    assert np.isfinite(loss.values).all()
    # ...the gradient norm did not hide it: first non-finite at step 10
    first_bad = int(gn.steps[np.flatnonzero(~np.isfinite(gn.values))[0]])
    assert first_bad == 10
    assert np.isfinite(gn.values[:4]).all()


def test_run_facts_and_eval_series():
    state = read(REAL)
    assert state.source.status is Status.OK
    assert (state.global_step, state.epoch) == (30, 3.0)
    assert (state.max_steps, state.num_train_epochs, state.logging_steps) == (30, 3.0, 2)
    assert state.scalars["eval_loss"].steps.tolist() == [10, 20, 30]
    assert math.isnan(state.scalars["eval_loss"].values[0])
    assert "eval_runtime" not in state.scalars and "train_runtime" not in state.scalars
    assert state.scalars["epoch"].values[0] == pytest.approx(0.2)


def test_the_trainer_state_places_the_console_log_on_the_same_steps():
    state = read(REAL)
    log = read_job_log(REAL.parent.parent / "hf_trainer.log", Source("hf_trainer.log", Kind.JOB_LOG))
    log = with_steps_from_epochs(log, state.max_steps / state.num_train_epochs)  # a no-op: already placed
    assert log.scalars["grad_norm"].steps.tolist() == state.scalars["grad_norm"].steps.tolist()


def test_best_model_checkpoint_is_named(tmp_path):
    data = json.loads(REAL.read_text())
    data["best_model_checkpoint"] = "out/checkpoint-20"
    data["best_metric"] = 0.41
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps(data))
    state = read(p)
    assert state.checkpoints == ("out/checkpoint-20",)
    assert state.best_metric == 0.41


def test_infinity_tokens_are_parsed(tmp_path):
    p = tmp_path / "trainer_state.json"
    p.write_text('{"global_step": 2, "log_history": [{"loss": Infinity, "step": 1}, {"loss": -Infinity, "step": 2}]}')
    assert read(p).scalars["loss"].values.tolist() == [math.inf, -math.inf]


def test_file_cut_mid_write_keeps_the_complete_entries(tmp_path):
    text = REAL.read_text()
    cut = text[: text.index('"step": 12') + 5]  # inside the 7th training entry
    p = tmp_path / "trainer_state.json"
    p.write_text(cut)
    state = read(p)
    assert state.source.status is Status.PARTIAL
    assert "line" in state.source.note and "\n" not in state.source.note
    assert state.scalars["grad_norm"].steps.tolist() == [2, 4, 6, 8, 10]


def test_resumed_history_going_back_is_kept_in_order_and_segmented(tmp_path):
    hist = [{"loss": 1.0, "step": 10}, {"loss": 0.9, "step": 20}, {"loss": 0.95, "step": 10}, {"loss": 0.8, "step": 20}]
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": hist}))
    loss = read(p).scalars["loss"]
    assert loss.steps.tolist() == [10, 20, 10, 20]
    assert loss.segment.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("content", ["{not json", "", "[1, 2]", '{"log_history": 5}', "\x00\x01\x02"])
def test_malformed_state_is_unreadable_with_one_line(tmp_path, content):
    p = tmp_path / "trainer_state.json"
    p.write_text(content)
    with pytest.raises(UnreadableSource) as e:
        read(p)
    assert "\n" not in str(e.value) and str(e.value)


def test_sample_run_trainer_states_when_present():
    root = Path(__file__).parent.parent / "sample_runs"
    manifest = root / "manifest.json"
    states = sorted(root.glob("*/checkpoint-*/trainer_state.json"))
    if not states or not manifest.exists():
        pytest.skip("no sample runs generated")
    runs = json.loads(manifest.read_text())["runs"]
    for f in states:
        state = read(f)
        facts = runs.get(f.parts[-3], {})
        assert state.source.status is Status.OK and state.global_step == int(f.parent.name.split("-")[1])
        gn = state.scalars["grad_norm"]
        bad = np.flatnonzero(~np.isfinite(gn.values))
        expected = facts.get("first_nonfinite_step")
        if str(facts.get("first_nonfinite_is", "")).startswith("grad_norm") and expected is not None:
            if state.global_step >= expected:
                assert int(gn.steps[bad[0]]) == expected, f
                assert np.isfinite(state.scalars["loss"].values).all(), f  # the filter masked it
            else:
                assert bad.size == 0, f


def test_the_end_of_training_summary_is_told_from_a_checkpoints_state():
    # a real Trainer run of the corpus: train() returned and saved its state with the summary
    # entry (train_runtime...); the states saved inside its checkpoints during training hold none
    run = Path(__file__).parent / "fixtures" / "corpus_slice" / "s2_0054_hf_mlp_lr_schedule_spike"
    final = read_trainer_state(run / "trainer_state.json", Source("trainer_state.json", Kind.TRAINER_STATE, Status.OK))
    assert final.summary and final.global_step == final.max_steps
    for path in run.glob("checkpoint-*/trainer_state.json"):
        assert not read_trainer_state(path, Source(path.name, Kind.TRAINER_STATE, Status.OK)).summary
