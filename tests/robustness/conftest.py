"""Robustness suite: write the tally of inputs tried when asked (for docs/robustness.md).

FORENSICS_ROBUSTNESS_TALLY=tally.json pytest tests/robustness
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from robust_util import MEASURED, TALLY


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("FORENSICS_ROBUSTNESS_TALLY")
    if target:
        data = {
            "inputs": {fmt: {"inputs": c["inputs"], "crashes": c["crashes"]} for fmt, c in sorted(TALLY.items())},
            "measured": dict(sorted(MEASURED.items())),
        }
        Path(target).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
