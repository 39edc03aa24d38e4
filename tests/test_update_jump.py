"""LR003's detail read from checkpoints alone: a per-step update that jumped between two pairs of
consecutive checkpoints is a schedule that raised the step size; one that was too large from the
first pair names no detail. Real runs of the corpus (tests/fixtures/corpus_slice)."""

from __future__ import annotations

from pathlib import Path

from forensics.load import load_run
from forensics.rules import REGISTRY
from forensics.timeline import build_timeline

SLICE = Path(__file__).parent / "fixtures" / "corpus_slice"


def _lr003(name: str):
    tl = build_timeline(load_run(SLICE / name))
    assert tl.lr is None  # no LR series: the checkpoints are what tells
    return tl, REGISTRY["LR003"].check(tl)


def test_update_that_jumped_between_checkpoints_is_a_schedule_spike():
    # a step schedule multiplied the LR by 185 at step 127 (manifest); checkpoints every 25 steps
    _, (ev,) = _lr003("s1_0189_torch_cnn_lr_schedule_spike")
    assert ev.detail == "lr_schedule_spike"
    assert "Between step 100 and 125 it was" in ev.message and "resume from the checkpoint at step 125" in ev.fix


def test_update_too_large_from_the_first_pair_names_no_detail():
    # an LR 100x+ the usual from the first step: every pair is too large, none healthy before it
    tl, (ev,) = _lr003("s1_0002_torch_gru_lr_too_high")
    ups = sorted(tl.relative_updates, key=lambda u: u.step_a)
    assert ups[0].per_step >= 1e-2
    assert ev.detail is None
