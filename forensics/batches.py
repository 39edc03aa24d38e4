"""Which data an optimizer step trained on: its epoch, its micro-batches within the epoch and,
where the order can be recovered, the indices of its samples.

A logged step S (counted from 1, as the Hugging Face Trainer and most loops count finished
optimizer steps; from 0 when the curve's first step is 0) consumed ``grad_accum`` micro-batches
of ``batch_size`` samples on each of ``world_size`` processes. With ``steps_per_epoch`` optimizer
steps an epoch, step S is step ``k = (S - first) mod steps_per_epoch`` of epoch
``(S - first) // steps_per_epoch``, and on one process its micro-batches are ``k * grad_accum``
to ``k * grad_accum + grad_accum - 1`` of that epoch. The samples of micro-batch ``b`` are
positions ``b * batch_size`` to ``(b + 1) * batch_size - 1`` of the epoch's order:

* a sequential sampler: the positions themselves;
* the Hugging Face Trainer's random sampler, through accelerate's seedable sampler (the
  default, ``use_seedable_sampler``): epoch e is ``torch.randperm(n)`` from a CPU generator
  seeded with ``seed + e`` (``data_seed``, else ``seed``). torch's CPU ``randperm`` is a
  Fisher-Yates shuffle drawing ``mt19937() % (n - i)`` for each position i (for n below
  ``RANDPERM_32BIT_LIMIT``), and numpy's MT19937, seeded the same way, gives the same 32-bit
  stream: the permutation is reproduced exactly without torch (a test checks it against
  torch). The dataset length n must be known exactly: it is read from a config key such
  as ``train_samples`` (the ``train_results.json`` of Hugging Face's example scripts).

Anything else (several processes, whose shards interleave; a random sampler without a
known seed; group-by-length) yields the epoch and micro-batches and says what is missing
for the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# torch draws 32-bit numbers for randperm below this n (uint32 max / 20) and 64-bit ones above;
# only the 32-bit path is reproduced.
RANDPERM_32BIT_LIMIT = (2**32 - 1) // 20
# The shuffle is replayed up to the last position asked for, one swap per position in Python:
# beyond this many the report says so instead of spending seconds on it.
MAX_REPLAYED_POSITIONS = 2_000_000
# Samples listed per step in the report (the JSON lists them all up to this many too).
MAX_LISTED_SAMPLES = 4096


@dataclass(frozen=True)
class DataOrder:
    """What places an optimizer step on the data, and where each fact came from."""

    steps_per_epoch: int | None = None
    batch_size: int | None = None  # per process, per micro-batch
    grad_accum: int = 1
    world_size: int = 1
    num_samples: int | None = None
    drop_last: bool | None = None
    sampler: str | None = None  # "sequential", "random", ... or None: not recorded
    seed: int | None = None
    seed_per_epoch: bool = False  # accelerate's seedable sampler: epoch e uses seed + e
    first_step: int = 1  # the logged number of the first optimizer step
    origins: tuple[tuple[str, str], ...] = ()  # (fact, file) pairs

    def samples_missing(self) -> str | None:
        """What is missing to name a step's samples, or None when they can be named."""
        if self.batch_size is None:
            return "the batch size"
        if self.world_size > 1:
            return f"the shard order of {self.world_size} data-parallel processes (not reconstructed)"
        if self.sampler is None:
            return "the sampler (shuffled or in order: no config records it)"
        if self.sampler == "sequential":
            return None
        if self.sampler != "random":
            return f"a reproduction of the {self.sampler!r} sampler"
        if not self.seed_per_epoch:
            return "the random sampler's generator state (it draws its seed from the global RNG)"
        if self.seed is None:
            return "the data seed"
        if self.num_samples is None:
            return "the exact dataset length (no config or train_results.json records it)"
        if self.num_samples >= RANDPERM_32BIT_LIMIT:
            return "a reproduction of torch's 64-bit randperm (dataset too large for the 32-bit path)"
        return None


@dataclass(frozen=True)
class StepData:
    """The data of one optimizer step."""

    step: int
    epoch: int | None
    step_in_epoch: int | None
    first_batch: int | None  # micro-batches within the epoch, on one process
    last_batch: int | None
    samples: tuple[int, ...] | None
    missing: str | None  # what is missing for the part not given (None: everything given)


def randperm(n: int, seed: int, upto: int | None = None) -> np.ndarray:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` on CPU, without torch:
    positions ``[0, upto)`` of it (the rest left unshuffled)."""
    if n >= RANDPERM_32BIT_LIMIT:
        raise ValueError("torch uses 64-bit draws at this size")
    stop = min(n - 1, n if upto is None else upto)
    bits = np.random.MT19937(0)
    np.random.RandomState(bits).seed(seed & 0xFFFFFFFF)  # the legacy init_genrand seeding torch uses
    draws = bits.random_raw(max(stop, 0)).tolist()
    perm = list(range(n))
    for i in range(stop):
        z = i + draws[i] % (n - i)
        perm[i], perm[z] = perm[z], perm[i]
    return np.asarray(perm, dtype=np.int64)


def step_data(order: DataOrder, step: int) -> StepData:
    """Where optimizer step ``step`` sits in the data."""
    spe = order.steps_per_epoch
    if spe is None or spe <= 0:
        return StepData(step, None, None, None, None, None, "the steps per epoch")
    k = step - order.first_step
    if k < 0:
        return StepData(step, None, None, None, None, None, "a step before the first one")
    epoch, in_epoch = divmod(k, spe)
    first_b = in_epoch * order.grad_accum
    last_b = first_b + order.grad_accum - 1
    missing = order.samples_missing()
    if missing is not None:
        return StepData(step, epoch, in_epoch, first_b, last_b, None, missing)
    bs = order.batch_size or 0
    lo, hi = first_b * bs, (last_b + 1) * bs
    if order.num_samples is not None:
        hi = min(hi, order.num_samples)
    if hi - lo > MAX_LISTED_SAMPLES:
        return StepData(step, epoch, in_epoch, first_b, last_b, None, f"nothing: over {MAX_LISTED_SAMPLES} samples")
    if order.sampler == "sequential":
        return StepData(step, epoch, in_epoch, first_b, last_b, tuple(range(lo, hi)), None)
    n = int(order.num_samples or 0)
    if hi > MAX_REPLAYED_POSITIONS:
        return StepData(step, epoch, in_epoch, first_b, last_b, None, "a faster replay of the shuffle (too far in)")
    seed = int(order.seed or 0) + (epoch if order.seed_per_epoch else 0)
    perm = randperm(n, seed, upto=hi)
    return StepData(step, epoch, in_epoch, first_b, last_b, tuple(int(i) for i in perm[lo:hi]), None)


def describe(d: StepData, say_missing: bool = True) -> str:
    """One phrase: 'epoch 5, batches 12-13 of it (samples 192-223)'; what is missing for the
    samples too, unless ``say_missing`` is off (a caller that says it once for many steps)."""
    if d.epoch is None:
        return f"step {d.step}: batch unknown (missing {d.missing})"
    batches = f"batch {d.first_batch}" if d.first_batch == d.last_batch else f"batches {d.first_batch}-{d.last_batch}"
    out = f"epoch {d.epoch}, {batches} of it"
    if d.samples:
        out += f" (samples {_ranges(d.samples)})"
    elif d.missing and say_missing:
        out += f" (samples: missing {d.missing})"
    return out


def _ranges(samples: tuple[int, ...], shown: int = 8) -> str:
    """Sorted sample indices as ranges: '192-223' or '3, 17, 40, ...'."""
    s = sorted(samples)
    parts: list[str] = []
    start = prev = s[0]
    for x in s[1:]:
        if x == prev + 1:
            prev = x
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        start = prev = x
    parts.append(f"{start}-{prev}" if prev > start else str(start))
    more = f", … ({len(s)} in all)" if len(parts) > shown else ""
    return ", ".join(parts[:shown]) + more
