"""Nothing is written into the run: the command line, run from inside a read-only copy
of a run directory, leaves every file, folder, mode and mtime as it found them.

(tests/test_sample_runs.py checks the same through the API for every sample run.)
Running as root, read-only modes do not stop writes, so the proof is the snapshot:
no file appears, disappears or changes, whatever the permissions allowed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from robust_util import SAMPLES, count, make_read_only, make_writable, run_cli, snapshot

# Runs that together hold every kind of artifact: event files, Keras H5 and .keras,
# single and sharded safetensors, pickles, logs, trainer states, configs, data samples.
RUNS = ["tbx_lr_too_high", "keras_nan_in_inputs", "hf_trainer_lr_too_high", "keras_log_of_zero"]


@pytest.fixture
def read_only_run(tmp_path: Path, request) -> Path:
    run = tmp_path / "copy" / "run"
    shutil.copytree(SAMPLES / request.param, run)
    make_read_only(run)
    yield run
    make_writable(run)


@pytest.mark.parametrize("read_only_run", RUNS, indirect=True)
def test_the_command_line_writes_nothing_into_a_read_only_run(read_only_run: Path, tmp_path: Path) -> None:
    run = read_only_run
    before = snapshot(run)
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    for args in (["analyze", ".", "--format", "json", "-o", str(report)], ["inspect", "."]):
        r = run_cli(*args, cwd=run)  # from inside the run: a relative write would land in it
        count("command line (read-only run)")
        assert r.returncode in (0, 1), (args, r.stderr)
        assert snapshot(run) == before, f"{args} changed the run directory"
    assert json.loads(report.read_text(encoding="utf-8"))["run_dir"] == "."
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and run not in p.parents) == ["report.json"]
