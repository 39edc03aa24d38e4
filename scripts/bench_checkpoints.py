"""Benchmark the checkpoint readers: tensor statistics and per-layer updates on large files.

    python scripts/bench_checkpoints.py                  # 1 GiB safetensors, 512 MiB H5
    python scripts/bench_checkpoints.py --mb 2048 --h5-mb 1024 --repeat 3 --cold

Writes, in a temporary directory (``--dir``, removed afterwards unless ``--keep``):

* ``f32_a.safetensors``: ``--mb`` MiB of random normal float32, cut into tensors of
  ``--tensor-mb`` MiB (``model.layers.<i>.mlp.weight``, rows of 1024), the way a
  transformer's shards are laid out; ``f32_b.safetensors``: the same tensors after a
  small update (``a + 1e-3 * noise``), for the update ratio;
* ``bf16.safetensors``: as many bytes of random bfloat16;
* ``keras_a.weights.h5`` / ``keras_b.weights.h5``: ``--h5-mb`` MiB each in the Keras 3
  ``.weights.h5`` layout (``layers/dense_<i>/vars/0`` kernels and ``vars/1`` biases,
  contiguous float32 datasets as Keras writes them), written with h5py.

The data is real random numbers, not sparse files: a hole reads as zero pages and
would flatter the numbers. Then it times, each in a fresh subprocess:

* ``read_safetensors`` on the float32 and on the bfloat16 file (statistics of every tensor);
* ``read_keras_h5`` on the H5 file (read in a forked child, as always);
* ``checkpoint_deltas`` between the two float32 files, and between the two H5 files;
* as a floor to compare with, a bare numpy pass over the float32 file (memory map,
  1 Mi-element chunks, one float64 sum each): the speed of the machine at that moment,
  which on a shared host can change several-fold from one minute to the next.

Peak RSS is ``resource.getrusage``'s ``ru_maxrss`` of the measuring process and, for
the H5 readers, of its forked reader children (``RUSAGE_CHILDREN``); "RSS before" is
the same process's resident set (``VmRSS``) with everything imported, just before
reading, so the difference is what reading costs. Best of
``--repeat`` rounds (the readers interleaved, so a burst of load on a shared machine
hits all alike), wall and CPU time both. With ``--cold`` every file is dropped from
the page cache (``posix_fadvise(DONTNEED)``, per file) before each run, so the disk is
measured too; otherwise the files are in the page cache, as right after a training
job wrote them.
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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ROW = 1024  # elements per row of every generated matrix
MIB = 1 << 20

_CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from forensics.readers.delta import checkpoint_deltas
from forensics.readers.keras import read_keras_h5
from forensics.readers.safetensors import read_safetensors
from forensics.records import Checkpoint, Kind, Source

job, root, *names = sys.argv[1:]
root = Path(root)
kind = Kind.KERAS_H5 if names[0].endswith(".h5") else Kind.SAFETENSORS

def ckpt(name):
    return Checkpoint(Source(name, kind), "bench", None, None, None, ())

if "--cold" in os.environ.get("BENCH_FLAGS", ""):
    for name in names:
        fd = os.open(root / name, os.O_RDONLY)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
def current_rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
base = current_rss_kb()
t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
if job == "numpy":  # the floor: one float64 sum over the same bytes, nothing else
    import mmap
    import numpy as np
    with open(root / names[0], "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        start = 8 + int.from_bytes(mm[:8], "little")
        count = (len(mm) - start) // 4
        total, step = 0.0, 1 << 20
        for first in range(0, count, step):
            chunk = np.frombuffer(mm, np.float32, min(step, count - first), start + 4 * first)
            total += float(np.add.reduce(chunk, dtype=np.float64))
        del chunk
        mm.close()
    summary = {"elements": count}
elif job == "stats":
    reader = read_keras_h5 if kind is Kind.KERAS_H5 else read_safetensors
    out = reader(root / names[0], Source(names[0], kind))
    summary = {"tensors": len(out.tensors), "elements": sum(t.numel for t in out.tensors)}
else:
    layers = checkpoint_deltas(ckpt(names[0]), ckpt(names[1]), root)
    summary = {"layers": len(layers), "elements": sum(d.elements for d in layers.values()),
               "median_relative": sorted(d.relative for d in layers.values())[len(layers) // 2]}
t1, c1, k1 = time.perf_counter(), time.process_time(), os.times()
children_cpu = (k1.children_user - k0.children_user) + (k1.children_system - k0.children_system)
print(json.dumps({
    **summary,
    "bytes": sum((root / n).stat().st_size for n in names),
    "wall": t1 - t0,
    "cpu": c1 - c0 + children_cpu,
    "base_mb": base / 1024,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def _tensor_rows(total_mib: int, tensor_mib: int, itemsize: int) -> list[int]:
    """Rows (of ROW elements) of each tensor, so that they add up to ``total_mib``."""
    rows_per_tensor = tensor_mib * MIB // (ROW * itemsize)
    total_rows = total_mib * MIB // (ROW * itemsize)
    sizes = [rows_per_tensor] * (total_rows // rows_per_tensor)
    if total_rows % rows_per_tensor:
        sizes.append(total_rows % rows_per_tensor)
    return sizes


def write_safetensors(path: Path, arrays: list[tuple[str, str, list[int]]], fill) -> None:
    """A safetensors file, header first, each tensor's data produced by ``fill(i)`` one at a time."""
    header, offset = {}, 0
    itemsizes = {"F32": 4, "BF16": 2}
    for name, code, shape in arrays:
        n = int(np.prod(shape)) * itemsizes[code]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little") + raw)
        for i in range(len(arrays)):
            fh.write(fill(i).tobytes())


def generate(tmp: Path, mb: int, tensor_mb: int, h5_mb: int) -> None:
    import h5py
    import ml_dtypes

    rows = _tensor_rows(mb, tensor_mb, 4)
    f32 = [(f"model.layers.{i}.mlp.weight", "F32", [r, ROW]) for i, r in enumerate(rows)]

    def base(i: int, r: int) -> np.ndarray:
        return np.random.default_rng(i).standard_normal((r, ROW), dtype=np.float32)

    def updated(i: int, r: int) -> np.ndarray:
        noise = np.random.default_rng(10_000 + i).standard_normal((r, ROW), dtype=np.float32)
        return base(i, r) + np.float32(1e-3) * noise

    write_safetensors(tmp / "f32_a.safetensors", f32, lambda i: base(i, rows[i]))
    write_safetensors(tmp / "f32_b.safetensors", f32, lambda i: updated(i, rows[i]))
    rows16 = _tensor_rows(mb, tensor_mb, 2)
    bf16 = [(f"model.layers.{i}.mlp.weight", "BF16", [r, ROW]) for i, r in enumerate(rows16)]
    write_safetensors(
        tmp / "bf16.safetensors",
        bf16,
        lambda i: (
            np.random.default_rng(i).standard_normal((rows16[i], ROW), dtype=np.float32).astype(ml_dtypes.bfloat16)
        ),
    )
    h5_rows = _tensor_rows(h5_mb, tensor_mb, 4)
    for name, fill in (("keras_a.weights.h5", base), ("keras_b.weights.h5", updated)):
        with h5py.File(tmp / name, "w") as f:
            for i, r in enumerate(h5_rows):
                group = f.create_group(f"layers/dense_{i}/vars" if i else "layers/dense/vars")
                kernel = fill(i, r)
                group["0"] = kernel
                group["1"] = kernel[0]  # a bias of ROW elements


def run_child(job: str, tmp: Path, names: list[str], cold: bool) -> dict:
    env = dict(os.environ, PYTHONWARNINGS="ignore", BENCH_FLAGS="--cold" if cold else "")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, job, str(tmp), *names], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if proc.returncode:
        sys.exit(f"{job} {names} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=1024, help="MiB of each safetensors file")
    ap.add_argument("--h5-mb", type=int, default=512, help="MiB of each H5 file")
    ap.add_argument("--tensor-mb", type=int, default=64, help="MiB per tensor")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of each measurement is kept")
    ap.add_argument("--cold", action="store_true", help="drop the files from the page cache before each run")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_into:
        generate(args.generate_into, args.mb, args.tensor_mb, args.h5_mb)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="bench_ckpt_", dir=args.dir))
    try:
        t = time.perf_counter()
        # in a process of its own: ru_maxrss survives fork+exec, so a parent grown by
        # generating the data would inflate every measuring child's peak
        sizes_args = ["--mb", str(args.mb), "--h5-mb", str(args.h5_mb), "--tensor-mb", str(args.tensor_mb)]
        subprocess.run([sys.executable, __file__, "--generate-into", str(tmp), *sizes_args], check=True)
        sizes = {p.name: p.stat().st_size for p in sorted(tmp.iterdir())}
        print(f"wrote {', '.join(f'{n} ({s / MIB:.0f} MiB)' for n, s in sizes.items())} "
              f"in {time.perf_counter() - t:.0f} s")  # fmt: skip
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"numpy {np.__version__}; page cache: {'dropped before each run' if args.cold else 'warm'}")  # fmt: skip
        jobs = {
            "numpy float64 sum of the float32 file (floor)": ("numpy", ["f32_a.safetensors"]),
            "stats float32 safetensors": ("stats", ["f32_a.safetensors"]),
            "stats bfloat16 safetensors": ("stats", ["bf16.safetensors"]),
            "stats Keras 3 .weights.h5": ("stats", ["keras_a.weights.h5"]),
            "update float32 safetensors pair": ("delta", ["f32_a.safetensors", "f32_b.safetensors"]),
            "update Keras 3 .weights.h5 pair": ("delta", ["keras_a.weights.h5", "keras_b.weights.h5"]),
        }
        runs: dict[str, list[dict]] = {name: [] for name in jobs}
        for _ in range(args.repeat):
            for name, (job, names) in jobs.items():
                runs[name].append(run_child(job, tmp, names, args.cold))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        "| measurement | MiB read | wall s | CPU s | MiB/s (wall) | M elements/s (wall) | RSS before MB | peak RSS MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rs in runs.items():
        wall = min(r["wall"] for r in rs)
        cpu = min(r["cpu"] for r in rs)
        mib = rs[0]["bytes"] / MIB
        peak = f"{max(r['rss_mb'] for r in rs):.0f}"
        if name.endswith((".h5", ".h5 pair")):  # read in forked children: their peak is what grows
            peak += f" (reader child {max(r['child_rss_mb'] for r in rs):.0f})"
        rate = rs[0]["elements"] / wall / 1e6
        rss0 = min(r["base_mb"] for r in rs)
        print(
            f"| {name} | {mib:,.0f} | {wall:.2f} | {cpu:.2f} | {mib / wall:,.0f} | {rate:,.0f} | {rss0:.0f} | {peak} |"
        )
    print()
    for name, rs in runs.items():
        extra = {k: v for k, v in rs[0].items() if k in ("tensors", "layers", "elements", "median_relative")}
        print(f"{name}: {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
