"""Loss spikes by the published criteria, and where to resume a run that a spike ended.

Context only (weight 0): a spike says the optimisation was disturbed, not why; a
benign spike must not move a healthy verdict, and a fatal one is already the onset
the cause rules judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forensics.batches import StepData, describe, step_data
from forensics.rules.base import CONTEXT, Finding, rule
from forensics.spikes import Spike
from forensics.timeline import CheckpointView, Timeline
from forensics.util import fmt_num

# A checkpoint whose global weight norm is this many times the smallest norm of the
# checkpoints before it is already inflated: training moves the norm by tens of
# percent between saves, a blow-up under way by multiples.
INFLATED_FACTOR = 3.0
# PaLM (Chowdhery et al. 2022, section 5.1): restart about 100 steps before the spike and
# skip about 200-500 data batches around it.
REWIND_STEPS = 100
# PaLM's batches skipped around a spike: 200 to 500 (the upper end is suggested).
SKIP_BATCHES = (200, 500)
# The LR cut to suggest after a fatal spike: halving is the usual first remedy
# (OLMo, BLOOM and OPT logbooks lowered the LR by about this much on restarts).
LR_CUT = 0.5
# Spikes named one by one in the message; the JSON report lists them all.
SHOWN = 6


@dataclass(frozen=True)
class ResumePoint:
    """The newest checkpoint before a blow-up that is safe to resume from, and why."""

    path: str
    step: int
    before: int  # the step it precedes (the fatal spike's start, or the onset)
    advice: str
    skip: tuple[int, int]  # the steps whose batches to skip on resuming
    skip_data: tuple[StepData, StepData] | None = None  # where those steps sit in the data


def _finite(view: CheckpointView) -> bool:
    ck = view.checkpoint
    if view.nonfinite_tensors or any(t.nonfinite for t in ck.optimizer_tensors):
        return False
    opt = ck.optimizer
    return opt is None or all(math.isfinite(u.update_l2) for u in opt.layers)


def blowup_step(tl: Timeline) -> int | None:
    """Where the run started to go wrong: the fatal spike's start, else the onset, else
    the divergence."""
    fatal = [s for s in tl.loss_spikes if s.fatal]
    if fatal:
        return fatal[0].start
    if tl.onset is not None:
        return tl.onset.step
    return tl.divergence_step


def last_good_checkpoint(tl: Timeline) -> ResumePoint | None:
    """The newest checkpoint before the blow-up whose weights and optimizer state are
    finite and whose weight norm is not yet inflated (None when the run did not blow up
    or no checkpoint qualifies)."""
    before = blowup_step(tl)
    if before is None or not (tl.diverged or any(s.fatal for s in tl.loss_spikes)):
        return None
    norms = {w.path: w.norm for w in tl.weight_norms}
    good: CheckpointView | None = None
    smallest = math.inf
    for c in sorted((c for c in tl.checkpoints if c.step is not None), key=lambda c: c.step or 0):
        if c.step is None or c.step >= before:
            break
        n = norms.get(c.path, math.nan)
        if _finite(c) and not (math.isfinite(n) and n > INFLATED_FACTOR * smallest):
            good = c
        if math.isfinite(n) and n > 0:
            smallest = min(smallest, n)
    if good is None or good.step is None:
        return None
    lr = tl.lr_at(before)
    # no LR value to set: a cause rule's fix may set one, and two targets would contradict
    was = f" (it was {fmt_num(lr)} when the blow-up began)" if lr else ""
    lr_part = f"; and cut the LR by {1 / LR_CUT:g}× or more{was}"
    # the batches from the restart point on, PaLM's upper count, and at least through the blow-up
    lo = good.step + 1
    hi = max(lo + SKIP_BATCHES[1] - 1, before)
    skip_data = None
    where = ""
    if tl.data_order is not None and tl.data_order.steps_per_epoch:
        skip_data = (step_data(tl.data_order, lo), step_data(tl.data_order, hi))
        a, b = skip_data
        where = f" (from epoch {a.epoch} batch {a.first_batch} to epoch {b.epoch} batch {b.last_batch})"
    with_opt = " and optimizer state" if good.checkpoint.optimizer or good.checkpoint.optimizer_tensors else ""
    advice = (
        f"Resume from {good.path} (step {good.step}, finite weights{with_opt}, norm not yet inflated), "
        f"skip the batches of steps {lo}..{hi}{where} (PaLM: restart ~{REWIND_STEPS} steps before the spike, "
        f"skip {SKIP_BATCHES[0]}-{SKIP_BATCHES[1]} batches){lr_part}."
    )
    return ResumePoint(good.path, good.step, before, advice, (lo, hi), skip_data)


def spike_data(tl: Timeline, s: Spike) -> StepData | None:
    """The data of the step a spike started at, when anything places steps on the data."""
    return step_data(tl.data_order, s.start) if tl.data_order is not None else None


def _describe(s: Spike, data: StepData | None) -> str:
    end = f"recovered by {s.recovered}" if s.recovered is not None else "never recovered"
    lead = f", grad-norm spike at {s.grad_lead} before it" if s.grad_lead is not None else ""
    batch = ""
    if data is not None and data.epoch is not None:
        batch = f", step {s.start} trained on {describe(data, say_missing=False)}"
    return (
        f"{s.start}→peak {s.peak} ({fmt_num(s.peak_value)} vs {fmt_num(s.baseline)} before), {end}"
        f" [{', '.join(s.criteria)}]{lead}{batch}"
    )


@rule("SPK001", "loss-spikes", "inconclusive", (), needs=("loss",))
def loss_spikes(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Every loss spike by any of the published criteria: OLMo 2 (>= 7 sigma above
        the mean of the last 1000 steps), llm-foundry (>= 2x the last-100-step mean
        for more than 4 steps), Megatron-LM (> 10x the largest loss so far); each with
        its start, peak and recovery step (or none: fatal), whether a ZClip
        gradient-norm spike (z > 2.5 against an EMA with alpha 0.97) came just before
        it, and whether spikes come more and more often. For a run a spike or a
        divergence ended, the last good checkpoint: the newest before the blow-up
        whose weights and optimizer state are finite and whose norm is not inflated.

    Why it points to this cause:
        It points to none: a spike says the optimisation was disturbed (a bad batch,
        too high an LR, fp16 overflow), not which. Spikes that recover are benign;
        the one that never recovers is where the cause rules look.

    Evidence it reports:
        The spikes (start, peak, recovery against the median loss before the spike,
        criteria), whether they accelerate, the checkpoint to resume from, and the
        data each spike's first step trained on: its epoch, its micro-batches within
        the epoch and, where the order can be recovered (a sequential sampler, or the
        Hugging Face Trainer's seeded sampler with the dataset length known), its
        samples; otherwise what is missing to recover them (forensics/batches.py).

    Fix to suggest:
        After a fatal spike: resume from the last good checkpoint, skip the batches
        from there on (PaLM: restart ~100 steps before the spike, skip 200-500
        batches), named by epoch and batch where the data order is known, and halve
        the LR. Benign spikes coming more and more often: clip gradients or lower
        the LR before they turn fatal.
    """
    if tl.loss is None:
        return []
    spikes = tl.loss_spikes
    resume = last_good_checkpoint(tl)
    out: list[Finding] = []
    if spikes:
        benign = sum(1 for s in spikes if not s.fatal)
        shown = "; ".join(_describe(s, spike_data(tl, s)) for s in spikes[:SHOWN])
        shown += "; …" if len(spikes) > SHOWN else ""
        accel = " They come more and more often." if tl.spikes_accelerating else ""
        fix = None
        if tl.spikes_accelerating and not any(s.fatal for s in spikes):
            fix = "Spikes are coming more and more often: clip gradients (max norm 1.0) or lower the LR."
        order = tl.data_order
        missing = ""
        if order is None or not order.steps_per_epoch:
            missing = " Which batches: unknown (no trainer state, config or progress line gives the steps per epoch)."
        elif order.samples_missing():
            missing = f" Which samples: missing {order.samples_missing()}."
        out.append(
            Finding(
                None,
                f"{len(spikes)} loss spike(s), {benign} recovered, {len(spikes) - benign} fatal: {shown}.{accel}"
                f"{missing}",
                step=spikes[0].start,
                source=tl.loss.source,
                weight=CONTEXT,
                fix=fix,
            )
        )
    if resume is not None:
        out.append(
            Finding(
                None,
                f"Last good checkpoint before step {resume.before}: {resume.path} (step {resume.step}).",
                step=resume.step,
                source=resume.path,
                weight=CONTEXT,
                fix=resume.advice,
            )
        )
    return out
