"""Keras reader: H5 and .keras files written by tf_keras and keras 3, and broken ones."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import h5py
import ml_dtypes
import numpy as np
import pytest

from forensics.errors import UnreadableSource
from forensics.readers import isolation
from forensics.readers import keras as keras_reader
from forensics.readers.keras import read_keras_archive, read_keras_h5
from forensics.records import Kind, Source, Status

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def _h5(path: Path, **kw):
    return read_keras_h5(path, Source(path.name, Kind.KERAS_H5), **kw)


def _archive(path: Path, **kw):
    return read_keras_archive(path, Source(path.name, Kind.KERAS_ARCHIVE), **kw)


def _layer(keras_path: str) -> str:
    """``stack/wide/kernel`` (a Keras 3 variable path) -> ``stack/wide``."""
    return keras_path.rsplit("/", 1)[0]


# ---------------------------------------------------------------- Keras 2


def test_keras2_full_model_h5_gives_weights_in_model_order_with_names_and_shapes() -> None:
    ckpt = _h5(FIXTURES / "keras2_full.h5")
    assert ckpt.format == "keras2_h5" and ckpt.source.status is Status.OK
    want = EXPECTED["keras2_full.h5"]["weights"]
    assert [[t.name, list(t.shape)] for t in ckpt.tensors] == want
    assert [t.layer for t in ckpt.tensors] == ["hidden", "hidden", "probs", "probs"]
    assert all(t.dtype == "float32" and t.nonfinite == 0 for t in ckpt.tensors)


def test_keras2_full_model_h5_says_what_the_model_config_and_optimizer_state_say() -> None:
    ckpt = _h5(FIXTURES / "keras2_full.h5")
    want = EXPECTED["keras2_full.h5"]
    info = ckpt.model
    assert info is not None and info.framework == "keras2"
    assert (info.output_units, info.output_activation) == (3, "softmax")
    assert info.loss == "sparse_categorical_crossentropy"
    assert info.optimizer == "adam"
    assert info.learning_rate == pytest.approx(want["learning_rate"])
    assert info.iterations == want["iterations"] == 8
    assert (ckpt.step, ckpt.step_origin, ckpt.epoch) == (8, "internal", None)
    assert [(layer.name, layer.class_name, layer.units) for layer in info.layers] == [
        ("hidden", "Dense", 8),
        ("probs", "Dense", 3),
    ]
    assert info.dtype_policy == "float32"


def test_keras2_optimizer_slots_go_to_optimizer_tensors() -> None:
    ckpt = _h5(FIXTURES / "keras2_full.h5")
    names = [t.name for t in ckpt.optimizer_tensors]
    assert names[0] == "iteration:0"
    assert {"Adam/m/hidden/kernel:0", "Adam/v/probs/bias:0"} <= set(names)
    assert len(names) == 1 + 2 * len(ckpt.tensors)  # iteration + m and v per weight
    assert not {t.name for t in ckpt.tensors} & set(names)


def test_keras2_weights_only_h5_of_a_nested_model_names_layers_inside_their_parent() -> None:
    ckpt = _h5(FIXTURES / "keras2_weights.h5")
    assert ckpt.format == "keras2_weights_h5" and ckpt.source.status is Status.OK
    assert [[t.name, list(t.shape)] for t in ckpt.tensors] == EXPECTED["keras2_weights.h5"]["weights"]
    assert [t.layer for t in ckpt.tensors] == ["trunk/d1"] * 2 + ["trunk/d2"] * 2 + ["head"] * 2
    assert ckpt.optimizer_tensors == () and ckpt.step is None
    assert ckpt.model is not None and ckpt.model.framework == "keras2"


# ---------------------------------------------------------------- Keras 3


def test_keras3_weights_h5_gives_nested_layers_by_their_real_names_in_model_order() -> None:
    ckpt = _h5(FIXTURES / "keras3_nested.weights.h5")
    want = EXPECTED["keras3_nested"]["weights"]
    assert ckpt.format == "keras3_weights_h5" and ckpt.source.status is Status.OK
    assert [t.layer for t in ckpt.tensors] == [_layer(path) for path, _, _ in want]
    assert [list(t.shape) for t in ckpt.tensors] == [shape for _, shape, _ in want]
    assert [t.dtype for t in ckpt.tensors] == [dtype for _, _, dtype in want]
    assert ckpt.tensors[0].name == "stack/wide/vars/0"


def test_keras3_weights_h5_keeps_optimizer_iterations_and_learning_rate() -> None:
    ckpt = _h5(FIXTURES / "keras3_nested.weights.h5")
    want = EXPECTED["keras3_nested"]
    assert len(ckpt.optimizer_tensors) == want["optimizer_variables"]
    assert ckpt.model is not None
    assert ckpt.model.iterations == want["iterations"] == 4
    assert ckpt.model.learning_rate == pytest.approx(want["learning_rate"])
    assert (ckpt.step, ckpt.step_origin) == (4, "internal")


def test_keras_archive_reads_weights_and_config_from_inside_the_zip() -> None:
    ckpt = _archive(FIXTURES / "keras3_nested.keras")
    want = EXPECTED["keras3_nested"]
    assert ckpt.format == "keras_archive" and ckpt.source.status is Status.OK
    assert [t.layer for t in ckpt.tensors] == [_layer(path) for path, _, _ in want["weights"]]
    info = ckpt.model
    assert info is not None and info.framework == "keras3"
    assert (info.output_units, info.output_activation) == (2, "sigmoid")
    assert info.loss == "binary_crossentropy"
    assert info.optimizer == "sgd"
    assert info.learning_rate == pytest.approx(want["learning_rate"])
    assert info.iterations == 4
    assert [layer.name for layer in info.layers] == ["stack/wide", "stack/narrow", "act", "block", "head"]


def test_keras_archive_and_its_weights_file_agree_tensor_by_tensor() -> None:
    from_zip = _archive(FIXTURES / "keras3_nested.keras")
    from_h5 = _h5(FIXTURES / "keras3_nested.weights.h5")
    assert from_zip.tensors == from_h5.tensors


def test_keras_archive_is_read_without_writing_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.keras"
    shutil.copy(FIXTURES / "keras3_nested.keras", path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the archive must not be extracted")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    _archive(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_nan_weights_after_an_absurd_learning_rate_are_counted_per_tensor() -> None:
    ckpt = _archive(FIXTURES / "keras3_nan.keras")
    want = EXPECTED["keras3_nan.keras"]
    assert sum(t.nonfinite for t in ckpt.tensors) == want["nonfinite"]
    assert [t.nonfinite for t in ckpt.tensors] == [n for _, n in want["weights"]]
    dead = [t for t in ckpt.tensors if t.finite == 0]
    assert dead and all(math.isnan(t.mean) and t.l2 == 0.0 for t in dead)
    assert ckpt.model is not None and ckpt.model.learning_rate == pytest.approx(1e12, rel=1e-6)
    assert ckpt.model.loss == "mse" and ckpt.model.output_activation == "linear"
    assert ckpt.step == want["iterations"]


def test_mixed_precision_loss_scale_optimizer_reports_the_inner_step_count_and_learning_rate() -> None:
    ckpt = _archive(FIXTURES / "keras3_mixed.keras")
    want = EXPECTED["keras3_mixed.keras"]
    assert want["optimizer"] == "LossScaleOptimizer"
    assert ckpt.model is not None and ckpt.model.dtype_policy == "mixed_float16"
    assert ckpt.model.iterations == want["iterations"] > 0
    assert ckpt.model.learning_rate == pytest.approx(want["learning_rate"])
    assert ckpt.step == want["iterations"]


@pytest.mark.parametrize(
    ("fixture", "where"),
    [
        (
            "keras2_full.h5",
            {
                "hidden/kernel:0": "model_weights/hidden/hidden/kernel:0",
                "probs/bias:0": "model_weights/probs/probs/bias:0",
            },
        ),
        (
            "keras3_nested.weights.h5",
            {  # Keras 3 names groups after the class; the reader names tensors after the layer
                "stack/wide/vars/0": "layers/sequential/layers/dense/vars/0",
                "stack/narrow/vars/0": "layers/sequential/layers/dense_1/vars/0",  # bfloat16
                "block/inner_a/vars/0": "layers/block/a/vars/0",
                "head/vars/0": "layers/dense/vars/0",
            },
        ),
    ],
)
def test_streamed_h5_stats_equal_numpy_on_the_whole_dataset(fixture: str, where: dict[str, str]) -> None:
    ckpt = _h5(FIXTURES / fixture, chunk_elements=3)  # row blocks and sub-row blocks
    by_name = {t.name: t for t in ckpt.tensors}
    with h5py.File(FIXTURES / fixture, "r") as f:
        for name, h5_path in where.items():
            ds = f[h5_path]
            data = ds[()]
            if ds.attrs.get("dtype") == "bfloat16":
                data = data.view(ml_dtypes.bfloat16)
            x = np.asarray(data).astype(np.float64).ravel()
            t = by_name[name]
            assert t.numel == x.size and t.shape == ds.shape
            assert (t.min, t.max, t.zeros) == (x.min(), x.max(), int((x == 0).sum()))
            assert t.mean == pytest.approx(x.mean(), rel=1e-9, abs=1e-12)
            assert t.std == pytest.approx(x.std(), rel=1e-9, abs=1e-12)
            assert t.l2 == pytest.approx(np.linalg.norm(x), rel=1e-9)


def _numeric_datasets(f: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    f.visititems(lambda _, o: found.append(o) if isinstance(o, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("limit", [1, 3, 7])
@pytest.mark.parametrize("fixture", ["keras2_full.h5", "keras3_nested.weights.h5"])
def test_blocks_read_from_a_map_of_the_file_are_the_bytes_and_cuts_libhdf5_gives(fixture: str, limit: int) -> None:
    # Keras writes contiguous datasets, so every weight larger than a block is read from the map
    # (Keras 3's bfloat16 too, opaque 2-byte values); the blocks, row runs and pieces of a row
    # alike, must be libhdf5's byte for byte
    mapped = 0
    with h5py.File(FIXTURES / fixture, "r") as f:
        for ds in _numeric_datasets(f):
            typed = keras_reader._tensor_dtype(ds)
            if typed is None or ds.shape is None or ds.size <= limit:
                continue
            view, shape = typed[0], tuple(ds.shape)
            blocks = keras_reader._mapped_blocks(ds, view, shape, limit)
            assert blocks is not None, ds.name
            got = [b.copy() for b in blocks]
            want = [np.asarray(ds[sel]).view(view) for sel in keras_reader._blocks(shape, limit)]
            assert [(g.shape, g.dtype, g.tobytes()) for g in got] == [(w.shape, w.dtype, w.tobytes()) for w in want]
            mapped += 1
    assert mapped >= 4


def test_datasets_not_stored_as_they_are_read_go_through_libhdf5(tmp_path: Path) -> None:
    # chunked and compressed, or in a file cut short: no map; the compressed one reads as it is
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((40, 30)).astype(np.float32)
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("packed", data=kernel, chunks=(8, 30), compression="gzip")
        f.create_dataset("plain", data=kernel)
    with h5py.File(path, "r") as f:
        assert keras_reader._mapped_blocks(f["packed"], np.dtype(np.float32), (40, 30), 100) is None
        assert keras_reader._mapped_blocks(f["plain"], np.dtype(np.float32), (40, 30), 100) is not None
        blocks = [b.copy() for b in keras_reader._dataset_chunks(f["packed"], np.dtype(np.float32), (40, 30), 100)]
        assert np.array_equal(np.concatenate([b.reshape(-1) for b in blocks]), kernel.reshape(-1))
        # cut short while open (libhdf5 will not open a file already cut): its bytes are not all there
        os.truncate(path, f["plain"].id.get_offset() + kernel.nbytes // 2)
        assert keras_reader._mapped_blocks(f["plain"], np.dtype(np.float32), (40, 30), 100) is None


# ---------------------------------------------------------------- broken and hostile files


def test_truncated_h5_is_unreadable_with_a_one_line_reason(tmp_path: Path) -> None:
    data = (FIXTURES / "keras2_full.h5").read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableSource, match="HDF5") as info:
        _h5(path)
    assert "\n" not in str(info.value)


def test_h5_with_a_flipped_signature_is_unreadable(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "keras2_full.h5").read_bytes())
    data[0:8] = b"\x00" * 8
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableSource, match="not a readable HDF5 file"):
        _h5(path)


@pytest.mark.parametrize("fixture", ["keras2_full.h5", "keras3_nested.weights.h5"])
def test_flipped_bytes_anywhere_give_a_checkpoint_or_a_clear_refusal_never_a_crash(
    tmp_path: Path, fixture: str
) -> None:
    original = (FIXTURES / fixture).read_bytes()
    rng = np.random.default_rng(11)
    path = tmp_path / fixture
    outcomes: dict[str, int] = {}
    for offset in rng.integers(0, len(original), size=40):
        data = bytearray(original)
        data[int(offset) : int(offset) + 4] = bytes(rng.integers(0, 256, size=4, dtype=np.uint8))
        path.write_bytes(bytes(data))
        try:
            ckpt = _h5(path)
        except UnreadableSource as e:
            assert str(e) and "\n" not in str(e)
            outcomes["unreadable"] = outcomes.get("unreadable", 0) + 1
        else:
            assert ckpt.source.status in (Status.OK, Status.PARTIAL)
            key = str(ckpt.source.status)
            outcomes[key] = outcomes.get(key, 0) + 1
    assert sum(outcomes.values()) == 40  # every corruption ended in a documented outcome


def test_h5_without_any_keras_layout_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 3))
    with pytest.raises(UnreadableSource, match=r"no Keras weights layout found \(top-level groups: images\)"):
        _h5(path)


def test_external_links_inside_an_h5_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["data"] = np.arange(4.0)
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"] = np.ones((2, 2), dtype=np.float32)
        f["layers/dense/vars/1"] = h5py.ExternalLink(str(secret), "/data")
    ckpt = _h5(path)
    assert ckpt.source.status is Status.PARTIAL and "ExternalLink not followed" in ckpt.source.note
    assert [t.name for t in ckpt.tensors] == ["dense/vars/0"]


def test_keras2_layer_listed_but_missing_makes_the_file_partial(tmp_path: Path) -> None:
    path = tmp_path / "w.h5"
    shutil.copy(FIXTURES / "keras2_weights.h5", path)
    with h5py.File(path, "a") as f:
        del f["head"]
    ckpt = _h5(path)
    assert ckpt.source.status is Status.PARTIAL and "layer 'head' is listed but has no group" in ckpt.source.note
    assert [t.layer for t in ckpt.tensors] == ["trunk/d1"] * 2 + ["trunk/d2"] * 2


def test_not_a_zip_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(UnreadableSource, match="not a readable zip archive"):
        _archive(path)


def test_archive_without_weights_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(UnreadableSource, match=r"archive holds no model\.weights\.h5"):
        _archive(path)


def _recompressed(tmp_path: Path) -> Path:
    path = tmp_path / "deflated.keras"
    with zipfile.ZipFile(FIXTURES / "keras3_nested.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    return path


def test_compressed_archive_reads_the_same_as_a_stored_one(tmp_path: Path) -> None:
    ckpt = _archive(_recompressed(tmp_path))
    assert ckpt.tensors == _archive(FIXTURES / "keras3_nested.keras").tensors


def test_compressed_weights_larger_than_the_cap_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _recompressed(tmp_path)
    monkeypatch.setattr(keras_reader, "MAX_INFLATED_WEIGHTS_BYTES", 1024)
    with pytest.raises(UnreadableSource, match="over the 1024-byte cap"):
        _archive(path)


def test_archive_with_a_broken_config_still_reads_the_weights_as_partial(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(FIXTURES / "keras3_nested.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = b"{broken" if info.filename == "config.json" else src.read(info)
            dst.writestr(info.filename, data)
    ckpt = _archive(path)
    assert ckpt.source.status is Status.PARTIAL and "config.json in the archive is not valid JSON" in ckpt.source.note
    assert len(ckpt.tensors) == len(EXPECTED["keras3_nested"]["weights"])


def test_archive_truncated_inside_the_weights_is_unreadable(tmp_path: Path) -> None:
    data = (FIXTURES / "keras3_nested.keras").read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) - 2000])
    with pytest.raises(UnreadableSource):
        _archive(path)


def test_member_file_reads_a_stored_member_at_any_offset() -> None:
    with open(FIXTURES / "keras3_nested.keras", "rb") as fh, zipfile.ZipFile(fh) as zf:
        info = zf.getinfo("model.weights.h5")
        expected = zf.read(info)
        member = keras_reader._open_member(fh, zf, info)
    with member:
        member.seek(100)
        assert member.read(50) == expected[100:150]
        member.seek(-10, io.SEEK_END)
        assert member.read() == expected[-10:]


# ---------------------------------------------------------------- isolation from HDF5 crashes


def test_a_file_that_crashed_the_hdf5_library_costs_only_that_source() -> None:
    # keras2_full.h5 with one byte changed (found by fuzzing): libhdf5 1.14.6 segfaults on it.
    with pytest.raises(UnreadableSource) as info:
        _h5(FIXTURES / "crashes_hdf5.h5")
    assert "damaged" in str(info.value)


def test_a_crash_in_the_reader_becomes_unreadable_naming_the_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    def crash(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(keras_reader, "_read_h5", crash)
    with pytest.raises(UnreadableSource, match=r"crashed the HDF5 library \(SIGSEGV\)"):
        _h5(FIXTURES / "keras2_full.h5")


def test_a_reader_that_hangs_is_stopped_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(keras_reader, "_read_h5", lambda *args: time.sleep(60))
    monkeypatch.setattr(isolation, "BASE_SECONDS", 0.5)
    monkeypatch.setattr(isolation, "BYTES_PER_SECOND", 1e12)
    with pytest.raises(UnreadableSource, match=r"did not finish in \d+ s"):
        _h5(FIXTURES / "keras2_full.h5")


def test_a_bug_in_the_isolated_reader_is_reported_as_an_error_not_as_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def bug(*args: object) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(keras_reader, "_read_h5", bug)
    with pytest.raises(RuntimeError, match="ZeroDivisionError: oops"):
        _h5(FIXTURES / "keras2_full.h5")


@pytest.mark.parametrize("fixture", ["keras2_full.h5", "keras3_nan.keras"])
def test_isolated_and_in_process_reads_give_the_same_checkpoint(monkeypatch: pytest.MonkeyPatch, fixture: str) -> None:
    read = _archive if fixture.endswith(".keras") else _h5
    isolated = read(FIXTURES / fixture)
    monkeypatch.setattr(isolation, "ISOLATE", False)
    here = read(FIXTURES / fixture)
    assert isolated.model == here.model and isolated.source == here.source
    assert [t.name for t in isolated.tensors] == [t.name for t in here.tensors]
    for a, b in zip(isolated.tensors + isolated.optimizer_tensors, here.tensors + here.optimizer_tensors, strict=True):
        for name in a.__slots__:
            x, y = getattr(a, name), getattr(b, name)
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), name
