"""The randomised scenario matrix: what each corpus run trains, how it fails, what it keeps.

A scenario is plain data (``Scenario``), drawn from a seeded RNG by ``draw``. The
workers (``torch_worker``, ``keras_worker``, ...) train it for real and report what
happened; nothing here imports a framework.

The split is decided here, before anything is trained:

- **held-out families** (``HELD_OUT``): for each cause, whole architectures or
  frameworks that never appear in the dev split. A rule tuned on dev has never seen
  an RNN learning-rate blow-up or a Lightning data fault.
- every other scenario goes to dev or test by its index, so dev and test never share
  a seed.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from typing import Any

FRAMEWORKS = ("torch", "lightning", "hf", "keras3", "tfkeras", "tf2")
ARCHS = ("mlp", "deep_mlp", "cnn", "rnn", "lstm", "gru", "transformer")
RECURRENT = ("rnn", "lstm", "gru")
OPTIMIZERS = ("sgd", "sgdm", "adam", "adamw", "rmsprop")
# A learning rate that trains these tiny models well, per optimizer: the scale faults multiply.
NORMAL_LR = {"sgd": 0.05, "sgdm": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "warmup_constant")
EVIDENCE = ("all", "events", "log", "ckpt", "ckpt_config")
EVIDENCE_WEIGHTS = (0.4, 0.15, 0.2, 0.1, 0.15)
ONSETS = ("start", "mid", "late", "shard")

# (cause, detail) -> the architectures that can carry the fault in a tiny model.
FAULTS: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("learning_rate", "lr_too_high"): ("mlp", "cnn", "rnn", "gru", "transformer", "deep_mlp"),
    ("learning_rate", "lr_schedule_spike"): ("mlp", "cnn", "lstm", "gru", "transformer"),
    ("exploding_weights", "exploding_gradients"): ("rnn", "lstm", "gru", "deep_mlp"),
    ("data_or_labels", "nan_in_inputs"): ("mlp", "cnn", "lstm", "transformer", "gru"),
    ("data_or_labels", "inf_in_inputs"): ("mlp", "cnn", "rnn", "transformer"),
    ("data_or_labels", "labels_out_of_range"): ("mlp", "cnn", "gru", "transformer"),
    ("data_or_labels", "negative_labels"): ("mlp", "cnn", "lstm"),
    ("data_or_labels", "unnormalized_inputs"): ("mlp", "cnn", "deep_mlp"),
    ("numerical_instability", "log_of_zero"): ("mlp", "cnn", "transformer", "gru"),
    ("numerical_instability", "division_by_zero"): ("mlp", "cnn", "lstm", "rnn"),
    ("numerical_instability", "fp16_overflow"): ("mlp", "cnn", "transformer"),
    ("healthy", None): ("mlp", "cnn", "lstm", "gru", "transformer", "deep_mlp"),
}
# How the two learning-rate details are told apart (the truth a run is labelled with). Both
# are a step size past the stability limit; they differ in where it came from, and so in the fix:
# - ``lr_schedule_spike``: training worked at the LR in force, then the schedule raised the LR
#   past the limit during the run (here a milestone that multiplies instead of divides,
#   ``step_jump``; a long warmup that climbs past it after the loss had fallen is one too). Fix:
#   keep the schedule from raising a working LR (the factor, the peak).
# - ``lr_too_high``: the LR the job is configured with (``common.base_lr``, the ``lr`` its config
#   states) is past the limit, so training never worked. A short warmup up to it (5-20 steps
#   here, at 15x the usual LR or more: past the usual LR within its first steps) does not change
#   that. Fix: lower the configured LR.
LR_DETAILS = {
    "lr_schedule_spike": "training worked, then the schedule raised the LR past the limit",
    "lr_too_high": "the configured LR is past the limit from the start (a short warmup up to it included)",
}
# Healthy runs that look like trouble; None is a plain healthy run.
LOOKALIKES = (None, "noisy", "warm_restarts", "spikes", "fp16_skips", "early_stop", "oom", "time_limit", "crash")

# For each cause, families kept out of dev entirely: (cause, "arch" | "framework", value).
HELD_OUT: tuple[tuple[str, str, str], ...] = (
    ("learning_rate", "arch", "transformer"),
    ("learning_rate", "framework", "lightning"),
    ("exploding_weights", "arch", "gru"),
    ("exploding_weights", "framework", "tfkeras"),
    ("data_or_labels", "arch", "cnn"),
    ("data_or_labels", "framework", "lightning"),
    ("numerical_instability", "arch", "transformer"),
    ("numerical_instability", "framework", "tfkeras"),
    ("healthy", "arch", "gru"),
    ("healthy", "framework", "lightning"),
    ("inconclusive", "framework", "lightning"),
    # the Trainer masks a NaN loss in its log (logging_nan_inf_filter): its data faults and
    # blow-ups are judged on runs whose masked logs no rule was tuned on
    ("data_or_labels", "framework", "hf"),
    ("exploding_weights", "framework", "hf"),
)

# Which frameworks each worker trains, and the architectures each framework builds here.
FRAMEWORK_ARCHS = {
    "torch": ARCHS,
    "lightning": ("mlp", "cnn", "lstm", "gru", "transformer", "deep_mlp", "rnn"),
    "hf": ("mlp", "deep_mlp", "rnn", "transformer"),
    "keras3": ("mlp", "deep_mlp", "cnn", "rnn", "lstm", "gru", "transformer"),
    "tfkeras": ("mlp", "deep_mlp", "cnn", "rnn", "lstm", "gru"),
    "tf2": ("mlp", "deep_mlp", "cnn", "rnn", "gru"),
}
HF_SEED_OFFSET = 500_000  # past any index a corpus draws
FRAMEWORK_WEIGHTS = {"torch": 0.34, "lightning": 0.12, "hf": 0.08, "keras3": 0.2, "tfkeras": 0.12, "tf2": 0.14}


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    split: str  # dev | test
    held_out: bool  # in a family never seen in dev
    framework: str
    arch: str
    cause: str
    detail: str | None
    lookalike: str | None
    optimizer: str
    lr: float  # the base LR the schedule scales
    clip: float | None
    schedule: str
    warmup: int
    steps: int
    batch: int
    log_every: int | str  # an int, or "epoch"
    print_every: int | str  # the console's cadence
    ckpt: str  # "steps" | "epoch" | "none"
    ckpt_every: int
    evidence: str
    onset: str
    magnitude: float  # how far past normal the fault goes (LR factor, input scale, init gain, ...)
    grad_norm_logged: bool
    config_written: bool
    data_sample: str  # "none" | "early" | "bad" (rows around the fault)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> Scenario:
        return Scenario(**d)


def family_held_out(cause: str, arch: str, framework: str) -> bool:
    return any(
        c == cause and ((k == "arch" and v == arch) or (k == "framework" and v == framework)) for c, k, v in HELD_OUT
    )


def _pick(rng: random.Random, items, weights=None):
    return rng.choices(list(items), weights=weights, k=1)[0]


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


def draw_one(index: int, corpus_seed: int, frameworks: tuple[str, ...] = FRAMEWORKS) -> Scenario:
    """Scenario number ``index`` of the corpus drawn with ``corpus_seed``: the same pair always gives the same one."""
    seed = corpus_seed * 1_000_003 + index
    rng = random.Random(seed)
    fw_weights = [FRAMEWORK_WEIGHTS[f] for f in frameworks]
    framework = _pick(rng, frameworks, fw_weights)
    # causes evenly; healthy look-alikes as often as one fault cause
    keys = list(FAULTS)
    cause_w = {"learning_rate": 1.0, "exploding_weights": 1.0, "data_or_labels": 1.0, "numerical_instability": 1.0}
    weights = []
    for cause, _detail in keys:
        per = sum(1 for c, _ in keys if c == cause)
        weights.append(cause_w.get(cause, 1.2) / per)
    lookalike = None
    for _ in range(50):
        cause, detail = _pick(rng, keys, weights)
        archs = [a for a in FAULTS[(cause, detail)] if a in FRAMEWORK_ARCHS[framework]]
        if archs:
            break
        framework = _pick(rng, frameworks, fw_weights)
    arch = _pick(rng, archs)
    if cause == "healthy":
        lookalike = _pick(rng, LOOKALIKES, (0.16, 0.12, 0.12, 0.14, 0.1, 0.1, 0.1, 0.1, 0.06))
        if lookalike == "fp16_skips" and framework != "torch":
            lookalike = "spikes"
        if lookalike == "crash":
            cause = "inconclusive"  # an exception of no known meaning, before any divergence
    optimizer = _pick(rng, OPTIMIZERS, (0.2, 0.25, 0.25, 0.15, 0.15))
    if cause == "exploding_weights" or lookalike == "warm_restarts":
        optimizer = _pick(rng, ("sgd", "sgdm"))
    lr = NORMAL_LR[optimizer] * _log_uniform(rng, 0.5, 2.0)
    schedule = _pick(rng, SCHEDULES, (0.4, 0.15, 0.15, 0.15, 0.15))
    clip = _pick(rng, (None, 1.0, 5.0), (0.7, 0.2, 0.1))
    if cause == "exploding_weights":
        clip = None  # clipping is the cure
    onset = _pick(rng, ONSETS, (0.3, 0.3, 0.2, 0.2))
    magnitude = 1.0
    warm_peak = False
    if detail == "lr_too_high":
        magnitude = _log_uniform(rng, 15, 500)  # the configured LR over the usual one (common.base_lr)
        onset = "start"
    elif detail == "lr_schedule_spike":
        magnitude = _log_uniform(rng, 15, 300)
        onset = _pick(rng, ("start", "mid", "late"))
        if onset == "start":
            # A short warmup that climbs to a peak far too high: the peak is the LR the config states
            # (common.base_lr) and training never worked, so this is an LR too high with a warmup
            # (LR_DETAILS), drawn as one.
            # (One random number either way, so no other field of the draw moves.)
            detail, schedule, warm_peak = "lr_too_high", "warmup_constant", True
        else:
            schedule = "step_jump"
    elif detail == "exploding_gradients":
        magnitude = rng.uniform(1.5, 4.0)  # init gain past what keeps the signal's scale
        onset = "start"
    elif detail == "unnormalized_inputs":
        magnitude = _log_uniform(rng, 1e2, 1e5)  # raw feature scale
        onset = "start"
        # plain SGD: an adaptive optimizer's bounded steps keep a badly scaled input from diverging
        # (one random number either way, so no other field of the draw moves)
        optimizer = _pick(rng, ("sgd", "sgdm"))
        lr = NORMAL_LR[optimizer] * _log_uniform(rng, 0.5, 2.0)
    elif detail in ("nan_in_inputs", "inf_in_inputs"):
        magnitude = _log_uniform(rng, 0.005, 0.2)  # fraction of bad rows where the fault is
    elif detail in ("labels_out_of_range", "negative_labels"):
        magnitude = float(rng.choice([1, 3, 8000])) if detail == "labels_out_of_range" else -1.0
    elif detail == "log_of_zero":
        magnitude = rng.uniform(10, 40)  # logit temperature factor: how fast probabilities saturate
        onset = "start"
    elif detail == "division_by_zero":
        magnitude = 1.0
    elif detail == "fp16_overflow":
        magnitude = rng.uniform(14, 30)  # logit scale: exp() overflows float16 once a logit passes 11.09
        onset = "start"
    if cause in ("healthy", "inconclusive"):
        onset = _pick(rng, ("mid", "late"))
        if lookalike == "noisy":
            magnitude = rng.uniform(0.2, 0.45)  # label-noise fraction
        elif lookalike == "spikes":
            magnitude = float(rng.randint(1, 4))  # how many bad batches
    if lookalike == "warm_restarts":
        schedule = "warm_restarts"
    warmup_drawn = detail in ("lr_too_high", "unnormalized_inputs", "exploding_gradients") and not warm_peak
    if warmup_drawn and schedule.startswith("warmup"):
        schedule = _pick(rng, ("constant", "warmup_constant"))
    # TensorFlow trains these tiny models several times slower than PyTorch: shorter runs there
    tf_family = framework in ("keras3", "tfkeras", "tf2")
    steps = _pick(rng, (60, 80, 100, 120, 150) if tf_family else (80, 120, 160, 240, 300))
    batch = _pick(rng, (16, 32, 64))
    log_every: int | str = _pick(rng, (1, 5, 10, "epoch"), (0.45, 0.2, 0.15, 0.2))
    print_every: int | str = log_every if log_every == "epoch" else _pick(rng, (1, 5, 10, 20, "epoch"))
    if isinstance(print_every, int) and isinstance(log_every, int) and print_every < log_every:
        print_every = log_every
    ckpt = _pick(rng, ("steps", "epoch", "none"), (0.5, 0.3, 0.2))
    ckpt_every = _pick(rng, (10, 20, 25, 50))
    evidence = _pick(rng, EVIDENCE, EVIDENCE_WEIGHTS)
    if ckpt == "none" and evidence in ("ckpt", "ckpt_config"):
        ckpt = "steps"
    data_sample = "none"
    if evidence == "all":
        data_sample = _pick(rng, ("none", "early", "bad"), (0.35, 0.3, 0.35))
    grad_norm_logged = rng.random() < 0.6
    config_written = evidence == "ckpt_config" or rng.random() < 0.6
    split_held = family_held_out(cause, arch, framework)
    split = "test" if split_held or index % 5 in (1, 3) else "dev"
    name = f"s{corpus_seed}_{index:04d}_{framework}_{arch}_{detail or lookalike or cause}"
    long_run = random.Random(seed + 41).random() < 0.35
    if cause == "healthy" and lookalike in (None, "noisy") and not tf_family and long_run:
        # A long healthy run logged every step: thousands of points of plain noise, where a rule
        # reading oscillation or drift off a short curve must stay quiet. Its own RNG: the draw of
        # every other scenario (and of this one's other fields) is the one it was before.
        long_rng = random.Random(seed + 43)
        steps, batch, log_every = long_rng.choice((1000, 2000, 3000)), 16, 1
        print_every = long_rng.choice((1, 10, 50))
        ckpt_every = long_rng.choice((250, 500, 1000))
        name += "_long"
    if framework == "hf":
        # The HF family came after corpora drawn while it had fewer architectures: an index that
        # was another framework's then is a Trainer run now. Its own training seed keeps the two
        # runs of that index from sharing data (and a seed across the split).
        seed += HF_SEED_OFFSET
    return Scenario(
        name=name, seed=seed, split=split, held_out=split_held, framework=framework, arch=arch, cause=cause,
        detail=detail, lookalike=lookalike, optimizer=optimizer, lr=round(lr, 8), clip=clip, schedule=schedule,
        warmup=_pick(rng, (5, 10, 20)), steps=steps, batch=batch, log_every=log_every, print_every=print_every,
        ckpt=ckpt, ckpt_every=ckpt_every, evidence=evidence, onset=onset, magnitude=magnitude,
        grad_norm_logged=grad_norm_logged, config_written=config_written, data_sample=data_sample,
    )  # fmt: skip


def draw(n: int, corpus_seed: int, frameworks: tuple[str, ...] = FRAMEWORKS) -> list[Scenario]:
    return [draw_one(i, corpus_seed, frameworks) for i in range(n)]
