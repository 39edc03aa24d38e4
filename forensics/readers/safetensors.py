"""Read ``.safetensors`` checkpoints (single files and sharded sets) without any framework.

The header is parsed and validated here, not by the ``safetensors`` package: its
numpy API cannot load bfloat16 or fp8 tensors, and a broken header must become a
one-line reason, not an exception. Tensor data is never loaded whole: each tensor
is streamed from a read-only memory map in chunks into
:class:`~forensics.readers.tensorstats.StatsAccumulator`, and the pages already
read are handed back to the kernel, so memory stays bounded by the chunk size.

Failure policy: a header that cannot be trusted as a whole (bad length, not JSON,
duplicate keys) makes the file unreadable; an entry that fails validation is
skipped and makes the file partial, with the reason in the source note.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import mmap
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import tensorstats
from forensics.readers.safe_open import open_binary
from forensics.readers.tensorstats import StatsAccumulator, ml_dtype, release_pages, summarize_problems
from forensics.records import Checkpoint, ModelInfo, Source, Status, TensorStats
from forensics.util import natural_key

# The safetensors format itself refuses headers above 100 MB; a larger length
# field is corruption (or an attempt to make us allocate it).
MAX_HEADER_BYTES = 100 * 1000 * 1000
# An index only maps tensor names to file names; even a 1T-parameter model's index
# is a few MB, so anything past this is not an index.
MAX_INDEX_BYTES = 64 * 1024 * 1024

_DTYPES: dict[str, np.dtype] = {
    "BF16": tensorstats.BFLOAT16_BITS,  # no ml_dtypes needed: widened by a shift
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),  # read as bytes: a stored 2 must not be taken for anything but "true"
}
# ml_dtypes' names for the fp8 floats: that package is imported only when a file holds one.
_NARROW = {"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu"}
# Names the format defines that we recognise but do not decode (sub-byte or complex).
_UNSUPPORTED = {"F4", "F6_E2M3", "F6_E3M2", "C64", "C128"}
# at most 18 digits: a step or epoch lives in int64, and int() refuses strings past 4300 digits
_INT_STRING = re.compile(r"^\s*\d{1,18}\s*$")


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    code: str  # dtype as written in the header ("BF16")
    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int  # offsets inside the data section
    end: int
    numel: int  # the product of the shape, asked for several times per tensor


@dataclass
class _Header:
    entries: list[_Entry]
    metadata: dict[str, str]
    problems: list[str]
    data_start: int  # absolute offset of the data section
    declared: int  # tensor entries in the header, valid or not


@dataclass
class _FileResult:
    tensors: list[TensorStats]
    metadata: dict[str, str]
    problems: list[str]
    declared: int


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object_pairs_hook: a repeated key makes the whole header ambiguous."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _parse_header(fh: Any, file_size: int) -> _Header:
    """Read and validate the header of an open safetensors file."""
    if file_size < 8:
        raise UnreadableSource(f"not a safetensors file: {file_size} bytes, shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", fh.read(8))
    if length > MAX_HEADER_BYTES:
        raise UnreadableSource(f"header length {length} bytes exceeds the format's {MAX_HEADER_BYTES}-byte limit")
    if 8 + length > file_size:
        raise UnreadableSource(f"header length {length} bytes exceeds the file size ({file_size} bytes): truncated")
    raw = fh.read(length)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableSource(f"header is not UTF-8 (byte {e.start})") from None
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        raise UnreadableSource(f"header names '{e}' twice") from None
    except (ValueError, RecursionError) as e:
        raise UnreadableSource(f"header is not valid JSON: {str(e).splitlines()[0][:120]}") from None
    if not isinstance(header, dict):
        raise UnreadableSource(f"header is a JSON {type(header).__name__}, not an object")

    data_start = 8 + length
    data_len = file_size - data_start
    problems: list[str] = []
    metadata: dict[str, str] = {}
    meta = header.pop("__metadata__", None)
    if meta is not None:
        if isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()):
            metadata = dict(meta)
        else:
            problems.append("__metadata__ is not a map of strings (ignored)")

    entries: list[_Entry] = []
    for name, spec in header.items():
        entry = _validate_entry(name, spec, data_len, problems)
        if entry is not None:
            entries.append(entry)
    entries = _drop_overlaps(entries, problems)
    return _Header(entries, metadata, problems, data_start, declared=len(header))


def _validate_entry(name: str, spec: Any, data_len: int, problems: list[str]) -> _Entry | None:
    """The entry if its dtype, shape and offsets are consistent; else None and a reason."""
    if not isinstance(spec, dict):
        problems.append(f"'{name}': entry is not an object")
        return None
    code = spec.get("dtype")
    if not isinstance(code, str):
        problems.append(f"'{name}': no dtype")
        return None
    if code in _UNSUPPORTED:
        problems.append(f"'{name}': dtype {code} is not supported")
        return None
    dtype = ml_dtype(_NARROW[code]) if code in _NARROW else _DTYPES.get(code)
    if dtype is None:
        problems.append(f"'{name}': unknown dtype '{code[:20]}'")
        return None
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        problems.append(f"'{name}': shape is not a list of non-negative integers")
        return None
    offsets = spec.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        problems.append(f"'{name}': data_offsets is not a pair of integers")
        return None
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        problems.append(f"'{name}': data offsets [{begin}, {end}] lie outside the {data_len}-byte data section")
        return None
    entry = _Entry(name, code, dtype, tuple(shape), begin, end, math.prod(shape))
    expected = entry.numel * dtype.itemsize
    if end - begin != expected:
        problems.append(
            f"'{name}': {end - begin} data bytes, but shape {list(shape)} of {code} needs {expected}",
        )
        return None
    return entry


def _drop_overlaps(entries: list[_Entry], problems: list[str]) -> list[_Entry]:
    """Remove every entry whose byte range overlaps another's: which one is right cannot be told."""
    spans = sorted((e for e in entries if e.end > e.begin), key=lambda e: (e.begin, e.end))
    bad: set[str] = set()
    widest: _Entry | None = None  # the entry reaching furthest so far
    for e in spans:
        if widest is not None and e.begin < widest.end:
            problems.append(
                f"'{e.name}': data range [{e.begin}, {e.end}) overlaps '{widest.name}' [{widest.begin}, {widest.end})"
            )
            bad.update((e.name, widest.name))
        if widest is None or e.end > widest.end:
            widest = e
    return [e for e in entries if e.name not in bad]


def _chunks(mm: mmap.mmap, entry: _Entry, data_start: int, chunk_elements: int) -> Iterator[np.ndarray]:
    itemsize = entry.dtype.itemsize
    base = data_start + entry.begin
    total = entry.numel
    for first in range(0, total, chunk_elements):
        count = min(chunk_elements, total - first)
        offset = base + first * itemsize
        chunk = np.frombuffer(mm, dtype=entry.dtype, count=count, offset=offset)
        if entry.code == "BOOL":
            chunk = chunk != 0
        yield chunk
        del chunk  # the buffer export must end before the map can be closed
        release_pages(mm, offset, count * itemsize)


def _pread_chunks(fd: int, entry: _Entry, data_start: int, chunk_elements: int) -> Iterator[np.ndarray]:
    """As :func:`_chunks`, but with ``os.pread`` into fresh buffers: for a file too large to map."""
    itemsize = entry.dtype.itemsize
    base = data_start + entry.begin
    total = entry.numel
    for first in range(0, total, chunk_elements):
        count = min(chunk_elements, total - first)
        data = os.pread(fd, count * itemsize, base + first * itemsize)
        if len(data) < count * itemsize:
            raise OSError(errno.EIO, "the file got shorter while it was read")
        chunk = np.frombuffer(data, dtype=entry.dtype)
        yield chunk != 0 if entry.code == "BOOL" else chunk


class SafetensorsFile:
    """An open safetensors file: its validated header, and its tensors as streams of chunks.

    The data is memory-mapped read-only; chunks are views into the map, and the pages
    already read are handed back to the kernel. Use as a context manager; chunks must
    not outlive it.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._fh = open_binary(path)
        except OSError as e:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
        self._mm: mmap.mmap | None = None
        self._pread = False  # no map: the data is read with pread (see below)
        try:
            size = os.fstat(self._fh.fileno()).st_size
            header = _parse_header(self._fh, size)
            if size > header.data_start:
                try:
                    self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
                except OSError as e:
                    if e.errno != errno.ENOMEM:
                        raise
                    # robustness: under a memory limit (ulimit -v) a file larger than the address
                    # space left cannot be mapped at all; read it chunk by chunk instead
                    self._pread = True
                if self._mm is not None and hasattr(mmap, "MADV_SEQUENTIAL"):
                    self._mm.madvise(mmap.MADV_SEQUENTIAL)
        except OSError as e:
            self.close()
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
        except BaseException:
            self.close()
            raise
        self._header = header
        self.entries: dict[str, _Entry] = {e.name: e for e in header.entries}
        self.metadata = header.metadata
        self.problems = header.problems
        self.declared = header.declared

    def dtype_name(self, name: str) -> str:
        entry = self.entries[name]
        return "bool" if entry.code == "BOOL" else tensorstats.dtype_name(entry.dtype)

    def chunks(self, name: str, chunk_elements: int | None = None) -> Iterator[np.ndarray]:
        """The tensor's elements in flat chunks of ``chunk_elements`` (the last may be shorter)."""
        entry = self.entries[name]
        if (self._mm is None and not self._pread) or not entry.numel:
            return iter(())
        step = max(1, chunk_elements or tensorstats.DEFAULT_CHUNK_ELEMENTS)
        if self._mm is None:
            return _pread_chunks(self._fh.fileno(), entry, self._header.data_start, step)
        return _chunks(self._mm, entry, self._header.data_start, step)

    def whole(self, name: str) -> np.ndarray:
        """A small tensor's elements as one flat array (for a tensor of a few elements)."""
        entry = self.entries[name]
        return next(iter(self.chunks(name, max(1, entry.numel))), np.empty(0, entry.dtype))

    def close(self) -> None:
        if self._mm is not None:
            # a chunk still referenced by an exception's traceback keeps the map exported; do not
            # let BufferError hide that exception (the map is released when the chunk is)
            with contextlib.suppress(BufferError):
                self._mm.close()
            self._mm = None
        self._fh.close()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stat_entry(st: SafetensorsFile, name: str, shape: tuple[int, ...], chunk_elements: int | None) -> TensorStats:
    # A function of its own: the last chunk (a view into the map) dies with its frame.
    acc = StatsAccumulator(name, st.dtype_name(name), shape)
    for chunk in st.chunks(name, chunk_elements):
        acc.update(chunk)
    return acc.result()


# Small tensors are folded together (tensorstats.small_tensors_stats) this many elements at a time.
_SMALL_BATCH_ELEMENTS = 1 << 18


def _stat_small(st: SafetensorsFile, names: list[str]) -> list[TensorStats]:
    # A function of its own, as _stat_entry: the views into the map die with its frame.
    chunks = [st.whole(n) for n in names]
    shapes = [st.entries[n].shape for n in names]
    return tensorstats.small_tensors_stats(names, st.dtype_name(names[0]), shapes, chunks)


def _read_file(path: Path, chunk_elements: int | None) -> _FileResult:
    with SafetensorsFile(path) as st:
        tensors: list[TensorStats] = []
        small: dict[str, list[str]] = {}  # dtype -> small tensors not folded yet
        held = 0
        try:
            for name, entry in st.entries.items():
                if entry.numel > tensorstats.SMALL_TENSOR_ELEMENTS or (chunk_elements or entry.numel) < entry.numel:
                    tensors.append(_stat_entry(st, name, entry.shape, chunk_elements))
                    continue
                small.setdefault(st.dtype_name(name), []).append(name)
                held += entry.numel
                if held >= _SMALL_BATCH_ELEMENTS:
                    for names in small.values():
                        tensors.extend(_stat_small(st, names))
                    small.clear()
                    held = 0
            for names in small.values():
                tensors.extend(_stat_small(st, names))
        except OSError as e:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    tensors.sort(key=lambda t: natural_key(t.name))
    return _FileResult(tensors, st.metadata, st.problems, st.declared)


def _int_or_none(value: Any) -> int | None:
    if _is_int(value):
        return int(value)
    if isinstance(value, str) and _INT_STRING.match(value):
        return int(value)
    return None


def _internal_step(metadata: dict[str, Any]) -> tuple[int | None, int | None]:
    """(step, epoch) that the writer stored in the metadata, if any."""
    step = None
    for key in ("global_step", "step"):
        step = _int_or_none(metadata.get(key))
        if step is not None:
            break
    return step, _int_or_none(metadata.get("epoch"))


_FRAMEWORKS = {"pt": "pytorch", "tf": "tensorflow", "flax": "flax", "np": "numpy", "mlx": "mlx", "paddle": "paddle"}


def _model_info(metadata: dict[str, str]) -> ModelInfo | None:
    fmt = metadata.get("format")
    return ModelInfo(framework=_FRAMEWORKS.get(fmt, fmt)) if fmt else None


def _finish(
    source: Source,
    tensors: list[TensorStats],
    metadata: dict[str, str],
    problems: list[str],
    shards: tuple[str, ...] = (),
) -> Checkpoint:
    step, epoch = _internal_step(metadata)
    status = Status.PARTIAL if problems else Status.OK
    return Checkpoint(
        source=dataclasses.replace(source, status=status, note=summarize_problems(problems) if problems else None),
        format="safetensors",
        step=step,
        step_origin="internal" if step is not None else None,
        epoch=epoch,
        tensors=tuple(tensors),
        model=_model_info(metadata),
        shards=shards,
        metadata=metadata,
    )


def read_safetensors(path: Path, source: Source, *, chunk_elements: int | None = None) -> Checkpoint:
    """Statistics of every tensor in one safetensors file, names in natural order.

    ``chunk_elements`` bounds the elements folded at a time (tests force it small).
    """
    result = _read_file(path, chunk_elements)
    if result.declared and not result.tensors:
        raise UnreadableSource(f"no tensor entry is valid: {summarize_problems(result.problems)}")
    return _finish(source, result.tensors, result.metadata, result.problems)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _relative(named: Path, resolved: Path, root: Path) -> str:
    """The shard's path relative to the run dir as the index names it (symlinks kept)."""
    lexical = Path(os.path.normpath(named.absolute()))
    if _inside(lexical, root.absolute()):
        return lexical.relative_to(root.absolute()).as_posix()
    return resolved.relative_to(root.resolve()).as_posix()


def read_safetensors_index(path: Path, source: Source, root: Path, *, chunk_elements: int | None = None) -> Checkpoint:
    """One logical checkpoint from a ``*.safetensors.index.json`` and the shards it names.

    Shards are resolved against the index's folder and must lie inside ``root`` (the
    run directory, symlinks resolved): an index is data, and must not make us read
    ``/etc`` or another user's files. A missing or refused shard makes the result
    partial; no readable shard at all makes it unreadable.
    """
    try:
        with open_binary(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_INDEX_BYTES:
                raise UnreadableSource(f"index is {size} bytes, more than the {MAX_INDEX_BYTES}-byte cap for an index")
            raw = f.read()
        index = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        raise UnreadableSource(f"index names '{e}' twice") from None
    except UnicodeDecodeError:
        raise UnreadableSource("index is not UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise UnreadableSource(f"index is not valid JSON: {str(e).splitlines()[0][:120]}") from None
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise UnreadableSource("index has no weight_map object")

    root_abs = root.resolve()
    base = path.parent
    problems: list[str] = []
    wanted: dict[str, list[str]] = {}  # shard file -> tensor names mapped to it
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            problems.append(f"'{tensor}': shard name is not a string")
            continue
        wanted.setdefault(shard, []).append(tensor)

    shard_paths: list[str] = []
    tensors: dict[str, TensorStats] = {}
    metadata: dict[str, str] = {}
    any_read = False
    for shard in sorted(wanted, key=natural_key):
        try:
            target = (base / shard).resolve()
            is_file = target.is_file()
        except (OSError, RuntimeError, ValueError) as e:
            # robustness: the index is data; a NUL byte (ValueError), a name too long (OSError)
            # or a symlink loop (RuntimeError) in a shard name costs that shard only
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            problems.append(f"shard '{shard[:80]}' cannot be opened: {reason[:80]}")
            continue
        if not _inside(target, root_abs):
            problems.append(f"shard '{shard}' lies outside the run directory: refused")
            continue
        shard_paths.append(_relative(base / shard, target, root))
        if not is_file:
            what = "is not a regular file" if target.exists() else "is missing"
            problems.append(f"shard '{shard}' {what} ({len(wanted[shard])} tensors not read)")
            continue
        try:
            result = _read_file(target, chunk_elements)
        except UnreadableSource as e:
            problems.append(f"shard '{shard}': {e}")
            continue
        any_read = True
        problems.extend(f"shard '{shard}': {p}" for p in result.problems)
        if not metadata:
            metadata = dict(result.metadata)
        for t in result.tensors:
            if t.name in tensors:
                problems.append(f"'{t.name}' is stored in two shards (second ignored)")
                continue
            tensors[t.name] = t
        absent = [n for n in wanted[shard] if n not in tensors]
        if absent:
            problems.append(f"shard '{shard}' lacks {len(absent)} tensors the index maps to it (first: '{absent[0]}')")
    if not any_read:
        raise UnreadableSource(f"no shard could be read: {summarize_problems(problems)}")

    index_meta = index.get("metadata")
    if isinstance(index_meta, dict):
        for key, value in index_meta.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                metadata.setdefault(str(key), str(value))
    ordered = sorted(tensors.values(), key=lambda t: natural_key(t.name))
    return _finish(source, ordered, metadata, problems, tuple(shard_paths))
