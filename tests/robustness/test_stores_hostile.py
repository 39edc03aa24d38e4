"""Metrics stores cut off, damaged or built to hurt: W&B run files and MLflow databases.

The real files are the fixtures of tests/fixtures/make_store_fixtures.py (a W&B offline
run and an MLflow 3 SQLite store of real trainings). What must hold: no exception, the
store marked ``partial`` or ``unreadable`` with a one-line reason, every complete record
before a cut still read, nothing of the database's schema executed, nothing written
beside the run's files.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import struct
import time
import zlib
from pathlib import Path

import pytest
from robust_util import FIXTURES, analyze, assert_explained, count, one_line, run_cli
from tf_table import varint

from forensics.errors import UnreadableSource
from forensics.readers import mlflow_db
from forensics.readers import wandb as wb
from forensics.records import Kind, Source, Status

WANDB_FILE = next((FIXTURES / "stores" / "wandb_run").glob("wandb/offline-run-*/run-*.wandb"))
MLFLOW_DB = FIXTURES / "stores" / "mlflow" / "mlflow.db"
STRIDE = 97  # bytes between dense cuts of the W&B file (every byte of its first records)
HEAD_BYTES = 400


def _records(data: bytes) -> tuple[list[bytes], wb.Framing]:
    fr = wb.Framing()
    return list(wb.records(io.BytesIO(data), fr)), fr


def test_a_wandb_file_cut_at_any_offset_keeps_every_record_before_the_cut() -> None:
    data = WANDB_FILE.read_bytes()
    whole, _ = _records(data)
    cuts = [*range(wb.FILE_HEADER.size, HEAD_BYTES), *range(HEAD_BYTES, len(data), STRIDE)]
    for cut in cuts:
        got, fr = _records(data[:cut])
        count("wandb framing (cut)")
        assert got == whole[: len(got)], cut
        # a cut can lose at most the record it falls in (the last block is read as far as it goes)
        assert fr.cut_mid_record or got == whole[: len(got)]
    assert _records(data)[1].cut_mid_record is False


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.37, 0.5, 0.74, 0.99])
def test_a_cut_wandb_run_is_analysed_as_far_as_it_goes(tmp_path: Path, fraction: float) -> None:
    data = WANDB_FILE.read_bytes()
    cut = max(3, int(len(data) * fraction))
    path = tmp_path / WANDB_FILE.name
    path.write_bytes(data[:cut])
    report = analyze(path, "wandb run (cut)")
    (src,) = [s for s in report.sources if s.kind is Kind.WANDB_RUN]
    assert_explained(src)
    assert src.status in (Status.PARTIAL, Status.UNREADABLE)
    if cut < wb.FILE_HEADER.size:
        assert "header" in src.note


def _chunk(kind: int, body: bytes) -> bytes:
    return struct.pack("<IHB", zlib.crc32(body, zlib.crc32(bytes((kind,)))), len(body), kind) + body


def _file(*chunks: bytes) -> bytes:
    return struct.pack("<4sHB", b":W&B", 0xBEE1, 0) + b"".join(chunks)


WANDB_CASES = {
    # a record whose protobuf claims a length past its end
    "protobuf length past the end": _file(_chunk(1, b"\x12\xff\xff\xff\x0f" + b"x" * 10)),
    # a varint of eleven continuation bytes
    "endless varint": _file(_chunk(1, b"\x08" + b"\xff" * 11)),
    # wire types 3/4 (groups) and 6/7 do not exist in wandb's protos
    "group wire type": _file(_chunk(1, b"\x0b\x0c")),
    # a chunk declaring more bytes than its block holds
    "chunk past its block": _file(struct.pack("<IHB", 0, 40_000, 1) + b"x" * 100),
    # a LAST chunk with no FIRST before it, then nothing
    "orphan last chunk": _file(_chunk(4, b"\x08\x01")),
    # an unknown chunk type
    "chunk type 9": _file(_chunk(9, b"\x08\x01")),
    # the wrong magic
    "wrong magic": struct.pack("<4sHB", b":W&B", 0xBEE2, 0) + _chunk(1, b"\x08\x01"),
}


def _msg(field: int, body: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(body)) + body


def _history(key: bytes, value_json: bytes, step: int) -> bytes:
    item = _msg(2, key) + _msg(16, value_json)
    return _msg(2, _msg(1, item) + _msg(2, b"\x08" + varint(step)))


# a history value of 30,000 nested lists, a number past float64, a step past int64
WANDB_CASES["deep json value"] = _file(_chunk(1, _history(b"loss", b"[" * 30_000, 1)))
WANDB_CASES["huge integer value"] = _file(_chunk(1, _history(b"loss", b"9" * 60, 1)))
WANDB_CASES["negative step"] = _file(_chunk(1, _history(b"loss", b"1.5", 2**64 - 5)))


@pytest.mark.parametrize("case", sorted(WANDB_CASES))
def test_a_hostile_wandb_file_costs_only_itself_with_its_reason(tmp_path: Path, case: str) -> None:
    path = tmp_path / "run-hostile.wandb"
    path.write_bytes(WANDB_CASES[case])
    report = analyze(path, "wandb run (hostile)")
    (src,) = [s for s in report.sources if s.kind is Kind.WANDB_RUN]
    assert_explained(src)


def test_ten_thousand_history_keys_are_capped() -> None:
    # chunks must not straddle blocks: laid out as the writer does
    out = bytearray(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    for i in range(wb.MAX_KEYS + 50):
        c = _chunk(1, _history(f"k{i}".encode(), b"1", 1))
        room = wb.BLOCK - len(out) % wb.BLOCK
        if room < len(c):
            out += b"\x00" * room
        out += c
    started = time.perf_counter()
    fr = wb.Framing()
    run = wb._Run()
    for rec in wb.records(io.BytesIO(bytes(out)), fr):
        wb._record(run, rec)
    assert len(run.cols) == wb.MAX_KEYS and run.keys_dropped
    assert time.perf_counter() - started < 30


# ---------------------------------------------------------------- MLflow SQLite


def _copy_db(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(MLFLOW_DB, run / "mlflow.db")
    return run / "mlflow.db"


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.9])
def test_a_cut_mlflow_database_is_one_line_never_a_crash(tmp_path: Path, fraction: float) -> None:
    db = _copy_db(tmp_path)
    data = db.read_bytes()
    db.write_bytes(data[: int(len(data) * fraction)])
    try:
        mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))
    except UnreadableSource as e:
        assert "\n" not in str(e) and str(e)
    count("mlflow db (cut)")
    report = analyze(db.parent, "mlflow db (cut)") if mlflow_db.looks_like_mlflow_db(db) else None
    if report is not None:
        for s in report.sources:
            assert_explained(s)


def test_a_view_posing_as_an_mlflow_table_is_never_queried(tmp_path: Path) -> None:
    db = _copy_db(tmp_path)
    con = sqlite3.connect(db)
    con.executescript(
        """
        DROP TABLE params;
        CREATE VIEW params AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
            SELECT 'r' AS run_uuid, 'k' AS key, x AS value FROM c;
        """
    )
    con.close()
    started = time.perf_counter()
    log, cfg = mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))
    assert time.perf_counter() - started < 10  # the endless view was not read
    assert cfg.raw == {} and log.scalars


def test_a_metrics_view_makes_it_not_an_mlflow_store(tmp_path: Path) -> None:
    db = _copy_db(tmp_path)
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE metrics; CREATE VIEW metrics AS SELECT 1 AS key;")
    con.close()
    assert not mlflow_db.looks_like_mlflow_db(db)
    with pytest.raises(UnreadableSource, match="metrics table"):
        mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))


def test_rows_that_are_not_numbers_cost_those_rows(tmp_path: Path) -> None:
    db = _copy_db(tmp_path)
    con = sqlite3.connect(db)
    run = con.execute("SELECT run_uuid FROM runs WHERE name = 'killed'").fetchone()[0]
    con.execute(
        "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('train_loss', 'abc', 5, 99, 0, ?)",
        (run,),
    )
    con.execute("UPDATE params SET value = ? WHERE key = 'optimizer'", ("x" * 200_000,))
    con.commit()
    con.close()
    log, cfg = mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))
    assert "1 metric row(s) not understood" in log.source.note
    assert all(len(str(v)) <= mlflow_db.PARAM_CHARS for v in cfg.raw.values())
    assert 99 not in log.scalars["train_loss"].steps


def test_a_journal_beside_the_database_is_read_from_a_private_copy(tmp_path: Path) -> None:
    db = _copy_db(tmp_path)
    (db.parent / "mlflow.db-journal").write_bytes(b"\x00" * 512)  # not a hot journal: SQLite ignores it
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    log, _ = mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))
    assert "private copy" in log.source.note and log.scalars
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before


def test_an_sqlite_file_of_another_schema_is_not_an_mlflow_store(tmp_path: Path) -> None:
    other = tmp_path / "cache.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE kv (k, v)")
    con.commit()
    con.close()
    (tmp_path / "train.log").write_text("step 1 loss 0.5\nstep 2 loss 0.4\n")
    r = run_cli("inspect", str(tmp_path))
    assert r.returncode == 0 and "cache.db" not in r.stdout


def test_garbage_named_mlflow_db_given_alone_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "mlflow.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    r = run_cli("analyze", str(bad))
    assert r.returncode == 2 and one_line(r.stderr)


def test_a_newer_run_without_metrics_is_listed_but_not_the_one_analysed(tmp_path: Path) -> None:
    db = _copy_db(tmp_path)
    con = sqlite3.connect(db)
    cols = "run_uuid, name, status, start_time, experiment_id, lifecycle_stage, source_type"
    con.execute(
        f"INSERT INTO runs ({cols}) VALUES ('f' || hex(randomblob(15)), 'empty', 'RUNNING', 9e12, 2, 'active', 'LOCAL')"
    )
    con.commit()
    con.close()
    log, _ = mlflow_db.read_mlflow_db(db, Source("mlflow.db", Kind.MLFLOW_DB))
    assert len(log.store_runs) == 4
    assert [r.name for r in log.store_runs if r.analysed] == ["sweep/killed"]
