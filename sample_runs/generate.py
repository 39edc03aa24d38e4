"""Regenerate every sample run: real frameworks training tiny models into failure.

    pip install -e '.[samples]'
    python sample_runs/generate.py            # all runs
    python sample_runs/generate.py --only keras_lr_too_high --only torch_fp16_overflow
    python sample_runs/generate.py --framework keras

Everything is seeded; the data is made with numpy; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ["gen_keras", "gen_torch", "gen_hf", "gen_spikes"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("PYTHONHASHSEED", "0")


def _specs(framework: str | None):
    sys.path.insert(0, str(HERE))
    for mod_name in MODULES:
        if framework and not mod_name.endswith(framework):
            continue
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:
                continue
            raise
        yield from mod.RUNS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], help="run name (repeatable)")
    ap.add_argument("--framework", choices=["keras", "torch", "hf", "spikes"], help="only one generator module")
    args = ap.parse_args()

    manifest_path = HERE / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"runs": {}}
    for spec in _specs(args.framework):
        if args.only and spec.name not in args.only:
            continue
        run_dir = HERE / spec.name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir()
        t0 = time.time()
        print(f"[generate] {spec.name} ...", flush=True)
        result = spec.build(run_dir)
        manifest["runs"][spec.name] = {
            "framework": spec.framework,
            "cause": spec.cause,
            "detail": spec.detail,
            "injection": spec.injection,
            **result,
        }
        print(f"[generate] {spec.name} done in {time.time() - t0:.1f}s: {result}", flush=True)
    manifest["runs"] = dict(sorted(manifest["runs"].items()))
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
