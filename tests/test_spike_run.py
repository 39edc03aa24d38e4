"""A real run with two real loss spikes: sample_runs/gen_spikes.py trains a tiny PyTorch
transformer LM on CPU (a few seconds) with a one-step LR bump (a spike that recovers)
and an LR raised for good (a fatal one). The report must name both, tell which
recovered, and name the last good checkpoint, each checked against what the
generator recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics.analysis import analyze
from forensics.spikes import RECOVERY_FACTOR

pytest.importorskip("torch")
pytest.importorskip("safetensors")

GEN = Path(__file__).resolve().parent.parent / "sample_runs" / "gen_spikes.py"


@pytest.fixture(scope="module")
def spike_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("spike_run")
    done = subprocess.run([sys.executable, str(GEN), str(out)], capture_output=True, text=True, check=True, timeout=300)
    return out, json.loads(done.stdout.strip().splitlines()[-1])


def test_the_report_names_the_benign_and_the_fatal_spike_and_where_to_resume(spike_run):
    run_dir, made = spike_run
    report = analyze(str(run_dir))
    data = json.loads(report.to_json())
    spikes = data["loss_spikes"]
    losses = np.array(made["losses"])  # losses[i] is step i + 1

    benign = [s for s in spikes if made["bump_at"] <= s["start_step"] <= made["bump_at"] + 2]
    assert len(benign) == 1, spikes
    b = benign[0]
    assert not b["fatal"] and b["recovered_step"] is not None
    # recovered where the generator's own losses first came back near the level before the bump
    after = losses[b["peak_step"] : b["recovered_step"] - 1]  # steps peak+1 .. recovered-1
    assert np.all(after > RECOVERY_FACTOR * b["baseline_loss"])
    assert losses[b["recovered_step"] - 1] <= RECOVERY_FACTOR * b["baseline_loss"]

    fatal = [s for s in spikes if s["fatal"]]
    assert len(fatal) == 1, spikes
    assert made["fatal_at"] <= fatal[0]["start_step"] <= made["fatal_at"] + 2
    assert fatal[0]["start_step"] > b["recovered_step"]

    good = data["last_good_checkpoint"]
    want = max(c for c in made["checkpoints"] if c < fatal[0]["start_step"])
    assert good["step"] == want and good["path"].endswith(f"step_{want:06d}.safetensors")
    assert good["before_step"] == fatal[0]["start_step"]
    assert f"step {want}" in good["advice"] and "cut the LR" in good["advice"]
    assert good["advice"] in data["recommendations"]
    assert f"step_{want:06d}.safetensors" in report.to_markdown()
