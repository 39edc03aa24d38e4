"""The reader table: every kind of file discovery can name has one row, and every
reader in it answers to the one signature the loader calls."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from forensics.load import RunData
from forensics.readers import READERS, Reader, Skip
from forensics.records import Kind


def test_every_kind_has_a_row():
    assert set(READERS) == set(Kind)


@pytest.mark.parametrize("kind", [k for k, e in READERS.items() if isinstance(e, Reader)], ids=str)
def test_each_reader_takes_path_and_source_and_root_when_it_says_so(kind):
    entry = READERS[kind]
    module, name = entry.function.split(":")
    fn = getattr(importlib.import_module(module), name)
    positional = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    assert len(positional) == (3 if entry.takes_root else 2), f"{entry.function}: {positional}"
    assert entry.into in {f.name for f in dataclasses.fields(RunData)}


def test_a_skipped_kind_says_why():
    assert all(e.note for e in READERS.values() if isinstance(e, Skip))


def test_data_named_on_the_command_line_goes_through_the_table(tmp_path):
    import numpy as np

    from forensics.load import load_run

    run = tmp_path / "run"
    run.mkdir()
    sample = tmp_path / "elsewhere.npz"
    np.savez(sample, x=np.array([[1.0, np.nan]]), y=np.array([0]))
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    loaded = load_run(run, data=[sample, bad])
    assert [d.source.path for d in loaded.data_samples] == [str(sample)]
    assert loaded.data_samples[0].arrays[0].nan == 1
    (broken,) = [s for s in loaded.sources if s.path == str(bad)]
    assert broken.status.value == "unreadable" and broken.note
