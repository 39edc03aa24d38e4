"""Open a file of the run only if it is still the regular file discovery found.

Between discovery and reading, a file in a folder someone else can write may be
swapped: for a symlink to ``/etc/shadow`` (opened and followed, its first line in
the report), or for a FIFO (``open()`` blocks forever). Every reader opens the run's
files through :func:`open_binary` / :func:`open_text` / :func:`open_fd`, which

- open with ``O_NOFOLLOW`` (a symlink in the last component is refused, never
  followed) and ``O_NONBLOCK`` (a FIFO or device opens at once instead of blocking),
- ``fstat`` the descriptor: it must be a regular file and, when discovery saw the
  path (:func:`remember`), the same device and inode it saw then,
- then clear ``O_NONBLOCK`` and hand out the descriptor.

The checks run on the descriptor, so there is no window between check and use.
A refusal is an ``OSError`` (``ELOOP``, ``EINVAL`` or ``ESTALE`` with a sentence as its
``strerror``), which every reader already turns into a one-line note.

Libraries that insist on a file name (libhdf5, ``np.memmap``) get :func:`fd_path`:
``/proc/self/fd/N`` names the open descriptor's file itself, whatever is at the
original path by then.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path
from typing import IO, BinaryIO

# Device and inode of each file discovery classified, by absolute path.
_seen: dict[str, tuple[int, int]] = {}

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def remember(path: str | os.PathLike[str], st: os.stat_result) -> None:
    """Record that ``path`` was the regular file ``st`` when discovery found it."""
    _seen[os.fspath(path)] = (st.st_dev, st.st_ino)


def seen_under(root: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """What discovery saw under ``root``: handed to the process that reads the files."""
    prefix = os.path.join(os.fspath(root), "")
    return {p: v for p, v in _seen.items() if p.startswith(prefix)}


def remember_ids(ids: dict[str, tuple[int, int]]) -> None:
    """Record what another process's discovery saw (:func:`seen_under`)."""
    for p, (dev, ino) in ids.items():
        _seen[p] = (int(dev), int(ino))


def open_fd(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path``, refused (``OSError``) unless it is a regular
    file reached without a symlink in its last component and, if discovery saw it,
    the very file discovery saw."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symlink (not followed)", name) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file (a FIFO, device or directory): not read", name)
        expected = _seen.get(name)
        if expected is not None and (st.st_dev, st.st_ino) != expected:
            raise OSError(errno.ESTALE, "it was replaced by another file after it was found: not read", name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """:func:`open_fd` as a buffered binary file object (``open(path, "rb")``)."""
    return os.fdopen(open_fd(path), "rb")


def open_text(
    path: str | os.PathLike[str], encoding: str = "utf-8", errors: str = "strict", newline: str | None = None
) -> IO[str]:
    """:func:`open_fd` as a text file object (``open(path, encoding=...)``)."""
    return io.open(open_fd(path), encoding=encoding, errors=errors, newline=newline)  # noqa: UP020 (fd, not path)


def fd_path(fd: int, path: str | os.PathLike[str]) -> str:
    """A name that opens the same file as ``fd`` (``/proc/self/fd/N`` on Linux), for
    libraries that only take names; ``path`` itself where there is no such name."""
    proc = f"/proc/self/fd/{fd}"
    return proc if os.path.exists(proc) else os.fspath(path)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """``Path.read_bytes`` through :func:`open_fd`."""
    with open_binary(path) as f:
        return f.read()


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every symlink resolved, lies under ``root`` (itself resolved)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))
    except (OSError, ValueError):
        return False
