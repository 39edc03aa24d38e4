"""Checkpoints are put in order by the number in their name (ckpt-40 before ckpt-120), or by the
step stored in them, never by the name's characters: in the inventory, on the timeline and in
the advice on which checkpoint to resume from. The files are sample runs' real checkpoints
(sample_runs/gen_spikes.py, gen_torch.py), renamed as users name theirs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from forensics.discover import discover
from forensics.inspection import inventory_text
from forensics.load import load_run
from forensics.rules.spikes import last_good_checkpoint
from forensics.timeline import build_timeline
from forensics.util import natural_key

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"]


def _renamed_copy(run: str, tmp_path: Path, pattern: str) -> dict[str, str]:
    """The sample run copied, each checkpoints/step_NNNNNN.EXT renamed to ``pattern`` of its step
    (no zero padding, so that name order and number order differ); old name -> new name."""
    dest = tmp_path / run
    shutil.copytree(SAMPLES / run, dest)
    renamed = {}
    for f in sorted((dest / "checkpoints").glob("step_*")):
        step = int(f.stem.split("_")[1])
        new = pattern.format(step=step) + f.suffix
        f.rename(f.parent / new)
        renamed[f"checkpoints/{f.name}"] = f"checkpoints/{new}"
    return renamed


def test_natural_key_puts_numbers_in_number_order() -> None:
    names = ["ckpt-120", "ckpt-40", "ckpt-1000", "ckpt-5"]
    assert sorted(names, key=natural_key) == ["ckpt-5", "ckpt-40", "ckpt-120", "ckpt-1000"]


def test_a_run_whose_checkpoints_are_named_by_an_unpadded_step_is_read_in_step_order(tmp_path: Path) -> None:
    # spikes_loop_fp16's torch checkpoints store their step; named model_50.pt ... model_300.pt,
    # model_100.pt sorts before model_50.pt by characters
    run = "spikes_loop_fp16"
    renamed = _renamed_copy(run, tmp_path, "model_{step}")
    steps = sorted(int(Path(p).stem.split("_")[1]) for p in renamed.values())
    in_order = [f"checkpoints/model_{s}.pt" for s in steps]

    inv = discover(tmp_path / run)
    assert [f.rel for f in inv.files if f.rel.startswith("checkpoints/")] == in_order

    loaded = load_run(tmp_path / run)
    try:
        listed = inventory_text(loaded)
        assert [listed.index(p) for p in in_order] == sorted(listed.index(p) for p in in_order)
        tl = build_timeline(loaded)
    finally:
        loaded.close()
    assert [c.path for c in tl.checkpoints] == in_order
    assert [c.step for c in tl.checkpoints] == steps
    good = last_good_checkpoint(tl)
    want = MANIFEST[run]["last_good_checkpoint"]
    assert good is not None
    assert (good.path, good.step) == (renamed[want["path"]], want["step"])


def test_checkpoints_with_no_step_anywhere_are_ordered_by_the_number_in_their_name(tmp_path: Path) -> None:
    # safetensors files store no step: weights_25 ... weights_175 carry it only in the name
    run = "torch_lr_schedule_spike"
    renamed = _renamed_copy(run, tmp_path, "weights_{step}")
    in_order = sorted(renamed.values(), key=natural_key)
    assert in_order != sorted(renamed.values())  # the case this test is about

    assert [f.rel for f in discover(tmp_path / run).files if f.rel.startswith("checkpoints/")] == in_order
    loaded = load_run(tmp_path / run)
    try:
        tl = build_timeline(loaded)
    finally:
        loaded.close()
    assert [c.path for c in tl.checkpoints] == in_order
