"""The rule catalogue. Importing this package registers every rule."""

from __future__ import annotations

import importlib
import pkgutil

from forensics.rules.base import CAUSES, DETAILS, REGISTRY, SECTIONS, Evidence, Rule
from forensics.rules.messages import families_markdown
from forensics.timeline import Timeline

# Importing a rule module registers its rules: every module of this package is imported,
# so a new rule module needs no line here.
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["CAUSES", "DETAILS", "REGISTRY", "Evidence", "Rule", "catalogue_markdown", "run_rules"]


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


def catalogue_markdown() -> str:
    """docs/rules.md, generated from the rules' docstrings and thresholds."""
    import inspect

    lines = [
        "# Rule catalogue",
        "",
        "Generated from the rules' docstrings by `python -m forensics.rules > docs/rules.md`;",
        "a test fails when this page and the code disagree.",
        "",
        "| id | name | cause | details |",
        "| --- | --- | --- | --- |",
    ]
    for rid in sorted(REGISTRY):
        r = REGISTRY[rid]
        lines.append(
            f"| [{r.id}](#{r.id.lower()}) | {r.name} | `{r.cause}` | {', '.join(f'`{d}`' for d in r.details)} |"
        )
    lines += [
        "",
        "## Message families",
        "",
        "What each framework message the log reader recognises means (`forensics/rules/messages.py`).",
        "The reader records the family and what the message names; this table decides the cause.",
        "",
        *families_markdown(),
    ]
    for rid in sorted(REGISTRY):
        r = REGISTRY[rid]
        lines += [
            "",
            f"## {r.id}",
            "",
            f"**{r.name}** — cause `{r.cause}`"
            + (f", details {', '.join(f'`{d}`' for d in r.details)}" if r.details else "")
            + f"; module `{r.module}`"
            + ("; decisive" if r.decisive else "")
            + ".",
            "",
        ]
        for title in SECTIONS:
            lines += [f"### {title}", "", " ".join(r.section(title).split()), ""]
        families = families_markdown(r.cause) if "job_log" in r.needs else []
        if families:
            lines += ["### Message families", "", *families, ""]
    # the thresholds, with their one-line rationale, per module
    lines += ["## Thresholds", ""]
    seen = set()
    for rid in sorted(REGISTRY):
        mod = inspect.getmodule(REGISTRY[rid].fn)
        if mod is None or mod.__name__ in seen:
            continue
        seen.add(mod.__name__)
        rows = _thresholds(mod)
        if rows:
            lines += [f"`{mod.__name__}`:", ""]
            lines += [f"- `{name}` = {value} — {why}" for name, value, why in rows]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _thresholds(mod) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """Module-level UPPER_CASE constants with the comment lines just above them."""
    import inspect

    src = inspect.getsource(mod).splitlines()
    rows = []
    comment: list[str] = []
    for line in src:
        s = line.strip()
        if s.startswith("#"):
            comment.append(s.lstrip("# ").strip())
            continue
        name = s.split("=", 1)[0].strip() if "=" in s and not s.startswith(("def ", "class ", "@")) else ""
        if name.isupper() and not name.startswith("_") and name.replace("_", "").isalnum() and line[:1] not in " \t":
            rows.append((name, s.split("=", 1)[1].strip(), " ".join(comment) or "(no rationale)"))
        comment = []
    return rows
