"""MLflow's SQLite tracking store (``mlflow.db``, MLflow 3's default backend): every run's
metrics, params, tags and status, read with the standard library's sqlite3.

What MLflow writes (``mlflow/store/tracking/sqlalchemy_store.py``, ``dbmodels/models.py``):

- ``metrics(key, value, timestamp, step, is_nan, run_uuid)``: SQL has no NaN, so a NaN is
  stored as ``value = 0`` with ``is_nan = 1``, and ±infinity as ±1.7976931348623157e308
  (the largest float64; ``sanitize_metric_value``). Both are turned back here.
- ``runs(run_uuid, name, status, start_time, end_time, experiment_id, lifecycle_stage)``:
  ``status`` is RUNNING until the run is closed; ``mlflow.start_run()`` closes it FAILED
  when its block raises. A process killed (or crashed too hard to unwind) leaves it
  RUNNING, and it is reported as such: the store cannot tell a live job from a dead one.
- ``params(key, value, run_uuid)``, ``tags(key, value, run_uuid)``,
  ``experiments(experiment_id, name)``.

A database holds many runs, of many experiments. Each is kept apart (its own series,
params and status, listed by ``inspect``); the timeline follows one: the newest run
not deleted that logged a metric, the one a user asking about "the run" most likely means.

Nothing is written beside the database (see :func:`_connect`), nothing of its schema
runs (``trusted_schema`` off, no extensions, only plain tables read), and every query
is bounded in rows and time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from array import array
from collections.abc import Iterator
from pathlib import Path

from forensics.errors import UnreadableSource
from forensics.readers.config import extract_settings, mlflow_param_value
from forensics.readers.metrics_csv import series_of
from forensics.readers.safe_open import fd_path, open_fd
from forensics.records import ConfigData, LogData, Source, Status, StoreRun

SQLITE_MAGIC = b"SQLite format 3\x00"
# MLflow's stand-in for ±infinity (sanitize_metric_value): no real metric is exactly this.
MLFLOW_INF = 1.7976931348623157e308
# A tracking database of a long project holds a few million metric points; past this many
# the rest is not read (the source says so). 5M rows cost ~5 s and ~200 MB to read.
MAX_METRIC_ROWS = 5_000_000
MAX_RUNS = 10_000  # runs listed; past this the database is a whole team's server
MAX_PARAM_ROWS = 200_000
MAX_TAG_ROWS = 200_000
PARAM_CHARS = 4096  # MLflow caps a param at 8000 characters (6000 before 2.x); the head is enough
TAG_CHARS = 1024
# All queries together get this long; a hostile schema (a view over a recursive CTE posing
# as a table is refused, but a table can still be huge) cannot stall the analysis.
QUERY_SECONDS = 60.0
# A database copied to read its write-ahead log (see _connect) is at most this large.
MAX_COPY_BYTES = 8 * 1024**3

_NEEDED_TABLES = ("runs", "metrics")


class _Deadline:
    """sqlite3 progress handler: a non-zero return interrupts the running statement."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def __call__(self) -> int:
        return 1 if time.monotonic() > self.until else 0


def looks_like_mlflow_db(path: Path) -> bool:
    """An SQLite database whose schema holds MLflow's tables (runs, metrics, experiments).

    The schema is read from the file as it is on disk (immutable, so nothing is created
    beside it), in at most a second.
    """
    try:
        fd = open_fd(path)
    except OSError:
        return False
    try:
        if os.pread(fd, len(SQLITE_MAGIC), 0) != SQLITE_MAGIC:
            return False
        uri = f"file:{urllib.parse.quote(fd_path(fd, path))}?mode=ro&immutable=1"
        con = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            con.execute("PRAGMA trusted_schema=OFF")
            con.set_progress_handler(_Deadline(1.0), 1000)
            names = {str(n) for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 10000")}
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return False
    finally:
        os.close(fd)
    return {"runs", "metrics", "experiments"} <= names


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[tuple[sqlite3.Connection, str | None]]:
    """A read-only connection to the database at ``path``, and a note when it was read as
    a private copy. Nothing is ever created or changed beside the database.

    - Without a ``-wal`` or ``-journal`` file beside it, the file is opened in place with
      ``mode=ro&immutable=1``: SQLite then takes no locks and looks for no journal, so it
      creates nothing (a read-only connection otherwise still creates ``-shm``).
    - With one, the database is mid-transaction (a hot rollback journal) or has committed
      pages only in its write-ahead log (a live or killed writer in WAL mode). Reading them
      right needs SQLite to roll back or to build the WAL index in ``-shm``, which it
      creates, and maps read-write, beside the database even for a read-only connection. So
      the database and that file are copied into a private temporary folder and the copy is
      read there; the copy is deleted afterwards.
    """
    fd = open_fd(path)  # the very file discovery found (no symlink, no swap)
    tmp: str | None = None
    try:
        head = os.pread(fd, len(SQLITE_MAGIC), 0)
        if head != SQLITE_MAGIC:
            raise UnreadableSource("not an SQLite database (no 'SQLite format 3' header)")
        sidecars = []
        for suffix in ("-wal", "-journal"):
            side = Path(f"{path}{suffix}")
            try:
                st = os.lstat(side)
            except OSError:
                continue
            if st.st_size > 0:
                sidecars.append((suffix, side))
        note = None
        if not sidecars:
            uri = f"file:{urllib.parse.quote(fd_path(fd, path))}?mode=ro&immutable=1"
            con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            tmp = tempfile.mkdtemp(prefix="forensics-sqlite-")
            copy = Path(tmp) / "store.db"
            _copy_fd(fd, copy, MAX_COPY_BYTES)
            for suffix, side in sidecars:
                try:
                    side_fd = open_fd(side)  # a symlinked -wal is not followed out of the run
                except OSError as e:
                    raise UnreadableSource(f"its {suffix} file cannot be read: {e.strerror or e}") from None
                try:
                    _copy_fd(side_fd, Path(f"{copy}{suffix}"), MAX_COPY_BYTES)
                finally:
                    os.close(side_fd)
            note = f"read with its {' and '.join(s for s, _ in sidecars)} file, from a private copy"
            con = sqlite3.connect(copy, isolation_level=None, check_same_thread=False)
        try:
            con.execute("PRAGMA trusted_schema=OFF")  # no SQL function of the schema runs
            con.execute("PRAGMA query_only=ON")
            con.set_progress_handler(_Deadline(QUERY_SECONDS), 10_000)
            yield con, note
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UnreadableSource(f"SQLite: {_sqlite_message(e)}") from None
    finally:
        os.close(fd)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _sqlite_message(e: sqlite3.Error) -> str:
    text = str(e) or type(e).__name__
    if text == "interrupted":
        return f"queries took longer than {QUERY_SECONDS:.0f} s: not read further"
    return text


def _copy_fd(fd: int, dest: Path, limit: int) -> None:
    size = os.fstat(fd).st_size
    if size > limit:
        raise UnreadableSource(f"larger than {limit} bytes: not copied to read its journal")
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(1 << 20, size - offset), offset)
            if not chunk:
                break
            os.write(out, chunk)
            offset += len(chunk)
    finally:
        os.close(out)


def _tables(con: sqlite3.Connection) -> dict[str, str]:
    rows = con.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")
    return {str(n): str(t) for n, t in rows}


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in con.execute(f"PRAGMA table_info({table})")}  # table: one of ours, not input


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:limit]


def _metric_value(value: object, is_nan: object) -> float | None:
    """MLflow's stored value as the number logged: is_nan -> NaN, ±float64 max -> ±inf."""
    if is_nan:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # a hand-edited or hostile row
    v = float(value)
    if v == MLFLOW_INF:
        return math.inf
    if v == -MLFLOW_INF:
        return -math.inf
    return v


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    v = int(value)
    return v if -(2**63) <= v < 2**63 else None


def read_mlflow_db(path: Path, source: Source) -> tuple[LogData, ConfigData]:
    """Every run of an MLflow SQLite store; the newest run's metrics and params feed the
    analysis (a :class:`LogData` and a :class:`ConfigData` for the same source)."""
    notes: list[str] = []
    with _connect(path) as (con, copy_note):
        if copy_note:
            notes.append(copy_note)
        tables = _tables(con)
        missing = [t for t in _NEEDED_TABLES if tables.get(t) != "table"]
        if missing:
            raise UnreadableSource(f"an SQLite database without MLflow's {', '.join(missing)} table(s)")
        experiments: dict[object, str] = {}
        if tables.get("experiments") == "table":
            for exp_id, name in con.execute(f"SELECT experiment_id, name FROM experiments LIMIT {MAX_RUNS}"):
                experiments[exp_id] = _text(name, 256)
        run_cols = _columns(con, "runs")
        wanted = ("run_uuid", "name", "status", "start_time", "end_time", "experiment_id", "lifecycle_stage")
        select = ", ".join(c if c in run_cols else "NULL" for c in wanted)
        if "run_uuid" not in run_cols:
            raise UnreadableSource("an SQLite database whose runs table has no run_uuid column: not MLflow's")
        runs: dict[str, dict] = {}
        for row in con.execute(f"SELECT {select} FROM runs LIMIT {MAX_RUNS + 1}"):
            if len(runs) == MAX_RUNS:
                notes.append(f"more than {MAX_RUNS} runs: the rest not read")
                break
            rid = _text(row[0], 64)
            start, end = _int(row[3]), _int(row[4])
            runs[rid] = {
                "name": _text(row[1], 250),
                "status": _text(row[2], 20) or "unknown",
                "start": start / 1000.0 if start is not None else None,
                "end": end / 1000.0 if end is not None else None,
                "experiment": experiments.get(row[5], _text(row[5], 64)),
                "deleted": _text(row[6], 20) == "deleted",
                "cols": {},
                "params": {},
                "tags": {},
            }
        metric_cols = _columns(con, "metrics")
        is_nan = "is_nan" if "is_nan" in metric_cols else "0"
        rows = 0
        bad = 0
        cursor = con.execute(
            f"SELECT run_uuid, key, step, value, {is_nan}, timestamp FROM metrics "
            f"ORDER BY run_uuid, key, step, timestamp LIMIT {MAX_METRIC_ROWS + 1}"
        )
        for run_uuid, key, step, value, nan_flag, ts in cursor:
            rows += 1
            if rows > MAX_METRIC_ROWS:
                notes.append(f"more than {MAX_METRIC_ROWS:,} metric points: the rest not read")
                break
            run = runs.get(_text(run_uuid, 64))
            v = _metric_value(value, nan_flag)
            s = _int(step) if step is not None else 0
            if run is None or v is None or s is None:
                bad += 1
                continue
            cols = run["cols"].setdefault(_text(key, 250), (array("q"), array("d"), array("d")))
            cols[0].append(s)
            cols[1].append(v)
            t = _int(ts)
            cols[2].append(t / 1000.0 if t is not None else math.nan)
        if bad:
            notes.append(f"{bad} metric row(s) not understood (no such run, or a value that is not a number)")
        for table, limit, chars, slot in (
            ("params", MAX_PARAM_ROWS, PARAM_CHARS, "params"),
            ("tags", MAX_TAG_ROWS, TAG_CHARS, "tags"),
        ):
            if tables.get(table) != "table":
                continue
            for run_uuid, key, value in con.execute(
                f"SELECT run_uuid, key, substr(value, 1, {chars}) FROM {table} LIMIT {limit}"
            ):
                run = runs.get(_text(run_uuid, 64))
                if run is not None:
                    run[slot][_text(key, 250)] = _text(value, chars)

    if not runs:
        raise UnreadableSource("an MLflow database with no runs")
    live = [rid for rid, r in runs.items() if not r["deleted"]] or list(runs)
    # the newest run that logged a metric (a run opened after the failure and left empty
    # is not the one a user asks about), else the newest
    logged = [rid for rid in live if runs[rid]["cols"]] or live
    subject = max(logged, key=lambda rid: (runs[rid]["start"] or 0.0, rid))
    store_runs = []
    for rid, r in runs.items():
        label = f"{r['experiment']}/{r['name'] or rid}"
        scalars = {key: series_of(key, "mlflow", source.path, *cols) for key, cols in r["cols"].items()}
        store_runs.append(
            StoreRun(
                id=rid,
                name=label,
                experiment=r["experiment"],
                status=r["status"],
                scalars=scalars,
                params=r["params"],
                tags=r["tags"],
                start_time=r["start"],
                end_time=r["end"],
                analysed=rid == subject,
            )
        )
    chosen = next(s for s in store_runs if s.analysed)
    experiments_seen = len({s.experiment for s in store_runs})
    if len(store_runs) > 1:
        notes.insert(
            0,
            f"{len(store_runs)} runs in {experiments_seen} experiment(s); analysed: the newest, '{chosen.name}' "
            f"({chosen.status})",
        )
    else:
        notes.insert(0, f"run '{chosen.name}' ({chosen.status})")
    if chosen.status == "RUNNING":
        notes.append("its run is still RUNNING: the job is alive, or died without closing it (killed)")
    partial = any(n.startswith("more than") for n in notes)
    src = dataclasses.replace(source, status=Status.PARTIAL if partial else source.status, note="; ".join(notes))
    steps = [int(s.steps.max()) for s in chosen.scalars.values() if len(s)]
    log = LogData(
        source=src,
        scalars=dict(chosen.scalars),
        events=(),
        # start_run() closes a run FAILED when its block raised: the job died on an error
        died_with_exception=chosen.status == "FAILED",
        last_step=max(steps) if steps else None,
        step_unit="step",
        store_runs=tuple(store_runs),
        store_status=chosen.status,
    )
    params = {k: mlflow_param_value(v) for k, v in chosen.params.items()}
    config = dataclasses.replace(extract_settings(params), source=src, raw=params)
    return log, config
