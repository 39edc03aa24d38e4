"""Small helpers shared by the report and the inventory."""

from __future__ import annotations

import math
import re
from typing import Any

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that puts numbers in number order: ``layers.2`` before ``layers.10``, ``ckpt-40``
    before ``ckpt-120`` (a checkpoint's step or epoch is most often the number in its name)."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def natural_order(name: str) -> tuple[tuple[str | int, ...], str]:
    """:func:`natural_key`, then the name itself: ``a01`` and ``a1`` keep one fixed order."""
    return natural_key(name), name


def json_number(x: Any) -> Any:
    """A float for strict JSON: non-finite values become the strings the contract names."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return x
    return f


def human_bytes(n: int | float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def units(unit: str) -> str:
    """A step unit's plural as a sentence says it ('steps', 'epochs'; a log's line positions, 'log_index', are 'log
    indices')."""
    return "log indices" if unit == "log_index" else f"{unit}s"


def fmt_num(x: float | None, digits: int = 3) -> str:
    """A compact human number: 0.001234 -> 1.23e-03, 1234.5 -> 1234.5, NaN -> NaN."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e5 or ax < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def is_remote(path: object) -> bool:
    """True for a URL (``scheme://...``); local paths and ``file://`` are not remote.

    Here, not in ``forensics.remote``: a local run must not pay that module's import to learn
    that it is local."""
    m = URL.match(str(path))
    return bool(m) and m.group(1).lower() != "file"
