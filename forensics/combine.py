"""Weigh the rules' evidence into a probability for each cause, with a fitted table.

Each piece of evidence is a named feature, ``RULE:cause`` (its weight, the strongest
one if the rule spoke twice; a negative weight is the feature ``RULE:cause:against``),
plus three facts about what was read (``diverged``, ``no_loss_series``,
``finite_checkpoints_only``). A cause's score is its bias plus the sum of
coefficient x feature; the probabilities are the softmax of the scores.

The coefficients (``forensics/combination_table.py``) are fitted on the dev split of the
scenario corpus by ``python scripts/fit_combination.py``: a multinomial logistic
regression pulled toward the hand-set prior (each rule counts for its own cause), so a
rule the dev runs never saw keeps its documented meaning; a finding may count against
another cause but never for it. Every verdict still traces
back to the named evidence that raised its score (``contributions``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from forensics.rules.base import Evidence
from forensics.timeline import Timeline

COMBINED_CAUSES = ("learning_rate", "exploding_weights", "data_or_labels", "numerical_instability", "healthy")
# A rule's own cause gets this coefficient per unit of weight in the prior the fit starts
# from and is pulled toward: weight 0.9 alone then gives ~10:1 odds for its cause.
PRIOR_COEF = 3.0


def features(tl: Timeline | None, evidence: Iterable[Evidence]) -> dict[str, float]:
    f: dict[str, float] = {}
    for e in evidence:
        if e.weight > 0:
            key = f"{e.rule}:{e.cause}"
            f[key] = max(f.get(key, 0.0), e.weight)
        elif e.weight < 0:
            key = f"{e.rule}:{e.cause}:against"
            f[key] = max(f.get(key, 0.0), -e.weight)
    if tl is not None:
        if tl.diverged:
            f["diverged"] = 1.0
        if tl.loss is None:
            f["no_loss_series"] = 1.0
            if tl.checkpoints and tl.first_nonfinite_checkpoint is None:
                f["finite_checkpoints_only"] = 1.0
    return f


def prior_coefficient(feature: str, cause: str) -> float:
    """The hand-set meaning of a feature: + for its own cause, - against it."""
    parts = feature.split(":")
    if len(parts) < 2:
        return 0.0
    if parts[1] != cause:
        return 0.0
    return -PRIOR_COEF if parts[-1] == "against" else PRIOR_COEF


@dataclass(frozen=True)
class Combined:
    """The fitted table's cause probabilities, and what each finding contributed."""

    probabilities: dict[str, float]  # cause -> probability (over COMBINED_CAUSES)
    contributions: dict[str, list[tuple[str, float]]]  # cause -> (feature, coef x value), largest first


def combine(tl: Timeline | None, evidence: Iterable[Evidence]) -> Combined:
    from forensics.combination_table import BIAS, COEF

    probs, contrib = softmax_of_table(COMBINED_CAUSES, features(tl, evidence), BIAS, COEF, prior_coefficient)
    return Combined(probs, contrib)


def softmax_of_table(
    classes: tuple[str, ...],
    f: dict[str, float],
    bias: dict[str, float],
    coef: dict[str, dict[str, float]],
    prior: Callable[[str, str], float],
) -> tuple[dict[str, float], dict[str, list[tuple[str, float]]]]:
    """Each class's probability (softmax of bias + sum of coefficient x feature; a feature or
    class the table does not list keeps its ``prior`` coefficient), and the (feature,
    coefficient x value) that made each score, largest first."""
    scores: dict[str, float] = {}
    contrib: dict[str, list[tuple[str, float]]] = {}
    for c in classes:
        s = bias.get(c, 0.0)
        parts = []
        for k, v in f.items():
            w = coef[k].get(c, prior(k, c)) if k in coef else prior(k, c)
            if w:
                parts.append((k, w * v))
                s += w * v
        scores[c] = s
        contrib[c] = sorted(parts, key=lambda kv: -kv[1])
    m = max(scores.values())
    exp = {c: math.exp(s - m) for c, s in scores.items()}
    z = sum(exp.values())
    return {c: exp[c] / z for c in classes}, contrib


# The kinds of verdict whose confidence is calibrated apart: each is right at its own rate
# for the same combined probability (a cause some finding of its own spoke for, from a rule
# that sees more than the record's shape; a cause that rests only on the shape of the record
# at its divergence, ``Rule.shape``, which several causes leave alike (a sudden NaN from a
# normal level: a bad batch or an operation's singularity), whether its own shape finding
# named it or the table inferred it from another cause's; one only the table inferred from
# other causes' findings; a healthy curve whose job's ending a source states (a completion
# line, an exception, a kill, the trainer's summary); a healthy curve no source says how its job
# ended, which vouches only for its own steps (the job may have died right after the last point,
# unseen: a crash leaves the event files as a normal end does); finite checkpoints and no
# curve, which say nothing of the steps after the last one; a divergence no finding explains,
# whose cause is the table's base rate for what was read; a cause only a setting states, a
# config being all that was read).
CONFIDENCE_KINDS = (
    "finding",
    "shape",
    "inferred",
    "healthy",
    "healthy_end_unknown",
    "healthy_checkpoints",
    "prior",
    "setup",
)


def calibrated(confidence: float, kind: str = "finding") -> float:
    """The stated confidence after the Platt scaling fitted, for this kind of verdict, on
    out-of-family dev verdicts (``CALIBRATION``)."""
    from forensics.combination_table import CALIBRATION

    a, b = CALIBRATION.get(kind, (1.0, 0.0))
    c = min(max(confidence, 1e-3), 1 - 1e-3)
    return 1.0 / (1.0 + math.exp(-(a * math.log(c / (1 - c)) + b)))


def renormalised(probs: dict[str, float], causes: Iterable[str]) -> dict[str, float]:
    """The probabilities restricted to ``causes`` (e.g. the problem causes once the run diverged)."""
    keep = {c: probs[c] for c in causes if c in probs}
    z = sum(keep.values())
    return {c: (p / z if z > 0 else 0.0) for c, p in keep.items()}
