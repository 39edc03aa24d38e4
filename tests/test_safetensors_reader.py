"""safetensors reader: real files from safetensors.torch / .numpy / huggingface_hub, and broken bytes."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from forensics.errors import UnreadableSource
from forensics.readers.safetensors import read_safetensors, read_safetensors_index
from forensics.records import Kind, Source, Status

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
TORCH_TO_NAME = {"torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16"}
NUMPY_OF = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _src(name: str, kind: Kind = Kind.SAFETENSORS) -> Source:
    return Source(path=name, kind=kind)


def _read(path: Path, **kw: Any):
    return read_safetensors(path, _src(path.name), **kw)


def _load_whole(path: Path) -> dict[str, np.ndarray]:
    """Every tensor loaded whole, by a plain reading of the format (the reference, not the reader)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, spec in header.items():
        begin, end = spec["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + begin : 8 + n + end], dtype=NUMPY_OF[spec["dtype"]]).reshape(
            spec["shape"]
        )
    return out


def _write(path: Path, header: Any, data: bytes = b"", *, length: int | None = None) -> Path:
    """A safetensors file from a header (dict, or raw bytes) and a data section."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if length is None else length) + blob + data)
    return path


# ---------------------------------------------------------------- real files


def test_torch_written_file_lists_every_tensor_with_its_dtype_and_shape() -> None:
    ckpt = _read(FIXTURES / "torch_mixed.safetensors")
    assert ckpt.source.status is Status.OK and ckpt.source.note is None
    assert ckpt.format == "safetensors"
    want = EXPECTED["torch_mixed.safetensors"]
    got = {t.name: (t.dtype, list(t.shape)) for t in ckpt.tensors}
    assert got == {name: (TORCH_TO_NAME[dt], shape) for name, (dt, shape) in want.items()}
    assert [t.name for t in ckpt.tensors] == ["broken.weight", "emb.weight", "fc1.bias", "fc1.weight", "fc2.weight"]
    assert ckpt.tensors[3].layer == "fc1"


def test_step_stored_in_metadata_is_taken_as_internal_and_metadata_is_kept() -> None:
    ckpt = _read(FIXTURES / "torch_mixed.safetensors")
    assert (ckpt.step, ckpt.step_origin, ckpt.epoch) == (1200, "internal", None)
    assert ckpt.metadata == {"format": "pt", "step": "1200"}
    assert ckpt.model is not None and ckpt.model.framework == "pytorch"
    ints = _read(FIXTURES / "numpy_ints.safetensors")
    assert (ints.step, ints.step_origin) == (77, "internal")
    fp8 = _read(FIXTURES / "fp8.safetensors")
    assert (fp8.step, fp8.step_origin) == (None, None)


@pytest.mark.parametrize("fixture", ["torch_mixed.safetensors", "fp8.safetensors", "numpy_ints.safetensors"])
def test_streamed_stats_equal_numpy_on_the_fully_loaded_tensors(fixture: str) -> None:
    whole = _load_whole(FIXTURES / fixture)
    ckpt = _read(FIXTURES / fixture, chunk_elements=5)  # several chunks per tensor
    assert {t.name for t in ckpt.tensors} == set(whole)
    for t in ckpt.tensors:
        x = whole[t.name].astype(np.float64).ravel()
        finite = x[np.isfinite(x)]
        assert (t.numel, t.nan, t.posinf, t.neginf, t.zeros) == (
            x.size,
            int(np.isnan(x).sum()),
            int((x == np.inf).sum()),
            int((x == -np.inf).sum()),
            int((x == 0).sum()),
        ), t.name
        assert (t.min, t.max, t.absmax) == (finite.min(), finite.max(), np.abs(finite).max()), t.name
        assert t.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-12), t.name
        assert t.std == pytest.approx(finite.std(), rel=1e-9, abs=1e-12), t.name
        assert t.l2 == pytest.approx(np.linalg.norm(finite), rel=1e-9), t.name


def test_injected_nan_inf_and_zeros_are_counted() -> None:
    ckpt = _read(FIXTURES / "torch_mixed.safetensors", chunk_elements=4)
    broken = next(t for t in ckpt.tensors if t.name == "broken.weight")
    # the generator set 2 NaN, +inf, -inf and 5 zeros in a 64-element randn tensor
    assert (broken.nan, broken.posinf, broken.neginf, broken.zeros) == (2, 1, 1, 5)
    assert broken.finite == 60


def test_fp8_tensors_keep_their_format_names_and_special_values() -> None:
    ckpt = _read(FIXTURES / "fp8.safetensors", chunk_elements=3)
    by_name = {t.name: t for t in ckpt.tensors}
    assert by_name["q.weight"].dtype == "float8_e4m3fn" and by_name["q.weight"].nan >= 1
    k = by_name["k.weight"]
    assert k.dtype == "float8_e5m2" and (k.posinf, k.neginf) == (1, 1) and k.nan >= 1


def test_numpy_written_integer_and_bool_tensors_are_read() -> None:
    ckpt = _read(FIXTURES / "numpy_ints.safetensors")
    dtypes = {t.name: t.dtype for t in ckpt.tensors}
    assert dtypes == {
        "f64": "float64",
        "i64": "int64",
        "i32": "int32",
        "i16": "int16",
        "i8": "int8",
        "u8": "uint8",
        "u16": "uint16",
        "u32": "uint32",
        "u64": "uint64",
        "mask": "bool",
    }
    mask = next(t for t in ckpt.tensors if t.name == "mask")
    assert mask.mean == pytest.approx((mask.numel - mask.zeros) / mask.numel)


# ---------------------------------------------------------------- broken headers and entries


def test_header_length_larger_than_the_file_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.safetensors", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)
    path.write_bytes(struct.pack("<Q", 10_000) + path.read_bytes()[8:])
    with pytest.raises(UnreadableSource, match=r"header length 10000 bytes exceeds the file size"):
        _read(path)


def test_header_length_over_the_format_limit_is_refused_before_reading_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.safetensors", b"{}", length=2**40)
    with pytest.raises(UnreadableSource, match="exceeds the format's"):
        _read(path)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "a": {}}', "names 'a' twice"),
    ],
)
def test_a_header_that_cannot_be_trusted_makes_the_file_unreadable(tmp_path: Path, header: bytes, reason: str) -> None:
    with pytest.raises(UnreadableSource, match=reason):
        _read(_write(tmp_path / "x.safetensors", header))


def test_file_shorter_than_the_length_field_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(UnreadableSource, match="shorter than the 8-byte header length"):
        _read(path)


def _good(offset: int = 0) -> dict[str, Any]:
    return {"dtype": "F32", "shape": [2], "data_offsets": [offset, offset + 8]}


def test_overlapping_entries_are_both_dropped_and_the_rest_is_read(tmp_path: Path) -> None:
    data = np.array([1, 2, 3, 4, 5, 6], dtype=np.float32).tobytes()
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        "c": {"dtype": "F32", "shape": [3], "data_offsets": [12, 24]},
    }
    ckpt = _read(_write(tmp_path / "x.safetensors", header, data))
    assert ckpt.source.status is Status.PARTIAL
    assert "overlaps" in ckpt.source.note and "'a'" in ckpt.source.note and "'b'" in ckpt.source.note
    assert [t.name for t in ckpt.tensors] == ["c"]
    assert ckpt.tensors[0].max == 6.0


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"dtype": "F32", "shape": [3], "data_offsets": [8, 16]}, "8 data bytes, but shape [3] of F32 needs 12"),
        ({"dtype": "Q7", "shape": [2], "data_offsets": [8, 16]}, "unknown dtype 'Q7'"),
        ({"dtype": "F4", "shape": [2], "data_offsets": [8, 16]}, "dtype F4 is not supported"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 400]}, "outside the 16-byte data section"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [8, 16]}, "shape is not a list of non-negative integers"),
        ({"dtype": "F32", "shape": [2]}, "data_offsets is not a pair of integers"),
        ("F32", "entry is not an object"),
    ],
)
def test_an_invalid_entry_makes_the_file_partial_with_a_one_line_reason(
    tmp_path: Path, entry: Any, reason: str
) -> None:
    data = np.array([1, 2, 3, 4], dtype=np.float32).tobytes()
    ckpt = _read(_write(tmp_path / "x.safetensors", {"ok": _good(0), "bad": entry}, data))
    assert ckpt.source.status is Status.PARTIAL
    assert reason in ckpt.source.note and "'bad'" in ckpt.source.note and "\n" not in ckpt.source.note
    assert [t.name for t in ckpt.tensors] == ["ok"]


def test_a_file_whose_every_entry_is_invalid_is_unreadable(tmp_path: Path) -> None:
    header = {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}
    with pytest.raises(UnreadableSource, match="no tensor entry is valid: 'x'"):
        _read(_write(tmp_path / "x.safetensors", header, b"\0" * 8))


def test_truncated_file_keeps_the_tensors_before_the_cut(tmp_path: Path) -> None:
    original = (FIXTURES / "torch_mixed.safetensors").read_bytes()
    whole = _read(FIXTURES / "torch_mixed.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(original[: len(original) - 100])
    ckpt = _read(cut)
    assert ckpt.source.status is Status.PARTIAL and "outside the" in ckpt.source.note
    assert 0 < len(ckpt.tensors) < len(whole.tensors)
    kept = {t.name: t for t in whole.tensors}
    for t in ckpt.tensors:
        assert t == kept[t.name]


def test_empty_safetensors_file_is_ok_with_no_tensors(tmp_path: Path) -> None:
    ckpt = _read(_write(tmp_path / "x.safetensors", {"__metadata__": {"format": "pt"}}))
    assert ckpt.source.status is Status.OK and ckpt.tensors == ()


def test_metadata_that_is_not_a_string_map_is_ignored_with_a_note(tmp_path: Path) -> None:
    data = np.zeros(2, np.float32).tobytes()
    ckpt = _read(_write(tmp_path / "x.safetensors", {"__metadata__": {"step": 5}, "w": _good(0)}, data))
    assert ckpt.source.status is Status.PARTIAL and "__metadata__" in ckpt.source.note
    assert ckpt.step is None and [t.name for t in ckpt.tensors] == ["w"]


# ---------------------------------------------------------------- sharded sets


def _index_source() -> Source:
    return _src("sharded/model.safetensors.index.json", Kind.SAFETENSORS_INDEX)


def test_sharded_set_reads_as_one_checkpoint_across_its_shards() -> None:
    ckpt = read_safetensors_index(FIXTURES / "sharded" / "model.safetensors.index.json", _index_source(), FIXTURES)
    want = EXPECTED["sharded"]
    assert ckpt.source.status is Status.OK
    assert {t.name: list(t.shape) for t in ckpt.tensors} == want["tensors"]
    assert [t.name for t in ckpt.tensors] == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    assert ckpt.shards == tuple(f"sharded/{s}" for s in want["shards"])
    assert (ckpt.step, ckpt.step_origin) == (500, "internal")
    assert ckpt.format == "safetensors"


def _copy_sharded(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "sharded", run / "ckpt")
    return run


def test_index_naming_a_missing_shard_is_partial_and_names_it(tmp_path: Path) -> None:
    run = _copy_sharded(tmp_path)
    missing = EXPECTED["sharded"]["shards"][0]
    (run / "ckpt" / missing).unlink()
    ckpt = read_safetensors_index(run / "ckpt" / "model.safetensors.index.json", _index_source(), run)
    assert ckpt.source.status is Status.PARTIAL
    assert f"shard '{missing}' is missing" in ckpt.source.note
    index = json.loads((run / "ckpt" / "model.safetensors.index.json").read_text())
    kept = {n for n, s in index["weight_map"].items() if s != missing}
    assert {t.name for t in ckpt.tensors} == kept
    assert f"ckpt/{missing}" in ckpt.shards


def test_index_whose_shards_are_all_missing_is_unreadable(tmp_path: Path) -> None:
    run = _copy_sharded(tmp_path)
    for shard in EXPECTED["sharded"]["shards"]:
        (run / "ckpt" / shard).unlink()
    with pytest.raises(UnreadableSource, match="no shard could be read"):
        read_safetensors_index(run / "ckpt" / "model.safetensors.index.json", _index_source(), run)


def test_index_naming_a_path_outside_the_run_directory_is_refused(tmp_path: Path) -> None:
    run = _copy_sharded(tmp_path)
    outside = tmp_path / "secret.safetensors"
    shutil.copy(FIXTURES / "torch_mixed.safetensors", outside)
    index_path = run / "ckpt" / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["fc1.weight"] = "../../secret.safetensors"
    index["weight_map"]["fc2.weight"] = str(outside)  # an absolute path too
    index_path.write_text(json.dumps(index))
    ckpt = read_safetensors_index(index_path, _index_source(), run)
    assert ckpt.source.status is Status.PARTIAL
    assert "lies outside the run directory: refused" in ckpt.source.note
    assert not {"fc1.weight", "fc2.weight", "emb.weight"} & {t.name for t in ckpt.tensors}
    assert all(not s.startswith("..") and not s.startswith("/") for s in ckpt.shards)


def test_symlinked_shard_pointing_outside_the_run_directory_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURES / "torch_mixed.safetensors", tmp_path / "elsewhere.safetensors")
    (run / "link.safetensors").symlink_to(tmp_path / "elsewhere.safetensors")
    index_path = _write_index(run, {"fc1.weight": "link.safetensors"})
    with pytest.raises(UnreadableSource, match="outside the run directory"):
        read_safetensors_index(index_path, _index_source(), run)


def _write_index(run: Path, weight_map: dict[str, str]) -> Path:
    path = run / "model.safetensors.index.json"
    path.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{", "not valid JSON"), ('{"weight_map": []}', "no weight_map object"), ("[]", "no weight_map object")],
)
def test_an_index_that_is_not_an_index_is_unreadable(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "model.safetensors.index.json"
    path.write_text(text)
    with pytest.raises(UnreadableSource, match=reason):
        read_safetensors_index(path, _index_source(), tmp_path)


# ---------------------------------------------------------------- memory


def test_stats_of_a_1_gib_tensor_stay_within_a_bounded_memory(tmp_path: Path) -> None:
    """A sparse file declaring a 1 GiB F32 tensor of zeros: peak memory stays near the chunk size,
    far below the tensor (and the 2 GiB a float64 copy of it would take)."""
    numel = 256 * 1024 * 1024  # 1 GiB of float32
    header = json.dumps({"big": {"dtype": "F32", "shape": [numel], "data_offsets": [0, numel * 4]}}).encode()
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.truncate(8 + len(header) + numel * 4)  # a hole: no disk used
    script = textwrap.dedent(
        f"""
        import resource, tracemalloc
        from pathlib import Path
        from forensics.readers.safetensors import read_safetensors
        from forensics.records import Kind, Source
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        ckpt = read_safetensors(Path({str(path)!r}), Source("big.safetensors", Kind.SAFETENSORS))
        peak = tracemalloc.get_traced_memory()[1]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = ckpt.tensors[0]
        print(t.numel, t.zeros, t.l2, peak, (after - before) * 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    numel_read, zeros, l2, traced_peak, rss_growth = out.stdout.split()
    assert int(numel_read) == numel and int(zeros) == numel and float(l2) == 0.0
    bound = 128 * 1024 * 1024  # a few chunks, far below the 1 GiB tensor
    assert int(traced_peak) < bound
    assert int(rss_growth) < bound
