"""Runs in object storage (``s3://``, ``gs://``, ``az://``) read through fsspec.

The readers stay local: a run's files are staged into a bounded local cache and
analysed there, then the report is given the URL back. Only reads are made on
the bucket (list, info, get); nothing is ever written to it.

Credentials and endpoints come from each cloud's own environment and config
files, read by its fsspec driver (s3fs/botocore: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws/config``; gcsfs:
``GOOGLE_APPLICATION_CREDENTIALS``; adlfs: ``AZURE_STORAGE_CONNECTION_STRING``,
``AZURE_STORAGE_ACCOUNT_NAME``...). ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) points s3:// at MinIO, Ceph or any S3-compatible server.

The cache (``FORENSICS_CACHE_DIR``, default ``~/.cache/forensics/remote``) holds at
most ``FORENSICS_CACHE_BYTES`` (default :data:`DEFAULT_CACHE_BYTES`). A run's files
are staged smallest first — the curves, logs and configs that say the most per
byte — and a file that does not fit is not fetched: the report lists it as
skipped and says why. Runs staged earlier are evicted, least recently used first,
unless another process is analysing them (a shared lock per run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forensics.errors import UsageError
from forensics.records import Kind, Source, Status
from forensics.util import URL as _URL

# The schemes fsspec drivers serve for object stores, and the package each needs.
DRIVERS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}
# Enough for a few runs with mid-size checkpoints; a laptop's disk is not a bucket.
DEFAULT_CACHE_BYTES = 4 * 1024**3
_MANIFEST = ".forensics-staged.json"


def cache_dir() -> Path:
    env = os.environ.get("FORENSICS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "forensics" / "remote"


def cache_limit() -> int:
    env = os.environ.get("FORENSICS_CACHE_BYTES")
    if not env:
        return DEFAULT_CACHE_BYTES
    try:
        value = int(float(env))
    except ValueError:
        raise UsageError(f"FORENSICS_CACHE_BYTES={env!r}: not a number of bytes") from None
    if value <= 0:
        raise UsageError(f"FORENSICS_CACHE_BYTES={env!r}: must be positive")
    return value


# ---------------------------------------------------------------- the bucket


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for ``url``; one-line errors for what is missing."""
    scheme = _URL.match(url).group(1).lower()  # type: ignore[union-attr]
    if scheme not in DRIVERS:
        raise UsageError(f"{url}: {scheme}:// is not supported; object stores are s3://, gs:// and az://")
    try:
        import fsspec
    except ImportError:
        raise UsageError(f"{url}: reading object storage needs fsspec: pip install 'forensics[remote]'") from None
    # a fresh client each time: credentials and endpoints are read from the environment now
    options: dict[str, Any] = {"skip_instance_cache": True}
    if DRIVERS[scheme] == "s3fs":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:  # botocore reads it too, but older ones do not: say it explicitly
            options["endpoint_url"] = endpoint
    try:
        fs, inner = fsspec.core.url_to_fs(url, **options)
    except ImportError:
        raise UsageError(
            f"{url}: {scheme}:// needs the {DRIVERS[scheme]} package: pip install {DRIVERS[scheme]}"
        ) from None
    except Exception as e:
        raise remote_error(url, e) from None
    return fs, inner.rstrip("/")


def remote_error(url: str, e: BaseException) -> UsageError:
    """One line for a failed bucket operation: what is wrong, in words a user can act on."""
    text = " ".join(str(e).split()) or type(e).__name__
    low = text.lower()
    refused = ("accessdenied", "access denied", "access key", "signaturedoesnotmatch", "signature", "forbidden")
    if isinstance(e, PermissionError) or any(k in low for k in refused):
        return UsageError(f"{url}: access denied; check the credentials for this bucket ({text})")
    if "credentials" in low:
        return UsageError(f"{url}: no credentials found for this bucket ({text})")
    if isinstance(e, FileNotFoundError) or "nosuchbucket" in low or "does not exist" in low:
        return UsageError(f"{url}: no such bucket or path ({text})")
    return UsageError(f"{url}: cannot read the bucket: {type(e).__name__}: {text}")


@dataclasses.dataclass(frozen=True, slots=True)
class RemoteFile:
    """One object of a remote run, as listed before fetching."""

    rel: str  # relative to the run's URL, POSIX
    key: str  # the object's path in its filesystem
    size: int
    stamp: str  # ETag or modification time: a changed object is fetched again


def list_files(url: str) -> tuple[Any, str, list[RemoteFile]]:
    """Every object under ``url`` (or the object itself)."""
    fs, inner = filesystem(url)
    try:
        found = fs.find(inner, detail=True)
        if not found:
            info = fs.info(inner)  # a missing path raises FileNotFoundError here
            found = {inner: info} if info.get("type") == "file" else {}
    except Exception as e:
        raise remote_error(url, e) from None
    files = []
    single = list(found) == [inner]
    for path, info in sorted(found.items()):
        if info.get("type", "file") != "file":
            continue
        rel = path.rsplit("/", 1)[-1] if single else path[len(inner) :].lstrip("/")
        stamp = str(info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime") or "")
        files.append(RemoteFile(rel, path, int(info.get("size") or 0), stamp))
    return fs, inner, files


def find_remote_runs(url: str) -> Any:
    """The runs under a bucket prefix (:func:`forensics.runs.partition` on the listing)."""
    from forensics.runs import Run, partition

    _, _, files = list_files(url)
    if not files:
        raise UsageError(f"{url}: no such bucket or path (nothing listed under it)")
    found = partition([f.rel for f in files], url.rstrip("/"))
    if not found.runs:
        found.runs = [Run("", "unknown")]
    return found


# ---------------------------------------------------------------- the cache


@contextlib.contextmanager
def _locked(path: Path, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """An advisory lock on ``path`` (created); yields False when ``wait`` is off and it is taken."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here: one process at a time is the user's job
        yield True
        return
    with open(path, "a+b") as f:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(f.fileno(), flags | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _dir_bytes(d: Path) -> int:
    total = 0
    for p in d.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


def _evict(root: Path, keep: Path, need: int, limit: int) -> None:
    """Remove other staged runs, least recently used first, until ``need`` more bytes fit."""
    runs = [d for d in root.iterdir() if d.is_dir() and d != keep]
    used = {d: _dir_bytes(d) for d in runs}
    total = sum(used.values()) + _dir_bytes(keep)
    for d in sorted(runs, key=lambda d: (d / _MANIFEST).stat().st_mtime if (d / _MANIFEST).exists() else 0.0):
        if total + need <= limit:
            break
        with _locked(root / f"{d.name}.lock", wait=False) as free:
            if not free:
                continue  # another process is analysing it
            shutil.rmtree(d, ignore_errors=True)
            total -= used[d]


@dataclasses.dataclass
class Staged:
    """A remote run fetched into the local cache: where, what was left out, and its lock."""

    local: Path
    skipped: list[tuple[RemoteFile, str]]  # (file, why it was not fetched)
    lock: Path


def stage(url: str, *, root: Path | None = None, limit: int | None = None) -> Staged:
    """Copy the run at ``url`` into the local cache (what fits), reusing what is there."""
    from forensics.discover import classify

    fs, _, files = list_files(url)
    if not files:
        raise UsageError(f"{url}: no such bucket or path (nothing listed under it)")
    root = root or cache_dir()
    limit = limit or cache_limit()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the cache {root}: {e.strerror or e}") from None
    import hashlib  # here: only a remote run needs it (a few ms of every start-up otherwise)

    key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:20]
    local = root / key
    lock = root / f"{key}.lock"
    # Smallest first: curves, logs and configs before checkpoints; only files a reader takes.
    wanted = sorted((f for f in files if _readable_name(f.rel, classify)), key=lambda f: (f.size, f.rel))
    skipped: list[tuple[RemoteFile, str]] = []
    with _locked(root / ".lock"):
        local.mkdir(exist_ok=True)
        manifest_path = local / _MANIFEST
        try:
            have = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            have = {}
        budget = limit - sum(f.size for f in wanted if have.get(f.rel) == [f.size, f.stamp])
        need = 0
        fetch = []
        for f in wanted:
            if have.get(f.rel) == [f.size, f.stamp] and (local / f.rel).is_file():
                continue
            if need + f.size > budget:
                skipped.append((f, f"not fetched: it is over the local cache limit of {_human(limit)}"))
                continue
            need += f.size
            fetch.append(f)
        _evict(root, local, need, limit)
        for f in fetch:
            target = local / f.rel
            if not target.resolve().is_relative_to(local.resolve()):
                skipped.append((f, "not fetched: its key leaves the run's prefix"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            try:
                fs.get_file(f.key, str(tmp))
                os.replace(tmp, target)
            except Exception as e:
                tmp.unlink(missing_ok=True)
                skipped.append((f, remote_error(f"{url.rstrip('/')}/{f.rel}", e).args[0]))
                continue
            have[f.rel] = [f.size, f.stamp]
        have = {k: v for k, v in have.items() if (local / k).is_file()}
        manifest_path.write_text(json.dumps(have), encoding="utf-8")
        os.utime(manifest_path, (time.time(), time.time()))
    return Staged(local, skipped, lock)


def _readable_name(rel: str, classify: Any) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name == _MANIFEST or name.endswith(".part"):
        return False
    folder = rel.rsplit("/", 2)[-2] if rel.count("/") >= 1 else ""
    # MLflow keeps metrics and params in files without an extension
    return classify(name) is not None or folder in ("metrics", "params") or name == "meta.yaml"


def _human(n: int) -> str:
    from forensics.util import human_bytes

    return human_bytes(n)


@contextlib.contextmanager
def staged_run(url: str, *, root: Path | None = None, limit: int | None = None) -> Iterator[tuple[Path, Staged]]:
    """The run at ``url`` staged locally: yields (the path to analyse, what was staged),
    holding the run's cache entry against eviction meanwhile."""
    staged = stage(url, root=root, limit=limit)
    with _locked(staged.lock, shared=True):
        entries = [p for p in staged.local.iterdir() if p.name != _MANIFEST]
        single = len(entries) == 1 and entries[0].is_file() and not staged.skipped
        yield (entries[0] if single else staged.local), staged


def name_remote_report(report: Any, url: str, staged: Staged) -> Any:
    """The report of a staged run, naming its URL and listing the files not fetched."""
    from forensics.discover import classify

    report.run_dir = url
    if report.timeline is not None:
        report.timeline = dataclasses.replace(report.timeline, run_dir=url)
    for f, why in staged.skipped:
        kind = classify(f.rel.rsplit("/", 1)[-1]) or Kind.DATA_SAMPLE
        report.sources.append(Source(path=f.rel, kind=kind, status=Status.SKIPPED, note=why, size=f.size))
        report.problems.append(f"{f.rel}: {why}")
    return report


def analyze_remote(url: str, *, root: Path | None = None, limit: int | None = None, **options: Any) -> Any:
    """Stage the run at ``url`` and analyse it (``options`` as for
    :func:`forensics.analysis.analyze`); the report names the URL, and the files not
    fetched are listed as skipped sources."""
    from forensics.analysis import analyze

    with staged_run(url, root=root, limit=limit) as (target, staged):
        report = analyze(target, **options)
    return name_remote_report(report, url, staged)
