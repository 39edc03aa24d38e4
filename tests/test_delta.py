"""Per-layer update ||W_b - W_a|| / ||W_a|| between checkpoints written by torch, tf_keras and keras 3."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import ml_dtypes
import numpy as np
import pytest

from forensics.errors import UnreadableSource
from forensics.load import load_run
from forensics.readers import keras as keras_reader
from forensics.readers.delta import LayerDelta, checkpoint_deltas
from forensics.readers.safetensors import read_safetensors
from forensics.records import Checkpoint, Kind, Source

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
PAIRS = FIXTURES / "delta"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["delta"]
_NUMPY_OF = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I64": np.int64}


@pytest.fixture(scope="module")
def pairs() -> dict[str, Checkpoint]:
    """The fixture pairs as the loader reads them (steps, layers and all)."""
    run = load_run(PAIRS)
    return {c.source.path: c for c in run.checkpoints}


# ---------------------------------------------------------------- references: whole arrays, plain numpy


def _safetensors_whole(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, spec in header.items():
        begin, end = spec["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + begin : 8 + n + end], dtype=_NUMPY_OF[spec["dtype"]]).reshape(
            spec["shape"]
        )
    return out


def _reference(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], layer_of: dict[str, str]
) -> dict[str, tuple[float, float, int, int]]:
    """(delta_l2, base_l2, nonfinite, elements) per layer, from whole float arrays."""
    diffs: dict[str, list[np.ndarray]] = {}
    bases: dict[str, list[np.ndarray]] = {}
    bad: dict[str, int] = {}
    for name, x in a.items():
        y = b.get(name)
        if y is None or y.shape != x.shape or x.dtype.kind in "iub" or y.dtype.kind in "iub":
            continue
        x64, y64 = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
        ok = np.isfinite(x64) & np.isfinite(y64)
        layer = layer_of[name]
        diffs.setdefault(layer, []).append(y64[ok] - x64[ok])
        bases.setdefault(layer, []).append(x64[ok])
        bad[layer] = bad.get(layer, 0) + int((~ok).sum())
    return {
        layer: (
            float(np.linalg.norm(np.concatenate(diffs[layer]))),
            float(np.linalg.norm(np.concatenate(bases[layer]))),
            bad[layer],
            int(np.concatenate(bases[layer]).size),
        )
        for layer in diffs
    }


def _assert_matches(got: dict[str, LayerDelta], want: dict[str, tuple[float, float, int, int]]) -> None:
    compared = {layer: d for layer, d in got.items() if d.tensors}
    assert set(compared) == set(want)
    for layer, (delta, base, nonfinite, elements) in want.items():
        d = got[layer]
        assert d.delta_l2 == pytest.approx(delta, rel=1e-12, abs=1e-300), layer
        assert d.base_l2 == pytest.approx(base, rel=1e-12, abs=1e-300), layer
        assert (d.nonfinite, d.elements) == (nonfinite, elements), layer


def _keras_whole(path: Path) -> h5py.File:
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as zf:
            return h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    return h5py.File(path, "r")


# ---------------------------------------------------------------- real pairs


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("torch_step3.safetensors", "torch_step6.safetensors"),
        ("sharded_step3/model.safetensors.index.json", "sharded_step6/model.safetensors.index.json"),
    ],
)
def test_torch_update_per_layer_equals_numpy_on_the_whole_tensors(pairs, a: str, b: str) -> None:
    got = checkpoint_deltas(pairs[a], pairs[b], PAIRS)
    layer_of = {t.name: t.layer for t in pairs[b].tensors}
    want = _reference(
        _safetensors_whole(PAIRS / "torch_step3.safetensors"),
        _safetensors_whole(PAIRS / "torch_step6.safetensors"),
        layer_of,
    )
    _assert_matches(got, want)
    assert list(got) == ["0", "1", "3"]  # model order
    assert all(0 < d.relative < 1 for d in got.values())  # three SGD steps move, not rewrite, a layer


def test_a_bfloat16_head_is_compared_and_an_integer_counter_is_skipped(pairs) -> None:
    assert EXPECTED["torch"]["tensors"]["3.weight"][0] == "torch.bfloat16"
    got = checkpoint_deltas(pairs["torch_step3.safetensors"], pairs["torch_step6.safetensors"], PAIRS)
    assert got["3"].tensors == 2 and got["3"].skipped == ()
    assert got["1"].skipped == ("1.num_batches_tracked",)  # int64: not a weight that moves
    assert got["1"].tensors == 4  # weight, bias, running mean and variance


def test_a_sharded_set_gives_the_same_update_as_the_single_file(pairs) -> None:
    single = checkpoint_deltas(pairs["torch_step3.safetensors"], pairs["torch_step6.safetensors"], PAIRS)
    sharded = checkpoint_deltas(
        pairs["sharded_step3/model.safetensors.index.json"], pairs["sharded_step6/model.safetensors.index.json"], PAIRS
    )
    assert len(pairs["sharded_step3/model.safetensors.index.json"].shards) == 2
    assert sharded == single


def test_tf_keras_h5_update_equals_numpy_and_uses_the_readers_layer_names(pairs) -> None:
    a, b = pairs["keras2_step2.h5"], pairs["keras2_step4.h5"]
    got = checkpoint_deltas(a, b, PAIRS)
    whole = []
    for name in ("keras2_step2.h5", "keras2_step4.h5"):
        with _keras_whole(PAIRS / name) as f:
            whole.append(
                {f"{layer}/{w}": f[layer][layer][w][()] for layer in ("hidden", "out") for w in ("kernel:0", "bias:0")}
            )
    _assert_matches(got, _reference(*whole, {n: n.split("/")[0] for n in whole[0]}))
    assert list(got) == [t.layer for t in b.tensors][::2] == ["hidden", "out"]


def test_keras3_nan_weights_are_counted_and_left_out_of_both_sums(pairs) -> None:
    got = checkpoint_deltas(pairs["keras3_step1.keras"], pairs["keras3_step2.keras"], PAIRS)
    # the groups Keras 3 wrote: h -> layers/dense, out -> layers/dense_1
    whole = []
    for name in ("keras3_step1.keras", "keras3_step2.keras"):
        with _keras_whole(PAIRS / name) as f:
            whole.append(
                {
                    f"{layer}/vars/{i}": f[f"layers/{group}/vars/{i}"][()]
                    for layer, group in (("h", "dense"), ("out", "dense_1"))
                    for i in (0, 1)
                }
            )
    _assert_matches(got, _reference(*whole, {n: n.split("/")[0] for n in whole[0]}))
    # what keras itself counted at save time: kernel, bias of h, then of out
    kh, bh, ko, bo = EXPECTED["keras3"]["nonfinite_weights"]["2"]
    assert (got["h"].nonfinite, got["out"].nonfinite) == (kh + bh, ko + bo)
    assert got["h"].elements == 0 and math.isnan(got["h"].relative)  # nothing finite left to compare
    assert got["out"].elements == 1 and got["out"].relative > 0  # the one bias still finite


def test_how_tensors_are_cut_into_chunks_does_not_change_the_update(pairs) -> None:
    for a, b in (("torch_step3.safetensors", "torch_step6.safetensors"), ("keras2_step2.h5", "keras2_step4.h5")):
        whole = checkpoint_deltas(pairs[a], pairs[b], PAIRS)
        for chunk in (1, 3, 7):  # H5 blocks of whole rows, and of parts of a row
            cut = checkpoint_deltas(pairs[a], pairs[b], PAIRS, chunk_elements=chunk)
            for layer, d in whole.items():
                assert cut[layer].delta_l2 == pytest.approx(d.delta_l2, rel=1e-12)
                assert cut[layer].base_l2 == pytest.approx(d.base_l2, rel=1e-12)
                assert (cut[layer].tensors, cut[layer].elements) == (d.tensors, d.elements)


def test_a_checkpoint_against_itself_has_no_update(pairs) -> None:
    ckpt = pairs["keras2_step4.h5"]
    got = checkpoint_deltas(ckpt, ckpt, PAIRS)
    assert all(d.delta_l2 == 0.0 and d.relative == 0.0 and d.base_l2 > 0 for d in got.values())


def test_checkpoints_of_different_models_compare_nothing_and_skip_everything(pairs) -> None:
    got = checkpoint_deltas(pairs["torch_step3.safetensors"], pairs["keras2_step4.h5"], PAIRS)
    assert all(d.tensors == 0 and math.isnan(d.relative) for d in got.values())
    assert {n for d in got.values() for n in d.skipped} == {
        t.name for c in (pairs["torch_step3.safetensors"], pairs["keras2_step4.h5"]) for t in c.tensors
    }


# ---------------------------------------------------------------- hand-made files for the edge cases


def _write(path: Path, tensors: dict[str, np.ndarray]) -> Checkpoint:
    """A valid safetensors file (written here to cover dtypes safetensors.numpy cannot), read back."""
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(ml_dtypes.bfloat16): "BF16"}
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {
            "dtype": codes[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    return read_safetensors(path, Source(path.name, Kind.SAFETENSORS))


def test_tensors_missing_on_one_side_or_reshaped_are_skipped_and_the_rest_compared(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.safetensors",
        {"l.w": np.ones((3, 4), np.float32), "l.b": np.ones(4, np.float32), "gone.w": np.ones(2, np.float32)},
    )
    b = _write(
        tmp_path / "b.safetensors",
        {"l.w": np.ones((4, 4), np.float32), "l.b": np.full(4, 3, np.float32), "new.w": np.ones(2, np.float32)},
    )
    got = checkpoint_deltas(a, b, tmp_path)
    assert got["l"].skipped == ("l.w",) and got["l"].tensors == 1
    assert (got["l"].delta_l2, got["l"].base_l2) == (4.0, 2.0)  # |3-1| * 2 elements, over |1| * 2
    assert got["gone"].skipped == ("gone.w",) and got["new"].skipped == ("new.w",)


def test_a_bfloat16_copy_compares_with_its_float32_original(tmp_path: Path) -> None:
    w = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)
    a = _write(tmp_path / "a.safetensors", {"l.w": w})
    b = _write(tmp_path / "b.safetensors", {"l.w": w.astype(ml_dtypes.bfloat16)})
    got = checkpoint_deltas(a, b, tmp_path)["l"]
    rounded = w.astype(ml_dtypes.bfloat16).astype(np.float64)
    assert got.delta_l2 == pytest.approx(np.linalg.norm(rounded - w.astype(np.float64)), rel=1e-12)
    assert 0 < got.relative < 2**-8  # bfloat16 keeps 8 significant bits


def test_float64_weights_near_the_top_of_the_range_do_not_overflow_the_sums(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.safetensors", {"l.w": np.array([1e300, -1e300, 5.0])})
    b = _write(tmp_path / "b.safetensors", {"l.w": np.array([-1e300, 1e300, 5.0])})
    got = checkpoint_deltas(a, b, tmp_path)["l"]
    assert got.delta_l2 == pytest.approx(math.sqrt(8) * 1e300, rel=1e-12)
    assert got.base_l2 == pytest.approx(math.sqrt(2) * 1e300, rel=1e-12)
    assert got.relative == pytest.approx(2.0, rel=1e-12)


def test_inf_on_either_side_is_counted_once_per_element_pair(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.safetensors", {"l.w": np.array([np.inf, 1.0, np.nan, 2.0], np.float32)})
    b = _write(tmp_path / "b.safetensors", {"l.w": np.array([np.nan, -np.inf, 0.0, 4.0], np.float32)})
    got = checkpoint_deltas(a, b, tmp_path, chunk_elements=3)["l"]
    assert (got.nonfinite, got.elements, got.delta_l2, got.base_l2) == (3, 1, 2.0, 2.0)


def test_an_all_zero_layer_that_moved_has_an_infinite_relative_update(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.safetensors", {"l.b": np.zeros(3, np.float32)})
    b = _write(tmp_path / "b.safetensors", {"l.b": np.array([0, 0, 1], np.float32)})
    assert checkpoint_deltas(a, b, tmp_path)["l"].relative == math.inf


# ---------------------------------------------------------------- unreadable and damaged input


def test_a_checkpoint_whose_file_is_gone_is_unreadable_naming_it(tmp_path: Path, pairs) -> None:
    shutil.copy(PAIRS / "torch_step3.safetensors", tmp_path / "x.safetensors")
    a = read_safetensors(tmp_path / "x.safetensors", Source("x.safetensors", Kind.SAFETENSORS))
    (tmp_path / "x.safetensors").unlink()
    with pytest.raises(UnreadableSource, match=r"^x\.safetensors: cannot read"):
        checkpoint_deltas(a, a, tmp_path)


def test_an_h5_checkpoint_that_is_not_hdf5_is_unreadable_naming_it(tmp_path: Path, pairs) -> None:
    (tmp_path / "keras2_step2.h5").write_bytes(b"not an HDF5 file" * 10)
    shutil.copy(PAIRS / "keras2_step4.h5", tmp_path)
    with pytest.raises(UnreadableSource, match=r"^keras2_step2\.h5: not a readable HDF5 file"):
        checkpoint_deltas(pairs["keras2_step2.h5"], pairs["keras2_step4.h5"], tmp_path)


def test_a_file_that_crashes_the_hdf5_library_is_unreadable_and_the_process_survives() -> None:
    full = Checkpoint(Source("keras2_full.h5", Kind.KERAS_H5), "keras2_h5", None, None, None, ())
    crash = Checkpoint(Source("crashes_hdf5.h5", Kind.KERAS_H5), "keras2_h5", None, None, None, ())
    with pytest.raises(UnreadableSource, match=r"^crashes_hdf5\.h5: reading it crashed the HDF5 library \(SIGSEGV\)"):
        checkpoint_deltas(full, crash, FIXTURES)


def test_a_crash_on_one_tensor_skips_it_and_the_rest_is_still_compared(pairs, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = keras_reader.LocatedWeight.chunks

    def crash_on_hidden_bias(self, chunk_elements=None):
        if self.name == "hidden/bias:0":
            os.kill(os.getpid(), signal.SIGSEGV)  # in the forked child
        return chunks(self, chunk_elements)

    monkeypatch.setattr(keras_reader.LocatedWeight, "chunks", crash_on_hidden_bias)
    a, b = pairs["keras2_step2.h5"], pairs["keras2_step4.h5"]
    got = checkpoint_deltas(a, b, PAIRS)
    monkeypatch.undo()
    clean = checkpoint_deltas(a, b, PAIRS)
    assert got["hidden"].skipped == ("hidden/bias:0",) and got["hidden"].tensors == 1
    assert got["out"] == clean["out"]  # the child was started again past the crash


# ---------------------------------------------------------------- memory


def test_comparing_two_512_mib_tensors_stays_within_a_bounded_memory(tmp_path: Path) -> None:
    """Two sparse files, each declaring a 512 MiB F32 tensor of zeros: peak memory stays near
    a few chunks, far below one tensor (and the 4 GiB two float64 copies would take)."""
    numel = 128 * 1024 * 1024
    for name in ("a", "b"):
        header = json.dumps({"big.w": {"dtype": "F32", "shape": [numel], "data_offsets": [0, numel * 4]}}).encode()
        with open(tmp_path / f"{name}.safetensors", "wb") as fh:
            fh.write(struct.pack("<Q", len(header)) + header)
            fh.truncate(8 + len(header) + numel * 4)  # a hole: no disk used
    script = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from forensics.readers.delta import checkpoint_deltas
        from forensics.records import Checkpoint, Kind, Source
        root = Path({str(tmp_path)!r})
        a, b = (Checkpoint(Source(f"{{n}}.safetensors", Kind.SAFETENSORS), "safetensors", None, None, None, ())
                for n in "ab")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        d = checkpoint_deltas(a, b, root)["big"]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(d.elements, d.delta_l2, (after - before) * 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    elements, delta, rss_growth = out.stdout.split()
    assert int(elements) == numel and float(delta) == 0.0
    assert int(rss_growth) < 128 * 1024 * 1024


# ---------------------------------------------------------------- the layout kept from the read


def _located(path: Path) -> list[tuple[str, str, str, tuple[int, ...], str]]:
    archive = path.suffix == ".keras"
    with keras_reader.located_weights(path, archive=archive) as located:
        return [(w.name, w.layer, w.dtype, w.shape, w.path) for w in located]


@pytest.mark.parametrize(
    "name",
    ["keras2_full.h5", "keras2_weights.h5", "keras3_mixed.keras", "keras3_nested.keras", "keras3_nested.weights.h5"],
)
def test_weights_located_again_from_the_read_are_those_a_fresh_walk_finds(name: str) -> None:
    # the update ratio reads a checkpoint the worker has just read: its weights are found by the
    # paths that read walked to, not by walking the group tree again (most of a small file's time)
    path = FIXTURES / name
    keras_reader._LAYOUTS.clear()
    walked = _located(path)
    assert walked
    keras_reader._LAYOUTS.clear()
    read = keras_reader._read_keras_archive_here if path.suffix == ".keras" else keras_reader._read_keras_h5_here
    read(path, Source(name, Kind.KERAS_H5), None)
    assert len(keras_reader._LAYOUTS) == 1
    assert _located(path) == walked


def test_a_changed_file_is_walked_again(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    shutil.copy(FIXTURES / "keras2_full.h5", path)
    keras_reader._LAYOUTS.clear()
    before = _located(path)
    shutil.copy(FIXTURES / "keras3_nested.weights.h5", path)  # another inode, size and time: another file
    assert _located(path) == _located(FIXTURES / "keras3_nested.weights.h5") != before
    # the same identity with a tree that no longer holds those paths: walked again, not trusted
    keras_reader._LAYOUTS.clear()
    _located(path)
    ((identity, placed),) = keras_reader._LAYOUTS.items()
    keras_reader._LAYOUTS[identity] = tuple((n, la, d, s, "/no/such/path", v) for n, la, d, s, _, v in placed)
    assert _located(path) == _located(FIXTURES / "keras3_nested.weights.h5")


@pytest.mark.parametrize("name", ["keras2_full.h5", "keras3_mixed.keras", "keras3_nested.weights.h5"])
@pytest.mark.parametrize("chunk_elements", [None, 7])
def test_weights_kept_from_the_read_give_the_data_a_fresh_read_gives(name: str, chunk_elements: int | None) -> None:
    """A small file's model weights are kept from its read for the update ratio: block for block
    the data equals what reading the file again gives, whatever the block size asked."""
    path = FIXTURES / name
    keras_reader._LAYOUTS.clear()
    keras_reader._KEPT.clear()
    with keras_reader.located_weights(path, archive=path.suffix == ".keras") as located:
        fresh = [[c.copy() for c in w.chunks(chunk_elements)] for w in located]
        assert all(w.data is None for w in located)
    read = keras_reader._read_keras_archive_here if path.suffix == ".keras" else keras_reader._read_keras_h5_here
    read(path, Source(name, Kind.KERAS_H5), None)
    assert len(keras_reader._KEPT) == 1
    with keras_reader.located_weights(path, archive=path.suffix == ".keras") as located:
        assert all(w.data is not None and w.dataset is None for w in located)
        kept = [list(w.chunks(chunk_elements)) for w in located]
    assert len(kept) == len(fresh)
    for a, b in zip(kept, fresh, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def test_kept_weights_stay_within_their_budget_and_a_changed_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "weights.h5"
    shutil.copy(FIXTURES / "keras2_full.h5", path)
    keras_reader._LAYOUTS.clear()
    keras_reader._KEPT.clear()
    monkeypatch.setattr(keras_reader, "MAX_KEPT_BYTES", 16)  # smaller than any file's weights
    keras_reader._read_keras_h5_here(path, Source("weights.h5", Kind.KERAS_H5), None)
    assert not keras_reader._KEPT and len(keras_reader._LAYOUTS) == 1
    monkeypatch.undo()
    keras_reader._read_keras_h5_here(path, Source("weights.h5", Kind.KERAS_H5), None)
    assert len(keras_reader._KEPT) == 1
    shutil.copy(FIXTURES / "keras3_nested.weights.h5", path)  # another file under the same name
    with keras_reader.located_weights(path, archive=False) as located:
        assert all(w.data is None for w in located)
        assert [w.path for w in located] == [p for *_, p in _located_paths(FIXTURES / "keras3_nested.weights.h5")]


def _located_paths(path: Path) -> list[tuple[str, str]]:
    with keras_reader.located_weights(path, archive=False) as located:
        return [(w.name, w.path) for w in located]
