"""Metrics written as CSV by a training loop: Lightning's ``CSVLogger`` (``metrics.csv``:
``epoch,step,train_loss,...``), Keras' ``CSVLogger`` (``training.log``: ``epoch,loss,...``)
and hand-rolled loggers. These are training curves, not data samples.

The csv module does the parsing; what is ours is telling such a file from data (its
header names a loss and a step or epoch column) and turning columns into series.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from array import array
from pathlib import Path

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers.logmetrics import json_leaves
from forensics.readers.safe_open import open_binary, open_text
from forensics.records import LogData, ScalarSeries, Source, Status

# Metrics files are small; past this the file is read up to the cap and marked partial.
MAX_BYTES = 256 * 1024 * 1024
# "training_iteration": Ray Tune's counter (its progress.csv and result.json)
_STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "trainer/global_step", "training_iteration")
_EPOCH_COLUMNS = ("epoch",)
_LOSSY = re.compile(r"loss", re.IGNORECASE)
# Columns Ray Tune adds to every trial's progress.csv: such a file is the trial's metrics whatever it reports (a
# reward, an accuracy), never a data sample whose NaN would be NaN inputs.
_TUNE_COLUMNS = frozenset({"training_iteration", "trial_id", "time_total_s"})


def _header(line: str) -> list[str]:
    try:
        return [c.strip().lower() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


# Keras' History saved by pandas (pd.DataFrame(history.history).to_csv(...)): one row per epoch in order, no epoch
# column (with the index kept, an unnamed first column counting them from 0). Its columns are History's keys: each
# metric beside its 'val_' twin (loss and val_loss, accuracy and val_accuracy), the LR a callback logged alone.
_HISTORY_INDEX = ("", "unnamed: 0")
_HISTORY_LONE = ("lr", "learning_rate")


def history_columns(cols: list[str]) -> bool:
    """Whether a CSV header is a Keras History's keys (see above): 'loss' and 'val_loss' among them, and every other
    column a metric whose 'val_' twin is there too, the LR, or the index pandas kept first."""
    names = cols[1:] if cols and cols[0] in _HISTORY_INDEX else cols
    if "loss" not in names or "val_loss" not in names or len(set(names)) != len(names):
        return False
    present = set(names)
    return all(
        c in _HISTORY_LONE or (f"val_{c}" in present) or (c.startswith("val_") and c[4:] in present) for c in names
    )


def looks_like_metrics_csv(first_line: str) -> bool:
    """True when a CSV header names a loss and a step or epoch column, is a Ray Tune trial's progress.csv, or is a
    Keras History saved by pandas."""
    cols = _header(first_line)
    if set(cols) >= _TUNE_COLUMNS:
        return True
    has_axis = any(c in _STEP_COLUMNS or c in _EPOCH_COLUMNS for c in cols)
    return (has_axis and any(_LOSSY.search(c) for c in cols)) or history_columns(cols)


def sniff(path: Path) -> bool:
    """Read the first line of ``path`` and say whether it is a metrics CSV."""
    try:
        with open_text(path, encoding="utf-8", errors="replace") as f:
            return looks_like_metrics_csv(f.readline(4096))
    except OSError:
        return False


def _read_capped(path: Path) -> tuple[bytes, bool]:
    """The file's bytes up to MAX_BYTES, and whether it was longer."""
    try:
        with open_binary(path) as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    return raw[:MAX_BYTES], len(raw) > MAX_BYTES


def series_of(tag: str, run: str, source: str, steps: array, values: array, walls: array | None = None) -> ScalarSeries:
    """A series from the typed arrays a metrics reader filled (``q`` steps, ``d`` values and,
    where the writer recorded them, ``d`` wall times in seconds)."""
    return ScalarSeries(
        tag=tag,
        run=run,
        source=source,
        steps=np.frombuffer(steps, dtype=np.int64).copy(),
        values=np.frombuffer(values, dtype=np.float64).copy(),
        wall_times=np.full(len(steps), np.nan) if walls is None else np.frombuffer(walls, dtype=np.float64).copy(),
        segment=np.zeros(len(steps), dtype=np.int32),
    )


def _float(cell: str) -> float | None:
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell)  # accepts nan, inf, -inf, 1e+30
    except ValueError:
        low = cell.lower().rstrip(".0")
        if low in ("nan", "inf", "-inf", "+inf"):
            return float(low)
        return None


def read_metrics_csv(path: Path, source: Source) -> LogData:
    """Columns of a metrics CSV as series on its step column (or its epoch column, 0-based
    as Keras and Lightning write it, with the tag prefixed ``epoch_`` so the timeline maps
    it to steps)."""
    raw, truncated = _read_capped(path)
    text = raw.decode("utf-8", errors="replace")
    rows = csv.reader(io.StringIO(text))
    try:
        header = [c.strip() for c in next(rows)]
    except (StopIteration, csv.Error):
        raise UnreadableSource("empty CSV") from None
    lower = [c.lower() for c in header]
    step_col = next((lower.index(c) for c in _STEP_COLUMNS if c in lower), None)
    epoch_col = lower.index("epoch") if "epoch" in lower else None
    axis = step_col if step_col is not None else epoch_col
    history = axis is None and history_columns(lower)  # a Keras History: the rows are its epochs, from 0
    # ... and every key of it has a value at every epoch, so an empty cell is pandas' NaN (to_csv writes NaN as '',
    # its na_rep), not a metric left out of that row as a sparse logger's (Lightning's metrics.csv) is
    empty = math.nan if history else None
    if history and lower[0] in _HISTORY_INDEX:
        axis = 0  # ... counted by the index pandas kept
    elif axis is None and not history:
        raise UnreadableSource("no step or epoch column in the CSV header")
    by_epoch = step_col is None
    cols: dict[int, tuple[array, array]] = {i: (array("q"), array("d")) for i in range(len(header)) if i != axis}
    bad_rows = 0
    try:
        for n, row in enumerate(rows):
            if axis is None:
                a: float | None = float(n)
            elif len(row) <= axis:
                bad_rows += 1
                continue
            else:
                a = _float(row[axis])
            if a is None or not math.isfinite(a):
                bad_rows += 1
                continue
            # pandas writes a NaN epoch as a row of empty cells; a row with some cells filled is a sparse writer's
            blank = empty if all(not row[i].strip() for i in cols if i < len(row)) else None
            for i, (st, va) in cols.items():
                if i < len(row):
                    v = _float(row[i]) if row[i].strip() else blank
                    if v is not None:
                        st.append(int(a))
                        va.append(v)
    except csv.Error as e:
        truncated = True
        bad_rows += 1
        note_err = str(e)
    else:
        note_err = ""
    scalars: dict[str, ScalarSeries] = {}
    for i, (st, va) in cols.items():
        if not len(st) or i == epoch_col:
            continue
        tag = f"epoch_{header[i]}" if by_epoch else header[i]
        scalars[tag] = series_of(tag, "csv", source.path, st, va)
    if not scalars:
        raise UnreadableSource("no numeric metric columns in the CSV")
    src = source
    if truncated:
        reason = note_err or f"read up to {MAX_BYTES} bytes"
        src = dataclasses.replace(source, status=Status.PARTIAL, note=f"metrics CSV cut short: {reason}")
    steps = [int(s.steps.max()) for s in scalars.values() if len(s)]
    return LogData(
        source=src,
        scalars=scalars,
        events=(),
        last_step=max(steps) if steps else None,
        step_unit="epoch" if by_epoch else "step",
    )


def read_mlflow_metric(path: Path, source: Source) -> LogData:
    """An MLflow file-store metric (``mlruns/<exp>/<run>/metrics/<name>``): one line per
    logged point, ``<timestamp ms> <value> <step>``. The metric's name is the file name."""
    raw, truncated = _read_capped(path)
    steps, values, walls = array("q"), array("d"), array("d")
    bad = 0
    for line in raw.splitlines():
        parts = line.split()
        if len(parts) != 3:
            bad += 1
            continue
        try:
            ts, value, step = int(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            bad += 1
            continue
        steps.append(step)
        values.append(value)
        walls.append(ts / 1000.0)
    if not len(steps):
        raise UnreadableSource("no '<timestamp> <value> <step>' lines (not an MLflow metric file)")
    tag = path.name
    series = series_of(tag, "mlflow", source.path, steps, values, walls)
    src = source
    if truncated or bad:
        src = dataclasses.replace(
            source,
            status=Status.PARTIAL,
            note=f"{bad} malformed line(s) skipped" if not truncated else f"read up to {MAX_BYTES} bytes",
        )
    return LogData(source=src, scalars={tag: series}, events=(), last_step=int(series.steps.max()), step_unit="step")


# "training_iteration": Ray Tune's counter, on every line of a trial's result.json (it reports no "step")
_JSONL_STEP_KEYS = (
    "step",
    "global_step",
    "iteration",
    "iter",
    "train/global_step",
    "_step",
    "num_updates",
    "training_iteration",
)
# A metrics line may nest its values in objects (Ray Tune's result.json puts RLlib's losses under
# info/learner/<policy>/learner_stats): numbers down to this depth are read under their joined path.
MAX_JSONL_DEPTH = 6


def _flat_numbers(obj: dict) -> list[tuple[str, object]]:
    """(path, value) of every value of a metrics object, nested objects' values under 'outer/inner'
    (lists are no metrics: a histogram's samples, a per-episode list)."""
    return [(name, val) for name, val, _ in json_leaves(obj, MAX_JSONL_DEPTH)]


def _jsonl_axis(obj: dict) -> str | None:
    for k in _JSONL_STEP_KEYS:
        if isinstance(obj.get(k), (int, float)) and not isinstance(obj.get(k), bool):
            return k
    return "epoch" if isinstance(obj.get("epoch"), (int, float)) else None


def sniff_jsonl(path: Path) -> bool:
    """A JSON-lines metrics log (detectron2's metrics.json, mmcv's *.log.json, custom
    loggers): the first line is an object with a step and a loss."""
    import json

    try:
        with open_text(path, encoding="utf-8", errors="replace") as f:
            line = f.readline(65536)
        obj = json.loads(line)
    except (OSError, ValueError, RecursionError):  # RecursionError: a line of 100,000 "["
        return False
    if not isinstance(obj, dict) or _jsonl_axis(obj) is None:
        return False
    # a Tune trial's result.json is its metrics whatever it reports (a reward, an accuracy)
    return obj.keys() >= _TUNE_COLUMNS or any(_LOSSY.search(str(k)) for k, _ in _flat_numbers(obj))


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# A metrics line is one flat object; one holding more lists and objects than this is
# not one (100 KB of "[],": 35,000 lists) and is skipped before it is parsed.
MAX_LINE_CONTAINERS = 10_000


def read_jsonl_metrics(path: Path, source: Source) -> LogData:
    """Numeric fields of a JSON-lines metrics log as series on its step field (NaN and
    Infinity tokens, which Python writes for non-finite floats, are kept)."""
    import json

    raw, truncated = _read_capped(path)
    cols: dict[str, tuple[array, array]] = {}
    bad = 0
    axis_name = None
    for line in raw.splitlines():
        if not line.strip():
            continue
        # One bad line costs that line: nested past the recursion limit, a number past
        # float64 or int64 (a step of 1e300, a 400-digit integer), or not JSON at all.
        if line.count(b"[") + line.count(b"{") > MAX_LINE_CONTAINERS:
            bad += 1
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if not isinstance(obj, dict):
            bad += 1
            continue
        axis = _jsonl_axis(obj)
        if axis is None:
            continue  # e.g. an env-info header line, or an eval line without a step
        axis_name = axis_name or axis
        step = obj.get(axis_name, obj.get(axis))
        if not isinstance(step, (int, float)) or not _INT64_MIN <= step <= _INT64_MAX:  # NaN, inf: out too
            bad += 1
            continue
        try:
            values = [
                (str(k), float(v))
                for k, v in _flat_numbers(obj)
                if k != axis and not isinstance(v, bool) and isinstance(v, (int, float))
            ]
        except OverflowError:  # an integer past float64
            bad += 1
            continue
        for k, v in values:
            st, va = cols.setdefault(k, (array("q"), array("d")))
            st.append(int(step))
            va.append(v)
    by_epoch = axis_name == "epoch"
    scalars: dict[str, ScalarSeries] = {}
    for k, (st, va) in cols.items():
        tag = f"epoch_{k}" if by_epoch else k
        scalars[tag] = series_of(tag, "jsonl", source.path, st, va)
    if not scalars:
        raise UnreadableSource("no numeric fields with a step in the JSON lines")
    src = source
    if truncated or bad:
        note = (
            f"read up to {MAX_BYTES} bytes"
            if truncated
            else f"{bad} malformed line(s) skipped (not JSON, nested too deep, or a number out of range)"
        )
        src = dataclasses.replace(source, status=Status.PARTIAL, note=note)
    last = max(int(s.steps.max()) for s in scalars.values())
    return LogData(source=src, scalars=scalars, events=(), last_step=last, step_unit="epoch" if by_epoch else "step")
