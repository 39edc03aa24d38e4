"""How far each layer moved between two checkpoints: ``||W_b - W_a|| / ||W_a||``, streamed.

Growth of ``||W||`` alone cannot tell a layer that is being rewritten from one that
drifts: an update of 50% of a layer's norm in a few hundred steps is a learning
rate far too high even when the norm itself barely changes. So the two checkpoints
are read side by side: each tensor of ``a`` and its namesake in ``b`` are streamed
chunk by chunk in lockstep (never a whole tensor in memory, as for the statistics),
and the squares of the difference and of the base are summed in float64.

What is compared: the float tensors present in both checkpoints under the same
name with the same shape (their dtypes may differ: a bfloat16 copy against a
float32 one is fine). Everything else is listed in ``skipped``. An element pair
where either side is NaN or infinite is counted in ``nonfinite`` and left out of
both sums, so the ratio compares like with like.

Keras files are read in a forked child (:mod:`forensics.readers.isolation`): a
damaged file that crashes libhdf5 costs the tensor being read, not the process;
the child is started again past it, and the tensors it could not reach are skipped.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import isolation, tensorstats
from forensics.readers.tensorstats import flat_native, layer_of, sum_of_squares
from forensics.records import Checkpoint, Kind
from forensics.util import natural_key

# A child that crashes libhdf5 is started again past the tensor it died on; a file
# that crashes this often is damaged throughout, and the rest is skipped.
MAX_RESTARTS = 8


@dataclass(frozen=True, slots=True)
class LayerDelta:
    """The update of one layer between two checkpoints."""

    layer: str
    delta_l2: float  # ||W_b - W_a|| over the compared tensors (finite element pairs only)
    base_l2: float  # ||W_a|| over the same elements
    tensors: int  # tensors compared
    skipped: tuple[str, ...]  # tensor names of this layer that could not be compared
    nonfinite: int = 0  # element pairs left out because either side was NaN or infinite
    elements: int = 0  # element pairs summed

    @property
    def relative(self) -> float:
        """``delta_l2 / base_l2``: NaN when nothing was compared, inf when an all-zero layer moved."""
        if self.elements == 0:
            return math.nan
        if self.base_l2 == 0.0:
            return 0.0 if self.delta_l2 == 0.0 else math.inf
        return self.delta_l2 / self.base_l2


def checkpoint_deltas(
    a: Checkpoint, b: Checkpoint, root: Path, *, chunk_elements: int | None = None
) -> dict[str, LayerDelta]:
    """Per-layer update from checkpoint ``a`` (earlier) to ``b``, layers in ``b``'s model order.

    ``root`` is the run directory the checkpoints' source paths are relative to.
    ``chunk_elements`` bounds the elements held per tensor at a time (tests force it
    small). Raises :class:`UnreadableSource` when either checkpoint cannot be opened.
    """
    spec_a, spec_b = _spec(a, root), _spec(b, root)
    known_layers = {t.name: t.layer for t in (*a.tensors, *b.tensors)}  # b's names win
    limit = max(1, chunk_elements or tensorstats.DEFAULT_CHUNK_ELEMENTS)
    isolate = spec_a.isolated or spec_b.isolated
    timeout = isolation.deadline_for(spec_a.size + spec_b.size)

    plan: list[tuple[str, str]] | None = None
    done: dict[str, _TensorDelta | None] = {}  # None: skipped
    restarts = 0
    while True:
        outcome = isolation.run_isolated(
            _work(spec_a, spec_b, limit, len(done)), timeout, isolate=None if isolate else False
        )
        opening = ""
        for message in outcome.messages:
            if "opening" in message:
                opening = message["opening"]
            elif "plan" in message:
                this_plan = [(str(n), str(layer)) for n, layer in message["plan"]]
                if plan is None:
                    plan = this_plan
                elif this_plan != plan:  # the files changed under us: keep what we have
                    outcome = isolation.Outcome((), "the files changed while being compared")
                    break
            elif "r" in message:
                done[message["r"][0]] = _TensorDelta.from_message(message["r"])
            elif "s" in message:
                done[message["s"]] = None
        if outcome.failure is None:
            break
        if plan is None:
            raise UnreadableSource(f"{opening or a.source.path}: {outcome.failure}")
        if len(done) < len(plan):
            done[plan[len(done)][0]] = None  # the tensor the child died on
        restarts += 1
        if outcome.timed_out or restarts > MAX_RESTARTS or len(done) >= len(plan):
            break
    assert plan is not None
    return _by_layer(plan, done, known_layers)


# ---------------------------------------------------------------- what to open


@dataclass(frozen=True, slots=True)
class _Spec:
    rel: str  # as the checkpoint's source names it
    kind: Kind
    files: tuple[Path, ...]  # the file, or the shards of a sharded set
    size: int

    @property
    def hdf5(self) -> bool:
        return self.kind in (Kind.KERAS_H5, Kind.KERAS_ARCHIVE)

    @property
    def isolated(self) -> bool:
        # libhdf5 can crash; a pickle is unpickled (restricted) only in a child
        return self.hdf5 or self.kind is Kind.PICKLE


def _spec(ckpt: Checkpoint, root: Path) -> _Spec:
    src = ckpt.source
    kind = src.kind
    readable = (Kind.KERAS_H5, Kind.KERAS_ARCHIVE, Kind.SAFETENSORS, Kind.SAFETENSORS_INDEX, Kind.PICKLE)
    if kind not in (*readable, Kind.TF_CHECKPOINT):
        raise UnreadableSource(f"{src.path}: a {kind} checkpoint has no tensors to compare")
    if kind is Kind.SAFETENSORS_INDEX:
        # the index reader listed the shards it accepted (inside the run directory)
        root_abs = root.resolve()
        files = tuple(p for p in (root / s for s in ckpt.shards) if _inside(p.resolve(), root_abs))
        if not files:
            raise UnreadableSource(f"{src.path}: the sharded checkpoint names no shard inside the run directory")
    else:
        files = (root / src.path,)
    size = 0
    for f in files:
        with contextlib.suppress(OSError):
            size += f.stat().st_size
    return _Spec(src.path, kind, files, size)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Tensor:
    layer: str
    dtype: str
    shape: tuple[int, ...]
    chunks: Callable[[int], Iterator[np.ndarray]]


@contextlib.contextmanager
def _opened(spec: _Spec) -> Iterator[dict[str, _Tensor]]:
    """The tensors of one checkpoint, by name, in the order the reader gives them."""
    with contextlib.ExitStack() as stack:
        tensors: dict[str, _Tensor] = {}
        if spec.hdf5:
            from forensics.readers.keras import located_weights

            try:
                located = stack.enter_context(located_weights(spec.files[0], archive=spec.kind is Kind.KERAS_ARCHIVE))
            except UnreadableSource as e:
                raise UnreadableSource(f"{spec.rel}: {e}") from None
            for w in located:
                tensors.setdefault(w.name, _Tensor(w.layer, w.dtype, w.shape, w.chunks))
        elif spec.kind is Kind.PICKLE:
            from forensics.readers.torch_checkpoint import dtype_label, opened_model_tensors

            try:
                model = stack.enter_context(opened_model_tensors(spec.files[0]))
            except UnreadableSource as e:
                raise UnreadableSource(f"{spec.rel}: {e}") from None
            for name, t in model:
                tensors.setdefault(name, _Tensor(layer_of(name), dtype_label(t), t.shape, t.chunks))
        elif spec.kind is Kind.TF_CHECKPOINT:
            from forensics.readers.tf_checkpoint import TFBundle, model_entries

            try:
                bundle = stack.enter_context(TFBundle(spec.files[0]))
            except UnreadableSource as e:
                raise UnreadableSource(f"{spec.rel}: {e}") from None
            for name, entry in model_entries(bundle):
                # a sliced variable streams slice by slice: two slicings would not line up element by element
                if not entry.parts and bundle.readable(entry) is None:
                    tensors.setdefault(
                        name, _Tensor(layer_of(name), entry.dtype_name, entry.shape, _bind_tf(bundle, entry))
                    )
        else:
            from forensics.readers.safetensors import SafetensorsFile

            problems: list[str] = []
            for path in spec.files:
                try:
                    st = stack.enter_context(SafetensorsFile(path))
                except UnreadableSource as e:
                    problems.append(str(e))
                    continue
                for name in sorted(st.entries, key=natural_key):
                    if name not in tensors:
                        tensors[name] = _Tensor(
                            layer_of(name),
                            st.dtype_name(name),
                            st.entries[name].shape,
                            _bind(st, name),
                        )
            if len(problems) == len(spec.files):
                raise UnreadableSource(f"{spec.rel}: {problems[0]}")
        yield tensors


def _bind_tf(bundle: Any, entry: Any) -> Callable[[int], Iterator[np.ndarray]]:
    return lambda limit: bundle.chunks(entry, limit)


def _bind(st: Any, name: str) -> Callable[[int], Iterator[np.ndarray]]:
    return lambda limit: st.chunks(name, limit)


# ---------------------------------------------------------------- the comparison (child side)


def _work(a: _Spec, b: _Spec, limit: int, resume: int) -> isolation.Work:
    """Compare ``a`` and ``b`` tensor by tensor, sending one message per tensor.

    Messages: ``{"opening": rel}`` before each file is opened, ``{"plan": [[name, layer]...]}``
    once both are open, then for each planned tensor from ``resume`` on either
    ``{"r": [...]}`` (compared) or ``{"s": name}`` (skipped).
    """

    def work(emit: isolation.Emit) -> None:
        with contextlib.ExitStack() as stack:
            emit({"opening": a.rel})
            ta = stack.enter_context(_opened(a))
            emit({"opening": b.rel})
            tb = stack.enter_context(_opened(b))
            names = list(tb) + [n for n in ta if n not in tb]
            emit({"plan": [[n, (tb.get(n) or ta[n]).layer] for n in names]})
            for name in names[resume:]:
                x, y = ta.get(name), tb.get(name)
                if x is None or y is None or x.shape != y.shape or not (_is_float(x.dtype) and _is_float(y.dtype)):
                    emit({"s": name})
                    continue
                try:
                    result = _compare(x, y, limit)
                except (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError):
                    emit({"s": name})  # h5py's errors for unreadable data
                    continue
                emit({"r": result.message(name)})

    return work


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


class _Norm:
    """A sum of squares kept as ``scale**2 * ssq``, so float64 values near their limit cannot overflow it."""

    __slots__ = ("scale", "ssq")

    def __init__(self, scale: float = 1.0, ssq: float = 0.0) -> None:
        self.scale = scale
        self.ssq = ssq

    def add(self, ssq: float, scale: float = 1.0) -> None:
        if ssq == 0.0:
            return
        if scale > self.scale:
            self.ssq = self.ssq * (self.scale / scale) ** 2 + ssq
            self.scale = scale
        else:
            self.ssq += ssq * (scale / self.scale) ** 2

    @property
    def value(self) -> float:
        return self.scale * math.sqrt(self.ssq)


@dataclass
class _TensorDelta:
    delta: _Norm
    base: _Norm
    elements: int = 0
    nonfinite: int = 0

    def message(self, name: str) -> list[Any]:
        d, b = self.delta, self.base
        return [name, d.scale, d.ssq, b.scale, b.ssq, self.elements, self.nonfinite]

    @classmethod
    def from_message(cls, m: list[Any]) -> _TensorDelta:
        return cls(_Norm(float(m[1]), float(m[2])), _Norm(float(m[3]), float(m[4])), int(m[5]), int(m[6]))


def _compare(x: _Tensor, y: _Tensor, limit: int) -> _TensorDelta:
    out = _TensorDelta(_Norm(), _Norm())
    size = min(limit, math.prod(x.shape))
    bufs = (np.empty(size, np.float64), np.empty(size, np.float64))
    xs, ys = x.chunks(limit), y.chunks(limit)
    try:
        for ca, cb in _lockstep(xs, ys):
            _fold(ca, cb, out, bufs)
    finally:  # end the chunk views before their files close
        for gen in (xs, ys):
            close = getattr(gen, "close", None)
            if close is not None:
                close()
    return out


def _lockstep(xs: Iterator[np.ndarray], ys: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Equal-length flat pieces of two chunk streams holding the same number of elements.

    Streams cut at the same places (the usual case) pass through without copies.
    """
    x = y = np.empty(0)
    while True:
        while x.size == 0:
            nxt = next(xs, None)
            if nxt is None:
                if y.size or next(ys, None) is not None:
                    raise ValueError("the two tensors hold different numbers of elements")
                return
            x = nxt.reshape(-1)
        while y.size == 0:
            nxt = next(ys, None)
            if nxt is None:
                raise ValueError("the two tensors hold different numbers of elements")
            y = nxt.reshape(-1)
        n = min(x.size, y.size)
        yield x[:n], y[:n]
        x, y = x[n:], y[n:]


def _fold(chunk_a: np.ndarray, chunk_b: np.ndarray, out: _TensorDelta, bufs: tuple[np.ndarray, np.ndarray]) -> None:
    """Add one pair of chunks to the sums of squares of ``b - a`` and of ``a``."""
    a, b = flat_native(chunk_a), flat_native(chunk_b)
    n = int(a.shape[0])
    fa, fb = bufs[0][:n], bufs[1][:n]
    fa[...] = a  # float64 copies, reused from chunk to chunk
    fb[...] = b
    with np.errstate(invalid="ignore", over="ignore"):
        aa = sum_of_squares(fa)  # not np.dot: its BLAS threads fight other jobs for the cores
        np.subtract(fb, fa, out=fb)
        dd = sum_of_squares(fb)
    # Both sums are finite iff every element is (float32 and narrower cannot overflow a
    # float64 sum of squares): the common case costs no mask.
    if math.isfinite(aa) and math.isfinite(dd):
        out.base.add(aa)
        out.delta.add(dd)
        out.elements += n
        return
    ok = np.isfinite(a) & np.isfinite(b)
    k = int(np.count_nonzero(ok))
    out.nonfinite += n - k
    out.elements += k
    if k == 0:
        return
    fa = a[ok].astype(np.float64)
    fb = b[ok].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        aa = sum_of_squares(fa)
        d = fb - fa
        dd = sum_of_squares(d)
    if math.isfinite(aa) and math.isfinite(dd):
        out.base.add(aa)
        out.delta.add(dd)
        return
    # float64 values past ~1e154: their squares overflow, so sum them in units of the largest.
    scale = float(max(np.abs(fa).max(), np.abs(fb).max()))
    fa /= scale
    fb /= scale
    out.base.add(sum_of_squares(fa), scale)
    fb -= fa
    out.delta.add(sum_of_squares(fb), scale)


# ---------------------------------------------------------------- per layer


def _by_layer(
    plan: list[tuple[str, str]], done: dict[str, _TensorDelta | None], known_layers: dict[str, str]
) -> dict[str, LayerDelta]:
    groups: dict[str, list[tuple[str, _TensorDelta | None]]] = {}
    planned = set()
    for name, layer in plan:
        planned.add(name)
        groups.setdefault(known_layers.get(name, layer), []).append((name, done.get(name)))
    # tensors the checkpoints' records name but the files no longer offer (a shard gone)
    for name, layer in known_layers.items():
        if name not in planned:
            groups.setdefault(layer, []).append((name, None))
    out: dict[str, LayerDelta] = {}
    for layer, members in groups.items():
        delta, base = _Norm(), _Norm()
        elements = nonfinite = compared = 0
        skipped: list[str] = []
        for name, result in members:
            if result is None:
                skipped.append(name)
                continue
            compared += 1
            delta.add(result.delta.ssq, result.delta.scale)
            base.add(result.base.ssq, result.base.scale)
            elements += result.elements
            nonfinite += result.nonfinite
        out[layer] = LayerDelta(
            layer=layer,
            delta_l2=delta.value,
            base_l2=base.value,
            tensors=compared,
            skipped=tuple(skipped),
            nonfinite=nonfinite,
            elements=elements,
        )
    return out
