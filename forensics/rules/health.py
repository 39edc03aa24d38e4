"""Rules saying the run did not diverge."""

from __future__ import annotations

import math

import numpy as np

from forensics.rules.base import Finding, rule
from forensics.rules.context import FIRST_LOSS_HUGE
from forensics.timeline import Timeline
from forensics.util import fmt_num

# Evidence weights. A finite loss that also fell: the run trained.
IMPROVED_WEIGHT = 0.8
# A finite loss that did not fall: no divergence, but less sign of health.
FINITE_WEIGHT = 0.6
# Spikes that recovered: a faint sign of health (the optimiser absorbed them).
RECOVERED_SPIKES_WEIGHT = 0.2
# A loss logged at or before this step was computed by the initial weights' forward pass (step 1's
# loss is the one its update follows): no update compounded yet, so its level is the loss's own
# scale (a sum over a batch or over tokens, unscaled targets), not a blow-up.
INITIAL_STEP = 1
# With the initial loss logged, a level this many times above it is a blow-up on the way (and the
# mean-reduced bound FIRST_LOSS_HUGE the floor): a summed loss starts 1e3-1e5 times above a mean's
# ln(classes) and falls from there as any loss that trains.
BLOWN_UP_FACTOR = 10.0


@rule("OK001", "no-divergence", "healthy", (), needs=("loss",))
def no_divergence(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Every logged training loss (and gradient norm) is finite and never
        exploded (a loss that ended two decades above its first logged value
        exploded, finite or not), and no checkpoint holds a non-finite tensor.
        A loss that passed 1e3 on the way counts as one that did not fall, unless
        the record starts at the run's first step and that first loss sets a
        larger scale: then a level ten times above it.

    Why it points to this cause:
        Divergence shows as a non-finite or exploded loss; without one the run
        is healthy as far as its artifacts tell, whatever else ended it. A
        loss of thousands is no initialised net's (cross-entropy starts near
        ln(classes), a standardised regression near 1): its outputs were blown
        up at some point, or its targets are unscaled, and a fall from there
        says less of health than a fall from a normal level. A loss summed over
        a batch or over tokens starts there legitimately: where the first step's
        loss is logged (the initial weights' forward pass, nothing compounded
        yet), it is the run's own scale and the bound follows it.

    Evidence it reports:
        The loss at the first and last logged step and how many steps were
        logged.

    Fix to suggest:
        Nothing to fix for divergence.
    """
    if tl.diverged or tl.loss is None or tl.first_nonfinite_checkpoint is not None:
        return []
    v = tl.loss.values
    first, last = float(v[0]), float(v[-1])
    # a fall from a blown-up level is no sign that training worked: past FIRST_LOSS_HUGE for a mean
    # loss, or a decade above the initial weights' own loss where the record starts at the first step
    huge = FIRST_LOSS_HUGE
    if tl.loss.unit == "step" and int(tl.loss.steps[0]) <= INITIAL_STEP and math.isfinite(first):
        huge = max(huge, BLOWN_UP_FACTOR * abs(first))
    improved = last < first and float(np.nanmax(np.abs(v))) < huge
    return [
        Finding(
            None,
            f"The training loss stayed finite over {len(tl.loss)} logged points (steps {int(tl.loss.steps.min())}.."
            f"{int(tl.loss.steps.max())}), from {fmt_num(first)} to {fmt_num(last)}.",
            step=int(tl.loss.steps[-1]),
            source=tl.loss.source,
            weight=IMPROVED_WEIGHT if improved else FINITE_WEIGHT,
        )
    ]


@rule("OK002", "spikes-that-recovered", "healthy", (), needs=("loss",))
def recovered_spikes(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Loss spikes above 3x the trailing median that came back down within a
        few logged points, in a run that did not diverge.

    Why it points to this cause:
        Hard or noisy batches and brief instabilities make spikes; when the loss
        returns to its trend, the optimiser absorbed them. They are worth
        watching, not a divergence.

    Evidence it reports:
        How many spikes and at which steps.

    Fix to suggest:
        If spikes grow more frequent, add gradient clipping or lower the LR.
    """
    if tl.diverged or not tl.spikes_recovered or tl.loss is None:
        return []
    steps = tl.spikes_recovered
    shown = ", ".join(str(s) for s in steps[:6]) + (", …" if len(steps) > 6 else "")
    return [
        Finding(
            None,
            f"{len(steps)} loss spike(s) that recovered (steps {shown}); the loss returned to its trend each time.",
            step=int(np.min(steps)),
            source=tl.loss.source,
            weight=RECOVERED_SPIKES_WEIGHT,
            fix="If the spikes grow more frequent, add gradient clipping (clipnorm=1.0) or lower the LR.",
        )
    ]
