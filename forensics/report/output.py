"""Writing a report to files: markdown with its figures beside it, or one HTML page."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from forensics.errors import UsageError
from forensics.report.model import Report


def figures_dir(output: Path) -> Path:
    """Where the figures of ``report.md`` go: ``report_files/`` beside it."""
    return output.with_name(output.stem + "_files")


def markdown_with_figures(r: Report, output: Path) -> tuple[str, dict[Path, bytes]]:
    """The markdown for ``output`` and the figure files it links to (relative links)."""
    from forensics.report.figures import available
    from forensics.report.html import MISSING_MATPLOTLIB, figures_of
    from forensics.report.markdown import to_markdown

    folder = figures_dir(output)
    figures = figures_of(r)
    links = {f.name: (urllib.parse.quote(f"{folder.name}/{f.name}"), f.title) for f in figures}
    text = to_markdown(r, figures=links, figures_note=None if available() else MISSING_MATPLOTLIB)
    return text, {folder / f.name: f.png for f in figures}


def write_figures(files: dict[Path, bytes]) -> None:
    for path, png in files.items():
        try:
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(png)
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
