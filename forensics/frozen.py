"""``@frozen_dataclass``: ``@dataclass(frozen=True, slots=True)`` whose ``__repr__``, ``__eq__``
and ``__hash__`` are written the first time they are used.

A dataclass writes the source of its methods and compiles it when the class is defined, in
every process. For the 22 record types of :mod:`forensics.records` that was ~20 ms of CPU at
import, on the path every command waits for before its reader workers fork, and no bytecode
cache keeps it. A run builds records, but seldom compares, hashes or prints one. Here the class
is a frozen, slotted dataclass at once: its fields, ``__init__``, ``__match_args__``, pickling,
and the ``FrozenInstanceError`` on assignment. The three comparison and repr methods are
stand-ins. On first call they have the dataclass module write the real ones from the same
fields, then step aside. Importing the records costs ~14 ms instead of ~20 (best of 15
fresh interpreters, load 9). ``tests/test_frozen.py`` compares every type that uses this
with ``@dataclass``.

``__init__`` stays the dataclass module's: writing it here on first use would take an
``exec`` of our own (the package runs none, ``tests/robustness/test_nothing_executed.py``),
and having the dataclass module write it for a stand-in class cost 0.8 ms a type in each
of a run's processes, more than it saved.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def frozen_dataclass(cls: T) -> T:
    """``@dataclass(frozen=True, slots=True)``, its comparison and repr written on first use
    (see the module doc)."""
    made: Any = dataclasses.dataclass(frozen=True, slots=True, repr=False, eq=False)(cls)

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

    for fn in (__repr__, __eq__, __hash__):
        fn.__qualname__ = f"{made.__qualname__}.{fn.__name__}"
        fn.__module__ = made.__module__
        setattr(made, fn.__name__, fn)
    return made  # type: ignore[no-any-return]


def _written(cls: type, **methods: bool) -> type:
    """A plain frozen dataclass with ``cls``'s fields that writes ``methods`` (repr, eq): its
    functions work on ``cls``'s instances (they reach the fields by name)."""
    ns: dict[str, Any] = {"__annotations__": {}, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
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
    return dataclasses.dataclass(frozen=True, **params)(type(cls.__name__, (), ns))  # type: ignore[arg-type]
