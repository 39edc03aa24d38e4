"""Fuzz the job-log parser (forensics.readers.logs.parse_log_text) with atheris (see scripts/fuzz_common.py).

    python scripts/fuzz_logs.py --seconds 600

The bytes are decoded as UTF-8 with ``surrogateescape`` (what a damaged console log
looks like to Python). Properties checked on every input: the parser never raises, and
every series it returns is a set of aligned int64 steps and float64 values.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_common import run, seed_files

LOG_SUFFIXES = {".log", ".out", ".err", ".txt"}


def _imports() -> None:
    global parse_log_text, np
    import numpy as np

    from forensics.readers.logs import parse_log_text


def test_one_input(data: bytes) -> None:
    scalars, events, died, last_step = parse_log_text(data.decode("utf-8", "surrogateescape"))
    assert isinstance(died, bool)
    assert last_step is None or -(2**63) <= last_step < 2**63
    for s in scalars.values():
        assert s.steps.dtype == np.int64 and s.values.dtype == np.float64
        assert s.steps.shape == s.values.shape == s.segment.shape
    for ev in events:
        assert ev.line >= 1


if __name__ == "__main__":
    run("fuzz_logs", test_one_input, seed_files(lambda p: p.suffix in LOG_SUFFIXES), _imports, chunk_seconds=120)
