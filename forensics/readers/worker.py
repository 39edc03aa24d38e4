"""One worker child per run: every reader runs in it, under a wall-time budget the parent enforces.

A reader can crash the process (libhdf5 on a damaged file), loop (a pathological
input), or run far past any reasonable time. So the loader forks a worker child when
it starts reading a run (numpy and the loader already imported: a fork costs about a
millisecond, no import is paid twice) and asks it for one source at a time: read this
file, look at this H5 file's top level, measure the update between these two
checkpoints. The parent waits for each answer with that source's deadline; past it,
or when the child dies, the parent kills the child, lists that source with a one-line
reason, and the next request forks a fresh child for the remaining sources. Each H5
file is handed to libhdf5 in this one process for discovery's look, its statistics and
the update ratio, instead of a forked child each time. The CLI reads one run per
process; a process that reads many (a sweep, a test suite) keeps its worker from run
to run (:func:`shared`), replaced every ``RUNS_PER_WORKER`` runs.

The child runs with a minimal environment (``PATH`` the system default: nothing from
the run's folder can run), its working directory ``/`` (every path it gets is
absolute), ``SIGINT`` ignored (the parent decides how to end) and
``PR_SET_PDEATHSIG``: it dies with the parent however the parent dies.

Both directions speak the same frames: an 8-byte length, a JSON header, then the raw
bytes of the numpy arrays the header names (``codec``). No pickle, and the parent
checks every length against a budget before it reads.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import enum
import faulthandler
import functools
import gc
import importlib
import json
import math
import os
import select
import signal
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import isolation

# Frames larger than this are refused: the header of one record (a checkpoint of a
# million tensors is ~300 MB of JSON), and all its arrays (10^8 points of a few columns).
MAX_HEADER_BYTES = 1 << 30
MAX_ARRAY_BYTES = 16 << 30
# Progress messages from the child: after this many bytes read, or this many seconds.
PROGRESS_BYTES = 1 << 20
PROGRESS_EVERY = 0.1
# A child whose pipe closed is given this long to be reaped, so its signal can be named.
DYING_SECONDS = 0.5

_LEN = struct.Struct("<Q")


# ---------------------------------------------------------------- codec


@functools.cache
def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


class _Sink(list):  # type: ignore[type-arg]
    """The arrays of a frame, and the objects already in it: an object a record holds
    twice (a store's series, also in its run) is sent once and comes back one object."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, tuple[int, Any]] = {}  # id -> (reference, the object: kept alive)


def _encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON-able tree of ``obj``; numpy arrays go to ``arrays`` and are named by index.

    A dataclass is its type's name and its fields in order (both ends run this code)."""
    seen = getattr(arrays, "seen", None)
    if seen is None or not (isinstance(obj, np.ndarray) or dataclasses.is_dataclass(type(obj))):
        return _encode_new(obj, arrays)
    ref = seen.get(id(obj))
    if ref is not None:
        return {"__r": ref[0]}
    number = len(seen)
    seen[id(obj)] = (number, obj)
    tree = _encode_new(obj, arrays)
    tree["i"] = number
    return tree


def _encode_new(obj: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(obj, enum.Enum):  # first: our enums are str subclasses
        return {"__e": _type_name(type(obj)), "v": obj.value}
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("an object array cannot be sent")
        arrays.append(np.ascontiguousarray(obj))
        return {"__a": len(arrays) - 1}
    if isinstance(obj, np.generic):
        return obj.item()
    cls = type(obj)
    if dataclasses.is_dataclass(cls):
        return {"__d": _type_name(cls), "f": [_encode(getattr(obj, f), arrays) for f in _field_names(cls)]}
    if isinstance(obj, tuple):
        return {"__t": [_encode(x, arrays) for x in obj]}
    if isinstance(obj, list):
        return [_encode(x, arrays) for x in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__m": {k: _encode(v, arrays) for k, v in obj.items()}}
        return {"__k": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (set, frozenset)):
        # Sorted: two equal sets built in different orders may iterate differently (the
        # parent rebuilds each set from a list), and equal values must encode to equal frames.
        items = sorted(obj, key=repr)
        return {"__s": [_encode(x, arrays) for x in items], "frozen": isinstance(obj, frozenset)}
    if isinstance(obj, PurePath):
        return {"__p": str(obj)}
    if isinstance(obj, bytes):
        return {"__b": obj.hex()}
    raise TypeError(f"cannot send a {type(obj).__name__}")


@functools.cache
def _our_type(name: str) -> Any:
    """A dataclass or enum of this package named ``module:qualname``; nothing else is built."""
    module, _, qualname = name.partition(":")
    if not module.startswith("forensics.") or "." in qualname:
        raise ValueError(f"not a record type: {name[:80]}")
    cls = getattr(importlib.import_module(module), qualname, None)
    if not isinstance(cls, type) or not (dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum)):
        raise ValueError(f"not a record type: {name[:80]}")
    return cls


def _decode(tree: Any, arrays: list[np.ndarray], refs: dict[int, Any] | None = None) -> Any:
    if refs is None:
        refs = {}
    if isinstance(tree, list):
        return [_decode(x, arrays, refs) for x in tree]
    if not isinstance(tree, dict):
        return tree
    if "__r" in tree:
        return refs[tree["__r"]]
    if "__d" in tree:
        obj = _our_type(tree["__d"])(*[_decode(v, arrays, refs) for v in tree["f"]])
        if "i" in tree:
            refs[tree["i"]] = obj
        return obj
    if "__a" in tree:
        a = arrays[tree["__a"]]
        if "i" in tree:
            refs[tree["i"]] = a
        return a
    if "__m" in tree:
        return {k: _decode(v, arrays, refs) for k, v in tree["__m"].items()}
    if "__t" in tree:
        return tuple(_decode(x, arrays, refs) for x in tree["__t"])
    if "__e" in tree:
        return _our_type(tree["__e"])(tree["v"])
    if "__k" in tree:
        return {_decode(k, arrays, refs): _decode(v, arrays, refs) for k, v in tree["__k"]}
    if "__s" in tree:
        items = [_decode(x, arrays, refs) for x in tree["__s"]]
        return frozenset(items) if tree["frozen"] else set(items)
    if "__p" in tree:
        return Path(tree["__p"])
    if "__b" in tree:
        return bytes.fromhex(tree["__b"])
    raise ValueError("unknown node in a frame")


@functools.cache
def _dtype(described: str) -> np.dtype:
    value = json.loads(described)
    return np.dtype([tuple(f) for f in value] if isinstance(value, list) else value)


def _dtype_of(a: np.ndarray) -> Any:
    return a.dtype.descr if a.dtype.fields else a.dtype.str


def _frame(kind: str, value: Any = None) -> list[bytes | memoryview]:
    """One message: its length, its JSON header, then every array's bytes in one blob, each
    at an 8-byte aligned offset (the parent makes its arrays views of the blob it reads). The
    blob goes out as the arrays' own buffers and the zero bytes padding them: a long run's
    columns (tens of MB) are not copied into one first."""
    arrays: list[np.ndarray] = _Sink()
    tree = _encode(value, arrays)
    meta = []
    offset = 0
    for a in arrays:
        meta.append({"dt": _dtype_of(a), "sh": a.shape, "at": offset, "n": a.nbytes})
        offset += a.nbytes + (-a.nbytes) % 8
    header = json.dumps({"k": kind, "v": tree, "a": meta, "blob": offset}).encode("utf-8")
    parts: list[bytes | memoryview] = [_LEN.pack(len(header)), header]
    for a, m in zip(arrays, meta, strict=True):
        if m["n"]:
            parts.append(memoryview(a).cast("B"))
        if m["n"] % 8:
            parts.append(bytes(-m["n"] % 8))
    return parts


def _write_all(fd: int, parts: list[bytes | memoryview]) -> None:
    for part in parts:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


class _Stopped(Exception):
    """The other end closed the pipe."""


def _read_into(fd: int, view: memoryview, deadline: float | None) -> None:
    got = 0
    while got < len(view):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                if time.monotonic() >= deadline:
                    raise TimeoutError
                continue
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise _Stopped
        got += n


def _read_frame(fd: int, deadline: float | None) -> tuple[str, Any]:
    head = bytearray(_LEN.size)
    _read_into(fd, memoryview(head), deadline)
    (length,) = _LEN.unpack(head)
    if length > MAX_HEADER_BYTES:
        raise ValueError(f"a frame header of {length} bytes")
    raw = bytearray(length)
    _read_into(fd, memoryview(raw), deadline)
    header = json.loads(raw)
    size = int(header["blob"])
    if not 0 <= size <= MAX_ARRAY_BYTES:
        raise ValueError(f"a frame of {size} array bytes")
    blob = np.empty(size, np.uint8)  # not zeroed: every byte is read into it
    if size:
        _read_into(fd, memoryview(blob), deadline)
    arrays: list[np.ndarray] = []
    for meta in header["a"]:
        dtype = _dtype(json.dumps(meta["dt"]))
        shape = tuple(int(d) for d in meta["sh"])
        count = math.prod(shape)
        at, n = int(meta["at"]), int(meta["n"])
        if dtype.hasobject or n != count * dtype.itemsize or not 0 <= at <= size - n:
            raise ValueError("a frame's arrays do not match their description")
        arrays.append(np.frombuffer(blob, dtype, count, at).reshape(shape))
    return header["k"], _decode(header["v"], arrays)


def _wide_pipe() -> tuple[int, int, int]:
    """A pipe with a 1 MiB buffer where Linux allows it (fewer switches between the
    processes), and the bytes it holds (64 KiB, the default, when it could not be asked)."""
    r, w = os.pipe()
    size = 1 << 16
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
        size = fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
    return r, w, size


# ---------------------------------------------------------------- the child


def _serve(requests: int, replies: int) -> None:
    """The worker's loop: one request in, progress and one answer out, until the pipe closes."""
    from forensics import progress

    isolation.ISOLATE = False  # this process is the isolation: no child per file inside it
    isolation.IN_WORKER = True
    while True:
        if not select.select([requests], [], [], 0)[0]:
            _while_idle()
        try:
            kind, request = _read_frame(requests, None)
        except _Stopped:
            return
        try:
            with progress.reporting(_Reporter(replies)):
                value = _HANDLERS[kind](*request)
            answer = _frame("ok", value)
        except UnreadableSource as e:
            answer = _frame("unreadable", str(e))
        except MemoryError:
            answer = _frame("unreadable", "ran out of memory reading it")
        except BaseException as e:  # a bug in a reader: the parent reports it as such
            answer = _frame("bug", f"{type(e).__name__}: {e}")
        _write_all(replies, answer)


# Checkpoint readers after which the parent most often asks for the update ratio between two of
# their checkpoints: the comparison's module is imported while the worker waits (3.5 ms of CPU,
# else paid at the end of the run, after the timeline asked).
_BEFORE_UPDATES = (
    "forensics.readers.keras",
    "forensics.readers.safetensors",
    "forensics.readers.torch_checkpoint",
    "forensics.readers.tf_checkpoint",
)


def _while_idle() -> None:
    """With no request waiting: import what the next request will likely need."""
    import sys

    if "forensics.readers.delta" not in sys.modules and any(m in sys.modules for m in _BEFORE_UPDATES):
        importlib.import_module("forensics.readers.delta")


class _Reporter:
    """Progress of the current request, sent to the parent every PROGRESS_BYTES read or
    PROGRESS_EVERY seconds, whichever comes first (not per tiny tensor)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.last = 0.0
        self.sent = 0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if done - self.sent >= PROGRESS_BYTES or now - self.last >= PROGRESS_EVERY:
            self.last, self.sent = now, done
            _write_all(self.fd, _frame("progress", done))


def _call(spec: str, *args: Any) -> Any:
    """``module:function`` of this package, called with ``args``."""
    module, _, name = spec.partition(":")
    if not module.startswith("forensics."):
        raise ValueError(f"not a reader: {spec}")
    return getattr(importlib.import_module(module), name)(*args)


_HANDLERS: dict[str, Callable[..., Any]] = {"call": _call}


def loaded_modules() -> list[str]:
    """The modules imported in this process (asked of the worker: which libraries a run cost)."""
    import sys

    return sorted(sys.modules)


def _minimal_env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")}
    keep["PATH"] = os.defpath.replace(":.", "").replace(".:", "")
    return keep


# ---------------------------------------------------------------- the parent


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """What came back for one request: a value, or why there is none."""

    value: Any = None
    # None: the value is good. Else one line: the reader's own reason (unreadable), or
    # "reading it did not finish in 130 s: stopped", "reading it crashed the HDF5 library ...".
    failure: str | None = None
    bug: bool = False  # the failure is an exception a reader should not have raised
    timed_out: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One request: ``function(*args)`` in the worker, and how long it may take."""

    function: str  # "module:name" of this package
    args: tuple[Any, ...]
    timeout: float
    stall: float | None = None
    progress: Callable[[int], None] | None = None
    crashes: str = "its reader"  # what a crash is blamed on
    before: Callable[[], None] | None = None  # run when the parent starts waiting for this answer


class Worker:
    """The parent's handle on its worker child, started on the first request (and again
    after a child had to be killed). Use as a context manager, or call :meth:`close`."""

    def __init__(self, *, shared: bool = False) -> None:
        self._pid: int | None = None
        self._room = 1 << 15  # bytes of requests queued in the child at a time
        self._to_child = -1
        self._from_child = -1
        self._finalizer: weakref.finalize | None = None
        self.shared = shared  # this thread's worker, kept from run to run (see shared())
        self.runs = 0  # runs served
        self.owner = os.getpid()  # a forked copy of this object (a process pool) is not ours
        self._preamble: Call | None = None  # sent to every child first (see set_preamble)

    def set_preamble(self, call: Call | None) -> None:
        """A call every child of this worker gets before any other, from now on (and the
        current child at once): what the run's discovery saw, so that a child started
        after a kill checks the files as the first one did."""
        self._preamble = call
        if call is not None and self._pid is not None and isolation.ISOLATE:
            self._send_preamble()

    def _send_preamble(self) -> None:
        c = self._preamble
        assert c is not None
        try:
            _write_all(self._to_child, _frame("call", [c.function, *c.args]))
            answer = self._receive(c)
        except BaseException:
            self._stop()
            raise
        if answer.failure is not None:
            raise RuntimeError(f"the reader worker could not be prepared: {answer.failure}")

    # one child at a time; its fds and pid live in a list the finalizer can reach
    def _start(self) -> None:
        _reap()
        req_r, req_w, room = _wide_pipe()
        rep_r, rep_w, _ = _wide_pipe()
        # requests queued at a time fill at most half the request pipe: the parent never
        # blocks writing one while the child blocks writing an answer nobody reads yet
        self._room = room // 2
        parent = os.getpid()
        env = _minimal_env()
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                os.close(req_w)
                os.close(rep_r)
                # the objects inherited from the parent are never collected here: a collection
                # would write to every one of them and copy the parent's whole heap page by page
                gc.freeze()
                faulthandler.disable()  # a crash here is expected, and reported by the parent
                isolation.become_child(parent)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                os.environ.clear()
                os.environ.update(env)
                os.chdir("/")
                _serve(req_r, rep_w)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(req_r)
        os.close(rep_w)
        self._pid, self._to_child, self._from_child = pid, req_w, rep_r
        self._finalizer = weakref.finalize(self, _kill, pid, req_w, rep_r)
        if self._preamble is not None:
            self._send_preamble()

    def call(
        self,
        function: str,
        *args: Any,
        timeout: float,
        stall: float | None = None,
        progress: Callable[[int], None] | None = None,
        crashes: str = "its reader",
    ) -> Answer:
        """``function(*args)`` in the worker (``module:name`` of this package), within ``timeout``
        seconds of wall time (and ``stall`` without any message, when given). ``crashes``
        names what a crash of the worker is blamed on ("the HDF5 library")."""
        (answer,) = self.map([Call(function, args, timeout, stall, progress, crashes)])
        return answer

    def map(self, calls: list[Call], *, meanwhile: Callable[[], None] | None = None) -> Iterator[Answer]:
        """The answers to ``calls``, in order. As many requests as half the request pipe
        holds are queued in the child at a time, so it goes from one source to the next without waiting for the
        parent; each call's budget runs from when the parent starts waiting for its answer
        (the previous one has arrived: the child is on it). ``meanwhile`` runs once the
        first requests are queued: work the parent does while the child reads. A call that
        fails kills the child; the calls queued after it go to a fresh one."""
        answers = self.stream(calls)
        try:
            next(answers)  # the first requests are queued
            if meanwhile is not None:
                meanwhile()
        except BaseException:
            answers.close()  # the child goes too
            raise
        yield from answers

    def stream(self, calls: list[Call]) -> Iterator[Answer | None]:
        """:meth:`map` in two steps: the first item is None, once the first requests are queued
        (several workers can then be set going before the parent waits for any), then the
        answers in order."""
        if not isolation.ISOLATE:  # no fork here (or already in a worker): in this process
            yield None
            for c in calls:
                if c.before is not None:
                    c.before()
                yield _in_process(c.function, c.args, c.timeout, c.progress)
            return
        sent: collections.deque[tuple[int, int]] = collections.deque()  # (call, bytes) queued in the child
        queued = 0  # bytes of those
        following = 0  # the next call to queue
        first = True
        if not calls:
            yield None
        for i, c in enumerate(calls):
            try:
                if self._pid is None:
                    self._start()
                    sent.clear()
                    queued = 0
                    following = i
                while following < len(calls):
                    frame = _frame("call", [calls[following].function, *calls[following].args])
                    size = sum(len(part) for part in frame)
                    if sent and queued + size > self._room:
                        break
                    _write_all(self._to_child, frame)
                    sent.append((following, size))
                    queued += size
                    following += 1
                if first:
                    first = False
                    yield None
                if c.before is not None:
                    c.before()
                answer = self._receive(c)
            except BaseException:  # interrupted (SIGINT, SIGTERM): the child goes too
                self._stop()
                raise
            if sent and sent[0][0] == i:
                queued -= sent.popleft()[1]
            yield answer

    def _receive(self, c: Call) -> Answer:
        deadline = time.monotonic() + c.timeout
        try:
            while True:
                wait_until = deadline if c.stall is None else min(deadline, time.monotonic() + c.stall)
                kind, value = _read_frame(self._from_child, wait_until)
                if kind == "progress":
                    if c.progress is not None:
                        c.progress(int(value))
                    continue
                if kind == "ok":
                    return Answer(value)
                return Answer(None, str(value), bug=kind == "bug")
        except TimeoutError:
            self._stop()
            limit = c.timeout if c.stall is None else min(c.timeout, c.stall)
            return Answer(None, f"reading it did not finish in {limit:.0f} s: stopped", timed_out=True)
        except (_Stopped, OSError, ValueError):  # the child died (or sent what it must not)
            return Answer(None, self._stop(c.crashes, dying=True))

    def kill(self) -> None:
        """End the child now (on the way out of an error)."""
        self._stop()

    def _stop(self, crashes: str = "its reader", *, dying: bool = False) -> str:
        """Kill the child and reap it; how it ended, as one line."""
        pid = self._pid
        if pid is None:
            return "the reader process ended without a result"
        status = None
        # a child that closed its pipe is exiting: wait a moment for its status
        deadline = time.monotonic() + (DYING_SECONDS if dying else 0.0)
        with contextlib.suppress(ChildProcessError):
            while status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                elif time.monotonic() >= deadline:
                    break
                else:
                    time.sleep(0.001)
        if self._finalizer is not None and status is not None:  # reaped already: only the pipes
            self._finalizer.detach()
            for fd in (self._to_child, self._from_child):
                with contextlib.suppress(OSError):
                    os.close(fd)
        elif self._finalizer is not None:
            self._finalizer()  # SIGKILL, close the pipes, reap when it is gone
        self._pid = None
        if status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return f"reading it crashed {crashes} ({name}): the file is damaged"
        return "the reader process ended without a result"

    def close(self) -> None:
        """End the child (idle, or reading files nobody waits for any more): killed at once,
        reaped later, so that the parent never waits for a large process to be torn down."""
        if self._pid is None:
            return
        if self._finalizer is not None:
            self._finalizer()
        self._pid = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._stop()


# Children killed and not reaped yet: tearing down a process as large as a test runner's
# (TensorFlow imported) takes a tenth of a second, which the parent does not wait for.
_unreaped: list[int] = []


def _kill(pid: int, to_child: int, from_child: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    for fd in (to_child, from_child):
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    _unreaped.append(pid)
    _reap()


@atexit.register
def _reap_all() -> None:
    """At exit, wait for the children killed earlier: their time counts as this process's
    children's (what a benchmark measures), and none is left a zombie for init."""
    while _unreaped:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(_unreaped[0], 0)
        _unreaped.pop(0)


def _reap() -> None:
    """Collect the children killed earlier that have finished dying."""
    for pid in list(_unreaped):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0]
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.remove(pid)


def _in_process(function: str, args: tuple[Any, ...], timeout: float, progress: Callable[[int], None] | None) -> Answer:
    """Where there is no worker: the call in this process, under a SIGALRM budget."""
    from forensics import progress as progress_mod

    try:
        with (
            progress_mod.reporting(progress) if progress else contextlib.nullcontext(),
            isolation.wall_clock_limit(timeout),
        ):
            return Answer(_call(function, *args))
    except isolation.DeadlineExceeded as e:
        return Answer(None, str(e), timed_out=True)
    except UnreadableSource as e:
        return Answer(None, str(e))
    except MemoryError:
        return Answer(None, "ran out of memory reading it")


# The worker of the run being loaded in this thread (a sweep loads runs in threads).
_current: ContextVar[Worker | None] = ContextVar("forensics_worker", default=None)

# One worker is kept per thread from run to run: forking a process as large as a test
# runner with TensorFlow imported costs a tenth of a second (a small CLI process: half a
# millisecond), and a sweep or a test suite analyses thousands of runs. It is replaced
# after this many runs (nothing one run leaves behind in it outlives a few more), and
# whenever a source had to be stopped or crashed it.
RUNS_PER_WORKER = 64
_kept = threading.local()


def shared(slot: int = 0) -> Worker:
    """This thread's worker, for one more run (``slot`` 1: its second, for a run whose files
    are read by two workers at once)."""
    kept: dict[int, Worker] = _kept.__dict__.setdefault("workers", {})
    w = kept.get(slot)
    if w is None or w.owner != os.getpid() or w.runs >= RUNS_PER_WORKER:
        if w is not None and w.owner == os.getpid():
            w.close()
        w = kept[slot] = Worker(shared=True)
    w.runs += 1
    return w


def reset() -> None:
    """End this thread's kept workers: the next run forks fresh ones, which see the code
    as it is then (a test that patches a reader relies on this)."""
    kept: dict[int, Worker] = _kept.__dict__.setdefault("workers", {})
    workers = list(kept.values())
    kept.clear()
    for w in workers:
        if w.owner == os.getpid():
            w.close()


@contextlib.contextmanager
def serving(worker: Worker) -> Iterator[Worker]:
    """Within the block, :func:`current` is ``worker`` (discovery then leaves each .h5's look to it:
    the worker's read of the file looks first)."""
    token = _current.set(worker)
    try:
        yield worker
    finally:
        _current.reset(token)


def current() -> Worker | None:
    return _current.get()
