"""``median``: numpy's median, without the import of ``numpy.ma`` its first call pays.

``np.median`` checks whether its NaN test gave a masked array, and that check imports
``numpy.ma`` (15-25 ms here) on the first call of the process: more than some whole
stages of a small run's analysis. This is the same computation (partition, then the
mean of the middle one or two values, then NaN wherever the partition put a NaN last),
so the results are the same bit for bit; a masked array is not among our inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def median(a: Any, axis: int | None = None) -> Any:
    """``np.median(a, axis=axis)`` for plain (unmasked) arrays of numbers."""
    a = np.asanyarray(a)
    size = a.size if axis is None else a.shape[axis]
    if size == 0:
        return np.median(a, axis=axis)  # the empty case and its warning, as numpy has them
    half = size // 2
    kth = [half - 1, half] if size % 2 == 0 else [half]
    floats = a.dtype.kind in "fcmM"  # kinds that can hold NaN (NaT): numpy partitions those last
    if floats:
        kth.append(-1)
    part = np.partition(a, kth, axis=axis)
    if part.shape == ():
        return part.item()
    if axis is None:
        axis = 0
    middle = [slice(None)] * part.ndim
    middle[axis] = slice(half, half + 1) if size % 2 else slice(half - 1, half + 1)
    out = np.mean(part[tuple(middle)], axis=axis)
    if floats:
        last = part.take(-1, axis=axis)
        nan = np.isnan(last)
        if nan.any():
            if isinstance(out, np.generic):
                return last
            np.copyto(out, last, where=nan)
    return out
