"""Start-up: a run pays only for the libraries its files need.

ml_dtypes alone costs about a second of CPU at import, h5py and the TensorBoard protos a
tenth each, typer with pydantic a fifth; a small run's whole analysis costs less. Each
case analyses a real sample run in a fresh interpreter (imports are per process) and
lists which of those libraries got loaded, in the parent and in the run's worker child
(where the readers run), with a run that needs each as the control.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
HEAVY = (
    "ml_dtypes",
    "h5py",
    "tensorboard",
    "google.protobuf",
    "typer",
    "pydantic",
    "rich",
    "subprocess",
    "zipfile",
    "yaml",
    "numpy.ma",
    "forensics.readers.logs",
    "tensorboard.plugins.hparams",
    "forensics.remote",
)

_CHILD = """
import json, sys
from forensics.cli import run
code = run(["analyze", sys.argv[1], "--format", "json", "-o", sys.argv[2]])
heavy = lambda names: sorted(m for m in names if m.split(".")[0] in HEAVY_ROOTS or m in HEAVY_NAMES)
parent = heavy(sys.modules)
# the readers run in the run's worker child: ask a fresh one what reading the run imported
from forensics.load import load_run
data = load_run(sys.argv[1])
worker = heavy(data.worker.call("forensics.readers.worker:loaded_modules", timeout=60).value)
data.close()
print(json.dumps({"code": code, "parent": parent, "loaded": sorted(set(parent) | set(worker))}))
"""


def _loaded(run: Path, tmp_path: Path) -> set[str]:
    return _imports(run, tmp_path)[0]


def _imports(run: Path, tmp_path: Path) -> tuple[set[str], set[str]]:
    """The HEAVY modules loaded by analysing ``run``: (in the parent or the worker, in the parent)."""
    roots = sorted({h.split(".")[0] for h in HEAVY if "." not in h})
    names = sorted(h for h in HEAVY if "." in h)
    code = f"HEAVY_ROOTS = {roots!r}\nHEAVY_NAMES = {names!r}\n" + _CHILD
    r = subprocess.run(
        [sys.executable, "-c", code, str(run), str(tmp_path / "report.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["code"] == 0
    # the parent itself never loads a reader's library: the worker child does
    assert not {"h5py", "ml_dtypes", "tensorboard"} & set(out["parent"]), out["parent"]
    return {h for h in HEAVY if h in out["loaded"]}, {h for h in HEAVY if h in out["parent"]}


def test_a_run_without_h5_or_narrow_floats_imports_neither_h5py_nor_ml_dtypes(tmp_path: Path) -> None:
    # float32 safetensors, event files and a job log
    loaded = _loaded(SAMPLES / "torch_healthy", tmp_path)
    assert "h5py" not in loaded and "ml_dtypes" not in loaded
    assert "tensorboard" in loaded  # it has event files: the protos are needed there
    assert "tensorboard.plugins.hparams" not in loaded  # but none holds hparams (tests/test_events.py reads some)
    assert not {"typer", "pydantic", "rich"} & loaded  # no terminal waiting: no progress bar


def test_a_run_of_logs_only_imports_no_protos_either(tmp_path: Path) -> None:
    loaded = _loaded(SAMPLES / "logonly_keras_nan", tmp_path)
    assert not {"h5py", "ml_dtypes", "tensorboard", "google.protobuf"} & loaded


def test_a_bfloat16_run_needs_no_ml_dtypes_either(tmp_path: Path) -> None:
    # bfloat16 is widened by a shift of its bits; only fp8 needs ml_dtypes' tables
    loaded = _loaded(SAMPLES / "torch_bf16_lr_too_high", tmp_path)
    assert "ml_dtypes" not in loaded and "h5py" not in loaded


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        (ROOT / "tests" / "fixtures" / "checkpoints" / "fp8.safetensors", "ml_dtypes"),
        (SAMPLES / "tf2_exploding_gradients", "h5py"),
    ],
    ids=["fp8-safetensors", "keras-h5"],
)
def test_a_run_that_holds_such_files_loads_the_library_it_needs(tmp_path: Path, path: Path, needed: str) -> None:
    assert needed in _loaded(path, tmp_path)


def test_a_keras_h5_run_spawns_no_uname_and_opens_no_zip_machinery(tmp_path: Path) -> None:
    # h5py's import asks platform for the processor, which ran `uname -p` through subprocess
    # (a fork, an exec and an import); zipfile is for .keras archives only
    loaded = _loaded(SAMPLES / "keras_lr_too_high", tmp_path)
    assert "h5py" in loaded
    assert not {"subprocess", "zipfile"} & loaded


def test_pyyaml_is_imported_for_a_yaml_config_only(tmp_path: Path) -> None:
    assert "yaml" not in _loaded(SAMPLES / "hf_trainer_lr_too_high", tmp_path)  # JSON configs only
    assert "yaml" in _loaded(SAMPLES / "torch_bf16_lr_too_high", tmp_path)  # config.yaml


def test_the_parent_imports_neither_numpy_ma_nor_the_log_reader(tmp_path: Path) -> None:
    # np.median imports numpy.ma on its first call (15-25 ms): forensics.median is the same
    # computation without it. The log reader (its ~50 patterns) runs in the worker; the parent
    # places a Hugging Face log's epoch points on steps without it. A local run needs nothing
    # of the object-store module to know it is local.
    for run in ("hf_trainer_lr_too_high", "keras_lr_too_high"):
        loaded, parent = _imports(SAMPLES / run, tmp_path)
        assert "forensics.readers.logs" in loaded  # read in the worker: the control
        assert not {"numpy.ma", "forensics.readers.logs", "forensics.remote"} & parent, (run, parent)


def test_the_command_line_parser_builds_only_the_command_it_runs_and_no_shutil() -> None:
    """argparse asked shutil for the terminal width for every option it added (shutil imports
    bz2 and lzma: ~2 ms a command); the width comes the same way without it, and only the
    options of the command about to run are added."""
    code = (
        "import sys, shutil as s0; w = s0.get_terminal_size().columns; del sys.modules['shutil']\n"
        "from forensics import cli\n"
        "assert cli._terminal_columns() == w, (cli._terminal_columns(), w)\n"
        "p = cli.build_parser('analyze')\n"
        "args = p.parse_args(['analyze', 'x', '-f', 'json'])\n"
        "assert args.format == 'json' and args.run_dir == 'x'\n"
        "print('shutil' in sys.modules)\n"
    )
    for env in ({}, {"COLUMNS": "57"}):
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env={**_env(), **env}
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "False"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}
