"""Hold a diverged run against a healthy sibling: where their curves part, what was set
differently, and how each layer's weights compare.

What it detects: the first step from which the diverged run's loss stays apart from
the healthy run's by more than :data:`SEPARATION_FACTOR` (either way), for at least
:data:`SEPARATION_PERSISTENCE` logged points or until the loss turns non-finite. Two
runs of a sweep rarely log the same numbers (another seed, another batch order), but
runs of one model on one data set start within that factor of each other; the ratio
at the first common step is reported beside it, so runs apart from the start show.

Why it points to a cause: the two runs share a model and data; what differs is in
the settings table. The separation step says when the difference began to matter —
right at the start for a step size that is too large, at a schedule change, or late
for a slow geometric growth — and the per-layer norms say where in the model.

Evidence: the step, both losses there and their ratio; the settings and config keys
that differ; each layer's weight norm in both runs at the last checkpoint before
the divergence; both curves on one scale.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from forensics.load import RunData
from forensics.report.escape import md_cell, md_code
from forensics.report.model import Report
from forensics.settings import LABELS, format_value, run_settings
from forensics.timeline import Series, Timeline
from forensics.util import fmt_num, units

# The curves have parted when the losses differ by this factor: twice the loss is well
# outside the step-to-step noise of a training curve and the spread of seeds.
SEPARATION_FACTOR = 2.0
# ... and stay apart this many logged points in a row (or turn non-finite): one noisy
# batch is not a separation.
SEPARATION_PERSISTENCE = 3
SPARK_WIDTH = 60
MAX_CONFIG_ROWS = 25
MAX_LAYER_ROWS = 16
_SPARK = "▁▂▃▄▅▆▇█"
_NONFINITE = "✕"


@dataclass(frozen=True)
class Separation:
    series: str  # "loss" or "grad_norm"
    step: int
    healthy: float | None  # at that step (None where the healthy run logged nothing there)
    diverged: float
    ratio: float | None  # diverged / healthy
    first_step: int  # the first step both runs logged
    first_ratio: float | None  # diverged / healthy there


@dataclass(frozen=True)
class LayerRow:
    layer: str
    healthy_l2: float | None
    healthy_step: int | None
    diverged_l2: float | None
    diverged_step: int | None
    diverged_first_nonfinite: int | None

    @property
    def ratio(self) -> float | None:
        if self.healthy_l2 and self.diverged_l2 is not None and self.healthy_l2 > 0:
            return self.diverged_l2 / self.healthy_l2
        return None


@dataclass
class Comparison:
    healthy: Report
    diverged: Report
    separations: list[Separation] = field(default_factory=list)
    settings: list[tuple[str, Any, Any]] = field(default_factory=list)  # (name, healthy, diverged)
    config: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key path, healthy, diverged)
    layers: list[LayerRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from forensics.report.json_report import _clean

        def side(r: Report) -> dict[str, Any]:
            return {
                "run_dir": r.run_dir,
                "diverged": r.diverged,
                "first_nonfinite_step": r.first_nonfinite_step,
                "cause": r.verdict.cause,
                "detail": r.verdict.detail,
                "confidence": r.verdict.confidence,
            }

        return _clean(
            {
                "schema_version": 1,
                "kind": "compare",
                "healthy": side(self.healthy),
                "diverged": side(self.diverged),
                "separation": [vars(s) for s in self.separations],
                "settings_diff": [{"setting": k, "healthy": a, "diverged": b} for k, a, b in self.settings],
                "config_diff": [{"key": k, "healthy": a, "diverged": b} for k, a, b in self.config],
                "layers": [{**vars(row), "ratio": row.ratio} for row in self.layers],
                "notes": list(self.notes),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        return compare_markdown(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


# ---------------------------------------------------------------- separation


def _aligned(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, healthy, diverged) on the diverged run's steps inside the healthy run's range,
    the healthy curve interpolated (last write wins where a step was logged twice)."""
    ha, hv = _dedup(a)
    ds, dv = _dedup(b)
    fin = np.isfinite(hv)
    if fin.sum() < 2:
        return np.array([], dtype=np.int64), np.array([]), np.array([])
    ha, hv = ha[fin], hv[fin]
    keep = (ds >= ha[0]) & (ds <= ha[-1])
    ds, dv = ds[keep], dv[keep]
    return ds, np.interp(ds, ha, hv), dv


def _dedup(s: Series) -> tuple[np.ndarray, np.ndarray]:
    steps = s.steps[::-1]
    _, idx = np.unique(steps, return_index=True)  # first in reversed order = last written
    order = np.sort(len(steps) - 1 - idx)
    return s.steps[order].astype(np.int64), s.values[order].astype(np.float64)


def find_separation(healthy: Series, diverged: Series) -> Separation | None:
    steps, h, d = _aligned(healthy, diverged)
    if steps.size < SEPARATION_PERSISTENCE:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((h > 0) & (d > 0), d / h, np.nan)
        gap = np.abs(np.log10(ratio))
    limit = math.log10(SEPARATION_FACTOR)
    first = float(ratio[0]) if math.isfinite(ratio[0]) else None
    bad = ~np.isfinite(d)
    apart = bad | (np.isfinite(gap) & (gap > limit))
    for i in range(steps.size):
        if not apart[i]:
            continue
        run = apart[i : i + SEPARATION_PERSISTENCE]
        if run.all() or bad[i : i + SEPARATION_PERSISTENCE].any():
            r = float(ratio[i]) if math.isfinite(ratio[i]) else None
            return Separation(
                healthy.role,
                int(steps[i]),
                float(h[i]),
                float(d[i]),
                r,
                int(steps[0]),
                first,
            )
    return None


# ---------------------------------------------------------------- settings and configs


def _flat(tree: Any, prefix: str = "", out: dict[str, Any] | None = None, depth: int = 0) -> dict[str, Any]:
    out = {} if out is None else out
    if depth > 8 or len(out) > 5000:
        return out
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(tree, (str, int, float, bool)) or tree is None:
        out[prefix] = tree
    return out


def _config_tree(run: RunData | None) -> dict[str, Any]:
    """Every config key of the run, by file name then key path; event hparams too."""
    out: dict[str, Any] = {}
    if run is None:
        return out
    for c in run.configs:
        name = PurePath(c.source.path).name
        for k, v in _flat(c.raw).items():
            out[f"{name}: {k}"] = v
    for ev in run.events:
        for k, v in ev.hparams.items():
            out[f"hparams: {k}"] = v
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    return a == b


# ---------------------------------------------------------------- layers


def _layers(h: Timeline | None, d: Timeline | None, until: int | None) -> list[LayerRow]:
    if h is None or d is None or not d.layers:
        return []
    healthy = {t.layer: t for t in h.layers}
    rows = []
    for t in d.layers:
        before = [p for p in t.points if not p.nonfinite and (until is None or p.step is None or p.step <= until)]
        dp = before[-1] if before else None
        first_bad = t.first_nonfinite
        ht = healthy.get(t.layer)
        hp = None
        if ht is not None:
            finite = [p for p in ht.points if not p.nonfinite]
            if finite and dp is not None and dp.step is not None:
                hp = min(finite, key=lambda p: abs((p.step if p.step is not None else 0) - dp.step))
            elif finite:
                hp = finite[-1]
        rows.append(
            LayerRow(
                t.layer,
                hp.l2 if hp else None,
                hp.step if hp else None,
                dp.l2 if dp else None,
                dp.step if dp else None,
                first_bad.step if first_bad else None,
            )
        )
    return rows


# ---------------------------------------------------------------- the comparison


def compare_reports(
    healthy: Report, diverged: Report, healthy_run: RunData | None = None, diverged_run: RunData | None = None
) -> Comparison:
    """Compare two analysed runs (:func:`forensics.analyze` reports); the settings and
    config differences need what was read (``RunData``, from :func:`compare`)."""
    cmp = Comparison(healthy, diverged)
    ht, dt = healthy.timeline, diverged.timeline
    if healthy.diverged:
        cmp.notes.append(f"the baseline {healthy.run_dir} diverged too: the comparison is between two failures")
    if not diverged.diverged:
        cmp.notes.append(f"{diverged.run_dir} did not diverge")
    for role in ("loss", "grad_norm"):
        a = getattr(ht, role, None) if ht is not None else None
        b = getattr(dt, role, None) if dt is not None else None
        if a is None or b is None:
            if role == "loss":
                cmp.notes.append("no training loss in both runs: the curves cannot be compared")
            continue
        if a.unit != b.unit:
            cmp.notes.append(f"{role}: one run logs by {a.unit}, the other by {b.unit}; not compared")
            continue
        sep = find_separation(a, b)
        if sep is not None:
            cmp.separations.append(sep)
    hs, ds = run_settings(healthy_run, ht), run_settings(diverged_run, dt)
    for name in LABELS:
        a = hs[name].value if name in hs else None
        b = ds[name].value if name in ds else None
        if (a is not None or b is not None) and not _same(a, b):
            cmp.settings.append((name, a, b))
    hc, dc = _config_tree(healthy_run), _config_tree(diverged_run)
    for key in sorted(set(hc) | set(dc)):
        a, b = hc.get(key), dc.get(key)
        if not _same(a, b):
            cmp.config.append((key, a, b))
    until = diverged.first_nonfinite_step if diverged.first_nonfinite_step is not None else None
    cmp.layers = _layers(ht, dt, until)
    return cmp


def compare(healthy: str, diverged: str, **options: Any) -> Comparison:
    """Analyse both runs (each alone, as :func:`forensics.analyze` does) and compare them."""
    from forensics.sweep import load_and_analyze

    h_report, h_run = load_and_analyze(healthy, **options)
    d_report, d_run = load_and_analyze(diverged, **options)
    return compare_reports(h_report, d_report, h_run, d_run)


# ---------------------------------------------------------------- rendering


def _name(run_dir: str) -> str:
    p = PurePath(run_dir.rstrip("/"))
    return p.name or str(p)


def paired_sparklines(a: Series, b: Series, width: int = SPARK_WIDTH) -> tuple[str, str, int, int]:
    """Both curves on one step axis and one log scale; each column is a bucket's max,
    ✕ where a bucket holds a non-finite value."""
    lo_step = int(min(a.steps.min(), b.steps.min()))
    hi_step = int(max(a.steps.max(), b.steps.max()))
    edges = np.linspace(lo_step, hi_step + 1, width + 1)
    cols: list[list[float | None]] = []
    for s in (a, b):
        row: list[float | None] = []
        for lo, hi in itertools.pairwise(edges):
            v = s.values[(s.steps >= lo) & (s.steps < hi)]
            if v.size == 0:
                row.append(None)
            elif not np.isfinite(v).all():
                row.append(math.nan)
            else:
                row.append(float(v.max()))
        cols.append(row)
    finite = [x for row in cols for x in row if x is not None and math.isfinite(x)]
    log = bool(finite) and min(finite) > 0

    def tr(x: float) -> float:
        return math.log10(x) if log else x

    lo, hi = (tr(min(finite)), tr(max(finite))) if finite else (0.0, 0.0)
    lines = []
    for row in cols:
        out = []
        for x in row:
            if x is None:
                out.append(" ")
            elif not math.isfinite(x):
                out.append(_NONFINITE)
            elif hi == lo:
                out.append(_SPARK[3])
            else:
                out.append(_SPARK[round((tr(x) - lo) / (hi - lo) * (len(_SPARK) - 1))])
        lines.append("".join(out))
    return lines[0], lines[1], lo_step, hi_step


def _setting(name: str, value: Any) -> str:
    return "?" if value is None else md_cell(format_value(name, value))


def _cell(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return fmt_num(x)
    return md_cell(x)


def compare_markdown(c: Comparison) -> str:
    from forensics.report.markdown import CAUSES_TXT

    h, d = c.healthy, c.diverged
    hn, dn = _name(h.run_dir), _name(d.run_dir)
    if hn == dn:
        hn, dn = h.run_dir, d.run_dir
    hn, dn = md_cell(hn), md_cell(dn)
    sep = c.separations[0] if c.separations else None
    where = f"curves part at step {sep.step}" if sep else "no separation of the curves found"
    dv = d.verdict
    when = f"diverged at step {d.first_nonfinite_step}" if d.first_nonfinite_step is not None else "diverged"
    if not d.diverged:
        when = "did not diverge"
    cause = CAUSES_TXT(dv.cause, dv.detail, dv.detail_basis == "prior")
    lines = [f"# {dn} against {hn}: {where} — {dn} {when} ({cause})"]
    if sep:
        ratio = f", {fmt_num(sep.ratio)}× the healthy run's" if sep.ratio is not None else ""
        lines.append(
            f"From step {sep.step} the {sep.series.replace('_', ' ')} of {dn} ({fmt_num(sep.diverged)}) stays apart "
            f"from {hn}'s ({fmt_num(sep.healthy)}{ratio}"
            + (f"; {fmt_num(sep.first_ratio)}× at step {sep.first_step})." if sep.first_ratio is not None else ").")
        )
        for extra in c.separations[1:]:
            lines.append(f"The {extra.series.replace('_', ' ')} parts at step {extra.step}.")
    if c.settings:
        diffs = "; ".join(
            f"{LABELS[k]} {md_cell(_setting(k, a))} → {md_cell(_setting(k, b))}" for k, a, b in c.settings
        )
        lines.append(f"**What was set differently:** {diffs}.")
    lines.append("")
    for note in c.notes:
        lines.append(f"> {md_cell(note)}")
    if c.notes:
        lines.append("")

    ht, dt = h.timeline, d.timeline
    curves = []
    for role in ("loss", "grad_norm"):
        a = getattr(ht, role, None) if ht is not None else None
        b = getattr(dt, role, None) if dt is not None else None
        if a is not None and b is not None and len(a) and len(b) and a.unit == b.unit:
            top, bottom, lo, hi = paired_sparklines(a, b)
            label = role.replace("_", " ")
            width = max(len(hn), len(dn))
            curves += [
                f"{label} ({units(a.unit)} {lo}..{hi}, one log scale):",
                f"  {hn.ljust(width)}  {top}",
                f"  {dn.ljust(width)}  {bottom}",
            ]
    if curves:
        lines += ["## Both curves", "", "```text", *curves, "```", ""]

    if c.config:
        lines += ["## Configuration differences", "", f"| key | {hn} | {dn} |", "|---|---|---|"]
        for k, a, b in c.config[:MAX_CONFIG_ROWS]:
            lines.append(f"| {_cell(k)} | {_cell(a)} | {_cell(b)} |")
        if len(c.config) > MAX_CONFIG_ROWS:
            lines.append(f"| … {len(c.config) - MAX_CONFIG_ROWS} more | | |")
        lines.append("")

    if c.layers:
        lines += [
            "## Weights, layer by layer",
            "",
            f"‖W‖ of each layer at {dn}'s last finite checkpoint before the divergence, beside {hn}'s "
            "at the nearest step.",
            "",
            f"| layer | {hn} ‖W‖ (step) | {dn} ‖W‖ (step) | ratio | {dn} first non-finite |",
            "|---|---|---|---|---|",
        ]
        rows = sorted(c.layers, key=lambda r: -(r.ratio or 0))[:MAX_LAYER_ROWS]
        for r in rows:
            hs = f"{fmt_num(r.healthy_l2)} ({r.healthy_step})" if r.healthy_l2 is not None else "—"
            ds = f"{fmt_num(r.diverged_l2)} ({r.diverged_step})" if r.diverged_l2 is not None else "—"
            ratio = f"{fmt_num(r.ratio)}×" if r.ratio is not None else "—"
            bad = f"step {r.diverged_first_nonfinite}" if r.diverged_first_nonfinite is not None else "—"
            lines.append(f"| {_cell(r.layer)} | {hs} | {ds} | {ratio} | {bad} |")
        lines.append("")
    own = [md_code(f"forensics analyze {r.run_dir}") for r in (h, d)]
    lines.append(f"Each run's own report: {own[0]}, {own[1]}.")
    return "\n".join(lines) + "\n"
