"""The command line as a person meets it: --help, the formats, files beside -o, progress."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics import cli
from forensics.load import load_run

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "sample_runs" / "torch_lr_schedule_spike"
# A checkpoint this big is read in many chunks: progress must move inside it.
BIG_CHECKPOINT_BYTES = 48 * 2**20


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_help_shows_examples_exit_codes_and_choices_not_type_names():
    r = run("analyze", "--help")
    assert r.returncode == 0
    for text in ("examples:", "exit codes:", "{markdown,html,json}", "--quiet", "-o report.md", "--data FILE"):
        assert text in r.stdout, text
    assert "<bool>" not in r.stdout and "list[Path]" not in r.stdout
    top = run("--help")
    assert "exit codes:" in top.stdout and "examples:" in top.stdout


def test_unknown_format_names_the_choices_in_one_line():
    r = run("analyze", str(RUN), "--format", "yaml")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line and "Value error" not in line
    assert "invalid choice: 'yaml'" in line and "'markdown', 'html', 'json'" in line


def test_markdown_to_a_file_writes_its_figures_beside_it(tmp_path):
    r = run("analyze", str(RUN), "-q", "-o", str(tmp_path / "report.md"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for name in ("timeline.png", "layers.png"):
        assert f"](report_files/{name})" in md
        assert (tmp_path / "report_files" / name).read_bytes().startswith(b"\x89PNG")


def test_html_format_writes_one_page(tmp_path):
    r = run("analyze", str(RUN), "-q", "-f", "html", "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    """A run holding one large real safetensors checkpoint (written by safetensors)."""
    save_file = pytest.importorskip("safetensors.numpy").save_file
    d = tmp_path_factory.mktemp("big") / "run"
    d.mkdir()
    rng = np.random.default_rng(0)
    n = BIG_CHECKPOINT_BYTES // 4 // 4
    save_file(
        {f"layer{i}.weight": rng.standard_normal(n, dtype=np.float32) for i in range(4)}, str(d / "m.safetensors")
    )
    return d


def test_progress_moves_in_bytes_inside_a_big_checkpoint(big_run):
    calls: list[tuple[str, int, int]] = []
    load_run(big_run, progress=lambda cur, done, total: calls.append((cur, done, total)))
    inside = [done for cur, done, total in calls if cur == "m.safetensors" and 0 < done < total]
    assert len(inside) >= 4, f"progress did not move inside the file: {calls[:5]}"
    assert inside == sorted(inside)
    assert calls[-1][1] == calls[-1][2]


def test_plain_progress_line_on_stderr_when_not_a_terminal(big_run, monkeypatch, capsys):
    monkeypatch.setattr(cli, "PLAIN_PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(sys, "argv", ["forensics", "analyze", str(big_run), "-f", "json"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(cli.PROGRESS_PREFIX + "read ")]
    assert lines, err
    assert "MiB of" in lines[-1] and "%" in lines[-1] and "\x1b" not in err  # plain text, no terminal codes


def test_quiet_prints_no_progress(big_run, monkeypatch, capsys):
    monkeypatch.setattr(cli, "PLAIN_PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(sys, "argv", ["forensics", "analyze", str(big_run), "-f", "json", "--quiet"])
    with pytest.raises(SystemExit):
        cli.main()
    assert capsys.readouterr().err == ""


SPIKE = ROOT / "sample_runs" / "torch_lr_schedule_spike" / "checkpoints"


@pytest.mark.parametrize(
    ("checkpoint", "code", "headline"),
    [
        ("step_000175.safetensors", 1, "weights exploded — exploding weights"),
        ("step_000150.safetensors", 0, "weights healthy — healthy"),
    ],
)
def test_a_single_checkpoint_gets_a_verdict_and_exit_code_of_its_own(checkpoint, code, headline, tmp_path):
    r = run("analyze", str(SPIKE / checkpoint), "-q", "--fail-on-divergence", "-o", str(tmp_path / "r.md"))
    assert r.returncode == code, r.stderr
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert headline in md.splitlines()[0]
    assert "](r_files/layers.png)" in md  # one bar per layer, the broken ones highlighted
    j = run("analyze", str(SPIKE / checkpoint), "-q", "-f", "json")
    assert ('"diverged": true' in j.stdout) == (code == 1)
