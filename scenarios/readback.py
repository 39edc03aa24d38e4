"""Read what a run wrote back for the ground truth: a scalar series from its event files, the HF
Trainer's log dicts from its console.

TFRecord framing read by hand and protos parsed with TensorBoard's classes, as in
``sample_runs/gen_torch.py``: no TensorFlow needed, CRCs not checked (we wrote them).
"""

from __future__ import annotations

import ast
import re
import struct
from pathlib import Path
from typing import Any


def _events(path: Path):
    from tensorboard.compat.proto.event_pb2 import Event

    data = path.read_bytes()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(data):
            break
        yield Event.FromString(data[start:end])
        pos = end + 4


def read_scalar(logdir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of ``tag`` across every event file under ``logdir``, in step order."""
    import numpy as np

    points: list[tuple[int, float]] = []
    if not logdir.exists():
        return points
    for path in sorted(logdir.rglob("events.out.tfevents*")):
        for ev in _events(path):
            for v in ev.summary.value:
                if v.tag != tag:
                    continue
                if v.HasField("simple_value"):
                    points.append((ev.step, float(v.simple_value)))
                elif v.HasField("tensor") and v.tensor.tensor_content:
                    arr = np.frombuffer(
                        v.tensor.tensor_content, dtype=np.float32 if v.tensor.dtype == 1 else np.float64
                    )
                    if arr.size == 1:
                        points.append((ev.step, float(arr[0])))
                elif v.HasField("tensor") and v.tensor.float_val:
                    points.append((ev.step, float(v.tensor.float_val[0])))
                elif v.HasField("tensor") and v.tensor.double_val:
                    points.append((ev.step, float(v.tensor.double_val[0])))
    points.sort(key=lambda p: p[0])
    return points


def list_tags(logdir: Path) -> set[str]:
    tags: set[str] = set()
    for path in sorted(logdir.rglob("events.out.tfevents*")):
        for ev in _events(path):
            tags.update(v.tag for v in ev.summary.value)
    return tags


_DICT_LINE = re.compile(r"\{'(?:loss|grad_norm|learning_rate)'[^{}]*\}")


def console_points(text: str) -> list[dict[str, float]]:
    """The Trainer's training-log dicts as printed on the console, in order (eval and summary dicts left out)."""
    out = []
    for m in _DICT_LINE.finditer(text):
        try:
            d = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            continue
        if "loss" in d and "train_runtime" not in d:
            out.append({k: float(v) for k, v in d.items() if isinstance(v, (int, float, str)) and _num(v)})
    return out


def _num(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True
