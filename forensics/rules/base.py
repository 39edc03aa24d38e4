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


# Evidence weight of context: shown in the report, and its fix recommended, but it
# argues for no cause.
CONTEXT = 0.0


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding, as diagnose and the report see it: the registry stamps ``rule``
    and ``cause`` from the rule that found it. ``weight`` in (0, 1] is how strongly
    it points at ``cause``; a negative weight argues against it. Weight 0
    (:data:`CONTEXT`) is context shown in the report, whose fix is still recommended."""

    rule: str
    cause: str
    detail: str | None
    message: str
    step: int | None = None
    source: str | None = None
    weight: float = 0.5
    fix: str | None = None  # a concrete recommendation with numbers from the run
    # what the fix sets ("learning_rate"): two fixes setting the same thing to different
    # values would contradict each other, so only the strongest is recommended
    fix_sets: str | None = None
    # it shows a divergence by itself, with no non-finite or exploded loss (weights blown up in a checkpoint
    # given without a curve, a loss with no floor driven below it): the report then says the run diverged
    diverges: bool = False

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"{self.rule}: unknown cause {self.cause!r}")
        if self.detail is not None and self.detail not in DETAILS:
            raise ValueError(f"{self.rule}: unknown detail {self.detail!r}")


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule's check returns: the registry turns it into :class:`Evidence` with the
    rule's id and cause. ``weight`` is one of the rule module's named constants."""

    detail: str | None
    message: str
    weight: float
    step: int | None = None
    source: str | None = None
    fix: str | None = None
    fix_sets: str | None = None  # see Evidence.fix_sets
    diverges: bool = False  # see Evidence.diverges; a rule declared ``diverges`` sets it on every finding


Check = Callable[[Timeline], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A registered rule and what diagnose needs to know about it.

    ``decisive``: its evidence at or above ``diagnose.DECISIVE_WEIGHT`` settles the cause
    on its own, even when no loss went non-finite (the framework named the fault, or the
    data shows it). ``healthy_note``: the sentence a healthy verdict adds when this rule
    fired (the job stopped, but not by diverging). ``needs``: the source kinds or series
    it reads, for the "not checked" notes. ``diverges``: its evidence with a positive
    weight shows a divergence by itself (weights that exploded, seen without a loss
    curve), so the report says the run diverged (a rule whose findings only sometimes do
    says so on each, ``Finding.diverges``). ``shape``: what its finding sees is only the
    shape of the record at the divergence, which several causes leave alike ("first_point": a
    loss non-finite from its first logged point; "sudden": a NaN straight from a normal
    level), so a verdict resting on such findings alone says it is a lean. ``speaks_without_loss``: its healthy
    finding (a positive weight) is the verdict's own word on a run where no loss curve and no checkpoint was read
    (the values it read are all that was seen, and none went non-finite but by a cause it names). ``explains_stop``:
    its healthy note says why the job stopped (out of memory, a collective failure), so a crash beside it is
    explained; a note of steps skipped on the way explains no crash after them."""

    id: str
    name: str
    cause: str
    details: tuple[str, ...]
    fn: Check
    needs: tuple[str, ...]
    decisive: bool = False
    healthy_note: str | None = None
    diverges: bool = False
    shape: str | None = None
    speaks_without_loss: bool = False
    explains_stop: bool = True

    def check(self, tl: Timeline) -> list[Evidence]:
        """The rule's findings on ``tl``, stamped with its id and cause."""
        out = []
        for f in self.fn(tl):
            if f.detail is not None and f.detail not in self.details:
                raise ValueError(f"{self.id}: detail {f.detail!r} is not one the rule declares")
            out.append(
                Evidence(
                    self.id,
                    self.cause,
                    f.detail,
                    f.message,
                    f.step,
                    f.source,
                    f.weight,
                    f.fix,
                    f.fix_sets,
                    self.diverges or f.diverges,
                )
            )
        return out

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def module(self) -> str:
        return self.fn.__module__

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
# The shapes of a record at its divergence that a finding may describe alone (``Rule.shape``).
SHAPES = ("first_point", "sudden")


def rule(
    id: str,
    name: str,
    cause: str,
    details: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
    *,
    decisive: bool = False,
    healthy_note: str | None = None,
    diverges: bool = False,
    shape: str | None = None,
    speaks_without_loss: bool = False,
    explains_stop: bool = True,
) -> Callable[[Check], Check]:
    """Register a rule. The decorated function takes a Timeline and returns findings."""

    def deco(fn: Check) -> Check:
        if id in REGISTRY:
            raise ValueError(f"duplicate rule id {id}")
        if cause not in CAUSES or any(d not in DETAILS for d in details):
            raise ValueError(f"rule {id}: cause or details outside the contract")
        doc = inspect.cleandoc(fn.__doc__ or "")
        missing = [s for s in SECTIONS if f"{s}:" not in doc]
        if missing:
            raise ValueError(f"rule {id} docstring lacks: {', '.join(missing)}")
        if shape not in (None, *SHAPES):
            raise ValueError(f"rule {id}: shape {shape!r} is not one of {SHAPES}")
        REGISTRY[id] = Rule(
            id,
            name,
            cause,
            details,
            fn,
            needs,
            decisive,
            healthy_note,
            diverges,
            shape,
            speaks_without_loss,
            explains_stop,
        )
        return fn

    return deco
