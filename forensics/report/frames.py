"""pandas views of a report, for notebooks. pandas is optional: imported lazily."""

from __future__ import annotations

from forensics.timeline import Series, Timeline


def _pandas():  # type: ignore[no-untyped-def]
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame() needs pandas: pip install pandas") from None
    return pd


def _column(s: Series):  # type: ignore[no-untyped-def]
    pd = _pandas()
    # the last value logged at a step wins, as on the timeline after a restart
    steps, values = s.in_step_order
    col = pd.Series(values, index=pd.Index(steps, name="step"))
    return col[~col.index.duplicated(keep="last")]


def timeline_frame(tl: Timeline | None):  # type: ignore[no-untyped-def]
    """One row per logged step, a column per curve (NaN where a curve has no point,
    non-finite values kept as logged: inf stays inf)."""
    pd = _pandas()
    cols = {}
    if tl is not None:
        for name, s in (("loss", tl.loss), ("lr", tl.lr), ("grad_norm", tl.grad_norm), ("val_loss", tl.val_loss)):
            if s is not None and len(s):
                cols[name] = _column(s)
        norms = [(st, n) for st, n, _ in tl.weight_norms if st is not None]
        if norms:
            w = pd.Series([n for _, n in norms], index=pd.Index([st for st, _ in norms], name="step"))
            cols["weight_norm"] = w[~w.index.duplicated(keep="last")]
    frame = pd.DataFrame(cols)
    frame.index.name = "step"
    return frame.sort_index()
