"""What a rule is: an id, a documented check over the timeline, and the evidence it emits.

Each rule's docstring has four parts, like a linter's rule catalogue:
*What it detects*, *Why it points to this cause*, *Evidence it reports*,
*Fix to suggest*. ``docs/rules.md`` is generated from these docstrings
(``python -m forensics.rules > docs/rules.md``) and a test keeps the two equal.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from forensics.timeline import Timeline

CAUSES = ("learning_rate", "exploding_weights", "data_or_labels", "numerical_instability", "healthy", "inconclusive")
DETAILS = (
    "lr_too_high",
    "lr_schedule_spike",
    "exploding_gradients",
    "nan_in_inputs",
    "inf_in_inputs",
    "labels_out_of_range",
    "negative_labels",
    "unnormalized_inputs",
    "log_of_zero",
    "division_by_zero",
    "fp16_overflow",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding. ``weight`` in (0, 1] is how strongly it points at ``cause``;
    a negative weight argues against it. Weight 0 is context shown in the report."""

    rule: str
    cause: str
    detail: str | None
    message: str
    step: int | None = None
    source: str | None = None
    weight: float = 0.5
    fix: str | None = None  # a concrete recommendation with numbers from the run

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"{self.rule}: unknown cause {self.cause!r}")
        if self.detail is not None and self.detail not in DETAILS:
            raise ValueError(f"{self.rule}: unknown detail {self.detail!r}")


Check = Callable[[Timeline], list[Evidence]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    cause: str
    details: tuple[str, ...]
    check: Check
    needs: tuple[str, ...]  # source kinds or series it needs, for "not checked" notes

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    def section(self, title: str) -> str:
        """One of the four docstring parts, by its title."""
        lines = self.doc.splitlines()
        out: list[str] = []
        inside = False
        for line in lines:
            stripped = line.strip()
            if stripped.endswith(":") and stripped[:-1] in SECTIONS:
                inside = stripped[:-1] == title
                continue
            if inside:
                out.append(line)
        return "\n".join(out).strip()


SECTIONS = ("What it detects", "Why it points to this cause", "Evidence it reports", "Fix to suggest")

REGISTRY: dict[str, Rule] = {}


def rule(
    id: str, name: str, cause: str, details: tuple[str, ...] = (), needs: tuple[str, ...] = ()
) -> Callable[[Check], Check]:
    """Register a rule. The decorated function takes a Timeline and returns evidence."""

    def deco(fn: Check) -> Check:
        if id in REGISTRY:
            raise ValueError(f"duplicate rule id {id}")
        doc = inspect.cleandoc(fn.__doc__ or "")
        missing = [s for s in SECTIONS if f"{s}:" not in doc]
        if missing:
            raise ValueError(f"rule {id} docstring lacks: {', '.join(missing)}")
        REGISTRY[id] = Rule(id, name, cause, details, fn, needs)
        return fn

    return deco
