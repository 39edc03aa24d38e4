"""TensorFlow checkpoint bundles (``tf.train.Checkpoint``, Keras ``save_weights`` in TF
format, ``tf.compat.v1.train.Saver``, a SavedModel's ``variables/``), read without TensorFlow.

A bundle is ``PREFIX.index`` and its data shards ``PREFIX.data-00000-of-0000N``:

- The index is a LevelDB-format table (TensorFlow's ``core/lib/io/table``): data
  blocks of prefix-compressed keys with restart points, an index block of block
  handles, a 48-byte footer ending in the table magic. Every block carries a type
  byte (none or Snappy) and a masked CRC32C. No well-kept Python package reads this
  table format without LevelDB's native library (``plyvel`` needs it installed, and
  reads only LevelDB directories), and the subset a bundle uses is small, so it is
  parsed here, every length and offset checked against the file. TensorFlow writes
  its bundle indexes uncompressed; a Snappy block from another writer is inflated with
  ``cramjam`` when it is installed (the optional ``snappy`` extra).
- Key ``""`` holds a ``BundleHeaderProto`` (shard count, byte order); every other key
  a ``BundleEntryProto`` (dtype, shape, shard, offset, size, CRC32C of the bytes).
  ``tensorboard`` ships the compiled protos these refer to (``TensorShapeProto``,
  ``DataType``, ``VersionDef``) but not the two bundle messages, so their descriptor
  is declared here and parsed by ``protobuf`` itself (no hand-written wire format).
- Tensor bytes are read from the shard by offset, in bounded chunks, straight into
  :class:`~forensics.readers.tensorstats.StatsAccumulator`; their CRC32C is checked as
  they stream (``google-crc32c``, as for TFRecords).

Object-based checkpoints (TF2) also hold ``_CHECKPOINTABLE_OBJECT_GRAPH``, a
``TrackableObjectGraph`` (compiled in ``tensorboard``): it tells which keys are the
model's variables (named by their path from the model, e.g.
``model/layer_with_weights-0/kernel``), which are optimizer slots of which variable
(Keras 2's ``slot_variables``, Keras 3's ``_momentums``/``_velocities`` lists) and which
hold the optimizer's step and learning rate.

Failure policy, as for the other readers: an index that cannot be trusted as a whole
(not a table, bad footer or block) makes the bundle unreadable, with a one-line reason;
an entry that fails validation (unknown dtype, a size that does not match its shape,
an offset past its shard, a damaged CRC, a missing shard) costs that tensor and makes
the bundle partial.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import math
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import tensorstats
from forensics.readers.safe_open import open_fd
from forensics.readers.tensorstats import StatsAccumulator, layer_of, summarize_problems
from forensics.readers.text import read_capped_bytes
from forensics.records import (
    Checkpoint,
    LayerUpdate,
    ModelInfo,
    OptimizerState,
    ParamGroup,
    Source,
    Status,
    TensorStats,
)
from forensics.util import natural_key

# An index holds ~100 bytes per tensor: a million-tensor model's is ~100 MB. Past this
# it is not a bundle index (or an attempt to make us read it all).
MAX_INDEX_BYTES = 256 * 1024 * 1024
# TensorFlow cuts data blocks at 4 KiB (options.block_size); a block larger than this,
# once inflated, is corruption.
MAX_BLOCK_BYTES = 64 * 1024 * 1024
# Entries of one index, slices included; past this the rest are not read (and the bundle is
# partial). Each costs a few hundred bytes once parsed; the largest models hold ~100,000 tensors.
MAX_ENTRIES = 1_000_000
# A bundle saved by N devices or a sharding policy has N shards; more is a lying header.
MAX_SHARDS = 100_000
# The object graph is a few KB per thousand variables.
MAX_OBJECT_GRAPH_BYTES = 64 * 1024 * 1024
MAX_GRAPH_NODES = 2_000_000

TABLE_MAGIC = 0xDB4775248B80FB57  # the last 8 bytes of a LevelDB/TensorFlow table (little-endian)
FOOTER_BYTES = 48  # two block handles padded to 40 bytes, then the magic
BLOCK_TRAILER_BYTES = 5  # compression type, masked CRC32C
_NO_COMPRESSION, _SNAPPY = 0, 1
_NOT_A_TABLE = "no table magic"
_MASK_DELTA = 0xA282EAD8
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Adam's betas and epsilon are constructor arguments, not variables: a TF checkpoint does
# not store them. The update sizes assume Keras' defaults (tf.keras and Keras 3 alike).
KERAS_ADAM_BETAS = (0.9, 0.999)
KERAS_ADAM_EPSILON = 1e-7

# DataType enum (tensorflow/core/framework/types.proto) -> numpy dtype; ml_dtypes' narrow
# floats by name, imported only when a bundle holds one.
_DTYPES: dict[int, np.dtype | str] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("u1"),  # bool, one byte each: read as bytes, reported as bool
    14: tensorstats.BFLOAT16_BITS,  # bfloat16: widened by a shift, no ml_dtypes import
    17: np.dtype("<u2"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
    24: "float8_e5m2",
    25: "float8_e4m3fn",
    26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz",
}
_DT_BOOL, _DT_STRING = 10, 7
# Entries that hold no numbers: strings, resource handles, variants, complex, quantized, sub-byte.
_NOT_NUMERIC = {7: "string", 20: "resource", 21: "variant", 8: "complex64", 18: "complex128"}

_SHARD_NAME = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_ITERATION_NAMES = ("_iterations", "iterations", "iter")
_LR_NAMES = ("_learning_rate", "learning_rate", "lr")
_OPTIMIZER_LISTS_NOT_SLOTS = {"_variables", "variables", "_trainable_variables", "_index_dict"}


# ---------------------------------------------------------------- the table


def _varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """A base-128 varint at ``pos`` (at most 10 bytes, before ``end``): (value, next position)."""
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("a varint runs past its block")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _unmask(crc: int) -> int:
    rot = (crc - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    import google_crc32c

    return int(google_crc32c.extend(crc, bytes(data) if isinstance(data, memoryview) else data))


def _snappy(raw: bytes | memoryview) -> bytes:
    try:
        import cramjam
    except ImportError:
        raise ValueError("a Snappy-compressed index block needs the optional 'cramjam' package") from None
    # the uncompressed length leads the block: refuse a bomb before inflating it
    length, _ = _varint(raw, 0, min(len(raw), 10))
    if length > MAX_BLOCK_BYTES:
        raise ValueError(f"a Snappy block declares {length} bytes, more than the {MAX_BLOCK_BYTES}-byte cap")
    try:
        return bytes(cramjam.snappy.decompress_raw(bytes(raw)))
    except Exception as e:  # cramjam raises its own DecompressionError
        raise ValueError(f"a Snappy block does not inflate ({str(e)[:60]})") from None


def _block(data: bytes, handle: tuple[int, int], what: str) -> bytes | memoryview:
    """The contents of the block at ``handle`` (offset, size), its CRC checked, inflated."""
    offset, size = handle
    if offset + size + BLOCK_TRAILER_BYTES > len(data) - FOOTER_BYTES:
        raise ValueError(f"the {what} block [{offset}, +{size}) lies past the end of the table")
    view = memoryview(data)
    body = view[offset : offset + size]
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if _unmask(stored) != _crc32c(view[offset : offset + size + 1]):
        raise ValueError(f"the {what} block at byte {offset} fails its CRC32C check")
    if kind == _NO_COMPRESSION:
        return body
    if kind == _SNAPPY:
        return _snappy(body)
    raise ValueError(f"the {what} block at byte {offset} has unknown compression type {kind}")


def _entries(block: bytes | memoryview, what: str) -> Iterator[tuple[bytes, bytes | memoryview]]:
    """(key, value) of each entry of a block, keys rebuilt from their shared prefixes."""
    n = len(block)
    if n < 4:
        raise ValueError(f"the {what} block is {n} bytes, too short for its restart count")
    (restarts,) = struct.unpack_from("<I", block, n - 4)
    if restarts > (n - 4) // 4:
        raise ValueError(f"the {what} block declares {restarts} restart points, more than it can hold")
    end = n - 4 - 4 * restarts
    pos = 0
    key = b""
    while pos < end:
        shared, pos = _varint(block, pos, end)
        unshared, pos = _varint(block, pos, end)
        length, pos = _varint(block, pos, end)
        if shared > len(key) or pos + unshared + length > end:
            raise ValueError(f"an entry of the {what} block at byte {pos} runs past the block")
        key = key[:shared] + bytes(block[pos : pos + unshared])
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def read_table(data: bytes) -> Iterator[tuple[bytes, bytes | memoryview]]:
    """Every (key, value) of a LevelDB-format table held in ``data``, in key order.

    Raises ValueError with one sentence when the table cannot be trusted.
    """
    if len(data) < FOOTER_BYTES:
        raise ValueError(f"{_NOT_A_TABLE}: {len(data)} bytes, shorter than a table's {FOOTER_BYTES}-byte footer")
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != TABLE_MAGIC:
        raise ValueError(f"{_NOT_A_TABLE} at the end: not a TensorFlow checkpoint index (or cut short)")
    foot = len(data) - FOOTER_BYTES
    pos = foot
    handles = []
    for _ in range(2):  # metaindex, then index
        offset, pos = _varint(data, pos, foot + 40)
        size, pos = _varint(data, pos, foot + 40)
        handles.append((offset, size))
    index = _block(data, handles[1], "index")
    last: bytes | None = None
    for _, value in _entries(index, "index"):
        offset, p = _varint(value, 0, len(value))
        size, _ = _varint(value, p, len(value))
        if size > MAX_BLOCK_BYTES:
            raise ValueError(f"a data block declares {size} bytes, more than the {MAX_BLOCK_BYTES}-byte cap")
        for key, entry in _entries(_block(data, (offset, size), "data"), "data"):
            # keys are unique and sorted: an index naming one block twice (work without end) stops here
            if last is not None and key <= last:
                raise ValueError("the index's keys are repeated or out of order: its blocks are damaged")
            last = key
            yield key, entry


# ---------------------------------------------------------------- the bundle protos


@cache
def _protos() -> tuple[Any, Any]:
    """(BundleHeaderProto, BundleEntryProto) message classes, declared over tensorboard's protos."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from tensorboard.compat.proto import tensor_shape_pb2, types_pb2, versions_pb2

    pool = descriptor_pool.Default()
    name = "forensics/tensor_bundle.proto"
    try:
        pool.FindFileByName(name)
    except KeyError:
        F = descriptor_pb2.FieldDescriptorProto
        one, many = F.LABEL_OPTIONAL, F.LABEL_REPEATED
        message = F.TYPE_MESSAGE
        # (message, field, number, type, label, message type); enums are declared as their int32 numbers
        fields = [
            ("BundleHeaderProto", "num_shards", 1, F.TYPE_INT32, one, ""),
            ("BundleHeaderProto", "endianness", 2, F.TYPE_INT32, one, ""),  # 0 little, 1 big
            ("BundleHeaderProto", "version", 3, message, one, ".tensorboard.VersionDef"),
            ("BundleEntryProto", "dtype", 1, F.TYPE_INT32, one, ""),  # a DataType number
            ("BundleEntryProto", "shape", 2, message, one, ".tensorboard.TensorShapeProto"),
            ("BundleEntryProto", "shard_id", 3, F.TYPE_INT32, one, ""),
            ("BundleEntryProto", "offset", 4, F.TYPE_INT64, one, ""),
            ("BundleEntryProto", "size", 5, F.TYPE_INT64, one, ""),
            ("BundleEntryProto", "crc32c", 6, F.TYPE_FIXED32, one, ""),
            ("BundleEntryProto", "slices", 7, message, many, ".forensics.tfbundle.TensorSliceProto"),
            # tensorflow/core/framework/tensor_slice.proto: a start and (unless the whole dimension) a length
            ("TensorSliceProto", "extent", 1, message, many, ".forensics.tfbundle.TensorSliceProto.Extent"),
        ]
        fdp = descriptor_pb2.FileDescriptorProto(
            name=name,
            package="forensics.tfbundle",
            syntax="proto3",
            dependency=[tensor_shape_pb2.DESCRIPTOR.name, types_pb2.DESCRIPTOR.name, versions_pb2.DESCRIPTOR.name],
        )
        messages = {m: fdp.message_type.add(name=m) for m in dict.fromkeys(f[0] for f in fields)}
        for msg, field_name, number, kind, label, type_name in fields:
            named = {"type_name": type_name} if type_name else {}
            messages[msg].field.add(name=field_name, number=number, type=kind, label=label, **named)
        extent = messages["TensorSliceProto"].nested_type.add(name="Extent")
        extent.field.add(name="start", number=1, type=F.TYPE_INT64, label=one)
        extent.field.add(name="length", number=2, type=F.TYPE_INT64, label=one, oneof_index=0)
        extent.oneof_decl.add(name="has_length")
        pool.Add(fdp)
    classes = []
    for msg in ("BundleHeaderProto", "BundleEntryProto"):
        desc = pool.FindMessageTypeByName(f"forensics.tfbundle.{msg}")
        get = getattr(message_factory, "GetMessageClass", None)
        classes.append(get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc))
    return classes[0], classes[1]


# ---------------------------------------------------------------- the bundle


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    dtype_code: int
    dtype: np.dtype | None  # None: not numeric (string, resource, ...) or unknown
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    parts: tuple[Entry, ...] = ()  # a variable saved in slices (a sharding policy): its slices, in key order
    extents: tuple[tuple[tuple[int, int], ...], ...] = ()  # (start, length) per dimension of each part

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype_name(self) -> str:
        if self.dtype_code == _DT_BOOL:
            return "bool"
        return tensorstats.dtype_name(self.dtype) if self.dtype is not None else f"dtype {self.dtype_code}"


class BadTensor(ValueError):
    """A tensor whose stored bytes cannot be trusted (CRC mismatch, cut short)."""


def _slice_name(key: bytes) -> str | None:
    """The variable a slice entry belongs to. Slice keys are TensorFlow's OrderedCode of
    (0, name, rank, start/length per dimension): after the leading 0, the name is escaped
    (``00`` as ``00 ff``, ``ff`` as ``ff 00``) and ends at ``00 01``."""
    out = bytearray()
    i, n = 1, len(key)
    while i + 1 < n:
        b, nxt = key[i], key[i + 1]
        if b == 0 and nxt == 1:
            return out.decode("utf-8", "replace")
        if (b == 0 and nxt == 0xFF) or (b == 0xFF and nxt == 0):
            out.append(b)
            i += 2
            continue
        out.append(b)
        i += 1
    return None


def shard_paths(prefix: Path, num_shards: int) -> list[Path]:
    return [prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{num_shards:05d}") for i in range(num_shards)]


class TFBundle:
    """An open bundle: its validated entries, and their tensors as streams of chunks.

    Shards are opened when first read, through the safe open; a missing or refused
    shard costs the tensors stored in it. Use as a context manager.
    """

    def __init__(self, index: Path) -> None:
        self.index = index
        self.prefix = index.with_name(index.name[: -len(".index")] if index.name.endswith(".index") else index.name)
        self.problems: list[str] = []
        self.entries: dict[str, Entry] = {}
        self.declared = 0
        self.object_graph: bytes | None = None
        self._fds: dict[int, int | None] = {}
        self._sizes: dict[int, int] = {}
        data = read_capped_bytes(index, "the index", MAX_INDEX_BYTES)
        header_cls, entry_cls = _protos()
        from google.protobuf.message import DecodeError

        header = None
        slices: dict[str, list[Entry]] = {}  # sliced variable -> its slices, in key order
        self._sliced: dict[str, list[tuple[tuple[int, int], ...]]] = {}  # sliced variable -> its slices' extents
        seen = 0
        try:
            for key, value in read_table(data):
                if key == b"":
                    header = header_cls.FromString(bytes(value))
                    continue
                seen += 1
                if seen > MAX_ENTRIES:  # said first: it is why the bundle is partial
                    self.problems.insert(0, f"more than {MAX_ENTRIES} entries: the rest were not read")
                    break
                if key[:1] == b"\x00":
                    slice_of = _slice_name(key)
                    try:
                        part = entry_cls.FromString(bytes(value))
                    except DecodeError:
                        part = None
                    if slice_of is None or part is None:
                        self.problems.append("an entry of a sliced variable is damaged")
                        continue
                    slice_entry = self._validate(f"{slice_of} (slice {len(slices.get(slice_of, []))})", part)
                    if slice_entry is not None:
                        slices.setdefault(slice_of, []).append(slice_entry)
                    continue
                self.declared += 1
                name = key.decode("utf-8", "replace")
                try:
                    proto = entry_cls.FromString(bytes(value))
                except DecodeError:
                    self.problems.append(f"'{name[:80]}': its entry is not a BundleEntryProto")
                    continue
                entry = self._validate(name, proto)
                if entry is not None:
                    self.entries[name] = entry
        except ValueError as e:
            if header is None and not self.entries:
                raise UnreadableSource(str(e)) from None
            self.problems.append(f"index damaged after {self.declared} entries: {e}")
        except DecodeError:
            raise UnreadableSource("the index header is not a BundleHeaderProto") from None
        if header is None:
            raise UnreadableSource("the index has no bundle header (key ''): not a TensorFlow checkpoint index")
        self.num_shards = int(header.num_shards)
        self.big_endian = int(header.endianness) == 1
        if not 1 <= self.num_shards <= MAX_SHARDS:
            raise UnreadableSource(f"the header declares {self.num_shards} data shards")
        self._join_slices(slices)
        for name, e in list(self.entries.items()):
            if e.shard >= self.num_shards or any(p.shard >= self.num_shards for p in e.parts):
                self.problems.append(f"'{name}': shard {e.shard}, but the bundle has {self.num_shards}")
                del self.entries[name]
        self.shard_files = shard_paths(self.prefix, self.num_shards)
        graph = self.entries.pop(OBJECT_GRAPH_KEY, None)
        if graph is not None:
            self.object_graph = self._read_string(graph)

    def _join_slices(self, slices: dict[str, list[Entry]]) -> None:
        """Attach each sliced variable's slices to its entry, when they add up to the whole of it."""
        for name, declared in self._sliced.items():
            whole = self.entries.get(name)
            parts = slices.pop(name, [])
            if whole is None:
                continue
            # slice keys sort by (start, length) per dimension, a whole dimension's length as -1
            extents = sorted(declared)
            full = [
                tuple((s, n if n >= 0 else dim - s) for (s, n), dim in zip(ext, whole.shape, strict=False))
                for ext in extents
            ]
            fits = len(parts) == len(full) and all(
                len(ext) == len(whole.shape)
                and part.shape == tuple(n for _, n in ext)
                and all(s >= 0 and s + n <= dim for (s, n), dim in zip(ext, whole.shape, strict=True))
                for part, ext in zip(parts, full, strict=False)
            )
            if not fits or sum(p.numel for p in parts) != whole.numel or whole.dtype is None:
                self.problems.append(
                    f"'{name[:80]}': {len(parts)} readable slices of the {len(declared)} its entry declares,"
                    " or they do not tile its shape: not read"
                )
                del self.entries[name]
                continue
            if any(p.dtype_code != whole.dtype_code for p in parts):
                self.problems.append(f"'{name[:80]}': its slices are of another dtype: not read")
                del self.entries[name]
                continue
            self.entries[name] = dataclasses.replace(whole, parts=tuple(parts), extents=tuple(full))
        for name in slices:
            self.problems.append(f"slices of '{name[:80]}', a variable the index does not declare: ignored")

    def _validate(self, name: str, p: Any) -> Entry | None:
        if p.shape.unknown_rank or any(d.size < 0 for d in p.shape.dim):
            self.problems.append(f"'{name[:80]}': shape is not fully known")
            return None
        shape = tuple(int(d.size) for d in p.shape.dim)
        code = int(p.dtype)
        spec = _DTYPES.get(code)
        dtype = tensorstats.ml_dtype(spec) if isinstance(spec, str) else spec
        if p.shard_id < 0 or p.offset < 0 or p.size < 0:
            self.problems.append(f"'{name[:80]}': negative shard, offset or size")
            return None
        entry = Entry(name, code, dtype, shape, int(p.shard_id), int(p.offset), int(p.size), int(p.crc32c))
        if len(p.slices):
            extents = []
            for sl in p.slices:
                dims = [(int(x.start), int(x.length) if x.HasField("length") else -1) for x in sl.extent]
                extents.append(tuple(dims))
            self._sliced[name] = extents
            return entry  # its bytes are in its slices' entries
        if dtype is not None and entry.numel * dtype.itemsize != entry.size:
            self.problems.append(
                f"'{name[:80]}': {entry.size} data bytes, but shape {list(shape)} of {entry.dtype_name}"
                f" needs {entry.numel * dtype.itemsize}"
            )
            return None
        if dtype is None and code not in _NOT_NUMERIC:
            self.problems.append(f"'{name[:80]}': dtype {code} is not supported")
        return entry

    # ------------------------------------------------ shards

    def _fd(self, shard: int) -> int | None:
        if shard not in self._fds:
            path = self.shard_files[shard]
            try:
                fd: int | None = open_fd(path)
                self._sizes[shard] = os.fstat(fd).st_size  # type: ignore[arg-type]
            except OSError as e:
                reason = "is missing" if e.errno == errno.ENOENT else f"cannot be read ({e.strerror or e})"
                count = sum(1 for x in self.entries.values() if x.shard == shard)
                self.problems.append(f"data shard '{path.name}' {reason} ({count} tensors not read)")
                fd = None
            self._fds[shard] = fd
        return self._fds[shard]

    def readable(self, entry: Entry) -> str | None:
        """Why the entry's bytes cannot be read, or None (opens its shard)."""
        if entry.parts:
            return next((r for r in map(self.readable, entry.parts) if r is not None), None)
        fd = self._fd(entry.shard)
        if fd is None:
            return "its data shard is missing"
        shard_size = self._sizes[entry.shard]
        if entry.offset + entry.size > shard_size:
            return (
                f"bytes [{entry.offset}, {entry.offset + entry.size}) lie past the end of"
                f" '{self.shard_files[entry.shard].name}' ({shard_size} bytes)"
            )
        return None

    def raw_chunks(self, entry: Entry, chunk_bytes: int) -> Iterator[bytes]:
        """The entry's bytes in pieces, the CRC32C checked after the last (raises BadTensor)."""
        fd = self._fd(entry.shard)
        if fd is None:
            raise BadTensor("its data shard is missing")
        crc = 0
        done = 0
        while done < entry.size:
            n = min(chunk_bytes, entry.size - done)
            piece = os.pread(fd, n, entry.offset + done)
            if len(piece) < n:
                raise BadTensor("its data shard got shorter while it was read")
            crc = _crc32c(piece, crc)
            done += n
            yield piece
        if _unmask(entry.crc32c) != crc:
            raise BadTensor("its bytes fail their CRC32C check (the data shard is damaged)")

    def chunks(self, entry: Entry, chunk_elements: int | None = None) -> Iterator[np.ndarray]:
        """The numeric entry's elements as flat arrays of its dtype (little-endian), CRC checked."""
        assert entry.dtype is not None
        if entry.parts:
            for part in entry.parts:
                yield from self.chunks(part, chunk_elements)
            return
        itemsize = entry.dtype.itemsize
        step = max(1, chunk_elements or tensorstats.DEFAULT_CHUNK_ELEMENTS) * itemsize
        for piece in self.raw_chunks(entry, step):
            if self.big_endian and itemsize > 1:
                raw = np.frombuffer(piece, dtype=f">u{itemsize}").byteswap()
                chunk = raw.view(entry.dtype)
            else:
                chunk = np.frombuffer(piece, dtype=entry.dtype)
            yield chunk != 0 if entry.dtype_code == _DT_BOOL else chunk

    def _read_string(self, entry: Entry) -> bytes | None:
        """A scalar string entry (the object graph): varint length, masked CRC of the length, bytes."""
        if entry.dtype_code != _DT_STRING or entry.shape != ():
            self.problems.append(f"'{entry.key}' is not a scalar string")
            return None
        if entry.size > MAX_OBJECT_GRAPH_BYTES:
            self.problems.append(f"'{entry.key}' is {entry.size} bytes, more than the {MAX_OBJECT_GRAPH_BYTES} cap")
            return None
        reason = self.readable(entry)
        if reason is not None:
            self.problems.append(f"'{entry.key}': {reason}")
            return None
        fd = self._fd(entry.shard)
        assert fd is not None
        data = os.pread(fd, entry.size, entry.offset)
        try:
            length, pos = _varint(data, 0, len(data))
        except ValueError as e:
            self.problems.append(f"'{entry.key}': {e}")
            return None
        if pos + 4 + length != len(data):
            self.problems.append(f"'{entry.key}': its string length does not match its size")
            return None
        # TensorFlow checksums a string's length as a uint32 (uint64 past 4 GiB), then the masked
        # checksum of that, then the bytes
        crc = _crc32c(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length))
        crc = _crc32c(data[pos:], crc)
        if _unmask(entry.crc32c) != crc:
            self.problems.append(f"'{entry.key}': its bytes fail their CRC32C check (the data shard is damaged)")
            return None
        return data[pos + 4 :]

    def close(self) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()

    def __enter__(self) -> TFBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- what the keys are


@dataclass
class Roles:
    """What each key of a bundle is, from its object graph (or its names when it has none)."""

    names: dict[str, str] = field(default_factory=dict)  # model variable key -> readable name
    slots: dict[str, tuple[str, str]] = field(default_factory=dict)  # slot key -> (variable key, slot name)
    optimizer_keys: set[str] = field(default_factory=set)  # other keys of the optimizer
    iterations: str | None = None  # key of the optimizer's step counter
    learning_rate: str | None = None
    betas: tuple[str, str] | None = None  # keys of beta_1, beta_2 where the optimizer keeps them (tf.keras legacy)
    loss_scale: str | None = None  # the dynamic loss scale of a mixed-precision LossScaleOptimizer
    framework: str | None = None


def _readable(path: list[str]) -> str:
    return "/".join(p.lstrip("_") or p for p in path)


def _strip_key(key: str) -> str:
    return key.removesuffix(_VALUE_SUFFIX)


def _singular(name: str) -> str:
    name = name.strip("_")
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


def roles_from_graph(graph_bytes: bytes, keys: set[str]) -> Roles:
    """The roles of the keys, from a serialized ``TrackableObjectGraph``."""
    from tensorboard.compat.proto import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(graph_bytes)
    nodes = graph.nodes
    if not nodes or len(nodes) > MAX_GRAPH_NODES:
        raise ValueError(f"the object graph has {len(nodes)} nodes")

    def key_of(i: int) -> str | None:
        if not 0 <= i < len(nodes):
            return None
        for a in nodes[i].attributes:
            if a.name == "VARIABLE_VALUE" and a.checkpoint_key in keys:
                return a.checkpoint_key
        return None

    def child(i: int, names: tuple[str, ...]) -> int | None:
        for c in nodes[i].children:
            if c.local_name in names and 0 <= c.node_id < len(nodes):
                return c.node_id
        return None

    def is_optimizer(i: int) -> bool:
        return bool(nodes[i].slot_variables) or child(i, _ITERATION_NAMES) is not None

    roles = Roles()
    # the model: breadth first from the root, never into an optimizer, first path wins
    paths: dict[int, list[str]] = {0: []}
    queue = [0]
    optimizers: list[int] = []
    for i in queue:
        for c in nodes[i].children:
            j = c.node_id
            if j in paths or not 0 <= j < len(nodes):
                continue
            paths[j] = [*paths[i], c.local_name]
            if is_optimizer(j):
                optimizers.append(j)
                continue
            queue.append(j)
            key = key_of(j)
            if key is not None and key not in roles.names:
                roles.names[key] = _readable(paths[j]) or _strip_key(key)
    model_vars_in_order = _depth_first_variables(nodes, key_of, is_optimizer)
    text = " ".join(roles.names.values())
    roles.framework = "keras3" if "/operations/" in text else "keras2" if "layer_with_weights-" in text else None
    for o in optimizers[:4]:
        # a LossScaleOptimizer (mixed precision) wraps the one that trains: its own step and LR
        # stay at 0, the inner optimizer holds the real ones and the slots; the wrapper, the loss scale
        inner = child(o, ("inner_optimizer", "_optimizer"))
        if inner is not None and is_optimizer(inner):
            scale = child(o, ("dynamic_scale", "current_loss_scale"))
            wrapped = child(o, ("loss_scale",))
            if scale is None and wrapped is not None:
                scale = child(wrapped, ("current_loss_scale",))  # tf.keras' legacy wrapper
            roles.loss_scale = roles.loss_scale or (key_of(scale) if scale is not None else None)
            o = inner
        _optimizer_roles(o, nodes, key_of, child, roles, model_vars_in_order)
    return roles


def _depth_first_variables(nodes: Any, key_of: Callable[[int], str | None], is_optimizer: Any) -> list[str]:
    """The model's variable keys in depth-first order, the order Keras tracks trainable weights in."""
    out: list[str] = []
    seen = {0}
    stack = [0]
    while stack:
        i = stack.pop()
        key = key_of(i)
        if key is not None and key not in out:
            out.append(key)
        for c in reversed(nodes[i].children):
            j = c.node_id
            if j not in seen and 0 <= j < len(nodes) and not is_optimizer(j):
                seen.add(j)
                stack.append(j)
    return out


def _optimizer_roles(
    o: int,
    nodes: Any,
    key_of: Callable[[int], str | None],
    child: Callable[[int, tuple[str, ...]], int | None],
    roles: Roles,
    model_vars: list[str],
) -> None:
    it, lr = child(o, _ITERATION_NAMES), child(o, _LR_NAMES)
    roles.iterations = roles.iterations or (key_of(it) if it is not None else None)
    roles.learning_rate = roles.learning_rate or (key_of(lr) if lr is not None else None)
    b1, b2 = child(o, ("beta_1",)), child(o, ("beta_2",))
    if b1 is not None and b2 is not None and key_of(b1) and key_of(b2):
        roles.betas = roles.betas or (key_of(b1), key_of(b2))  # type: ignore[assignment]
    # Keras 2 (OptimizerV2) and tf.compat.v1 optimizers: explicit (variable, slot name, slot) triples
    for s in nodes[o].slot_variables:
        var, slot = key_of(s.original_variable_node_id), key_of(s.slot_variable_node_id)
        if var is not None and slot is not None:
            roles.slots[slot] = (var, s.slot_name)
    # Keras 3 and tf_keras' new optimizers: lists parallel to the trainable variables
    trainable_list = child(o, ("_trainable_variables",))
    if trainable_list is not None:
        trainable = [key_of(c.node_id) for c in nodes[trainable_list].children]
    else:
        trainable = list(model_vars)
    for c in nodes[o].children:
        if c.local_name in _OPTIMIZER_LISTS_NOT_SLOTS or not 0 <= c.node_id < len(nodes):
            continue
        members = [key_of(m.node_id) for m in nodes[c.node_id].children]
        if not members or None in members or len(members) != len(trainable):
            continue
        for var, slot in zip(trainable, members, strict=True):
            if var is not None and slot is not None:
                roles.slots[slot] = (var, _singular(c.local_name))
    # everything else the optimizer holds (its flat _variables list repeats the slots)
    stack, seen = [o], {o}
    while stack and len(seen) < MAX_GRAPH_NODES:
        i = stack.pop()
        key = key_of(i)
        if key is not None:
            roles.optimizer_keys.add(key)
        for c in nodes[i].children:
            if c.node_id not in seen and 0 <= c.node_id < len(nodes):
                seen.add(c.node_id)
                stack.append(c.node_id)


# tf.compat.v1 optimizers name their slots after the variable: "dense/kernel/Adam", ".../Adam_1"
_V1_SLOTS = re.compile(r"^(?P<var>.+)/(?P<slot>Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adagrad|Ftrl|Ftrl_1)$")
_V1_SLOT_NAMES = {"Adam": "m", "Adam_1": "v", "Momentum": "momentum", "RMSProp": "rms", "RMSProp_1": "momentum"}
_OBJECT_SLOT = re.compile(r"^(?P<var>.+)/\.OPTIMIZER_SLOT/[^/]+/(?P<slot>[^/]+)/\.ATTRIBUTES/VARIABLE_VALUE$")


def roles_from_names(keys: set[str]) -> Roles:
    """The roles of the keys of a bundle without an object graph (tf.compat.v1 Saver), by name."""
    roles = Roles()
    for key in keys:
        m = _OBJECT_SLOT.match(key)
        if m and m["var"] + _VALUE_SUFFIX in keys:
            roles.slots[key] = (m["var"] + _VALUE_SUFFIX, m["slot"])
            continue
        m = _V1_SLOTS.match(key)
        if m and m["var"] in keys:
            roles.slots[key] = (m["var"], _V1_SLOT_NAMES.get(m["slot"], m["slot"].lower()))
            continue
        base = _strip_key(key)
        if base in ("global_step", "optimizer/iter", "optimizer/iterations", "optimizer/_iterations"):
            roles.iterations = key
        elif base.startswith("optimizer/") or base in ("beta1_power", "beta2_power"):
            roles.optimizer_keys.add(key)
            if base.rsplit("/", 1)[-1] in _LR_NAMES:
                roles.learning_rate = key
    for key in keys:
        if key not in roles.slots and key not in roles.optimizer_keys and key != roles.iterations:
            roles.names[key] = _strip_key(key)
    return roles


def bundle_roles(bundle: TFBundle) -> Roles:
    """The roles of a bundle's keys: from its object graph, else (or when that is damaged) by name."""
    keys = set(bundle.entries)
    if bundle.object_graph is not None:
        try:
            return roles_from_graph(bundle.object_graph, keys)
        except Exception as e:  # protobuf's DecodeError, or a graph that lies about its nodes
            bundle.problems.append(f"the object graph is unreadable ({type(e).__name__}): keys used as names")
    return roles_from_names(keys)


def model_entries(bundle: TFBundle) -> list[tuple[str, Entry]]:
    """(readable name, entry) of the model's numeric variables, in name order (for comparisons)."""
    roles = bundle_roles(bundle)
    out = [
        (name, bundle.entries[key])
        for key, name in roles.names.items()
        if key in bundle.entries and bundle.entries[key].dtype is not None and key != roles.iterations
    ]
    return sorted(out, key=lambda item: natural_key(item[0]))


# ---------------------------------------------------------------- reading it all


def _scalar(bundle: TFBundle, key: str | None) -> float | None:
    entry = bundle.entries.get(key) if key else None
    if entry is None or entry.dtype is None or entry.numel != 1 or bundle.readable(entry) is not None:
        return None
    try:
        values = [float(tensorstats.flat_native(c)[0]) for c in bundle.chunks(entry)]
    except (BadTensor, OSError):
        return None
    return values[0] if values and math.isfinite(values[0]) else None


def _stats(bundle: TFBundle, entry: Entry, name: str, layer: str | None, chunk_elements: int | None) -> TensorStats:
    acc = StatsAccumulator(name, entry.dtype_name, entry.shape, layer)
    for chunk in bundle.chunks(entry, chunk_elements):
        acc.update(chunk)
    return acc.result()


def _slot_pair(slots: dict[str, Entry]) -> tuple[Entry, Entry] | None:
    """Adam's first and second moment among a variable's slots (Keras 2 names, Keras 3 names)."""
    m = slots.get("m") or slots.get("momentum")
    v = slots.get("v") or slots.get("velocity")
    if m is None or v is None or m.shape != v.shape or m.dtype is None or v.dtype is None:
        return None
    return m, v


def _slot_evidence(
    bundle: TFBundle,
    name: str,
    layer: str,
    slots: dict[str, Entry],
    lr: float | None,
    step: float | None,
    chunk: int | None,
    out: list[TensorStats],
    betas: tuple[float, float] = KERAS_ADAM_BETAS,
) -> tuple[str, float, int, int] | None:
    """Statistics of a variable's slots into ``out``, and (kind, squared next step, elements near
    eps, elements) when the slots tell the step: Adam's moments, or Keras' SGD momentum."""
    pair = _slot_pair(slots)
    if pair is not None and lr is not None:
        from forensics.readers.torch_checkpoint import adam_update

        m, v = pair
        slot_m = next(k for k, e in slots.items() if e is m)
        slot_v = next(k for k, e in slots.items() if e is v)
        accs = (
            StatsAccumulator(f"{name}.{slot_m}", m.dtype_name, m.shape, layer),
            StatsAccumulator(f"{name}.{slot_v}", v.dtype_name, v.shape, layer),
        )
        pairs = zip(bundle.chunks(m, chunk), bundle.chunks(v, chunk), strict=True)
        b1, b2 = betas
        sq, near, n = adam_update(pairs, step or 0.0, lr, b1, b2, KERAS_ADAM_EPSILON, accs)
        out.extend(a.result() for a in accs)
        rest = {k: e for k, e in slots.items() if e is not m and e is not v}
        _slot_stats(bundle, name, layer, rest, chunk, out)
        return "adam", sq, near, n
    _slot_stats(bundle, name, layer, slots, chunk, out)
    momentum = slots.get("momentum")
    if momentum is not None and len(slots) == 1 and momentum.dtype is not None:
        # Keras keeps the last step itself as its momentum (m = momentum * m - lr * g; w += m)
        sq = 0.0
        for c in bundle.chunks(momentum, chunk):
            a = tensorstats.flat_native(c).astype(np.float64)
            sq += tensorstats.sum_of_squares(np.ascontiguousarray(a[np.isfinite(a)]))
        return "sgd_momentum", sq, 0, 0
    return None


def _slot_stats(
    bundle: TFBundle, name: str, layer: str, slots: dict[str, Entry], chunk: int | None, out: list[TensorStats]
) -> None:
    for slot_name, slot in sorted(slots.items()):
        if slot.dtype is not None and slot.numel > 1:
            out.append(_stats(bundle, slot, f"{name}.{slot_name}", layer, chunk))


def read_tf_checkpoint(path: Path, source: Source, *, chunk_elements: int | None = None) -> Checkpoint | Source:
    """Statistics of every numeric tensor of a bundle, model weights apart from optimizer state."""
    if _SHARD_NAME.search(path.name):
        raise UnreadableSource("a data shard whose .index file is missing: its tensors cannot be located")
    try:
        opened = TFBundle(path)
    except UnreadableSource as e:
        siblings = list(path.parent.glob(f"{glob.escape(path.name[: -len('.index')])}.data-*"))
        if str(e).startswith(_NOT_A_TABLE) and not siblings:
            return dataclasses.replace(source, status=Status.SKIPPED, note=f"{e}; no .data shard beside it")
        raise
    with opened as bundle:
        problems = bundle.problems
        keys = set(bundle.entries)
        roles = bundle_roles(bundle)
        lr = _scalar(bundle, roles.learning_rate)
        step_value = _scalar(bundle, roles.iterations)
        loss_scale = _scalar(bundle, roles.loss_scale)
        stored_betas = tuple(_scalar(bundle, k) for k in roles.betas) if roles.betas else None
        betas = stored_betas if stored_betas and None not in stored_betas else None
        tensors: list[TensorStats] = []
        opt_tensors: list[TensorStats] = []
        slots_of: dict[str, dict[str, Entry]] = {}
        for key, (var, slot) in roles.slots.items():
            if key in bundle.entries:
                slots_of.setdefault(var, {})[slot] = bundle.entries[key]
        updates: dict[str, list[float]] = {}
        kinds: set[str] = set()
        weight_sq: dict[str, float] = {}
        fused: set[str] = set()
        for key in sorted(keys, key=lambda k: natural_key(roles.names.get(k, k))):
            entry = bundle.entries[key]
            if entry.dtype is None or key in roles.slots or key in (roles.iterations, roles.learning_rate):
                continue
            if key == "save_counter" + _VALUE_SUFFIX:
                continue
            reason = bundle.readable(entry)
            if reason is not None:
                if "missing" not in reason:
                    problems.append(f"'{key}': {reason}")
                continue
            is_model = key in roles.names
            if not is_model and entry.numel <= 1:
                continue  # the optimizer's scalars (beta_1, beta1_power, decay): hyperparameters, not state
            name = roles.names.get(key) or _strip_key(key)
            try:
                s = _stats(bundle, entry, name, None, chunk_elements)
            except BadTensor as e:
                problems.append(f"'{key}': {e}")
                continue
            (tensors if is_model else opt_tensors).append(s)
            if not is_model:
                continue
            if s.dtype.startswith(("float", "bfloat")):
                weight_sq[s.layer] = weight_sq.get(s.layer, 0.0) + s.l2 * s.l2
            slots = {}
            for slot_name, slot in slots_of.get(key, {}).items():
                reason = bundle.readable(slot)
                if reason is None:
                    slots[slot_name] = slot
                    fused.add(slot.key)
                elif "missing" not in reason:
                    problems.append(f"'{slot.key}': {reason}")
            if not slots:
                continue
            try:
                up = _slot_evidence(
                    bundle, name, s.layer, slots, lr, step_value, chunk_elements, opt_tensors, betas or KERAS_ADAM_BETAS
                )
            except BadTensor as e:
                problems.append(f"optimizer state of '{name}': {e}")
                up = None
            if up is not None:
                kind, sq, near, n = up
                kinds.add(kind)
                acc = updates.setdefault(s.layer, [0.0, 0.0, 0.0])
                acc[0] += sq
                acc[1] += near
                acc[2] += n
        for key in sorted(roles.slots, key=natural_key):  # slots of no variable read above
            entry = bundle.entries.get(key)
            if entry is None or key in fused or entry.dtype is None or entry.numel <= 1:
                continue
            if bundle.readable(entry) is not None:
                continue
            var, slot_name = roles.slots[key]
            base = roles.names.get(var) or _strip_key(var)
            try:
                opt_tensors.append(_stats(bundle, entry, f"{base}.{slot_name}", layer_of(base), chunk_elements))
            except BadTensor as e:
                problems.append(f"'{key}': {e}")
        save_counter = _scalar(bundle, "save_counter" + _VALUE_SUFFIX)
        declared = bundle.declared
        numeric = sum(1 for e in bundle.entries.values() if e.dtype is not None)
    if numeric and not tensors and not opt_tensors:
        raise UnreadableSource(f"no tensor could be read: {summarize_problems(problems) or 'no numeric entry'}")
    if not declared:
        raise UnreadableSource(summarize_problems(problems) if problems else "the index holds no tensor entry")
    optimizer = None
    if roles.iterations or roles.learning_rate or roles.slots:
        layer_updates = tuple(
            LayerUpdate(
                layer=layer,
                update_l2=math.sqrt(acc[0]),
                weight_l2=math.sqrt(weight_sq[layer]) if layer in weight_sq else None,
                near_eps=acc[1] / acc[2] if acc[2] else None,
                kind="adam" if acc[2] else "sgd_momentum",
            )
            for layer, acc in updates.items()
        )
        name = "adam" if "adam" in kinds else "sgd" if "sgd_momentum" in kinds else None
        optimizer = OptimizerState(
            name=name,
            step=int(step_value) if step_value is not None else None,
            groups=(ParamGroup(lr=lr, params=len(slots_of) or len(tensors), betas=betas),) if lr is not None else (),
            layers=layer_updates,
            loss_scale=loss_scale,
        )
    in_saved_model = path.parent.name == "variables" and (path.parent.parent / "saved_model.pb").exists()
    metadata = {"format": "tf_saved_model_variables" if in_saved_model else "tf_checkpoint"}
    if save_counter is not None:
        metadata["save_counter"] = str(int(save_counter))
    step = int(step_value) if step_value is not None else None
    folder = source.path.rsplit("/", 1)[0] + "/" if "/" in source.path else ""
    status = Status.PARTIAL if problems else Status.OK
    return Checkpoint(
        source=dataclasses.replace(source, status=status, note=summarize_problems(problems) if problems else None),
        format=metadata["format"],
        step=step,
        step_origin="internal" if step is not None else None,
        epoch=None,
        tensors=tuple(tensors),
        optimizer_tensors=tuple(opt_tensors),
        model=ModelInfo(
            framework=roles.framework or "tensorflow",
            optimizer=optimizer.name if optimizer else None,
            learning_rate=lr,
            iterations=step,
        ),
        shards=tuple(f"{folder}{p.name}" for p in bundle.shard_files),
        metadata=metadata,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------- the `checkpoint` state file

# tf.train.CheckpointManager and the v1 Saver keep a `checkpoint` text file beside the
# bundles (a CheckpointState proto in text form); it names a few checkpoints, so past
# this it is not one.
MAX_STATE_BYTES = 1024 * 1024
_STATE_LINE = re.compile(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$')


def _is_file(folder: Path, name: str) -> bool:
    try:
        return (folder / name).is_file()
    except (OSError, ValueError):  # a NUL byte or a name too long, from the file
        return False


def read_checkpoint_state(path: Path, source: Source) -> Source:
    """The ``checkpoint`` state file: which bundle is the latest, which are kept, and
    which of those are not in its folder (deleted, or not copied with the run)."""
    text = read_capped_bytes(path, "the checkpoint state file", MAX_STATE_BYTES).decode("utf-8", "replace")
    latest: str | None = None
    kept: list[str] = []
    for line in text.splitlines():
        m = _STATE_LINE.match(line)
        if m is None:
            continue
        # v1 Savers may write absolute paths: only the name is looked for, beside this file
        name = m[2].encode("utf-8").decode("unicode_escape", "replace").replace("\\", "/").rsplit("/", 1)[-1]
        if m[1] == "model_checkpoint_path":
            latest = name
        elif name not in kept:
            kept.append(name)
    if latest is None:
        return dataclasses.replace(
            source, status=Status.SKIPPED, note="not a TensorFlow checkpoint state file (no model_checkpoint_path)"
        )
    kept = kept or [latest]
    missing = [n for n in kept if not _is_file(path.parent, f"{n}.index")]
    note = f"TensorFlow checkpoint state: latest {latest[:80]}, {len(kept)} kept"
    if missing:
        note += f"; {len(missing)} of them not in this folder (first: {missing[0][:80]})"
    return dataclasses.replace(source, status=Status.OK, note=note)
