"""The rule catalogue. Importing this package registers every rule."""

from __future__ import annotations

import importlib
import pkgutil

from forensics.rules.base import CAUSES, DETAILS, REGISTRY, SECTIONS, Evidence, Rule
from forensics.timeline import Timeline

# Importing a rule module registers its rules: every module of this package is imported,
# so a new rule module needs no line here.
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["CAUSES", "DETAILS", "REGISTRY", "SECTIONS", "Evidence", "Rule", "catalogue_markdown", "run_rules"]


def catalogue_markdown() -> str:
    """docs/rules.md (see :mod:`forensics.rules.catalogue`)."""
    from forensics.rules.catalogue import catalogue_markdown as render

    return render()


def run_rules(tl: Timeline, *, debug: bool = False, problems: list[str] | None = None) -> list[Evidence]:
    """Every rule's evidence, in catalogue order.

    A rule that fails is a bug, but it must not cost the other rules their say:
    its failure is recorded in ``problems`` (re-raised with ``debug``)."""
    out: list[Evidence] = []
    for rid in sorted(REGISTRY):
        try:
            out.extend(REGISTRY[rid].check(tl))
        except Exception as e:
            if debug:
                raise
            if problems is not None:
                problems.append(f"rule {rid} failed (a bug, please report it): {type(e).__name__}: {e}")
    return out
