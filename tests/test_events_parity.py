"""Parity with tbparse: on every fixture our scalars are exactly what tbparse's SummaryReader returns.

tbparse (a dev-only dependency) reads through TensorBoard's EventAccumulator,
which keeps everything when asked to (``size_guidance`` 0). Scalars written as
``simple_value`` come back in its ``scalars`` frame; TF2 / new-style tensor
scalars in its ``tensors`` frame. We must match both, point for point, NaN and
Inf included, and have no scalar tag it does not know.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics.readers.events import read_event_file
from forensics.records import Kind, Source

tbparse = pytest.importorskip("tbparse")

FIXTURES = Path(__file__).parent / "fixtures" / "events"
FILES = sorted(FIXTURES.rglob("events.out.tfevents.*"))


def _theirs(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    # "text" is left out: tbparse fails on the 2-D text table TF2 writes (its bug, not the file's)
    reader = tbparse.SummaryReader(str(path), event_types={"scalars", "tensors"})
    out: dict[str, tuple[list[int], list[float]]] = {}
    for frame in (reader.scalars, reader.tensors):
        if frame is None or len(frame) == 0:
            continue
        for tag, rows in frame.groupby("tag", sort=False):
            values = [np.asarray(v) for v in rows["value"]]
            if not all(v.dtype.kind in "fiub" and v.size == 1 for v in values):
                continue  # histogram tensors, graph JSON: not scalars
            out[tag] = (rows["step"].astype(int).tolist(), [float(v.reshape(-1)[0]) for v in values])
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(FIXTURES).parent.as_posix())
def test_scalars_equal_tbparse_on_every_fixture(path):
    ours = read_event_file(path, Source(path=path.name, kind=Kind.EVENTS)).scalars
    theirs = _theirs(path)
    assert set(ours) == set(theirs)
    for tag, (steps, values) in theirs.items():
        mine = ours[tag]
        # tbparse sorts its frame by step, so a file that rewinds comes back reordered:
        # compare the (step, value) pairs as multisets, NaN equal to NaN
        assert _pairs(mine.steps.tolist(), mine.values.tolist()) == _pairs(steps, values), tag
        if np.all(np.diff(mine.steps) >= 0):
            assert mine.steps.tolist() == steps, tag


def _pairs(steps: list[int], values: list[float]) -> list[tuple[int, bool, float]]:
    return sorted((s, np.isnan(v), 0.0 if np.isnan(v) else v) for s, v in zip(steps, values, strict=False))


def test_parity_covers_nan_inf_and_a_restart():
    # the parity above would be weak if the fixtures held only tame numbers
    loss = _theirs(next((FIXTURES / "tensorboardx").glob("events.*")))["loss"][1]
    assert any(np.isnan(loss)) and np.inf in loss
    restart_steps = _theirs(next((FIXTURES / "restart").glob("events.*")))["loss"][0]
    assert len(set(restart_steps)) < len(restart_steps)  # steps written twice, before and after the rewind
