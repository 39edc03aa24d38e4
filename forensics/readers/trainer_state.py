"""Read a Hugging Face ``trainer_state.json``: the Trainer's own log history.

Every entry of ``log_history`` is one ``Trainer.log`` call: training entries
(``loss``, ``grad_norm``, ``learning_rate``, ``epoch``), evaluation entries
(``eval_*``) and a final summary (``train_runtime``, ``train_loss``...). Each
numeric key becomes a series keyed by the entry's ``step``, named as the
Trainer names it (``loss``, ``grad_norm``, ``eval_loss``...).

Beware of what the Trainer hides: with its default
``logging_nan_inf_filter=True`` a NaN or Inf training loss is replaced by the
average of the finite ones, so a run that went NaN can log a perfectly finite
``loss`` while ``grad_norm`` is NaN. Non-finite values are therefore kept
exactly as written (Python's json reads the ``NaN``/``Infinity`` tokens the
Trainer writes).

A file cut short while the Trainer was writing it (a job killed during a
checkpoint) is read up to the last complete ``log_history`` entry, with the
source marked partial.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers.text import check_json_budget, read_capped_text
from forensics.records import ScalarSeries, Source, Status, TrainerState

MAX_BYTES = 512 * 1024 * 1024  # 100k log entries are ~20 MB; anything past this is not a trainer state
RUN_NAME = "trainer_state"
# summary keys of the end-of-training entry: averages over the whole run, not points
_SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"})
_NOT_SERIES = frozenset({"step", "total_flos"})
_NOT_SERIES_SUFFIXES = ("_runtime", "_per_second")  # eval timing: not a training signal


def read_trainer_state(path: Path, source: Source) -> TrainerState:
    """Parse one ``trainer_state.json`` into series and run facts."""
    text = read_capped_text(path, "trainer_state.json", MAX_BYTES)
    check_json_budget(text, "trainer_state.json")
    status, note = Status.OK, None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        history = _salvage_history(text)
        if not history:
            raise UnreadableSource(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
        data = {"log_history": history}
        status = Status.PARTIAL
        note = f"malformed JSON at line {e.lineno}: read the {len(history)} complete log_history entries before it"
    except RecursionError as e:
        raise UnreadableSource("JSON nested too deeply") from e
    if not isinstance(data, dict):
        raise UnreadableSource(f"trainer_state.json holds a {type(data).__name__}, not an object")
    history = data.get("log_history")
    if history is None:
        history = []
        status, note = Status.PARTIAL, "no log_history in the file"
    elif not isinstance(history, list):
        raise UnreadableSource("log_history is not a list")
    scalars, skipped = _series(history, source.path)
    if skipped and status is Status.OK:
        status, note = Status.PARTIAL, f"{skipped} log_history entries without a usable step were skipped"
    src = dataclasses.replace(source, status=status, note=note) if status is not Status.OK else source
    best = data.get("best_model_checkpoint")
    checkpoints = (str(best),) if isinstance(best, str) and best else ()
    return TrainerState(
        source=src,
        scalars=scalars,
        global_step=_as_int(data.get("global_step")),
        epoch=_as_float(data.get("epoch")),
        best_metric=_as_float(data.get("best_metric")),
        checkpoints=checkpoints,
        logging_nan_inf_filter=None,  # lives in training_args.bin (a pickle), not here
        max_steps=_as_int(data.get("max_steps")),
        num_train_epochs=_as_float(data.get("num_train_epochs")),
        logging_steps=_as_int(data.get("logging_steps")),
        best_global_step=_as_int(data.get("best_global_step")),
        summary=any(isinstance(h, dict) and bool(_SUMMARY_KEYS & h.keys()) for h in history),
    )


def _series(history: list[Any], source: str) -> tuple[dict[str, ScalarSeries], int]:
    """Columns per key, in history order (a resumed run's history can step back: kept, segmented)."""
    cols: dict[str, tuple[list[int], list[float]]] = {}
    skipped = 0
    for entry in history:
        if not isinstance(entry, dict):
            skipped += 1
            continue
        step = _as_int(entry.get("step"))
        if step is None:
            skipped += 1
            continue
        if _SUMMARY_KEYS & entry.keys():
            continue
        for key, value in entry.items():
            if key in _NOT_SERIES or str(key).endswith(_NOT_SERIES_SUFFIXES):
                continue
            v = _as_float(value)
            if v is None:
                continue
            steps, values = cols.setdefault(str(key), ([], []))
            steps.append(step)
            values.append(v)
    scalars = {}
    for key, (steps, values) in cols.items():
        s = np.asarray(steps, dtype=np.int64)
        segment = np.zeros(s.shape[0], np.int32)
        if s.shape[0] > 1:
            segment[1:] = np.cumsum(np.diff(s) < 0)
        scalars[key] = ScalarSeries(
            tag=key,
            run=RUN_NAME,
            source=source,
            steps=s,
            values=np.asarray(values, dtype=np.float64),
            wall_times=np.full(s.shape[0], np.nan),
            segment=segment,
        )
    return scalars, skipped


def _salvage_history(text: str) -> list[Any]:
    """The complete entries of ``log_history`` in a file cut mid-way."""
    m = re.search(r'"log_history"\s*:\s*\[', text)
    if not m:
        return []
    decoder = json.JSONDecoder()
    pos = m.end()
    out: list[Any] = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            return out
        out.append(entry)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_int(value: Any) -> int | None:
    v = _as_float(value)
    if v is None or not math.isfinite(v):
        return None
    return int(v)
