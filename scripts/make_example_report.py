"""Regenerate docs/example-report.md, the report pasted into the README.

    python scripts/make_example_report.py

tests/test_docs.py fails when the example no longer matches what the tool prints.
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


if __name__ == "__main__":
    (ROOT / "docs" / "example-report.md").write_text(render(), encoding="utf-8")
