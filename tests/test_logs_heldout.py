"""The held-out logs: how the extractor does on toolkits it was never tuned on.

tests/fixtures/make_heldout_log_fixtures.py writes them from the toolkits' format strings,
with the truth in their manifest; real runs (mmengine) add their own logs, with the truth
taken from the JSON record the toolkit writes beside its text log. The extractor is not to be
changed to fit them: the rates measure what a user with a log of an unseen toolkit can expect.
Run with ``-s`` to see the
table. The floors only guard against a regression that would make most of them unreadable.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

import forensics
from forensics.readers.logs import read_job_log
from forensics.records import Kind, Source

HELDOUT = Path(__file__).parent / "fixtures" / "logs" / "heldout"
# written from format strings, and from real runs (tests/fixtures/make_log_fixtures.py mmengine_lr_too_high)
MANIFEST = {
    **json.loads((HELDOUT / "manifest.json").read_text()),
    **json.loads((HELDOUT / "real_manifest.json").read_text()),
}
MIN_EXTRACTION_RATE = 0.6  # regression floors, well under the rates measured when the set was made
MIN_VERDICT_RATE = 0.6


def _extraction_right(name: str, facts: dict) -> bool:
    path = HELDOUT / name
    data = read_job_log(path, Source(name, Kind.JOB_LOG, size=path.stat().st_size))
    loss = data.scalars.get("loss")
    if not facts["loss_steps"]:
        return loss is None  # no single training loss printed: none should be made up
    return loss is not None and loss.steps.tolist() == facts["loss_steps"]


def _verdict_right(name: str, facts: dict, tmp: Path) -> bool:
    run = tmp / name.replace(".", "_")
    run.mkdir()
    shutil.copy(HELDOUT / name, run / name)
    report = forensics.analyze(str(run))
    if report.diverged != facts["diverged"]:
        return False
    if not facts["diverged"]:
        return True
    return report.first_nonfinite_step == facts["first_nonfinite_step"]


def test_heldout_logs_extraction_and_verdict_rates(tmp_path):
    rows = []
    for name, facts in sorted(MANIFEST.items()):
        rows.append((name, facts["toolkit"], _extraction_right(name, facts), _verdict_right(name, facts, tmp_path)))
    width = max(len(r[0]) for r in rows)
    for name, toolkit, ext, ver in rows:
        print(f"{name:<{width}}  extraction {'ok ' if ext else 'MISS'}  verdict {'ok ' if ver else 'MISS'}  {toolkit}")
    ext_rate = float(np.mean([r[2] for r in rows]))
    ver_rate = float(np.mean([r[3] for r in rows]))
    print(f"held-out: extraction {ext_rate:.0%}, verdict {ver_rate:.0%} of {len(rows)} logs")
    assert ext_rate >= MIN_EXTRACTION_RATE and ver_rate >= MIN_VERDICT_RATE
