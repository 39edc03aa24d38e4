"""The markdown view: what a person pastes into a ticket.

The first three lines answer the question (verdict, why, fix); then the
evidence with steps, a table around the onset, per-layer growth, sparklines,
the sources and what could not be checked. GitHub-flavoured markdown only.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import PurePath

import numpy as np

from forensics.report.escape import md_cell, md_code, md_text
from forensics.report.model import Report
from forensics.rules.base import CONTEXT
from forensics.timeline import Series, Timeline
from forensics.util import fmt_num

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 48
NONFINITE_MARK = "✕"
TIMELINE_ROWS = 10
MAX_LAYER_COLUMNS = 6
MAX_LAYERS = 12

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
    return md_cell(text)


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
    return f"{s.unit}s {int(s.steps.min())}..{int(s.steps.max())}, {rng}"


def _headline(r: Report) -> str:
    v = r.verdict
    tl = r.timeline
    unit = tl.first_nonfinite.unit if tl is not None and tl.first_nonfinite is not None else "step"
    if r.first_nonfinite_step is not None:
        what = f"diverged at {unit} {r.first_nonfinite_step}"
    elif r.diverged and tl is not None and tl.exploded_step is not None:
        what = f"loss exploded at step {tl.exploded_step}"
    elif tl is not None and tl.died_with_exception:
        what = "crashed"
    elif v.cause == "healthy":
        what = "did not diverge"
    else:
        what = "no divergence found"
    cause = CAUSES_TXT(v.cause, v.detail)
    return f"# {md_cell(_name(r.run_dir))}: {what} — {cause}, confidence {v.confidence:.2f}"


def CAUSES_TXT(cause: str, detail: str | None) -> str:
    base = CAUSE_NAMES.get(cause, cause)
    return f"{base} ({detail.replace('_', ' ')})" if detail else base


def _value_at(s: Series | None, step: int) -> float | None:
    if s is None or not len(s):
        return None
    order = np.argsort(s.steps, kind="stable")
    st, va = s.steps[order], s.values[order]
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
        header.append("grad norm")
    if norms:
        header.append("weight norm (last ckpt)")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    onset = tl.onset.step if tl.onset is not None else None
    nf = tl.first_nonfinite.step if tl.first_nonfinite is not None else None
    for step in _timeline_rows(tl):
        mark = ""
        if step == onset:
            mark = " ← onset"
        if step == nf:
            mark = " ← first non-finite"
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
            row.append(f"{fmt_num(before[-1][1])} (@{before[-1][0]})" if before else "-")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def _layer_table(tl: Timeline) -> list[str]:
    if not tl.layers or not tl.checkpoints:
        return []
    views = tl.checkpoints
    if len(views) > MAX_LAYER_COLUMNS:
        idx = sorted({0, *np.linspace(0, len(views) - 1, MAX_LAYER_COLUMNS).round().astype(int).tolist()})
        views = [views[i] for i in idx]
    cols = [f"{v.step}" if v.step is not None else PurePath(v.path).name for v in views]
    upd = tl.relative_updates[-1] if tl.relative_updates else None
    upd_head = f" ‖ΔW‖/‖W‖ per step, {upd.step_a}→{upd.step_b} |" if upd else ""
    weights = " | ".join(f"‖W‖ @{md_cell(c)}" for c in cols)
    head = "| layer | " + weights + " | growth |" + upd_head + " first non-finite |"
    lines = [head, "|" + " --- |" * (len(cols) + 3 + (1 if upd else 0))]
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
        row = [t.layer, *cells, f"{g:.3g}x" if g is not None else "-", *extra, first_txt]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    if len(tl.layers) > len(tracks):
        lines.append(f"\n_{len(tl.layers) - len(tracks)} more layers not shown (JSON has all)._")
    return lines


def _sparklines(tl: Timeline) -> list[str]:
    rows = []
    for label, s, log in (("loss", tl.loss, True), ("LR", tl.lr, True), ("grad norm", tl.grad_norm, True)):
        if s is not None and len(s) > 1:
            order = np.argsort(s.steps, kind="stable")
            rows.append((label, sparkline(s.values[order], log=log), _range_txt(s)))
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


def _grouped_sources(r: Report) -> list[tuple[str, str, str, str]]:
    rows = [(s.path, s.kind.value, s.status.value, s.note or "") for s in r.sources]
    if len(rows) <= FOLD_SOURCES_ABOVE:
        return rows
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for path, kind, status, note in rows:
        groups.setdefault((re.sub(r"\d+", "*", path), kind, status, note), []).append(path)
    out = []
    for (pattern, kind, status, note), paths in groups.items():
        if len(paths) == 1:
            out.append((paths[0], kind, status, note))
        else:
            out.append((f"{pattern}", kind, status, f"{len(paths)} files" + (f"; {note}" if note else "")))
    return out


def to_markdown(r: Report) -> str:
    tl = r.timeline
    v = r.verdict
    lines = [_headline(r), md_text(v.summary)]
    if v.fix:
        lines.append(f"**Fix:** {md_cell(v.fix)}")
    lines.append("")

    top = next((c for c in r.candidates if c.cause == v.cause), None)
    shown = [e for e in (top.evidence if top else ()) if e.weight > 0 or e.weight == CONTEXT]
    context = [e for c in r.candidates if c.cause != v.cause for e in c.evidence if e.weight == CONTEXT]
    if v.cause == "inconclusive":
        shown = [e for c in r.candidates[:2] for e in c.evidence]
    listed = list(dict.fromkeys([*shown, *context]))
    if listed:
        lines += ["## Evidence", ""]
        for e in listed:
            step = f"step {e.step} — " if e.step is not None else ""
            src = f" ({md_code(e.source)})" if e.source and e.source not in e.message else ""
            lines.append(f"- **{md_cell(e.rule)}** {step}{md_cell(e.message)}{src}")
        lines.append("")

    if tl is not None:
        table = _timeline_table(tl)
        if table:
            title = "## Timeline around the onset" if tl.diverged else "## Timeline"
            nf = tl.first_nonfinite
            window = ""
            if nf is not None:
                interval = f", logged every {nf.interval:g} {nf.unit}s" if math.isfinite(nf.interval) else ""
                last = (
                    f"last finite at {nf.last_finite_step}"
                    if nf.last_finite_step is not None
                    else "no finite value before it"
                )
                window = (
                    f"\nFirst non-finite {md_code(nf.tag)} at {nf.unit} {nf.step} ({last}{interval}); "
                    "a crashing writer may lose its last buffered points."
                )
                if nf.role != "loss":
                    window += (
                        f" The logged loss stays finite there: the logger replaced the non-finite loss (as Hugging "
                        f"Face's logging_nan_inf_filter does), so the {nf.role.replace('_', ' ')} shows the blow-up."
                    )
                for a, b in tl.restarts:
                    window += (
                        f" The job restarted: steps went back from {a} to {b}; the points written before the "
                        "restart are kept (the table follows the history that led to the blow-up)."
                    )
                if tl.steps_per_epoch and nf.unit == "step" and "epoch" in nf.tag.lower():
                    window += (
                        f" Epochs mapped to steps at {tl.steps_per_epoch} steps/epoch ({tl.steps_per_epoch_origin})."
                    )
            lines += [title + window, "", *table, ""]
        sparks = _sparklines(tl)
        if sparks:
            lines += ["## Curves", "", *sparks, ""]
        layers = _layer_table(tl)
        if layers:
            first = tl.first_nonfinite_checkpoint
            intro = ""
            if first is not None:
                bad_layers = []
                for t in first.nonfinite_tensors:
                    if t.layer not in bad_layers:
                        bad_layers.append(t.layer)
                intro = (
                    f"First non-finite weights: {md_code(first.path)} — {', '.join(md_cell(b) for b in bad_layers[:4])}"
                    + (f" and {len(bad_layers) - 4} more" if len(bad_layers) > 4 else "")
                    + ".\n"
                )
            lines += ["## Layers across checkpoints", "", *([intro] if intro else []), *layers, ""]
        if tl.lr_changes:
            lines += ["## Learning-rate changes", ""]
            for ch in tl.lr_changes:
                after = ch.loss_ratio_after
                after_txt = (
                    "loss went non-finite after"
                    if after is not None and math.isinf(after)
                    else f"loss ×{after:.2g} in the next {ch.window} steps"
                    if after is not None
                    else "loss not logged around it"
                )
                lines.append(
                    f"- step {ch.step}: {ch.kind.replace('_', ' ')} {fmt_num(ch.before)} → {fmt_num(ch.after)}; "
                    f"{after_txt}"
                )
            lines.append("")

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
            "| cause | detail | score | strongest evidence |",
            "| --- | --- | --- | --- |",
        ]
        for c in others:
            e = next((x for x in c.evidence if x.weight > 0), None)
            lines.append(
                f"| {c.cause} | {c.detail or '-'} | {c.score:.2f} | "
                f"{_cell(e.rule + ': ' + e.message[:140]) if e else '-'} |"
            )
        lines.append("")

    if r.recommendations:
        lines += ["## Recommendations", ""]
        lines += [f"{i}. {md_text(rec)}" for i, rec in enumerate(r.recommendations, 1)]
        lines.append("")

    lines += ["## Sources", "", "| path | kind | status | note |", "| --- | --- | --- | --- |"]
    for path, kind, status, note in _grouped_sources(r):
        lines.append(f"| {md_code(path, table=True)} | {kind} | {status} | {_cell(note)} |")
    lines.append("")
    if r.not_checked or r.problems:
        lines += ["## Not checked", ""]
        lines += [f"- {md_text(n)}" for n in r.not_checked]
        lines += [f"- {md_text(p)}" for p in r.problems]
        lines.append("")
    lines.append(f"<sub>forensics {r.tool_version}</sub>")
    return "\n".join(lines) + "\n"
