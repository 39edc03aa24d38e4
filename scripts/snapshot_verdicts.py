"""Record every sample run's verdict in tests/verdict_snapshot.json.

    python scripts/snapshot_verdicts.py

tests/test_sample_runs.py compares each run's verdict cause, detail, divergence and
first non-finite step against this file, so a refactor that changes a verdict fails
by name. Regenerate it only when a verdict is meant to change, and say why in the
commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import forensics

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
SNAPSHOT = ROOT / "tests" / "verdict_snapshot.json"


def snapshot_entry(report: Any) -> dict[str, Any]:
    """The fields of a report the snapshot pins."""
    return {
        "cause": report.verdict.cause,
        "detail": report.verdict.detail,
        "diverged": report.diverged,
        "first_nonfinite_step": report.first_nonfinite_step,
    }


def main() -> None:
    runs = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    out = {name: snapshot_entry(forensics.analyze(str(SAMPLES / name))) for name in runs}
    SNAPSHOT.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
