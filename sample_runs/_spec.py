"""What every sample-run generator module exposes: a list of RunSpec.

Each generator module (gen_keras.py, gen_torch.py, gen_hf.py) defines
``RUNS: list[RunSpec]``. ``generate.py`` calls ``spec.build(run_dir)`` in a
fresh empty directory, then records the spec and what ``build`` returned in
``manifest.json``. Nothing here is read by the analyzer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunSpec:
    name: str  # folder name under sample_runs/
    framework: str  # "keras", "tf2", "pytorch", "tensorboardX", "transformers", ...
    cause: str  # contract cause: learning_rate, exploding_weights, data_or_labels, numerical_instability, healthy
    detail: str | None  # contract detail or None
    injection: str  # one sentence: how the fault was put in
    build: Callable[[Path], dict[str, Any]]
    # build(run_dir) trains and writes the run. It returns at least:
    #   "first_nonfinite_step": int | None  -- the step value, as logged, of the first
    #        non-finite training loss (None if the loss never went non-finite, e.g. the
    #        framework raised first or the run is healthy)
    #   "step_unit": "step" | "epoch"       -- the unit of that number (epoch when only
    #        epoch-level losses were logged)
    #   "steps_per_epoch": int | None
    # and anything else worth recording (peak_lr, crashed_with, ...).
