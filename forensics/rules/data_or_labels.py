"""Rules pointing at the data: non-finite inputs, labels outside the loss's domain,
unnormalised inputs, a single bad batch."""

from __future__ import annotations

import math
import re

import numpy as np

from forensics.records import ArrayStats, DataSample, labels_out_of_range
from forensics.rules.base import Finding, rule
from forensics.rules.context import (
    GRAD_LAST_RATIO,
    blown_up_before_nonfinite,
    clean_sample_covers,
    climbed_into_blowup,
    grad_norm_before_blowup,
)
from forensics.rules.messages import label_fix
from forensics.timeline import FROZEN_POINTS, Series, Timeline, print_hold
from forensics.util import fmt_num

# Inputs whose magnitude passes this are not standardised (scaled inputs sit within a
# few units); 255 is the telltale raw-pixel maximum.
UNSCALED_ABS_MAX = 20.0
# ... or whose standard deviation passes this (standardised inputs have std ~1).
UNSCALED_STD = 10.0
# A sudden NaN that poisoned the run is weak evidence of a bad batch on its own
# (division by zero and overflow look the same): below diagnose's verdict threshold.
SUDDEN_NAN_WEIGHT = 0.35
# A label this many times the next-largest distinct label is an outlier (8000 among 0..4),
# even when the model's width is unknown.
OUTLIER_LABEL_FACTOR = 10.0

# Evidence weights. Non-finite loss at the first forward pass (the first logged step, or any
# point reached with the LR at 0, whose updates moved nothing): nothing was learned yet, so the inputs
# or labels make it, or an operation of that forward pass (a float16 overflow, a log or division of 0).
FIRST_STEP_WEIGHT = 0.6
# ... reached with the LR at 0 in a run whose settings were read and name no float16 (a config, the
# trainer's arguments, the weights' dtype): its forward pass ran in float32 on the initial weights, which
# overflow nowhere, so the inputs or labels are what is left, bar a log or division of 0. Where no
# setting is read the precision is unknown, and a float16 forward pass overflows at LR 0 as readily:
# the first step's weight.
FIRST_STEP_LR0_WEIGHT = 0.8
# ... at a first point logged only after updates ran (an epoch mean, a step past the first), or one numbered
# by line order, which says nothing of how many ran: an early blow-up of the network looks the same.
FIRST_POINT_AFTER_UPDATES_WEIGHT = 0.3
# ... in a run that computes in float16 (a config, the trainer's line or the loss's grid says so):
# its forward pass overflows past 65504 on the initial weights as readily (a pretrained model's
# activations, T5's feed-forward), so a NaN before any update is the inputs' no more than an overflow's.
FIRST_STEP_FLOAT16_WEIGHT = 0.3
# A data sample holding NaN/Inf inputs: seen directly, as sure as evidence gets.
NONFINITE_SAMPLE_WEIGHT = 0.9
# Negative labels in a data sample: no class index is negative.
NEGATIVE_LABEL_WEIGHT = 0.9
# A label at or past the known output width: the loss cannot be computed for it.
LABEL_PAST_WIDTH_WEIGHT = 0.95
# An outlier label with the output width unknown ...
OUTLIER_LABEL_WEIGHT = 0.7
# An outlier label this many times the next-largest is no plausible class count ...
OUTLIER_LABEL_SURE_FACTOR = 100
# ... and weighs as much as a label past a known width.
OUTLIER_LABEL_SURE_WEIGHT = 0.9
# Unscaled inputs in a diverged run: a likely reason, not a proof.
UNSCALED_INPUT_WEIGHT = 0.7
# A sudden NaN, finite again right after: one bad batch.
ISOLATED_NAN_WEIGHT = 0.7
# A sudden Inf (not NaN): more often an overflow than a bad batch.
SUDDEN_INF_WEIGHT = 0.2
# A sudden non-finite loss while the gradients were already swelling: not out of the blue.
SWELLING_GRADIENTS_CAP = 0.2
# ... or while the data we can see is finite: an operation is the likelier source.
FINITE_DATA_CAP = 0.15
# Non-finite losses the run recovered from (finite again after each) that keep to one period:
# at least this many at equal gaps when the epoch's length is unknown (two points make a gap of
# any length; three at one gap is a period) ...
RECUR_MIN_TIMES = 3
# ... or at one position within an epoch of known length, in at least this many epochs.
RECUR_MIN_EPOCHS = 2
# The same rows fed at the same place every epoch: the data, as plainly as a loss curve shows it,
# unless an operation divides by a statistic those rows zero (the rows, checked, tell which).
RECURRING_NONFINITE_WEIGHT = 0.75
# A loss non-finite from its first point while a finite data sample at hand holds every row fed up
# to it (no negative label, inputs at unit scale): the inputs are seen clean, so this argues against the data; the
# network or an operation produced it (on the corpus, 34 of the 36 such runs were not the data).
CLEAN_FIRST_INPUTS_WEIGHT = -0.5


# DATA009. A detector's box-regression term on encoded offsets (Faster R-CNN's smooth L1 on (dx, dy, log dw,
# log dh), mmdet's loss_bbox, detectron2's loss_box_reg): its name holds one of these words
_BOX_TERM_WORDS = frozenset({"box", "bbox", "reg", "loc", "l1", "smoothl1", "rpnl1loss", "rcnnl1loss"})
# ... unless its name says it is an IoU loss: GIoU/DIoU/CIoU compare boxes decoded through exp(), which overflows
# to Inf as soon as the outputs grow (an LR too high), so its NaN says nothing of its targets
_IOU_TERM = re.compile(r"iou", re.IGNORECASE)
# a classification term of the same detector (cross-entropy over classes, objectness, RPN's fg/bg logloss;
# FPN_Tensorflow and its R2CNN kin print theirs as "rpn_cla_loss", "fast_rcnn_cla_loss")
_CLASS_TERM_WORDS = frozenset({"cls", "cla", "class", "classifier", "conf", "obj", "objectness", "ce", "logloss"})
# "reg" and "l1" also name a weight penalty (a classifier's "ce_loss ... reg_loss", "l1_loss", "l2_reg"), whose
# sum of squares overflows from large weights alone: a box term by them only beside a detector's own
# classification term, not beside a bare cross-entropy that any classifier prints
_PENALTY_WORDS = frozenset({"reg", "l1"})
_DETECTOR_CLASS_WORDS = _CLASS_TERM_WORDS - {"ce"}
# a classification cross-entropy at or under this is at a level training reaches (ln 1000 = 6.9 for a
# thousand classes at chance; 20 is a true-class probability of 2e-9: logits already far out of range)
CLASS_TERM_NORMAL_MAX = 20.0
# the box term's NaN with every classification term finite and normal: a target the encoding cannot take
# (log of a zero-width box). As plain a sign of the data as a curve gives (RECURRING_NONFINITE_WEIGHT's
# standing), and above the lean a NaN out of a normal level gives an operation (at 0.6 the two only tied):
# the one other way, the box head's outputs going non-finite alone, needs that head blown up while the
# classifier on the same features, at the same LR, is not; an LR too high takes every head together, which
# this rule does not read. Below a framework's word all the same: only anomaly detection names the operation.
BOX_TERM_NAN_WEIGHT = 0.75


# what the first non-finite value was read from, by its series' role, for the sentences that quote it
_CAUGHT_BY = {
    "loss": "loss",
    "grad_norm": "gradient norm (the logger masked the loss)",
    "val_loss": "loss (its last training value, then the validation loss)",
}


def unscaled(a: ArrayStats) -> bool:
    """Inputs far from unit scale: values past UNSCALED_ABS_MAX, or a std past UNSCALED_STD."""
    if not (math.isfinite(a.max) and math.isfinite(a.min)):
        return False
    absmax = max(abs(a.max), abs(a.min))
    return absmax > UNSCALED_ABS_MAX or (math.isfinite(a.std) and a.std > UNSCALED_STD)


_REGRESSION_LOSS = re.compile(r"mse|mae|mean_squared|mean_absolute|huber|log_cosh|l1|l2|smooth", re.IGNORECASE)


def _input_arrays(ds: DataSample) -> list[ArrayStats]:
    label = ds.labels.array if ds.labels is not None else None
    return [a for a in ds.arrays if a.name != label]


def unscaled_input(tl: Timeline) -> tuple[str, ArrayStats] | None:
    """(sample path, array) of the first input array of a data sample that is not
    normalised (``unscaled``), or None: what DATA004 reports."""
    for ds in tl.data_samples:
        for a in _input_arrays(ds):
            if unscaled(a):
                return ds.source.path, a
    return None


@rule("DATA001", "non-finite-from-the-first-step", "data_or_labels", (), needs=("loss",), shape="first_point")
def nonfinite_first_step(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss is non-finite at its very first logged step (or the
        gradient norm is, where the logger masked the NaN loss with finite
        stand-ins, as HF Trainer's logging_nan_inf_filter does), while the
        weights of the earliest checkpoint are finite (or no checkpoint says
        otherwise). A first point logged only after updates ran (an epoch's mean,
        or a step past the first) weighs less: the net may have blown up in them;
        so does one numbered by line order (a log that prints no counter), the
        first the log shows, which says nothing of the updates before it.
        When a finite data sample at hand holds every row fed up to that point
        (step x batch size rows), no negative label and no input far from unit
        scale (DATA004's check), the inputs are seen clean: the rule then argues
        against the data instead.

    Why it points to this cause:
        With finite weights, the first forward pass can only produce NaN/Inf from
        what is fed in: NaN/Inf inputs, or labels the loss cannot take (an index
        past the output layer, a negative class). No learning rate is involved
        yet — the Stack Overflow case where the loss is NaN even at LR 0. An LR
        of 0 (a warmup's first steps) says no update moved the weights, so a
        first point reached at LR 0 weighs as a first step; it says nothing of
        the forward pass itself, where a float16 overflow or a log or division
        of 0 makes NaN at LR 0 too, so it weighs no more than one. With
        the inputs fed at hand and clean, what remains is the network (a signal
        amplified through its layers from initialisation) or an operation with a
        singularity, which other rules weigh. In a run that computes in float16
        the forward pass itself overflows (past 65504) on the initial weights as
        readily, so the finding weighs little there.

    Evidence it reports:
        The first logged step and value, the state of the earliest checkpoint.

    Fix to suggest:
        Check the inputs for NaN/Inf (np.isfinite(x).all()) and the labels'
        range against the output layer before training.
    """
    nf = tl.first_nonfinite
    # the grad norm stands in for the loss only where the timeline found the loss masked
    if nf is None or nf.role not in ("loss", "grad_norm") or (nf.last_finite_step is None and tl.loss is None):
        return []
    if nf.last_finite_step is not None:
        return []
    first_ckpt = tl.checkpoints[0] if tl.checkpoints else None
    if (
        first_ckpt is not None
        and first_ckpt.nonfinite_tensors
        and first_ckpt.step is not None
        and first_ckpt.step <= nf.step
    ):
        return []
    what = (
        f"The loss is {fmt_num(nf.value)}"
        if nf.role == "loss"
        else f"The gradient norm is {fmt_num(nf.value)} (the loss logged there is the logger's stand-in)"
    )
    negative = any(ds.labels is not None and ds.labels.negative for ds in tl.data_samples)
    if clean_sample_covers(tl, nf.step) and not negative and unscaled_input(tl) is None:
        paths = ", ".join(ds.source.path for ds in tl.data_samples)
        return [
            Finding(
                None,
                f"{what} at the first logged {nf.unit} ({nf.step}), but the data sample at hand ({paths}) is finite "
                "and holds every row fed up to it: not the inputs — the network's signal or an operation produced it.",
                CLEAN_FIRST_INPUTS_WEIGHT,
                step=nf.step,
                source=nf.source,
            )
        ]
    lr0 = tl.lr_at(nf.step)
    lr_txt = " with the LR at 0" if lr0 == 0 else ""
    # a first point logged after an epoch, or at a step past the first, comes after updates: a net that
    # blew up in those updates looks the same. A point numbered by line order (no counter printed: a paste,
    # the HF Trainer's dicts) is the first the log shows, not the run's first step: updates may have run too
    after_updates = nf.unit != "step" or nf.step > 1
    if first_ckpt is None:
        w_txt = ""
    elif first_ckpt.nonfinite_tensors:
        w_txt = f"; the first checkpoint ({first_ckpt.path}) was saved after it and already holds NaN/Inf"
    else:
        w_txt = f"; weights in {first_ckpt.path} are finite"
    return [
        Finding(
            None,
            what
            + f" at the first logged {nf.unit} ({nf.step}){lr_txt}{w_txt}: "
            + (
                "only the updates before it could have blown up, or the inputs or labels produce it."
                if after_updates and lr0 != 0
                else "nothing was learned yet, so the inputs or labels produce it, or an operation of that forward "
                "pass (a float16 overflow, a log or division of 0)."
            ),
            step=nf.step,
            source=nf.source,
            weight=FIRST_STEP_FLOAT16_WEIGHT
            if tl.weight_dtype == "float16"
            else FIRST_STEP_LR0_WEIGHT
            if lr0 == 0 and (tl.weight_dtype is not None or tl.setup.configs > 0)
            else (FIRST_POINT_AFTER_UPDATES_WEIGHT if after_updates and lr0 != 0 else FIRST_STEP_WEIGHT),
            fix="Check the inputs for NaN/Inf and the labels against the output layer's range before training.",
        )
    ]


@rule(
    "DATA002", "non-finite-values-in-data-sample", "data_or_labels", ("nan_in_inputs", "inf_in_inputs"), needs=("data",)
)
def nonfinite_inputs(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A data sample (an .npz/.npy/.h5/.csv found in the run, or given with
        --data) holds NaN or Inf in its input arrays.

    Why it points to this cause:
        One NaN in a batch makes the loss NaN for that batch; the backward pass
        then writes NaN into every weight it reaches, and the run never
        recovers. It is the most common cause of a sudden NaN mid-training.

    Evidence it reports:
        The array, NaN/Inf counts, and the first rows holding them.

    Fix to suggest:
        Drop or impute those rows (np.nan_to_num, or filter with
        np.isfinite(x).all(axis=1)); assert finiteness in the input pipeline.
    """
    out = []
    for ds in tl.data_samples:
        for a in _input_arrays(ds):
            if a.nan == 0 and a.posinf + a.neginf == 0:
                continue
            detail = "nan_in_inputs" if a.nan else "inf_in_inputs"
            hint = ""
            if a.neginf and not a.posinf and not a.nan:
                hint = " Only -Inf: typically a log of 0 in preprocessing (use np.log1p or clip before the log)."
            rows = ", ".join(str(r) for r in a.nonfinite_rows[:8])
            rows_txt = f" (rows {rows}{', …' if len(a.nonfinite_rows) > 8 else ''})" if rows else ""
            out.append(
                Finding(
                    detail,
                    f"{ds.source.path}: array '{a.name}' holds {a.nan} NaN and {a.posinf + a.neginf} Inf values"
                    f"{rows_txt}.{hint}",
                    source=ds.source.path,
                    weight=NONFINITE_SAMPLE_WEIGHT,
                    fix=f"Remove or impute the non-finite rows of '{a.name}' (filter with np.isfinite(x).all(axis=1)) "
                    "and assert finiteness in the input pipeline.",
                )
            )
    return out


@rule(
    "DATA003",
    "labels-outside-the-loss-domain",
    "data_or_labels",
    ("labels_out_of_range", "negative_labels"),
    needs=("data",),
    decisive=True,
)
def labels_out_of_domain(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Integer labels in a data sample that are negative, or at or above the
        width of the model's output layer (read from the checkpoint's model
        config, a config file, or the last bias's length); without a known
        width, one label standing far above all others (8000 among 0..4).

    Why it points to this cause:
        A sparse cross-entropy indexes the output with the label: an index past
        the last class reads garbage or raises (TF on CPU, PyTorch), and on GPU
        silently yields NaN/inf. Classes coded -1/0/1 put -1 out of range.

    Evidence it reports:
        The offending label value(s), the rows, and the output width they
        exceed.

    Fix to suggest:
        Remap the labels to 0..K-1 (e.g. np.unique(y, return_inverse=True)),
        or widen the output layer to the number of classes.
    """
    out = []
    width, width_origin = tl.output_width
    loss = tl.model_loss
    if loss is not None and _REGRESSION_LOSS.search(loss):
        return []  # a regression target has no class domain
    if width == 1:
        width, width_origin = 2, f"{width_origin}: one unit, a binary classifier (labels 0/1)"
    for ds in tl.data_samples:
        lab = ds.labels
        if lab is None:
            continue
        if lab.negative > 0:
            neg = sorted(k for k in lab.classes if k < 0)
            rows = [r for r, v in lab.extreme_rows if v < 0][:5]
            row_txt = f" (rows {', '.join(map(str, rows))})" if rows else ""
            out.append(
                Finding(
                    "negative_labels",
                    f"{ds.source.path}: {lab.negative} negative label(s) in '{lab.array}', values {neg[:5]}{row_txt}; "
                    "class indices must be 0..K-1.",
                    source=ds.source.path,
                    weight=NEGATIVE_LABEL_WEIGHT,
                    fix=f"Remap the classes {sorted(lab.classes)[:6]} to 0..{len(lab.classes) - 1} "
                    "(np.unique(y, return_inverse=True)).",
                )
            )
        if width is not None and lab.max >= width:
            check = labels_out_of_range(lab, width)
            too_big = [v for v in check.values if v >= width]
            bad_rows = [(r, v) for r, v in check.rows if v >= width][:5]
            same = len({v for _, v in bad_rows}) == 1
            rows = [f"row {r}" if same else f"row {r} ({v})" for r, v in bad_rows]
            row_txt = f" at {', '.join(rows)}" if rows else ""
            n_bad = sum(lab.classes.get(k, 0) for k in too_big) or len(rows)
            out.append(
                Finding(
                    "labels_out_of_range",
                    f"{ds.source.path}: label {lab.max}{row_txt} in '{lab.array}', but the output layer has {width} "
                    f"units ({width_origin}); {n_bad} label(s) ≥ {width}.",
                    source=ds.source.path,
                    weight=LABEL_PAST_WIDTH_WEIGHT,
                    fix=label_fix(lab.max, width),
                )
            )
        elif width is None:
            distinct = sorted(k for k in lab.classes if k >= 0)
            if len(distinct) >= 2 and distinct[-1] > OUTLIER_LABEL_FACTOR * max(distinct[-2], 1):
                rows = [r for r, v in lab.extreme_rows if v == distinct[-1]][:5]
                row_txt = f" (row {', '.join(map(str, rows))})" if rows else ""
                out.append(
                    Finding(
                        "labels_out_of_range",
                        f"{ds.source.path}: label {distinct[-1]}{row_txt} in '{lab.array}' stands far above the "
                        f"others (next largest {distinct[-2]}); the output width is unknown.",
                        source=ds.source.path,
                        weight=OUTLIER_LABEL_SURE_WEIGHT
                        if distinct[-1] > OUTLIER_LABEL_SURE_FACTOR * max(distinct[-2], 1)
                        else OUTLIER_LABEL_WEIGHT,
                        fix=label_fix(distinct[-1], distinct[-2] + 1),
                    )
                )
    return out


@rule("DATA004", "unnormalised-inputs", "data_or_labels", ("unnormalized_inputs",), needs=("data",))
def unnormalised_inputs(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Floating or integer input arrays in a data sample whose values reach
        |x| > 20 or whose standard deviation exceeds 10 (raw pixels 0..255,
        unscaled physical units), in a run that diverged.

    Why it points to this cause:
        The gradient of the first layer scales with the input: inputs 255x larger
        make an LR that is fine for scaled inputs effectively 255x (or 255²x for
        the curvature) too large, and the first layer's weights blow up first.

    Evidence it reports:
        The array, its range, mean and std.

    Fix to suggest:
        Scale the inputs (x / 255.0 for pixels, or standardise to mean 0, std 1),
        or add a normalisation layer at the input.
    """
    if not tl.diverged:
        return []
    out = []
    for ds in tl.data_samples:
        for a in _input_arrays(ds):
            if unscaled(a):
                pixels = a.min >= 0 and 200 <= a.max <= 255
                fix = (
                    f"Scale '{a.name}' to [0, 1] (x / 255.0) or add a Rescaling/Normalization layer."
                    if pixels
                    else f"Standardise '{a.name}' (subtract the mean {fmt_num(a.mean)}, "
                    f"divide by the std {fmt_num(a.std)})."
                )
                out.append(
                    Finding(
                        "unnormalized_inputs",
                        f"{ds.source.path}: inputs '{a.name}' range {fmt_num(a.min)}..{fmt_num(a.max)} "
                        f"(mean {fmt_num(a.mean)}, std {fmt_num(a.std)}): not normalised"
                        + (" (raw pixel values)" if pixels else "")
                        + ".",
                        source=ds.source.path,
                        weight=UNSCALED_INPUT_WEIGHT,
                        fix=fix,
                    )
                )
                break
    return out


@rule("DATA005", "sudden-non-finite-step", "data_or_labels", ("inf_in_inputs",), needs=("loss",), shape="sudden")
def sudden_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The loss goes NaN at one step straight from its normal level: no climb
        before it (no onset), not near zero (not a saturation), not already
        huge (a last finite loss of 1e3 or more that is the only one logged, or
        10x the first: the loss had blown up on the way), the weights of
        the last checkpoint before it finite, and the gradient norm not growing.
        When the loss is finite again right after, the step is an isolated bad
        batch. A finite data sample that could hold the batch fed at that step
        (step x batch size rows) caps its weight.

    Why it points to this cause:
        Nothing in the optimisation was drifting, so the NaN came in with one
        batch: a row with NaN/Inf, or a label the loss cannot take. NaN (not
        Inf) is what a NaN input propagates; an Inf first points instead at an
        operation (overflow, log(0), x/0), which the numerical rules weigh.
        Within the data, an Inf loss names Inf inputs: a NaN row can only give
        NaN. A NaN loss names no detail: an Inf row gives NaN too as soon as
        opposite signs meet in a sum (Inf - Inf) or a zero weight meets it
        (0 x Inf), so NaN rows and Inf rows leave the same NaN loss; only the
        data (DATA002) tells them apart, and without it the fitted detail table
        gives the likelier.

    Evidence it reports:
        The step, the last finite loss and its step, whether the NaN was
        isolated, and the last finite checkpoint.

    Fix to suggest:
        Find the batch at that step (same seed and order) and check it for
        NaN/Inf and label range; add an input assertion.
    """
    nf = tl.first_nonfinite
    if nf is None or tl.loss is None or nf.last_finite_step is None or climbed_into_blowup(tl):
        return []
    if tl.loss_near_zero_before_blowup():
        return []
    if blown_up_before_nonfinite(tl):
        return []  # no normal level to leave: the loss had already exploded (EXP007's and NUM004's bar)
    ck = tl.checkpoint_before(nf.step)
    if ck is not None and ck.nonfinite_tensors:
        return []
    # the points logged right after the first non-finite one (in whichever series caught it)
    # (the grad norm where it stands in for a loss the logger masked: that loss is finite by design)
    caught = [tl.grad_norm] if nf.role == "grad_norm" and tl.grad_norm is not None else [tl.loss, *tl.other_losses]
    series = next((s for s in caught if s.source == nf.source and s.tag == nf.tag), caught[0])
    later = series.steps > nf.step
    after = series.values[later][:3]
    isolated = bool(after.size and np.all(np.isfinite(after)))
    is_nan = math.isnan(nf.value)
    # alone, a NaN out of the blue is as much an operation as a bad batch: below the
    # verdict threshold unless the batch was isolated (finite again right after)
    weight = ISOLATED_NAN_WEIGHT if isolated else (SUDDEN_NAN_WEIGHT if is_nan else SUDDEN_INF_WEIGHT)
    g = grad_norm_before_blowup(tl)
    if g is not None and g[0] > 0 and g[2] >= GRAD_LAST_RATIO * g[0]:
        weight = min(weight, SWELLING_GRADIENTS_CAP)
    if clean_sample_covers(tl, nf.step):
        weight = min(weight, FINITE_DATA_CAP)
    # a log's value placed after a record that stayed finite has no step of its own (timeline._against_the_record)
    at = f"after step {nf.step}, the last recorded point," if nf.after_record else f"at step {nf.step}"
    return [
        Finding(
            None if is_nan else "inf_in_inputs",  # NaN rows and Inf rows both give a NaN loss
            f"The {_CAUGHT_BY.get(nf.role, 'loss')} went from "
            f"{fmt_num(nf.last_finite_value)} (step {nf.last_finite_step}) straight to "
            f"{fmt_num(nf.value)} {at} with no climb before it"
            + (", and was finite again right after: one bad batch." if isolated else ".")
            + (f" Weights in {ck.path} (step {ck.step}) were finite." if ck is not None else ""),
            step=nf.step,
            source=nf.source,
            weight=weight,
            fix=f"Inspect the batch fed at step {nf.step} for NaN/Inf and out-of-range labels; "
            "assert np.isfinite(x).all() in the input pipeline.",
        )
    ]


@rule("DATA008", "non-finite-loss-recurs-each-epoch", "data_or_labels", (), needs=("loss",))
def recurring_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        The training loss is non-finite at several logged steps and finite again
        after each (the loop skipped those updates, as a NaN check or a loss
        scaler does, so the weights stayed finite), and those steps keep to one
        period: the same position within each epoch where the epoch's length is
        known (in at least 2 epochs), otherwise at least 3 of them at equal gaps.

    Why it points to this cause:
        A run that skips a non-finite step comes back to the same place: what
        made it non-finite was not the weights, which stayed finite, but what
        was fed at that step. Data fed in a fixed order brings the same rows back
        at the same position every epoch, so a bad row (NaN/Inf, or a label the
        loss cannot take) gives a non-finite loss at that period. An overflow, or
        a log of a probability the model drove to 0, depends on the model's
        state, which moves from epoch to epoch, and keeps to no period of the
        data. (An operation that divides by a statistic of the batch, such as
        its std, comes back with the rows that zero it: the rows, checked, tell
        a bad row from a missing epsilon.) With the data shuffled, the bad rows
        land elsewhere each epoch and no period shows: DATA005 weighs each NaN.

    Evidence it reports:
        The non-finite steps, the period or the position within the epoch, and
        the epoch length's origin.

    Fix to suggest:
        The rows fed at that position of the epoch hold the fault: with the same
        order, index position x batch size; check them for NaN/Inf and labels out
        of range, and filter or repair them.
    """
    s = tl.loss
    if s is None or len(s) < 3:
        return []
    order = np.argsort(s.steps, kind="stable")
    steps, values = s.steps[order], s.values[order]
    bad_idx = np.flatnonzero(~np.isfinite(values))
    # each non-finite point must be followed by a finite one: the run came back from it
    if bad_idx.size < 2 or bad_idx[-1] == values.size - 1 or not np.all(np.isfinite(values[bad_idx + 1])):
        return []
    bad = [int(steps[i]) for i in bad_idx]
    spe = tl.steps_per_epoch
    if spe and s.unit == "step":
        positions = {b % spe for b in bad}
        epochs = {b // spe for b in bad}
        if len(positions) != 1 or len(epochs) < RECUR_MIN_EPOCHS:
            return []
        how = (
            f"at position {positions.pop()} of the {spe}-step epoch ({tl.steps_per_epoch_origin}) in {len(epochs)} "
            "epochs"
        )
    else:
        gaps = set(np.diff(bad).tolist())
        if len(bad) < RECUR_MIN_TIMES or len(gaps) != 1 or next(iter(gaps)) < 2:
            return []
        how = f"every {gaps.pop()} {s.unit}s, a period of the data (an epoch's length)"
    shown = ", ".join(str(b) for b in bad[:6]) + (", ..." if len(bad) > 6 else "")
    return [
        Finding(
            None,
            f"The loss was non-finite at {s.unit}s {shown} and finite again after each, {how}: the same rows "
            "come back at the same place, and the weights, which stayed finite, are not what makes it.",
            RECURRING_NONFINITE_WEIGHT,
            step=bad[0],
            source=s.source,
            fix=f"Replay the batches fed at {s.unit}s {shown} (same order): check their rows for NaN/Inf and "
            "out-of-range labels, and filter or repair them.",
        )
    ]


def _term_words(tag: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", tag.lower()) if w} | {tag.lower()}


@rule("DATA009", "box-term-non-finite-beside-finite-class-terms", "data_or_labels", (), needs=("loss",))
def box_term_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        At the step where a detector's loss first went non-finite, a
        box-regression term printed beside it (``rpn_box``, ``loss_bbox``,
        ``loss_box_reg``, ``RPNL1Loss``; not an IoU loss) is non-finite while
        every classification term printed at that step (``rpn_cls``,
        ``loss_cls``, objectness) is finite and at a level training reaches
        (CLASS_TERM_NORMAL_MAX). A term named only by "reg" or "l1" counts
        as a box term beside a detector's own classification term (cls,
        objectness...), not beside a bare cross-entropy: there it is a weight
        penalty, whose sum of squares overflows from large weights alone.

    Why it points to this cause:
        The heads share one backbone: weights or activations that blew up (an
        LR too high, exploding gradients) make every head's outputs non-finite,
        the classification logits with the box offsets, and an overflow in the
        shared features does the same. A box term that alone goes NaN while the
        classifier on the same features stays at a normal loss went non-finite
        in its own computation, which beside the predictions takes only the
        targets: the offsets are encoded as (dx/w, dy/h, log(w_gt/w), log(h_gt/h)),
        so a ground-truth box of zero width or height (x2 == x1, a box flipped or
        cut to nothing by a crop), or a NaN coordinate in the annotations, makes
        its target -Inf or NaN. IoU losses are left out: they compare boxes
        decoded through exp(), which overflows from the outputs alone.

    Evidence it reports:
        The step, the box term(s) non-finite and the classification terms with
        their values there.

    Fix to suggest:
        Filter the annotations: drop boxes with x2 <= x1 or y2 <= y1 (after any
        resize or crop) and boxes with NaN coordinates, and check images whose
        boxes all fall outside the crop.
    """
    nf = tl.first_nonfinite
    if nf is None or nf.role != "loss" or tl.loss is None:
        return []
    box: list[tuple[str, bool]] = []  # (tag, named only by a word that may name a weight penalty)
    classes: list[tuple[str, float]] = []
    for t in tl.other_losses:
        if t.unit != tl.loss.unit or t.source != tl.loss.source:
            continue
        at = t.values[t.steps == nf.step]
        if not at.size:
            continue
        value = float(at[0])
        words = _term_words(t.tag)
        if words & _CLASS_TERM_WORDS:
            classes.append((t.tag, value))
        elif words & _BOX_TERM_WORDS and not _IOU_TERM.search(t.tag) and not math.isfinite(value):
            box.append((t.tag, not (words & _BOX_TERM_WORDS) - _PENALTY_WORDS))
    detector = any(_term_words(name) & _DETECTOR_CLASS_WORDS for name, _ in classes)
    box_tags = [tag for tag, penalty_word in box if detector or not penalty_word]
    if not box_tags or not classes:
        return []
    if not all(math.isfinite(v) and abs(v) <= CLASS_TERM_NORMAL_MAX for _, v in classes):
        return []
    shown = ", ".join(f"{name} {fmt_num(v)}" for name, v in classes)
    return [
        Finding(
            None,
            f"At step {nf.step} the box term {', '.join(box_tags)} went non-finite while the classification term(s) "
            f"on the same features stayed at a normal level ({shown}): the weights did not blow up (every head "
            "would be non-finite), the box targets did: a ground-truth box of zero width or height, or a NaN "
            "coordinate, makes the encoded offset log(0) or NaN.",
            BOX_TERM_NAN_WEIGHT,
            step=nf.step,
            source=nf.source,
            fix="Check the annotations fed around that step: drop boxes with x2 <= x1 or y2 <= y1 (after resizing "
            "and cropping) and boxes with NaN coordinates.",
        )
    ]


# A cross-entropy is -sum(t * log p) over targets t in [0, 1] and probabilities p in (0, 1]: never below zero. A
# float32 mean near zero rounds to a few 1e-7 below it at worst; past this margin below zero the value is no rounding.
NEGATIVE_CE_MARGIN = 0.01
# A cross-entropy below zero is impossible with targets in [0, 1]: the value proves the targets out of range as a
# framework's own label check would (rules/framework.py's NAMED_FAULT_WEIGHT), once the name says cross-entropy.
NEGATIVE_CE_WEIGHT = 0.9
# Words that name a cross-entropy in a loss's tag (its words split at non-alphanumerics): PyTorch's BCELoss and
# CrossEntropyLoss as projects name them, Keras's binary_crossentropy, Caffe's SoftmaxWithLoss top 'softmax_loss'.
_CE_WORDS = frozenset({"bce", "ce", "xent", "crossentropy", "softmax", "bcewithlogits", "bceloss", "celoss"})
# Words that say the series is not a cross-entropy alone: a sum or combination of terms (Dice + BCE, a total), a
# likelihood or KL term (negative by design for densities), a GAN's terms (a generator's loss may be negative).
_NOT_CE_ALONE_WORDS = frozenset(
    {
        "dice",
        "jaccard",
        "iou",
        "lovasz",
        "kl",
        "kld",
        "nll",
        "elbo",
        "lik",
        "likelihood",
        "logp",
        "adv",
        "gan",
        "gen",
        "disc",
        "g",
        "d",
        "total",
        "sum",
        "combined",
        "all",
        "plus",
        "reg",
        "l1",
        "l2",
        "mse",
    }
)


def _names_cross_entropy(tag: str) -> bool:
    words = _term_words(tag)
    ce = bool(words & _CE_WORDS) or {"cross", "entropy"} <= words
    return ce and not (words & _NOT_CE_ALONE_WORDS)


# A loss trained beside a classification score may still be one built from a score bounded by 1 (-Dice, -IoU,
# -cosine similarity as SimSiam's, a cross-entropy minus a Dice): at or above -1. Only a term without a floor (a
# cross-entropy whose targets left [0, 1]) goes below it.
BOUNDED_SCORE_LOSS_FLOOR = -1.0
# Below the name's weight, for here the kind of loss is read from the score printed beside it; decisive all the same
# (diagnose.DECISIVE_WEIGHT): past -1 only a loss negative by design goes, and the words below keep those out.
NEGATIVE_SCORED_LOSS_WEIGHT = 0.85
# ... and a loss known as a classifier's by its score only is driven down once past the floor: with targets out of
# range its term has no floor, so each update makes it more negative. One that never went lower than where it crossed
# the floor, over at least this many points below it, and ended above that point was never driven down: training made
# it worse from the start, which an objective negative by design does under a plain name (a REINFORCE loss
# -reward * log p rising as the rewards fall, a sum printed per epoch), not a cross-entropy without its floor (a run
# that went lower after crossing is still one, whatever its last points do).
NEGATIVE_RISING_POINTS = 3
# Words of a loss's name that say it may be negative by design though the run scores a classification: besides the
# sums and the likelihood, GAN and KL terms above, an RL agent's policy, value and entropy terms, a critic's, an
# energy's, a flow's log-determinant, a boundary (distance-map) loss, a maximised objective or score.
_NEGATIVE_BY_DESIGN_WORDS = _NOT_CE_ALONE_WORDS | frozenset(
    {
        "policy",
        "pg",
        "actor",
        "critic",
        "value",
        "entropy",
        "reward",
        "q",
        "w",
        "wasserstein",
        "energy",
        "flow",
        "logdet",
        "boundary",
        "surface",
        "obj",
        "objective",
        "score",
    }
)


# Words of a term's name that say the print holds a GAN's players (Keras-GAN's '[D loss: .., acc.: ..%] [G loss: ..]'
# scores its discriminator's accuracy beside a generator's loss, which a Wasserstein critic makes negative).
_GAN_PLAYER_WORDS = frozenset({"d", "disc", "discriminator", "critic", "g", "gen", "generator", "adv", "gan"})


def _stood_still(values: np.ndarray) -> bool:
    """Did the loss sit on one printed value over its last ``FROZEN_POINTS`` points (counted in the logger's holds,
    as the timeline's frozen loss is)? A net driven to its output's clip (Keras clips probabilities at 1e-7, PyTorch's
    BCELoss its logs at -100) has no gradient left: the loss stays there, no longer driven down."""
    v = values[np.isfinite(values)]
    if v.size < FROZEN_POINTS:
        return False
    differ = np.nonzero(v != v[-1])[0]
    start = int(differ[-1]) + 1 if differ.size else 0
    return v.size - start >= FROZEN_POINTS * (print_hold(v[:start]) if start else 1)


def _rising_toward_zero(values: np.ndarray, bound: float) -> bool:
    """Did the finite points below ``bound`` (in step order, at least NEGATIVE_RISING_POINTS, the last of them the
    record's last) never go lower than the first of them, and end above it: a negative loss that training made worse
    from where it crossed the floor, never driven down without one."""
    v = values[np.isfinite(values)]
    idx = np.nonzero(v < bound)[0]
    if idx.size < NEGATIVE_RISING_POINTS or idx[-1] != v.size - 1:
        return False
    below = v[idx]
    return bool(below[1:].min() >= below[0] and below[-1] > below[0])


def _classification_loss_by_score(tl: Timeline, s: Series) -> bool:
    """Is ``s`` (the training or validation loss) a classification loss by the score its source printed beside it,
    and nothing in its name or its printed terms says it may be negative by design."""
    if not tl.loss_scored_by:
        return False
    words = _term_words(s.tag)
    if not words & {"loss", "cost"} or words & _NEGATIVE_BY_DESIGN_WORDS:
        return False
    for t in tl.other_losses:
        if t.source != s.source:
            continue
        if _term_words(t.tag) & _GAN_PLAYER_WORDS:
            return False  # a GAN's players printed together: the loss is a generator's or a critic's, no classifier's
        if not _names_cross_entropy(t.tag) and bool(np.any(np.isfinite(t.values) & (t.values < -NEGATIVE_CE_MARGIN))):
            return False  # a term below zero that no name calls a cross-entropy: the sum may be negative by it
    return True


@rule(
    "DATA010",
    "cross-entropy-below-zero",
    "data_or_labels",
    ("labels_out_of_range",),
    needs=("loss",),
    decisive=True,
)
def negative_cross_entropy(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A loss series whose name says it is a binary or categorical
        cross-entropy alone (``bce``, ``ce``, ``xent``, ``cross_entropy``,
        ``softmax_loss``; not a sum with a Dice, KL or likelihood term, not a
        GAN's or a total) falling below zero by more than NEGATIVE_CE_MARGIN.
        Or the training (or validation) loss of a classifier known by the
        score its trainer printed beside it (accuracy, top-1, precision,
        recall, F1, AUC, Dice, IoU; not a reward's "accuracy"), whatever the
        loss is named, falling below BOUNDED_SCORE_LOSS_FLOOR: unless its name
        says it may be negative by design (a policy's, a critic's, an
        entropy, a likelihood or an objective, a GAN's, a total), the same
        print holds a GAN's players, a term printed with it that no name
        calls a cross-entropy is itself below zero, or over at least
        NEGATIVE_RISING_POINTS points below the floor it never went lower than
        where it crossed and ended above it (training made it worse from the
        start, never driving it down without a floor).

    Why it points to this cause:
        A cross-entropy is -sum(t * log p) with probabilities p in (0, 1], so
        -log p >= 0; with targets t in [0, 1] (probabilities, one-hot rows,
        binary masks) every term is >= 0 and so is the loss. It goes negative
        only when targets leave [0, 1]: masks saved as 0..255 (BCELoss on
        them runs to large negative values as the model learns to output 1),
        class indices such as 0/1/2 fed to a binary cross-entropy, or
        negative entries in soft labels.
        Losses that may be negative by design (log-likelihoods of densities,
        KL terms, Dice + CE combinations, GAN generator losses) are left out
        by their names. A classifier trains on a cross-entropy, focal or
        hinge loss, all at or above zero, or on one built from a score
        bounded by 1 (-Dice, -IoU, -cosine, a cross-entropy minus a Dice), at
        or above -1: a classifier's loss below -1 has lost its floor, so the
        optimiser drives it (and the logits) down without bound, which is a
        divergence though nothing goes non-finite (the report says the run
        diverged), unless the loss stood on one value over its last
        FROZEN_POINTS points: the net sat at its output's clip, where the
        gradient is gone, and went no further. Left possible: a loss
        negative by design under a plain name beside a classification score
        (a Poisson loss on counts, a boundary loss on distance maps, a
        mutual-information clustering loss such as IIC's, near -ln K, a
        multi-task sum with learned uncertainty weights); the record alone
        does not tell those from the fault (the real cases are one point at
        -8, and a record flat at BCE's clamp), so this reading stays.

    Evidence it reports:
        The series, what says it is a cross-entropy (its name, or the score
        printed beside it), the step of its first value past the bound, and
        its lowest value.

    Fix to suggest:
        Check the targets' range: scale masks to {0, 1} (mask / 255, or > 0),
        give BCE probabilities in [0, 1] and CE class indices or one-hot rows.
    """
    out = []
    for s in (tl.loss, *tl.other_losses, tl.val_loss):
        if s is None or not len(s):
            continue
        if _names_cross_entropy(s.tag):
            bound, weight, by_score = -NEGATIVE_CE_MARGIN, NEGATIVE_CE_WEIGHT, False
            kind, floor = "a cross-entropy by its name", "a cross-entropy cannot go below zero"
        elif (s is tl.loss or s is tl.val_loss) and _classification_loss_by_score(tl, s):
            scores = ", ".join(repr(t) for t in tl.loss_scored_by[:2])
            bound, weight, by_score = BOUNDED_SCORE_LOSS_FLOOR - NEGATIVE_CE_MARGIN, NEGATIVE_SCORED_LOSS_WEIGHT, True
            kind = f"the loss of a classifier by the score printed beside it ({scores})"
            floor = (
                "a classifier's loss (a cross-entropy, focal or hinge loss) cannot go below zero, nor one built "
                "from a score bounded by 1 (-Dice, -IoU) below -1,"
            )
        else:
            continue
        finite = np.isfinite(s.values)
        below = finite & (s.values < bound)
        if not below.any():
            continue
        if by_score and _rising_toward_zero(s.in_step_order[1], bound):
            continue
        first = int(np.argmax(below))
        lowest = float(s.values[finite].min())
        # driven down without bound, a divergence with nothing non-finite; a loss that stopped at one value sat at
        # its output's clip instead: the targets are out of range all the same, but it went no further
        still = _stood_still(s.in_step_order[1])
        end = (
            f"the net sat at its output's clip, where the loss stopped ({fmt_num(float(s.in_step_order[1][-1]))})"
            if still
            else "training drives it down without bound"
        )
        out.append(
            Finding(
                "labels_out_of_range",
                f"{s.source}: {s.tag!r}, {kind}, is {fmt_num(float(s.values[first]))} at "
                f"{s.unit} {int(s.steps[first])} (lowest {fmt_num(lowest)}): {floor} with targets in [0, 1], so "
                "the targets are outside it (masks saved as 0..255, labels that are not probabilities or one-hot "
                f"rows), and the loss has no floor left: {end}.",
                weight,
                step=int(s.steps[first]),
                source=s.source,
                fix="Scale the targets into [0, 1] (a mask / 255, or mask > 0) and check that one-hot or soft "
                "labels are probabilities; class indices belong to CrossEntropyLoss, not BCELoss.",
                diverges=not still,
            )
        )
    return out[:1]
