"""Find and classify the artifacts in a run directory.

Only names and, for H5 files, the top-level structure (or the first bytes) are looked at here;
no file is parsed beyond that. Symlinks are not followed unless asked, and
never twice to the same directory (no loops).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from forensics.errors import UsageError
from forensics.readers.safe_open import open_binary, read_bytes, remember
from forensics.records import Kind
from forensics.util import natural_order

# A directory of 10,000 files is routine (sharded data, per-step dumps); past this
# many entries we stop walking and say so instead of spending minutes on `ls`.
MAX_FILES = 200_000

# The names toolkits give their console logs: Slurm's, *.log/out/err, stdout.txt and kin, train_log.txt and kin,
# OpenPCDet's log_train_<time>.txt, a launcher's log_rank<N>.txt, icefall's and k2's log/log-train-<time> (no
# extension). A bare log.txt or train.txt is judged by its content, as notes and lists of files go by those names too
# (darknet's and YOLO's train.txt and Pascal VOC's trainval.txt list images).
_LOG_NAMES = re.compile(
    r"(^slurm-.*\.out$)|(\.(log|out|err)$)|(^(stdout|stderr|output|console)[\w.-]*\.txt$)"
    r"|(^(train|training|trainer)[\w.-]*?[-_.](logs?|out|output|stdout|console)([-_.][\w.-]*)?\.txt$)"
    r"|(^log[_-](train|rank\d{1,6})([-_.][\w.-]*)?\.txt$)|(^log-train(-[\w-]*)?$)",
    re.IGNORECASE,
)
# A JSON file named a log (log.json, train_log.json, mmcv's <time>.log.json renamed): one JSON object per line, as
# the toolkits that name it so write it; read as metrics lines when its content says so (_add).
_JSON_LOG_NAMES = re.compile(r"(^|[._-])logs?([._-][\w.-]*)?\.json$", re.IGNORECASE)
_CONFIG_NAMES = re.compile(
    r"^(config|hparams|hyperparameters|params|args|training_args|train_config|cfg|.*[._-]config|.*[._-]hparams"
    r"|all_results|train_results)"
    r"\.(json|ya?ml)$",
    re.IGNORECASE,
)
_TF_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
_PICKLE_EXT = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".tar"}
_DATA_EXT = {".npz", ".npy", ".csv"}
_IGNORED_NAMES = {"manifest.json"}  # sample_runs/manifest.json and similar run catalogues
_SQLITE_EXT = (".db", ".sqlite", ".sqlite3")
# MLflow's SQLite store by its usual names (sqlite:///mlflow.db); any SQLite file holding
# MLflow's tables is read, these names also when the tables are still only in the -wal
MLFLOW_DB_NAME = re.compile(r"^(mlflow|mlruns)[\w.-]*\.(db|sqlite3?)$", re.IGNORECASE)
_SQLITE_SIDECARS = tuple(f"{ext}{side}" for ext in _SQLITE_EXT for side in ("-wal", "-shm", "-journal"))
_SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".hg", ".svn", "node_modules"}


@dataclass(frozen=True, slots=True)
class Found:
    """One file discovery kept: where it is, what kind it is, and its size."""

    path: Path  # absolute
    rel: str  # relative to the root, POSIX
    kind: Kind
    size: int
    group: str = ""  # event sub-run ("train"), or the index a shard belongs to
    # False for an .h5 whose look (Keras weights or a data sample?) is left to its reader: under
    # load_run the worker child that reads the file looks first (see :func:`_leave_h5_to_reader`)
    judged: bool = True


@dataclass
class Inventory:
    """Everything discovery found under a run's root, and what it left out."""

    root: Path
    files: list[Found] = field(default_factory=list)
    ignored: int = 0  # files of no known kind (images, code, ...)
    problems: list[str] = field(default_factory=list)  # one line each: permission denied, loops, caps
    sniffed: int = 0  # files of unknown name whose content was looked at

    def of_kind(self, *kinds: Kind) -> list[Found]:
        return [f for f in self.files if f.kind in kinds]


def classify(name: str) -> Kind | None:
    """The kind of a file from its name alone, or None for files we do not read."""
    lower = name.lower()
    if lower.startswith("events.out.tfevents"):
        return Kind.EVENTS
    if lower.endswith(".safetensors.index.json"):
        return Kind.SAFETENSORS_INDEX
    if lower.endswith(".safetensors"):
        return Kind.SAFETENSORS
    if lower.endswith(".keras"):
        return Kind.KERAS_ARCHIVE
    if lower.endswith((".h5", ".hdf5", ".he5")):
        return Kind.KERAS_H5  # may be re-classified as a data sample by its content
    if lower.endswith(".index") and not lower.endswith(".safetensors.index"):
        return Kind.TF_CHECKPOINT  # its .data-NNNNN-of-NNNNN shards belong to it
    if _TF_SHARD.search(lower):
        return Kind.TF_CHECKPOINT  # grouped under its .index by _group_shards, read through it
    if lower == "checkpoint":
        return Kind.TF_CHECKPOINT_STATE  # tf.train.CheckpointManager's and the v1 Saver's state file
    if lower in ("saved_model.pb", "saved_model.pbtxt"):
        return Kind.SAVED_MODEL
    if lower.endswith((".jsonl", ".log.json")) or lower in ("metrics.json", "scalars.json", "result.json"):
        # result.json: Ray Tune's per-trial results (RLlib's too), one JSON object per training iteration
        return Kind.METRICS_JSONL  # confirmed by its first line when added
    if lower.endswith(".wandb"):
        return Kind.WANDB_RUN  # W&B's binary run log: wandb/run-<date>-<id>/run-<id>.wandb
    if lower.endswith(_SQLITE_SIDECARS):
        return None  # an SQLite journal, WAL or WAL index: read with its database, never alone
    if lower == "trainer_state.json":
        return Kind.TRAINER_STATE
    if lower == "training_args.bin":
        return Kind.TRAINING_ARGS
    if lower in _IGNORED_NAMES:
        return None
    if _CONFIG_NAMES.match(name):
        return Kind.CONFIG
    if _LOG_NAMES.search(name):
        return Kind.JOB_LOG
    if _JSON_LOG_NAMES.search(name):
        return Kind.METRICS_JSONL  # confirmed by its first line when added
    ext = os.path.splitext(lower)[1]
    if ext in _DATA_EXT:
        return Kind.DATA_SAMPLE
    if ext in _PICKLE_EXT:
        return Kind.PICKLE
    return None


# libhdf5 can crash the process on a damaged file, so even this top-level look runs in
# a forked child (forensics.readers.isolation). A fork costs 2-3 ms against 0.2 ms for
# the look itself, so the H5 files of a directory are looked at together, this many
# per child: discovery walks one directory at a time, in name order.
H5_BATCH = 256
# The look reads a superblock and one group: milliseconds. A child silent this long
# on one file is stuck in a damaged B-tree and is killed; the file is left to the reader.
H5_PEEK_SECONDS = 10.0

# Looks already made for the files after the one asked about: path -> (stat stamp, answer).
# Only one batch is kept; a stamp that no longer matches the file is a miss.
_h5_looked: dict[str, tuple[tuple[int, int, int], bool | None]] = {}


def h5_holds_weights(path: Path) -> bool | None:
    """True if an H5 file looks like Keras weights, False if it looks like plain data.

    None when it cannot be opened, or when opening it crashed or hung libhdf5 (the
    checkpoint reader will then say why). Only the top-level names and attributes are
    read, in an isolated child that also looks at the H5 files after this one in its
    directory: discovery asks about those next, and gets the answers without a fork.
    """
    stamp = _stamp(path)
    key = str(path)
    cached = _h5_looked.pop(key, None)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    batch = [path, *_h5_after(path, H5_BATCH - 1)]
    stamps = [_stamp(p) for p in batch]  # before the look: a file rewritten since is a miss
    answers = h5_holds_weights_many(batch)
    _h5_looked.clear()
    for other, other_stamp, answer in zip(batch[1:], stamps[1:], answers[1:], strict=True):
        if other_stamp is not None:
            _h5_looked[str(other)] = (other_stamp, answer)
    return answers[0]


def h5_holds_weights_many(paths: list[Path]) -> list[bool | None]:
    """:func:`h5_holds_weights` for many files, in as few isolated children as crashes allow.

    A file that crashes or hangs the child gets None; a new child goes on after it.
    """
    from forensics.readers import isolation
    from forensics.readers.h5safe import import_h5py

    import_h5py()  # here, not in each child: the reader needs it next anyway (and never from PATH)

    answers: dict[int, bool | None] = {}
    start = 0
    while start < len(paths):
        todo = paths[start:]

        def work(emit: isolation.Emit, todo: list[Path] = todo) -> None:
            for p in todo:
                emit(_peek_h5(p))

        outcome = isolation.run_isolated(work, H5_PEEK_SECONDS * len(todo), stall_timeout=H5_PEEK_SECONDS)
        for i, answer in enumerate(outcome.messages):
            answers[start + i] = answer if isinstance(answer, bool) else None
        start += len(outcome.messages)
        if outcome.failure is not None:
            # the file the child died on, or was stuck in: judged from its first bytes here
            answers[start] = h5_look_by_bytes(paths[start])
            start += 1
    return [answers.get(i) for i in range(len(paths))]


def _leave_h5_to_reader() -> bool:
    """Is a run's worker child serving this discovery (``load_run``)? Then an .h5 is looked at
    by that child when it reads the file, not now: discovery does not wait for the child to
    import h5py (about 0.1 s), which it does while this process imports the analysis."""
    from forensics.readers import isolation, worker

    return worker.current() is not None and isolation.ISOLATE


def _peek_h5(path: Path) -> bool | None:
    """The top-level look itself, in this process: only for an isolated child (or the worker)."""
    try:
        from forensics.readers.h5safe import import_h5py
        from forensics.readers.safe_open import fd_path, open_fd

        h5py = import_h5py()
        fd = open_fd(path)
    except Exception:
        return None
    try:
        try:
            f = h5py.File(fd_path(fd, path), "r")
        except Exception:  # truncated or damaged: its first bytes may still tell
            return h5_look_by_bytes(path)
        with f:
            if (
                "model_weights" in f
                or "layer_names" in f.attrs
                or "layers" in f
                or "_layer_checkpoint_dependencies" in f
            ):
                return True
            if "model_config" in f.attrs or "keras_version" in f.attrs:
                return True
            # Keras 3 .weights.h5 may hold only "vars"/"optimizer" at the top in old saves
            return bool("vars" in f and "optimizer" in f)
    except Exception:  # broken file: let the reader report it
        return None
    finally:
        os.close(fd)


# When libhdf5 cannot open an .h5 (truncated, damaged) or crashes or hangs on it, the file is
# judged from its first bytes instead, without libhdf5. Keras writes its markers first: the root
# group's attributes (keras_version, backend, layer_names, model_config) and its first members'
# names (model_weights; Keras 3's layers / vars / optimizer) sit in the root object header and
# local heap, within the first 2 KiB of every Keras file we have met; this many bytes are read.
H5_SNIFF_BYTES = 64 * 1024
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# attribute and member names are stored NUL-terminated (and a heap's names NUL-padded before)
_KERAS_MARKERS = (
    b"keras_version\0",
    b"layer_names\0",
    b"model_weights\0",
    b"model_config\0",
    b"_layer_checkpoint_dependencies\0",
    b"\0layers\0",
)
_KERAS3_PAIR = (b"\0vars\0", b"\0optimizer\0")
# A file cut shorter than this (the farthest a marker sat in the Keras files we have met, with
# room to spare) says nothing by its bytes: a name like these then keeps it a checkpoint.
KERAS_MARKERS_WITHIN = 8 * 1024
_CHECKPOINT_NAME = re.compile(r"weight|model|ckpt|checkpoint|epoch|step", re.IGNORECASE)


def h5_look_by_bytes(path: Path) -> bool | None:
    """:func:`h5_holds_weights` from the file's first :data:`H5_SNIFF_BYTES` bytes, without libhdf5.

    True for Keras weights (its markers are there, or the name is Keras 3's ``.weights.h5``),
    False for an HDF5 file with none of them (plain data: inputs, labels), None when the bytes
    are not HDF5 or cannot be read, or the file is cut too short to tell and named like a
    checkpoint: its checkpoint reader says what is wrong."""
    if path.name.lower().endswith(".weights.h5"):
        return True  # Keras 3 refuses any other name for save_weights
    try:
        with open_binary(path) as fh:
            head = fh.read(H5_SNIFF_BYTES)
    except (OSError, ValueError):
        return None
    # the signature is at 0, or after a user block of 512, 1024, 2048... bytes
    at = [n for n in (0, *(512 << k for k in range(8))) if head[n : n + 8] == _HDF5_SIGNATURE]
    if not at:
        return None
    if any(m in head for m in _KERAS_MARKERS) or all(m in head for m in _KERAS3_PAIR):
        return True
    if len(head) < KERAS_MARKERS_WITHIN and _CHECKPOINT_NAME.search(path.name):
        return None
    return False


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _h5_after(path: Path, limit: int) -> list[Path]:
    """Regular H5 files (not symlinks) after ``path`` in its directory, in the walk's order."""
    found: list[Path] = []
    here = natural_order(path.name)
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                if natural_order(entry.name) > here and classify(entry.name) is Kind.KERAS_H5:
                    try:
                        if entry.is_file(follow_symlinks=False):
                            found.append(Path(entry.path))
                    except OSError:
                        continue
    except OSError:
        return []
    found.sort(key=lambda p: natural_order(p.name))
    return found[:limit]


def discover(path: str | os.PathLike[str], *, follow_links: bool = False) -> Inventory:
    """Walk ``path`` (a run directory or a single artifact) and classify what is there."""
    root = Path(path)
    if not root.exists():
        raise UsageError(f"{path}: no such file or directory")
    if root.is_file():
        kind = classify(root.name)
        inv = Inventory(root=root.parent.resolve())
        if kind is None and _is_mlflow_db(root):
            kind = Kind.MLFLOW_DB
        if kind is None and _sniff_log(inv, root):
            kind = Kind.JOB_LOG  # named by the user: judged by its content whatever its extension
        if kind is None and root.stat().st_size > 0 and _thorough_look(root):
            kind = Kind.JOB_LOG  # the second look (SECOND_LOOK_FILES)
        if kind is None:
            raise UsageError(f"{path}: not a run directory nor a file of a known kind")
        target = root.resolve()  # named by the user: a symlink is followed
        st = target.stat()
        remember(target, st)
        _add(inv, target, root.name, kind, st.st_size)
        return inv
    if not root.is_dir():
        raise UsageError(f"{path}: not a directory")

    inv = Inventory(root=root.resolve())
    second: list[WalkedFile] = []  # text files the quick look did not take for logs (SECOND_LOOK_FILES)
    for file in walk(inv.root, follow_links=follow_links, problems=inv.problems):
        kind = classify(file.name)
        if kind is None and file.directory.name == "metrics" and _is_mlflow_metric(file.path, file.size):
            kind = Kind.MLFLOW_METRIC
        elif (
            kind is None
            and file.directory.name == "params"
            and "." not in file.name
            and (file.directory.parent / "meta.yaml").is_file()
        ):
            kind = Kind.MLFLOW_PARAM
        if kind is Kind.JOB_LOG and _is_wandb_internal_log(file):
            inv.ignored += 1  # W&B's own diagnostics, not the job's output (that is files/output.log)
            continue
        if kind is None and _is_mlflow_db(file.path):
            kind = Kind.MLFLOW_DB
        if kind is None and _judge_by_content(file.name, file.size) and _sniff_log(inv, file.path):
            kind = Kind.JOB_LOG
        if kind is None:
            inv.ignored += 1
            if len(second) < SECOND_LOOK_FILES and _second_look_candidate(file):
                second.append(file)
            continue
        try:
            _add(inv, file.path, file.rel, kind, file.size)
        except (RecursionError, MemoryError, ValueError, OSError) as e:
            # a file whose first bytes break a sniffer is still listed: its reader says why
            inv.problems.append(f"{file.rel}: could not be classified ({type(e).__name__})")
    if not inv.files and second:
        _second_look(inv, second)
        inv.ignored -= len(inv.files)  # counted as ignored by the quick look
    _group_shards(inv)
    return inv


@dataclass(frozen=True, slots=True)
class WalkedFile:
    """A regular file met by the walk, before it is classified."""

    path: Path  # absolute
    rel: str  # relative to the walked root, POSIX
    size: int
    directory: Path

    @property
    def name(self) -> str:
        return self.path.name


def walk(root: Path, *, follow_links: bool, problems: list[str]) -> Iterator[WalkedFile]:
    """Every regular file under ``root``, depth first in name order (numbers in number order).

    Symlinks are not followed unless asked, a directory is never entered twice (no
    loops), VCS and cache folders are skipped, and the walk stops after
    :data:`MAX_FILES` files; each of these is reported as one line in ``problems``.
    """
    seen_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(root, "")]
    count = 0
    while stack:
        directory, rel_dir = stack.pop()
        try:
            st = directory.stat()
        except OSError as e:
            problems.append(f"{rel_dir or '.'}: cannot open directory ({e.strerror})")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            problems.append(f"{rel_dir}: symlink loop, not followed again")
            continue
        seen_dirs.add(key)
        try:
            # numbers in number order: ckpt-40 before ckpt-120, checkpoint-500/ before checkpoint-1000/
            entries = sorted(os.scandir(directory), key=lambda e: natural_order(e.name))
        except OSError as e:
            problems.append(f"{rel_dir or '.'}: cannot list directory ({e.strerror})")
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            entry_path = Path(entry.path)
            try:
                is_link = entry.is_symlink()
                if is_link and not follow_links:
                    if (entry.is_dir() or entry.is_file()) and not _is_wandb_pointer(directory, entry.name):
                        problems.append(f"{rel}: symlink not followed (use --follow-links)")
                    continue
                if is_link:
                    # --follow-links follows links within the run only: a link's target is
                    # read from its resolved path, which must lie inside the run
                    entry_path = Path(os.path.realpath(entry.path))
                    if not entry_path.is_relative_to(root):
                        if entry.is_dir() or entry.is_file():
                            problems.append(f"{rel}: symlink to outside the run, not followed")
                        continue
                if entry.is_dir(follow_symlinks=follow_links):
                    if entry.name not in _SKIP_DIRS:
                        subdirs.append((entry_path, rel))
                    continue
                est = entry.stat(follow_symlinks=follow_links)
            except OSError as e:
                problems.append(f"{rel}: cannot stat ({e.strerror})")
                continue
            if not stat.S_ISREG(est.st_mode):
                continue
            remember(entry_path, est)
            count += 1
            if count > MAX_FILES:
                problems.append(f"more than {MAX_FILES} files: the rest of the tree was not walked")
                return
            yield WalkedFile(entry_path, rel, est.st_size, directory)
        stack.extend(reversed(subdirs))


_MLFLOW_LINE = re.compile(rb"^\d{9,14} \S+ -?\d+\s*$")


def _is_mlflow_metric(path: Path, size: int) -> bool:
    """An MLflow metric file: no extension, lines of "<timestamp ms> <value> <step>"."""
    if "." in path.name or size == 0:
        return False
    try:
        with open_binary(path) as f:
            return bool(_MLFLOW_LINE.match(f.readline(256)))
    except OSError:
        return False


# W&B links its newest run and that run's debug logs from wandb/: the files themselves are
# walked in the run's folder, so not following these links loses nothing worth a line.
_WANDB_POINTERS = frozenset({"latest-run", "debug.log", "debug-internal.log"})


def _is_wandb_pointer(directory: Path, name: str) -> bool:
    return directory.name == "wandb" and name in _WANDB_POINTERS


def _is_wandb_internal_log(file: WalkedFile) -> bool:
    """wandb/run-*/logs/debug*.log: what the W&B client logged about itself."""
    if file.directory.name != "logs" or not file.name.startswith("debug"):
        return False
    try:
        return any(name.endswith(".wandb") for name in os.listdir(file.directory.parent))
    except OSError:
        return False


def _is_mlflow_db(path: Path) -> bool:
    """An SQLite database (by name: .db, .sqlite, .sqlite3) holding MLflow's tables."""
    if not path.name.lower().endswith(_SQLITE_EXT):
        return False
    from forensics.readers.mlflow_db import looks_like_mlflow_db

    if looks_like_mlflow_db(path):
        return True
    # a store in WAL mode whose schema is still only in its -wal (never checkpointed) shows
    # no table in the file itself: by its usual name, the reader (which reads the WAL) decides
    try:
        return bool(MLFLOW_DB_NAME.match(path.name)) and os.lstat(f"{path}-wal").st_size > 0
    except OSError:
        return False


# Every text file of no known kind is a candidate log, judged by its first bytes
# (readers.logs.SNIFF_BYTES): this many files at most are judged, so that a tree of
# 100,000 small text files costs seconds, not minutes.
MAX_SNIFFED_FILES = 500


# A project's own documents: prose and results tables about runs, never a run's output (the HF Trainer writes its
# model card, with a table of evaluation results, as README.md beside its checkpoints).
_PROJECT_DOCS = re.compile(
    r"^(readme|changelog|changes|history|license|licence|contributing|code_of_conduct|security|"
    r"authors|model_card|modelcard)\b",
    re.IGNORECASE,
)


# A markdown file is judged by its content only when its name says it holds a run's output (log.md, train_log.md,
# console_output.md): markdown is mostly prose, and notes or copied documentation quote losses and NaN messages
# (a copy of docs/rules.md as notes.md read as a log turned a healthy run into 'diverged, fp16 overflow').
_MARKDOWN_EXT = (".md", ".markdown")
_MARKDOWN_LOG_NAMES = re.compile(r"(^|[\W_])(logs?|output|console|stdout|stderr|nohup|train|training)([\W_]|$)", re.I)


def _judge_by_content(name: str, size: int) -> bool:
    from forensics.readers.logs import NOT_LOG_EXTENSIONS

    stem, ext = os.path.splitext(name.lower())
    if ext in _MARKDOWN_EXT and not _MARKDOWN_LOG_NAMES.search(stem):
        return False
    return size > 0 and ext not in NOT_LOG_EXTENSIONS and not _PROJECT_DOCS.match(name)


# Where discovery found nothing at all, the text files it judged not to be logs get a second look, every line of their
# head parsed (readers.logs.looks_like_log's thorough mode): a log whose lines name their loss in no word the quick look
# knows ('[800/8000]\t[L1: 5.9633]', EDSR's) is read rather than the run called empty. Markdown of any name is looked
# at then too (a test's snapshot of a fit's messages), and a project's own documents where they hold a log's lines (a
# README that quotes the run it fixed). At most this many files, the first the walk met: the thorough look parses each
# line, a few times the quick look's cost.
SECOND_LOOK_FILES = 20


# images, sound, video, archives and documents: never a log, and binary (the quick look turns them down by their bytes)
_MEDIA_EXTENSIONS = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg"),  # images
        *(".wav", ".mp3", ".flac", ".ogg", ".mp4", ".avi", ".mov", ".mkv"),  # sound and video
        *(".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".tar", ".7z", ".whl"),  # archives
        *(".pdf", ".docx", ".xlsx", ".pptx", ".so", ".dll", ".exe", ".o", ".a"),  # documents and binaries
        # other languages' sources, and data files no log is kept in
        *(".jl", ".lua", ".r", ".m", ".rb", ".pl", ".php", ".scala", ".kt", ".swift", ".ts", ".tsx", ".jsx"),
        *(".mjs", ".cs", ".f90", ".pyc", ".pyi", ".mat", ".parquet", ".feather", ".arrow", ".onnx", ".tflite", ".pb"),
    }
)


def _second_look_candidate(file: WalkedFile) -> bool:
    """A file the second look may read: not empty, and of no extension another reader or no log has (counted
    against SECOND_LOOK_FILES only then: a tree of source files and images before the log does not use it up)."""
    from forensics.readers.logs import NOT_LOG_EXTENSIONS

    ext = os.path.splitext(file.name.lower())[1]
    return file.size > 0 and ext not in NOT_LOG_EXTENSIONS and ext not in _MEDIA_EXTENSIONS


def _second_look(inv: Inventory, candidates: list[WalkedFile]) -> None:
    """Add to an inventory that found nothing the candidates a thorough look takes for logs."""
    for file in candidates[:SECOND_LOOK_FILES]:
        # a project's README may quote a log (a repository's notes on a run it fixed), but a line or two of
        # prose naming a loss is no log: it must hold a log's lines, as the quick look asks
        if _thorough_look(file.path, one_line=not _PROJECT_DOCS.match(file.name)):
            _add(inv, file.path, file.rel, Kind.JOB_LOG, file.size)


def _thorough_look(path: Path, *, one_line: bool = True) -> bool:
    from forensics.readers.logs import looks_like_log

    return looks_like_log(path, thorough=True, one_line=one_line)


def _sniff_log(inv: Inventory, path: Path) -> bool:
    """Is this file of unknown name a training log, by its content? (bounded: see MAX_SNIFFED_FILES)"""
    from forensics.readers.logs import looks_like_log

    inv.sniffed += 1
    if inv.sniffed == MAX_SNIFFED_FILES + 1:
        inv.problems.append(f"more than {MAX_SNIFFED_FILES} files of unknown kind: the rest were not looked into")
    if inv.sniffed > MAX_SNIFFED_FILES:
        return False
    return looks_like_log(path)


def _headerless_log(path: Path) -> bool:
    """A file a toolkit writes in a known column layout without a header, whose rows fit it."""
    from forensics.readers.logmetrics import headerless_layouts
    from forensics.readers.logs import looks_like_log

    return bool(headerless_layouts(path.name)) and looks_like_log(path)


def _add(inv: Inventory, path: Path, rel: str, kind: Kind, size: int) -> None:
    group = ""
    if kind is Kind.EVENTS:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        group = parent
    elif kind in (Kind.DATA_SAMPLE, Kind.JOB_LOG) and rel.lower().endswith((".csv", ".log")):
        from forensics.readers.metrics_csv import sniff

        if sniff(path):
            kind = Kind.METRICS_CSV
        elif kind is Kind.DATA_SAMPLE and _headerless_log(path):
            kind = Kind.JOB_LOG  # timm's summary.csv without its header: the run's per-epoch log
    elif kind is Kind.METRICS_JSONL:
        from forensics.readers.metrics_csv import sniff_jsonl

        if not sniff_jsonl(path):
            if not _sniff_log(inv, path):  # JSON lines without a step on the first line: a log, maybe
                inv.ignored += 1
                return
            kind = Kind.JOB_LOG
    elif kind is Kind.KERAS_H5:
        if _leave_h5_to_reader():
            inv.files.append(Found(path=path, rel=rel, kind=kind, size=size, group=group, judged=False))
            return
        holds = h5_holds_weights(path)
        if holds is False:
            kind = Kind.DATA_SAMPLE
    inv.files.append(Found(path=path, rel=rel, kind=kind, size=size, group=group))


def _group_shards(inv: Inventory) -> None:
    """Mark safetensors shards that an index names, and the data shards of a TensorFlow bundle,
    so they are read once, through their index."""
    import json

    bundles = {f.rel[: -len(".index")]: f.rel for f in inv.of_kind(Kind.TF_CHECKPOINT) if f.rel.endswith(".index")}
    if bundles:
        inv.files = [
            Found(f.path, f.rel, f.kind, f.size, bundles.get(_TF_SHARD.sub("", f.rel), ""))
            if f.kind is Kind.TF_CHECKPOINT and _TF_SHARD.search(f.rel)
            else f
            for f in inv.files
        ]

    for idx in inv.of_kind(Kind.SAFETENSORS_INDEX):
        try:
            if idx.size > 64 * 1024 * 1024:
                continue
            data = json.loads(read_bytes(idx.path).decode("utf-8"))
            names = set(data.get("weight_map", {}).values()) if isinstance(data, dict) else set()
        except (OSError, ValueError, AttributeError, TypeError, RecursionError):
            continue  # the index reader reports it
        base = idx.rel.rsplit("/", 1)[0] + "/" if "/" in idx.rel else ""
        wanted = {base + str(n) for n in names}
        inv.files = [
            Found(f.path, f.rel, f.kind, f.size, idx.rel) if f.kind is Kind.SAFETENSORS and f.rel in wanted else f
            for f in inv.files
        ]


# ---------------------------------------------------------------- steps from names

_STEP_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Lightning: epoch=3-step=1200.ckpt
    (re.compile(r"(?:^|[^a-z])step[=_-]?(\d+)", re.IGNORECASE), "name"),
    (re.compile(r"(?:global[_-]?step|iter(?:ation)?s?)[=_-]?(\d+)", re.IGNORECASE), "name"),
    (re.compile(r"^checkpoint[_-](\d+)$", re.IGNORECASE), "folder"),
    (re.compile(r"(?:^|[^a-z])ckpt[_-](\d+)", re.IGNORECASE), "index"),
)
_EPOCH_PATTERNS = (
    re.compile(r"epoch[=_-]?(\d+)", re.IGNORECASE),
    # Keras ModelCheckpoint("weights.{epoch:02d}-{val_loss:.2f}.h5")
    re.compile(
        # ("weights.03-nan.h5" when the monitored loss was already NaN)
        r"^(?:weights|model|ckpt|cp)[._-](\d+)(?:[-_.](?:[\d.]+|nan|inf|-inf))?\.(?:weights\.)?(?:h5|hdf5|keras)$",
        re.IGNORECASE,
    ),
    re.compile(r"(?:^|[^a-z])e(\d+)(?:[-_.]|$)", re.IGNORECASE),
)


def step_from_path(rel: str) -> tuple[int | None, str | None, int | None]:
    """(step, origin, epoch) read from a checkpoint's file name or its folders.

    origin is "name" (a step number in the file name), "folder" (``checkpoint-500/``),
    "index" (a save counter such as ``ckpt-3``) or None. The epoch is returned on
    its own when the name carries one (``weights.07-1.23.h5``, ``epoch=3``).
    """
    parts = rel.split("/")
    name = parts[-1]
    stem = re.sub(r"\.(weights\.h5|safetensors|h5|hdf5|keras|ckpt|pt|pth|bin)$", "", name, flags=re.IGNORECASE)
    epoch = None
    for pat in _EPOCH_PATTERNS:
        m = pat.search(name if pat.pattern.startswith("^(?:weights") else stem)
        if m:
            epoch = int(m.group(1))
            break
    for pat, origin in _STEP_PATTERNS:
        if origin == "folder":
            continue
        m = pat.search(stem)
        if m:
            return int(m.group(1)), origin, epoch
    for folder in reversed(parts[:-1]):
        m = _STEP_PATTERNS[2][0].match(folder)
        if m:
            return int(m.group(1)), "folder", epoch
        for pat, origin in _STEP_PATTERNS:
            if origin in ("name", "index"):
                m = pat.search(folder)
                if m:
                    return int(m.group(1)), origin, epoch
    return None, None, epoch
