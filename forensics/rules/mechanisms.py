"""Rules that reason from the mechanism of a blow-up rather than from the curve's shape alone:
the size of the first update, the architecture's known failure, the stated learning rate
against what is usual, and a NaN that arrives out of a long healthy stretch."""

from __future__ import annotations

import math
import re

import numpy as np

from forensics.median import median
from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.context import (
    FIRST_LOSS_HUGE,
    GRAD_LAST_RATIO,
    STEP_FACTOR_RAISES,
    clean_sample,
    clean_sample_covers,
    climbed_into_blowup,
    grad_norm_before_blowup,
    long_after_raise,
    lr_high,
    lr_normal,
    lr_still_rising,
    may_have_failed,
)
from forensics.rules.data_or_labels import unscaled_input
from forensics.timeline import Timeline
from forensics.util import fmt_num

# A gradient norm at or above this on one of the first logged steps is not an optimizer
# effect: tiny healthy nets start near 1-10, large ones rarely above 1e2.
FIRST_GRAD_HUGE = 1e3
# The first logged points (of the loss or grad norm) count as "the first steps" within this
# fraction of the run ...
FIRST_STEPS_FRACTION = 0.05
# ... or within this many logged points, whichever is larger (coarse logging).
FIRST_STEPS_POINTS = 3
# A gradient logged within this many updates of step 0 still speaks for the initialisation:
# healthy updates move the weights by about 1e-3 of their norm each (REL_UPDATE_HIGH's note),
# so after 100 they are within ~10 % of where they started. A first logged point later than
# that (a log printed every few hundred steps, a paste that starts mid-run) follows updates
# that could have grown it, the step size's as much as the network's.
NEAR_INIT_STEPS = 100
# A blow-up is "early" when the divergence comes within this fraction of the run.
EARLY_FRACTION = 0.2
# A plain (unnormalised) stack needs at least this many weight matrices to be "deep": signal
# scale multiplies by the init gain per layer, so the gain's error compounds over depth.
DEEP_PLAIN_LAYERS = 8
# The LR usual for each optimizer family on a small model (Adam-family default 1e-3; SGD
# 0.01-0.1; unknown optimizer in between).
LR_USUAL = {"adaptive": 1e-3, "sgd": 0.05, None: 1e-2}
# The LR usual for a named optimizer, where it is not its family's (first pattern found in the
# name, lower-cased, wins): the frameworks' defaults and the recipes they come from.
LR_USUAL_BY_NAME: tuple[tuple[str, float], ...] = (
    ("adadelta", 1.0),  # Zeiler 2012 has no LR (a factor of 1); torch's default 1.0, Keras's note: "use 1.0"
    ("adagrad", 1e-2),  # torch's default 1e-2 (Keras 1e-3); Duchi et al. 2011 ran 0.01-0.1
    ("rmsprop", 1e-3),  # Hinton's lecture 6e and Keras's default 1e-3 (torch's 1e-2 is the range's top)
    ("lion", 1e-4),  # Chen et al. 2023: 3-10x below AdamW's LR (AdamW 1e-3 -> 1e-4..3e-4)
    ("adamax", 2e-3),  # Kingma & Ba 2015 (section 7.1) and torch's default 2e-3
    ("nadam", 2e-3),  # torch's default 2e-3 (Keras 1e-3)
    ("adafactor", 1e-3),  # with its relative step off, Transformers' docs use 1e-3
    ("adam", 1e-3),  # Kingma & Ba 2015's default, torch's and Keras's for Adam, AdamW, RAdam
    ("sgd", 0.05),  # 0.01 (Keras's default) to 0.1 (the ResNet recipe, with momentum 0.9): the middle
)
# The batch the usual LRs are quoted at: Goyal et al. 2017 state the linear rule as 0.1 x batch / 256.
LR_REFERENCE_BATCH = 256
# Above it, with a warmup, a larger batch takes a larger LR: linearly for SGD (Goyal et al. 2017,
# who needed the warmup to reach it), by the square root for Adam-family optimizers (Hoffer et al.
# 2017; Malladi et al. 2022). The exponent per family:
LR_BATCH_EXPONENT = {"sgd": 1.0, "adaptive": 0.5, None: 0.5}
# A stated LR this many times above the usual one is a prior for the LR cause ...
LR_PRIOR_HIGH_RATIO = 10.0
# ... and one within this factor of it argues (weakly) against the LR.
LR_PRIOR_NORMAL_RATIO = 3.0
# Larger models want a smaller LR: the usual value is scaled by (params / this)^-1/4 above it.
LR_SIZE_PIVOT = 1e6
# A NaN after at least this many finite logged points ...
LONG_STRETCH_POINTS = 15
# ... covering at least this fraction of the run is "after a long finite stretch".
LONG_STRETCH_FRACTION = 0.3
# The gradient norm in the last points before it stays within this factor of its median: normal.
GRAD_STEADY_RATIO = 3.0

# Evidence weights. A gradient of 1e3+ at initialisation: the network, not the step size.
HUGE_FIRST_GRADIENT_WEIGHT = 0.7
# A recurrent or deep plain net blowing up: early (from init) or after a climb, by the LR in force.
ARCH_BLOWUP_WEIGHT = {"early": {"normal": 0.6, "unknown": 0.45}, "climb": {"normal": 0.5, "unknown": 0.35}}
# The LR prior: this much at 10x the usual LR ...
LR_PRIOR_HIGH_BASE = 0.25
# ... plus this much per further decade ...
LR_PRIOR_HIGH_PER_DECADE = 0.12
# ... up to this: a prior never outweighs a finding.
LR_PRIOR_HIGH_MAX = 0.6
# An LR near the usual one argues (weakly) against the LR cause.
LR_PRIOR_NORMAL_WEIGHT = -0.3
# A NaN out of a long stable stretch: a batch, as a strong hint (an operation dividing by a
# batch statistic looks the same).
LONG_STRETCH_NAN_WEIGHT = 0.5
# ... with a clean data sample too small to hold the batches fed up to it (it may be from
# the head of the data, the NaN from a later shard): weaker.
PARTIAL_CLEAN_SAMPLE_WEIGHT = 0.3

_RECURRENT = re.compile(r"weight_hh|recurrent_kernel|simple_?rnn|\blstm|\bgru|\brnn|lstm_cell|gru_cell", re.IGNORECASE)
# The recurrent matrix of a cell (PyTorch's weight_hh, Keras's recurrent_kernel), whose shape
# tells a gated cell from a plain one.
_RECURRENT_MATRIX = re.compile(r"weight_hh|recurrent_kernel", re.IGNORECASE)
_GATED = re.compile(r"lstm|gru", re.IGNORECASE)
# Gate blocks stacked in a gated cell's recurrent matrix: a GRU has 3, an LSTM 4.
GATED_BLOCKS = (3, 4)
_NORM = re.compile(r"norm|\bbn\d*\b|batch_?norm|layer_?norm|\bln_|gamma|running_mean|moving_mean", re.IGNORECASE)


def _tensor_names(tl: Timeline) -> list[tuple[str, tuple[int, ...]]]:
    names: list[tuple[str, tuple[int, ...]]] = []
    if tl.checkpoints:
        names = [(t.name, tuple(t.shape)) for t in tl.checkpoints[0].checkpoint.tensors]
    names += [(h.tag, ()) for h in [*tl.weight_histograms, *tl.grad_histograms]]
    return names


def _gated(name: str, shape: tuple[int, ...]) -> bool:
    """Is this recurrent tensor a gated cell's (LSTM, GRU)? Its recurrent matrix stacks one
    block per gate: (4h, h) for an LSTM, (3h, h) for a GRU (Keras: (h, 4h), (h, 3h)), against
    (h, h) for a plain RNN; without a shape, the name says it."""
    if _RECURRENT_MATRIX.search(name) and len(shape) == 2 and min(shape) > 0:
        return max(shape) // min(shape) in GATED_BLOCKS and max(shape) % min(shape) == 0
    return bool(_GATED.search(name))


def architecture(tl: Timeline) -> tuple[str | None, str]:
    """("recurrent" | "gated_recurrent" | "deep_plain" | None, how it was told) from the
    checkpoint's tensor names and shapes (or histogram tags), or a config naming a recurrent model."""
    names = _tensor_names(tl)
    rec = [(n, shape) for n, shape in names if _RECURRENT.search(n)]
    if rec:
        shaped = [(n, shape) for n, shape in rec if _RECURRENT_MATRIX.search(n) and len(shape) == 2]
        n, shape = (shaped or rec)[0]
        if _gated(n, shape):
            return "gated_recurrent", f"gated recurrent weights ({n}{' ' + str(list(shape)) if shape else ''})"
        return "recurrent", f"recurrent weights ({n})"
    for st in tl.settings:
        if st.name == "model" and _RECURRENT.search(st.value):
            if _GATED.search(st.value):
                return "gated_recurrent", f"model: {st.value} in {st.source}"
            return "recurrent", f"model: {st.value} in {st.source}"
    if not names:
        return None, ""
    mats = [n for n, shape in names if len(shape) == 2]
    if len(mats) >= DEEP_PLAIN_LAYERS and not any(_NORM.search(n) for n, _ in names):
        return "deep_plain", f"{len(mats)} weight matrices and no normalisation layer"
    return None, ""


def _span(tl: Timeline) -> tuple[int, int]:
    assert tl.loss is not None
    first = int(tl.loss.steps.min())
    last = int(tl.loss.steps.max())
    return first, max(last, first + 1)


def _early(tl: Timeline) -> bool:
    """Did the run blow up within its first steps?"""
    d = tl.divergence_step
    if tl.loss is None and tl.checkpoints and tl.first_nonfinite_checkpoint is not None:
        # no curve: the weights were already non-finite in the first checkpoint saved
        return tl.first_nonfinite_checkpoint.order == tl.checkpoints[0].order
    if d is None or tl.loss is None or not len(tl.loss):
        return False
    first, last = _span(tl)
    if tl.first_nonfinite is not None and tl.first_nonfinite.last_finite_step is None:
        return True
    points_before = int(np.count_nonzero(tl.loss.steps < d))
    return d - first <= EARLY_FRACTION * (last - first) or points_before <= FIRST_STEPS_POINTS


def _first_grad(tl: Timeline) -> tuple[int, float] | None:
    g = tl.grad_norm
    if g is None or not len(g):
        return None
    steps, vals = g.in_step_order
    nf = tl.first_nonfinite
    if nf is not None and nf.role in ("loss", "grad_norm"):
        # a gradient logged at or after the run went non-finite only echoes the blow-up (where the
        # logger masked the loss, the first non-finite grad norm is the divergence itself)
        keep = steps < nf.step
        steps, vals = steps[keep], vals[keep]
        if not steps.size:
            return None
    limit = steps[0] + max(FIRST_STEPS_FRACTION * (steps[-1] - steps[0]), 0)
    head = [
        (int(s), float(v))
        for i, (s, v) in enumerate(zip(steps, vals, strict=True))
        if i < FIRST_STEPS_POINTS or s <= limit
    ]
    head = [(s, v) for s, v in head if s <= NEAR_INIT_STEPS]
    if not head:
        return None  # logged only after updates that could have grown it
    normal = next((i for i, (_, v) in enumerate(head) if math.isfinite(v) and v < FIRST_GRAD_HUGE), None)
    if normal is not None:
        # a gradient logged normal before a NaN one: the NaN came from an operation of a later step's backward pass,
        # not from a signal grown through the layers since initialisation; only sizes count (an Inf is a size past
        # the dtype's range, as huge as any finite one that blows up the update)
        head = head[:normal] + [(s, v) for s, v in head[normal:] if not math.isnan(v)]
    # the largest of the first few: one huge gradient is what blows up the first update
    return max(head, key=lambda sv: sv[1] if math.isfinite(sv[1]) else math.inf)


def _first_update(tl: Timeline) -> tuple[int, float, str] | None:
    """(step, largest of the first logged gradient norms, text on the update size) of a run
    that blew up within its first steps, or None."""
    if not tl.diverged or not _early(tl):
        return None
    fg = _first_grad(tl)
    if fg is None:
        return None
    step, g = fg
    lr = tl.lr_at(step)
    if lr is None:
        lr = tl.lr_info.value
    upd = f"; LR {fmt_num(lr)}, so the first update was about {fmt_num(lr * g)}" if lr is not None else ""
    return step, g, upd


@rule("EXP006", "huge-first-gradient", "exploding_weights", ("exploding_gradients",), needs=("grad_norm",))
def huge_first_gradient(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that blew up within its first steps whose gradient norm was 1e3 or
        more (or non-finite) on one of its first logged steps, within the first
        100 updates (later, updates could have grown it), while the loss there
        was still finite. (A loss non-finite from its first point is left
        to the data rules: a NaN input gives a NaN gradient as well.) Gradients
        logged at or after the first non-finite point do not count: they echo
        the blow-up, and where the logger masked the loss (HF Trainer) the first
        NaN gradient norm is the divergence itself. Nor does a NaN norm logged
        after a normal one (a NaN out of one step's backward pass, not a signal
        grown since initialisation; an Inf is a size, and counts). Silent when
        the stated LR is 10x the usual one or more (LR006's bar), or when a data
        sample shows inputs that are not normalised (DATA004's check).

    Why it points to this cause:
        The first update is LR x gradient. If the gradient is already enormous at
        initialisation, the step size is not the problem: the network's signal
        grows through its layers (bad init, no normalisation, a recurrent weight
        above 1) — exploding gradients, at any LR. Two other things make the
        first logged gradients enormous, and the rule leaves them to their own
        rules: an LR ten times the usual one (the first logged steps already
        carry updates of that size), and raw inputs in the hundreds or
        thousands (the first layer's gradient scales with its input).

    Evidence it reports:
        The step and size of the largest of the first logged gradient norms, the
        LR there and the update size LR x gradient.

    Fix to suggest:
        Clip gradients and fix the init scale (He/Glorot, normalisation layers).
    """
    fu = _first_update(tl)
    if fu is None:
        return []
    step, g, upd = fu
    nf = tl.first_nonfinite
    if nf is not None and nf.last_finite_step is None:
        return []
    if math.isfinite(g) and g < FIRST_GRAD_HUGE:
        return []
    if lr_far_above_usual(tl) or unscaled_input(tl) is not None:
        return []  # the step size, or inputs in the thousands, explain the gradient as well
    return [
        Finding(
            "exploding_gradients",
            f"The gradient norm was already {fmt_num(g)} at step {step}, one of the first logged steps{upd}: "
            "the gradient, not the step size, was abnormal from initialisation.",
            HUGE_FIRST_GRADIENT_WEIGHT,
            step=step,
            source=tl.grad_norm.source if tl.grad_norm is not None else None,
            fix="Clip gradients (clip_grad_norm_(params, 1.0) / clipnorm=1.0) and fix the init scale "
            "(He/Glorot, normalisation layers).",
        )
    ]


# The output blown up at initialisation and the run dead within its first steps: the
# network's signal, not the step size — weaker than a logged gradient (EXP006), since
# unscaled regression targets also start high.
HUGE_FIRST_LOSS_WEIGHT = 0.4


@rule("EXP007", "huge-first-loss", "exploding_weights", ("exploding_gradients",), needs=("loss",))
def huge_first_loss(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that blew up within its first steps whose first logged loss was
        finite but already 1e3 or more, at an LR that is not high for its
        optimizer, and no data sample shows inputs that are not normalised.
        Not when that first point is an epoch's mean or was logged after the
        first 100 updates: those carry updates, whose size is the LR's.

    Why it points to this cause:
        Before training has moved anything, the loss is what the initialised net
        outputs: about ln(classes) for cross-entropy, about 1 for a regression on
        standardised targets. A loss of thousands means the output was amplified
        layer after layer (or step after step through a recurrence) from
        initialisation, so the gradient of the first update is as large and the
        next steps overflow: exploding gradients, which no LR makes safe. A
        high LR would explain the blow-up as well, so the rule stays silent then;
        raw, unscaled inputs amplify the output the same way, which a data
        sample tells (DATA004): silent when one shows them, and without a
        sample a hint, not a finding.

    Evidence it reports:
        The step and value of the first logged loss, and the LR.

    Fix to suggest:
        Fix the init scale (He/Glorot, orthogonal recurrent weights with gain at
        most 1), add normalisation layers and clip gradients; check the targets'
        scale if it is a regression.
    """
    if not tl.diverged or not _early(tl) or tl.loss is None or not len(tl.loss):
        return []
    nf = tl.first_nonfinite
    end = nf.step if nf is not None else tl.divergence_step
    # the first logged point only: later ones already carry updates, whose size is the LR's
    i = int(np.argmin(tl.loss.steps))
    first, at = float(tl.loss.values[i]), int(tl.loss.steps[i])
    if end is not None and at >= end:
        return []
    if tl.loss.unit == "epoch" or at > NEAR_INIT_STEPS:
        return []  # an epoch's mean, or a point logged after many updates: the step size's doing as well
    if not math.isfinite(first) or abs(first) < FIRST_LOSS_HUGE or lr_high(tl.lr_info):
        return []
    if unscaled_input(tl) is not None:
        return []  # inputs in the hundreds or thousands amplify the output as well (DATA004)
    lr = tl.lr_info.value
    return [
        Finding(
            "exploding_gradients",
            f"The first logged loss was already {fmt_num(first)} (step {at})"
            + (f", at an LR of {fmt_num(lr)}" if lr is not None else "")
            + ": an initialised net's loss is near ln(classes) or 1, so its output was amplified through its "
            "layers from the start.",
            HUGE_FIRST_LOSS_WEIGHT,
            step=at,
            source=tl.loss.source,
            fix="Fix the init scale (He/Glorot; orthogonal recurrent init with gain ≤ 1), add normalisation layers and "
            "clip gradients (clipnorm=1.0); for a regression, standardise the targets.",
        )
    ]


@rule(
    "EXP005",
    "recurrent-or-deep-plain-net-blows-up-early",
    "exploding_weights",
    ("exploding_gradients",),
    needs=("checkpoints",),
)
def architecture_blowup(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A plain recurrent net (recurrent weights in the checkpoint or histograms
        whose recurrent matrix is square, not a gated LSTM/GRU cell's stack of 3 or
        4 gate blocks; or a config naming a plain RNN) or a deep plain stack
        (8 or more weight matrices, no normalisation layer)
        whose loss blew up early in the run (within the first 20 %, or its
        first few logged points; without a loss curve, weights already
        non-finite in the first checkpoint saved) or climbed into the blow-up
        by at least a decade (10x: a doubling in a noisy curve is no compounding
        growth), at an LR that is not high for its optimizer. Not when the loss went
        non-finite straight from its normal level (finite points logged before,
        the last within 3x of the first, no climb, the gradient norm not
        rising): compounding growth leaves a trace, a sudden NaN is a batch's
        or an operation's. Nor when a data sample shows inputs that are not
        normalised (DATA004's check).

    Why it points to this cause:
        In these nets the signal and its gradient are multiplied by the same
        weights once per time step or layer; a gain slightly above 1 compounds
        geometrically from initialisation, so they blow up in the first steps at
        an ordinary LR. A high LR would explain it as well, so the rule stays
        silent when the LR is high; so would inputs hundreds of times their
        usual scale, which the first layer passes on to every later one. A gated
        cell (LSTM, GRU) carries its state through a forget or update gate of at
        most 1 and adds to it rather than multiplying it by the recurrent weights
        at each step — the remedy the fix below names — so an early blow-up
        there is not this mechanism's: the rule stays silent for gated cells.

    Evidence it reports:
        What marks the architecture (a recurrent tensor's name, or the count of
        weight matrices), the divergence step and the LR.

    Fix to suggest:
        Clip gradients; initialise recurrent weights orthogonally with gain at
        most 1 (or use LSTM/GRU); add normalisation layers to deep stacks.
    """
    if not tl.diverged or not (_early(tl) or tl.onset is not None):
        return []
    if not _early(tl) and tl.onset is not None and tl.onset.rise_decades < ARCH_CLIMB_DECADES:
        return []  # a doubling in a noisy curve is no compounding blow-up
    if _sudden_from_normal(tl):
        return []
    kind, how = architecture(tl)
    if kind is None or kind == "gated_recurrent":
        return []  # gates bound a cell's state: an LSTM/GRU does not compound as a plain RNN does
    lri = tl.lr_info
    if lr_high(lri):
        return []
    if unscaled_input(tl) is not None:
        return []  # inputs far from unit scale blow the signal up through any stack (DATA004)
    weight = ARCH_BLOWUP_WEIGHT["early" if _early(tl) else "climb"]["normal" if lr_normal(lri) else "unknown"]
    return [
        Finding(
            "exploding_gradients",
            f"A {'plain recurrent' if kind == 'recurrent' else 'deep plain'} net ({how}) blew up early, at step "
            f"{tl.divergence_step}"
            + (f", at an LR of {fmt_num(lri.value)}" if lri.value is not None else "")
            + ": its signal compounds through the same weights step after step.",
            weight,
            step=tl.divergence_step,
            source=tl.checkpoints[0].path if tl.checkpoints else None,
            fix="Clip gradients (clipnorm=1.0); orthogonal recurrent init with gain ≤ 1 or a gated RNN; "
            "normalisation layers in deep stacks.",
        )
    ]


# A blow-up that compounds leaves a trace before the NaN; a loss at most this many times
# its first logged value right before it had not started compounding.
SUDDEN_LEVEL_RATIO = 3.0
# Growth that compounds through a recurrence or a deep stack climbs by orders of magnitude before
# it overflows; a climb into the blow-up of less than this many decades (10x) is no such growth.
ARCH_CLIMB_DECADES = 1.0


def _sudden_from_normal(tl: Timeline) -> bool:
    """The loss was logged finite before its first NaN/Inf, and went there straight from
    its normal level: no climb, the last finite value within SUDDEN_LEVEL_RATIO of the first
    and under FIRST_LOSS_HUGE, the gradient norm (when logged) not rising into it. Growth
    through a recurrence or a deep stack compounds over steps; this did not."""
    nf = tl.first_nonfinite
    if nf is None or tl.loss is None or nf.last_finite_step is None or climbed_into_blowup(tl):
        return False
    fin = tl.loss.values[(tl.loss.steps < nf.step) & np.isfinite(tl.loss.values)]
    if not fin.size:
        return False
    first, last = abs(float(fin[0])), abs(float(fin[-1]))
    if last >= FIRST_LOSS_HUGE or first <= 0 or last > SUDDEN_LEVEL_RATIO * first:
        return False
    g = grad_norm_before_blowup(tl)
    return not (g is not None and g[0] > 0 and g[2] >= GRAD_LAST_RATIO * g[0])


def _param_count(tl: Timeline) -> int | None:
    if not tl.checkpoints:
        return None
    return sum(t.numel for t in tl.checkpoints[-1].checkpoint.tensors if t.dtype.startswith(("float", "bfloat")))


def lr_far_above_usual(tl: Timeline) -> bool:
    """Is the stated LR at least LR_PRIOR_HIGH_RATIO times the usual one (LR006's high prior)?"""
    usual = usual_lr(tl)
    return usual is not None and tl.lr_info.value is not None and tl.lr_info.value >= LR_PRIOR_HIGH_RATIO * usual


def usual_lr(tl: Timeline) -> float | None:
    """The LR usual for the run's optimizer, model size and batch; None when no LR is stated.

    The optimizer's own value (LR_USUAL_BY_NAME), else its family's (LR_USUAL); scaled down by
    (parameters / LR_SIZE_PIVOT)^-1/4 for larger models, and up for a global batch past
    LR_REFERENCE_BATCH when the config states a warmup (LR_BATCH_EXPONENT)."""
    lri = tl.lr_info
    if lri.value is None or lri.value <= 0:
        return None
    name = (lri.optimizer or "").lower()
    usual = next((v for pattern, v in LR_USUAL_BY_NAME if pattern in name), LR_USUAL.get(lri.family, LR_USUAL[None]))
    params = _param_count(tl)
    if params is not None and params > LR_SIZE_PIVOT:
        usual *= (params / LR_SIZE_PIVOT) ** -0.25
    batch = tl.setup.global_batch
    if batch is not None and batch > LR_REFERENCE_BATCH and tl.lr_schedule.warmup:
        usual *= (batch / LR_REFERENCE_BATCH) ** LR_BATCH_EXPONENT.get(lri.family, LR_BATCH_EXPONENT[None])
    return usual


@rule("LR006", "stated-lr-against-usual", "learning_rate", ("lr_schedule_spike",), needs=("lr",))
def stated_lr_prior(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that diverged, or whose loss was not kept (only a config or
        checkpoints are left to say how it went), whose stated LR (logged, or
        from the optimizer state or config, or printed in the job log's header)
        is at least 10x what is usual for its optimizer, model size and batch —
        or within 3x of it. The usual LR, from the frameworks' defaults and the
        recipes behind them: SGD with or without momentum 0.05 (Keras's default
        0.01; 0.1 with momentum 0.9 in the ResNet recipe of He et al. 2016 and
        Goyal et al. 2017 — momentum lengthens the effective step by
        1/(1-momentum), but the recipes pick the LR with it in place);
        Adam/AdamW/RAdam 1e-3 (Kingma & Ba 2015; torch and Keras defaults);
        Adamax and NAdam 2e-3 (torch's defaults); RMSprop 1e-3 (Hinton's
        lecture 6e, Keras's default; torch's 1e-2 is the top of its range);
        Adagrad 1e-2 (torch's default); Adadelta 1.0 (the paper's rule has no
        LR; torch's default, and Keras's note on its 1e-3); Lion 1e-4 (Chen et
        al. 2023: 3-10x below AdamW's); another adaptive optimizer 1e-3, an
        unknown one 1e-2. Larger models want less: scaled by (parameters /
        1e6)^-1/4 above a million parameters (GPT-3's table, Brown et al. 2020,
        goes from 6e-4 at 125M to 6e-5 at 175B). A larger batch takes more,
        when a warmup is stated: above a global batch of 256 (batch x
        accumulation x processes), linearly for SGD (Goyal et al. 2017, who
        needed the warmup to get there) and by the square root for
        Adam-family optimizers (Hoffer et al. 2017, Malladi et al. 2022).
        Clipping and precision do not move it: clipping bounds each update to
        LR x the clip norm, which turns a blow-up at too high an LR into a
        steady climb of the weights (LR007) but does not make that LR right;
        the schedule's peak, not its start, is the LR compared.

        With an LR within 3x of the usual one it also reports, as context for
        the detail (weight 0, for no cause), that an LR fault could only be a
        schedule that raised the LR past the stated one (lr_schedule_spike).

    Why it points to this cause:
        A prior, not a finding: most blow-ups at 10x the usual LR are the LR's
        doing, and most at the usual LR are not. An LR too high
        (lr_too_high) is one configured too high; a stated LR that is usual
        leaves, of the LR's details, a schedule that raised it (a jump, a
        restart, a warmup past the stated peak). Where the job left only its
        config (it died before its first checkpoint) or checkpoints that end
        before the fault, the stated LR is the one thing that speaks. Other
        evidence (a huge first gradient, a NaN batch) overturns it; its weight
        is kept low so it only decides between otherwise balanced causes.

    Evidence it reports:
        The LR, where it was read, the optimizer and the usual value.

    Fix to suggest:
        Bring the LR to the usual range for the optimizer (concrete value).
    """
    if not may_have_failed(tl):
        return []
    lri = tl.lr_info
    usual = usual_lr(tl)
    if lri.value is None or lri.value <= 0 or usual is None:
        return []
    ratio = lri.value / usual
    fam = lri.optimizer or lri.family or "unknown optimizer"
    if ratio >= LR_PRIOR_HIGH_RATIO:
        return [
            Finding(
                None,  # a level, not a shape: a warmup peak can be as high as a constant LR
                f"The LR was {fmt_num(lri.value)} ({lri.origin}), {ratio:.0f}× the usual {fmt_num(usual)} for {fam}.",
                min(LR_PRIOR_HIGH_MAX, LR_PRIOR_HIGH_BASE + LR_PRIOR_HIGH_PER_DECADE * math.log10(ratio)),
                fix=f"Bring the LR near {fmt_num(usual)} (it was {fmt_num(lri.value)}).",
            )
        ]
    if ratio <= LR_PRIOR_NORMAL_RATIO and lr_still_rising(tl) is None and not _schedule_raises_unlogged(tl):
        # (a warmup still rising at the blow-up was set to an LR above any it logged: unknown; so
        # is the peak of a config's step schedule that multiplies the LR by more than 1 at each
        # milestone, when no LR was logged: the LR stated is only where it started)
        return [
            Finding(
                None,
                f"The LR was {fmt_num(lri.value)} ({lri.origin}), within {LR_PRIOR_NORMAL_RATIO:.0f}× of the usual "
                f"{fmt_num(usual)} for {fam}: the step size alone is an unlikely cause.",
                LR_PRIOR_NORMAL_WEIGHT,
            ),
            Finding(
                "lr_schedule_spike",
                f"The stated LR {fmt_num(lri.value)} is a usual one: were the LR at fault, it would be a schedule "
                "that raised it past that value, not an LR configured too high.",
                CONTEXT,
            ),
        ]
    return []


def _schedule_raises_unlogged(tl: Timeline) -> bool:
    """No LR logged, and a config's step schedule multiplies it by more than 1 at each milestone."""
    sf = tl.lr_schedule.step_factor
    return (tl.lr is None or not len(tl.lr)) and sf is not None and sf > STEP_FACTOR_RAISES


# A loss that reached FIRST_LOSS_HUGE at a stated LR this many times the usual one (LR006's
# bar for a high LR): the outputs were blown up, and the step size is the likelier reason.
HUGE_LOSS_LR_RATIO = LR_PRIOR_HIGH_RATIO
# A loss of thousands at ten times the usual LR or more: the steps blew the outputs up, whether or
# not the loss then went non-finite (Adam-family optimizers at a huge LR wreck the net and the loss
# stays finite and high).
HUGE_LOSS_HIGH_LR_WEIGHT = 0.6


@rule("LR008", "huge-loss-at-high-stated-lr", "learning_rate", (), needs=("loss", "lr"))
def huge_loss_at_high_lr(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A finite logged training loss of 1e3 or more (before any non-finite one),
        in a run whose stated LR (logged, or from the optimizer state or config) is
        at least 10x the usual one for its optimizer family and model size (as
        LR006 judges it) — whether or not the loss later went non-finite.

    Why it points to this cause:
        An initialised or trained net's loss sits near ln(classes) for a
        cross-entropy and near 1 for a regression on standardised targets; a loss
        of thousands means the outputs were blown up. At ten times the usual LR,
        the step size is what blew them up: the updates overshoot and push the
        weights far from where they started. An Adam-family optimizer at a huge LR
        moves each weight by about the LR per step and wrecks the net in a few
        steps while the loss stays finite, so the run need not end in NaN.
        (EXP007 is the counterpart at an LR that is not high: the network's own
        amplification.)

    Evidence it reports:
        The largest finite loss and its step, the LR, and how many times the usual
        one it is.

    Fix to suggest:
        Bring the LR near the usual value for the optimizer (concrete value), add
        warmup and gradient clipping. (No detail: a level, not a shape — a
        schedule's peak can be as high as a constant LR.)
    """
    if tl.loss is None or not len(tl.loss):
        return []
    lri = tl.lr_info
    usual = usual_lr(tl)
    if usual is None or lri.value is None or lri.value < HUGE_LOSS_LR_RATIO * usual:
        return []
    nf = tl.first_nonfinite
    steps, vals = tl.loss.steps, tl.loss.values
    keep = np.isfinite(vals)
    if nf is not None and nf.role == "loss":
        keep &= steps < nf.step
    if not keep.any():
        return []
    i = int(np.argmax(np.where(keep, np.abs(vals), -np.inf)))
    top, at = float(vals[i]), int(steps[i])
    if abs(top) < FIRST_LOSS_HUGE:
        return []
    ratio = lri.value / usual
    return [
        Finding(
            None,  # a level, not a shape: a schedule's peak can be as high as a constant LR
            f"The loss reached {fmt_num(top)} at step {at} with the LR at {fmt_num(lri.value)} ({lri.origin}), "
            f"{ratio:.0f}× the usual {fmt_num(usual)} for {lri.family or 'unknown optimizer'}: the steps blew the "
            "outputs up.",
            HUGE_LOSS_HIGH_LR_WEIGHT,
            step=at,
            source=tl.loss.source,
            fix=f"Bring the LR near {fmt_num(usual)} (it was {fmt_num(lri.value)}); add warmup and gradient clipping "
            "(clipnorm=1.0).",
            fix_sets="learning_rate",
        )
    ]


@rule("DATA006", "nan-after-long-healthy-stretch", "data_or_labels", (), needs=("loss",), shape="sudden")
def nan_after_long_stretch(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The first non-finite loss is a NaN that arrives after a long finite
        stretch (at least 15 logged points and 30 % of the run) with no climb
        before it, the loss not near zero, no LR increase shortly before it (a
        warmup or schedule step the run then trained through for a tenth of its
        length is past its reach; nor a warmup still raising it there), the LR
        not high, the gradient norm (when logged) steady up to the last finite
        point, and no finite data sample at hand that could hold the batch fed
        at that step (as many rows as step x batch size; a smaller clean sample,
        which may come from the head of the data, only weakens it).

    Why it points to this cause:
        The optimizer had been stable for a long time at this LR, and nothing
        was growing: a step that suddenly produces NaN must have been fed
        something new — a batch with NaN/Inf or a label out of range. (An
        operation that divides by a batch statistic looks the same; the data
        sample, where kept, tells them apart.) It names no detail: NaN rows and
        Inf rows leave the same NaN loss (Inf - Inf, 0 x Inf), so which of them,
        or a label, is for the data to say.

    Evidence it reports:
        The step, the length of the finite stretch, the LR and the gradient norm
        before it.

    Fix to suggest:
        Replay the batch at that step and check it; assert finite inputs in the
        pipeline.
    """
    nf = tl.first_nonfinite
    if nf is None or tl.loss is None or nf.last_finite_step is None or tl.onset is not None:
        return []
    if tl.loss_near_zero_before_blowup():
        return []
    first, last = _span(tl)
    finite_before = int(np.count_nonzero((tl.loss.steps < nf.step) & np.isfinite(tl.loss.values)))
    if finite_before < LONG_STRETCH_POINTS or (nf.step - first) < LONG_STRETCH_FRACTION * (last - first):
        return []
    if not math.isnan(nf.value):
        return []  # an Inf first points to an operation that overflowed, not a NaN row
    if clean_sample_covers(tl, nf.step):
        return []  # the data fed up to here is at hand and finite: an operation is the likelier source (NUM003)
    # a clean sample smaller than what was fed may be from the head of the data: weaker, not silent
    weight = PARTIAL_CLEAN_SAMPLE_WEIGHT if clean_sample(tl) else LONG_STRETCH_NAN_WEIGHT
    lri = tl.lr_info
    if lr_high(lri):
        return []
    # an LR raise acts within a few steps: one the run trained through stably is not the cause
    if any(
        c.kind in ("jump", "warmup_end") and c.step <= nf.step and not long_after_raise(tl, c, nf.step)
        for c in tl.lr_changes
    ):
        return []
    if lr_still_rising(tl) is not None:
        return []  # not stable at one LR: a warmup was still raising it (LR010's case)
    g_txt = ""
    if tl.grad_norm is not None and len(tl.grad_norm):
        g = tl.grad_norm
        mask = (g.steps < nf.step) & np.isfinite(g.values) & (g.values > 0)
        v = g.values[mask]
        if v.size >= 4:
            med = float(median(v))
            if float(v[-3:].max()) > GRAD_STEADY_RATIO * med:
                return []
            g_txt = f", gradient norm steady near {fmt_num(med)}"
    lr_txt = f" at an LR of {fmt_num(lri.value)}" if lri.value is not None else ""
    # a divergence read from the validation loss (the training loss stayed finite up to it): say which went NaN
    val = nf.role == "val_loss"
    return [
        Finding(
            None,  # NaN rows and Inf rows leave the same NaN loss
            f"The {'training ' if val else ''}loss was finite for {finite_before} logged points{lr_txt}{g_txt}, then "
            f"{'the validation loss was ' if val else ''}{fmt_num(nf.value)} at step {nf.step} with no climb: a batch, "
            "not the optimizer.",
            weight,
            step=nf.step,
            source=nf.source,
            fix=f"Replay the batch fed at step {nf.step} and check it for NaN/Inf and label range; assert "
            "np.isfinite(x).all() in the input pipeline.",
        )
    ]
