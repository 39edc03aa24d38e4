"""Files cut off mid-write: every byte offset of small real artifacts from sample_runs/.

The dense sweeps call the library API in-process; a handful of cuts go through the
command line to check its exit codes and one-line messages. What must hold at every
cut: no exception, the source marked ``partial`` or ``unreadable`` with its reason, and
everything lying wholly before the cut still read (checked against oracles that walk
the bytes independently of the readers, see robust_util).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from robust_util import (
    SAMPLES,
    analyze,
    assert_explained,
    count,
    event_data,
    frames,
    one_line,
    only_source,
    reported_points,
    run_cli,
    safetensors_spans,
    same_points,
    scalar_points,
)

from forensics.records import Status

# Small real event files, one per writer: torch.utils.tensorboard, tensorboardX, Keras (TF2 tensors).
EVENT_FILES = [
    "torch_healthy/logs/val/events.out.tfevents.1795621896.vm.3028.1",
    "tbx_lr_too_high/tensorboard/events.out.tfevents.1795621892.vm",
    "keras_healthy/logs/fit/baseline/validation/events.out.tfevents.1795622382.vm.15706.1.v2",
]
SAFETENSORS_FILE = "torch_inf_in_inputs/checkpoints/step_000040.safetensors"
H5_FILE = "keras_log_of_zero/checkpoints/cp-0005.weights.h5"
KERAS_FILE = "keras_nan_in_inputs/ckpt/model_epoch01.keras"

# The default run cuts event files at every byte of their first records and around every
# record boundary (where framing decisions change) and at a stride elsewhere; the slow
# run (pytest -m slow) cuts every file at every byte.
EVENT_HEAD_BYTES = 160
EVENT_STRIDE = 9
# offsets into a record where a cut means something different: inside the length, at the
# end of its 12-byte header, just into the payload, inside the 4-byte payload CRC
RECORD_CUTS = (1, 8, 11, 12, 13)
FOOTER_CUTS = (1, 2, 4, 5)
# H5 and .keras files are read in a forked child (a few ms each): every byte of the
# superblock / the zip's end records, and a stride through the rest.
H5_HEAD_BYTES = 64
ARCHIVE_TAIL_BYTES = 100
STRIDE = 211
# safetensors: every byte of the header and around every tensor's bounds, a stride through the data between (the
# slow run cuts at every byte)
SAFETENSORS_STRIDE = 37


def _cut(src: Path, dst_dir: Path, at: int) -> Path:
    dst = dst_dir / src.name
    dst.write_bytes(src.read_bytes()[:at])
    return dst


def _event_cuts(data: bytes) -> list[int]:
    cuts = {*range(min(EVENT_HEAD_BYTES, len(data))), *range(0, len(data) + 1, EVENT_STRIDE), len(data)}
    for start, end, _ in frames(data):
        cuts.update(start + k for k in RECORD_CUTS)
        cuts.update(end - k for k in FOOTER_CUTS)
    return sorted(cuts)


def _every_byte(data: bytes) -> list[int]:
    return list(range(len(data) + 1))


@pytest.mark.parametrize("rel", EVENT_FILES, ids=lambda r: r.split("/")[0])
def test_event_file_cut_around_every_record_keeps_every_event_before_the_cut(tmp_path: Path, rel: str) -> None:
    _sweep_event_file(tmp_path, rel, _event_cuts)


@pytest.mark.slow
@pytest.mark.parametrize("rel", EVENT_FILES, ids=lambda r: r.split("/")[0])
def test_event_file_cut_at_every_byte_keeps_every_event_before_the_cut(tmp_path: Path, rel: str) -> None:
    _sweep_event_file(tmp_path, rel, _every_byte)


def _sweep_event_file(tmp_path: Path, rel: str, cuts) -> None:
    data = (SAMPLES / rel).read_bytes()
    path = tmp_path / Path(rel).name
    for cut in cuts(data):
        path.write_bytes(data[:cut])
        whole = list(frames(data[:cut]))
        report = analyze(path, "tfevents")
        src = only_source(report)
        assert_explained(src)
        if not whole:
            assert src.status is Status.UNREADABLE, (cut, src)
            continue
        (ev,) = event_data(report)
        assert ev.records == len(whole), (cut, src.note)
        expected = scalar_points([p for _, _, p in whole])
        got = reported_points(report)
        assert same_points(got, expected), cut
        last_end = whole[-1][1]
        if last_end == cut:  # the cut fell between two records: a shorter, clean file
            assert src.status is Status.OK, (cut, src)
        else:
            assert src.status is Status.PARTIAL, (cut, src)
            assert f"truncated at byte {last_end}" in src.note, (cut, src.note)


def _safetensors_cuts(data: bytes) -> list[int]:
    """Every byte of the length prefix and the JSON header, both sides of every tensor's begin and end (where the
    set of complete tensors changes), and a stride through the data between."""
    spans = safetensors_spans(data)
    header_end = min(b for b, _ in spans.values())
    cuts = {*range(header_end + 2), *range(0, len(data), SAFETENSORS_STRIDE)}
    for begin, end in spans.values():
        cuts.update(k for k in (begin - 1, begin, begin + 1, end - 1, end, end + 1) if 0 <= k < len(data))
    return sorted(cuts)


def test_safetensors_cut_around_every_tensor_keeps_every_tensor_before_the_cut(tmp_path: Path) -> None:
    _sweep_safetensors(tmp_path, _safetensors_cuts)


@pytest.mark.slow
def test_safetensors_cut_at_every_byte_keeps_every_tensor_before_the_cut(tmp_path: Path) -> None:
    _sweep_safetensors(tmp_path, lambda data: range(len(data)))


def _sweep_safetensors(tmp_path: Path, cuts) -> None:
    full_path = SAMPLES / SAFETENSORS_FILE
    data = full_path.read_bytes()
    spans = safetensors_spans(data)
    header_end = min(b for b, _ in spans.values())
    full = {t.name: t for t in analyze(full_path, "safetensors").timeline.checkpoints[0].checkpoint.tensors}
    assert set(full) == set(spans)
    path = tmp_path / "step_000040.safetensors"
    for cut in cuts(data):
        path.write_bytes(data[:cut])
        report = analyze(path, "safetensors")
        src = only_source(report)
        assert_explained(src)
        complete = {name for name, (_, end) in spans.items() if end <= cut}
        if cut < header_end or not complete:
            assert src.status is Status.UNREADABLE, (cut, src)
            continue
        assert src.status is Status.PARTIAL, (cut, src)
        (ckpt,) = [c.checkpoint for c in report.timeline.checkpoints]
        got = {t.name: t for t in ckpt.tensors}
        assert set(got) == complete, cut
        assert all(got[n] == full[n] for n in complete), cut  # same statistics as from the whole file
        lost = sorted(set(spans) - complete)
        assert lost[0] in src.note, (cut, src.note)


def _dense_offsets(size: int, head: int = 0, tail: int = 0) -> list[int]:
    return sorted({*range(min(head, size)), *range(0, size, STRIDE), *range(max(size - tail, 0), size)})


def test_h5_cut_at_dense_offsets_is_unreadable_and_says_it_is_truncated(tmp_path: Path) -> None:
    src_path = SAMPLES / H5_FILE
    data = src_path.read_bytes()
    path = tmp_path / src_path.name
    for cut in _dense_offsets(len(data), head=H5_HEAD_BYTES):
        path.write_bytes(data[:cut])
        src = only_source(analyze(path, "keras_h5"))
        assert_explained(src)
        assert src.status in (Status.UNREADABLE, Status.PARTIAL), (cut, src)
        if cut >= 512:  # past the superblock, libhdf5 knows the stored end of file
            assert "truncated" in src.note, (cut, src.note)


def test_keras_archive_cut_at_dense_offsets_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    src_path = SAMPLES / KERAS_FILE
    data = src_path.read_bytes()
    path = tmp_path / src_path.name
    for cut in _dense_offsets(len(data), tail=ARCHIVE_TAIL_BYTES):
        path.write_bytes(data[:cut])
        src = only_source(analyze(path, "keras_archive"))
        assert_explained(src)
        assert src.status in (Status.UNREADABLE, Status.PARTIAL), (cut, src)
        assert "zip" in src.note or "archive" in src.note, (cut, src.note)


# ---------------------------------------------------------------- through the command line


@pytest.mark.parametrize(
    ("rel", "kind", "fraction", "fmt"),
    [
        (EVENT_FILES[1], "tfevents", 0.5, "markdown"),
        (EVENT_FILES[1], "tfevents", 0.002, "json"),
        (SAFETENSORS_FILE, "safetensors", 0.9, "json"),
        (SAFETENSORS_FILE, "safetensors", 0.01, "markdown"),
        (H5_FILE, "keras_h5", 0.5, "json"),
        (KERAS_FILE, "keras_archive", 0.99, "markdown"),
    ],
)
def test_cli_on_a_cut_file_exits_0_when_something_was_read_else_2_with_one_line(
    tmp_path: Path, rel: str, kind: str, fraction: float, fmt: str
) -> None:
    src = SAMPLES / rel
    path = _cut(src, tmp_path, int(src.stat().st_size * fraction))
    report = analyze(path, kind)
    expect_read = report.readable
    count(f"{kind} (command line)")
    r = run_cli("analyze", str(path), "--format", fmt)
    assert "Traceback" not in r.stderr, r.stderr
    if expect_read:
        assert r.returncode == 0, r.stderr
        assert "partial" in r.stdout
    else:
        assert r.returncode == 2, r.stderr
        line = one_line(r.stderr)
        assert "nothing could be read" in line and src.name in line
        assert only_source(report).note.split(":")[0] in line  # the reason, not just "failed"
