"""The contract between readers, rules and diagnose: readers say what they saw, rules
decide what it means, the registry stamps who said it, diagnose names no rule."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from forensics.load import load_run
from forensics.readers.logs import EVENT_KINDS, parse_log_text
from forensics.records import LogEvent
from forensics.rules import REGISTRY, run_rules
from forensics.rules.base import Finding, Rule
from forensics.rules.messages import FAMILIES, meaning
from forensics.timeline import Timeline, build_timeline

ROOT = Path(__file__).resolve().parents[1]


@cache
def timeline(name: str) -> Timeline:
    return build_timeline(load_run(ROOT / "sample_runs" / name))


RULE_ID = re.compile(r"^[A-Z]{2,4}\d{3}$")


def test_every_message_family_the_reader_emits_has_a_meaning_row():
    assert set(EVENT_KINDS) == set(FAMILIES)


def test_a_log_event_carries_no_cause_only_what_the_message_named():
    fields = set(LogEvent.__dataclass_fields__)
    assert not fields & {"cause", "detail"}
    (ev,) = parse_log_text("ValueError: Received a label value of 8000 which is outside the valid range of [0, 7).\n")[
        1
    ]
    assert (ev.kind, ev.label, ev.classes, ev.framework) == ("label_out_of_range", 8000, 7, "tensorflow")
    m = meaning(ev)
    assert m is not None and (m.cause, m.detail) == ("data_or_labels", "labels_out_of_range")
    assert "0..6" in (m.fix or "")


@pytest.mark.parametrize(
    ("op", "detail"),
    [("LogBackward0", "log_of_zero"), ("DivBackward0", "division_by_zero"), ("LogSoftmaxBackward0", None)],
)
def test_the_op_an_anomaly_names_decides_the_detail(op, detail):
    ev = LogEvent(kind="nonfinite_gradient", message="", line=1, op=op)
    m = meaning(ev)
    assert m is not None and (m.cause, m.detail) == ("numerical_instability", detail)


def test_a_nan_in_a_named_tensor_alone_means_nothing():
    assert meaning(LogEvent(kind="nonfinite_tensor", message="", line=1, values={"tensor": "x"})) is None
    assert meaning(LogEvent(kind="nonfinite_tensor", message="", line=1, op="Log")).detail == "log_of_zero"


@pytest.mark.parametrize("entry", ["logonly_torch_anomaly_log0", "keras_labels_out_of_range_so", "torch_healthy"])
def test_the_registry_stamps_each_rules_own_id_and_cause(entry):
    evidence = run_rules(timeline(entry), debug=True)
    assert evidence
    for e in evidence:
        r = REGISTRY[e.rule]
        assert e.cause == r.cause and (e.detail is None or e.detail in r.details)


def test_a_finding_with_a_detail_its_rule_does_not_declare_is_a_bug():
    def fn(tl):
        return [Finding("log_of_zero", "x", weight=0.5)]

    r = Rule("TST001", "t", "data_or_labels", ("nan_in_inputs",), fn, ())
    with pytest.raises(ValueError, match="not one the rule declares"):
        r.check(timeline("torch_healthy"))


JUDGES = [
    "forensics/diagnose.py",
    *sorted(f"forensics/report/{p.name}" for p in (ROOT / "forensics/report").glob("*.py")),
]
RULE_PREFIXES = {re.sub(r"\d+$", "", rid) for rid in REGISTRY}


def _rule_names(path: Path) -> list[str]:
    """String constants naming a rule, or a family of rules by prefix (``.startswith("LOG")``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ids = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and RULE_ID.match(str(n.value))]
    prefixes = [
        a.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "startswith"
        for a in n.args
        if isinstance(a, ast.Constant) and a.value in RULE_PREFIXES
    ]
    return ids + prefixes


@pytest.mark.parametrize("path", JUDGES)
def test_diagnose_and_report_name_no_rule_id(path):
    named = _rule_names(ROOT / path)
    assert not named, f"{path} names rule ids {named}: put what it needs on the rule"


@pytest.mark.parametrize("path", sorted((ROOT / "forensics" / "rules").glob("*.py")), ids=lambda p: p.name)
def test_every_evidence_weight_is_a_named_constant(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # the expressions that set a weight: Finding(weight=...) and assignments to ``weight``
    exprs = [
        kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding"
        for kw in node.keywords
        if kw.arg == "weight"
    ] + [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "weight" for t in node.targets)
    ]
    bare = [
        f"line {sub.lineno}"
        for e in exprs
        for sub in ast.walk(e)
        if isinstance(sub, ast.Constant) and isinstance(sub.value, float)  # weights are floats; 0 and 1 are not
    ]
    assert exprs or path.name not in {"data.py", "learning_rate.py", "weights.py"}
    assert not bare, f"{path.name}: bare evidence weights at {bare}"


def test_decisive_rules_are_declared_on_the_rules():
    # the framework naming the fault, or labels outside the output width in the data
    assert {"DATA003", "LOG001", "LOG003"} <= {rid for rid, r in REGISTRY.items() if r.decisive}


def test_lr001_is_worked_out_once_per_timeline_though_other_rules_ask_whether_it_fired(monkeypatch):
    from forensics.rules import learning_rate

    calls: list[Timeline] = []
    real = learning_rate._lr_increase_then_blowup
    monkeypatch.setattr(learning_rate, "_lr_increase_then_blowup", lambda tl: calls.append(tl) or real(tl))
    monkeypatch.setattr(learning_rate, "_LR001_LAST", None)
    run = ROOT / "sample_runs" / "torch_lr_schedule_spike"
    first = build_timeline(load_run(run))
    fired = [e for e in run_rules(first) if e.rule == "LR001"]
    assert fired and calls == [first]  # it fired, the rules that defer to it asked, and it ran once
    second = build_timeline(load_run(run))
    assert [e.rule for e in run_rules(second) if e.rule == "LR001"] == ["LR001"]
    assert len(calls) == 2 and calls[1] is second  # another timeline is judged afresh
