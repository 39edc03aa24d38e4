"""The rule catalogue: every rule documented in four parts, docs/rules.md generated from them."""

from pathlib import Path

import pytest

from forensics.rules import REGISTRY, SECTIONS, catalogue_markdown
from forensics.rules.base import CAUSES, DETAILS

ROOT = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_generated_from_the_rules():
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/rules.md is stale: run `python -m forensics.rules > docs/rules.md`"
    )


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_every_rule_documents_what_why_evidence_and_fix(rule_id):
    r = REGISTRY[rule_id]
    for title in SECTIONS:
        assert len(r.section(title)) > 20, f"{rule_id}: section '{title}' is missing or empty"
    assert r.cause in CAUSES
    assert all(d in DETAILS for d in r.details)


# Every report quotes the first sentence of a cited rule's "What it detects" under "Rules cited" (report/markdown.py,
# _rules_cited): one readable line. The longest is about 630 characters; LOG001's grew to 1,000 by appending each
# new message family to it (CTC, NumPy's box warning), which a reader of a plain label error then had to read.
MAX_CITED_SENTENCE_CHARS = 700


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_the_sentence_a_report_quotes_of_each_rule_stays_one_readable_line(rule_id):
    from forensics.report.markdown import sentences

    first = sentences(" ".join(REGISTRY[rule_id].section("What it detects").split()))[0]
    assert len(first) <= MAX_CITED_SENTENCE_CHARS, f"{rule_id}: {len(first)} characters"


def test_every_threshold_constant_has_a_rationale():
    text = catalogue_markdown()
    thresholds = [line for line in text.splitlines() if line.startswith("- `")]
    assert thresholds, "no thresholds found in the catalogue"
    assert not [t for t in thresholds if "(no rationale)" in t]


def test_every_number_that_moves_a_verdict_is_on_the_rules_page():
    from forensics.rules.catalogue import _all_options

    text = catalogue_markdown()
    for mod, opts in _all_options().items():
        for name in opts:
            assert f"- `{name}` = " in text, f"{mod}.{name} is not documented in docs/rules.md"


@pytest.mark.parametrize(
    ("rule_id", "option"),
    [
        ("LR002", "ADAPTIVE_HIGH_LR"),  # judged through the LR facts
        ("LR001", "LR_JUMP_FACTOR"),  # a timeline landmark the rule reads
        ("LR002", "ONSET_MIN_RISE_DECADES"),  # the onset the rule reads
        ("DATA003", "DECISIVE_WEIGHT"),  # a decisive rule
        ("DATA005", "GRAD_LAST_RATIO"),  # a shared helper's threshold
        ("LOG001", "NAMED_FAULT_WEIGHT"),
    ],
)
def test_a_rules_options_follow_what_its_check_reads(rule_id, option):
    from forensics.rules.catalogue import rule_options

    assert option in {name for _, name, _, _ in rule_options(REGISTRY[rule_id])}


def test_a_rule_lists_no_option_it_cannot_reach():
    from forensics.rules.catalogue import rule_options

    assert "LABEL_PAST_WIDTH_WEIGHT" not in {name for _, name, _, _ in rule_options(REGISTRY["LR001"])}
