"""Weigh the rules' evidence into candidates and one verdict.

Scoring: for each cause, independent pieces of evidence combine like
probabilities of at least one being right, ``1 - prod(1 - w)``; evidence with a
negative weight scales the score down by ``(1 + w)``. The detail of a cause is
the one with the largest summed weight. A missing source that could have
changed the verdict lowers the confidence and is named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from forensics.rules import REGISTRY
from forensics.rules.base import CAUSES, CONTEXT, Evidence
from forensics.timeline import Timeline
from forensics.util import fmt_num

# Below this score the best cause is a guess: say inconclusive.
MIN_VERDICT_SCORE = 0.4
# A runner-up within this ratio of the best cause, while the best is not strong, makes the evidence contradictory.
CONTRADICTION_RATIO = 0.85
# ... "not strong": a best cause at or above this score stands even with a close runner-up.
STRONG_SCORE = 0.75
# Evidence at or above this weight is decisive on its own (the framework named the fault,
# or the data sample shows it).
DECISIVE_WEIGHT = 0.85
# A healthy verdict from fewer logged loss points than this is capped at 0.5.
SHORT_CURVE_POINTS = 10
# Each missing source that bears on the winning cause multiplies the confidence by this.
MISSING_SOURCE_FACTOR = 0.9
# No single piece of evidence is certain: weights are capped here when combined.
MAX_EVIDENCE_WEIGHT = 0.99
# The runner-up's share of the best score takes up to this fraction off the confidence.
RUNNER_UP_PENALTY = 0.4
# A healthy verdict's confidence lies between these (spikes and short curves leave doubt).
HEALTHY_CONFIDENCE = (0.5, 0.95)
# "Inconclusive" because two causes tie is itself only half sure.
CONTRADICTORY_CONFIDENCE = 0.5
# The confidence of a verdict never reaches certainty.
MAX_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Candidate:
    cause: str
    detail: str | None
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Verdict:
    cause: str
    detail: str | None
    confidence: float
    summary: str
    fix: str | None


@dataclass
class Diagnosis:
    verdict: Verdict
    candidates: list[Candidate]
    recommendations: list[str]
    not_checked: list[str] = field(default_factory=list)


def _score(evs: list[Evidence]) -> float:
    s = 1.0
    neg = 1.0
    for e in evs:
        if e.weight > 0:
            s *= 1.0 - min(e.weight, MAX_EVIDENCE_WEIGHT)
        elif e.weight < 0:
            neg *= 1.0 + max(e.weight, -MAX_EVIDENCE_WEIGHT)
    return (1.0 - s) * neg


def _best_detail(evs: list[Evidence]) -> str | None:
    sums: dict[str, float] = {}
    for e in evs:
        if e.detail and e.weight > 0:
            sums[e.detail] = sums.get(e.detail, 0.0) + e.weight
    return max(sums, key=lambda d: sums[d]) if sums else None


def candidates_from(evidence: list[Evidence]) -> list[Candidate]:
    by_cause: dict[str, list[Evidence]] = {c: [] for c in CAUSES if c != "inconclusive"}
    for e in evidence:
        by_cause.setdefault(e.cause, []).append(e)
    cands = [
        Candidate(cause, _best_detail(evs), round(_score(evs), 3), tuple(sorted(evs, key=lambda e: -e.weight)))
        for cause, evs in by_cause.items()
    ]
    cands.sort(key=lambda c: (-c.score, CAUSES.index(c.cause)))
    return cands


def not_checked(tl: Timeline) -> list[str]:
    notes = []
    if tl.loss is None:
        notes.append("no training-loss series found: when the run diverged could not be read from a curve")
    if not tl.checkpoints:
        notes.append("no readable checkpoints: weight growth and non-finite weights not checked")
    if tl.lr is None and tl.lr_info.value is None:
        notes.append(
            "learning rate unknown (no LR series, optimizer state or config): LR level and schedule not checked"
        )
    if tl.grad_norm is None and not tl.grad_histograms:
        notes.append("no gradient-norm series: gradient growth judged from the weights only")
    if not tl.data_samples:
        notes.append("no data sample: inputs and labels not checked directly (add one with --data)")
    if not tl.job_logs:
        notes.append("no job log: framework errors and tracebacks not checked")
    return notes


_BEARING = {
    "learning_rate": ("learning rate unknown", "no training-loss"),
    "exploding_weights": ("no readable checkpoints", "no gradient-norm"),
    "data_or_labels": ("no data sample", "no job log"),
    "numerical_instability": ("no readable checkpoints", "no data sample"),
}


def _divergence_sentence(tl: Timeline) -> str:
    nf = tl.first_nonfinite
    unit = "epoch" if nf is not None and nf.unit == "epoch" else "step"
    if nf is not None:
        what = "training loss" if nf.role == "loss" else nf.role.replace("_", " ")
        last = (
            f" (last finite at {unit} {nf.last_finite_step})"
            if nf.last_finite_step is not None
            else " (first logged point)"
        )
        onset = ""
        if tl.onset is not None and tl.onset.step < nf.step:
            onset = f"; it started climbing at {unit} {tl.onset.step}, {tl.onset.fold_per_step:.3g}x per {unit}"
        return f"The {what} became {fmt_num(nf.value)} at {unit} {nf.step}{last}{onset}."
    if tl.exploded_step is not None:
        return f"The training loss exploded at step {tl.exploded_step} without going non-finite."
    if tl.first_nonfinite_checkpoint is not None:
        c = tl.first_nonfinite_checkpoint
        return f"No non-finite loss was logged, but {c.path} holds non-finite weights."
    if tl.died_with_exception:
        at = f" after step {tl.died_after_step}" if tl.died_after_step is not None else ""
        return f"The job died on an error{at}, before any non-finite loss was logged."
    return ""


def diagnose(tl: Timeline, evidence: list[Evidence]) -> Diagnosis:
    cands = candidates_from(evidence)
    notes = not_checked(tl)
    by_cause = {c.cause: c for c in cands}
    problem = [c for c in cands if c.cause != "healthy"]
    # Evidence of a decisive rule (the framework naming the fault, labels outside the output
    # layer's range in the data) settles the cause even when no NaN was logged (the job died first).
    decisive = [c for c in problem if any(e.weight >= DECISIVE_WEIGHT and _rule_is_decisive(e) for e in c.evidence)]

    if not tl.diverged and not decisive and not (tl.died_with_exception and problem and problem[0].score > 0):
        healthy = by_cause.get("healthy")
        if tl.loss is None:
            found = "only finite checkpoints" if tl.checkpoints else "no checkpoint either"
            verdict = Verdict(
                "inconclusive",
                None,
                0.0,
                f"No training-loss series could be read ({found}), so divergence could not be judged. "
                "See the sources below for what was found.",
                None,
            )
        else:
            # a rule that saw the job stop for a reason that is not divergence says so
            notes_ = [_healthy_note(e) for e in (healthy.evidence if healthy else ())]
            extra = next((" " + n for n in notes_ if n), "")
            low, high = HEALTHY_CONFIDENCE
            confidence = min(high, max(healthy.score if healthy else low, low))
            short = ""
            if len(tl.loss) < SHORT_CURVE_POINTS:
                # a few points say little: the job may have died right after the last one
                confidence = min(confidence, low)
                short = f" Only {len(tl.loss)} points were logged, the last at step {int(tl.loss.steps.max())}."
            verdict = Verdict(
                "healthy",
                None,
                round(confidence, 2),
                "The run did not diverge: the training loss stayed finite"
                + (f" with {len(tl.spikes_recovered)} spike(s) that recovered." if tl.spikes_recovered else ".")
                + (extra or " No checkpoint holds a non-finite value.")
                + short,
                None,
            )
        return Diagnosis(verdict, cands, _recommendations(verdict, by_cause.get("healthy")), notes)

    pool = decisive or problem
    top = pool[0]
    second = next((c for c in problem if c.cause != top.cause), None)
    second_score = second.score if second else 0.0
    confidence = top.score * (1.0 - RUNNER_UP_PENALTY * (second_score / top.score if top.score else 0))
    for note in notes:
        if any(note.startswith(b) for b in _BEARING.get(top.cause, ())):
            confidence *= MISSING_SOURCE_FACTOR
    confidence = round(max(0.0, min(confidence, MAX_CONFIDENCE)), 2)

    lead = [e for e in top.evidence if e.weight > 0][:2]
    first_sentence = _divergence_sentence(tl)
    contradictory = second is not None and second_score >= CONTRADICTION_RATIO * top.score and top.score < STRONG_SCORE
    if top.score < MIN_VERDICT_SCORE or contradictory:
        why = (
            f"the best-supported cause, {top.cause} ({top.score:.2f}), is weak"
            if top.score < MIN_VERDICT_SCORE
            else f"{top.cause} ({top.score:.2f}) and {second.cause} ({second_score:.2f}) are about equally supported"  # type: ignore[union-attr]
        )
        summary = (first_sentence + " " if first_sentence else "") + f"The evidence does not single out a cause: {why}."
        verdict = Verdict(
            "inconclusive",
            None,
            round(1.0 - top.score, 2) if top.score < MIN_VERDICT_SCORE else CONTRADICTORY_CONFIDENCE,
            summary,
            None,
        )
        return Diagnosis(verdict, cands, _recommendations(verdict, top, second), notes)

    summary = first_sentence
    if lead:
        msg = lead[0].message.rstrip(".")
        summary = (summary + " " if summary else "") + msg + "."
    fix = next((e.fix for e in top.evidence if e.fix and e.weight > 0), None)
    verdict = Verdict(top.cause, top.detail, confidence, summary.strip(), fix)
    return Diagnosis(verdict, cands, _recommendations(verdict, top), notes)


def _rule_is_decisive(e: Evidence) -> bool:
    r = REGISTRY.get(e.rule)
    return r is not None and r.decisive


def _healthy_note(e: Evidence) -> str | None:
    r = REGISTRY.get(e.rule)
    return r.healthy_note if r is not None else None


def _recommendations(verdict: Verdict, *cands: Candidate | None) -> list[str]:
    recs: list[str] = []
    for c in cands:
        if c is None:
            continue
        for e in c.evidence:
            if e.fix and e.fix not in recs and (e.weight > 0 or e.weight == CONTEXT):
                recs.append(e.fix)
    if verdict.cause == "inconclusive" and not recs:
        recs.append(
            "Re-run a few steps before the divergence with anomaly detection on "
            "(torch.autograd.set_detect_anomaly(True) / tf.debugging.enable_check_numerics()) to name the operation."
        )
    return recs


def is_finite_number(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
