"""Run folders named by a stranger cannot forge the sweep or compare reports: a newline
or a pipe in a run's name stays inside its table cell."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import forensics
from forensics.compare import compare

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "tests" / "fixtures" / "sweep"
FORGED = ("run|x", "ok\n# forged verdict: healthy", "`code` <b>bold</b>")


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_run_names_stay_in_their_cells(tmp_path):
    for name, src in zip(FORGED, ("lr_1", "lr_0.1", "lr_0.01"), strict=True):
        shutil.copytree(SWEEP / src, tmp_path / name)
    md = forensics.analyze_many(tmp_path, jobs=1).to_markdown()
    lines = md.splitlines()
    assert not any(line.startswith("# forged") for line in lines)
    assert "<b>" not in md
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(FORGED)
    assert len({_unescaped_pipes(line) for line in table}) == 1


def test_hostile_names_in_compare_stay_escaped(tmp_path):
    shutil.copytree(SWEEP / "lr_0.1", tmp_path / FORGED[1])
    shutil.copytree(SWEEP / "lr_1", tmp_path / FORGED[0])
    md = compare(str(tmp_path / FORGED[1]), str(tmp_path / FORGED[0])).to_markdown()
    assert not any(line.startswith("# forged") for line in md.splitlines())
    rows = [line for line in md.splitlines() if line.startswith("| 0 ") or line.startswith("| 2 ")]
    assert rows and all(_unescaped_pipes(r) == 6 for r in rows)
