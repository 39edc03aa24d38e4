"""Read a job's console log: the metrics it printed and the errors it died on.

A log is whatever the job wrote to its terminal, captured by a scheduler
(``slurm-*.out``), ``tee`` or a notebook: progress bars redrawn with carriage
returns and backspaces, ANSI colours, warnings from stderr interleaved in the
middle of stdout lines, tracebacks, and sometimes a last line cut short. It can
be gigabytes long. So the reader works in three layers, each testable alone:

1. **Framing** (:func:`_segments`): bytes -> *segments*. A segment is the text
   between two separators; ``\\n`` ends a line, ``\\r`` ends one redraw of a
   progress bar (every redraw is kept: intermediate ones carry metrics too).
   Lines longer than :data:`MAX_SEGMENT_BYTES` are cut, so memory stays bounded
   whatever the file holds.
2. **Cleaning** (:func:`clean_segment`): ANSI sequences removed, backspaces
   applied the way a terminal applies them (they move the cursor, they do not
   erase), control characters dropped.
3. **Parsing** (:class:`_LogParser`): each cleaned segment is matched against a
   small set of tolerant patterns -- metric lines of Keras, Hugging Face
   Trainer, tqdm/rich progress bars and plain ``print`` loops -- and against
   the messages with a known meaning (:data:`EVENT_KINDS`). Tracebacks are
   followed by a small state machine so that the frames end up in the event.

Message families (``LogEvent.kind``). The reader says what a message names
(the label and the valid range, the op, the framework that printed it), never
what it means: the table from family to cause, detail and fix is the rules'
(``forensics/rules/messages.py``).

=================================  ===================================================
``label_out_of_range``             a label/target outside ``[0, classes)``
                                   (``label``; ``classes`` when TensorFlow names it)
``nonfinite_input``               a trainer's check found NaN in the batch's inputs or
                                   targets before the forward pass (flashlight)
``cuda_device_assert``             "CUDA error: device-side assert triggered": most
                                   often a label out of range (``values["certain"]
                                   = False``)
``index_out_of_range``             an embedding/gather index out of range (token ids
                                   beyond the vocabulary)
``untrained_tokens``               Unsloth: the data uses tokens whose embedding rows were
                                   never trained, with the embedding and LM head frozen
``nonfinite_gradient``             anomaly mode: a backward function (``op``)
                                   returned NaN/Inf
``nonfinite_tensor``               TensorFlow ``check_numerics``: a named tensor or an
                                   op's output (``op``) held NaN/Inf
``nan_loss``                       the framework stopped on a NaN loss
                                   (NanTensorHook, Lightning, EarlyStopping)
``nan_loss_terminated``            Keras ``TerminateOnNaN`` (``step`` = global step)
``nonfinite_step_skipped``         a trainer's guard threw a step away on a NaN loss or
                                   gradient and went on (ESPnet, neuralhydrology)
``nonfinite_grad_norm``            clip_grad_norm_ warned of a non-finite norm and went on
``loss_scale_overflow_transient``  fp16 loss-scale overflow, step skipped
                                   (``values["count"]`` says how many)
``loss_scale_minimum``             the loss scale hit its floor
``oom``                            out of memory (GPU, CPU, TF allocator, OOM killer)
``distributed_failure``            an NCCL error or a collective that timed out
``job_finished``                   the trainer said it finished (HF, Lightning)
``early_stopping``                 an early-stopping callback ended training
``job_killed``                     a time limit or a signal ended the job (Slurm, torchrun, Ctrl+C)
``numpy_fp_warning``               NumPy's RuntimeWarning of a floating-point fault (``op``
                                   and what: divide by zero, overflow, invalid value)
``nonfinite_values``               the reader's own: a row of values the log names no loss
                                   among went non-finite in every value it printed
``native_crash``                   the process died of a signal or an abort, no Python exception
                                   (glibc's heap checks, the shell's 'Segmentation fault',
                                   C++'s terminate, faulthandler, an uncaught Lua error)
``exception``                      any other uncaught exception
=================================  ===================================================

A PyTorch cross-entropy whose targets are all ``ignore_index`` prints nothing
of its own (the mean over zero targets is silently NaN; see
``tests/fixtures/logs/torch_ignore_index_all.log``): it shows up only as a NaN
loss in the series.

Steps. Where a line shows a step counter it is used. Keras progress lines
show the batch within the epoch: global step = (epoch-1) x steps_per_epoch + i,
and epoch-end lines map to the epoch's last step (or to the batch where
``TerminateOnNaN`` stopped it). Lightning's bars are 0-based in the epoch.
Hugging Face Trainer dict lines carry no step: when the log also says how
many optimisation steps an epoch has, the step is epoch x steps_per_epoch,
otherwise points are numbered in log order (``LogData.step_unit ==
"log_index"``; :func:`with_steps_from_epochs` renumbers them once the
trainer state is known). Metrics printed only per epoch, with no way to place
them on steps, are kept with the epoch number as step (``step_unit ==
"epoch"``; next to step-level series their tag gets an ``_epoch`` suffix).
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import functools
import itertools
import math
import os
import re
import stat
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers.logmessages import (
    FRAME_PARTS,
    GENERIC,
    guard_frame,
    match_messages,
    nan_assert,
    scale_at_zero,
)
from forensics.readers.logmessages import NEEDLES as MESSAGE_NEEDLES
from forensics.readers.logmetrics import (
    ALIASES,
    COMMENT_MARKER,
    HARTREE_ENERGY_BASIS,
    KALDI_OBJECTIVE_BASIS,
    LIST_CELLS_BASIS,
    LOG_LIKELIHOOD_BASIS,
    MAX_BOX_ROWS,
    MAX_TOKENS,
    MIN_BOX_BORDER,
    STAGE_LABEL,
    STAGE_ROW,
    LineMetrics,
    box_metrics,
    box_row,
    column_starts,
    comma_pairs,
    hartree_energy,
    header_columns,
    headerless_layouts,
    headerless_row,
    is_box_border,
    is_darknet_line,
    is_table_delimiter,
    json_metrics,
    kaldi_objective,
    letter_metrics,
    loss_statistics,
    main_loss_and_basis,
    main_loss_of,
    names_a_bound,
    names_a_metric,
    names_an_evaluation,
    nan_note_columns,
    negated_log_likelihood,
    nolearn_row,
    nonfinite_value,
    one_term_printed,
    only_terms,
    parse_number,
    postfix_letter_terms,
    row_metrics,
    scan_line,
    status_line_metrics,
    summed_list_cells,
    xgboost_eval,
    yolo_2019_row,
)
from forensics.readers.safe_open import open_binary
from forensics.records import CUT_TRACEBACK, STEP_MAX, LogData, LogEvent, Plan, ScalarSeries, Source, Status, step_of

READ_CHUNK_BYTES = 1 << 20  # 1 MiB reads: few syscalls, small fixed buffer
MAX_SEGMENT_BYTES = 16_384  # a line or redraw longer than this is cut: real metric lines are < 1 KiB
MAX_EVENTS_PER_KIND = 50  # distinct events kept per kind; later ones are only counted
STUCK_MIN_RECORDS = 3  # lines on one step before they are a sequence: two may be one record printed twice
TRACEBACK_KEEP_LINES = 16  # the last frame lines kept with an exception (the useful end of a stack)
# Exceptions that are a job stopped from outside, not a fault: the traceback a stop leaves. Type -> how.
STOP_EXCEPTIONS = {
    "KeyboardInterrupt": "Ctrl+C or SIGINT",
    "SignalException": "torchrun's agent got a signal",
}
LOOKBACK_LINES = 60  # a known message this many lines before a traceback belongs to it (TF's rendezvous
#                      warning and CUDA's per-thread assertion lines are printed before the traceback)
REGION_LINES = 200  # ...or this many lines after the exception line (TF prints the op message after frames)
NATIVE_REPORT_LINES = 8  # a native crash's report names its cause this many lines after it (C++'s what(), wrapped)
# the start of the note that says a log's per-epoch lines were read as per-iteration records (_per_iteration_epochs)
_PER_ITERATION_NOTE = "per-iteration lines"
# A metric line with no counter printed this many lines after a message that named its own step
# is that message's (detectron2's guard prints "...at iteration=1029!" then "loss_dict = {...}")
MESSAGE_VALUES_LINES = 2
# A metric line with no counter this many lines under a line whose counters gave a step and that printed no
# loss (a record printed over several lines: the counters first, the losses under them) is that record's
RECORD_LINES = 2
# A header naming an epoch and nothing else ("Epoch 3", "Epoch 3/10", "Start of epoch 3", "===== Epoch 3 =====",
# "[Epoch 3 of 10]"): the whole line, so that 'Best epoch: 3', 'Saving model at epoch 3', 'Epoch 3 took 12.5s' or a
# tqdm bar 'Epoch 3: 100%|...' is none, and short (a cheap test before the pattern)
EPOCH_HEADER_CHARS = 80
_EPOCH_HEADER = re.compile(
    r"[\s=#*>|\[-]{0,40}(?:(?:start|beginning|begin)\s+of\s+)?epoch[\s:#]{0,4}(\d{1,9})(?:\s{0,4}(?:/|of)\s{0,4}\d{1,9})?"
    r"[\s=#*<|\].:-]{0,40}$",
    re.IGNORECASE,
)
# A line of only loss terms or a step's LR is the record's of the line printing the loss right above it (or right
# above the record's last line read): a record printed one value a line (tf-faster-rcnn's ' >>> {term}: {}', Caffe's
# 'Train net output #k') has no line between them
TERM_LINES = 1
# A record printed over several lines holds one step's metrics; one that has gathered this many values ends there and
# the next line begins anew. The longest in the seen real logs holds 18 (an RL library's result printed one metric a
# line), so the bound changes no reading of them: it keeps a log of thousands of counter-less lines of distinct names
# linear, each line being checked against the names its record holds so far.
MAX_RECORD_VALUES = 64
# A line this long may have been wrapped by a terminal or a paste (80 columns, an issue's code block) into
# the next: a catalogued message cut at the wrap is read from the two joined (_LogParser._wrapped_message)
WRAP_MIN_CHARS = 60
FORWARD_TRACE_KEEP = 8  # lines of anomaly mode's "Traceback of forward call" kept
# A progress bar redrawn after a traceback is tqdm closing at interpreter exit (its last state), not
# training going on: more redraws than this at new steps and the job is taken to have continued.
CLOSING_REDRAWS = 2
BINARY_SNIFF_BYTES = 8192
BINARY_NUL_FRACTION = 0.01  # text logs hold no NUL bytes; more than 1% in the first block: not a text log
NOTE_LIMIT = 300  # Source.note is one line
# No number a training log prints has more digits than this (int64 has 19, a float's repr 17
# significant ones); a longer run of digits is damage, and int() refuses past 4300 digits.
MAX_NUMBER_DIGITS = 64
# A dynamic loss scale below this means fp16 overflowed even with the loss divided by ~1000:
# gradients past 6.5e7 or non-finite on step after step, the scaler halving at each. Healthy
# runs settle far above it (DeepSpeed and torch.amp never go under 1 by default; fairseq, whose
# losses are sums over ~1e5 tokens, settles around 0.1-4 and gives up at 1e-4).
LOSS_SCALE_FLOOR = 2.0**-10
# apex's amp (no floor by default: min_loss_scale None), DeepSpeed and Paddle's GradScaler (no floor either; PaddleNLP's
# Trainer runs on it) scale a loss that is a mean over the batch, whose gradients a working net keeps far under
# float16's 65504: a scale their scaler set below this, halving after overflow on overflow, still overflowing with the
# loss scaled down, means the gradients are non-finite whatever the scale (a NaN forward pass, weights blown up), every
# step skipped from there on.
# fairseq sums its loss over the batch's tokens, so its scale settles lower and LOSS_SCALE_FLOOR judges it.
MEAN_LOSS_SCALE_FLOOR = 1.0
# improved-diffusion's and guided-diffusion's trainer too: its loss is the batch's mean, its scale starts at 2**20 and
# halves on each NaN (fp16_util.py MixedPrecisionTrainer), so a scale under 1 is twenty-odd overflows net
MEAN_LOSS_SCALERS = ("apex", "deepspeed", "paddle", "paddlenlp", "improved-diffusion")
# The name improved-diffusion's trainer logs its scale under, as its base-2 logarithm ('| lg_loss_scale | -0.821 |' in
# its logger's key/value box): read as the scale, judged against MEAN_LOSS_SCALE_FLOOR (the trainer's loss is a mean)
LOG2_LOSS_SCALE = "lg_loss_scale"
# The scaler saying it cannot lower the scale ("Attempted loss scale: 1, reducing to 1") this many times, or
# setting a mean loss's scale below MEAN_LOSS_SCALE_FLOOR on its this-many-th overflow or later: overflow at the
# floor step after step. Once is one bad batch at a scale already low (or one overflow from a scale that
# started at 1: DeepSpeed's initial_scale_power 0).
FLOOR_OVERFLOWS = 2
# ... unless the overflow notes stopped: this many finite training losses printed after the last one, at distinct steps,
# and more than twice as many as were printed between two of its notes before (a loop printing each micro-batch's loss
# prints several an optimizer step). A scaler stuck at its floor notes an overflow at every step it skips (every other
# one for Paddle's default decr_every_n_nan_or_inf), so that many prints of the loss with no note among them are steps
# applied at a scale that works again.
FLOOR_RECOVERED_POINTS = 3

RUN_NAME = "log"

EVENT_KINDS = (
    "label_out_of_range",
    "nonfinite_input",
    "ctc_invalid_label",
    "ctc_no_valid_path",
    "cuda_device_assert",
    "index_out_of_range",
    "untrained_tokens",
    "nonfinite_gradient",
    "nonfinite_tensor",
    "nan_loss",
    "nan_loss_terminated",
    "nonfinite_step_skipped",
    "loss_scale_overflow_transient",
    "loss_scale_minimum",
    "oom",
    "distributed_failure",
    "worker_died",
    "write_failed",
    "cuda_fault",
    "job_finished",
    "early_stopping",
    "job_killed",
    "mixed_precision",
    "nonfinite_logged",
    "numpy_fp_warning",
    "nonfinite_grad_norm",
    "nonfinite_values",
    "native_crash",
    "exception",
)
# Events that end a run: an exception raised right after one of these is the
# same failure, so the event gets the traceback and no separate "exception".
_FATAL_KINDS = frozenset(EVENT_KINDS) - {
    "ctc_no_valid_path",
    "loss_scale_overflow_transient",
    "nonfinite_step_skipped",
    "mixed_precision",
    "nonfinite_logged",
    "nonfinite_grad_norm",
    "nonfinite_values",
    "numpy_fp_warning",
    "job_finished",
    "early_stopping",
    "native_crash",  # the job's death itself, as a traceback is: no message a later exception raised
    "exception",
}
# Aggregated: thousands of identical lines (one per CUDA thread, one per skipped
# step) become one event with a count.
# A guard's message names the value it saw ("Model diverged with loss = NaN.", ESPnet's "grad norm is
# nan. Do not update model."): that is the event (a stop, or a step thrown away), not a point of the
# series. (Keras TerminateOnNaN is left out: it shares its line with the bar it stopped.)
_GUARD_KINDS = frozenset({"nan_loss", "nonfinite_step_skipped"})
_COUNTED_KINDS = frozenset(
    {
        "loss_scale_overflow_transient",
        "nonfinite_step_skipped",
        "cuda_device_assert",
        "distributed_failure",
        "nonfinite_logged",
        "nonfinite_grad_norm",
        "numpy_fp_warning",
        "ctc_no_valid_path",  # one warning per sample without an alignment
        "mixed_precision",  # mmengine repeats its 'Exp name:' line on every logging interval
    }
)


# ---------------------------------------------------------------- framing


@dataclass(frozen=True, slots=True)
class _Segment:
    raw: bytes
    line: int  # 1-based line number
    ends_line: bool  # ended by a newline (False: a carriage return, or end of file)
    at_eof: bool  # the unterminated last piece of the file: may be cut mid-word
    cut: bool  # longer than MAX_SEGMENT_BYTES, the rest was dropped


_SEP = re.compile(rb"\r\n|\r|\n")


def _segments(chunks: Iterable[bytes]) -> Iterator[_Segment]:
    """Split a byte stream into segments at ``\\n``, ``\\r\\n`` and ``\\r``.

    Memory is bounded by MAX_SEGMENT_BYTES plus one chunk, whatever the
    length of a line: a longer line keeps its first MAX_SEGMENT_BYTES.
    """
    buf = bytearray()
    cut = False
    hold_cr = False  # a chunk ended on \r: it may be the first half of \r\n
    line = 1

    def take(piece: bytes) -> None:
        nonlocal cut
        room = MAX_SEGMENT_BYTES - len(buf)
        if len(piece) > room:
            cut = True
            piece = piece[: max(room, 0)]
        buf.extend(piece)

    for chunk in chunks:
        pos = 0
        n = len(chunk)
        if hold_cr and n:
            hold_cr = False
            newline = chunk[0] == 0x0A
            yield _Segment(bytes(buf), line, newline, False, cut)
            buf.clear()
            cut = False
            if newline:
                line += 1
                pos = 1
        while pos < n:
            m = _SEP.search(chunk, pos)
            if m is None:
                take(chunk[pos:])
                break
            take(chunk[pos : m.start()])
            sep = m.group()
            if sep == b"\r" and m.end() == n:
                hold_cr = True
                break
            newline = sep != b"\r"
            yield _Segment(bytes(buf), line, newline, False, cut)
            buf.clear()
            cut = False
            if newline:
                line += 1
            pos = m.end()
    if hold_cr:
        yield _Segment(bytes(buf), line, False, False, cut)
    elif buf:
        yield _Segment(bytes(buf), line, False, True, cut)


# ---------------------------------------------------------------- cleaning

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase line
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\[(?:\d{1,3};)*\d{1,3}m"  # colour codes whose ESC was lost (copied from a notebook)
)
_ORPHAN_SGR = re.compile(r"\[(?:\d{1,3};)*\d{1,3}m")
_CONTROL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]")
_LONG_DIGITS = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}")


def clean_segment(text: str) -> str:
    """What a terminal would show for one segment: no ANSI codes, backspaces applied."""
    if "\x1b" in text or ("m" in text and _ORPHAN_SGR.search(text)):
        text = _ANSI.sub("", text)
    if "\b" in text:
        text = _apply_backspaces(text)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return text


def _apply_backspaces(text: str) -> str:
    """A backspace moves the cursor left; what follows overwrites. Trailing ones erase nothing."""
    out: list[str] = []
    cursor = 0
    for ch in text:
        if ch == "\b":
            cursor = max(cursor - 1, 0)
        elif cursor < len(out):
            out[cursor] = ch
            cursor += 1
        else:
            out.append(ch)
            cursor += 1
    return "".join(out)


# ---------------------------------------------------------------- values and names

# "nan.0"/"inf.0": Lightning's tqdm bar formats every float with a trailing ".0"; "1.#QNAN", "-1.#IND": the older
# Windows C runtime's NaN and Inf (logmetrics.MSVC_NONFINITE), tried before the digits that start them
_NUM = (
    r"[-+]?(?:\d\.#(?:qnan|snan|ind|inf)\d{0,16}(?![a-z_])|(?:nan|inf(?:inity)?)(?:\.0+)?"
    r"|\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)(?![\d.])"
)
_NUM_RE = re.compile(_NUM, re.IGNORECASE)  # used with fullmatch: no "$" that would backtrack at every start


def _num(text: str) -> float | None:
    """A printed number, NaN/Inf spellings included; None if it is not one."""
    if text[:1].isdigit():  # the common case, fast: "0.0001", "1.2e+00"
        try:
            return float(text)
        except ValueError:
            pass
    s = text.strip().strip("'\"")
    if s.startswith("tensor("):
        s = s[7:].split(",")[0].rstrip(")")
    elif s.startswith(("np.float", "np.int")) and "(" in s:
        s = s[s.index("(") + 1 :].rstrip(")")
    if not s or not _NUM_RE.fullmatch(s) or "#" in s:
        return nonfinite_value(s)  # a C runtime's payload "-nan(ind)", MSVC's "1.#QNAN", "-1.#IND"; else None
    if s[-1] == "0" and s.rstrip("0").endswith(".") and s.lstrip("+-")[:1] in ("n", "N", "i", "I"):
        s = s.rstrip("0")[:-1]
    try:
        return float(s)
    except ValueError:
        return None


# printed next to metrics but not metrics
_NOT_METRICS = frozenset({"v_num", "eta", "step", "batch", "iter", "it", "global_step", "num_updates"})
_NOT_METRIC_SUFFIXES = ("runtime", "_per_second", "total_flos", "_flos")


@functools.lru_cache(maxsize=4096)
def normalise_tag(name: str) -> str | None:
    """The series name for a printed metric name, or None for things that are not metrics."""
    key = name.strip().strip("'\"").lower()
    if key.startswith("lr-") or key.startswith("lr/"):  # Lightning LearningRateMonitor: "lr-Adam"
        return "learning_rate"
    if key in ALIASES:
        return ALIASES[key]
    key = key.replace(" ", "_")
    if key in ALIASES:
        return ALIASES[key]
    if key in _NOT_METRICS or key.endswith(_NOT_METRIC_SUFFIXES) or not key or len(key) > 64:
        return None
    return key


# ---------------------------------------------------------------- metric patterns

_KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)/(\d+)\s*$")
# Keras 3: "8/8 ━━━━ 0s 8ms/step - loss: nan"; Keras 2: "10/10 [====] - 0s 3ms/step - loss: nan";
# verbose=2: "10/10 - 0s - loss: nan - acc: 0.6"
_KERAS_PROGRESS = re.compile(r"^\s*(\d+)/(\d+)\s+(?:\[[=>.]*\]|━+|-\s)")
_KERAS_NO_COUNTER = re.compile(r"^\s*-\s+\d+s\s+-\s+[A-Za-z_]\w*:\s")  # Keras 2.2 verbose=2: " - 1s - loss: 0.6"
# keras-rl's TrainIntervalLogger (rl/callbacks.py) opens each interval of steps with 'Interval {} ({} steps
# performed)' and a Progbar over the interval's steps, and closes it with '{} episodes - episode_reward: {:.3f}
# [{:.3f}, {:.3f}]' then ' - {name}: {mean:.3f}' per metric (the interval's means): the interval is read as Keras's
# epoch, its summary at the bar's last step
_KERAS_INTERVAL = re.compile(r"^\s*Interval (\d{1,12}) \(\d{1,19} steps performed\)\s*$")
_KERAS_PAIR = re.compile(r"(?:^|\s)-\s+([A-Za-z_][\w./-]*):\s+(" + _NUM + ")", re.IGNORECASE)

# tqdm: "desc:  12%|█▎  | 8/64 [00:00<00:02, 21.49it/s, gnorm=nan, loss=nan]"
_TQDM = re.compile(r"(?P<pct>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[(?P<info>[^\]]*)\]?")
# ... and the same bar copied out of a notebook or Colab, which draws the bar as a widget: the text keeps the
# percentage, the count and the bracket of times ("640:  96% 23/24 [00:48<00:02,  2.13s/it]"), whose elapsed time
# before '<' says it is tqdm's
_TQDM_NO_BAR = re.compile(
    r"(?P<pct>\d{1,3})%[ \t]{1,4}(?P<n>\d{1,19})/(?P<total>\d{1,19})[ \t]{0,4}"
    r"\[(?P<info>\d{1,4}:\d\d(?::\d\d)?<[^\]]{0,400})\]?"
)

# ... and a bar the line ends inside, before its count ('13/30  13.1G  1.822  21.96  0.5235  9  576: 100%|█'): a
# terminal narrower than the line cut it there (a detection trainer's row of running losses, then its bar). It
# holds no count to place the row by; the row's cells before it are read without it. Only the bar's own characters
# follow its '%|', a block or an ascii bar's '#' or digit first: 'Acc: 95%| Loss: nan' and a table's '| 95%|' are
# separators.
_CUT_BAR = re.compile(r"(?<![^\s:])\d{1,3}%\|[\u2580-\u259f#\d][\u2580-\u259f #\d]{0,79}$")

# A value a person set in bold when pasting the log into markdown ("{'loss': **4.7581**, 'grad_norm': ...}"): the
# value without the marks ('2**3**4', a power in a traceback's source line, has a digit before them and stays)
_BOLD_VALUE = re.compile(r"(?<![\w*])\*\*([-+]?(?:\d[\d.]*(?:[eE][-+]?\d+)?|nan|inf))\*\*(?![\w*])", re.IGNORECASE)


def numbering_offset(first: Iterable[_Segment]) -> int | None:
    """How far ahead of the file's own line numbers a paste numbered its lines, judged on a file's first segments
    (LINE_NUMBER_PROBE of them), or None for a file whose lines are not numbered so."""
    lines = [s for s in first if s.ends_line or s.at_eof]
    found = [(s, _LINE_NUMBER.match(s.raw)) for s in lines]
    offsets = {int(m.group(1)) - s.line for s, m in found if m is not None}
    rests = [s.raw[m.end() :].strip() for s, m in found if m is not None]
    if (
        len(lines) >= MIN_NUMBERED_LINES
        and len(rests) == len(lines)
        and len(offsets) == 1
        and any(not r for r in rests)
        and any(r[:1].isalpha() for r in rests)
    ):
        return offsets.pop()
    return None


# ... and Ultralytics' own bar, which replaced tqdm in its trainers (ultralytics/utils/tqdm.py TQDM._display, 8.3 on):
# f"{desc}: {percent:.0f}% {bar} {n}/{total} {rate} {elapsed}{remaining}", its bar twelve of '━' done, '─' to go and
# '╸' at a half ('1/30  40.4G  1.2  ...  1280: 20% ━━────────── 2205/10762 1.3s/it 46:41<3:00:35'). Read as tqdm's:
# the same description (a row under the trainer's header), count and total.
_ULTRALYTICS_BAR = re.compile(
    r"(?<![^\s:])(?P<pct>\d{1,3})% [━─╸]{1,40} (?P<n>\d{1,19})/(?P<total>\d{1,19})(?:[ \t](?P<info>[^\n]{0,200}))?"
)


def _tqdm_bars(text: str) -> Iterator[re.Match[str]]:
    """The tqdm bars on a line, drawn ('%|') or copied out of a notebook without their bar, and Ultralytics' own."""
    if "%|" in text:
        yield from _TQDM.finditer(text)
    elif "% " in text and ("━" in text or "─" in text):
        yield from _ULTRALYTICS_BAR.finditer(text)
    elif "% " in text and "<" in text:
        yield from _TQDM_NO_BAR.finditer(text)


# rich (Lightning RichProgressBar):
#   "Epoch 3/3  ━━━━━━ 10/10 0:00:00 • 0:00:00 924.92it/s v_num: 0.000 train_loss: 18.050"
# Found by its "n/total h:mm:ss" part; what is before it (less the bar) is the description.
# Each repeat is one greedy run over characters the next part cannot start with: linear.
_RICH_COUNTER = re.compile(r"(?<!\S)(?P<n>\d{1,19})/(?P<total>\d{1,19})[ \t]{1,64}\d{1,4}:\d\d:\d\d(?!\d)")
_RICH_BAR_CHARS = " \t━╸╺╼╾"
_COLON_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][\w./-]{0,63}):\s{1,64}(" + _NUM + ")", re.IGNORECASE)
_NON_TRAIN_BAR = re.compile(
    r"valid|sanity|test|predict|eval|writing|loading|download|map|tokeniz|\b(?:dev|val)\b", re.IGNORECASE
)  # ('dev' and 'val' as words: a dev set's or a validation's bar, 'Dev step: 3; loss: x'; not 'device', 'value')
_EPOCHS_BAR = "epochs"  # a bar over the epochs (tqdm.trange(..., desc="epochs")): its count is no step
_ACCUMULATED_ITER = re.compile(r"\btotal_it=(\d{1,19})(?!\d)")  # OpenPCDet's inner bar: set_postfix(total_it=...)
_EPOCH_DESC = re.compile(r"^\s*Epoch\s+(\d+)(?:/(\d+))?\b", re.IGNORECASE)
# A step counter's word, then a number, in a bar's description ('iter: 1998', 'step 40', 'global_step=3'): the cheap
# test before the description is scanned for its counter (_LogParser._bar_at_its_counter)
_DESC_STEP_GATE = re.compile(r"(?:step|iter|iteration|it|update|up\.)\W{0,3}\d", re.IGNORECASE)
# Catalyst's verbose logger (catalyst/core/callbacks/logging.py, 19.x-20.x): tqdm(desc=f"{epoch}/{num_epochs} * Epoch
# ({loader_name})"), one bar a loader and an epoch, its counter the batch within the epoch: the epoch comes first, and
# only a loader whose name starts with 'train' trains (Catalyst's own test of a loader), any other is an evaluation's
_EPOCH_OF_EPOCHS_DESC = re.compile(
    r"^\s*(\d{1,9})/\d{1,9}\s{0,4}\*\s{0,4}Epoch\b(?:\s{0,4}\((?P<loader>[^()]{0,64})\))?", re.IGNORECASE
)

# Hugging Face Trainer: "{'loss': '2.31', 'grad_norm': 'nan', 'learning_rate': '5e-05', 'epoch': '0.4'}"
_HF_FIRST_KEYS = ("loss", "eval_", "grad_norm", "learning_rate", "epoch", "train_runtime", "train_loss")
_HF_EPOCHS = re.compile(r"Num Epochs = ([\d,]{1,24})")
_HF_MAX_STEPS = re.compile(r"Total optimization steps = ([\d,]{1,24})")


# A loss printed under its bare name or one that says it is the total of the terms ('total_loss:', 'Total loss =',
# 'loss_total', 'loss:'), at the line's start or after a separator: no other word qualifies it ('held-out loss',
# 'target loss', 'smoothed loss' are other readings)
_TOTAL_LOSS_NAME = re.compile(
    r"(?:^|[|,;\t])[ \t]{0,60}(?:total[_ ]?loss|loss[_ ]?total|loss)[ \t]{0,4}[:=]", re.IGNORECASE
)


# The end of a line printing one value under a name, as a dump printed one metric a line does ('name: 0.25')
_DUMP_VALUE = re.compile(
    r"[A-Za-z_][\w./-]{0,127}:[ \t]{1,8}[-+]?(?:\d{1,30}(?:\.\d{0,30})?(?:[eE][-+]?\d{1,4})?|nan|inf)[ \t]*$"
)


def _only_colon_pairs(text: str) -> bool:
    """Is the line (indented) nothing but ``name: value`` pairs? (rich prints its metrics on a second line)"""
    if not text[:1].isspace():
        return False
    fields = text.split()
    if not fields or len(fields) % 2:
        return False
    return all(f.endswith(":") and (f[0].isalpha() or f[0] == "_") for f in fields[0::2])


def _dict_spans(text: str) -> Iterator[str]:
    """Brace-delimited, unnested ``{'key': ...}`` spans whose first key is a Trainer key. Linear scan."""
    pos = 0
    while True:
        start = text.find("{'", pos)
        if start < 0:
            return
        end = text.find("}", start)
        if end < 0:
            return
        inner = text.find("{", start + 1, end)
        if inner >= 0:
            pos = inner
            continue
        if text.startswith(_HF_FIRST_KEYS, start + 2):
            yield text[start : end + 1]
        pos = end + 1


_EVAL_PREFIXES = ("val", "eval", "test", "valid")

# ---------------------------------------------------------------- tracebacks

# what launchers put before each line of a rank: torchrun "[rank1]:" / "[default1]:", mpirun
# "[1,0]<stdout>:", pdsh-style "1: " (when the file shows it is a rank: _LEAD_NUMBER); the rank is kept so that ranks'
# metrics stay apart. A number and a colon before another number is no rank but a counter and its value (darknet's
# "74: 0.51, 0.53 avg loss")
_PREFIX = re.compile(
    r"^(?:\[(?:rank|default)(?P<r1>\d{1,6})\]:|\[(?P<r2>\d{1,6}),\d{1,6}\]<std(?:out|err)>:"
    r"|(?P<r3>\d{1,4}): (?=[^\s\d.+-])(?!(?i:nan|inf)\b)|\[Rank (?P<r4>\d{1,6})\]\s)\s?"
)
# A number and a colon before a line's text ("7: ..."): a launcher's rank (srun --label, pdsh) or a counter the
# script prints before its values (pytorch-yolo2's region loss prints '%d: nGT %d, recall %d, ..., loss: x %f, ...'
# % (self.seen, ...), the images seen so far). A launcher's ranks come from a small set and come back as the ranks
# interleave; a counter grows line by line. Which one a file holds is decided from the numbers it shows
# (_LogParser._lead_evidence): the lines led so are held until then, and read once it is known.
# flair's ModelTrainer (0.4-0.x trainers/trainer.py train) per-iteration line, f"epoch {self.epoch} - iter
# {seen_batches}/{total_number_of_batches} - loss {train_loss / seen_batches:.8f} - samples/sec: ..."
_FLAIR_RUNNING = re.compile(
    r"(?<![\w-])epoch (\d{1,9}) - iter (\d{1,12})/\d{1,12} - loss (\d{1,12}(?:\.\d{1,20})?)(?= - )"
)
# ESPnet2's reporter line of a training interval, f"{epoch}epoch:train:{start}-{end}batch: " then "key=value, ..."
# (espnet2/train/reporter.py log_message), and the interval's optim_step_time in it
_ESPNET2_OPTIM_TIME = re.compile(
    r"\d{1,12}epoch:train:(\d{1,12})-(\d{1,12})batch:.{0,2000}?\boptim_step_time=([-+.\w]{1,32})"
)
_LEAD_NUMBER = re.compile(r"(\d{1,12}): (?=[^\s\d.+-])(?!(?i:nan|inf)\b)")
# Values that grew on this many lines in a row with none coming back are a counter: more ranks than this printing one
# line each, in rank order, before any of them prints a second is no launcher's output
LEAD_COUNTER_LINES = 64
# A paste that numbered its lines (copied from an editor or a file view, 'cat -n'): every one of the file's first
# LINE_NUMBER_PROBE lines opens on a number that grows by one a line, at least MIN_NUMBERED_LINES of them, one with
# nothing after its number (a blank line of the log) and one with words (a message or a header). A loop printing its
# step first prints no blank step, and rows of numbers after a counter (an epoch table) hold no words: their leading
# number stays theirs.
LINE_NUMBER_PROBE = 8
MIN_NUMBERED_LINES = 3
_LINE_NUMBER = re.compile(rb"[ \t]{0,8}(\d{1,9})(?:[ \t]{1,64}|$)")
# ...or, short of that, on at least this many lines when the file (or the hold) ends: a rank reading would give each
# line a rank of its own, seen once
LEAD_COUNTER_MIN_LINES = 2
MAX_HELD_BYTES = 1 << 20  # lines held while the leading numbers are undecided: bounded whatever the file holds
MAX_HELD_LINES = 4096
# Python's "Traceback (most recent call last):"; IPython and Jupyter print it without the colon, after the
# exception's type ("ValueError                                Traceback (most recent call last)")
_TB_START = re.compile(r"Traceback \(most recent call last\):?\s*$")
_EXC_LINE = re.compile(
    r"^(?P<type>(?=[A-Za-z_])(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Interrupt|Exit|Failure|Exhausted)"
    r"|KeyboardInterrupt|SystemExit|StopIteration)(?::\s?(?P<msg>.*))?$"
)
# a traceback whose line breaks a paste lost: the exception line glued to the end of the last frame's
# code ('...raise RuntimeError("Model diverged with loss = NaN.")RuntimeError: Model diverged ...')
_GLUED_EXC = re.compile(
    r"[)\]'\"](?P<exc>(?:[A-Za-z_]\w{0,64}\.){0,8}[A-Z]\w{0,64}(?:Error|Exception|Interrupt|Exit|Failure|Exhausted)"
    r"(?::\s.*)?)$"
)
# A traceback's frame line, and a frame's source line that raises an exception with a literal message
# (an f-string's placeholders are not filled in a traceback, so it says nothing of the values: left out)
_FRAME = re.compile(r'\s{0,16}File "[^"\n]{1,500}", line \d{1,9}, in ')
# Python's warnings print a warning as 'FILE:LINE: CATEGORY: MESSAGE' and under it the source line that raised it,
# stripped and indented by two blanks (warnings.formatwarning): that line is code ('t_loss += loss.data[0]'),
# no metric, however it reads. A statement does not open with a number, and the source line is left out where the
# source is not at hand, so a line opening with a digit is the job's own: Keras's progress bar pads its count to its
# total's width ('  5/100 [==>...] - loss: nan') and may come right after a warning.
_PY_WARNING = re.compile(r"\S{0,500}\.py:\d{1,9}: \w{0,80}Warning: ")
_WARNING_SOURCE_LINE = re.compile(r"  [^\s\d]")
# the raise of a string literal, an f-string's too: its fields stay as the source writes them ('{path}'), which no
# catalogued pattern takes for a value
_RAISE_LITERAL = re.compile(
    r"\s{1,64}raise (?P<type>(?:[A-Za-z_]\w{0,64}\.){0,4}[A-Za-z_]\w{0,64}(?:Error|Exception))"
    r"\((?:(?P<f>[fF][rR]?|[rR][fF])|[rR]?)(?P<q>['\"])(?P<msg>(?(f)[^'\"\\\n]|[^'\"\\\n{}]){1,300})(?P=q)\)\s{0,8}"
)


# What a runner that forwards a job's output puts before each line (Metaflow's '{date} {time} [{step}/{task}
# ({pid})] [{run id}] ', a timestamp and a logger name): the same text on every line but for its digits. A
# traceback whose first line comes after such a prefix keeps it on every frame and on the exception line.
_PREFIX_DIGITS = re.compile(r"\d")
MAX_LINE_PREFIX = 200  # longer than any runner's prefix: past it, the text before 'Traceback' is the job's own


def _line_prefix_shape(text: str) -> str | None:
    """The prefix with its digits masked, or None when it is no runner's (blank, or too long to be one)."""
    if not text.strip() or len(text) > MAX_LINE_PREFIX:
        return None
    return _PREFIX_DIGITS.sub("0", text)


def _raised_literal(text: str) -> str | None:
    """ "ValueError: loss is nan" for the frame line "    raise ValueError('loss is nan')"; else None."""
    m = _RAISE_LITERAL.fullmatch(text)
    return f"{m.group('type')}: {m.group('msg')}" if m else None


# libstdc++'s verbose terminate handler prints the exception's what() on the line after its own
_WHAT_LINE = "  what():  "
# the native crash reports that may follow an unterminated line (a progress bar redrawn with '\r') on the same line
_GLUED_CRASH_WORDS = ("terminate called ", "*** Error in `", "Fatal Python error: ")
# lua.c / luajit.c's l_message: the interpreter's name (argv[0], a path for Torch's luajit), then the error
_LUA_ERROR = re.compile(r"\s{0,8}\S{0,300}(?:lua|luajit|qlua|th)[\d.]{0,8}: \S")
_CHAIN = re.compile(r"^(?:During handling of the above exception|The above exception was the direct cause)")
_FORWARD_TRACE = re.compile(r"Error detected in (\w+)\. Traceback of forward call that caused the error:")


# ---------------------------------------------------------------- event patterns


@dataclass(slots=True)
class _EventBuilder:
    kind: str
    message: str
    line: int
    step: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    traceback: tuple[str, ...] = ()
    claimed: bool = False
    count: int = 1
    keras_epoch_batch: tuple[int, int] | None = None  # TerminateOnNaN: placed on a step at the end
    # with no step: how many counter-less metric lines (and HF dict lines) came before it, to
    # place it after the last of them once those are numbered in log order
    after_points: tuple[int, int] = (0, 0)
    wording: str = ""  # which of its family's catalogued texts the line is (the catalogue entry's needle)

    def key(self) -> tuple[Any, ...]:
        simple = tuple(sorted((k, v) for k, v in self.values.items() if isinstance(v, (int, float, str, bool))))
        return (self.kind, simple)

    def build(self) -> LogEvent:
        values = dict(self.values)
        if self.kind in _COUNTED_KINDS or self.count > 1:
            values["count"] = self.count
        # what the message names goes to the typed fields; the rest stays in values
        label, classes = values.pop("label", None), values.pop("classes", None)
        return LogEvent(
            kind=self.kind,
            message=self.message,
            line=self.line,
            step=self.step,
            framework=values.pop("framework", None),
            label=label if isinstance(label, int) else None,
            classes=classes if isinstance(classes, int) else None,
            op=values.pop("op", None) or values.pop("function", None),
            values=values,
            traceback=self.traceback,
        )


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).replace(",", ""))
    except (TypeError, ValueError):
        return None


def _match_events(text: str) -> list[_EventBuilder]:
    """Every known message in one cleaned line (line numbers and steps are filled in by the caller).

    The messages are those of the catalogue (:mod:`forensics.readers.logmessages`), plus
    check_numerics' "Tensor had NaN values", whose tensor name comes before it in the line.
    """
    msg = text.strip()[:1000]
    found = [
        _EventBuilder(kind=family, message=msg, line=0, values=fields, wording=fields.pop("wording", ""))
        for family, fields in match_messages(text)
    ]
    if "Tensor had" in text:
        m = _TENSOR_HAD.search(text)
        if m:
            prefix = _TENSOR_PREFIX_END.split(text[: m.start()])[-1].strip()
            # enable_check_numerics() ends its "Detected Infinity or NaN ... op" block with an
            # unnamed " : Tensor had -Inf values": the caller folds that into the op's event
            found.append(
                _EventBuilder(
                    kind="nonfinite_tensor", message=msg, line=0, values={"tensor": prefix or None, "what": m.group(1)}
                )
            )
    return found


# tensorflow/core/kernels/check_numerics_op.cc: "{message} : Tensor had NaN values"
_TENSOR_HAD = re.compile(r":\s{0,8}Tensor had (NaN|[-+]?Inf|NaN and Inf|Inf and NaN|[-+]?Inf and NaN) values")
_TENSOR_PREFIX_END = re.compile(r"\}\}\s{0,8}|INVALID_ARGUMENT:\s{0,8}|Error:\s{0,8}")
_EVENT_PREFILTER = re.compile("|".join(re.escape(n) for n in (*MESSAGE_NEEDLES, "Tensor had")))
_SEAM_CHARS = max(len(n) for n in MESSAGE_NEEDLES)  # a needle cut by a wrap lies within this many characters of it


# ---------------------------------------------------------------- series


class _SeriesBuilder:
    """Columns of one tag, in file order. A redraw of the same step replaces the value."""

    __slots__ = ("inferred", "last_line", "one_step", "records", "steps", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        # while every point sits on one step: the value of each line that printed it, in order (a
        # counter that never advances across successive records, :meth:`_Parser._stuck_counter`)
        self.one_step = True
        self.records = array("d")
        self.last_line = -1
        # a step of this series was worked out (an epoch counter times an epoch's length, a position in
        # the log) rather than read from a counter of global steps (see LogData.inferred_tags)
        self.inferred = False

    def add(self, step: int, value: float, line: int = -1) -> None:
        if self.one_step:
            if self.steps and self.steps[0] != step:
                self.one_step, self.records = False, array("d")
            elif line != self.last_line or not self.records:
                self.records.append(value)
            else:
                self.records[-1] = value  # the same line redrawn
            self.last_line = line
        if self.steps and self.steps[-1] == step:
            self.values[-1] = value
            return
        self.steps.append(step)
        self.values.append(value)

    def build(self, tag: str, source: str) -> ScalarSeries:
        steps = np.frombuffer(self.steps, dtype=np.int64).copy() if self.steps else np.zeros(0, np.int64)
        values = np.frombuffer(self.values, dtype=np.float64).copy() if self.values else np.zeros(0, np.float64)
        segment = np.zeros(steps.shape[0], np.int32)
        if steps.shape[0] > 1:
            segment[1:] = np.cumsum(np.diff(steps) < 0)  # the counter went back: a restart
        return ScalarSeries(
            tag=tag,
            run=RUN_NAME,
            source=source,
            steps=steps,
            values=values,
            wall_times=np.full(steps.shape[0], np.nan),
            segment=segment,
        )


@dataclass
class _ParseResult:
    scalars: dict[str, ScalarSeries]
    events: tuple[LogEvent, ...]
    died_with_exception: bool
    last_step: int | None
    step_unit: str | None
    steps_per_epoch: int | None
    notes: list[str]
    epoch_tags: frozenset[str] = frozenset()
    plan: Plan | None = None
    inferred_tags: frozenset[str] = frozenset()
    classifier_rate: bool = False
    unplaced_tags: frozenset[str] = frozenset()


# ---------------------------------------------------------------- the parser


# what _LogParser._box returns for a border or row of a key/value box still open: nothing to read yet
_IN_BOX = LineMetrics()
# a key/value box's row name: a word, maybe indented under a group (baselines' logger; _box)
_BOX_HEAD_ROW = re.compile(r" {0,8}[A-Za-z][\w/.-]{0,63}")


def _box_head(row: tuple[str, str]) -> bool:
    """A box row a paste may open on: a metric's name and a number, or a group's name ending in '/' and no value."""
    name, value = row
    if not _BOX_HEAD_ROW.fullmatch(name):
        return False
    return parse_number(value) is not None or (not value and name.rstrip().endswith("/"))


class _LogParser:
    """Feed cleaned segments in file order; :meth:`finish` returns what was found."""

    def __init__(self, source: str, file_name: str | None = None, hold_leads: bool = True) -> None:
        self.source = source
        # a number and a colon leading lines (_LEAD_NUMBER): "rank" or "counter" once the file has shown which (None
        # until then, the lines held in `held`); `hold_leads` False reads them as ranks at once (sniffing a head)
        self.lead_mode: str | None = None if hold_leads else "rank"
        self.lead_values: list[int] = []
        self.held: list[_Segment] = []
        self.held_bytes = 0
        self.lead_step: int | None = None  # the counter leading the line being read, in "counter" mode
        # the file's first segments, held until they show whether a paste numbered its lines (_decide_numbering);
        # then the number a line's own number is ahead of the file's line by, or None for a file not numbered (a
        # sniff, hold_leads False, feeds some lines only and reads each at once: it does not look)
        self.numbering_probe: list[_Segment] | None = [] if hold_leads else None
        self.numbered_from: int | None = None
        # the column layouts a file of this name is written in without a header (timm's summary.csv)
        self.layouts = headerless_layouts(file_name)
        # (tag, unit, emitter) -> columns. Emitters (a Keras bar, a tqdm postfix, a print
        # loop...) are kept apart: two of them reporting the same tag from two streams
        # interleave out of order, which must not read as a restart.
        self.series: dict[tuple[str, str, str], _SeriesBuilder] = {}
        # _history: each list's last print (its values, the training-loss points put by then, the series it alone
        # filled), the lists found to be per-element values, and the notes saying so; loss points put from lines
        self.history_last: dict[str, tuple[tuple[float, ...], int, tuple[str, str, str] | None]] = {}
        self.vector_tags: set[str] = set()
        self.history_notes: list[str] = []
        self.scalar_loss_puts = 0
        self.events: list[_EventBuilder] = []
        # events of a trainer's statement in any words ('Loss is NaN'), which prose says alike: a file holding only
        # these is no log to discovery (looks_like_log), though a log's own are read as any message
        self.statement_events = 0
        self.prev_generic: tuple[int, str] | None = None  # the last line _generic saw, and its number
        self.matrix_rows: dict[int, int] = {}  # non-finite rows taken for a matrix's under finite rows: line -> width
        self.by_key: dict[tuple[Any, ...], _EventBuilder] = {}
        self.kind_counts: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.recent_fatal: deque[_EventBuilder] = deque(maxlen=64)
        # step state
        self.cur_step: int | None = None
        self.keras_epoch = 1  # the epoch of Keras's last 'Epoch i/N' header, counted from 1
        self.keras_epoch_base: int | None = None  # the number its headers count from (Keras's own: 1)
        self._epoch_series: dict[str, bool] = {}  # built series: does it count epochs (set by _build_series)
        self._inferred_series: set[str] = set()  # built series with a step worked out (set by _build_series)
        self.keras_spe: int | None = None
        self.keras_stop: tuple[int, int] | None = None  # (epoch, batch) where TerminateOnNaN fired
        self.keras_last: tuple[int, int] | None = None  # (line, step) of the last Keras progress bar read
        self.bar_total_it: int | None = None  # OpenPCDet's iteration counter, the last 'total_it=' a bar showed
        self.generic_epoch: int | None = None
        # the epoch a line of its own named ("Epoch 3", "Start of epoch 3"), for the counter-only lines under it
        self.header_epoch: int | None = None
        self.generic_epoch_base: int | None = None
        self.last_rich_step: int | None = None
        self.last_rich_inferred = False  # that step was worked out from the bar's epoch
        self.main_bar_total: int | None = None
        self.spe: int | None = None
        # Hugging Face dict lines: (order index, epoch or None, {tag: value}), placed at the end
        self.hf_points: list[tuple[int, float | None, dict[str, float]]] = []
        self.hf_index = 0
        self.hf_epochs: float | None = None
        self.hf_max_steps: int | None = None
        self.hf_final_epoch: float | None = None
        self.hf_summary = False  # the Trainer printed its end-of-training summary ('train_runtime')
        self.keras_epochs: int | None = None  # N of Keras's 'Epoch i/N' headers: the epochs planned
        # M of Lightning's rich bar 'Epoch e/M': its last epoch index (max_epochs - 1)
        self.lightning_last_epoch: int | None = None
        self._hf_unplaced = False  # no steps_per_epoch known: HF points numbered in log order
        self._line_ordered = False  # metric lines with no counter at all: numbered in log order
        # tracebacks
        self.tb_state = 0  # 0 none, 1 in frames, 2 after the exception line
        self.tb_start = 0
        self.tb_frames: deque[str] = deque(maxlen=TRACEBACK_KEEP_LINES)
        self.tb_step: int | None = None
        self.after_frame = False  # the line before was a traceback frame's 'File "...", line N, in f'
        self.warning_line = -2  # the line of the last Python warning's 'FILE:LINE: CATEGORY: MESSAGE'
        self.tb_raise: tuple[str, int] | None = None  # the last frame's raise of a literal message, and its line
        self.tb_prefix: str | None = None  # the shape of what a runner put before the traceback's first line
        self.exc: _EventBuilder | None = None
        self.exc_line = 0
        self.region_end = 0
        self.last_exception_line = 0
        self.last_exception_step: int | None = None
        self.stopped_line = 0  # the exception line of a stop from outside (Ctrl+C, a signal): no crash
        self.progress_after_exception = False
        self.redraws_after_exception: set[int | None] = set()
        # a native crash (the 'native_crash' family): the one the job died of, as far as the log went on after it
        self.native: _EventBuilder | None = None
        self.native_claims: list[_EventBuilder] = []  # known messages that say what the native crash was
        self.last_metrics_line = 0  # the last line a metric was read from
        self.prev_text = ""  # the last line with something on it (an uncaught Lua error's message, above its trace)
        # "[epoch 1][ 25/125]" / "Epoch 1 Step 20/150": is the counter per epoch or global? Decided
        # the first time the epoch changes (per epoch if the counter falls back then)
        self.fraction_per_epoch: bool | None = None
        self.last_fraction: tuple[int, int] | None = None  # (epoch, n)
        self.forward_fn: str | None = None
        # generic lines: a table header being followed, the rank that printed the line, the
        # position of counter-less metric lines, (epoch, offset, lowest, highest, interval) of a
        # per-epoch counter printed without its total
        self.columns: list[str] | None = None
        self.stray_lines = 0  # lines with a value that were no row, in a row, since the table's last row
        self.column_starts: list[int] | None = None  # where each column starts in a blank-separated header
        self.nan_missing: frozenset[str] = frozenset()  # columns whose NaN the header's note says is missing data
        # the line of a heading naming a metric other than a loss, or of an unnamed row under it (_bare_row)
        self.bare_heading: int | None = None
        # the first row of unnamed values whose every value was non-finite, with none of its columns finite since:
        # (line, step, unit, shape, the columns it printed, the row as printed) (_unnamed_row)
        self.nonfinite_row: tuple[int, int | None, str, str, frozenset[int], str] | None = None
        self.unnamed_rows: dict[str, int] = {}  # rows of unnamed values seen, by shape and width
        self.unnamed_steps: dict[str, int] = {}  # the step of the last such row, by shape and width
        self.unnamed_unordered: set[str] = set()  # shapes whose step did not grow from row to row: no counter
        self.box: list[tuple[str, str]] | None = None  # the rows of a key/value box being read
        # no line has come to _generic yet: a box row first is a box whose opening border the paste cut (_box)
        self.box_head_cut = True
        self.box_guessed = False  # the open box was opened by a cut first line, not by its border (_box)
        self.rank = 0
        self.ranks_seen: set[int] = set()
        self.line_order = 0
        self.order_lines = array("q")  # the file line of each counter-less metric line, in line_order
        # lines that name only their epoch (_epoch_level from a print loop): their values by line, (tag, emitter) ->
        # points on the file line, and the epoch of each such line; they are per-iteration records when an epoch
        # holds many with a changing loss (_per_iteration_epochs)
        self.epoch_line_points: dict[tuple[str, str], _SeriesBuilder] = {}
        self.epoch_rows = array("q")  # the file lines of those lines, in order
        self.epoch_of_row = array("q")  # ...and the epoch each names
        self.epoch_counter: tuple[int, int, int, int, int] | None = None
        # (epoch, step) of the last step worked out from an epoch counter, and how many steps of a later epoch
        # worked out at or before it were moved one step past it (a point never replaces an earlier epoch's)
        self.epoch_step: tuple[int, int] | None = None
        self.epoch_overlaps = 0
        self.caffe_test: int | None = None  # the iteration of Caffe's last "Testing net (#k)" line
        self.forward_trace: deque[str] = deque(maxlen=FORWARD_TRACE_KEEP)
        # where the loss scale reached its floor: (line, step, scale, how it shows)
        self.scale_floor: tuple[int, int | None, float, str] | None = None
        self.floor_from_scale = False  # the floor is a scale _note_scale saw, which a later one may undo
        # a trainer's guard dropping steps (nonfinite_step_skipped), counted since the last finite loss
        # point: (line, step) of the first of them, and how many; the steps of the last two loss points
        self.skips_since_finite = 0
        self.first_skip: tuple[int, int | None] | None = None
        # ESPnet2's reporter intervals that ran no optimizer step (optim_step_time=nan), since the last that did:
        # (line, step, batches) of the first of them, and how many batches they cover
        self.no_update_since: tuple[int, int | None, int] | None = None
        # flair's last per-iteration print: (epoch, batches seen, their mean loss)
        self.flair_mean: tuple[int, int, float] | None = None
        self.loss_steps: tuple[int | None, int | None] = (None, None)
        # the guard said it counts the step's loss as 0 (deepspeech.pytorch's 'setting loss value to 0'): the
        # next loss printed, if exactly 0, is that stand-in
        self.zeroed_loss = False
        self.overflow_wordings: dict[str, int] = {}  # loss-scale overflow lines seen, by catalogued wording
        self.floor_overflows: dict[str, int] = {}  # of those, overflows the scaler could not lower the scale on
        self.floor_from_overflows = False  # the floor is one the scaler's overflow notes showed (undone when they stop)
        self.losses_since_overflow = 0  # finite training losses printed since the scaler's last overflow note
        self.losses_between_overflows = 0  # the most printed between two of its overflow notes (its cadence)
        self.overflow_noted = False
        self.last_counted_loss: tuple[int, str] | None = (
            None  # (step, unit) of the last loss counted there (_loss_printed)
        )
        self.mean_overflows: dict[str, int] = {}  # overflows of a mean loss's scaler (apex, DeepSpeed), by wording
        self.pending_forward: tuple[str, tuple[str, ...]] | None = None
        self.last_op_event: _EventBuilder | None = None
        self.last_op_line = 0
        self.message_step: tuple[int, int] | None = None  # (line, step) of the last message naming its step
        # bookkeeping
        self.cut_lines = 0
        self.token_capped = 0  # lines read only up to logmetrics.MAX_TOKENS tokens
        self.unterminated = False
        self.line = 0
        self.metric_lines = 0  # lines that gave a point of a series the rules read (for sniffing)
        self.loss_basis = ""  # what the loss was read as on a line that printed none as 'loss'
        self.classifier_rate = False  # a classification rate printed in percent on a line with the loss
        self.unplaced_tags: set[str] = set()  # metrics printed with no counter in a log that counts steps (dropped)
        self.speedometer = False  # MXNet's Speedometer logged a batch's metrics ('Epoch[e] Batch [b]\tSpeed: ...')
        self.box_rows = 0  # rows of the key/value boxes closed so far: each printed a metric (for sniffing)
        self.last_metric_line = -1
        # (line, step, emitter, printed its loss) of the last metric line whose counters gave a step:
        # counter-less metric lines right under it are the rest of its record (under a line that printed
        # the loss, only a line of its terms, whose own total the record's loss already is)
        self.record: tuple[int, int, str, bool, bool] | None = None  # ... and whether its step was worked out
        # the record's loss is a term standing in for the loss its line did not print (logmetrics.main_loss_and_basis):
        # a line under it that prints the loss by name gives the record's own
        self.record_stand_in = False
        self.step_inferred = False  # the step _resolve_step gave last was worked out from an epoch counter
        # a record opened by a line whose counters gave a step and that printed no metric (FPN_Tensorflow's " {time}:
        # step{N}    image_name:{} |" then its losses on the lines under it): (last line, step, emitter, the values
        # of its lines so far, whether its step was worked out), read as one line once it ends (_flush_record); a
        # step of None: a dump of counter-less lines, one metric each, numbered in the order printed
        self.pending: tuple[int, int | None, str, list[tuple[str, float]], bool] | None = None
        self.wrap_tail = ""  # the last line, when long enough to have been wrapped into the next
        self.open_list: tuple[str, int, int] | None = None  # a list still open: (its text, first line, lines)

    # ------------------------------------------------------------ input

    def feed(self, seg: _Segment) -> None:
        if self.numbering_probe is not None:
            self.numbering_probe.append(seg)
            if len(self.numbering_probe) >= LINE_NUMBER_PROBE or seg.at_eof:
                self._decide_numbering()
            return
        self._feed_lead(self._unnumbered(seg))

    def _decide_numbering(self) -> None:
        """Whether the held first lines are a paste that numbered its lines (_LINE_NUMBER), then read them."""
        probe, self.numbering_probe = self.numbering_probe or [], None
        self.numbered_from = numbering_offset(probe)
        for s in probe:
            self._feed_lead(self._unnumbered(s))

    def _unnumbered(self, seg: _Segment) -> _Segment:
        """The segment without the number a numbered paste put before its line, blanked so columns keep their place."""
        if self.numbered_from is None or (m := _LINE_NUMBER.match(seg.raw)) is None:
            return seg
        if int(m.group(1)) != seg.line + self.numbered_from:
            return seg  # a redraw of the line, or a line whose own text starts with a number
        return dataclasses.replace(seg, raw=b" " * m.end(1) + seg.raw[m.end(1) :])

    def _feed_lead(self, seg: _Segment) -> None:
        if self.lead_mode is not None:
            self._feed(seg)
            return
        lead = None
        if seg.raw[:1].isdigit() or seg.raw[:1] == b"\x1b":
            m = _LEAD_NUMBER.match(clean_segment(seg.raw.decode("utf-8", "replace")))
            lead = int(m.group(1)) if m else None
        if lead is None and not self.held:
            self._feed(seg)
            return
        self.held.append(seg)
        self.held_bytes += len(seg.raw)
        mode = self._lead_evidence(lead) if lead is not None else None
        if mode is None and (self.held_bytes > MAX_HELD_BYTES or len(self.held) > MAX_HELD_LINES):
            mode = self._lead_default()
        if mode is not None:
            self._release(mode)

    def _lead_evidence(self, value: int) -> str | None:
        """What the numbers leading lines are, from one more of them: "rank" once one comes back or goes down (a
        launcher's small set of ranks, interleaved), "counter" once they have grown on LEAD_COUNTER_LINES lines."""
        if self.lead_values and value <= self.lead_values[-1]:
            return "rank"
        self.lead_values.append(value)
        return "counter" if len(self.lead_values) >= LEAD_COUNTER_LINES else None

    def _lead_default(self) -> str:
        """Undecided when the file or the hold ends: numbers that only grew, on more than one line, are a counter."""
        return "counter" if len(self.lead_values) >= LEAD_COUNTER_MIN_LINES else "rank"

    def _release(self, mode: str) -> None:
        self.lead_mode = mode
        held, self.held, self.held_bytes = self.held, [], 0
        for seg in held:
            self._feed(seg)

    def _feed(self, seg: _Segment) -> None:
        self.line = seg.line
        if seg.cut and seg.ends_line:
            self.cut_lines += 1
        text = clean_segment(seg.raw.decode("utf-8", "replace"))
        if seg.at_eof and text.strip():
            self.unterminated = True
        if not text.strip():
            if self.tb_state == 1:
                self.tb_frames.append("")
            return
        lead = _LEAD_NUMBER.match(text) if self.lead_mode == "counter" and text[:1].isdigit() else None
        self.lead_step = int(lead.group(1)) if lead else None
        pm = None if lead else _PREFIX.match(text)
        if lead:
            self.rank = 0
            text = text[lead.end() :]
        elif pm:
            rank = pm.group("r1") or pm.group("r2") or pm.group("r3") or pm.group("r4")
            self.rank = int(rank) if rank and len(rank) < 7 else 0
            self.ranks_seen.add(self.rank)
            text = text[pm.end() :]
        else:
            self.rank = 0
        if "**" in text:
            text = _BOLD_VALUE.sub(r"\1", text)
        if "%|" in text and (cut := _CUT_BAR.search(text)) is not None and _TQDM.search(text) is None:
            text = text[: cut.start()]  # a bar the terminal's width cut before its count: the row before it is read
        if len(text) > MAX_NUMBER_DIGITS and _LONG_DIGITS.search(text):
            # robustness: a digit run no logger prints (a damaged or hostile line) is masked,
            # so that no int() below meets it; the rest of the line is still read
            text = _LONG_DIGITS.sub("#", text)
        prev_text, self.prev_text = self.prev_text, text
        what_line = self.native is not None and seg.line == self.native.line + 1 and text.startswith(_WHAT_LINE)
        if what_line and self.native is not None:
            self.native.message = f"{self.native.message} {text.strip()}"[:1000]  # the C++ exception's what()
            for known in self.native_claims:
                known.traceback = (self.native.message,)
        if self.tb_state == 2 and seg.line > self.region_end:
            self._close_exception()
        if self._traceback(text, seg.line):
            return
        if self.after_frame and "raise " in text:
            raised = _raised_literal(text)
            if raised:
                self._raised_events(raised, seg.line)
        self.after_frame = text.lstrip().startswith("File ") and _FRAME.match(text) is not None
        if "Warning: " in text and _PY_WARNING.match(text):
            self.warning_line = seg.line
        elif seg.line == self.warning_line + 1 and _WARNING_SOURCE_LINE.match(text):
            return  # the warning's source line under it: code, no metric and no message
        if self.forward_fn is not None:
            if text[:1].isspace():
                self.forward_trace.append(text.strip())
                return
            self.pending_forward = (self.forward_fn, tuple(self.forward_trace))
            self.forward_fn = None
        m = _FORWARD_TRACE.search(text) if "Error detected in" in text else None
        if m:
            self.forward_fn = m.group(1)
            self.forward_trace.clear()
        tail, self.wrap_tail = self.wrap_tail, (text if seg.ends_line and len(text) >= WRAP_MIN_CHARS else "")
        if _EVENT_PREFILTER.search(text):
            guard = False
            natives = []
            for ev in _match_events(text):
                if ev.kind == "native_crash":
                    natives.append(ev)  # read after the line's other messages, which may say what it was
                    continue
                statement = bool(ev.values.get("statement"))  # a trainer's words with its values: read them
                self.statement_events += statement
                self._add_event(ev, seg.line)
                guard = guard or (ev.kind in _GUARD_KINDS and not statement)
            for ev in natives:
                self._native_crash(ev, seg.line, prev_text)
            if guard:
                # "Model diverged with loss = NaN.": the guard's words, not a logged point. But a
                # progress bar redrawn without a newline before the guard's print ("... loss=nan,
                # lr=1e-5]Warning: loss is NaN, skipping this step") still holds the step's values:
                # the bar is read, the words after it are not.
                bar_end = _bar_before_message(text) or _output_before_terminate(text)
                if bar_end:
                    self._metrics(text[:bar_end], seg.line, False)
                return
        elif tail and text[:1].isalpha() and (tail[-1].isalpha() or tail[-1] == ":"):
            # a wrap inside a message leaves a word or a "name:" cut at the end of the line, and the next line
            # starts with the rest of it (a new record starts with a date, a bracket, a counter or blanks)
            self._wrapped_message(tail, text, seg.line)
        if " - iter " in text:
            text = self._flair_interval(text)
        self._metrics_joined(text, seg.line, seg.at_eof)
        if "optim_step_time=" in text:
            self._espnet2_interval(text, seg.line)

    def _flair_interval(self, text: str) -> str:
        """flair's per-iteration line with its loss turned from the epoch's running mean into the mean of the
        batches since the previous print: ModelTrainer logs train_loss / seen_batches, so one bad batch lifts every
        later print of the epoch and decays as 1/n, a level no batch after it had. The first print of an epoch
        (or of a paste) is the mean of the epoch's batches up to it, read as it is."""
        m = _FLAIR_RUNNING.search(text)
        if m is None:
            return text
        epoch, seen, mean = int(m.group(1)), int(m.group(2)), float(m.group(3))
        prev, self.flair_mean = self.flair_mean, (epoch, seen, mean)
        if prev is None or prev[0] != epoch or not prev[1] < seen:
            return text
        interval = (seen * mean - prev[1] * prev[2]) / (seen - prev[1])
        if mean >= 0 and prev[2] >= 0:
            interval = max(interval, 0.0)  # the prints' rounding, on a loss that cannot go below zero
        return f"{text[: m.start(3)]}{interval:.8g}{text[m.end(3) :]}"

    def _espnet2_interval(self, text: str, line: int) -> None:
        """ESPnet2's reporter line of a training interval: its optim_step_time is the mean over the steps that ran
        the optimizer, which the trainer runs only on a finite grad norm (espnet2/train/trainer.py train_one_epoch
        measures it inside the else of 'The grad norm is nan. Skipping updating the model.'); nan there is no step
        to average, every step of the interval dropped, even with its loss finite (the loss is the forward's)."""
        m = _ESPNET2_OPTIM_TIME.search(text)
        if m is None:
            return
        batches = int(m.group(2)) - int(m.group(1)) + 1
        if m.group(3).lower() != "nan":
            self.no_update_since = None
        elif self.no_update_since is None:
            self.no_update_since = (line, self.loss_steps[1], max(batches, 0))
        else:
            first_line, step, n = self.no_update_since
            self.no_update_since = (first_line, step, n + max(batches, 0))

    def _metrics_joined(self, text: str, line: int, at_eof: bool) -> None:
        """A line, or a list under a key printed over several lines joined into one (pprint writes a history
        dict's list one entry a line: " 'train': [array(2.8e10)," then "  array(nan)," ... "  array(nan)],")."""
        held = self.open_list
        if held is None:
            if "[" in text and text.count("[") > text.count("]") and _LIST_OPEN.search(text):
                self.open_list = (text.rstrip(), line, 1)
                return
            self._metrics(text, line, at_eof)
            return
        joined, first, lines = held
        if lines >= MAX_LIST_LINES or not _only_list_entries(text):
            # no entry of a list: what was held is read as it was printed, then this line
            self.open_list = None
            self._metrics(joined, first, False)
            self._metrics_joined(text, line, at_eof)
            return
        joined = f"{joined} {text.strip()}"
        if joined.count("[") > joined.count("]"):
            self.open_list = (joined, first, lines + 1)
            return
        self.open_list = None
        self._metrics(joined, line, at_eof)

    def _wrapped_message(self, tail: str, text: str, line: int) -> None:
        """A catalogued message that a paste or a terminal wrapped onto the next line, cut mid-word ('...
        cudaMalloc fail' then 'ed: out of memory') or at a blank: read from the two lines joined, when a
        needle spans the seam (neither line holds it whole)."""
        head = tail[-_SEAM_CHARS:]
        for sep in ("", " "):
            window = head + sep + text[:_SEAM_CHARS]
            if any(m.start() < len(head) and m.end() > len(head) + len(sep) for m in _EVENT_PREFILTER.finditer(window)):
                for ev in _match_events(tail + sep + text):
                    if ev.wording and ev.wording not in tail and ev.wording not in text:
                        self._add_event(ev, line)
                return

    def _traceback(self, text: str, line: int) -> bool:
        """Follow a Python traceback; True when the line was a frame (nothing else to look for)."""
        tb = _TB_START.search(text) if "Traceback (" in text else None
        if tb:
            self.tb_prefix = _line_prefix_shape(text[: tb.start()]) if tb.start() > 0 else None
            if tb.start() > 0:  # "...loss: 0.3632Traceback (most recent call last):"
                self._metrics(text[: tb.start()], line, False)
            if self.tb_state == 2:
                self._close_exception()
            self.tb_state = 1
            self.tb_start = line
            self.tb_raise = None
            self.tb_frames.clear()
            self.tb_step = self.cur_step
            return True
        if self.tb_state != 1:
            return False
        prefix = self.tb_prefix
        if prefix is not None and len(text) > len(prefix) and _line_prefix_shape(text[: len(prefix)]) == prefix:
            # a runner that leads every line with its own prefix (a timestamp, a task and pid, a run id): the
            # traceback is what follows it, on this line as on the first
            text = text[len(prefix) :]
        if text[:1].isspace():
            glued = _GLUED_EXC.search(text) if ("Error" in text or "Exception" in text) else None
            if glued is None:
                self.tb_frames.append(text.rstrip())
                raised = _raised_literal(text) if "raise " in text else None
                self.tb_raise = (raised, line) if raised else self.tb_raise
                return True
            self.tb_frames.append(text[: glued.start("exc")].rstrip())
            text = glued.group("exc")  # read as the exception line it was
        if _CHAIN.match(text):
            return True
        m = _EXC_LINE.match(text.rstrip())
        if m:
            exc_type = m.group("type")
            message = (m.group("msg") or "").strip()
            self.exc = _EventBuilder(
                kind="exception",
                message=text.strip()[:1000],
                line=line,
                step=self.tb_step,
                values={"type": exc_type.rsplit(".", 1)[-1], "qualified_type": exc_type, "message": message[:500]},
                traceback=(*_trim_frames(self.tb_frames), text.strip()[:1000]),
            )
            self.tb_state = 2
            self.exc_line = line
            self.region_end = line + REGION_LINES
            self.last_exception_line = line
            self.last_exception_step = self.tb_step
            self.progress_after_exception = False
            self.redraws_after_exception = set()
            last = next((f.strip() for f in reversed(self.tb_frames) if f.strip()), "")
            if exc_type.endswith("AssertionError") and not message and _EVENT_PREFILTER.search(last):
                # a bare AssertionError says nothing: the assert statement, the traceback's last
                # frame line, is the message (DETR's check of its predicted boxes)
                for ev in _match_events(last):
                    self._add_event(ev, line)
        return False  # the exception line (or a stray line inside frames) is also looked at

    def _native_crash(self, ev: _EventBuilder, line: int, prev_text: str) -> None:
        """A process's own report of its death by a signal or an abort (glibc's heap checks, the shell's 'Segmentation
        fault', C++'s terminate, faulthandler, an uncaught Lua error): the job died of it as it dies of a Python
        exception, unless training goes on after it (a later step, more than a closing bar redraw), which the
        exception's bookkeeping already follows. A report right after a death already read (the shell's
        'Aborted (core dumped)' under glibc's message, a segfault at exit after a traceback) is that same death."""
        if self.tb_state == 2 and self.exc_line == line:
            return  # the exception line of a Python traceback quotes the words: the exception is what it died of
        if ev.values.get("framework") == "lua":
            if not _LUA_ERROR.match(prev_text):
                return  # a traceback printed by the program's own handler, not the interpreter's last words
            ev.message = prev_text.strip()[:1000]
        elif ev.wording in _GLUED_CRASH_WORDS and ev.wording in ev.message:
            ev.message = ev.message[ev.message.index(ev.wording) :]  # printed after an unterminated progress line
        if self.last_exception_line and not self.progress_after_exception:
            if self.native is not None and self.native.line == self.last_exception_line:
                self.native.values.setdefault("signal", ev.values.get("signal"))
            return
        ev.line = line
        self.native = ev
        self.native_claims = []
        self.last_exception_line = line
        self.last_exception_step = self.cur_step
        self.progress_after_exception = False
        self.redraws_after_exception = set()
        # a message before it names it, as one before a traceback does, if training did not go on after the message
        self._native_claims(max(line - LOOKBACK_LINES, self.last_metrics_line), line)
        if not self.native_claims:
            self._add_event(ev, line)

    def _native_claims(self, first: int, last: int) -> None:
        """Known fatal messages printed with the native crash (before it, on its line, or as C++'s what() after it)
        say what it was, as those before a traceback do for it: each takes the crash's words as its traceback, and
        the crash is no event of its own."""
        native = self.native
        if native is None:
            return
        claimed = False
        for known in self.recent_fatal:
            if not known.claimed and first <= known.line <= last:
                known.claimed = claimed = True
                known.traceback = (native.message,)
                self.native_claims.append(known)
        if claimed and any(e is native for e in self.events):  # stored before its what() line named it
            self.events = [e for e in self.events if e is not native]
            self.by_key = {k: e for k, e in self.by_key.items() if e is not native}
            self.kind_counts[native.kind] -= 1

    def _raised_events(self, raised: str, line: int) -> None:
        """The catalogued messages of an exception known only from the raise statement that threw it
        (a traceback cut after its last frame): the raise's literal is what the exception line says."""
        if _EVENT_PREFILTER.search(raised):
            for ev in _match_events(raised):
                self._add_event(ev, line)

    def _close_exception(self) -> None:
        exc = self.exc
        if exc is None:
            self.tb_state = 0
            return
        self._guard_in_frames(exc)
        self._scale_at_zero(exc)
        if self._stopped_from_outside(exc):
            self.exc = None
            self.tb_state = 0
            return
        claimed = False
        for ev in list(self.recent_fatal):
            if not ev.claimed and self.tb_start - LOOKBACK_LINES <= ev.line <= self.region_end:
                if not self._loss_read() and _histogram_of_other_values(ev, exc.traceback):
                    self._forget(ev)  # the exception stays, of no known meaning
                    continue
                ev.claimed = True
                claimed = True
                # a traceback cut before its exception line ends, as far as the log shows, on
                # the known message that raised it
                cut = exc.values["qualified_type"] is None
                ev.traceback = (*exc.traceback, ev.message) if cut else exc.traceback
                if ev.step is None and ev.keras_epoch_batch is None:
                    ev.step = exc.step
                ev.values.setdefault("exception", exc.values["qualified_type"])
        if not claimed:
            self._store(exc)
        self.exc = None
        self.tb_state = 0

    def _stopped_from_outside(self, exc: _EventBuilder) -> bool:
        """A traceback that is the job being stopped, not failing: Python's KeyboardInterrupt (Ctrl+C, or
        SIGINT from a scheduler) or torchrun's SignalException (its catalogued line is the event). The job
        was killed: a ``job_killed`` event, and no exception it died of."""
        kind = exc.values.get("type")
        if kind not in STOP_EXCEPTIONS:
            return False
        self.stopped_line = self.last_exception_line
        if any(
            ev.kind == "job_killed" and self.tb_start - LOOKBACK_LINES <= ev.line <= self.region_end
            for ev in self.events
        ):
            return True  # its own message was read (SignalException's 'got signal: 15')
        ev = _EventBuilder(
            kind="job_killed",
            message=f"{kind}: the job was interrupted ({STOP_EXCEPTIONS[kind]})",
            line=exc.line,
            step=exc.step,
            values={"framework": "python", "what": "interrupt"},
        )
        self._store(ev)
        return True

    def _guard_in_frames(self, exc: _EventBuilder) -> None:
        """A traceback through a framework's NaN check (Lightning's ``detect_nan_tensors``) is that
        guard firing, also when the paste stops at its frame before the message it raised; so is one
        raised by the job's own check, an assert (or a one-line if-raise) testing a value with isnan,
        isinf or isfinite, that the traceback's last frame shows (nan_assert)."""
        found = guard_frame(exc.traceback)
        asserted = None if found else nan_assert(exc.traceback, exc.values.get("qualified_type"))
        if found is None and asserted is None:
            return
        if any(
            ev.kind in _GUARD_KINDS and not ev.claimed and self.tb_start - LOOKBACK_LINES <= ev.line <= self.region_end
            for ev in self.recent_fatal
        ):
            return  # its own message was read (the exception line): one event
        if found is not None:
            function, framework = found
            message = f"traceback through {framework}'s NaN check {function}()"
            values: dict[str, Any] = {"framework": framework, "function": function}
        else:
            function, statement, tested = asserted
            message = f"{exc.values['type']} raised by the NaN check in {function}(): {statement}"
            values = {"framework": GENERIC, "function": function, "tensor": tested}
        ev = _EventBuilder(kind="nan_loss", message=message, line=exc.line, step=exc.step, values=values)
        self._store(ev)

    def _scale_at_zero(self, exc: _EventBuilder) -> None:
        """A ZeroDivisionError raised in a loss scaler's file is its scale gone to 0 (scale_at_zero): the scaler's
        floor, the message the job died of."""
        found = scale_at_zero(exc.traceback, exc.values.get("type"))
        if found is None:
            return
        path, function = found
        framework = "apex" if "apex" in path.replace("\\", "/").split("/") else GENERIC
        ev = _EventBuilder(
            kind="loss_scale_minimum",
            message=f"ZeroDivisionError in the loss scaler's {function}(): the loss scale reached 0",
            line=exc.line,
            step=exc.step,
            values={"framework": framework, "function": function, "min_scale": 0.0},
        )
        self._store(ev)

    def _add_event(self, ev: _EventBuilder, line: int) -> None:
        ev.line = line
        if self.pending is not None and self.pending[1] is None:
            self._flush_record()  # a counter-less dump printed before the message: numbered before it is placed
        if ev.kind == "nonfinite_tensor" and "what" in ev.values and ev.values.get("tensor") is None:
            prev = self.last_op_event
            if prev is not None and line - self.last_op_line <= 30:
                prev.values.setdefault("what", ev.values["what"])
                return
        if ev.kind == "nan_loss_terminated" and ev.values.get("framework") == "keras":
            batch = int(ev.values["batch"])
            ev.keras_epoch_batch = (self.keras_epoch, batch)
            self.keras_stop = (self.keras_epoch, batch)
            ev.values["epoch"] = self.keras_epoch
        else:
            named = ev.values.pop("step", None)  # a message that names its own iteration (detectron2)
            ev.step = named if isinstance(named, int) and 0 <= named <= STEP_MAX else self.cur_step
            if ev.step is None:
                ev.after_points = (self.line_order, self.hf_index)
            if ev.step is not None and ev.step == named:
                self.message_step = (line, ev.step)
        if (
            ev.kind == "nonfinite_gradient"
            and self.pending_forward
            and self.pending_forward[0] == ev.values["function"]
        ):
            ev.values["forward_trace"] = self.pending_forward[1]
            self.pending_forward = None
        if ev.kind == "nonfinite_step_skipped":
            self.skips_since_finite += 1
            self.first_skip = self.first_skip or (line, ev.step)
            self.zeroed_loss = bool(ev.values.pop("zeroed", False))
        stored = self._store(ev)
        native = self.native
        if (
            native is not None
            and stored.kind in _FATAL_KINDS
            and self.last_exception_line == native.line
            and not self.progress_after_exception
            and native.line < line <= native.line + NATIVE_REPORT_LINES
        ):
            self._native_claims(line, line)  # named after the crash, in C++'s what() under it
        if ev.kind == "nonfinite_tensor" and "op" in ev.values:
            self.last_op_event = stored
            self.last_op_line = line

    def _note_scale(self, scale: Any, line: int, step: int | None, how: str, floor: float = LOSS_SCALE_FLOOR) -> None:
        """A loss scale the log names (logged, or set by the scaler): one under LOSS_SCALE_FLOOR is the floor; one back
        at or above it after such a floor undoes it, as the scaler that brought it back was not stuck there (icefall
        doubles a scale under 1 at each check, GradScaler grows it after its clean steps). A floor the scaler said it
        could not go below (_store) stays."""
        if not isinstance(scale, float) or not scale >= 0:
            return
        if scale < floor:
            if self.scale_floor is None:
                # a scaler doubles its scale to grow it: from 0 it never can, whatever the next steps do
                self.scale_floor = (line, step, scale, f"{how}; it cannot grow back from 0" if scale == 0 else how)
                self.floor_from_scale = True
        elif self.scale_floor is not None and self.floor_from_scale:
            self.scale_floor, self.floor_from_scale = None, False

    def _store(self, ev: _EventBuilder) -> _EventBuilder:
        """Keep ``ev``, or count it on the identical event already kept; return the one kept."""
        if ev.kind == "mixed_precision" and "loss_scale" in ev.values:
            # a trainer naming its scaler's scale (icefall's 'Grad scale is small: x'): read as a logged scale
            self._note_scale(ev.values.pop("loss_scale"), ev.line, ev.step, "named by the trainer's warning")
        if ev.kind == "loss_scale_overflow_transient":
            if self.overflow_noted:  # between two notes: how many losses a step prints
                self.losses_between_overflows = max(self.losses_between_overflows, self.losses_since_overflow)
            self.overflow_noted = True
            self.losses_since_overflow = 0
            scale, attempted = ev.values.get("loss_scale"), ev.values.pop("attempted", None)
            if isinstance(scale, float) and attempted == scale:
                # "Attempted loss scale: 1, reducing to 1": the scaler could not go lower, and a
                # floor that keeps overflowing (not one skip there) is fp16 overflowing for good
                n = self.floor_overflows[ev.wording] = self.floor_overflows.get(ev.wording, 0) + 1
                if self.scale_floor is None and n >= FLOOR_OVERFLOWS:
                    self.scale_floor = (ev.line, ev.step, scale, "the scaler could not lower it further")
                    self.floor_from_overflows = True
            self._note_scale(scale, ev.line, ev.step, "set by the loss scaler after an overflow")
            mean_scaler = ev.values.get("framework") in MEAN_LOSS_SCALERS
            if mean_scaler:
                self.mean_overflows[ev.wording] = self.mean_overflows.get(ev.wording, 0) + 1
            # the first overflow of a scale that started at 1 (DeepSpeed's initial_scale_power 0) sets it below 1
            # once; below 1 after an earlier overflow is overflow after overflow, halving down to it
            if (
                self.scale_floor is None
                and mean_scaler
                and isinstance(scale, float)
                and 0 <= scale < MEAN_LOSS_SCALE_FLOOR
                and self.mean_overflows[ev.wording] >= FLOOR_OVERFLOWS
            ):
                self.scale_floor = (ev.line, ev.step, scale, "set below 1 by the loss scaler, overflow after overflow")
                self.floor_from_overflows = True
        # the same message printed twice (TF logs it, then raises it) is one event
        key = (ev.kind,) if ev.kind in _COUNTED_KINDS else ev.key()
        same = self.by_key.get(key)
        if ev.kind == "loss_scale_overflow_transient":
            # DeepSpeed reports one overflow in up to three lines of its own wordings (the scaler's
            # "Grad overflow on iteration" and "Reducing dynamic loss scale", then the step's
            # "Overflow detected. Skipping step"): each wording is counted apart, and the overflows
            # are as many as the wording printed most often
            n = self.overflow_wordings[ev.wording] = self.overflow_wordings.get(ev.wording, 0) + 1
            if same is not None:
                same.count = max(same.count, n)
                if ev.values.get("loss_scale") is not None:
                    same.values.setdefault("loss_scale", ev.values["loss_scale"])
                    same.values["last_loss_scale"] = ev.values["loss_scale"]
                same.values["last_step"] = ev.step
                same.values["last_line"] = ev.line
        elif same is not None:
            same.count += 1
        if same is not None:
            return same
        n = self.kind_counts.get(ev.kind, 0)
        if n >= MAX_EVENTS_PER_KIND:
            self.dropped[ev.kind] = self.dropped.get(ev.kind, 0) + 1
            return ev
        self.kind_counts[ev.kind] = n + 1
        self.by_key[key] = ev
        self.events.append(ev)
        if ev.kind in _FATAL_KINDS:
            self.recent_fatal.append(ev)  # claimed by the exception raised next, if any
        return ev

    def _loss_read(self) -> bool:
        """A training or evaluation loss (or an unnamed value that may be one) was read so far."""
        return bool(self.hf_points) or any(
            t in _LOSS_TAGS or t == "val_loss" or t.startswith("_bare") for t, _, _ in self.series
        )

    def _forget(self, ev: _EventBuilder) -> None:
        """Drop a kept event that the traceback after it shows to mean something else (_histogram_of_other_values)."""
        if ev.count > 1:
            ev.count -= 1  # the same message printed before is kept
            return
        self.events.remove(ev)
        self.recent_fatal.remove(ev)
        self.by_key = {k: e for k, e in self.by_key.items() if e is not ev}
        self.kind_counts[ev.kind] -= 1

    # ------------------------------------------------------------ metrics

    def _put(
        self,
        tag: str,
        step: int,
        value: float,
        emitter: str,
        unit: str = "step",
        inferred: bool = False,
        from_history: bool = False,
    ) -> None:
        if not -STEP_MAX <= step <= STEP_MAX:
            return  # robustness: a step no int64 column holds is a damaged number, not a point
        if tag == "loss" and not from_history:
            self.scalar_loss_puts += 1
        if tag in _SNIFF_TAGS and self.line != self.last_metric_line:
            self.metric_lines += 1
            self.last_metric_line = self.line
        floor = LOSS_SCALE_FLOOR
        if tag == LOG2_LOSS_SCALE:
            tag, value, floor = "loss_scale", 2.0 ** min(value, 1000.0), MEAN_LOSS_SCALE_FLOOR  # NaN stays NaN
        if tag == "loss_scale":
            self._note_scale(value, self.line, step if unit == "step" else None, "as logged", floor)
        if tag == "loss" and math.isfinite(value):
            self._loss_printed((step, unit))
        if tag == "loss" and self.zeroed_loss:
            self.zeroed_loss = False
            if value == 0.0:
                return  # the guard's stand-in for the non-finite loss it threw away, not a loss the model gave
        if tag == "loss" and unit == "step" and math.isfinite(value) and self.loss_steps[1] != step:
            last = self.loss_steps[1]
            # a step below the last one is a restart (or a second run in the file): its print interval is
            # still unknown, so the count starts again from this point
            self.loss_steps = (last if last is None or step > last else None, step)
            self.skips_since_finite, self.first_skip = 0, None
        key = (tag, unit, emitter)
        b = self.series.get(key)
        if b is None:
            b = self.series[key] = _SeriesBuilder()
        b.add(step, value, self.line)
        b.inferred = b.inferred or inferred

    def _loss_printed(self, at: tuple[int, str]) -> None:
        """A finite training loss printed at ``at`` (its step and unit): counted once a step against the loss scaler's
        overflow notes (FLOOR_RECOVERED_POINTS), so the same step printed by each rank is one."""
        if self.last_counted_loss != at:
            self.last_counted_loss = at
            self.losses_since_overflow += 1

    @property
    def _has_steps(self) -> bool:
        return any(unit == "step" for _, unit, _ in self.series)

    def _saw_metrics(self, line: int, step: int | None, bar: bool = False) -> None:
        self.last_metrics_line = line
        if step is not None and not -STEP_MAX <= step <= STEP_MAX:
            step = None  # robustness: a damaged number is no step (as in _put)
        if step is not None:
            self.cur_step = step
        if self.tb_state == 2 and line > self.exc_line:
            self._close_exception()
        if self.last_exception_line and line > self.last_exception_line and not self.progress_after_exception:
            if bar:
                self.redraws_after_exception.add(step)
                if len(self.redraws_after_exception) > CLOSING_REDRAWS:
                    self.progress_after_exception = True
            else:
                self.progress_after_exception = True

    def _metrics(self, text: str, line: int, at_eof: bool) -> None:
        end_ok = len(text) if not at_eof else len(text.rstrip()) - 1  # a number touching EOF may be cut

        def pairs(regex: re.Pattern[str], s: str, offset: int = 0) -> list[tuple[str, float]]:
            out = []
            for m in regex.finditer(s):
                if offset + m.end() > end_ok:
                    continue
                tag = normalise_tag(m.group(1))
                val = _num(m.group(2))
                if tag is not None and val is not None:
                    out.append((tag, val))
            return out

        if "Num Epochs" in text or "Total optimization steps" in text:
            m = _HF_EPOCHS.search(text)
            if m:
                self.hf_epochs = float(_int(m.group(1)) or 0) or None
            m = _HF_MAX_STEPS.search(text)
            if m:
                self.hf_max_steps = _int(m.group(1))
            return
        m = _KERAS_EPOCH.match(text)
        if m:
            printed = int(m.group(1))
            # Keras prints its epochs from 1; a loop of its own that prints 'Epoch 0/N' over Keras's Progbar counts
            # from 0: the headers count from the first one's number, and from 0 where an 'Epoch 0/N' follows
            # 1-based ones (a counter started again, as _epoch_base says)
            if self.keras_epoch_base is None or printed < self.keras_epoch_base:
                self.keras_epoch_base = 0 if printed == 0 else 1
            epoch = printed - self.keras_epoch_base + 1
            if epoch <= 1:
                self.keras_stop = None
            self.keras_epoch = epoch
            self.keras_epochs = int(m.group(2)) or None
            # and for a loop of its own printing its steps under the header ('step 200 loss: x'), the header's epoch
            self._header_epoch(printed)
            return
        if "Interval " in text and (m := _KERAS_INTERVAL.match(text)) is not None:
            self.keras_epoch, self.keras_epochs, self.keras_stop = max(int(m.group(1)), 1), None, None
            return
        rest = text
        offset = 0
        bar = None
        prev = 0
        for bar in _tqdm_bars(text):
            self._tqdm(bar, text[prev : bar.start()], line, end_ok)
            prev = bar.end()
        if bar is not None:
            offset = bar.end()
            rest = text[offset:]
        if "{'" in rest:
            spans = list(_dict_spans(rest))
            for span in spans:
                self._hf(span, line)
            if spans:
                return
        if "it/s" in rest or "━" in rest:  # a rich bar shows a rate; cheap test before the regex
            rm = _RICH_COUNTER.search(rest)
            desc = rest[: rm.start()].rstrip(_RICH_BAR_CHARS) if rm else ""
            if rm and desc and not desc[0].isspace():
                self._rich(desc, int(rm.group("n")), int(rm.group("total")), rest[rm.end() :], line, pairs)
                return
        if self.last_rich_step is not None and _only_colon_pairs(rest):
            found = pairs(_COLON_PAIR, rest, offset)
            for tag, val in found:
                self._put(tag, self.last_rich_step, val, "rich", inferred=self.last_rich_inferred)
            if found:
                self._saw_metrics(line, self.last_rich_step, bar=True)
            return
        km = _KERAS_PROGRESS.match(rest)
        if km and " - " in rest:
            self._keras(int(km.group(1)), int(km.group(2)), pairs(_KERAS_PAIR, rest, offset), line)
            return
        if _KERAS_NO_COUNTER.match(rest):
            found = pairs(_KERAS_PAIR, rest, offset)
            self._epoch_level(self.keras_epoch, 1, found, line, "keras")
            return
        if self.keras_last is not None and line - self.keras_last[0] == 1 and " - " in rest:
            # the line right under a Keras bar printing its ' - name: value' pairs after a prefix of its own
            # (keras-rl's interval summary, '50 episodes - episode_reward: ... - loss: ...'): the bar's last step's
            found = pairs(_KERAS_PAIR, rest, offset)
            if found:
                for tag, val in found:
                    self._put(tag, self.keras_last[1], val, "keras", inferred=True)
                self._saw_metrics(line, self.keras_last[1])
                return
        if offset == 0 or rest.strip():
            if at_eof:  # the job was killed while printing: a number touching the end may be cut short
                rest = rest.rstrip()
                rest = rest.rstrip("0123456789.+-eE")
            self._generic(rest, line)

    def _keras(self, i: int, total: int, found: list[tuple[str, float]], line: int) -> None:
        self.keras_spe = total
        self.spe = total
        base = (self.keras_epoch - 1) * total
        step = base + i
        if i == total and self.keras_stop is not None and self.keras_stop[0] == self.keras_epoch:
            step = base + self.keras_stop[1] + 1  # the epoch ended where TerminateOnNaN stopped it
        for tag, val in found:
            self._put(tag, step, val, "keras", inferred=True)  # epochs before x the bar's total, + its count
        self.keras_last = (line, step)
        if found:
            self._saw_metrics(line, step)

    def _epoch_level(self, epoch: int, base: int, found: list[tuple[str, float]], line: int, emitter: str) -> None:
        if not found:
            return
        for tag, val in found:
            self._put(tag, epoch + (1 - base), val, emitter, unit="epoch")
        self._saw_metrics(line, None)

    def _tqdm(self, bar: re.Match[str], desc: str, line: int, end_ok: int) -> None:
        # what a notebook or a shell put before the bar's own text ('# Epoch 2: ', '> ') is not its description
        desc = desc.strip().rstrip(":").strip().lstrip(_DESC_LEAD).strip()
        if desc and (desc[0] == "[" or desc[0].isdigit() or desc[0] in "IWDE"):  # a cheap test before the pattern
            desc = _BAR_RECORD_HEAD.sub("", desc, count=1).lstrip(_DESC_LEAD).strip()
        if desc[:1] == "[" and desc[-1:] == "]" and "[" not in desc[1:]:
            # ColossalAI's Trainer: tqdm(desc=f"[Epoch {epoch} / Train]"), "[Train]": the words in brackets describe it
            desc = desc[1:-1].strip()
        n, total = int(bar.group("n")), int(bar.group("total"))
        if desc and _NON_TRAIN_BAR.search(desc):
            return
        info = bar.group("info") or ""
        if "total_it=" in info and (it := _ACCUMULATED_ITER.search(info)) is not None:
            self.bar_total_it = int(it.group(1))
        if desc.lower() == _EPOCHS_BAR:
            self._epochs_bar(bar, n, line, end_ok)
            return
        if desc and self._bar_row(desc, n, total, line):
            return
        em = _EPOCH_DESC.match(desc) if desc else None
        epochs_before = int(em.group(1)) if em else 0  # Lightning's 'Epoch 3:' counts from 0
        if em is None and desc and (em := _EPOCH_OF_EPOCHS_DESC.match(desc)) is not None:
            loader = em.group("loader")
            if loader is not None and not loader.strip().lower().startswith("train"):
                return  # another loader's bar: an evaluation's
            # Catalyst counts its epochs from 1 (19.x printed them from 0): from the first one printed
            epochs_before = int(em.group(1)) - self._epoch_base(int(em.group(1)))
        # a description that prints the metrics (set_description(f"loss: {loss:.8f} | acc: {acc:.4f}"), and
        # after the epoch: set_description(f"Epoch {epoch} loss: {loss:.4f}")): the training loop's bar, its
        # values read as a postfix's
        desc_lm = scan_line(desc) if desc and names_a_metric(desc) else None
        shown = [(tag, val) for tag, val in desc_lm.pairs if tag != "epoch"] if desc_lm is not None else []
        if em is None and shown and self._bar_at_its_counter(bar, desc, desc_lm, shown, line, end_ok):
            return
        if em:  # the counter is the batch within the epoch
            step = epochs_before * total + n
            if "v_num" in (bar.group("info") or ""):
                step -= 1  # Lightning updates the counter before the postfix: n shows batch n-1's loss
            self.spe = total
            if n == 0:
                return  # the bar was reset for a new epoch but still shows the last epoch's postfix
        else:
            # the training loop's bar: no description, "Training", or sd-scripts' "steps" (its bar over
            # max_train_steps)
            trains = any(not tag.startswith(_EVAL_PREFIXES) for tag, _ in shown)  # an evaluation's does not
            if (self.main_bar_total is None and (not desc or trains)) or desc.lower().startswith(("train", "steps")):
                self.main_bar_total = self.main_bar_total or total
            if total != self.main_bar_total:
                return  # a nested bar (HF evaluation) or another loop
            step = n
        postfix = _bar_postfix(bar, end_ok)
        # the bar's main loss as a line's (NeMo's 'reduced_train_loss=', a loss term alone)
        found, basis = main_loss_and_basis([*shown, *_bar_values(postfix)])
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis
        if "=" in postfix and not any(tag == "loss" for tag, _ in found):
            letters = postfix_letter_terms(postfix)
            if letters:  # a GAN's "DR=713, DF=nan, G=nan": the loss is the generator's terms
                found = main_loss_of(found + letters)
        for tag, val in found:
            self._put(tag, step, val, "tqdm", inferred=em is not None)  # an epoch's bar: epochs x its total + n
        if found:
            self._saw_metrics(line, step, bar=True)
        elif not em and -STEP_MAX <= step <= STEP_MAX:
            self.cur_step = step if self.cur_step is None else max(self.cur_step, step)

    def _bar_at_its_counter(
        self, bar: re.Match[str], desc: str, lm: LineMetrics, shown: list[tuple[str, float]], line: int, end_ok: int
    ) -> bool:
        """A bar whose description prints the loop's own step counter beside its metrics (crnn-pytorch's
        set_description(f"epoch: {epoch}; iter: {iteration}; lr: ...; loss_mean: ...; loss: ...")): its values are
        placed at that counter, as the same words on a line of their own would be (:meth:`_resolve_step`), not at the
        bar's count, which another bar of the log (a test phase's, printed first) may have claimed."""
        if _DESC_STEP_GATE.search(desc) is None:
            return False  # no step counter's word before a number: the common bar
        if lm.eval_context or not any(kind in ("global", "step") for kind, _, _ in lm.counters):
            return False  # an evaluation's bar ('Dev step: 0; loss: ...') is left to the bar's own tests
        step = self._resolve_step(lm)
        if step is None:
            return False
        found, basis = main_loss_and_basis([*shown, *_bar_values(_bar_postfix(bar, end_ok))])
        if not found:
            return False
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis
        for tag, val in found:
            self._put(tag, step, val, "tqdm", inferred=self.step_inferred)
        self._saw_metrics(line, step, bar=True)
        return True

    def _epochs_bar(self, bar: re.Match[str], n: int, line: int, end_ok: int) -> None:
        """A bar over the epochs (OpenPCDet's tools/train_utils: tqdm.trange(..., desc='epochs'), its postfix set to
        the last iteration's disp_dict, 'loss=.., lr=..'): its count is the epochs done, its values the running
        iteration's, placed at the iteration counter the inner bar shows ('total_it=N'), else at the running epoch."""
        found, basis = main_loss_and_basis(_bar_values(_bar_postfix(bar, end_ok)))
        if not found:
            return
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis
        if self.bar_total_it is None:
            self._epoch_level(n + 1, 1, found, line, "tqdm")  # tqdm counts the epochs done: the running one is n + 1
            return
        for tag, val in found:
            self._put(tag, self.bar_total_it, val, "tqdm")
        self._saw_metrics(line, self.bar_total_it, bar=True)

    def _bar_row(self, desc: str, n: int, total: int, line: int) -> bool:
        """A bar whose description is a row under the header printed before it (ultralytics YOLO:
        "Epoch GPU_mem box_loss cls_loss dfl_loss Instances Size", then "3/100 2.61G 1.2 ...: 42%|.."), or the
        same row where the log holds no header (logmetrics.headerless_row)."""
        if self.columns is not None:
            lm = row_metrics(self.columns, desc)
        else:  # the same row with no header in the log: its loss columns told apart by their place
            lm = headerless_row(desc) if desc[:1].isdigit() else None
        if lm is None or lm.epoch is None:
            return False
        # with no total column, the loss is the sum of the terms shown (main_loss_of): ultralytics
        # optimises the sum of the weighted terms (loss.sum() per image), non-finite when one is
        pairs = [(t, v) for t, v in main_loss_of(lm.pairs) if t != "epoch"]
        if not pairs:
            return False
        step = (lm.epoch - self._epoch_base(lm.epoch)) * total + n  # the bar counts batches within the epoch
        self.spe = total
        for tag, val in pairs:
            self._put(tag, step, val, "tqdm", inferred=True)
        self._saw_metrics(line, step, bar=True)
        return True

    def _rich(self, desc: str, n: int, total: int, rest: str, line: int, pairs: Any) -> None:
        if _NON_TRAIN_BAR.search(desc):
            self.last_rich_step = None
            return
        em = _EPOCH_DESC.match(desc)
        step = int(em.group(1)) * total + n if em else n
        if em and "v_num" in rest:
            step -= 1  # as for Lightning's tqdm bar: the metrics shown at n are those of batch n-1
        if em:
            self.spe = total
            if em.group(2) is not None and "v_num" in rest:
                # Lightning's RichProgressBar describes its bar 'Epoch {e}/{max_epochs - 1}' (and shows
                # its logger's v_num): the epochs planned
                self.lightning_last_epoch = int(em.group(2))
            if n == 0:  # reset for a new epoch, still showing the last epoch's metrics
                self.last_rich_step = None
                return
        self.last_rich_step = step
        self.last_rich_inferred = em is not None
        found = pairs(_COLON_PAIR, rest, 0)
        for tag, val in found:
            self._put(tag, step, val, "rich", inferred=em is not None)
        if found:
            self._saw_metrics(line, step, bar=True)

    def _hf(self, text: str, line: int) -> None:
        lm = scan_line(text)
        self.token_capped += lm.truncated
        if lm.curves:  # print(history.history): each list is its series' history
            self._history(lm.curves, line)
            return
        # a dict of loss terms and no 'loss' (detectron2's printed loss_dict of tensors) has its main loss as
        # any line does; a fractional epoch ('epoch': 0.4) is among the pairs
        found, basis = main_loss_and_basis(lm.pairs, lm.score_is_loss, lm.error_is_loss)
        values = dict(found)
        if lm.epoch is not None:
            values["epoch"] = float(lm.epoch)
        if "'train_runtime'" in text:  # the end-of-training summary: averages, not points
            self.hf_final_epoch = values.get("epoch")
            self.hf_summary = True
            return
        if not values:
            return
        steps = [n for kind, n, _ in lm.counters if kind in ("global", "step")]
        if steps:  # a script printing its own dicts with the step in them (ms-swift: global_step/max_steps)
            metrics = {k: v for k, v in values.items() if k != "epoch"}
            for tag, val in metrics.items():
                self._put(tag, steps[0], val, "print")
            if metrics:
                self._saw_metrics(line, steps[0])
            return
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis
        if self._values_of_message(found, line):
            return
        if "loss" in values:
            self.hf_index += 1
        self.hf_points.append((max(self.hf_index, 1), values.get("epoch"), values))
        if isinstance(values.get("loss"), float) and math.isfinite(values["loss"]):
            self._loss_printed((self.hf_index, "hf"))
        self._saw_metrics(line, None)

    def _bare_row(self, row: re.Match[str], line: int, text: str, shape: str = "bare") -> None:
        """A step and several unnamed values (_BARE_STEP_VALUES, _COMMA_COUNTER_VALUES), kept by position and by the
        row's width, an epoch's on the epoch axis; rows under a heading that names another metric than a loss (and the
        rows right under those) are that metric's. Rows no column of which is read as a loss (_STAMPED_STEP_CELLS,
        _SPLIT_VALUES: ``shape`` says which) only go to _unnamed_row."""
        if self.bare_heading is not None and self.bare_heading == line - 1:
            self.bare_heading = line
            return
        cells = [c for c in _CELL_SPLIT.split(row.group("values")) if c]
        values = [None if c.startswith("--") else _num(c) for c in cells]
        if shape == "bare" and any(v is None for v in values):
            return
        names = row.groupdict()
        counted = names.get("step") or names.get("counted")
        step, unit = (int(counted), "step") if counted else (None, "step")
        if step is not None and (names.get("name") or "").lower() == "epoch":
            if self.generic_epoch_base is None:
                self.generic_epoch_base = 0 if step == 0 else 1
            step, unit = step + (1 - self.generic_epoch_base), "epoch"
        self._unnamed_row(values, step, unit, line, f"{shape}{len(values)}", text)
        if shape != "bare" or step is None:
            return
        emitter = "print" if not self.rank else f"rank{self.rank}"
        for i, v in enumerate(values):
            if v is not None:
                self._put(f"{_BARE_COLUMN_TAG}{len(values)}_{i}", step, v, emitter, unit=unit)

    def _unnamed_row(
        self, values: list[float | None], step: int | None, unit: str, line: int, shape: str, text: str
    ) -> None:
        """Keep the first row of unnamed values whose every printed value is non-finite (at least
        MIN_NONFINITE_ROW_VALUES of them; a dashed cell printed none), until a later row of the same shape prints a
        finite value in one of its columns: the run's numbers came back, and that row says nothing any more."""
        printed = {i: v for i, v in enumerate(values) if v is not None}
        self.unnamed_rows[shape] = self.unnamed_rows.get(shape, 0) + 1
        if step is not None:
            if shape in self.unnamed_steps and step <= self.unnamed_steps[shape]:
                self.unnamed_unordered.add(shape)
            self.unnamed_steps[shape] = step
        held = self.nonfinite_row
        if held is not None and held[3] == shape and any(math.isfinite(printed.get(i, math.nan)) for i in held[4]):
            self.nonfinite_row = held = None
        if held is None and len(printed) >= MIN_NONFINITE_ROW_VALUES and not any(map(math.isfinite, printed.values())):
            self.nonfinite_row = (line, step, unit, shape, frozenset(printed), text.strip()[:MAX_ROW_QUOTE])

    def _values_of_message(self, pairs: list[tuple[str, float]], line: int) -> bool:
        """Counter-less values printed right after a message that named its step (a NaN guard's
        loss dict) are that step's; True when they were put there."""
        at = self.message_step
        if at is None or not 0 < line - at[0] <= MESSAGE_VALUES_LINES:
            return False
        found = [(t, v) for t, v in pairs if t != "epoch"]
        for tag, val in found:
            self._put(tag, at[1], val, "print")
        return bool(found)

    def _generic(self, text: str, line: int) -> None:
        """Any other line: JSON objects, table rows under a header, or name/value pairs near counters."""
        if self.pending is not None and line - self.pending[0] > RECORD_LINES:
            self._flush_record()
        if _is_settings_dump(text):
            return  # "config: {...}", "Namespace(lr=0.1, ...)": hyperparameters, not metrics
        prev, self.prev_generic = self.prev_generic, (line, text)
        if (
            self.columns is None
            and _NONFINITE_TOKEN.search(text) is not None
            and (values := array_row(text)) is not None
            and not math.isfinite(min(values))
            and not _matrix_row_under_finite(prev, line, len(values), self.matrix_rows)
        ):
            # a printed array holding a non-finite value: its width is its shape (MIN_ARRAY_VALUES)
            self._unnamed_row(list(values), None, "step", line, f"array{len(values)}", text)
        elif (
            self.nonfinite_row is not None
            and self.nonfinite_row[3].startswith("array")
            and (values := array_row(text)) is not None
        ):
            self._unnamed_row(list(values), None, "step", line, f"array{len(values)}", text)
        if "net output #" in text and self._caffe_output(text, line):
            return
        if "Speed: " in text and "Batch [" in text:
            self.speedometer = True
        elif self.speedometer and "=nan" in text and _EMPTY_EPOCH_METRIC.search(text):
            return  # the metric of no batch since the Speedometer reset it (_EMPTY_EPOCH_METRIC)
        if "Testing net (#" in text and (m := _CAFFE_TESTING.search(text)) is not None:
            self.caffe_test = int(m.group(1))  # the iteration Caffe's test net output lines that follow are at
        lm: LineMetrics | None = self._box(text)
        if lm is _IN_BOX:
            return
        if lm is None and self.columns is not None:
            if is_table_delimiter(text):
                return  # the markdown delimiter under the header: its rows follow
            if self.columns[0] == COMMENT_MARKER and text.lstrip().startswith(COMMENT_MARKER):
                # a comment under a commented header ('# If there is no available reference data, ...'): no row and
                # no other writer's line; it may say which columns print NaN for missing data
                self.nan_missing |= nan_note_columns(text, self.columns)
                return
            cells = summed_list_cells(text) if "[" in text else None
            lm = row_metrics(self.columns, cells or text, self.column_starts, self.nan_missing)
            if cells is not None and lm is not None and any(t == "loss" for t, _ in lm.pairs):
                self.loss_basis = self.loss_basis or LIST_CELLS_BASIS
            if lm is not None and self.stray_lines and not _left_aligned(text, self.column_starts):
                lm, self.columns = None, None  # a line of another shape after the stray one: the table had ended
            elif lm is not None:
                self.stray_lines = 0
            elif _has_value(text):
                # one line with a number between two rows of a fixed-width table is another writer's print too (a
                # warning naming its source line between two rows of Chainer's PrintReport): the table goes on if
                # the next row is aligned under the header as its rows are, and ends at a second such line
                self.stray_lines += 1
                if self.stray_lines > MAX_STRAY_TABLE_LINES or self.column_starts is None:
                    self.columns = None
            # a line with no number between two rows is another writer's message printed into the table (DDP's
            # "Reducer buckets have been rebuilt in this iteration." after YOLOv7's first bar row), not its end;
            # a new header among such lines takes the columns' place below
        if lm is None and self.layouts and self.columns is None:
            lm = next((r for cols in self.layouts if (r := row_metrics(cols, text)) is not None), None)
        if lm is None and "]" in text[:20] and text.lstrip()[:1] == "[":
            lm = xgboost_eval(text)
        if lm is None and self.columns is None and text.rstrip()[-1:] == "s":
            lm = nolearn_row(text)
        if lm is None and self.columns is None and text.count("/") == 2:
            lm = yolo_2019_row(text)
        if lm is None and text.count(",") >= 3:
            lm = comma_pairs(text)
        if lm is None and "objective function for" in text and (lm := kaldi_objective(text)) is not None:
            self.loss_basis = self.loss_basis or KALDI_OBJECTIVE_BASIS
        if lm is None and "E_h" in text and (lm := hartree_energy(text)) is not None:
            self.loss_basis = self.loss_basis or HARTREE_ENERGY_BASIS
        if lm is None and "oss" in text and "(" in text:  # "loss", "Loss"
            lm = loss_statistics(text)
        if lm is None and "{" in text and '"' in text:
            lm = json_metrics(text)
        if lm is None and "|" in text:
            lm = letter_metrics(text)
        if lm is None and "s][" in text:
            lm = status_line_metrics(text)
        if lm is None:
            if not _has_value(text):  # no number on the line: a table header at most
                # a heading naming another metric than a loss ("Accuracy per class:"): unnamed rows under it are its
                # (a confusion matrix or a per-class table is one too, whatever words it uses)
                named = names_a_metric(text) or _TABLE_HEADING.search(text) is not None
                self.bare_heading = line if named and "loss" not in text.lower() else None
                cols = header_columns(text)
                if cols is not None:
                    self.columns, self.stray_lines, self.nan_missing = cols, 0, frozenset()
                    self.column_starts = column_starts(text, cols)
                return
            pct = _STEP_PERCENT_VALUE.match(text) if "%" in text else None
            # a GAN's players' terms ("G_GAN: 0.7 ... D_real: 0.6") hold no metric word
            if pct is not None or not (
                names_a_metric(text)
                or ("G_" in text and "D_" in text)
                or is_darknet_line(text)
                or (len(text) <= 96 and STAGE_ROW.fullmatch(text.strip()))
                or (("_train" in text or "_val" in text) and STAGE_LABEL.search(text))
                or ("[" in text and _LIST_OPEN.search(text))
                or "Pzx" in text
                or names_a_bound(text)
            ):
                bare = pct or _BARE_STEP_VALUE.fullmatch(text)
                if bare:
                    step = int(bare.group("step") or bare.group("step2"))
                    value = _num(bare.group("value"))
                    if value is not None:
                        emitter = "print" if not self.rank else f"rank{self.rank}"
                        keyed = pct is None and bare.group("colon") is not None
                        self._put(_BARE_KEYED_TAG if keyed else _BARE_TAG, step, value, emitter)
                elif (row := _BARE_STEP_VALUES.fullmatch(text)) is not None or (
                    "," in text and (row := _COMMA_COUNTER_VALUES.search(text)) is not None
                ):
                    self._bare_row(row, line, text)
                elif text[:1] in _STAMP_LEAD and (row := _STAMPED_STEP_CELLS.fullmatch(text)) is not None:
                    self._bare_row(row, line, text, "stamped")
                elif "rain" in text and (row := _SPLIT_VALUES.search(text)) is not None:
                    self._bare_row(row, line, text, "split")
                elif _RECORD_HEAD_HINT.search(text):
                    self._open_record(scan_line(text), line)
                elif "poch" in text and len(text) <= EPOCH_HEADER_CHARS and (m := _EPOCH_HEADER.match(text)):
                    self._header_epoch(int(m.group(1)))  # "Epoch 3", "Start of epoch 3": the lines under it are its
                elif self.pending is not None and self.pending[1] is None and ":" in text and _DUMP_VALUE.search(text):
                    # a value under a name that is no metric, in a dump printed one value a line (tensorpack's
                    # monitor: 'sample_fast_rcnn_targets/num_bg: 187.04' among its epoch's statistics): the dump goes
                    # on under it, read as nothing
                    self.pending = (line, *self.pending[1:])
                return  # no metric named: nothing to read (a bare "Epoch 3" line moves no series)
            lm = scan_line(text)
            if "Pzx" in text and (nll := negated_log_likelihood(text)) is not None:
                lm.pairs.append(("loss", nll))
                self.loss_basis = self.loss_basis or LOG_LIKELIHOOD_BASIS
        self.token_capped += lm.truncated
        if lm.curves:
            self._history(lm.curves, line)
            return
        if any(tag == "loss" for tag, _ in lm.pairs):
            self.scalar_loss_puts += 1  # as read: a counter-less record is put later, after the next list, maybe
        if self.pending is not None and self._continues_record(lm, line):
            return
        found, basis = main_loss_and_basis(lm.pairs, lm.score_is_loss, lm.error_is_loss)
        pairs = [(t, v) for t, v in found if t != "epoch"]
        if not lm.counters and lm.epoch is None and not lm.eval_context and lm.pairs:
            # the terms or the LR of the loss printed right above (no loss of their own to name), or an evaluation's
            # values printed under the step's line ('giou_val_loss: {} ... total_val_loss: {}'), as they are named
            if only_terms(lm.pairs) and self._record_values(lm.pairs, line, TERM_LINES):
                return
            if all(names_an_evaluation(t) for t, _ in lm.pairs) and self._record_values(lm.pairs, line, RECORD_LINES):
                return
        basis_before = self.loss_basis
        if "%" in text and not self.classifier_rate and any(t == "loss" for t, _ in pairs):
            rate = _PERCENT_RATE.search(text)
            self.classifier_rate = rate is not None and float(rate.group(1)) <= 100
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis  # said once in the source note: the loss no line names as such
        if not pairs:
            if lm.counters or lm.epoch is not None:
                self._counters_only(lm)
                self._open_record(lm, line)
            return
        if lm.eval_context:
            pairs = [(t if t.startswith(_EVAL_PREFIXES) else f"val_{t}", v) for t, v in pairs]
        emitter = "print" if not self.rank else f"rank{self.rank}"
        step = self._resolve_step(lm)
        if step is None:
            step = self.lead_step  # the counter leading the line (_LEAD_NUMBER), when it prints none of its own
        if step is not None and _megatron_loss_left_off(text, pairs):
            pairs.append(("loss", math.nan))  # the average Megatron's 'avg > 0.0' left off the line was NaN
        if step is not None:
            inferred = self.step_inferred
            for tag, val in pairs:
                self._put(tag, step, val, emitter, inferred=inferred)
            self._saw_metrics(line, step)
            # a record that opens with its counters and prints its loss, or its loss's terms, on the lines under them
            self.record = (line, step, emitter, any(t == "loss" for t, _ in pairs), inferred)
            self.record_stand_in = basis is not None and self.record[3] and one_term_printed(lm.pairs)
            return
        if lm.epoch is not None:
            base = self.generic_epoch_base if self.generic_epoch_base is not None else 1
            self._epoch_level(lm.epoch, base, pairs, line, emitter)
            if not self.epoch_rows or self.epoch_rows[-1] != line:  # a line redrawn is one record
                self.epoch_rows.append(line)
                self.epoch_of_row.append(lm.epoch)
            for tag, val in pairs:
                self.epoch_line_points.setdefault((tag, emitter), _SeriesBuilder()).add(line, val, line)
            return
        if self._values_of_message(pairs, line):
            return
        record = self.record
        if record is not None and 0 < line - record[0] <= RECORD_LINES and record[2] == emitter:
            if record[3]:
                # faster-rcnn.pytorch's trainval_net.py: "[session 1][epoch  1][iter  100/2892] loss: nan, lr: ..."
                # then "rpn_cls: 0.69, rpn_box: nan, rcnn_cls: 0.26, rcnn_box 0.0": the terms of the loss the
                # counters' line printed (a line whose loss is the sum of its terms, none printed as 'loss');
                # any other line under a printed loss is not the record's (and is read as before)
                terms = [(t, v) for t, v in pairs if t != "loss"]
                if basis is not None and not lm.eval_context and terms:
                    for tag, val in terms:
                        self._put(tag, record[1], val, emitter, inferred=record[4])
                    self._saw_metrics(line, record[1])
                    self.record = (line, record[1], emitter, True, record[4])
                    return
                if self.record_stand_in and basis is None and not lm.eval_context and _TOTAL_LOSS_NAME.search(text):
                    # FCOS_Tensorflow's train.py: " {time}: step{N}    image_name:{} |\t loc_loss:{} |" then, indented
                    # under it, "cls_loss:{} |\t cnt_loss:{} |\ttotal_loss:{} |": the counters' line printed one
                    # term, which stood in for the loss, and this line prints the loss itself (a redraw of the
                    # step's point: it replaces the term's value)
                    for tag, val in pairs:
                        self._put(tag, record[1], val, emitter, inferred=record[4])
                    self._saw_metrics(line, record[1])
                    self.record = (line, record[1], emitter, True, record[4])
                    self.record_stand_in = False
                    return
            else:
                # "Step: 682/800000 ----- Cur_lr: 0.4 ----- Time: 0.82 sec." then "S1 loss: ... | Total loss: ..."
                # (a multi-stage pose network's print loop): the lines under a record's counters are its values
                for tag, val in pairs:
                    self._put(tag, record[1], val, emitter, inferred=record[4])
                self._saw_metrics(line, record[1])
                self.record = (line, record[1], emitter, False, record[4])
                return
        # no counter at all: the points are numbered in the order they were printed
        raw = [(t, v) for t, v in lm.pairs if t != "epoch"]
        if len(raw) == 1 and not lm.counters and lm.epoch is None and not lm.eval_context:
            # one metric on the line: a dump that prints one per line (RLlib's pretty_print of a result, OLMo's metrics
            # pasted without their step's header) may go on under it, read as one record (_continues_record)
            if lm.error_is_loss:
                raw = pairs  # the line itself says its error is the loss (logmetrics._error_is_loss): kept so named
            else:
                self.loss_basis = basis_before  # the record's lines together say what its loss is (_flush_record)
            self.pending = (line, None, emitter, raw, False)
            return
        self.line_order += 1
        self.order_lines.append(line)
        for tag, val in pairs:
            self._put(tag, self.line_order, val, emitter, unit="line")
        self._saw_metrics(line, None)

    def _caffe_output(self, text: str, line: int) -> bool:
        """One of Caffe's net output lines: a train net's, a term (weighted) or a metric of the iteration whose loss
        the line above printed; a test net's, the evaluation at the iteration its 'Testing net' line named. True
        when it was read."""
        out = _caffe_output(text)
        if out is None:
            return False
        test, points = out
        if not test:
            return self._record_values(points, line, TERM_LINES)
        if self.caffe_test is None:
            return False
        for tag, value in points:
            self._put(tag, self.caffe_test, value, "print" if not self.rank else f"rank{self.rank}")
        self._saw_metrics(line, self.caffe_test)
        return True

    def _record_values(self, pairs: list[tuple[str, float]], line: int, within: int) -> bool:
        """Values printed at most ``within`` lines under a line whose counters gave a step and that printed the
        step's loss (or under the last of its lines read so far) put at that step; False, nothing put, when no
        such record is open."""
        record = self.record
        emitter = "print" if not self.rank else f"rank{self.rank}"
        if record is None or not record[3] or not 0 < line - record[0] <= within or record[2] != emitter:
            return False
        for tag, val in pairs:
            self._put(tag, record[1], val, emitter, inferred=record[4])
        self._saw_metrics(line, record[1])
        self.record = (line, record[1], emitter, True, record[4])
        return True

    def _open_record(self, lm: LineMetrics, line: int) -> None:
        """A line whose counters give a step (no epoch) and that prints no metric opens a record printed over the
        lines under it: FPN_Tensorflow's train.py prints one triple-quoted block every few steps, " {time}:
        step{N}    image_name:{} |" then "rpn_loc_loss:{} |\t rpn_cla_loss:{} |\t rpn_total_loss:{} |", the same
        for fast_rcnn and "total_loss:{} |\t per_cost_time:{}s" indented under it."""
        self._flush_record()
        if lm.pairs or lm.epoch is not None or not lm.counters:
            return
        step = self._resolve_step(lm)
        if step is not None:
            self.pending = (line, step, "print" if not self.rank else f"rank{self.rank}", [], self.step_inferred)

    def _continues_record(self, lm: LineMetrics, line: int) -> bool:
        """A counter-less metric line right under an open record (or under its last line) is the record's; True
        when it was kept for it. Any other line ends the record first."""
        last, step, emitter, values, inferred = self.pending  # type: ignore[misc]
        mine = "print" if not self.rank else f"rank{self.rank}"
        if step is None and not lm.pairs and not lm.counters and lm.epoch is None:
            return (
                True  # a number under a name that is no metric ('vf_explained_var: 0.1') is the dump's, read as nothing
            )
        if len(values) >= MAX_RECORD_VALUES:
            self._flush_record()
            return False
        # the line's values as it names them: an error it says is the loss is the record's loss
        read = main_loss_and_basis(lm.pairs, error_is_loss=True)[0] if lm.error_is_loss else lm.pairs
        if step is None and (len(read) != 1 or any(t == read[0][0] for t, _ in values)):
            # a counter-less dump goes on line by line, one metric each, and a name printed again is the next record's
            self._flush_record()
            return False
        if (
            lm.pairs
            and not lm.counters
            and lm.epoch is None
            and not lm.eval_context
            and 0 < line - last <= RECORD_LINES
            and emitter == mine
        ):
            self.pending = (line, step, emitter, [*values, *((t, v) for t, v in read if t != "epoch")], inferred)
            return True
        self._flush_record()
        return False

    def _flush_record(self) -> None:
        """The values of a record printed over several lines, read as one line's once it has ended: its loss is
        the one its lines name together (a 'total_loss' under 'rpn_total_loss' and 'fast_rcnn_total_loss' is the
        total of those stages' totals, which are its terms)."""
        pending, self.pending = self.pending, None
        if pending is None or not pending[3]:
            return
        last, step, emitter, values, inferred = pending
        found, basis = main_loss_and_basis(values)
        if basis is not None and not self.loss_basis:
            self.loss_basis = basis
        if step is None:  # a counter-less dump: one point in the order printed, as a line of them would be
            self.line_order += 1
            self.order_lines.append(last)
            for tag, val in found:
                self._put(tag, self.line_order, val, emitter, unit="line")
            self._saw_metrics(last, None)
            return
        for tag, val in found:
            self._put(tag, step, val, emitter, inferred=inferred)
        self._saw_metrics(last, step)
        self.record = (last, step, emitter, any(t == "loss" for t, _ in found), inferred)
        self.record_stand_in = False

    def _history(self, curves: dict[str, list[float]], line: int) -> None:
        """A printed history (logmetrics.MIN_HISTORY_ENTRIES): each list's entries are its series' epochs 1, 2, ...
        A series the log's own lines already gave as many points or more is left as read: the history repeats
        them (Keras prints each epoch, then print(history.history) the same values), and a list of fewer under
        that name (a setting's values in a config printed after the run) would cut the curve to its length.

        A list printed again at the length it had, with other values, after the training loss was printed on a line
        of its own since it last was, is no history but one step's values per element, printed at each step beside
        the loss (NeuralPDE's callback: 'loss: x', then 'pde_losses: [a, b, ...]' each iteration): a history grows by
        an epoch between two prints, or repeats itself, and one printed after each of several fits (k-fold) has no
        loss line between. Such a list is not read, and the points its first print gave are taken back where they
        were its series' only points."""
        emitter = "print" if not self.rank else f"rank{self.rank}"
        for tag, values in curves.items():
            if tag in self.vector_tags:
                continue
            last = self.history_last.get(tag)
            if (
                last is not None
                and len(last[0]) == len(values)
                and last[0] != tuple(values)
                and self.scalar_loss_puts > last[1]
            ):
                self.vector_tags.add(tag)
                if last[2] is not None:
                    self.series.pop(last[2], None)
                self.history_notes.append(
                    f"'{tag}' is a list of {len(values)} printed at each step beside the loss: one step's values per "
                    "element, not a history of epochs; not read"
                )
                continue
            fresh = None
            if any(t == tag and len(b.steps) >= len(values) for (t, _, _), b in self.series.items()):
                # left as read; the series an earlier print alone filled is still the one to take back
                self.history_last[tag] = (tuple(values), self.scalar_loss_puts, last[2] if last is not None else None)
                continue
            if (tag, "epoch", emitter) not in self.series:
                fresh = (tag, "epoch", emitter)  # the series holds this print's points only (until a line adds more)
            for k, value in enumerate(values, 1):
                self._put(tag, k, value, emitter, unit="epoch", from_history=True)
            self.history_last[tag] = (tuple(values), self.scalar_loss_puts, fresh)
        self._saw_metrics(line, None)

    def _box(self, text: str) -> LineMetrics | None:
        """A key/value box (baselines' logger): its border and rows are kept (_IN_BOX) until the
        closing border, which gives the record's metrics; None for a line that is no part of one."""
        head_cut, self.box_head_cut = self.box_head_cut, False  # (a blank line never comes here: _feed drops it)
        if is_box_border(text):
            rows, self.box = self.box, None
            self.box_guessed = False
            if rows:
                self.box_rows += len(rows)
                return box_metrics(rows)
            self.box = []
            return _IN_BOX
        if not head_cut and self.box is None:
            return None  # most lines: no box open, none to open
        row = box_row(text)
        if head_cut and (cut := row is None):
            row = box_row(f"| {text}")  # the row's leading bar cut with the border above it ('train/   |   |')
        if head_cut and row is not None and _box_head(row):
            # the log opens on a row of a box: a paste cut above the record's opening border, as finish() reads one
            # cut before its closing border, maybe inside the row. The row must name a metric by a word and print a
            # number, or be a group's row (stable-baselines3's 'train/', no value), so a markdown table's header
            # ('| step | loss |') opens no box.
            self.box, self.box_guessed = [], True
            if cut:
                self.box.append(row)
                return _IN_BOX
        if self.box is not None:
            if row is not None and len(self.box) < MAX_BOX_ROWS and (not self.box_guessed or _box_head(row)):
                self.box.append(row)
                return _IN_BOX
            # a box the first line only suggested ends at a row no box holds (a markdown table's header, '| epoch |
            # loss |'): that row and those after it are read as what they are
            self.box, self.box_guessed = None, False
        return None

    def _counters_only(self, lm: LineMetrics) -> None:
        """A line with counters and no metrics ("Epoch 3", "Step 120/500") still moves the step."""
        if lm.epoch is not None:
            self._epoch_base(lm.epoch)
            self.generic_epoch = lm.epoch

    def _header_epoch(self, epoch: int) -> None:
        """An epoch named by a header line of its own: the epoch of the counter lines under it (_resolve_step)."""
        self._epoch_base(epoch)
        self.generic_epoch = self.header_epoch = epoch

    def _epoch_base(self, epoch: int) -> int:
        """The number the log's epoch counter counts from: 0 when the first epoch it prints is 0, else 1.
        An epoch below it later (epochs 1, 2, ... 10, then 'Epoch 0/30': a job started again, or a second
        loop printing into the same file with epochs from 0) is a counter started again from 0: the epochs
        count from there, as a step counter that goes back starts a new segment. Counted from the old
        base, that epoch's steps would come before the run's first step, below 0."""
        base = self.generic_epoch_base
        if base is None or epoch < base:
            base = self.generic_epoch_base = 0 if epoch == 0 else 1
        return base

    def _resolve_step(self, lm: LineMetrics) -> int | None:
        """The global step of a line from its counters, or None when it has none.

        A global counter (``num_updates``, ``global_step``, Marian's ``Up.``) wins. A
        batch counter (``[120/500]``, ``batch 120``) is within its epoch: global step =
        epochs before x batches per epoch + batch. A ``step``/``iter`` counter next to an
        epoch is within the epoch if it fell back when the epoch changed
        (:meth:`_per_epoch`); its epoch length is the printed total or, when none is
        printed, the largest counter seen in the epoch before.
        """
        self.step_inferred = False
        epoch = lm.epoch
        from_header = False
        if epoch is None and self.header_epoch is not None and lm.counters:
            # "Start of epoch 2" on a line of its own, then "Training loss (for one batch) at step 200: x" under it
            # (the Keras guide's loop, and most hand-written ones): the count is the epoch's only when it fell back
            # below where it stood as the epoch moved on (_per_epoch, strictly: a global count printed at an epoch's
            # end and again at the next one's start stays where it was), whatever the counter's kind
            epoch, from_header = self.header_epoch, True
        if epoch is not None:
            self._epoch_base(epoch)
            self.generic_epoch = epoch
        by_kind: dict[str, tuple[int, int | None]] = {}
        for kind, n, total in lm.counters:
            # two counters of a kind ("iter[ 14/ 15] ... [step] 104"): the iteration within
            # the epoch and the global one; the global count is the larger
            if kind not in by_kind or n > by_kind[kind][0]:
                by_kind[kind] = (n, total)
        if "global" in by_kind:
            return by_kind["global"][0]
        within = None
        per_epoch = False
        for kind in ("step", "batch", "bracket", "bare"):
            if kind in by_kind:
                within = by_kind[kind]
                per_epoch = not from_header and (kind in ("batch", "bracket") or (kind == "bare" and epoch is not None))
                break
        if within is None:
            return None
        n, total = within
        if epoch is None:
            return n
        offset = self._epoch_offset(epoch, n)
        if not per_epoch:
            per_epoch = self._per_epoch(epoch, n, strict=from_header)
        if not per_epoch:
            return n
        self.step_inferred = True  # epochs before x an epoch's length, + the count within the epoch
        if total:
            self.spe = total
            step = (epoch - (self.generic_epoch_base or 0)) * total + n
        else:
            step = offset + n
        last = self.epoch_step
        if last is not None and epoch > last[0] and step <= last[1]:
            # a later epoch's step worked out at or before an earlier epoch's (a total that is no epoch's length, an
            # epoch shorter than its count made it): the later line comes after, one step past it, and it is said
            step = last[1] + 1
            self.epoch_overlaps += 1
        self.epoch_step = (epoch, step)
        return step

    def _epoch_offset(self, epoch: int, n: int) -> int:
        """Steps before ``epoch`` when the per-epoch counter prints no total: learnt from the epochs seen."""
        st = self.epoch_counter
        if st is None or epoch < st[0]:
            self.epoch_counter = (epoch, 0, n, n, 0)
            return 0
        cur, offset, lo, hi, interval = st
        if epoch == cur:
            if n > hi:
                interval = interval or n - hi
            self.epoch_counter = (cur, offset, min(lo, n), max(hi, n), interval)
            return offset
        # a new epoch: the last one held hi (+ one interval when the count is from 0, which an epoch shows at its
        # start, or the next one at its own when the log began inside an epoch; at least the one step that count 0
        # was, when it printed no other)
        offset += hi + (max(interval, 1) if lo == 0 or n == 0 else 0)
        self.epoch_counter = (epoch, offset, n, n, interval)
        return offset

    def _stuck_counter(self, notes: list[str]) -> None:
        """A counter that never advances across the log's metric lines (BMN prints 'BMN training
        loss(epoch 0): ...' for every batch, COMPOSE 'Epoch N, Iter 0' with the iteration it logs at):
        every point would sit on one step, the last line's value hiding the others. When the loss's
        successive lines differ, they are successive records: numbered in the order they were printed."""
        loss = [b for (tag, _, _), b in self.series.items() if tag == "loss"]
        if not loss or not all(b.one_step for b in self.series.values()):
            return
        records = max(loss, key=lambda b: len(b.records)).records
        if len(records) < STUCK_MIN_RECORDS or len(set(records)) < 2:
            return
        for key in list(self.series):
            old = self.series.pop(key)
            b = self.series[(key[0], "step", key[2])] = _SeriesBuilder()
            for i, value in enumerate(old.records, start=1):
                b.add(i, value)
        self._line_ordered = True
        self.cur_step = len(records)
        notes.append(
            f"the log's counter does not advance across its {len(records)} metric lines: points are numbered in "
            "the order the lines were printed"
        )

    def _per_epoch(self, epoch: int, n: int, strict: bool = False) -> bool:
        """Is "Epoch 2 Step 20/150" the 20th step of epoch 2 (True) or global step 20? (``strict``: only a count
        that fell below where it stood says so)"""
        if self.fraction_per_epoch is None and self.last_fraction is not None and epoch > self.last_fraction[0]:
            # a global count advances with every step an epoch holds: one that fell back, or stayed where it was
            # ("[epoch 1][iter 0/88]" then "[epoch 2][iter 0/88]"), when the epoch moved on counts within the epoch
            self.fraction_per_epoch = n < self.last_fraction[1] if strict else n <= self.last_fraction[1]
        self.last_fraction = (epoch, n)
        return self.fraction_per_epoch is True

    # ------------------------------------------------------------ output

    def finish(self) -> _ParseResult:
        if self.numbering_probe is not None:
            self._decide_numbering()
        if self.held:
            self._release(self._lead_default())
        if self.box:
            # the log ends inside a key/value box (a paste cut before its closing border): the rows it holds are the
            # record's, as the border would have given them
            self._generic("-" * MIN_BOX_BORDER, self.line)
            self.box = None
        self._flush_record()
        if self.open_list is not None:  # the log ends inside a list: its entries so far
            joined, first, _ = self.open_list
            self.open_list = None
            self._metrics(joined, first, False)
        if self.tb_state == 1 and self.tb_raise is not None:  # cut after the frame that raised a literal
            self._raised_events(*self.tb_raise)
        if self.tb_state == 1:  # the file ends inside a traceback: the job died printing it
            self.exc = _EventBuilder(
                kind="exception",
                message=CUT_TRACEBACK,
                line=self.tb_start,
                step=self.tb_step,
                values={"type": None, "qualified_type": None, "message": None},
                traceback=tuple(_trim_frames(self.tb_frames)),
            )
            self.last_exception_line = self.tb_start
            self.last_exception_step = self.tb_step
            self.region_end = self.line  # a known message printed before the cut is what it raised
            self.tb_state = 2
        if self.tb_state == 2:
            self._close_exception()
        recovered = max(FLOOR_RECOVERED_POINTS, 2 * self.losses_between_overflows + 1)
        if self.floor_from_overflows and self.losses_since_overflow >= recovered:
            # the scaler's overflow notes stopped while the loss went on being printed: the steps since were applied,
            # the scale found a level it works at again (a scaler at its floor notes an overflow at every step)
            self.scale_floor = None
        if self.scale_floor is not None and not any(e.kind == "loss_scale_minimum" for e in self.events):
            line, step, scale, how = self.scale_floor
            self.events.append(
                _EventBuilder(
                    kind="loss_scale_minimum",
                    message=f"the fp16 loss scale fell to {scale:g} ({how}): overflow on step after step",
                    line=line,
                    step=step,
                    # read from the scale, not said by the scaler: no message of a job that gave up (ending.py)
                    values={"loss_scale": scale, "inferred": True},
                )
            )
        self._persisting_skips()
        self._no_updates_at_the_end()
        self._statements_of_a_log_only()
        notes: list[str] = []
        if self.loss_basis and any(tag == "loss" for tag, _, _ in self.series):
            notes.append(f"the loss is read as {self.loss_basis}")
        notes.extend(self.history_notes)
        self._place_bare(notes)
        self._nonfinite_rows(notes)
        self._place_hf(notes)
        self._per_iteration_epochs(notes)
        self._place_line_order(notes)
        self._test_loss_as_eval(notes)
        self._stuck_counter(notes)
        # Keras TerminateOnNaN events: placed on a global step once steps_per_epoch is known
        for ev in self.events:
            if ev.keras_epoch_batch is not None and self.keras_spe:
                epoch, batch = ev.keras_epoch_batch
                ev.step = (epoch - 1) * self.keras_spe + batch + 1
        scalars = self._build_series()
        units = {unit for _, unit, _ in self.series}
        if "step" in units:
            unit = "log_index" if self._hf_unplaced or self._line_ordered else "step"
        elif units:
            unit = "epoch"
        else:
            unit = None
        ended_in_traceback = bool(self.last_exception_line) and not self.progress_after_exception
        last_step = self.cur_step
        # a job stopped from outside (its last traceback a KeyboardInterrupt or a signal) did not crash
        died = ended_in_traceback and self.last_exception_line != self.stopped_line
        if ended_in_traceback:
            closing = [s for s in self.redraws_after_exception if s is not None]
            known = [s for s in (self.last_exception_step, *closing) if s is not None]
            last_step = max(known) if known else None
            for ev in self.events:  # what killed the job happened at the last step it reached
                if ev.traceback and ev.step is None and ev.line >= self.last_exception_line - LOOKBACK_LINES:
                    ev.step = last_step
        if last_step is None and unit in ("step", "log_index"):
            last_step = max((int(b.steps[-1]) for (_, u, _), b in self.series.items() if u == "step"), default=None)
        events = tuple(ev.build() for ev in sorted(self.events, key=lambda e: e.line))
        if self.cut_lines:
            notes.append(f"{self.cut_lines} line(s) longer than {MAX_SEGMENT_BYTES} bytes were cut")
        if self.token_capped:
            notes.append(
                f"{self.token_capped} line(s) held more than {MAX_TOKENS} words and numbers: the rest was not read"
            )
        if self.unterminated:
            notes.append("last line unterminated (log cut mid-line or still being written)")
        for kind, n in self.dropped.items():
            notes.append(f"{n} more '{kind}' event(s) not kept")
        if len(self.ranks_seen) > 1:
            notes.append(f"{len(self.ranks_seen)} ranks in one log: ranks other than the first are tagged @rankN")
        if self.epoch_overlaps:
            notes.append(
                f"{self.epoch_overlaps} line(s) of a later epoch worked out to a step at or before an earlier epoch's "
                "last: each put one step after it"
            )
        epoch_tags = frozenset(t for t in scalars if unit != "epoch" and self._epoch_series.get(t))
        plan = self._plan()
        inferred = frozenset(self._inferred_series & set(scalars))
        return _ParseResult(
            scalars,
            events,
            died,
            last_step,
            unit,
            self.spe,
            notes,
            epoch_tags,
            plan,
            inferred,
            self.classifier_rate,
            frozenset(self.unplaced_tags),
        )

    def _persisting_skips(self) -> None:
        """Steps a trainer's guard dropped, counted against the steps trained: skips followed by a
        finite loss are a working guard (LOG005), but at least as many skips as the steps between the
        last two loss points, and PERSISTENT_SKIPS, with no finite loss since, until the log ends, mean
        every step was being thrown away: the guard is then a stop, as ESPnet2's own "all steps are
        invalid" is."""
        prev, last = self.loss_steps
        if self.first_skip is None or prev is None or last is None:
            return  # no loss logged twice: nothing to count the skips against
        needed = max(PERSISTENT_SKIPS, last - prev)
        if self.skips_since_finite < needed:
            return
        line, step = self.first_skip
        self.events.append(
            _EventBuilder(
                kind="nan_loss",
                message=f"the trainer's guard dropped {self.skips_since_finite} step(s) on a non-finite loss or "
                f"gradient from step {last} on, with no finite loss logged since (the log prints one every "
                f"{last - prev} step(s)): every step was being thrown away until the log ends",
                line=line,
                step=step,
                values={"skips": self.skips_since_finite, "interval": last - prev, "what": "persisting_skips"},
            )
        )

    def _no_updates_at_the_end(self) -> None:
        """ESPnet2's intervals that ran no optimizer step (:meth:`_espnet2_interval`) until the log ends, over
        PERSISTENT_SKIPS batches at least: the guard was dropping every step, a stop as its skips until the end are
        (:meth:`_persisting_skips`), though each interval's loss printed finite."""
        if self.no_update_since is None or self.no_update_since[2] < PERSISTENT_SKIPS:
            return
        line, first, batches = self.no_update_since
        # placed at the last loss logged: the finite losses of those intervals are no recovery after it (a model
        # not updated prints the loss it stopped at)
        step = self.loss_steps[1] if self.loss_steps[1] is not None else first
        self.events.append(
            _EventBuilder(
                kind="nan_loss",
                message=f"ESPnet2's reporter printed optim_step_time=nan for the last {batches} batch(es) of the log"
                + (f" (from step {first} on)" if first is not None else "")
                + ": no optimizer step ran in them (its trainer dropped each on a non-finite grad norm), though their "
                "loss printed finite",
                line=line,
                step=step,
                values={"skips": batches, "what": "persisting_skips"},
            )
        )

    def _plan(self) -> Plan | None:
        """The optimizer steps the job said it would train, where its trainer printed them: the
        Hugging Face Trainer's 'Total optimization steps = N' (with its end-of-training summary,
        if printed), Keras's 'Epoch i/N' headers times the batches of an epoch its bar counts, or
        Lightning's rich bar 'Epoch e/M' (M = max_epochs - 1) times the batches its bar counts."""
        if self.hf_max_steps and self.hf_max_steps > 0:
            return Plan(self.hf_max_steps, f"'Total optimization steps = {self.hf_max_steps}'", self.hf_summary)
        if self.keras_epochs and self.keras_spe:
            return Plan(
                self.keras_epochs * self.keras_spe,
                f"'Epoch i/{self.keras_epochs}' of {self.keras_spe}-step epochs",
                False,
            )
        if self.lightning_last_epoch is not None and self.spe:
            epochs = self.lightning_last_epoch + 1
            how = f"Lightning's 'Epoch e/{epochs - 1}' bar: {epochs} epochs of {self.spe} steps"
            return Plan(epochs * self.spe, how)
        return None

    def _build_series(self) -> dict[str, ScalarSeries]:
        """One series per tag: the emitter that printed it most often; the others keep a suffix."""
        has_steps = self._has_steps
        groups: dict[tuple[str, str], list[tuple[str, _SeriesBuilder]]] = {}
        for (tag, unit, emitter), b in self.series.items():
            groups.setdefault((tag, unit), []).append((emitter, b))
        scalars: dict[str, ScalarSeries] = {}
        self._epoch_series.clear()
        self._inferred_series.clear()
        for (tag, unit), members in groups.items():
            members.sort(key=lambda eb: -len(eb[1].steps))
            name = f"{tag}_epoch" if unit == "epoch" and has_steps else tag
            for i, (emitter, b) in enumerate(members):
                full = name if i == 0 else f"{name}@{emitter}"
                scalars[full] = b.build(full, self.source)
                self._epoch_series[full] = unit == "epoch"
                if b.inferred:
                    self._inferred_series.add(full)
        return scalars

    def _place_bare(self, notes: list[str]) -> None:
        """Bare "step value" lines are the loss when nothing else in the log is, else dropped."""
        columns = {k: self.series.pop(k) for k in [k for k in self.series if k[0].startswith(_BARE_COLUMN_TAG)]}
        keys = [k for k in self.series if k[0] in _BARE_MIN_POINTS]
        builders = [self.series.pop(k) for k in keys]
        if any(tag == "loss" for tag, _, _ in self.series) or self.hf_points:
            return
        if not keys and columns:
            self._place_bare_columns(columns, notes)
        crashed = bool(self.last_exception_line)
        for (tag, unit, emitter), b in sorted(zip(keys, builders, strict=True), key=lambda kb: len(kb[1].steps)):
            need = MIN_KEYED_BARE_POINTS_BEFORE_CRASH if crashed and tag == _BARE_KEYED_TAG else _BARE_MIN_POINTS[tag]
            if len(b.steps) >= need:  # of two shapes by one emitter, the longer is kept
                self.series[("loss", unit, emitter)] = b
                notes.append(
                    f"{len(b.steps)} lines print a bare step and one unnamed value: read as the loss, "
                    "the log naming no loss"
                )

    def _statements_of_a_log_only(self) -> None:
        """A trainer's statement in any words that its loss went non-finite (the catalogue's GENERIC statement) is a
        message of a log's, not of a file of notes saying the same in a sentence: where the file prints no value at a
        step or epoch it counts, fewer than SNIFF_MIN_METRIC_LINES lines of values and no other message, its bare
        statements (no log's prefix before them, no step or epoch on their line) are dropped (the values its lines
        print are still read)."""
        statements = [e for e in self.events if e.values.get("statement")]
        counted = any(unit != "line" for _, unit, _ in self.series)
        few = self.metric_lines < SNIFF_MIN_METRIC_LINES
        if statements and not counted and few and len(statements) == len(self.events):
            # a note of a line or two ('TODO: loss is nan with fp16') says it as a log's prefix would: only a
            # statement under a log level ('ERROR: Loss is NaN', Flux's) is kept there; a longer file keeps those a
            # log's prefix or a step or epoch places
            short = self.line <= NOTE_LINES
            kept = ("level",) if short else ("level", "placed")
            self.events = [e for e in self.events if e.values.get("statement") in kept]
        for e in statements:
            e.values.pop("statement", None)

    def _nonfinite_rows(self, notes: list[str]) -> None:
        """A row of unnamed values whose every value went non-finite, none of its columns finite again until the log
        ends (_unnamed_row), in a log where no loss was read: the run's own numbers went non-finite, which is a
        divergence, though nothing says which quantity went first nor why. With a loss read, the loss speaks. A row
        led by a counter alone is a training loop's record only in a table of such rows (MIN_BARE_POINTS of its shape,
        as for reading a loss from them, its step growing from row to row as a loop's counter does: an integer column
        that does not is a table's, as a printed data frame's beside its date-and-time index); values named by their
        split say whose they are on one line."""
        if self.nonfinite_row is None or self.hf_points or any(t in ("loss", "val_loss") for t, _, _ in self.series):
            return
        line, step, unit, shape, columns, row = self.nonfinite_row
        if not shape.startswith(("split", "array")) and (
            self.unnamed_rows.get(shape, 0) < MIN_BARE_POINTS or shape in self.unnamed_unordered
        ):
            return
        where = f" at {unit} {step}" if step is not None else ""
        what = (
            "values named only by their split"
            if shape.startswith("split")
            else "values of a printed array"
            if shape.startswith("array")
            else "unnamed values"
        )
        self.events.append(
            _EventBuilder(
                kind="nonfinite_values",
                message=f"every one of the {len(columns)} values the row printed{where} is non-finite, and none of "
                f"its columns printed a finite value after it: {row}",
                line=line,
                step=step if unit == "step" else None,
                values={"columns": len(columns), "unit": unit, "at": step, "what": what},
            )
        )
        notes.append(
            f"the log names no loss: a row of {len(columns)} {what} (line {line}) is non-finite in every value, read "
            "as the run's numbers going non-finite, not as any one quantity"
        )

    def _place_bare_columns(self, columns: dict[tuple[str, str, str], _SeriesBuilder], notes: list[str]) -> None:
        """Rows of a step and several unnamed values (_BARE_STEP_VALUES), in a log naming no loss: the widest
        regular table (same width, at least MIN_BARE_POINTS rows, the step growing) gives its first column as the
        loss, as a print loop prints its loss first, and its other columns by position; the names are guesses."""
        tables: dict[tuple[int, str, str], dict[int, _SeriesBuilder]] = {}
        for (tag, unit, emitter), b in columns.items():
            width, _, pos = tag[len(_BARE_COLUMN_TAG) :].partition("_")
            tables.setdefault((int(width), unit, emitter), {})[int(pos)] = b
        regular = [
            (key, cols)
            for key, cols in tables.items()
            if len(cols) == key[0]
            and len({len(b.steps) for b in cols.values()}) == 1
            and len(cols[0].steps) >= MIN_BARE_POINTS
            and all(a < b for a, b in itertools.pairwise(cols[0].steps))
        ]
        if not regular:
            return
        (width, unit, emitter), cols = max(regular, key=lambda kc: (len(kc[1][0].steps), kc[0][0]))
        for pos, b in sorted(cols.items()):
            self.series[("loss" if pos == 0 else f"value_{pos + 1}", unit, emitter)] = b
        notes.append(
            f"{len(cols[0].steps)} lines print {'an epoch' if unit == 'epoch' else 'a step'} and {width} unnamed "
            "values: the first read as the loss, the "
            "others as value_2.. (names guessed from their position; the log names no loss)"
        )

    def _test_loss_as_eval(self, notes: list[str]) -> None:
        """A test loss is the held-out loss the analysis reads as ``val_loss`` where the log prints no other loss:
        a validation loop printed under 'Test' (CRNN_Chinese_Characters_Rec's validate() prints 'Test loss: {:.4f},
        accuray: {:.4f}' of the validation set). Beside a validation loss it stays a third stage's."""
        if any(tag in ("loss", "val_loss") for tag, _, _ in self.series) or self.hf_points:
            return
        keys = [k for k in self.series if k[0] == "test_loss"]
        for tag, unit, emitter in keys:
            self.series[("val_loss", unit, emitter)] = self.series.pop((tag, unit, emitter))
        if keys:
            notes.append("'test loss' read as the evaluation loss (the log prints no other loss)")

    def _place_line_order(self, notes: list[str]) -> None:
        """Metric lines printed with no counter at all are numbered in the order they came."""
        keys = [k for k in self.series if k[1] == "line"]
        if not keys:
            return
        if self._has_steps:  # the other metric lines have steps: line order cannot be put beside them
            # their names are kept, of the series that printed a value above zero: a score printed after each
            # epoch's bar with no counter (milesial Pytorch-UNet's 'Validation Dice Coeff: x' under its tqdm bars)
            # still says what kind of model trained beside the loss (timeline.classification_scores)
            self.unplaced_tags.update(k[0] for k in keys if any(v > 0 for v in self.series[k].values))
            dropped = sum(len(self.series.pop(k).steps) for k in keys)
            notes.append(f"{dropped} metric value(s) printed without a step counter were not placed")
            return
        for tag, _, emitter in keys:
            self.series[(tag, "step", emitter)] = self.series.pop((tag, "line", emitter))
        self._line_ordered = True
        self._place_events_in_order(0)
        if not any(n.startswith(_PER_ITERATION_NOTE) for n in notes):
            notes.append("no step counter in the log: points are numbered in the order the lines were printed")

    def _per_iteration_epochs(self, notes: list[str]) -> None:
        """Lines that name only their epoch, printed on every batch ('epoch:  0 loss:  0.6931' from a loop's
        print('epoch: ', epoch, 'loss: ', loss.item())): many lines on one epoch with a changing loss are
        per-iteration records, not one summary per epoch (the last line of each would hide the others, and a NaN
        among them). They are numbered by line order with the log's counter-less lines, each in its place within
        its epoch; left as epochs when the log has step-level series, beside which line order cannot be put."""
        loss = [b for (tag, _), b in self.epoch_line_points.items() if tag == "loss"]
        if not loss or self._has_steps or all(b.one_step for b in self.series.values()):
            return  # (every point on one epoch, nothing else: _stuck_counter says so in its own words)
        rows, epochs = self.epoch_rows, self.epoch_of_row
        longest = max(loss, key=lambda b: len(b.steps))
        values: dict[int, list[float]] = {}
        for line, value in zip(longest.steps, longest.values, strict=True):
            values.setdefault(epochs[bisect.bisect_left(rows, line)], []).append(value)
        if not any(len(v) >= STUCK_MIN_RECORDS and len(set(np.nan_to_num(v, nan=np.inf))) > 1 for v in values.values()):
            return
        order = np.union1d(np.asarray(self.order_lines, np.int64), np.asarray(rows, np.int64))

        def position(line: int) -> int:  # 1-based place of a file line among all the lines numbered
            return int(np.searchsorted(order, line)) + 1

        merged: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for (tag, unit, emitter), b in list(self.series.items()):
            if unit == "line":
                del self.series[(tag, unit, emitter)]
                merged[(tag, emitter)] = [
                    (position(self.order_lines[i - 1]), v) for i, v in zip(b.steps, b.values, strict=True)
                ]
        for (tag, emitter), b in self.epoch_line_points.items():
            self.series.pop((tag, "epoch", emitter), None)
            merged.setdefault((tag, emitter), []).extend(
                (position(line), v) for line, v in zip(b.steps, b.values, strict=True)
            )
        for (tag, emitter), points in merged.items():
            b = self.series[(tag, "line", emitter)] = _SeriesBuilder()
            for step, value in sorted(points, key=lambda p: p[0]):
                b.add(step, value)
        self.line_order = len(order)
        for ev in self.events:
            if ev.step is None and ev.keras_epoch_batch is None:
                ev.after_points = (int(np.searchsorted(order, ev.line)), ev.after_points[1])
        notes.append(
            f"{_PER_ITERATION_NOTE}: {len(rows)} lines name only their epoch, many of them the same one with a "
            "changing loss: read as per-iteration records, numbered in the order they were printed"
        )

    def _place_events_in_order(self, which: int) -> None:
        """Messages that named no step, in a log whose points are numbered in log order (``which``:
        0 counter-less metric lines, 1 HF dict lines): at the last point printed before them."""
        for ev in self.events:
            if ev.step is None and ev.keras_epoch_batch is None and ev.after_points[which] > 0:
                ev.step = ev.after_points[which]

    def _place_hf(self, notes: list[str]) -> None:
        """Give Hugging Face dict lines a step: epoch x steps_per_epoch where that is known."""
        if not self.hf_points:
            return
        spe: float | None = None
        if self.hf_max_steps and self.hf_epochs:
            spe = self.hf_max_steps / self.hf_epochs
        elif self.main_bar_total and self.hf_final_epoch:
            spe = self.main_bar_total / self.hf_final_epoch
        if spe and all(epoch is not None for _, epoch, _ in self.hf_points):
            self.spe = round(spe) if abs(spe - round(spe)) < 1e-6 else self.spe
            for _, epoch, values in self.hf_points:
                step = step_of(float(epoch) * spe)  # type: ignore[arg-type]
                if step is None:
                    continue  # an epoch of inf or 1e300: a damaged line
                for tag, val in values.items():
                    self._put(tag, step, val, "hf", inferred=True)  # the logged epoch x steps per epoch
            if self.cur_step is None:
                self.cur_step = step_of(float(self.hf_points[-1][1]) * spe)  # type: ignore[arg-type]
            return
        if self._has_steps:  # other step-level series exist: keep the HF points apart
            # ... but where those print no loss (a script's own 'Step N, learning rate: x' lines beside the Trainer's
            # dicts, Qwen's finetune.py), the dicts' loss is the log's only one: read under its name, and each other
            # value the steps' lines do not print under theirs, at its position among the dicts
            own = {tag for tag, _, _ in self.series} if not any(t == "loss" for t, _, _ in self.series) else None
            for index, _, values in self.hf_points:
                for tag, val in values.items():
                    name = tag if own is not None and tag not in own else f"hf_{tag}"
                    self._put(name, index, val, "hf", inferred=True)  # a position in the log
        else:
            for index, _, values in self.hf_points:
                for tag, val in values.items():
                    self._put(tag, index, val, "hf")
            self._hf_unplaced = True
            self._place_events_in_order(1)
        notes.append("Hugging Face Trainer lines carry no step: points are numbered in log order")


# a line naming no metric is read for a step counter that opens a record (_LogParser._open_record) only with one of
# these words in it (a glued "step110" too): a cheap test before the scan
_RECORD_HEAD_HINT = re.compile(r"step|iter", re.IGNORECASE)


# Caffe (BVLC 1.0, src/caffe/solver.cpp, Solver::Step) logs "Iteration {iter}, loss = {smoothed loss}" every display
# iterations, then one line per value of the train net's output blobs: "    Train net output #{k}: {name} = {value}",
# followed by " (* {loss weight} = {weighted value} loss)" for a blob with a loss weight. The weighted outputs are the
# terms the loss sums; the others (an Accuracy layer's top) are metrics of the same iteration, no terms. Solver::Test
# logs "Iteration {iter}, Testing net (#{id})", runs the test net over its iterations (other layers may log
# meanwhile: "Restarting data prefetching from start."), then "    Test net output #{k}: {name} = {mean}" and the
# same loss suffix: the evaluation at that iteration.
_CAFFE_OUTPUT = re.compile(
    r"(Train|Test) net output #\d{1,9}: ([^\s=]{1,128}) = (\S{1,64})( \(\* \S{1,64} = \S{1,64} loss\))?[ \t]{0,64}$"
)
# MXNet's EvalMetric.get() is NaN when the metric has seen no batch (num_inst == 0). The Speedometer (0.x, and 1.x with
# auto_reset) resets the training metric after each batch line it logs, so when an epoch's batches end on a logged
# one, Module.fit's 'Epoch[%d] Train-%s=%f' lines at the epoch's end print every metric NaN, the accuracy too: the
# empty metric, no value of the loss. Left out only after Speedometer lines, whose own values show any divergence.
_EMPTY_EPOCH_METRIC = re.compile(r"\bEpoch\[\d{1,9}\] Train-[\w-]{1,64}=nan\s{0,8}$")
_CAFFE_TESTING = re.compile(r"Iteration (\d{1,19}), Testing net \(#\d{1,6}\)")


def _caffe_output(text: str) -> tuple[bool, list[tuple[str, float]]] | None:
    """(a test net's, its value as a series' point, or none) of one of Caffe's net output lines (_CAFFE_OUTPUT), or
    None for any other line. A test net's outputs are an evaluation's: ``val_`` before the name. No point for a
    train net's output named 'loss' (the net's one loss, whose smoothed value the iteration's line printed), nor for
    an output without a loss weight named as a loss would be (GoogLeNet's accuracy 'loss1/top-1'): no loss."""
    m = _CAFFE_OUTPUT.search(text)
    if m is None:
        return None
    tag, value = normalise_tag(m.group(2)), _num(m.group(3))
    test = m.group(1) == "Test"
    if tag is None or value is None:
        return None
    if (tag == "loss" and not test) or ("loss" in tag and not m.group(4)):
        return test, []
    return test, [(f"val_{tag}" if test else tag, value)]


# Megatron's training_log line (Megatron-LM, Megatron-DeepSpeed, GPT-NeoX, Megatron-LLM and their forks) prints
# each loss of the interval as ' {key}: {avg:.6E} |' only `if avg > 0.0`, so a loss whose average was NaN is
# left off the line; its counters close the line as ' number of skipped iterations: {:3d} | number of nan
# iterations: {:3d} |'. A skipped iteration adds nothing to the loss sums, so an interval skipped whole (the
# fp16 scaler overflowing at every step) leaves the loss off too, with no NaN: the loss was NaN when no
# iteration was skipped, or when a skipped one counted a NaN loss.
_MEGATRON_COUNTERS = re.compile(
    r"\| number of skipped iterations: {0,12}(\d{1,10}) \| number of nan iterations: {0,12}(\d{1,10}) \|"
)


def _megatron_loss_left_off(text: str, pairs: list[tuple[str, float]]) -> bool:
    """A Megatron iteration line whose loss average was NaN, left off the line (see _MEGATRON_COUNTERS)."""
    if "number of nan iterations" not in text or any(t == "loss" for t, _ in pairs):
        return False
    m = _MEGATRON_COUNTERS.search(text)
    if m is None or "loss:" in text.replace("loss scale:", ""):
        return False
    return int(m.group(1)) == 0 or int(m.group(2)) > 0


# "76930 2.6496577": a bare step and one fractional value, nothing named (a print loop's
# print(step, loss)); read as the loss only when the log names no loss anywhere
_BARE_VALUE = r"(?P<value>[-+]?(?:\d{1,30}\.\d{0,30}(?:[eE][-+]?\d{1,4})?|\d{1,30}[eE][-+]?\d{1,4}|nan|inf|infinity))"
_BARE_STEP_VALUE = re.compile(
    r"\s{0,64}(?P<step>\d{1,19})(?P<colon>:)?[ \t]{1,64}" + _BARE_VALUE + r"[ \t]{0,64}", re.IGNORECASE
)
# A step, a colon and several unnamed fractional values (or NaN/Inf), blank-separated: a print loop's
# print('{}: {}\t{}'.format(step, loss_d, loss_g)) (AYLIEN's gan-intro gan.py, 2016, and the 1-D GAN tutorials copied
# from it, every log_every steps). Nothing names the values, so they are read by position and only as a table: at
# least MIN_BARE_POINTS rows of the same width, the step growing from row to row (_LogParser._place_bare_columns).
# Integers are no values here ("epoch 3: 12 batches", "1: 3 4"), nor a date, a time, an address or a version.
# The step may also follow its counter's name and a colon instead (a loop's print('batch:', i, loss, bce, acc):
# DeepCTR's users print so over their own train_on_batch loop, the step's values bare after it); an epoch is no step.
_BARE_NUMBER = r"[-+]?(?:\d{1,30}\.\d{1,30}(?:[eE][-+]?\d{1,4})?|\d{1,30}[eE][-+]?\d{1,4}|nan|inf|infinity)"
MAX_BARE_COLUMNS = 8
_BARE_VALUES = rf"{_BARE_NUMBER}(?:[ \t]{{1,64}}{_BARE_NUMBER}){{1,{MAX_BARE_COLUMNS - 1}}}"
_BARE_STEP_VALUES = re.compile(
    rf"[ \t]{{0,64}}(?:(?P<step>\d{{1,19}}):|(?:batch|step|iter|iteration):[ \t]{{0,8}}(?P<counted>\d{{1,19}}))"
    rf"[ \t]{{1,64}}(?P<values>{_BARE_VALUES})[ \t]{{0,64}}",
    re.IGNORECASE,
)
# A counter's name and its count as fields of a comma-separated record, then two to eight unnamed values: Python
# logging with a format of comma-separated fields, LOGGER.info('epoch, %04d, %f, %f, %f, %f', epoch + 1,
# running_loss, val_loss, running_info, val_info) under basicConfig's '%(levelname)s:%(name)s, %(asctime)s,
# %(message)s' (hmgoforth's PointNetLK and the registration trainers built on it). Whatever the logger put before
# the record's fields is its own; the values are read by position as the rows above are, an epoch's per epoch.
_COMMA_COUNTER_VALUES = re.compile(
    rf"(?:^|,)[ \t]{{0,8}}(?P<name>epoch|batch|step|iter|iteration),[ \t]{{0,8}}(?P<counted>\d{{1,19}})"
    rf"(?P<values>(?:,[ \t]{{0,8}}{_BARE_NUMBER}){{2,{MAX_BARE_COLUMNS}}})[ \t]{{0,64}}$",
    re.IGNORECASE,
)
# A logger's date and time, the step, then unnamed values, a cell of dashes where a value had no update since the last
# print: isl-org PhotorealismEnhancement's LogSync.print writes f'{i:d} ' then '%.2f ' per scalar it queued, or
# '---- ' for one with none, under logging's '%(asctime)s %(message)s'; the names ('%-4.4s ' of each) come only on
# a header every twentieth print. Nothing says which column is a loss, and a generator's and a discriminator's
# iterations alternate with each other's columns dashed, so no column is read as one: such rows say only when every
# value they print went non-finite (_LogParser._unnamed_row). The timestamp is what makes the line a log record: an
# index and numbers alone are as often a printed table of data (a DataFrame's rows, NaN and all).
MAX_UNNAMED_CELLS = 64
_STAMP = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,6})?"
_STAMPED_STEP_CELLS = re.compile(
    rf"[ \t]{{0,8}}{_STAMP}[ \t]{{1,8}}(?P<step>\d{{1,19}})"
    rf"(?P<values>(?:[ \t]{{1,64}}(?:{_BARE_NUMBER}|-{{2,8}})){{2,{MAX_UNNAMED_CELLS}}})[ \t]{{0,64}}",
    re.IGNORECASE,
)
# Values named only by the split they were computed on, the training split first, ending the line: Microsoft qlib's
# PyTorch models (pytorch_lstm_ts.py, pytorch_gru.py, pytorch_alstm.py... fit) log "train %.6f, valid %.6f" %
# (train_score, val_score) each epoch, the score being what the model's metric makes of its predictions (the negated
# loss by default). What the number measures is not said, so it is no loss curve; only a row whose every value is
# non-finite says something (_LogParser._unnamed_row).
_SPLIT_VALUES = re.compile(
    rf"(?:^|[\s:-])(?:train|training)[ \t]{{1,8}}(?P<values>{_BARE_NUMBER}(?:,[ \t]{{0,8}}"
    rf"(?:valid|validation|val|eval|test)[ \t]{{1,8}}{_BARE_NUMBER}){{1,2}})[ \t]{{0,64}}$",
    re.IGNORECASE,
)
_CELL_SPLIT = re.compile(r"[,\s]+(?:(?:valid|validation|val|eval|test)[ \t]+)?", re.IGNORECASE)
# A row of unnamed values whose every value is NaN or Inf: at least this many (one non-finite value may be a metric
# with nothing to measure, as an evaluation on unlabelled rows prints; every value at once is the model's numbers)
MIN_NONFINITE_ROW_VALUES = 2
MAX_ROW_QUOTE = 200  # what the report quotes of such a row
# A printed array: NumPy's and PyTorch's repr ('tensor([[nan, nan, nan],', then its other rows, then ', device=...,
# grad_fn=<...>)'), Julia's and R's matrix display ('NaN  NaN  NaN  NaN', under '2×10 Array{Float32,2}:'), a bare
# row of numbers. A job prints one to look at a model's outputs, weights or gradients, which go non-finite all at
# once when the weights do. Read as such a row is (_unnamed_row) when it holds at least this many values on one
# line, or this many less one inside its wrapper's call (the wrapper names it an array): fewer are a metric's
# handful of per-class values as often (an AP of NaN for each class the split lacks). Lines longer than the cap
# are not split into tokens.
MIN_ARRAY_VALUES = 4
MAX_ARRAY_LINE = 20_000
_ARRAY_SPLIT = re.compile(r"[\s,;\[\]()]+")
_ARRAY_WRAPPERS = frozenset({"tensor", "array", "np.array", "numpy.array", "torch.tensor", "tf.tensor"})


# a cheap look before a line is split into tokens: NaN or Inf as a word of its own ('Info' and 'nano' are not)
_NONFINITE_TOKEN = re.compile(r"(?<![A-Za-z])(?:nan|inf)(?![A-Za-z])", re.IGNORECASE)


def _matrix_row_under_finite(prev: tuple[int, str] | None, line: int, width: int, matrix_rows: dict[int, int]) -> bool:
    """The line right above printed an array row of the same width holding a finite value: this row is one of a
    matrix whose other rows are finite (a confusion matrix's row of a class the split lacks), not the model's numbers
    gone non-finite."""
    if prev is None or prev[0] != line - 1 or prev[1].rstrip().endswith((")", "]]")):
        return False  # not the line right above, or an array it closed (a print of its own, not this one's row)
    above = array_row(prev[1])
    if above is None or len(above) != width:
        return False
    # a finite row above, or a row of this matrix already taken for one under finite rows (two classes absent)
    if any(map(math.isfinite, above)) or matrix_rows.get(line - 1) == width:
        matrix_rows[line] = width
        return True
    return False


def array_row(text: str) -> list[float] | None:
    """The values of a line that is a printed array's row (MIN_ARRAY_VALUES), or None; its wrapper's keyword
    arguments (device=, dtype=, grad_fn=, requires_grad=) are no values."""
    low = text.lower()
    if len(text) > MAX_ARRAY_LINE or ("nan" not in low and "inf" not in low and not any(map(str.isdigit, text))):
        return None
    tokens = [tok for tok in _ARRAY_SPLIT.split(text) if tok]
    wrapped = bool(tokens) and tokens[0].lower() in _ARRAY_WRAPPERS
    if wrapped:
        tokens = tokens[1:]
    while tokens and ("=" in tokens[-1] or tokens[-1].startswith(("<", "'", '"')) or tokens[-1].endswith(">")):
        tokens.pop()  # the repr's keyword arguments, at its end: "device='cuda:0'", "grad_fn=<AddmmBackward0>"
    values = []
    for tok in tokens:
        v = nonfinite_value(tok)
        if v is None:
            v = _num(tok)
        if v is None:
            return None
        values.append(v)
    return values if len(values) >= MIN_ARRAY_VALUES - wrapped else None


_STAMP_LEAD = frozenset(" \t0123456789")
# The same with the step's percent of the run and the time elapsed beside it, then one unnamed value (the
# PyTorch tutorials' print loops, copied widely: the char-RNN classifier's '%d %d%% (%s) %.4f %s / %s %s'
# % (iter, percent, timeSince(start), loss, name, guess, correct), the char-RNN generator's and the
# seq2seq tutorial's '%s (%d %d%%) %.4f' % (timeSince(...), iter, percent, loss))
_STEP_PERCENT_VALUE = re.compile(
    r"(?:[ \t]{0,64}(?P<step>\d{1,19})[ \t]{1,8}\d{1,3}%[ \t]{1,8}\([^()]{0,32}\)"
    r"|\d[^()]{0,31}(?:\([^()]{0,32}\)[ \t]{1,8}){0,2}\((?P<step2>\d{1,19})[ \t]{1,8}\d{1,3}%\))[ \t]{1,8}"
    + _BARE_VALUE
    + r"(?:[ \t]|$)",
    re.IGNORECASE,
)
# a quoted key opening a list ("'train': [", '"loss": ['): where a printed history's list starts
_LIST_OPEN = re.compile(r"""['"][A-Za-z_][\w./ -]{0,63}['"]:[ \t]{0,8}\[""")
# an entry of a list printed one a line: a number or NaN/Inf, bare or in its repr ("array(nan)", "np.float64(0.5)")
_LIST_REPR = re.compile(r"[A-Za-z_][\w.]{0,15}\(([^()]{1,40})\)")
MAX_ENTRY_LINE = 400


_CELL = re.compile(r"\S+")


def _left_aligned(text: str, starts: list[int] | None) -> bool:
    """Does every cell of the row start where a header column starts (a fixed-width table's row: Chainer's
    PrintReport pads each entry with '{:<%dg}' to its column's width)?"""
    return starts is not None and all(m.start() in starts for m in _CELL.finditer(text))


def _only_list_entries(text: str) -> bool:
    """Is the line nothing but entries of a list, with their commas and brackets ("  array(nan)],")?"""
    if len(text) > MAX_ENTRY_LINE:
        return False
    pieces = [p.strip(" \t[]{}") for p in text.split(",")]
    pieces = [p for p in pieces if p]
    return bool(pieces) and all(_num(m.group(1) if (m := _LIST_REPR.fullmatch(p)) else p) is not None for p in pieces)


MAX_LIST_LINES = 4096  # a list printed one entry a line is read over at most this many lines (epochs)
MAX_STRAY_TABLE_LINES = 1  # lines with a value but no row a table goes on through (another writer's print)
MIN_BARE_POINTS = 3  # bare step/value lines it takes to read them as a curve rather than stray numbers
# "21129:\tnan": the colon after the step is the key/value shape with the counter as its key (WaveGlow's
# train.py prints print("{}:\t{:.9f}".format(iteration, reduced_loss)) and nothing else per step): the
# line itself says which number counts and which is the value, so two such lines make a curve; one line
# alone is no series (a "12:\t0.87" may be anything's twelfth entry) unless the job died after it: a paste
# often keeps only the last line before the crash, and that line is then the last point trained
MIN_KEYED_BARE_POINTS = 2
MIN_KEYED_BARE_POINTS_BEFORE_CRASH = 1
# A guard's skips that last until the log ends are a stop when there are at least as many as the steps
# between two logged losses (a print was due and none came finite) and at least this many: a working guard
# drops isolated steps, and a few in a row at the end of a paste are still no proof that none came after
PERSISTENT_SKIPS = 10
_BARE_TAG = "_bare_value"
_BARE_COLUMN_TAG = "_bare_column"  # + the row's width and the column's position: "_bare_column2_0"
_BARE_KEYED_TAG = "_bare_keyed_value"
_BARE_MIN_POINTS = {_BARE_TAG: MIN_BARE_POINTS, _BARE_KEYED_TAG: MIN_KEYED_BARE_POINTS}
# a line that prints a value: a number standing on its own (not the digit of a name such as
# "l1_loss", "top5_acc", "mAP50-95", which a table header may hold) or a NaN/Inf spelling
_HAS_VALUE = re.compile(r"(?:^|[\s:=,;|(\[{])[-+]?\.?\d|\b(?:nan|inf|infinity)(?:x{1,16}|_{1,16})?\b", re.IGNORECASE)
_ANY_DIGIT = re.compile(r"\d")


# A classification rate printed in percent on the loss's line: an accuracy or an error rate ('acc: 95.3%'; CNTK's
# 'errs = 96.6% * 2560', its criterion logger printing a plural node name, an error counter, in percent; CNTK 2's
# Python progress printer's 'metric = 98.4% * 18014', the trainer's evaluation function times 100, a classification
# error wherever it stays within 100 %): the loss beside it is a classifier's. Bounded: linear on any text.
_PERCENT_RATE = re.compile(
    r"(?<![\w.])(?:acc|accuracy|err|errs|error|error[_ ]rate|metric|top-?1)[ \t]{0,4}[:=][ \t]{0,4}"
    r"(\d{1,3}(?:\.\d{1,12})?)[ \t]{0,2}%",
    re.IGNORECASE,
)

# characters a notebook cell's comment or a prompt puts before a bar's description
_DESC_LEAD = "#>*| \t"
# What a logger or a wrapper that forwards a job's stderr puts before a bar's own text: a time or a date in brackets
# or bare, a level or a stream name in brackets, logging's 'LEVEL:name:' (a GUI launcher's '[08:24:06] [STDERR] ',
# '2024-05-01 10:00:00,123 INFO ', '[INFO] '): none of it is the bar's description, which names the loop
# ('steps', 'Epoch 3', 'Training'), so it is dropped before the description is read. Brackets holding words other
# than a level or a stream are kept (ColossalAI's '[Epoch 1 / Train]' is the description itself).
_BAR_RECORD_HEAD = re.compile(
    r"^(?:[ \t]{0,8}(?:\[(?:[\d/ .T-]{0,16}\d{1,2}:\d\d(?::\d\d)?[\d:.,+ -]{0,16}"
    r"|(?i:info|warning|warn|error|debug|critical|stdout|stderr))\]"
    r"|\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
    r"|(?:INFO|WARNING|WARN|DEBUG|ERROR)(?::[\w.]{0,64}:|:[ \t]{1,4}|[ \t]{1,4}(?:-[ \t]{1,4})?|[ \t]{0,4}\|[ \t]{0,4})"
    r")[ \t]{0,8}(?:-[ \t]{1,4})?){1,6}"
)


def _bar_postfix(bar: re.Match[str], end_ok: int) -> str:
    """The bar's bracket after its counter ('00:42<00:00, 46.69it/s, loss=0.5'), up to ``end_ok``: where the text
    the bar's own redraws left whole ends (a line cut mid-redraw ends before it)."""
    info = bar.group("info")
    return info[: max(end_ok - bar.start("info"), 0)] if info is not None else ""


def _bar_values(text: str) -> list[tuple[str, float]]:
    """The metrics a progress bar's postfix or description shows (its epoch is the bar's business)."""
    return [(tag, val) for tag, val in scan_line(text).pairs if tag != "epoch"]


def _bar_before_message(text: str) -> int:
    """Where a progress bar that opens ``text`` ends, when words follow it on the same line (0 if none)."""
    end = 0
    for bar in _tqdm_bars(text):
        end = bar.end()
    return end if end and text[end:].strip() else 0


# The C++ runtime's last words when an exception leaves a program (libstdc++'s verbose terminate handler, on stderr):
# a progress line redrawn with a carriage return and no newline ('Progress: 0.2% ... avg.loss: 114.7 ETA: ...') has
# them glued to its end, and what comes before them is the program's own output.
_TERMINATE = "terminate called after throwing an instance of"


def _output_before_terminate(text: str) -> int:
    """Where the program's output before the C++ terminate handler's message on the same line ends (0 if none)."""
    at = text.find(_TERMINATE) if "terminate called" in text else -1
    return at if at > 0 and text[:at].strip() else 0


def _has_value(text: str) -> bool:
    """Whether ``text`` holds a number (or nan/inf) standing on its own.

    A line without a digit or a nan/inf goes no further than a scan for one: the full pattern
    tries its alternatives at every blank, which on kilobyte-wide padded lines cost ~0.2 ms each."""
    if _ANY_DIGIT.search(text) is None:
        low = text.lower()
        if "nan" not in low and "inf" not in low:
            return False
    return _HAS_VALUE.search(text) is not None


_SETTINGS_WORDS = ("config", "args", "hparams", "hyperparameters", "params", "settings", "options", "namespace")


def _is_settings_dump(text: str) -> bool:
    """A line printing the run's settings: a dict or argparse Namespace after a word like "config"."""
    brace = min((i for i in (text.find("{"), text.find("(")) if i >= 0), default=-1)
    if brace < 0:
        return False
    head = text[:brace].strip().rstrip(":=").strip().lower()
    return bool(head) and head.split()[-1].endswith(_SETTINGS_WORDS)


# NumPy's histogram raises "autodetected range of [nan, nan] is not finite" for any values it is given: it speaks of
# a run's weights or gradients where a metrics writer's histogram called it (tensorboardX's and
# torch.utils.tensorboard's add_histogram / summary.histogram, wandb's Histogram: a frame outside NumPy whose file or
# function names a histogram), or once the run has logged a loss (a histogram of its weights, gradients or outputs
# drawn while it trains). Raised before any loss through frames that show no such writer (matplotlib's hist of a
# data column in a preprocessing script), it is a histogram of something else: its NaN is no divergence.
# (FRAME_PARTS, shared with the catalogue, takes a trimmed frame apart; _FRAME above tells a frame line from others)


def _histogram_of_other_values(ev: _EventBuilder, frames: tuple[str, ...]) -> bool:
    """NumPy's histogram message (a ``nonfinite_tensor`` it names) raised through a traceback that shows frames
    and no histogram writer among them."""
    if ev.kind != "nonfinite_tensor" or not str(ev.values.get("tensor", "")).startswith("a histogram's"):
        return False
    seen = [m for f in frames if (m := FRAME_PARTS.match(f)) is not None]
    return bool(seen) and not any(
        "histogram" in (m.group("path") + m.group("function")).lower() and "numpy" not in m.group("path").lower()
        for m in seen
    )


def _trim_frames(frames: Iterable[str]) -> list[str]:
    """Frame lines without the ``^^^^`` markers and blank lines: what a reader wants to see."""
    return [f.strip() for f in frames if f.strip() and not set(f.strip()) <= set("^~ ")]


# ---------------------------------------------------------------- public API


def parse_log_text(
    text: str, file_name: str | None = None
) -> tuple[dict[str, ScalarSeries], tuple[LogEvent, ...], bool, int | None]:
    """Parse a whole log held in memory: (series, events, died_with_exception, last_step); ``file_name``
    as the file would be named (a layout known by name, :data:`HEADERLESS_LAYOUTS`).

    Pure function over the text, for tests and fuzzing; :func:`read_job_log`
    streams the same parser over a file.
    """
    parser = _LogParser("<text>", file_name)
    data = text.encode("utf-8", "surrogatepass")
    for seg in _segments(data[i : i + READ_CHUNK_BYTES] for i in range(0, len(data), READ_CHUNK_BYTES)):
        parser.feed(seg)
    res = parser.finish()
    return res.scalars, res.events, res.died_with_exception, res.last_step


def read_job_log(path: Path, source: Source) -> LogData:
    """Stream a console log into series and events. Bounded memory whatever its size."""
    parser = _LogParser(source.path, path.name)
    status = Status.OK
    notes: list[str] = []
    try:
        with open_binary(path) as f:
            head = f.read(BINARY_SNIFF_BYTES)
            chunks = _decoded_chunks(f, head)
            try:
                for seg in _segments(chunks):
                    parser.feed(seg)
            except OSError as e:
                status = Status.PARTIAL
                notes.append(f"read error after line {parser.line}: {e.strerror or e}")
    except OSError as e:
        raise UnreadableSource(f"cannot open log: {e.strerror or e}") from e
    res = parser.finish()
    notes = notes + res.notes
    note = "; ".join(notes) if notes else None
    if note and len(note) > NOTE_LIMIT:
        note = note[: NOTE_LIMIT - 1] + "…"
    src = dataclasses.replace(source, status=status, note=note) if (note or status is not Status.OK) else source
    return LogData(
        source=src,
        scalars=res.scalars,
        events=res.events,
        died_with_exception=res.died_with_exception,
        last_step=res.last_step,
        step_unit=res.step_unit,
        steps_per_epoch=res.steps_per_epoch,
        epoch_tags=res.epoch_tags,
        plan=res.plan,
        inferred_tags=res.inferred_tags,
        classifier_rate=res.classifier_rate,
        unplaced_tags=res.unplaced_tags,
    )


def _decoded_chunks(f: Any, head: bytes) -> Iterator[bytes]:
    """UTF-8 bytes of the file, from a UTF-16 log too (PowerShell's ``>`` writes UTF-16)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder = codecs.getincrementaldecoder("utf-16")("replace")
        data = head
        while data:
            yield decoder.decode(data).encode("utf-8")
            data = f.read(READ_CHUNK_BYTES)
        yield decoder.decode(b"", final=True).encode("utf-8")
        return
    if head and head.count(0) > BINARY_NUL_FRACTION * len(head):
        raise UnreadableSource("binary data, not a text log")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    yield head
    while True:
        data = f.read(READ_CHUNK_BYTES)
        if not data:
            return
        yield data


# ---------------------------------------------------------------- judging a file by its content

SNIFF_BYTES = 64 * 1024  # what discovery reads of a file of unknown name to judge whether it is a log
SNIFF_MIN_METRIC_LINES = 2  # lines with a metric value (loss, LR, grad norm...) in that head
NOTE_LINES = 3  # a file of at most this many lines, no value at a counted step: a note, whose statements are prose
_SNIFF_TAGS = frozenset({"loss", "val_loss", "learning_rate", "grad_norm", "accuracy", "perplexity", "loss_scale"})
_LOSS_TAGS = frozenset({"loss", "perplexity"})  # a training loss, or exp of one
# A heading over a table of rates, not of a loss: a confusion matrix's rows ("0: 0.90 0.05 0.05") or a per-class
# table would otherwise read as unnamed values after a counter.
_TABLE_HEADING = re.compile(r"confusion|matrix|per[ _-]class|classification report", re.IGNORECASE)
# structured files other readers own, and source code or prose that mentions losses without being a log (a
# markdown file is judged by its content: people keep a run's console output in a log.md or notes.md; a project's
# own documents, README.md (the HF Trainer's model card among them), CHANGELOG.md, ..., are left out by name)
NOT_LOG_EXTENSIONS = frozenset(
    {
        ".py",
        ".ipynb",
        ".sh",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".cfg",
        ".ini",
        ".rst",
        ".html",
        ".xml",
        ".js",
        ".c",
        ".cc",
        ".cpp",
        ".h",
        ".hpp",
        ".cu",
        ".java",
        ".rs",
        ".go",
        ".tex",
        ".css",
    }
)


# a line worth parsing when sniffing names a metric or a message (a vocabulary or a CSV of
# numbers is thousands of lines that would each be parsed for nothing)
# searched in the lowered bytes, so any case: a header of capitalised names ('Learning Rate<TAB>Train
# Loss', the Logger of pytorch-classification's utils that many research repos copy) names its metrics only
# there (lowering first, not IGNORECASE: see names_a_metric on the speed of a case-blind alternation)
_SNIFF_WORDS = re.compile(
    rb"loss|lr|learning|norm|acc|ppl|perplex|cost|xent|entropy|objective|traceback|error|nan|overflow"
    rb"|memory|oom|nccl|step|iter|epoch|train"
    # the criteria a loss is printed under without a metric word (logmetrics._CRITERIA_HINTS): '[L1: 5.96]'
    rb"|l[12][:=]|charbonnier|huber|focal|bce"
)


def looks_like_log(path: Path, *, thorough: bool = False, one_line: bool = True) -> bool:
    """Is this file, whatever its name, a training log? Judged on its first SNIFF_BYTES.

    Text (no NUL bytes, or UTF-16 with its BOM) holding either two lines that print
    a metric the rules read, or a framework message or traceback with a known meaning.
    Only lines holding a word of :data:`_SNIFF_WORDS` are parsed, for speed over many files, unless
    ``thorough``: every line is (discovery's second look, where nothing else was found), and one line that reads as
    the training loss will do, unless not ``one_line`` (a project's README quoting a loss in its prose).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO swapped in must not block discovery
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, SNIFF_BYTES)
    except OSError:
        return False
    finally:
        os.close(fd)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "replace").encode("utf-8")
    if not head or head.count(0) > BINARY_NUL_FRACTION * len(head):
        return False
    parser = _LogParser(path.name, path.name, hold_leads=False)
    if not thorough and not parser.layouts and not _SNIFF_WORDS.search(head.lower()):
        return False  # no metric name nor message anywhere in the head: not worth parsing
    whole = len(head) < SNIFF_BYTES  # the file ended inside the head: its last line is whole too
    metric_lines = lines = 0
    # a paste that numbered its lines is judged without the numbers, as it is read (_LogParser._decide_numbering)
    parser.numbered_from = numbering_offset(
        itertools.islice(_segments([head.removeprefix(codecs.BOM_UTF8)]), LINE_NUMBER_PROBE)
    )
    for seg in _segments([head]):
        if seg.at_eof and not whole:
            break  # the cut at SNIFF_BYTES: a partial line
        lines += bool(seg.raw.strip())
        if (
            not thorough
            and parser.columns is None
            and parser.box is None
            and not parser.layouts
            and not _SNIFF_WORDS.search(seg.raw.lower())
            and not is_box_border(seg.raw)
        ):
            continue  # only lines that name a metric or a message are parsed (rows under a header or in a box too)
        before, rows_before = parser.metric_lines, parser.box_rows
        parser.feed(seg)
        if parser.metric_lines > before:
            # a key/value box gives its record at its closing border: each of its rows printed a metric
            metric_lines += max(1, parser.box_rows - rows_before)
        if metric_lines >= SNIFF_MIN_METRIC_LINES or len(parser.events) > parser.statement_events or parser.tb_state:
            return True
    # A file shorter than the minimum (a one-line paste of the last iteration) is a log when
    # every line it holds prints a metric and one is a training loss: a prose file that names a
    # loss once has other lines, and a one-line summary of evaluation scores names no loss.
    before = parser.metric_lines
    parser._flush_record()  # a record printed over the file's last lines
    metric_lines += parser.metric_lines - before
    loss_read = any(tag in _LOSS_TAGS for tag, _, _ in parser.series)
    # (not for a project's README in the second look, one_line False: a heading '## Loss is NaN' is no paste)
    short_log = whole and 0 < metric_lines == lines and loss_read and (one_line or not thorough)
    # the second look, where nothing else was found: one line that reads as the training loss at a step or epoch it
    # names will do (a snapshot of a fit's messages: 'Loss is NaN at epoch 10. Training is stopped.' among the model's
    # printout); a loss placed by line order alone is a sentence's as often ('the loss is nan with lr 0.1' in notes)
    counted = any(tag in _LOSS_TAGS and unit != "line" for tag, unit, _ in parser.series)
    return bool(parser.hf_points) or short_log or (thorough and one_line and counted)
