"""Property-based fuzzing of the three parsers that meet the most hostile bytes:
the TFRecord/Event framing, the safetensors header and the job-log parser.

The default run tries a few hundred inputs per property, derandomized so CI is
stable; ``pytest -m slow`` runs the same properties with random seeds and many more
examples, and scripts/fuzz_*.py drive the same entry points under atheris (coverage
guided). Each property says what must hold for EVERY input, not just "no crash".
"""

from __future__ import annotations

import json
import math
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import FIXTURES, count, frame, frames, safetensors_bytes

from forensics.errors import UnreadableSource
from forensics.readers.events import read_event_file
from forensics.readers.logs import MAX_NUMBER_DIGITS, parse_log_text
from forensics.readers.safetensors import read_safetensors
from forensics.readers.tfrecord import TFRecordReader
from forensics.records import Kind, Source, Status

DEFAULT_EXAMPLES = 300  # per property: the whole file runs in well under a minute
SLOW_EXAMPLES = 5000

fast = settings(
    max_examples=DEFAULT_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
slow = settings(
    max_examples=SLOW_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = (-(2**63), 2**63 - 1)


# ---------------------------------------------------------------- TFRecord framing and Events


def _event_payload(draw) -> bytes:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    ev = Event(step=draw(st.integers(*INT64)), wall_time=draw(st.floats(allow_nan=True, allow_infinity=True)))
    kind = draw(st.sampled_from(["scalar", "tensor", "histo", "version", "empty"]))
    tag = draw(st.text(max_size=12))
    if kind == "scalar":
        ev.summary.value.add(tag=tag, simple_value=draw(st.floats(width=32)))
    elif kind == "tensor":
        v = ev.summary.value.add(tag=tag)
        v.metadata.plugin_data.plugin_name = draw(st.sampled_from(["scalars", "histograms", "text", "x"]))
        v.tensor.dtype = draw(st.sampled_from([1, 2, 3, 9, 19, 7, 0, 999]))
        for d in draw(st.lists(st.integers(-3, 2**40), max_size=3)):
            v.tensor.tensor_shape.dim.add(size=d)
        v.tensor.tensor_content = draw(st.binary(max_size=24))
    elif kind == "histo":
        h = Summary.Value(tag=tag).histo
        h.min, h.max, h.num = draw(st.floats()), draw(st.floats()), draw(st.floats())
        h.bucket_limit.extend(draw(st.lists(st.floats(), max_size=4)))
        h.bucket.extend(draw(st.lists(st.floats(), max_size=4)))
        ev.summary.value.add(tag=tag, histo=h)
    elif kind == "version":
        ev.file_version = draw(st.text(max_size=20))
    return ev.SerializeToString()


@st.composite
def event_streams(draw) -> list[bytes]:
    return [_event_payload(draw) for _ in range(draw(st.integers(1, 8)))]


def _check_yields_only_valid_frames(data: bytes, reader: TFRecordReader) -> list[tuple[int, bytes]]:
    got = list(reader)
    last_end = 0
    for offset, payload in got:
        assert offset >= last_end, "records overlap or go backwards"
        (length,) = struct.unpack_from("<Q", data, offset)
        assert length == len(payload) and data[offset + 12 : offset + 12 + length] == payload
        last_end = offset + 16 + length
        assert last_end <= len(data)
    if reader.summary.checksums_verified:
        for offset, payload in got:
            assert list(frames(data[offset : offset + 16 + len(payload)])) == [(0, 16 + len(payload), payload)]
    return got


def _framing_of_any_bytes(data: bytes) -> None:
    count("tfrecord framing (hypothesis)")
    _check_yields_only_valid_frames(data, TFRecordReader(data))


def _framing_keeps_every_record_before_a_cut(payloads: list[bytes], cut_at: float) -> None:
    count("tfrecord framing (hypothesis)")
    data = b"".join(frame(p) for p in payloads)
    cut = int(len(data) * cut_at)
    expected = [(s, p) for s, _, p in frames(data[:cut])]
    reader = TFRecordReader(data[:cut])
    assert _check_yields_only_valid_frames(data[:cut], reader) == expected
    on_a_boundary = cut == sum(16 + len(p) for _, p in expected)
    assert reader.summary.clean == on_a_boundary  # else the cut record is reported as damage


def _framing_loses_only_the_damaged_record(payloads: list[bytes], which: int, at: int, bit: int) -> None:
    count("tfrecord framing (hypothesis)")
    hit = which % len(payloads)
    if not payloads[hit]:
        return  # nothing to damage inside an empty payload
    blob = bytearray(b"".join(frame(p) for p in payloads))
    start = sum(16 + len(p) for p in payloads[:hit])
    blob[start + 12 + at % len(payloads[hit])] ^= 1 << bit
    reader = TFRecordReader(bytes(blob))
    got = [p for _, p in _check_yields_only_valid_frames(bytes(blob), reader)]
    assert got == payloads[:hit] + payloads[hit + 1 :]
    assert reader.summary.skipped_records >= 1


def _event_file_of_any_bytes(data: bytes) -> None:
    count("tfevents (hypothesis)")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.out.tfevents.1.fuzz"
        path.write_bytes(data)
        try:
            ev = read_event_file(path, Source(path.name, Kind.EVENTS, size=len(data)))
        except UnreadableSource as e:
            assert str(e) and "\n" not in str(e)
            return
        assert ev.source.status in (Status.OK, Status.PARTIAL)
        assert ev.records <= len(data) // 16


def _event_stream_cut_keeps_every_event_before_it(payloads: list[bytes], cut_at: float, junk: bytes) -> None:
    count("tfevents (hypothesis)")
    data = b"".join(frame(p) for p in payloads)
    cut = int(len(data) * cut_at)
    complete = list(frames(data[:cut]))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "events.out.tfevents.1.fuzz"
        path.write_bytes(data[:cut] + junk)
        try:
            ev = read_event_file(path, Source(path.name, Kind.EVENTS))
        except UnreadableSource:
            assert not complete
            return
        assert ev.records == len(complete)
        if cut < len(data) or junk:
            assert ev.source.status is Status.PARTIAL or (not junk and cut == complete[-1][1])


test_framing_of_any_bytes_yields_only_valid_records = fast(given(st.binary(max_size=400))(_framing_of_any_bytes))
test_framing_of_any_bytes_slow = pytest.mark.slow(slow(given(st.binary(max_size=4000))(_framing_of_any_bytes)))

_cut_args = (event_streams(), st.floats(0, 1))
test_framing_keeps_every_record_before_a_cut = fast(given(*_cut_args)(_framing_keeps_every_record_before_a_cut))
test_framing_keeps_every_record_before_a_cut_slow = pytest.mark.slow(
    slow(given(*_cut_args)(_framing_keeps_every_record_before_a_cut))
)

_damage_args = (event_streams(), st.integers(0, 7), st.integers(0, 10**6), st.integers(0, 7))
test_framing_loses_only_the_damaged_record = fast(given(*_damage_args)(_framing_loses_only_the_damaged_record))
test_framing_loses_only_the_damaged_record_slow = pytest.mark.slow(
    slow(given(*_damage_args)(_framing_loses_only_the_damaged_record))
)

test_event_file_of_any_bytes_is_read_or_refused = fast(given(st.binary(max_size=300))(_event_file_of_any_bytes))
test_event_file_of_any_bytes_slow = pytest.mark.slow(slow(given(st.binary(max_size=3000))(_event_file_of_any_bytes)))

_stream_args = (event_streams(), st.floats(0, 1), st.one_of(st.just(b""), st.binary(max_size=40)))
test_event_stream_cut_keeps_every_event_before_it = fast(
    given(*_stream_args)(_event_stream_cut_keeps_every_event_before_it)
)
test_event_stream_cut_keeps_every_event_before_it_slow = pytest.mark.slow(
    slow(given(*_stream_args)(_event_stream_cut_keeps_every_event_before_it))
)


# ---------------------------------------------------------------- safetensors header

# dtypes of the safetensors format with their numpy equivalents (the oracle's own table)
ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "I8": "i1"}
WEIRD_DTYPES = ["f32", "F32 ", "", "Q8", "F4", "C64", "STRING", "bf16", "U1"]


@st.composite
def safetensors_files(draw) -> tuple[bytes, dict]:
    """A header mixing valid entries (laid out back to back) and broken ones, and its data."""
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.text(min_size=1, max_size=8), min_size=n, max_size=n, unique=True))
    header: dict = {}
    pos = 0
    for name in (n for n in names if n != "__metadata__"):
        code = draw(st.sampled_from(sorted(ST_DTYPES)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        nbytes = math.prod(shape) * np.dtype(ST_DTYPES[code]).itemsize
        spec: dict = {"dtype": code, "shape": shape, "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
        breakage = draw(st.sampled_from(["none"] * 4 + ["dtype", "shape", "offsets", "overlap", "type", "extra"]))
        if breakage == "dtype":
            spec["dtype"] = draw(st.one_of(st.sampled_from(WEIRD_DTYPES), st.integers(), st.none()))
        elif breakage == "shape":
            dims = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text(max_size=2))
            spec["shape"] = draw(st.one_of(st.lists(dims, max_size=3), st.integers(), st.none(), st.text(max_size=3)))
        elif breakage == "offsets":
            offsets = st.lists(st.integers(-(2**65), 2**65), max_size=3)
            spec["data_offsets"] = draw(st.one_of(offsets, st.none(), st.text(max_size=3)))
        elif breakage == "overlap" and nbytes:
            begin = draw(st.integers(0, pos - 1))
            spec["data_offsets"] = [begin, begin + nbytes]
        elif breakage == "type":
            spec = draw(st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)))
        elif breakage == "extra":
            spec["extra"] = draw(st.text(max_size=5))
        header[name] = spec
    if draw(st.booleans()):
        values = st.one_of(st.text(max_size=25), st.integers())
        header["__metadata__"] = draw(st.dictionaries(st.text(max_size=6), values, max_size=3))
    data = draw(st.binary(min_size=pos, max_size=pos))
    data = data[: draw(st.integers(0, len(data)))] if draw(st.integers(0, 4)) == 0 else data  # sometimes cut
    return safetensors_bytes(header, data), header


def _valid_entries(header: dict, data_len: int) -> set[str]:
    """The entries a faithful reader must return: well-formed, inside the data, overlapping none."""
    ok: dict[str, tuple[int, int]] = {}
    for name, spec in header.items():
        if name == "__metadata__" or not isinstance(spec, dict):
            continue
        code, shape, offs = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if code not in ST_DTYPES or not isinstance(shape, list) or not isinstance(offs, list) or len(offs) != 2:
            continue
        if not all(type(d) is int and d >= 0 for d in shape) or not all(type(o) is int for o in offs):
            continue
        begin, end = offs
        if not (0 <= begin <= end <= data_len) or end - begin != math.prod(shape) * np.dtype(ST_DTYPES[code]).itemsize:
            continue
        ok[name] = (begin, end)
    spans = {k: v for k, v in ok.items() if v[1] > v[0]}  # zero bytes cannot conflict with anything
    bad = {a for a, (b0, e0) in spans.items() for b, (b1, e1) in spans.items() if a != b and b0 < e1 and b1 < e0}
    return set(ok) - bad


def _safetensors_reader_keeps_exactly_the_valid_entries(case: tuple[bytes, dict]) -> None:
    count("safetensors (hypothesis)")
    blob, header = case
    data_len = len(blob) - 8 - struct.unpack_from("<Q", blob)[0]
    valid = _valid_entries(header, data_len)
    declared = len([k for k in header if k != "__metadata__"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.safetensors"
        path.write_bytes(blob)
        try:
            ckpt = read_safetensors(path, Source(path.name, Kind.SAFETENSORS))
        except UnreadableSource as e:
            assert not valid and declared, f"refused ({e}) but {sorted(valid)} are valid"
            assert "\n" not in str(e)
            return
    assert {t.name for t in ckpt.tensors} == valid
    meta = header.get("__metadata__", {})
    meta_ok = isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    assert ckpt.source.status is (Status.OK if len(valid) == declared and meta_ok else Status.PARTIAL)
    for t in ckpt.tensors:
        spec = header[t.name]
        assert t.shape == tuple(spec["shape"]) and t.numel == math.prod(spec["shape"])
        begin, end = spec["data_offsets"]
        start = len(blob) - data_len
        arr = np.frombuffer(blob[start + begin : start + end], dtype=ST_DTYPES[spec["dtype"]])
        if arr.dtype.kind == "f":
            assert t.nan == int(np.isnan(arr).sum())
            assert t.posinf == int(np.isposinf(arr).sum()) and t.neginf == int(np.isneginf(arr).sum())


test_safetensors_reader_keeps_exactly_the_valid_entries = fast(
    given(safetensors_files())(_safetensors_reader_keeps_exactly_the_valid_entries)
)
test_safetensors_reader_keeps_exactly_the_valid_entries_slow = pytest.mark.slow(
    slow(given(safetensors_files())(_safetensors_reader_keeps_exactly_the_valid_entries))
)


def _safetensors_of_any_header_bytes(raw: bytes, length_delta: int, tail: bytes) -> None:
    count("safetensors (hypothesis)")
    blob = struct.pack("<Q", max(0, min(len(raw) + length_delta, 2**64 - 1))) + raw + tail
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.safetensors"
        path.write_bytes(blob)
        try:
            ckpt = read_safetensors(path, Source(path.name, Kind.SAFETENSORS))
        except UnreadableSource as e:
            assert str(e) and "\n" not in str(e)
            return
        assert ckpt.source.status in (Status.OK, Status.PARTIAL)


_json_ish = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
_header_bytes = st.one_of(
    st.binary(max_size=200),
    _json_ish.map(lambda v: json.dumps(v).encode()),
    _json_ish.map(lambda v: json.dumps(v).encode()[:-1]),  # cut JSON
)
_raw_args = (_header_bytes, st.one_of(st.just(0), st.integers(-(2**64), 2**64)), st.binary(max_size=64))
test_safetensors_of_any_header_bytes_is_read_or_refused = fast(given(*_raw_args)(_safetensors_of_any_header_bytes))
test_safetensors_of_any_header_bytes_slow = pytest.mark.slow(slow(given(*_raw_args)(_safetensors_of_any_header_bytes)))


# ---------------------------------------------------------------- job logs

_CORPUS = sorted(
    {
        line
        for p in (FIXTURES / "logs").rglob("*")
        if p.is_file()
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip()
    }
)
_TOKENS = [
    "nan",
    "inf",
    "-inf",
    "1e309",
    "9" * 25,
    "9" * 400,
    "9" * 5000,
    "-" + "9" * 30,
    "Epoch ",
    "step ",
    "loss: ",
    "{'loss': ",
    "{'epoch': ",
    "Traceback (most recent call last):",
    "\r",
    "\b",
    "\x1b[2K",
    "%|",
    "|",
    "/",
    "it/s]",
    "0",
    "-1",
    "\x00",
    "\ud800",
    "━",
    "\ufeff",
]


@st.composite
def log_lines(draw) -> str:
    line = draw(st.sampled_from(_CORPUS))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=4)))
        if op == "insert":
            line = line[:at] + piece + line[at:]
        elif op == "delete":
            line = line[:at] + line[at + draw(st.integers(1, 10)) :]
        elif op == "replace":
            line = line[:at] + piece + line[at + len(piece) :]
        else:
            line = line[:at] + line[at : at + 20] + line[at:]
    return line


_log_texts = st.lists(log_lines(), min_size=1, max_size=40).map("\n".join)


def _log_parser_never_fails(text: str) -> None:
    count("job log (hypothesis)")
    scalars, events, died, last_step = parse_log_text(text)
    assert isinstance(died, bool)
    assert last_step is None or INT64[0] <= last_step <= INT64[1]
    for s in scalars.values():
        n = len(s)
        assert s.steps.dtype == np.int64 and s.values.shape == (n,) and s.segment.shape == (n,)
        assert s.wall_times.shape == (n,)
    for ev in events:
        assert ev.line >= 1 and isinstance(ev.kind, str)


test_log_parser_never_fails_on_damaged_console_output = fast(given(_log_texts)(_log_parser_never_fails))
test_log_parser_never_fails_slow = pytest.mark.slow(slow(given(_log_texts)(_log_parser_never_fails)))
test_log_parser_never_fails_on_any_text = fast(given(st.text(max_size=500))(_log_parser_never_fails))


# ---------------------------------------------------------------- regressions found by the fuzzers

_HF_HEAD = "  Num Epochs = 1\n  Total optimization steps = 40\n{'loss': 0.5, 'epoch': 0.5}\n"


@pytest.mark.parametrize(
    "text",
    [
        # tqdm counter with a step no int64 holds (OverflowError in the int64 column)
        "Epoch 3:  50%|█████     | 1999999999999999999999999/32 [00:00<00:00, 959.44it/s, loss=0.5]",
        # 5000 digits: int() refuses past 4300 (ValueError) wherever a step, epoch or count is read
        "Epoch " + "9" * 5000 + "/10",
        "  " + "9" * 5000 + "/100 [==============================] - 1s 5ms/step - loss: 0.5",
        "Batch " + "9" * 5000 + ": Invalid loss, terminating training",
        "step " + "9" * 5000 + " loss 0.25",
        # HF dict lines placed on steps (epoch x steps per epoch) whose epoch is inf, 1e300 or
        # 400 digits: round(inf) is an OverflowError, round(1e300) no int64 column holds
        _HF_HEAD + "{'loss': 0.4, 'epoch': inf}",
        _HF_HEAD + "{'loss': 0.4, 'epoch': 1e300}",
        _HF_HEAD + "{'loss': 0.4, 'epoch': " + "9" * 400 + "}",
    ],
)
def test_log_lines_with_numbers_no_logger_prints_are_read_around_not_fatal(text: str) -> None:
    count("job log (regressions)")
    scalars, _, _, last_step = parse_log_text(text + "\nstep 7 loss 0.125\n")
    assert last_step is None or INT64[0] <= last_step <= INT64[1]
    for s in scalars.values():
        assert s.steps.dtype == np.int64


def test_a_progress_bar_whose_step_is_past_int64_does_not_become_the_last_step() -> None:
    """Found by atheris: rich's bar gives epoch x total + n, here 4e40 (the point was dropped, the step kept)."""
    count("job log (regressions)")
    bar = "Epoch " + "4" * 40 + "/3  ━━━━━━━━━━ 4/10 0:00:00 • 0:00:01 733.99it/s v_num: 0.000 train_loss: 763.024\n"
    _, _, _, last_step = parse_log_text(bar)
    assert last_step is None or INT64[0] <= last_step <= INT64[1]


def test_a_run_of_digits_longer_than_any_number_is_masked_but_the_rest_of_the_line_is_read() -> None:
    long_run = "9" * (MAX_NUMBER_DIGITS + 1)
    scalars, _, _, _ = parse_log_text(f"step 10 loss 0.5 id {long_run}\nstep 11 loss 0.25\n")
    assert re.search(r"loss", " ".join(scalars)), scalars
    loss = next(s for t, s in scalars.items() if "loss" in t)
    assert loss.steps.tolist() == [10, 11] and loss.values.tolist() == [0.5, 0.25]


@pytest.mark.parametrize("steps_per_epoch", [math.inf, 1e300, -math.inf])
def test_hf_points_are_left_unplaced_when_the_epoch_length_is_absurd(steps_per_epoch: float) -> None:
    from forensics.readers.logs import read_job_log
    from forensics.records import with_steps_from_epochs

    count("job log (regressions)")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train.log"
        path.write_text("{'loss': 0.5, 'epoch': 0.5}\n{'loss': 0.4, 'epoch': 1.0}\n", encoding="utf-8")
        log = read_job_log(path, Source(path.name, Kind.JOB_LOG))
    assert log.step_unit == "log_index"
    placed = with_steps_from_epochs(log, steps_per_epoch)
    assert placed.scalars["loss"].values.tolist() == [0.5, 0.4]  # kept, in log order
