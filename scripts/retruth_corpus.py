"""Rewrite a corpus manifest's first non-finite step fields in global steps (``scenarios/retruth.py``).

    python scripts/retruth_corpus.py --corpus corpus/            # show what would change
    python scripts/retruth_corpus.py --corpus corpus/ --write --backup old_manifest.jsonl

Only the truth's ``first_nonfinite_*`` fields of kept runs change (their ``first_nonfinite_unit``,
``global_step``, says they were revised); nothing is retrained. A corpus generated after this
change already holds them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.retruth import revise  # noqa: E402

FIELDS = (
    "first_nonfinite_step",
    "first_nonfinite_events",
    "first_nonfinite_log",
    "first_nonfinite_events_epoch",
    "first_nonfinite_log_epoch",
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--write", action="store_true", help="rewrite manifest.jsonl (atomically)")
    ap.add_argument("--backup", type=Path, help="where to copy the manifest before rewriting it")
    args = ap.parse_args()
    path = args.corpus / "manifest.jsonl"
    text = path.read_text(encoding="utf-8")
    out, changed = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        run_dir = args.corpus / row["scenario"]["name"]
        if row["status"] == "ok" and run_dir.is_dir() and "first_nonfinite_unit" not in row["truth"]:
            new = revise(row, run_dir)
            diff = {k: (row["truth"].get(k), new.get(k)) for k in FIELDS if row["truth"].get(k) != new.get(k)}
            if diff or any(k in new and k not in row["truth"] for k in FIELDS):
                changed += 1
                print(row["scenario"]["name"], diff)
            row["truth"] = new
        out.append(json.dumps(row) + "\n")
    print(f"{changed} kept runs' first non-finite fields change")
    if args.write:
        if args.backup:
            args.backup.write_text(text, encoding="utf-8")
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(out), encoding="utf-8")
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
