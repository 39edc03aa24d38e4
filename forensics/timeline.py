"""One global-step axis for everything a run left behind.

The timeline never sees a file: it takes the records the readers produced
(:class:`forensics.load.RunData`) and derives what the rules need:

* canonical series: training loss, validation loss, learning rate, gradient
  norm, each on the global step axis (epoch-logged series are mapped to steps
  when the steps per epoch can be told);
* the first non-finite step of each, with the honest window around it;
* the onset of the blow-up and its growth rate;
* per-layer weight statistics across checkpoints and their growth;
* learning-rate changes and how the loss behaved right after each;
* the loss level and trend just before the blow-up.

Every derived number says how it was computed, next to the code that computes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from forensics.load import RunData
from forensics.records import Checkpoint, HistogramSeries, LogEvent, ScalarSeries, Source, Status, TensorStats

# ---------------------------------------------------------------- thresholds

# The loss must climb at least this many decades (log10) above its running minimum
# before blowing up to call it a sustained rise; 0.3 decades is a doubling, well above
# minibatch noise once the curve is median-smoothed.
ONSET_MIN_RISE_DECADES = 0.3
# A point counts as "still at the minimum" within this many decades of it (~26 %).
ONSET_TOLERANCE_DECADES = 0.1
# A finite loss this many times above its minimum (and above its first value) has exploded.
EXPLODED_FACTOR = 1e4
# Consecutive LR values differing by this factor or more are a schedule jump, not a decay step.
LR_JUMP_FACTOR = 2.0
# A loss point this many times its trailing median is a spike.
SPIKE_FACTOR = 3.0
# The loss is "near zero" before the blow-up when its last finite level is this
# fraction of its first level (or below NEAR_ZERO_ABS): the model had saturated.
NEAR_ZERO_FRACTION = 0.02
NEAR_ZERO_ABS = 0.02

_EVAL_WORDS = re.compile(r"(^|[^a-z])(val|valid|validation|eval|evaluation|test|dev)([^a-z]|$)", re.IGNORECASE)
_LR = re.compile(r"(^|[/_ .-])(lr|learning[_ ]?rate)([/_ .-]|$)|^lr", re.IGNORECASE)
_GRAD_NORM = re.compile(r"grad(ient)?s?[_ /.-]?(global[_ ]?)?norm|global[_ ]?norm|total[_ ]?norm", re.IGNORECASE)
_LOSS = re.compile(r"loss", re.IGNORECASE)
_NOT_LOSS = re.compile(r"scale|scaler|weight|coef|lambda|_std|variance|reg(ulari[sz]ation)?$", re.IGNORECASE)
_EPOCH_PREFIX = re.compile(r"^epoch[_/]", re.IGNORECASE)
_BATCH_PREFIX = re.compile(r"^(batch|iter|step)[_/]", re.IGNORECASE)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Series:
    """A canonical series on the timeline."""

    role: str  # "loss", "val_loss", "lr", "grad_norm"
    steps: np.ndarray  # int64 global steps (or epochs when unit == "epoch"), in write order
    values: np.ndarray  # float64
    unit: str  # "step" or "epoch"
    source: str  # file path
    tag: str  # tag / key as written
    run: str
    segment: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @property
    def first_nonfinite_index(self) -> int | None:
        bad = ~np.isfinite(self.values)
        return int(np.argmax(bad)) if bad.any() else None

    @property
    def interval(self) -> float:
        """Median logging interval in steps (1 when logged every step)."""
        if len(self) < 2:
            return math.nan
        d = np.diff(np.sort(np.unique(self.steps)))
        return float(np.median(d)) if d.size else math.nan


@dataclass(frozen=True)
class NonFinite:
    """Where a series first went non-finite, with the honest window around it."""

    role: str
    step: int
    value: float  # nan, inf or -inf as logged
    last_finite_step: int | None  # the last finite logged step before it
    last_finite_value: float | None
    interval: float  # logging interval of the series
    unit: str
    source: str
    tag: str


@dataclass(frozen=True)
class Onset:
    """When the loss left its trend before blowing up (see :func:`find_onset`)."""

    step: int
    value: float
    end_step: int  # last finite point of the climb
    end_value: float
    fold_per_step: float  # geometric growth rate from onset to end
    rise_decades: float


@dataclass(frozen=True)
class LrChange:
    step: int  # first step at the new LR
    before: float
    after: float
    kind: str  # "jump" (schedule step up), "drop", "warmup_end" (peak of a warmup ramp)
    loss_ratio_after: float | None  # max loss in the window after / median loss in the window before
    window: int


@dataclass(frozen=True)
class LayerPoint:
    step: int | None
    order: int  # index of the checkpoint in time order
    l2: float
    absmax: float
    nonfinite: int
    numel: int
    dtype: str
    source: str


@dataclass(frozen=True)
class LayerTrack:
    """One layer across the checkpoints."""

    layer: str
    points: tuple[LayerPoint, ...]

    @property
    def first_nonfinite(self) -> LayerPoint | None:
        return next((p for p in self.points if p.nonfinite), None)

    def growth(self) -> float | None:
        """Ratio of the last finite norm to the first (None with fewer than two finite points)."""
        finite = [p for p in self.points if not p.nonfinite and p.l2 > 0 and math.isfinite(p.l2)]
        if len(finite) < 2:
            return None
        return finite[-1].l2 / finite[0].l2

    def fold_per_step(self) -> float | None:
        finite = [p for p in self.points if not p.nonfinite and p.l2 > 0 and p.step is not None]
        if len(finite) < 2 or finite[-1].step == finite[0].step:
            return None
        span = finite[-1].step - finite[0].step
        return float((finite[-1].l2 / finite[0].l2) ** (1.0 / span)) if span > 0 else None


@dataclass(frozen=True)
class CheckpointView:
    checkpoint: Checkpoint
    step: int | None  # global step (mapped from epochs when possible)
    order: int

    @property
    def path(self) -> str:
        return self.checkpoint.source.path

    @property
    def nonfinite_tensors(self) -> list[TensorStats]:
        return [t for t in self.checkpoint.tensors if t.nonfinite]


@dataclass
class Timeline:
    run_dir: str
    sources: list[Source]
    loss: Series | None = None
    val_loss: Series | None = None
    lr: Series | None = None
    grad_norm: Series | None = None
    other_losses: list[Series] = field(default_factory=list)  # other training-loss series (logs, HF state)
    steps_per_epoch: int | None = None
    steps_per_epoch_origin: str | None = None
    first_nonfinite: NonFinite | None = None  # of the training loss (or grad norm where the loss is masked)
    nonfinite_by_role: dict[str, NonFinite] = field(default_factory=dict)
    exploded_step: int | None = None  # loss finite but exploded (no NaN logged)
    onset: Onset | None = None
    lr_changes: list[LrChange] = field(default_factory=list)
    checkpoints: list[CheckpointView] = field(default_factory=list)
    layers: list[LayerTrack] = field(default_factory=list)
    first_nonfinite_checkpoint: CheckpointView | None = None
    weight_histograms: list[HistogramSeries] = field(default_factory=list)
    grad_histograms: list[HistogramSeries] = field(default_factory=list)
    log_events: list[tuple[str, LogEvent]] = field(default_factory=list)  # (log path, event)
    died_with_exception: bool = False
    spikes_recovered: list[int] = field(default_factory=list)
    run: RunData | None = None

    # -------------------------------------------------------- conveniences
    @property
    def diverged(self) -> bool:
        """A non-finite or exploded training loss, or non-finite weights in a checkpoint."""
        return (
            self.first_nonfinite is not None
            or self.exploded_step is not None
            or self.first_nonfinite_checkpoint is not None
        )

    @property
    def divergence_step(self) -> int | None:
        if self.first_nonfinite is not None:
            return self.first_nonfinite.step
        if self.exploded_step is not None:
            return self.exploded_step
        if self.first_nonfinite_checkpoint is not None:
            return self.first_nonfinite_checkpoint.step
        return None

    @property
    def unit(self) -> str:
        return self.loss.unit if self.loss is not None else "step"

    def has(self, kind: str) -> bool:
        return any(s.kind.value == kind and s.status in (Status.OK, Status.PARTIAL) for s in self.sources)

    def loss_before_blowup(self) -> tuple[float | None, str | None]:
        """Last finite loss before the blow-up and its trend ("falling", "flat", "rising")."""
        if self.loss is None:
            return None, None
        end = _finite_prefix_end(self.loss)
        if end <= 0:
            return None, None
        v = self.loss.values[:end]
        last = float(v[-1])
        k = max(5, end // 10)
        tail = v[max(0, end - k) : end]
        tail = tail[np.isfinite(tail)]
        if tail.size < 3:
            return last, None
        y = _log10_safe(tail)
        slope = np.polyfit(np.arange(tail.size), y, 1)[0] * tail.size  # decades over the tail
        trend = "rising" if slope > 0.15 else "falling" if slope < -0.15 else "flat"
        return last, trend

    def loss_near_zero_before_blowup(self) -> bool:
        if self.loss is None:
            return False
        end = _finite_prefix_end(self.loss)
        if end < 3:
            return False
        v = self.loss.values[:end]
        first = float(np.median(v[: max(1, min(5, end // 10 + 1))]))
        last = float(np.median(v[max(0, end - 3) : end]))
        if not (math.isfinite(first) and math.isfinite(last)):
            return False
        return last <= NEAR_ZERO_ABS or (first > 0 and last <= NEAR_ZERO_FRACTION * first)

    def lr_at(self, step: int) -> float | None:
        if self.lr is None or not len(self.lr):
            return None
        order = np.argsort(self.lr.steps, kind="stable")
        s, v = self.lr.steps[order], self.lr.values[order]
        i = int(np.searchsorted(s, step, side="right")) - 1
        return float(v[max(i, 0)])

    def checkpoint_before(self, step: int) -> CheckpointView | None:
        best = None
        for c in self.checkpoints:
            if c.step is not None and c.step <= step:
                best = c
        return best


# ---------------------------------------------------------------- helpers


def _log10_safe(v: np.ndarray) -> np.ndarray:
    """log10 for positive losses; a signed log for losses that go negative."""
    v = np.asarray(v, dtype=np.float64)
    if np.all(v[np.isfinite(v)] > 0):
        return np.log10(np.maximum(v, 1e-300))
    return np.sign(v) * np.log10(1.0 + np.abs(v))


def _finite_prefix_end(s: Series) -> int:
    """Index of the first non-finite point (or len): the part before the blow-up."""
    i = s.first_nonfinite_index
    return len(s) if i is None else i


def running_median(y: np.ndarray, window: int) -> np.ndarray:
    """Centered running median (window odd, clipped at the edges)."""
    n = y.size
    if n == 0 or window <= 1:
        return y.copy()
    half = window // 2
    if n <= 4096:
        return np.array([np.median(y[max(0, i - half) : i + half + 1]) for i in range(n)])
    # long series: a strided view keeps this vectorised
    pad = np.pad(y, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(pad, window)
    return np.median(view, axis=1)


def find_onset(steps: np.ndarray, values: np.ndarray) -> Onset | None:
    """The step where the loss left its trend before the blow-up.

    Method: take the finite part of the loss before the first non-finite value,
    on a log10 scale (losses span decades when they diverge), smooth it with a
    centered running median (window ~2 % of the points, at least 3) so single
    minibatch spikes do not count. Find the minimum of the smoothed curve; if
    the curve ends at least ``ONSET_MIN_RISE_DECADES`` above it, the onset is
    the last point after the minimum that was still within
    ``ONSET_TOLERANCE_DECADES`` of it: from there on the loss only climbed. The
    growth rate is the geometric mean fold per step from the onset to the last
    finite point. Returns None when there is no sustained climb (the loss was
    falling or flat until it jumped: saturation or a bad batch, not instability).
    """
    ok = np.isfinite(values)
    if ok.sum() < 3:
        return None
    s, v = steps[ok], values[ok]
    y = _log10_safe(v)
    window = max(3, (y.size // 50) | 1)
    ys = running_median(y, window)
    m = int(np.argmin(ys))
    end = y.size - 1
    # the end of the climb: the raw last finite point (the smoothing lags the blow-up)
    rise = float(max(ys[end], y[end]) - ys[m])
    if rise < ONSET_MIN_RISE_DECADES:
        return None
    # the last point still at the minimum level: first within a coarse tolerance (the
    # stretch the climb leaves from), then the last point of that stretch within a fine
    # one, so a steep climb is not dated a few steps late
    near = np.nonzero(ys[m:] <= ys[m] + ONSET_TOLERANCE_DECADES)[0]
    stretch_end = m + int(near[-1]) if near.size else m
    fine = np.nonzero(ys[m : stretch_end + 1] <= ys[m] + ONSET_TOLERANCE_DECADES / 5)[0]
    onset = m + int(fine[-1]) if fine.size else stretch_end
    if onset >= end:
        return None
    span = int(s[end] - s[onset])
    fold = float(10 ** ((y[end] - y[onset]) / span)) if span > 0 else math.inf
    return Onset(
        step=int(s[onset]),
        value=float(v[onset]),
        end_step=int(s[end]),
        end_value=float(v[end]),
        fold_per_step=fold,
        rise_decades=float(y[end] - ys[m]),
    )


def find_spikes(values: np.ndarray, steps: np.ndarray) -> list[int]:
    """Steps of loss spikes that came back down: a point above ``SPIKE_FACTOR`` times
    the trailing median, followed within a few points by a return below 1.5x it."""
    out: list[int] = []
    n = values.size
    if n < 10:
        return out
    w = max(5, n // 50)
    for i in range(w, n - 1):
        v = values[i]
        if not math.isfinite(v):
            break
        base = float(np.median(values[i - w : i]))
        if base > 0 and v > SPIKE_FACTOR * base:
            after = values[i + 1 : i + 1 + w]
            if after.size and np.all(np.isfinite(after)) and float(np.min(after)) < 1.5 * base:
                out.append(int(steps[i]))
    return out


# ---------------------------------------------------------------- series picking


def role_of(tag: str, run: str) -> str | None:
    """What a scalar tag measures: "loss", "val_loss", "lr", "grad_norm" or None."""
    name = tag.strip()
    if _GRAD_NORM.search(name):
        return "grad_norm"
    if _LR.search(name) and not _LOSS.search(name):
        return "lr"
    if _LOSS.search(name) and not _NOT_LOSS.search(name):
        is_eval = bool(_EVAL_WORDS.search(name) or _EVAL_WORDS.search(run))
        return "val_loss" if is_eval else "loss"
    return None


def _unit_of(tag: str) -> str:
    return "epoch" if _EPOCH_PREFIX.match(tag) else "step"


def _loss_rank(s: ScalarSeries) -> tuple[int, int, int]:
    """Prefer the plain total loss, logged per step, with the most points."""
    t = s.tag.lower()
    base = re.sub(r"^(train(ing)?|batch|epoch|step|iter)[/_ ]?", "", t)
    base = re.sub(r"[/_ ]?(train(ing)?|total|step)$", "", base)
    plain = 0 if base in ("loss", "losses", "") or t.endswith("/loss") else 1
    per_epoch = 1 if _unit_of(s.tag) == "epoch" else 0
    return (per_epoch, plain, -len(s))


def _as_series(s: ScalarSeries, role: str, unit: str | None = None) -> Series:
    return Series(
        role=role,
        steps=np.asarray(s.steps, dtype=np.int64),
        values=np.asarray(s.values, dtype=np.float64),
        unit=unit or _unit_of(s.tag),
        source=s.source,
        tag=s.tag,
        run=s.run,
        segment=s.segment,
    )


def _candidates(run: RunData) -> dict[str, list[tuple[int, ScalarSeries]]]:
    """Scalar series by role, each with a source priority (lower is better)."""
    by_role: dict[str, list[tuple[int, ScalarSeries]]] = {}
    for ev in run.events:
        for s in ev.scalars.values():
            r = role_of(s.tag, s.run)
            if r and len(s):
                by_role.setdefault(r, []).append((0, s))
    for ts in run.trainer_states:
        for s in ts.scalars.values():
            r = role_of(s.tag, s.run)
            if r and len(s):
                by_role.setdefault(r, []).append((1, s))
    for log in run.logs:
        for s in log.scalars.values():
            r = role_of(s.tag, s.run)
            if r and len(s):
                by_role.setdefault(r, []).append((2, s))
    return by_role


def _pick(cands: list[tuple[int, ScalarSeries]]) -> ScalarSeries | None:
    if not cands:
        return None
    return min(cands, key=lambda ps: ((_loss_rank(ps[1])[0]), ps[0], *_loss_rank(ps[1])[1:]))[1]


# ---------------------------------------------------------------- steps per epoch


def _steps_per_epoch(run: RunData, cands: dict[str, list[tuple[int, ScalarSeries]]]) -> tuple[int | None, str | None]:
    """How many optimizer steps make an epoch, from the best evidence available.

    1. A checkpoint that carries both an epoch (from its name, 1-based as Keras
       formats ``{epoch}``) and the optimizer's iteration count: iterations / epoch.
    2. Per-step and per-epoch training losses logged side by side in one sub-run:
       the step series' span divided by the number of epochs logged.
    """
    ratios = []
    for c in run.checkpoints:
        it = c.model.iterations if c.model is not None else None
        if c.epoch and it and it > 0:
            ratios.append(it / c.epoch)
    if ratios:
        spe = round(float(np.median(ratios)))
        if spe > 0:
            return spe, "optimizer iterations stored in epoch-named checkpoints"
    losses = [s for _, s in cands.get("loss", [])]
    for e in (s for s in losses if _unit_of(s.tag) == "epoch"):
        for b in (s for s in losses if _unit_of(s.tag) == "step" and s.run == e.run and s.source != "" and len(s) > 1):
            epochs = int(np.unique(e.steps).size)
            if epochs >= 2:
                done_epochs = epochs if np.all(np.isfinite(e.values)) else epochs - 1
                span = int(b.steps.max()) + 1
                if done_epochs >= 1:
                    return max(1, round(span / max(epochs, 1))), "per-step and per-epoch losses logged side by side"
    return None, None


def _map_epochs(s: Series, spe: int | None) -> Series:
    """Epoch-indexed series (0-based, as Keras writes them) -> the global step that ends the epoch."""
    if s.unit != "epoch" or not spe:
        return s
    return Series(s.role, (s.steps + 1) * spe, s.values, "step", s.source, s.tag, s.run, s.segment)


# ---------------------------------------------------------------- non-finite


def _nonfinite(s: Series | None) -> NonFinite | None:
    if s is None:
        return None
    i = s.first_nonfinite_index
    if i is None:
        return None
    prev = np.nonzero(np.isfinite(s.values[:i]))[0]
    j = int(prev[-1]) if prev.size else None
    return NonFinite(
        role=s.role,
        step=int(s.steps[i]),
        value=float(s.values[i]),
        last_finite_step=int(s.steps[j]) if j is not None else None,
        last_finite_value=float(s.values[j]) if j is not None else None,
        interval=s.interval,
        unit=s.unit,
        source=s.source,
        tag=s.tag,
    )


def _exploded(s: Series | None) -> int | None:
    """First step where a finite loss stood ``EXPLODED_FACTOR`` above both its minimum
    so far and its first value (a divergence that never printed NaN)."""
    if s is None or len(s) < 3:
        return None
    v = s.values
    finite = np.isfinite(v)
    if not finite.any():
        return None
    first = float(v[finite][0])
    running_min = np.minimum.accumulate(np.where(finite, np.abs(v), np.inf))
    hit = (
        finite
        & (np.abs(v) > EXPLODED_FACTOR * np.maximum(running_min, 1e-12))
        & (np.abs(v) > EXPLODED_FACTOR * abs(first))
    )
    return int(s.steps[int(np.argmax(hit))]) if hit.any() else None


# ---------------------------------------------------------------- learning rate


def _lr_changes(lr: Series | None, loss: Series | None) -> list[LrChange]:
    if lr is None or len(lr) < 2:
        return []
    order = np.argsort(lr.steps, kind="stable")
    s, v = lr.steps[order], lr.values[order]
    ok = np.isfinite(v) & (v > 0)
    s, v = s[ok], v[ok]
    if v.size < 2:
        return []
    changes: list[tuple[int, float, float, str]] = []
    ratio = v[1:] / v[:-1]
    for i in np.nonzero(ratio >= LR_JUMP_FACTOR)[0]:
        changes.append((int(s[i + 1]), float(v[i]), float(v[i + 1]), "jump"))
    for i in np.nonzero(ratio <= 1 / LR_JUMP_FACTOR)[0]:
        changes.append((int(s[i + 1]), float(v[i]), float(v[i + 1]), "drop"))
    # a warmup: the LR climbed gradually (no single jump) by LR_JUMP_FACTOR or more to a peak
    peak = int(np.argmax(v))
    if peak > 0 and v[peak] >= LR_JUMP_FACTOR * v[0] and not any(c[3] == "jump" for c in changes):
        changes.append((int(s[peak]), float(v[0]), float(v[peak]), "warmup_end"))
    out = []
    for step, before, after, kind in sorted(changes):
        out.append(LrChange(step, before, after, kind, *_loss_ratio_after(loss, step, s)))
    return out


def _loss_ratio_after(loss: Series | None, step: int, lr_steps: np.ndarray) -> tuple[float | None, int]:
    """Max loss in a window after ``step`` / median loss in the window before.

    Non-finite losses after the change count as infinite."""
    if loss is None or len(loss) < 3:
        return None, 0
    span = int(loss.steps.max() - loss.steps.min()) or 1
    window = int(max(5 * (loss.interval if math.isfinite(loss.interval) else 1), span * 0.05))
    before = loss.values[(loss.steps < step) & (loss.steps >= step - window)]
    after = loss.values[(loss.steps >= step) & (loss.steps <= step + window)]
    before = before[np.isfinite(before)]
    if before.size == 0 or after.size == 0:
        return None, window
    base = float(np.median(np.abs(before)))
    worst = math.inf if not np.all(np.isfinite(after)) else float(np.max(np.abs(after)))
    return (worst / base if base > 0 else math.inf), window


# ---------------------------------------------------------------- checkpoints


def _checkpoint_views(run: RunData, spe: int | None) -> list[CheckpointView]:
    views = []
    for c in run.checkpoints:
        if not c.tensors:
            continue
        step = c.step
        if c.step_origin == "index":
            step = None  # a save counter, not a step
        if step is None and c.epoch is not None and spe:
            step = c.epoch * spe
        views.append((c, step))

    def key(cs: tuple[Checkpoint, int | None]) -> tuple[int, float, str]:
        c, step = cs
        if step is not None:
            return (0, float(step), c.source.path)
        if c.epoch is not None:
            return (1, float(c.epoch), c.source.path)
        if c.step_origin == "index" and c.step is not None:
            return (1, float(c.step), c.source.path)
        return (2, 0.0, c.source.path)

    views.sort(key=key)
    return [CheckpointView(c, step, i) for i, (c, step) in enumerate(views)]


def _layer_tracks(views: list[CheckpointView]) -> list[LayerTrack]:
    order: list[str] = []
    points: dict[str, list[LayerPoint]] = {}
    for v in views:
        agg: dict[str, list[TensorStats]] = {}
        for t in v.checkpoint.tensors:
            if t.dtype.startswith(("int", "uint", "bool")):
                continue  # step counters, masks: not weights
            agg.setdefault(t.layer, []).append(t)
        for layer, ts in agg.items():
            if layer not in points:
                order.append(layer)
                points[layer] = []
            sq = sum(t.l2**2 for t in ts if math.isfinite(t.l2))
            points[layer].append(
                LayerPoint(
                    step=v.step,
                    order=v.order,
                    l2=math.sqrt(sq),
                    absmax=max((t.absmax for t in ts), default=math.nan),
                    nonfinite=sum(t.nonfinite for t in ts),
                    numel=sum(t.numel for t in ts),
                    dtype=ts[0].dtype,
                    source=v.path,
                )
            )
    return [LayerTrack(layer, tuple(points[layer])) for layer in order]


# ---------------------------------------------------------------- build


def _gather_log_events(run: RunData) -> Iterable[tuple[str, LogEvent]]:
    for log in run.logs:
        for e in log.events:
            yield log.source.path, e


def build_timeline(run: RunData) -> Timeline:
    """Line everything up on one global-step axis and derive the blow-up landmarks."""
    tl = Timeline(run_dir=run.given, sources=list(run.sources), run=run)
    cands = _candidates(run)
    spe, spe_origin = _steps_per_epoch(run, cands)
    tl.steps_per_epoch, tl.steps_per_epoch_origin = spe, spe_origin

    loss_raw = _pick(cands.get("loss", []))
    if loss_raw is not None:
        tl.loss = _map_epochs(_as_series(loss_raw, "loss"), spe)
        tl.other_losses = [
            _map_epochs(_as_series(s, "loss"), spe) for _, s in cands.get("loss", []) if s is not loss_raw
        ]
    for role in ("val_loss", "lr", "grad_norm"):
        raw = _pick(cands.get(role, []))
        if raw is not None:
            setattr(tl, role, _map_epochs(_as_series(raw, role), spe))

    # first non-finite: the training loss, or any other training-loss series logged in
    # the same unit (a log may catch the NaN an event writer lost), or the grad norm
    # where the logger masks NaN losses (HF Trainer's logging_nan_inf_filter).
    found: list[NonFinite] = []
    for s in [tl.loss, *tl.other_losses]:
        nf = _nonfinite(s)
        if nf is not None and (tl.loss is None or nf.unit == tl.loss.unit):
            found.append(nf)
    for role in ("grad_norm", "lr", "val_loss"):
        nf = _nonfinite(getattr(tl, role))
        if nf is not None:
            tl.nonfinite_by_role[role] = nf
    if found:
        tl.first_nonfinite = min(found, key=lambda n: n.step)
        tl.nonfinite_by_role["loss"] = tl.first_nonfinite
    elif "grad_norm" in tl.nonfinite_by_role and (tl.loss is None or tl.loss.unit == "step"):
        tl.first_nonfinite = tl.nonfinite_by_role["grad_norm"]
    if tl.first_nonfinite is None:
        tl.exploded_step = _exploded(tl.loss)

    if tl.loss is not None:
        end = _finite_prefix_end(tl.loss)
        if tl.diverged:
            cut = end
            if tl.first_nonfinite is None and tl.exploded_step is not None:
                cut = int(np.searchsorted(tl.loss.steps, tl.exploded_step, side="right"))
            tl.onset = find_onset(tl.loss.steps[:cut], tl.loss.values[:cut])
        tl.spikes_recovered = find_spikes(tl.loss.values, tl.loss.steps)

    tl.lr_changes = _lr_changes(tl.lr, tl.loss)
    tl.checkpoints = _checkpoint_views(run, spe)
    tl.layers = _layer_tracks(tl.checkpoints)
    tl.first_nonfinite_checkpoint = next((c for c in tl.checkpoints if c.nonfinite_tensors), None)
    for ev in run.events:
        for h in ev.histograms.values():
            (tl.grad_histograms if re.search(r"grad", h.tag, re.IGNORECASE) else tl.weight_histograms).append(h)
    tl.log_events = list(_gather_log_events(run))
    tl.died_with_exception = any(log.died_with_exception for log in run.logs)
    return tl
