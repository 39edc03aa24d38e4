"""Triage of a sweep: which settings separate the runs that diverged from the healthy ones.

What it does: for every setting that differs between runs (learning rate, batch
size, clipping, precision, warmup, optimizer, seed), it looks for the plainest
statement that splits the runs by outcome — a threshold for a number ("all 7 runs
with lr ≥ 3e-3 diverged; none of the 12 below"), a set of values for a name
("all 3 runs with precision fp16 diverged; none of the 5 with bf16 or fp32").

Why it points to a cause: a sweep is an experiment. When the runs differ in a
few knobs and one of them splits the outcomes cleanly, that knob is the first
suspect; when two knobs split them equally well the sweep confounded them and the
finding says so. It is a correlation over the runs given, stated with its counts,
never more.

Evidence: the counts on each side of the split, the threshold or the values, and
the runs whose setting was not found (left out of the counts).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from forensics.settings import LABELS, NAMES, NUMERIC, format_value

# A setting is judged only where it is known for at least this share of the runs: a split
# of the few runs whose config says it says little about the sweep.
MIN_KNOWN_FRACTION = 0.5
# A split is named only when the divergence rate on one side exceeds the other's by
# at least this much: a smaller gap is as likely the luck of which runs were launched.
MIN_SEPARATION = 0.5


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run as triage sees it: its settings and whether it diverged."""

    name: str
    diverged: bool
    settings: dict[str, float | int | str]


@dataclass(frozen=True, slots=True)
class Finding:
    setting: str
    statement: str
    separates: bool  # every run on one side diverged and none on the other
    gap: float  # divergence rate on the suspect side minus the rate on the other side
    diverged_in: int  # runs on the suspect side that diverged
    total_in: int
    diverged_out: int
    total_out: int
    threshold: float | int | None = None  # numeric settings
    direction: str | None = None  # "at_or_above" or "at_or_below" the threshold
    values: tuple[str, ...] = ()  # named settings: the values on the suspect side
    unknown: int = 0  # runs whose setting was not found


def differing(outcomes: Sequence[Outcome]) -> list[str]:
    """The settings with at least two distinct values among the runs, in table order."""
    out = []
    for name in NAMES:
        values = {o.settings[name] for o in outcomes if name in o.settings}
        if len(values) > 1:
            out.append(name)
    return out


def _runs(n: int) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def _all(total: int) -> str:
    return "the only run" if total == 1 else f"all {total} runs"


def _some(diverged: int, total: int) -> str:
    return _all(total) if diverged == total else f"{diverged} of {_runs(total)}"


def _none(total: int, where: str) -> str:
    return f"the one {where} did not" if total == 1 else f"none of the {total} {where}"


def _numeric(name: str, known: list[Outcome], unknown: int) -> Finding | None:
    values = sorted({float(o.settings[name]) for o in known})  # type: ignore[arg-type]
    best: Finding | None = None
    for low, high in itertools.pairwise(values):
        above = [o for o in known if float(o.settings[name]) >= high]  # type: ignore[arg-type]
        below = [o for o in known if float(o.settings[name]) <= low]  # type: ignore[arg-type]
        d_above, d_below = sum(o.diverged for o in above), sum(o.diverged for o in below)
        rate_above, rate_below = d_above / len(above), d_below / len(below)
        label = LABELS[name]
        if rate_above >= rate_below:
            side, other, threshold, direction = (d_above, len(above)), (d_below, len(below)), high, "at_or_above"
            cond, rest = f"{label} ≥ {format_value(name, high)}", "below"
        else:
            side, other, threshold, direction = (d_below, len(below)), (d_above, len(above)), low, "at_or_below"
            cond, rest = f"{label} ≤ {format_value(name, low)}", "above"
        gap = side[0] / side[1] - other[0] / other[1]
        separates = side[0] == side[1] and other[0] == 0
        if separates:
            statement = f"{_all(side[1])} with {cond} diverged; {_none(other[1], rest)}"
        else:
            statement = f"{_some(*side)} with {cond} diverged; {other[0]} of {other[1]} {rest}"
        cand = Finding(name, statement, separates, gap, *side, *other, _threshold(name, threshold), direction)
        cand = _with_unknown(cand, unknown)
        if best is None or (gap, min(side[1], other[1])) > (best.gap, min(best.total_in, best.total_out)):
            best = cand
    return best


def _threshold(name: str, value: float) -> float | int:
    return int(value) if name in ("batch_size", "warmup") and value.is_integer() else value


def _named(name: str, known: list[Outcome], unknown: int) -> Finding | None:
    by_value: dict[str, list[Outcome]] = {}
    for o in known:
        by_value.setdefault(format_value(name, o.settings[name]), []).append(o)
    overall = sum(o.diverged for o in known) / len(known)
    suspect = sorted(v for v, runs in by_value.items() if sum(r.diverged for r in runs) / len(runs) > overall)
    if not suspect or len(suspect) == len(by_value):
        return None
    inside = [o for v in suspect for o in by_value[v]]
    outside = [o for v, runs in by_value.items() if v not in suspect for o in runs]
    side = (sum(o.diverged for o in inside), len(inside))
    other = (sum(o.diverged for o in outside), len(outside))
    gap = side[0] / side[1] - other[0] / other[1]
    separates = side[0] == side[1] and other[0] == 0
    label = LABELS[name]
    these = " or ".join(suspect)
    those = " or ".join(sorted(v for v in by_value if v not in suspect))
    if separates:
        statement = f"{_all(side[1])} with {label} {these} diverged; {_none(other[1], 'with ' + those)}"
    else:
        statement = f"{_some(*side)} with {label} {these} diverged; {other[0]} of {other[1]} with {those}"
    if name == "seed" and separates:
        statement += " (the seed alone decides: the setup is on the edge of stability)"
    return _with_unknown(Finding(name, statement, separates, gap, *side, *other, values=tuple(suspect)), unknown)


def _with_unknown(f: Finding, unknown: int) -> Finding:
    if not unknown:
        return f
    note = f" ({_runs(unknown)} without a known {LABELS[f.setting]} left out)"
    return Finding(**{**{k: getattr(f, k) for k in f.__slots__}, "statement": f.statement + note, "unknown": unknown})


def triage(outcomes: Sequence[Outcome]) -> list[Finding]:
    """The settings that separate diverged from healthy runs, the clearest first.

    Empty when every run diverged, none did, or no setting differs by enough
    (:data:`MIN_SEPARATION`)."""
    findings = []
    for name in differing(outcomes):
        known = [o for o in outcomes if name in o.settings]
        unknown = len(outcomes) - len(known)
        if len(known) < MIN_KNOWN_FRACTION * len(outcomes):
            continue
        if not any(o.diverged for o in known) or all(o.diverged for o in known):
            continue
        if name in NUMERIC and all(isinstance(o.settings[name], (int, float)) for o in known):
            f = _numeric(name, known, unknown)
        else:
            f = _named(name, known, unknown)
        if f is not None and f.gap >= MIN_SEPARATION:
            findings.append(f)
    findings.sort(key=lambda f: (-f.separates, -f.gap, -(f.total_in + f.total_out), NAMES.index(f.setting)))
    return findings


def confounded(findings: Sequence[Finding]) -> list[str]:
    """Settings that separate the runs perfectly alongside another: the sweep cannot tell them apart."""
    perfect = [f.setting for f in findings if f.separates]
    return perfect if len(perfect) > 1 else []
