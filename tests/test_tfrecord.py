"""TFRecord framing: offsets, masked CRC32C, truncation, corruption, resync, CRC-less writers."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.readers.tfrecord import (
    FRAME_BYTES,
    HEADER_BYTES,
    TFRecordReader,
    _LinearCrc,
    frame_record,
    masked_crc32c,
    read_records,
)

FIXTURES = Path(__file__).parent / "fixtures" / "events"
TBX_FILE = next((FIXTURES / "tensorboardx").glob("events.out.tfevents.*"))
RESTART_FILE = next((FIXTURES / "restart").glob("events.out.tfevents.*"))


def naive_records(data: bytes) -> list[tuple[int, bytes]]:
    """The records of an undamaged file, walked the obvious way (lengths only)."""
    out = []
    off = 0
    while off < len(data):
        (length,) = struct.unpack_from("<Q", data, off)
        out.append((off, data[off + HEADER_BYTES : off + HEADER_BYTES + length]))
        off += length + FRAME_BYTES
    assert off == len(data)
    return out


def read_all(source, **kw) -> tuple[list[tuple[int, bytes]], TFRecordReader]:
    reader = TFRecordReader(source, **kw)
    return list(reader), reader


def synthetic_payloads(n: int, seed: int = 0) -> list[bytes]:
    """Payloads shaped like scalar events: a repeating tag set, varying numbers."""
    rng = random.Random(seed)
    tags = [b"loss", b"lr", b"grad_norm", b"accuracy/top1"]
    out = []
    for i in range(n):
        tag = tags[i % len(tags)]
        out.append(
            b"\x09" + struct.pack("<d", 1.7e9 + i) + b"\x10" + bytes([i % 128]) + tag + struct.pack("<f", rng.random())
        )
    return out


# ---------------------------------------------------------------- checksums


def test_masked_crc32c_agrees_with_tensorboards_pure_python_implementation():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    rng = random.Random(7)
    for n in (0, 1, 8, 13, 100, 1000):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert masked_crc32c(data) == reference(data)


def test_frame_record_writes_what_the_reader_reads_back():
    payloads = synthetic_payloads(50)
    data = b"".join(frame_record(p) for p in payloads)
    records, reader = read_all(data)
    assert [p for _, p in records] == payloads
    assert [o for o, _ in records] == [o for o, _ in naive_records(data)]
    assert reader.summary.clean and reader.summary.checksums_verified
    assert reader.summary.end_offset == len(data)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 200),
    st.lists(st.binary(min_size=0, max_size=8), min_size=2, max_size=40),
    st.randoms(use_true_random=False),
    st.sampled_from([0, 40]),  # 0: always through the tables; 40: few records go one by one
)
def test_bulk_crc_of_equal_length_records_equals_google_crc32c_record_by_record(length, noise, rnd, per_table):
    base = bytes(rnd.getrandbits(8) for _ in range(length))
    rows = []
    for chunk in noise:
        row = bytearray(base)
        for b in chunk:  # a few bytes differ, as wall times and values do
            row[rnd.randrange(length)] = b
        rows.append(bytes(row))
    width = length + (-length) % 8
    matrix = np.zeros((len(rows), width), dtype=np.uint8)
    for i, row in enumerate(rows):
        matrix[i, :length] = np.frombuffer(row, dtype=np.uint8)
    got = _LinearCrc(records_per_new_table=per_table).crc(matrix, length)
    assert got.tolist() == [google_crc32c.value(r) for r in rows]


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("events.out.tfevents.*")), ids=lambda p: p.parent.name)
def test_every_fixture_frames_cleanly_with_the_offsets_of_a_plain_walk(path):
    data = path.read_bytes()
    records, reader = read_all(path)
    assert records == naive_records(data)
    assert reader.summary.clean
    assert reader.summary.records == len(records)
    assert reader.summary.end_offset == len(data)


def test_small_chunks_and_bulk_prediction_give_the_same_records_as_a_plain_walk():
    # periodic runs (predicted in bulk) broken by size changes, across many chunk boundaries
    payloads = [*synthetic_payloads(3000), b"x" * 5000, *synthetic_payloads(700, seed=1)]
    data = b"".join(frame_record(p) for p in payloads)
    expected = naive_records(data)
    for chunk in (64, 1000, 4096, 1 << 20):
        records, reader = read_all(data, chunk_bytes=chunk)
        assert records == expected, chunk
        assert reader.summary.clean


def test_record_over_the_size_cap_is_checked_and_skipped_not_held():
    payloads = [b"a" * 10, b"b" * 5000, b"c" * 10]
    data = b"".join(frame_record(p) for p in payloads)
    records, reader = read_all(data, chunk_bytes=256, max_record_bytes=1000)
    assert [p for _, p in records] == [payloads[0], payloads[2]]
    assert reader.summary.oversized_records == 1
    assert reader.summary.clean


# ---------------------------------------------------------------- damage


def test_truncated_file_keeps_every_record_before_the_cut():
    data = RESTART_FILE.read_bytes()
    full = naive_records(data)
    ends = {off + len(p) + FRAME_BYTES for off, p in full}
    for cut in range(1, len(data)):
        records, reader = read_all(data[:cut])
        before = [(o, p) for o, p in full if o + len(p) + FRAME_BYTES <= cut]
        assert records == before, cut
        if cut in ends:
            assert reader.summary.clean, cut
            continue
        damage = reader.summary.truncated
        assert damage is not None and damage.truncated, cut
        assert damage.offset == (before[-1][0] + len(before[-1][1]) + FRAME_BYTES if before else 0)
        assert damage.skipped_bytes == cut - damage.offset
        assert "incomplete" in damage.reason
        assert str(damage.offset) in reader.summary.describe()


def test_bad_payload_crc_in_the_middle_loses_that_record_only():
    data = bytearray(TBX_FILE.read_bytes())
    full = naive_records(bytes(data))
    k = len(full) // 2
    off, payload = full[k]
    data[off + HEADER_BYTES + len(payload) // 2] ^= 0x40
    records, reader = read_all(bytes(data))
    assert records == full[:k] + full[k + 1 :]
    (damage,) = reader.summary.damages
    assert damage.offset == off
    assert damage.skipped_records == 1
    assert damage.skipped_bytes == len(payload) + FRAME_BYTES
    assert reader.summary.skipped_records == 1
    assert "checksum" in damage.reason


def test_bad_length_field_resynchronises_on_the_next_valid_record():
    data = bytearray(TBX_FILE.read_bytes())
    full = naive_records(bytes(data))
    k = 3
    off, payload = full[k]
    data[off + 1] ^= 0x10  # the length is now wrong and its CRC says so
    records, reader = read_all(bytes(data))
    assert records == full[:k] + full[k + 1 :]
    (damage,) = reader.summary.damages
    assert damage.offset == off
    assert damage.skipped_bytes == len(payload) + FRAME_BYTES
    assert "length checksum" in damage.reason


def test_garbage_between_records_is_skipped_and_counted():
    payloads = synthetic_payloads(40)
    framed = [frame_record(p) for p in payloads]
    junk = bytes(random.Random(3).getrandbits(8) for _ in range(777))
    data = b"".join(framed[:10]) + junk + b"".join(framed[10:])
    records, reader = read_all(data)
    assert [p for _, p in records] == payloads
    (damage,) = reader.summary.damages
    assert damage.offset == sum(len(f) for f in framed[:10])
    assert damage.skipped_bytes == len(junk)
    assert damage.skipped_records >= 1


def test_a_zeroed_block_in_the_middle_is_skipped():
    payloads = synthetic_payloads(400)
    framed = [frame_record(p) for p in payloads]
    data = bytearray(b"".join(framed))
    start = sum(len(f) for f in framed[:100]) + 5
    data[start : start + 4096] = bytes(4096)
    records, reader = read_all(bytes(data))
    got = [p for _, p in records]
    assert got[:100] == payloads[:100]
    lost = {i for i, p in enumerate(payloads) if p not in got}
    # exactly the records overlapping the zeroed bytes are lost
    offsets = np.cumsum([0] + [len(f) for f in framed])
    overlapping = {i for i in range(len(framed)) if offsets[i] < start + 4096 and offsets[i + 1] > start}
    assert lost == overlapping
    assert reader.summary.skipped_records >= 1


def test_empty_input_yields_nothing_and_does_not_raise():
    records, reader = read_all(b"")
    assert records == [] and reader.summary.file_size == 0


@pytest.mark.parametrize(
    "data",
    [b"hello, this is not a tfrecord file\n" * 20, bytes(range(256)) * 8, b"\0" * 5000, b"short"],
    ids=["text", "bytes", "zeros", "short"],
)
def test_non_tfrecord_bytes_yield_no_record_and_report_damage(data):
    records, reader = read_all(data)
    assert records == []
    assert reader.summary.damages
    assert reader.summary.records == 0


# ---------------------------------------------------------------- writers without checksums


def test_file_with_zero_checksums_is_read_unverified_when_payloads_are_accepted():
    payloads = [p for _, p in naive_records(TBX_FILE.read_bytes())]
    data = b"".join(frame_record(p, checksums=False) for p in payloads)
    records, reader = read_all(data, accept=lambda p: p[:1] == b"\x09")
    assert [p for _, p in records] == payloads
    assert reader.summary.checksums_verified is False
    assert reader.summary.clean


def test_zero_checksum_file_rejects_records_the_caller_does_not_accept():
    payloads = [p for _, p in naive_records(TBX_FILE.read_bytes())]
    junk = b"\xff" * 37
    framed = [frame_record(p, checksums=False) for p in payloads]
    data = b"".join(framed[:5]) + frame_record(junk, checksums=False) + b"".join(framed[5:])
    records, reader = read_all(data, accept=lambda p: p[:1] == b"\x09")
    assert [p for _, p in records] == payloads
    (damage,) = reader.summary.damages
    assert damage.offset == sum(len(f) for f in framed[:5])
    assert reader.summary.checksums_verified is False


def test_writer_storing_one_constant_instead_of_checksums_is_read_unverified():
    payloads = [p for _, p in naive_records(TBX_FILE.read_bytes())]
    junk = struct.pack("<I", 0xDEADBEEF)
    data = b"".join(struct.pack("<Q", len(p)) + junk + p + junk for p in payloads)
    for chunk in (64, 1 << 20):  # records straddling chunk boundaries, and not
        records, reader = read_all(data, accept=lambda p: p[:1] == b"\x09", chunk_bytes=chunk)
        assert [p for _, p in records] == payloads
        assert reader.summary.checksums_verified is False and reader.summary.clean


def test_crc_less_file_cut_mid_record_keeps_the_records_before_the_cut():
    payloads = [p for _, p in naive_records(TBX_FILE.read_bytes())]
    framed = [frame_record(p, checksums=False) for p in payloads]
    data = b"".join(framed)
    cut = sum(len(f) for f in framed[:10]) + 7
    records, reader = read_all(data[:cut], accept=lambda p: p[:1] == b"\x09")
    assert [p for _, p in records] == payloads[:10]
    assert reader.summary.truncated is not None
    assert reader.summary.truncated.offset == sum(len(f) for f in framed[:10])


def test_verified_file_with_a_damaged_first_header_is_not_mistaken_for_a_crc_less_one():
    data = bytearray(TBX_FILE.read_bytes())
    full = naive_records(bytes(data))
    data[9] ^= 0xFF  # the stored length CRC of record 0
    records, reader = read_all(bytes(data), accept=lambda p: True)
    assert reader.summary.checksums_verified is True
    assert records == full[1:]


def test_read_records_is_the_plain_iterator():
    records = list(read_records(TBX_FILE))
    assert records == naive_records(TBX_FILE.read_bytes())


# ---------------------------------------------------------------- properties


_FIXTURE_BYTES = TBX_FILE.read_bytes()
_FIXTURE_RECORDS = naive_records(_FIXTURE_BYTES)


def _record_at(byte: int) -> int:
    for i, (off, p) in enumerate(_FIXTURE_RECORDS):
        if off <= byte < off + len(p) + FRAME_BYTES:
            return i
    raise AssertionError(byte)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_FIXTURE_BYTES) - 1), st.integers(0, 7))
def test_a_single_bit_flip_loses_exactly_the_record_it_hits(byte, bit):
    data = bytearray(_FIXTURE_BYTES)
    data[byte] ^= 1 << bit
    records, reader = read_all(bytes(data), chunk_bytes=4096)
    hit = _record_at(byte)
    assert records == _FIXTURE_RECORDS[:hit] + _FIXTURE_RECORDS[hit + 1 :]
    assert reader.summary.skipped_records >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(_FIXTURE_BYTES)),
    st.lists(st.tuples(st.integers(0, len(_FIXTURE_BYTES) - 1), st.integers(1, 255)), max_size=6),
)
def test_truncation_and_random_damage_never_raise_and_never_lose_records_before_it(cut, flips):
    data = bytearray(_FIXTURE_BYTES[:cut])
    for pos, mask in flips:
        if pos < len(data):
            data[pos] ^= mask
    first_bad = min([pos for pos, _ in flips if pos < len(data)] + [len(data)])
    records, reader = read_all(bytes(data), chunk_bytes=2048, accept=lambda p: True)
    intact = [(o, p) for o, p in _FIXTURE_RECORDS if o + len(p) + FRAME_BYTES <= first_bad]
    assert records[: len(intact)] == intact
    got = set(records)
    assert all(r in set(_FIXTURE_RECORDS) for r in got)  # nothing invented
    assert reader.summary.records == len(records)
