"""forensics/batches.py: a step placed on the data, and torch's randperm reproduced without torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics.batches import DataOrder, describe, randperm, step_data
from forensics.load import load_run
from forensics.records import hf_steps_per_epoch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 + 7, 2**40 + 3])
@pytest.mark.parametrize("n", [1, 2, 17, 480, 5000])
def test_randperm_is_torchs_cpu_randperm(seed, n):
    torch = pytest.importorskip("torch")
    want = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    assert np.array_equal(randperm(n, seed), want)
    # the first positions alone, without replaying the rest
    k = n // 3
    assert np.array_equal(randperm(n, seed, upto=k)[:k], want[:k])


def test_a_sequential_loader_places_a_step_on_its_micro_batches_and_samples():
    order = DataOrder(steps_per_epoch=30, batch_size=16, grad_accum=2, num_samples=960, sampler="sequential")
    d = step_data(order, 157)  # step 157 is the 7th step (index 6) of epoch 5
    assert (d.epoch, d.step_in_epoch, d.first_batch, d.last_batch) == (5, 6, 12, 13)
    assert d.samples == tuple(range(192, 224)) and d.missing is None
    assert describe(d) == "epoch 5, batches 12-13 of it (samples 192-223)"
    # a curve whose first step is 0 counts from 0
    zero = DataOrder(steps_per_epoch=30, batch_size=16, grad_accum=2, sampler="sequential", first_step=0)
    assert step_data(zero, 156).samples == d.samples


def test_the_last_partial_batch_of_an_epoch_holds_only_the_samples_left():
    order = DataOrder(steps_per_epoch=4, batch_size=16, num_samples=60, sampler="sequential")
    assert step_data(order, 4).samples == tuple(range(48, 60))


@pytest.mark.parametrize(
    ("order", "missing"),
    [
        (DataOrder(steps_per_epoch=10, batch_size=8, sampler="random", seed=0, seed_per_epoch=True), "dataset length"),
        (DataOrder(steps_per_epoch=10, batch_size=8, sampler="random", num_samples=80), "generator state"),
        (DataOrder(steps_per_epoch=10, batch_size=8, sampler=None), "the sampler"),
        (DataOrder(steps_per_epoch=10, batch_size=8, sampler="sequential", world_size=4), "4 data-parallel"),
        (DataOrder(steps_per_epoch=10, sampler="sequential"), "the batch size"),
        (DataOrder(steps_per_epoch=10, batch_size=8, sampler="group_by_length"), "group_by_length"),
    ],
)
def test_what_is_missing_for_the_samples_is_said(order, missing):
    d = step_data(order, 15)
    assert d.epoch == 1 and d.samples is None and missing in d.missing
    assert missing in describe(d)


def test_without_steps_per_epoch_nothing_is_placed():
    d = step_data(DataOrder(batch_size=8, sampler="sequential"), 15)
    assert d.epoch is None and "steps per epoch" in d.missing


def test_hf_steps_per_epoch_comes_from_the_logged_epoch_fractions():
    """hf_trainer_lr_too_high: 512 samples in batches of 16 is 32 steps an epoch; with
    max_steps=40 the Trainer rounds num_train_epochs up to 2, so max_steps / epochs (20) is wrong."""
    run = load_run(ROOT / "sample_runs" / "hf_trainer_lr_too_high")
    assert hf_steps_per_epoch(run.trainer_states) == 32


def test_training_args_give_the_hf_samplers_settings():
    run = load_run(ROOT / "sample_runs" / "hf_trainer_lr_too_high")
    (args,) = {
        (c.sampler, c.seed, c.seed_per_epoch, c.world_size, c.grad_accum) for c in run.configs if c.seed is not None
    }
    assert args == ("random", 0, True, 1, 1)
