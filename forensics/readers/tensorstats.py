"""Streaming statistics of checkpoint tensors, and per-layer aggregates of them.

A checkpoint can be far larger than memory, so no tensor is ever loaded whole:
the readers hand raw chunks (slices of a memory map, or of an H5 dataset) to a
:class:`StatsAccumulator`, which folds each chunk into float64 running moments
with Chan's parallel formula. Peak memory is a few times the chunk size, whatever
the tensor size.

float32 and bfloat16 chunks, the common checkpoint dtypes, go through a one-pass C kernel
(``forensics/_tensorkernel.c``) where it was built, and through numpy passes over cache-sized
blocks otherwise; both give the same figures.

Statistics are over the *finite* elements (a NaN must not hide the scale of the
rest); the non-finite ones are counted separately.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from forensics import progress
from forensics.records import TensorStats

# Elements a reader hands over per chunk (a slice of a memory map, or of an H5 dataset):
# large enough to amortise the per-chunk cost of reading, small enough to bound memory.
DEFAULT_CHUNK_ELEMENTS = 1 << 20

# Elements folded at a time. A chunk is cut into blocks so that the few passes made over
# each (a float64 copy, its sum, its sum of squares, min, max, zeros) run on data still in
# the core's cache: a block's float32 (256 KiB), its float64 copy (512 KiB) and its zero
# mask (64 KiB) fit a 1-2 MiB L2. Larger blocks are slower (they spill); smaller ones pay
# numpy's per-call cost (about ten calls a block) too often.
BLOCK_ELEMENTS = 1 << 16

# Sums of squares go through BLAS dot products on rows of this many elements. OpenBLAS
# (numpy's BLAS) runs a dot product of at most 10,000 elements on the calling thread and
# wakes its thread pool for a longer one; on a loaded machine those threads spin against
# the other jobs (a 64 Ki-element np.dot measured 6x the CPU of the same sum done in rows).
_DOT_ROW = 8192

# Values at or below this magnitude can be squared and summed in float64 over any
# tensor that fits a 64-bit element count (2**448 squared times 2**63 < 2**1024), so
# no rescaling is needed below it. Only float64 tensors can exceed it.
_SAFE_MAGNITUDE = 2.0**448

# A block's sum of squared deviations is taken as sum(x^2) - n * mean^2, which costs no
# pass of its own. That difference loses about log2(sum(x^2) / M2) bits to cancellation,
# so below this fraction (the block's mean over ~32 standard deviations, e.g. a weight
# stored near a large offset) the block is centred and summed again: the error stays under
# ~1e-10 relative (sum(x^2) is good to ~1e-13 here).
_CANCELLATION = 2.0**-10


def _load_kernel():
    """The one-pass C kernel (forensics/_tensorkernel.c), or None where it was not built.

    setup.py builds it when a C compiler is there; without it the numpy passes below give the
    same figures, at about 0.7 of the speed. ``FORENSICS_NO_KERNEL=1`` forces the numpy passes
    (the tests compare the two; the benchmark measures both).
    """
    if os.environ.get("FORENSICS_NO_KERNEL"):
        return None
    try:
        from forensics import _tensorkernel
    except ImportError:
        return None
    return _tensorkernel


_KERNEL = _load_kernel()


@cache
def _lookup_table(dtype: np.dtype) -> np.ndarray:
    """float32 value of every bit pattern of a 1- or 2-byte float type (fp8).

    Every such value is exact in float32, and a table lookup is several times faster
    than ml_dtypes' elementwise casts of fp8 (5x with ml_dtypes 0.6).
    """
    bits = np.arange(256, dtype=np.uint8) if dtype.itemsize == 1 else np.arange(65536, dtype=np.uint16)
    with np.errstate(invalid="ignore"):  # NaN bit patterns cast to NaN, as they should
        return bits.view(dtype).astype(np.float32)


# bfloat16 as the readers hand it over: its 2-byte patterns under a dtype of our own, so that a
# bfloat16 tensor costs no ml_dtypes import (about a second of CPU, more than reading a GiB).
# Widened by a 16-bit shift (see flat_native); ml_dtypes' own bfloat16 is accepted as well.
BFLOAT16_BITS = np.dtype([("bfloat16", "<u2")])


def ml_dtype(name: str) -> np.dtype:
    """One of ml_dtypes' types ("bfloat16", "float8_e4m3fn", ...), imported when first met.

    Importing ml_dtypes costs about a second of CPU, several times what a small run's
    whole analysis does otherwise, and most runs hold no such tensor.
    """
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


def _is_narrow(dt: np.dtype) -> bool:
    """A float numpy cannot reduce itself (ml_dtypes' bfloat16 and fp8 types)."""
    return dt.kind == "V" or (dt.kind == "f" and dt not in (np.float16, np.float32, np.float64))


def flat_native(chunk: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The chunk as a flat array numpy can reduce fast: narrow floats (ml_dtypes) become float32.

    ``out``, a float32 array at least as long as the chunk, receives the widened values
    instead of a new array (a reused buffer). ml_dtypes is never imported here: a chunk of
    its types means the caller already did.
    """
    flat = np.asarray(chunk).reshape(-1)
    dt = flat.dtype
    if not _is_narrow(dt):
        return flat
    n = flat.shape[0]
    if dt == BFLOAT16_BITS or dt.name == "bfloat16":
        # bfloat16 is the upper half of a float32: a shift is the exact cast, and
        # 20x faster than the table lookup (NaN and Inf patterns carry over)
        wide = None if out is None else out[:n].view(np.uint32)
        wide = np.left_shift(flat.view(np.uint16), 16, out=wide, dtype=np.uint32)
        return wide.view(np.float32)
    if dt.itemsize in (1, 2):
        codes = flat.view(np.uint8 if dt.itemsize == 1 else np.uint16)
        return np.take(_lookup_table(dt), codes, out=None if out is None else out[:n])
    return flat.astype(np.float64)


# a dot product per row (numpy < 2 has no vecdot; einsum needs no BLAS at all)
def _einsum_vecdot(rx: np.ndarray, ry: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.einsum("ij,ij->i", rx, np.broadcast_to(ry, rx.shape), out=out)


_vecdot = getattr(np, "vecdot", None) or _einsum_vecdot


def _rows_dot(x: np.ndarray, y: np.ndarray) -> float:
    """``sum(x * y)`` of two contiguous float64 vectors, on this thread (see ``_DOT_ROW``)."""
    n = x.shape[0]
    cut = n - n % _DOT_ROW
    total = 0.0
    if cut:
        rx, ry = x[:cut].reshape(-1, _DOT_ROW), y[:cut].reshape(-1, _DOT_ROW)
        rows = _vecdot(rx, ry)
        total = float(np.add.reduce(rows))
    if cut < n:
        total += float(np.dot(x[cut:], y[cut:]))
    return total


# A row of ones: a sum done as dot products with it runs at the speed of the sums of
# squares (BLAS inner loops), ~1.5x numpy's pairwise add.reduce over float64.
_ONES = np.ones(_DOT_ROW, np.float64)
_ONES_ROWS = np.broadcast_to(_ONES, (BLOCK_ELEMENTS // _DOT_ROW, _DOT_ROW))


def row_sum(x: np.ndarray) -> float:
    """``sum(x)`` of a contiguous float64 vector, as dot products with ones on this thread."""
    n = x.shape[0]
    cut = n - n % _DOT_ROW
    total = 0.0
    if cut:
        rows = x[:cut].reshape(-1, _DOT_ROW)
        sums = _vecdot(rows, _ONES)
        total = float(np.add.reduce(sums))
    if cut < n:
        total += float(np.add.reduce(x[cut:]))
    return total


def sum_of_squares(x: np.ndarray) -> float:
    """``sum(x**2)`` of a contiguous float64 vector, at BLAS speed but on this thread only."""
    return _rows_dot(x, x)


# bfloat16's -0.0 as an int16 pattern (0x8000), the least of them all
_BF16_NEGATIVE_ZERO = -(1 << 15)


def _bf16_value(pattern: int) -> float:
    """The value of one bfloat16 bit pattern (as int16 or uint16)."""
    return float(np.array((pattern & 0xFFFF) << 16, np.uint32).view(np.float32))


def _unscale(x: float, exp: int) -> float:
    """``x * 2**exp``; +-inf where the true value is past float64 (an l2 of two 1.7e308 weights)."""
    try:
        return math.ldexp(x, exp)
    except OverflowError:
        return math.copysign(math.inf, x)


def _shifted_moments(shift: float, s1: float, s2: float, n: int) -> tuple[float, float]:
    """(mean, sum of squared deviations) of n values from the sums of their deviations from ``shift``."""
    return shift + s1 / n, s2 - s1 * (s1 / n)


class StatsAccumulator:
    """Running statistics of one tensor, fed chunk by chunk.

    Each chunk is folded in cache-sized blocks (``BLOCK_ELEMENTS``) through reused
    buffers: one float64 copy, whose sum doubles as the finiteness test, one sum of
    squares of it, and min, max and a zero count on the block itself. Blocks are
    combined with Chan's parallel formula. float32 and bfloat16 chunks, the common
    checkpoint dtypes, take ``_fold_chunk``: the same figures with the per-block
    bookkeeping done for a whole chunk at once.

    Moments are kept in units of ``2**self._exp`` so that float64 tensors with huge
    finite values do not overflow the sum of squares; for every narrower dtype the
    scale stays 1 and costs nothing.
    """

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], layer: str | None = None) -> None:
        self.name = name
        self.layer = layer if layer is not None else layer_of(name)
        self.dtype = dtype
        self.shape = tuple(int(d) for d in shape)
        self.numel = 0
        self.nan = 0
        self.posinf = 0
        self.neginf = 0
        self.zeros = 0
        self._n = 0  # finite elements
        self._mean = 0.0  # scaled
        self._m2 = 0.0  # scaled sum of squared deviations
        self._exp = 0  # scale exponent: true value = scaled * 2**exp
        self._min = math.inf
        self._max = -math.inf
        self._f64: np.ndarray | None = None  # reused buffers, sized on first use
        self._f32: np.ndarray | None = None
        self._zero: np.ndarray | None = None
        self._chunk: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see _chunk_scratch

    def _buffers(self, size: int) -> None:
        if self._f64 is None or self._f64.shape[0] < size:
            # no larger than the tensor: a model of many small tensors allocates little
            expected = math.prod(self.shape) if self.shape else 1
            size = max(size, min(BLOCK_ELEMENTS, expected))
            self._f64 = np.empty(size, np.float64)
            self._f32 = np.empty(size, np.float32)
            self._zero = np.empty(size, np.bool_)

    def update(self, chunk: np.ndarray) -> None:
        """Fold one chunk (any shape, the tensor's own dtype) into the statistics."""
        progress.advance(chunk.nbytes)
        flat = np.asarray(chunk).reshape(-1)
        size = int(flat.shape[0])
        if size == 0:
            return
        self.numel += size
        dt = flat.dtype
        self._buffers(min(size, BLOCK_ELEMENTS))
        bf16 = dt == BFLOAT16_BITS or dt.name == "bfloat16"
        # NaN/inf met in a cast or a sum are counted in _fold; one errstate per chunk, not
        # per block (entering it costs as much as a block's min)
        if _KERNEL is not None and (bf16 or dt == np.float32) and not self._exp:
            self._fold_kernel(flat, bf16)
            return
        with np.errstate(invalid="ignore", over="ignore"):
            if (bf16 or dt == np.float32) and not self._exp:
                # (moments scaled by an earlier float64 chunk of huge values go to the generic fold)
                self._fold_chunk(flat, bf16)
                return
            fold = self._fold_narrow if _is_narrow(dt) else self._fold
            for start in range(0, size, BLOCK_ELEMENTS):
                fold(flat[start : start + BLOCK_ELEMENTS])

    def _fold_kernel(self, flat: np.ndarray, bf16: bool) -> None:
        """A float32 or bfloat16 chunk through the C kernel: one pass for every figure.

        The kernel sums deviations from ``shift``, the running mean (0 for a first chunk), so the
        sum of squared deviations is ``s2 - s1**2 / n`` with little cancellation. Where it loses
        too much anyway (a first chunk far from 0 next to its spread, the same test as
        ``_combine``'s), the chunk is summed again about its own mean, as ``_combine`` does.
        """
        assert _KERNEL is not None
        data = np.ascontiguousarray(flat.view(np.uint16) if bf16 else flat)
        shift = self._mean if self._n else 0.0
        finite, nan, posinf, neginf, zeros, lo, hi, s1, s2 = _KERNEL.fold(data, bf16, shift)
        self.nan += nan
        self.posinf += posinf
        self.neginf += neginf
        self.zeros += zeros
        if not finite:
            return
        mean_b, m2_b = _shifted_moments(shift, s1, s2, finite)
        if s2 and not m2_b > s2 * _CANCELLATION:
            mean_b, m2_b = _shifted_moments(mean_b, *_KERNEL.fold(data, bf16, mean_b)[7:], finite)
        self._merge(finite, mean_b, max(m2_b, 0.0))
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)

    def _fold_narrow(self, block: np.ndarray) -> None:
        self._fold(flat_native(block, out=self._f32))

    def _fold_chunk(self, flat: np.ndarray, bf16: bool) -> None:
        """A float32 or bfloat16 chunk, with the least work and the least Python per block.

        Each block is cast once into the reused float64 buffer, and two single-threaded dot
        products per row (with ones, and with itself) write its sums and sums of squares into
        per-chunk arrays; its min, max and zero count are taken on the block itself (the
        first of them pulls it into the cache). Finiteness, the cancellation test and Chan's
        combination are then done for all of the chunk's blocks at once. The float64 sum is
        the finiteness test: a float32 sum cannot overflow float64, so a block's sum is finite
        iff every element is, and its squares (at most 1.2e77 each) are then finite too, with
        no rescaling (see ``_SAFE_MAGNITUDE``). A block with a NaN or an infinity is folded
        again, alone, by the generic ``_fold``, which counts them.

        bfloat16 min, max and zeros are read on the 16-bit patterns: comparing 2-byte integers
        costs half what comparing the widened float32 does. As int16, the patterns with the sign
        bit clear (+0 and the positive values) are ordered as their values; those with it set
        (-0 and the negatives) are below them, the more negative the value the larger the
        pattern as uint16. -0.0 is 0x8000, the least int16 of all.
        """
        assert self._f64 is not None and self._f32 is not None and self._zero is not None
        f64, f32, zero = self._f64, self._f32, self._zero
        size = flat.shape[0]
        blocks = -(-size // BLOCK_ELEMENTS)
        sums, squares, counts = self._chunk_scratch(blocks)
        kind = np.int64 if bf16 else np.float64
        low, high, top, zeros = (np.empty(blocks, t) for t in (kind, kind, kind, np.int64))
        for j, start in enumerate(range(0, size, BLOCK_ELEMENTS)):
            block = flat[start : start + BLOCK_ELEMENTS]
            m = block.shape[0]
            if bf16:
                bits = block.view(np.uint16)
                signed = bits.view(np.int16)
                low[j] = np.minimum.reduce(signed)
                high[j] = np.maximum.reduce(signed)
                top[j] = np.maximum.reduce(bits)  # the most negative value's pattern, if any
                block = np.left_shift(bits, 16, out=f32[:m].view(np.uint32), dtype=np.uint32).view(np.float32)
                n_zero = m - np.count_nonzero(bits)  # +0.0
                if low[j] == _BF16_NEGATIVE_ZERO:
                    n_zero += np.count_nonzero(np.equal(signed, _BF16_NEGATIVE_ZERO, out=zero[:m]))
            else:
                low[j] = np.minimum.reduce(block)
                high[j] = np.maximum.reduce(block)
                n_zero = np.count_nonzero(np.equal(block, 0, out=zero[:m]))
            zeros[j] = n_zero
            counts[j] = m
            x = f64[:m]
            np.copyto(x, block, casting="unsafe")
            k, rest = divmod(m, _DOT_ROW)
            rows = x[: m - rest].reshape(k, _DOT_ROW)
            _vecdot(rows, _ONES_ROWS[:k], out=sums[j, :k])
            _vecdot(rows, rows, out=squares[j, :k])
            if k < sums.shape[1]:  # only the last block can be short
                tail = x[m - rest :]
                sums[j, k] = np.add.reduce(tail)
                squares[j, k] = np.dot(tail, tail)
                sums[j, k + 1 :] = 0.0
                squares[j, k + 1 :] = 0.0
        total = np.add.reduce(sums[:blocks], axis=1)
        sq = np.add.reduce(squares[:blocks], axis=1)
        n = counts[:blocks]
        keep = np.isfinite(total)
        kept = np.flatnonzero(keep)
        if kept.shape[0] < blocks:
            for j in np.flatnonzero(~keep):
                self._fold(flat_native(flat[j * BLOCK_ELEMENTS : (j + 1) * BLOCK_ELEMENTS], out=f32))
            if not kept.shape[0]:
                return
            total, sq, n, low, high, top, zeros = (v[kept] for v in (total, sq, n, low, high, top, zeros))
        mean_b = total / n
        m2_b = sq - total * mean_b
        # the cancellation test of _combine, block by block: such a block is centred and summed again
        for i in np.flatnonzero((sq != 0) & ~(m2_b > sq * _CANCELLATION)):
            start = int(kept[i]) * BLOCK_ELEMENTS
            block = flat_native(flat[start : start + BLOCK_ELEMENTS], out=f32)
            x = f64[: block.shape[0]]
            np.copyto(x, block, casting="unsafe")
            m2_b[i] = sum_of_squares(np.subtract(x, mean_b[i], out=x))
        count = int(np.add.reduce(n))
        mean = float(np.add.reduce(total)) / count
        dev = mean_b - mean
        self._merge(count, mean, float(np.add.reduce(m2_b)) + float(np.add.reduce(n * dev * dev)))
        self.zeros += int(np.add.reduce(zeros))
        if bf16:
            # the least value: the negative of largest magnitude, else the least non-negative one;
            # the largest: the largest pattern with the sign clear, else (every value negative) the
            # negative nearest zero, the least pattern as uint16 (looked for only then)
            smallest, largest = int(np.minimum.reduce(low)), int(np.maximum.reduce(high))
            lo = _bf16_value(int(np.maximum.reduce(top)) if smallest < 0 else smallest)
            if largest < 0:
                starts = (int(j) * BLOCK_ELEMENTS for j in kept)
                largest = min(int(np.minimum.reduce(flat[a : a + BLOCK_ELEMENTS].view(np.uint16))) for a in starts)
            hi = _bf16_value(largest)
        else:
            lo, hi = float(np.minimum.reduce(low)), float(np.maximum.reduce(high))
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)

    def _chunk_scratch(self, blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_fold_chunk``'s arrays, reused: row sums and sums of squares per block, block sizes."""
        if self._chunk is None or self._chunk[2].shape[0] < blocks:
            per_block = BLOCK_ELEMENTS // _DOT_ROW
            self._chunk = (np.empty((blocks, per_block)), np.empty((blocks, per_block)), np.empty(blocks, np.int64))
        return self._chunk

    def _fold(self, a: np.ndarray) -> None:
        assert self._f64 is not None and self._zero is not None
        n = int(a.shape[0])
        zero = self._zero[:n]
        np.equal(a, 0, out=zero)
        self.zeros += int(np.count_nonzero(zero))
        # One float64 sum doubles as the finiteness test: it is finite iff every element
        # is (a float32 sum cannot overflow float64); only float64 data can overflow it.
        if a.dtype == np.float64:
            x = a  # read only: anything that changes it below makes a copy
        else:
            x = self._f64[:n]
            np.copyto(x, a, casting="unsafe")
        total: float | None = row_sum(x)
        if a.dtype.kind == "f" and not math.isfinite(total):
            mask = np.isfinite(a)
            n_finite = int(np.count_nonzero(mask))
            if n_finite != n:
                self.nan += int(np.count_nonzero(np.isnan(a)))
                self.posinf += int(np.count_nonzero(a == math.inf))
                self.neginf += int(np.count_nonzero(a == -math.inf))
                a, x, n = a[mask], x[mask], n_finite
            del mask
            if n == 0:
                return
            total = None  # recomputed below, over the finite elements
        lo = float(np.minimum.reduce(a))
        hi = float(np.maximum.reduce(a))
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        peak = max(-lo, hi)
        if peak > _SAFE_MAGNITUDE:
            exp = math.frexp(peak)[1]
            if exp > self._exp:
                self._rescale(exp)
        if self._exp:
            x = x * 2.0**-self._exp  # exact: a power of two
            total = None
        if total is None:
            total = row_sum(x)
        self._combine(n, total, sum_of_squares(x), x)

    def _combine(self, n: int, total: float, squares: float, x: np.ndarray) -> None:
        """Fold a block of ``n`` finite elements, of sum ``total`` and sum of squares ``squares``
        (scaled), whose float64 values are ``x`` (used only when the block must be centred)."""
        assert self._f64 is not None
        mean_b = total / n
        m2_b = squares - total * mean_b
        if squares and not m2_b > squares * _CANCELLATION:
            m2_b = sum_of_squares(np.subtract(x, mean_b, out=self._f64[:n]))
        self._merge(n, mean_b, m2_b)

    def _merge(self, n: int, mean_b: float, m2_b: float) -> None:
        """Chan et al.: combine (n_a, mean_a, M2_a) with (n_b, mean_b, M2_b)."""
        n_a = self._n
        total_n = n_a + n
        delta = mean_b - self._mean
        self._mean += delta * n / total_n
        self._m2 += m2_b + delta * delta * (n_a * n / total_n)
        self._n = total_n

    def _rescale(self, exp: int) -> None:
        factor = 2.0 ** (self._exp - exp)
        self._mean *= factor
        self._m2 *= factor * factor
        self._exp = exp

    def result(self) -> TensorStats:
        """The statistics so far. NaN for moments of a tensor with no finite element."""
        if self._n:
            # unscaled with ldexp: 2.0**exp itself overflows for float64 data near its limit
            mean = _unscale(self._mean, self._exp)
            std = _unscale(math.sqrt(max(self._m2, 0.0) / self._n), self._exp)
            # sum of squares = M2 + n*mean^2: two non-negative terms, no cancellation
            l2 = _unscale(math.sqrt(max(self._m2, 0.0) + self._n * self._mean * self._mean), self._exp)
            lo, hi = self._min, self._max
            absmax = max(-lo, hi)
        else:
            mean = std = lo = hi = absmax = math.nan
            l2 = 0.0
        return TensorStats(
            name=self.name,
            layer=self.layer,
            dtype=self.dtype,
            shape=self.shape,
            numel=self.numel,
            nan=self.nan,
            posinf=self.posinf,
            neginf=self.neginf,
            zeros=self.zeros,
            min=lo,
            max=hi,
            absmax=absmax,
            mean=mean,
            std=std,
            l2=l2,
        )


def tensor_stats(
    name: str,
    dtype: str,
    shape: tuple[int, ...],
    chunks: Iterable[np.ndarray],
    layer: str | None = None,
) -> TensorStats:
    """Statistics of a tensor given as an iterable of chunks (consumed once, in order)."""
    acc = StatsAccumulator(name, dtype, shape, layer)
    for chunk in chunks:
        acc.update(chunk)
    return acc.result()


def array_chunks(array: np.ndarray, chunk_elements: int | None = None) -> Iterator[np.ndarray]:
    """Flat slices of an in-memory or memory-mapped array, ``chunk_elements`` at a time."""
    step = max(1, chunk_elements or DEFAULT_CHUNK_ELEMENTS)
    flat = array.reshape(-1)
    for start in range(0, flat.shape[0], step):
        yield flat[start : start + step]


def array_stats(
    name: str, array: np.ndarray, chunk_elements: int | None = None, layer: str | None = None
) -> TensorStats:
    """Statistics of an array already at hand (or memory-mapped), streamed in chunks."""
    dtype = dtype_name(array.dtype)
    return tensor_stats(name, dtype, tuple(array.shape), array_chunks(array, chunk_elements), layer)


def dtype_name(dtype: np.dtype) -> str:
    """The dtype's conventional name: "float32", "bfloat16", "float8_e4m3fn", "bool"."""
    return _dtype_name(np.dtype(dtype))


@cache
def _dtype_name(dt: np.dtype) -> str:
    # cached: comparing dtypes and asking numpy for a name cost ~20 us, paid once per tensor
    if dt == BFLOAT16_BITS:
        return "bfloat16"
    return "bool" if dt == np.bool_ else dt.name


# ---------------------------------------------------------------- many small tensors at once

# A tensor of at most this many elements may be folded together with others (see
# :func:`small_tensors_stats`): below it, the ~15 numpy calls a tensor costs on its own
# (each a few microseconds whatever its size) are most of the work.
SMALL_TENSOR_ELEMENTS = 4096


def small_tensors_stats(
    names: list[str], dtype: str, shapes: list[tuple[int, ...]], chunks: list[np.ndarray]
) -> list[TensorStats]:
    """The statistics of many small tensors of one dtype, each given whole as one chunk.

    The same figures as :class:`StatsAccumulator` (finite-element moments, NaN/Inf/zero
    counts), but folded in a few numpy passes over all of them together with segmented
    reductions (``reduceat``), so that a checkpoint of 100,000 tiny tensors costs
    microseconds per tensor instead of ~15 numpy calls each. Tensors with no element, or
    with a value too large to square in float64, go through the accumulator.
    """
    out: list[TensorStats | None] = [None] * len(names)
    keep = [i for i, c in enumerate(chunks) if c.size]
    for i in range(len(names)):
        if not chunks[i].size:
            out[i] = tensor_stats(names[i], dtype, shapes[i], (), None)
    if keep:
        for i, stats in zip(
            keep,
            _segments([names[i] for i in keep], dtype, [shapes[i] for i in keep], [chunks[i] for i in keep]),
            strict=True,
        ):
            out[i] = stats
    return out  # type: ignore[return-value]


def _segments(
    names: list[str], dtype: str, shapes: list[tuple[int, ...]], chunks: list[np.ndarray]
) -> list[TensorStats]:
    progress.advance(sum(c.nbytes for c in chunks))
    raw = np.concatenate([np.asarray(c).reshape(-1) for c in chunks])
    lengths = np.fromiter((c.size for c in chunks), np.int64, len(chunks))
    starts = np.zeros(len(chunks), np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    # NaN/Inf are counted, and values too large to square are redone by the accumulator below
    with np.errstate(all="ignore"):
        x = flat_native(raw).astype(np.float64)
        zeros = np.add.reduceat(x == 0, starts)
        finite = np.isfinite(x)
        n_fin = np.add.reduceat(finite, starts)
        nan = np.add.reduceat(np.isnan(x), starts)
        posinf = np.add.reduceat(x == math.inf, starts)
        neginf = lengths - n_fin - nan - posinf
        xs = np.where(finite, x, 0.0)
        total = np.add.reduceat(xs, starts)
        lo = np.minimum.reduceat(np.where(finite, x, math.inf), starts)
        hi = np.maximum.reduceat(np.where(finite, x, -math.inf), starts)
        mean = total / n_fin
        dev = np.where(finite, xs - np.repeat(mean, lengths), 0.0)
        m2 = np.add.reduceat(dev * dev, starts)
    out: list[TensorStats] = []
    for i, name in enumerate(names):
        n = int(n_fin[i])
        lo_i, hi_i = float(lo[i]), float(hi[i])
        if n and max(-lo_i, hi_i) > _SAFE_MAGNITUDE:  # its squares could overflow: the careful path
            out.append(tensor_stats(name, dtype, shapes[i], (chunks[i],)))
            continue
        if n:
            mean_i, m2_i = float(mean[i]), max(float(m2[i]), 0.0)
            std, l2, absmax = math.sqrt(m2_i / n), math.sqrt(m2_i + n * mean_i * mean_i), max(-lo_i, hi_i)
        else:
            mean_i = std = lo_i = hi_i = absmax = math.nan
            l2 = 0.0
        out.append(
            TensorStats(
                name=name,
                layer=layer_of(name),
                dtype=dtype,
                shape=tuple(int(d) for d in shapes[i]),
                numel=int(lengths[i]),
                nan=int(nan[i]),
                posinf=int(posinf[i]),
                neginf=int(neginf[i]),
                zeros=int(zeros[i]),
                min=lo_i,
                max=hi_i,
                absmax=absmax,
                mean=mean_i,
                std=std,
                l2=l2,
            )
        )
    return out


# ---------------------------------------------------------------- layers

_KERAS_VARS = re.compile(r"/vars/\d+$")
_VAR_SUFFIX = re.compile(r":\d+$")


def layer_of(name: str) -> str:
    """The layer a tensor belongs to, from its stored name.

    ``model.layers.3.mlp.up_proj.weight`` -> ``model.layers.3.mlp.up_proj``,
    ``fc1.weight`` -> ``fc1``, ``dense_1/kernel:0`` -> ``dense_1``,
    ``stack/dense/vars/0`` (Keras 3) -> ``stack/dense``. A name with no separator
    is its own layer.
    """
    base = _VAR_SUFFIX.sub("", name)
    if _KERAS_VARS.search(base):
        return _KERAS_VARS.sub("", base) or base
    if "/" in base:
        return base.rsplit("/", 1)[0] or base
    if "." in base:
        return base.rsplit(".", 1)[0] or base
    return base


@dataclass(frozen=True, slots=True)
class LayerAggregate:
    """One layer's tensors summed up: what the timeline tracks from checkpoint to checkpoint."""

    layer: str
    numel: int
    nonfinite: int
    l2: float  # sqrt of the summed squares of the finite elements of all its tensors
    absmax: float  # NaN when the layer has no finite element
    dtype: str  # the common dtype, or "mixed"


def layer_aggregates(tensors: Iterable[TensorStats]) -> dict[str, LayerAggregate]:
    """Aggregate tensor statistics per layer, layers in order of first appearance."""
    groups: dict[str, list[TensorStats]] = {}
    for t in tensors:
        groups.setdefault(t.layer, []).append(t)
    out: dict[str, LayerAggregate] = {}
    for layer, members in groups.items():
        finite_max = [t.absmax for t in members if not math.isnan(t.absmax)]
        dtypes = {t.dtype for t in members}
        out[layer] = LayerAggregate(
            layer=layer,
            numel=sum(t.numel for t in members),
            nonfinite=sum(t.nonfinite for t in members),
            l2=math.hypot(*(t.l2 for t in members)),  # hypot: no overflow in the squares
            absmax=max(finite_max) if finite_max else math.nan,
            dtype=dtypes.pop() if len(dtypes) == 1 else "mixed",
        )
    return out


# ---------------------------------------------------------------- shared by the checkpoint readers


def release_pages(mm: mmap.mmap, start: int, length: int) -> None:
    """Drop pages of a read-only file map already read from this process's resident set (they
    stay in the page cache, and come back if touched again)."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or length <= 0:
        return
    lo = start - start % mmap.PAGESIZE
    with contextlib.suppress(OSError, ValueError):  # advisory only
        mm.madvise(advice, lo, start + length - lo)


# A source note is one line; past this many problems the rest are only counted.
MAX_PROBLEMS_IN_NOTE = 3


def summarize_problems(problems: list[str]) -> str:
    """The first few problems on one line, and how many more there were."""
    shown = "; ".join(" ".join(p.split()) for p in problems[:MAX_PROBLEMS_IN_NOTE])
    rest = len(problems) - MAX_PROBLEMS_IN_NOTE
    return f"{shown} (+{rest} more)" if rest > 0 else shown
