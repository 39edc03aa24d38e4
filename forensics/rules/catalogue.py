"""docs/rules.md, generated from the rules themselves: ``python -m forensics.rules > docs/rules.md``.

Each rule's page has its four docstring parts, the message families it judges, and
an **Options** section (as ruff's rule pages have): every named number that can move
its verdict, with the one-line reason written above the constant. The options are
found, not listed by hand: starting from the rule's check, every function it calls in
the rules and the timeline is followed, every Timeline landmark it reads leads to the
functions that derive it (:data:`forensics.timeline.DERIVED_BY`), and every documented
constant met on the way is an option. Diagnose's numbers, which weigh every rule's
evidence, have their own section.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Callable
from typing import Any

from forensics.rules.base import REGISTRY, SECTIONS, Rule
from forensics.rules.messages import families_markdown

Option = tuple[str, str, str, str]  # (module, name, value as written, why)


def thresholds(mod: types.ModuleType) -> list[tuple[str, str, str]]:
    """Module-level UPPER_CASE constants with the comment lines just above them."""
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


def option_modules() -> list[types.ModuleType]:
    """Where numbers that move a verdict live: the timeline (and the clamps it reads), the rule modules,
    diagnose."""
    import forensics.clamps
    import forensics.diagnose
    import forensics.rules
    import forensics.timeline

    rules = [
        importlib.import_module(f"forensics.rules.{m.name}")
        for m in pkgutil.iter_modules(forensics.rules.__path__)
        if not m.name.startswith("_")
    ]
    return [forensics.timeline, forensics.clamps, *rules, forensics.diagnose]


def _is_number(v: Any) -> bool:
    """A number, or a table of numbers (weights by LR level, limits by dtype)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    if isinstance(v, dict):
        return bool(v) and all(_is_number(x) for x in v.values())
    if isinstance(v, tuple):
        return bool(v) and all(_is_number(x) for x in v)
    return False


def _all_options() -> dict[str, dict[str, Option]]:
    """module name -> constant name -> option: the module's documented numeric constants."""
    return {
        m.__name__: {
            name: (m.__name__, name, value, why)
            for name, value, why in thresholds(m)
            if _is_number(getattr(m, name, None))
        }
        for m in option_modules()
    }


def _names(code: types.CodeType) -> set[str]:
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _names(c)
    return out


def _ours(obj: Any) -> bool:
    return isinstance(obj, types.FunctionType) and obj.__module__.startswith(
        ("forensics.rules", "forensics.timeline", "forensics.clamps")
    )


def rule_options(r: Rule) -> list[Option]:
    """Every documented constant the rule's check reaches, in the order met."""
    from forensics.timeline import DERIVED_BY, Timeline

    table = _all_options()
    found: dict[tuple[str, str], Option] = {}
    seen: set[Callable[..., Any]] = set()
    todo: list[Callable[..., Any]] = [r.fn]
    while todo:
        fn = todo.pop(0)
        if fn in seen:
            continue
        seen.add(fn)
        own = table.get(fn.__module__, {})
        for name in sorted(_names(fn.__code__)):
            opt = own.get(name) or next((t[name] for t in table.values() if name in t and name in fn.__globals__), None)
            if opt is not None:
                found.setdefault((opt[0], opt[1]), opt)
            obj = fn.__globals__.get(name)
            if _ours(obj):
                todo.append(obj)
            attr = inspect.getattr_static(Timeline, name, None)
            if isinstance(attr, property) and attr.fget is not None:
                todo.append(attr.fget)
            elif _ours(attr):
                todo.append(attr)
            todo.extend(DERIVED_BY.get(name, ()))
    if r.decisive:
        opt = table["forensics.diagnose"]["DECISIVE_WEIGHT"]
        found.setdefault((opt[0], opt[1]), opt)
    return list(found.values())


def _option_lines(opts: list[Option]) -> list[str]:
    return [f"- `{name}` = `{value}` — {why} (`{mod}`)" for mod, name, value, why in opts]


def catalogue_markdown() -> str:
    """docs/rules.md, generated from the rules' docstrings and options."""
    lines = [
        "# Rule catalogue",
        "",
        "Generated from the rules by `python -m forensics.rules > docs/rules.md`;",
        "a test fails when this page and the code disagree. Each rule's **Options** are the",
        "named numbers that can move its verdict (its own, the shared judgements of",
        "`forensics/rules/context.py`, and the timeline's landmarks it reads); the numbers",
        "with which diagnose weighs all evidence are under [Verdict options](#verdict-options).",
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
            + (f"; needs {', '.join(f'`{n}`' for n in r.needs)}" if r.needs else "")
            + ("; decisive" if r.decisive else "")
            + (f"; sees only the record's shape ({r.shape.replace('_', ' ')})" if r.shape else "")
            + ".",
            "",
        ]
        for title in SECTIONS:
            lines += [f"### {title}", "", " ".join(r.section(title).split()), ""]
        families = families_markdown(r.cause) if "job_log" in r.needs else []
        if families:
            lines += ["### Message families", "", *families, ""]
        lines += ["### Options", "", *_option_lines(rule_options(r))]
    table = _all_options()
    lines += [
        "",
        "## Verdict options",
        "",
        "How diagnose weighs every rule's evidence into candidates and one verdict (`forensics/diagnose.py`).",
        "",
        *_option_lines(list(table["forensics.diagnose"].values())),
    ]
    reached = {(o[0], o[1]) for r in REGISTRY.values() for o in rule_options(r)}
    rest = [o for mod, opts in table.items() if mod != "forensics.diagnose" for o in opts.values()]
    rest = [o for o in rest if (o[0], o[1]) not in reached]
    if rest:
        lines += [
            "",
            "## Other options",
            "",
            "Named numbers of the timeline and the rule modules that no rule's check reaches directly.",
            "",
            *_option_lines(rest),
        ]
    return "\n".join(lines).rstrip() + "\n"
