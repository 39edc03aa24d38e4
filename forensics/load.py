"""Read every artifact of a run, each in isolation.

A reader either returns its record (with the source status ``ok`` or
``partial``) or raises :class:`UnreadableSource`; any other exception is a
bug in a reader, and is still contained here so that one bad file never
stops the analysis of the others (``debug=True`` re-raises it).

Loading produces everything the judges need: the records of every file found,
the ``--data`` samples named on the command line (read by the same readers, with
the same error handling), and :attr:`RunData.measure_update`, with which the
timeline measures ||dW|| between checkpoints without reading files itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.discover import Found, Inventory, discover, step_from_path
from forensics.errors import UnreadableSource, UsageError
from forensics.progress import reporting
from forensics.readers import READERS, Reader, Skip, isolation, worker
from forensics.records import (
    Checkpoint,
    ConfigData,
    DataSample,
    EventFileData,
    Kind,
    LogData,
    Source,
    Status,
    TrainerState,
    hf_steps_per_epoch,
    with_steps_from_epochs,
)

ProgressFn = Callable[[str, int, int], None]  # (current file, done bytes, total bytes)
# layer -> (||W_b - W_a||, ||W_a||) between two checkpoints; raises UnreadableSource
UpdateMeter = Callable[[Checkpoint, Checkpoint], dict[str, tuple[float, float]]]

# Wall time one reader gets, whatever it reads: a base plus time for its bytes at a rate
# far below real reads (the same budget the isolated H5 children get). Past it, the
# file is listed as not finished and the rest of the run is analysed.
READER_BASE_SECONDS = isolation.BASE_SECONDS


# Files handed to libhdf5 (what a crash of the worker reading them is blamed on).
HDF5_SUFFIXES = (".h5", ".hdf5", ".keras")

# Sharing a run's files between worker children (``workers=2``): what reading a file costs, in
# milliseconds of CPU, from the readers' times on the sample runs (docs/performance.md; the
# ratios matter, not the scale): (importing its reader in a child, the first time; each file;
# each MB). A reader's import is paid once per child, so a kind's files stay together unless
# splitting them ends the reading sooner. The numbers only decide who reads what: a wrong guess
# costs time, never a result.
READ_COST_MS: dict[Kind, tuple[float, float, float]] = {
    Kind.KERAS_H5: (30.0, 12.0, 1.0),  # h5py; each file walks its groups (h5py's per-object cost)
    Kind.KERAS_ARCHIVE: (30.0, 12.0, 1.0),
    Kind.PICKLE: (12.0, 3.0, 2.0),  # the torch.save reader; small files are pickle opcodes
    Kind.TRAINING_ARGS: (12.0, 3.0, 2.0),
    Kind.SAFETENSORS: (12.0, 2.0, 1.0),
    Kind.SAFETENSORS_INDEX: (12.0, 2.0, 1.0),
    Kind.EVENTS: (18.0, 3.0, 10.0),  # the TensorBoard protos; records parsed one by one
    Kind.JOB_LOG: (18.0, 2.0, 500.0),  # the log reader's patterns; every line matched
    Kind.TF_CHECKPOINT: (15.0, 5.0, 1.0),
    Kind.DATA_SAMPLE: (5.0, 3.0, 2.0),
}
READ_COST_OTHER_MS = (2.0, 1.0, 10.0)  # configs, trainer states, metrics files, stores
# What the parent does on the same cores while the workers read (it imports the analysis).
PARENT_WHILE_READING_MS = 40.0


def reader_deadline(nbytes: int) -> float:
    """Seconds a reader of ``nbytes`` may take (see ``READER_BASE_SECONDS``)."""
    return READER_BASE_SECONDS + nbytes / isolation.BYTES_PER_SECOND


@dataclass
class RunData:
    """Everything read from one run directory, before any interpretation."""

    root: Path
    given: str  # the path as the user gave it
    sources: list[Source] = field(default_factory=list)
    events: list[EventFileData] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    logs: list[LogData] = field(default_factory=list)
    trainer_states: list[TrainerState] = field(default_factory=list)
    configs: list[ConfigData] = field(default_factory=list)
    data_samples: list[DataSample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored_files: int = 0
    # measures the update between two of these checkpoints by reading them again
    measure_update: UpdateMeter | None = None
    # the worker child that read the files and measures the updates (see readers/worker.py)
    worker: worker.Worker | None = field(default=None, repr=False, compare=False)
    # every worker child that read some of the files (``worker`` first)
    workers: tuple[worker.Worker, ...] = field(default=(), repr=False, compare=False)

    def close(self) -> None:
        """Done with the worker children: a worker of its own ends (it also ends when this
        object is dropped, or the process exits); this thread's kept workers stay."""
        for w in self.workers or ((self.worker,) if self.worker is not None else ()):
            if not w.shared:
                w.close()

    @property
    def readable(self) -> bool:
        return any(s.status in (Status.OK, Status.PARTIAL) for s in self.sources)


# Where the further records of a reader that returns several (a metrics store) go.
_INTO_BY_TYPE: dict[type, str] = {
    LogData: "logs",
    ConfigData: "configs",
    Checkpoint: "checkpoints",
    TrainerState: "trainer_states",
    EventFileData: "events",
    DataSample: "data_samples",
}


def _source(found: Found) -> Source:
    return Source(path=found.rel, kind=found.kind, size=found.size, group=found.group)


def _with_step(ckpt: Checkpoint) -> Checkpoint:
    """Give a checkpoint its global step: a step in its name or folder wins, then the
    step stored inside it, then a save counter or epoch from its name."""
    step, origin, epoch = step_from_path(ckpt.source.path)
    if origin in ("name", "folder"):
        return dataclasses.replace(ckpt, step=step, step_origin=origin, epoch=ckpt.epoch or epoch)
    if ckpt.step is not None:
        return dataclasses.replace(ckpt, step_origin=ckpt.step_origin or "internal", epoch=ckpt.epoch or epoch)
    if origin == "index":
        return dataclasses.replace(ckpt, step=step, step_origin="index", epoch=epoch)
    if epoch is not None:
        return dataclasses.replace(ckpt, step=None, step_origin="epoch", epoch=epoch)
    return ckpt


def _read_one(found: Found, root: Path) -> Any:
    """Read one file with the reader its kind names in the reader table. Returns a record,
    a Source for a skipped kind, or None for a shard (read through its index).

    An .h5 that discovery left unjudged is looked at first (Keras weights or a data sample?),
    here in the worker, which reads it next."""
    if not found.judged:
        from forensics.discover import _peek_h5

        holds = _peek_h5(found.path)  # None (cannot tell): its checkpoint reader says why
        found = dataclasses.replace(found, kind=Kind.DATA_SAMPLE if holds is False else found.kind, judged=True)
        if found.kind is Kind.DATA_SAMPLE:
            try:
                return _read_one(found, root)
            except UnreadableSource as e:  # listed as the data sample it is, not as weights
                return dataclasses.replace(_source(found), status=Status.UNREADABLE, note=_one_line(str(e)))
    src = _source(found)
    entry = READERS.get(found.kind)
    if entry is None:
        raise AssertionError(f"no reader for {found.kind}")
    if isinstance(entry, Skip):
        return dataclasses.replace(src, status=Status.SKIPPED, note=entry.note)
    if found.kind in (Kind.SAFETENSORS, Kind.TF_CHECKPOINT) and found.group:
        return None  # a shard: read through its index
    record = entry.read(found.path, src, root)
    # a reader may return a Source instead (a torch file that holds no checkpoint: RNG state)
    return _with_step(record) if isinstance(record, Checkpoint) else record


def _measure(a: Checkpoint, b: Checkpoint, root: Path) -> dict[str, tuple[float, float]]:
    """||dW|| and ||W|| per layer from ``a`` to ``b`` (in the worker)."""
    from forensics.readers.delta import checkpoint_deltas

    deltas = checkpoint_deltas(a, b, root)
    return {k: (d.delta_l2, d.base_l2) for k, d in deltas.items() if d.elements > 0}


def update_meter(
    root: Path,
    *,
    debug: bool = False,
    work: worker.Worker | None = None,
    reader_of: dict[str, worker.Worker] | None = None,
) -> UpdateMeter:
    """Measure ||dW|| between two checkpoints of the run under ``root``, in ``work`` when given
    (or, when ``reader_of`` names it, in the worker that read the first checkpoint: it kept
    where the file's weights are); a reader bug is reported like an unreadable file
    (``debug=True`` re-raises it)."""

    def measure(a: Checkpoint, b: Checkpoint) -> dict[str, tuple[float, float]]:
        if work is not None and not debug:
            here = (reader_of or {}).get(a.source.path, work)
            timeout = isolation.deadline_for(a.source.size + b.source.size)
            answer = here.call("forensics.load:_measure", a, b, root.absolute(), timeout=timeout)
            if answer.failure is not None:
                prefix = "internal error: " if answer.bug else ""
                raise UnreadableSource(_one_line(prefix + answer.failure))
            return {str(k): (float(v[0]), float(v[1])) for k, v in answer.value.items()}
        try:
            return _measure(a, b, root)
        except UnreadableSource:
            raise
        except Exception as e:  # a reader bug must not stop the analysis
            if debug:
                raise
            raise UnreadableSource(f"internal error: {type(e).__name__}: {e}") from e

    return measure


def _data_files(data: Sequence[str | os.PathLike[str]]) -> list[Found]:
    """The ``--data`` samples, as files to read like any found in the run."""
    out = []
    for extra in data:
        p = Path(extra)
        if not p.is_file():
            raise UsageError(f"--data {extra}: no such file")
        # named by the user: a symlink is followed (the readers open with O_NOFOLLOW)
        out.append(Found(path=p.resolve(), rel=str(extra), kind=Kind.DATA_SAMPLE, size=p.stat().st_size))
    return out


def load_inventory(
    inv: Inventory,
    given: str,
    *,
    data: Sequence[str | os.PathLike[str]] = (),
    progress: ProgressFn | None = None,
    debug: bool = False,
    work: worker.Worker | None = None,
    meanwhile: Callable[[], None] | None = None,
    workers: int = 1,
) -> RunData:
    """Read every file of ``inv``, then the extra ``data`` samples (inside or outside the run).

    Each file is read in the worker child ``work`` (a new one when not given; none with
    ``debug=True``, which re-raises a reader's bug with its traceback, in this process
    under a ``SIGALRM`` budget). With ``workers=2`` the files are shared with a second
    worker child (:func:`share_files`) when that shortens the reading: two cores read at
    once. ``meanwhile`` is called once the workers have their first files to read: what
    the caller can do in parallel (import the analysis)."""
    if work is None and not debug:
        work = worker.shared()
    files = [*inv.files, *_data_files(data)]
    lanes = share_files(files, workers if work is not None and isolation.ISOLATE else 1)
    works = [work] if work is not None else []
    for lane in range(1, max(lanes, default=0) + 1):  # a further worker of the same kind
        works.append(worker.shared(lane) if work is not None and work.shared else worker.Worker())
    reader_of = {f.rel: works[lane] for f, lane in zip(files, lanes, strict=True)} if len(works) > 1 else None
    run = RunData(
        root=inv.root,
        given=given,
        problems=list(inv.problems),
        ignored_files=inv.ignored,
        measure_update=update_meter(inv.root, debug=debug, work=work, reader_of=reader_of),
        worker=work,
        workers=tuple(works),
    )
    total = sum(f.size for f in files) or 1
    # a sharded checkpoint's index reads its shards: its reader's time budget counts their bytes
    shard_bytes: dict[str, int] = {}
    for f in files:
        if f.group and f.kind in (Kind.SAFETENSORS, Kind.TF_CHECKPOINT):
            shard_bytes[f.group] = shard_bytes.get(f.group, 0) + f.size
    starts = []  # bytes before each file, for the progress line
    before_it = 0
    for f in files:
        starts.append(before_it)
        before_it += f.size
    listeners: list[Callable[[int], None] | None] = []
    befores: list[Callable[[], None] | None] = []
    for found, base in zip(files, starts, strict=True):
        if progress:

            def listener(n: int, rel: str = found.rel, base: int = base) -> None:
                progress(rel, base + min(n, total - base), total)  # type: ignore[misc]

            def before(rel: str = found.rel, base: int = base) -> None:
                progress(rel, base, total)  # type: ignore[misc]

            listeners.append(listener)
            befores.append(before)
        else:
            listeners.append(None)
            befores.append(None)
    if work is not None:
        from forensics.readers.safe_open import seen_under

        # what discovery saw (device, inode) goes to every worker child first: it opens the
        # files only if they are still those
        seen = seen_under(inv.root.absolute())
        for w in works:
            w.set_preamble(worker.Call("forensics.readers.safe_open:remember_ids", (seen,), timeout=60))
        calls = [
            _call_for(found, inv.root, lst, bef, found.size + shard_bytes.get(found.rel, 0))
            for found, lst, bef in zip(files, listeners, befores, strict=True)
        ]
        answers = _answers(works, calls, lanes, meanwhile)
        records = (_record_of(found, answer) for found, answer in zip(files, answers, strict=True))
    else:
        if meanwhile is not None:
            meanwhile()
        records = (
            _read_here(found, inv.root, lst, bef, debug, found.size + shard_bytes.get(found.rel, 0))
            for found, lst, bef in zip(files, listeners, befores, strict=True)
        )
    for found, record in zip(files, records, strict=True):
        if record is None:
            continue
        if isinstance(record, Source):  # skipped or unreadable: listed, nothing to keep
            run.sources.append(record)
            continue
        first, *others = record if isinstance(record, tuple) else (record,)
        # an unjudged .h5 comes back as what its reader found it to be
        entry = READERS[found.kind if found.judged else first.source.kind]
        assert isinstance(entry, Reader)
        run.sources.append(first.source)  # one source, whatever number of records it gave
        getattr(run, entry.into).append(first)
        for other in others:
            getattr(run, _INTO_BY_TYPE[type(other)]).append(other)
    if progress:
        progress("", total, total)
    # Hugging Face dict lines carry no step: once the trainer state tells the steps per
    # epoch, place them on global steps (records.with_steps_from_epochs)
    spe = hf_steps_per_epoch(run.trainer_states)
    if spe:
        run.logs = [with_steps_from_epochs(lg, spe) for lg in run.logs]
    return run


def _answers(
    works: list[worker.Worker], calls: list[worker.Call], lanes: list[int], meanwhile: Callable[[], None] | None
) -> Iterator[worker.Answer]:
    """The answers to ``calls`` in order, call ``i`` read by ``works[lanes[i]]``: every worker
    is given its first files before ``meanwhile`` runs and the parent waits for any."""
    streams = [w.stream([c for c, lane in zip(calls, lanes, strict=True) if lane == n]) for n, w in enumerate(works)]
    try:
        for s in streams:
            next(s)  # its first requests are queued
        if meanwhile is not None:
            meanwhile()
        for lane in lanes:
            answer = next(streams[lane])
            assert answer is not None
            yield answer
    except BaseException:  # an interrupt, or the caller gave up: no child keeps reading for nobody
        for w in works:
            w.kill()
        raise
    finally:
        for s in streams:
            s.close()


def share_files(files: Sequence[Found], workers: int) -> list[int]:
    """Which of ``workers`` worker children reads each file (0, 1, ...), from the costs in
    ``READ_COST_MS`` (a child that had no file of a kind pays its reader's import too): a
    reader's files go together to the child with the least work so far, then files move one
    at a time (the last of a kind in a child first: the earlier ones start sooner) while that
    ends the reading sooner. The end is bounded by the busiest child, and by all the work, the
    parent's included, shared by the cores. All 0 for one worker, or when a second would not
    end the reading sooner."""
    lanes = [0] * len(files)
    if workers < 2 or len(files) < 2:
        return lanes
    module = [_reader_module(f) for f in files]
    cost = [_read_cost(f)[1] + _read_cost(f)[2] * f.size / 1e6 for f in files]
    imports = {m: _read_cost(f)[0] for f, m in zip(files, module, strict=True)}
    held: list[dict[str, list[int]]] = [{} for _ in range(workers)]  # a child's files of each reader
    load = [0.0] * workers

    def end(load: list[float]) -> float:
        return max(max(load), (sum(load) + PARENT_WHILE_READING_MS) / workers)

    def after_move(m: str, a: int, b: int) -> list[float]:
        i = held[a][m][-1]
        out = list(load)
        out[a] -= cost[i] + (imports[m] if len(held[a][m]) == 1 else 0.0)
        out[b] += cost[i] + (0.0 if held[b].get(m) else imports[m])
        return out

    groups: dict[str, list[int]] = {}
    for i, m in enumerate(module):
        groups.setdefault(m, []).append(i)
    for m, members in sorted(groups.items(), key=lambda g: -(imports[g[0]] + sum(cost[i] for i in g[1]))):
        lane = min(range(workers), key=load.__getitem__)
        load[lane] += imports[m] + sum(cost[i] for i in members)
        held[lane][m] = list(members)
    alone = end([sum(imports.values()) + sum(cost)] + [0.0] * (workers - 1))
    while True:
        best: tuple[float, str, int, int] | None = None
        for a in range(workers):
            for m, there in held[a].items():
                if not there:
                    continue
                for b in range(workers):
                    if b != a:
                        t = end(after_move(m, a, b))
                        if t < end(load) - MIN_GAIN_MS and (best is None or t < best[0]):
                            best = (t, m, a, b)
        if best is None:
            break
        _, m, a, b = best
        load = after_move(m, a, b)
        held[b].setdefault(m, []).insert(0, held[a][m].pop())
    if end(load) >= alone - MIN_GAIN_MS:
        return lanes
    for lane, kinds in enumerate(held):
        for members in kinds.values():
            for i in members:
                lanes[i] = lane
    return lanes


# Sharing is kept only when it ends the reading sooner by more than this (a fork, a preamble).
MIN_GAIN_MS = 2.0


def _reader_module(found: Found) -> str:
    entry = READERS.get(found.kind)
    return entry.function.partition(":")[0] if isinstance(entry, Reader) else ""


def _read_cost(found: Found) -> tuple[float, float, float]:
    return READ_COST_MS.get(found.kind, READ_COST_OTHER_MS)


def _call_for(
    found: Found,
    root: Path,
    listener: Callable[[int], None] | None,
    before: Callable[[], None] | None,
    budget: int,
) -> worker.Call:
    """The worker's request for ``_read_one`` of a file, within the file's wall-time budget
    (past it the worker is killed and the file listed as not finished; the files after it
    go to a fresh worker)."""
    found = dataclasses.replace(found, path=found.path.absolute())  # the worker's directory is /
    return worker.Call(
        "forensics.load:_read_one",
        (found, root.absolute()),
        timeout=reader_deadline(budget),  # the file's bytes, and its shards' for an index
        progress=listener,
        crashes="the HDF5 library" if found.path.suffix.lower() in HDF5_SUFFIXES else "its reader",
        before=before,
    )


def _record_of(found: Found, answer: worker.Answer) -> Any:
    if answer.failure is None:
        return answer.value
    note = f"internal error: {answer.failure}" if answer.bug else answer.failure
    return dataclasses.replace(_source(_judged_here(found)), status=Status.UNREADABLE, note=_one_line(note))


def _judged_here(found: Found) -> Found:
    """An .h5 the worker crashed or ran out of time on before saying what it was: judged from
    its first bytes in this process (no libhdf5), so that a data sample is not listed as a
    broken checkpoint."""
    if found.judged:
        return found
    from forensics.discover import h5_look_by_bytes

    kind = Kind.DATA_SAMPLE if h5_look_by_bytes(found.path) is False else found.kind
    return dataclasses.replace(found, kind=kind, judged=True)


def _read_here(
    found: Found,
    root: Path,
    listener: Callable[[int], None] | None,
    before: Callable[[], None] | None,
    debug: bool,
    budget: int,
) -> Any:
    """``_read_one`` in this process, under a ``SIGALRM`` budget (``debug``: bugs re-raise)."""
    if before is not None:
        before()
    try:
        with (
            reporting(listener) if listener else contextlib.nullcontext(),
            isolation.wall_clock_limit(reader_deadline(budget)),
        ):
            return _read_one(found, root)
    except isolation.DeadlineExceeded as e:
        return dataclasses.replace(_source(found), status=Status.UNREADABLE, note=str(e))
    except UnreadableSource as e:
        return dataclasses.replace(_source(found), status=Status.UNREADABLE, note=_one_line(str(e)))
    except MemoryError:
        return dataclasses.replace(_source(found), status=Status.UNREADABLE, note="ran out of memory reading it")
    except Exception as e:  # a reader bug must not cost the other files
        if debug:
            raise
        return dataclasses.replace(
            _source(found), status=Status.UNREADABLE, note=_one_line(f"internal error: {type(e).__name__}: {e}")
        )


def load_run(
    path: str | os.PathLike[str],
    *,
    data: Sequence[str | os.PathLike[str]] = (),
    follow_links: bool = False,
    progress: ProgressFn | None = None,
    debug: bool = False,
    meanwhile: Callable[[], None] | None = None,
    workers: int = 1,
) -> RunData:
    """Discover and read every artifact under ``path``, and the extra ``data`` samples.

    The files are read in a worker child (``workers=2``: shared by two, when that reads the
    run sooner) that stays to measure checkpoint updates for the timeline:
    :meth:`RunData.close` ends it (so does dropping the RunData)."""
    work = None if debug else worker.shared()
    try:
        with worker.serving(work) if work is not None else contextlib.nullcontext():
            inv = discover(path, follow_links=follow_links)
        return load_inventory(
            inv, str(path), data=data, progress=progress, debug=debug, work=work, meanwhile=meanwhile, workers=workers
        )
    except BaseException:
        if work is not None:
            work.kill()
        raise


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
