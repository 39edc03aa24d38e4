"""``forensics.analyze(path)``: discover, read, line up, diagnose, report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from forensics.errors import UsageError
from forensics.load import ProgressFn, RunData, load_run

if TYPE_CHECKING:
    from forensics.report.model import Report

NOTHING_FOUND = "no training artifacts found (event files, checkpoints, logs, configs, data)"


def analyze(
    path: str | os.PathLike[str],
    *,
    data: Sequence[str | os.PathLike[str]] = (),
    follow_links: bool = False,
    progress: ProgressFn | None = None,
    debug: bool = False,
    workers: int = 1,
) -> Report:
    """Analyze the run under ``path`` (a directory, or one artifact) and return the report.

    ``data`` names extra data samples (inside or outside the run) to check. ``workers=2``
    lets two worker children share the reading of the files (:func:`forensics.load.share_files`):
    the command does so on two cores or more; a process as large as a notebook with a framework
    imported pays a tenth of a second or more for each fork, so one worker is the default here.
    Nothing is written anywhere.

    Raises :class:`UsageError` when ``path`` does not exist or holds no training
    artifact at all, as the CLI exits 2 then. Artifacts that were found but could not
    be read still give a report (``report.readable`` is False; the CLI exits 2 on it),
    whose sources say what is wrong with each.
    """
    run = load_run(
        path,
        data=data,
        follow_links=follow_links,
        progress=progress,
        debug=debug,
        meanwhile=_import_the_analysis,
        workers=workers,
    )
    try:
        return analyze_loaded(run, str(path), debug=debug)
    finally:
        run.close()


def _import_the_analysis() -> None:
    """Import the timeline, the rules, the diagnosis and the report (its markdown and JSON
    writers too: ~8 ms a caller would otherwise pay after the analysis): done while the
    run's worker child reads the files, so the two cores share the start-up of a small run."""
    import forensics.combination_table  # the fitted tables the diagnosis reads when it first combines
    import forensics.diagnose
    import forensics.report.json_report
    import forensics.report.markdown
    import forensics.report.model
    import forensics.rules
    import forensics.timeline  # noqa: F401


def analyze_loaded(run: RunData, run_dir: str, *, debug: bool = False) -> Report:
    """The analysis of a run already read (:func:`forensics.load.load_run`): for callers
    that also need what was read (a sweep compares the runs' configs)."""
    from forensics.diagnose import diagnose
    from forensics.report.model import Report
    from forensics.rules import run_rules
    from forensics.timeline import build_timeline

    if not run.sources:
        raise UsageError(f"{run_dir}: {NOTHING_FOUND}" + (f" ({run.problems[0]})" if run.problems else ""))
    tl = build_timeline(run)
    problems = list(tl.problems)
    evidence = run_rules(tl, debug=debug, problems=problems)
    dx = diagnose(tl, evidence)
    return Report(
        run_dir=run_dir,
        diverged=tl.diverged or any(e.weight > 0 and e.diverges for e in evidence),
        first_nonfinite_step=tl.first_nonfinite.step if tl.first_nonfinite is not None else None,
        verdict=dx.verdict,
        candidates=dx.candidates,
        sources=list(tl.sources),
        recommendations=dx.recommendations,
        not_checked=dx.not_checked,
        problems=problems,
        timeline=tl,
    )
