"""Robustness suite: write the tally of inputs tried when asked (for docs/robustness.md).

FORENSICS_ROBUSTNESS_TALLY=tally.json pytest -n 0 tests/robustness
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
    if target and (hasattr(session.config, "workerinput") or session.config.getoption("numprocesses", default=None)):
        # under pytest-xdist each process tried only its share of the inputs: the tally is one whole run's (-n 0)
        if not hasattr(session.config, "workerinput"):
            print("\nFORENSICS_ROBUSTNESS_TALLY: not written, run the suite in one process (-n 0)", file=sys.stderr)
        return
    if target:
        data = {
            "inputs": {fmt: {"inputs": c["inputs"], "crashes": c["crashes"]} for fmt, c in sorted(TALLY.items())},
            "measured": dict(sorted(MEASURED.items())),
        }
        Path(target).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
