"""HDF5 without surprises: h5py imported so nothing from the run runs, and datasets
refused when their bytes are outside the file or their chunks would inflate past a budget.

Every reader that hands a dataset to libhdf5 (Keras weights, H5 data samples) asks
:func:`h5_refusal` first.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import zlib
from typing import Any

import numpy as np

# One HDF5 chunk is inflated whole by libhdf5: the declared size of a chunk allowed.
# h5py's automatic chunks are at most 1 MiB; HDF5 allows 4 GiB, a bomb in a 4 MiB file.
MAX_H5_CHUNK_BYTES = 64 * 1024 * 1024


def import_h5py() -> Any:
    """h5py, imported so that nothing from the run's folder or ``PATH`` can run.

    Importing h5py calls ``platform.processor()``, which runs ``uname -p`` found on
    ``PATH``: with ``.`` on ``PATH`` and the run folder as working directory, the run's
    own ``uname`` ran. The processor is set here to unknown ("", what ``platform`` says
    when it cannot tell) in ``platform``'s cache, so h5py's call runs nothing at all (a
    fork and an exec of ``uname``, and the import of ``subprocess``: about 10 ms of every
    run with an .h5 file). Where that cache is not there to fill (another Python), the
    processor is asked with ``PATH`` set to the system default (``os.defpath``, no
    relative entry), and ``platform`` caches the answer.
    """
    h5py = sys.modules.get("h5py")
    if h5py is not None:
        return h5py
    import platform

    # CPython 3.9+: uname()'s processor is a cached_property, resolved on first use; with no
    # instance dict to fill (TypeError), it is asked with a safe PATH below
    with contextlib.suppress(TypeError):
        vars(platform.uname()).setdefault("processor", "")
    saved = os.environ.get("PATH")
    os.environ["PATH"] = os.defpath.replace(":.", "").replace(".:", "")
    try:
        platform.processor()
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved
    import h5py

    return h5py


def h5_refusal(ds: Any, dtype: np.dtype) -> str | None:
    """Why an HDF5 dataset must not be read, or None.

    Its bytes must be in this file (external raw storage and virtual datasets point
    libhdf5 at any file the user can read: 60 one-byte datasets rebuilt a secret from
    outside the run). A compressed chunk is inflated whole, so its declared size is
    checked against the budget first, and a deflate chunk must not inflate past it
    (libhdf5's filter would grow its buffer until the stream ends).
    """
    try:
        if ds.external:
            return "external raw storage (its bytes are in another file): not read"
        if ds.is_virtual:
            return "virtual dataset (its bytes are in other files): not read"
        chunks = ds.chunks
        if not chunks:
            return None
        chunk_bytes = math.prod(int(c) for c in chunks) * dtype.itemsize
        if chunk_bytes > MAX_H5_CHUNK_BYTES:
            return (
                f"stored in chunks of {chunk_bytes} bytes, over the {MAX_H5_CHUNK_BYTES}-byte budget "
                "for one inflated chunk: not read"
            )
        return _deflate_bomb(ds, chunk_bytes)
    except Exception as e:  # a damaged layout message
        return f"unreadable storage layout ({' '.join(str(e).split())[:80]})"


def _deflate_bomb(ds: Any, chunk_bytes: int) -> str | None:
    """Inflate each deflate-only (optionally shuffled) chunk through h5py's raw chunk API,
    at most its declared size: a chunk whose stream goes on past that is a bomb."""
    h5py = import_h5py()
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if not filters or set(filters) - {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32}:
        return None  # unfiltered, or a filter we do not inflate ourselves (the child's memory limit holds)
    if h5py.h5z.FILTER_DEFLATE not in filters:
        return None
    dsid = ds.id
    for i in range(dsid.get_num_chunks()):
        info = dsid.get_chunk_info(i)
        if info.size > chunk_bytes + chunk_bytes // 64 + 1024:  # deflate's worst expansion is far below
            return f"a stored chunk ({info.size} bytes) is larger than its inflated size: damaged, not read"
        mask, raw = dsid.read_direct_chunk(info.chunk_offset)
        if mask & (1 << filters.index(h5py.h5z.FILTER_DEFLATE)):  # deflate skipped for this chunk
            continue
        if h5py.h5z.FILTER_FLETCHER32 in filters and not mask & (1 << filters.index(h5py.h5z.FILTER_FLETCHER32)):
            raw = raw[:-4]
        inflater = zlib.decompressobj()
        try:
            inflater.decompress(raw, chunk_bytes)
        except zlib.error:
            return None  # libhdf5 reports the damaged stream itself
        if inflater.unconsumed_tail:
            return f"chunk {i} inflates past its declared {chunk_bytes} bytes (a decompression bomb): not read"
    return None


_TRUNCATED = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")


def h5_message(e: BaseException) -> str:
    """libhdf5's complaint on one line, a truncated file's in plain words."""
    text = " ".join(str(e).split()) or type(e).__name__
    cut = _TRUNCATED.search(text)
    if cut:
        return f"truncated: {cut.group(1)} of {cut.group(2)} bytes present (an interrupted save?)"
    return text[:200]
