"""End-to-end benchmark: ``forensics.analyze`` on a run with a long event file.

    python scripts/bench_analyze.py                 # 1M steps x 3 tags (3M events)
    python scripts/bench_analyze.py --steps 200000

Writes (in a temp dir, framed with our own TFRecord writer, as tensorboardX encodes
scalars) a run whose loss falls, then climbs geometrically and turns NaN at the last
5 % of the steps, with an LR and a grad-norm tag, then times the whole analysis in a
fresh subprocess and reports wall time, CPU time and peak RSS. Every event is read:
the NaN step must survive, so nothing is sampled away.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time
import forensics
t0, c0 = time.perf_counter(), time.process_time()
r = forensics.analyze(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "first_nonfinite_step": r.first_nonfinite_step,
                  "cause": r.verdict.cause, "detail": r.verdict.detail,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_run(run: Path, steps: int) -> int:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from forensics.readers.tfrecord import frame_record

    run.mkdir(parents=True, exist_ok=True)
    blow = int(steps * 0.95)
    nan_at = blow + min(200, steps // 40)
    ev = event_pb2.Event(summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value()]))
    with open(run / "events.out.tfevents.1700000000.bench", "wb") as f:
        f.write(frame_record(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString()))
        out = []
        for step in range(1, steps + 1):
            if step < blow:
                loss = 2.0 * math.exp(-step / (steps / 5)) + 0.1
            elif step < nan_at:
                loss = 0.1 * 1.15 ** (step - blow)
            else:
                loss = float("nan")
            lr = 3e-4 if step < blow - 1000 else 3e-3
            grad = 1.0 if step < blow else (1.15 ** min(step - blow, 400) if step < nan_at else float("nan"))
            for tag, x in (("train/loss", loss), ("train/lr", lr), ("train/grad_norm", grad)):
                ev.wall_time = 1.7e9 + step * 0.01
                ev.step = step
                ev.summary.value[0].tag = tag
                ev.summary.value[0].simple_value = x
                out.append(frame_record(ev.SerializeToString()))
            if len(out) >= 65536:
                f.write(b"".join(out))
                out.clear()
        f.write(b"".join(out))
    return nan_at


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_analyze_") as tmp:
        run = Path(tmp) / "run"
        nan_at = write_run(run, args.steps)
        size = sum(p.stat().st_size for p in run.iterdir())
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(run)], capture_output=True, text=True, cwd=ROOT, check=True
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(steps=args.steps, events=3 * args.steps, file_mb=size / 2**20, expected_first_nonfinite=nan_at)
    print(json.dumps(res, indent=2))
    return 0 if res["first_nonfinite_step"] == nan_at else 1


if __name__ == "__main__":
    raise SystemExit(main())
