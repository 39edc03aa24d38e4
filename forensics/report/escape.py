"""Text from the run, made inert for the reports: the one place every renderer escapes.

File names, tensor and layer names, log lines, exception messages and config values
come from files a stranger may have written. Put raw into a report they can forge
it: a newline in a file name starts a ``## Verdict`` line of its own, a pipe splits a
table cell, a backtick closes a code span and lets ``<img onerror=...>`` through as
raw HTML, a terminal escape rewrites the screen. Every renderer (markdown, HTML, the
terminal) passes such text through the functions here, at the point it is placed:

- :func:`one_line`: any text on one line, every control character visible
  (``\\n``, ``\\t``, ``\\u001b``), lone surrogates as ``\\udxxx``: the base of the others.
- :func:`md_text`: inline markdown text (also safe in a table cell).
- :func:`md_code`: a markdown code span holding the text verbatim.
- :func:`html_text`: HTML text or a quoted attribute value.
- :func:`printable`: multi-line text for a terminal or a file (keeps newlines and tabs).

Written here rather than taken from a library: markdown escaping libraries escape
for one flavour's inline syntax and leave block structure (newlines) and GFM tables
(pipes) to the caller, which are the two that forge a report.
"""

from __future__ import annotations

import html
import re

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators (a
# line break to some renderers and editors). Tab and newline included: one_line is one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same without newline and tab, for text that keeps its lines.
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Markdown inline syntax that changes what a reader sees: code spans, emphasis, links
# and images, raw HTML and autolinks, entities, GFM table cells, backslash escapes themselves.
# An underscore inside a word emphasises nothing in GFM (layer names are full of them:
# dense_1/kernel), so only an underscore at a word's edge is escaped.
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What starts a block when it begins a line: a heading, a list item, a setext underline
# or a thematic break (a quote's ">" and a "*" item are escaped everywhere already).
_MD_LINE_START = re.compile(r"^(?:#{1,6}(?:\s|$)|[-+](?:\s|$)|\d{1,9}[.)](?:\s|$)|=+\s*$|-+\s*$)")
_BACKTICKS = re.compile(r"`+")


def _visible(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or f"\\u{ord(c):04x}"


def _encodable(text: str) -> str:
    """Lone surrogates (a JSON header's ``\\ud800``, a protobuf string decoded with
    surrogateescape) become ``\\udxxx``; everything else is unchanged."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: object) -> str:
    """``text`` as one line of valid UTF-8: every control character written as an escape."""
    return _encodable(_CONTROL.sub(_visible, str(text)))


def printable(text: object) -> str:
    """``text`` safe for a terminal and encodable as UTF-8, newlines and tabs kept:
    escape sequences and other controls are written as ``\\u001b``."""
    return _encodable(_CONTROL_KEEP_LINES.sub(_visible, str(text)))


def md_cell(text: object) -> str:
    """``text`` as inline markdown that renders as exactly these characters, on one line,
    anywhere but the start of a line or of a list item (a GFM table cell, mid-sentence)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), one_line(text))


def md_text(text: object) -> str:
    """:func:`md_cell`, also safe at the start of a line or after a list marker (where
    ``# x`` would be a heading and ``1. x`` a list)."""
    # leading spaces are not shown at the start of a paragraph, and with them a list
    # marker or a heading still starts a block (four make a code block): dropped
    line = md_cell(text).lstrip(" ")
    if not _MD_LINE_START.match(line):
        return line
    digits = len(line) - len(line.lstrip("0123456789"))
    return f"{line[:digits]}\\{line[digits:]}" if digits else "\\" + line


def md_code(text: object, *, table: bool = False) -> str:
    """``text`` as a markdown code span showing it verbatim (on one line).

    The fence is one backtick longer than the longest run inside, so a backtick in a
    name cannot close it. In a GFM table (``table=True``) pipes are escaped too: GFM
    splits cells before it parses code spans, and shows ``\\|`` inside one as ``|``.
    """
    body = one_line(text)
    if table:
        body = body.replace("|", "\\|")
    if not body:
        return "` `"
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both are spaces, and a backtick
    # at an end would join the fence: pad with a space in both cases.
    if body[0] == "`" or body[-1] == "`" or (body[0] == " " and body[-1] == " " and body.strip()):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def html_text(text: object) -> str:
    """``text`` as HTML character data or a quoted attribute value, on one line."""
    return html.escape(one_line(text), quote=True)
