"""Rules pointing at exploding weights or gradients at a normal learning rate."""

from __future__ import annotations

import math

import numpy as np

from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.checkpoint import BROKEN_WEIGHT, step_size_level
from forensics.rules.context import (
    DTYPE_MAX,
    GRAD_LAST_RATIO,
    geometric_growth,
    grad_norm_before_blowup,
    lr_high,
    lr_normal,
)
from forensics.timeline import Series, Timeline
from forensics.util import fmt_num

# Gradient norm must climb at least this many decades (100x) to call it exploding;
# minibatch noise and normal early-training growth stay well inside one decade.
GRAD_GROWTH_DECADES = 2.0
# Without a sustained climb, gradient-norm spikes this many times the median are the
# intermittent explosions of RNNs and deep plain nets (healthy runs stay within ~10x).
GRAD_SPIKE_RATIO = 20.0
# Weight norms growing by this factor across checkpoints is far beyond healthy drift
# (weight norms typically change by tens of percent over a whole run).
WEIGHT_GROWTH_FACTOR = 10.0
# A tensor whose max |x| reaches this fraction of its dtype's largest finite value is
# about to overflow (the next few updates or a matmul will pass the limit).
DTYPE_LIMIT_FRACTION = 0.5

_FIX_CLIP = (
    "Add gradient clipping (clipnorm=1.0 in Keras, torch.nn.utils.clip_grad_norm_(params, 1.0)); "
    "use a smaller init scale (He/Glorot) and normalisation layers (BatchNorm/LayerNorm), or a gated RNN (LSTM/GRU)."
)


def _clip_fix(tl: Timeline) -> str:
    value, src = tl.clipping
    if value == 0:
        return f"Gradient clipping was off ({src}): turn it on (max_grad_norm / clipnorm = 1.0). " + _FIX_CLIP
    if value is not None and value > 0:
        return (
            f"Clipping at {fmt_num(value)} ({src}) did not hold the gradients: clip lower, and "
            + _FIX_CLIP[0].lower()
            + _FIX_CLIP[1:]
        )
    return _FIX_CLIP


# Evidence weights, by the LR in force (full at a normal LR; low at a high one, where the
# step size explains the growth). A geometric climb of the gradient norm:
GRAD_GROWTH_WEIGHT = {"normal": 0.8, "high": 0.3, "unknown": 0.55}
# A gradient-norm spike far above its median, still high at the end ...
GRAD_SPIKE_RISING_WEIGHT = {"normal": 0.6, "high": 0.2, "unknown": 0.45}
# ... or come back down.
GRAD_SPIKE_WEIGHT = {"normal": 0.5, "high": 0.2, "unknown": 0.35}
# Weight norms (or weight histograms) grown ten-fold across checkpoints.
WEIGHT_GROWTH_WEIGHT = {"normal": 0.6, "high": 0.2, "unknown": 0.4}
# Weights at the dtype's limit: they exploded, but the limit alone does not say why. At a high
# stated LR, or under a config's step schedule that multiplies it at each milestone, the steps
# compounded them: weak, as CKPT001 weighs its reading of the same weights there (a real run
# whose schedule multiplies the LR 100x keeps the LR's verdict from 0.15 to 0.3).
DTYPE_LIMIT_WEIGHT = {"normal": 0.4, "unknown": 0.4, "high": BROKEN_WEIGHT["high"]}


def _lr_weight(tl: Timeline, normal: float, high: float, unknown: float) -> float:
    """The weight of growth evidence by the LR in force: full at a normal LR, low at a
    high one (the step size explains the growth), in between when the LR is unknown or
    between the two marks."""
    lri = tl.lr_info
    if lri.value is None:
        return unknown
    if lr_high(lri):
        return high
    return normal if lr_normal(lri) else unknown


@rule(
    "EXP001", "gradient-norm-grows-geometrically", "exploding_weights", ("exploding_gradients",), needs=("grad_norm",)
)
def grad_norm_growth(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The logged gradient norm (or the max |g| of gradient histograms) climbs by
        at least two decades (100x) in a sustained geometric rise before the
        blow-up, while the learning rate stays normal for its optimizer. Short of
        a sustained climb, it also fires (weaker) on spikes of at least 20x the
        median gradient norm before a divergence, stronger when the norm was
        already 4x its median at the last finite step. A climb of 8 points or
        more whose second half rose under half as much as its first is settling
        toward a level, not compounding, and does not count (SETTLING_SHARE).

    Why it points to this cause:
        Gradients that multiply layer over layer (deep plain nets, RNNs unrolled
        over time, large initial weights, no normalisation) grow geometrically
        even at a sane step size. Each update then enlarges the weights, which
        enlarges the next gradient: the feedback loop ends in inf/NaN. At a high
        LR the same picture is more likely the step size (LR rules), so this
        rule weighs less there.

    Evidence it reports:
        Gradient norm at the start and end of the climb, fold per step, the LR.

    Fix to suggest:
        Gradient clipping, smaller init scale, normalisation layers, gated RNN
        cells.
    """
    until = tl.divergence_step
    g = geometric_growth(tl.grad_norm, until)
    src = tl.grad_norm.source if tl.grad_norm is not None else None
    if g is None and tl.grad_histograms:
        g, src = _histogram_growth(tl, tl.grad_histograms, until)
    lri = tl.lr_info
    if g is None or g.decades < GRAD_GROWTH_DECADES:
        return _erratic_grad_norm(tl)
    weight = _lr_weight(tl, **GRAD_GROWTH_WEIGHT)
    lr_txt = f" at LR {fmt_num(lri.value)}" if lri.value is not None else ""
    return [
        Finding(
            "exploding_gradients",
            f"Gradient norm grew from {fmt_num(g.start)} (step {g.start_step}) to {fmt_num(g.end)} (step "
            f"{g.end_step}), {g.fold_per_step:.3g}× per step{lr_txt}.",
            step=g.start_step,
            source=src,
            weight=weight,
            fix=_clip_fix(tl),
        )
    ]


def _erratic_grad_norm(tl: Timeline) -> list[Finding]:
    """Gradient-norm spikes far above its median, short of a sustained climb."""
    if not tl.diverged:
        return []
    g = grad_norm_before_blowup(tl)
    if g is None:
        return []
    med, peak, last, peak_step = g
    if med <= 0 or peak < GRAD_SPIKE_RATIO * med:
        return []
    rising = last >= GRAD_LAST_RATIO * med
    weight = _lr_weight(tl, **(GRAD_SPIKE_RISING_WEIGHT if rising else GRAD_SPIKE_WEIGHT))
    assert tl.grad_norm is not None
    return [
        Finding(
            "exploding_gradients",
            f"Gradient norm spiked to {fmt_num(peak)} (step {peak_step}), {peak / med:.0f}× its median {fmt_num(med)}"
            + (f", and stood at {fmt_num(last)} ({last / med:.1f}×) right before the blow-up." if rising else ".")
            + " Gradients were exploding intermittently (no clipping caught them).",
            step=peak_step,
            source=tl.grad_norm.source,
            weight=weight,
            fix=_clip_fix(tl),
        )
    ]


def _histogram_growth(tl: Timeline, hists: list, until: int | None):  # type: ignore[no-untyped-def]
    best = None
    for h in hists:
        absmax = np.maximum(np.abs(h.min), np.abs(h.max))
        s = Series("hist", h.steps, absmax, "step", h.source, h.tag, h.run)
        g = geometric_growth(s, until)
        if g is not None and (best is None or g.decades > best[0].decades):
            best = (g, h.source)
    return best if best is not None else (None, None)


@rule("EXP002", "weights-grow-geometrically", "exploding_weights", ("exploding_gradients",), needs=("checkpoints",))
def weight_growth(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Across checkpoints (or weight histograms), the weight norm of some layer
        grows by 10x or more before any tensor goes non-finite, at a learning
        rate that is normal for its optimizer. A histogram's climb that settles
        (8 points or more, the second half rising under half as much as the
        first: SETTLING_SHARE) is learning, not growth feeding on itself: a bias
        initialised at 0 rises by decades toward its fitted value and stays.

    Why it points to this cause:
        Healthy weight norms drift by tens of percent over a run. Ten-fold growth
        means the updates are feeding on themselves: exploding gradients
        enlarging the weights they flow through. Which layer grew most, and
        first, says where the explosion starts (often the first or the
        recurrent layer).

    Evidence it reports:
        The layer with the largest growth, its norm at the first and last finite
        checkpoint, the per-step fold, and how many layers grew 10x.

    Fix to suggest:
        Gradient clipping, weight decay, smaller init, normalisation layers.
    """
    grown = []
    for track in tl.layers:
        g = track.growth()
        if g is not None and g >= WEIGHT_GROWTH_FACTOR:
            grown.append((g, track))
    src = None
    if not grown and tl.weight_histograms:
        g, src = _histogram_growth(tl, tl.weight_histograms, tl.divergence_step)
        if g is not None and 10**g.decades >= WEIGHT_GROWTH_FACTOR:
            return [
                Finding(
                    "exploding_gradients",
                    f"Weight histograms: max |w| grew from {fmt_num(g.start)} (step {g.start_step}) to "
                    f"{fmt_num(g.end)} (step {g.end_step}), {g.fold_per_step:.3g}× per step.",
                    step=g.start_step,
                    source=src,
                    weight=_lr_weight(tl, **WEIGHT_GROWTH_WEIGHT),
                    fix=_clip_fix(tl),
                )
            ]
        return []
    if not grown:
        return []
    grown.sort(key=lambda gt: -gt[0])
    g, track = grown[0]
    finite = [p for p in track.points if not p.nonfinite]
    fold = track.fold_per_step()
    fold_txt = f", {fold:.3g}× per step" if fold is not None else ""
    return [
        Finding(
            "exploding_gradients",
            f"Layer {track.layer}: weight norm grew {fmt_num(g)}×, "
            f"from {fmt_num(finite[0].l2)} to {fmt_num(finite[-1].l2)} "
            f"between checkpoints{fold_txt}; "
            f"{len(grown)} of {len(tl.layers)} layers grew ≥{WEIGHT_GROWTH_FACTOR:.0f}×.",
            step=finite[-1].step,
            source=finite[-1].source,
            weight=_lr_weight(tl, **WEIGHT_GROWTH_WEIGHT),
            fix=_clip_fix(tl),
        )
    ]


@rule("EXP003", "first-layer-to-go-non-finite", "exploding_weights", (), needs=("checkpoints",))
def first_nonfinite_layer(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The first checkpoint holding a non-finite tensor, and in it the layer(s)
        that went non-finite; when several did, the one whose norm had grown
        the most in the checkpoint before is named as the first to blow up.

    Why it points to this cause:
        This is context rather than a verdict: NaN weights follow from any
        divergence. It tells where to look (the layer whose gradients exploded,
        or the one fed by bad inputs) and bounds when the weights were lost.

    Evidence it reports:
        Checkpoint, step, layer, tensor and its NaN/Inf counts; the last finite
        checkpoint before it.

    Fix to suggest:
        Resume from the last finite checkpoint once the cause is fixed.
    """
    c = tl.first_nonfinite_checkpoint
    if c is None:
        return []
    bad = c.nonfinite_tensors
    layers_bad = []
    for t in bad:
        if t.layer not in layers_bad:
            layers_bad.append(t.layer)
    lead = layers_bad[0]
    if len(layers_bad) > 1:
        growth = {}
        for track in tl.layers:
            if track.layer in layers_bad:
                g = track.growth()
                growth[track.layer] = g if g is not None else 0.0
        if any(growth.values()):
            lead = max(growth, key=lambda k: growth[k])
    t0 = next(t for t in bad if t.layer == lead)
    prev = [v for v in tl.checkpoints if v.order < c.order and not v.nonfinite_tensors]
    prev_txt = (
        f"; last finite checkpoint: {prev[-1].path}" + (f" (step {prev[-1].step})" if prev[-1].step is not None else "")
        if prev
        else ""
    )
    at = f" (step {c.step})" if c.step is not None else ""
    return [
        Finding(
            None,
            f"First non-finite weights in {c.path}{at}: layer {lead}, tensor {t0.name} "
            f"({t0.nan} NaN, {t0.posinf + t0.neginf} Inf of {t0.numel}); {len(layers_bad)} layer(s) non-finite"
            f"{prev_txt}.",
            step=c.step,
            source=c.path,
            weight=CONTEXT,
            fix="Resume from the last finite checkpoint once the cause is fixed." if prev else None,
        )
    ]


@rule(
    "EXP004",
    "weights-near-dtype-limit",
    "exploding_weights",
    ("exploding_gradients",),
    needs=("checkpoints",),
)
def weights_near_dtype_limit(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A weight tensor in float32/bfloat16 whose max |x| reaches half the largest
        finite value of its dtype, or a float32 tensor holding Inf. (float16 is
        the numerical rule NUM002's case.)

    Why it points to this cause:
        Weights only get near the dtype's limit by compounding growth: the
        explosion is in the parameters themselves, not in one bad batch. Steps far
        too large compound as well: at a high stated LR, or under a config's step
        schedule that multiplies the LR at each milestone (LR009), the finding is
        weak, the step size's evidence weighed against it.

    Evidence it reports:
        Tensor, dtype, max |x|, the dtype's limit, checkpoint and step.

    Fix to suggest:
        Gradient clipping and weight decay; find the first layer that grew.
    """
    for c in tl.checkpoints:
        for t in c.checkpoint.tensors:
            limit = DTYPE_MAX.get(t.dtype)
            if limit is None or t.dtype == "float16":
                continue
            near = math.isfinite(t.absmax) and t.absmax >= DTYPE_LIMIT_FRACTION * limit
            if near or t.posinf or t.neginf:
                level = step_size_level(tl)
                why = ": the stated step size explains such growth as well" if level == "high" else ""
                return [
                    Finding(
                        "exploding_gradients",
                        f"{t.name} ({t.dtype}) reached max |x| {fmt_num(t.absmax)} with {t.posinf + t.neginf} Inf "
                        f"(dtype limit {fmt_num(limit)}) in {c.path}{why}.",
                        step=c.step,
                        source=c.path,
                        weight=DTYPE_LIMIT_WEIGHT[level],
                        fix=_clip_fix(tl),
                    )
                ]
    return []
