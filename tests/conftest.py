"""Fixtures shared by the test modules."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import forensics

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
SAMPLE_RUNS = sorted(json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"])


@pytest.fixture(autouse=True)
def _fresh_reader_worker():
    """Each test's first run forks a fresh reader worker (forensics/readers/worker.py keeps
    one from run to run): it then runs the readers as the test patched them."""
    from forensics.readers import worker

    worker.reset()
    yield
    worker.reset()


@pytest.fixture(scope="session")
def reports(tmp_path_factory):
    """Every sample run analysed from a read-only copy named 'run' (once per session: the
    sample-run and report-view tests share it)."""
    out = {}
    base = tmp_path_factory.mktemp("copies")
    for name in SAMPLE_RUNS:
        dst = base / f"case{len(out):02d}" / "run"
        shutil.copytree(SAMPLES / name, dst)
        for p in [dst, *dst.rglob("*")]:
            mode = p.stat().st_mode
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        before = sorted((str(p), p.stat().st_mtime_ns) for p in dst.rglob("*"))
        out[name] = forensics.analyze(str(dst))
        after = sorted((str(p), p.stat().st_mtime_ns) for p in dst.rglob("*"))
        assert before == after, f"{name}: the analysis changed the run directory"
    yield out
    for p in base.rglob("*"):
        if p.is_dir():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    os.chmod(base, 0o755)
