"""The command line against a hostile run (issue 17): it never writes into the run, its
output survives any locale, and a report file is whole or absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from robust_util import SAMPLES, count, one_line, run_cli, snapshot

from forensics import cli


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    return run


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
@pytest.mark.parametrize("target", ["slurm-6640187.out", "report.md", "ckpt/new.md", "."])
def test_output_inside_the_run_is_refused_in_one_line(small_run: Path, cmd: str, target: str) -> None:
    """Bound: exit 2, one line, the run unchanged (the log the issue saw overwritten included)."""
    count("command line")
    before = snapshot(small_run)
    r = run_cli(cmd, str(small_run), "-o", str(small_run / target))
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "inside the run" in line or "directory" in line
    assert snapshot(small_run) == before


def test_output_through_a_symlink_into_the_run_is_refused(small_run: Path, tmp_path: Path) -> None:
    count("command line")
    link = tmp_path / "report.md"
    link.symlink_to(small_run / "slurm-6640187.out")
    before = snapshot(small_run)
    r = run_cli("analyze", str(small_run), "-o", str(link))
    assert r.returncode == 2 and "inside the run" in one_line(r.stderr)
    assert snapshot(small_run) == before


def test_output_onto_a_lone_artifact_or_a_data_sample_is_refused(small_run: Path, tmp_path: Path) -> None:
    count("command line", 2)
    log = small_run / "slurm-6640187.out"
    before = log.read_bytes()
    r = run_cli("analyze", str(log), "-o", str(log))
    assert r.returncode == 2 and "inside the run" in one_line(r.stderr)
    sample = tmp_path / "sample.csv"
    sample.write_text("x,label\n1,0\n", encoding="utf-8")
    r = run_cli("analyze", str(small_run), "--data", str(sample), "-o", str(sample))
    assert r.returncode == 2 and "inside the run" in one_line(r.stderr)
    assert log.read_bytes() == before and sample.read_text(encoding="utf-8") == "x,label\n1,0\n"


def test_output_beside_the_run_is_written_whole_with_no_temporary_left(small_run: Path, tmp_path: Path) -> None:
    count("command line")
    out = tmp_path / "report.md"
    out.write_text("old report\n", encoding="utf-8")
    r = run_cli("analyze", str(small_run), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8").startswith("# run: diverged")
    # the figures go beside the report, in report_files/
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report_files", "run"]
    assert not [p for p in (tmp_path / "report_files").iterdir() if p.suffix != ".png"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    """The report goes to a temporary file renamed over the target: interrupted before the
    rename (here, by a KeyboardInterrupt in the rename itself), the old file is intact."""
    count("command line")
    out = tmp_path / "report.md"
    out.write_text("old report\n", encoding="utf-8")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli._replace_file(out, b"new report\n" * 100_000)
    assert out.read_text(encoding="utf-8") == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_output_encodes_under_any_locale(small_run: Path, encoding: str, cmd: str) -> None:
    """Bound: exit 0 and valid UTF-8 on stdout when the locale's encoding cannot hold "—"."""
    count("command line")
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    r = subprocess.run(
        [sys.executable, "-m", "forensics", cmd, str(small_run)], capture_output=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = r.stdout.decode("utf-8")
    assert "Traceback" not in r.stderr.decode(errors="replace")
    if cmd == "analyze":
        assert "—" in out.splitlines()[0]


def test_an_error_message_encodes_under_any_locale(tmp_path: Path) -> None:
    count("command line")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    missing = tmp_path / "run—é\u2028x"
    r = subprocess.run(
        [sys.executable, "-m", "forensics", "analyze", str(missing)], capture_output=True, timeout=120, env=env
    )
    assert r.returncode == 2
    assert one_line(r.stderr.decode("utf-8")).endswith("no such file or directory")
