"""The fit's view of a job that died before its first checkpoint: its config alone (the ``setup``
confidence kind is calibrated on dev runs seen that way, as no dev run kept only a config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


def _verdicts(n: int, confidence: float, right_share: float) -> list[tuple[float, bool]]:
    right = round(n * right_share)
    return [(confidence, i < right) for i in range(n)]


def test_a_kind_with_too_few_verdicts_takes_the_pooled_scaling_and_a_large_one_keeps_its_own():
    from scripts.fit_combination import MIN_KIND_VERDICTS, fit_calibration, fit_calibrations

    rng = np.random.default_rng(0)
    # "finding": many verdicts, stated confidence right as often as it says
    finding = [(float(c), bool(rng.random() < c)) for c in rng.uniform(0.3, 0.99, 200)]
    # "healthy_checkpoints": a handful, all right at 0.5 -- alone they would make it state ~0.99
    few = _verdicts(MIN_KIND_VERDICTS - 12, 0.5, 1.0)
    scalings, source = fit_calibrations({"finding": finding, "healthy_checkpoints": few})
    pooled = fit_calibration(finding + few)
    assert scalings["healthy_checkpoints"] == pooled and "pooled" in source["healthy_checkpoints"]
    assert scalings["prior"] == pooled  # a kind with no verdict at all
    alone = fit_calibration(few)
    assert _stated(alone, 0.5) > 0.9 > _stated(scalings["healthy_checkpoints"], 0.5)
    assert "own" in source["finding"] and abs(_stated(scalings["finding"], 0.7) - 0.7) < 0.1


def test_a_kind_with_enough_verdicts_is_shrunk_toward_the_pool_by_pseudo_verdicts_not_replaced():
    from scripts.fit_combination import MIN_KIND_VERDICTS, fit_calibration

    pool = (1.0, 0.0)
    mine = _verdicts(MIN_KIND_VERDICTS, 0.5, 0.9)  # the kind is right 9 times in 10 at 0.5
    own, shrunk, firm = (_stated(fit_calibration(mine, pool, s), 0.5) for s in (0.0, 15.0, 1000.0))
    assert own == pytest.approx(0.9, abs=0.05)  # its own rate, bar the faint pull toward the identity (L2)
    assert 0.5 < firm < shrunk < own  # more pseudo-verdicts of the pool, closer to what the pool states
    assert firm == pytest.approx(0.5, abs=0.03)


def _stated(scaling: tuple[float, float], confidence: float) -> float:
    a, b = scaling
    z = np.log(confidence / (1 - confidence))
    return float(1 / (1 + np.exp(-(a * z + b))))


def test_the_leave_one_family_out_check_states_every_dev_run_of_the_slice_and_leaves_the_table_alone(tmp_path):
    """fit_combination.py --cv on the corpus slice's dev runs: each family's runs are stated with scalings
    fitted without that family, every committed verdict lands in one bin, and the page shows the check."""
    import forensics.combination_table as table
    from scripts.accuracy import cv_section
    from scripts.fit_combination import by_kind, cross_validate, examples, out_of_family_verdicts

    kept = (dict(table.BIAS), dict(table.COEF), dict(table.CALIBRATION))
    try:
        exs = examples([SLICE])
        stated, tables = out_of_family_verdicts(exs)
        cv = cross_validate(exs, stated, tables)
    finally:
        table.BIAS, table.COEF, table.CALIBRATION = kept
    assert exs and len({e.family for e in exs}) > 1
    assert sum(len(v) for v in by_kind(stated).values()) == len(stated)
    assert 0 < cv["runs"] <= len(exs) and sum(b["runs"] for b in cv["bins"]) == cv["runs"]
    for b in cv["bins"]:
        assert sum(n for n, _ in b["families"].values()) == b["runs"]
        if b["runs"]:
            assert b["lo"] <= b["mean"] < max(b["hi"], 1.0 + 1e-9) and 0.0 <= b["observed"] <= 1.0
    cv.update(min_kind_verdicts=30, shrink_verdicts=15, verdicts={k: len(v) for k, v in by_kind(stated).items()})
    page = "\n".join(cv_section(cv))
    assert "leave one arch out" in page and "| 0.9–1.0 |" in page
