"""Judgements several rules share, over facts the timeline already holds.

The facts themselves (the LR and optimizer in force, the output width, the loss,
the weights' dtype, clipping, weight norms, data samples) are typed fields of the
:class:`~forensics.timeline.Timeline`; this module only holds the thresholds that
judge them and the helpers more than one rule calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forensics.median import median
from forensics.timeline import (
    STAYED_UP_TAIL_SHARE,
    LrChange,
    LrInfo,
    Series,
    Timeline,
    find_onset,
    log10_safe,
    running_median,
    stayed_up_from,
)

# Adam-family default is 1e-3; ten times that routinely diverges on plain nets.
ADAPTIVE_HIGH_LR = 1e-2
# Plain SGD/momentum: 0.1 is the usual ceiling (with batch norm); well above it is high.
SGD_HIGH_LR = 0.3
# Optimizer unknown: between the two families' ceilings.
UNKNOWN_HIGH_LR = 0.05
# At or below this an LR is "normal" for any optimizer.
NORMAL_LR_CEILING = {"adaptive": 3e-3, "sgd": 0.1, None: 1e-2}

# The largest finite float16 value (IEEE 754 half precision).
FP16_MAX = 65504.0
# The largest finite bfloat16 value (float32's exponent range, 8-bit mantissa).
BF16_MAX = 3.3895313892515355e38
# The largest finite value of each training dtype: where a weight overflows.
DTYPE_MAX = {"float16": FP16_MAX, "bfloat16": BF16_MAX, "float32": 3.4028234663852886e38}
# A last finite loss this many times the median before it was already climbing.
CLIMB_FACTOR = 10.0
# A first logged loss this large is no loss of an initialised net: cross-entropy starts near
# ln(classes) (under 10), a regression on standardised targets near 1. Three decades above
# that, the output was already blown up by the layers it passed through.
FIRST_LOSS_HUGE = 1e3
# A gradient norm this many times its median at the last finite step: it was rising into the NaN.
GRAD_LAST_RATIO = 4.0
# An LR increase acts within a few steps: a climb (or NaN) that starts more than this fraction of
# the run after it (or two of its follow-up windows), at the same LR, is not the increase's doing.
LR_SPIKE_REACH_FRACTION = 0.1


def lr_high(lri: LrInfo) -> bool | None:
    """Is the LR in force above its optimizer family's ceiling? None when unknown."""
    if lri.value is None:
        return None
    limit = {"adaptive": ADAPTIVE_HIGH_LR, "sgd": SGD_HIGH_LR}.get(lri.family or "", UNKNOWN_HIGH_LR)
    return lri.value > limit


def lr_normal(lri: LrInfo) -> bool | None:
    """Is the LR in force at or below the normal ceiling of its family? None when unknown."""
    if lri.value is None:
        return None
    return lri.value <= NORMAL_LR_CEILING[lri.family]


# A warmup still raising the LR at the blow-up: the logged LR rose at each of at least this many
# logged points up to the first non-finite loss (two rises, three points: a ramp, not noise) ...
WARMUP_RISES = 2
# ... by steps smaller than a schedule jump (timeline.LR_JUMP_FACTOR: LR001's and LR009's case).
WARMUP_RISE_MAX = 2.0


def lr_still_rising(tl: Timeline) -> float | None:
    """The LR at the first non-finite loss when a warmup was still raising it there (the logged LR
    rose by small steps at each of the last ``WARMUP_RISES`` points up to it, above zero, and the
    loss was finite at the logged point before), else None. The LR the run was set to is then
    above any LR logged: only the one it had reached is known."""
    nf = tl.first_nonfinite
    if nf is None or nf.role != "loss" or nf.last_finite_step is None or tl.lr is None:
        return None
    s, v = tl.lr.in_step_order
    v = v[(s <= nf.step) & np.isfinite(v)]
    if v.size < WARMUP_RISES + 1:
        return None
    tail = v[-(WARMUP_RISES + 1) :]
    if tail[0] <= 0 or not np.all(tail[1:] > tail[:-1]) or not np.all(tail[1:] < WARMUP_RISE_MAX * tail[:-1]):
        return None
    return float(tail[-1])


def long_after_raise(tl: Timeline, c: LrChange, step: int) -> bool:
    """Does a blow-up at ``step`` come long after the LR increase ``c``, past its reach
    (``LR_SPIKE_REACH_FRACTION`` of the run, or two follow-up windows)? The run then trained
    stably at the raised LR, so the raise is not what broke it."""
    span = max(1, int(tl.loss.steps.max() - tl.loss.steps.min())) if tl.loss is not None and len(tl.loss) else 1
    return step > c.step + max(2 * (c.window or 1), LR_SPIKE_REACH_FRACTION * span)


# A step schedule whose factor per milestone is above this raises the LR at each milestone.
STEP_FACTOR_RAISES = 1.0


def may_have_failed(tl: Timeline) -> bool:
    """Did the run diverge, or is there no loss series to show it did not? Only a config, or
    checkpoints that may end before the fault, leave how the run went open: what the config
    states may then speak, as a prior."""
    return tl.diverged or tl.loss is None


def blown_up_before_nonfinite(tl: Timeline) -> bool:
    """Was the last finite value before the first non-finite one already huge (FIRST_LOSS_HUGE), and
    either the only finite point logged before it or CLIMB_FACTOR above the first? Then the run
    was at no normal level when it went non-finite: it had blown up on the way there, and the
    NaN/Inf is that blow-up reaching the float limit, not a batch's or an operation's doing.
    Judged on the series that went non-finite: the loss, or the gradient norm that stands in for
    it where the logger masked the loss (against its own first value, never the loss's); or on a
    term of the loss printed beside it that was still finite but blown up at that very step
    (``term_blown_up_at_nonfinite``)."""
    nf = tl.first_nonfinite
    series = {"loss": tl.loss, "grad_norm": tl.grad_norm}.get(nf.role) if nf is not None else None
    if nf is None or series is None:
        return False
    if term_blown_up_at_nonfinite(tl) is not None:
        return True
    if nf.last_finite_value is None:
        return False
    last = abs(nf.last_finite_value)
    if not math.isfinite(last) or last < FIRST_LOSS_HUGE:
        return False
    before = series.values[(series.steps < nf.step) & np.isfinite(series.values)]
    return before.size <= 1 or last >= CLIMB_FACTOR * abs(float(before[0]))


def term_blown_up_at_nonfinite(tl: Timeline) -> tuple[str, float, int] | None:
    """(name, value, step) of a term of the loss, printed in the loss's own file and unit, that was finite
    at the step where the loss first went non-finite (or at its last finite step before it) and
    already huge there (FIRST_LOSS_HUGE, and CLIMB_FACTOR above its own first value when it has
    one before): the total's NaN is that term's blow-up meeting another term's overflow (Inf - Inf,
    0 x Inf), not a sudden NaN from a normal level. None when no term shows it."""
    nf = tl.first_nonfinite
    if nf is None or nf.role != "loss" or tl.loss is None:
        return None
    start = nf.last_finite_step if nf.last_finite_step is not None else nf.step
    for t in tl.other_losses:
        if t.unit != tl.loss.unit or t.source != tl.loss.source:
            continue
        ok = np.isfinite(t.values)
        near = ok & (t.steps >= start) & (t.steps <= nf.step)
        if not near.any():
            continue
        i = int(np.nonzero(near)[0][np.argmax(np.abs(t.values[near]))])
        value = abs(float(t.values[i]))
        before = t.values[ok & (t.steps < int(t.steps[i]))]
        if value >= FIRST_LOSS_HUGE and (not before.size or value >= CLIMB_FACTOR * abs(float(before[0]))):
            return t.tag, float(t.values[i]), int(t.steps[i])
    return None


def climbed_into_blowup(tl: Timeline) -> bool:
    """Did the loss climb before its first non-finite value? Either the timeline found an
    onset, or (too few points for one) the last finite loss already stood
    ``CLIMB_FACTOR`` above the points before it."""
    if tl.onset is not None:
        return True
    nf = tl.first_nonfinite
    if nf is None or tl.loss is None:
        return False
    before = tl.loss.values[(tl.loss.steps < nf.step) & np.isfinite(tl.loss.values)]
    if before.size < 2:
        return False
    base = float(median(np.abs(before[:-1])))
    return base > 0 and abs(float(before[-1])) > CLIMB_FACTOR * base


def grad_norm_before_blowup(tl: Timeline) -> tuple[float, float, float, int] | None:
    """(median, max, last finite, step of max) of the gradient norm before the blow-up."""
    s = tl.grad_norm
    if s is None or len(s) < 8:
        return None
    until = tl.divergence_step
    mask = np.isfinite(s.values) & (s.values > 0)
    if until is not None:
        mask &= s.steps < until
    v, st = s.values[mask], s.steps[mask]
    if v.size < 8:
        return None
    i = int(np.argmax(v))
    return float(median(v)), float(v[i]), float(v[-1]), int(st[i])


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
    if o is None or o.end_value <= o.value or _settling(steps[ok], vals[ok], o.step, o.end_step):
        return None
    return Growth(o.step, o.end_step, o.value, o.end_value, o.fold_per_step, o.rise_decades)


# A climb whose second half (in steps) rose by less than this share of the decades its first half
# rose is settling toward a level, not compounding: a geometric growth rises as much in each half
# (a share of 1) and a blow-up more, while learning moves a tensor fastest early and slows as its
# gradients shrink (a bias from its init near 0 toward its fitted value, a gradient norm as the
# fit of noisy labels saturates).
SETTLING_SHARE = 0.5
# A climb is judged for settling only with at least this many points (four a half): fewer show a jump, not a shape.
SETTLING_MIN_POINTS = 8


def _settling(steps: np.ndarray, values: np.ndarray, start: int, end: int) -> bool:
    """Does the climb from ``start`` to ``end`` rise less in its second half than SETTLING_SHARE of its
    first? Judged on the log10 values smoothed by a running median (a single noisy point decides
    nothing), from the climb's first point to its middle step and from there to its last point."""
    sel = (steps >= start) & (steps <= end)
    if sel.sum() < SETTLING_MIN_POINTS:
        return False  # too few points to see a shape: keep the climb
    s = steps[sel].astype(np.float64)
    raw = log10_safe(values[sel])
    y = running_median(raw, max(3, (int(sel.sum()) // 10) | 1))
    mid = int(np.argmin(np.abs(s - (s[0] + s[-1]) / 2)))
    # the end of the climb: the raw last point too (the smoothing lags a blow-up, as find_onset's)
    first, second = float(y[mid] - y[0]), float(max(y[-1], raw[-1]) - y[mid])
    return first > 0 and second < SETTLING_SHARE * first


# Where the config does not state the batch size, a batch is taken to hold at least this
# many rows (the smallest batch in common use): a sample is judged against step x this.
MIN_ASSUMED_BATCH = 8


def stated_batch(tl: Timeline) -> int:
    """The batch size the settings state, else ``MIN_ASSUMED_BATCH``."""
    batch = next((s.value for s in tl.settings if s.name == "batch size"), None)
    try:
        return max(1, int(float(batch))) if batch is not None else MIN_ASSUMED_BATCH
    except ValueError:
        return MIN_ASSUMED_BATCH


def clean_sample(tl: Timeline) -> bool:
    """Every data sample at hand is finite (and there is one)."""
    samples = tl.data_samples
    return bool(samples) and not any(a.nan + a.posinf + a.neginf for ds in samples for a in ds.arrays)


def clean_sample_covers(tl: Timeline, step: int | None) -> bool:
    """Whether the data samples at hand are all finite *and* could hold the batch fed at
    ``step``: a sample of N rows speaks for the rows fed up to a step only when it holds as
    many (step x batch size). A clean sample from the head of the data says nothing of a
    shard fed later; where it came from is not recorded, so a smaller one counts for less."""
    if not clean_sample(tl):
        return False
    if step is None:
        return True
    b = stated_batch(tl)
    rows = max((a.shape[0] for ds in tl.data_samples for a in ds.arrays if a.shape), default=0)
    return rows >= max(step, 1) * b


@dataclass(frozen=True)
class StayedUp:
    """A finite loss that blew up and stayed there: its values in step order and its end level."""

    steps: np.ndarray
    values: np.ndarray
    tail: float


def stayed_blown_up(tl: Timeline) -> StayedUp | None:
    """The loss, when every logged value is finite, no checkpoint holds a non-finite weight, and the
    end of the record (the median of its last ``STAYED_UP_TAIL_SHARE``, signed) stands ``STAYED_UP_FACTOR``
    above the size of its first non-zero logged value (:func:`forensics.timeline.stayed_up_from`): a
    divergence that never printed NaN or Inf. None otherwise."""
    lo = tl.loss
    if lo is None or len(lo) < 3 or tl.first_nonfinite is not None or tl.first_nonfinite_checkpoint is not None:
        return None
    s, v = lo.in_step_order
    if not np.isfinite(v).all():
        return None
    nonzero = np.flatnonzero(v != 0)  # a loss printed as exactly 0 sets no scale (as the timeline judges it)
    if not nonzero.size or not stayed_up_from(v, abs(float(v[nonzero[0]]))):
        return None
    tail = float(median(v[-max(1, int(STAYED_UP_TAIL_SHARE * v.size)) :]))
    return StayedUp(s[nonzero[0] :], v[nonzero[0] :], tail)
