"""What a run is: the run roots under a folder that may hold one run or a whole sweep.

TensorBoard calls every folder with event files directly in it a run. That is
right for its charts but too fine for a post-mortem: Keras writes ``train/`` and
``validation/`` for one training, a resumed job appends a second event file to the
same folder, and the checkpoints and the job log of a run sit beside its event
folder, not in it. So a run root is found from *anchors*, each pointing at the
folder of one training:

* event files: their folder, or its parent when the folder is a Keras/Lightning
  split (``train``, ``validation``, ``val``, ``eval``, ``test``);
* ``trainer_state.json`` (Hugging Face): the output folder, i.e. the parent of its
  ``checkpoint-N/``;
* an MLflow run folder (``mlruns/<exp>/<run>/`` with ``meta.yaml`` beside
  ``metrics/`` or ``params/``): that folder, whatever is inside it;
* a W&B run folder (``wandb/run-<date>-<id>/`` holding ``run-<id>.wandb``): that
  folder, whatever is inside it; an MLflow database (``mlflow.db``): its folder;
* a Lightning ``version_N/`` folder: that folder, whatever is inside it;
* job logs and metrics files (weak anchors): their folder, used only where a
  folder holds no anchor above, so log-only runs are found too.

A folder is one run when its anchors point at one folder, or at the folder itself
(a Hugging Face output folder with ``runs/<date>/`` events inside is one run);
otherwise each sub-folder holding anchors is split the same way. Files of the
folder that belong to no run (a job-array log beside the runs) are listed as shared.

Only file names are looked at, so the same partition serves a local walk and an
object-store listing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from forensics.discover import MLFLOW_DB_NAME, classify, walk
from forensics.errors import UsageError
from forensics.records import Kind

# Sub-folders a logger writes for the phases of one training (Keras TensorBoard
# callback: train/ and validation/; scripts: val/, eval/, test/).
SPLIT_FOLDERS = frozenset({"train", "training", "validation", "valid", "val", "eval", "evaluation", "test", "dev"})
_VERSION = re.compile(r"^version_\d+$")  # Lightning's lightning_logs/version_N
_HF_CHECKPOINT = re.compile(r"^checkpoint-\d+$")

_WEAK_KINDS = (Kind.JOB_LOG, Kind.METRICS_JSONL)
_METRICS_CSV_NAMES = ("metrics.csv",)  # Lightning CSVLogger, Keras CSVLogger by convention


@dataclass(frozen=True, slots=True)
class Run:
    """One run found under the folder: its path relative to it ("" for the folder itself)."""

    rel: str
    # "tensorboard", "huggingface", "lightning", "mlflow", "wandb", "logs"; "file"/"unknown" for a lone input
    layout: str

    @property
    def name(self) -> str:
        return self.rel or "."


@dataclass
class RunSet:
    """The runs under one folder, and the files that belong to none of them."""

    root: str  # as given
    runs: list[Run] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def is_sweep(self) -> bool:
        return len(self.runs) > 1

    def path_of(self, run: Run) -> str:
        if not run.rel:
            return self.root
        return self.root.rstrip("/") + "/" + run.rel


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A folder that looks like the root of one run, and how sure that is."""

    folder: tuple[str, ...]
    strong: bool
    layout: str


def _anchors(files: Iterable[str]) -> list[_Anchor]:
    paths = [tuple(f.split("/")) for f in files]
    with_meta = {p[:-1] for p in paths if p[-1] == "meta.yaml"}
    with_values = {p[:-2] for p in paths if len(p) >= 2 and p[-2] in ("metrics", "params")}
    mlflow_runs = with_meta & with_values
    # a W&B run folder (wandb/run-<date>-<id>/ with its run-<id>.wandb): its files/ and
    # logs/ belong to it
    wandb_runs = {p[:-1] for p in paths if classify(p[-1]) is Kind.WANDB_RUN}
    out: list[_Anchor] = [_Anchor(r, True, "mlflow") for r in mlflow_runs]
    out += [_Anchor(r, True, "wandb") for r in wandb_runs]
    for p in paths:
        folder, name = p[:-1], p[-1]
        if any(folder[: len(r)] == r for r in mlflow_runs | wandb_runs):
            continue  # everything in an MLflow or W&B run belongs to it
        if MLFLOW_DB_NAME.match(name):  # only these names make a folder a run (names only here)
            out.append(_Anchor(folder, True, "mlflow"))  # an MLflow database: its folder (names only here)
            continue
        version = next((i for i, part in enumerate(folder) if _VERSION.match(part)), None)
        kind = classify(name)
        if kind is Kind.EVENTS:
            strong, layout = True, "tensorboard"
            if folder and folder[-1].lower() in SPLIT_FOLDERS:
                folder = folder[:-1]
        elif kind is Kind.TRAINER_STATE:
            strong, layout = True, "huggingface"
            if folder and _HF_CHECKPOINT.match(folder[-1]):
                folder = folder[:-1]
        elif kind in _WEAK_KINDS or name.lower() in _METRICS_CSV_NAMES:
            strong, layout = False, "logs"
        elif version is not None and kind is Kind.CONFIG:
            strong, layout = False, "lightning"  # hparams.yaml of a version with nothing else
        else:
            continue
        if version is not None:
            folder, strong, layout = folder[: version + 1], True, "lightning"
        out.append(_Anchor(folder, strong, layout))
    return out


def _split(prefix: tuple[str, ...], anchors: list[_Anchor]) -> list[tuple[tuple[str, ...], str]]:
    """Run roots under ``prefix`` (a folder), each with the layout that made it a run."""
    mine = [a for a in anchors if a.folder[: len(prefix)] == prefix]
    if not mine:
        return []
    strong = [a for a in mine if a.strong]
    decisive = strong or mine
    groups = {a.folder for a in decisive}
    if len(groups) == 1 or prefix in groups:
        at_prefix = [a for a in decisive if a.folder == prefix]
        layout = (at_prefix or decisive)[0].layout
        if any(a.layout == "huggingface" for a in decisive):
            layout = "huggingface"
        if prefix and layout == "mlflow":
            # in a store of several runs, a run is its own folder (an experiment's folder
            # holding one run is still an experiment)
            return [(decisive[0].folder, layout)]
        return [(prefix, layout)]
    children = sorted({a.folder[len(prefix)] for a in mine if len(a.folder) > len(prefix)})
    out: list[tuple[tuple[str, ...], str]] = []
    for child in children:
        out.extend(_split((*prefix, child), anchors))
    return out


def partition(files: Iterable[str], root: str = ".") -> RunSet:
    """The runs among ``files`` (POSIX paths relative to the folder ``root``)."""
    files = list(files)
    found = _split((), _anchors(files))
    runs = [Run("/".join(folder), layout) for folder, layout in found]
    shared: list[str] = []
    if len(runs) > 1:
        prefixes = [r.rel + "/" for r in runs]
        shared = [f for f in files if classify(f.rsplit("/", 1)[-1]) and not f.startswith(tuple(prefixes))]
    return RunSet(root=root, runs=runs, shared=shared)


def find_runs(path: str | os.PathLike[str], *, follow_links: bool = False) -> RunSet:
    """The runs under a local folder (one run for a file or a folder of one run)."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file or directory")
    if not p.is_dir():
        return RunSet(root=str(path), runs=[Run("", "file")])
    problems: list[str] = []
    files = [f.rel for f in walk(p.resolve(), follow_links=follow_links, problems=problems)]
    found = partition(files, str(path))
    found.problems = problems
    if not found.runs:
        found.runs = [Run("", "unknown")]  # analysed as given; the analysis says what is missing
    return found


def find_runs_anywhere(path: str, *, follow_links: bool = False) -> RunSet:
    """:func:`find_runs` for a local folder or an object-store URL."""
    from forensics.util import is_remote

    if is_remote(path):
        from forensics.remote import find_remote_runs

        return find_remote_runs(path)
    return find_runs(path, follow_links=follow_links)
