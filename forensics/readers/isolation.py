"""Run HDF5 work in a forked child, so that a crash in the C library costs one file.

The HDF5 library can kill the process (SIGSEGV) on a damaged file: one bit-flipped
attribute was enough in our fuzzing, and it can also loop forever on a damaged
B-tree. Every place that hands a file from the run directory to libhdf5 goes
through :func:`run_isolated`: on Linux the work runs in a forked child (copy-on-write,
no re-import, so a few milliseconds) that streams its results back as JSON lines,
never pickle. The parent keeps every complete line, so when the child dies half-way
the results it sent before dying are not lost. Elsewhere the work runs in-process,
and so it does in the run's worker child (:mod:`forensics.readers.worker`), which is
itself the isolation: there ``ISOLATE`` is False and ``IN_WORKER`` True.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import json
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from forensics.errors import UnreadableSource

ISOLATE = sys.platform.startswith("linux")
# True in the run's worker child (forensics.readers.worker): readers run in it directly.
IN_WORKER = False
# A child gets this long plus time proportional to the bytes it reads before it is
# killed. 20 MB/s is far below real read rates, so only a stuck child hits it.
BASE_SECONDS = 120.0
BYTES_PER_SECOND = 20e6

Emit = Callable[[Any], None]
Work = Callable[[Emit], None]

# prctl(PR_SET_PDEATHSIG): the kernel kills the child when its parent dies, however the
# parent dies (SIGKILL included), so a reader can never outlive the analysis. Loaded
# once here, not in the child: a fork copies the loaded library.
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if ISOLATE else None
except (OSError, AttributeError):
    _prctl = None

# Keys of the child's own last line; the work's messages are never dicts holding them.
_END = "__end__"
_UNREADABLE = "__unreadable__"
_BUG = "__bug__"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a child sent before it ended, and how it ended."""

    messages: tuple[Any, ...]
    # None: the work returned. Else one line: "reading it crashed the HDF5 library (SIGSEGV):
    # the file is damaged", "reading it did not finish in 130 s (...)", ...
    failure: str | None = None
    timed_out: bool = False  # the child was killed at the deadline (it may hang again if rerun)


def run_isolated(
    work: Work, timeout: float, *, stall_timeout: float | None = None, isolate: bool | None = None
) -> Outcome:
    """Run ``work(emit)`` in a forked child; every ``emit(obj)`` reaches the parent as one JSON value.

    ``UnreadableSource`` (and ``MemoryError``, as unreadable) raised by the work is raised
    again here; any other exception in the child is a bug and comes back as a
    ``RuntimeError`` naming it. A child killed by a signal, or still running after
    ``timeout`` seconds (then killed), gives the messages it sent and a ``failure``;
    so does a child that sends nothing for ``stall_timeout`` seconds, when given (for
    work made of many short steps, each sending a message).
    ``isolate=False`` (or a platform without fork) runs the work in this process,
    where its exceptions propagate unchanged.
    """
    if not (ISOLATE if isolate is None else isolate):
        sent: list[Any] = []
        work(sent.append)
        return Outcome(tuple(sent))
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: work, report, and leave without running the parent's exit handlers
        try:
            faulthandler.disable()  # a crash here is expected, and reported by the parent
            become_child(parent)
            os.close(read_fd)
            _child(work, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        data, timed_out = _collect(read_fd, pid, timeout, stall_timeout)
    except BaseException:  # interrupted (SIGINT, SIGTERM, a reader deadline): the child goes too
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    lines = data.split(b"\n")
    messages: list[Any] = []
    for line in lines[:-1]:  # the last piece is empty, or a line the child did not finish
        try:
            messages.append(json.loads(line))
        except ValueError:
            break
    last = messages[-1] if messages else None
    if isinstance(last, dict) and len(last) == 1:
        if _END in last:
            return Outcome(tuple(messages[:-1]))
        if _UNREADABLE in last:
            raise UnreadableSource(last[_UNREADABLE])
        if _BUG in last:
            raise RuntimeError(last[_BUG])
    if timed_out:
        limit = timeout if stall_timeout is None else min(timeout, stall_timeout)
        failure = f"reading it did not finish in {limit:.0f} s (a damaged file can make HDF5 loop)"
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        failure = f"reading it crashed the HDF5 library ({name}): the file is damaged"
    else:
        failure = "the isolated reader ended without a result"
    return Outcome(tuple(messages), failure, timed_out)


def become_child(parent: int) -> None:
    """In a fresh child: die with the parent, and let nothing of the run's folder run.

    ``PATH`` becomes the system default (no ``.``, no relative entry), so a library that
    runs a helper program (h5py's import runs ``uname``) cannot pick one from the run
    even when the run is the working directory. The working directory itself is kept:
    the work may name files relative to it. Signals the parent handles are reset: the
    parent decides how to end.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    for sig in (signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    os.environ["PATH"] = os.defpath


class DeadlineExceeded(BaseException):
    """A reader ran past its wall-clock budget. A BaseException, so that a reader's
    ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def wall_clock_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`DeadlineExceeded` in this thread after ``seconds`` of wall time.

    An interval timer (``SIGALRM``) interrupts Python code and regular expressions
    alike (the ``re`` engine checks for signals); a forked child waited for is killed
    by :func:`run_isolated` on the way out. Only in the main thread (where signals are
    delivered); elsewhere the block runs unbounded.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise DeadlineExceeded(f"reading it did not finish in {seconds:.0f} s: stopped")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def deadline_for(nbytes: int) -> float:
    """Seconds a child reading ``nbytes`` may take before it is taken to be stuck."""
    return BASE_SECONDS + nbytes / BYTES_PER_SECOND


def _child(work: Work, fd: int) -> None:
    def emit(obj: Any) -> None:
        data = json.dumps(obj).encode("utf-8") + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    try:
        work(emit)
        last: dict[str, Any] = {_END: True}
    except UnreadableSource as e:
        last = {_UNREADABLE: str(e)}
    except MemoryError:
        last = {_UNREADABLE: "ran out of memory reading it"}
    except BaseException as e:  # a bug in the work: the parent raises it as such
        last = {_BUG: f"{type(e).__name__}: {e}"}
    emit(last)
    os.close(fd)


def _collect(read_fd: int, pid: int, timeout: float, stall_timeout: float | None) -> tuple[bytes, bool]:
    """Everything the child writes, and whether it had to be killed at a deadline."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    stall = math.inf if stall_timeout is None else stall_timeout
    last = time.monotonic()
    try:
        while True:
            remaining = min(deadline, last + stall) - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                return b"".join(chunks), True
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            block = os.read(read_fd, 1 << 20)
            if not block:
                return b"".join(chunks), False
            chunks.append(block)
            last = time.monotonic()
    finally:
        os.close(read_fd)
