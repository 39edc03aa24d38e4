"""Regenerate docs/example-report.md, the report pasted into the README.

    python scripts/make_example_report.py

It also refreshes the opening lines quoted in README.md. tests/test_docs.py fails
when the example no longer matches what the tool prints.
"""

from __future__ import annotations

import os
from pathlib import Path

import forensics

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_RUN = "sample_runs/torch_lr_schedule_spike"


def render() -> str:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the report names the run as given on the command line
    try:
        return forensics.analyze(EXAMPLE_RUN).to_markdown()
    finally:
        os.chdir(cwd)


def quote_in_readme(report: str) -> None:
    """Refresh the report's opening lines quoted in README.md (between the markers)."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- example-report:start -->\n", "<!-- example-report:end -->"
    a, b = text.index(start) + len(start), text.index(end)
    head = "\n".join(report.splitlines()[:3])
    readme.write_text(text[:a] + f"```markdown\n{head}\n```\n" + text[b:], encoding="utf-8")


if __name__ == "__main__":
    report = render()
    (ROOT / "docs" / "example-report.md").write_text(report, encoding="utf-8")
    quote_in_readme(report)
