"""forensics.median.median is np.median bit for bit (it only skips numpy.ma's import)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forensics.median import median, sliding_medians


def _same(ours: object, theirs: object) -> None:
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.dtype == b.dtype and a.shape == b.shape, (ours, theirs)
    assert np.array_equal(a, b, equal_nan=True), (ours, theirs)
    assert type(ours) is type(theirs), (type(ours), type(theirs))


_DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_])


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9)), st.data())
def test_equal_to_numpy_on_any_array_and_axis(a: np.ndarray, data: st.DataObject) -> None:
    axis = data.draw(st.sampled_from([None, *range(a.ndim), -1]))
    with np.errstate(all="ignore"):
        _same(median(a, axis=axis), np.median(a, axis=axis))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 1000, 1001])
def test_random_floats_with_nan_and_inf(n: int) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300)
        if trial % 3 == 0:
            a[rng.integers(n)] = np.nan
        if trial % 4 == 1:
            a[rng.integers(n)] = np.inf * rng.choice([-1, 1])
        if trial % 5 == 2:
            a[:] = 1e308  # the mean of the middle two overflows, as numpy's does
        with np.errstate(all="ignore"):
            _same(median(a), np.median(a))
            _same(median(a.astype(np.float32)), np.median(a.astype(np.float32)))
            windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([a, a]), n)
            _same(median(windows, axis=1), np.median(windows, axis=1))


def test_lists_and_scalars() -> None:
    _same(median([3, 1, 2]), np.median([3, 1, 2]))
    _same(median([1.0, 2.0]), np.median([1.0, 2.0]))
    _same(median(np.float64(4.5)), np.median(np.float64(4.5)))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        _same(median(np.zeros(0)), np.median(np.zeros(0)))


def test_does_not_import_numpy_ma() -> None:
    code = (
        "import sys, numpy as np\nfrom forensics.median import median\n"
        "median(np.array([1.0, np.nan, 3.0])); median(np.arange(12.0).reshape(3, 4), axis=1)\n"
        "print('numpy.ma' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("width", [401, 400, 64])
@pytest.mark.parametrize("values", ["normal", "ties", "huge"])
def test_sliding_medians_of_a_long_series_equal_numpy_on_every_window(width: int, values: str) -> None:
    # long enough for the kept sorted window (windows x width past 2**20, or 30,000 windows)
    rng = np.random.default_rng(width)
    a = {
        "normal": rng.standard_normal(30_000),
        "ties": np.round(rng.standard_normal(30_000), 1),  # many equal values, -0.0 among them
        "huge": np.full(30_000, 1e308) * rng.choice([1.0, 0.5], 30_000),  # middle pairs overflow to inf
    }[values]
    with np.errstate(over="ignore"):
        want = np.median(np.lib.stride_tricks.sliding_window_view(a, width), axis=1)
        got = sliding_medians(a, width)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_sliding_medians_of_a_series_with_a_nan_are_numpys() -> None:
    a = np.random.default_rng(9).standard_normal(5_000)
    a[1234] = np.nan  # no place in a sorted window: partitioned as numpy does, NaN where it is in
    want = np.median(np.lib.stride_tricks.sliding_window_view(a, 301), axis=1)
    got = sliding_medians(a, 301)
    assert np.array_equal(got, want, equal_nan=True) and np.isnan(got[1000]) and not np.isnan(got[0])
    assert sliding_medians(a[:10], 11).shape == (0,)
