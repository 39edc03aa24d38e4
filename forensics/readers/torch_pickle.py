"""Read ``torch.save`` files (zip and legacy formats) without PyTorch, and without running the pickle.

A PyTorch checkpoint is a pickle, and unpickling can call any function. Here the
pickle virtual machine is the standard library's (``pickle.Unpickler``), but every
name a pickle asks for goes through :meth:`_Unpickler.find_class`, which imports
nothing: an exact ``(module, name)`` pair is looked up in :data:`_TABLE`, a short
table of inert constructors of our own (tensor and parameter rebuilds, ``OrderedDict``,
storage and dtype names, ``torch.Size``); any other global comes back as an
:class:`Inert` class that only records its name, its arguments and its state, so
``os.system`` called through REDUCE builds a record holding the command string,
and ``argparse.Namespace`` or ``TrainingArguments`` arrive as plain data.
``persistent_load`` accepts storage references only.

Before the virtual machine sees a byte, the pickle is scanned with ``pickletools``:
its size is capped (:data:`MAX_PICKLE_BYTES`), its opcodes counted
(:data:`MAX_OPCODES`), and the extension-registry opcodes refused (they can reach
objects cached by ``copyreg`` without asking ``find_class``). A length field that
runs past the end of the data (the "huge bytearray" trick) fails the scan, before
anything is allocated for it.

Tensors are never copied whole: a :class:`LazyTensor` is a bounds-checked view
(offset, shape, strides) of a storage, and a storage is a byte range of the zip
member (or of the legacy file's data section) read through a read-only memory map,
in chunks. Every walk of the unpickled object dedupes shared objects and counts
the nodes it visits (:data:`MAX_NODES`).

The work runs in a forked child (:mod:`forensics.readers.isolation`) under a data
memory limit and a deadline, so a pickle built to exhaust memory or time costs that
file only; the child sends plain JSON back, never a pickle.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import mmap
import os
import pickle
import pickletools
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import tensorstats

# torch writes the pickle of a state dict with a few hundred bytes per tensor; even a
# 100k-tensor optimizer state stays far below this. Larger is not a torch checkpoint.
MAX_PICKLE_BYTES = 64 * 1024 * 1024
# Opcodes in one pickle: ~10 per tensor, ~50 per optimizer entry in real files.
MAX_OPCODES = 20_000_000
# Objects visited by one walk of the result (dedupe makes shared objects count once).
MAX_NODES = 2_000_000
# Distinct unknown globals one pickle may name before it is refused.
MAX_INERT_CLASSES = 10_000
# Elements of a storage: torch's own limit is int64; past 2**48 bytes no file is real.
MAX_STORAGE_ELEMENTS = 1 << 48
# The legacy format starts with this number pickled, then the protocol version.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# Storage keys torch writes are decimal numbers (zip) or object ids (legacy).
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_REFUSED_OPCODES = {"EXT1", "EXT2", "EXT4"}


class PickleRefused(UnreadableSource):
    """The pickle asked for something a weights file never needs."""


# ---------------------------------------------------------------- inert objects


class Inert:
    """An instance of a global that is not in the table: its name, arguments and state, nothing more.

    Subclassed once per (module, name) by :func:`_inert_class`, so that the pickle
    machine's NEWOBJ (which wants a class) works; the subclass has no behaviour.
    """

    module = ""
    qualname = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Inert:
        obj = object.__new__(cls)
        obj.__dict__["_args"] = args
        obj.__dict__["_kwargs"] = kwargs
        obj.__dict__["_state"] = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    @property
    def global_name(self) -> str:
        return f"{self.module}.{self.qualname}"


def _inert_class(module: str, name: str, cache: dict[tuple[str, str], type]) -> type:
    key = (module, name)
    cls = cache.get(key)
    if cls is None:
        if len(cache) >= MAX_INERT_CLASSES:
            raise PickleRefused(f"the pickle names more than {MAX_INERT_CLASSES} distinct globals")
        cls = type("Inert", (Inert,), {"module": module, "qualname": name, "__slots__": ()})
        cache[key] = cls
    return cls


class StateDict(dict):  # type: ignore[type-arg]
    """``collections.OrderedDict`` as it arrives: a dict that may carry ``_metadata``."""


@dataclass(frozen=True, eq=False)
class StorageType:
    name: str  # "FloatStorage", "UntypedStorage"
    dtype: np.dtype | None  # None: a type we know but do not decode (complex, quantized)

    def __setstate__(self, state: Any) -> None:
        # BUILD would otherwise write the pickle's values straight into our fields
        raise PickleRefused(f"the pickle tries to set the state of a {type(self).__name__}")


@dataclass(frozen=True, eq=False)
class TorchDtype:
    name: str  # "float32", "bfloat16"
    dtype: np.dtype | None
    narrow: bool = False  # an fp8 type: its numpy dtype comes from ml_dtypes, when first used

    def numpy(self) -> np.dtype | None:
        return tensorstats.ml_dtype(self.name) if self.narrow else self.dtype

    def __setstate__(self, state: Any) -> None:
        # BUILD would otherwise write the pickle's values straight into our fields
        raise PickleRefused(f"the pickle tries to set the state of a {type(self).__name__}")


def _dtype_table() -> dict[str, np.dtype | None]:
    """torch dtype name -> numpy dtype (little-endian); None for types we name but do not decode."""
    out: dict[str, np.dtype | None] = {
        "float64": np.dtype("<f8"),
        "double": np.dtype("<f8"),
        "float32": np.dtype("<f4"),
        "float": np.dtype("<f4"),
        "float16": np.dtype("<f2"),
        "half": np.dtype("<f2"),
        "bfloat16": tensorstats.BFLOAT16_BITS,  # widened by a shift: no ml_dtypes needed
        "int64": np.dtype("<i8"),
        "long": np.dtype("<i8"),
        "int32": np.dtype("<i4"),
        "int": np.dtype("<i4"),
        "int16": np.dtype("<i2"),
        "short": np.dtype("<i2"),
        "int8": np.dtype("i1"),
        "uint8": np.dtype("u1"),
        "uint16": np.dtype("<u2"),
        "uint32": np.dtype("<u4"),
        "uint64": np.dtype("<u8"),
        "bool": np.dtype("?"),
    }
    for name in ("complex64", "complex128", "cfloat", "cdouble", "complex32", "qint8", "quint8", "qint32"):
        out[name] = None
    return out


_DTYPES = _dtype_table()
# fp8 types: ml_dtypes' names, that package imported only when a tensor of one is met
_NARROW = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu")
_STORAGE_TYPES: dict[str, str] = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
}


# ---------------------------------------------------------------- storages and tensors


class _Blob:
    """Bounds-checked reads of an open file: through a read-only map, or pread when none can be made."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.mm: mmap.mmap | None = None
        if size:
            try:
                self.mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except OSError as e:
                if e.errno != errno.ENOMEM:
                    raise
                # a file larger than the address space left (ulimit -v): read it with pread

    def array(self, offset: int, count: int, dtype: np.dtype) -> np.ndarray:
        nbytes = count * dtype.itemsize
        if offset < 0 or count < 0 or offset + nbytes > self.size:
            raise UnreadableSource(f"a tensor reaches past the end of the file (byte {offset + nbytes})")
        if self.mm is not None:
            return np.frombuffer(self.mm, dtype=dtype, count=count, offset=offset)
        data = os.pread(self.fd, nbytes, offset)
        if len(data) < nbytes:
            raise UnreadableSource("the file got shorter while it was read")
        return np.frombuffer(data, dtype=dtype, count=count)

    def release(self, offset: int, length: int) -> None:
        advice = getattr(mmap, "MADV_DONTNEED", None)
        if self.mm is None or advice is None or length <= 0:
            return
        lo = offset - offset % mmap.PAGESIZE
        with contextlib.suppress(OSError, ValueError):  # advisory only
            self.mm.madvise(advice, lo, offset + length - lo)

    def close(self) -> None:
        if self.mm is not None:
            with contextlib.suppress(BufferError):
                self.mm.close()
            self.mm = None


@dataclass(eq=False)
class Storage:
    """One storage a pickle refers to: its element type and count, and where its bytes are."""

    key: str
    type_name: str
    dtype: np.dtype | None  # element type of the storage (uint8 for an untyped one)
    numel: int
    blob: _Blob | None = None
    start: int = 0  # byte offset of its data in the file
    problem: str | None = None  # why its bytes cannot be read
    view_of: tuple[Storage, int] | None = None  # legacy format: (root storage, offset in elements)
    big_endian: bool = False  # its bytes are in big-endian order (the file says so)

    def __setstate__(self, state: Any) -> None:
        # BUILD would otherwise write the pickle's values straight into our fields
        raise PickleRefused(f"the pickle tries to set the state of a {type(self).__name__}")

    @property
    def nbytes(self) -> int:
        return self.numel * (self.dtype.itemsize if self.dtype is not None else 1)


@dataclass(eq=False)
class LazyTensor:
    """A tensor as the pickle describes it: a view of a storage, read only when asked."""

    storage: Storage
    offset: int  # in elements of ``dtype``
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: np.dtype | None
    dtype_label: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __setstate__(self, state: Any) -> None:
        # BUILD would otherwise write the pickle's values straight into our fields
        raise PickleRefused(f"the pickle tries to set the state of a {type(self).__name__}")

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def problem(self) -> str | None:
        """Why this tensor cannot be read (its view leaves its storage, ...), or None."""
        st = self.storage
        if st.problem is not None:
            return st.problem
        if self.dtype is None:
            return f"dtype {self.dtype_label} is not supported"
        if st.blob is None:
            return f"storage '{st.key}' has no data"
        if self.numel == 0:
            return None
        itemsize = self.dtype.itemsize
        available = st.nbytes // itemsize
        last = self.offset + sum((d - 1) * s for d, s in zip(self.shape, self.stride, strict=True))
        if last >= available:
            return (
                f"view of {list(self.shape)} at offset {self.offset} with strides {list(self.stride)} "
                f"reaches element {last} of a storage of {available}"
            )
        return None

    @property
    def contiguous(self) -> bool:
        expected = 1
        for d, s in zip(reversed(self.shape), reversed(self.stride), strict=True):
            if d != 1 and s != expected:
                return False
            expected *= d
        return True

    def _read(self, first: int, count: int) -> np.ndarray:
        """``count`` elements of the storage from element ``first`` (of the tensor's dtype), native order."""
        assert self.dtype is not None and self.storage.blob is not None
        a = self.storage.blob.array(self.storage.start + first * self.dtype.itemsize, count, self.dtype)
        if self.storage.big_endian and self.dtype.itemsize > 1:
            a = a.byteswap()  # a native-order copy of the chunk: the same dtype, bytes reversed per element
        return a

    def chunks(self, chunk_elements: int | None = None) -> Iterator[np.ndarray]:
        """The elements in C order, in flat chunks of at most ``chunk_elements`` (bounded memory)."""
        problem = self.problem()
        if problem is not None:
            raise UnreadableSource(problem)
        step = max(1, chunk_elements or tensorstats.DEFAULT_CHUNK_ELEMENTS)
        total = self.numel
        if total == 0:
            return
        assert self.dtype is not None and self.storage.blob is not None
        itemsize = self.dtype.itemsize
        if self.contiguous:
            for first in range(0, total, step):
                count = min(step, total - first)
                yield self._read(self.offset + first, count)
                self.storage.blob.release(self.storage.start + (self.offset + first) * itemsize, count * itemsize)
            return
        # A strided view: blocks of whole trailing sub-arrays, each read as the span of
        # storage it covers and copied into C order.
        shape, stride = self.shape, self.stride
        k = len(shape)
        inner = 1
        while k > 0 and inner * shape[k - 1] <= step:
            k -= 1
            inner *= shape[k]
        if k == 0:
            yield from self._strided_block(self.offset, shape, stride)
            return
        # dim k-1 is split into runs of ``rows`` indices; the dims before it are iterated
        rows = max(1, step // inner)
        for outer in np.ndindex(*shape[: k - 1]):
            base = self.offset + sum(i * s for i, s in zip(outer, stride, strict=False))
            for r0 in range(0, shape[k - 1], rows):
                r = min(rows, shape[k - 1] - r0)
                yield from self._strided_block(base + r0 * stride[k - 1], (r, *shape[k:]), stride[k - 1 :])

    def _strided_block(self, base: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> Iterator[np.ndarray]:
        assert self.dtype is not None
        span = 1 + sum((d - 1) * s for d, s in zip(shape, stride, strict=True))
        flat = self._read(base, span)
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat, shape=shape, strides=tuple(s * itemsize for s in stride), writeable=False
        )
        yield np.ascontiguousarray(view).reshape(-1)

    def to_numpy(self) -> np.ndarray:
        """The whole tensor as an array (a copy): for small tensors and tests."""
        parts = [np.array(c, copy=True) for c in self.chunks()]
        assert self.dtype is not None
        flat = np.concatenate(parts) if parts else np.empty(0, dtype=self.dtype)
        return flat.reshape(self.shape)

    def item(self) -> float | int | None:
        """The value of a one-element numeric tensor (an optimizer's step), else None."""
        if self.numel != 1 or self.problem() is not None or self.dtype is None or self.dtype.kind not in "fiub?V":
            return None
        a = tensorstats.flat_native(self.to_numpy())
        v = a[0].item()
        return v if isinstance(v, (int, float)) else None


def _int(x: Any, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise PickleRefused(f"{what} is a {type(x).__name__}, not an integer")
    return x


def _ints(x: Any, what: str) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list)):
        raise PickleRefused(f"{what} is a {type(x).__name__}, not a tuple")
    if len(x) > 64:
        raise PickleRefused(f"{what} has {len(x)} dimensions")
    return tuple(_int(v, what) for v in x)


def _tensor(
    storage: Any, offset: Any, size: Any, stride: Any, dtype: np.dtype | None = None, label: str | None = None
) -> LazyTensor:
    if not isinstance(storage, Storage):
        raise PickleRefused(f"a tensor is built on a {type(storage).__name__}, not a storage")
    off = _int(offset, "storage offset")
    shape = _ints(size, "tensor size")
    strides = _ints(stride, "tensor stride")
    if len(shape) != len(strides):
        raise PickleRefused(f"tensor size {list(shape)} and stride {list(strides)} differ in length")
    if off < 0 or any(d < 0 for d in shape) or any(s < 0 for s in strides):
        raise PickleRefused("a tensor has a negative offset, size or stride")
    if dtype is None and label is None:
        dtype, label = storage.dtype, storage.type_name
    return LazyTensor(storage, off, shape, strides, dtype, label or "?")


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> LazyTensor:
    return _tensor(storage, storage_offset, size, stride, *_label_of_storage(storage))


def _label_of_storage(storage: Any) -> tuple[np.dtype | None, str]:
    if not isinstance(storage, Storage):
        raise PickleRefused(f"a tensor is built on a {type(storage).__name__}, not a storage")
    name = _STORAGE_TYPES.get(storage.type_name, storage.type_name)
    return storage.dtype, name


def _rebuild_tensor_v3(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    dtype: Any = None,
    metadata: Any = None,
) -> LazyTensor:
    if not isinstance(dtype, TorchDtype):
        raise PickleRefused(f"a tensor's dtype is a {type(dtype).__name__}")
    return _tensor(storage, storage_offset, size, stride, dtype.numpy(), dtype.name)


def _rebuild_parameter(data: Any, requires_grad: Any = True, backward_hooks: Any = None, *_: Any) -> Any:
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    if func in _TENSOR_FUNCS and isinstance(args, tuple):
        return func(*args)
    return _inert_record("torch._tensor._rebuild_from_type_v2", (func, new_type, args, state))


_RECORD_CLASSES: dict[tuple[str, str], type] = {}


def _inert_record(name: str, args: tuple[Any, ...]) -> Inert:
    module, _, qual = name.rpartition(".")
    return _inert_class(module, qual, _RECORD_CLASSES)(*args)


def _ordered_dict(items: Any = ()) -> StateDict:
    out = StateDict()
    if items:
        if not isinstance(items, (list, tuple)):
            raise PickleRefused("OrderedDict built from something other than a list of pairs")
        for pair in items:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise PickleRefused("OrderedDict built from something other than a list of pairs")
            out[pair[0]] = pair[1]
    return out


def _size(dims: Any = ()) -> tuple[int, ...]:
    return _ints(dims, "torch.Size")


def _device(*args: Any) -> str:
    return ":".join(str(a) for a in args if isinstance(a, (str, int)) and not isinstance(a, bool))


def _codecs_encode(text: Any, encoding: Any = "utf-8", *_: Any) -> bytes:
    # protocol 2 pickles bytes as _codecs.encode(str, "latin1"): the string is already in memory
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise PickleRefused("_codecs.encode called with something other than a string")
    return text.encode(encoding)


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    # copyreg._reconstructor(cls, object, None) is how protocol 0-1 build plain objects
    if isinstance(cls, type) and issubclass(cls, Inert):
        obj = cls()
        if state is not None:
            obj.__setstate__(state)
        return obj
    raise PickleRefused("copyreg._reconstructor called on something other than a class")


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    """numpy.core.multiarray.scalar(dtype, bytes): a numpy number, as a Python number."""
    code = None
    if isinstance(dtype, Inert) and dtype._args and isinstance(dtype._args[0], str):
        code = dtype._args[0]
    if code in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1") and isinstance(data, bytes):
        dt = np.dtype(code).newbyteorder("<")
        if len(data) == dt.itemsize:
            return np.frombuffer(data, dtype=dt)[0].item()
    return _inert_record("numpy.core.multiarray.scalar", (dtype, data))


_TENSOR_FUNCS = {_rebuild_tensor, _rebuild_tensor_v3}

# (module, name) -> what the pickle gets. Everything here is our own code or plain data.
_TABLE: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
}
for _name, _dt in _DTYPES.items():
    _TABLE[("torch", _name)] = TorchDtype(_name, _dt)
for _name in _NARROW:
    _TABLE[("torch", _name)] = TorchDtype(_name, None, narrow=True)
for _name, _dt_name in _STORAGE_TYPES.items():
    _TABLE[("torch", _name)] = StorageType(_name, _DTYPES.get(_dt_name))
_TABLE[("torch.storage", "UntypedStorage")] = StorageType("UntypedStorage", np.dtype("u1"))
_TABLE[("torch", "UntypedStorage")] = StorageType("UntypedStorage", np.dtype("u1"))


# ---------------------------------------------------------------- the unpickler


def scan(data: bytes) -> int:
    """Check a pickle before it is run: opcodes counted, lengths within the data, no extension codes.

    Returns the offset just past its STOP. Raises :class:`PickleRefused`.
    """
    count = 0
    end = None
    try:
        for op, _arg, pos in pickletools.genops(io.BytesIO(data)):
            count += 1
            if count > MAX_OPCODES:
                raise PickleRefused(f"the pickle has more than {MAX_OPCODES} opcodes")
            if op.name in _REFUSED_OPCODES:
                raise PickleRefused(f"the pickle uses the extension registry ({op.name} at byte {pos})")
            if op.name == "STOP":
                end = (pos or 0) + 1
    except PickleRefused:
        raise
    except Exception as e:  # genops raises ValueError on truncation and bad opcodes, others on junk
        raise PickleRefused(f"not a valid pickle: {' '.join(str(e).split())[:160]}") from None
    if end is None:
        raise PickleRefused("the pickle has no end")
    return end


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, storages: StorageTable) -> None:
        super().__init__(io.BytesIO(data))
        self._storages = storages
        self._classes: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> Any:  # never imports
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleRefused("a global's name is not a string")
        found = _TABLE.get((module, name))
        if found is not None:
            return found
        return _inert_class(module, name, self._classes)

    def persistent_load(self, pid: Any) -> Any:
        return self._storages.get(pid)


class StorageTable:
    """Storages by key, made from the pickle's persistent ids: the same key is the same storage."""

    def __init__(self, legacy: bool = False) -> None:
        self.legacy = legacy
        self.by_key: dict[str, Storage] = {}

    def get(self, pid: Any) -> Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise PickleRefused("a persistent id that is not a storage")
        if self.legacy:
            if len(pid) != 6:
                raise PickleRefused("a legacy storage id without its six fields")
            _, stype, key, _location, numel, view = pid
        else:
            if len(pid) != 5:
                raise PickleRefused("a storage id without its five fields")
            _, stype, key, _location, numel = pid
            view = None
        if not isinstance(stype, StorageType):
            raise PickleRefused("a storage id names no storage type")
        if not isinstance(key, str) or not _KEY.match(key) or ".." in key:
            raise PickleRefused(f"storage key {str(key)[:40]!r} is not a plain name")
        n = _int(numel, "storage size")
        if not 0 <= n <= MAX_STORAGE_ELEMENTS:
            raise PickleRefused(f"storage '{key}' declares {n} elements")
        root = self.by_key.get(key)
        if root is None:
            root = Storage(key, stype.name, stype.dtype, n)
            if stype.dtype is None:
                root.problem = f"storage type {stype.name} is not supported"
            self.by_key[key] = root
        elif root.type_name != stype.name:
            raise PickleRefused(f"storage '{key}' is named with two types")
        if view is None:
            return root
        # legacy view of a root storage: (view key, offset, size), in elements
        if not (isinstance(view, tuple) and len(view) == 3):
            raise PickleRefused("a legacy storage view that is not (key, offset, size)")
        view_key, off, size = view
        off, size = _int(off, "view offset"), _int(size, "view size")
        existing = self.by_key.get(f"view:{view_key}")
        if existing is not None:
            return existing
        sub = Storage(str(view_key)[:64], stype.name, stype.dtype, size)
        sub.problem = root.problem
        if off < 0 or size < 0 or off + size > n:
            sub.problem = f"storage view [{off}, {off + size}) lies outside storage '{key}' of {n} elements"
        sub.view_of = (root, off)
        self.by_key[f"view:{view_key}"] = sub
        return sub


def unpickle(data: bytes, storages: StorageTable, inert_globals: list[str] | None = None) -> Any:
    """Run one scanned pickle through the restricted machine; the unknown globals it named go to ``inert_globals``."""
    machine = _Unpickler(data, storages)
    try:
        return machine.load()
    except UnreadableSource:
        raise
    except RecursionError:
        raise PickleRefused("the pickle nests too deeply") from None
    except MemoryError:
        raise
    except Exception as e:  # the VM's own errors: bad stack, BUILD on a list, a call refused
        raise PickleRefused(f"the pickle does not load: {type(e).__name__}: {' '.join(str(e).split())[:160]}") from None
    finally:
        if inert_globals is not None:
            inert_globals.extend(f"{m}.{n}" for m, n in machine._classes)


# ---------------------------------------------------------------- file formats


@dataclass
class Loaded:
    """The unpickled object of a checkpoint file, with its storages bound to the file's bytes."""

    obj: Any
    format: str  # "torch_zip", "torch_legacy", "pickle"
    big_endian: bool = False
    torchscript: bool = False
    notes: list[str] = field(default_factory=list)
    inert_globals: list[str] = field(default_factory=list)  # names outside the table the pickle asked for
    blob: _Blob | None = None

    def close(self) -> None:
        if self.blob is not None:
            self.blob.close()


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        raise PickleRefused(f"{info.filename} is {info.file_size} bytes, more than the {cap}-byte cap")
    try:
        with zf.open(info) as fh:
            data = fh.read(cap + 1)  # never trust the declared size: a zip bomb lies about it
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as e:
        # a damaged member (bad CRC, cut deflate stream, unknown method) costs this file, with its name
        raise UnreadableSource(f"zip member {info.filename} cannot be read: {e}") from None
    if len(data) > cap:
        raise PickleRefused(f"{info.filename} inflates past the {cap}-byte cap")
    return data


def _data_offset(fd: int, info: zipfile.ZipInfo, size: int) -> int:
    """Offset of a stored member's bytes: past its local header, whose name must match."""
    head = os.pread(fd, 30, info.header_offset)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise UnreadableSource(f"zip member {info.filename}: no local header")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    name = os.pread(fd, name_len, info.header_offset + 30)
    if name != info.filename.encode("utf-8") and name != info.orig_filename.encode("cp437", "replace"):
        raise UnreadableSource(f"zip member {info.filename}: the local header names another file")
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > size:
        raise UnreadableSource(f"zip member {info.filename}: its data runs past the end of the file")
    return start


def _load_zip(fd: int, size: int) -> Loaded:
    with os.fdopen(os.dup(fd), "rb") as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise UnreadableSource(f"broken zip archive: {e}") from None
        with zf:
            infos = zf.infolist()
            pkl = [i for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
            if not pkl:
                raise UnreadableSource("a zip archive without the data.pkl of a torch.save file")
            prefix = pkl[0].filename[: -len("data.pkl")]
            members = {i.filename[len(prefix) :]: i for i in infos if i.filename.startswith(prefix)}
            torchscript = "constants.pkl" in members or any(n.startswith("code/") for n in members)
            big_endian = False
            if "byteorder" in members:
                order = _read_member(zf, members["byteorder"], 16).strip()
                if order not in (b"little", b"big"):
                    raise UnreadableSource(f"byteorder record says {order[:16]!r}")
                big_endian = order == b"big"
            data = _read_member(zf, pkl[0], MAX_PICKLE_BYTES)
            scan(data)
            table = StorageTable()
            names: list[str] = []
            obj = unpickle(data, table, names)
            blob = _Blob(fd, size)
            for key, st in table.by_key.items():
                if key.startswith("view:"):
                    continue
                info = members.get(f"data/{key}")
                if info is None:
                    st.problem = st.problem or f"storage '{key}' is missing from the archive"
                    continue
                if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                    st.problem = st.problem or f"storage '{key}' is compressed (torch stores storages uncompressed)"
                    continue
                if info.file_size < st.nbytes:
                    # what CVE-2026-24747 abused: more elements declared than the archive holds
                    st.problem = st.problem or (
                        f"storage '{key}' declares {st.nbytes} bytes, the archive holds {info.file_size}"
                    )
                    continue
                try:
                    st.start = _data_offset(fd, info, size)
                except UnreadableSource as e:
                    st.problem = st.problem or str(e)
                    continue
                st.blob = blob
                st.big_endian = big_endian
    loaded = Loaded(obj, "torch_zip", big_endian=big_endian, torchscript=torchscript, blob=blob, inert_globals=names)
    if torchscript:
        loaded.notes.append("TorchScript archive: its code is never run; tensors read as data")
    if big_endian:
        loaded.notes.append("big-endian file")
    return loaded


def _next_pickle(fd: int, offset: int, size: int) -> tuple[bytes, int]:
    """The pickle starting at ``offset``: read in growing pieces until it ends (capped)."""
    want = 1 << 16
    while True:
        want = min(want, MAX_PICKLE_BYTES, size - offset)
        data = os.pread(fd, want, offset)
        try:
            end = scan(data)
        except PickleRefused:
            if len(data) >= MAX_PICKLE_BYTES:
                raise PickleRefused(f"a pickle larger than the {MAX_PICKLE_BYTES}-byte cap") from None
            if offset + len(data) >= size:
                raise
            want *= 8
            continue
        return data[:end], offset + end


def _load_legacy(fd: int, size: int) -> Loaded:
    pos = 0
    magic_data, pos = _next_pickle(fd, pos, size)
    magic = unpickle(magic_data, StorageTable())
    if magic != LEGACY_MAGIC:
        raise UnreadableSource("not a PyTorch file (no magic number)")
    proto_data, pos = _next_pickle(fd, pos, size)
    if unpickle(proto_data, StorageTable()) != LEGACY_PROTOCOL:
        raise UnreadableSource("legacy PyTorch file of an unknown protocol version")
    info_data, pos = _next_pickle(fd, pos, size)
    sys_info = unpickle(info_data, StorageTable())
    big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
    main, pos = _next_pickle(fd, pos, size)
    table = StorageTable(legacy=True)
    names: list[str] = []
    obj = unpickle(main, table, names)
    keys_data, pos = _next_pickle(fd, pos, size)
    keys = unpickle(keys_data, StorageTable())
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise PickleRefused("the legacy storage key list is not a list of names")
    blob = _Blob(fd, size)
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise PickleRefused(f"storage '{key}' is listed twice")
        seen.add(key)
        head = os.pread(fd, 8, pos)
        if len(head) < 8:
            raise UnreadableSource(f"storage '{key}': the file ends before its data")
        (n,) = struct.unpack(">q" if big_endian else "<q", head)
        st = table.by_key.get(key)
        itemsize = st.dtype.itemsize if st is not None and st.dtype is not None else 1
        start = pos + 8
        if n < 0 or start + n * itemsize > size:
            raise UnreadableSource(f"storage '{key}': {n} elements run past the end of the file")
        pos = start + n * itemsize
        if st is None:
            continue  # data of a storage no tensor uses
        if n < st.numel:
            st.problem = st.problem or f"storage '{key}' declares {st.numel} elements, the file holds {n}"
            continue
        st.start, st.blob, st.big_endian = start, blob, big_endian
    for key, st in table.by_key.items():
        view_of = st.view_of
        if view_of is not None:
            root, off = view_of
            if root.blob is not None and st.problem is None:
                st.start = root.start + off * (st.dtype.itemsize if st.dtype is not None else 1)
                st.blob, st.big_endian = root.blob, root.big_endian
        elif st.blob is None and st.problem is None:
            st.problem = f"storage '{key}' has no data in the file"
    loaded = Loaded(obj, "torch_legacy", big_endian=big_endian, blob=blob, inert_globals=names)
    if big_endian:
        loaded.notes.append("big-endian file")
    return loaded


def parse(fd: int, size: int) -> Loaded:
    """Unpickle a checkpoint file opened as ``fd``: zip, legacy, or a plain pickle."""
    head = os.pread(fd, 512, 0)
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return _load_zip(fd, size)
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise UnreadableSource("tar-format PyTorch checkpoint (PyTorch before 0.4): not supported")
    if head[:1] != b"\x80":
        raise UnreadableSource("not a PyTorch checkpoint: neither a zip archive nor a pickle")
    data, _ = _next_pickle(fd, 0, size)
    names: list[str] = []
    first = unpickle(data, StorageTable(), names)
    if first == LEGACY_MAGIC:
        return _load_legacy(fd, size)
    return Loaded(first, "pickle", inert_globals=names)


# ---------------------------------------------------------------- walking the result


def plain(obj: Any, depth: int = 6, budget: list[int] | None = None) -> Any:
    """A JSON-able copy of small plain data: numbers, strings, lists, dicts, inert records.

    Tensors become a short description (or their value when they hold one number);
    depth and the total number of nodes are capped.
    """
    budget = budget if budget is not None else [10_000]
    budget[0] -= 1
    if budget[0] < 0 or depth < 0:
        return "…"
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj if not isinstance(obj, str) else obj[:1000]
    if isinstance(obj, float):
        return obj
    if isinstance(obj, bytes):
        return f"<{len(obj)} bytes>"
    if isinstance(obj, LazyTensor):
        v = obj.item()
        return v if v is not None else f"<tensor {obj.dtype_label} {list(obj.shape)}>"
    if isinstance(obj, dict):
        out = {}
        for i, (k, v) in enumerate(obj.items()):
            if i >= 200:
                out["…"] = f"{len(obj) - 200} more"
                break
            out[str(k)[:200]] = plain(v, depth - 1, budget)
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        seq = list(obj)
        return [plain(v, depth - 1, budget) for v in seq[:200]]
    if isinstance(obj, Inert):
        state = obj._state
        if isinstance(state, dict):
            out = {"__class__": obj.global_name}
            out.update(plain(state, depth - 1, budget))
            return out
        if state is None and len(obj._args) == 1 and not obj._kwargs:
            return plain(obj._args[0], depth - 1, budget)  # an enum member: Strategy("steps")
        return {"__class__": obj.global_name, "args": plain(list(obj._args), depth - 1, budget)}
    return f"<{type(obj).__name__}>"


def walk_tensors(obj: Any) -> list[tuple[str, LazyTensor]]:
    """Every tensor reachable from ``obj``, named by its key path, each object visited once.

    Raises :class:`PickleRefused` past :data:`MAX_NODES` objects.
    """
    out: list[tuple[str, LazyTensor]] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", obj)]
    nodes = 0
    while stack:
        path, node = stack.pop()
        if isinstance(node, (str, bytes, int, float, bool)) or node is None:
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes += 1
        if nodes > MAX_NODES:
            raise PickleRefused(f"the checkpoint holds more than {MAX_NODES} objects")
        if isinstance(node, LazyTensor):
            out.append((path, node))
            continue
        children: list[tuple[str, Any]] = []
        if isinstance(node, dict):
            children = [(_join(path, k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            children = [(_join(path, i), v) for i, v in enumerate(node)]
        elif isinstance(node, Inert):
            state = node._state
            if isinstance(state, dict):
                children = [(_join(path, k), v) for k, v in state.items()]
            elif state is not None:
                children = [(_join(path, "state"), state)]
            children += [(_join(path, i), v) for i, v in enumerate(node._args)]
        stack.extend(reversed(children))
    return out


def _join(path: str, key: Any) -> str:
    k = str(key) if isinstance(key, (str, int)) and not isinstance(key, bool) else f"<{type(key).__name__}>"
    return f"{path}.{k}" if path else k


def finite_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, LazyTensor):
        x = x.item()
    if isinstance(x, (int, float)) and math.isfinite(float(x)):
        return float(x)
    return None
