"""Fuzz the safetensors header parser and tensor streaming with atheris (see scripts/fuzz_common.py).

    python scripts/fuzz_safetensors.py --seconds 600

Properties checked on every input, beyond "no exception but UnreadableSource": every
tensor returned has as many elements as its shape says, and the file is partial
whenever some declared entry was dropped.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_common import run, scratch_file, seed_files

SCRATCH = scratch_file("model.safetensors")


def _imports() -> None:
    global read_safetensors, UnreadableSource, Source, Kind, Status
    from forensics.errors import UnreadableSource
    from forensics.readers.safetensors import read_safetensors
    from forensics.records import Kind, Source, Status


def test_one_input(data: bytes) -> None:
    SCRATCH.write_bytes(data)
    try:
        ckpt = read_safetensors(SCRATCH, Source(SCRATCH.name, Kind.SAFETENSORS, size=len(data)))
    except UnreadableSource as e:
        assert "\n" not in str(e)
        return
    for t in ckpt.tensors:
        assert t.numel == math.prod(t.shape)
        assert t.nan + t.posinf + t.neginf + t.zeros <= t.numel
    assert ckpt.source.status in (Status.OK, Status.PARTIAL)


if __name__ == "__main__":
    run(
        "fuzz_safetensors",
        test_one_input,
        seed_files(lambda p: p.suffix == ".safetensors"),
        _imports,
        chunk_seconds=120,
    )
