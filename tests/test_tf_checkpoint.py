"""TensorFlow checkpoint bundles, read without TensorFlow, against what TensorFlow reads.

The bundles under tests/fixtures/tf_checkpoints/ were written by TensorFlow itself
(tests/fixtures/make_tf_checkpoint_fixtures.py); ``digests.json`` holds the SHA-256 of
every numeric tensor as ``tf.train.load_checkpoint(...).get_tensor(...)`` returned it.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from tf_table import entries_of, write_table

from forensics.discover import discover
from forensics.load import load_run
from forensics.readers import tf_checkpoint as tfc
from forensics.readers.tensorstats import flat_native
from forensics.records import Kind, Source, Status

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tf_checkpoints"
DIGESTS = json.loads((FIXTURES / "digests.json").read_text(encoding="utf-8"))["bundles"]


def _array(bundle: tfc.TFBundle, entry: tfc.Entry) -> np.ndarray:
    """The whole tensor, in its own layout, from our reader's chunks (slices put in place)."""
    if entry.parts:
        first = next(bundle.chunks(entry.parts[0]))
        out = np.empty(entry.shape, dtype=first.dtype)
        for part, extent in zip(entry.parts, entry.extents, strict=True):
            where = tuple(slice(s, s + n) for s, n in extent)
            out[where] = np.concatenate(list(bundle.chunks(part, 7))).reshape(part.shape)
        return out
    chunks = list(bundle.chunks(entry, 7))  # small chunks: the CRC is checked across them
    flat = np.concatenate(chunks) if chunks else np.empty(0, dtype=bool if entry.dtype_name == "bool" else entry.dtype)
    return flat.reshape(entry.shape)


def _read(rel: str, **kw) -> object:
    path = FIXTURES / rel
    return tfc.read_tf_checkpoint(path, Source(rel, Kind.TF_CHECKPOINT, size=path.stat().st_size), **kw)


@pytest.mark.parametrize("rel", sorted(DIGESTS))
def test_every_numeric_tensor_is_bit_identical_to_what_tensorflow_read(rel):
    expected = DIGESTS[rel]
    with tfc.TFBundle(FIXTURES / rel) as bundle:
        assert not bundle.problems
        numeric = {k for k, e in bundle.entries.items() if e.dtype is not None}
        assert numeric == set(expected)
        for key, want in expected.items():
            entry = bundle.entries[key]
            got = _array(bundle, entry)
            assert entry.dtype_name == want["dtype"], key
            assert list(got.shape) == want["shape"], key
            assert hashlib.sha256(np.ascontiguousarray(got).tobytes()).hexdigest() == want["sha256"], key


def _numpy_stats(values: np.ndarray) -> tuple:
    x = flat_native(values.reshape(-1)).astype(np.float64)
    finite = x[np.isfinite(x)]
    l2 = math.sqrt(float(np.dot(finite, finite)))
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    return x.size, x.size - finite.size, l2, lo, hi


@pytest.mark.parametrize("rel", sorted(DIGESTS))
def test_statistics_are_those_of_the_tensors_tensorflow_stored(rel):
    ckpt = _read(rel, chunk_elements=5)
    assert ckpt.source.status is Status.OK, ckpt.source.note
    with tfc.TFBundle(FIXTURES / rel) as bundle:
        truth = [
            (e.shape, _numpy_stats(_array(bundle, e)))
            for e in bundle.entries.values()
            if e.dtype is not None and e.numel > 1
        ]
    reported = [t for t in (*ckpt.tensors, *ckpt.optimizer_tensors) if t.numel > 1]
    assert reported

    def same(t, shape, stats) -> bool:
        n, bad, l2, lo, hi = stats
        extremes = (lo, hi) == (t.min, t.max) or (math.isnan(lo) and math.isnan(t.min))
        return shape == t.shape and (n, bad) == (t.numel, t.nonfinite) and extremes and l2 == pytest.approx(t.l2)

    for t in reported:
        # each reported tensor is one of the stored ones (names come from the object graph)
        assert any(same(t, shape, stats) for shape, stats in truth), t.name


def test_keras3_checkpoint_model_weights_apart_from_adam_moments_with_the_step():
    rel = "keras3_adam/ckpts/ckpt-3.index"
    ckpt = _read(rel)
    names = [t.name for t in ckpt.tensors]
    # Keras 3 keeps no layer names in the object graph: the path from the model names them
    assert names == [
        "model/functional/operations/1/bias",
        "model/functional/operations/1/kernel",
        "model/functional/operations/2/bias",
        "model/functional/operations/2/kernel",
    ]
    assert ckpt.model.framework == "keras3"
    assert ckpt.step == 12  # 32 rows, batches of 8, three epochs: the optimizer's iterations
    assert ckpt.metadata["save_counter"] == "3"
    slots = sorted(t.name for t in ckpt.optimizer_tensors)
    assert slots == sorted(f"{n}.{s}" for n in names for s in ("momentum", "velocity"))
    opt = ckpt.optimizer
    assert opt.name == "adam" and opt.step == 12
    assert opt.groups[0].lr == pytest.approx(1e-2)
    assert {u.layer for u in opt.layers} == {"model/functional/operations/1", "model/functional/operations/2"}
    for u in opt.layers:
        assert u.kind == "adam" and 0 < u.update_l2 < 1 and u.near_eps is not None
        assert u.weight_l2 > 0


def _adam_step_sizes(m: np.ndarray, v: np.ndarray, step: int, lr: float) -> float:
    b1, b2 = tfc.KERAS_ADAM_BETAS
    upd = lr / (1 - b1**step) * m / (np.sqrt(v / (1 - b2**step)) + tfc.KERAS_ADAM_EPSILON)
    return float(np.sqrt(np.sum(upd.astype(np.float64) ** 2)))


def test_adam_update_size_is_keras_next_step_from_the_stored_moments():
    rel = "keras3_adam/ckpts/ckpt-3.index"
    ckpt = _read(rel)
    with tfc.TFBundle(FIXTURES / rel) as b:
        moments = {}
        for key, entry in b.entries.items():
            if "_momentums/" in key or "_velocities/" in key or "_variables/" in key:
                moments[key] = _array(b, entry).astype(np.float64)
    layer = {u.layer: u for u in ckpt.optimizer.layers}["model/functional/operations/1"]
    # Keras 3's optimizer._variables: [iterations, learning_rate, m0, v0, m1, v1, ...]
    ms = [moments[f"optimizer/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"] for i in (2, 4)]
    vs = [moments[f"optimizer/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"] for i in (3, 5)]
    want = math.hypot(*(_adam_step_sizes(m, v, 12, 1e-2) for m, v in zip(ms, vs, strict=True)))
    assert layer.update_l2 == pytest.approx(want, rel=1e-6)


def test_tf_keras_save_weights_names_layers_and_pairs_slots_in_both_optimizer_generations():
    for rel in ("tf_keras_weights/weights/ckpt.index", "tf_keras_legacy_adam/weights/ckpt.index"):
        ckpt = _read(rel)
        assert ckpt.model.framework == "keras2", rel
        names = [t.name for t in ckpt.tensors]
        assert names == [
            "layer_with_weights-0/bias",
            "layer_with_weights-0/kernel",
            "layer_with_weights-1/bias",
            "layer_with_weights-1/kernel",
        ], rel
        shapes = {t.name: t.shape for t in ckpt.tensors}
        for t in ckpt.optimizer_tensors:
            weight, _slot = t.name.rsplit(".", 1)
            assert shapes[weight] == t.shape, (rel, t.name)  # each moment sits beside its own variable
        assert len(ckpt.optimizer_tensors) == 8, rel
        assert ckpt.optimizer.name == "adam" and ckpt.optimizer.step == 2, rel
        assert len(ckpt.optimizer.layers) == 2, rel
    # the legacy optimizer keeps its betas as variables: they are used, and said
    legacy = _read("tf_keras_legacy_adam/weights/ckpt.index").optimizer.groups[0]
    assert legacy.betas == (pytest.approx(0.9), pytest.approx(0.999))


def test_v1_saver_checkpoint_step_and_adam_slots_by_name():
    ckpt = _read("v1_saver/train/model.ckpt-7.index")
    assert [t.name for t in ckpt.tensors] == ["dense/bias", "dense/kernel"]
    assert ckpt.step == 7
    assert sorted(t.name for t in ckpt.optimizer_tensors) == [
        "dense/bias.m",
        "dense/bias.v",
        "dense/kernel.m",
        "dense/kernel.v",
    ]


def test_saved_model_variables_are_read_as_a_checkpoint():
    ckpt = _read("saved_model/export/variables/variables.index")
    assert ckpt.format == "tf_saved_model_variables"
    assert sorted(t.name for t in ckpt.tensors) == ["b", "w"]
    assert ckpt.shards == ("saved_model/export/variables/variables.data-00000-of-00001",)


def test_sharded_bundle_with_sliced_variables_gives_whole_tensor_statistics():
    rel = "sharded_dtypes/bundle/vars.index"
    ckpt = _read(rel, chunk_elements=3)
    assert len(ckpt.shards) == len(list((FIXTURES / rel).parent.glob("vars.data-*"))) > 1
    with tfc.TFBundle(FIXTURES / rel) as b:
        assert any(e.parts for e in b.entries.values()), "the policy was meant to slice a variable"
    by = {t.name: t for t in ckpt.tensors}
    assert by["bf16"].dtype == "bfloat16" and by["bf16"].shape == (5, 4)
    assert by["f32"].numel == 240
    assert (by["nan"].nan, by["nan"].posinf, by["nan"].neginf) == (1, 1, 1)
    assert by["flags"].dtype == "bool" and by["flags"].max == 1
    assert by["i64"].max == 2 * 10**12


def test_discovery_groups_the_shards_under_their_index_and_inspect_lists_every_tensor(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "keras3_adam", run / "keras3_adam")
    shutil.copytree(FIXTURES / "saved_model", run / "saved_model")
    inv = discover(run)
    kinds = {f.rel: (f.kind, f.group) for f in inv.files}
    assert kinds["keras3_adam/ckpts/ckpt-3.index"] == (Kind.TF_CHECKPOINT, "")
    assert kinds["keras3_adam/ckpts/ckpt-3.data-00000-of-00001"] == (
        Kind.TF_CHECKPOINT,
        "keras3_adam/ckpts/ckpt-3.index",
    )
    assert kinds["saved_model/export/saved_model.pb"][0] is Kind.SAVED_MODEL
    loaded = load_run(run)
    steps = sorted(c.step for c in loaded.checkpoints if c.format == "tf_checkpoint")
    assert steps == [8, 12]  # ckpt-2 and ckpt-3 (the manager kept two): the optimizer's iterations

    from forensics.inspection import inventory_json

    data = inventory_json(loaded)
    entries = {e["path"]: e for e in data["sources"]}
    ck = entries["keras3_adam/ckpts/ckpt-3.index"]
    assert ck["status"] == "ok"
    listed = ck["contents"]["tensor_stats"]
    assert next(t["name"] for t in listed) == "model/functional/operations/1/bias"
    assert all({"name", "dtype", "shape", "l2", "min", "max", "nonfinite"} <= set(t) for t in listed)
    assert "keras3_adam/ckpts/ckpt-3.data-00000-of-00001" not in entries  # read through its index
    assert entries["saved_model/export/saved_model.pb"]["status"] == "skipped"


# ---------------------------------------------------------------- the table format itself


@pytest.mark.parametrize("compress", [False, True])
def test_snappy_blocks_many_blocks_and_restart_points_read_like_the_original(tmp_path, compress):
    pytest.importorskip("cramjam")
    src = FIXTURES / "keras3_adam" / "ckpts"
    for f in src.glob("ckpt-3.*"):
        shutil.copy(f, tmp_path / f.name)
    entries = entries_of(src / "ckpt-3.index")
    (tmp_path / "ckpt-3.index").write_bytes(write_table(entries, compress, per_block=3, restart=2))
    ours = tfc.read_tf_checkpoint(tmp_path / "ckpt-3.index", Source("ckpt-3.index", Kind.TF_CHECKPOINT))
    theirs = _read("keras3_adam/ckpts/ckpt-3.index")
    assert ours.source.status is Status.OK
    assert ours.tensors == theirs.tensors and ours.optimizer_tensors == theirs.optimizer_tensors


def test_a_file_named_index_that_is_no_table_and_has_no_shard_is_skipped(tmp_path):
    path = tmp_path / "faiss.index"
    path.write_bytes(b"IxF2" + bytes(100))
    got = tfc.read_tf_checkpoint(path, Source("faiss.index", Kind.TF_CHECKPOINT))
    assert got.status is Status.SKIPPED and "no table magic" in got.note


@pytest.mark.slow
def test_live_tensorflow_reads_the_same_bytes():
    """Against a live tf.train.load_checkpoint (needs the samples extra: pytest -m slow)."""
    tf = pytest.importorskip("tensorflow")
    for rel in DIGESTS:
        reader = tf.train.load_checkpoint(str(FIXTURES / rel.removesuffix(".index")))
        with tfc.TFBundle(FIXTURES / rel) as bundle:
            for key, entry in bundle.entries.items():
                if entry.dtype is None:
                    continue
                want = np.ascontiguousarray(reader.get_tensor(key))
                assert _array(bundle, entry).tobytes() == want.tobytes(), (rel, key)


def test_update_between_two_bundles_is_the_difference_of_their_weights(tmp_path):
    from forensics.readers.delta import checkpoint_deltas

    rels = ["keras3_adam/ckpts/ckpt-2.index", "keras3_adam/ckpts/ckpt-3.index"]
    a, b = (_read(r) for r in rels)
    deltas = checkpoint_deltas(a, b, FIXTURES)
    arrays = []
    for rel in rels:
        with tfc.TFBundle(FIXTURES / rel) as bundle:
            arrays.append({n: _array(bundle, e).astype(np.float64) for n, e in tfc.model_entries(bundle)})
    layer = "model/functional/operations/1"
    d = deltas[layer]
    names = [n for n in arrays[0] if n.startswith(layer + "/")]
    assert d.tensors == len(names) == 2 and not d.skipped
    want = math.sqrt(sum(float(np.sum((arrays[1][n] - arrays[0][n]) ** 2)) for n in names))
    assert d.delta_l2 == pytest.approx(want, rel=1e-9) and d.delta_l2 > 0


def test_the_checkpoint_state_file_says_which_bundles_it_keeps_and_which_are_gone(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "keras3_adam", run)
    inv = discover(run)
    assert {f.rel: f.kind for f in inv.files}["ckpts/checkpoint"] is Kind.TF_CHECKPOINT_STATE
    notes = {s.path: s for s in load_run(run).sources}
    state = notes["ckpts/checkpoint"]
    assert state.status is Status.OK and state.note == "TensorFlow checkpoint state: latest ckpt-3, 2 kept"
    for f in (run / "ckpts").glob("ckpt-2.*"):
        f.unlink()
    state = {s.path: s for s in load_run(run).sources}["ckpts/checkpoint"]
    assert state.note.endswith("2 kept; 1 of them not in this folder (first: ckpt-2)")


@pytest.mark.parametrize(
    "text",
    [
        'model_checkpoint_path: "/elsewhere/on/another/machine/model.ckpt-7"\n',
        'model_checkpoint_path: "a\\000b"\nall_model_checkpoint_paths: "' + "x" * 5000 + '"\n',
        "not a state file at all \x00\xff",
    ],
)
def test_a_state_file_from_elsewhere_or_damaged_is_explained(tmp_path, text):
    path = tmp_path / "checkpoint"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    got = tfc.read_checkpoint_state(path, Source("checkpoint", Kind.TF_CHECKPOINT_STATE))
    assert got.note and "\n" not in got.note
    if "model_checkpoint_path" in text:
        assert "latest" in got.note and "not in this folder" in got.note and "/" not in got.note.split("latest")[1]
    else:
        assert got.status is Status.SKIPPED


def test_a_big_endian_bundle_reads_the_same_numbers(tmp_path):
    """TensorFlow on a big-endian machine (s390x) writes its bytes big-endian and says so in the
    header; made here from a real bundle by swapping every numeric tensor's bytes."""
    import google_crc32c
    from tf_table import mask

    src = FIXTURES / "sharded_dtypes" / "bundle"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    header_cls, entry_cls = tfc._protos()
    entries = entries_of(tmp_path / "vars.index")
    shards = {p.name: bytearray(p.read_bytes()) for p in tmp_path.glob("vars.data-*")}
    out = []
    for key, value in entries:
        if key == b"":
            header = header_cls.FromString(value)
            header.endianness = 1
            value = header.SerializeToString()
        else:
            e = entry_cls.FromString(value)
            spec = tfc._DTYPES.get(e.dtype)
            itemsize = spec.itemsize if isinstance(spec, np.dtype) else 1
            if e.size and itemsize > 1:
                name = f"vars.data-{e.shard_id:05d}-of-{len(shards):05d}"
                raw = np.frombuffer(shards[name], np.uint8, e.size, e.offset).view(f"<u{itemsize}")
                swapped = raw.byteswap().tobytes()
                shards[name][e.offset : e.offset + e.size] = swapped
                e.crc32c = mask(google_crc32c.value(swapped))
                value = e.SerializeToString()
        out.append((key, value))
    (tmp_path / "vars.index").write_bytes(write_table(out))
    for name, data in shards.items():
        (tmp_path / name).write_bytes(bytes(data))
    ours = tfc.read_tf_checkpoint(tmp_path / "vars.index", Source("vars.index", Kind.TF_CHECKPOINT))
    theirs = _read("sharded_dtypes/bundle/vars.index")
    assert ours.source.status is Status.OK, ours.source.note
    assert ours.tensors == theirs.tensors


def test_mixed_precision_adam_is_read_through_its_loss_scale_wrapper():
    ckpt = _read("keras3_mixed_precision/ckpt/amp.index")
    opt = ckpt.optimizer
    # the wrapper's own step and LR stay 0: the inner Adam's are the real ones
    assert opt.name == "adam" and opt.step == ckpt.step == 4  # 8 rows, batches of 4, two epochs
    assert opt.groups[0].lr == pytest.approx(1e-3)
    assert opt.loss_scale is not None and math.log2(opt.loss_scale).is_integer()
    assert len(ckpt.optimizer_tensors) == 2 * len(ckpt.tensors) == 8
    assert {u.layer for u in opt.layers} == {t.layer for t in ckpt.tensors}
