"""Rules pointing at an operation that overflowed or hit a singularity: log(0), x/0, fp16."""

from __future__ import annotations

import math
import re

import numpy as np

from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.context import (
    FP16_MAX,
    clean_sample,
    clean_sample_covers,
    climbed_into_blowup,
    stated_batch,
)
from forensics.rules.mechanisms import FIRST_LOSS_HUGE
from forensics.timeline import Timeline
from forensics.util import fmt_num

# fp16 values this close to 65504 overflow at the next multiply-accumulate.
FP16_NEAR_LIMIT = 0.5 * FP16_MAX
# "Bounded" weights: the global norm grew less than this over the checkpoints before
# the blow-up (an explosion grows it by orders of magnitude).
BOUNDED_WEIGHT_GROWTH = 10.0


# Evidence weights. A loss saturating toward 0 and then non-finite: log(0) in the loss.
SATURATION_WEIGHT = 0.75
# float16 weights at or past the dtype's limit: the overflow seen directly.
FP16_AT_LIMIT_WEIGHT = 0.8
# A float16 model whose loss first became Inf: an overflow, seen in the loss only.
FP16_INF_LOSS_WEIGHT = 0.6
# Non-finite with finite weights and finite inputs: an operation, by elimination.
FINITE_WEIGHTS_AND_INPUTS_WEIGHT = 0.55
# ... when the clean sample is smaller than what was fed up to the NaN (step x batch size rows),
# it may come from elsewhere in the data than the batch that broke: weaker.
PARTIAL_SAMPLE_WEIGHT = 0.3
# A first non-finite value that is Inf, not NaN: an overflow more often than not.
INF_FIRST_WEIGHT = 0.35
# A float16 model that went non-finite with no climb and no value at the limit in view:
# the half-precision range is the likeliest operation to fail, not a proof of it.
FP16_NONFINITE_WEIGHT = 0.5
# A loss still above this fraction of its starting level when it went NaN had not saturated: a
# trained classifier's loss falls by far more before a softmax output underflows to 0.
UNSATURATED_FRACTION = 0.5
# ... judged from this many finite loss points before the NaN at least (a start and an end).
UNSATURATED_MIN_POINTS = 2


def _weights_bounded(tl: Timeline) -> bool | None:
    step = tl.divergence_step
    norms = [
        (s, n) for s, n, _ in tl.weight_norms if math.isfinite(n) and n > 0 and (step is None or s is None or s <= step)
    ]
    if len(norms) < 2:
        return None
    return norms[-1][1] / norms[0][1] < BOUNDED_WEIGHT_GROWTH


@rule("NUM001", "saturation-then-non-finite", "numerical_instability", ("log_of_zero",), needs=("loss",))
def saturation_then_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The loss fell smoothly toward 0 (its last finite level under 2 % of its
        first, or below 0.02) and was still falling or flat when it jumped to
        inf/NaN, with no climb before it and weights that did not explode.

    Why it points to this cause:
        A confident model drives a softmax/sigmoid output to exactly 0 in
        floating point for some class; a hand-written cross-entropy then takes
        log(0) = -inf, and 0 * log(0) = NaN. Nothing was unstable — the model
        was winning — so the loss formula, not the optimisation, failed.

    Evidence it reports:
        The loss level and trend before the blow-up, the step, the weight growth.

    Fix to suggest:
        Use the framework's cross-entropy on logits (from_logits=True,
        nn.CrossEntropyLoss), or clip: log(clip(p, 1e-7, 1)) / add eps=1e-7 inside
        the log.
    """
    nf = tl.first_nonfinite
    if nf is None or nf.last_finite_step is None or climbed_into_blowup(tl):
        return []
    if not tl.loss_near_zero_before_blowup():
        return []
    last, trend = tl.loss_before_blowup()
    if trend == "rising":
        return []
    bounded = _weights_bounded(tl)
    if bounded is False:
        return []
    w_txt = " with bounded weights" if bounded else ""
    return [
        Finding(
            "log_of_zero",
            f"The loss fell to {fmt_num(last)} ({trend or 'steady'}) and then jumped to {fmt_num(nf.value)} at step "
            f"{nf.step}{w_txt}: the model saturated and a log/ratio of its output hit 0.",
            step=nf.step,
            source=nf.source,
            weight=SATURATION_WEIGHT,
            fix="Compute the loss from logits (from_logits=True / nn.CrossEntropyLoss) or add eps=1e-7 inside the log "
            "(log(clip(p, 1e-7, 1))).",
        )
    ]


@rule("NUM002", "fp16-overflow", "numerical_instability", ("fp16_overflow",), needs=("checkpoints",))
def fp16_overflow(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The model runs in float16 (fp16 checkpoint tensors, an fp16 config or
        dtype policy) and either a tensor's max |x| is within 2x of fp16's limit
        65504 or holds Inf, or the first non-finite loss is ±Inf.

    Why it points to this cause:
        float16 cannot represent magnitudes above 65504: activations, logits or
        weights that pass it become Inf, and Inf - Inf or 0 * Inf then make NaN.
        The same computation in float32 or bfloat16 would have stayed finite.

    Evidence it reports:
        The tensor and its max |x| against 65504, or the Inf loss step, and the
        dtype.

    Fix to suggest:
        Train with mixed precision and dynamic loss scaling (torch.amp GradScaler,
        Keras mixed_float16 policy) instead of pure fp16, keep the loss and
        softmax in float32, or use bfloat16.
    """
    dtype = tl.weight_dtype
    if dtype != "float16":
        return []
    fix = (
        "Use mixed precision with dynamic loss scaling (torch.amp + GradScaler, Keras 'mixed_float16') instead of "
        "pure fp16; keep the loss/softmax in float32, or switch to bfloat16."
    )
    for c in tl.checkpoints:
        for t in c.checkpoint.tensors:
            if t.dtype != "float16":
                continue
            if t.posinf or t.neginf or (math.isfinite(t.absmax) and t.absmax >= FP16_NEAR_LIMIT):
                return [
                    Finding(
                        "fp16_overflow",
                        f"{t.name} (float16) reached max |x| {fmt_num(t.absmax)} with {t.posinf + t.neginf} Inf; "
                        f"float16 overflows at {FP16_MAX:.0f} ({c.path}).",
                        step=c.step,
                        source=c.path,
                        weight=FP16_AT_LIMIT_WEIGHT,
                        fix=fix,
                    )
                ]
    nf = tl.first_nonfinite
    if nf is not None and math.isinf(nf.value):
        return [
            Finding(
                "fp16_overflow",
                f"The model is float16 and the loss first became {fmt_num(nf.value)} (not NaN) at step {nf.step}: "
                f"a value passed float16's limit of {FP16_MAX:.0f}.",
                step=nf.step,
                source=nf.source,
                weight=FP16_INF_LOSS_WEIGHT,
                fix=fix,
            )
        ]
    return []


@rule(
    "NUM003",
    "non-finite-with-finite-weights-and-inputs",
    "numerical_instability",
    ("division_by_zero", "log_of_zero"),
    needs=("checkpoints", "data"),
)
def nonfinite_with_clean_inputs(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The loss went non-finite suddenly (no climb before it) while the last
        checkpoint before that step is finite and every data sample's inputs and
        labels are finite and in range. Weaker when the sample holds fewer rows
        than were fed up to that step (step x batch size, 8 when the config does
        not say): it may come from the head of the data, and says little of a
        shard fed later.

    Why it points to this cause:
        Finite weights and finite, valid inputs can only give NaN/Inf through an
        operation with a singularity: a division by a quantity that reached 0
        (a batch std, a mask count, a norm), a log or sqrt of 0 or of a negative.
        Near-zero loss before it points at log(0); otherwise at a division.

    Evidence it reports:
        The step, the finite checkpoint, the data samples checked.

    Fix to suggest:
        Add an epsilon to every denominator and log/sqrt argument (x / (std +
        1e-5), log(p + 1e-7)); run one step with anomaly detection
        (torch.autograd.set_detect_anomaly(True), tf.debugging.enable_check_numerics)
        to name the operation.
    """
    nf = tl.first_nonfinite
    if nf is None or nf.last_finite_step is None or climbed_into_blowup(tl):
        return []
    samples = tl.data_samples
    if not clean_sample(tl):
        return []
    covers = clean_sample_covers(tl, nf.step)
    if any(ds.labels is not None and ds.labels.negative for ds in samples):
        return []
    ck = tl.checkpoint_before(nf.step)
    if ck is None or ck.nonfinite_tensors:
        return []
    near_zero = tl.loss_near_zero_before_blowup()
    detail = "log_of_zero" if near_zero else "division_by_zero"
    return [
        Finding(
            detail,
            f"Loss became {fmt_num(nf.value)} at step {nf.step} with finite weights ({ck.path}, step {ck.step}) and "
            f"finite inputs in {', '.join(d.source.path for d in samples)}: an operation hit a singularity"
            + (" (the loss was near 0: log of 0)." if near_zero else " (a division or log of 0).")
            + (
                ""
                if covers
                else " (The sample holds fewer rows than were fed up to that step: a later shard may differ.)"
            ),
            step=nf.step,
            source=nf.source,
            weight=FINITE_WEIGHTS_AND_INPUTS_WEIGHT if covers else PARTIAL_SAMPLE_WEIGHT,
            fix="Add an epsilon to every denominator and log argument (x / (std + 1e-5), log(p + 1e-7)); run a step "
            "with torch.autograd.set_detect_anomaly(True) or tf.debugging.enable_check_numerics() to name the op.",
        )
    ]


@rule("NUM004", "non-finite-first-value-is-inf", "numerical_instability", (), needs=("loss",))
def first_value_is_inf(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The first non-finite training loss is ±Inf rather than NaN, arrived
        without a climb, the last finite loss was not already huge (under 1e3,
        EXP007's bar), and the weights before it were finite.

    Why it points to this cause:
        NaN inputs propagate as NaN, never as Inf; an Inf out of finite weights
        comes from an operation: an overflow (exp, fp16), log(0) or x/0. It
        argues against a NaN-in-the-data explanation. A loss already in the
        thousands that then overflows to Inf is a blow-up reaching the float
        limit, not an operation's singularity: the rule stays silent then.

    Evidence it reports:
        The step and the value.

    Fix to suggest:
        Guard the operations that can produce Inf (epsilons, clipping of exp
        arguments, float32 for the loss).
    """
    nf = tl.first_nonfinite
    if nf is None or not math.isinf(nf.value) or nf.last_finite_step is None or climbed_into_blowup(tl):
        return []
    if nf.last_finite_value is not None and abs(nf.last_finite_value) >= FIRST_LOSS_HUGE:
        return []  # already blown up: the Inf is the blow-up passing the float limit
    ck = tl.checkpoint_before(nf.step)
    if ck is not None and ck.nonfinite_tensors:
        return []
    return [
        Finding(
            None,
            f"The loss first became {'+' if nf.value > 0 else '-'}Inf, not NaN, at step {nf.step}, straight from "
            f"{fmt_num(nf.last_finite_value)}: an operation overflowed or divided by zero.",
            step=nf.step,
            source=nf.source,
            weight=INF_FIRST_WEIGHT,
            fix="Add epsilons to denominators and log arguments; compute the loss in float32.",
        )
    ]


@rule("NUM005", "float16-model-went-non-finite", "numerical_instability", ("fp16_overflow",), needs=("checkpoints",))
def fp16_model_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The model trains in float16 (its checkpoint tensors are float16, a config
        or dtype policy says fp16 / mixed_float16 / torch_dtype float16, or the
        trainer's log says it computes in 16-bit: Lightning's AMP line)
        and its loss or a checkpoint went non-finite without a climb before it,
        where NUM002 saw no tensor at the limit and no Inf loss (the NaN that
        follows an overflow hides it: Inf - Inf and 0 x Inf are NaN, and one
        update spreads that NaN to every weight).

    Why it points to this cause:
        float16 overflows at 65504: a logit, an exp() or a sum of squares that
        float32 holds easily becomes Inf in half precision, and the NaN that
        follows is all a checkpoint or a loss curve keeps. A float32 or
        bfloat16 model never meets that limit, so among the operations that
        can fail, the precision is the first suspect. A climb into the blow-up
        is left to the LR and weight rules (any dtype overflows then).

    Evidence it reports:
        The dtype and where it was read, and where the run first went
        non-finite.

    Fix to suggest:
        Train with mixed precision and dynamic loss scaling instead of pure
        fp16 (or bfloat16); keep the loss and softmax in float32.
    """
    if tl.weight_dtype != "float16" or fp16_overflow(tl) or climbed_into_blowup(tl):
        return []
    nf, ck = tl.first_nonfinite, tl.first_nonfinite_checkpoint
    if nf is None and ck is None:
        return []
    where = (
        f"its loss became {fmt_num(nf.value)} at step {nf.step}"
        if nf is not None
        else f"{ck.path} holds {len(ck.nonfinite_tensors)} non-finite tensor(s)"
    )
    return [
        Finding(
            "fp16_overflow",
            f"The model trains in float16 and {where}: float16 overflows at {FP16_MAX:.0f}, and the NaN that "
            "follows an overflow hides the Inf.",
            step=nf.step if nf is not None else ck.step,
            source=nf.source if nf is not None else ck.path,
            weight=FP16_NONFINITE_WEIGHT,
            fix="Use mixed precision with dynamic loss scaling (torch.amp + GradScaler, Keras 'mixed_float16') instead "
            "of pure fp16; keep the loss/softmax in float32, or switch to bfloat16.",
        )
    ]


# the point a run went non-finite at when no NaN was logged and the fp16 loss scale at its floor says so
_SCALE_FLOOR_POINT = "message:loss_scale_minimum"


@rule("NUM008", "nan-at-an-unsaturated-loss", "numerical_instability", ("division_by_zero",), needs=("loss",))
def nan_at_unsaturated_loss(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss went NaN (not Inf) without a climb before it, while it
        still stood above half of its starting level (the median of its first
        points against that of its last ones, over two finite points at least).
        Not where no NaN was logged and the fp16 loss scale at its floor is what
        says the run went non-finite: that message names the overflow itself.
        Context for the detail of a numerical fault; it argues for no cause.

    Why it points to this cause:
        log(0) needs a softmax or sigmoid output rounded to exactly 0, which only
        a saturated model gives: one whose loss on most samples has fallen near
        0. A loss still near where it started says the outputs were far from
        saturating, so among the operations with a singularity a division is
        the likelier: a batch statistic that reached 0 (the std of a feature
        constant over a batch, a count of masked tokens), and 0/0 is NaN where
        log(0) is -Inf. The loss level says nothing of whether the NaN came in
        with the data instead: that is left to the data rules.

    Evidence it reports:
        The loss at the start and before the NaN, and the step.

    Fix to suggest:
        Add an epsilon to every denominator (x / (std + 1e-5), sum / max(count,
        1)); run one step with anomaly detection
        (torch.autograd.set_detect_anomaly(True), tf.debugging.enable_check_numerics)
        to name the operation.
    """
    nf, loss = tl.first_nonfinite, tl.loss
    if nf is None or loss is None or nf.role != "loss" or not math.isnan(nf.value) or climbed_into_blowup(tl):
        return []
    if nf.tag == _SCALE_FLOOR_POINT:
        return []  # no NaN was seen: the scaler's floor says fp16 overflowed, and that is the operation (LOG003)
    before = loss.values[(loss.steps < nf.step) & np.isfinite(loss.values)]
    if before.size < UNSATURATED_MIN_POINTS or np.any(before <= 0):
        return []  # a masked or negative loss has no level to judge
    k = max(1, min(3, before.size // 2))
    first, last = float(np.median(before[:k])), float(np.median(before[-k:]))
    if last < UNSATURATED_FRACTION * first:
        return []
    return [
        Finding(
            "division_by_zero",
            f"The loss went NaN at step {nf.step} while it still stood at {fmt_num(last)} (it started at "
            f"{fmt_num(first)}): the model's outputs were not saturated, so a log(0) is unlikely and a division "
            "by a quantity that reached 0 is the likelier operation.",
            step=nf.step,
            source=nf.source,
            weight=CONTEXT,
            fix="Add an epsilon to every denominator (x / (std + 1e-5)); run one step with "
            "torch.autograd.set_detect_anomaly(True) or tf.debugging.enable_check_numerics to name the operation.",
        )
    ]


@rule(
    "NUM009",
    "feature-constant-over-a-batch",
    "numerical_instability",
    ("division_by_zero",),
    needs=("loss", "data"),
)
def feature_constant_over_a_batch(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The run went non-finite (a NaN, not an Inf first) and a data sample's
        inputs hold one feature that keeps exactly the same value over at least
        a batch's worth of consecutive rows (the batch size the config states, 8
        when it does not), while the inputs vary otherwise. Context for the
        detail of a numerical fault; it argues for no cause.

    Why it points to this cause:
        A batch in which a feature is constant has a standard deviation of 0
        for it: a normalisation computed over the batch without an epsilon,
        (x - mean) / std, then divides 0 by 0, and the NaN spreads to every
        weight in one update. The values are finite and in range, so nothing in
        the data itself is wrong; the division that meets them is.

    Evidence it reports:
        The array, the first row of the run, how many rows it spans against the
        batch size.

    Fix to suggest:
        Add an epsilon to the normalisation's denominator ((x - mean) / (std +
        1e-5), or the framework's BatchNorm/LayerNorm with its default eps), or
        drop features that are constant.
    """
    nf = tl.first_nonfinite
    if not tl.diverged or (nf is not None and math.isinf(nf.value)):
        return []
    batch = max(2, stated_batch(tl))
    for ds in tl.data_samples:
        for a in ds.arrays:
            if a.role != "features" or a.constant_run < batch or not (a.std > 0) or a.constant_run_row is None:
                continue
            return [
                Finding(
                    "division_by_zero",
                    f"{ds.source.path}: one feature of '{a.name}' keeps the same value over {a.constant_run} "
                    f"consecutive rows from row {a.constant_run_row} (a batch holds {batch}): its batch std is 0, "
                    "and a normalisation over the batch without an epsilon divides 0 by 0.",
                    source=ds.source.path,
                    weight=CONTEXT,
                    fix="Add an epsilon to the normalisation's denominator ((x - mean) / (std + 1e-5)) or use the "
                    "framework's normalisation layer; drop features that are constant.",
                )
            ]
    return []


def regression_targets(tl: Timeline) -> tuple[str, str, float, float] | None:
    """(sample path, array, min, max) of a data sample's targets that are real numbers, not class
    indices: a float array in the label role whose values are finite and not all integers (the data
    reader then keeps no class counts for it), or None."""
    for ds in tl.data_samples:
        if ds.labels is not None:
            continue  # integer labels: class indices
        for a in ds.arrays:
            if a.role != "labels" or not a.dtype.startswith(("float", "bfloat")) or a.nan + a.posinf + a.neginf:
                continue
            if math.isfinite(a.min) and math.isfinite(a.max) and a.max > a.min:
                return ds.source.path, a.name, a.min, a.max
    return None


# A loss function a setting names that computes no log: squared, absolute, Huber and log-cosh errors
# (cosh >= 1, so its log never meets 0); a cross-entropy, NLL, KL or BCE takes one.
_REGRESSION_LOSS = re.compile(
    r"\b(?:mse|mae|rmse|l1|l2|smooth_?l1|huber|log_?cosh)(?:_?loss)?\b|mean_?squared|mean_?absolute|"
    r"squared_?error|absolute_?error|huber",
    re.IGNORECASE,
)


def regression_loss(name: str) -> bool:
    """Does a loss function's name (a config's ``loss``, a Keras model's compiled loss) say a
    regression's error, which takes no log?"""
    return bool(_REGRESSION_LOSS.search(name.replace("-", "_")))


@rule("NUM010", "regression-targets-take-no-log", "numerical_instability", ("division_by_zero",), needs=("data",))
def regression_takes_no_log(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The run went non-finite, its weights are not float16 (the checkpoints
        or the config say float32 or bfloat16), and the loss is a regression's:
        a data sample holds its targets as real numbers (a float array in the
        label role whose values are not all integers), or the loss function a
        setting names is a squared, absolute, Huber or log-cosh error (a
        config's ``loss``/``criterion``, a Keras model's compiled loss).
        Context for the detail of a numerical fault; it argues for no cause.

    Why it points to this cause:
        Of the operations that fail, log(0) lives in a classification loss: a
        cross-entropy takes the log of a predicted probability, which a
        confident softmax rounds to 0. A regression's loss (mean squared or
        absolute error, Huber) takes no log, and float32 or bfloat16 do not
        overflow at float16's 65504: of the three, a division by a quantity
        that reached 0 (a batch std, a count, a norm) is what is left.

    Evidence it reports:
        The targets' array and range, or the loss function named, and the
        dtype.

    Fix to suggest:
        Add an epsilon to every denominator (x / (std + 1e-5)); run one step
        with anomaly detection to name the operation.
    """
    nf, ck = tl.first_nonfinite, tl.first_nonfinite_checkpoint
    if (nf is None and ck is None) or tl.weight_dtype in (None, "float16"):
        return []
    found = regression_targets(tl)
    if found is not None:
        path, name, lo, hi = found
        what = f"{path}: the targets '{name}' are real numbers ({fmt_num(lo)} to {fmt_num(hi)}), so the loss is"
    elif tl.model_loss is not None and regression_loss(tl.model_loss):
        path = None
        what = f"The loss the run's settings name is '{tl.model_loss}',"
    else:
        return []
    return [
        Finding(
            "division_by_zero",
            f"{what} a regression's, which takes no log, and the weights are {tl.weight_dtype}, which does not "
            "overflow at 65504: of the operations that fail, a division by a quantity that reached 0 is left.",
            CONTEXT,
            source=path,
            fix="Add an epsilon to every denominator (x / (std + 1e-5)); run one step with "
            "torch.autograd.set_detect_anomaly(True) or tf.debugging.enable_check_numerics to name the operation.",
        )
    ]


# The first forward pass runs on the initial weights: a loss logged at this step or before it
# carries no update (step 0 or 1, as the loops count the first batch).
FIRST_FORWARD_STEP = 1


@rule("NUM014", "inf-at-the-first-forward-pass", "numerical_instability", ("fp16_overflow",), needs=("loss",))
def inf_at_first_forward_pass(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss is +Inf or -Inf at its first logged point, and that
        point is the first forward pass (step 0 or 1: no update has run), while
        no source says the weights are in a dtype other than float16 (float32,
        bfloat16, float64: none overflows at 65504). Context for the
        detail of a numerical fault; it argues for no cause.

    Why it points to this cause:
        Before any update the net computes on its initial weights, whose
        activations and logits sit near 1: in float32 an Inf there needs a
        value past 3.4e38 or a probability rounded to exactly 0 (a logit gap
        past about 100), which no ordinarily initialised net reaches. float16
        reaches its limit at 65504, its exp() overflows once a logit passes
        11.09 and its softmax rounds a probability to 0 at a gap of about 17:
        of the operations that fail, the one an initialised net meets most
        often is float16's range. A log(0) there needs logits scaled up from
        the start (a temperature or logit scale of tens), an x/0 a batch that
        triggers it: both happen, which is why this is context for the detail
        the fitted table weighs, not a finding. A first logged point after
        updates (or an epoch's mean) is silent here, as is a NaN, which many
        things leave.

    Evidence it reports:
        The step and the value of the first logged loss.

    Fix to suggest:
        Train in mixed precision with dynamic loss scaling (or bfloat16) and
        keep the loss and softmax in float32.
    """
    nf = tl.first_nonfinite
    if tl.loss is None or nf is None or nf.role != "loss" or nf.last_finite_step is not None:
        return []
    if not math.isinf(nf.value) or nf.unit != "step" or nf.step > FIRST_FORWARD_STEP:
        return []
    if nf.step != int(tl.loss.steps.min()) or tl.weight_dtype not in (None, "float16"):
        return []
    return [
        Finding(
            "fp16_overflow",
            f"The loss was {fmt_num(nf.value)} at step {nf.step}, its first forward pass, before any update: an "
            "initialised net in float32 stays far from its limit, while float16 overflows at 65504 (exp() past "
            "11.09).",
            CONTEXT,
            step=nf.step,
            source=nf.source,
            fix="Use mixed precision with dynamic loss scaling (torch.amp + GradScaler) or bfloat16; keep the loss and "
            "softmax in float32.",
        )
    ]


# The precisions that do not overflow at float16's 65504: float32's range, which bfloat16 shares.
WIDE_PRECISIONS = ("float32", "bfloat16", "float64")
# A dynamic loss scaler's messages (apex, DeepSpeed, fairseq, Megatron): it exists only for float16, so the
# forward pass ran in float16 under autocast (apex O1, torch.amp) whatever precision the weights are kept in.
_FP16_SCALER_EVENTS = ("loss_scale_overflow_transient", "loss_scale_minimum")
# A last finite loss this many times the run's median level was blowing up into the Inf; a log of 0
# arrives from the level the loss was at (a drift up from confidently wrong samples included).
INF_FROM_LEVEL_RISE = 10.0


@rule("NUM015", "inf-loss-at-a-wide-precision", "numerical_instability", ("log_of_zero",), needs=("loss",))
def inf_loss_at_wide_precision(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss first went +Inf or -Inf, not NaN, straight from a
        finite level that was not blowing up (under 1e3, EXP007's bar, and
        under ten times the run's median loss), the checkpoint before it finite, in a run whose
        precision a source states as float32, bfloat16 or float64 (checkpoint
        tensors, a config, the trainer's log), and no log line of a float16
        loss scaler (apex's, DeepSpeed's, fairseq's "Gradient overflow ...
        reducing loss scale"): a scaler means the forward pass ran in float16
        under autocast (apex O1, torch.amp), its weights kept in float32.
        Context for the detail of a numerical fault; it argues for no cause.

    Why it points to this cause:
        Of the operations that fail, a float16 overflow is ruled out by the
        stated precision (float32 and bfloat16 reach 3.4e38, and a loss near 1
        gets there only by climbing), and a division by a batch statistic that
        reached 0 divides 0 by 0 (a feature constant over a batch has x - mean
        = 0 and std = 0; an empty mask sums and counts nothing), which is NaN.
        An infinite loss from a normal level is what -log(p) gives when a
        probability rounds to exactly 0: the log of 0. A division of a nonzero
        value by 0 (a learned variance collapsing in a Gaussian likelihood)
        gives Inf as well, which is why this is context for the detail the
        fitted table weighs, not a finding. A NaN first says nothing here: Inf
        becomes NaN one update later, and a sparse log shows only that.

    Evidence it reports:
        The step, the last finite loss, the Inf, and the precision.

    Fix to suggest:
        Compute the loss from logits (from_logits=True, nn.CrossEntropyLoss,
        log_softmax) or clip the probability inside the log (log(clip(p, 1e-7,
        1))).
    """
    nf = tl.first_nonfinite
    if nf is None or nf.role != "loss" or not math.isinf(nf.value) or nf.last_finite_value is None:
        return []
    if tl.weight_dtype not in WIDE_PRECISIONS or abs(nf.last_finite_value) >= FIRST_LOSS_HUGE:
        return []  # past 1e3: the blow-up reaching the float limit, not an operation's singularity
    if any(e.kind in _FP16_SCALER_EVENTS for _, e in tl.log_events):
        return []  # float32 weights under a float16 forward pass: its 65504 is met there
    if tl.loss is not None:
        before = tl.loss.values[(tl.loss.steps < nf.step) & np.isfinite(tl.loss.values)]
        level = float(np.median(np.abs(before))) if before.size else 0.0
        if level > 0 and abs(nf.last_finite_value) > INF_FROM_LEVEL_RISE * level:
            return []  # the loss was blowing up into it: the LR and weight rules' case
    ck = tl.checkpoint_before(nf.step)
    if ck is not None and ck.nonfinite_tensors:
        return []
    return [
        Finding(
            "log_of_zero",
            f"The loss went {fmt_num(nf.value)} at step {nf.step} straight from {fmt_num(nf.last_finite_value)}, "
            f"in {tl.weight_dtype}, which does not overflow at float16's {FP16_MAX:.0f}: a division of 0 by 0 would "
            "give NaN, while -log(p) of a probability rounded to 0 gives Inf (a log of 0).",
            CONTEXT,
            step=nf.step,
            source=nf.source,
            fix="Compute the loss from logits (from_logits=True / nn.CrossEntropyLoss / log_softmax) or add eps=1e-7 "
            "inside the log (log(clip(p, 1e-7, 1))).",
        )
    ]


# A loss that collapsed to exactly 0 (timeline.collapsed_from): its zeros stand for non-finite steps
# the logger or the training code masked as 0. Which operation failed is not shown, so the weight is
# that of a sign, not a proof; stated float16 (or a float16 scaler's lines) names the overflow.
COLLAPSE_WEIGHT = 0.35


@rule("NUM011", "loss-collapsed-to-exactly-zero", "numerical_instability", ("fp16_overflow",), needs=("loss",))
def loss_collapsed_to_zero(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss fell from at least COLLAPSE_FROM (0.1) straight to
        exactly 0 in one logged interval and printed 0 on every point after,
        COLLAPSE_POINTS (3) or more, to the end of the record, with no
        non-finite value logged (the divergence the timeline calls
        "collapsed"): the HF Trainer's `{'loss': 0.0, ...}` dicts of a
        fine-tune that logged 3.85 once, a loss the training code passed
        through torch.nan_to_num.
        A loss that converges passes through its print's last decimals on its
        way down (0.0003, 0.0001, 0.0), and one at 0 from its first point (a
        GRPO loss, a DPO margin met from the start) never fell there: both
        stay silent, unless the validation loss of the same weights went
        non-finite: a loss at exactly 0 on every point from its first beside a
        NaN evaluation is an interval-by-interval masked NaN from the start
        (an SFT whose every step was NaN logs {'loss': 0.0} and
        {'eval_loss': nan}). So does a fall from fewer than PRINT_QUANTA (100) of the
        print's last digit: a '%.1f' print stepping 0.1 to 0.0, a margin loss
        at '%.2f' falling 0.12 to 0.00 when every margin is met.

    Why it points to this cause:
        No training takes a cross-entropy of 0.1 or more to a loss under its
        print's resolution in one logging interval. Exactly 0 there is what is
        left of a non-finite loss: the HF Trainer's logging_nan_inf_filter
        leaves NaN and Inf steps out of its running sum, so an interval whose
        every step was non-finite logs 0.0 (no precision makes it: only the
        filter); training code that replaces a NaN loss by 0
        (torch.nan_to_num(loss), a guard that sets it to 0 and goes on) prints
        0 for each such step. The operation that went non-finite is the
        likeliest fault (the logger hid its Inf or NaN), a float16 overflow
        first where a source states float16 (its 65504 is met by logits and
        sums of squares that float32 holds). A weak sign, not a proof: a NaN from an
        LR past the stability limit or from bad inputs is masked the same way.

    Evidence it reports:
        The step of the first zero, the value before it, and how many zeros
        follow; the precision where a source states it.

    Fix to suggest:
        Log the raw loss (logging_nan_inf_filter=False, no nan_to_num on it) to
        see the first NaN or Inf; train in bfloat16 or float32 instead of float16 (V100 and older
        GPUs have no bfloat16: keep fp16 with dynamic loss scaling and the
        loss and softmax in float32).
    """
    if tl.exploded_verb != "collapsed" or tl.exploded_step is None or tl.loss is None:
        return []
    _, values = tl.loss.in_step_order
    if values.size == 0 or float(values[-1]) != 0.0:
        return []  # a loss frozen on a non-zero value: a dead net, no masked non-finite value
    fp16 = tl.weight_dtype == "float16" or any(e.kind in _FP16_SCALER_EVENTS for _, e in tl.log_events)
    where = f"{tl.loss.unit} {tl.exploded_step}"
    return [
        Finding(
            "fp16_overflow" if fp16 else None,
            f"The zeros from {where} on are no fit: a logger that masks non-finite steps prints 0.0 for an "
            "interval whose every step was NaN or Inf (the HF Trainer's logging_nan_inf_filter), and training "
            "code that replaces a NaN loss by 0 (torch.nan_to_num) prints 0 for each such step"
            + ("; this run computes in float16, whose overflow is the likeliest NaN." if fp16 else "."),
            COLLAPSE_WEIGHT,
            step=tl.exploded_step,
            source=tl.loss.source,
            fix="Log the raw loss (logging_nan_inf_filter=False, no nan_to_num on it) to find the first NaN/Inf; "
            "train in bfloat16 or float32 rather than float16, or keep fp16 with dynamic loss scaling and the "
            "loss/softmax in float32.",
        )
    ]
