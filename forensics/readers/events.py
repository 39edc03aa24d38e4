"""TensorBoard event files -> columnar records (``EventFileData``).

Framing (bytes, offsets, CRCs, resync) lives in :mod:`forensics.readers.tfrecord`;
this module only turns verified payloads into data, with tensorboard's compiled
protos (``tensorboard.compat.proto``; TensorFlow is never imported):

* scalars from ``simple_value`` (tensorboardX, PyTorch, TF1) and from TF2
  tensor summaries (scalars plugin; float/double/half/bfloat16/int tensors,
  from ``tensor_content`` or the typed ``*_val`` fields);
* histograms from ``HistogramProto`` and from TF2 ``[k, 3]`` tensors
  (histograms plugin), summarised per step (:class:`HistogramSeries`);
* hparams (``session_start_info``) and text summaries.

EVERY event is kept (no reservoir sampling: the step where the loss went NaN
must survive), and so are the events written before a restart that rewound the
steps: TensorBoard purges those as "orphaned", yet the pre-crash tail is often
the divergence itself. Restarts are reported as :class:`Restart` records and
``ScalarSeries.segment`` tells the segments apart.

Speed. Runs hold millions of events, so decoding is vectorised. Records of the
same length that differ only in their wall time, step and value bytes share a
*template*: the first one is decoded by the reference path (the protos), the
byte layout of its variable fields is recorded, and every other record of that
length is matched against the template's constant bytes and decoded with numpy
in bulk. A template is only accepted when decoding its own record both ways
gives identical results. Everything else (histograms, text, hparams, merged TF1
summaries, unusual encodings) takes the reference path, one record at a time.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_shape_pb2

from forensics.errors import UnreadableSource
from forensics.readers.tfrecord import HEADER_BYTES, MAX_RECORD_BYTES, Damage, RecordBatch, TFRecordReader
from forensics.records import (
    EventFileData,
    HistogramSeries,
    Restart,
    ScalarSeries,
    Source,
    Status,
    TextEntry,
)

# A length class with more templates than this is mostly records that are not
# plain scalars; past it the rest of the class goes the reference way.
MAX_TEMPLATES_PER_LENGTH = 64
# Longer records are never plain scalars worth templating (a scalar event is a
# tag, two numbers and some framing: well under this).
MAX_TEMPLATE_BYTES = 1024
# Attempts to derive a template from a record that turns out not to be a plain
# scalar event, per length class and batch, before giving up on the class.
MAX_TEMPLATE_MISSES = 8
# ... and per length class over the whole file, after which that length is left
# to the reference path for good (TF1 merged summaries: every record a miss).
MAX_TEMPLATE_MISSES_PER_FILE = 32
# Numeric summary tensors with more elements than this are skipped, not decoded:
# a histogram has tens of buckets, a scalar one element; TF's "repeat the last
# value to fill the shape" rule must not let a tiny record allocate gigabytes.
MAX_TENSOR_ELEMENTS = 1_000_000
# Text entries longer than this are cut: a post-mortem quotes them, it does not archive them.
MAX_TEXT_CHARS = 10_000
# Distinct scalar tags, and histogram tags, kept per file. Real runs log a few hundred
# to a few thousand (per-layer histograms); a 47 MiB file of 1,000,000 distinct tags
# held 1.3 GB. Past it the points of new tags are dropped, and the note says so.
MAX_TAGS = 10_000
# Once a length class holds this many one-tag templates, the next template derived for it
# leaves the tag bytes free (their length is fixed by the framing) and looks each row's tag
# up instead: a file of 1,000,000 distinct tags took every record through the protos (57 s).
VARIABLE_TAG_AFTER = 16

_TEXT_SUFFIX = "/text_summary"  # tensorboardX and torch append it to text tags

# DataType enum values (tensorboard/compat/proto/types.proto)
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_UINT8, _DT_INT16, _DT_INT8 = 1, 2, 3, 4, 5, 6
_DT_STRING, _DT_INT64, _DT_BOOL, _DT_BFLOAT16, _DT_UINT16, _DT_HALF = 7, 9, 10, 14, 17, 19
_DT_UINT32, _DT_UINT64 = 22, 23

# dtype -> numpy dtype of tensor_content (bfloat16 handled apart: numpy has none)
_RAW_DTYPES: dict[int, str] = {
    _DT_FLOAT: "<f4",
    _DT_DOUBLE: "<f8",
    _DT_INT32: "<i4",
    _DT_UINT8: "u1",
    _DT_INT16: "<i2",
    _DT_INT8: "i1",
    _DT_INT64: "<i8",
    _DT_BOOL: "u1",
    _DT_UINT16: "<u2",
    _DT_HALF: "<f2",
    _DT_UINT32: "<u4",
    _DT_UINT64: "<u8",
}
_NUMERIC_DTYPES = frozenset(_RAW_DTYPES) | {_DT_BFLOAT16}

# Scalars in a tensor summary count when the plugin says "scalars", or when no
# metadata ever named a plugin for the tag (a writer that omitted it).
_SCALAR_PLUGINS = ("scalars", "")


class _Malformed(Exception):
    """Bytes that do not walk as protobuf wire format."""


# ---------------------------------------------------------------- protobuf wire walking


def _varint(b: bytes, i: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= end or shift > 63:
            raise _Malformed
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _fields(b: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of one message's fields."""
    out = []
    i = start
    while i < end:
        key, i = _varint(b, i, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed
        if wire == 0:
            _, j = _varint(b, i, end)
        elif wire == 1:
            j = i + 8
        elif wire == 2:
            n, i = _varint(b, i, end)
            j = i + n
        elif wire == 5:
            j = i + 4
        else:
            raise _Malformed
        if j > end:
            raise _Malformed
        out.append((number, wire, i, j))
        i = j
    return out


# Field number -> wire type of a top-level Event, for vetting payloads of files without CRCs.
_EVENT_WIRE = {1: 1, 2: 0, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2, 10: 2}


def looks_like_event(payload: bytes) -> bool:
    """True if ``payload`` is plausibly a TensorBoard ``Event`` (strict enough to reject garbage).

    Used only for files whose writer stored no checksums: every top-level field
    must be a known Event field with its proper wire type, a wall time must be
    present, and the protobuf runtime must parse it.
    """
    try:
        fields = _fields(payload, 0, len(payload))
    except _Malformed:
        return False
    if not fields or any(_EVENT_WIRE.get(n) != w for n, w, _, _ in fields):
        return False
    if not any(n == 1 for n, _, _, _ in fields):
        return False
    try:
        ev = event_pb2.Event.FromString(payload)
    except Exception:
        return False
    return math.isfinite(ev.wall_time) and ev.wall_time > 0


# ---------------------------------------------------------------- tensor decoding (reference path)


def tensor_to_array(t: Any) -> np.ndarray | None:
    """A numeric ``TensorProto`` as a float64 array of its shape, or None if not numeric.

    Follows TensorFlow's rule that a typed ``*_val`` field shorter than the
    shape is padded by repeating its last element.
    """
    dtype = int(t.dtype)
    if dtype not in _NUMERIC_DTYPES:
        return None
    dims = [int(d.size) for d in t.tensor_shape.dim]
    if t.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        return None
    numel = math.prod(dims) if dims else 1
    if numel > MAX_TENSOR_ELEMENTS:
        return None  # a summary tensor this big is no scalar or histogram we could use
    if t.tensor_content:
        content = t.tensor_content
        if dtype == _DT_BFLOAT16:
            if len(content) % 2:
                return None
            bits = np.frombuffer(content, dtype="<u2").astype(np.uint32) << np.uint32(16)
            vals = bits.view(np.float32).astype(np.float64)
        else:
            dt = np.dtype(_RAW_DTYPES[dtype])
            if len(content) % dt.itemsize:
                return None
            vals = np.frombuffer(content, dtype=dt).astype(np.float64)
    else:
        if dtype == _DT_FLOAT:
            vals = np.asarray(t.float_val, dtype=np.float32).astype(np.float64)
        elif dtype == _DT_DOUBLE:
            vals = np.asarray(t.double_val, dtype=np.float64)
        elif dtype in (_DT_INT32, _DT_UINT8, _DT_INT16, _DT_INT8, _DT_UINT16):
            vals = np.asarray(t.int_val, dtype=np.float64)
        elif dtype == _DT_INT64:
            vals = np.asarray(t.int64_val, dtype=np.float64)
        elif dtype == _DT_BOOL:
            vals = np.asarray(t.bool_val, dtype=np.float64)
        elif dtype == _DT_HALF:
            vals = np.asarray(t.half_val, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float64)
        elif dtype == _DT_BFLOAT16:
            bits = (np.asarray(t.half_val, dtype=np.uint32) & np.uint32(0xFFFF)) << np.uint32(16)
            vals = bits.view(np.float32).astype(np.float64)
        elif dtype == _DT_UINT32:
            vals = np.asarray(t.uint32_val, dtype=np.float64)
        else:  # _DT_UINT64
            vals = np.asarray(t.uint64_val, dtype=np.float64)
        if 0 < vals.size < numel:
            vals = np.concatenate([vals, np.repeat(vals[-1], numel - vals.size)])
        elif vals.size == 0 and numel:
            vals = np.zeros(numel)
    if vals.size != numel:
        return None
    return vals.reshape(dims) if dims else vals.reshape(())


def _tensor_strings(t: Any) -> list[str]:
    return [s.decode("utf-8", errors="replace") for s in t.string_val]


def _histogram_from_proto(h: Any) -> tuple[float, float, float, float, float, bool]:
    """(min, max, mean, std, count, nonfinite) of a ``HistogramProto``."""
    num, total, squares = float(h.num), float(h.sum), float(h.sum_squares)
    limits = np.asarray(h.bucket_limit, dtype=np.float64)
    counts = np.asarray(h.bucket, dtype=np.float64)
    scalars = np.array([h.min, h.max, num, total, squares], dtype=np.float64)
    nonfinite = not (np.isfinite(scalars).all() and np.isfinite(limits).all() and np.isfinite(counts).all())
    if num > 0:
        mean = total / num
        var = squares / num - mean * mean
        std = math.sqrt(var) if var > 0 else (0.0 if var == 0 or math.isfinite(var) else math.nan)
    else:
        mean = std = math.nan
    return float(h.min), float(h.max), mean, std, num, bool(nonfinite)


def _histogram_from_tensor(arr: np.ndarray) -> tuple[float, float, float, float, float, bool] | None:
    """(min, max, mean, std, count, nonfinite) of a TF2 ``[k, 3]`` (left, right, count) histogram.

    Moments come from bucket centres, so they are approximations, as in TensorBoard.
    """
    if arr.ndim != 2 or arr.shape[1] != 3:
        return None
    nonfinite = not bool(np.isfinite(arr).all())
    if arr.shape[0] == 0:
        return math.nan, math.nan, math.nan, math.nan, 0.0, nonfinite
    left, right, counts = arr[:, 0], arr[:, 1], arr[:, 2]
    count = float(counts.sum())
    used = counts > 0
    if not used.any():
        return math.nan, math.nan, math.nan, math.nan, count, nonfinite
    lo = float(left[used].min()) if not np.isnan(left[used]).any() else math.nan
    hi = float(right[used].max()) if not np.isnan(right[used]).any() else math.nan
    with np.errstate(all="ignore"):
        centres = (left + right) / 2.0
        mean = float((centres * counts).sum() / count)
        var = float((counts * (centres - mean) ** 2).sum() / count)
    std = math.sqrt(var) if var >= 0 else math.nan
    return lo, hi, mean, std, count, nonfinite


def _hparam_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "null_value" or kind is None:
        return None
    from google.protobuf.json_format import MessageToDict  # ~20 ms to import: only for hparams

    return MessageToDict(v)


# ---------------------------------------------------------------- templates (fast path)

# value kinds a template can decode in bulk
_RAW_KINDS = {"f4": "<f4", "f8": "<f8", "i1": "i1", "u1": "u1", "i2": "<i2", "u2": "<u2", "i4": "<i4",
              "u4": "<u4", "i8": "<i8", "u8": "<u8", "f2": "<f2", "bf": "<u2"}  # fmt: skip
_RAW_KIND_OF_DTYPE = {_DT_FLOAT: "f4", _DT_DOUBLE: "f8", _DT_INT8: "i1", _DT_UINT8: "u1", _DT_INT16: "i2",
                      _DT_UINT16: "u2", _DT_INT32: "i4", _DT_UINT32: "u4", _DT_INT64: "i8", _DT_UINT64: "u8",
                      _DT_HALF: "f2", _DT_BFLOAT16: "bf", _DT_BOOL: "u1"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Template:
    """Byte layout shared by scalar events of one length, tag and encoding."""

    length: int
    row: np.ndarray  # the template payload, padded to a multiple of 8 bytes, as <u8 words
    mask: np.ndarray  # <u8 words: bits that must equal the template's
    wall: int  # offset of the wall time double, or -1
    step: tuple[int, int]  # (offset, varint bytes) or (-1, 0)
    value: tuple[int, int, str]  # (offset, bytes, kind); kind "v*" is a varint
    tag_id: int  # -1: the tag varies, read from tag_span in each row
    tag_span: tuple[int, int] = (0, 0)  # (offset, bytes) of the tag, for a template whose tag varies
    nometa: bool = False  # for a varying tag: tag_id's flag (a tensor scalar without metadata)
    plugin: str | None = None  # for a varying tag: the plugin its (constant) metadata names


@dataclass(frozen=True, slots=True)
class _Layout:
    wall: int
    step: tuple[int, int]
    value: tuple[int, int, str]
    tag: str
    plugin: str | None  # plugin named by the metadata in this record, if any
    from_tensor: bool
    tag_span: tuple[int, int]  # (offset, bytes) of the tag's UTF-8


def _scalar_layout(p: bytes) -> _Layout | None:
    """Where the variable fields of a single-scalar event sit, or None if it is anything else."""
    try:
        top = _fields(p, 0, len(p))
    except _Malformed:
        return None
    wall, step, summ = -1, (-1, 0), None
    seen: set[int] = set()
    for number, wire, s, e in top:
        if number in seen:
            return None  # repeated field: "last one wins" is not worth templating
        seen.add(number)
        if number == 1 and wire == 1:
            wall = s
        elif number == 2 and wire == 0:
            step = (s, e - s)
        elif number == 5 and wire == 2:
            summ = (s, e)
        elif number == 10 and wire == 2:
            continue  # source_metadata: constant bytes
        else:
            return None
    if summ is None:
        return None
    try:
        values = _fields(p, *summ)
        if len(values) != 1 or values[0][:2] != (1, 2):
            return None
        fields = _fields(p, values[0][2], values[0][3])
    except _Malformed:
        return None
    tag = None
    tag_span = (0, 0)
    simple = tensor = meta = None
    for number, wire, s, e in fields:
        if number == 1 and wire == 2 and tag is None:
            tag_span = (s, e - s)
            try:
                tag = p[s:e].decode("utf-8")
            except UnicodeDecodeError:
                return None
        elif number == 2 and wire == 5 and simple is None:
            simple = s
        elif number == 8 and wire == 2 and tensor is None:
            tensor = (s, e)
        elif number == 9 and wire == 2 and meta is None:
            meta = (s, e)
        elif number == 7 and wire == 2:
            continue
        else:
            return None
    if tag is None or (simple is None) == (tensor is None):
        return None
    plugin = None
    if meta is not None:
        try:
            plugin = summary_pb2.SummaryMetadata.FromString(p[meta[0] : meta[1]]).plugin_data.plugin_name
        except Exception:
            return None
    if simple is not None:
        return _Layout(wall, step, (simple, 4, "f4"), tag, plugin, False, tag_span)
    if plugin not in (None, "scalars"):
        return None
    value = _tensor_layout(p, *tensor)
    if value is None:
        return None
    return _Layout(wall, step, value, tag, plugin, True, tag_span)


def _tensor_layout(p: bytes, start: int, end: int) -> tuple[int, int, str] | None:
    """(offset, bytes, kind) of the single element of a one-element numeric tensor."""
    try:
        fields = _fields(p, start, end)
    except _Malformed:
        return None
    dtype = 0
    shape = None
    value: tuple[int, int, str] | None = None
    for number, wire, s, e in fields:
        if number == 1 and wire == 0:
            dtype = _varint(p, s, e)[0]
        elif number == 2 and wire == 2:
            shape = (s, e)
        elif number == 3 and wire == 0:
            continue
        elif value is not None:
            return None  # two value fields
        elif number == 4 and wire == 2:
            value = (s, e - s, "raw")
        elif number in (5, 6) and wire in (2, 5, 1):
            value = (s, e - s, "f4" if number == 5 else "f8")
        elif number in (7, 10, 11, 13, 16, 17) and wire in (0, 2):
            if wire == 2:
                inner = _fields_of_packed_varints(p, s, e)
                if inner is None:
                    return None
                s, e = inner
            value = (s, e - s, {7: "vi", 10: "vi", 11: "vb", 13: "vh", 16: "vu", 17: "vu"}[number])
        else:
            return None
    if value is None or dtype not in _NUMERIC_DTYPES:
        return None
    if shape is not None:
        try:
            sh = tensor_shape_pb2.TensorShapeProto.FromString(p[shape[0] : shape[1]])
        except Exception:
            return None
        if sh.unknown_rank or any(d.size != 1 for d in sh.dim):
            return None
    off, n, kind = value
    if kind == "raw":
        kind = _RAW_KIND_OF_DTYPE[dtype]
        if n != np.dtype(_RAW_KINDS[kind]).itemsize:
            return None
    elif kind == "f4":
        if dtype != _DT_FLOAT or n != 4:
            return None
    elif kind == "f8":
        if dtype != _DT_DOUBLE or n != 8:
            return None
    elif kind == "vh":
        if dtype == _DT_BFLOAT16:
            kind = "vbf"
        elif dtype != _DT_HALF:
            return None
    elif kind == "vb" and dtype != _DT_BOOL:
        return None
    return off, n, kind


def _fields_of_packed_varints(p: bytes, s: int, e: int) -> tuple[int, int] | None:
    """The span of the single varint in a packed field, or None if it holds another count."""
    try:
        _, j = _varint(p, s, e)
    except _Malformed:
        return None
    return (s, e) if j == e else None


def _varints(cols: np.ndarray) -> np.ndarray:
    """Little-endian base-128 varints, one per row of ``cols`` (uint8, one column per byte), as int64.

    Ten-byte varints wrap around to negative numbers (two's complement), as protobuf's int64 does.
    """
    out = (cols[:, 0] & 0x7F).astype(np.uint64)
    for k in range(1, cols.shape[1]):
        out |= (cols[:, k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return out.view(np.int64)


def _fixed(rows: np.ndarray, off: int, dtype: str) -> np.ndarray:
    """The little-endian number of type ``dtype`` at byte ``off`` of every row."""
    n = np.dtype(dtype).itemsize
    return np.ascontiguousarray(rows[:, off : off + n]).view(dtype)[:, 0]


def _decode_value(rows: np.ndarray, spec: tuple[int, int, str]) -> np.ndarray:
    off, n, kind = spec
    if kind in _RAW_KINDS:
        if kind == "bf":
            bits = _fixed(rows, off, "<u2").astype(np.uint32) << np.uint32(16)
            return bits.view(np.float32).astype(np.float64)
        return _fixed(rows, off, _RAW_KINDS[kind]).astype(np.float64)
    ints = _varints(rows[:, off : off + n])
    if kind == "vu":
        return ints.view(np.uint64).astype(np.float64)
    if kind == "vb":
        return (ints != 0).astype(np.float64)
    if kind == "vh":
        return (ints & 0xFFFF).astype(np.uint16).view(np.float16).astype(np.float64)
    if kind == "vbf":
        return ((ints & 0xFFFF).astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    return ints.astype(np.float64)  # "vi": int32/int64 fields; negative int32 are sign-extended varints


def _decode_rows(rows: np.ndarray, wall: int, step: tuple[int, int], value: tuple[int, int, str]):
    """(wall times, steps, values) of rows matching one layout. Absent wall/step: NaN/0."""
    m = rows.shape[0]
    walls = _fixed(rows, wall, "<f8") if wall >= 0 else np.full(m, np.nan)
    steps = _varints(rows[:, step[0] : step[0] + step[1]]) if step[0] >= 0 else np.zeros(m, dtype=np.int64)
    return walls, steps, _decode_value(rows, value)


class _Windows:
    """Strided views over a padded batch buffer: ``w(n)[i]`` is bytes i..i+n, without copying."""

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, n: int) -> np.ndarray:
        w = self._cache.get(n)
        if w is None:
            w = self._cache[n] = np.lib.stride_tricks.sliding_window_view(self.raw, n)
        return w


def _matches(words: np.ndarray, t: _Template) -> np.ndarray:
    """Rows (as <u8 words) whose masked bits equal the template's: one column at a time,
    which numpy does far faster than a 2-D compare reduced along rows."""
    acc = None
    for k in range(words.shape[1]):
        mk = int(t.mask[k])
        if mk == 0:
            continue
        diff = (words[:, k] ^ t.row[k]) & t.mask[k]
        if acc is None:
            acc = diff
        else:
            acc |= diff
    if acc is None:
        return np.ones(words.shape[0], dtype=bool)
    return acc == 0


def _template_mask(length: int, layout: _Layout, variable_tag: bool = False) -> np.ndarray:
    """Per byte: 0xFF where the byte must match, 0x80 on varint bytes (continuation bit), 0 elsewhere
    (the tag's bytes too when ``variable_tag``: its length prefix stays fixed)."""
    mask = np.full(length, 0xFF, dtype=np.uint8)
    if variable_tag:
        mask[layout.tag_span[0] : layout.tag_span[0] + layout.tag_span[1]] = 0
    if layout.wall >= 0:
        mask[layout.wall : layout.wall + 8] = 0
    if layout.step[0] >= 0:
        mask[layout.step[0] : layout.step[0] + layout.step[1]] = 0x80
    off, n, kind = layout.value
    mask[off : off + n] = 0x80 if kind.startswith("v") else 0
    return mask


def _words(a: np.ndarray) -> np.ndarray:
    """uint8 row(s) zero-padded to a multiple of 8 bytes, viewed as <u8 words."""
    pad = (-a.shape[-1]) % 8
    if pad:
        a = np.concatenate([a, np.zeros((*a.shape[:-1], pad), dtype=np.uint8)], axis=-1)
    return np.ascontiguousarray(a).view("<u8")


# ---------------------------------------------------------------- the decoder


class _Decoder:
    """Accumulates one file's events, batch by batch, as columns."""

    def __init__(self) -> None:
        self.records = 0  # payloads seen (valid framing)
        self.undecodable = 0  # of which not an Event
        self.tag_ids: dict[tuple[str, bool], int] = {}  # (tag, from a tensor without metadata) -> id
        self.tag_names: list[tuple[str, bool]] = []
        self.plugin_of: dict[str, str] = {}  # first plugin named for each tag
        self.templates: dict[int, list[_Template]] = {}
        self.rejects: dict[int, int] = {}  # length -> template derivations that failed
        # scalar columns, file order, one chunk per batch
        self.parts: list[tuple[np.ndarray, ...]] = []
        # scalars from records holding more than one (merged TF1 summaries)
        self.extra_rec = array("q")
        self.extra_tag = array("i")
        self.extra_step = array("q")
        self.extra_wall = array("d")
        self.extra_value = array("d")
        self.histos: dict[str, list[tuple[int, int, float, tuple[float, float, float, float, float, bool]]]] = {}
        self.texts: list[tuple[int, TextEntry]] = []
        self.hparams: dict[str, Any] = {}
        self.overflow_id: int | None = None  # the id every tag past MAX_TAGS gets: never a series
        self.tags_dropped = False

    def tag_id(self, tag: str, nometa: bool) -> int:
        key = (tag, nometa)
        i = self.tag_ids.get(key)
        if i is None:
            if len(self.tag_ids) >= MAX_TAGS:
                self.tags_dropped = True
                if self.overflow_id is None:
                    self.overflow_id = len(self.tag_names)
                    self.tag_names.append(("", True))
                return self.overflow_id
            i = self.tag_ids[key] = len(self.tag_names)
            self.tag_names.append(key)
        return i

    def note_plugin(self, tag: str, plugin: str | None) -> None:
        if plugin is not None and tag not in self.plugin_of and len(self.plugin_of) < 2 * MAX_TAGS:
            self.plugin_of[tag] = plugin

    # ---------------------------------------------------------------- batch

    def batch(self, batch: RecordBatch) -> None:
        n = len(batch)
        first = self.records
        self.records += n
        buf = batch.buf
        windows = _Windows(batch.raw)
        starts = batch.offsets + HEADER_BYTES
        lengths = batch.lengths
        tag = np.full(n, -1, dtype=np.int32)
        step = np.zeros(n, dtype=np.int64)
        wall = np.full(n, np.nan, dtype=np.float64)
        value = np.full(n, np.nan, dtype=np.float64)
        slow = np.zeros(n, dtype=bool)

        for length, idx in batch.classes:
            if length > MAX_TEMPLATE_BYTES:
                slow[idx] = True
                continue
            shared = batch.rows.get(length)
            rows = shared[1] if shared is not None else None
            rest = self._by_templates(windows, starts, idx, rows, length, tag, step, wall, value)
            slow[rest] = True

        for i in np.flatnonzero(slow).tolist():
            start = int(starts[i])
            self._reference(buf[start : start + int(lengths[i])], first + i, i, tag, step, wall, value)

        keep = np.flatnonzero(tag >= 0)
        if keep.size:
            self.parts.append((keep + first, tag[keep], step[keep], wall[keep], value[keep]))

    def _by_templates(
        self,
        windows: _Windows,
        starts: np.ndarray,
        idx: np.ndarray,
        rows: np.ndarray | None,
        length: int,
        tag: np.ndarray,
        step: np.ndarray,
        wall: np.ndarray,
        value: np.ndarray,
    ) -> np.ndarray:
        """Decode the records ``idx`` (all of ``length`` bytes) that fit a template; return the rest."""
        known = self.templates.setdefault(length, [])
        width = length + (-length) % 8
        if rows is None:
            rows = windows(width)[starts[idx]]
        # (m, width/8) words per record; bytes past the payload are masked out by the templates
        words = rows.view("<u8")
        deferred: list[np.ndarray] = []
        misses = 0
        tried = 0
        while idx.size:
            hit = None
            while tried < len(known):
                t = known[tried]
                tried += 1
                m = _matches(words, t)
                if m.any():
                    hit = (t, m)
                    break
            if hit is None:
                if len(known) >= MAX_TEMPLATES_PER_LENGTH or misses >= MAX_TEMPLATE_MISSES:
                    break
                start = int(starts[idx[0]])
                t = self._derive(bytes(windows.raw[start : start + length]), length, len(known) >= VARIABLE_TAG_AFTER)
                if t is None:
                    # leave this record to the reference path; look for templates among the others
                    misses += 1
                    deferred.append(idx[:1])
                    idx, rows, words = idx[1:], rows[1:], words[1:]
                else:
                    known.append(t)
                continue
            t, m = hit
            if t.tag_id < 0:  # the tag varies: rows whose tag is not UTF-8 stay unmatched
                self._tags_of(rows[m], t, m, idx, tag)
                if not m.any():
                    continue
            everything = bool(m.all())
            sel = idx if everything else idx[m]
            w, st, v = _decode_rows(rows if everything else rows[m], t.wall, t.step, t.value)
            if t.tag_id >= 0:
                tag[sel] = t.tag_id
            wall[sel] = w
            step[sel] = st
            value[sel] = v
            if everything:
                idx = idx[:0]
                break
            keep = ~m
            idx, rows, words = idx[keep], rows[keep], words[keep]
        deferred.append(idx)
        return np.concatenate(deferred) if len(deferred) > 1 else deferred[0]

    def _tags_of(self, rows: np.ndarray, t: _Template, m: np.ndarray, idx: np.ndarray, tag: np.ndarray) -> None:
        """Set ``tag`` for the rows ``idx[m]`` of a varying-tag template, each by its own bytes.

        Rows whose tag is not UTF-8 are taken out of ``m``: they go on to the reference path,
        which counts them as it always did."""
        off, n = t.tag_span
        cells = np.ascontiguousarray(rows[:, off : off + n]).view(f"V{n}").reshape(-1)
        uniq, first, inverse = np.unique(cells, return_index=True, return_inverse=True)
        blob = uniq.tobytes()
        per_tag = np.empty(len(uniq), dtype=np.int32)
        for u in np.argsort(first, kind="stable").tolist():  # tags in order of first appearance
            try:
                name = blob[u * n : (u + 1) * n].decode("utf-8")
            except UnicodeDecodeError:
                per_tag[u] = -1
                continue
            if t.plugin is not None:
                self.note_plugin(name, t.plugin)
            per_tag[u] = self.tag_id(name, t.nometa)
        ids = per_tag[inverse.reshape(-1)]
        bad = np.flatnonzero(ids < 0)
        where = np.flatnonzero(m)
        if bad.size:
            m[where[bad]] = False
            keep = ids >= 0
            tag[idx[where[keep]]] = ids[keep]
        else:
            tag[idx[where]] = ids

    def _derive(self, payload: bytes, length: int, variable_tag: bool = False) -> _Template | None:
        """A template from one record, accepted only if both decodings of it agree exactly;
        with ``variable_tag``, one that matches any tag of the same length."""
        if self.rejects.get(length, 0) > MAX_TEMPLATE_MISSES_PER_FILE:
            return None  # this length is mostly not scalars: stop trying in later batches
        layout = _scalar_layout(payload)
        expect = _reference_single_scalar(payload) if layout is not None else None
        if layout is None or expect is None:
            self.rejects[length] = self.rejects.get(length, 0) + 1
            return None
        tag_s, step_s, wall_s, value_s = expect
        row = np.frombuffer(payload + bytes(16), dtype=np.uint8)[None, :]
        walls, steps, values = _decode_rows(row, layout.wall, layout.step, layout.value)
        got_wall = float(walls[0]) if layout.wall >= 0 else 0.0
        got_step, got_value = int(steps[0]), float(values[0])
        same_value = (got_value == value_s) or (math.isnan(got_value) and math.isnan(value_s))
        if tag_s != layout.tag or got_step != step_s or got_wall != wall_s or not same_value:
            return None
        self.note_plugin(layout.tag, layout.plugin)
        nometa = layout.from_tensor and layout.plugin is None
        mask = _template_mask(length, layout, variable_tag)
        row = np.frombuffer(payload, dtype=np.uint8)
        return _Template(
            length=length,
            row=_words(row),
            mask=_words(mask),
            wall=layout.wall,
            step=layout.step,
            value=layout.value,
            tag_id=-1 if variable_tag else self.tag_id(layout.tag, nometa),
            tag_span=layout.tag_span,
            nometa=nometa,
            plugin=layout.plugin,
        )

    # ---------------------------------------------------------------- reference path

    def _reference(
        self,
        payload: bytes,
        rec: int,
        i: int,
        tag: np.ndarray,
        step: np.ndarray,
        wall: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Decode one record with the protos. Never raises for bad bytes."""
        try:
            ev = event_pb2.Event.FromString(payload)
        except Exception:
            self.undecodable += 1
            return
        if not ev.HasField("summary"):
            return
        t_wall = ev.wall_time if ev.wall_time else math.nan
        t_step = int(ev.step)
        scalars: list[tuple[int, float]] = []
        for v in ev.summary.value:
            try:
                self._value(v, rec, t_step, t_wall, scalars)
            except Exception:
                continue
        if len(scalars) == 1:
            tag[i], value[i] = scalars[0]
            step[i] = t_step
            wall[i] = t_wall
        else:
            for tid, val in scalars:
                self.extra_rec.append(rec)
                self.extra_tag.append(tid)
                self.extra_step.append(t_step)
                self.extra_wall.append(t_wall)
                self.extra_value.append(val)

    def _value(self, v: Any, rec: int, step: int, wall: float, scalars: list[tuple[int, float]]) -> None:
        name = v.tag
        plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else None
        self.note_plugin(name, plugin)
        kind = v.WhichOneof("value")
        if kind == "simple_value":
            scalars.append((self.tag_id(name, False), float(v.simple_value)))
            return
        if kind == "histo":
            self._histogram(name, rec, step, wall, _histogram_from_proto(v.histo))
            return
        effective = plugin if plugin is not None else self.plugin_of.get(name)
        if effective == "hparams":
            self._hparams(v.metadata.plugin_data.content)
            return
        if kind != "tensor":
            return
        t = v.tensor
        if effective == "text" or (effective is None and int(t.dtype) == _DT_STRING):
            if effective == "text":
                self._text(name, step, rec, t)
            return
        if effective == "histograms":
            arr = tensor_to_array(t)
            stats = _histogram_from_tensor(arr) if arr is not None else None
            if stats is not None:
                self._histogram(name, rec, step, wall, stats)
            return
        if (effective or "") in _SCALAR_PLUGINS:
            arr = tensor_to_array(t)
            if arr is not None and arr.size == 1:
                scalars.append((self.tag_id(name, plugin is None), float(arr.reshape(-1)[0])))

    def _histogram(self, name: str, rec: int, step: int, wall: float, stats: tuple) -> None:
        rows = self.histos.get(name)
        if rows is None:
            if len(self.histos) >= MAX_TAGS:
                self.tags_dropped = True
                return
            rows = self.histos[name] = []
        rows.append((rec, step, wall, stats))

    def _text(self, name: str, step: int, rec: int, t: Any) -> None:
        strings = _tensor_strings(t)
        dims = [int(d.size) for d in t.tensor_shape.dim]
        if len(dims) == 2 and dims[0] * dims[1] == len(strings) and dims[1] > 0:
            rows = [strings[r * dims[1] : (r + 1) * dims[1]] for r in range(dims[0])]
            text = "\n".join(" | ".join(row) for row in rows)
        else:
            text = "\n".join(strings)
        if name.endswith(_TEXT_SUFFIX):
            name = name[: -len(_TEXT_SUFFIX)]
        self.texts.append((rec, TextEntry(tag=name, step=step, text=text[:MAX_TEXT_CHARS])))

    def _hparams(self, content: bytes) -> None:
        # imported here: the hparams plugin's protos cost ~8 ms, and most event files hold none
        from tensorboard.plugins.hparams import plugin_data_pb2

        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            hp = data.session_start_info.hparams
            for key in sorted(hp):  # protobuf maps iterate in no fixed order
                self.hparams[key] = _hparam_value(hp[key])

    # ---------------------------------------------------------------- results

    def scalar_columns(self) -> tuple[np.ndarray, ...]:
        """(record, tag id, step, wall, value) of every scalar point, in file order.

        The per-batch pieces are released column by column as they are joined,
        so the peak stays near one copy of the columns.
        """
        parts = self.parts
        self.parts = []
        if self.extra_rec:
            parts.append(
                (
                    np.frombuffer(self.extra_rec, dtype=np.int64),
                    np.frombuffer(self.extra_tag, dtype=np.int32),
                    np.frombuffer(self.extra_step, dtype=np.int64),
                    np.frombuffer(self.extra_wall, dtype=np.float64),
                    np.frombuffer(self.extra_value, dtype=np.float64),
                )
            )
        if not parts:
            empty_i = np.zeros(0, dtype=np.int64)
            return empty_i, np.zeros(0, dtype=np.int32), empty_i, np.zeros(0), np.zeros(0)
        columns = [list(c) for c in zip(*parts, strict=True)]
        del parts
        cols = []
        for pieces in columns:
            cols.append(np.concatenate(pieces) if len(pieces) > 1 else pieces[0])
            pieces.clear()
        if self.extra_rec:
            order = np.argsort(cols[0], kind="stable")
            cols = [c[order] for c in cols]
        return tuple(cols)


def _reference_single_scalar(payload: bytes) -> tuple[str, int, float, float] | None:
    """(tag, step, wall time, value) of an event holding exactly one scalar, via the protos."""
    try:
        ev = event_pb2.Event.FromString(payload)
    except Exception:
        return None
    if len(ev.summary.value) != 1:
        return None
    v = ev.summary.value[0]
    kind = v.WhichOneof("value")
    if kind == "simple_value":
        val = float(v.simple_value)
    elif kind == "tensor":
        arr = tensor_to_array(v.tensor)
        if arr is None or arr.size != 1:
            return None
        val = float(arr.reshape(-1)[0])
    else:
        return None
    return v.tag, int(ev.step), float(ev.wall_time), val


# ---------------------------------------------------------------- restarts


def _find_restarts(series: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[tuple[int, int, int, float]]:
    """Rewinds of the step counter: [(record, from_step, to_step, wall)], one per restart.

    Each series is (records, steps, walls) of one tag in file order. A tag whose
    step goes below its previous step marks a restart, unless a restart was
    already recorded after that tag's previous point: tags logged at different
    rates (batch and epoch level) each rewind once per restart, and it is one
    restart.
    """
    candidates: list[tuple[int, int, int, int, float]] = []  # (record, previous record, from, to, wall)
    for recs, steps, walls in series:
        if steps.size < 2:
            continue
        back = np.flatnonzero(steps[1:] < steps[:-1]) + 1
        for j in back.tolist():
            candidates.append((int(recs[j]), int(recs[j - 1]), int(steps[j - 1]), int(steps[j]), float(walls[j])))
    candidates.sort()
    restarts: list[tuple[int, int, int, float]] = []
    marks: list[int] = []
    import bisect

    for rec, prev, from_step, to_step, wall in candidates:
        k = bisect.bisect_right(marks, prev)
        if k < len(marks) and marks[k] <= rec:
            continue  # this tag is catching up with a restart already recorded
        bisect.insort(marks, rec)
        restarts.append((rec, from_step, to_step, wall))
    restarts.sort()
    return restarts


# ---------------------------------------------------------------- entry point


def read_event_file(path: Path, source: Source) -> EventFileData:
    """Read one ``events.out.tfevents.*`` file into columns, keeping every event.

    Raises :class:`UnreadableSource` only when nothing at all could be read; a
    truncated or partly corrupt file comes back with status ``partial`` and a
    note giving the byte offset and reason.
    """
    reader = TFRecordReader(path, accept=looks_like_event)
    decoder = _Decoder()
    try:
        # bytes are bytes: a signalling NaN in a value must not print warnings while being widened
        with np.errstate(all="ignore"):
            for batch in reader.batches():
                decoder.batch(batch)
    except OSError as e:
        if decoder.records == 0:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from e
        end = reader.summary.end_offset  # what was read stays; say where reading stopped
        reader.summary.damages.append(
            Damage(offset=end, reason=f"read error: {e.strerror or e}",
                   skipped_bytes=max(reader.summary.file_size - end, 0), skipped_records=1, truncated=True)
        )  # fmt: skip
    summary = reader.summary
    if summary.file_size == 0:
        raise UnreadableSource("empty file")
    if summary.records == 0:
        if summary.oversized_records:
            raise UnreadableSource(
                f"holds only {summary.oversized_records} record(s) over {MAX_RECORD_BYTES // 2**20} MiB, none readable"
            )
        first = summary.damages[0] if summary.damages else None
        if first is not None and first.truncated and first.offset == 0:
            raise UnreadableSource(f"no complete record: {first.reason}")
        raise UnreadableSource(f"not a TFRecord file: no valid record in {summary.file_size} bytes")
    if decoder.undecodable >= decoder.records:
        raise UnreadableSource(f"a TFRecord file, but none of its {decoder.records} records is a TensorBoard Event")

    run = source.group
    rel = source.path
    recs, tag_ids, steps, walls, values = decoder.scalar_columns()
    walls[walls == 0.0] = np.nan  # proto3 cannot tell "0.0" from "not written"; no real event is at 1970-01-01

    # tensor scalars without any plugin metadata count only if no metadata named another plugin
    lut = np.full(max(len(decoder.tag_names), 1), -1, dtype=np.int32)
    names: list[str] = []
    name_index: dict[str, int] = {}
    for tid, (name, nometa) in enumerate(decoder.tag_names):
        if tid == decoder.overflow_id or (nometa and decoder.plugin_of.get(name, "") not in _SCALAR_PLUGINS):
            continue
        k = name_index.get(name)
        if k is None:
            k = name_index[name] = len(names)
            names.append(name)
        lut[tid] = k
    final = lut[tag_ids] if tag_ids.size else tag_ids
    keep = final >= 0
    if not keep.all():
        recs, final, steps, walls, values = recs[keep], final[keep], steps[keep], walls[keep], values[keep]
    small = final.astype(np.int16) if len(names) < 2**15 else final  # 16-bit keys sort in linear time
    order = np.argsort(small, kind="stable")
    del small
    counts = np.bincount(final, minlength=len(names)) if final.size else np.zeros(len(names), dtype=np.int64)
    del final
    # one column at a time into tag order (each tag's points stay in file order); tags are views
    recs = recs[order]
    steps = steps[order]
    walls = walls[order]
    values = values[order]
    del order
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    per_tag = {
        name: (recs[a:b], steps[a:b], walls[a:b], values[a:b])
        for name, a, b in zip(names, bounds, bounds[1:], strict=False)
    }

    histo_cols = {}
    for name, rows in decoder.histos.items():
        rows.sort(key=lambda r: r[0])
        h_recs = np.array([r[0] for r in rows], dtype=np.int64)
        h_steps = np.array([r[1] for r in rows], dtype=np.int64)
        h_walls = np.array([r[2] for r in rows], dtype=np.float64)
        stats = np.array([r[3][:5] for r in rows], dtype=np.float64).reshape(-1, 5)
        flags = np.array([r[3][5] for r in rows], dtype=bool)
        histo_cols[name] = (h_recs, h_steps, h_walls, stats, flags)

    restarts = _find_restarts(
        [(r, s, w) for r, s, w, _ in per_tag.values()] + [(c[0], c[1], c[2]) for c in histo_cols.values()]
    )
    marks = np.array([r[0] for r in restarts], dtype=np.int64)

    segments = np.searchsorted(marks, recs, side="right").astype(np.int32)
    del recs
    scalars = {
        name: ScalarSeries(tag=name, run=run, source=rel, steps=s, values=v, wall_times=w, segment=segments[a:b])
        for (name, (_, s, w, v)), a, b in zip(per_tag.items(), bounds, bounds[1:], strict=False)
    }
    histograms = {
        name: HistogramSeries(
            tag=name,
            run=run,
            source=rel,
            steps=s,
            wall_times=w,
            min=st[:, 0].copy(),
            max=st[:, 1].copy(),
            mean=st[:, 2].copy(),
            std=st[:, 3].copy(),
            count=st[:, 4].copy(),
            nonfinite=fl,
        )
        for name, (_, s, w, st, fl) in histo_cols.items()
    }
    texts = tuple(entry for _, entry in sorted(decoder.texts, key=lambda x: x[0]))

    notes = []
    framing = summary.describe()
    if framing:
        notes.append(framing)
    if not summary.checksums_verified:
        notes.append("the writer stored no CRC32C checksums; records were accepted only where they parse as Events")
    if decoder.undecodable:
        notes.append(f"{decoder.undecodable} checksummed record(s) are not Events and were ignored")
    if summary.oversized_records:
        notes.append(
            f"{summary.oversized_records} record(s) over {MAX_RECORD_BYTES // 2**20} MiB (graphs, run metadata) skipped"
        )
    if decoder.tags_dropped:
        notes.append(f"more than {MAX_TAGS} distinct tags: the points of the others were not read")
    partial = bool(summary.damages) or decoder.undecodable > 0 or decoder.tags_dropped
    status = Status.PARTIAL if partial else Status.OK
    note = "; ".join(notes) if notes else None

    return EventFileData(
        source=dataclasses.replace(source, status=status, note=note),
        run=run,
        scalars=scalars,
        histograms=histograms,
        texts=texts,
        hparams=dict(decoder.hparams),
        restarts=tuple(Restart(run=run, source=rel, from_step=a, to_step=b, wall_time=w) for _, a, b, w in restarts),
        records=decoder.records - decoder.undecodable,
        skipped_records=summary.skipped_records,
        skipped_bytes=summary.skipped_bytes,
        checksums_verified=summary.checksums_verified,
    )
