"""The HTML view: one self-contained page (figures inline as data: URIs, no script, no
network), and the fragment a notebook shows.

The page is the markdown view rendered by markdown-it-py (CommonMark plus GitHub's
tables, as GitHub renders it; markdown-it-py comes with rich, already a dependency),
so the two views cannot drift apart. Text from the run is escaped once, by the
markdown renderer; the page's Content-Security-Policy forbids scripts and every
remote load as a second line of defence.
"""

from __future__ import annotations

import base64
from pathlib import PurePath

from forensics.report.escape import html_text
from forensics.report.figures import Figure, available, report_figures
from forensics.report.model import Report

MISSING_MATPLOTLIB = "Figures skipped: matplotlib is not installed (pip install 'forensics[figures]')."

# Nothing may run or be fetched: images only from data: URIs, inline style only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1080px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.6em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .8em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(2n) td { background: #fafbfc; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f8fa; }
code { padding: .1em .3em; border-radius: 4px; }
pre { padding: .8em; overflow-x: auto; }
img { max-width: 100%; height: auto; }
details { margin: .8em 0; }
summary { cursor: pointer; font-weight: 600; }
a { color: #0969da; }
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _markdown_it():  # type: ignore[no-untyped-def]
    from markdown_it import MarkdownIt

    # html=True: the report's own <details>, <sub> and anchors; the run's text is
    # escaped before it gets here
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def figures_of(r: Report) -> list[Figure]:
    """The report's figures, drawn on first use and kept on the report."""
    from forensics.report.markdown import single_checkpoint_outliers

    if r.figure_cache is None or not available():
        title = PurePath(r.run_dir).name or r.run_dir
        r.figure_cache = report_figures(r.timeline, title, single_checkpoint_outliers(r))
    return r.figure_cache


def body_html(r: Report, figures: list[Figure] | None = None) -> str:
    """The report as an HTML fragment (figures inline), for a page or a notebook cell."""
    from forensics.report.markdown import to_markdown

    if figures is None:
        figures = figures_of(r)
    links = {f.name: (data_uri(f.png), f.title) for f in figures}
    note = None if available() else MISSING_MATPLOTLIB
    md = to_markdown(r, figures=links, figures_note=note, rules_url="")
    return _markdown_it().render(md)


def to_html(r: Report) -> str:
    """One self-contained HTML page: opens offline, runs no script."""
    title = html_text(f"forensics: {PurePath(r.run_dir).name or r.run_dir}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body_html(r)}</body>\n</html>\n"
    )
