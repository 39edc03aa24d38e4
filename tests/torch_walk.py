"""The tensors of a ``torch.load`` result by key path, each object once: how our reader's walk names them.

Shared by the parity tests and the fixture generator (both need torch).
"""

from __future__ import annotations

from typing import Any


def torch_tensors(obj: Any, path: str = "", out: dict | None = None, seen: set | None = None) -> dict:
    import torch

    out = {} if out is None else out
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return out
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        out[path] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            torch_tensors(v, f"{path}.{k}" if path else str(k), out, seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            torch_tensors(v, f"{path}.{i}" if path else str(i), out, seen)
    return out
