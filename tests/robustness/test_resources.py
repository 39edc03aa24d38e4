"""Bounded resources: checkpoints larger than the memory the process may use, and run
directories shaped to make a walker slow (10,000 files, 200 levels, symlink loops, FIFOs).

The memory tests run the analysis in a child process under ``RLIMIT_AS`` (address
space: what ``ulimit -v`` sets on a cluster node) with sparse files that declare more
data than the limit; the data really is read, as zeros. The time bounds are generous so
that CI does not flake; the measured figures go to docs/robustness.md.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from robust_util import (
    MEASURED,
    SAMPLES,
    analyze,
    assert_explained,
    count,
    keras2_dense_group,
    raw_zip,
    run_cli,
    stored,
    zeros_deflated,
)

from forensics.records import Status

# The child process may map at most this much address space; each sparse file declares
# half as much again. A Python with numpy, h5py and forensics loaded maps ~170 MiB.
LIMIT_MIB = 512
BIG_MIB = 768
# Peak resident memory the analysis may reach (it streams in chunks; 157 MiB measured).
# The child's own peak is read from /proc/self/status VmHWM, which execve resets: its
# ru_maxrss is NOT reset, and starts at the RSS of the process that forked it (pytest,
# 300-700 MiB in a full run), which is what made this bound look flaky.
MAX_RSS_MIB = 384
WALK_BOUND_S = 60.0  # generous: the measured times are a few seconds

CHILD = r"""
import json, os, resource, sys, time
limit = int(sys.argv[2]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:  # the limit really bites: a buffer of its size cannot be had
    bytearray(limit)
    bites = False
except MemoryError:
    bites = True
t0 = time.monotonic()
import forensics
report = forensics.analyze(sys.argv[1])
report.to_json()
elapsed = time.monotonic() - t0
tl = report.timeline
out = {
    "bites": bites,
    "seconds": elapsed,
    "rss_mib": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024,
    "children_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "sources": {s.path: [str(s.status), s.note] for s in report.sources},
    "tensors": {c.path: [[t.numel, t.nan, t.zeros] for t in c.checkpoint.tensors] for c in tl.checkpoints},
    "arrays": {d.source.path: [[a.nan, a.shape] for a in d.arrays] for d in tl.data_samples},
}
print(json.dumps(out))
"""


def _sparse_safetensors(path: Path, mib: int) -> int:
    n = mib * 2**20 // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + n * 4 - 4)
        f.seek(0, os.SEEK_END)
        f.write(struct.pack("<f", float("nan")))  # the last element: a NaN the reader must reach
    return n


def _sparse_h5(path: Path, mib: int) -> int:
    n = mib * 2**20 // 4
    with h5py.File(path, "w") as f:
        ds = keras2_dense_group(f).create_dataset("kernel:0", shape=(n // 1024, 1024), dtype="f4")
        ds[-1, -1] = np.nan  # contiguous storage: the whole extent is allocated, only this is written
    return n


def _sparse_npy(path: Path, mib: int) -> int:
    n = mib * 2**20 // 4
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n // 64, 64)})
        start = f.tell()
        f.truncate(start + n * 4 - 4)
        f.seek(0, os.SEEK_END)
        f.write(struct.pack("<f", float("nan")))
    return n


def _config_bomb(path: Path) -> None:
    """A .keras whose config.json inflates to 1 GiB (read with a cap) beside real weights."""
    with zipfile.ZipFile(SAMPLES / "keras_nan_in_inputs" / "ckpt" / "model_epoch01.keras") as z:
        weights = z.read("model.weights.h5")
    bomb, crc = zeros_deflated(1024)
    path.write_bytes(raw_zip([("config.json", 8, bomb, crc, 2**30, 0), stored("model.weights.h5", weights)]))


def test_checkpoints_and_data_larger_than_the_memory_limit_are_read_in_bounded_memory(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    n_st = _sparse_safetensors(run / "model_step100.safetensors", BIG_MIB)
    n_h5 = _sparse_h5(run / "step_100.weights.h5", BIG_MIB)
    n_npy = _sparse_npy(run / "train_x.npy", BIG_MIB)
    _config_bomb(run / "model.keras")
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(run), str(LIMIT_MIB)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    count("memory limit (sparse files)", 4)
    assert out["bites"], "the address-space limit did not take effect"
    src = out["sources"]
    assert src["model_step100.safetensors"] == ["ok", None]
    assert src["step_100.weights.h5"] == ["ok", None]
    assert src["train_x.npy"][0] == "ok", src["train_x.npy"]
    assert src["model.keras"][0] == "partial" and "cap" in src["model.keras"][1]
    assert out["tensors"]["model_step100.safetensors"] == [[n_st, 1, n_st - 1]]  # every element read
    assert out["tensors"]["step_100.weights.h5"] == [[n_h5, 1, n_h5 - 1]]
    assert out["arrays"]["train_x.npy"][0][0] == 1 and np.prod(out["arrays"]["train_x.npy"][0][1]) == n_npy
    peak = max(out["rss_mib"], out["children_rss_mib"])
    MEASURED["3 x 768 MiB sparse files + 1 GiB zip bomb under a 512 MiB address-space limit"] = {
        "seconds": round(out["seconds"], 2),
        "peak_rss_mib": round(peak, 1),
    }
    assert peak < MAX_RSS_MIB, out


# ---------------------------------------------------------------- directory shapes


def _timed(run: Path, fmt: str, **kw):
    t0 = time.monotonic()
    report = analyze(run, fmt, **kw)
    return report, time.monotonic() - t0


def test_a_directory_of_10000_small_files_finishes_quickly(tmp_path: Path) -> None:
    run = tmp_path / "run"
    st = (SAMPLES / "tbx_healthy_noisy" / "ckpt" / "epoch1.safetensors").read_bytes()
    ev = (SAMPLES / "torch_healthy" / "logs" / "val" / "events.out.tfevents.1795621896.vm.3028.1").read_bytes()
    for i in range(10_000):
        d = run / f"shard{i // 500:02d}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        if kind == 0:
            (d / f"step_{i}.log").write_text(f"step {i} loss 0.5\n", encoding="utf-8")
        elif kind == 1:
            (d / f"model_step{i}.safetensors").write_bytes(st)
        elif kind == 2:
            (d / f"frame_{i}.png").write_bytes(b"\x89PNG\r\n")
        else:
            (d / f"events.out.tfevents.{i}.host").write_bytes(ev)
    report, seconds = _timed(run, "directory shapes")
    MEASURED["10,000 small files (2,500 each: logs, safetensors, event files, images)"] = {"seconds": round(seconds, 2)}
    assert len(report.sources) == 7_500
    assert all(s.status is Status.OK for s in report.sources)
    assert seconds < WALK_BOUND_S


def test_a_run_nested_200_levels_deep_is_walked_to_the_bottom(tmp_path: Path) -> None:
    run = tmp_path / "run"
    deep = run.joinpath(*["d"] * 200)
    deep.mkdir(parents=True)
    shutil.copy(SAMPLES / "tbx_lr_too_high" / "tensorboard" / "events.out.tfevents.1795621892.vm", deep)
    (run.joinpath(*["d"] * 100) / "train.log").write_text("step 1 loss 0.5\n", encoding="utf-8")
    report, seconds = _timed(run, "directory shapes")
    MEASURED["a run nested 200 levels deep"] = {"seconds": round(seconds, 2)}
    depths = sorted(s.path.count("/") for s in report.sources)
    assert depths == [100, 200]
    assert report.diverged
    assert seconds < WALK_BOUND_S


@pytest.mark.parametrize("follow_links", [False, True])
def test_symlink_loops_end_the_walk_and_are_named(tmp_path: Path, follow_links: bool) -> None:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    os.symlink(".", run / "again")  # run/again/again/... forever
    (run / "a" / "b").mkdir(parents=True)
    os.symlink("../..", run / "a" / "b" / "up")  # back to run/
    os.symlink("self.log", run / "self.log")  # a link to itself (ELOOP)
    os.symlink("/dev/zero", run / "events.out.tfevents.0.zero")  # a device under an artifact's name
    report, seconds = _timed(run, "directory shapes", follow_links=follow_links)
    MEASURED[f"symlink loops, follow_links={follow_links}"] = {"seconds": round(seconds, 2)}
    paths = [s.path for s in report.sources]
    assert len(paths) == len(set(paths))
    assert sorted(paths) == sorted(
        str(p.relative_to(SAMPLES / "tbx_lr_too_high"))
        for p in (SAMPLES / "tbx_lr_too_high").rglob("*")
        if p.is_file() and _known(p.name)
    )
    assert report.verdict.cause == "learning_rate"
    problems = " ".join(report.problems)
    assert ("loop" in problems) if follow_links else ("not followed" in problems)
    assert seconds < WALK_BOUND_S


def _known(name: str) -> bool:
    from forensics.discover import classify

    return classify(name) is not None


def test_fifos_and_devices_named_like_artifacts_are_never_opened(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: the walk must not even try."""
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    os.mkfifo(run / "train.log")
    os.mkfifo(run / "events.out.tfevents.1.fifo")
    os.mkfifo(run / "model.safetensors")
    r = run_cli("analyze", str(run), "--format", "json", "--follow-links", timeout=60)
    assert r.returncode == 0, r.stderr
    count("directory shapes")
    paths = {s["path"] for s in json.loads(r.stdout)["sources"]}
    assert not paths & {"train.log", "events.out.tfevents.1.fifo", "model.safetensors"}


def test_a_huge_sparse_file_that_is_not_a_log_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "train.log", "wb") as f:
        f.truncate(8 * 2**30)  # 8 GiB of NUL bytes: a disk image, not a console log
    report, seconds = _timed(run, "job log")
    src = report.sources[0]
    assert_explained(src)
    assert src.status is Status.UNREADABLE
    MEASURED["an 8 GiB sparse file named train.log"] = {"seconds": round(seconds, 2)}
    assert seconds < 5
