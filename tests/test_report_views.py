"""The report as people see it: markdown rendered as GitHub renders it, the HTML page,
the figures decoded, and what a ticket reader needs on the first screen.

The markdown is rendered with markdown-it-py (CommonMark plus GitHub's tables) and the
checks read the rendered tokens and the decoded images, not the source text.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from PIL import Image

import forensics
from forensics.report.markdown import sentences, to_markdown
from forensics.rules import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
SAMPLE_RUNS = sorted(json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))["runs"])

# A figure must be big enough to read and small enough for a ticket.
MIN_FIGURE_PX = (600, 150)
MAX_FIGURE_BYTES = 400_000
# Sentences shorter than this many words are table values ("ok", "6.71 (step 150)").
MIN_SENTENCE_WORDS = 4


def gfm() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _inline_texts(md: str) -> list[str]:
    """The text of every paragraph, list item, heading and table cell, as rendered."""
    out = []
    for tok in gfm().parse(md):
        if tok.type == "inline":
            text = "".join(c.content for c in tok.children or () if c.type in ("text", "code_inline"))
            out.append(" ".join(text.split()))
    return out


def _repeated_sentences(md: str) -> list[str]:
    counts = Counter(
        " ".join(s.lower().split()).rstrip(".")
        for text in _inline_texts(md)
        for s in sentences(text)
        if len(s.split()) >= MIN_SENTENCE_WORDS
    )
    return [s for s, n in counts.items() if n > 1]


_LR_TARGET = re.compile(r"(?:LR|learning rate)[^.;]*?(?:at about|to ≤|to|at)\s*([0-9][0-9.e+-]*)", re.IGNORECASE)


def _lr_targets(recommendations: list[str]) -> set[str]:
    """The values the recommendations set the learning rate to."""
    return {m.group(1).rstrip(".") for rec in recommendations for m in _LR_TARGET.finditer(rec)}


def _tables(html: str) -> list[list[list[str]]]:
    """Each table of a rendered page as rows of cell texts (header row first)."""

    class P(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[list[list[str]]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.tables[-1][-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    p = P()
    p.feed(html)
    return p.tables


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        for key in ("href", "src"):
            if key in a and tag != "img":
                self.links.append(a[key])


def _check_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG"), "not a PNG"
    assert len(data) < MAX_FIGURE_BYTES, f"figure of {len(data)} bytes"
    img = Image.open(io.BytesIO(data))
    img.load()  # decodes every pixel: a truncated file raises
    assert img.width >= MIN_FIGURE_PX[0] and img.height >= MIN_FIGURE_PX[1], img.size
    # not blank: a real plot has many colours
    assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or ()) > 20
    return img


def _drawable(tl) -> bool:
    """A curve of two points or more, or a checkpoint with layers."""
    curves = (tl.loss, tl.lr, tl.grad_norm)
    return any(s is not None and len(s) >= 2 for s in curves) or bool(tl.checkpoints and tl.layers)


@pytest.fixture(scope="module")
def saved(reports, tmp_path_factory):
    """Every sample report saved as markdown with its figures, in its own folder."""
    base = tmp_path_factory.mktemp("saved")
    out = {}
    for name in SAMPLE_RUNS:
        folder = base / name
        folder.mkdir()
        files = reports[name].save(folder / "report.md")
        out[name] = (folder / "report.md", files, reports[name].timeline)
    return out


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_markdown_report_renders_with_its_figures_as_github_would(saved, name):
    path, files, tl = saved[name]
    md = path.read_text(encoding="utf-8")
    html = gfm().render(md)
    p = _Images()
    p.feed(html)
    if not _drawable(tl):
        assert not p.images and "No figure: the run left no curve of two or more points" in md
        return
    assert p.images, f"{name}: no figure in the rendered markdown"
    for img in p.images:
        src = img["src"]
        assert not src.startswith(("/", "http", "data:")), f"{name}: figure link {src} is not relative"
        assert src.startswith("report_files/"), src
        assert img["alt"], f"{name}: figure without alt text"
        target = path.parent / src
        assert target in files, f"{name}: {src} was not written"
        _check_png(target.read_bytes())


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_no_sentence_is_said_twice_and_no_recommendation_contradicts_another(reports, saved, name):
    md = saved[name][0].read_text(encoding="utf-8")
    assert not _repeated_sentences(md), f"{name}: said twice: {_repeated_sentences(md)}"
    assert not _repeated_sentences(reports[name].to_markdown())
    targets = _lr_targets(reports[name].recommendations)
    assert len(targets) <= 1, f"{name}: the recommendations set the LR to {sorted(targets)}"


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_first_screen_has_verdict_fix_and_what_confidence_means(saved, name):
    md = saved[name][0].read_text(encoding="utf-8")
    tokens = gfm().parse(md)
    blocks = [t for t in tokens if t.type in ("heading_open", "paragraph_open")]
    assert blocks[0].type == "heading_open" and blocks[0].tag == "h1"
    first_screen = "\n".join(md.split("\n## ", 1)[0].splitlines())
    assert "confidence" in first_screen.lower() and "_Confidence (0–1) is the probability" in first_screen
    if "**Fix:**" in md:
        # the fix is its own paragraph (GitHub joins lines without a blank line between them)
        html = gfm().render(md)
        assert "<p><strong>Fix:</strong>" in html
        before = md.split("**Fix:**", 1)[0]
        assert before.endswith("\n\n")


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_tables_have_distinct_headers_and_sources_are_folded(saved, name):
    md = saved[name][0].read_text(encoding="utf-8")
    html = gfm().render(md)
    for table in _tables(html):
        header = table[0]
        assert len(header) == len(set(header)), f"{name}: duplicate column headers {header}"
        assert all(len(row) == len(header) for row in table), f"{name}: ragged table {header}"
    assert re.search(r"<details><summary>Sources: \d+ files", html), f"{name}: sources not in <details>"


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_rule_ids_link_to_the_catalogue(reports, saved, name):
    md = saved[name][0].read_text(encoding="utf-8")
    cited = {e.rule for c in reports[name].candidates for e in c.evidence}
    catalogue = (SAMPLES.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule in cited & set(REGISTRY):
        assert f"[{rule}](docs/rules.md#{rule.lower()})" in md, f"{name}: {rule} not linked"
        assert f"\n## {rule}\n" in catalogue  # the anchor exists


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_every_checkpoint_is_in_the_layer_table_or_its_omission_is_said(reports, saved, name):
    tl = reports[name].timeline
    if not tl.layers or not tl.checkpoints:
        return
    md = saved[name][0].read_text(encoding="utf-8")
    html = gfm().render(md)
    layer_table = next(t for t in _tables(html) if t[0][0] == "layer")
    columns = [h for h in layer_table[0] if h.startswith("‖W‖ at ")]
    if len(columns) < len(tl.checkpoints):
        assert f"The table shows {len(columns)} of {len(tl.checkpoints)} checkpoints; not shown:" in md
    else:
        assert len(columns) == len(tl.checkpoints)


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_html_page_is_self_contained_with_every_figure_inline(reports, name):
    page = reports[name].to_html()
    p = _Images()
    p.feed(page)
    assert "script" not in p.tags, f"{name}: the page has a script"
    assert p.images or not _drawable(reports[name].timeline), f"{name}: no figure on the page"
    for img in p.images:
        assert img["src"].startswith("data:image/png;base64,"), f"{name}: {img['src'][:40]} is not inline"
        _check_png(base64.b64decode(img["src"].split(",", 1)[1], validate=True))
    for link in p.links:
        assert link.startswith("#"), f"{name}: the page links out to {link}"
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # the rule links land on the rules cited on the page
    for anchor in re.findall(r'href="#([a-z0-9]+)"', page):
        assert f'id="{anchor}"' in page, f"{name}: #{anchor} has no target"


def test_report_renders_without_figures_when_matplotlib_is_missing(reports, monkeypatch, tmp_path):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    r = reports["torch_lr_schedule_spike"]
    files = r.save(tmp_path / "report.md")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert files == [tmp_path / "report.md"]
    assert "Figures skipped: matplotlib is not installed" in md
    assert "## Curves" in md  # the sparklines stand in
    page = r.to_html()
    assert "<img" not in page and "Figures skipped" in page


def test_markdown_on_stdout_has_no_figure_links_but_sparklines(reports):
    md = to_markdown(reports["torch_lr_schedule_spike"])
    assert "![" not in md and "## Curves" in md


def test_analyze_of_an_empty_folder_raises_the_error_the_cli_prints(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(forensics.errors.UsageError, match="no training artifacts found"):
        forensics.analyze(str(tmp_path / "empty"))


def test_short_reprs_for_notebooks(reports):
    r = reports["torch_lr_schedule_spike"]
    for obj, start in (
        (r, "<Report "),
        (r.verdict, "<Verdict learning_rate/lr_schedule_spike"),
        (r.timeline.loss, "<Series loss"),
        (r.timeline, "<Timeline "),
    ):
        text = repr(obj)
        assert text.startswith(start) and len(text) < 200, text


def test_to_frame_is_the_timeline_by_step(reports):
    pd = pytest.importorskip("pandas")
    r = reports["torch_lr_schedule_spike"]
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert {"loss", "lr", "grad_norm", "weight_norm"} <= set(frame.columns)
    assert frame.index.name == "step" and frame.index.is_monotonic_increasing
    nf = r.first_nonfinite_step
    assert not pd.Series(frame.loss.loc[nf]).map(lambda v: v == v and abs(v) < float("inf")).all()
    assert frame.loss.loc[: nf - 1].notna().all()


def test_repr_html_shows_the_figures_inline(reports):
    html = reports["keras_lr_too_high"]._repr_html_()
    p = _Images()
    p.feed(html)
    assert p.images and all(i["src"].startswith("data:image/png;base64,") for i in p.images)
    assert "<html" not in html  # a fragment for the cell, not a page


def test_figure_module_draws_several_runs_side_by_side(reports):
    from forensics.report.figures import runs_figure

    png = runs_figure([(n, reports[n].timeline) for n in ("torch_healthy", "torch_lr_schedule_spike")])
    assert png is not None
    _check_png(png)


@pytest.mark.parametrize("name", ["torch_healthy", "keras_lr_too_high", "keras_unnormalized_inputs"])
def test_the_validation_loss_is_drawn_beside_the_training_loss(reports, name):
    """A run that logged a validation loss shows it on the training loss's panel, on the same axes (the
    gap between them is what a reader looks for), every finite evaluation drawn and each non-finite one
    marked; a run with no validation loss keeps its one curve."""
    from forensics.report.figures import draw_timeline

    tl = reports[name].timeline
    assert tl.val_loss is not None and tl.val_loss.unit == tl.loss.unit
    fig = draw_timeline(tl)
    try:
        ax = fig.axes[0]
        _, labels = ax.get_legend_handles_labels()
        assert "training loss" in labels and "validation loss" in labels
        drawn = next(line for line in ax.get_lines() if line.get_label() == "validation loss")
        vals = tl.val_loss.values
        assert len(drawn.get_xdata()) == int(sum(1 for v in vals if v == v and abs(v) != float("inf")))
        bad = sum(1 for v in vals if not (v == v and abs(v) != float("inf")))
        assert (f"validation loss non-finite ({bad})" in labels) == (bad > 0)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    from forensics.report.figures import timeline_figure

    _check_png(timeline_figure(tl))


def test_a_run_without_a_validation_loss_draws_one_loss_curve(reports):
    from forensics.report.figures import draw_timeline

    tl = reports["torch_lr_schedule_spike"].timeline
    assert tl.val_loss is None
    fig = draw_timeline(tl)
    try:
        lines = fig.axes[0].get_lines()
        assert not any("validation" in line.get_label() for line in lines)
        finite = sum(1 for v in tl.loss.values if v == v and abs(v) != float("inf"))
        assert len(lines[0].get_xdata()) == finite
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
