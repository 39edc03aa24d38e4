"""Many runs at once: a folder of runs (or a list of them) analysed run by run.

Each run is analysed exactly as ``forensics analyze`` would analyse it alone, in
its own process when there are several (a local process pool over the machine's
cores, or an existing Dask cluster), so nothing of one run can reach another's
report. The results are gathered into a :class:`Sweep`: one row per run, the
diverged first, the settings that differ between runs, and the triage of which
settings separate the diverged runs from the healthy ones (:mod:`forensics.triage`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.errors import ForensicsError, UsageError
from forensics.report.escape import md_cell, md_code, md_text
from forensics.report.model import Report
from forensics.runs import Run, RunSet, find_runs_anywhere
from forensics.settings import LABELS, Setting, format_value, run_settings
from forensics.triage import Finding, Outcome, confounded, differing, triage

SCHEMA_VERSION = 1
# Below this many runs a process pool costs more to start than it saves.
POOL_MIN_RUNS = 4
SWEEP_REPORT_NAME = "sweep"

RunProgress = Callable[[str, int, int], None]  # (run just finished, done, total)


@dataclass
class RunResult:
    """One run of a sweep: its report, or the one-line reason it has none."""

    name: str  # relative to the sweep folder ("." for the folder itself)
    path: str  # as analysed
    layout: str = "unknown"
    report: Report | None = None
    settings: dict[str, Setting] = field(default_factory=dict)
    error: str | None = None
    report_file: str | None = None  # the full report written beside the sweep report (-o DIR)

    @property
    def analysed(self) -> bool:
        """A report came back and something in the run could be read."""
        return self.report is not None and self.error is None

    @property
    def diverged(self) -> bool:
        return self.analysed and self.report is not None and self.report.diverged

    def row(self) -> dict[str, Any]:
        """The summary row (the JSON view and the DataFrame's columns)."""
        r = self.report
        v = r.verdict if r is not None else None
        return {
            "run": self.name,
            "path": self.path,
            "layout": self.layout,
            "diverged": self.diverged if self.analysed else None,
            "first_nonfinite_step": r.first_nonfinite_step if r is not None else None,
            "cause": v.cause if v is not None else None,
            "detail": v.detail if v is not None else None,
            "confidence": v.confidence if v is not None else None,
            "summary": v.summary if v is not None else None,
            "settings": {k: s.value for k, s in self.settings.items()},
            "report": self.report_file,
            "error": self.error,
        }


@dataclass
class Sweep:
    root: str
    results: list[RunResult]  # the diverged first
    shared: list[str] = field(default_factory=list)  # files that belong to no run
    problems: list[str] = field(default_factory=list)

    @property
    def diverged(self) -> list[RunResult]:
        return [r for r in self.results if r.diverged]

    @property
    def analysed(self) -> list[RunResult]:
        return [r for r in self.results if r.analysed]

    def outcomes(self) -> list[Outcome]:
        return [
            Outcome(r.name, r.diverged, {k: s.value for k, s in r.settings.items()}) for r in self.results if r.analysed
        ]

    @property
    def differing(self) -> list[str]:
        return differing(self.outcomes())

    @property
    def findings(self) -> list[Finding]:
        return triage(self.outcomes())

    def reports(self) -> list[Report]:
        return [r.report for r in self.results if r.report is not None]

    def to_dict(self) -> dict[str, Any]:
        from forensics.report.json_report import _clean

        findings = self.findings
        return _clean(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": "sweep",
                "tool_version": __version__,
                "root": self.root,
                "runs_total": len(self.results),
                "runs_analysed": len(self.analysed),
                "diverged_runs": [r.name for r in self.diverged],
                "differing_settings": self.differing,
                "runs": [r.row() for r in self.results],
                "triage": [_finding_dict(f) for f in findings],
                "confounded": confounded(findings),
                "shared_files": list(self.shared),
                "problems": list(self.problems),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        return sweep_markdown(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def dataframe(self) -> Any:
        """The summary as a pandas DataFrame, one row per run, a column per setting."""
        try:
            import pandas as pd
        except ImportError:
            raise UsageError("Sweep.dataframe() needs pandas: pip install pandas") from None
        rows = []
        for r in self.results:
            row = r.row()
            settings = row.pop("settings")
            rows.append({**row, **settings})
        return pd.DataFrame(rows)


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "setting": f.setting,
        "statement": f.statement,
        "separates": f.separates,
        "gap": f.gap,
        "threshold": f.threshold,
        "direction": f.direction,
        "values": list(f.values),
        "diverged_in": f.diverged_in,
        "total_in": f.total_in,
        "diverged_out": f.diverged_out,
        "total_out": f.total_out,
        "runs_without_setting": f.unknown,
    }


# ---------------------------------------------------------------- running


def load_and_analyze(path: str, *, follow_links: bool = False, debug: bool = False) -> tuple[Report, Any]:
    """``forensics.analyze(path)`` (the same report), with what was read (``RunData``):
    the settings and configs of a run are compared from it."""
    from forensics.analysis import analyze_loaded
    from forensics.load import load_run
    from forensics.util import is_remote

    if not is_remote(path):
        run = load_run(path, follow_links=follow_links, debug=debug)
        try:
            return analyze_loaded(run, path, debug=debug), run
        finally:
            run.close()  # its worker child: a sweep keeps hundreds of RunData
    from forensics.remote import name_remote_report, staged_run

    with staged_run(path) as (target, staged):
        run = load_run(target, follow_links=follow_links, debug=debug)
        try:
            report = analyze_loaded(run, str(target), debug=debug)
        finally:
            run.close()
    return name_remote_report(report, path, staged), run


def analyze_one(path: str, follow_links: bool = False, debug: bool = False) -> RunResult:
    """Analyse one run as ``forensics analyze`` does; errors become the result's one line.

    Module-level and self-contained: a process pool or a Dask worker runs it."""
    result = RunResult(name=path, path=path)
    try:
        report, run = load_and_analyze(path, follow_links=follow_links, debug=debug)
    except ForensicsError as e:
        result.error = " ".join(str(e).split())
        return result
    except Exception as e:
        if debug:
            raise
        result.error = " ".join(f"internal error: {type(e).__name__}: {e}".split())
        return result
    if not report.readable:
        result.error = f"nothing could be read: {report.unreadable_summary()}"
    result.report = report
    result.settings = run_settings(run, report.timeline)
    return result


# The modules every analysis imports on first use: imported once before the pool forks,
# so each worker does not import them again (a second or more per worker on a busy machine).
_PRELOAD = (
    "forensics.analysis",
    "forensics.readers.events",
    "forensics.readers.safetensors",
    "forensics.readers.logs",
    "forensics.readers.config",
    "forensics.readers.metrics_csv",
    "forensics.readers.trainer_state",
    "forensics.readers.delta",
    "forensics.report.markdown",
    "forensics.report.json_report",
)


def _preload() -> None:
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a module renamed by a refactor costs only the sharing
            continue


def _pool_context() -> Any:
    import multiprocessing as mp

    # fork shares the modules already imported; elsewhere spawn is the only safe choice
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _run_local(
    paths: list[str], follow_links: bool, debug: bool, jobs: int | None, progress: RunProgress | None
) -> list[RunResult]:
    jobs = default_jobs() if jobs is None else max(1, jobs)
    out: list[RunResult | None] = [None] * len(paths)
    if jobs == 1 or len(paths) < POOL_MIN_RUNS:
        for i, p in enumerate(paths):
            out[i] = analyze_one(p, follow_links, debug)
            if progress:
                progress(p, i + 1, len(paths))
        return [r for r in out if r is not None]
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    _preload()

    done = 0
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=_pool_context()) as pool:
        futures = {pool.submit(analyze_one, p, follow_links, debug): i for i, p in enumerate(paths)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                out[i] = fut.result()
            except BrokenProcessPool:
                out[i] = RunResult(paths[i], paths[i], error="the worker analysing it died (out of memory?)")
            done += 1
            if progress:
                progress(paths[i], done, len(paths))
    return [r for r in out if r is not None]


def _run_dask(address: str, paths: list[str], follow_links: bool, debug: bool) -> list[RunResult]:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--dask needs dask.distributed: pip install 'forensics[dask]'") from None
    try:
        # the connect timeout is Dask's own (distributed.comm.timeouts.connect, 30 s by default;
        # DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT in the environment)
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {detail}") from None
    try:
        futures = client.map(analyze_one, paths, follow_links=follow_links, debug=debug, pure=False)
        results: list[RunResult] = []
        for path, fut in zip(paths, futures, strict=True):
            try:
                results.append(fut.result())
            except Exception as e:  # a worker lost, or forensics missing on the workers
                if debug:
                    raise
                why = " ".join(f"Dask worker failed: {type(e).__name__}: {e}".split())
                results.append(RunResult(path, path, error=why))
        return results
    finally:
        client.close()


def analyze_paths(
    paths: Sequence[str],
    *,
    follow_links: bool = False,
    debug: bool = False,
    jobs: int | None = None,
    dask: str | None = None,
    progress: RunProgress | None = None,
) -> list[RunResult]:
    """Analyse each path as one run: on a Dask cluster when ``dask`` names a scheduler,
    else in a local process pool of ``jobs`` workers (all cores by default)."""
    paths = [str(p) for p in paths]
    if dask:
        return _run_dask(dask, paths, follow_links, debug)
    return _run_local(paths, follow_links, debug, jobs, progress)


def _order(results: list[RunResult]) -> list[RunResult]:
    """The diverged first (earliest blow-up first), then the healthy, then the unreadable."""

    def key(r: RunResult) -> tuple[int, int, str]:
        if not r.analysed or r.report is None:
            return (2, 0, r.name)
        if r.diverged:
            step = r.report.first_nonfinite_step
            return (0, step if step is not None else 2**62, r.name)
        return (1, 0, r.name)

    return sorted(results, key=key)


def sweep_of(found: RunSet, results: list[RunResult]) -> Sweep:
    for run, res in zip(found.runs, results, strict=True):
        res.name, res.layout = run.name, run.layout
    return Sweep(root=found.root, results=_order(results), shared=list(found.shared), problems=list(found.problems))


def analyze_many(
    path_or_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    follow_links: bool = False,
    debug: bool = False,
    jobs: int | None = None,
    dask: str | None = None,
    progress: RunProgress | None = None,
) -> Sweep:
    """The runs under one folder or URL (:func:`forensics.runs.find_runs`), or each path of
    a list taken as one run, analysed each alone and gathered into a :class:`Sweep`."""
    if isinstance(path_or_paths, (str, os.PathLike)):
        found = find_runs_anywhere(str(path_or_paths), follow_links=follow_links)
        paths = [found.path_of(r) for r in found.runs]
    else:
        paths = [str(p) for p in path_or_paths]
        if not paths:
            raise UsageError("no run given")
        local = not any(map(_is_url, paths))
        common = os.path.commonpath([os.path.abspath(n) for n in paths]) if local else ""
        found = RunSet(root=common or "runs", runs=[Run(p, "given") for p in paths])
    results = analyze_paths(paths, follow_links=follow_links, debug=debug, jobs=jobs, dask=dask, progress=progress)
    return sweep_of(found, results)


def _is_url(path: str) -> bool:
    from forensics.util import is_remote

    return is_remote(path)


# ---------------------------------------------------------------- rendering


def _verdict_cell(r: RunResult) -> str:
    from forensics.report.markdown import CAUSES_TXT

    if not r.analysed or r.report is None:
        return "not analysed"
    v = r.report.verdict
    return f"{CAUSES_TXT(v.cause, v.detail, v.detail_basis == 'prior')}, {v.confidence:.2f}"


def sweep_markdown(s: Sweep) -> str:
    analysed = s.analysed
    diverged = s.diverged
    findings = s.findings
    name = md_cell(Path(s.root.rstrip("/")).name or s.root)
    lines = [f"# {name}: {len(diverged)} of {len(analysed)} runs diverged"]
    not_analysed = len(s.results) - len(analysed)
    if not_analysed:
        lines[0] += f" ({not_analysed} more could not be analysed)"
    if findings:
        lines.append(f"**What separates them:** {md_cell(findings[0].statement)}.")
    elif diverged and len(diverged) < len(analysed):
        lines.append("No setting found in the configs separates the diverged runs from the healthy ones.")
    lines.append("")

    cols = s.differing
    head = ["run", "verdict", "first non-finite step", *(LABELS[c] for c in cols), "report"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in s.results:
        step = r.report.first_nonfinite_step if r.report is not None else None
        if r.report_file:  # a name we made (letters, digits, - _ .): safe as a link target
            report = f"[{md_cell(r.report_file)}]({r.report_file})"
        else:
            report = "—" if r.error is None else md_cell(r.error)
        cells = [
            md_cell(r.name),
            ("**diverged** — " if r.diverged else "") + _verdict_cell(r),
            "—" if step is None else str(step),
            *(md_cell(format_value(c, r.settings[c].value)) if c in r.settings else "?" for c in cols),
            report,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if not any(r.report_file for r in s.results) and analysed:
        lines += ["Each run's full report: `forensics analyze RUN`, or all of them with `-o DIR`.", ""]

    if diverged and len(diverged) < len(analysed):
        lines += ["## What separates the diverged runs from the healthy ones", ""]
        if findings:
            lines += [f"- **{LABELS[f.setting]}**: {md_cell(f.statement)}." for f in findings]
            both = confounded(findings)
            if both:
                named = " and ".join(LABELS[b] for b in both)
                lines.append(f"- {named} changed together in this sweep: it cannot tell which one matters.")
        else:
            differ = ", ".join(LABELS[c] for c in cols) or "none of the settings read"
            lines.append(f"- Nothing separates them clearly (settings that differ: {differ}).")
        lines.append("- A correlation over these runs, not a proof: each run's report gives its own cause.")
        lines.append("")

    if s.shared:
        lines += ["## Files outside every run", ""]
        lines += [f"- {md_code(f)}" for f in s.shared[:20]]
        if len(s.shared) > 20:
            lines.append(f"- and {len(s.shared) - 20} more")
        lines.append("")
    if s.problems:
        lines += ["## Problems", ""] + [f"- {md_text(p)}" for p in s.problems] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- writing


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("/", "__")).strip(".") or "run"


def write_sweep(s: Sweep, out_dir: Path, fmt: str) -> Path:
    """Write each run's full report and the sweep report into ``out_dir``; returns the sweep report."""
    ext = "json" if fmt == "json" else "md"
    used = {f"{SWEEP_REPORT_NAME}.{ext}"}
    for r in s.results:
        if not r.analysed or r.report is None:
            continue
        base = _slug(r.name)
        fname = f"{base}.{ext}"
        n = 2
        while fname in used:
            fname, n = f"{base}-{n}.{ext}", n + 1
        used.add(fname)
        text = r.report.to_json() if ext == "json" else r.report.to_markdown()
        _write(out_dir / fname, text)
        r.report_file = fname
    target = out_dir / f"{SWEEP_REPORT_NAME}.{ext}"
    _write(target, s.to_json() if ext == "json" else s.to_markdown())
    return target


def _write(path: Path, text: str) -> None:
    from forensics.cli import _write_output  # one policy for writing a report: escaped, replaced whole

    _write_output(text, path)


def prepare_output_dir(out: Path, analysed_root: str) -> None:
    """-o DIR for a sweep: a directory that exists or can be made, outside the runs."""
    from forensics.util import is_remote

    if out.exists() and not out.is_dir():
        raise UsageError(f"cannot write {out}: a sweep writes one report per run, so -o must name a directory")
    parent = out.parent if str(out.parent) else Path(".")
    if not out.exists() and not parent.is_dir():
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    if not is_remote(analysed_root):
        root = Path(analysed_root).resolve()
        target = out.resolve()
        if target == root or root in target.parents:
            raise UsageError(f"cannot write {out}: it is inside the runs being analysed (nothing is written there)")
    try:
        out.mkdir(exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
