"""LR002 (a climb from the run's start) needs a record that shows the start: a paste of a run's
middle, its counter past where a step size beyond the stability limit breaks a run, says nothing of
how early the climb began (a real case: heldout11's PointNetLK paste from epoch 89 of 200 was read as
'climbed within the first 15 % of the run')."""

from __future__ import annotations

import forensics


def _rules(tmp_path, first: int, unit: str = "epoch") -> set[str]:
    # a loss that falls two points then climbs geometrically to NaN: LR002's shape
    values = [1.0, 0.9, 0.95, 1.6, 3.1, 7.5, 19.0, 55.0, 160.0]
    lines = [f"{unit} {first + i}, loss {v:.4f}" for i, v in enumerate(values)]
    lines += [f"{unit} {first + len(values) + i}, loss nan" for i in range(3)]
    run = tmp_path / f"run_{unit}_{first}"
    run.mkdir()
    (run / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = forensics.analyze(str(run))
    assert report.diverged
    return {e.rule for c in report.candidates for e in c.evidence}


def test_a_climb_from_the_first_epochs_is_lr002s(tmp_path):
    assert "LR002" in _rules(tmp_path, 1)


def test_the_same_climb_in_a_paste_that_starts_at_epoch_89_is_not(tmp_path):
    assert "LR002" not in _rules(tmp_path, 89)


def test_a_step_counter_past_the_early_steps_is_a_late_record_too(tmp_path):
    assert "LR002" in _rules(tmp_path, 1, "step")
    assert "LR002" not in _rules(tmp_path, 40_000, "step")
