"""Each rule against real runs where it must fire and real runs where it must stay silent
(tests/rule_cases.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from forensics.diagnose import diagnose
from forensics.load import load_run
from forensics.rules import REGISTRY
from forensics.timeline import Timeline, build_timeline

ROOT = Path(__file__).resolve().parents[1]
CASES = yaml.safe_load((ROOT / "tests" / "rule_cases.yaml").read_text(encoding="utf-8"))


def _path(entry: str) -> Path:
    p = ROOT / "sample_runs" / entry
    return p if p.exists() else ROOT / "tests" / "fixtures" / entry


@cache
def timeline(entry: str) -> Timeline:
    return build_timeline(load_run(_path(entry)))


def _params(kind: str):
    return [pytest.param(rid, e, id=f"{rid}-{kind}-{e}") for rid, c in sorted(CASES.items()) for e in c[kind]]


def test_every_rule_has_cases_and_every_case_names_a_rule():
    assert set(CASES) == set(REGISTRY)
    for rid, c in CASES.items():
        assert c["silent"], f"{rid} has no case where it must stay silent"
        for entry in c["fires"] + c["silent"]:
            assert _path(entry).exists(), f"{rid}: no sample run or fixture {entry}"


@pytest.mark.parametrize(("rule_id", "entry"), _params("fires"))
def test_rule_fires(rule_id, entry):
    evidence = REGISTRY[rule_id].check(timeline(entry))
    assert evidence, f"{rule_id} did not fire on {entry}"
    for e in evidence:
        assert e.rule == rule_id and e.message


@pytest.mark.parametrize(("rule_id", "entry"), _params("silent"))
def test_rule_stays_silent(rule_id, entry):
    evidence = REGISTRY[rule_id].check(timeline(entry))
    assert not evidence, f"{rule_id} fired on {entry}: {evidence[0].message}"


def test_diagnosis_runs_on_every_case_without_error():
    for entry in {e for c in CASES.values() for e in c["fires"] + c["silent"]}:
        tl = timeline(entry)
        from forensics.rules import run_rules

        assert diagnose(tl, run_rules(tl, debug=True)).verdict.cause
