"""Hostile runs (issue 17): job folders on shared file systems written by someone else.

Each test is one attack with its bound: nothing outside the run is read, nothing from
the run is executed, a few bytes cannot make a reader hang or blow up, one bad record
costs that record. docs/robustness.md tabulates attack / bound / result.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from robust_util import SAMPLES, alive, analyze, count, keras2_dense_group, run_cli

import forensics
from forensics.discover import discover
from forensics.load import load_inventory
from forensics.records import Status

SECRET = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    return run


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the run that the user can read: what an attacker wants in the report."""
    path = tmp_path / "outside" / "credentials"
    path.parent.mkdir()
    path.write_text(f"step,loss\n1,{SECRET}\n{SECRET}\n", encoding="utf-8")
    return path


def _everything(report) -> str:
    return report.to_markdown() + report.to_json()


def _source(report, rel: str):
    return next(s for s in report.sources if s.path == rel)


# ---------------------------------------------------------------- nothing outside the run is read


@pytest.mark.parametrize("name", ["slurm-6640187.out", "hparams.json", "ckpt/model_step10.safetensors"])
def test_a_file_swapped_for_a_symlink_after_discovery_is_not_followed(run: Path, secret: Path, name: str) -> None:
    """Bound: that source unreadable ("symlink"), no byte of the target in the report."""
    count("hostile runs")
    inv = discover(run)
    (run / name).unlink()
    (run / name).symlink_to(secret)
    data = load_inventory(inv, str(run))
    src = _source(data, name)
    assert src.status is Status.UNREADABLE and "symlink" in src.note, src
    assert SECRET not in repr(data)


def test_a_file_replaced_by_another_after_discovery_is_refused(run: Path, secret: Path) -> None:
    count("hostile runs")
    inv = discover(run)
    log = run / "slurm-6640187.out"
    log.rename(run.parent / "kept")  # still alive, so its inode cannot be reused at once
    shutil.copy(secret, log)  # another file (a new inode) at the same path
    data = load_inventory(inv, str(run))
    src = _source(data, "slurm-6640187.out")
    assert src.status is Status.UNREADABLE and "replaced" in src.note, src
    assert SECRET not in repr(data)


@pytest.mark.parametrize("name", ["slurm-6640187.out", "tensorboard/events.out.tfevents.1795621892.vm"])
def test_a_file_swapped_for_a_fifo_after_discovery_does_not_block(run: Path, name: str) -> None:
    """Bound: read in under 10 s (open() on a FIFO with no writer used to block forever)."""
    count("hostile runs")
    inv = discover(run)
    (run / name).unlink()
    os.mkfifo(run / name)
    t0 = time.monotonic()
    data = load_inventory(inv, str(run))
    assert time.monotonic() - t0 < 10
    src = _source(data, name)
    assert src.status is Status.UNREADABLE and "not a regular file" in src.note, src


def test_follow_links_never_reads_outside_the_run(run: Path, secret: Path) -> None:
    """With --follow-links, a link whose target resolves outside the run is not followed
    (a data.csv pointing at a secret printed its first row); links within the run are."""
    count("hostile runs", 3)
    (run / "data.csv").symlink_to(secret)
    (run / "train.log").symlink_to(secret)
    (run / "again").symlink_to(run / "ckpt")
    report = analyze(run, "hostile runs", follow_links=True)
    paths = {s.path for s in report.sources}
    assert "data.csv" not in paths and "train.log" not in paths
    assert "again/model_step10.safetensors" in paths  # inside the run: followed
    assert sum("outside the run" in p for p in report.problems) == 2
    assert SECRET not in _everything(report)
    r = run_cli("analyze", str(run), "--follow-links", "--format", "json")
    assert r.returncode == 0 and SECRET not in r.stdout


def test_a_data_sample_the_user_names_through_a_symlink_is_read(run: Path, tmp_path: Path) -> None:
    count("hostile runs")
    sample = tmp_path / "x.csv"
    sample.write_text("a,label\n1,0\n2,1\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(sample)
    report = analyze(run, "hostile runs", data=[tmp_path / "link.csv"])
    assert _source(report, str(tmp_path / "link.csv")).status is Status.OK


def _h5_with_external_bytes(path: Path, secret: Path, n: int = 60) -> None:
    """n one-byte datasets whose raw storage is byte i of a file outside the run."""
    with h5py.File(path, "w") as f:
        for i in range(n):
            f.create_dataset(f"b{i:02d}", shape=(1,), dtype="u1", external=[(str(secret), i, 1)])


@pytest.mark.parametrize("cmd", ["inspect", "analyze"])
def test_h5_external_raw_storage_is_never_read(run: Path, secret: Path, cmd: str) -> None:
    """Bound: no byte of the outside file reaches the output (it was rebuilt from 60 min/max)."""
    count("hostile runs")
    _h5_with_external_bytes(run / "samples.h5", secret)
    r = run_cli(cmd, str(run), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    src = next(s for s in out["sources"] if s["path"] == "samples.h5")
    assert "external raw storage" in src["note"], src
    arrays = src.get("contents", {}).get("arrays", []) if cmd == "inspect" else []
    assert arrays == []  # nothing was read from those datasets
    assert SECRET not in r.stdout


def test_h5_external_links_in_a_data_sample_are_not_followed(run: Path, tmp_path: Path) -> None:
    count("hostile runs")
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["x"] = np.full(8, np.nan)
    with h5py.File(run / "samples.h5", "w") as f:
        f["inside"] = np.arange(4.0)
        f["far"] = h5py.ExternalLink(str(outside), "/x")
    report = analyze(run, "hostile runs")
    assert report.verdict.cause == "learning_rate"
    sample = next(d for d in forensics.inspect(run).data_samples if d.source.path == "samples.h5")
    assert [a.name for a in sample.arrays] == ["inside"]


# ---------------------------------------------------------------- nothing from the run is executed


def test_h5py_import_runs_nothing_from_the_run_or_path(run: Path) -> None:
    """With "." first on PATH and the run as working directory, the run's own `uname`
    (h5py's import calls platform.processor(), which runs `uname -p`) must not run."""
    count("hostile runs")
    marker = run.parent / "uname_ran"
    fake = run / "uname"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\necho x86_64\n", encoding="utf-8")
    fake.chmod(0o755)
    shutil.copy(SAMPLES / "keras_log_of_zero" / "checkpoints" / "cp-0005.weights.h5", run / "w.h5")
    env = {**os.environ, "PATH": "." + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(
        [sys.executable, "-m", "forensics", "analyze", ".", "--format", "json"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    # the control: the same PATH and folder do run it for a plain `uname -p`
    subprocess.run(["uname", "-p"], cwd=run, env=env, capture_output=True, check=False)
    assert marker.exists()


# ---------------------------------------------------------------- a few bytes, bounded cost


def _zlib_zeros(mib: int) -> bytes:
    """A zlib stream of ``mib`` MiB of zeros built without inflating it (HDF5's deflate
    filter reads zlib streams): a header, identical full-flush blocks, an empty final
    block and the Adler-32 of n zeros, which is (n mod 65521) << 16 | 1."""
    c = zlib.compressobj(9)
    first = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    header, block = first[:2], first[2:]
    n = mib << 20
    return header + block * mib + b"\x03\x00" + struct.pack(">I", ((n % 65521) << 16) | 1)


def _h5_bomb(path: Path, declared_mib: int, inflates_mib: int, keras: bool) -> None:
    """One gzip chunk of ``declared_mib`` MiB (its declared size) whose stream inflates
    to ``inflates_mib`` MiB, in a Keras H5 weights file or a plain data file."""
    n = declared_mib << 20
    with h5py.File(path, "w") as f:
        group = keras2_dense_group(f) if keras else f
        ds = group.create_dataset("kernel:0" if keras else "x", shape=(n,), dtype="u1", chunks=(n,), compression="gzip")
        ds.id.write_direct_chunk((0,), _zlib_zeros(inflates_mib))


@pytest.mark.parametrize("keras", [False, True], ids=["data", "keras"])
@pytest.mark.parametrize(
    ("declared", "inflates", "says"),
    [(1024, 1024, "budget"), (16, 1024, "decompression bomb")],
    ids=["1GiB-chunk", "lying-16MiB-chunk"],
)
def test_an_h5_chunk_bomb_is_refused_before_it_is_inflated(
    run: Path, keras: bool, declared: int, inflates: int, says: str
) -> None:
    """Bound: < 20 s, the dataset refused with a one-line reason, the rest analysed (a
    1 MiB file whose one gzip chunk inflates to 1 GiB took 120 s and 1.1 GB, then "did not finish")."""
    count("hostile runs")
    name = "step_30.weights.h5" if keras else "samples.h5"
    _h5_bomb(run / name, declared, inflates, keras)
    assert (run / name).stat().st_size < 2 << 20
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    seconds = time.monotonic() - t0
    src = _source(report, name)
    assert says in (src.note or ""), src
    assert seconds < 20, seconds
    assert report.verdict.cause == "learning_rate"


def test_a_csv_that_makes_the_sniffer_backtrack_is_read_in_linear_time(run: Path) -> None:
    """Bound: < 5 s (csv.Sniffer took 33-114 s on a 64 KiB head of `"a,` lines)."""
    count("hostile runs")
    (run / "sample.csv").write_text('"a,' * 21_000 + "\n", encoding="utf-8")
    (run / "sample2.csv").write_text(('"a,' * 40 + "\n") * 600, encoding="utf-8")
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 5 + 10  # 10 s: the rest of the run
    assert {"sample.csv", "sample2.csv"} <= {s.path for s in report.sources}


def test_a_log_of_padded_progress_lines_is_read_in_linear_time(run: Path) -> None:
    """Bound: < 5 s (one 1.2 KB line, ``a``, 1,200 spaces, ``it/s``, made the old log regexes run 11-31 s)."""
    count("hostile runs")
    line = "a" + " " * 1200 + "it/s"
    (run / "train.log").write_text("step 1 loss 2.5\n" + (line + "\n") * 2000 + (line + "\r") * 2000, encoding="utf-8")
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 5 + 10  # 10 s: the rest of the run
    assert _source(report, "train.log").status.value in ("ok", "partial")


def test_a_csv_dialect_is_still_found(tmp_path: Path) -> None:
    from forensics.readers.data import _sniff_dialect

    assert _sniff_dialect("a;b;c\n1;2;3\n4;5;6\n").delimiter == ";"
    assert _sniff_dialect("a\tb\n1\t2\n").delimiter == "\t"
    assert _sniff_dialect("a,b\n1,2\n").delimiter == ","
    assert _sniff_dialect('x,"y;z"\n1,2\n').delimiter == ","


def test_a_csv_without_a_newline_is_not_read_whole(run: Path) -> None:
    """Bound: < 5 s and well under 1 GiB (a 1 GiB sample.csv with no newline was read whole, 2.1 GB)."""
    count("hostile runs")
    with open(run / "sample.csv", "wb") as f:
        f.write(b"x,label\n")
        f.write(b"1" * (4 << 20))  # 4 MiB of one line, then a hole to 1 GiB
        f.truncate(1 << 30)
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 5 + 10
    src = _source(report, "sample.csv")
    assert "longer than" in (src.note or ""), src


def test_a_sparse_event_file_is_skipped_without_scanning_its_zeros(run: Path) -> None:
    """Bound: < 5 s (a 100 GiB sparse event file was resynchronised at 80 MB/s: 21 min)."""
    count("hostile runs")
    real = (run / "tensorboard" / "events.out.tfevents.1795621892.vm").read_bytes()
    path = run / "tensorboard" / "events.out.tfevents.9.sparse"
    with open(path, "wb") as f:
        f.write(real)
        f.truncate(100 << 30)  # 100 GiB: a hole after the real records
        f.seek(-len(real), os.SEEK_END)
        f.write(real)  # and the same records again at the very end
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 5 + 10
    src = _source(report, "tensorboard/events.out.tfevents.9.sparse")
    assert src.status is Status.PARTIAL, src


def test_a_trainer_state_of_empty_lists_is_refused_before_parsing(run: Path) -> None:
    """Bound: refused in < 5 s with the count (64 MiB of "[]," took 1.7 GB resident)."""
    count("hostile runs")
    body = b"[]," * (64 * 2**20 // 3)
    (run / "trainer_state.json").write_bytes(b'{"log_history": [' + body + b"[]]}")
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 5 + 10
    src = _source(report, "trainer_state.json")
    assert src.status is Status.UNREADABLE and "budget" in src.note, src


@pytest.mark.parametrize(
    ("tags", "bound"), [(12_000, 30.0), pytest.param(1_000_000, 60.0, marks=pytest.mark.slow)], ids=["12k", "1M"]
)
def test_an_event_file_with_a_million_tags_keeps_a_bounded_number(tmp_path: Path, tags: int, bound: float) -> None:
    """Bound: the first 10,000 tags kept, the file partial with the reason, in linear time
    (1,000,000 distinct tags in 47 MiB held 1.3 GB for 43 s; then 329 MiB for 57 s, every
    record through the protos; now they share one template whose tag is looked up)."""
    from tensorboardX import SummaryWriter

    count("hostile runs")
    run = tmp_path / "run"
    with SummaryWriter(str(run)) as w:
        for i in range(tags):
            w.add_scalar(f"t{i}", float(i), 1)
        for step in range(20):
            w.add_scalar("loss", 1.0 / (step + 1), step)
    t0 = time.monotonic()
    analyze(run, "hostile runs")  # through the whole analysis without a crash
    assert time.monotonic() - t0 < bound
    (ev,) = forensics.inspect(run).events
    assert len(ev.scalars) == 10_000
    assert ev.source.status is Status.PARTIAL and "distinct tags" in ev.source.note


# ---------------------------------------------------------------- one bad record costs that record


def test_a_jsonl_of_brackets_does_not_escape_discovery(run: Path) -> None:
    """100 KB of `[` in metrics.jsonl: RecursionError escaped discovery (traceback, exit 1)."""
    count("hostile runs")
    (run / "metrics.jsonl").write_text("[" * 100_000 + "\n", encoding="utf-8")
    r = run_cli("analyze", str(run))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_a_deeply_nested_index_does_not_escape_discovery(run: Path) -> None:
    count("hostile runs")
    (run / "model.safetensors.index.json").write_text('{"weight_map": ' + "[" * 100_000 + "}", encoding="utf-8")
    r = run_cli("analyze", str(run), "--format", "json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    src = next(s for s in json.loads(r.stdout)["sources"] if s["path"] == "model.safetensors.index.json")
    assert src["status"] == "unreadable" and "internal error" not in src["note"]


@pytest.mark.parametrize(
    "bad_line",
    [
        "[" * 100_000,
        '{"step": 1e300, "loss": 1.0}',
        '{"step": ' + "9" * 400 + ', "loss": 1.0}',
        '{"step": 9223372036854775808, "loss": 1.0}',
        '{"step": 3, "loss": ' + "9" * 400 + "}",
        '{"step": 3, "loss": [' + "[]," * 20_000 + "[]]}",
    ],
    ids=["deep", "step-1e300", "step-400-digits", "step-past-int64", "value-400-digits", "many-lists"],
)
def test_one_bad_jsonl_line_costs_that_line(run: Path, bad_line: str) -> None:
    """Bound: every other line read, the file partial with "1 malformed line(s) skipped"."""
    count("hostile runs")
    lines = [json.dumps({"step": s, "loss": 1.0 / (s + 1)}) for s in range(10)]
    lines.insert(5, bad_line)
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = analyze(run, "hostile runs")
    src = _source(report, "metrics.jsonl")
    assert src.status is Status.PARTIAL and src.note.startswith("1 malformed line(s) skipped"), src
    log = next(x for x in forensics.inspect(run).logs if x.source.path == "metrics.jsonl")
    assert log.scalars["loss"].steps.tolist() == list(range(10))


# ---------------------------------------------------------------- archives


def test_a_truncated_keras_archive_says_it_was_cut_and_what_is_whole(run: Path) -> None:
    count("hostile runs")
    data = (SAMPLES / "keras_nan_in_inputs" / "ckpt" / "model_epoch01.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) * 2 // 3])
    report = analyze(run, "hostile runs")
    note = _source(report, "model.keras").note
    assert "truncated .keras archive" in note and "central directory is missing" in note, note
    assert "config.json" in note or "metadata.json" in note, note


def test_a_zip_member_lying_about_its_size_costs_its_declared_size(tmp_path: Path) -> None:
    """Bound: peak < 32 MiB of Python memory for a member declaring 1,000 bytes and
    inflating to 512 MiB (it peaked at the 512 MiB inflate cap, about 1 GiB)."""
    import tracemalloc
    import zipfile

    from robust_util import raw_zip, zeros_deflated

    from forensics.errors import UnreadableSource
    from forensics.readers.keras import MAX_INFLATED_WEIGHTS_BYTES, _read_member

    count("hostile runs")
    bomb, crc = zeros_deflated(512)
    path = tmp_path / "lying.zip"
    path.write_bytes(raw_zip([("model.weights.h5", 8, bomb, crc, 1000, 0)]))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.weights.h5")
        tracemalloc.start()
        try:
            with pytest.raises(UnreadableSource):
                _read_member(zf, info, MAX_INFLATED_WEIGHTS_BYTES)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 32 << 20, peak


@pytest.mark.parametrize(
    ("n", "bound"), [(10_000, 8.0), pytest.param(100_000, 30.0, marks=pytest.mark.slow)], ids=["10k", "100k"]
)
def test_a_safetensors_header_of_many_entries_is_analysed_in_bounded_time(tmp_path: Path, n: int, bound: float) -> None:
    """Bound: linear, under 0.3 ms per entry on a busy machine (100,000 entries took 18 s idle and
    51 s at a load of 16, ~15 numpy calls per tiny tensor; small tensors are now folded together:
    4 s CPU, 7 s wall at a load of 9; the slow suite runs that size)."""
    count("hostile runs")
    header = {
        f"model.layers.{i // 10}.w{i % 10}": {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]}
        for i in range(n)
    }
    blob = json.dumps(header).encode()
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.safetensors").write_bytes(struct.pack("<Q", len(blob)) + blob + bytes(8 * n))
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    seconds = time.monotonic() - t0
    assert report.sources[0].status is Status.OK
    assert seconds < bound, seconds


def test_the_safe_open_refuses_a_device_without_blocking() -> None:
    """The safe open refuses what is not a regular file by fstat on the descriptor."""
    from forensics.readers.safe_open import open_fd

    with pytest.raises(OSError, match="not a regular file"):
        open_fd("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# ---------------------------------------------------------------- no orphans, bounded wall time


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _slow_h5_run(tmp_path: Path) -> Path:
    """A run whose H5 weights take many seconds to read in the isolated child: 16 GiB of a
    sparse contiguous dataset (every element is read; the file's holes take no disk). Since the
    reader maps such a dataset and folds it in one pass, 4 GiB took about 2.4 s in all, too close
    to the 2 s the test waits before it signals; 16 GiB take about 7 s on a quiet machine."""
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    n = 16 << 30 >> 2
    with h5py.File(run / "step_100.weights.h5", "w") as f:
        ds = keras2_dense_group(f).create_dataset("kernel:0", shape=(n // 1024, 1024), dtype="f4")
        ds[-1, -1] = np.nan
    return run


def _as_from_a_terminal() -> None:
    """In the CLI child before it runs: SIGINT at its default, as a terminal's foreground job has it. A
    suite started in the background by a shell without job control (``pytest ... &`` in a script, under
    nohup) inherits SIGINT ignored, as POSIX has such a shell do for its background commands; the CLI
    would inherit that too, and Python, which installs its KeyboardInterrupt handler only when SIGINT is
    not ignored at start, leaves it ignored: the interrupt this test sends did nothing and the CLI ran
    on to exit 0. Respecting an inherited SIG_IGN is right for the CLI (Ctrl-C in the terminal is not
    meant for a background job); the test is about what the CLI does when an interrupt reaches it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_wait_for_the_reader(run: Path, out: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "forensics", "analyze", str(run), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    # the reader child: one alive for 2 s (discovery's H5 look lives milliseconds); the
    # parent then waits on it, as it does for any long read
    deadline = time.monotonic() + 180
    born: dict[int, float] = {}
    while time.monotonic() < deadline:
        now = time.monotonic()
        for kid in _children(proc.pid):
            if alive(kid):
                born.setdefault(kid, now)
                if now - born[kid] > 2:
                    return proc, kid
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no reader child appeared: {proc.communicate()}")


@pytest.mark.parametrize(("sig", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_ends_the_whole_tree_within_a_second(tmp_path: Path, sig: str, code: int) -> None:
    """Bound: the CLI exits with 130/143 within a second (3 s allowed: on a 2-core machine
    under a load of 7 the exit has taken 1.5 s; the defect was a child running on for
    minutes), its reader child is gone, no -o file or temporary is left."""
    import signal

    count("hostile runs")
    run = _slow_h5_run(tmp_path)
    out = tmp_path / "report.md"
    proc, child = _start_and_wait_for_the_reader(run, out)
    t0 = time.monotonic()
    proc.send_signal(getattr(signal, sig))
    try:
        proc.wait(timeout=10)
    finally:
        proc.kill()
    seconds = time.monotonic() - t0
    _, err = proc.communicate()
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert seconds < 3.0, seconds
    assert not alive(child)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_reader_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """Bound: the child gone within a second of SIGKILL to the parent (it ran on at 100 %
    CPU and about 1 GiB for minutes, its deadline gone with the parent)."""
    import signal

    count("hostile runs")
    run = _slow_h5_run(tmp_path)
    proc, child = _start_and_wait_for_the_reader(run, tmp_path / "report.md")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.communicate()
    deadline = time.monotonic() + 1.5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child)


def test_a_reader_past_its_wall_time_costs_that_source_only(run: Path, monkeypatch) -> None:
    """Every reader runs under a wall-clock budget; here one that never returns (a reader
    stuck in a loop) is stopped at a 1 s budget and the rest of the run is analysed."""
    import forensics.load
    import forensics.readers.config

    count("hostile runs")

    def stuck(path, source):
        while True:
            pass

    monkeypatch.setattr(forensics.load, "READER_BASE_SECONDS", 1.0)
    monkeypatch.setattr(forensics.readers.config, "read_config", stuck)
    t0 = time.monotonic()
    report = analyze(run, "hostile runs")
    assert time.monotonic() - t0 < 30
    src = _source(report, "hparams.json")
    assert src.status is Status.UNREADABLE and "did not finish in 1 s" in src.note, src
    assert report.verdict.cause == "learning_rate"
