"""Progress inside a file: readers say how far they got, the loader passes it on.

A reader calls :func:`advance` with the bytes it has just consumed (tensor chunks)
or :func:`reached` with its offset in the file (record framing); both cost a
context-variable look-up when nobody listens. The loader sets the listener per file
with :func:`reporting`, so a 500 MB checkpoint moves the progress line while it is
read instead of at its end. In the run's worker child the listener sends the count to
the parent a few times a second (``forensics/readers/worker.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar


class _Tracker:
    __slots__ = ("done", "listener")

    def __init__(self, listener: Callable[[int], None]) -> None:
        self.listener = listener
        self.done = 0


_current: ContextVar[_Tracker | None] = ContextVar("forensics_progress", default=None)


def advance(nbytes: int) -> None:
    """``nbytes`` more of the current file were read."""
    t = _current.get()
    if t is not None:
        t.done += nbytes
        t.listener(t.done)


def reached(offset: int) -> None:
    """The reader got to ``offset`` in the current file (never moves backwards)."""
    t = _current.get()
    if t is not None and offset > t.done:
        t.done = offset
        t.listener(t.done)


@contextlib.contextmanager
def reporting(listener: Callable[[int], None]) -> Iterator[None]:
    """Within the block, readers' progress goes to ``listener(bytes done in this file)``."""
    token = _current.set(_Tracker(listener))
    try:
        yield
    finally:
        _current.reset(token)
