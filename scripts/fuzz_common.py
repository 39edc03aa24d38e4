"""Shared driver of the atheris fuzzers (scripts/fuzz_events.py, fuzz_safetensors.py, fuzz_logs.py).

Each fuzzer feeds bytes chosen by libFuzzer (coverage guided: atheris instruments the
``forensics`` modules it imports) to one parser. A parser may return or raise
``UnreadableSource``; anything else escaping is a crash: libFuzzer stops, prints the
traceback and writes the input to ``crash-<sha1>`` in the current directory.

The seed corpus is built from the real artifacts in sample_runs/ and tests/fixtures/,
so the fuzzer starts from valid files and mutates towards the damaged ones. Needs
``pip install atheris`` (a dev-only dependency); without it the script says so and exits 2.

    python scripts/fuzz_logs.py -max_total_time=600          # ten minutes
    python scripts/fuzz_safetensors.py -runs=200000
    python scripts/fuzz_events.py -max_total_time=60 -jobs=2 -workers=2

Any libFuzzer flag is passed through. The last line libFuzzer prints
("Done N runs in S second(s)") is the count of inputs tried.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Seed files larger than this are left out: libFuzzer's default -max_len is 4096 anyway,
# and small seeds mutate into interesting shapes faster.
MAX_SEED_BYTES = 64 * 1024


def seed_files(accept: Callable[[Path], bool]) -> Iterable[Path]:
    for base in (ROOT / "sample_runs", ROOT / "tests" / "fixtures"):
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.stat().st_size <= MAX_SEED_BYTES and accept(p):
                yield p


def scratch_file(name: str) -> Path:
    """A file in RAM where available (/dev/shm), rewritten for every input."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None, prefix="forensics-fuzz-"))
    return base / name


def run(
    name: str, test_one_input: Callable[[bytes], None], seeds: Iterable[Path], import_targets: Callable[[], None]
) -> None:
    """Instrument the forensics modules, build the seed corpus, hand over to libFuzzer."""
    try:
        import atheris
    except ImportError:
        print(f"{name}: atheris is not installed (pip install atheris); nothing fuzzed", file=sys.stderr)
        sys.exit(2)
    with atheris.instrument_imports(include=["forensics"]):
        import_targets()
    corpus = Path(tempfile.mkdtemp(prefix=f"forensics-{name}-corpus-"))
    n = 0
    for i, p in enumerate(seeds):
        (corpus / f"seed{i:04d}").write_bytes(p.read_bytes()[: 4 * MAX_SEED_BYTES])
        n += 1
    print(f"{name}: {n} seed files from sample_runs/ and tests/fixtures/ in {corpus}", file=sys.stderr)
    args = [sys.argv[0], *sys.argv[1:]]
    if not any(not a.startswith("-") for a in sys.argv[1:]):
        args.append(str(corpus))  # no corpus directory given: use the seeds
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()
