"""Build a run's records from a small YAML description, for the synthetic rule cases.

A case (``tests/synthetic_rule_cases/<RULE>.yml``) describes only what a rule reads, in a few
lines, and the records are built here the way the readers would return them; the
timeline and the rules then run exactly as on a real run. No framework, no file:
each case runs in milliseconds.

Case keys (all optional):

``every``
    logging interval in steps (default 1); series start at step ``start`` (default 0).
``loss``, ``lr``, ``grad_norm``
    a series: a list of pieces, each a list of values (YAML ``.nan``/``.inf`` allowed),
    ``{n: 20, value: 1e-3}`` (constant), or ``{n: 20, from: 2.0, to: 0.5}``
    (geometric from -> to over n points).
``checkpoints``
    ``[{step: 10, layers: {dense: 1.5}, dtype: float32, nan: {dense: 3}, absmax: {dense: 70000}}]``:
    one weight tensor per layer with that L2 norm, named ``<layer>/kernel``, of shape 10 x 10
    (``shapes: {dense: [40, 10]}`` sets another; ``biases: {head: 5}`` adds ``head/bias`` of that
    length); ``adam: {lr: 1e-3, eps: 1e-8, layers: {dense:
    {update: 0.01, near_eps: 0.6}}}`` adds an Adam state (next-step L2 norm, share of elements
    with sqrt(v_hat) near eps) as the PyTorch reader reports it.
``log``
    lines of a job log, parsed by the real log parser; ``log_steps_per_epoch: 12`` adds the
    epoch's length a log shows (a progress bar's total), as the log reader records it.
``config``
    ``{optimizer: adam, learning_rate: 0.1, grad_clip: 0, loss: ..., num_classes: 5,
    mixed_precision: fp16}``; with ``raw: {...}`` the config reader judges that tree first
    (``extract_settings``) and the other keys override what it found.
``data``
    ``{arrays: [{name: x, min: 0, max: 255, mean: 120, std: 70, nan: 0, inf: 0, rows: 100}],
    labels: {counts: {0: 50, 4: 50, 8000: 1}}}``; an array's ``role: labels`` makes it real-valued
    targets (a float array in the label role, as a regression's are read).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from forensics.load import RunData
from forensics.readers.config import extract_settings
from forensics.readers.logs import parse_log_text
from forensics.records import (
    ArrayStats,
    Checkpoint,
    ConfigData,
    DataSample,
    EventFileData,
    Kind,
    LabelStats,
    LayerUpdate,
    LogData,
    OptimizerState,
    ParamGroup,
    ScalarSeries,
    Source,
    TensorStats,
)

TAGS = {"loss": "loss", "lr": "learning_rate", "grad_norm": "grad_norm"}


def series_values(spec: list[Any]) -> np.ndarray:
    out: list[float] = []
    for piece in spec:
        if isinstance(piece, dict):
            n = int(piece["n"])
            if "value" in piece:
                out += [float(piece["value"])] * n
            else:
                out += list(np.geomspace(float(piece["from"]), float(piece["to"]), n))
        elif isinstance(piece, list):
            out += [float(v) for v in piece]
        else:
            out.append(float(piece))
    return np.array(out, dtype=np.float64)


def _scalar(tag: str, values: np.ndarray, start: int, every: int) -> ScalarSeries:
    n = values.shape[0]
    return ScalarSeries(
        tag=tag,
        run="train",
        source="events.out.tfevents.synthetic",
        steps=start + every * np.arange(n, dtype=np.int64),
        values=values,
        wall_times=np.arange(n, dtype=np.float64),
        segment=np.zeros(n, dtype=np.int32),
    )


def _tensor(
    layer: str,
    l2: float,
    dtype: str,
    nan: int,
    absmax: float | None,
    shape: tuple[int, ...] = (10, 10),
    kind: str = "kernel",
) -> TensorStats:
    numel = math.prod(shape)
    peak = absmax if absmax is not None else l2 / math.sqrt(numel) * 3
    return TensorStats(
        name=f"{layer}/{kind}",
        layer=layer,
        dtype=dtype,
        shape=shape,
        numel=numel,
        nan=nan,
        posinf=0,
        neginf=0,
        zeros=0,
        min=-peak,
        max=peak,
        absmax=peak,
        mean=0.0,
        std=l2 / math.sqrt(numel),
        l2=l2,
    )


def _float(v: Any) -> float | None:
    return None if v is None else float(v)  # YAML 1.1 reads 1.0e39 (no sign) as a string


def _checkpoint(spec: dict[str, Any]) -> Checkpoint:
    step = int(spec["step"])
    dtype = spec.get("dtype", "float32")
    tensors = tuple(
        _tensor(
            layer,
            float(norm),
            dtype,
            int(spec.get("nan", {}).get(layer, 0)),
            _float(spec.get("absmax", {}).get(layer)),
            tuple(spec.get("shapes", {}).get(layer, (10, 10))),
        )
        for layer, norm in spec["layers"].items()
    )
    # ``biases: {head: 5}``: a bias of that length after the layers, named ``<layer>/bias``
    biases = spec.get("biases", {})
    tensors += tuple(_tensor(layer, 1.0, dtype, 0, None, (int(n),), "bias") for layer, n in biases.items())
    path = f"checkpoints/step_{step:06d}.safetensors"
    optimizer = None
    if "adam" in spec:
        adam = spec["adam"]
        optimizer = OptimizerState(
            name="adam",
            step=step,
            groups=(ParamGroup(lr=float(adam.get("lr", 1e-3)), params=len(tensors), eps=float(adam.get("eps", 1e-8))),),
            layers=tuple(
                LayerUpdate(layer, float(u["update"]), float(spec["layers"].get(layer, 1.0)), _float(u.get("near_eps")))
                for layer, u in adam["layers"].items()
            ),
        )
    return Checkpoint(
        source=Source(path, Kind.SAFETENSORS),
        format="safetensors",
        step=step,
        step_origin="name",
        epoch=None,
        tensors=tensors,
        optimizer=optimizer,
    )


def _data(spec: dict[str, Any]) -> DataSample:
    arrays = []
    for a in spec.get("arrays", []):
        arrays.append(
            ArrayStats(
                name=a["name"],
                dtype="float32",
                shape=(int(a.get("rows", 100)), 4),
                nan=int(a.get("nan", 0)),
                posinf=int(a.get("inf", 0)),
                neginf=0,
                min=float(a.get("min", -1.0)),
                max=float(a.get("max", 1.0)),
                mean=float(a.get("mean", 0.0)),
                std=float(a.get("std", 1.0)),
                role=a.get("role", "features"),
                constant_run=int(a.get("constant_run", 0)),
                constant_run_row=int(a.get("constant_run_row", 0)) if a.get("constant_run") else None,
            )
        )
    labels = None
    if "labels" in spec:
        counts = {int(k): int(v) for k, v in spec["labels"]["counts"].items()}
        rows = tuple((i, k) for i, k in enumerate(sorted(counts)) if k < 0 or k == max(counts))
        labels = LabelStats(
            array="y",
            min=min(counts),
            max=max(counts),
            negative=sum(c for k, c in counts.items() if k < 0),
            classes=counts,
            extreme_rows=rows,
            count=sum(counts.values()),
        )
        arrays.append(
            ArrayStats("y", "int64", (labels.count,), 0, 0, 0, labels.min, labels.max, 0.0, 1.0, role="labels")
        )
    return DataSample(source=Source("data/sample.npz", Kind.DATA_SAMPLE), arrays=tuple(arrays), labels=labels)


def run_from_case(case: dict[str, Any]) -> RunData:
    """The records a run described by ``case`` would have given the loader."""
    every, start = int(case.get("every", 1)), int(case.get("start", 0))
    run = RunData(root=Path("."), given="synthetic")
    scalars = {TAGS[key]: _scalar(TAGS[key], series_values(case[key]), start, every) for key in TAGS if key in case}
    if scalars:
        src = Source("events.out.tfevents.synthetic", Kind.EVENTS)
        run.events.append(EventFileData(source=src, run="train", scalars=scalars, histograms={}))
        run.sources.append(src)
    for spec in case.get("checkpoints", []):
        ck = _checkpoint(spec)
        run.checkpoints.append(ck)
        run.sources.append(ck.source)
    if "log" in case:
        series, events, died, last = parse_log_text("\n".join(case["log"]) + "\n")
        src = Source("slurm-1.out", Kind.JOB_LOG)
        spe = case.get("log_steps_per_epoch")
        run.logs.append(LogData(src, series, events, died_with_exception=died, last_step=last, steps_per_epoch=spe))
        run.sources.append(src)
    if "config" in case:
        src = Source("config.yaml", Kind.CONFIG)
        spec = dict(case["config"])
        if "raw" in spec:  # a tree: what the config reader makes of it, then the keys given beside it
            cfg = dataclasses.replace(extract_settings(spec.pop("raw")), source=src, **spec)
        else:
            cfg = ConfigData(source=src, **spec)
        run.configs.append(cfg)
        run.sources.append(src)
    if "data" in case:
        ds = _data(case["data"])
        run.data_samples.append(ds)
        run.sources.append(ds.source)
    return run
