"""Generate the scenario corpus: real small trainings with injected faults, and their ground truth.

    python scripts/make_corpus.py --n 320 --seed 0 --out corpus/

Scenarios are drawn from the randomised matrix in ``scenarios/matrix.py`` (seeded: the same
``--n``/``--seed`` always give the same scenarios) and trained in worker processes, many per
process so each framework is imported once (``--chunk``). Each run lands in ``OUT/<name>/``;
``OUT/manifest.jsonl`` holds one line per scenario with its ground truth (cause, detail,
first non-finite step as logged, how the job ended) and its split (dev/test). A scenario
whose fault did not bite after three tries (magnitude raised each time) is recorded as
``dropped`` and has no folder. Re-running with the same ``--out`` skips what is done.

``--from-manifest M`` trains the scenarios listed in another corpus's manifest instead of drawing
them, exactly as they were recorded (each line holds its whole scenario): a corpus stays
reproducible after the matrix changes.
Needs the ``samples`` extra (torch, lightning, tensorflow, tf-keras, transformers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.matrix import FRAMEWORKS, Scenario, draw  # noqa: E402

WORKERS = {
    "torch": "scenarios.torch_worker",
    "lightning": "scenarios.torch_worker",
    "keras3": "scenarios.keras_worker",
    "tfkeras": "scenarios.keras_worker",
    "tf2": "scenarios.keras_worker",
    "hf": "scenarios.hf_worker",
}


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    if args.from_manifest is None:
        return draw(args.n, args.seed)
    rows = [json.loads(line) for line in args.from_manifest.read_text().splitlines() if line.strip()]
    # each row holds the scenario as it last trained (a retried one with its raised magnitude)
    picked = {}
    for r in rows:
        sc = r.get("scenario", r)
        picked.setdefault(sc["name"], Scenario.from_json(sc))
    return list(picked.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset to train now")
    ap.add_argument("--max-per-framework", type=int, default=None, help="train at most this many of each now")
    ap.add_argument("--chunk", type=int, default=25, help="scenarios per worker process")
    ap.add_argument("--match", default=None, help="train only the scenarios whose name matches this regex")
    ap.add_argument("--redo", action="store_true", help="train the --match scenarios again (their old lines go)")
    ap.add_argument("--from-manifest", type=Path, default=None, help="train the scenarios this manifest lists")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.jsonl"
    done = set()
    if manifest.exists():
        done = {json.loads(line)["scenario"]["name"] for line in manifest.read_text().splitlines() if line.strip()}
    wanted = set(args.frameworks.split(","))
    if args.redo and not args.match:
        ap.error("--redo needs --match")
    redo = args.redo and args.match
    todo = [sc for sc in scenarios(args) if sc.framework in wanted and (sc.name not in done or redo)]
    if args.match:
        todo = [sc for sc in todo if re.search(args.match, sc.name)]
    if args.max_per_framework is not None:
        seen: dict[str, int] = {}
        kept = []
        for sc in todo:
            seen[sc.framework] = seen.get(sc.framework, 0) + 1
            if seen[sc.framework] <= args.max_per_framework:
                kept.append(sc)
        todo = kept
    if redo and todo and manifest.exists():
        # the old lines of what is trained again go (atomically): every reader sees one line a run
        again = {sc.name for sc in todo}
        lines = [line for line in manifest.read_text().splitlines() if line.strip()]
        lines = [line for line in lines if json.loads(line)["scenario"]["name"] not in again]
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, manifest)
    by_worker: dict[str, list] = {}
    for sc in todo:
        # keras3 and tf.keras cannot share a process (TF_USE_LEGACY_KERAS is read at import)
        key = WORKERS[sc.framework] + ("+legacy" if sc.framework == "tfkeras" else "")
        by_worker.setdefault(key, []).append(sc)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               TF_NUM_INTRAOP_THREADS="1", TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="1")  # fmt: skip
    t0 = time.time()
    for key, scs in by_worker.items():
        module, _, legacy = key.partition("+")
        wenv = dict(env, TF_USE_LEGACY_KERAS="1" if legacy else "0")
        for i in range(0, len(scs), args.chunk):
            part = scs[i : i + args.chunk]
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
                for sc in part:
                    f.write(json.dumps(sc.to_json()) + "\n")
            print(
                f"[{time.time() - t0:6.0f} s] {module}{' (tf.keras)' if legacy else ''}: {len(part)} scenarios",
                flush=True,
            )
            subprocess.run([sys.executable, "-m", module, f.name, str(out), str(manifest)], env=wenv, check=False)
            os.unlink(f.name)
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    ok = sum(r["status"] == "ok" for r in rows)
    print(f"{ok} runs made, {len(rows) - ok} dropped, in {time.time() - t0:.0f} s; manifest: {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
