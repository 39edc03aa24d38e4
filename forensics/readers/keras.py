"""Read Keras checkpoints (H5 and ``.keras`` archives) with h5py alone, no Keras.

Four on-disk layouts are recognised by their structure, not their name:

- ``keras2_h5``: Keras 2 ``model.save("x.h5")`` (also Keras 3's legacy H5 save):
  ``model_weights/<layer>/<weight name>`` listed by the ``layer_names`` and
  ``weight_names`` attributes, the model and training config as JSON attributes,
  optimizer slots under ``optimizer_weights``.
- ``keras2_weights_h5``: Keras 2 ``save_weights("w.h5")``: the same layer groups at the root.
- ``keras3_weights_h5``: Keras 3 ``save_weights("x.weights.h5")``: ``layers/<saved name>/vars/<i>``,
  nested containers below, the optimizer under ``optimizer/vars``. Groups are named
  after the layer *class* (``dense``, ``dense_1``), the real layer name is the ``name``
  attribute of ``vars``.
- ``keras_archive``: a Keras 3 ``.keras`` zip holding ``model.weights.h5`` (read in place,
  never extracted), ``config.json`` and ``metadata.json``.

Tensors are streamed through :mod:`forensics.readers.tensorstats` one dataset slice at a
time. Datasets that are external, virtual, reached through links, or that declare far
more data than they store (a decompression bomb) are not read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import mmap
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from forensics.errors import UnreadableSource
from forensics.readers import isolation, tensorstats
from forensics.readers.h5safe import h5_message, h5_refusal, import_h5py
from forensics.readers.safe_open import fd_path, open_binary, open_fd
from forensics.readers.tensorstats import StatsAccumulator, layer_of, summarize_problems
from forensics.records import Checkpoint, Kind, LayerInfo, ModelInfo, Source, Status, TensorStats
from forensics.util import natural_key

if TYPE_CHECKING:
    import zipfile  # imported where a .keras archive is opened: an .h5 run does not need it

h5py = import_h5py()  # before anything else: nothing from the run or PATH may run

# JSON members of an archive (config, metadata) are a few KB to a few MB; past this
# a member is not what it claims to be.
MAX_JSON_BYTES = 64 * 1024 * 1024
# A compressed model.weights.h5 must be inflated into memory to be read at random;
# Keras itself stores it uncompressed, so this only guards odd or hostile archives.
MAX_INFLATED_WEIGHTS_BYTES = 512 * 1024 * 1024
# A dataset declaring more than this many times the bytes it stores, above the floor,
# is a decompression/shape bomb (the same guard Keras applies when loading).
BOMB_EXPANSION = 100
BOMB_FLOOR_BYTES = 1 << 30
# Nesting deeper than this is not a model but a loop of hard links.
MAX_GROUP_DEPTH = 32
# Groups visited in one file before we stop walking (a hard-link DAG can fan out).
MAX_GROUPS = 200_000

_H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError)
_ITERATION_NAMES = {"iteration", "iterations", "iter"}
_LR_NAMES = {"learning_rate", "lr"}


class _WalkBudget(Exception):
    pass


@dataclass
class _Reading:
    """What one pass over an H5 file collects."""

    chunk_elements: int
    tensors: list[TensorStats] = field(default_factory=list)
    optimizer: list[TensorStats] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    iterations: int | None = None
    learning_rate: float | None = None
    groups_seen: int = 0
    # When a list: model weights are only located here, their data is not read.
    located: list[LocatedWeight] | None = None
    # every model weight reached, with its dataset's path: what located_weights would find
    layout: list[_Placed] = field(default_factory=list)
    # the data of each model weight read in one block, by dataset path (see _KEPT)
    kept: dict[str, np.ndarray] = field(default_factory=dict)


# ---------------------------------------------------------------- public API


def read_keras_h5(path: Path, source: Source, *, chunk_elements: int | None = None) -> Checkpoint:
    """A Keras 2 / Keras 3 H5 checkpoint: weights, optimizer slots and what the config says."""
    return _isolated(_read_keras_h5_here, path, source, chunk_elements)


def read_keras_archive(path: Path, source: Source, *, chunk_elements: int | None = None) -> Checkpoint:
    """A Keras 3 ``.keras`` zip, read in place: ``model.weights.h5`` is opened inside the archive."""
    return _isolated(_read_keras_archive_here, path, source, chunk_elements)


# ---------------------------------------------------------------- isolation
#
# The HDF5 C library can crash the process (SIGSEGV) on a damaged file: a bit-flipped
# attribute was enough in our fuzzing. A crash must cost one source, not the analysis,
# so each file is read in a forked child (forensics.readers.isolation) that sends back
# its Checkpoint as JSON (never pickle).

_Reader = Callable[[Path, Source, "int | None"], Checkpoint]


def _isolated(reader: _Reader, path: Path, source: Source, chunk_elements: int | None) -> Checkpoint:
    if not isolation.ISOLATE:
        return reader(path, source, chunk_elements)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None

    def work(emit: isolation.Emit) -> None:
        emit(_checkpoint_to_dict(reader(path, source, chunk_elements)))

    outcome = isolation.run_isolated(work, isolation.deadline_for(size))
    if outcome.failure is not None or not outcome.messages:
        raise UnreadableSource(outcome.failure or "the isolated reader ended without a result")
    return _checkpoint_from_dict(outcome.messages[0])


def _checkpoint_to_dict(ckpt: Checkpoint) -> dict[str, Any]:
    return dataclasses.asdict(ckpt)


def _checkpoint_from_dict(d: dict[str, Any]) -> Checkpoint:
    src = d["source"]
    source = Source(**{**src, "kind": Kind(src["kind"]), "status": Status(src["status"])})

    def stats(items: list[dict[str, Any]]) -> tuple[TensorStats, ...]:
        return tuple(TensorStats(**{**t, "shape": tuple(t["shape"])}) for t in items)

    model = d.get("model")
    info = None
    if model is not None:
        info = ModelInfo(**{**model, "layers": tuple(LayerInfo(**layer) for layer in model["layers"])})
    return Checkpoint(
        **{
            **d,
            "source": source,
            "tensors": stats(d["tensors"]),
            "optimizer_tensors": stats(d["optimizer_tensors"]),
            "model": info,
            "shards": tuple(d["shards"]),
        }
    )


# ---------------------------------------------------------------- reading in this process


@dataclass
class _Opened:
    """An open Keras H5 (a plain file, or the weights inside a ``.keras`` zip) and what came with it."""

    h5: h5py.File
    config: Any = None  # the archive's config.json
    keras_version: str | None = None  # the archive's metadata.json says
    problems: list[str] = field(default_factory=list)
    identity: tuple[Any, ...] = ()  # the file opened: (archive?, device, inode, size, mtime in ns)


@contextlib.contextmanager
def _open_keras(path: Path, archive: bool) -> Iterator[_Opened]:
    """Open a Keras H5 file, or the ``model.weights.h5`` of a ``.keras`` archive in place."""
    if not archive:
        try:
            fd = open_fd(path)
        except OSError as e:
            raise UnreadableSource(f"cannot open: {e.strerror or e}") from None
        try:
            try:
                # libhdf5 opens by name: /proc/self/fd/N is the file checked above, whatever
                # is at ``path`` now
                h5 = h5py.File(fd_path(fd, path), "r")
            except _H5_ERRORS as e:
                raise UnreadableSource(f"not a readable HDF5 file: {h5_message(e)}") from None
            with h5:
                yield _Opened(h5, identity=_identity(fd, archive))
        finally:
            os.close(fd)
        return
    try:
        fh = open_binary(path)
    except OSError as e:
        raise UnreadableSource(f"cannot open: {e.strerror or e}") from None
    import zipfile

    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        fh.close()
        raise UnreadableSource(_unzippable(path, e)) from None
    with fh, zf:
        problems: list[str] = []
        config = _archive_json(zf, "config.json", problems)
        metadata = _archive_json(zf, "metadata.json", problems)
        try:
            info = zf.getinfo("model.weights.h5")
        except KeyError:
            names = ", ".join(sorted(zf.namelist())[:5]) or "nothing"
            raise UnreadableSource(f"archive holds no model.weights.h5 (it holds {names})") from None
        fileobj = _open_member(fh, zf, info)
        try:
            try:
                h5 = h5py.File(fileobj, "r")
            except _H5_ERRORS as e:
                raise UnreadableSource(
                    f"model.weights.h5 in the archive is not readable HDF5: {h5_message(e)}"
                ) from None
            version = metadata.get("keras_version") if isinstance(metadata, dict) else None
            with h5:
                yield _Opened(h5, config, str(version) if version else "3", problems, _identity(fh.fileno(), archive))
        finally:
            fileobj.close()


def _identity(fd: int, archive: bool) -> tuple[Any, ...]:
    st = os.fstat(fd)
    return (archive, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read_keras_h5_here(path: Path, source: Source, chunk_elements: int | None) -> Checkpoint:
    with _open_keras(path, archive=False) as opened:
        return _read_h5(opened, source, chunk_elements)


def _read_keras_archive_here(path: Path, source: Source, chunk_elements: int | None) -> Checkpoint:
    with _open_keras(path, archive=True) as opened:
        ckpt = _read_h5(opened, source, chunk_elements)
    return dataclasses.replace(ckpt, format="keras_archive")


# ---------------------------------------------------------------- weights without their statistics


@dataclass(frozen=True, slots=True)
class LocatedWeight:
    """A model weight found the way the reader finds it (same name, same layer), data not read."""

    name: str
    layer: str
    dtype: str  # "float32", "bfloat16", ...
    shape: tuple[int, ...]
    dataset: h5py.Dataset | None  # None when its data was kept from the read
    view: np.dtype  # the dtype to view the stored bytes as
    path: str = ""  # the dataset's path in the file
    data: np.ndarray | None = None  # its data as the read's one block gave it (see _KEPT)

    def chunks(self, chunk_elements: int | None = None) -> Iterator[np.ndarray]:
        """The data in row-major blocks of at most ``chunk_elements`` elements.

        Two weights of the same shape are cut at the same places, so they can be
        walked in lockstep.
        """
        limit = _chunk_limit(chunk_elements)
        if self.data is None:
            assert self.dataset is not None
            return _dataset_chunks(self.dataset, self.view, self.shape, limit)
        if self.shape == () or math.prod(self.shape) <= limit:
            return iter((self.data,))
        return (self.data[sel] for sel in _blocks(self.shape, limit))  # the blocks a read would give


# A model weight as the walk reaches it: (name, layer, dtype name, shape, the dataset's path, view).
_Placed = tuple[str, str, str, tuple[int, ...], str, np.dtype]

# Where the model weights of the files read lately are, by file identity (_Opened.identity):
# the update ratio reads the two checkpoints again (in the same worker process) and finds
# their weights here instead of walking the group tree again. The walk is most of an H5
# read for a small model (h5py costs ~20-90 us per group, link and attribute looked at:
# 45 ms of CPU per pair of 150 KB Keras 3 files here), and an unchanged file has the same
# tree. A layout is kept only from a walk that finished.
_LAYOUTS: dict[tuple[Any, ...], tuple[_Placed, ...]] = {}
MAX_LAYOUTS = 256
# The model weights' data of the small files read lately, by file identity then dataset path:
# for a small model the update ratio's own cost is h5py's per-dataset lookup and read (~10 ms of
# CPU for a pair of 150 KB Keras 3 files, at the end of every run with two checkpoints, after
# the timeline asked); an unchanged file holds the same data. Only a file whose every model weight
# came in one block is kept, up to MAX_KEPT_BYTES in all (the oldest files dropped first).
_KEPT: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
MAX_KEPT_BYTES = 32 << 20


def _remember_layout(opened: _Opened, reading: _Reading) -> None:
    if not opened.identity:
        return
    if len(_LAYOUTS) >= MAX_LAYOUTS:
        del _LAYOUTS[next(iter(_LAYOUTS))]
    _LAYOUTS[opened.identity] = tuple(reading.layout)
    _KEPT.pop(opened.identity, None)
    if not reading.layout or any(where not in reading.kept for *_, where, _ in reading.layout):
        return
    kept = {where: reading.kept[where] for *_, where, _ in reading.layout}
    size = sum(a.nbytes for a in kept.values())
    if size > MAX_KEPT_BYTES:
        return
    while _KEPT and size + sum(a.nbytes for data in _KEPT.values() for a in data.values()) > MAX_KEPT_BYTES:
        del _KEPT[next(iter(_KEPT))]
    _KEPT[opened.identity] = kept


def _located_again(opened: _Opened) -> list[LocatedWeight] | None:
    """The weights of a file walked before (see ``_LAYOUTS``), or None (walk it); with their data
    when it was kept (``_KEPT``)."""
    placed = _LAYOUTS.get(opened.identity) if opened.identity else None
    if placed is None:
        return None
    kept = _KEPT.get(opened.identity)
    if kept is not None and all(where in kept for *_, where, _ in placed):
        return [
            LocatedWeight(name, layer, dtype_name, shape, None, view, where, kept[where])
            for name, layer, dtype_name, shape, where, view in placed
        ]
    located = []
    try:
        for name, layer, dtype_name, shape, where, view in placed:
            ds = opened.h5[where]
            if not isinstance(ds, h5py.Dataset) or (tuple(ds.shape) if ds.shape is not None else (0,)) != shape:
                return None
            located.append(LocatedWeight(name, layer, dtype_name, shape, ds, view, where))
    except _H5_ERRORS:
        return None
    return located


@contextlib.contextmanager
def located_weights(path: Path, *, archive: bool) -> Iterator[list[LocatedWeight]]:
    """The model weights of a Keras H5 file or ``.keras`` archive.

    Only valid while the context is open. Call it in an isolated child
    (:mod:`forensics.readers.isolation`): it hands the file to libhdf5.
    """
    with _open_keras(path, archive) as opened:
        located = _located_again(opened)
        if located is None:
            reading = _Reading(_chunk_limit(None), problems=list(opened.problems), located=[])
            _walk_layout(opened, reading)
            _remember_layout(opened, reading)
            located = reading.located or []
        yield located


# ---------------------------------------------------------------- archive members


class _MemberFile(io.RawIOBase):
    """A read-only, seekable window onto a stored (uncompressed) zip member.

    h5py reads at random offsets; ``ZipExtFile`` would re-read the member from its
    start on every backward seek, so the stored bytes are addressed directly.
    """

    def __init__(self, archive: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._fh = os.fdopen(os.dup(archive.fileno()), "rb")  # the archive already checked; closed by close()
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if want == 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(view[:want]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        self._fh.close()
        super().close()


def _open_member(fh: BinaryIO, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.IOBase:
    import zipfile

    if info.flag_bits & 0x1:
        raise UnreadableSource("model.weights.h5 in the archive is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        try:
            local = os.pread(fh.fileno(), 30, info.header_offset)
            archive_size = os.fstat(fh.fileno()).st_size
        except OSError as e:
            raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise UnreadableSource("archive entry for model.weights.h5 is damaged (no local header)")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.file_size > archive_size:
            raise UnreadableSource("archive is truncated inside model.weights.h5")
        return _MemberFile(fh, start, info.file_size)
    # Compressed: random access needs the inflated bytes; bounded by a cap.
    if info.file_size > MAX_INFLATED_WEIGHTS_BYTES:
        raise UnreadableSource(
            f"model.weights.h5 is compressed in the archive and inflates to {info.file_size} bytes, "
            f"over the {MAX_INFLATED_WEIGHTS_BYTES}-byte cap"
        )
    data = _read_member(zf, info, MAX_INFLATED_WEIGHTS_BYTES)
    return io.BytesIO(data)


# A member is inflated this many bytes at a time: asking zipfile for a whole member at
# once makes it read and inflate up to that many bytes in one call before cutting the
# result to the declared size, so a member lying about its size peaked at the cap.
_INFLATE_STEP = 1 << 20


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The member's bytes, refusing to inflate past ``cap`` whatever its header claims.

    zipfile stops at the declared size (then checks the CRC), so a member that claims
    little and inflates to much costs its declared size, not the cap.
    """
    import zipfile

    try:
        with zf.open(info) as member:
            buf = bytearray()
            while len(buf) <= cap:
                block = member.read(min(_INFLATE_STEP, cap + 1 - len(buf)))
                if not block:
                    break
                buf += block
            data = bytes(buf)
            del buf
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise UnreadableSource(f"{info.filename} in the archive cannot be read: {e}") from None
    except Exception as e:  # zlib.error and friends
        raise UnreadableSource(f"{info.filename} in the archive cannot be inflated: {e}") from None
    if len(data) > cap:
        raise UnreadableSource(f"{info.filename} in the archive inflates past the {cap}-byte cap")
    return data


def _unzippable(path: Path, error: Exception) -> str:
    """Why an archive cannot be opened, in one line: a zip whose end (the central
    directory) is missing was cut short, and its local headers still say which members
    lie whole before the cut."""
    try:
        with open_binary(path) as fh:
            head = fh.read(4)
            size = os.fstat(fh.fileno()).st_size
            if head != b"PK\x03\x04":
                return f"not a readable zip archive: {error}"
            whole, cut = _members_before_cut(fh, size)
    except OSError:
        return f"not a readable zip archive: {error}"
    kept = ", ".join(whole[:6]) + (f" and {len(whole) - 6} more" if len(whole) > 6 else "") if whole else "no member"
    cut_txt = f"; {cut} is cut" if cut else ""
    return (
        f"truncated .keras archive ({size} bytes, its central directory is missing: an interrupted save?); "
        f"whole before the cut: {kept}{cut_txt}"
    )


def _members_before_cut(fh: BinaryIO, size: int, limit: int = 10_000) -> tuple[list[str], str | None]:
    """Names of the members whose local header and data lie wholly in the file, walking
    the local headers from the start; and the name of the member the file ends inside."""
    whole: list[str] = []
    offset = 0
    for _ in range(limit):
        header = os.pread(fh.fileno(), 30, offset)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            return whole, None
        flags, csize = struct.unpack("<H", header[6:8])[0], struct.unpack("<I", header[18:22])[0]
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        name = os.pread(fh.fileno(), name_len, offset + 30).decode("utf-8", "replace")
        end = offset + 30 + name_len + extra_len + csize
        if flags & 0x8 or end > size:  # sizes after the data (streamed), or cut inside it
            return whole, name
        whole.append(name)
        offset = end
    return whole, None


def _archive_json(zf: zipfile.ZipFile, name: str, problems: list[str]) -> Any:
    try:
        info = zf.getinfo(name)
    except KeyError:
        problems.append(f"archive has no {name}")
        return None
    try:
        return json.loads(_read_member(zf, info, MAX_JSON_BYTES).decode("utf-8"))
    except UnreadableSource as e:
        problems.append(str(e))
    except (ValueError, RecursionError):
        problems.append(f"{name} in the archive is not valid JSON")
    return None


# ---------------------------------------------------------------- layouts


@dataclass(frozen=True, slots=True)
class _Layout:
    format: str
    version: str | None
    model_config: Any
    training_config: dict[str, Any] | None


def _walk_layout(opened: _Opened, reading: _Reading) -> _Layout:
    """Recognise the layout and walk it, collecting into ``reading``."""
    h5, config, keras_version = opened.h5, opened.config, opened.keras_version
    try:
        attrs = h5.attrs
        root_keys = list(h5.keys())
        if "model_weights" in h5:
            version = (
                keras_version
                or _attr_str(attrs.get("keras_version"))
                or _attr_str(h5["model_weights"].attrs.get("keras_version"))
            )
            layout = _Layout(
                "keras2_h5",
                version,
                _attr_json(attrs, "model_config", reading),
                _attr_json(attrs, "training_config", reading),
            )
            _read_keras2_layers(h5["model_weights"], reading)
            if "optimizer_weights" in h5 and reading.located is None:
                _read_keras2_optimizer(h5["optimizer_weights"], reading)
        elif "layer_names" in attrs:
            layout = _Layout("keras2_weights_h5", keras_version or _attr_str(attrs.get("keras_version")), None, None)
            _read_keras2_layers(h5, reading)
        elif "layers" in h5 or "vars" in h5 or "optimizer" in h5:
            model_config = config if isinstance(config, dict) else None
            layout = _Layout("keras3_weights_h5", keras_version or "3", model_config, None)
            _read_keras3(h5, layout.model_config, reading)
        else:
            shown = ", ".join(root_keys[:6]) or "none"
            raise UnreadableSource(f"no Keras weights layout found (top-level groups: {shown})")
    except _WalkBudget:
        raise UnreadableSource(f"H5 group tree exceeds {MAX_GROUPS} groups or depth {MAX_GROUP_DEPTH}") from None
    except _H5_ERRORS as e:
        raise UnreadableSource(f"HDF5 structure is damaged: {h5_message(e)}") from None
    return layout


def _chunk_limit(chunk_elements: int | None) -> int:
    return max(1, chunk_elements or tensorstats.DEFAULT_CHUNK_ELEMENTS)


def _read_h5(opened: _Opened, source: Source, chunk_elements: int | None) -> Checkpoint:
    reading = _Reading(_chunk_limit(chunk_elements), problems=list(opened.problems))
    layout = _walk_layout(opened, reading)
    _remember_layout(opened, reading)
    fmt, version, model_config, training_config = (
        layout.format,
        layout.version,
        layout.model_config,
        layout.training_config,
    )
    framework = _framework(version)
    info = _model_info(framework, model_config, training_config, reading)
    problems_all = reading.problems
    step = reading.iterations
    status = Status.PARTIAL if problems_all else Status.OK
    return Checkpoint(
        source=dataclasses.replace(
            source, status=status, note=summarize_problems(problems_all) if problems_all else None
        ),
        format=fmt,
        step=step,
        step_origin="internal" if step is not None else None,
        epoch=None,
        tensors=tuple(reading.tensors),
        optimizer_tensors=tuple(reading.optimizer),
        model=info,
    )


def _framework(version: str | None) -> str | None:
    if not version:
        return None
    major = version.strip().split(".")[0]
    return f"keras{major}" if major.isdigit() else None


def _read_keras2_layers(group: h5py.Group, reading: _Reading) -> None:
    """Keras 2 layout: ``layer_names`` in model order, each layer's ``weight_names`` in its order."""
    names = _str_list(group.attrs.get("layer_names"))
    if "top_level_model_weights" in group and "top_level_model_weights" not in names:
        names.append("top_level_model_weights")
    for layer_name in names:
        layer_group = _child(group, layer_name, reading)
        if not isinstance(layer_group, h5py.Group):
            if layer_group is None and layer_name != "top_level_model_weights":
                reading.problems.append(f"layer '{layer_name}' is listed but has no group")
            continue
        for weight_name in _str_list(layer_group.attrs.get("weight_names")):
            ds = _dataset(layer_group, weight_name, reading)
            if ds is not None:
                _stat(ds, weight_name, _keras2_layer(layer_name, weight_name), reading.tensors, reading)


def _keras2_layer(group: str, weight_name: str) -> str:
    """The layer of a Keras 2 weight: ``dense/kernel:0`` in group ``dense`` is ``dense``; a nested
    model's ``d1/kernel:0`` in group ``trunk`` is ``trunk/d1``."""
    if group == "top_level_model_weights" or "/" not in weight_name:
        return group
    inner = layer_of(weight_name)
    return inner if inner == group or inner.startswith(group + "/") else f"{group}/{inner}"


def _read_keras2_optimizer(group: h5py.Group, reading: _Reading) -> None:
    names = _str_list(group.attrs.get("weight_names"))
    for weight_name in names:
        ds = _dataset(group, weight_name, reading)
        if ds is None:
            continue
        short = re.sub(r":\d+$", "", weight_name).rsplit("/", 1)[-1]
        if ds.shape == () and short in _ITERATION_NAMES | _LR_NAMES:
            _scalar_state(ds, short in _ITERATION_NAMES, reading)
        _stat(ds, weight_name, layer_of(weight_name), reading.optimizer, reading)


def _read_keras3(h5: h5py.File, config: dict[str, Any] | None, reading: _Reading) -> None:
    """Keras 3 layout: walk the saveable tree, naming layers by their real names."""
    root_name = _attr_str(h5["vars"].attrs.get("name")) if isinstance(h5.get("vars"), h5py.Group) else None
    if isinstance(h5.get("vars"), h5py.Group):
        _read_vars(h5["vars"], root_name or "model", reading.tensors, reading)
    if isinstance(h5.get("layers"), h5py.Group):
        _walk_container(h5["layers"], "", _layer_configs(config), reading, depth=1)
    opt = h5.get("optimizer")
    if isinstance(opt, h5py.Group):
        _walk_optimizer(opt, "optimizer", reading, depth=1)
        vars_group = opt.get("vars")
        if isinstance(vars_group, h5py.Group):
            _keras3_optimizer_state(vars_group, _optimizer_lr_is_schedule(config), reading)


def _keras3_optimizer_state(group: h5py.Group, lr_is_schedule: bool, reading: _Reading) -> None:
    """Iterations and learning rate from Keras 3's unnamed ``optimizer/vars/<i>``.

    A plain optimizer stores ``[iterations, learning_rate, slots...]`` (no learning-rate
    variable under a schedule). A LossScaleOptimizer (mixed precision) stores its own
    never-advanced ``iterations, learning_rate``, then ``step_counter, dynamic_scale``,
    then the inner optimizer's ``iterations, learning_rate``. So among the leading
    scalars the integer with the largest count (the last on a tie) is the step counter,
    and a float scalar right after it is the learning rate.
    """
    leading: list[h5py.Dataset] = []
    for i in range(len(group)):
        ds = group.get(str(i))
        if not isinstance(ds, h5py.Dataset) or ds.shape != ():
            break
        leading.append(ds)
    best: tuple[int, int] | None = None  # (count, index)
    for i, ds in enumerate(leading):
        if ds.dtype.kind in "iu":
            try:
                count = int(np.asarray(ds[()]).item())
            except _H5_ERRORS:
                continue
            if best is None or (count, i) >= best:
                best = (count, i)
    if best is None:
        return
    reading.iterations = best[0]
    after = best[1] + 1
    if not lr_is_schedule and after < len(leading) and leading[after].dtype.kind == "f":
        _scalar_state(leading[after], False, reading)


def _walk_container(
    group: h5py.Group, prefix: str, configs: list[dict[str, Any]] | None, reading: _Reading, depth: int
) -> None:
    """A list container (``layers``): each child is a layer, in model order where the config says."""
    _budget(reading, depth)
    for key, child_config in _ordered_children(group, configs):
        child = _child(group, key, reading)
        if isinstance(child, h5py.Group):
            _walk_layer(child, key, prefix, child_config, reading, depth + 1)


def _walk_layer(
    group: h5py.Group, key: str, prefix: str, config: dict[str, Any] | None, reading: _Reading, depth: int
) -> None:
    _budget(reading, depth)
    vars_group = group.get("vars")
    real = _attr_str(vars_group.attrs.get("name")) if isinstance(vars_group, h5py.Group) else None
    path = f"{prefix}/{real or key}" if prefix else (real or key)
    if isinstance(vars_group, h5py.Group):
        _read_vars(vars_group, path, reading.tensors, reading)
    for sub in _creation_order(group, [k for k in group if k != "vars"]):
        child = _child(group, sub, reading)
        if not isinstance(child, h5py.Group):
            continue
        if sub == "layers":
            _walk_container(child, path, _layer_configs(config), reading, depth + 1)
        else:  # a sub-layer held as an attribute (custom layers), or another saveable
            _walk_layer(child, sub, path, None, reading, depth + 1)


def _walk_optimizer(group: h5py.Group, path: str, reading: _Reading, depth: int) -> None:
    _budget(reading, depth)
    if isinstance(group.get("vars"), h5py.Group):
        _read_vars(group["vars"], path, reading.optimizer, reading)
    for sub in sorted((k for k in group if k != "vars"), key=natural_key):
        child = _child(group, sub, reading)
        if isinstance(child, h5py.Group):
            _walk_optimizer(child, f"{path}/{sub}", reading, depth + 1)


def _read_vars(group: h5py.Group, path: str, out: list[TensorStats], reading: _Reading) -> None:
    """``vars/0``, ``vars/1``, ... in numeric order (the order the layer created them)."""
    for key in sorted(group, key=natural_key):
        ds = _dataset(group, key, reading)
        if ds is not None:
            _stat(ds, f"{path}/vars/{key}", path, out, reading)


def _budget(reading: _Reading, depth: int) -> None:
    reading.groups_seen += 1
    if depth > MAX_GROUP_DEPTH or reading.groups_seen > MAX_GROUPS:
        raise _WalkBudget


def _snake(name: str) -> str:
    """Keras 3's ``to_snake_case``: how it names a saved layer after its class."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _ordered_children(
    group: h5py.Group, configs: list[dict[str, Any]] | None
) -> list[tuple[str, dict[str, Any] | None]]:
    """Children of a ``layers`` group in model order.

    Keras 3 names them ``<snake class>[_<n>]`` counting per class in model order, so
    with the config the names can be rebuilt and matched; without it (a bare
    ``.weights.h5``) the order the groups were written in is used.
    """
    keys = list(group.keys())
    ordered: list[tuple[str, dict[str, Any] | None]] = []
    if configs:
        used: dict[str, int] = {}
        present = set(keys)
        for cfg in configs:
            cls = cfg.get("class_name")
            if not isinstance(cls, str):
                continue
            base = _snake(cls)
            if base in used:
                used[base] += 1
                name = f"{base}_{used[base]}"
            else:
                used[base] = 0
                name = base
            if name in present:
                ordered.append((name, cfg))
                present.discard(name)
        keys = [k for k in keys if k in present]
    ordered.extend((k, None) for k in _creation_order(group, keys))
    return ordered


def _creation_order(group: h5py.Group, keys: list[str]) -> list[str]:
    """Keys in the order their objects were written: object headers are allocated as the
    writer goes, and Keras writes layers in model order. Natural order breaks ties."""

    def address(key: str) -> float:
        try:
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                return math.inf
            return float(h5py.h5o.get_info(group[key].id).addr)
        except (*_H5_ERRORS, AttributeError):
            return math.inf

    return sorted(keys, key=lambda k: (address(k), natural_key(k)))


# ---------------------------------------------------------------- datasets


def _child(group: h5py.Group, name: str, reading: _Reading) -> Any:
    """``group[name]`` if it is reached through hard links only; None otherwise."""
    try:
        link = group.get(name, getlink=True)
    except _H5_ERRORS as e:
        reading.problems.append(f"'{name}': {h5_message(e)}")
        return None
    if link is None:
        return None
    if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
        reading.problems.append(f"'{name}': {type(link).__name__} not followed")
        return None
    return group.get(name)


def _dataset(group: h5py.Group, name: str, reading: _Reading) -> h5py.Dataset | None:
    obj = _child(group, name, reading)
    if obj is None:
        if name not in group:
            reading.problems.append(f"weight '{name}' is listed but not stored")
        return None
    if not isinstance(obj, h5py.Dataset):
        reading.problems.append(f"'{name}' is not a dataset")
        return None
    if obj.external or obj.is_virtual:
        reading.problems.append(f"'{name}': external or virtual dataset not read")
        return None
    refused = h5_refusal(obj, obj.dtype)  # chunks past the inflate budget, deflate bombs
    if refused:
        reading.problems.append(f"'{name}': {refused}")
        return None
    return obj


def _tensor_dtype(ds: h5py.Dataset) -> tuple[np.dtype, str] | None:
    """(dtype to view the data as, its name), or None for non-numeric data."""
    dt = ds.dtype
    if dt.kind in "fiub":
        return dt, tensorstats.dtype_name(dt)
    if dt.kind == "V" and dt.itemsize == 2 and _attr_str(ds.attrs.get("dtype")) == "bfloat16":
        return tensorstats.BFLOAT16_BITS, "bfloat16"  # Keras 3 stores bfloat16 as 2-byte opaque
    return None


def _blocks(shape: tuple[int, ...], limit: int) -> Iterator[tuple[Any, ...]]:
    """Selections covering ``shape`` in order, each of at most ``limit`` elements (rows first)."""
    inner = math.prod(shape[1:])
    if inner <= limit or len(shape) == 1:
        rows = max(1, limit // max(inner, 1))
        for i in range(0, shape[0], rows):
            yield (slice(i, min(i + rows, shape[0])),)
    else:
        for i in range(shape[0]):
            for sub in _blocks(shape[1:], limit):
                yield (i, *sub)


def _stat(ds: h5py.Dataset, name: str, layer: str, out: list[TensorStats], reading: _Reading) -> None:
    typed = _tensor_dtype(ds)
    if typed is None:
        reading.problems.append(f"'{name}': non-numeric dtype {ds.dtype}, not read")
        return
    view, dtype_name = typed
    shape = tuple(ds.shape) if ds.shape is not None else (0,)
    numel = math.prod(shape)
    declared = numel * ds.dtype.itemsize
    if declared > BOMB_FLOOR_BYTES:
        stored = ds.id.get_storage_size()
        if declared > BOMB_EXPANSION * stored:
            reading.problems.append(f"'{name}': declares {declared} bytes but stores {stored}: not read")
            return
    if out is reading.tensors:
        reading.layout.append((name, layer, dtype_name, shape, ds.name, view))
    if reading.located is not None:
        if out is reading.tensors:
            reading.located.append(LocatedWeight(name, layer, dtype_name, shape, ds, view, ds.name))
        return
    acc = StatsAccumulator(name, dtype_name, shape, layer)
    blocks = 0
    first: np.ndarray | None = None
    try:
        for chunk in _dataset_chunks(ds, view, shape, reading.chunk_elements):
            acc.update(chunk)
            blocks += 1
            if out is reading.tensors and blocks == 1 and chunk.nbytes <= MAX_KEPT_BYTES:
                first = chunk.copy()
    except _H5_ERRORS as e:
        reading.problems.append(f"'{name}': data unreadable ({h5_message(e)})")
        return
    if out is reading.tensors and blocks == 1 and first is not None:
        reading.kept[ds.name] = first
    out.append(acc.result())


def _selection_shape(shape: tuple[int, ...], sel: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape ``ds[sel]`` has, for a selection made by :func:`_blocks`."""
    out = [len(range(*s.indices(dim))) for s, dim in zip(sel, shape[: len(sel)], strict=True) if isinstance(s, slice)]
    return (*out, *shape[len(sel) :])


def _dataset_chunks(ds: h5py.Dataset, view: np.dtype, shape: tuple[int, ...], limit: int) -> Iterator[np.ndarray]:
    """The dataset's data in row-major blocks of at most ``limit`` elements, viewed as ``view``.

    Numeric data is read into one buffer reused from block to block (each block is
    valid until the next is asked for): a fresh array per block costs its allocation
    and page faults, about as much again as the read. A dataset that fits in one block
    is read whole through the dataset's own read (``H5S_ALL``: the same elements in the
    same order), without the selection objects ``read_direct`` builds: 20 against 85 us
    for each of a small model's few dozen tensors, read again by the update ratio.
    """
    if shape == ():
        yield np.asarray(ds[()]).reshape(1).view(view)
    elif math.prod(shape):
        numel = math.prod(shape)
        buf = np.empty(min(limit, numel), ds.dtype) if ds.dtype.kind in "fiu" else None
        if buf is not None and numel <= limit:
            from h5py import h5s

            ds.id.read(h5s.ALL, h5s.ALL, buf)
            yield buf.reshape(shape).view(view)
            return
        mapped = _mapped_blocks(ds, view, shape, limit) if buf is not None or ds.dtype.kind == "V" else None
        if mapped is not None:
            yield from mapped
            return
        for sel in _blocks(shape, limit):
            want = _selection_shape(shape, sel)
            if buf is None or math.prod(want) > buf.shape[0]:
                yield np.asarray(ds[sel]).view(view)
                continue
            dest = buf[: math.prod(want)].reshape(want)
            ds.read_direct(dest, source_sel=sel)
            yield dest.view(view)


def _mapped_blocks(ds: h5py.Dataset, view: np.dtype, shape: tuple[int, ...], limit: int) -> Iterator[np.ndarray] | None:
    """The blocks :func:`_blocks` cuts, as read-only views into a memory map of the file, where the
    dataset's bytes lie in it as they are; None elsewhere (read through libhdf5 then).

    That is a contiguous dataset (no filter, no fill: its bytes were written) of a plain file
    opened by libhdf5's default driver, whose stored type is the very type it is read as (no
    conversion: the same bytes libhdf5 would copy; opaque bytes, as Keras 3 stores bfloat16, of
    the same size), and which ends inside the file. Keras writes
    its weights so. Mapping spares libhdf5's copy of every block into the buffer: measured, a
    third of the CPU the statistics of a 2 GiB file cost. Pages already walked are dropped from
    the resident set as the safetensors reader does, so memory stays bounded.
    """
    try:
        stored = ds.id.get_type()
        if stored.get_class() == h5py.h5t.OPAQUE:  # bfloat16 as Keras 3 stores it: bytes as they are
            same = stored.get_size() == ds.dtype.itemsize
        else:
            same = stored == h5py.h5t.py_create(ds.dtype)
        if ds.file.driver != "sec2" or not same:
            return None
        offset = ds.id.get_offset()  # None unless contiguous and allocated
        if offset is None:
            return None
        fd = ds.file.id.get_vfd_handle()
        end = offset + math.prod(shape) * ds.dtype.itemsize
        if end > os.fstat(fd).st_size:
            return None  # a truncated file: libhdf5 says what is wrong
        base = offset - offset % mmap.ALLOCATIONGRANULARITY
        mm = mmap.mmap(fd, end - base, access=mmap.ACCESS_READ, offset=base)
    except (*_H5_ERRORS, OverflowError):
        return None
    return _map_walk(mm, offset - base, ds.dtype, view, shape, limit)


def _map_walk(
    mm: mmap.mmap, start: int, dtype: np.dtype, view: np.dtype, shape: tuple[int, ...], limit: int
) -> Iterator[np.ndarray]:
    strides = [math.prod(shape[k + 1 :]) for k in range(len(shape))]  # in elements, row-major
    try:
        for sel in _blocks(shape, limit):
            want = _selection_shape(shape, sel)
            # every block is a run of whole rows at fixed leading indices: contiguous in the file
            lead = (s.start if isinstance(s, slice) else s for s in sel)  # the block's first index
            first = sum(i * st for i, st in zip(lead, strides, strict=False))
            offset = start + first * dtype.itemsize
            count = math.prod(want)
            block = np.frombuffer(mm, dtype, count, offset).reshape(want).view(view)
            yield block
            del block
            tensorstats.release_pages(mm, offset, count * dtype.itemsize)
    finally:
        with contextlib.suppress(BufferError):  # a block still referenced: the map goes with it
            mm.close()


def _scalar_state(ds: h5py.Dataset, is_iterations: bool, reading: _Reading) -> None:
    try:
        value = np.asarray(ds[()]).item()
    except _H5_ERRORS:
        return  # _stat reports the unreadable data
    if is_iterations:
        if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
            reading.iterations = int(value)
    elif isinstance(value, (int, float)):
        reading.learning_rate = float(value)


# ---------------------------------------------------------------- attributes and config


def _attr_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _attr_str(value.item())
    return value if isinstance(value, str) else None


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.tolist() if isinstance(value, np.ndarray) else list(value) if isinstance(value, (list, tuple)) else []
    out = []
    for item in items:
        s = _attr_str(item)
        if s is not None:
            out.append(s)
    return out


def _attr_json(attrs: Any, key: str, reading: _Reading) -> dict[str, Any] | None:
    raw = _attr_str(attrs.get(key))
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        reading.problems.append(f"{key} attribute is not valid JSON")
        return None
    return value if isinstance(value, dict) else None


def _layer_configs(model_config: Any) -> list[dict[str, Any]] | None:
    """The layer list of a (Sequential or Functional) model config, or None."""
    if not isinstance(model_config, dict):
        return None
    inner = model_config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # old Sequential: a bare list
    if not isinstance(layers, list):
        return None
    return [layer for layer in layers if isinstance(layer, dict)]


def _layer_name(cfg: dict[str, Any]) -> str | None:
    inner = cfg.get("config")
    name = cfg.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
    return name if isinstance(name, str) else None


def _activation_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):  # Keras 3 may serialise a function as an object
        inner = value.get("config")
        if isinstance(inner, str):
            return inner.lower()
        for key in ("registered_name", "class_name"):
            if isinstance(value.get(key), str):
                return str(value[key]).lower()
    return None


def _layer_activation(cfg: dict[str, Any]) -> str | None:
    cls = cfg.get("class_name")
    inner = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
    if cls == "Softmax":
        return "softmax"
    if cls in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
        return str(cls).lower()
    return _activation_name(inner.get("activation"))


def _layer_units(cfg: dict[str, Any]) -> int | None:
    inner = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
    for key in ("units", "filters", "output_dim"):
        value = inner.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _flatten_layers(configs: list[dict[str, Any]], prefix: str, out: list[LayerInfo], depth: int = 0) -> None:
    for cfg in configs:
        name = _layer_name(cfg) or "?"
        path = f"{prefix}/{name}" if prefix else name
        nested = _layer_configs(cfg)
        if nested is not None and depth < MAX_GROUP_DEPTH:
            _flatten_layers(nested, path, out, depth + 1)
        elif cfg.get("class_name") != "InputLayer":
            out.append(
                LayerInfo(
                    name=path,
                    class_name=cfg.get("class_name") if isinstance(cfg.get("class_name"), str) else None,
                    units=_layer_units(cfg),
                    activation=_layer_activation(cfg),
                )
            )


def _inbound_name(cfg: dict[str, Any]) -> str | None:
    """The first layer feeding this one in a functional config (Keras 2 or 3 form)."""
    nodes = cfg.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes:
        return None
    node = nodes[0]
    if isinstance(node, list) and node and isinstance(node[0], list) and node[0]:
        return node[0][0] if isinstance(node[0][0], str) else None  # Keras 2: [[name, 0, 0, {}]]
    if isinstance(node, dict):  # Keras 3: {"args": [{"config": {"keras_history": [name, 0, 0]}}]}
        stack: list[Any] = [node.get("args")]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                history = item.get("config", {}).get("keras_history") if isinstance(item.get("config"), dict) else None
                if isinstance(history, list) and history and isinstance(history[0], str):
                    return history[0]
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(reversed(item))
    return None


def _output_layer(model_config: dict[str, Any], depth: int = 0) -> tuple[int | None, str | None]:
    """(units, activation) of the model's (first) output, walking back past layers without them."""
    layers = _layer_configs(model_config)
    if not layers or depth > MAX_GROUP_DEPTH:
        return None, None
    inner = model_config.get("config") if isinstance(model_config.get("config"), dict) else {}
    outputs = inner.get("output_layers")
    by_name = {n: cfg for cfg in layers if (n := _layer_name(cfg))}
    chain: list[dict[str, Any]] = []
    if outputs:  # functional: follow inbound links back from the output layer
        first = outputs[0] if isinstance(outputs[0], list) else outputs
        current = by_name.get(first[0]) if first and isinstance(first[0], str) else None
        while current is not None and len(chain) < len(layers):
            chain.append(current)
            prev = _inbound_name(current)
            current = by_name.get(prev) if prev else None
    else:  # sequential: the layers, last first
        chain = list(reversed(layers))
    units: int | None = None
    activation: str | None = None
    for cfg in chain:
        if _layer_configs(cfg) is not None:  # a nested model: its own output
            sub_units, sub_act = _output_layer(cfg, depth + 1)
            units = units if units is not None else sub_units
            activation = activation if activation is not None else sub_act
        else:
            units = units if units is not None else _layer_units(cfg)
            activation = activation if activation is not None else _layer_activation(cfg)
        if units is not None and activation is not None:
            break
    return units, activation


def _loss_name(value: Any) -> str | None:
    """The loss as a snake_case name, whether given as a string, a loss class or a function."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        return _loss_name(value[0])
    if isinstance(value, dict):
        cls = value.get("class_name")
        if cls == "function" and isinstance(value.get("config"), str):
            return value["config"]
        if isinstance(cls, str):
            return _snake(cls.split(">")[-1])
        for v in value.values():  # {output name: loss}
            name = _loss_name(v)
            if name:
                return name
    return None


def _optimizer_config(value: Any) -> tuple[str | None, float | None]:
    """(name, learning rate) from a serialised optimizer; loss-scale wrappers are looked through."""
    if isinstance(value, str):
        return value.lower(), None
    if not isinstance(value, dict):
        return None, None
    cls = value.get("class_name")
    cfg = value.get("config") if isinstance(value.get("config"), dict) else {}
    if isinstance(cfg.get("inner_optimizer"), dict):
        return _optimizer_config(cfg["inner_optimizer"])
    name = cls.split(">")[-1].lower() if isinstance(cls, str) else None
    lr = cfg.get("learning_rate", cfg.get("lr"))
    rate = float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None
    return name, rate


def _optimizer_lr_is_schedule(config: Any) -> bool:
    if not isinstance(config, dict) or not isinstance(config.get("compile_config"), dict):
        return False
    opt = config["compile_config"].get("optimizer")
    cfg = opt.get("config") if isinstance(opt, dict) and isinstance(opt.get("config"), dict) else {}
    if isinstance(cfg.get("inner_optimizer"), dict):
        cfg = cfg["inner_optimizer"].get("config") or {}
    return isinstance(cfg.get("learning_rate"), dict)


def _dtype_policy(configs: list[dict[str, Any]] | None) -> str | None:
    for cfg in configs or []:
        if cfg.get("class_name") == "InputLayer":
            continue
        inner = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
        dtype = inner.get("dtype")
        if isinstance(dtype, str):
            return dtype
        if isinstance(dtype, dict):
            name = dtype.get("config", {}).get("name") if isinstance(dtype.get("config"), dict) else None
            if isinstance(name, str):
                return name
    return None


def _model_info(
    framework: str | None, model_config: Any, training_config: dict[str, Any] | None, reading: _Reading
) -> ModelInfo:
    layers: list[LayerInfo] = []
    units = activation = loss = optimizer = None
    lr: float | None = None
    configs = _layer_configs(model_config)
    if isinstance(model_config, dict) and configs is not None:
        _flatten_layers(configs, "", layers)
        units, activation = _output_layer(model_config)
    if training_config is not None:  # Keras 2 H5
        loss = _loss_name(training_config.get("loss"))
        optimizer, lr = _optimizer_config(training_config.get("optimizer_config"))
    elif isinstance(model_config, dict) and isinstance(model_config.get("compile_config"), dict):  # Keras 3
        compiled = model_config["compile_config"]
        loss = _loss_name(compiled.get("loss"))
        optimizer, lr = _optimizer_config(compiled.get("optimizer"))
    if reading.learning_rate is not None:
        lr = reading.learning_rate  # the value stored in the optimizer state at save time
    return ModelInfo(
        framework=framework,
        layers=tuple(layers),
        output_units=units,
        output_activation=activation,
        loss=loss,
        optimizer=optimizer,
        learning_rate=lr,
        iterations=reading.iterations,
        dtype_policy=_dtype_policy(configs),
    )
