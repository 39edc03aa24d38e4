"""The catalogue of framework messages the log reader recognises, by family.

Each entry is one message as a framework prints it: the family it belongs to
(``LogEvent.kind``), who prints it, the text as written in the framework's source
(placeholders in braces), where that source is, a literal that must be in the line
(a cheap test before any pattern), and a pattern that pulls out what the message
names. What a family *means* (cause, detail, fix) is not decided here but in
``forensics/rules/messages.py``.

Patterns are linear: no two unbounded repeats over the same characters next to
each other or nested (``tests/test_log_metrics.py`` feeds every pattern adversarial
lines up to the segment cap). Each entry is tested on its own text in
``tests/test_log_messages.py``.

Families and their members:

- ``label_out_of_range``: TensorFlow (CPU) sparse cross-entropy, PyTorch (CPU) nll /
  cross-entropy target check, the CUDA ``n_classes`` assertion (PyTorch CUDA, Lua
  Torch/cutorch and old PyTorch with a single quote closing it);
- ``ctc_invalid_label``: TensorFlow's CTC loss refusing a sample's label (empty, or longer than its
  frames): the op fails, a data fault;
- ``ctc_no_valid_path``: TensorFlow's CTC warning that a sample's label has no alignment to its frames
  (that sample's loss is inf): the loss after it tells an occasional sample from the cause of an inf loss;
- ``nonfinite_input``: a trainer's check that the batch it was about to train on holds NaN in its inputs or
  targets (flashlight's and wav2letter++'s ASR trainers abort, naming the samples): a data fault, the step's
  loss non-finite had it been computed;
- ``index_out_of_range``: PyTorch embedding on CPU, CUDA index kernels (and old
  PyTorch's THC scatter / gather), TensorFlow gather/embedding lookup on CPU;
- ``cuda_device_assert``: the CUDA error that follows a device-side assertion
  (PyTorch CUDA, Lua Torch's THCudaCheck);
- ``nonfinite_gradient``: PyTorch anomaly detection (also what Lightning's
  ``Trainer(detect_anomaly=True)`` prints);
- ``nonfinite_tensor``: TensorFlow check_numerics / enable_check_numerics, JAX
  ``jax_debug_nans`` / ``jax_debug_infs`` and checkify, the HF Trainer's
  DebugUnderflowOverflow, fairseq's NanDetector;
- ``nan_loss``: NaN guards that stop a run (and, in any words, an exception whose message names the
  loss or the gradients and a NaN or Inf): TensorFlow's NanTensorHook and estimator,
  Lightning's loss check and EarlyStopping(check_finite), detectron2's anomaly check
  (it names the iteration), fairseq's gradient check,
  Megatron's grad-norm check, DETR's check of its predicted boxes (NaN fails it), CNTK's criterion check,
  ESPnet2's stop
  after an epoch whose every step it skipped,
  OpenNMT-tf's, neuralhydrology's, Mozilla/Coqui TTS's and Lua nngraph's checks, PyTorch's
  ``clip_grad_norm_(error_if_nonfinite=True)``, Lightning 1.x's ``terminate_on_nan``
  parameter check, Lua char-rnn's NaN and exploding-loss stops, dl4mt's (Theano NMT) 'NaN detected', the
  Tacotron trainers' 'Loss exploded to ...', SpeechBrain's non-finite loss past its patience, fastText's
  EncounteredNaNError; and a traceback raised by the job's own NaN check (an assert testing isnan, isinf or isfinite,
  nan_assert);
- ``nonfinite_step_skipped``: a trainer's own guard that threw one step away on a NaN (or
  out-of-range) loss or gradient and went on: ESPnet's two warnings, ESPnet2's, neuralhydrology's,
  deepspeech.pytorch's (which counts the step's loss as 0), icefall's dropping of non-finite utterances,
  SpeechBrain's non-finite loss within its patience,
  and any line that says a NaN/Inf made it skip a step, update, batch or iteration (the reader counts
  them against the steps trained: skips that last until the log ends are a divergence);
- ``nan_loss_terminated``: Keras TerminateOnNaN (Keras 2 and 3, tf.keras);
- ``loss_scale_overflow_transient``: one skipped step of dynamic loss scaling:
  DeepSpeed (its three step wordings and the scaler's own two lines), apex amp and its
  older FP16_Optimizer, fairseq,
  Megatron's skipped-iterations count, MindYOLO's two (MindSpore's dynamic loss scaler);
- ``loss_scale_minimum``: the loss scale at its floor: DeepSpeed, fairseq, Marian, icefall;
- ``oom``: out of memory: PyTorch CUDA, CPU and MPS, TensorFlow allocator, XLA/JAX,
  Lua Torch (TH and THC, also PyTorch <= 0.4), Theano, accelerate's batch-size search,
  cuBLAS, the kernel's OOM killer, Python's MemoryError;
- ``distributed_failure``: NCCL errors and collective timeouts (PyTorch's NCCL and
  Gloo backends, TensorFlow's collective executor, XLA's NCCL calls), elastic launcher
  failures: the job died, not of divergence.
- ``worker_died``: a PyTorch DataLoader worker process died (killed by a signal, most often the
  host's OOM killer or a full ``/dev/shm``, or exited with an error code): the job died, not of
  divergence.
- ``write_failed``: the job could not write a file, a checkpoint as a rule: the OS's ENOSPC (Python's
  ``OSError: [Errno 28] No space left on device``, TensorFlow's file system error naming it, which TensorFlow
  raises as ResourceExhaustedError; Windows' ERROR_DISK_FULL; EDQUOT's disk quota), PyTorch's shared-memory
  write of a DataLoader batch, PyTorch's checkpoint writer stopped short ('file write failed', 'unexpected pos')
  or unable to open its file, NumPy's short write ('N requested and M written'): the job died, not of divergence.
- ``cuda_fault``: a CUDA kernel faulted on the device (an illegal memory access, a misaligned address, an
  illegal instruction, an unspecified launch failure: PyTorch, Lua Torch, TensorFlow/XLA): a kernel bug, a
  custom op's out-of-bounds index or the hardware, no training number; the job died, not of divergence.
- ``mixed_precision``: the trainer saying it computes in 16-bit (Lightning's AMP line, 1.x and
  2.x; icefall's warning that its scale is small, whose scale is read as a logged one; OpenMMLab's
  config printed with AmpOptimWrapper, or a config name with an ``amp``/``fp16`` part in mmengine's
  ``Exp name:`` line): how the run computes, no fault (NUM005 weighs it when the loss goes non-finite).
- ``nonfinite_grad_norm``: PyTorch's clip_grad_norm_ warning that the total norm it met was non-finite
  and that it went on: under a GradScaler the step is then skipped, without one the update is NaN; a weak
  sign that the loss after it decides.
- ``numpy_fp_warning``: NumPy's RuntimeWarning of a floating-point fault, naming the operation
  (``invalid value encountered in log``): host code (data, targets, metrics) made a NaN or Inf; a weak
  sign, context beside a non-finite loss, never a divergence alone.
- ``native_crash``: the process's own report that it died of a signal or an abort, with no Python exception: glibc's
  heap checks (``*** Error in `prog': ...`` before glibc 2.26, the check's words alone after), the shell's name of the
  signal that killed its job ('Segmentation fault (core dumped)', bash's 'FILE: line N: PID Aborted ...'), C++'s
  uncaught exception ('terminate called after throwing ...'), CPython's faulthandler ('Fatal Python error: ...') and
  an uncaught Lua error (the interpreter's 'luajit: file.lua:N: msg' over 'stack traceback:'); the shell's 'Killed'
  (SIGKILL, sent from outside) is ``job_killed``. Says the job died, not why: no divergence by itself.
- ``nonfinite_logged``: a metrics logger warning that a value it was given held NaN or Inf
  (tensorboardX's check of every value it writes; YOLACT's moving average dropping a loss that is not
  finite): the written curve holds a non-finite point (or lacks it); a sign of divergence that does not
  say which value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forensics.records import ANY_FRAMEWORK

Fields = dict[str, Any]
GENERIC = ANY_FRAMEWORK  # the framework of the catalogue's entries that read a family's message in any words


class Deferred:
    """A regular expression compiled the first time a line needs it: a catalogue message's
    pattern is tried only on a line that holds its needle, which most logs never print, and
    compiling the catalogue's patterns up front cost every run with a log ~5 ms."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled


@dataclass(frozen=True)
class Message:
    family: str
    framework: str
    text: str  # as the framework's source writes it; {placeholders} where it fills in values
    source: str  # where that text is
    needle: str  # a literal every such line contains
    pattern: Deferred | None = None  # what the message names; None: the needle says it all
    fields: Callable[[re.Match[str]], Fields] | None = None
    unless: Deferred | None = None  # a line this also matches only describes the message (a condition, help text)

    def match(self, line: str) -> Fields | None:
        if self.needle not in line:
            return None
        if self.pattern is None:
            return {"framework": self.framework, "wording": self.needle}
        m = self.pattern.compiled.search(line)
        if m is None or (self.unless is not None and self.unless.compiled.search(line)):
            return None
        out = self.fields(m) if self.fields else {}
        out.setdefault("framework", self.framework)
        out["wording"] = self.needle  # which of a family's texts it is (a reader may count them apart)
        return out


# A message that is the whole of its line's text: at most a log's prefix before it (a time stamp, a glog or logging
# header, a level, a bracketed counter, closed by ':', ']', '|', '>' or '-'), or an exception's type ('ValueError: ',
# after a launcher's prefix too: '[1,mpirank:0,algo-1]<stderr>:RuntimeError: '), so that a sentence quoting it
# ('TODO: add a check like mmdet's: loss become infinite or NaN!') is no such message
_LOGGED_ALONE = (
    r"^(?:[^A-Za-z]{0,60}|.{0,160}?\b(?:INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|DEBUG)\b[^A-Za-z]{0,40}"
    r"|.{0,160}?(?<![\w.])(?:\w{1,40}\.){0,4}\w{0,40}(?:Error|Exception): {0,4})"
)


# A statement that the loss went non-finite (the GENERIC nan_loss statement entries): the subject at the start of the
# line's message (so not an evaluation's 'val loss', nor inside a word), a verb of being or becoming, then NaN or Inf as
# a word. Not the gradients or
# their norm: one non-finite grad norm is the fp16 scaler's overflow as often, a warning the run goes on from.
_NONFINITE_STATEMENT = Deferred(
    # where the line's message starts: nothing but a log's prefix before it (a time stamp, a level, a bracketed
    # counter, closed by ':', ']', '|', '>' or '-'), so that a sentence of prose saying it ('with these settings the
    # loss is nan after a while', a README's) is no such statement
    r"^(?P<prefix>.{0,200}?[\]:|>-][ \t]{0,4}|[^A-Za-z]{0,40})"
    r"(?P<level>(?:warning|error|info)[ \t]{0,2}:?[ \t]{0,4})?(?:the )?"
    r"((?:training |train |total |final |batch )?loss(?:es)?|training)"
    r"(?: value)? (?:is|are|was|were|has become|have become|became|becomes|went|goes|got|turned|got into|ran into"
    r"|hit|reached)(?: to)? [-+]?(?:nan|inf(?:inity|inite)?|non-?finite)(?![\w-])",
    re.IGNORECASE,
)
# ... unless the line only describes the check (a condition before it), or says the step was skipped or ignored (the
# nonfinite_step_skipped family's)
_NONFINITE_STATEMENT_UNLESS = Deferred(
    # anchored at the line's start with bounded spans, so a line repeating the words is not scanned from each of them
    r"^(?:"
    # a condition before the value: the line describes a check
    r"[^\n]{0,400}?\b(?:if|when|whenever|whether|unless|until|in case)\s[^.;!?\n]{0,80}?\b(?:nan|inf)"
    # the step skipped or ignored (the nonfinite_step_skipped family's), one sample's loss (CTC's zero_infinity)
    r"|[^\n]{0,400}?\b(?:skip(?:ping|ped|s)?|ignor(?:e|es|ing|ed)|for (?:sample|example|item|utterance))\b"
    # an evaluation's, by its stage word anywhere on the line ('[val] loss is nan', 'Epoch 3 | eval | ...')
    r"|[^\n]{0,400}?\b(?:val|valid|validation|eval|evaluation|test|testing|dev)\b"
    # a comment, a heading, a list item of notes, or a question: prose, not a log's line (a quoted '> ' line is a
    # paste's as often)
    r"|\s{0,40}(?:#|//|--|\*|- |\+ |q:|a:)|[^\n]{0,4000}\?\s{0,8}$"
    r")",
    re.IGNORECASE,
)


# the step or iteration such a statement names ('Loss is nan; stopping at step 90', '... at iteration 1200'): where the
# value went non-finite, as a message that names its own iteration says
_STATEMENT_STEP = re.compile(
    r"\b(?:global[_ ]step|step|iteration|iter)[ \t]{0,2}[=:#]?[ \t]{0,2}(\d{1,12})\b", re.IGNORECASE
)


# when such a statement says it happened: a step or an epoch counted on its line
_STATEMENT_WHEN = re.compile(
    r"\b(?:epoch|step|iteration|iter|global[_ ]step)[ \t]{0,2}[=:#]?[ \t]{0,2}\d", re.IGNORECASE
)


def _statement_fields(m: re.Match[str]) -> Fields:
    # 'statement': the line's own values are still read (logs.py), for it may print the loss with its step. Its kind:
    # 'level' under a log level ('ERROR: Loss is NaN'); 'placed' after another log prefix or with a step or epoch on
    # its line; 'bare' with neither, which a sentence of notes says alike (logs.py keeps it only in a file that is a
    # log on other grounds)
    found = _STATEMENT_STEP.search(m.string, m.end())
    bare = not (m.group("prefix").strip() or m.group("level") or _STATEMENT_WHEN.search(m.string))
    return {
        "name": m.group(3),
        "statement": "level" if m.group("level") else "bare" if bare else "placed",
        **({"step": int(found.group(1))} if found else {}),
    }


# the OS's words for a full disk or quota, in any library's message that passes them on
_DISK_FULL_WORDS = r"No space left on device|Disk quota exceeded"


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


_SCALE = r"([-+]?\d{1,20}(?:\.\d{0,20})?(?:[eE][-+]?\d{1,4})?)"
# DeepSpeed's step line after an overflow, in either wording: the scale tried, then the new one
_ATTEMPTED = Deferred(r"Attempted loss scale: " + _SCALE + r", reducing to " + _SCALE)


# What a check of the input data names, or of the loss and its gradients (the nan_loss statement's): a non-finite value
# there is no model tensor gone non-finite (the generic nonfinite_tensor entry)
_NOT_A_MODEL_TENSOR = (
    r"(?:inputs?|data|datasets?|samples?|features?|labels?|targets?|images?|observations?|obs|exog|endog|x|y"
    r"|columns?|rows?|df|dataframe|arrays?|batch(?:es)?|loss|losses|gradients?|grads?|grad(?:ient)?[ _]norms?)"
)


# the iteration Megatron's rerun state machine names in its message, with or without the '#'
_MEGATRON_ITERATION = re.compile(r"\biteration #?(\d{1,19})(?::| invocation)")


def _megatron_iteration(line: str) -> Fields:
    m = _MEGATRON_ITERATION.search(line)
    return {"step": int(m.group(1))} if m else {}


def _scale_change(m: re.Match[str]) -> Fields:
    """(scale tried, new scale) of a line that names both, in that order."""
    return {"loss_scale": _num(m.group(2)), "attempted": _num(m.group(1))}


def _scaled_down(scale: str, ratio: str) -> Fields:
    """(scale tried, new scale) of a line that names the scale and the ratio it is multiplied by."""
    tried, factor = _num(scale), _num(ratio)
    new = tried * factor if tried is not None and factor is not None else None
    return {"loss_scale": new, "attempted": tried}


# deepspeech.pytorch's later Lightning module raises check_loss's words instead of skipping the step
_RAISED_DEEPSPEECH = Deferred(r"(?:Exception|Error): WARNING: received an? ")


# The signals a shell names when one killed its job (strsignal's names), and what each is: a crash of the process
# itself (SIGKILL is left out: it comes from outside, see the shell's 'Killed' entry)
_CRASH_SIGNALS = (
    ("Segmentation fault", "SIGSEGV"),
    ("Aborted", "SIGABRT"),
    ("Illegal instruction", "SIGILL"),
    ("Bus error", "SIGBUS"),
    ("Floating point exception", "SIGFPE"),
)


def _shell_report(name: str) -> Deferred:
    """A shell's line for a job ``name`` (a signal's name) killed: the name alone on its line, with ' (core dumped)'
    (interactive bash, dash), or a script's 'FILE: line N: PID NAME (core dumped) COMMAND' (bash pads the name)."""
    return Deferred(
        rf"^(?:{name}(?: ?\(core dumped\))?|\S{{1,300}}: line \d{{1,9}}: {{1,8}}\d{{1,10}} {name}"
        rf"(?: {{0,40}}\(core dumped\))?(?: {{1,40}}\S.{{0,1000}})?)\s{{0,8}}$"
    )


CATALOGUE: tuple[Message, ...] = (
    # ------------------------------------------------------------ labels and indices
    Message(
        "label_out_of_range",
        "tensorflow",
        "Received a label value of {label} which is outside the valid range of [0, {classes}).  Label values: ...",
        "tensorflow/core/kernels/sparse_xent_op.cc (CPU kernel; the GPU kernel does not check)",
        "Received a label value of",
        Deferred(r"Received a label value of (-?\d{1,20}) which is outside the valid range of \[0, ?(\d{1,20})\)"),
        lambda m: {"label": int(m.group(1)), "classes": int(m.group(2))},
    ),
    Message(
        "label_out_of_range",
        "pytorch",
        "Target {label} is out of bounds.",
        "aten/src/ATen/native/LossNLL.cpp (CPU)",
        "is out of bounds",
        Deferred(r"\bTarget (-?\d{1,20}) is out of bounds"),
        lambda m: {"label": int(m.group(1))},
    ),
    Message(
        "label_out_of_range",
        "pytorch",
        "Assertion `t >= 0 && t < n_classes` failed.",
        "aten/src/ATen/native/cuda/Loss.cu, NLLLoss2d.cu (CUDA kernels)",
        "< n_classes",
        Deferred(r"Assertion `(\w{1,32}) >= 0 && \1 < n_classes[`'] failed"),
        lambda m: {"assertion": m.group(0), "device": "cuda"},
    ),
    # F.one_hot of the targets (segmentation and multi-label losses build their one-hot targets with it) checks the
    # range on the CPU, neither message printing the value
    Message(
        "label_out_of_range",
        "pytorch",
        "Class values must be smaller than num_classes.",
        "aten/src/ATen/native/Onehot.cpp (one_hot, CPU; on CUDA the scatter's device assert)",
        "Class values must be smaller than num_classes",
        Deferred(_LOGGED_ALONE + r"Class values must be smaller than num_classes\.?\s{0,8}$"),
    ),
    Message(
        "label_out_of_range",
        "pytorch",
        "Class values must be non-negative.",
        "aten/src/ATen/native/Onehot.cpp (one_hot: a negative class, such as -1 or 255 read as int8)",
        "Class values must be non-negative",
        Deferred(_LOGGED_ALONE + r"Class values must be non-negative\.?\s{0,8}$"),
        lambda m: {"side": "negative"},
    ),
    Message(
        "label_out_of_range",
        "ultralytics",
        "Label class {mlc} exceeds nc={nc} in {data}. Possible class labels are 0-{nc - 1}",
        "ultralytics/yolov3 and yolov5 train.py (the check of the dataset's largest class id before"
        " training; kept by their forks)",
        " exceeds nc=",
        Deferred(r"Label class (-?\d{1,20}(?:\.\d{1,8})?) exceeds nc=(\d{1,20})"),
        lambda m: {"label": int(float(m.group(1))), "classes": int(m.group(2))},
    ),
    Message(
        "index_out_of_range",
        "pytorch",
        "IndexError: index out of range in self",
        "aten/src/ATen/native/TensorAdvancedIndexing.cpp (embedding / index_select on CPU)",
        "index out of range in self",
    ),
    Message(
        "index_out_of_range",
        "pytorch",
        "Assertion `srcIndex < srcSelectDimSize` failed.",
        "aten/src/ATen/native/cuda/Indexing.cu (index_select on CUDA)",
        "srcIndex < srcSelectDimSize",
        None,
    ),
    Message(
        "index_out_of_range",
        "pytorch",
        'Assertion `-sizes[i] <= index && index < sizes[i] && "index out of bounds"` failed.',
        "aten/src/ATen/native/cuda/IndexKernel.cu",
        '"index out of bounds"',
    ),
    Message(
        "index_out_of_range",
        "pytorch",
        "Assertion `indexValue >= 0 && indexValue < tensor.sizes[dim]` failed.",
        "aten/src/THC/THCTensorScatterGather.cu (old PyTorch CUDA scatter / gather: one-hot labels, index targets)",
        "indexValue >= 0 && indexValue < tensor.sizes[dim]",
    ),
    Message(
        "index_out_of_range",
        "tensorflow",
        "indices[{i}] = {index} is not in [0, {size})",
        "tensorflow/core/kernels/gather_functor.h (gather / embedding_lookup on CPU)",
        "is not in [0,",
        Deferred(r"indices\[[\d,]{1,64}\] = (-?\d{1,20}) is not in \[0, (\d{1,20})\)"),
        lambda m: {"index": int(m.group(1)), "size": int(m.group(2))},
    ),
    # Unsloth checks, before a LoRA fine-tune starts, the tokens the training data uses against the rows of the
    # embedding and the LM head that were never trained (a base model's chat-template and reserved tokens); with those
    # two layers frozen it raises: the data holds tokens the model cannot represent
    Message(
        "untrained_tokens",
        "unsloth",
        "Unsloth: Untrained tokens found, but embed_tokens & lm_head not trainable, causing NaNs. Restart then add "
        "`embed_tokens` & `lm_head` to ...",
        "unsloth/tokenizer_utils.py (fix_untrained_tokens: the older text, and the newer one naming the ids: "
        "'Untrained tokens of [{ids}] found, ...', also in unsloth_zoo/tokenizer_utils.py)",
        "Untrained tokens ",
        Deferred(
            r"Untrained tokens (?:of \[(\[?[\d,\s]{1,2000}\]?)\] )?found, but embed_tokens & lm_head not trainable"
        ),
        lambda m: {"tokens": m.group(1)} if m.group(1) else {},
    ),
    Message(
        "cuda_device_assert",
        "pytorch",
        "CUDA error: device-side assert triggered",
        "c10/cuda/CUDAException (also Lua Torch's THCudaCheck: 'error=59 : device-side assert triggered')",
        "device-side assert triggered",
        Deferred(r"device-side assert triggered"),
        lambda m: {"certain": False},  # most often a label out of range, but the message does not say so
    ),
    # ------------------------------------------------------------ non-finite values, named
    Message(
        "nonfinite_gradient",
        "pytorch",
        "Function '{name}' returned nan values in its {i}th output.",
        "torch/csrc/autograd/engine.cpp (anomaly mode; Lightning's detect_anomaly=True turns it on)",
        "values in its",
        Deferred(r"Function '(\w{1,128})' returned (nan|inf) values in its (\d{1,4})(?:st|nd|rd|th) output"),
        lambda m: {"function": m.group(1), "output": int(m.group(3)), "value": m.group(2)},
    ),
    Message(
        "nonfinite_tensor",
        "tensorflow",
        'Detected Infinity or NaN in output {i} of graph op "{op}" (# of outputs: {n})',
        "tensorflow/python/debug/lib/check_numerics_callback.py",
        "Detected Infinity or NaN",
        Deferred(r"Detected Infinity or NaN in output (\d{1,4}) of (?:[\w-]{1,32} )?op \"(\w{1,128})\""),
        lambda m: {"op": m.group(2), "output": int(m.group(1))},
    ),
    Message(
        "nonfinite_tensor",
        "jax",
        "invalid value ({nan|inf}) encountered in {primitive}",
        "jax/_src/dispatch.py (jax_debug_nans / jax_debug_infs)",
        "encountered in",
        Deferred(r"invalid value \((nan|inf)\) encountered in (?:jit\()?(\w{1,128})"),
        lambda m: {"op": m.group(2), "what": m.group(1)},
    ),
    # PaddlePaddle's FLAGS_check_nan_inf=1: every op's outputs are checked and the first non-finite one stops the
    # job, in one of four wordings by version and device; each names the op (snake_case, Paddle's own names)
    Message(
        "nonfinite_tensor",
        "paddle",
        "===ERROR: in [op={op}] [tensor={tensor}] find nan or inf===",
        "paddle/fluid/framework/details/nan_inf_utils_detail.cu and .cc (CheckNanInf, PADDLE_ENFORCE; 1.x and 2.0-2.4)",
        "find nan or inf===",
        Deferred(r"\[op=(\w{1,128})\] \[tensor=([^\]]{0,200})\]"),
        lambda m: {"op": m.group(1), "tensor": m.group(2) or None},
    ),
    Message(
        "nonfinite_tensor",
        "paddle",
        "There are NAN or INF (num_nan={n}, num_inf={i}, num_zero={z}) in [device={d}, op={op}, tensor={t}, "
        "dtype={dt}].",
        "paddle/phi/kernels/check_numerics_kernel.h and nan_inf_utils_detail.h (PrintAndThrowError; 2.5 on)",
        "There are NAN or INF (",
        Deferred(
            r"There are NAN or INF \(num_nan=\d{1,19}, num_inf=\d{1,19}[^)]{0,40}\) in \[[^\]]{0,80}?op=(\w{1,128})"
        ),
        lambda m: {"op": m.group(1)},
    ),
    Message(
        "nonfinite_tensor",
        "paddle",
        "There are `nan` or `inf` in tensor ({tensor}) of operator ({op}).",
        "paddle/fluid/framework/details/nan_inf_utils_detail.cc (the CPU check's PADDLE_THROW, 2.0-2.4)",
        "There are `nan` or `inf` in tensor",
        Deferred(r"There are `nan` or `inf` in tensor \(([^)]{0,200})\) of operator \((\w{1,128})\)"),
        lambda m: {"op": m.group(2), "tensor": m.group(1) or None},
    ),
    Message(
        "nonfinite_tensor",
        "paddle",
        "Operator {op} output Tensor {tensor} contains Inf",
        "paddle/fluid/framework/operator.cc (CheckTensorNANOrInf, Fluid 1.x's FLAGS_check_nan_inf)",
        " output Tensor ",
        Deferred(r"\bOperator (\w{1,128}) output Tensor (\S{1,200}) contains (Inf|NAN)\b"),
        lambda m: {"op": m.group(1), "tensor": m.group(2), "what": m.group(3).lower()},
    ),
    Message(
        "nonfinite_tensor",
        "torchdiffeq",
        "underflow in dt {nan|inf}",
        "torchdiffeq _impl/dopri5.py and rk_common.py (the adaptive solver's assert t0 + dt > t0, 'underflow in dt "
        "{}'.format(dt.item())): a step size of nan or inf is the ODE's state or its error estimate gone non-finite; a "
        "tiny finite one is a stiff problem, no such message here",
        "underflow in dt ",
        Deferred(r"underflow in dt (nan|inf|-inf)\b", re.IGNORECASE),
        lambda m: {"what": m.group(1).lower().lstrip("-")},
    ),
    Message(
        "nonfinite_tensor",
        "transformers",
        "Detected inf/nan during batch_number={batch}",
        "transformers/debug_utils.py (DebugUnderflowOverflow, TrainingArguments(debug='underflow_overflow'): the "
        "report it prints before it raises)",
        "Detected inf/nan during batch_number=",
        Deferred(r"Detected inf/nan during batch_number=(\d{1,19})"),
        lambda m: {"batch": int(m.group(1))},
    ),
    Message(
        "nonfinite_tensor",
        "transformers",
        "DebugUnderflowOverflow: inf/nan detected, aborting as there is no point running further.",
        "transformers/debug_utils.py (the ValueError it raises after the report)",
        "DebugUnderflowOverflow: inf/nan detected",
    ),
    Message(
        "nonfinite_tensor",
        "fairseq",
        "{NaN|Inf} detected in output of {name}, shape: {shape}, {forward|backward}",
        "fairseq/nan_detector.py (NanDetector: fairseq's trainer re-runs a step under it after 'gradients are "
        "Nan/Inf', and logs the first module whose output went non-finite)",
        " detected in output of ",
        Deferred(r"\b(NaN|Inf) detected in output of (\S{0,256}), shape: "),
        lambda m: {"module": m.group(2) or None, "what": m.group(1).lower()},
    ),
    Message(
        "nonfinite_tensor",
        "jax",
        "nan generated by primitive: {primitive}",
        "jax/_src/checkify.py (checkify with float_checks / nan_checks; older JAX: 'nan generated by primitive "
        "{primitive} at {location}')",
        "nan generated by primitive",
        Deferred(r"nan generated by primitive:? (\w{1,128})"),
        lambda m: {"op": m.group(1), "what": "nan"},
    ),
    Message(
        "nonfinite_tensor",
        "tensorflow",
        "Nan in summary histogram for: {tag}",
        "tensorflow/core/kernels/summary_op.cc (HistogramSummaryOp; 'Infinity in summary histogram for: {tag}' "
        "for an Inf): TF1's tf.summary.histogram and Keras' TensorBoard(histogram_freq > 0) over weights that "
        "went non-finite",
        " in summary histogram for: ",
        Deferred(r"\b(Nan|Infinity) in summary histogram for: (\S{1,256})"),
        lambda m: {"tensor": m.group(2), "what": "nan" if m.group(1) == "Nan" else "inf"},
    ),
    Message(
        "nonfinite_tensor",
        "pytorch",
        "Expected parameter {name} ({type} of shape {shape}) of distribution {dist} to satisfy the constraint "
        "Real(), but found invalid values:",
        "torch/distributions/distribution.py (validate_args; Real() fails only on NaN: a policy's or a VAE's "
        "mean that went NaN; other constraints are left out, a bad scale fails them too)",
        "to satisfy the constraint",
        Deferred(
            r"Expected parameter (\w{1,64}) .{0,400}?to satisfy the constraint (?:IndependentConstraint\()?Real\(\)"
        ),
        lambda m: {"parameter": m.group(1), "what": "nan"},
    ),
    # darknet's detection layers print, per batch, the means of their outputs; 'No Obj' is the objectness averaged over
    # every anchor of the layer (avg_anyobj / (l.w*l.h*l.n*l.batch)): never 0/0, and a logistic's output in [0, 1], so
    # NaN there is the network's output gone NaN (the IOU and class means are 0/0 where count is 0, 'nan' by design)
    Message(
        "nonfinite_tensor",
        "darknet",
        "Region {index} Avg IOU: {iou}, Class: {cls}, Obj: {obj}, No Obj: nan, .5R: {r5}, .75R: {r75},  count: {n}",
        "pjreddie/darknet src/yolo_layer.c and region_layer.c (forward_*_layer's printf; 'Region Avg IOU' in YOLOv2, "
        "'Avg Recall' in its forks), AlexeyAB/darknet's 'v3 (mse loss, ...) Region N Avg (IOU: ...), ... No Obj'",
        "No Obj:",
        Deferred(
            r"Region (?:\d{1,4} )?Avg (?:IOU: |\(IOU: )[^,]{1,32},.{0,60}?Class: [^,]{1,32}, Obj: [^,]{1,32}, "
            r"No Obj: {0,4}([-+]?(?:nan(?:\(ind\))?|1\.#(?:IND|QNAN)\d{0,8}))",
            re.IGNORECASE,
        ),
        lambda m: {"tensor": "No Obj (the mean objectness over every anchor)", "value": m.group(1)},
    ),
    # NumPy's sampling from a distribution the model gave (an RL policy's action probabilities, a language model's
    # next token) checks the probabilities first: NaN there is the model's output gone NaN
    Message(
        "nonfinite_tensor",
        "numpy",
        "Probabilities contain NaN",
        "numpy/random/_generator.pyx (Generator.choice) and mtrand.pyx (RandomState.choice; 'probabilities contain "
        "NaN' before NumPy 1.17)",
        "robabilities contain NaN",
        Deferred(_LOGGED_ALONE + r"[Pp]robabilities contain NaN[.\s]{0,8}$"),
    ),
    Message(
        "nonfinite_tensor",
        "pytorch",
        "probability tensor contains either `inf`, `nan` or element < 0",
        "aten/src/ATen/native/Distributions.cpp (torch.multinomial: sampling from probabilities that went "
        "non-finite, in RL rollouts and generation)",
        "probability tensor contains either",
    ),
    # a trainer's check of the batch itself, before the forward pass: NaN in the features or the targets
    Message(
        "nonfinite_input",
        "flashlight",
        "Sample has NaN values - {sample_ids}",
        "flashlight/app/asr/Train.cpp, wav2letter Train.cpp and its recipes' Train*.cpp (LOG(FATAL) / "
        "FL_LOG(fl::FATAL) after af::isNaN on the batch's input and target arrays)",
        "Sample has NaN values",
        Deferred(r"Sample has NaN values - \S"),
    ),
    Message(
        "ctc_invalid_label",
        "tensorflow",
        "Labels length is zero in batch {b}",
        "tensorflow/core/util/ctc/ctc_loss_calculator.h (CTCLossCalculator::PopulateLPrimes: an InvalidArgument "
        "status for a sample whose label sequence is empty; the CTCLoss op fails and the session raises it)",
        "Labels length is zero in batch",
        Deferred(r"Labels length is zero in batch (\d{1,19})"),
        lambda m: {"what": "empty", "batch": int(m.group(1))},
    ),
    Message(
        "ctc_invalid_label",
        "tensorflow",
        "Not enough time for target transition sequence (required: {required}, available: {time}){b}You can turn "
        "this error into a warning by using the flag ignore_longer_outputs_than_inputs",
        "tensorflow/core/util/ctc/ctc_loss_calculator.h (PopulateLPrimes, unless ignore_longer_outputs_than_inputs: "
        "a label longer than the sample's frames)",
        "Not enough time for target transition sequence",
        Deferred(r"Not enough time for target transition sequence \(required: (\d{1,19}), available: (-?\d{1,19})\)"),
        lambda m: {"what": "too_long", "required": int(m.group(1)), "available": int(m.group(2))},
    ),
    Message(
        "ctc_no_valid_path",
        "tensorflow",
        "W tensorflow/core/util/ctc/ctc_loss_calculator.cc:{line}] No valid path found.",
        "tensorflow/core/util/ctc/ctc_loss_calculator.h (CTCLossCalculator::CalculateGradient, LOG(WARNING) when "
        "log p(z|x) is log 0: no alignment of the sample's label to its frames has a non-zero probability; that "
        "sample's loss is +inf and its gradient is set to the softmax output); the glog line names the file",
        "No valid path found",
        # the glog prefix names TensorFlow's CTC file: path planners print the same words
        Deferred(r"ctc_loss_calculator\.\w{1,3}:\d{1,6}\]\s{0,4}No valid path found"),
    ),
    Message(
        "ctc_no_valid_path",
        "espnet2",
        "{n}/{batch} samples got nan grad. These were ignored for CTC loss.",
        "espnet2/asr/ctc.py (CTC.loss_fn with ignore_nan_grad, FunASR's copy too): the samples whose CTC gradient came "
        "out non-finite (no alignment of their label to their frames) are dropped and the loss computed again on "
        "the rest",
        "samples got nan grad. These were ignored",
        Deferred(r"(\d{1,9})/(\d{1,9}) samples got nan grad\. These were ignored"),
        lambda m: {"samples": int(m.group(1)), "batch": int(m.group(2))},
    ),
    # ------------------------------------------------------------ guards that stop a run
    Message(
        "nan_loss",
        "tensorflow",
        "NaN loss during training.",
        "tensorflow/python/training/basic_session_run_hooks.py (NanTensorHook, NanLossDuringTrainingError)",
        "NaN loss during training",
    ),
    Message(
        "nan_loss",
        "tensorflow",
        "Model diverged with loss = NaN.",
        "tensorflow_estimator/python/estimator/estimator.py; OpenNMT-tf 2 opennmt/training.py raises the same words",
        "Model diverged with loss = NaN",
    ),
    # OpenMMLab's CheckInvalidLossHook (mmdet's, mmseg's, mmengine's documented example): every `interval` iterations
    # it asserts the loss is finite, the assertion's message a logger.info call, so the line is logged and the
    # AssertionError raised bare
    Message(
        "nan_loss",
        "openmmlab",
        "loss become infinite or NaN!",
        "mmdet/core/hook/checkloss_hook.py (2.x) and mmdet/engine/hooks/checkloss_hook.py (3.x), CheckInvalidLossHook "
        "(assert torch.isfinite(outputs['loss']), runner.logger.info(...)); mmseg and mmengine's hook docs the same",
        "loss become infinite or NaN",
        Deferred(_LOGGED_ALONE + r"loss become infinite or NaN!?[*\s]{0,8}$"),
    ),
    # GluonTS's trainer (MXNet's and PyTorch's) keeps the epoch with the best loss, and a NaN loss is never the best:
    # when the LR scheduler first lowers the LR with no epoch kept, every epoch's loss so far was NaN, and it raises
    Message(
        "nan_loss",
        "gluonts",
        "Got NaN in first epoch. Try reducing initial learning rate.",
        "gluonts/trainer/_base.py (0.4-0.5), gluonts/mx/trainer/_base.py and learning_rate_scheduler.py (0.6 on), "
        "pts/trainer.py (GluonTSUserError when the scheduler lowers the LR and best_epoch_info's epoch_no is still -1)",
        "Got NaN in first epoch",
        Deferred(_LOGGED_ALONE + r"Got NaN in first epoch\. {0,4}Try reducing initial learning"),
    ),
    # flashlight's (and wav2letter++'s) ASR trainer checks each batch's loss with ArrayFire's isNaN (the later ones
    # isInf too) and aborts through glog's LOG(FATAL), naming the batch's sample ids; under AMP it first lowers the
    # scale and retries the sample, and aborts only once the scale can go no lower
    Message(
        "nan_loss",
        "flashlight",
        "Loss has NaN values. Samples - {sample_ids}",
        "flashlight/app/asr/Train.cpp, wav2letter Train.cpp and its recipes' Train*.cpp (LOG(FATAL) / "
        "FL_LOG(fl::FATAL) after af::isNaN on the criterion's loss)",
        "Loss has NaN values",
        Deferred(r"Loss has NaN values\. Samples - \S"),
    ),
    Message(
        "nan_loss",
        "pytorch-references",
        "Loss is {loss_value}, stopping training",
        "pytorch/vision references/detection/engine.py; facebookresearch/deit engine.py, mae engine_pretrain.py, "
        "detr engine.py (the check after loss.item(), then sys.exit(1))",
        "stopping training",
        Deferred(r"Loss is (\S{1,64}), stopping training"),
        lambda m: {"value": m.group(1)},
    ),
    # 3DETR's engine (and the point-cloud projects built on it: Vote2Cap-DETR, LL3DA, 3D-R1...) checks the reduced
    # loss with math.isfinite and logs its stop, 'in' for 'is' as written, then sys.exit(1); LL3DA's and its
    # offspring's tolerate a few such steps first (the skip is nonfinite_step_skipped's)
    Message(
        "nan_loss",
        "3detr",
        "Loss in not finite. Training will be stopped.",
        "facebookresearch/3detr engine.py train_one_epoch (logging.info, then sys.exit(1)); LL3DA's and 3D-R1's "
        "'Loss in not finite. Terminate training.' after max_tolerant_nan skipped steps",
        "Loss in not finite",
        Deferred(r"Loss in not finite\. {0,4}(?:Training will be stopped|Terminate training)"),
    ),
    Message(
        "nonfinite_step_skipped",
        "3detr",
        "Loss in not finite. Skip this training step.",
        "LL3DA's and 3D-R1's engine (3DETR's check, a non-finite loss's step skipped while fewer than "
        "max_tolerant_nan came in a row)",
        "Loss in not finite. Skip this training step",
    ),
    Message(
        "nan_loss",
        GENERIC,
        "SILog is NaN, Stopping training",
        "a project's own NaN stop in any words: a name, 'is' (was, became...) NaN or Inf, then stop, terminate or "
        "abort training (ZoeDepth's trainers/base_trainer.py raises ValueError(f'{name} is NaN, Stopping training') "
        "for each loss term; the reference engines' 'Loss is nan, stopping training' and its copies print 'Loss is "
        "NAN, stopping training', 'Loss is NaN, stopping training...'); the name is what went non-finite",
        "raining",
        Deferred(
            # an evaluation's NaN stopping training is an early stop on a validation metric, not the training loss
            r"(?<![\w.])(?<!val )(?<!valid )(?<!validation )(?<!eval )(?<!evaluation )(?<!test )(?<!dev )"
            r"(?!(?:val|valid|validation|eval|evaluation|test|dev)(?:[_ /.-]|\b))"
            r"([A-Za-z][\w./-]{0,40}(?: [\w./-]{1,40}){0,3}) (?:is|are|was|were|became|went|got) "
            r"[-+]?(?:nan|inf|infinity|non-?finite|not[ -]finite)(?!\w|\.\w)[.,;:!]? {0,4}(?:-{1,2} {0,4})?"
            r"(?:stop(?:ping|ped|s)?|terminat(?:e|es|ing|ed)|abort(?:s|ing|ed)?|halt(?:s|ing|ed)?) (?:the )?training",
            re.IGNORECASE,
        ),
        lambda m: {"name": m.group(1)},
        # a guard states that the value went non-finite; a condition before it ("if the loss is NaN, stop
        # training" in a flag's help text or a config comment) describes the guard, which may never have fired
        Deferred(
            r"\b(?:if|when|whenever|whether|unless|until|in case)\s[^.;!?]{0,80}?\b(?:nan|inf|infinity|non-?finite"
            r"|not[ -]finite)\b",
            re.IGNORECASE,
        ),
    ),
    Message(
        "nan_loss",
        "ultralytics",
        "WARNING: non-finite loss, ending training {loss_items}",
        "ultralytics/yolov3 and yolov5 train.py (the torch.isfinite(loss) check before backward, then return; "
        "copied with sys.exit(1) into many classification and detection training loops)",
        "non-finite loss, ending training",
    ),
    Message(
        "nan_loss",
        "cntk",
        "The training criterion is not a number (NAN).",
        "CNTK Source/SGDLib/SGD.cpp (RuntimeError after an epoch's and, later, each progress print's criterion "
        "went NaN; 1.x adds ' Stop'; the console prints it after 'EXCEPTION occurred: ')",
        "The training criterion is not a number (NAN)",
    ),
    Message(
        "nan_loss",
        "dl4mt",
        "NaN detected",
        "nyu-dl dl4mt-tutorial session*/nmt.py train() (the cost checked with numpy.isnan and numpy.isinf after each "
        "update, then return 1., 1., 1.: training ends); kept by the Theano-era NMT and captioning trainers built on "
        "it (Nematus's nmt.py logs it as a warning, others as logger.info, and copies raise RuntimeError('NaN "
        "detected') or its twin 'Inf detected'); the words are the whole message, not a sentence holding them",
        " detected",
        Deferred(
            # alone on its line, or after a logging prefix (level, logger) or an exception's class
            # (a date, a time or the time elapsed may stand between the level and the words: XLM's logger prints
            # 'WARNING - 10/04/19 16:19:13 - 0:19:06 - NaN detected')
            r"^(?:.{0,120}?\b(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\b[^\w\n]{1,6}"
            r"(?:\d{1,4}[/:.-]\d{1,2}[/:.-]\d{1,4}(?:[.,]\d{1,6})?[^\w\n]{1,4}){0,3}"
            r"(?:[A-Za-z_][\w.]{0,63}[^\w\s]{1,3}\s{0,3})?"
            r"|.{0,200}?\b\w{0,40}(?:Error|Exception):\s{1,4}|\s{0,8})"
            r"(nan|inf) detected[.!]?\s{0,8}$",
            re.IGNORECASE,
        ),
        lambda m: {"value": m.group(1).lower()},
    ),
    Message(
        "nan_loss",
        "tacotron",
        "Loss exploded to {loss} at step {step}!",
        "keithito/tacotron train.py (the loss past 100 or NaN: log it, then raise Exception('Loss Exploded')); "
        "Rayhane-mamah Tacotron-2's and its WaveNet's train.py print 'Loss exploded to {:.5f} at step {}' on the same "
        "test, and PyTorch vocoder and MelNet trainers copy it with a bound of 1e8; a divergence by the toolkit's own "
        "test, NaN or a finite value past its bound",
        "Loss exploded to ",
        Deferred(r"Loss exploded to ([-+]?[\w.]{1,64}) at step (\d{1,19})"),
        lambda m: {"value": m.group(1), "step": int(m.group(2))},
    ),
    Message(
        "nan_loss",
        "speechbrain",
        "Loss is not finite and patience is exhausted. To debug, wrap `fit()` with autograd's `detect_anomaly()`, e.g.",
        "speechbrain/core.py Brain.check_gradients (0.5.x: a non-finite loss past nonfinite_patience raises "
        "ValueError), Brain.check_loss_isfinite in 1.x with the same words; recipes that override the check copy it",
        "Loss is not finite and patience is exhausted",
    ),
    Message(
        "nan_loss",
        "neosr",
        "NaN found, aborting training. Make sure you're using a proper learning rate.",
        "neosr/models/image.py (torch.isnan on the generator's total loss, then ValueError)",
        "NaN found, aborting training",
    ),
    Message(
        "nan_loss",
        "fasttext",
        "terminate called after throwing an instance of 'fasttext::DenseMatrix::EncounteredNaNError'",
        "fastText src/densematrix.h (EncounteredNaNError, a std::runtime_error whose what() is 'Encountered NaN.'), "
        "thrown by DenseMatrix::dotRow and l2NormRow when a product with a weight row is NaN; FastText::trainThread "
        "keeps it and FastText::train throws it again, so the command-line trainer dies in the C++ runtime's "
        "terminate handler, which prints the exception's type, then '  what():  Encountered NaN.'",
        "EncounteredNaNError",
        Deferred(r"throwing an instance of '(?:\w{1,40}::){0,4}EncounteredNaNError'"),
    ),
    Message(
        "nan_loss",
        "fasttext",
        "  what():  Encountered NaN.",
        "fastText src/densematrix.h (EncounteredNaNError's what()): the terminate handler's second line after the "
        "command-line trainer died of it, or the RuntimeError pybind11 makes of it in the Python module's "
        "train_supervised / train_unsupervised; the words alone, as the whole message",
        "Encountered NaN.",
        Deferred(r"^\s{0,8}(?:what\(\):|(?:[\w.]{0,80}\.)?RuntimeError:)\s{1,4}Encountered NaN\.\s{0,8}$"),
    ),
    Message(
        "nonfinite_tensor",
        "adabins",
        "Nan SILog loss",
        "AdaBins loss.py SILogLoss.forward (print('Nan SILog loss') then the input, target and Dg it was computed "
        "from, when torch.isnan(loss)); copied with its prints by ZoeDepth (zoedepth/trainers/loss.py), Depth "
        "Anything's metric depth and other depth estimators: the loss computed in training is NaN",
        "Nan SILog loss",
        Deferred(r"^\s{0,8}Nan SILog loss\s{0,8}$"),
        lambda m: {"tensor": "SILog loss", "what": "nan"},
    ),
    Message(
        "nan_loss",
        "neuralhydrology",
        "Loss was NaN for {n} times in a row. Stopped training.",
        "neuralhydrology/training/basetrainer.py (_train_epoch, past allow_subsequent_nan_losses; newer: "
        "'Loss/gradients were NaN for {n} times in a row')",
        "times in a row. Stopped training",
    ),
    Message(
        "nan_loss",
        "mozilla-tts",
        " [!] NaN loss with {key}.",
        "mozilla/TTS and coqui-ai/TTS TTS/tts/layers/losses.py (TacotronLoss, GlowTTSLoss, the vocoders' "
        "generator losses: every term of the loss dict checked with torch.isnan, then RuntimeError)",
        "[!] NaN loss with",
        Deferred(r"\[!\] NaN loss with (\w{1,128})\."),
        lambda m: {"loss": m.group(1)},
    ),
    Message(
        "nan_loss",
        "lua-nngraph",
        "{file}:{line}: output is nan, during forward pass, aborting...",
        "nngraph/gmodule.lua (a node's output checked for NaN in the forward pass, 2015-era releases; the "
        "wording as a real char-rnn log prints it: the stored copies of the source are later ones, without it)",
        "output is nan, during forward pass",
    ),
    Message(
        "nan_loss",
        "lightning",
        "The loss returned in `training_step` is {loss}.",
        "lightning/pytorch/loops/optimization/automatic.py",
        "The loss returned in `training_step` is",
    ),
    Message(
        "nan_loss",
        "lightning",
        "Monitored metric {monitor} = {current} is not finite. Previous best value was {best}. "
        "Signaling Trainer to stop.",
        "lightning/pytorch/callbacks/early_stopping.py",
        "is not finite",
        Deferred(r"Monitored metric (\S{1,128}) = (\S{1,64}) is not finite"),
        lambda m: {"metric": m.group(1), "value": m.group(2)},
    ),
    Message(
        "nan_loss",
        "detectron2",
        "Loss became infinite or NaN at iteration={iter}!\nloss_dict = {loss_dict}",
        "detectron2/engine/train_loop.py (SimpleTrainer._detect_anomaly, later write_metrics)",
        "Loss became infinite or NaN at iteration=",
        Deferred(r"Loss became infinite or NaN at iteration=(\d{1,19})"),
        lambda m: {"step": int(m.group(1))},
    ),
    Message(
        "nan_loss",
        "fairseq",
        "FloatingPointError: gradients are Nan/Inf",
        "fairseq/trainer.py (train_step)",
        "gradients are Nan/Inf",
    ),
    Message(
        "nan_loss",
        "megatron",
        "Rank {rank}: found NaN in local grad norm in backward pass before data-parallel communication collective",
        "megatron/core/distributed/param_and_grad_buffer.py (newer: 'for bucket #{i} in backward pass')",
        "found NaN in local grad norm",
    ),
    Message(
        "nan_loss",
        "megatron",
        "Rank {rank}, node {node}, device {device}, iteration {i}: Unexpected result {result} (message='found NaN "
        "in local forward loss calculation')",
        "megatron/training/training.py / core/rerun_state_machine.py (check_for_nan_in_loss_and_grad; validate_result "
        "names the iteration, 'iteration {i}:' or, logged on a rerun's first pass, 'at iteration #{i}')",
        "found NaN in local forward loss",
        Deferred(r"found NaN in local forward loss"),
        lambda m: _megatron_iteration(m.string),
    ),
    Message(
        "nan_loss",
        "detr",
        "assert (boxes1[:, 2:] >= boxes1[:, :2]).all()",
        "util/box_ops.py generalized_box_iou (DETR and its forks: Deformable DETR, DINO...): the predicted boxes "
        "come out of a sigmoid, so x1 < x0 only when they are NaN; the line is the traceback's frame",
        "assert (boxes1[:, 2:] >= boxes1[:, :2]).all()",
    ),
    Message(
        "nan_loss",
        GENERIC,
        "ValueError: loss is nan",
        "a project's own NaN stop, in any words: an exception whose message says the loss or the gradients "
        "are NaN or Inf (scae-pytorch's raise ValueError('loss is nan') in training_step, 'RuntimeError: Loss is "
        "NaN'); read from the exception line, or from the raise statement when a paste ends on its frame",
        "Error: ",
        Deferred(
            r"^\s{0,8}(?:[A-Za-z_][\w.]{0,80}\.)?[A-Z]\w{0,60}Error: "
            r"(?=.{0,160}?(?<!\w)(?:loss|losses|gradients?|grads|grad(?:ient)?[ _]norm)(?!\w))"
            r"(?=.{0,200}?(?<![\w.])[-+]?(?:nan|inf|infinity|non-?finite)(?!\w|\.\w))",
            re.IGNORECASE,
        ),
    ),
    Message(
        "nonfinite_tensor",
        GENERIC,
        "RuntimeError: NaN detected in latents: {path}",
        "a project's own check that stops the job on a non-finite tensor other than the loss or the gradients, in "
        "any words: an exception whose message says NaN or Inf was detected, found or contained in something "
        "(kohya sd-scripts' cache_batch_latents 'NaN detected in latents', NumPy's random choice 'probabilities "
        "contain NaN', 'Non-finite values in predicted vectors'). The model's values went non-finite; which "
        "computation did it is not said. A check of the input data ('Input contains NaN') is left to the data "
        "families, and one of the loss or the gradients is the nan_loss statement above",
        "Error: ",
        Deferred(
            r"^\s{0,8}(?:[A-Za-z_][\w.]{0,80}\.)?[A-Z]\w{0,60}Error: "
            # no word of the input data (or of the loss) before the words that say it: 'x contains NaN', 'Column
            # 'age' has NaN values' check the data
            + r"(?:(?!(?<![\w.])"
            + _NOT_A_MODEL_TENSOR
            + r"(?!\w)).){0,120}?(?:"
            r"(?<![\w.])(?:nan|inf|infinity|non-?finite|infinite)(?: values?| numbers?)? "
            r"(?:(?:was|were|is|are) )?(?:detected|found|encountered|present|in)\b"
            r"|\b(?:contains?|containing|has|have|detected|found|encountered) (?:an? |some )?"
            r"(?:nan|inf|infinity|non-?finite)(?![\w-])"
            r")"
            # ... nor in what they say holds the value, the few words after them up to the next preposition ('found
            # nan in observations', 'NaN in the train dataset', 'NaN found in training data'; 'NaN in attention scores
            # of batch 4' names the scores); a path after a colon is no subject ('in latents: /data/input/x.png')
             + r"(?!(?: values?| numbers?)?(?: (?:was|were|is|are))?(?: (?:detected|found|encountered|present))?"
            r"(?: (?:in|within|of))? "
            r"(?:(?!(?:of|at|for|with|from|on|in|after|during|when|while|by)\b)[\w'-]{1,40} ){0,3}"
            + _NOT_A_MODEL_TENSOR
            + r"(?!\w))",
            re.IGNORECASE,
        ),
    ),
    *(
        Message(
            "nan_loss",
            GENERIC,
            text,
            "an operation's own check of its input's range that names the non-finite value it was handed, in any "
            "words: PaddlePaddle's kernels ('Input is expected to be within the interval [0, 1], but recieved nan.', "
            "phi/kernels/gpu/bce_loss_kernel.cu, the binary cross-entropy's PADDLE_ENFORCE on the predicted "
            "probabilities; 'expected ... but received'), 'expected a value in [0, 1] but got nan'. The model's "
            "output reached the loss non-finite: a NaN check firing, which says that the run diverged, not why",
            needle,
            Deferred(
                # anchored at the line's start, so each part is scanned once whatever the line repeats
                r"^(?=[^\n]{0,4000}?\bexpected\b)[^\n]*?\bbut (?:rec(?:ei|ie)ved|got|found|was)[:=]? {0,2}[-+]?"
                r"(?:nan|inf(?:inity)?)(?![\w-])",
                re.IGNORECASE,
            ),
        )
        for needle, text in (
            (
                "but rec",
                "Error: /paddle/paddle/phi/kernels/gpu/bce_loss_kernel.cu:42 Assertion `(x >= static_cast<T>(0)) && "
                "(x <= one)` failed. Input is expected to be within the interval [0, 1], but recieved nan.",
            ),
            ("but got", "ValueError: expected a probability in [0, 1] but got nan"),
            ("but found", "expected finite logits but found inf"),
            ("but was", "expected the loss to be positive but was nan"),
        )
    ),
    Message(
        "nan_loss",
        "detectron2",
        "FloatingPointError: Predicted boxes or scores contain Inf/NaN. Training has diverged.",
        "detectron2/modeling/proposal_generator/proposal_utils.py find_top_rpn_proposals (raised in training when "
        "the RPN's proposals or their scores are not all finite; its forks and ports raise the same words)",
        "contain Inf/NaN. Training has diverged",
    ),
    Message(
        "nan_loss",
        "espnet2",
        "The gradients at all steps are invalid in this epoch. Something seems wrong. This training was stopped at "
        "{iepoch}epoch",
        "espnet2/train/trainer.py (Trainer.run: every step of the epoch was skipped on a non-finite grad norm, "
        "all_steps_are_invalid, so the run stops)",
        "The gradients at all steps are invalid",
        Deferred(r"The gradients at all steps are invalid(?:.{0,80}?stopped at (\d{1,9}) ?epoch)?"),
        lambda m: {"epoch": int(m.group(1))} if m.group(1) else {},
    ),
    Message(
        "nan_loss",
        "autogluon",
        "WARNING: NaN loss encountered in epoch {epoch}!",
        "autogluon/tabular/models/fastainn/callbacks.py (EarlyStoppingCallbackWithTimeLimit.after_epoch: a NaN "
        "validation loss in epoch 0 raises AssertionError with these words, in a later epoch it is logged with "
        "': early stopping' and the fit is cancelled)",
        "NaN loss encountered in epoch",
        Deferred(r"WARNING: NaN loss encountered in epoch (\d{1,9})(?:!|: early stopping)"),
        lambda m: {"epoch": int(m.group(1))},
    ),
    Message(
        "nonfinite_tensor",
        "numpy",
        "autodetected range of [{first_edge}, {last_edge}] is not finite",
        "numpy/lib/histograms.py _get_outer_edges (np.histogram of values holding NaN or Inf; 'range parameter "
        "must be finite.' when the range given is), raised where a metrics logger writes a histogram of the "
        "weights or gradients (tensorboardX's and TensorBoard's add_histogram call np.histogram)",
        "is not finite",
        Deferred(r"autodetected range of \[(\S{1,40}), (\S{1,40})\] is not finite"),
        lambda m: {"tensor": "a histogram's values", "what": "nan" if "nan" in m.group(0).lower() else "inf"},
    ),
    Message(
        "nonfinite_tensor",
        "numpy",
        "range parameter must be finite.",
        "numpy/lib/histograms.py _get_outer_edges (older numpy/lib/function_base.py histogram): the range that "
        "add_histogram computed from the values it logs is NaN or Inf",
        "range parameter must be finite",
        Deferred(r"range parameter must be finite"),
        lambda m: {"tensor": "a histogram's range"},
    ),
    # ------------------------------------------------------------ a step thrown away, training goes on
    Message(
        "nonfinite_step_skipped",
        "espnet",
        "grad norm is nan. Do not update model.",
        "espnet/asr/pytorch_backend/asr.py, asr/chainer_backend/asr.py, tts/*/tts.py (CustomUpdater.update_core)",
        "grad norm is nan. Do not update model",
    ),
    Message(
        "nonfinite_step_skipped",
        "espnet",
        "loss (={loss}) is not correct",
        "espnet/nets/pytorch_backend/e2e_asr*.py, chainer_backend/e2e_asr*.py (forward: a NaN loss, or past "
        "CTC_LOSS_THRESHOLD, is kept out of the report)",
        ") is not correct",
        Deferred(r"loss \(=(\S{1,64})\) is not correct"),
        lambda m: {"value": m.group(1)},
    ),
    Message(
        "nonfinite_step_skipped",
        "espnet2",
        "The grad norm is {grad_norm}. Skipping updating the model.",
        "espnet2/train/trainer.py (Trainer.train_one_epoch: clip_grad_norm_ gave a non-finite norm; the step is "
        "dropped, scaler.step/update still run; 0.9 to 202x)",
        "Skipping updating the model",
        Deferred(r"grad norm is (.{1,80}?)\.? Skipping updating the model"),
        lambda m: {"value": m.group(1)},
    ),
    Message(
        "nonfinite_step_skipped",
        GENERIC,
        "NaN loss, skipping step",
        "a trainer's own check, in any words: a NaN or Inf, a skip, and what was skipped (step, update, batch, "
        "iteration) on one line ('[Epoch 3 Step 120] NaN loss, skipping step', 'Batch had nan loss, skipping "
        "this batch.', 'WARNING: NaN loss, skipping update'), or a line that ends on the skip of a non-finite loss "
        "or gradient ('NaN in loss, skipping'), not a record counting them (Megatron's 'number of "
        "skipped iterations: 0 | number of nan iterations: 0'); a loss scaler's skip is its own family",
        "kip",
        Deferred(
            # not a record that counts them ("number of skipped iterations: 0 | number of nan iterations: 0")
            r"^(?!.{0,400}?(?:skip|nan)\w{0,8}[ \w]{0,30}[:=][ \t]{0,4}[-+]?\d)"
            r"(?=.{0,400}?(?<![\w.])[-+]?(?:nan|inf|infinity|non-?finite)(?!\w|\.\w))"
            r"(?=.{0,400}?(?<!\w)skip(?:ping|ped|s)?(?!\w))"
            r"(?=.{0,400}?(?<!\w)(?:steps?|updat(?:e|es|ing)|batch(?:es)?|iter(?:ation)?s?)(?!\w)"
            # or the skip the line ends on, of a non-finite loss or gradient ('NaN in loss, skipping')
            r"|(?=.{0,400}?(?<!\w)(?:loss|losses|grads?|gradients?)(?!\w)).{0,400}?(?<!\w)skipping[.!]{0,3}\s{0,4}$)",
            re.IGNORECASE | re.DOTALL,
        ),
    ),
    Message(
        "nonfinite_step_skipped",
        "speechbrain",
        "Patience not yet exhausted, ignoring this batch.",
        "speechbrain/core.py Brain.check_gradients (0.5.x: a non-finite loss within nonfinite_patience, the batch's "
        "update is dropped; 1.x's check_loss_isfinite warns 'Patience not yet exhausted.')",
        "Patience not yet exhausted",
        Deferred(r"Patience not yet exhausted(?:, ignoring this batch)?\.\s{0,8}$"),
    ),
    Message(
        "nonfinite_step_skipped",
        "dl4j",
        "Value is infinite after jump. oldStep={}. score={}, score2={}. Scaling back step size...",
        "deeplearning4j optimize/solvers/BackTrackLineSearch.java (optimize: the score after the trial step is NaN "
        "or Inf, so the step is shrunk 5x and tried again; older releases print 'Value is infinite after jump "
        "{alam}. f=.., f2=..')",
        "Value is infinite after jump",
    ),
    Message(
        "nonfinite_step_skipped",
        "deepspeech.pytorch",
        "WARNING: received an inf loss, setting loss value to 0",
        "SeanNaren/deepspeech.pytorch train.py (2017-2018: an inf CTC loss is reported as 0, training goes on; "
        "later check_loss in utils.py returns 'WARNING: received an inf loss' and train.py prints it, then 'Skipping "
        "grad update'); copied into many CTC trainers (crnn, speech and OCR forks)",
        "received an inf loss",
        Deferred(r"received an inf loss"),
        lambda m: {"value": "inf", "zeroed": True},
        _RAISED_DEEPSPEECH,
    ),
    Message(
        "nonfinite_step_skipped",
        "deepspeech.pytorch",
        "WARNING: received a nan loss, setting loss value to 0",
        "SeanNaren/deepspeech.pytorch utils.py check_loss (the NaN branch; train.py prints it, then 'Skipping grad "
        "update', and counts the step's loss as 0)",
        "received a nan loss",
        Deferred(r"received a nan loss"),
        lambda m: {"value": "nan", "zeroed": True},
        _RAISED_DEEPSPEECH,
    ),
    Message(
        "nonfinite_step_skipped",
        "deepspeech.pytorch",
        "WARNING: received a negative loss",
        "SeanNaren/deepspeech.pytorch utils.py check_loss (a CTC loss below 0, out of its range: the step is skipped "
        "as a non-finite one is)",
        "received a negative loss",
        Deferred(r"received a negative loss"),
        lambda m: {"value": "negative", "zeroed": True},
        _RAISED_DEEPSPEECH,
    ),
    Message(
        "nan_loss",
        "deepspeech.pytorch",
        "Exception: WARNING: received a nan loss",
        "SeanNaren/deepspeech.pytorch deepspeech_pytorch/model.py (2021 on, the Lightning module's training_step: "
        "raise Exception('WARNING: received an inf loss') or '... a nan loss', where train.py used to skip the step)",
        "WARNING: received a",
        Deferred(r"(?:Exception|Error): WARNING: received an? (inf|nan) loss"),
        lambda m: {"value": m.group(1)},
    ),
    Message(
        "nonfinite_step_skipped",
        "icefall",
        "Not all losses are finite!\nsimple_loss: {simple_loss}\npruned_loss: {pruned_loss}",
        "k2-fsa/icefall recipes' train.py compute_loss (transducer and CTC recipes: the utterances whose loss is inf "
        "or NaN are dropped from the batch's sum and training goes on; all of them non-finite raises 'There are too "
        "many utterances in this batch leading to inf or nan losses.')",
        "Not all losses are finite!",
    ),
    Message(
        "nonfinite_step_skipped",
        "neuralhydrology",
        "Loss is Nan; ignoring step. (#{n}/{max})",
        "neuralhydrology/training/basetrainer.py (_train_epoch; later 'Loss is NaN;' and 'Loss or gradients are "
        "NaN; ignoring step.')",
        "; ignoring step",
        Deferred(r"NaN; ignoring step", re.IGNORECASE),
    ),
    Message(
        "nan_loss_terminated",
        "keras",
        "Batch {batch}: Invalid loss, terminating training",
        "keras/src/callbacks/terminate_on_nan.py (Keras 3), keras/callbacks.py (Keras 2, tf.keras)",
        "Invalid loss, terminating training",
        # no \b before "Batch": Keras prints it glued to the bar ("loss: 0.7605Batch 4: Invalid loss")
        Deferred(r"(?<![A-Za-z])Batch (\d{1,19}): Invalid loss, terminating training"),
        lambda m: {"batch": int(m.group(1))},
    ),
    Message(
        "nan_loss_terminated",
        "keras",
        "NaN or Inf loss encountered at batch {batch}. Loss value: {loss}.",
        "keras/src/callbacks/terminate_on_nan.py (Keras 3, raise_error=True)",
        "NaN or Inf loss encountered at batch",
        Deferred(r"NaN or Inf loss encountered at batch (\d{1,19})\. Loss value: ([^\s.]{1,32}(?:\.\d{1,32})?)"),
        lambda m: {"batch": int(m.group(1)), "loss": m.group(2)},
    ),
    Message(
        "nan_loss",
        "pytorch",
        "The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
        "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
        "`error_if_nonfinite=False`",
        "torch/nn/utils/clip_grad.py (clip_grad_norm_(..., error_if_nonfinite=True), PyTorch >= 1.9)",
        "is non-finite, so it cannot be clipped",
    ),
    Message(
        "nan_loss",
        "lightning",
        "Detected nan and/or inf values in `{name}`. Check your forward pass for numerically unstable operations.",
        "pytorch_lightning/trainer/training_tricks.py, later utilities/finite_checks.py (detect_nan_parameters: "
        "Trainer(terminate_on_nan=True), PyTorch Lightning 0.7-1.5)",
        "Detected nan and/or inf values in",
        Deferred(r"Detected nan and/or inf values in `([^`]{1,256})`"),
        lambda m: {"parameter": m.group(1)},
    ),
    Message(
        "nan_loss",
        "lua-torch",
        "loss is NaN.  This usually indicates a bug. Please check the issues page for existing issues, ...",
        "karpathy/char-rnn train.lua (and torch-rnn and the char-rnn forks): the NaN check after each iteration, "
        "then 'break -- halt'",
        "This usually indicates a bug",
        Deferred(r"loss is NaN\.\s{1,4}This usually indicates a bug"),
        lambda m: {"value": "nan"},
    ),
    Message(
        "nan_loss",
        "lua-torch",
        "loss is exploding, aborting.",
        "karpathy/char-rnn train.lua (and its forks): the loss past 3x the first iteration's, then 'break -- "
        "halt'; a divergence by the toolkit's own test, not a NaN",
        "is exploding, aborting",
        # its own line (Lua print), not the words inside a sentence
        Deferred(r"^\s{0,8}[Ll]oss is exploding, aborting"),
        lambda m: {"value": "exploding"},
    ),
    Message(
        "nan_loss",
        "tensorflow",
        "LossTensor is inf or nan : Tensor had NaN values",
        "tf_slim/learning.py create_train_op(check_numerics=True), TF Object Detection API trainer.py / "
        "model_lib.py ('LossTensor is inf or nan.'): check_numerics on the total loss, which stops training",
        "LossTensor is inf or nan",
    ),
    Message(
        "nan_loss",
        "megatron",
        "found Inf in local grad norm for bucket #{i} in backward pass before data-parallel communication collective",
        "megatron/core/distributed/param_and_grad_buffer.py (check_for_nan_in_grad: the rerun state machine's "
        "Inf test next to the NaN one)",
        "found Inf in local grad norm",
    ),
    Message(
        "nonfinite_grad_norm",
        "pytorch",
        "Non-finite norm encountered in torch.nn.utils.clip_grad_norm_; continuing anyway. Note that the default "
        "behavior will change in a future release to error out if a non-finite total norm is encountered. At that "
        "point, setting error_if_nonfinite=false will be required to retain the old behavior.",
        "torch/nn/utils/clip_grad.py (clip_grad_norm_ with error_if_nonfinite=False, PyTorch 1.9-1.12: a "
        "FutureWarning, shown once per call site; the HF Trainer, YOLOv5 and other loops that clip after a "
        "GradScaler's unscale_ print it when the scaler is about to skip an overflowed step)",
        "Non-finite norm encountered in torch.nn.utils.clip_grad_norm_",
    ),
    # ------------------------------------------------------------ fp16 loss scaling
    Message(
        "loss_scale_overflow_transient",
        "deepspeed",
        "[deepspeed] OVERFLOW! Rank {rank} Skipping step. Attempted loss scale: {prev}, reducing to {new}",
        "deepspeed/runtime/fp16/fused_optimizer.py, zero/stage_1_and_2.py (DeepSpeed <= 0.9)",
        "OVERFLOW! Rank",
        Deferred(
            r"OVERFLOW! Rank \d{1,6} Skipping step\.?(?: Attempted loss scale: " + _SCALE + r"(?:, reducing to "
            rf"{_SCALE})?)?",
            re.IGNORECASE,
        ),
        # "attempted" only beside a new scale: "..., but hysteresis is 2" lowers nothing
        lambda m: {"loss_scale": _num(m.group(2) or m.group(1)), "attempted": _num(m.group(1)) if m.group(2) else None},
    ),
    Message(
        "loss_scale_overflow_transient",
        "deepspeed",
        "[deepspeed] fp16 dynamic loss scale overflow! Skipping step. Attempted loss scale: {prev}, reducing to {new}",
        "deepspeed/runtime/fp16/fused_optimizer.py, unfused_optimizer.py, zero/stage3.py",
        "loss scale overflow! Skipping step",
        _ATTEMPTED,
        _scale_change,
    ),
    Message(
        "loss_scale_overflow_transient",
        "deepspeed",
        "Overflow detected. Skipping step. Attempted loss scale: {prev}, reducing to {new}",
        "deepspeed/runtime/fp16/fused_optimizer.py (FP16_Optimizer.step through log_dist, DeepSpeed 0.3 on)",
        "Overflow detected. Skipping step",
        _ATTEMPTED,
        _scale_change,
    ),
    # the scaler's own two lines about the same overflow, printed right before the step's line
    # (``verbose``); each wording is counted apart, the overflows are the most any one counts
    Message(
        "loss_scale_overflow_transient",
        "deepspeed",
        "Reducing dynamic loss scale from {prev} to {new}",
        "deepspeed/runtime/fp16/fused_optimizer.py, unfused_optimizer.py (_update_scale), loss_scaler.py "
        "(DynamicLossScaler.update_scale)",
        "Reducing dynamic loss scale from",
        Deferred(r"Reducing dynamic loss scale from " + _SCALE + r" to " + _SCALE),
        _scale_change,
    ),
    # Paddle's dynamic loss scaler (paddle.amp.GradScaler, AmpScaler._update): on every decr_every_n_nan_or_inf-th
    # step whose gradients held Inf or NaN it prints the scale it held and the ratio it multiplies it by (0.5 unless
    # set); the step is skipped (use_dynamic_loss_scaling). No floor: the scale halves on towards 0
    Message(
        "loss_scale_overflow_transient",
        "paddle",
        "Found inf or nan, current scale is: {scale}, decrease to: {scale}*{ratio}",
        "python/paddle/amp/grad_scaler.py and python/paddle/fluid/dygraph/amp/loss_scaler.py (AmpScaler._update)",
        "Found inf or nan, current scale is",
        # print()ed alone (under a launcher's or a logger's prefix at most): a README quoting it is no such line
        Deferred(
            _LOGGED_ALONE
            + r"Found inf or nan, current scale is: "
            + _SCALE
            + r", decrease to: "
            + _SCALE
            + r" ?\* ?"
            + _SCALE
        ),
        lambda m: _scaled_down(m.group(1), m.group(3)),
    ),
    # PaddleNLP's Trainer on Paddle's GradScaler: a step whose gradients held Inf or NaN is not applied, and the
    # trainer says so with the scale before and after the scaler's update (halved, by default)
    Message(
        "loss_scale_overflow_transient",
        "paddlenlp",
        "optimizer not run, scale_before: {scale}, scale_after: {scale}",
        "paddlenlp/trainer/trainer.py (the training loop's scaler.step / scaler.update, when scaler._cache_found_inf)",
        "optimizer not run, scale_before: ",
        Deferred(r"optimizer not run, scale_before: \[?" + _SCALE + r"\]?, scale_after: \[?" + _SCALE),
        # the new scale only: Paddle's scaler lowers it only on every decr_every_n_nan_or_inf-th overflow (2 in many
        # recipes), so a skip that kept its scale is no scaler stuck at its floor, as DeepSpeed's 'reducing to' the
        # same scale is
        lambda m: {"loss_scale": _num(m.group(2))},
    ),
    # MindYOLO's trainer on MindSpore's dynamic loss scaler: 'still update' (overflow_still_update, the step is
    # applied anyway) or 'drop step'; the scale is the scaler's Tensor printed through asnumpy()
    Message(
        "loss_scale_overflow_transient",
        "mindyolo",
        "overflow, still update, loss scale adjust to {scale}",
        "mindyolo/utils/trainer_factory.py (Trainer.train_step, after scaler.adjust(grads_finite); 'drop step' in "
        "place of 'still update' when overflow_still_update is off)",
        ", loss scale adjust to",
        Deferred(r"overflow, (still update|drop step), loss scale adjust to \[?" + _SCALE),
        lambda m: {"loss_scale": _num(m.group(2)), "still_update": m.group(1) == "still update"},
    ),
    Message(
        "loss_scale_overflow_transient",
        "deepspeed",
        "Grad overflow on iteration {n}",
        "deepspeed/runtime/fp16/fused_optimizer.py (_update_scale; unfused_optimizer.py and loss_scaler.py print "
        "'Grad overflow on iteration: {n}')",
        "Grad overflow on iteration",
        Deferred(r"Grad overflow on iteration:? {0,4}(\d{1,19})"),
        lambda m: {"iteration": int(m.group(1))},
    ),
    Message(
        "loss_scale_overflow_transient",
        "apex",
        "Gradient overflow.  Skipping step, loss scaler {i} reducing loss scale to {scale}",
        "apex/amp/scaler.py (also DeepSpeed's and Megatron's old fp16 optimizers)",
        "Gradient overflow.",
        Deferred(
            # apex/amp/_process_optimizer.py prints it without the scaler's id for fused optimizers
            r"Gradient overflow\.\s{1,8}Skipping step,(?: loss scaler(?: \d{1,6})?)? reducing loss scale to " + _SCALE
        ),
        lambda m: {"loss_scale": _num(m.group(1))},
    ),
    Message(
        "loss_scale_overflow_transient",
        "fairseq",
        "NOTE: gradient overflow detected, ignoring gradient, setting loss scale to: {scale}",
        "fairseq/trainer.py (fairseq >= 0.10; older: 'NOTE: overflow detected, setting loss scale to: {scale}')",
        "setting loss scale to",
        Deferred(r"setting loss scale to:? {0,4}" + _SCALE),
        lambda m: {"loss_scale": _num(m.group(1))},
    ),
    Message(
        "loss_scale_overflow_transient",
        "improved-diffusion",
        "Found NaN, decreased lg_loss_scale to {lg_loss_scale}",
        "openai improved-diffusion / guided-diffusion (train_util.py optimize_fp16, fp16_util.py "
        "MixedPrecisionTrainer._optimize_fp16): the scale is kept as its base-2 logarithm",
        "decreased lg_loss_scale to",
        Deferred(r"decreased lg_loss_scale to ([-+]?\d{1,9}(?:\.\d{0,20})?)"),
        # 2 ** lg; a scale far below 1 (a runaway, thousands of halvings) reads as 0
        lambda m: {"loss_scale": 2.0 ** min(float(m.group(1)), 1000.0)},
    ),
    Message(
        "loss_scale_overflow_transient",
        "megatron",
        "number of skipped iterations: {n}",
        "megatron/training/training.py training_log (a nonzero count: steps skipped on overflow)",
        "number of skipped iterations:",
        Deferred(r"number of skipped iterations: {0,8}([1-9]\d{0,9})"),
        lambda m: {"skipped": int(m.group(1))},
    ),
    Message(
        "loss_scale_minimum",
        "deepspeed",
        "Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.",
        "deepspeed/runtime/fp16/loss_scaler.py",
        "loss scale already at minimum",
    ),
    Message(
        "loss_scale_minimum",
        "fairseq",
        "Minimum loss scale reached ({min}). Your loss is probably exploding. Try lowering the learning rate, "
        "using gradient clipping or increasing the batch size.",
        "fairseq/optim/dynamic_loss_scaler.py",
        "Minimum loss scale reached",
        Deferred(r"Minimum loss scale reached \(" + _SCALE + r"\)"),
        lambda m: {"min_scale": _num(m.group(1))},
    ),
    Message(
        "loss_scale_minimum",
        "marian",
        "NaN/Inf percentage {:.2f} in {} gradient updates, but cost-scaling factor {} is already at minimum",
        "marian-nmt src/training/graph_group.cpp (GraphGroup::decreaseCostScaleFactor: its fp16 cost scaler, at "
        "its floor, still meets NaN/Inf gradients; warned, not aborted)",
        "is already at minimum",
        Deferred(r"but cost-scaling factor " + _SCALE + r" is already at minimum"),
        lambda m: {"min_scale": _num(m.group(1))},
    ),
    Message(
        "loss_scale_minimum",
        "icefall",
        "grad_scale is too small, exiting: {cur_grad_scale}",
        "k2-fsa/icefall recipes' train.py and their offspring (ZipVoice): the GradScaler's scale fell below 1e-5, "
        "after the 'Grad scale is small' warnings, then RuntimeError",
        "grad_scale is too small, exiting",
        Deferred(r"grad_scale is too small, exiting: {0,4}" + _SCALE),
        lambda m: {"min_scale": _num(m.group(1))},
    ),
    # ... and its warning on the way there, at its check every 100 batches: the scale below 0.01, the scaler halving it
    # overflow after overflow (the check doubles it back once under 1 or 8). No step skipped is counted from it: it
    # says the run computes in fp16 under a scaler, and the scale it names is read as a logged scale is (the reader's
    # LOSS_SCALE_FLOOR: one under it is the floor, unless a later scale comes back above it)
    Message(
        "mixed_precision",
        "icefall",
        "Grad scale is small: {cur_grad_scale}",
        "k2-fsa/icefall recipes' train.py (train_one_epoch: the GradScaler's scale under 0.01, warned at each check; "
        "under 1e-05 the RuntimeError above follows)",
        "Grad scale is small",
        Deferred(r"Grad scale is small: {0,4}" + _SCALE),
        lambda m: {"loss_scale": _num(m.group(1)), "dtype": "float16"},
    ),
    Message(
        "loss_scale_overflow_transient",
        "apex",
        "OVERFLOW! Skipping step. Attempted loss scale: {prev}, reducing to {new}",
        "apex/fp16_utils/fp16_optimizer.py (FP16_Optimizer, apex's first fp16 API; older: without ', reducing to'; "
        "copied by Megatron-LM's first fp16 optimizer and NVIDIA's BERT and Transformer-XL examples)",
        "OVERFLOW! Skipping step",
        Deferred(r"OVERFLOW! Skipping step\. Attempted loss scale: " + _SCALE + r"(?:, reducing to " + _SCALE + r")?"),
        lambda m: {"loss_scale": _num(m.group(2) or m.group(1)), "attempted": _num(m.group(1)) if m.group(2) else None},
    ),
    # ------------------------------------------------------------ out of memory
    # a trainer that caught the out-of-memory error, threw the batch away and went on: the job did
    # not die of it (forensics/ending.py), though it ran out of memory; first, so that a line quoting the
    # error it caught is read as caught
    Message(
        "oom",
        "fairseq",
        "attempting to recover from OOM in forward/backward pass",
        "fairseq/trainer.py train_step (after _log_oom's 'OOM: Ran out of memory with exception: {exc}'; fairseq "
        "<= 0.9 prints it after '| WARNING: '; fairseq2: 'Attempting to recover from OOM on R{rank} (OOMS={n})')",
        "to recover from OOM",
        Deferred(r"[Aa]ttempting to recover from OOM"),
        lambda m: {"recovered": True},
    ),
    Message(
        "oom",
        "fairseq",
        "| WARNING: ran out of memory, skipping batch",
        "fairseq-py <= 0.6 trainer.py (train_step), copied by ParlAI and many training loops",
        "ran out of memory, skipping batch",
        Deferred(r"ran out of memory, skipping batch"),
        lambda m: {"recovered": True},
    ),
    Message(
        "oom",
        "pytorch",
        "CUDA out of memory. Tried to allocate {size}",
        "c10/cuda/CUDACachingAllocator.cpp",
        "CUDA out of memory",
    ),
    Message("oom", "pytorch", "torch.OutOfMemoryError", "torch/__init__.py", "OutOfMemoryError"),
    Message(
        "oom",
        "pytorch",
        "HIP out of memory. Tried to allocate {size}",
        "c10/cuda/CUDACachingAllocator.cpp as hipified for ROCm builds (AMD GPUs; before torch.OutOfMemoryError it "
        "came as a plain RuntimeError)",
        "HIP out of memory",
    ),
    Message("oom", "pytorch", "CUDA error: out of memory", "c10/cuda/CUDAException", "CUDA error: out of memory"),
    Message(
        "oom",
        "pytorch",
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate {n} bytes.",
        "c10/core/impl/alloc_cpu.cpp",
        "can't allocate memory",
    ),
    Message(
        "oom",
        "tensorflow",
        "OOM when allocating tensor with shape[{shape}] and type {dtype} on {device} by allocator {name}",
        "tensorflow/core/common_runtime/bfc_allocator.cc",
        "OOM when allocating",
    ),
    Message(
        "oom",
        "tensorflow",
        "ResourceExhaustedError",
        "tensorflow/python/framework/errors_impl.py (not where the line names the disk: tsl's IOError maps ENOSPC "
        "and EDQUOT to RESOURCE_EXHAUSTED too, a write_failed)",
        "ResourceExhaustedError",
        Deferred(r"ResourceExhaustedError"),
        unless=Deferred(_DISK_FULL_WORDS),
    ),
    Message(
        "oom",
        "tensorflow",
        "RESOURCE_EXHAUSTED: ...",
        "tensorflow/core/platform/status.h (XLA/JAX too; not the disk's ENOSPC, as above)",
        "RESOURCE_EXHAUSTED",
        Deferred(r"RESOURCE_EXHAUSTED"),
        unless=Deferred(_DISK_FULL_WORDS),
    ),
    Message(
        "oom",
        "lua-torch",
        "THCudaCheck FAIL file={file} line={line} error=2 : out of memory",
        "cutorch/lib/THC/THCGeneral.c",
        "error=2 : out of memory",
    ),
    Message(
        "oom", "cublas", "CUBLAS_STATUS_ALLOC_FAILED", "cuBLAS status (PyTorch CUDA)", "CUBLAS_STATUS_ALLOC_FAILED"
    ),
    Message(
        "oom",
        "linux",
        "Out of memory: Killed process {pid}",
        "the kernel's OOM killer (dmesg, Slurm)",
        "Out of memory: Kill",
    ),
    Message("oom", "slurm", "oom-kill event(s) in StepId={id}", "slurmstepd (cgroup)", "oom-kill"),
    Message("oom", "slurm", "oom_kill event", "slurmstepd (older wording)", "oom_kill"),
    Message("oom", "python", "MemoryError", "Python built-in", "MemoryError", Deferred(r"^MemoryError\b")),
    Message(
        "oom",
        "lua-torch",
        "$ Torch: not enough memory: you tried to allocate {n}GB. Buy new RAM!",
        "torch7 lib/TH/THGeneral.c (THAlloc: Lua Torch and PyTorch <= 0.4 on CPU; PyTorch 1.x's c10 "
        "DefaultCPUAllocator wrote 'DefaultCPUAllocator: not enough memory: you tried to allocate {n} bytes. "
        "Buy new RAM!')",
        "not enough memory: you tried to allocate",
    ),
    Message(
        "oom",
        "lua-torch",
        "cuda runtime error (2) : out of memory at {file}:{line}",
        "cutorch lib/THC/THCGeneral.c (__THCudaCheck's _THError, after its 'THCudaCheck FAIL' line: Lua Torch "
        "and PyTorch <= 0.4 on CUDA)",
        "cuda runtime error (2) : out of memory",
    ),
    Message(
        "oom",
        "pytorch",
        "MPS backend out of memory (MPS allocated: {size}, other allocations: {size}, max allowed: {size}). "
        "Tried to allocate {size} on private pool.",
        "aten/src/ATen/mps/MPSAllocator.mm (Apple GPUs, PyTorch >= 2.0)",
        "MPS backend out of memory",
    ),
    Message(
        "oom",
        "transformers",
        "No executable batch size found, reached zero.",
        "accelerate/utils/memory.py (find_executable_batch_size: the HF Trainer's auto_find_batch_size halved the "
        "batch on every out-of-memory down to zero)",
        "No executable batch size found, reached zero",
    ),
    Message(
        "oom",
        "theano",
        "Error allocating {n} bytes of device memory (out of memory).",
        "theano/sandbox/cuda/cuda_ndarray.cu (device_malloc: Keras 1/2 on the Theano backend; raised as "
        "MemoryError, also printed without it)",
        "bytes of device memory (out of memory)",
    ),
    Message(
        "oom",
        "mxnet",
        "cudaMalloc failed: out of memory",
        "mxnet src/storage/pooled_storage_manager.h (GPUPooledStorageManager::Alloc, MXNet 0.x-1.x: LOG(FATAL) << "
        '"cudaMalloc failed: " << cudaGetErrorString(e); the same words in many CUDA programs\' own checks): '
        "cudaGetErrorString of cudaErrorMemoryAllocation is 'out of memory'",
        "cudaMalloc failed: out of memory",
    ),
    # ------------------------------------------------------------ distributed failures: not divergence
    Message(
        "distributed_failure",
        "pytorch",
        "[Rank {rank}] Watchdog caught collective operation timeout: WorkNCCL(SeqNum={n}, OpType={op}, ...) "
        "ran for {ms} milliseconds before timing out.",
        "torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp",
        "Watchdog caught collective operation timeout",
        Deferred(r"OpType=(\w{1,32})"),
        lambda m: {"collective": m.group(1), "what": "timeout"},
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "NCCL error in: {file}:{line}, {reason}",
        "torch/csrc/distributed/c10d/NCCLUtils.hpp (DistBackendError)",
        "NCCL error",
        Deferred(r"NCCL error(?: in: \S{1,256})?,? ?(\w{0,64})"),
        lambda m: {"what": "nccl_error", "reason": m.group(1) or None},
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "torch.distributed.DistBackendError",
        "torch/distributed/distributed_c10d.py",
        "DistBackendError",
        None,
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError",
        "torch/distributed/elastic/multiprocessing/errors/__init__.py (torchrun: a worker died)",
        "ChildFailedError",
        None,
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "Socket Timeout",
        "torch/csrc/distributed/c10d/TCPStore (rendezvous)",
        "Socket Timeout",
        None,
    ),
    Message(
        "distributed_failure",
        "deepspeed",
        "Timed out initializing process group in store based barrier",
        "torch/distributed/distributed_c10d.py (_store_based_barrier)",
        "Timed out initializing process group",
        None,
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "Some NCCL operations have failed or timed out. Due to the asynchronous nature of CUDA kernels, "
        "subsequent GPU operations might run on corrupted/incomplete data.",
        "torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp (WorkNCCL::handleException, before it takes the "
        "process down)",
        "Some NCCL operations have failed or timed out",
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "[Rank {rank}] Caught collective operation timeout for work: WorkNCCL(OpType={op}, ...)",
        "torch/lib/c10d/ProcessGroupNCCL.cpp (PyTorch 1.x, before the watchdog's wording; then 'Operation timed out!')",
        "Caught collective operation timeout",
        Deferred(r"Caught collective operation timeout"),
        lambda m: {"what": "timeout"},
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "[{file}:{line}] Timed out waiting {ms}ms for recv operation to complete",
        "third_party/gloo/gloo/transport/tcp/unbound_buffer.cc (the Gloo backend, CPU: a rank that never sent)",
        "Timed out waiting ",
        Deferred(r"Timed out waiting \d{1,12}ms for (?:recv|send) operation to complete"),
        lambda m: {"what": "timeout"},
    ),
    Message(
        "distributed_failure",
        "pytorch",
        "[../third_party/gloo/gloo/transport/tcp/pair.cc:{line}] Connection closed by peer [{address}]:{port}",
        "third_party/gloo/gloo/transport/tcp/pair.cc (the Gloo backend: another rank's process went away)",
        "] Connection closed by peer",
        Deferred(r"gloo/transport/\w{1,8}/pair\.cc:\d{1,6}\] Connection closed by peer"),
        lambda m: {"what": "peer_closed"},
    ),
    Message(
        "distributed_failure",
        "tensorflow",
        "Collective ops is aborted by: {status}\nThe error could be from a previous operation. Restart your "
        "program to reset.",
        "tensorflow/core/common_runtime/base_collective_executor.cc (StartAbort: MultiWorkerMirroredStrategy and "
        "Keras fit on several GPUs or workers, NCCL or gRPC)",
        "Collective ops is aborted by",
    ),
    Message(
        "distributed_failure",
        "jax",
        "NCCL operation {call} failed: {reason}. Last NCCL warning(error) log entry (may be unrelated) '{entry}'.",
        "xla/service/gpu/nccl_api.cc, nccl_utils.cc (XLA_NCCL_STATUS: JAX on several GPUs)",
        "NCCL operation ",
        Deferred(r"NCCL operation \w{1,64}\(\) failed: ([\w ]{1,64})"),
        lambda m: {"what": "nccl_error", "reason": m.group(1).strip()},
    ),
    # ------------------------------------------------------------ a data-loading worker died: not divergence
    Message(
        "worker_died",
        "pytorch",
        "DataLoader worker (pid {pid}) is killed by signal: {signal}.",
        "torch/csrc/DataLoader.cpp (_error_if_any_worker_fails, strsignal's name: 'Killed' is SIGKILL, the host's "
        "OOM killer as a rule; 'Bus error' adds that the workers may be out of shared memory)",
        ") is killed by",
        Deferred(
            r"DataLoader worker \(pid \d{1,10}\) is killed by(?:\s{0,8}$| signal:(?:\s{0,8}$| "
            r"(?!(?:Terminated|Interrupt|Hangup)\b)([A-Za-z][A-Za-z ]{0,39}[a-z])))"
        ),
        lambda m: {"signal": m.group(1)} if m.group(1) else {},  # a paste cut short of the signal's name
    ),
    # ... but SIGTERM, SIGINT and SIGHUP come from outside the job (a scheduler's time limit or preemption, Ctrl+C, a
    # closed terminal): the signal stopped the job and its workers with it, and the worker's death is no cause
    Message(
        "job_killed",
        "pytorch",
        "DataLoader worker (pid {pid}) is killed by signal: {Terminated|Interrupt|Hangup}.",
        "torch/csrc/DataLoader.cpp (_error_if_any_worker_fails, strsignal of SIGTERM, SIGINT, SIGHUP: PyTorch itself "
        "stops its workers only after it stopped watching them, so these were sent from outside)",
        "is killed by signal: ",
        Deferred(r"DataLoader worker \(pid \d{1,10}\) is killed by signal: (Terminated|Interrupt|Hangup)\b"),
        lambda m: {"what": "signal", "signal": {"Hangup": 1, "Interrupt": 2, "Terminated": 15}[m.group(1)]},
    ),
    Message(
        "worker_died",
        "pytorch",
        "DataLoader worker (pid {pid}) exited unexpectedly with exit code {code}.",
        "torch/csrc/DataLoader.cpp (_error_if_any_worker_fails: a worker that exited without a signal)",
        "exited unexpectedly with exit code",
        Deferred(r"DataLoader worker \(pid \d{1,10}\) exited unexpectedly with exit code (-?\d{1,4})"),
        lambda m: {"exit_code": int(m.group(1))},
    ),
    Message(
        "worker_died",
        "pytorch",
        "DataLoader worker (pid(s) {pids}) exited unexpectedly",
        "torch/utils/data/dataloader.py (_try_get_data: the error raised in the main process after the worker's own)",
        "DataLoader worker (pid(s) ",
        Deferred(r"DataLoader worker \(pid\(s\) [\d, ]{1,200}\) exited unexpectedly"),
    ),
    Message(
        "worker_died",
        "pytorch",
        "ERROR: Unexpected {bus error|segmentation fault|floating-point exception} encountered in worker.",
        "torch/csrc/DataLoader.cpp (the worker's own signal handlers, printed before it dies; the bus error adds "
        "'This might be caused by insufficient shared memory (shm).')",
        " encountered in worker.",
        Deferred(r"ERROR: Unexpected (bus error|segmentation fault|floating-point exception) encountered in worker\."),
        lambda m: {"signal": m.group(1)},
    ),
    # ------------------------------------------------------------ a file the job could not write: not divergence
    Message(
        "write_failed",
        "python",
        "OSError: [Errno 28] No space left on device",
        "strerror(ENOSPC) as Python's OSError prints it ('[Errno 28]' on Linux and macOS), and wherever a library "
        "passes the OS's words on: TensorFlow's file systems ('{path}; No space left on device', tsl IOError), h5py, "
        "shutil; PyTorch's shared memory for DataLoader batches ('unable to write to file </torch_{id}>: No space "
        "left on device (28)', torch/lib/libshm: /dev/shm full); EDQUOT's 'Disk quota exceeded' [Errno 122] likewise",
        "No space left on device",
        Deferred(r"No space left on device"),
        lambda m: {"what": "shared_memory" if "</torch_" in m.string else "disk_full"},
    ),
    Message(
        "write_failed",
        "python",
        "OSError: [Errno 122] Disk quota exceeded",
        "strerror(EDQUOT) as Python's OSError prints it (Linux; a user's or project's quota full)",
        "Disk quota exceeded",
        Deferred(r"\[Errno \d{1,4}\] Disk quota exceeded"),
        lambda m: {"what": "quota"},
    ),
    Message(
        "write_failed",
        "python",
        "OSError: [WinError 112] There is not enough space on the disk",
        "FormatMessage of ERROR_DISK_FULL (112) as Python's OSError prints it on Windows",
        "not enough space on the disk",
        Deferred(r"There is not enough space on the disk"),
        lambda m: {"what": "disk_full"},
    ),
    Message(
        "write_failed",
        "pytorch",
        "PytorchStreamWriter failed writing file {name}: file write failed",
        "caffe2/serialize/inline_container.cc (PyTorchStreamWriter::valid: 'PytorchStreamWriter failed ', what, info, "
        "': ', miniz's error string; torch.save's zip writer, whose write came back short: a full disk as a rule)",
        "PytorchStreamWriter failed ",
        Deferred(r"PytorchStreamWriter failed (writing file|writing central directory|writing)"),
        lambda m: {"what": "short_write"},
    ),
    Message(
        "write_failed",
        "pytorch",
        "[enforce fail at inline_container.cc:{line}] . unexpected pos {pos} vs {expected}",
        "caffe2/serialize/inline_container.cc (PyTorchStreamWriter::writeRecord / writeEndOfFile: the file's "
        "position is short of the bytes handed to it, torch.save on a full disk; after 'basic_ios::clear: iostream "
        "error' in torch >= 2.0)",
        "unexpected pos ",
        Deferred(r"unexpected pos \d{1,20} vs \d{1,20}"),
        lambda m: {"what": "short_write"},
    ),
    Message(
        "write_failed",
        "pytorch",
        "File {name} cannot be opened.",
        "caffe2/serialize/inline_container.cc (PyTorchStreamWriter::setup, torch.save's CAFFE_ENFORCE on the "
        "ofstream: a missing directory, no permission, or no room for the file's entry on a full disk)",
        " cannot be opened.",
        Deferred(r"(?:^|Error: |\] \. )File \S[^\n]{0,500} cannot be opened\.\s{0,8}$"),
        lambda m: {"what": "open"},
    ),
    Message(
        "write_failed",
        "numpy",
        "{requested} requested and {written} written",
        "numpy/core/src/multiarray/convert.c (PyArray_ToFile: OSError when fwrite wrote fewer items than asked; "
        "ndarray.tofile and np.save of a contiguous array on a full disk)",
        " requested and ",
        Deferred(r"(?:OSError: |^)\d{1,20} requested and \d{1,20} written"),
        lambda m: {"what": "short_write"},
    ),
    # ------------------------------------------------------------ a CUDA kernel faulted: not divergence
    Message(
        "cuda_fault",
        "pytorch",
        "CUDA error: an illegal memory access was encountered",
        "c10/cuda/CUDAException (C10_CUDA_CHECK: 'CUDA error: ' and cudaGetErrorString of cudaErrorIllegalAddress; "
        "of cudaErrorMisalignedAddress 'misaligned address', of cudaErrorIllegalInstruction 'an illegal instruction "
        "was encountered', of cudaErrorLaunchFailure 'unspecified launch failure', and the device's own faults: "
        "cudaErrorECCUncorrectable 'uncorrectable ECC error encountered', cudaErrorLaunchTimeout 'the launch timed out "
        "and was terminated', cudaErrorHardwareStackError 'hardware stack error'); Lua Torch and "
        "PyTorch <= 0.4: 'cuda runtime error (77) : an illegal memory access was encountered at {file}:{line}'",
        "CUDA error: ",
        Deferred(
            r"CUDA error: (an illegal memory access was encountered|misaligned address"
            r"|an illegal instruction was encountered|unspecified launch failure"
            r"|uncorrectable ECC error encountered|the launch timed out and was terminated|hardware stack error)"
        ),
        lambda m: {"what": m.group(1)},
    ),
    Message(
        "cuda_fault",
        "lua-torch",
        "cuda runtime error (77) : an illegal memory access was encountered at {file}:{line}",
        "cutorch lib/THC/THCGeneral.c (__THCudaCheck: Lua Torch and PyTorch <= 0.4)",
        "cuda runtime error (",
        Deferred(r"cuda runtime error \((?:77|74|73|4)\) : ([a-z ]{0,60}?[a-z])(?= at |\s{0,8}$)"),
        lambda m: {"what": m.group(1).strip()},
    ),
    Message(
        "cuda_fault",
        "tensorflow",
        "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered",
        "the CUDA driver API's cuGetErrorName and cuGetErrorString as TensorFlow's and XLA's stream executor print "
        "them ('failed to synchronize the stop event: CUDA_ERROR_ILLEGAL_ADDRESS: ...'); also "
        "CUDA_ERROR_MISALIGNED_ADDRESS, CUDA_ERROR_ILLEGAL_INSTRUCTION, CUDA_ERROR_LAUNCH_FAILED and the device's "
        "CUDA_ERROR_ECC_UNCORRECTABLE, CUDA_ERROR_LAUNCH_TIMEOUT, CUDA_ERROR_HARDWARE_STACK_ERROR",
        "CUDA_ERROR_",
        Deferred(
            r"CUDA_ERROR_(ILLEGAL_ADDRESS|MISALIGNED_ADDRESS|ILLEGAL_INSTRUCTION|LAUNCH_FAILED|ECC_UNCORRECTABLE"
            r"|LAUNCH_TIMEOUT|HARDWARE_STACK_ERROR)\b"
        ),
        lambda m: {"what": m.group(1).lower()},
    ),
    Message(
        "cuda_fault",
        "cuda-runtime",
        "transform: failed to synchronize: cudaErrorECCUncorrectable: uncorrectable ECC error encountered",
        "the CUDA runtime's error names (cudaGetErrorName) as libraries that call it directly print them beside "
        "cudaGetErrorString's text: Thrust's and CUB's 'failed to synchronize: {name}: {string}', cuDNN and NCCL "
        "wrappers; the same faults as above by their enum names",
        "cudaError",
        Deferred(
            r"\bcudaError(IllegalAddress|MisalignedAddress|IllegalInstruction|LaunchFailure|ECCUncorrectable"
            r"|LaunchTimeout|HardwareStackError)\b"
        ),
        lambda m: {"what": m.group(1)},
    ),
    # ------------------------------------------------------------ how the run computes
    Message(
        "mixed_precision",
        "lightning",
        "Using {16bit|bfloat16} Automatic Mixed Precision (AMP)",
        "lightning/pytorch/trainer/connectors/accelerator_connector.py (Lightning 2; Fabric's "
        "lightning/fabric/connector.py writes '16-bit')",
        "Automatic Mixed Precision (AMP)",
        Deferred(r"Using (16bit|16-bit|bfloat16) Automatic Mixed Precision"),
        lambda m: {"dtype": "bfloat16" if m.group(1) == "bfloat16" else "float16"},
    ),
    Message(
        "mixed_precision",
        "lightning",
        "Using native 16bit precision.",
        "pytorch_lightning/trainer/connectors/accelerator_connector.py (PyTorch Lightning 1.x, precision=16)",
        "Using native 16bit precision",
        Deferred(r"Using native 16bit precision"),
        lambda m: {"dtype": "float16"},
    ),
    # Ultralytics checks at start that AMP gives what float32 gives on this GPU (utils/checks.py check_amp) and turns
    # it off when not: its words say which precision the run then computes in
    Message(
        "mixed_precision",
        "ultralytics",
        "AMP: checks failed ❌. Anomalies were detected with AMP on your system that may lead to NaN losses or "
        "zero-mAP results, so AMP will be disabled during training.",
        "ultralytics/utils/checks.py check_amp (YOLOv8 to YOLO11; later releases drop the ❌, the paste may too)",
        "so AMP will be disabled during training",
        Deferred(r"checks failed\W{0,8}Anomalies were detected with AMP[^\n]{0,120}so AMP will be disabled"),
        lambda m: {"dtype": "float32", "amp": "disabled"},
    ),
    Message(
        "mixed_precision",
        "yolov5",
        "AMP: checks failed ❌, disabling Automatic Mixed Precision. See {help_url}",
        "yolov5/utils/general.py check_amp (v6.2 on)",
        "disabling Automatic Mixed Precision",
        Deferred(r"AMP: {0,2}checks failed\W{0,8}disabling Automatic Mixed Precision"),
        lambda m: {"dtype": "float32", "amp": "disabled"},
    ),
    Message(
        "mixed_precision",
        "ultralytics",
        "AMP: checks passed ✅",
        "ultralytics/utils/checks.py and yolov5/utils/general.py check_amp: AMP stays on (amp=True is their default), "
        "the forward pass under autocast and a GradScaler scaling the loss",
        "AMP: checks passed",
        Deferred(_LOGGED_ALONE + r"AMP: checks passed"),
        lambda m: {"dtype": "float16"},
    ),
    # OpenMMLab states mixed precision in its config's own name ('mask-rcnn_r50_fpn_amp-1x_coco.py',
    # 'mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.py', mmcv 1.x's 'faster_rcnn_r50_fpn_fp16_1x_coco.py'), and
    # its runners print that name with the run's timestamp on every logging interval
    Message(
        "mixed_precision",
        "mmengine",
        "Exp name: {config}-amp-{schedule}_{timestamp}",
        "mmengine/hooks/logger_hook.py after_train_iter: runner.logger.info(f'Exp name: {runner.experiment_name}'), "
        "the config file's stem and the timestamp (mmcv 1.x's TextLoggerHook prints 'Exp name: {config file}'); "
        "an 'amp', 'fp16' or 'bf16' part of that name is OpenMMLab's naming of a mixed-precision config",
        "Exp name: ",
        Deferred(r"Exp name: [\w.-]{0,200}?(?<![A-Za-z0-9])(amp|fp16|bf16)(?![A-Za-z0-9])"),
        lambda m: {"dtype": "bfloat16" if m.group(1) == "bf16" else "float16", "stated_by": "config_name"},
    ),
    Message(
        "mixed_precision",
        "mmengine",
        "optim_wrapper = dict(type='AmpOptimWrapper', ...)",
        "the config mmengine's Runner prints at start ('Config:' then the config's text): AmpOptimWrapper runs the "
        "forward pass under autocast with a loss scaler (mmengine/optim/optimizer/amp_optimizer_wrapper.py; its "
        "dtype float16 unless the config says dtype='bfloat16')",
        "AmpOptimWrapper",
        Deferred(r"AmpOptimWrapper(?:[^\n]{0,200}?dtype=['\"](bfloat16|float16)['\"])?"),
        lambda m: {"dtype": m.group(1) or "float16", "stated_by": "config"},
    ),
    # ------------------------------------------------------------ what a metrics logger was given
    Message(
        "nonfinite_logged",
        "tensorboardx",
        "NaN or Inf found in input tensor.",
        "tensorboardX/x2num.py check_nan, called by make_np on every scalar, histogram and image a SummaryWriter "
        "writes (2.x: logger.warning, shown as 'WARNING:tensorboardX.x2num:...'; 1.x printed it after 'Warning: ')",
        "NaN or Inf found in input tensor",
    ),
    Message(
        "nonfinite_logged",
        "yolact",
        "Warning: Moving average ignored a value of {value}",
        "YOLACT utils/functions.py MovingAverage.add (its loss meters: a value that is not math.isfinite is dropped "
        "from the running mean; the first release dropped values above 999999999999 with the same words; copied by "
        "YolactEdge, yolact++ forks and other trainers)",
        "Moving average ignored a value of",
    ),
    Message(
        "nonfinite_logged",
        "espnet2",
        "UserWarning: No valid stats found",
        "espnet2/train/reporter.py aggregate (and FunASR's copy, funasr/train/reporter.py): a weighted stat's values "
        "that are not finite are left out of its mean over the interval, and when none is left the stat is printed as "
        "nan after this warning; the warning's second line echoes the source line, which is no second message",
        "No valid stats found",
        Deferred(r"UserWarning: No valid stats found"),
    ),
    # ------------------------------------------------------------ NumPy's floating-point warnings
    Message(
        "numpy_fp_warning",
        "numpy",
        "RuntimeWarning: invalid value encountered in {op}",
        "numpy's ufunc floating-point error handler (_error_handler in its C umath sources: '%s encountered in "
        "%s', the first 'divide by zero', 'overflow', 'underflow' or 'invalid value', under np.seterr's default "
        "'warn' for divide, over and invalid; under is ignored unless set), shown by "
        "Python's warnings as 'FILE:LINE: RuntimeWarning: ...'); {op} is the ufunc (log, divide, true_divide, "
        "exp, power, sqrt), 'reduce' for a reduction, 'scalar divide' (numpy >= 1.25) or 'double_scalars' "
        "(older) for a scalar's arithmetic",
        "encountered in",
        Deferred(
            r"(?:([\w.-]{1,128})\.py:\d{1,9}: )?"
            r"RuntimeWarning: (divide by zero|overflow|underflow|invalid value) encountered in (\w{1,40}(?: \w{1,40})?)"
        ),
        lambda m: {"what": m.group(2), "op": m.group(3), **({"where": m.group(1)} if m.group(1) else {})},
    ),
    # ------------------------------------------------------------ a native crash: died with no Python exception
    Message(
        "native_crash",
        "glibc",
        "*** Error in `{argv0}': {check}: 0x{pointer} ***",
        "glibc malloc/malloc.c (malloc_printerr before 2.26: __libc_message's '*** Error in `%s': %s: 0x%s ***\\n', "
        "then abort(): SIGABRT); {check} is the check that failed ('free(): invalid next size (fast)', 'double free "
        "or corruption (fasttop)', 'malloc(): memory corruption'...)",
        "*** Error in `",
        Deferred(r"\*\*\* Error in `([^'`\n]{1,300})': ([^*\n]{1,200}): 0x[0-9a-fA-F]{1,16} \*\*\*"),
        lambda m: {"signal": "SIGABRT", "program": m.group(1).rsplit("/", 1)[-1], "what": m.group(2)},
    ),
    Message(
        "native_crash",
        "glibc",
        "free(): invalid pointer",
        "glibc malloc/malloc.c (malloc_printerr from 2.26: '%s\\n' of the failed check alone, then abort(): "
        "'free(): invalid pointer', 'malloc(): corrupted top size', 'munmap_chunk(): invalid pointer', "
        "'free(): double free detected in tcache 2'...); a line of its own",
        "(): ",
        Deferred(
            r"^\s{0,16}((?:free|malloc|realloc|calloc|munmap_chunk|malloc_consolidate|_int_malloc|_int_free|"
            r"tcache_thread_shutdown)\(\): [a-z][\w ().,/-]{2,80})\s{0,8}$"
        ),
        lambda m: {"signal": "SIGABRT", "what": m.group(1)},
    ),
    Message(
        "native_crash",
        "glibc",
        "double free or corruption (out)",
        "glibc malloc/malloc.c (_int_free's checks; a line of its own from 2.26, inside '*** Error in' before)",
        "double free or corruption (",
        Deferred(r"^\s{0,16}(double free or corruption \((?:out|top|fasttop|!prev)\))\s{0,8}$"),
        lambda m: {"signal": "SIGABRT", "what": m.group(1)},
    ),
    Message(
        "native_crash",
        "glibc",
        "corrupted size vs. prev_size",
        "glibc malloc/malloc.c (unlink_chunk's and the top chunk's checks, a line of their own from 2.26)",
        "corrupted ",
        Deferred(
            r"^\s{0,16}(corrupted (?:size vs\. prev_size|double-linked list(?: \(not small\))?|top size))\s{0,8}$"
        ),
        lambda m: {"signal": "SIGABRT", "what": m.group(1)},
    ),
    Message(
        "native_crash",
        "libstdc++",
        "terminate called after throwing an instance of '{type}'\\n  what():  {what}",
        "libstdc++-v3/libsupc++/vterminate.cc (__gnu_cxx::__verbose_terminate_handler, the default std::terminate of "
        "g++ builds: an uncaught C++ exception, then abort(); the '  what():  ' line follows for a std::exception)",
        "terminate called ",
        Deferred(r"terminate called (?:after throwing an instance of '([^'\n]{1,300})'|without an active exception)"),
        lambda m: {"signal": "SIGABRT", **({"thrown": m.group(1)} if m.group(1) else {})},
    ),
    Message(
        "native_crash",
        "cpython",
        "Fatal Python error: {Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception}",
        "Modules/faulthandler.c (faulthandler_fatal_error: 'Fatal Python error: ' and the signal's name, then the "
        "threads' stacks 'Current thread 0x... (most recent call first):'; Py_FatalError writes the same start)",
        "Fatal Python error: ",
        Deferred(r"Fatal Python error: (\S.{0,300})"),
        lambda m: {"what": m.group(1).strip()},
    ),
    Message(
        "native_crash",
        "glog",
        "*** SIGSEGV (@0x{hex}) received by PID {pid} (TID 0x{hex}) from PID {pid}; stack trace: ***",
        "glog src/signalhandler.cc (InstallFailureSignalHandler, which Caffe, PaddlePaddle, MXNet and absl-era "
        'TensorFlow builds install: \'*** Aborted at {time} (unix time) try "date -d @{time}" if you are using GNU '
        "date ***', 'PC: @ ...', then this line naming the signal (SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL, "
        "SIGTERM), then the frames); newer glog leaves out 'from PID'",
        " received by PID ",
        # (SIGTERM, SIGINT and SIGHUP come from outside the job, a scheduler or a user: job_killed below; a
        # line quoted in prose, a quote before it, is no handler's)
        Deferred(
            r"(?<![\"'`])\*\*\* (SIG(?!TERM\b|INT\b|HUP\b)[A-Z]{2,8}) \(@0x[0-9a-fA-F]{1,16}\) received by PID \d{1,10}"
        ),
        lambda m: {"signal": m.group(1)},
    ),
    Message(
        "job_killed",
        "glog",
        "*** SIGTERM (@0x{hex}) received by PID {pid} (TID 0x{hex}) from PID {pid}; stack trace: ***",
        "glog src/signalhandler.cc, as for a native crash above, of a signal sent from outside the job (a scheduler's "
        "time limit or preemption, a user's kill or Ctrl-C): the job was stopped, it did not fail",
        " received by PID ",
        Deferred(r"(?<![\"'`])\*\*\* SIG(TERM|INT|HUP) \(@0x[0-9a-fA-F]{1,16}\) received by PID \d{1,10}"),
        lambda m: {"what": "signal", "signal": {"HUP": 1, "INT": 2, "TERM": 15}[m.group(1)]},
    ),
    Message(
        "native_crash",
        "lua",
        "{progname}: {file}:{line}: {error}\\nstack traceback:",
        "lua.c and LuaJIT's luajit.c (l_message: '%s: ' of the interpreter's name, then the error with the "
        "traceback its message handler adds, luaL_traceback's 'stack traceback:'): an uncaught Lua error ends the "
        "interpreter; the reader takes the line above as the message",
        "stack traceback:",
        Deferred(r"^\s{0,8}stack traceback:\s{0,8}$"),
        lambda m: {"framework": "lua"},
    ),
    *(
        Message(
            "native_crash",
            "shell",
            f"{{script}}: line {{line}}: {{pid}} {name} (core dumped) {{command}}",
            "bash jobs.c (notify_of_job_status: a job a signal killed, strsignal's name and ' (core dumped)'; in a "
            "script '%s: line %d: ' and the job's pid, its name padded to the status column, and its command; an "
            "interactive bash and dash print the name and ' (core dumped)' alone)",
            name,
            _shell_report(name),
            lambda m, sig=sig: {"signal": sig},
        )
        for name, sig in _CRASH_SIGNALS
    ),
    # bash's report of SIGKILL: the kernel's OOM killer, a scheduler or a user's kill -9; an out-of-memory line of the
    # log (the kernel's, Slurm's oom-kill) says which, and is what the job died of (report's `ended`)
    Message(
        "job_killed",
        "shell",
        "{script}: line {line}: {pid} Killed {command}",
        "bash jobs.c (notify_of_job_status, strsignal(SIGKILL); 'Killed' alone in an interactive bash and dash)",
        "Killed",
        _shell_report("Killed"),
        lambda m: {"what": "signal", "signal": 9},
    ),
    # ------------------------------------------------------------ how the job ended (report's `ended`)
    Message(
        "job_finished",
        "transformers",
        "Training completed. Do not forget to share your model on huggingface.co/models =)",
        "transformers/trainer.py (Trainer._inner_training_loop)",
        "Training completed. Do not forget",
    ),
    Message(
        "job_finished",
        "lightning",
        "`Trainer.fit` stopped: `max_epochs={n}` reached.",
        "lightning/pytorch/loops/fit_loop.py (FitLoop.done)",
        "`Trainer.fit` stopped: `max_",
    ),
    Message(
        "early_stopping",
        "keras",
        "Epoch {epoch}: early stopping",
        "keras/src/callbacks/early_stopping.py (Keras 3; Keras 2 pads the epoch: 'Epoch 00012')",
        ": early stopping",
        Deferred(r"Epoch (\d{1,9}): early stopping"),
        lambda m: {"epoch": int(m.group(1))},
    ),
    Message(
        "early_stopping",
        "lightning",
        "Monitored metric {monitor} did not improve in the last {n} records. Best score: {best}. "
        "Signaling Trainer to stop.",
        "lightning/pytorch/callbacks/early_stopping.py",
        "did not improve in the last",
    ),
    Message(
        "job_killed",
        "slurm",
        "slurmstepd: error: *** JOB {id} ON {node} CANCELLED AT {time} DUE TO TIME LIMIT ***",
        "slurmstepd (the job or step ran past its --time)",
        "DUE TO TIME LIMIT",
        None,
        lambda m: {"what": "time_limit"},
    ),
    Message(
        "job_killed",
        "pytorch",
        "torch.distributed.elastic.multiprocessing.api.SignalException: Process {pid} got signal: {sig}",
        "torch/distributed/elastic/multiprocessing/api.py (torchrun, the launcher signalled)",
        "SignalException: Process",
        Deferred(r"got signal: (\d{1,3})"),
        lambda m: {"what": "signal", "signal": int(m.group(1))},
    ),
    Message(
        "job_killed",
        "pytorch",
        "Received {sig} death signal, shutting down workers",
        "torch/distributed/elastic/agent/server/api.py (SimpleElasticAgent.run, torchrun's agent caught a "
        "SignalException; {sig} is the number, or 'Signals.SIGTERM' where Python < 3.11 printed the enum's name)",
        "death signal, shutting down workers",
        Deferred(r"Received (?:Signals\.)?(SIG[A-Z]{2,6}|\d{1,3}) death signal"),
        lambda m: {"what": "signal", "signal": _signal_number(m.group(1))},
    ),
    # last: a family's wording in any words gives way to a framework's own on one line (match_messages keeps one
    # nan_loss a line, the first met); each spelling of the value is one entry, so the pattern runs only on lines
    # holding it
    *(
        Message(
            "nan_loss",
            GENERIC,
            text,
            "a trainer's own statement, in any words, that its loss is NaN or Inf, with no stop, skip or condition on "
            "the line (NeMo 0.x's warning 'WARNING: Loss is NaN or inf {loss}', 'loss became nan', 'Total loss is "
            "inf', the Low-rank Multimodal Fusion scripts' 'Training got into NaN values...'): the value went "
            "non-finite. A condition ('if the loss is NaN, lower the LR') only describes a "
            "check; a skip is its own family; a validation loss is an evaluation's",
            needle,
            _NONFINITE_STATEMENT,
            _statement_fields,
            _NONFINITE_STATEMENT_UNLESS,
        )
        # not 'inf', 'Inf' nor 'INF' alone: every 'info', 'Info' and 'INFO' line of a log would run the catalogue
        for needle, text in (
            ("NaN", "WARNING: Loss is NaN"),
            ("nan", "loss is nan"),
            ("NAN", "LOSS IS NAN"),
            ("Nan", "Loss is Nan"),
            ("inf ", "loss is inf (step 12)"),
            ("inf.", "loss is inf."),
            ("inf,", "loss is inf, lowering the learning rate"),
            ("s inf", "loss is inf"),
            ("e inf", "total loss became inf"),
            ("Inf ", "Loss is Inf (step 12)"),
            ("Inf.", "Loss is Inf."),
            ("Inf,", "Loss is Inf, lowering the learning rate"),
            ("s Inf", "Loss is Inf"),
            ("e Inf", "Total loss became Inf"),
            ("finite", "loss is non-finite"),
            ("FINITE", "LOSS IS NON-FINITE"),
            ("S INF", "LOSS IS INF"),
            ("s INF", "Loss is INF"),
            ("E INF", "LOSS BECAME INF"),
            ("t inf", "loss went inf"),
            ("o inf", "loss went to inf"),
            ("-inf", "loss is -inf"),
        )
    ),
)


def _signal_number(sig: str) -> int | str:
    """A signal as a number where POSIX fixes it (SIGTERM 15...), else as its name."""
    return int(sig) if sig.isdigit() else _POSIX_SIGNALS.get(sig, sig)


_POSIX_SIGNALS = {"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGKILL": 9, "SIGTERM": 15}

NEEDLES = tuple(sorted({m.needle for m in CATALOGUE}))

# NaN/Inf checks whose only way to raise is a non-finite value: a traceback through one of them is
# that guard firing, also when the paste stops at its frame, before the exception line. Name ->
# (framework, where the function is).
GUARD_FUNCTIONS: dict[str, tuple[str, str]] = {
    "detect_nan_tensors": (
        "lightning",
        "pytorch_lightning/trainer/training_tricks.py (TrainerTrainingTricksMixin.detect_nan_tensors, called by "
        "run_training_batch under Trainer(terminate_on_nan=True), PyTorch Lightning 0.7-1.4): raises only on a "
        "non-finite loss or weight",
    ),
    "detect_nan_parameters": (
        "lightning",
        "pytorch_lightning/utilities/finite_checks.py (PyTorch Lightning 1.3-1.5): raises only on a non-finite weight",
    ),
    "_detect_anomaly": (
        "detectron2",
        "detectron2/engine/train_loop.py (SimpleTrainer._detect_anomaly, 2019-2020, and the trainers copied from it): "
        "raises FloatingPointError only on a non-finite total loss",
    ),
}
# a frame of one: 'File "...", line 12, in detect_nan_tensors' or the call 'self.detect_nan_tensors(loss)'
_GUARD_FRAME = re.compile(
    r"(?:\bin (?P<inside>"
    + "|".join(GUARD_FUNCTIONS)
    + r")\s*$|(?:^|[\s.=(])(?P<call>"
    + "|".join(GUARD_FUNCTIONS)
    + r")\()"
)


def guard_frame(frames: tuple[str, ...] | list[str]) -> tuple[str, str] | None:
    """(function, framework) of the first traceback frame inside or calling a catalogued NaN check."""
    for frame in frames:
        if not any(name in frame for name in GUARD_FUNCTIONS):
            continue
        m = _GUARD_FRAME.search(frame.strip())
        if m:
            name = m.group("inside") or m.group("call")
            return name, GUARD_FUNCTIONS[name][0]
    return None


# A project's own NaN check written as a Python statement: an ``assert`` whose condition tests a value for NaN or
# Inf (``assert not torch.isnan(flow_preds[i]).any()``), or a one-line ``if <test>: raise X``. A traceback whose last
# frame is that statement, ended by the exception it raises, is the check firing: the value was non-finite. The
# tests: a call of isnan / isinf / isfinite in any of the array libraries' spellings (torch, NumPy, math, JAX;
# TensorFlow's is_nan / is_inf / is_finite), the tensor methods, and a value compared with itself (NaN != NaN).
_NONFINITE_TEST = re.compile(
    r"(?<!\w)(?:is_?nan|is_?inf|is_?finite|isneginf|isposinf)\(\s{0,4}(?P<arg>[A-Za-z_][\w.]{0,80}(?:\[[^\]\n]{0,40}\])?)?"
    r"|(?P<recv>[A-Za-z_][\w.]{0,80}(?:\[[^\]\n]{0,40}\])?)\.is(?:nan|inf|finite)\(\)"
    r"|(?<![\w.\]])(?P<same>[A-Za-z_][\w.]{0,80}(?:\[[^\]\n]{0,40}\])?)\s{0,4}(?:!=|==)\s{0,4}(?P=same)(?![\w.(\[])"
)
_ASSERT_STATEMENT = re.compile(r"assert\s(?P<cond>.{1,400})")
_IF_RAISE_STATEMENT = re.compile(r"if\s(?P<cond>.{1,400}?):\s{0,8}raise\s{1,8}(?P<type>[A-Za-z_][\w.]{0,120})")
# a traceback's frame line, stripped: where the code is and the function it is in
FRAME_PARTS = re.compile(r'File "(?P<path>[^"\n]{1,1000})", line \d{1,9}, in (?P<function>[\w<>.]{1,200})')
# Where a finiteness check is no guard on the training's numbers: the data pipeline's own check of a sample (a
# dataset's __getitem__, a loader or collate function, a file whose name, or whose folder's, says datasets) or of a
# tensor it names as input or target, and a metric's or an evaluation's check. Such a check firing says the data (or
# a metric's input) held a NaN, not that the run diverged: the exception is left of no known meaning. Only the file's
# name and its folder are read: a machine's own folders ('/data/user/...') say nothing of the code.
_DATA_FUNCTION = re.compile(
    r"(?i)^_{0,2}(?:getitem|next|iter|transforms?)_{0,2}$"
    r"|(?:^|_)(?:load|read|collate|parse|preprocess|augment|getitem)(?:_|$)"
)
_DATA_FILE = re.compile(r"(?i)(?:^|_)(?:data|datasets?|dataloaders?|loaders?|datamodules?|transforms?)(?:_|\.|$)")
_DATA_FOLDER = re.compile(r"(?i)^(?:datasets?|dataloaders?|data_?loaders?|datamodules?|transforms?)$")
_DATA_OPERAND = re.compile(
    r"(?i)(?:^|[._\[])(?:inputs?|images?|imgs?|labels?|targets?|batch|samples?|data|gt|x_?train|y_?train)(?:$|[._\]\[])"
)
_METRIC_PLACE = re.compile(r"(?i)(?:^|[_.])(?:metrics?|eval|valid|test|score|accuracy|measure)")


def _data_place(function: str, path: str) -> bool:
    parts = path.replace("\\", "/").rsplit("/", 2)
    folder = parts[-2] if len(parts) > 1 else ""
    return bool(_DATA_FUNCTION.search(function) or _DATA_FILE.search(parts[-1]) or _DATA_FOLDER.match(folder))


# A dynamic loss scaler halves its scale at every overflow, and apex's has no floor unless min_loss_scale is set
# (apex/amp/scaler.py LossScaler.update_scale; apex/fp16_utils/loss_scaler.py DynamicLossScaler): overflow after
# overflow takes it below every power of two a float holds, to 0.0, and its next unscale divides by it
# (LossScaler.unscale_with_stashed's 'out_scale/grads_have_scale', 1./scale). A ZeroDivisionError raised in a loss
# scaler's own file (scaler.py, loss_scaler.py, grad_scaler.py: the last frame of its traceback) is that scale at
# zero: a scaler at its floor, every step overflowing.
_SCALER_FILE = re.compile(r"(?i)(?:^|[/\\])(?:\w{1,40}_)?scaler\.py$")


def scale_at_zero(frames: tuple[str, ...] | list[str], exc_type: str | None) -> tuple[str, str] | None:
    """(path, function) of the frame that divided by a loss scale gone to zero: a ZeroDivisionError whose
    traceback's last frame is in a loss scaler's file."""
    if exc_type != "ZeroDivisionError":
        return None
    for frame in reversed(frames):
        if frame.startswith("File "):
            where = FRAME_PARTS.match(frame)
            if where is None or not _SCALER_FILE.search(where["path"]):
                return None
            # a scaler's own unscale or update (a data scaler's file, 'feature_scaler.py', divides too)
            path = where["path"].replace("\\", "/").lower()
            if not (
                where["function"].startswith(("unscale", "update_scale")) or "/apex/" in path or "/deepspeed/" in path
            ):
                return None
            return where["path"], where["function"]
    return None


def nan_assert(frames: tuple[str, ...] | list[str], exc_type: str | None) -> tuple[str, str, str | None] | None:
    """(function, statement, value tested) when a traceback ending in ``exc_type`` was raised by a NaN check
    written in the job's own code (see _NONFINITE_TEST), at a place that guards the training's numbers."""
    if not exc_type or len(frames) < 2:
        return None
    last = len(frames) - 2  # frames[-1] is the exception line; the statement is the frame's source line
    while last > 0 and not frames[last].startswith("File "):
        last -= 1
    where = FRAME_PARTS.match(frames[last])
    if where is None or last + 1 >= len(frames) - 1:
        return None  # no source line under the last frame (a paste without them): nothing shows the check
    statement = frames[last + 1]
    m = _ASSERT_STATEMENT.match(statement)
    if m is not None:
        if not exc_type.endswith("AssertionError"):
            return None  # evaluating the condition raised (a TypeError of a None): the check never ran
    else:
        m = _IF_RAISE_STATEMENT.match(statement)
        if m is None or m.group("type").rsplit(".", 1)[-1] != exc_type.rsplit(".", 1)[-1]:
            return None
    test = _NONFINITE_TEST.search(m.group("cond"))
    if test is None:
        return None
    operand = test.group("arg") or test.group("recv") or test.group("same")
    function, path = where.group("function"), where.group("path")
    if _data_place(function, path) or (operand and _DATA_OPERAND.search(operand)):
        return None
    if _METRIC_PLACE.search(function) or _METRIC_PLACE.search(path.replace("\\", "/").rsplit("/", 1)[-1]):
        return None
    return function, statement[:300], operand


def match_messages(line: str) -> list[tuple[str, Fields]]:
    """(family, what it names) for every catalogued message in one cleaned line."""
    found: list[tuple[str, Fields]] = []
    seen: set[str] = set()
    for msg in CATALOGUE:
        if msg.family in seen and msg.family in _ONE_PER_LINE:
            continue
        fields = msg.match(line)
        if fields is not None:
            found.append((msg.family, fields))
            seen.add(msg.family)
    if len(found) > 1 and any(f.get("framework") != GENERIC for _, f in found):
        # a wording in any words is the fallback for those the catalogue does not know: a line one of
        # them names is that message only (Keras 3's "RuntimeError: NaN or Inf loss encountered")
        found = [(family, f) for family, f in found if f.get("framework") != GENERIC]
    return found


# a line says one of these once, even when two wordings of the catalogue match it
_ONE_PER_LINE = frozenset(
    {
        "oom",
        "distributed_failure",
        "worker_died",
        "write_failed",
        "cuda_fault",
        "loss_scale_overflow_transient",
        "nan_loss",
        "nonfinite_step_skipped",
    }
)
