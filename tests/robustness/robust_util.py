"""Shared helpers of the robustness suite: oracles written independently of the readers,
a tally of the inputs tried, and thin wrappers around the API and the CLI.

The oracles here walk the TFRecord framing and the safetensors header with ``struct``,
``google_crc32c``, ``json`` and TensorBoard's ``Event`` proto: simple enough to be
trusted, and separate from ``forensics.readers`` so a reader bug cannot hide in both.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_crc32c

import forensics
from forensics.analysis import NOTHING_FOUND
from forensics.errors import UsageError
from forensics.records import Status
from forensics.report.model import Report

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_runs"
FIXTURES = ROOT / "tests" / "fixtures"

# Every input the suite feeds the analyzer is counted here per format, with the crashes
# (an exception escaping the API, or a source the loader marked "internal error").
# conftest.py writes the tally to $FORENSICS_ROBUSTNESS_TALLY for docs/robustness.md.
TALLY: dict[str, Counter[str]] = defaultdict(Counter)
# Times and peak memory measured by the resource tests, for the same document.
MEASURED: dict[str, dict[str, float]] = {}

INTERNAL = "internal error"


class Crash(AssertionError):
    """The analyzer failed on an input instead of reporting it."""


class NotAnArtifact(Exception):
    """Damage left nothing discovery recognises as a training artifact: ``forensics.analyze``
    raises the one-line UsageError the CLI prints with exit code 2. Reported, not a crash."""


def analyze(path: str | os.PathLike[str], fmt: str, **kwargs: Any) -> Report:
    """``forensics.analyze`` counted in the tally; a crash is counted, then re-raised as :class:`Crash`."""
    TALLY[fmt]["inputs"] += 1
    try:
        report = forensics.analyze(str(path), **kwargs)
        report.to_json()
        report.to_markdown()
    except UsageError as e:
        if NOTHING_FOUND not in str(e) or "\n" in str(e):
            TALLY[fmt]["crashes"] += 1
            raise Crash(f"{fmt}: {path}: {type(e).__name__}: {e}") from e
        raise NotAnArtifact(str(e)) from None
    except Exception as e:
        TALLY[fmt]["crashes"] += 1
        raise Crash(f"{fmt}: {path}: {type(e).__name__}: {e}") from e
    for s in report.sources:
        if s.note and INTERNAL in s.note:
            TALLY[fmt]["crashes"] += 1
            raise Crash(f"{fmt}: {path}: {s.path}: {s.note}")
    return report


def count(fmt: str, inputs: int = 1, crashes: int = 0) -> None:
    TALLY[fmt]["inputs"] += inputs
    TALLY[fmt]["crashes"] += crashes


def only_source(report: Report):
    assert len(report.sources) == 1, [s.path for s in report.sources]
    return report.sources[0]


def assert_explained(source) -> None:
    """A source that is not ok says why, in one line."""
    if source.status is not Status.OK:
        assert source.note, f"{source.path}: {source.status} without a note"
        assert "\n" not in source.note
        assert INTERNAL not in source.note, source.note


# ---------------------------------------------------------------- command line


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        **kw,
    )


def one_line(stderr: str) -> str:
    """The single line a usage error prints; fails on a traceback or a multi-line message."""
    assert "Traceback" not in stderr, stderr
    # a slow run off a terminal prints plain progress lines before the error
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("forensics: progress: ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("forensics: "), stderr
    return lines[0]


# ---------------------------------------------------------------- directories


def snapshot(directory: Path) -> list[tuple[str, int, int, int]]:
    """(path, mode, size, mtime) of everything under ``directory``, the directory included."""
    out = []
    for p in [directory, *sorted(directory.rglob("*"))]:
        st = p.lstat()
        out.append((str(p.relative_to(directory)), st.st_mode, st.st_size, st.st_mtime_ns))
    return out


def make_read_only(directory: Path) -> None:
    for p in [*directory.rglob("*"), directory]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(directory: Path) -> None:
    for p in [directory, *directory.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


# ---------------------------------------------------------------- TFRecord / Event oracle


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frames(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, payload) of each record of a clean TFRecord byte string, in order.

    Stops at the first record that is incomplete or fails its CRCs: on a prefix of a
    clean file these are exactly the records lying wholly before the cut.
    """
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (hcrc,) = struct.unpack_from("<I", data, pos + 8)
        if hcrc != _masked_crc(data[pos : pos + 8]):
            return
        end = pos + 12 + length + 4
        if end > len(data):
            return
        payload = data[pos + 12 : pos + 12 + length]
        (pcrc,) = struct.unpack_from("<I", data, end - 4)
        if pcrc != _masked_crc(payload):
            return
        yield pos, end, payload
        pos = end


def frame(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", _masked_crc(length)) + payload + struct.pack("<I", _masked_crc(payload))


def scalar_points(payloads: list[bytes]) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of the scalar summaries in these Event payloads, in file order.

    Counts ``simple_value`` and the TF2 scalar tensors of a tag whose metadata (written
    with its first value) names the scalars plugin.
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.util.tensor_util import make_ndarray

    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    scalar_tags: set[str] = set()
    for p in payloads:
        ev = Event.FromString(p)
        for v in ev.summary.value:
            if v.metadata.plugin_data.plugin_name == "scalars":
                scalar_tags.add(v.tag)
            if v.HasField("simple_value"):
                out[v.tag].append((ev.step, float(v.simple_value)))
            elif v.HasField("tensor") and v.tag in scalar_tags:
                out[v.tag].append((ev.step, float(make_ndarray(v.tensor).reshape(()))))
    return dict(out)


def event_data(report: Report):
    """The EventFileData records behind a report: what the event reader returns for the
    same path (the timeline keeps the series, not the readers' records)."""
    return forensics.inspect(report.run_dir).events


def reported_points(report: Report) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of every scalar series the analysis read from event files."""
    out: dict[str, list[tuple[int, float]]] = {}
    for ev in event_data(report):
        for s in ev.scalars.values():
            out.setdefault(s.tag, []).extend(zip(s.steps.tolist(), s.values.tolist(), strict=True))
    return out


# ---------------------------------------------------------------- safetensors


def safetensors_bytes(header: Any, data: bytes = b"", *, length: int | None = None) -> bytes:
    """A safetensors file from a header (a dict, or raw bytes) and a data section."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(blob) if length is None else length) + blob + data


def safetensors_spans(data: bytes) -> dict[str, tuple[int, int]]:
    """name -> absolute (begin, end) byte range of every tensor a clean file declares."""
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    return {k: (8 + n + v["data_offsets"][0], 8 + n + v["data_offsets"][1]) for k, v in header.items()}


def same_points(got: dict[str, list[tuple[int, float]]], expected: dict[str, list[tuple[int, float]]]) -> bool:
    """Equal tag by tag, step by step, NaN equal to NaN."""

    def same(x: tuple[int, float], y: tuple[int, float]) -> bool:
        return x[0] == y[0] and (x[1] == y[1] or (math.isnan(x[1]) and math.isnan(y[1])))

    return set(got) == set(expected) and all(
        len(got[t]) == len(expected[t]) and all(same(x, y) for x, y in zip(got[t], expected[t], strict=True))
        for t in expected
    )


# ---------------------------------------------------------------- zip archives written by hand


def zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``mib`` MiB of zeros, built without inflating it: 1 MiB blocks
    that reset the dictionary (Z_FULL_FLUSH) repeat byte for byte, then a final empty block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    zero = bytes(1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(zero, crc)
    return block * mib + b"\x03\x00", crc


def raw_zip(entries: list[tuple[str, int, bytes, int, int, int]]) -> bytes:
    """A zip written by hand: (name, method, stored bytes, crc, declared size, flags) per member,
    so headers can lie about sizes or names."""
    out = io.BytesIO()
    central = []
    for name, method, comp, crc, size, flags in entries:
        off = out.tell()
        nb = name.encode()
        head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0, crc, len(comp), size, len(nb), 0)
        out.write(head + nb + comp)
        fields = (0x02014B50, 20, 20, flags, method, 0, 0, crc, len(comp), size, len(nb), 0, 0, 0, 0, 0, off)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", *fields) + nb)
    cd = out.tell()
    body = b"".join(central)
    out.write(body + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(body), cd, 0))
    return out.getvalue()


def stored(name: str, data: bytes, flags: int = 0) -> tuple[str, int, bytes, int, int, int]:
    return (name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data), flags)


# ---------------------------------------------------------------- Keras H5 written by hand


def keras2_dense_group(f: Any) -> Any:
    """Give an open, empty h5py file the layout of a Keras 2 ``model.save("x.h5")`` with one
    Dense layer, and return the group its ``kernel:0`` dataset goes in (the caller makes
    that dataset: sparse, chunked, compressed or hostile)."""
    f.attrs["keras_version"] = "2.15.0"
    f.attrs["backend"] = "tensorflow"
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = [b"dense"]
    g = mw.create_group("dense")
    g.attrs["weight_names"] = [b"dense/kernel:0"]
    return g.create_group("dense")


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not: it only waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
