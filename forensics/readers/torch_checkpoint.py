"""PyTorch checkpoints as evidence: weights, optimizer state, schedule, step, training settings.

What a ``torch.save`` file holds is told by its structure, not its name: a plain
state dict (``pytorch_model.bin``), a training checkpoint (``{"model": ...,
"optimizer": ..., "epoch": ...}``), a Lightning ``.ckpt`` (``state_dict``,
``optimizer_states``, ``lr_schedulers``, ``global_step``), an optimizer state dict
alone (Hugging Face's ``optimizer.pt``), a scheduler's or loss scaler's state, RNG
state, or the ``TrainingArguments`` of Hugging Face's ``training_args.bin``.

Everything that touches the file (unpickling with :mod:`forensics.readers.torch_pickle`,
tensor statistics, the optimizer's next-step sizes) runs in a forked child under a
memory limit and a deadline; the child sends plain JSON back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import isolation, tensorstats, torch_pickle
from forensics.readers.safe_open import open_binary, open_fd
from forensics.readers.tensorstats import StatsAccumulator, flat_native, layer_of, summarize_problems
from forensics.records import (
    Checkpoint,
    ConfigData,
    LayerUpdate,
    ModelInfo,
    OptimizerState,
    ParamGroup,
    Source,
    Status,
    TensorStats,
)

# The child may allocate this much beyond what it inherited: the pickle (<= 64 MiB) and
# the objects made from it (~10x), plus chunk buffers (tens of MiB). File-backed
# read-only maps of the tensors do not count against RLIMIT_DATA.
CHILD_MEMORY_BYTES = 1536 * 1024 * 1024
# A layer whose Adam second moment has sqrt(v_hat) below this many eps takes steps of
# about m / eps: its denominator is eps, not the gradient's scale, so the step is no
# longer normalised (a vanished or underflowed gradient, or an eps set too large).
NEAR_EPS_FACTOR = 10.0
# Update sizes are computed pairwise from two tensors; a strided pair is read whole,
# which is bounded to this many elements.
MAX_STRIDED_PAIR_ELEMENTS = 1 << 24

# What torch.save, Lightning and Hugging Face name their files; other pickles (.pkl,
# .joblib) hold arbitrary objects and stay unread.
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")
SKIPPED_PICKLE = "pickle-based checkpoint: never loaded (unpickling can run arbitrary code)"

# Keys under which training checkpoints keep the model's state dict, best first.
_MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "model_state", "weights")
_STEP_KEYS = ("global_step", "step", "iteration", "iter", "num_updates", "steps")
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
_RNG_KEYS = {"python", "numpy", "cpu", "cuda", "mps", "xla", "npu", "hpu", "xpu", "torch", "random", "np"}


@contextlib.contextmanager
def _limit_memory() -> Iterator[None]:
    """Cap the data segment of this (child) process at what it has plus CHILD_MEMORY_BYTES,
    for the block (the run's worker reads other files after this one)."""
    try:
        import resource

        used = 0
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    used = int(line.split()[1]) * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = used + CHILD_MEMORY_BYTES
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


# ---------------------------------------------------------------- structure


def _is_optimizer(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("state"), dict) and isinstance(d.get("param_groups"), list)


def _is_scheduler(d: Any) -> bool:
    return isinstance(d, dict) and "last_epoch" in d and ("base_lrs" in d or "_last_lr" in d)


def _is_scaler(d: Any) -> bool:
    return isinstance(d, dict) and "scale" in d and "growth_factor" in d


def _find(obj: Any, test: Any) -> list[tuple[str, dict[str, Any]]]:
    """Dicts passing ``test`` reachable from obj (not inside one another), with their paths; deduped."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any, int]] = [("", obj, 0)]
    nodes = 0
    while stack:
        path, node, depth = stack.pop()
        if id(node) in seen or depth > 12:
            continue
        seen.add(id(node))
        nodes += 1
        if nodes > torch_pickle.MAX_NODES:
            raise torch_pickle.PickleRefused(f"the checkpoint holds more than {torch_pickle.MAX_NODES} objects")
        if test(node):
            found.append((path, node))
            continue
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, (list, tuple)):
            items = list(enumerate(node))
        else:
            continue
        for k, v in reversed(items):
            if isinstance(v, (dict, list, tuple)):
                stack.append((torch_pickle._join(path, k), v, depth + 1))
    return found


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + ".")


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) + 1 :] if prefix and path.startswith(prefix + ".") else path


def _top_int(obj: Any, keys: tuple[str, ...]) -> int | None:
    if not isinstance(obj, dict):
        return None
    for key in keys:
        v = obj.get(key)
        if isinstance(v, torch_pickle.LazyTensor):
            v = v.item()
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**62:
            return v
    return None


def _model_prefix(obj: Any, tensors: list[tuple[str, torch_pickle.LazyTensor]]) -> str | None:
    """Key path of the model's state dict inside a training checkpoint; "" for a bare state dict."""
    if isinstance(obj, torch_pickle.Inert):
        return ""  # a TorchScript module (or a pickled nn.Module): every tensor is its own
    if isinstance(obj, dict):
        for key in _MODEL_KEYS:
            sub = obj.get(key)
            if isinstance(sub, dict) and any(_under(p, key) for p, _ in tensors):
                return key
        if all(isinstance(v, torch_pickle.LazyTensor) for v in obj.values()) and obj:
            return ""
        # a nested dict of tensors at the top (a bare state dict of submodules)
        if not any(k in obj for k in ("optimizer", "optimizer_states", "state", "param_groups")):
            return ""
    return None


# ---------------------------------------------------------------- stats in the child


def _stats(name: str, t: torch_pickle.LazyTensor, layer: str | None = None) -> TensorStats:
    acc = StatsAccumulator(name, _dtype_name(t), t.shape, layer)
    for chunk in t.chunks():
        acc.update(chunk)
    return acc.result()


def _dtype_name(t: torch_pickle.LazyTensor) -> str:
    return t.dtype_label if t.dtype is None else tensorstats.dtype_name(t.dtype)


def _pair_chunks(a: torch_pickle.LazyTensor, b: torch_pickle.LazyTensor) -> Any:
    """Aligned chunks of two tensors of one shape."""
    if a.contiguous and b.contiguous:
        yield from zip(a.chunks(), b.chunks(), strict=True)
    elif a.numel <= MAX_STRIDED_PAIR_ELEMENTS:
        yield a.to_numpy().reshape(-1), b.to_numpy().reshape(-1)


def _adam_update(
    m: torch_pickle.LazyTensor,
    v: torch_pickle.LazyTensor,
    step: float,
    lr: float,
    betas: Any,
    eps: float,
    stats: tuple[StatsAccumulator, StatsAccumulator],
) -> tuple[float, int, int]:
    """:func:`adam_update` of a parameter's two moments; the same chunks feed their statistics."""
    return adam_update(_pair_chunks(m, v), step, lr, float(betas[0]), float(betas[1]), eps, stats)


def adam_update(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    step: float,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    stats: tuple[StatsAccumulator, StatsAccumulator] | None = None,
) -> tuple[float, int, int]:
    """(sum of squared update elements, elements with sqrt(v_hat) < NEAR_EPS_FACTOR*eps, elements).

    ``pairs`` are aligned chunks of the first and second moment; they are read once,
    and also folded into ``stats`` when given. Shared by the TensorFlow checkpoint reader.
    """
    bc1 = 1.0 - beta1**step if step > 0 else 1.0
    bc2 = 1.0 - beta2**step if step > 0 else 1.0
    sq = 0.0
    near = 0
    n = 0
    for mc, vc in pairs:
        if stats is not None:
            stats[0].update(mc)
            stats[1].update(vc)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            denom = flat_native(vc).astype(np.float64)
            np.maximum(denom, 0.0, out=denom)
            denom /= bc2
            np.sqrt(denom, out=denom)  # sqrt(v_hat)
            near += int(np.count_nonzero(denom < NEAR_EPS_FACTOR * eps))
            denom += eps
            upd = flat_native(mc).astype(np.float64)
            upd *= lr / bc1
            upd /= denom
        del denom
        part = tensorstats.sum_of_squares(upd)  # on this thread, as the statistics do
        if not math.isfinite(part):
            part = tensorstats.sum_of_squares(np.ascontiguousarray(upd[np.isfinite(upd)]))
        sq += part
        n += int(upd.shape[0])
    return sq, near, n


def _l2(t: torch_pickle.LazyTensor) -> float:
    sq = 0.0
    for c in t.chunks():
        a = flat_native(c).astype(np.float64)
        a = a[np.isfinite(a)]
        sq += float(np.dot(a, a))
    return math.sqrt(sq)


def _param_names(
    opt: dict[str, Any], model: list[tuple[str, torch_pickle.LazyTensor]], slot_shapes: dict[int, tuple[int, ...]]
) -> dict[int, str]:
    """Parameter id -> name: from ``param_names`` when saved, else by position when every shape agrees."""
    ids: list[int] = []
    names: dict[int, str] = {}
    for g in opt["param_groups"]:
        if not isinstance(g, dict) or not isinstance(g.get("params"), list):
            continue
        params = [p for p in g["params"] if isinstance(p, int) and not isinstance(p, bool)]
        ids.extend(params)
        pn = g.get("param_names")
        if isinstance(pn, list) and len(pn) == len(params) and all(isinstance(x, str) for x in pn):
            names.update(zip(params, pn, strict=True))
    if names and len(names) == len(ids):
        return names
    weights = [(n, t) for n, t in model if not n.endswith(_BUFFER_SUFFIXES) and t.dtype is not None]
    weights = [(n, t) for n, t in weights if t.dtype.kind == "f" or t.dtype.kind == "V"]
    if len(weights) == len(ids) and all(
        slot_shapes.get(pid) in (None, t.shape) for pid, (_, t) in zip(ids, weights, strict=True)
    ):
        return {pid: n for pid, (n, _) in zip(ids, weights, strict=True)}
    return {pid: f"param{pid}" for pid in ids}


def _optimizer_state(
    opt: dict[str, Any],
    prefix: str,
    model: list[tuple[str, torch_pickle.LazyTensor]],
    weight_l2: dict[str, float],
    emit: isolation.Emit,
    problems: list[str],
) -> dict[str, Any]:
    state = opt["state"]
    groups: list[dict[str, Any]] = []
    group_of: dict[int, dict[str, Any]] = {}
    for g in opt["param_groups"]:
        if not isinstance(g, dict):
            continue
        params = [p for p in g.get("params", []) if isinstance(p, int) and not isinstance(p, bool)]
        betas = g.get("betas")
        betas = [torch_pickle.finite_number(b) for b in betas] if isinstance(betas, (list, tuple)) else None
        groups.append(
            {
                "lr": torch_pickle.finite_number(g.get("lr")),
                "params": len(params),
                "momentum": torch_pickle.finite_number(g.get("momentum")),
                "betas": betas if betas and None not in betas else None,
                "eps": torch_pickle.finite_number(g.get("eps")),
                "weight_decay": torch_pickle.finite_number(g.get("weight_decay")),
                "initial_lr": torch_pickle.finite_number(g.get("initial_lr")),
            }
        )
        for p in params:
            group_of[p] = groups[-1]
    slot_shapes: dict[int, tuple[int, ...]] = {}
    for pid, entry in state.items():
        if isinstance(entry, dict):
            for slot in ("exp_avg", "momentum_buffer", "square_avg", "sum"):
                t = entry.get(slot)
                if isinstance(t, torch_pickle.LazyTensor) and isinstance(pid, int):
                    slot_shapes[pid] = t.shape
                    break
    names = _param_names(opt, model, slot_shapes)
    kinds: set[str] = set()
    steps: list[float] = []
    layers: dict[str, dict[str, float]] = {}
    for pid, entry in state.items():
        if not isinstance(entry, dict):
            continue
        pname = names.get(pid, f"param{pid}") if isinstance(pid, int) else str(pid)[:80]
        layer = layer_of(pname)
        g = group_of.get(pid) if isinstance(pid, int) else None
        lr = g["lr"] if g else None
        m, v = entry.get("exp_avg"), entry.get("exp_avg_sq")
        if isinstance(entry.get("max_exp_avg_sq"), torch_pickle.LazyTensor):
            v = entry["max_exp_avg_sq"]  # amsgrad divides by the running maximum
        adam = (
            isinstance(m, torch_pickle.LazyTensor)
            and isinstance(v, torch_pickle.LazyTensor)
            and m.shape == v.shape
            and m.problem() is None
            and v.problem() is None
            and ((m.contiguous and v.contiguous) or m.numel <= MAX_STRIDED_PAIR_ELEMENTS)
            and lr is not None
            and g is not None
            and g["betas"] is not None
            and g["eps"] is not None
        )
        fused = {id(m), id(v)} if adam else set()
        for slot, t in entry.items():
            if isinstance(t, torch_pickle.LazyTensor) and t.numel > 1 and id(t) not in fused:
                problem = t.problem()
                if problem is not None:
                    problems.append(f"'{prefix or 'optimizer'}.state.{pid}.{slot}': {problem}")
                    continue
                s = _stats(f"{pname}.{slot}", t, layer)
                emit({"optimizer_tensor": _stats_json(s)})
        step = torch_pickle.finite_number(entry.get("step"))
        if step is not None:
            steps.append(step)
        buf = entry.get("momentum_buffer")
        acc = layers.setdefault(layer, {"sq": 0.0, "near": 0.0, "n": 0.0, "adam": 0.0})
        try:
            if adam:
                assert isinstance(m, torch_pickle.LazyTensor) and isinstance(v, torch_pickle.LazyTensor) and g
                kinds.add("adam")
                slot_v = "max_exp_avg_sq" if v is entry.get("max_exp_avg_sq") else "exp_avg_sq"
                pair = (
                    StatsAccumulator(f"{pname}.exp_avg", _dtype_name(m), m.shape, layer),
                    StatsAccumulator(f"{pname}.{slot_v}", _dtype_name(v), v.shape, layer),
                )
                sq, near, n = _adam_update(m, v, step or 0.0, lr, g["betas"], g["eps"], pair)
                for a in pair:
                    emit({"optimizer_tensor": _stats_json(a.result())})
                acc["sq"] += sq
                acc["near"] += near
                acc["n"] += n
                acc["adam"] = 1.0
            elif isinstance(buf, torch_pickle.LazyTensor) and buf.problem() is None and lr is not None:
                kinds.add("sgd")
                acc["sq"] += (lr * _l2(buf)) ** 2
            elif "exp_avg" in entry:
                kinds.add("adam")
            elif "momentum_buffer" in entry:
                kinds.add("sgd")
        except UnreadableSource as e:
            problems.append(f"optimizer state of {pname}: {e}")
    updates = []
    for layer, acc in layers.items():
        if acc["sq"] == 0.0 and not acc["n"]:
            continue
        updates.append(
            {
                "layer": layer,
                "update_l2": math.sqrt(acc["sq"]),
                "weight_l2": weight_l2.get(layer),
                "near_eps": acc["near"] / acc["n"] if acc["adam"] and acc["n"] else None,
                "kind": "adam" if acc["adam"] else "sgd_momentum",
            }
        )
    name = kinds.pop() if len(kinds) == 1 else None
    if name is None and not state and groups and all(g["momentum"] is not None for g in groups):
        name = "sgd"
    return {
        "name": name,
        "step": int(max(steps)) if steps else None,
        "groups": groups,
        "layers": updates,
    }


def _stats_json(s: TensorStats) -> dict[str, Any]:
    d = {f.name: getattr(s, f.name) for f in dataclasses.fields(s)}
    d["shape"] = list(s.shape)
    return d


def _model_tensors(
    obj: Any, tensors: list[tuple[str, torch_pickle.LazyTensor]], opt_prefixes: list[str], other_prefixes: list[str]
) -> list[tuple[str, torch_pickle.LazyTensor]]:
    """The model's tensors, named as in its state dict (the checkpoint's own prefix dropped)."""
    prefix = _model_prefix(obj, tensors)
    model: list[tuple[str, torch_pickle.LazyTensor]] = []
    if prefix is not None:
        for path, t in tensors:
            if _under(path, prefix) and not any(_under(path, op) for op in opt_prefixes if op):
                if prefix == "" and any(_under(path, sp) for sp in other_prefixes if sp):
                    continue
                model.append((_strip(path, prefix), t))
    return model


@contextlib.contextmanager
def opened_model_tensors(path: Path) -> Iterator[list[tuple[str, torch_pickle.LazyTensor]]]:
    """The model tensors of a ``torch.save`` file, open for streaming (for the checkpoint comparison).

    Unpickles in this process: call it only in an isolated child (it limits its memory
    when isolation is on).
    """
    with _parsed(path, isolation.ISOLATE or isolation.IN_WORKER) as loaded:
        tensors = torch_pickle.walk_tensors(loaded.obj)
        opts = [p for p, _ in _find(loaded.obj, _is_optimizer)]
        others = [p for p, _ in _find(loaded.obj, _is_scheduler) + _find(loaded.obj, _is_scaler)]
        model = _model_tensors(loaded.obj, tensors, opts, others)
        yield [(n, t) for n, t in model if t.problem() is None]


@contextlib.contextmanager
def _parsed(path: Path, limit_memory: bool) -> Iterator[torch_pickle.Loaded]:
    """The file unpickled (restricted), its storages open; only ever called in an isolated child
    (a forked one, or the run's worker: ``limit_memory`` caps its memory for the block)."""
    with _limit_memory() if limit_memory else contextlib.nullcontext():
        try:
            fd = open_fd(path)  # no symlink, no FIFO, the very file discovery found
        except OSError as e:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
        try:
            loaded = torch_pickle.parse(fd, os.fstat(fd).st_size)
            try:
                yield loaded
            finally:
                loaded.close()
        except OSError as e:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
        except MemoryError:
            raise UnreadableSource(
                f"reading it exhausted the reader's {CHILD_MEMORY_BYTES >> 20} MiB memory limit"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)


def dtype_label(t: torch_pickle.LazyTensor) -> str:
    return _dtype_name(t)


def _analyse(loaded: torch_pickle.Loaded, emit: isolation.Emit) -> None:
    """Runs in the child: emit every tensor's statistics, then one summary of the rest."""
    obj = loaded.obj
    problems: list[str] = list(loaded.notes)
    summary: dict[str, Any] = {
        "format": loaded.format,
        "problems": problems,
        "globals": sorted(set(loaded.inert_globals))[:20],
    }
    tensors = torch_pickle.walk_tensors(obj)
    # Hugging Face training_args.bin: the TrainingArguments object, as plain data
    if isinstance(obj, torch_pickle.Inert) and not tensors:
        data = torch_pickle.plain(obj)
        if isinstance(data, dict) and isinstance(obj._state, dict):
            summary["settings"] = data
            emit({"summary": summary})
            return
    optimizers = _find(obj, _is_optimizer)
    schedulers = _find(obj, _is_scheduler)
    scalers = _find(obj, _is_scaler)
    opt_prefixes = [p for p, _ in optimizers]
    if isinstance(obj, dict) and obj and set(map(str, obj)) <= _RNG_KEYS and not optimizers:
        summary["rng_only"] = True
        emit({"summary": summary})
        return
    model = _model_tensors(obj, tensors, opt_prefixes, [p for p, _ in schedulers + scalers])
    weight_l2: dict[str, list[float]] = {}
    for name, t in model:
        problem = t.problem()
        if problem is not None:
            problems.append(f"'{name}': {problem}")
            continue
        s = _stats(name, t)
        if s.dtype.startswith(("float", "bfloat")):
            weight_l2.setdefault(s.layer, []).append(s.l2)
        emit({"tensor": _stats_json(s)})
    layer_l2 = {k: math.hypot(*v) for k, v in weight_l2.items()}
    summary["declared"] = len(model)
    summary["optimizers"] = [
        _optimizer_state(opt, path, model, layer_l2, emit, problems) for path, opt in optimizers[:4]
    ]
    summary["schedulers"] = [torch_pickle.plain(s, depth=3) for _, s in schedulers[:4]]
    summary["loss_scale"] = torch_pickle.finite_number(scalers[0][1].get("scale")) if scalers else None
    summary["step"] = _top_int(obj, _STEP_KEYS)
    summary["epoch"] = _top_int(obj, ("epoch", "epochs", "cur_epoch"))
    if isinstance(obj, dict) and isinstance(obj.get("hyper_parameters"), dict):
        summary["settings"] = torch_pickle.plain(obj["hyper_parameters"], depth=4)
    summary["declared"] = len(model)
    summary["other_tensors"] = (
        len(tensors) - len(model) - sum(1 for p, _ in tensors if any(_under(p, o) for o in opt_prefixes))
    )
    emit({"summary": summary})


def _work(path: Path, isolated: bool) -> isolation.Work:
    def work(emit: isolation.Emit) -> None:
        with _parsed(path, isolated) as loaded:
            _analyse(loaded, emit)

    return work


# ---------------------------------------------------------------- in the parent


def _tensor_stats(d: dict[str, Any]) -> TensorStats:
    d = dict(d)
    d["shape"] = tuple(int(x) for x in d["shape"])
    return TensorStats(**d)


def read_torch_checkpoint(path: Path, source: Source, *, isolate: bool | None = None) -> Checkpoint | Source:
    """Read one ``torch.save`` file: a Checkpoint, or a Source saying what it holds when that
    is nothing to analyse (RNG state, objects with no tensors) or why it was not read."""
    if path.suffix.lower() not in TORCH_SUFFIXES:
        return dataclasses.replace(source, status=Status.SKIPPED, note=SKIPPED_PICKLE)
    record = _read(path, source, isolate)
    if isinstance(record, ConfigData):
        return dataclasses.replace(
            record.source, note=f"holds only training settings ({record.raw.get('__class__', 'an object')})"
        )
    return record


def read_training_args(path: Path, source: Source, *, isolate: bool | None = None) -> ConfigData:
    """Hugging Face ``training_args.bin``: the ``TrainingArguments`` as settings."""
    record = _read(path, source, isolate)
    if not isinstance(record, ConfigData):
        raise UnreadableSource("holds no TrainingArguments object")
    return record


def _read(path: Path, source: Source, isolate: bool | None) -> Checkpoint | ConfigData | Source:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    try:
        with open_binary(path) as fh:
            head = fh.read(4)
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    if head[:2] != b"PK" and head[:1] != b"\x80":
        return dataclasses.replace(
            source, status=Status.SKIPPED, note="not a PyTorch checkpoint (neither a zip archive nor a pickle)"
        )
    isolated = isolation.ISOLATE if isolate is None else isolate
    # in the run's worker the file is read right here, its memory capped all the same
    limited = isolated or (isolate is None and isolation.IN_WORKER)
    timeout = isolation.deadline_for(size)
    outcome = isolation.run_isolated(_work(path, limited), timeout, isolate=isolated)
    tensors: list[TensorStats] = []
    opt_tensors: list[TensorStats] = []
    summary: dict[str, Any] | None = None
    for msg in outcome.messages:
        if not isinstance(msg, dict):
            continue
        if "tensor" in msg:
            tensors.append(_tensor_stats(msg["tensor"]))
        elif "optimizer_tensor" in msg:
            opt_tensors.append(_tensor_stats(msg["optimizer_tensor"]))
        elif "summary" in msg:
            summary = msg["summary"]
    if outcome.failure is not None or summary is None:
        if outcome.timed_out:
            raise UnreadableSource(f"reading it did not finish in {timeout:.0f} s")
        raise UnreadableSource(
            f"reading it exhausted the reader's {CHILD_MEMORY_BYTES >> 20} MiB memory limit or crashed it"
            f" ({len(tensors)} tensors read before)"
        )
    problems = [str(p) for p in summary.get("problems", [])]
    status = Status.PARTIAL if any(not p.startswith(("TorchScript", "big-endian")) for p in problems) else Status.OK
    note = summarize_problems(problems) if problems else None
    src = dataclasses.replace(source, status=status, note=note)
    if summary.get("rng_only"):
        return dataclasses.replace(src, note="random-number generator state only: nothing to analyse")
    settings = summary.get("settings")
    if settings is not None and not tensors and not summary.get("optimizers"):
        from forensics.readers.config import extract_settings

        cfg = extract_settings(settings if isinstance(settings, dict) else {})
        return dataclasses.replace(cfg, source=dataclasses.replace(src, kind=source.kind))
    if summary.get("declared") and not tensors and not summary.get("optimizers"):
        raise UnreadableSource(f"no tensor could be read: {summarize_problems(problems)}")
    holds = tensors or opt_tensors or summary.get("optimizers") or summary.get("schedulers")
    if not holds and summary.get("loss_scale") is None and settings is None:
        named = summary.get("globals") or []
        asks = f"; it names {', '.join(named[:5])}" if named else ""
        return dataclasses.replace(
            source,
            status=Status.SKIPPED,
            note=f"pickle with no tensors, optimizer state or settings (read as data, never executed{asks})",
        )
    return _checkpoint(src, summary, tensors, opt_tensors)


def _checkpoint(
    src: Source, summary: dict[str, Any], tensors: list[TensorStats], opt_tensors: list[TensorStats]
) -> Checkpoint:
    optimizer = None
    opts = summary.get("optimizers") or []
    scheds = summary.get("schedulers") or []
    if opts or scheds or summary.get("loss_scale") is not None:
        o = opts[0] if opts else {"name": None, "step": None, "groups": [], "layers": []}
        optimizer = OptimizerState(
            name=o["name"],
            step=o["step"],
            groups=tuple(
                ParamGroup(
                    lr=g["lr"],
                    params=g["params"],
                    momentum=g["momentum"],
                    betas=tuple(g["betas"]) if g["betas"] else None,
                    eps=g["eps"],
                    weight_decay=g["weight_decay"],
                    initial_lr=g["initial_lr"],
                )
                for g in o["groups"]
            ),
            layers=tuple(LayerUpdate(**u) for u in o["layers"]),
            scheduler=scheds[0] if scheds and isinstance(scheds[0], dict) else {},
            loss_scale=summary.get("loss_scale"),
        )
    lr = next((g.lr for g in optimizer.groups if g.lr is not None), None) if optimizer else None
    model = None
    if tensors or (optimizer is not None and optimizer.groups):
        model = ModelInfo(
            framework="pytorch",
            optimizer=optimizer.name if optimizer else None,
            learning_rate=lr,
            iterations=optimizer.step if optimizer else None,
        )
    step = summary.get("step")
    metadata: dict[str, str] = {"format": str(summary.get("format"))}
    if summary.get("settings") is not None:
        metadata["hyper_parameters"] = _short_json(summary["settings"])
    return Checkpoint(
        source=src,
        format=str(summary.get("format")),
        step=step,
        step_origin="internal" if step is not None else None,
        epoch=summary.get("epoch"),
        tensors=tuple(tensors),
        optimizer_tensors=tuple(opt_tensors),
        model=model,
        metadata=metadata,
        optimizer=optimizer,
    )


def _short_json(value: Any, limit: int = 4000) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
