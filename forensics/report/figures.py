"""Figures of a report, drawn with matplotlib's Agg backend into PNG bytes.

matplotlib is optional (the ``figures`` extra): every function here returns ``None``
or an empty list when it is missing, and the renderers then say the figures were
skipped. It is imported lazily, inside the functions, so ``import forensics`` and a
JSON report never pay for it.

What is drawn:

- :func:`timeline_figure`: loss (the validation loss beside it), LR, gradient norm and
  total weight norm stacked on one step axis, log scale where the values span decades, with the onset and the
  first non-finite step marked and non-finite points drawn as ✕ at the panel's top.
- :func:`layer_figure`: per-layer L2 norms across checkpoints as a heatmap (growth
  since the first checkpoint, in decades); a single checkpoint gets one bar per
  layer instead, with the layers out of line with their neighbours highlighted.
- :func:`runs_figure`: several runs' loss curves side by side (sweeps, comparisons).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forensics.rules.checkpoint import EXPLODED_RMS
from forensics.timeline import Series, Timeline

# Figure width in inches at DPI: 1000 px wide, readable on a laptop and in a ticket.
WIDTH_IN = 10.0
DPI = 100
# A panel switches to a log y axis when its finite positive values span at least this
# many decades: below that a linear axis shows the shape better.
LOG_SCALE_DECADES = 1.5
# Heatmap rows (layers) above this are cut to the layers that grew most or went
# non-finite first, like the markdown table; the figure says how many were left out.
MAX_HEATMAP_LAYERS = 40
# Checkpoints (columns) above this are thinned evenly, first and last kept.
MAX_HEATMAP_CHECKPOINTS = 60

ONSET_COLOUR = "#e69f00"
NONFINITE_COLOUR = "#d62728"
VALIDATION_COLOUR = "#2ca02c"


@dataclass(frozen=True)
class Figure:
    """One figure of a report: a file name, what it shows, and its PNG bytes."""

    name: str  # file name, e.g. "timeline.png"
    title: str  # one line, used as the alt text and the caption
    png: bytes


def available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, no GUI event loop, same pixels everywhere
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    plt = _pyplot()
    buf = io.BytesIO()
    # metadata without a date or version: the same report gives the same bytes
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _sorted(s: Series) -> tuple[np.ndarray, np.ndarray]:
    steps, values = s.in_step_order
    return steps.astype(np.float64), values


def _wants_log(values: np.ndarray) -> bool:
    fin = values[np.isfinite(values)]
    if fin.size < 2 or np.any(fin <= 0):
        return False
    return math.log10(float(fin.max()) / float(fin.min())) >= LOG_SCALE_DECADES


def _nonfinite_marks(ax, x: np.ndarray, y: np.ndarray, top: float, colour: str, label: str) -> None:  # type: ignore[no-untyped-def]
    bad = ~np.isfinite(y)
    if bad.any():
        # non-finite points sit on the panel's top edge: the blow-up is never hidden
        ax.plot(
            x[bad], np.full(int(bad.sum()), top), "x", color=colour, markersize=6, label=f"{label} ({int(bad.sum())})"
        )


def _panel(  # type: ignore[no-untyped-def]
    ax, x: np.ndarray, y: np.ndarray, label: str, unit: str, style: str = "-", beside: tuple | None = None
) -> None:
    """One panel; ``beside`` is (x, y, label) of a second curve on the same axes (the validation loss
    beside the training loss): the two scales must agree, so the log axis is chosen on both."""
    both = y if beside is None else np.concatenate([y, beside[1]])
    fin_all = both[np.isfinite(both)]
    log = _wants_log(both)
    if log:
        ax.set_yscale("log")
    fin = np.isfinite(y)
    ax.plot(x[fin], y[fin], style, color="#1f77b4", linewidth=1.2, markersize=4, label=label if beside else None)
    top = float(np.max(fin_all)) if fin_all.size else 1.0
    _nonfinite_marks(ax, x, y, top, NONFINITE_COLOUR, "non-finite")
    if beside is not None:
        bx, by, blabel = beside
        bfin = np.isfinite(by)
        # evaluations are sparse: markers, so a single evaluation still shows
        ax.plot(bx[bfin], by[bfin], "s--", color=VALIDATION_COLOUR, linewidth=1.0, markersize=4, label=blabel)
        _nonfinite_marks(ax, bx, by, top, VALIDATION_COLOUR, f"{blabel} non-finite")
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    name = "loss" if beside is not None else label  # the legend tells the two curves apart
    ax.set_ylabel(f"{name}\n({unit}{', log' if log else ''})", fontsize=9)
    ax.grid(True, alpha=0.3)


def timeline_figure(tl: Timeline, title: str = "") -> bytes | None:
    """Loss, LR, gradient norm and weight norm on one step axis, as PNG; None when
    matplotlib is missing or there is nothing to draw."""
    fig = draw_timeline(tl, title) if available() else None
    return None if fig is None else _png(fig)


def draw_timeline(tl: Timeline, title: str = ""):  # type: ignore[no-untyped-def]
    """The matplotlib figure behind :func:`timeline_figure` (None when there is nothing to draw);
    matplotlib must be installed."""
    panels: list[tuple[str, str, np.ndarray, np.ndarray, str, tuple | None]] = []  # type: ignore[type-arg]
    unit = "step"
    val = tl.val_loss if tl.val_loss is not None and len(tl.val_loss) else None
    for label, s, what in (
        ("training loss", tl.loss, "value"),
        ("learning rate", tl.lr, "value"),
        ("gradient norm", tl.grad_norm, "L2"),
    ):
        if s is not None and len(s):
            x, y = _sorted(s)
            beside = None
            if label == "training loss":
                unit = s.unit
                # the validation loss shares the training loss's panel when both count the same unit
                # (a loss logged per step beside evaluations per epoch would put them on different axes)
                if val is not None and val.unit == s.unit:
                    beside = (*_sorted(val), "validation loss")
                    val = None
            panels.append((label, what, x, y, "-", beside))
    if val is not None and tl.loss is None:
        x, y = _sorted(val)
        unit = val.unit
        panels.insert(0, ("validation loss", "value", x, y, "s--", None))
    norms = [(st, n) for st, n, _ in tl.weight_norms if st is not None]
    if norms:
        x = np.array([float(st) for st, _ in norms])
        y = np.array([n for _, n in norms])
        panels.append(("weight norm", "L2, all layers", x, y, "o-", None))
    if not panels or (len(panels) == 1 and len(panels[0][2]) < 2):
        return None  # one checkpoint alone is no curve
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(WIDTH_IN, 1.9 * len(panels) + 0.6), squeeze=False)
    onset = tl.onset.step if tl.onset is not None else None
    nf = tl.first_nonfinite.step if tl.first_nonfinite is not None else None
    # (step, colour, line style, label, label side): the onset dashed, the first non-finite solid
    marks = [
        (onset, ONSET_COLOUR, "--", f"onset {onset}", "right"),
        (nf, NONFINITE_COLOUR, "-", f"first non-finite {nf}", "left"),
    ]
    for ax, (label, what, x, y, style, beside) in zip(axes[:, 0], panels, strict=True):
        _panel(ax, x, y, label, what, style, beside)
        for step, colour, line, _, _ in marks:
            if step is not None:
                ax.axvline(step, color=colour, linestyle=line, linewidth=1.2)
    for step, colour, _, text, side in marks:
        if step is not None:
            axes[0, 0].annotate(
                text, (step, 1.0), xycoords=("data", "axes fraction"), color=colour, fontsize=9, ha=side, va="bottom"
            )
    axes[-1, 0].set_xlabel(unit)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _layer_rows(tl: Timeline) -> list:  # type: ignore[type-arg]
    tracks = list(tl.layers)
    if len(tracks) > MAX_HEATMAP_LAYERS:
        scored = sorted(tracks, key=lambda t: (t.first_nonfinite is None, -(t.growth() or 0)))
        keep = {t.layer for t in scored[:MAX_HEATMAP_LAYERS]}
        tracks = [t for t in tracks if t.layer in keep]
    return tracks


def layer_figure(tl: Timeline, outliers: Sequence[str] = ()) -> bytes | None:
    """Per-layer L2 norms across checkpoints as PNG (a heatmap), or one bar per layer for
    a single checkpoint with ``outliers`` highlighted; None when there is nothing to draw."""
    if not available() or not tl.layers or not tl.checkpoints:
        return None
    tracks = _layer_rows(tl)
    views = list(tl.checkpoints)
    if len(views) > MAX_HEATMAP_CHECKPOINTS:
        idx = sorted(set(np.linspace(0, len(views) - 1, MAX_HEATMAP_CHECKPOINTS).round().astype(int).tolist()))
        views = [views[i] for i in idx]
    plt = _pyplot()
    if len(views) == 1:
        return _layer_bars(plt, tracks, views[0], outliers, len(tl.layers))
    n_rows, n_cols = len(tracks), len(views)
    norm = np.full((n_rows, n_cols), np.nan)
    bad = np.zeros((n_rows, n_cols), dtype=bool)
    for i, t in enumerate(tracks):
        by_order = {p.order: p for p in t.points}
        for j, v in enumerate(views):
            p = by_order.get(v.order)
            if p is None:
                continue
            if p.nonfinite:
                bad[i, j] = True
            elif p.l2 > 0 and math.isfinite(p.l2):
                norm[i, j] = p.l2
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.array([row[np.isfinite(row)][0] if np.isfinite(row).any() else np.nan for row in norm])
        growth = np.log10(norm / first[:, None])
    fin = growth[np.isfinite(growth)]
    span = max(1.0, float(np.max(np.abs(fin)))) if fin.size else 1.0
    fig, ax = plt.subplots(figsize=(WIDTH_IN, min(0.32 * n_rows + 1.8, 14)))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(growth), aspect="auto", cmap=cmap, vmin=-span, vmax=span)
    for i, j in zip(*np.nonzero(bad), strict=True):
        ax.text(j, i, "✕", ha="center", va="center", color=NONFINITE_COLOUR, fontsize=10, fontweight="bold")
    if n_rows * n_cols <= 120:  # small enough to print the norm in each cell
        for i in range(n_rows):
            for j in range(n_cols):
                if np.isfinite(norm[i, j]):
                    strong = abs(growth[i, j]) > span * 0.6
                    ax.text(
                        j,
                        i,
                        f"{norm[i, j]:.3g}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if strong else "black",
                    )
    labels = [str(v.step) if v.step is not None else v.path.rsplit("/", 1)[-1][:14] for v in views]
    ax.set_xticks(range(n_cols), labels, rotation=45 if n_cols > 10 else 0, fontsize=8)
    ax.set_yticks(range(n_rows), [t.layer[-40:] for t in tracks], fontsize=8)
    ax.set_xlabel("checkpoint (step)")
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label("log10 of ‖W‖ / ‖W‖ at the first checkpoint", fontsize=8)
    left = len(tl.layers) - n_rows
    thinned = len(tl.checkpoints) - n_cols
    ax.set_title(
        "Per-layer weight norm (L2) across checkpoints; ✕ non-finite, grey not saved"
        + (f"; {left} more layers in the JSON" if left else "")
        + (f"; {n_cols} of {len(tl.checkpoints)} checkpoints, evenly spaced" if thinned else ""),
        fontsize=10,
    )
    fig.tight_layout()
    return _png(fig)


def _layer_bars(plt, tracks, view, outliers: Sequence[str], total: int) -> bytes:  # type: ignore[no-untyped-def]
    names, vals, flags = [], [], []
    for t in tracks:
        p = next((q for q in t.points if q.order == view.order), None)
        if p is None:
            continue
        names.append(t.layer[-40:])
        # RMS per element, as the checkpoint health check (CKPT001) reads a layer
        vals.append(math.nan if p.nonfinite or not p.numel else p.l2 / math.sqrt(p.numel))
        flags.append("bad" if p.nonfinite else "out" if t.layer in outliers else "ok")
    y = np.arange(len(names))
    v = np.array(vals)
    fin = np.isfinite(v) & (v > 0)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, min(0.3 * len(names) + 1.5, 14)))
    colours = {"ok": "#1f77b4", "out": ONSET_COLOUR, "bad": NONFINITE_COLOUR}
    # dots, not bars: on a log axis a bar's length depends on where the axis starts
    ax.hlines(y[fin], 0, 1, transform=ax.get_yaxis_transform(), color="#dddddd", linewidth=0.8, zorder=0)
    ax.scatter(v[fin], y[fin], s=40, color=[colours[f] for f, ok in zip(flags, fin, strict=True) if ok], zorder=2)
    ax.axvline(EXPLODED_RMS, color=NONFINITE_COLOUR, linestyle=":", linewidth=1)
    ax.annotate(
        f" exploded above {EXPLODED_RMS:g}", (EXPLODED_RMS, 0.02), xycoords=("data", "axes fraction"),
        color=NONFINITE_COLOUR, fontsize=8, ha="left", va="bottom",
    )  # fmt: skip
    for i in np.nonzero(~fin)[0]:
        # x in axes fraction: the label stays inside the panel whatever the bars' scale
        ax.text(0.01, i, "✕ non-finite", color=NONFINITE_COLOUR, va="center", ha="left", fontsize=8,
                transform=ax.get_yaxis_transform())  # fmt: skip
    if fin.any() and _wants_log(np.append(v[fin], EXPLODED_RMS)):
        ax.set_xscale("log")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first layer on top
    ax.set_xlabel("RMS per element of the layer's weights")
    name = view.path.rsplit("/", 1)[-1]
    more = f"; {total - len(tracks)} more layers in the JSON" if total > len(tracks) else ""
    ax.set_title(f"Layer weights in {name}; orange: exploded or out of line with its neighbours{more}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def runs_figure(runs: Sequence[tuple[str, Timeline]], title: str = "Training loss of each run") -> bytes | None:
    """Several runs' training loss side by side on one step axis (a sweep, or a healthy
    run against a diverged one), each run's first non-finite step marked; PNG or None."""
    curves = [(name, tl) for name, tl in runs if tl.loss is not None and len(tl.loss)]
    if not available() or not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.5))
    all_y = np.concatenate([tl.loss.values for _, tl in curves])  # type: ignore[union-attr]
    if _wants_log(all_y):
        ax.set_yscale("log")
    for name, tl in curves:
        x, y = _sorted(tl.loss)  # type: ignore[arg-type]
        fin = np.isfinite(y)
        (line,) = ax.plot(x[fin], y[fin], linewidth=1.2, label=name[-40:])
        if tl.first_nonfinite is not None:
            ax.axvline(tl.first_nonfinite.step, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(curves) > 6 else 1)
    ax.set_title(title + " (dotted: first non-finite step)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def report_figures(tl: Timeline | None, title: str = "", outliers: Sequence[str] = ()) -> list[Figure]:
    """The figures of one run's report, in reading order (empty without matplotlib)."""
    if tl is None or not available():
        return []
    out = []
    png = timeline_figure(tl, title)
    if png is not None:
        out.append(Figure("timeline.png", "Loss, learning rate, gradient norm and weight norm by step", png))
    png = layer_figure(tl, outliers)
    if png is not None:
        what = "in the checkpoint" if len(tl.checkpoints) == 1 else "across checkpoints"
        out.append(Figure("layers.png", f"Per-layer weight norm {what}", png))
    return out
