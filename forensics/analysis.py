"""``forensics.analyze(path)``: discover, read, line up, diagnose, report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from forensics.diagnose import diagnose
from forensics.discover import discover
from forensics.errors import UnreadableSource, UsageError
from forensics.load import ProgressFn, load_inventory
from forensics.records import Kind, Source, Status
from forensics.report.model import Report
from forensics.rules import run_rules
from forensics.timeline import RelativeUpdate, Timeline, build_timeline, update_pairs

# Measuring ||dW|| reads both checkpoints again; the last few pairs before the blow-up
# say what the step size was doing, so the cost stays bounded on long runs.
MAX_UPDATE_PAIRS = 4


def _relative_updates(tl: Timeline, root: Path, problems: list[str], *, debug: bool) -> list[RelativeUpdate]:
    from forensics.readers.delta import checkpoint_deltas

    out = []
    for a, b in update_pairs(tl, MAX_UPDATE_PAIRS):
        try:
            deltas = checkpoint_deltas(a.checkpoint, b.checkpoint, root)
        except UnreadableSource as e:
            problems.append(f"update {a.path} -> {b.path} not measured: {e}")
            continue
        except Exception as e:  # a reader bug must not stop the analysis
            if debug:
                raise
            problems.append(f"update {a.path} -> {b.path} not measured: internal error: {type(e).__name__}: {e}")
            continue
        layers = {k: (d.delta_l2, d.base_l2) for k, d in deltas.items() if d.elements > 0}
        if layers:
            assert a.step is not None and b.step is not None
            out.append(RelativeUpdate(a.step, b.step, a.path, b.path, layers))
    return out


def analyze(
    path: str | os.PathLike[str],
    *,
    data: Sequence[str | os.PathLike[str]] = (),
    follow_links: bool = False,
    progress: ProgressFn | None = None,
    debug: bool = False,
) -> Report:
    """Analyze the run under ``path`` (a directory, or one artifact) and return the report.

    ``data`` names extra data samples (inside or outside the run) to check.
    Nothing is written anywhere.
    """
    inv = discover(path, follow_links=follow_links)
    run = load_inventory(inv, str(path), progress=progress, debug=debug)
    for extra in data:
        p = Path(extra)
        if not p.is_file():
            raise UsageError(f"--data {extra}: no such file")
        src = Source(path=str(extra), kind=Kind.DATA_SAMPLE, size=p.stat().st_size)
        try:
            from forensics.readers.data import read_data_sample

            sample = read_data_sample(p, src)
        except UnreadableSource as e:
            run.sources.append(dataclasses.replace(src, status=Status.UNREADABLE, note=str(e)))
            continue
        except Exception as e:
            if debug:
                raise
            run.sources.append(
                dataclasses.replace(src, status=Status.UNREADABLE, note=f"internal error: {type(e).__name__}: {e}")
            )
            continue
        run.sources.append(sample.source)
        run.data_samples.append(sample)

    tl = build_timeline(run)
    problems = list(run.problems)
    tl.relative_updates = _relative_updates(tl, run.root, problems, debug=debug)
    evidence = run_rules(tl, debug=debug, problems=problems)
    dx = diagnose(tl, evidence)
    return Report(
        run_dir=str(path),
        diverged=tl.diverged,
        first_nonfinite_step=tl.first_nonfinite.step if tl.first_nonfinite is not None else None,
        verdict=dx.verdict,
        candidates=dx.candidates,
        sources=list(run.sources),
        recommendations=dx.recommendations,
        not_checked=dx.not_checked,
        problems=problems,
        timeline=tl,
    )
