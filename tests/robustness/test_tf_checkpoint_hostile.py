"""Damaged and lying TensorFlow checkpoint bundles: one line naming what is wrong, the rest of the run read.

Each case starts from a real bundle written by TensorFlow (tests/fixtures/tf_checkpoints)
placed in a run beside a real event file, damages it one way, and analyses the run: the
bundle is listed as partial or unreadable with a one-line reason, never a traceback, and
the event file is still read.
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest
from robust_util import FIXTURES, SAMPLES, analyze, assert_explained

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for tf_table

from tf_table import entries_of, one_block_table, rewrite_entry, string_tensor_bytes, varint, write_table

from forensics.records import Status

BUNDLE = FIXTURES / "tf_checkpoints" / "keras3_adam" / "ckpts"
EVENTS = SAMPLES / "torch_healthy" / "logs" / "val"
KERNEL = "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"  # Keras 3 keys the model's weights there
INDEX = "ckpt/ckpt-3.index"
DATA = "ckpt/ckpt-3.data-00000-of-00001"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "ckpt").mkdir(parents=True)
    for f in BUNDLE.glob("ckpt-3.*"):
        shutil.copy(f, run / "ckpt" / f.name)
    shutil.copytree(EVENTS, run / "logs")
    return run


def _bundle_source(run: Path, expect: set[Status]):
    report = analyze(run, "tf_checkpoint")
    by = {s.path: s for s in report.sources}
    events = [s for p, s in by.items() if p.startswith("logs/")]
    assert events and all(s.status is Status.OK for s in events), "the rest of the run must still be read"
    src = by[INDEX]
    assert src.status in expect, (src.status, src.note)
    assert_explained(src)
    return src


@pytest.mark.parametrize("keep", [0, 7, 40, 47, 300, 918])
def test_truncated_index(run, keep):
    index = run / INDEX
    index.write_bytes(index.read_bytes()[:keep])
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "table magic" in src.note or "footer" in src.note


def test_index_block_handle_past_the_end(run):
    index = run / INDEX
    data = bytearray(index.read_bytes())
    foot = len(data) - 48
    handle = varint(0) + varint(1) + varint(10**12) + varint(100)  # metaindex, then an index block far away
    data[foot : foot + 40] = handle.ljust(40, b"\0")
    index.write_bytes(bytes(data))
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "past the end of the table" in src.note


def test_flipped_byte_in_a_block_fails_its_crc(run):
    index = run / INDEX
    data = bytearray(index.read_bytes())
    data[20] ^= 0x40
    index.write_bytes(bytes(data))
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "CRC32C" in src.note


@pytest.mark.parametrize(
    "body",
    [
        varint(0) + varint(1) + varint(200) + b"kxyz" + struct.pack("<II", 0, 1),  # a value past the block
        varint(5) + varint(1) + varint(1) + b"kx" + struct.pack("<II", 0, 1),  # shares more than the last key
        b"\x01\x02\x03" + struct.pack("<I", 10**6),  # a million restart points in seven bytes
        b"\xff" * 11 + struct.pack("<II", 0, 1),  # a varint that never ends
    ],
)
def test_forged_block_with_a_valid_crc(run, body):
    (run / INDEX).write_bytes(one_block_table(body))
    src = _bundle_source(run, {Status.UNREADABLE, Status.PARTIAL})
    assert "block" in src.note or "varint" in src.note


def test_offset_past_the_end_of_the_shard(run):
    rewrite_entry(run / INDEX, KERNEL, offset=10**9)
    src = _bundle_source(run, {Status.PARTIAL})
    assert "lie past the end of 'ckpt-3.data-00000-of-00001'" in src.note


def test_size_that_lies_about_the_shape(run):
    rewrite_entry(run / INDEX, KERNEL, size=4 * 10**9)
    src = _bundle_source(run, {Status.PARTIAL})
    assert "data bytes, but shape [4, 5] of float32 needs 80" in src.note


def test_shard_id_past_the_shard_count(run):
    rewrite_entry(run / INDEX, KERNEL, shard_id=7)
    src = _bundle_source(run, {Status.PARTIAL})
    assert "shard 7, but the bundle has 1" in src.note


def test_header_declaring_a_billion_shards(run):
    index = run / INDEX
    entries = entries_of(index)
    assert entries[0][0] == b""
    entries[0] = (b"", b"\x08" + varint(10**9))  # num_shards
    index.write_bytes(write_table(entries))
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "declares 1000000000 data shards" in src.note


def test_flipped_byte_in_the_data_shard_costs_that_tensor(run):
    data = run / DATA
    raw = bytearray(data.read_bytes())
    raw[-3] ^= 0x01
    data.write_bytes(bytes(raw))
    src = _bundle_source(run, {Status.PARTIAL})
    assert "fail their CRC32C check" in src.note


def test_missing_shard(run):
    (run / DATA).unlink()
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "data shard 'ckpt-3.data-00000-of-00001' is missing" in src.note


def test_shard_replaced_by_a_symlink_is_not_followed(run, tmp_path):
    outside = tmp_path / "elsewhere.bin"
    shutil.copy(run / DATA, outside)
    (run / DATA).unlink()
    (run / DATA).symlink_to(outside)
    src = _bundle_source(run, {Status.UNREADABLE})
    assert "symlink" in src.note


def test_garbage_object_graph_falls_back_to_key_names(run):
    data = run / DATA
    stored, crc = string_tensor_bytes(b"\x0a\xff\xff\xff\xff\x0f garbage, not a TrackableObjectGraph")
    offset = data.stat().st_size
    with data.open("ab") as f:
        f.write(stored)
    rewrite_entry(run / INDEX, "_CHECKPOINTABLE_OBJECT_GRAPH", offset=offset, size=len(stored), crc32c=crc)
    src = _bundle_source(run, {Status.PARTIAL})
    assert "object graph is unreadable" in src.note


def test_a_data_shard_without_its_index(run):
    (run / INDEX).unlink()
    report = analyze(run, "tf_checkpoint")
    by = {s.path: s for s in report.sources}
    src = by[DATA]
    assert src.status is Status.UNREADABLE and ".index file is missing" in src.note
    assert_explained(src)


def test_an_index_naming_one_data_block_again_and_again_stops_at_the_repeat(run):
    import google_crc32c
    from tf_table import mask

    from forensics.readers.tf_checkpoint import _entries, _varint

    table = write_table(entries_of(run / INDEX), per_block=10_000)  # one data block, then meta, then index
    footer = table[-48:-8]
    handles, pos = [], 0
    for _ in range(4):  # metaindex offset and size, index offset and size
        value, pos = _varint(footer, pos, 40)
        handles.append(value)
    index_block = table[handles[2] : handles[2] + handles[3]]
    ((_, data_handle),) = list(_entries(index_block, "index"))
    # a new index naming that one data block a hundred thousand times, under increasing keys
    body = bytearray()
    for i in range(100_000):
        body += varint(0) + varint(4) + varint(len(data_handle)) + struct.pack(">I", i) + bytes(data_handle)
    body += struct.pack("<II", 0, 1)
    out = bytearray(table[: handles[2]])
    index_handle = varint(len(out)) + varint(len(body))
    out += body + b"\0" + struct.pack("<I", mask(google_crc32c.value(bytes(body) + b"\0")))
    out += (varint(handles[0]) + varint(handles[1]) + index_handle).ljust(40, b"\0") + table[-8:]
    (run / INDEX).write_bytes(bytes(out))
    src = _bundle_source(run, {Status.PARTIAL, Status.UNREADABLE})
    assert "repeated or out of order" in src.note


def test_a_million_and_one_tiny_entries_are_capped(run, monkeypatch):
    from forensics.readers import tf_checkpoint

    monkeypatch.setattr(tf_checkpoint, "MAX_ENTRIES", 1000)  # the cap's logic; a real million costs seconds
    entries = entries_of(run / INDEX)
    header, rest = entries[0], entries[1:]
    extra = [(b"zz/%06d" % i, b"") for i in range(2000)]  # empty entries: float32 scalars at offset 0
    (run / INDEX).write_bytes(write_table([header, *rest, *extra], per_block=500))
    src = _bundle_source(run, {Status.PARTIAL})
    assert "more than 1000 entries" in src.note


def test_data_shard_cut_in_half_keeps_the_tensors_before_the_cut(run):
    data = run / DATA
    raw = data.read_bytes()
    data.write_bytes(raw[: len(raw) // 2])
    src = _bundle_source(run, {Status.PARTIAL})
    assert "lie past the end of 'ckpt-3.data-00000-of-00001'" in src.note
