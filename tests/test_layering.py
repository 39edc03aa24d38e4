"""The layers, by import analysis: discover -> readers -> load -> timeline -> rules ->
diagnose -> report. The judges (rules, diagnose, report) read the frozen Timeline and
nothing of the reading side: no module of theirs imports readers/, load or discover,
at the top or inside a function."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from forensics.timeline import Timeline

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "forensics"
READING = ("forensics.readers", "forensics.load", "forensics.discover")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with its line, wherever the import statement sits
    (TYPE_CHECKING blocks excepted: they import nothing at run time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if node.module == "forensics"]
    return out


JUDGES = sorted(
    [*(PKG / "rules").glob("*.py"), PKG / "diagnose.py", *(PKG / "report").glob("*.py")],
    key=lambda p: str(p),
)


@pytest.mark.parametrize("path", JUDGES, ids=lambda p: str(p.relative_to(PKG)))
def test_judges_import_nothing_from_the_reading_side(path):
    bad = [f"line {n}: {m}" for n, m in _imports(path) if m.startswith(READING)]
    assert not bad, f"{path.relative_to(ROOT)} imports the reading side: {bad}"


def test_the_timeline_reads_no_file_and_imports_no_reader():
    bad = [f"line {n}: {m}" for n, m in _imports(PKG / "timeline.py") if m.startswith(READING)]
    assert not bad, bad


@pytest.mark.parametrize("path", sorted((PKG / "readers").glob("*.py")), ids=lambda p: p.name)
def test_readers_know_nothing_of_the_judges(path):
    judges = ("forensics.timeline", "forensics.rules", "forensics.diagnose", "forensics.report", "forensics.load")
    bad = [f"line {n}: {m}" for n, m in _imports(path) if m.startswith(judges)]
    assert not bad, f"readers/{path.name} imports {bad}"


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from forensics.readers.delta import x\n", encoding="utf-8")
    assert (2, "forensics.readers.delta") in _imports(p)


def test_the_timeline_is_frozen_and_has_no_back_door_to_the_raw_records():
    assert Timeline.__dataclass_params__.frozen  # type: ignore[attr-defined]
    names = {f.name for f in dataclasses.fields(Timeline)}
    assert "run" not in names
    tl = Timeline(run_dir="r", sources=())
    with pytest.raises(dataclasses.FrozenInstanceError):
        tl.loss = None  # type: ignore[misc]
