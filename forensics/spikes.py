"""Loss spikes on long curves: every spike's start, peak and recovery, by the criteria the
teams that trained large models through instabilities published.

Each criterion flags logged points; flagged points that touch form one spike; a spike
that has not come back down before the next one starts is the same episode. Everything
is vectorised (cumulative sums, a running maximum, a blocked EMA): a 10^6-point curve
takes well under a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forensics.median import median

# OLMo 2 (Team OLMo, "2 OLMo 2 Furious", 2024): a spike is a loss >= 7 standard deviations
# above the mean of the last 1000 steps.
OLMO_SIGMAS = 7.0
OLMO_WINDOW_STEPS = 1000
# llm-foundry's LossSpikeDetection callback: the loss at >= 2x the mean of the last 100
# steps, for more than 4 steps in a row.
FOUNDRY_FACTOR = 2.0
FOUNDRY_WINDOW_STEPS = 100
FOUNDRY_MIN_POINTS = 5
# Megatron-LM's rerun state machine: a loss above 10x the largest seen so far.
MEGATRON_FACTOR = 10.0
# ZClip (Kumar et al. 2025): a gradient-norm z-score above 2.5 against exponential moving
# averages of its mean and variance with alpha 0.97.
ZCLIP_Z = 2.5
ZCLIP_ALPHA = 0.97
# Points of history a trailing window needs before it judges (a mean over 2 points is noise).
MIN_HISTORY = 20
# A spike has recovered at the first point back within this factor of the loss level before it
# (the median of the OLMo window before its start).
RECOVERY_FACTOR = 1.25
# A level at or below zero (a negative log-likelihood: a flow's, a VAE's with its density term) has no ratio to come
# back within: there a spike has recovered at the first point within this many spreads of the level (the median
# absolute deviation of the window before the spike, as a standard deviation) above its median, the level's noise.
RECOVERY_SPREADS = 3.0
# A median absolute deviation times this is a standard deviation for normal noise.
MAD_TO_SD = 1.4826
# Spikes come more and more often: at least this many, and the second half of the
# curve holds at least ACCELERATION_RATIO times as many as the first half.
ACCELERATION_MIN_SPIKES = 4
ACCELERATION_RATIO = 2.0
# A gradient-norm spike this many logged points (or fewer) before a loss spike's peak leads it
# (z > 2.5 fires on ~0.6% of Gaussian noise: a wider window would find chance leads).
GRAD_LEAD_POINTS = 10

CRITERIA = {
    "olmo2": f">= {OLMO_SIGMAS:g} sigma above the mean of the last {OLMO_WINDOW_STEPS} steps (OLMo 2)",
    "llm-foundry": f">= {FOUNDRY_FACTOR:g}x the mean of the last {FOUNDRY_WINDOW_STEPS} steps for more than "
    f"{FOUNDRY_MIN_POINTS - 1} steps (llm-foundry)",
    "megatron": f"> {MEGATRON_FACTOR:g}x the largest loss seen so far (Megatron-LM)",
}


@dataclass(frozen=True)
class Spike:
    """One loss spike: where it started, peaked and came back (None: it never did)."""

    start: int  # step of the first flagged point
    peak: int
    peak_value: float
    baseline: float  # median loss of the OLMo window before the start (see _baseline)
    recovered: int | None  # first step back near the baseline (RECOVERY_FACTOR x, or RECOVERY_SPREADS at or below 0)
    fatal: bool  # never recovered: the run diverged from it or ended inside it
    criteria: tuple[str, ...]  # keys of CRITERIA that flagged it
    grad_lead: int | None = None  # step of a ZClip gradient-norm spike shortly before the peak


# Points per block of the trailing statistics: a few float64 arrays of this size are all
# the working memory they take, whatever the curve's length (a 3.3M-point curve took
# about 250 MB in whole-curve temporaries before).
TRAILING_BLOCK = 1 << 16


def _trailing(
    values: np.ndarray, w: int, spread: bool = True, least: int = MIN_HISTORY
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the ``w`` points before each point (NaN with fewer
    than ``least``). Shifted by the first value so the sums keep their precision; the
    cumulative sums run block by block, each block carrying the ``w`` points before it.
    ``spread=False``: the mean alone (the deviation is left unset: no squares, no second sum)."""
    n = values.size
    mean = np.empty(n, dtype=np.float64)
    sd = np.empty(n, dtype=np.float64)
    if n == 0:
        return mean, sd
    v0 = float(values[0])
    for b in range(0, n, TRAILING_BLOCK):
        e = min(n, b + TRAILING_BLOCK)
        lo_b = max(0, b - w)
        x = np.asarray(values[lo_b:e], dtype=np.float64) - v0
        c1 = np.empty(x.size + 1)
        c1[0] = 0.0
        np.cumsum(x, out=c1[1:])
        # point i of the block's cumulative sums averages [i - w, i): both ends are slices, but
        # for the first w points of the curve, whose windows are cut at 0 (and hold i points)
        i0, i1 = b - lo_b, e - lo_b
        cut = max(0, min(w - i0, i1 - i0))
        cnt = np.full(i1 - i0, float(w))
        cnt[:cut] = np.arange(i0, i0 + cut)
        start1 = np.empty(i1 - i0)
        start1[:cut] = 0.0
        start1[cut:] = c1[i0 + cut - w : i1 - w]
        with np.errstate(invalid="ignore", divide="ignore"):
            m = (c1[i0:i1] - start1) / cnt
        if spread:
            x *= x
            c2 = np.empty(x.size + 1)
            c2[0] = 0.0
            np.cumsum(x, out=c2[1:])
            start2 = np.empty(i1 - i0)
            start2[:cut] = 0.0
            start2[cut:] = c2[i0 + cut - w : i1 - w]
            with np.errstate(invalid="ignore", divide="ignore"):
                var = (c2[i0:i1] - start2) / cnt - m * m
            sd[b:e] = np.sqrt(np.maximum(var, 0.0))
        m[cnt < least] = np.nan
        mean[b:e] = m + v0
    return mean, sd


def _logged_interval(d: np.ndarray) -> float:
    """The median step between logged points, ``d`` the curve's step differences (1 when no
    step follows another)."""
    return float(median(d[d > 0])) if (d > 0).any() else 1.0


def _window_points(interval: float, window_steps: int) -> int:
    """A window given in steps, in logged points (curves logged every ``interval`` steps)."""
    return max(MIN_HISTORY, round(window_steps / max(interval, 1.0)))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _baseline(values: np.ndarray, a: int, w: int) -> float:
    """The loss level before a spike starting at index ``a``: the median of the window
    before it. A median, not the mean the criteria use: when the loss was already
    climbing (or an earlier spike sits in the window) the mean is dragged up towards the
    spike, and a 'recovery' to within RECOVERY_FACTOR of it would be no recovery at all."""
    window = values[max(0, a - w) : a]
    return float(median(window)) if window.size else float("nan")


def _recovery_bar(values: np.ndarray, a: int, w: int, base: float) -> float:
    """The loss a spike starting at index ``a`` has recovered at: RECOVERY_FACTOR x its baseline for a
    positive level, else RECOVERY_SPREADS spreads of the window before it above the baseline (NaN: none)."""
    if base > 0:
        return RECOVERY_FACTOR * base
    window = values[max(0, a - w) : a]
    if not window.size or not math.isfinite(base):
        return float("nan")
    return base + RECOVERY_SPREADS * MAD_TO_SD * float(median(np.abs(window - base)))


# Rows of ``ema``'s blocks done at once: two float64 temporaries of this many blocks (2 MiB).
_EMA_ROWS = 1024


def ema(x: np.ndarray, alpha: float, block: int = 256) -> np.ndarray:
    """e[t] = alpha * e[t-1] + (1 - alpha) * x[t], e[0] = x[0], in blocks of closed-form
    cumulative sums (alpha**-block stays small enough for float64; numpy has no scan).

    In block b, e = alpha**(k+1) * prev + (1 - alpha) * alpha**k * cumsum(seg * alpha**-k),
    prev the last e of the block before. The cumulative sums of many blocks are taken at
    once, as the rows of a 2-D array, so that only the carry from block to block (one
    multiply-add per block) runs in Python: the same operations on the same values, in
    the same order, as one block at a time, so the same numbers bit for bit.
    """
    n = x.size
    out = np.empty(n, dtype=np.float64)
    prev = float(x[0]) if n else 0.0
    k = np.arange(block)
    grow = alpha ** (k + 1)
    weight = (1 - alpha) * alpha**k
    shrink = alpha ** (-k)
    full = n - n % block
    rows = np.asarray(x[:full], dtype=np.float64).reshape(-1, block)
    result = out[:full].reshape(-1, block)
    last_grow = float(grow[-1])
    for r in range(0, rows.shape[0], _EMA_ROWS):
        seg = np.multiply(rows[r : r + _EMA_ROWS], shrink)
        np.cumsum(seg, axis=1, out=seg)
        seg *= weight  # each block's (1 - alpha) * alpha**k * cumsum(...)
        prevs = np.empty(seg.shape[0])
        for i, tail in enumerate(seg[:, -1].tolist()):
            prevs[i] = prev
            prev = last_grow * prev + tail  # the block's last e, the next block's prev
        np.multiply(grow, prevs[:, None], out=result[r : r + _EMA_ROWS])
        result[r : r + _EMA_ROWS] += seg
    if full < n:
        seg = x[full:]
        k = k[: seg.size]
        out[full:] = alpha ** (k + 1) * prev + (1 - alpha) * alpha**k * np.cumsum(seg * alpha ** (-k))
    return out


def zclip_flags(values: np.ndarray) -> np.ndarray:
    """Gradient-norm points whose z-score against the EMAs of the points before it is
    above ZCLIP_Z. (ZClip feeds the clipped value back into its EMAs; on a logged
    curve the clipping did not happen, so the raw values are averaged.)"""
    n = values.size
    flags = np.zeros(n, dtype=bool)
    if n <= MIN_HISTORY:
        return flags
    # z > ZCLIP_Z written as dev > ZCLIP_Z * sd, in place: a zero spread flags any rise (z
    # is +inf) and no change (0/0); two curve-sized float64 buffers at most besides the EMA
    mu = ema(values, ZCLIP_ALPHA)
    dev = values - mu
    dev *= dev
    sd = ema(dev, ZCLIP_ALPHA)
    np.sqrt(sd, out=sd)
    np.subtract(values[1:], mu[:-1], out=dev[1:])
    del mu
    sd *= ZCLIP_Z
    flags[1:] = dev[1:] > sd[:-1]
    flags[:MIN_HISTORY] = False
    return flags


def _olmo_flags(values: np.ndarray, w: int) -> np.ndarray:
    mean, sd = _trailing(values, w)
    with np.errstate(invalid="ignore"):
        mean += OLMO_SIGMAS * sd
        return (values >= mean) & (sd > 0)


def _foundry_flags(values: np.ndarray, w: int) -> np.ndarray:
    mean, _ = _trailing(values, w, spread=False)
    with np.errstate(invalid="ignore"):
        s, e = _runs((values >= FOUNDRY_FACTOR * mean) & (mean > 0))
    flags = np.zeros(values.size, dtype=bool)
    long_enough = (e - s) >= FOUNDRY_MIN_POINTS
    for a, b in zip(s[long_enough].tolist(), e[long_enough].tolist(), strict=True):
        flags[a:b] = True
    return flags


def _megatron_flags(values: np.ndarray) -> np.ndarray:
    seen = np.maximum.accumulate(np.abs(values))
    flags = np.zeros(values.size, dtype=bool)
    flags[MIN_HISTORY:] = np.abs(values[MIN_HISTORY:]) > MEGATRON_FACTOR * seen[MIN_HISTORY - 1 : -1]
    return flags


def find_loss_spikes(
    steps: np.ndarray, values: np.ndarray, grad_steps: np.ndarray | None = None, grad: np.ndarray | None = None
) -> tuple[Spike, ...]:
    """Every loss spike of a curve (steps in order), by any criterion of CRITERIA."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    end = int(np.argmax(bad)) if bad.any() else values.size  # spikes live in the finite part
    steps, values = steps[:end], values[:end]
    n = values.size
    if n <= MIN_HISTORY:
        return ()
    gaps = np.diff(steps)
    logged = _logged_interval(gaps)
    w_olmo = _window_points(logged, OLMO_WINDOW_STEPS)
    # each criterion in its own function: its float64 temporaries are freed before the next
    olmo = _olmo_flags(values, w_olmo)
    foundry = _foundry_flags(values, _window_points(logged, FOUNDRY_WINDOW_STEPS))
    megatron = _megatron_flags(values)
    flagged = olmo | foundry | megatron
    starts, ends = _runs(flagged)
    if not starts.size:
        return ()
    gflag_steps = np.empty(0, dtype=np.int64)
    if grad is not None and grad_steps is not None and len(grad):
        g = np.asarray(grad, dtype=np.float64)
        gs = np.asarray(grad_steps)
        ok = np.isfinite(g)
        if not ok.all():  # copies only when there is something to drop
            g, gs = g[ok], gs[ok]
        gflag_steps = gs[zclip_flags(g)]
    spikes: list[Spike] = []
    # the median gap of all points: the positive gaps' median already taken when every gap is one
    interval = max(1, int(logged if (gaps > 0).all() else median(gaps))) if n > 1 else 1
    i = 0
    while i < starts.size:
        a = int(starts[i])
        base = _baseline(values, a, w_olmo)
        # the episode runs until the loss is back near the baseline (merging later flags)
        j = int(ends[i])
        bar = _recovery_bar(values, a, w_olmo, base)
        back = np.flatnonzero(values[j:] <= bar) if math.isfinite(bar) else np.empty(0, dtype=np.int64)
        rec = j + int(back[0]) if back.size else None
        stop = rec if rec is not None else n
        k = i + 1
        while k < starts.size and starts[k] < stop:
            k += 1
        seg = slice(a, stop)
        p = a + int(np.argmax(values[seg]))
        crit = tuple(
            name for name, m in (("olmo2", olmo), ("llm-foundry", foundry), ("megatron", megatron)) if m[seg].any()
        )
        lead = None
        if gflag_steps.size:
            lo, hi = int(steps[p]) - GRAD_LEAD_POINTS * interval, int(steps[p])
            hit = gflag_steps[(gflag_steps >= lo) & (gflag_steps <= hi)]
            lead = int(hit[0]) if hit.size else None
        spikes.append(
            Spike(
                start=int(steps[a]),
                peak=int(steps[p]),
                peak_value=float(values[p]),
                baseline=base,
                recovered=int(steps[rec]) if rec is not None else None,
                fatal=rec is None,
                criteria=crit,
                grad_lead=lead,
            )
        )
        i = k
    return tuple(spikes)


def accelerating(spikes: tuple[Spike, ...], first_step: int, last_step: int) -> bool:
    """Spikes come more and more often: the second half of the curve holds at least
    ACCELERATION_RATIO times as many as the first half."""
    if len(spikes) < ACCELERATION_MIN_SPIKES or last_step <= first_step:
        return False
    mid = (first_step + last_step) / 2
    late = sum(1 for s in spikes if s.start >= mid)
    early = len(spikes) - late
    return late >= ACCELERATION_RATIO * max(early, 1)
