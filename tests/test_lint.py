"""Style is part of the suite: ruff's lint and format checks run with the tests."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return [exe]


def test_ruff_lint_is_clean():
    r = subprocess.run([*_ruff(), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_is_clean():
    r = subprocess.run([*_ruff(), "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _module_level_names(tree) -> list[tuple[str, int]]:
    import ast

    out = []
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.name, node.lineno))
        out += [(t.id, node.lineno) for t in targets if isinstance(t, ast.Name)]
    return out


def test_no_module_level_name_is_bound_twice():
    """A constant or function defined again further down a module silently replaces the first for every use,
    the earlier lines included (a second ``_FRAME`` pattern once broke a reader that used the first); ruff's
    F811 sees only imports and functions redefined unused. Conditional definitions (under ``if``/``try``) are
    not module-level statements and are left alone."""
    import ast

    twice = []
    for path in sorted((ROOT / "forensics").rglob("*.py")):
        seen: dict[str, int] = {}
        for name, line in _module_level_names(ast.parse(path.read_text(encoding="utf-8"))):
            if name in seen and name != "__all__":
                twice.append(f"{path.relative_to(ROOT)}:{line}: {name} (first at line {seen[name]})")
            seen.setdefault(name, line)
    assert not twice, "\n".join(twice)
