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


def test_every_threshold_constant_has_a_rationale():
    text = catalogue_markdown()
    thresholds = [line for line in text.splitlines() if line.startswith("- `")]
    assert thresholds, "no thresholds found in the catalogue"
    assert not [t for t in thresholds if "(no rationale)" in t]
