"""The command line: one clear line and exit code 2 for every usage error; the contract's exit codes."""

import subprocess
import sys

import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_missing_path_is_one_line_and_exit_2(tmp_path):
    r = run("analyze", str(tmp_path / "nope"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "no such file" in r.stderr
    assert "Traceback" not in r.stderr


def test_empty_directory_is_one_line_and_exit_2(tmp_path):
    for cmd in ("analyze", "inspect"):
        r = run(cmd, str(tmp_path))
        assert r.returncode == 2, cmd
        assert r.stderr.strip().count("\n") == 0, r.stderr
        assert "no training artifacts" in r.stderr


def test_unknown_format_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "train.log").write_text("Epoch 1/1\n")
    r = run("analyze", str(tmp_path), "--format", "yaml")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "yaml" in r.stderr


def test_unknown_command_is_one_line_and_exit_2():
    r = run("frobnicate")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr


def test_file_of_unknown_kind_is_refused_in_one_line(tmp_path):
    f = tmp_path / "notes.png"
    f.write_bytes(b"\x89PNG")
    r = run("analyze", str(f))
    assert r.returncode == 2
    assert "not a run directory" in r.stderr


def test_version_prints_the_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("forensics ")


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_unwritable_output_is_one_line_and_exit_2(tmp_path, cmd):
    (tmp_path / "train.log").write_text("Epoch 1/1\n")
    r = run(cmd, str(tmp_path), "-o", str(tmp_path / "no" / "such" / "dir" / "report.md"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "cannot write" in r.stderr
