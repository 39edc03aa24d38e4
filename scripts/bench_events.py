"""Benchmark the event-file reader against tbparse.

    python scripts/bench_events.py                       # 1M events, tbparse on 100k
    python scripts/bench_events.py --events 200000 --tbparse-events 50000 --repeat 5

Writes an event file of scalar events the way tensorboardX's ``add_scalar``
does (one ``simple_value`` per Event, a few tags logged every step), or with
``--style tf2`` the way ``tf.summary.scalar`` / Keras do (a float32 tensor with
the scalars plugin's metadata), framed with our own TFRecord writer, then times:

* ``forensics.readers.events.read_event_file`` on the whole file;
* tbparse's ``SummaryReader(path).scalars`` on a smaller file of the same
  shape (tbparse is far slower), with TensorFlow importable (it then uses TF's
  record reader) and, optionally, without (its pure-Python fallback, which is
  what an environment without TensorFlow gets). Its rate is extrapolated to
  the large file, and the output says so.

Each measurement runs in a fresh subprocess (so no import or cache is shared)
and the best of ``--repeat`` runs is kept, wall and CPU time both: on a shared
machine the CPU time is the steadier number. Dev-only: needs tbparse.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAGS = ("train/loss", "train/lr", "train/grad_norm", "train/accuracy")

_CHILD_OURS = """
import json, resource, sys, time
from pathlib import Path
from forensics.readers.events import read_event_file
from forensics.records import Kind, Source
path = Path(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
data = read_event_file(path, Source(path=path.name, kind=Kind.EVENTS))
t1, c1 = time.perf_counter(), time.process_time()
n = sum(len(s) for s in data.scalars.values())
print(json.dumps({"events": n, "wall": t1 - t0, "cpu": c1 - c0,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CHILD_TBPARSE = """
import json, sys, time
if sys.argv[2] == "notf":
    sys.modules["tensorflow"] = None  # what tbparse sees where TensorFlow is not installed
from tbparse import SummaryReader
t0, c0 = time.perf_counter(), time.process_time()
reader = SummaryReader(sys.argv[1])
frame = reader.scalars if sys.argv[3] == "tensorboardx" else reader.tensors  # where TF2 scalars land
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"events": len(frame), "wall": t1 - t0, "cpu": c1 - c0}))
"""


def write_events(path: Path, n: int, style: str = "tensorboardx") -> None:
    """n scalar events, len(TAGS) per step (file_version first), encoded as ``style`` writes them.

    "tensorboardx": ``simple_value`` (tensorboardX, PyTorch, TF1).
    "tf2": a float32 tensor with the scalars plugin's metadata on every event (tf.summary.scalar, Keras).
    """
    import struct

    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

    from forensics.readers.tfrecord import frame_record

    with open(path, "wb") as f:
        f.write(frame_record(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString()))
        value = summary_pb2.Summary.Value()
        if style == "tf2":
            value.metadata.plugin_data.plugin_name = "scalars"
            value.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto()))
        ev = event_pb2.Event(summary=summary_pb2.Summary(value=[value]))
        out = []
        for i in range(n):
            step, k = divmod(i, len(TAGS))
            ev.wall_time = 1.7e9 + i * 0.002
            ev.step = step
            v = ev.summary.value[0]
            v.tag = TAGS[k]
            x = 1.0 / (1.0 + i) if i % 997 else float("nan")
            if style == "tf2":
                v.tensor.tensor_content = struct.pack("<f", x)
            else:
                v.simple_value = x
            out.append(frame_record(ev.SerializeToString()))
            if len(out) >= 65536:
                f.write(b"".join(out))
                out.clear()
        f.write(b"".join(out))


def run_child(code: str, *args: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(runs: list[dict]) -> dict:
    return {
        "events": runs[0]["events"],
        "wall": min(r["wall"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
        "maxrss_mb": max(r.get("maxrss_mb", 0.0) for r in runs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="scalar events in the big file")
    ap.add_argument("--tbparse-events", type=int, default=100_000, help="events in the file tbparse reads")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    ap.add_argument("--no-tbparse-without-tf", action="store_true", help="skip tbparse's pure-Python mode")
    ap.add_argument("--style", choices=["tensorboardx", "tf2"], default="tensorboardx", help="how scalars are encoded")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "events.out.tfevents.1.bench"
        small = Path(tmp) / "events.out.tfevents.2.bench"
        t = time.perf_counter()
        write_events(big, args.events, args.style)
        write_events(small, args.tbparse_events, args.style)
        print(f"wrote {args.style}-style {args.events:,} events ({big.stat().st_size / 2**20:.1f} MiB) and "
              f"{args.tbparse_events:,} events in {time.perf_counter() - t:.1f}s")  # fmt: skip
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

        # rounds interleave the readers, so a burst of load on a shared machine hits all of them alike
        modes = ["tf"] + ([] if args.no_tbparse_without_tf else ["notf"])
        jobs = {"big": (_CHILD_OURS, str(big)), "small": (_CHILD_OURS, str(small))}
        jobs.update({mode: (_CHILD_TBPARSE, str(small), mode, args.style) for mode in modes})
        runs: dict[str, list[dict]] = {name: [] for name in jobs}
        for _ in range(args.repeat):
            for name, (code, *child_args) in jobs.items():
                runs[name].append(run_child(code, *child_args))
        results = {name: best_of(r) for name, r in runs.items()}
        ours_big = results["big"]
        theirs = {mode: results[mode] for mode in modes}
        rows = [("forensics", args.events, ours_big), ("forensics", args.tbparse_events, results["small"])]
        for mode in modes:
            label = "tbparse (TF record reader)" if mode == "tf" else "tbparse (no TF: pure Python)"
            rows.append((label, args.tbparse_events, theirs[mode]))

    print()
    print(f"{'reader':32} {'events':>10} {'wall s':>8} {'cpu s':>8} {'events/s (wall)':>16} {'events/s (cpu)':>15}")
    for name, n, r in rows:
        print(f"{name:32} {n:>10,} {r['wall']:>8.3f} {r['cpu']:>8.3f} {n / r['wall']:>16,.0f} {n / r['cpu']:>15,.0f}")
    print(f"\nforensics peak RSS on the {args.events:,}-event file: {ours_big['maxrss_mb']:.0f} MB")
    for mode, r in theirs.items():
        rate_w, rate_c = r["events"] / r["wall"], r["events"] / r["cpu"]
        extrapolated = args.events / rate_w
        print(
            f"tbparse ({mode}) on {args.events:,} events, extrapolated linearly from {r['events']:,}: "
            f"{extrapolated:.1f}s wall. forensics is {ours_big['events'] / ours_big['wall'] / rate_w:.1f}x faster "
            f"(wall), {ours_big['events'] / ours_big['cpu'] / rate_c:.1f}x (cpu)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
