"""Bad command lines and hostile names: one clear line on stderr and the documented exit
code (report contract: 0 the analysis ran, 2 usage error or nothing readable), never a
traceback; and nothing a file from a stranger holds reaches the terminal raw.

tests/test_cli.py covers the basic usage errors; these add the cases of a post-mortem
on wreckage: lone artifacts, a full disk, names with newlines, escape sequences and
invalid Unicode inside the files.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from robust_util import SAMPLES, count, one_line, run_cli, safetensors_bytes

LONE_ARTIFACTS = [
    "tbx_lr_too_high/tensorboard/events.out.tfevents.1795621892.vm",
    "tbx_lr_too_high/ckpt/model_step15.safetensors",
    "keras_log_of_zero/checkpoints/cp-0005.weights.h5",
    "keras_nan_in_inputs/ckpt/model_epoch01.keras",
    "tbx_lr_too_high/slurm-6640187.out",
]


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    return run


@pytest.mark.parametrize("rel", LONE_ARTIFACTS, ids=lambda r: Path(r).suffix or "tfevents")
def test_a_lone_artifact_is_a_valid_input_and_is_analysed(rel: str) -> None:
    count("command line")
    path = SAMPLES / rel
    r = run_cli("analyze", str(path), "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert [s["path"] for s in report["sources"]] == [path.name]
    assert report["sources"][0]["status"] == "ok"


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_a_missing_path_is_one_line_and_exit_2(tmp_path: Path, cmd: str) -> None:
    count("command line")
    r = run_cli(cmd, str(tmp_path / "gone"))
    assert r.returncode == 2
    assert "no such file or directory" in one_line(r.stderr)


def test_a_path_with_a_newline_in_its_name_still_gives_one_line(tmp_path: Path) -> None:
    count("command line")
    r = run_cli("analyze", str(tmp_path / "run\nsecond line"))
    assert r.returncode == 2
    assert "second line" in one_line(r.stderr)


def test_a_lone_file_of_no_known_kind_is_refused_in_one_line(tmp_path: Path) -> None:
    count("command line")
    f = tmp_path / "photo.jpg"
    f.write_bytes(b"\xff\xd8\xff")
    r = run_cli("analyze", str(f))
    assert r.returncode == 2
    assert "not a run directory nor a file of a known kind" in one_line(r.stderr)


@pytest.mark.parametrize("fmt", ["yaml", "", "JSON"])
def test_an_unknown_format_is_one_line_and_exit_2(small_run: Path, fmt: str) -> None:
    count("command line")
    r = run_cli("analyze", str(small_run), "--format", fmt)
    assert r.returncode == 2
    assert "--format" in one_line(r.stderr) or "format" in r.stderr


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_output_to_a_directory_is_refused_before_any_work(small_run: Path, tmp_path: Path, cmd: str) -> None:
    count("command line")
    r = run_cli(cmd, str(small_run), "-o", str(tmp_path))
    assert r.returncode == 2
    assert "is a directory" in one_line(r.stderr)


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_output_to_a_full_disk_is_one_line_and_exit_2(small_run: Path, cmd: str) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    count("command line")
    r = run_cli(cmd, str(small_run), "-o", "/dev/full")
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "cannot write /dev/full" in line and "space" in line.lower()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_output_into_a_read_only_directory_is_one_line_and_exit_2(small_run: Path, tmp_path: Path) -> None:
    count("command line")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = run_cli("analyze", str(small_run), "-o", str(locked / "report.md"))
    finally:
        locked.chmod(0o700)
    assert r.returncode == 2
    assert "cannot write" in one_line(r.stderr)


def test_a_missing_data_sample_is_one_line_and_exit_2(small_run: Path, tmp_path: Path) -> None:
    count("command line")
    r = run_cli("analyze", str(small_run), "--data", str(tmp_path / "nope.npz"))
    assert r.returncode == 2
    assert "nope.npz" in one_line(r.stderr)


def test_a_run_where_nothing_is_readable_exits_2_and_still_prints_the_json_report(tmp_path: Path) -> None:
    count("command line")
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)
    (tmp_path / "events.out.tfevents.1.x").write_bytes(b"junk" * 10)
    r = run_cli("analyze", str(tmp_path), "--format", "json")
    assert r.returncode == 2
    assert "nothing could be read" in one_line(r.stderr)
    statuses = {s["path"]: s["status"] for s in json.loads(r.stdout)["sources"]}
    assert statuses == {"model.safetensors": "unreadable", "events.out.tfevents.1.x": "unreadable"}


# ---------------------------------------------------------------- what files say reaches the terminal


def _hostile_run(tmp_path: Path) -> Path:
    """A run whose tensor names hold a lone surrogate, terminal escapes and C1 controls."""
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    ok = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    bad = {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}  # broken: its name goes into the note
    header = {"w\ud800": ok, "\x1b]0;pwned\x07\x1b[2J\x9b31m": bad}
    (run / "ckpt" / "model_step25.safetensors").write_bytes(safetensors_bytes(header, b"\0" * 8))
    return run


@pytest.mark.parametrize(
    ("cmd", "fmt"), [("analyze", "markdown"), ("analyze", "json"), ("inspect", "text"), ("inspect", "json")]
)
def test_names_from_the_files_reach_stdout_escaped_never_raw(tmp_path: Path, cmd: str, fmt: str) -> None:
    count("command line")
    run = _hostile_run(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "forensics", cmd, str(run), "--format", fmt], capture_output=True, timeout=120
    )
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = r.stdout.decode("utf-8")  # strict: the output is valid UTF-8
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "model_step25.safetensors" in out
    if fmt == "json":
        json.loads(out)  # the escapes keep the JSON valid


def test_the_same_report_written_to_a_file_is_valid_utf8(tmp_path: Path) -> None:
    count("command line")
    run = _hostile_run(tmp_path)
    out = tmp_path / "report.json"
    r = run_cli("analyze", str(run), "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_bytes().decode("utf-8"))
    assert any(s["path"] == "ckpt/model_step25.safetensors" for s in data["sources"])


def test_a_file_name_that_looks_like_rich_markup_does_not_break_the_progress_bar() -> None:
    """On a terminal the progress bar shows the file being read; rich must not parse it as markup.

    The bar refreshes ten times a second, so the name is kept on screen for a few refreshes.
    """
    count("command line")
    code = (
        "import time, forensics.cli as c\n"
        "bar = c._Progress(enabled=True)\n"
        "bar.start -= 10  # past the delay: show the bar at once\n"
        "bar('logs[/bold].log', 1, 10)\n"
        "time.sleep(0.35)\n"
        "bar('', 10, 10)\n"
        "bar.close()\n"
        "print('done')\n"
    )
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.execv(sys.executable, [sys.executable, "-c", code])
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "MarkupError" not in text and "Traceback" not in text, text
    assert "logs[/bold].log" in text and "done" in text
    assert os.waitstatus_to_exitcode(status) == 0, text
