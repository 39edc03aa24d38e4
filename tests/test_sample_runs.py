"""The sample runs: real failed trainings, read by the readers and diagnosed end to end.

Every run is analysed from a copy under a neutral name in a read-only directory, so
no rule can lean on a run's name or path, and nothing can be written into the run.
The manifest is read only by these tests, never by the analyzer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from forensics.load import load_run
from forensics.rules.base import CAUSES, DETAILS
from scripts.snapshot_verdicts import SNAPSHOT, snapshot_entry

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"]
RUNS = sorted(MANIFEST)
# The whole folder must stay small enough to live in the repository.
MAX_SAMPLES_BYTES = 20 * 1024 * 1024


def test_manifest_and_run_folders_agree():
    folders = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert folders == RUNS


@pytest.mark.parametrize("name", RUNS)
def test_manifest_speaks_the_contract_vocabulary(name):
    entry = MANIFEST[name]
    assert entry["cause"] in CAUSES and entry["cause"] != "inconclusive"
    assert entry["detail"] is None or entry["detail"] in DETAILS
    assert entry["injection"]


def test_every_contract_cause_and_detail_has_a_sample_run():
    causes = {e["cause"] for e in MANIFEST.values()}
    details = {e["detail"] for e in MANIFEST.values()}
    assert causes == set(CAUSES) - {"inconclusive"}
    assert set(DETAILS) <= details


def test_sample_runs_stay_under_20_mb():
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < MAX_SAMPLES_BYTES, f"sample_runs/ is {total / 2**20:.1f} MiB"


def _first_nonfinite_steps(run) -> set[int]:
    """Step of the first non-finite point of every scalar series any reader produced."""
    series = [s for ev in run.events for s in ev.scalars.values()]
    series += [s for lg in run.logs for s in lg.scalars.values()]
    series += [s for ts in run.trainer_states for s in ts.scalars.values()]
    out = set()
    for s in series:
        bad = ~np.isfinite(s.values)
        if bad.any():
            out.add(int(s.steps[int(np.argmax(bad))]))
    return out


@pytest.mark.parametrize("name", [n for n in RUNS if MANIFEST[n]["first_nonfinite_step"] is not None])
def test_readers_find_the_first_nonfinite_step_the_manifest_records(name):
    entry = MANIFEST[name]
    run = load_run(SAMPLES / name)
    found = _first_nonfinite_steps(run)
    # the same moment, counted as the framework logged it or as a global batch
    expected = {entry["first_nonfinite_step"], entry.get("first_nonfinite_global_batch")} - {None}
    assert found & expected, f"manifest says {expected}, the files hold first non-finite points at {sorted(found)}"


@pytest.mark.parametrize("name", [n for n in RUNS if MANIFEST[n]["first_nonfinite_step"] is None])
def test_runs_without_a_nonfinite_loss_hold_no_nonfinite_loss(name):
    run = load_run(SAMPLES / name)
    for ev in run.events:
        for s in ev.scalars.values():
            if "loss" in s.tag.lower():
                assert np.all(np.isfinite(s.values)), f"{ev.source.path}:{s.tag}"


@pytest.mark.parametrize("name", RUNS)
def test_analyze_names_the_cause_the_run_was_made_to_fail_with(reports, name):
    entry = MANIFEST[name]
    v = reports[name].verdict
    assert v.cause == entry["cause"], f"{name}: {v.cause}/{v.detail} ({v.confidence}) — {v.summary}"
    if entry["detail"] is not None:
        assert v.detail == entry["detail"], f"{name}: {v.cause}/{v.detail} — {v.summary}"


def test_verdict_snapshot_covers_every_sample_run():
    assert sorted(json.loads(SNAPSHOT.read_text(encoding="utf-8"))) == RUNS


@pytest.mark.parametrize("name", RUNS)
def test_verdict_detail_and_first_nonfinite_step_match_the_committed_snapshot(reports, name):
    """A refactor keeps every verdict; a change meant to move one regenerates the
    snapshot (python scripts/snapshot_verdicts.py) and says why in its commit."""
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))[name]
    assert snapshot_entry(reports[name]) == expected


@pytest.mark.parametrize("name", RUNS)
def test_analyze_reports_when_it_went_wrong(reports, name):
    entry = MANIFEST[name]
    r = reports[name]
    if entry["cause"] == "healthy":
        assert not r.diverged
        assert r.first_nonfinite_step is None
        return
    expected = entry["first_nonfinite_step"]
    if expected is None:
        return  # the framework raised before any non-finite value was logged
    assert r.diverged
    if entry["step_unit"] == "epoch":
        # epoch-level logs: the report places the epoch on global steps when it can
        expected = entry.get("first_nonfinite_global_batch") or expected
        nf = r.timeline.first_nonfinite
        window = (nf.last_finite_step or 0, nf.step) if nf is not None else (None, None)
        assert r.first_nonfinite_step == expected or (window[0] is not None and window[0] < expected <= window[1])
    else:
        assert r.first_nonfinite_step == expected


@pytest.mark.parametrize("name", RUNS)
def test_every_sample_report_is_strict_json_matching_the_contract_schema(reports, name):
    jsonschema = pytest.importorskip("jsonschema")
    text = reports[name].to_json()

    def no_constants(token: str):
        raise AssertionError(f"non-strict JSON token {token}")

    data = json.loads(text, parse_constant=no_constants)
    schema = json.loads((ROOT / "forensics" / "report" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    assert data["run_dir"].endswith("run")


@pytest.mark.parametrize("name", RUNS)
def test_markdown_report_opens_with_the_verdict_and_lists_every_source(reports, name):
    r = reports[name]
    md = r.to_markdown()
    first = md.splitlines()[0]
    assert first.startswith("# run: ")
    assert r.verdict.cause.replace("_", " ") in first
    sources = md.split("<summary>Sources:", 1)[1].split("</details>", 1)[0]
    rows = [path for line in sources.splitlines() if line.startswith("| `") for path in re.findall(r"`([^`]+)`", line)]
    patterns = [re.compile(re.escape(row).replace(r"\*", r"\d+") + "$") for row in rows]
    for s in r.sources:
        assert any(p.match(s.path) for p in patterns), f"{s.path} is not in the sources table"


TWINS = [n for n in RUNS if n.endswith("_pt") and n.removesuffix("_pt") in MANIFEST]


def test_there_are_pytorch_checkpoint_twins():
    assert len(TWINS) >= 2


@pytest.mark.parametrize("name", TWINS)
def test_a_run_saved_with_torch_save_gets_the_verdict_and_weights_of_its_safetensors_twin(reports, name):
    twin = name.removesuffix("_pt")
    suffixes = {p.suffix for p in (SAMPLES / name).rglob("*") if p.is_file()}
    assert ".pt" in suffixes and ".safetensors" not in suffixes
    ours, theirs = reports[name], reports[twin]
    assert (ours.verdict.cause, ours.verdict.detail) == (theirs.verdict.cause, theirs.verdict.detail)
    assert ours.first_nonfinite_step == theirs.first_nonfinite_step
    # the update between checkpoints is measured from the .pt files as from the safetensors
    updates = [(u.step_a, u.step_b, u.per_step) for u in ours.timeline.relative_updates]
    expected = [(u.step_a, u.step_b, pytest.approx(u.per_step, rel=1e-3)) for u in theirs.timeline.relative_updates]
    assert updates == expected

    def weights(path):
        run = load_run(path)
        return {(c.step, t.name): (t.l2, t.absmax, t.nonfinite) for c in run.checkpoints for t in c.tensors}, run

    mine, run = weights(SAMPLES / name)
    other = weights(SAMPLES / twin)[0]
    # same seed, same weights, read from another format (up to float32 rounding between generations)
    assert mine and set(mine) == set(other)
    for key, (l2, absmax, nonfinite) in mine.items():
        assert (l2, absmax) == pytest.approx(other[key][:2], rel=1e-4) and nonfinite == other[key][2], key
    assert all(c.optimizer is not None and c.optimizer.groups for c in run.checkpoints)


TF_TWINS = [n for n in RUNS if n.endswith("_tfckpt") and n.removesuffix("_tfckpt") in MANIFEST]


def test_there_are_tensorflow_checkpoint_twins():
    assert len(TF_TWINS) >= 2


@pytest.mark.parametrize("name", TF_TWINS)
def test_a_tf2_run_that_kept_tf_checkpoints_gets_the_verdict_and_weights_of_its_h5_twin(reports, name):
    from forensics.readers.tensorstats import layer_aggregates

    twin = name.removesuffix("_tfckpt")
    files = [p.name for p in (SAMPLES / name).rglob("*") if p.is_file()]
    assert any(f.endswith(".index") for f in files) and not any(f.endswith(".h5") for f in files)
    ours, theirs = reports[name], reports[twin]
    assert (ours.verdict.cause, ours.verdict.detail) == (theirs.verdict.cause, theirs.verdict.detail)
    assert ours.first_nonfinite_step == theirs.first_nonfinite_step
    updates = [(u.step_a, u.step_b, u.per_step) for u in ours.timeline.relative_updates]
    expected = [(u.step_a, u.step_b, pytest.approx(u.per_step, rel=1e-3)) for u in theirs.timeline.relative_updates]
    assert updates == expected

    def layer_norms(path):
        # Keras 3 keeps no layer names in a tf.train.Checkpoint (the layers are the model's
        # operations by position): each checkpoint's layers are compared as a set of norms
        run = load_run(path)
        out = {}
        for c in run.checkpoints:
            out[c.step] = sorted((a.l2, a.nonfinite) for a in layer_aggregates(c.tensors).values())
        return out, run

    mine, run = layer_norms(SAMPLES / name)
    other = layer_norms(SAMPLES / twin)[0]
    assert mine and set(mine) == set(other)
    for step, layers in mine.items():
        assert len(layers) == len(other[step]), step
        for (l2, bad), (l2_h5, bad_h5) in zip(layers, other[step], strict=True):
            assert bad == bad_h5 and l2 == pytest.approx(l2_h5, rel=1e-4, nan_ok=True), step
    # the bundles also hold the optimizer: its step is the checkpoint's, and its LR unless a
    # schedule computes it (Keras 3 then stores no learning-rate variable)
    lr = MANIFEST[twin]["peak_lr"] if "lr_before" not in MANIFEST[twin] else None
    for c in run.checkpoints:
        assert c.optimizer is not None and c.optimizer.step == c.step, c.source.path
        if lr is not None:
            assert c.optimizer.groups[0].lr == pytest.approx(lr), c.source.path
