"""PyTorch checkpoints read without torch: bit-identical to ``torch.load`` on files torch itself wrote.

Every file here is written by the real torch (and Lightning, and Hugging Face
transformers) in the test's own temporary directory, then read twice: by
``torch.load`` and by our reader, and every tensor is compared byte for byte.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch_walk import torch_tensors

from forensics.discover import classify
from forensics.readers import READERS, torch_pickle
from forensics.readers.torch_checkpoint import NEAR_EPS_FACTOR
from forensics.records import Checkpoint, ConfigData, Source, Status

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_W15 = ROOT / ".." / "shared" / "public-runs" / "w15"


def _ours(path: Path) -> dict[str, np.ndarray]:
    fd = os.open(path, os.O_RDONLY)
    try:
        loaded = torch_pickle.parse(fd, os.fstat(fd).st_size)
        try:
            return {name: t.to_numpy() for name, t in torch_pickle.walk_tensors(loaded.obj)}
        finally:
            loaded.close()
    finally:
        os.close(fd)


def _bytes_of(t) -> bytes:
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def assert_bit_identical(path: Path, **load_kwargs) -> dict:
    theirs = torch_tensors(torch.load(path, map_location="cpu", **load_kwargs))
    ours = _ours(path)
    assert theirs, "the file holds no tensor"
    assert set(ours) == set(theirs)
    for name, t in theirs.items():
        mine = ours[name]
        assert tuple(mine.shape) == tuple(t.shape), name
        assert str(t.dtype).removeprefix("torch.") == torch_pickle.tensorstats.dtype_name(mine.dtype), name
        assert mine.reshape(-1).view(np.uint8).tobytes() == _bytes_of(t), name
    return theirs


def _read(path: Path):
    """Read as the loader does: the kind from the file name, the reader from the reader table."""
    kind = classify(path.name)
    return READERS[kind].read(path, Source(path.name, kind, size=path.stat().st_size), path.parent)


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def _train(model, opt, steps: int, sched=None):
    torch.manual_seed(0)
    for _ in range(steps):
        x = torch.randn(8, 1, 8, 8)
        loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 3, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def test_a_state_dict_is_read_bit_identical_with_its_buffers(tmp_path):
    torch.manual_seed(1)
    net = _Net()
    _train(net, torch.optim.SGD(net.parameters(), lr=0.1), 2)
    torch.save(net.state_dict(), tmp_path / "model.pt")
    theirs = assert_bit_identical(tmp_path / "model.pt", weights_only=True)
    ckpt = _read(tmp_path / "model.pt")
    assert isinstance(ckpt, Checkpoint) and ckpt.source.status is Status.OK
    names = [t.name for t in ckpt.tensors]
    assert "bn.running_var" in names and "bn.num_batches_tracked" in names
    for t in ckpt.tensors:
        ref = theirs[t.name].double().numpy()
        assert t.shape == tuple(ref.shape)
        assert math.isclose(t.l2, float(np.sqrt((ref**2).sum())), rel_tol=1e-9)
        assert (t.min, t.max) == (float(ref.min()), float(ref.max()))
        assert t.nonfinite == 0


def test_a_training_checkpoint_gives_adam_moments_step_sizes_lr_and_scheduler(tmp_path):
    torch.manual_seed(2)
    net = _Net()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, eps=1e-8)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    _train(net, opt, 5, sched)
    path = tmp_path / "epoch=1-step=5.ckpt.pt"
    torch.save(
        {"epoch": 1, "global_step": 5, "model": net.state_dict(), "optimizer": opt.state_dict(),
         "scheduler": sched.state_dict()},
        path,
    )  # fmt: skip
    assert_bit_identical(path, weights_only=True)
    ckpt = _read(path)
    assert isinstance(ckpt, Checkpoint)
    assert (ckpt.step, ckpt.epoch) == (5, 1)
    assert {t.name for t in ckpt.tensors} == set(net.state_dict())  # the prefix "model." is dropped
    o = ckpt.optimizer
    assert o is not None and o.name == "adam" and o.step == 5
    assert o.groups[0].lr == pytest.approx(opt.param_groups[0]["lr"]) and o.groups[0].initial_lr == 3e-3
    assert o.groups[0].betas == (0.9, 0.999) and o.groups[0].eps == 1e-8
    assert o.scheduler["last_epoch"] == 5 and o.scheduler["_last_lr"] == pytest.approx(sched.get_last_lr())
    assert ckpt.model is not None and ckpt.model.learning_rate == o.groups[0].lr and ckpt.model.iterations == 5
    # per-layer step size, against the Adam formula evaluated with torch on the same state
    group = opt.param_groups[0]
    b1, b2 = group["betas"]
    expected: dict[str, float] = {}
    for name, p in net.named_parameters():
        st = opt.state[p]
        t = float(st["step"])
        m_hat = st["exp_avg"].double() / (1 - b1**t)
        v_hat = st["exp_avg_sq"].double() / (1 - b2**t)
        upd = group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
        layer = name.rsplit(".", 1)[0]
        expected[layer] = math.hypot(expected.get(layer, 0.0), float(upd.norm()))
    got = {u.layer: u for u in o.layers}
    assert set(got) == set(expected)
    for layer, size in expected.items():
        assert got[layer].update_l2 == pytest.approx(size, rel=1e-6)
        assert got[layer].weight_l2 is not None and got[layer].ratio is not None
        assert 0.0 <= (got[layer].near_eps or 0.0) <= 1.0
    opt_names = {t.name for t in ckpt.optimizer_tensors}
    assert "fc.weight.exp_avg" in opt_names and "conv.bias.exp_avg_sq" in opt_names


def test_a_layer_whose_second_moment_sits_at_epsilon_is_found(tmp_path):
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-3)  # eps far above the gradients' scale
    for _ in range(3):
        out = net(torch.randn(16, 4) * 1e-4)
        opt.zero_grad()
        (out.sum() * 1e-3).backward()
        opt.step()
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.pt")
    o = _read(tmp_path / "c.pt").optimizer
    first = {u.layer: u for u in o.layers}["0"]
    # every element of the first layer has sqrt(v_hat) far below 10 * eps, checked with torch
    v = opt.state[net[0].weight]["exp_avg_sq"] / (1 - 0.999**3)
    assert bool((v.sqrt() < NEAR_EPS_FACTOR * 1e-3).all())
    assert first.near_eps == 1.0


def test_sgd_momentum_buffers_give_the_step_size(tmp_path):
    torch.manual_seed(4)
    net = _Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    _train(net, opt, 3)
    torch.save({"state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict()}, tmp_path / "s.pth")
    o = _read(tmp_path / "s.pth").optimizer
    assert o.name == "sgd" and o.groups[0].momentum == 0.9
    fc = {u.layer: u for u in o.layers}["fc"]
    bufs = [opt.state[p]["momentum_buffer"] for p in net.fc.parameters()]
    assert fc.kind == "sgd_momentum"
    assert fc.update_l2 == pytest.approx(0.05 * math.hypot(*(float(b.norm()) for b in bufs)), rel=1e-6)


def test_narrow_dtypes_shared_storages_and_strided_views_are_bit_identical(tmp_path):
    torch.manual_seed(5)
    base = torch.randn(6, 10)
    with_nan = torch.randn(5)
    with_nan[2] = float("nan")
    with_nan[3] = float("inf")
    tensors = {
        "bf16": torch.randn(7, 3).to(torch.bfloat16),
        "fp16": torch.randn(9).half(),
        "e4m3": torch.randn(11).to(torch.float8_e4m3fn),
        "e5m2": torch.randn(11).to(torch.float8_e5m2),
        "u16": torch.arange(300, dtype=torch.int32).to(torch.uint16),
        "f64": torch.randn(4, dtype=torch.float64),
        "i8": torch.arange(-5, 5, dtype=torch.int8),
        "flags": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "base": base,
        "transposed": base.t(),  # shares base's storage, strides (1, 10)
        "column": base[:, 3],  # offset 3, stride 10
        "every_other": base[::2, 1::3],
        "with_nan": with_nan,
    }
    path = tmp_path / "views.pt"
    torch.save(tensors, path)
    assert_bit_identical(path, weights_only=True)
    ckpt = _read(path)
    stats = {t.name: t for t in ckpt.tensors}
    assert stats["with_nan"].nan == 1 and stats["with_nan"].posinf == 1
    ref = base.t().double()
    assert stats["transposed"].l2 == pytest.approx(float(ref.norm()), rel=1e-12)
    assert stats["transposed"].shape == (10, 6) and stats["e4m3"].dtype == "float8_e4m3fn"


def test_strided_views_stream_in_small_chunks_with_the_same_result(tmp_path):
    torch.manual_seed(6)
    base = torch.randn(40, 30)
    torch.save({"t": base.t(), "s": base[::3, ::2]}, tmp_path / "v.pt")
    fd = os.open(tmp_path / "v.pt", os.O_RDONLY)
    loaded = torch_pickle.parse(fd, os.fstat(fd).st_size)
    try:
        for name, t in torch_pickle.walk_tensors(loaded.obj):
            chunks = list(t.chunks(chunk_elements=7))
            assert max(c.size for c in chunks) <= 7 * max(t.shape)
            whole = np.concatenate(chunks)
            ref = {"t": base.t(), "s": base[::3, ::2]}[name].contiguous().reshape(-1).numpy()
            assert whole.tobytes() == ref.tobytes()
    finally:
        loaded.close()
        os.close(fd)


def test_the_legacy_format_is_bit_identical(tmp_path):
    torch.manual_seed(7)
    net = _Net()
    opt = torch.optim.Adam(net.parameters())
    _train(net, opt, 2)
    path = tmp_path / "legacy.pth"
    obj = {"model": net.state_dict(), "optimizer": opt.state_dict(), "bf": torch.ones(3, dtype=torch.bfloat16)}
    obj["view"] = obj["model"]["fc.weight"][:, 5:9]
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] != b"PK"
    assert_bit_identical(path, weights_only=True)
    ckpt = _read(path)
    assert ckpt.format == "torch_legacy" and ckpt.optimizer.name == "adam"


def test_hugging_face_pytorch_model_bin_and_optimizer_pt(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    torch.manual_seed(8)
    model = transformers.BertForSequenceClassification(cfg)
    # transformers 5 writes safetensors only; pytorch_model.bin is what save_pretrained(safe_serialization=False)
    # of transformers 4 wrote, and what Trainer still loads: torch.save of the state dict
    (tmp_path / "m").mkdir()
    torch.save(model.state_dict(), tmp_path / "m" / "pytorch_model.bin")
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
    out = model(input_ids=torch.randint(0, 50, (2, 7)), labels=torch.tensor([0, 1]))
    out.loss.backward()
    opt.step()
    torch.save(opt.state_dict(), tmp_path / "m" / "optimizer.pt")  # what Trainer._save_optimizer_and_scheduler does
    bin_path = tmp_path / "m" / "pytorch_model.bin"
    assert bin_path.exists()
    assert_bit_identical(bin_path, weights_only=True)
    assert_bit_identical(tmp_path / "m" / "optimizer.pt", weights_only=True)
    weights = _read(bin_path)
    assert len(weights.tensors) == len(model.state_dict())
    optim = _read(tmp_path / "m" / "optimizer.pt")
    assert optim.tensors == () and optim.optimizer.name == "adam" and optim.optimizer.step == 1
    assert optim.optimizer.groups[0].lr == 5e-5


@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "rng_state.pth"])
def test_files_the_hugging_face_trainer_wrote_are_bit_identical(name):
    path = ROOT / "sample_runs" / "hf_trainer_lr_too_high" / "checkpoint-20" / name
    trusted = name != "rng_state.pth"  # numpy's RNG state needs the full unpickler: our own committed file
    theirs = torch_tensors(torch.load(path, map_location="cpu", weights_only=trusted))
    if theirs:
        assert_bit_identical(path, weights_only=trusted)
    if name == "optimizer.pt":
        o = _read(path).optimizer
        ref = torch.load(path, weights_only=True)
        assert o.name == "sgd" and o.groups[0].lr == ref["param_groups"][0]["lr"]
        assert o.groups[0].momentum == ref["param_groups"][0]["momentum"]
        assert len(o.layers) == len(ref["state"])  # one step size per parameter (names unknown in this file)


@pytest.mark.skipif(not PUBLIC_W15.is_dir(), reason="public runs are not beside the repository")
def test_real_hugging_face_files_from_a_public_run():
    args = _read(PUBLIC_W15 / "training_args.bin")
    assert isinstance(args, ConfigData) and args.learning_rate == 1e-5 and args.mixed_precision == "fp16"
    assert args.grad_clip == 0.5
    scaler = _read(PUBLIC_W15 / "scaler.pt")
    assert scaler.optimizer.loss_scale == float(torch.load(PUBLIC_W15 / "scaler.pt")["scale"])
    sched = _read(PUBLIC_W15 / "scheduler.pt")
    assert sched.optimizer.scheduler["last_epoch"] == torch.load(PUBLIC_W15 / "scheduler.pt")["last_epoch"]
    rng = _read(PUBLIC_W15 / "rng_state.pth")
    assert rng.status is Status.OK and "random-number generator" in rng.note


def test_the_reader_never_imports_torch(tmp_path):
    torch.save({"w": torch.ones(3), "b": torch.ones(4, dtype=torch.bfloat16)}, tmp_path / "w.pt")
    code = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
from pathlib import Path
from forensics.readers.torch_checkpoint import read_torch_checkpoint
from forensics.records import Kind, Source
c = read_torch_checkpoint(Path({str(tmp_path / "w.pt")!r}), Source("w.pt", Kind.PICKLE), isolate=False)
assert "ml_dtypes" not in sys.modules  # bfloat16 is widened by a shift; ml_dtypes only for fp8
print({{t.name: t.l2 for t in c.tensors}}["w"])
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-1000:]
    assert float(r.stdout) == pytest.approx(math.sqrt(3))


def test_the_update_between_two_torch_checkpoints_is_measured_like_any_other(tmp_path):
    from forensics.readers.delta import checkpoint_deltas

    torch.manual_seed(9)
    net = _Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "step_1.pt")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _train(net, opt, 3)
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "step_4.pt")
    a, b = _read(tmp_path / "step_1.pt"), _read(tmp_path / "step_4.pt")
    deltas = checkpoint_deltas(a, b, tmp_path, chunk_elements=50)
    after = net.state_dict()
    for layer in ("conv", "fc"):
        names = [n for n in after if n.startswith(layer + ".")]
        diff = math.hypot(*(float((after[n].double() - before[n].double()).norm()) for n in names))
        base = math.hypot(*(float(before[n].double().norm()) for n in names))
        assert deltas[layer].relative == pytest.approx(diff / base, rel=1e-9)
