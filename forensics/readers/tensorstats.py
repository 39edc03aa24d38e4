"""Streaming statistics of checkpoint tensors, and per-layer aggregates of them.

A checkpoint can be far larger than memory, so no tensor is ever loaded whole:
the readers hand raw chunks (slices of a memory map, or of an H5 dataset) to a
:class:`StatsAccumulator`, which folds each chunk into float64 running moments
with Chan's parallel formula. Peak memory is a few times the chunk size, whatever
the tensor size.

Statistics are over the *finite* elements (a NaN must not hide the scale of the
rest); the non-finite ones are counted separately.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import ml_dtypes
import numpy as np

from forensics.records import TensorStats

# Elements folded per chunk. Each chunk is copied once to float64 (8 bytes per element,
# then turned into deviations in place), so 1 Mi elements keeps the working set near
# 8-16 MiB while amortising numpy's per-call overhead.
DEFAULT_CHUNK_ELEMENTS = 1 << 20

# Values at or below this magnitude can be squared and summed in float64 over any
# tensor that fits a 64-bit element count (2**448 squared times 2**63 < 2**1024), so
# no rescaling is needed below it. Only float64 tensors can exceed it.
_SAFE_MAGNITUDE = 2.0**448


_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


@cache
def _lookup_table(dtype: np.dtype) -> np.ndarray:
    """float32 value of every bit pattern of a 1- or 2-byte float type (fp8).

    Every such value is exact in float32, and a table lookup is several times faster
    than ml_dtypes' elementwise casts of fp8 (5x with ml_dtypes 0.6).
    """
    bits = np.arange(256, dtype=np.uint8) if dtype.itemsize == 1 else np.arange(65536, dtype=np.uint16)
    with np.errstate(invalid="ignore"):  # NaN bit patterns cast to NaN, as they should
        return bits.view(dtype).astype(np.float32)


def flat_native(chunk: np.ndarray) -> np.ndarray:
    """The chunk as a flat array numpy can reduce fast: narrow floats (ml_dtypes) become float32."""
    flat = np.asarray(chunk).reshape(-1)
    dt = flat.dtype
    if dt.kind == "V" or (dt.kind == "f" and dt not in (np.float16, np.float32, np.float64)):
        if dt == _BFLOAT16:
            # bfloat16 is the upper half of a float32: a shift is the exact cast, and
            # 20x faster than the table lookup (NaN and Inf patterns carry over)
            wide = np.left_shift(flat.view(np.uint16), 16, dtype=np.uint32)
            return wide.view(np.float32)
        if dt.itemsize in (1, 2):
            return _lookup_table(dt)[flat.view(np.uint8 if dt.itemsize == 1 else np.uint16)]
        return flat.astype(np.float64)
    return flat


def _unscale(x: float, exp: int) -> float:
    """``x * 2**exp``; +-inf where the true value is past float64 (an l2 of two 1.7e308 weights)."""
    try:
        return math.ldexp(x, exp)
    except OverflowError:
        return math.copysign(math.inf, x)


class StatsAccumulator:
    """Running statistics of one tensor, fed chunk by chunk.

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

    def update(self, chunk: np.ndarray) -> None:
        """Fold one chunk (any shape, the tensor's own dtype) into the statistics."""
        a = flat_native(chunk)
        size = int(a.shape[0])
        if size == 0:
            return
        self.numel += size
        self.zeros += int(np.count_nonzero(a == 0))
        # One float64 sum doubles as the finiteness test: it is finite iff every element
        # is (a float32 sum cannot overflow float64); only float64 data can overflow it.
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, or a float64 overflow
            total: float | None = float(np.add.reduce(a, dtype=np.float64))
        n_finite = size
        if a.dtype.kind == "f" and not math.isfinite(total):
            mask = np.isfinite(a)
            n_finite = int(np.count_nonzero(mask))
            if n_finite != size:
                self.nan += int(np.count_nonzero(np.isnan(a)))
                self.posinf += int(np.count_nonzero(a == math.inf))
                self.neginf += int(np.count_nonzero(a == -math.inf))
                a = a[mask]
            del mask
            if n_finite == 0:
                return
            total = None  # recomputed below, over the finite elements
        lo = float(a.min())
        hi = float(a.max())
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        peak = max(-lo, hi)
        if peak > _SAFE_MAGNITUDE:
            exp = math.frexp(peak)[1]
            if exp > self._exp:
                self._rescale(exp)
        x = a.astype(np.float64)  # a private copy, modified in place below
        del a
        if self._exp:
            scale = 2.0**-self._exp  # exact: a power of two
            x *= scale
            total = None if total is None else total * scale
        if total is None or not math.isfinite(total):
            total = float(x.sum())
        mean_b = total / n_finite
        x -= mean_b
        m2_b = float(np.dot(x, x))
        del x
        # Chan et al.: combine (n_a, mean_a, M2_a) with (n_b, mean_b, M2_b).
        n_a = self._n
        n = n_a + n_finite
        delta = mean_b - self._mean
        self._mean += delta * n_finite / n
        self._m2 += m2_b + delta * delta * (n_a * n_finite / n)
        self._n = n

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
    dt = np.dtype(dtype)
    return "bool" if dt == np.bool_ else dt.name


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

# A source note is one line; past this many problems the rest are only counted.
MAX_PROBLEMS_IN_NOTE = 3

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders ``layers.2`` before ``layers.10`` (and ``dense_2`` before ``dense_10``)."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def summarize_problems(problems: list[str]) -> str:
    """The first few problems on one line, and how many more there were."""
    shown = "; ".join(" ".join(p.split()) for p in problems[:MAX_PROBLEMS_IN_NOTE])
    rest = len(problems) - MAX_PROBLEMS_IN_NOTE
    return f"{shown} (+{rest} more)" if rest > 0 else shown
