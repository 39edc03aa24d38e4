"""Ray Tune trial folders, as Tune writes them (tests/fixtures/make_ray_tune_fixtures.py, Ray 2.60):
result.json (one JSON object per iteration, RLlib's losses nested under info/learner/...), progress.csv
(the same flattened, with Tune's bookkeeping columns) and Tune's own event file."""

from __future__ import annotations

import math
from pathlib import Path

import forensics
from forensics.discover import discover
from forensics.records import Kind

TUNE = Path(__file__).resolve().parent / "fixtures" / "ray_tune"


def test_a_trials_progress_csv_is_its_metrics_not_a_data_sample():
    """progress.csv holds Tune's bookkeeping and the reported metrics, NaN where a metric was NaN: read as a
    data sample its NaN rewards were 'NaN in inputs' (the verdict on every Tune trial that reported one)."""
    for name in ("diverging", "healthy"):
        inv = discover(TUNE / name / "trial")
        kinds = {f.path.name: f.kind for f in inv.files}
        assert kinds["progress.csv"] is Kind.METRICS_CSV
        assert kinds["result.json"] is Kind.METRICS_JSONL
        assert not inv.of_kind(Kind.DATA_SAMPLE)


def test_a_loss_nested_in_result_json_is_read_on_the_training_iteration():
    from forensics.readers.metrics_csv import read_jsonl_metrics
    from forensics.records import Source, Status

    path = TUNE / "diverging" / "trial" / "result.json"
    data = read_jsonl_metrics(path, Source(str(path), Kind.METRICS_JSONL, Status.OK, path.stat().st_size))
    loss = data.scalars["info/learner/default_policy/learner_stats/total_loss"]
    assert loss.steps.tolist() == list(range(1, 9))  # training_iteration, 1-based as Tune counts
    assert loss.values[:6].tolist() == [6.0, 18.0, 54.0, 162.0, 486.0, 1458.0]
    assert all(math.isnan(v) for v in loss.values[6:])
    assert "hist_stats/episode_reward" not in data.scalars  # lists are no metrics


def test_the_diverging_trial_is_diagnosed_from_its_loss_and_lr():
    rep = forensics.analyze(TUNE / "diverging" / "trial")
    assert rep.diverged and rep.first_nonfinite_step == 7
    assert rep.verdict.cause == "learning_rate"
    assert all(c.cause != "data_or_labels" or not c.evidence for c in rep.candidates)


def test_a_trial_reporting_no_loss_names_no_data_fault():
    """A reward and an accuracy only: no loss to judge, so no verdict of a cause, least of all NaN inputs. Its
    episode reward stayed finite over its eight iterations, which OK005 reads as no sign of divergence, at the
    modest confidence of a reading that does not see the learner, saying that no loss was logged."""
    rep = forensics.analyze(TUNE / "healthy" / "trial")
    assert not rep.diverged
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence <= 0.6
    assert "No loss was logged; read instead: episode_reward_mean" in rep.verdict.summary
