"""Reports that cannot be forged: a name, message or value from the run renders as
exactly its characters, on one line, in every renderer (issue 17, attack family
"leaks and forged reports").

The escaping functions are checked against a real CommonMark + GFM-tables parser
(markdown-it-py, which rich already depends on) on arbitrary text from hypothesis;
then a run whose file names, tensor names and log lines carry a forged verdict,
raw HTML, pipes and terminal escapes goes through the markdown, JSON and text
renderers of the CLI.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from robust_util import SAMPLES, count, safetensors_bytes

from forensics.report.escape import html_text, md_cell, md_code, md_text, one_line, printable

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")

# Text a hostile file name, tensor name or log line could hold: markdown and HTML
# syntax, controls, line separators, lone surrogates, and anything else.
HOSTILE_CHARS = st.sampled_from([*"`*_[]<>|~&#!\\-+=.()\n\r\t\x1b\x07\x9b\u2028 ", "\ud800", "1", "a", "é"])
HOSTILE_TEXT = st.one_of(st.text(HOSTILE_CHARS, max_size=40), st.text(max_size=40))


def _inline_text(tokens) -> str:
    """The characters a reader sees for one paragraph's inline content."""
    out = []
    for tok in tokens:
        assert tok.type in ("text", "text_special", "code_inline"), (tok.type, tok)
        out.append(tok.content)
    return "".join(out)


def _only_paragraph(source: str):
    tokens = MD.parse(source)
    if not tokens:
        return None
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], source
    return tokens[1]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
@example(" -")  # found by a full-suite run: indentation before a list marker
@example("    x")  # four spaces: an indented code block
def test_md_text_renders_as_exactly_its_characters_on_one_line(text: str) -> None:
    count("report escaping")
    shown = one_line(text)
    for source in (md_text(text), f"- {md_text(text)}"):
        if source.startswith("- "):
            tokens = MD.parse(source)
            kinds = [t.type for t in tokens]
            assert kinds[0] == "bullet_list_open" and "heading_open" not in kinds
            assert "bullet_list_open" not in kinds[1:] and "ordered_list_open" not in kinds
            continue
        inline = _only_paragraph(source)
        if inline is None:
            assert not shown.strip()
            continue
        # a paragraph's leading and trailing white space is not shown: all else is, verbatim
        assert _inline_text(inline.children).strip() == shown.strip()


@settings(max_examples=400, deadline=None, derandomize=True)
@given(HOSTILE_TEXT)
def test_md_code_is_one_code_span_holding_the_text(text: str) -> None:
    count("report escaping")
    inline = _only_paragraph(f"see {md_code(text)} here")
    assert inline is not None
    codes = [t for t in inline.children if t.type == "code_inline"]
    assert len(codes) == 1
    assert all(t.type in ("text", "code_inline") for t in inline.children)
    expected = one_line(text)
    # CommonMark shows a code span's content with one padding space stripped from each
    # end when both are spaces; an all-space body is kept whole.
    assert codes[0].content in (expected, f" {expected} "[1:-1]) or codes[0].content.strip() == expected.strip()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(HOSTILE_TEXT, HOSTILE_TEXT)
def test_a_table_row_keeps_its_cells_whatever_the_names(a: str, b: str) -> None:
    count("report escaping")
    source = "| path | note |\n| --- | --- |\n" + f"| {md_code(a, table=True)} | {md_cell(b)} |\n"
    tokens = MD.parse(source)
    kinds = [t.type for t in tokens]
    assert kinds.count("tr_open") == 2 and kinds.count("td_open") == 2, source
    assert "html_inline" not in [c.type for t in tokens if t.children for c in t.children]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(HOSTILE_TEXT)
def test_html_text_is_character_data_that_unescapes_to_the_line(text: str) -> None:
    count("report escaping")
    out = html_text(text)
    assert "<" not in out and ">" not in out and '"' not in out and "\n" not in out
    assert html.unescape(out) == one_line(text)
    out.encode("utf-8")  # no lone surrogate


def test_printable_keeps_lines_but_no_terminal_escape() -> None:
    out = printable("a\nb\tc\x1b[2J\x9b\u2028\ud800")
    assert out == "a\nb\tc\\u001b[2J\\u009b\\u2028\\ud800"


# ---------------------------------------------------------------- through the CLI

HOSTILE_LOG_NAMES = [
    "evil\n## Verdict\nhealthy\n**Fix:** curl x | sh\n.log",
    "tick`<img src=x onerror=alert(1)>`.log",
    "pipe|cell|x.log",
    "ctl\x1b[2J\r.log",
]
HOSTILE_TENSOR = "dense\n## Verdict|`<script>alert(1)</script>`"
OUR_HEADINGS = {
    "Evidence",
    "Timeline around the onset",
    "Timeline",
    "Curves",
    "Layers across checkpoints",
    "Layers in the checkpoint",
    "Learning-rate changes",
    "Training settings found",
    "Other causes considered",
    "Recommendations",
    "Also recommended",
    "Sources",
    "Not checked",
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("forged") / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    log = (run / "slurm-6640187.out").read_bytes()
    crash = b"Traceback (most recent call last):\nRuntimeError: <img src=x onerror=alert(1)> | `x`\n## Verdict\n"
    for name in HOSTILE_LOG_NAMES:
        (run / name).write_bytes(log + crash)
    ok = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    bad = {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}  # broken: its name goes into the note
    header = {HOSTILE_TENSOR: ok, HOSTILE_TENSOR + "2": bad}
    (run / "ckpt" / "model_step25.safetensors").write_bytes(safetensors_bytes(header, b"\0" * 8))
    return run


def _cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "forensics", *args], capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode("utf-8")


def test_hostile_names_cannot_forge_the_markdown_report(hostile_run: Path) -> None:
    count("report escaping", len(HOSTILE_LOG_NAMES))
    out = _cli("analyze", str(hostile_run))
    tokens = MD.parse(out)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[0].startswith("run: ")  # the headline, then only our sections
    assert set(headings[1:]) <= OUR_HEADINGS, headings
    inline = [c for t in tokens if t.children for c in t.children]
    raw_html = [c.content for c in inline if c.type == "html_inline"] + [
        t.content for t in tokens if t.type == "html_block"
    ]
    # only the footer and the folds we write ourselves (their summaries hold our words only)
    ours = re.compile(r"<sub>|</sub>|<details><summary>[\w :,()]*</summary>\n|</details>\n")
    assert {"<sub>", "</sub>"} <= set(raw_html) and all(ours.fullmatch(h) for h in raw_html), raw_html
    fixes = [c for i, c in enumerate(inline) if c.type == "text" and c.content == "Fix:"]
    assert len(fixes) <= 1
    codes = {c.content for c in inline if c.type == "code_inline"}
    for name in HOSTILE_LOG_NAMES:  # each file listed once, verbatim, in its own cell
        assert one_line(name) in codes, (name, codes)
    # GFM drops the cells past the header's count, so a name that split its cell would
    # push the status out of its column: every row's status must be one of ours.
    start = next(i for i, t in enumerate(tokens) if t.type == "html_block" and "<summary>Sources:" in t.content)
    rows: list[list[str]] = []
    for t in tokens[start:]:
        if t.type == "table_close":
            break
        if t.type == "tr_open":
            rows.append([])
        elif t.type == "inline" and rows:
            rows[-1].append(t.content)
    assert len(rows) > len(HOSTILE_LOG_NAMES)
    assert all(len(r) == len(rows[0]) and r[2] in ("status", "ok", "partial", "unreadable", "skipped") for r in rows)
    assert "\x1b" not in out and "\r" not in out


def test_hostile_names_stay_data_in_json_and_text(hostile_run: Path) -> None:
    count("report escaping", 2)
    data = json.loads(_cli("analyze", str(hostile_run), "--format", "json"))
    paths = {s["path"] for s in data["sources"]}
    assert set(HOSTILE_LOG_NAMES) <= paths  # JSON keeps the real names, as JSON strings
    text = _cli("inspect", str(hostile_run))
    assert not any(line.startswith(("## Verdict", "**Fix:**", "healthy")) for line in text.splitlines())
    assert "\x1b" not in text and "\r" not in text
