"""forensics compare HEALTHY DIVERGED: where the curves part, what was set differently,
each layer's weights side by side, both curves on one scale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import forensics
from forensics.compare import compare, compare_reports

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "tests" / "fixtures" / "sweep"
SAMPLES = ROOT / "sample_runs"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_curves_part_before_the_blow_up_and_the_learning_rate_is_the_setting_that_changed():
    c = compare(str(SWEEP / "lr_0.1"), str(SWEEP / "lr_1"))
    loss = next(s for s in c.separations if s.series == "loss")
    assert 1 <= loss.step < c.diverged.first_nonfinite_step
    assert loss.ratio is not None and loss.ratio > 2
    assert ("lr", 0.1, 1.0) in c.settings
    assert ("config.json: learning_rate", 0.1, 1.0) in c.config
    assert {r.layer for r in c.layers} == {"0", "2"}
    assert all(r.ratio is not None and r.ratio > 100 for r in c.layers)
    assert all(r.diverged_first_nonfinite is not None for r in c.layers)


def test_a_run_against_its_own_copy_shows_no_separation_and_no_difference(tmp_path):
    shutil.copytree(SWEEP / "lr_0.1", tmp_path / "copy")
    c = compare(str(SWEEP / "lr_0.1"), str(tmp_path / "copy"))
    assert c.separations == [] and c.settings == [] and c.config == []
    assert all(r.ratio == 1.0 for r in c.layers)
    assert "no separation of the curves found" in c.to_markdown().splitlines()[0]


def test_markdown_shows_both_curves_and_the_tables_and_json_is_strict():
    c = compare(str(SWEEP / "lr_0.01"), str(SWEEP / "lr_10"))
    md = c.to_markdown()
    assert md.startswith("# lr_10 against lr_0.01: curves part at step ")
    block = md.split("```text\n")[1].split("```")[0].splitlines()
    assert block[1].strip().startswith("lr_0.01") and block[2].strip().startswith("lr_10")
    assert "✕" in block[2] and "✕" not in block[1]
    assert "## Configuration differences" in md and "## Weights, layer by layer" in md
    data = json.loads(c.to_json())
    assert data["kind"] == "compare" and data["diverged"]["diverged"] is True
    assert data["separation"][0]["series"] == "loss"


def test_reports_alone_compare_curves_and_layers_without_the_configs():
    c = compare_reports(forensics.analyze(SWEEP / "lr_0.1"), forensics.analyze(SWEEP / "lr_1"))
    assert c.separations and c.layers and c.settings and not c.config  # the logged LR still differs


def test_the_cli_compares_runs_of_another_framework_and_says_what_differs():
    r = run("compare", str(SAMPLES / "keras_healthy"), str(SAMPLES / "keras_lr_too_high"), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    diff = {d["setting"]: (d["healthy"], d["diverged"]) for d in data["settings_diff"]}
    assert diff["optimizer"] == ("adam", "sgd")
    assert data["healthy"]["cause"] == "healthy" and data["diverged"]["diverged"] is True


def test_the_cli_refuses_a_missing_run_in_one_line(tmp_path):
    r = run("compare", str(SWEEP / "lr_0.1"), str(tmp_path / "nope"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr


def test_the_cli_never_writes_its_output_into_either_compared_run(tmp_path):
    import shutil

    healthy, diverged = tmp_path / "healthy", tmp_path / "diverged"
    shutil.copytree(SWEEP / "lr_0.1", healthy)
    shutil.copytree(SWEEP / "lr_1", diverged)
    for run_dir in (healthy, diverged):
        before = sorted(p.name for p in run_dir.rglob("*"))
        r = run("compare", str(healthy), str(diverged), "-o", str(run_dir / "compare.md"))
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "inside the run" in r.stderr
        assert sorted(p.name for p in run_dir.rglob("*")) == before
