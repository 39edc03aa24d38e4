"""What every worker shares: the data stream with its fault, the LR schedule, the console
capture, the ground-truth bookkeeping and the evidence a run keeps. numpy only.

The data is a *stream*: step k reads rows [k*B, (k+1)*B), never repeated, so a fault
placed at a row arrives at a known step ("epochs" are only a logging boundary). That is
how a sharded streaming pipeline behaves, and it makes the onset exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.matrix import Scenario

SHARDS = 8  # the stream is read as this many shard files, in order
SEQ_DIM = 8
MLP_DIM = 16


@dataclass
class Stream:
    x: np.ndarray  # (rows, ...) float32
    y: np.ndarray  # (rows,) int64 for classification, (rows, 1) float32 for regression
    task: str  # "cls" | "reg"
    classes: int
    fault_rows: tuple[int, int] | None = None  # [first, last) rows holding the fault
    onset_step: int | None = None  # 1-based step whose batch first holds it
    notes: dict[str, Any] = field(default_factory=dict)

    def batch(self, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of 1-based ``step``."""
        a = (step - 1) * size
        return self.x[a : a + size], self.y[a : a + size]


def task_for(sc: Scenario) -> str:
    if sc.detail in ("labels_out_of_range", "negative_labels", "log_of_zero", "fp16_overflow"):
        return "cls"
    if sc.detail in ("unnormalized_inputs", "exploding_gradients", "lr_too_high", "lr_schedule_spike"):
        return "reg" if sc.arch != "transformer" and random.Random(sc.seed + 1).random() < 0.7 else "cls"
    return "cls" if random.Random(sc.seed + 2).random() < 0.5 else "reg"


def input_shape(sc: Scenario) -> tuple[int, ...]:
    if sc.arch == "cnn":
        return (1, 8, 8)
    if sc.arch in ("rnn", "lstm", "gru", "transformer"):
        return (int(sc.extra.get("seq_len", 16 if sc.arch == "transformer" else 24)), SEQ_DIM)
    return (MLP_DIM,)


def onset_step(sc: Scenario, rng: random.Random) -> int:
    if sc.onset == "start":
        return rng.randint(1, max(1, sc.steps // 25))
    if sc.onset == "mid":
        return int(sc.steps * rng.uniform(0.35, 0.6))
    if sc.onset == "late":
        return int(sc.steps * rng.uniform(0.7, 0.88))
    return int(sc.steps * rng.uniform(0.2, 0.85))  # one shard


def make_stream(sc: Scenario) -> Stream:
    """The rows of the whole run, with the scenario's data fault placed in them."""
    rng = np.random.default_rng(sc.seed)
    prng = random.Random(sc.seed + 3)
    task = task_for(sc)
    rows = sc.steps * sc.batch
    shape = input_shape(sc)
    classes = 2 if (sc.detail == "log_of_zero" and prng.random() < 0.5) else prng.choice((3, 4, 5, 6))
    x = rng.normal(0, 1, size=(rows, *shape)).astype(np.float32)
    flat_dim = int(np.prod(shape))
    if len(shape) == 2:  # sequences: the target needs memory of the whole sequence
        feat = np.concatenate([x[:, :, 0].mean(1, keepdims=True) * math.sqrt(shape[0]), x[:, -1, :]], axis=1)
    else:
        feat = x.reshape(rows, flat_dim)
    w = rng.normal(0, 1 / math.sqrt(feat.shape[1]), size=(feat.shape[1], max(classes, 8)))
    if task == "cls":
        y = np.argmax(feat @ w[:, :classes] + 0.3 * rng.normal(size=(rows, classes)), axis=1).astype(np.int64)
        if classes == 2:
            y = (feat @ w[:, 0] > 0).astype(np.int64)
    else:
        y = (np.tanh(feat @ w) @ rng.normal(0, 0.5, size=(w.shape[1], 1))).astype(np.float32)
        y += 0.05 * rng.normal(size=y.shape).astype(np.float32)
    s = Stream(x=x, y=y, task=task, classes=classes)
    _inject(sc, s, rng, prng)
    return s


def _fault_span(sc: Scenario, prng: random.Random) -> tuple[int, int]:
    """[first, last) rows of the fault: from the onset to the end, or one shard."""
    rows = sc.steps * sc.batch
    on = onset_step(sc, prng)
    first = (on - 1) * sc.batch
    if sc.onset == "shard":
        return first, min(rows, first + rows // SHARDS)
    return first, rows


def _inject(sc: Scenario, s: Stream, rng: np.random.Generator, prng: random.Random) -> None:
    d = sc.detail
    if d == "lr_schedule_spike" and sc.schedule == "step_jump":
        s.onset_step = onset_step(sc, prng)
        return
    if d == "log_of_zero":  # a few wrong labels: the samples a confident model gets wrong
        bad = rng.random(len(s.y)) < 0.03
        s.y[bad] = (s.y[bad] + 1) % s.classes
        return
    if sc.cause == "healthy" or sc.cause == "inconclusive":
        if sc.lookalike == "noisy":
            bad = rng.random(len(s.y)) < sc.magnitude
            s.y[bad] = _scramble(s, rng, int(bad.sum()))
        elif sc.lookalike == "spikes":
            for _ in range(int(sc.magnitude)):
                step = prng.randint(sc.steps // 5, sc.steps - 5)
                a = (step - 1) * sc.batch
                s.x[a : a + sc.batch] *= prng.uniform(3, 8)  # a badly scaled batch: a spike that recovers
                s.y[a : a + sc.batch] = _scramble(s, rng, sc.batch)
                s.notes.setdefault("spike_steps", []).append(step)
        return
    if d in ("nan_in_inputs", "inf_in_inputs"):
        first, last = _fault_span(sc, prng)
        bad = np.flatnonzero(rng.random(last - first) < sc.magnitude) + first
        bad = np.unique(np.concatenate([[first], bad]))  # the onset batch holds at least one bad row
        value = np.nan if d == "nan_in_inputs" else prng.choice((np.inf, -np.inf))
        col = prng.randrange(s.x.shape[-1])
        s.x[bad, ..., col] = value
        _set_fault(sc, s, first, last)
    elif d in ("labels_out_of_range", "negative_labels"):
        first, last = _fault_span(sc, prng)
        bad = np.unique(
            np.concatenate(
                [[first + prng.randrange(sc.batch)], np.flatnonzero(rng.random(last - first) < 0.01) + first]
            )
        )
        s.y[bad] = -1 if d == "negative_labels" else s.classes - 1 + int(sc.magnitude)
        _set_fault(sc, s, int(bad[0]), last)
    elif d == "unnormalized_inputs":
        s.x *= np.float32(sc.magnitude)
        s.x += np.float32(sc.magnitude * 0.5)  # raw units: large and off-centre, like pixels 0..255 or counts
        _set_fault(sc, s, 0, len(s.y))
    elif d == "division_by_zero":
        # a feature stuck at one value across whole batches: a batch-wise std of 0
        first, _ = _fault_span(sc, prng)
        span = sc.batch * prng.randint(1, 3) + prng.randrange(sc.batch)
        if sc.onset == "start":
            first = 0
        col = prng.randrange(s.x.shape[-1])
        s.x[first : first + span, ..., col] = 0.0
        first_full = math.ceil(first / sc.batch) * sc.batch
        _set_fault(sc, s, first_full, first + span)


def _scramble(s: Stream, rng: np.random.Generator, n: int) -> np.ndarray:
    if s.task == "cls":
        return rng.integers(0, s.classes, size=n)
    return (rng.normal(0, 3, size=(n, 1))).astype(np.float32)


def _set_fault(sc: Scenario, s: Stream, first: int, last: int) -> None:
    s.fault_rows = (first, last)
    s.onset_step = first // sc.batch + 1


def base_lr(sc: Scenario) -> float:
    """The LR the job is configured with: for a constant LR too high, the usual one times the fault's magnitude."""
    return sc.lr * sc.magnitude if sc.detail == "lr_too_high" else sc.lr


def lr_at(sc: Scenario, step: int, onset: int | None) -> float:
    """The LR the schedule gives at 1-based ``step`` (the fault's jump included)."""
    base, total, warm = base_lr(sc), sc.steps, sc.warmup
    if sc.schedule == "constant":
        return base
    if sc.schedule == "step":
        return base * (0.1 if step > 0.6 * total else 1.0)
    if sc.schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * step / total))
    if sc.schedule == "warmup_cosine":
        if step <= warm:
            return base * step / warm
        return base * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))
    if sc.schedule == "warmup_constant":
        return base * min(1.0, step / warm)
    if sc.schedule == "warm_restarts":
        period = max(20, total // 3)
        return base * 0.5 * (1 + math.cos(math.pi * ((step - 1) % period) / period))
    if sc.schedule == "warmup_jump":  # older manifests: a warmup to a peak `magnitude` times too high
        # (drawn now as lr_too_high with warmup_constant, the same LR at every step: matrix.LR_DETAILS)
        return base * sc.magnitude * min(1.0, step / warm)
    if sc.schedule == "step_jump":  # a milestone multiplies instead of divides
        return base * (sc.magnitude if onset is not None and step >= onset else 1.0)
    raise ValueError(sc.schedule)


def steps_per_epoch(sc: Scenario) -> int:
    return max(5, sc.steps // random.Random(sc.seed + 5).choice((3, 4, 5, 6, 8)))


@dataclass
class Truth:
    """What the run really did, as its files record it."""

    events_loss: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss), per-step writes
    log_loss: list[tuple[int, float]] = field(default_factory=list)  # (global step, loss) a console line shows
    # per-epoch records, by 1-based epoch: the mean an epoch line or an epoch-level event shows
    events_epochs: list[tuple[int, float]] = field(default_factory=list)
    log_epochs: list[tuple[int, float]] = field(default_factory=list)
    epoch_end: dict[int, int] = field(default_factory=dict)  # 1-based epoch -> the global step that ended it
    # the events' per-epoch means were written at the epoch number on the step axis, under a tag
    # that does not say so: the file's step axis records the epoch
    events_epochs_on_step_axis: bool = False
    state_loss: list[tuple[int, float]] = field(default_factory=list)  # a checkpoint's own log (trainer_state.json)
    step_losses: list[float] = field(default_factory=list)
    exception: str | None = None
    ended: str = "finished"
    last_step: int = 0
    grad_norm_nonfinite_step: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _first(points: list[tuple[int, float]]) -> int | None:
        return next((s for s, v in sorted(points, key=lambda p: p[0]) if not math.isfinite(v)), None)

    def _steps(self, points: list[tuple[int, float]], epochs: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """A source's points on the global-step axis: an epoch's record at the step that ended it."""
        return points + [(self.epoch_end[e], v) for e, v in epochs if e in self.epoch_end]

    def nonfinite(self) -> bool:
        return any(not math.isfinite(v) for v in self.step_losses)

    def exploded(self) -> bool:
        fin = [v for v in self.step_losses if math.isfinite(v)]
        return len(fin) > 5 and max(fin[len(fin) // 2 :]) > 1e4 * max(1e-3, min(fin[:5]))

    def wrecked(self) -> bool:
        """The loss sat far above where it started for the whole second half: an adaptive optimizer
        at a huge LR kills the units in a step or two and the loss then stays put, finite."""
        fin = [v for v in self.step_losses if math.isfinite(v)]
        return len(fin) > 10 and float(np.median(fin[len(fin) // 2 :])) > 100 * max(1e-3, fin[0])

    def record(self, sc: Scenario) -> dict[str, Any]:
        # the contract's unit is the global step: an epoch's record counts at the step that ended
        # the epoch, and the epoch number is kept beside it (a reader that cannot place an epoch
        # on steps says its step is an epoch: scripts/accuracy.py compares it with that)
        events, logged = self._steps(self.events_loss, self.events_epochs), self._steps(self.log_loss, self.log_epochs)
        ev, lg, st = self._first(events), self._first(logged), self._first(self.state_loss)
        keeps_events = sc.evidence in ("all", "events") and events
        keeps_log = sc.evidence in ("all", "log") and logged
        keeps_state = sc.evidence in ("all", "ckpt", "ckpt_config") and self.state_loss
        held = ev if keeps_events else (lg if keeps_log else (st if keeps_state else None))
        kept = keeps_events or keeps_log or keeps_state
        return {
            "first_nonfinite_step": held,
            "first_nonfinite_held": bool(kept) and (sc.cause not in ("healthy", "inconclusive")),
            "first_nonfinite_events": ev,
            "first_nonfinite_log": lg,
            "first_nonfinite_unit": "global_step",
            **({"first_nonfinite_state": st} if self.state_loss else {}),
            **({"first_nonfinite_events_epoch": self._first(self.events_epochs)} if self.events_epochs else {}),
            **(
                {"first_nonfinite_events_axis": self._first(self.events_epochs)}
                if self.events_epochs and self.events_epochs_on_step_axis
                else {}
            ),
            **({"first_nonfinite_log_epoch": self._first(self.log_epochs)} if self.log_epochs else {}),
            "nonfinite_loss": self.nonfinite(),
            "exploded_loss": self.exploded(),
            "wrecked_loss": self.wrecked(),
            "exception": self.exception,
            "ended": self.ended,
            "last_step": self.last_step,
            "grad_norm_nonfinite_step": self.grad_norm_nonfinite_step,
            **self.notes,
        }


@contextlib.contextmanager
def console_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors too) to ``path``, as a job's log."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(fd)
        os.close(saved[0])
        os.close(saved[1])


def job_id(sc: Scenario) -> int:
    return 4_000_000 + sc.seed % 3_000_000


def time_limit_line(sc: Scenario) -> str:
    """What Slurm's step daemon prints into the job's output when the time limit kills it."""
    node = f"node{sc.seed % 40:02d}"
    return f"slurmstepd: error: *** JOB {job_id(sc)} ON {node} CANCELLED AT 2026-03-01T10:42:17 DUE TO TIME LIMIT ***"


LOG_TEMPLATES = (
    "step {step} | loss {loss:.4f} | lr {lr:.2e}{gn}",
    "[epoch {epoch}][{it}/{spe}] loss={loss:.4f} lr={lr:.3g}{gn}",
    "{{'loss': {loss:.4f}, 'learning_rate': {lr:.6g}, 'step': {step}{gnd}}}",
    "Iter {step}: loss {loss:.4f}, lr {lr}",
    "Epoch {epoch} Step {step}/{total} Loss: {loss:.4f}",
    "2026-03-0{day} 10:{mm:02d}:{ss:02d},{ms:03d} INFO train: step={step} loss={loss:.5f} lr={lr:.3e}{gn}",
)


def log_line(sc: Scenario, step: int, loss: float, lr: float, gn: float | None) -> str:
    t = LOG_TEMPLATES[sc.seed % len(LOG_TEMPLATES)]
    spe = steps_per_epoch(sc)
    gtxt = f" | grad_norm {gn:.3g}" if gn is not None and sc.grad_norm_logged else ""
    gnd = f", 'grad_norm': {gn:.4g}" if gn is not None and sc.grad_norm_logged else ""
    return t.format(
        step=step, loss=loss, lr=lr, gn=gtxt, gnd=gnd, epoch=(step - 1) // spe + 1, it=(step - 1) % spe + 1, spe=spe,
        total=sc.steps, day=1 + sc.seed % 9, mm=(step // 60) % 60, ss=step % 60, ms=(step * 37) % 1000,
    )  # fmt: skip


def epoch_line(sc: Scenario, epoch: int, loss: float) -> str:
    return (
        f"Epoch {epoch}/{math.ceil(sc.steps / steps_per_epoch(sc))} - train_loss: {loss:.4f}"
        if sc.seed % 2
        else f"epoch {epoch}: loss={loss:.5f}"
    )


def write_config(sc: Scenario, run_dir: Path, extra: dict[str, Any]) -> None:
    cfg = {
        "optimizer": {"sgd": "sgd", "sgdm": "sgd", "adam": "adam", "adamw": "adamw", "rmsprop": "rmsprop"}[
            sc.optimizer
        ],
        "momentum": 0.9 if sc.optimizer == "sgdm" else 0.0,
        "lr": base_lr(sc) if sc.schedule not in ("warmup_jump",) else sc.lr * sc.magnitude,
        "batch_size": sc.batch,
        "max_steps": sc.steps,
        "lr_schedule": {"warmup_jump": "linear_warmup", "step_jump": "multistep"}.get(sc.schedule, sc.schedule),
        "grad_clip": sc.clip,
        "model": sc.arch,
        **extra,
    }
    if sc.schedule == "step_jump":
        cfg["lr_gamma"] = round(sc.magnitude, 3)
    if sc.schedule in ("warmup_jump", "warmup_cosine", "warmup_constant"):
        cfg["warmup_steps"] = sc.warmup
    style = sc.seed % 3
    if style == 0:
        (run_dir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    elif style == 1:
        import yaml

        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    else:
        flat = {("learning_rate" if k == "lr" else k): v for k, v in cfg.items()}
        (run_dir / "hparams.json").write_text(json.dumps(flat) + "\n")


def write_data_sample(sc: Scenario, run_dir: Path, s: Stream) -> None:
    if sc.data_sample == "none":
        return
    n = 512
    if sc.data_sample == "bad" and s.fault_rows is not None:
        a = max(0, s.fault_rows[0] - n // 4)
    elif sc.data_sample == "bad" and s.notes.get("spike_steps"):
        a = max(0, (s.notes["spike_steps"][0] - 1) * sc.batch - n // 4)
    else:
        a = 0
    x, y = s.x[a : a + n], s.y[a : a + n]
    (run_dir / "data").mkdir(exist_ok=True)
    names = (("features", "labels"), ("x", "y"), ("inputs", "targets"))[sc.seed % 3]
    np.savez(run_dir / "data" / "train_sample.npz", **{names[0]: x, names[1]: y})


CHECKPOINT_EXT = (".safetensors", ".h5", ".keras", ".index", ".json")


def prune(sc: Scenario, run_dir: Path, kinds: dict[str, list[Path]]) -> None:
    """Delete what this scenario's evidence setting does not keep. ``kinds`` maps events/log/ckpt/config/data."""
    keep = {
        "all": ("events", "log", "ckpt", "config", "data"),
        "events": ("events",),
        "log": ("log",),
        "ckpt": ("ckpt",),
        "ckpt_config": ("ckpt", "config"),
    }[sc.evidence]
    for kind, paths in kinds.items():
        if kind in keep:
            continue
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
    for p in sorted(run_dir.rglob("*"), key=lambda q: -len(q.parts)):
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()


def stop_after_nan(sc: Scenario) -> int:
    """How many steps a job goes on after its first non-finite loss (a NaN guard or nothing)."""
    return random.Random(sc.seed + 7).choice((0, 3, 10, 25, 10**9))


def write_results(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, default=str) + "\n")
