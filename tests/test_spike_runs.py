"""The spike sample runs (sample_runs/gen_spikes.py): tiny transformer LMs trained on CPU in
bf16 and fp16, from a plain loop and the Hugging Face Trainer, into a benign spike (a corrupted
batch) and a fatal one (the LR raised for good). The report must name every spike, say which
recovered, name the last good checkpoint and the batches (epoch, micro-batches, samples) of
each spike and of the skip range, each checked against what the generator recorded from the
batches it really trained on (manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.batches import describe, step_data

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "sample_runs" / "manifest.json").read_text(encoding="utf-8"))["runs"]
SPIKE_RUNS = sorted(n for n, e in MANIFEST.items() if "spikes" in e)
# The loss of a step is taken before its update: a fault in the update (the LR raised at
# step F) shows in the loss of step F + 1; a corrupted batch shows in its own step.
SHOWS_WITHIN = 2


def test_there_are_spike_runs_in_bf16_and_fp16_from_a_loop_and_the_hf_trainer():
    made = {(MANIFEST[n]["framework"], MANIFEST[n]["precision"]) for n in SPIKE_RUNS}
    assert {("pytorch", "bf16"), ("pytorch", "fp16"), ("transformers", "bf16")} <= made


@pytest.mark.parametrize("name", SPIKE_RUNS)
def test_the_report_names_every_spike_and_which_recovered(reports, name):
    made = MANIFEST[name]
    data = json.loads(reports[name].to_json())
    spikes = data["loss_spikes"]
    assert len(spikes) == len(made["spikes"]), spikes
    for want, got in zip(made["spikes"], spikes, strict=True):
        assert want["step"] <= got["start_step"] <= want["step"] + SHOWS_WITHIN, (want, got)
        assert got["fatal"] is (not want["recovered"])
        assert got["recovered_step"] == want["recovered_by"]


@pytest.mark.parametrize("name", SPIKE_RUNS)
def test_the_report_names_the_last_good_checkpoint(reports, name):
    made = MANIFEST[name]
    good = json.loads(reports[name].to_json())["last_good_checkpoint"]
    assert good["step"] == made["last_good_checkpoint"]["step"]
    assert good["path"] == made["last_good_checkpoint"]["path"]
    assert good["advice"] in reports[name].recommendations
    assert made["last_good_checkpoint"]["path"] in reports[name].to_markdown()


def _same_data(got: dict, want: dict) -> None:
    assert got["missing"] is None, got
    assert (got["epoch"], got["first_batch"], got["last_batch"]) == (
        want["epoch"],
        want["batches"][0],
        want["batches"][-1],
    )
    assert sorted(got["samples"]) == want["samples"]


@pytest.mark.parametrize("name", SPIKE_RUNS)
def test_each_spike_names_the_batches_and_samples_the_generator_trained_on(reports, name):
    made = MANIFEST[name]
    report = reports[name]
    data = json.loads(report.to_json())
    md = report.to_markdown()
    for got in data["loss_spikes"]:
        _same_data(got["data"], made["batches_by_step"][str(got["start_step"])])
        d = step_data(report.timeline.data_order, got["start_step"])
        assert describe(d) in md
    # the corrupted batch itself: its samples are the spike's
    bad = made["spikes"][0]
    assert data["loss_spikes"][0]["start_step"] == bad["step"]


@pytest.mark.parametrize("name", SPIKE_RUNS)
def test_the_skip_range_starts_at_the_batch_after_the_last_good_checkpoint(reports, name):
    made = MANIFEST[name]
    good = json.loads(reports[name].to_json())["last_good_checkpoint"]
    first = good["skip_steps"][0]
    assert first == made["last_good_checkpoint"]["step"] + 1
    _same_data(good["skip_from"], made["batches_by_step"][str(first)])
    f = good["skip_from"]
    assert f"from epoch {f['epoch']} batch {f['first_batch']}" in good["advice"]


@pytest.mark.parametrize("name", SPIKE_RUNS)
def test_the_data_order_says_where_each_fact_came_from(reports, name):
    made = MANIFEST[name]
    order = json.loads(reports[name].to_json())["data_order"]
    assert order["steps_per_epoch"] == made["steps_per_epoch"]
    assert order["batch_size"] == made["batch_size"]
    assert order["gradient_accumulation_steps"] == made["gradient_accumulation_steps"]
    assert order["num_samples"] == made["train_samples"]
    assert order["samples_missing"] is None
    assert {"batch_size", "steps_per_epoch", "num_samples"} <= set(order["sources"])


@pytest.mark.slow
def test_regenerating_a_loop_run_gives_the_record_in_the_manifest(tmp_path):
    """python sample_runs/generate.py --only spikes_loop_bf16, into a temporary folder (about a
    minute on a loaded 2-core machine): the same faults, recoveries, checkpoints and batches."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    import sys

    sys.path.insert(0, str(ROOT / "sample_runs"))
    import gen_spikes

    (spec,) = [s for s in gen_spikes.RUNS if s.name == "spikes_loop_bf16"]
    made = spec.build(tmp_path)
    want = MANIFEST["spikes_loop_bf16"]
    for key in ("spikes", "last_good_checkpoint", "batches_by_step", "checkpoints", "steps_per_epoch"):
        assert made[key] == want[key], key
