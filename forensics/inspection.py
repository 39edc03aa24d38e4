"""`forensics inspect`: what each artifact of a run is, whether it was read, and what is in it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from forensics.load import RunData
from forensics.records import Checkpoint, OptimizerState, ScalarSeries, Source, Status, StoreRun, TensorStats
from forensics.report.escape import one_line
from forensics.util import fmt_num, human_bytes, json_number


def first_nonfinite_step(series: ScalarSeries) -> int | None:
    bad = ~np.isfinite(series.values)
    if not bad.any():
        return None
    return int(series.steps[int(np.argmax(bad))])


def _series_summary(s: ScalarSeries) -> dict[str, Any]:
    n = len(s)
    return {
        "tag": s.tag,
        "run": s.run,
        "points": n,
        "first_step": int(s.steps.min()) if n else None,
        "last_step": int(s.steps.max()) if n else None,
        "first_nonfinite_step": first_nonfinite_step(s) if n else None,
    }


def _store_run_json(r: StoreRun) -> dict[str, Any]:
    """One run of a metrics store (MLflow database, W&B run file), every series of it."""
    return {
        "id": r.id,
        "name": r.name,
        "experiment": r.experiment,
        "status": r.status,
        "exit_code": r.exit_code,
        "analysed": r.analysed,
        "start_time": json_number(r.start_time),
        "end_time": json_number(r.end_time),
        "params": dict(r.params),
        "tags": dict(r.tags),
        "scalars": [_series_summary(s) for s in r.scalars.values()],
    }


def _checkpoint_summary(c: Checkpoint) -> dict[str, Any]:
    nbytes = sum(t.numel * _itemsize(t.dtype) for t in c.tensors)
    bad = [t for t in c.tensors if t.nonfinite]
    out: dict[str, Any] = {
        "format": c.format,
        "step": c.step,
        "step_origin": c.step_origin,
        "epoch": c.epoch,
        "tensors": len(c.tensors),
        "parameters": sum(t.numel for t in c.tensors),
        "tensor_bytes": nbytes,
        "nonfinite_tensors": len(bad),
        "first_nonfinite_tensor": bad[0].name if bad else None,
        "max_abs": json_number(max((t.absmax for t in c.tensors if not math.isnan(t.absmax)), default=math.nan)),
    }
    out["tensor_stats"] = [_tensor_json(t) for t in c.tensors]
    if c.optimizer_tensors:
        out["optimizer_tensor_stats"] = [_tensor_json(t) for t in c.optimizer_tensors]
    if c.optimizer is not None:
        out["optimizer"] = _optimizer_json(c.optimizer)
    if c.shards:
        out["shards"] = list(c.shards)
    if c.model is not None:
        m = c.model
        out["model"] = {
            "framework": m.framework,
            "layers": len(m.layers),
            "output_units": m.output_units,
            "output_activation": m.output_activation,
            "loss": m.loss,
            "optimizer": m.optimizer,
            "learning_rate": json_number(m.learning_rate),
            "iterations": m.iterations,
        }
    return out


def _tensor_json(t: TensorStats) -> dict[str, Any]:
    return {
        "name": t.name,
        "layer": t.layer,
        "dtype": t.dtype,
        "shape": list(t.shape),
        "l2": json_number(t.l2),
        "min": json_number(t.min),
        "max": json_number(t.max),
        "nonfinite": t.nonfinite,
    }


def _optimizer_json(o: OptimizerState) -> dict[str, Any]:
    return {
        "name": o.name,
        "step": o.step,
        "loss_scale": json_number(o.loss_scale),
        "param_groups": [
            {
                "lr": json_number(g.lr),
                "params": g.params,
                "momentum": json_number(g.momentum),
                "betas": [json_number(b) for b in g.betas] if g.betas else None,
                "eps": json_number(g.eps),
                "weight_decay": json_number(g.weight_decay),
                "initial_lr": json_number(g.initial_lr),
            }
            for g in o.groups
        ],
        "layer_updates": [
            {
                "layer": u.layer,
                "kind": u.kind,
                "update_l2": json_number(u.update_l2),
                "weight_l2": json_number(u.weight_l2),
                "update_to_weight": json_number(u.ratio),
                "second_moment_near_eps": json_number(u.near_eps),
            }
            for u in o.layers
        ],
        "scheduler": _strict(o.scheduler),
    }


def _strict(value: Any) -> Any:
    """Plain data with non-finite floats as strings (strict JSON)."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value


_ITEMSIZE = {"float64": 8, "int64": 8, "uint64": 8, "float32": 4, "int32": 4, "uint32": 4, "float16": 2}


def _itemsize(dtype: str) -> int:
    if dtype in _ITEMSIZE:
        return _ITEMSIZE[dtype]
    if dtype.startswith(("bfloat16", "int16", "uint16")):
        return 2
    if dtype.startswith(("float8", "int8", "uint8", "bool")):
        return 1
    return 4


def _source_json(s: Source) -> dict[str, Any]:
    return {"path": s.path, "kind": s.kind.value, "status": s.status.value, "note": s.note, "size": s.size}


def inventory_json(run: RunData) -> dict[str, Any]:
    """The inventory as plain JSON-able data (strict: non-finite numbers as strings)."""
    details: dict[str, dict[str, Any]] = {}
    for ev in run.events:
        details[ev.source.path] = {
            "run": ev.run,
            "records": ev.records,
            "skipped_records": ev.skipped_records,
            "skipped_bytes": ev.skipped_bytes,
            "checksums_verified": ev.checksums_verified,
            "restarts": [{"from_step": r.from_step, "to_step": r.to_step} for r in ev.restarts],
            "scalars": [_series_summary(s) for s in ev.scalars.values()],
            "histograms": [
                {
                    "tag": h.tag,
                    "points": len(h),
                    "first_step": int(h.steps.min()) if len(h) else None,
                    "last_step": int(h.steps.max()) if len(h) else None,
                    "first_nonfinite_step": int(h.steps[int(np.argmax(h.nonfinite))]) if h.nonfinite.any() else None,
                }
                for h in ev.histograms.values()
            ],
            "texts": len(ev.texts),
            "hparams": {k: json_number(v) if isinstance(v, float) else v for k, v in ev.hparams.items()},
        }
    for c in run.checkpoints:
        details[c.source.path] = _checkpoint_summary(c)
    for log in run.logs:
        details[log.source.path] = {
            "scalars": [_series_summary(s) for s in log.scalars.values()],
            "events": [
                {
                    "kind": e.kind,
                    "line": e.line,
                    "step": e.step,
                    "framework": e.framework,
                    "label": e.label,
                    "classes": e.classes,
                    "op": e.op,
                    "message": e.message,
                }
                for e in log.events
            ],
            "died_with_exception": log.died_with_exception,
            "last_step": log.last_step,
        }
        if log.store_runs:
            details[log.source.path]["store_status"] = log.store_status
            details[log.source.path]["exit_code"] = log.exit_code
            details[log.source.path]["runs"] = [_store_run_json(r) for r in log.store_runs]
    for ts in run.trainer_states:
        details[ts.source.path] = {
            "global_step": ts.global_step,
            "scalars": [_series_summary(s) for s in ts.scalars.values()],
            "checkpoints": list(ts.checkpoints),
        }
    for cfg in run.configs:
        settings = {
            k: json_number(v) if isinstance(v, float) else v
            for k, v in {
                "learning_rate": cfg.learning_rate,
                "optimizer": cfg.optimizer,
                "batch_size": cfg.batch_size,
                "grad_clip": cfg.grad_clip,
                "mixed_precision": cfg.mixed_precision,
                "loss": cfg.loss,
                "num_classes": cfg.num_classes,
            }.items()
            if v is not None
        }
        if cfg.source.path in details:  # a metrics store's params, beside its series
            details[cfg.source.path]["settings"] = settings
        else:
            details[cfg.source.path] = settings
    for ds in run.data_samples:
        details[ds.source.path] = {
            "arrays": [
                {
                    "name": a.name,
                    "dtype": a.dtype,
                    "shape": list(a.shape),
                    "nan": a.nan,
                    "inf": a.posinf + a.neginf,
                    "min": json_number(a.min),
                    "max": json_number(a.max),
                }
                for a in ds.arrays
            ],
            "labels": None
            if ds.labels is None
            else {
                "array": ds.labels.array,
                "min": ds.labels.min,
                "max": ds.labels.max,
                "negative": ds.labels.negative,
                "classes": len(ds.labels.classes),
            },
        }
    sources = []
    for s in run.sources:
        entry = _source_json(s)
        if s.path in details:
            entry["contents"] = details[s.path]
        sources.append(entry)
    return {
        "run_dir": run.given,
        "sources": sources,
        "ignored_files": run.ignored_files,
        "problems": run.problems,
    }


def _optimizer_line(o: dict[str, Any]) -> str:
    bits = [f"optimizer {o['name'] or 'unknown'}"] if o["param_groups"] else []
    if o["step"] is not None:
        bits.append(f"step {o['step']}")
    lrs = [g["lr"] for g in o["param_groups"] if g["lr"] is not None]
    if lrs:
        bits.append("lr " + "/".join(fmt_num(lr) for lr in lrs))
    if o["loss_scale"] is not None:
        bits.append(f"loss scale {fmt_num(o['loss_scale'])}")
    ratios = [u for u in o["layer_updates"] if isinstance(u["update_to_weight"], float)]
    if ratios:
        top = max(ratios, key=lambda u: u["update_to_weight"])
        bits.append(f"largest next step {fmt_num(top['update_to_weight'])} of the weights ({top['layer']})")
    near = [
        u["layer"]
        for u in o["layer_updates"]
        if isinstance(u["second_moment_near_eps"], float) and u["second_moment_near_eps"] > 0.5
    ]
    if near:
        bits.append(f"second moment near eps in {len(near)} layers (first: {near[0]})")
    if o["scheduler"].get("last_epoch") is not None:
        bits.append(f"scheduler at {o['scheduler']['last_epoch']}")
    return ", ".join(bits) or "optimizer state: empty"


def _fmt_step(v: int | None) -> str:
    return "-" if v is None else str(v)


def _scalar_line(s: dict[str, Any], indent: str) -> str:
    nf = f"  first non-finite at step {s['first_nonfinite_step']}" if s["first_nonfinite_step"] is not None else ""
    width = 34 - len(indent)
    return (
        f"{indent}scalar {s['tag']:<{width}} steps {_fmt_step(s['first_step'])}..{_fmt_step(s['last_step'])}"
        f"  ({s['points']} points){nf}"
    )


def inventory_text(run: RunData) -> str:
    """A plain-text inventory for the terminal."""
    counts: dict[str, int] = {}
    for s in run.sources:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    status_line = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    lines = [f"{run.given}: {len(run.sources)} artifacts ({status_line}); {run.ignored_files} other files ignored"]
    data = inventory_json(run)
    for entry in data["sources"]:
        head = f"{entry['path']}  [{entry['kind']}, {human_bytes(entry['size'])}]  {entry['status']}"
        if entry["status"] != Status.OK.value or entry["note"]:
            head += f": {entry['note']}"
        lines.append("")
        lines.append(head)
        c = entry.get("contents")
        if not c:
            continue
        if "scalars" in c and "records" in c:  # event file
            extra = (
                f"  ({c['skipped_records']} records / {c['skipped_bytes']} bytes skipped)" if c["skipped_bytes"] else ""
            )
            lines.append(f"  sub-run '{c['run'] or '.'}', {c['records']} records{extra}")
            for r in c["restarts"]:
                lines.append(f"  restart: step {r['from_step']} -> {r['to_step']} (earlier events kept)")
        if "scalars" in c:
            lines.extend(_scalar_line(s, "  ") for s in c["scalars"])
        for h in c.get("histograms", []):
            nf = (
                f"  first non-finite at step {h['first_nonfinite_step']}"
                if h["first_nonfinite_step"] is not None
                else ""
            )
            lines.append(
                f"  histogram {h['tag']:<29} steps {_fmt_step(h['first_step'])}..{_fmt_step(h['last_step'])}"
                f"  ({h['points']} points){nf}"
            )
        if "tensors" in c:
            step = f"step {c['step']} ({c['step_origin']})" if c["step"] is not None else "step unknown"
            if c.get("epoch") is not None:
                step += f", epoch {c['epoch']}"
            nf = f", first: {c['first_nonfinite_tensor']}" if c["first_nonfinite_tensor"] else ""
            lines.append(
                f"  {c['format']}: {step}, {c['tensors']} tensors, {c['parameters']:,} parameters, "
                f"{human_bytes(c['tensor_bytes'])}; {c['nonfinite_tensors']} with non-finite values{nf}"
            )
            if c.get("model"):
                m = c["model"]
                bits = [
                    f"{k} {fmt_num(v) if isinstance(v, float) else v}"
                    for k, v in m.items()
                    if v is not None and k != "framework"
                ]
                lines.append(f"  model ({m['framework'] or 'unknown'}): " + ", ".join(bits))
            if c.get("optimizer"):
                lines.append("  " + _optimizer_line(c["optimizer"]))
        for r in c.get("runs", []):
            mark = " (analysed)" if r["analysed"] else ""
            lines.append(f"  run {r['name']} [{r['status']}]{mark}: {len(r['scalars'])} series")
            if not r["analysed"]:  # the analysed run's series are listed above
                lines.extend(_scalar_line(s, "    ") for s in r["scalars"])
        for e in c.get("events", []):
            at = f" at step {e['step']}" if e["step"] is not None else ""
            lines.append(f"  line {e['line']}: {e['kind']}{at}: {e['message'][:160]}")
        if "global_step" in c:
            lines.append(f"  global step {c['global_step']}; checkpoints: {', '.join(c['checkpoints']) or '-'}")
        if "arrays" in c:
            for a in c["arrays"]:
                lines.append(
                    f"  array {a['name']}: {a['dtype']} {tuple(a['shape'])}, range {a['min']}..{a['max']}, "
                    f"{a['nan']} NaN, {a['inf']} Inf"
                )
            if c.get("labels"):
                lab = c["labels"]
                lines.append(
                    f"  labels '{lab['array']}': {lab['classes']} classes, min {lab['min']}, max {lab['max']}, "
                    f"{lab['negative']} negative"
                )
        if c.get("settings"):
            lines.append("  settings: " + ", ".join(f"{k}={v}" for k, v in c["settings"].items()))
        if entry["kind"] in ("config", "mlflow_param", "training_args"):
            settings = ", ".join(f"{k}={v}" for k, v in c.items())
            lines.append(f"  {settings}")
    if run.problems:
        lines.append("")
        lines.append("problems while walking the directory:")
        lines.extend(f"  {p}" for p in run.problems)
    # names, notes and log lines come from the run: each line stays one line, controls visible
    return "\n".join(one_line(line) for line in lines) + "\n"
