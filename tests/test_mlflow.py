"""MLflow's file store (mlruns/<experiment>/<run>/metrics|params), as MLflow itself wrote it
(tests/fixtures/make_mlflow_fixtures.py)."""

from pathlib import Path

import numpy as np

import forensics
from forensics.discover import discover
from forensics.load import load_run
from forensics.records import Kind

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mlflow"


def test_mlflow_metric_and_param_files_are_recognised_by_their_place_and_content():
    kinds = {f.rel.rsplit("/", 1)[-1]: f.kind for f in discover(FIXTURE).files}
    assert kinds["train_loss"] is Kind.MLFLOW_METRIC
    assert kinds["lr"] is Kind.MLFLOW_METRIC
    assert kinds["learning_rate"] is Kind.MLFLOW_PARAM
    assert "meta.yaml" not in kinds


def test_mlflow_metric_keeps_every_point_and_the_nan():
    run = load_run(FIXTURE)
    loss = next(s for lg in run.logs for s in lg.scalars.values() if s.tag == "train_loss")
    assert list(loss.steps) == list(range(1, 30))
    assert np.isfinite(loss.values[:24]).all() and np.isnan(loss.values[24:]).all()
    assert loss.values[0] == 3.0  # 2 * 1.5 ** 1, as logged


def test_mlflow_params_feed_the_settings():
    run = load_run(FIXTURE)
    lrs = [c.learning_rate for c in run.configs if c.learning_rate is not None]
    assert lrs == [0.5]


def test_mlflow_run_is_diagnosed_from_its_metrics_and_params():
    r = forensics.analyze(str(FIXTURE))
    assert r.first_nonfinite_step == 25
    assert (r.verdict.cause, r.verdict.detail) == ("learning_rate", "lr_too_high")
