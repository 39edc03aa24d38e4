"""Bring the first non-finite step of a corpus made by an older generator to the contract's unit.

Until this module, a run's truth read its console's loss lines only, and an epoch-level
record (a per-epoch console line, an event written at the epoch number) counted its epoch
number as its step. The contract's first non-finite step is a global step, and two things
the files hold were left out:

- the PyTorch worker's ``WARNING: non-finite loss nan at step 25`` line (seeds divisible
  by 3) names the step whose loss went non-finite, which loss lines printed every 20 steps
  show only at step 40: the training loss was non-finite at step 25, as the events written
  every step say too;
- an epoch's mean goes non-finite with its first non-finite step, and is recorded when the
  epoch ends: its global step is the step that ended that epoch (``min(e x steps per
  epoch, last step)``: a job stopped mid-epoch ends its epoch there), the step a reader
  that knows the epoch length reports. The epoch number is kept beside it
  (``first_nonfinite_*_epoch``) for a reader that cannot place the epoch on steps and says
  so (its report's ``step_unit`` is ``epoch``). Where the writer put the epoch on an event
  file's step axis under a tag that does not say so (PyTorch's ``add_scalar(tag, mean,
  epoch)``), the file records no global step at all: ``first_nonfinite_events_axis`` holds
  the number on its axis, the step a reader of that file alone can give.

:func:`revise` re-derives those fields of one manifest row from the scenario and the kept
console, as :class:`scenarios.common.Truth` now records them while training. The field of a
source the run did not keep is re-derived from what the manifest holds (a pruned console's
warning line cannot be read back; it is not scored either).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from scenarios.common import job_id, steps_per_epoch
from scenarios.matrix import Scenario

WARNING_LINE = re.compile(r"^WARNING: non-finite loss \S+ at step (\d+)$", re.MULTILINE)
KERAS = ("keras3", "tfkeras")


def epoch_level(sc: dict[str, Any]) -> tuple[bool, bool, int]:
    """(events record epochs, the console's loss lines record epochs, the events' first epoch number)."""
    fw = sc["framework"]
    # Lightning and the HF Trainer write their per-epoch metrics at the global step
    events = sc["log_every"] == "epoch" and fw in ("torch", "tf2", *KERAS)
    # Keras prints an "Epoch k/N" line whatever the cadence: its truth always read those
    log = fw in KERAS or (sc["print_every"] == "epoch" and fw in ("torch", "lightning", "tf2"))
    return events, log, 0 if fw in KERAS else 1


def revise(row: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The row's truth with its first non-finite steps in global steps (a new dict)."""
    sc, old = row["scenario"], row["truth"]
    t = dict(old)
    spe = steps_per_epoch(Scenario.from_json(sc))
    last = int(old["last_step"])

    def end(epoch: int) -> int:
        return min(epoch * spe, last)

    ev_epochs, log_epochs, base = epoch_level(sc)
    if ev_epochs:
        e = old.get("first_nonfinite_events")
        t["first_nonfinite_events_epoch"] = None if e is None else e + 1 - base
        t["first_nonfinite_events"] = None if e is None else end(e + 1 - base)
        if sc["framework"] == "torch":  # add_scalar(tag, mean, epoch): the file's step axis holds the epoch
            t["first_nonfinite_events_axis"] = t["first_nonfinite_events_epoch"]
    if log_epochs:
        e = old.get("first_nonfinite_log")
        t["first_nonfinite_log_epoch"] = e
        t["first_nonfinite_log"] = None if e is None else end(e)
    log = run_dir / f"slurm-{job_id(Scenario.from_json(sc))}.out"
    if sc["framework"] == "torch" and log.is_file():
        m = WARNING_LINE.search(log.read_text(encoding="utf-8", errors="replace"))
        if m is not None:
            steps = [int(m.group(1))] + ([t["first_nonfinite_log"]] if t["first_nonfinite_log"] is not None else [])
            t["first_nonfinite_log"] = min(steps)
    t["first_nonfinite_unit"] = "global_step"
    # the step the kept evidence holds, in Truth.record's order: events, console, trainer state
    keeps_events = sc["evidence"] in ("all", "events") and any(run_dir.rglob("events.out.tfevents*"))
    keeps_log = sc["evidence"] in ("all", "log") and log.is_file()
    if keeps_events and old["first_nonfinite_step"] == old.get("first_nonfinite_events"):
        t["first_nonfinite_step"] = t.get("first_nonfinite_events")
    elif keeps_log and old["first_nonfinite_step"] == old.get("first_nonfinite_log"):
        t["first_nonfinite_step"] = t.get("first_nonfinite_log")
    return t
