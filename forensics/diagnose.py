"""Weigh the rules' evidence into candidates and one verdict.

The verdict commits: the cause with the highest combined probability
(``forensics.combine``: the rules' evidence through a table fitted on the dev split of
the scenario corpus) among those some source spoke for, with its runner-up named and
that probability as its confidence. ``inconclusive`` only when no source says anything
about the cause and nothing shows a divergence, or when the job died of an exception of
no known meaning (quoted, and said not to be a divergence). A run that diverged with no
finding for any cause still gets the cause the table's base rates favour for what was
read, said to be a weak prior. A decisive rule (the framework naming the fault) settles
the cause on its own. Within the verdict's cause, the detail is the one the fitted detail
table (``forensics.details``) scores highest: the detail a finding names when one does,
otherwise the likeliest for that cause given what was found (a prior, and the summary
says so). A candidate's detail is the one with the largest summed weight; each cause's
noisy-OR of its weights (``_score``) orders its evidence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from forensics.combine import COMBINED_CAUSES, calibrated, combine, renormalised
from forensics.details import DetailChoice, choose_detail, tells_apart
from forensics.ending import ending_of
from forensics.records import CUT_TRACEBACK, Kind, LogEvent, Status
from forensics.rules import REGISTRY
from forensics.rules.base import CAUSES, CONTEXT, Evidence
from forensics.rules.context import blown_up_before_nonfinite, term_blown_up_at_nonfinite
from forensics.timeline import NonFinite, RecordEnd, Timeline, ValidationOnly, box_target_nonfinite
from forensics.util import fmt_num

# Evidence at or above this weight is decisive on its own (the framework named the fault,
# or the data sample shows it).
DECISIVE_WEIGHT = 0.85
# A healthy curve of fewer logged loss points than this is said to be short in the summary. Its
# confidence is not capped by hand: what makes a few points say less is that the job may have died
# right after the last one, unseen, and that holds for a long curve as much: a healthy verdict that
# no source says how the job ended is calibrated apart (kind ``healthy_end_unknown``). Out of family
# on the dev split, short healthy curves were right 5 times in 5 with the ending known, 9 in 11 without.
SHORT_CURVE_POINTS = 10
# A healthy verdict's confidence never passes this: a record that stayed finite cannot rule out a
# fault that ends the job without a NaN (a label the loss cannot take kills the job; unseen where no
# console was kept), which too few dev verdicts of any kind hold to fit; a ceiling, not a calibration.
HEALTHY_MAX_CONFIDENCE = 0.95
# The framework naming the fault is as sure as this tool gets, whatever else was found.
DECISIVE_CONFIDENCE = 0.9
# A crash whose message has no known meaning: as likely a divergence-free bug as anything.
UNKNOWN_CRASH_CONFIDENCE = 0.5
# With no loss curve and no checkpoint, a framework message naming a stop that is not a divergence
# (out of memory, a collective timeout) is the only word on the run: it says why the job ended,
# not that the loss was finite before it, so the healthy verdict is held below a curve's.
STOP_MESSAGE_ONLY_CONFIDENCE = 0.7
# With no loss curve and no checkpoint, a healthy finding of a rule that speaks without one (Rule.speaks_without_loss:
# episode statistics NaN only over windows that finished no episode, or episode rewards finite over several
# summaries) is the only word on the run: no value read went non-finite but by a cause it names, but the learner
# itself was not seen (an environment where no episode ends looks the same under a policy that works and one that
# does not, and one whose reward does not depend on the action's values pays a NaN policy finitely), so the healthy
# verdict is held below a stop message's, which at least says how the job ended.
NO_CURVE_FINDING_CONFIDENCE = 0.6
# A healthy curve whose record stops before the run's planned end, the trainer's end-of-training
# summary missing and no source saying why: the job crashed, was killed or is still running,
# and what came after the last point is unknown; the verdict is no surer than a coin
# (on the corpus's dev split, 2 of the 6 such runs were healthy). Fixed, not fitted: the combined
# probability does not see the cut (no feature of the table says the record stopped short), so no
# scaling of it can, and 6 verdicts are too few for a kind of their own (pooled, they would be
# stated as a finished curve is).
PARTIAL_RECORD_CONFIDENCE = 0.5
# A validation loss non-finite from its first evaluation, with no training loss logged after it: the
# evaluation's own fault and weights gone non-finite on the last update leave the record alike, and only
# the next training loss would tell; a coin, not a calibration (as PARTIAL_RECORD_CONFIDENCE).
VALIDATION_UNSURE_CONFIDENCE = 0.5
# what the summary says at that bound, of a set non-finite from its first evaluation
FIRST_EVALUATION_SENTENCE = (
    " It was non-finite from its first evaluation, so an evaluation fault (an empty or NaN-holding validation set) "
    "and weights gone non-finite on the last update leave it alike: a training loss logged after it would tell."
)
# ...and where restarts leave it unknown whether a training loss was logged after it (the same bound)
UNORDERED_SENTENCE = (
    " Which training loss came after it cannot be told, so an evaluation fault and weights gone non-finite "
    "leave it alike: the log of one run, without its restarts, would tell."
)
# Finite checkpoints, no curve, and the last checkpoint more than one interval before the steps a
# config planned: the job ended early and the weights say nothing of why. A crash, a kill, a label
# the loss cannot take (the job dies of it before any NaN) and a NaN after the last checkpoint all
# leave this; a healthy stop is one of four or five such endings, not a coin's side. On the dev
# split 3 of the 12 such runs were healthy (3 of 16 with the dev runs that kept curves seen as their
# checkpoints and config alone); the others diverged or crashed after the last checkpoint. Fixed, not
# fitted, as PARTIAL_RECORD_CONFIDENCE: the table's probability does not see the stop, and 12 verdicts
# are too few for a kind of their own.
STOPPED_SHORT_CHECKPOINTS_CONFIDENCE = 0.25
# How a divergence read off NumPy's warning of a non-finite box target (timeline.box_target_nonfinite) is said: the
# loss taken over those targets is non-finite, which the warning implies rather than states. Of NumPy's warnings only
# those place a non-finite loss, so the family's tag says which.
BOX_TARGET_TAG = "message:numpy_fp_warning"
BOX_TARGET_SAID = (
    "a NumPy warning of a non-finite box regression target (the log of a box's zero or negative size), which makes "
    "the loss taken over it non-finite"
)
# No single piece of evidence is certain: weights are capped here when combined.
MAX_EVIDENCE_WEIGHT = 0.99
# The confidence of a verdict never reaches certainty.
MAX_CONFIDENCE = 0.99
# The runs of a store not analysed are named in the not-checked list up to this many (a team's
# store can hold thousands; `forensics inspect` lists them all)
MAX_RUNS_NAMED = 5
# An inconclusive summary names at most this many of the files of one kind that were read.
MAX_FILES_NAMED = 3
# What each kind of file read can say of a run whose verdict is inconclusive (no curve, no checkpoint),
# and so why it said nothing: curves and the stores that hold them, settings, the console.
_CURVE_KINDS = frozenset({
    Kind.EVENTS, Kind.METRICS_CSV, Kind.METRICS_JSONL, Kind.MLFLOW_METRIC, Kind.MLFLOW_DB, Kind.WANDB_RUN,
    Kind.TRAINER_STATE,
})  # fmt: skip
_SETTINGS_KINDS = frozenset({Kind.CONFIG, Kind.TRAINING_ARGS, Kind.MLFLOW_PARAM})
# A runner-up less probable than this is no alternative worth naming in the summary.
RUNNER_UP_MIN_SCORE = 0.05
# A prior detail's sibling at least this share as probable is named beside it: the fitted table
# then leans between the two on base rates, not on anything the run shows.
DETAIL_TOSS_UP_SHARE = 0.5
# A cause that rests only on a loss non-finite from its first logged point (``Rule.shape``
# "first_point": no other finding for it) is one of three that leave that point alike: a net that
# blew up in its first updates, a bad first batch, an operation's singularity on it. Which of them
# a set of runs holds is its mix of families (deep plain nets blow up from initialisation, shallow
# ones do not), which nothing read in the run shows, so a fit on some families does not carry over
# to others: the verdict is stated no surer than one cause of the three. On the dev split, stated
# by tables that had not seen the run's cause in its architecture, 6 of 21 such verdicts were right
# (0 of 10 on deep plain MLPs, 4 of 5 on plain MLPs); a fixed bound, left out of the calibration.
FIRST_POINT_MAX_CONFIDENCE = 1 / 3
# A cause named from the fitted table's base rates alone, no finding for it (kind ``prior``), is
# never stated as more likely than not: those rates are the scenario corpus's mix of faults, and a
# real run's mix differs, so no fit to the corpus's prior verdicts (16 on dev: pooled) carries to it;
# a cause only a setting names (kind ``setup``) is a prior too. A ceiling, not a calibration.
PRIOR_MAX_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Candidate:
    """One cause the findings point to, with its score and evidence."""

    cause: str
    detail: str | None
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Verdict:
    """The cause named for the run, with its confidence, summary and fix."""

    cause: str
    detail: str | None
    confidence: float
    summary: str
    fix: str | None
    # how the detail was chosen: "evidence" (a finding names it), "prior" (none does: the
    # likeliest detail of the cause given what was found, from the fitted table), or None
    detail_basis: str | None = None

    def __repr__(self) -> str:
        what = self.cause + (f"/{self.detail}" if self.detail else "")
        return f"<Verdict {what}, confidence {self.confidence:.2f}>"


@dataclass
class Diagnosis:
    """The verdict, the causes ranked against it, and what could not be checked."""

    verdict: Verdict
    candidates: list[Candidate]
    recommendations: list[str]
    not_checked: list[str] = field(default_factory=list)
    # which calibration the confidence went through (``combine.CONFIDENCE_KINDS``), None
    # when it is fixed (inconclusive, decisive)
    confidence_kind: str | None = None


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
    for path, analysed, others in tl.stores_of_many:
        shown = ", ".join(f"'{n}'" for n in others[:MAX_RUNS_NAMED])
        more = f" and {len(others) - MAX_RUNS_NAMED} more" if len(others) > MAX_RUNS_NAMED else ""
        notes.append(
            f"{path} holds {len(others) + 1} runs: only '{analysed}' was analysed (the newest that logged a metric); "
            f"not analysed: {shown}{more} (forensics inspect lists each run's series)"
        )
    return notes


def _nonfinite_values_sentence(path: str, e: LogEvent) -> str:
    """The reader's finding that a row of values the log names no loss among went non-finite in every value
    (nonfinite_values): what it shows, and what it does not (which quantity, and when where no counter placed it)."""
    at = e.values.get("at")
    where = f" at {e.values.get('unit', 'step')} {at}" if at is not None else ""
    return (
        f"The log names no loss, but a row of {e.values.get('columns')} {e.values.get('what', 'unnamed values')}"
        f"{where} ({path} line {e.line}) "
        "is non-finite in every value, and none of its columns printed a finite value after it: the run's own "
        "numbers went non-finite, a divergence. Which quantity went first is not in the log"
        + ("." if at is not None else ", nor when.")
    )


# a crash whose message names a cause (a data check, a label check): the verdict rests on it; a crash of no divergence
# (out of memory, a collective's timeout) names none, and a verdict beside it rests on what else was read
_MESSAGE_CAUSES = frozenset(
    {
        *("learning_rate", "exploding_weights", "data_or_labels", "numerical_instability"),
        *("lr_too_high", "lr_schedule_spike", "exploding_gradients", "nan_in_inputs", "inf_in_inputs"),
        *("labels_out_of_range", "negative_labels", "unnormalized_inputs", "log_of_zero", "division_by_zero"),
        "fp16_overflow",
    }
)


def _divergence_sentence(tl: Timeline, evidence: Sequence[Evidence] = ()) -> str:
    nf = tl.first_nonfinite
    if nf is not None and nf.tag == "message:nonfinite_values":
        found = next(((p, e) for p, e in tl.log_events if e.kind == "nonfinite_values" and p == nf.source), None)
        if found is not None:
            return _nonfinite_values_sentence(*found)
    unit = "epoch" if nf is not None and nf.unit == "epoch" else "step"
    if nf is not None and nf.tag.startswith("message:") and nf.last_finite_step == nf.step:
        # a NaN guard after the last logged loss: the non-finite value came after that step
        if nf.tag == BOX_TARGET_TAG:
            return (
                f"The training loss went non-finite after {unit} {nf.step} (the last loss logged, "
                f"{fmt_num(nf.last_finite_value)}, came before {nf.source} printed {BOX_TARGET_SAID})."
            )
        return (
            f"The training loss went non-finite after {unit} {nf.step} (the last loss logged before a framework "
            f"message in {nf.source} said so, {fmt_num(nf.last_finite_value)})."
        )
    vo = tl.validation_only
    if nf is not None and vo is not None and nf is vo.nonfinite:
        return _validation_sentence(vo) + (
            " The same validation set evaluated finite before, so what changed is the weights: they went "
            "non-finite there, as far as the record shows."
        )
    if nf is not None and nf.after_record:
        # a job log's non-finite loss at a step of its own that the recorded loss contradicts
        return (
            f"The training loss went non-finite after {unit} {nf.step} (the last loss recorded, "
            f"{fmt_num(nf.last_finite_value)}): {nf.source} printed {fmt_num(nf.value)}, at a step of its own "
            "that does not place it on the recorded steps."
        )
    if nf is not None:
        what = "training loss" if nf.role == "loss" else nf.role.replace("_", " ")
        last = (
            f" (last finite at {unit} {nf.last_finite_step})"
            if nf.last_finite_step is not None
            else " (a framework message; no loss logged before it)"
            if nf.tag.startswith("message:") and tl.loss is None
            else " (first logged point)"
        )
        onset = ""
        if tl.onset is not None and tl.onset.step < nf.step:
            onset = (
                f"; it started climbing at {unit} {tl.onset.step}, growing ×{tl.onset.fold_per_step:.3g} per {unit} "
                "on average"
            )
        return f"The {what} became {fmt_num(nf.value)} at {unit} {nf.step}{last}{onset}."
    if tl.exploded_step is not None:
        how = f" ({tl.exploded_how})" if tl.exploded_how else ""
        if tl.exploded_verb == "collapsed":
            where = f"{tl.unit} {tl.exploded_step}"
            return f"The training loss collapsed at {where}{how}: a loss that learns does not get there."
        return f"The training loss {tl.exploded_verb} at {tl.unit} {tl.exploded_step} without going non-finite{how}."
    if tl.nonfinite_unplaced is not None:
        path, e = tl.nonfinite_unplaced
        if e.kind == "nonfinite_values":
            return _nonfinite_values_sentence(path, e)
        if box_target_nonfinite(e):
            said = f"The log holds {BOX_TARGET_SAID}"
        elif e.kind == "nonfinite_input":
            said = "A framework message says the batch it was about to train on held NaN, whose loss is NaN"
        else:
            said = "A framework message says the training loss went non-finite"
        return (
            f"{said} ({path} line {e.line}: {e.message.rstrip('.')}); the log shows no step or loss before it, so "
            "when is unknown."
        )
    if tl.first_nonfinite_checkpoint is not None:
        c = tl.first_nonfinite_checkpoint
        return f"No non-finite loss was logged, but {c.path} holds non-finite weights."
    if tl.died_with_exception:
        at = f" after step {tl.died_after_step}" if tl.died_after_step is not None else ""
        return f"The job died on an error{at}, before any non-finite loss was logged."
    if tl.loss is not None and any(e.weight > 0 and e.diverges for e in evidence):
        # a finding that is a divergence by itself (a loss without a floor driven below it): it says how
        return "No loss went non-finite or climbed, but one diverged all the same."
    if tl.loss is not None and any(e.weight >= DECISIVE_WEIGHT and _rule_is_decisive(e) for e in evidence):
        return "The training loss stayed finite and did not explode, but what was logged names a fault all the same."
    if tl.loss is not None:
        return "The training loss stayed finite and did not explode, but the weights tell otherwise."
    if not tl.checkpoints:
        end = ending_of(tl)
        if end.ended == "crashed" and end.crash is not None and end.crash.meaning in _MESSAGE_CAUSES:
            # a fatal message with no traceback kept (a check that raised, its frames cut from the paste): the
            # message, quoted next, is what the verdict rests on, not the run's settings
            return "The job died before it logged a loss; its log says what stopped it:"
        return (
            "No loss series and no checkpoint were kept, so whether and when the run diverged is not shown: the "
            "cause rests on what its settings state."
        )
    return ""


def _validation_sentence(vo: ValidationOnly) -> str:
    """Where only the validation loss went non-finite, and what the training loss did around it."""
    nf = vo.nonfinite
    unit = "epoch" if nf.unit == "epoch" else "step"
    train = (
        f"; the training loss logged before it was finite ({fmt_num(vo.train_value)} at {unit} {vo.train_step})"
        if vo.train_step is not None
        else ""
    )
    if vo.reading == "evaluation":
        after = f" and stayed finite on the {vo.later_points} point(s) logged after it ({vo.later_span(unit)})"
    elif vo.reading == "unordered":
        after = "; the job restarted, and the training loss and the validation loss do not restart alike"
    else:
        after = ", and no training loss was logged after it"
    return (
        f"Only the validation loss went non-finite: {nf.tag} became {fmt_num(nf.value)} at {unit} {nf.step} "
        f"({nf.source}){train}{after}."
    )


def _silence_sentence(tl: Timeline, evidence: list[Evidence]) -> str:
    """For an inconclusive verdict (no curve, no checkpoint): which sources were read and why none
    speaks for a cause, and what would."""

    def named(paths: list[str]) -> str:
        shown = ", ".join(paths[:MAX_FILES_NAMED])
        return shown + (f" and {len(paths) - MAX_FILES_NAMED} more" if len(paths) > MAX_FILES_NAMED else "")

    read = [s for s in tl.sources if s.status in (Status.OK, Status.PARTIAL)]
    if not read:
        return " No source could be read."
    other = _CURVE_KINDS | _SETTINGS_KINDS | {Kind.JOB_LOG}
    groups = (  # (files, why one says nothing, why several do)
        (
            [s for s in read if s.kind in _CURVE_KINDS],
            "no training-loss series is in it",
            "no training-loss series is in them",
        ),
        (
            [s for s in read if s.kind in _SETTINGS_KINDS],
            "it states settings, none of which makes a cause likelier",
            "they state settings, none of which makes a cause likelier",
        ),
        (
            [s for s in read if s.kind == Kind.JOB_LOG],
            "it holds no loss line and no error",
            "they hold no loss line and no error",
        ),
        (
            [s for s in read if s.kind not in other],
            "nothing in it shows how the run went",
            "nothing in them shows how the run went",
        ),
    )
    parts = [
        f"{named([f.path for f in files])} ({one if len(files) == 1 else many})" for files, one, many in groups if files
    ]
    text = " Read: " + "; ".join(parts) + "."
    against = list(dict.fromkeys(f"{e.rule} against {e.cause.replace('_', ' ')}" for e in evidence if e.weight < 0))
    if against:
        text += f" The only findings argue against a cause and name none ({', '.join(against)})."
    return text + " A loss curve, a checkpoint or the job's console output would say more."


def _runner_up_sentence(probs: dict[str, float]) -> str:
    """The likeliest problem cause by the fitted table, named beside a healthy verdict that the
    record cannot vouch for (its probability, or nothing when it is below RUNNER_UP_MIN_SCORE)."""
    other = max((c for c in probs if c != "healthy"), key=lambda c: (probs[c], -CAUSES.index(c)), default=None)
    if other is None or probs[other] < RUNNER_UP_MIN_SCORE:
        return ""
    return f" Runner-up: {other.replace('_', ' ')} ({probs[other]:.2f})."


def _crash_line(tl: Timeline) -> tuple[str, str] | None:
    """(exception line, where) of the exception the job died with, as the log printed it: a native crash (the
    process's own words of a signal or an abort) when one came after every exception, the job having died of it."""
    native = [(p, e) for p, e in tl.log_events if e.kind == "native_crash"]
    if native and not any(
        e.kind == "exception" and p == native[-1][0] and e.line > native[-1][1].line for p, e in tl.log_events
    ):
        path, e = native[-1]
        return e.message, f"{path} line {e.line}"
    for path, e in tl.log_events:
        if e.kind == "exception":
            return e.message, f"{path} line {e.line}"
    return None


def _with_probabilities(cands: list[Candidate], probs: dict[str, float]) -> list[Candidate]:
    """The candidates scored by the combined probability, best first."""
    out = [Candidate(c.cause, c.detail, round(probs.get(c.cause, 0.0), 3), c.evidence) for c in cands]
    out.sort(key=lambda c: (-c.score, CAUSES.index(c.cause)))
    return out


def diagnose(tl: Timeline, evidence: list[Evidence]) -> Diagnosis:
    comb = combine(tl, evidence)
    cands = candidates_from(evidence)
    notes = not_checked(tl)
    by_cause = {c.cause: c for c in cands}
    problem = [c for c in cands if c.cause != "healthy"]
    # causes some source spoke for (evidence with a positive weight)
    spoken = {c.cause for c in problem if any(e.weight > 0 for e in c.evidence)}
    # Evidence of a decisive rule (the framework naming the fault, labels outside the output
    # layer's range in the data) settles the cause even when no NaN was logged (the job died first).
    decisive = [c for c in problem if any(e.weight >= DECISIVE_WEIGHT and _rule_is_decisive(e) for e in c.evidence)]
    healthy = by_cause.get("healthy")

    # a run whose loss never went non-finite nor exploded, but whose own findings for a
    # problem cause (weights grown 10x, updates too large for their weights) outweigh
    # everything that says healthy: the best-supported cause is that one, not "healthy"
    p_all = comb.probabilities
    outweighed = any(p_all.get(c, 0.0) > p_all["healthy"] for c in spoken)
    # only settings were read (no curve, no checkpoint, no message that says how the job stopped) and one
    # speaks for a cause: the verdict follows it, weakly (_setup_verdict), for `inconclusive` is for a
    # run where no source says anything about the cause
    settings_speak = (
        bool(spoken)
        and tl.loss is None
        and not tl.checkpoints
        and not any(_healthy_note(e) for e in (healthy.evidence if healthy else ()))
    )
    if (
        not tl.diverged
        and not decisive
        and not (tl.died_with_exception and spoken)
        and not outweighed
        and not settings_speak
    ):
        # a rule that saw the job stop for a reason that is not divergence says so
        notes_ = [_healthy_note(e) for e in (healthy.evidence if healthy else ())]
        extra = next((" " + n for n in notes_ if n), "")
        # a note that says why the job stopped explains its crash; one of steps skipped on the way does not
        explained = any(_healthy_note(e) and _explains_stop(e) for e in (healthy.evidence if healthy else ()))
        crash = _crash_line(tl) if tl.died_with_exception and not explained else None
        if crash is not None and tl.loss is not None and crash[0] == CUT_TRACEBACK:
            # the log ends inside a traceback (a paste or a killed writer cut it): there is no
            # exception to judge, but a loss curve that stayed finite up to the cut, so the run is
            # called what its curve shows, below any curve's own confidence
            last = int(tl.loss.steps.max())
            verdict = Verdict(
                "healthy",
                None,
                round(min(calibrated(comb.probabilities["healthy"], "healthy"), UNKNOWN_CRASH_CONFIDENCE), 2),
                f"The training loss stayed finite up to {tl.loss.unit} {last}; then the job died on a traceback "
                f"cut before its exception line ({crash[1]}), so what it died of is not in the log. Nothing "
                "logged shows a divergence.",
                None,
            )
            return Diagnosis(verdict, _with_probabilities(cands, comb.probabilities), [], notes)
        if crash is not None:
            # an exception of no known meaning: quote it, say it is not a divergence, and do
            # not call the run healthy
            message, where = crash
            message = message.rstrip().rstrip(".")  # the sentence below ends it
            skipped = any(_healthy_note(e) and not _explains_stop(e) for e in (healthy.evidence if healthy else ()))
            said = (
                "That is not a divergence (no loss went non-finite before it), and the message names no known "
                "training fault."
                if not skipped
                # a guard threw away steps on a non-finite loss or gradient before it (LOG005): the NaN was seen
                else "Before it, the trainer's guard or a loss scaler skipped steps on a non-finite loss or gradient; "
                "the message names no known training fault, and whether those steps led to it the log does not say."
            )
            verdict = Verdict(
                "inconclusive", None, UNKNOWN_CRASH_CONFIDENCE, f"The job crashed ({where}): {message}. {said}", None
            )
            return Diagnosis(verdict, _with_probabilities(cands, comb.probabilities), [], notes)
        p_healthy = comb.probabilities["healthy"]
        if tl.loss is None:
            if tl.checkpoints:
                last = max((c.step for c in tl.checkpoints if c.step is not None), default=None)
                upto = f" up to step {last}" if last is not None else ""
                short = _checkpoints_stop_short(tl)
                confidence = min(calibrated(p_healthy, "healthy_checkpoints"), HEALTHY_MAX_CONFIDENCE)
                kind: str | None = "healthy_checkpoints"
                said = ""
                if short:
                    # the job ended before its planned length, and what ended it came after the last
                    # checkpoint: a crash, a kill or a divergence are as open as a healthy stop (a fixed
                    # confidence, left out of the kind's calibration)
                    confidence, kind = min(confidence, STOPPED_SHORT_CHECKPOINTS_CONFIDENCE), None
                    said = (
                        f" But the last checkpoint is at step {short[0]} of the {short[1]} planned ({short[2]}), "
                        f"and checkpoints came every {short[3]} steps: the job stopped before its end (it crashed, "
                        "was killed or diverged after that checkpoint), and no source says which."
                        + _runner_up_sentence(comb.probabilities)
                    )
                elif not extra and ending_of(tl).ended == "unknown":
                    said = _end_unseen_sentence(tl)
                verdict = Verdict(
                    "healthy",
                    None,
                    round(confidence, 2),
                    f"No training-loss series was found, but all {len(tl.checkpoints)} checkpoint(s){upto} hold "
                    "only finite weights: no sign of divergence up to there." + said,
                    None,
                )
                return Diagnosis(verdict, _with_probabilities(cands, comb.probabilities), [], notes, kind)
            if extra:
                verdict = Verdict(
                    "healthy",
                    None,
                    STOP_MESSAGE_ONLY_CONFIDENCE,
                    "No training-loss series and no checkpoint could be read." + extra,
                    None,
                )
                return Diagnosis(verdict, _with_probabilities(cands, comb.probabilities), [], notes)
            alone = next((e for e in (healthy.evidence if healthy else ()) if _speaks_without_loss(e)), None)
            if alone is not None:
                verdict = Verdict(
                    "healthy",
                    None,
                    NO_CURVE_FINDING_CONFIDENCE,
                    "No training-loss series and no checkpoint could be read, and no divergence shows in what was: "
                    + alone.message
                    + " The model's own loss was not seen, so this vouches only for the values that were read.",
                    None,
                )
                fixes = [alone.fix] if alone.fix else []
                return Diagnosis(verdict, _with_probabilities(cands, comb.probabilities), fixes, notes)
            verdict = Verdict(
                "inconclusive",
                None,
                0.0,
                "No training-loss series and no checkpoint could be read, so divergence could not be judged."
                + _silence_sentence(tl, evidence),
                None,
            )
            return Diagnosis(verdict, cands, _recommendations(verdict, healthy, by_cause.get("inconclusive")), notes)
        short = ""
        if len(tl.loss) < SHORT_CURVE_POINTS:
            short = f" Only {len(tl.loss)} points were logged, the last at step {int(tl.loss.steps.max())}."
        end_unknown = ending_of(tl).ended == "unknown"
        # no source says how the job ended: the curve vouches only for its own steps (calibrated apart)
        kind = "healthy_end_unknown" if end_unknown else "healthy"  # str | None, as in the branch above
        confidence = min(HEALTHY_MAX_CONFIDENCE, calibrated(p_healthy, kind))
        cut = _stopped_before_plan(tl)
        vo = tl.validation_only
        if vo is not None:
            short += " " + _validation_sentence(vo)
            if vo.reading == "evaluation":
                short += (
                    " Training went on from the weights it evaluated, so they were finite: the fault is the "
                    "evaluation's (an empty or NaN-holding validation set, an fp16 overflow or BatchNorm running "
                    "statistics only evaluation uses), not a divergence."
                )
            else:
                # the record's one look at the weights after the last update is non-finite, from the set's first
                # evaluation: an evaluation fault and weights gone non-finite leave it alike (a fixed bound)
                confidence, kind = min(confidence, VALIDATION_UNSURE_CONFIDENCE), None
                short += UNORDERED_SENTENCE if vo.reading == "unordered" else FIRST_EVALUATION_SENTENCE
        if end_unknown and cut is None and not extra:
            short += _end_unseen_sentence(tl)
        if cut is not None and end_unknown:
            # the job may have died right after the record stops: the curve vouches only for its steps
            # (a fixed confidence, left out of the kind's calibration)
            confidence, kind = min(confidence, PARTIAL_RECORD_CONFIDENCE), None
            short += (
                f" The record stops at step {cut.last_step} of the {cut.planned} planned ({cut.origin}), and the "
                "trainer logged no end-of-training summary: the job crashed, was killed or is still running, "
                "and no source says which, so what came after is unknown."
            )
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
        return Diagnosis(
            verdict,
            _with_probabilities(cands, comb.probabilities),
            _recommendations(verdict, healthy, by_cause.get("inconclusive")),
            notes,
            kind,
        )

    first_sentence = _divergence_sentence(tl, evidence)
    possible = [c for c in COMBINED_CAUSES if c != "healthy"]
    if _finite_blowup(tl) and "numerical_instability" not in spoken:
        # an operation that overflowed or hit a singularity (log(0), x/0, fp16 overflow) makes
        # Inf or NaN; a loss that blew up and stayed finite is grown weights or outputs
        possible.remove("numerical_instability")
        first_sentence += " An overflow or a singularity would have made it Inf or NaN: not numerical instability."
    elif blown_up_before_nonfinite(tl) and "numerical_instability" not in spoken:
        # the same blow-up, logged once more after it passed the float limit: an operation's
        # singularity strikes from a normal level, not after the loss grew by orders of magnitude
        before = renormalised(comb.probabilities, possible)
        possible.remove("numerical_instability")
        if max(before, key=lambda c: before[c]) == "numerical_instability":  # said where it moves the verdict
            term = term_blown_up_at_nonfinite(tl)
            first_sentence += (
                f" Its term {term[0]} stood at {fmt_num(term[1])} at {tl.loss.unit if tl.loss else 'step'} {term[2]}, "
                "still finite: the loss had blown up, and "
                if term is not None
                else " The loss had already blown up before that: "
            ) + "an overflow or a singularity strikes from a normal level, so not numerical instability."
    probs = renormalised(comb.probabilities, possible)
    ranked = _with_probabilities(problem, probs)
    if decisive:
        top_cause = decisive[0].cause
    elif spoken and not tl.diverged and tl.loss is None and not tl.checkpoints:
        return _setup_verdict(tl, first_sentence, ranked, probs, spoken, by_cause, evidence, notes)
    elif spoken:
        # the most probable cause given every finding: the fitted table lets a finding speak for
        # more than its own rule's cause (a NaN from the first point is bad data or a net that
        # blew up in its first updates), and the summary names the findings that raised it
        top_cause = max(probs, key=lambda c: (probs[c], -CAUSES.index(c)))
    else:
        return _prior_verdict(tl, first_sentence, ranked, probs, notes, evidence)
    top = by_cause[top_cause]
    ranked = [c for c in ranked if c.cause == top_cause] + [c for c in ranked if c.cause != top_cause]
    second = ranked[1] if len(ranked) > 1 else None
    kind, shapes = _cause_kind(top, evidence)
    confidence = calibrated(probs.get(top_cause, 0.0), kind)
    stated_kind: str | None = kind
    if "first_point" in shapes and not decisive:
        # three causes leave a first-point NaN alike: no surer than one of them (a fixed bound)
        confidence, stated_kind = min(confidence, FIRST_POINT_MAX_CONFIDENCE), None
    if decisive:
        confidence = max(confidence, DECISIVE_CONFIDENCE)
    confidence = round(max(0.0, min(confidence, MAX_CONFIDENCE)), 2)

    lead = [e for e in top.evidence if e.weight > 0][:2]
    summary = first_sentence
    if lead:
        msg = lead[0].message.rstrip(".")
        summary = (summary + " " if summary else "") + msg + "."
    else:
        # no finding of its own: say which findings point here through the fitted table
        rules = [k.split(":")[0] for k, v in comb.contributions.get(top_cause, []) if v > 0 and ":" in k]
        cited = [e for e in evidence if e.rule in rules and e.weight > 0][:1]
        if cited:
            summary = (summary + " " if summary else "") + (
                f"{cited[0].rule}: {cited[0].message.rstrip('.')} — on the dev corpus this finding goes with "
                f"{top_cause.replace('_', ' ')} more often than with {cited[0].cause.replace('_', ' ')}."
            )
        else:  # the findings there only count against the other causes
            summary = (summary + " " if summary else "") + _prior_sentence(tl, top_cause, after_findings=True)
    open_sentence = None if decisive else _left_open(tl, top, evidence)
    if open_sentence:
        summary += " " + open_sentence
    if second is not None and second.score >= RUNNER_UP_MIN_SCORE:
        summary += f" Runner-up: {second.cause.replace('_', ' ')} ({second.score:.2f})."
    fix = next((e.fix for e in top.evidence if e.fix and e.weight > 0), None)
    choice = choose_detail(top.cause, tl, evidence)
    if choice.basis == "prior" and choice.detail is not None:
        summary += " " + _prior_detail_sentence(choice, top.cause)
    ranked = [Candidate(c.cause, choice.detail, c.score, c.evidence) if c.cause == top.cause else c for c in ranked]
    verdict = Verdict(top.cause, choice.detail, confidence, summary.strip(), fix, choice.basis)
    # the inconclusive context (SPK001: where to resume) follows the cause's own fixes
    return Diagnosis(
        verdict,
        ranked,
        _recommendations(verdict, top, by_cause.get("inconclusive")),
        notes,
        None if decisive else stated_kind,
    )


def _setup_verdict(
    tl: Timeline,
    first_sentence: str,
    ranked: list[Candidate],
    probs: dict[str, float],
    spoken: set[str],
    by_cause: dict[str, Candidate],
    evidence: list[Evidence],
    notes: list[str],
) -> Diagnosis:
    """Only settings were read (a config: the job died before its first checkpoint), yet a finding
    outweighs healthy: what the settings state (a float16 model with no loss scaler, a
    recurrent net without clipping, an LR far above the usual). The verdict follows that named
    evidence: the table's facts of what was read (no loss series) carry the corpus's mix of
    faults among runs that kept none, not anything seen in this run, so a cause only they favour
    is named as the likelier base rate, never as the verdict. The confidence is the table's
    probability for the cause named, calibrated apart (kind ``setup``, on dev runs seen as their
    config alone) and, a prior as the summary says, never more likely than not
    (PRIOR_MAX_CONFIDENCE)."""
    top_cause = max(spoken, key=lambda c: (probs.get(c, 0.0), -CAUSES.index(c)))
    top = by_cause[top_cause]
    ranked = [c for c in ranked if c.cause == top_cause] + [c for c in ranked if c.cause != top_cause]
    confidence = round(min(calibrated(probs.get(top_cause, 0.0), "setup"), PRIOR_MAX_CONFIDENCE), 2)
    lead = next(e for e in top.evidence if e.weight > 0)
    summary = (first_sentence + " " if first_sentence else "") + lead.message.rstrip(".") + "."
    likelier = max(probs, key=lambda c: (probs[c], -CAUSES.index(c)))
    second = ranked[1] if len(ranked) > 1 else None
    if likelier != top_cause:
        summary += (
            f" By the base rates fitted on the scenario corpus, {likelier.replace('_', ' ')} is likelier in a run "
            f"that kept no loss series ({probs[likelier]:.2f} against {probs.get(top_cause, 0.0):.2f}), but nothing "
            "in this run names it: the verdict follows the setting named, a weak prior."
        )
    elif second is not None and second.score >= RUNNER_UP_MIN_SCORE:
        summary += f" Runner-up: {second.cause.replace('_', ' ')} ({second.score:.2f})."
    choice = choose_detail(top.cause, tl, evidence)
    if choice.basis == "prior" and choice.detail is not None:
        summary += " " + _prior_detail_sentence(choice, top.cause)
    ranked = [Candidate(c.cause, choice.detail, c.score, c.evidence) if c.cause == top.cause else c for c in ranked]
    fix = next((e.fix for e in top.evidence if e.fix and e.weight > 0), None)
    verdict = Verdict(top.cause, choice.detail, confidence, summary.strip(), fix, choice.basis)
    return Diagnosis(verdict, ranked, _recommendations(verdict, top), notes, "setup")


def _prior_verdict(
    tl: Timeline,
    first_sentence: str,
    ranked: list[Candidate],
    probs: dict[str, float],
    notes: list[str],
    evidence: list[Evidence],
) -> Diagnosis:
    """The run diverged and no rule found evidence for any cause: the cause named is the one
    the fitted table's base rates make most probable given what was read (that it diverged,
    whether a loss series was there), said plainly to be a prior and not evidence, with its
    runner-up and a low confidence (calibrated apart, kind ``prior``, and capped). Its detail
    is chosen from every finding, as the detail table was fitted: a context finding (weight 0,
    for no cause) may still name the detail of the cause the prior names (NUM009's feature
    constant over a batch, a division by 0)."""
    top = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    confidence = round(min(calibrated(probs.get(top.cause, 0.0), "prior"), PRIOR_MAX_CONFIDENCE), 2)
    summary = (first_sentence + " " if first_sentence else "") + (
        "No source says anything about the cause: no rule found evidence for any of them. "
        + _prior_sentence(tl, top.cause)
    )
    if second is not None:
        summary += f" Runner-up: {second.cause.replace('_', ' ')} ({second.score:.2f})."
    choice = choose_detail(top.cause, tl, evidence)
    if choice.detail is not None:
        namer = next((e for e in evidence if e.detail == choice.detail and e.weight >= 0), None)
        if choice.basis == "evidence" and namer is not None:
            # no finding spoke for a cause, but a context finding names the detail
            summary += f" {namer.rule} names the detail: {namer.message.rstrip('.')}."
        else:
            summary += " " + _prior_detail_sentence(choice, top.cause)
        ranked = [Candidate(c.cause, choice.detail, c.score, c.evidence) if c is top else c for c in ranked]
    verdict = Verdict(top.cause, choice.detail, confidence, summary, None, choice.basis)
    return Diagnosis(verdict, ranked, _recommendations(verdict, prior=True), notes, "prior")


def _prior_sentence(tl: Timeline, cause: str, after_findings: bool = False) -> str:
    """Why a cause no finding spoke for is named: the fitted base rates for what was read (and,
    ``after_findings``, the findings' weight against the other causes)."""
    if not tl.diverged:
        what = "a run whose loss was not kept"
    else:
        what = "a run that diverged" + (" with no loss series read" if tl.loss is None else "")
    rest = ", once the findings' weight against the other causes is counted" if after_findings else ""
    return (
        f"{cause.replace('_', ' ').capitalize()} is named from a weak prior, not from evidence: it is the "
        f"likeliest cause of {what} by the base rates fitted on the scenario corpus{rest}."
    )


def _prior_detail_sentence(choice: DetailChoice, cause: str) -> str:
    """Say that a detail no finding names is a prior, which findings raised it most, and which
    sibling detail is nearly as likely (nothing read tells them apart), with what would."""
    detail = choice.detail or ""
    raised = list(dict.fromkeys(k.split(":")[0] for k, v in choice.contributions if v > 0 and ":" in k))[:2]
    given = f" given {' and '.join(raised)}" if raised else ""
    text = (
        f"No finding names the detail: {detail.replace('_', ' ')} is the likeliest for "
        f"{cause.replace('_', ' ')}{given} on the dev corpus (a prior, not seen in this run)."
    )
    p = choice.probabilities
    others = sorted((d for d in p if d != detail), key=lambda d: -p[d])
    if others and p[others[0]] >= DETAIL_TOSS_UP_SHARE * p.get(detail, 0.0):
        text += (
            f" {others[0].replace('_', ' ').capitalize()} is nearly as likely: nothing read tells them apart "
            f"(what would: {tells_apart(detail, others[0])})."
        )
    return text


def _end_unseen_sentence(tl: Timeline) -> str:
    """What a finite curve can and cannot show when no source read says how the job ended: it
    vouches for its own steps, not for what came after the last (a crash, a kill and a normal end
    leave it alike where no job log was read; a job log that stops with no word of the end)."""
    if tl.loss is None:  # finite checkpoints alone
        steps = [c.step for c in tl.checkpoints if c.step is not None]
        what = "the checkpoints show the weights" + (f" up to step {max(steps)}" if steps else "")
        if tl.job_logs:
            return f" The job log holds no loss line and no word of how the job ended: {what}, not what came after."
        return (
            f" No job log was read and no source says how the job ended: {what}, not whether the job then "
            "finished, was killed or died of an error (an exception is printed to the console, not to a checkpoint)."
        )
    last = f"{tl.loss.unit} {int(tl.loss.steps.max())}"
    if not tl.job_logs:
        return (
            f" No job log was read and no source says how the job ended: {tl.loss.source} shows the loss up to "
            f"{last}, not whether the job then finished, was killed or died of an error (an exception is printed "
            "to the console, not to this record)."
        )
    return (
        f" The job log stops with no word of how the job ended (no completion, no error) and no other source "
        f"says: the loss is shown up to {last}, not what came after."
    )


def _stopped_before_plan(tl: Timeline) -> RecordEnd | None:
    """Where the record stops short of the run's planned length, or None (reached, or not stated)."""
    end = tl.record_end
    return end if end is not None and not end.reached else None


def _checkpoints_stop_short(tl: Timeline) -> tuple[int, int, str, int] | None:
    """(last checkpoint's step, planned steps, where the plan is stated, steps between checkpoints)
    when the checkpoints stop more than one checkpoint interval (their median spacing) before the
    optimizer steps a config says the run was set to train: the next checkpoint was due before the
    end and never came. None when the plan or the spacing is not known (a single checkpoint
    needs no spacing when it is due: its own step), or the last checkpoint is near the end."""
    planned, origin = tl.setup.max_steps, tl.setup.max_steps_origin
    steps = sorted({c.step for c in tl.checkpoints if c.step is not None and c.step > 0})
    if planned is None or origin is None or not steps:
        return None
    gaps = sorted(b - a for a, b in itertools.pairwise(steps))
    every = gaps[len(gaps) // 2] if gaps else steps[0]
    if steps[-1] + every > planned:
        return None
    return steps[-1], planned, origin, every


def _left_open(tl: Timeline, top: Candidate, evidence: list[Evidence]) -> str | None:
    """Where the verdict rests on the shape of the record alone (no finding of its cause but
    those of rules that see only that shape, ``Rule.shape``), a sentence saying what the kept
    sources cannot tell apart there. On the corpus's dev split such verdicts were right 27
    times in 52 (7 in 21 at a first-point NaN), and a sudden NaN from a normal level was an
    operation's in 27 runs and the data's in 10: a lean, which the summary says."""
    nf = tl.first_nonfinite
    in_weights = nf is None and tl.loss is None and tl.first_nonfinite_checkpoint is not None
    if not in_weights and (nf is None or nf.role not in ("loss", "grad_norm")):
        return None
    if any(e.weight > 0 and _shape(e) is None for e in top.evidence):
        return None
    sudden = any(e.weight > 0 and _shape(e) == "sudden" for e in evidence)
    if in_weights:
        if not sudden or top.cause not in ("data_or_labels", "numerical_instability"):
            return None
        return (
            "Steady weights that turn NaN in every layer between two checkpoints are what a batch holding NaN/Inf "
            "and an operation's singularity on a batch (0/0 in a batch statistic, log(0)) both leave, and the "
            "weights cannot tell them apart (the rows fed between the two checkpoints would): the cause named is a "
            "lean, not a finding, and its confidence says so."
        )
    if nf is None:
        return None
    if nf.last_finite_step is None:
        return (
            "The loss was non-finite from its first logged point, so nothing logged before it tells a network that "
            "blew up in its first updates from a bad first batch or an operation's singularity: the cause named is "
            "a lean, not a finding, and its confidence says so."
        )
    if sudden and top.cause in ("data_or_labels", "numerical_instability"):
        return (
            "A NaN straight from a normal loss is what a batch holding NaN/Inf and an operation's singularity in that "
            "step (0/0 in a batch statistic, log(0)) both leave, and nothing kept tells them apart (the rows fed at "
            "that step would): the cause named is a lean, not a finding, and its confidence says so."
            + _unlogged_between(nf)
        )
    return None


def _unlogged_between(nf: NonFinite) -> str:
    """What the log did not show between the last finite loss it printed and the first non-finite one, when
    that is more than the one update a sudden NaN takes: a climb there, under a step size too large or
    gradients growing, leaves the same two printed values, so "straight from a normal loss" holds only at
    the print's resolution (in the public threads, such NaNs were settled as an LR too high and as exploding
    gradients as often as an operation's; the scenario corpus, whose faults climb where they are logged, does
    not show it, so this is said, not weighed)."""
    if nf.last_finite_step is None or nf.tag.startswith("message:") or nf.after_record:
        return ""
    if nf.unit == "log_index":
        unseen = (
            "The log prints no step counter, so how many updates ran between its last finite line and the NaN is "
            "unknown"
        )
    elif nf.unit == "epoch":
        unseen = (
            f"The loss is printed once an epoch: a whole epoch of updates ran between epoch {nf.last_finite_step} "
            f"and epoch {nf.step}, unlogged"
        )
    elif nf.step - nf.last_finite_step > 1:
        unseen = (
            f"{nf.step - nf.last_finite_step} updates ran unlogged between step {nf.last_finite_step} and step "
            f"{nf.step}"
        )
    else:
        return ""
    return (
        f" {unseen}: a climb there, from a step size too large or from growing gradients, would print the same, so "
        "the learning rate and exploding weights are not ruled out either."
    )


def _cause_kind(top: Candidate, evidence: list[Evidence]) -> tuple[str, set[str]]:
    """The confidence kind of a verdict naming ``top``'s cause, and the shapes of the record
    (``Rule.shape``) its cause rests on alone (empty unless the kind is ``shape``): ``finding``
    when a rule that sees more than the record's shape spoke for the cause; ``shape`` when nothing
    but the shape of the record at the divergence speaks for it (its own shape finding, or
    another cause's that the fitted table reads as this one); ``inferred`` when only other
    causes' findings raise it. Each is right at its own rate: the fitted table's associations
    of a shape need not carry over to a family the dev split never saw."""
    if any(e.weight > 0 and _shape(e) is None for e in top.evidence):
        return "finding", set()
    shapes = {s for e in evidence if e.weight > 0 and (s := _shape(e)) is not None}
    return ("shape" if shapes else "inferred"), shapes


def _shape(e: Evidence) -> str | None:
    r = REGISTRY.get(e.rule)
    return r.shape if r is not None else None


def _finite_blowup(tl: Timeline) -> bool:
    """The run diverged only by a finite loss that exploded: nothing non-finite anywhere. A loss that
    collapsed to exactly 0 is no such blow-up: its zeros stand for a NaN the logger masked or a
    NaN the training code replaced by 0 (``timeline.collapsed_from``)."""
    return (
        tl.exploded_step is not None
        and tl.exploded_verb != "collapsed"
        and tl.first_nonfinite is None
        and tl.first_nonfinite_checkpoint is None
        and tl.nonfinite_unplaced is None
    )


def _rule_is_decisive(e: Evidence) -> bool:
    r = REGISTRY.get(e.rule)
    return r is not None and r.decisive


def _speaks_without_loss(e: Evidence) -> bool:
    r = REGISTRY.get(e.rule)
    return r is not None and r.speaks_without_loss and e.weight > 0


def _healthy_note(e: Evidence) -> str | None:
    r = REGISTRY.get(e.rule)
    return r.healthy_note if r is not None else None


def _explains_stop(e: Evidence) -> bool:
    r = REGISTRY.get(e.rule)
    return r is not None and r.explains_stop


def _recommendations(verdict: Verdict, *cands: Candidate | None, prior: bool = False) -> list[str]:
    recs: list[str] = []
    settled: set[str] = set()  # what a recommendation already sets: the strongest fix wins
    for c in cands:
        if c is None:
            continue
        for e in c.evidence:
            if e.fix and e.fix not in recs and (e.weight > 0 or e.weight == CONTEXT):
                if e.fix_sets is not None and e.fix_sets in settled:
                    continue
                recs.append(e.fix)
                if e.fix_sets is not None:
                    settled.add(e.fix_sets)
    if (verdict.cause == "inconclusive" or prior) and not recs:
        recs.append(
            "Re-run a few steps before the divergence with anomaly detection on "
            "(torch.autograd.set_detect_anomaly(True) / tf.debugging.enable_check_numerics()) to name the operation."
        )
    return recs


def is_finite_number(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
