"""Benchmark the TensorFlow checkpoint reader against a plain read of the same bytes.

    python scripts/bench_tf_checkpoint.py                # 1 GiB float32 bundle, best of 3
    python scripts/bench_tf_checkpoint.py --mb 2048 --repeat 5

Writes, in a temporary directory and with TensorFlow itself (the samples extra), a
``tf.train.Checkpoint`` of ``--mb`` MiB of random normal float32 variables cut into
``--tensor-mb`` MiB each. Then it times, each in a fresh subprocess and interleaved
round by round:

* ``read_tf_checkpoint`` (our reader: the index, every tensor's statistics streamed
  from the data shard by offset, CRC32C checked);
* a plain read of the data shard in 4 MiB ``os.read`` calls (the I/O floor);
* the plain read plus one numpy float64 sum per 1 Mi-element chunk (a compute floor);
* ``tf.train.load_checkpoint`` + ``get_tensor`` of every variable + the same
  statistics over it (what a user with TensorFlow installed would write).

Peak RSS is the measuring process's ``VmHWM``. Files are in the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20

_WRITE = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
prefix, mb, tensor_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
n = tensor_mb * (1 << 20) // 4
variables = {f"layer_{i}": tf.Variable(rng.standard_normal(n, dtype=np.float32)) for i in range(mb // tensor_mb)}
tf.train.Checkpoint(**variables).write(prefix)
"""

_CHILD = r"""
import json, os, resource, sys, time
job, path = sys.argv[1], sys.argv[2]
import numpy as np
from pathlib import Path
from forensics.readers.tensorstats import StatsAccumulator, array_chunks

def hwm_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

if job == "tensorflow":
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
if job == "ours":
    from forensics.readers.tf_checkpoint import read_tf_checkpoint
    from forensics.records import Kind, Source
t0, c0 = time.perf_counter(), time.process_time()
if job == "ours":
    ckpt = read_tf_checkpoint(Path(path + ".index"), Source("x.index", Kind.TF_CHECKPOINT))
    n = len(ckpt.tensors)
elif job == "tensorflow":
    reader = tf.train.load_checkpoint(path)
    n = 0
    for key in reader.get_variable_to_shape_map():
        if key.startswith("layer_"):
            value = reader.get_tensor(key)
            acc = StatsAccumulator(key, "float32", value.shape)
            for chunk in array_chunks(value):
                acc.update(chunk)
            acc.result()
            n += 1
            del value
else:
    fd = os.open(path + ".data-00000-of-00001", os.O_RDONLY)
    n = 0
    while True:
        block = os.read(fd, 4 << 20)
        if not block:
            break
        if job == "read+sum":
            x = np.frombuffer(block[: len(block) - len(block) % 4], dtype=np.float32)
            float(np.add.reduce(x.astype(np.float64)))
        n += 1
    os.close(fd)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"job": job, "wall": wall, "cpu": cpu, "hwm_mb": hwm_kb() / 1024, "n": n}))
"""

JOBS = ("ours", "read", "read+sum", "tensorflow")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--tensor-mb", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_tf_"))
    try:
        prefix = str(tmp / "bundle")
        subprocess.run([sys.executable, "-c", _WRITE, prefix, str(args.mb), str(args.tensor_mb)], check=True)
        size = sum(p.stat().st_size for p in tmp.iterdir())
        print(f"bundle: {size / MIB:.0f} MiB in {len(list(tmp.iterdir()))} files")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for job in JOBS:
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, job, prefix], env=env, capture_output=True, text=True, check=True
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if job not in best or r["wall"] < best[job]["wall"]:
                    best[job] = r
        print(f"best of {args.repeat}, {os.cpu_count()} cores")
        print("| reader | wall s | CPU s | peak RSS MB |")
        print("| --- | ---: | ---: | ---: |")
        for job in JOBS:
            r = best[job]
            print(f"| {job} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['hwm_mb']:.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
