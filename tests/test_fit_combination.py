"""The fit's view of a job that died before its first checkpoint: its config alone (the ``setup``
confidence kind is calibrated on dev runs seen that way, as no dev run kept only a config)."""

from __future__ import annotations

from pathlib import Path

import forensics
from scripts.fit_combination import config_only

SLICE = Path(__file__).resolve().parent / "fixtures" / "corpus_slice"


def test_a_config_only_view_keeps_the_settings_files_and_nothing_that_shows_how_the_run_went(tmp_path):
    run = SLICE / "s3_0357_torch_rnn_division_by_zero"
    view = config_only(run, tmp_path)
    assert sorted(p.relative_to(view).as_posix() for p in view.rglob("*") if p.is_file()) == ["config.json"]
    tl = forensics.analyze(view).timeline
    assert tl.loss is None and not tl.checkpoints and tl.setup.max_steps == 120
    # the Trainer's trainer_state.json logs the loss: a job that died before its first checkpoint has none
    hf = config_only(SLICE / "s0_0189_hf_mlp_fp16_overflow", tmp_path)
    assert not list(hf.rglob("trainer_state.json"))
    assert (run / "checkpoints").is_dir()  # the run itself is left as it was
