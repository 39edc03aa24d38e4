"""Rules pointing at the step size: a constant LR too high, or a schedule that jumps too high."""

from __future__ import annotations

import itertools
import math
import weakref

import numpy as np

from forensics.median import median
from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.context import (
    FIRST_LOSS_HUGE,
    STEP_FACTOR_RAISES,
    blown_up_before_nonfinite,
    long_after_raise,
    lr_high,
    lr_normal,
    lr_still_rising,
    may_have_failed,
    stayed_blown_up,
)
from forensics.timeline import LrChange, LrInfo, RelativeUpdate, Timeline, log10_safe, pinned_at_clamp
from forensics.util import fmt_num

# The climb must start within this fraction of the run before the blow-up to count as
# "from the very first steps" (a too-high LR never lets the loss settle).
EARLY_ONSET_FRACTION = 0.15
# ... or within this many logged points, for runs that die within a few dozen steps.
EARLY_ONSET_POINTS = 5
# A climb starting within this fraction of the run also counts when the loss ...
UNSETTLED_ONSET_FRACTION = 0.35
# ... never got below this fraction of its first value: it had not started learning.
UNSETTLED_LOSS_FRACTION = 0.3
# A loss that never went below its first value over this many logged points before its climb
# learned nothing before it (fewer are as likely noise around the first value).
NEVER_FELL_MIN_POINTS = 3
# A schedule spike needs training that worked at the lower LR first: this many logged
# loss points before the increase ...
STABLE_MIN_POINTS = 8
# ... or, for a short run, at least this fraction of its points ...
STABLE_MIN_FRACTION = 0.25
# ... over which the loss fell by at least this fraction.
STABLE_MIN_IMPROVEMENT = 0.1
# After an LR increase, the loss must reach this multiple of its level before the
# increase (or go non-finite) inside the follow-up window to tie the blow-up to it.
LR_SPIKE_LOSS_RATIO = 5.0
# A raise the loss then kept falling under is not what broke the run: at least this many finite
# points logged at the raised LR before the blow-up ...
TRAINED_THROUGH_POINTS = 3
# ... none above the loss at the raise, the last this fraction below the first of them.
TRAINED_THROUGH_FALL = 0.1
# A run trained at the LR it was configured with when, before its blow-up, at least this many
# finite loss points ...
TRAINED_STRETCH_POINTS = 15
# ... covering at least this fraction of the steps it logged ...
TRAINED_STRETCH_FRACTION = 0.3
# ... ended no higher than this factor above where they began (it fell, or held level within noise).
TRAINED_HELD_FACTOR = 1.1
# Healthy training moves weights by about 1e-3 of their norm per step; a lower bound
# ten times that says the steps are far too large.
REL_UPDATE_HIGH = 1e-2
# Between consecutive checkpoints the per-step update of healthy training changes by a few fold
# at most (a decay lowers it, a warmup spread over hundreds of steps raises it gradually); one
# this many times the pair before it, past REL_UPDATE_HIGH, had its step size jump in between.
UPDATE_JUMP_FACTOR = 30.0
# Oscillation: at least this share of consecutive loss changes alternate in sign. Independent
# noise alternates 2/3 of the time (of three iid values the middle one is the extreme with
# probability 2/3), so the bar sits well above that ...
OSC_ALTERNATION = 0.8
# ... and the excess over 2/3 must be this many standard errors (sqrt(2/9 / n) for n changes;
# 16 changes that all alternate pass it, 15 of 16 do not): short stretches alternate by chance.
OSC_ALTERNATION_Z = 2.5
# ... and the swing at the end is this many times the swing at the start.
OSC_GROWTH = 3.0


# Evidence weights. The loss blew up right after an LR jump: the schedule did it.
LR_JUMP_WEIGHT = 0.85
# ... right as a warmup reached its peak: likely, but a warmup is meant to climb.
LR_WARMUP_WEIGHT = 0.75
# A climb from the start, by the LR in force: a high LR explains it, a normal one hardly.
EARLY_CLIMB_WEIGHT = {"high": 0.8, "unknown": 0.6, "normal": 0.35}
# Measured relative updates above REL_UPDATE_HIGH, by the LR in force.
REL_UPDATE_WEIGHT = {"high": 0.5, "unknown": 0.4, "normal": 0.3}
# ... bounded from the weight norms alone (a lower bound on the update), by the LR in force.
WEIGHT_NORM_STEP_WEIGHT = {"high": 0.45, "unknown": 0.35, "normal": 0.3}
# A growing oscillation: the classic picture of too large a step, but not unique to it.
OSCILLATION_WEIGHT = 0.5


def _by_lr(lri: LrInfo, weights: dict[str, float]) -> float:
    """The weight for the LR in force: normal, high, or neither/unknown."""
    return weights["normal"] if lr_normal(lri) else weights["high"] if lr_high(lri) else weights["unknown"]


def _fix_cap(lr_ok: float | None, peak: float | None) -> str:
    if peak is not None and lr_ok is not None and lr_ok < peak:
        return (
            f"Cap the peak LR at about {fmt_num(lr_ok)} (it reached {fmt_num(peak)}), or lengthen the warmup; "
            "add gradient clipping (e.g. clipnorm=1.0 / clip_grad_norm_(params, 1.0))."
        )
    if peak is not None:
        return (
            f"Lower the peak LR to ≤ {fmt_num(peak / 10)} (it reached {fmt_num(peak)}); "
            "add gradient clipping (clipnorm=1.0)."
        )
    return "Lower the learning rate (by 10x as a first try) and add gradient clipping (clipnorm=1.0)."


@rule("LR001", "loss-explodes-after-lr-increase", "learning_rate", ("lr_schedule_spike",), needs=("lr", "loss"))
def lr_increase_then_blowup(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The loss climbs (or goes non-finite) within a short window after the
        learning rate was raised: a schedule step up, or the end of a warmup ramp
        whose peak is too high. The climb must start after the LR had risen by at
        least 2x over its starting value, and before the increase the model must
        have trained: at least 8 logged points (or a quarter of a short run) over
        which the loss fell by 10 %. Not when the loss kept falling at the raised
        LR up to the blow-up (3 finite points logged there, none above its level
        at the raise, the last 10 % below the first): the raised LR trained.

    Why it points to this cause:
        A step size above the stability limit of the loss surface (about 2 / the
        largest curvature) makes every update overshoot; the error grows
        geometrically from the first step at the new LR. Training that was stable
        at the lower LR rules out the data and the architecture. A loss that
        went on falling at the new LR was not overshooting: what broke the run
        came after, from elsewhere (a saturated log, a bad batch).

    Evidence it reports:
        The LR before and after the increase and its step; the loss ratio in the
        window after it; the onset step of the climb.

    Fix to suggest:
        Cap the peak LR at the level where training was still stable (or lengthen
        the warmup), and add gradient clipping.
    """
    global _LR001_LAST
    last = _LR001_LAST
    if last is not None and last[0]() is tl:
        return list(last[1])
    found = _lr_increase_then_blowup(tl)
    _LR001_LAST = (weakref.ref(tl), tuple(found))
    return found


# LR001's findings on the last timeline it judged: four other rules ask whether it fired, so that
# each asking does not work it out again (a weak reference: the timeline is not kept alive by it)
_LR001_LAST: tuple[weakref.ref[Timeline], tuple[Finding, ...]] | None = None


def _lr_increase_then_blowup(tl: Timeline) -> list[Finding]:
    if not tl.diverged or tl.lr is None:
        return []
    ups = [c for c in tl.lr_changes if c.kind in ("jump", "warmup_end")]
    if not ups:
        return []
    start = tl.onset.step if tl.onset is not None else tl.divergence_step
    if start is None:
        return []  # diverged where no step shows (a NaN guard the log places nowhere)
    positive = tl.lr.values[np.isfinite(tl.lr.values) & (tl.lr.values > 0)]
    lr0 = float(positive[0]) if positive.size else None
    out = []
    for c in ups:
        if not _trained_before(tl, c.step if c.kind == "jump" else start):
            continue  # no stretch of healthy training at the lower LR: the LR itself is too high
        lr_at_start = tl.lr_at(start)
        raised_before_climb = lr_at_start is not None and lr0 is not None and lr_at_start >= 2.0 * lr0
        # a climb that starts long after the increase, at the same LR, is not the increase's doing;
        # nor a NaN the loss fell into steadily at the raised LR
        late = long_after_raise(tl, c, start) or trained_through_raise(tl, c.step, start)
        if c.kind == "jump":
            tied = c.step <= start + (c.window or 0) and (c.loss_ratio_after or 0) >= LR_SPIKE_LOSS_RATIO
            tied = tied and start >= c.step - max(c.window, 1) and not late
        else:
            big_after = (c.loss_ratio_after or 0) >= LR_SPIKE_LOSS_RATIO / 2
            tied = raised_before_climb and not late and (big_after or start >= c.step - (c.window or 0))
        if not tied:
            continue
        # the last LR at which the loss was still stable: the LR just before the climb started
        lr_ok = c.before if c.kind == "jump" else tl.lr_at(max(start - int(tl.lr.interval or 1), 0))
        ratio = c.loss_ratio_after
        what = "jumped" if c.kind == "jump" else "warmed up"
        ratio_txt = (
            "the loss went non-finite"
            if ratio is not None and math.isinf(ratio)
            else (f"the loss rose {fmt_num(ratio)}×" if ratio is not None else "the loss climbed")
        )
        out.append(
            Finding(
                "lr_schedule_spike",
                f"LR {what} from {fmt_num(c.before)} to {fmt_num(c.after)} at step {c.step}; "
                f"{ratio_txt} within {c.window} steps (climb from step {start}).",
                step=c.step,
                source=tl.lr.source,
                weight=LR_JUMP_WEIGHT if c.kind == "jump" else LR_WARMUP_WEIGHT,
                fix=_fix_cap(lr_ok, c.after),
                fix_sets="learning_rate",
            )
        )
        break
    return out


def trained_through_raise(tl: Timeline, raise_step: int, start: int) -> bool:
    """Did the loss keep falling at the raised LR, from the raise up to the blow-up at ``start``?
    An LR past the stability limit makes the error grow from the first update at it; a loss
    that went on falling there (TRAINED_THROUGH_POINTS finite points logged at it, none above
    its level before the raise, the last TRAINED_THROUGH_FALL below the first) was trained by it, so what broke
    the run came later and from elsewhere."""
    if tl.loss is None:
        return False
    steps, vals = tl.loss.steps, tl.loss.values
    at = vals[(steps < raise_step) & np.isfinite(vals)]  # the level it was raised from
    keep = (steps >= raise_step) & (steps < start) & np.isfinite(vals)
    after = vals[keep][np.argsort(steps[keep], kind="stable")]
    if not at.size or after.size < TRAINED_THROUGH_POINTS:
        return False
    return bool(after.max() <= at[-1] and after[-1] <= (1.0 - TRAINED_THROUGH_FALL) * after[0])


def _trained_before(tl: Timeline, step: int) -> bool:
    """Was there a stretch of real training before ``step``: enough logged points
    (``STABLE_MIN_POINTS``, or ``STABLE_MIN_FRACTION`` of the run for short ones) over
    which the loss fell by ``STABLE_MIN_IMPROVEMENT``?"""
    if tl.loss is None:
        return False
    mask = (tl.loss.steps < step) & np.isfinite(tl.loss.values)
    v = tl.loss.values[mask]
    n_all = int(np.count_nonzero(np.isfinite(tl.loss.values)))
    if v.size < STABLE_MIN_POINTS and not (v.size >= 4 and v.size >= STABLE_MIN_FRACTION * n_all):
        return False
    k = max(1, v.size // 3)
    first, last = float(median(v[:k])), float(median(v[-k:]))
    return last <= (1.0 - STABLE_MIN_IMPROVEMENT) * first if first > 0 else last < first


@rule("LR002", "divergence-from-the-start-at-high-lr", "learning_rate", ("lr_too_high",), needs=("loss",))
def diverges_from_start(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The loss never settles: its climb starts within the first 15 % of the run
        (or within its first 35 % while the loss never got below 30 % of its first
        value, or anywhere when no loss logged before it went below the first one in a
        record that starts by step 2000 or epoch 2),
        the blow-up does not follow an LR increase after stable training
        (LR001's case; a short warmup straight to the final LR is not one), the
        first logged loss was finite (a non-finite first loss is a data rule's case),
        and the record shows the run's start: a counter that begins past step 2000 or
        epoch 2 (a paste of the run's middle) says nothing of how early a climb began.

    Why it points to this cause:
        With a constant step size above the stability limit, the very first
        updates overshoot and each one amplifies the error: the loss rises
        geometrically from the start. A learning rate that is high for its
        optimizer family (Adam > 1e-2, SGD > 0.3) strengthens the case; a small
        one weakens it.

    Evidence it reports:
        The onset step, the growth rate (fold per step), the LR and optimizer
        where known.

    Fix to suggest:
        Lower the LR by 10x (concrete value from the run), add a warmup and
        gradient clipping.
    """
    if not tl.diverged or tl.loss is None or tl.onset is None:
        return []
    nf = tl.first_nonfinite
    if nf is not None and nf.last_finite_step is None:
        return []  # non-finite from the first logged step: the data rules' case
    if lr_increase_then_blowup(tl):
        return []  # the blow-up follows an LR increase after stable training: LR001's case
    if _record_starts_late(tl):
        return []  # "early in the run" is measured from the run's start, which a paste of its middle does not show
    lri = tl.lr_info
    first = int(tl.loss.steps[0])
    end = tl.divergence_step if tl.divergence_step is not None else int(tl.loss.steps[-1])
    span = max(end - first, 1)
    interval = tl.loss.interval if tl.loss.interval > 0 else 1
    # a few logged points count as early in a short run, but never most of a coarsely logged one
    early = max(EARLY_ONSET_FRACTION * span, min(EARLY_ONSET_POINTS * interval, UNSETTLED_ONSET_FRACTION * span))
    head = tl.loss.values[: max(1, min(3, len(tl.loss)))]
    initial = float(median(head[np.isfinite(head)])) if np.isfinite(head).any() else math.nan
    never_settled = (
        tl.onset.step - first <= UNSETTLED_ONSET_FRACTION * span
        and initial > 0
        and tl.onset.value >= UNSETTLED_LOSS_FRACTION * initial
    ) or _never_fell(tl)
    if tl.onset.step - first > early and not never_settled:
        return []
    when = (
        f"within the first {EARLY_ONSET_FRACTION:.0%} of the run"
        if tl.onset.step - first <= early
        else "before the model had learned anything"
    )
    weight = EARLY_CLIMB_WEIGHT["unknown"]
    lr_txt = ""
    if lri.value is not None:
        lr_txt = f" at a constant LR of {fmt_num(lri.value)}" + (f" ({lri.optimizer})" if lri.optimizer else "")
        if lr_high(lri):
            weight = EARLY_CLIMB_WEIGHT["high"]
        elif lr_normal(lri):
            weight = EARLY_CLIMB_WEIGHT["normal"]
    return [
        Finding(
            "lr_too_high",
            f"The loss climbed from step {tl.onset.step} ({when}){lr_txt}, growing "
            f"{tl.onset.fold_per_step:.3g}× per step until step {tl.onset.end_step}.",
            step=tl.onset.step,
            source=tl.loss.source,
            weight=weight,
            fix=_fix_cap(None, lri.value),
            fix_sets="learning_rate",
        )
    ]


def _record_starts_late(tl: Timeline) -> bool:
    """The record's counter starts past where a step size beyond the stability limit breaks a run
    (EARLY_NONFINITE_STEP, or EARLY_NONFINITE_EPOCH where it counts epochs; a first point one
    logging interval in is the start): a paste of a run's middle, whose first point is no "start"."""
    assert tl.loss is not None
    start = {"step": EARLY_NONFINITE_STEP, "epoch": EARLY_NONFINITE_EPOCH}.get(tl.loss.unit)
    if start is None or not len(tl.loss):
        return False
    s, _ = tl.loss.in_step_order
    interval = tl.loss.interval if tl.loss.unit == "step" and tl.loss.interval > 0 else 0
    return int(s[0]) > max(start, interval)


def _never_fell(tl: Timeline) -> bool:
    """No finite loss logged before the climb's onset fell below the first one (at least
    NEVER_FELL_MIN_POINTS of them), in a record that starts where a step size past the stability
    limit breaks a run (by EARLY_NONFINITE_STEP or EARLY_NONFINITE_EPOCH; a paste that starts
    later, or lines placed by their order, show nothing of the run's start): the run never learned
    anything before it blew up."""
    assert tl.loss is not None and tl.onset is not None
    s, v = tl.loss.in_step_order
    start = {"step": EARLY_NONFINITE_STEP, "epoch": EARLY_NONFINITE_EPOCH}.get(tl.loss.unit)
    if start is None or not len(s) or int(s[0]) > start:
        return False
    before = v[(s <= tl.onset.step) & np.isfinite(v)]
    return before.size >= NEVER_FELL_MIN_POINTS and before[0] > 0 and float(before.min()) >= before[0]


def _jumps_before_divergence(tl: Timeline) -> list[LrChange]:
    """The schedule steps up (not a warmup's ramp) at or before the divergence."""
    end = tl.divergence_step
    return [c for c in tl.lr_changes if c.kind == "jump" and (end is None or c.step <= end)]


def _update_jump(tl: Timeline) -> tuple[RelativeUpdate, RelativeUpdate] | None:
    """(healthy pair, the pair after it) when the per-step relative update jumped by
    UPDATE_JUMP_FACTOR or more from a healthy level past REL_UPDATE_HIGH, the healthy pair
    after any warmup the config states: the step size rose between two checkpoints."""
    ups = sorted((u for u in tl.relative_updates if math.isfinite(u.per_step)), key=lambda u: u.step_a)
    warm = tl.lr_schedule.warmup if tl.lr_schedule.warmup is not None and tl.lr_schedule.warmup >= 1 else 0.0
    for a, b in itertools.pairwise(ups):
        if a.step_a < warm or not 0 < a.per_step < REL_UPDATE_HIGH:
            continue
        if b.per_step >= REL_UPDATE_HIGH and b.per_step >= UPDATE_JUMP_FACTOR * a.per_step:
            return a, b
    return None


def _update_detail(tl: Timeline) -> str | None:
    """Too large a step is a schedule spike when the logged LR rose before the blow-up, a high
    LR when it was logged and did not; without a logged LR, a spike when the checkpoints show
    the per-step update jump from a healthy level (_update_jump), else no detail."""
    if tl.lr is None or not len(tl.lr):
        return "lr_schedule_spike" if _update_jump(tl) is not None else None
    ups = _jumps_before_divergence(tl)
    # a warmup that climbed into the blow-up after training at the lower LR is LR001's spike
    return "lr_schedule_spike" if ups or lr_increase_then_blowup(tl) else "lr_too_high"


@rule(
    "LR003",
    "relative-update-too-large",
    "learning_rate",
    ("lr_too_high", "lr_schedule_spike"),
    needs=("checkpoints",),
)
def relative_update_too_large(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Between two consecutive finite checkpoints the weights moved by more than
        1e-2 of their norm per step: ||W2 - W1|| / ||W1|| divided by the steps
        between them, measured tensor by tensor (the last few pairs before the
        blow-up). When the tensors cannot be compared, the change of the global
        norm gives a lower bound (| ||W2|| - ||W1|| | <= ||W2 - W1||).

    Why it points to this cause:
        Healthy training moves the weights by about 1e-3 of their norm per step;
        ten times that, sustained across checkpoints, means the step size is far
        too large for the model (or gradients have exploded — EXP rules tell those
        apart by the LR level).

    Evidence it reports:
        The checkpoints, the steps between them, the norm change and the per-step
        relative update bound.

    Fix to suggest:
        Lower the learning rate so updates stay near 1e-3 of the weight norm per
        step; add gradient clipping. (The detail is a schedule spike when the
        logged LR jumped up before the blow-up, or rose into it as LR001 sees,
        a high LR when it was logged and did neither. Without a logged LR, a
        schedule spike when the per-step update jumped 30x or more between two
        consecutive pairs of checkpoints, from a healthy level (under 1e-2, past
        any stated warmup) to a too-large one: training worked at the step size
        before, so the step size rose in between; else no detail.)
    """
    lri = tl.lr_info
    measured = [u for u in tl.relative_updates if math.isfinite(u.per_step)]
    if measured:
        worst = max(measured, key=lambda u: u.per_step)
        if worst.per_step < REL_UPDATE_HIGH:
            return []
        top = max(worst.layers.items(), key=lambda kv: kv[1][0] / kv[1][1] if kv[1][1] > 0 else 0.0)
        detail = _update_detail(tl)
        jump = _update_jump(tl) if tl.lr is None or not len(tl.lr) else None
        before, fix = "", _fix_cap(None, lri.value)
        if jump is not None:
            a, b = jump
            before = (
                f" Between step {a.step_a} and {a.step_b} it was {a.per_step:.1e} per step: the step size rose "
                f"{fmt_num(b.per_step / a.per_step)}-fold between those checkpoints."
            )
            fix = (
                f"Keep the schedule from raising the LR after step {a.step_b} (a milestone factor below 1, a lower "
                f"peak) and resume from the checkpoint at step {a.step_b}; add gradient clipping."
            )
        return [
            Finding(
                detail,
                f"Between step {worst.step_a} and {worst.step_b} the weights moved by ||dW||/||W|| = "
                f"{fmt_num(worst.relative)}, about {worst.per_step:.1e} per step (healthy ≈ 1e-3); "
                f"largest in layer {top[0]}.{before}",
                step=worst.step_b,
                source=worst.path_b,
                weight=_by_lr(lri, REL_UPDATE_WEIGHT),
                fix=fix,
                fix_sets="learning_rate",
            )
        ]
    norms = [(s, n, p) for s, n, p in tl.weight_norms if s is not None and n > 0 and math.isfinite(n)]
    if len(norms) < 2:
        return []
    worst_bound = None
    for (s1, n1, _p1), (s2, n2, p2) in itertools.pairwise(norms):
        if s2 <= s1:
            continue
        per_step = abs(n2 - n1) / n1 / (s2 - s1)
        if worst_bound is None or per_step > worst_bound[0]:
            worst_bound = (per_step, s1, s2, n1, n2, p2)
    if worst_bound is None or worst_bound[0] < REL_UPDATE_HIGH:
        return []
    per_step, s1, s2, n1, n2, p2 = worst_bound
    return [
        Finding(
            _update_detail(tl),
            f"Weight norm went from {fmt_num(n1)} (step {s1}) to {fmt_num(n2)} (step {s2}): a relative update of at "
            f"least {per_step:.1e} per step (healthy ≈ 1e-3).",
            step=s2,
            source=p2,
            weight=_by_lr(lri, WEIGHT_NORM_STEP_WEIGHT),
            fix=_fix_cap(None, lri.value),
            fix_sets="learning_rate",
        )
    ]


@rule("LR004", "growing-loss-oscillation", "learning_rate", ("lr_too_high",), needs=("loss",))
def growing_oscillation(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Before the blow-up, consecutive loss changes alternate in sign (at least
        80 % of them, and at least 2.5 standard errors above the 2/3 that
        independent noise gives) and the swing grows: the last quarter's mean
        absolute change in log-loss is at least 3x the first quarter's.

    Why it points to this cause:
        Gradient descent with a step above 2 / curvature bounces across the valley,
        overshooting further each time: an oscillation of growing amplitude is the
        textbook signature of a learning rate past the stability limit.

    Evidence it reports:
        The stretch of steps, the share of sign alternations and the growth of the
        swing.

    Fix to suggest:
        Lower the learning rate (or the momentum); add gradient clipping.
    """
    if tl.loss is None or not tl.diverged:
        return []
    end = tl.loss.first_nonfinite_index or len(tl.loss)
    v = tl.loss.values[:end]
    v = v[np.isfinite(v)]
    if v.size < 16:
        return []
    d = np.diff(log10_safe(v))
    d = d[d != 0]
    if d.size < 12:
        return []
    flips = np.sign(d[1:]) != np.sign(d[:-1])
    alternation = float(np.mean(flips))
    z = (alternation - 2.0 / 3.0) / math.sqrt((2.0 / 9.0) / flips.size)
    q = max(3, d.size // 4)
    a0, a1 = float(np.mean(np.abs(d[:q]))), float(np.mean(np.abs(d[-q:])))
    if alternation < OSC_ALTERNATION or z < OSC_ALTERNATION_Z or a0 <= 0 or a1 < OSC_GROWTH * a0:
        return []
    return [
        Finding(
            "lr_too_high",
            f"The loss oscillated with growing amplitude before the blow-up: {alternation:.0%} of its changes "
            f"alternate in sign and the swing grew {a1 / a0:.1f}×.",
            step=int(tl.loss.steps[0]),
            source=tl.loss.source,
            weight=OSCILLATION_WEIGHT,
            fix=_fix_cap(None, tl.lr_info.value),
            fix_sets="learning_rate",
        )
    ]


# How the step size came to be too large, once the blow-up is the LR's: it names the detail
# and weighs little for the cause (LR001, LR002 and LR006 say whether the LR did it).
SCHEDULE_SHAPE_WEIGHT = 0.2
# A config's step schedule that multiplies the LR by more than 1 at each milestone, no LR logged:
# the LR grows geometrically by design, and no rule that reads a logged LR can say whether it
# rose into the blow-up, so the stated factor itself speaks for the cause (a factor above 1 is a
# misconfiguration: a step schedule decays the LR).
STATED_RAISE_WEIGHT = 0.5


@rule(
    "LR009",
    "lr-raised-by-the-schedule-or-high-throughout",
    "learning_rate",
    ("lr_schedule_spike", "lr_too_high"),
    needs=("lr",),
)
def schedule_or_constant(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        In a run that diverged (or whose loss was not kept: only a config or
        checkpoints say how it went), how the LR in force came about, where LR001 (an
        LR that rose into the blow-up after training at a lower one) is silent.
        A logged LR that jumped up before the blow-up (a schedule step, not a
        warmup's ramp) is a schedule spike; a logged LR that was high for its
        optimizer and rose by no jump before the blow-up is an LR too high
        throughout. Without a logged
        LR, a config whose step schedule multiplies the LR by more than 1 at each
        milestone (gamma > 1) is a schedule spike, and a config stating an LR
        that is high for its optimizer, with no such schedule and no warmup, an
        LR too high (with a warmup up to it, the config cannot say whether
        training worked on the way up, a spike, or not, too high).

    Why it points to this cause:
        Both details are a step size past the stability limit; they differ in
        where it came from, and the fix differs with it: a schedule that raised a
        working LR (cap the milestone factor or the peak) or an LR that was too
        high from the first step (lower it). A warmup that ramps up to the
        configured LR is not a spike: the configured LR itself is what it
        reached. The weight is low: whether the LR caused the blow-up is for the
        other LR rules to say, except for a config's factor above 1 with no LR
        logged: no rule that reads a logged LR can judge it then, and the factor
        raises the LR geometrically by design (a step schedule decays it), so it
        weighs as a finding of its own.

    Evidence it reports:
        The jump and its step, or the constant level, or the config's factor or
        stated LR, and where each was read.

    Fix to suggest:
        For a spike, keep the schedule from raising the LR (a gamma below 1, a
        lower peak); for an LR too high, lower it by 10x.
    """
    if not may_have_failed(tl):
        return []
    lri = tl.lr_info
    if tl.lr is not None and len(tl.lr):
        if lr_increase_then_blowup(tl):
            return []  # LR001 names the spike: the LR rose into the blow-up after training at a lower one
        jumps = _jumps_before_divergence(tl)
        if jumps:
            c = jumps[-1]
            return [
                Finding(
                    "lr_schedule_spike",
                    f"The logged LR jumped from {fmt_num(c.before)} to {fmt_num(c.after)} at step {c.step}, before "
                    "the blow-up: the schedule raised it.",
                    SCHEDULE_SHAPE_WEIGHT,
                    step=c.step,
                    source=tl.lr.source,
                    fix=_fix_cap(c.before, c.after),
                    fix_sets="learning_rate",
                )
            ]
        if lr_high(lri):
            return [
                Finding(
                    "lr_too_high",
                    f"The logged LR was {fmt_num(lri.value)} ({lri.origin}), high for "
                    f"{lri.family or 'an unknown optimizer'}, and no schedule step raised it before the blow-up: "
                    "it was too high throughout.",
                    SCHEDULE_SHAPE_WEIGHT,
                    source=tl.lr.source,
                    fix=_fix_cap(None, lri.value),
                    fix_sets="learning_rate",
                )
            ]
        return []
    sch = tl.lr_schedule
    if sch.step_factor is not None and sch.step_factor > STEP_FACTOR_RAISES:
        return [
            Finding(
                "lr_schedule_spike",
                f"The config's step schedule multiplies the LR by {fmt_num(sch.step_factor)} at each milestone "
                f"({sch.step_factor_origin}): every milestone raises it.",
                STATED_RAISE_WEIGHT,
                source=sch.step_factor_origin,
                fix=f"Set the schedule's factor below 1 (it is {fmt_num(sch.step_factor)}): a step schedule should "
                "decay the LR, not raise it.",
                fix_sets="learning_rate",
            )
        ]
    if lr_high(lri) and not sch.warmup:
        return [
            Finding(
                "lr_too_high",
                f"The stated LR is {fmt_num(lri.value)} ({lri.origin}), high for "
                f"{lri.family or 'an unknown optimizer'}, and no schedule in the config raises it: it was too high "
                "from the start.",
                SCHEDULE_SHAPE_WEIGHT,
                fix=_fix_cap(None, lri.value),
                fix_sets="learning_rate",
            )
        ]
    return []


# The loss went non-finite while a warmup was raising the LR, after finite training at the lower
# LR just before: the step size was the thing changing. Below a climb's weight (LR001, LR002): a
# fault that strikes at any time can fall inside a long warmup too.
WARMUP_IN_PROGRESS_WEIGHT = 0.5


@rule("LR010", "non-finite-while-warmup-raises-lr", "learning_rate", ("lr_too_high",), needs=("lr", "loss"))
def nonfinite_during_warmup(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss went non-finite while the logged LR was still rising:
        the LR rose at each of the last two (or more) logged points up to the
        first non-finite loss, by small steps (a ramp, not a jump), the loss was
        finite at the logged point before, and the LR was above zero there.
        Silent where LR001 names the warmup (a blow-up right at its end, after
        stable training at the lower LR).

    Why it points to this cause:
        During a warmup the step size grows at every update, and nothing else
        about the training changes with it. Training that stayed finite at the
        slightly lower LR just before and broke as the LR kept rising crossed
        the stability limit on the way up: the LR the warmup heads for is too
        high for the model (or the warmup too short to reach it safely). A NaN
        that a bad batch or an operation produces can fall inside a warmup too,
        so the weight stays below that of a visible climb.

    Evidence it reports:
        The LR at the last finite point and at the blow-up, and the steps.

    Fix to suggest:
        Lower the peak LR (the LR at the blow-up is already too much), or
        lengthen the warmup; add gradient clipping.
    """
    rising = lr_still_rising(tl)
    nf = tl.first_nonfinite
    if rising is None or nf is None:
        return []
    if lr_increase_then_blowup(tl):
        return []  # LR001 names it: the warmup's end, after stable training
    lr_ok = tl.lr_at(nf.last_finite_step)
    return [
        Finding(
            "lr_too_high",
            f"The loss went {fmt_num(nf.value)} at step {nf.step} while the LR was still rising (a warmup in "
            f"progress): finite at step {nf.last_finite_step} with the LR at {fmt_num(lr_ok)}, non-finite as it "
            f"reached {fmt_num(rising)}.",
            WARMUP_IN_PROGRESS_WEIGHT,
            step=nf.step,
            source=tl.lr.source,
            fix=_fix_cap(lr_ok, rising),
            fix_sets="learning_rate",
        )
    ]


@rule("LR012", "trained-before-the-blowup", "learning_rate", ("lr_schedule_spike",), needs=("loss",))
def trained_before_blowup(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The run diverged after a long stretch of training that worked: before
        the climb (or the first non-finite value), at least 15 finite loss
        points covering 30 % of the logged steps, starting at no huge level,
        ended no more than 10 % above where they began. Silent while a warmup
        was still raising the LR at the blow-up (LR010's case). Context for the
        detail of an LR fault; it argues for no cause.

    Why it points to this cause:
        An LR configured too high (lr_too_high) breaks training from its first
        updates: the loss never settles. A loss that fell, or held, for a long
        stretch was trained by the LR in force then, so if the LR is what broke
        the run, the LR changed: a schedule raised it (a jump, a restart, a
        scaling step) past what the model could take. Whether the LR is the
        cause at all is left to the other rules; a bad batch or an operation
        can end such a stretch too.

    Evidence it reports:
        The stretch (points, steps) and the loss at its start and end.

    Fix to suggest:
        None of its own: context, whose fix (the schedule's peak, where the LR
        is logged) is LR001's and LR009's to give.
    """
    if tl.loss is None or not tl.diverged or lr_still_rising(tl) is not None:
        return []
    until = tl.onset.step if tl.onset is not None else tl.divergence_step
    if until is None:
        return []
    steps, values = tl.loss.steps, tl.loss.values
    keep = (steps < until) & np.isfinite(values)
    before = values[keep]
    first, last = float(steps.min()), float(steps.max())
    if before.size < TRAINED_STRETCH_POINTS or (until - first) < TRAINED_STRETCH_FRACTION * (last - first):
        return []
    k = max(3, before.size // 10)
    start, end = float(median(before[:k])), float(median(before[-k:]))
    if not (0 < abs(start) < FIRST_LOSS_HUGE) or end > TRAINED_HELD_FACTOR * start:
        return []
    return [
        Finding(
            "lr_schedule_spike",
            f"The loss trained for {before.size} points before the blow-up at step {until} (from {fmt_num(start)} "
            f"to {fmt_num(end)}): the LR in force then worked, so an LR that broke the run was raised later, "
            "not configured too high.",
            CONTEXT,
            step=until,
            source=tl.loss.source,
        )
    ]


# A non-finite loss the run never came back from, logged after updates had run and before the
# loss had fallen, where nothing states the LR: the likeliest of the faults that need updates, but
# an operation or a net that blew up in its first updates looks the same, so the weight stays below
# a visible climb's at an unknown LR (LR002's EARLY_CLIMB_WEIGHT["unknown"], 0.6).
NONFINITE_BEFORE_LEARNING_WEIGHT = 0.55
# ... non-finite from its first logged point, past the first step: the NaN may as well have started
# on the initial weights (an operation or the inputs: DATA001) and stayed, so it weighs less.
NONFINITE_FROM_FIRST_POINT_WEIGHT = 0.45
# The loss was not falling into it: its last finite value before it at or above this fraction of
# the first (a loss that learns falls by more than minibatch noise, ~10 %, over a few points) ...
NO_PROGRESS_FRACTION = 0.9
# ... judged over at least this many finite points: fewer show no trend through minibatch noise, and
# weigh as a NaN at the first logged point does.
MIN_TREND_POINTS = 3
# The first forward passes run on the initial weights: a loss non-finite at a first logged step at
# or below this (before any update could act) is the data's or an operation's (DATA001), never the LR's.
FIRST_UPDATE_STEP = 1
# A step size past the stability limit breaks a run within its first few hundred updates, or as a
# warmup (a few hundred to two thousand steps in common recipes) reaches it: a loss still finite
# later than this step trained stably at that LR, and a NaN first logged later shows nothing of the
# start (a paste's last lines) ...
EARLY_NONFINITE_STEP = 2000
# ... nor one later than this epoch, where the log counts epochs.
EARLY_NONFINITE_EPOCH = 2
# A step size past the stability limit grows the loss geometrically over several updates before it
# overflows; logged at (nearly) every step that climb shows (LR002). A NaN this few steps or fewer
# after a normal finite loss (or after the start) came straight from a normal level: a batch's or
# an operation's, not the step size's.
HIDDEN_CLIMB_STEPS = 10


@rule("LR013", "non-finite-before-the-loss-fell", "learning_rate", ("lr_too_high",), needs=("loss",))
def nonfinite_before_learning(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Where no source states the LR (no logged LR, optimizer state or config),
        the training loss went non-finite early (by step 2000, or epoch 2, where
        the log places it on steps or epochs) and stayed so to the end of the
        record, after updates had run (a finite loss was logged before it, or its
        first logged point is an epoch's mean or a step past the first) and
        before the loss had learned anything: the finite losses before it, if
        any, were not falling into it (the last at or above 90 % of the first,
        none below 30 % of it; fewer than three finite points show no trend and
        weigh as a NaN at the first point). Silent where the run trains in
        float16 (a config, the trainer's own line or the loss's values say so:
        an overflow is as likely), where a climb was seen before it (LR002's
        case from the start; a run that had trained first otherwise), where the
        NaN came fewer than 10 steps after a finite loss (or the start): logged
        that densely a step size's climb would show, where
        the loss was already huge before it (the blow-up reached the float
        limit: the EXP rules' case), and where the finite record begins past
        halfway from the first update to the NaN (a paste of a run's last
        lines: the level it shows is a trained run's).

    Why it points to this cause:
        A step size past the stability limit overshoots from the first updates:
        the loss rises or bounces instead of falling, and within the first
        batches the weights leave the float range and every later loss is NaN.
        The faults that strike out of a normal level hit a loss that is falling:
        a log(0) needs outputs saturated by training, a bad batch or an x/0
        arrives while the model learns (DATA005, NUM008), and a forward pass on
        the initial weights is no update's doing (DATA001 weighs that). A NaN
        from the first logged point past the first step may have started on the
        initial weights too, so it weighs less. A loss still finite thousands of
        steps in trained stably at its LR, and a NaN first logged that late
        shows nothing of how the run began: the rule is then silent. So does a
        finite record that begins late: a flat stretch there is a trained
        run's plateau, which the faults out of a normal level strike as well,
        not a loss that never fell. Where the LR is stated, LR006 and LR009
        judge it against its optimizer's usual range and this rule stays silent;
        where it is not, the log cannot rule the step size out, and a run dead
        before it learned is the commonest picture of one too high.

    Evidence it reports:
        The step of the first non-finite loss, and the finite losses before it
        (or that none was logged).

    Fix to suggest:
        Lower the LR by 10x, add a warmup and gradient clipping; log the LR, so
        that its value can be weighed.
    """
    nf = tl.first_nonfinite
    if not tl.diverged or tl.loss is None or nf is None or nf.role != "loss":
        return []
    if tl.lr_info.value is not None or tl.lr is not None:
        return []  # a stated LR is judged against its optimizer's range (LR006, LR009)
    if tl.weight_dtype == "float16":
        return []  # in float16 an early NaN is as much an overflow (NUM002, NUM005, NUM006 weigh it)
    if tl.onset is not None:
        return []  # a climb before it: LR002's picture from the start, else a run that trained first
    if blown_up_before_nonfinite(tl):
        return []  # the loss had blown up on the way: the float limit, not a sudden NaN
    limit = {"step": EARLY_NONFINITE_STEP, "epoch": EARLY_NONFINITE_EPOCH}.get(tl.loss.unit)
    if limit is None or nf.step > limit:
        return []  # not early, or where in the run is unknown (line order): nothing shows it never learned
    s, v = tl.loss.in_step_order
    if np.isfinite(v[s >= nf.step]).any():
        return []  # the loss came back: a skipped batch or a guard, not weights gone non-finite
    before = v[(s < nf.step) & np.isfinite(v)]
    last_finite_step = int(s[(s < nf.step) & np.isfinite(v)][-1]) if before.size else 0
    if tl.loss.unit == "step" and nf.step - last_finite_step < HIDDEN_CLIMB_STEPS:
        return []  # logged densely enough to show a climb, and none came: a sudden NaN
    if before.size:
        first_step = int(s[(s < nf.step) & np.isfinite(v)][0])
        if first_step - FIRST_UPDATE_STEP > nf.step - first_step:
            # the record begins past halfway to the NaN (a paste's last lines): what it shows is a trained run's
            # level, and whether the run learned before it is out of sight
            return []
        first, last = float(before[0]), float(before[-1])
        if first > 0 and (last < NO_PROGRESS_FRACTION * first or float(before.min()) < UNSETTLED_LOSS_FRACTION * first):
            return []  # it was learning: a fault that strikes out of a normal, falling loss
        what = (
            f"from {fmt_num(first)}, the last finite loss ({fmt_num(last)}) no lower"
            if before.size > 1
            else f"after one finite loss ({fmt_num(first)})"
        )
    elif tl.loss.unit == "step" and nf.step <= FIRST_UPDATE_STEP:
        return []  # no update is known to have run before it: DATA001's case
    else:
        what = "(its first logged point, after updates the log does not show)"
    return [
        Finding(
            "lr_too_high",
            f"The loss went {fmt_num(nf.value)} at {tl.loss.unit} {nf.step} {what}, and stayed non-finite: a run "
            "that diverged before it learned anything, as a step size past the stability limit does (no source "
            "states the LR).",
            NONFINITE_BEFORE_LEARNING_WEIGHT if before.size >= MIN_TREND_POINTS else NONFINITE_FROM_FIRST_POINT_WEIGHT,
            step=nf.step,
            source=tl.loss.source,
            fix=_fix_cap(None, None),
            fix_sets="learning_rate",
        )
    ]


# A blow-up that stayed finite: the step size is the likelier cause, but clipped exploding
# gradients can leave the same picture (bounded updates), so it is a finding, not a verdict.
FINITE_BLOWUP_WEIGHT = 0.5


@rule("LR016", "blew-up-and-stayed-finite", "learning_rate", (), needs=("loss",))
def blew_up_and_stayed_finite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A training loss that rose at least 100x above its first logged value and
        was still there at the end of the record (the median of its last tenth
        of points, one point at least), every logged loss finite and no
        checkpoint holding a non-finite weight: a divergence that never printed
        a NaN or an Inf. A rise, signed: a loss that falls through zero and ends
        far below it (a negative log-likelihood, a flow's) grew in size by
        learning.

    Why it points to this cause:
        Growth that compounds — a gradient amplified layer after layer or step
        after step through a recurrence (exploding gradients), or an operation
        that overflows or hits a singularity — multiplies the loss by a factor
        at every step until it leaves the float range: such runs end in Inf or
        NaN within a few hundred steps. A step size past the stability limit
        need not: an adaptive optimizer (Adam, RMSprop) moves each weight by
        about the LR per step whatever the gradient, and clipping bounds the
        update to LR x the clip norm, so at too high an LR the weights are
        thrown to a large but finite place and the loss stays blown up without
        overflowing. Clipped exploding gradients can leave the same picture
        (clipping is their cure, so that run would have to be clipped and still
        fail), which keeps this a finding to weigh, not a verdict.

    Evidence it reports:
        The first logged loss, the peak and its step, the level at the end of
        the record, and the LR where known.

    Fix to suggest:
        Lower the LR by 10x (concrete value where it is known), add a warmup
        and gradient clipping.
    """
    up = stayed_blown_up(tl)
    if up is None:
        return []
    lo = tl.loss
    assert lo is not None
    s, a = up.steps, up.values
    first, tail, peak = float(a[0]), up.tail, int(np.argmax(a))
    lri = tl.lr_info
    lr_txt = f" (LR {fmt_num(lri.value)}, {lri.origin})" if lri.value is not None else ""
    return [
        Finding(
            None,  # a level, not a shape: a warmup's or a schedule's peak can throw the weights as far
            f"The loss rose from {fmt_num(first)} ({lo.unit} {int(s[0])}) to {fmt_num(float(a[peak]))} at {lo.unit} "
            f"{int(s[peak])} and was still {fmt_num(tail)} at the end of the record, never Inf or NaN{lr_txt}: the "
            "weights were thrown far by bounded steps too large, not grown by compounding, which overflows.",
            FINITE_BLOWUP_WEIGHT,
            step=int(s[peak]),
            source=lo.source,
            fix=_fix_cap(None, lri.value),
            fix_sets="learning_rate",
        )
    ]


# A loss pinned at a framework's clamp: the step size is the usual cause, but unnormalised inputs or a
# label past the output layer saturate a softmax as surely, so it is a finding, as a finite blow-up is.
PINNED_AT_CLAMP_WEIGHT = 0.5


@rule("LR017", "loss-pinned-at-a-clamp", "learning_rate", ("lr_too_high",), needs=("loss",))
def loss_pinned_at_a_clamp(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A training loss (or one of its terms printed beside it) that reached the
        value a framework clamps a saturated cross-entropy at, and stayed there,
        two logged points in a row at least, to the end of the record: Caffe's
        87.3365 (-ln FLT_MIN) and 46.0517, Keras' 16.1181 (-ln 1e-7: tf.keras
        computes from the logits of a softmax output instead, with no clamp)
        and its binary 15.9424, tf.keras 2's 15.4249 and 15.3332, PyTorch
        BCELoss's 100,
        Lua Torch's and MXNet's 27.6310 (``forensics/clamps.py``: each from the
        framework's source), within 2e-4 of the constant (or 0.005, a 2-decimal
        print's rounding). The timeline counts the
        run diverged from there: it never prints NaN, the clamp keeps the log
        finite. Not when the loss sat there from its first logged point at step 0
        or 1, before any update (the initial weights and the inputs did it), nor
        when it stood above the clamp earlier: the clamp is the most a saturated
        element prints, so a loss that was higher (a sum, a regression loss
        converging from above) is no loss under that clamp. Nor a percentage
        error at 100 (Keras' 'mape', by its name or the metric printed beside
        it): a net predicting 0 everywhere prints that, no BCELoss clamp. Nor a
        loss read as the log of the perplexity a line prints instead: a
        constant there is the perplexity's print cap (OpenNMT-py's e^100),
        which the timeline judges as a perplexity past any plausible one.

    Why it points to this cause:
        The loss sits exactly at -log(clamp) only when the probability the net
        gives the right label underflowed to zero on every element: its logits
        were thrown so far that the softmax or sigmoid saturated on the wrong
        side, and stayed so (the gradient through a saturated output is zero, so
        the net cannot come back). Caffe's GPU loss prints its clamp for NaN
        outputs too (CUDA's max drops the NaN): weights gone NaN, the same
        divergence. After updates ran, a step size too large is
        what throws logits that far in one move (Caffe's "loss 87.3365" after the
        first iterations at base_lr 0.01-0.1 is its best-known case). Inputs fed
        unscaled (0-255 pixels) or a label past the output layer's width (Caffe's
        GPU loss does not check it) saturate it as well, which keeps this a
        finding to weigh, not a verdict.

    Evidence it reports:
        The value, the clamp it is and whose, the step it got there, the loss
        before it, and the LR where known. The detail is an LR too high where
        the log shows no raise of the LR before it (a schedule's or a warmup's
        raise there would be LR001's and LR010's); none otherwise.

    Fix to suggest:
        Lower the LR by 10x (concrete value where it is known) and add a warmup;
        check that the inputs are normalised and the labels within the output
        layer's classes.
    """
    lo = tl.loss
    if lo is None or tl.first_nonfinite is not None:
        return []
    hits = []
    # a loss that is the log of its printed perplexity sits at a constant at the perplexity's print cap, no clamp
    for s in ((lo,) if not tl.loss_is_log_of_perplexity else ()) + tuple(
        t for t in tl.other_losses if t.unit == lo.unit and t.source == lo.source
    ):
        pinned = pinned_at_clamp(s, tl.loss_is_percentage and s is lo)
        if pinned is not None:
            hits.append((pinned[0], s.tag, pinned[1], s))
    if not hits:
        return []
    step, tag, clamp, s = min(hits, key=lambda h: h[0])
    steps, values = s.in_step_order
    before = values[steps < step]
    if not before.size and lo.unit == "step" and step <= FIRST_UPDATE_STEP:
        return []  # saturated by the first forward pass: no update had run
    was = (
        f", from {fmt_num(float(before[-1]))} at {lo.unit} {int(steps[before.size - 1])}"
        if before.size
        else f" (its first logged point, {lo.unit} {step})"
    )
    lri = tl.lr_info
    lr_txt = f" (LR {fmt_num(lri.value)}, {lri.origin})" if lri.value is not None else ""
    raised = any(c.kind in ("jump", "warmup_end") and c.step <= step for c in tl.lr_changes)
    return [
        Finding(
            None if raised else "lr_too_high",
            f"The {tag} reached {clamp.value:.6g} at {lo.unit} {step}{was}, and sat there to the end of the "
            f"record{lr_txt}: the value a cross-entropy clamped before its log prints when the right label's "
            "probability underflowed on every element. The net's outputs saturated on the wrong side and stopped "
            "moving: logits thrown far by a step too large, or inputs fed unscaled.",
            PINNED_AT_CLAMP_WEIGHT,
            step=step,
            source=lo.source,
            fix=_fix_cap(None, lri.value)
            + " Check that the inputs are normalised and every label is within the output layer's classes.",
            fix_sets="learning_rate",
        )
    ]
