"""How the job ended and what it crashed with: the report contract's ``ended`` and ``crash``.

``ended`` is one of ``finished``, ``crashed``, ``stopped`` (a NaN guard or early stopping
ended training), ``killed`` (a time limit or a signal) or ``unknown``, from what the
sources say of the job's last moments, strongest first:

1. the exception the job died with (a log's traceback, a native crash's own words (glibc's
   abort, the shell's 'Segmentation fault', C++'s terminate), an MLflow run closed FAILED, a
   W&B exit code other than 0): ``crashed``, or ``stopped`` when what raised was a NaN
   guard (``NanTensorHook``, detectron2's check): the guard did its job;
   a framework message that ends the process (out of memory, a collective timeout, a
   label the loss refuses, a full disk, a CUDA fault) counts the same when no traceback follows it;
2. a message that a time limit or a signal ended it: ``killed`` (MLflow's KILLED too);
3. a NaN guard or an early-stopping callback that ended training without raising
   (the Hugging Face Trainer's end-of-training summary before its planned max_steps):
   ``stopped``;
4. the trainer saying it completed, MLflow's FINISHED, W&B's exit code 0, the Hugging Face
   Trainer's end-of-training summary or a record reaching the planned steps (the Trainer's
   max_steps or the total its console prints, Keras's 'Epoch i/N' times an epoch's batches, a
   config's max_steps; within the record's logging interval): ``finished``;
5. otherwise ``unknown``: a log that simply stops (a job still running, or killed without a
   word) says nothing of how it ended; a record that stops before the planned steps says so.

``crash`` is ``None`` unless the job ended in an exception; then it quotes the exception,
the last step before it, the source, and its meaning: the contract detail the message
names (``labels_out_of_range``...), a known non-divergence (``out_of_memory``,
``nccl_timeout``, ``distributed_failure``, ``dataloader_worker_died``, ``disk_full`` (a full disk or quota:
the OS's ENOSPC, or a writer that wrote short), ``shared_memory_full``, ``write_failed`` (a file that could not
be opened for writing), ``cuda_fault`` (an illegal memory access and its kin)), ``nan_guard``, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forensics.records import LogEvent
from forensics.rules.messages import exception_family, meaning
from forensics.timeline import Timeline

ENDINGS = ("finished", "crashed", "stopped", "killed", "unknown")

# Families whose message is what the job died of when it died of an exception (the event
# carries the traceback then); a plain "exception" is the fallback.
_GUARDS = frozenset({"nan_loss", "nan_loss_terminated"})
_NON_DIVERGENCE = {"oom": "out_of_memory", "worker_died": "dataloader_worker_died", "cuda_fault": "cuda_fault"}
# what a failed write means: the disk (or /dev/shm, or the quota) was full, or the file could not be opened
_WRITE_FAILURES = {"disk_full": "disk_full", "short_write": "disk_full", "quota": "disk_full"}
# Messages that end the process whether or not the log kept a traceback after them (the
# watchdog aborts, the OOM killer kills, the loss raises on a bad label).
_FATAL = frozenset(
    {
        "label_out_of_range",
        "nonfinite_input",
        "ctc_invalid_label",
        "cuda_device_assert",
        "index_out_of_range",
        "untrained_tokens",
        "nonfinite_gradient",
        "nonfinite_tensor",
        "loss_scale_minimum",
        "oom",
        "distributed_failure",
        "worker_died",
        "write_failed",
        "cuda_fault",
    }
)


# Messages a job prints and goes on from (or that are the plain exception itself): never the
# framework message it died of.
_NOT_WHAT_IT_DIED_OF = frozenset(
    {
        "exception",
        "loss_scale_overflow_transient",
        "nonfinite_step_skipped",
        "job_finished",
        "early_stopping",
        "mixed_precision",
        "nonfinite_logged",
        "nonfinite_grad_norm",
        "nonfinite_values",
        "numpy_fp_warning",
        "ctc_no_valid_path",
    }
)


def _outlived(tl: Timeline) -> Callable[[str, LogEvent], bool]:
    """Whether an event is a fault the job went on from: a trainer's own word that it recovered
    from an out-of-memory batch (fairseq's 'attempting to recover from OOM', the 'ran out of
    memory, skipping batch' idiom), and, in a log that says so, the out-of-memory lines printed
    without a traceback (fairseq logs the exception it caught before it recovers)."""
    recovered = {p for p, e in tl.log_events if e.kind == "oom" and e.values.get("recovered")}
    return lambda p, e: bool(e.values.get("recovered")) or (e.kind == "oom" and p in recovered and not e.traceback)


@dataclass(frozen=True, slots=True)
class Crash:
    """The exception or fatal message a job died with, and where it was read."""

    exception: str  # the exception line as the log printed it
    step: int | None  # the last step before it, when a log showed one
    source: str  # the file that says so
    meaning: str | None  # a contract detail, a known non-divergence, "nan_guard", or None

    def to_dict(self) -> dict[str, object]:
        return {"exception": self.exception, "step": self.step, "source": self.source, "meaning": self.meaning}


@dataclass(frozen=True, slots=True)
class Ending:
    """How the job ended (one of ENDINGS), with the crash if it crashed."""

    ended: str  # one of ENDINGS
    crash: Crash | None
    how: str  # one line for the report: what says so


def _crash_meaning(e: LogEvent, kinds: set[str] | frozenset[str] = frozenset()) -> str | None:
    """What the event the job died of means; ``kinds``: the kinds of every event of the logs."""
    if e.kind == "worker_died" and "job_killed" in kinds:
        return None  # a time limit or a signal stopped the job, its workers with it: their death is no cause
    if e.kind in _GUARDS:
        return "nan_guard"
    if e.kind in _NON_DIVERGENCE:
        return _NON_DIVERGENCE[e.kind]
    if e.kind == "write_failed":
        what = e.values.get("what")
        return "shared_memory_full" if what == "shared_memory" else _WRITE_FAILURES.get(what or "", "write_failed")
    if e.kind == "distributed_failure":
        return "nccl_timeout" if e.values.get("what") == "timeout" else "distributed_failure"
    m = meaning(e)
    if m is not None:
        return m.detail or m.cause
    return exception_family(e)


# Kernel-side checks that stop a CUDA job by a failed device assertion (PyTorch's index and label asserts, Paddle's
# FLAGS_check_nan_inf): the assertion leaves the CUDA context unusable, so every CUDA call after it fails too
# ("unspecified launch failure", "an illegal memory access"); the first of them is what the job died of.
_DEVICE_ASSERTS = frozenset(
    {"cuda_device_assert", "label_out_of_range", "index_out_of_range", "nonfinite_tensor", "nonfinite_input"}
)
# How far after such an assertion a CUDA fault is its echo: the assert's own report, a traceback and the fault's
# C++ frames fit well within it, another batch's lines would not. Where neither names a step (a log with no step
# counter) a traceback's length is the window: no step trained between them can be told apart there.
DEVICE_ASSERT_ECHO_LINES = 60
DEVICE_ASSERT_ECHO_LINES_UNPLACED = 30


def _assert_behind(tl: Timeline, found: tuple[str, LogEvent]) -> tuple[str, LogEvent]:
    """A CUDA fault that follows a device assertion of the same log, with no step trained between them (both after
    the same last step), is that assertion's echo: the assertion."""
    path, fault = found
    if fault.kind != "cuda_fault":
        return found
    for p, e in reversed(tl.log_events):
        if p != path or e.kind not in _DEVICE_ASSERTS or e.step != fault.step:
            continue
        window = DEVICE_ASSERT_ECHO_LINES if fault.step is not None else DEVICE_ASSERT_ECHO_LINES_UNPLACED
        if fault.line - window <= e.line <= fault.line:
            return p, e
    return found


def _fatal_event(tl: Timeline) -> tuple[str, LogEvent] | None:
    """The event the job died of: the last fatal framework message of the logs, else the last exception."""
    outlived = _outlived(tl)
    fatal = [(p, e) for p, e in tl.log_events if e.kind not in _NOT_WHAT_IT_DIED_OF and not outlived(p, e)]
    if fatal and (fatal[-1][1].traceback or fatal[-1][1].kind == "native_crash"):
        return _assert_behind(tl, fatal[-1])  # a native crash is the job's death in its own words, as a traceback is
    exceptions = [(p, e) for p, e in tl.log_events if e.kind == "exception"]
    if exceptions:
        return exceptions[-1]
    return fatal[-1] if fatal else None


def _exception_line(e: LogEvent) -> str:
    return e.traceback[-1] if e.traceback else e.message


def ending_of(tl: Timeline) -> Ending:
    kinds = {e.kind for _, e in tl.log_events}
    stores = tl.store_endings
    if tl.died_with_exception:
        found = _fatal_event(tl)
        if found is not None:
            path, e = found
            crash = Crash(_exception_line(e), tl.died_after_step, path, _crash_meaning(e, kinds))
        else:  # a store said so (MLflow FAILED, a W&B exit code) without a console to quote
            path, status, code = next(((p, s, c) for p, s, c in stores), ("", "", None))
            text = f"exit code {code}" if code is not None else f"run closed {status}"
            crash = Crash(text, tl.died_after_step, path, None)
        if crash.meaning == "nan_guard":
            return Ending("stopped", crash, f"a NaN guard raised ({crash.source})")
        if found is not None and found[1].kind == "native_crash":
            where = f"{crash.source} line {found[1].line}"
            return Ending("crashed", crash, f"the process died of a native crash ({where})")
        return Ending("crashed", crash, f"the job died on an exception ({crash.source})")
    outlived = _outlived(tl)
    # a floor the log reader inferred from the scale (values 'inferred') is no message the job died of: a scaler
    # at its floor skips step after step and may go on doing so (DeepSpeed's and apex's, GradScaler)
    fatal = [
        (p, e)
        for p, e in tl.log_events
        if e.kind in _FATAL and not outlived(p, e) and not (e.kind == "loss_scale_minimum" and e.values.get("inferred"))
    ]
    if fatal:
        path, e = _assert_behind(tl, fatal[-1])
        crash = Crash(_exception_line(e), tl.died_after_step, path, _crash_meaning(e, kinds))
        return Ending("crashed", crash, f"{e.message} ({path} line {e.line})")
    for path, e in tl.log_events:
        if e.kind == "job_killed":
            return Ending("killed", None, f"{e.message} ({path} line {e.line})")
    for path, status, code in stores:
        if status == "KILLED":
            return Ending("killed", None, f"the MLflow run was closed KILLED ({path})")
        if code is not None and code != 0:
            text = f"the W&B run exited with code {code} ({path})"
            return Ending("crashed", Crash(f"exit code {code}", tl.died_after_step, path, None), text)
    if kinds & _GUARDS:
        path, e = next((p, e) for p, e in tl.log_events if e.kind in _GUARDS)
        return Ending("stopped", None, f"a NaN guard stopped training ({path} line {e.line})")
    if "early_stopping" in kinds:
        path, e = next((p, e) for p, e in tl.log_events if e.kind == "early_stopping")
        return Ending("stopped", None, f"early stopping ended training ({path} line {e.line})")
    if "job_finished" in kinds:
        path, e = next((p, e) for p, e in tl.log_events if e.kind == "job_finished")
        return Ending("finished", None, f"the trainer said it completed ({path} line {e.line})")
    for path, status, code in stores:
        if status == "FINISHED" or code == 0:
            return Ending("finished", None, f"the store recorded the run as finished ({path})")
    end = tl.record_end
    if end is not None and end.summary and end.cut_short:
        # train() returned before max_steps: a callback set should_training_stop (early stopping)
        return Ending(
            "stopped",
            None,
            f"the trainer logged its end-of-training summary at step {end.last_step} of the {end.planned} planned: "
            f"a callback ended training early ({end.origin})",
        )
    if end is not None and end.reached:
        what = "logged its end-of-training summary" if end.summary else f"reached its planned {end.planned} steps"
        return Ending("finished", None, f"the trainer {what} ({end.origin})")
    if end is not None:
        return Ending(
            "unknown", None, f"the record stops at step {end.last_step} of the {end.planned} planned ({end.origin})"
        )
    return Ending("unknown", None, "no source says how the job ended")
