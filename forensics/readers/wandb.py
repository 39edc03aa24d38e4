"""W&B's binary run log (``wandb/run-<date>-<id>/run-<id>.wandb``): the history rows as
series, the config as settings, the console output and the exit record for how the job
ended.

Framing (``core/pkg/leveldb/record.go`` in wandb, LevelDB's log format): after W&B's
own 7-byte file header (``":W&B"``, magic ``0xBEE1`` little-endian, version 0) the file
is a sequence of 32 KiB blocks, the first of which holds that header. A block holds
chunks, each with a 7-byte header: a CRC-32 of the chunk type and payload (the IEEE
polynomial, unmasked: what ``zlib.crc32`` computes; checked against files wandb 0.31
wrote), the payload length (uint16) and the type: FULL (1) is a whole record, FIRST (2),
MIDDLE (3) and LAST (4) a record split across blocks. Fewer than 7 bytes left in a block
are padding; a zeroed chunk header means the rest of the block is unused.

Each record is a ``wandb.proto.Record`` protobuf. Only the fields read here are decoded,
by hand from the wire format (:func:`_fields`): the wandb package (its protos need the
protobuf runtime and the package weighs ~100 MB with its Go core) cannot be a dependency
of an analyser that must install light and run offline.

Damage policy, as LevelDB's reader has it: a chunk whose CRC or length is wrong costs
the rest of its block, and a record whose chunks do not follow in order is dropped;
reading goes on at the next block. A file cut mid-record (the writer killed, or still
running) gives every record completed before the cut.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.errors import UnreadableSource
from forensics.readers.config import extract_settings
from forensics.readers.metrics_csv import series_of
from forensics.readers.safe_open import open_binary
from forensics.records import ConfigData, LogData, Source, Status, StoreRun

FILE_HEADER = struct.Struct("<4sHB")
IDENT, MAGIC = b":W&B", 0xBEE1
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4

# A record is one history row, config update or console line: kilobytes. One split over
# more than this many bytes is not one wandb writes (a media item is written as a file),
# and is dropped rather than held in memory.
MAX_RECORD_BYTES = 64 * 1024 * 1024
# History points kept over all keys; a run of 10^6 steps logging 5 metrics fits.
MAX_POINTS = 20_000_000
MAX_KEYS = 10_000  # distinct history keys (tables of per-class metrics can have thousands)
# The console's last bytes are kept (an exception is at the end of it).
CONSOLE_TAIL_BYTES = 8 * 1024 * 1024
VALUE_JSON_CHARS = 64 * 1024  # a config or summary value longer than this is kept as text
CONFIG_VALUE_CHARS = 4096  # as shown in the report


@dataclass
class Framing:
    """What walking one file's framing found. Complete once :func:`records` has ended."""

    records: int = 0
    damaged_blocks: int = 0  # blocks whose rest was skipped (bad CRC or length)
    dropped_records: int = 0  # split records whose chunks were out of order or too large
    cut_mid_record: bool = False  # the file ends inside a chunk or a split record
    notes: list[str] = field(default_factory=list)


def records(f: Any, framing: Framing) -> Iterator[bytes]:
    """Every complete record of the open file ``f`` (positioned at 0), streaming one block
    at a time; what was damaged or cut is counted in ``framing``."""
    head = f.read(FILE_HEADER.size)
    if len(head) < FILE_HEADER.size:
        raise UnreadableSource("shorter than W&B's 7-byte file header")
    ident, magic, version = FILE_HEADER.unpack(head)
    if ident != IDENT or magic != MAGIC:
        raise UnreadableSource("no W&B file header (':W&B' and magic 0xBEE1): not a .wandb run file")
    if version != 0:
        framing.notes.append(f"file version {version} (read as version 0)")
    pending: list[bytes] | None = None  # chunks of a split record so far
    pending_size = 0
    block = head + f.read(BLOCK - FILE_HEADER.size)
    pos = FILE_HEADER.size
    while block:
        full_block = len(block) == BLOCK
        while True:
            if len(block) - pos < CHUNK_HEADER:
                if not full_block and pos < len(block):
                    framing.cut_mid_record = True  # a chunk header cut by the end of the file
                break
            crc, length, kind = struct.unpack_from("<IHB", block, pos)
            if crc == 0 and length == 0 and kind == 0:
                break  # a zeroed rest of block: unused
            end = pos + CHUNK_HEADER + length
            if end > len(block):
                if full_block:
                    framing.damaged_blocks += 1  # a length running past its block
                else:
                    framing.cut_mid_record = True  # the file ends inside this chunk
                break
            payload = block[pos + CHUNK_HEADER : end]
            if zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
                framing.damaged_blocks += 1
                if pending is not None:
                    framing.dropped_records += 1
                pending = None
                break
            pos = end
            if kind == FULL:
                if pending is not None:
                    framing.dropped_records += 1
                    pending = None
                framing.records += 1
                yield payload
            elif kind == FIRST:
                if pending is not None:
                    framing.dropped_records += 1
                pending, pending_size = [payload], len(payload)
            elif kind in (MIDDLE, LAST):
                if pending is None:
                    continue  # the rest of a record whose start was lost
                pending_size += len(payload)
                if pending_size > MAX_RECORD_BYTES:
                    framing.dropped_records += 1
                    pending = None
                    continue
                pending.append(payload)
                if kind == LAST:
                    framing.records += 1
                    whole = b"".join(pending)
                    pending = None
                    yield whole
            else:
                framing.damaged_blocks += 1  # an unknown chunk type: the block is not trusted further
                pending = None
                break
        block = f.read(BLOCK)
        pos = 0
    if pending is not None:
        framing.cut_mid_record = True


# ---------------------------------------------------------------- protobuf wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message: an int for varints and
    fixed-width fields, the bytes of length-delimited ones. ValueError on malformed input."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > n:
                raise ValueError("length past the message")
            value = buf[pos : pos + length]
            pos += length
        elif wire == 1:
            if pos + 8 > n:
                raise ValueError("cut fixed64")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 5:
            if pos + 4 > n:
                raise ValueError("cut fixed32")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def _signed(v: int, bits: int = 64) -> int:
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def _text(b: Any) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else ""


def _item(buf: bytes) -> tuple[str, Any]:
    """A HistoryItem / SummaryItem / ConfigItem: (key, value). The value is the number
    or text its typed fields hold, or the raw ``value_json`` string (``"json"`` tagged)."""
    key = ""
    nested: list[str] = []
    value: Any = None
    for number, wire, v in _fields(buf):
        if number == 1 and wire == 2:
            key = _text(v)
        elif number == 2 and wire == 2:
            nested.append(_text(v))
        elif number == 16 and wire == 2:
            value = ("json", v)
        elif number == 6 and wire == 1:  # double
            value = struct.unpack("<d", v.to_bytes(8, "little"))[0]
        elif number == 5 and wire == 0:  # sint64 (zigzag)
            value = (v >> 1) ^ -(v & 1)
        elif number == 4 and wire == 0:
            value = bool(v)
        elif number == 7 and wire == 2:
            value = _text(v)
    return (key or ".".join(nested)), value


def _number(value: Any) -> float | None:
    """A history value as a float: JSON numbers and W&B's NaN/Infinity tokens; else None."""
    if isinstance(value, tuple):
        raw = value[1]
        if len(raw) > 64:
            return None  # not a number (media, tables, histograms are JSON objects)
        try:
            value = json.loads(raw)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer past float64
        return math.inf if value > 0 else -math.inf


def _plain(value: Any) -> Any:
    """A config or summary value as plain data (JSON decoded when short enough)."""
    if isinstance(value, tuple):
        raw = value[1]
        if len(raw) > VALUE_JSON_CHARS or raw.count(b"[") + raw.count(b"{") > 1000:
            return _text(raw[:CONFIG_VALUE_CHARS])
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return _text(raw[:CONFIG_VALUE_CHARS])
    return value


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, allow_nan=True)
    return text[:CONFIG_VALUE_CHARS]


@dataclass
class _Run:
    run_id: str = ""
    name: str = ""
    project: str = ""
    start_time: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    cols: dict[str, tuple[array, array, array]] = field(default_factory=dict)
    points: int = 0
    keys_dropped: bool = False
    console: deque[str] = field(default_factory=deque)
    console_bytes: int = 0
    bad_records: int = 0


def _history(run: _Run, buf: bytes) -> None:
    items: list[tuple[str, Any]] = []
    step: int | None = None
    for number, wire, v in _fields(buf):
        if number == 1 and wire == 2:
            items.append(_item(v))
        elif number == 2 and wire == 2:
            step = 0  # HistoryStep present: num 0 is omitted on the wire
            for n2, w2, v2 in _fields(v):
                if n2 == 1 and w2 == 0:
                    step = _signed(v2)
    values = {k: _number(v) for k, v in items}
    if step is None:
        s = values.get("_step")
        step = int(s) if s is not None and math.isfinite(s) else None
    if step is None:
        run.bad_records += 1
        return
    wall = values.get("_timestamp")
    wall = wall if wall is not None else math.nan
    for key, value in values.items():
        if value is None or key.startswith("_"):
            continue  # _step, _runtime, _timestamp: W&B's own bookkeeping
        cols = run.cols.get(key)
        if cols is None:
            if len(run.cols) >= MAX_KEYS:
                run.keys_dropped = True
                continue
            cols = run.cols[key] = (array("q"), array("d"), array("d"))
        if run.points >= MAX_POINTS:
            return
        cols[0].append(step)
        cols[1].append(value)
        cols[2].append(wall)
        run.points += 1


def _items_into(target: dict[str, Any], buf: bytes) -> None:
    """ConfigRecord / SummaryRecord: field 1 is an update, field 2 a removal."""
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        key, value = _item(v)
        if number == 1:
            if len(target) < MAX_KEYS or key in target:
                target[key] = _plain(value)
        elif number == 2:
            target.pop(key, None)


def _run_record(run: _Run, buf: bytes) -> None:
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        if number == 1:
            run.run_id = _text(v)[:128]
        elif number == 3:
            run.project = _text(v)[:256]
        elif number == 8:
            run.name = _text(v)[:256]
        elif number == 4:
            _items_into(run.config, v)
        elif number == 17:
            secs = next((s for n, w, s in _fields(v) if n == 1 and w == 0), None)
            run.start_time = float(_signed(secs)) if secs is not None else None


def _console(run: _Run, buf: bytes) -> None:
    line = next((_text(v) for n, w, v in _fields(buf) if n == 3 and w == 2), "")
    run.console.append(line)
    run.console_bytes += len(line)
    while run.console_bytes > CONSOLE_TAIL_BYTES and len(run.console) > 1:
        run.console_bytes -= len(run.console.popleft())


def _record(run: _Run, buf: bytes) -> None:
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        if number == 2:
            _history(run, v)
        elif number == 5:
            _items_into(run.config, v)
        elif number == 3:
            _items_into(run.summary, v)
        elif number in (4, 13):  # output (line-based, older) and output_raw (the raw stream)
            _console(run, v)
        elif number == 17:
            _run_record(run, v)
        elif number == 18:
            code = next((c for n, w, c in _fields(v) if n == 1 and w == 0), 0)
            run.exit_code = _signed(code)  # proto3 omits an exit code of 0


def read_wandb_run(path: Path, source: Source) -> tuple[LogData, ConfigData]:
    """A W&B run file: its history as series, its config as settings, how it ended."""
    framing = Framing()
    run = _Run()
    try:
        with open_binary(path) as f:
            for rec in records(f, framing):
                try:
                    _record(run, rec)
                except (ValueError, struct.error, OverflowError):
                    run.bad_records += 1  # a record whose protobuf is malformed costs that record
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    notes = list(framing.notes)
    if framing.damaged_blocks:
        notes.append(f"{framing.damaged_blocks} damaged block(s) skipped (bad checksum, length or chunk type)")
    if framing.dropped_records:
        notes.append(f"{framing.dropped_records} split record(s) dropped (chunks out of order or too large)")
    if framing.cut_mid_record:
        notes.append("the file ends mid-record (the writer was killed or is still writing): every complete one read")
    if run.bad_records:
        notes.append(f"{run.bad_records} record(s) not understood")
    if run.keys_dropped or run.points >= MAX_POINTS:
        notes.append(f"history past {MAX_KEYS} keys or {MAX_POINTS:,} points not kept")
    if framing.records == 0:
        raise UnreadableSource("; ".join(["no complete record in the W&B run file", *notes]))

    scalars = {key: series_of(key, "wandb", source.path, *cols) for key, cols in run.cols.items()}
    if run.exit_code is None:
        status = "no exit record"
        notes.append("no exit record: the job was killed, or is still running")
    else:
        status = f"exit {run.exit_code}"
        if run.exit_code != 0:
            notes.append(f"the script exited with code {run.exit_code}")

    # The console, when wandb's own copy (files/output.log, read as a job log) is not beside
    # it: the framework messages and the exception the job died with.
    events: tuple = ()
    died = False
    console_beside = (path.parent / "files" / "output.log").is_file()
    if run.console and not console_beside:
        from forensics.readers.logs import parse_log_text

        _, events, died, _ = parse_log_text("".join(run.console))
    config = {k: v for k, v in run.config.items() if k != "_wandb"}
    store_run = StoreRun(
        id=run.run_id,
        name=run.name or run.run_id,
        experiment=run.project,
        status=status,
        scalars=scalars,
        params={k: _short(v) for k, v in config.items()},
        tags={f"summary.{k}": _short(v) for k, v in run.summary.items() if not k.startswith("_")},
        start_time=run.start_time,
        exit_code=run.exit_code,
        analysed=True,
    )
    head = f"run '{store_run.name}' of project '{run.project}' ({status})" if run.project else f"run ({status})"
    damaged = framing.damaged_blocks or framing.dropped_records or framing.cut_mid_record or run.bad_records
    status_of_file = Status.PARTIAL if damaged else source.status
    src = dataclasses.replace(source, status=status_of_file, note="; ".join([head, *notes]))
    steps = [int(s.steps.max()) for s in scalars.values() if len(s)]
    log = LogData(
        source=src,
        scalars=scalars,
        events=tuple(events),
        died_with_exception=died,
        last_step=max(steps) if steps else None,
        step_unit="step",
        store_runs=(store_run,),
        store_status=status,
        exit_code=run.exit_code,
    )
    settings = dataclasses.replace(extract_settings(config), source=src, raw=config)
    return log, settings
