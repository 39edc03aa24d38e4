"""Metrics files other loggers write: CSV loggers (Lightning's metrics.csv) and JSON
lines (mmengine's scalars.json), each as its real writer produced it."""

from pathlib import Path

import numpy as np

import forensics
from forensics.discover import discover
from forensics.load import load_run
from forensics.records import Kind

FIXTURES = Path(__file__).resolve().parent / "fixtures"
JSONL = FIXTURES / "jsonl"
LIGHTNING = Path(__file__).resolve().parents[1] / "sample_runs" / "logonly_lightning_lr_too_high"


def test_mmengine_scalars_json_is_a_metrics_log_with_its_nan_and_inf_tokens():
    kinds = {f.rel.rsplit("/", 1)[-1]: f.kind for f in discover(JSONL).files}
    assert kinds == {"scalars.json": Kind.METRICS_JSONL}
    run = load_run(JSONL)
    series = {s.tag: s for lg in run.logs for s in lg.scalars.values()}
    assert set(series) == {"lr", "loss", "grad_norm"}
    loss = series["loss"]
    assert list(loss.steps) == list(range(1, 21))
    assert np.isfinite(loss.values[:16]).all() and np.isnan(loss.values[16:]).all()
    assert np.isposinf(series["grad_norm"].values[15:]).all()


def test_mmengine_run_is_diagnosed_from_its_scalars():
    r = forensics.analyze(str(JSONL))
    assert r.first_nonfinite_step == 17
    assert r.verdict.cause == "learning_rate"


def test_a_json_file_that_is_not_a_metrics_log_is_not_read_as_one(tmp_path):
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.9, "f1": 0.8}\n')
    assert discover(tmp_path).files == []


def test_lightning_metrics_csv_is_a_curve_with_lightnings_steps():
    run = load_run(LIGHTNING)
    csv = next(lg for lg in run.logs if lg.source.kind is Kind.METRICS_CSV)
    loss = csv.scalars["train_loss"]
    bad = ~np.isfinite(loss.values)
    assert int(loss.steps[int(np.argmax(bad))]) == 79  # the manifest's step, as the CSV logger wrote it
