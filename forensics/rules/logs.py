"""Rules reading what the framework itself said in the job log."""

from __future__ import annotations

from forensics.rules.base import CAUSES, DETAILS, Evidence, rule
from forensics.timeline import Timeline

# What to do about each framework message, by the detail it names.
_FIXES = {
    "labels_out_of_range": "Fix the labels: every class index must lie in 0..K-1 for an output layer of K units "
    "(or widen the output layer).",
    "negative_labels": "Remap the classes to 0..K-1 (np.unique(y, return_inverse=True)); -1 is not a class index.",
    "log_of_zero": "Compute the loss from logits, or add eps=1e-7 inside the log (log(clip(p, 1e-7, 1))).",
    "division_by_zero": "Add an epsilon to the denominator the anomaly names (x / (d + 1e-5)).",
    "fp16_overflow": "Keep the loss and softmax in float32, lower the LR, or use bfloat16; the loss scale "
    "cannot go lower.",
    "nan_in_inputs": "Check the input pipeline for NaN rows.",
    "inf_in_inputs": "Check the input pipeline for Inf values.",
}


@rule(
    "LOG001",
    "framework-error-with-known-meaning",
    "data_or_labels",
    ("labels_out_of_range", "negative_labels", "log_of_zero", "division_by_zero", "fp16_overflow"),
    needs=("job_log",),
)
def framework_error(tl: Timeline) -> list[Evidence]:
    """
    What it detects:
        A message in the job log that the framework prints for one specific
        fault: TensorFlow's "Received a label value of N which is outside the
        valid range of [0, K)", PyTorch's "Target N is out of bounds" or the
        CUDA assert "t >= 0 && t < n_classes", anomaly mode's
        "Function 'LogBackward0' returned nan values" (log of zero) or
        'DivBackward0' (division by zero), DeepSpeed/AMP's "loss scale already
        at minimum" (fp16 overflow), check_numerics naming a tensor.

    Why it points to this cause:
        The framework checked the fault itself and named it; no inference from
        curves can be stronger. The cause follows the message (labels → data,
        backward NaN → numerical instability).

    Evidence it reports:
        The log line, its number, the values it names (label, classes), the
        step where it can be told, and the traceback's last frames.

    Fix to suggest:
        The fix for the named fault, with its numbers (the label and the output
        width).
    """
    out = []
    for path, e in tl.log_events:
        if e.cause is None or e.cause not in CAUSES or e.cause in ("healthy", "inconclusive"):
            continue
        detail = e.detail if e.detail in DETAILS else None
        vals = e.values or {}
        fix = _FIXES.get(detail or "")
        if detail == "labels_out_of_range" and "label" in vals and "classes" in vals:
            from forensics.rules.data import _label_fix

            fix = _label_fix(int(vals["label"]), int(vals["classes"]))
        out.append(
            Evidence(
                "LOG001",
                e.cause,
                detail,
                f"{path} line {e.line}: {e.message}",
                step=e.step,
                source=path,
                weight=0.9 if detail else 0.6,
                fix=fix,
            )
        )
    return out


@rule("LOG002", "out-of-memory-is-not-divergence", "healthy", (), needs=("job_log",))
def out_of_memory(tl: Timeline) -> list[Evidence]:
    """
    What it detects:
        An out-of-memory error in the job log ("CUDA out of memory",
        "OOM when allocating", ResourceExhaustedError) in a run whose loss
        never went non-finite.

    Why it points to this cause:
        The job died, but not of divergence: the model or batch did not fit.
        Reporting it as a NaN post-mortem would send the engineer the wrong way.

    Evidence it reports:
        The log line and step.

    Fix to suggest:
        Lower the batch size, enable gradient checkpointing or mixed precision.
    """
    if tl.diverged:
        return []
    return [
        Evidence(
            "LOG002",
            "healthy",
            None,
            f"{path} line {e.line}: the job ran out of memory ({e.message[:120]}); this is not a divergence.",
            step=e.step,
            source=path,
            weight=0.3,
            fix="Lower the batch size, or use gradient checkpointing / mixed precision to fit in memory.",
        )
        for path, e in tl.log_events
        if e.kind == "oom"
    ][:1]
