"""Files written by Lightning and Hugging Face transformers (committed, small), read without torch.

tests/fixtures/make_torch_fixtures.py wrote them with the real frameworks and recorded
what ``torch.load`` found in each: every tensor's key path, dtype, shape and the SHA-256
of its bytes. Our reader must find exactly those tensors with exactly those bytes.
Where the frameworks are installed, a live ``torch.load`` is compared as well.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

from forensics.discover import classify
from forensics.readers import READERS, torch_pickle
from forensics.readers.tensorstats import dtype_name
from forensics.records import Checkpoint, ConfigData, Source

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "torch"
DIGESTS = json.loads((FIXTURES / "digests.json").read_text(encoding="utf-8"))
LIGHTNING_CKPT = FIXTURES / "epoch=1-step=8.ckpt"


def _ours(path: Path) -> dict[str, dict]:
    fd = os.open(path, os.O_RDONLY)
    try:
        loaded = torch_pickle.parse(fd, os.fstat(fd).st_size)
        try:
            out = {}
            for name, t in torch_pickle.walk_tensors(loaded.obj):
                a = t.to_numpy()
                out[name] = {
                    "dtype": dtype_name(a.dtype),
                    "shape": list(a.shape),
                    "sha256": hashlib.sha256(a.reshape(-1).view("u1").tobytes()).hexdigest(),
                }
            return out
        finally:
            loaded.close()
    finally:
        os.close(fd)


def _read(path: Path):
    """Read as the loader does: the kind from the file name, the reader from the reader table."""
    kind = classify(path.name)
    return READERS[kind].read(path, Source(path.name, kind, size=path.stat().st_size), path.parent)


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_every_tensor_torch_load_saw_is_read_with_the_same_bytes(name):
    assert _ours(FIXTURES / name) == DIGESTS[name]


def test_a_lightning_ckpt_gives_weights_optimizer_schedule_step_and_hyper_parameters():
    ckpt = _read(LIGHTNING_CKPT)
    assert isinstance(ckpt, Checkpoint) and ckpt.source.note is None
    assert {t.name for t in ckpt.tensors} == {"net.weight", "net.bias"}  # not the callbacks' tensors
    assert (ckpt.step, ckpt.epoch) == (8, 1)
    o = ckpt.optimizer
    assert o.name == "adam" and o.step == 8
    assert o.groups[0].lr == pytest.approx(0.02 * 0.5**2) and o.groups[0].initial_lr == 0.02
    assert o.scheduler["last_epoch"] == 2
    assert {u.layer for u in o.layers} == {"net"} and o.layers[0].ratio is not None
    assert '"lr": 0.02' in ckpt.metadata["hyper_parameters"]


def test_training_args_bin_becomes_the_run_settings():
    cfg = _read(FIXTURES / "training_args.bin")
    assert isinstance(cfg, ConfigData)
    assert (cfg.learning_rate, cfg.grad_clip, cfg.batch_size, cfg.mixed_precision) == (3e-4, 0.25, 3, "bf16")
    assert cfg.raw["warmup_steps"] == 7 and cfg.raw["__class__"] == "transformers.training_args.TrainingArguments"


@pytest.mark.skipif(importlib.util.find_spec("lightning") is None, reason="Lightning is not installed")
def test_the_lightning_file_still_loads_in_torch_as_recorded():
    import torch

    obj = torch.load(LIGHTNING_CKPT, map_location="cpu", weights_only=False)
    weight = obj["state_dict"]["net.weight"]
    digest = hashlib.sha256(weight.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()
    assert digest == DIGESTS[LIGHTNING_CKPT.name]["state_dict.net.weight"]["sha256"]
