"""Benchmark the PyTorch checkpoint reader against torch.load(mmap=True) plus numpy.

    python scripts/bench_torch.py                 # 1 GiB float32 state dict, best of 3
    python scripts/bench_torch.py --mb 2048 --repeat 5 --dtype bfloat16

Writes, in a temporary directory, a state dict of ``--mb`` MiB of random normal
numbers cut into tensors of ``--tensor-mb`` MiB (``model.layers.<i>.weight``), with
``torch.save`` (zip format), plus the same dict inside a training checkpoint whose
optimizer is Adam with both moments filled (so three times the bytes). Then it times,
each in a fresh subprocess and interleaved round by round:

* ``read_torch_checkpoint`` (our reader: restricted unpickling and statistics of every
  tensor, in its memory-limited forked child);
* ``torch.load(mmap=True, weights_only=True)`` then the same statistics
  (:class:`~forensics.readers.tensorstats.StatsAccumulator`) over each tensor's numpy
  view, in 1 Mi-element chunks: what a user with torch installed would do;
* ``torch.load(mmap=True)`` then the same numbers as a user writes them with numpy
  (a float64 copy of each tensor, ``isfinite``, ``min``/``max``/``mean``/``std``/``norm``
  of the finite elements);
* as a floor, a bare numpy pass over the same views (one float64 sum per chunk).

Peak RSS is the measuring process's ``VmHWM`` (``ru_maxrss`` would carry over the
generator's RSS across ``execve``) and ``ru_maxrss`` of its children (our reader's work
runs in a forked child, which starts with the parent's resident set); "RSS before" is
the process's ``VmRSS`` just before reading, with everything imported. Needs torch (the dev extra installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20

_CHILD = r"""
import json, os, resource, sys, time
job, path = sys.argv[1], sys.argv[2]
import numpy as np
from pathlib import Path
from forensics.readers.tensorstats import StatsAccumulator, array_chunks
if job != "ours":
    import torch

def status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

def rss_kb():
    return status_kb("VmRSS")

def walk(obj, out):
    if hasattr(obj, "numpy"):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            walk(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            walk(v, out)
    return out

before = rss_kb()
t0, c0 = time.perf_counter(), time.process_time()
if job == "ours":
    from forensics.readers.torch_checkpoint import read_torch_checkpoint
    from forensics.records import Kind, Source
    ckpt = read_torch_checkpoint(Path(path), Source(Path(path).name, Kind.PICKLE))
    n = len(ckpt.tensors) + len(ckpt.optimizer_tensors)
else:
    obj = torch.load(path, mmap=True, weights_only=True, map_location="cpu")
    tensors = walk(obj, [])
    n = len(tensors)
    for t in tensors:
        a = t.detach().view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.detach().numpy()
        if job == "torch_stats":
            acc = StatsAccumulator("t", str(a.dtype), a.shape)
            for chunk in array_chunks(a):
                acc.update(chunk)
            acc.result()
        elif job == "torch_numpy":
            # the same numbers as a user writes them with numpy, a tensor at a time
            f = a.astype(np.float64)
            finite = np.isfinite(f)
            nan, posinf, neginf = int(np.isnan(f).sum()), int((f == np.inf).sum()), int((f == -np.inf).sum())
            zeros = int((f == 0).sum())
            ok = f[finite]
            if ok.size:
                ok.min(), ok.max(), ok.mean(), ok.std(), float(np.linalg.norm(ok))
            del f, finite, ok
        else:
            for chunk in array_chunks(a):
                float(np.add.reduce(chunk, dtype=np.float64))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": cpu + child_cpu.ru_utime + child_cpu.ru_stime, "tensors": n,
                  "rss_before_kb": before, "peak_kb": status_kb("VmHWM"),
                  "child_peak_kb": child_cpu.ru_maxrss}))
"""


def generate(tmp: Path, mb: int, tensor_mb: int, dtype: str, training: bool = True) -> dict[str, Path]:
    import torch

    torch.manual_seed(0)
    dt = getattr(torch, dtype)
    itemsize = torch.empty(0, dtype=dt).element_size()
    rows = tensor_mb * MIB // itemsize // 1024
    sd = {f"model.layers.{i}.weight": torch.randn(rows, 1024).to(dt) for i in range(max(1, mb // tensor_mb))}
    paths = {"state_dict": tmp / "state_dict.pt", "training_checkpoint": tmp / "training.pt"}
    torch.save(sd, paths["state_dict"])
    if not training:
        return {"state_dict": paths["state_dict"]}
    params = [torch.nn.Parameter(t.float()) for t in sd.values()]
    opt = torch.optim.Adam(params, lr=1e-3)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    torch.save({"model": sd, "optimizer": opt.state_dict(), "global_step": 1}, paths["training_checkpoint"])
    del sd, params, opt
    return paths


def run_child(job: str, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _CHILD, job, str(path)], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=1024, help="MiB of weights in the state dict")
    ap.add_argument("--tensor-mb", type=int, default=64)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the files (a temporary dir by default)")
    ap.add_argument("--only", choices=["state_dict", "training_checkpoint"], help="time one of the two files")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_torch_", dir=args.dir))
    try:
        paths = generate(tmp, args.mb, args.tensor_mb, args.dtype, training=args.only != "state_dict")
        if args.only:
            paths = {args.only: paths[args.only]}
        best: dict[tuple[str, str], dict] = {}
        for _ in range(args.repeat):
            for what, path in paths.items():
                for job in ("ours", "torch_stats", "torch_numpy", "torch_floor"):
                    r = run_child(job, path)
                    key = (what, job)
                    if key not in best or r["cpu"] < best[key]["cpu"]:  # CPU: steadier than wall on a shared machine
                        best[key] = r
        machine = platform.processor() or platform.machine()
        print(f"# {machine}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        for (what, job), r in best.items():
            size = paths[what].stat().st_size
            print(
                f"| {what} ({size / MIB:,.0f} MiB) | {job} | {r['tensors']} | {r['wall']:.2f} s "
                f"({size / r['wall'] / 1e9:.2f} GB/s) | {r['cpu']:.2f} s | {r['rss_before_kb'] / 1024:.0f} MB "
                f"| {r['peak_kb'] / 1024:.0f} MB | {r['child_peak_kb'] / 1024:.0f} MB |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
