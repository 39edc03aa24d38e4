"""The command line: one clear line and exit code 2 for every usage error; the contract's exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from forensics import cli


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


SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"


def _strict(text: str):
    import json

    def no_constants(token: str):
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=no_constants)


def test_inspect_json_lists_every_artifact_with_its_status():
    r = run("inspect", str(SAMPLES / "hf_trainer_lr_too_high"), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = _strict(r.stdout)
    statuses = {s["path"]: s["status"] for s in data["sources"]}
    assert statuses["checkpoint-10/optimizer.pt"] == "ok"  # read by the restricted unpickler
    assert statuses["checkpoint-10/model.safetensors"] == "ok"
    events = [s for s in data["sources"] if s["kind"] == "tfevents"]
    assert events and events[0]["contents"]["scalars"]


def test_fail_on_divergence_exits_1_only_for_a_diverged_run(tmp_path):
    diverged = run("analyze", str(SAMPLES / "tbx_lr_too_high"), "--fail-on-divergence", "-o", str(tmp_path / "a.md"))
    healthy = run("analyze", str(SAMPLES / "torch_healthy"), "--fail-on-divergence", "-o", str(tmp_path / "b.md"))
    assert (diverged.returncode, healthy.returncode) == (1, 0)
    assert (tmp_path / "a.md").read_text().startswith("# tbx_lr_too_high: diverged at step 12")


def test_analyze_json_goes_to_stdout_as_strict_json():
    r = run("analyze", str(SAMPLES / "torch_fp16_overflow"), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = _strict(r.stdout)
    assert data["verdict"]["detail"] == "fp16_overflow"
    assert data["first_nonfinite_step"] == 208


def test_inspect_json_lists_every_tensor_of_every_checkpoint_format_and_every_metrics_series():
    runs = {
        "torch_healthy_pt": "torch_zip",  # torch.save training checkpoints
        "torch_healthy": "safetensors",
        "keras_lr_too_high": "keras2_h5",
        "hf_trainer_lr_too_high": "torch_zip",  # optimizer.pt next to model.safetensors
    }
    for name, fmt in runs.items():
        r = run("inspect", str(SAMPLES / name), "--format", "json")
        assert r.returncode == 0, r.stderr
        sources = _strict(r.stdout)["sources"]
        ckpts = [s["contents"] for s in sources if s.get("contents", {}).get("format")]
        assert any(c["format"] == fmt for c in ckpts), name
        for c in ckpts:
            assert len(c["tensor_stats"]) == c["tensors"]
            for t in c["tensor_stats"]:
                assert set(t) >= {"name", "dtype", "shape", "l2", "min", "max", "nonfinite"}
                assert isinstance(t["shape"], list) and isinstance(t["nonfinite"], int)
        series = [s for src in sources for s in src.get("contents", {}).get("scalars", [])]
        assert series and all({"tag", "points", "first_step", "last_step"} <= set(s) for s in series)
    hf = _strict(run("inspect", str(SAMPLES / "hf_trainer_lr_too_high"), "--format", "json").stdout)
    by_path = {s["path"]: s for s in hf["sources"]}
    opt = by_path["checkpoint-10/optimizer.pt"]["contents"]["optimizer"]
    assert opt["name"] == "sgd" and opt["param_groups"][0]["lr"] == 2.0 and opt["param_groups"][0]["momentum"] == 0.9
    assert by_path["checkpoint-10/scheduler.pt"]["contents"]["optimizer"]["scheduler"]["last_epoch"] == 10
    assert by_path["checkpoint-10/training_args.bin"]["contents"]["learning_rate"] == 2.0


_ENTRY = """
import atexit, gc, sys, threading, time
from forensics import cli
mark, argv, thread = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
sys.argv = ["forensics", *argv]
atexit.register(lambda: open(mark, "a").write(f"exit handlers ran, collector thresholds {gc.get_threshold()}\\n"))
if thread == "thread":
    def late():
        time.sleep(0.3)
        open(mark, "a").write("thread finished\\n")
    threading.Thread(target=late).start()
cli.entry()
"""


@pytest.mark.parametrize("thread", ["none", "thread"])
def test_the_command_ends_at_once_yet_runs_its_exit_handlers_and_waits_for_threads(tmp_path, thread):
    # entry() leaves the process without tearing the interpreter down (30-40 ms a run): the
    # exit handlers still run (the reader worker is reaped by one), the report is whole and
    # the exit code main()'s; a thread still running is waited for, as the ordinary exit would.
    # The command's process collects garbage at its own pace; main() called in a program does
    # not change the program's (test_cli_output calls it in this one).
    mark, out = tmp_path / "mark.txt", tmp_path / "report.json"
    run_dir = Path(__file__).resolve().parents[1] / "sample_runs" / "torch_healthy"
    args = [str(mark), "analyze", str(run_dir), "--format", "json", "--fail-on-divergence", thread]
    r = subprocess.run([sys.executable, "-c", _ENTRY, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr  # healthy: 0 even with --fail-on-divergence
    assert json.loads(r.stdout)["diverged"] is False
    lines = mark.read_text().splitlines()
    assert f"exit handlers ran, collector thresholds {cli.GC_THRESHOLDS}" in lines
    assert ("thread finished" in lines) == (thread == "thread")
    assert not out.exists()
    diverged = Path(__file__).resolve().parents[1] / "sample_runs" / "keras_lr_too_high"
    args = [str(mark), "analyze", str(diverged), "--format", "json", "--fail-on-divergence", "none"]
    r = subprocess.run([sys.executable, "-c", _ENTRY, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and json.loads(r.stdout)["diverged"] is True, r.stderr
