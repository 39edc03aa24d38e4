"""Read a sample of the training data: NaN/Inf, value ranges, and the labels.

Formats: ``.npy`` (memory-mapped), ``.npz`` (members streamed one at a time
straight from the zip), data-only ``.h5`` (datasets sliced along their first
axis) and small ``.csv``. Every array is read in chunks of about
:data:`CHUNK_BYTES`, so a sample of any size costs bounded memory.

Never unpickled: ``np.load`` always runs with ``allow_pickle=False``, and an
object-dtype member (a pickle inside the ``.npz``) is skipped with a note.

Per array it reports NaN/+Inf/-Inf counts and the first rows holding them,
min/max/mean/std over the finite values. One array is picked as the labels --
by name (``y``, ``labels``, ``targets``, ``target``, ``label``, ``classes``,
with prefixes/suffixes such as ``y_train``), else by shape (1-D, integer
valued, as long as the features' first axis) -- and gets :class:`LabelStats`:
min, max, how many are negative, class counts, and the rows of the negative
and of the largest values, so that once the model's output width is known
:func:`labels_out_of_range` can name the offending rows.

Evidence this feeds later rules: NaN/Inf in the features
(``nan_in_inputs``/``inf_in_inputs``), labels below 0 (``negative_labels``) or
at/above the output width (``labels_out_of_range``), and inputs far from unit
scale (``unnormalized_inputs``: e.g. 0..255 pixels). The reader only measures; what
counts as unscaled is rule DATA004's judgement (``rules/data_or_labels.py``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import math
import os
import re
import tokenize
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers.h5safe import h5_message, h5_refusal, import_h5py
from forensics.readers.safe_open import fd_path, open_binary, open_fd, open_text
from forensics.records import (  # noqa: F401  (LabelRangeCheck, labels_out_of_range: re-exported)
    ArrayStats,
    DataSample,
    Kind,
    LabelRangeCheck,
    LabelStats,
    Source,
    Status,
    labels_out_of_range,
)

CHUNK_BYTES = 16 * 1024 * 1024  # float64 working set per chunk: small next to any machine's memory
MAX_ROW_BYTES = 256 * 1024 * 1024  # one row larger than this (as float64) is read in flat pieces
MAX_READ_BYTES = 4 * 1024 * 1024 * 1024  # data bytes read per file: a "sample" past 4 GiB is read in part
MAX_ARRAYS = 256  # arrays (npz members, h5 datasets) looked at per file
MAX_ROWS_KEPT = 20  # rows holding NaN/Inf listed per array; likewise rows per extreme label value
MAX_DISTINCT_LABELS = 10_000  # class counts kept in full below this many distinct labels (more: not classes)
TOP_LABEL_VALUES = 20  # largest distinct label values whose first rows are kept
MAX_CSV_BYTES = 256 * 1024 * 1024  # "small" csv: past this only the first rows are read
# The csv dialect is guessed from the first lines only: a bounded, linear sample.
SNIFF_CHARS = 16 * 1024
SNIFF_LINES = 20
SNIFF_DELIMITERS = (",", ";", "\t", "|", " ")
# A data row is a few KB; a longer "line" is not a table (a 1 GiB file with no newline).
MAX_CSV_LINE = 1 << 20
MAX_CSV_CELLS = 20_000_000  # cells parsed from a csv (bounded memory: columns are held as float lists)
MAX_HEADER_BYTES = 100_000  # npy header size accepted (numpy's own default limit is 10,000)
NOTE_LIMIT = 300

_LABEL_TOKENS = ("labels", "label", "y", "targets", "target", "classes", "class", "lbl", "lbls", "gt")
_NOT_LABEL_TOKENS = frozenset(
    {
        "weight",
        "weights",
        "mask",
        "masks",
        "names",
        "prob",
        "probs",
        "logits",
        "pred",
        "preds",
        "score",
        "scores",
    }
)
_NA_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "-nan"})


# ---------------------------------------------------------------- array sources


@dataclass
class _Array:
    """One array to read: its header facts and a way to get its data in row chunks."""

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    chunks: Callable[[], Iterator[tuple[int, np.ndarray]]]  # (first row, 2-D chunk (rows, elems))
    partial_note: str | None = None  # set while reading when the data ended early

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def row_elems(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1


def _sliced_chunks(
    arr: Any, shape: tuple[int, ...], chunk_rows: int | None = None
) -> Callable[[], Iterator[tuple[int, np.ndarray]]]:
    """Chunks of an array that can be sliced along its first axis (memmap, h5py dataset).

    ``chunk_rows``: rows of one stored (HDF5) chunk; blocks then cover whole chunks, so
    each compressed chunk is inflated once, not once per block that touches it.
    """

    def gen() -> Iterator[tuple[int, np.ndarray]]:
        if not shape:
            yield 0, np.asarray(arr[()]).reshape(1, 1)
            return
        rows = shape[0]
        row_elems = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        if rows == 0 or row_elems == 0:
            return
        row_bytes = row_elems * 8
        if row_bytes > MAX_ROW_BYTES and isinstance(arr, np.ndarray):
            piece = max(1, CHUNK_BYTES // 8)
            for r in range(rows):
                flat = arr[r].reshape(-1)
                for a in range(0, row_elems, piece):
                    yield r, np.asarray(flat[a : a + piece]).reshape(1, -1)
            return
        step = max(1, CHUNK_BYTES // row_bytes)
        if chunk_rows:
            step = max(chunk_rows, step // chunk_rows * chunk_rows)
        for start in range(0, rows, step):
            block = np.asarray(arr[start : start + step])
            yield start, block.reshape(block.shape[0], -1)

    return gen


def _stream_chunks(
    open_fp: Callable[[], IO[bytes]], data_offset: Callable[[IO[bytes]], None], holder: _Array
) -> Callable[[], Iterator[tuple[int, np.ndarray]]]:
    """Chunks read sequentially from a byte stream (an npz member): never the whole member at once."""

    def gen() -> Iterator[tuple[int, np.ndarray]]:
        dtype, shape = holder.dtype, holder.shape
        itemsize = dtype.itemsize
        rows = shape[0] if shape else 1
        row_elems = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        if rows == 0 or row_elems == 0 or itemsize == 0:
            return
        with open_fp() as fp:
            data_offset(fp)
            row_bytes = row_elems * itemsize
            if row_elems * 8 > MAX_ROW_BYTES:
                piece = max(1, CHUNK_BYTES // 8) * itemsize
                for r in range(rows):
                    left = row_bytes
                    while left:
                        data = _read_exact(fp, min(piece, left))
                        usable = len(data) - len(data) % itemsize
                        if usable:
                            yield r, np.frombuffer(data[:usable], dtype=dtype).reshape(1, -1)
                        if len(data) < min(piece, left):
                            holder.partial_note = f"{holder.name}: data ends inside row {r}"
                            return
                        left -= len(data)
                return
            step = max(1, CHUNK_BYTES // (row_elems * 8))
            for start in range(0, rows, step):
                n = min(step, rows - start)
                data = _read_exact(fp, n * row_bytes)
                full = len(data) // row_bytes
                if full:
                    yield start, np.frombuffer(data[: full * row_bytes], dtype=dtype).reshape(full, row_elems)
                if full < n:
                    holder.partial_note = f"{holder.name}: data ends after row {start + full} of {rows}"
                    return

    return gen


def _read_exact(fp: IO[bytes], n: int) -> bytes:
    parts = []
    left = n
    while left > 0:
        data = fp.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _read_npy_header(fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """(shape, fortran_order, dtype) from an npy header; numpy's own safe header parser."""
    try:
        return _read_npy_header_raw(fp)
    except tokenize.TokenError as e:  # robustness: numpy tokenizes the header; a damaged one raises this
        raise ValueError(f"damaged .npy header ({e.args[0]})") from None


def _read_npy_header_raw(fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp, max_header_size=MAX_HEADER_BYTES)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fp, max_header_size=MAX_HEADER_BYTES)
    reader = getattr(np.lib.format, "_read_array_header", None)
    if reader is None:
        raise ValueError(f"npy format version {version} not supported")
    return reader(fp, version, max_header_size=MAX_HEADER_BYTES)


def _unsupported_dtype(dtype: np.dtype[Any]) -> str | None:
    if dtype.hasobject:
        return "object dtype (a pickle): not loaded"
    if dtype.names is not None:
        return "structured dtype: not read"
    if dtype.kind not in "biuf":
        return f"dtype {dtype} is not numeric: not read"
    return None


# ---------------------------------------------------------------- formats


@dataclass
class _Opened:
    arrays: list[_Array] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    skipped: bool = False  # nothing could be read without unpickling
    closers: list[Callable[[], None]] = field(default_factory=list)


def _open_npy(path: Path) -> _Opened:
    try:
        fd = open_fd(path)
    except OSError as e:
        raise UnreadableSource(f"cannot open .npy file: {e.strerror or e}") from e
    try:
        # numpy opens by name: /proc/self/fd/N is the file just checked, whatever is at path now
        out = _open_npy_named(Path(fd_path(fd, path)), os.fstat(fd).st_size)
    except BaseException:
        os.close(fd)
        raise
    out.closers.append(lambda: os.close(fd))
    return out


def _open_npy_named(path: Path, file_size: int) -> _Opened:
    out = _Opened()
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, tokenize.TokenError) as e:
        # object arrays cannot be memory-mapped; a truncated file does not fit its header
        try:
            with open(path, "rb") as fp:
                shape, fortran, dtype = _read_npy_header(fp)
                offset = fp.tell()
        except (ValueError, OSError, SyntaxError) as e2:
            raise UnreadableSource(f"not a valid .npy file: {_one_line(str(e2) or str(e))}") from e2
        reason = _unsupported_dtype(dtype)
        if reason:
            out.skipped = True
            out.notes.append(reason)
            return out
        size = file_size - offset
        row_elems = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        row_bytes = max(row_elems * dtype.itemsize, 1)
        rows = min(shape[0] if shape else 1, size // row_bytes)
        if fortran or not shape or rows <= 0:
            raise UnreadableSource(f"truncated .npy file ({size} data bytes for shape {shape})") from e
        mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(rows, *shape[1:]))
        out.partial = True
        out.notes.append(f"file cut short: {rows} of {shape[0]} rows read")
        out.arrays.append(_Array("array", dtype, (rows, *shape[1:]), _sliced_chunks(mm, (rows, *shape[1:]))))
        return out
    except OSError as e:
        if e.errno == errno.ENOMEM:
            return _stream_npy(path)  # robustness: no address space to map it (a memory limit)
        raise UnreadableSource(f"cannot read .npy file: {e.strerror or e}") from e
    reason = _unsupported_dtype(arr.dtype)
    if reason:
        out.skipped = True
        out.notes.append(reason)
        return out
    out.arrays.append(_Array("array", arr.dtype, tuple(arr.shape), _sliced_chunks(arr, tuple(arr.shape))))
    return out


def _stream_npy(path: Path) -> _Opened:
    """A C-ordered .npy read sequentially in chunks, for a file that cannot be memory-mapped
    (larger than the address space a memory limit leaves the process)."""
    out = _Opened()
    try:
        with open(path, "rb") as fp:
            shape, fortran, dtype = _read_npy_header(fp)
            offset = fp.tell()
    except (ValueError, OSError, SyntaxError) as e:
        raise UnreadableSource(f"not a valid .npy file: {_one_line(str(e))}") from e
    reason = _unsupported_dtype(dtype)
    if reason:
        out.skipped = True
        out.notes.append(reason)
        return out
    if fortran:
        raise UnreadableSource("Fortran-ordered .npy too large to map: not read")

    def skip_header(fp: IO[bytes]) -> None:
        fp.seek(offset)

    holder = _Array("array", dtype, tuple(shape), lambda: iter(()))
    holder.chunks = _stream_chunks(lambda: open(path, "rb"), skip_header, holder)  # noqa: SIM115 (closed by it)
    out.arrays.append(holder)
    return out


def _open_npz(path: Path) -> _Opened:
    out = _Opened()
    try:
        fh = open_binary(path)
    except OSError as e:
        raise UnreadableSource(f"cannot open .npz file: {e.strerror or e}") from e
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        fh.close()
        raise UnreadableSource(f"not a readable .npz (zip) file: {_one_line(str(e))}") from e
    out.closers += [zf.close, fh.close]
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) > MAX_ARRAYS:
        out.partial = True
        out.notes.append(f"{len(members)} members: only the first {MAX_ARRAYS} read")
        members = members[:MAX_ARRAYS]
    for info in members:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        try:
            with zf.open(info) as fp:
                shape, fortran, dtype = _read_npy_header(fp)
                header_len = fp.tell()
        except (ValueError, OSError, SyntaxError, zipfile.BadZipFile, EOFError, RuntimeError) as e:
            out.partial = True
            out.notes.append(f"{name}: unreadable member ({_one_line(str(e))[:80]})")
            continue
        reason = _unsupported_dtype(dtype)
        if reason:
            out.notes.append(f"{name}: {reason}")
            out.partial = True
            continue
        if fortran:

            def whole(
                info: zipfile.ZipInfo = info, header_len: int = header_len, dtype: Any = dtype, shape: Any = shape
            ) -> Any:
                shape_c = tuple(reversed(shape))
                with zf.open(info) as fp:
                    fp.read(header_len)
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if nbytes > MAX_ROW_BYTES:
                        raise UnreadableSource("fortran-ordered member too large to transpose")
                    data = _read_exact(fp, nbytes)
                return np.frombuffer(data, dtype=dtype).reshape(shape_c if len(data) == nbytes else (0,)).T

            holder = _Array(name, dtype, tuple(shape), lambda: iter(()))
            holder.chunks = _lazy_sliced(whole, tuple(shape))
            out.arrays.append(holder)
            continue
        holder = _Array(name, dtype, tuple(shape), lambda: iter(()))

        def opener(info: zipfile.ZipInfo = info) -> IO[bytes]:
            return zf.open(info)

        def skip_header(fp: IO[bytes], n: int = header_len) -> None:
            fp.read(n)

        holder.chunks = _stream_chunks(opener, skip_header, holder)
        out.arrays.append(holder)
    return out


def _lazy_sliced(load: Callable[[], Any], shape: tuple[int, ...]) -> Callable[[], Iterator[tuple[int, np.ndarray]]]:
    def gen() -> Iterator[tuple[int, np.ndarray]]:
        arr = load()
        if arr.shape != shape:
            return
        yield from _sliced_chunks(arr, shape)()

    return gen


def _open_h5(path: Path) -> _Opened:
    out = _Opened()
    try:
        fd = open_fd(path)
    except OSError as e:
        raise UnreadableSource(f"cannot open HDF5 file: {e.strerror or e}") from e
    try:
        h5py = import_h5py()
        # libhdf5 opens by name: /proc/self/fd/N is the file just checked, whatever is at path now
        f = h5py.File(fd_path(fd, path), "r")
    except Exception as e:  # h5py raises OSError, ValueError, KeyError... for bad files
        os.close(fd)
        raise UnreadableSource(f"not a readable HDF5 file: {h5_message(e)}") from e
    out.closers += [f.close, lambda: os.close(fd)]
    found: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and len(found) <= MAX_ARRAYS:
            found.append((name, obj))

    try:
        f.visititems(visit)
    except Exception as e:  # a corrupt group table
        out.partial = True
        out.notes.append(f"walk stopped: {_one_line(str(e))[:80]}")
    if len(found) > MAX_ARRAYS:
        out.partial = True
        out.notes.append(f"more than {MAX_ARRAYS} datasets: the rest not read")
        found = found[:MAX_ARRAYS]
    for name, ds in found:
        try:
            dtype, shape = ds.dtype, tuple(ds.shape or ())
        except Exception:
            out.partial = True
            out.notes.append(f"{name}: unreadable dataset")
            continue
        reason = _unsupported_dtype(dtype) if ds.shape is not None else "empty dataspace"
        if reason is None:
            reason = h5_refusal(ds, dtype)
            if reason:
                out.partial = True
        if reason:
            out.notes.append(f"{name}: {reason}")
            continue
        out.arrays.append(_Array(name, dtype, shape, _sliced_chunks(ds, shape, _chunk_rows(ds))))
    return out


def _chunk_rows(ds: Any) -> int | None:
    chunks = ds.chunks
    return int(chunks[0]) if chunks else None


def _open_csv(path: Path) -> _Opened:
    try:
        with open_text(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            return _parse_csv(fh)
    except OSError as e:
        raise UnreadableSource(f"cannot read csv: {e.strerror or e}") from e


def _parse_csv(fh: IO[str]) -> _Opened:
    """Numeric columns of a csv: the label column (by header name) apart, the others as one 2-D array."""
    out = _Opened()
    head = fh.read(SNIFF_CHARS)
    fh.seek(0)
    dialect = _sniff_dialect(head)
    reader = csv.reader(_capped_lines(fh, MAX_CSV_BYTES, out), dialect)
    try:
        first = next(reader, None)
    except csv.Error as e:
        raise UnreadableSource(f"malformed csv: {_one_line(str(e))}") from e
    if first is None:
        raise UnreadableSource("empty csv")
    has_header = any(_csv_float(c) is None and c.strip().lower() not in _NA_TOKENS for c in first)
    names = (
        [c.strip() or f"col{i}" for i, c in enumerate(first)] if has_header else [f"col{i}" for i in range(len(first))]
    )
    columns: list[list[float] | None] = [[] for _ in names]
    rows = 0
    cells = 0

    def add(row: list[str]) -> None:
        nonlocal rows, cells
        for i in range(len(names)):
            col = columns[i]
            if col is None:
                continue
            cell = row[i] if i < len(row) else ""
            v = _csv_float(cell)
            if v is None:
                if cell.strip().lower() in _NA_TOKENS:
                    v = math.nan
                else:
                    columns[i] = None  # a text column: not numeric data
                    continue
            col.append(v)
        rows += 1
        cells += len(names)

    try:
        if not has_header:
            add(first)
        for row in reader:
            if not row:
                continue
            if cells >= MAX_CSV_CELLS:
                out.partial = True
                out.notes.append(f"only the first {rows} rows read")
                break
            add(row)
    except csv.Error as e:
        out.partial = True
        out.notes.append(f"malformed csv after row {rows}: {_one_line(str(e))[:80]}")
    text_cols = [n for n, c in zip(names, columns, strict=True) if c is None]
    if text_cols:
        out.notes.append(f"text column(s) not read: {', '.join(text_cols[:5])}" + ("…" if len(text_cols) > 5 else ""))
    numeric = [(n, np.asarray(c, dtype=np.float64)) for n, c in zip(names, columns, strict=True) if c is not None]
    label_idx = _pick_label_name([n for n, _ in numeric]) if has_header else None
    features = [(n, a) for i, (n, a) in enumerate(numeric) if i != label_idx]
    if features:
        mat = np.column_stack([a for _, a in features]) if len(features) > 1 else features[0][1].reshape(-1, 1)
        name = "features" if len(features) > 1 else features[0][0]
        out.arrays.append(_Array(name, mat.dtype, tuple(mat.shape), _sliced_chunks(mat, tuple(mat.shape))))
    if label_idx is not None:
        lname, labels = numeric[label_idx]
        out.arrays.append(_Array(lname, labels.dtype, tuple(labels.shape), _sliced_chunks(labels, tuple(labels.shape))))
    return out


def _capped_lines(fh: IO[str], limit: int, out: _Opened) -> Iterator[str]:
    read = 0
    while True:
        line = fh.readline(MAX_CSV_LINE + 1)  # never a whole newline-free file at once
        if not line:
            return
        if len(line) > MAX_CSV_LINE:
            out.partial = True
            out.notes.append(f"a line longer than {MAX_CSV_LINE} characters: the rest not read")
            return
        read += len(line)
        if read > limit:
            out.partial = True
            out.notes.append(f"csv larger than {limit} bytes: the rest not read")
            return
        yield line


def _sniff_dialect(head: str) -> type[csv.Dialect]:
    """The delimiter of a csv from its first lines: the candidate found the same nonzero
    number of times on most of them (comma first on ties).

    Hand-written because ``csv.Sniffer`` runs regular expressions that backtrack
    super-linearly: 64 KiB of ``"a,`` lines took it 33-114 s. This is linear in the
    sample, which is itself bounded (``SNIFF_CHARS``, ``SNIFF_LINES``); quoting is left
    to the csv reader, which handles the standard double quote.
    """
    lines = [line for line in head.splitlines()[:SNIFF_LINES] if line.strip()]
    if len(lines) > 1 and not head.endswith(("\n", "\r")) and len(head) >= SNIFF_CHARS:
        lines = lines[:-1]  # the last line of a cut sample is cut too
    best: tuple[int, int] = (0, 0)
    chosen = ","
    for rank, delim in enumerate(SNIFF_DELIMITERS):
        counts = [line.count(delim) for line in lines]
        if not counts or max(counts) == 0:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        agree = counts.count(mode) if mode else 0
        if (agree, -rank) > (best[0], -best[1]) and agree:
            best = (agree, rank)
            chosen = delim
    return type("_Sniffed", (csv.excel,), {"delimiter": chosen, "skipinitialspace": chosen == " "})


def _csv_float(cell: str) -> float | None:
    s = cell.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


# ---------------------------------------------------------------- statistics


class _Acc:
    """Streaming NaN/Inf counts, rows, and moments over the finite values (Chan's parallel merge)."""

    def __init__(self) -> None:
        self.nan = self.posinf = self.neginf = 0
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.rows: list[int] = []
        self.integral = True
        # per position of a row: its value in the last row read and for how many rows it has held
        self.last_row: np.ndarray | None = None
        self.held: np.ndarray | None = None
        self.constant_run = 0
        self.constant_run_row: int | None = None

    def _runs(self, start: int, chunk: np.ndarray) -> None:
        """The longest run of rows over which one position keeps one finite value (a feature constant
        over a batch: its batch std is 0). Streams with the chunks; NaN never equals itself."""
        if chunk.ndim < 2 or chunk.shape[0] == 0 or chunk.dtype.kind not in "fiu":
            return
        rows = chunk.reshape(chunk.shape[0], -1)
        if self.last_row is None or self.last_row.shape[0] != rows.shape[1]:
            self.last_row, self.held = rows[0].copy(), np.zeros(rows.shape[1], dtype=np.int64)
            first_same = np.zeros(rows.shape[1], dtype=bool)
        else:
            first_same = rows[0] == self.last_row
        same = np.vstack([first_same[None], rows[1:] == rows[:-1]])
        if rows.dtype.kind == "f":
            same &= np.isfinite(rows)  # Inf == Inf, but a run of Inf is the data's fault, not a constant
        idx = np.arange(rows.shape[0])[:, None]
        last_change = np.maximum.accumulate(np.where(same, -1, idx), axis=0)
        held = np.where(last_change >= 0, idx - last_change + 1, idx + 1 + self.held[None])
        best = np.unravel_index(int(np.argmax(held)), held.shape)
        if held[best] > self.constant_run:
            self.constant_run = int(held[best])
            self.constant_run_row = start + int(best[0]) - self.constant_run + 1
        self.held, self.last_row = held[-1].copy(), rows[-1].copy()

    def add(self, start: int, chunk: np.ndarray) -> None:
        if chunk.dtype.kind == "b":
            chunk = chunk.astype(np.uint8)
        self._runs(start, chunk)
        f = chunk.astype(np.float64, copy=False)
        if chunk.dtype.kind == "f":
            finite = np.isfinite(f)
            if not finite.all():
                bad = ~finite
                nan = np.isnan(f)
                self.nan += int(nan.sum())
                self.posinf += int((f == np.inf).sum())
                self.neginf += int((f == -np.inf).sum())
                if len(self.rows) < MAX_ROWS_KEPT:
                    rows = np.flatnonzero(bad.any(axis=1))[: MAX_ROWS_KEPT - len(self.rows)] + start
                    if not self.rows or rows.size == 0 or rows[0] != self.rows[-1]:
                        self.rows.extend(int(r) for r in rows)
                    else:  # a giant row read in pieces: the same row again
                        self.rows.extend(int(r) for r in rows[1:])
                f = f[finite]
            else:
                f = f.ravel()
            if self.integral and f.size and not np.array_equal(f, np.floor(f)):
                self.integral = False
        else:
            f = f.ravel()
        n = int(f.size)
        if n == 0:
            return
        mean = float(f.mean())
        m2 = float(((f - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.min = min(self.min, float(f.min()))
        self.max = max(self.max, float(f.max()))

    def stats(self, arr: _Array, role: str) -> ArrayStats:
        nan_ = math.nan
        return ArrayStats(
            name=arr.name,
            dtype=str(arr.dtype),
            shape=arr.shape,
            nan=self.nan,
            posinf=self.posinf,
            neginf=self.neginf,
            min=self.min if self.n else nan_,
            max=self.max if self.n else nan_,
            mean=self.mean if self.n else nan_,
            std=math.sqrt(self.m2 / self.n) if self.n else nan_,
            nonfinite_rows=tuple(sorted(set(self.rows)))[:MAX_ROWS_KEPT],
            role=role,
            constant_run=self.constant_run,
            constant_run_row=self.constant_run_row,
        )


class _LabelAcc:
    """Streaming class counts, negatives, and the first rows of the extreme label values."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.complete = True
        self.count = 0
        self.negative = 0
        self.neg_rows: list[tuple[int, int]] = []
        self.top_rows: dict[int, list[int]] = {}  # the TOP_LABEL_VALUES largest values -> first rows
        self.valid = True  # False once a value is not an integer
        self.lo = math.inf
        self.hi = -math.inf

    def add(self, start: int, chunk: np.ndarray) -> None:
        if not self.valid:
            return
        v = chunk.reshape(-1)
        if v.dtype.kind == "f" and (not np.isfinite(v).all() or not np.array_equal(v, np.floor(v))):
            self.valid = False  # not class indices (regression targets, or NaN in them)
            return
        v = v.astype(np.int64)
        if v.size == 0:
            return
        self.count += int(v.size)
        self.lo = min(self.lo, int(v.min()))
        self.hi = max(self.hi, int(v.max()))
        neg = v < 0
        if neg.any():
            self.negative += int(neg.sum())
            if len(self.neg_rows) < MAX_ROWS_KEPT:
                idx = np.flatnonzero(neg)[: MAX_ROWS_KEPT - len(self.neg_rows)]
                self.neg_rows.extend((int(i) + start, int(v[i])) for i in idx)
        values, counts = np.unique(v, return_counts=True)
        for val, c in zip(values.tolist(), counts.tolist(), strict=True):
            self.counts[val] = self.counts.get(val, 0) + c
        if len(self.counts) > 2 * MAX_DISTINCT_LABELS:
            self._prune()
        # the largest distinct values seen so far keep their first rows
        nonneg = values[values >= 0][-TOP_LABEL_VALUES:].tolist()  # negatives have their own rows
        top = sorted(set(nonneg) | set(self.top_rows), reverse=True)[:TOP_LABEL_VALUES]
        self.top_rows = {k: self.top_rows.get(k, []) for k in top}
        for k in top:
            rows = self.top_rows[k]
            if len(rows) < MAX_ROWS_KEPT:
                idx = np.flatnonzero(v == k)[: MAX_ROWS_KEPT - len(rows)]
                rows.extend(int(i) + start for i in idx)

    def _prune(self) -> None:
        self.complete = False
        keep = sorted(self.counts.items(), key=lambda kv: -kv[1])[:MAX_DISTINCT_LABELS]
        self.counts = dict(keep)

    def stats(self, name: str) -> LabelStats | None:
        if not self.valid or not self.count:
            return None
        if len(self.counts) > MAX_DISTINCT_LABELS:
            self._prune()
        classes = dict(self.counts)
        extremes = {v for _, v in self.neg_rows} | set(self.top_rows)
        for v in extremes:
            classes.setdefault(v, self.counts.get(v, 0))
        extreme_rows = list(self.neg_rows)
        for value in sorted(self.top_rows, reverse=True):
            extreme_rows.extend((r, value) for r in self.top_rows[value])
        return LabelStats(
            array=name,
            min=int(self.lo),
            max=int(self.hi),
            negative=self.negative,
            classes=dict(sorted(classes.items())),
            extreme_rows=tuple(extreme_rows),
            count=self.count,
            classes_complete=self.complete,
        )


# ---------------------------------------------------------------- picking the labels


def _tokens(name: str) -> list[str]:
    base = name.rsplit("/", 1)[-1].lower()
    return [t for t in re.split(r"[^a-z0-9]+", base) if t]


def _label_rank(name: str) -> int | None:
    """Lower is a stronger label name; None when the name does not say labels."""
    toks = _tokens(name)
    if not toks or _NOT_LABEL_TOKENS & set(toks):
        return None
    for rank, tok in enumerate(_LABEL_TOKENS):
        if tok in toks:
            return rank
    joined = "".join(toks)
    if re.fullmatch(r"y(train|val|valid|test|true|batch|s)?\d*", joined):
        return _LABEL_TOKENS.index("y")
    return None


def _pick_label_name(names: list[str]) -> int | None:
    ranked = [(r, i) for i, n in enumerate(names) if (r := _label_rank(n)) is not None]
    return min(ranked)[1] if ranked else None


def _label_candidates(arrays: list[_Array]) -> list[int]:
    """Arrays that may hold class labels, best first: by name, then by shape."""

    def vector(a: _Array) -> bool:
        return len(a.shape) == 1 or (len(a.shape) == 2 and a.shape[1] == 1)

    named = sorted((r, i) for i, a in enumerate(arrays) if vector(a) and (r := _label_rank(a.name)) is not None)
    out = [i for _, i in named]
    if out:
        return out
    if len(arrays) < 2:
        return []
    features = max(range(len(arrays)), key=lambda i: int(np.prod(arrays[i].shape or (1,), dtype=np.int64)))
    n = arrays[features].rows
    return [
        i
        for i, a in enumerate(arrays)
        if i != features and vector(a) and a.rows == n and a.dtype.kind in "iubf" and len(arrays[features].shape) >= 1
    ]


# ---------------------------------------------------------------- public API


def read_data_sample(path: Path, source: Source) -> DataSample:
    """Statistics of every numeric array in a data sample file, and of its labels."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        opened = _open_npy(path)
    elif suffix == ".npz":
        opened = _open_npz(path)
    elif suffix in (".h5", ".hdf5", ".he5"):
        return _read_h5_isolated(path, source)
    elif suffix == ".csv":
        opened = _open_csv(path)
    else:
        raise UnreadableSource(f"not a data sample format: {suffix or path.name}")
    try:
        return _summarise(opened, source)
    finally:
        for close in opened.closers:
            with contextlib.suppress(Exception):
                close()


def _read_h5_isolated(path: Path, source: Source) -> DataSample:
    """An H5 data sample read in a forked child (see readers/isolation.py): a damaged file
    that crashes libhdf5 costs this source, not the analysis. The statistics come back
    as JSON and are rebuilt here."""
    from forensics.readers import isolation

    def in_process() -> DataSample:
        opened = _open_h5(path)
        try:
            return _summarise(opened, source)
        finally:
            for close in opened.closers:
                with contextlib.suppress(Exception):
                    close()

    def work(emit: Any) -> None:
        emit(_sample_to_json(in_process()))

    size = path.stat().st_size if path.exists() else 0
    outcome = isolation.run_isolated(work, isolation.deadline_for(size))
    if outcome.failure is not None or not outcome.messages:
        raise UnreadableSource(outcome.failure or "the isolated reader sent nothing")
    return _sample_from_json(outcome.messages[0], source)


def _sample_to_json(ds: DataSample) -> dict[str, Any]:
    return {
        "status": ds.source.status.value,
        "note": ds.source.note,
        "arrays": [dataclasses.asdict(a) for a in ds.arrays],
        "labels": None
        if ds.labels is None
        else {**dataclasses.asdict(ds.labels), "classes": [[k, v] for k, v in ds.labels.classes.items()]},
    }


def _sample_from_json(d: dict[str, Any], source: Source) -> DataSample:
    arrays = tuple(
        ArrayStats(**{**a, "shape": tuple(a["shape"]), "nonfinite_rows": tuple(a["nonfinite_rows"])})
        for a in d["arrays"]
    )
    lab = d["labels"]
    labels = None
    if lab is not None:
        labels = LabelStats(
            **{
                **lab,
                "classes": {int(k): int(v) for k, v in lab["classes"]},
                "out_of_range_rows": tuple(lab["out_of_range_rows"]),
                "extreme_rows": tuple((int(r), int(v)) for r, v in lab["extreme_rows"]),
            }
        )
    src = dataclasses.replace(source, status=Status(d["status"]), note=d["note"])
    return DataSample(source=src, arrays=arrays, labels=labels)


def read_data_sample_path(path: Path) -> DataSample:
    """Read a data sample named on the command line (``--data PATH``), possibly outside the run dir."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableSource(f"{path}: {e.strerror or e}") from e
    if not path.is_file():
        raise UnreadableSource(f"{path}: not a file")
    return read_data_sample(path, Source(path=path.as_posix(), kind=Kind.DATA_SAMPLE, size=size))


def _summarise(opened: _Opened, source: Source) -> DataSample:
    arrays = opened.arrays
    notes = list(opened.notes)
    partial = opened.partial
    if opened.skipped:
        src = dataclasses.replace(source, status=Status.SKIPPED, note=_note(notes))
        return DataSample(source=src, arrays=())
    candidates = _label_candidates(arrays)
    stats: list[tuple[_Array, _Acc]] = []
    labels: dict[int, _LabelAcc] = {}
    budget = MAX_READ_BYTES
    for i, arr in enumerate(arrays):
        acc = _Acc()
        lab = _LabelAcc() if i in candidates else None
        try:
            for start, chunk in arr.chunks():
                budget -= chunk.size * 8
                acc.add(start, chunk)
                if lab is not None:
                    lab.add(start, chunk)
                if budget < 0:
                    raise _Budget
        except _Budget:
            partial = True
            notes.append(f"{arr.name}: stopped after {MAX_READ_BYTES >> 30} GiB read")
            budget = 0
        except UnreadableSource as e:
            partial = True
            notes.append(f"{arr.name}: {e}")
            continue
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError, KeyError, TypeError) as e:
            # a corrupt member (bad CRC, cut deflate stream) costs that member only
            partial = True
            notes.append(f"{arr.name}: read failed ({_one_line(str(e))[:80]})")
        if arr.partial_note:
            partial = True
            notes.append(arr.partial_note)
        stats.append((arr, acc))
        if lab is not None:
            labels[i] = lab
    label_stats = None
    label_index = None
    for i in candidates:
        lab = labels.get(i)
        if lab is None:
            continue
        ls = lab.stats(arrays[i].name)
        if ls is not None:
            label_stats, label_index = ls, i
            break
    n_rows = arrays[label_index].rows if label_index is not None else None
    largest = max(
        (a for a, _ in stats if a is not (arrays[label_index] if label_index is not None else None)),
        key=lambda a: int(np.prod(a.shape or (1,), dtype=np.int64)),
        default=None,
    )
    named_labels = {id(a) for a in arrays if _label_rank(a.name) is not None}
    out = []
    for arr, acc in stats:
        if label_index is not None and arr is arrays[label_index]:
            role = "labels"
        elif label_index is None and id(arr) in named_labels and arr is not largest:
            role = "labels"  # one-hot or multi-label targets: no class-index statistics
        elif arr is largest or (n_rows is not None and arr.shape and arr.rows == n_rows and len(arr.shape) > 1):
            role = "features"
        else:
            role = "other"
        out.append(acc.stats(arr, role))
    if not out and not notes:
        notes.append("no numeric arrays")
    status = Status.PARTIAL if partial else Status.OK
    note = _note(notes) if notes else None
    src = dataclasses.replace(source, status=status, note=note) if (note or partial) else source
    return DataSample(source=src, arrays=tuple(out), labels=label_stats)


class _Budget(Exception):
    pass


def _note(notes: list[str]) -> str:
    text = "; ".join(notes)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
