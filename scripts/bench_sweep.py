"""Sweep benchmark: one ``forensics analyze`` call on a folder of many small runs against
one invocation per run (the shell loop the issue started from).

    python scripts/bench_sweep.py                    # 200 runs, every one of the 200 invocations timed
    python scripts/bench_sweep.py --separate 20      # time 20 invocations, scale the mean to 200

The runs are copies of the real PyTorch learning-rate sweep in tests/fixtures/sweep
(event file, config.json, four safetensors checkpoints each; half of them diverge),
renamed run_000 ... run_199 in a temp dir. Both sides run the CLI in fresh processes
with ``--format json`` and the output discarded, so start-up is counted on both
sides, as a user pays it. Prints wall and CPU (children) seconds and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "sweep"


def make_sweep(dest: Path, runs: int) -> list[Path]:
    sources = sorted(p for p in FIXTURE.iterdir() if p.is_dir())
    out = []
    for i in range(runs):
        target = dest / f"run_{i:03d}"
        shutil.copytree(sources[i % len(sources)], target)
        out.append(target)
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0, _children_cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--separate", type=int, default=None, help="invocations to time (default: all runs)")
    ap.add_argument("--jobs", type=int, default=None, help="-j for the sweep call (default: all cores)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "forensics", "analyze"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = make_sweep(Path(tmp) / "sweep", args.runs)
        jobs = ["-j", str(args.jobs)] if args.jobs else []
        sweep_wall, sweep_cpu = timed([*cli, str(Path(tmp) / "sweep"), "--format", "json", *jobs], env)
        n = min(args.separate or args.runs, args.runs)
        step = max(1, args.runs // n)
        picked = runs[::step][:n]
        walls, cpus = zip(*(timed([*cli, str(r), "--format", "json"], env) for r in picked), strict=True)
        scale = args.runs / len(picked)
        loop_wall, loop_cpu = sum(walls) * scale, sum(cpus) * scale
    result = {
        "runs": args.runs,
        "cores": os.cpu_count(),
        "sweep_call": {"wall_s": round(sweep_wall, 2), "cpu_s": round(sweep_cpu, 2)},
        "separate_invocations": {
            "timed": len(picked),
            "wall_s": round(loop_wall, 2),
            "cpu_s": round(loop_cpu, 2),
            "per_run_wall_s": round(sum(walls) / len(picked), 3),
        },
        "ratio_wall": round(sweep_wall / loop_wall, 3),
        "ratio_cpu": round(sweep_cpu / loop_cpu, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
