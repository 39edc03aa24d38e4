"""Rules reading what the framework itself said in the job log.

The log reader records each known message as an observation (a family and what it
names); :mod:`forensics.rules.messages` says what each family means. LOG001 takes the
messages that mean a data fault, LOG003 those that mean a numerical one, LOG002 the
out-of-memory errors that end a run without a divergence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forensics.records import LogEvent
from forensics.rules.base import Finding, rule
from forensics.rules.messages import TWO_SIDED_NOTE, meaning
from forensics.timeline import Timeline

# The framework checked the fault and named it (label and range, the op): as sure as
# evidence gets, and decisive on its own (at or above diagnose.DECISIVE_WEIGHT).
NAMED_FAULT_WEIGHT = 0.9
# The message names the kind of fault but not which one (an index out of range, a NaN
# from an op that neither takes a log nor divides): strong, but not decisive alone.
UNNAMED_FAULT_WEIGHT = 0.6
# Messages that name the fault exactly though no contract detail fits it (TensorFlow's CTC refusing an empty label
# or one longer than its frames): the framework checked the sample and said what is wrong with it.
_NAMED_WITHOUT_DETAIL = frozenset({"ctc_invalid_label"})
# Out of memory speaks for "not a divergence" only weakly: the curve says more.
OOM_WEIGHT = 0.3


# TensorFlow's CTC gives a sample it finds no valid path for an infinite loss, so the batch's loss is inf: a first
# non-finite training loss at most this many finite logged points after the warning is that sample's (the point
# logged for the batch it was printed in; a progress bar prints a batch's point after the batch's warnings).
CTC_INF_POINTS = 1


def _after_warning(tl: Timeline, step: int | None) -> str:
    """What the training loss did after a warning printed at ``step`` (None: before any point was logged):
    "beside" (its first non-finite point came at most CTC_INF_POINTS finite points later), "nonfinite" (it went
    non-finite elsewhere, or the run diverged by another sign), "finite" (finite points logged after it and the
    run did not diverge) or "nothing" (no point logged after it)."""
    loss, nf = tl.loss, tl.first_nonfinite
    if loss is None or not len(loss):
        return "nonfinite" if tl.diverged else "nothing"
    after = loss.steps > step if step is not None else np.ones(len(loss), dtype=bool)
    if nf is not None:
        between = np.isfinite(loss.values) & after & (loss.steps < nf.step)
        beside = (step is None or nf.step >= step) and int(between.sum()) <= CTC_INF_POINTS
        return "beside" if beside else "nonfinite"
    if tl.diverged:
        return "nonfinite"
    return "finite" if bool((np.isfinite(loss.values) & after).any()) else "nothing"


def _ctc_weight(tl: Timeline, step: int | None) -> float | None:
    """LOG001's weight for TensorFlow's 'No valid path found.' warned at ``step``: decisive beside the infinite
    loss it makes, unnamed-fault weight where no loss was logged after it, None (no finding: LOG005 says the run
    went on) where the loss stayed finite after it."""
    return {"beside": NAMED_FAULT_WEIGHT, "finite": None}.get(_after_warning(tl, step), UNNAMED_FAULT_WEIGHT)


def _framework_findings(tl: Timeline, cause: str) -> list[Finding]:
    out = []
    # a label check that failed names the fault even when it cannot say on which side of the range; CUDA's
    # "device-side assert triggered" after it is the same assertion's echo, and says no more of the side
    sides_unknown = any(
        e.kind == "label_out_of_range" and (m := meaning(e)) is not None and m.detail is None for _, e in tl.log_events
    )
    for path, e in tl.log_events:
        m = meaning(e)
        if m is None or m.cause != cause:
            continue
        if e.kind == "numpy_fp_warning" and _after_warning(tl, e.step) == "finite":
            continue  # NumPy's warning from host code, and the loss stayed finite after it: no fault of the run's
        two_sided = e.kind == "label_out_of_range" and m.detail is None
        detail = None if sides_unknown and e.kind == "cuda_device_assert" else m.detail
        weight = (
            NAMED_FAULT_WEIGHT if m.detail or two_sided or e.kind in _NAMED_WITHOUT_DETAIL else UNNAMED_FAULT_WEIGHT
        )
        if e.kind == "ctc_no_valid_path":
            if e.values.get("samples") is not None:
                continue  # ESPnet2's CTC dropped those samples before the loss: they never reached the update
            ctc = _ctc_weight(tl, e.step)
            if ctc is None:
                continue  # the loss stayed finite after it: an occasional unalignable sample (LOG005)
            weight = ctc
        out.append(
            Finding(
                detail,
                f"{path} line {e.line}: {e.message}" + (TWO_SIDED_NOTE if two_sided else ""),
                weight=weight,
                step=e.step,
                source=path,
                fix=m.fix,
            )
        )
    return out


@rule(
    "LOG001",
    "framework-names-a-data-fault",
    "data_or_labels",
    ("labels_out_of_range", "negative_labels", "nan_in_inputs"),
    needs=("job_log",),
    decisive=True,
)
def framework_data_fault(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A message in the job log that the framework prints for a fault in the
        data: TensorFlow's "Received a label value of N which is outside the
        valid range of [0, K)", PyTorch's "Target N is out of bounds" or the
        CUDA assert "t >= 0 && t < n_classes", an embedding index out of range.
        Also TensorFlow's CTC refusing an empty label ("Labels length is zero
        in batch N") or one longer than its frames; TensorFlow's CTC warning "No
        valid path found." (a sample whose label its frames cannot align, given
        an infinite loss) beside the inf/NaN loss it makes (decisive) or with no
        loss logged after it (not decisive);
        A trainer's own check of the batch before its forward pass finding NaN
        in the inputs or targets (flashlight's and wav2letter++'s "Sample has
        NaN values - <sample ids>"), read as the divergence at that step.
        NumPy's "invalid value encountered in log" warned from a box-encoding
        file (bbox_transform.py): the log of a box's negative width or height,
        a box whose x2 < x1 or y2 < y1 ("divide by zero encountered in log"
        there: a zero one), in a run that diverged or whose log holds no loss
        after the warning (with a finite loss after it, the run went on: no
        finding). With no loss after it the run is read as diverged there:
        the loss takes the non-finite target, and a zero weight on an
        unassigned anchor's term leaves it non-finite (0 x NaN is NaN).
        The message families and their meaning are listed under
        "Message families" below.

    Why it points to this cause:
        The framework checked the label or index itself and named it; no
        inference from curves can be stronger.

    Evidence it reports:
        The log line, its number, the values it names (label, classes), the
        step where it can be told, and the traceback's last frames.

    Fix to suggest:
        The fix for the named fault, with its numbers (the label and the output
        width).
    """
    return _framework_findings(tl, "data_or_labels")


@rule(
    "LOG002",
    "out-of-memory-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but on an out-of-memory error, not a divergence.",
)
def out_of_memory(tl: Timeline) -> list[Finding]:
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
    return _not_a_divergence(
        tl,
        "oom",
        OOM_WEIGHT,
        lambda e: "the job ran out of memory",
        "Lower the batch size, or use gradient checkpointing / mixed precision to fit in memory.",
    )


def _not_a_divergence(
    tl: Timeline, kind: str, weight: float, what: Callable[[LogEvent], str], fix: str
) -> list[Finding]:
    """The first message of ``kind`` in a run that did not diverge, as the finding that the job stopped on it
    and not of a divergence (``what`` says what happened, in the words of the message's family)."""
    if tl.diverged:
        return []
    for path, e in tl.log_events:
        if e.kind == kind:
            text = f"{path} line {e.line}: {what(e)} ({e.message[:120]}); this is not a divergence."
            return [Finding(None, text, weight=weight, step=e.step, source=path, fix=fix)]
    return []


@rule(
    "LOG003",
    "framework-names-a-numerical-fault",
    "numerical_instability",
    ("log_of_zero", "division_by_zero", "fp16_overflow"),
    needs=("job_log",),
    decisive=True,
)
def framework_numerical_fault(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A message in the job log that the framework prints when an operation
        produced a non-finite value: anomaly mode's "Function 'LogBackward0'
        returned nan values" (log of zero) or 'DivBackward0' (division by
        zero), check_numerics naming a log or division op, DeepSpeed/AMP's
        "loss scale already at minimum" (fp16 overflow). The message families
        and their meaning are listed under "Message families" below.

    Why it points to this cause:
        The framework watched the operations and named the one that overflowed
        or hit a singularity; the inputs and the step size did not have to be
        wrong for it to happen.

    Evidence it reports:
        The log line, its number, the op it names, the step where it can be
        told, and the traceback's last frames.

    Fix to suggest:
        The fix for the named operation: compute the loss from logits or add an
        epsilon inside the log or the denominator; keep fp16 losses in float32.
    """
    return _framework_findings(tl, "numerical_instability")


# A collective that timed out or an NCCL error speaks for "not a divergence" as weakly
# as out of memory does: the curve says more.
DISTRIBUTED_FAILURE_WEIGHT = OOM_WEIGHT


@rule(
    "LOG004",
    "distributed-failure-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but on a distributed failure (NCCL error or collective timeout), not a divergence.",
)
def distributed_failure(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        An NCCL error or a collective operation that timed out in the job log
        ("Watchdog caught collective operation timeout", "NCCL error",
        DistBackendError, torchrun's ChildFailedError) in a run whose loss never
        went non-finite.

    Why it points to this cause:
        The job died, but not of divergence: a rank crashed, hung or lost the
        network, and the others gave up waiting. Reporting it as a NaN
        post-mortem would send the engineer the wrong way.

    Evidence it reports:
        The log line and step, and the collective that timed out when named.

    Fix to suggest:
        Find the rank that died or hung first (its own log), check the network
        and NCCL settings; raise the collective timeout only once that is known.
    """
    return _not_a_divergence(
        tl,
        "distributed_failure",
        DISTRIBUTED_FAILURE_WEIGHT,
        lambda e: "a distributed collective failed",
        "Find the rank that died or hung first (its own log; NCCL_DEBUG=INFO), check the interconnect; "
        "raise the collective timeout only once that is known.",
    )


# A data-loading worker that died speaks for "not a divergence" as weakly as out of memory
# does (it is most often the host's OOM killer): the curve says more.
WORKER_DIED_WEIGHT = OOM_WEIGHT


@rule(
    "LOG006",
    "dataloader-worker-death-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but because a data-loading worker process died, not of a divergence.",
)
def worker_died(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A PyTorch DataLoader worker process that died, in the job log
        ("DataLoader worker (pid N) is killed by signal: Killed.", "... exited
        unexpectedly", the worker's own "Unexpected bus error encountered in
        worker"), in a run whose loss never went non-finite, and that no time
        limit or signal stopped (a worker killed by SIGTERM, SIGINT or SIGHUP
        was stopped from outside with the job: that is the job killed).

    Why it points to this cause:
        The job died, but not of divergence: a process feeding it batches was
        killed (SIGKILL is what the kernel's OOM killer sends when the host runs
        out of memory; a bus error, a full /dev/shm) or crashed in the data code.
        The training numbers had nothing to do with it.

    Evidence it reports:
        The log line and step, and the signal when the message names it.

    Fix to suggest:
        For "Killed": lower host memory use (fewer workers, smaller
        prefetch_factor, no dataset held in every worker); for a bus error: raise
        the shared-memory limit (docker --shm-size) or use fewer workers; for
        anything else rerun with num_workers=0 to see the worker's own traceback.
    """
    if any(e.kind == "job_killed" for _, e in tl.log_events):
        return []  # a time limit or a signal stopped the job, and its workers with it: no worker failed it
    return _not_a_divergence(
        tl,
        "worker_died",
        WORKER_DIED_WEIGHT,
        lambda e: "a DataLoader worker process died" + (f" ({e.values['signal']})" if e.values.get("signal") else ""),
        "If it was killed (SIGKILL: the host's OOM killer), use fewer workers or a smaller prefetch_factor; for a "
        "bus error raise the shared-memory limit (docker --shm-size); otherwise rerun with num_workers=0 to see the "
        "worker's own traceback.",
    )


# A write that failed speaks for "not a divergence" as weakly as out of memory does: the curve says more.
WRITE_FAILED_WEIGHT = OOM_WEIGHT

_WRITE_FAILURE_WORDS = {
    "disk_full": "the disk was full",
    "quota": "the disk quota was full",
    "short_write": "a file write came back short (a full disk as a rule)",
    "shared_memory": "shared memory (/dev/shm) was full",
    "open": "a file could not be opened for writing",
}


@rule(
    "LOG007",
    "failed-write-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but because it could not write a file (a full disk as a rule), not of a "
    "divergence.",
)
def write_failed(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A file the job could not write, in the job log: the OS's "No space
        left on device" (Python's OSError [Errno 28], TensorFlow's file
        system error, which it raises as ResourceExhaustedError), a disk quota
        exceeded, torch.save's writer stopped short ("PytorchStreamWriter
        failed writing file ...: file write failed", "unexpected pos N vs M")
        or unable to open its file ("File ... cannot be opened."), NumPy's
        "N requested and M written", PyTorch's shared memory for a DataLoader
        batch full, in a run whose loss never went non-finite.

    Why it points to this cause:
        The job died, but not of divergence: a checkpoint (or a log, or a
        batch in shared memory) found no room. The training numbers had
        nothing to do with it; the last checkpoint written whole is good.

    Evidence it reports:
        The log line and step, and what failed when the message says.

    Fix to suggest:
        Free space or save elsewhere; keep fewer checkpoints
        (save_total_limit), and check the output directory exists.
    """
    return _not_a_divergence(
        tl,
        "write_failed",
        WRITE_FAILED_WEIGHT,
        lambda e: _WRITE_FAILURE_WORDS.get(e.values.get("what") or "", "a file write failed"),
        "Free space on the output disk or save elsewhere, keep fewer checkpoints (save_total_limit, "
        "max_to_keep); for shared memory raise /dev/shm (docker --shm-size); if the file could not be opened, check "
        "that its directory exists and is writable. The last checkpoint written whole is a good one to resume from.",
    )


# A CUDA fault speaks for "not a divergence" as weakly as out of memory does: the curve says more.
CUDA_FAULT_WEIGHT = OOM_WEIGHT
# Messages that name the data in a CUDA kernel: with one of them in the log, a fault after it is
# that bad index's doing, and the message (LOG001) speaks, not the fault.
_INDEX_FAULTS = frozenset({"cuda_device_assert", "label_out_of_range", "index_out_of_range"})


@rule(
    "LOG008",
    "cuda-fault-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but on a CUDA fault (an illegal memory access or its kin), not a divergence.",
)
def cuda_fault(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A CUDA kernel that faulted on the device, in the job log ("CUDA
        error: an illegal memory access was encountered", "misaligned
        address", "an illegal instruction was encountered", "unspecified
        launch failure"; Lua Torch's "cuda runtime error (77)", the driver's
        CUDA_ERROR_ILLEGAL_ADDRESS), in a run whose loss never went
        non-finite and whose log names no bad index or label.

    Why it points to this cause:
        A kernel read or wrote memory it does not own: a bug in a kernel
        (cuDNN, cuBLAS, a custom CUDA op), an index past a tensor in a kernel
        that does not check it, or the GPU or its driver. None of these is a
        training number going wrong. PyTorch's own indexing kernels check
        their indices and raise "device-side assert triggered" instead,
        which the catalogue reads as the data (LOG001); a NaN turned into an
        index can fault too, but then the loss went NaN first and the run
        diverged.

    Evidence it reports:
        The log line and step, and which fault.

    Fix to suggest:
        Rerun with CUDA_LAUNCH_BLOCKING=1 to see the kernel that faulted;
        update the driver, CUDA, cuDNN and the framework; try a smaller batch;
        check the indices fed to custom ops on the CPU.
    """
    if any(e.kind in _INDEX_FAULTS for _, e in tl.log_events):
        return []
    return _not_a_divergence(
        tl,
        "cuda_fault",
        CUDA_FAULT_WEIGHT,
        lambda e: "a CUDA kernel faulted" + (f" ({e.values['what']})" if e.values.get("what") else ""),
        "Rerun with CUDA_LAUNCH_BLOCKING=1 to name the kernel that faulted; update the driver, CUDA, cuDNN and the "
        "framework, try a smaller batch, and check the indices fed to custom CUDA ops on the CPU.",
    )


# An exception of the operating system or of the program's structure speaks for "not a divergence" as
# weakly as out of memory does: the curve says more.
OS_OR_CODE_ERROR_WEIGHT = OOM_WEIGHT
_OS_OR_CODE_WORDS = {
    "environment_error": "an error of the operating system (a file, a socket or a device refused an operation)",
    "code_error": "an error in the program's code (a name, an attribute, an import or an argument's type)",
}


@rule(
    "LOG009",
    "os-or-code-error-is-not-divergence",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="The job did stop, but on an error of its environment or its code, not a divergence.",
)
def os_or_code_error(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A job that died of an exception whose type the catalogue does not
        know by its message but whose type alone says what failed: the
        operating system's (OSError and its kin: FileNotFoundError,
        PermissionError, ConnectionError, BrokenPipeError, TimeoutError...)
        or the program's structure (ImportError, NameError, AttributeError,
        TypeError, SyntaxError...), in a run whose loss never went
        non-finite.

    Why it points to this cause:
        NaN and Inf are floats of the right type: a diverging run raises
        value errors (a NaN turned into an index, a probability that is not
        one), never an error of a file, a socket or a device, nor one of a
        name, an attribute or an argument's type. The job died, but not of
        its training numbers; calling it inconclusive would send the engineer
        looking for a divergence there is no sign of.

    Evidence it reports:
        The exception line and the step before it.

    Fix to suggest:
        For the operating system's: the path, its permissions and free
        space, the network; for the code's: the traceback's last frame. The
        last checkpoint before it is a good one to resume from.
    """
    if tl.diverged or not tl.died_with_exception:
        return []
    from forensics.ending import ending_of  # the ending reads the rules' message families: imported when run

    crash = ending_of(tl).crash
    if crash is None or crash.meaning not in _OS_OR_CODE_WORDS:
        return []
    return [
        Finding(
            None,
            f"{crash.source}: the job died of {crash.exception[:160]}, {_OS_OR_CODE_WORDS[crash.meaning]}; "
            "this is not a divergence.",
            weight=OS_OR_CODE_ERROR_WEIGHT,
            step=crash.step,
            source=crash.source,
            fix="For an error of the operating system check the path, its permissions, the free space and the "
            "network; for one of the code, its traceback's last frame. Resume from the last checkpoint before it.",
        )
    ]


# Skipped steps of a dynamic loss scaler are how fp16 training works: they speak for a
# healthy run as weakly as recovered spikes do.
SCALER_SKIPS_WEIGHT = 0.2


@rule(
    "LOG005",
    "skipped-steps-are-normal",
    "healthy",
    (),
    needs=("job_log",),
    healthy_note="A loss scaler or the trainer's own guard skipped a few steps and went on: not a divergence.",
    explains_stop=False,
)
def loss_scaler_skips(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Steps thrown away in a run that did not diverge and whose loss scale
        never hit its floor: the dynamic loss scaler's own "skipping step"
        messages (DeepSpeed's "OVERFLOW! ... Skipping step", apex's "Gradient
        overflow. Skipping step", fairseq's "gradient overflow detected,
        ignoring gradient"), a trainer's own guard that skips a step on a NaN
        loss or gradient (ESPnet's "grad norm is nan. Do not update model.",
        neuralhydrology's "Loss is Nan; ignoring step.", deepspeech.pytorch's
        "received a nan loss, setting loss value to 0"), or, with neither
        message, a logged grad norm that went non-finite and came back finite
        (what a GradScaler's skipped step logs), or PyTorch's clip_grad_norm_
        warning of a non-finite norm ("Non-finite norm encountered in
        torch.nn.utils.clip_grad_norm_; continuing anyway") with a finite loss
        logged after it, or a CTC warning of an unalignable sample
        (TensorFlow's "No valid path found.", ESPnet2's "N/M samples got nan
        grad. These were ignored for CTC loss.") with a finite loss logged
        after it (one sample got an infinite loss, the run went on).

    Why it points to this cause:
        A scaler skips the update of a step whose fp16 gradients overflowed and
        lowers the scale; a guard drops the step whose loss or gradient is NaN.
        Either way the weights stay finite and training goes on: a NaN grad
        norm on such a step is the fault being caught, not a divergence, and a
        divergence would leave every later grad norm non-finite. clip_grad_norm_
        met a non-finite norm and scaled the gradients by it: under a GradScaler
        (which unscales before clipping) the step is then skipped; without one
        the update is NaN and so is the next loss, so a finite loss after the
        warning is the skip.

    Evidence it reports:
        How many skips the log shows (or how many non-finite grad norms), the
        last loss scale, and the step of the first.

    Fix to suggest:
        None needed; if skips come in long runs, use bfloat16 or a lower LR; if
        a guard keeps dropping steps, find the batches it drops.
    """
    if tl.diverged or any(e.kind == "loss_scale_minimum" for _, e in tl.log_events):
        return []
    out = []
    skips = [(path, e) for path, e in tl.log_events if e.kind == "loss_scale_overflow_transient"]
    if skips:
        path, first = skips[0]
        count = sum(int(e.values.get("count", 1)) for _, e in skips)
        scale = first.values.get("last_loss_scale", first.values.get("loss_scale"))
        at = f", loss scale now {scale:g}" if isinstance(scale, float) else ""
        out.append(
            Finding(
                None,
                f"{path} line {first.line}: the loss scaler skipped {count} step(s) on fp16 overflow{at}; "
                "the run went on.",
                step=first.step,
                source=path,
                weight=SCALER_SKIPS_WEIGHT,
                fix="Nothing to fix; if the skips come in long runs, train in bfloat16 or lower the LR.",
            )
        )
    guarded = [(path, e) for path, e in tl.log_events if e.kind == "nonfinite_step_skipped"]
    if guarded:
        path, first = guarded[0]
        count = sum(int(e.values.get("count", 1)) for _, e in guarded)
        out.append(
            Finding(
                None,
                f"{path} line {first.line}: the trainer's own guard threw away {count} step(s) whose loss or "
                f"gradient was NaN or out of range ({first.message.strip()[-100:]}); the run went on.",
                step=first.step,
                source=path,
                weight=SCALER_SKIPS_WEIGHT,
                fix="Nothing to fix if they are rare; if the guard keeps dropping steps, find the batches it drops "
                "(their lengths and labels).",
            )
        )
    out += _clip_warning_outlived(tl)
    out += _ctc_warning_outlived(tl)
    gn = tl.grad_norm
    if not out and gn is not None and len(gn):
        bad = ~np.isfinite(gn.values)
        if bad.any() and np.isfinite(gn.values[int(np.argmax(bad)) :]).any():
            at = int(gn.steps[int(np.argmax(bad))])
            out.append(
                Finding(
                    None,
                    f"{gn.source}: the grad norm was non-finite at {int(bad.sum())} of {len(gn)} logged point(s) "
                    f"from {gn.unit} {at} on, each time followed by finite ones: steps a loss scaler skipped; the run "
                    "went on.",
                    step=at,
                    source=gn.source,
                    weight=SCALER_SKIPS_WEIGHT,
                    fix="Nothing to fix; if the skips come in long runs, train in bfloat16 or lower the LR.",
                )
            )
    return out


def _ctc_warning_outlived(tl: Timeline) -> list[Finding]:
    """A CTC warning of an unalignable sample (TensorFlow's 'No valid path found.', ESPnet2's 'samples got nan
    grad') with a finite training loss logged after it: a sample it could not align got an infinite loss in one
    batch, and training went on."""
    warned = [(path, e) for path, e in tl.log_events if e.kind == "ctc_no_valid_path"]
    if not warned:
        return []
    path, first = warned[0]
    if _ctc_weight(tl, first.step) is not None:
        return []
    count = sum(int(e.values.get("count", 1)) for _, e in warned)
    return [
        Finding(
            None,
            f"{path} line {first.line}: the CTC loss found no valid path for a sample ({count} warning(s)), "
            "and the loss logged after it stayed finite: an occasional sample whose label its frames cannot hold, "
            "not a divergence.",
            step=first.step,
            source=path,
            weight=SCALER_SKIPS_WEIGHT,
            fix="Nothing to fix if it is occasional; if it comes every step, find the samples whose label is longer "
            "than their output frames.",
        )
    ]


def _clip_warning_outlived(tl: Timeline) -> list[Finding]:
    """clip_grad_norm_'s warning of a non-finite norm, with a finite training loss logged after it."""
    warned = [(path, e) for path, e in tl.log_events if e.kind == "nonfinite_grad_norm"]
    loss = tl.loss
    if not warned or loss is None or not len(loss):
        return []
    path, first = warned[0]
    if first.step is None:
        return []
    later = np.isfinite(loss.values) & (loss.steps > first.step)
    if not later.any():
        return []  # nothing logged after it: a weak sign alone, no vote either way
    count = sum(int(e.values.get("count", 1)) for _, e in warned)
    return [
        Finding(
            None,
            f"{path} line {first.line}: clip_grad_norm_ met a non-finite gradient norm at {loss.unit} {first.step} "
            f"({count} warning(s); PyTorch prints it once per call site) and the loss logged after it stayed finite "
            f"({int(later.sum())} point(s) to {loss.unit} {int(loss.steps[later][-1])}): a step a GradScaler skipped, "
            "not a divergence.",
            step=first.step,
            source=path,
            weight=SCALER_SKIPS_WEIGHT,
            fix="Nothing to fix if it is rare; if it comes often, train in bfloat16 or lower the LR.",
        )
    ]
