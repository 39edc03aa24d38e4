"""The data-sample reader: NaN/Inf rows, value ranges, and the labels.

Samples are written with numpy's and h5py's own writers (np.save/np.savez,
h5py.File) -- the same calls training scripts use to dump a batch.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from forensics.errors import UnreadableSource
from forensics.readers import data as data_mod
from forensics.readers.data import (
    labels_out_of_range,
    read_data_sample,
    read_data_sample_path,
)
from forensics.records import Kind, Source, Status


def read(path: Path):
    return read_data_sample(path, Source(path=path.name, kind=Kind.DATA_SAMPLE))


def by_name(sample, name):
    return next(a for a in sample.arrays if a.name == name)


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch):
    """Any unpickling during a test fails it: the reader must never load a pickle."""

    def refuse(*a, **k):
        raise AssertionError("the data reader unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def classification_sample(n: int = 600, classes: int = 11, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20)).astype("float32")
    y = rng.integers(0, classes, size=n)
    return x, y


def test_one_label_8000_among_11_classes_is_reported_with_its_value_and_row(tmp_path):
    x, y = classification_sample()
    y[417] = 8000
    np.savez(tmp_path / "train_sample.npz", x=x, y=y)
    sample = read(tmp_path / "train_sample.npz")
    labels = sample.labels
    assert labels.array == "y" and labels.count == 600
    assert (labels.min, labels.max, labels.negative) == (0, 8000, 0)
    assert labels.classes[8000] == 1
    assert labels.out_of_range_rows == ()  # the width is compared later, by a rule
    check = labels_out_of_range(sample, 11)
    assert check.count == 1 and check.values == (8000,) and check.rows == ((417, 8000),)
    assert check.complete
    assert labels_out_of_range(sample, 8001).count == 0
    assert by_name(sample, "y").role == "labels" and by_name(sample, "x").role == "features"


def test_negative_labels_are_counted_with_their_rows(tmp_path):
    x, y = classification_sample(classes=3)
    y[[5, 77, 300]] = -1
    np.savez_compressed(tmp_path / "batch.npz", inputs=x, labels=y)
    sample = read(tmp_path / "batch.npz")
    assert sample.labels.negative == 3 and sample.labels.min == -1
    check = labels_out_of_range(sample, 3)
    assert check.negative == 3 and check.rows == ((5, -1), (77, -1), (300, -1))


def test_nan_and_inf_rows_of_the_features_are_listed_and_capped(tmp_path):
    x, _ = classification_sample(n=1000)
    x[3, 1] = np.nan
    x[3, 2] = np.inf
    x[10, 0] = -np.inf
    x[100:160, 5] = np.nan  # 60 more rows
    np.save(tmp_path / "features.npy", x)
    a = read(tmp_path / "features.npy").arrays[0]
    assert (a.nan, a.posinf, a.neginf) == (61, 1, 1)
    assert a.nonfinite_rows[:3] == (3, 10, 100)
    assert len(a.nonfinite_rows) == data_mod.MAX_ROWS_KEPT
    finite = x[np.isfinite(x)].astype(np.float64)
    assert a.mean == pytest.approx(finite.mean()) and a.std == pytest.approx(finite.std())
    assert (a.min, a.max) == (pytest.approx(finite.min()), pytest.approx(finite.max()))


def test_big_arrays_are_streamed_in_chunks_with_exact_moments(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod, "CHUNK_BYTES", 4096)  # 64 rows of 8 float64 per chunk
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(20_000, 8)) * 3 + 7).astype("float32")
    x[19_999, 7] = np.nan
    y = rng.integers(0, 4, size=20_000).astype("int32")
    np.savez_compressed(tmp_path / "big.npz", features=x, targets=y)
    sample = read(tmp_path / "big.npz")
    a = by_name(sample, "features")
    ref = x[np.isfinite(x)].astype(np.float64)
    assert a.mean == pytest.approx(ref.mean(), rel=1e-9) and a.std == pytest.approx(ref.std(), rel=1e-9)
    assert a.nonfinite_rows == (19_999,)
    assert sample.labels.classes == {k: int((y == k).sum()) for k in range(4)}


def test_a_large_label_among_many_chunks_keeps_its_first_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod, "CHUNK_BYTES", 800)  # 100 labels per chunk
    y = np.arange(10_000) % 7
    y[[4_321, 9_999]] = 8000
    y[[50, 5_000]] = 9000
    np.savez(tmp_path / "s.npz", x=np.zeros((10_000, 2), "float32"), y=y)
    check = labels_out_of_range(read(tmp_path / "s.npz"), 7)
    assert check.values == (8000, 9000)
    assert sorted(check.rows) == [(50, 9000), (4_321, 8000), (5_000, 9000), (9_999, 8000)]


def test_labels_found_by_shape_when_the_names_do_not_say(tmp_path):
    x, y = classification_sample()
    np.savez(tmp_path / "s.npz", arr_0=x, arr_1=y.astype("float32"))  # np.savez(x, y) names them arr_N
    sample = read(tmp_path / "s.npz")
    assert sample.labels is not None and sample.labels.array == "arr_1"


def test_regression_targets_are_not_class_labels(tmp_path):
    x, _ = classification_sample()
    np.savez(tmp_path / "s.npz", x=x, y=np.linspace(0, 1, 600))
    sample = read(tmp_path / "s.npz")
    assert sample.labels is None
    assert by_name(sample, "y").max == 1.0


def test_one_hot_targets_are_labels_without_class_statistics(tmp_path):
    x, y = classification_sample(classes=4)
    np.savez(tmp_path / "s.npz", x=x, y_onehot=np.eye(4, dtype="float32")[y])
    sample = read(tmp_path / "s.npz")
    assert sample.labels is None
    assert by_name(sample, "y_onehot").role == "labels" and by_name(sample, "x").role == "features"


def test_object_member_is_skipped_and_never_unpickled(tmp_path):
    x, y = classification_sample()
    meta = np.array([{"source": "s3://bucket"}], dtype=object)
    np.savez(tmp_path / "s.npz", x=x, y=y, meta=meta)  # numpy pickles the object member
    sample = read(tmp_path / "s.npz")
    assert [a.name for a in sample.arrays] == ["x", "y"]
    assert sample.source.status is Status.PARTIAL and "meta" in sample.source.note
    assert "pickle" in sample.source.note


def test_object_npy_is_skipped(tmp_path):
    np.save(tmp_path / "o.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    sample = read(tmp_path / "o.npy")
    assert sample.source.status is Status.SKIPPED and sample.arrays == ()


def test_truncated_npy_reads_the_complete_rows(tmp_path):
    x, _ = classification_sample(n=100)
    np.save(tmp_path / "x.npy", x)
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(raw[: len(raw) - 20 * 4 * 30 - 7])  # 30.x rows lost
    sample = read(tmp_path / "x.npy")
    assert sample.source.status is Status.PARTIAL
    assert sample.arrays[0].shape == (69, 20)


def test_corrupt_npz_member_costs_only_that_member(tmp_path):
    x, y = classification_sample(n=2000)
    np.savez_compressed(tmp_path / "s.npz", x=x, y=y)
    raw = bytearray((tmp_path / "s.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "s.npz") as zf:
        info = zf.getinfo("x.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    raw[start : start + 64] = b"\x00" * 64  # damage the deflate stream of x
    (tmp_path / "s.npz").write_bytes(bytes(raw))
    sample = read(tmp_path / "s.npz")
    assert sample.source.status is Status.PARTIAL and "x" in sample.source.note
    assert sample.labels is not None and sample.labels.count == 2000


def test_hdf5_data_only_file_with_groups(tmp_path):
    x, y = classification_sample()
    x[12] = np.nan
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f.create_dataset("train/images", data=x, chunks=(64, 20))
        f.create_dataset("train/labels", data=y)
        f.create_dataset("meta/names", data=np.array([b"a", b"b"]))
    sample = read(tmp_path / "data.h5")
    assert by_name(sample, "train/images").nonfinite_rows == (12,)
    assert sample.labels.array == "train/labels"
    assert "meta/names" in sample.source.note  # strings: not numeric data


def test_csv_with_header_label_column_and_text_column(tmp_path):
    rows = ["id,pixel_a,pixel_b,comment,target"]
    for i in range(40):
        rows.append(f"{i},{i * 6},{'nan' if i == 7 else 255 - i},ok,{8000 if i == 30 else i % 4}")
    p = tmp_path / "sample.csv"
    p.write_text("\n".join(rows) + "\n")
    sample = read(p)
    assert sample.labels.array == "target" and labels_out_of_range(sample, 4).rows == ((30, 8000),)
    feats = by_name(sample, "features")
    assert feats.shape == (40, 3) and feats.nonfinite_rows == (7,)
    assert "comment" in sample.source.note


def test_unnormalized_inputs_are_told_apart():
    from forensics.records import ArrayStats
    from forensics.rules.data_or_labels import unscaled

    def stats(lo, hi, std):
        return ArrayStats("x", "float32", (10, 3), 0, 0, 0, lo, hi, (lo + hi) / 2, std, role="features")

    assert unscaled(stats(0.0, 255.0, 73.0))
    assert not unscaled(stats(-3.1, 3.4, 1.0))
    assert not unscaled(stats(0.0, 1.0, 0.3))


def test_raw_pixels_sample_reads_as_unnormalized(tmp_path):
    from forensics.rules.data_or_labels import unscaled

    rng = np.random.default_rng(2)
    np.savez(tmp_path / "s.npz", images=rng.integers(0, 256, (50, 8, 8), dtype=np.uint8), labels=np.arange(50) % 10)
    sample = read(tmp_path / "s.npz")
    assert unscaled(by_name(sample, "images"))
    assert by_name(sample, "images").max == 255


def test_data_path_given_on_the_command_line(tmp_path):
    x, y = classification_sample()
    np.savez(tmp_path / "elsewhere.npz", x=x, y=y)
    sample = read_data_sample_path(tmp_path / "elsewhere.npz")
    assert sample.source.kind is Kind.DATA_SAMPLE and sample.source.path.endswith("elsewhere.npz")
    with pytest.raises(UnreadableSource):
        read_data_sample_path(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    ("name", "content"),
    [("s.npz", b"PK\x03\x04 not really a zip"), ("s.npy", b"\x93NUMPY garbage"), ("s.h5", b"not hdf5"), ("s.csv", b"")],
)
def test_garbage_files_are_unreadable_with_one_line(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(UnreadableSource) as e:
        read(p)
    assert "\n" not in str(e.value)


def test_sample_runs_data_samples_when_present():
    root = Path(__file__).parent.parent / "sample_runs"
    files = sorted(root.glob("*/data/*.npz"))
    if not files:
        pytest.skip("no sample runs generated")
    for f in files:
        sample = read(f)
        assert sample.source.status is Status.OK, f
        for a in sample.arrays:
            assert a.nan + a.posinf + a.neginf == 0 or a.nonfinite_rows, f
        if sample.labels is not None and sample.labels.max >= 1000:  # an injected out-of-range label
            check = labels_out_of_range(sample, sample.labels.max)
            assert check.rows and all(v == sample.labels.max for _, v in check.rows), f
            assert not math.isnan(by_name(sample, sample.labels.array).mean)


def test_an_h5_data_sample_that_crashes_libhdf5_costs_only_that_source(tmp_path, monkeypatch):
    """The H5 read runs in a forked child: a crash there is one unreadable source."""
    import os
    import signal

    data_reader = data_mod
    path = tmp_path / "batch.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros((4, 3), dtype=np.float32)
        f["y"] = np.array([0, 1, 2, 1])
    real_open = data_reader._open_h5

    def crashing_open(p):  # what a damaged file does to libhdf5, in the child only
        os.kill(os.getpid(), signal.SIGSEGV)
        return real_open(p)

    monkeypatch.setattr(data_reader, "_open_h5", crashing_open)
    with pytest.raises(UnreadableSource, match="crashed the HDF5 library"):
        data_reader.read_data_sample(path, Source(path="batch.h5", kind=Kind.DATA_SAMPLE))


def test_an_h5_data_sample_read_in_isolation_keeps_its_statistics(tmp_path):
    read_data_sample = data_mod.read_data_sample
    path = tmp_path / "batch.h5"
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    x[2, 1] = np.nan
    with h5py.File(path, "w") as f:
        f["inputs"] = x
        f["labels"] = np.array([0, 1, 8000, 1])
    ds = read_data_sample(path, Source(path="batch.h5", kind=Kind.DATA_SAMPLE))
    arrays = {a.name: a for a in ds.arrays}
    assert arrays["inputs"].nan == 1 and arrays["inputs"].nonfinite_rows == (2,)
    assert ds.labels is not None and ds.labels.max == 8000 and ds.labels.classes[8000] == 1
    assert (2, 8000) in ds.labels.extreme_rows
