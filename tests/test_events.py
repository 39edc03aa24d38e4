"""Event files written by the real writers decode into the right columns; damage is survived and reported."""

from __future__ import annotations

import importlib.util
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

from forensics.errors import UnreadableSource
from forensics.readers import events as events_module
from forensics.readers.events import read_event_file
from forensics.readers.tfrecord import FRAME_BYTES, HEADER_BYTES, frame_record
from forensics.records import EventFileData, Kind, Source, Status

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def _generator():
    """The fixture script: its constants are what the writers were given."""
    spec = importlib.util.spec_from_file_location("make_event_fixtures", FIXTURES.parent / "make_event_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def event_file(folder: str) -> Path:
    (path,) = sorted((FIXTURES / folder).glob("events.out.tfevents.*"))
    return path


def read(path: Path, group: str = "") -> EventFileData:
    rel = path.relative_to(FIXTURES).as_posix() if path.is_relative_to(FIXTURES) else path.name
    return read_event_file(path, Source(path=rel, kind=Kind.EVENTS, size=path.stat().st_size, group=group))


def read_bytes(tmp_path: Path, data: bytes, name: str = "events.out.tfevents.1.test") -> EventFileData:
    path = tmp_path / name
    path.write_bytes(data)
    return read(path)


def same_floats(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def records_of(data: bytes) -> list[tuple[int, int]]:
    """(offset, framed size) of each record of an undamaged file."""
    out, off = [], 0
    while off < len(data):
        (length,) = struct.unpack_from("<Q", data, off)
        out.append((off, length + FRAME_BYTES))
        off += length + FRAME_BYTES
    return out


def assert_same_data(a: EventFileData, b: EventFileData) -> None:
    assert a.scalars.keys() == b.scalars.keys()
    for tag in a.scalars:
        x, y = a.scalars[tag], b.scalars[tag]
        assert np.array_equal(x.steps, y.steps), tag
        assert same_floats(x.values, y.values), tag
        assert same_floats(x.wall_times, y.wall_times), tag
        assert np.array_equal(x.segment, y.segment), tag
    assert a.histograms.keys() == b.histograms.keys()
    for tag in a.histograms:
        x, y = a.histograms[tag], b.histograms[tag]
        for f in ("steps", "wall_times", "min", "max", "mean", "std", "count", "nonfinite"):
            assert same_floats(getattr(x, f), getattr(y, f)), (tag, f)
    assert a.texts == b.texts
    assert a.hparams == b.hparams
    assert a.restarts == b.restarts


# ---------------------------------------------------------------- real writers


def test_tensorboardx_scalars_keep_nan_and_inf_at_their_steps():
    data = read(event_file("tensorboardx"))
    assert data.source.status is Status.OK and data.source.note is None
    loss = data.scalars["loss"]
    assert loss.steps.dtype == np.int64 and loss.values.dtype == np.float64
    assert loss.steps.tolist() == list(range(len(GEN.LOSS)))
    assert same_floats(loss.values, GEN.LOSS)
    assert math.isnan(loss.values[3]) and loss.values[5] == math.inf
    lr = data.scalars["lr"]
    assert same_floats(lr.values, [np.float32(0.01 * 0.5**s) for s in range(len(GEN.LOSS))])
    assert np.all(np.isfinite(loss.wall_times)) and np.all(np.diff(loss.wall_times) >= 0)
    assert loss.segment.tolist() == [0] * len(GEN.LOSS)
    assert data.restarts == ()
    assert data.checksums_verified and data.skipped_records == 0


def test_tensorboardx_histogram_is_summarised_from_the_data_it_was_given():
    rng = np.random.default_rng(GEN.SEED)
    samples = [rng.normal(step, 1.0 + step, size=200) for step in range(3)]
    h = read(event_file("tensorboardx")).histograms["weights/dense"]
    assert h.steps.tolist() == [0, 1, 2]
    assert h.count.tolist() == [200.0] * 3
    assert h.min.tolist() == [s.min() for s in samples]
    assert h.max.tolist() == [s.max() for s in samples]
    assert np.allclose(h.mean, [s.mean() for s in samples], rtol=1e-12)
    assert np.allclose(h.std, [s.std() for s in samples], rtol=1e-9)
    assert not h.nonfinite.any()


def test_tensorboardx_text_drops_the_writer_suffix_and_hparams_come_from_the_sub_run():
    data = read(event_file("tensorboardx"))
    assert [(t.tag, t.step, t.text) for t in data.texts] == [
        ("notes", 0, "first run, **lr** 0.01"),
        ("notes", 3, "loss went NaN at step 3"),
    ]
    hp = read(event_file("tensorboardx/hp"), group="tensorboardx/hp")
    assert hp.hparams == GEN.HPARAMS
    assert hp.run == "tensorboardx/hp" and hp.scalars["hparam/final_loss"].run == "tensorboardx/hp"


def test_torch_scalars_read_the_same_from_simple_values_float_and_double_tensors():
    data = read(event_file("torch"))
    for tag in ("train/loss", "train/loss_tensor", "train/loss_double"):
        s = data.scalars[tag]
        assert s.steps.tolist() == list(range(len(GEN.LOSS))), tag
        assert same_floats(s.values, GEN.LOSS), tag
    assert [(t.tag, t.text) for t in data.texts] == [("config", "lr=0.01 batch=32")]


def test_torch_histograms_and_hparams():
    data = read(event_file("torch"))
    bias = data.histograms["linear/bias"]
    values = np.array([0.5, -0.5, 1.5])
    assert bias.steps.tolist() == [0, 3, 6]
    assert bias.count.tolist() == [3.0] * 3
    assert bias.min.tolist() == [-0.5] * 3 and bias.max.tolist() == [1.5] * 3
    assert np.allclose(bias.mean, values.mean()) and np.allclose(bias.std, values.std())
    weight = data.histograms["linear/weight"]
    assert weight.count.tolist() == [8.0] * 3  # nn.Linear(4, 2)
    assert np.all(weight.min <= weight.mean) and np.all(weight.mean <= weight.max)
    assert read(event_file("torch/hp")).hparams == GEN.HPARAMS  # torch stores the bool as 1.0


def test_tf2_tensor_scalars_histograms_and_text():
    data = read(event_file("tf2"))
    steps = list(range(len(GEN.LOSS)))
    assert same_floats(data.scalars["loss"].values, GEN.LOSS)
    assert same_floats(data.scalars["accuracy"].values, [np.float32(0.1 * s) for s in steps])
    assert data.scalars["examples_seen"].values.tolist() == [32.0 * s for s in steps]
    h = data.histograms["activations"]
    assert h.steps.tolist() == [0, 1, 2, 3]
    assert h.count[:3].tolist() == [300.0] * 3
    assert not h.nonfinite[:3].any()
    assert np.all(h.min[:3] < h.mean[:3]) and np.all(h.mean[:3] < h.max[:3])
    assert np.all(np.diff(h.std[:3]) > 0)  # the stddev given to tf.random.normal grows with the step
    assert h.nonfinite[3]  # the histogram of a tensor holding NaN and Inf
    texts = {(t.tag, t.step): t.text for t in data.texts}
    assert texts == {("notes", 0): "tf2 run; loss goes NaN at step 3", ("table", 1): "a | b\nc | d"}


@pytest.mark.parametrize("folder", ["keras3_batch", "keras2_epoch"])
def test_keras_callback_sub_runs_and_weight_histograms(folder):
    train = read(event_file(f"{folder}/train"), group=f"{folder}/train")
    val = read(event_file(f"{folder}/validation"), group=f"{folder}/validation")
    assert train.run == f"{folder}/train" and val.run == f"{folder}/validation"
    assert train.scalars["epoch_loss"].steps.tolist() == [0, 1, 2]
    assert np.all(np.isfinite(train.scalars["epoch_loss"].values))
    # both validation tags carry the validation loss, one per epoch, at different step counters
    assert same_floats(val.scalars["epoch_loss"].values, val.scalars["evaluation_loss_vs_iterations"].values)
    counts = {tag.split("/histogram")[0].split("/", 1)[-1] if folder == "keras3_batch" else tag: h.count[0]
              for tag, h in train.histograms.items()}  # fmt: skip
    # Dense(6) on 4 inputs, then Dense(1): 24 + 6 + 6 + 1 weights
    assert sorted(counts.values()) == [1.0, 6.0, 6.0, 24.0]
    assert all(h.steps.tolist() == [0, 1, 2] for h in train.histograms.values())
    assert train.restarts == () and val.restarts == ()


def test_keras_batch_level_logging_interleaves_step_counters_without_a_restart():
    train = read(event_file("keras3_batch/train"))
    assert train.scalars["batch_loss"].steps.tolist() == list(range(1, 10))  # 3 epochs x 3 batches
    assert train.restarts == ()
    assert all(not s.segment.any() for s in train.scalars.values())


def test_restart_keeps_the_events_before_it_and_numbers_the_segments():
    data = read(event_file("restart"), group="restart")
    (restart,) = data.restarts
    assert (restart.from_step, restart.to_step) == (20, 10)
    assert restart.run == "restart" and math.isfinite(restart.wall_time)
    loss = data.scalars["loss"]
    assert loss.steps.tolist() == list(range(21)) + list(range(10, 31))
    assert loss.segment.tolist() == [0] * 21 + [1] * 21
    first = loss.values[loss.segment == 0]
    assert np.isnan(first[18:]).all() and np.isfinite(first[:18]).all()  # the pre-crash divergence survives
    second = loss.values[loss.segment == 1]
    assert np.allclose(second, [np.float32(0.5 / (s + 1)) for s in range(10, 31)])
    lr = data.scalars["lr"]
    assert lr.steps.tolist() == [0, 5, 10, 15, 20, 10, 15, 20, 25, 30]
    assert lr.segment.tolist() == [0] * 5 + [1] * 5


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("events.out.tfevents.*")), ids=lambda p: str(p.parent.name))
def test_fast_path_decodes_exactly_like_the_protos(path, monkeypatch):
    fast = read(path)
    monkeypatch.setattr(events_module, "MAX_TEMPLATES_PER_LENGTH", 0)
    slow = read(path)
    assert_same_data(fast, slow)
    assert fast.records == slow.records


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("events.out.tfevents.*")), ids=lambda p: str(p.parent.name))
def test_templates_whose_tag_varies_decode_exactly_like_the_protos(path, monkeypatch):
    """With every template's tag left free (looked up row by row), the data is the same."""
    monkeypatch.setattr(events_module, "VARIABLE_TAG_AFTER", 0)
    fast = read(path)
    monkeypatch.setattr(events_module, "MAX_TEMPLATES_PER_LENGTH", 0)
    slow = read(path)
    assert_same_data(fast, slow)


def test_many_distinct_tags_are_read_through_templates_in_order_of_appearance(tmp_path, monkeypatch):
    """Thousands of tags of one length share a varying-tag template: every record is read
    without the protos, the same points as the protos give, tags kept in file order."""
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            for i in range(3000):
                w.add_scalar(f"t{i:04d}", float(i) + step / 4, step)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    calls = []
    real = events_module._Decoder._reference
    monkeypatch.setattr(events_module._Decoder, "_reference", lambda self, *a: (calls.append(1), real(self, *a))[1])
    fast = read(path)
    assert len(calls) <= 2 * events_module.VARIABLE_TAG_AFTER  # the derivations' own look, not per record
    assert list(fast.scalars)[:3] == ["t0000", "t0001", "t0002"] and len(fast.scalars) == 3000
    assert fast.scalars["t2999"].values.tolist() == [2999.0, 2999.25, 2999.5]
    monkeypatch.setattr(events_module, "MAX_TEMPLATES_PER_LENGTH", 0)
    assert_same_data(fast, read(path))


# ---------------------------------------------------------------- encodings


def _scalar_event(step: int, tag: str, tensor: tensor_pb2.TensorProto | None = None, simple=None, meta=True):
    value = summary_pb2.Summary.Value(tag=tag)
    if simple is not None:
        value.simple_value = simple
    else:
        value.tensor.CopyFrom(tensor)
        if meta:
            value.metadata.plugin_data.plugin_name = "scalars"
    return event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=[value]))


def _tensor(dtype: int, shape=(), **fields) -> tensor_pb2.TensorProto:
    t = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]))  # fmt: skip
    for k, v in fields.items():
        if k == "tensor_content":
            t.tensor_content = v
        else:
            getattr(t, k).extend(v)
    return t


def _half_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float16).view(np.uint16)[0])


def _bf16_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0] >> 16)


ENCODINGS = {
    "float_content": lambda x: _tensor(1, tensor_content=np.float32(x).tobytes()),
    "float_val": lambda x: _tensor(1, float_val=[x]),
    "double_val": lambda x: _tensor(2, (1,), double_val=[x]),
    "double_content": lambda x: _tensor(2, (1, 1), tensor_content=np.float64(x).tobytes()),
    "half_val": lambda x: _tensor(19, half_val=[_half_bits(x)]),
    "half_content": lambda x: _tensor(19, tensor_content=np.float16(x).tobytes()),
    "bf16_val": lambda x: _tensor(14, half_val=[_bf16_bits(x)]),
    "bf16_content": lambda x: _tensor(14, tensor_content=np.uint16(_bf16_bits(x)).tobytes()),
    "int32_val": lambda x: _tensor(3, int_val=[int(x)]),
    "int32_content": lambda x: _tensor(3, tensor_content=np.int32(x).tobytes()),
    "int64_val": lambda x: _tensor(9, int64_val=[int(x)]),
    "int64_content": lambda x: _tensor(9, tensor_content=np.int64(x).tobytes()),
    "uint8_val": lambda x: _tensor(4, int_val=[abs(int(x))]),
    "uint32_val": lambda x: _tensor(22, uint32_val=[abs(int(x))]),
    "uint64_val": lambda x: _tensor(23, uint64_val=[abs(int(x))]),
    "bool_val": lambda x: _tensor(10, bool_val=[bool(int(x) % 2)]),
}


def _expected(name: str, x: float) -> float:
    if name.startswith(("uint",)):
        return float(abs(int(x)))
    if name.startswith("int"):
        return float(int(x))
    if name.startswith("bool"):
        return float(bool(int(x) % 2))
    return x


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_every_numeric_tensor_encoding_decodes_to_its_value(tmp_path, name, monkeypatch):
    xs = [(-1) ** i * i * 0.5 for i in range(40)]  # exact in every float type used
    steps = [i * 1000 - 3 for i in range(40)]  # negative, one-byte and multi-byte varint steps
    events = [_scalar_event(s, "metric", ENCODINGS[name](x)) for s, x in zip(steps, xs, strict=False)]
    data = b"".join(frame_record(e.SerializeToString()) for e in events)
    fast = read_bytes(tmp_path, data)
    s = fast.scalars["metric"]
    assert s.steps.tolist() == steps
    assert s.values.tolist() == [_expected(name, x) for x in xs]
    monkeypatch.setattr(events_module, "MAX_TEMPLATES_PER_LENGTH", 0)
    assert_same_data(fast, read_bytes(tmp_path, data, "events.out.tfevents.2.test"))


def test_huge_and_negative_steps_survive(tmp_path):
    steps = [0, 2**40, -5, 2**62, 7]
    data = b"".join(frame_record(_scalar_event(s, "x", simple=1.0).SerializeToString()) for s in steps)
    assert read_bytes(tmp_path, data).scalars["x"].steps.tolist() == steps


def test_merged_summary_with_several_values_per_event_gives_each_tag_its_point(tmp_path):
    evs = []
    for step in range(5):
        values = [summary_pb2.Summary.Value(tag=t, simple_value=step * k) for k, t in enumerate(["a", "b", "c"], 1)]
        evs.append(event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=values)))
    data = read_bytes(tmp_path, b"".join(frame_record(e.SerializeToString()) for e in evs))
    for k, t in enumerate(["a", "b", "c"], 1):
        assert data.scalars[t].steps.tolist() == list(range(5))
        assert data.scalars[t].values.tolist() == [float(s * k) for s in range(5)]


def test_plugin_metadata_written_only_once_still_classifies_later_values(tmp_path):
    hist = np.array([[0.0, 1.0, 2.0], [1.0, 3.0, 6.0]])
    evs = []
    for step in range(4):
        scalar = _scalar_event(step, "loss", _tensor(1, float_val=[step + 0.5]), meta=step == 0)
        h = summary_pb2.Summary.Value(tag="w", tensor=_tensor(2, (2, 3), tensor_content=hist.tobytes()))
        custom = summary_pb2.Summary.Value(tag="custom", tensor=_tensor(1, float_val=[9.0]))
        if step == 0:
            h.metadata.plugin_data.plugin_name = "histograms"
            custom.metadata.plugin_data.plugin_name = "my_plugin"
        evs += [scalar, event_pb2.Event(wall_time=1.7e9, step=step, summary=summary_pb2.Summary(value=[h])),
                event_pb2.Event(wall_time=1.7e9, step=step, summary=summary_pb2.Summary(value=[custom]))]  # fmt: skip
    data = read_bytes(tmp_path, b"".join(frame_record(e.SerializeToString()) for e in evs))
    assert data.scalars["loss"].values.tolist() == [0.5, 1.5, 2.5, 3.5]
    assert "custom" not in data.scalars  # its metadata named another plugin
    w = data.histograms["w"]
    assert w.steps.tolist() == [0, 1, 2, 3]
    assert w.count.tolist() == [8.0] * 4 and w.min.tolist() == [0.0] * 4 and w.max.tolist() == [3.0] * 4
    assert np.allclose(w.mean, (0.5 * 2 + 2.0 * 6) / 8)


def test_a_restart_seen_by_tags_logged_at_different_rates_is_one_restart(tmp_path):
    evs = []
    for steps in (range(0, 50), range(30, 60)):
        for s in steps:
            evs.append(_scalar_event(s, "loss", simple=1.0))
            if s % 10 == 0:
                evs.append(_scalar_event(s, "eval", simple=2.0))
    data = read_bytes(tmp_path, b"".join(frame_record(e.SerializeToString()) for e in evs))
    (restart,) = data.restarts
    assert (restart.from_step, restart.to_step) == (49, 30)
    assert data.scalars["eval"].segment.tolist() == [0] * 5 + [1] * 3
    assert data.scalars["loss"].segment.tolist() == [0] * 50 + [1] * 30


# ---------------------------------------------------------------- damage


def test_truncated_event_file_is_partial_with_offset_and_keeps_every_record_before_the_cut(tmp_path):
    raw = event_file("tensorboardx").read_bytes()
    recs = records_of(raw)
    off, size = recs[12]
    cut = off + size // 2  # mid-record, as a killed job leaves it
    data = read_bytes(tmp_path, raw[:cut])
    assert data.source.status is Status.PARTIAL
    assert f"truncated at byte {off}" in data.source.note
    expected = read_bytes(tmp_path, raw[:off], "events.out.tfevents.2.test")  # the complete records only
    assert expected.source.status is Status.OK
    assert_same_data(data, expected)
    assert data.records == 12


def test_bad_crc_in_the_middle_recovers_the_records_after_it(tmp_path):
    raw = bytearray(event_file("tensorboardx").read_bytes())
    recs = records_of(bytes(raw))
    off, size = recs[9]  # the "loss" point at step 4
    raw[off + HEADER_BYTES + 3] ^= 0x01
    data = read_bytes(tmp_path, bytes(raw))
    assert data.source.status is Status.PARTIAL
    assert f"first at byte {off}" in data.source.note
    assert data.skipped_records == 1 and data.skipped_bytes == size
    assert data.scalars["loss"].steps.tolist() == [0, 1, 2, 3, 5, 6, 7]
    assert data.scalars["lr"].steps.tolist() == list(range(8))
    assert len(data.histograms["weights/dense"]) == 3 and len(data.texts) == 2


def test_file_whose_writer_stored_zero_checksums_is_read_with_a_note(tmp_path):
    raw = event_file("tensorboardx").read_bytes()
    payloads = [raw[o + HEADER_BYTES : o + s - 4] for o, s in records_of(raw)]
    data = read_bytes(tmp_path, b"".join(frame_record(p, checksums=False) for p in payloads))
    assert data.checksums_verified is False
    assert data.source.status is Status.OK
    assert "no CRC32C" in data.source.note
    assert_same_data(data, read(event_file("tensorboardx")))


def test_zero_checksum_file_only_accepts_payloads_that_parse_as_events(tmp_path):
    raw = event_file("tensorboardx").read_bytes()
    payloads = [raw[o + HEADER_BYTES : o + s - 4] for o, s in records_of(raw)]
    garbage = bytes(range(256))
    framed = [frame_record(p, checksums=False) for p in payloads]
    data = read_bytes(tmp_path, b"".join([*framed[:6], frame_record(garbage, checksums=False), *framed[6:]]))
    assert data.checksums_verified is False
    assert data.source.status is Status.PARTIAL
    assert data.skipped_records >= 1
    assert_same_data(data, read(event_file("tensorboardx")))


def test_empty_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableSource, match="empty"):
        read_bytes(tmp_path, b"")


@pytest.mark.parametrize(
    "data",
    [b"name,value\nloss,0.5\n" * 50, bytes(range(256)) * 4, b"\0" * 1000],
    ids=["csv", "binary", "zeros"],
)
def test_non_tfrecord_garbage_is_unreadable(tmp_path, data):
    with pytest.raises(UnreadableSource, match="not a TFRecord"):
        read_bytes(tmp_path, data)


def test_tfrecord_of_things_that_are_not_events_is_unreadable(tmp_path):
    data = b"".join(frame_record(b"\x0f" * n) for n in range(5, 15))
    with pytest.raises(UnreadableSource, match="none of its 10 records"):
        read_bytes(tmp_path, data)


def test_file_cut_inside_its_first_record_is_unreadable(tmp_path):
    raw = event_file("tensorboardx").read_bytes()
    with pytest.raises(UnreadableSource, match="no complete record"):
        read_bytes(tmp_path, raw[:20])


def test_corrupt_first_record_does_not_hide_the_rest(tmp_path):
    raw = bytearray(event_file("tensorboardx").read_bytes())
    raw[0:12] = b"\xde\xad\xbe\xef" * 3
    data = read_bytes(tmp_path, bytes(raw))
    assert data.source.status is Status.PARTIAL
    assert data.skipped_records == 1
    assert_same_data(data, read(event_file("tensorboardx")))  # record 0 is the file_version event


_TBX = event_file("tensorboardx").read_bytes()
_TBX_RECORDS = records_of(_TBX)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(0, len(_TBX)),
    st.lists(st.tuples(st.integers(0, len(_TBX) - 1), st.integers(1, 255)), max_size=4),
)
def test_damaged_event_file_raises_only_unreadable_and_keeps_what_precedes_the_damage(tmp_path, cut, flips):
    data = bytearray(_TBX[:cut])
    for pos, mask in flips:
        if pos < len(data):
            data[pos] ^= mask
    first_bad = min([pos for pos in range(len(data)) if data[pos] != _TBX[pos]] + [len(data)])
    clean_end = max([o + s for o, s in _TBX_RECORDS if o + s <= first_bad] + [0])
    try:
        got = read_bytes(tmp_path, bytes(data))
    except UnreadableSource:
        assert clean_end <= _TBX_RECORDS[0][1]  # nothing but the file_version record was intact
        return
    if clean_end == 0:
        return
    expected = read_bytes(tmp_path, _TBX[:clean_end], "events.out.tfevents.2.test")
    for tag, s in expected.scalars.items():
        n = len(s)
        assert tag in got.scalars
        assert got.scalars[tag].steps[:n].tolist() == s.steps.tolist()
        assert same_floats(got.scalars[tag].values[:n], s.values)
    damaged = bytes(data) != _TBX[:cut] or cut not in {o + s for o, s in _TBX_RECORDS}  # flips may cancel
    assert got.source.status is (Status.PARTIAL if damaged else Status.OK)


def test_a_tensor_claiming_a_huge_shape_is_skipped_without_allocating_it(tmp_path):
    huge = _tensor(1, (10**12,), float_val=[1.0])  # TF would fill 10^12 elements with 1.0
    evs = [_scalar_event(0, "big", huge), _scalar_event(1, "ok", simple=2.0)]
    data = read_bytes(tmp_path, b"".join(frame_record(e.SerializeToString()) for e in evs))
    assert "big" not in data.scalars
    assert data.scalars["ok"].values.tolist() == [2.0]


def test_a_directory_is_unreadable_not_a_crash(tmp_path):
    folder = tmp_path / "events.out.tfevents.1.dir"
    folder.mkdir()
    with pytest.raises(UnreadableSource, match="cannot read"):
        read(folder)


def test_zero_filled_tail_left_by_a_crash_is_reported_after_every_record(tmp_path):
    # filesystems that extend a file before its data lands leave zeros where the last writes were
    raw = event_file("tensorboardx").read_bytes()
    data = read_bytes(tmp_path, raw + bytes(1 << 20))
    assert data.source.status is Status.PARTIAL
    assert data.skipped_bytes == 1 << 20
    assert f"first at byte {len(raw)}" in data.source.note
    assert_same_data(data, read(event_file("tensorboardx")))


def test_hundreds_of_tags_of_one_length_all_decode(tmp_path):
    # per-layer scalars: more same-length tags than the template cap, so both paths share the class
    tags = [f"layer{i:03d}/grad_norm" for i in range(300)]
    evs = [_scalar_event(step, t, simple=step + k / 1000) for step in range(20) for k, t in enumerate(tags)]
    data = read_bytes(tmp_path, b"".join(frame_record(e.SerializeToString()) for e in evs))
    assert len(data.scalars) == 300
    for k, t in enumerate(tags):
        assert data.scalars[t].steps.tolist() == list(range(20))
        assert data.scalars[t].values.tolist() == [float(np.float32(s + k / 1000)) for s in range(20)]
