"""Facts several rules share, derived once from the timeline: the learning rate and
optimizer in use, the model's output width, the weights' dtype, weight growth."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forensics.timeline import Series, Timeline, find_onset

# Adam-family default is 1e-3; ten times that routinely diverges on plain nets.
ADAPTIVE_HIGH_LR = 1e-2
# Plain SGD/momentum: 0.1 is the usual ceiling (with batch norm); well above it is high.
SGD_HIGH_LR = 0.3
# Optimizer unknown: between the two families' ceilings.
UNKNOWN_HIGH_LR = 0.05
# At or below this an LR is "normal" for any optimizer.
NORMAL_LR_CEILING = {"adaptive": 3e-3, "sgd": 0.1, None: 1e-2}

_ADAPTIVE = ("adam", "rmsprop", "adagrad", "adadelta", "nadam", "adamax", "lion", "lamb", "adafactor", "ftrl")

FP16_MAX = 65504.0
BF16_MAX = 3.3895313892515355e38
DTYPE_MAX = {"float16": FP16_MAX, "bfloat16": BF16_MAX, "float32": 3.4028234663852886e38}


@dataclass(frozen=True)
class LrInfo:
    value: float | None  # the LR in force before the divergence (peak if it varied)
    initial: float | None
    optimizer: str | None  # as named
    family: str | None  # "adaptive", "sgd" or None
    origin: str | None  # where the value came from
    constant: bool | None  # True when the logged LR never changed by LR_JUMP_FACTOR

    @property
    def high(self) -> bool | None:
        if self.value is None:
            return None
        limit = {"adaptive": ADAPTIVE_HIGH_LR, "sgd": SGD_HIGH_LR}.get(self.family or "", UNKNOWN_HIGH_LR)
        return self.value > limit

    @property
    def normal(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= NORMAL_LR_CEILING[self.family]


def _family(name: str | None) -> str | None:
    if not name:
        return None
    n = name.lower()
    if any(a in n for a in _ADAPTIVE):
        return "adaptive"
    if "sgd" in n or "momentum" in n or "nesterov" in n:
        return "sgd"
    return None


def lr_info(tl: Timeline) -> LrInfo:
    optimizer = None
    cfg_lr = None
    origin = None
    run = tl.run
    if run is not None:
        for c in run.checkpoints:
            if c.model is not None:
                optimizer = optimizer or c.model.optimizer
                if cfg_lr is None and c.model.learning_rate is not None and math.isfinite(c.model.learning_rate):
                    cfg_lr, origin = c.model.learning_rate, f"optimizer state in {c.source.path}"
        for cfg in run.configs:
            optimizer = optimizer or cfg.optimizer
            if cfg_lr is None and cfg.learning_rate is not None:
                cfg_lr, origin = cfg.learning_rate, f"config {cfg.source.path}"
    if tl.lr is not None and len(tl.lr):
        v = tl.lr.values
        end = tl.divergence_step
        mask = np.isfinite(v) & (v > 0)
        if end is not None:
            mask &= tl.lr.steps <= end
        if mask.any():
            vals = v[mask]
            constant = bool(vals.max() < 2.0 * vals.min())
            return LrInfo(
                float(vals.max()),
                float(vals[0]),
                optimizer,
                _family(optimizer),
                f"{tl.lr.tag} in {tl.lr.source}",
                constant,
            )
    return LrInfo(cfg_lr, cfg_lr, optimizer, _family(optimizer), origin, None)


def output_width(tl: Timeline) -> tuple[int | None, str | None]:
    """Width of the model's output layer, and where it was read."""
    run = tl.run
    if run is None:
        return None, None
    for c in run.checkpoints:
        if c.model is not None and c.model.output_units:
            return c.model.output_units, f"output layer units in {c.source.path}"
    for cfg in run.configs:
        if cfg.num_classes:
            return cfg.num_classes, f"num_classes in {cfg.source.path}"
    # the framework's own error names the valid range: "... outside the valid range of [0, 5)"
    for log in run.logs:
        for e in log.events:
            if e.classes is not None and e.classes > 0:
                return e.classes, f"the valid range [0, {e.classes}) in {log.source.path} line {e.line}"
    # no config: the last layer's bias length is its output width
    for c in run.checkpoints:
        biases = [
            t for t in c.tensors if len(t.shape) == 1 and "bias" in t.name.lower().rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        ]
        if biases:
            return biases[-1].shape[0], f"length of the last bias ({biases[-1].name}) in {c.source.path}"
    return None, None


def clipping(tl: Timeline) -> tuple[float | None, str | None]:
    """Gradient clipping as a config records it: (value, source); 0 means explicitly off."""
    if tl.run is None:
        return None, None
    for cfg in tl.run.configs:
        if cfg.grad_clip is not None:
            return cfg.grad_clip, cfg.source.path
    return None, None


def model_loss(tl: Timeline) -> str | None:
    """The loss named by a checkpoint's training config or a config file."""
    run = tl.run
    if run is None:
        return None
    for c in run.checkpoints:
        if c.model is not None and c.model.loss:
            return c.model.loss
    for cfg in run.configs:
        if cfg.loss:
            return cfg.loss
    return None


def weight_dtype(tl: Timeline) -> str | None:
    counts: dict[str, int] = {}
    for c in tl.checkpoints:
        for t in c.checkpoint.tensors:
            if t.dtype.startswith(("float", "bfloat")):
                counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    if tl.run is not None:
        for cfg in tl.run.configs:
            if cfg.mixed_precision:
                return {"fp16": "float16", "bf16": "bfloat16"}.get(cfg.mixed_precision, cfg.mixed_precision)
        for c in tl.run.checkpoints:
            if c.model is not None and c.model.dtype_policy and "float16" in c.model.dtype_policy:
                return "float16" if "bfloat" not in c.model.dtype_policy else "bfloat16"
    return max(counts, key=counts.get) if counts else None


@dataclass(frozen=True)
class Growth:
    """Geometric growth of a positive quantity over a stretch of steps."""

    start_step: int
    end_step: int
    start: float
    end: float
    fold_per_step: float
    decades: float


def geometric_growth(s: Series | None, until: int | None = None) -> Growth | None:
    """The sustained climb of a series (e.g. grad norm) before ``until``, by the onset method."""
    if s is None or len(s) < 4:
        return None
    mask = np.ones(len(s), dtype=bool) if until is None else s.steps <= until
    steps, vals = s.steps[mask], s.values[mask]
    ok = np.isfinite(vals) & (vals > 0)
    if ok.sum() < 4:
        return None
    o = find_onset(steps[ok], vals[ok])
    if o is None:
        return None
    return Growth(o.step, o.end_step, o.value, o.end_value, o.fold_per_step, o.rise_decades)


def total_weight_norms(tl: Timeline) -> list[tuple[int | None, float, str]]:
    """(step, global L2 norm of the float weights, path) per checkpoint, in time order.

    NaN for a checkpoint holding any non-finite tensor: a norm over its finite part
    would read as a collapse of the weights."""
    out = []
    for c in tl.checkpoints:
        floats = [t for t in c.checkpoint.tensors if t.dtype.startswith(("float", "bfloat"))]
        if any(t.nonfinite for t in floats):
            out.append((c.step, math.nan, c.path))
            continue
        # hypot: t.l2**2 overflows (OverflowError) for float64 norms past 1e154
        out.append((c.step, math.hypot(*(t.l2 for t in floats if math.isfinite(t.l2))), c.path))
    return out
