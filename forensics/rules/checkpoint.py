"""A checkpoint's own health, for a checkpoint given without the curves of its run.

The per-layer view follows WeightWatcher's idea (one number per layer, read against
the other layers of the same model) with the plainest number there is, the root mean
square of the layer's weights. No spectrum is computed: a blown-up layer is off by
decades, which a norm shows as well as an eigenvalue and costs one streamed pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.context import DTYPE_MAX, FP16_MAX, STEP_FACTOR_RAISES, lr_high, lr_normal
from forensics.timeline import CheckpointView, Timeline
from forensics.util import fmt_num

# A layer whose weights have an RMS per element above this has exploded: initialisers
# give sqrt(1/fan_in) or so (well under 1), normalisation gains start at 1, and training
# moves them by an order of magnitude at most; 1e3 leaves three decades of room.
EXPLODED_RMS = 1e3
# A layer this many decades (1000x) away from the median of its neighbours is out of
# line: consecutive layers of a trained model differ by about one decade at most
# (embeddings and norm gains against projections), a blown-up one by many.
OUT_OF_LINE_DECADES = 3.0
# Neighbours on each side that a layer is read against.
NEIGHBOURS = 2
# A tensor whose max |x| reaches this fraction of its dtype's largest finite value is
# about to overflow: the next update or matmul passes the limit.
NEAR_LIMIT_FRACTION = 0.5
# Statistics a framework keeps beside the weights (BatchNorm's running variance grows
# with unnormalised inputs, a step counter is an integer): not weights, not judged.
BUFFER_NAMES = ("running_mean", "running_var", "moving_mean", "moving_variance", "num_batches_tracked")

# Evidence weights, by the step size a source states. Weights exploded, at the dtype's limit or
# out of line by decades are the blow-up itself, near certain: strong (0.95) at a normal or
# unstated LR. But they do not show what drove it (compounding through depth, steps too large,
# inputs far from unit scale: a dev run of unnormalised inputs left its output layer at RMS
# 3e25; the sample runs' single checkpoints that fire are LR faults), so not decisive: the
# fitted table and other evidence weigh it. On a checkpoint alone the table's base rate for a
# run with no curve outweighs it up to 0.84 in this fit; 0.95 leaves a refit room to move that edge.
# At a high LR, or under a step schedule that multiplies it at each milestone, the step size
# explains them: weak, weighed against the LR's own evidence (LR006, LR009).
BROKEN_WEIGHT = {"normal": 0.95, "unknown": 0.95, "high": 0.2}
# Non-finite weights alone say the run diverged, not why: context, no vote for a cause.
NONFINITE_WEIGHT = CONTEXT
# A checkpoint that passes every check: the run had not diverged when it was saved.
HEALTHY_WEIGHT = 0.5

# Initialisers put a layer's weights at an RMS per element of about sqrt(1/fan_in) (under 1
# for any layer of two inputs or more), embeddings and norm gains at 1, and training moves
# them by tens of percent (the healthy runs of the corpus stay under 2). A layer at 5 per
# element, half a decade above any of those, was lifted there by updates far larger than
# training makes.
FAR_ABOVE_INIT_RMS = 5.0
# ... in at least this share of the model's layers: the step size acts on every parameter
# alike, so too large a step lifts most layers at once, while a local blow-up leaves one
# layer out of line with its neighbours (CKPT001's case).
FAR_ABOVE_INIT_SHARE = 0.5
# Evidence weights, by the LR in force: most layers lifted far above their initial scale yet
# finite is the mark of oversized steps (bounded by the LR for Adam-family optimizers and
# under clipping, so they grow linearly and stay finite); at a normal stated LR the growth
# is more likely the network's own (exploding gradients, EXP002).
LIFTED_WEIGHTS_WEIGHT = {"high": 0.7, "unknown": 0.55, "normal": 0.3}

_LIMITS = {**DTYPE_MAX, "float16": FP16_MAX}


@dataclass(frozen=True)
class LayerHealth:
    """One layer of a checkpoint: the scale of its weights against its neighbours'."""

    layer: str
    rms: float  # root mean square per element of the layer's finite weights
    neighbours_rms: float | None  # median RMS of the layers around it
    nonfinite: int

    @property
    def off_by_decades(self) -> float:
        if self.neighbours_rms is None or self.rms <= 0 or self.neighbours_rms <= 0:
            return 0.0
        return abs(math.log10(self.rms / self.neighbours_rms))


@dataclass(frozen=True)
class CheckpointHealth:
    """One checkpoint's weights: layer scales, non-finite tensors, values near their dtype's limit."""

    view: CheckpointView
    layers: tuple[LayerHealth, ...]
    nonfinite_tensors: tuple[str, ...]
    near_limit: tuple[tuple[str, str, float], ...]  # (tensor, dtype, max |x|)

    @property
    def exploded(self) -> list[LayerHealth]:
        return [h for h in self.layers if h.rms >= EXPLODED_RMS]

    @property
    def out_of_line(self) -> list[LayerHealth]:
        return [h for h in self.layers if h.off_by_decades >= OUT_OF_LINE_DECADES]

    @property
    def broken(self) -> bool:
        return bool(self.exploded or self.out_of_line or self.near_limit)

    @property
    def lifted_share(self) -> float:
        """The share of layers whose RMS per element is FAR_ABOVE_INIT_RMS or more."""
        if not self.layers:
            return 0.0
        return sum(h.rms >= FAR_ABOVE_INIT_RMS and math.isfinite(h.rms) for h in self.layers) / len(self.layers)

    @property
    def uniformly_lifted(self) -> bool:
        """Finite, no tensor near its dtype's limit, no layer out of line, and most layers far
        above their initial scale: every layer was moved by oversized steps (LR007's case)."""
        return (
            not self.nonfinite_tensors
            and not self.near_limit
            and not self.out_of_line
            and self.lifted_share >= FAR_ABOVE_INIT_SHARE
        )

    @property
    def healthy(self) -> bool:
        return not self.broken and not self.nonfinite_tensors and bool(self.layers)


# The last few healths computed: two rules and the report ask for the same checkpoint's
# (a pass over every tensor: seconds for a checkpoint of 100,000 tensors).
_HEALTHS: list[tuple[CheckpointView, CheckpointHealth]] = []
_HEALTHS_KEPT = 8
_BUFFER_RE = re.compile("|".join(BUFFER_NAMES))


def checkpoint_health(view: CheckpointView) -> CheckpointHealth:
    """Per-layer RMS of one checkpoint's float weights, read against the neighbours."""
    for seen, health in _HEALTHS:
        if seen is view:
            return health
    health = _checkpoint_health(view)
    _HEALTHS.insert(0, (view, health))
    del _HEALTHS[_HEALTHS_KEPT:]
    return health


def _checkpoint_health(view: CheckpointView) -> CheckpointHealth:
    sums: dict[str, list[float]] = {}  # layer -> [sum of squares, elements, non-finite]
    nonfinite, near = [], []
    for t in view.checkpoint.tensors:
        if not t.dtype.startswith(("float", "bfloat")) or t.numel == 0:
            continue
        if _BUFFER_RE.search(t.name):
            continue
        if t.nonfinite:
            nonfinite.append(t.name)
        limit = _LIMITS.get(t.dtype)
        if limit is not None and math.isfinite(t.absmax) and t.absmax >= NEAR_LIMIT_FRACTION * limit:
            near.append((t.name, t.dtype, t.absmax))
        acc = sums.setdefault(t.layer, [0.0, 0.0, 0.0])
        # hypot-style accumulation: l2**2 overflows past 1e154
        acc[0] = math.hypot(acc[0], t.l2) if math.isfinite(t.l2) else acc[0]
        acc[1] += t.finite
        acc[2] += t.nonfinite
    names = list(sums)
    rms = [sums[n][0] / math.sqrt(sums[n][1]) if sums[n][1] else 0.0 for n in names]
    logs = [math.log10(x) if x > 0 and math.isfinite(x) else math.nan for x in rms]
    layers = []
    for i, name in enumerate(names):
        around = [logs[j] for j in range(max(0, i - NEIGHBOURS), min(len(names), i + NEIGHBOURS + 1)) if j != i]
        around = [x for x in around if not math.isnan(x)]
        # not np.median: the same value for these few numbers, and a checkpoint of 10,000
        # layers made 10,000 numpy calls of ~20 us each
        med = float(10 ** _median(around)) if around else None
        layers.append(LayerHealth(name, rms[i], med, int(sums[name][2])))
    return CheckpointHealth(view, tuple(layers), tuple(nonfinite), tuple(near))


def _median(values: list[float]) -> float:
    """The median of a few numbers, as ``statistics.median`` gives it (the mean of the middle two
    for an even count); that module imports decimal, fractions and random, a few ms of start-up."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def checkpoint_only(tl: Timeline) -> bool:
    """Checkpoints without a training-loss curve: the weights are all there is to judge."""
    return tl.loss is None and bool(tl.checkpoints)


def step_size_level(tl: Timeline) -> str:
    """The step size a source states: "high" (an LR high for its optimizer, or a config's step
    schedule that multiplies the LR at each milestone), "normal", or "unknown"."""
    sf = tl.lr_schedule.step_factor
    if lr_high(tl.lr_info) or (sf is not None and sf > STEP_FACTOR_RAISES):
        return "high"
    return "normal" if lr_normal(tl.lr_info) else "unknown"


def _layer_list(layers: list[LayerHealth], what: str) -> str:
    shown = ", ".join(f"{h.layer} ({what(h)})" for h in layers[:3])  # type: ignore[operator]
    return shown + (f" and {len(layers) - 3} more" if len(layers) > 3 else "")


@rule("CKPT001", "checkpoint-weights-broken", "exploding_weights", ("exploding_gradients",), ("checkpoints",),
      diverges=True)  # fmt: skip
def checkpoint_weights_broken(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Given checkpoints without a training-loss curve (a single checkpoint as input),
        a checkpoint whose weights are broken: non-finite tensors, a tensor whose max
        |x| reaches half its dtype's largest finite value, a layer whose weights have
        an RMS per element of 1e3 or more, or a layer 1000x (three decades) away from
        the median RMS of the two layers on each side of it. BatchNorm running
        statistics and integer tensors are not judged. A checkpoint whose weights
        are all finite, none near the dtype's limit, none out of line, with most
        layers lifted alike is LR007's case, not this rule's.

    Why it points to this cause:
        Trained weights stay within an order of magnitude or two of their
        initialisation scale (well under 1 per element), and neighbouring layers of a
        model within a decade of each other. Weights thousands of times larger, or one
        layer decades out of line with its neighbours (the per-layer view
        WeightWatcher takes), only come from updates that compounded: the weights
        exploded. Every layer lifted alike and still finite is the step size's mark
        instead (LR007). Non-finite weights say the run diverged but not why: they
        are reported as context and vote for no cause. The weights show the blow-up,
        not what drove it (inputs far from unit scale grow a layer's gradient and
        blow its weights up too), so the finding is strong but not decisive: other
        evidence (a data sample, the LR) still weighs. The step size a source states
        (the optimizer state, a config) weighs it: at a high LR, or under a step
        schedule that multiplies the LR at each milestone (LR009), the steps explain
        the blow-up (weak evidence), as the EXP rules stay silent there.

    Evidence it reports:
        The checkpoint, the layers with their RMS per element and how many decades
        they sit from their neighbours, tensors near the dtype's limit, and how many
        tensors are non-finite.

    Fix to suggest:
        Resume from an earlier checkpoint with gradient clipping and a lower peak
        LR; find when the layer started growing from the run's curves.
    """
    if not checkpoint_only(tl):
        return []
    for view in tl.checkpoints:
        h = checkpoint_health(view)
        if (not h.broken and not h.nonfinite_tensors) or h.uniformly_lifted:
            continue
        parts = []
        if h.exploded:
            parts.append(
                f"{len(h.exploded)} of {len(h.layers)} layers exploded: "
                + _layer_list(h.exploded, lambda x: f"RMS {fmt_num(x.rms)} per element")  # type: ignore[arg-type]
                + f" (trained weights stay under about 1; {fmt_num(EXPLODED_RMS)} is the limit here)"
            )
        if h.out_of_line:
            parts.append(
                "out of line with their neighbours: "
                + _layer_list(h.out_of_line, lambda x: f"{x.off_by_decades:.1f} decades from their median")  # type: ignore[arg-type]
            )
        if h.near_limit:
            name, dtype, absmax = h.near_limit[0]
            parts.append(f"{name} reached max |x| {fmt_num(absmax)}, near {dtype}'s limit of {fmt_num(_LIMITS[dtype])}")
        if h.nonfinite_tensors:
            parts.append(f"{len(h.nonfinite_tensors)} tensor(s) hold NaN or Inf (first: {h.nonfinite_tensors[0]})")
        level = step_size_level(tl)
        if h.broken and level == "high":
            parts.append("the stated step size explains such growth as well")
        message = f"In {view.path}, " + "; ".join(parts) + "."
        return [
            Finding(
                "exploding_gradients" if h.broken else None,
                message[0].upper() + message[1:],
                BROKEN_WEIGHT[level] if h.broken else NONFINITE_WEIGHT,
                step=view.step,
                source=view.path,
                fix="Resume from an earlier checkpoint with gradient clipping (clipnorm=1.0) and a lower peak LR; "
                "read the run's curves to see when the weights started growing.",
            )
        ]
    return []


@rule("OK003", "checkpoint-weights-healthy", "healthy", (), ("checkpoints",))
def checkpoint_weights_healthy(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Given checkpoints without a training-loss curve (a single checkpoint as input),
        every checkpoint passes the checks of CKPT001: every weight finite, no tensor
        near its dtype's limit, every layer's RMS per element under 1e3 and within three
        decades of its neighbours.

    Why it points to this cause:
        A run that diverged leaves exploded or non-finite weights in the checkpoints
        saved after the blow-up; healthy weights say the run had not diverged when
        they were saved (it may still have later).

    Evidence it reports:
        The checkpoint, how many layers were read and the largest RMS per element.

    Fix to suggest:
        Nothing to fix in the weights; analyse the run's folder (curves and logs)
        to judge the rest of the run.
    """
    if not checkpoint_only(tl):
        return []
    healths = [checkpoint_health(v) for v in tl.checkpoints]
    if not healths or not all(h.healthy for h in healths):
        return []
    last = healths[-1]
    top = max(last.layers, key=lambda x: x.rms)
    return [
        Finding(
            None,
            f"{last.view.path}: all {len(last.layers)} layers finite and in line with their neighbours; the largest "
            f"RMS per element is {fmt_num(top.rms)} ({top.layer}).",
            HEALTHY_WEIGHT,
            step=last.view.step,
            source=last.view.path,
        )
    ]


# A layer whose norm grew by less than this from the first checkpoint to the last finite
# one did not grow: training moves a layer's norm by tens of percent (the healthy runs of
# the corpus stay under 1.6x), a blow-up by decades.
NO_GROWTH_RATIO = 3.0
# NaN in at least this fraction of the float elements of the first non-finite checkpoint:
# every layer went at once, as one NaN gradient does (a blow-up leaves huge finite values
# beside the Inf ones).
EVERYWHERE_FRACTION = 0.9
# A NaN update out of weights that were not growing: a batch or a singular operation, never
# the step size; weighed like a sudden NaN in a curve (DATA005).
SUDDEN_NAN_CHECKPOINT_WEIGHT = 0.45


def _float_tensors(view: CheckpointView) -> list:
    return [t for t in view.checkpoint.tensors if t.dtype.startswith(("float", "bfloat")) and t.numel]


@rule("CKPT002", "nan-everywhere-after-steady-checkpoints", "data_or_labels", (), ("checkpoints",), shape="sudden")
def nan_after_steady_checkpoints(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Given checkpoints without a training-loss curve, the first checkpoint holding
        non-finite weights follows at least one finite checkpoint, no layer's norm grew
        by 3x or more from the first checkpoint to the last finite one (nor is any
        layer broken by CKPT001's checks), and NaN/Inf fill at least 90 % of the
        float elements of the first non-finite checkpoint.

    Why it points to this cause:
        Weights that explode (a too-high LR, exploding gradients) grow checkpoint after
        checkpoint before they overflow, and leave huge finite values beside the Inf
        ones. Steady weights that turn NaN in every layer at once took one update
        whose gradient was NaN everywhere: a batch holding NaN/Inf (or a label outside
        the loss's domain), or an operation that hit a singularity on it (a division
        by a zero batch statistic, a log of zero) — the checkpoints cannot tell these
        two apart, the data pipeline can, so a verdict resting on this finding alone
        says it is a lean. Nor can they tell NaN rows from Inf rows
        (an Inf input's update is Inf - Inf or 0 x Inf: NaN too), so the finding
        names no detail. Silent when a config's step schedule raises the LR at
        each milestone (a factor above 1, LR009): the step size itself jumped,
        and a jump of tens of times blows steady weights up within the few steps
        between two checkpoints.

    Evidence it reports:
        The last finite checkpoint, the first non-finite one, the largest layer growth
        before it and the fraction of non-finite elements.

    Fix to suggest:
        Check the batches fed between the two checkpoints for NaN/Inf and label range;
        add an epsilon to divisions and logs of batch statistics.
    """
    if not checkpoint_only(tl):
        return []
    sf = tl.lr_schedule.step_factor
    if sf is not None and sf > STEP_FACTOR_RAISES:
        return []  # the step size itself jumps at a milestone: steady weights say nothing of the optimizer
    views = list(tl.checkpoints)
    i = next((k for k, v in enumerate(views) if any(t.nonfinite for t in _float_tensors(v))), None)
    if i is None or i == 0:
        return []
    before, bad = views[i - 1], views[i]
    if checkpoint_health(before).broken:
        return []
    growths = [g for g in (t.growth() for t in tl.layers) if g is not None]
    grown = max(growths, default=1.0)
    if grown >= NO_GROWTH_RATIO:
        return []
    ts = _float_tensors(bad)
    frac = sum(t.nonfinite for t in ts) / max(1, sum(t.numel for t in ts))
    if frac < EVERYWHERE_FRACTION:
        return []
    at = f" (step {before.step})" if before.step is not None else ""
    return [
        Finding(
            None,
            f"The weights were steady up to {before.path}{at} (no layer grew more than {grown:.2g}×), then "
            f"{frac:.0%} of them were NaN/Inf in {bad.path}: one update with a NaN gradient everywhere — a bad "
            "batch or a singular operation, not growth.",
            SUDDEN_NAN_CHECKPOINT_WEIGHT,
            step=bad.step,
            source=bad.path,
            fix="Check the batches fed between these two checkpoints for NaN/Inf and label range; add an epsilon "
            "to divisions and logs of batch statistics.",
        )
    ]


@rule(
    "LR007",
    "weights-lifted-far-above-their-scale",
    "learning_rate",
    (),
    ("checkpoints",),
)
def weights_lifted(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A checkpoint whose weights are all finite, none near the dtype's limit and
        no layer out of line with its neighbours, but in which at least half of the
        layers have an RMS per element of 5 or more: far above any initial scale.
        The last such checkpoint is reported.

    Why it points to this cause:
        Initialisers put weights at about sqrt(1/fan_in) per element (embeddings
        and norm gains at 1), and training moves them by tens of percent. The step
        size acts on every parameter alike: updates far too large lift every layer
        at once, and where the step is bounded (Adam-family optimizers move each
        weight by about the LR per step; clipping bounds the update to LR x the
        clip norm) the weights grow linearly and stay finite, so a checkpoint catches
        them huge but finite. Exploding gradients at a normal step size compound
        geometrically and overflow, or lift one layer out of line first (CKPT001).
        The stated LR weighs it: strong when high, weak when normal.

    Evidence it reports:
        The checkpoint, how many layers are lifted and the largest RMS per element,
        and the LR where known.

    Fix to suggest:
        Lower the learning rate (by 10x as a first try; concrete value when the LR
        is known) and add gradient clipping; resume from a checkpoint saved before
        the weights grew. (No detail: a level, not a shape — a schedule's peak
        lifts the weights as a constant LR does.)
    """
    for view in reversed(tl.checkpoints):
        h = checkpoint_health(view)
        if not h.uniformly_lifted:
            continue
        lifted = [x for x in h.layers if x.rms >= FAR_ABOVE_INIT_RMS]
        top = max(lifted, key=lambda x: x.rms)
        lri = tl.lr_info
        level = "normal" if lr_normal(lri) else "high" if lr_high(lri) else "unknown"
        lr_txt = f", at an LR of {fmt_num(lri.value)}" if lri.value is not None else ""
        fix = (
            f"Lower the learning rate to about {fmt_num(lri.value / 10)} (it was {fmt_num(lri.value)}) and add "
            "gradient clipping (clipnorm=1.0); resume from a checkpoint saved before the weights grew."
            if lri.value is not None
            else "Lower the learning rate (by 10x as a first try) and add gradient clipping (clipnorm=1.0); resume "
            "from a checkpoint saved before the weights grew."
        )
        return [
            Finding(
                None,  # a level, not a shape: a schedule's peak lifts the weights as a constant LR does
                f"In {view.path}, {len(lifted)} of {len(h.layers)} layers have weights of RMS "
                f"{fmt_num(FAR_ABOVE_INIT_RMS)} or more per element (largest {fmt_num(top.rms)}, {top.layer}), "
                f"all finite{lr_txt}: initial weights sit under 1 per element, so every layer was lifted by "
                "oversized steps.",
                LIFTED_WEIGHTS_WEIGHT[level],
                step=view.step,
                source=view.path,
                fix=fix,
                fix_sets="learning_rate",
            )
        ]
    return []


# A weight matrix's RMS per element against its largest |w|. Initialisers draw from a normal
# (about 0.3 for a few hundred elements) or a uniform (0.58) distribution, and gradient steps,
# proportional to each weight's own gradient, keep that spread (every healthy run of the corpus
# and every sample run stays under 0.62); at 0.8 most elements sit near one magnitude.
ONE_MAGNITUDE_RATIO = 0.8
# Judged on weight matrices (two dimensions or more) of at least this many elements: a vector may
# hold one value by design (a norm's gain starts at all ones), and a few elements say little.
ONE_MAGNITUDE_MIN_ELEMENTS = 16
# ... and on at least this many of them: the step size acts on every layer alike.
ONE_MAGNITUDE_MIN_MATRICES = 2
# Every weight overwritten by steps of one size: the step size's mark, whatever the stated LR.
ONE_MAGNITUDE_WEIGHT = 0.6


def _spread(t) -> float | None:  # type: ignore[no-untyped-def]
    """RMS per element over max |x| of a finite weight matrix, or None when it is not judged."""
    if len(t.shape) < 2 or t.numel < ONE_MAGNITUDE_MIN_ELEMENTS or t.nonfinite or _BUFFER_RE.search(t.name):
        return None
    if not t.dtype.startswith(("float", "bfloat")) or not (t.absmax > 0 and math.isfinite(t.absmax)):
        return None
    return t.l2 / math.sqrt(t.numel) / t.absmax


@rule("LR011", "weights-at-one-magnitude", "learning_rate", (), ("checkpoints",))
def weights_at_one_magnitude(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        In the last checkpoint whose weights are all finite, the median weight
        matrix (two dimensions or more, 16 elements or more; at least two
        matrices judged) has an RMS per element of 0.8 or more of its largest
        |w|: its elements sit near one magnitude.

    Why it points to this cause:
        Initialisers draw weights from a normal distribution (RMS about 0.3 of
        the largest of a few hundred) or a uniform one (0.58), and gradient
        steps, each proportional to its weight's own gradient, keep that spread.
        Adam, AdamW and RMSprop divide each gradient by its running RMS, so each
        step moves every weight by about the LR whatever its gradient: when the
        LR is far above the weights' scale, a few steps overwrite every initial
        value with a sum of equal-sized steps, and the tensor's elements end up
        at one magnitude (often with the units saturated, the gradients gone and
        the weights frozen there). No other fault levels the weights so: an
        exploding gradient or a bad batch scales them or poisons them with NaN.
        Weight clipping to a fixed bound (a WGAN critic's ±c) or binarised
        weights would show the same and are not told apart.

    Evidence it reports:
        The checkpoint, how many matrices sit at one magnitude, the median ratio,
        and the LR where known.

    Fix to suggest:
        Lower the learning rate (by 10x or more as a first try) and retrain from
        the initial weights: the levelled weights have lost what they learned.
        (No detail: a level, not a shape.)
    """
    for view in reversed(tl.checkpoints):
        floats = _float_tensors(view)
        if any(t.nonfinite for t in floats):
            continue
        spreads = sorted(s for s in map(_spread, floats) if s is not None)
        if len(spreads) < ONE_MAGNITUDE_MIN_MATRICES:
            return []
        median = _median(spreads)
        if median < ONE_MAGNITUDE_RATIO:
            return []
        level = sum(s >= ONE_MAGNITUDE_RATIO for s in spreads)
        lri = tl.lr_info
        lr_txt = f" (LR {fmt_num(lri.value)}, {lri.optimizer or 'optimizer not stated'})" if lri.value else ""
        return [
            Finding(
                None,  # a level, not a shape
                f"In {view.path}, {level} of {len(spreads)} weight matrices have their elements at one magnitude "
                f"(RMS per element {median:.2f} of the largest |w| in the median matrix; initial weights and "
                f"gradient steps keep it near 0.3-0.6){lr_txt}: every weight was overwritten by steps of one "
                "size, as an adaptive optimizer makes at an LR far above the weights' scale.",
                ONE_MAGNITUDE_WEIGHT,
                step=view.step,
                source=view.path,
                fix="Lower the learning rate (by 10x or more as a first try) and retrain from the initial weights: "
                "the levelled weights have lost what they learned.",
                fix_sets="learning_rate",
            )
        ]
    return []
