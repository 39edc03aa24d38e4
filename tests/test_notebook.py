"""The report in a notebook executed headless (nbclient + ipykernel, as Jupyter runs it):
the cell shows the HTML view with its figures inline, the timeline comes out as a
DataFrame, and a folder with nothing in it raises the error the CLI prints.

The default suite runs three sample runs; every sample run is under ``-m slow``:
``python -m pytest -m slow tests/test_notebook.py``.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
Image = pytest.importorskip("PIL.Image")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
ALL_RUNS = sorted(json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"])
# a diverged run with checkpoints, a healthy one, and a checkpoint given alone
SOME_RUNS = ["torch_lr_schedule_spike", "keras_healthy", "torch_lr_schedule_spike/checkpoints/step_000175.safetensors"]
CELL_TIMEOUT_S = 600


def _notebook(runs: list[str], empty: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport forensics"),
        *(nbformat.v4.new_code_cell(f"forensics.analyze({str(SAMPLES / r)!r})") for r in runs),
        nbformat.v4.new_code_cell(f"forensics.analyze({str(SAMPLES / runs[0])!r}).to_frame().tail(3)"),
        nbformat.v4.new_code_cell(f"forensics.analyze({str(SAMPLES / runs[0])!r}).verdict"),
        nbformat.v4.new_code_cell(
            f"try:\n    forensics.analyze({str(empty)!r})\n"
            "except forensics.errors.UsageError as e:\n    print('raised:', e)"
        ),
    ]
    return nb


def _execute(runs: list[str], tmp_path: Path) -> list:
    (tmp_path / "empty").mkdir()
    nb = _notebook(runs, tmp_path / "empty")
    nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb.cells


def _check(runs: list[str], cells: list) -> None:
    for name, cell in zip(runs, cells[1 : 1 + len(runs)], strict=True):
        (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
        html = out.data["text/html"]
        assert html.lstrip().startswith("<h1>"), f"{name}: {html[:80]}"
        images = html.split('src="data:image/png;base64,')[1:]
        assert images or "No figure: the run left no curve" in html, f"{name}: no figure in the notebook's view"
        for img in images:
            Image.open(io.BytesIO(base64.b64decode(img.split('"', 1)[0]))).load()
        assert out.data["text/plain"].startswith("<Report ")  # the short repr beside it
    frame, verdict, empty = cells[1 + len(runs) :]
    assert "<table" in frame.outputs[0].data["text/html"] and "grad_norm" in frame.outputs[0].data["text/html"]
    assert verdict.outputs[0].data["text/plain"].startswith("<Verdict learning_rate/lr_schedule_spike")
    assert "raised:" in empty.outputs[0].text and "no training artifacts found" in empty.outputs[0].text


def test_a_notebook_shows_reports_with_figures_frames_and_errors(tmp_path):
    _check(SOME_RUNS, _execute(SOME_RUNS, tmp_path))


@pytest.mark.slow
def test_a_notebook_shows_every_sample_run_with_its_figures(tmp_path):
    _check(ALL_RUNS, _execute(ALL_RUNS, tmp_path))
