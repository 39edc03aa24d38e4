"""Hostile PyTorch files: nothing in them runs, nothing exhausts memory or time, every refusal says why.

The pickles here are written opcode by opcode (hand-made hostile bytes, as the
attacks are); a positive control shows the builder makes files our reader, and
torch, do read when they are not hostile.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from forensics.discover import classify
from forensics.errors import UnreadableSource
from forensics.readers import READERS, isolation, torch_checkpoint, torch_pickle
from forensics.records import Checkpoint, Source, Status

# ---------------------------------------------------------------- a tiny pickle assembler

MARK, TUPLE, REDUCE, BINPERSID, STOP = b"(", b"t", b"R", b"Q", b"."
EMPTY_DICT, EMPTY_LIST, SETITEM, APPEND, NEWFALSE, BUILD = b"}", b"]", b"s", b"a", b"\x89", b"b"
PROTO2 = b"\x80\x02"


def G(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def U(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def I(n: int) -> bytes:  # noqa: E743
    return b"J" + struct.pack("<i", n)


def PUT(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def GET(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def ints(values) -> bytes:
    return MARK + b"".join(I(v) for v in values) + TUPLE


def tensor(key: str, numel: int, size, stride, offset: int = 0, storage: str = "FloatStorage") -> bytes:
    pid = MARK + U("storage") + G("torch", storage) + U(key) + U("cpu") + I(numel) + TUPLE + BINPERSID
    args = MARK + pid + I(offset) + ints(size) + ints(stride) + NEWFALSE + G("collections", "OrderedDict")
    args += b")" + REDUCE + TUPLE
    return G("torch._utils", "_rebuild_tensor_v2") + args + REDUCE


def state_dict(**entries: bytes) -> bytes:
    body = b"".join(U(k) + v + SETITEM for k, v in entries.items())
    return PROTO2 + EMPTY_DICT + body + STOP


def torch_zip(path: Path, data_pkl: bytes, storages: dict[str, bytes], compress: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            z.writestr(f"archive/data/{key}", data, compress_type=method)
        z.writestr("archive/version", "3\n")
    return path


def read(path: Path):
    """Read as the loader does: the kind from the file name, the reader from the reader table."""
    kind = classify(path.name)
    return READERS[kind].read(path, Source(path.name, kind, size=path.stat().st_size), path.parent)


def floats(*values: float) -> bytes:
    return np.array(values, dtype="<f4").tobytes()


# ---------------------------------------------------------------- the positive control


def test_the_assembler_makes_files_that_torch_and_we_read(tmp_path):
    path = torch_zip(tmp_path / "ok.pt", state_dict(w=tensor("0", 4, (2, 2), (2, 1))), {"0": floats(1, 2, 3, 4)})
    ckpt = read(path)
    assert isinstance(ckpt, Checkpoint) and ckpt.source.status is Status.OK
    assert ckpt.tensors[0].l2 == pytest.approx(30**0.5)
    torch = pytest.importorskip("torch")
    assert torch.load(path, weights_only=True)["w"].tolist() == [[1, 2], [3, 4]]


# ---------------------------------------------------------------- code never runs


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "MARKER"


def _calls(marker: Path) -> dict[str, bytes]:
    cmd = f"touch {marker}"
    return {
        "os.system": G("os", "system") + MARK + U(cmd) + TUPLE + REDUCE,
        "posix.system": G("posix", "system") + MARK + U(cmd) + TUPLE + REDUCE,
        "eval": G("builtins", "eval") + MARK + U(f"open({str(marker)!r}, 'w')") + TUPLE + REDUCE,
        "exec": G("builtins", "exec") + MARK + U(f"open({str(marker)!r}, 'w')") + TUPLE + REDUCE,
        "open": G("builtins", "open") + MARK + U(str(marker)) + U("w") + TUPLE + REDUCE,
        "subprocess": G("subprocess", "check_call") + MARK + MARK + U("touch") + U(str(marker)) + b"l" + TUPLE
        + REDUCE,
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_calls(Path("x"))))
def test_a_call_through_reduce_arrives_as_an_inert_record(tmp_path, marker, name):
    payload = _calls(marker)[name]
    raw = tmp_path / "raw.pt"
    raw.write_bytes(PROTO2 + payload + STOP)
    in_zip = torch_zip(tmp_path / "zipped.pt", state_dict(w=tensor("0", 1, (1,), (1,)), x=payload), {"0": floats(1)})
    src = read(raw)
    assert src.status is Status.SKIPPED and "never executed" in src.note
    ckpt = read(in_zip)
    assert isinstance(ckpt, Checkpoint) and [t.name for t in ckpt.tensors] == ["w"]
    assert not marker.exists()


def test_an_inert_record_is_never_callable_so_getattr_chains_stop(tmp_path, marker):
    # builtins.getattr(builtins.__import__("os"), "system")("touch marker")
    imp = G("builtins", "__import__") + MARK + U("os") + TUPLE + REDUCE
    chain = G("builtins", "getattr") + MARK + imp + U("system") + TUPLE + REDUCE
    (tmp_path / "chain.pt").write_bytes(PROTO2 + chain + MARK + U(f"touch {marker}") + TUPLE + REDUCE + STOP)
    with pytest.raises(UnreadableSource, match="does not load"):
        read(tmp_path / "chain.pt")
    assert not marker.exists()


def test_the_unpickler_never_imports(tmp_path):
    pkl = PROTO2 + G("a_module_that_does_not_exist_anywhere", "thing") + MARK + TUPLE + REDUCE + STOP
    obj = torch_pickle.unpickle(pkl, torch_pickle.StorageTable())
    assert isinstance(obj, torch_pickle.Inert) and obj.global_name == "a_module_that_does_not_exist_anywhere.thing"


def test_extension_registry_opcodes_are_refused():
    with pytest.raises(torch_pickle.PickleRefused, match="extension registry"):
        torch_pickle.scan(PROTO2 + b"\x82\x01" + STOP)


def test_persistent_ids_other_than_storages_are_refused(tmp_path):
    pkl = PROTO2 + MARK + U("module") + U("os") + TUPLE + BINPERSID + STOP
    (tmp_path / "pid.pt").write_bytes(pkl)
    with pytest.raises(UnreadableSource, match="not a storage"):
        read(tmp_path / "pid.pt")


# ---------------------------------------------------------------- nothing exhausts memory or time


def test_a_huge_bytearray_length_is_refused_before_anything_is_allocated(tmp_path):
    pkl = b"\x80\x05" + b"\x96" + struct.pack("<Q", 1 << 62) + b"abc" + STOP  # BYTEARRAY8
    (tmp_path / "ba.pt").write_bytes(pkl)
    with pytest.raises(UnreadableSource, match="not a valid pickle"):
        read(tmp_path / "ba.pt")
    # bytearray(10**12) through REDUCE is a record, not a terabyte
    call = PROTO2 + G("builtins", "bytearray") + MARK + b"\x8a\x05" + (10**12).to_bytes(5, "little") + TUPLE + REDUCE
    (tmp_path / "ba2.pt").write_bytes(call + STOP)
    assert read(tmp_path / "ba2.pt").status is Status.SKIPPED


def test_billion_laughs_is_walked_once_per_object(tmp_path):
    # 40 levels, each a list holding the level below ten times: 10**40 paths, 400 references
    body = EMPTY_LIST + PUT(0) + MARK + b"".join(U(f"lol{i}") for i in range(10)) + b"e" + b"0"
    for level in range(1, 41):
        body += EMPTY_LIST + PUT(level) + MARK + GET(level - 1) * 10 + b"e" + b"0"
    body += GET(40)
    pkl = PROTO2 + EMPTY_DICT + U("w") + tensor("0", 1, (1,), (1,)) + SETITEM + U("lol") + body + SETITEM + STOP
    path = torch_zip(tmp_path / "lol.pt", pkl, {"0": floats(1)})
    start = time.monotonic()
    ckpt = read(path)
    assert time.monotonic() - start < 30
    assert [t.name for t in ckpt.tensors] == ["w"]


def test_the_child_memory_limit_stops_a_runaway_reader(tmp_path, monkeypatch):
    path = torch_zip(tmp_path / "m.pt", state_dict(w=tensor("0", 1, (1,), (1,))), {"0": floats(1)})

    def greedy(loaded, emit):  # what an allocation bug or an amplifying pickle would do
        hog = bytearray(torch_checkpoint.CHILD_MEMORY_BYTES * 2)
        emit(len(hog))

    monkeypatch.setattr(torch_checkpoint, "_analyse", greedy)
    with pytest.raises(UnreadableSource, match="memory"):
        read(path)


def test_a_stuck_reader_is_killed_at_its_deadline(tmp_path, monkeypatch):
    path = torch_zip(tmp_path / "t.pt", state_dict(w=tensor("0", 1, (1,), (1,))), {"0": floats(1)})
    monkeypatch.setattr(torch_checkpoint, "_analyse", lambda loaded, emit: time.sleep(60))
    monkeypatch.setattr(isolation, "deadline_for", lambda nbytes: 1.0)
    start = time.monotonic()
    with pytest.raises(UnreadableSource, match="did not finish"):
        read(path)
    assert time.monotonic() - start < 20


def test_a_pickle_past_the_size_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_pickle, "MAX_PICKLE_BYTES", 1000)
    pkl = state_dict(w=tensor("0", 1, (1,), (1,)), pad=U("x" * 5000))
    path = torch_zip(tmp_path / "big.pt", pkl, {"0": floats(1)})
    with pytest.raises(UnreadableSource, match="cap"):
        read(path)


# ---------------------------------------------------------------- views, keys, archives


def test_a_view_past_its_storage_is_refused_and_the_rest_is_read(tmp_path):
    pkl = state_dict(ok=tensor("0", 4, (4,), (1,)), oob=tensor("1", 4, (100,), (1,)), far=tensor("2", 4, (2,), (1,), 9))
    four = floats(1, 2, 3, 4)
    path = torch_zip(tmp_path / "oob.pt", pkl, {"0": four, "1": four, "2": four})
    ckpt = read(path)
    assert [t.name for t in ckpt.tensors] == ["ok"]
    assert ckpt.source.status is Status.PARTIAL and "reaches element 99 of a storage of 4" in ckpt.source.note


def test_negative_strides_and_sizes_are_refused(tmp_path):
    path = torch_zip(tmp_path / "neg.pt", state_dict(w=tensor("0", 4, (2,), (-1,), 3)), {"0": floats(1, 2, 3, 4)})
    with pytest.raises(UnreadableSource, match="negative"):
        read(path)


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a/../../b", ".."])
def test_storage_keys_that_are_paths_are_refused(tmp_path, key):
    path = torch_zip(tmp_path / "keys.pt", state_dict(w=tensor(key, 1, (1,), (1,))), {"0": floats(1)})
    with pytest.raises(UnreadableSource, match="not a plain name"):
        read(path)


def test_a_storage_that_declares_more_than_the_archive_holds_is_not_read(tmp_path):
    # CVE-2026-24747, second half: element count and archive data disagree
    pkl = state_dict(ok=tensor("0", 1, (1,), (1,)), liar=tensor("1", 1 << 30, (1 << 30,), (1,)))
    path = torch_zip(tmp_path / "liar.pt", pkl, {"0": floats(1), "1": floats(1, 2)})
    ckpt = read(path)
    assert [t.name for t in ckpt.tensors] == ["ok"]
    assert "declares 4294967296 bytes, the archive holds 8" in ckpt.source.note


def test_setitem_on_something_other_than_a_dict_is_refused(tmp_path):
    # CVE-2026-24747, first half: SETITEM/SETITEMS applied to a list, and to a tensor
    on_list = PROTO2 + EMPTY_LIST + U("k") + U("v") + SETITEM + STOP
    on_tensor = PROTO2 + tensor("0", 1, (1,), (1,)) + U("k") + U("v") + SETITEM + STOP
    for name, pkl in (("list.pt", on_list), ("tensor.pt", on_tensor)):
        path = torch_zip(tmp_path / name, pkl, {"0": floats(1)})
        with pytest.raises(UnreadableSource, match="does not load"):
            read(path)


def test_build_on_a_tensor_cannot_change_where_it_reads(tmp_path):
    state = EMPTY_DICT + U("offset") + I(10**6) + SETITEM
    pkl = PROTO2 + EMPTY_DICT + U("w") + tensor("0", 2, (2,), (1,)) + state + BUILD + SETITEM + STOP
    path = torch_zip(tmp_path / "build.pt", pkl, {"0": floats(1, 2)})
    with pytest.raises(UnreadableSource, match="tries to set the state of a LazyTensor"):
        read(path)


def test_a_zip_bomb_data_pkl_is_refused_past_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_pickle, "MAX_PICKLE_BYTES", 1 << 20)
    bomb = PROTO2 + U("x" * (50 << 20)) + STOP  # 50 MiB that deflate to ~50 KiB
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", bomb)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UnreadableSource, match="cap"):
        read(path)


def test_a_zip_bomb_that_lies_about_its_size_is_cut_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_pickle, "MAX_PICKLE_BYTES", 1 << 20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", PROTO2 + U("x" * (8 << 20)) + STOP)
    data = bytearray(buf.getvalue())
    # rewrite the declared uncompressed size (local header and central directory) to 100 bytes
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        data[pos + off : pos + off + 4] = struct.pack("<I", 100)
    (tmp_path / "liar.pt").write_bytes(bytes(data))
    with pytest.raises(UnreadableSource):
        read(tmp_path / "liar.pt")


def test_a_compressed_storage_is_not_mapped(tmp_path):
    pkl = state_dict(w=tensor("0", 1000, (1000,), (1,)))
    path = torch_zip(tmp_path / "deflated.pt", pkl, {"0": bytes(4000)}, compress=True)
    with pytest.raises(UnreadableSource, match="compressed"):
        read(path)


def test_torchscript_archives_are_read_as_data_and_their_code_never_runs(tmp_path):
    """CVE-2025-32434: torch.load(weights_only=True) handed TorchScript archives to torch.jit.load."""
    torch = pytest.importorskip("torch")

    class M(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    torch.manual_seed(0)
    m = M()
    torch.jit.save(torch.jit.script(m), tmp_path / "scripted.pt")
    with zipfile.ZipFile(tmp_path / "scripted.pt") as z:
        assert any("/code/" in n for n in z.namelist())
    ckpt = read(tmp_path / "scripted.pt")
    assert isinstance(ckpt, Checkpoint) and "TorchScript" in (ckpt.source.note or "")
    got = {t.name: t for t in ckpt.tensors}
    assert got["fc.weight"].l2 == pytest.approx(float(m.fc.weight.detach().double().norm()), rel=1e-12)


def test_a_file_that_is_not_a_checkpoint_is_skipped(tmp_path):
    (tmp_path / "vocab.bin").write_bytes(b"\x00\x01binary word vectors")
    assert read(tmp_path / "vocab.bin").status is Status.SKIPPED
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableSource, match="zip"):
        read(tmp_path / "broken.pt")


def test_a_big_endian_file_is_said_and_read_in_its_byte_order(tmp_path):
    # torch writes "big" in byteorder on big-endian hosts; none is at hand, so the bytes are made here
    values = np.array([1.5, -2.25, 3.0, 1e30], dtype=">f4")
    bf16 = np.array([0x3FC0, 0xC010], dtype=">u2")  # bfloat16 1.5 and -2.25
    pkl = state_dict(f=tensor("0", 4, (4,), (1,)), b=tensor("1", 2, (2,), (1,), storage="BFloat16Storage"))
    path = tmp_path / "be.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "big")
        z.writestr("archive/data/0", values.tobytes())
        z.writestr("archive/data/1", bf16.tobytes())
    ckpt = read(path)
    assert ckpt.source.status is Status.OK and "big-endian" in ckpt.source.note
    got = {t.name: t for t in ckpt.tensors}
    assert (got["f"].min, got["f"].max) == (-2.25, float(np.float32(1e30)))
    assert (got["b"].min, got["b"].max, got["b"].dtype) == (-2.25, 1.5, "bfloat16")
