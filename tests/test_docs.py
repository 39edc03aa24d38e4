"""Documentation that shows output must show what the tool prints today."""

from pathlib import Path

from scripts.make_example_report import opening, render

ROOT = Path(__file__).resolve().parents[1]


def test_example_report_matches_what_the_tool_prints():
    assert (ROOT / "docs" / "example-report.md").read_text(encoding="utf-8") == render(), (
        "docs/example-report.md is stale: run `python scripts/make_example_report.py`"
    )


def test_readme_quotes_the_opening_of_the_example_report():
    head = opening(render())
    assert len(head) == 3 and head[2].startswith("**Fix:**")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in head:
        assert line in readme, f"README.md does not quote: {line}"


def test_architecture_page_is_linked_and_names_files_that_exist():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:forensics|tests)/[\w/<>.-]+\.(?:py|yaml|yml))`", text))
    assert named
    for path in named:
        if "<" not in path:
            assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"
