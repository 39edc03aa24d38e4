"""The first non-finite step is a global step (the contract), or an epoch the report says is one.

The corpus truth counts an epoch's record at the global step that ended the epoch, and keeps its
epoch beside it (``scenarios/retruth.py``); ``scripts/accuracy.py`` compares a report whose
``step_unit`` is ``epoch`` with that epoch. These tests pin the reader's side on real runs of the
corpus slice (PyTorch trainings made by ``scripts/make_corpus.py``) and on log text: per-epoch
lines beside per-step ones count epochs, an event file that wrote the epoch on its step axis is
recognised by the console printing the same means, and an epoch is placed on steps where a
checkpoint says how many steps an epoch has.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import forensics
from forensics.report.json_report import report_dict as to_dict

ROOT = Path(__file__).resolve().parents[1]
SLICE = ROOT / "tests" / "fixtures" / "corpus_slice"
ROWS = {
    (r := json.loads(line))["scenario"]["name"]: r
    for line in (SLICE / "manifest.jsonl").read_text().splitlines()
    if line.strip()
}
sys.path.insert(0, str(ROOT / "scripts"))
import accuracy  # noqa: E402


def _report(name: str) -> dict:
    return to_dict(forensics.analyze(SLICE / name))


def test_events_written_at_the_epoch_number_count_epochs_when_the_console_prints_the_same_means():
    """s1_0394: ``add_scalar("train/loss", mean, epoch)`` and "Epoch 2/3 - train_loss: nan" lines;
    nothing says how many steps an epoch has, so the report gives the epoch and says so."""
    d = _report("s1_0394_torch_mlp_lr_schedule_spike")
    t = ROWS["s1_0394_torch_mlp_lr_schedule_spike"]["truth"]
    assert (d["first_nonfinite_step"], d["step_unit"]) == (t["first_nonfinite_log_epoch"], "epoch") == (2, "epoch")
    assert "epoch 2" in forensics.analyze(SLICE / "s1_0394_torch_mlp_lr_schedule_spike").verdict.summary


@pytest.mark.parametrize("name", sorted(n for n, r in ROWS.items() if r["truth"]["first_nonfinite_held"]))
def test_the_slice_reports_the_first_nonfinite_step_its_truth_holds(name):
    row = ROWS[name]
    truths = accuracy.fnf_truths(row["truth"], row["scenario"])
    if not truths:
        pytest.skip("the kept evidence does not log it")
    d = _report(name)
    assert d["first_nonfinite_step"] in accuracy.fnf_truths(row["truth"], row["scenario"], d["step_unit"])


def test_per_epoch_lines_beside_a_per_step_line_count_epochs():
    """A header line gives the log a point at a step ("batch 64" read as one): the per-epoch loss
    lines after it still count epochs, and are not set beside per-step series as steps 1, 2, 3."""
    from forensics.readers.logs import read_job_log
    from forensics.records import Kind, Source

    text = (
        "model: cnn (1573 parameters) | optimizer: adamw lr=0.00056761 | batch 64\n"
        "Epoch 1/5 - train_loss: 1.6047\nEpoch 2/5 - train_loss: 1.5824\nEpoch 3/5 - train_loss: nan\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slurm-1.out"
        path.write_text(text)
        log = read_job_log(path, Source(path="slurm-1.out", kind=Kind.JOB_LOG, size=len(text)))
        assert log.step_unit == "step" and "learning_rate" in log.scalars  # the header's point
        assert [t for t in log.scalars if "loss" in t] == ["loss_epoch"] and log.epoch_tags == {"loss_epoch"}
        d = to_dict(forensics.analyze(tmp))
    assert (d["first_nonfinite_step"], d["step_unit"]) == (3, "epoch")


def test_scorer_compares_an_epoch_report_with_the_epoch_and_a_step_report_with_the_step():
    sc = {"evidence": "all"}
    t = {
        "first_nonfinite_events": 80,
        "first_nonfinite_events_epoch": 2,
        "first_nonfinite_events_axis": 2,
        "first_nonfinite_log": 80,
        "first_nonfinite_log_epoch": 2,
    }
    assert accuracy.fnf_truths(t, sc) == {80, 2}  # the event file's own axis holds the epoch
    assert accuracy.fnf_truths(t, sc, "epoch") == {2}
    keras = {"first_nonfinite_log": 35, "first_nonfinite_log_epoch": 5}
    assert accuracy.fnf_truths(keras, {"evidence": "log"}) == {35}  # epoch 5 as a step is wrong
    assert accuracy.fnf_truths(keras, {"evidence": "events"}) == set()  # not kept
