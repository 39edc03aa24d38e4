"""Many runs at once: a folder of runs analysed run by run, the sweep report, the triage
of the settings that separate diverged runs, and the Python API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import forensics
from forensics.report.json_report import report_dict
from forensics.triage import Outcome, confounded, triage

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
SWEEP = ROOT / "tests" / "fixtures" / "sweep"  # a real PyTorch LR sweep (make_sweep_fixtures.py)
SAMPLE_NAMES = sorted(json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"])


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, timeout=300, env=env
    )


def _without_run_dir(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "run_dir"}


def test_every_sample_run_in_one_folder_gets_the_report_it_gets_alone(tmp_path):
    """The issue's "done when": all sample runs in one folder, each analysed as if alone,
    and nothing of one run in another's report (the whole report is compared)."""
    sweep = tmp_path / "sweep"
    names = {name: f"run_{i:02d}" for i, name in enumerate(SAMPLE_NAMES)}  # neutral names
    for name, neutral in names.items():
        shutil.copytree(SAMPLES / name, sweep / neutral)
    out = tmp_path / "out"
    r = run("analyze", str(sweep), "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert summary["runs_total"] == len(SAMPLE_NAMES) == summary["runs_analysed"]
    rows = {row["run"]: row for row in summary["runs"]}
    assert sorted(rows) == sorted(names.values())
    for neutral in names.values():
        alone = report_dict(forensics.analyze(sweep / neutral))
        row = rows[neutral]
        in_sweep = json.loads((out / row["report"]).read_text(encoding="utf-8"))
        assert in_sweep["run_dir"].endswith(neutral)
        assert _without_run_dir(in_sweep) == json.loads(json.dumps(_without_run_dir(alone))), neutral
        assert (row["cause"], row["diverged"], row["first_nonfinite_step"]) == (
            alone["verdict"]["cause"],
            alone["diverged"],
            alone["first_nonfinite_step"],
        )
        others = [n for n in names.values() if n != neutral]
        text = json.dumps(in_sweep)
        assert not [n for n in others if n in text], f"another run's name in {neutral}'s report"
    diverged = [row["run"] for row in summary["runs"] if row["diverged"]]
    assert summary["diverged_runs"] == diverged
    assert [row["diverged"] for row in summary["runs"]] == sorted(
        (row["diverged"] for row in summary["runs"]), reverse=True
    ), "diverged runs come first"


def test_lr_sweep_report_names_the_learning_rate_threshold_and_not_batch_size_or_seed():
    r = run("analyze", str(SWEEP), "-j", "1")
    assert r.returncode == 0, r.stderr
    md = r.stdout
    assert md.startswith("# sweep: 4 of 8 runs diverged")
    assert "all 4 runs with lr ≥ 0.3 diverged; none of the 4 below" in md
    table = md.split("\n\n")[1]
    assert "| lr | batch size | seed |" in table.splitlines()[0]
    rows = table.splitlines()[2:]
    assert len(rows) == 8
    assert all("**diverged**" in line for line in rows[:4]) and not any("**diverged**" in x for x in rows[4:])
    section = md.split("## What separates the diverged runs from the healthy ones")[1]
    assert "**lr**" in section and "**batch size**" not in section and "**seed**" not in section


def test_fail_on_divergence_exits_1_and_the_json_lists_the_diverged_runs(tmp_path):
    r = run("analyze", str(SWEEP), "--format", "json", "--fail-on-divergence", "-j", "1")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert sorted(data["diverged_runs"]) == ["lr_0.3", "lr_1", "lr_10", "lr_3"]
    assert data["triage"][0]["setting"] == "lr"
    assert data["triage"][0]["threshold"] == 0.3 and data["triage"][0]["separates"] is True
    healthy = tmp_path / "healthy"
    for name in ("lr_0.003", "lr_0.01", "lr_0.1"):
        shutil.copytree(SWEEP / name, healthy / name)
    r = run("analyze", str(healthy), "--format", "json", "--fail-on-divergence", "-j", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["diverged_runs"] == []


def test_output_dir_holds_each_full_report_linked_from_the_sweep_report(tmp_path):
    out = tmp_path / "reports"
    r = run("analyze", str(SWEEP), "-o", str(out), "-j", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    md = (out / "sweep.md").read_text(encoding="utf-8")
    linked = [line.rsplit("](", 1)[1].rstrip(") |") for line in md.splitlines() if line.startswith("| lr_")]
    assert sorted(linked) == sorted(f"{p.name}.md" for p in SWEEP.iterdir())
    for name in linked:
        report = (out / name).read_text(encoding="utf-8")
        assert report.startswith(f"# {name[:-3]}: ")


def test_output_dir_inside_the_runs_or_a_file_is_refused_in_one_line(tmp_path):
    shutil.copytree(SWEEP, tmp_path / "sweep")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "sweep").rglob("*"))
    for target in (tmp_path / "sweep" / "reports", tmp_path / "sweep"):
        r = run("analyze", str(tmp_path / "sweep"), "-o", str(target), "-j", "1")
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "inside the runs" in r.stderr, r.stderr
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "sweep").rglob("*")) == before
    (tmp_path / "file.md").write_text("x")
    r = run("analyze", str(tmp_path / "sweep"), "-o", str(tmp_path / "file.md"), "-j", "1")
    assert r.returncode == 2 and "must name a directory" in r.stderr


def test_a_single_run_is_reported_exactly_as_before():
    r = run("analyze", str(SWEEP / "lr_1"), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["run_dir"].endswith("lr_1") and "verdict" in data and "runs" not in data


def test_analyze_many_returns_the_reports_and_a_dataframe():
    pytest.importorskip("pandas")
    sweep = forensics.analyze_many(SWEEP, jobs=1)
    assert len(sweep.reports()) == 8
    df = sweep.dataframe()
    assert list(df["run"][:4]) == ["lr_10", "lr_3", "lr_1", "lr_0.3"]
    assert set(df.loc[df["diverged"], "lr"]) == {0.3, 1.0, 3.0, 10.0}
    listed = forensics.analyze_many([SWEEP / "lr_1", SWEEP / "lr_0.01"], jobs=1)
    assert [r.name for r in listed.results] == [str(SWEEP / "lr_1"), str(SWEEP / "lr_0.01")]
    assert listed.findings[0].statement == "the only run with lr ≥ 1 diverged; the one below did not"


def test_the_process_pool_gives_the_same_reports_as_one_process():
    one = forensics.analyze_many(SWEEP, jobs=1)
    pool = forensics.analyze_many(SWEEP, jobs=2)
    assert [r.name for r in one.results] == [r.name for r in pool.results]
    assert [report_dict(r) for r in one.reports()] == [report_dict(r) for r in pool.reports()]


def test_an_unreadable_run_gets_a_row_with_its_reason_and_the_others_are_analysed(tmp_path):
    shutil.copytree(SWEEP / "lr_0.1", tmp_path / "good")  # healthy: sorted before an unreadable run only by rule
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage")
    sweep = forensics.analyze_many(tmp_path, jobs=1)
    rows = {r.name: r for r in sweep.results}
    assert rows["good"].report is not None and rows["good"].error is None
    assert rows["bad"].error and "\n" not in rows["bad"].error
    assert sweep.results[-1].name == "bad"
    assert [r.name for r in sweep.analysed] == ["good"]
    assert sweep.to_dict()["runs"][-1]["diverged"] is None


# ---------------------------------------------------------------- triage on its own


def _outcomes(rows: list[tuple[bool, dict]]) -> list[Outcome]:
    return [Outcome(f"r{i}", d, s) for i, (d, s) in enumerate(rows)]


def test_triage_states_the_threshold_with_its_counts():
    lrs = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1]
    found = triage(_outcomes([(lr >= 3e-3, {"lr": lr, "seed": i % 2}) for i, lr in enumerate(lrs)]))
    assert [f.setting for f in found] == ["lr"]
    assert found[0].statement == "all 5 runs with lr ≥ 0.003 diverged; none of the 4 below"


def test_triage_finds_a_threshold_from_below_and_a_partial_split():
    rows = [(bs <= 16, {"batch_size": bs}) for bs in (8, 16, 32, 64)] + [(True, {"batch_size": 64})]
    found = triage(_outcomes(rows))
    assert found[0].statement == "all 2 runs with batch size ≤ 16 diverged; 1 of 3 above"
    assert not found[0].separates and found[0].direction == "at_or_below"


def test_triage_on_named_settings_and_confounded_knobs():
    rows = [(True, {"precision": "fp16", "lr": 1.0}), (True, {"precision": "fp16", "lr": 2.0})]
    rows += [(False, {"precision": "bf16", "lr": 0.1}), (False, {"precision": "fp32", "lr": 0.01})]
    found = triage(_outcomes(rows))
    assert {f.setting for f in found} == {"lr", "precision"}
    assert "all 2 runs with precision fp16 diverged; none of the 2 with bf16 or fp32" in [f.statement for f in found]
    assert sorted(confounded(found)) == ["lr", "precision"]


def test_triage_stays_silent_when_nothing_separates_or_nothing_diverged():
    mixed = [(i % 2 == 0, {"lr": lr, "seed": i}) for i, lr in enumerate([1e-3, 1e-3, 3e-3, 3e-3])]
    assert triage(_outcomes(mixed)) == [t for t in triage(_outcomes(mixed)) if t.setting == "seed"]
    assert not [f for f in triage(_outcomes(mixed)) if f.setting == "lr"]
    healthy = [(False, {"lr": lr}) for lr in (1e-3, 1e-2)]
    assert triage(_outcomes(healthy)) == []


def test_triage_ignores_a_setting_known_for_too_few_runs():
    rows = [(True, {"optimizer": "sgd"}), (False, {"optimizer": "adam"})] + [(i % 2 == 0, {}) for i in range(6)]
    assert triage(_outcomes(rows)) == []


@pytest.mark.slow
def test_one_call_on_many_runs_costs_at_most_a_quarter_of_one_invocation_per_run():
    """python -m pytest -m slow tests/test_sweep.py (numbers: docs/performance.md)."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_sweep.py"), "--runs", "40", "--separate", "8"],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["ratio_cpu"] <= 0.25, result
