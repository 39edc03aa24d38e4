"""List the runs behind one cell of the corpus's cause confusion, with what each kept.

    python scripts/confusion_misses.py --corpus CORPUS data_or_labels:numerical_instability data_or_labels:healthy
    python scripts/confusion_misses.py --corpus CORPUS --cache dev.jsonl exploding_weights:numerical_instability

Each ``TRUTH:VERDICT`` names a cell of the confusion matrix that ``scripts/accuracy.py`` prints
(rows: the true cause, columns: the verdict's). For every run of the split in that cell, the
analyzer is run again (as ``forensics analyze`` does) and a row shows what a reader of the report
would need to judge the miss: the evidence the scenario kept, the first non-finite value (NaN or
Inf, its step, and the last finite loss before it, or "first point" when none was logged), the
findings of every rule that spoke (``RULE:cause:weight``) and the context findings (weight 0), and
whether any finding spoke for the true cause. A miss where none did is one no rule read a source
for: the kept sources may still hold it (a rule to write), or hold nothing that separates the
causes (then the verdict's confidence and runner-up should say so). ``--cache`` reuses the
verdicts of an ``accuracy.py --cache`` file to pick the runs; without it every run of the split
is analysed to find them. Tune on the dev split only (the default); the test split is for reports.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from accuracy import load_manifest  # noqa: E402

from forensics import analyze  # noqa: E402


def _value(v: Any) -> str:
    """A non-finite value as the report's JSON writes it ('NaN', 'Infinity'), or a number."""
    if isinstance(v, str):
        return {"Infinity": "+Inf", "-Infinity": "-Inf"}.get(v, v)
    if v is None:
        return "-"
    return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf") if math.isinf(v) else f"{v:.4g}"


def describe(run_dir: Path, truth_cause: str) -> dict[str, Any]:
    """What the analyzer's report says of one run: first non-finite value, findings, verdict."""
    d = analyze(run_dir).to_dict()
    nf = d.get("first_nonfinite")
    if nf:
        before = (
            f"last finite {_value(nf['last_finite_value'])} at {nf['last_finite_step']}"
            if nf.get("last_finite_step") is not None
            else "first point"
        )
        first = f"{nf['series']} {_value(nf['value'])} at {nf['step']} ({before})"
    else:
        first = "none logged"
    spoke, context = [], []
    for cand in d["candidates"]:
        for e in cand["evidence"]:
            if e["weight"]:
                spoke.append(f"{e['rule']}:{cand['cause']}:{e['weight']:+.2f}")
            else:
                context.append(e["rule"])
    for_truth = any(
        e["weight"] > 0 for cand in d["candidates"] if cand["cause"] == truth_cause for e in cand["evidence"]
    )
    v = d["verdict"]
    runner = next((c["cause"] for c in d["candidates"] if c["cause"] != v["cause"]), None)
    return {
        "verdict": f"{v['cause']}/{v.get('detail') or '-'}",
        "confidence": v["confidence"],
        "runner_up": runner,
        "first_nonfinite": first,
        "spoke": sorted(set(spoke)),
        "context": sorted(set(context)),
        "for_truth": for_truth,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cells", nargs="+", metavar="TRUTH:VERDICT", help="cells of the cause confusion")
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--cache", type=Path, help="an accuracy.py --cache file: its verdicts pick the runs")
    args = ap.parse_args(argv)
    cells = []
    for c in args.cells:
        truth, sep, verdict = c.partition(":")
        if not sep or not truth or not verdict:
            ap.error(f"'{c}' is not TRUTH:VERDICT (e.g. data_or_labels:healthy)")
        cells.append((truth, verdict))
    rows = [r for r in load_manifest(args.corpus) if args.split == "all" or r["scenario"]["split"] == args.split]
    said: dict[str, str] = {}
    if args.cache is not None:
        for line in args.cache.read_text().splitlines():
            if line.strip():
                res = json.loads(line)
                said[res["name"]] = res["cause"]
    for truth, verdict in cells:
        found = []
        for r in rows:
            sc = r["scenario"]
            if sc["cause"] != truth:
                continue
            if said and said.get(sc["name"], verdict) != verdict:
                continue
            info = describe(args.corpus / sc["name"], truth)
            if info["verdict"].split("/")[0] == verdict:
                found.append((sc, info))
        print(f"\n## {truth} called {verdict}: {len(found)} runs ({args.split})\n")
        kept = Counter(sc["evidence"] for sc, _ in found)
        print("evidence kept: " + ", ".join(f"{k} {n}" for k, n in sorted(kept.items())))
        print(f"a finding spoke for {truth}: {sum(i['for_truth'] for _, i in found)} of {len(found)}\n")
        print("| run | truth detail | kept | first non-finite | findings (rule:cause:weight) | context | verdict |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for sc, i in found:
            print(
                f"| {sc['name']} | {sc['detail'] or sc.get('lookalike') or '-'} | {sc['evidence']} "
                f"| {i['first_nonfinite']} | {' '.join(i['spoke']) or '-'} | {' '.join(i['context']) or '-'} "
                f"| {i['verdict']} {i['confidence']:.2f}, runner-up {i['runner_up']} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
