"""The reader table: which reader reads each kind of file, and where its record goes.

Discovery (``forensics/discover.py``) names each file's :class:`~forensics.records.Kind`;
the loader (``forensics/load.py``) looks the kind up in :data:`READERS` and calls the
reader with one signature for all::

    read(path: Path, source: Source, root: Path) -> record

``path`` is the file, ``source`` its entry in the report's source list (the reader
returns it, with status ``partial`` and a note when it read only part), ``root`` the run
directory (a reader that follows references, like a sharded checkpoint's index, must
not leave it). A reader returns a frozen record of ``forensics/records.py`` or raises
:class:`~forensics.errors.UnreadableSource`; the loader puts the record in the
:class:`~forensics.load.RunData` list named by ``into``. A reader of a store that holds
several kinds of evidence (an MLflow database: metrics and params) returns a tuple of
records of the one source: the first goes into ``into``, each other into the list of
its type. Files named with ``--data``
go through the same table as ``Kind.DATA_SAMPLE``.

To add a reader: write ``readers/<format>.py`` with a function of that signature (or
one taking only ``(path, source)``, registered with ``takes_root=False``), add a
``Kind`` to ``records.py``, teach ``discover.py`` to recognise the file, and add one
row here. A kind that is recognised but deliberately not read gets a :class:`Skip`
row: it is listed in the report with its note.

Readers are imported on first use, so the CLI starts fast and a format's dependencies
are loaded only when a run holds such a file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics.records import Kind, Source


@dataclass(frozen=True)
class Reader:
    """A row of the table: the reader function (``"module:function"``) and the
    :class:`~forensics.load.RunData` list its record joins."""

    function: str
    into: str  # "events", "checkpoints", "logs", "trainer_states", "configs", "data_samples"
    takes_root: bool = False  # False: the function takes (path, source) only

    def read(self, path: Path, source: Source, root: Path) -> Any:
        module, name = self.function.split(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn(path, source, root) if self.takes_root else fn(path, source)


@dataclass(frozen=True)
class Skip:
    """A kind recognised but not read: listed as skipped, with the reason."""

    note: str


READERS: dict[Kind, Reader | Skip] = {
    Kind.EVENTS: Reader("forensics.readers.events:read_event_file", "events"),
    Kind.KERAS_H5: Reader("forensics.readers.keras:read_keras_h5", "checkpoints"),
    Kind.KERAS_ARCHIVE: Reader("forensics.readers.keras:read_keras_archive", "checkpoints"),
    Kind.SAFETENSORS: Reader("forensics.readers.safetensors:read_safetensors", "checkpoints"),
    Kind.SAFETENSORS_INDEX: Reader(
        "forensics.readers.safetensors:read_safetensors_index", "checkpoints", takes_root=True
    ),
    # a job log, and the settings its header states (readers/log_settings.py) as a ConfigData
    Kind.JOB_LOG: Reader("forensics.readers.log_settings:read_job_log_with_settings", "logs"),
    Kind.METRICS_CSV: Reader("forensics.readers.metrics_csv:read_metrics_csv", "logs"),
    Kind.METRICS_JSONL: Reader("forensics.readers.metrics_csv:read_jsonl_metrics", "logs"),
    Kind.MLFLOW_METRIC: Reader("forensics.readers.metrics_csv:read_mlflow_metric", "logs"),
    # a store holds metrics and params: the reader returns a LogData and a ConfigData
    Kind.MLFLOW_DB: Reader("forensics.readers.mlflow_db:read_mlflow_db", "logs"),
    Kind.WANDB_RUN: Reader("forensics.readers.wandb:read_wandb_run", "logs"),
    Kind.TRAINER_STATE: Reader("forensics.readers.trainer_state:read_trainer_state", "trainer_states"),
    Kind.CONFIG: Reader("forensics.readers.config:read_config", "configs"),
    Kind.MLFLOW_PARAM: Reader("forensics.readers.config:read_mlflow_param", "configs"),
    Kind.DATA_SAMPLE: Reader("forensics.readers.data:read_data_sample", "data_samples"),
    # torch.save files; other pickles (.pkl, .joblib) are listed as skipped by the reader itself
    Kind.PICKLE: Reader("forensics.readers.torch_checkpoint:read_torch_checkpoint", "checkpoints"),
    Kind.TRAINING_ARGS: Reader("forensics.readers.torch_checkpoint:read_training_args", "configs"),
    # a bundle is read through its .index; its .data-* shards are grouped under it by discovery
    Kind.TF_CHECKPOINT: Reader("forensics.readers.tf_checkpoint:read_tf_checkpoint", "checkpoints"),
    # a source with a note (latest, kept, missing), no record: it holds no tensors
    Kind.TF_CHECKPOINT_STATE: Reader("forensics.readers.tf_checkpoint:read_checkpoint_state", "checkpoints"),
    Kind.SAVED_MODEL: Skip("TensorFlow SavedModel graph: holds no training curve (its variables/ bundle is read)"),
}
