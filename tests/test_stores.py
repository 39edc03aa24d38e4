"""Metrics stores: MLflow's SQLite database and W&B's run file, as the real libraries wrote
them (tests/fixtures/make_store_fixtures.py: real PyTorch trainings logged through MLflow
3 and through wandb in offline mode), checked against what those libraries read back."""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from tf_table import varint

import forensics
from forensics.discover import discover
from forensics.load import load_run
from forensics.readers import wandb as wandb_reader
from forensics.records import Kind, Status

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stores"
MLFLOW_DIR = FIXTURES / "mlflow"
WANDB_DIR = FIXTURES / "wandb_run"
WANDB_FILE = next(WANDB_DIR.glob("wandb/offline-run-*/run-*.wandb"))


def tree(directory: Path) -> dict[str, str]:
    """Every entry under ``directory``: files by content digest, links by target."""
    out = {}
    for p in sorted(directory.rglob("*")):
        rel = str(p.relative_to(directory))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def store_log(run, kind: Kind):
    return next(lg for lg in run.logs if lg.source.kind is kind)


# ---------------------------------------------------------------- MLflow


def test_mlflow_database_is_found_by_its_schema_and_its_sidecars_are_not_read_alone(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(MLFLOW_DIR, run)
    (run / "notes.db").write_bytes(b"SQLite format 3\x00" + bytes(100))  # an SQLite file of no MLflow schema
    (run / "mlflow.db-journal").write_bytes(b"")
    kinds = {f.rel: f.kind for f in discover(run).files}
    assert kinds == {"mlflow.db": Kind.MLFLOW_DB}


def test_mlflow_runs_are_kept_apart_with_their_status():
    log = store_log(load_run(MLFLOW_DIR), Kind.MLFLOW_DB)
    runs = {r.name: r for r in log.store_runs}
    assert {n: r.status for n, r in runs.items()} == {
        "baseline/healthy": "FINISHED",
        "sweep/nan-guard": "FAILED",  # start_run() closed it when the NaN guard raised
        "sweep/killed": "RUNNING",  # the process died without closing it: MLflow still says RUNNING
    }
    assert [n for n, r in runs.items() if r.analysed] == ["sweep/killed"]  # the newest
    assert log.store_status == "RUNNING" and "RUNNING" in log.source.note
    healthy = runs["baseline/healthy"].scalars["train_loss"]
    assert np.isfinite(healthy.values).all() and healthy.values[-1] < healthy.values[0]
    assert len(runs["sweep/nan-guard"].scalars["train_loss"]) < len(runs["sweep/killed"].scalars["train_loss"])
    assert runs["baseline/healthy"].params["learning_rate"] == "0.01"
    assert runs["baseline/healthy"].tags["purpose"] == "reference"
    # only the analysed run's series reach the timeline
    # (compared by value: the records come back from the reader's worker process as copies)
    analysed, killed = log.scalars["train_loss"], runs["sweep/killed"].scalars["train_loss"]
    assert np.array_equal(analysed.steps, killed.steps)
    assert np.array_equal(analysed.values, killed.values, equal_nan=True)


def test_mlflow_metrics_match_mlflows_own_client_with_nan_and_infinity_restored(tmp_path: Path):
    mlflow_tracking = pytest.importorskip("mlflow.tracking")
    copy = tmp_path / "mlflow.db"  # MLflow's client may migrate the database it opens: a copy
    shutil.copyfile(MLFLOW_DIR / "mlflow.db", copy)
    client = mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{copy}")
    log = store_log(load_run(MLFLOW_DIR), Kind.MLFLOW_DB)
    seen = {"nan": 0, "inf": 0}
    for run in log.store_runs:
        for key, series in run.scalars.items():
            history = sorted(client.get_metric_history(run.id, key), key=lambda m: (m.step, m.timestamp))
            assert list(series.steps) == [m.step for m in history]
            for ours, theirs in zip(series.values, history, strict=True):
                if math.isnan(theirs.value):
                    assert math.isnan(ours)
                    seen["nan"] += 1
                elif abs(theirs.value) == sys.float_info.max:  # MLflow's stand-in for an infinity
                    assert ours == math.copysign(math.inf, theirs.value)
                    seen["inf"] += 1
                else:
                    assert ours == theirs.value
    assert seen["nan"] and seen["inf"]  # the fixture holds both encodings


def test_mlflow_database_run_is_diagnosed_from_its_newest_run():
    r = forensics.analyze(str(MLFLOW_DIR))
    assert r.diverged and r.first_nonfinite_step == 5  # the loss overflowed to inf at step 5
    assert r.verdict.cause == "learning_rate"
    assert r.timeline.loss.source == "mlflow.db"
    lrs = [c.learning_rate for c in load_run(MLFLOW_DIR).configs]
    assert lrs == [0.5]


def test_a_store_of_several_runs_says_which_run_was_analysed_and_names_the_others():
    # mlflow.db holds baseline/healthy, sweep/nan-guard and sweep/killed (the newest): the
    # report's not-checked list says the other two were not analysed, not only the sources table
    r = forensics.analyze(str(MLFLOW_DIR))
    said = [n for n in r.not_checked if n.startswith("mlflow.db holds")]
    assert len(said) == 1
    assert "3 runs: only 'sweep/killed' was analysed" in said[0]
    assert "'sweep/nan-guard'" in said[0] and "'baseline/healthy'" in said[0]
    assert said[0] in r.to_markdown() and said[0] in json.loads(r.to_json())["not_checked"]
    # a W&B file holds one run: nothing left out to say
    assert not [n for n in forensics.analyze(str(WANDB_DIR)).not_checked if " runs: only " in n]


def test_reading_the_database_writes_nothing_beside_it(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(MLFLOW_DIR, run)
    before = tree(run)
    forensics.analyze(str(run))
    load_run(run)
    assert tree(run) == before  # no -shm, -wal or -journal appeared, the database unchanged


def _add_nan_point_in_wal(db: Path) -> sqlite3.Connection:
    """Turn the store to WAL mode and commit one more NaN point of the killed run, left in
    the -wal file by a writer that is still connected (as a live job's would be)."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    run_uuid = con.execute("SELECT run_uuid FROM runs WHERE name = 'killed'").fetchone()[0]
    con.execute(
        "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('train_loss', 0, 1, 41, 1, ?)",
        (run_uuid,),
    )
    return con


def test_a_database_with_a_write_ahead_log_is_read_with_it_and_nothing_is_written(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(MLFLOW_DIR, run)
    writer = _add_nan_point_in_wal(run / "mlflow.db")
    try:
        assert (run / "mlflow.db-wal").stat().st_size > 0
        before = tree(run)
        log = store_log(load_run(run), Kind.MLFLOW_DB)
        assert tree(run) == before  # the -wal and -shm of the live writer untouched
    finally:
        writer.close()
    loss = log.scalars["train_loss"]
    assert int(loss.steps[-1]) == 41 and math.isnan(loss.values[-1])  # the committed point in the WAL
    assert "private copy" in log.source.note


def test_a_symlinked_write_ahead_log_is_not_followed(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(MLFLOW_DIR, run)
    (tmp_path / "elsewhere").write_bytes(b"x" * 100)
    (run / "mlflow.db-wal").symlink_to(tmp_path / "elsewhere")
    report = forensics.analyze(str(run))
    src = next(s for s in report.sources if s.path == "mlflow.db")
    assert src.status is Status.UNREADABLE and "-wal" in src.note and "symlink" in src.note


# ---------------------------------------------------------------- W&B


def _wandb_records_with_real_protos() -> list:
    """The records of the fixture, framed by our reader and parsed by wandb's own protobufs."""
    proto = pytest.importorskip("wandb.proto.wandb_internal_pb2")
    framing = wandb_reader.Framing()
    out = []
    with WANDB_FILE.open("rb") as f:
        for payload in wandb_reader.records(f, framing):
            rec = proto.Record()
            rec.ParseFromString(payload)  # raises on a record framed wrong
            out.append(rec)
    assert framing.damaged_blocks == 0 and not framing.cut_mid_record
    return out


def test_wandb_run_file_is_found_and_wandbs_own_logs_are_left_out():
    inv = discover(WANDB_DIR)
    kinds = {f.rel.rsplit("/", 1)[-1]: f.kind for f in inv.files}
    assert kinds == {WANDB_FILE.name: Kind.WANDB_RUN, "output.log": Kind.JOB_LOG}
    assert inv.problems == []  # wandb/latest-run and wandb/debug*.log are W&B's own links: no line


def test_wandb_history_matches_the_records_wandbs_protobufs_decode():
    recs = _wandb_records_with_real_protos()
    assert WANDB_FILE.stat().st_size > 2 * wandb_reader.BLOCK  # records split across blocks were joined
    expected: dict[str, list[tuple[int, float]]] = {}
    for rec in recs:
        if rec.WhichOneof("record_type") != "history":
            continue
        for item in rec.history.item:
            key = item.key or ".".join(item.nested_key)
            if not key.startswith("_"):
                expected.setdefault(key, []).append((rec.history.step.num, float(json.loads(item.value_json))))
    log = store_log(load_run(WANDB_DIR), Kind.WANDB_RUN)
    got = {k: list(zip(s.steps.tolist(), s.values.tolist(), strict=True)) for k, s in log.scalars.items()}
    assert got.keys() == expected.keys() == {"train_loss", "grad_norm", "lr"}
    for key, points in expected.items():
        assert len(got[key]) == len(points)
        for (s1, v1), (s2, v2) in zip(got[key], points, strict=True):
            assert s1 == s2 and (v1 == v2 or (math.isnan(v1) and math.isnan(v2)))
    exit_rec = next(r for r in recs if r.WhichOneof("record_type") == "exit")
    assert log.exit_code == exit_rec.exit.exit_code == 1
    assert log.store_status == "exit 1"
    run_rec = next(r for r in recs if r.WhichOneof("record_type") == "run")
    (store_run,) = log.store_runs
    assert (store_run.id, store_run.name, store_run.experiment) == (
        run_rec.run.run_id,
        run_rec.run.display_name,
        run_rec.run.project,
    )


def test_wandb_run_becomes_a_timeline_with_its_config():
    run = load_run(WANDB_DIR)
    loss = store_log(run, Kind.WANDB_RUN).scalars["train_loss"]
    first_bad = int(loss.steps[np.argmax(~np.isfinite(loss.values))])
    assert math.isinf(loss.values[loss.steps == first_bad][0])  # inf first, NaN on the step after
    cfg = next(c for c in run.configs if c.source.kind is Kind.WANDB_RUN)
    assert cfg.learning_rate == 0.01 and cfg.optimizer == "sgd"
    r = forensics.analyze(str(WANDB_DIR))
    assert r.diverged and r.first_nonfinite_step == first_bad
    # the structured history wins over the same numbers parsed from files/output.log
    assert r.timeline.loss.source.endswith(".wandb") and r.timeline.loss.tag == "train_loss"


def test_wandb_console_records_give_the_exception_when_output_log_is_not_beside(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(WANDB_FILE, run / WANDB_FILE.name)  # the run file alone
    log = store_log(load_run(run), Kind.WANDB_RUN)
    assert log.died_with_exception
    # the script's own NaN stop (raise FloatingPointError(f"loss is NaN at step {step}")) is a NaN guard: the
    # exception is the guard's event, which keeps its type and traceback (no separate "exception" event)
    assert any(
        e.kind == "nan_loss" and e.values.get("exception") == "FloatingPointError" and e.traceback for e in log.events
    )


def test_wandb_file_cut_anywhere_gives_every_complete_record(tmp_path: Path):
    data = WANDB_FILE.read_bytes()
    whole = [r.SerializeToString() for r in _wandb_records_with_real_protos()]
    for cut in (7, 100, wandb_reader.BLOCK - 3, wandb_reader.BLOCK + 5, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.wandb"
        path.write_bytes(data[:cut])
        fr = wandb_reader.Framing()
        with path.open("rb") as f:
            got = list(wandb_reader.records(f, fr))
        assert got == _payloads(data, len(got))
        assert len(got) < len(whole)
        assert fr.cut_mid_record or cut == 7


def _payloads(data: bytes, n: int) -> list[bytes]:
    """The first ``n`` records of ``data`` by the reader on the whole file."""
    return list(wandb_reader.records(io.BytesIO(data), wandb_reader.Framing()))[:n]


def test_wandb_run_file_is_read_without_the_wandb_package():
    code = (
        "import sys; sys.modules['wandb'] = None; sys.modules['google.protobuf'] = None\n"
        "from forensics.load import load_run\n"
        f"run = load_run({str(WANDB_DIR)!r})\n"
        "print(sorted(next(l for l in run.logs if l.source.kind.value == 'wandb_run').scalars))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['grad_norm', 'lr', 'train_loss']"


def test_wandb_record_split_over_three_blocks_is_joined_and_a_bad_crc_costs_its_block():
    # hand-made framing (LevelDB's log format) around real records of the fixture
    payloads = _payloads(WANDB_FILE.read_bytes(), 20)
    big, filler = payloads[0], b"".join(payloads[1:])

    def chunk(kind: int, body: bytes) -> bytes:
        return struct.pack("<IHB", zlib.crc32(body, zlib.crc32(bytes((kind,)))), len(body), kind) + body

    # a record of 70,000 bytes: protobuf field 1 (num) followed by a long unknown field 99
    long_record = big + bytes([0x9A, 0x06]) + varint(70_000) + b"z" * 70_000
    out = bytearray(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    rest = long_record
    first = True
    while rest:
        room = wandb_reader.BLOCK - len(out) % wandb_reader.BLOCK - 7
        piece, rest = rest[:room], rest[room:]
        kind = (1 if not rest else 2) if first else (4 if not rest else 3)
        out += chunk(kind, piece)
        first = False
    out += chunk(1, filler)
    fr = wandb_reader.Framing()
    got = list(wandb_reader.records(io.BytesIO(bytes(out)), fr))
    assert got == [long_record, filler] and fr.records == 2
    # flip a byte of the MIDDLE chunk: that record is lost, the one in the next block kept
    damaged = bytearray(out)
    damaged[wandb_reader.BLOCK + 100] ^= 0xFF
    fr = wandb_reader.Framing()
    got = list(wandb_reader.records(io.BytesIO(bytes(damaged)), fr))
    assert got == [filler] and fr.damaged_blocks == 1 and fr.dropped_records == 1


def test_a_file_that_is_not_a_wandb_run_gets_one_line(tmp_path: Path):
    bad = tmp_path / "run-x.wandb"
    bad.write_bytes(b"hello world, not wandb")
    report = forensics.analyze(str(tmp_path))
    (src,) = [s for s in report.sources if s.path == "run-x.wandb"]
    assert src.status is Status.UNREADABLE and "\n" not in src.note and "W&B" in src.note


def test_a_store_is_one_source_whatever_records_it_gave():
    run = load_run(MLFLOW_DIR)
    assert [s.path for s in run.sources] == ["mlflow.db"]
    assert [c.source.path for c in run.configs] == [lg.source.path for lg in run.logs] == ["mlflow.db"]


def test_reading_a_wandb_run_writes_nothing_into_it(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(WANDB_DIR, run, symlinks=True)
    before = tree(run)
    forensics.analyze(str(run))
    load_run(run)
    assert tree(run) == before


def test_a_database_left_in_wal_mode_by_a_clean_close_is_read_in_place(tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(MLFLOW_DIR, run)
    con = sqlite3.connect(run / "mlflow.db")
    assert con.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    con.close()  # the last connection checkpoints and removes the -wal
    before = tree(run)
    log = store_log(load_run(run), Kind.MLFLOW_DB)
    assert tree(run) == before and "private copy" not in log.source.note
    assert len(log.store_runs) == 3


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_stores_written_now_by_the_installed_mlflow_and_wandb_are_read(tmp_path: Path):
    """Regenerate both fixtures with the libraries installed today (2 minutes on an idle machine):
    python -m pytest -m slow tests/test_stores.py"""
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
    try:
        import make_store_fixtures as gen
    finally:
        sys.path.pop(0)
    gen.make_mlflow(tmp_path / "mlflow")
    gen.make_wandb(tmp_path / "wandb_run")
    log = store_log(load_run(tmp_path / "mlflow"), Kind.MLFLOW_DB)
    assert {r.name: r.status for r in log.store_runs} == {
        "baseline/healthy": "FINISHED",
        "sweep/nan-guard": "FAILED",
        "sweep/killed": "RUNNING",
    }
    assert not np.isfinite(log.scalars["train_loss"].values).all()
    wlog = store_log(load_run(tmp_path / "wandb_run"), Kind.WANDB_RUN)
    assert wlog.exit_code == 1 and not np.isfinite(wlog.scalars["train_loss"].values[-1])
    assert wlog.source.status is Status.OK


def test_a_new_store_whose_schema_is_only_in_its_write_ahead_log_is_found_and_read(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    source = sqlite3.connect(MLFLOW_DIR / "mlflow.db")
    schema = [
        sql
        for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE name IN ('experiments', 'runs', 'metrics')")
    ]
    rows = source.execute("SELECT key, value, timestamp, step, is_nan, run_uuid FROM metrics").fetchall()
    runs = source.execute("SELECT * FROM runs").fetchall()
    exps = source.execute("SELECT * FROM experiments").fetchall()
    source.close()
    writer = sqlite3.connect(run / "mlflow.db", isolation_level=None)  # a live writer: its WAL never checkpointed
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    try:
        for sql in schema:
            writer.execute(sql)
        writer.executemany(f"INSERT INTO experiments VALUES ({','.join('?' * len(exps[0]))})", exps)
        writer.executemany(f"INSERT INTO runs VALUES ({','.join('?' * len(runs[0]))})", runs)
        writer.executemany(
            "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)", rows
        )
        before = tree(run)
        assert [f.kind for f in discover(run).files] == [Kind.MLFLOW_DB]
        log = store_log(load_run(run), Kind.MLFLOW_DB)
        assert tree(run) == before
    finally:
        writer.close()
    assert len(log.store_runs) == 3 and "private copy" in log.source.note
