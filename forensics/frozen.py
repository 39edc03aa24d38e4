"""``@frozen_dataclass``: ``@dataclass(frozen=True, slots=True)`` whose generated methods are
written the first time they are used.

A dataclass writes the source of ``__init__``, ``__repr__``, ``__eq__`` and ``__hash__`` and
compiles it when the class is defined, in every process: for the 22 record types of
:mod:`forensics.records` that was ~20 ms of CPU at import (measured in fresh interpreters,
best of 15: 22 ms, against 9 ms with those four methods left out), on the path every
command waits for before its reader workers fork, and no bytecode cache keeps it. Here the
class is a frozen, slotted dataclass at once (its fields, ``__match_args__``, pickling,
the ``FrozenInstanceError`` on assignment); the four methods are stand-ins that write the
real ones on their first call, from the same fields, then step aside: ``__init__`` as one
short function written here (~0.15 ms; each of a run's processes builds a dozen types),
``__repr__``, ``__eq__`` and ``__hash__`` by the dataclass module itself (rarely asked for).
A process that never builds a record of a type never pays for its methods, and
``tests/test_frozen.py`` compares them with ``@dataclass``'s on every type that uses this.

A class with an ``InitVar`` is refused (its ``__init__`` takes arguments that are not
fields): give it ``@dataclass``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def frozen_dataclass(cls: T) -> T:
    """``@dataclass(frozen=True, slots=True)``, its methods written on first use (see module doc)."""
    made: Any = dataclasses.dataclass(frozen=True, slots=True, init=False, repr=False, eq=False)(cls)
    initvar = getattr(dataclasses, "_FIELD_INITVAR", None)
    if any(getattr(f, "_field_type", None) is initvar for f in made.__dataclass_fields__.values()):
        raise TypeError(f"{made.__qualname__}: an InitVar needs @dataclass (its __init__ takes more than the fields)")
    defaulted = False
    for f in dataclasses.fields(made):  # what @dataclass checks when it writes __init__
        if f.init and not f.kw_only:
            has = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if defaulted and not has:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            defaulted = defaulted or has

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        made.__init__ = _init_of(made)
        made.__init__(self, *args, **kwargs)

    def _compare() -> None:
        shadow = _written(made, repr=True, eq=True)
        made.__repr__, made.__eq__, made.__hash__ = shadow.__repr__, shadow.__eq__, shadow.__hash__

    def __repr__(self: Any) -> str:
        _compare()
        return made.__repr__(self)  # type: ignore[no-any-return]

    def __eq__(self: Any, other: object) -> Any:
        _compare()
        return made.__eq__(self, other)

    def __hash__(self: Any) -> int:
        _compare()
        return made.__hash__(self)  # type: ignore[no-any-return]

    for fn in (__init__, __repr__, __eq__, __hash__):
        fn.__qualname__ = f"{made.__qualname__}.{fn.__name__}"
        fn.__module__ = made.__module__
        setattr(made, fn.__name__, fn)
    return made  # type: ignore[no-any-return]


class _Factory:
    """The default of a field made by a factory, as the dataclass module shows it in a signature."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _init_of(cls: type) -> Any:
    """The ``__init__`` ``@dataclass(frozen=True)`` writes for ``cls``'s fields, written here in
    one short function (the dataclass module would build and decorate a whole class to give it:
    0.8 against ~0.15 ms, paid in every process that builds the type): positional fields, then
    keyword-only ones, defaults and factories, fields left out of it set to their defaults,
    ``__post_init__`` last; each set through ``object.__setattr__``, as on a frozen class."""
    names: dict[str, Any] = {"__set": object.__setattr__, "__factory": _FACTORY}
    params: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        value = f.name
        if f.default_factory is not dataclasses.MISSING:
            names[f"__f_{f.name}"] = f.default_factory
            value = f"__f_{f.name}()" if not f.init else f"__f_{f.name}() if {f.name} is __factory else {f.name}"
            default = "=__factory"
        elif f.default is not dataclasses.MISSING:
            names[f"__d_{f.name}"] = f.default
            value = f.name if f.init else f"__d_{f.name}"
            default = f"=__d_{f.name}"
        else:
            default = ""
        if f.init:
            (keyword if f.kw_only else params).append(f"{f.name}{default}")
        elif value == f.name:
            continue  # neither taken nor defaulted: left unset, as the dataclass module leaves it
        body.append(f"    __set(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    signature = ", ".join(["self", *params, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, names)  # the source is built here from the fields' names only
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {f.name: f.type for f in dataclasses.fields(cls) if f.init} | {"return": None}
    return init


def _written(cls: type, **methods: bool) -> type:
    """A plain frozen dataclass with ``cls``'s fields that writes ``methods`` (repr, eq):
    its functions work on ``cls``'s instances (they reach fields by name, and a frozen
    ``__init__`` sets them through ``object.__setattr__``)."""
    ns: dict[str, Any] = {
        "__annotations__": {},
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    if hasattr(cls, "__post_init__"):
        ns["__post_init__"] = cls.__post_init__  # the written __init__ calls it
    for f in dataclasses.fields(cls):
        ns["__annotations__"][f.name] = f.type
        ns[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            metadata=f.metadata,
            kw_only=f.kw_only,  # type: ignore[arg-type]
        )
    params = {"init": False, "repr": False, "eq": False, **methods}
    # slotted as cls is: a slotted class keeps no class attribute for a default, so its __init__
    # sets the defaults of the fields it does not take
    return dataclasses.dataclass(frozen=True, slots=True, **params)(type(cls.__name__, (), ns))  # type: ignore[arg-type]
