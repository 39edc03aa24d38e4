"""The run's worker child: every reader runs in it, the parent enforces each one's wall time.

Checked with real sample runs (what comes back equals what the readers return in this
process) and with readers made to hang, crash and report progress (monkeypatched before
the worker forks, so the child runs the patched code).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from forensics.load import load_run
from forensics.readers import isolation, worker
from forensics.records import Kind, Status
from tests.robustness.robust_util import alive

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
pytestmark = pytest.mark.skipif(not isolation.ISOLATE, reason="the worker is a forked child (Linux)")


def _flat(obj: object) -> tuple[str, list[np.ndarray]]:
    arrays: list[np.ndarray] = []
    return json.dumps(worker._encode(obj, arrays)), arrays


def _same(a: object, b: object) -> None:
    tree_a, arrays_a = _flat(a)
    tree_b, arrays_b = _flat(b)
    assert tree_a == tree_b
    assert len(arrays_a) == len(arrays_b)
    for x, y in zip(arrays_a, arrays_b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")


@pytest.mark.parametrize("name", ["tbx_lr_too_high", "tf2_exploding_gradients", "hf_trainer_lr_too_high"])
def test_records_read_in_the_worker_equal_those_read_in_this_process(name: str) -> None:
    here = load_run(SAMPLES / name, debug=True)  # debug: every reader in this process
    there = load_run(SAMPLES / name)
    try:
        assert there.worker is not None and here.worker is None
        for field in ("sources", "events", "checkpoints", "logs", "trainer_states", "configs", "data_samples"):
            _same(getattr(here, field), getattr(there, field))
        a, b = here.checkpoints[0], here.checkpoints[-1]
        assert there.measure_update is not None and here.measure_update is not None
        assert there.measure_update(a, b) == here.measure_update(a, b)
    finally:
        there.close()


def test_frames_round_trip_every_kind_of_value_and_refuse_lies() -> None:
    value = {
        "tuple": (1, 2.5, None, True),
        3: "int key",
        "set": {1, 2},
        "path": Path("/x/y"),
        "nan": float("nan"),
        "surrogate": "a\udc80b",
        "arrays": [np.arange(5, dtype=np.int64), np.array([1.5, np.nan]), np.zeros((2, 3), np.float32)],
        "status": Status.PARTIAL,
    }
    r, w = os.pipe()
    worker._write_all(w, worker._frame("ok", value))
    kind, got = worker._read_frame(r, time.monotonic() + 5)
    assert kind == "ok"
    _same(got, value)
    assert isinstance(got["status"], Status) and got["arrays"][2].shape == (2, 3)
    # an object held twice comes back as one object (a store's series is also in its run)
    from forensics.records import Source

    shared = Source("a.log", Kind.JOB_LOG)
    worker._write_all(w, worker._frame("ok", {"x": [shared, shared], "a": [value["arrays"][0]] * 2}))
    _, got = worker._read_frame(r, time.monotonic() + 5)
    assert got["x"][0] is got["x"][1] and got["x"][0] == shared
    assert got["a"][0] is got["a"][1]
    # a header longer than the budget is refused before it is read
    os.write(w, worker._LEN.pack(worker.MAX_HEADER_BYTES + 1))
    with pytest.raises(ValueError, match="frame header"):
        worker._read_frame(r, time.monotonic() + 5)
    # an array whose bytes do not match its shape
    header = json.dumps({"k": "ok", "v": {"__a": 0}, "a": [{"dt": "<f8", "sh": [4], "at": 0, "n": 8}], "blob": 8})
    os.write(w, worker._LEN.pack(len(header)) + header.encode() + bytes(8))
    with pytest.raises(ValueError, match="do not match"):
        worker._read_frame(r, time.monotonic() + 5)
    # only this package's dataclasses and enums are built
    for name in ("os:system", "forensics.readers.worker:Worker.call", "forensics.readers.worker:json"):
        with pytest.raises(ValueError, match="not a record type"):
            worker._decode({"__d": name, "f": []}, [])
    os.close(r)
    os.close(w)


def test_a_call_past_its_budget_kills_the_worker_and_the_next_call_gets_a_fresh_one(monkeypatch) -> None:
    def stuck() -> list[str]:
        while True:
            pass

    w = worker.Worker()
    monkeypatch.setattr(worker, "loaded_modules", stuck)  # before the fork: the child runs it
    t0 = time.monotonic()
    answer = w.call("forensics.readers.worker:loaded_modules", timeout=1.0)
    assert answer.timed_out and answer.failure == "reading it did not finish in 1 s: stopped"
    assert time.monotonic() - t0 < 3
    monkeypatch.undo()
    first = w._pid
    assert first is None  # killed and reaped
    answer = w.call("forensics.readers.worker:loaded_modules", timeout=30)
    assert answer.failure is None and "forensics.readers.worker" in answer.value
    w.close()


def test_a_crash_in_the_worker_costs_one_call_named_by_its_signal(monkeypatch) -> None:
    def crash() -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(worker, "loaded_modules", crash)
    with worker.Worker() as w:
        answer = w.call("forensics.readers.worker:loaded_modules", timeout=30, crashes="the HDF5 library")
        assert answer.failure == "reading it crashed the HDF5 library (SIGSEGV): the file is damaged"
        monkeypatch.undo()
        assert w.call("forensics.readers.worker:loaded_modules", timeout=30).failure is None


def test_the_worker_runs_outside_the_run_with_a_minimal_environment_and_dies_with_its_parent(monkeypatch) -> None:
    def where() -> dict[str, object]:
        return {
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "pid": os.getpid(),
            "sigint": signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
        }

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not for readers")
    monkeypatch.setenv("PATH", ".:" + os.environ.get("PATH", ""))
    monkeypatch.setattr(worker, "loaded_modules", where)
    with worker.Worker() as w:
        got = w.call("forensics.readers.worker:loaded_modules", timeout=30).value
    assert got["cwd"] == "/"
    assert "AWS_SECRET_ACCESS_KEY" not in got["env"] and "." not in got["env"]["PATH"].split(":")
    assert got["sigint"] is True
    deadline = time.monotonic() + 2
    while alive(got["pid"]) and time.monotonic() < deadline:  # killed with the block
        time.sleep(0.01)
    assert not alive(got["pid"])


def test_progress_inside_a_file_reaches_the_parent(monkeypatch) -> None:
    from forensics import progress

    def slow_reader() -> int:
        for _ in range(4):
            progress.advance(1000)
            time.sleep(worker.PROGRESS_EVERY * 1.5)
        return 4000

    seen: list[int] = []
    monkeypatch.setattr(worker, "loaded_modules", slow_reader)
    with worker.Worker() as w:
        answer = w.call("forensics.readers.worker:loaded_modules", timeout=30, progress=seen.append)
    assert answer.value == 4000
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] <= 4000


def test_a_run_with_h5_checkpoints_forks_one_worker_and_no_child_per_file(monkeypatch) -> None:
    """Discovery's look, the statistics and the update ratio of each H5 file all happen in
    the one worker (each forked a child of its own before)."""
    import forensics

    starts: list[int] = []
    isolated: list[int] = []
    real_start = worker.Worker._start
    real_isolated = isolation.run_isolated

    def counted_start(self: worker.Worker) -> None:
        starts.append(1)
        real_start(self)

    def counted_isolated(*a, **k):  # in this process only: the worker runs the work itself
        isolated.append(1)
        return real_isolated(*a, **k)

    monkeypatch.setattr(worker.Worker, "_start", counted_start)
    monkeypatch.setattr(isolation, "run_isolated", counted_isolated)
    report = forensics.analyze(SAMPLES / "tf2_exploding_gradients")
    assert report.verdict.cause == "exploding_weights"
    assert len(starts) == 1 and not isolated


def test_a_worker_started_before_discovery_still_refuses_a_file_replaced_after_it(tmp_path: Path) -> None:
    """The device and inode discovery saw reach the worker (and any child started after a
    kill): a file replaced by another regular file after discovery is not read."""
    import shutil

    from forensics.discover import discover
    from forensics.load import load_inventory

    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    w = worker.Worker()
    assert w.call("forensics.readers.worker:loaded_modules", timeout=30).failure is None  # the child is up
    inv = discover(run)
    (log,) = [f for f in inv.files if f.rel.endswith(".out") or f.rel.endswith(".log")]
    twin = log.path.with_name("twin")
    twin.write_bytes(log.path.read_bytes())
    os.replace(twin, log.path)  # the same bytes, another inode (the old one lives until then)
    try:
        data = load_inventory(inv, str(run), work=w)
        src = next(s for s in data.sources if s.path == log.rel)
        assert src.status is Status.UNREADABLE and "replaced by another file" in src.note, src
        assert any(s.status is Status.OK for s in data.sources)
    finally:
        w.close()


@pytest.mark.parametrize("name", ["tf2_exploding_gradients", "keras_lr_too_high", "hf_trainer_lr_too_high"])
def test_two_workers_read_a_run_into_the_same_records_and_the_same_report(name: str) -> None:
    """Shared between two worker children (as the command does on two cores), a run reads into
    the same records, in the same order, with the same updates measured, and the same report."""
    import forensics
    from forensics.report.json_report import to_json

    one = load_run(SAMPLES / name)
    two = load_run(SAMPLES / name, workers=2)
    try:
        assert len(two.workers) == 2 and len(one.workers) == 1
        assert two.workers[0]._pid != two.workers[1]._pid  # both read some of the files
        for field in ("sources", "events", "checkpoints", "logs", "trainer_states", "configs", "data_samples"):
            _same(getattr(one, field), getattr(two, field))
        assert one.measure_update is not None and two.measure_update is not None
        for a, b in zip(one.checkpoints, one.checkpoints[1:], strict=False):
            try:
                expected = one.measure_update(a, b)
            except Exception as e:  # a NaN checkpoint: both say so
                with pytest.raises(type(e)):
                    two.measure_update(a, b)
                continue
            assert two.measure_update(a, b) == expected
    finally:
        one.close()
        two.close()
    a = json.loads(to_json(forensics.analyze(SAMPLES / name)))
    b = json.loads(to_json(forensics.analyze(SAMPLES / name, workers=2)))
    assert a == b


def test_a_second_worker_crash_costs_its_file_only(monkeypatch, tmp_path: Path) -> None:
    """A reader that crashes its worker costs that file only, whichever of the two workers read it."""
    import shutil

    from forensics.readers import keras

    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tf2_exploding_gradients", run)

    def crash(*a: object, **k: object) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(keras, "read_keras_h5", crash)  # before the forks: the children run it
    data = load_run(run, workers=2)
    try:
        assert len(data.workers) == 2
        by_path = {s.path: s for s in data.sources}
        h5 = [s for p, s in by_path.items() if p.endswith(".h5")]
        assert h5 and all(s.status is Status.UNREADABLE and "crashed the HDF5 library" in s.note for s in h5)
        assert all(s.status is Status.OK for p, s in by_path.items() if not p.endswith(".h5"))
    finally:
        data.close()


def _found(rel: str, kind: Kind, size: int = 1000) -> object:
    from forensics.discover import Found

    return Found(path=Path("/r") / rel, rel=rel, kind=kind, size=size)


def test_files_are_shared_by_reader_and_split_only_where_that_reads_sooner() -> None:
    from forensics.load import share_files

    log, events = _found("job.log", Kind.JOB_LOG), _found("ev/events.out.tfevents.1", Kind.EVENTS)
    h5 = [_found(f"ckpt/w{i}.h5", Kind.KERAS_H5) for i in range(6)]
    assert share_files([log, events, *h5[:2]], 1) == [0, 0, 0, 0]
    assert share_files([log], 2) == [0]
    # two kinds: each child imports one reader
    lanes = share_files([log, events, *h5[:2]], 2)
    assert lanes[0] == lanes[1] != lanes[2] == lanes[3]
    # many H5 files outweigh the rest: some go to the other child, which then imports h5py too
    lanes = share_files([log, *h5], 2)
    assert set(lanes[1:]) == {0, 1}
    # one kind only, a few cheap files: not worth a second child
    assert share_files([_found(f"c{i}.json", Kind.CONFIG) for i in range(3)], 2) == [0, 0, 0]
    # thousands of files: each move is judged in constant time, the split stays even
    many = [_found(f"ckpt/w{i}.h5", Kind.KERAS_H5) for i in range(4000)]
    t0 = time.process_time()
    lanes = share_files(many, 2)
    assert time.process_time() - t0 < 5
    assert abs(lanes.count(0) - lanes.count(1)) <= 2


def test_an_interrupt_while_two_workers_read_stops_both_and_the_next_run_is_clean(monkeypatch) -> None:
    """A caller that stops taking answers (an interrupt) leaves no child reading for nobody:
    both workers are stopped, and the next run reads with fresh ones, its answers its own."""
    from forensics import load

    real = load._record_of
    seen: list[object] = []

    def interrupted(found, answer):
        seen.append(found)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(found, answer)

    monkeypatch.setattr(load, "_record_of", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_run(SAMPLES / "tf2_exploding_gradients", workers=2)
    monkeypatch.undo()
    assert all(w._pid is None for w in (worker.shared(0), worker.shared(1)))
    again = load_run(SAMPLES / "tf2_exploding_gradients", workers=2)
    fresh = load_run(SAMPLES / "tf2_exploding_gradients", debug=True)
    try:
        for field in ("sources", "events", "checkpoints", "logs"):
            _same(getattr(again, field), getattr(fresh, field))
    finally:
        again.close()


def test_equal_sets_built_in_different_orders_encode_to_the_same_frame() -> None:
    # The parent rebuilds a record's tag set from a list, so its iteration order can differ
    # from the child's; CI once compared the two frames and failed on the order alone.
    import random

    names = [f"tag{i}" for i in range(40)]
    built = []
    for seed in range(20):
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        built.append(frozenset(shuffled))
    assert len({tuple(s) for s in built}) > 1  # the premise: iteration order does differ
    frames = {_flat(s)[0] for s in built}
    assert len(frames) == 1
    assert worker._decode(json.loads(frames.pop()), [], {}) == frozenset(names)
