"""The speed goals of issue 12, each measured as a ratio against its floor, in one run.

    python scripts/bench_goals.py                      # all three goals, best of 3
    python scripts/bench_goals.py --goals startup --repeat 5
    python scripts/bench_goals.py --scale              # how cost grows: 1e5..1e7 events, 0.5..8 GiB
    python scripts/bench_goals.py --dir /big/scratch   # where the generated files go (removed after)

Goals and their floors:

1. **start-up**: ``python -m forensics analyze RUN`` on small sample runs, against
   ``python -c "import numpy"``; target at most 3x.
2. **checkpoint statistics**: ``read_safetensors`` / ``read_keras_h5`` on a float32 and a
   bfloat16 safetensors file and a Keras 3 ``.weights.h5`` of ``--mb`` MiB of random
   numbers, against a bare pass over the same file that reads it into one reused buffer
   (64 Ki elements, the fastest size measured) and sums it in float64 (bfloat16 widened
   by the 16-bit shift first, the cheapest exact decode; H5 read with ``read_direct``);
   target at least 0.7 of the floor's throughput, peak RSS under 256 MB.
3. **long runs**: ``forensics.analyze`` on a run of ``--steps`` steps (three scalar tags, so
   three events a step), against ``read_event_file`` of its event file alone; target at
   most 2x. ``--scale`` adds 1e5..1e7 events and 0.5..8 GiB checkpoints.

Every measurement runs in a fresh subprocess; the rounds interleave ours and the floor so
that a burst of load on a shared machine hits both, and alternate which of the two goes first;
the best of ``--repeat`` rounds is kept (the median is printed beside it), wall and CPU time
(children included: the readers work in the run's worker child) both. Peak RSS is the
measuring process's ``VmHWM`` or its children's ``ru_maxrss``, whichever is larger. The load
average before and after is printed: on a shared machine, quote it with the numbers.
Start-up is measured with bytecode cached (``PYTHONPYCACHEPREFIX`` in the temp dir, warmed
first), as an installed package has it.

Page cache: the files of goals 2 and 3 are read through once, untimed, right before every
measurement of ours and of the floor alike, and the share of their pages resident then is
recorded (``resident``, the least seen). Without that, a file written minutes earlier on a
machine whose memory is full of other page cache may be partly evicted, and whichever side
runs first pays the disk (the wall time then far exceeds the CPU time, as in an earlier
cost-growth table). Both sides read from memory; the disk's own speed is not measured.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import write_run  # noqa: E402
from bench_checkpoints import ROW, _tensor_rows, write_safetensors  # noqa: E402

MIB = 1 << 20
FLOOR_CHUNK = 1 << 16  # elements: the floor's fastest read size (64 Ki beat 256 Ki and 1 Mi)
SMALL_RUNS = [
    "keras_healthy",
    "keras_lr_too_high",
    "tf2_exploding_gradients",
    "torch_healthy",
    "tbx_lr_too_high",
    "hf_trainer_lr_too_high",
]

_PEAK = """
def _peak_mb():
    import resource
    hwm = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""

_CHECKPOINT_CHILD = (
    """
import json, os, sys, time
from pathlib import Path
import numpy as np
from forensics.readers.keras import read_keras_h5
from forensics.readers.safetensors import read_safetensors
from forensics.records import Kind, Source
"""
    + _PEAK
    + """
job, path, chunk = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])

def floor_safetensors(path, narrow):
    with open(path, "rb", buffering=0) as fh:
        start = 8 + int.from_bytes(fh.read(8), "little")
        fh.seek(start)
        dtype = np.uint16 if narrow else np.float32
        buf = np.empty(chunk, dtype)
        wide = np.empty(chunk, np.uint32)
        raw = memoryview(buf).cast("B")
        total, elements = 0.0, 0
        while True:
            got = fh.readinto(raw) // buf.itemsize
            if not got:
                break
            a = buf[:got]
            if narrow:
                a = np.left_shift(a, 16, out=wide[:got], dtype=np.uint32).view(np.float32)
            total += float(np.add.reduce(a, dtype=np.float64))
            elements += got
    return elements

def floor_h5(path):
    import h5py
    elements = 0
    buf = np.empty(chunk, np.float32)
    with h5py.File(path, "r") as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        for ds in datasets:
            flat = ds.size
            rows = max(1, chunk // max(1, flat // ds.shape[0])) if ds.shape else 1
            width = flat // ds.shape[0] if ds.shape else 1
            for i in range(0, ds.shape[0] if ds.shape else 1, rows):
                n = min(rows, ds.shape[0] - i)
                out = buf[: n * width].reshape(n, *ds.shape[1:])
                ds.read_direct(out, np.s_[i : i + n])
                float(np.add.reduce(out.reshape(-1), dtype=np.float64))
                elements += n * width
    return elements

t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
if job == "floor":
    elements = floor_h5(path) if path.suffix == ".h5" else floor_safetensors(path, "bf16" in path.name)
else:
    reader = read_keras_h5 if path.suffix == ".h5" else read_safetensors
    kind = Kind.KERAS_H5 if path.suffix == ".h5" else Kind.SAFETENSORS
    ckpt = reader(path, Source(path.name, kind))
    assert ckpt.source.status.value == "ok", ckpt.source
    elements = sum(t.numel for t in ckpt.tensors)
t1, c1, k1 = time.perf_counter(), time.process_time(), os.times()
children = (k1.children_user - k0.children_user) + (k1.children_system - k0.children_system)
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0 + children, "elements": elements, "peak_mb": _peak_mb()}))
"""
)

_LONG_CHILD = (
    """
import json, os, sys, time
from pathlib import Path
import forensics
import forensics.analysis, forensics.report.markdown
from forensics.readers.events import read_event_file
from forensics.records import Kind, Source
"""
    + _PEAK
    + """
job, run = sys.argv[1], Path(sys.argv[2])
t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
if job == "read":
    path = next(run.glob("events.out.tfevents.*"))
    data = read_event_file(path, Source(path.name, Kind.EVENTS))
    out = {"points": sum(len(s) for s in data.scalars.values())}
else:
    report = forensics.analyze(run)
    out = {"first_nonfinite_step": report.first_nonfinite_step, "cause": report.verdict.cause}
    # the files were read in the worker child: end it and wait for it, so that its time
    # and memory count (children's rusage covers reaped children only)
    from forensics.readers import worker
    worker.reset()
    worker._reap_all()
t1, c1, k1 = time.perf_counter(), time.process_time(), os.times()
children = (k1.children_user - k0.children_user) + (k1.children_system - k0.children_system)
print(json.dumps({**out, "wall": t1 - t0, "cpu": c1 - c0 + children, "peak_mb": _peak_mb()}))
"""
)


def _child(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env or _env()
    )
    if proc.returncode:
        sys.exit(f"failed: {args}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _best(runs: list[dict]) -> dict:
    best = {
        "wall": min(r["wall"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
        "wall_median": statistics.median(r["wall"] for r in runs),
        "cpu_median": statistics.median(r["cpu"] for r in runs),
        "peak_mb": max(r.get("peak_mb", 0.0) for r in runs),
        **{k: v for k, v in runs[0].items() if k not in ("wall", "cpu", "peak_mb", "resident")},
    }
    if any("resident" in r for r in runs):
        best["resident"] = min(r.get("resident", 1.0) for r in runs)
    return best


def _resident(path: Path) -> float:
    """The share of the file's pages in the page cache (``mincore`` on a read-only map of it)."""
    size = path.stat().st_size
    if not size:
        return 1.0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    pages = -(-size // mmap.PAGESIZE)
    vec = np.zeros(pages, np.uint8)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = np.frombuffer(mm, np.uint8)
        try:
            if libc.mincore(ctypes.c_void_p(view.ctypes.data), ctypes.c_size_t(size), vec.ctypes.data):
                raise OSError(ctypes.get_errno(), f"mincore failed on {path}")
        finally:
            del view
    return int(np.count_nonzero(vec & 1)) / pages


def _warm(paths: list[Path]) -> float:
    """Read the files through (untimed) so that the measurement after finds them in the page
    cache, whichever side it is; return the least share of pages resident after it."""
    buf = bytearray(8 * MIB)
    for path in paths:
        with path.open("rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
    return min(_resident(p) for p in paths)


def _measured(code: str, files: list[Path], *args: str) -> dict:
    """One measurement in a fresh subprocess, its files warmed in the page cache first."""
    resident = _warm(files)
    return {**_child(code, *args), "resident": resident}


def _row(goal: str, case: str, ours: dict, floor: dict, target: str, met: bool, **extra: object) -> dict:
    """One line of the table. Ratios are ours/floor for times (start-up, long runs) and
    floor/ours for throughput (checkpoints): the caller picks which via ``target``."""
    throughput = target.startswith(">=")
    ratio = (lambda k: floor[k] / ours[k]) if throughput else (lambda k: ours[k] / floor[k])
    row = {"goal": goal, "case": case, "ours": ours, "floor": floor, "target": target}
    row.update(ratio_wall=ratio("wall"), ratio_cpu=ratio("cpu"), met=met, **extra)
    row.update(ratio_median_wall=ratio("wall_median"), ratio_median_cpu=ratio("cpu_median"))
    return row


# ---------------------------------------------------------------- goal 1: start-up


def _timed_process(cmd: list[str], env: dict[str, str]) -> dict:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"failed: {cmd}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def startup(tmp: Path, repeat: int, runs: list[str]) -> list[dict]:
    env = _env(PYTHONPYCACHEPREFIX=str(tmp / "pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    floor_cmd = [sys.executable, "-c", "import numpy"]
    cmds = {name: [sys.executable, "-m", "forensics", "analyze", str(ROOT / "sample_runs" / name)] for name in runs}
    for cmd in (floor_cmd, *cmds.values()):  # warm the bytecode cache and the page cache
        _timed_process(cmd, env)
    floors: list[dict] = []
    ours: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(repeat):
        floors.append(_timed_process(floor_cmd, env))
        for name, cmd in cmds.items():
            ours[name].append(_timed_process(cmd, env))
    floor = _best(floors)
    rows = []
    for name in runs:
        best = _best(ours[name])
        ratio = best["wall"] / floor["wall"]
        rows.append(_row("start-up", f"analyze {name}", best, floor, "<= 3x", ratio <= 3.0))
    return rows


# ---------------------------------------------------------------- goal 2: checkpoint statistics


def write_checkpoints(tmp: Path, mb: int, h5_mb: int, which: tuple[str, ...]) -> dict[str, Path]:
    """Random float32 and bfloat16 safetensors of ``mb`` MiB and a Keras 3 .weights.h5 of ``h5_mb``."""
    paths: dict[str, Path] = {}
    tensor_mb = 64

    def normal(i: int, rows: int) -> np.ndarray:
        return np.random.default_rng(i).standard_normal((rows, ROW), dtype=np.float32)

    if "float32" in which:
        rows = _tensor_rows(mb, tensor_mb, 4)
        arrays = [(f"model.layers.{i}.mlp.weight", "F32", [r, ROW]) for i, r in enumerate(rows)]
        paths["float32"] = tmp / f"f32_{mb}.safetensors"
        write_safetensors(paths["float32"], arrays, lambda i: normal(i, rows[i]))
    if "bfloat16" in which:
        rows16 = _tensor_rows(mb, tensor_mb, 2)
        arrays = [(f"model.layers.{i}.mlp.weight", "BF16", [r, ROW]) for i, r in enumerate(rows16)]
        paths["bfloat16"] = tmp / f"bf16_{mb}.safetensors"
        # the upper 16 bits of a float32 are its bfloat16 (rounded toward zero): no ml_dtypes needed
        write_safetensors(
            paths["bfloat16"], arrays, lambda i: (normal(i, rows16[i]).view(np.uint32) >> 16).astype(np.uint16)
        )
    if "h5" in which:
        import h5py

        paths["h5"] = tmp / f"keras_{h5_mb}.weights.h5"
        with h5py.File(paths["h5"], "w") as f:
            for i, r in enumerate(_tensor_rows(h5_mb, tensor_mb, 4)):
                group = f.create_group(f"layers/dense_{i}/vars" if i else "layers/dense/vars")
                kernel = normal(i, r)
                group["0"] = kernel
                group["1"] = kernel[0]  # a bias
    return paths


def checkpoints(paths: dict[str, Path], repeat: int) -> list[dict]:
    runs: dict[tuple[str, str], list[dict]] = {}
    for i in range(repeat):
        for kind, path in paths.items():
            for job in ("floor", "stats") if i % 2 == 0 else ("stats", "floor"):
                run = _measured(_CHECKPOINT_CHILD, [path], job, str(path), str(FLOOR_CHUNK))
                runs.setdefault((kind, job), []).append(run)
    rows = []
    for kind, path in paths.items():
        floor, ours = _best(runs[(kind, "floor")]), _best(runs[(kind, "stats")])
        assert floor["elements"] == ours["elements"], (kind, floor, ours)
        size = path.stat().st_size
        met = floor["wall"] / ours["wall"] >= 0.7 and ours["peak_mb"] < 256
        case = f"{kind} {size / MIB:,.0f} MiB"
        rows.append(_row("checkpoint statistics", case, ours, floor, ">= 0.7, peak < 256 MB", met, bytes=size))
    return rows


# ---------------------------------------------------------------- goal 3: long runs


def long_runs(tmp: Path, steps: int, repeat: int) -> dict:
    run = tmp / f"run_{steps}"
    nan_at = write_run(run, steps)
    reads, analyses = [], []
    files = sorted(p for p in run.iterdir() if p.is_file())
    for i in range(repeat):
        for job in ("read", "analyze") if i % 2 == 0 else ("analyze", "read"):
            (reads if job == "read" else analyses).append(_measured(_LONG_CHILD, files, job, str(run)))
    floor, ours = _best(reads), _best(analyses)
    size = sum(p.stat().st_size for p in run.iterdir())
    shutil.rmtree(run)
    exact = ours["first_nonfinite_step"] == nan_at
    case = f"{steps:,} steps, {3 * steps:,} events, {size / MIB:,.0f} MiB"
    met = ours["wall"] / floor["wall"] <= 2.0 and exact
    return _row("long runs", case, ours, floor, "<= 2x", met, exact_first_nonfinite=exact)


# ---------------------------------------------------------------- output


def _machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def _print(rows: list[dict]) -> None:
    print(
        "| goal | case | ours: wall / CPU s | floor: wall / CPU s | ratio wall | ratio CPU "
        "| ratio of medians: wall / CPU | resident | peak MB | target | met |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        o, f = r["ours"], r["floor"]
        resident = min(o.get("resident", 1.0), f.get("resident", 1.0))
        print(
            f"| {r['goal']} | {r['case']} | {o['wall']:.3f} / {o['cpu']:.3f} | {f['wall']:.3f} / {f['cpu']:.3f} "
            f"| {r['ratio_wall']:.2f} | {r['ratio_cpu']:.2f} "
            f"| {r['ratio_median_wall']:.2f} / {r['ratio_median_cpu']:.2f} | {resident:.0%} "
            f"| {o.get('peak_mb', 0):.0f} | {r['target']} | {'yes' if r['met'] else 'NO'} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goals", default="startup,checkpoints,long", help="comma-separated: startup,checkpoints,long")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best of each measurement is kept")
    ap.add_argument("--mb", type=int, default=2048, help="MiB of each safetensors file (goal 2)")
    ap.add_argument("--h5-mb", type=int, default=2048, help="MiB of the H5 file (goal 2)")
    ap.add_argument("--steps", type=int, default=1_000_000, help="steps of the long run (goal 3; 3 events a step)")
    ap.add_argument("--runs", default=",".join(SMALL_RUNS), help="sample runs for goal 1")
    ap.add_argument("--scale", action="store_true", help="cost growth: 1e5-1e7 events, 0.5-8 GiB checkpoints")
    ap.add_argument("--scale-events", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--scale-mb", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    ap.add_argument("--dir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="also write every measurement to this file")
    args = ap.parse_args()
    goals = set(args.goals.split(","))

    print(f"machine: {_machine()}")
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_goals_", dir=args.dir))
    rows: list[dict] = []
    try:
        if args.scale:
            for events in args.scale_events:
                rows.append(long_runs(tmp, -(-events // 3), 1))  # three events a step
                _print(rows[-1:])
            for mb in args.scale_mb:
                paths = write_checkpoints(tmp, mb, mb, ("float32",))
                rows += checkpoints(paths, 1)
                for p in paths.values():
                    p.unlink()
                _print(rows[-1:])
        else:
            if "startup" in goals:
                rows += startup(tmp, args.repeat, args.runs.split(","))
            if "checkpoints" in goals:
                t = time.perf_counter()
                paths = write_checkpoints(tmp, args.mb, args.h5_mb, ("float32", "bfloat16", "h5"))
                print(f"wrote {len(paths)} checkpoint files in {time.perf_counter() - t:.0f} s", flush=True)
                rows += checkpoints(paths, args.repeat)
            if "long" in goals:
                rows.append(long_runs(tmp, args.steps, args.repeat))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in load_after)}")
    print()
    _print(rows)
    if args.json:
        meta = {"machine": _machine(), "load_before": load_before, "load_after": load_after}
        args.json.write_text(json.dumps({**meta, "rows": rows}, indent=2))
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
