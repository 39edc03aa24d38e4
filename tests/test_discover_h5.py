"""Discovery's look inside .h5 files (Keras weights or a data sample?) runs isolated from libhdf5 crashes."""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from forensics import discover as discover_module
from forensics import load as load_module
from forensics.discover import discover, h5_holds_weights, h5_look_by_bytes
from forensics.load import load_run
from forensics.readers import isolation, worker
from forensics.records import Kind, Status

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"


def _data_h5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros((4, 3), np.float32)
        f["y"] = np.arange(4)
    return path


def _kinds(root: Path) -> dict[str, Kind]:
    return {f.rel: f.kind for f in discover(root).files}


@pytest.fixture
def count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many isolated children the parent forks (counted in the parent only)."""
    forks: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(isolation.os, "fork", fork)
    return forks


def test_a_run_holding_an_h5_that_crashes_hdf5_is_discovered_and_read_around_it(tmp_path: Path) -> None:
    # crashes_hdf5.h5: keras2_full.h5 with one byte changed; libhdf5 1.14.6 segfaults reading it
    shutil.copy(FIXTURES / "crashes_hdf5.h5", tmp_path / "a_damaged.h5")
    shutil.copy(FIXTURES / "keras2_full.h5", tmp_path / "b_model.h5")
    _data_h5(tmp_path / "c_sample.h5")
    assert _kinds(tmp_path) == {
        "a_damaged.h5": Kind.KERAS_H5,
        "b_model.h5": Kind.KERAS_H5,
        "c_sample.h5": Kind.DATA_SAMPLE,
    }
    run = load_run(tmp_path)
    status = {s.path: s for s in run.sources}
    assert (
        status["a_damaged.h5"].status is Status.UNREADABLE and "crashed the HDF5 library" in status["a_damaged.h5"].note
    )
    assert status["b_model.h5"].status is Status.OK and status["c_sample.h5"].status is Status.OK


def test_a_crash_while_looking_at_one_h5_judges_it_by_its_first_bytes_and_the_rest_is_classified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_forks: list[int]
) -> None:
    shutil.copy(FIXTURES / "keras2_weights.h5", tmp_path / "a.h5")
    _data_h5(tmp_path / "b.h5")
    _data_h5(tmp_path / "c.h5")
    shutil.copy(FIXTURES / "keras3_nested.weights.h5", tmp_path / "d.weights.h5")
    peek = discover_module._peek_h5

    def crash_on_b(path: Path) -> bool | None:
        if path.name == "b.h5":
            os.kill(os.getpid(), signal.SIGSEGV)  # in the child: as libhdf5 would
        return peek(path)

    monkeypatch.setattr(discover_module, "_peek_h5", crash_on_b)
    kinds = _kinds(tmp_path)
    assert kinds == {
        "a.h5": Kind.KERAS_H5,
        "b.h5": Kind.DATA_SAMPLE,  # judged from its first bytes once the look crashed on it
        "c.h5": Kind.DATA_SAMPLE,
        "d.weights.h5": Kind.KERAS_H5,
    }
    assert len(count_forks) == 2  # one child up to the crash, one for the files after it


def test_an_h5_that_hangs_the_look_is_given_up_on_after_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _data_h5(tmp_path / "a.h5")
    _data_h5(tmp_path / "b.h5")
    peek = discover_module._peek_h5

    def hang_on_a(path: Path) -> bool | None:
        if path.name == "a.h5":
            time.sleep(60)
        return peek(path)

    monkeypatch.setattr(discover_module, "_peek_h5", hang_on_a)
    monkeypatch.setattr(discover_module, "H5_PEEK_SECONDS", 0.5)
    started = time.monotonic()
    # a.h5 is judged from its first bytes once the look is given up on
    assert _kinds(tmp_path) == {"a.h5": Kind.DATA_SAMPLE, "b.h5": Kind.DATA_SAMPLE}
    assert time.monotonic() - started < 10


def test_the_h5_files_of_a_directory_are_looked_at_in_one_child_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_forks: list[int]
) -> None:
    for i in range(10):
        if i % 2:
            shutil.copy(FIXTURES / "keras2_weights.h5", tmp_path / f"w{i:02d}.h5")
        else:
            _data_h5(tmp_path / f"w{i:02d}.h5")
    (tmp_path / "sub").mkdir()
    _data_h5(tmp_path / "sub" / "x.h5")
    kinds = _kinds(tmp_path)
    assert [kinds[f"w{i:02d}.h5"] for i in range(10)] == [Kind.DATA_SAMPLE, Kind.KERAS_H5] * 5
    assert kinds["sub/x.h5"] is Kind.DATA_SAMPLE
    assert len(count_forks) == 2  # one per directory
    count_forks.clear()
    monkeypatch.setattr(discover_module, "H5_BATCH", 4)
    assert _kinds(tmp_path) == kinds
    assert len(count_forks) == math.ceil(10 / 4) + 1


def test_an_h5_rewritten_after_the_batch_look_is_looked_at_again(tmp_path: Path) -> None:
    _data_h5(tmp_path / "a.h5")
    _data_h5(tmp_path / "b.h5")
    assert h5_holds_weights(tmp_path / "a.h5") is False  # b.h5 was looked at in the same child
    (tmp_path / "b.h5").unlink()
    shutil.copy(FIXTURES / "keras2_weights.h5", tmp_path / "b.h5")
    assert h5_holds_weights(tmp_path / "b.h5") is True


def test_a_fifo_named_like_an_h5_is_never_opened(tmp_path: Path) -> None:
    _data_h5(tmp_path / "a.h5")
    os.mkfifo(tmp_path / "b.h5")  # opening it for reading would block until a writer came
    started = time.monotonic()
    assert _kinds(tmp_path) == {"a.h5": Kind.DATA_SAMPLE}
    assert time.monotonic() - started < discover_module.H5_PEEK_SECONDS


def test_an_unreadable_or_non_hdf5_file_is_left_to_the_reader(tmp_path: Path) -> None:
    (tmp_path / "a.h5").write_bytes(b"not hdf5 at all")
    assert h5_holds_weights(tmp_path / "a.h5") is None
    assert _kinds(tmp_path) == {"a.h5": Kind.KERAS_H5}


def test_under_load_run_the_worker_judges_each_h5_as_it_reads_it_and_discovery_waits_for_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # discovery used to ask the worker about each .h5 and wait, h5py's import in the worker
    # included; now the look is the first thing the worker's read of the file does
    shutil.copy(FIXTURES / "keras2_weights.h5", tmp_path / "a.h5")
    _data_h5(tmp_path / "b.h5")
    calls: list[str] = []
    real_call = worker.Worker.call

    def call(self: worker.Worker, function: str, *args: object, **kwargs: object) -> worker.Answer:
        calls.append(function)
        return real_call(self, function, *args, **kwargs)

    seen: dict[str, object] = {}
    real_discover = load_module.discover

    def spy(*args: object, **kwargs: object) -> discover_module.Inventory:
        inv = real_discover(*args, **kwargs)  # type: ignore[arg-type]
        seen.update(inv=inv, calls=list(calls))
        return inv

    monkeypatch.setattr(worker.Worker, "call", call)
    monkeypatch.setattr(load_module, "discover", spy)
    run = load_run(tmp_path)
    try:
        assert seen["calls"] == []
        inv = seen["inv"]
        assert isinstance(inv, discover_module.Inventory)
        assert {f.rel: (f.kind, f.judged) for f in inv.files} == {
            "a.h5": (Kind.KERAS_H5, False),
            "b.h5": (Kind.KERAS_H5, False),
        }
        assert {s.path: (s.kind, s.status) for s in run.sources} == {
            "a.h5": (Kind.KERAS_H5, Status.OK),
            "b.h5": (Kind.DATA_SAMPLE, Status.OK),
        }
        assert [c.source.path for c in run.checkpoints] == ["a.h5"]
        assert [d.source.path for d in run.data_samples] == ["b.h5"]
    finally:
        run.close()


def _cut(src: Path, dest: Path, keep: int) -> Path:
    """A real file cut after ``keep`` bytes, as an interrupted copy or save leaves it."""
    dest.write_bytes(src.read_bytes()[:keep])
    return dest


def test_a_truncated_data_h5_is_listed_as_a_data_sample_and_a_truncated_keras_file_as_a_checkpoint(
    tmp_path: Path,
) -> None:
    # libhdf5 refuses both: each is judged from its first bytes (Keras writes its markers first)
    whole = _data_h5(tmp_path / "whole.h5")
    run = tmp_path / "run"
    run.mkdir()
    _cut(whole, run / "batch_1.h5", whole.stat().st_size // 2)
    _cut(FIXTURES / "keras2_full.h5", run / "a.h5", 3000)
    _cut(FIXTURES / "keras3_nested.weights.h5", run / "b.h5", 3000)
    assert _kinds(run) == {"a.h5": Kind.KERAS_H5, "b.h5": Kind.KERAS_H5, "batch_1.h5": Kind.DATA_SAMPLE}
    loaded = load_run(run)  # the worker's own look (discovery leaves it the files) judges them alike
    try:
        got = {s.path: (s.kind, s.status) for s in loaded.sources}
        note = next(s.note for s in loaded.sources if s.path == "batch_1.h5")
    finally:
        loaded.close()
    assert got == {
        "a.h5": (Kind.KERAS_H5, Status.UNREADABLE),
        "b.h5": (Kind.KERAS_H5, Status.UNREADABLE),
        "batch_1.h5": (Kind.DATA_SAMPLE, Status.UNREADABLE),
    }
    assert "truncated" in note


@pytest.mark.parametrize(
    "name",
    ["keras2_full.h5", "keras2_weights.h5", "keras3_nested.weights.h5", "crashes_hdf5.h5"],
)
def test_every_keras_fixture_is_told_from_data_by_its_first_bytes_whatever_its_name(tmp_path: Path, name: str) -> None:
    renamed = tmp_path / "x.h5"
    shutil.copy(FIXTURES / name, renamed)
    assert h5_look_by_bytes(renamed) is True
    assert h5_look_by_bytes(_data_h5(tmp_path / "y.h5")) is False
    assert h5_look_by_bytes(_cut(FIXTURES / name, tmp_path / "model_3.h5", 200)) is None  # cut too short to tell


def _fail_in_data_reader(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    from forensics.readers import data

    real = data.read_data_sample

    def read(path: Path, source: object) -> object:
        if how == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)  # in the worker: as libhdf5 would
        time.sleep(60)
        return real(path, source)  # type: ignore[arg-type]

    monkeypatch.setattr(data, "read_data_sample", read)
    monkeypatch.setattr(load_module, "READER_BASE_SECONDS", 1.0)


@pytest.mark.parametrize("how", ["crash", "hang"])
def test_a_data_h5_whose_read_crashes_or_hangs_is_listed_as_a_data_sample_not_a_broken_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    shutil.copy(FIXTURES / "keras2_weights.h5", tmp_path / "a.h5")
    _data_h5(tmp_path / "b.h5")
    _fail_in_data_reader(monkeypatch, how)
    run = load_run(tmp_path)
    try:
        got = {s.path: (s.kind, s.status) for s in run.sources}
    finally:
        run.close()
    assert got == {"a.h5": (Kind.KERAS_H5, Status.OK), "b.h5": (Kind.DATA_SAMPLE, Status.UNREADABLE)}
    assert not run.data_samples and [c.source.path for c in run.checkpoints] == ["a.h5"]
