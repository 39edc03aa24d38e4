"""The markdown view: what a person pastes into a ticket.

The first screen answers the question: the verdict, why, the fix, what the
confidence means and (when figures are drawn) the curves. Then the evidence with
steps and links to the rule catalogue, a table around the onset, per-layer growth,
settings, other causes and recommendations; the long tables and the sources are
folded in ``<details>``. GitHub-flavoured markdown only.

No sentence is said twice: a fact stated in the summary is not repeated in the
evidence, the fix is not repeated among the recommendations (see :class:`Said`).
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import PurePath

import numpy as np

from forensics.report.escape import md_cell, md_code, md_text
from forensics.report.model import Report
from forensics.rules import REGISTRY
from forensics.rules.base import CONTEXT
from forensics.rules.checkpoint import checkpoint_health, checkpoint_only
from forensics.timeline import Series, Timeline
from forensics.util import fmt_num, units

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 48
NONFINITE_MARK = "✕"
TIMELINE_ROWS = 10
# Checkpoint columns of the layer table: more would not fit a ticket's width; the
# omission is said and the figure and the JSON keep every checkpoint.
MAX_LAYER_COLUMNS = 8
MAX_LAYERS = 12
# Tables longer than this many rows are folded in <details>.
FOLD_ROWS_ABOVE = 8
# Where the rule ids link to: the catalogue, relative to the repository root.
RULES_URL = "docs/rules.md"
CONFIDENCE_NOTE = (
    "_Confidence (0–1) is the probability of this cause given the evidence, calibrated on a corpus of "
    "small training runs with known faults: of the verdicts stated at 0.8 there, about 8 in 10 are right._"
)

CAUSE_NAMES = {
    "learning_rate": "learning rate",
    "exploding_weights": "exploding weights",
    "data_or_labels": "data or labels",
    "numerical_instability": "numerical instability",
    "healthy": "healthy",
    "inconclusive": "inconclusive",
}


def _name(run_dir: str) -> str:
    p = PurePath(run_dir)
    return p.name or str(p)


def _cell(text: object) -> str:
    """Text from the run in a table cell."""
    return md_cell(text)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(`'\"‘“])")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (at a full stop followed by a capital or a digit)."""
    return [p.strip() for p in _SENTENCE_END.split(text.strip()) if p.strip()]


class Said:
    """The sentences a report has said so far, so that none is said twice."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    @staticmethod
    def _key(sentence: str) -> str:
        return " ".join(sentence.lower().split()).rstrip(".;: ")

    def said(self, text: str) -> bool:
        """True when every sentence of ``text`` was said already."""
        return all(self._key(x) in self._keys for x in sentences(text))

    def new(self, text: str) -> str:
        """The sentences of ``text`` not said yet (now said), joined again."""
        out = []
        for x in sentences(text):
            k = self._key(x)
            if k and k not in self._keys:
                self._keys.add(k)
                out.append(x)
        return " ".join(out)


def _rule_link(rule: str, rules_url: str) -> str:
    return f"[{rule}]({rules_url}#{rule.lower()})" if rule in REGISTRY else f"**{_cell(rule)}**"


def _details(summary: str, body: list[str]) -> list[str]:
    """A folded block; GitHub needs the blank lines around the markdown inside."""
    return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def sparkline(values: np.ndarray, width: int = SPARK_WIDTH, log: bool = True) -> str:
    """Unicode sparkline; each character is the max of its bucket; a bucket holding
    a non-finite value shows ✕ so the blow-up is never averaged away."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return ""
    n = min(width, v.size)
    edges = np.linspace(0, v.size, n + 1).astype(int)
    cols: list[float] = []
    bad: list[bool] = []
    for a, b in itertools.pairwise(edges):
        chunk = v[a : max(b, a + 1)]
        fin = chunk[np.isfinite(chunk)]
        bad.append(fin.size < chunk.size)
        cols.append(float(fin.max()) if fin.size else math.nan)
    arr = np.array(cols)
    fin = np.isfinite(arr)
    if log and fin.any() and np.all(arr[fin] > 0):
        arr = np.where(fin, np.log10(np.where(fin, arr, 1.0)), np.nan)
    lo, hi = (float(np.nanmin(arr)), float(np.nanmax(arr))) if fin.any() else (0.0, 0.0)
    out = []
    for x, b in zip(arr, bad, strict=False):
        if b or not math.isfinite(x):
            out.append(NONFINITE_MARK)
        elif hi == lo:
            out.append(SPARK[3])
        else:
            out.append(SPARK[round((x - lo) / (hi - lo) * (len(SPARK) - 1))])
    return "".join(out)


def _range_txt(s: Series) -> str:
    fin = s.values[np.isfinite(s.values)]
    rng = f"{fmt_num(float(fin.min()))}..{fmt_num(float(fin.max()))}" if fin.size else "no finite value"
    return f"{units(s.unit)} {int(s.steps.min())}..{int(s.steps.max())}, {rng}"


def _headline(r: Report) -> str:
    v = r.verdict
    tl = r.timeline
    unit = tl.first_nonfinite.unit if tl is not None and tl.first_nonfinite is not None else "step"
    if r.first_nonfinite_step is not None:
        what = f"diverged at {unit} {r.first_nonfinite_step}"
    elif r.diverged and tl is not None and tl.exploded_step is not None:
        what = f"loss {tl.exploded_verb} at {tl.unit} {tl.exploded_step}"
    elif tl is not None and tl.nonfinite_unplaced is not None:
        what = "diverged (step unknown)"
    elif tl is not None and checkpoint_only(tl) and (r.diverged or v.cause == "healthy"):
        bad = tl.first_nonfinite_checkpoint is not None
        what = "non-finite weights" if bad else "weights exploded" if r.diverged else "weights healthy"
    elif tl is not None and (tl.died_with_exception or r.ending.ended == "crashed"):
        what = "crashed"  # on a traceback, or on a fatal message whose traceback the log did not keep
    elif v.cause == "healthy":
        what = "did not diverge"
    elif r.diverged and tl is not None and tl.loss is not None:
        what = "diverged with a finite loss"  # a finding that is a divergence by itself (a loss driven past its floor)
    elif v.cause != "inconclusive" and tl is not None and tl.loss is not None:
        what = "loss stayed finite"  # the weights' own findings named the cause
    else:
        what = "no divergence found"
    cause = CAUSES_TXT(v.cause, v.detail, v.detail_basis == "prior")
    return f"# {md_cell(_name(r.run_dir))}: {what} — {cause}, confidence {v.confidence:.2f}"


def CAUSES_TXT(cause: str, detail: str | None, prior: bool = False) -> str:
    """The cause as a headline names it, with its detail; a detail no finding names (a prior) is
    "likely" so."""
    base = CAUSE_NAMES.get(cause, cause)
    if not detail:
        return base
    return f"{base} ({'likely ' if prior else ''}{detail.replace('_', ' ')})"


def _value_at(s: Series | None, step: int) -> float | None:
    if s is None or not len(s):
        return None
    st, va = s.in_step_order  # sorted once per series, not once per row of the table
    i = int(np.searchsorted(st, step, side="right")) - 1
    if i < 0:
        return None
    return float(va[i])


def _timeline_rows(tl: Timeline) -> list[int]:
    loss = tl.loss
    assert loss is not None
    steps = loss.steps
    n = len(loss)
    if n <= TIMELINE_ROWS:
        return [int(s) for s in steps]
    nf_i = loss.first_nonfinite_index
    end = nf_i if nf_i is not None else n - 1
    picks: set[int] = {0, end}
    if nf_i is not None and nf_i + 1 < n:
        picks.add(nf_i + 1)
    if tl.onset is not None:
        oi = int(np.searchsorted(steps[: end + 1], tl.onset.step))
        oi = min(oi, end)
        picks.update({max(oi - 2, 0), oi})
        picks.update(int(x) for x in np.linspace(oi, end, 5).round())
    else:
        picks.update(int(x) for x in np.linspace(max(end - 6, 0), end, 6).round())
    for ch in tl.lr_changes:
        j = int(np.searchsorted(steps, ch.step))
        if 0 <= j < n:
            picks.add(j)
    if end > 0:
        picks.add(end - 1)
    rows = sorted(picks)
    if len(rows) > TIMELINE_ROWS:
        keep = {0, end, *(i for i in rows if i >= end - 2)}
        rest = [i for i in rows if i not in keep]
        stride = max(1, len(rest) // (TIMELINE_ROWS - len(keep)))
        rows = sorted(keep | set(rest[::stride][: TIMELINE_ROWS - len(keep)]))
    return [int(steps[i]) for i in rows]


def _timeline_table(tl: Timeline) -> list[str]:
    if tl.loss is None or not len(tl.loss):
        return []
    unit = tl.loss.unit
    norms = [(s, n) for s, n, _ in tl.weight_norms if s is not None]
    header = [unit, "loss"]
    if tl.lr is not None:
        header.append("LR")
    if tl.grad_norm is not None:
        header.append("grad norm (L2)")
    if norms:
        header.append("‖W‖ all layers, last checkpoint")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    onset = tl.onset.step if tl.onset is not None else None
    nf = tl.first_nonfinite.step if tl.first_nonfinite is not None else None
    for step in _timeline_rows(tl):
        mark = ""
        if step == onset:
            mark = " ← onset"
        if step == nf:
            # a log's non-finite value placed after a record that stayed finite: this row is the record's last point
            after = tl.first_nonfinite is not None and tl.first_nonfinite.after_record
            mark = " ← last recorded, non-finite after it" if after else " ← first non-finite"
        for ch in tl.lr_changes:
            if ch.step == step and ch.kind != "drop":
                mark += f" ← LR {ch.kind.replace('_', ' ')}"
        row = [f"{step}{mark}", fmt_num(_value_at(tl.loss, step))]
        if tl.lr is not None:
            row.append(fmt_num(_value_at(tl.lr, step)))
        if tl.grad_norm is not None:
            row.append(fmt_num(_value_at(tl.grad_norm, step)))
        if norms:
            before = [(s, n) for s, n in norms if s <= step]
            row.append(f"{fmt_num(before[-1][1])} (step {before[-1][0]})" if before else "-")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def _column_labels(views: list) -> list[str]:  # type: ignore[type-arg]
    """One distinct header per checkpoint: its step, or its file name where two share a step."""
    steps = [v.step for v in views]
    labels = []
    for v in views:
        if v.step is not None and steps.count(v.step) == 1:
            labels.append(f"step {v.step}")
        else:
            labels.append(PurePath(v.path).name + (f" (step {v.step})" if v.step is not None else ""))
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    return out


def _layer_table(tl: Timeline) -> tuple[list[str], str]:
    """The per-layer table and a sentence saying which checkpoints and layers it leaves out."""
    if not tl.layers or not tl.checkpoints:
        return [], ""
    views = tl.checkpoints
    left_out = ""
    if len(views) > MAX_LAYER_COLUMNS:
        idx = sorted(set(np.linspace(0, len(views) - 1, MAX_LAYER_COLUMNS).round().astype(int).tolist()))
        if tl.first_nonfinite_checkpoint is not None and tl.first_nonfinite_checkpoint.order not in idx:
            idx = sorted({*idx[:-2], idx[-1], tl.first_nonfinite_checkpoint.order})
        shown = [views[i] for i in idx]
        hidden = [v for v in views if v not in shown]
        names = ", ".join(str(v.step) if v.step is not None else md_cell(PurePath(v.path).name) for v in hidden[:8])
        left_out = (
            f"The table shows {len(shown)} of {len(views)} checkpoints; not shown: {names}"
            + (f" and {len(hidden) - 8} more" if len(hidden) > 8 else "")
            + " (the figure and the JSON have every checkpoint)."
        )
        views = shown
    cols = _column_labels(views)
    upd = tl.relative_updates[-1] if tl.relative_updates else None
    upd_head = [f"‖ΔW‖/‖W‖ per step, steps {upd.step_a}→{upd.step_b}"] if upd else []
    header = [
        "layer",
        *(f"‖W‖ at {md_cell(c)}" for c in cols),
        "growth, first to last finite",
        *upd_head,
        "first non-finite",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    tracks = tl.layers
    if len(tracks) > MAX_LAYERS:
        # keep the layers that tell the story: those that grew most or went non-finite first
        scored = sorted(tracks, key=lambda t: (t.first_nonfinite is None, -(t.growth() or 0)))
        keep = {t.layer for t in scored[:MAX_LAYERS]}
        tracks = [t for t in tracks if t.layer in keep]
    for t in tracks:
        by_order = {p.order: p for p in t.points}
        cells = []
        for v in views:
            p = by_order.get(v.order)
            if p is None:
                cells.append("-")
            elif p.nonfinite:
                cells.append(f"{NONFINITE_MARK} {p.nonfinite} non-finite")
            else:
                cells.append(fmt_num(p.l2))
        g = t.growth()
        first = t.first_nonfinite
        first_txt = (
            "-" if first is None else (f"step {first.step}" if first.step is not None else PurePath(first.source).name)
        )
        extra = []
        if upd is not None:
            d = upd.layers.get(t.layer)
            extra = [f"{d[0] / d[1] / upd.steps:.1e}" if d and d[1] > 0 else "-"]
        row = [t.layer, *cells, f"×{fmt_num(g)}" if g is not None else "-", *extra, first_txt]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    if len(tl.layers) > len(tracks):
        left_out += (" " if left_out else "") + (
            f"{len(tl.layers) - len(tracks)} of {len(tl.layers)} layers are not shown: the table keeps those that "
            "grew most or went non-finite first (the JSON has all)."
        )
    return lines, left_out


def _sparklines(tl: Timeline) -> list[str]:
    rows = []
    for label, s, log in (("loss", tl.loss, True), ("LR", tl.lr, True), ("grad norm", tl.grad_norm, True)):
        if s is not None and len(s) > 1:
            rows.append((label, sparkline(s.in_step_order[1], log=log), _range_txt(s)))
    norms = [(s, n) for s, n, _ in tl.weight_norms]
    if len(norms) > 1:
        vals = np.array(
            [n if not c.nonfinite_tensors else math.nan for (_, n), c in zip(norms, tl.checkpoints, strict=False)]
        )
        rows.append(("weight norm", sparkline(vals), f"{len(norms)} checkpoints"))
    if not rows:
        return []
    w = max(len(r[0]) for r in rows)
    out = ["```text"]
    out += [f"{label:<{w}}  {spark}  {rng}" for label, spark, rng in rows]
    out.append("```")
    out.append(f"_Log scale; each character is the max of its stretch; {NONFINITE_MARK} marks non-finite values._")
    return out


# Above this many sources, files that differ only by numbers in their path (one per
# checkpoint) are folded into one row with a * pattern.
FOLD_SOURCES_ABOVE = 12


def _grouped_sources(r: Report) -> list[tuple[str, str, str, str, str]]:
    """(path or pattern, kind, status, size, note) rows; files sharing a pattern or a
    note are one row, so no note is written twice."""
    from forensics.util import human_bytes

    rows = [(s.path, s.kind.value, s.status.value, s.size, s.note or "") for s in r.sources]
    fold = len(rows) > FOLD_SOURCES_ABOVE
    groups: dict[tuple[str, str, str, str], list[tuple[str, int]]] = {}
    for path, kind, status, size, note in rows:
        key = re.sub(r"\d+", "*", path) if fold else path
        groups.setdefault((key, kind, status, note), []).append((path, size))
    # then one row per note: the same note on two rows would say one thing twice
    by_note: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    rows_out: list[tuple[str, str, str, int, str]] = []
    for (key, kind, status, note), members in groups.items():
        label = f"{md_code(key, table=True)} ({len(members)} files)" if fold and key and len(members) > 1 else ""
        cells = (
            [(label, sum(sz for _, sz in members))] if label else [(md_code(p, table=True), sz) for p, sz in members]
        )
        if note:
            by_note.setdefault((kind, status, note), []).extend(cells)
        else:
            rows_out += [(c, kind, status, sz, "") for c, sz in cells]
    for (kind, status, note), cells in by_note.items():
        shown = ", ".join(c for c, _ in cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
        rows_out.append((shown, kind, status, sum(sz for _, sz in cells), note))
    return [(c, kind, status, human_bytes(sz), note) for c, kind, status, sz, note in rows_out]


def _sources_block(r: Report) -> list[str]:
    rows = _grouped_sources(r)
    with_note = any(note for *_, note in rows)
    header = ["path", "kind", "status", "size", *(["note"] if with_note else [])]
    table = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for path, kind, status, size, note in rows:
        table.append("| " + " | ".join([path, kind, status, size, *([_cell(note)] if with_note else [])]) + " |")
    counts: dict[str, int] = {}
    for s in r.sources:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    tally = ", ".join(f"{n} {st}" for st, n in counts.items())
    return _details(f"Sources: {len(r.sources)} files ({tally})", table)


def _evidence_lines(r: Report, said: Said, rules_url: str) -> list[str]:
    v = r.verdict
    top = next((c for c in r.candidates if c.cause == v.cause), None)
    shown = [e for e in (top.evidence if top else ()) if e.weight > 0 or e.weight == CONTEXT]
    context = [e for c in r.candidates if c.cause != v.cause for e in c.evidence if e.weight == CONTEXT]
    if v.cause == "inconclusive":
        shown = [e for c in r.candidates[:2] for e in c.evidence]
    out = []
    for e in dict.fromkeys([*shown, *context]):
        step = f" at step {e.step}" if e.step is not None else ""
        src = f" ({md_code(e.source)})" if e.source and e.source not in e.message else ""
        message = md_cell(said.new(e.message) or "stated in the summary above.")
        out.append(f"- {_rule_link(e.rule, rules_url)}{step} — {message}{src}")
    return out


def _timeline_intro(tl: Timeline) -> str:
    nf = tl.first_nonfinite
    if nf is None:
        return ""
    every = (
        ""
        if not math.isfinite(nf.interval)
        else f", logged every {nf.unit}"
        if nf.interval == 1
        else f", logged every {nf.interval:g} {units(nf.unit)}"
    )
    last = f"last finite at {nf.last_finite_step}" if nf.last_finite_step is not None else "no finite value before it"
    if nf.role == "val_loss" and nf.last_finite_step is not None:
        last = f"the training loss finite at {nf.last_finite_step}"  # what the divergence read from it stands on
    where = (
        f"after {nf.unit} {nf.step}, the last recorded point"
        if nf.after_record  # placed after a record that stayed finite: no step of its own to state
        else f"at {nf.unit} {nf.step} ({last}{every})"
    )
    out = f"First non-finite {md_code(nf.tag)} {where}; a crashing writer may lose its last buffered points."
    if nf.role == "val_loss":
        out += (
            " The training loss logged before it stays finite and none was logged after it: the validation loss, "
            "evaluated on the weights after the last update, shows the blow-up."
        )
    elif nf.role != "loss":
        out += (
            " The logged loss stays finite there: the logger replaced the non-finite loss (as Hugging "
            f"Face's logging_nan_inf_filter does), so the {nf.role.replace('_', ' ')} shows the blow-up."
        )
    for a, b in tl.restarts:
        out += (
            f" The job restarted: steps went back from {a} to {b}; the points written before the "
            "restart are kept (the table follows the history that led to the blow-up)."
        )
    logs_said: set[str] = set()
    for seen, why in tl.nonfinite_set_aside:
        if seen.source in logs_said:
            continue  # its loss's terms went non-finite with it: the log's first is said
        logs_said.add(seen.source)
        where = (
            "it is placed after the last recorded point"
            if nf.after_record
            else "the first non-finite step is the recorded one"
        )
        out += (
            f" {md_code(seen.source)} printed a non-finite {md_code(seen.tag)} at its step {seen.step}, where the "
            f"recorded loss was still finite: {why}; {where}."
        )
    if tl.steps_per_epoch and nf.unit == "step" and "epoch" in nf.tag.lower():
        out += f" Epochs mapped to steps at {tl.steps_per_epoch} steps/epoch ({tl.steps_per_epoch_origin})."
    return out


def _lr_change_lines(tl: Timeline, said: Said) -> list[str]:
    """The LR changes the timeline table does not already mark."""
    marked = set(_timeline_rows(tl)) if tl.loss is not None and len(tl.loss) else set()
    out = []
    for ch in tl.lr_changes:
        if ch.step in marked and ch.kind != "drop":
            continue
        after = ch.loss_ratio_after
        after_txt = (
            "the loss went non-finite after it"
            if after is not None and math.isinf(after)
            else f"the loss changed ×{after:.2g} over the next {ch.window} steps"
            if after is not None
            else "the loss was not logged around it"
        )
        line = (
            f"Step {ch.step}: {ch.kind.replace('_', ' ')} from {fmt_num(ch.before)} to {fmt_num(ch.after)}; "
            f"{after_txt}."
        )
        if not said.said(line):
            out.append("- " + said.new(line))
    return out


def _figure_line(fig: tuple[str, str]) -> str:
    url, title = fig
    return f"![{title}]({url})"


def to_markdown(
    r: Report,
    *,
    figures: dict[str, tuple[str, str]] | None = None,
    figures_note: str | None = None,
    rules_url: str = RULES_URL,
) -> str:
    """The report as GitHub-flavoured markdown.

    ``figures`` maps a figure's name (``timeline.png``, ``layers.png``) to its (link,
    title); without figures the curves are drawn as sparklines. ``figures_note`` is a
    line saying why figures are missing. Rule ids link to ``rules_url#id``.
    """
    tl = r.timeline
    v = r.verdict
    said = Said()
    if figures is not None and not figures and not figures_note:
        figures_note = "No figure: the run left no curve of two or more points and no checkpoint to draw."
    figures = figures or {}
    lines = [_headline(r), ""]
    summary = said.new(v.summary)
    if summary:
        lines += [md_text(summary), ""]
    if v.fix:
        lines += [f"**Fix:** {md_cell(said.new(v.fix) or v.fix)}", ""]
    end = r.ending
    if end.ended != "unknown":
        ended = f"**Ended:** {end.ended} ({md_text(end.how)})"
        if end.crash is not None:
            meaning = f" — {md_text(end.crash.meaning.replace('_', ' '))}" if end.crash.meaning else ""
            ended = f"**Ended:** {end.ended} on {md_code(end.crash.exception)}{meaning} ({md_code(end.crash.source)})"
        lines += [ended, ""]
    lines += [CONFIDENCE_NOTE, ""]
    said.new(CONFIDENCE_NOTE)
    if "timeline.png" in figures:
        lines += [_figure_line(figures["timeline.png"]), ""]
    elif figures_note:
        lines += [f"_{figures_note}_", ""]

    evidence = _evidence_lines(r, said, rules_url)
    if evidence:
        lines += ["## Evidence", "", *evidence, ""]

    if tl is not None:
        table = _timeline_table(tl)
        if table:
            title = "## Timeline around the onset" if tl.diverged else "## Timeline"
            intro = said.new(_timeline_intro(tl))
            lines += [title, "", *([intro, ""] if intro else []), *table, ""]
        if "timeline.png" not in figures:
            sparks = _sparklines(tl)
            if sparks:
                lines += ["## Curves", "", *sparks, ""]
        layers, left_out = _layer_table(tl)
        if layers:
            first = tl.first_nonfinite_checkpoint
            intro = ""
            if first is not None:
                bad_layers = list(dict.fromkeys(t.layer for t in first.nonfinite_tensors))
                intro = (
                    f"First non-finite weights: {md_code(first.path)} — {', '.join(md_cell(b) for b in bad_layers[:4])}"
                    + (f" and {len(bad_layers) - 4} more" if len(bad_layers) > 4 else "")
                    + "."
                )
            title = "## Layers across checkpoints" if len(tl.checkpoints) > 1 else "## Layers in the checkpoint"
            lines += [title, ""]
            if intro:
                lines += [intro, ""]
            if "layers.png" in figures:
                lines += [_figure_line(figures["layers.png"]), ""]
            if left_out:
                lines += [said.new(left_out), ""]
            if len(layers) - 2 > FOLD_ROWS_ABOVE:
                lines += [*_details(f"Per-layer table ({len(layers) - 2} layers)", layers), ""]
            else:
                lines += [*layers, ""]
        changes = _lr_change_lines(tl, said)
        if changes:
            lines += ["## Learning-rate changes", "", *changes, ""]

    settings = tl.settings if tl is not None else []
    if settings:
        lines += ["## Training settings found", "", "| setting | value | where |", "| --- | --- | --- |"]
        lines += [f"| {k} | {_cell(val)} | {md_code(src, table=True)} |" for k, val, src in settings]
        lines.append("")

    others = [c for c in r.candidates if c.cause != v.cause and c.score > 0]
    if others:
        lines += [
            "## Other causes considered",
            "",
            "_Score (0–1): that cause's probability given the evidence, before calibration._",
            "",
            "| cause | detail | score | strongest evidence |",
            "| --- | --- | --- | --- |",
        ]
        for c in others:
            e = next((x for x in c.evidence if x.weight > 0), None)
            if e is None:
                cell = "-"
            else:
                first_sentence = sentences(e.message)[0] if e.message.strip() else ""
                cell = f"{_rule_link(e.rule, rules_url)}: " + (
                    _cell(said.new(first_sentence)) if not said.said(first_sentence) else "listed under Evidence"
                )
            lines.append(f"| {CAUSE_NAMES.get(c.cause, c.cause)} | {_cell(c.detail or '-')} | {c.score:.2f} | {cell} |")
        lines.append("")

    recs = [said.new(rec) for rec in r.recommendations if not said.said(rec)]
    recs = [rec for rec in recs if rec]
    if recs:
        lines += ["## Recommendations" if not v.fix else "## Also recommended", ""]
        lines += [f"{i}. {md_text(rec)}" for i, rec in enumerate(recs, 1)]
        lines.append("")

    lines += [*_sources_block(r), ""]
    notes = [said.new(n) for n in [*r.not_checked, *r.problems]]
    notes = [n for n in notes if n]
    if notes:
        lines += ["## Not checked", ""]
        lines += [f"- {md_text(n)}" for n in notes]
        lines.append("")
    cited = _rules_cited(r, rules_url)
    if cited:
        lines += [*_details("Rules cited", cited), ""]
    lines.append(f"<sub>forensics {r.tool_version}</sub>")
    return "\n".join(lines) + "\n"


def single_checkpoint_outliers(r: Report) -> list[str]:
    """Layers of a lone checkpoint that exploded or are out of line with their neighbours."""
    tl = r.timeline
    if tl is None or len(tl.checkpoints) != 1:
        return []
    h = checkpoint_health(tl.checkpoints[0])
    return [x.layer for x in h.layers if x in h.exploded or x in h.out_of_line]


def _rules_cited(r: Report, rules_url: str) -> list[str]:
    """One line per rule that reported evidence: what it detects, from the catalogue."""
    ids = list(dict.fromkeys(e.rule for c in r.candidates for e in c.evidence if e.rule in REGISTRY))
    out = []
    for rid in sorted(ids):
        rule = REGISTRY[rid]
        what = " ".join(rule.section("What it detects").split())
        first = sentences(what)[0] if what else ""
        anchor = f'<a id="{rid.lower()}"></a>' if not rules_url else ""  # the HTML page links here
        out.append(f"- {anchor}{_rule_link(rid, rules_url)} {rule.name}: {first}")
    return out
