"""The JSON view: exactly the report contract (schema_version 1), plus extra fields.

Strict JSON (RFC 8259): non-finite numbers are written as the strings "NaN",
"Infinity", "-Infinity"; ``json.dumps(..., allow_nan=False)`` guarantees no bare
NaN token slips through.
"""

from __future__ import annotations

import json
import math
from typing import Any

from forensics.batches import StepData
from forensics.report.model import Report
from forensics.rules.spikes import last_good_checkpoint, spike_data
from forensics.util import json_number

SCHEMA_VERSION = 1


def _clean(x: Any) -> Any:
    """Recursively make a value strict-JSON safe."""
    if isinstance(x, float):
        return json_number(x)
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return _clean(x.item())
    return x


def report_dict(r: Report) -> dict[str, Any]:
    tl = r.timeline
    end = r.ending
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": r.tool_version,
        "run_dir": r.run_dir,
        "diverged": r.diverged,
        "first_nonfinite_step": r.first_nonfinite_step,
        "verdict": {
            "cause": r.verdict.cause,
            "detail": r.verdict.detail,
            # "evidence": a finding names the detail; "prior": none does (the likeliest for the cause)
            "detail_basis": r.verdict.detail_basis,
            "confidence": r.verdict.confidence,
            "summary": r.verdict.summary,
        },
        "candidates": [
            {
                "cause": c.cause,
                "detail": c.detail,
                "score": c.score,
                "evidence": [
                    {"rule": e.rule, "message": e.message, "step": e.step, "source": e.source, "weight": e.weight}
                    for e in c.evidence
                ],
            }
            for c in r.candidates
        ],
        "sources": [
            {"path": s.path, "kind": s.kind.value, "status": s.status.value, "note": s.note} for s in r.sources
        ],
        "recommendations": list(r.recommendations),
        "ended": end.ended,
        "crash": end.crash.to_dict() if end.crash is not None else None,
        # ---- extra fields (not part of the contract's required set)
        "fix": r.verdict.fix,
        "not_checked": list(r.not_checked),
        "problems": list(r.problems),
    }
    if tl is not None:
        nf = tl.first_nonfinite
        out["step_unit"] = nf.unit if nf is not None else (tl.loss.unit if tl.loss is not None else "step")
        out["first_nonfinite"] = (
            None
            if nf is None
            else {
                "series": nf.role,
                "tag": nf.tag,
                "source": nf.source,
                "step": nf.step,
                "value": nf.value,
                "last_finite_step": nf.last_finite_step,
                "last_finite_value": nf.last_finite_value,
                "logging_interval": None if math.isnan(nf.interval) else nf.interval,
            }
        )
        out["onset"] = (
            None
            if tl.onset is None
            else {
                "step": tl.onset.step,
                "loss": tl.onset.value,
                "end_step": tl.onset.end_step,
                "end_loss": tl.onset.end_value,
                "fold_per_step": tl.onset.fold_per_step,
            }
        )
        out["steps_per_epoch"] = tl.steps_per_epoch
        out["loss_spikes"] = [
            {
                "start_step": sp.start,
                "peak_step": sp.peak,
                "peak_loss": sp.peak_value,
                "baseline_loss": sp.baseline,
                "recovered_step": sp.recovered,
                "fatal": sp.fatal,
                "criteria": list(sp.criteria),
                "grad_norm_spike_step": sp.grad_lead,
                "data": _step_data(spike_data(tl, sp)),
            }
            for sp in tl.loss_spikes
        ]
        order = tl.data_order
        out["data_order"] = (
            None
            if order is None
            else {
                "steps_per_epoch": order.steps_per_epoch,
                "batch_size": order.batch_size,
                "gradient_accumulation_steps": order.grad_accum,
                "world_size": order.world_size,
                "num_samples": order.num_samples,
                "sampler": order.sampler,
                "seed": order.seed,
                "seed_per_epoch": order.seed_per_epoch,
                "first_step": order.first_step,
                "samples_missing": order.samples_missing(),
                "sources": {fact: path for fact, path in order.origins},
            }
        )
        out["spikes_accelerating"] = tl.spikes_accelerating
        resume = last_good_checkpoint(tl)
        out["last_good_checkpoint"] = (
            None
            if resume is None
            else {
                "path": resume.path,
                "step": resume.step,
                "before_step": resume.before,
                "advice": resume.advice,
                "skip_steps": list(resume.skip),
                "skip_from": _step_data(resume.skip_data[0]) if resume.skip_data else None,
                "skip_to": _step_data(resume.skip_data[1]) if resume.skip_data else None,
            }
        )
        fc = tl.first_nonfinite_checkpoint
        out["first_nonfinite_checkpoint"] = (
            None
            if fc is None
            else {
                "path": fc.path,
                "step": fc.step,
                "tensors": [
                    {"name": t.name, "layer": t.layer, "nan": t.nan, "inf": t.posinf + t.neginf}
                    for t in fc.nonfinite_tensors[:20]
                ],
            }
        )
        out["lr_changes"] = [
            {
                "step": c.step,
                "kind": c.kind,
                "before": c.before,
                "after": c.after,
                "loss_ratio_after": c.loss_ratio_after,
            }
            for c in tl.lr_changes
        ]
        out["relative_updates"] = [
            {
                "from_step": u.step_a,
                "to_step": u.step_b,
                "relative": u.relative,
                "per_step": u.per_step,
                "layers": {k: {"delta_l2": d, "base_l2": w} for k, (d, w) in u.layers.items()},
            }
            for u in tl.relative_updates
        ]
        out["layers"] = [
            {
                "layer": t.layer,
                "checkpoints": [
                    {"step": p.step, "l2": p.l2, "max_abs": p.absmax, "nonfinite": p.nonfinite, "source": p.source}
                    for p in t.points
                ],
                "growth": t.growth(),
            }
            for t in tl.layers
        ]
    return _clean(out)


def to_json(r: Report) -> str:
    return json.dumps(report_dict(r), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _step_data(d: StepData | None) -> dict[str, Any] | None:
    """Where a step sits in the data: epoch, micro-batches within it, samples (or what is missing)."""
    if d is None:
        return None
    return {
        "step": d.step,
        "epoch": d.epoch,
        "step_in_epoch": d.step_in_epoch,
        "first_batch": d.first_batch,
        "last_batch": d.last_batch,
        "samples": list(d.samples) if d.samples is not None else None,
        "missing": d.missing,
    }
