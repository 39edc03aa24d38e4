"""What a framework message means: the table from message family to cause, detail and fix.

The log reader (``forensics/readers/logs.py``) turns each message it recognises into
a :class:`~forensics.records.LogEvent`: a *family* (``kind``) and what the message
names (``label``, ``classes``, ``op``, ``framework``, extras in ``values``). It never
says what that means. This module does, in one table, :data:`FAMILIES`:

    family -> Family(cause, detail(event), fix(event), doc)

API, for rules and for whoever adds a family:

- :func:`meaning` ``(event) -> Meaning | None``: the cause, detail and fix this one
  observation stands for, or ``None`` when the family is not evidence for a cause on
  its own (a transient loss-scale skip, a NaN guard, a bare exception). The LOG rules
  (``forensics/rules/framework.py``) turn meanings into evidence.
- To add a family: recognise the message in ``readers/logmessages.py`` (an entry of
  ``CATALOGUE``; its name in ``EVENT_KINDS``), then add its row here with a one-line ``doc``;
  ``docs/rules.md`` lists every row (regenerate it), and a test checks that every
  family the reader can emit has a row.

Details that depend on what the message names are decided here, not by the reader:
a negative label is ``negative_labels``, a NaN from a log op is ``log_of_zero``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from forensics.records import LogEvent
from forensics.timeline import box_target_nonfinite

# log(0) and x/0, by the name of the op that produced the non-finite value: TensorFlow's ("RealDiv") and PyTorch's
# backward functions ("LogBackward0") in CamelCase, as before; PaddlePaddle's ("elementwise_div", "divide_grad") and
# JAX's ("log", "div") in snake_case, matched whole, as their lower-case names prefix other things ("logistic" is a
# sigmoid, "logits" an output).
_LOG_OPS = ("Log", "Log1p", "Log2", "Log10", "Xlogy", "Xlog1py")
_DIV_OPS = ("Div", "RealDiv", "Reciprocal", "Inv", "Xdivy", "FloorDiv", "TruncateDiv", "DivNoNan")
_SNAKE_LOG_OPS = frozenset({"log", "log1p", "log2", "log10", "xlogy", "xlog1py", "logit", "logsumexp"})
_SNAKE_DIV_OPS = frozenset({"div", "divide", "true_divide", "floor_divide", "elementwise_div", "reciprocal"})


def detail_for_op(op: str | None) -> str | None:
    """``log_of_zero`` or ``division_by_zero`` for an op that takes a log or divides, else None."""
    if not op:
        return None
    if op[:1].islower():
        base = op.removesuffix("_grad")
        return "log_of_zero" if base in _SNAKE_LOG_OPS else "division_by_zero" if base in _SNAKE_DIV_OPS else None
    base = re.sub(r"Backward\d*$", "", op)
    not_log = base.startswith(("LogSoftmax", "Logical")) or base == "LogSigmoid"
    if base in _LOG_OPS or (base.startswith("Log") and not not_log):
        return "log_of_zero"
    if base in _DIV_OPS or base.startswith("Div"):
        return "division_by_zero"
    return None


def label_fix(label: int, width: int) -> str:
    """The fix for a label at or past an output layer of ``width`` units, with the run's numbers."""
    if label < 2 * width:
        return (
            f"Labels must lie in 0..{width - 1}: fix or drop the rows with label ≥ {width}, or, if there really "
            f"are {label + 1} classes, widen the output layer to {label + 1} units."
        )
    return (
        f"Label {label} is no class index for {width} outputs (a raw code or a corrupt row): map the labels to "
        f"0..{width - 1} (np.unique(y, return_inverse=True)) or drop those rows."
    )


CTC_EMPTY_FIX = (
    "Drop the samples whose transcript is empty (an empty string, or every symbol filtered out by the vocabulary): "
    "CTC needs at least one label per sample."
)
CTC_TOO_LONG_FIX = (
    "Drop or shorten the samples whose label is longer than their output frames (input frames over the time "
    "downsampling), or downsample less; ignore_longer_outputs_than_inputs=True makes TensorFlow skip them."
)


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one observed message stands for."""

    cause: str
    detail: str | None
    fix: str | None


@dataclass(frozen=True, slots=True)
class Family:
    """One row of the table: what every message of a family means."""

    cause: str | None  # None: not evidence for a cause on its own
    detail: Callable[[LogEvent], str | None]
    fix: Callable[[LogEvent], str | None]
    doc: str  # one line for docs/rules.md: why the message means this


def _none(_: LogEvent) -> None:
    return None


def _fixed(text: str | None) -> Callable[[LogEvent], str | None]:
    return lambda _: text


def _label_detail(e: LogEvent) -> str | None:
    """The side of the range the label fell on, where the message prints the label or the check has one
    side; None for a two-sided check that prints neither (the CUDA ``t >= 0 && t < n_classes`` assertion:
    a -1 fails it as a label past the last class does), left to other evidence (the labels of a data
    sample) to tell."""
    if e.label is not None:
        return "negative_labels" if e.label < 0 else "labels_out_of_range"
    if e.values.get("side") == "negative":  # a check that names the side it failed on, not the label
        return "negative_labels"
    return None if e.values.get("assertion") else "labels_out_of_range"


TWO_SIDED_NOTE = (
    " (the assertion checks both sides, t >= 0 and t < n_classes, and prints neither the label nor the side: a "
    "negative label, such as -1 for 'ignore', fails it as one past the last class does)"
)


def _label_event_fix(e: LogEvent) -> str:
    if _label_detail(e) is None:
        return (
            "Check the labels' minimum and maximum against the output layer's K classes: every class index must lie "
            "in 0..K-1 (remap -1 or other negative ids, or widen the output layer; ignore_index for the ignored "
            "ones)."
        )
    if _label_detail(e) == "negative_labels":
        return "Remap the classes to 0..K-1 (np.unique(y, return_inverse=True)); -1 is not a class index."
    if e.label is not None and e.classes is not None:
        return label_fix(e.label, e.classes)
    return (
        "Fix the labels: every class index must lie in 0..K-1 for an output layer of K units "
        "(or widen the output layer)."
    )


def _op_fix(e: LogEvent) -> str | None:
    return {
        "log_of_zero": "Compute the loss from logits, or add eps=1e-7 inside the log (log(clip(p, 1e-7, 1))).",
        "division_by_zero": "Add an epsilon to the denominator the anomaly names (x / (d + 1e-5)).",
    }.get(detail_for_op(e.op) or "")


FAMILIES: dict[str, Family] = {
    "label_out_of_range": Family(
        "data_or_labels",
        _label_detail,
        _label_event_fix,
        "The loss checked the label against the output width and refused it (TensorFlow's sparse "
        "cross-entropy, PyTorch's nll/cross-entropy target check, CUDA's n_classes assert; "
        "YOLOv3/YOLOv5's check of the largest class id against nc before training); "
        "a negative label is `negative_labels`, any other `labels_out_of_range`; CUDA's two-sided assertion prints "
        "no label, so other evidence (a data sample's labels) tells which.",
    ),
    "nonfinite_input": Family(
        "data_or_labels",
        _fixed("nan_in_inputs"),
        _fixed(
            "Load the samples the message names and find the NaN in their features or transcripts (a silent or "
            "corrupt file normalised by a zero variance, a feature extractor's log of 0): fix or drop them, and "
            "check the whole list the same way before training."
        ),
        "The trainer checked the batch before the forward pass and found NaN in its inputs or targets (flashlight's "
        "'Sample has NaN values - <ids>'): the data holds it, whatever the model does; the step's loss would be NaN.",
    ),
    "cuda_device_assert": Family(
        "data_or_labels",
        _fixed("labels_out_of_range"),
        _label_event_fix,
        "CUDA's device-side assert is most often a class index past the output layer; the message "
        "alone does not say so for certain.",
    ),
    "ctc_invalid_label": Family(
        "data_or_labels",
        _none,
        lambda e: CTC_EMPTY_FIX if e.values.get("what") == "empty" else CTC_TOO_LONG_FIX,
        "TensorFlow's CTC loss refused a sample's label before computing anything ('Labels length is zero in batch "
        "N': an empty transcript; 'Not enough time for target transition sequence': a label longer than the "
        "sample's frames) and the op failed: a data fault named by the framework, the job crashes, no divergence.",
    ),
    "ctc_no_valid_path": Family(
        "data_or_labels",
        _none,
        _fixed(
            "Find the samples whose label is longer than the model's output frames (input frames over the time "
            "downsampling; a repeated symbol needs a blank between, one frame more) or empty: drop or shorten them, "
            "or downsample less; ignore_longer_outputs_than_inputs=True makes TensorFlow skip the too-long ones. "
            "An occasional warning in a run whose loss stays finite is harmless."
        ),
        "A CTC loss found no alignment of a sample's label to its frames with non-zero probability (a label "
        "too long for the frames after the time downsampling, repeats needing blanks, an empty or mismatched "
        "target) and gave that sample an infinite loss (TensorFlow's 'No valid path found.'): beside a loss that "
        "goes inf or NaN, that sample is what made it (data_or_labels); in a run whose loss stays finite after it, "
        "an occasional unalignable sample (LOG005 calls it healthy). ESPnet2's and FunASR's CTC drops such a sample "
        "before the loss ('N/M samples got nan grad. These were ignored'): it names no cause, and LOG005 counts it "
        "where the loss stays finite after it.",
    ),
    "index_out_of_range": Family(
        "data_or_labels",
        _none,
        _none,
        "An embedding or gather index outside its table: token ids beyond the vocabulary, a data fault.",
    ),
    "untrained_tokens": Family(
        "data_or_labels",
        _none,
        _fixed(
            "Format the data with the model's own chat template (the instruct model's, or the one its card names) "
            "and drop reserved or special tokens it never saw; or train the embedding and the LM head too "
            "(target_modules with embed_tokens and lm_head)."
        ),
        "Unsloth found, before training, tokens in the data whose rows of the embedding and the LM head were never "
        "trained (a base model's chat-template or reserved tokens), with those layers frozen ('Untrained tokens ... "
        "found, but embed_tokens & lm_head not trainable, causing NaNs'): the data asks the model for tokens it "
        "cannot represent, a data fault the check stopped before any step.",
    ),
    "nonfinite_gradient": Family(
        "numerical_instability",
        lambda e: detail_for_op(e.op),
        _op_fix,
        "Anomaly mode names the backward function that first returned NaN/Inf: a log op is "
        "`log_of_zero`, a division `division_by_zero`, any other op no detail.",
    ),
    "nonfinite_tensor": Family(
        "numerical_instability",
        lambda e: detail_for_op(e.op),
        _op_fix,
        "check_numerics names the op whose output went non-finite; it is evidence only when that op "
        "takes a log (`log_of_zero`) or divides (`division_by_zero`): a NaN in a named tensor alone "
        "does not say why.",
    ),
    "loss_scale_minimum": Family(
        "numerical_instability",
        _fixed("fp16_overflow"),
        _fixed("Keep the loss and softmax in float32, lower the LR, or use bfloat16; the loss scale cannot go lower."),
        "The dynamic loss scale could go no lower and fp16 still overflowed: a real fp16 overflow, "
        "not the transient skips every fp16 run has.",
    ),
    "loss_scale_overflow_transient": Family(
        None, _none, _none, "One skipped step per overflow is how dynamic loss scaling works: normal in small numbers."
    ),
    "nonfinite_step_skipped": Family(
        None,
        _none,
        _none,
        "The trainer's own guard threw away a step whose loss or gradient was NaN (or out of range) and went "
        "on: a skipped step, not a divergence (ESPnet, neuralhydrology).",
    ),
    "nan_loss": Family(None, _none, _none, "A NaN guard stopped the run: it says that it diverged, not why."),
    "nan_loss_terminated": Family(
        None, _none, _none, "Keras TerminateOnNaN stopped the run: it says when it diverged, not why."
    ),
    "oom": Family(None, _none, _none, "Out of memory is not a divergence (rule LOG002 says so in the report)."),
    "distributed_failure": Family(
        None,
        _none,
        _none,
        "An NCCL error or a collective that timed out (a rank died or hung): the job stopped, not of a "
        "divergence (rule LOG004 says so in the report).",
    ),
    "worker_died": Family(
        None,
        _none,
        _none,
        "A PyTorch DataLoader worker process died (a signal: SIGKILL from the host's OOM killer as a rule, a bus "
        "error when /dev/shm is full, a crash in the data code): the job stopped, not of a divergence (rule LOG006 "
        "says so in the report).",
    ),
    "write_failed": Family(
        None,
        _none,
        _none,
        "The job could not write a file, a checkpoint as a rule: the disk or the quota was full (the OS's 'No space "
        "left on device', which TensorFlow raises as ResourceExhaustedError; torch.save's writer stopped short, "
        "'file write failed' or 'unexpected pos'; NumPy's 'N requested and M written'), /dev/shm was full "
        "(PyTorch's shared memory for a DataLoader batch), or the file could not be opened: the job stopped, not of "
        "a divergence (rule LOG007 says so in the report).",
    ),
    "cuda_fault": Family(
        None,
        _none,
        _none,
        "A CUDA kernel faulted on the device (an illegal memory access, a misaligned address, an illegal "
        "instruction, an unspecified launch failure): a bug in a kernel (cuDNN, a custom op), an index past a tensor "
        "in a kernel that does not check it, or the GPU itself, and no training number. PyTorch's own indexing "
        "kernels check their indices and say 'device-side assert triggered' instead (cuda_device_assert, the "
        "data); a NaN reaching an index computed from floats can fault too, but then the loss went NaN first. "
        "The job stopped, not of a divergence (rule LOG008 says so in the report).",
    ),
    "nonfinite_grad_norm": Family(
        None,
        _none,
        _none,
        "PyTorch's clip_grad_norm_ warned that the gradients' total norm was NaN or Inf and went on (its "
        "FutureWarning, once per call site): under a GradScaler, which unscales before clipping, that step is then "
        "skipped and training goes on; without one the update is NaN and the next loss is too. A weak sign: the "
        "loss logged after it decides whether the run diverged.",
    ),
    "job_finished": Family(None, _none, _none, "The trainer said training completed: how the job ended, no cause."),
    "early_stopping": Family(
        None, _none, _none, "An early-stopping callback ended training on a metric that stopped improving: no cause."
    ),
    "mixed_precision": Family(
        None,
        _none,
        _none,
        "The trainer said which precision it computes in (16-bit mixed precision, or AMP turned off after its "
        "start-up check, float32): how the run computes, not a fault (NUM005 weighs float16 when the loss goes "
        "non-finite without a climb).",
    ),
    "nonfinite_logged": Family(
        None,
        _none,
        _none,
        "A metrics logger warned that a value it was given held NaN or Inf (tensorboardX's check on every "
        "scalar, histogram and image it writes): some logged value went non-finite, and the written curve holds "
        "that point or a gap where it was dropped. A sign of divergence, not proof: it does not say which value "
        "(a weight histogram, an accuracy of an empty batch) nor that the loss followed.",
    ),
    "nonfinite_values": Family(
        None,
        _none,
        _none,
        "The log reader's own finding, no framework's word: a row of values the log names no loss among (a counter "
        "and unnamed columns, or values named only by their split) printed NaN or Inf in every value, and none of "
        "its columns printed a finite one after it. One non-finite value may be a metric with nothing to measure; "
        "every value at once is the model's numbers: the run diverged there, and nothing says which quantity went "
        "first nor why.",
    ),
    "job_killed": Family(
        None,
        _none,
        _none,
        "The scheduler's time limit or a signal (Ctrl+C's KeyboardInterrupt, torchrun's SIGTERM) ended the job: "
        "it was killed, which says nothing of divergence; the loss curve decides.",
    ),
    "native_crash": Family(
        None,
        _none,
        _none,
        "The process died of a signal or an abort and said so in its own words, no Python exception: glibc's heap "
        "checks, the shell naming the signal, C++'s terminate, faulthandler, an uncaught Lua error. The job crashed, "
        "and the words say only how it died: a heap corrupted by NaN weights and a plain bug print the same. A loss "
        "that went non-finite before it keeps the divergence; without one the run is not shown to have diverged.",
    ),
    "numpy_fp_warning": Family(
        None,
        _none,
        _none,
        "NumPy warned of a floating-point fault in one of its operations (divide by zero, overflow, invalid "
        "value: a NaN made, as by the log or square root of a negative number), naming the operation. NumPy runs "
        "on the host, outside the framework's graph: the data pipeline, target encoding (a box of non-positive "
        "size gives 'invalid value encountered in log'), a metric. A weak sign kept as context: alone it is no "
        "divergence, and the loss logged after it decides. 'invalid value encountered in log' warned from a file "
        "whose name says boxes (bbox_transform.py) is the log of a box's negative width or height in the box-target "
        "encoding (NaN passes through log without a warning), 'divide by zero encountered in log' there the log of "
        "a zero one: a non-finite target. LOG001 names the data, in a run that diverged or whose log shows no loss "
        "after it (a finite loss after it says the run went on); with no loss after it, the loss taken over the "
        "target is non-finite, and the run diverged there.",
    ),
    "exception": Family(None, _none, _none, "An uncaught exception of no known meaning: the job died, cause unknown."),
}


NEGATIVE_BOX_FIX = (
    "A box of zero or negative width or height reached the box-target encoding: find the annotations whose x2 <= x1 "
    "or y2 <= y1 and fix or drop them (a 0-based coordinate that a loader's '- 1' turned into -1, wrapped to 65535 in "
    "an unsigned array, makes one; so do boxes past the image, flipped or cropped without clipping)."
)


def _negative_box(event: LogEvent) -> Meaning | None:
    """A box of zero or negative size, for NumPy's log of one warned from a box-encoding file."""
    if box_target_nonfinite(event):
        return Meaning("data_or_labels", None, NEGATIVE_BOX_FIX)
    return None


# Exceptions whose type alone says the job died of something no training value could cause. NaN and Inf
# are floats of the right type: they make a value error, never an error of the operating system (a file, a
# socket, a device refused an operation) nor one of the program's structure (a name, an attribute, an
# import, an argument's type). The meaning is the type's; a catalogued message in the exception wins.
OS_ERRORS = frozenset(
    {
        "OSError",
        "IOError",
        "EnvironmentError",
        "FileNotFoundError",
        "FileExistsError",
        "PermissionError",
        "IsADirectoryError",
        "NotADirectoryError",
        "ConnectionError",
        "ConnectionResetError",
        "ConnectionRefusedError",
        "ConnectionAbortedError",
        "BrokenPipeError",
        "TimeoutError",
        "BlockingIOError",
        "ChildProcessError",
        "ProcessLookupError",
    }
)
CODE_ERRORS = frozenset(
    {
        "ImportError",
        "ModuleNotFoundError",
        "SyntaxError",
        "IndentationError",
        "NameError",
        "UnboundLocalError",
        "AttributeError",
        "TypeError",
        "NotImplementedError",
    }
)


def exception_family(event: LogEvent) -> str | None:
    """``environment_error`` or ``code_error`` for an exception whose type says so (OS_ERRORS, CODE_ERRORS),
    else None."""
    if event.kind != "exception":
        return None
    kind = event.values.get("type")
    return "environment_error" if kind in OS_ERRORS else "code_error" if kind in CODE_ERRORS else None


def meaning(event: LogEvent) -> Meaning | None:
    """What ``event`` stands for, or None when it is not evidence for a cause on its own."""
    if event.kind == "numpy_fp_warning":
        return _negative_box(event)
    fam = FAMILIES.get(event.kind)
    if fam is None or fam.cause is None:
        return None
    detail = fam.detail(event)
    if event.kind == "nonfinite_tensor" and detail is None:
        return None  # see the family's doc: a NaN in a named tensor does not say why
    return Meaning(fam.cause, detail, fam.fix(event))


def families_markdown(cause: str | None = None) -> list[str]:
    """The table for docs/rules.md: the families that mean ``cause``, or every family."""
    rows = [(name, fam) for name, fam in FAMILIES.items() if cause is None or fam.cause == cause]
    if not rows:
        return []
    lines = ["| family | cause | meaning |", "| --- | --- | --- |"]
    for name, fam in rows:
        lines.append(f"| `{name}` | {f'`{fam.cause}`' if fam.cause else '-'} | {fam.doc} |")
    return lines
