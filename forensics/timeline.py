"""One global-step axis for everything a run left behind.

The timeline never sees a file: it takes the records the readers produced
(:class:`forensics.load.RunData`) and derives what the rules need:

* canonical series: training loss, validation loss, learning rate, gradient
  norm, each on the global step axis (epoch-logged series are mapped to steps
  when the steps per epoch can be told);
* the first non-finite step of each, with the honest window around it;
* the onset of the blow-up and its growth rate;
* per-layer weight statistics across checkpoints and their growth;
* learning-rate changes and how the loss behaved right after each;
* the loss level and trend just before the blow-up;
* the facts of the setup several rules and the report share: the learning rate and
  optimizer in use (:class:`LrInfo`), the output layer's width, the loss, the
  weights' dtype, gradient clipping, the settings table, the data samples read, and
  how the job ended (the framework messages of its logs);
* relative updates ||dW||/||W|| between the last checkpoints before the blow-up,
  measured through the ``measure_update`` the loader provides (the timeline reads no
  file itself).

The :class:`Timeline` is built once, by :func:`build_timeline`, and frozen: rules,
diagnose and the report read it and nothing else of the run.

Every derived number says how it was computed, next to the code that computes it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from forensics.batches import DataOrder
from forensics.clamps import PERCENT_CLAMP, Clamp, pinned_from
from forensics.errors import UnreadableSource
from forensics.median import median, sliding_medians
from forensics.records import (
    ANY_FRAMEWORK,
    Checkpoint,
    DataSample,
    HistogramSeries,
    Kind,
    LogEvent,
    Plan,
    ScalarSeries,
    Source,
    Status,
    TensorStats,
    hf_steps_per_epoch,
)
from forensics.spikes import MAD_TO_SD, OLMO_SIGMAS, Spike, _runs, _trailing, accelerating, find_loss_spikes
from forensics.util import fmt_num, natural_order, units

if TYPE_CHECKING:
    from forensics.load import RunData

# ---------------------------------------------------------------- thresholds

# The loss must climb at least this many decades (log10) above its running minimum
# before blowing up to call it a sustained rise; 0.3 decades is a doubling, well above
# minibatch noise once the curve is median-smoothed.
ONSET_MIN_RISE_DECADES = 0.3
# A record of only two finite points before its first non-finite one shows a climb when the second stands at least this
# many decades above the first (tenfold): the median smoothing that keeps a doubling from being noise needs three
# points, and a tenfold rise straight into a NaN is no batch-to-batch spread of a loss (a per-epoch record of a step
# size past the stability limit: 5.3, then 132, then NaN).
TWO_POINT_ONSET_DECADES = 1.0
# If this share of the whole rise happened before the change point, the climb began earlier.
ONSET_EARLY_RISE_SHARE = 0.25
# A point counts as "still at the minimum" within this many decades of it (~26 %).
ONSET_TOLERANCE_DECADES = 0.1
# A finite loss this many times above its minimum (and above its first value) has exploded.
EXPLODED_FACTOR = 1e4
# ... unless it came back: every later point (but other such spikes) no higher than the loss stood before it, its
# highest point there or this share above its level, whichever is more. Weights blown up do not give back the loss
# they had learned within a print interval; a batch whose loss was huge (a corrupt sample, a box regression on a
# degenerate target: mmdetection's 3e14 for one 50-iteration window, 0.26 before and 0.25 after) leaves them fine. A
# loss that settles higher after the spike (a classifier back at chance, 0.40 to 0.69) lost what it learned there.
SPIKE_RETURN_SHARE = 0.25
# ... and only from a level: each of the points before the spike within this factor of the one before it. A loss
# already jumping by decades before it (an LR past the stability limit: 0.8, 93, 1.6, 332, 33 ...) is climbing, and no
# later point "comes back" to a level it never had; one still falling as training goes (4.0, 3.0, 2.2 ...) is a level.
SPIKE_LEVEL_SPREAD = 2.0
# The level before the spike is read off the finite points right before it, up to this many: where the loss stood
# then (a loss still falling stood lower than its earlier prints), and one noisy print of three does not move their
# median.
SPIKE_LEVEL_POINTS = 3
# A finite loss above what any task reaches while training works has exploded, even on the one
# line a paste shows (``_implausible``: past one of the three bounds below, for good).

# A classification or token loss (its name says cls, ce, xent, nll, entropy, conf, lm, or its log
# prints an accuracy or error rate in percent beside it) starts near ln(classes), at most ~14 nats for
# the largest vocabularies (1e6), and a sum over every element of a batch multiplies that by at most
# ~1e6 (the tokens of a large LM batch): past 1e8 (ten times that) the logits themselves blew up.
CLASS_LOSS_IMPLAUSIBLE = 1e8
# Any other loss (a regression on raw targets summed over a batch: squared errors of targets up to
# 1e6, prices or counts, over 1e4 elements) stays under 1e16. And no loss of any kind goes below minus that: a loss
# below zero is a negative log-likelihood of a density (a flow's, a VAE's in nats), bounded by the precision of the
# values it fits (float32's smallest normal scale gives some 87 nats a value, ~1e11 over a large batch of large
# samples); past -1e16 a term was computed outside its domain and summed (ESPnet's warp-ctc loss of -5.7e35 on
# utterances whose labels outnumber their frames).
ANY_LOSS_IMPLAUSIBLE = 1e16
# A perplexity is exp(mean token cross-entropy): about the vocabulary size at initialisation, and a
# mean of 30 nats (14 for the largest vocabulary, plus 16 of slack for the first steps) is e^30 ~ 1e13.
# (OpenNMT-py caps the perplexity it prints at e^100: the cap itself is past this.)
PERPLEXITY_IMPLAUSIBLE = math.exp(30.0)
# A perplexity is exp(loss): a rise this many times above its best is ln(100) = 4.6 nats on the loss, the
# right label's probability a hundredth of what the model had learned to give it. Ended there (the median
# of its last tenth, or each of its last STUCK_TAIL_POINTS on a short record), the model lost what it
# learned, a divergence the loss in nats shows only as a rise of a few units (OpenNMT-py's 50 -> 42885).
PERPLEXITY_CLIMB_FACTOR = 100.0
_CLASS_LOSS = re.compile(
    r"(^|[/_ .-])(cls|class|classification|ce|xent|nll|cross[_ -]?entropy|entropy|conf|lm)($|[/_ .-])", re.IGNORECASE
)
_PERPLEXITY = re.compile(r"(^|[/_ .-])(ppl|perplexity)$", re.IGNORECASE)
# Consecutive LR values differing by this factor or more are a schedule jump, not a decay step.
LR_JUMP_FACTOR = 2.0
# A run whose loss ends this many times above its best, and above where it started,
# has diverged even without a NaN (healthy training loss never ends 10x off its minimum).
STUCK_FACTOR = 10.0
# The end is judged by the median of the record's last tenth from this many finite points on ...
STUCK_MIN_POINTS = 20
# ... and on a shorter record (an epoch-per-line log of a dozen epochs) by every one of its last this
# many points: three in a row that high after a lower best are a level the loss stayed at, not a spike.
STUCK_TAIL_POINTS = 3
# A loss whose end (judged as the stuck test judges it: the median of its last tenth, or each of its last
# STUCK_TAIL_POINTS on a short record) stands this many times above its first logged value, after a best
# before that end, climbed past where it started and stayed: the first value is an untrained or early
# model's, and a model four times worse than that lost what it learned and more (a cross-entropy that far
# above its start is confidently wrong, past chance). A batch-to-batch spread doubles a loss at most, and a
# median of a tenth or three points in a row is not one noisy batch.
CLIMB_ABOVE_START = 4.0
# ... and the climb began after the last point that stood within this factor of the start (halfway, on a log
# scale, to that bar): the noise of a loss near its start is not where it left.
CLIMB_ONSET_FACTOR = 2.0
# A loss whose last logged points stand this many times above its first logged value (two decades)
# has diverged, however few points it logged: no training that works ends there.
STAYED_UP_FACTOR = 100.0
# The end of the record is the median of this share of its last points (one point at least), so
# a last point that spikes up or down does not decide alone.
STAYED_UP_TAIL_SHARE = 0.1
# A record of two points is too short for the tests above (three in a row, a tenth's median). When its first
# point is the run's start (step FIRST_UPDATE_STEP or before: the loss of the weights as initialised or loaded),
# its second CLIMB_ABOVE_START times the first is what the updates did to them: a start is no trained model's
# noisy batch (mid-run, one hard batch can spike a loss 40x and the next print be back), and those weights were
# fine a step before (a loss 15x its start after one step at a warm-up LR, a resumed LM's 2.3 nats gone to 11
# after its first update).
TWO_POINT_RECORD = 2
# ... the run's start: a first point at step 0 (logged before the first update) or 1 (after it, or counted from 1).
FIRST_UPDATE_STEP = 1
# A loss point this many times its trailing median is a spike.
SPIKE_FACTOR = 3.0
# A loss that fell from at least this straight to exactly 0 in one logged interval did not converge there:
# a loss converging to ~0 passes through its print's last decimals on the way (0.0003, 0.0001, 0.0), and a
# cross-entropy of 0.1 is still ~10 % of the label's probability away from a perfect fit. The zeros are
# a NaN the logger masked (the HF Trainer's logging_nan_inf_filter logs 0.0 for an interval whose every
# step was NaN or Inf) or the training code replaced by 0 (torch.nan_to_num(loss), a guard that sets a NaN
# loss to 0 and goes on): a dead run.
COLLAPSE_FROM = 0.1
# ... and printed exactly 0 on at least this many points, to the end of the record: one zero is one
# batch (a margin loss met, a rounded print), a run of them to the end is where the run stayed.
COLLAPSE_POINTS = 3
# A loss that stood on exactly one finite value for at least this many points to the end of its record froze
# there: a net whose outputs stopped depending on its weights (dead units after a blow-up) prints the same mean
# loss at every point; five identical prints are no noise of a loss still moving (a clamp's value is the clamps').
FROZEN_POINTS = 5
# ... this many times above its best before: a plateau at the best is a converged loss printed coarsely, while
# a frozen level twice the best is a net that lost what it learned.
FROZEN_ABOVE_BEST = 2.0
# A loss spike the run did not come back from (``settled_after_spike``): the level before the spike is read off
# the points before it, up to this many (llm-foundry's spike window) ...
LEVEL_WINDOW = 100
# ... and at least this many: a median and a spread of ten prints; fewer give no level to hold a shift against.
LEVEL_MIN_POINTS = 10
# The spike and the shift of the level after it are measured in spreads of a level (its median absolute deviation,
# scaled to a standard deviation; never under the print's last digit), OLMo 2's spike bar: a level's own noise puts
# no point, let alone a level of points, that far above it. Spreads, because a negative log-likelihood (a flow's,
# near -5) has no meaningful ratio to its level, and its noise says what a shift is (a level above zero must also
# pass a ratio: SETTLED_ABOVE_LEVEL).
SHIFT_SPREADS = OLMO_SIGMAS
# The level after the spike is this many points or more, to the end of the record: two halves of a level three
# prints long each (STUCK_TAIL_POINTS), so that whether it came back down can be told from its noise.
SETTLED_POINTS = 2 * STUCK_TAIL_POINTS
# ... and not on its way back: a loss coming back from a spike closes its gap to the level a share at a time (its
# second half's median below its first half's by this share of the gap or more, and by more than one spread of
# its own), while a level the run settled at drifts by its noise, and relearning what was lost takes as long as
# learning it did.
COMING_BACK_SHARE = 0.25
# ... and, for a level above zero, a level after it this many times the one before: a loss with a floor at zero has a
# meaningful ratio to its level, and a quiet level (a converged loss printed to many digits) counts a few per cent
# as many spreads, which is no loss of what was learned; twice the level is, as for a frozen loss (FROZEN_ABOVE_BEST).
# A level at or below zero (a flow's negative log-likelihood) has no ratio: there the spreads alone judge.
SETTLED_ABOVE_LEVEL = FROZEN_ABOVE_BEST
# The value a collapse fell from, and a frozen value, stand at least this many of the print's last digit
# (print_quantum): a fall from there to under half a digit is a 200-fold fall in one logged interval, which no
# loss that learns makes, and identical prints of three significant digits are a loss that stopped moving. A
# loss printed coarsely steps down one digit at a time as it converges ('%.1f': 0.2, 0.1, 0.0; a margin loss
# at '%.2f': 0.12, 0.00), and repeats its value while it moves within one digit (0.7 after a stage change).
PRINT_QUANTA = 100
# The print's last digit is read off this many of the values before the collapse or freeze (the most
# decimals any shows: '0.10' reads back as 0.1).
QUANTUM_SAMPLE = 50
# The loss is "near zero" before the blow-up when its last finite level is this
# fraction of its first level (or below NEAR_ZERO_ABS): the model had saturated.
NEAR_ZERO_FRACTION = 0.02
# ... or when it sits below this absolute level (a cross-entropy of 0.02 is a near-certain fit).
NEAR_ZERO_ABS = 0.02
# Measuring ||dW|| reads both checkpoints again; the last few pairs before the blow-up
# say what the step size was doing, so the cost stays bounded on long runs.
MAX_UPDATE_PAIRS = 4
# A logged LR whose largest value before the blow-up is below this multiple of its
# smallest is "constant" (a decay or warmup moves it by more).
LR_CONSTANT_RATIO = 2.0

_ADAPTIVE = ("adam", "rmsprop", "adagrad", "adadelta", "nadam", "adamax", "lion", "lamb", "adafactor", "ftrl")

_EVAL_WORDS = re.compile(r"(^|[^a-z])(val|valid|validation|eval|evaluation|test|dev)([^a-z]|$)", re.IGNORECASE)
_LR = re.compile(r"(^|[/_ .-])(lr|learning[_ -]?rate)([/_ .-]|$)|^lr", re.IGNORECASE)
_GRAD_NORM = re.compile(
    r"grad(ient)?s?[_ /.-]?(global[_ ]?)?norm|global[_ ]?norm|total[_ ]?norm|(^|[/_])gnorm($|[/_])", re.IGNORECASE
)
# Objectives named without the word "loss" (fairseq's nll, cross-entropy tags).
_LOSS = re.compile(r"loss|(^|[/_ .-])(nll|xent|cross[_ -]?entropy|objective)($|[/_ .-])", re.IGNORECASE)
_NOT_LOSS = re.compile(r"scale|scaler|weight|coef|lambda|_std|variance|reg(ulari[sz]ation)?$", re.IGNORECASE)
_EPOCH_PREFIX = re.compile(r"^epoch[_/]", re.IGNORECASE)
_BATCH_PREFIX = re.compile(r"^(batch|iter|step)[_/]", re.IGNORECASE)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Series:
    """A canonical series on the timeline."""

    role: str  # "loss", "val_loss", "lr", "grad_norm"
    steps: np.ndarray  # int64 global steps (or epochs when unit == "epoch"), in write order
    values: np.ndarray  # float64
    unit: str  # "step" or "epoch"
    source: str  # file path
    tag: str  # tag / key as written
    run: str
    segment: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def __repr__(self) -> str:  # the arrays would fill a notebook cell
        n = len(self)
        span = f", {units(self.unit)} {int(self.steps.min())}..{int(self.steps.max())}" if n else ""
        bad = int((~np.isfinite(self.values)).sum())
        return f"<Series {self.role} {self.tag!r}: {n} points{span}" + (f", {bad} non-finite>" if bad else ">")

    @functools.cached_property  # asked for by several rules; the series never changes
    def first_nonfinite_index(self) -> int | None:
        bad = ~np.isfinite(self.values)
        return int(np.argmax(bad)) if bad.any() else None

    @functools.cached_property
    def in_step_order(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) stably sorted by step: the arrays themselves when already in order
        (as logged, nearly always), so that the rules asking for it sort a long curve once or never."""
        if len(self) < 2 or not (self.steps[1:] < self.steps[:-1]).any():
            return self.steps, self.values
        order = np.argsort(self.steps, kind="stable")
        return self.steps[order], self.values[order]

    @functools.cached_property  # asked for by several rules; the series never changes
    def interval(self) -> float:
        """Median logging interval in steps (1 when logged every step)."""
        if len(self) < 2:
            return math.nan
        d = np.diff(self.steps)
        if (d < 0).any():  # not in step order (a restart rewrote some): sort first
            d = np.diff(np.sort(self.steps))
        d = d[d > 0]  # a step logged twice is one point (np.unique did this at O(n) hashing cost)
        return float(median(d)) if d.size else math.nan


@dataclass(frozen=True)
class RecordEnd:
    """Where the kept record stops against the run's planned length, where a source states it
    (the Hugging Face Trainer's max_steps, in its trainer_state.json, the args it writes to
    TensorBoard or the total its console prints; Keras's 'Epoch i/N' times its epoch's batches;
    a config's max_steps), and whether the trainer logged its end-of-training summary."""

    last_step: int  # the last step the record reaches
    planned: int  # the optimizer steps the run was set to train
    origin: str  # the file that states the plan
    summary: bool  # the trainer logged its end-of-training summary (train_runtime...)
    # the steps between two of the record's points, where the record is a logged curve: a loss
    # logged every k steps shows its last point up to k steps before the planned end of a run
    # that reached it (k - 1 when it counts from 1, k when from 0); 0 where the source counts the
    # steps themselves (the Trainer's global_step)
    interval: int = 0

    @property
    def cut_short(self) -> bool:
        """Does the record stop before the planned end, by more than its own logging interval?"""
        return self.last_step + self.interval < self.planned

    @property
    def reached(self) -> bool:
        """Did the record reach the planned end (its last step, or the trainer saying it returned)?"""
        return self.summary or not self.cut_short


@dataclass(frozen=True)
class NonFinite:
    """Where a series first went non-finite, with the honest window around it."""

    role: str
    step: int
    value: float  # nan, inf or -inf as logged
    last_finite_step: int | None  # the last finite logged step before it
    last_finite_value: float | None
    interval: float  # logging interval of the series
    unit: str
    source: str
    tag: str
    # placed after the last point the record kept rather than where it was seen: a job log's non-finite loss
    # whose own step the record contradicts (:func:`_against_the_record`); its step is that last point
    after_record: bool = False


@dataclass(frozen=True)
class ValidationOnly:
    """The validation loss went non-finite and the training loss did not (:func:`_validation_only`).

    ``reading``: "evaluation" (a finite training loss was logged after it: the weights training uses are
    finite, so the fault is the evaluation's), "weights" (no training loss after it, and the same validation
    set evaluated finite before: the record's last look at the weights found them non-finite) or "unknown"
    (no training loss after it and non-finite from its first evaluation: an empty or broken validation set
    and weights gone non-finite on the last update leave it alike) or "unordered" (the job restarted and the
    two series do not restart alike: which training loss came after it cannot be told)."""

    nonfinite: NonFinite  # where the validation loss first went non-finite
    reading: str
    later_points: int  # finite training-loss points logged after it
    later_step: int | None  # the last of them
    train_step: int | None  # the last training-loss point at or before it
    train_value: float | None
    later_restarted: bool = False  # some of the later points are a restart's (their steps start over)

    def later_span(self, unit: str) -> str:
        """Where the finite training loss logged after it ends, for a sentence: 'to step N'."""
        return f"to {unit} {self.later_step}" + (", after a restart" if self.later_restarted else "")


@dataclass(frozen=True)
class EmptyStatistic:
    """An episode statistic NaN where its window held no finished episode (:func:`_empty_statistics`).

    ``basis``: "count" (an episode count of 0 printed beside each NaN point) or "numpy" (NumPy's warning of its
    mean's own 0/0, the division by a count of 0, printed just before the first NaN point)."""

    tag: str
    source: str
    nan_steps: tuple[int, ...]  # where it is NaN, in write order
    points: int  # all its points
    finite_before: int  # finite points before its first NaN
    finite_after: int  # finite points after its first NaN
    basis: str
    evidence: str  # the count's name and value, or the warning's line as printed


@dataclass(frozen=True)
class FiniteReturn:
    """An episode reward or return statistic finite at every point it was read (:func:`_finite_returns`)."""

    tag: str
    source: str
    points: int  # distinct steps it was read at
    first_step: int
    last_step: int
    first: float
    last: float


@dataclass(frozen=True)
class Onset:
    """When the loss left its trend before blowing up (see :func:`find_onset`)."""

    step: int
    value: float
    end_step: int  # last finite point of the climb
    end_value: float
    fold_per_step: float  # geometric growth rate from onset to end
    rise_decades: float


@dataclass(frozen=True)
class LrChange:
    """A change of the learning rate, and how the loss behaved after it."""

    step: int  # first step at the new LR
    before: float
    after: float
    kind: str  # "jump" (schedule step up), "drop", "warmup_end" (peak of a warmup ramp)
    loss_ratio_after: float | None  # max loss in the window after / median loss in the window before
    window: int


@dataclass(frozen=True)
class LayerPoint:
    """One layer's weights at one checkpoint."""

    step: int | None
    order: int  # index of the checkpoint in time order
    l2: float
    absmax: float
    nonfinite: int
    numel: int
    dtype: str
    source: str


@dataclass(frozen=True)
class LayerTrack:
    """One layer across the checkpoints."""

    layer: str
    points: tuple[LayerPoint, ...]

    @property
    def first_nonfinite(self) -> LayerPoint | None:
        return next((p for p in self.points if p.nonfinite), None)

    def growth(self) -> float | None:
        """Ratio of the last finite norm to the first (None with fewer than two finite points)."""
        finite = [p for p in self.points if not p.nonfinite and p.l2 > 0 and math.isfinite(p.l2)]
        if len(finite) < 2:
            return None
        return finite[-1].l2 / finite[0].l2

    def fold_per_step(self) -> float | None:
        finite = [p for p in self.points if not p.nonfinite and p.l2 > 0 and p.step is not None]
        if len(finite) < 2 or finite[-1].step == finite[0].step:
            return None
        span = finite[-1].step - finite[0].step
        return float((finite[-1].l2 / finite[0].l2) ** (1.0 / span)) if span > 0 else None


@dataclass(frozen=True)
class CheckpointView:
    """A checkpoint placed on the run's steps, in time order."""

    checkpoint: Checkpoint
    step: int | None  # global step (mapped from epochs when possible)
    order: int

    @property
    def path(self) -> str:
        return self.checkpoint.source.path

    @property
    def nonfinite_tensors(self) -> list[TensorStats]:
        return [t for t in self.checkpoint.tensors if t.nonfinite]


@dataclass(frozen=True)
class RelativeUpdate:
    """||W_b - W_a|| / ||W_a|| between two consecutive checkpoints, per layer and overall."""

    step_a: int
    step_b: int
    path_a: str
    path_b: str
    layers: dict[str, tuple[float, float]]  # layer -> (||dW||, ||W_a||) over finite element pairs

    @property
    def steps(self) -> int:
        return max(1, self.step_b - self.step_a)

    @property
    def relative(self) -> float:
        # hypot, not sqrt(sum(x**2)): a norm near 1e200 (float64 weights gone wild) must not overflow
        d = math.hypot(*(dl for dl, _ in self.layers.values()))
        w = math.hypot(*(wl for _, wl in self.layers.values()))
        return d / w if w > 0 else math.nan

    @property
    def per_step(self) -> float:
        """Relative update per step, assuming the steps between the checkpoints moved the
        weights in one direction (a lower bound when they partly cancelled)."""
        return self.relative / self.steps


@dataclass(frozen=True)
class LrInfo:
    """The learning rate and optimizer in force, from the logged LR, else the optimizer
    state of a checkpoint, else a config. Whether it is high is the rules' judgement
    (``rules/context.py``)."""

    value: float | None  # the LR in force before the divergence (peak if it varied)
    initial: float | None
    optimizer: str | None  # as named
    family: str | None  # "adaptive", "sgd" or None
    origin: str | None  # where the value came from
    constant: bool | None  # True when the logged LR never changed by LR_CONSTANT_RATIO


class OutputWidth(NamedTuple):
    """Width of the model's output layer, and where it was read."""

    units: int | None
    origin: str | None


class Clipping(NamedTuple):
    """Gradient clipping as a config records it; 0 means explicitly off, None not set."""

    value: float | None
    origin: str | None


class LrSchedule(NamedTuple):
    """The LR schedule as a config states it (first config that says, each with its file):
    the warmup's length as written, and the factor a step schedule multiplies the LR by at
    each milestone (below 1 it decays; above 1 each milestone raises the LR). None: not stated."""

    warmup: float | None
    warmup_origin: str | None
    step_factor: float | None
    step_factor_origin: str | None


class Setup(NamedTuple):
    """What the configs state about the training setup beyond the LR (first config that says,
    with its file): what shifts the LR that is usual, and the settings that are risky in
    themselves. None: not stated."""

    batch_size: int | None = None  # per device and micro-batch
    grad_accum: int | None = None
    world_size: int | None = None
    momentum: float | None = None  # SGD's momentum (0: plain SGD)
    epsilon: float | None = None  # the smallest epsilon an optimizer or normalisation states
    epsilon_key: str | None = None  # the key it was stated under
    precision: str | None = None  # the precision as written ("16-mixed", "float16", "fp16"...)
    loss_scaling: bool | None = None  # a loss scaler on (True) or off (False), as stated or as the precision implies
    model: str | None = None  # the model or cell the config names ("lstm", "resnet18"...)
    origin: str | None = None  # the config file the first of these came from
    configs: int = 0  # configs read (a config file, hparams, a log's header)
    num_classes: int | None = None  # the class count a config states (num_classes, num_labels, id2label)
    classes_origin: str | None = None  # the config it was read from
    head: OutputWidth = OutputWidth(None, None)  # the output layer's width as the checkpoint's weights say it
    max_steps: int | None = None  # the optimizer steps the run was set to train (max_steps ...)
    max_steps_origin: str | None = None  # the config it was read from

    @property
    def global_batch(self) -> int | None:
        """Samples per optimizer step: batch x accumulation x data-parallel processes."""
        if self.batch_size is None:
            return None
        return self.batch_size * (self.grad_accum or 1) * (self.world_size or 1)


class WeightNorm(NamedTuple):
    """Global L2 norm of a checkpoint's float weights (NaN when any of them is non-finite)."""

    step: int | None
    norm: float
    path: str


class Setting(NamedTuple):
    """A training setting as a config or checkpoint records it (first source wins)."""

    name: str
    value: str
    source: str


_NO_LR = LrInfo(None, None, None, None, None, None)
_NO_WIDTH = OutputWidth(None, None)
_NO_CLIPPING = Clipping(None, None)
_NO_SCHEDULE = LrSchedule(None, None, None, None)
_NO_SETUP = Setup()


# Measures one checkpoint-to-checkpoint update: layer -> (||dW||, ||W_a||) over finite
# element pairs. Provided by the loader (it reads the files); raises UnreadableSource.
UpdateMeter = Callable[[Checkpoint, Checkpoint], dict[str, tuple[float, float]]]


@dataclass(frozen=True, repr=False)
class Timeline:
    """Everything the judges know about a run, on one step axis. Built once by
    :func:`build_timeline` and never changed."""

    run_dir: str
    sources: tuple[Source, ...]
    loss: Series | None = None
    val_loss: Series | None = None
    lr: Series | None = None
    grad_norm: Series | None = None
    other_losses: tuple[Series, ...] = ()  # other training-loss series (logs, HF state)
    loss_all: Series | None = None  # every logged point of the loss, restarts included, in write order
    restarts: tuple[tuple[int, int], ...] = ()  # (from step, to step) where the loss rewound
    steps_per_epoch: int | None = None
    steps_per_epoch_origin: str | None = None
    first_nonfinite: NonFinite | None = None  # of the training loss (or grad norm where the loss is masked)
    # a framework message saying the loss went non-finite (a NaN guard) in a log that shows no
    # step and no loss to place it on: (log path, event); the run diverged, its step unknown
    nonfinite_unplaced: tuple[str, LogEvent] | None = None
    nonfinite_by_role: dict[str, NonFinite] = field(default_factory=dict)
    validation_only: ValidationOnly | None = None  # only the validation loss went non-finite
    # a job log's non-finite loss left out of first_nonfinite: its steps are in doubt (worked out, or its
    # counter went back) and the recorded loss was finite at or after its step: (where the log saw it, why)
    nonfinite_set_aside: tuple[tuple[NonFinite, str], ...] = ()
    exploded_step: int | None = None  # loss finite but exploded (no NaN logged)
    exploded_how: str | None = None  # when a value past any plausible loss said so: which, and the bound
    # how the finite loss diverged, for the report's sentence: "exploded" (a climb or a value past any
    # plausible loss), "saturated" (pinned at a clamp), "collapsed" (fell to exactly 0 or froze on one value)
    exploded_verb: str = "exploded"
    loss_is_percentage: bool = False  # the loss is a percentage (Keras 'mape'): at 100 it is no BCELoss clamp
    # the classification scores (accuracy, precision, F1, AUC, Dice, IoU) the source of the loss wrote beside it:
    # what the run trains is a classifier (or a segmenter, a per-pixel one), whatever its loss is named
    loss_scored_by: tuple[str, ...] = ()
    # the loss is the log of a perplexity printed beside it: a constant there is the perplexity's print cap, no clamp
    loss_is_log_of_perplexity: bool = False
    onset: Onset | None = None
    lr_changes: tuple[LrChange, ...] = ()
    checkpoints: tuple[CheckpointView, ...] = ()
    layers: tuple[LayerTrack, ...] = ()
    first_nonfinite_checkpoint: CheckpointView | None = None
    weight_histograms: tuple[HistogramSeries, ...] = ()
    grad_histograms: tuple[HistogramSeries, ...] = ()
    log_events: tuple[tuple[str, LogEvent], ...] = ()  # (log path, event)
    died_with_exception: bool = False
    died_after_step: int | None = None  # the last step a log showed before the job died on an exception
    # how metrics stores recorded the job's end: (store path, the store's word, exit code)
    store_endings: tuple[tuple[str, str, int | None], ...] = ()
    # a store of several runs (an MLflow database) feeds one to the timeline: (store path, the
    # analysed run's name, the names of the others, newest first), so the report can say so
    stores_of_many: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    job_logs: int = 0  # job logs read
    record_end: RecordEnd | None = None  # where the record stops against the planned length, when stated
    spikes_recovered: tuple[int, ...] = ()
    loss_spikes: tuple[Spike, ...] = ()  # every spike by the published criteria (forensics/spikes.py)
    spikes_accelerating: bool = False  # spikes come more and more often
    # episode statistics NaN over a window with no finished episode (:func:`_empty_statistics`), and, when there are
    # any, every other non-finite value the logs and metrics files hold (series, NumPy warnings), one line each
    empty_statistics: tuple[EmptyStatistic, ...] = ()
    nonfinite_elsewhere: tuple[str, ...] = ()
    # episode reward or return statistics read finite at MIN_RETURN_POINTS steps or more, where nothing the logs,
    # metrics files and event files hold is non-finite (:func:`_finite_returns`); empty otherwise
    finite_returns: tuple[FiniteReturn, ...] = ()
    data_order: DataOrder | None = None  # what places a step on the data (forensics/batches.py)
    relative_updates: tuple[RelativeUpdate, ...] = ()
    # facts of the setup, shared by several rules and the report
    lr_info: LrInfo = _NO_LR
    output_width: OutputWidth = _NO_WIDTH
    clipping: Clipping = _NO_CLIPPING
    lr_schedule: LrSchedule = _NO_SCHEDULE
    setup: Setup = _NO_SETUP
    model_loss: str | None = None  # the loss a checkpoint's training config or a config file names
    weight_dtype: str | None = None  # the dtype the model trains in
    weight_norms: tuple[WeightNorm, ...] = ()  # per checkpoint, in time order
    settings: tuple[Setting, ...] = ()
    data_samples: tuple[DataSample, ...] = ()
    problems: tuple[str, ...] = ()  # what could not be read or measured, one line each

    def __repr__(self) -> str:  # the run's records would fill a notebook cell
        curves = ", ".join(n for n, s in (("loss", self.loss), ("lr", self.lr), ("grad_norm", self.grad_norm)) if s)
        nf = f", first non-finite at {self.first_nonfinite.step}" if self.first_nonfinite is not None else ""
        return f"<Timeline {self.run_dir!r}: {curves or 'no curves'}, {len(self.checkpoints)} checkpoints{nf}>"

    # -------------------------------------------------------- conveniences
    @property
    def diverged(self) -> bool:
        """A non-finite or exploded training loss, or non-finite weights in a checkpoint."""
        return (
            self.first_nonfinite is not None
            or self.exploded_step is not None
            or self.first_nonfinite_checkpoint is not None
            or self.nonfinite_unplaced is not None
        )

    @property
    def divergence_step(self) -> int | None:
        if self.first_nonfinite is not None:
            return self.first_nonfinite.step
        if self.exploded_step is not None:
            return self.exploded_step
        if self.first_nonfinite_checkpoint is not None:
            return self.first_nonfinite_checkpoint.step
        return None

    @property
    def unit(self) -> str:
        return self.loss.unit if self.loss is not None else "step"

    def has(self, kind: str) -> bool:
        return any(s.kind.value == kind and s.status in (Status.OK, Status.PARTIAL) for s in self.sources)

    def loss_before_blowup(self) -> tuple[float | None, str | None]:
        """Last finite loss before the blow-up and its trend ("falling", "flat", "rising")."""
        if self.loss is None:
            return None, None
        end = self._loss_end_before_blowup()
        if end <= 0:
            return None, None
        v = self.loss.values[:end]
        last = float(v[-1])
        k = max(5, end // 10)
        tail = v[max(0, end - k) : end]
        tail = tail[np.isfinite(tail)]
        if tail.size < 3:
            return last, None
        y = log10_safe(tail)
        slope = np.polyfit(np.arange(tail.size), y, 1)[0] * tail.size  # decades over the tail
        trend = "rising" if slope > 0.15 else "falling" if slope < -0.15 else "flat"
        return last, trend

    def _loss_end_before_blowup(self) -> int:
        """Index of the first loss point at or past the blow-up. Where another series caught
        the NaN (the grad norm, when the logger masks NaN losses as HF Trainer's
        logging_nan_inf_filter does), the loss logged from that step on is a stand-in: a
        window of skipped NaN steps averages to 0, which is no saturation."""
        assert self.loss is not None
        end = _finite_prefix_end(self.loss)
        nf = self.first_nonfinite
        if nf is not None and nf.role != "loss":
            end = min(end, int(np.count_nonzero(self.loss.steps < nf.step)))
        return end

    def loss_near_zero_before_blowup(self) -> bool:
        if self.loss is None:
            return False
        end = self._loss_end_before_blowup()
        if end < 3:
            return False
        v = self.loss.values[:end]
        if np.any(v[np.isfinite(v)] < 0):
            return False  # a loss that goes negative (Poisson, log-likelihoods) has no floor at 0
        first = float(median(v[: max(1, min(5, end // 10 + 1))]))
        last = float(median(v[max(0, end - 3) : end]))
        if not (math.isfinite(first) and math.isfinite(last)):
            return False
        return last <= NEAR_ZERO_ABS or (first > 0 and last <= NEAR_ZERO_FRACTION * first)

    def lr_at(self, step: int) -> float | None:
        if self.lr is None or not len(self.lr):
            return None
        s, v = self.lr.in_step_order
        i = int(np.searchsorted(s, step, side="right")) - 1
        return float(v[max(i, 0)])

    def checkpoint_before(self, step: int) -> CheckpointView | None:
        """The last checkpoint saved before ``step`` (one saved at ``step`` already holds
        that step's update)."""
        best = None
        for c in self.checkpoints:
            if c.step is not None and c.step < step:
                best = c
        return best


# ---------------------------------------------------------------- helpers


def log10_safe(v: np.ndarray) -> np.ndarray:
    """log10 for positive losses; a signed log for losses that go negative."""
    v = np.asarray(v, dtype=np.float64)
    if np.all(v[np.isfinite(v)] > 0):
        return np.log10(np.maximum(v, 1e-300))
    return np.sign(v) * np.log10(1.0 + np.abs(v))


def _finite_prefix_end(s: Series) -> int:
    """Index of the first non-finite point (or len): the part before the blow-up."""
    i = s.first_nonfinite_index
    return len(s) if i is None else i


def running_median(y: np.ndarray, window: int) -> np.ndarray:
    """Centered running median (window odd, clipped at the edges)."""
    n = y.size
    if n == 0 or window <= 1:
        return y.copy()
    half = window // 2
    if n <= 4096:
        # windows clipped at the edges: full ones all at once, the few clipped ones one by one
        out = np.empty(n)
        if n > 2 * half:
            out[half : n - half] = median(np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1), axis=1)
        for i in (*range(min(half, n)), *range(max(half, n - half), n)):
            out[i] = median(y[max(0, i - half) : i + half + 1])
        return out
    # long series: the windows of the edge-padded series, clipped windows' medians as before
    return sliding_medians(np.pad(y, half, mode="edge"), window)


# Curves longer than this are reduced to bucket medians before the smoothing and the
# change point (the shape of a climb survives; a million-point median window would not).
MAX_CURVE_POINTS = 20_000


def _decimate(steps: np.ndarray, values: np.ndarray, points: int, how: str = "median") -> tuple[np.ndarray, np.ndarray]:
    """Reduce a finite curve to ``points`` buckets (median or max of each), keeping the
    last point exact: the value right before a blow-up must not be averaged away."""
    n = values.size
    if n <= points:
        return steps, values
    # n - 1 >= points, so every bucket [edges[i], edges[i + 1]) holds at least one point
    edges = np.linspace(0, n - 1, points + 1).astype(np.int64)
    starts, idx = edges[:-1], edges[1:]
    body = values[: edges[-1]]
    if how == "median":
        vals = _bucket_medians(body, starts, np.diff(edges))
    else:
        vals = np.maximum.reduceat(body, starts)
    vals[-1] = values[-1]
    return steps[idx], vals


def _bucket_medians(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """np.median of each bucket ``values[starts[i] : starts[i] + lengths[i]]`` (contiguous,
    in order, covering ``values``), all at once: the buckets of each length (the even cut
    of a curve gives at most two) as the rows of one array, partitioned row by row, then
    the middle one or two of each row, as np.median takes them. Partitioning is linear in
    the points, where one sort of them all by (bucket, value) took 5x as long."""
    out = np.empty(starts.size, dtype=np.float64)
    # not np.unique: its first call in a process imports numpy.ma (~20 ms; see forensics.median)
    for length in sorted(set(lengths.tolist())):
        which = np.flatnonzero(lengths == length)
        rows = np.lib.stride_tricks.sliding_window_view(values, length)[starts[which]]  # a copy of the rows
        lo_k, hi_k = (length - 1) // 2, length // 2
        rows.partition(sorted({lo_k, hi_k}), axis=1)
        lo, hi = rows[:, lo_k], rows[:, hi_k]
        with np.errstate(over="ignore"):  # two values past 1e308: inf, as np.median gives
            out[which] = lo if length % 2 == 1 else (lo + hi) / 2
    return out


def find_onset(steps: np.ndarray, values: np.ndarray) -> Onset | None:
    """The step where the loss left its trend before the blow-up.

    Method: take the finite part of the loss before the first non-finite value,
    on a log10 scale (losses span decades when they diverge), smooth it with a
    centered running median (window ~2 % of the points, at least 3) so single
    minibatch spikes do not count. Find the minimum of the smoothed curve; if
    the curve ends at least ``ONSET_MIN_RISE_DECADES`` above it, there was a
    sustained climb. Its onset is the change point of a two-segment line fit of
    the smoothed log-loss from the minimum to the last finite point (the level it
    sat at, then the climb; see :func:`_change_point`). The growth rate is the
    geometric mean fold per step from the onset to the last finite point.
    Returns None when there is no sustained climb (the loss was
    falling or flat until it jumped: saturation or a bad batch, not instability).
    """
    ok = np.isfinite(values)
    if ok.sum() == 2:  # the finite stretch before a blow-up (the timeline passes no other)
        return _two_point_onset(steps[ok], values[ok])
    if ok.sum() < 3:
        return None
    s, v = _decimate(steps[ok], values[ok], MAX_CURVE_POINTS)
    y = log10_safe(v)
    window = max(3, (y.size // 50) | 1)
    ys = running_median(y, window)
    m = int(np.argmin(ys))
    end = y.size - 1
    # the end of the climb: the raw last finite point (the smoothing lags the blow-up)
    rise = float(max(ys[end], y[end]) - ys[m])
    if rise < ONSET_MIN_RISE_DECADES:
        return None
    onset = _change_point(s[m : end + 1].astype(np.float64), ys[m : end + 1]) + m
    # a line fit breaks late on a climb that accelerates: walk back down the climb to
    # its foot (the nearest point where the smoothed curve stops falling backwards)
    while onset > m and ys[onset - 1] < ys[onset]:
        onset -= 1
    # when a good part of the rise already happened before that point (a loss that
    # climbed from the start, with a dip on the way), the climb began earlier: take the
    # last point still near the minimum level
    total = float(ys[end] - ys[m])
    if ys[onset] - ys[m] > ONSET_EARLY_RISE_SHARE * total:
        near = np.nonzero(ys[m : onset + 1] <= ys[m] + max(ONSET_TOLERANCE_DECADES, 0.1 * total))[0]
        onset = m + int(near[-1]) if near.size else m
    if onset >= end:
        return None
    span = int(s[end] - s[onset])
    fold = float(10 ** ((y[end] - y[onset]) / span)) if span > 0 else math.inf
    return Onset(
        step=int(s[onset]),
        value=float(v[onset]),
        end_step=int(s[end]),
        end_value=float(v[end]),
        fold_per_step=fold,
        rise_decades=float(y[end] - ys[m]),
    )


def _two_point_onset(s: np.ndarray, v: np.ndarray) -> Onset | None:
    """The climb of a loss that logged two finite points before its blow-up: from the first, when the second
    stands ``TWO_POINT_ONSET_DECADES`` or more above it (both positive sizes of a loss minimised toward zero)."""
    if not (v > 0).all() or s[1] <= s[0]:
        return None
    y = np.log10(v)
    rise = float(y[1] - y[0])
    if rise < TWO_POINT_ONSET_DECADES:
        return None
    return Onset(
        step=int(s[0]),
        value=float(v[0]),
        end_step=int(s[1]),
        end_value=float(v[1]),
        fold_per_step=float(10 ** (rise / int(s[1] - s[0]))),
        rise_decades=rise,
    )


def _change_point(x: np.ndarray, y: np.ndarray) -> int:
    """Index where a two-segment line fit of ``y`` over ``x`` breaks best.

    Segment one (the level the loss sat at after its minimum) and segment two (the
    climb) are each fitted by least squares; the break minimising the summed squared
    error wins. Prefix sums make every candidate break O(1), the whole search O(n).
    """
    n = y.size
    if n < 4:
        return 0
    x = x - x[0]
    cx, cy = np.cumsum(np.r_[0.0, x]), np.cumsum(np.r_[0.0, y])
    cxx, cyy, cxy = np.cumsum(np.r_[0.0, x * x]), np.cumsum(np.r_[0.0, y * y]), np.cumsum(np.r_[0.0, x * y])

    def sse(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # points a..b-1
        k = (b - a).astype(np.float64)
        sx, sy = cx[b] - cx[a], cy[b] - cy[a]
        sxx = cxx[b] - cxx[a] - sx * sx / k
        syy = cyy[b] - cyy[a] - sy * sy / k
        sxy = cxy[b] - cxy[a] - sx * sy / k
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(sxx > 0, sxy * sxy / sxx, 0.0)
        return np.maximum(syy - fit, 0.0)

    j = np.arange(2, n - 1)  # first segment 0..j (inclusive), second j..n-1
    cost = sse(np.zeros_like(j), j + 1) + sse(j, np.full_like(j, n))
    return int(j[int(np.argmin(cost))]) if j.size else 0


def find_spikes(values: np.ndarray, steps: np.ndarray) -> list[int]:
    """Steps of loss spikes that came back down: a point above ``SPIKE_FACTOR`` times
    the trailing median, followed within a few points by a return below 1.5x it."""
    out: list[int] = []
    finite_end = int(np.argmax(~np.isfinite(values))) if not np.all(np.isfinite(values)) else values.size
    # spikes live in the finite part; long curves are judged on bucket maxima
    steps, values = _decimate(steps[:finite_end], values[:finite_end], MAX_CURVE_POINTS, how="max")
    n = values.size
    if n < 10:
        return out
    w = max(5, n // 50)
    if n - 1 <= w:
        return out
    # the trailing median of every point but the last: base[j] is the median of values[j : j + w]
    # for j < n - 1 - w (the values are finite: the decimated finite part)
    base = sliding_medians(values[: n - 2], w)
    v = values[w : n - 1]
    for k in np.flatnonzero((base > 0) & (v > SPIKE_FACTOR * base)).tolist():
        i, b = k + w, float(base[k])
        after = values[i + 1 : i + 1 + w]
        if after.size and np.all(np.isfinite(after)) and float(np.min(after)) < 1.5 * b:
            out.append(int(steps[i]))
    return out


# ---------------------------------------------------------------- series picking


def role_of(tag: str, run: str) -> str | None:
    """What a scalar tag measures: "loss", "val_loss", "lr", "grad_norm" or None."""
    name = tag.strip()
    if _GRAD_NORM.search(name):
        return "grad_norm"
    if _LR.search(name) and not _LOSS.search(name):
        return "lr"
    if _LOSS.search(name) and not _NOT_LOSS.search(name):
        is_eval = bool(_EVAL_WORDS.search(name) or _EVAL_WORDS.search(run))
        return "val_loss" if is_eval else "loss"
    return None


def _unit_of(tag: str) -> str:
    return "epoch" if _EPOCH_PREFIX.match(tag) else "step"


def _loss_rank(s: ScalarSeries) -> tuple[int, int, int]:
    """Prefer the plain total loss, logged per step, with the most points."""
    t = s.tag.lower()
    base = re.sub(r"^(train(ing)?|batch|epoch|step|iter)[/_ ]?", "", t)
    base = re.sub(r"[/_ ]?(train(ing)?|total|step)$", "", base)
    plain = 0 if base in ("loss", "losses", "") or t.endswith("/loss") else 1
    per_epoch = 1 if _unit_of(s.tag) == "epoch" else 0
    return (per_epoch, plain, -len(s))


def _as_series(s: ScalarSeries, role: str, unit: str) -> Series:
    return Series(
        role=role,
        steps=np.asarray(s.steps, dtype=np.int64),
        values=np.asarray(s.values, dtype=np.float64),
        unit=unit,
        source=s.source,
        tag=s.tag,
        run=s.run,
        segment=s.segment,
    )


def _concat(parts: list[ScalarSeries]) -> ScalarSeries:
    """One series from the pieces of one tag written by successive files (a job and its
    restarts), in write order. Every point is kept; a rewind of the step starts a new segment."""
    if len(parts) == 1:
        return parts[0]
    steps, values, walls, segs = [], [], [], []
    offset = 0
    last_step = None
    for p in parts:
        seg = np.asarray(p.segment, dtype=np.int32) if len(p.segment) == len(p) else np.zeros(len(p), np.int32)
        if last_step is not None and len(p) and int(p.steps[0]) <= last_step:
            offset = (int(segs[-1].max()) + 1) if segs else offset
        elif segs:
            offset = int(segs[-1].max()) if len(segs[-1]) else offset
        steps.append(np.asarray(p.steps, dtype=np.int64))
        values.append(np.asarray(p.values, dtype=np.float64))
        walls.append(np.asarray(p.wall_times, dtype=np.float64))
        segs.append(seg + offset)
        if len(p):
            last_step = int(p.steps[-1])
    first = parts[0]
    return ScalarSeries(
        tag=first.tag,
        run=first.run,
        source=", ".join(dict.fromkeys(p.source for p in parts)),
        steps=np.concatenate(steps),
        values=np.concatenate(values),
        wall_times=np.concatenate(walls),
        segment=np.concatenate(segs),
    )


def _first_wall(s: ScalarSeries) -> float:
    w = np.asarray(s.wall_times, dtype=np.float64)
    w = w[np.isfinite(w)]
    return float(w[0]) if w.size else math.inf


class Candidate(NamedTuple):
    """A scalar series that may serve a role (the loss, the LR, ...), with what ranks it."""

    prio: int  # source priority, lower is better: event files 0, structured writers 1, console logs 2
    series: ScalarSeries
    unit: str  # "step", "epoch" or "log_index"
    epoch_base: int  # the first epoch's number: 1 for a console's "Epoch 1/10", 0 for a CSV logger's index
    worked_out: bool  # its steps were worked out, not read off a counter (LogData.inferred_tags)


def _candidates(run: RunData) -> dict[str, list[Candidate]]:
    """Scalar series by role, each with a source priority (lower is better) and its unit.

    Priorities: event files (0); structured writers other than TensorBoard —
    trainer_state.json, metrics CSVs (1); series parsed from console logs (2).
    Pieces of one tag in one sub-run written by several event files (a job killed and
    resumed, or TensorBoard's one-file-per-session) are joined in write order. HF
    trainer_state.json files repeat the whole history up to their checkpoint: the
    longest one per tag is kept. Several job logs (a job and its restarts) are joined
    in name order (numbers in number order), which is submission order for slurm-<id>.out. Hugging Face dict
    lines carry no step; the loader places them with the trainer state's steps per epoch.
    """
    by_role: dict[str, list[Candidate]] = {}

    def add(prio: int, sc: ScalarSeries, unit: str, epoch_base: int = 0, worked_out: bool = False) -> None:
        r = role_of(sc.tag, sc.run)
        if r and len(sc):
            by_role.setdefault(r, []).append(Candidate(prio, sc, unit, epoch_base, worked_out))

    groups: dict[tuple[str, str], list[ScalarSeries]] = {}
    for ev in run.events:
        for sc in ev.scalars.values():
            groups.setdefault((ev.run, sc.tag), []).append(sc)
    for parts in groups.values():
        merged = _concat(sorted(parts, key=lambda p: (_first_wall(p), p.source)))
        add(0, merged, _unit_of(merged.tag))
    longest: dict[str, ScalarSeries] = {}
    for ts in run.trainer_states:
        for sc in ts.scalars.values():
            if sc.tag not in longest or len(sc) > len(longest[sc.tag]):
                longest[sc.tag] = sc
    for sc in longest.values():
        add(1, sc, "step")
    log_groups: dict[tuple[int, str, str], list[ScalarSeries]] = {}
    worked_out: set[tuple[int, str, str]] = set()
    for log in sorted(run.logs, key=lambda lg: natural_order(lg.source.path)):
        structured = (Kind.METRICS_CSV, Kind.METRICS_JSONL, Kind.MLFLOW_METRIC, Kind.MLFLOW_DB, Kind.WANDB_RUN)
        prio = 1 if log.source.kind in structured else 2
        unit = "epoch" if log.step_unit == "epoch" else "log_index" if log.step_unit == "log_index" else "step"
        for sc in log.scalars.values():
            # per-epoch lines beside per-step ones count epochs, not the steps of the rest of the log
            key = (prio, "epoch" if sc.tag in log.epoch_tags else unit, sc.tag)
            log_groups.setdefault(key, []).append(sc)
            if sc.tag in log.inferred_tags:
                worked_out.add(key)
    for key, parts in log_groups.items():
        # a console prints "Epoch 3/10" (1-based); CSV loggers write epoch indices (0-based)
        add(key[0], _concat(parts), key[1], 1 if key[0] == 2 else 0, key in worked_out)
    _epochs_on_the_step_axis(by_role.get("loss", []))
    return by_role


# An event-file point and a console's per-epoch line print the same mean when they agree to this
# relative tolerance (a console rounds to 4-5 significant digits).
SAME_PRINTED_VALUE = 5e-4
# ... at this many points at least, every one at the same number and one finite at least (a
# finite mean printed to 4 digits agrees by chance about once in a thousand).
SAME_EPOCH_POINTS = 2


def _epochs_on_the_step_axis(cands: list[Candidate]) -> None:
    """An event file's loss written at the epoch number (``add_scalar(tag, mean, epoch)``, as many
    PyTorch loops do) reads as steps 1, 2, 3; a console's per-epoch lines beside it print the same
    means at the same numbers. Such a series counts epochs: relabelled in place (1-based, as the
    console), so it is placed on steps with the console's epochs, or reported in epochs."""
    consoles = [c.series for c in cands if c.unit == "epoch" and c.prio == 2]
    for i, c in enumerate(cands):
        sc = c.series
        if c.prio != 0 or c.unit != "step" or len(sc) < SAME_EPOCH_POINTS:
            continue
        for ep in consoles:
            printed = dict(zip(ep.steps.tolist(), ep.values.tolist(), strict=True))
            pairs = [
                (v, printed[s]) for s, v in zip(sc.steps.tolist(), sc.values.tolist(), strict=True) if s in printed
            ]
            finite = [(a, b) for a, b in pairs if math.isfinite(a) and math.isfinite(b)]
            if (
                len(pairs) == len(sc)
                and len(pairs) >= SAME_EPOCH_POINTS
                and finite
                and all(abs(a - b) <= SAME_PRINTED_VALUE * max(abs(a), abs(b), 1e-12) for a, b in finite)
                and all(math.isfinite(a) == math.isfinite(b) for a, b in pairs)
            ):
                cands[i] = c._replace(unit="epoch", epoch_base=1)
                break


def _pick(cands: list[Candidate]) -> Candidate | None:
    """A curve before a lone point, then per-step before per-epoch, then the better source, then
    the plain name, then length. One point draws no curve: a per-epoch summary printed once (a
    Lua loop's ``[EPOCH : 20 LOSS: ...]``) says less than the per-batch prints of the same log
    placed by line order, however its unit ranks."""
    if not cands:
        return None
    unit_rank = {"step": 0, "epoch": 1, "log_index": 2}
    return min(cands, key=lambda c: (len(c.series) < 2, unit_rank.get(c.unit, 3), c.prio, *_loss_rank(c.series)[1:]))


# ---------------------------------------------------------------- steps per epoch


def _steps_per_epoch(run: RunData, cands: dict[str, list[Candidate]]) -> tuple[int | None, str | None]:
    """How many optimizer steps make an epoch, from the best evidence available.

    1. A checkpoint that carries both an epoch (from its name, 1-based as Keras
       formats ``{epoch}``) and the optimizer's iteration count: iterations / epoch.
    2. Hugging Face trainer_state.json: max_steps / num_train_epochs.
    3. A job log that shows it (Keras "16/16", a progress bar's total).
    4. Per-step and per-epoch training losses logged side by side in one sub-run:
       the step series' span divided by the number of epochs logged.
    """
    ratios = []
    for c in run.checkpoints:
        it = c.model.iterations if c.model is not None else None
        if not it and c.step_origin == "internal":  # a step stored inside an epoch-named checkpoint
            it = c.step
        if c.epoch and it and it > 0:
            ratios.append(it / c.epoch)
    if ratios:
        spe = round(float(median(ratios)))
        if spe > 0:
            return spe, "optimizer iterations stored in epoch-named checkpoints"
    hf = hf_steps_per_epoch(run.trainer_states)
    if hf:
        return max(1, round(hf)), "trainer_state.json (max_steps / num_train_epochs)"
    for log in run.logs:
        if log.steps_per_epoch:
            return int(log.steps_per_epoch), f"progress lines in {log.source.path}"
    losses = cands.get("loss", [])
    for per_epoch in losses:
        if per_epoch.unit != "epoch":
            continue
        e = per_epoch.series
        for per_step in losses:
            b = per_step.series
            if per_step.unit == "step" and b.run == e.run and len(b) > 1:
                epochs = int(np.unique(e.steps).size)
                if epochs >= 2:
                    return max(1, round((int(b.steps.max()) + 1) / epochs)), (
                        "per-step and per-epoch losses logged side by side"
                    )
    return None, None


def _data_order(run: RunData, spe: int | None, spe_origin: str | None, loss: Series | None) -> DataOrder | None:
    """What places a step on the data: batch size, accumulation, processes, sampler, seed and
    dataset length from the configs (the first that records each), steps per epoch from the
    timeline's evidence, else from the dataset length. None when nothing is recorded."""
    found: dict[str, object] = {}
    origins: list[tuple[str, str]] = []
    for c in run.configs:
        for name in ("batch_size", "grad_accum", "world_size", "num_samples", "seed", "drop_last", "sampler"):
            value = getattr(c, name)
            if value is not None and name not in found:
                found[name] = value
                origins.append((name, c.source.path))
        if c.seed_per_epoch is not None and "seed_per_epoch" not in found:
            found["seed_per_epoch"] = c.seed_per_epoch
    if not found and spe is None:
        return None
    accum = int(found.get("grad_accum") or 1)  # type: ignore[call-overload]
    world = int(found.get("world_size") or 1)  # type: ignore[call-overload]
    bs = found.get("batch_size")
    n = found.get("num_samples")
    # steps per epoch, most exact first: the HF Trainer's logged epoch fractions; the dataset
    # length over the samples a step takes; the timeline's estimate (a checkpoint's epoch
    # counter, a progress bar, max_steps / num_train_epochs)
    hf = next((ts for ts in run.trainer_states if "epoch" in ts.scalars), None)
    if hf is not None and spe is not None:
        origins.append(("steps_per_epoch", f"{hf.source.path} (global step / logged epoch)"))
    elif isinstance(bs, int) and isinstance(n, int):
        # micro-batches per process (the last one partial unless dropped), then whole steps
        per_rank = -(-n // world)
        micro = per_rank // bs if found.get("drop_last") else -(-per_rank // bs)
        spe = max(1, -(-micro // accum))
        origins.append(("steps_per_epoch", "dataset length / (batch size x accumulation x processes)"))
    elif spe is not None and spe_origin:
        origins.append(("steps_per_epoch", spe_origin))
    first = 0 if loss is not None and len(loss) and int(loss.steps.min()) == 0 else 1
    return DataOrder(
        steps_per_epoch=spe,
        batch_size=bs if isinstance(bs, int) else None,
        grad_accum=accum,
        world_size=world,
        num_samples=n if isinstance(n, int) else None,
        drop_last=found.get("drop_last"),  # type: ignore[arg-type]
        sampler=found.get("sampler"),  # type: ignore[arg-type]
        seed=found.get("seed"),  # type: ignore[arg-type]
        seed_per_epoch=bool(found.get("seed_per_epoch")),
        first_step=first,
        origins=tuple(origins),
    )


def _map_epochs(s: Series, spe: int | None, epoch_base: int = 0) -> Series:
    """Epoch-indexed series -> the global step that ends each epoch.

    Keras' TensorBoard callback and CSV loggers number epochs from 0, a console's
    "Epoch 3/10" from 1; epoch e (numbered from ``epoch_base``) ends at step
    (e - epoch_base + 1) x steps_per_epoch."""
    if s.unit != "epoch":
        return s
    if not spe:  # left in epochs, counted from 1 as a console does
        return (
            s
            if epoch_base == 1
            else Series(s.role, s.steps - epoch_base + 1, s.values, "epoch", s.source, s.tag, s.run, s.segment)
        )
    return Series(s.role, (s.steps - epoch_base + 1) * spe, s.values, "step", s.source, s.tag, s.run, s.segment)


# ---------------------------------------------------------------- non-finite


def lineage(steps: np.ndarray, end: int) -> np.ndarray:
    """Indices of the history that led to point ``end``, in write order.

    After a restart the step counter rewinds and the same steps are written again;
    the history of a point is found by walking back from it and keeping each earlier
    point whose step is strictly below the last one kept. The superseded tail of the
    killed job drops out of this view, yet stays in the series (and in the report)."""
    keep = [end]
    cur = int(steps[end])
    for j in range(end - 1, -1, -1):
        if int(steps[j]) < cur:
            keep.append(j)
            cur = int(steps[j])
    return np.array(keep[::-1], dtype=np.int64)


def _effective(s: Series) -> Series:
    """The loss as the analysis reads it: the history leading to the first non-finite
    point (and the points logged after it in the same segment), or to the last point."""
    if s.segment is None or len(s) < 2 or np.all(np.diff(s.steps) > 0):
        return s
    i = s.first_nonfinite_index
    end = i if i is not None else len(s) - 1
    idx = lineage(s.steps, end)
    if i is not None:
        after = [j for j in range(i + 1, len(s)) if s.steps[j] > s.steps[j - 1]]
        tail = []
        for j in after:
            if tail and j != tail[-1] + 1:
                break
            if not tail and j != i + 1:
                break
            tail.append(j)
        idx = np.concatenate([idx, np.array(tail, dtype=np.int64)])
    seg = s.segment[idx] if s.segment is not None else None
    return Series(s.role, s.steps[idx], s.values[idx], s.unit, s.source, s.tag, s.run, seg)


def _nonfinite(s: Series | None) -> NonFinite | None:
    if s is None:
        return None
    i = s.first_nonfinite_index
    if i is None:
        return None
    prev = np.nonzero(np.isfinite(s.values[:i]))[0]
    j = int(prev[-1]) if prev.size else None
    return NonFinite(
        role=s.role,
        step=int(s.steps[i]),
        value=float(s.values[i]),
        last_finite_step=int(s.steps[j]) if j is not None else None,
        last_finite_value=float(s.values[j]) if j is not None else None,
        interval=s.interval,
        unit=s.unit,
        source=s.source,
        tag=s.tag,
    )


# Messages that say the training loss went non-finite where no logged value shows it: a NaN
# guard that stopped the run ("Model diverged with loss = NaN", Lightning's and fairseq's
# checks, Keras TerminateOnNaN) and the fp16 loss scale at its floor (fairseq: "Your loss is
# probably exploding"; readers/logs.py also infers the floor from the logged scale); and the
# anomaly checks that raise on a NaN or Inf computed in training (PyTorch's anomaly mode,
# check_numerics, jax_debug_nans, nngraph's checked mode...): the values they name feed the loss
# or the weights, so the run diverged there even when no logged loss shows it. And the log reader's own finding that
# a row of values the log names no loss among went non-finite in every value (nonfinite_values, read from the log
# only where no loss is).
_NONFINITE_MESSAGES = (
    "nan_loss",
    "nonfinite_input",
    "nan_loss_terminated",
    "loss_scale_minimum",
    "nonfinite_gradient",
    "nonfinite_tensor",
    "nonfinite_values",
)

# A Python file whose name says it encodes or transforms boxes (py-faster-rcnn's lib/fast_rcnn/bbox_transform.py, its
# forks' box_utils.py, anchor target layers): NumPy's log there is of a ground-truth box's width or height over an
# anchor's or a proposal's (the regression targets' dw, dh). NaN stays NaN through log without a warning, so NumPy's
# 'invalid value encountered in log' there is the log of a negative size (a box whose x2 < x1 or y2 < y1) and
# 'divide by zero encountered in log' the log of a zero one (x2 == x1): a target of NaN or -Inf either way.
BOX_FILE = re.compile(r"(?:^|[_.-])(?:bbox|box|boxes|anchor|anchors)(?:$|[_.-])", re.IGNORECASE)
_BOX_SIZE_FAULTS = frozenset({"invalid value", "divide by zero"})


def box_target_nonfinite(e: LogEvent) -> bool:
    """NumPy's warning of a log of a zero or negative size, from a box-encoding file: a non-finite regression target."""
    where = e.values.get("where")
    return bool(
        e.kind == "numpy_fp_warning" and e.values.get("what") in _BOX_SIZE_FAULTS and e.op == "log" and where
    ) and bool(BOX_FILE.search(where))


def _says_nonfinite(e: LogEvent, last_loss_step: int | None, same_source: bool = True) -> bool:
    """Whether ``e`` says the training loss went non-finite. A NaN guard's message does (_NONFINITE_MESSAGES).
    So does a non-finite box regression target (:func:`box_target_nonfinite`) where no loss was logged after it:
    the loss takes every target the encoding made, and the weights that keep only the assigned anchors' terms
    multiply the rest by zero, which leaves a NaN or an Inf non-finite (py-faster-rcnn's and its ports' smooth
    L1), so the loss of that step is non-finite and the update puts it into the weights. A loss logged after it
    decides instead (finite: the targets were indexed out, the run went on); a warning with no step came before
    the first step the log printed, so every logged loss is after it. ``last_loss_step``: the highest step the
    training loss was logged at, None where none was; ``same_source``: whether that loss is the event's log's."""
    if _project_check(e):
        # outlived only where the same log went on to print a loss at a later step: an event with no step, or a
        # loss of another source counting its steps in its own unit, says nothing of what came after it
        return not (same_source and e.step is not None and last_loss_step is not None and e.step < last_loss_step)
    if e.kind in _NONFINITE_MESSAGES:
        return True
    if not box_target_nonfinite(e):
        return False
    return last_loss_step is None or (e.step is not None and e.step >= last_loss_step)


def _project_check(e: LogEvent) -> bool:
    """A project's own exception naming a tensor gone non-finite, in any words (the generic catalogue entry): a job
    may catch and print one and go on, so a loss the same log printed at a later step says the run went on."""
    return e.kind == "nonfinite_tensor" and e.framework == ANY_FRAMEWORK


def _last_loss_step(loss: Series | None) -> int | None:
    return int(loss.steps.max()) if loss is not None and len(loss) else None


def _steps_in_doubt(c: Candidate) -> str | None:
    """Why a job log's steps may not be the run's global steps, or None. Event files, a trainer state and a
    metrics store hold the steps the program recorded; a console log's are global steps when it reads them
    off a counter of global steps that never goes back. A counter that went back (a job restarted, a
    second loop printing into the same file) or steps worked out rather than read (LogData.inferred_tags:
    an epoch counter times an epoch's length, a position in the log; per-epoch lines placed at the epoch
    length the timeline found) may not be."""
    prio, sc, unit, worked_out = c.prio, c.series, c.unit, c.worked_out
    if prio < 2:
        return None
    if len(sc) > 1 and bool(np.any(np.diff(sc.steps) < 0)):
        return "its step counter went back"
    if worked_out or unit == "epoch":
        return "its steps were worked out, not read off a counter of global steps"
    return None


def _recorded_loss(cands: list[Candidate]) -> Series | None:
    """The training loss a recording source (event files, a trainer state, a metrics store) wrote at global
    steps, as the analysis reads it (the history that led to its first non-finite point), or None."""
    rec = _pick([c for c in cands if c.prio < 2 and c.unit == "step"])
    return _effective(_as_series(rec.series, "loss", "step")) if rec is not None else None


def _against_the_record(nf: NonFinite, record: Series) -> NonFinite | None:
    """A job log's non-finite loss whose steps are in doubt (:func:`_steps_in_doubt`), held against the
    loss a recording source wrote at global steps. After the record's last finite point nothing
    contradicts the log's step: it stands (the earlier of it and the record's own non-finite point is the
    first). At or before that point the record saw a finite loss where the log says it was not, so the
    log's step is not the run's: the record's own non-finite point is the first (None); where the record
    shows none, the log's value came after the last point the record kept, and is placed there."""
    rec_nf = _nonfinite(record)
    last = rec_nf.last_finite_step if rec_nf is not None else (int(record.steps[-1]) if len(record) else None)
    if last is None or nf.step > last:
        return nf
    if rec_nf is not None:
        return None
    return dataclasses.replace(
        nf,
        step=last,
        last_finite_step=last,
        last_finite_value=float(record.values[-1]),
        interval=record.interval,
        after_record=True,
    )


def _nonfinite_from_messages(run: RunData, loss: Series | None) -> NonFinite | None:
    """The first such message with a step (its own, else the last logged loss), as the loss's first non-finite."""
    best: NonFinite | None = None
    last = _last_loss_step(loss)
    for path, e in _gather_log_events(run):
        if not _says_nonfinite(e, last, loss is not None and loss.source == path):
            continue
        step = e.step if e.step is not None else (int(loss.steps[-1]) if loss is not None and len(loss) else None)
        if step is None or (best is not None and step >= best.step):
            continue
        last_step = last_value = None
        if loss is not None:
            ok = np.nonzero(np.isfinite(loss.values) & (loss.steps <= step))[0]
            if ok.size:
                last_step, last_value = int(loss.steps[ok[-1]]), float(loss.values[ok[-1]])
        best = NonFinite(
            role="loss",
            step=step,
            value=math.nan,
            last_finite_step=last_step,
            last_finite_value=last_value,
            interval=loss.interval if loss is not None else math.nan,
            unit=loss.unit if loss is not None else "step",
            source=path,
            tag=f"message:{e.kind}",
        )
    return best


def _validation_only(loss: Series | None, val_curve: Series | None) -> ValidationOnly | None:
    """A validation loss that went non-finite while the training loss did not: what the record says of it.

    Evaluation runs the weights training goes on from, so non-finite weights leave the next training loss
    non-finite too; a finite training loss logged after the validation's non-finite point shows the
    weights were finite, and the fault is the evaluation's own (an empty validation set's 0/0, NaN in the
    validation data, an fp16 overflow or non-finite BatchNorm running statistics, which only evaluation
    uses). With no training loss after it, the validation loss is the record's last look at the weights:
    when the same set evaluated finite before, what changed since is the weights, gone non-finite (the
    run diverged there); non-finite from its first evaluation, it cannot say which.

    ``loss`` is every point of the training loss, restarts included: "after" is in the order the log wrote
    them, a later segment (a restart) or a later step of the same one. When the two series do not restart
    alike, their segments cannot be lined up and the order is unknown: neither reading is stated."""
    val = _nonfinite(val_curve)
    if val is None or val_curve is None or loss is None or not len(loss) or val.unit != loss.unit:
        return None
    finite = np.isfinite(loss.values)
    lseg = loss.segment if loss.segment is not None else np.zeros(len(loss), np.int32)
    vseg = val_curve.segment if val_curve.segment is not None else np.zeros(len(val_curve), np.int32)
    i = val_curve.first_nonfinite_index
    k = int(vseg[i]) if i is not None else 0
    aligned = int(lseg.max(initial=0)) == int(vseg.max(initial=0))
    if aligned:
        later = finite & ((lseg > k) | ((lseg == k) & (loss.steps > val.step)))
        before = np.nonzero(finite & ((lseg < k) | ((lseg == k) & (loss.steps <= val.step))))[0]
    else:  # one of them restarted and the other did not (or not as often): no common order
        later = np.zeros(len(loss), bool)
        before = np.zeros(0, np.int64)
    train_step = int(loss.steps[before[-1]]) if before.size else None
    train_value = float(loss.values[before[-1]]) if before.size else None
    if later.any():
        reading = "evaluation"
    elif aligned and val.last_finite_step is not None and before.size:
        reading = "weights"
    else:
        reading = "unknown" if aligned else "unordered"
    nf = val
    if reading == "weights":
        nf = dataclasses.replace(val, last_finite_step=train_step, last_finite_value=train_value)
    return ValidationOnly(
        nf,
        reading,
        int(later.sum()),
        int(loss.steps[later][-1]) if later.any() else None,
        train_step,
        train_value,
        bool((later & (lseg > k)).any()),
    )


def _unplaced_nonfinite(run: RunData, loss: Series | None) -> tuple[str, LogEvent] | None:
    """The first such message when none could be placed on a step: the log printed no step and
    no loss before it (a paste that starts at the guard). The run diverged all the same."""
    last = _last_loss_step(loss)
    same = loss.source if loss is not None else None
    return next(((path, e) for path, e in _gather_log_events(run) if _says_nonfinite(e, last, same == path)), None)


def _recovers(s: Series | None) -> bool:
    """A non-finite grad norm followed by finite ones: the steps were skipped, not the run lost.

    Dynamic loss scaling (torch GradScaler, DeepSpeed, apex, fairseq) skips the update of a
    step whose gradients overflowed and lowers the scale: the weights stay finite and the
    next grad norms are finite again. A divergence puts NaN into the weights, and every
    grad norm after it is NaN. So a NaN grad norm with a finite loss counts as the
    divergence only when no finite grad norm follows it.
    """
    if s is None or s.first_nonfinite_index is None:
        return False
    return bool(np.isfinite(s.values[s.first_nonfinite_index :]).any())


def _came_back(a: np.ndarray, finite: np.ndarray, hit: np.ndarray, i: int) -> bool:
    """Did the loss come back from the spike at ``i`` to where it stood before it (SPIKE_RETURN_SHARE), at every
    finite point after it but other spikes, with one such point at least? A non-finite point after it is no return."""
    before = a[:i][finite[:i]][-SPIKE_LEVEL_POINTS:]
    after = a[i + 1 :]
    if not before.size or not after.size or not finite[i + 1 :].all():
        return False
    level = float(median(before))
    steps = before[1:] / np.maximum(before[:-1], 1e-300)
    if before.size > 1 and (float(steps.max()) > SPIKE_LEVEL_SPREAD or float(steps.min()) < 1 / SPIKE_LEVEL_SPREAD):
        return False
    rest = after[~hit[i + 1 :]]
    bound = max(float(before.max()), (1.0 + SPIKE_RETURN_SHARE) * level)
    return bool(rest.size) and bool(np.all(rest <= bound))


def _exploded(s: Series | None, adversarial: bool = False) -> int | None:
    """A divergence that never printed NaN: the first step where a finite loss stood
    ``EXPLODED_FACTOR`` above both its minimum so far and its first non-zero value, and did not come back to
    the level before it (:func:`_came_back`); when the
    record ended ``STAYED_UP_FACTOR`` above that first value (:func:`stayed_up_from`), the
    first step that stood that high; or, when the run ended stuck far above its best (the last
    tenth's median ``STUCK_FACTOR`` above the minimum and above the first value; on a record shorter
    than ``STUCK_MIN_POINTS``, each of its last ``STUCK_TAIL_POINTS``, also above the median before them),
    the step where it left that minimum for good; or, on a record of two points from the run's start, the
    second when it stood ``CLIMB_ABOVE_START`` above the first; or, when that end stood ``CLIMB_ABOVE_START``
    above the first value after a best before it, the step after the last that stood within
    ``CLIMB_ONSET_FACTOR`` of it (unless it had stood that high before and come back, or ``adversarial``: a GAN
    generator's loss, :func:`_adversarial`)."""
    if s is None or len(s) < TWO_POINT_RECORD:
        return None
    v = s.values
    finite = np.isfinite(v)
    if not finite.any():
        return None
    if len(s) == TWO_POINT_RECORD:
        # from the run's start, its end stood CLIMB_ABOVE_START above it, both positive sizes of a loss minimised
        # toward zero
        if adversarial or not finite.all() or not np.all(v > 0) or int(s.steps[0]) > FIRST_UPDATE_STEP:
            return None
        if v[1] < CLIMB_ABOVE_START * v[0]:
            return None
        return int(s.steps[1])
    a = np.abs(v)
    # a loss printed as exactly 0 (a saturated margin loss, a rounded print) sets no scale: the
    # first value that does is the first non-zero one, else nothing can have exploded from it
    scaled = finite & (a > 0)
    if not scaled.any():
        return None
    first = float(a[scaled][0])
    running_min = np.minimum.accumulate(np.where(finite, a, np.inf))
    hit = finite & (a > EXPLODED_FACTOR * np.maximum(running_min, 1e-12)) & (a > EXPLODED_FACTOR * first)
    for i in np.nonzero(hit)[0]:
        if not _came_back(a, finite, hit, int(i)):
            return int(s.steps[int(i)])
    if v[finite].size >= 3 and stayed_up_from(v[finite], first):
        # ended two decades above where it began: too few points for the stuck test below, or a
        # first point already the best, and still no working training ends there
        return int(s.steps[int(np.argmax(finite & (v >= STAYED_UP_FACTOR * first)))])
    if not np.all(v[finite] > 0) or finite.sum() <= STUCK_TAIL_POINTS:
        return None
    fv, fs = v[finite], s.steps[finite]
    lucky = False  # a short record whose low point is one lucky print, no best the loss left
    if fv.size >= STUCK_MIN_POINTS:
        tail = float(median(fv[-max(3, fv.size // 10) :]))
    else:  # a short record: every one of its last points stands that high, above the level before them
        tail = float(fv[-STUCK_TAIL_POINTS:].min())
        lucky = tail <= STUCK_FACTOR * float(median(fv[:-STUCK_TAIL_POINTS]))
    m = int(np.argmin(fv))
    if not lucky and tail > STUCK_FACTOR * fv[m] and tail > fv[0] and m < fv.size - 1:
        above = np.nonzero(fv[m + 1 :] > STUCK_FACTOR * fv[m])[0]
        return int(fs[m + 1 + above[0]]) if above.size else None
    if not adversarial and tail >= CLIMB_ABOVE_START * first and m < fv.size - STUCK_TAIL_POINTS:
        # ended far above where it started, from a best before that end (a lucky low point included: the
        # level is judged against the start): the climb began after the last point near the start
        near = np.nonzero(fv <= CLIMB_ONSET_FACTOR * first)[0]
        if not near.size or near[-1] + 1 >= fv.size:
            return None
        if (fv[: near[-1]] >= CLIMB_ABOVE_START * first).any():
            # it stood that high before and came back to its start: a climb that recurs (a running total
            # restarted each epoch, printed undivided) and ends where the period does, no divergence that stayed
            return None
        return int(fs[int(near[-1]) + 1])
    return None


# A tag that names a GAN's discriminator ("D loss", "loss_D_real", "d_loss", "disc_loss"); the log reader's
# discriminator words (readers/logmetrics.py), restated here: the timeline imports no reader.
_DISCRIMINATOR_TAG = re.compile(r"(?:^|[_/.\s-])(?:d|disc|discriminator)(?:$|[_/.\s-])", re.IGNORECASE)


def _adversarial(run: RunData, loss: Series | None) -> bool:
    """Is the training loss a GAN generator's: its log prints a discriminator's loss beside it. The
    generator's loss rises as its discriminator learns (a game, not a loss minimised to a floor), so a
    climb above its start is no divergence of its own."""
    if loss is None:
        return False
    for lg in run.logs:
        if loss.tag in lg.scalars and any(
            _DISCRIMINATOR_TAG.search(tag) and not _EVAL_WORDS.search(tag) for tag in lg.scalars
        ):
            return True
    return False


# A tag that names a reinforcement learner's returns ("episode_reward", "ep_rew_mean", "return", "rewards/chosen").
_RETURN_TAG = re.compile(r"(?:^|[_/.\s-])(?:ep_?)?(?:rew|reward|rewards|return|returns)(?:$|[_/.\s-])", re.IGNORECASE)


def _reinforcement(run: RunData, loss: Series | None) -> bool:
    """Is the training loss a reinforcement learner's: its log prints returns or rewards beside it. Its targets
    are the returns the policy earns (a value loss, a policy gradient weighted by advantages), so its level moves
    with the policy: a new level after an outlier episode is no loss of what the model learned."""
    if loss is None:
        return False
    return any(loss.tag in lg.scalars and any(_RETURN_TAG.search(tag) for tag in lg.scalars) for lg in run.logs)


# A reinforcement learner's statistics of the episodes a window finished, by the last part of the name (after a '/'):
# their mean, max or min reward or return (RLlib's and Tune's 'episode_reward_mean', the new stack's
# 'episode_return_mean', Stable-Baselines' 'ep_rew_mean', OpenAI Baselines' 'eprewmean', ML-Agents' 'Mean Reward')
# and their mean length ('episode_len_mean', 'ep_len_mean', 'eplenmean'). Not a reward model's output ('rewards/chosen'
# of a preference trainer: its last part names the response, not an episode).
_EPISODE_STAT = re.compile(
    r"(?:ep_?|episode_?|mean_?|avg_?)?(?:rew|reward|return)s?(?:_?(?:mean|max|min|avg))?"
    r"|ep(?:rew|len)mean|(?:ep_?|episode_?)len(?:gth)?s?(?:_?(?:mean|max|min))?",
    re.IGNORECASE,
)
# The reward or return statistics among them (not the length: a policy gone NaN still runs its episodes to their
# time limit, so their length stays finite)
_EPISODE_RETURN = re.compile(
    r"(?:ep_?|episode_?|mean_?|avg_?)?(?:rew|reward|return)s?(?:_?(?:mean|max|min|avg))?|eprewmean", re.IGNORECASE
)
# A return statistic read at fewer steps than this may all precede the first update (the first summary, result or
# table of every trainer comes from episodes the initial weights played), so it says nothing of what the updates did.
MIN_RETURN_POINTS = 3
# A count of the episodes a result covers: RLlib's 'episodes_this_iter', 'episodes_total', the new stack's
# 'num_episodes', 'num_episodes_lifetime', Stable-Baselines 3's 'time/episodes'
_EPISODE_COUNT = re.compile(r"(?:num_)?episodes(?:_this_iter|_total|_lifetime)?", re.IGNORECASE)
# NumPy's mean divides the sum by the count in its own numpy/core/_methods.py (_mean, and _var's by the degrees of
# freedom): over no element that is 0/0, which warns 'invalid value encountered in' the division (the scalar's
# 'double_scalars' before NumPy 1.25, 'scalar divide' after; an array's 'true_divide' or 'divide'), right after its
# 'Mean of empty slice' warning. A mean over values that are themselves NaN warns nothing there (NaN / n raises no
# flag), and np.nanmean over all-NaN values divides under errstate(invalid='ignore') in nanfunctions.py.
_EMPTY_MEAN_FILE = "_methods"
_EMPTY_MEAN_OPS = frozenset({"double_scalars", "scalar divide", "true_divide", "divide"})


def _leaf(tag: str) -> str:
    return tag.rsplit("/", 1)[-1].strip()


def _empty_mean_warning(e: LogEvent) -> bool:
    """NumPy's warning of a mean's 0/0: its count of elements was 0."""
    return (
        e.kind == "numpy_fp_warning"
        and e.values.get("what") == "invalid value"
        and e.values.get("where") == _EMPTY_MEAN_FILE
        and e.op in _EMPTY_MEAN_OPS
    )


def _counts_by_step(counts: list[ScalarSeries]) -> tuple[np.ndarray, np.ndarray]:
    """The steps an episode count was printed at (sorted, once each) and the largest count printed at each."""
    steps = np.concatenate([c.steps for c in counts]) if counts else np.zeros(0, dtype=np.int64)
    values = np.concatenate([c.values for c in counts]) if counts else np.zeros(0)
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], np.nan_to_num(values[order], nan=0.0)
    at, starts = np.unique(steps, return_index=True)
    return at, np.maximum.reduceat(values, starts) if len(values) else values


def _empty_by_count(s: ScalarSeries, nan_at: np.ndarray, counts: tuple[np.ndarray, np.ndarray]) -> str | None:
    """What the episode counts printed beside the NaN points of ``s`` say: "0" when every NaN point has one at its
    step and each is 0; "finished" when one of them is above 0 (episodes finished and the statistic is NaN all the
    same); None when some NaN point has no count beside it."""
    at, largest = counts
    if not len(at):
        return None
    steps = s.steps[nan_at]
    i = np.clip(np.searchsorted(at, steps), 0, len(at) - 1)
    beside = at[i] == steps
    if bool((largest[i][beside] > 0).any()):
        return "finished"
    return "0" if bool(beside.all()) else None


def _empty_by_warning(s: ScalarSeries, first: int, warnings: list[LogEvent]) -> LogEvent | None:
    """The warning of a mean's 0/0 printed just before the statistic's first NaN point (at index ``first``):
    after the point before it and no later than its own step, or, for a first point, before any point."""
    hi = int(s.steps[first])
    lo = int(s.steps[first - 1]) if first > 0 else None
    for e in warnings:
        if e.step is None and lo is None:
            return e
        if e.step is not None and (lo is None or e.step >= lo) and e.step <= hi:
            return e
    return None


def _scalar_sources(run: RunData) -> list[tuple[str, dict[str, ScalarSeries], tuple[LogEvent, ...]]]:
    """(path, scalar series, log events) of every log, metrics file and event file read."""
    return [(lg.source.path, lg.scalars, tuple(lg.events)) for lg in run.logs] + [
        (ev.source.path, ev.scalars, ()) for ev in run.events
    ]


def _empty_statistics(run: RunData) -> tuple[tuple[EmptyStatistic, ...], tuple[str, ...]]:
    """The episode statistics that are NaN because their window held no finished episode, and, where there are
    any, every other non-finite value in the logs, metrics files and event files (empty when there are none).

    A mean over an empty set is NaN by definition: a mean reward over the episodes an iteration finished is NaN
    when none finished (an environment that never returns done, a summary asked for before the first episode
    ends). Told from a policy gone NaN (NaN actions, NaN rewards in episodes that did finish) by what the writer
    printed with it: an episode count of 0 at the same point, or NumPy's warning of the mean's own 0/0 just before
    the first NaN (Python shows a warning once per place, so the later NaN points of the same mean print none). An
    Inf is never an empty mean, and a count above 0 beside a NaN is episodes that finished with a NaN reward."""
    found: list[EmptyStatistic] = []
    elsewhere: list[str] = []
    for path, scalars, events in _scalar_sources(run):
        warnings = [e for e in events if _empty_mean_warning(e)]
        # NumPy's other floating-point warnings (an overflow, a log of a negative number): a value gone non-finite
        # on the host that the series may not show; a mean's 0/0 is an empty mean whatever it averaged
        elsewhere += [
            f"{path} line {e.line}: {e.message}"
            for e in events
            if e.kind == "numpy_fp_warning" and not _empty_mean_warning(e)
        ]
        counts = [c for tag, c in scalars.items() if _EPISODE_COUNT.fullmatch(_leaf(tag))]
        by_step = _counts_by_step(counts)
        for tag, s in scalars.items():
            finite = np.isfinite(s.values)
            if finite.all():
                continue
            nan_at = np.isnan(s.values)
            first = int(np.argmax(~finite))
            empty = None
            if _EPISODE_STAT.fullmatch(_leaf(tag)) and bool((nan_at | finite).all()):
                by_count = _empty_by_count(s, nan_at, by_step)
                if by_count == "0":
                    named = next(c.tag for c in counts if (c.steps == s.steps[first]).any())
                    empty = ("count", f"{named} 0")
                elif by_count is None and (w := _empty_by_warning(s, first, warnings)) is not None:
                    said = w.message[w.message.find("RuntimeWarning") :] if "RuntimeWarning" in w.message else w.message
                    empty = ("numpy", f"{path} line {w.line}: {said}")
            if empty is None:
                elsewhere.append(f"{tag} in {path}")
                continue
            found.append(
                EmptyStatistic(
                    tag,
                    path,
                    tuple(int(x) for x in s.steps[nan_at]),
                    len(s),
                    int(finite[:first].sum()),
                    int(finite[first:].sum()),
                    *empty,
                )
            )
    return (tuple(found), tuple(elsewhere)) if found else ((), ())


def _finite_returns(run: RunData) -> tuple[FiniteReturn, ...]:
    """The episode reward or return statistics (:data:`_EPISODE_RETURN`) finite at every one of at least
    :data:`MIN_RETURN_POINTS` steps, where no series of any log, metrics file or event file holds a non-finite value
    and no NumPy floating-point warning was printed; empty otherwise.

    A policy whose weights went non-finite acts non-finite: its action logits or means are NaN, so sampling them
    raises, or the environment is stepped with NaN actions and errors or returns NaN observations and rewards. The
    episodes it still finishes then return NaN. Finite returns from episodes finished across many updates are so the
    run's state seen without its loss: no sign of divergence up to the last of them (their level says nothing of it:
    a collapse of the reward is a policy that got worse, not one gone non-finite)."""
    found: list[FiniteReturn] = []
    for path, scalars, events in _scalar_sources(run):
        if any(e.kind == "numpy_fp_warning" for e in events):
            return ()
        for tag, s in scalars.items():
            if not np.isfinite(s.values).all():
                return ()
            if not len(s) or not _EPISODE_RETURN.fullmatch(_leaf(tag)):
                continue
            points = len(np.unique(s.steps))
            if points >= MIN_RETURN_POINTS:
                first, last = float(s.values[0]), float(s.values[-1])  # in the order written
                found.append(FiniteReturn(tag, path, points, int(s.steps.min()), int(s.steps.max()), first, last))
    return tuple(found)


def stayed_up_from(values: np.ndarray, first: float) -> bool:
    """Did a finite loss end ``STAYED_UP_FACTOR`` above ``first`` (the size of its first non-zero
    value)? The end is the median of the last ``STAYED_UP_TAIL_SHARE`` of ``values``, signed: a loss
    that falls through zero (a negative log-likelihood, a flow's or a VAE's with a density term) and
    ends far below it grew in size by learning, not by blowing up."""
    if first <= 0 or not values.size:
        return False
    return float(median(values[-max(1, int(STAYED_UP_TAIL_SHARE * values.size)) :])) >= STAYED_UP_FACTOR * first


def _implausible_bound(tag: str, classifier: bool = False) -> float:
    """The loss no working training of this kind reaches (``CLASS_LOSS_IMPLAUSIBLE`` for a
    classification or token loss by its name, or a ``classifier``'s, ``ANY_LOSS_IMPLAUSIBLE`` otherwise)."""
    return CLASS_LOSS_IMPLAUSIBLE if classifier or _CLASS_LOSS.search(tag) else ANY_LOSS_IMPLAUSIBLE


def _above_for_good(s: Series, bound: float, overflowed: np.ndarray | None = None, sign: float = 1.0) -> int | None:
    """The step from which a finite value of ``s`` stood above ``bound`` and never came back under
    it (a spike that falls back is the spike rules' case), or None. The points ``overflowed`` marks
    (+inf values that stand for a number past the float range) count as values above it. ``sign``
    -1 asks the same of the values negated: below minus ``bound``."""
    v = sign * s.values
    finite = np.isfinite(v) if overflowed is None else np.isfinite(v) | overflowed
    above = finite & (v > bound)
    if not above.any():
        return None
    under = np.nonzero(finite & (v <= bound))[0]
    last_under = int(under[-1]) if under.size else -1
    later = np.nonzero(above[last_under + 1 :])[0]
    return int(s.steps[last_under + 1 + int(later[0])]) if later.size else None


def _implausible(
    loss: Series | None,
    terms: tuple[Series, ...],
    perplexities: list[tuple[Series, Series]],
    classifier: bool = False,
) -> tuple[int, str] | None:
    """(step, what) where the loss, one of its terms, or the perplexity printed beside it stood
    above any value a working training reaches, for good: a divergence a short log shows without a
    NaN or a curve to climb. ``classifier``: the loss's log printed a classification rate beside it."""
    if loss is None:
        return None
    hits: list[tuple[int, str]] = []
    own = (loss, *(t for t in terms if t.unit == loss.unit and t.source == loss.source))
    for s, bound, overflowed, sign in (
        (loss, _implausible_bound(loss.tag, classifier), None, 1.0),
        *((t, _implausible_bound(t.tag), None, 1.0) for t in own[1:]),
        *((p, PERPLEXITY_IMPLAUSIBLE, _overflowed_exp(p, of), 1.0) for p, of in perplexities),
        *((s, ANY_LOSS_IMPLAUSIBLE, None, -1.0) for s in own),  # and below minus it, whatever the loss
    ):
        step = _above_for_good(s, bound, overflowed, sign)
        if step is not None:
            value = float(s.values[int(np.nonzero(s.steps == step)[0][0])])
            side = "past the " if sign > 0 else "below the -"
            hits.append((step, f"{s.tag} {fmt_num(value)}, {side}{fmt_num(bound)} no working training reaches"))
    return min(hits) if hits else None


# A loss named a percentage (Keras' 'mape' / 'mean_absolute_percentage_error'): it sits at exactly 100 when the
# net predicts 0 for every sample, |y - 0| / |y| = 1, which is PyTorch BCELoss's clamp by coincidence only.
_PERCENTAGE = re.compile(r"(^|[/_ .-])(mape|mean_absolute_percentage_error|percentage|percent)($|[/_ .-])", re.I)


def pinned_at_clamp(s: Series, percentage: bool = False) -> tuple[int, Clamp] | None:
    """(step, clamp) from which ``s`` sat at a framework's clamp of a saturated cross-entropy to the end
    of its record (:mod:`forensics.clamps`): every element's probability of its label had underflowed,
    a dead net that prints the same finite value step after step instead of Inf or NaN. A loss that is a
    percentage (``percentage``, or its name says so) at 100 is no clamp (:data:`_PERCENTAGE`)."""
    steps, values = s.in_step_order
    finite = np.isfinite(values)
    if not finite.all():
        return None  # a non-finite point is the divergence itself, placed by its own test
    hit = pinned_from(values)
    if hit is not None and hit[1].value == PERCENT_CLAMP and (percentage or _PERCENTAGE.search(s.tag)):
        return None
    return (int(steps[hit[0]]), hit[1]) if hit is not None else None


# Words of a metric's name that say it scores a classification: the share of labels right (accuracy, top-1), its
# per-class forms (precision, recall, F1, the ROC's AUC), and a segmentation's per-pixel overlap (Dice, IoU, Jaccard).
_CLASSIFICATION_SCORE_WORDS = frozenset(
    {"acc", "accuracy", "acc1", "acc5", "top1", "top5", "precision", "recall", "f1", "auc", "dice", "dsc", "iou"}
    | {"miou", "jaccard"}
)
# ... unless it scores a reward: an RL or preference run's 'rewards/accuracies' (DPO), 'accuracy_reward' (GRPO)
_REWARD_WORDS = frozenset({"reward", "rewards"})


# The words of an evaluation's score printed on a line of its own after its loop ('Validation Dice Coeff: x', read as
# 'val_dice'): a stage and a score, nothing else. A setting names more ('val_iou_thr', 'test_cfg.rcnn.iou_threshold',
# 'dice_weight'), and a score with no stage ('accuracy: 0.87' of a model loaded) is no evaluation of this run's.
_EVALUATION_STAGE_WORDS = frozenset({"val", "valid", "validation", "test", "eval"})
_SCORE_READING_WORDS = frozenset({"coeff", "coef", "coefficient", "score", "mean", "avg"})


def _tag_words(tag: str) -> frozenset[str]:
    """The words of a metric's name ('Validation Dice Coeff' read as 'val_dice': {'val', 'dice'})."""
    return frozenset(w for w in re.split(r"[^a-z0-9]+", tag.lower()) if w)


def classification_scores(run: RunData, loss: Series | None) -> tuple[str, ...]:
    """The names of the classification scores (``_CLASSIFICATION_SCORE_WORDS``) that the source which wrote the
    training loss wrote too: a Keras bar's 'acc' beside its 'loss', a trainer's 'Validation Dice Coeff' line. A score
    never above 0 says nothing: a regression compiled with metrics=['accuracy'] prints the share of its continuous
    targets its outputs hit exactly, 0 throughout."""
    if loss is None:
        return ()
    found: dict[str, None] = {}
    holders = [*run.events, *run.trainer_states, *run.logs]
    for holder in holders:
        for tag, sc in holder.scalars.items():
            if sc.source != loss.source or role_of(tag, sc.run) is not None:
                continue
            words = _tag_words(tag)
            if words & _CLASSIFICATION_SCORE_WORDS and not words & _REWARD_WORDS and bool(np.any(sc.values > 0)):
                found[tag] = None
    for lg in run.logs:
        if lg.source.path != loss.source:
            continue
        for tag in sorted(lg.unplaced_tags):  # printed with no step among stepped lines: known by name only
            words = _tag_words(tag)
            if (
                words & _EVALUATION_STAGE_WORDS
                and words & _CLASSIFICATION_SCORE_WORDS
                and words <= _EVALUATION_STAGE_WORDS | _CLASSIFICATION_SCORE_WORDS | _SCORE_READING_WORDS
                and role_of(tag, "log") is None
            ):
                found[tag] = None
    return tuple(found)


def percentage_loss(run: RunData, loss: Series | None) -> bool:
    """Is the training loss a percentage: the model's loss named so (a checkpoint's training config, a
    config file), or a metric named so printed beside it that ends on the loss's last value (Keras
    prints a loss compiled as 'mape' and the same value as 'mean_absolute_percentage_error')."""
    named = _model_loss(run)
    if named and _PERCENTAGE.search(named):
        return True
    if loss is None or not len(loss):
        return False
    last = float(loss.in_step_order[1][-1])
    for lg in run.logs:
        for tag, sc in lg.scalars.items():
            if tag != loss.tag and _PERCENTAGE.search(tag) and len(sc) and abs(float(sc.values[-1]) - last) < 1e-3:
                return True
    return False


def _pinned(loss: Series | None, terms: tuple[Series, ...], percentage: bool = False) -> tuple[int, str] | None:
    """(step, what) where the loss or one of its terms printed in the same file sat at a clamp for good."""
    if loss is None:
        return None
    hits = []
    for s in (loss, *(t for t in terms if t.unit == loss.unit and t.source == loss.source)):
        pinned = pinned_at_clamp(s, percentage and s is loss)
        if pinned is not None:
            step, clamp = pinned
            hits.append((step, f"{s.tag} pinned at {clamp.value:.6g} from {s.unit} {step} on: {clamp.what}"))
    return min(hits) if hits else None


def collapsed_from(values: np.ndarray) -> tuple[int, str] | None:
    """(index, how) from which a finite loss, in step order, sat on one printed value to the end after a
    different value: exactly 0 after at least ``COLLAPSE_FROM`` on ``COLLAPSE_POINTS`` points or more (a NaN the
    logger or the training code masked as 0), or any one value ``FROZEN_ABOVE_BEST`` times above its best before,
    on ``FROZEN_POINTS`` or more (a net that lost what it learned and froze); else None. A loss that takes negative
    values passes through 0 on its way (a log-likelihood, a flow's), and one that sat on its value from the first
    point never learned (a loss at chance level throughout, an all-masked batch) or is printed too coarsely to say;
    so is a fall or a frozen value of fewer than ``PRINT_QUANTA`` of the print's last digit (:func:`print_quantum`).
    Points are counted in the logger's holds (:func:`print_hold`): one that repeats each value it prints shows a
    run of one value whichever the loss did."""
    v = values
    if v.size <= COLLAPSE_POINTS or not np.isfinite(v).all() or (v < 0).any():
        return None
    last = float(v[-1])
    differ = np.nonzero(v != last)[0]
    if not differ.size:
        return None
    start = int(differ[-1]) + 1
    run = v.size - start
    before = v[:start]
    quantum = print_quantum(np.append(before[-QUANTUM_SAMPLE:], last))
    hold = print_hold(before)
    if last == 0.0:
        prev = float(before[-1])
        if run >= COLLAPSE_POINTS * hold and prev >= max(COLLAPSE_FROM, PRINT_QUANTA * quantum):
            return start, f"it fell from {fmt_num(prev)} straight to exactly 0 and printed 0 on all {run} points after"
        return None
    best = float(before.min())
    if run >= FROZEN_POINTS * hold and best > 0 and last >= FROZEN_ABOVE_BEST * best and last >= PRINT_QUANTA * quantum:
        return start, (
            f"it froze at {fmt_num(last)}, {fmt_num(last / best)}x its best before ({fmt_num(best)}), on all {run} "
            "points after"
        )
    return None


def _level(values: np.ndarray) -> tuple[float, float]:
    """The median of ``values`` and their spread: the median absolute deviation as a standard deviation, at
    least the print's last digit (a loss printed coarsely repeats its value, and a MAD of 0 is no zero noise)."""
    med = float(median(values))
    mad = MAD_TO_SD * float(median(np.abs(values - med)))
    return med, max(mad, print_quantum(values[-QUANTUM_SAMPLE:]))


def settled_after_spike(values: np.ndarray) -> tuple[int, str] | None:
    """(spike index, how) of a finite loss, in step order, that spiked and then settled far
    worse than it stood before, to the end of its record: the model lost what it had learned. One catastrophic
    update does that: a batch whose loss stands orders above the level (an outlier batch, an overflow in a forward
    pass) gives a gradient that throws the weights far off, Adam's momentum carries them further for a few steps,
    and the loss after it sits near where an untrained model starts, while a benign spike comes back down.

    The spike: a point ``SHIFT_SPREADS`` standard deviations above the mean of the up to ``LEVEL_WINDOW`` points
    before it (``LEVEL_MIN_POINTS`` at least), one point or a short run of them; judged robustly, it stands that
    many spreads (:func:`_level`) above the level before it and above the level after it (a level that a new stage,
    a warm restart or a switch of data set starts is entered at its own height, with no outlier above it). After
    it: ``SETTLED_POINTS`` or more to the end of the record, none back as low as the highest point of the level
    before (its worst batch), their median ``SHIFT_SPREADS`` spreads of that level above it, and not on the way
    back (the median of their second half below that of their first by ``COMING_BACK_SHARE`` of the gap and by
    more than one spread of theirs: a spike still recovering when the record ends). Spreads: sign-safe (a flow's
    negative log-likelihood); a level above zero must besides stand ``SETTLED_ABOVE_LEVEL`` times the one before
    after it, for a quiet level makes a few per cent many spreads. Spikes are taken in order, and the first one the
    loss never came back under the level before, with an outlier above the points right after it, is the one
    judged: one pass over the curve, whatever its length."""
    v = values
    n = v.size
    if n < LEVEL_MIN_POINTS + 1 + SETTLED_POINTS or not np.isfinite(v).all():
        return None
    mean, sd = _trailing(v, LEVEL_WINDOW, least=LEVEL_MIN_POINTS)
    with np.errstate(invalid="ignore"):
        mean += SHIFT_SPREADS * sd
        flagged = (v >= mean) & (sd > 0)
    del mean, sd
    flagged[n - SETTLED_POINTS :] = False
    if not flagged.any():
        return None
    lowest_after = np.minimum.accumulate(v[::-1])[::-1]  # the lowest point from each index to the end
    starts, ends = _runs(flagged)
    for a, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if n - e < SETTLED_POINTS:
            break
        before = v[max(0, a - LEVEL_WINDOW) : a]
        if lowest_after[e] <= float(before.max()):
            continue  # it came back as low as it had been
        p = a + int(np.argmax(v[a:e]))
        peak = float(v[p])
        # an outlier above the points right after it too, or the start of a new level (no spike)
        near_med, near_spread = _level(v[e : e + SETTLED_POINTS])
        if peak < near_med + SHIFT_SPREADS * near_spread:
            continue
        pre_med, pre_spread = _level(before)
        after = v[e:]
        post_med, post_spread = _level(after)
        half = after.size // 2
        first_half, second_half = float(median(after[:half])), float(median(after[after.size - half :]))
        if (
            peak < pre_med + SHIFT_SPREADS * pre_spread
            or peak < post_med + SHIFT_SPREADS * post_spread
            or post_med < pre_med + SHIFT_SPREADS * pre_spread
            or (pre_med > 0 and post_med < SETTLED_ABOVE_LEVEL * pre_med)
            or first_half - second_half > max(post_spread, COMING_BACK_SHARE * (first_half - pre_med))
        ):
            return None
        shift = (post_med - pre_med) / pre_spread
        return (
            p,
            f"it spiked to {fmt_num(peak)} and settled at {fmt_num(post_med)} (the median of the {after.size} points "
            f"to the end, none back under {fmt_num(float(before.max()))}, the highest of the {before.size} before), "
            f"{shift:.0f} spreads of the level before ({fmt_num(pre_med)}) above it",
        )
    return None


def print_hold(values: np.ndarray) -> int:
    """How many points in a row the logger printed each value for: the median length of the runs of one value
    in ``values`` (1 for a loss printed fresh at each point). A progress bar redrawn at every step with a
    postfix set every N steps (`pbar.set_postfix(loss=...)` inside `if step % N == 0`) holds each value N
    points: the last value sitting there to the end is its last sample, not a frozen loss."""
    if values.size < 2:
        return 1
    bounds = np.concatenate(([0], np.nonzero(values[1:] != values[:-1])[0] + 1, [values.size]))
    return max(1, int(median(np.diff(bounds))))


def print_quantum(values: np.ndarray) -> float:
    """The last digit of the print that wrote ``values``: ten to the minus the most decimals any of them
    shows in its shortest form (0.1234 -> 1e-4; values read from binary records show float32's many
    decimals, a quantum far below any loss). A loss's text print rounds to it: 0 printed is under half of it."""
    decimals = 0
    for x in values:
        if np.isfinite(x) and x != 0:
            digits = np.format_float_positional(float(x), unique=True, trim="-")
            decimals = max(decimals, len(digits.partition(".")[2]))
    return 10.0 ** -min(decimals, 15)


def _collapsed(loss: Series | None) -> tuple[int, str] | None:
    """(step, what) where the training loss collapsed to exactly 0 or froze on one value for good
    (:func:`collapsed_from`)."""
    if loss is None:
        return None
    steps, values = loss.in_step_order
    hit = collapsed_from(values)
    if hit is None:
        return None
    return int(steps[hit[0]]), f"{loss.tag}: {hit[1]}"


def _masked_from_start(loss: Series | None, val_curve: Series | None) -> tuple[int, str] | None:
    """(step, what) of a training loss printed exactly 0 on every point from its first (``COLLAPSE_POINTS`` or more)
    beside a validation loss that went non-finite. A loss that sat on 0 from its first print is left alone by
    :func:`collapsed_from` (it never learned, or prints too coarsely to say); a NaN evaluation of the same weights
    says which: the zeros are what a logger prints for an interval whose every step was NaN (the HF Trainer's
    logging_nan_inf_filter), or a NaN the training code set to 0, and the run was non-finite from its start (a
    cross-entropy of a model at its start is never 0)."""
    val = _nonfinite(val_curve)
    if loss is None or val is None or val.unit != loss.unit or len(loss) < COLLAPSE_POINTS:
        return None
    steps, values = loss.in_step_order
    if not (np.isfinite(values).all() and (values == 0.0).all()):
        return None
    return int(steps[0]), (
        f"{loss.tag}: it printed exactly 0 on all {len(values)} points from its first, while the validation loss "
        f"of the same weights was {fmt_num(val.value)} at {val.unit} {val.step}: the zeros are NaN steps the logger "
        "or the training code masked as 0"
    )


def _spiked_and_settled(loss: Series | None, lr: Series | None, moving_target: bool = False) -> tuple[int, str] | None:
    """(step, what) of the spike after which the training loss settled far worse for good
    (:func:`settled_after_spike`). Not where the logged LR rose ``LR_JUMP_FACTOR`` or more across it (a warm
    restart, a schedule's step: the level follows the LR, the LR rules judge it), nor a loss whose target moves
    (``moving_target``: a GAN generator's, with its discriminator; a reinforcement learner's, with its returns)."""
    if loss is None or moving_target:
        return None
    steps, values = loss.in_step_order
    hit = settled_after_spike(values)
    if hit is None:
        return None
    p, how = hit
    if lr is not None and len(lr):
        ls, lv = lr.in_step_order
        ok = np.isfinite(lv) & (lv > 0)
        ls, lv = ls[ok], lv[ok]
        at, later = lv[ls < steps[p]], lv[ls >= steps[p]]  # the spike's own line may print the new LR
        if at.size and later.size and float(later.max()) >= LR_JUMP_FACTOR * float(at[-1]):
            return None
    return int(steps[p]), f"{loss.tag}: {how}"


def _perplexity_climbed(ppl: Series) -> int | None:
    """The step from which a training perplexity stood ``PERPLEXITY_CLIMB_FACTOR`` above its best and stayed
    up to the end of the record (the median of its last tenth; each of its last ``STUCK_TAIL_POINTS`` on a
    record under ``STUCK_MIN_POINTS``), or None. Its first value does not bound it: a perplexity starts near
    the vocabulary's size, and one that fell from there and climbed back lost what it learned, while one that
    never fell (a run at chance level throughout) has no best far below its end."""
    steps, values = ppl.in_step_order
    finite = np.isfinite(values) & (values > 0)
    fv, fs = values[finite], steps[finite]
    if fv.size <= STUCK_TAIL_POINTS:
        return None
    if fv.size >= STUCK_MIN_POINTS:
        tail = float(median(fv[-max(3, fv.size // 10) :]))
    else:
        tail = float(fv[-STUCK_TAIL_POINTS:].min())
    m = int(np.argmin(fv))
    if m >= fv.size - 1 or tail < PERPLEXITY_CLIMB_FACTOR * fv[m]:
        return None
    above = np.nonzero(fv[m + 1 :] >= PERPLEXITY_CLIMB_FACTOR * fv[m])[0]
    return int(fs[m + 1 + above[0]]) if above.size else None


def _climbed(perplexities: list[tuple[Series, Series]]) -> tuple[int, str] | None:
    """(step, what) where a training perplexity printed beside the loss climbed far above its best for good."""
    hits = []
    for ppl, _ in perplexities:
        if ppl.role != "perplexity":
            continue  # an evaluation's perplexity is the validation's business
        step = _perplexity_climbed(ppl)
        if step is not None:
            _, v = ppl.in_step_order
            best = float(np.nanmin(np.where(v > 0, v, np.nan)))
            at = float(ppl.values[int(np.nonzero(ppl.steps == step)[0][0])])
            hits.append(
                (
                    step,
                    f"{ppl.tag} {fmt_num(at)}, {fmt_num(at / best)}x its best ({fmt_num(best)}), and it stayed up: "
                    "the loss, its log, rose by "
                    f"{math.log(at / best):.1f} nats",
                )
            )
    return min(hits) if hits else None


def _overflowed_exp(ppl: Series, loss: Series) -> np.ndarray:
    """The perplexity's +inf points that are its exp() overflowed past the float range: the loss
    stayed finite (else this is not asked), and where it is logged at that step it stands above the
    log of the perplexity's bound too (an exp taken in float16, which overflows past 11 nats, beside
    a plausible loss, is no divergence)."""
    at = dict(zip(loss.steps.tolist(), loss.values.tolist(), strict=True))
    floor = math.log(PERPLEXITY_IMPLAUSIBLE)
    return np.array(
        [
            v == math.inf and at.get(step, math.inf) > floor
            for step, v in zip(ppl.steps.tolist(), ppl.values.tolist(), strict=True)
        ],
        dtype=bool,
    )


def _log_of_perplexity(loss: Series | None, perplexities: list[tuple[Series, Series]]) -> bool:
    """Is the training loss the natural log of a perplexity printed beside it at every point both hold (the
    log reader takes it so where a line prints a perplexity and no loss)."""
    if loss is None:
        return False
    at = dict(zip(loss.steps.tolist(), loss.values.tolist(), strict=True))
    for ppl, of in perplexities:
        if of is not loss:
            continue
        pairs = [(at[s], v) for s, v in zip(ppl.steps.tolist(), ppl.values.tolist(), strict=True) if s in at]
        if pairs and all(v > 0 and math.isclose(x, math.log(v), rel_tol=1e-9, abs_tol=1e-9) for x, v in pairs):
            return True
    return False


def _perplexities(run: RunData, loss: Series | None) -> list[tuple[Series, Series]]:
    """The perplexity series printed in the loss's own file, in its unit, each with the loss it is
    the exp of: the training loss, or for an evaluation's perplexity the evaluation loss printed
    beside it (OpenNMT-tf's 'Evaluation result for step N: loss = 148890.7 ; perplexity = inf')."""
    if loss is None:
        return []
    out = []
    for log in run.logs:
        val_loss = next(
            (
                _as_series(sc, "val_loss", loss.unit)
                for sc in log.scalars.values()
                if sc.source == loss.source and sc.tag == "val_loss" and len(sc)
            ),
            None,
        )
        for sc in log.scalars.values():
            if sc.source != loss.source or not _PERPLEXITY.search(sc.tag) or not len(sc):
                continue
            if not _EVAL_WORDS.search(sc.tag):
                out.append((_as_series(sc, "perplexity", loss.unit), loss))
            elif val_loss is not None:
                out.append((_as_series(sc, "val_perplexity", loss.unit), val_loss))
    return out


# ---------------------------------------------------------------- learning rate


def _lr_changes(lr: Series | None, loss: Series | None) -> list[LrChange]:
    if lr is None or len(lr) < 2:
        return []
    s, v = lr.in_step_order
    ok = np.isfinite(v) & (v > 0)
    s, v = s[ok], v[ok]
    if v.size < 2:
        return []
    changes: list[tuple[int, float, float, str]] = []
    ratio = v[1:] / v[:-1]
    for i in np.nonzero(ratio >= LR_JUMP_FACTOR)[0]:
        # a schedule step: the LR was flat before it (a warmup ramp from ~0 also doubles
        # between its first points, but it was already climbing)
        flat_before = i >= 1 and abs(v[i] / v[i - 1] - 1.0) < 0.05
        if flat_before:
            changes.append((int(s[i + 1]), float(v[i]), float(v[i + 1]), "jump"))
    for i in np.nonzero(ratio <= 1 / LR_JUMP_FACTOR)[0]:
        changes.append((int(s[i + 1]), float(v[i]), float(v[i + 1]), "drop"))
    # a warmup: the LR climbed gradually (no single jump) by LR_JUMP_FACTOR or more to a peak
    peak = int(np.argmax(v))
    if peak > 0 and v[peak] >= LR_JUMP_FACTOR * v[0] and not any(c[3] == "jump" for c in changes):
        changes.append((int(s[peak]), float(v[0]), float(v[peak]), "warmup_end"))
    out = []
    for step, before, after, kind in sorted(changes):
        out.append(LrChange(step, before, after, kind, *_loss_ratio_after(loss, step, s)))
    return out


def _snap_onset_to_lr_increase(onset: Onset | None, changes: list[LrChange], loss: Series | None) -> Onset | None:
    """The median smoothing can date a climb a few points early; when an LR increase
    follows the onset within a few logged points and the loss had not risen by then,
    the climb starts at the increase."""
    if onset is None or loss is None:
        return onset
    reach = max(3, int(3 * (loss.interval if math.isfinite(loss.interval) else 1)))
    for c in changes:
        if c.kind == "drop" or not (onset.step < c.step <= onset.step + reach):
            continue
        between = loss.values[(loss.steps >= onset.step) & (loss.steps < c.step)]
        if between.size and np.all(np.isfinite(between)) and float(np.max(between)) <= 2 * onset.value:
            at = np.nonzero(loss.steps >= c.step)[0]
            if not at.size:
                return onset
            i = int(at[0])
            span = onset.end_step - int(loss.steps[i])
            v0 = float(loss.values[i])
            if span <= 0 or not (math.isfinite(v0) and v0 > 0 and onset.end_value > 0):
                return onset
            fold = float((onset.end_value / v0) ** (1.0 / span))
            return Onset(int(loss.steps[i]), v0, onset.end_step, onset.end_value, fold, onset.rise_decades)
    return onset


def _loss_ratio_after(loss: Series | None, step: int, lr_steps: np.ndarray) -> tuple[float | None, int]:
    """Max loss in a window after ``step`` / median loss in the window before.

    Non-finite losses after the change count as infinite."""
    if loss is None or len(loss) < 3:
        return None, 0
    span = int(loss.steps.max() - loss.steps.min()) or 1
    window = int(max(5 * (loss.interval if math.isfinite(loss.interval) else 1), span * 0.05))
    before = loss.values[(loss.steps < step) & (loss.steps >= step - window)]
    after = loss.values[(loss.steps >= step) & (loss.steps <= step + window)]
    before = before[np.isfinite(before)]
    if before.size == 0 or after.size == 0:
        return None, window
    base = float(median(np.abs(before)))
    worst = math.inf if not np.all(np.isfinite(after)) else float(np.max(np.abs(after)))
    return (worst / base if base > 0 else math.inf), window


# ---------------------------------------------------------------- checkpoints


def _checkpoint_views(run: RunData, spe: int | None) -> list[CheckpointView]:
    views = []
    for c in run.checkpoints:
        if not c.tensors:
            continue
        step = c.step
        if c.step_origin == "index":
            step = None  # a save counter, not a step
        if step is None and c.epoch is not None and spe:
            step = c.epoch * spe
        views.append((c, step))

    def key(cs: tuple[Checkpoint, int | None]) -> tuple[int, float, tuple[tuple[str | int, ...], str]]:
        c, step = cs
        # with no step, epoch or save counter known, the number in the name orders them (weights_40
        # before weights_120)
        name = natural_order(c.source.path)
        if step is not None:
            return (0, float(step), name)
        if c.epoch is not None:
            return (1, float(c.epoch), name)
        if c.step_origin == "index" and c.step is not None:
            return (1, float(c.step), name)
        return (2, 0.0, name)

    views.sort(key=key)
    return [CheckpointView(c, step, i) for i, (c, step) in enumerate(views)]


def _layer_tracks(views: list[CheckpointView]) -> list[LayerTrack]:
    order: list[str] = []
    points: dict[str, list[LayerPoint]] = {}
    for v in views:
        agg: dict[str, list[TensorStats]] = {}
        for t in v.checkpoint.tensors:
            if t.dtype.startswith(("int", "uint", "bool")):
                continue  # step counters, masks: not weights
            agg.setdefault(t.layer, []).append(t)
        for layer, ts in agg.items():
            if layer not in points:
                order.append(layer)
                points[layer] = []
            points[layer].append(
                LayerPoint(
                    step=v.step,
                    order=v.order,
                    # hypot: t.l2**2 overflows (OverflowError) for float64 norms past 1e154
                    l2=math.hypot(*(t.l2 for t in ts if math.isfinite(t.l2))),
                    absmax=max((t.absmax for t in ts), default=math.nan),
                    nonfinite=sum(t.nonfinite for t in ts),
                    numel=sum(t.numel for t in ts),
                    dtype=ts[0].dtype,
                    source=v.path,
                )
            )
    return [LayerTrack(layer, tuple(points[layer])) for layer in order]


# ---------------------------------------------------------------- build


def _gather_log_events(run: RunData) -> Iterable[tuple[str, LogEvent]]:
    for log in run.logs:
        for e in log.events:
            yield log.source.path, e


def update_pairs(tl: Timeline, limit: int) -> list[tuple[CheckpointView, CheckpointView]]:
    """Consecutive finite checkpoints with known steps whose update is worth measuring:
    the last ``limit`` pairs before the divergence (or before the end)."""
    views = [c for c in tl.checkpoints if c.step is not None and not c.nonfinite_tensors]
    end = tl.divergence_step
    if end is not None:
        views = [c for c in views if c.step is not None and c.step <= end]
    pairs = [(a, b) for a, b in itertools.pairwise(views) if (b.step or 0) > (a.step or 0)]
    return pairs[-limit:]


def _relative_updates(tl: Timeline, measure: UpdateMeter | None, problems: list[str]) -> tuple[RelativeUpdate, ...]:
    if measure is None:
        return ()
    out = []
    for a, b in update_pairs(tl, MAX_UPDATE_PAIRS):
        try:
            layers = measure(a.checkpoint, b.checkpoint)
        except UnreadableSource as e:
            problems.append(f"update {a.path} -> {b.path} not measured: {e}")
            continue
        if layers:
            assert a.step is not None and b.step is not None
            out.append(RelativeUpdate(a.step, b.step, a.path, b.path, layers))
    return tuple(out)


# ---------------------------------------------------------------- facts of the setup


def _family(name: str | None) -> str | None:
    if not name:
        return None
    n = name.lower()
    if any(a in n for a in _ADAPTIVE):
        return "adaptive"
    if "sgd" in n or "momentum" in n or "nesterov" in n:
        return "sgd"
    return None


def _lr_info(run: RunData, lr: Series | None, end: int | None) -> LrInfo:
    """The logged LR before ``end`` (its peak; the logged LR when it is constant and starts after ``end``),
    else the optimizer state or a config."""
    optimizer = None
    cfg_lr = None
    origin = None
    for c in run.checkpoints:
        if c.model is not None:
            optimizer = optimizer or c.model.optimizer
            if cfg_lr is None and c.model.learning_rate is not None and math.isfinite(c.model.learning_rate):
                cfg_lr, origin = c.model.learning_rate, f"optimizer state in {c.source.path}"
    for cfg in run.configs:
        optimizer = optimizer or cfg.optimizer
        if cfg_lr is None and cfg.learning_rate is not None:
            cfg_lr, origin = cfg.learning_rate, f"config {cfg.source.path}"
    if lr is not None and len(lr):
        v = lr.values
        mask = np.isfinite(v) & (v > 0)
        if end is not None:
            before = mask & (lr.steps <= end)
            # logged only after the divergence (a paste that starts at the blow-up): the LR it met is
            # the one logged when that stays constant, unknown when it moves
            if before.any() or (mask.any() and v[mask].max() >= LR_CONSTANT_RATIO * v[mask].min()):
                mask = before
        if mask.any():
            vals = v[mask]
            constant = bool(vals.max() < LR_CONSTANT_RATIO * vals.min())
            return LrInfo(
                float(vals.max()), float(vals[0]), optimizer, _family(optimizer), f"{lr.tag} in {lr.source}", constant
            )
    return LrInfo(cfg_lr, cfg_lr, optimizer, _family(optimizer), origin, None)


def _output_width(run: RunData) -> OutputWidth:
    model = _model_output_width(run)
    if model.units is not None:
        return model
    for cfg in run.configs:
        if cfg.num_classes:
            return OutputWidth(cfg.num_classes, f"num_classes in {cfg.source.path}")
    # the framework's own error names the valid range: "... outside the valid range of [0, 5)"
    for log in run.logs:
        for e in log.events:
            if e.classes is not None and e.classes > 0:
                return OutputWidth(e.classes, f"the valid range [0, {e.classes}) in {log.source.path} line {e.line}")
    # no config: the last layer's bias length is its output width
    return _bias_output_width(run)


def _model_output_width(run: RunData) -> OutputWidth:
    """The output layer's units as a checkpoint's model description states them (Keras)."""
    for c in run.checkpoints:
        if c.model is not None and c.model.output_units:
            return OutputWidth(c.model.output_units, f"output layer units in {c.source.path}")
    return _NO_WIDTH


def _bias_output_width(run: RunData, skip_norms: bool = False) -> OutputWidth:
    """The length of a checkpoint's last bias: the output layer's width in a state dict
    (``skip_norms``: not a normalisation layer's, which follows the head in some models)."""
    for c in run.checkpoints:
        biases = [
            t
            for t in c.tensors
            if len(t.shape) == 1
            and "bias" in t.name.lower().rsplit("/", 1)[-1].rsplit(".", 1)[-1]
            and not (skip_norms and _NORM_NAME.search(t.name))
        ]
        if biases:
            return OutputWidth(biases[-1].shape[0], f"length of the last bias ({biases[-1].name}) in {c.source.path}")
    return _NO_WIDTH


_NORM_NAME = re.compile(r"norm|(^|[._/])(ln|bn)(_?f|_?\d+)?([._/]|$)", re.IGNORECASE)


def _head_width(run: RunData) -> OutputWidth:
    """The output layer's width as the weights say it (not a config): to hold a config's class count against."""
    model = _model_output_width(run)
    return model if model.units is not None else _bias_output_width(run, skip_norms=True)


def _clipping(run: RunData) -> Clipping:
    for cfg in run.configs:
        if cfg.grad_clip is not None:
            return Clipping(cfg.grad_clip, cfg.source.path)
    return Clipping(None, None)


def _lr_schedule(run: RunData) -> LrSchedule:
    none = (None, None)
    warmup = next(((c.warmup, c.source.path) for c in run.configs if c.warmup is not None), none)
    factor = next(((c.lr_step_factor, c.source.path) for c in run.configs if c.lr_step_factor is not None), none)
    return LrSchedule(*warmup, *factor)


def _setup(run: RunData) -> Setup:
    """What the configs state about the setup (first config that says wins, each setting alone;
    the config reader judged each tree: ``readers.config.extract_settings``)."""
    if not run.configs:
        return _NO_SETUP
    out: dict[str, object] = {}
    origin = None
    fields = (
        ("batch_size", "batch_size"),
        ("grad_accum", "grad_accum"),
        ("world_size", "world_size"),
        ("momentum", "momentum"),
        ("epsilon", "epsilon"),
        ("epsilon_key", "epsilon_key"),
        ("precision", "precision_written"),
        ("loss_scaling", "loss_scaling"),
        ("model", "model_name"),
    )
    for c in run.configs:
        for name, attr in fields:
            value = getattr(c, attr)
            if value is not None and name not in out:
                if name == "epsilon_key" and out.get("epsilon") != c.epsilon:
                    continue  # the key goes with the value kept
                out[name] = value
                origin = origin or c.source.path
    classes = next(((c.classes_stated, c.source.path) for c in run.configs if c.classes_stated), (None, None))
    planned = next(((c.max_steps, c.source.path) for c in run.configs if c.max_steps), (None, None))
    return Setup(
        **out,  # type: ignore[arg-type]
        origin=origin,
        configs=len(run.configs),
        num_classes=classes[0],
        classes_origin=classes[1],
        head=_head_width(run),
        max_steps=planned[0],
        max_steps_origin=planned[1],
    )


def _model_loss(run: RunData) -> str | None:
    for c in run.checkpoints:
        if c.model is not None and c.model.loss:
            return c.model.loss
    for cfg in run.configs:
        if cfg.loss:
            return cfg.loss
    return None


# A run of loss values each on float16's grid, that float32 arithmetic would land on by chance less
# often than this (the product of each value's chance), was computed in float16.
FP16_GRID_CHANCE = 1e-3
# A printed value says where the grid is only where float16's spacing is this many times the
# printed resolution at least (else any printed value is near some grid point).
FP16_GRID_RESOLUTION = 4.0


def _float16_chance(v: float) -> float | None:
    """The chance a float32 loss of this value lies on float16's grid as ``v`` does; None when
    ``v`` is off the grid; 1.0 when it says nothing (its grid is coarser than the value shows:
    a round number, a value bfloat16 holds as well, a value printed with too few digits)."""
    if not math.isfinite(v) or v == 0 or abs(v) >= 65504 or abs(v) < 2**-14:
        return 1.0
    h = float(np.float16(v))
    spacing = 2.0 ** (math.floor(math.log2(abs(v))) - 10)  # float16's 11 significant bits
    if float(np.float32(v)) == v:  # a float32 as an event file stores it: exact
        if h != v:
            return None
        bits = int(np.float32(v).view(np.uint32))
        return 1.0 if bits & 0xFFFF == 0 else 2.0**-13  # bfloat16 holds it too / the 13 low bits are 0
    text = repr(v)
    if "e" in text or "." not in text:
        return 1.0
    resolution = 10.0 ** -len(text.split(".")[1])  # a printed value: what its digits resolve
    if spacing < FP16_GRID_RESOLUTION * resolution:
        return 1.0
    return (resolution / spacing) if abs(h - v) <= resolution / 2 + 1e-12 else None


def loss_on_float16_grid(loss: Series | None) -> bool:
    """Whether the training loss was computed in float16: every finite value it logged lies on
    float16's grid, and together they would land there by chance from float32 arithmetic less
    often than ``FP16_GRID_CHANCE``. A model cast to half precision computes its loss in it; a
    float32 loss (or an average of float16 ones taken in float32) leaves the grid."""
    if loss is None:
        return False
    finite = loss.values[np.isfinite(loss.values)]
    if _off_float16_grid(finite):
        return False
    chance = 1.0
    for v in np.unique(finite).tolist():
        c = _float16_chance(float(v))
        if c is None:
            return False
        chance *= c
    return chance < FP16_GRID_CHANCE


def _off_float16_grid(values: np.ndarray) -> bool:
    """Whether any of these finite values is one :func:`_float16_chance` finds off the grid as
    an event file stores it (exact in float32, in float16's normal range, not float16): the
    test that most often ends the search, done on the whole array at once rather than on a
    list of a long run's unique values."""
    a = np.asarray(values, dtype=np.float64)
    size = np.abs(a)
    a = a[(a != 0) & (size < 65504) & (size >= 2**-14)]
    exact = a.astype(np.float32) == a
    return bool(np.any(exact & (a.astype(np.float16) != a)))


def _weight_dtype(run: RunData, views: Iterable[CheckpointView], loss: Series | None = None) -> str | None:
    """A mixed-precision setting wins (a config's, else the trainer's own line in its log); else the
    dtype holding most float weights; with no checkpoint, float16 when the loss values lie on its
    grid (``loss_on_float16_grid``)."""
    counts: dict[str, int] = {}
    for c in views:
        for t in c.checkpoint.tensors:
            if t.dtype.startswith(("float", "bfloat")):
                counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    for cfg in run.configs:
        if cfg.mixed_precision:
            return {"fp16": "float16", "bf16": "bfloat16"}.get(cfg.mixed_precision, cfg.mixed_precision)
    for _path, e in _gather_log_events(run):
        if e.kind == "mixed_precision" and e.values.get("dtype"):
            return str(e.values["dtype"])  # the trainer said so in its log (Lightning's AMP line)
    for ck in run.checkpoints:
        if ck.model is not None and ck.model.dtype_policy and "float16" in ck.model.dtype_policy:
            return "float16" if "bfloat" not in ck.model.dtype_policy else "bfloat16"
    if counts:
        return max(counts, key=counts.get)  # type: ignore[arg-type]
    return "float16" if loss_on_float16_grid(loss) else None


def _weight_norms(views: Iterable[CheckpointView]) -> tuple[WeightNorm, ...]:
    """NaN for a checkpoint holding any non-finite tensor: a norm over its finite part
    would read as a collapse of the weights."""
    out = []
    for c in views:
        floats = [t for t in c.checkpoint.tensors if t.dtype.startswith(("float", "bfloat"))]
        if any(t.nonfinite for t in floats):
            out.append(WeightNorm(c.step, math.nan, c.path))
            continue
        # hypot: t.l2**2 overflows (OverflowError) for float64 norms past 1e154
        out.append(WeightNorm(c.step, math.hypot(*(t.l2 for t in floats if math.isfinite(t.l2))), c.path))
    return tuple(out)


# Config keys that name the model's architecture (a recurrent cell tells a rule how it fails).
_MODEL_KEYS = {"model", "arch", "architecture", "model_type", "cell", "rnn_type", "network"}


def _settings(run: RunData) -> tuple[Setting, ...]:
    """What the configs and checkpoints say about the training setup, first source wins."""
    found: dict[str, tuple[str, str]] = {}

    def put(key: str, value: object, src: str) -> None:
        if value is not None and value != "" and key not in found:
            found[key] = (fmt_num(value) if isinstance(value, float) else str(value), src)

    for c in run.configs:
        src = c.source.path
        put("learning rate", c.learning_rate, src)
        put("optimizer", c.optimizer, src)
        put("batch size", c.batch_size, src)
        if c.grad_clip is not None:
            put("gradient clipping", "off" if c.grad_clip == 0 else fmt_num(c.grad_clip), src)
        put("precision", c.mixed_precision, src)
        put("loss", c.loss, src)
        put("classes", c.num_classes, src)
        model = next((v for k, v in c.raw.items() if k.lower() in _MODEL_KEYS and isinstance(v, str)), None)
        put("model", model, src)
    for ck in run.checkpoints:
        m = ck.model
        if m is None:
            continue
        src = ck.source.path
        put("optimizer", m.optimizer, src)
        put("learning rate", m.learning_rate, src)
        put("loss", m.loss, src)
        put(
            "output layer",
            f"{m.output_units} units" + (f", {m.output_activation}" if m.output_activation else "")
            if m.output_units
            else None,
            src,
        )
        put("precision", m.dtype_policy, src)
    order = [
        "learning rate",
        "optimizer",
        "batch size",
        "gradient clipping",
        "precision",
        "loss",
        "classes",
        "output layer",
        "model",
    ]
    return tuple(Setting(k, *found[k]) for k in order if k in found)


# ---------------------------------------------------------------- build


def build_timeline(run: RunData) -> Timeline:
    """Line everything up on one global-step axis and derive the blow-up landmarks and
    the facts of the setup. Relative updates are measured with ``run.measure_update``."""
    cands = _candidates(run)
    spe, spe_origin = _steps_per_epoch(run, cands)

    loss_all = loss = None
    other_losses: tuple[Series, ...] = ()
    loss_cands = cands.get("loss", [])
    others: list[Candidate] = []
    best = _pick(loss_cands)
    # a run that logs an evaluation loss and no training loss (Flax's VAE example prints only 'eval
    # epoch: N, loss: ...'): the evaluation loss is the one curve of the model it has, read as its loss
    # (its tag, val_loss, says which it is)
    eval_as_loss = best is None and _pick(cands.get("val_loss", [])) is not None
    if eval_as_loss:
        best = _pick(cands["val_loss"])
    if best is not None:
        loss_all = _map_epochs(_as_series(best.series, "loss", best.unit), spe, best.epoch_base)
        loss = _effective(loss_all)
        others = [c for c in loss_cands if c is not best]
        other_losses = tuple(_map_epochs(_as_series(c.series, "loss", c.unit), spe, c.epoch_base) for c in others)
    curves: dict[str, Series | None] = {}
    for role in ("val_loss", "lr", "grad_norm"):
        c = None if role == "val_loss" and eval_as_loss else _pick(cands.get(role, []))
        curves[role] = _map_epochs(_as_series(c.series, role, c.unit), spe, c.epoch_base) if c is not None else None

    # first non-finite: the training loss, or any other training-loss series logged in
    # the same unit (a log may catch the NaN an event writer lost), or the grad norm
    # where the logger masks NaN losses (HF Trainer's logging_nan_inf_filter).
    # A job log whose steps are in doubt speaks at its own step only where the loss a recording source
    # wrote at global steps does not contradict it (_against_the_record).
    record = _recorded_loss(loss_cands)
    found: list[NonFinite] = []
    set_aside: list[tuple[NonFinite, str]] = []
    for s, c in zip((loss, *other_losses), (best, *others), strict=True):
        nf = _nonfinite(s)
        if nf is None or (loss is not None and nf.unit != loss.unit):
            continue
        doubt = _steps_in_doubt(c) if c is not None and record is not None and nf.unit == "step" else None
        if doubt is not None and record is not None:
            kept = _against_the_record(nf, record)
            if kept is not nf:
                set_aside.append((nf, doubt))
            if kept is None:
                continue
            nf = kept
        found.append(nf)
    nonfinite_by_role: dict[str, NonFinite] = {}
    for role in ("grad_norm", "lr", "val_loss"):
        nf = _nonfinite(curves[role])
        if nf is not None:
            nonfinite_by_role[role] = nf
    if found and all(n.last_finite_step is None for n in found):
        # a per-step series non-finite from its first point only bounds the onset: a per-epoch
        # series that shows finite epochs before its non-finite one places it
        placed = [
            n
            for s in other_losses
            if (n := _nonfinite(s)) is not None and n.unit != found[0].unit and n.last_finite_step is not None
        ]
        found = placed[:1] or found
    first_nonfinite = None
    if found:
        first_nonfinite = min(found, key=lambda n: n.step)
        nonfinite_by_role["loss"] = first_nonfinite
    elif (
        "grad_norm" in nonfinite_by_role
        and (loss is None or loss.unit in ("step", "log_index"))
        and not _recovers(curves["grad_norm"])
    ):
        first_nonfinite = nonfinite_by_role["grad_norm"]
    else:
        first_nonfinite = _nonfinite_from_messages(run, loss)
        if first_nonfinite is not None:
            nonfinite_by_role["loss"] = first_nonfinite
    exploded_step = _exploded(loss, _adversarial(run, loss)) if first_nonfinite is None else None
    exploded_how = None
    exploded_verb = "exploded"
    log_of_perplexity = False
    if first_nonfinite is None:
        perplexities = _perplexities(run, loss)
        classifier = loss is not None and any(
            lg.classifier_rate and any(sc.source == loss.source for sc in lg.scalars.values()) for lg in run.logs
        )
        implausible = _implausible(loss, other_losses, perplexities, classifier)
        if implausible is not None and (exploded_step is None or implausible[0] < exploded_step):
            exploded_step, exploded_how = implausible
        climbed = _climbed(perplexities)
        if climbed is not None and (exploded_step is None or climbed[0] < exploded_step):
            exploded_step, exploded_how = climbed
        # a loss read as the log of its perplexity that sits at a constant is the perplexity's print cap (OpenNMT-py
        # prints exp(min(loss, 100))), no clamp inside a cross-entropy: the perplexity's own tests above judge it
        log_of_perplexity = _log_of_perplexity(loss, perplexities)
        pinned = None if log_of_perplexity else _pinned(loss, other_losses, percentage_loss(run, loss))
        if pinned is not None and (exploded_step is None or pinned[0] <= exploded_step):
            exploded_step, exploded_how = pinned
            exploded_verb = "saturated"
        collapsed = _collapsed(loss) or _masked_from_start(loss, curves["val_loss"])
        if collapsed is not None and (exploded_step is None or collapsed[0] < exploded_step):
            exploded_step, exploded_how = collapsed
            exploded_verb = "collapsed"
        settled = _spiked_and_settled(loss, curves["lr"], _adversarial(run, loss) or _reinforcement(run, loss))
        if settled is not None and (exploded_step is None or settled[0] < exploded_step):
            exploded_step, exploded_how = settled
            exploded_verb = "jumped"
    unplaced = _unplaced_nonfinite(run, loss) if first_nonfinite is None and exploded_step is None else None
    validation_only = None
    if first_nonfinite is None and exploded_step is None and unplaced is None:
        validation_only = _validation_only(loss_all, curves["val_loss"])
        if validation_only is not None and validation_only.reading == "weights":
            first_nonfinite = validation_only.nonfinite

    views = tuple(_checkpoint_views(run, spe))
    # the landmarks so far: what diverged and when (the properties below read them)
    tl = Timeline(
        run_dir=run.given,
        sources=tuple(run.sources),
        loss=loss,
        val_loss=curves["val_loss"],
        lr=curves["lr"],
        grad_norm=curves["grad_norm"],
        other_losses=other_losses,
        loss_all=loss_all,
        steps_per_epoch=spe,
        steps_per_epoch_origin=spe_origin,
        first_nonfinite=first_nonfinite,
        nonfinite_unplaced=unplaced,
        nonfinite_set_aside=tuple(set_aside),
        nonfinite_by_role=nonfinite_by_role,
        validation_only=validation_only,
        exploded_step=exploded_step,
        exploded_how=exploded_how,
        exploded_verb=exploded_verb,
        loss_is_percentage=percentage_loss(run, loss),
        loss_scored_by=classification_scores(run, loss),
        loss_is_log_of_perplexity=log_of_perplexity,
        checkpoints=views,
        first_nonfinite_checkpoint=next((c for c in views if c.nonfinite_tensors), None),
    )

    onset = None
    spikes: tuple[int, ...] = ()
    loss_spikes: tuple[Spike, ...] = ()
    accel = False
    if loss is not None:
        if tl.diverged:
            # the stretch of loss before the blow-up: up to its first non-finite point, or
            # up to the step where another series caught it (a logger that masks NaN
            # losses keeps writing finite stand-ins after it), or the explosion
            cut = _finite_prefix_end(loss)
            div = tl.divergence_step
            if first_nonfinite is not None and first_nonfinite.role != "loss":
                cut = min(cut, int(np.count_nonzero(loss.steps < first_nonfinite.step)))
            elif first_nonfinite is None and div is not None:
                cut = min(cut, int(np.count_nonzero(loss.steps <= div)))
            onset = find_onset(loss.steps[:cut], loss.values[:cut])
        spikes = tuple(find_spikes(loss.values, loss.steps))
        gn = curves["grad_norm"]
        on_steps = gn is not None and gn.unit == loss.unit
        # a logger that masks NaN losses (HF's logging_nan_inf_filter) keeps writing finite
        # stand-ins after the blow-up, down to 0: they are no recovery, so spikes are found
        # on the loss before the step where another series caught the non-finite value
        keep = len(loss)
        if first_nonfinite is not None and first_nonfinite.role != "loss":
            keep = int(np.count_nonzero(loss.steps < first_nonfinite.step))
        loss_spikes = find_loss_spikes(
            loss.steps[:keep], loss.values[:keep], gn.steps if on_steps else None, gn.values if on_steps else None
        )
        accel = accelerating(loss_spikes, int(loss.steps.min()), int(loss.steps.max())) if len(loss) else False

    restarts: tuple[tuple[int, int], ...] = ()
    if loss_all is not None and len(loss_all) > 1:
        back = np.nonzero(np.diff(loss_all.steps) <= 0)[0]
        restarts = tuple((int(loss_all.steps[i]), int(loss_all.steps[i + 1])) for i in back)
    lr_changes = tuple(_lr_changes(tl.lr, loss))
    onset = _snap_onset_to_lr_increase(onset, list(lr_changes), loss)
    weight_histograms: list[HistogramSeries] = []
    grad_histograms: list[HistogramSeries] = []
    for ev in run.events:
        # Keras writes its histograms at the epoch index, next to its epoch_* scalars
        epoch_steps = [int(s.steps.max()) for s in ev.scalars.values() if _unit_of(s.tag) == "epoch" and len(s)]
        for h in ev.histograms.values():
            if spe and epoch_steps and len(h) and int(h.steps.max()) <= max(epoch_steps):
                h = dataclasses.replace(h, steps=(h.steps + 1) * spe)
            (grad_histograms if re.search(r"grad", h.tag, re.IGNORECASE) else weight_histograms).append(h)
    died_after = [lg.last_step for lg in run.logs if lg.died_with_exception and lg.last_step]
    empty = _empty_statistics(run)
    problems = list(run.problems)
    relative_updates = _relative_updates(tl, run.measure_update, problems)
    return dataclasses.replace(
        tl,
        restarts=restarts,
        onset=onset,
        lr_changes=lr_changes,
        layers=tuple(_layer_tracks(list(views))),
        weight_histograms=tuple(weight_histograms),
        grad_histograms=tuple(grad_histograms),
        log_events=tuple(_gather_log_events(run)),
        died_with_exception=any(log.died_with_exception for log in run.logs),
        died_after_step=max(died_after) if died_after else None,
        store_endings=tuple(
            (lg.source.path, lg.store_status, lg.exit_code) for lg in run.logs if lg.store_status is not None
        ),
        stores_of_many=_stores_of_many(run),
        job_logs=len(run.logs),
        record_end=_record_end(run, (loss, *other_losses)),
        spikes_recovered=spikes,
        loss_spikes=loss_spikes,
        spikes_accelerating=accel,
        empty_statistics=empty[0],
        nonfinite_elsewhere=empty[1],
        finite_returns=_finite_returns(run) if tl.loss is None and not tl.diverged else (),
        data_order=_data_order(run, spe, spe_origin, loss),
        relative_updates=relative_updates,
        lr_info=_lr_info(run, tl.lr, tl.divergence_step),
        output_width=_output_width(run),
        clipping=_clipping(run),
        lr_schedule=_lr_schedule(run),
        setup=_setup(run),
        model_loss=_model_loss(run),
        weight_dtype=_weight_dtype(run, views, tl.loss),
        weight_norms=_weight_norms(views),
        settings=_settings(run),
        data_samples=tuple(run.data_samples),
        problems=tuple(problems),
    )


# The Trainer's arguments as it writes them to TensorBoard (a JSON text under the tag "args"):
# the planned optimizer steps (-1 when the run is set by epochs).
_ARGS_MAX_STEPS = re.compile(r'"max_steps"\s*:\s*(-?\d+)')


def _record_end(run: RunData, curves: Sequence[Series | None] = ()) -> RecordEnd | None:
    """The planned length and how far the record got, from the Hugging Face Trainer's own files:
    trainer_state.json (global_step, max_steps, the end-of-training entry of its log history)
    and the args text and train_runtime scalar its TensorBoard callback writes; and, against the
    training-loss ``curves`` counted in steps, the plan a job log printed (``LogData.plan``) or a
    config states (``max_steps``)."""
    found: list[RecordEnd] = _stated_plan_ends(run, curves)
    for ts in run.trainer_states:
        if ts.max_steps and ts.max_steps > 0 and ts.global_step is not None:
            found.append(RecordEnd(ts.global_step, ts.max_steps, ts.source.path, ts.summary))
    for ev in run.events:
        args = next((t for t in ev.texts if t.tag.rsplit("/", 1)[-1] == "args"), None)
        m = _ARGS_MAX_STEPS.search(args.text) if args is not None else None
        if m is None or int(m.group(1)) <= 0:
            continue
        steps = [int(sc.steps.max()) for sc in ev.scalars.values() if len(sc)]
        if steps:
            summary = any(tag.endswith("train_runtime") for tag in ev.scalars)
            found.append(RecordEnd(max(steps), int(m.group(1)), ev.source.path, summary))
    if not found:
        return None
    # the source that got furthest speaks for the record; any that reached the end says it did
    best = max(found, key=lambda r: (r.reached, r.last_step))
    return best


def _stated_plan_ends(run: RunData, curves: Sequence[Series | None]) -> list[RecordEnd]:
    """How far the loss logged in global steps got against each plan a log printed or a config
    states. A log that numbered its points by their order, not by step, places nothing."""
    unplaced = {lg.source.path for lg in run.logs if lg.step_unit != "step"}
    placed = [s for s in curves if s is not None and len(s) and s.unit == "step" and s.source not in unplaced]
    if not placed:
        return []
    reach = max(placed, key=lambda s: int(s.steps.max()))
    interval = max(1, int(reach.interval)) if math.isfinite(reach.interval) else 1
    last = int(reach.steps.max())
    plans = [(lg.plan, lg.source.path) for lg in run.logs if lg.plan is not None and lg.step_unit == "step"]
    plans += [(Plan(c.max_steps, f"max_steps {c.max_steps}"), c.source.path) for c in run.configs if c.max_steps]
    return [RecordEnd(last, plan.steps, f"{plan.how} in {path}", plan.summary, interval) for plan, path in plans]


def _stores_of_many(run: RunData) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    out = []
    for log in run.logs:
        chosen = [r for r in log.store_runs if r.analysed]
        if len(log.store_runs) < 2 or not chosen:
            continue
        others = sorted((r for r in log.store_runs if not r.analysed), key=lambda r: -(r.start_time or 0.0))
        out.append((log.source.path, chosen[0].name, tuple(r.name for r in others)))
    return tuple(out)


# Which functions derive each landmark of the Timeline: a rule that reads the field
# depends on the thresholds they use (the rule catalogue lists them as its options).
DERIVED_BY: dict[str, tuple[Callable[..., object], ...]] = {
    "loss": (_effective,),
    "first_nonfinite": (_nonfinite,),
    "exploded_step": (_exploded, _implausible, _implausible_bound, _pinned, _climbed, _spiked_and_settled),
    "onset": (find_onset, _snap_onset_to_lr_increase),
    "lr_changes": (_lr_changes,),
    "spikes_recovered": (find_spikes,),
    "loss_spikes": (find_loss_spikes, accelerating),
    "steps_per_epoch": (_steps_per_epoch,),
    "data_order": (_data_order,),
    "checkpoints": (_checkpoint_views,),
    "layers": (_layer_tracks,),
    "relative_updates": (_relative_updates,),
    "lr_info": (_lr_info,),
}
