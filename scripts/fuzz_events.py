"""Fuzz the TFRecord framing and the Event decoding with atheris (see scripts/fuzz_common.py).

    python scripts/fuzz_events.py --seconds 600

Properties checked on every input, beyond "no exception but UnreadableSource":
every record the framing hands out is a complete frame lying inside the input, in order.
"""

from __future__ import annotations

import contextlib
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_common import run, scratch_file, seed_files

SCRATCH = scratch_file("events.out.tfevents.1.fuzz")


def _imports() -> None:
    global TFRecordReader, read_event_file, UnreadableSource, Source, Kind
    from forensics.errors import UnreadableSource
    from forensics.readers.events import read_event_file
    from forensics.readers.tfrecord import TFRecordReader
    from forensics.records import Kind, Source


def test_one_input(data: bytes) -> None:
    last_end = 0
    for offset, payload in TFRecordReader(data):
        assert offset >= last_end, "records overlap or go backwards"
        (length,) = struct.unpack_from("<Q", data, offset)
        assert length == len(payload) and data[offset + 12 : offset + 12 + length] == payload
        last_end = offset + 16 + length
        assert last_end <= len(data)
    SCRATCH.write_bytes(data)
    with contextlib.suppress(UnreadableSource):
        read_event_file(SCRATCH, Source(SCRATCH.name, Kind.EVENTS, size=len(data)))


if __name__ == "__main__":
    run(
        "fuzz_events",
        test_one_input,
        seed_files(lambda p: p.name.startswith("events.out.tfevents")),
        _imports,
        chunk_seconds=30,
    )
