"""Rules saying the run did not diverge."""

from __future__ import annotations

import math

import numpy as np

from forensics.rules.base import CONTEXT, Finding, rule
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


# A validation loss non-finite while training went on finite from the weights it evaluated: the fault is
# the evaluation's, a sign of health as faint as recovered spikes (the run trained; its evaluation is broken).
EVALUATION_ONLY_WEIGHT = 0.2


@rule("OK004", "validation-only-nonfinite", "healthy", (), needs=("loss",))
def validation_only_nonfinite(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A validation (evaluation) loss that went non-finite (Keras's
        `val_loss: nan`, a `Validation loss: nan` line, an evaluation dict's
        `eval_loss: NaN`) while the training loss stayed finite, and whether a
        finite training loss was logged after it.

    Why it points to this cause:
        Evaluation runs the weights that training goes on from: weights gone
        non-finite make the next training loss non-finite too. A finite
        training loss logged after the validation's non-finite point shows the
        weights were finite, so the fault is the evaluation's own (an empty
        validation set's 0/0, NaN in the validation data, an fp16 overflow in
        evaluation, BatchNorm running statistics gone non-finite, which only
        evaluation uses): not a divergence, and the contract's `diverged`
        speaks of the training loss. With no training loss after it, the
        validation loss is the record's last look at the weights: when the same
        set evaluated finite before, what changed is the weights and the run
        diverged there (the divergence sentence says so and this rule is
        silent); non-finite from the first evaluation, the record cannot tell
        an evaluation fault from weights gone non-finite on the last update,
        and the finding is context only. After a restart (the steps start
        over) "after" is the order the log wrote the points in; when the two
        losses do not restart alike that order is unknown, and the finding is
        context only too.

    Evidence it reports:
        The validation series, the step of its first non-finite value, the
        training loss before it and how many finite training points came after.

    Fix to suggest:
        Check the validation set (non-empty, finite inputs and labels), run
        evaluation in float32, and look at BatchNorm running statistics.
    """
    vo = tl.validation_only
    if vo is None or tl.diverged:
        return []
    nf = vo.nonfinite
    unit = "epoch" if nf.unit == "epoch" else "step"
    if vo.reading == "evaluation":
        how = (
            f"the training loss stayed finite on the {vo.later_points} point(s) logged after it ("
            f"{vo.later_span(unit)}): training went on from finite weights, so the fault is the evaluation's."
        )
        weight = EVALUATION_ONLY_WEIGHT
    elif vo.reading == "unordered":
        how = (
            "the job restarted and the two losses do not restart alike, so which training loss came after it "
            "cannot be told: an evaluation fault and weights gone non-finite leave this alike."
        )
        weight = CONTEXT
    else:
        how = (
            "no training loss was logged after it, and it was non-finite from its first evaluation: an evaluation "
            "fault and weights gone non-finite on the last update leave this alike."
        )
        weight = CONTEXT
    return [
        Finding(
            None,
            f"Only the validation loss went non-finite: {nf.tag} became {fmt_num(nf.value)} at {unit} {nf.step} "
            f"({nf.source}); {how}",
            step=nf.step,
            source=nf.source,
            weight=weight,
            fix="Check the validation set (not empty; finite inputs and labels), evaluate in float32, and check "
            "BatchNorm running statistics for NaN/Inf.",
        )
    ]


# An episode statistic NaN over a window with no finished episode, and nothing else non-finite: a sign of health as
# faint as recovered spikes where no loss was read (it says the statistic had no data, not that the learner trained);
# beside a loss curve, the curve decides and this is context.
EMPTY_WINDOW_WEIGHT = 0.2
# The steps shown in the finding, at most.
EMPTY_STEPS_SHOWN = 4


@rule("OK005", "episode-statistics-finite", "healthy", (), speaks_without_loss=True)
def empty_episode_window(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Where no loss was read, a reinforcement learner's episode reward or
        return statistic finite at every one of at least three steps
        (ML-Agents' 'Step: N. Mean Reward: X. Std of Reward: Y.', RLlib's and
        Tune's episode_reward_mean or episode_return_mean, Stable-Baselines'
        ep_rew_mean), with nothing else logged non-finite. Or, beside a loss
        or without one, an episode statistic (the mean, max or min
        reward or return of the episodes a window finished, or their mean
        length) that is NaN where the window held no finished episode: an
        episode count of 0 printed at the same point (RLlib's
        `episode_reward_mean: .nan` beside `episodes_this_iter: 0` or
        `episodes_total: 0`, in its pretty-printed result, result.json or
        progress.csv), or NumPy's warning of the mean's own 0/0 just before
        the first NaN ('Mean of empty slice', then 'invalid value encountered
        in double_scalars' or 'scalar divide' from numpy's _methods.py, as
        ML-Agents' 'Mean Reward: nan' follows). Only where nothing else the
        run logged is non-finite: no loss, policy or value loss, entropy, KL
        or other series, no checkpoint, no other NumPy floating-point warning.

    Why it points to this cause:
        A policy whose weights went non-finite acts non-finite: its action
        logits or means are NaN, so sampling them raises, or the environment
        is stepped with NaN actions and errors or returns NaN rewards. The
        episodes it still finishes return NaN. Finite returns from episodes
        finished over several summaries (the first may precede any update) are
        the run's state seen without its loss: no sign of divergence up to the
        last of them, at the same modest confidence as the empty windows below
        (the learner itself was not seen, and an environment whose reward does
        not depend on the action's values can pay a broken policy finitely).
        Their level says nothing of divergence: a reward that collapses is a
        policy that got worse, not one gone non-finite.
        For the empty windows: a mean over an empty set is NaN by definition: the statistic had no
        data (an environment that never returns done, a summary asked for
        before the first episode ends), which says nothing of the policy. A
        policy that diverged shows otherwise: its losses go NaN, its actions
        NaN, and the episodes that still finish return NaN rewards, so a count
        above 0 beside the NaN, an Inf, or any other non-finite value keeps
        this rule silent. Where no loss was read, the verdict is healthy at a
        modest confidence: the empty windows are the only non-finite values,
        but the learner itself was not seen.

    Evidence it reports:
        That no loss was logged, the reward statistic read instead, its number
        of points, steps and first and last values. For empty windows: the
        statistic, the points where it is NaN, the count or the warning
        that shows the window empty, and its finite points before and after.

    Fix to suggest:
        Nothing diverged. Make sure episodes end (the environment returns
        done, or set a horizon / max episode steps), or report the statistic
        over a longer window (ML-Agents' summary_freq, RLlib's smoothing over
        the last episodes) so that each one holds a finished episode.
    """
    if not tl.empty_statistics:
        return _finite_returns_finding(tl)
    if (
        tl.diverged
        or tl.nonfinite_elsewhere
        or tl.nonfinite_by_role
        or tl.validation_only is not None
        or tl.first_nonfinite_checkpoint is not None
    ):
        return []
    # the mean reward or return speaks for the others (max, min, length) where it is among them
    st = min(tl.empty_statistics, key=lambda s: ("mean" not in s.tag.lower(), "len" in s.tag.lower()))
    names = sorted({s.tag for s in tl.empty_statistics})
    shown = ", ".join(str(x) for x in st.nan_steps[:EMPTY_STEPS_SHOWN]) + (
        ", …" if len(st.nan_steps) > EMPTY_STEPS_SHOWN else ""
    )
    why = (
        f"an episode count of 0 beside it ({st.evidence})"
        if st.basis == "count"
        else f"NumPy's warning of the mean's 0/0 (a division by a count of 0) just before it ({st.evidence})"
    )
    around = [f"{n} finite point(s) {w}" for n, w in ((st.finite_before, "before"), (st.finite_after, "after")) if n]
    return [
        Finding(
            None,
            f"{', '.join(names[:EMPTY_STEPS_SHOWN])}{' and more' if len(names) > EMPTY_STEPS_SHOWN else ''} "
            f"{'is' if len(names) == 1 else 'are'} NaN only where the window held no finished episode: "
            f"{st.tag} in {st.source} is NaN at point(s) {shown}, with {why}"
            + (f"; {' and '.join(around)}" if around else "")
            + ". A mean over no episode is NaN by definition, and nothing else logged is non-finite.",
            step=st.nan_steps[0],
            source=st.source,
            weight=EMPTY_WINDOW_WEIGHT if tl.loss is None else CONTEXT,
            fix="Nothing diverged: make sure episodes end (the environment returns done, or set a horizon or max "
            "episode steps), or report the statistic over a window long enough to hold a finished episode.",
        )
    ]


def _finite_returns_finding(tl: Timeline) -> list[Finding]:
    """OK005 where no loss was read and the episode returns read instead stayed finite (Timeline.finite_returns)."""
    if not tl.finite_returns or tl.loss is not None or tl.diverged or tl.validation_only is not None:
        return []
    # the mean reward or return speaks for the others (max, min) where it is among them
    r = min(tl.finite_returns, key=lambda x: ("mean" not in x.tag.lower() and "avg" not in x.tag.lower(), -x.points))
    others = sorted({x.tag for x in tl.finite_returns} - {r.tag})
    also = f" ({', '.join(others[:EMPTY_STEPS_SHOWN])}{' and more' if len(others) > EMPTY_STEPS_SHOWN else ''} too)"
    return [
        Finding(
            None,
            f"No loss was logged; read instead: {r.tag} in {r.source}, finite at all {r.points} points it was "
            f"printed (steps {r.first_step}..{r.last_step}), from {fmt_num(r.first)} to {fmt_num(r.last)}"
            + (also if others else "")
            + ". Episodes went on finishing with finite returns, which a policy gone non-finite does not give (its "
            f"NaN actions make the environment fail or its returns NaN): no sign of divergence up to step "
            f"{r.last_step}. The reward's level is no measure of divergence.",
            step=r.last_step,
            source=r.source,
            weight=EMPTY_WINDOW_WEIGHT,
        )
    ]
