"""The training settings of one analysed run, for comparing runs with each other.

The knobs people sweep — learning rate, batch size, clipping, precision, warmup,
optimizer, seed — read from the run's configs (Lightning ``hparams.yaml``, a
script's ``config.json``, MLflow params), TensorBoard hparams and the optimizer
state saved in checkpoints. A config wins over a logged value: it is the knob the
user set (a logged LR under warmup is below the peak the config asked for).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from forensics.load import RunData
from forensics.readers.config import WARMUP_KEYS, extract_settings, values_of
from forensics.timeline import Timeline

# The settings compared between runs, in the order tables show them.
NAMES: tuple[str, ...] = ("lr", "batch_size", "grad_clip", "precision", "warmup", "optimizer", "seed")
LABELS = {
    "lr": "lr",
    "batch_size": "batch size",
    "grad_clip": "clipping",
    "precision": "precision",
    "warmup": "warmup",
    "optimizer": "optimizer",
    "seed": "seed",
}
# Settings whose order means something (a threshold can separate runs); the others
# are compared value by value.
NUMERIC = frozenset({"lr", "batch_size", "grad_clip", "warmup"})

# Digits kept of a float setting: more than any config writes, fewer than float32 noise.
SIGNIFICANT_DIGITS = 6

_SEED_KEYS = ("seed", "random_seed", "manual_seed", "rng_seed", "data_seed")


@dataclass(frozen=True, slots=True)
class Setting:
    value: float | int | str
    source: str  # where it was read


def _put(out: dict[str, Setting], name: str, value: Any, source: str) -> None:
    if name in out or value is None or value == "":
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            return
        # float32 storage turns 1e-3 into 0.0010000000474974513: equal settings must compare equal
        value = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return
    out[name] = Setting(value, source)


def _number_or_text(value: Any) -> float | int | str | None:
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return None


def run_settings(run: RunData | None, tl: Timeline | None = None) -> dict[str, Setting]:
    """The settings of a run (as read, and its timeline for the logged LR) that could be
    found, each with its source."""
    out: dict[str, Setting] = {}
    if run is not None:
        _read_settings(run, out)
    if "lr" not in out and tl is not None and tl.lr is not None and len(tl.lr):
        vals = tl.lr.values[(tl.lr.values > 0) & np.isfinite(tl.lr.values)]
        if vals.size:
            _put(out, "lr", float(vals.max()), f"peak of {tl.lr.tag} in {tl.lr.source}")
    if "optimizer" in out and isinstance(out["optimizer"].value, str):
        out["optimizer"] = Setting(out["optimizer"].value.lower(), out["optimizer"].source)
    return {k: out[k] for k in NAMES if k in out}


def _read_settings(run: RunData, out: dict[str, Setting]) -> None:
    config_trees = [(c.raw, c.source.path) for c in run.configs if c.raw]
    hparam_trees = [(dict(ev.hparams), f"hparams in {ev.source.path}") for ev in run.events if ev.hparams]
    for cfg in run.configs:
        src = cfg.source.path
        _put(out, "lr", cfg.learning_rate, src)
        _put(out, "batch_size", cfg.batch_size, src)
        _put(out, "grad_clip", cfg.grad_clip, src)
        _put(out, "precision", cfg.mixed_precision, src)
        _put(out, "optimizer", cfg.optimizer, src)
    for tree, src in hparam_trees:
        s = extract_settings(tree)
        _put(out, "lr", s.learning_rate, src)
        _put(out, "batch_size", s.batch_size, src)
        _put(out, "grad_clip", s.grad_clip, src)
        _put(out, "precision", s.mixed_precision, src)
        _put(out, "optimizer", s.optimizer, src)
    for tree, src in config_trees + hparam_trees:
        for v in values_of(tree, WARMUP_KEYS):
            _put(out, "warmup", _number_or_text(v), src)
        for v in values_of(tree, _SEED_KEYS):
            _put(out, "seed", _number_or_text(v), src)
    for ck in run.checkpoints:
        m = ck.model
        if m is not None:
            _put(out, "lr", m.learning_rate, f"optimizer state in {ck.source.path}")
            _put(out, "optimizer", m.optimizer, ck.source.path)
            _put(out, "precision", m.dtype_policy, ck.source.path)


def format_value(name: str, value: float | int | str | None) -> str:
    """A setting as a table shows it."""
    from forensics.util import fmt_num

    if value is None:
        return "—"
    if name == "grad_clip" and value == 0:
        return "off"
    if isinstance(value, float):
        if value.is_integer() and name in ("batch_size", "seed", "warmup") and abs(value) < 1e15:
            return str(int(value))
        return fmt_num(value)
    return str(value)
