"""Fleets: the runs of a sweep sent to a real Dask cluster (a LocalCluster of process
workers started here) give the reports a local analysis gives; an unreachable scheduler
is one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import forensics
from forensics.report.json_report import report_dict

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "tests" / "fixtures" / "sweep"


@pytest.fixture(scope="module")
def cluster():
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), old) if p)  # workers import forensics
    try:
        with distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
        ) as c:
            yield c
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, timeout=120, env=full
    )


def test_runs_sent_to_a_dask_cluster_get_the_reports_of_a_local_analysis(cluster):
    on_dask = forensics.analyze_many(SWEEP, dask=cluster.scheduler_address)
    local = forensics.analyze_many(SWEEP, jobs=1)
    assert [r.name for r in on_dask.results] == [r.name for r in local.results]
    assert [report_dict(r) for r in on_dask.reports()] == [report_dict(r) for r in local.reports()]
    workers = cluster.scheduler_info["workers"]
    assert len(workers) == 2


def test_the_cli_takes_the_scheduler_from_the_option_or_the_environment(cluster):
    by_option = run("analyze", str(SWEEP), "--format", "json", "--dask", cluster.scheduler_address)
    by_env = run("analyze", str(SWEEP), "--format", "json", DASK_SCHEDULER_ADDRESS=cluster.scheduler_address)
    for r in (by_option, by_env):
        assert r.returncode == 0, r.stderr
        assert sorted(json.loads(r.stdout)["diverged_runs"]) == ["lr_0.3", "lr_1", "lr_10", "lr_3"]


def test_an_unreachable_scheduler_is_one_line_and_exit_2():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(
        "analyze",
        str(SWEEP),
        "--dask",
        f"tcp://127.0.0.1:{port}",
        DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s",
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot reach the Dask scheduler" in r.stderr
