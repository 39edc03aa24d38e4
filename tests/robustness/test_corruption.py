"""Damaged artifacts: bit flips, zeroed blocks, hostile headers, links out of the run,
zip bombs. Each must be read as far as it can be, reported with its reason, and cost
only itself: the rest of the run is still analysed.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import shutil
import struct
import time
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from robust_util import (
    FIXTURES,
    SAMPLES,
    NotAnArtifact,
    analyze,
    assert_explained,
    count,
    event_data,
    frames,
    only_source,
    raw_zip,
    reported_points,
    safetensors_bytes,
    same_points,
    scalar_points,
    stored,
    zeros_deflated,
)

from forensics.discover import classify
from forensics.records import Status

TBX = SAMPLES / "tbx_lr_too_high" / "tensorboard" / "events.out.tfevents.1795621892.vm"
TORCH_VAL = SAMPLES / "torch_healthy" / "logs" / "val" / "events.out.tfevents.1795621896.vm.3028.1"
HEALTHY_ST = SAMPLES / "tbx_healthy_noisy" / "ckpt" / "epoch1.safetensors"  # finite weights
KERAS_ARCHIVE = SAMPLES / "keras_nan_in_inputs" / "ckpt" / "model_epoch01.keras"
# Everything here must be refused or capped in well under this (no inflating of bombs).
QUICK_S = 10.0


def _copy_run(tmp_path: Path, name: str = "tbx_lr_too_high") -> Path:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / name, run)
    return run


def _rest_is_analysed(report, broken: str) -> None:
    """The sources other than the broken one read as before, and the diagnosis still stands."""
    others = [s for s in report.sources if s.path != broken]
    assert others and all(s.status is Status.OK for s in others), others
    assert report.verdict.cause == "learning_rate", report.verdict


def _source(report, path: str):
    (src,) = [s for s in report.sources if s.path == path]
    assert_explained(src)
    return src


# ---------------------------------------------------------------- event files


def _records(data: bytes) -> list[tuple[int, int, bytes]]:
    recs = list(frames(data))
    assert recs[-1][1] == len(data)
    return recs


def test_crc_mismatch_in_the_middle_loses_that_record_only_and_says_how_many(tmp_path: Path) -> None:
    data = TBX.read_bytes()
    recs = _records(data)
    hit = len(recs) // 2
    start, end, _ = recs[hit]
    broken = bytearray(data)
    broken[(start + 12 + end - 4) // 2] ^= 0x40  # a payload byte: the payload CRC no longer matches
    path = tmp_path / TBX.name
    path.write_bytes(bytes(broken))
    report = analyze(path, "tfevents")
    src = only_source(report)
    assert src.status is Status.PARTIAL
    assert "skipped 1 record(s)" in src.note, src.note
    assert f"first at byte {start}" in src.note, src.note
    (ev,) = event_data(report)
    assert ev.skipped_records == 1 and ev.records == len(recs) - 1
    assert same_points(reported_points(report), scalar_points([p for i, (_, _, p) in enumerate(recs) if i != hit]))


def test_a_bit_flip_at_any_byte_of_a_real_event_file_loses_only_the_record_it_hits(tmp_path: Path) -> None:
    data = TORCH_VAL.read_bytes()
    recs = _records(data)
    path = tmp_path / TORCH_VAL.name
    for at in range(len(data)):
        broken = bytearray(data)
        broken[at] ^= 1 << (at % 8)
        path.write_bytes(bytes(broken))
        report = analyze(path, "tfevents")
        src = only_source(report)
        hit = next(i for i, (s, e, _) in enumerate(recs) if s <= at < e)
        kept = [p for i, (_, _, p) in enumerate(recs) if i != hit]
        assert src.status is (Status.PARTIAL if kept else Status.UNREADABLE), (at, src)
        if kept:
            assert same_points(reported_points(report), scalar_points(kept)), at
            assert event_data(report)[0].skipped_records >= 1, at


def test_a_zeroed_disk_block_in_the_middle_is_skipped_and_the_records_after_it_are_read(tmp_path: Path) -> None:
    data = TBX.read_bytes()
    recs = _records(data)
    a, b = len(data) // 3, len(data) // 3 + 512
    broken = data[:a] + bytes(b - a) + data[b:]
    path = tmp_path / TBX.name
    path.write_bytes(broken)
    report = analyze(path, "tfevents")
    src = only_source(report)
    lost = [i for i, (s, e, _) in enumerate(recs) if s < b and e > a]
    kept = [p for i, (_, _, p) in enumerate(recs) if i not in lost]
    assert same_points(reported_points(report), scalar_points(kept))
    (ev,) = event_data(report)
    assert 1 <= ev.skipped_records <= len(lost)
    assert src.status is Status.PARTIAL and f"skipped {ev.skipped_records} record(s)" in src.note


def test_garbage_spliced_between_records_is_skipped_and_counted_in_bytes(tmp_path: Path) -> None:
    data = TBX.read_bytes()
    recs = _records(data)
    cut = recs[10][1]
    junk = random.Random(7).randbytes(300)
    path = tmp_path / TBX.name
    path.write_bytes(data[:cut] + junk + data[cut:])
    report = analyze(path, "tfevents")
    assert same_points(reported_points(report), scalar_points([p for _, _, p in recs]))
    (ev,) = event_data(report)
    assert ev.skipped_bytes == len(junk)
    assert only_source(report).status is Status.PARTIAL


# ---------------------------------------------------------------- safetensors headers

OK_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
SAFETENSORS_CASES = {
    "length_2^64-1": (safetensors_bytes(b"{}", length=2**64 - 1), Status.UNREADABLE, "exceeds the format"),
    "length_2^63": (safetensors_bytes(b"{}", length=2**63), Status.UNREADABLE, "exceeds the format"),
    "length_past_the_file": (safetensors_bytes(b"{}", length=4096), Status.UNREADABLE, "truncated"),
    "malformed_json": (safetensors_bytes(b'{"a": {"dtype": '), Status.UNREADABLE, "not valid JSON"),
    "json_nested_100000_deep": (safetensors_bytes(b"[" * 100000), Status.UNREADABLE, "JSON"),
    "header_not_utf8": (safetensors_bytes(b'{"\xff": 1}'), Status.UNREADABLE, "UTF-8"),
    "header_a_list": (safetensors_bytes([OK_ENTRY]), Status.UNREADABLE, "not an object"),
    "duplicate_names": (
        safetensors_bytes(b'{"w": ' + json.dumps(OK_ENTRY).encode() + b', "w": ' + json.dumps(OK_ENTRY).encode() + b"}")
        + bytes(8),
        Status.UNREADABLE,
        "twice",
    ),
    "unknown_dtype": (
        safetensors_bytes({"w": OK_ENTRY, "q": {**OK_ENTRY, "dtype": "Q99"}}, bytes(8)),
        Status.PARTIAL,
        "unknown dtype",
    ),
    "overlapping_offsets": (
        safetensors_bytes(
            {"a": OK_ENTRY, "b": {**OK_ENTRY, "data_offsets": [4, 12]}, "c": {**OK_ENTRY, "data_offsets": [12, 20]}},
            bytes(20),
        ),
        Status.PARTIAL,
        "overlaps",
    ),
    "offsets_out_of_the_file": (
        safetensors_bytes({"w": OK_ENTRY, "far": {**OK_ENTRY, "data_offsets": [2**70, 2**70 + 8]}}, bytes(8)),
        Status.PARTIAL,
        "outside",
    ),
    "negative_offsets": (
        safetensors_bytes({"w": OK_ENTRY, "neg": {**OK_ENTRY, "data_offsets": [-8, 0]}}, bytes(8)),
        Status.PARTIAL,
        "outside",
    ),
    "shape_does_not_match_bytes": (
        safetensors_bytes({"w": OK_ENTRY, "s": {**OK_ENTRY, "shape": [3], "data_offsets": [8, 16]}}, bytes(16)),
        Status.PARTIAL,
        "needs 12",
    ),
    "shape_of_2^124_elements": (
        safetensors_bytes(
            {"w": OK_ENTRY, "s": {**OK_ENTRY, "shape": [2**62, 2**62], "data_offsets": [8, 16]}}, bytes(16)
        ),
        Status.PARTIAL,
        "needs",
    ),
    "shape_with_floats_and_bools": (
        safetensors_bytes({"w": OK_ENTRY, "s": {**OK_ENTRY, "shape": [2.0, True]}}, bytes(8)),
        Status.PARTIAL,
        "shape",
    ),
    "every_entry_broken": (
        safetensors_bytes({"a": {**OK_ENTRY, "dtype": "??"}, "b": {**OK_ENTRY, "shape": [9]}}, bytes(8)),
        Status.UNREADABLE,
        "no tensor entry is valid",
    ),
    # found by fuzzing: int() refuses strings past 4300 digits (was an internal error)
    "metadata_step_of_5000_digits": (
        safetensors_bytes({"__metadata__": {"step": "9" * 5000}, "w": OK_ENTRY}, bytes(8)),
        Status.OK,
        None,
    ),
    "metadata_not_strings": (
        safetensors_bytes({"__metadata__": {"step": 5, "nested": {"a": 1}}, "w": OK_ENTRY}, bytes(8)),
        Status.PARTIAL,
        "__metadata__",
    ),
}


@pytest.mark.parametrize("case", sorted(SAFETENSORS_CASES))
def test_a_hostile_safetensors_header_costs_only_that_file_with_its_reason(tmp_path: Path, case: str) -> None:
    blob, status, reason = SAFETENSORS_CASES[case]
    run = _copy_run(tmp_path)
    rel = "ckpt/model_step12.safetensors"
    (run / rel).write_bytes(blob)
    t0 = time.monotonic()
    report = analyze(run, "safetensors")
    assert time.monotonic() - t0 < QUICK_S
    src = _source(report, rel)
    assert src.status is status, src
    if reason:
        assert reason in src.note, src.note
    _rest_is_analysed(report, rel)


def test_float64_weights_near_their_limit_do_not_overflow_the_layer_norms(tmp_path: Path) -> None:
    """Found by fuzzing: sqrt(sum(l2**2)) raised OverflowError for norms past 1e154."""
    run = tmp_path / "run"
    run.mkdir()
    for step, scale in ((100, 1e300), (200, 1.5e300)):
        arr = np.full(16, scale, dtype="<f8")
        entry = {"dtype": "F64", "shape": [16], "data_offsets": [0, arr.nbytes]}
        (run / f"model_step{step}.safetensors").write_bytes(safetensors_bytes({"dense.weight": entry}, arr.tobytes()))
    report = analyze(run, "safetensors")
    assert all(s.status is Status.OK for s in report.sources)
    (track,) = report.timeline.layers
    assert [p.l2 for p in track.points] == pytest.approx([4e300, 6e300])


# ---------------------------------------------------------------- sharded index


def _sharded_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """run/ck holds an index, one good shard; an outside.safetensors full of NaN lies next to run/."""
    run = tmp_path / "run"
    ck = run / "ck"
    ck.mkdir(parents=True)
    shutil.copy(HEALTHY_ST, ck / "good.safetensors")
    nan = np.full(4, np.nan, dtype="<f4")
    outside = tmp_path / "outside.safetensors"
    entry = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    outside.write_bytes(safetensors_bytes({"stolen": entry}, nan.tobytes()))
    return run, ck, outside


def _index(ck: Path, weight_map: dict) -> None:
    good = json.loads(HEALTHY_ST.read_bytes()[8 : 8 + struct.unpack_from("<Q", HEALTHY_ST.read_bytes())[0]])
    wm = {name: "good.safetensors" for name in good if name != "__metadata__"}
    (ck / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {**wm, **weight_map}}))


def _special_file(kind: str, ck: Path, outside: Path) -> str:
    if kind == "symlink_out":
        os.symlink(outside, ck / "link.safetensors")
        return "link.safetensors"
    if kind == "symlink_loop":
        os.symlink("loop.safetensors", ck / "loop.safetensors")
        return "loop.safetensors"
    if kind == "fifo":
        os.mkfifo(ck / "fifo.safetensors")  # opening it would block forever
        return "fifo.safetensors"
    if kind == "directory":
        (ck / "dir.safetensors").mkdir()
        return "dir.safetensors"
    raise AssertionError(kind)


INDEX_CASES = {
    "missing": ("missing.safetensors", "is missing"),
    "dotdot_out": ("../../outside.safetensors", "outside the run directory"),
    "absolute_out": ("{outside}", "outside the run directory"),
    "dev_zero": ("/dev/zero", "outside the run directory"),
    "proc_mem": ("/proc/self/mem", "outside the run directory"),
    "symlink_out": (None, "outside the run directory"),
    "symlink_loop": (None, "cannot be opened"),
    "fifo": (None, "not a regular file"),
    "directory": (None, "not a regular file"),
    "nul_byte": ("x\x00y.safetensors", "cannot be opened"),
    "name_too_long": ("x" * 5000, "cannot be opened"),
    "itself": ("model.safetensors.index.json", "header length"),
}


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
def test_an_index_naming_a_bad_shard_reads_the_good_ones_and_never_leaves_the_run(tmp_path: Path, case: str) -> None:
    run, ck, outside = _sharded_run(tmp_path)
    name, reason = INDEX_CASES[case]
    name = _special_file(case, ck, outside) if name is None else name.format(outside=outside)
    _index(ck, {"stolen": name})
    t0 = time.monotonic()
    report = analyze(run, "safetensors index")
    assert time.monotonic() - t0 < QUICK_S
    src = _source(report, "ck/model.safetensors.index.json")
    assert src.status is Status.PARTIAL, src
    assert reason in src.note, src.note
    (ckpt,) = [c.checkpoint for c in report.timeline.checkpoints]
    names = {t.name for t in ckpt.tensors}
    assert "stolen" not in names and "0.weight" in names
    assert all(t.nonfinite == 0 for t in ckpt.tensors)  # the NaN tensor outside was never read


def test_an_index_of_non_strings_and_nothing_else_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    run, ck, _ = _sharded_run(tmp_path)
    (ck / "good.safetensors").unlink()
    (ck / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": 5, "b": None, "c": ["x"]}}))
    src = _source(analyze(run, "safetensors index"), "ck/model.safetensors.index.json")
    assert src.status is Status.UNREADABLE and "shard name is not a string" in src.note


# ---------------------------------------------------------------- H5 files of unexpected shapes


def _keras2_h5(path: Path, build) -> None:
    """A Keras-2-layout weights file (layer_names / weight_names) whose one layer ``build`` fills."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [b"dense"]
        layer = mw.create_group("dense")
        inner = layer.create_group("dense")
        names = build(inner, f)
        layer.attrs["weight_names"] = [f"dense/{n}".encode() for n in names]


def _ds(name, data=None, **kw):
    def build(g, f):
        g.create_dataset(name, data=data, **kw)
        g.create_dataset("bias:0", data=np.ones(3, "f4"))
        return [name, "bias:0"]

    return build


def _link(link_factory):
    def build(g, f):
        g["kernel:0"] = link_factory(f)
        g.create_dataset("bias:0", data=np.ones(3, "f4"))
        return ["kernel:0", "bias:0"]

    return build


def _huge_with_one_chunk(g, f):
    ds = g.create_dataset("kernel:0", shape=(2**40,), dtype="f4", chunks=(2**16,))
    ds[:16] = 1.0  # one chunk stored, four TiB declared
    g.create_dataset("bias:0", data=np.ones(3, "f4"))
    return ["kernel:0", "bias:0"]


H5_CASES = {
    "empty_dataset": (_ds("kernel:0", np.zeros((0, 3), "f4")), Status.OK, None),
    "byte_string_dataset": (_ds("kernel:0", np.array([b"abc", b"de"])), Status.PARTIAL, "non-numeric"),
    "vlen_string_dataset": (_ds("kernel:0", ["x", "yy"], dtype=h5py.string_dtype()), Status.PARTIAL, "non-numeric"),
    "compound_dataset": (_ds("kernel:0", np.zeros(3, dtype=[("a", "f4"), ("b", "i4")])), Status.PARTIAL, "non-numeric"),
    "complex_dataset": (_ds("kernel:0", np.ones(3, np.complex64)), Status.PARTIAL, "non-numeric"),
    "scalar_dataset": (_ds("kernel:0", np.float32(3.0)), Status.OK, None),
    "declared_4_tib_stored_nothing": (
        _ds("kernel:0", shape=(2**40,), dtype="f4", chunks=(2**16,)),
        Status.PARTIAL,
        "declares",
    ),
    "declared_2^62_elements_2d": (
        _ds("kernel:0", shape=(2**31, 2**31), dtype="f4", chunks=(256, 256)),
        Status.PARTIAL,
        "declares",
    ),
    "declared_4_tib_stored_one_chunk": (_huge_with_one_chunk, Status.PARTIAL, "declares"),
    "external_link_to_etc_passwd": (_link(lambda f: h5py.ExternalLink("/etc/passwd", "/x")), Status.PARTIAL, "Link"),
    "soft_link_to_itself": (
        _link(lambda f: h5py.SoftLink("/model_weights/dense/dense/kernel:0")),
        Status.PARTIAL,
        "Link",
    ),
}


@pytest.mark.parametrize("case", sorted(H5_CASES))
def test_an_h5_of_unexpected_structure_is_read_as_far_as_it_goes(tmp_path: Path, case: str) -> None:
    build, status, reason = H5_CASES[case]
    path = tmp_path / "weights.05-0.50.h5"
    _keras2_h5(path, build)
    t0 = time.monotonic()
    src = only_source(analyze(path, "keras_h5"))
    assert time.monotonic() - t0 < QUICK_S
    assert_explained(src)
    assert src.status is status, src
    if reason:
        assert reason in src.note, src.note


def test_an_external_link_to_an_h5_outside_the_run_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["w"] = np.full(4, np.nan, "f4")
    run = tmp_path / "run"
    run.mkdir()
    _keras2_h5(run / "model.h5", _link(lambda f: h5py.ExternalLink(str(outside), "/w")))
    report = analyze(run, "keras_h5")
    src = only_source(report)
    assert src.status is Status.PARTIAL and "ExternalLink not followed" in src.note
    (ckpt,) = [c.checkpoint for c in report.timeline.checkpoints]
    assert [t.nan for t in ckpt.tensors] == [0]  # only the bias: the NaN weights outside were not read


H5_FLIP_SCRIPT = r"""
import json, random, sys
from pathlib import Path
import forensics
src, seed, n, out = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
data, rnd = src.read_bytes(), random.Random(seed)
statuses, internal = {}, []
for i in range(n):
    b = bytearray(data)
    region = len(b) if i % 2 else min(len(b), 4096)  # half the flips in the superblock and root group
    for _ in range(rnd.randint(1, 4)):
        b[rnd.randrange(region)] ^= 1 << rnd.randrange(8)
    out.write_bytes(bytes(b))
    for s in forensics.analyze(str(out)).sources:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
        if s.note and "internal error" in s.note:
            internal.append(s.note)
print(json.dumps({"inputs": n, "statuses": statuses, "internal": internal}))
"""
H5_FLIPS = 60


@pytest.mark.parametrize(
    ("src", "name"),
    [
        (SAMPLES / "keras_log_of_zero" / "checkpoints" / "cp-0005.weights.h5", "cp-0005.weights.h5"),
        (FIXTURES / "checkpoints" / "keras2_full.h5", "model.h5"),
        (None, "train_data.h5"),  # a data sample, not weights
    ],
)
def test_bit_flips_in_h5_files_never_kill_the_analysis(tmp_path: Path, src: Path | None, name: str) -> None:
    """In a separate process: libhdf5 can crash on a damaged file, which must cost one source only."""
    import subprocess
    import sys

    if src is None:
        src = tmp_path / "data.h5"
        with h5py.File(src, "w") as f:
            f["x"] = np.random.default_rng(0).random((50, 4)).astype("f4")
            f["y"] = np.arange(50) % 3
    out = tmp_path / "run"
    out.mkdir()
    r = subprocess.run(
        [sys.executable, "-c", H5_FLIP_SCRIPT, str(src), "1", str(H5_FLIPS), str(out / name)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    count("keras_h5 (bit flips)" if "data" not in name else "data_sample h5 (bit flips)", result["inputs"])
    assert result["internal"] == []
    assert sum(result["statuses"].values()) == H5_FLIPS


# ---------------------------------------------------------------- .keras archives


def _members() -> dict[str, bytes]:
    with zipfile.ZipFile(KERAS_ARCHIVE) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _archive_cases() -> dict[str, tuple[bytes, Status, str | None]]:
    m = _members()
    good = [stored(n, b) for n, b in m.items()]
    w, cfg = m["model.weights.h5"], m["config.json"]
    bomb_2g, crc_2g = zeros_deflated(2048)
    bomb_1g, crc_1g = zeros_deflated(1024)
    return {
        "path_traversal_names": (
            raw_zip(
                [
                    *good,
                    stored("../escaped.txt", b"x"),
                    stored("/tmp/absolute.txt", b"x"),
                    stored("..\\..\\windows.txt", b"x"),
                ]
            ),
            Status.OK,
            None,
        ),
        "weights_only_under_a_traversal_name": (
            raw_zip([stored("../model.weights.h5", w), stored("config.json", cfg)]),
            Status.UNREADABLE,
            "no model.weights.h5",
        ),
        "weights_inflating_to_2_gib": (
            raw_zip([stored("config.json", cfg), ("model.weights.h5", 8, bomb_2g, crc_2g, 2**31, 0)]),
            Status.UNREADABLE,
            "cap",
        ),
        "config_inflating_to_1_gib": (
            raw_zip([("config.json", 8, bomb_1g, crc_1g, 2**30, 0), stored("model.weights.h5", w)]),
            Status.PARTIAL,
            "cap",
        ),
        "config_lying_about_its_size": (
            raw_zip([("config.json", 8, bomb_1g, crc_1g, 100, 0), stored("model.weights.h5", w)]),
            Status.PARTIAL,
            "config.json",
        ),
        "encrypted_weights": (
            raw_zip([stored("config.json", cfg), stored("model.weights.h5", w, flags=1)]),
            Status.UNREADABLE,
            "encrypted",
        ),
        "unknown_compression": (
            raw_zip([stored("config.json", cfg), ("model.weights.h5", 99, w, zlib.crc32(w), len(w), 0)]),
            Status.UNREADABLE,
            "compression",
        ),
        "damaged_deflate_stream": (
            raw_zip([stored("config.json", cfg), ("model.weights.h5", 8, b"\xff" * 100, 0, 1000, 0)]),
            Status.UNREADABLE,
            "model.weights.h5",
        ),
        "config_not_json": (
            raw_zip([stored("config.json", b"\xff\xfe{"), stored("model.weights.h5", w)]),
            Status.PARTIAL,
            "config.json",
        ),
    }


@pytest.fixture(scope="module")
def archive_cases() -> dict[str, tuple[bytes, Status, str | None]]:
    return _archive_cases()


@pytest.mark.parametrize(
    "case",
    [
        "path_traversal_names",
        "weights_only_under_a_traversal_name",
        "weights_inflating_to_2_gib",
        "config_inflating_to_1_gib",
        "config_lying_about_its_size",
        "encrypted_weights",
        "unknown_compression",
        "damaged_deflate_stream",
        "config_not_json",
    ],
)
def test_a_hostile_keras_archive_is_refused_or_capped_and_nothing_is_extracted(
    tmp_path: Path, archive_cases: dict, case: str
) -> None:
    blob, status, reason = archive_cases[case]
    run = tmp_path / "deep" / "run"
    run.mkdir(parents=True)
    (run / "model.keras").write_bytes(blob)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    t0 = time.monotonic()
    src = only_source(analyze(run, "keras_archive"))
    assert time.monotonic() - t0 < QUICK_S
    assert_explained(src)
    assert src.status is status, src
    if reason:
        assert reason in src.note, src.note
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing extracted anywhere
    assert not Path("/tmp/absolute.txt").exists()


# ---------------------------------------------------------------- other readers, found by fuzzing


def test_yaml_config_holding_a_control_character_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\nbatch\b_size: 32\n", encoding="utf-8")
    src = only_source(analyze(tmp_path / "hparams.yaml", "config"))
    assert src.status is Status.UNREADABLE and "malformed YAML" in src.note and "#x0008" in src.note


def test_npz_member_whose_header_dict_is_cut_costs_only_that_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype="f4").reshape(3, 4))
    raw = bytearray(buf.getvalue())
    raw[raw.index(b"}")] = ord("(")  # the header dict no longer closes: numpy's tokenizer raises
    with zipfile.ZipFile(tmp_path / "train_sample.npz", "w") as z:
        z.writestr("inputs.npy", bytes(raw))
        z.writestr("labels.npy", _npy(np.array([0, 1, 2])))
    src = only_source(analyze(tmp_path / "train_sample.npz", "data_sample"))
    assert src.status is Status.PARTIAL and "inputs" in src.note and "damaged .npy header" in src.note


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


# ---------------------------------------------------------------- random damage to every kind of artifact

MUTATION_SEED = 20260101
MUTATIONS = 600
MAX_ARTIFACT_BYTES = 300_000


def _artifacts() -> list[Path]:
    found = [
        p
        for base in (SAMPLES, FIXTURES)
        for p in sorted(base.rglob("*"))
        if p.is_file() and classify(p.name) is not None and p.stat().st_size < MAX_ARTIFACT_BYTES
    ]
    assert len(found) > 100
    return found


def _mutate_every_kind(tmp_path: Path, seed: int, n: int) -> None:
    rnd = random.Random(seed)
    files = _artifacts()
    for _ in range(n):
        src = rnd.choice(files)
        data = bytearray(src.read_bytes())
        if rnd.random() < 0.4 and data:
            data = data[: rnd.randrange(len(data))]
        else:
            for _ in range(rnd.randint(1, 8)):
                if data:
                    data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        path = tmp_path / src.name
        path.write_bytes(bytes(data))
        try:
            report = analyze(path, f"any artifact, damaged ({classify(src.name)})")
        except NotAnArtifact:
            path.unlink()  # no longer recognised as an artifact: one line, as the CLI says it
            continue
        for s in report.sources:
            assert_explained(s)
        path.unlink()


def test_random_damage_to_any_real_artifact_is_reported_never_raised(tmp_path: Path) -> None:
    _mutate_every_kind(tmp_path, MUTATION_SEED, MUTATIONS)


@pytest.mark.slow
def test_random_damage_to_any_real_artifact_is_reported_never_raised_long_run(tmp_path: Path) -> None:
    _mutate_every_kind(tmp_path, random.randrange(2**32), 20_000)


def test_non_finite_and_extreme_values_survive_into_a_strict_json_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    vals = np.array([np.nan, np.inf, -np.inf, 1.7e308, -1.7e308, 5e-324, 0.0, -0.0], dtype="<f8")
    entry = {"dtype": "F64", "shape": [8], "data_offsets": [0, 64]}
    (run / "model_step3.safetensors").write_bytes(safetensors_bytes({"w": entry}, vals.tobytes()))
    (run / "train.log").write_text("step 1 loss 1e308\nstep 2 loss inf\nstep 3 loss nan\n", encoding="utf-8")
    report = analyze(run, "safetensors")

    def no_constants(token: str) -> None:
        raise AssertionError(f"non-strict JSON token {token}")

    json.loads(report.to_json(), parse_constant=no_constants)
    assert math.isfinite(report.verdict.confidence)


def test_statistics_of_float64_weights_at_the_edge_of_the_range_are_exact_or_infinite(tmp_path: Path) -> None:
    """Found by fuzzing: 2.0**1024 raised OverflowError when the statistics were unscaled."""
    vals = np.array([1.7e308, -1.7e308], dtype="<f8")
    entry = {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes({"w": entry}, vals.tobytes()))
    (t,) = analyze(path, "safetensors").timeline.checkpoints[0].checkpoint.tensors
    assert (t.min, t.max, t.absmax, t.mean) == (-1.7e308, 1.7e308, 1.7e308, 0.0)
    assert t.std == pytest.approx(1.7e308)
    assert t.l2 == math.inf  # sqrt(2) * 1.7e308 is past float64
