"""The command line: a thin layer over the library API.

Errors users can cause are printed as one line on stderr with exit code 2
(see the report contract); anything else is a bug and shows a traceback
only with ``--debug``.

Parsed with argparse, not typer: typer (with the pydantic it now validates
through) cost about 0.2 s of start-up on every call, more than the whole
analysis of a small run; the command line is small enough that argparse says
it all.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from forensics import __version__
from forensics.errors import ForensicsError, UsageError
from forensics.util import human_bytes

if TYPE_CHECKING:
    from forensics.runs import RunSet
    from forensics.sweep import Sweep

T = TypeVar("T")

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_USAGE = 2

# Below this the work is instant and a progress bar would only flicker.
PROGRESS_DELAY_S = 0.5
# Without a terminal (a CI log, a pipe), one plain progress line this often.
PLAIN_PROGRESS_EVERY_S = 5.0
# The cyclic garbage collector's thresholds in the command's process (its reader worker inherits
# them): a pass every 50,000 new containers instead of 700. At the default pace the collector
# rescanned the objects the imports create dozens of times, ~10 ms of a small run's CPU in
# each process; garbage in reference cycles waits a little longer, a few MB at most.
GC_THRESHOLDS = (50_000, 50, 50)
COMMANDS = ("analyze", "compare", "inspect")
# Worker children that read one run's files at once, on a machine with that many cores or more.
READ_WORKERS = 2
# Every plain progress line starts so: a script reading stderr for the error line can drop them.
PROGRESS_PREFIX = "forensics: progress: "

EPILOG = """\
examples:
  forensics analyze runs/exp42                        markdown report on stdout
  forensics analyze runs/exp42 -o report.md           figures in report_files/ beside it
  forensics analyze runs/exp42 -f html -o exp42.html  one self-contained page
  forensics analyze runs/exp42 -f json | jq .verdict
  forensics analyze model.safetensors                 health check of one checkpoint
  forensics analyze runs/exp42 --data x.npz --fail-on-divergence
  forensics inspect runs/exp42                        every file, its kind and status

exit codes:
  0  the analysis ran, whatever the verdict
  1  --fail-on-divergence was given and the run diverged (or the checkpoint is broken)
  2  usage error, or the path holds nothing that could be read
"""


def _printable(text: str) -> str:
    """``text`` safe for a terminal and encodable as UTF-8 (see :mod:`forensics.report.escape`)."""
    from forensics.report.escape import printable

    return printable(text)


class _Exit(Exception):
    """Leave with this exit code (after the message, if any, was printed)."""

    def __init__(self, code: int) -> None:
        self.code = code


def _fail(message: str) -> _Exit:
    from forensics.report.escape import one_line

    print(f"forensics: {one_line(message)}", file=sys.stderr)  # a path may hold a newline
    return _Exit(EXIT_USAGE)


class _Progress:
    """Progress on stderr, in bytes read, once the work takes a moment: a rich bar on a
    terminal, a plain line every PLAIN_PROGRESS_EVERY_S seconds elsewhere (a CI log),
    nothing with --quiet."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last_line = self.start
        self.bar = None
        self.task = None

    def __call__(self, current: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty:
            if now - self.last_line >= PLAIN_PROGRESS_EVERY_S and done < total:
                self.last_line = now
                pct = f" ({100 * done // total}%)" if total > 1 else ""
                where = f": {_printable(current[-80:])}" if current else ""
                sys.stderr.write(f"{PROGRESS_PREFIX}read {human_bytes(done)} of {human_bytes(total)}{pct}{where}\n")
                sys.stderr.flush()
            return
        if self.bar is None:
            if now - self.start < PROGRESS_DELAY_S:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]reading[/bold] {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        from rich.markup import escape

        # a file name is not markup: "x[/b].log" would make rich raise in its refresh thread
        self.bar.update(self.task, completed=done, description=escape(_printable(current[-60:])))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _with_progress(work: Callable[[_Progress], T], *, quiet: bool = False) -> T:
    """Run ``work`` with progress on stderr; an error the user caused becomes one line and exit 2."""
    progress = _Progress(enabled=not quiet)
    try:
        return work(progress)
    except ForensicsError as e:
        raise _fail(str(e)) from None
    finally:
        progress.close()


def _write_output(text: str, output: Path | None) -> None:
    text = _printable(text)
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        _write_stdout(text)
        return
    try:
        _replace_file(output, text.encode("utf-8"))
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror or e}") from None


def _write_stdout(text: str) -> None:
    """The report on stdout as UTF-8 whatever the locale (a report is UTF-8 text, JSON
    must be); a stream without bytes underneath gets its own encoding, never an error."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
        return
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def _replace_file(output: Path, data: bytes) -> None:
    """Write ``output`` whole or not at all: into a temporary file beside it, then renamed
    over it, so an interrupt or a full disk never leaves half a report (the temporary is
    removed). A device or FIFO (``/dev/stdout``, ``/dev/full``) is written in place."""
    import os
    import stat
    import tempfile

    try:
        if not stat.S_ISREG(os.stat(output).st_mode):
            with open(output, "wb") as f:
                f.write(data)
            return
    except FileNotFoundError:
        pass
    parent = output.parent if str(output.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # what open() would have made, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_output(output: Path | None, run_dir: Path | None = None, data: list[Path] | None = None) -> None:
    """Refuse an -o path that cannot be written, or that lies inside the run (the run is
    evidence: never written), before doing the work."""
    if output is None:
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise _fail(f"cannot write {output}: directory {parent} does not exist")
    if output.is_dir():
        raise _fail(f"cannot write {output}: it is a directory")
    if run_dir is None:
        return
    target = output.resolve()
    try:
        run = run_dir.resolve()
    except OSError:
        return  # discovery says what is wrong with the run
    inside = run.is_dir() and target.is_relative_to(run)
    if inside or target == run or any(target == d.resolve() for d in data or []):
        raise _fail(f"cannot write {output}: it is inside the run {run_dir} (a report never writes into the run)")


def inspect(
    run_dir: Path, format: str, output: Path | None, follow_links: bool, debug: bool, quiet: bool = False
) -> None:
    """List every artifact of a run: what it is, whether it could be read, and what is in it."""
    from forensics.inspection import inventory_json, inventory_text
    from forensics.load import load_run

    _check_output(output, run_dir)
    run = _with_progress(
        lambda progress: load_run(run_dir, follow_links=follow_links, progress=progress, debug=debug), quiet=quiet
    )
    run.close()  # its worker child: everything is read
    if not run.sources:
        raise _fail(f"{run_dir}: no training artifacts found (event files, checkpoints, logs, configs, data)")
    try:
        if format == "json":
            _write_output(json.dumps(inventory_json(run), indent=2, allow_nan=False), output)
        else:
            _write_output(inventory_text(run), output)
    except ForensicsError as e:
        raise _fail(str(e)) from None
    if not run.readable:
        raise _fail(f"{run_dir}: nothing could be read (see the list above)")


def analyze(
    run_dir: str,
    format: str,
    output: Path | None,
    data: list[Path],
    fail_on_divergence: bool,
    follow_links: bool,
    debug: bool,
    quiet: bool = False,
    jobs: int | None = None,
    dask: str | None = None,
) -> None:
    """Diagnose why a run diverged and print a report (markdown, a self-contained HTML page, or JSON per the
    report contract). A folder of several runs gets a sweep report (docs/sweeps.md)."""
    import forensics

    # not the sweep's module, nor the report's: they import the whole analysis, which
    # forensics.analyze imports while the run's worker reads the files
    from forensics.runs import find_runs_anywhere
    from forensics.util import is_remote

    found = _with_progress(lambda _: find_runs_anywhere(run_dir, follow_links=follow_links), quiet=quiet)
    if found.is_sweep:
        if data:
            raise _fail("--data names a sample for one run; give that run's folder, not the folder of runs")
        _analyze_sweep(found, format, output, fail_on_divergence, jobs, dask, follow_links, debug)
        return
    _check_output(output, None if is_remote(run_dir) else Path(run_dir), data)
    # a local run's files are shared by two reader workers when two cores are there (forking
    # this small process costs about a millisecond)
    workers = {} if is_remote(run_dir) else {"workers": min(READ_WORKERS, _cores())}
    report = _with_progress(
        lambda progress: forensics.analyze(
            run_dir, data=data, follow_links=follow_links, progress=progress, debug=debug, **workers
        ),
        quiet=quiet,
    )
    if not report.readable:
        if format == "json":
            from forensics.report.json_report import to_json

            with contextlib.suppress(ForensicsError):
                _write_output(to_json(report), output)
        raise _fail(f"{run_dir}: nothing could be read: {report.unreadable_summary()}")
    try:
        _write_output(_render(report, format, output), output)
    except ForensicsError as e:
        raise _fail(str(e)) from None
    if fail_on_divergence and report.diverged:
        raise _Exit(EXIT_DIVERGED)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _analyze_sweep(
    found: RunSet,
    format: str,
    output: Path | None,
    fail_on_divergence: bool,
    jobs: int | None,
    dask: str | None,
    follow_links: bool,
    debug: bool,
) -> None:
    """The sweep branch of ``analyze``: every run alone, one summary, the full reports in -o DIR."""
    from forensics.sweep import analyze_paths, prepare_output_dir, sweep_of, write_sweep

    if format == "html":
        raise _fail("a folder of runs gets a markdown or JSON sweep report; --format html is for one run")

    def work(_: _Progress) -> Sweep:
        if output is not None:
            prepare_output_dir(output, found.root)
        paths = [found.path_of(r) for r in found.runs]
        results = analyze_paths(paths, follow_links=follow_links, debug=debug, jobs=jobs, dask=dask)
        sweep = sweep_of(found, results)
        if output is not None:
            write_sweep(sweep, output, format)
        return sweep

    sweep = _with_progress(work)
    if not sweep.analysed:
        raise _fail(f"{found.root}: none of its {len(sweep.results)} runs could be read")
    if output is None:
        _write_output(sweep.to_json() if format == "json" else sweep.to_markdown(), None)
    if fail_on_divergence and sweep.diverged:
        raise _Exit(EXIT_DIVERGED)


def compare(healthy: str, diverged: str, format: str, output: Path | None, follow_links: bool, debug: bool) -> None:
    """Hold a diverged run against a healthy one: where the curves part, the settings and
    config that differ, each layer's weights side by side, both curves on one scale."""
    from forensics.compare import compare as run_compare
    from forensics.util import is_remote

    for run in (healthy, diverged):  # neither run is ever written into
        _check_output(output, None if is_remote(run) else Path(run))
    result = _with_progress(lambda _: run_compare(healthy, diverged, follow_links=follow_links, debug=debug))
    for r in (result.healthy, result.diverged):
        if not r.readable:
            raise _fail(f"{r.run_dir}: nothing could be read: {r.unreadable_summary()}")
    try:
        _write_output(result.to_json() if format == "json" else result.to_markdown(), output)
    except ForensicsError as e:
        raise _fail(str(e)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def _render(report: object, format: str, output: Path | None) -> str:
    """The report's text in ``format``; markdown written to a file gets its figures beside it."""
    from forensics.report.json_report import to_json
    from forensics.report.markdown import to_markdown
    from forensics.report.model import Report

    assert isinstance(report, Report)
    if format == "json":
        return to_json(report)
    if format == "html":
        from forensics.report.html import to_html

        return to_html(report)
    if output is None:
        return to_markdown(report)
    from forensics.report.output import markdown_with_figures, write_figures

    text, files = markdown_with_figures(report, output)
    write_figures(files)
    return text


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, with where to find help, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(_printable(message).split())
        print(f"forensics: {text} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(EXIT_USAGE)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every argument added (to check its metavar), and each
        # asks shutil for the terminal's width: shutil's import (with bz2 and lzma) was ~2 ms of
        # every command's start. The same width, as shutil.get_terminal_size finds it.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size().columns`` gives it (80 when unknown)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _common(
    cmd: argparse.ArgumentParser, what: str, formats: Sequence[str], output_help: str, run_help: str | None = None
) -> None:
    cmd.add_argument(
        "run_dir",
        # a URL (s3://bucket/run) is not a path: Path would fold its "//"
        type=str if run_help else Path,
        metavar="RUN_DIR",
        help=run_help or f"Run directory (or a single artifact) to {what}.",
    )
    cmd.add_argument(
        "--format", "-f", choices=formats, default=formats[0], help="Output format (default: %(default)s)."
    )
    cmd.add_argument("--output", "-o", type=Path, default=None, metavar="FILE", help=output_help)


def _flags(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--follow-links", action=argparse.BooleanOptionalAction, default=False, help="Follow symlinks out of the tree."
    )
    cmd.add_argument(
        "--debug", action=argparse.BooleanOptionalAction, default=False, help="Show tracebacks of internal errors."
    )
    cmd.add_argument("--quiet", "-q", action="store_true", help="No progress on stderr (errors are still printed).")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; given the ``command`` about to run, the other commands get
    only their name and help line (what ``forensics --help`` lists), not their options."""
    parser = _Parser(
        prog="forensics",
        allow_abbrev=False,
        description="Post-mortem of a failed deep-learning training run: when it diverged, what changed, and why.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"forensics {__version__}", help="Show the version.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    ana = commands.add_parser(
        "analyze",
        allow_abbrev=False,
        help=(analyze.__doc__ or "").split("(")[0].strip(),
        description=analyze.__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command in (None, "analyze"):
        _analyze_options(ana)
    cmp = commands.add_parser(
        "compare", allow_abbrev=False, help=(compare.__doc__ or "").split(":")[0], description=compare.__doc__
    )
    if command in (None, "compare"):
        cmp.add_argument("healthy", metavar="HEALTHY", help="A healthy run to compare with (folder, artifact or URL).")
        cmp.add_argument("diverged", metavar="DIVERGED", help="The diverged run.")
        cmp.add_argument("--format", "-f", choices=["markdown", "json"], default="markdown", help="Output format.")
        cmp.add_argument("--output", "-o", type=Path, default=None, help="Write the comparison to this file.")
        _flags(cmp)
    ins = commands.add_parser(
        "inspect", allow_abbrev=False, help=(inspect.__doc__ or "").split(":")[0], description=inspect.__doc__
    )
    if command in (None, "inspect"):
        _common(ins, "inventory", ["text", "json"], "Write to this file.")
        _flags(ins)
    return parser


def _analyze_options(ana: argparse.ArgumentParser) -> None:
    _common(
        ana,
        "analyze",
        ["markdown", "html", "json"],
        "Write the report to FILE; markdown puts its figures in FILE's stem + '_files/' beside it. "
        "A folder of runs: write to the directory FILE, one report per run beside the sweep report.",
        "Run directory, a single artifact, a folder of several runs (a sweep), or an s3:// gs:// az:// URL.",
    )
    ana.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="A data sample (.npz/.npy/.h5/.csv) to check; repeatable.",
    )
    ana.add_argument(
        "--fail-on-divergence",
        action="store_true",
        help="Exit 1 when the run (or any run of a sweep) diverged or the checkpoint is broken.",
    )
    ana.add_argument(
        "--jobs", "-j", type=_positive, default=None, help="Runs of a sweep analysed at once (default: all cores)."
    )
    ana.add_argument(
        "--dask",
        metavar="ADDRESS",
        default=os.environ.get("DASK_SCHEDULER_ADDRESS") or None,
        help="Send the runs of a sweep to this Dask scheduler (tcp://host:8786; default: $DASK_SCHEDULER_ADDRESS).",
    )
    _flags(ana)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # the options of the command named first (a command is the first word not an option)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "analyze":
            analyze(
                args.run_dir,
                args.format,
                args.output,
                args.data,
                args.fail_on_divergence,
                args.follow_links,
                args.debug,
                args.quiet,
                args.jobs,
                args.dask,
            )
        elif args.command == "compare":
            compare(args.healthy, args.diverged, args.format, args.output, args.follow_links, args.debug)
        else:
            inspect(args.run_dir, args.format, args.output, args.follow_links, args.debug, args.quiet)
    except _Exit as e:
        return e.code
    return EXIT_OK


class _Terminated(BaseException):
    """SIGTERM arrived: unwound like Ctrl-C, so isolated readers are killed on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main() -> None:
    """Console-script entry point: usage errors become one line and exit code 2;
    SIGINT and SIGTERM end the analysis (and every reader child) with 130 and 143."""
    import signal

    if "numpy" not in sys.modules:
        # One BLAS thread: the analysis makes no product large enough to share out (sums of
        # squares go in rows below OpenBLAS's threading threshold), and the pool numpy's import
        # starts otherwise spends 0.05-0.1 s of CPU on a second core, the core the run's worker
        # child reads on. A user's own setting wins.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    signal.signal(signal.SIGTERM, _on_sigterm)
    for stream in (sys.stdout, sys.stderr):  # a message must never die on the locale's encoding
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        code = run()
    except KeyboardInterrupt:
        print("forensics: interrupted", file=sys.stderr)
        sys.exit(130)
    except _Terminated:
        print("forensics: terminated", file=sys.stderr)
        sys.exit(143)
    sys.exit(code)


def entry() -> NoReturn:
    """The ``forensics`` command (and ``python -m forensics``): :func:`main`, then out of the
    process at once. Once the report is written, tearing the interpreter down (freeing every
    module's objects, numpy's among them) is 30-40 ms of CPU, a sixth of a small run's whole
    analysis, that nobody waits for: the exit handlers run (the reader worker is reaped), the
    output is flushed, and the process ends. With other threads still alive (none after a
    plain analysis) the ordinary exit is kept, which waits for them. The collector runs at its
    own pace here (``GC_THRESHOLDS``), not in a program that calls :func:`main`."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    if threading.active_count() > 1:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    import atexit

    atexit._run_exitfuncs()  # what the interpreter would run at exit (not a documented call)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
