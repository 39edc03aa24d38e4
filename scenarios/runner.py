"""Run scenarios one after another in a worker: train, check the fault bit, prune, record.

Framework-free: the workers pass their training function in.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scenarios import common
from scenarios.common import Truth
from scenarios.matrix import Scenario

Trainer = Callable[[Scenario, Path, Truth], dict[str, Any]]


def acceptable(sc: Scenario, truth: Truth) -> bool:
    """Did the scenario do what it is recorded as? (A fault that never bit is not that fault.)"""
    if sc.cause == "inconclusive":
        return truth.exception is not None and not truth.nonfinite()
    if sc.cause == "healthy":
        if truth.nonfinite():
            return False
        return (truth.exception is not None) == (sc.lookalike == "oom")
    if sc.detail in ("labels_out_of_range", "negative_labels"):
        return truth.exception is not None
    if truth.exception is not None:
        return False
    # an LR or input scale past the stable limit may blow the loss up by decades without a NaN
    # (adaptive optimizers bound each step): an exploded loss is a divergence too
    if sc.detail in ("lr_too_high", "lr_schedule_spike", "unnormalized_inputs"):
        if sc.detail == "lr_too_high" and truth.wrecked():
            return True  # the LR destroyed training from the first steps on: the loss never came back
        return truth.nonfinite() or truth.exploded()
    return truth.nonfinite()


RETRY = {
    "lr_too_high": 8.0,
    "lr_schedule_spike": 8.0,
    "exploding_gradients": 1.4,
    "unnormalized_inputs": 10.0,
    "log_of_zero": 2.0,
    "fp16_overflow": 1.5,
}


def run_one(sc: Scenario, out: Path, trainer: Trainer) -> dict[str, Any]:
    t0 = time.time()
    attempt = 0
    while attempt < 3:
        attempt += 1
        run_dir = out / sc.name
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        truth = Truth()
        with common.console_to(run_dir / f"slurm-{common.job_id(sc)}.out"):
            try:
                info = trainer(sc, run_dir, truth)
            except Exception as e:  # the generator's own failure, not the scenario's
                traceback.print_exc()
                info = {"kinds": {}, "generator_error": f"{type(e).__name__}: {e}"}
        if acceptable(sc, truth) and "generator_error" not in info:
            break
        if sc.detail in RETRY:
            sc = dataclasses.replace(sc, magnitude=sc.magnitude * RETRY[sc.detail])
        elif sc.lookalike in ("noisy", "spikes"):
            sc = dataclasses.replace(sc, magnitude=sc.magnitude / 2, lr=sc.lr / 2)
        elif sc.cause == "healthy":
            sc = dataclasses.replace(sc, lr=sc.lr / 3)
        else:
            sc = dataclasses.replace(sc, seed=sc.seed + 100_000)
    ok = acceptable(sc, truth) and "generator_error" not in info
    kinds = info.pop("kinds", {})
    if ok:
        common.prune(sc, run_dir, kinds)
        if not run_dir.exists() or not any(run_dir.rglob("*")):
            ok = False  # nothing of what this evidence setting keeps was written (e.g. no checkpoint yet)
    if not ok:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "scenario": sc.to_json(),
        "status": "ok" if ok else "dropped",
        "attempts": attempt,
        "seconds": round(time.time() - t0, 2),
        "truth": truth.record(sc),
        "info": {k: v for k, v in info.items()},
    }


def run_all(specs: Path, out: Path, results: Path, pick: Callable[[Scenario], Trainer]) -> None:
    for line in specs.read_text().splitlines():
        sc = Scenario.from_json(json.loads(line))
        row = run_one(sc, out, pick(sc))
        common.write_results(results, [row])
        print(f"{row['status']:8s} {sc.name} ({row['seconds']} s, {row['attempts']} tries)", flush=True)
