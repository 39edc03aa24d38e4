"""Streaming tensor statistics: chunked results must equal numpy on the whole array."""

from __future__ import annotations

import math
import os
import shutil

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from forensics.readers import tensorstats
from forensics.readers.tensorstats import (
    BFLOAT16_BITS,
    BLOCK_ELEMENTS,
    StatsAccumulator,
    array_stats,
    dtype_name,
    flat_native,
    layer_aggregates,
    layer_of,
    small_tensors_stats,
    sum_of_squares,
    summarize_problems,
)
from forensics.util import natural_key

SMALL_CHUNK = 7  # forces dozens of chunks on the test arrays


@pytest.fixture(autouse=True, params=["kernel", "numpy"])
def fold_path(request, monkeypatch):
    """Every test runs twice: through the C kernel (float32/bfloat16 chunks) and through the numpy passes."""
    if request.param == "kernel":
        if tensorstats._KERNEL is None:
            pytest.skip("the C kernel is not built here (no compiler, or FORENSICS_NO_KERNEL)")
    else:
        monkeypatch.setattr(tensorstats, "_KERNEL", None)
    return request.param


def test_the_one_pass_kernel_is_built_where_a_compiler_is() -> None:
    """`pip install -e .` builds forensics/_tensorkernel.c (setup.py); CI must measure and test that path."""
    if os.environ.get("FORENSICS_NO_KERNEL"):
        pytest.skip("FORENSICS_NO_KERNEL asks for the numpy passes")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the build skips the optional kernel")
    try:
        from forensics import _tensorkernel
    except ImportError:
        pytest.fail(
            "forensics._tensorkernel is not built: `pip install -e .` builds it "
            "(or `python setup.py build_ext --inplace`)"
        )

    assert _tensorkernel.fold(np.array([1.0, -2.0, 0.0, np.nan], np.float32), False, 0.0)[:5] == (3, 1, 0, 0, 1)


def _reference(a: np.ndarray) -> dict[str, float]:
    """What numpy says about the whole array at once, in float64."""
    x = a.astype(np.float64).reshape(-1)
    finite = x[np.isfinite(x)]
    return {
        "numel": x.size,
        "nan": int(np.isnan(x).sum()),
        "posinf": int((x == np.inf).sum()),
        "neginf": int((x == -np.inf).sum()),
        "zeros": int((x == 0).sum()),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "absmax": float(np.abs(finite).max()),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "l2": float(np.linalg.norm(finite)),
    }


def _assert_matches(stats, ref: dict[str, float]) -> None:
    for key in ("numel", "nan", "posinf", "neginf", "zeros"):
        assert getattr(stats, key) == ref[key], key
    for key in ("min", "max", "absmax"):
        assert getattr(stats, key) == ref[key], key
    for key in ("mean", "std", "l2"):
        assert getattr(stats, key) == pytest.approx(ref[key], rel=1e-9, abs=1e-12), key


def _with_specials(dtype: np.dtype, n: int = 1000, scale: float = 3.0, inf: bool = True) -> np.ndarray:
    rng = np.random.default_rng(7)
    a = (rng.standard_normal(n) * scale).astype(np.float32)
    a[[5, 77, 500]] = np.nan
    if inf:
        a[[9, 600]] = np.inf
        a[[13]] = -np.inf
    a[100:140] = 0.0
    return a.astype(dtype)


@pytest.mark.parametrize(
    "dtype",
    [np.float32, np.float16, np.float64, ml_dtypes.bfloat16, ml_dtypes.float8_e5m2],
    ids=["float32", "float16", "float64", "bfloat16", "float8_e5m2"],
)
def test_chunked_stats_equal_numpy_on_the_whole_array_with_nan_inf_and_zeros(dtype) -> None:
    a = _with_specials(np.dtype(dtype)).reshape(10, 100)
    stats = array_stats("w", a, chunk_elements=SMALL_CHUNK)
    ref = _reference(a)
    assert ref["nan"] == 3 and ref["posinf"] == 2 and ref["neginf"] == 1 and ref["zeros"] >= 40
    _assert_matches(stats, ref)
    assert stats.shape == (10, 100)
    assert stats.dtype == np.dtype(dtype).name


@pytest.mark.parametrize(
    "dtype",
    [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.float8_e8m0fnu],
    ids=["bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu"],
)
def test_every_bit_pattern_of_a_narrow_float_widens_to_the_value_ml_dtypes_gives(dtype) -> None:
    dt = np.dtype(dtype)
    bits = np.arange(1 << (8 * dt.itemsize), dtype=np.uint8 if dt.itemsize == 1 else np.uint16)
    with np.errstate(invalid="ignore"):
        want = bits.view(dt).astype(np.float32)
    got = flat_native(bits.view(dt))
    assert got.dtype == np.float32
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0


def test_bfloat16_read_as_bare_bits_widens_and_sums_as_ml_dtypes_bfloat16_does() -> None:
    bits = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):
        want = bits.view(ml_dtypes.bfloat16).astype(np.float32)
    got = flat_native(bits.view(BFLOAT16_BITS))
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))
    a = _with_specials(np.dtype(ml_dtypes.bfloat16))
    as_bits = array_stats("w", a.view(np.uint16).view(BFLOAT16_BITS), chunk_elements=SMALL_CHUNK)
    assert as_bits == array_stats("w", a, chunk_elements=SMALL_CHUNK)
    assert dtype_name(BFLOAT16_BITS) == as_bits.dtype == "bfloat16"


def test_float8_e4m3fn_has_no_infinity_so_inputs_cast_from_inf_count_as_nan() -> None:
    a = _with_specials(np.dtype(ml_dtypes.float8_e4m3fn), scale=40.0)
    stats = array_stats("q", a, chunk_elements=SMALL_CHUNK)
    ref = _reference(a)
    assert stats.posinf == stats.neginf == 0
    assert stats.nan == 6  # three NaN and three infinities, all NaN in this format
    _assert_matches(stats, ref)
    assert stats.dtype == "float8_e4m3fn"


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint64])
def test_integer_tensors_get_the_same_statistics_without_nan(dtype) -> None:
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    a = rng.integers(max(info.min, -1000), min(info.max, 1000), size=333).astype(dtype)
    a[:11] = 0
    stats = array_stats("ids", a, chunk_elements=SMALL_CHUNK)
    _assert_matches(stats, _reference(a))


def test_a_tensor_with_no_finite_element_has_nan_moments_and_zero_norm() -> None:
    stats = array_stats("dead", np.full(50, np.nan, dtype=np.float32), chunk_elements=SMALL_CHUNK)
    assert stats.nan == 50 and stats.finite == 0
    assert math.isnan(stats.mean) and math.isnan(stats.std) and math.isnan(stats.absmax)
    assert stats.l2 == 0.0


def test_an_empty_tensor_counts_nothing() -> None:
    stats = array_stats("empty", np.zeros((0, 4), dtype=np.float32))
    assert stats.numel == 0 and stats.nonfinite == 0 and stats.l2 == 0.0
    assert math.isnan(stats.zero_frac)


def test_huge_finite_float64_values_do_not_overflow_the_norm_or_std() -> None:
    a = np.array([1e300, -1e300, 3e300, 0.0, 2e299] * 40)
    stats = array_stats("big", a, chunk_elements=SMALL_CHUNK)
    assert math.isfinite(stats.l2) and math.isfinite(stats.std)
    scaled = a / 1e300
    assert stats.l2 == pytest.approx(np.linalg.norm(scaled) * 1e300, rel=1e-12)
    assert stats.std == pytest.approx(scaled.std() * 1e300, rel=1e-12)
    assert stats.mean == pytest.approx(scaled.mean() * 1e300, rel=1e-12)


def test_a_large_offset_does_not_cost_the_variance_its_precision() -> None:
    a = 1e8 + np.arange(10_000, dtype=np.float64) % 7
    stats = array_stats("offset", a, chunk_elements=97)
    assert stats.std == pytest.approx((a - 1e8).std(), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(width=32, min_value=-(2.0**100), max_value=2.0**100),
            st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
        ),
        min_size=1,
        max_size=200,
    ),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_how_a_tensor_is_cut_into_chunks_does_not_change_its_statistics(values: list[float], chunk: int) -> None:
    a = np.array(values, dtype=np.float32)
    whole = array_stats("t", a, chunk_elements=a.size)
    parts = array_stats("t", a, chunk_elements=chunk)
    for key in ("numel", "nan", "posinf", "neginf", "zeros", "min", "max", "absmax"):
        got, want = getattr(parts, key), getattr(whole, key)
        assert got == want or (math.isnan(got) and math.isnan(want)), key
    for key in ("mean", "std", "l2"):
        got, want = getattr(parts, key), getattr(whole, key)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9) or (math.isnan(got) and math.isnan(want)), key


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16, np.float64], ids=["float32", "bfloat16", "float64"])
@pytest.mark.parametrize("chunk", [None, BLOCK_ELEMENTS + 3], ids=["default-chunks", "chunks-across-blocks"])
def test_a_tensor_of_many_blocks_gets_the_statistics_numpy_gives_on_the_whole(dtype, chunk) -> None:
    rng = np.random.default_rng(11)
    a = (rng.standard_normal(2 * BLOCK_ELEMENTS + 1234) * 0.02).astype(np.float32)
    a[[3, BLOCK_ELEMENTS + 7, 2 * BLOCK_ELEMENTS + 1000]] = np.nan  # one per block
    a[[BLOCK_ELEMENTS - 1, BLOCK_ELEMENTS]] = np.inf  # either side of a block boundary
    a[2 * BLOCK_ELEMENTS + 5] = -np.inf
    a[BLOCK_ELEMENTS + 100 : BLOCK_ELEMENTS + 400] = 0.0
    a = a.astype(np.dtype(dtype))
    stats = array_stats("w", a.reshape(-1, 2), chunk_elements=chunk)
    ref = _reference(a)
    assert ref["nan"] == 3 and ref["posinf"] == 2 and ref["neginf"] == 1 and ref["zeros"] >= 300
    _assert_matches(stats, ref)


@pytest.mark.parametrize("spread", [1e-3, 1e-5, 0.0], ids=["narrow", "very-narrow", "constant"])
def test_a_weight_far_from_zero_with_a_tiny_spread_keeps_its_variance(spread: float) -> None:
    # a LayerNorm gain near 1, or a constant fill: sum(x^2) - n*mean^2 would cancel, so the
    # block is centred again; the std must still match numpy's two-pass value
    rng = np.random.default_rng(5)
    a = (1.0 + spread * rng.standard_normal(3 * BLOCK_ELEMENTS)).astype(np.float32)
    stats = array_stats("ln.weight", a)
    ref = _reference(a)
    _assert_matches(stats, ref)
    if spread == 0.0:
        assert stats.std == 0.0


def _bf16_blocks() -> dict[str, np.ndarray]:
    """bfloat16 blocks whose min, max and zeros the integer comparisons of the patterns must get right."""
    rng = np.random.default_rng(13)
    mixed = (rng.standard_normal(5000) * 3).astype(ml_dtypes.bfloat16)
    return {
        "mixed": mixed,
        "all-negative": -np.abs(mixed) - 1,
        "all-positive": np.abs(mixed) + 1,
        "negative-and-minus-zero": np.concatenate([-np.abs(mixed[:100]) - 1, np.full(7, -0.0)]),
        "only-minus-zero": np.full(9, -0.0),
        "both-zeros": np.concatenate([mixed[:50], np.full(5, -0.0), np.full(6, 0.0)]),
        "positive-and-minus-zero": np.concatenate([np.abs(mixed[:100]) + 1, np.full(3, -0.0)]),
        "extremes": np.array([3.3895e38, -3.3895e38, 1e-40, -1e-40, 9.2e-41, 0.0]),  # largest finite, subnormals
        "every-finite-pattern": np.arange(1 << 16, dtype=np.uint16).view(ml_dtypes.bfloat16),
    }


@pytest.mark.parametrize("size", [None, 2 * BLOCK_ELEMENTS + 7], ids=["as-is", "over-blocks"])
@pytest.mark.parametrize("case", list(_bf16_blocks()))
def test_bfloat16_min_max_and_zeros_read_on_the_bit_patterns_equal_numpy_on_the_values(case: str, size) -> None:
    # as-is: most cases are shorter than a row of the fused fold; over-blocks: the same values
    # repeated over three blocks, so that min, max and zeros are combined across blocks
    a = _bf16_blocks()[case].astype(ml_dtypes.bfloat16)
    if case == "every-finite-pattern":
        a = a[np.isfinite(a.astype(np.float32))]
    if size:
        a = np.resize(a, size)
    for as_given in (a, a.view(np.uint16).view(BFLOAT16_BITS)):  # ml_dtypes' type, and the bare patterns
        stats = array_stats("w", as_given)
        ref = _reference(a)
        _assert_matches(stats, ref)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16], ids=["float32", "bfloat16"])
def test_a_block_with_a_nan_or_an_infinity_among_finite_ones_is_counted_exactly(dtype) -> None:
    # the fast paths skip the non-finite count when a block's sum is finite; a block with one
    # NaN, one +inf, or +inf and -inf together (whose sum is NaN) must still be counted exactly
    rng = np.random.default_rng(17)
    for specials in ([np.nan], [np.inf], [-np.inf], [np.inf, -np.inf], [np.nan, np.inf, -np.inf]):
        a = (rng.standard_normal(3 * BLOCK_ELEMENTS) * 0.1).astype(np.float32)
        a[BLOCK_ELEMENTS + 11 : BLOCK_ELEMENTS + 11 + len(specials)] = specials
        a[5] = -0.0
        a = a.astype(dtype)
        stats = array_stats("w", a)
        _assert_matches(stats, _reference(a))


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16], ids=["float32", "bfloat16"])
def test_one_chunk_of_a_non_finite_block_a_cancelling_block_and_a_short_tail_matches_numpy(dtype) -> None:
    # the fused fold settles finiteness, cancellation and Chan's combination for a chunk's blocks
    # together: one block all NaN, one a LayerNorm gain (1 + 1e-4 noise), one ordinary with zeros,
    # then a tail shorter than a row
    rng = np.random.default_rng(23)
    a = np.concatenate(
        [
            np.full(BLOCK_ELEMENTS, np.nan, np.float32),
            (1.0 + 1e-4 * rng.standard_normal(BLOCK_ELEMENTS)).astype(np.float32),
            (0.05 * rng.standard_normal(BLOCK_ELEMENTS)).astype(np.float32),
            (-2.0 - rng.random(100)).astype(np.float32),
        ]
    )
    a[2 * BLOCK_ELEMENTS + 10 : 2 * BLOCK_ELEMENTS + 50] = 0.0
    a = a.astype(dtype)
    for chunk in (None, BLOCK_ELEMENTS + 3):
        stats = array_stats("w", a, chunk_elements=chunk)
        ref = _reference(a)
        assert ref["nan"] == BLOCK_ELEMENTS and ref["zeros"] >= 40
        _assert_matches(stats, ref)


def test_float32_values_near_its_largest_sum_their_squares_without_overflow() -> None:
    # x^2 of a float32 near 3.4e38 overflows float32 (and a float32 dot product of them would be
    # inf), but is 1.2e77 in float64: the statistics must stay finite and exact
    big = np.finfo(np.float32).max
    a = np.array([big, -big, big / 3, 1.0, -0.0, 0.0] * 5000, dtype=np.float32)
    stats = array_stats("w", a)
    _assert_matches(stats, _reference(a))
    assert math.isfinite(stats.l2) and stats.nan == stats.posinf == stats.neginf == 0 and stats.zeros == 10000


def test_a_float32_chunk_after_a_float64_chunk_of_huge_values_keeps_the_scale() -> None:
    # a float64 chunk past 2**448 scales the moments; a float32 chunk after it must be folded
    # in the same units (the float32 path leaves such an accumulator to the generic fold)
    acc = StatsAccumulator("w", "float64", (6,))
    acc.update(np.array([1e300, -1e300, 3.0]))
    acc.update(np.array([1.0, 2.0, 4.0], dtype=np.float32))
    whole = np.array([1e300, -1e300, 3.0, 1.0, 2.0, 4.0])
    stats = acc.result()
    assert stats.mean == pytest.approx(whole.mean(), rel=1e-12, abs=1e-12)
    assert stats.std == pytest.approx((whole / 1e300).std() * 1e300, rel=1e-12)


def test_sum_of_squares_in_rows_equals_numpy_for_any_length() -> None:
    rng = np.random.default_rng(2)
    for n in (0, 1, 8191, 8192, 8193, 3 * 8192 + 17):
        x = rng.standard_normal(n)
        assert sum_of_squares(x) == pytest.approx(float(np.sum(x * x)), rel=1e-13, abs=0.0)


def test_narrow_floats_widen_into_a_reused_buffer_without_a_new_array() -> None:
    out = np.empty(16, np.float32)
    for dtype in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn):
        a = np.linspace(-3, 3, 10).astype(dtype)
        got = flat_native(a, out=out)
        assert np.shares_memory(got, out)
        assert np.array_equal(got, a.astype(np.float32))


def test_accumulator_accepts_chunks_of_any_shape() -> None:
    acc = StatsAccumulator("x", "float32", (2, 3))
    acc.update(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    acc.update(np.array([4.0, 5.0, 6.0], dtype=np.float32))
    stats = acc.result()
    assert stats.numel == 6 and stats.mean == pytest.approx(3.5) and stats.max == 6.0


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("model.layers.3.mlp.up_proj.weight", "model.layers.3.mlp.up_proj"),
        ("fc1.weight", "fc1"),
        ("dense_1/kernel:0", "dense_1"),
        ("stack/dense/kernel", "stack/dense"),
        ("stack/wide/vars/0", "stack/wide"),
        ("lm_head", "lm_head"),
    ],
)
def test_layer_of_names_the_layer_a_tensor_belongs_to(name: str, layer: str) -> None:
    assert layer_of(name) == layer


def test_layer_aggregates_combine_norms_maxima_and_nonfinite_counts_per_layer() -> None:
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((8, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    bias[1] = np.nan
    other = rng.standard_normal(6).astype(np.float16)
    tensors = [
        array_stats("fc2.weight", other),
        array_stats("fc1.weight", kernel),
        array_stats("fc1.bias", bias),
    ]
    agg = layer_aggregates(tensors)
    assert list(agg) == ["fc2", "fc1"]  # order of first appearance
    fc1 = agg["fc1"]
    both = np.concatenate([kernel.ravel(), bias[np.isfinite(bias)]]).astype(np.float64)
    assert fc1.numel == 36 and fc1.nonfinite == 1
    assert fc1.l2 == pytest.approx(np.linalg.norm(both), rel=1e-12)
    assert fc1.absmax == pytest.approx(np.abs(both).max())
    assert fc1.dtype == "float32"
    mixed = layer_aggregates([array_stats("x.a", kernel), array_stats("x.b", other)])["x"]
    assert mixed.dtype == "mixed"


def test_natural_order_puts_layer_2_before_layer_10() -> None:
    names = ["layers.10.w", "layers.2.w", "layers.1.w", "embed"]
    assert sorted(names, key=natural_key) == ["embed", "layers.1.w", "layers.2.w", "layers.10.w"]


def test_problem_summary_is_one_line_and_counts_the_rest() -> None:
    text = summarize_problems(["a\nb", "c", "d", "e", "f"])
    assert "\n" not in text and text.endswith("(+2 more)")


@example(tensors=[[0.0, 0.0, 1.0, 2.0**100, -(2.0**100)]])  # a mean lost to cancellation, in one order
@settings(max_examples=60, deadline=None)
@given(
    tensors=st.lists(
        st.lists(
            st.one_of(
                st.floats(width=32, min_value=-(2.0**100), max_value=2.0**100),
                st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
            ),
            max_size=40,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_small_tensors_folded_together_get_the_statistics_each_gets_alone(tensors: list[list[float]]) -> None:
    arrays = [np.array(t, dtype=np.float32) for t in tensors]
    names = [f"layer{i}.weight" for i in range(len(arrays))]
    together = small_tensors_stats(names, "float32", [a.shape for a in arrays], arrays)
    for name, a, got in zip(names, arrays, together, strict=True):
        alone = array_stats(name, a)
        for key in ("name", "layer", "dtype", "shape", "numel", "nan", "posinf", "neginf", "zeros", "min", "max"):
            g, w = getattr(got, key), getattr(alone, key)
            assert g == w or (isinstance(w, float) and math.isnan(g) and math.isnan(w)), key
        finite = np.abs(a[np.isfinite(a)].astype(np.float64))
        # two float64 sums of the same values in another order differ by up to n * eps * max|x|:
        # the mean of [1, 1.27e30, -1.27e30] is 1/3 summed pairwise and 0 summed in sequence
        order = finite.size * np.finfo(np.float64).eps * float(finite.max()) if finite.size else 0.0
        for key in ("absmax", "mean", "std", "l2"):
            g, w = getattr(got, key), getattr(alone, key)
            slack = 1e-12 + (order if key == "mean" else 0.0)
            assert g == pytest.approx(w, rel=1e-9, abs=slack) or (math.isnan(g) and math.isnan(w)), key


def test_small_tensors_of_bfloat16_bits_booleans_and_huge_float64_match_the_accumulator() -> None:
    bits = np.array([0x3F80, 0x7FC0, 0, 0xBF80, 0x7F80], dtype="<u2").view(BFLOAT16_BITS)
    huge = np.array([1e300, -1e300, 3.0])  # squares past float64: the careful path
    flags = np.array([True, False, True])
    for dtype, a in (("bfloat16", bits), ("float64", huge), ("bool", flags)):
        (got,) = small_tensors_stats(["w"], dtype, [a.shape], [a])
        want = StatsAccumulator("w", dtype, a.shape)
        want.update(a)
        w = want.result()
        for key in ("numel", "nan", "posinf", "neginf", "zeros", "min", "max", "absmax", "mean", "std", "l2"):
            g, r = getattr(got, key), getattr(w, key)
            assert g == pytest.approx(r, rel=1e-12) or (math.isnan(g) and math.isnan(r)), (dtype, key)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16], ids=["float32", "bfloat16"])
def test_the_fused_fold_through_einsum_as_on_numpy_1_gets_numpys_figures(dtype, monkeypatch) -> None:
    # numpy < 2 (which pyproject allows) has no vecdot: the row dot products go through einsum
    from forensics.readers import tensorstats

    monkeypatch.setattr(tensorstats, "_vecdot", tensorstats._einsum_vecdot)
    a = (np.random.default_rng(29).standard_normal(2 * BLOCK_ELEMENTS + 5) * 0.1).astype(np.float32)
    a[[7, BLOCK_ELEMENTS + 9]] = [np.nan, 0.0]
    a = a.astype(dtype)
    _assert_matches(array_stats("w", a), _reference(a))
