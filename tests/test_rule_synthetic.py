"""Small synthetic cases per rule, beside the real-run cases of tests/rule_cases.yaml.

Like sqlfluff's std_rule_cases: ``tests/synthetic_rule_cases/<RULE>.yml`` holds named, minimal
runs (a few series, checkpoints, log lines, a data sample; see tests/synthetic.py)
on which the rule must fire (``fires: <detail>`` or ``fires: true``; ``detail: null`` when it
must name none) or must stay silent (``fires: false``), most of them in pairs on either
side of a threshold's edge. ``weight`` pins the evidence weight where a threshold moves the weight rather
than the firing. They need no framework and run in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forensics.rules import REGISTRY
from forensics.timeline import build_timeline
from tests.synthetic import run_from_case

CASES_DIR = Path(__file__).parent / "synthetic_rule_cases"
FILES = sorted(CASES_DIR.glob("*.yml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


CASES = [
    pytest.param(doc["rule"], name, case, id=f"{doc['rule']}-{name}")
    for path in FILES
    for doc in [_load(path)]
    for name, case in doc["cases"].items()
]


def test_every_rule_has_synthetic_cases_that_fire_and_stay_silent():
    by_rule = {_load(p)["rule"]: _load(p)["cases"] for p in FILES}
    assert set(by_rule) == set(REGISTRY), f"rules without a case file: {sorted(set(REGISTRY) - set(by_rule))}"
    for rid, cases in by_rule.items():
        outcomes = {c["fires"] is not False for c in cases.values()}
        assert outcomes == {True, False}, f"{rid}: needs a case that fires and one that stays silent"


@pytest.mark.parametrize(("rule_id", "name", "case"), CASES)
def test_synthetic_case(rule_id, name, case):
    tl = build_timeline(run_from_case(case))
    evidence = REGISTRY[rule_id].check(tl)
    expected = case["fires"]
    if expected is False:
        assert not evidence, f"{rule_id} fired on '{name}': {evidence[0].message}"
        return
    assert evidence, f"{rule_id} did not fire on '{name}'"
    if isinstance(expected, str):
        assert evidence[0].detail == expected, f"{rule_id} on '{name}': detail {evidence[0].detail}"
    if "detail" in case:  # ``detail: null``: it fires and names no detail
        assert evidence[0].detail == case["detail"], f"{rule_id} on '{name}': detail {evidence[0].detail}"
    if "weight" in case:
        assert evidence[0].weight == pytest.approx(case["weight"]), f"{rule_id} on '{name}'"
