"""Plain typed records passed between the layers.

discover -> readers -> timeline -> rules -> diagnose -> report. Every layer
speaks in these frozen dataclasses; none of them touches a file except the
readers. Series are columnar (numpy arrays per tag), never an object per event:
runs hold millions of events.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import field
from enum import Enum
from typing import Any

import numpy as np

from forensics.frozen import frozen_dataclass
from forensics.median import median

STEP_MAX = 2**63 - 1  # steps live in int64 columns; a step past this is a damaged number


class Status(str, Enum):
    OK = "ok"
    PARTIAL = "partial"
    UNREADABLE = "unreadable"
    SKIPPED = "skipped"

    def __str__(self) -> str:  # so f-strings print "ok", not "Status.OK"
        return self.value


class Kind(str, Enum):
    EVENTS = "tfevents"
    KERAS_H5 = "keras_h5"
    KERAS_ARCHIVE = "keras_archive"
    SAFETENSORS = "safetensors"
    SAFETENSORS_INDEX = "safetensors_index"
    JOB_LOG = "job_log"
    TRAINER_STATE = "trainer_state"
    TRAINING_ARGS = "training_args"  # Hugging Face training_args.bin: TrainingArguments, torch.save'd
    CONFIG = "config"
    DATA_SAMPLE = "data_sample"
    PICKLE = "pickle_checkpoint"
    METRICS_CSV = "metrics_csv"  # CSVLogger output: training curves, not data
    METRICS_JSONL = "metrics_jsonl"  # JSON-lines metrics logs (detectron2 metrics.json, mmcv *.log.json)
    MLFLOW_METRIC = "mlflow_metric"  # mlruns/<exp>/<run>/metrics/<name>: "timestamp value step" lines
    MLFLOW_PARAM = "mlflow_param"  # mlruns/<exp>/<run>/params/<name>: one value
    MLFLOW_DB = "mlflow_db"  # MLflow's SQLite store (mlflow.db, MLflow 3's default backend)
    WANDB_RUN = "wandb_run"  # W&B's binary run log (wandb/run-<date>-<id>/run-<id>.wandb)
    TF_CHECKPOINT = "tf_checkpoint"  # tf.train.Checkpoint / Saver bundle (.index + .data-*)
    TF_CHECKPOINT_STATE = "tf_checkpoint_state"  # the `checkpoint` file beside the bundles: latest and kept
    SAVED_MODEL = "saved_model"  # TensorFlow SavedModel graph

    def __str__(self) -> str:
        return self.value


@frozen_dataclass
class Source:
    """One artifact found in the run directory, read or not."""

    path: str  # relative to the run dir, POSIX separators
    kind: Kind
    status: Status = Status.OK
    note: str | None = None  # one line; required when status is not ok
    size: int = 0
    group: str = ""  # sub-run of an event file ("train", "validation"), or the shard set


# ---------------------------------------------------------------- series


@frozen_dataclass
class ScalarSeries:
    """One scalar tag of one sub-run, in file order (restarts kept, not purged).

    ``segment[i]`` numbers the restart segment the point was written in (0 for
    the first); a step logged twice can be told apart by it.
    """

    tag: str
    run: str
    source: str
    steps: np.ndarray  # int64
    values: np.ndarray  # float64 (non-finite kept as is)
    wall_times: np.ndarray  # float64 seconds since epoch; NaN where unknown
    segment: np.ndarray  # int32

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@frozen_dataclass
class HistogramSeries:
    """A histogram tag summarised per logged step."""

    tag: str
    run: str
    source: str
    steps: np.ndarray  # int64
    wall_times: np.ndarray  # float64
    min: np.ndarray  # float64
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray  # float64 (bucket counts may be fractional in TF2)
    nonfinite: np.ndarray  # bool: any bucket edge, count, sum or moment non-finite

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@frozen_dataclass
class Restart:
    """The step counter went backwards inside one event file or sub-run."""

    run: str
    source: str
    from_step: int  # last step before the rewind
    to_step: int  # first step after it
    wall_time: float


@frozen_dataclass
class TextEntry:
    """One text summary of an event file (a tag, a step and its text)."""

    tag: str
    step: int
    text: str


@frozen_dataclass
class EventFileData:
    """What one ``events.out.tfevents.*`` file holds."""

    source: Source
    run: str
    scalars: dict[str, ScalarSeries]
    histograms: dict[str, HistogramSeries]
    texts: tuple[TextEntry, ...] = ()
    hparams: dict[str, Any] = field(default_factory=dict)
    restarts: tuple[Restart, ...] = ()
    records: int = 0  # valid records decoded
    skipped_records: int = 0  # records lost to corruption (lower bound)
    skipped_bytes: int = 0
    checksums_verified: bool = True  # False when the writer stored no real CRCs


# ---------------------------------------------------------------- tensors


@frozen_dataclass
class TensorStats:
    """Streaming statistics of one tensor. Moments are over the finite elements."""

    name: str  # full name as stored
    layer: str  # layer the tensor belongs to, in model terms
    dtype: str  # "float32", "bfloat16", "float8_e4m3fn", "int64", ...
    shape: tuple[int, ...]
    numel: int
    nan: int
    posinf: int
    neginf: int
    zeros: int
    min: float
    max: float
    absmax: float
    mean: float
    std: float
    l2: float  # sqrt(sum of squares of finite elements)

    @property
    def nonfinite(self) -> int:
        return self.nan + self.posinf + self.neginf

    @property
    def finite(self) -> int:
        return self.numel - self.nonfinite

    @property
    def zero_frac(self) -> float:
        return self.zeros / self.numel if self.numel else math.nan


@frozen_dataclass
class LayerInfo:
    """One layer as a model's stored config describes it."""

    name: str
    class_name: str | None = None  # "Dense", "Conv2D", ...
    units: int | None = None  # output width where the config says
    activation: str | None = None


@frozen_dataclass
class ModelInfo:
    """What a checkpoint or config says about the model, where it says it."""

    framework: str | None = None  # "keras2", "keras3", "transformers", ...
    layers: tuple[LayerInfo, ...] = ()
    output_units: int | None = None
    output_activation: str | None = None
    loss: str | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    iterations: int | None = None  # optimizer step count stored in the file
    dtype_policy: str | None = None  # "mixed_float16", "float32", ...


@frozen_dataclass
class ParamGroup:
    """One parameter group of a saved optimizer: its hyper-parameters as stored."""

    lr: float | None
    params: int  # parameters in the group
    momentum: float | None = None
    betas: tuple[float, ...] | None = None
    eps: float | None = None
    weight_decay: float | None = None
    initial_lr: float | None = None  # set by LR schedulers


@frozen_dataclass
class LayerUpdate:
    """The size of the next optimizer step of one layer, from the optimizer's saved state.

    For Adam: lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections of the stored
    step; for SGD with momentum: lr * ||momentum buffer||.
    """

    layer: str
    update_l2: float  # L2 norm of the step the optimizer would take next
    weight_l2: float | None  # L2 norm of the layer's weights in the same file, when known
    near_eps: float | None = None  # Adam: fraction of elements with sqrt(v_hat) below NEAR_EPS_FACTOR * eps
    kind: str = "adam"  # "adam" | "sgd_momentum"

    @property
    def ratio(self) -> float | None:
        """Update size relative to the weights."""
        if self.weight_l2 is None or not self.weight_l2 > 0:
            return None
        return self.update_l2 / self.weight_l2


@frozen_dataclass
class OptimizerState:
    """What a saved optimizer (and the scheduler and loss scaler saved beside it) holds."""

    name: str | None  # "adam", "sgd", ... as told by its state; None when it cannot be told
    step: int | None  # the optimizer's step counter
    groups: tuple[ParamGroup, ...] = ()
    layers: tuple[LayerUpdate, ...] = ()
    scheduler: dict[str, Any] = field(default_factory=dict)  # plain data: last_epoch, _last_lr, ...
    loss_scale: float | None = None  # AMP GradScaler's scale, when saved


@frozen_dataclass
class Checkpoint:
    """One logical checkpoint (a sharded set reads as one)."""

    source: Source  # the file, or the index file of a sharded set
    format: str  # "keras2_h5", "keras2_weights_h5", "keras3_weights_h5", "keras_archive", "safetensors"
    step: int | None
    step_origin: str | None  # "name", "folder", "internal", "epoch" (step is an epoch number), or None
    epoch: int | None
    tensors: tuple[TensorStats, ...]  # model weights, in model order
    optimizer_tensors: tuple[TensorStats, ...] = ()
    model: ModelInfo | None = None
    shards: tuple[str, ...] = ()  # relative paths of the shard files
    metadata: dict[str, str] = field(default_factory=dict)  # safetensors __metadata__, as stored
    optimizer: OptimizerState | None = None  # a saved optimizer's state (PyTorch checkpoints)


# ---------------------------------------------------------------- other evidence


# The message of the "exception" event of a log that ends inside a traceback, before its
# exception line: there is no exception to quote.
CUT_TRACEBACK = "traceback cut before its exception line"


# The framework of a log event read by a catalogue entry that knows a family's message in any words, not one
# framework's text (a project's own NaN check, a trainer's statement that its loss is NaN)
ANY_FRAMEWORK = "any"


@frozen_dataclass
class LogEvent:
    """A framework message the job log printed: what was seen, not what it means.

    ``kind`` is the message family (one of ``readers.logs.EVENT_KINDS``); the typed
    fields hold what the message names, when it names it. What a family means (the
    contract cause and detail, the fix) is decided by the rules, in
    ``forensics/rules/messages.py``."""

    kind: str  # message family, e.g. "label_out_of_range", "nonfinite_gradient", "oom", "exception"
    message: str  # the line as printed (ANSI stripped), trimmed
    line: int  # 1-based line number in the log
    step: int | None = None
    # who printed it: "tensorflow", "pytorch", "keras", "lightning", "deepspeed", ...; ANY_FRAMEWORK for a catalogue
    # entry that reads a family's message in any words
    framework: str | None = None
    label: int | None = None  # the offending label / target value
    classes: int | None = None  # the valid label range is [0, classes)
    op: str | None = None  # the op (TF) or backward function (torch) that produced a non-finite value
    values: dict[str, Any] = field(default_factory=dict)  # anything else it names: {"count": 3, "tensor": ...}
    traceback: tuple[str, ...] = ()  # last frames and the message


@frozen_dataclass
class StoreRun:
    """One run of a metrics store (an MLflow database holds many; a W&B file one), as the
    store records it. Only the analysed run's series reach the timeline; the others are
    listed by ``inspect``."""

    id: str
    name: str
    experiment: str  # MLflow experiment or W&B project, "" when not recorded
    status: str  # the store's own word: RUNNING, FINISHED, FAILED, KILLED (MLflow); "exit 1" (W&B)
    scalars: dict[str, ScalarSeries]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    start_time: float | None = None  # seconds since the epoch
    end_time: float | None = None
    exit_code: int | None = None  # W&B's exit record
    analysed: bool = False  # its series are the LogData's scalars


@frozen_dataclass
class Plan:
    """The optimizer steps a job said it would train, as its trainer printed or its config states."""

    steps: int
    how: str  # what stated it ("'Total optimization steps = 160'", "max_steps: 80")
    summary: bool = False  # the trainer printed its end-of-training summary (the job returned from train())


@frozen_dataclass
class LogData:
    """What one job log, metrics file or store gave: its scalar series and the notable lines."""

    source: Source
    scalars: dict[str, ScalarSeries]  # tag -> series (run "log")
    events: tuple[LogEvent, ...]
    died_with_exception: bool = False
    last_step: int | None = None
    # added by the log reader: what the steps of the series count. "step" (global
    # optimiser steps), "epoch" (only per-epoch lines), "log_index" (Hugging Face
    # dict lines numbered in log order, see with_steps_from_epochs below)
    step_unit: str | None = None
    steps_per_epoch: int | None = None  # when the log shows it (Keras "8/8", a bar's total)
    # the series of a log whose other series count steps that count epochs instead (per-epoch
    # lines beside per-step ones: their tag has an "_epoch" suffix)
    epoch_tags: frozenset[str] = frozenset()
    # metrics stores (MLflow database, W&B run file): every run they hold, and how the
    # analysed one ended by the store's own record ("RUNNING" for a job that died
    # without closing its run: killed, or crashed too hard to say so)
    store_runs: tuple[StoreRun, ...] = ()
    store_status: str | None = None
    exit_code: int | None = None
    plan: Plan | None = None  # the planned optimizer steps the trainer printed (HF's total, Keras's epochs)
    # the series whose steps the reader worked out rather than read from a counter of global steps: epochs
    # before x an epoch's length + the count within the epoch (a batch counter, a per-epoch bar, Keras's
    # 'Epoch i/N' and its bar), an HF dict line's epoch x steps per epoch, a position in the log. Such steps
    # are global steps only as far as the epoch's numbering and length were guessed right.
    inferred_tags: frozenset[str] = frozenset()
    # the log printed a classification rate in percent (an accuracy or an error rate) on a line with its loss: the
    # loss is a classifier's (readers/logs.py, _PERCENT_RATE)
    classifier_rate: bool = False
    # the names of metrics the log printed with no step counter among lines that count steps, which could not be
    # placed beside them (and printed a value above zero): kept by name, for what they say of the model
    unplaced_tags: frozenset[str] = frozenset()


@frozen_dataclass
class ConfigData:
    """Normalised training settings found in a config file or hparams."""

    source: Source
    learning_rate: float | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    grad_clip: float | None = None  # None: not set; 0: explicitly off
    mixed_precision: str | None = None  # "fp16", "bf16", None
    loss: str | None = None
    num_classes: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # what places an optimizer step on the data (forensics/batches.py)
    grad_accum: int | None = None  # micro-batches per optimizer step
    world_size: int | None = None  # data-parallel processes
    num_samples: int | None = None  # samples in the training set
    seed: int | None = None  # the data order's seed (Hugging Face: data_seed, else seed)
    drop_last: bool | None = None
    sampler: str | None = None  # "sequential", "random", or another strategy's name
    seed_per_epoch: bool | None = None  # accelerate's seedable sampler: epoch e shuffles with seed + e
    warmup: float | None = None  # the LR warmup's length as written (steps, epochs or a ratio)
    lr_step_factor: float | None = None  # what a step/multistep schedule multiplies the LR by at each milestone
    max_steps: int | None = None  # the optimizer steps the run was set to train, when stated as steps
    # what else the setup says (timeline.Setup): SGD's momentum, the smallest epsilon an optimizer or
    # a normalisation states (and its key), the float16 precision as written ("16-mixed", "float16"...),
    # a loss scaler stated on/off, the model's name, and a class count stated as such (num_classes,
    # num_labels, a label map; not a language model's vocabulary)
    momentum: float | None = None
    epsilon: float | None = None
    epsilon_key: str | None = None
    precision_written: str | None = None
    loss_scaling: bool | None = None
    model_name: str | None = None
    classes_stated: int | None = None


@frozen_dataclass
class ArrayStats:
    """Statistics of one array of a data sample."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nan: int
    posinf: int
    neginf: int
    min: float
    max: float
    mean: float
    std: float
    nonfinite_rows: tuple[int, ...] = ()  # first rows holding NaN/Inf (capped)
    # added by the data reader: "features" (what the model is fed), "labels", or "other"
    role: str = ""
    # the most consecutive rows over which one position of the row (a feature) kept the same
    # finite value, and where that run starts (0, None for a 1-D array or no rows)
    constant_run: int = 0
    constant_run_row: int | None = None


@frozen_dataclass
class LabelStats:
    """The integer labels of a data sample: their range and counts."""

    array: str
    min: int
    max: int
    negative: int  # count of labels < 0
    classes: dict[int, int]  # label -> count (capped to the most frequent)
    out_of_range_rows: tuple[int, ...] = ()  # filled when the output width is known
    # added by the data reader, so rows can be named once the width is known
    # (readers.data.labels_out_of_range): (row, value) for the first negative labels and
    # the first rows of each of the largest distinct values
    extreme_rows: tuple[tuple[int, int], ...] = ()
    count: int = 0  # labels read
    classes_complete: bool = True  # False when ``classes`` was capped (extremes always kept)


@frozen_dataclass
class DataSample:
    """A data file of the run (or named with --data): its arrays, and its labels if it holds some."""

    source: Source
    arrays: tuple[ArrayStats, ...]
    labels: LabelStats | None = None


@frozen_dataclass
class LabelRangeCheck:
    """Labels outside ``[0, width)`` for a model with ``width`` outputs."""

    width: int
    count: int  # labels out of range (negative ones included)
    negative: int
    values: tuple[int, ...]  # the distinct offending values (the extremes kept), sorted
    rows: tuple[tuple[int, int], ...]  # (row, value), the first few per value
    complete: bool  # False when some offending rows could not be listed (more distinct values than kept)


def labels_out_of_range(labels: LabelStats | DataSample, width: int) -> LabelRangeCheck:
    """The labels a ``width``-way classifier cannot take, with their rows where they were kept."""
    ls = labels.labels if isinstance(labels, DataSample) else labels
    if ls is None:
        return LabelRangeCheck(width, 0, 0, (), (), True)
    bad_counts = {v: c for v, c in ls.classes.items() if v < 0 or v >= width}
    count = sum(bad_counts.values())
    rows = tuple((r, v) for r, v in ls.extreme_rows if v < 0 or v >= width)
    listed = {v for _, v in rows}
    # every value past the width has its rows listed only if it was among the largest values kept
    complete = ls.classes_complete and all(v in listed for v in bad_counts if v >= 0)
    return LabelRangeCheck(
        width=width,
        count=count,
        negative=ls.negative,
        values=tuple(sorted(bad_counts)),
        rows=rows,
        complete=bool(complete),
    )


@frozen_dataclass
class TrainerState:
    """Hugging Face ``trainer_state.json``: its log history as series."""

    source: Source
    scalars: dict[str, ScalarSeries]  # "loss", "grad_norm", "learning_rate", "eval_loss", ...
    global_step: int | None = None
    epoch: float | None = None
    best_metric: float | None = None
    checkpoints: tuple[str, ...] = ()  # checkpoint folders it names
    logging_nan_inf_filter: bool | None = None  # when recorded (it hides NaN losses)
    # added by the trainer_state reader: what places a log's epoch fractions on steps
    # (steps per epoch = max_steps / num_train_epochs)
    max_steps: int | None = None
    num_train_epochs: float | None = None
    logging_steps: int | None = None
    best_global_step: int | None = None
    # the log history holds the Trainer's end-of-training summary (train_runtime...): train()
    # returned; a state saved at a checkpoint during training never holds it
    summary: bool = False


def hf_steps_per_epoch(states: Iterable[TrainerState]) -> float | None:
    """Optimizer steps per epoch from Hugging Face trainer states, the latest state first:
    global step / epoch of its logged points (the Trainer logs the epoch as a fraction, so
    this is exact), else max_steps / num_train_epochs (exact only when the run was given
    epochs: with max_steps set, num_train_epochs is rounded up)."""
    ordered = sorted(states, key=lambda t: -(t.global_step or 0))
    for ts in ordered:
        ep = ts.scalars.get("epoch")
        if ep is not None and len(ep):
            ok = (ep.values > 0) & np.isfinite(ep.values)
            if ok.any():
                return float(median(ep.steps[ok] / ep.values[ok]))
    for ts in ordered:
        if ts.max_steps and ts.num_train_epochs:
            return ts.max_steps / ts.num_train_epochs
    return None


def step_of(x: float) -> int | None:
    """``round(x)`` as a step, or None when x is not finite or past int64 (a damaged number)."""
    return round(x) if math.isfinite(x) and abs(x) <= STEP_MAX else None


def with_steps_from_epochs(log: LogData, steps_per_epoch: float) -> LogData:
    """Renumber log-order points (Hugging Face dict lines) as global steps: epoch x steps_per_epoch.

    Call once the trainer state (max_steps / num_train_epochs) is known. A log
    whose steps are already global steps is returned unchanged.
    """
    if log.step_unit != "log_index" or not steps_per_epoch or "epoch" not in log.scalars:
        return log
    if step_of(steps_per_epoch) is None:
        return log  # robustness: an infinite or absurd epoch length from a damaged trainer state
    ep = log.scalars["epoch"]
    index_to_epoch = {int(s): float(v) for s, v in zip(ep.steps, ep.values, strict=True)}

    def placed(i: int) -> int:
        step = step_of(index_to_epoch[i] * steps_per_epoch) if i in index_to_epoch else None
        return -1 if step is None else step  # not finite or past int64: dropped below

    scalars = {}
    for tag, s in log.scalars.items():
        steps = np.array([placed(int(i)) for i in s.steps], dtype=np.int64)
        keep = steps >= 0
        segment = np.zeros(int(keep.sum()), np.int32)
        kept = steps[keep]
        if kept.shape[0] > 1:
            segment[1:] = np.cumsum(np.diff(kept) < 0)
        scalars[tag] = dataclasses.replace(
            s, steps=kept, values=s.values[keep], wall_times=s.wall_times[keep], segment=segment
        )
    last = None
    if log.last_step is not None and log.last_step in index_to_epoch:
        last = step_of(index_to_epoch[log.last_step] * steps_per_epoch)
    return dataclasses.replace(
        log,
        scalars=scalars,
        inferred_tags=frozenset(scalars),  # each point placed at its logged epoch x the trainer state's epoch length
        step_unit="step",
        steps_per_epoch=round(steps_per_epoch),
        last_step=last if last is not None else log.last_step,
    )
