"""Loss spikes read from large-model trainers' console logs: Megatron-LM and Megatron-DeepSpeed
(with DeepSpeed's fp16 overflow and progress lines), written from their format strings by
tests/fixtures/make_spike_log_fixtures.py. The report must name the benign spike (recovered)
and the fatal one where the fixture's truth puts them, and the skipped fp16 iterations must be
read as the loss scaler working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forensics.analysis import analyze
from forensics.load import load_run

LOGS = Path(__file__).resolve().parent / "fixtures" / "logs" / "spikes"
TRUTH = json.loads((LOGS / "truth.json").read_text(encoding="utf-8"))
NAMES = ["megatron_lm_gpt_spikes.log", "megatron_deepspeed_gpt_spikes.log"]


@pytest.fixture(scope="module", params=NAMES)
def run_dir(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("spike_log")
    shutil.copy(LOGS / request.param, out / request.param)
    return out


def test_the_report_names_the_benign_and_the_fatal_spike(run_dir):
    data = json.loads(analyze(str(run_dir)).to_json())
    spikes = data["loss_spikes"]
    assert len(spikes) == len(TRUTH["spikes"]), spikes
    # a logged point averages log_interval iterations: the first one holding the spike starts it,
    # and the first point to show it clearly is at most one interval later
    window = 2 * TRUTH["log_interval"]
    for want, got in zip(TRUTH["spikes"], spikes, strict=True):
        assert want["iteration"] <= got["start_step"] <= want["iteration"] + window, (want, got)
        assert got["fatal"] is (not want["recovered"])
        assert (got["recovered_step"] is not None) is want["recovered"]


def test_skipped_fp16_iterations_are_read_as_the_loss_scaler_at_work(run_dir):
    run = load_run(run_dir)
    events = [e for log in run.logs for e in log.events if e.kind == "loss_scale_overflow_transient"]
    assert events, "no skipped-iteration event"
    # one event per message family, counting its lines
    assert sum(int(e.values.get("count", 1)) for e in events) >= len(TRUTH["skipped_iterations"])
    (log,) = run.logs
    assert {"loss", "loss_scale", "learning_rate"} <= set(log.scalars)
