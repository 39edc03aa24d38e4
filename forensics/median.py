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


# Window elements (windows x width) past which :func:`sliding_medians` keeps a sorted window
# instead of partitioning a copy of every window: O(n log w) work against O(n w).
_SORTED_WINDOW_ELEMENTS = 1 << 20


def sliding_medians(values: np.ndarray, width: int) -> np.ndarray:
    """The median of every window ``values[j : j + width]``, j = 0 .. n - width: the same
    numbers as ``median(sliding_window_view(values, width), axis=1)`` (bit for bit, but that
    where -0.0 and 0.0 share a window's middle either may come out, as they are equal).

    Long series keep one sorted window (``bisect``), one point in and one out per step,
    and read its middle one or two values (their mean, as numpy takes it: (a + b) / 2);
    a window is never copied or partitioned. That is 20 ms for 20,000 windows of 401
    points against ~100 ms partitioning them. Short series, and any series holding a NaN
    (which has no place in a sorted order), are partitioned as numpy does, in blocks of
    windows that bound the copy to ``_SORTED_WINDOW_ELEMENTS`` elements.
    """
    import bisect

    a = np.asarray(values, dtype=np.float64)
    count = a.size - width + 1
    if count <= 0:
        return np.empty(0)
    if count * width <= _SORTED_WINDOW_ELEMENTS or not np.isfinite(a).all():
        windows = np.lib.stride_tricks.sliding_window_view(a, width)
        rows = max(1, _SORTED_WINDOW_ELEMENTS // width)
        return np.concatenate([median(windows[j : j + rows], axis=1) for j in range(0, count, rows)])
    points = a.tolist()
    window = sorted(points[:width])
    half = width // 2
    out = [0.0] * count
    insort, find = bisect.insort, bisect.bisect_left
    odd = width % 2 == 1
    for j in range(count):
        if j:
            del window[find(window, points[j - 1])]
            insort(window, points[j + width - 1])
        out[j] = window[half] if odd else (window[half - 1] + window[half]) / 2
    return np.array(out)
