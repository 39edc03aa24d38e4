"""Shared driver of the atheris fuzzers (scripts/fuzz_events.py, fuzz_safetensors.py, fuzz_logs.py).

Each fuzzer feeds bytes chosen by libFuzzer (coverage guided: atheris instruments the
``forensics`` modules it imports) to one parser. A parser may return or raise
``UnreadableSource``; anything else escaping, or a property the fuzzer checks failing,
is a crash: the input is kept and the run stops.

    python scripts/fuzz_logs.py --seconds 600
    python scripts/fuzz_events.py --seconds 600 -max_len=65536

Other arguments are passed to libFuzzer. Needs ``pip install atheris`` (dev only);
without it the script says so and exits 2.

Why chunks: atheris's comparison hook keeps a reference to the result of every
comparison between numpy arrays in instrumented code (2,000 ``a == 5`` on 100,000
elements hold 190 MiB), so a long run of the numpy-heavy readers grows until
libFuzzer's 2 GiB limit, although the readers themselves run flat (checked without
instrumentation). The driver therefore runs libFuzzer in child processes of
``--chunk`` seconds that share one corpus directory, adds up their "Done N runs",
stops at the first crash, and replays any out-of-memory input WITHOUT instrumentation
under a 1 GiB address-space limit: only an input that fails there too is a finding.

The seed corpus is built from the real artifacts in sample_runs/ and tests/fixtures/,
so the fuzzer starts from valid files and mutates towards damaged ones.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Seed files larger than this are left out: small seeds mutate into interesting shapes faster.
MAX_SEED_BYTES = 64 * 1024
# An out-of-memory input is replayed under this address-space limit, uninstrumented.
REPLAY_LIMIT_BYTES = 1 << 30
_CHILD = "FORENSICS_FUZZ_CHILD"
_REPLAY = "FORENSICS_FUZZ_REPLAY"
_SCRATCH = "FORENSICS_FUZZ_SCRATCH"  # one scratch directory for all children, removed by the driver


def seed_files(accept: Callable[[Path], bool]) -> Iterable[Path]:
    for base in (ROOT / "sample_runs", ROOT / "tests" / "fixtures"):
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.stat().st_size <= MAX_SEED_BYTES and accept(p):
                yield p


def scratch_file(name: str) -> Path:
    """A file in RAM where available (/dev/shm), rewritten for every input."""
    if os.environ.get(_SCRATCH):
        return Path(os.environ[_SCRATCH]) / name
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None, prefix="forensics-fuzz-"))
    os.environ[_SCRATCH] = str(base)  # inherited by the children; the driver removes it
    return base / name


def run(
    name: str,
    test_one_input: Callable[[bytes], None],
    seeds: Iterable[Path],
    import_targets: Callable[[], None],
    *,
    chunk_seconds: int = 120,
) -> None:
    """Entry point of a fuzzer script: the driver, a libFuzzer child, or a replay."""
    if os.environ.get(_REPLAY):
        import_targets()  # not instrumented
        resource.setrlimit(resource.RLIMIT_AS, (REPLAY_LIMIT_BYTES, REPLAY_LIMIT_BYTES))
        test_one_input(Path(os.environ[_REPLAY]).read_bytes())
        return
    try:
        import atheris
    except ImportError:
        print(f"{name}: atheris is not installed (pip install atheris); nothing fuzzed", file=sys.stderr)
        sys.exit(2)
    if os.environ.get(_CHILD):
        with atheris.instrument_imports(include=["forensics"]):
            import_targets()
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
        return
    try:
        _drive(name, seeds, chunk_seconds)
    finally:
        if os.environ.get(_SCRATCH):
            shutil.rmtree(os.environ[_SCRATCH], ignore_errors=True)


def _drive(name: str, seeds: Iterable[Path], chunk_seconds: int) -> None:
    ap = argparse.ArgumentParser(description=f"{name}: coverage-guided fuzzing with atheris, in chunks")
    ap.add_argument("--seconds", type=int, default=60, help="total fuzzing time (default 60)")
    ap.add_argument("--chunk", type=int, default=chunk_seconds, help="seconds per libFuzzer child")
    ap.add_argument("--corpus", type=Path, help="corpus directory to grow (default: a fresh one from the seeds)")
    ap.add_argument("--artifacts", type=Path, default=Path("."), help="where crash inputs are written")
    opts, libfuzzer_flags = ap.parse_known_args()
    corpus = opts.corpus or Path(tempfile.mkdtemp(prefix=f"forensics-{name}-corpus-"))
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, p in enumerate(seeds):
            (corpus / f"seed{i:04d}").write_bytes(p.read_bytes())
    opts.artifacts.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, _CHILD: "1", "OPENBLAS_NUM_THREADS": "1"}
    start, total_runs, chunks, harness_ooms = time.monotonic(), 0, 0, 0
    print(f"{name}: corpus {corpus} ({len(list(corpus.iterdir()))} inputs), {opts.seconds} s", file=sys.stderr)
    while (left := opts.seconds - (time.monotonic() - start)) > 1:
        before = set(opts.artifacts.iterdir())
        cmd = [sys.executable, sys.argv[0], *libfuzzer_flags, f"-max_total_time={int(min(opts.chunk, left))}",
               f"-artifact_prefix={opts.artifacts}/", str(corpus)]  # fmt: skip
        child = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace")
        chunks += 1
        done = re.findall(r"Done (\d+) runs", child.stderr)
        ran = int(done[-1]) if done else sum(int(n) for n in re.findall(r"^#(\d+)", child.stderr, re.M)[-1:])
        total_runs += ran
        new = sorted(set(opts.artifacts.iterdir()) - before)
        for artifact in new:
            if artifact.name.startswith("oom-") and _replays_cleanly(artifact, env):
                harness_ooms += 1  # the input is fine: the instrumented process had grown
                continue
            print(child.stderr[-4000:], file=sys.stderr)
            print(f"{name}: FINDING {artifact} after {total_runs} inputs", file=sys.stderr)
            sys.exit(1)
        if child.returncode != 0 and not new:
            print(child.stderr[-4000:], file=sys.stderr)
            print(f"{name}: libFuzzer child failed (exit {child.returncode})", file=sys.stderr)
            sys.exit(1)
    elapsed = time.monotonic() - start
    print(
        f"{name}: {total_runs} inputs in {elapsed:.0f} s ({chunks} chunks, {harness_ooms} harness out-of-memory "
        f"stops replayed cleanly); 0 crashes; corpus {len(list(corpus.iterdir()))} inputs in {corpus}"
    )


def _replays_cleanly(artifact: Path, env: dict[str, str]) -> bool:
    replay_env = {k: v for k, v in env.items() if k != _CHILD}
    replay_env[_REPLAY] = str(artifact)
    r = subprocess.run([sys.executable, sys.argv[0]], env=replay_env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr[-3000:], file=sys.stderr)
    return r.returncode == 0
