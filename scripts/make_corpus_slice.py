"""Copy a few runs of a generated corpus into the committed slice, with their manifest lines.

    python scripts/make_corpus_slice.py --corpus corpus/ NAME [NAME ...]

Each named run folder is copied into ``tests/fixtures/corpus_slice/`` (``--out``) and its
manifest line appended to the slice's manifest (a run already there is replaced). The
slice's text files (job logs) then have the generating machine's paths in their tracebacks
replaced by neutral ones: ``.../site-packages/`` and ``.../scenarios/`` keep only their tail.
Binary files are copied as they are. ``tests/test_corpus.py`` checks the slice's size.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = (".out", ".log", ".txt", ".err")
# a traceback's absolute path up to a directory whose tail says enough
_PATHS = (
    (re.compile(r"""/[^\s"':]*?/site-packages/"""), "/opt/venv/lib/python3/site-packages/"),
    (re.compile(r"""/[^\s"':]*?/scenarios/"""), "/opt/forensics/scenarios/"),
)


def scrub(text: str) -> str:
    for pattern, neutral in _PATHS:
        text = pattern.sub(neutral, text)
    return text


def rows_by_name(manifest: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["scenario"]["name"]] = row  # the last line of a name wins, as make_corpus resumes
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "corpus_slice")
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    source = rows_by_name(args.corpus / "manifest.jsonl")
    args.out.mkdir(parents=True, exist_ok=True)
    slice_rows = rows_by_name(args.out / "manifest.jsonl")
    for name in args.names:
        row = source.get(name)
        if row is None or row["status"] != "ok" or not (args.corpus / name).is_dir():
            raise SystemExit(f"{name}: not a finished run of {args.corpus}")
        shutil.rmtree(args.out / name, ignore_errors=True)
        shutil.copytree(args.corpus / name, args.out / name)
        slice_rows[name] = row
    with open(args.out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for name in sorted(slice_rows):
            f.write(json.dumps(slice_rows[name]) + "\n")
    for path in args.out.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            clean = scrub(text)
            if clean != text:
                path.write_text(clean, encoding="utf-8", errors="surrogateescape")
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(slice_rows)} runs in {args.out}, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
