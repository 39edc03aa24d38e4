"""A job's own NaN check written as a Python statement: an assert whose condition tests a value with isnan,
isinf or isfinite (or compares it with itself), or a one-line 'if <test>: raise'. A traceback whose last frame is
that statement, ended by the exception it raises, is the check firing (RAFT-Stereo's sequence_loss asserts its flow
predictions finite). The tracebacks here are Python's own: each check is written to a file, run until it raises,
and printed by the traceback module, under loss lines of a plain print loop. Look-alikes: an assert on shapes, the
same test in a dataset's __getitem__, an evaluation or on the batch's inputs (a data or metric check), a condition
that itself raised, a traceback cut at the frame, and a check the trainer caught and went on from.
"""

from __future__ import annotations

import json
import runpy
import traceback

import pytest

import forensics
from forensics.readers.logs import parse_log_text

LOSSES = "".join(f"epoch 1 step {i} loss {2.5 - 0.05 * i:.4f}\n" for i in range(1, 21))


def _printed(tmp_path, filename: str, source: str) -> str:
    """The traceback Python prints when ``source``, saved as ``filename``, raises."""
    path = tmp_path / "src" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    try:
        runpy.run_path(str(path), run_name="__main__")
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the check did not raise")


def _guards(text: str):
    _, events, *_ = parse_log_text(text)
    return [e for e in events if e.kind == "nan_loss"]


def _analyze(tmp_path, text: str):
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / "train.log").write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


RAFT_LIKE = """import numpy as np

def sequence_loss(flow_preds, flow_gt):
    for i in range(len(flow_preds)):
        assert not np.isnan(flow_preds[i]).any() and not np.isinf(flow_preds[i]).any()
    return 0.0

def train():
    sequence_loss([np.zeros(3), np.array([1.0, np.nan])], np.zeros(3))

train()
"""


def test_an_assert_that_the_predictions_are_finite_is_a_nan_guard(tmp_path):
    text = LOSSES + _printed(tmp_path, "train_stereo.py", RAFT_LIKE)
    [guard] = _guards(text)
    assert (guard.framework, guard.op, guard.values.get("tensor")) == ("any", "sequence_loss", "flow_preds[i]")
    rep = _analyze(tmp_path, text)
    assert rep.diverged is True
    assert json.loads(rep.to_json())["ended"] == "stopped"


@pytest.mark.parametrize(
    "source",
    [
        # a value compared with itself, raised on one line
        "def step(loss):\n    if loss != loss: raise FloatingPointError('bad step')\n\nstep(float('nan'))\n",
        # math's spelling, with a message that names neither the loss nor a NaN
        "import math\n\ndef train_step(total):\n    assert math.isfinite(total), 'stopping'\n\n"
        "train_step(float('inf'))\n",
        # the tensor method (a NumPy stand-in with torch's name for it)
        "import numpy as np\n\nclass T:\n    def __init__(self, v):\n        self.v = v\n\n    def isnan(self):\n"
        "        return np.isnan(self.v)\n\ndef forward(logits):\n    assert not logits.isnan().any()\n\n"
        "forward(T(np.array([np.nan])))\n",
    ],
    ids=["self-compare-if-raise", "math-isfinite", "tensor-method"],
)
def test_other_spellings_of_the_check_are_the_guard(tmp_path, source):
    text = LOSSES + _printed(tmp_path, "train.py", source)
    assert len(_guards(text)) == 1
    assert _analyze(tmp_path, text).diverged is True


def test_a_guard_whose_message_names_the_loss_is_one_event(tmp_path):
    source = "import math\n\ndef train_step(loss):\n    assert not math.isnan(loss), f'loss is {loss}'\n\n"
    source += "train_step(float('nan'))\n"
    text = LOSSES + _printed(tmp_path, "train.py", source)
    assert len(_guards(text)) == 1


@pytest.mark.parametrize(
    ("filename", "source"),
    [
        # an assert on shapes
        (
            "train.py",
            "import numpy as np\n\ndef sequence_loss(pred, gt):\n    assert pred.shape == gt.shape\n\n"
            "sequence_loss(np.zeros(3), np.zeros(4))\n",
        ),
        # the data pipeline checks a sample: the data holds a NaN, the run did not diverge
        (
            "stereo_datasets.py",
            "import numpy as np\n\nclass Pairs:\n    def fetch(self, i):\n        disp = np.array([np.nan])\n"
            "        assert not np.isnan(disp).any()\n\nPairs().fetch(0)\n",
        ),
        (
            "train.py",
            "import numpy as np\n\nclass Pairs:\n    def __getitem__(self, i):\n        disp = np.array([np.nan])\n"
            "        assert not np.isnan(disp).any()\n\nPairs()[0]\n",
        ),
        # the training step checks its inputs: a data check
        (
            "train.py",
            "import numpy as np\n\ndef train_step(inputs):\n    assert not np.isnan(inputs).any()\n\n"
            "train_step(np.array([np.nan]))\n",
        ),
        # a metric's check
        (
            "train.py",
            "import numpy as np\n\ndef evaluate(preds):\n    assert np.isfinite(preds).all()\n\n"
            "evaluate(np.array([np.inf]))\n",
        ),
        # the condition itself raised: the check never ran
        (
            "train.py",
            "import numpy as np\n\ndef sequence_loss(flow_preds):\n    assert not np.isnan(flow_preds).any()\n\n"
            "sequence_loss(None)\n",
        ),
    ],
    ids=["shape", "dataset-file", "getitem", "inputs", "metric", "condition-raised"],
)
def test_look_alikes_stay_an_exception_of_no_known_meaning(tmp_path, filename, source):
    text = LOSSES + _printed(tmp_path, filename, source)
    assert _guards(text) == []
    rep = _analyze(tmp_path, text)
    assert rep.diverged is False


def test_a_traceback_cut_at_the_check_s_frame_is_no_guard(tmp_path):
    printed = _printed(tmp_path, "train_stereo.py", RAFT_LIKE)
    cut = printed[: printed.rindex("AssertionError")]  # the paste stops before the exception line
    assert _guards(LOSSES + cut) == []


def test_a_check_the_trainer_caught_and_went_on_from_reads_as_a_catalogued_guard_does(tmp_path):
    """Printed by logging.exception and trained on: the check fired once, and what the loss did after it
    decides, as it does for a guard the catalogue knows by its words."""
    after = "".join(f"epoch 1 step {i} loss {1.5 - 0.01 * i:.4f}\n" for i in range(21, 41))
    printed = _printed(tmp_path, "train_stereo.py", RAFT_LIKE)
    known = printed.replace("\nAssertionError\n", "\nAssertionError: flow_preds is nan\n")
    ours, theirs = (_analyze(tmp_path / name, LOSSES + tb + after) for name, tb in (("a", printed), ("b", known)))
    assert (ours.diverged, ours.verdict.cause) == (theirs.diverged, theirs.verdict.cause)


def test_a_warning_from_a_check_that_goes_on_is_no_guard(tmp_path):
    """warnings.warn under a one-line NaN test: Python prints the warning and the source line that raised it, and
    the job trains on; no traceback, no stop."""
    import warnings

    source = "if np.isnan(flow).any(): warnings.warn('flow has NaN values')"
    warned = warnings.formatwarning("flow has NaN values", UserWarning, "/src/train_stereo.py", 50, source)
    after = "".join(f"epoch 1 step {i} loss {1.5 - 0.01 * i:.4f}\n" for i in range(21, 41))
    text = LOSSES + warned + after
    assert _guards(text) == []
    assert _analyze(tmp_path, text).diverged is False
